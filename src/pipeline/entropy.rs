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
    let Ok((eth, mut rest)) = ethernet::parse(frame) else {
        return 0;
    };
    let mut ethertype = eth.ethertype_raw();
    if ethertype == EtherType::VLAN {
        if let Ok((tag, after)) = vlan::parse(rest) {
            ethertype = tag.ethertype_raw();
            rest = after;
        }
    }
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
                return mix(addrs, (u64::from(l4) << 8) | u64::from(ip.protocol_raw()));
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
                return mix(
                    addrs,
                    (u64::from(l4) << 24) ^ (label << 4) ^ u64::from(ip.next_header_raw()),
                );
            }
        }
        _ => {}
    }
    mix(eth.dst.to_u64(), eth.src.to_u64() ^ u64::from(ethertype))
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
    fn non_ip_uses_macs_and_truncated_is_zero() {
        let mut arp = vec![0xff; 6];
        arp.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x06]);
        arp.extend_from_slice(&[0; 28]);
        assert_ne!(flow_hash(&arp), 0);
        assert_eq!(flow_hash(&[0u8; 10]), 0);
    }
}
