//! Answers built in place, in the request's own buffer: ARP replies, ICMP echo replies and
//! neighbour advertisements. Shared by the VTEP's own responder (underlay) and by ARP/ND
//! suppression (tenant VNIs), which differ only in whose MAC answers.

use std::net::Ipv6Addr;

use crate::wire::{
    arp, checksum, ethernet, icmpv4, icmpv6, ipv4, ipv6, EtherType, IpProtocol, MacAddr,
};

use super::frame::Frame;

/// Hop limit / TTL of packets the gateway originates.
pub const REPLY_TTL: u8 = 64;

/// Turns the ARP request at `l2_len` into the reply saying `answer_mac` has the requested
/// address. The Ethernet header (and any VLAN tag) stays; the MACs are set for the reply.
pub fn arp_reply(
    frame: &mut [u8],
    l2_len: usize,
    request: &arp::Repr,
    answer_mac: MacAddr,
) -> bool {
    let Ok((eth, _)) = ethernet::parse_mut(frame) else {
        return false;
    };
    eth.dst = request.sender_mac;
    eth.src = answer_mac;
    let Some(body) = frame.get_mut(l2_len..) else {
        return false;
    };
    let Ok((h, _)) = arp::parse_mut(body) else {
        return false;
    };
    arp::Repr {
        operation: arp::Operation::Reply,
        sender_mac: answer_mac,
        sender_ip: request.target_ip,
        target_mac: request.sender_mac,
        target_ip: request.sender_ip,
    }
    .emit(h);
    true
}

/// Turns an ICMP echo request to us into the echo reply.
pub fn echo_reply_v4(frame: &mut [u8], ip_header_len: usize, our_mac: MacAddr) -> bool {
    let Ok((eth, rest)) = ethernet::parse_mut(frame) else {
        return false;
    };
    eth.dst = eth.src;
    eth.src = our_mac;
    let Some((ip_bytes, icmp_bytes)) = rest.split_at_mut_checked(ip_header_len) else {
        return false;
    };
    let Ok((ip, _)) = ipv4::parse_mut(ip_bytes) else {
        return false;
    };
    let (src, dst) = (ip.src(), ip.dst());
    ip.set_src(dst);
    ip.set_dst(src);
    ip.ttl = REPLY_TTL;
    ip.set_checksum(0);
    let c = checksum::checksum(ip_bytes);
    if let Ok((ip, _)) = ipv4::parse_mut(ip_bytes) {
        ip.set_checksum(c);
    }
    let Ok((icmp, _)) = icmpv4::parse_mut(icmp_bytes) else {
        return false;
    };
    icmp.icmp_type = icmpv4::ECHO_REPLY;
    let c = icmp.checksum();
    icmp.set_checksum(checksum::update16(
        c,
        u16::from(icmpv4::ECHO_REQUEST) << 8,
        0,
    ));
    true
}

/// Turns an ICMPv6 echo request to us into the echo reply (source and destination swap,
/// which leaves the pseudo-header sum unchanged).
pub fn echo_reply_v6(frame: &mut [u8], our_mac: MacAddr) -> bool {
    let Ok((eth, rest)) = ethernet::parse_mut(frame) else {
        return false;
    };
    eth.dst = eth.src;
    eth.src = our_mac;
    let Ok((ip, icmp_bytes)) = ipv6::parse_mut(rest) else {
        return false;
    };
    let (src, dst) = (ip.src(), ip.dst());
    ip.set_src(&dst);
    ip.set_dst(&src);
    ip.hop_limit = REPLY_TTL;
    let Ok((icmp, _)) = icmpv6::parse_mut(icmp_bytes) else {
        return false;
    };
    icmp.icmp_type = icmpv6::ECHO_REPLY;
    let c = icmp.checksum();
    icmp.set_checksum(checksum::update16(
        c,
        u16::from(icmpv6::ECHO_REQUEST) << 8,
        u16::from(icmpv6::ECHO_REPLY) << 8,
    ));
    true
}

const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
const NA_LEN: usize = icmpv6::HEADER_LEN + icmpv6::ND_LEN + icmpv6::LLADDR_OPTION_LEN;

/// Turns the neighbour solicitation in `f` (IPv6 header at `l2_len`) into the advertisement
/// saying `answer_mac` has `ns.target`. A duplicate-address-detection probe (from ::) is
/// answered to all-nodes, unsolicited, as RFC 4861 §7.2.4 says.
pub fn neighbor_advert<F: Frame>(
    f: &mut F,
    l2_len: usize,
    ns: &icmpv6::NdRepr,
    answer_mac: MacAddr,
) -> bool {
    advertise(f, l2_len, ns, answer_mac, 0)
}

/// `neighbor_advert` with the router flag (RFC 4861 §4.4): the anycast gateway answering for
/// its own address.
pub fn neighbor_advert_as_router<F: Frame>(
    f: &mut F,
    l2_len: usize,
    ns: &icmpv6::NdRepr,
    answer_mac: MacAddr,
) -> bool {
    advertise(f, l2_len, ns, answer_mac, icmpv6::NA_FLAG_ROUTER)
}

fn advertise<F: Frame>(
    f: &mut F,
    l2_len: usize,
    ns: &icmpv6::NdRepr,
    answer_mac: MacAddr,
    extra_flags: u32,
) -> bool {
    let want = l2_len.saturating_add(ipv6::HEADER_LEN + NA_LEN);
    let have = f.data().len();
    let resized = if have >= want {
        f.truncate(want)
    } else {
        f.append(want.saturating_sub(have))
    };
    if !resized {
        return false;
    }
    let frame = f.data_mut();
    let Ok((eth, _)) = ethernet::parse_mut(frame) else {
        return false;
    };
    let requester_mac = ns.lladdr.unwrap_or(eth.src);
    let Some(l3) = frame.get_mut(l2_len..) else {
        return false;
    };
    let Ok((ip, icmp_bytes)) = ipv6::parse_mut(l3) else {
        return false;
    };
    let requester = ip.src();
    let (dst, flags) = if requester.is_unspecified() {
        (ALL_NODES, icmpv6::NA_FLAG_OVERRIDE | extra_flags)
    } else {
        (
            requester,
            icmpv6::NA_FLAG_SOLICITED | icmpv6::NA_FLAG_OVERRIDE | extra_flags,
        )
    };
    ipv6::Repr {
        src: ns.target,
        dst,
        next_header: IpProtocol::ICMPV6,
        payload_len: NA_LEN as u16,
        hop_limit: 255,
        traffic_class: 0,
        flow_label: 0,
    }
    .emit(ip);
    let Some(icmp_bytes) = icmp_bytes.get_mut(..NA_LEN) else {
        return false;
    };
    let Ok((h, body)) = icmpv6::parse_mut(icmp_bytes) else {
        return false;
    };
    h.icmp_type = icmpv6::NEIGHBOR_ADVERT;
    h.code = 0;
    h.set_checksum(0);
    let nd = icmpv6::NdBody::new(flags, &ns.target);
    let opt = icmpv6::LladdrOption::new(icmpv6::OPT_TARGET_LLADDR, answer_mac);
    use zerocopy::IntoBytes;
    if let Some(b) = body.get_mut(..icmpv6::ND_LEN) {
        b.copy_from_slice(nd.as_bytes());
    }
    if let Some(b) = body.get_mut(icmpv6::ND_LEN..) {
        b.copy_from_slice(opt.as_bytes());
    }
    let sum = checksum::sum(
        checksum::pseudo_header_v6(&ns.target, &dst, IpProtocol::ICMPV6, NA_LEN as u32),
        icmp_bytes,
    );
    if let Ok((h, _)) = icmpv6::parse_mut(icmp_bytes) {
        h.set_checksum(!checksum::fold(sum));
    }
    let Ok((eth, _)) = ethernet::parse_mut(f.data_mut()) else {
        return false;
    };
    eth.dst = if requester.is_unspecified() {
        MacAddr::from_ipv6_multicast(ALL_NODES.octets())
    } else {
        requester_mac
    };
    eth.src = answer_mac;
    if l2_len == ethernet::HEADER_LEN {
        eth.set_ethertype(EtherType::IPV6);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::frame::VecFrame;
    use etherparse::{PacketBuilder, SlicedPacket};

    const OURS: MacAddr = MacAddr([2, 0, 0, 0, 0, 0xaa]);

    #[test]
    fn arp_request_becomes_reply() {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[2, 0, 0, 0, 0, 2, 0x08, 0x06]);
        let req = arp::Repr {
            operation: arp::Operation::Request,
            sender_mac: MacAddr([2, 0, 0, 0, 0, 2]),
            sender_ip: "10.0.0.2".parse().unwrap(),
            target_mac: MacAddr::ZERO,
            target_ip: "10.0.0.1".parse().unwrap(),
        };
        f.extend_from_slice(&[0; 28]);
        req.emit(arp::parse_mut(&mut f[14..]).unwrap().0);
        assert!(arp_reply(&mut f, 14, &req, OURS));
        let (eth, rest) = ethernet::parse(&f).unwrap();
        assert_eq!(eth.dst, req.sender_mac);
        assert_eq!(eth.src, OURS);
        let r = arp::Repr::parse(rest).unwrap();
        assert_eq!(r.operation, arp::Operation::Reply);
        assert_eq!(r.sender_mac, OURS);
        assert_eq!(r.sender_ip, req.target_ip);
        assert_eq!(r.target_ip, req.sender_ip);
    }

    #[test]
    fn ping_becomes_pong() {
        let mut f = Vec::new();
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 2], OURS.0)
            .ipv4([10, 0, 0, 2], [10, 0, 0, 1], 5)
            .icmpv4_echo_request(7, 9)
            .write(&mut f, b"hello")
            .unwrap();
        assert!(echo_reply_v4(&mut f, 20, OURS));
        let p = SlicedPacket::from_ethernet(&f).unwrap();
        let Some(etherparse::NetSlice::Ipv4(ip)) = p.net else {
            panic!()
        };
        assert_eq!(ip.header().source(), [10, 0, 0, 1]);
        assert_eq!(ip.header().destination(), [10, 0, 0, 2]);
        assert!(ipv4::verify_checksum(&f[14..34]));
        assert_eq!(checksum::checksum(&f[34..]), 0, "ICMP checksum verifies");
        assert_eq!(f[34], icmpv4::ECHO_REPLY);
    }

    #[test]
    fn ping6_becomes_pong6() {
        let src: Ipv6Addr = "fd00::2".parse().unwrap();
        let dst: Ipv6Addr = "fd00::1".parse().unwrap();
        let mut f = Vec::new();
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 2], OURS.0)
            .ipv6(src.octets(), dst.octets(), 5)
            .icmpv6_echo_request(7, 9)
            .write(&mut f, b"hello")
            .unwrap();
        assert!(echo_reply_v6(&mut f, OURS));
        let (ip, payload) = ipv6::parse(&f[14..]).unwrap();
        assert_eq!(ip.src(), dst);
        let sum = checksum::sum(
            checksum::pseudo_header_v6(&ip.src(), &ip.dst(), 58, payload.len() as u32),
            payload,
        );
        assert_eq!(checksum::fold(sum), 0xffff);
        assert_eq!(payload[0], icmpv6::ECHO_REPLY);
    }

    fn solicitation(src: Ipv6Addr, with_option: bool) -> Vec<u8> {
        let target: Ipv6Addr = "fd00::1".parse().unwrap();
        let mut icmp = vec![icmpv6::NEIGHBOR_SOLICIT, 0, 0, 0, 0, 0, 0, 0];
        icmp.extend_from_slice(&target.octets());
        if with_option {
            icmp.extend_from_slice(&[1, 1, 2, 0, 0, 0, 0, 2]);
        }
        let dst = ipv6::solicited_node(&target);
        let sum = checksum::sum(
            checksum::pseudo_header_v6(&src, &dst, 58, icmp.len() as u32),
            &icmp,
        );
        icmp[2..4].copy_from_slice(&(!checksum::fold(sum)).to_be_bytes());
        let mut f = vec![0x33, 0x33, 0xff, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x86, 0xdd];
        let mut ip = [0u8; 40];
        ipv6::Repr {
            src,
            dst,
            next_header: 58,
            payload_len: icmp.len() as u16,
            hop_limit: 255,
            traffic_class: 0,
            flow_label: 0,
        }
        .emit(ipv6::parse_mut(&mut ip).unwrap().0);
        f.extend_from_slice(&ip);
        f.extend_from_slice(&icmp);
        f
    }

    #[test]
    fn solicitation_becomes_advertisement() {
        for with_option in [true, false] {
            let ns_bytes = solicitation("fd00::2".parse().unwrap(), with_option);
            let ns = icmpv6::NdRepr::parse(&ns_bytes[54..]).unwrap();
            let mut f = VecFrame::new(&ns_bytes);
            assert!(neighbor_advert(&mut f, 14, &ns, OURS));
            let bytes = f.data();
            assert_eq!(bytes.len(), 14 + 40 + 32);
            let (eth, rest) = ethernet::parse(bytes).unwrap();
            assert_eq!(eth.dst, MacAddr([2, 0, 0, 0, 0, 2]));
            assert_eq!(eth.src, OURS);
            let (ip, payload) = ipv6::parse(rest).unwrap();
            assert_eq!(ip.src(), "fd00::1".parse::<Ipv6Addr>().unwrap());
            assert_eq!(ip.dst(), "fd00::2".parse::<Ipv6Addr>().unwrap());
            assert_eq!(ip.hop_limit, 255);
            let na = icmpv6::NdRepr::parse(payload).unwrap();
            assert_eq!(na.icmp_type, icmpv6::NEIGHBOR_ADVERT);
            assert_eq!(na.lladdr, Some(OURS));
            assert_eq!(
                na.flags,
                icmpv6::NA_FLAG_SOLICITED | icmpv6::NA_FLAG_OVERRIDE
            );
            let sum = checksum::sum(
                checksum::pseudo_header_v6(&ip.src(), &ip.dst(), 58, payload.len() as u32),
                payload,
            );
            assert_eq!(checksum::fold(sum), 0xffff);
        }
    }

    #[test]
    fn dad_probe_is_answered_to_all_nodes() {
        let ns_bytes = solicitation(Ipv6Addr::UNSPECIFIED, false);
        let ns = icmpv6::NdRepr::parse(&ns_bytes[54..]).unwrap();
        let mut f = VecFrame::new(&ns_bytes);
        assert!(neighbor_advert(&mut f, 14, &ns, OURS));
        let (eth, rest) = ethernet::parse(f.data()).unwrap();
        assert_eq!(eth.dst, MacAddr([0x33, 0x33, 0, 0, 0, 1]));
        let (ip, payload) = ipv6::parse(rest).unwrap();
        assert_eq!(ip.dst(), ALL_NODES);
        assert_eq!(
            icmpv6::NdRepr::parse(payload).unwrap().flags,
            icmpv6::NA_FLAG_OVERRIDE
        );
    }
}
