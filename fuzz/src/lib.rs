//! What vtepd's fuzz targets share.
//!
//! - Gateways built from a TOML configuration exactly the way the daemon builds a worker's
//!   (`config::parse` → `authority_from_config` → a replica filled from the authority →
//!   `Gateway::new`), without EAL. A `Base` is built once per process; each input gets a
//!   fresh `Node` cloned from it, so every run is deterministic and a crash reproduces from
//!   its input alone.
//! - `FuzzFrame`: a packet buffer with an mbuf's limits (128 bytes of headroom, a fixed data
//!   room), where `VecFrame` would grow without bound.
//! - The management thread's side of table sync (`Node::step`): worker events into the
//!   authority, aging, updates back to the worker, on a clock that advances per frame.
//! - Checks of what the pipeline sends: what goes to the underlay must be a well-formed
//!   packet (independently parsed by etherparse), flood copies are made the way the data
//!   plane makes them.
//! - `Input`: several frames (or requests) in one input, split at a separator, so learning
//!   followed by forwarding is reachable.
//! - `mgmt_pool`: EAL (no hugepages, no PCI) and a small mempool, once per process, for the
//!   targets that need a real `TableManager` (the API and reload).

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, OnceLock};

use crossbeam::queue::ArrayQueue;
use crossbeam::utils::CachePadded;
use etherparse::{NetSlice, SlicedPacket, TransportSlice};

use vtepd::config::{self, Config, GatewayConfig, Mode};
use vtepd::control::gateway::{authority_from_config, params};
use vtepd::control::tables::TableManager;
use vtepd::dataplane::{SharedCounters, WorkerCounters};
use vtepd::dpdk::{Eal, Mempool};
use vtepd::pipeline::learn::TICKS_PER_SEC;
use vtepd::pipeline::{segment, vlan, Frame, Gateway, GatewayParams, Offload, OffloadCaps};
use vtepd::pipeline::{BurstRun, Target, Verdict};
use vtepd::tables::authority::{Authority, Change};
use vtepd::tables::sync::SyncChannel;
use vtepd::tables::Event;
use vtepd::wire::MacAddr;

// --- configurations --------------------------------------------------------------------

/// The gateway's underlay MAC: the one net_pcap gives its first port, as in the test pcaps.
pub const GW_MAC: MacAddr = MacAddr([0x02, 0x70, 0x63, 0x61, 0x70, 0x00]);
/// The fixed next hop of `GATEWAY` (and the underlay MAC of `PEER`, which it sends to).
pub const NEXT_HOP_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0xfe]);

/// The gateway under test: the addresses, VNIs and stations of tests/traffic/scenarios.py
/// (so the corpus seeded from its pcaps reaches deep), with every feature on some VNI: VXLAN
/// and NVGRE, IPv4 and IPv6 underlay, head-end flooding and a multicast group, ARP/ND
/// suppression with static bindings, an allowlist, learning only from the flood list, a MAC
/// limit, learning off, static MACs behind ports and VTEPs, storm control, the exception
/// path. Port 1 is native
/// for 5000, port 2 a trunk, port 3 native for 7100. Short MAC aging and small tables so
/// aging and full tables are reachable.
pub const GATEWAY: &str = r#"
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
untagged_vni = 7100

[[vni]]
id = 5000
vlan = 100
flood = ["10.0.0.2", "10.0.0.3"]
arp_suppression = true

[[vni]]
id = 5100
vlan = 110
flood = ["fd00::2"]
arp_suppression = true
max_macs = 3

[[vni]]
id = 5300
vlan = 130
flood = ["10.0.0.2"]
allowed_vteps = ["10.0.0.2", "fd00::2"]

[[vni]]
id = 6000
vlan = 300
multicast_group = "239.1.1.1"
bum_rate_pps = 1

[[vni]]
id = 6100
vlan = 310
multicast_group = "ff0e::1:1"

[[vni]]
id = 7000
vlan = 200
encap = "nvgre"
flood = ["10.0.0.2", "fd00::3"]
arp_suppression = true
learn_only_from_flood = true

[[vni]]
id = 7100
encap = "nvgre"
flood = ["fd00::2"]
learning = false

[[fdb]]
vni = 5000
mac = "02:00:00:00:02:01"
remote = "10.0.0.2"

[[fdb]]
vni = 5000
mac = "02:00:00:00:02:02"
remote = "fd00::2"

[[fdb]]
vni = 5000
mac = "02:00:00:00:03:01"
port = "acc1"

[[fdb]]
vni = 5000
mac = "02:00:00:00:03:02"
port = "acc2"

[[fdb]]
vni = 7000
mac = "02:00:00:00:02:03"
remote = "10.0.0.2"

[[fdb]]
vni = 7000
mac = "02:00:00:00:03:03"
port = "acc2"

[[fdb]]
vni = 7100
mac = "02:00:00:00:03:04"
port = "acc3"

[[fdb]]
vni = 5100
mac = "02:00:00:00:02:02"
remote = "fd00::2"

[[arp]]
vni = 5000
ip = "192.168.1.2"
mac = "02:00:00:00:02:01"

[[arp]]
vni = 5000
ip = "2001:db8::2"
mac = "02:00:00:00:02:01"

[[arp]]
vni = 7000
ip = "192.168.7.3"
mac = "02:00:00:00:03:03"

[tables]
mac_age_secs = 2

# BGP over the underlay: what the VTEP does not serve goes to the kernel, policed (no VNI is
# under EVPN control; the pipeline never sees the namespace).
[evpn]
exception_established_pps = 2000
exception_new_pps = 100
"#;

/// `GATEWAY` resolving its next hops with ARP/ND instead of a fixed MAC: until a reply from
/// a remote VTEP arrives, its tunnels have no outer header.
pub fn gateway_resolving() -> String {
    GATEWAY.replace("next_hop_mac = \"02:00:00:00:00:fe\"\n", "")
}

/// The remote VTEP the gateway sends to (every address `GATEWAY` floods or sends to is one
/// of its own): the same VNIs with the same encapsulations and VLANs, no static entries.
/// Port 1 is native for 7100 (which has no VLAN), port 2 a trunk for the others.
pub const PEER: &str = r#"
[underlay]
port = "u0"
addresses = ["10.0.0.2/24", "10.0.0.3/24", "fd00::2/64", "fd00::3/64"]
next_hop_mac = "02:70:63:61:70:00"
mtu = 9000

[[access]]
port = "p1"
untagged_vni = 7100

[[access]]
port = "p2"

[[vni]]
id = 5000
vlan = 100
flood = ["10.0.0.1"]

[[vni]]
id = 5100
vlan = 110

[[vni]]
id = 5300
vlan = 130

[[vni]]
id = 6000
vlan = 300
multicast_group = "239.1.1.1"

[[vni]]
id = 6100
vlan = 310
multicast_group = "ff0e::1:1"

[[vni]]
id = 7000
vlan = 200
encap = "nvgre"

[[vni]]
id = 7100
encap = "nvgre"
"#;

/// MAC-table and binding capacity of the fuzzed tables: small, so "table full" is reachable.
pub const FDB_CAPACITY: usize = 32;

// --- inputs ----------------------------------------------------------------------------

/// Separates frames (or requests) inside one fuzz input; the dictionaries carry it.
pub const SEPARATOR: &[u8] = b"~NXT";
/// At most this many frames per input: keeps a run short.
pub const MAX_PIECES: usize = 64;

/// The pieces of an input, split at `SEPARATOR`.
pub fn pieces(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(data);
    std::iter::from_fn(move || {
        let r = rest?;
        match find(r, SEPARATOR) {
            Some(i) => {
                rest = r.get(i + SEPARATOR.len()..);
                r.get(..i)
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
    .take(MAX_PIECES)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

// --- frames ----------------------------------------------------------------------------

/// DPDK's default mbuf headroom.
pub const HEADROOM: usize = 128;
/// The data room of the gateway's receive buffers (RTE_MBUF_DEFAULT_DATAROOM); a longer
/// frame would be a chain, which the data plane drops before the pipeline sees it.
pub const DATA_ROOM: usize = 2048;

/// A packet buffer with an mbuf's limits: fixed headroom and tailroom, `append` fails when
/// the buffer is full, lengths never wrap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuzzFrame {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    pub rss: Option<u32>,
    pub vlan: Option<u16>,
    pub hw_ip_checksum: Option<bool>,
    pub offload: Option<Offload>,
}

impl FuzzFrame {
    /// A received frame; None when it would not fit one buffer.
    pub fn new(bytes: &[u8]) -> Option<FuzzFrame> {
        if bytes.len() > DATA_ROOM {
            return None;
        }
        let mut buf = vec![0u8; HEADROOM + DATA_ROOM];
        buf.get_mut(HEADROOM..HEADROOM + bytes.len())?
            .copy_from_slice(bytes);
        Some(FuzzFrame {
            buf,
            start: HEADROOM,
            end: HEADROOM + bytes.len(),
            rss: None,
            vlan: None,
            hw_ip_checksum: None,
            offload: None,
        })
    }
}

impl Frame for FuzzFrame {
    fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.end]
    }

    fn prepend(&mut self, len: usize) -> Option<&mut [u8]> {
        // rte_pktmbuf_prepend takes a u16.
        u16::try_from(len).ok()?;
        let start = self.start.checked_sub(len)?;
        self.start = start;
        Some(&mut self.buf[start..start + len])
    }

    fn adj(&mut self, len: usize) -> bool {
        if len > self.end - self.start {
            return false;
        }
        self.start += len;
        true
    }

    fn truncate(&mut self, len: usize) -> bool {
        if len > self.end - self.start {
            return false;
        }
        self.end = self.start + len;
        true
    }

    fn narrow(&mut self, start: usize, len: usize) -> bool {
        match start.checked_add(len) {
            Some(end) if end <= self.end - self.start => {
                self.start += start;
                self.end = self.start + len;
                true
            }
            _ => false,
        }
    }

    fn append(&mut self, len: usize) -> bool {
        match self.end.checked_add(len) {
            Some(end) if end <= self.buf.len() => {
                // An mbuf's tailroom holds whatever was there: not zeros.
                self.buf[self.end..end].fill(0xa5);
                self.end = end;
                true
            }
            _ => false,
        }
    }

    fn rss_hash(&self) -> Option<u32> {
        self.rss
    }

    fn rx_vlan(&self) -> Option<u16> {
        self.vlan
    }

    fn rx_ip_checksum_ok(&self) -> Option<bool> {
        self.hw_ip_checksum
    }

    fn request_offload(&mut self, o: Offload) {
        self.offload = Some(o);
    }
}

// --- gateways --------------------------------------------------------------------------

/// A gateway configuration, parsed and turned into tables once.
#[derive(Debug)]
pub struct Base {
    /// The whole configuration, and its gateway part.
    pub full: Config,
    pub config: GatewayConfig,
    pub authority: Authority,
    pub params: GatewayParams,
    /// The underlay port plus the access ports.
    pub ports: usize,
    mac_age_secs: u64,
    counters: SharedCounters,
    mac: MacAddr,
}

impl Base {
    /// Panics on a configuration the harness should never have (a harness bug).
    pub fn new(toml: &str, mac: MacAddr) -> Base {
        let config = config::parse(toml).expect("the harness's configuration is valid");
        let Mode::Gateway(g) = config.mode.clone() else {
            panic!("the harness's configuration is not a gateway")
        };
        let authority = authority_from_config(&g, mac, FDB_CAPACITY).expect("tables");
        let params = params(&g, mac, OffloadCaps::default());
        Base {
            full: config.clone(),
            ports: 1 + g.access.len(),
            config: g,
            authority,
            params,
            mac_age_secs: u64::from(config.tables.mac_age_secs),
            counters: Arc::new(CachePadded::new(WorkerCounters::default())),
            mac,
        }
    }

    /// The management thread's tables for this configuration, syncing to `node` alone (as
    /// the API and reloads reach them).
    pub fn manager(&self, node: &Node) -> TableManager {
        TableManager::new(
            self.authority.clone(),
            vec![node.channel()],
            Arc::new(ArrayQueue::new(16)),
            mgmt_pool(),
            self.mac,
            2,
        )
    }

    /// A fresh worker with the configured tables, as `TableManager::replica` makes one.
    pub fn node(&self) -> Node {
        let replica = self.authority.replica(self.ports, FDB_CAPACITY);
        let sync = SyncChannel::new(1024, 1024);
        let gw = Gateway::new(
            self.params.clone(),
            replica,
            Arc::clone(&sync),
            Arc::clone(&self.counters),
        );
        Node {
            gw,
            burst: BurstRun::default(),
            authority: self.authority.clone(),
            sync,
            tick: 0,
            mac_age_secs: self.mac_age_secs,
            ports: self.ports,
        }
    }
}

/// Ticks of the worker clock (1/16 s) that pass per frame: an eighth of a second, so within
/// one input learned entries refresh (after 8 frames) and age (`mac_age_secs = 2`: after 16
/// to 24 frames without a refresh), and a VNI's storm-control bucket (`bum_rate_pps = 1`:
/// 32 frames deep) runs dry.
pub const TICKS_PER_FRAME: u32 = 2;

/// One worker and the management thread's tables, kept in sync by `step`.
#[derive(Debug)]
pub struct Node {
    pub gw: Gateway,
    /// The worker's burst loop, run on bursts of one frame.
    burst: BurstRun,
    pub authority: Authority,
    sync: Arc<SyncChannel>,
    tick: u32,
    mac_age_secs: u64,
    pub ports: usize,
}

impl Node {
    /// Between frames, what the management thread does every millisecond
    /// (`TableManager::tick`): the worker's events into the authority, aging, the changes back
    /// to the worker, which applies them (as between bursts). Deterministic: the clock is the
    /// frame count.
    pub fn step(&mut self) {
        self.tick = self.tick.wrapping_add(TICKS_PER_FRAME);
        let secs = u64::from(self.tick / TICKS_PER_SEC);
        let mut changes = Vec::new();
        while let Some(ev) = self.sync.next_event() {
            // The resolver takes answers from the neighbours it asked.
            if let Some(Event::Neighbor { ip, mac }) = self.authority.absorb(ev, secs, &mut changes)
            {
                if self.authority.gateways().contains(&ip) {
                    changes.extend(self.authority.set_neighbor(ip, Some(mac)));
                }
            }
        }
        changes.extend(self.authority.expire(secs, self.mac_age_secs));
        self.fanout(&changes);
        self.gw.set_now(self.tick);
        self.gw.apply_updates(usize::MAX);
    }

    /// The worker's queues, for a `TableManager` to send its updates to.
    pub fn channel(&self) -> Arc<SyncChannel> {
        Arc::clone(&self.sync)
    }

    /// `TableManager::fanout` for this one worker: each changed object once, in order.
    pub fn fanout(&mut self, changes: &[Change]) {
        let mut seen = HashSet::new();
        for c in changes.iter().filter(|c| seen.insert(**c)) {
            let mut u = self.authority.render(c);
            // A full queue: let the worker drain it (the real one has a backlog instead).
            while let Err(back) = self.sync.send(u) {
                u = back;
                if self.gw.apply_updates(usize::MAX) == 0 {
                    break;
                }
            }
        }
    }

    /// One frame through the worker's burst loop (first pass included), as a burst of one.
    fn run(&mut self, f: FuzzFrame, port: u8, from_underlay: bool) -> (FuzzFrame, Verdict) {
        let mut burst = [Some(f)];
        self.burst.start(&self.gw, &burst, port, from_underlay);
        let verdict = self.burst.next(&mut self.gw, &mut burst, 0);
        let [f] = burst;
        match (f, verdict) {
            (Some(f), Some(v)) => (f, v),
            _ => panic!("a burst of one lost its frame"),
        }
    }

    /// Underlay frame: what `Worker::run` hands the pipeline, then the verdict carried out.
    /// Returns the frames sent to the underlay.
    pub fn underlay(&mut self, bytes: &[u8], hw_checksum: Option<bool>) -> Vec<FuzzFrame> {
        let Some(mut f) = FuzzFrame::new(bytes) else {
            return Vec::new();
        };
        f.hw_ip_checksum = hw_checksum;
        let (f, v) = self.run(f, 0, true);
        let out = self.carry_out(v, f, Side::Underlay, hw_checksum.is_none());
        self.step();
        out
    }

    /// Access frame on `port`; returns the frames sent to the underlay and the verdict.
    pub fn access(&mut self, port: u8, f: FuzzFrame) -> (Verdict, Vec<FuzzFrame>) {
        let (f, v) = self.run(f, port, false);
        let out = self.carry_out(v, f, Side::Access(port), true);
        self.step();
        (v, out)
    }

    /// What the data plane does with a verdict, as far as it can be done without mbufs:
    /// every packet it would send is checked, and the ones for the underlay returned.
    fn carry_out(&self, v: Verdict, f: FuzzFrame, from: Side, strict: bool) -> Vec<FuzzFrame> {
        let ports = self.ports;
        match v {
            Verdict::Forward(p) => {
                assert!(usize::from(p) < ports, "{v:?}: no such port");
                if p == 0 {
                    // Encapsulated (from an access port) or a reply to the VTEP's own
                    // traffic (from the underlay).
                    check_underlay_frame(f.data(), matches!(from, Side::Access(_)), strict);
                    vec![f]
                } else {
                    assert!(
                        f.data().len() >= 14,
                        "{v:?} from {from:?}: {} bytes is not an Ethernet frame",
                        f.data().len()
                    );
                    if from == Side::Access(p) {
                        // Only answers go back where the frame came from: ARP/ND
                        // suppression, and the ICMP error for a frame too big for the
                        // tunnel.
                        let back = untagged(f.data());
                        assert!(
                            is_suppression_answer(&back) || is_too_big_answer(&back),
                            "bridged back to the port it came from: {:02x?}",
                            f.data()
                        );
                    }
                    Vec::new()
                }
            }
            Verdict::Segment(p) => {
                assert_eq!(p, 0, "{v:?}: segmentation is for the underlay");
                let o = f.offload.expect("a packet to segment has offload lengths");
                assert!(o.tcp_segmentation, "{o:?}");
                check_underlay_frame(f.data(), true, true);
                // librte_gso cuts after the headers; the first segment's checksums are
                // fixed the way every segment's are.
                let headers = usize::from(o.outer_l2_len)
                    + usize::from(o.outer_l3_len)
                    + usize::from(o.l2_len)
                    + usize::from(o.l3_len)
                    + usize::from(o.l4_len);
                let mut head = f
                    .data()
                    .get(..headers)
                    .expect("headers in the frame")
                    .to_vec();
                let tail = f.data().get(headers..).unwrap_or_default();
                assert!(
                    segment::finish_tcp4_segment(&mut head, [tail].into_iter(), &o),
                    "segment checksums: {o:?}"
                );
                vec![f]
            }
            Verdict::Flood(fl) => {
                assert!(
                    f.data().len() >= 14,
                    "flood of a {}-byte frame",
                    f.data().len()
                );
                if let Side::Underlay = from {
                    assert!(!fl.to_underlay, "flooded back into the underlay: {fl:?}");
                }
                let mut out = Vec::new();
                let inner_len = f.data().len();
                let meta = self.gw.inner_meta(f.data(), f.rss_hash());
                for t in self.gw.flood_targets(fl) {
                    match t {
                        Target::Access { port, vlan } => {
                            assert!(usize::from(port) < ports && port != 0, "{t:?}");
                            assert_ne!(Some(port), fl.except, "flooded back: {t:?}");
                            // As GatewayHandler::flood: larger than the port's MTU is a drop.
                            if !self.gw.fits_access(port, inner_len) {
                                continue;
                            }
                            let mut copy = f.clone();
                            if let Some(tci) = vlan {
                                assert!(vlan::push(&mut copy, tci), "no room for a tag");
                            }
                        }
                        Target::Tunnel(t) => {
                            assert!(fl.to_underlay, "{t:?} for a frame from the underlay");
                            // As GatewayHandler::flood: unresolved or too large is a drop.
                            let Some((vni, outer)) = self.gw.flood_tunnel(fl.vni, t) else {
                                continue;
                            };
                            if outer.outer_ip_len(inner_len) > usize::from(self.gw.params.mtu) {
                                continue;
                            }
                            let mut copy = f.clone();
                            self.gw
                                .encap_in_place(&mut copy, &outer, vni, meta)
                                .expect("a flood copy fits its buffer");
                            check_underlay_frame(copy.data(), true, true);
                            out.push(copy);
                        }
                    }
                }
                out
            }
            Verdict::Consumed | Verdict::Drop(_) => Vec::new(),
            // For the EVPN namespace's kernel: only what came from the underlay, and only
            // with an exception path configured.
            Verdict::Exception => {
                assert!(
                    matches!(from, Side::Underlay) && self.gw.params.exception.is_some(),
                    "{v:?} for a frame from {from:?}"
                );
                Vec::new()
            }
        }
    }
}

/// Where a frame came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Underlay,
    Access(u8),
}

/// A frame vtepd sends to the underlay must be what it claims: parsed independently by
/// etherparse, with a valid outer IPv4 header checksum (when the input's was verified),
/// lengths that agree with the frame and, for a tunnel packet, the VXLAN or NVGRE header
/// vtepd writes.
pub fn check_underlay_frame(frame: &[u8], encapsulated: bool, strict: bool) {
    assert!(frame.len() >= 14, "{} bytes to the underlay", frame.len());
    if frame.get(12..14) == Some(&[0x08, 0x06]) {
        assert!(!encapsulated, "an ARP frame as a tunnel packet");
        assert!(frame.len() >= 14 + 28, "a short ARP reply");
        return;
    }
    let p = SlicedPacket::from_ethernet(frame)
        .unwrap_or_else(|e| panic!("to the underlay, unparseable: {e}: {frame:02x?}"));
    let (payload_len, l4) = match &p.net {
        Some(NetSlice::Ipv4(ip)) => {
            let h = ip.header();
            if strict {
                let fixed = h.to_header().calc_header_checksum();
                assert_eq!(h.header_checksum(), fixed, "outer IPv4 header checksum");
            }
            if encapsulated {
                assert_eq!(
                    usize::from(h.total_len()),
                    frame.len() - 14,
                    "outer IPv4 total length"
                );
            }
            (usize::from(h.total_len()) - h.slice().len(), h.protocol())
        }
        Some(NetSlice::Ipv6(ip)) => {
            let h = ip.header();
            if encapsulated {
                assert_eq!(
                    usize::from(h.payload_length()),
                    frame.len() - 54,
                    "outer IPv6 payload length"
                );
            }
            (usize::from(h.payload_length()), h.next_header())
        }
        _ => panic!("to the underlay, neither IPv4, IPv6 nor ARP: {frame:02x?}"),
    };
    // From the underlay, ARP/ND suppression answers are tunnel packets too.
    let tunnel = match (&p.transport, l4) {
        (Some(TransportSlice::Udp(u)), _) => u.destination_port() == 4789,
        (_, n) => n == etherparse::IpNumber::GRE,
    };
    if !encapsulated && !tunnel {
        return;
    }
    match (&p.transport, l4) {
        (Some(TransportSlice::Udp(u)), etherparse::IpNumber::UDP) => {
            assert_eq!(usize::from(u.length()), payload_len, "outer UDP length");
            assert_eq!(u.destination_port(), 4789, "VXLAN port");
            if let Some(NetSlice::Ipv6(ip)) = &p.net {
                // Computed in software (no checksum offload in the harness).
                let expected = u
                    .to_header()
                    .calc_checksum_ipv6(&ip.header().to_header(), u.payload())
                    .expect("checksum");
                assert_eq!(u.checksum(), expected, "outer UDP checksum over IPv6");
            }
            let vx = u.payload();
            assert!(vx.len() >= 8 + 14, "VXLAN packet without an inner frame");
            assert_eq!(vx.first(), Some(&0x08), "VXLAN flags");
        }
        (_, etherparse::IpNumber::GRE) => {
            let ip_payload = match &p.net {
                Some(NetSlice::Ipv4(ip)) => ip.payload().payload,
                Some(NetSlice::Ipv6(ip)) => ip.payload().payload,
                _ => &[],
            };
            assert!(
                ip_payload.len() >= 8 + 14,
                "NVGRE packet without an inner frame"
            );
            // K bit set, C and S clear, version 0; Transparent Ethernet Bridging.
            assert_eq!(
                ip_payload.get(..4),
                Some(&[0x20, 0x00, 0x65, 0x58][..]),
                "GRE"
            );
        }
        (t, n) => panic!("a tunnel packet that is neither VXLAN nor NVGRE: {n:?} {t:?}"),
    }
}

/// An ARP reply, or an IPv6 neighbour advertisement (without extension headers: how vtepd
/// writes them).
fn is_suppression_answer(frame: &[u8]) -> bool {
    match frame.get(12..14) {
        Some([0x08, 0x06]) => frame.get(20..22) == Some(&[0, 2]),
        Some([0x86, 0xdd]) => frame.get(20) == Some(&58) && frame.get(54) == Some(&136),
        _ => false,
    }
}

/// An ICMP fragmentation needed or ICMPv6 packet too big (path MTU discovery for a frame
/// too big for the tunnel).
fn is_too_big_answer(frame: &[u8]) -> bool {
    match frame.get(12..14) {
        Some([0x08, 0x00]) => {
            let ihl = usize::from(frame.get(14).copied().unwrap_or(0) & 0x0f) * 4;
            frame.get(23) == Some(&1) && frame.get(14 + ihl..14 + ihl + 2) == Some(&[3, 4])
        }
        Some([0x86, 0xdd]) => frame.get(20) == Some(&58) && frame.get(54) == Some(&2),
        _ => false,
    }
}

/// The inner frame of a tunnel packet that passed `check_underlay_frame`.
pub fn inner_of(frame: &[u8]) -> &[u8] {
    let v6 = frame.get(12..14) == Some(&[0x86, 0xdd]);
    let (l3, proto) = if v6 {
        (40, frame.get(20).copied())
    } else {
        let ihl = usize::from(frame.get(14).copied().unwrap_or(0x45) & 0x0f) * 4;
        (ihl, frame.get(23).copied())
    };
    let tunnel = if proto == Some(17) { 16 } else { 8 };
    frame.get(14 + l3 + tunnel..).unwrap_or_default()
}

/// `frame` without its 802.1Q tag, if it has one.
pub fn untagged(frame: &[u8]) -> Vec<u8> {
    match frame.get(12..14) {
        Some([0x81, 0x00]) if frame.len() >= 18 => {
            let mut out = frame.get(..12).unwrap_or_default().to_vec();
            out.extend_from_slice(frame.get(16..).unwrap_or_default());
            out
        }
        _ => frame.to_vec(),
    }
}

// --- the management side: EAL, TableManager --------------------------------------------

/// A mempool on EAL started without hugepages or devices, once per process: what
/// `TableManager` needs (it allocates the slow path's frames from it). EAL's main thread
/// pinning is undone, so libFuzzer's own threads and parallel jobs are not all on one CPU.
pub fn mgmt_pool() -> Mempool {
    static POOL: OnceLock<Mempool> = OnceLock::new();
    *POOL.get_or_init(|| {
        let cpus = affinity();
        // One lcore, on a CPU this process may use; no shared files, so parallel jobs do
        // not collide.
        let first = (0..libc::CPU_SETSIZE as usize)
            // SAFETY: `cpus` is a valid cpu_set_t and `c` is below CPU_SETSIZE.
            .find(|&c| unsafe { libc::CPU_ISSET(c, &cpus) })
            .unwrap_or(0);
        let args: Vec<String> = [
            "vtepd-fuzz".to_owned(),
            "--no-huge".to_owned(),
            "-m".to_owned(),
            "64".to_owned(),
            "--no-pci".to_owned(),
            "--no-shconf".to_owned(),
            "--no-telemetry".to_owned(),
            format!("--file-prefix=vtepd-fuzz-{}", std::process::id()),
            "-l".to_owned(),
            first.to_string(),
            "--log-level=lib.*:error".to_owned(),
        ]
        .to_vec();
        let eal = Eal::init(&args).expect("EAL (no hugepages, no PCI)");
        restore_affinity(&cpus);
        // Never cleaned up: the process ends with the fuzzer.
        let eal: &'static Eal = Box::leak(Box::new(eal));
        Mempool::create(eal, "vtepd_fuzz", 511, 0, 2048, -1).expect("mempool")
    })
}

/// Defines LeakSanitizer's default suppressions for a target that starts EAL: `Eal::init`
/// leaks its argument strings on purpose (EAL keeps pointers into argv for the life of the
/// process). Expand it once in the target's own file (the hook must be in the binary).
#[macro_export]
macro_rules! eal_leak_suppressions {
    () => {
        /// LeakSanitizer's hook (a weak default in the runtime).
        #[no_mangle]
        pub extern "C" fn __lsan_default_suppressions() -> *const std::ffi::c_char {
            c"leak:vtepd::dpdk::eal".as_ptr()
        }
    };
}

fn affinity() -> libc::cpu_set_t {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity writes at most its size.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set);
        set
    }
}

fn restore_affinity(set: &libc::cpu_set_t) {
    // SAFETY: `set` is a valid cpu_set_t of the size given.
    unsafe {
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set);
    }
}

/// What the configuration says the tables hold, independent of indices: VNIs with their
/// settings, static MACs and where they are, static bindings, and the tunnels all of this
/// needs. Two authorities that describe the same configuration compare equal.
pub fn static_state(a: &Authority) -> BTreeSet<String> {
    let mut s = BTreeSet::new();
    for (id, _, v) in a.vnis() {
        s.insert(format!("vni {id} {v:?}"));
    }
    for (key, r) in a.fdb() {
        if r.is_static() {
            let vni = a.vni_id(key.vni()).map(|v| v.get());
            s.insert(format!("fdb {vni:?} {} {:?}", key.mac(), r.at));
        }
    }
    for ((index, ip), b) in a.bindings() {
        if b.is_static {
            let vni = a.vni_id(*index).map(|v| v.get());
            s.insert(format!("arp {vni:?} {ip} {}", b.mac));
        }
    }
    for (_, remote, encap) in a.tunnels() {
        s.insert(format!("tunnel {remote} {encap:?}"));
    }
    s
}

/// The configuration `Config` holds, if it is a gateway.
pub fn gateway_of(c: &Config) -> Option<&GatewayConfig> {
    match &c.mode {
        Mode::Gateway(g) => Some(g),
        Mode::CrossConnect { .. } => None,
    }
}
