# Shared helpers for vtepd's scripts. Source it; do not run it.
# shellcheck shell=bash disable=SC2034 # its variables are for the scripts that source it

VTEPD_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Debian packages needed to build vtepd.
BUILD_PACKAGES=(dpdk libdpdk-dev dpdk-dev pkg-config libclang-dev clang gcc make)
# ... to generate and check traffic (and the IPFIX export, nfdump) in the demo and the tests.
TRAFFIC_PACKAGES=(python3 python3-scapy tshark iproute2 iputils-ping tcpdump ethtool nfdump)
# ... to run BGP EVPN peers (FRR route reflectors and VTEPs) in the EVPN tests; nsenter.
EVPN_PACKAGES=(frr util-linux)

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Installs whichever of the given Debian packages are missing.
ensure_packages() {
    local missing=()
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] || die "missing packages ${missing[*]}: run as root, or apt-get install them"
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # tshark asks whether non-root users may capture; answer for it.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Puts cargo on PATH (rustup installs it under ~/.cargo/bin).
ensure_cargo() {
    if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
    command -v cargo >/dev/null 2>&1 ||
        die "cargo not found: install Rust (https://rustup.rs), then run this again"
}

# Debian's python3, which has scapy (a pyenv or venv python3 earlier on PATH may not).
PYTHON=/usr/bin/python3
