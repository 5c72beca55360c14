//! What a packet arriving on the underlay port is: a tunnel packet for one of our VTEP
//! addresses, something for the VTEP itself (ARP, ping, neighbour discovery), or a drop with
//! its reason. Validates every header on the way, checks first what is cheapest.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::config::Encap;
use crate::wire::gre::NvgreError;
use crate::wire::{
    arp, ethernet, gre, icmpv4, icmpv6, ipv4, ipv6, udp, vxlan, EtherType, IpProtocol, Vni,
};

use super::DropReason;

/// The VTEP's own addresses and the multicast groups its VNIs flood to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalAddrs {
    pub v4: Vec<Ipv4Addr>,
    pub v6: Vec<Ipv6Addr>,
    /// Changed by `Update::Groups` as VNIs come and go.
    pub groups: Box<[IpAddr]>,
}

impl LocalAddrs {
    #[inline(always)]
    pub fn is_local_v4(&self, a: Ipv4Addr) -> bool {
        self.v4.contains(&a)
    }

    #[inline(always)]
    pub fn is_local_v6(&self, a: &Ipv6Addr) -> bool {
        self.v6.contains(a)
    }

    /// Our unicast address, or a group we receive.
    #[inline(always)]
    fn accepts_v4(&self, a: Ipv4Addr) -> bool {
        self.is_local_v4(a) || (a.is_multicast() && self.groups.contains(&IpAddr::V4(a)))
    }

    #[inline(always)]
    fn accepts_v6(&self, a: &Ipv6Addr) -> bool {
        self.is_local_v6(a) || (a.is_multicast() && self.groups.contains(&IpAddr::V6(*a)))
    }

    /// A solicited-node group of one of our addresses (neighbour solicitations).
    fn is_solicited_node(&self, a: &Ipv6Addr) -> bool {
        self.v6.iter().any(|l| ipv6::solicited_node(l) == *a)
    }
}

/// Slots of `VxlanPorts`: twice what the config allows, so that a reload moving VNIs from
/// old ports to new ones never runs out halfway (a slot is freed only when no VNI uses it
/// any more).
pub const VXLAN_PORT_SLOTS: usize = 2 * crate::config::MAX_VXLAN_PORTS;

/// The UDP ports VXLAN is received on, by slot. Slot 0 is `underlay.vxlan_port`, always open;
/// the others are VNIs' own ports (`[[vni]] vxlan_port`: flannel's 8472 beside 4789), open
/// while a VNI uses them. A free slot repeats slot 0's port, so a lookup is a plain search
/// and a port's first slot is its only one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VxlanPorts([u16; VXLAN_PORT_SLOTS]);

impl VxlanPorts {
    /// Only `port` open.
    pub const fn single(port: u16) -> VxlanPorts {
        VxlanPorts([port; VXLAN_PORT_SLOTS])
    }

    /// The slot `port` is open in.
    #[inline(always)]
    pub fn slot_of(&self, port: u16) -> Option<u8> {
        let i = self.0.iter().position(|&p| p == port)?;
        u8::try_from(i).ok()
    }

    /// The port of `slot` (slot 0's for one out of range).
    #[inline(always)]
    pub fn port(&self, slot: u8) -> u16 {
        match self.0.get(usize::from(slot)) {
            Some(&p) => p,
            None => self.default_port(),
        }
    }

    /// `underlay.vxlan_port`.
    #[inline(always)]
    pub fn default_port(&self) -> u16 {
        let [first, ..] = self.0;
        first
    }

    /// Opens `port` in `slot` (a slot other than 0).
    pub fn open(&mut self, slot: u8, port: u16) {
        if slot != 0 {
            if let Some(p) = self.0.get_mut(usize::from(slot)) {
                *p = port;
            }
        }
    }

    /// Frees `slot` (a slot other than 0).
    pub fn close(&mut self, slot: u8) {
        let default = self.default_port();
        self.open(slot, default);
    }

    /// The open ports, each once, slot 0's first.
    #[cfg(test)]
    pub fn open_ports(&self) -> Vec<u16> {
        let mut out: Vec<u16> = Vec::with_capacity(VXLAN_PORT_SLOTS);
        for &p in &self.0 {
            if !out.contains(&p) {
                out.push(p);
            }
        }
        out
    }
}

/// A tunnel packet, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TunnelPacket {
    pub encap: Encap,
    pub vni: Vni,
    /// The `VxlanPorts` slot of the UDP port a VXLAN packet came to (0 for NVGRE): checked
    /// against its VNI's.
    pub port_slot: u8,
    /// The sending VTEP.
    pub src: IpAddr,
    /// Bytes in front of the inner frame.
    pub outer_len: usize,
    /// The inner frame's length (Ethernet header included, trailing padding excluded).
    pub inner_len: usize,
    /// The outer TOS / traffic class: its ECN field (RFC 3168, the low two bits) is carried
    /// inside (`ecn`), its DSCP may choose the frame's 802.1p priority (`priority`).
    pub outer_tos: u8,
}

/// Messages for the VTEP itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalPacket {
    Arp(arp::Repr),
    /// An ICMP echo request to a local IPv4 address; the offset of the IPv4 header is 14.
    EchoV4 {
        ip_header_len: usize,
    },
    EchoV6,
    /// Neighbour solicitation or advertisement; `icmp_offset` is where ICMPv6 starts.
    Nd(icmpv6::NdRepr, usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Underlay {
    Tunnel(TunnelPacket),
    Local(LocalPacket),
}

/// What the NIC checked on receive (None: it did not say), so classify need not do it again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NicChecks {
    /// The outer IPv4 header checksum.
    pub ipv4_header: Option<bool>,
    /// The outer UDP checksum (DPDK's outer L4 verdict: never the inner packet's).
    pub outer_udp: Option<bool>,
}

impl NicChecks {
    /// Nothing checked: everything in software.
    pub const NONE: NicChecks = NicChecks {
        ipv4_header: None,
        outer_udp: None,
    };
}

/// Classifies one frame received on the underlay port.
#[inline]
pub fn classify(
    frame: &[u8],
    local: &LocalAddrs,
    vxlan_ports: &VxlanPorts,
    nic: NicChecks,
) -> Result<Underlay, DropReason> {
    let (eth, rest) = ethernet::parse(frame).map_err(|_| DropReason::Runt)?;
    // No station sends from a group address (IEEE 802.3 3.2.3.1): answering or decapsulating
    // such a frame would trust a forged sender. (An all-zero source is let through: virtual
    // devices such as net_ring have that address.)
    if eth.src.is_multicast() {
        return Err(DropReason::BadSourceMac);
    }
    match eth.ethertype_raw() {
        EtherType::IPV4 => classify_v4(rest, local, vxlan_ports, nic.ipv4_header),
        EtherType::IPV6 => classify_v6(rest, local, vxlan_ports, nic.outer_udp),
        EtherType::ARP => arp::Repr::parse(rest)
            .map(|r| Underlay::Local(LocalPacket::Arp(r)))
            .map_err(|_| DropReason::ArpMalformed),
        EtherType::VLAN | EtherType::QINQ => Err(DropReason::UnderlayVlan),
        _ => Err(DropReason::NonIp),
    }
}

#[inline(always)]
fn classify_v4(
    bytes: &[u8],
    local: &LocalAddrs,
    vxlan_ports: &VxlanPorts,
    hw_checksum: Option<bool>,
) -> Result<Underlay, DropReason> {
    let (ip, payload) = ipv4::parse(bytes).map_err(|_| DropReason::IpMalformed)?;
    // RFC 1122 3.2.1.2: a datagram with a bad header checksum is discarded.
    let checksum_ok = hw_checksum.unwrap_or_else(|| {
        bytes
            .get(..ip.header_len())
            .is_some_and(ipv4::verify_checksum)
    });
    if !checksum_ok {
        return Err(DropReason::IpMalformed);
    }
    let dst = ip.dst();
    if !local.accepts_v4(dst) {
        return Err(DropReason::NotLocal);
    }
    if ip.is_fragment() {
        return Err(DropReason::IpFragment);
    }
    if ip.ttl == 0 {
        return Err(DropReason::IpTtlZero);
    }
    let ip_len = ip.header_len();
    let src = IpAddr::V4(ip.src());
    let outer_tos = ip.tos();
    match ip.protocol_raw() {
        IpProtocol::UDP => vxlan_packet(
            payload,
            src,
            ip_len.saturating_add(ethernet::HEADER_LEN),
            vxlan_ports,
            outer_tos,
            None,
        ),
        IpProtocol::GRE => nvgre_packet(
            payload,
            src,
            ip_len.saturating_add(ethernet::HEADER_LEN),
            outer_tos,
        ),
        IpProtocol::ICMP if local.is_local_v4(dst) => {
            let (icmp, _) = icmpv4::parse(payload).map_err(|_| DropReason::IcmpMalformed)?;
            if icmp.icmp_type == icmpv4::ECHO_REQUEST && icmp.code == 0 {
                // Answered only when intact: a reply would carry the corruption back.
                if !icmpv4::checksum_ok(payload) {
                    return Err(DropReason::IcmpBadChecksum);
                }
                Ok(Underlay::Local(LocalPacket::EchoV4 {
                    ip_header_len: ip_len,
                }))
            } else {
                Err(DropReason::IcmpUnsupported)
            }
        }
        _ => Err(DropReason::UnsupportedProtocol),
    }
}

/// Extension headers walked past before giving up.
const MAX_EXTENSION_HEADERS: usize = 4;

#[inline(always)]
fn classify_v6(
    bytes: &[u8],
    local: &LocalAddrs,
    vxlan_ports: &VxlanPorts,
    nic_udp_checksum: Option<bool>,
) -> Result<Underlay, DropReason> {
    let (ip, payload) = ipv6::parse(bytes).map_err(|_| DropReason::IpMalformed)?;
    let dst = ip.dst();
    let for_nd = dst.is_multicast() && (local.is_solicited_node(&dst) || dst == ALL_NODES);
    if !local.accepts_v6(&dst) && !for_nd {
        return Err(DropReason::NotLocal);
    }
    if ip.hop_limit == 0 {
        return Err(DropReason::IpTtlZero);
    }
    let src = IpAddr::V6(ip.src());
    let outer_tos = ip.traffic_class();
    let (next, l4, ext_len) = skip_extensions(ip.next_header_raw(), payload)?;
    let l4_offset = ext_len.saturating_add(ethernet::HEADER_LEN + ipv6::HEADER_LEN);
    match next {
        IpProtocol::UDP if !for_nd => {
            let check = Udp6Check {
                src: ip.src(),
                dst,
                nic: nic_udp_checksum,
            };
            vxlan_packet(l4, src, l4_offset, vxlan_ports, outer_tos, Some(check))
        }
        IpProtocol::GRE if !for_nd => nvgre_packet(l4, src, l4_offset, outer_tos),
        IpProtocol::ICMPV6 => {
            let (icmp, _) = icmpv6::parse(l4).map_err(|_| DropReason::IcmpMalformed)?;
            match icmp.icmp_type {
                icmpv6::NEIGHBOR_SOLICIT | icmpv6::NEIGHBOR_ADVERT => {
                    // RFC 4861 §7.1: ND must come from a neighbour (hop limit 255).
                    if ip.hop_limit != 255 {
                        return Err(DropReason::IcmpMalformed);
                    }
                    let nd = icmpv6::NdRepr::parse(l4).map_err(|_| DropReason::IcmpMalformed)?;
                    // §7.1.1 too: a corrupted NS or NA must not be answered or teach us a MAC.
                    if !icmpv6::checksum_ok(&ip.src(), &dst, l4) {
                        return Err(DropReason::IcmpBadChecksum);
                    }
                    Ok(Underlay::Local(LocalPacket::Nd(nd, l4_offset)))
                }
                icmpv6::ECHO_REQUEST if local.is_local_v6(&dst) && ext_len == 0 => {
                    // RFC 4443 4.1: identifier and sequence number follow the common header.
                    if l4.len() < icmpv6::ECHO_HEADER_LEN {
                        return Err(DropReason::IcmpMalformed);
                    }
                    if !icmpv6::checksum_ok(&ip.src(), &dst, l4) {
                        return Err(DropReason::IcmpBadChecksum);
                    }
                    Ok(Underlay::Local(LocalPacket::EchoV6))
                }
                _ => Err(DropReason::IcmpUnsupported),
            }
        }
        _ if for_nd => Err(DropReason::NotLocal),
        _ => Err(DropReason::UnsupportedProtocol),
    }
}

const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// Walks hop-by-hop, routing and destination-options headers; a fragment header, or too many
/// headers, drops the packet. Returns the upper-layer protocol, its bytes and the length
/// skipped.
fn skip_extensions(mut next: u8, mut bytes: &[u8]) -> Result<(u8, &[u8], usize), DropReason> {
    let mut skipped = 0usize;
    let mut walked = 0usize;
    // One round more than headers allowed: the last only looks at what follows them.
    for _ in 0..=MAX_EXTENSION_HEADERS {
        match next {
            ipv6::next_header::HOP_BY_HOP
            | ipv6::next_header::ROUTING
            | ipv6::next_header::DEST_OPTIONS
                if walked < MAX_EXTENSION_HEADERS =>
            {
                walked = walked.saturating_add(1);
                let (&[nh, len8], rest) = crate::wire::overlay::<[u8; 2]>(bytes)
                    .map_err(|_| DropReason::Ipv6ExtensionHeader)?;
                // A routing header with segments left is not for us to consume: we are not
                // the final destination (RFC 8200 4.4).
                if next == ipv6::next_header::ROUTING && rest.get(1).is_none_or(|left| *left != 0) {
                    return Err(DropReason::Ipv6ExtensionHeader);
                }
                let len = usize::from(len8).saturating_add(1).saturating_mul(8);
                bytes = bytes.get(len..).ok_or(DropReason::Ipv6ExtensionHeader)?;
                skipped = skipped.saturating_add(len);
                next = nh;
            }
            ipv6::next_header::FRAGMENT if walked < MAX_EXTENSION_HEADERS => {
                // An atomic fragment (offset 0, no more fragments) is a whole packet, to be
                // processed as such (RFC 6946, RFC 8200 4.5); any other is a real fragment.
                let (&[nh, _, offset_hi, offset_lo_m], _) =
                    crate::wire::overlay::<[u8; 4]>(bytes).map_err(|_| DropReason::IpFragment)?;
                if offset_hi != 0 || offset_lo_m & 0xf9 != 0 {
                    return Err(DropReason::IpFragment);
                }
                walked = walked.saturating_add(1);
                bytes = bytes.get(8..).ok_or(DropReason::IpFragment)?;
                skipped = skipped.saturating_add(8);
                next = nh;
            }
            ipv6::next_header::FRAGMENT => return Err(DropReason::IpFragment),
            ipv6::next_header::HOP_BY_HOP
            | ipv6::next_header::ROUTING
            | ipv6::next_header::DEST_OPTIONS => return Err(DropReason::Ipv6ExtensionHeader),
            _ => return Ok((next, bytes, skipped)),
        }
    }
    Err(DropReason::Ipv6ExtensionHeader)
}

/// What verifying a UDP checksum over IPv6 takes: the pseudo-header's addresses, and the
/// NIC's verdict when it gave one.
#[derive(Debug, Clone, Copy)]
struct Udp6Check {
    src: Ipv6Addr,
    dst: Ipv6Addr,
    nic: Option<bool>,
}

#[inline(always)]
fn vxlan_packet(
    l4: &[u8],
    src: IpAddr,
    l4_offset: usize,
    vxlan_ports: &VxlanPorts,
    outer_tos: u8,
    udp6: Option<Udp6Check>,
) -> Result<Underlay, DropReason> {
    let (u, payload) = udp::parse(l4).map_err(|_| DropReason::UdpMalformed)?;
    // RFC 8200 8.1: a receiver verifies a UDP checksum over IPv6; RFC 6935 lets tunnels send
    // zero, which is accepted (vtepd itself always fills it in). Over IPv4 it may be skipped
    // (RFC 7348 4.1).
    if let Some(c) = udp6 {
        let datagram = l4.get(..usize::from(u.length())).unwrap_or_default();
        if u.checksum() != 0
            && !c
                .nic
                .unwrap_or_else(|| udp::checksum_ok_v6(&c.src, &c.dst, datagram))
        {
            return Err(DropReason::UdpBadChecksum);
        }
    }
    let port_slot = vxlan_ports
        .slot_of(u.dst_port())
        .ok_or(DropReason::UdpPortClosed)?;
    let (vx, inner) = vxlan::parse(payload).map_err(|_| DropReason::VxlanTruncated)?;
    if !vx.has_vni() {
        return Err(DropReason::VxlanNoVni);
    }
    if inner.len() < ethernet::HEADER_LEN {
        return Err(DropReason::InnerTruncated);
    }
    Ok(Underlay::Tunnel(TunnelPacket {
        encap: Encap::Vxlan,
        vni: vx.vni(),
        port_slot,
        src,
        outer_len: l4_offset.saturating_add(udp::HEADER_LEN + vxlan::HEADER_LEN),
        inner_len: inner.len(),
        outer_tos,
    }))
}

#[inline(always)]
fn nvgre_packet(
    l4: &[u8],
    src: IpAddr,
    l4_offset: usize,
    outer_tos: u8,
) -> Result<Underlay, DropReason> {
    let (g, inner) = gre::parse_nvgre(l4).map_err(|e| match e {
        NvgreError::Truncated => DropReason::GreTruncated,
        NvgreError::ChecksumOrSequence => DropReason::GreChecksumOrSequence,
        NvgreError::NoKey => DropReason::GreNoKey,
        NvgreError::BadVersion => DropReason::GreBadVersion,
        NvgreError::Rfc1701 => DropReason::GreRfc1701,
        NvgreError::NotEthernet => DropReason::GreNotEthernet,
    })?;
    if inner.len() < ethernet::HEADER_LEN {
        return Err(DropReason::InnerTruncated);
    }
    Ok(Underlay::Tunnel(TunnelPacket {
        encap: Encap::Nvgre,
        vni: g.vsid(),
        port_slot: 0,
        src,
        outer_len: l4_offset.saturating_add(gre::HEADER_LEN),
        inner_len: inner.len(),
        outer_tos,
    }))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    /// The VTEP of the tests: 10.0.0.1, fd00::1, receiving group 239.1.1.1.
    pub(in crate::pipeline) fn local() -> LocalAddrs {
        LocalAddrs {
            v4: vec!["10.0.0.1".parse().unwrap()],
            v6: vec!["fd00::1".parse().unwrap()],
            groups: vec!["239.1.1.1".parse().unwrap()].into(),
        }
    }

    fn inner() -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
        f.extend_from_slice(&[0x45; 46]);
        f
    }

    fn vxlan4(dst: [u8; 4], dport: u16, flags: u8, vni: u32) -> Vec<u8> {
        let mut payload = vec![flags, 0, 0, 0];
        payload.extend_from_slice(&(vni << 8).to_be_bytes());
        payload.extend_from_slice(&inner());
        let mut out = Vec::new();
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 9], [2, 0, 0, 0, 0, 1])
            .ipv4([10, 0, 0, 2], dst, 64)
            .udp(50000, dport)
            .write(&mut out, &payload)
            .unwrap();
        out
    }

    #[test]
    fn vxlan_to_a_local_address() {
        let p = vxlan4([10, 0, 0, 1], 4789, 0x08, 5000);
        let Underlay::Tunnel(t) =
            classify(&p, &local(), &VxlanPorts::single(4789), NicChecks::NONE).unwrap()
        else {
            panic!()
        };
        assert_eq!(t.encap, Encap::Vxlan);
        assert_eq!(t.vni.get(), 5000);
        assert_eq!(t.src, "10.0.0.2".parse::<IpAddr>().unwrap());
        assert_eq!(t.outer_len, 50);
        assert_eq!(t.inner_len, 60);
        assert_eq!(&p[t.outer_len..], &inner()[..]);
    }

    #[test]
    fn vxlan_on_every_open_port_and_only_there() {
        let mut ports = VxlanPorts::single(4789);
        ports.open(3, 8472);
        let slot = |ports: &VxlanPorts, dport| match classify(
            &vxlan4([10, 0, 0, 1], dport, 8, 1),
            &local(),
            ports,
            NicChecks::NONE,
        ) {
            Ok(Underlay::Tunnel(t)) => Ok(t.port_slot),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e),
        };
        assert_eq!(slot(&ports, 4789), Ok(0));
        assert_eq!(slot(&ports, 8472), Ok(3));
        assert_eq!(slot(&ports, 4790), Err(DropReason::UdpPortClosed));
        assert_eq!(ports.open_ports(), vec![4789, 8472]);
        ports.close(3);
        assert_eq!(slot(&ports, 8472), Err(DropReason::UdpPortClosed));
        assert_eq!(ports, VxlanPorts::single(4789));
        // Slot 0 is the underlay's port whatever is asked.
        ports.open(0, 9);
        assert_eq!(ports.port(0), 4789);
        assert_eq!(ports.port(200), 4789);
    }

    #[test]
    fn vxlan_drop_reasons() {
        let l = local();
        assert_eq!(
            classify(
                &vxlan4([10, 0, 0, 9], 4789, 8, 1),
                &l,
                &VxlanPorts::single(4789),
                NicChecks::NONE
            ),
            Err(DropReason::NotLocal)
        );
        assert_eq!(
            classify(
                &vxlan4([10, 0, 0, 1], 4790, 8, 1),
                &l,
                &VxlanPorts::single(4789),
                NicChecks::NONE
            ),
            Err(DropReason::UdpPortClosed)
        );
        assert_eq!(
            classify(
                &vxlan4([10, 0, 0, 1], 4789, 0, 1),
                &l,
                &VxlanPorts::single(4789),
                NicChecks::NONE
            ),
            Err(DropReason::VxlanNoVni)
        );
        let p = vxlan4([10, 0, 0, 1], 4789, 0xff, 1);
        assert!(
            classify(&p, &l, &VxlanPorts::single(4789), NicChecks::NONE).is_ok(),
            "reserved bits are ignored"
        );
        let mut frag = vxlan4([10, 0, 0, 1], 4789, 8, 1);
        frag[20] = 0x20; // MF
        frag[24..26].copy_from_slice(&[0, 0]);
        let c = crate::wire::checksum::checksum(&frag[14..34]);
        frag[24..26].copy_from_slice(&c.to_be_bytes());
        assert_eq!(
            classify(&frag, &l, &VxlanPorts::single(4789), NicChecks::NONE),
            Err(DropReason::IpFragment)
        );
        let p = vxlan4([10, 0, 0, 1], 4789, 8, 1);
        assert_eq!(
            classify(&p[..30], &l, &VxlanPorts::single(4789), NicChecks::NONE),
            Err(DropReason::IpMalformed)
        );
        assert_eq!(
            classify(&p[..10], &l, &VxlanPorts::single(4789), NicChecks::NONE),
            Err(DropReason::Runt)
        );
    }

    #[test]
    fn bad_ipv4_header_checksum() {
        let mut p = vxlan4([10, 0, 0, 1], 4789, 8, 1);
        p[24] ^= 0xff;
        assert_eq!(
            classify(&p, &local(), &VxlanPorts::single(4789), NicChecks::NONE),
            Err(DropReason::IpMalformed)
        );
        assert!(
            classify(
                &p,
                &local(),
                &VxlanPorts::single(4789),
                NicChecks {
                    ipv4_header: Some(true),
                    ..NicChecks::NONE
                }
            )
            .is_ok(),
            "the NIC's verdict wins"
        );
        let good = vxlan4([10, 0, 0, 1], 4789, 8, 1);
        assert_eq!(
            classify(
                &good,
                &local(),
                &VxlanPorts::single(4789),
                NicChecks {
                    ipv4_header: Some(false),
                    ..NicChecks::NONE
                }
            ),
            Err(DropReason::IpMalformed)
        );
    }

    #[test]
    fn truncated_vxlan_header() {
        let mut out = Vec::new();
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 9], [2, 0, 0, 0, 0, 1])
            .ipv4([10, 0, 0, 2], [10, 0, 0, 1], 64)
            .udp(50000, 4789)
            .write(&mut out, &[8, 0, 0])
            .unwrap();
        assert_eq!(
            classify(&out, &local(), &VxlanPorts::single(4789), NicChecks::NONE),
            Err(DropReason::VxlanTruncated)
        );
    }

    #[test]
    fn multicast_group_is_accepted() {
        let p = vxlan4([239, 1, 1, 1], 4789, 8, 7);
        assert!(matches!(
            classify(&p, &local(), &VxlanPorts::single(4789), NicChecks::NONE),
            Ok(Underlay::Tunnel(_))
        ));
        let p = vxlan4([239, 1, 1, 2], 4789, 8, 7);
        assert_eq!(
            classify(&p, &local(), &VxlanPorts::single(4789), NicChecks::NONE),
            Err(DropReason::NotLocal)
        );
    }

    #[test]
    fn nvgre_to_a_local_address() {
        let mut payload = vec![0x20, 0x00, 0x65, 0x58, 0x00, 0x13, 0x88, 0x07];
        payload.extend_from_slice(&inner());
        let mut out = Vec::new();
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 9], [2, 0, 0, 0, 0, 1])
            .ipv4([10, 0, 0, 2], [10, 0, 0, 1], 64)
            .write(&mut out, IpProtocol::GRE.into(), &payload)
            .unwrap();
        let Underlay::Tunnel(t) =
            classify(&out, &local(), &VxlanPorts::single(4789), NicChecks::NONE).unwrap()
        else {
            panic!()
        };
        assert_eq!(t.encap, Encap::Nvgre);
        assert_eq!(t.vni.get(), 5000);
        assert_eq!(t.outer_len, 42);
        out[34] = 0xa0;
        assert_eq!(
            classify(&out, &local(), &VxlanPorts::single(4789), NicChecks::NONE),
            Err(DropReason::GreChecksumOrSequence)
        );
    }

    #[test]
    fn vxlan_over_ipv6() {
        let mut payload = vec![8, 0, 0, 0, 0, 0, 0x10, 0];
        payload.extend_from_slice(&inner());
        let mut out = Vec::new();
        let src: Ipv6Addr = "fd00::2".parse().unwrap();
        let dst: Ipv6Addr = "fd00::1".parse().unwrap();
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 9], [2, 0, 0, 0, 0, 1])
            .ipv6(src.octets(), dst.octets(), 64)
            .udp(50000, 4789)
            .write(&mut out, &payload)
            .unwrap();
        let Underlay::Tunnel(t) =
            classify(&out, &local(), &VxlanPorts::single(4789), NicChecks::NONE).unwrap()
        else {
            panic!()
        };
        assert_eq!(t.outer_len, 70);
        assert_eq!(t.vni.get(), 16);
        assert_eq!(t.src, IpAddr::V6(src));
    }

    #[test]
    fn other_ethertypes() {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x02]);
        f.extend_from_slice(&[0x81, 0x00, 0, 1, 0x08, 0x00]);
        f.extend_from_slice(&[0; 46]);
        assert_eq!(
            classify(&f, &local(), &VxlanPorts::single(4789), NicChecks::NONE),
            Err(DropReason::UnderlayVlan)
        );
        f[12] = 0x88;
        f[13] = 0xcc;
        assert_eq!(
            classify(&f, &local(), &VxlanPorts::single(4789), NicChecks::NONE),
            Err(DropReason::NonIp)
        );
    }

    #[test]
    fn a_group_source_mac_is_refused_before_anything_else() {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[0x01, 0, 0x5e, 0, 0, 1]);
        f.extend_from_slice(&[0x08, 0x06]);
        f.extend_from_slice(&[0; 46]);
        assert_eq!(
            classify(&f, &local(), &VxlanPorts::single(4789), NicChecks::NONE),
            Err(DropReason::BadSourceMac)
        );
    }
}
