#!/usr/bin/python3
"""Traffic for vtepd's black-box gateway tests (tests/gateway_*.rs), crafted with scapy: an
implementation of the wire formats independent of vtepd's, so vtepd is never checked against
its own encoder.

    /usr/bin/python3 tests/traffic/scenarios.py SCENARIO DIR

writes into DIR the input captures (`underlay.pcap`, `access1.pcap`, `access2.pcap`: what
net_pcap0, net_pcap1 and net_pcap2 replay), the frames expected to come out where they can be
written down byte for byte (`expect-*.pcap`), and `expect.json` with whatever else the test
asserts (drop counts, which remote VTEP, flows).

Every scenario uses the addresses below; the Rust tests write the matching configurations.
"""

import json
import os
import struct
import sys

from scapy.all import (
    ARP,
    GRE,
    ICMP,
    IP,
    TCP,
    UDP,
    VXLAN,
    Dot1AD,
    Dot1Q,
    Ether,
    IPOption_NOP,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    PcapWriter,
    Raw,
)
from scapy.layers.inet6 import (
    ICMPv6EchoRequest,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6ND_RS,
    ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptSrcLLAddr,
)

# The underlay: our VTEP, the next hop every encapsulated packet goes to (next_hop_mac), and
# the port MAC net_pcap gives net_pcap0 (vtepd does not filter on it; the tests read the real
# one from the report).
VTEP4 = "10.0.0.1"
VTEP6 = "fd00::1"
NEXT_HOP_MAC = "02:00:00:00:00:fe"
UNDERLAY_MAC = "02:70:63:61:70:00"
# Remote VTEPs.
R4 = ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"]
R6 = ["fd00::2", "fd00::3", "fd00::4", "fd00::5"]
GROUP4 = "239.1.1.1"

# Tenant stations: H* behind the access ports, M* behind remote VTEPs.
H1 = "02:00:00:00:01:01"
H2 = "02:00:00:00:01:02"
H3 = "02:00:00:00:01:03"
L1 = "02:00:00:00:03:01"  # static [[fdb]] port entries (decap destinations)
L2 = "02:00:00:00:03:02"
L3 = "02:00:00:00:03:03"
L4 = "02:00:00:00:03:04"
L5 = "02:00:00:00:03:05"
M1 = "02:00:00:00:02:01"  # static [[fdb]] remote entries (encap destinations)
M2 = "02:00:00:00:02:02"
M3 = "02:00:00:00:02:03"
M9 = "02:00:00:00:02:09"  # behind a remote VTEP: decapsulated frames to it are split-horizon
MA = "02:00:00:00:02:0a"
BCAST = "ff:ff:ff:ff:ff:ff"


def write(path, frames):
    """Writes raw Ethernet frames (scapy packets or bytes), unpadded."""
    w = PcapWriter(path, linktype=1, sync=True)
    for f in frames:
        w.write(bytes(f))
    w.close()


def untag(frame):
    """The frame with its 802.1Q tag removed (what goes into a tunnel)."""
    p = Ether(bytes(frame))
    if Dot1Q not in p:
        return bytes(p)
    tag = p[Dot1Q]
    return bytes(Ether(src=p.src, dst=p.dst, type=tag.type) / tag.payload)


def tag(frame, vlan):
    """The frame with an 802.1Q tag (priority 0) inserted after the MAC addresses."""
    p = Ether(bytes(frame))
    return bytes(Ether(src=p.src, dst=p.dst) / Dot1Q(vlan=vlan, type=p.type) / p.payload)


def pattern(n, seed=0):
    return bytes((seed + 7 * k) & 0xFF for k in range(n))


def vxlan_hdr(vni, flags=0x08, reserved1=b"\0\0\0", reserved2=0):
    """A VXLAN header written byte by byte (for the odd ones scapy's layer would tidy up)."""
    return bytes([flags]) + reserved1 + struct.pack("!I", vni << 8 | reserved2)


def vxlan4(inner, vni, src=R4[0], dst=VTEP4, sport=49200, **ip):
    return (
        Ether(src=NEXT_HOP_MAC, dst=UNDERLAY_MAC)
        / IP(src=src, dst=dst, **ip)
        / UDP(sport=sport, dport=4789)
        / VXLAN(vni=vni, flags=0x08)
        / Raw(bytes(inner))
    )


def vxlan6(inner, vni, src=R6[0], dst=VTEP6, sport=49200):
    return (
        Ether(src=NEXT_HOP_MAC, dst=UNDERLAY_MAC)
        / IPv6(src=src, dst=dst)
        / UDP(sport=sport, dport=4789)
        / VXLAN(vni=vni, flags=0x08)
        / Raw(bytes(inner))
    )


def nvgre4(inner, vsid, src=R4[1], dst=VTEP4, flow=0x2A):
    return (
        Ether(src=NEXT_HOP_MAC, dst=UNDERLAY_MAC)
        / IP(src=src, dst=dst, flags="DF")
        / GRE(key_present=1, proto=0x6558, key=vsid << 8 | flow)
        / Raw(bytes(inner))
    )


def nvgre6(inner, vsid, src=R6[1], dst=VTEP6, flow=0x2A):
    return (
        Ether(src=NEXT_HOP_MAC, dst=UNDERLAY_MAC)
        / IPv6(src=src, dst=dst)
        / GRE(key_present=1, proto=0x6558, key=vsid << 8 | flow)
        / Raw(bytes(inner))
    )


def udp_frame(src, dst, n=40, seed=0, sport=1000, dport=2000, tos=0):
    return (
        Ether(src=src, dst=dst)
        / IP(src="192.168.1.1", dst="192.168.1.2", tos=tos)
        / UDP(sport=sport, dport=dport)
        / Raw(pattern(n, seed))
    )


def dump(d, name, value):
    with open(os.path.join(d, name), "w") as f:
        json.dump(value, f, indent=1)


# --- encapsulation --------------------------------------------------------------------------


def encap(d):
    """Access frames to stations behind remote VTEPs: M1 (VNI 5000, untagged, remote 0) and
    M2 (VNI 5100, VLAN 100, remote 1). expect.json lists, per frame, the remote index, the
    VNI, the inner TOS byte and a flow name (frames of one flow share the entropy)."""
    frames, meta = [], []

    def add(frame, remote, vni, tos, flow):
        frames.append(frame)
        meta.append({"remote": remote, "vni": vni, "tos": tos, "flow": flow})

    # One flow, four sizes (the largest still fits a 1500-byte underlay over IPv6).
    for i, n in enumerate([18, 200, 800, 1400]):
        add(udp_frame(H1, M1, n, seed=i, tos=0xB8), 0, 5000, 0xB8, "a")
    # 32 flows differing only in the UDP source port, each with its own DSCP/ECN.
    for i in range(32):
        tos = ((i * 9) % 64) << 2 | (i % 4)
        add(udp_frame(H1, M1, 30, seed=i, sport=3000 + i, tos=tos), 0, 5000, tos, "f%d" % i)
    # 802.1Q-tagged (priority 5) TCP/IPv4, one flow of two packets.
    for i in range(2):
        f = (
            Ether(src=H2, dst=M2)
            / Dot1Q(vlan=100, prio=5)
            / IP(src="192.168.2.1", dst="192.168.2.2", tos=0x28)
            / TCP(sport=40000, dport=80, flags="PA", seq=1 + 100 * i)
            / Raw(pattern(100, i))
        )
        add(f, 1, 5100, 0x28, "t")
    # Tagged IPv6 (traffic class 0x8a: DSCP 34, ECN 2).
    f = (
        Ether(src=H2, dst=M2)
        / Dot1Q(vlan=100)
        / IPv6(src="fd10::1", dst="fd10::2", tc=0x8A)
        / UDP(sport=5353, dport=9)
        / Raw(pattern(64))
    )
    add(f, 1, 5100, 0x8A, "t6")
    # Not IP: no DSCP to inherit.
    add(Ether(src=H2, dst=M2) / Dot1Q(vlan=100, type=0x88B5) / Raw(pattern(50)), 1, 5100, 0, "n")
    add(Ether(src=H1, dst=M1) / ARP(op=2, hwsrc=H1, psrc="192.168.1.1", hwdst=M1, pdst="192.168.1.2"), 0, 5000, 0, "arp")

    write(os.path.join(d, "access1.pcap"), frames)
    write(os.path.join(d, "expect-inner.pcap"), [untag(f) for f in frames])
    dump(d, "expect.json", {"frames": meta})


def mtu(d):
    """Frames larger than the 1500-byte underlay once encapsulated. VNI 5000 (untagged):
    VXLAN to remote 10.0.0.2; VNI 5100 (VLAN 100): NVGRE to 10.0.0.3; VNI 5200 (VLAN 200):
    VXLAN over IPv6 to fd00::2. The access port's mtu is 3000."""
    frames, meta = [], []

    def tcp4(src, dst, sport, payload_len, vlan=None, seq=1000):
        eth = Ether(src=src, dst=dst)
        if vlan:
            eth = eth / Dot1Q(vlan=vlan)
        return (
            eth
            / IP(src="192.168.1.1", dst="192.168.1.2", id=0x1000, flags="DF")
            / TCP(sport=sport, dport=80, seq=seq, ack=77, flags="PA", window=4000)
            / Raw(pattern(payload_len, sport))
        )

    def add(frame, action, **kw):
        frames.append(frame)
        kw["action"] = action
        meta.append(kw)

    # Segmented into 3 VXLAN packets.
    add(tcp4(H1, M1, 4001, 2900), "segment", encap="vxlan", remote=R4[0], vni=5000)
    add(udp_frame(H1, M1, 100, seed=1), "whole", encap="vxlan", remote=R4[0], vni=5000)
    # Inner frame of 1464 bytes: outer IP exactly 1500, sent whole.
    add(tcp4(H1, M1, 4003, 1464 - 54), "whole", encap="vxlan", remote=R4[0], vni=5000, ip_len=1500)
    # One byte more: two segments.
    add(tcp4(H1, M1, 4004, 1465 - 54), "segment", encap="vxlan", remote=R4[0], vni=5000)
    # NVGRE, tagged: two segments.
    add(tcp4(H2, M2, 4005, 2000, vlan=100), "segment", encap="nvgre", remote=R4[1], vni=5100)
    # Not segmentable: UDP, TCP over IPv6, TCP in an IPv6 tunnel. Without DF: dropped (a VTEP
    # never fragments); with DF, and IPv6: an ICMP error back on the access port, giving the
    # tunnel's MTU (1500 less outer IP, UDP/GRE, VXLAN and the inner Ethernet header).
    add(udp_frame(H1, M1, 2000, seed=2), "drop", reason="mtu_exceeded")
    add(
        Ether(src=H1, dst=M1) / IP(src="192.168.1.1", dst="192.168.1.2", flags="DF") / UDP(sport=9, dport=9) / Raw(pattern(2000)),
        "too_big",
        mtu=1450,
    )
    add(
        Ether(src=H1, dst=M1)
        / IPv6(src="fd10::1", dst="fd10::2")
        / TCP(sport=4007, dport=80, flags="PA")
        / Raw(pattern(2000)),
        "too_big",
        mtu=1450,
    )
    add(tcp4(H3, M3, 4008, 2000, vlan=200), "too_big", mtu=1430, vlan=200)
    # Longer than a receive buffer (the access port's mtu + 22 bytes).
    add(udp_frame(H1, M1, 3100, seed=3), "drop", reason="frame_too_long")
    # Small enough for the IPv6 tunnel.
    add(
        Ether(src=H3, dst=M3) / Dot1Q(vlan=200) / IP(src="192.168.3.1", dst="192.168.3.2") / UDP(sport=1, dport=2) / Raw(pattern(64)),
        "whole",
        encap="vxlan",
        remote=R6[0],
        vni=5200,
    )
    write(os.path.join(d, "access1.pcap"), frames)
    write(os.path.join(d, "expect-inner.pcap"), [untag(f) for f in frames])
    dump(d, "expect.json", {"frames": meta})


def flood(d):
    """Broadcast, multicast and unknown unicast from access port 1. VNI 5000 (native on port
    1, VLAN 100 on port 2) floods to 10.0.0.2-4; VNI 6000 (VLAN 200) to group 239.1.1.1;
    VNI 5200 (VLAN 300) to fd00::2 and fd00::3; NVGRE VSID 7000 (VLAN 400) to 10.0.0.5 and
    fd00::5. expect.json: per frame the remote VTEPs of its copies; expect-access2.pcap: the
    copies port 2 gets."""
    frames, meta, access2 = [], [], []

    def add(frame, vni, vlan, encap, remotes):
        frames.append(frame)
        inner = untag(frame)
        meta.append({"vni": vni, "encap": encap, "remotes": remotes})
        access2.append(tag(inner, vlan))

    t5000 = R4[:3]
    add(Ether(src=H1, dst=BCAST) / ARP(hwsrc=H1, psrc="192.168.1.1", pdst="192.168.1.77"), 5000, 100, "vxlan", t5000)
    add(udp_frame(H1, "02:00:00:00:09:09", 80), 5000, 100, "vxlan", t5000)
    add(
        Ether(src=H1, dst="33:33:00:00:00:01")
        / Dot1Q(vlan=100)
        / IPv6(src="fd10::1", dst="ff02::1")
        / UDP(sport=1, dport=2)
        / Raw(pattern(30)),
        5000,
        100,
        "vxlan",
        t5000,
    )
    add(
        Ether(src=H2, dst=BCAST) / Dot1Q(vlan=200) / ARP(hwsrc=H2, psrc="192.168.6.1", pdst="192.168.6.2"),
        6000,
        200,
        "vxlan",
        [GROUP4],
    )
    add(
        Ether(src=H2, dst="02:00:00:00:09:0a")
        / Dot1Q(vlan=300)
        / IP(src="192.168.5.1", dst="192.168.5.2", tos=0x10)
        / UDP(sport=7, dport=7)
        / Raw(pattern(333)),
        5200,
        300,
        "vxlan",
        R6[:2],
    )
    add(
        Ether(src=H3, dst=BCAST) / Dot1Q(vlan=400) / ARP(hwsrc=H3, psrc="192.168.7.1", pdst="192.168.7.2"),
        7000,
        400,
        "nvgre",
        [R4[3], R6[3]],
    )
    write(os.path.join(d, "access1.pcap"), frames)
    write(os.path.join(d, "expect-inner.pcap"), [untag(f) for f in frames])
    write(os.path.join(d, "expect-access2.pcap"), access2)
    dump(d, "expect.json", {"frames": meta})


# --- decapsulation --------------------------------------------------------------------------


def decap(d):
    """Tunnel packets on the underlay. Port 1: native VNI 5000 (VLAN 100); port 2: native
    NVGRE VSID 7100. VNI 5100 (VLAN 110), NVGRE 7000 (VLAN 200) and VNI 6000 (VLAN 300,
    group 239.1.1.1) are tagged on both. Static entries: L1 (5000), L3 (7000) and L5 (6000)
    on port 1, L2 (5000) and L4 (7100) on port 2, M9 (5000) behind 10.0.0.9.
    expect.json: drops, decapsulated packets per VNI (those forwarded: a packet dropped after
    decapsulation, such as by split horizon, is not counted), replicas (flood copies beyond
    one)."""
    under, out = [], {1: [], 2: []}
    decaps, drops = {}, {}
    replicas = [0]

    def push(packet, inner, vni, to):
        """`packet` carries `inner` in `vni`; it must leave on each (port, vlan) of `to`."""
        under.append(packet)
        decaps.setdefault(vni, 0)
        if to:
            decaps[vni] += 1
        for port, vlan in to:
            out[port].append(tag(inner, vlan) if vlan else inner)
        replicas[0] += max(len(to) - 1, 0)

    def inner(src, dst, seed, n=60, tos=0x20):
        return bytes(
            Ether(src=src, dst=dst)
            / IP(src="192.168.1.%d" % (seed + 10), dst="192.168.1.1", tos=tos)
            / UDP(sport=2000 + seed, dport=3000)
            / Raw(pattern(n, seed))
        )

    # Unicast to a static access entry, each encapsulation and family. Port 1 is VNI 5000's
    # native port (untagged), port 2 VSID 7100's.
    f = inner(M1, L1, 1)
    push(vxlan4(f, 5000), f, 5000, [(1, None)])
    f = inner(M1, L2, 2)
    push(vxlan6(f, 5000), f, 5000, [(2, 100)])
    f = inner(M2, L3, 3)
    push(nvgre4(f, 7000), f, 7000, [(1, 200)])
    f = inner(M2, L4, 4)
    push(nvgre6(f, 7100), f, 7100, [(2, None)])
    # RFC 7348: reserved bits are ignored by the receiver.
    f = inner(M1, L1, 5)
    push(
        Ether(src=NEXT_HOP_MAC, dst=UNDERLAY_MAC)
        / IP(src=R4[0], dst=VTEP4)
        / UDP(sport=50000, dport=4789)
        / Raw(vxlan_hdr(5000, flags=0xFF, reserved1=b"\xab\xcd\xef", reserved2=0x5A) + f),
        f,
        5000,
        [(1, None)],
    )
    # An outer IPv4 header with options, an IPv6 hop-by-hop header, Ethernet trailer bytes.
    f = inner(M1, L1, 6)
    push(
        Ether(src=NEXT_HOP_MAC, dst=UNDERLAY_MAC)
        / IP(src=R4[0], dst=VTEP4, options=[IPOption_NOP()] * 4)
        / UDP(sport=50001, dport=4789)
        / VXLAN(vni=5000)
        / Raw(f),
        f,
        5000,
        [(1, None)],
    )
    f = inner(M1, L2, 7)
    push(
        Ether(src=NEXT_HOP_MAC, dst=UNDERLAY_MAC)
        / IPv6(src=R6[0], dst=VTEP6)
        / IPv6ExtHdrHopByHop()
        / UDP(sport=50002, dport=4789)
        / VXLAN(vni=5000)
        / Raw(f),
        f,
        5000,
        [(2, 100)],
    )
    f = inner(M1, L1, 8)
    push(bytes(vxlan4(f, 5000)) + b"\xde\xad\xbe\xef", f, 5000, [(1, None)])
    # RFC 6040 4.2: congestion experienced (CE) on the outer header is carried to an
    # ECN-capable inner packet (ECT(0) -> CE, IPv4 checksum updated; ECT(1) -> CE in IPv6); over
    # a not-ECT inner packet it is dropped; outer ECT(1) makes an inner ECT(0) ECT(1).
    push(vxlan4(inner(M1, L1, 15, tos=0x22), 5000, tos=0x03), inner(M1, L1, 15, tos=0x23), 5000, [(1, None)])
    under.append(vxlan4(inner(M1, L1, 16, tos=0x20), 5000, tos=0x03))
    drops["ecn_ce_not_ect"] = 1
    push(vxlan4(inner(M1, L1, 17, tos=0x22), 5000, tos=0x01), inner(M1, L1, 17, tos=0x21), 5000, [(1, None)])
    push(vxlan4(inner(M1, L1, 20, tos=0x21), 5000, tos=0x02), inner(M1, L1, 20, tos=0x21), 5000, [(1, None)])

    def inner6(tc):
        return bytes(Ether(src=M1, dst=L2) / IPv6(src="fd10::7", dst="fd10::1", tc=tc) / UDP(sport=7, dport=7) / Raw(pattern(40, 7)))

    packet = Ether(src=NEXT_HOP_MAC, dst=UNDERLAY_MAC) / IPv6(src=R6[0], dst=VTEP6, tc=0x03) / UDP(sport=50005, dport=4789) / VXLAN(vni=5000) / Raw(inner6(0x21))
    push(packet, inner6(0x23), 5000, [(2, 100)])
    # Broadcast and unknown unicast: to every access port of the VNI, never to the underlay.
    f = bytes(Ether(src=M1, dst=BCAST) / ARP(hwsrc=M1, psrc="192.168.1.20", pdst="192.168.1.99"))
    push(vxlan4(f, 5000), f, 5000, [(1, None), (2, 100)])
    f = inner(M1, "02:00:00:00:09:01", 9)
    push(vxlan4(f, 5000), f, 5000, [(1, None), (2, 100)])
    f = inner(M2, "02:00:00:00:09:02", 10)
    push(nvgre4(f, 7000), f, 7000, [(1, 200), (2, 200)])
    f = inner(M3, "02:00:00:00:09:03", 11)
    push(vxlan6(f, 5100, src=R6[2]), f, 5100, [(1, 110), (2, 110)])
    # VSID 7100 is on port 2 only: one copy, untagged.
    f = inner(M2, "02:00:00:00:09:04", 12)
    push(nvgre4(f, 7100), f, 7100, [(2, None)])
    # To a station behind another VTEP: never back into the underlay. M9 is a static entry,
    # MA is learned behind 10.0.0.2 from the packet before.
    push(vxlan4(inner(M1, M9, 13), 5000), None, 5000, [])
    f = inner(MA, L1, 18)
    push(vxlan4(f, 5000), f, 5000, [(1, None)])
    push(vxlan4(inner(M2, MA, 19), 5000, src=R4[1]), None, 5000, [])
    drops["split_horizon"] = 2
    # Sent to the multicast group: accepted.
    for f, to in [
        (inner(M3, L5, 14), [(1, 300)]),
        (bytes(Ether(src=M3, dst=BCAST) / ARP(hwsrc=M3, psrc="192.168.6.3", pdst="192.168.6.99")), [(1, 300), (2, 300)]),
    ]:
        packet = (
            Ether(src=NEXT_HOP_MAC, dst="01:00:5e:01:01:01")
            / IP(src=R4[2], dst=GROUP4, ttl=16)
            / UDP(sport=50003, dport=4789)
            / VXLAN(vni=6000)
            / Raw(f)
        )
        push(packet, f, 6000, to)

    write(os.path.join(d, "underlay.pcap"), under)
    write(os.path.join(d, "expect-access1.pcap"), out[1])
    write(os.path.join(d, "expect-access2.pcap"), out[2])
    dump(d, "expect.json", {"drops": drops, "decap_packets": decaps, "replicas": replicas[0]})


# --- the VTEP itself and ARP/ND suppression -------------------------------------------------


PEER_MAC = "02:00:00:00:00:99"


def local(d):
    """ARP, ping and neighbour discovery for the VTEP's own addresses (10.0.0.1, fd00::1),
    and packets for others."""
    frames = [
        # 0: who has 10.0.0.1 (padded to 60 bytes, as on a wire).
        bytes(Ether(src=PEER_MAC, dst=BCAST) / ARP(hwsrc=PEER_MAC, psrc="10.0.0.2", pdst=VTEP4)).ljust(60, b"\0"),
        # 1: who has 10.0.0.77: not ours.
        Ether(src=PEER_MAC, dst=BCAST) / ARP(hwsrc=PEER_MAC, psrc="10.0.0.2", pdst="10.0.0.77"),
        # 2: ping 10.0.0.1.
        Ether(src=PEER_MAC, dst=UNDERLAY_MAC)
        / IP(src="10.0.0.2", dst=VTEP4, ttl=7, id=0x4242)
        / ICMP(type=8, id=0x1234, seq=7)
        / Raw(pattern(56)),
        # 3: ping6 fd00::1.
        Ether(src=PEER_MAC, dst=UNDERLAY_MAC)
        / IPv6(src="fd00::2", dst=VTEP6, hlim=9)
        / ICMPv6EchoRequest(id=0x4321, seq=3, data=pattern(40)),
        # 4: neighbour solicitation for fd00::1, to its solicited-node group.
        Ether(src=PEER_MAC, dst="33:33:ff:00:00:01")
        / IPv6(src="fd00::2", dst="ff02::1:ff00:1", hlim=255)
        / ICMPv6ND_NS(tgt=VTEP6)
        / ICMPv6NDOptSrcLLAddr(lladdr=PEER_MAC),
        # 5: UDP to an address that is not ours.
        Ether(src=PEER_MAC, dst=UNDERLAY_MAC) / IP(src="10.0.0.2", dst="10.0.0.99") / UDP(sport=1, dport=4789) / Raw(pattern(20)),
        # 6: an ARP reply for us (its answer to a request): absorbed.
        Ether(src=PEER_MAC, dst=UNDERLAY_MAC) / ARP(op=2, hwsrc=PEER_MAC, psrc="10.0.0.2", hwdst=UNDERLAY_MAC, pdst=VTEP4),
        # 7: an unsolicited neighbour advertisement to all nodes: absorbed.
        Ether(src=PEER_MAC, dst="33:33:00:00:00:01")
        / IPv6(src="fd00::2", dst="ff02::1", hlim=255)
        / ICMPv6ND_NA(tgt="fd00::2", R=0, S=0, O=1)
        / ICMPv6NDOptDstLLAddr(lladdr=PEER_MAC),
        # 8: ICMP timestamp request to us: not served.
        Ether(src=PEER_MAC, dst=UNDERLAY_MAC) / IP(src="10.0.0.2", dst=VTEP4) / ICMP(type=13),
        # 9: duplicate address detection for fd00::1 (from ::): answered to all nodes.
        Ether(src=PEER_MAC, dst="33:33:ff:00:00:01") / IPv6(src="::", dst="ff02::1:ff00:1", hlim=255) / ICMPv6ND_NS(tgt=VTEP6),
    ]
    write(os.path.join(d, "underlay.pcap"), frames)
    dump(
        d,
        "expect.json",
        {"drops": {"arp_not_for_us": 1, "not_local": 1, "icmp_unsupported": 1}},
    )


B1 = "02:00:00:00:0b:01"  # bound to 192.168.1.10 and fd10::10 in VNI 5000
B2 = "02:00:00:00:0b:02"  # bound to 192.168.2.10 in VNI 5100


def suppression(d):
    """ARP/ND suppression in VNI 5000 (native on port 1, VLAN 100, flood 10.0.0.2) and VNI
    5100 (VLAN 110). Requests from port 1, from VTEP 10.0.0.2 (a flood VTEP: a tunnel back
    exists) and from 10.0.0.7 (no tunnel back)."""
    access = [
        # 0: untagged request for a bound address.
        Ether(src=H1, dst=BCAST) / ARP(hwsrc=H1, psrc="192.168.1.1", pdst="192.168.1.10"),
        # 1: the same VNI, tagged with its VLAN.
        Ether(src=H1, dst=BCAST) / Dot1Q(vlan=100) / ARP(hwsrc=H1, psrc="192.168.1.1", pdst="192.168.1.10"),
        # 2: VNI 5100, tagged.
        Ether(src=H2, dst=BCAST) / Dot1Q(vlan=110) / ARP(hwsrc=H2, psrc="192.168.2.1", pdst="192.168.2.10"),
        # 3: an unbound address: flooded.
        Ether(src=H1, dst=BCAST) / ARP(hwsrc=H1, psrc="192.168.1.1", pdst="192.168.1.99"),
        # 4: neighbour solicitation for a bound IPv6 address.
        Ether(src=H1, dst="33:33:ff:00:00:10")
        / IPv6(src="fd10::1", dst="ff02::1:ff00:10", hlim=255)
        / ICMPv6ND_NS(tgt="fd10::10")
        / ICMPv6NDOptSrcLLAddr(lladdr=H1),
        # 5: the same, tagged.
        Ether(src=H1, dst="33:33:ff:00:00:10")
        / Dot1Q(vlan=100)
        / IPv6(src="fd10::1", dst="ff02::1:ff00:10", hlim=255)
        / ICMPv6ND_NS(tgt="fd10::10")
        / ICMPv6NDOptSrcLLAddr(lladdr=H1),
    ]
    remote_host = "02:00:00:00:02:07"
    other_host = "02:00:00:00:02:08"
    requests = [
        # 0: from a host behind 10.0.0.2 for a bound address: answered through the tunnel.
        Ether(src=remote_host, dst=BCAST) / ARP(hwsrc=remote_host, psrc="192.168.1.7", pdst="192.168.1.10"),
        # 1: for an unbound address: flooded to the access ports.
        Ether(src=remote_host, dst=BCAST) / ARP(hwsrc=remote_host, psrc="192.168.1.7", pdst="192.168.1.98"),
        # 2: from behind 10.0.0.7, for a bound address: no tunnel back, flooded as usual.
        Ether(src=other_host, dst=BCAST) / ARP(hwsrc=other_host, psrc="192.168.1.8", pdst="192.168.1.10"),
    ]
    under = [vxlan4(r, 5000, src=R4[0]) for r in requests[:2]] + [vxlan4(requests[2], 5000, src="10.0.0.7")]
    # The answers, as a host with the bound MAC would send them.
    na = ICMPv6ND_NA(R=0, S=1, O=1, tgt="fd10::10") / ICMPv6NDOptDstLLAddr(lladdr=B1)
    replies = [
        Ether(src=B1, dst=H1) / ARP(op=2, hwsrc=B1, psrc="192.168.1.10", hwdst=H1, pdst="192.168.1.1"),
        Ether(src=B1, dst=H1) / Dot1Q(vlan=100) / ARP(op=2, hwsrc=B1, psrc="192.168.1.10", hwdst=H1, pdst="192.168.1.1"),
        Ether(src=B2, dst=H2) / Dot1Q(vlan=110) / ARP(op=2, hwsrc=B2, psrc="192.168.2.10", hwdst=H2, pdst="192.168.2.1"),
        Ether(src=B1, dst=H1) / IPv6(src="fd10::10", dst="fd10::1", hlim=255) / na,
        Ether(src=B1, dst=H1) / Dot1Q(vlan=100) / IPv6(src="fd10::10", dst="fd10::1", hlim=255) / na,
    ]
    remote_reply = Ether(src=B1, dst=remote_host) / ARP(op=2, hwsrc=B1, psrc="192.168.1.10", hwdst=remote_host, pdst="192.168.1.7")
    write(os.path.join(d, "access1.pcap"), access)
    write(os.path.join(d, "underlay.pcap"), under)
    # Port 1: the local answers in order, and the remote requests that were not answered,
    # flooded (untagged) in order.
    write(os.path.join(d, "expect-replies.pcap"), replies)
    write(os.path.join(d, "expect-flood-access1.pcap"), requests[1:])
    # Port 2 (VLAN 100), in any order: the unanswered requests.
    write(os.path.join(d, "expect-access2.pcap"), [tag(access[3], 100)] + [tag(r, 100) for r in requests[1:]])
    # To 10.0.0.2, in either order: the local unbound request, the answer to the remote one.
    write(os.path.join(d, "expect-tunnel-inner.pcap"), [access[3], remote_reply])


# --- drop reasons ---------------------------------------------------------------------------


def underlay_drops(d):
    """One malformed or unwanted underlay packet after another, each followed by a good VXLAN
    packet to L1 (VNI 5000, native on port 1, ARP suppression on) that must come out
    unchanged. VNI 5300 (VLAN 130) allows only 10.0.0.2; 7000 (VLAN 200) is NVGRE; M9 sits
    behind 10.0.0.9. expect.json: the count of each drop reason."""
    under, out1 = [], []
    drops = {}
    seq = [0]

    def good():
        seq[0] += 1
        f = bytes(
            Ether(src=M1, dst=L1)
            / IP(src="192.168.1.2", dst="192.168.1.1")
            / UDP(sport=7, dport=7)
            / Raw(b"good %03d " % seq[0] + pattern(40, seq[0]))
        )
        under.append(vxlan4(f, 5000))
        out1.append(f)

    def bad(reason, frame):
        under.append(frame)
        drops[reason] = drops.get(reason, 0) + 1
        good()

    inner = bytes(Ether(src=M1, dst=L1) / IP() / UDP() / Raw(pattern(30)))
    eth = Ether(src=NEXT_HOP_MAC, dst=UNDERLAY_MAC)
    good()
    bad("runt", bytes(eth)[:10])
    bad("underlay_vlan", Ether(src=NEXT_HOP_MAC, dst=UNDERLAY_MAC) / Dot1Q(vlan=5) / IP(src=R4[0], dst=VTEP4) / UDP(dport=4789) / VXLAN(vni=5000) / Raw(inner))
    bad("non_ip", Ether(src=NEXT_HOP_MAC, dst="01:80:c2:00:00:0e", type=0x88CC) / Raw(pattern(40)))
    # Version 5; header length 16; total length beyond the frame; truncated IPv6.
    v = bytearray(bytes(vxlan4(inner, 5000)))
    v[14] = 0x55
    bad("ip_malformed", bytes(v))
    v = bytearray(bytes(vxlan4(inner, 5000)))
    v[14] = 0x44
    bad("ip_malformed", bytes(v))
    bad("ip_malformed", eth / IP(src=R4[0], dst=VTEP4, len=1000) / UDP(dport=4789) / VXLAN(vni=5000) / Raw(inner))
    bad("ip_malformed", bytes(vxlan6(inner, 5000))[:14 + 30])
    bad("ip_fragment", vxlan4(inner, 5000, flags="MF"))
    bad("ip_fragment", vxlan4(inner, 5000, frag=100))
    bad("ip_fragment", eth / IPv6(src=R6[0], dst=VTEP6) / IPv6ExtHdrFragment(m=1) / UDP(dport=4789) / VXLAN(vni=5000) / Raw(inner))
    bad("ip_ttl_zero", vxlan4(inner, 5000, ttl=0))
    bad("ip_ttl_zero", eth / IPv6(src=R6[0], dst=VTEP6, hlim=0) / UDP(dport=4789) / VXLAN(vni=5000) / Raw(inner))
    bad("not_local", vxlan4(inner, 5000, dst="10.0.0.99"))
    bad("not_local", vxlan6(inner, 5000, dst="fd00::99"))
    bad("not_local", vxlan4(inner, 5000, dst="239.9.9.9"))
    bad("unsupported_protocol", eth / IP(src=R4[0], dst=VTEP4) / TCP(dport=4789) / Raw(pattern(20)))
    bad("unsupported_protocol", eth / IPv6(src=R6[0], dst=VTEP6) / TCP(dport=4789) / Raw(pattern(20)))
    bad("ipv6_extension_header", eth / IPv6(src=R6[0], dst=VTEP6) / (IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt()) / UDP(dport=4789) / VXLAN(vni=5000) / Raw(inner))
    # UDP length beyond the IP payload.
    bad("udp_malformed", eth / IP(src=R4[0], dst=VTEP4) / UDP(dport=4789, len=500) / VXLAN(vni=5000) / Raw(inner))
    bad("udp_malformed", eth / IP(src=R4[0], dst=VTEP4) / UDP(dport=4789, len=4) / VXLAN(vni=5000) / Raw(inner))
    bad("udp_port_closed", eth / IP(src=R4[0], dst=VTEP4) / UDP(dport=4790) / VXLAN(vni=5000) / Raw(inner))
    # Over IPv6 a non-zero UDP checksum is verified (zero is accepted: RFC 6935).
    bad("udp_bad_checksum", eth / IPv6(src=R6[0], dst=VTEP6) / UDP(dport=4789, chksum=0x1234) / VXLAN(vni=5000) / Raw(inner))
    bad("udp_port_closed", eth / IP(src=R4[0], dst=VTEP4) / UDP(dport=53) / Raw(pattern(30)))
    bad("vxlan_truncated", eth / IP(src=R4[0], dst=VTEP4) / UDP(dport=4789) / Raw(b"\x08\x00\x00"))
    bad("vxlan_no_vni", eth / IP(src=R4[0], dst=VTEP4) / UDP(dport=4789) / Raw(vxlan_hdr(5000, flags=0x00) + inner))
    bad("vxlan_no_vni", eth / IP(src=R4[0], dst=VTEP4) / UDP(dport=4789) / Raw(vxlan_hdr(5000, flags=0xF7) + inner))
    bad("gre_truncated", eth / IP(src=R4[1], dst=VTEP4, proto=47) / Raw(b"\x20\x00\x65"))
    bad("gre_checksum_or_sequence", eth / IP(src=R4[1], dst=VTEP4) / GRE(chksum_present=1, key_present=1, proto=0x6558, key=7000 << 8) / Raw(inner))
    bad("gre_checksum_or_sequence", eth / IP(src=R4[1], dst=VTEP4) / GRE(seqnum_present=1, key_present=1, proto=0x6558, key=7000 << 8, sequence_number=1) / Raw(inner))
    bad("gre_no_key", eth / IP(src=R4[1], dst=VTEP4) / GRE(proto=0x6558) / Raw(pattern(4) + inner))
    bad("gre_bad_version", eth / IP(src=R4[1], dst=VTEP4) / GRE(key_present=1, version=1, proto=0x6558, key=7000 << 8) / Raw(inner))
    bad("gre_not_ethernet", eth / IP(src=R4[1], dst=VTEP4) / GRE(key_present=1, proto=0x0800, key=7000 << 8) / Raw(inner))
    bad("unknown_vni", vxlan4(inner, 4242))
    bad("unknown_vni", nvgre4(inner, 4242))
    bad("encap_mismatch", vxlan4(inner, 7000))
    bad("encap_mismatch", nvgre4(inner, 5000))
    bad("vtep_not_allowed", vxlan4(bytes(Ether(src=M2, dst=L2) / IP() / UDP()), 5300, src=R4[1]))
    bad("inner_truncated", vxlan4(inner[:10], 5000))
    bad("inner_truncated", nvgre4(inner[:13], 7000))
    bad("inner_vlan", vxlan4(Ether(src=M1, dst=L1) / Dot1Q(vlan=100) / IP() / UDP(), 5000))
    bad("bad_source_mac", vxlan4(Ether(src="01:00:5e:00:00:01", dst=L1) / IP() / UDP(), 5000))
    # The outer source a group address: refused before the IP header is looked at.
    bad("bad_source_mac", Ether(src="01:00:5e:00:00:09", dst=UNDERLAY_MAC) / IP(src=R4[0], dst=VTEP4) / UDP(dport=4789) / VXLAN(vni=5000) / Raw(inner))
    bad("split_horizon", vxlan4(Ether(src=M1, dst=M9) / IP() / UDP(), 5000))
    bad("arp_malformed", Ether(src=NEXT_HOP_MAC, dst=BCAST, type=0x0806) / Raw(b"\x00\x01\x08\x00\x06\x04\x00\x01"))
    bad("arp_malformed", Ether(src=NEXT_HOP_MAC, dst=BCAST) / ARP(ptype=0x86DD, plen=16, hwsrc=NEXT_HOP_MAC, psrc="fd00::2", pdst=VTEP6))
    # VNI 5000 suppresses ARP, so it parses decapsulated ARP too.
    bad("arp_malformed", vxlan4(Ether(src=M1, dst=BCAST, type=0x0806) / Raw(b"\x00\x01\x08\x00"), 5000))
    bad("arp_not_for_us", Ether(src=NEXT_HOP_MAC, dst=BCAST) / ARP(hwsrc=NEXT_HOP_MAC, psrc="10.0.0.2", pdst="10.0.0.50"))
    bad("icmp_unsupported", eth / IP(src=R4[0], dst=VTEP4) / ICMP(type=13))
    bad("icmp_unsupported", eth / IPv6(src=R6[0], dst=VTEP6, hlim=255) / ICMPv6ND_RS())
    bad("icmp_malformed", eth / IP(src=R4[0], dst=VTEP4, proto=1) / Raw(b"\x08\x00\x00"))
    bad("icmp_malformed", eth / IPv6(src=R6[0], dst="ff02::1:ff00:1", hlim=64) / ICMPv6ND_NS(tgt=VTEP6))
    # Checksums off by one: a corrupted echo or solicitation is neither answered nor learned from.
    bad("icmp_bad_checksum", eth / IP(src=R4[0], dst=VTEP4) / ICMP(type=8, chksum=0x1234))
    bad("icmp_bad_checksum", eth / IPv6(src=R6[0], dst=VTEP6) / ICMPv6EchoRequest(cksum=0x1234))
    bad("icmp_bad_checksum", eth / IPv6(src=R6[0], dst="ff02::1:ff00:1", hlim=255) / ICMPv6ND_NS(tgt=VTEP6, cksum=0x1234))
    # Allowed VTEP into the restricted VNI: delivered (port 1 is tagged 130 there).
    f = bytes(Ether(src=M2, dst=L2) / IP() / UDP() / Raw(pattern(20, 99)))
    under.append(vxlan4(f, 5300, src=R4[0]))
    out1.append(tag(f, 130))

    write(os.path.join(d, "underlay.pcap"), under)
    write(os.path.join(d, "expect-access1.pcap"), out1)
    dump(d, "expect.json", {"drops": drops})


def access_drops(d):
    """Unwanted frames on access port 1 (no native VNI; VLAN 100 -> VNI 5000, VLAN 110 ->
    VNI 5100 with ARP suppression), each followed by a good tagged frame to M1 (behind
    10.0.0.2, VNI 5000). Port 2's native VNI 5500 has no flood list and no other port:
    unknown unicast there has nowhere to go, while its frames to 02:00:00:00:02:05 (behind
    10.0.0.5) are encapsulated. 02:00:00:00:05:01 is a static entry behind port 1."""
    acc1, inner1, acc2, inner2 = [], [], [], []
    drops = {}
    seq = [0]

    def good():
        seq[0] += 1
        f = Ether(src=H1, dst=M1) / Dot1Q(vlan=100) / IP(src="192.168.1.1", dst="192.168.1.2") / UDP(sport=9, dport=9) / Raw(b"good %03d " % seq[0] + pattern(30, seq[0]))
        acc1.append(f)
        inner1.append(untag(f))

    def bad(reason, frame):
        acc1.append(frame)
        drops[reason] = drops.get(reason, 0) + 1
        good()

    body = IP(src="192.168.1.1", dst="192.168.1.2") / UDP() / Raw(pattern(30))
    good()
    bad("runt", bytes(Ether(src=H1, dst=M1))[:13])
    bad("untagged_no_vni", Ether(src=H1, dst=M1) / body)
    bad("unmapped_vlan", Ether(src=H1, dst=M1) / Dot1Q(vlan=999) / body)
    bad("qinq_unsupported", Ether(src=H1, dst=M1) / Dot1Q(vlan=100) / Dot1Q(vlan=5) / body)
    bad("qinq_unsupported", Ether(src=H1, dst=M1, type=0x88A8) / Dot1AD(vlan=100) / Dot1Q(vlan=5) / body)
    bad("bad_source_mac", Ether(src="01:00:00:00:00:01", dst=M1) / Dot1Q(vlan=100) / body)
    bad("bad_source_mac", Ether(src=BCAST, dst=M1) / Dot1Q(vlan=100) / body)
    bad("bad_source_mac", Ether(src="00:00:00:00:00:00", dst=M1) / Dot1Q(vlan=100) / body)
    bad("same_port", Ether(src=H1, dst="02:00:00:00:05:01") / Dot1Q(vlan=100) / body)
    # H1 was learned behind port 1 by the good frames.
    bad("same_port", Ether(src=H3, dst=H1) / Dot1Q(vlan=100) / body)
    # VLAN 110 (VNI 5100) suppresses ARP, so it parses it.
    bad("arp_malformed", Ether(src=H1, dst=BCAST) / Dot1Q(vlan=110, type=0x0806) / Raw(b"\x00\x01\x08\x00"))

    # Port 2: native VNI 5500 with nowhere to flood.
    f = Ether(src=H2, dst="02:00:00:00:09:55") / body
    acc2.append(f)
    drops["no_flood_destination"] = 1
    for i in range(3):
        f = Ether(src=H2, dst="02:00:00:00:02:05") / IP(src="192.168.55.1", dst="192.168.55.2") / UDP(sport=i, dport=9) / Raw(pattern(20, i))
        acc2.append(f)
        inner2.append(bytes(f))
    write(os.path.join(d, "access1.pcap"), acc1)
    write(os.path.join(d, "access2.pcap"), acc2)
    write(os.path.join(d, "expect-inner1.pcap"), inner1)
    write(os.path.join(d, "expect-inner2.pcap"), inner2)
    dump(d, "expect.json", {"drops": drops})


def unresolved(d):
    """Traffic to remote VTEPs before their MACs are known (no next_hop_mac): unicast to M1
    (behind 10.0.0.2) and a broadcast flooded to 10.0.0.2, 10.0.0.3 and access port 2."""
    frames = [udp_frame(H1, M1, 40, seed=i) for i in range(5)]
    frames.append(Ether(src=H1, dst=BCAST) / ARP(hwsrc=H1, psrc="192.168.1.1", pdst="192.168.1.2"))
    write(os.path.join(d, "access1.pcap"), frames)
    write(os.path.join(d, "underlay.pcap"), [])
    # Port 2 (VLAN 100) still gets its copy of the broadcast.
    write(os.path.join(d, "expect-access2.pcap"), [tag(frames[-1], 100)])
    dump(d, "expect.json", {"drops": {"neighbor_unresolved": 5 + 2}})


def priority_tagged(d):
    """An 802.1p priority-tagged frame (VID 0, priority 5) to M1 on a port with a native VNI:
    IEEE 802.1Q classifies it as untagged."""
    f = Ether(src=H1, dst=M1) / Dot1Q(vlan=0, prio=5) / IP(src="192.168.1.1", dst="192.168.1.2") / UDP(sport=1, dport=2) / Raw(pattern(30))
    write(os.path.join(d, "access1.pcap"), [f])
    write(os.path.join(d, "expect-inner.pcap"), [untag(f)])


def priority_map(d):
    """[qos] (tests/gateway_encap.rs): tagged frames from port 1 to M1 (VNI 5000, native) and
    M2 (VNI 5100, VLAN 100) get the outer DSCP their PCP maps to, untagged ones their inner
    DSCP; tunnel packets to L1 (VNI 5000) and L2 (VNI 5100, behind port 1 on VLAN 100) leave
    with the PCP their outer DSCP maps to. expect.json lists each tunnel packet's outer TOS."""
    pcp_to_dscp = [0, 10, 18, 26, 34, 46, 48, 56]
    acc, tos = [], []
    for n, (vlan, prio, dst, inner_tos) in enumerate([
        (100, 5, M2, 10 << 2 | 1),
        (100, 1, M2, 0),
        (0, 6, M1, 2),
        (None, None, M1, 18 << 2),
    ]):
        body = IP(src="192.168.1.1", dst="192.168.1.2", tos=inner_tos) / UDP(sport=n, dport=9) / Raw(pattern(30, n))
        if vlan is None:
            acc.append(Ether(src=H1, dst=dst) / body)
            tos.append(inner_tos)
        else:
            acc.append(Ether(src=H1, dst=dst) / Dot1Q(vlan=vlan, prio=prio) / body)
            tos.append(pcp_to_dscp[prio] << 2 | inner_tos & 3)
    under, out = [], []
    for n, (vni, dst, outer_dscp, pcp) in enumerate([
        (5100, L2, 46, 6),  # dscp_to_pcp's exception
        (5100, L2, 26, 3),  # AF31: its class selector
        (5100, L2, 0, 0),
        (5000, L1, 46, None),  # a native port: no tag to carry it
    ]):
        f = Ether(src=M1, dst=dst) / IP(src="192.168.1.2", dst="192.168.1.1") / UDP(sport=n, dport=7) / Raw(pattern(30, 10 + n))
        under.append(vxlan4(f, vni, tos=outer_dscp << 2))
        if pcp is None:
            out.append(f)
        else:
            p = Ether(bytes(f))
            out.append(Ether(src=p.src, dst=p.dst) / Dot1Q(vlan=100, prio=pcp, type=p.type) / p.payload)
    write(os.path.join(d, "access1.pcap"), acc)
    write(os.path.join(d, "underlay.pcap"), under)
    write(os.path.join(d, "expect-access1.pcap"), out)
    dump(d, "expect.json", {"outer_tos": tos})


def extension_headers(d):
    """VXLAN over IPv6 after 0 to 4 destination-options headers, to L1 (VNI 5000, native on
    port 1): every one is a well-formed packet to decapsulate."""
    under, out = [], []
    for n in range(5):
        f = bytes(Ether(src=M1, dst=L1) / IP(src="192.168.1.2", dst="192.168.1.1") / UDP(sport=n, dport=7) / Raw(pattern(30, n)))
        ext = IPv6(src=R6[0], dst=VTEP6)
        for _ in range(n):
            ext = ext / IPv6ExtHdrDestOpt()
        under.append(Ether(src=NEXT_HOP_MAC, dst=UNDERLAY_MAC) / ext / UDP(sport=50000, dport=4789) / VXLAN(vni=5000) / Raw(f))
        out.append(f)
    write(os.path.join(d, "underlay.pcap"), under)
    write(os.path.join(d, "expect-access1.pcap"), out)


def outer_checksum(d):
    """Two VXLAN packets to L1 (VNI 5000, native on port 1): the second's outer IPv4 header
    checksum is wrong (RFC 1122 3.2.1.2: discard)."""
    good = bytes(Ether(src=M1, dst=L1) / IP(src="192.168.1.2", dst="192.168.1.1") / UDP(sport=1, dport=7) / Raw(pattern(30, 1)))
    bad = bytearray(bytes(vxlan4(good, 5000)))
    bad[24] ^= 0xFF  # the checksum's first byte
    write(os.path.join(d, "underlay.pcap"), [vxlan4(good, 5000), bytes(bad)])
    write(os.path.join(d, "expect-access1.pcap"), [good])
    dump(d, "expect.json", {"drops": {"ip_malformed": 1}})


def port_mtu(d):
    """Ports of different MTUs (tests/gateway_drops.rs PORT_MTU_CONFIG): the underlay 1600,
    port 1 2000 (native VNI 5000, L1 behind it), port 2 1400 (VNI 5000 tagged 100, L2 behind
    it). A frame longer than its port's MTU plus its Ethernet header (and tag) is refused on
    receipt (rx_over_mtu); one larger than the MTU of the access port it would leave on is not
    sent there (access_mtu_exceeded), a flood copy included."""
    drops = {"rx_over_mtu": 0, "access_mtu_exceeded": 0}
    under, acc1, acc2 = [], [], []
    out1, out2 = [], []
    decaps = [0]

    def sized(src, dst, n, seed):
        """A UDP/IPv4 frame of exactly n bytes."""
        f = bytes(Ether(src=src, dst=dst) / IP(src="192.168.1.1", dst="192.168.1.2") / UDP(sport=1, dport=2) / Raw(pattern(n - 42, seed)))
        assert len(f) == n
        return f

    def refused(reason):
        drops[reason] += 1

    # From the underlay: exactly the MTU, one byte more.
    f = sized(M1, L1, 1564, 1)
    assert len(bytes(vxlan4(f, 5000))) == 1614
    under.append(vxlan4(f, 5000))
    out1.append(f)
    decaps[0] += 1
    under.append(vxlan4(sized(M1, L1, 1565, 2), 5000))
    refused("rx_over_mtu")
    # To port 2: its MTU, one byte more.
    f = sized(M1, L2, 1414, 3)
    under.append(vxlan4(f, 5000))
    out2.append(tag(f, 100))
    decaps[0] += 1
    under.append(vxlan4(sized(M1, L2, 1415, 4), 5000))
    refused("access_mtu_exceeded")
    # A broadcast that fits port 1 but not port 2: one copy, one refused; then one for both.
    f = sized(M1, BCAST, 1500, 5)
    under.append(vxlan4(f, 5000))
    out1.append(f)
    refused("access_mtu_exceeded")
    decaps[0] += 1
    f = sized(M1, BCAST, 100, 6)
    under.append(vxlan4(f, 5000))
    out1.append(f)
    out2.append(tag(f, 100))
    decaps[0] += 1
    # Port 1 (MTU 2000): one byte over; within its MTU but not port 2's.
    acc1.append(sized(H1, L2, 2015, 7))
    refused("rx_over_mtu")
    acc1.append(sized(H1, L2, 2014, 8))
    refused("access_mtu_exceeded")
    # Port 2 (MTU 1400), tagged: one byte over; exactly the MTU, to port 1.
    acc2.append(tag(sized(H2, L1, 1415, 9), 100))
    refused("rx_over_mtu")
    f = sized(H2, L1, 1414, 10)
    acc2.append(tag(f, 100))
    out1.append(f)

    write(os.path.join(d, "underlay.pcap"), under)
    write(os.path.join(d, "access1.pcap"), acc1)
    write(os.path.join(d, "access2.pcap"), acc2)
    write(os.path.join(d, "expect-access1.pcap"), out1)
    write(os.path.join(d, "expect-access2.pcap"), out2)
    dump(d, "expect.json", {"drops": drops, "decap_packets": decaps[0], "replicas": 2})


SCENARIOS = {
    f.__name__: f
    for f in [
        encap,
        mtu,
        flood,
        decap,
        local,
        suppression,
        underlay_drops,
        access_drops,
        unresolved,
        priority_tagged,
        priority_map,
        extension_headers,
        outer_checksum,
        port_mtu,
    ]
}

if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in SCENARIOS:
        sys.exit("usage: scenarios.py {%s} DIR" % ",".join(SCENARIOS))
    SCENARIOS[sys.argv[1]](sys.argv[2])
