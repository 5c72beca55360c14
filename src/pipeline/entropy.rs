//! The flow hash of an inner frame: the entropy carried in the VXLAN UDP source port, the
//! NVGRE FlowID and the IPv6 flow label, so underlay ECMP keeps each inner flow on one path.
//!
//! Hashes the inner L3/L4 5-tuple when there is one, the MAC pair otherwise. When the NIC
//! already computed an RSS hash of the frame (the access port hashes the tenant flow), that
//! is used instead and nothing is parsed.

use crate::tables::hash::fold_mul;
use crate::wire::{ethernet, ipv4, ipv6, vlan, EtherType, IpProtocol};

const K0: u64 = 0x9e37_79b9_7f4a_7c15;
const K1: u64 = 0xc2b2_ae3d_27d4_eb4f;

#[inline(always)]
fn mix(a: u64, b: u64) -> u32 {
    let h = fold_mul(a ^ K0, b ^ K1);
    // Fold 64 bits to 32, keeping every input bit's influence.
    ((h >> 32) ^ h) as u32
}

#[inline(always)]
fn ports(proto: u8, l4: &[u8]) -> u32 {
    match proto {
        IpProtocol::TCP | IpProtocol::UDP => match l4 {
            [a, b, c, d, ..] => u32::from_be_bytes([*a, *b, *c, *d]),
            _ => 0,
        },
        _ => 0,
    }
}

/// The flow hash of an Ethernet frame (one 802.1Q tag is looked through).
#[inline]
pub fn flow_hash(frame: &[u8]) -> u32 {
    flow_hash_and_tos(frame).0
}

/// The DSCP/ECN byte of a frame's IPv4/IPv6 packet (0 for anything else), found the way
/// `flow_hash` finds the packet.
#[inline]
pub fn tos(frame: &[u8]) -> u8 {
    l3(frame).map_or(0, |(_, ethertype, l3)| tos_of(ethertype, l3))
}

/// The DSCP/ECN byte of the L3 packet `l3` of type `ethertype` (0 unless IPv4/IPv6).
#[inline(always)]
fn tos_of(ethertype: u16, l3: &[u8]) -> u8 {
    match (ethertype, l3) {
        (EtherType::IPV4, [v, tos, ..]) if v >> 4 == 4 => *tos,
        (EtherType::IPV6, [a, b, ..]) if a >> 4 == 6 => (a << 4) | (b >> 4),
        _ => 0,
    }
}

/// A frame's Ethernet header, EtherType and L3 bytes, past one 802.1Q tag.
#[inline(always)]
fn l3(frame: &[u8]) -> Option<(&ethernet::Header, u16, &[u8])> {
    let (eth, rest) = ethernet::parse(frame).ok()?;
    let ethertype = eth.ethertype_raw();
    if ethertype == EtherType::VLAN {
        if let Ok((tag, after)) = vlan::parse(rest) {
            return Some((eth, tag.ethertype_raw(), after));
        }
    }
    Some((eth, ethertype, rest))
}

/// `flow_hash` and `tos` from one parse of the frame: encapsulation needs both when the NIC
/// gave no RSS hash.
#[inline(always)]
pub fn flow_hash_and_tos(frame: &[u8]) -> (u32, u8) {
    let Some((eth, ethertype, rest)) = l3(frame) else {
        return (0, 0);
    };
    match ethertype {
        EtherType::IPV4 => {
            if let Ok((ip, payload)) = ipv4::parse(rest) {
                let addrs = (u64::from(u32::from_be_bytes(ip.src_bytes())) << 32)
                    | u64::from(u32::from_be_bytes(ip.dst_bytes()));
                let l4 = if ip.is_fragment() {
                    0
                } else {
                    ports(ip.protocol_raw(), payload)
                };
                let tos = (ip.dscp() << 2) | ip.ecn();
                return (
                    mix(addrs, (u64::from(l4) << 8) | u64::from(ip.protocol_raw())),
                    tos,
                );
            }
        }
        EtherType::IPV6 => {
            if let Ok((ip, payload)) = ipv6::parse(rest) {
                let s = ip.src_bytes();
                let d = ip.dst_bytes();
                let lo = |b: &[u8; 16]| {
                    let mut w = [0u8; 8];
                    w.copy_from_slice(b.get(8..16).unwrap_or(&[0; 8]));
                    u64::from_ne_bytes(w)
                };
                let hi = |b: &[u8; 16]| {
                    let mut w = [0u8; 8];
                    w.copy_from_slice(b.get(..8).unwrap_or(&[0; 8]));
                    u64::from_ne_bytes(w)
                };
                let addrs =
                    hi(s) ^ lo(s).rotate_left(17) ^ hi(d).rotate_left(31) ^ lo(d).rotate_left(47);
                let l4 = ports(ip.next_header_raw(), payload);
                let label = u64::from(ip.flow_label());
                return (
                    mix(
                        addrs,
                        (u64::from(l4) << 24) ^ (label << 4) ^ u64::from(ip.next_header_raw()),
                    ),
                    ip.traffic_class(),
                );
            }
        }
        _ => {}
    }
    (
        mix(eth.dst.to_u64(), eth.src.to_u64() ^ u64::from(ethertype)),
        tos_of(ethertype, rest),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn udp4(sport: u16) -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([192, 168, 1, 1], [192, 168, 1, 2], 64)
            .udp(sport, 80)
            .write(&mut out, b"payload")
            .unwrap();
        out
    }

    #[test]
    fn same_flow_same_hash_other_flows_differ() {
        assert_eq!(flow_hash(&udp4(1000)), flow_hash(&udp4(1000)));
        let hashes: std::collections::HashSet<u32> =
            (1000..1100).map(|p| flow_hash(&udp4(p))).collect();
        assert_eq!(hashes.len(), 100);
    }

    #[test]
    fn spreads_over_the_vxlan_source_ports() {
        use crate::pipeline::encap::SourcePorts;
        let ports = SourcePorts::new(49152, 65535);
        let used: std::collections::HashSet<u16> = (0..2000)
            .map(|p| ports.pick(flow_hash(&udp4(p))) / 1024)
            .collect();
        assert_eq!(
            used.len(),
            16,
            "every 1024-port bucket of the range is used"
        );
    }

    #[test]
    fn one_parse_gives_the_hash_and_the_tos() {
        let mut v4 = udp4(1000);
        v4[15] = 0xb9; // DSCP 46, ECN 1
        let mut v6 = Vec::new();
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv6([0x20; 16], [0x30; 16], 64)
            .udp(1000, 80)
            .write(&mut v6, b"payload")
            .unwrap();
        v6[14] = 0x6b; // traffic class 0xb9
        v6[15] = 0x90;
        let mut tagged = v4[..12].to_vec();
        tagged.extend_from_slice(&[0x81, 0x00, 0x00, 0x64]);
        tagged.extend_from_slice(&v4[12..]);
        let mut arp = vec![0xff; 6];
        arp.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x06]);
        arp.extend_from_slice(&[0; 28]);
        for (name, frame, want_tos) in [
            ("ipv4", &v4[..], 0xb9),
            ("ipv6", &v6[..], 0xb9),
            ("802.1Q ipv4", &tagged[..], 0xb9),
            ("arp", &arp[..], 0),
            ("ipv4 header cut", &v4[..20], 0xb9),
            ("runt", &v4[..10], 0),
        ] {
            assert_eq!(
                flow_hash_and_tos(frame),
                (flow_hash(frame), want_tos),
                "{name}"
            );
            assert_eq!(tos(frame), want_tos, "{name}");
        }
    }

    #[test]
    fn non_ip_uses_macs_and_truncated_is_zero() {
        let mut arp = vec![0xff; 6];
        arp.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x06]);
        arp.extend_from_slice(&[0; 28]);
        assert_ne!(flow_hash(&arp), 0);
        assert_eq!(flow_hash(&[0u8; 10]), 0);
    }
}
