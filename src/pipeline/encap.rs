//! Encapsulation: a precomputed outer header per tunnel, copied in front of the inner frame
//! with one write and patched for the packet (lengths, checksum, entropy, VNI) — VPP's
//! rewrite-template approach, with the templates typed as `zerocopy` header stacks so no
//! offset is written by hand.

use std::net::IpAddr;

use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::config::Encap;
use crate::wire::{
    checksum, ethernet, gre, ipv4, ipv6, udp, vxlan, EtherType, IpProtocol, MacAddr, Vni,
};

use super::DropReason;

/// Outer Ethernet + IPv4 + UDP + VXLAN.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct Vxlan4 {
    pub eth: ethernet::Header,
    pub ip: ipv4::Header,
    pub udp: udp::Header,
    pub vxlan: vxlan::Header,
}

/// Outer Ethernet + IPv6 + UDP + VXLAN.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct Vxlan6 {
    pub eth: ethernet::Header,
    pub ip: ipv6::Header,
    pub udp: udp::Header,
    pub vxlan: vxlan::Header,
}

/// Outer Ethernet + IPv4 + GRE (NVGRE).
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct Nvgre4 {
    pub eth: ethernet::Header,
    pub ip: ipv4::Header,
    pub gre: gre::Header,
}

/// Outer Ethernet + IPv6 + GRE (NVGRE).
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct Nvgre6 {
    pub eth: ethernet::Header,
    pub ip: ipv6::Header,
    pub gre: gre::Header,
}

/// Bytes an encapsulation adds in front of the inner frame.
pub const VXLAN4_LEN: usize = std::mem::size_of::<Vxlan4>();
pub const VXLAN6_LEN: usize = std::mem::size_of::<Vxlan6>();
pub const NVGRE4_LEN: usize = std::mem::size_of::<Nvgre4>();
pub const NVGRE6_LEN: usize = std::mem::size_of::<Nvgre6>();
/// The largest outer header.
pub const MAX_OUTER_LEN: usize = VXLAN6_LEN;

/// What a tunnel's template is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateParams {
    pub src_mac: MacAddr,
    pub dst_mac: MacAddr,
    pub src_ip: IpAddr,
    pub dst_ip: IpAddr,
    pub encap: Encap,
    pub ttl: u8,
}

/// The outer header of one tunnel, ready to copy.
#[derive(Debug, Clone, Copy)]
pub enum OuterTemplate {
    /// With the ones'-complement sum of the IPv4 header (length and TOS zero) for the
    /// per-packet checksum.
    Vxlan4(Vxlan4, u16),
    /// With the pseudo-header sum of the addresses and next header for the UDP checksum.
    Vxlan6(Vxlan6, u64),
    Nvgre4(Nvgre4, u16),
    Nvgre6(Nvgre6),
}

/// What a packet's segment puts in its outer header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TunnelVni {
    pub id: Vni,
    /// The VNI's VXLAN UDP port (unused for NVGRE).
    pub vxlan_port: u16,
}

/// Per-packet values patched into the template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketParams {
    pub vni: TunnelVni,
    /// Inner frame length (Ethernet header included).
    pub inner_len: usize,
    /// Flow hash of the inner frame: the VXLAN source port, the NVGRE FlowID, the IPv6
    /// flow label.
    pub entropy: u32,
    /// Outer DSCP/ECN byte (IPv4 TOS, IPv6 traffic class).
    pub tos: u8,
}

/// The UDP source-port range the entropy is mapped into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourcePorts {
    base: u16,
    span: u32,
}

impl SourcePorts {
    pub fn new(low: u16, high: u16) -> SourcePorts {
        SourcePorts {
            base: low,
            span: u32::from(high.saturating_sub(low)).saturating_add(1),
        }
    }

    /// Maps a 32-bit hash onto the range with a multiply (no division).
    #[inline(always)]
    pub fn pick(&self, entropy: u32) -> u16 {
        let offset = u64::from(entropy).wrapping_mul(u64::from(self.span)) >> 32;
        // offset < span <= 65536, and base + offset <= high.
        self.base.wrapping_add(offset as u16)
    }
}

fn ipv4_base(h: &ipv4::Header) -> u16 {
    checksum::fold(checksum::sum(0, h.as_bytes()))
}

impl OuterTemplate {
    /// Builds the template; `None` when the addresses' families differ.
    pub fn build(p: &TemplateParams) -> Option<OuterTemplate> {
        let ethertype = if p.dst_ip.is_ipv4() {
            EtherType::IPV4
        } else {
            EtherType::IPV6
        };
        let eth = ethernet::Header::new(p.dst_mac, p.src_mac, ethertype);
        let l4 = match p.encap {
            Encap::Vxlan => IpProtocol::UDP,
            Encap::Nvgre => IpProtocol::GRE,
        };
        // Both UDP ports are the packet's: the source from its flow, the destination its VNI's.
        let udp = udp::Header::new(0, 0, 0);
        let vxlan = vxlan::Header::new(Vni::from_u24(0));
        let gre = gre::Header::nvgre(Vni::from_u24(0), 0);
        match (p.src_ip, p.dst_ip) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                let mut ip = ipv4::Header::new_zeroed();
                ipv4::Repr {
                    src,
                    dst,
                    protocol: l4,
                    payload_len: 0,
                    ttl: p.ttl,
                    dscp: 0,
                    dont_fragment: true,
                }
                .emit(&mut ip);
                // The template's total length is 20 (payload 0): take it out of the base so
                // the per-packet sum adds the real total length.
                ip.set_total_len(0);
                ip.set_checksum(0);
                let base = ipv4_base(&ip);
                Some(match p.encap {
                    Encap::Vxlan => OuterTemplate::Vxlan4(
                        Vxlan4 {
                            eth,
                            ip,
                            udp,
                            vxlan,
                        },
                        base,
                    ),
                    Encap::Nvgre => OuterTemplate::Nvgre4(Nvgre4 { eth, ip, gre }, base),
                })
            }
            (IpAddr::V6(src), IpAddr::V6(dst)) => {
                let mut ip = ipv6::Header::new_zeroed();
                ipv6::Repr {
                    src,
                    dst,
                    next_header: l4,
                    payload_len: 0,
                    hop_limit: p.ttl,
                    traffic_class: 0,
                    flow_label: 0,
                }
                .emit(&mut ip);
                Some(match p.encap {
                    Encap::Vxlan => {
                        let pseudo = checksum::pseudo_header_v6(&src, &dst, IpProtocol::UDP, 0);
                        OuterTemplate::Vxlan6(
                            Vxlan6 {
                                eth,
                                ip,
                                udp,
                                vxlan,
                            },
                            pseudo,
                        )
                    }
                    Encap::Nvgre => OuterTemplate::Nvgre6(Nvgre6 { eth, ip, gre }),
                })
            }
            _ => None,
        }
    }

    /// Bytes this template puts in front of the inner frame.
    #[inline(always)]
    pub fn len(&self) -> usize {
        match self {
            OuterTemplate::Vxlan4(..) => VXLAN4_LEN,
            OuterTemplate::Vxlan6(..) => VXLAN6_LEN,
            OuterTemplate::Nvgre4(..) => NVGRE4_LEN,
            OuterTemplate::Nvgre6(..) => NVGRE6_LEN,
        }
    }

    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        false
    }

    #[inline(always)]
    pub fn is_ipv6(&self) -> bool {
        matches!(self, OuterTemplate::Vxlan6(..) | OuterTemplate::Nvgre6(..))
    }

    #[inline(always)]
    pub fn encap(&self) -> Encap {
        match self {
            OuterTemplate::Vxlan4(..) | OuterTemplate::Vxlan6(..) => Encap::Vxlan,
            OuterTemplate::Nvgre4(..) | OuterTemplate::Nvgre6(..) => Encap::Nvgre,
        }
    }

    /// The outer IP packet's length for an inner frame of `inner_len` bytes.
    #[inline(always)]
    pub fn outer_ip_len(&self, inner_len: usize) -> usize {
        self.len()
            .saturating_sub(ethernet::HEADER_LEN)
            .saturating_add(inner_len)
    }

    /// The outer destination MAC (the next hop's).
    pub fn dst_mac(&self) -> MacAddr {
        match self {
            OuterTemplate::Vxlan4(t, _) => t.eth.dst,
            OuterTemplate::Vxlan6(t, _) => t.eth.dst,
            OuterTemplate::Nvgre4(t, _) => t.eth.dst,
            OuterTemplate::Nvgre6(t) => t.eth.dst,
        }
    }

    /// Writes the outer header for one packet into `out` (exactly `len()` bytes long).
    ///
    /// The IPv6 UDP checksum is left holding the pseudo-header sum of the fixed fields (what
    /// checksum offload expects); `finish_udp6_checksum` completes it in software.
    #[inline(always)]
    pub fn write(
        &self,
        out: &mut [u8],
        p: &PacketParams,
        ports: &SourcePorts,
    ) -> Result<(), DropReason> {
        let inner = p.inner_len;
        match self {
            OuterTemplate::Vxlan4(t, base) => {
                let total = to_u16(inner.saturating_add(VXLAN4_LEN - ethernet::HEADER_LEN))?;
                let (h, _) = Vxlan4::mut_from_prefix(out).map_err(|_| DropReason::NoHeadroom)?;
                *h = *t;
                h.ip.set_total_len(total);
                set_tos_and_checksum(&mut h.ip, *base, total, p.tos);
                h.udp.set_src_port(ports.pick(p.entropy));
                h.udp.set_dst_port(p.vni.vxlan_port);
                h.udp.set_len(to_u16(
                    inner.saturating_add(udp::HEADER_LEN + vxlan::HEADER_LEN),
                )?);
                h.vxlan.set_vni(p.vni.id);
            }
            OuterTemplate::Nvgre4(t, base) => {
                let total = to_u16(inner.saturating_add(NVGRE4_LEN - ethernet::HEADER_LEN))?;
                let (h, _) = Nvgre4::mut_from_prefix(out).map_err(|_| DropReason::NoHeadroom)?;
                *h = *t;
                h.ip.set_total_len(total);
                set_tos_and_checksum(&mut h.ip, *base, total, p.tos);
                h.gre.set_key(p.vni.id, flow_id(p.entropy));
            }
            OuterTemplate::Vxlan6(t, pseudo) => {
                let udp_len = to_u16(inner.saturating_add(udp::HEADER_LEN + vxlan::HEADER_LEN))?;
                let (h, _) = Vxlan6::mut_from_prefix(out).map_err(|_| DropReason::NoHeadroom)?;
                *h = *t;
                h.ip.set_payload_len(udp_len);
                h.ip.set_traffic_class(p.tos);
                h.ip.set_flow_label(p.entropy);
                h.udp.set_src_port(ports.pick(p.entropy));
                h.udp.set_dst_port(p.vni.vxlan_port);
                h.udp.set_len(udp_len);
                h.vxlan.set_vni(p.vni.id);
                // Pseudo-header: addresses + next header (template) + UDP length.
                let partial = pseudo.wrapping_add(u64::from(udp_len));
                h.udp.set_checksum(checksum::fold(partial));
            }
            OuterTemplate::Nvgre6(t) => {
                let (h, _) = Nvgre6::mut_from_prefix(out).map_err(|_| DropReason::NoHeadroom)?;
                *h = *t;
                h.ip.set_payload_len(to_u16(inner.saturating_add(gre::HEADER_LEN))?);
                h.ip.set_traffic_class(p.tos);
                h.ip.set_flow_label(p.entropy);
                h.gre.set_key(p.vni.id, flow_id(p.entropy));
            }
        }
        Ok(())
    }
}

#[inline(always)]
fn to_u16(v: usize) -> Result<u16, DropReason> {
    u16::try_from(v).map_err(|_| DropReason::MtuExceeded)
}

#[inline(always)]
fn set_tos_and_checksum(ip: &mut ipv4::Header, base: u16, total: u16, tos: u8) {
    ip.set_dscp_ecn(tos >> 2, tos & 0x3);
    let sum = u64::from(base)
        .wrapping_add(u64::from(total))
        .wrapping_add(u64::from(tos));
    ip.set_checksum(!checksum::fold(sum));
}

/// NVGRE's 8-bit FlowID from the flow hash (RFC 7637 §3.2: entropy for ECMP).
#[inline(always)]
pub fn flow_id(entropy: u32) -> u8 {
    // Fold all four bytes so every hash bit counts.
    let b = entropy.to_be_bytes();
    b[0] ^ b[1] ^ b[2] ^ b[3]
}

/// Completes the IPv6 VXLAN UDP checksum in software: `headers` is the `Vxlan6` stack as
/// written by `OuterTemplate::write`, `inner_sum` the ones'-complement sum of the inner frame.
pub fn finish_udp6_checksum(headers: &mut [u8], inner_sum: u64) -> bool {
    let Ok((h, _)) = Vxlan6::mut_from_prefix(headers) else {
        return false;
    };
    // The field holds the folded pseudo-header sum; add the UDP and VXLAN headers (with the
    // checksum field itself counted as zero) and the payload.
    let pseudo = u64::from(h.udp.checksum());
    h.udp.set_checksum(0);
    let mut sum = checksum::sum(pseudo, h.udp.as_bytes());
    sum = checksum::sum(sum, h.vxlan.as_bytes());
    sum = sum.wrapping_add(inner_sum);
    h.udp.set_checksum(checksum::udp_wire(!checksum::fold(sum)));
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(encap: Encap, v6: bool) -> TemplateParams {
        TemplateParams {
            src_mac: MacAddr([2, 0, 0, 0, 0, 1]),
            dst_mac: MacAddr([2, 0, 0, 0, 0, 0xfe]),
            src_ip: if v6 {
                "fd00::1".parse().unwrap()
            } else {
                "10.0.0.1".parse().unwrap()
            },
            dst_ip: if v6 {
                "fd00::2".parse().unwrap()
            } else {
                "10.0.0.2".parse().unwrap()
            },
            encap,
            ttl: 64,
        }
    }

    fn packet() -> PacketParams {
        PacketParams {
            vni: TunnelVni {
                id: Vni::from_u24(5000),
                vxlan_port: 4789,
            },
            inner_len: 60,
            entropy: 0x1234_5678,
            tos: 0xb8,
        }
    }

    #[test]
    fn vxlan4_header_fields() {
        let t = OuterTemplate::build(&params(Encap::Vxlan, false)).unwrap();
        assert_eq!(t.len(), 50);
        let mut out = [0u8; 50];
        t.write(&mut out, &packet(), &SourcePorts::new(49152, 65535))
            .unwrap();
        let (eth, rest) = ethernet::parse(&out).unwrap();
        assert_eq!(eth.ethertype(), EtherType::Ipv4);
        assert_eq!(eth.src, MacAddr([2, 0, 0, 0, 0, 1]));
        let mut copy = rest.to_vec();
        let (ip, _) = ipv4::parse_mut(&mut copy).unwrap();
        assert_eq!(ip.total_len(), 20 + 8 + 8 + 60);
        assert_eq!(ip.dscp(), 0xb8 >> 2);
        assert!(ip.dont_fragment());
        assert!(ipv4::verify_checksum(&out[14..34]));
        let mut copy = out;
        let (u, _) = udp::parse_mut(&mut copy[34..]).unwrap();
        assert_eq!(u.dst_port(), 4789);
        assert!(u.src_port() >= 49152);
        assert_eq!(u.length(), 8 + 8 + 60);
        assert_eq!(u.checksum(), 0);
        assert_eq!(&out[42..50], &[0x08, 0, 0, 0, 0x00, 0x13, 0x88, 0]);
    }

    #[test]
    fn nvgre4_key_carries_vsid_and_flow_id() {
        let t = OuterTemplate::build(&params(Encap::Nvgre, false)).unwrap();
        assert_eq!(t.len(), 42);
        let mut out = [0u8; 42];
        t.write(&mut out, &packet(), &SourcePorts::new(49152, 65535))
            .unwrap();
        assert_eq!(out[23], IpProtocol::GRE);
        let (g, _) = gre::parse_nvgre(&out[34..]).unwrap();
        assert_eq!(g.vsid().get(), 5000);
        assert_eq!(g.flow_id(), flow_id(0x1234_5678));
        assert!(ipv4::verify_checksum(&out[14..34]));
    }

    #[test]
    fn vxlan6_checksum_verifies() {
        let t = OuterTemplate::build(&params(Encap::Vxlan, true)).unwrap();
        assert_eq!(t.len(), 70);
        let inner: Vec<u8> = (0..61u8).collect();
        let mut p = packet();
        p.inner_len = inner.len();
        let mut frame = vec![0u8; 70];
        t.write(&mut frame, &p, &SourcePorts::new(49152, 65535))
            .unwrap();
        assert!(finish_udp6_checksum(&mut frame, checksum::sum(0, &inner)));
        frame.extend_from_slice(&inner);
        let (ip, payload) = ipv6::parse(&frame[14..]).unwrap();
        assert_eq!(ip.payload_len() as usize, 8 + 8 + 61);
        assert_eq!(ip.flow_label(), 0x1234_5678 & 0xfffff);
        let pseudo = checksum::pseudo_header_v6(&ip.src(), &ip.dst(), 17, payload.len() as u32);
        assert_eq!(checksum::fold(checksum::sum(pseudo, payload)), 0xffff);
    }

    #[test]
    fn source_port_stays_in_range() {
        let r = SourcePorts::new(50000, 50009);
        for e in [0u32, 1, 0x8000_0000, u32::MAX, 0x1234_5678] {
            let p = r.pick(e);
            assert!((50000..=50009).contains(&p), "{p}");
        }
        assert_eq!(SourcePorts::new(1, 65535).pick(u32::MAX), 65535);
        assert_eq!(SourcePorts::new(4000, 4000).pick(u32::MAX), 4000);
    }

    #[test]
    fn mixed_families_are_refused() {
        let mut p = params(Encap::Vxlan, false);
        p.dst_ip = "fd00::2".parse().unwrap();
        assert!(OuterTemplate::build(&p).is_none());
    }
}
