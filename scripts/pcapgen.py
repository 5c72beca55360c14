#!/usr/bin/python3
"""Sample and benchmark traffic for vtepd, crafted with scapy (an independent implementation
of the wire formats, so vtepd is never checked against its own encoder).

    scripts/pcapgen.py xconnect --out in.pcap [--count N]
"""

import argparse
import sys

from scapy.all import IP, TCP, UDP, Ether, IPv6, Raw, wrpcap  # noqa: F401 (scapy layers)


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


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("xconnect", help="plain frames for the cross-connect")
    p.add_argument("--out", required=True)
    p.add_argument("--count", type=int, default=100)
    p.set_defaults(func=xconnect)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    sys.exit(main())
