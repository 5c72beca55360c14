//! The gateway's per-packet logic, one instance per worker.
//!
//! `access` handles a frame from a tenant port: map (port, VLAN) to a VNI, learn the source,
//! answer ARP/ND from known bindings, then bridge it locally, encapsulate it to the VTEP
//! behind its destination, or hand it back for flooding. `underlay` handles a packet from the
//! fabric: validate and decapsulate a tunnel packet for one of our addresses (learning the
//! inner source behind its VTEP), or answer ARP, ping and neighbour discovery for the VTEP
//! itself; what it does not serve goes to the kernel in the EVPN namespace when the exception
//! path is on (`exception`). Both return a `Verdict`; the data plane carries it out on the
//! real buffer.

use std::net::IpAddr;
use std::sync::Arc;

use crate::config::{DscpPolicy, Encap, ExceptionLimits, QosConfig};
use crate::dataplane::counters::SharedCounters;
use crate::tables::fdb::Probe;
use crate::tables::sync::SyncChannel;
use crate::tables::update::{Event, Garbage, Location, Update};
use crate::tables::vni::{Egress, FloodTo, VniSummary};
use crate::tables::{Dest, FdbKey, PortIndex, Replica, TunnelId, VniIndex};
use crate::wire::{
    arp, ethernet, icmpv6, ipv4, ipv6, tcp, vlan as dot1q, EtherType, IpProtocol, MacAddr, Vni,
};

use super::ecn;
use super::encap::{self, OuterTemplate, PacketParams, SourcePorts, TunnelVni};
use super::entropy;
use super::exception::{self, ExceptionClass, ExceptionPolicers};
use super::frame::{Frame, Offload};
use super::learn::{LearnFilter, REFRESH_TICKS};
use super::policer::Policer;
use super::shape::TunnelShapes;
use super::storm::StormControl;
use super::underlay::{self, LocalAddrs, LocalPacket, TunnelPacket, Underlay};
use super::{icmp_error, priority, reply, vlan, DropReason};

mod policing;
mod routing;

use routing::{GatewayAction, GatewayQuestion};

/// What a port can do for the pipeline in hardware.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OffloadCaps {
    pub outer_ipv4_checksum: bool,
    pub outer_udp_checksum: bool,
    /// VXLAN/GRE tunnel TSO on the underlay port.
    pub tunnel_tso: bool,
    /// Chained (multi-segment) mbufs on transmit, on every port.
    pub multi_segs: bool,
}

/// What the pipeline needs to know about the gateway; fixed while the workers run.
#[derive(Debug, Clone)]
pub struct GatewayParams {
    pub underlay_port: PortIndex,
    pub underlay_mac: MacAddr,
    pub local: LocalAddrs,
    /// IP MTU of the underlay.
    pub mtu: u16,
    /// Each port's MTU by `PortIndex` (0: the underlay's `mtu`): what a frame it receives or
    /// an access port sends may carry after its Ethernet header.
    pub port_mtu: Box<[u16]>,
    pub dscp: DscpPolicy,
    /// 802.1p PCP ↔ outer DSCP maps (`[qos]`).
    pub qos: QosConfig,
    pub source_ports: SourcePorts,
    pub offload: OffloadCaps,
    /// Workers sharing each VNI's storm-control rate (and the exception path's).
    pub workers: u32,
    /// The exception path's policers; None: nothing goes to a kernel.
    pub exception: Option<ExceptionLimits>,
    /// The L3 gateway; None: no VRF is configured.
    pub routing: Option<RoutingParams>,
}

/// ICMP errors per second without `[routing]` (its `icmp_errors_pps` default).
const DEFAULT_ICMP_ERRORS_PPS: u32 = 1000;

/// The routing stage's fixed parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoutingParams {
    /// The anycast gateway MAC: frames to it in a routed VNI are routed.
    pub gateway_mac: MacAddr,
    /// This gateway's router MAC: frames to it in an L3VNI are routed.
    pub router_mac: MacAddr,
    /// ICMP errors per second, for the whole gateway.
    pub icmp_errors_pps: u32,
    /// Host resolutions (ARP/NS) per second, for the whole gateway.
    pub resolve_pps: u32,
}

/// Values derived once from the inner frame and patched into every copy's outer header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InnerMeta {
    pub entropy: u32,
    pub tos: u8,
}

/// A broadcast, multicast or unknown-unicast frame to replicate. The buffer holds the inner
/// frame, untagged. The copies to remote VTEPs take their entropy and TOS from it
/// (`Gateway::inner_meta`) when they are made: carried here, they would make every verdict
/// too large to pass in a register, for the sake of the rare flood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flood {
    pub vni: VniIndex,
    /// The access port it came in on (never sent back there).
    pub except: Option<PortIndex>,
    /// Also to the VNI's remote VTEPs (not for frames that came from the underlay).
    pub to_underlay: bool,
}

/// What to do with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Rewritten in place: send it on this port.
    Forward(PortIndex),
    /// Encapsulated in place but larger than the MTU: a TCP packet to segment (offload
    /// lengths are set) and send on this port.
    Segment(PortIndex),
    Flood(Flood),
    /// Absorbed by the gateway.
    Consumed,
    /// For the kernel in the EVPN namespace (the exception path), within its policer.
    Exception,
    Drop(DropReason),
}

/// One flood destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `vlan`: the 802.1Q TCI to tag the copy with (None: untagged).
    Access {
        port: PortIndex,
        vlan: Option<u16>,
    },
    Tunnel(TunnelId),
}

/// The per-worker gateway pipeline.
#[derive(Debug)]
pub struct Gateway {
    pub params: GatewayParams,
    pub tables: Replica,
    sync: Arc<SyncChannel>,
    counters: SharedCounters,
    learn_filter: LearnFilter,
    storm: StormControl,
    exception: Option<ExceptionPolicers>,
    now: u32,
    /// VPP's last-tunnel cache, for tunnel packets the first pass found no VNI for:
    /// consecutive packets of one VNI skip its lookup.
    last_vni: Option<VniSummary>,
    /// The underlay classifier's fast path for tunnel packets shaped like recent ones.
    shapes: TunnelShapes,
    /// The first pass's work for the packet being processed (`use_hint`).
    hint: TableHint,
    /// The routing stage's ICMP errors and host resolutions.
    icmp_policer: Policer,
    resolve_policer: Policer,
    /// The access port the frame being processed came in on (None: from the underlay), so
    /// that one too big for the underlay can be answered there.
    ingress: Option<PortIndex>,
    /// The 802.1p priority of the frame being processed: its access tag's PCP, or what its
    /// outer DSCP maps to (`[qos] dscp_to_pcp`). None: untagged, or no map.
    pcp: Option<u8>,
    /// The stateful firewall (None: no policy, and the stage is skipped).
    policy: Option<super::policy::PolicyStage>,
    /// Denied-flow log notes, per second on this worker.
    deny_log: Policer,
}

/// What a burst's first pass worked out for one packet (`Gateway::hint`): the VNI of a
/// tunnel packet and the probes of its inner destination and source MACs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TableHint {
    /// A tunnel packet's VNI.
    pub(super) vni: Option<VniSummary>,
    /// The inner destination MAC's probe.
    pub(super) dst: Probe,
    /// The inner source MAC's probe.
    pub(super) src: Probe,
    /// A frame to the anycast gateway MAC: its route and next hop, worked out ahead.
    pub(super) routed: Option<routing::RoutedHint>,
    /// Under a policy, the hash of the session the packet would belong to (its index line
    /// prefetched).
    pub(super) session: Option<u64>,
}

impl Gateway {
    pub fn new(
        params: GatewayParams,
        tables: Replica,
        sync: Arc<SyncChannel>,
        counters: SharedCounters,
    ) -> Gateway {
        for (slot, c) in counters.vnis.iter().enumerate() {
            let held = u16::try_from(slot)
                .ok()
                .and_then(|s| tables.vnis.get(VniIndex(s)))
                .map(|v| v.id);
            c.set_owner(held);
        }
        Gateway {
            storm: StormControl::new(params.workers),
            exception: params
                .exception
                .map(|l| ExceptionPolicers::new(l, params.workers)),
            params,
            tables,
            sync,
            counters,
            learn_filter: LearnFilter::default(),
            now: 0,
            last_vni: None,
            shapes: TunnelShapes::default(),
            hint: TableHint::default(),
            icmp_policer: Policer::default(),
            resolve_policer: Policer::default(),
            ingress: None,
            pcp: None,
            policy: None,
            deny_log: Policer::default(),
        }
    }

    /// Sets the worker clock (in 1/16 s ticks) for the packets that follow.
    #[inline(always)]
    pub fn set_now(&mut self, tick: u32) {
        self.now = tick;
    }

    /// Applies up to `max` pending table updates; returns how many.
    pub fn apply_updates(&mut self, max: usize) -> usize {
        let mut n = 0;
        while n < max {
            let Some(u) = self.sync.next_update() else {
                break;
            };
            if let Update::Vni(index, state) = &u {
                // A slot taken by another VNI starts its counters from zero; the worker owns
                // them, so it is the one to reset them.
                let new = state.as_ref().map(|s| s.id);
                if let Some(c) = self.counters.vni(*index) {
                    if new.is_some() && self.tables.vnis.get(*index).map(|old| old.id) != new {
                        c.reset();
                    }
                    c.set_owner(new);
                }
            }
            if let Update::Vrf(index, Some(fib)) = &u {
                // New routes, and a VRF new in its slot, count from zero; the worker owns
                // the counters, so it is the one to reset them.
                let old = self.tables.vrfs.get(*index);
                if old.is_none() {
                    if let Some(c) = self.counters.vrf(*index) {
                        c.reset();
                    }
                }
                for slot in fib.slots_new_since(old) {
                    if let Some(c) = self.counters.route(slot) {
                        c.packets.set(0);
                        c.bytes.set(0);
                    }
                }
            }
            let u = match u {
                Update::Policy(p) => {
                    self.set_policy(*p);
                    n = n.saturating_add(1);
                    continue;
                }
                Update::Groups(groups) => {
                    let old = std::mem::replace(&mut self.params.local.groups, groups);
                    // A learned shape may be a group's no VNI floods to any more.
                    self.shapes = Default::default();
                    self.sync.emit(Event::Garbage(Garbage::Groups(old)));
                    n = n.saturating_add(1);
                    continue;
                }
                other => other,
            };
            let ports = *self.tables.vnis.vxlan_ports();
            if let Some(garbage) = self.tables.apply(u, self.now) {
                // Freed on the management thread; if its queue is full, here (rare).
                self.sync.emit(Event::Garbage(garbage));
            }
            if ports != *self.tables.vnis.vxlan_ports() {
                // A learned shape may be of a port no VNI uses any more, or of a slot
                // another port has taken since.
                self.shapes = Default::default();
            }
            n = n.saturating_add(1);
        }
        if n > 0 {
            // Both hold a VNI's flags as they were: the next packet reads the tables again.
            self.last_vni = None;
            self.hint = TableHint::default();
            let applied = self
                .sync
                .updates_applied
                .load(std::sync::atomic::Ordering::Relaxed);
            self.sync.updates_applied.store(
                applied.wrapping_add(n as u64),
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        n
    }

    /// The first pass over a packet a few places ahead in the burst: finds its VNI and hashes
    /// the MAC-table keys of its source and destination, prefetching their slots, and returns
    /// that work for the lookups to reuse (`use_hint`). Reads fixed offsets for the common
    /// shapes only (untagged or one tag on access; VXLAN or NVGRE over IPv4 without options on
    /// the underlay) and decides nothing: the pipeline checks every header itself and uses a
    /// hint only where its key matches, so a wrong guess costs one useless prefetch.
    #[inline(always)]
    pub(crate) fn hint(&self, frame: &[u8], port: PortIndex, from_underlay: bool) -> TableHint {
        let (vni, macs, l3_at) = if from_underlay {
            // Outer Ethernet 14 + IPv4 20, then UDP 8 and the VXLAN VNI at 4..7, or the GRE
            // key (VSID) at 4..7.
            let (vni_at, inner_at): (usize, usize) = match frame.get(12..24) {
                Some([0x08, 0x00, 0x45, .., 17]) => (46, 50),
                Some([0x08, 0x00, 0x45, .., 47]) => (38, 42),
                _ => return TableHint::default(),
            };
            let vni = frame
                .get(vni_at..vni_at.saturating_add(3))
                .and_then(|b| <[u8; 3]>::try_from(b).ok());
            let macs = frame.get(inner_at..inner_at.saturating_add(12));
            let (Some(vni), Some(macs)) = (vni, macs) else {
                return TableHint::default();
            };
            // Looked up for every packet: with the VNIs of consecutive packets mixed, as on
            // a fabric, a last-VNI check here mispredicts more than the probe costs.
            let vni = self.tables.vnis.summary_by_id(Vni::from_bytes(vni));
            (
                vni.map(|v| (Some(v), v.index())),
                macs,
                inner_at.saturating_add(12),
            )
        } else {
            let Some(macs) = frame.get(..12) else {
                return TableHint::default();
            };
            let (vlan, l3_at) = match frame.get(12..16) {
                Some([0x81, 0x00, hi, lo]) => {
                    (Some(u16::from_be_bytes([*hi, *lo]) & dot1q::VID_MASK), 16)
                }
                _ => (None, 12),
            };
            (
                self.tables.vnis.for_access(port, vlan).map(|i| (None, i)),
                macs,
                l3_at,
            )
        };
        let Some((summary, vni)) = vni else {
            return TableHint::default();
        };
        let mut dst = [0u8; 6];
        let mut src = [0u8; 6];
        dst.copy_from_slice(macs.get(..6).unwrap_or(&[0; 6]));
        src.copy_from_slice(macs.get(6..12).unwrap_or(&[0; 6]));
        let src = self.tables.fdb.probe(FdbKey::new(vni, MacAddr(src)));
        self.tables.fdb.prefetch_probe(src);
        // To the gateway: the destination is the routed next hop's, not this MAC's.
        let routed = if self.gateway_mac() == Some(MacAddr(dst)) {
            frame
                .get(l3_at..)
                .and_then(|ethertype_and_l3| self.routed_hint(vni, ethertype_and_l3))
        } else {
            None
        };
        let dst = match routed {
            Some(r) => r.fdb,
            None => {
                let dst = self.tables.fdb.probe(FdbKey::new(vni, MacAddr(dst)));
                self.tables.fdb.prefetch_probe(dst);
                dst
            }
        };
        let session = if self.policy.is_some() {
            frame
                .get(l3_at..)
                .and_then(|l3| self.session_hint(vni, routed.as_ref(), l3))
        } else {
            None
        };
        TableHint {
            vni: summary,
            dst,
            src,
            routed,
            session,
        }
    }

    /// The second look at a packet's hint, a place before its turn: the session its index
    /// line names is prefetched (the line itself was, a packet ago).
    #[inline(always)]
    pub(crate) fn hint_again(&self, hint: &TableHint) {
        if let Some(hash) = hint.session {
            self.prefetch_session(hash);
        }
    }

    /// Hands the pipeline the first pass's work for the packet it processes next (`hint`);
    /// stays in force until the next call, so the burst loop calls it for every packet.
    #[inline(always)]
    pub(crate) fn use_hint(&mut self, hint: TableHint) {
        self.hint = hint;
    }

    /// `key`'s probe: the hint's when it is for that key, else hashed now.
    #[inline(always)]
    fn probe(&self, key: FdbKey) -> Probe {
        if self.hint.dst.is_for(key) {
            self.hint.dst
        } else if self.hint.src.is_for(key) {
            self.hint.src
        } else {
            self.tables.fdb.probe(key)
        }
    }

    // --- access → underlay ------------------------------------------------------------

    /// Handles a frame received on access port `port`.
    #[inline]
    pub fn access<F: Frame>(&mut self, f: &mut F, port: PortIndex) -> Verdict {
        self.ingress = Some(port);
        self.pcp = None;
        match self.access_frame(f, port) {
            Ok(v) => v,
            Err(r) => Verdict::Drop(r),
        }
    }

    #[inline(always)]
    fn access_frame<F: Frame>(
        &mut self,
        f: &mut F,
        port: PortIndex,
    ) -> Result<Verdict, DropReason> {
        let (eth, rest) = ethernet::parse(f.data()).map_err(|_| DropReason::Runt)?;
        let (src, dst) = (eth.src, eth.dst);
        if !src.is_unicast() {
            return Err(DropReason::BadSourceMac);
        }
        let (vlan, ethertype, l2_len) = match eth.ethertype_raw() {
            EtherType::VLAN => {
                let (tag, _) = dot1q::parse(rest).map_err(|_| DropReason::Runt)?;
                let inner = tag.ethertype_raw();
                if inner == EtherType::VLAN || inner == EtherType::QINQ {
                    return Err(DropReason::QinqUnsupported);
                }
                // VID 0 is a priority tag (802.1p without a VLAN): the frame belongs to the
                // port's native VLAN, as if untagged (IEEE 802.1Q 6.9.1).
                let vid = tag.vid();
                self.pcp = Some(tag.pcp());
                (
                    (vid != 0).then_some(vid),
                    inner,
                    ethernet::HEADER_LEN + dot1q::TAG_LEN,
                )
            }
            EtherType::QINQ => return Err(DropReason::QinqUnsupported),
            other => {
                let stripped = f.rx_vlan();
                self.pcp = stripped.map(dot1q::pcp_of);
                (
                    stripped
                        .map(|tci| tci & dot1q::VID_MASK)
                        .filter(|vid| *vid != 0),
                    other,
                    ethernet::HEADER_LEN,
                )
            }
        };
        // Virtual devices (and NICs between their MTU and their buffer size) deliver what a
        // link of this MTU could not have carried.
        if !self.within_mtu(port, f.data().len(), l2_len) {
            return Err(DropReason::RxOverMtu);
        }
        let vni = self
            .tables
            .vnis
            .for_access(port, vlan)
            .ok_or(if vlan.is_some() {
                DropReason::UnmappedVlan
            } else {
                DropReason::UntaggedNoVni
            })?;
        let summary = self
            .tables
            .vnis
            .summary(vni)
            .ok_or(DropReason::UnmappedVlan)?;
        let routed = summary.routed();
        // The anycast gateway MAC is every gateway's own: never learned from a port.
        if summary.learning() && !(routed && Some(src) == self.gateway_mac()) {
            self.learn(vni, src, Location::Access(port));
        }
        if (summary.arp_suppression() || routed)
            && (ethertype == EtherType::ARP || ethertype == EtherType::IPV6)
        {
            let how = Snooping {
                answer: Answer::Back(port),
                snoop: true,
                suppress: summary.arp_suppression(),
                routed,
            };
            if let Some(v) = self.arp_nd(f, vni, l2_len, ethertype, how)? {
                return Ok(v);
            }
        }
        if l2_len > ethernet::HEADER_LEN && !vlan::strip(f) {
            return Err(DropReason::Runt);
        }
        if routed && Some(dst) == self.gateway_mac() {
            return self.route(f, vni, Location::Access(port));
        }
        self.police(f, vni, vni)?;
        self.bridge_from_access(f, vni, dst, port)
    }

    #[inline(always)]
    fn bridge_from_access<F: Frame>(
        &mut self,
        f: &mut F,
        vni: VniIndex,
        dst: MacAddr,
        port: PortIndex,
    ) -> Result<Verdict, DropReason> {
        let dest = if dst.is_multicast() {
            None
        } else {
            self.tables
                .fdb
                .get_probe(self.probe(FdbKey::new(vni, dst)))
                .map(|e| e.dest)
        };
        match dest {
            Some(Dest::Access(p)) if p == port => Err(DropReason::SamePort),
            Some(Dest::Access(p)) => self.to_access(f, vni, p),
            Some(Dest::Tunnel(t)) => self.encap_unicast(f, vni, t),
            None => self.flood(vni, Some(port), true),
        }
    }

    fn flood(
        &mut self,
        vni: VniIndex,
        except: Option<PortIndex>,
        to_underlay: bool,
    ) -> Result<Verdict, DropReason> {
        let state = self.tables.vnis.get(vni).ok_or(DropReason::UnknownVni)?;
        let remote = to_underlay && state.flood != FloodTo::None;
        let local = state.access.iter().any(|m| Some(m.port) != except);
        if !remote && !local {
            return Err(DropReason::NoFloodDestination);
        }
        if !self.storm.admit(vni, state.bum_rate_pps, self.now) {
            if let Some(c) = self.counters.vni(vni) {
                c.bum_rate_limited.inc();
            }
            return Err(DropReason::BumRateLimited);
        }
        Ok(Verdict::Flood(Flood {
            vni,
            except,
            to_underlay,
        }))
    }

    /// Tags the (untagged) frame for access port `port` of `vni` and forwards it there.
    #[inline(always)]
    fn to_access<F: Frame>(
        &self,
        f: &mut F,
        vni: VniIndex,
        port: PortIndex,
    ) -> Result<Verdict, DropReason> {
        if !self.fits_access(port, f.data().len()) {
            return Err(DropReason::AccessMtuExceeded);
        }
        match self.tables.vnis.egress(vni, port) {
            None => Err(DropReason::UnmappedVlan),
            Some(Egress::Tagged(v)) if !vlan::push(f, dot1q::tci(self.pcp.unwrap_or(0), v)) => {
                Err(DropReason::NoHeadroom)
            }
            Some(_) => Ok(Verdict::Forward(port)),
        }
    }

    #[inline(always)]
    fn encap_unicast<F: Frame>(
        &mut self,
        f: &mut F,
        vni: VniIndex,
        t: TunnelId,
    ) -> Result<Verdict, DropReason> {
        let outer = self
            .tables
            .tunnels
            .get(t)
            .and_then(|t| t.outer.as_ref())
            .ok_or(DropReason::NeighborUnresolved)?;
        let vni_id = self.tunnel_vni(vni).ok_or(DropReason::UnknownVni)?;
        let meta = self.inner_meta(f.data(), f.rss_hash());
        let inner_len = f.data().len();
        if outer.outer_ip_len(inner_len) > usize::from(self.params.mtu) {
            let outer_len = outer.len();
            return match self.oversize(f, outer, vni, vni_id, meta) {
                Err(DropReason::MtuExceeded) => self.too_big(f, outer_len, vni),
                done => done,
            };
        }
        self.encap_in_place(f, outer, vni_id, meta)?;
        self.count_encap(vni, f.data().len());
        Ok(Verdict::Forward(self.params.underlay_port))
    }

    /// Puts `outer` in front of the inner frame in `f`.
    #[inline(always)]
    pub fn encap_in_place<F: Frame>(
        &self,
        f: &mut F,
        outer: &OuterTemplate,
        vni: TunnelVni,
        meta: InnerMeta,
    ) -> Result<(), DropReason> {
        let inner_len = f.data().len();
        let inner_sum = if outer.is_ipv6()
            && outer.encap() == Encap::Vxlan
            && !self.params.offload.outer_udp_checksum
        {
            Some(crate::wire::checksum::sum(0, f.data()))
        } else {
            None
        };
        let params = PacketParams {
            vni,
            inner_len,
            entropy: meta.entropy,
            tos: meta.tos,
        };
        let hdr = f.prepend(outer.len()).ok_or(DropReason::NoHeadroom)?;
        outer.write(hdr, &params, &self.params.source_ports)?;
        if let Some(sum) = inner_sum {
            encap::finish_udp6_checksum(hdr, sum);
        } else if outer.is_ipv6() && outer.encap() == Encap::Vxlan {
            f.request_offload(Offload::outer_udp6(outer.len()));
        }
        Ok(())
    }

    /// A packet that does not fit the underlay MTU once encapsulated: TCP over IPv4 in an
    /// IPv4 tunnel is segmented (NIC TSO or librte_gso); anything else is dropped, since a
    /// VTEP must not fragment (RFC 7348 §4.3).
    fn oversize<F: Frame>(
        &self,
        f: &mut F,
        outer: &OuterTemplate,
        vni: VniIndex,
        vni_id: TunnelVni,
        meta: InnerMeta,
    ) -> Result<Verdict, DropReason> {
        let lens = tcp4_lengths(f.data()).ok_or(DropReason::MtuExceeded)?;
        if outer.is_ipv6() {
            return Err(DropReason::MtuExceeded);
        }
        self.encap_in_place(f, outer, vni_id, meta)?;
        let outer_l3 = outer
            .len()
            .saturating_sub(ethernet::HEADER_LEN)
            .saturating_sub(tunnel_header_len(outer.encap()));
        let tunnel_l2 = tunnel_header_len(outer.encap()).saturating_add(ethernet::HEADER_LEN);
        // A full segment's outer IP packet is outer IP + tunnel header + inner Ethernet +
        // inner IP + TCP + payload: (outer.len() - 14) + 14 + l3 + l4 + mss <= mtu.
        let headers = outer.len().saturating_add(lens.0).saturating_add(lens.1);
        let mss = usize::from(self.params.mtu).saturating_sub(headers);
        if mss == 0 {
            return Err(DropReason::MtuExceeded);
        }
        f.request_offload(Offload::tunnel_tcp4_segmentation(
            outer.encap(),
            outer_l3,
            tunnel_l2,
            lens.0,
            lens.1,
            u16::try_from(mss).unwrap_or(u16::MAX),
        ));
        self.count_encap(vni, f.data().len());
        Ok(Verdict::Segment(self.params.underlay_port))
    }

    /// A frame from an access port too big for the underlay once encapsulated, and not to
    /// be segmented: an IPv4 packet with DF gets ICMP fragmentation needed, an IPv6 packet
    /// ICMPv6 packet too big, each giving the MTU the tunnel leaves (the underlay MTU less
    /// the outer headers and the inner Ethernet header), within `icmp_errors_pps`. vtepd is
    /// a bridge here, with no address in the tenant's subnet: the error comes from the
    /// packet's own destination (address and MAC), which is the hop whose path is too
    /// narrow, as the sender sees it. Everything else, routed frames included, is dropped.
    #[cold]
    fn too_big<F: Frame>(
        &mut self,
        f: &mut F,
        outer_len: usize,
        vni: VniIndex,
    ) -> Result<Verdict, DropReason> {
        let Some(port) = self.ingress else {
            return Err(DropReason::MtuExceeded);
        };
        let (eth, l3) = ethernet::parse(f.data()).map_err(|_| DropReason::MtuExceeded)?;
        let (from_mac, ethertype) = (eth.dst, eth.ethertype_raw());
        if from_mac.is_multicast() || Some(eth.src) == self.gateway_mac() {
            return Err(DropReason::MtuExceeded);
        }
        let mtu = usize::from(self.params.mtu).saturating_sub(outer_len);
        let from_ip = match ethertype {
            EtherType::IPV4 if icmp_error::may_answer_v4(l3) && icmp_error::dont_fragment(l3) => {
                ipv4::parse(l3).ok().map(|(ip, _)| IpAddr::V4(ip.dst()))
            }
            EtherType::IPV6 if icmp_error::may_answer_v6(l3) => {
                ipv6::parse(l3).ok().map(|(ip, _)| IpAddr::V6(ip.dst()))
            }
            _ => None,
        };
        let Some(from_ip) = from_ip.filter(|ip| !ip.is_multicast()) else {
            return Err(DropReason::MtuExceeded);
        };
        let pps = self
            .params
            .routing
            .map_or(DEFAULT_ICMP_ERRORS_PPS, |r| r.icmp_errors_pps);
        let rate = Policer::share(pps, self.params.workers);
        if !self.icmp_policer.admit(rate, self.now) {
            return Err(DropReason::MtuExceeded);
        }
        let built = match from_ip {
            IpAddr::V4(a) => icmp_error::fragmentation_needed_v4(
                f,
                from_mac,
                a,
                u16::try_from(mtu).unwrap_or(u16::MAX),
            ),
            IpAddr::V6(a) => icmp_error::packet_too_big_v6(
                f,
                from_mac,
                &a,
                u32::try_from(mtu).unwrap_or(u32::MAX),
            ),
        };
        if !built {
            return Err(DropReason::MtuExceeded);
        }
        self.counters.local.too_big.inc();
        self.to_access(f, vni, port)
    }

    /// Whether an untagged frame of `len` bytes may leave on access port `port`: a bridge
    /// neither fragments nor sends what the port's link would refuse (its tag, if it gets
    /// one, is not part of the MTU).
    #[inline(always)]
    pub fn fits_access(&self, port: PortIndex, len: usize) -> bool {
        self.within_mtu(port, len, ethernet::HEADER_LEN)
    }

    /// Whether `len` bytes with an `l2_len`-byte Ethernet header fit port `port`'s MTU (a
    /// port the gateway does not know has none here: what it sends is refused elsewhere).
    #[inline(always)]
    fn within_mtu(&self, port: PortIndex, len: usize, l2_len: usize) -> bool {
        self.params
            .port_mtu
            .get(usize::from(port))
            .is_none_or(|mtu| len.saturating_sub(l2_len) <= usize::from(*mtu))
    }

    #[inline(always)]
    fn count_encap(&self, vni: VniIndex, bytes: usize) {
        if let Some(c) = self.counters.vni(vni) {
            c.encap_packets.inc();
            c.encap_bytes.add(bytes as u64);
        }
    }

    /// Entropy and outer TOS for an inner frame.
    #[inline(always)]
    pub fn inner_meta(&self, inner: &[u8], rss: Option<u32>) -> InnerMeta {
        let (entropy, inner_tos) = match rss {
            Some(hash) => (hash, entropy::tos(inner)),
            None => entropy::flow_hash_and_tos(inner),
        };
        let dscp = priority::outer_dscp(&self.params.qos, self.pcp).or(match self.params.dscp {
            DscpPolicy::Inherit => None,
            DscpPolicy::Fixed(d) => Some(d),
        });
        // RFC 6040 normal mode: ECN is copied even when DSCP is not.
        let tos = dscp.map_or(inner_tos, |d| (d << 2) | (inner_tos & 0x3));
        InnerMeta { entropy, tos }
    }

    // --- underlay → access ------------------------------------------------------------

    /// Handles a packet received on the underlay port.
    #[inline]
    pub fn underlay<F: Frame>(&mut self, f: &mut F) -> Verdict {
        self.ingress = None;
        self.pcp = None;
        // As on an access port: what the link's MTU could not have carried.
        if !self.within_mtu(
            self.params.underlay_port,
            f.data().len(),
            ethernet::HEADER_LEN,
        ) {
            return Verdict::Drop(DropReason::RxOverMtu);
        }
        let ipv4_header = f.rx_ip_checksum_ok();
        let class = match self.shapes.classify(f.data(), ipv4_header) {
            Some(t) => Ok(Underlay::Tunnel(t)),
            None => {
                let class = underlay::classify(
                    f.data(),
                    &self.params.local,
                    self.tables.vnis.vxlan_ports(),
                    underlay::NicChecks {
                        ipv4_header,
                        outer_udp: f.rx_outer_udp_checksum_ok(),
                    },
                );
                if let Ok(Underlay::Tunnel(t)) = &class {
                    self.shapes.learn(f.data(), t);
                }
                class
            }
        };
        let r = match class {
            Ok(Underlay::Tunnel(t)) => self.decap(f, t),
            Ok(Underlay::Local(l)) => self.local(f, l),
            Err(
                r @ (DropReason::UdpPortClosed
                | DropReason::UnsupportedProtocol
                | DropReason::IcmpUnsupported),
            ) if self.exception.is_some() => {
                match exception::class_of(f.data(), &self.params.local) {
                    Some(class) => self.for_kernel(class),
                    None => Err(r),
                }
            }
            Err(r) => Err(r),
        };
        match r {
            Ok(v) => v,
            Err(r) => Verdict::Drop(r),
        }
    }

    /// The VNI of a tunnel packet: the first pass's, else the last packet's when it is the
    /// same, else looked up.
    #[inline(always)]
    fn decap_vni(&mut self, id: Vni) -> Option<VniSummary> {
        if let Some(hinted) = self.hint.vni {
            if hinted.id() == id {
                return Some(hinted);
            }
        }
        if let Some(cached) = self.last_vni {
            if cached.id() == id {
                return Some(cached);
            }
        }
        let vni = self.tables.vnis.summary_by_id(id)?;
        self.last_vni = Some(vni);
        Some(vni)
    }

    /// Whether `vtep` may send into `vni` (Err when not) and be learned from.
    fn vtep_policy(&self, vni: VniIndex, vtep: IpAddr) -> Result<bool, DropReason> {
        let state = self.tables.vnis.get(vni).ok_or(DropReason::UnknownVni)?;
        if !state.allows(vtep) {
            return Err(DropReason::VtepNotAllowed);
        }
        Ok(state.learns_from(vtep))
    }

    #[inline(always)]
    fn decap<F: Frame>(&mut self, f: &mut F, t: TunnelPacket) -> Result<Verdict, DropReason> {
        let v = self.decap_vni(t.vni).ok_or(DropReason::UnknownVni)?;
        if v.encap() != t.encap {
            return Err(DropReason::EncapMismatch);
        }
        if v.port_slot() != t.port_slot {
            return Err(DropReason::VxlanPortMismatch);
        }
        let trusted = v.open() || self.vtep_policy(v.index(), t.src)?;
        let vni = v.index();
        let learning = v.learning();
        let suppress = v.arp_suppression();
        let routed = v.routed();
        let outer_len = t.outer_len;
        if !f.narrow(outer_len, t.inner_len) {
            return Err(DropReason::InnerTruncated);
        }
        let (eth, _) = ethernet::parse(f.data()).map_err(|_| DropReason::InnerTruncated)?;
        let (src, dst, ethertype) = (eth.src, eth.dst, eth.ethertype_raw());
        if !src.is_unicast() {
            return Err(DropReason::BadSourceMac);
        }
        if ethertype == EtherType::VLAN || ethertype == EtherType::QINQ {
            // RFC 7348 §6.1: decapsulated frames with an inner VLAN tag are discarded.
            return Err(DropReason::InnerVlan);
        }
        ecn::decapsulate(t.outer_tos & ecn::CE, f.data_mut())?;
        self.pcp = priority::pcp_for_outer(&self.params.qos, t.outer_tos);
        let from = Location::Remote {
            vtep: t.src,
            encap: t.encap,
        };
        if v.l3() {
            // An L3VNI (symmetric IRB) carries routed packets to the router MAC, nothing else.
            if Some(dst) != self.router_mac() {
                return Err(DropReason::NotRouterMac);
            }
            return self.route(f, vni, from);
        }
        // The anycast gateway MAC is every gateway's own: another gateway's routed frames
        // carry it as their source, and it must not be learned behind that gateway.
        let gateway_source = routed && Some(src) == self.gateway_mac();
        if learning && trusted && !gateway_source {
            self.learn(vni, src, from);
        } else if learning && !gateway_source {
            if let Some(c) = self.counters.vni(vni) {
                c.learn_refused.inc();
            }
        }
        if (suppress || routed) && (ethertype == EtherType::ARP || ethertype == EtherType::IPV6) {
            // The answer goes back through the tunnel the request came from, if it exists.
            let back = self
                .tables
                .tunnels
                .find(t.src, t.encap)
                .map_or(Answer::Flood, Answer::Tunnel);
            let how = Snooping {
                answer: back,
                snoop: trusted,
                suppress,
                routed,
            };
            if let Some(v) = self.arp_nd(f, vni, ethernet::HEADER_LEN, ethertype, how)? {
                return Ok(v);
            }
        }
        if routed && Some(dst) == self.gateway_mac() {
            return self.route(f, vni, from);
        }
        self.police(f, vni, vni)?;
        let dest = if dst.is_multicast() {
            None
        } else {
            self.tables
                .fdb
                .get_probe(self.probe(FdbKey::new(vni, dst)))
                .map(|e| e.dest)
        };
        let bridged = match dest {
            Some(Dest::Access(p)) => self.to_access(f, vni, p),
            Some(Dest::Tunnel(_)) => Err(DropReason::SplitHorizon),
            None => self.flood(vni, None, false),
        }?;
        self.count_decap(vni, t.inner_len);
        Ok(bridged)
    }

    /// Counts a tunnel packet whose inner frame is forwarded (bridged, flooded or routed),
    /// as encapsulation counts what it sends: a drop at any step before is not counted.
    #[inline(always)]
    fn count_decap(&self, vni: VniIndex, inner_len: usize) {
        if let Some(c) = self.counters.vni(vni) {
            c.decap_packets.inc();
            c.decap_bytes.add(inner_len as u64);
        }
    }

    // --- the VTEP itself ----------------------------------------------------------------

    /// A packet for the namespace's kernel, if its class's policer lets it.
    #[cold]
    fn for_kernel(&mut self, class: ExceptionClass) -> Result<Verdict, DropReason> {
        let Some(policers) = self.exception.as_mut() else {
            return Err(DropReason::NotLocal);
        };
        if policers.admit(class, self.now) {
            Ok(Verdict::Exception)
        } else {
            Err(DropReason::ExceptionPoliced)
        }
    }

    fn local<F: Frame>(&mut self, f: &mut F, l: LocalPacket) -> Result<Verdict, DropReason> {
        let ours = self.params.underlay_mac;
        let out = self.params.underlay_port;
        match l {
            LocalPacket::Arp(r) => {
                let for_us = self.params.local.is_local_v4(r.target_ip);
                let gratuitous = r.is_gratuitous();
                if (for_us || gratuitous)
                    && r.sender_mac.is_unicast()
                    && !r.sender_ip.is_unspecified()
                {
                    self.sync.emit(Event::Neighbor {
                        ip: IpAddr::V4(r.sender_ip),
                        mac: r.sender_mac,
                    });
                }
                match r.operation {
                    arp::Operation::Request if for_us => {
                        if !reply::arp_reply(f.data_mut(), ethernet::HEADER_LEN, &r, ours) {
                            return Err(DropReason::ArpMalformed);
                        }
                        self.counters.local.arp_replies.inc();
                        Ok(Verdict::Forward(out))
                    }
                    // The kernel in the EVPN namespace asked (its ARP requests leave through
                    // the exception path): the answer is its too.
                    arp::Operation::Reply if for_us && self.exception.is_some() => {
                        self.for_kernel(ExceptionClass::Established)
                    }
                    _ if for_us || gratuitous => {
                        self.counters.local.absorbed.inc();
                        Ok(Verdict::Consumed)
                    }
                    _ => Err(DropReason::ArpNotForUs),
                }
            }
            LocalPacket::EchoV4 { ip_header_len } => {
                if !reply::echo_reply_v4(f.data_mut(), ip_header_len, ours) {
                    return Err(DropReason::IcmpMalformed);
                }
                self.counters.local.echo_replies.inc();
                Ok(Verdict::Forward(out))
            }
            LocalPacket::EchoV6 => {
                if !reply::echo_reply_v6(f.data_mut(), ours) {
                    return Err(DropReason::IcmpMalformed);
                }
                self.counters.local.echo_replies.inc();
                Ok(Verdict::Forward(out))
            }
            LocalPacket::Nd(nd, _) => {
                let src = ipv6::parse(f.data().get(ethernet::HEADER_LEN..).unwrap_or_default())
                    .map(|(ip, _)| ip.src())
                    .map_err(|_| DropReason::IcmpMalformed)?;
                if nd.icmp_type == icmpv6::NEIGHBOR_SOLICIT {
                    if !self.params.local.is_local_v6(&nd.target) {
                        return Err(DropReason::NotLocal);
                    }
                    if let (Some(mac), false) = (nd.lladdr, src.is_unspecified()) {
                        self.sync.emit(Event::Neighbor {
                            ip: IpAddr::V6(src),
                            mac,
                        });
                    }
                    if !reply::neighbor_advert(f, ethernet::HEADER_LEN, &nd, ours) {
                        return Err(DropReason::IcmpMalformed);
                    }
                    self.counters.local.nd_replies.inc();
                    Ok(Verdict::Forward(out))
                } else {
                    if let Some(mac) = nd.lladdr {
                        self.sync.emit(Event::Neighbor {
                            ip: IpAddr::V6(nd.target),
                            mac,
                        });
                    }
                    if self.exception.is_some() {
                        return self.for_kernel(ExceptionClass::Established);
                    }
                    self.counters.local.absorbed.inc();
                    Ok(Verdict::Consumed)
                }
            }
        }
    }

    // --- ARP / ND in tenant VNIs --------------------------------------------------------

    /// In a VNI with ARP suppression or routing: snoops IP→MAC bindings from ARP and
    /// neighbour discovery, answers for the gateway's own addresses (routing) and requests
    /// for known addresses (suppression). `Ok(None)`: not answered, forward as usual.
    fn arp_nd<F: Frame>(
        &mut self,
        f: &mut F,
        vni: VniIndex,
        l2_len: usize,
        ethertype: u16,
        how: Snooping,
    ) -> Result<Option<Verdict>, DropReason> {
        let Snooping {
            answer,
            snoop,
            suppress,
            routed,
        } = how;
        let l3 = f.data().get(l2_len..).unwrap_or_default();
        if ethertype == EtherType::ARP {
            let r = arp::Repr::parse(l3).map_err(|_| DropReason::ArpMalformed)?;
            if snoop && !r.sender_ip.is_unspecified() && r.sender_mac.is_unicast() {
                self.snoop(vni, IpAddr::V4(r.sender_ip), r.sender_mac);
            }
            if routed {
                let action = self.answer_for_gateway(f, vni, l2_len, GatewayQuestion::Arp(r))?;
                if let Some(v) = self.carry_out(f, vni, action, answer)? {
                    return Ok(Some(v));
                }
            }
            if !suppress
                || r.operation != arp::Operation::Request
                || r.is_gratuitous()
                || answer == Answer::Flood
            {
                return Ok(None);
            }
            let Some(b) = self
                .tables
                .bindings
                .get(vni, IpAddr::V4(r.target_ip))
                .copied()
            else {
                return Ok(None);
            };
            if b.mac == r.sender_mac {
                return Ok(None);
            }
            if !reply::arp_reply(f.data_mut(), l2_len, &r, b.mac) {
                return Err(DropReason::ArpMalformed);
            }
        } else {
            let Some((src, nd)) = neighbor_discovery(l3) else {
                return Ok(None);
            };
            if nd.icmp_type == icmpv6::NEIGHBOR_ADVERT {
                if let (Some(mac), true) = (nd.lladdr, snoop) {
                    self.snoop(vni, IpAddr::V6(nd.target), mac);
                }
            } else if let (Some(mac), false, true) = (nd.lladdr, src.is_unspecified(), snoop) {
                self.snoop(vni, IpAddr::V6(src), mac);
            }
            if routed {
                let action = self.answer_for_gateway(f, vni, l2_len, GatewayQuestion::Nd(nd))?;
                if let Some(v) = self.carry_out(f, vni, action, answer)? {
                    return Ok(Some(v));
                }
            }
            if nd.icmp_type == icmpv6::NEIGHBOR_ADVERT || !suppress || answer == Answer::Flood {
                return Ok(None);
            }
            let Some(b) = self
                .tables
                .bindings
                .get(vni, IpAddr::V6(nd.target))
                .copied()
            else {
                return Ok(None);
            };
            if !reply::neighbor_advert(f, l2_len, &nd, b.mac) {
                return Err(DropReason::IcmpMalformed);
            }
        }
        if let Some(c) = self.counters.vni(vni) {
            c.arp_suppressed.inc();
        }
        match answer {
            Answer::Back(port) => Ok(Some(Verdict::Forward(port))),
            Answer::Tunnel(t) => self.encap_unicast(f, vni, t).map(Some),
            Answer::Flood => Ok(None),
        }
    }

    /// What the gateway's ARP/ND answer (`answer_for_gateway`) leaves to do.
    fn carry_out<F: Frame>(
        &mut self,
        f: &mut F,
        vni: VniIndex,
        action: Option<GatewayAction>,
        answer: Answer,
    ) -> Result<Option<Verdict>, DropReason> {
        match (action, answer) {
            (None, _) => Ok(None),
            (Some(GatewayAction::Absorbed), _) => Ok(Some(Verdict::Consumed)),
            (Some(GatewayAction::Replied), Answer::Back(port)) => Ok(Some(Verdict::Forward(port))),
            (Some(GatewayAction::Replied), Answer::Tunnel(t)) => {
                self.encap_unicast(f, vni, t).map(Some)
            }
            // No tunnel back to the asking VTEP on this worker yet: the answer is flooded.
            (Some(GatewayAction::Replied), Answer::Flood) => self.flood(vni, None, true).map(Some),
        }
    }

    fn snoop(&mut self, vni: VniIndex, ip: IpAddr, mac: MacAddr) {
        // Another gateway's ARP/ND from the anycast address and MAC: the gateway's own
        // binding, never learned from the fabric.
        if Some(mac) == self.gateway_mac() {
            return;
        }
        let known = self.tables.bindings.get(vni, ip).map(|b| b.mac);
        if known != Some(mac) {
            // Local insert is left to the management thread, which refuses spoofing of
            // static bindings; the report is rate-limited like MAC learning.
            let key = FdbKey::new(vni, mac);
            let tag = ip_tag(ip);
            if self.learn_filter.should_report(key, tag ^ 0x5a5a, self.now) {
                self.sync.emit(Event::Snooped { vni, ip, mac });
            }
        }
    }

    // --- learning ---------------------------------------------------------------------

    /// Records that `mac` was seen at `at` in `vni`.
    #[inline(always)]
    fn learn(&mut self, vni: VniIndex, mac: MacAddr, at: Location) {
        let key = FdbKey::new(vni, mac);
        let now = self.now;
        let Some(slot) = self.tables.fdb.find_probe(self.probe(key)) else {
            if let Some(max) = self.tables.vnis.get(vni).and_then(|s| s.max_macs) {
                if self.tables.fdb.learned_in(vni) >= max {
                    if let Some(c) = self.counters.vni(vni) {
                        c.mac_limit_hits.inc();
                    }
                    return;
                }
            }
            return self.learn_new(key, at);
        };
        // Nearly every packet: its source is where a learned entry says.
        let refreshed = match at {
            Location::Access(p) => self.tables.fdb.learned_to(slot, Dest::Access(p)),
            Location::Remote { vtep, encap } => match self.tables.fdb.learned_tunnel(slot) {
                Some((t, refreshed)) if self.tables.tunnels.leads_to(t, vtep, encap) => {
                    Some(refreshed)
                }
                _ => None,
            },
        };
        if let Some(refreshed) = refreshed {
            if now.wrapping_sub(refreshed) >= REFRESH_TICKS {
                self.tables.fdb.set_refreshed(slot, now);
                self.sync.emit(Event::Refreshed(key));
            }
            return;
        }
        match self.tables.fdb.entry(slot) {
            Some(e) if e.is_static => {
                // Never moved here; a static MAC seen elsewhere is reported (rate-limited
                // like any learn) so the management thread counts the refused move:
                // spoofing shows.
                if !self.is_at(e.dest, at)
                    && self.learn_filter.should_report(key, !location_tag(at), now)
                {
                    self.sync.emit(Event::Learned { key, at });
                }
            }
            _ => self.learn_new(key, at),
        }
    }

    /// Installs (where it can) and reports a MAC learned at `at` that the table did not
    /// have there (once per new or moved MAC, not per packet).
    #[inline(always)]
    fn learn_new(&mut self, key: FdbKey, at: Location) {
        let (vni, now) = (key.vni(), self.now);
        // New, or moved. A remote VTEP's tunnel may not exist on this worker yet: then only
        // the report goes out, and the management thread creates it.
        let dest = match at {
            Location::Access(p) => Some(Dest::Access(p)),
            Location::Remote { vtep, encap } => {
                self.tables.tunnels.find(vtep, encap).map(Dest::Tunnel)
            }
        };
        if let Some(d) = dest {
            if self
                .tables
                .fdb
                .insert(key, crate::tables::fdb::FdbEntry::learned(d, now))
                .is_err()
            {
                self.counters.fdb_full.inc();
            }
        }
        if self.learn_filter.should_report(key, location_tag(at), now)
            && self.sync.emit(Event::Learned { key, at })
        {
            if let Some(c) = self.counters.vni(vni) {
                c.learn_events.inc();
            }
        }
    }

    /// Whether an entry's destination is where the MAC was just seen: a port compares
    /// directly, a tunnel by its remote (no lookup in the tunnel map on the common path).
    #[inline(always)]
    fn is_at(&self, dest: Dest, at: Location) -> bool {
        match (dest, at) {
            (Dest::Access(p), Location::Access(q)) => p == q,
            (Dest::Tunnel(t), Location::Remote { vtep, encap }) => {
                self.tables.tunnels.leads_to(t, vtep, encap)
            }
            _ => false,
        }
    }

    // --- flooding -----------------------------------------------------------------------

    /// Every destination of a flood, in a fixed order (access ports, then tunnels).
    pub fn flood_targets(&self, flood: Flood) -> impl Iterator<Item = Target> + '_ {
        let state = self.tables.vnis.get(flood.vni);
        let access = state
            .into_iter()
            .flat_map(|s| s.access.iter())
            .filter(move |m| Some(m.port) != flood.except)
            .map(|m| Target::Access {
                port: m.port,
                vlan: m.egress_tag().map(|v| dot1q::tci(self.pcp.unwrap_or(0), v)),
            });
        let tunnels: &[TunnelId] = match state.map(|s| &s.flood) {
            Some(FloodTo::Tunnels(ids)) if flood.to_underlay => ids,
            Some(FloodTo::Group(id)) if flood.to_underlay => std::slice::from_ref(id),
            _ => &[],
        };
        access.chain(tunnels.iter().map(|t| Target::Tunnel(*t)))
    }

    /// The VNI id and the template of a flood's tunnel target (None: unresolved).
    pub fn flood_tunnel(&self, vni: VniIndex, t: TunnelId) -> Option<(TunnelVni, OuterTemplate)> {
        Some((self.tunnel_vni(vni)?, self.tables.tunnels.get(t)?.outer?))
    }

    /// What `vni` puts in an outer header.
    #[inline(always)]
    fn tunnel_vni(&self, vni: VniIndex) -> Option<TunnelVni> {
        let s = self.tables.vnis.summary(vni)?;
        Some(TunnelVni {
            id: s.id(),
            vxlan_port: self.tables.vnis.vxlan_port(s),
        })
    }

    pub fn counters(&self) -> &SharedCounters {
        &self.counters
    }

    /// Counts one flood copy encapsulated to a tunnel.
    pub fn count_flood_encap(&self, vni: VniIndex, bytes: usize) {
        self.count_encap(vni, bytes);
    }
}

/// An address folded to 64 bits, for the learn filter's memory of what was reported.
#[inline(always)]
fn ip_tag(ip: IpAddr) -> u64 {
    match ip {
        IpAddr::V4(a) => u64::from(u32::from(a)),
        IpAddr::V6(a) => {
            crate::tables::hash::fold_mul(u128::from(a) as u64, (u128::from(a) >> 64) as u64)
        }
    }
}

/// How `arp_nd` treats a VNI's ARP and neighbour discovery.
#[derive(Debug, Clone, Copy)]
struct Snooping {
    /// Where an answer goes.
    answer: Answer,
    /// Bindings may be learned from it (a trusted source).
    snoop: bool,
    /// ARP/ND suppression: answer from known bindings.
    suppress: bool,
    /// The VNI is routed: answer for the gateway's addresses.
    routed: bool,
}

/// Where an answered ARP/ND request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// Out of the access port it came from (tag unchanged).
    Back(PortIndex),
    /// Back through the tunnel to the VTEP it came from.
    Tunnel(TunnelId),
    /// Nowhere: no tunnel back to the asking VTEP yet, so the request is forwarded as usual
    /// (bindings are still snooped).
    Flood,
}

/// The source and the NS or NA in an IPv6 packet, if it is one (ND must come with hop limit
/// 255).
/// A small value naming a location, for the learn filter.
#[inline(always)]
fn location_tag(at: Location) -> u64 {
    match at {
        Location::Access(p) => u64::from(p),
        Location::Remote { vtep, encap } => {
            let ip = match vtep {
                IpAddr::V4(a) => u64::from(u32::from(a)),
                IpAddr::V6(a) => u128::from(a) as u64,
            };
            ip ^ ((encap as u64) << 40) ^ (1 << 63)
        }
    }
}

fn neighbor_discovery(l3: &[u8]) -> Option<(std::net::Ipv6Addr, icmpv6::NdRepr)> {
    let (ip, payload) = ipv6::parse(l3).ok()?;
    if ip.next_header_raw() != IpProtocol::ICMPV6 || ip.hop_limit != 255 {
        return None;
    }
    // A corrupted NS/NA teaches no binding (RFC 4861 7.1.1); it is bridged as it came.
    if !icmpv6::checksum_ok(&ip.src(), &ip.dst(), payload) {
        return None;
    }
    let nd = icmpv6::NdRepr::parse(payload).ok()?;
    Some((ip.src(), nd))
}

/// Inner IPv4 header and TCP header lengths of a TCP/IPv4 frame (the only kind librte_gso
/// segments inside a tunnel).
fn tcp4_lengths(frame: &[u8]) -> Option<(usize, usize)> {
    let (eth, rest) = ethernet::parse(frame).ok()?;
    if eth.ethertype_raw() != EtherType::IPV4 {
        return None;
    }
    let (ip, payload) = ipv4::parse(rest).ok()?;
    if ip.protocol_raw() != IpProtocol::TCP || ip.is_fragment() {
        return None;
    }
    let (t, _) = tcp::parse(payload).ok()?;
    Some((ip.header_len(), t.header_len()))
}

/// UDP + VXLAN, or GRE: the bytes between the outer IP header and the inner frame.
fn tunnel_header_len(encap: Encap) -> usize {
    match encap {
        Encap::Vxlan => crate::wire::udp::HEADER_LEN + crate::wire::vxlan::HEADER_LEN,
        Encap::Nvgre => crate::wire::gre::HEADER_LEN,
    }
}
