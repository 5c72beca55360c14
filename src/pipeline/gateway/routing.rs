//! The routing stage: frames to the anycast gateway MAC in a VNI of a tenant VRF.
//!
//! A routed packet is looked up in its VRF's FIB (longest prefix), its TTL or hop limit is
//! decremented (IPv4 checksum updated incrementally, RFC 1624), its MACs are rewritten to
//! gateway → destination host, and it is bridged in the destination VNI as any frame is:
//! to a local access port, through the tunnel to the host's VTEP, or flooded as unknown
//! unicast. The host's MAC comes from the VNI's IP→MAC bindings (snooped ARP/ND, static
//! `[[arp]]`, EVPN); an unknown host is resolved with an ARP request or neighbour
//! solicitation written into the buffer of the packet that missed it, which is lost (VPP
//! and most hardware routers do the same rather than hold packets on the data path).
//!
//! The gateway also answers for its own addresses in each VNI: ARP and neighbour
//! solicitation (`answer_for_gateway`), ICMP echo, and time exceeded for expiring packets.
//! None of this runs for a VNI outside a VRF: the caller checks the VNI summary's ROUTED
//! bit, which it has already loaded.

use std::net::IpAddr;

use crate::tables::route::{NextHop, Route, VrfIndex};
use crate::tables::update::Location;
use crate::tables::{Dest, FdbKey, TunnelId, VniIndex};
use crate::wire::{checksum, ethernet, icmpv4, icmpv6, ipv4, ipv6, EtherType, IpProtocol, MacAddr};

use super::super::frame::Frame;
use super::super::policer::Policer;
use super::super::{icmp_error, reply, solicit, DropReason};
use super::{Gateway, Verdict};

/// A tag the learn filter keeps host resolutions under, apart from MAC reports.
const RESOLVE_TAG: u64 = 0x7265_736f_6c76;

/// What the first pass worked out for an IPv4 packet to the gateway MAC a few packets ahead
/// (`Gateway::hint`): its route, and its next hop's MAC if bound, whose MAC-table slot it
/// prefetched. The binding's and the slot's cache misses then overlap the packets in front
/// of it. Tables change only between bursts, so a hint that matches is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RoutedHint {
    vni: VniIndex,
    dst: std::net::Ipv4Addr,
    hop_vni: VniIndex,
    hop_ip: IpAddr,
    /// The packet's VRF, and the VRF the hop is in (another for a leaked route).
    vrf: VrfIndex,
    hop_vrf: VrfIndex,
    connected: bool,
    route: Route,
    mac: MacAddr,
    /// The probe of (hop VNI, MAC): the hint's `dst`.
    pub(super) fdb: crate::tables::fdb::Probe,
}

impl RoutedHint {
    /// The policy zone of the packet: the pair of its VRF and its hop's, in slot order.
    #[inline(always)]
    pub(super) fn zone(&self) -> u32 {
        let (a, b) = (self.vrf.slot(), self.hop_vrf.slot());
        super::super::policy::vrf_zone(a.min(b), a.max(b))
    }
}

/// Where a route's lookup ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// A host of `vni`: the destination itself (`connected`) or the router at `ip`.
    Host {
        vni: VniIndex,
        ip: IpAddr,
        connected: bool,
    },
    /// Another VTEP, through the L3VNI `vni`, to its router MAC (symmetric IRB).
    Remote {
        vni: VniIndex,
        tunnel: TunnelId,
        router_mac: MacAddr,
    },
}

impl Target {
    /// The VNI the packet goes into next.
    #[inline(always)]
    fn vni(self) -> VniIndex {
        match self {
            Target::Host { vni, .. } | Target::Remote { vni, .. } => vni,
        }
    }
}

/// What `route` worked out for a packet: where it goes next.
struct Hop {
    target: Target,
    route: Route,
    /// The destination is the gateway's own address in the target VNI (another VNI of the
    /// VRF).
    to_gateway: bool,
}

impl Gateway {
    /// The anycast gateway MAC, if routing is configured.
    #[inline(always)]
    pub(super) fn gateway_mac(&self) -> Option<MacAddr> {
        self.params.routing.map(|r| r.gateway_mac)
    }

    /// This gateway's router MAC (symmetric IRB), if routing is configured.
    #[inline(always)]
    pub(super) fn router_mac(&self) -> Option<MacAddr> {
        self.params.routing.map(|r| r.router_mac)
    }

    /// The first pass for a frame to the gateway MAC in `vni`: `l3` starts at its ethertype.
    /// IPv4 without options only (the common shape); anything else is left to `route`.
    #[inline(always)]
    pub(super) fn routed_hint(&self, vni: VniIndex, l3: &[u8]) -> Option<RoutedHint> {
        let Some([0x08, 0x00, 0x45]) = l3.get(..3) else {
            return None;
        };
        let b: [u8; 4] = l3.get(18..22)?.try_into().ok()?;
        let dst = std::net::Ipv4Addr::from(b);
        let vrf = self.tables.vnis.get(vni)?.routing.as_ref()?.vrf;
        let (route, hop_vrf, target) = self.lookup_route(vrf, IpAddr::V4(dst))?;
        // A route to another VTEP needs no binding: `route` takes it from the FIB.
        let Target::Host {
            vni: hop_vni,
            ip: hop_ip,
            connected,
        } = target
        else {
            return None;
        };
        let mac = self.tables.bindings.get(hop_vni, hop_ip)?.mac;
        let fdb = self.tables.fdb.probe(FdbKey::new(hop_vni, mac));
        self.tables.fdb.prefetch_probe(fdb);
        Some(RoutedHint {
            vni,
            dst,
            hop_vni,
            hop_ip,
            vrf,
            hop_vrf,
            connected,
            route,
            mac,
            fdb,
        })
    }

    /// `dst`'s route in `vrf` (the one whose counters count it), the VRF its next hop is in,
    /// and where it leads. A leaked route is followed once: what the other VRF finds must
    /// lead to one of its VNIs or VTEPs.
    #[inline(always)]
    fn lookup_route(&self, vrf: VrfIndex, dst: IpAddr) -> Option<(Route, VrfIndex, Target)> {
        let route = self.tables.vrfs.get(vrf)?.lookup(dst)?;
        let (hop_vrf, hop) = match route.next_hop {
            NextHop::Vrf(other) => (other, self.tables.vrfs.get(other)?.lookup(dst)?.next_hop),
            hop => (vrf, hop),
        };
        let target = match hop {
            NextHop::Connected(vni) => Target::Host {
                vni,
                ip: dst,
                connected: true,
            },
            NextHop::Via { vni, ip } => Target::Host {
                vni,
                ip,
                connected: false,
            },
            NextHop::Remote {
                vni,
                tunnel,
                router_mac,
            } => Target::Remote {
                vni,
                tunnel,
                router_mac,
            },
            NextHop::Vrf(_) => return None,
        };
        Some((route, hop_vrf, target))
    }

    /// The VRF of routed VNI `vni`.
    #[inline(always)]
    fn vrf_of(&self, vni: VniIndex) -> Option<VrfIndex> {
        self.tables.vnis.get(vni)?.routing.as_ref().map(|r| r.vrf)
    }

    /// Whether `ip` is one of the gateway's addresses in `vni`.
    #[inline(always)]
    pub(super) fn is_gateway_address(&self, vni: VniIndex, ip: IpAddr) -> bool {
        self.tables
            .vnis
            .get(vni)
            .and_then(|s| s.routing.as_ref())
            .is_some_and(|r| r.is_gateway(ip))
    }

    /// Routes the untagged frame `f` that came into routed VNI `vni` from `from`.
    #[inline(never)]
    pub(super) fn route<F: Frame>(
        &mut self,
        f: &mut F,
        vni: VniIndex,
        from: Location,
    ) -> Result<Verdict, DropReason> {
        let ethertype = ethernet::parse(f.data())
            .map_err(|_| DropReason::NotRoutable)?
            .0
            .ethertype_raw();
        let l3 = f.data().get(ethernet::HEADER_LEN..).unwrap_or_default();
        // Checked and read without holding the buffer: (destination, source, TTL, IPv4
        // header length or 0 for IPv6).
        let (dst, src, ttl, ihl) = match ethertype {
            EtherType::IPV4 => {
                let (ip, _) = ipv4::parse(l3).map_err(|_| DropReason::NotRoutable)?;
                let ihl = ip.header_len();
                if !ipv4::verify_checksum(l3.get(..ihl).unwrap_or_default()) {
                    return Err(DropReason::NotRoutable);
                }
                let (dst, src) = (ip.dst(), ip.src());
                if dst.is_multicast()
                    || dst.is_broadcast()
                    || dst.is_unspecified()
                    || dst.is_loopback()
                    || src.is_multicast()
                    || src.is_loopback()
                {
                    return Err(DropReason::NotRoutable);
                }
                (IpAddr::V4(dst), IpAddr::V4(src), ip.ttl, ihl)
            }
            EtherType::IPV6 => {
                let (ip, _) = ipv6::parse(l3).map_err(|_| DropReason::NotRoutable)?;
                let (dst, src) = (ip.dst(), ip.src());
                // Link-local addresses never leave their link (RFC 4291 §2.5.6).
                let link_local = |a: &std::net::Ipv6Addr| (a.segments()[0] & 0xffc0) == 0xfe80;
                if dst.is_multicast()
                    || dst.is_unspecified()
                    || dst.is_loopback()
                    || link_local(&dst)
                    || link_local(&src)
                    || src.is_multicast()
                {
                    return Err(DropReason::NotRoutable);
                }
                (IpAddr::V6(dst), IpAddr::V6(src), ip.hop_limit, 0)
            }
            _ => return Err(DropReason::NotRoutable),
        };
        // One look at the VNI's routing state for its VRF and the gateway's addresses.
        let (vrf, own) = match self.tables.vnis.get(vni).and_then(|s| s.routing.as_ref()) {
            Some(r) => (r.vrf, r.is_gateway(dst)),
            None => return Err(DropReason::VrfMismatch),
        };
        if own {
            return self.for_gateway(f, vni, vrf, from, ihl);
        }
        if ttl <= 1 {
            return self.time_exceeded(f, vni, vrf, from, src);
        }
        let hinted = match (self.hint.routed, dst) {
            (Some(h), IpAddr::V4(d)) if h.vni == vni && h.dst == d => Some(h),
            _ => None,
        };
        let hop = match hinted {
            Some(h) => {
                let target = Target::Host {
                    vni: h.hop_vni,
                    ip: h.hop_ip,
                    connected: h.connected,
                };
                self.checked_hop(h.route, h.hop_vrf, target, dst)?
            }
            None => self.next_hop(vrf, dst)?,
        };
        if hop.to_gateway {
            // Another VNI's gateway address: the gateway itself, reached from this VNI.
            return self.for_gateway(f, vni, vrf, from, ihl);
        }
        self.police(f, vni, hop.target.vni())?;
        let (hop_vni, hop_ip) = match hop.target {
            Target::Host { vni, ip, .. } => (vni, ip),
            Target::Remote {
                vni: l3vni,
                tunnel,
                router_mac,
            } => {
                // RFC 9135 §4.1: from this gateway's router MAC to the egress VTEP's.
                rewrite(
                    f,
                    router_mac,
                    self.router_mac().unwrap_or(MacAddr::ZERO),
                    ihl,
                )?;
                let len = self.count_routed(f, vrf, hop.route);
                let sent = self.encap_unicast(f, l3vni, tunnel)?;
                self.count_decap_routed(vni, from, len);
                return Ok(sent);
            }
        };
        let bound = match hinted {
            Some(h) => Some(h.mac),
            None => self.tables.bindings.get(hop_vni, hop_ip).map(|b| b.mac),
        };
        let Some(mac) = bound else {
            if let Some(c) = self.counters.vrf(vrf) {
                c.unresolved.inc();
            }
            return self.resolve(f, hop_vni, vrf, hop_ip);
        };
        rewrite(f, mac, self.gateway_mac().unwrap_or(MacAddr::ZERO), ihl)?;
        let len = self.count_routed(f, vrf, hop.route);
        let sent = self.bridge_routed(f, hop_vni, mac)?;
        self.count_decap_routed(vni, from, len);
        Ok(sent)
    }

    /// A routed packet that was decapsulated in `vni` and forwarded out of it: counted
    /// there, as a bridged frame is.
    #[inline(always)]
    fn count_decap_routed(&self, vni: VniIndex, from: Location, len: u64) {
        if matches!(from, Location::Remote { .. }) {
            self.count_decap(vni, len as usize);
        }
    }

    /// Counts a rewritten packet for its VRF and its route; its length.
    #[inline(always)]
    fn count_routed<F: Frame>(&self, f: &F, vrf: VrfIndex, route: Route) -> u64 {
        let len = f.data().len() as u64;
        if let Some(c) = self.counters.vrf(vrf) {
            c.routed_packets.inc();
            c.routed_bytes.add(len);
        }
        if let Some(c) = self.counters.route(route.slot) {
            c.packets.inc();
            c.bytes.add(len);
        }
        len
    }

    /// The FIB's answer for `dst` in `vrf`, with the VNI it leads to checked to be in it.
    #[inline(always)]
    fn next_hop(&self, vrf: VrfIndex, dst: IpAddr) -> Result<Hop, DropReason> {
        let Some((route, hop_vrf, target)) = self.lookup_route(vrf, dst) else {
            if let Some(c) = self.counters.vrf(vrf) {
                c.no_route.inc();
            }
            return Err(DropReason::NoRoute);
        };
        self.checked_hop(route, hop_vrf, target, dst)
    }

    /// A route's next hop, with the VNI it leads to checked to be in `hop_vrf` still (the
    /// FIB's answer or the first pass's alike).
    #[inline(always)]
    fn checked_hop(
        &self,
        route: Route,
        hop_vrf: VrfIndex,
        target: Target,
        dst: IpAddr,
    ) -> Result<Hop, DropReason> {
        match self
            .tables
            .vnis
            .get(target.vni())
            .and_then(|s| s.routing.as_ref())
        {
            Some(r) if r.vrf == hop_vrf => Ok(Hop {
                target,
                route,
                // Only a connected destination can be on the VNI's own subnet.
                to_gateway: matches!(
                    target,
                    Target::Host {
                        connected: true,
                        ..
                    }
                ) && r.is_gateway(dst),
            }),
            _ => Err(DropReason::VrfMismatch),
        }
    }

    /// Sends a rewritten frame to `mac` in `vni`: wherever the MAC table says, else flooded
    /// in that VNI as unknown unicast.
    fn bridge_routed<F: Frame>(
        &mut self,
        f: &mut F,
        vni: VniIndex,
        mac: MacAddr,
    ) -> Result<Verdict, DropReason> {
        let key = FdbKey::new(vni, mac);
        let entry = if self.hint.dst.is_for(key) {
            self.tables.fdb.get_probe(self.hint.dst)
        } else {
            self.tables.fdb.get(key)
        };
        match entry.map(|e| e.dest) {
            Some(Dest::Access(p)) => self.to_access(f, vni, p),
            Some(Dest::Tunnel(t)) => self.encap_unicast(f, vni, t),
            None => self.flood(vni, None, true),
        }
    }

    /// Sends a reply back where its request came from, in `vni`.
    pub(super) fn send_back<F: Frame>(
        &mut self,
        f: &mut F,
        vni: VniIndex,
        from: Location,
    ) -> Result<Verdict, DropReason> {
        match from {
            Location::Access(port) => self.to_access(f, vni, port),
            Location::Remote { vtep, encap } => match self.tables.tunnels.find(vtep, encap) {
                Some(t) => self.encap_unicast(f, vni, t),
                // No tunnel back on this worker yet: flooded to the VNI, as unknown unicast.
                None => self.flood(vni, None, true),
            },
        }
    }

    /// A packet to one of the gateway's addresses: echo is answered, nothing else is served.
    fn for_gateway<F: Frame>(
        &mut self,
        f: &mut F,
        vni: VniIndex,
        vrf: VrfIndex,
        from: Location,
        ihl: usize,
    ) -> Result<Verdict, DropReason> {
        let gw = self.gateway_mac().unwrap_or(MacAddr::ZERO);
        let l3 = f.data().get(ethernet::HEADER_LEN..).unwrap_or_default();
        let answered = if ihl > 0 {
            let (ip, icmp) = ipv4::parse(l3).map_err(|_| DropReason::NotRoutable)?;
            if ip.protocol_raw() != IpProtocol::ICMP
                || ip.is_fragment()
                || icmp.first() != Some(&icmpv4::ECHO_REQUEST)
            {
                return Err(DropReason::GatewayUnsupported);
            }
            if !icmpv4::checksum_ok(icmp) {
                return Err(DropReason::IcmpBadChecksum);
            }
            reply::echo_reply_v4(f.data_mut(), ihl, gw)
        } else {
            let (ip, icmp) = ipv6::parse(l3).map_err(|_| DropReason::NotRoutable)?;
            if ip.next_header_raw() != IpProtocol::ICMPV6
                || icmp.first() != Some(&icmpv6::ECHO_REQUEST)
            {
                return Err(DropReason::GatewayUnsupported);
            }
            if !icmpv6::checksum_ok(&ip.src(), &ip.dst(), icmp) {
                return Err(DropReason::IcmpBadChecksum);
            }
            reply::echo_reply_v6(f.data_mut(), gw)
        };
        if !answered {
            return Err(DropReason::IcmpMalformed);
        }
        if let Some(c) = self.counters.vrf(vrf) {
            c.echo_replies.inc();
        }
        self.send_back(f, vni, from)
    }

    /// A routed packet whose TTL or hop limit would reach zero: an ICMP time exceeded goes
    /// back to `sender`, from the gateway's address in the packet's VNI, within
    /// `icmp_errors_pps`.
    fn time_exceeded<F: Frame>(
        &mut self,
        f: &mut F,
        vni: VniIndex,
        vrf: VrfIndex,
        from: Location,
        sender: IpAddr,
    ) -> Result<Verdict, DropReason> {
        if let Some(c) = self.counters.vrf(vrf) {
            c.ttl_expired.inc();
        }
        let our_ip = self
            .tables
            .vnis
            .get(vni)
            .and_then(|s| s.routing.as_ref())
            .and_then(|r| r.source_for(sender));
        let l3 = f.data().get(ethernet::HEADER_LEN..).unwrap_or_default();
        let may = match sender {
            IpAddr::V4(_) => icmp_error::may_answer_v4(l3),
            IpAddr::V6(_) => icmp_error::may_answer_v6(l3),
        };
        let (Some(our_ip), true, Some(p)) = (our_ip, may, self.params.routing) else {
            return Err(DropReason::TtlExpired);
        };
        let rate = Policer::share(p.icmp_errors_pps, self.params.workers);
        if !self.icmp_policer.admit(rate, self.now) {
            return Err(DropReason::TtlExpired);
        }
        let built = match our_ip {
            IpAddr::V4(a) => icmp_error::time_exceeded_v4(f, p.gateway_mac, a),
            IpAddr::V6(a) => icmp_error::time_exceeded_v6(f, p.gateway_mac, &a),
        };
        if !built {
            return Err(DropReason::TtlExpired);
        }
        if let Some(c) = self.counters.vrf(vrf) {
            c.icmp_errors.inc();
        }
        self.send_back(f, vni, from)
    }

    /// Asks for `ip` in `vni` with the buffer of the packet that found it unresolved: an ARP
    /// request or neighbour solicitation from the gateway's address on its subnet, flooded
    /// in the VNI. At most one per host per worker tick, and within `resolve_pps`.
    fn resolve<F: Frame>(
        &mut self,
        f: &mut F,
        vni: VniIndex,
        vrf: VrfIndex,
        ip: IpAddr,
    ) -> Result<Verdict, DropReason> {
        let routing = self.tables.vnis.get(vni).and_then(|s| s.routing.as_ref());
        // A directed broadcast (RFC 2644): never forwarded, and no host to ask for.
        if routing.is_some_and(|r| r.gateways.iter().any(|g| g.is_broadcast_of(ip))) {
            return Err(DropReason::NotRoutable);
        }
        let source = routing.and_then(|r| r.source_for(ip));
        let (Some(source), Some(p)) = (source, self.params.routing) else {
            return Err(DropReason::HostUnresolved);
        };
        // The learn filter's memory, keyed by a MAC no source can have (multicast bit set).
        let tag = super::ip_tag(ip);
        let b = tag.to_le_bytes();
        let key = FdbKey::new(vni, MacAddr([b[0] | 1, b[1], b[2], b[3], b[4], b[5]]));
        if !self
            .learn_filter
            .should_report(key, tag ^ RESOLVE_TAG, self.now)
        {
            return Err(DropReason::HostUnresolved);
        }
        let rate = Policer::share(p.resolve_pps, self.params.workers);
        if !self.resolve_policer.admit(rate, self.now) {
            return Err(DropReason::HostUnresolved);
        }
        let written = match (source, ip) {
            (IpAddr::V4(src), IpAddr::V4(target)) => {
                solicit::resize(f, solicit::ARP_REQUEST_LEN)
                    && solicit::write_arp_request(f.data_mut(), p.gateway_mac, src, target)
            }
            (IpAddr::V6(src), IpAddr::V6(target)) => {
                solicit::resize(f, solicit::NS_LEN)
                    && solicit::write_neighbor_solicitation(
                        f.data_mut(),
                        p.gateway_mac,
                        &src,
                        &target,
                    )
            }
            _ => false,
        };
        if !written {
            return Err(DropReason::HostUnresolved);
        }
        if let Some(c) = self.counters.vrf(vrf) {
            c.resolve_requests.inc();
        }
        self.flood(vni, None, true)
    }

    /// ARP and neighbour discovery in a routed VNI, for the gateway: requests for its
    /// addresses are answered with the anycast MAC (rewritten in place, for the caller to
    /// send back), and answers to its own requests (sent to that MAC) are absorbed, their
    /// binding taught by the caller's snooping. `Ok(None)`: not the gateway's business.
    pub(super) fn answer_for_gateway<F: Frame>(
        &mut self,
        f: &mut F,
        vni: VniIndex,
        l2_len: usize,
        question: GatewayQuestion,
    ) -> Result<Option<GatewayAction>, DropReason> {
        let Some(gw) = self.gateway_mac() else {
            return Ok(None);
        };
        let answered = match question {
            GatewayQuestion::Arp(r) => {
                if r.operation == crate::wire::arp::Operation::Reply {
                    let to_gateway = ethernet::parse(f.data()).is_ok_and(|(e, _)| e.dst == gw);
                    if to_gateway {
                        self.counters.local.absorbed.inc();
                        return Ok(Some(GatewayAction::Absorbed));
                    }
                    return Ok(None);
                }
                if r.is_gratuitous() || !self.is_gateway_address(vni, IpAddr::V4(r.target_ip)) {
                    return Ok(None);
                }
                reply::arp_reply(f.data_mut(), l2_len, &r, gw)
            }
            GatewayQuestion::Nd(nd) => {
                if nd.icmp_type == icmpv6::NEIGHBOR_ADVERT {
                    let to_gateway = ethernet::parse(f.data()).is_ok_and(|(e, _)| e.dst == gw);
                    if to_gateway {
                        self.counters.local.absorbed.inc();
                        return Ok(Some(GatewayAction::Absorbed));
                    }
                    return Ok(None);
                }
                if !self.is_gateway_address(vni, IpAddr::V6(nd.target)) {
                    return Ok(None);
                }
                reply::neighbor_advert_as_router(f, l2_len, &nd, gw)
            }
        };
        if !answered {
            return Err(DropReason::ArpMalformed);
        }
        if let Some(c) = self.vrf_of(vni).and_then(|v| self.counters.vrf(v)) {
            c.gateway_replies.inc();
        }
        Ok(Some(GatewayAction::Replied))
    }
}

/// What the gateway did with an ARP/ND message for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum GatewayAction {
    /// An answer to the gateway's own request: consumed.
    Absorbed,
    /// A request for a gateway address, turned into its answer: to send back.
    Replied,
}

/// An ARP or neighbour-discovery message seen in a routed VNI.
#[derive(Debug, Clone, Copy)]
pub(super) enum GatewayQuestion {
    Arp(crate::wire::arp::Repr),
    Nd(icmpv6::NdRepr),
}

/// Rewrites a routed frame's MACs and decrements its TTL (IPv4, `ihl` > 0, checksum
/// updated incrementally) or hop limit.
#[inline(always)]
fn rewrite<F: Frame>(
    f: &mut F,
    to: MacAddr,
    gateway: MacAddr,
    ihl: usize,
) -> Result<(), DropReason> {
    let frame = f.data_mut();
    let (eth, l3) = ethernet::parse_mut(frame).map_err(|_| DropReason::NotRoutable)?;
    eth.dst = to;
    eth.src = gateway;
    if ihl > 0 {
        let (ip, _) = ipv4::parse_mut(l3).map_err(|_| DropReason::NotRoutable)?;
        let old = u16::from_be_bytes([ip.ttl, ip.protocol_raw()]);
        ip.ttl = ip.ttl.saturating_sub(1);
        let new = u16::from_be_bytes([ip.ttl, ip.protocol_raw()]);
        ip.set_checksum(checksum::update16(ip.checksum(), old, new));
    } else {
        let (ip, _) = ipv6::parse_mut(l3).map_err(|_| DropReason::NotRoutable)?;
        ip.hop_limit = ip.hop_limit.saturating_sub(1);
    }
    Ok(())
}
