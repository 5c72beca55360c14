#!/usr/bin/env bash
# Round-trip latency through vtepd with and without the idle back-off (workers.idle_sleep_us):
# a host behind a Linux kernel VXLAN VTEP pings a host on vtepd's access port, every packet
# through vtepd's one worker (decapsulated one way, encapsulated the other). Pings are spaced
# (--interval), so the worker is idle between them and, with the back-off on, asleep when a
# request comes: the figure is what a lightly loaded gateway adds per packet.
#
#   scripts/latency.sh [--sleeps "0 50 200 1000"] [--count N] [--interval SECONDS]
#
# Prints one line per setting: idle_sleep_us, ping's rtt min/avg/max/mdev (ms), and the
# worker's idle polls and sleeps per second of the run. Needs root (network namespaces,
# veth), iproute2 and iputils-ping; builds vtepd in release mode; lcores 0-1, --no-huge.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
cd "$VTEPD_ROOT"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

sleeps="0 50 200 1000" count=200 interval=0.05
while [ $# -gt 0 ]; do
    case "$1" in
        --sleeps) sleeps=${2:?}; shift ;;
        --count) count=${2:?}; shift ;;
        --interval) interval=${2:?}; shift ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
    shift
done
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces)"
ensure_packages "${BUILD_PACKAGES[@]}" iproute2 iputils-ping
ensure_cargo
cargo build --release --locked --bin vtepd >&2

tag="lat$$"
ns_v="$tag-v" ns_a="$tag-a" ns_b="$tag-b"
work=$(mktemp -d)
vtepd_pid=""
cleanup() {
    [ -n "$vtepd_pid" ] && kill -TERM "$vtepd_pid" 2>/dev/null && wait "$vtepd_pid" 2>/dev/null
    for ns in "$ns_v" "$ns_a" "$ns_b"; do ip netns del "$ns" 2>/dev/null || true; done
    rm -rf "$work" "/var/run/dpdk/$tag"
}
trap cleanup EXIT

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
for ns in "$ns_v" "$ns_a" "$ns_b"; do ip netns add "$ns"; in_ns "$ns" ip link set lo up; done
ip link add und netns "$ns_v" type veth peer name eth0 netns "$ns_a"
ip link add acc netns "$ns_v" type veth peer name eth0 netns "$ns_b"
for dev in und acc; do
    in_ns "$ns_v" sysctl -qw "net.ipv6.conf.$dev.disable_ipv6=1"
    in_ns "$ns_v" ip link set "$dev" up
done
# a: a kernel VTEP (10.0.0.2) with VNI 100 to vtepd (10.0.0.1); b: on vtepd's access port.
in_ns "$ns_a" ip addr add 10.0.0.2/24 dev eth0
in_ns "$ns_a" ip link set eth0 up
in_ns "$ns_a" ip link add vxlan0 type vxlan id 100 dstport 4789 local 10.0.0.2 \
    remote 10.0.0.1 dev eth0
in_ns "$ns_a" ip addr add 192.168.100.2/24 dev vxlan0
in_ns "$ns_a" ip link set vxlan0 up
in_ns "$ns_b" ip addr add 192.168.100.3/24 dev eth0
in_ns "$ns_b" ip link set eth0 up

printf '%-14s %10s %10s %10s %10s %14s %14s\n' idle_sleep_us "min ms" "avg ms" "max ms" \
    "mdev ms" "idle polls/s" "sleeps/s"
for s in $sleeps; do
    cat >"$work/vtepd.toml" <<EOF
[underlay]
port = "net_af_packet0"
addresses = ["10.0.0.1/24"]

[[access]]
port = "net_af_packet1"
untagged_vni = 100

[[vni]]
id = 100
flood = ["10.0.0.2"]

[workers]
idle_sleep_us = $s
EOF
    # Not through in_ns: $! must be vtepd itself (ip netns exec execs it), not a subshell.
    ip netns exec "$ns_v" ./target/release/vtepd -l 0-1 --no-huge -m 512 --no-pci \
        --file-prefix "$tag" --vdev net_af_packet0,iface=und --vdev net_af_packet1,iface=acc \
        -- -c "$work/vtepd.toml" --final-stats "$work/report-$s.json" \
        >"$work/vtepd-$s.log" 2>&1 &
    vtepd_pid=$!
    launched=$(date +%s.%N)  # the polls and sleeps per second are over vtepd's whole run
    # Up, and every MAC learned and ARP answered, before measuring.
    up=""
    for _ in $(seq 1 40); do
        if in_ns "$ns_a" ping -c 1 -W 1 -q 192.168.100.3 >/dev/null 2>&1; then up=1; break; fi
        sleep 0.5
    done
    [ -n "$up" ] || { cat "$work/vtepd-$s.log" >&2; die "no ping through vtepd (idle_sleep_us = $s)"; }
    rtt=$(in_ns "$ns_a" ping -c "$count" -i "$interval" -q 192.168.100.3 |
        sed -n 's|.*= \([0-9.]*\)/\([0-9.]*\)/\([0-9.]*\)/\([0-9.]*\) ms|\1 \2 \3 \4|p')
    kill -TERM "$vtepd_pid"
    if ! wait "$vtepd_pid"; then
        cat "$work/vtepd-$s.log" >&2
        die "vtepd (idle_sleep_us = $s) did not exit cleanly"
    fi
    vtepd_pid=""
    read -r idle slept < <("$PYTHON" -c '
import json, sys, time
w = json.load(open(sys.argv[1]))["workers"][0]
elapsed = time.time() - float(sys.argv[2])
print(round(w["idle_polls"] / elapsed), round(w.get("idle_sleeps", 0) / elapsed))' \
        "$work/report-$s.json" "$launched")
    # shellcheck disable=SC2086 # rtt is four numbers
    printf '%-14s %10s %10s %10s %10s %14s %14s\n' "$s" $rtt "$idle" "$slept"
done
