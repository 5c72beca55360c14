//! ICMP errors sent back to a sender, built in the buffer of the packet that caused them:
//! time exceeded (RFC 792, RFC 4443 §3.3) from the routing stage, and fragmentation needed
//! (RFC 792, RFC 1191) / packet too big (RFC 4443 §3.2) for frames too large for the
//! underlay once encapsulated.
//!
//! The frame given is untagged Ethernet with the offending IP packet at offset 14; the
//! error keeps the Ethernet header (addressed back to the sender) and quotes the packet as
//! the RFCs ask: the IPv4 header and 8 bytes of payload (RFC 792), or as much of the IPv6
//! packet as fits in the minimum MTU (RFC 4443 §2.4 (c)).

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::wire::{checksum, ethernet, ipv4, ipv6, EtherType, IpProtocol, MacAddr};

use super::frame::Frame;
use super::reply::REPLY_TTL;

const ICMP_HEADER_LEN: usize = 8;
const TIME_EXCEEDED_V4: u8 = 11;
const TIME_EXCEEDED_V6: u8 = 3;
const UNREACHABLE_V4: u8 = 3;
const FRAGMENTATION_NEEDED: u8 = 4;
const PACKET_TOO_BIG_V6: u8 = 2;
/// IPv6's minimum MTU: an ICMPv6 error never exceeds it.
const IPV6_MIN_MTU: usize = 1280;

/// Whether an ICMP error may be sent about this IPv4 packet (RFC 1812 §4.3.2.7): not about
/// an ICMP error, a non-first fragment, or a packet from a non-unicast source.
pub fn may_answer_v4(l3: &[u8]) -> bool {
    let Ok((ip, payload)) = ipv4::parse(l3) else {
        return false;
    };
    let src = ip.src();
    if src.is_multicast() || src.is_broadcast() || src.is_unspecified() || src.is_loopback() {
        return false;
    }
    let offset = u16::from_be_bytes([
        l3.get(6).copied().unwrap_or(0) & 0x1f,
        l3.get(7).copied().unwrap_or(0),
    ]);
    if offset != 0 {
        return false;
    }
    if ip.protocol_raw() == IpProtocol::ICMP {
        // Only queries (echo, timestamp, information...) are answered with an error.
        return matches!(payload.first(), Some(0 | 8 | 13 | 14 | 15 | 16 | 17 | 18));
    }
    true
}

/// Whether an ICMPv6 error may be sent about this IPv6 packet (RFC 4443 §2.4 (e)).
pub fn may_answer_v6(l3: &[u8]) -> bool {
    let Ok((ip, payload)) = ipv6::parse(l3) else {
        return false;
    };
    let src = ip.src();
    if src.is_multicast() || src.is_unspecified() || src.is_loopback() {
        return false;
    }
    // An ICMPv6 error message (types 0..127) gets none back.
    !(ip.next_header_raw() == IpProtocol::ICMPV6 && payload.first().is_some_and(|t| *t < 128))
}

/// Moves the Ethernet header `extra` bytes forward into new headroom, leaving room for
/// `extra` bytes of new headers between it and the quoted packet.
fn open_gap<F: Frame>(f: &mut F, extra: usize) -> bool {
    if f.prepend(extra).is_none() {
        return false;
    }
    let data = f.data_mut();
    let eth_end = extra.saturating_add(ethernet::HEADER_LEN);
    if data.len() < eth_end {
        return false;
    }
    data.copy_within(extra..eth_end, 0);
    true
}

/// Whether the IPv4 packet at `l3` forbids fragmentation (DF): only then does a sender
/// learn the path MTU from an error (RFC 1191).
pub fn dont_fragment(l3: &[u8]) -> bool {
    l3.get(6).is_some_and(|b| b & 0x40 != 0)
}

/// Turns the IPv4 packet in `f` into an ICMP time exceeded from `our_ip`/`our_mac` to its
/// sender.
pub fn time_exceeded_v4<F: Frame>(f: &mut F, our_mac: MacAddr, our_ip: Ipv4Addr) -> bool {
    error_v4(f, our_mac, our_ip, (TIME_EXCEEDED_V4, 0), [0; 4])
}

/// Turns the IPv4 packet in `f` into an ICMP fragmentation needed from `from_ip`/`from_mac`
/// to its sender, giving `mtu` as the next hop's (RFC 1191 §4).
pub fn fragmentation_needed_v4<F: Frame>(
    f: &mut F,
    from_mac: MacAddr,
    from_ip: Ipv4Addr,
    mtu: u16,
) -> bool {
    let [hi, lo] = mtu.to_be_bytes();
    error_v4(
        f,
        from_mac,
        from_ip,
        (UNREACHABLE_V4, FRAGMENTATION_NEEDED),
        [0, 0, hi, lo],
    )
}

/// Turns the IPv6 packet in `f` into an ICMPv6 packet too big from `from_ip`/`from_mac` to
/// its sender, giving `mtu`.
pub fn packet_too_big_v6<F: Frame>(
    f: &mut F,
    from_mac: MacAddr,
    from_ip: &Ipv6Addr,
    mtu: u32,
) -> bool {
    error_v6(
        f,
        from_mac,
        from_ip,
        (PACKET_TOO_BIG_V6, 0),
        mtu.to_be_bytes(),
    )
}

/// The IPv4 packet in `f` turned into the ICMP error `kind` (type, code) whose header's
/// second word is `word`.
fn error_v4<F: Frame>(
    f: &mut F,
    our_mac: MacAddr,
    our_ip: Ipv4Addr,
    kind: (u8, u8),
    word: [u8; 4],
) -> bool {
    let l3 = f.data().get(ethernet::HEADER_LEN..).unwrap_or_default();
    let Ok((ip, payload)) = ipv4::parse(l3) else {
        return false;
    };
    let sender = ip.src();
    let quote = ip.header_len().saturating_add(payload.len().min(8));
    if !f.truncate(ethernet::HEADER_LEN.saturating_add(quote)) {
        return false;
    }
    let new_headers = ipv4::HEADER_LEN.saturating_add(ICMP_HEADER_LEN);
    if !open_gap(f, new_headers) {
        return false;
    }
    let Some(rest) = back_to_sender(f.data_mut(), our_mac, EtherType::IPV4) else {
        return false;
    };
    let Some((ip_bytes, icmp)) = rest.split_at_mut_checked(ipv4::HEADER_LEN) else {
        return false;
    };
    let mut h = <ipv4::Header as zerocopy::FromZeros>::new_zeroed();
    ipv4::Repr {
        src: our_ip,
        dst: sender,
        protocol: IpProtocol::ICMP,
        payload_len: u16::try_from(icmp.len()).unwrap_or(u16::MAX),
        ttl: REPLY_TTL,
        dscp: 0,
        dont_fragment: false,
    }
    .emit(&mut h);
    ip_bytes.copy_from_slice(zerocopy::IntoBytes::as_bytes(&h));
    write_icmp_header_summed(icmp, kind, word, 0)
}

/// Turns the IPv6 packet in `f` into an ICMPv6 time exceeded (hop limit exceeded in
/// transit) from `our_ip`/`our_mac` to its sender.
pub fn time_exceeded_v6<F: Frame>(f: &mut F, our_mac: MacAddr, our_ip: &Ipv6Addr) -> bool {
    error_v6(f, our_mac, our_ip, (TIME_EXCEEDED_V6, 0), [0; 4])
}

/// The IPv6 packet in `f` turned into the ICMPv6 error `kind` whose header's second word is
/// `word`.
fn error_v6<F: Frame>(
    f: &mut F,
    our_mac: MacAddr,
    our_ip: &Ipv6Addr,
    kind: (u8, u8),
    word: [u8; 4],
) -> bool {
    let l3 = f.data().get(ethernet::HEADER_LEN..).unwrap_or_default();
    let Ok((ip, payload)) = ipv6::parse(l3) else {
        return false;
    };
    let sender = ip.src();
    let room = IPV6_MIN_MTU.saturating_sub(ipv6::HEADER_LEN + ICMP_HEADER_LEN);
    let quote = ipv6::HEADER_LEN.saturating_add(payload.len()).min(room);
    if !f.truncate(ethernet::HEADER_LEN.saturating_add(quote)) {
        return false;
    }
    if !open_gap(f, ipv6::HEADER_LEN + ICMP_HEADER_LEN) {
        return false;
    }
    let Some(rest) = back_to_sender(f.data_mut(), our_mac, EtherType::IPV6) else {
        return false;
    };
    let Some((ip_bytes, icmp)) = rest.split_at_mut_checked(ipv6::HEADER_LEN) else {
        return false;
    };
    let len = u16::try_from(icmp.len()).unwrap_or(u16::MAX);
    let mut h = <ipv6::Header as zerocopy::FromZeros>::new_zeroed();
    ipv6::Repr {
        src: *our_ip,
        dst: sender,
        next_header: IpProtocol::ICMPV6,
        payload_len: len,
        hop_limit: REPLY_TTL,
        traffic_class: 0,
        flow_label: 0,
    }
    .emit(&mut h);
    ip_bytes.copy_from_slice(zerocopy::IntoBytes::as_bytes(&h));
    let pseudo = checksum::pseudo_header_v6(our_ip, &sender, IpProtocol::ICMPV6, u32::from(len));
    write_icmp_header_summed(icmp, kind, word, pseudo)
}

/// Type, code, the second word (unused, or the MTU) and the checksum over the whole
/// message, starting from `start` (the IPv6 pseudo-header's sum).
fn write_icmp_header_summed(
    icmp: &mut [u8],
    (icmp_type, code): (u8, u8),
    word: [u8; 4],
    start: u64,
) -> bool {
    let Some(h) = icmp.get_mut(..ICMP_HEADER_LEN) else {
        return false;
    };
    let [w0, w1, w2, w3] = word;
    h.copy_from_slice(&[icmp_type, code, 0, 0, w0, w1, w2, w3]);
    let c = !checksum::fold(checksum::sum(start, icmp));
    if let Some(field) = icmp.get_mut(2..4) {
        field.copy_from_slice(&c.to_be_bytes());
    }
    true
}

/// Readdresses the frame's Ethernet header to the sender it came from, from `our_mac`, as
/// `ethertype`; the bytes after the header.
fn back_to_sender(frame: &mut [u8], our_mac: MacAddr, ethertype: u16) -> Option<&mut [u8]> {
    let (eth, rest) = ethernet::parse_mut(frame).ok()?;
    eth.dst = eth.src;
    eth.src = our_mac;
    eth.set_ethertype(ethertype);
    Some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::VecFrame;
    use etherparse::{
        Icmpv4Type, Icmpv6Type, NetSlice, PacketBuilder, SlicedPacket, TransportSlice,
    };

    const HOST: [u8; 6] = [2, 0, 0, 0, 0, 0x10];
    const GW: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);

    fn udp4(ttl: u8, payload: usize) -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ethernet2(HOST, GW.0)
            .ipv4([192, 168, 10, 5], [192, 168, 20, 5], ttl)
            .udp(4000, 33434)
            .write(&mut out, &vec![7u8; payload])
            .unwrap();
        out
    }

    #[test]
    fn ipv4_time_exceeded_quotes_header_and_eight_bytes() {
        let original = udp4(1, 100);
        let mut f = VecFrame::new(&original);
        assert!(time_exceeded_v4(
            &mut f,
            GW,
            "192.168.10.1".parse().unwrap()
        ));
        let p = SlicedPacket::from_ethernet(f.data()).unwrap();
        let Some(etherparse::LinkSlice::Ethernet2(eth)) = &p.link else {
            panic!()
        };
        assert_eq!(eth.destination(), HOST);
        assert_eq!(eth.source(), GW.0);
        let Some(NetSlice::Ipv4(ip)) = &p.net else {
            panic!()
        };
        assert_eq!(ip.header().source(), [192, 168, 10, 1]);
        assert_eq!(ip.header().destination(), [192, 168, 10, 5]);
        let Some(TransportSlice::Icmpv4(icmp)) = &p.transport else {
            panic!()
        };
        assert!(matches!(icmp.icmp_type(), Icmpv4Type::TimeExceeded(_)));
        // The quoted datagram: its IPv4 header and the UDP header.
        assert_eq!(icmp.payload(), &original[14..14 + 28]);
        let sum = checksum::checksum(&f.data()[34..]);
        assert_eq!(sum, 0, "ICMP checksum verifies");
    }

    #[test]
    fn ipv6_time_exceeded_quotes_up_to_the_minimum_mtu() {
        let mut original = Vec::new();
        PacketBuilder::ethernet2(HOST, GW.0)
            .ipv6(
                [0xfd, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5],
                [0xfd, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5],
                1,
            )
            .udp(4000, 33434)
            .write(&mut original, &[9u8; 1400])
            .unwrap();
        let mut f = VecFrame::new(&original);
        let gw: Ipv6Addr = "fd10::1".parse().unwrap();
        assert!(time_exceeded_v6(&mut f, GW, &gw));
        assert_eq!(f.data().len(), 14 + 1280);
        let p = SlicedPacket::from_ethernet(f.data()).unwrap();
        let Some(TransportSlice::Icmpv6(icmp)) = &p.transport else {
            panic!()
        };
        assert!(matches!(icmp.icmp_type(), Icmpv6Type::TimeExceeded(_)));
        let sender: Ipv6Addr = "fd10::5".parse().unwrap();
        assert!(crate::wire::icmpv6::checksum_ok(
            &gw,
            &sender,
            &f.data()[54..]
        ));
        assert_eq!(
            &f.data()[62..62 + 40],
            &original[14..54],
            "the IPv6 header is quoted"
        );
    }

    #[test]
    fn no_error_about_an_error_or_a_later_fragment() {
        let original = udp4(1, 10);
        assert!(may_answer_v4(&original[14..]));
        let mut icmp_error = Vec::new();
        PacketBuilder::ethernet2(HOST, GW.0)
            .ipv4([192, 168, 10, 5], [192, 168, 20, 5], 1)
            .icmpv4(Icmpv4Type::TimeExceeded(
                etherparse::icmpv4::TimeExceededCode::TtlExceededInTransit,
            ))
            .write(&mut icmp_error, &[0u8; 28])
            .unwrap();
        assert!(!may_answer_v4(&icmp_error[14..]));
        let mut ping = Vec::new();
        PacketBuilder::ethernet2(HOST, GW.0)
            .ipv4([192, 168, 10, 5], [192, 168, 20, 5], 1)
            .icmpv4_echo_request(1, 1)
            .write(&mut ping, &[0u8; 8])
            .unwrap();
        assert!(may_answer_v4(&ping[14..]));
        let mut fragment = original.clone();
        fragment[14 + 7] = 8; // offset 64 bytes
        assert!(!may_answer_v4(&fragment[14..]));
    }
}
