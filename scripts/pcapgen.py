#!/usr/bin/python3
"""Sample and benchmark traffic for vtepd, crafted with scapy (an independent implementation
of the wire formats, so vtepd is never checked against its own encoder).

    scripts/pcapgen.py xconnect --out in.pcap [--count N]
    scripts/pcapgen.py demo --access access-in.pcap --underlay underlay-in.pcap
    scripts/pcapgen.py bench --dir DIR [--sizes 64,512,1500] [--packets N] [--queues 1,3]
"""

import argparse
import struct
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


# --- bench: load-test traffic and gateway configurations for scripts/bench.sh -------------
#
# Sizes: S is the tenant frame as it appears on the access port (802.1Q-tagged, FCS not
# included, as DPDK counts bytes). The tunnels carry it untagged: S - 4 bytes of inner
# Ethernet, plus 50 bytes of outer Ethernet/IPv4/UDP/VXLAN or 42 of Ethernet/IPv4/GRE(key).
#
# Every packet is one of a few header stacks scapy builds once per (VNI, remote VTEP, size);
# per packet only fields that change no length are patched (MACs, addresses with the inner
# IPv4 checksum, UDP ports, outer entropy), so 100k packets take seconds, not minutes. A
# sample of every file is dissected with scapy again and checked.
#
# Port names the configurations use (scripts/bench.sh creates the vdevs in this order):
#   decap:  underlay net_pcap0 (replays the tunnel traffic), access net_null0 (sink)
#   encap:  access net_pcap0 (replays tenant frames), underlay net_null0 (sink)
#   mixed:  underlay net_pcap0 and access net_pcap1, each replaying and writing to /dev/null

BENCH_LOCAL_VTEP = "10.0.0.1"
BENCH_NEXT_HOP_MAC = "02:00:00:00:00:fe"
BENCH_UNDERLAY_MTU = 1600
BENCH_VXLAN_VNI0 = 5001
BENCH_NVGRE_VSID0 = 6001
BENCH_VXLAN_VLAN0 = 101
BENCH_NVGRE_VLAN0 = 201
BENCH_VXLAN_OVERHEAD = 50  # outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8
BENCH_NVGRE_OVERHEAD = 42  # outer Ethernet 14 + IPv4 20 + GRE with key 8
BENCH_SCENARIOS = ("vxlan-decap", "vxlan-routed", "vxlan-routed-policy", "vxlan-routed-acl", "vxlan-encap",
                   "nvgre-decap", "nvgre-encap", "mixed", "xconnect")
# The policy scenarios: BENCH_POLICY_RULES rules, the last (lowest priority) of which allows
# the routed traffic (UDP to 5000-5063); the others name the same hosts and segments on other
# protocols and ports, so the classifier holds them all and the traffic matches only the last.
BENCH_POLICY_RULES = 1000
BENCH_POLICY_PREFIX_GROUPS = 100
# The routed scenario's anycast gateway: every inner frame is sent to it.
BENCH_GATEWAY_MAC = "02:76:74:70:00:01"


def _ip4_checksum(header):
    total = 0
    for k in range(0, len(header), 2):
        total += (header[k] << 8) | header[k + 1]
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


class BenchPlan:
    """The tenants: per encapsulation `vnis` segments, each with `macs` hosts behind the access
    port (local) and `macs` behind the remote VTEPs (remote host r of VNI i sits behind VTEP
    (r + i) % vteps)."""

    def __init__(self, vnis, vteps, macs):
        self.vnis, self.vteps, self.macs = vnis, vteps, macs

    def vni(self, encap, i):
        return (BENCH_VXLAN_VNI0 if encap == "vxlan" else BENCH_NVGRE_VSID0) + i

    def vlan(self, encap, i):
        return (BENCH_VXLAN_VLAN0 if encap == "vxlan" else BENCH_NVGRE_VLAN0) + i

    @staticmethod
    def _index(encap, i):
        # One byte per segment in the MACs and addresses: VXLAN segments 0.., NVGRE 64..
        return i if encap == "vxlan" else 64 + i

    def local_mac(self, encap, i, h):
        return bytes((0x02, 0x10, self._index(encap, i), 0, h >> 8, h & 0xFF))

    def remote_mac(self, encap, i, h):
        return bytes((0x02, 0x20, self._index(encap, i), 0, h >> 8, h & 0xFF))

    def local_ip(self, encap, i, h):
        return bytes((10, 2 * self._index(encap, i), h >> 8, h & 0xFF))

    def remote_ip(self, encap, i, h):
        return bytes((10, 2 * self._index(encap, i) + 1, h >> 8, h & 0xFF))

    def vtep_of(self, i, r):
        return (r + i) % self.vteps

    @staticmethod
    def vtep_ip(t):
        return "10.0.0.%d" % (11 + t)

    def flows(self, count, rng):
        """`count` flows (segment, local host, remote host, sport, dport), covering every host
        of every segment on both sides at least once when count >= vnis * macs, shuffled."""
        out = []
        for n in range(count):
            i = n % self.vnis
            k = n // self.vnis
            local = k % self.macs
            # A bijection local -> remote per round, shifted every round: all remotes appear.
            remote = (local * 37 + (k // self.macs) * 11) % self.macs
            out.append((i, local, remote, 1024 + rng.randrange(64512), 5000 + rng.randrange(64)))
        rng.shuffle(out)
        return out


def _mac_str(b):
    return ":".join("%02x" % x for x in b)


def _ip_str(b):
    return ".".join(str(x) for x in b)


class BenchBuilder:
    """Builds and patches the frames of one size. Kinds: "decap" (a tunnel packet from the
    remote host's VTEP to a local host), "routed" (the same, but to the anycast gateway MAC for
    the local host of the next segment, which the gateway routes to), "encap" (the tagged
    tenant frame from a local host to a remote one), "plain" (the same frame untagged, for an
    access port's untagged_vni)."""

    def __init__(self, plan, size, underlay_mac=UNDERLAY_MAC):
        self.plan, self.size, self.underlay_mac = plan, size, underlay_mac
        self.templates = {}

    def _tenant(self, encap, i, kind):
        """The tenant frame of the plan's first hosts: `size` bytes tagged, size-4 untagged."""
        p = self.plan
        if kind == "decap":
            src, dst = p.remote_mac(encap, i, 0), p.local_mac(encap, i, 0)
            sip, dip = p.remote_ip(encap, i, 0), p.local_ip(encap, i, 0)
        else:
            src, dst = p.local_mac(encap, i, 0), p.remote_mac(encap, i, 0)
            sip, dip = p.local_ip(encap, i, 0), p.remote_ip(encap, i, 0)
        eth = Ether(src=_mac_str(src), dst=_mac_str(dst))
        if kind == "encap":
            eth = eth / Dot1Q(vlan=p.vlan(encap, i))
        head = eth / IP(src=_ip_str(sip), dst=_ip_str(dip), ttl=64, id=0) / UDP(sport=1024, dport=5000, chksum=0)
        length = self.size if kind == "encap" else self.size - 4
        pad = length - len(head)
        if pad < 0:
            raise ValueError("size %d is too small for Ethernet/802.1Q/IPv4/UDP" % self.size)
        return head / Raw(bytes(k & 0xFF for k in range(pad)))

    def template(self, kind, encap, i, t):
        key = (kind, encap, i, t)
        if key not in self.templates:
            p = self.plan
            if kind in ("decap", "routed"):
                outer = Ether(src=BENCH_NEXT_HOP_MAC, dst=self.underlay_mac) / IP(
                    src=p.vtep_ip(t), dst=BENCH_LOCAL_VTEP, ttl=64, id=0)
                if encap == "vxlan":
                    outer = outer / UDP(sport=49152, dport=4789, chksum=0) / VXLAN(vni=p.vni(encap, i))
                else:
                    outer = outer / GRE(key_present=1, proto=0x6558, key=p.vni(encap, i) << 8)
                pkt = outer / self._tenant(encap, i, "decap")
            else:
                pkt = self._tenant(encap, i, kind)
            self.templates[key] = bytes(pkt)
        return self.templates[key]

    def frame(self, kind, encap, flow):
        """One frame of `flow`; only fields that change no length are patched."""
        p = self.plan
        i, local, remote, sport, dport = flow
        t = p.vtep_of(i, remote)
        b = bytearray(self.template(kind, encap, i, t))
        if kind in ("decap", "routed"):
            eth = 14 + 20 + (16 if encap == "vxlan" else 8)
            ip = eth + 14
            src_mac, dst_mac = p.remote_mac(encap, i, remote), p.local_mac(encap, i, local)
            src_ip, dst_ip = p.remote_ip(encap, i, remote), p.local_ip(encap, i, local)
            if kind == "routed":
                dst_mac = bytes(int(x, 16) for x in BENCH_GATEWAY_MAC.split(":"))
                dst_ip = p.local_ip(encap, (i + 1) % p.vnis, local)
            entropy = (sport * 31 + dport + local * 7 + remote) & 0xFFFF
            if encap == "vxlan":
                struct.pack_into("!H", b, 34, 49152 + (entropy & 0x3FFF))  # outer UDP source
            else:
                b[41] = entropy & 0xFF  # the NVGRE FlowID: the key's low byte
        else:
            eth = 0
            ip = 18 if kind == "encap" else 14
            src_mac, dst_mac = p.local_mac(encap, i, local), p.remote_mac(encap, i, remote)
            src_ip, dst_ip = p.local_ip(encap, i, local), p.remote_ip(encap, i, remote)
        b[eth:eth + 6] = dst_mac
        b[eth + 6:eth + 12] = src_mac
        b[ip + 12:ip + 16] = src_ip
        b[ip + 16:ip + 20] = dst_ip
        b[ip + 10:ip + 12] = b"\0\0"
        struct.pack_into("!H", b, ip + 10, _ip4_checksum(b[ip:ip + 20]))
        struct.pack_into("!HH", b, ip + 20, sport, dport)
        return bytes(b)


def _bench_check(frames, kind, encap, plan, size):
    """Dissects frames with scapy: lengths, tunnel ids, VLANs, checksums."""
    for f in frames:
        pkt = Ether(f)
        want = {"encap": size, "plain": size - 4}.get(kind, size - 4 + (
            BENCH_VXLAN_OVERHEAD if encap == "vxlan" else BENCH_NVGRE_OVERHEAD))
        assert len(f) == want, (kind, encap, len(f), want)
        if kind == "encap":
            assert pkt.haslayer(Dot1Q) and pkt[Dot1Q].vlan in [plan.vlan(encap, i) for i in range(plan.vnis)]
            inner = pkt
        elif kind == "plain":
            assert not pkt.haslayer(Dot1Q)
            inner = pkt
        elif encap == "vxlan":
            assert pkt[UDP].dport == 4789 and pkt[IP].dst == BENCH_LOCAL_VTEP
            assert pkt[VXLAN].vni in [plan.vni(encap, i) for i in range(plan.vnis)]
            inner = pkt[VXLAN].payload
        else:
            assert pkt[IP].proto == 47 and pkt[GRE].proto == 0x6558 and pkt[GRE].key_present
            assert pkt[GRE].key >> 8 in [plan.vni(encap, i) for i in range(plan.vnis)]
            inner = Ether(bytes(pkt[GRE].payload))
        ip = inner[IP]
        raw = bytes(ip)[:20]
        assert _ip4_checksum(raw) == 0, "inner IPv4 checksum"
        if kind in ("decap", "routed"):
            assert _ip4_checksum(bytes(pkt[IP])[:20]) == 0, "outer IPv4 checksum"
        if kind == "routed":
            assert inner[Ether].dst == BENCH_GATEWAY_MAC, "routed frames go to the gateway"


def _write_pcap(path, frames):
    """A classic pcap (microsecond timestamps, Ethernet), written directly: fast for 10^5 frames."""
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for n, f in enumerate(frames):
            out.write(struct.pack("<IIII", n // 1000000, n % 1000000, len(f), len(f)))
            out.write(f)


def _bench_mbufs(pcap_frames, ports, queues):
    """Mbufs for a bench process: net_pcap's infinite_rx keeps a copy of every replayed frame
    in the pool, on top of what vtepd sizes by default (descriptors, bursts, caches)."""
    per_worker = ports * (1024 + 1024) + 32 * (ports + 1) + 256
    need = pcap_frames + queues * per_worker + 4096
    n = 1
    while n < need + 1:
        n <<= 1
    return n - 1


def _bench_config(scenario, plan, mbufs, api_port):
    """The gateway configuration of one scenario (see the port names above); `xconnect` is
    vtepd's own I/O (poll loop, counters, TX buffering) without the pipeline, on the VXLAN
    decap traffic: what separates vtepd from the testpmd ceiling before any packet work."""
    runtime = ["[api]", 'listen = "127.0.0.1:%d"' % api_port, "", "[workers]", "mbufs = %d" % mbufs, ""]
    if scenario == "xconnect":
        return "\n".join([
            "# scripts/bench.sh: xconnect, vtepd's I/O alone (generated by scripts/pcapgen.py bench)",
            "[xconnect]",
            'ports = ["net_pcap0", "net_null0"]',
            "",
        ] + runtime)
    underlay, access = {
        "vxlan-decap": ("net_pcap0", "net_null0"),
        "vxlan-routed": ("net_pcap0", "net_null0"),
        "vxlan-routed-policy": ("net_pcap0", "net_null0"),
        "vxlan-routed-acl": ("net_pcap0", "net_null0"),
        "nvgre-decap": ("net_pcap0", "net_null0"),
        "vxlan-encap": ("net_null0", "net_pcap0"),
        "nvgre-encap": ("net_null0", "net_pcap0"),
        "mixed": ("net_pcap0", "net_pcap1"),
    }[scenario]
    encaps = ["vxlan", "nvgre"] if scenario == "mixed" else [scenario.split("-")[0]]
    flood = ", ".join('"%s"' % plan.vtep_ip(t) for t in range(plan.vteps))
    lines = [
        "# scripts/bench.sh: %s (generated by scripts/pcapgen.py bench)" % scenario,
        "[underlay]",
        'port = "%s"' % underlay,
        'addresses = ["%s/24"]' % BENCH_LOCAL_VTEP,
        'next_hop_mac = "%s"' % BENCH_NEXT_HOP_MAC,
        "mtu = %d" % BENCH_UNDERLAY_MTU,
        "",
        "[[access]]",
        'port = "%s"' % access,
        # Every size bench accepts (up to the underlay MTU less the tunnel and tag) fits.
        "mtu = %d" % (BENCH_UNDERLAY_MTU - 50),
        "",
    ] + runtime
    routed = scenario.startswith("vxlan-routed")
    if routed:
        # One tenant VRF over every segment; each segment's subnet holds both its sides'
        # hosts (10.2i.0.0/15: local 10.2i.x.x, remote 10.2i+1.x.x).
        lines += ["[routing]", 'gateway_mac = "%s"' % BENCH_GATEWAY_MAC, "",
                  "[[vrf]]", 'name = "bench"', "id = 1", ""]
    for encap in encaps:
        for i in range(plan.vnis):
            lines += ["[[vni]]", "id = %d" % plan.vni(encap, i), 'encap = "%s"' % encap,
                      "vlan = %d" % plan.vlan(encap, i), "flood = [%s]" % flood, "learning = true"]
            if routed:
                net = plan.local_ip(encap, i, 0)
                lines += ['vrf = "bench"', 'gateway = "10.%d.255.254/15"' % (net[1] + 1)]
            lines += [""]
    # Static entries: decap forwards to known tenant hosts, encap to hosts known behind the
    # remote VTEPs; the other side is learned. The mixed run learns both sides. The routed
    # run knows its destinations' addresses too (static bindings).
    if routed:
        for encap in encaps:
            for i in range(plan.vnis):
                for h in range(plan.macs):
                    lines += ["[[arp]]", "vni = %d" % plan.vni(encap, i),
                              'ip = "%s"' % _ip_str(plan.local_ip(encap, i, h)),
                              'mac = "%s"' % _mac_str(plan.local_mac(encap, i, h)), ""]
    if scenario.endswith("-decap") or routed:
        for encap in encaps:
            for i in range(plan.vnis):
                for h in range(plan.macs):
                    lines += ["[[fdb]]", "vni = %d" % plan.vni(encap, i),
                              'mac = "%s"' % _mac_str(plan.local_mac(encap, i, h)), 'port = "%s"' % access, ""]
    elif scenario.endswith("-encap"):
        for encap in encaps:
            for i in range(plan.vnis):
                for h in range(plan.macs):
                    lines += ["[[fdb]]", "vni = %d" % plan.vni(encap, i),
                              'mac = "%s"' % _mac_str(plan.remote_mac(encap, i, h)),
                              'remote = "%s"' % plan.vtep_ip(plan.vtep_of(i, h)), ""]
    if scenario in ("vxlan-routed-policy", "vxlan-routed-acl"):
        lines += _bench_policy(plan, stateful=scenario.endswith("-policy"))
    return "\n".join(lines)


def _bench_policy(plan, stateful):
    """BENCH_POLICY_RULES rules over the routed scenario's segments and hosts. Stateful: the
    traffic's rule opens a session per flow and every later packet is a session hit (the
    established-flow path). Stateless: every packet is classified (what each new flow pays
    before its session is opened)."""
    lines = ["[policy]", "max_sessions = 65536", "log_default_deny = false", ""]
    segments = ["seg%d" % i for i in range(plan.vnis)]
    for i, name in enumerate(segments):
        lines += ["[[policy.group]]", 'name = "%s"' % name, "vnis = [%d]" % plan.vni("vxlan", i), ""]
    # Slices of the remote hosts' subnets (the traffic's sources) and of the local ones.
    for k in range(BENCH_POLICY_PREFIX_GROUPS):
        i = k % plan.vnis
        side = plan.remote_ip if k % 2 == 0 else plan.local_ip
        net = side("vxlan", i, (k // plan.vnis) * 16)
        lines += ["[[policy.group]]", 'name = "hosts%d"' % k,
                  'prefixes = ["%s/28"]' % _ip_str(net), ""]
    for k in range(BENCH_POLICY_RULES - 1):
        proto = "tcp" if k % 3 else "udp"
        port = 6000 + k if k % 5 else '"%d-%d"' % (7000 + k, 7010 + k)
        lines += ["[[policy.rule]]", "id = %d" % (k + 1), "priority = %d" % (200 + k % 50),
                  'from = "hosts%d"' % (k % BENCH_POLICY_PREFIX_GROUPS),
                  'to = "%s"' % segments[k % plan.vnis], 'proto = "%s"' % proto, "ports = [%s]" % port,
                  'action = "%s"' % ("deny" if k % 2 else "allow"), ""]
    lines += ["[[policy.rule]]", "id = %d" % BENCH_POLICY_RULES, "priority = 100", 'from = "any"',
              'to = "any"', 'proto = "udp"', 'ports = ["5000-5063"]', 'action = "allow"',
              "stateful = %s" % ("true" if stateful else "false"), ""]
    return lines


def _gateway_config(plan, args):
    """One configuration for a gateway on real ports (scripts/pktgen/): every segment of both
    encapsulations, the access port's untagged_vni the first VXLAN segment (plain encap),
    static entries on both sides so every profile is forwarded unicast from the first frame."""
    flood = ", ".join('"%s"' % plan.vtep_ip(t) for t in range(plan.vteps))
    lines = [
        "# vtepd for scripts/pktgen/ (generated by scripts/pcapgen.py bench --gateway-config)",
        "[underlay]",
        'port = "%s"' % args.underlay_port,
        'addresses = ["%s/24"]' % BENCH_LOCAL_VTEP,
        'next_hop_mac = "%s"  # where encapsulated frames go: the generator\'s port' % args.next_hop_mac,
        "mtu = %d" % args.mtu,
        "",
        "[[access]]",
        'port = "%s"' % args.access_port,
        "untagged_vni = %d  # plain (untagged) frames; its VLAN %d is accepted too" % (
            plan.vni("vxlan", 0), plan.vlan("vxlan", 0)),
        "",
    ]
    for encap in ("vxlan", "nvgre"):
        for i in range(plan.vnis):
            lines += ["[[vni]]", "id = %d" % plan.vni(encap, i), 'encap = "%s"' % encap,
                      "vlan = %d" % plan.vlan(encap, i), "flood = [%s]" % flood, ""]
    for encap in ("vxlan", "nvgre"):
        for i in range(plan.vnis):
            for h in range(plan.macs):
                lines += ["[[fdb]]", "vni = %d" % plan.vni(encap, i),
                          'mac = "%s"' % _mac_str(plan.local_mac(encap, i, h)), 'port = "%s"' % args.access_port, "",
                          "[[fdb]]", "vni = %d" % plan.vni(encap, i),
                          'mac = "%s"' % _mac_str(plan.remote_mac(encap, i, h)),
                          'remote = "%s"' % plan.vtep_ip(plan.vtep_of(i, h)), ""]
    return "\n".join(lines)


def bench(args):
    """Load-test traffic for scripts/bench.sh: per size and scenario, the frames split into
    one pcap per RX queue for every queue count, the gateway configurations, and a manifest."""
    import json
    import os
    import random

    plan = BenchPlan(args.vnis, args.vteps, args.macs)
    sizes = [int(s) for s in args.sizes.split(",")]
    queues = sorted({int(q) for q in args.queues.split(",")})
    if any(s < 64 or s > BENCH_UNDERLAY_MTU - 32 for s in sizes):
        sys.exit("pcapgen bench: sizes must be 64..%d" % (BENCH_UNDERLAY_MTU - 32))
    if any(q < 1 or q > 16 for q in queues):
        sys.exit("pcapgen bench: queues must be 1..16 (net_pcap has at most 16 RX queues)")
    if args.packets < 2 * args.vnis * args.macs:
        sys.exit("pcapgen bench: --packets must be at least 2 * vnis * macs = %d, so the "
                 "mixed run's half of each stream still covers every host" % (2 * args.vnis * args.macs))
    os.makedirs(args.dir, exist_ok=True)
    manifest = {"sizes": {}, "packets": args.packets, "queues": queues, "vnis": args.vnis,
                "vteps": args.vteps, "macs_per_vni_per_side": args.macs, "seed": args.seed,
                "size_definition": "tenant frame on the access port, 802.1Q-tagged, without FCS"}
    half = args.packets // 2
    for size in sizes:
        builder = BenchBuilder(plan, size, args.underlay_mac)
        streams = {}
        for encap in ("vxlan", "nvgre"):
            for kind in ("decap", "encap") + (("routed",) if encap == "vxlan" else ()):
                # Separate seeds per stream; the same seed for every kind, so decap, routed and
                # encap follow the same flows (the mixed run's two directions mirror each other).
                flows = plan.flows(args.packets, random.Random("%s-%s-%d" % (args.seed, encap, size)))
                streams["%s-%s" % (encap, kind)] = [builder.frame(kind, encap, f) for f in flows]
                if kind == "routed":
                    continue
                mixed = plan.flows(half, random.Random("%s-%s-%d-mixed" % (args.seed, encap, size)))
                streams["mixed-%s-%s" % (encap, kind)] = [builder.frame(kind, encap, f) for f in mixed]
        # Untagged tenant frames of the first VXLAN segment (an access port's untagged_vni).
        one = BenchPlan(1, args.vteps, args.macs)
        flows = one.flows(args.packets, random.Random("%s-plain-%d" % (args.seed, size)))
        streams["plain-encap"] = [builder.frame("plain", "vxlan", f) for f in flows]
        # The mixed run: both encapsulations in both directions, shuffled together.
        for side, kind in (("underlay", "decap"), ("access", "encap")):
            frames = streams.pop("mixed-vxlan-" + kind) + streams.pop("mixed-nvgre-" + kind)
            random.Random("%s-mixed-%s-%d" % (args.seed, side, size)).shuffle(frames)
            streams["mixed-" + side] = frames
        for name, frames in streams.items():
            for kind, encap in (("decap", "vxlan"), ("routed", "vxlan"), ("decap", "nvgre"), ("encap", "vxlan"),
                                ("encap", "nvgre")):
                if name == "%s-%s" % (encap, kind):
                    _bench_check(frames[:16], kind, encap, plan, size)
            if name == "plain-encap":
                _bench_check(frames[:16], "plain", "vxlan", plan, size)
            for q in queues:
                for k in range(q):
                    _write_pcap(os.path.join(args.dir, "%s-%d-q%dof%d.pcap" % (name, size, k, q)), frames[k::q])
        manifest["sizes"][str(size)] = {
            # Frame lengths in and out of vtepd (each stream has one length).
            "vxlan-decap": {"in": size - 4 + BENCH_VXLAN_OVERHEAD, "out": size},
            "vxlan-routed": {"in": size - 4 + BENCH_VXLAN_OVERHEAD, "out": size},
            "vxlan-routed-policy": {"in": size - 4 + BENCH_VXLAN_OVERHEAD, "out": size},
            "vxlan-routed-acl": {"in": size - 4 + BENCH_VXLAN_OVERHEAD, "out": size},
            "nvgre-decap": {"in": size - 4 + BENCH_NVGRE_OVERHEAD, "out": size},
            "vxlan-encap": {"in": size, "out": size - 4 + BENCH_VXLAN_OVERHEAD},
            "nvgre-encap": {"in": size, "out": size - 4 + BENCH_NVGRE_OVERHEAD},
            "plain-encap": {"in": size - 4, "out": size - 4 + BENCH_VXLAN_OVERHEAD},
            "xconnect": {"in": size - 4 + BENCH_VXLAN_OVERHEAD, "out": size - 4 + BENCH_VXLAN_OVERHEAD},
            "mixed": {"in": "%d/%d and %d" % (size + 46, size + 38, size),
                      "out": "%d and %d/%d" % (size, size + 46, size + 38)},
        }
        print("pcapgen bench: size %d: %d frames per stream, %s queue split(s)"
              % (size, args.packets, ",".join(map(str, queues))))
    streams_files = {"vxlan-decap": ["vxlan-decap"], "vxlan-routed": ["vxlan-routed"],
                     "vxlan-routed-policy": ["vxlan-routed"], "vxlan-routed-acl": ["vxlan-routed"],
                     "nvgre-decap": ["nvgre-decap"],
                     "vxlan-encap": ["vxlan-encap"], "nvgre-encap": ["nvgre-encap"],
                     "mixed": ["mixed-underlay", "mixed-access"], "xconnect": ["vxlan-decap"]}
    manifest["scenarios"] = {}
    for scenario in BENCH_SCENARIOS:
        frames = args.packets * len(streams_files[scenario])
        ports = 2
        mbufs = _bench_mbufs(frames, ports, max(queues))
        path = os.path.join(args.dir, "%s.toml" % scenario)
        with open(path, "w") as out:
            out.write(_bench_config(scenario, plan, mbufs, args.api_port))
        manifest["scenarios"][scenario] = {"config": path, "mbufs": mbufs, "streams": streams_files[scenario]}
    if args.gateway_config:
        with open(args.gateway_config, "w") as out:
            out.write(_gateway_config(plan, args))
    with open(os.path.join(args.dir, "manifest.json"), "w") as out:
        json.dump(manifest, out, indent=1)
    print("pcapgen bench: wrote %s" % args.dir)


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
    p = sub.add_parser("bench", help="load-test traffic and configurations for scripts/bench.sh")
    p.add_argument("--dir", required=True, help="output folder (pcaps, <scenario>.toml, manifest.json)")
    p.add_argument("--sizes", default="64,512,1500", help="tenant frame sizes (tagged, no FCS)")
    p.add_argument("--packets", type=int, default=8192, help="frames per stream")
    p.add_argument("--queues", default="1", help="RX queue counts to split the streams for")
    p.add_argument("--vnis", type=int, default=4, help="segments per encapsulation")
    p.add_argument("--vteps", type=int, default=8, help="remote VTEPs")
    p.add_argument("--macs", type=int, default=256, help="hosts per segment on each side")
    p.add_argument("--api-port", type=int, default=8179, help="[api] listen port in the configs")
    p.add_argument("--seed", default="vtepd-bench")
    p.add_argument("--underlay-mac", default=UNDERLAY_MAC,
                   help="destination MAC of the tunnel packets: the gateway's underlay port (default: net_pcap0's)")
    p.add_argument("--gateway-config", help="also write a configuration for real ports (scripts/pktgen/)")
    p.add_argument("--underlay-port", default="0000:00:00.0", help="--gateway-config: the underlay port")
    p.add_argument("--access-port", default="0000:00:00.1", help="--gateway-config: the access port")
    p.add_argument("--mtu", type=int, default=BENCH_UNDERLAY_MTU,
                   help="--gateway-config: underlay MTU (sizes up to MTU - 32 fit)")
    p.add_argument("--next-hop-mac", default=BENCH_NEXT_HOP_MAC,
                   help="--gateway-config: destination MAC of encapsulated frames")
    p.set_defaults(func=bench)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    sys.exit(main())
