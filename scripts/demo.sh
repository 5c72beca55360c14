#!/usr/bin/env bash
# Builds vtepd and runs the gateway on DPDK virtual devices with generated sample traffic,
# then shows what came out: the counters and every output frame decoded by tshark.
# No NIC and no hugepages needed; run as root on Debian 12.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
cd "$VTEPD_ROOT"

ensure_packages "${BUILD_PACKAGES[@]}" "${TRAFFIC_PACKAGES[@]}"
ensure_cargo

log "building vtepd (release)"
cargo build --release --locked --bin vtepd

work=$(mktemp -d /tmp/vtepd-demo.XXXXXX)
trap 'rm -rf "$work" "/var/run/dpdk/vtepd-demo-$$"' EXIT

log "generating sample traffic with scapy (scripts/pcapgen.py demo)"
"$PYTHON" scripts/pcapgen.py demo --access "$work/access-in.pcap" --underlay "$work/underlay-in.pcap"

cat <<INFO
The gateway (config/demo.toml): VTEP 10.0.0.1 and fd00::1 on the underlay port net_pcap0,
one access port net_pcap1. VNI 5000 (VXLAN) = VLAN 100 and untagged, flooding to 10.0.0.2
and 10.0.0.3; VSID 70000 (NVGRE) = VLAN 200, flooding to fd00::2.
INFO
log "running: vtepd -l 0-1 --no-huge --no-pci --vdev net_pcap0,... --vdev net_pcap1,... -- -c config/demo.toml --exit-when-idle 500"
./target/release/vtepd -l 0-1 --no-huge -m 256 --no-pci --file-prefix "vtepd-demo-$$" \
    --vdev "net_pcap0,rx_pcap=$work/underlay-in.pcap,tx_pcap=$work/underlay-out.pcap" \
    --vdev "net_pcap1,rx_pcap=$work/access-in.pcap,tx_pcap=$work/access-out.pcap" \
    -- -c config/demo.toml --exit-when-idle 500 --log warn

show() {
    # One line per frame: outer addresses and tunnel id, then tshark's summary of the inner
    # packet (tshark dissects VXLAN on 4789 and NVGRE's Ethernet payload).
    tshark -r "$1" -T fields -E separator=' ' \
        -e frame.number -e eth.src -e eth.dst -e vlan.id -e ip.src -e ip.dst -e ipv6.src -e ipv6.dst \
        -e vxlan.vni -e gre.key -e _ws.col.Protocol -e _ws.col.Info 2>/dev/null |
    awk '{ printf "  %s\n", $0 }'
}
log "sent into the underlay (net_pcap0 TX): encapsulated tenant traffic and the VTEP's replies"
echo "  fields: frame eth.src eth.dst [vlan] ip.src ip.dst (outer,inner) [ipv6] [vni|gre key] protocol info"
show "$work/underlay-out.pcap"
log "sent to the access port (net_pcap1 TX): decapsulated traffic and suppressed ARP"
show "$work/access-out.pcap"
