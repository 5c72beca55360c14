#!/usr/bin/python3
"""Sample and benchmark traffic for vtepd, crafted with scapy (an independent implementation
of the wire formats, so vtepd is never checked against its own encoder).

    scripts/pcapgen.py xconnect --out in.pcap [--count N]
    scripts/pcapgen.py demo --access access-in.pcap --underlay underlay-in.pcap
"""

import argparse
import sys

from scapy.all import ARP, GRE, ICMP, IP, TCP, UDP, VXLAN, Dot1Q, Ether, IPv6, Raw, wrpcap
from scapy.layers.inet6 import ICMPv6EchoRequest

# The demo gateway (config/demo.toml) as net_pcap numbers its ports.
UNDERLAY_MAC = "02:70:63:61:70:00"
ROUTER_MAC = "02:00:00:00:00:fe"
HOST_A = "02:00:00:00:01:01"  # behind the access port
HOST_B = "02:00:00:00:02:02"  # behind VTEP 10.0.0.2 (static entry)


def xconnect(args):
    """Mixed frames for the cross-connect: several sizes, IPv4/IPv6, UDP/TCP."""
    frames = []
    for i in range(args.count):
        src = "02:00:00:00:%02x:%02x" % (i >> 8 & 0xFF, i & 0xFF)
        eth = Ether(src=src, dst="02:00:00:00:ff:01")
        if i % 3 == 0:
            l3 = IP(src="192.168.1.%d" % (i % 250 + 1), dst="192.168.1.254") / UDP(sport=1024 + i, dport=9999)
        elif i % 3 == 1:
            l3 = IP(src="192.168.1.%d" % (i % 250 + 1), dst="192.168.1.254") / TCP(sport=1024 + i, dport=80, flags="S")
        else:
            l3 = IPv6(src="fd01::%x" % (i + 1), dst="fd01::fe") / UDP(sport=1024 + i, dport=9998)
        payload = Raw(bytes((i + k) & 0xFF for k in range(16 + (i * 37) % 1400)))
        frames.append(eth / l3 / payload)
    wrpcap(args.out, frames)


def demo(args):
    """A little of everything the gateway does, for scripts/demo.sh."""
    access = [
        # VLAN 100 -> VNI 5000, to a MAC known behind 10.0.0.2: one VXLAN packet.
        Ether(src=HOST_A, dst=HOST_B) / Dot1Q(vlan=100) / IP(src="192.168.1.1", dst="192.168.1.2")
        / ICMP() / Raw(b"hello from VLAN 100"),
        # Untagged broadcast ARP for an address with a known binding: answered locally.
        Ether(src=HOST_A, dst="ff:ff:ff:ff:ff:ff") / ARP(hwsrc=HOST_A, psrc="192.168.1.1", pdst="192.168.1.2"),
        # Untagged unknown unicast: flooded to both VTEPs of VNI 5000.
        Ether(src=HOST_A, dst="02:00:00:00:09:09") / IP(src="192.168.1.1", dst="192.168.1.9")
        / UDP(sport=40000, dport=9999) / Raw(b"who are you?"),
        # VLAN 200 -> NVGRE VSID 70000 over IPv6: flooded to fd00::2.
        Ether(src="02:00:00:00:01:07", dst="ff:ff:ff:ff:ff:ff") / Dot1Q(vlan=200)
        / ARP(hwsrc="02:00:00:00:01:07", psrc="172.16.0.7", pdst="172.16.0.1"),
        # VLAN 300 is mapped to no VNI: dropped and counted.
        Ether(src=HOST_A, dst=HOST_B) / Dot1Q(vlan=300) / IP() / UDP(),
    ]
    underlay = [
        # The router asks for our VTEP address; pings it.
        Ether(src=ROUTER_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(hwsrc=ROUTER_MAC, psrc="10.0.0.254", pdst="10.0.0.1"),
        Ether(src=ROUTER_MAC, dst=UNDERLAY_MAC) / IP(src="10.0.0.254", dst="10.0.0.1") / ICMP() / Raw(b"ping"),
        # VXLAN from 10.0.0.2 to host A: decapsulated to the access port, tagged VLAN 100.
        Ether(src=ROUTER_MAC, dst=UNDERLAY_MAC) / IP(src="10.0.0.2", dst="10.0.0.1")
        / UDP(sport=51000, dport=4789) / VXLAN(vni=5000)
        / Ether(src=HOST_B, dst=HOST_A) / IP(src="192.168.1.2", dst="192.168.1.1") / ICMP(type=0) / Raw(b"reply"),
        # NVGRE over IPv6 from fd00::2: decapsulated, flooded to the access port on VLAN 200.
        Ether(src=ROUTER_MAC, dst=UNDERLAY_MAC) / IPv6(src="fd00::2", dst="fd00::1")
        / GRE(key_present=1, proto=0x6558, key=(70000 << 8) | 0x2A)
        / Ether(src="02:00:00:00:02:07", dst="ff:ff:ff:ff:ff:ff")
        / ARP(hwsrc="02:00:00:00:02:07", psrc="172.16.0.1", pdst="172.16.0.7"),
        # VXLAN for a VNI this gateway does not serve: dropped and counted.
        Ether(src=ROUTER_MAC, dst=UNDERLAY_MAC) / IP(src="10.0.0.2", dst="10.0.0.1")
        / UDP(sport=51000, dport=4789) / VXLAN(vni=999) / Ether(src=HOST_B, dst=HOST_A) / IP() / UDP(),
    ]
    wrpcap(args.access, access)
    wrpcap(args.underlay, underlay)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("xconnect", help="plain frames for the cross-connect")
    p.add_argument("--out", required=True)
    p.add_argument("--count", type=int, default=100)
    p.set_defaults(func=xconnect)
    p = sub.add_parser("demo", help="access and underlay traffic for config/demo.toml")
    p.add_argument("--access", required=True)
    p.add_argument("--underlay", required=True)
    p.set_defaults(func=demo)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    sys.exit(main())
