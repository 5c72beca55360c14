#!/usr/bin/python3
"""The generated malformed-packet suite (tests/hostile.rs), crafted with scapy: every packet
class a hostile or broken peer can send to either port role, each with the outcome the
protocols (and the configuration tests/hostile.rs writes) say it must have.

    /usr/bin/python3 tests/traffic/malformed.py {underlay,access} DIR

writes into DIR:

- the input capture: `underlay.pcap` (replayed by net_pcap0, the underlay port) or
  `access1.pcap` (net_pcap1, the access port);
- what must come out, in order: `expect-out0.pcap` / `expect-out1.pcap` byte for byte
  (decapsulated frames, ARP and echo replies), and for encapsulated packets, whose outer
  headers carry entropy, `expect-tunnel-inner.pcap` with the inner frames and
  `manifest.json["tunnel"]` with the remote VTEP and VNI of each;
- `manifest.json`: the classes (name, count, expected outcome, why), the sum of every drop
  reason, the local answers, flood replicas, and which MACs must and must never be learned.

Expectations are computed here from the protocols, never read back from vtepd:

- each malformed packet has exactly one fault, so its outcome is not a matter of which check
  runs first;
- truncations: every shape (VXLAN/IPv4, VXLAN/IPv4 with options, VXLAN/IPv6 with extension
  headers, NVGRE/IPv4, NVGRE/IPv6, ARP, ICMP and ICMPv6 echo, neighbour solicitation, tagged
  and QinQ frames on both roles, tagged access frames, ARP on access) is built whole, then cut
  at every header boundary and a few bytes inside each header. A "raw" cut keeps the length
  fields, so the outer IP header claims more than arrived; a "consistent" cut rebuilds the
  outer headers with scapy around the shortened payload (lengths and checksums right), so the
  cut reaches the first header that is actually incomplete; an "ip-fixed" cut fixes the IP
  length but leaves UDP's. Which header the cut falls in decides the drop reason (the names
  are src/pipeline/drops.rs's);
- an access port bridges Ethernet: it parses the MAC header and one 802.1Q tag, and ARP only
  in a VNI that suppresses ARP, so a cut anywhere after the tag is forwarded as it is (its
  inner frame compared after decapsulation); likewise a decapsulated frame with a whole
  Ethernet header is bridged whatever follows (RFC 7348 4.1);
- every malformed packet is followed by a well-formed one whose output is known exactly.
"""

import functools
import json
import logging
import os
import socket
import struct
import sys

# Headers are measured standalone (an ICMPv6 layer without its IPv6 header): no warnings.
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)

from scapy.all import (  # noqa: E402
    ARP,
    GRE,
    ICMP,
    IP,
    TCP,
    UDP,
    Dot1AD,
    Dot1Q,
    Ether,
    IPOption_NOP,
    IPOption_Router_Alert,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
    PcapWriter,
    Raw,
)
from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest, ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr

# --- addresses (the configurations in tests/hostile.rs match) ---------------------------------

VTEP4 = "10.0.0.1"
VTEP6 = "fd00::1"
NEXT_HOP_MAC = "02:00:00:00:00:fe"
UNDERLAY_MAC = "02:70:63:61:70:00"  # what net_pcap gives net_pcap0; the test checks it
PEER_MAC = "02:00:00:00:00:99"  # an underlay neighbour
BCAST = "ff:ff:ff:ff:ff:ff"
# Remote VTEPs.
R4 = ["10.0.0.2", "10.0.0.3", "10.0.0.4"]
R6 = ["fd00::2", "fd00::3"]
# Stations behind remote VTEPs (sources of decapsulated frames, destinations of encapsulated).
M1, M2, M3, M4, M5 = ("02:00:00:00:02:0%d" % i for i in range(1, 6))
M9 = "02:00:00:00:02:09"  # static, behind 10.0.0.9: split horizon
# Stations behind the access port.
L1, L2, L3, L4 = ("02:00:00:00:03:0%d" % i for i in range(1, 5))
H1, H2, H3, H4 = ("02:00:00:00:01:0%d" % i for i in range(1, 5))
B2 = "02:00:00:00:0b:02"  # bound to 192.168.2.10 in VNI 5100 (ARP suppression)
# Group source MACs: never valid as a source, never learned.
BAD_SOURCES = ["01:00:5e:00:00:01", BCAST, "00:00:00:00:00:00", "33:33:00:00:00:01"]

# The receive buffers hold the largest configured MTU (9000) + 22 bytes (Ethernet header, one
# tag, FCS): a longer frame arrives chained and is `frame_too_long`; one that fits them but
# carries more than the MTU after its MAC header and tag is `rx_over_mtu`.
MTU = 9000
RX_FRAME_MAX = MTU + 22

# Underlay role: VNI -> encapsulation, the tag it leaves the access port with (None: native),
# the VTEPs allowed to send into it (None: any).
U_VNIS = {
    5000: {"encap": "vxlan", "tag": None, "allowed": None},
    5100: {"encap": "vxlan", "tag": 110, "allowed": None},
    5300: {"encap": "vxlan", "tag": 130, "allowed": [R4[0]]},
    7000: {"encap": "nvgre", "tag": 200, "allowed": None},
}
# Static entries: (vni, mac) -> "access" (behind the access port) or the remote VTEP.
U_STATIC = {(5000, L1): "access", (5100, L2): "access", (5300, L3): "access", (7000, L4): "access", (5000, M9): "10.0.0.9"}

# Access role: VLAN -> VNI; VNI -> encapsulation, flood list, ARP suppression.
A_VLANS = {100: 5000, 110: 5100, 120: 5200, 200: 7000}
A_NATIVE = 5000
A_VNIS = {
    5000: {"encap": "vxlan", "flood": [R4[0], R4[1]], "suppress": False},
    5100: {"encap": "vxlan", "flood": [R6[0]], "suppress": True},
    5200: {"encap": "vxlan", "flood": [], "suppress": False},
    7000: {"encap": "nvgre", "flood": [R4[2]], "suppress": False},
}
A_STATIC = {(5000, M1): R4[0], (5100, M2): R6[0], (7000, M3): R4[2], (5000, L1): "access"}
A_BINDINGS = {(5100, "192.168.2.10"): B2}


def pattern(n, seed=0):
    return bytes((seed + 7 * k) & 0xFF for k in range(n))


def is_group(mac):
    return int(mac.split(":")[0], 16) & 1 == 1


def mac_of(frame, at):
    return ":".join("%02x" % b for b in frame[at : at + 6])


def tag(frame, vlan):
    """`frame` with an 802.1Q tag (priority 0) after the MAC addresses."""
    return frame[:12] + struct.pack("!HH", 0x8100, vlan) + frame[12:]


def untag(frame):
    """`frame` without the 802.1Q tag that follows its MAC addresses."""
    return frame[:12] + frame[16:]


def stack(layers):
    return functools.reduce(lambda a, b: a / b, [l.copy() for l in layers])


def write(path, frames):
    w = PcapWriter(path, linktype=1, sync=True)
    for f in frames:
        w.write(bytes(f))
    w.close()


# --- shapes and cuts --------------------------------------------------------------------------


class Shape:
    """A well-formed packet as outer scapy layers (named) followed by opaque tail segments
    (named byte strings: the inner frame's header and payload, echo data, ARP)."""

    def __init__(self, name, layers, tail):
        self.name = name
        self.layers = layers
        self.tail = tail
        tail_bytes = b"".join(b for _, b in tail)
        self.full = bytes(stack([l for _, l in layers]) / Raw(tail_bytes)) if layers else tail_bytes
        # Where each header starts and ends.
        self.segments = []
        at = 0
        for i, (label, _) in enumerate(layers):
            rest = bytes(stack([l for _, l in layers[i:]]) / Raw(tail_bytes))
            after = bytes(stack([l for _, l in layers[i + 1 :]]) / Raw(tail_bytes)) if i + 1 < len(layers) else tail_bytes
            n = len(rest) - len(after)
            self.segments.append((label, at, at + n))
            at += n
        for label, b in tail:
            self.segments.append((label, at, at + len(b)))
            at += len(b)
        assert at == len(self.full), (name, at, len(self.full))

    def start(self, label):
        return next(s for l, s, _ in self.segments if l == label)

    def end(self, label):
        return next(e for l, _, e in self.segments if l == label)

    def cuts(self, skip=()):
        """Cut points: each header boundary, one and a few bytes in, the last byte of it."""
        out = []
        for label, s, e in self.segments:
            if label in skip:
                continue
            for c in (s, s + 1, (s + e) // 2, e - 1):
                if 0 < c < len(self.full) and s <= c < e and c not in out:
                    out.append(c)
        return sorted(out)

    def cut_in(self, c):
        """The header a cut at `c` leaves incomplete (or missing)."""
        return next(l for l, s, e in self.segments if s <= c < e)

    def raw(self, c):
        return self.full[:c]

    def consistent(self, c, upto=None):
        """The first `c` bytes, every outer header rebuilt around what remains of its payload
        (lengths and checksums recomputed by scapy). `upto` stops at that outer layer: the
        headers after it stay as they were, lengths and all."""
        keep = 0
        for i, (label, _) in enumerate(self.layers):
            if self.segments[i][2] <= c:
                keep = i + 1
            if label == upto:
                keep = min(keep, i + 1)
                break
        start = self.segments[keep - 1][2]
        return bytes(stack([l for _, l in self.layers[:keep]]) / Raw(self.full[start:c]))


# --- the generator ----------------------------------------------------------------------------


class Suite:
    def __init__(self, role):
        self.role = role
        self.inputs = []
        self.classes = {}
        self.drops = {}
        self.out = {0: [], 1: []}
        self.tunnel = []  # access role: (remote, vni) of each packet out of port 0
        self.tunnel_inner = []
        self.local = {"arp_replies": 0, "echo_replies": 0, "nd_replies": 0, "absorbed": 0}
        self.arp_suppressed = 0
        self.replicas = 0
        self.learned = set()
        self.seq = 0
        self.malformed = 0
        self.trace = []  # (frame number in the capture, counting from 1 as tshark does, class)

    # Outcomes. Each returns a short description for the class table.

    def drop(self, reason):
        self.drops[reason] = self.drops.get(reason, 0) + 1
        return reason

    def add(self, cls, frame, outcome, why):
        """Feeds one malformed (or edge-case) packet, then a good one. `outcome` is a function
        that records what must happen and returns the expected counter / outcome name."""
        self.inputs.append(bytes(frame))
        self.trace.append([len(self.inputs), cls])
        expect = outcome()
        c = self.classes.setdefault(cls, {"class": cls, "count": 0, "expect": expect, "why": why})
        assert c["expect"] == expect, (cls, c["expect"], expect)
        c["count"] += 1
        self.malformed += 1
        self.good()

    # --- underlay -------------------------------------------------------------------------

    def decap(self, vni, src_vtep, inner, encap="vxlan"):
        """A tunnel packet whose outer headers are valid: the inner frame's fate."""
        v = U_VNIS.get(vni)
        if v is None:
            return self.drop("unknown_vni")
        if v["encap"] != encap:
            return self.drop("encap_mismatch")
        if v["allowed"] is not None and src_vtep not in v["allowed"]:
            return self.drop("vtep_not_allowed")
        if len(inner) < 14:
            return self.drop("inner_truncated")
        src, dst = mac_of(inner, 6), mac_of(inner, 0)
        if is_group(src) or src == "00:00:00:00:00:00":
            return self.drop("bad_source_mac")
        if inner[12:14] in (b"\x81\x00", b"\x88\xa8"):
            return self.drop("inner_vlan")
        # Admitted to the VNI's bridge: the source is learned behind the sending VTEP.
        self.learned.add((vni, src, src_vtep))
        where = U_STATIC.get((vni, dst), "flood" if is_group(dst) else "unknown")
        if where not in ("access", "flood", "unknown"):
            return self.drop("split_horizon")
        if len(inner) - 14 > MTU:
            return self.drop("access_mtu_exceeded")
        # The access port is the VNI's only member: one copy either way.
        self.out[1].append(tag(inner, v["tag"]) if v["tag"] else inner)
        return "forwarded"

    def answer_arp(self, request):
        """An ARP request for our address: the reply, in the request's buffer (trailer kept)."""
        p = Ether(request)
        a = p[ARP]
        reply = bytes(
            Ether(dst=p.src, src=UNDERLAY_MAC, type=0x0806)
            / ARP(op=2, hwsrc=UNDERLAY_MAC, psrc=a.pdst, hwdst=a.hwsrc, pdst=a.psrc)
        )
        self.out[0].append(reply + request[len(reply) :])
        self.local["arp_replies"] += 1
        return "answered"

    def answer_echo4(self, request):
        p = Ether(request)
        ip, icmp = p[IP], p[ICMP]
        data = bytes(icmp.payload)
        reply = bytes(
            Ether(dst=p.src, src=UNDERLAY_MAC, type=0x0800)
            / IP(version=4, ihl=ip.ihl, tos=ip.tos, id=ip.id, flags=ip.flags, frag=ip.frag, ttl=64, proto=1, src=ip.dst, dst=ip.src, options=ip.options)
            / ICMP(type=0, code=icmp.code, id=icmp.id, seq=icmp.seq)
            / Raw(data)
        )
        self.out[0].append(reply + request[len(reply) :])
        self.local["echo_replies"] += 1
        return "answered"

    def answer_echo6(self, request):
        p = Ether(request)
        ip, echo = p[IPv6], p[ICMPv6EchoRequest]
        reply = bytes(
            Ether(dst=p.src, src=UNDERLAY_MAC, type=0x86DD)
            / IPv6(tc=ip.tc, fl=ip.fl, hlim=64, nh=58, src=ip.dst, dst=ip.src)
            / ICMPv6EchoReply(code=echo.code, id=echo.id, seq=echo.seq, data=echo.data)
        )
        self.out[0].append(reply + request[len(reply) :])
        self.local["echo_replies"] += 1
        return "answered"

    def absorbed(self):
        self.local["absorbed"] += 1
        return "absorbed"

    # --- access ---------------------------------------------------------------------------

    def bridge(self, frame):
        """A frame on the access port: parse the MAC header and one 802.1Q tag, map it to a
        VNI, learn, then by the destination: the static entry's tunnel, or flood."""
        if len(frame) > RX_FRAME_MAX:
            return self.drop("frame_too_long")
        if len(frame) < 14:
            return self.drop("runt")
        src, dst = mac_of(frame, 6), mac_of(frame, 0)
        if is_group(src) or src == "00:00:00:00:00:00":
            return self.drop("bad_source_mac")
        ethertype = frame[12:14]
        if ethertype == b"\x88\xa8":
            return self.drop("qinq_unsupported")
        if ethertype == b"\x81\x00":
            if len(frame) < 18:
                return self.drop("runt")  # the MAC header ends inside the tag
            if frame[16:18] in (b"\x81\x00", b"\x88\xa8"):
                return self.drop("qinq_unsupported")
            vid = struct.unpack("!H", frame[14:16])[0] & 0xFFF
            l2 = 18
        else:
            vid, l2 = 0, 14
        # More than a link of the port's MTU carries after its MAC header and tag.
        if len(frame) - l2 > MTU:
            return self.drop("rx_over_mtu")
        # VID 0 is a priority tag: the port's native VLAN (IEEE 802.1Q 6.9.1).
        vni = A_VLANS.get(vid) if vid else A_NATIVE
        if vni is None:
            return self.drop("unmapped_vlan")
        self.learned.add((vni, src, "net_pcap1"))
        v = A_VNIS[vni]
        inner = untag(frame) if l2 == 18 else frame
        if v["suppress"] and inner[12:14] == b"\x08\x06":
            arp = inner[14:]
            if len(arp) < 28 or arp[:6] != b"\x00\x01\x08\x00\x06\x04":
                return self.drop("arp_malformed")
            a = ARP(arp[:28])
            bound = A_BINDINGS.get((vni, a.pdst))
            if a.op == 1 and a.psrc != a.pdst and bound and bound != a.hwsrc:
                # Answered back out of the port, tag kept.
                reply = bytes(Ether(dst=a.hwsrc, src=bound, type=0x0806) / ARP(op=2, hwsrc=bound, psrc=a.pdst, hwdst=a.hwsrc, pdst=a.psrc))
                reply = reply + inner[len(reply) :]
                self.out[1].append(tag(reply, vid) if l2 == 18 else reply)
                self.arp_suppressed += 1
                return "answered"
        where = None if is_group(dst) else A_STATIC.get((vni, dst))
        if where == "access":
            return self.drop("same_port")
        if where is not None:
            return self.encap(inner, vni, [where])
        if not v["flood"]:
            return self.drop("no_flood_destination")
        self.replicas += len(v["flood"]) - 1
        return self.encap(inner, vni, v["flood"])

    def encap(self, inner, vni, remotes):
        # Outer IP length: IPv4 20 / IPv6 40, plus UDP + VXLAN 16 or GRE 8.
        for r in remotes:
            outer = (40 if ":" in r else 20) + (16 if A_VNIS[vni]["encap"] == "vxlan" else 8)
            if outer + len(inner) > MTU:
                return self.drop("mtu_exceeded")  # UDP: not segmentable (RFC 7348 4.3)
        for r in remotes:
            self.tunnel.append((r, vni))
            self.tunnel_inner.append(inner)
        return "forwarded"

    # --- good packets ---------------------------------------------------------------------

    def good(self):
        self.seq += 1
        n = self.seq
        data = b"good %05d " % n + pattern(40, n)
        kind = n % 3
        if self.role == "underlay":
            if kind == 0:
                inner = bytes(Ether(src=M1, dst=L1) / IP(src="192.168.1.2", dst="192.168.1.1") / UDP(sport=7, dport=7) / Raw(data))
                pkt = vxlan4(inner, 5000)
                out = inner
            elif kind == 1:
                inner = bytes(Ether(src=M2, dst=L2) / IP(src="192.168.2.2", dst="192.168.2.1") / UDP(sport=7, dport=7) / Raw(data))
                pkt = vxlan6(inner, 5100)
                out = tag(inner, 110)
            else:
                inner = bytes(Ether(src=M3, dst=L4) / IP(src="192.168.7.2", dst="192.168.7.1") / UDP(sport=7, dport=7) / Raw(data))
                pkt = nvgre4(inner, 7000)
                out = tag(inner, 200)
            self.inputs.append(bytes(pkt))
            self.out[1].append(out)
        else:
            vlan, src, dst, vni = [(100, H1, M1, 5000), (110, H2, M2, 5100), (200, H3, M3, 7000)][kind]
            inner = bytes(Ether(src=src, dst=dst) / IP(src="192.168.9.1", dst="192.168.9.2") / UDP(sport=9, dport=9) / Raw(data))
            self.inputs.append(tag(inner, vlan))
            self.tunnel.append((A_STATIC[(vni, dst)], vni))
            self.tunnel_inner.append(inner)

    # --- output ---------------------------------------------------------------------------

    def write(self, d):
        name = "underlay.pcap" if self.role == "underlay" else "access1.pcap"
        write(os.path.join(d, name), self.inputs)
        write(os.path.join(d, "expect-out0.pcap"), self.out[0])
        write(os.path.join(d, "expect-out1.pcap"), self.out[1])
        write(os.path.join(d, "expect-tunnel-inner.pcap"), self.tunnel_inner)
        never = sorted(set(BAD_SOURCES))
        manifest = {
            "role": self.role,
            "packets": len(self.inputs),
            "malformed": self.malformed,
            "good": self.seq,
            "classes": list(self.classes.values()),
            "drops": dict(sorted(self.drops.items())),
            "outputs": {"0": len(self.out[0]) + len(self.tunnel), "1": len(self.out[1])},
            "tunnel": [list(t) for t in self.tunnel],
            "local": self.local,
            "arp_suppressed": self.arp_suppressed,
            "replicas": self.replicas,
            "learned": sorted([list(x) for x in self.learned]),
            "never_learned": never,
            "frames": self.trace,
        }
        with open(os.path.join(d, "manifest.json"), "w") as f:
            json.dump(manifest, f, indent=1)


# --- underlay packets -------------------------------------------------------------------------


def address(value):
    """A MAC, IPv4 or IPv6 address as bytes."""
    if value.count(":") == 5 and "." not in value:
        return bytes.fromhex(value.replace(":", ""))
    return socket.inet_pton(socket.AF_INET6 if ":" in value else socket.AF_INET, value)


def arp_bytes(htype=1, ptype=0x0800, hlen=6, plen=4, op=1, sha=PEER_MAC, spa=R4[0], tpa=VTEP4):
    """An ARP message written field by field (RFC 826): addresses padded or cut to the
    lengths it declares, so only the lengths (or types) are wrong."""
    fit = lambda a, n: address(a).ljust(n, b"\0")[:n]
    return struct.pack("!HHBBH", htype, ptype, hlen, plen, op) + fit(sha, hlen) + fit(spa, plen) + bytes(hlen) + fit(tpa, plen)


def inner_frame(src, dst, seed, n=40):
    return bytes(
        Ether(src=src, dst=dst, type=0x0800)
        / IP(src="192.168.1.%d" % (seed % 200 + 10), dst="192.168.1.1")
        / UDP(sport=2000 + seed, dport=3000)
        / Raw(pattern(n, seed))
    )


def eth4(dst=UNDERLAY_MAC):
    return Ether(src=NEXT_HOP_MAC, dst=dst, type=0x0800)


def eth6(dst=UNDERLAY_MAC):
    return Ether(src=NEXT_HOP_MAC, dst=dst, type=0x86DD)


def vxlan_hdr(vni, flags=0x08, reserved1=b"\0\0\0", reserved2=0):
    return bytes([flags]) + reserved1 + struct.pack("!I", (vni << 8) | reserved2)


def vxlan4(inner, vni, src=R4[0], dst=VTEP4, dport=4789, **ip):
    return eth4() / IP(src=src, dst=dst, proto=17, **ip) / UDP(sport=49200, dport=dport) / Raw(vxlan_hdr(vni) + bytes(inner))


def vxlan6(inner, vni, src=R6[0], dst=VTEP6, **ip):
    return eth6() / IPv6(src=src, dst=dst, nh=17, **ip) / UDP(sport=49200, dport=4789) / Raw(vxlan_hdr(vni) + bytes(inner))


def nvgre4(inner, vsid, src=R4[1], dst=VTEP4, **ip):
    return eth4() / IP(src=src, dst=dst, proto=47, **ip) / GRE(key_present=1, proto=0x6558, key=vsid << 8 | 0x2A) / Raw(bytes(inner))


def underlay_shapes():
    """(shape, kind, vni, sending VTEP, encapsulation) for every underlay shape."""
    i1 = inner_frame(M1, L1, 1)
    i2 = inner_frame(M2, L2, 2)
    i3 = inner_frame(M3, L4, 3)
    i4 = inner_frame(M4, L4, 4)
    inner = lambda f: [("inner-ethernet", f[:14]), ("inner-payload", f[14:])]
    vx = lambda vni: ("vxlan", Raw(vxlan_hdr(vni)))
    gre = lambda vsid: ("gre", GRE(key_present=1, proto=0x6558, key=vsid << 8 | 0x2A))
    return [
        (Shape("vxlan4", [("ethernet", eth4()), ("ipv4", IP(src=R4[0], dst=VTEP4, proto=17, flags="DF")), ("udp", UDP(sport=49201, dport=4789)), vx(5000)], inner(i1)), "tunnel", 5000, R4[0], "vxlan"),
        (
            Shape(
                "vxlan4-options",
                [("ethernet", eth4()), ("ipv4", IP(src=R4[0], dst=VTEP4, proto=17, options=[IPOption_Router_Alert(), IPOption_NOP()] + [IPOption_NOP()] * 3)), ("udp", UDP(sport=49202, dport=4789)), vx(5000)],
                inner(i1),
            ),
            "tunnel",
            5000,
            R4[0],
            "vxlan",
        ),
        (
            Shape(
                "vxlan6-ext",
                [
                    ("ethernet", eth6()),
                    ("ipv6", IPv6(src=R6[0], dst=VTEP6, nh=0)),
                    ("hop-by-hop", IPv6ExtHdrHopByHop(nh=60)),
                    ("destination-options", IPv6ExtHdrDestOpt(nh=43)),
                    ("routing", IPv6ExtHdrRouting(nh=17, segleft=0)),
                    ("udp", UDP(sport=49203, dport=4789)),
                    vx(5100),
                ],
                inner(i2),
            ),
            "tunnel",
            5100,
            R6[0],
            "vxlan",
        ),
        (Shape("nvgre4", [("ethernet", eth4()), ("ipv4", IP(src=R4[1], dst=VTEP4, proto=47)), gre(7000)], inner(i3)), "tunnel", 7000, R4[1], "nvgre"),
        (Shape("nvgre6", [("ethernet", eth6()), ("ipv6", IPv6(src=R6[1], dst=VTEP6, nh=47)), gre(7000)], inner(i4)), "tunnel", 7000, R6[1], "nvgre"),
        (
            Shape("arp-request", [("ethernet", Ether(src=PEER_MAC, dst=BCAST, type=0x0806))], [("arp", bytes(ARP(hwsrc=PEER_MAC, psrc=R4[0], pdst=VTEP4)))]),
            "arp",
            None,
            None,
            None,
        ),
        (
            Shape(
                "icmp-echo",
                [("ethernet", Ether(src=PEER_MAC, dst=UNDERLAY_MAC, type=0x0800)), ("ipv4", IP(src=R4[0], dst=VTEP4, proto=1, id=0x4242)), ("icmp", ICMP(type=8, id=0x77, seq=1))],
                [("echo-data", pattern(24, 5))],
            ),
            "echo4",
            None,
            None,
            None,
        ),
        (
            Shape(
                "icmpv6-echo",
                [("ethernet", Ether(src=PEER_MAC, dst=UNDERLAY_MAC, type=0x86DD)), ("ipv6", IPv6(src=R6[0], dst=VTEP6, nh=58)), ("icmpv6", ICMPv6EchoRequest(id=0x66, seq=2))],
                [("echo-data", pattern(24, 6))],
            ),
            "echo6",
            None,
            None,
            None,
        ),
        (
            Shape(
                "neighbour-solicitation",
                [
                    ("ethernet", Ether(src=PEER_MAC, dst="33:33:ff:00:00:01", type=0x86DD)),
                    ("ipv6", IPv6(src=R6[0], dst="ff02::1:ff00:1", nh=58, hlim=255)),
                    ("icmpv6-ns", ICMPv6ND_NS(tgt=VTEP6)),
                ],
                [("option", bytes(ICMPv6NDOptSrcLLAddr(lladdr=PEER_MAC)))],
            ),
            "ns",
            None,
            None,
            None,
        ),
        (Shape("tagged", [("ethernet", Ether(src=NEXT_HOP_MAC, dst=UNDERLAY_MAC, type=0x8100)), ("802.1q", Dot1Q(vlan=5, type=0x0800)), ("ipv4", IP(src=R4[0], dst=VTEP4, proto=17))], [("rest", bytes(UDP(sport=1, dport=4789)) + vxlan_hdr(5000) + i1)]), "tagged", None, None, None),
        (
            Shape("qinq", [("ethernet", Ether(src=NEXT_HOP_MAC, dst=UNDERLAY_MAC, type=0x88A8)), ("802.1ad", Dot1AD(vlan=5, type=0x8100)), ("802.1q", Dot1Q(vlan=6, type=0x0800))], [("rest", bytes(IP(src=R4[0], dst=VTEP4, proto=17)) + i1)]),
            "tagged",
            None,
            None,
            None,
        ),
    ]


UDP_TUNNEL_HEADERS = {"udp": "udp_malformed", "vxlan": "vxlan_truncated", "gre": "gre_truncated"}
IPV6_EXTENSIONS = ("hop-by-hop", "destination-options", "routing")


def truncations_underlay(s):
    for shape, kind, vni, vtep, encap in underlay_shapes():
        labels = [l for l, _, _ in shape.segments]
        ip = "ipv4" if "ipv4" in labels else "ipv6" if "ipv6" in labels else None
        skip = ("option",) if kind == "ns" else ()  # an NS cut after its target is a valid NS
        for c in shape.cuts(skip=skip):
            cut = shape.cut_in(c)
            variants = [("raw", shape.raw(c))]
            if ip and kind != "tagged" and c >= shape.end(ip):
                variants.append(("consistent", shape.consistent(c)))
                if "udp" in labels and c >= shape.end("udp"):
                    variants.append(("ip-fixed", shape.consistent(c, upto=ip)))
            for variant, frame in variants:
                cls = "truncated/%s/%s/in-%s" % (shape.name, variant, cut)
                out, why = truncation_outcome(s, shape, kind, vni, vtep, encap, variant, cut, c, frame)
                s.add(cls, frame, out, why)


def truncation_outcome(s, shape, kind, vni, vtep, encap, variant, cut, c, frame):
    """What a cut packet must do, from which header the cut left incomplete."""
    if cut == "ethernet":
        return (lambda: s.drop("runt")), "the frame ends inside the Ethernet header"
    if kind == "tagged":
        return (lambda: s.drop("underlay_vlan")), "the underlay port is untagged: any 802.1Q/802.1ad ethertype is refused"
    if kind == "arp":
        return (lambda: s.drop("arp_malformed")), "ARP (RFC 826) shorter than its 28 bytes for Ethernet/IPv4"
    if cut in ("ipv4", "ipv6"):
        return (lambda: s.drop("ip_malformed")), "the outer IP header itself is incomplete"
    if variant == "raw":
        return (lambda: s.drop("ip_malformed")), "the outer IP length claims more bytes than the frame holds (RFC 791 / RFC 8200)"
    if variant == "ip-fixed":
        return (lambda: s.drop("udp_malformed")), "UDP length larger than the IP payload (RFC 768)"
    if cut in IPV6_EXTENSIONS:
        return (lambda: s.drop("ipv6_extension_header")), "an IPv6 extension header runs past the payload length"
    if cut in UDP_TUNNEL_HEADERS:
        return (lambda: s.drop(UDP_TUNNEL_HEADERS[cut])), "the %s header is incomplete" % cut
    if cut in ("icmp", "icmpv6", "icmpv6-ns"):
        return (lambda: s.drop("icmp_malformed")), "ICMP message shorter than its fixed part (echo: 8 bytes, NS: 24)"
    if cut == "echo-data":
        if kind == "echo4":
            return (lambda: s.answer_echo4(frame)), "a shorter echo request (checksum rebuilt) is still answered"
        return (lambda: s.answer_echo6(frame)), "a shorter echo request (checksum rebuilt) is still answered"
    if cut == "inner-ethernet":
        return (lambda: s.drop("inner_truncated")), "the inner frame ends inside its Ethernet header"
    if cut == "inner-payload":
        inner = frame[shape.start("inner-ethernet") :]
        return (lambda: s.decap(vni, vtep, inner, encap)), "a whole inner Ethernet header: bridged as it is (RFC 7348 4.1)"
    raise AssertionError((shape.name, variant, cut))


def specials_underlay(s):
    i1 = inner_frame(M1, L1, 11)
    v = lambda: vxlan4(i1, 5000)
    eth = eth4()
    good_ip = lambda **kw: IP(src=R4[0], dst=VTEP4, proto=17, **kw)
    udp_vx = UDP(sport=49300, dport=4789) / Raw(vxlan_hdr(5000) + i1)

    def patched(frame, at, value):
        f = bytearray(bytes(frame))
        f[at : at + len(value)] = value
        return bytes(f)

    def fix_ipv4_checksum(frame):
        f = bytearray(frame)
        ihl = (f[14] & 0xF) * 4
        f[24:26] = b"\0\0"
        h = bytes(f[14 : 14 + max(ihl, 20)])
        total = sum(struct.unpack("!%dH" % (len(h) // 2), h))
        while total >> 16:
            total = (total & 0xFFFF) + (total >> 16)
        f[24:26] = struct.pack("!H", ~total & 0xFFFF)
        return bytes(f)

    fwd = lambda inner=i1, vni=5000, vtep=R4[0], encap="vxlan": (lambda: s.decap(vni, vtep, inner, encap))
    drop = lambda r: (lambda: s.drop(r))

    # Runts and short frames.
    for n in (0, 1, 7, 13):
        s.add("runt/%d-bytes" % n, bytes(v())[:n], drop("runt"), "shorter than an Ethernet header")
    arp = bytes(Ether(src=PEER_MAC, dst=BCAST) / ARP(hwsrc=PEER_MAC, psrc=R4[0], pdst=VTEP4))
    s.add("short-valid/arp-request-42-bytes", arp, lambda: s.answer_arp(arp), "unpadded (42 < 60 bytes) but whole: answered")
    arp60 = arp.ljust(60, b"\0")
    s.add("short-valid/arp-request-padded", arp60, lambda: s.answer_arp(arp60), "padding after ARP is ignored and kept")
    ping = bytes(Ether(src=PEER_MAC, dst=UNDERLAY_MAC) / IP(src=R4[0], dst=VTEP4, id=7) / ICMP(type=8, id=1, seq=1))
    s.add("short-valid/echo-42-bytes", ping, lambda: s.answer_echo4(ping), "an echo request without data (42 bytes): answered")
    # Jumbo frames: the buffers hold MTU + 22 bytes.
    big = inner_frame(M1, L1, 12, n=MTU - 50 - 42 + 14)  # outer IP packet exactly the MTU
    assert len(bytes(vxlan4(big, 5000))) == MTU + 14
    s.add("jumbo/fits-mtu", vxlan4(big, 5000), fwd(big), "a 9014-byte frame: within the MTU and the buffer")
    for n in (RX_FRAME_MAX + 1, 9600, 16000):
        huge = inner_frame(M1, L1, 13, n=n - 50 - 42)
        frame = bytes(vxlan4(huge, 5000))
        assert len(frame) == n
        s.add("jumbo/longer-than-buffer", frame, drop("frame_too_long"), "longer than a receive buffer (MTU + 22)")

    # Ethernet types.
    s.add("ethertype/lldp", Ether(src=NEXT_HOP_MAC, dst="01:80:c2:00:00:0e", type=0x88CC) / Raw(pattern(40)), drop("non_ip"), "not IP or ARP")
    s.add("ethertype/mpls", Ether(src=NEXT_HOP_MAC, dst=UNDERLAY_MAC, type=0x8847) / Raw(pattern(40)), drop("non_ip"), "not IP or ARP")
    s.add("ethertype/802.3-length", Ether(src=NEXT_HOP_MAC, dst=UNDERLAY_MAC, type=46) / Raw(pattern(46)), drop("non_ip"), "an 802.3 length field, not an ethertype")

    # IPv4 header.
    for ihl in (0, 1, 4):
        s.add("ipv4/ihl-below-5", fix_ipv4_checksum(patched(v(), 14, bytes([0x40 | ihl]))), drop("ip_malformed"), "IHL < 5 (RFC 791)")
    s.add("ipv4/ihl-beyond-total-length", fix_ipv4_checksum(patched(bytes(eth / good_ip(len=20) / udp_vx), 14, b"\x46")), drop("ip_malformed"), "header length larger than the total length")
    s.add("ipv4/total-length-below-header", eth / good_ip(len=19) / udp_vx, drop("ip_malformed"), "total length < 20")
    for opts in ([IPOption_NOP()] * 4, [IPOption_Router_Alert()], [IPOption_NOP()] * 36 + [IPOption_Router_Alert()]):
        s.add("ipv4/options", eth / good_ip(options=opts) / udp_vx, fwd(), "options are legal (RFC 791): skipped by the header length")
    full = len(bytes(v())) - 14
    for total in (full + 1, full + 100, 65535):
        s.add("ipv4/total-length-beyond-frame", eth / good_ip(len=total) / udp_vx, drop("ip_malformed"), "total length larger than what arrived")
    for short in (1, 10):
        s.add("ipv4/total-length-short-of-udp", eth / good_ip(len=full - short) / udp_vx, drop("udp_malformed"), "the UDP datagram no longer fits the IP payload")
    for trailer in (4, 22):
        s.add("ipv4/ethernet-trailer", bytes(v()) + pattern(trailer, 3), fwd(), "bytes after the IP total length are link padding, ignored")
    for version in (5, 6, 0):
        s.add("ipv4/bad-version", fix_ipv4_checksum(patched(v(), 14, bytes([version << 4 | 5]))), drop("ip_malformed"), "version is not 4")
    s.add("ipv4/bad-header-checksum", patched(v(), 24, bytes([bytes(v())[24] ^ 0xFF])), drop("ip_malformed"), "RFC 1122 3.2.1.2: discard")

    # IPv6 header.
    i2 = inner_frame(M2, L2, 14)
    v6 = lambda **kw: eth6() / IPv6(src=R6[0], dst=VTEP6, nh=17, **kw) / UDP(sport=49301, dport=4789) / Raw(vxlan_hdr(5100) + i2)
    fwd6 = fwd(i2, 5100, R6[0])
    plen = len(bytes(v6())) - 54
    for p in (plen + 1, plen + 200, 65535):
        s.add("ipv6/payload-length-beyond-frame", v6(plen=p), drop("ip_malformed"), "payload length larger than what arrived")
    for short in (1, 9):
        s.add("ipv6/payload-length-short-of-udp", v6(plen=plen - short), drop("udp_malformed"), "the UDP datagram no longer fits the payload")
    s.add("ipv6/ethernet-trailer", bytes(v6()) + pattern(6, 4), fwd6, "bytes after the payload length are link padding, ignored")
    s.add("ipv6/bad-version", patched(v6(), 14, b"\x40"), drop("ip_malformed"), "version is not 6")
    s.add("ipv6/hop-by-hop-and-routing", eth6() / IPv6(src=R6[0], dst=VTEP6) / IPv6ExtHdrHopByHop() / IPv6ExtHdrRouting(segleft=0) / UDP(sport=49302, dport=4789) / Raw(vxlan_hdr(5100) + i2), fwd6, "extension headers are walked (routing: segments left 0)")
    s.add("ipv6/routing-segments-left", eth6() / IPv6(src=R6[0], dst=VTEP6) / IPv6ExtHdrRouting(segleft=1, addresses=["fd00::99"]) / UDP(sport=49303, dport=4789) / Raw(vxlan_hdr(5100) + i2), drop("ipv6_extension_header"), "RFC 8200 4.4: segments left, so we are not the final destination")
    five = IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt()
    s.add("ipv6/more-than-4-extension-headers", eth6() / IPv6(src=R6[0], dst=VTEP6) / five / UDP(dport=4789) / Raw(vxlan_hdr(5100) + i2), drop("ipv6_extension_header"), "vtepd walks at most 4 extension headers (documented limit)")
    s.add("ipv6/no-next-header", eth6() / IPv6(src=R6[0], dst=VTEP6, nh=59) / Raw(pattern(16)), drop("unsupported_protocol"), "nothing the VTEP serves")

    # Outer fragments.
    s.add("fragment/ipv4-more-fragments", vxlan4(i1, 5000, flags="MF"), drop("ip_fragment"), "VTEPs never reassemble")
    s.add("fragment/ipv4-offset", vxlan4(i1, 5000, frag=185), drop("ip_fragment"), "VTEPs never reassemble")
    s.add("fragment/ipv4-last", vxlan4(i1, 5000, frag=1, flags=0), drop("ip_fragment"), "VTEPs never reassemble")
    s.add("fragment/ipv4-dont-fragment", vxlan4(i1, 5000, flags="DF"), fwd(), "DF alone is not a fragment")
    frag6 = lambda **kw: eth6() / IPv6(src=R6[0], dst=VTEP6) / IPv6ExtHdrFragment(nh=17, id=9, **kw) / UDP(sport=49303, dport=4789) / Raw(vxlan_hdr(5100) + i2)
    s.add("fragment/ipv6-first", frag6(m=1), drop("ip_fragment"), "VTEPs never reassemble")
    s.add("fragment/ipv6-last", frag6(offset=100), drop("ip_fragment"), "VTEPs never reassemble")
    s.add("fragment/ipv6-atomic", frag6(), fwd6, "RFC 6946: an atomic fragment (offset 0, M clear) is a whole packet")

    # TTL / hop limit.
    s.add("ttl/ipv4-zero", vxlan4(i1, 5000, ttl=0), drop("ip_ttl_zero"), "TTL 0 must not be accepted")
    s.add("ttl/ipv6-hop-limit-zero", v6(hlim=0), drop("ip_ttl_zero"), "hop limit 0 must not be accepted")
    s.add("ttl/one", vxlan4(i1, 5000, ttl=1), fwd(), "TTL 1 reaches its destination (us)")

    # UDP.
    udp_len = 8 + 8 + len(i1)
    udp_pkt = lambda **kw: eth / good_ip() / UDP(sport=49304, dport=4789, **kw) / Raw(vxlan_hdr(5000) + i1)
    for n in (udp_len + 1, udp_len + 300):
        s.add("udp/length-beyond-ip-payload", udp_pkt(len=n), drop("udp_malformed"), "UDP length larger than the IP payload")
    for n in (0, 4, 7):
        s.add("udp/length-below-header", udp_pkt(len=n), drop("udp_malformed"), "UDP length < 8 (RFC 768)")
    s.add("udp/length-short-of-ip-payload", udp_pkt(len=udp_len - 10), fwd(i1[:-10]), "the datagram ends at its UDP length: the inner frame is shorter")
    s.add("udp/length-leaves-no-inner-frame", udp_pkt(len=16 + 13), drop("inner_truncated"), "the UDP length leaves 13 bytes of inner frame")
    s.add("udp/checksum-zero", udp_pkt(chksum=0), fwd(), "RFC 7348 5: a zero UDP checksum MUST be accepted")
    s.add("udp/other-port", vxlan4(i1, 5000, dport=4790), drop("udp_port_closed"), "UDP to us on a port other than VXLAN's")
    s.add("udp/linux-vxlan-port", vxlan4(i1, 5000, dport=8472), drop("udp_port_closed"), "UDP to us on a port other than VXLAN's")

    # VXLAN header.
    vxr = lambda hdr, inner=i1: eth / good_ip() / UDP(sport=49305, dport=4789) / Raw(hdr + inner)
    s.add("vxlan/i-flag-clear", vxr(vxlan_hdr(5000, flags=0)), drop("vxlan_no_vni"), "RFC 7348 5: the I flag MUST be set")
    s.add("vxlan/i-flag-clear-others-set", vxr(vxlan_hdr(5000, flags=0xF7)), drop("vxlan_no_vni"), "RFC 7348 5: the I flag MUST be set")
    s.add("vxlan/reserved-bits-set", vxr(vxlan_hdr(5000, flags=0xFF, reserved1=b"\xab\xcd\xef", reserved2=0x5A)), fwd(), "RFC 7348 5: reserved bits MUST be ignored on receipt")
    s.add("vxlan/reserved-fields-set", vxr(vxlan_hdr(5000, reserved1=b"\x00\x00\x01", reserved2=0xFF)), fwd(), "RFC 7348 5: reserved fields MUST be ignored on receipt")
    s.add("vxlan/gbp-flags", vxr(vxlan_hdr(5000, flags=0x88, reserved1=b"\x00\x12\x34")), fwd(), "group-policy bits are reserved here: ignored")
    s.add("vxlan/vni-0", vxlan4(inner_frame(M1, L1, 15), 0), drop("unknown_vni"), "VNI 0 is not configured (not configurable)")
    for vni in (4242, 16777215):
        s.add("vxlan/unknown-vni", vxlan4(inner_frame(M1, L1, 16), vni), drop("unknown_vni"), "not configured here")
    s.add("vxlan/nvgre-vni", vxlan4(inner_frame(M1, L1, 17), 7000), drop("encap_mismatch"), "VNI 7000 is NVGRE")

    # GRE.
    i3 = inner_frame(M3, L4, 18)
    gre_ip = IP(src=R4[1], dst=VTEP4, proto=47)
    g = lambda hdr, inner=i3: eth / gre_ip / Raw(hdr + inner)
    key = struct.pack("!I", 7000 << 8 | 0x2A)
    s.add("gre/checksum-present", eth / gre_ip / GRE(chksum_present=1, key_present=1, proto=0x6558, key=7000 << 8) / Raw(i3), drop("gre_checksum_or_sequence"), "RFC 7637 3.2: C MUST be 0")
    s.add("gre/sequence-present", eth / gre_ip / GRE(seqnum_present=1, key_present=1, proto=0x6558, key=7000 << 8, sequence_number=5) / Raw(i3), drop("gre_checksum_or_sequence"), "RFC 7637 3.2: S MUST be 0")
    s.add("gre/no-key", g(b"\x00\x00\x65\x58", i3), drop("gre_no_key"), "RFC 7637 3.2: K MUST be 1 (no VSID)")
    for version in (1, 7):
        s.add("gre/version", g(struct.pack("!HH", 0x2000 | version, 0x6558) + key), drop("gre_bad_version"), "RFC 2784: version MUST be 0")
    for proto in (0x0800, 0x86DD, 0x88BE):
        s.add("gre/protocol", g(struct.pack("!HH", 0x2000, proto) + key), drop("gre_not_ethernet"), "RFC 7637: protocol 0x6558 (Ethernet)")
    for bits in (0x4000, 0x0800, 0x0400):
        s.add("gre/rfc1701-bits", g(struct.pack("!HH", 0x2000 | bits, 0x6558) + key), drop("gre_rfc1701"), "RFC 2784 2.3: bits 1-5 set, not RFC 1701: discard")
    s.add("gre/reserved0-bits-6-12", g(struct.pack("!HH", 0x2000 | 0x03F8, 0x6558) + key), fwd(i3, 7000, R4[1], "nvgre"), "RFC 2784 2.3: bits 6-12 MUST be ignored on receipt")
    s.add("gre/unknown-vsid", g(struct.pack("!HHI", 0x2000, 0x6558, 4242 << 8)), drop("unknown_vni"), "not configured here")
    s.add("gre/vxlan-vni", g(struct.pack("!HHI", 0x2000, 0x6558, 5000 << 8)), drop("encap_mismatch"), "VNI 5000 is VXLAN")

    # The inner frame.
    s.add("inner/empty", vxlan4(b"", 5000), drop("inner_truncated"), "no inner Ethernet header")
    s.add("inner/13-bytes", nvgre4(i3[:13], 7000), drop("inner_truncated"), "no inner Ethernet header")
    s.add("inner/802.1q", vxlan4(Ether(src=M1, dst=L1) / Dot1Q(vlan=100) / IP() / UDP(), 5000), drop("inner_vlan"), "RFC 7348 6.1: tagged inner frames are discarded")
    s.add("inner/802.1ad", vxlan4(Ether(src=M1, dst=L1, type=0x88A8) / Dot1AD(vlan=100) / IP() / UDP(), 5000), drop("inner_vlan"), "RFC 7348 6.1: tagged inner frames are discarded")
    for bad in BAD_SOURCES:
        s.add("inner/group-or-zero-source-mac", vxlan4(Ether(src=bad, dst=L1) / IP() / UDP() / Raw(pattern(20)), 5000), drop("bad_source_mac"), "a group or zero source is invalid; never learned")
    s.add("inner/broadcast", vxlan4(inner_frame(M1, BCAST, 19), 5000), fwd(inner_frame(M1, BCAST, 19)), "flooded to the VNI's access members (one here)")
    s.add("inner/to-a-remote-station", vxlan4(inner_frame(M1, M9, 20), 5000), fwd(inner_frame(M1, M9, 20)), "split horizon: never back into the underlay")
    s.add("inner/minimum", vxlan4(inner_frame(M1, L1, 21)[:14], 5000), fwd(inner_frame(M1, L1, 21)[:14]), "an Ethernet header alone is a frame to bridge")

    # Addresses and protocols.
    s.add("ip/not-local", vxlan4(i1, 5000, dst="10.0.0.99"), drop("not_local"), "not one of our addresses")
    s.add("ip/not-local", vxlan6(i2, 5100, dst="fd00::99"), drop("not_local"), "not one of our addresses")
    s.add("ip/not-local", vxlan4(i1, 5000, dst="239.9.9.9"), drop("not_local"), "a group we did not join")
    s.add("ip/tcp", eth / IP(src=R4[0], dst=VTEP4) / TCP(dport=4789) / Raw(pattern(20)), drop("unsupported_protocol"), "not UDP, GRE or ICMP")
    s.add("ip/sctp", eth / IP(src=R4[0], dst=VTEP4, proto=132) / Raw(pattern(20)), drop("unsupported_protocol"), "not UDP, GRE or ICMP")
    s.add("icmp/timestamp", eth / IP(src=R4[0], dst=VTEP4) / ICMP(type=13), drop("icmp_unsupported"), "only echo is answered")
    s.add("vtep/not-allowed", vxlan4(inner_frame(M5, L3, 22), 5300, src=R4[1]), drop("vtep_not_allowed"), "10.0.0.3 is not in VNI 5300's allowed_vteps")
    s.add("vtep/allowed", vxlan4(inner_frame(M5, L3, 23), 5300), fwd(inner_frame(M5, L3, 23), 5300, R4[0]), "10.0.0.2 is allowed into VNI 5300")

    # ARP.
    arp_req = lambda **kw: Ether(src=PEER_MAC, dst=BCAST, type=0x0806) / ARP(**{"hwsrc": PEER_MAC, "psrc": R4[0], "pdst": VTEP4, **kw})
    arp_eth = Ether(src=PEER_MAC, dst=BCAST, type=0x0806)
    s.add("arp/hardware-length-8", arp_eth / Raw(arp_bytes(hlen=8)), drop("arp_malformed"), "not Ethernet/IPv4 ARP (hardware length 8)")
    s.add("arp/protocol-length-16", arp_eth / Raw(arp_bytes(ptype=0x86DD, plen=16, spa=R6[0], tpa=VTEP6)), drop("arp_malformed"), "not Ethernet/IPv4 ARP (IPv6, length 16)")
    s.add("arp/protocol-length-6", arp_eth / Raw(arp_bytes(plen=6)), drop("arp_malformed"), "not Ethernet/IPv4 ARP (IPv4 with length 6)")
    s.add("arp/hardware-type-6", arp_eth / Raw(arp_bytes(htype=6)), drop("arp_malformed"), "not Ethernet/IPv4 ARP (IEEE 802 hardware)")
    s.add("arp/not-for-us", arp_req(pdst="10.0.0.50"), drop("arp_not_for_us"), "another host's address")
    s.add("arp/reply-to-us", Ether(src=PEER_MAC, dst=UNDERLAY_MAC) / ARP(op=2, hwsrc=PEER_MAC, psrc=R4[0], hwdst=UNDERLAY_MAC, pdst=VTEP4), s.absorbed, "an answer for us: absorbed")
    s.add("arp/gratuitous", arp_req(psrc=R4[2], pdst=R4[2]), s.absorbed, "an announcement: absorbed")


# --- access packets ---------------------------------------------------------------------------


def access_shapes():
    def body(src_ip="192.168.1.1", dst_ip="192.168.1.2", n=30, seed=1):
        ip = bytes(IP(src=src_ip, dst=dst_ip, proto=17, len=20 + 8 + n))
        return [("ipv4", ip[:20]), ("udp", bytes(UDP(sport=4000 + seed, dport=9, len=8 + n))), ("payload", pattern(n, seed))]

    ip6 = bytes(IPv6(src="fd10::1", dst="fd10::2", nh=17, plen=8 + 30))
    arp = lambda src, psrc, pdst: bytes(ARP(hwsrc=src, psrc=psrc, pdst=pdst))
    tagged = lambda src, dst, vlan, ethertype: [("ethernet", Ether(src=src, dst=dst, type=0x8100)), ("802.1q", Dot1Q(vlan=vlan, type=ethertype))]
    return [
        Shape("untagged", [("ethernet", Ether(src=H1, dst=M1, type=0x0800))], body(seed=1)),
        Shape("tagged-vxlan4", tagged(H1, M1, 100, 0x0800), body(seed=2)),
        Shape("tagged-vxlan6", tagged(H2, M2, 110, 0x86DD), [("ipv6", ip6), ("udp", bytes(UDP(sport=4003, dport=9, len=38))), ("payload", pattern(30, 3))]),
        Shape("tagged-nvgre", tagged(H3, M3, 200, 0x0800), body(seed=4)),
        Shape("broadcast-arp", tagged(H1, BCAST, 100, 0x0806), [("arp", arp(H1, "192.168.1.1", "192.168.1.99"))]),
        Shape("suppressed-arp", tagged(H2, BCAST, 110, 0x0806), [("arp", arp(H2, "192.168.2.1", "192.168.2.10"))]),
        Shape("qinq", [("ethernet", Ether(src=H1, dst=M1, type=0x88A8)), ("802.1ad", Dot1AD(vlan=100, type=0x8100)), ("802.1q", Dot1Q(vlan=5, type=0x0800))], body(seed=5)),
        Shape("double-802.1q", tagged(H1, M1, 100, 0x8100) + [("inner-802.1q", Dot1Q(vlan=5, type=0x0800))], body(seed=6)),
    ]


def truncations_access(s):
    for shape in access_shapes():
        for c in shape.cuts():
            frame = shape.raw(c)
            cut = shape.cut_in(c)
            if cut == "ethernet":
                why = "the frame ends inside the Ethernet header"
            elif cut == "802.1q" and shape.start("802.1q") == 14:
                why = "the MAC header ends inside the 802.1Q tag"
            elif shape.name in ("qinq", "double-802.1q"):
                why = "a second tag (802.1ad, or 802.1Q in 802.1Q): QinQ is not supported"
            elif shape.name == "suppressed-arp":
                why = "VNI 5100 suppresses ARP, so it parses it: shorter than 28 bytes"
            else:
                why = "a bridge forwards any frame with a whole MAC header"
            s.add("truncated/%s/in-%s" % (shape.name, cut), frame, lambda f=frame: s.bridge(f), why)


def specials_access(s):
    frame = lambda src, dst, vlan=None, n=30, seed=0, ip="192.168.1.1": bytes(
        (Ether(src=src, dst=dst) / Dot1Q(vlan=vlan) if vlan is not None else Ether(src=src, dst=dst))
        / IP(src=ip, dst="192.168.1.2")
        / UDP(sport=5000 + seed, dport=9)
        / Raw(pattern(n, seed))
    )
    add = lambda cls, f, why: s.add(cls, f, lambda f=bytes(f): s.bridge(f), why)

    for n in (0, 1, 7, 13):
        add("runt/%d-bytes" % n, frame(H1, M1, 100)[:n], "shorter than an Ethernet header")
    add("short-valid/ethernet-header-only", bytes(Ether(src=H1, dst=M1, type=0x0800)), "14 bytes: a MAC header is all a bridge needs")
    add("short-valid/46-bytes", frame(H1, M1, 100, n=0), "unpadded (< 60 bytes): forwarded as it is")
    add("short-valid/suppressed-arp-46-bytes", Ether(src=H2, dst=BCAST) / Dot1Q(vlan=110) / ARP(hwsrc=H2, psrc="192.168.2.1", pdst="192.168.2.10"), "an ARP request for a bound address: answered from the binding")
    # Jumbo frames: the access port's MTU is 9000, the underlay's 9000.
    add("jumbo/fits", frame(H1, M1, 100, n=8950 - 46), "encapsulated: outer IP 8982 <= 9000")
    add("jumbo/over-underlay-mtu", frame(H1, M1, 100, n=9000 - 46), "UDP: not segmentable; a VTEP never fragments (RFC 7348 4.3)")
    add("jumbo/buffer-exactly", frame(H1, M1, 100, n=RX_FRAME_MAX - 46), "fits the receive buffer, not the port's MTU")
    for n in (RX_FRAME_MAX + 1, 16000):
        add("jumbo/longer-than-buffer", frame(H1, M1, 100, n=n - 46), "longer than a receive buffer (MTU + 22)")
    # Group and zero source MACs.
    for bad in BAD_SOURCES:
        add("source-mac/group-or-zero", frame(bad, M1, 100), "a group or zero source is invalid; never learned")
    add("source-mac/group-untagged", frame(BAD_SOURCES[0], M1), "a group source is invalid; never learned")
    # VLANs.
    for vlan in (999, 4095):
        add("vlan/unmapped", frame(H1, M1, vlan), "no VNI for this VLAN on the port")
    add("vlan/priority-tag", Ether(src=H1, dst=M1) / Dot1Q(vlan=0, prio=5) / IP() / UDP() / Raw(pattern(20)), "VID 0: the native VLAN (IEEE 802.1Q 6.9.1)")
    # Destinations.
    add("destination/same-port", frame(H1, L1, 100), "the destination sits behind the port it came in on")
    add("destination/broadcast", frame(H1, BCAST, 100), "flooded to 10.0.0.2 and 10.0.0.3")
    add("destination/multicast", frame(H1, "01:00:5e:01:02:03", 100), "flooded to 10.0.0.2 and 10.0.0.3")
    add("destination/nvgre-broadcast", frame(H3, BCAST, 200), "flooded to 10.0.0.4")
    add("destination/nowhere-to-flood", frame(H4, BCAST, 120), "VNI 5200 has no flood list and no other port")
    add("destination/unknown-nowhere-to-flood", frame(H4, "02:00:00:00:09:99", 120), "VNI 5200 has no flood list and no other port")
    # ARP with wrong lengths: parsed where ARP is suppressed (VNI 5100), bridged elsewhere.
    bad_arps = [
        arp_bytes(hlen=8, sha=H2, spa="192.168.2.1", tpa="192.168.2.10"),
        arp_bytes(ptype=0x86DD, plen=16, sha=H2, spa="fd10::1", tpa="fd10::10"),
        arp_bytes(htype=6, sha=H2, spa="192.168.2.1", tpa="192.168.2.10"),
        arp_bytes(plen=6, sha=H2, spa="192.168.2.1", tpa="192.168.2.10"),
    ]
    for a in bad_arps:
        add("arp/wrong-lengths-suppressed", Ether(src=H2, dst=BCAST) / Dot1Q(vlan=110, type=0x0806) / Raw(a), "VNI 5100 parses ARP: not Ethernet/IPv4")
    add("arp/wrong-lengths-bridged", Ether(src=H1, dst=BCAST) / Dot1Q(vlan=100, type=0x0806) / Raw(bad_arps[0]), "VNI 5000 does not look into ARP: flooded")


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("underlay", "access"):
        sys.exit("usage: malformed.py {underlay,access} DIR")
    role, d = sys.argv[1], sys.argv[2]
    s = Suite(role)
    s.good()
    if role == "underlay":
        truncations_underlay(s)
        specials_underlay(s)
    else:
        truncations_access(s)
        specials_access(s)
    s.write(d)


if __name__ == "__main__":
    main()
