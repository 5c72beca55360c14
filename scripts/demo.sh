#!/usr/bin/env bash
# Builds vtepd and runs it on DPDK virtual devices with generated sample traffic, then shows
# what came out. No NIC and no hugepages needed; run as root on Debian 12.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$VTEPD_ROOT"

ensure_packages "${BUILD_PACKAGES[@]}" "${TRAFFIC_PACKAGES[@]}"
ensure_cargo

log "building vtepd (release)"
cargo build --release --locked --bin vtepd

work=$(mktemp -d /tmp/vtepd-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT

log "generating sample traffic"
"$PYTHON" scripts/pcapgen.py xconnect --out "$work/in.pcap"

log "running: vtepd -l 0-1 --no-huge --no-pci --vdev net_pcap0,rx_pcap=in.pcap --vdev net_pcap1,tx_pcap=out.pcap -- -c config/xconnect.toml --exit-when-idle 500"
./target/release/vtepd -l 0-1 --no-huge -m 256 --no-pci --file-prefix "vtepd-demo-$$" \
    --vdev "net_pcap0,rx_pcap=$work/in.pcap" --vdev "net_pcap1,tx_pcap=$work/out.pcap" \
    -- -c config/xconnect.toml --exit-when-idle 500

log "what came out of net_pcap1 (decoded by tshark)"
tshark -r "$work/out.pcap" 2>/dev/null | head -20
in=$(tshark -r "$work/in.pcap" 2>/dev/null | wc -l)
out=$(tshark -r "$work/out.pcap" 2>/dev/null | wc -l)
log "$in frames in, $out frames out"
