//! Tests of the whole per-packet pipeline, without EAL.
//!
//! Every gateway here is built the way the daemon builds one (a TOML configuration →
//! `authority_from_config` → a replica filled from the authority → `Gateway::new`), and every
//! packet is built and checked with etherparse, so the pipeline is never judged by its own
//! encoder or parser.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use crossbeam::utils::CachePadded;
use etherparse as ep;
use proptest::prelude::*;

use crate::config::{self, Encap, Mode};
use crate::control::gateway::{authority_from_config, params};
use crate::dataplane::counters::{VniCounters, WorkerCounters};
use crate::tables::authority::Authority;
use crate::tables::fdb::FdbEntry;
use crate::tables::sync::SyncChannel;
use crate::tables::update::{Event, Garbage, Location};
use crate::tables::{Dest, FdbKey, TunnelId, VniIndex};
use crate::wire::{MacAddr, Vni};

use super::encap::{flow_id, SourcePorts};
use super::entropy::flow_hash;
use super::gateway::TableHint;
use super::learn::REFRESH_TICKS;
use super::{BurstRun, DropReason, Flood, Gateway, OffloadCaps, Target, VecFrame, Verdict};

// --- building gateways -------------------------------------------------------------------

const FDB_CAPACITY: usize = 4096;

/// The gateway under test: 10.0.0.1 / fd00::1, underlay MAC `GW_MAC`.
const GW_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
/// The fixed next hop of the underlay.
const NH_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xfe];
/// Tenant hosts.
const H1: [u8; 6] = [0x02, 0, 0, 0, 0x01, 0x01];
const H2: [u8; 6] = [0x02, 0, 0, 0, 0x01, 0x02];
const H3: [u8; 6] = [0x02, 0, 0, 0, 0x01, 0x03];
/// Static: behind VTEP 10.0.0.2 (VXLAN, VNI 5000), fd00::2 (VNIs 6000, 9000), 10.0.0.2
/// (NVGRE, VNI 6001).
const R2: [u8; 6] = [0x02, 0, 0, 0, 0x02, 0x02];
/// Static: behind access port 2 in VNI 5000.
const L3: [u8; 6] = [0x02, 0, 0, 0, 0x03, 0x03];
/// A host behind a remote VTEP that the gateway has not seen yet.
const R9: [u8; 6] = [0x02, 0, 0, 0, 0x02, 0x99];
const BCAST: [u8; 6] = [0xff; 6];

const ACC1: u8 = 1;
const ACC2: u8 = 2;
const ACC3: u8 = 3;

/// Ports: 0 = underlay, 1 = acc1 (untagged VNI 5000), 2 = acc2 (tagged only), 3 = acc3
/// (untagged VNI 7000). Every VNI with a `vlan` is carried tagged on every port where it is
/// not the untagged VNI.
const BASE: &str = r#"
[underlay]
port = "u0"
addresses = ["10.0.0.1/24", "fd00::1/64"]
next_hop_mac = "02:00:00:00:00:fe"
mtu = 1500
source_port_range = [50000, 50999]

[[access]]
port = "acc1"
untagged_vni = 5000

[[access]]
port = "acc2"

[[access]]
port = "acc3"
untagged_vni = 7000

[[vni]]
id = 5000
vlan = 100
flood = ["10.0.0.2", "10.0.0.3"]
arp_suppression = true

[[vni]]
id = 6000
encap = "nvgre"
vlan = 200
flood = ["fd00::2"]

[[vni]]
id = 6001
encap = "nvgre"
vlan = 201
flood = ["10.0.0.2"]

[[vni]]
id = 7000
max_macs = 2

[[vni]]
id = 8000
vlan = 300
flood = ["10.0.0.2"]
allowed_vteps = ["10.0.0.2"]
learning = false

[[vni]]
id = 9000
vlan = 400
flood = ["fd00::2"]

[[fdb]]
vni = 5000
mac = "02:00:00:00:02:02"
remote = "10.0.0.2"

[[fdb]]
vni = 5000
mac = "02:00:00:00:03:03"
port = "acc2"

[[fdb]]
vni = 6000
mac = "02:00:00:00:02:02"
remote = "fd00::2"

[[fdb]]
vni = 6001
mac = "02:00:00:00:02:02"
remote = "10.0.0.2"

[[fdb]]
vni = 9000
mac = "02:00:00:00:02:02"
remote = "fd00::2"

[[arp]]
vni = 5000
ip = "192.168.1.2"
mac = "02:00:00:00:02:02"

[[arp]]
vni = 5000
ip = "192.168.1.3"
mac = "02:00:00:00:03:03"

[[arp]]
vni = 5000
ip = "2001:db8::2"
mac = "02:00:00:00:02:02"

[[arp]]
vni = 5000
ip = "2001:db8::3"
mac = "02:00:00:00:03:03"
"#;

/// A gateway with the handles a test needs to look inside.
struct TestGw {
    gw: Gateway,
    sync: Arc<SyncChannel>,
    authority: Authority,
}

impl TestGw {
    fn new(toml: &str) -> TestGw {
        TestGw::with(toml, GW_MAC, OffloadCaps::default())
    }

    fn with(toml: &str, mac: [u8; 6], caps: OffloadCaps) -> TestGw {
        let config = config::parse(toml).unwrap();
        let Mode::Gateway(g) = config.mode else {
            panic!("not a gateway configuration")
        };
        let mac = MacAddr(mac);
        let authority = authority_from_config(&g, mac, FDB_CAPACITY).unwrap();
        let replica = authority.replica(1 + g.access.len(), FDB_CAPACITY);
        let sync = SyncChannel::new(1024, 1024);
        let gw = Gateway::new(
            params(&g, mac, caps),
            replica,
            Arc::clone(&sync),
            Arc::new(CachePadded::new(WorkerCounters::default())),
        );
        TestGw {
            gw,
            sync,
            authority,
        }
    }

    fn vni(&self, id: u32) -> VniIndex {
        self.authority.vni_index(Vni::new(id).unwrap()).unwrap()
    }

    fn tunnel(&self, remote: &str, encap: Encap) -> TunnelId {
        self.authority
            .tunnel_id(remote.parse().unwrap(), encap)
            .unwrap()
    }

    fn fdb(&self, vni: u32, mac: [u8; 6]) -> Option<FdbEntry> {
        self.gw
            .tables
            .fdb
            .get(FdbKey::new(self.vni(vni), MacAddr(mac)))
    }

    fn counters(&self, vni: u32) -> &VniCounters {
        self.gw.counters().vni(self.vni(vni)).unwrap()
    }

    fn events(&self) -> Vec<Event> {
        std::iter::from_fn(|| self.sync.next_event()).collect()
    }

    /// `access()` of a copy of `bytes`; the verdict and the frame afterwards.
    fn access(&mut self, bytes: &[u8], port: u8) -> (Verdict, VecFrame) {
        let mut f = VecFrame::new(bytes);
        let v = self.gw.access(&mut f, port);
        (v, f)
    }

    fn underlay(&mut self, bytes: &[u8]) -> (Verdict, VecFrame) {
        let mut f = VecFrame::new(bytes);
        let v = self.gw.underlay(&mut f);
        (v, f)
    }

    /// `frames` as bursts received on `port` (0: the underlay), through the worker's loop
    /// (`BurstRun`: prefetch, first pass, hints); each verdict and the frame afterwards.
    fn burst(&mut self, frames: &[Vec<u8>], port: u8) -> Vec<(Verdict, VecFrame)> {
        let mut out = Vec::new();
        for chunk in frames.chunks(32) {
            let mut run = BurstRun::default();
            let mut burst: Vec<Option<VecFrame>> =
                chunk.iter().map(|b| Some(VecFrame::new(b))).collect();
            run.start(&self.gw, &burst, port, port == 0);
            for i in 0..burst.len() {
                let v = run.next(&mut self.gw, &mut burst, i).expect("a packet");
                out.push((v, burst[i].take().expect("left in its slot")));
            }
        }
        out
    }
}

fn key(gw: &TestGw, vni: u32, mac: [u8; 6]) -> FdbKey {
    FdbKey::new(gw.vni(vni), MacAddr(mac))
}

fn learned_events(events: &[Event]) -> Vec<(FdbKey, Location)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Learned { key, at } => Some((*key, *at)),
            _ => None,
        })
        .collect()
}

fn v4(s: &str) -> [u8; 4] {
    s.parse::<Ipv4Addr>().unwrap().octets()
}

fn v6(s: &str) -> [u8; 16] {
    s.parse::<Ipv6Addr>().unwrap().octets()
}

// --- building frames with etherparse ----------------------------------------------------

/// Deterministic filler bytes.
fn filler(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn ipv4_header(src: [u8; 4], dst: [u8; 4], tos: u8) -> ep::IpHeaders {
    let mut h = ep::Ipv4Header::new(0, 64, ep::IpNumber::UDP, src, dst).unwrap();
    h.dscp = ep::Ipv4Dscp::try_new(tos >> 2).unwrap();
    h.ecn = ep::Ipv4Ecn::try_new(tos & 3).unwrap();
    h.identification = 0x1234;
    ep::IpHeaders::Ipv4(h, Default::default())
}

fn ipv6_header(src: [u8; 16], dst: [u8; 16], tc: u8, hop_limit: u8) -> ep::IpHeaders {
    ep::IpHeaders::Ipv6(
        ep::Ipv6Header {
            traffic_class: tc,
            flow_label: ep::Ipv6FlowLabel::try_new(0x12345).unwrap(),
            payload_length: 0,
            next_header: ep::IpNumber::UDP,
            hop_limit,
            source: src,
            destination: dst,
        },
        Default::default(),
    )
}

/// An untagged UDP/IPv4 frame of exactly `len` bytes (at least 42).
fn udp4(src: [u8; 6], dst: [u8; 6], tos: u8, len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    ep::PacketBuilder::ethernet2(src, dst)
        .ip(ipv4_header(v4("192.168.1.1"), v4("192.168.1.2"), tos))
        .udp(1000, 2000)
        .write(&mut out, &filler(len as u64, len - 42))
        .unwrap();
    assert_eq!(out.len(), len);
    out
}

/// An untagged TCP/IPv4 frame of exactly `len` bytes (at least 54).
fn tcp4(src: [u8; 6], dst: [u8; 6], tos: u8, len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    ep::PacketBuilder::ethernet2(src, dst)
        .ip(ipv4_header(v4("192.168.1.1"), v4("192.168.1.2"), tos))
        .tcp(40000, 80, 0x0102_0304, 65535)
        .ack(7)
        .write(&mut out, &filler(len as u64, len - 54))
        .unwrap();
    assert_eq!(out.len(), len);
    out
}

/// An untagged UDP/IPv6 frame of exactly `len` bytes (at least 62).
fn udp6(src: [u8; 6], dst: [u8; 6], tc: u8, len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    ep::PacketBuilder::ethernet2(src, dst)
        .ip(ipv6_header(v6("2001:db8::1"), v6("2001:db8::2"), tc, 64))
        .udp(1000, 2000)
        .write(&mut out, &filler(len as u64, len - 62))
        .unwrap();
    assert_eq!(out.len(), len);
    out
}

/// An untagged TCP/IPv6 frame of exactly `len` bytes (at least 74).
fn tcp6(src: [u8; 6], dst: [u8; 6], len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    ep::PacketBuilder::ethernet2(src, dst)
        .ip(ipv6_header(v6("2001:db8::1"), v6("2001:db8::2"), 0, 64))
        .tcp(40000, 80, 1, 65535)
        .write(&mut out, &filler(len as u64, len - 74))
        .unwrap();
    assert_eq!(out.len(), len);
    out
}

/// An Ethernet frame with any EtherType and payload.
fn raw(src: [u8; 6], dst: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    ep::Ethernet2Header {
        source: src,
        destination: dst,
        ether_type: ep::EtherType(ethertype),
    }
    .write(&mut out)
    .unwrap();
    out.extend_from_slice(payload);
    out
}

/// The frame with an 802.1Q tag (PCP 0) inserted after the MAC addresses.
fn tag(frame: &[u8], vid: u16) -> Vec<u8> {
    tag_with(frame, ep::EtherType::VLAN_TAGGED_FRAME, vid)
}

fn tag_with(frame: &[u8], tpid: ep::EtherType, vid: u16) -> Vec<u8> {
    tag_pcp_with(frame, tpid, vid, 0)
}

/// The frame with an 802.1Q tag of priority `pcp`.
fn tag_pcp(frame: &[u8], vid: u16, pcp: u8) -> Vec<u8> {
    tag_pcp_with(frame, ep::EtherType::VLAN_TAGGED_FRAME, vid, pcp)
}

fn tag_pcp_with(frame: &[u8], tpid: ep::EtherType, vid: u16, pcp: u8) -> Vec<u8> {
    let (eth, rest) = ep::Ethernet2Header::from_slice(frame).unwrap();
    let mut out = Vec::new();
    ep::Ethernet2Header {
        ether_type: tpid,
        ..eth.clone()
    }
    .write(&mut out)
    .unwrap();
    ep::SingleVlanHeader {
        pcp: ep::VlanPcp::try_new(pcp).unwrap(),
        drop_eligible_indicator: false,
        vlan_id: ep::VlanId::try_new(vid).unwrap(),
        ether_type: eth.ether_type,
    }
    .write(&mut out)
    .unwrap();
    out.extend_from_slice(rest);
    out
}

/// The frame without its (single) 802.1Q tag.
fn untag(frame: &[u8]) -> Vec<u8> {
    let (eth, rest) = ep::Ethernet2Header::from_slice(frame).unwrap();
    assert_eq!(eth.ether_type, ep::EtherType::VLAN_TAGGED_FRAME);
    let (vlan, rest) = ep::SingleVlanHeader::from_slice(rest).unwrap();
    let mut out = Vec::new();
    ep::Ethernet2Header {
        ether_type: vlan.ether_type,
        ..eth
    }
    .write(&mut out)
    .unwrap();
    out.extend_from_slice(rest);
    out
}

/// The VLAN id of a tagged frame.
fn vid_of(frame: &[u8]) -> Option<u16> {
    let (eth, rest) = ep::Ethernet2Header::from_slice(frame).unwrap();
    if eth.ether_type != ep::EtherType::VLAN_TAGGED_FRAME {
        return None;
    }
    let (vlan, _) = ep::SingleVlanHeader::from_slice(rest).unwrap();
    Some(vlan.vlan_id.value())
}

/// The (VLAN id, PCP) of a tagged frame.
fn vid_pcp_of(frame: &[u8]) -> Option<(u16, u8)> {
    let (eth, rest) = ep::Ethernet2Header::from_slice(frame).unwrap();
    if eth.ether_type != ep::EtherType::VLAN_TAGGED_FRAME {
        return None;
    }
    let (vlan, _) = ep::SingleVlanHeader::from_slice(rest).unwrap();
    Some((vlan.vlan_id.value(), vlan.pcp.value()))
}

const ARP_REQUEST: u16 = 1;
const ARP_REPLY: u16 = 2;

/// An Ethernet/IPv4 ARP packet (etherparse 0.16 has no ARP builder).
fn arp(
    eth_src: [u8; 6],
    eth_dst: [u8; 6],
    op: u16,
    sha: [u8; 6],
    spa: &str,
    tha: [u8; 6],
    tpa: &str,
) -> Vec<u8> {
    let mut body = vec![0, 1, 0x08, 0x00, 6, 4];
    body.extend_from_slice(&op.to_be_bytes());
    body.extend_from_slice(&sha);
    body.extend_from_slice(&v4(spa));
    body.extend_from_slice(&tha);
    body.extend_from_slice(&v4(tpa));
    raw(eth_src, eth_dst, 0x0806, &body)
}

/// The fields of an ARP body: (op, sha, spa, tha, tpa).
fn arp_fields(body: &[u8]) -> (u16, [u8; 6], [u8; 4], [u8; 6], [u8; 4]) {
    assert_eq!(&body[..6], &[0, 1, 0x08, 0x00, 6, 4]);
    (
        u16::from_be_bytes([body[6], body[7]]),
        body[8..14].try_into().unwrap(),
        body[14..18].try_into().unwrap(),
        body[18..24].try_into().unwrap(),
        body[24..28].try_into().unwrap(),
    )
}

fn solicited_node(target: [u8; 16]) -> [u8; 16] {
    let mut a = v6("ff02::1:ff00:0");
    a[13..].copy_from_slice(&target[13..]);
    a
}

fn multicast_mac_v6(group: [u8; 16]) -> [u8; 6] {
    [0x33, 0x33, group[12], group[13], group[14], group[15]]
}

/// A neighbour solicitation for `target` from `src` (hop limit 255), to its solicited-node
/// group, with the source link-layer address option when `lladdr` is given.
fn neighbor_solicit(
    eth_src: [u8; 6],
    src: [u8; 16],
    target: [u8; 16],
    lladdr: Option<[u8; 6]>,
) -> Vec<u8> {
    let group = solicited_node(target);
    let mut body = target.to_vec();
    if let Some(mac) = lladdr {
        body.extend_from_slice(&[1, 1]);
        body.extend_from_slice(&mac);
    }
    let mut out = Vec::new();
    ep::PacketBuilder::ethernet2(eth_src, multicast_mac_v6(group))
        .ip(ipv6_header(src, group, 0, 255))
        .icmpv6_raw(135, 0, [0; 4])
        .write(&mut out, &body)
        .unwrap();
    out
}

/// 16-bit ones'-complement sum (independent of vtepd's `wire::checksum`).
fn ones_sum(mut acc: u64, data: &[u8]) -> u64 {
    for c in data.chunks(2) {
        acc += u64::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)]));
    }
    acc
}

fn ones_fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The IPv6 pseudo-header sum (not complemented).
fn pseudo6(src: [u8; 16], dst: [u8; 16], next: u8, len: usize) -> u64 {
    let mut acc = ones_sum(0, &src);
    acc = ones_sum(acc, &dst);
    acc += len as u64;
    acc + u64::from(next)
}

/// True when an upper-layer checksum over IPv6 verifies.
fn verifies6(src: [u8; 16], dst: [u8; 16], next: u8, l4: &[u8]) -> bool {
    ones_fold(ones_sum(pseudo6(src, dst, next, l4.len()), l4)) == 0xffff
}

fn vxlan_header(vni: u32) -> [u8; 8] {
    let v = (vni << 8).to_be_bytes();
    [0x08, 0, 0, 0, v[0], v[1], v[2], v[3]]
}

fn nvgre_header(vsid: u32, flow: u8) -> [u8; 8] {
    let k = ((vsid << 8) | u32::from(flow)).to_be_bytes();
    [0x20, 0x00, 0x65, 0x58, k[0], k[1], k[2], k[3]]
}

/// A VXLAN packet from VTEP `src` to `dst` (IPv4), outer ECN `ecn`.
fn vxlan4_packet(src: &str, dst: &str, ecn: u8, vni: u32, inner: &[u8]) -> Vec<u8> {
    let mut payload = vxlan_header(vni).to_vec();
    payload.extend_from_slice(inner);
    let mut out = Vec::new();
    ep::PacketBuilder::ethernet2(NH_MAC, GW_MAC)
        .ip(ipv4_header(v4(src), v4(dst), ecn))
        .udp(51000, 4789)
        .write(&mut out, &payload)
        .unwrap();
    out
}

fn vxlan6_packet(src: &str, dst: &str, tc: u8, vni: u32, inner: &[u8]) -> Vec<u8> {
    let mut payload = vxlan_header(vni).to_vec();
    payload.extend_from_slice(inner);
    let mut out = Vec::new();
    ep::PacketBuilder::ethernet2(NH_MAC, GW_MAC)
        .ip(ipv6_header(v6(src), v6(dst), tc, 64))
        .udp(51000, 4789)
        .write(&mut out, &payload)
        .unwrap();
    out
}

fn nvgre4_packet(src: &str, dst: &str, vsid: u32, inner: &[u8]) -> Vec<u8> {
    let mut payload = nvgre_header(vsid, 0x5a).to_vec();
    payload.extend_from_slice(inner);
    let mut out = Vec::new();
    ep::PacketBuilder::ethernet2(NH_MAC, GW_MAC)
        .ip(ipv4_header(v4(src), v4(dst), 0))
        .write(&mut out, ep::IpNumber::GRE, &payload)
        .unwrap();
    out
}

// --- reading encapsulated packets with etherparse ---------------------------------------

#[derive(Debug, Clone)]
enum OuterIp {
    V4(ep::Ipv4Header),
    V6(ep::Ipv6Header),
}

/// An encapsulated packet, taken apart by etherparse.
#[derive(Debug, Clone)]
struct Outer {
    eth: ep::Ethernet2Header,
    ip: OuterIp,
    udp: Option<ep::UdpHeader>,
    /// The VXLAN or GRE header.
    tunnel: [u8; 8],
    /// What follows the IP header (UDP + VXLAN + inner, or GRE + inner).
    l4: Vec<u8>,
    inner: Vec<u8>,
}

impl Outer {
    fn parse(frame: &[u8]) -> Outer {
        let (eth, rest) = ep::Ethernet2Header::from_slice(frame).unwrap();
        let (ip, l4, proto) = match eth.ether_type {
            ep::EtherType::IPV4 => {
                let (ip, l4) = ep::Ipv4Header::from_slice(rest).unwrap();
                assert_eq!(
                    usize::from(ip.total_len),
                    rest.len(),
                    "IPv4 total length covers the rest of the frame"
                );
                let p = ip.protocol;
                (OuterIp::V4(ip), l4, p)
            }
            ep::EtherType::IPV6 => {
                let (ip, l4) = ep::Ipv6Header::from_slice(rest).unwrap();
                assert_eq!(
                    usize::from(ip.payload_length),
                    l4.len(),
                    "IPv6 payload length covers the rest of the frame"
                );
                let p = ip.next_header;
                (OuterIp::V6(ip), l4, p)
            }
            other => panic!("outer EtherType {other:?}"),
        };
        let (udp, after) = match proto {
            ep::IpNumber::UDP => {
                let (u, after) = ep::UdpHeader::from_slice(l4).unwrap();
                assert_eq!(usize::from(u.length), l4.len(), "UDP length");
                (Some(u), after)
            }
            ep::IpNumber::GRE => (None, l4),
            other => panic!("outer protocol {other:?}"),
        };
        Outer {
            eth,
            ip,
            udp,
            tunnel: after[..8].try_into().unwrap(),
            l4: l4.to_vec(),
            inner: after[8..].to_vec(),
        }
    }

    fn v4(&self) -> &ep::Ipv4Header {
        match &self.ip {
            OuterIp::V4(h) => h,
            OuterIp::V6(_) => panic!("outer IPv6"),
        }
    }

    fn v6(&self) -> &ep::Ipv6Header {
        match &self.ip {
            OuterIp::V6(h) => h,
            OuterIp::V4(_) => panic!("outer IPv4"),
        }
    }

    fn src_ip(&self) -> IpAddr {
        match &self.ip {
            OuterIp::V4(h) => IpAddr::from(h.source),
            OuterIp::V6(h) => IpAddr::from(h.source),
        }
    }

    fn dst_ip(&self) -> IpAddr {
        match &self.ip {
            OuterIp::V4(h) => IpAddr::from(h.destination),
            OuterIp::V6(h) => IpAddr::from(h.destination),
        }
    }

    /// The DSCP/ECN byte (IPv4 TOS or IPv6 traffic class).
    fn tos(&self) -> u8 {
        match &self.ip {
            OuterIp::V4(h) => (h.dscp.value() << 2) | h.ecn.value(),
            OuterIp::V6(h) => h.traffic_class,
        }
    }

    /// The VNI of a VXLAN header (checking its flags), or the VSID of an NVGRE header.
    fn vni(&self) -> u32 {
        let t = self.tunnel;
        match self.udp {
            Some(_) => {
                assert_eq!(t[0], 0x08, "VXLAN flags: I only");
                assert_eq!(&t[1..4], &[0, 0, 0], "VXLAN reserved");
                assert_eq!(t[7], 0, "VXLAN reserved");
            }
            None => {
                assert_eq!(&t[..4], &[0x20, 0x00, 0x65, 0x58], "GRE K bit, TEB");
            }
        }
        u32::from_be_bytes([0, t[4], t[5], t[6]])
    }

    fn nvgre_flow_id(&self) -> u8 {
        assert!(self.udp.is_none());
        self.tunnel[7]
    }

    /// Checks the outer IPv4 header checksum and the IPv6 UDP checksum.
    fn checksums_verify(&self) -> bool {
        match (&self.ip, &self.udp) {
            (OuterIp::V4(h), _) => h.calc_header_checksum() == h.header_checksum,
            (OuterIp::V6(h), Some(u)) => {
                u.checksum != 0
                    && u.calc_checksum_ipv6(h, &self.l4[8..]).unwrap() == u.checksum
                    && verifies6(h.source, h.destination, 17, &self.l4)
            }
            (OuterIp::V6(_), None) => true,
        }
    }
}

/// The IPv4 TOS of an untagged inner IPv4 frame, and whether its checksum verifies.
fn inner_ipv4(frame: &[u8]) -> (u8, bool) {
    let (_, rest) = ep::Ethernet2Header::from_slice(frame).unwrap();
    let (ip, _) = ep::Ipv4Header::from_slice(rest).unwrap();
    (
        (ip.dscp.value() << 2) | ip.ecn.value(),
        ip.calc_header_checksum() == ip.header_checksum,
    )
}

fn inner_ipv6_tc(frame: &[u8]) -> u8 {
    let (_, rest) = ep::Ethernet2Header::from_slice(frame).unwrap();
    ep::Ipv6Header::from_slice(rest).unwrap().0.traffic_class
}

// --- property: decap(encap(frame)) == frame ---------------------------------------------

const PEER_A_MAC: [u8; 6] = [0x02, 0, 0, 0, 0xa0, 0x01];
const PEER_B_MAC: [u8; 6] = [0x02, 0, 0, 0, 0xb0, 0x02];

#[derive(Debug, Clone)]
enum Kind {
    Udp4,
    Tcp4,
    Udp6,
    /// Any EtherType the access path forwards as opaque bytes.
    Other(u16),
}

#[derive(Debug, Clone)]
struct Case {
    src: [u8; 6],
    dst: [u8; 6],
    kind: Kind,
    /// Untagged frame length.
    len: usize,
    tos: u8,
    encap: Encap,
    vni: u32,
    ipv6_underlay: bool,
    /// The VNI's VLAN (the frame is tagged with it), or None: the access port's untagged VNI.
    vlan: Option<u16>,
    dscp: Option<u8>,
    ports: (u16, u16),
    ttl: u8,
    suppression: bool,
}

fn unicast_mac() -> impl Strategy<Value = [u8; 6]> {
    any::<[u8; 6]>()
        .prop_map(|mut m| {
            m[0] &= 0xfe;
            m
        })
        .prop_filter("not zero", |m| *m != [0; 6])
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Udp4),
        Just(Kind::Tcp4),
        Just(Kind::Udp6),
        any::<u16>()
            .prop_filter("opaque EtherType", |t| {
                ![0x0800, 0x86dd, 0x0806, 0x8100, 0x88a8].contains(t)
            })
            .prop_map(Kind::Other),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (
        (
            unicast_mac(),
            unicast_mac(),
            kind(),
            60usize..=1500,
            any::<u8>(),
        ),
        (
            prop_oneof![Just(Encap::Vxlan), Just(Encap::Nvgre)],
            1u32..=0xff_ffff,
            any::<bool>(),
            prop::option::of(1u16..=4094),
            prop::option::of(0u8..=63),
        ),
        (1u16..=65535, 1u16..=65535, 1u8..=255, any::<bool>()),
    )
        .prop_filter("distinct MACs", |((s, d, ..), _, _)| s != d)
        .prop_map(
            |((src, dst, kind, len, tos), (encap, vni, v6, vlan, dscp), (a, b, ttl, sup))| {
                let vni = match encap {
                    Encap::Vxlan => vni,
                    // RFC 7637: VSIDs 0x1000..=0xfffffe.
                    Encap::Nvgre => 0x1000 + vni % (0xff_fffe - 0x1000 + 1),
                };
                Case {
                    src,
                    dst,
                    kind,
                    len,
                    tos,
                    encap,
                    vni,
                    ipv6_underlay: v6,
                    vlan,
                    dscp,
                    ports: (a.min(b), a.max(b)),
                    ttl,
                    suppression: sup,
                }
            },
        )
}

fn mac_str(m: [u8; 6]) -> String {
    MacAddr(m).to_string()
}

/// One side of a pair of gateways that serve the case's VNI: A (10.0.0.1 / fd00::1) has
/// `dst` statically behind B (10.0.0.2 / fd00::2); B has it behind its access port.
fn peer_config(c: &Case, side_a: bool) -> String {
    let (me, peer_mac, me6) = if side_a {
        ("10.0.0.1", PEER_B_MAC, "fd00::1")
    } else {
        ("10.0.0.2", PEER_A_MAC, "fd00::2")
    };
    let remote = if c.ipv6_underlay {
        "fd00::2"
    } else {
        "10.0.0.2"
    };
    let dscp = match c.dscp {
        Some(d) => format!("dscp = {d}"),
        None => "dscp = \"inherit\"".into(),
    };
    let encap = match c.encap {
        Encap::Vxlan => "vxlan",
        Encap::Nvgre => "nvgre",
    };
    let (untagged, vlan) = match c.vlan {
        Some(v) => (String::new(), format!("vlan = {v}")),
        None => (format!("untagged_vni = {}", c.vni), String::new()),
    };
    let fdb = if side_a {
        format!("remote = \"{remote}\"")
    } else {
        "port = \"acc0\"".into()
    };
    format!(
        r#"
[underlay]
port = "u0"
addresses = ["{me}/24", "{me6}/64"]
next_hop_mac = "{peer}"
mtu = 9000
ttl = {ttl}
{dscp}
source_port_range = [{lo}, {hi}]

[[access]]
port = "acc0"
{untagged}

[[vni]]
id = {vni}
encap = "{encap}"
{vlan}
arp_suppression = {sup}

[[fdb]]
vni = {vni}
mac = "{dst}"
{fdb}
"#,
        peer = mac_str(peer_mac),
        ttl = c.ttl,
        lo = c.ports.0,
        hi = c.ports.1,
        vni = c.vni,
        sup = c.suppression,
        dst = mac_str(c.dst),
    )
}

fn case_frame(c: &Case) -> Vec<u8> {
    let untagged = match c.kind {
        Kind::Udp4 => udp4(c.src, c.dst, c.tos, c.len),
        Kind::Tcp4 => tcp4(c.src, c.dst, c.tos, c.len),
        Kind::Udp6 => udp6(c.src, c.dst, c.tos, c.len.max(62)),
        Kind::Other(t) => raw(c.src, c.dst, t, &filler(c.len as u64, c.len - 14)),
    };
    match c.vlan {
        Some(v) => tag(&untagged, v),
        None => untagged,
    }
}

fn roundtrip(c: &Case) -> Result<(), TestCaseError> {
    let mut a = TestGw::with(&peer_config(c, true), PEER_A_MAC, OffloadCaps::default());
    let mut b = TestGw::with(&peer_config(c, false), PEER_B_MAC, OffloadCaps::default());
    let original = case_frame(c);
    let untagged = match c.vlan {
        Some(_) => untag(&original),
        None => original.clone(),
    };

    // Encapsulation on A.
    let (verdict, encapsulated) = a.access(&original, 1);
    prop_assert_eq!(verdict, Verdict::Forward(0));
    prop_assert_eq!(encapsulated.offload, None, "everything done in software");
    let bytes = encapsulated.bytes().to_vec();
    let o = Outer::parse(&bytes);
    prop_assert_eq!(
        &o.inner,
        &untagged,
        "the inner frame follows the outer headers"
    );
    prop_assert_eq!(o.eth.source, PEER_A_MAC);
    prop_assert_eq!(o.eth.destination, PEER_B_MAC);
    let (src_ip, dst_ip): (IpAddr, IpAddr) = if c.ipv6_underlay {
        ("fd00::1".parse().unwrap(), "fd00::2".parse().unwrap())
    } else {
        ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap())
    };
    prop_assert_eq!(o.src_ip(), src_ip);
    prop_assert_eq!(o.dst_ip(), dst_ip);
    prop_assert!(o.checksums_verify(), "outer checksums: {:?}", o);
    prop_assert_eq!(o.vni(), c.vni);
    let entropy = flow_hash(&untagged);
    match &o.ip {
        OuterIp::V4(h) => {
            prop_assert_eq!(h.time_to_live, c.ttl);
            prop_assert!(h.dont_fragment && !h.more_fragments);
            prop_assert_eq!(h.fragment_offset.value(), 0);
        }
        OuterIp::V6(h) => {
            prop_assert_eq!(h.hop_limit, c.ttl);
            prop_assert_eq!(h.flow_label.value(), entropy & 0xf_ffff);
        }
    }
    let inner_tos = match c.kind {
        Kind::Udp4 | Kind::Tcp4 | Kind::Udp6 => c.tos,
        Kind::Other(_) => 0,
    };
    let want_tos = match c.dscp {
        None => inner_tos,
        Some(d) => (d << 2) | (inner_tos & 3),
    };
    prop_assert_eq!(o.tos(), want_tos);
    match (c.encap, &o.udp) {
        (Encap::Vxlan, Some(u)) => {
            prop_assert_eq!(u.destination_port, 4789);
            prop_assert!((c.ports.0..=c.ports.1).contains(&u.source_port));
            prop_assert_eq!(
                u.source_port,
                SourcePorts::new(c.ports.0, c.ports.1).pick(entropy)
            );
            if !c.ipv6_underlay {
                prop_assert_eq!(u.checksum, 0);
            }
        }
        (Encap::Nvgre, None) => prop_assert_eq!(o.nvgre_flow_id(), flow_id(entropy)),
        (e, u) => prop_assert!(false, "{e:?} with UDP header {u:?}"),
    }
    prop_assert_eq!(
        a.fdb(c.vni, c.src),
        Some(FdbEntry::learned(Dest::Access(1), 0)),
        "the source is learned behind the access port"
    );
    prop_assert_eq!(a.counters(c.vni).encap_packets.get(), 1);
    prop_assert_eq!(a.counters(c.vni).encap_bytes.get(), bytes.len() as u64);

    // Decapsulation on B.
    let (verdict, decapsulated) = b.underlay(&bytes);
    prop_assert_eq!(verdict, Verdict::Forward(1));
    prop_assert_eq!(
        decapsulated.bytes(),
        &original[..],
        "decap(encap(frame)) == frame"
    );
    prop_assert_eq!(b.counters(c.vni).decap_packets.get(), 1);
    prop_assert_eq!(b.counters(c.vni).decap_bytes.get(), untagged.len() as u64);
    let learned = learned_events(&b.events());
    prop_assert_eq!(
        learned,
        vec![(
            key(&b, c.vni, c.src),
            Location::Remote {
                vtep: src_ip,
                encap: c.encap
            }
        )]
    );
    Ok(())
}

proptest! {
    // No regression files: a failure prints its minimal input, to be added as a unit test.
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// For any inner frame, VNI, encapsulation and underlay family: what one gateway
    /// encapsulates, its peer decapsulates to the same frame (tag removed and put back per
    /// the VNI's VLAN), with correct outer headers on the way.
    #[test]
    fn decap_of_encap_is_the_original_frame(c in case()) {
        roundtrip(&c)?;
    }

    /// A VXLAN/IPv6 packet's UDP checksum verifies for every inner length (odd included) up
    /// to what a 1500-byte MTU takes (1500 - 40 - 8 - 8).
    #[test]
    fn ipv6_udp_checksum_verifies_for_any_length(len in 60usize..=1444, seed in any::<u64>()) {
        let mut g = TestGw::new(BASE);
        let inner = tag(&raw(H1, R2, 0x88b5, &filler(seed, len - 14)), 400);
        let (v, f) = g.access(&inner, ACC2);
        prop_assert_eq!(v, Verdict::Forward(0));
        let o = Outer::parse(f.bytes());
        prop_assert!(o.checksums_verify());
    }
}

// --- outer header details ---------------------------------------------------------------

#[test]
fn vxlan4_outer_header() {
    let mut g = TestGw::new(&BASE.replace("mtu = 1500", "mtu = 1500\nttl = 33"));
    let inner = udp4(H1, R2, 0xb9, 100);
    let (v, f) = g.access(&inner, ACC1);
    assert_eq!(v, Verdict::Forward(0));
    let o = Outer::parse(f.bytes());
    assert_eq!(f.bytes().len(), 50 + 100);
    assert_eq!(o.eth.source, GW_MAC);
    assert_eq!(o.eth.destination, NH_MAC);
    let ip = o.v4();
    assert_eq!(ip.total_len, 20 + 8 + 8 + 100);
    assert_eq!(ip.options.len(), 0);
    assert!(ip.dont_fragment);
    assert_eq!(ip.time_to_live, 33);
    assert_eq!(ip.protocol, ep::IpNumber::UDP);
    assert_eq!(ip.source, v4("10.0.0.1"));
    assert_eq!(ip.destination, v4("10.0.0.2"));
    assert!(o.checksums_verify());
    let u = o.udp.clone().unwrap();
    assert_eq!(u.destination_port, 4789);
    assert_eq!(u.length, 8 + 8 + 100);
    assert_eq!(u.checksum, 0, "IPv4 VXLAN sends a zero UDP checksum");
    assert!((50000..=50999).contains(&u.source_port));
    assert_eq!(
        u.source_port,
        SourcePorts::new(50000, 50999).pick(flow_hash(&inner))
    );
    assert_eq!(o.vni(), 5000);
    assert_eq!(o.inner, inner);
    assert_eq!(f.offload, None);
}

#[test]
fn source_port_follows_the_flow() {
    let mut g = TestGw::new(BASE);
    let mut ports = std::collections::HashSet::new();
    for sport in 0..64u16 {
        let mut inner = Vec::new();
        ep::PacketBuilder::ethernet2(H1, R2)
            .ipv4(v4("192.168.1.1"), v4("192.168.1.2"), 64)
            .udp(1000 + sport, 53)
            .write(&mut inner, &[0; 30])
            .unwrap();
        let (_, f1) = g.access(&inner, ACC1);
        let (_, f2) = g.access(&inner, ACC1);
        let p1 = Outer::parse(f1.bytes()).udp.unwrap().source_port;
        let p2 = Outer::parse(f2.bytes()).udp.unwrap().source_port;
        assert_eq!(p1, p2, "one flow, one source port");
        assert!((50000..=50999).contains(&p1));
        ports.insert(p1);
    }
    assert!(ports.len() > 48, "flows spread: {} ports", ports.len());

    // The NIC's RSS hash, when there is one, is the entropy.
    for rss in [0u32, 1, 0x8000_0000, u32::MAX, 0xdead_beef] {
        let mut f = VecFrame::new(&udp4(H1, R2, 0, 60));
        f.rss = Some(rss);
        assert_eq!(g.gw.access(&mut f, ACC1), Verdict::Forward(0));
        let p = Outer::parse(f.bytes()).udp.unwrap().source_port;
        assert_eq!(p, SourcePorts::new(50000, 50999).pick(rss));
        assert!((50000..=50999).contains(&p));
    }
}

#[test]
fn vxlan6_udp_checksum_in_software() {
    let mut g = TestGw::new(BASE);
    // Odd inner length, tagged on the access port.
    let inner = udp4(H1, R2, 0x2e, 101);
    let (v, f) = g.access(&tag(&inner, 400), ACC2);
    assert_eq!(v, Verdict::Forward(0));
    assert_eq!(f.offload, None);
    let o = Outer::parse(f.bytes());
    assert_eq!(f.bytes().len(), 70 + 101);
    let ip = o.v6();
    assert_eq!(ip.payload_length, 8 + 8 + 101);
    assert_eq!(ip.next_header, ep::IpNumber::UDP);
    assert_eq!(ip.hop_limit, 64);
    assert_eq!(ip.source, v6("fd00::1"));
    assert_eq!(ip.destination, v6("fd00::2"));
    assert_eq!(ip.traffic_class, 0x2e);
    assert_eq!(ip.flow_label.value(), flow_hash(&inner) & 0xf_ffff);
    assert!(o.checksums_verify(), "UDP checksum over IPv6");
    assert_eq!(o.vni(), 9000);
    assert_eq!(o.inner, inner);
}

#[test]
fn vxlan6_udp_checksum_offload_leaves_the_pseudo_header_sum() {
    let caps = OffloadCaps {
        outer_udp_checksum: true,
        ..OffloadCaps::default()
    };
    let mut g = TestGw::with(BASE, GW_MAC, caps);
    let inner = udp4(H1, R2, 0, 80);
    let (v, f) = g.access(&tag(&inner, 400), ACC2);
    assert_eq!(v, Verdict::Forward(0));
    let o = f.offload.unwrap();
    assert!(o.outer_ipv6 && o.outer_udp_checksum);
    assert!(!o.tcp_segmentation && !o.outer_ipv4_checksum);
    assert_eq!(o.tunnel, Some(Encap::Vxlan));
    assert_eq!((o.outer_l2_len, o.outer_l3_len), (14, 40));
    let out = Outer::parse(f.bytes());
    let ip = out.v6();
    // What DPDK expects in the field for OUTER_UDP_CKSUM: the folded pseudo-header sum.
    let want = ones_fold(pseudo6(ip.source, ip.destination, 17, 8 + 8 + 80));
    assert_eq!(out.udp.unwrap().checksum, want);
}

#[test]
fn nvgre_key_and_flow_id() {
    let mut g = TestGw::new(BASE);
    // NVGRE over IPv4 (VSID 6001).
    let inner = udp4(H1, R2, 0, 64);
    let (v, f) = g.access(&tag(&inner, 201), ACC2);
    assert_eq!(v, Verdict::Forward(0));
    let o = Outer::parse(f.bytes());
    assert_eq!(f.bytes().len(), 42 + 64);
    assert_eq!(o.v4().protocol, ep::IpNumber::GRE);
    assert_eq!(o.v4().total_len, 20 + 8 + 64);
    assert!(o.checksums_verify());
    assert_eq!(o.vni(), 6001);
    assert_eq!(o.nvgre_flow_id(), flow_id(flow_hash(&inner)));
    assert_eq!(o.inner, inner);

    // NVGRE over IPv6 (VSID 6000), with an RSS hash.
    let mut f = VecFrame::new(&tag(&inner, 200));
    f.rss = Some(0x1234_5678);
    assert_eq!(g.gw.access(&mut f, ACC2), Verdict::Forward(0));
    let o = Outer::parse(f.bytes());
    assert_eq!(f.bytes().len(), 62 + 64);
    assert_eq!(o.v6().next_header, ep::IpNumber::GRE);
    assert_eq!(o.v6().payload_length, 8 + 64);
    assert_eq!(o.v6().flow_label.value(), 0x4_5678);
    assert_eq!(o.vni(), 6000);
    assert_eq!(o.nvgre_flow_id(), 0x12 ^ 0x34 ^ 0x56 ^ 0x78);
    assert_eq!(o.inner, inner);
    assert_eq!(f.offload, None, "NVGRE needs no checksum");
}

#[test]
fn dscp_inherit_and_fixed_copy_ecn() {
    // Inherit: the inner DSCP and ECN, IPv4 and IPv6 inner, IPv4 and IPv6 outer.
    let mut g = TestGw::new(BASE);
    for (inner, vlan, port) in [
        (udp4(H1, R2, 0xb9, 80), None, ACC1),
        (udp6(H1, R2, 0x4a, 80), None, ACC1),
        (udp4(H1, R2, 0xb9, 80), Some(400), ACC2),
        (udp6(H1, R2, 0x4a, 80), Some(400), ACC2),
    ] {
        let frame = vlan.map_or(inner.clone(), |v| tag(&inner, v));
        let (v, f) = g.access(&frame, port);
        assert_eq!(v, Verdict::Forward(0));
        let want = if inner[12..14] == [0x08, 0x00] {
            0xb9
        } else {
            0x4a
        };
        assert_eq!(Outer::parse(f.bytes()).tos(), want);
    }
    // Non-IP inner: 0.
    let (_, f) = g.access(&raw(H1, R2, 0x88b5, &[0x45; 60]), ACC1);
    assert_eq!(Outer::parse(f.bytes()).tos(), 0);

    // Fixed DSCP 10: ECN still copied (RFC 6040 normal mode).
    let mut g = TestGw::new(&BASE.replace("mtu = 1500", "mtu = 1500\ndscp = 10"));
    for (ecn, vlan, port) in [(0u8, None, ACC1), (3, None, ACC1), (1, Some(400), ACC2)] {
        let inner = udp4(H1, R2, (46 << 2) | ecn, 80);
        let frame = vlan.map_or(inner.clone(), |v| tag(&inner, v));
        let (v, f) = g.access(&frame, port);
        assert_eq!(v, Verdict::Forward(0));
        let o = Outer::parse(f.bytes());
        assert_eq!(o.tos(), (10 << 2) | ecn);
        assert!(o.checksums_verify());
    }
    let (_, f) = g.access(&raw(H1, R2, 0x88b5, &[0x45; 60]), ACC1);
    assert_eq!(Outer::parse(f.bytes()).tos(), 10 << 2);
}

/// `[qos]`: the access tag's PCP picks the outer DSCP (an explicit list), the outer DSCP the
/// pushed tag's PCP (class selector, EF as an exception).
const QOS: &str = "
[qos]
pcp_to_dscp = [0, 10, 18, 26, 34, 46, 48, 56]
dscp_to_pcp = { 46 = 6 }
";

#[test]
fn pcp_chooses_the_outer_dscp_and_the_outer_dscp_the_pcp() {
    let mut g = TestGw::new(&format!("{BASE}{QOS}"));
    let inner = udp4(H1, R2, (10 << 2) | 1, 80);
    // VLAN 100 with PCP 5 to R2: DSCP 46 whatever the inner's, ECN copied (RFC 6040).
    for (frame, port, want) in [
        (tag_pcp(&inner, 100, 5), ACC2, 46),
        // A priority tag on acc1's native VNI: PCP 3.
        (tag_pcp(&inner, 0, 3), ACC1, 26),
        (tag_pcp(&inner, 100, 0), ACC2, 0),
        // Untagged: underlay.dscp ("inherit").
        (inner.clone(), ACC1, 10),
    ] {
        let (v, f) = g.access(&frame, port);
        assert_eq!(v, Verdict::Forward(0));
        let o = Outer::parse(f.bytes());
        assert_eq!(o.tos(), (want << 2) | 1, "{:?}", vid_pcp_of(&frame));
        assert!(o.checksums_verify());
        assert_eq!(o.inner, inner);
    }

    // From the tunnel to L3 behind acc2 (VLAN 100): EF gets the exception, AF31 its class,
    // the ECN bits play no part.
    for (outer_tos, pcp) in [(46 << 2, 6), ((26 << 2) | 1, 3), (0, 0), (63 << 2, 7)] {
        let p = vxlan4_packet(
            "10.0.0.2",
            "10.0.0.1",
            outer_tos,
            5000,
            &udp4(R2, L3, 0, 60),
        );
        let (v, f) = g.underlay(&p);
        assert_eq!(v, Verdict::Forward(ACC2), "outer TOS {outer_tos:#x}");
        assert_eq!(
            vid_pcp_of(f.bytes()),
            Some((100, pcp)),
            "outer TOS {outer_tos:#x}"
        );
    }
    // A flood's tagged copies carry it as well.
    let p = vxlan4_packet(
        "10.0.0.2",
        "10.0.0.1",
        46 << 2,
        5000,
        &udp4(R2, BCAST, 0, 60),
    );
    let (v, _) = g.underlay(&p);
    let Verdict::Flood(fl) = v else {
        panic!("{v:?}")
    };
    let tags: Vec<Option<u16>> =
        g.gw.flood_targets(fl)
            .filter_map(|t| match t {
                Target::Access { vlan, .. } => Some(vlan),
                Target::Tunnel(_) => None,
            })
            .collect();
    assert!(tags.contains(&None), "acc1 is native: {tags:?}");
    let tagged: Vec<u16> = tags.into_iter().flatten().collect();
    assert!(!tagged.is_empty());
    assert!(tagged.iter().all(|t| *t == 100 | 6 << 13), "{tagged:x?}");
}

#[test]
fn access_to_access_keeps_the_pcp_and_no_map_pushes_zero() {
    for qos in ["", QOS] {
        let mut g = TestGw::new(&format!("{BASE}{qos}"));
        // A priority-tagged frame on acc1 to L3 behind acc2 leaves on VLAN 100 with its PCP.
        let (v, f) = g.access(&tag_pcp(&udp4(H1, L3, 0, 60), 0, 3), ACC1);
        assert_eq!(v, Verdict::Forward(ACC2));
        assert_eq!(vid_pcp_of(f.bytes()), Some((100, 3)), "qos {qos:?}");
        let (_, f) = g.access(&udp4(H1, L3, 0, 60), ACC1);
        assert_eq!(vid_pcp_of(f.bytes()), Some((100, 0)), "untagged: PCP 0");
    }
    // Without [qos] the outer DSCP does not choose a priority, and the PCP does not choose
    // the DSCP.
    let mut g = TestGw::new(BASE);
    let p = vxlan4_packet("10.0.0.2", "10.0.0.1", 46 << 2, 5000, &udp4(R2, L3, 0, 60));
    let (_, f) = g.underlay(&p);
    assert_eq!(vid_pcp_of(f.bytes()), Some((100, 0)));
    let inner = udp4(H1, R2, 10 << 2, 80);
    let (_, f) = g.access(&tag_pcp(&inner, 100, 5), ACC2);
    assert_eq!(Outer::parse(f.bytes()).tos(), 10 << 2);
}

// --- learning -----------------------------------------------------------------------------

#[test]
fn access_learning_installs_and_reports_once() {
    let mut g = TestGw::new(BASE);
    let frame = udp4(H1, BCAST, 0, 60);
    let (v, _) = g.access(&frame, ACC1);
    assert!(matches!(v, Verdict::Flood(_)));
    assert_eq!(
        g.fdb(5000, H1),
        Some(FdbEntry::learned(Dest::Access(ACC1), 0))
    );
    assert_eq!(
        learned_events(&g.events()),
        vec![(key(&g, 5000, H1), Location::Access(ACC1))]
    );
    assert_eq!(g.counters(5000).learn_events.get(), 1);

    // Same tick: nothing new to say.
    g.access(&frame, ACC1);
    g.access(&udp4(H1, R2, 0, 60), ACC1);
    assert!(g.events().is_empty());

    // A second later: one refresh, then quiet again.
    g.gw.set_now(REFRESH_TICKS);
    g.access(&frame, ACC1);
    g.access(&frame, ACC1);
    let events = g.events();
    assert_eq!(events.len(), 1);
    assert!(matches!(events[0], Event::Refreshed(k) if k == key(&g, 5000, H1)));

    // A move to another port (tagged there): installed and reported.
    let (v, _) = g.access(&tag(&frame, 100), ACC2);
    assert!(matches!(v, Verdict::Flood(_)));
    assert_eq!(
        g.fdb(5000, H1),
        Some(FdbEntry::learned(Dest::Access(ACC2), REFRESH_TICKS))
    );
    assert_eq!(
        learned_events(&g.events()),
        vec![(key(&g, 5000, H1), Location::Access(ACC2))]
    );
    assert_eq!(g.counters(5000).learn_events.get(), 2);
}

#[test]
fn static_entries_never_move() {
    let mut g = TestGw::new(BASE);
    let before_r2 = g.fdb(5000, R2).unwrap();
    let before_l3 = g.fdb(5000, L3).unwrap();
    assert!(before_r2.is_static && before_l3.is_static);
    assert_eq!(
        before_r2.dest,
        Dest::Tunnel(g.tunnel("10.0.0.2", Encap::Vxlan))
    );
    // R2 (static behind a VTEP) and L3 (static behind port 2) show up on port 1.
    g.access(&udp4(R2, BCAST, 0, 60), ACC1);
    g.access(&udp4(L3, H2, 0, 60), ACC1);
    // And R2 from another VTEP.
    g.underlay(&vxlan4_packet(
        "10.0.0.3",
        "10.0.0.1",
        0,
        5000,
        &udp4(R2, H2, 0, 60),
    ));
    assert_eq!(g.fdb(5000, R2), Some(before_r2));
    assert_eq!(g.fdb(5000, L3), Some(before_l3));
    // Each attempt is reported, so that the management thread counts the refused move.
    assert_eq!(learned_events(&g.events()).len(), 3);
}

#[test]
fn max_macs_stops_learning_in_that_vni_only() {
    let mut g = TestGw::new(BASE);
    // VNI 7000 (untagged on port 3) allows 2 learned MACs.
    for mac in [H1, H2, H3] {
        assert_eq!(
            g.access(&udp4(mac, BCAST, 0, 60), ACC3).0,
            Verdict::Drop(DropReason::NoFloodDestination)
        );
    }
    assert!(g.fdb(7000, H1).is_some());
    assert!(g.fdb(7000, H2).is_some());
    assert_eq!(g.fdb(7000, H3), None);
    assert_eq!(g.counters(7000).mac_limit_hits.get(), 1);
    assert_eq!(g.gw.tables.fdb.learned_in(g.vni(7000)), 2);
    let learned = learned_events(&g.events());
    assert_eq!(learned.len(), 2, "the refused MAC is not reported");
    // Known MACs keep working.
    g.access(&udp4(H1, BCAST, 0, 60), ACC3);
    assert_eq!(g.counters(7000).mac_limit_hits.get(), 1);
    // Other VNIs are not limited.
    g.access(&udp4(H3, BCAST, 0, 60), ACC1);
    assert!(g.fdb(5000, H3).is_some());
    assert_eq!(g.counters(5000).mac_limit_hits.get(), 0);
}

#[test]
fn learning_off_learns_nothing() {
    let mut g = TestGw::new(BASE);
    let (v, _) = g.access(&tag(&udp4(H1, BCAST, 0, 60), 300), ACC1);
    assert!(matches!(v, Verdict::Flood(_)));
    assert_eq!(g.fdb(8000, H1), None);
    assert!(g.events().is_empty());
}

#[test]
fn decap_learning_with_a_known_tunnel_installs() {
    let mut g = TestGw::new(BASE);
    let p = vxlan4_packet("10.0.0.3", "10.0.0.1", 0, 5000, &udp4(R9, BCAST, 0, 60));
    let (v, _) = g.underlay(&p);
    assert!(matches!(v, Verdict::Flood(_)));
    let t3 = g.tunnel("10.0.0.3", Encap::Vxlan);
    assert_eq!(
        g.fdb(5000, R9),
        Some(FdbEntry::learned(Dest::Tunnel(t3), 0))
    );
    let at = Location::Remote {
        vtep: "10.0.0.3".parse().unwrap(),
        encap: Encap::Vxlan,
    };
    assert_eq!(learned_events(&g.events()), vec![(key(&g, 5000, R9), at)]);
    // Now frames to R9 go through that tunnel.
    let (v, f) = g.access(&udp4(H1, R9, 0, 60), ACC1);
    assert_eq!(v, Verdict::Forward(0));
    assert_eq!(
        Outer::parse(f.bytes()).dst_ip(),
        "10.0.0.3".parse::<IpAddr>().unwrap()
    );
}

#[test]
fn decap_learning_refreshes_in_place_and_follows_a_move_between_vteps() {
    let mut g = TestGw::new(BASE);
    let from = |vtep| vxlan4_packet(vtep, "10.0.0.1", 0, 5000, &udp4(R9, BCAST, 0, 60));
    let (t2, t3) = (
        g.tunnel("10.0.0.2", Encap::Vxlan),
        g.tunnel("10.0.0.3", Encap::Vxlan),
    );
    g.underlay(&from("10.0.0.3"));
    assert_eq!(learned_events(&g.events()).len(), 1);
    // Known where it is: nothing to say within the refresh period, one refresh after it.
    g.underlay(&from("10.0.0.3"));
    assert!(g.events().is_empty());
    g.gw.set_now(REFRESH_TICKS);
    g.underlay(&from("10.0.0.3"));
    g.underlay(&from("10.0.0.3"));
    let events = g.events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(matches!(events[0], Event::Refreshed(k) if k == key(&g, 5000, R9)));
    assert_eq!(
        g.fdb(5000, R9),
        Some(FdbEntry::learned(Dest::Tunnel(t3), REFRESH_TICKS))
    );
    // Seen behind another VTEP: moved there and reported.
    g.underlay(&from("10.0.0.2"));
    assert_eq!(
        g.fdb(5000, R9),
        Some(FdbEntry::learned(Dest::Tunnel(t2), REFRESH_TICKS))
    );
    let at = Location::Remote {
        vtep: "10.0.0.2".parse().unwrap(),
        encap: Encap::Vxlan,
    };
    assert_eq!(learned_events(&g.events()), vec![(key(&g, 5000, R9), at)]);
}

#[test]
fn decap_learning_from_an_unknown_vtep_only_reports() {
    let mut g = TestGw::new(BASE);
    let p = vxlan4_packet("10.0.0.9", "10.0.0.1", 0, 5000, &udp4(R9, BCAST, 0, 60));
    let at = Location::Remote {
        vtep: "10.0.0.9".parse().unwrap(),
        encap: Encap::Vxlan,
    };
    assert!(matches!(g.underlay(&p).0, Verdict::Flood(_)));
    assert_eq!(g.fdb(5000, R9), None, "no tunnel to install it with");
    assert_eq!(learned_events(&g.events()), vec![(key(&g, 5000, R9), at)]);
    // Every packet would report it: the filter lets it through once per tick.
    g.underlay(&p);
    g.underlay(&p);
    assert!(g.events().is_empty());
    g.gw.set_now(1);
    g.underlay(&p);
    assert_eq!(learned_events(&g.events()), vec![(key(&g, 5000, R9), at)]);
}

// --- flooding -----------------------------------------------------------------------------

#[test]
fn broadcast_from_access_floods_to_other_ports_and_vteps() {
    let mut g = TestGw::new(BASE);
    let frame = udp4(H1, BCAST, 0, 60);
    let (v, f) = g.access(&frame, ACC1);
    let Verdict::Flood(flood) = v else {
        panic!("{v:?}")
    };
    assert_eq!(flood.vni, g.vni(5000));
    assert_eq!(flood.except, Some(ACC1));
    assert!(flood.to_underlay);
    assert_eq!(
        g.gw.inner_meta(f.bytes(), None).entropy,
        flow_hash(&frame),
        "copies to VTEPs hash the untagged frame"
    );
    assert_eq!(f.bytes(), &frame[..], "the buffer holds the untagged frame");
    let targets: Vec<Target> = g.gw.flood_targets(flood).collect();
    assert_eq!(
        targets,
        vec![
            Target::Access {
                port: ACC2,
                vlan: Some(100)
            },
            Target::Access {
                port: ACC3,
                vlan: Some(100)
            },
            Target::Tunnel(g.tunnel("10.0.0.2", Encap::Vxlan)),
            Target::Tunnel(g.tunnel("10.0.0.3", Encap::Vxlan)),
        ]
    );
    // The flood tunnels are resolved, with the VNI's id.
    for t in [
        g.tunnel("10.0.0.2", Encap::Vxlan),
        g.tunnel("10.0.0.3", Encap::Vxlan),
    ] {
        let (id, outer) = g.gw.flood_tunnel(flood.vni, t).unwrap();
        assert_eq!(id.id.get(), 5000);
        assert_eq!(outer.dst_mac(), MacAddr(NH_MAC));
    }

    // Tagged, from port 2: the tag is gone from the buffer, port 1 gets it untagged.
    let (v, f) = g.access(&tag(&udp4(H2, BCAST, 0, 60), 100), ACC2);
    let Verdict::Flood(flood) = v else {
        panic!("{v:?}")
    };
    assert_eq!(flood.except, Some(ACC2));
    assert_eq!(f.bytes(), &udp4(H2, BCAST, 0, 60)[..]);
    let targets: Vec<Target> = g.gw.flood_targets(flood).take(2).collect();
    assert_eq!(
        targets,
        vec![
            Target::Access {
                port: ACC1,
                vlan: None
            },
            Target::Access {
                port: ACC3,
                vlan: Some(100)
            },
        ]
    );

    // Unknown unicast and multicast flood too.
    assert!(matches!(
        g.access(&udp4(H1, R9, 0, 60), ACC1).0,
        Verdict::Flood(Flood {
            to_underlay: true,
            ..
        })
    ));
    assert!(matches!(
        g.access(&udp4(H1, [0x01, 0, 0x5e, 0, 0, 1], 0, 60), ACC1).0,
        Verdict::Flood(_)
    ));
}

#[test]
fn flood_to_a_multicast_group() {
    let cfg = BASE.replace(
        "vlan = 300\nflood = [\"10.0.0.2\"]",
        "vlan = 300\nmulticast_group = \"239.1.1.1\"",
    );
    let mut g = TestGw::new(&cfg);
    let (v, _) = g.access(&tag(&udp4(H1, BCAST, 0, 60), 300), ACC2);
    let Verdict::Flood(flood) = v else {
        panic!("{v:?}")
    };
    let group = g.tunnel("239.1.1.1", Encap::Vxlan);
    let targets: Vec<Target> = g.gw.flood_targets(flood).collect();
    assert_eq!(targets.last(), Some(&Target::Tunnel(group)));
    assert_eq!(targets.len(), 3);
    let (_, outer) = g.gw.flood_tunnel(flood.vni, group).unwrap();
    assert_eq!(outer.dst_mac(), MacAddr([0x01, 0, 0x5e, 1, 1, 1]));
    // Packets to the group are accepted on decap.
    let p = vxlan4_packet("10.0.0.2", "239.1.1.1", 0, 8000, &udp4(R9, BCAST, 0, 60));
    assert!(matches!(g.underlay(&p).0, Verdict::Flood(_)));
}

/// A VNI that moves to another group (the API, a reload): the gateway receives the new
/// group at once and no longer the old one, also through the fast path's learned shapes.
#[test]
fn a_vni_changed_to_another_group_receives_it_and_leaves_the_old() {
    let cfg = BASE.replace(
        "vlan = 300\nflood = [\"10.0.0.2\"]",
        "vlan = 300\nmulticast_group = \"239.1.1.1\"",
    );
    let mut g = TestGw::new(&cfg);
    let to = |group: &str| vxlan4_packet("10.0.0.2", group, 0, 8000, &udp4(R9, BCAST, 0, 60));
    let frames = vec![to("239.1.1.1"); 4];
    assert!(g
        .burst(&frames, 0)
        .iter()
        .all(|(v, _)| matches!(v, Verdict::Flood(_))));
    assert_eq!(
        g.underlay(&to("239.1.1.5")).0,
        Verdict::Drop(DropReason::NotLocal)
    );

    let mut moved = g
        .authority
        .vni_config(Vni::new(8000).unwrap())
        .unwrap()
        .clone();
    moved.multicast_group = Some("239.1.1.5".parse().unwrap());
    let members = g.authority.members_of(moved.id);
    let changes = g.authority.update_vni(&moved, members).unwrap();
    assert!(changes.contains(&crate::tables::authority::Change::Groups));
    for c in &changes {
        g.sync.send(g.authority.render(c)).unwrap();
    }
    g.gw.apply_updates(usize::MAX);
    let garbage = g
        .events()
        .into_iter()
        .filter(|e| matches!(e, Event::Garbage(Garbage::Groups(_))))
        .count();
    assert_eq!(garbage, 1, "the old groups go back to be freed");
    assert!(matches!(g.underlay(&to("239.1.1.5")).0, Verdict::Flood(_)));
    let old = vec![to("239.1.1.1"); 4];
    assert!(g
        .burst(&old, 0)
        .iter()
        .all(|(v, _)| *v == Verdict::Drop(DropReason::NotLocal)));
}

#[test]
fn broadcast_from_underlay_floods_to_access_ports_only() {
    let mut g = TestGw::new(BASE);
    let inner = udp4(R9, BCAST, 0, 60);
    let (v, f) = g.underlay(&vxlan4_packet("10.0.0.2", "10.0.0.1", 0, 5000, &inner));
    let Verdict::Flood(flood) = v else {
        panic!("{v:?}")
    };
    assert_eq!(flood.except, None);
    assert!(!flood.to_underlay);
    assert_eq!(f.bytes(), &inner[..]);
    let targets: Vec<Target> = g.gw.flood_targets(flood).collect();
    assert_eq!(
        targets,
        vec![
            Target::Access {
                port: ACC1,
                vlan: None
            },
            Target::Access {
                port: ACC2,
                vlan: Some(100)
            },
            Target::Access {
                port: ACC3,
                vlan: Some(100)
            },
        ]
    );
}

#[test]
fn nowhere_to_flood_is_a_drop() {
    let mut g = TestGw::new(BASE);
    // VNI 7000: only port 3, no VTEPs.
    assert_eq!(
        g.access(&udp4(H1, BCAST, 0, 60), ACC3).0,
        Verdict::Drop(DropReason::NoFloodDestination)
    );
    // From the underlay the only member is a destination.
    let p = vxlan4_packet("10.0.0.2", "10.0.0.1", 0, 7000, &udp4(R9, BCAST, 0, 60));
    let (v, _) = g.underlay(&p);
    let Verdict::Flood(flood) = v else {
        panic!("{v:?}")
    };
    assert_eq!(
        g.gw.flood_targets(flood).collect::<Vec<_>>(),
        vec![Target::Access {
            port: ACC3,
            vlan: None
        }]
    );
}

// --- forwarding and drop reasons ----------------------------------------------------------

#[test]
fn local_bridging_between_access_ports() {
    let mut g = TestGw::new(BASE);
    // Port 1 (untagged) → L3 behind port 2 (VLAN 100).
    let frame = udp4(H1, L3, 0, 60);
    let (v, f) = g.access(&frame, ACC1);
    assert_eq!(v, Verdict::Forward(ACC2));
    assert_eq!(f.bytes(), &tag(&frame, 100)[..]);
    // And back: tag removed for the untagged port.
    let back = udp4(L3, H1, 0, 60);
    let (v, f) = g.access(&tag(&back, 100), ACC2);
    assert_eq!(v, Verdict::Forward(ACC1));
    assert_eq!(f.bytes(), &back[..]);
    // Decap to a local MAC: tagged for its port...
    let to_l3 = udp4(R9, L3, 0, 60);
    let (v, f) = g.underlay(&vxlan4_packet("10.0.0.2", "10.0.0.1", 0, 5000, &to_l3));
    assert_eq!(v, Verdict::Forward(ACC2));
    assert_eq!(f.bytes(), &tag(&to_l3, 100)[..]);
    // ...and untagged for the port whose native VNI it is.
    let to_h1 = udp4(R9, H1, 0, 60);
    let (v, f) = g.underlay(&vxlan4_packet("10.0.0.2", "10.0.0.1", 0, 5000, &to_h1));
    assert_eq!(v, Verdict::Forward(ACC1));
    assert_eq!(f.bytes(), &to_h1[..]);
    // The native VLAN's tag is accepted on that port too; frames leave it untagged.
    let (v, f) = g.access(&tag(&frame, 100), ACC1);
    assert_eq!(v, Verdict::Forward(ACC2));
    assert_eq!(f.bytes(), &tag(&frame, 100)[..]);
    // A tag the NIC stripped on receive (PCP bits set) counts like one in the frame.
    let mut f = VecFrame::new(&back);
    f.vlan = Some((5 << 13) | 100);
    assert_eq!(g.gw.access(&mut f, ACC2), Verdict::Forward(ACC1));
    assert_eq!(f.bytes(), &back[..]);
}

/// IEEE 802.1Q: a priority-tagged frame (VID 0) belongs to the port's native VLAN, as if
/// untagged (hosts that send 802.1p priority without a VLAN do this). (Regression: it was
/// dropped as `unmapped_vlan`.)
#[test]
fn priority_tagged_frames_belong_to_the_native_vni() {
    let mut g = TestGw::new(BASE);
    let frame = udp4(H1, L3, 0, 60);
    let (v, f) = g.access(&tag(&frame, 0), ACC1);
    assert_eq!(v, Verdict::Forward(ACC2));
    assert_eq!(f.bytes(), &tag(&frame, 100)[..]);
}

#[test]
fn access_drop_reasons() {
    let mut g = TestGw::new(BASE);
    let drop = |r| Verdict::Drop(r);
    // Destination behind the port it came from (the source is still learned).
    assert_eq!(
        g.access(&tag(&udp4(H1, L3, 0, 60), 100), ACC2).0,
        drop(DropReason::SamePort)
    );
    assert_eq!(learned_events(&g.events()).len(), 1);
    // Source MAC multicast, broadcast, zero.
    for src in [[0x01, 0, 0x5e, 0, 0, 1], BCAST, [0; 6]] {
        assert_eq!(
            g.access(&udp4(src, R2, 0, 60), ACC1).0,
            drop(DropReason::BadSourceMac)
        );
    }
    // 802.1ad outer tag, and two 802.1Q tags.
    let inner = udp4(H1, R2, 0, 60);
    assert_eq!(
        g.access(
            &tag_with(&inner, ep::EtherType::PROVIDER_BRIDGING, 100),
            ACC1
        )
        .0,
        drop(DropReason::QinqUnsupported)
    );
    assert_eq!(
        g.access(&tag(&tag(&inner, 100), 100), ACC2).0,
        drop(DropReason::QinqUnsupported)
    );
    assert_eq!(
        g.access(
            &tag(&tag_with(&inner, ep::EtherType::PROVIDER_BRIDGING, 7), 100),
            ACC2
        )
        .0,
        drop(DropReason::QinqUnsupported)
    );
    // A VLAN no VNI uses, and untagged on a port without an untagged VNI.
    assert_eq!(
        g.access(&tag(&inner, 999), ACC1).0,
        drop(DropReason::UnmappedVlan)
    );
    assert_eq!(g.access(&inner, ACC2).0, drop(DropReason::UntaggedNoVni));
    // A port the configuration does not have.
    assert_eq!(g.access(&inner, 9).0, drop(DropReason::UntaggedNoVni));
    // Shorter than an Ethernet header.
    assert_eq!(g.access(&inner[..13], ACC1).0, drop(DropReason::Runt));
    // None of these learned anything.
    assert!(g.events().is_empty());
}

#[test]
fn tunnel_without_a_resolved_neighbour() {
    let cfg = BASE.replace("next_hop_mac = \"02:00:00:00:00:fe\"\n", "");
    let mut g = TestGw::new(&cfg);
    assert_eq!(
        g.access(&udp4(H1, R2, 0, 60), ACC1).0,
        Verdict::Drop(DropReason::NeighborUnresolved)
    );
    assert!(g
        .gw
        .flood_tunnel(g.vni(5000), g.tunnel("10.0.0.2", Encap::Vxlan))
        .is_none());
    // Once the management thread resolves it, the tunnel works.
    let changes = g
        .authority
        .set_neighbor("10.0.0.2".parse().unwrap(), Some(MacAddr(NH_MAC)));
    assert!(!changes.is_empty());
    for c in &changes {
        g.gw.tables.apply(g.authority.render(c), 0);
    }
    assert_eq!(g.access(&udp4(H1, R2, 0, 60), ACC1).0, Verdict::Forward(0));
}

#[test]
fn mtu_exceeded_or_segmented() {
    let mut g = TestGw::new(BASE);
    // Largest inner frame that fits a 1500-byte IPv4 VXLAN packet: 1500 - 36.
    let (v, f) = g.access(&udp4(H1, R2, 0, 1464), ACC1);
    assert_eq!(v, Verdict::Forward(0));
    assert_eq!(Outer::parse(f.bytes()).v4().total_len, 1500);
    // One byte more: UDP that may be fragmented is dropped (a VTEP never fragments)...
    assert_eq!(
        g.access(&may_fragment(udp4(H1, R2, 0, 1465)), ACC1).0,
        Verdict::Drop(DropReason::MtuExceeded)
    );
    // ...TCP/IPv4 is segmented.
    let inner = tcp4(H1, R2, 0, 1514);
    let (v, f) = g.access(&inner, ACC1);
    assert_eq!(v, Verdict::Segment(0));
    let o = f.offload.unwrap();
    assert!(o.tcp_segmentation && o.outer_ipv4_checksum);
    assert_eq!(o.tunnel, Some(Encap::Vxlan));
    assert_eq!(
        (o.outer_l2_len, o.outer_l3_len, o.l2_len, o.l3_len, o.l4_len),
        (14, 20, 8 + 8 + 14, 20, 20)
    );
    assert!(o.tso_segsz > 0);
    let out = Outer::parse(f.bytes());
    assert_eq!(out.inner, inner);
    assert!(out.checksums_verify());
    assert_eq!(g.counters(5000).encap_packets.get(), 2);
    // NVGRE too.
    let (v, f) = g.access(&tag(&tcp4(H1, R2, 0, 1514), 201), ACC2);
    assert_eq!(v, Verdict::Segment(0));
    assert_eq!(f.offload.unwrap().tunnel, Some(Encap::Nvgre));
    assert_eq!(f.offload.unwrap().l2_len, 8 + 14);
    // TCP inside an IPv6 tunnel, and TCP/IPv6 inside an IPv4 one: not segmented.
    assert_eq!(
        g.access(&tag(&may_fragment(tcp4(H1, R2, 0, 1514)), 400), ACC2)
            .0,
        Verdict::Drop(DropReason::MtuExceeded)
    );
    assert!(matches!(
        g.access(&tcp6(H1, R2, 1514), ACC1).0,
        Verdict::Forward(ACC1)
    ));
}

/// `frame` (untagged IPv4) with DF cleared.
fn may_fragment(mut frame: Vec<u8>) -> Vec<u8> {
    let (mut h, _) = ep::Ipv4Header::from_slice(&frame[14..]).unwrap();
    h.dont_fragment = false;
    h.header_checksum = h.calc_header_checksum();
    frame[14..34].copy_from_slice(&h.to_bytes());
    frame
}

/// Path MTU discovery through the gateway: a frame too big for the underlay once
/// encapsulated, and not segmented, gets ICMP fragmentation needed (IPv4 with DF) or ICMPv6
/// packet too big back where it came from, from its destination, with the MTU the tunnel
/// leaves; the sender's next packet of that size fits.
#[test]
fn too_big_for_the_tunnel_gets_fragmentation_needed_or_packet_too_big() {
    let mut g = TestGw::new(BASE);
    let sent = udp4(H1, R2, 0, 1465);
    assert!(
        ep::Ipv4Header::from_slice(&sent[14..])
            .unwrap()
            .0
            .dont_fragment
    );
    let (v, f) = g.access(&sent, ACC1);
    assert_eq!(v, Verdict::Forward(ACC1), "back on the port it came from");
    let (eth, rest) = ep::Ethernet2Header::from_slice(f.bytes()).unwrap();
    assert_eq!(
        (eth.destination, eth.source),
        (H1, R2),
        "from the destination's MAC"
    );
    let (ip, icmp) = ep::Ipv4Header::from_slice(rest).unwrap();
    assert_eq!(
        (ip.source, ip.destination),
        (v4("192.168.1.2"), v4("192.168.1.1"))
    );
    assert_eq!(ip.header_checksum, ip.calc_header_checksum());
    assert_eq!(
        &icmp[..2],
        &[3, 4],
        "destination unreachable, fragmentation needed"
    );
    // 1500 less the outer IPv4, UDP, VXLAN and inner Ethernet headers.
    assert_eq!(u16::from_be_bytes([icmp[6], icmp[7]]), 1450);
    assert_eq!(crate::wire::checksum::checksum(icmp), 0);
    assert_eq!(
        &icmp[8..8 + 28],
        &sent[14..14 + 28],
        "quotes the header and 8 bytes"
    );
    assert_eq!(g.gw.counters().local.too_big.get(), 1);
    // At that MTU the packet fits: 1450 bytes of IP, 1464 of frame.
    assert_eq!(
        g.access(&udp4(H1, R2, 0, 14 + 1450), ACC1).0,
        Verdict::Forward(0)
    );

    // IPv6 in the IPv4 tunnel: packet too big, tagged back on the access port's VLAN.
    let six = tag(&tcp6(H1, R2, 1514), 100);
    let (v, f) = g.access(&six, ACC2);
    assert_eq!(v, Verdict::Forward(ACC2));
    assert_eq!(vid_of(f.bytes()), Some(100));
    let back = untag(f.bytes());
    let (ip6, icmp) = ep::Ipv6Header::from_slice(&back[14..]).unwrap();
    assert_eq!(ip6.next_header, ep::IpNumber::IPV6_ICMP);
    assert_eq!(icmp[0], 2, "packet too big");
    assert_eq!(
        u32::from_be_bytes([icmp[4], icmp[5], icmp[6], icmp[7]]),
        1450
    );
    assert!(
        back.len() <= 14 + 1280,
        "an ICMPv6 error fits the minimum MTU"
    );
    let sum = crate::wire::checksum::sum(
        crate::wire::checksum::pseudo_header_v6(
            &ip6.source.into(),
            &ip6.destination.into(),
            58,
            icmp.len() as u32,
        ),
        icmp,
    );
    assert_eq!(crate::wire::checksum::fold(sum), 0xffff);

    // Never about ICMP errors (nor floods: those go copy by copy, each dropped if too big).
    let answered = g.gw.counters().local.too_big.get();
    let mut error = udp4(H1, R2, 0, 1465);
    error[14 + 9] = 1;
    error[34] = 3;
    let (mut h, _) = ep::Ipv4Header::from_slice(&error[14..]).unwrap();
    h.header_checksum = h.calc_header_checksum();
    error[14..34].copy_from_slice(&h.to_bytes());
    assert_eq!(
        g.access(&error, ACC1).0,
        Verdict::Drop(DropReason::MtuExceeded)
    );
    assert_eq!(g.gw.counters().local.too_big.get(), answered);
}

/// DPDK's tunnel convention (and `Offload`'s own doc): `l2_len` is the outer L4 header plus
/// the tunnel header plus the inner Ethernet header, as `tunnel_tcp4_segmentation` has it.
/// (Regression: it was 16, without the inner Ethernet header.)
#[test]
fn outer_udp6_offload_l2_len_covers_the_inner_ethernet_header() {
    let caps = OffloadCaps {
        outer_udp_checksum: true,
        ..OffloadCaps::default()
    };
    let mut g = TestGw::with(BASE, GW_MAC, caps);
    let (v, f) = g.access(&tag(&udp4(H1, R2, 0, 80), 400), ACC2);
    assert_eq!(v, Verdict::Forward(0));
    assert_eq!(f.offload.unwrap().l2_len, 8 + 8 + 14);
}

/// Each segment of an encapsulated TCP packet must fit the underlay MTU: outer IP header +
/// tunnel header + inner Ethernet + inner IP + TCP + `tso_segsz` <= mtu. (`tso_segsz` is
/// what a NIC with tunnel TSO cuts to; librte_gso is given the frame size instead.)
/// (Regression: segments were 14 bytes over the MTU.)
#[test]
fn segments_fit_the_mtu() {
    let mut g = TestGw::new(BASE);
    for (frame, port) in [
        (tcp4(H1, R2, 0, 1514), ACC1),
        (tag(&tcp4(H1, R2, 0, 1514), 201), ACC2),
    ] {
        let (v, f) = g.access(&frame, port);
        assert_eq!(v, Verdict::Segment(0));
        let o = f.offload.unwrap();
        // l2_len is the tunnel header plus the inner Ethernet header (DPDK's convention).
        let segment_ip_len =
            usize::from(o.outer_l3_len + o.l2_len + o.l3_len + o.l4_len + o.tso_segsz);
        assert!(
            segment_ip_len <= 1500,
            "{:?}: a full segment is a {segment_ip_len}-byte outer IP packet",
            o.tunnel
        );
    }
}

#[test]
fn underlay_drop_reasons() {
    let mut g = TestGw::new(BASE);
    let drop = |r| Verdict::Drop(r);
    let inner = udp4(R9, H1, 0, 60);
    // A destination behind another VTEP: never back into the underlay.
    assert_eq!(
        g.underlay(&vxlan4_packet(
            "10.0.0.3",
            "10.0.0.1",
            0,
            5000,
            &udp4(R9, R2, 0, 60)
        ))
        .0,
        drop(DropReason::SplitHorizon)
    );
    assert_eq!(
        learned_events(&g.events()).len(),
        1,
        "the source is still learned"
    );
    assert_eq!(
        g.underlay(&vxlan4_packet("10.0.0.2", "10.0.0.1", 0, 4242, &inner))
            .0,
        drop(DropReason::UnknownVni)
    );
    // VNI 6000 is NVGRE.
    assert_eq!(
        g.underlay(&vxlan4_packet("10.0.0.2", "10.0.0.1", 0, 6000, &inner))
            .0,
        drop(DropReason::EncapMismatch)
    );
    // And 5000 is VXLAN.
    assert_eq!(
        g.underlay(&nvgre4_packet("10.0.0.2", "10.0.0.1", 5000, &inner))
            .0,
        drop(DropReason::EncapMismatch)
    );
    // VNI 8000 only takes traffic from 10.0.0.2.
    assert_eq!(
        g.underlay(&vxlan4_packet("10.0.0.3", "10.0.0.1", 0, 8000, &inner))
            .0,
        drop(DropReason::VtepNotAllowed)
    );
    assert!(matches!(
        g.underlay(&vxlan4_packet("10.0.0.2", "10.0.0.1", 0, 8000, &inner))
            .0,
        Verdict::Flood(_)
    ));
    // Inner 802.1Q tag (RFC 7348 §6.1).
    assert_eq!(
        g.underlay(&vxlan4_packet(
            "10.0.0.2",
            "10.0.0.1",
            0,
            5000,
            &tag(&inner, 100)
        ))
        .0,
        drop(DropReason::InnerVlan)
    );
    // Inner source MAC not unicast.
    assert_eq!(
        g.underlay(&vxlan4_packet(
            "10.0.0.2",
            "10.0.0.1",
            0,
            5000,
            &udp4(BCAST, H1, 0, 60)
        ))
        .0,
        drop(DropReason::BadSourceMac)
    );
    // Not for us.
    assert_eq!(
        g.underlay(&vxlan4_packet("10.0.0.2", "10.0.0.7", 0, 5000, &inner))
            .0,
        drop(DropReason::NotLocal)
    );
    assert!(
        g.events().is_empty(),
        "nothing learned from dropped packets"
    );
}

/// A tunnel packet from a group (multicast or broadcast) outer source MAC is refused, also
/// when a good packet of its shape went first (the outer shapes' fast path), and teaches
/// nothing.
#[test]
fn a_tunnel_packet_from_a_group_outer_source_mac_is_refused() {
    let mut g = TestGw::new(BASE);
    let good = vxlan4_packet("10.0.0.2", "10.0.0.1", 0, 5000, &udp4(R9, L3, 0, 60));
    let from = |src: [u8; 6]| {
        let mut p = vxlan4_packet("10.0.0.2", "10.0.0.1", 0, 5000, &udp4(H3, L3, 0, 60));
        p[6..12].copy_from_slice(&src);
        p
    };
    let frames = [
        good,
        from(BCAST),
        from([0x01, 0, 0x5e, 0, 0, 1]),
        from([0x33, 0x33, 0, 0, 0, 1]),
    ];
    let verdicts: Vec<Verdict> = g.burst(&frames, 0).into_iter().map(|(v, _)| v).collect();
    assert_eq!(verdicts[0], Verdict::Forward(ACC2));
    for v in &verdicts[1..] {
        assert_eq!(*v, Verdict::Drop(DropReason::BadSourceMac));
    }
    assert_eq!(g.counters(5000).decap_packets.get(), 1);
    assert!(g.fdb(5000, H3).is_none(), "nothing learned from them");
}

#[test]
fn bad_outer_ipv4_checksum_is_dropped() {
    let mut g = TestGw::new(BASE);
    let mut p = vxlan4_packet("10.0.0.2", "10.0.0.1", 0, 5000, &udp4(R9, L3, 0, 60));
    p[14 + 10] ^= 0x01;
    let (v, f) = g.underlay(&p);
    assert_eq!(v, Verdict::Drop(DropReason::IpMalformed));
    assert_eq!(f.bytes(), &p[..], "left as it was");
    assert!(g.events().is_empty());
    assert_eq!(g.counters(5000).decap_packets.get(), 0);
}

/// A VXLAN packet (VNI 5000) over IPv6 with one 8-byte extension header of each type in
/// `kinds`, in order, between the IPv6 and UDP headers; the UDP checksum is zero (RFC 6935).
fn vxlan6_with_extensions(kinds: &[u8], inner: &[u8]) -> Vec<u8> {
    let mut l4 = Vec::new();
    for (i, _) in kinds.iter().enumerate() {
        let next = kinds.get(i + 1).copied().unwrap_or(17);
        // Next header, length 0 (8 bytes), then padding (PadN for options, zeros else).
        l4.extend_from_slice(&[next, 0, 1, 4, 0, 0, 0, 0]);
    }
    let udp_len = 8 + 8 + inner.len();
    ep::UdpHeader {
        source_port: 51000,
        destination_port: 4789,
        length: udp_len as u16,
        checksum: 0,
    }
    .write(&mut l4)
    .unwrap();
    l4.extend_from_slice(&vxlan_header(5000));
    l4.extend_from_slice(inner);
    let mut out = Vec::new();
    ep::Ethernet2Header {
        source: NH_MAC,
        destination: GW_MAC,
        ether_type: ep::EtherType::IPV6,
    }
    .write(&mut out)
    .unwrap();
    ep::Ipv6Header {
        traffic_class: 0,
        flow_label: ep::Ipv6FlowLabel::ZERO,
        payload_length: l4.len() as u16,
        next_header: ep::IpNumber(kinds.first().copied().unwrap_or(17)),
        hop_limit: 64,
        source: v6("fd00::2"),
        destination: v6("fd00::1"),
    }
    .write(&mut out)
    .unwrap();
    out.extend_from_slice(&l4);
    out
}

#[test]
fn ipv6_extension_headers_on_decap() {
    const HOP_BY_HOP: u8 = 0;
    const DEST_OPTIONS: u8 = 60;
    const FRAGMENT: u8 = 44;
    let mut g = TestGw::new(BASE);
    let inner = udp4(R9, L3, 0, 60);
    for n in 0..=4 {
        let mut kinds = vec![DEST_OPTIONS; n];
        if let Some(first) = kinds.first_mut() {
            *first = HOP_BY_HOP;
        }
        let (v, f) = g.underlay(&vxlan6_with_extensions(&kinds, &inner));
        assert_eq!(v, Verdict::Forward(ACC2), "{n} extension headers");
        assert_eq!(f.bytes(), &tag(&inner, 100)[..]);
    }
    let five = [
        HOP_BY_HOP,
        DEST_OPTIONS,
        DEST_OPTIONS,
        DEST_OPTIONS,
        DEST_OPTIONS,
    ];
    assert_eq!(
        g.underlay(&vxlan6_with_extensions(&five, &inner)).0,
        Verdict::Drop(DropReason::Ipv6ExtensionHeader)
    );
    assert_eq!(
        g.underlay(&vxlan6_with_extensions(&[HOP_BY_HOP, FRAGMENT], &inner))
            .0,
        Verdict::Drop(DropReason::IpFragment)
    );
    // A routing header: skipped when no segments are left (we are the final destination),
    // refused when some are (RFC 8200 4.4). The helper writes segments left = 4; patch it.
    const ROUTING: u8 = 43;
    let mut routed = vxlan6_with_extensions(&[ROUTING], &inner);
    assert_eq!(
        g.underlay(&routed).0,
        Verdict::Drop(DropReason::Ipv6ExtensionHeader)
    );
    routed[14 + 40 + 3] = 0;
    assert_eq!(g.underlay(&routed).0, Verdict::Forward(ACC2));
    // An atomic fragment (offset 0, M clear) is a whole packet (RFC 6946); a first fragment
    // (M set) is not. The helper writes bytes 2..4 = 01 04 after the fragment's next header;
    // patch them.
    let mut atomic = vxlan6_with_extensions(&[FRAGMENT], &inner);
    atomic[14 + 40 + 2] = 0;
    atomic[14 + 40 + 3] = 0;
    assert_eq!(g.underlay(&atomic).0, Verdict::Forward(ACC2));
    atomic[14 + 40 + 3] = 1;
    assert_eq!(g.underlay(&atomic).0, Verdict::Drop(DropReason::IpFragment));
}

#[test]
fn nvgre_and_ipv6_decap() {
    let mut g = TestGw::new(BASE);
    let inner = udp4(R9, L3, 0, 60);
    let (v, f) = g.underlay(&nvgre4_packet(
        "10.0.0.2",
        "10.0.0.1",
        6001,
        &udp4(R9, BCAST, 0, 60),
    ));
    assert!(matches!(v, Verdict::Flood(_)), "{v:?}");
    assert_eq!(f.bytes(), &udp4(R9, BCAST, 0, 60)[..]);
    let (v, f) = g.underlay(&vxlan6_packet("fd00::2", "fd00::1", 0, 5000, &inner));
    assert_eq!(v, Verdict::Forward(ACC2));
    assert_eq!(f.bytes(), &tag(&inner, 100)[..]);
}

// --- ARP, ping and neighbour discovery ----------------------------------------------------

#[test]
fn vtep_answers_arp_for_its_address() {
    let mut g = TestGw::new(BASE);
    let peer = [0x02, 0, 0, 0, 0, 0x22];
    let req = arp(
        peer,
        BCAST,
        ARP_REQUEST,
        peer,
        "10.0.0.2",
        [0; 6],
        "10.0.0.1",
    );
    let (v, f) = g.underlay(&req);
    assert_eq!(v, Verdict::Forward(0));
    let (eth, body) = ep::Ethernet2Header::from_slice(f.bytes()).unwrap();
    assert_eq!(eth.destination, peer);
    assert_eq!(eth.source, GW_MAC);
    assert_eq!(eth.ether_type, ep::EtherType::ARP);
    assert_eq!(
        arp_fields(body),
        (ARP_REPLY, GW_MAC, v4("10.0.0.1"), peer, v4("10.0.0.2"))
    );
    let events = g.events();
    assert!(matches!(
        events.as_slice(),
        [Event::Neighbor { ip, mac }] if *ip == "10.0.0.2".parse::<IpAddr>().unwrap() && *mac == MacAddr(peer)
    ));
    assert_eq!(g.gw.counters().local.arp_replies.get(), 1);

    // Someone else's address: dropped; a reply to us: absorbed (it resolves a neighbour).
    let other = arp(
        peer,
        BCAST,
        ARP_REQUEST,
        peer,
        "10.0.0.2",
        [0; 6],
        "10.0.0.77",
    );
    assert_eq!(g.underlay(&other).0, Verdict::Drop(DropReason::ArpNotForUs));
    let reply = arp(
        peer, GW_MAC, ARP_REPLY, peer, "10.0.0.2", GW_MAC, "10.0.0.1",
    );
    assert_eq!(g.underlay(&reply).0, Verdict::Consumed);
    assert_eq!(g.events().len(), 1);
}

#[test]
fn vtep_answers_ping() {
    let mut g = TestGw::new(BASE);
    let mut req = Vec::new();
    ep::PacketBuilder::ethernet2(NH_MAC, GW_MAC)
        .ipv4(v4("10.0.0.2"), v4("10.0.0.1"), 9)
        .icmpv4_echo_request(7, 9)
        .write(&mut req, b"0123456789abcdefg")
        .unwrap();
    let (v, f) = g.underlay(&req);
    assert_eq!(v, Verdict::Forward(0));
    let p = ep::SlicedPacket::from_ethernet(f.bytes()).unwrap();
    let Some(ep::LinkSlice::Ethernet2(eth)) = &p.link else {
        panic!()
    };
    assert_eq!(eth.destination(), NH_MAC);
    assert_eq!(eth.source(), GW_MAC);
    let Some(ep::NetSlice::Ipv4(ip)) = &p.net else {
        panic!()
    };
    let h = ip.header().to_header();
    assert_eq!(h.source, v4("10.0.0.1"));
    assert_eq!(h.destination, v4("10.0.0.2"));
    assert_eq!(h.time_to_live, 64);
    assert_eq!(h.calc_header_checksum(), h.header_checksum);
    let Some(ep::TransportSlice::Icmpv4(icmp)) = &p.transport else {
        panic!()
    };
    assert_eq!(
        icmp.icmp_type(),
        ep::Icmpv4Type::EchoReply(ep::IcmpEchoHeader { id: 7, seq: 9 })
    );
    assert_eq!(icmp.payload(), b"0123456789abcdefg");
    assert_eq!(
        ones_fold(ones_sum(0, icmp.slice())),
        0xffff,
        "ICMP checksum"
    );
    assert_eq!(g.gw.counters().local.echo_replies.get(), 1);
}

#[test]
fn vtep_answers_ping6() {
    let mut g = TestGw::new(BASE);
    let mut req = Vec::new();
    ep::PacketBuilder::ethernet2(NH_MAC, GW_MAC)
        .ipv6(v6("fd00::2"), v6("fd00::1"), 9)
        .icmpv6_echo_request(7, 9)
        .write(&mut req, b"odd-length payload")
        .unwrap();
    let (v, f) = g.underlay(&req);
    assert_eq!(v, Verdict::Forward(0));
    let p = ep::SlicedPacket::from_ethernet(f.bytes()).unwrap();
    let Some(ep::NetSlice::Ipv6(ip)) = &p.net else {
        panic!()
    };
    let h = ip.header().to_header();
    assert_eq!(h.source, v6("fd00::1"));
    assert_eq!(h.destination, v6("fd00::2"));
    assert_eq!(h.hop_limit, 64);
    let Some(ep::TransportSlice::Icmpv6(icmp)) = &p.transport else {
        panic!()
    };
    assert_eq!(
        icmp.icmp_type(),
        ep::Icmpv6Type::EchoReply(ep::IcmpEchoHeader { id: 7, seq: 9 })
    );
    assert!(verifies6(h.source, h.destination, 58, icmp.slice()));
}

#[test]
fn echo_request6_shorter_than_its_header_is_malformed() {
    // RFC 4443 4.1: identifier and sequence number follow the 4-byte common header. An echo
    // request that stops before them is malformed (as for IPv4), never answered.
    let mut g = TestGw::new(BASE);
    let message = [128u8, 0, 0x12, 0x34, 0, 7, 0, 9];
    for len in 4..message.len() {
        let mut req = Vec::new();
        ep::PacketBuilder::ethernet2(NH_MAC, GW_MAC)
            .ipv6(v6("fd00::2"), v6("fd00::1"), 9)
            .write(&mut req, ep::IpNumber::IPV6_ICMP, &message[..len])
            .unwrap();
        assert_eq!(
            g.underlay(&req).0,
            Verdict::Drop(DropReason::IcmpMalformed),
            "{len}-byte echo request"
        );
    }
    assert_eq!(g.gw.counters().local.echo_replies.get(), 0);
}

/// Checks an NA in `frame` (IPv6 at `l2_len`): from `target` at `mac`, to `dst` / `dst_mac`.
fn assert_advert(frame: &[u8], l2_len: usize, target: [u8; 16], mac: [u8; 6], dst: [u8; 16]) {
    let (eth, _) = ep::Ethernet2Header::from_slice(frame).unwrap();
    assert_eq!(eth.source, mac);
    let (ip, icmp) = ep::Ipv6Header::from_slice(&frame[l2_len..]).unwrap();
    assert_eq!(ip.source, target);
    assert_eq!(ip.destination, dst);
    assert_eq!(ip.hop_limit, 255);
    assert_eq!(ip.next_header, ep::IpNumber::IPV6_ICMP);
    assert_eq!(usize::from(ip.payload_length), icmp.len());
    assert_eq!(icmp.len(), 32);
    assert_eq!((icmp[0], icmp[1]), (136, 0), "neighbour advertisement");
    assert_eq!(icmp[4] & 0xe0, 0x60, "solicited and override");
    assert_eq!(&icmp[8..24], &target);
    assert_eq!(&icmp[24..26], &[2, 1], "target link-layer address option");
    assert_eq!(&icmp[26..32], &mac);
    assert!(verifies6(ip.source, ip.destination, 58, icmp));
}

#[test]
fn vtep_answers_neighbor_solicitation() {
    let mut g = TestGw::new(BASE);
    let peer = [0x02, 0, 0, 0, 0, 0x66];
    let ns = neighbor_solicit(peer, v6("fd00::2"), v6("fd00::1"), Some(peer));
    let (v, f) = g.underlay(&ns);
    assert_eq!(v, Verdict::Forward(0));
    assert_eq!(
        ep::Ethernet2Header::from_slice(f.bytes())
            .unwrap()
            .0
            .destination,
        peer
    );
    assert_advert(f.bytes(), 14, v6("fd00::1"), GW_MAC, v6("fd00::2"));
    let events = g.events();
    assert!(matches!(
        events.as_slice(),
        [Event::Neighbor { ip, mac }] if *ip == "fd00::2".parse::<IpAddr>().unwrap() && *mac == MacAddr(peer)
    ));
    assert_eq!(g.gw.counters().local.nd_replies.get(), 1);
    // For an address that is not ours: not even looked at.
    let ns = neighbor_solicit(peer, v6("fd00::2"), v6("fd00::9"), Some(peer));
    assert_eq!(g.underlay(&ns).0, Verdict::Drop(DropReason::NotLocal));
}

fn snooped(events: &[Event]) -> Vec<(VniIndex, IpAddr, MacAddr)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Snooped { vni, ip, mac } => Some((*vni, *ip, *mac)),
            _ => None,
        })
        .collect()
}

#[test]
fn arp_suppression_on_access_ports() {
    let mut g = TestGw::new(BASE);
    let h1_ip = "192.168.1.1";
    // Untagged on port 1: "who has 192.168.1.2" is answered with R2's MAC.
    let req = arp(H1, BCAST, ARP_REQUEST, H1, h1_ip, [0; 6], "192.168.1.2");
    let (v, f) = g.access(&req, ACC1);
    assert_eq!(v, Verdict::Forward(ACC1));
    let (eth, body) = ep::Ethernet2Header::from_slice(f.bytes()).unwrap();
    assert_eq!((eth.source, eth.destination), (R2, H1));
    assert_eq!(
        arp_fields(body),
        (ARP_REPLY, R2, v4("192.168.1.2"), H1, v4(h1_ip))
    );
    // The asker's own binding is snooped.
    assert_eq!(
        snooped(&g.events()),
        vec![(g.vni(5000), h1_ip.parse().unwrap(), MacAddr(H1))]
    );
    // Tagged on port 2: answered with the tag kept.
    let (v, f) = g.access(&tag(&req, 100), ACC2);
    assert_eq!(v, Verdict::Forward(ACC2));
    assert_eq!(vid_of(f.bytes()), Some(100));
    let reply = untag(f.bytes());
    let (eth, body) = ep::Ethernet2Header::from_slice(&reply).unwrap();
    assert_eq!((eth.source, eth.destination), (R2, H1));
    assert_eq!(
        arp_fields(body),
        (ARP_REPLY, R2, v4("192.168.1.2"), H1, v4(h1_ip))
    );
    // Tagged with the native VLAN on port 1 (whose untagged VNI is 5000): answered too.
    let (v, f) = g.access(&tag(&req, 100), ACC1);
    assert_eq!(v, Verdict::Forward(ACC1));
    assert_eq!(vid_of(f.bytes()), Some(100));
    assert_eq!(g.counters(5000).arp_suppressed.get(), 3);

    // Without a binding: snooped and flooded.
    g.events();
    let req = arp(
        H2,
        BCAST,
        ARP_REQUEST,
        H2,
        "192.168.1.4",
        [0; 6],
        "192.168.1.50",
    );
    let (v, f) = g.access(&req, ACC1);
    assert!(matches!(v, Verdict::Flood(_)), "{v:?}");
    assert_eq!(f.bytes(), &req[..]);
    assert_eq!(
        snooped(&g.events()),
        vec![(g.vni(5000), "192.168.1.4".parse().unwrap(), MacAddr(H2))]
    );
    // A gratuitous ARP (sender IP = target IP) is an announcement, not a question.
    let garp = arp(
        R2,
        BCAST,
        ARP_REQUEST,
        R2,
        "192.168.1.2",
        [0; 6],
        "192.168.1.2",
    );
    assert!(matches!(g.access(&garp, ACC1).0, Verdict::Flood(_)));
    // A host asking for an address bound to its own MAC is not answered either.
    let own = arp(
        R2,
        BCAST,
        ARP_REQUEST,
        R2,
        "192.168.1.77",
        [0; 6],
        "192.168.1.2",
    );
    assert!(matches!(g.access(&own, ACC1).0, Verdict::Flood(_)));
    assert_eq!(g.counters(5000).arp_suppressed.get(), 3);
    // A malformed ARP in a suppressing VNI is dropped...
    let bad = raw(H1, BCAST, 0x0806, &[0; 28]);
    assert_eq!(
        g.access(&bad, ACC1).0,
        Verdict::Drop(DropReason::ArpMalformed)
    );
    // ...and in a VNI without suppression not even looked at: requests are bridged as they
    // are, and nothing is snooped.
    g.events();
    assert!(matches!(
        g.access(&tag(&bad, 400), ACC2).0,
        Verdict::Flood(_)
    ));
    let req = arp(
        H3,
        BCAST,
        ARP_REQUEST,
        H3,
        "192.168.1.5",
        [0; 6],
        "192.168.1.2",
    );
    let (v, f) = g.access(&tag(&req, 400), ACC2);
    assert!(matches!(v, Verdict::Flood(_)));
    assert_eq!(f.bytes(), &req[..]);
    assert!(snooped(&g.events()).is_empty());
}

#[test]
fn nd_advertisements_are_snooped() {
    let mut g = TestGw::new(BASE);
    // An unsolicited NA from H1 for 2001:db8::1, with its target link-layer address.
    let mut na = Vec::new();
    let mut body = v6("2001:db8::1").to_vec();
    body.extend_from_slice(&[2, 1]);
    body.extend_from_slice(&H1);
    ep::PacketBuilder::ethernet2(H1, [0x33, 0x33, 0, 0, 0, 1])
        .ip(ipv6_header(v6("2001:db8::1"), v6("ff02::1"), 0, 255))
        .icmpv6_raw(136, 0, [0x20, 0, 0, 0])
        .write(&mut na, &body)
        .unwrap();
    let (v, _) = g.access(&na, ACC1);
    assert!(matches!(v, Verdict::Flood(_)), "{v:?}");
    assert_eq!(
        snooped(&g.events()),
        vec![(g.vni(5000), "2001:db8::1".parse().unwrap(), MacAddr(H1))]
    );
}

#[test]
fn nd_suppression_on_access_ports() {
    let mut g = TestGw::new(BASE);
    let me = v6("fe80::1");
    let ns = neighbor_solicit(H1, me, v6("2001:db8::2"), Some(H1));
    let (v, f) = g.access(&ns, ACC1);
    assert_eq!(v, Verdict::Forward(ACC1));
    assert_eq!(
        ep::Ethernet2Header::from_slice(f.bytes())
            .unwrap()
            .0
            .destination,
        H1
    );
    assert_advert(f.bytes(), 14, v6("2001:db8::2"), R2, me);
    // Tagged on port 2.
    let (v, f) = g.access(&tag(&ns, 100), ACC2);
    assert_eq!(v, Verdict::Forward(ACC2));
    assert_eq!(vid_of(f.bytes()), Some(100));
    assert_advert(&untag(f.bytes()), 14, v6("2001:db8::2"), R2, me);
    assert_eq!(g.counters(5000).arp_suppressed.get(), 2);
    let snooped = g
        .events()
        .iter()
        .filter(|e| matches!(e, Event::Snooped { ip, .. } if *ip == IpAddr::from(me)))
        .count();
    assert_eq!(snooped, 1, "reported once per tick");
}

#[test]
fn arp_and_nd_suppression_on_the_decap_side() {
    let mut g = TestGw::new(BASE);
    // A host behind 10.0.0.2 asks for 192.168.1.3 (L3, behind port 2): the reply goes back
    // through the tunnel it came from.
    let req = arp(
        R9,
        BCAST,
        ARP_REQUEST,
        R9,
        "192.168.1.99",
        [0; 6],
        "192.168.1.3",
    );
    let (v, f) = g.underlay(&vxlan4_packet("10.0.0.2", "10.0.0.1", 0, 5000, &req));
    assert_eq!(v, Verdict::Forward(0));
    let o = Outer::parse(f.bytes());
    assert_eq!(o.dst_ip(), "10.0.0.2".parse::<IpAddr>().unwrap());
    assert_eq!(o.src_ip(), "10.0.0.1".parse::<IpAddr>().unwrap());
    assert_eq!(o.vni(), 5000);
    assert!(o.checksums_verify());
    let (eth, body) = ep::Ethernet2Header::from_slice(&o.inner).unwrap();
    assert_eq!((eth.source, eth.destination), (L3, R9));
    assert_eq!(
        arp_fields(body),
        (ARP_REPLY, L3, v4("192.168.1.3"), R9, v4("192.168.1.99"))
    );
    let events = g.events();
    assert!(events.iter().any(|e| matches!(
        e,
        Event::Snooped { ip, mac, .. } if *ip == "192.168.1.99".parse::<IpAddr>().unwrap() && *mac == MacAddr(R9)
    )));

    // Neighbour solicitation over IPv6 underlay (tunnel fd00::2 exists for VNI 9000 only in
    // VXLAN, so ask in VNI 5000 from 10.0.0.3).
    let ns = neighbor_solicit(R9, v6("2001:db8::99"), v6("2001:db8::3"), Some(R9));
    let (v, f) = g.underlay(&vxlan4_packet("10.0.0.3", "10.0.0.1", 0, 5000, &ns));
    assert_eq!(v, Verdict::Forward(0));
    let o = Outer::parse(f.bytes());
    assert_eq!(o.dst_ip(), "10.0.0.3".parse::<IpAddr>().unwrap());
    assert_eq!(
        ep::Ethernet2Header::from_slice(&o.inner)
            .unwrap()
            .0
            .destination,
        R9
    );
    assert_advert(&o.inner, 14, v6("2001:db8::3"), L3, v6("2001:db8::99"));
    assert_eq!(g.counters(5000).arp_suppressed.get(), 2);

    // From a VTEP with no tunnel to answer through: bridged as usual, still snooped.
    g.gw.set_now(1);
    g.events();
    let (v, f) = g.underlay(&vxlan4_packet("10.0.0.9", "10.0.0.1", 0, 5000, &req));
    assert!(matches!(v, Verdict::Flood(_)), "{v:?}");
    assert_eq!(f.bytes(), &req[..]);
    assert_eq!(g.counters(5000).arp_suppressed.get(), 2);
    assert_eq!(
        snooped(&g.events()),
        vec![(g.vni(5000), "192.168.1.99".parse().unwrap(), MacAddr(R9))]
    );
}

// --- ECN ----------------------------------------------------------------------------------

/// RFC 6040 §4.2 (normal mode), restated: the inner ECN field after decapsulation by
/// (outer, inner); None: dropped. 0 Not-ECT, 1 ECT(1), 2 ECT(0), 3 CE.
fn rfc6040(outer: u8, inner: u8) -> Option<u8> {
    match (outer, inner) {
        (3, 0) => None,
        (3, _) => Some(3),
        (1, 2) => Some(1),
        _ => Some(inner),
    }
}

/// Every (outer, inner) pair of ECN fields, IPv4 and IPv6 inside VXLAN over IPv4 and IPv6,
/// through the burst loop (so the outer shapes' fast path reads the outer field too).
#[test]
fn decapsulation_applies_the_rfc6040_ecn_table() {
    let mut g = TestGw::new(BASE);
    let dscp = 46 << 2;
    let mut frames = Vec::new();
    let mut cases = Vec::new();
    for outer in 0..4u8 {
        for inner in 0..4u8 {
            for v6 in [false, true] {
                let f = if v6 {
                    udp6(R9, L3, dscp | inner, 80)
                } else {
                    udp4(R9, L3, dscp | inner, 80)
                };
                frames.push(vxlan4_packet("10.0.0.2", "10.0.0.1", outer, 5000, &f));
                frames.push(vxlan6_packet("fd00::2", "fd00::1", outer, 5000, &f));
                cases.extend([
                    (outer, inner, v6, "outer IPv4"),
                    (outer, inner, v6, "outer IPv6"),
                ]);
            }
        }
    }
    for ((v, f), (outer, inner, v6, over)) in g.burst(&frames, 0).into_iter().zip(cases) {
        let ctx = format!("{over}, outer {outer}, inner {inner}, inner IPv6 {v6}");
        let Some(after) = rfc6040(outer, inner) else {
            assert_eq!(v, Verdict::Drop(DropReason::EcnCeNotEct), "{ctx}");
            continue;
        };
        assert_eq!(v, Verdict::Forward(ACC2), "{ctx}");
        let inner = untag(f.bytes());
        if v6 {
            assert_eq!(inner_ipv6_tc(&inner), dscp | after, "{ctx}");
        } else {
            let (tos, checksum_ok) = inner_ipv4(&inner);
            assert_eq!(tos, dscp | after, "{ctx}");
            assert!(checksum_ok, "{ctx}: inner IPv4 checksum after the change");
        }
    }
}

/// A frame without an ECN field (ARP, any other EtherType) is decapsulated unchanged under
/// any outer field.
#[test]
fn ecn_leaves_frames_that_are_not_ip_alone() {
    let mut g = TestGw::new(BASE);
    let mut other = L3.to_vec();
    other.extend_from_slice(&R9);
    other.extend_from_slice(&[0x88, 0xb5]);
    other.extend_from_slice(&filler(7, 46));
    let frames: Vec<Vec<u8>> = (0..4)
        .map(|outer| vxlan4_packet("10.0.0.2", "10.0.0.1", outer, 5000, &other))
        .collect();
    for (v, f) in g.burst(&frames, 0) {
        assert_eq!(v, Verdict::Forward(ACC2));
        assert_eq!(untag(f.bytes()), other);
    }
}

// --- what decapsulation counts --------------------------------------------------------------

/// `decap_packets`/`decap_bytes` count the tunnel packets whose inner frame is forwarded
/// (bridged, flooded or routed): one dropped after the inner checks, or an ARP request the
/// gateway answers, is not.
#[test]
fn decap_counters_count_only_forwarded_frames() {
    let mut g = TestGw::new(BASE);
    let from_r2 = |inner: &[u8]| vxlan4_packet("10.0.0.2", "10.0.0.1", 0, 5000, inner);
    let to_remote = udp4(R9, R2, 0, 60);
    let ce_over_not_ect = vxlan4_packet("10.0.0.2", "10.0.0.1", 3, 5000, &udp4(R9, L3, 0, 61));
    let suppressed = arp(
        R9,
        BCAST,
        ARP_REQUEST,
        R9,
        "192.168.1.99",
        [0; 6],
        "192.168.1.3",
    );
    let unicast = udp4(R9, L3, 0, 70);
    let broadcast = udp4(R9, BCAST, 0, 80);
    let frames = [
        from_r2(&to_remote),
        ce_over_not_ect,
        from_r2(&suppressed),
        from_r2(&unicast),
        from_r2(&broadcast),
    ];
    let verdicts: Vec<Verdict> = g.burst(&frames, 0).into_iter().map(|(v, _)| v).collect();
    assert_eq!(verdicts[0], Verdict::Drop(DropReason::SplitHorizon));
    assert_eq!(verdicts[1], Verdict::Drop(DropReason::EcnCeNotEct));
    assert_eq!(
        verdicts[2],
        Verdict::Forward(0),
        "answered through the tunnel"
    );
    assert_eq!(verdicts[3], Verdict::Forward(ACC2));
    assert!(
        matches!(verdicts[4], Verdict::Flood(_)),
        "{:?}",
        verdicts[4]
    );
    let c = g.counters(5000);
    assert_eq!(c.decap_packets.get(), 2, "the unicast and the broadcast");
    assert_eq!(c.decap_bytes.get(), 70 + 80, "their inner frames, untagged");

    // A flood with nowhere to go: the VNI's access ports removed.
    let id = Vni::new(8000).unwrap();
    let config = g.authority.vni_config(id).unwrap().clone();
    for c in &g.authority.update_vni(&config, Vec::new()).unwrap() {
        g.sync.send(g.authority.render(c)).unwrap();
    }
    g.gw.apply_updates(usize::MAX);
    let flood = vxlan4_packet("10.0.0.2", "10.0.0.1", 0, 8000, &udp4(R9, BCAST, 0, 60));
    assert_eq!(
        g.burst(&[flood], 0)[0].0,
        Verdict::Drop(DropReason::NoFloodDestination)
    );
    assert_eq!(g.counters(8000).decap_packets.get(), 0);
}

/// Decapsulation keeps what it needs of the last packet's VNI; a change to that VNI applies
/// from the next packet after the update.
#[test]
fn a_vni_change_applies_to_the_next_tunnel_packet() {
    let mut g = TestGw::new(BASE);
    let id = Vni::new(5000).unwrap();
    let from_r3 = vxlan4_packet("10.0.0.3", "10.0.0.1", 0, 5000, &udp4(R9, BCAST, 0, 60));
    assert!(matches!(g.underlay(&from_r3).0, Verdict::Flood(_)));
    let mut config = g.authority.vni_config(id).unwrap().clone();
    config.allowed_vteps = Some(vec!["10.0.0.2".parse().unwrap()]);
    let members = g.gw.tables.vnis.get(g.vni(5000)).unwrap().access.clone();
    let changes = g.authority.update_vni(&config, members).unwrap();
    for c in &changes {
        g.sync.send(g.authority.render(c)).unwrap();
    }
    assert!(
        matches!(g.underlay(&from_r3).0, Verdict::Flood(_)),
        "not applied yet"
    );
    g.gw.apply_updates(usize::MAX);
    assert_eq!(
        g.underlay(&from_r3).0,
        Verdict::Drop(DropReason::VtepNotAllowed)
    );
    let from_r2 = vxlan4_packet("10.0.0.2", "10.0.0.1", 0, 5000, &udp4(R9, BCAST, 0, 60));
    assert!(matches!(g.underlay(&from_r2).0, Verdict::Flood(_)));
}

/// The first pass's hint carries the VNI's flags; one made before a table update must not
/// outlive it (the data plane hints within a burst and applies updates between bursts, but
/// nothing else should rely on that).
#[test]
fn a_hint_does_not_outlive_a_table_update() {
    let mut g = TestGw::new(BASE);
    let id = Vni::new(5000).unwrap();
    let from_r3 = vxlan4_packet("10.0.0.3", "10.0.0.1", 0, 5000, &udp4(R9, BCAST, 0, 60));
    let hint = g.gw.hint(&from_r3, 0, true);
    assert!(hint.vni.is_some_and(|v| v.open()));
    let mut config = g.authority.vni_config(id).unwrap().clone();
    config.allowed_vteps = Some(vec!["10.0.0.2".parse().unwrap()]);
    let members = g.gw.tables.vnis.get(g.vni(5000)).unwrap().access.clone();
    for c in &g.authority.update_vni(&config, members).unwrap() {
        g.sync.send(g.authority.render(c)).unwrap();
    }
    g.gw.use_hint(hint);
    g.gw.apply_updates(usize::MAX);
    assert_eq!(
        g.underlay(&from_r3).0,
        Verdict::Drop(DropReason::VtepNotAllowed)
    );
}

/// A VNI slot reused by a new VNI counts for the new VNI only once this worker holds it,
/// and then from zero: a reader never sees the old VNI's packets under the new id.
#[test]
fn a_reused_vni_slot_counts_for_its_new_owner_from_zero() {
    let mut g = TestGw::new(BASE);
    let old = Vni::new(5000).unwrap();
    let index = g.vni(5000);
    assert!(matches!(
        g.access(&udp4(H1, R2, 0, 100), ACC1).0,
        Verdict::Forward(_)
    ));
    let counters = || {
        g.gw.counters()
            .vni_of(index, old)
            .map(|c| c.encap_packets.get())
    };
    assert_eq!(counters(), Some(1));

    let mut changes = g.authority.remove_vni(old).unwrap();
    let mut config = g
        .authority
        .vni_config(Vni::new(9000).unwrap())
        .unwrap()
        .clone();
    config.id = Vni::new(5500).unwrap();
    config.vlan = Some(555);
    changes.extend(g.authority.add_vni(&config, Vec::new()).unwrap());
    assert_eq!(
        g.authority.vni_index(config.id),
        Some(index),
        "the slot is reused"
    );

    let worker = g.gw.counters().clone();
    assert!(worker.vni_of(index, config.id).is_none(), "not applied yet");
    assert_eq!(worker.vni_of(index, old).unwrap().encap_packets.get(), 1);
    for c in &changes {
        g.sync.send(g.authority.render(c)).unwrap();
    }
    g.gw.apply_updates(usize::MAX);
    assert!(worker.vni_of(index, old).is_none());
    let new = worker.vni_of(index, config.id).unwrap();
    assert_eq!((new.encap_packets.get(), new.encap_bytes.get()), (0, 0));
}

/// Two VNIs on one access port; 5000 with storm control and learning only from its flood
/// list, 6000 without either.
const GUARDED: &str = r#"
[underlay]
port = "u0"
addresses = ["10.0.0.1/24"]
next_hop_mac = "02:00:00:00:00:fe"

[[access]]
port = "acc1"
untagged_vni = 5000

[[vni]]
id = 5000
flood = ["10.0.0.2"]
bum_rate_pps = 16
learn_only_from_flood = true
arp_suppression = true

[[vni]]
id = 6000
vlan = 600
flood = ["10.0.0.2"]

[[fdb]]
vni = 5000
mac = "02:00:00:00:02:02"
remote = "10.0.0.2"
"#;

#[test]
fn a_broadcast_storm_in_one_vni_leaves_the_others_and_its_unicast_alone() {
    let mut g = TestGw::new(GUARDED);
    let verdicts = |g: &mut TestGw, frame: &[u8], n: usize| -> (usize, usize) {
        let (mut flooded, mut limited) = (0, 0);
        for _ in 0..n {
            match g.access(frame, ACC1).0 {
                Verdict::Flood(_) => flooded += 1,
                Verdict::Drop(DropReason::BumRateLimited) => limited += 1,
                v => panic!("unexpected {v:?}"),
            }
        }
        (flooded, limited)
    };
    let storm = udp4(H1, BCAST, 0, 64);
    // 16 pps on one worker: a bucket of one RX burst (32), then one per tick.
    assert_eq!(verdicts(&mut g, &storm, 1000), (32, 968));
    assert_eq!(g.counters(5000).bum_rate_limited.get(), 968);
    // The other VNI's broadcasts, and the stormy VNI's known unicast, are untouched.
    assert_eq!(
        verdicts(&mut g, &tag(&udp4(H2, BCAST, 0, 64), 600), 1000),
        (1000, 0)
    );
    assert!(matches!(
        g.access(&udp4(H1, R2, 0, 64), ACC1).0,
        Verdict::Forward(0)
    ));
    // Unknown unicast and multicast count as BUM too.
    assert_eq!(verdicts(&mut g, &udp4(H1, R9, 0, 64), 10), (0, 10));
    // A tick later, one more packet's worth of tokens.
    g.gw.set_now(1);
    assert_eq!(verdicts(&mut g, &storm, 10), (1, 9));
    // Decapsulated broadcasts draw from the same bucket.
    g.gw.set_now(100);
    let from_fabric = vxlan4_packet("10.0.0.2", "10.0.0.1", 0, 5000, &udp4(R9, BCAST, 0, 64));
    let decapped = (0..100)
        .filter(|_| matches!(g.underlay(&from_fabric).0, Verdict::Flood(_)))
        .count();
    assert_eq!(decapped, 32);
}

#[test]
fn learning_only_from_the_flood_list_refuses_other_vteps_but_forwards_them() {
    let mut g = TestGw::new(GUARDED);
    let _ = g.events();
    // From 10.0.0.9, not in the flood list: forwarded to the access port, not learned.
    let stranger = vxlan4_packet("10.0.0.9", "10.0.0.1", 0, 5000, &udp4(R9, H1, 0, 64));
    assert!(matches!(g.underlay(&stranger).0, Verdict::Flood(_)));
    assert!(g.fdb(5000, R9).is_none());
    assert!(learned_events(&g.events()).is_empty());
    assert_eq!(g.counters(5000).learn_refused.get(), 1);
    // Its ARP is not snooped either: a VTEP outside the list cannot claim an address.
    let claim = arp(R9, BCAST, ARP_REPLY, R9, "192.168.1.50", H1, "192.168.1.1");
    let _ = g.underlay(&vxlan4_packet("10.0.0.9", "10.0.0.1", 0, 5000, &claim));
    assert!(!g
        .events()
        .iter()
        .any(|e| matches!(e, Event::Snooped { .. })));
    // From 10.0.0.2, in the list: learned, and its ARP snooped.
    let friend = vxlan4_packet("10.0.0.2", "10.0.0.1", 0, 5000, &udp4(L3, H1, 0, 64));
    let _ = g.underlay(&friend);
    assert_eq!(learned_events(&g.events()).len(), 1);
    let claim = arp(L3, BCAST, ARP_REPLY, L3, "192.168.1.51", H1, "192.168.1.1");
    let _ = g.underlay(&vxlan4_packet("10.0.0.2", "10.0.0.1", 0, 5000, &claim));
    assert!(g
        .events()
        .iter()
        .any(|e| matches!(e, Event::Snooped { .. })));
    // VNI 6000 has no such restriction.
    let other = vxlan4_packet("10.0.0.9", "10.0.0.1", 0, 6000, &udp4(R9, H1, 0, 64));
    let _ = g.underlay(&other);
    assert_eq!(learned_events(&g.events()).len(), 1);
}

// --- port MTUs ------------------------------------------------------------------------------

/// Ports of different MTUs: the underlay 1600, acc1 2000 (native VNI 5000, H1 behind it),
/// acc2 1400 (VNI 5000 tagged 100, L3 behind it).
const PORT_MTUS: &str = r#"
[underlay]
port = "u0"
addresses = ["10.0.0.1/24"]
next_hop_mac = "02:00:00:00:00:fe"
mtu = 1600

[[access]]
port = "acc1"
untagged_vni = 5000
mtu = 2000

[[access]]
port = "acc2"
mtu = 1400

[[vni]]
id = 5000
vlan = 100
flood = ["10.0.0.2"]

[[fdb]]
vni = 5000
mac = "02:00:00:00:01:01"
port = "acc1"

[[fdb]]
vni = 5000
mac = "02:00:00:00:03:03"
port = "acc2"
"#;

/// A frame longer than its port's MTU plus its Ethernet header (and 802.1Q tag) is refused
/// on receipt, on access ports and on the underlay.
#[test]
fn a_frame_over_its_ports_mtu_is_refused_on_receipt() {
    const TOO_BIG: [u8; 6] = [0x02, 0, 0, 0, 0x01, 0x42];
    let mut g = TestGw::new(PORT_MTUS);
    let from_acc1 = [udp4(H2, H1, 0, 2014), udp4(TOO_BIG, L3, 0, 2015)];
    let v: Vec<Verdict> = g.burst(&from_acc1, ACC1).into_iter().map(|r| r.0).collect();
    assert_eq!(
        v[0],
        Verdict::Drop(DropReason::SamePort),
        "within acc1's MTU"
    );
    assert_eq!(v[1], Verdict::Drop(DropReason::RxOverMtu));
    let from_acc2 = [
        tag(&udp4(H3, H1, 0, 1414), 100),
        tag(&udp4(H3, H1, 0, 1415), 100),
    ];
    let v: Vec<Verdict> = g.burst(&from_acc2, ACC2).into_iter().map(|r| r.0).collect();
    assert_eq!(
        v[0],
        Verdict::Forward(ACC1),
        "the tag is not part of the MTU"
    );
    assert_eq!(v[1], Verdict::Drop(DropReason::RxOverMtu));
    let tunnel =
        [1564, 1565].map(|n| vxlan4_packet("10.0.0.2", "10.0.0.1", 0, 5000, &udp4(R9, H1, 0, n)));
    assert_eq!(tunnel[0].len(), 14 + 1600);
    let v: Vec<Verdict> = g.burst(&tunnel, 0).into_iter().map(|r| r.0).collect();
    assert_eq!(
        v,
        [Verdict::Forward(ACC1), Verdict::Drop(DropReason::RxOverMtu)]
    );
    assert_eq!(g.counters(5000).decap_packets.get(), 1);
    assert!(g.fdb(5000, H2).is_some() && g.fdb(5000, R9).is_some());
    assert!(
        g.fdb(5000, TOO_BIG).is_none(),
        "nothing learned from a refused frame"
    );
    assert!(learned_events(&g.events())
        .iter()
        .all(|(k, _)| *k != key(&g, 5000, TOO_BIG)));

    // Without `mtu`, an access port has the device default, 1500.
    let mut g = TestGw::new(BASE);
    let v: Vec<Verdict> = g
        .burst(&[udp4(H1, L3, 0, 1514), udp4(H1, L3, 0, 1515)], ACC1)
        .into_iter()
        .map(|r| r.0)
        .collect();
    assert_eq!(
        v,
        [Verdict::Forward(ACC2), Verdict::Drop(DropReason::RxOverMtu)]
    );
}

/// A frame that does not fit the MTU of the access port it would leave on is dropped, not
/// sent: decapsulated or bridged from a port of a larger MTU.
#[test]
fn a_frame_over_the_access_ports_mtu_is_not_sent_there() {
    let mut g = TestGw::new(PORT_MTUS);
    let tunnel =
        [1414, 1415].map(|n| vxlan4_packet("10.0.0.2", "10.0.0.1", 0, 5000, &udp4(R9, L3, 0, n)));
    let out = g.burst(&tunnel, 0);
    assert_eq!(out[0].0, Verdict::Forward(ACC2));
    assert_eq!(out[0].1.bytes().len(), 1418, "tagged");
    assert_eq!(out[1].0, Verdict::Drop(DropReason::AccessMtuExceeded));
    let c = g.counters(5000);
    assert_eq!((c.decap_packets.get(), c.decap_bytes.get()), (1, 1414));

    let bridged = [udp4(H1, L3, 0, 1414), udp4(H1, L3, 0, 1415)];
    let v: Vec<Verdict> = g.burst(&bridged, ACC1).into_iter().map(|r| r.0).collect();
    assert_eq!(
        v,
        [
            Verdict::Forward(ACC2),
            Verdict::Drop(DropReason::AccessMtuExceeded)
        ]
    );
    // A flood copy is the data plane's to refuse (one per port), by the same rule.
    assert!(g.gw.fits_access(ACC2, 1414) && !g.gw.fits_access(ACC2, 1415));
    assert!(g.gw.fits_access(ACC1, 2014) && !g.gw.fits_access(ACC1, 2015));
}

// --- the burst's first pass ---------------------------------------------------------------

#[test]
fn a_hint_names_the_vni_and_the_mac_keys_of_the_common_shapes() {
    let g = TestGw::new(BASE);
    let vxlan = vxlan4_packet("10.0.0.2", "10.0.0.1", 0, 5000, &udp4(R9, L3, 0, 60));
    let h = g.gw.hint(&vxlan, 0, true);
    let v = h.vni.unwrap();
    assert_eq!((v.id(), v.index()), (Vni::new(5000).unwrap(), g.vni(5000)));
    assert!(h.dst.is_for(key(&g, 5000, L3)));
    assert!(h.src.is_for(key(&g, 5000, R9)));

    let nvgre = nvgre4_packet("10.0.0.2", "10.0.0.1", 6001, &udp4(R9, R2, 0, 60));
    let h = g.gw.hint(&nvgre, 0, true);
    let v = h.vni.unwrap();
    assert_eq!((v.id(), v.index()), (Vni::new(6001).unwrap(), g.vni(6001)));
    assert_eq!(v.encap(), Encap::Nvgre);
    assert!(h.dst.is_for(key(&g, 6001, R2)));
    assert!(h.src.is_for(key(&g, 6001, R9)));

    // Access: untagged on acc1 (VNI 5000), VLAN 201 on acc2 (VNI 6001).
    let h = g.gw.hint(&udp4(H1, R2, 0, 60), ACC1, false);
    assert_eq!(
        h.vni, None,
        "the access VNI is an array index: nothing to keep"
    );
    assert!(h.dst.is_for(key(&g, 5000, R2)));
    assert!(h.src.is_for(key(&g, 5000, H1)));
    let h = g.gw.hint(&tag(&udp4(H1, R2, 0, 60), 201), ACC2, false);
    assert!(h.dst.is_for(key(&g, 6001, R2)));
    assert!(h.src.is_for(key(&g, 6001, H1)));

    // Shapes the first pass does not read give no hint.
    let v6 = vxlan6_packet("fd00::2", "fd00::1", 0, 6000, &udp4(R9, L3, 0, 60));
    assert_eq!(g.gw.hint(&v6, 0, true), Default::default());
    assert_eq!(
        g.gw.hint(&udp4(H1, R2, 0, 60), ACC2, false),
        Default::default()
    );
}

/// Frames of the common shapes, each with whether it comes from the underlay and its port:
/// decapsulation (to a known MAC, a broadcast, NVGRE), then encapsulation (to a static remote
/// MAC, to the MAC the first frame taught, unknown unicast from a tagged port).
fn shape_frames() -> Vec<(Vec<u8>, bool, u8)> {
    vec![
        (
            vxlan4_packet("10.0.0.2", "10.0.0.1", 0, 5000, &udp4(R9, L3, 0, 60)),
            true,
            0,
        ),
        (
            vxlan4_packet("10.0.0.3", "10.0.0.1", 0, 5000, &udp4(R9, BCAST, 0, 60)),
            true,
            0,
        ),
        (
            nvgre4_packet("10.0.0.2", "10.0.0.1", 6001, &udp4(R9, H1, 0, 60)),
            true,
            0,
        ),
        (udp4(H1, R2, 0, 60), false, ACC1),
        (udp4(H1, R9, 0, 60), false, ACC1),
        (tag(&udp4(H2, H3, 0, 60), 201), false, ACC2),
    ]
}

/// What handling `frames` one at a time without hints does: each verdict and resulting
/// frame, the MACs learned, the learn events.
type Outcome = (
    Vec<(Verdict, Vec<u8>)>,
    [Option<Dest>; 4],
    Vec<(FdbKey, Location)>,
);

fn outcome(g: &TestGw, out: Vec<(Verdict, Vec<u8>)>) -> Outcome {
    let learned = [(5000, R9), (6001, R9), (5000, H1), (6001, H2)]
        .map(|(vni, mac)| g.fdb(vni, mac).map(|e| e.dest));
    (out, learned, learned_events(&g.events()))
}

/// Handles `frames` one at a time on a fresh gateway, each with the hint `pick` gives it
/// (None: no hint).
fn handled_alone(
    frames: &[(Vec<u8>, bool, u8)],
    pick: &dyn Fn(&TestGw, usize) -> Option<TableHint>,
) -> Outcome {
    let mut g = TestGw::new(BASE);
    let mut out = Vec::new();
    for (i, (bytes, from_underlay, port)) in frames.iter().enumerate() {
        let hint = pick(&g, i).unwrap_or_default();
        g.gw.use_hint(hint);
        let mut f = VecFrame::new(bytes);
        let v = if *from_underlay {
            g.gw.underlay(&mut f)
        } else {
            g.gw.access(&mut f, *port)
        };
        out.push((v, f.bytes().to_vec()));
    }
    outcome(&g, out)
}

/// The pipeline checks a hint against the packet: a packet handled with its own hint, with
/// another packet's or with none ends the same, and so do the tables.
#[test]
fn a_hint_never_changes_what_happens_to_a_packet() {
    let frames = shape_frames();
    let run = |pick: &dyn Fn(&TestGw, usize) -> Option<TableHint>| handled_alone(&frames, pick);
    let hint_of = |g: &TestGw, i: usize| {
        frames
            .get(i)
            .map(|(b, from_underlay, port)| g.gw.hint(b, *port, *from_underlay))
    };
    let none = run(&|_, _| None);
    assert_eq!(run(&|g, i| hint_of(g, i)), none, "own hints");
    assert_eq!(
        run(&|g, i| hint_of(g, (i + 1) % frames.len())),
        none,
        "another packet's hints"
    );
    assert!(none.1.iter().all(Option::is_some), "{:?}", none.1);
}

/// The worker's burst loop (`BurstRun`: prefetch, first pass two ahead, hints) ends every
/// packet as handling it alone would, skipping empty slots.
#[test]
fn a_burst_ends_as_its_packets_one_at_a_time() {
    let frames = shape_frames();
    let alone = handled_alone(&frames, &|_, _| None);

    let mut g = TestGw::new(BASE);
    let mut run = BurstRun::default();
    let mut out = Vec::new();
    // Bursts as the ports deliver them: the underlay's three, port 1's two, port 2's one,
    // each with an empty slot in front.
    for range in [0..3, 3..5, 5..6] {
        let (_, from_underlay, port) = frames[range.start];
        let mut burst: Vec<Option<VecFrame>> = std::iter::once(None)
            .chain(frames[range].iter().map(|(b, ..)| Some(VecFrame::new(b))))
            .collect();
        run.start(&g.gw, &burst, port, from_underlay);
        assert_eq!(run.next(&mut g.gw, &mut burst, 0), None, "empty slot");
        for i in 1..burst.len() {
            let v = run.next(&mut g.gw, &mut burst, i).expect("a packet");
            out.push((
                v,
                burst[i].take().expect("left in its slot").bytes().to_vec(),
            ));
        }
    }
    assert_eq!(outcome(&g, out), alone);
}

// --- checksums of what the VTEP answers or learns from ------------------------------------

/// `frame` with one bit of its ICMP/ICMPv6 checksum field (at `at`) flipped.
fn corrupted(frame: &[u8], at: usize) -> Vec<u8> {
    let mut f = frame.to_vec();
    f[at] ^= 0x01;
    f
}

#[test]
fn corrupted_echo_and_neighbor_discovery_are_not_answered() {
    let mut g = TestGw::new(BASE);
    let mut ping = Vec::new();
    ep::PacketBuilder::ethernet2(NH_MAC, GW_MAC)
        .ipv4(v4("10.0.0.2"), v4("10.0.0.1"), 9)
        .icmpv4_echo_request(7, 9)
        .write(&mut ping, b"payload")
        .unwrap();
    let mut ping6 = Vec::new();
    ep::PacketBuilder::ethernet2(NH_MAC, GW_MAC)
        .ipv6(v6("fd00::2"), v6("fd00::1"), 9)
        .icmpv6_echo_request(7, 9)
        .write(&mut ping6, b"payload")
        .unwrap();
    let peer = [0x02, 0, 0, 0, 0, 0x66];
    let ns = neighbor_solicit(peer, v6("fd00::2"), v6("fd00::1"), Some(peer));
    for (name, good, icmp_at) in [("echo", &ping, 34), ("echo6", &ping6, 54), ("ns", &ns, 54)] {
        let bad = corrupted(good, icmp_at + 2);
        assert_eq!(
            g.underlay(&bad).0,
            Verdict::Drop(DropReason::IcmpBadChecksum),
            "{name}"
        );
        assert_eq!(g.underlay(good).0, Verdict::Forward(0), "{name} intact");
    }
    let local = &g.gw.counters().local;
    assert_eq!((local.echo_replies.get(), local.nd_replies.get()), (2, 1));
    let neighbors = g
        .events()
        .into_iter()
        .filter(|e| matches!(e, Event::Neighbor { .. }))
        .count();
    assert_eq!(
        neighbors, 1,
        "only the intact solicitation teaches the peer's MAC"
    );
}

#[test]
fn a_corrupted_tenant_solicitation_is_bridged_unanswered_and_teaches_nothing() {
    // VNI 5000 suppresses ARP/ND and knows 2001:db8::2; H1 asks for it on acc1.
    let mut g = TestGw::new(BASE);
    let ns = neighbor_solicit(H1, v6("2001:db8::1"), v6("2001:db8::2"), Some(H1));
    let (v, _) = g.access(&corrupted(&ns, 56), ACC1);
    assert!(matches!(v, Verdict::Flood(_)), "{v:?}");
    assert!(snooped(&g.events()).is_empty());
    let (v, _) = g.access(&ns, ACC1);
    assert_eq!(v, Verdict::Forward(ACC1), "the intact one is answered");
    assert_eq!(
        snooped(&g.events()).len(),
        1,
        "and its sender's binding snooped"
    );
}

#[test]
fn vxlan_over_ipv6_is_decapsulated_only_with_a_valid_or_zero_udp_checksum() {
    use super::underlay::{classify, NicChecks, VxlanPorts};
    let mut g = TestGw::new(BASE);
    let good = vxlan6_packet("fd00::2", "fd00::1", 0, 9000, &udp4(R9, H1, 0, 60));
    // The UDP checksum sits at 14 + 40 + 6.
    let bad = corrupted(&good, 61);
    let mut zero = good.clone();
    zero[60..62].copy_from_slice(&[0, 0]);
    assert_eq!(
        g.underlay(&bad).0,
        Verdict::Drop(DropReason::UdpBadChecksum)
    );
    assert_eq!(g.counters(9000).decap_packets.get(), 0);
    let (v, _) = g.underlay(&good);
    assert!(!matches!(v, Verdict::Drop(_)), "{v:?}");
    let (v, _) = g.underlay(&zero);
    assert!(!matches!(v, Verdict::Drop(_)), "RFC 6935: {v:?}");
    assert_eq!(g.counters(9000).decap_packets.get(), 2);

    // The NIC's outer-L4 verdict, when it gives one, is taken instead of a software sum.
    let local = g.gw.params.local.clone();
    let nic = |ok| NicChecks {
        outer_udp: Some(ok),
        ..NicChecks::NONE
    };
    assert!(classify(&bad, &local, &VxlanPorts::single(4789), nic(true)).is_ok());
    assert_eq!(
        classify(&good, &local, &VxlanPorts::single(4789), nic(false)),
        Err(DropReason::UdpBadChecksum)
    );
    assert!(
        classify(&zero, &local, &VxlanPorts::single(4789), nic(false)).is_ok(),
        "zero is never checked"
    );
}

// --- the exception path -------------------------------------------------------------------

/// BASE with EVPN on and BGP over the underlay: the exception path, at the given rates.
fn with_exception(established_pps: u32, new_pps: u32) -> TestGw {
    TestGw::new(&format!(
        "{BASE}\n[evpn]\nexception_established_pps = {established_pps}\nexception_new_pps = {new_pps}\n"
    ))
}

fn tcp_to_vtep(flags_syn: bool) -> Vec<u8> {
    let mut b = ep::PacketBuilder::ethernet2(NH_MAC, GW_MAC)
        .ipv4(v4("10.0.0.100"), v4("10.0.0.1"), 64)
        .tcp(40000, 179, 1, 1000);
    b = if flags_syn { b.syn() } else { b.ack(9) };
    let mut out = Vec::new();
    b.write(&mut out, b"bgp").unwrap();
    out
}

#[test]
fn what_the_vtep_does_not_serve_goes_to_the_kernel_only_with_the_exception_path() {
    let segment = tcp_to_vtep(false);
    let mut udp = Vec::new();
    ep::PacketBuilder::ethernet2(NH_MAC, GW_MAC)
        .ipv6(v6("fd00::2"), v6("fd00::1"), 64)
        .udp(49152, 3784)
        .write(&mut udp, &[0; 24])
        .unwrap();
    let mut unreachable = Vec::new();
    ep::PacketBuilder::ethernet2(NH_MAC, GW_MAC)
        .ipv4(v4("10.0.0.2"), v4("10.0.0.1"), 64)
        .icmpv4(ep::Icmpv4Type::DestinationUnreachable(
            ep::icmpv4::DestUnreachableHeader::Port,
        ))
        .write(&mut unreachable, &[0x45; 28])
        .unwrap();
    // Without it (no [evpn], or BGP through an interface of FRR's own): counted drops as
    // always.
    for toml in [
        BASE.to_owned(),
        format!("{BASE}\n[evpn]\nbgp_via = \"namespace\"\n"),
    ] {
        let mut g = TestGw::new(&toml);
        assert_eq!(
            g.underlay(&segment).0,
            Verdict::Drop(DropReason::UnsupportedProtocol)
        );
        assert_eq!(g.underlay(&udp).0, Verdict::Drop(DropReason::UdpPortClosed));
        assert_eq!(
            g.underlay(&unreachable).0,
            Verdict::Drop(DropReason::IcmpUnsupported)
        );
    }
    let mut g = with_exception(1000, 1000);
    for frame in [&segment, &udp, &unreachable] {
        let (v, f) = g.underlay(frame);
        assert_eq!(v, Verdict::Exception);
        assert_eq!(f.bytes(), &frame[..], "handed over untouched");
    }
    // Tunnel packets, pings and traffic for other addresses are unchanged.
    let mut other = Vec::new();
    ep::PacketBuilder::ethernet2(NH_MAC, GW_MAC)
        .ipv4(v4("10.0.0.100"), v4("10.0.0.9"), 64)
        .tcp(40000, 179, 1, 1000)
        .write(&mut other, b"bgp")
        .unwrap();
    assert_eq!(g.underlay(&other).0, Verdict::Drop(DropReason::NotLocal));
}

#[test]
fn arp_replies_to_the_vtep_also_reach_the_kernel_that_asked() {
    let peer = [0x02, 0, 0, 0, 0, 0x77];
    let reply = arp(
        peer,
        GW_MAC,
        ARP_REPLY,
        peer,
        "10.0.0.100",
        GW_MAC,
        "10.0.0.1",
    );
    let mut g = with_exception(1000, 1000);
    assert_eq!(g.underlay(&reply).0, Verdict::Exception);
    // vtepd resolved its own next hop from it all the same.
    assert_eq!(g.events().len(), 1);
    // Requests are vtepd's to answer.
    let request = arp(
        peer,
        BCAST,
        ARP_REQUEST,
        peer,
        "10.0.0.100",
        [0; 6],
        "10.0.0.1",
    );
    assert_eq!(g.underlay(&request).0, Verdict::Forward(0));
}

#[test]
fn a_syn_flood_spends_the_new_class_budget_not_the_sessions() {
    // 16 new/s: the smallest bucket (one RX burst, 32); 1600 established/s: 200.
    let mut g = with_exception(1600, 16);
    let syn = tcp_to_vtep(true);
    let admitted = (0..10_000)
        .filter(|_| g.underlay(&syn).0 == Verdict::Exception)
        .count();
    assert_eq!(admitted, 32);
    assert_eq!(
        g.underlay(&syn).0,
        Verdict::Drop(DropReason::ExceptionPoliced)
    );
    let segment = tcp_to_vtep(false);
    let established = (0..10_000)
        .filter(|_| g.underlay(&segment).0 == Verdict::Exception)
        .count();
    assert_eq!(established, 200);
    // A second later both have refilled.
    g.gw.set_now(REFRESH_TICKS.max(16) * 2);
    assert_eq!(g.underlay(&syn).0, Verdict::Exception);
    assert_eq!(g.underlay(&segment).0, Verdict::Exception);
}

mod routing;

/// `packet` (IPv4 VXLAN, no options) sent to UDP port `port`, without a UDP checksum.
fn to_vxlan_port(mut packet: Vec<u8>, port: u16) -> Vec<u8> {
    packet[36..38].copy_from_slice(&port.to_be_bytes());
    packet[40..42].fill(0);
    packet
}

/// Per-VNI VXLAN ports (`[[vni]] vxlan_port`): a VNI's packets are taken on its own port
/// only, its encapsulated packets go to that port (over IPv6 too, checksummed with it), and
/// moving a VNI to another port closes the old one even for a learned fast-path shape.
#[test]
fn each_vni_on_its_own_vxlan_port() {
    let cfg = BASE
        .replace(
            "flood = [\"10.0.0.2\", \"10.0.0.3\"]\n",
            "flood = [\"10.0.0.2\", \"10.0.0.3\"]\nvxlan_port = 8472\n",
        )
        .replace("vlan = 400\n", "vlan = 400\nvxlan_port = 4096\n");
    let mut g = TestGw::new(&cfg);
    let to = |port: u16, vni: u32| {
        let p = vxlan4_packet("10.0.0.2", "10.0.0.1", 0, vni, &udp4(R2, H1, 0, 60));
        to_vxlan_port(p, port)
    };
    let taken = |v: Verdict| matches!(v, Verdict::Forward(_) | Verdict::Flood(_));
    // Twice: the second takes the shape the first taught.
    for _ in 0..2 {
        assert!(taken(g.underlay(&to(8472, 5000)).0));
        assert!(taken(g.underlay(&to(4789, 7000)).0));
    }
    for (port, vni, why) in [
        (4789, 5000, DropReason::VxlanPortMismatch),
        (4096, 5000, DropReason::VxlanPortMismatch),
        (8472, 7000, DropReason::VxlanPortMismatch),
        (9999, 5000, DropReason::UdpPortClosed),
    ] {
        assert_eq!(
            g.underlay(&to(port, vni)).0,
            Verdict::Drop(why),
            "VNI {vni} on port {port}"
        );
    }

    let (v, f) = g.access(&udp4(H1, R2, 0, 60), ACC1);
    assert_eq!(v, Verdict::Forward(0));
    assert_eq!(Outer::parse(f.bytes()).udp.unwrap().destination_port, 8472);
    let (v, f) = g.access(&tag(&udp4(H1, R2, 0, 60), 400), ACC2);
    assert_eq!(v, Verdict::Forward(0));
    let o = Outer::parse(f.bytes());
    assert_eq!(o.udp.as_ref().unwrap().destination_port, 4096);
    assert!(
        o.checksums_verify(),
        "the IPv6 UDP checksum covers the port"
    );

    // VNI 5000 moves to 4096, beside VNI 9000: 8472 closes.
    let mut moved = g
        .authority
        .vni_config(Vni::new(5000).unwrap())
        .unwrap()
        .clone();
    moved.vxlan_port = Some(4096);
    let members = g.authority.members_of(moved.id);
    for c in &g.authority.update_vni(&moved, members).unwrap() {
        g.sync.send(g.authority.render(c)).unwrap();
    }
    g.gw.apply_updates(usize::MAX);
    assert_eq!(
        g.underlay(&to(8472, 5000)).0,
        Verdict::Drop(DropReason::UdpPortClosed)
    );
    assert!(taken(g.underlay(&to(4096, 5000)).0));
    let (_, f) = g.access(&udp4(H1, R2, 0, 60), ACC1);
    assert_eq!(Outer::parse(f.bytes()).udp.unwrap().destination_port, 4096);
    assert_eq!(
        g.gw.tables.vnis.vxlan_ports().open_ports(),
        vec![4789, 4096]
    );
}
