#!/usr/bin/env bash
# The bounded soak, long: mixed traffic (VXLAN/NVGRE decapsulation, encapsulation, floods,
# ARP, GSO, the VTEP's own ARP/ping/ND, and every malformed class) replayed without end on an
# underlay and an access port while API clients add and remove thousands of static MACs,
# bindings and VNIs with their flood lists, flush and reload. Checks that vtepd never stalls,
# every API call answers as it should, the resident memory stays flat after a warm-up, and at
# SIGINT it exits 0 with no mbuf in use and every packet accounted for.
#
#   scripts/soak.sh [--minutes N] [--out DIR] [--debug]
#
# It is tests/soak.rs (which CI runs for 75 s), built in release mode and run for N minutes:
# the test generates the traffic (tests/traffic/soak.py, scapy), starts vtepd on net_pcap
# virtual devices (--no-huge, lcores 0-1: no NIC, no hugepages), drives the API and samples
# /proc/<pid>/status every 2 s; docs/TESTING.md explains the bounds.
#
# Options:
#   --minutes N   how long the traffic and the churn run (default 10; decimals allowed)
#   --out DIR     results folder (default /tmp/vtepd-soak): <date>/summary.md (the table for
#                 docs/TESTING.md), summary.json (every sample, the final report), test.log
#   --debug       a debug build instead of release (slower data plane, same checks)
#
# The binary is built under $CARGO_TARGET_DIR (./target by default). Needs the two cores the
# test uses (lcore 0 manages, lcore 1 forwards and polls at 100%).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
cd "$VTEPD_ROOT"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

minutes=10 out=/tmp/vtepd-soak profile=(--release)
while [ $# -gt 0 ]; do
    case "$1" in
        --minutes) minutes=${2:?}; shift ;;
        --out) out=${2:?}; shift ;;
        --debug) profile=() ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
    shift
done
[[ "$minutes" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--minutes: a number of minutes"
secs=$(awk -v m="$minutes" 'BEGIN { printf "%d", m * 60 }')
[ "$secs" -ge 20 ] || die "--minutes: at least 20 seconds (the warm-up needs some)"
[ "$(nproc)" -ge 2 ] || die "the soak needs 2 cores (management + one worker)"

ensure_packages "${BUILD_PACKAGES[@]}" python3 python3-scapy
ensure_cargo

stamp=$(date +%Y-%m-%d-%H%M%S)
dir="$out/$stamp"
mkdir -p "$dir"
log "soak: ${secs}s (${minutes} min) of traffic and API churn; results in $dir"
log "building and running tests/soak.rs (${profile[*]:-debug})"
rc=0  # pipefail: cargo's status, not tee's
VTEPD_SOAK_SECS="$secs" VTEPD_SOAK_OUT="$dir" \
    cargo test "${profile[@]}" --locked --test soak -- --nocapture --test-threads=1 \
    2>&1 | tee "$dir/test.log" || rc=$?
if [ -f "$dir/summary.md" ]; then
    log "summary ($dir/summary.md):"
    cat "$dir/summary.md"
fi
if [ "$rc" -eq 0 ]; then
    log "soak passed"
else
    log "soak FAILED (see $dir/test.log)"
fi
exit "$rc"
