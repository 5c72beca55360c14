//! ARP requests and neighbour solicitations, written into a buffer: the management thread
//! asks for underlay neighbours with them, the routing stage for tenant hosts (in the
//! buffer of the packet that found the host unresolved).

use std::net::{Ipv4Addr, Ipv6Addr};

use zerocopy::{FromZeros, IntoBytes};

use crate::wire::{arp, checksum, ethernet, icmpv6, ipv6, EtherType, IpProtocol, MacAddr};

use super::frame::Frame;

/// An ARP request frame, padded to the Ethernet minimum.
pub const ARP_REQUEST_LEN: usize = ethernet::MIN_FRAME_LEN;
const NS_ICMP_LEN: usize = icmpv6::HEADER_LEN + icmpv6::ND_LEN + icmpv6::LLADDR_OPTION_LEN;
/// A neighbour solicitation frame with the source link-layer address option.
pub const NS_LEN: usize = ethernet::HEADER_LEN + ipv6::HEADER_LEN + NS_ICMP_LEN;

/// Writes a broadcast ARP request from `our_mac`/`src` for `target` into the first
/// `ARP_REQUEST_LEN` bytes of `frame`; false if it is shorter.
pub fn write_arp_request(
    frame: &mut [u8],
    our_mac: MacAddr,
    src: Ipv4Addr,
    target: Ipv4Addr,
) -> bool {
    let Some(frame) = frame.get_mut(..ARP_REQUEST_LEN) else {
        return false;
    };
    frame.fill(0);
    let Ok((eth, rest)) = ethernet::parse_mut(frame) else {
        return false;
    };
    *eth = ethernet::Header::new(MacAddr::BROADCAST, our_mac, EtherType::ARP);
    let Ok((h, _)) = arp::parse_mut(rest) else {
        return false;
    };
    arp::Repr {
        operation: arp::Operation::Request,
        sender_mac: our_mac,
        sender_ip: src,
        target_mac: MacAddr::ZERO,
        target_ip: target,
    }
    .emit(h);
    true
}

/// Writes a neighbour solicitation from `our_mac`/`src` for `target` (to its
/// solicited-node group) into the first `NS_LEN` bytes of `frame`; false if it is shorter.
pub fn write_neighbor_solicitation(
    frame: &mut [u8],
    our_mac: MacAddr,
    src: &Ipv6Addr,
    target: &Ipv6Addr,
) -> bool {
    let Some(frame) = frame.get_mut(..NS_LEN) else {
        return false;
    };
    let group = ipv6::solicited_node(target);
    let Some((head, icmp)) = frame.split_at_mut_checked(ethernet::HEADER_LEN + ipv6::HEADER_LEN)
    else {
        return false;
    };
    let Ok((eth, l3)) = ethernet::parse_mut(head) else {
        return false;
    };
    *eth = ethernet::Header::new(
        MacAddr::from_ipv6_multicast(group.octets()),
        our_mac,
        EtherType::IPV6,
    );
    let mut ip = ipv6::Header::new_zeroed();
    ipv6::Repr {
        src: *src,
        dst: group,
        next_header: IpProtocol::ICMPV6,
        payload_len: NS_ICMP_LEN as u16,
        hop_limit: 255,
        traffic_class: 0,
        flow_label: 0,
    }
    .emit(&mut ip);
    let Some(l3) = l3.get_mut(..ipv6::HEADER_LEN) else {
        return false;
    };
    l3.copy_from_slice(ip.as_bytes());
    let body = icmpv6::NdBody::new(0, target);
    let option = icmpv6::LladdrOption::new(icmpv6::OPT_SOURCE_LLADDR, our_mac);
    let pieces: [&[u8]; 3] = [
        &[icmpv6::NEIGHBOR_SOLICIT, 0, 0, 0],
        body.as_bytes(),
        option.as_bytes(),
    ];
    let mut at = 0usize;
    for p in pieces {
        let end = at.saturating_add(p.len());
        let Some(dst) = icmp.get_mut(at..end) else {
            return false;
        };
        dst.copy_from_slice(p);
        at = end;
    }
    let sum = checksum::sum(
        checksum::pseudo_header_v6(src, &group, IpProtocol::ICMPV6, NS_ICMP_LEN as u32),
        icmp,
    );
    if let Some(c) = icmp.get_mut(2..4) {
        c.copy_from_slice(&(!checksum::fold(sum)).to_be_bytes());
    }
    true
}

/// Resizes `f` to exactly `len` bytes.
pub fn resize<F: Frame>(f: &mut F, len: usize) -> bool {
    let have = f.data().len();
    if have >= len {
        f.truncate(len)
    } else {
        f.append(len.saturating_sub(have))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};

    #[test]
    fn arp_request_decodes() {
        let mut buf = [0xaau8; 64];
        let mac = MacAddr([2, 0, 0, 0, 0, 1]);
        assert!(write_arp_request(
            &mut buf,
            mac,
            "10.0.0.1".parse().unwrap(),
            "10.0.0.9".parse().unwrap()
        ));
        let r = arp::Repr::parse(&buf[14..]).unwrap();
        assert_eq!(r.operation, arp::Operation::Request);
        assert_eq!(r.sender_mac, mac);
        assert_eq!(r.target_ip, "10.0.0.9".parse::<Ipv4Addr>().unwrap());
        assert_eq!(&buf[..6], &[0xff; 6]);
        assert!(buf[42..60].iter().all(|b| *b == 0), "padding is zero");
        assert!(!write_arp_request(
            &mut [0u8; 59],
            mac,
            Ipv4Addr::LOCALHOST,
            Ipv4Addr::LOCALHOST
        ));
    }

    #[test]
    fn neighbor_solicitation_decodes_with_a_valid_checksum() {
        let mut buf = [0u8; NS_LEN];
        let src: Ipv6Addr = "fd10::1".parse().unwrap();
        let target: Ipv6Addr = "fd10::abcd:9".parse().unwrap();
        assert!(write_neighbor_solicitation(
            &mut buf,
            MacAddr([2, 0, 0, 0, 0, 1]),
            &src,
            &target
        ));
        let p = SlicedPacket::from_ethernet(&buf).unwrap();
        let Some(NetSlice::Ipv6(ip)) = &p.net else {
            panic!("not IPv6")
        };
        assert_eq!(
            ip.header().destination_addr(),
            ipv6::solicited_node(&target)
        );
        assert_eq!(ip.header().hop_limit(), 255);
        let Some(TransportSlice::Icmpv6(icmp)) = &p.transport else {
            panic!("not ICMPv6")
        };
        assert_eq!(icmp.type_u8(), icmpv6::NEIGHBOR_SOLICIT);
        assert!(icmpv6::checksum_ok(
            &src,
            &ipv6::solicited_node(&target),
            &buf[54..]
        ));
        let nd = icmpv6::NdRepr::parse(&buf[54..]).unwrap();
        assert_eq!(nd.target, target);
        assert_eq!(nd.lladdr, Some(MacAddr([2, 0, 0, 0, 0, 1])));
    }
}
