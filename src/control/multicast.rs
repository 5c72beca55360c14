//! Membership of the underlay multicast groups VNIs flood to.
//!
//! A VTEP that floods to a group must also receive it, and IGMP/MLD-snooping switches only
//! deliver a group to ports that asked for it. The management thread sends an IGMPv3
//! (RFC 3376) or MLDv2 (RFC 3810) report listing every group at start and then periodically,
//! well inside the default group membership interval (260 s), so membership never lapses
//! without vtepd having to answer queries.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use zerocopy::{FromZeros, IntoBytes};

use crate::wire::{checksum, ethernet, ipv4, ipv6, EtherType, IpProtocol, MacAddr};

/// Time between two reports.
pub const REPORT_INTERVAL_SECS: u64 = 60;

const IGMPV3_REPORT: u8 = 0x22;
const MLDV2_REPORT: u8 = 143;
/// Group record types: a join is a change to exclude-nothing, later reports state it, and a
/// leave is a change to include-nothing (RFC 3376 §4.2.12, RFC 3810 §5.2.12).
const CHANGE_TO_EXCLUDE: u8 = 4;
const MODE_IS_EXCLUDE: u8 = 2;
const CHANGE_TO_INCLUDE: u8 = 3;

/// What a report says of its groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    /// Newly joined (a state-change report).
    Join,
    /// Still joined (the periodic current-state report).
    Member,
    /// Left (a state-change report).
    Leave,
}

impl Membership {
    fn record(self) -> u8 {
        match self {
            Membership::Join => CHANGE_TO_EXCLUDE,
            Membership::Member => MODE_IS_EXCLUDE,
            Membership::Leave => CHANGE_TO_INCLUDE,
        }
    }
}
const IGMP_PROTOCOL: u8 = 2;
const IGMPV3_ROUTERS: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 22);
const MLDV2_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x16);
/// IPv4 Router Alert option (RFC 2113).
const ROUTER_ALERT_V4: [u8; 4] = [0x94, 0x04, 0x00, 0x00];
/// IPv6 hop-by-hop header carrying Router Alert (RFC 2711) for ICMPv6, padded to 8 bytes.
const HOP_BY_HOP_ROUTER_ALERT: [u8; 8] =
    [IpProtocol::ICMPV6, 0, 0x05, 0x02, 0x00, 0x00, 0x01, 0x00];

/// The reports announcing `groups` (one frame per address family that has groups).
pub fn reports(
    groups: &[IpAddr],
    src_v4: Option<Ipv4Addr>,
    our_mac: MacAddr,
    kind: Membership,
) -> Vec<Vec<u8>> {
    let record = kind.record();
    let v4: Vec<Ipv4Addr> = groups
        .iter()
        .filter_map(|g| match g {
            IpAddr::V4(a) => Some(*a),
            IpAddr::V6(_) => None,
        })
        .collect();
    let v6: Vec<Ipv6Addr> = groups
        .iter()
        .filter_map(|g| match g {
            IpAddr::V6(a) => Some(*a),
            IpAddr::V4(_) => None,
        })
        .collect();
    let mut out = Vec::new();
    if let (false, Some(src)) = (v4.is_empty(), src_v4) {
        out.push(igmpv3_report(&v4, src, our_mac, record));
    }
    if !v6.is_empty() {
        out.push(mldv2_report(&v6, our_mac, record));
    }
    out
}

fn igmpv3_report(groups: &[Ipv4Addr], src: Ipv4Addr, our_mac: MacAddr, record: u8) -> Vec<u8> {
    let mut igmp = vec![IGMPV3_REPORT, 0, 0, 0, 0, 0];
    igmp.extend_from_slice(&(groups.len() as u16).to_be_bytes());
    for g in groups {
        igmp.extend_from_slice(&[record, 0, 0, 0]);
        igmp.extend_from_slice(&g.octets());
    }
    let c = checksum::checksum(&igmp);
    set_checksum(&mut igmp, 2, c);

    let header_len = ipv4::HEADER_LEN + ROUTER_ALERT_V4.len();
    let mut ip = ipv4::Header::new_zeroed();
    ipv4::Repr {
        src,
        dst: IGMPV3_ROUTERS,
        protocol: IGMP_PROTOCOL,
        payload_len: (igmp.len() + ROUTER_ALERT_V4.len()) as u16,
        ttl: 1,
        // Internetwork control (CS6), as hosts send IGMP.
        dscp: 48,
        dont_fragment: false,
    }
    .emit(&mut ip);
    let mut ip_bytes = ip.as_bytes().to_vec();
    if let Some(b) = ip_bytes.first_mut() {
        *b = 0x40 | (header_len / 4) as u8;
    }
    ip_bytes.extend_from_slice(&ROUTER_ALERT_V4);
    set_checksum(&mut ip_bytes, 10, 0);
    let c = checksum::checksum(&ip_bytes);
    set_checksum(&mut ip_bytes, 10, c);

    let eth = ethernet::Header::new(
        MacAddr::from_ipv4_multicast(IGMPV3_ROUTERS.octets()),
        our_mac,
        EtherType::IPV4,
    );
    [eth.as_bytes(), &ip_bytes, &igmp].concat()
}

/// The IPv6 link-local address from a MAC (modified EUI-64), the source RFC 3810 requires.
pub fn link_local(mac: MacAddr) -> Ipv6Addr {
    let m = mac.0;
    Ipv6Addr::from([
        0xfe,
        0x80,
        0,
        0,
        0,
        0,
        0,
        0,
        m[0] ^ 0x02,
        m[1],
        m[2],
        0xff,
        0xfe,
        m[3],
        m[4],
        m[5],
    ])
}

fn mldv2_report(groups: &[Ipv6Addr], our_mac: MacAddr, record: u8) -> Vec<u8> {
    let src = link_local(our_mac);
    let mut icmp = vec![MLDV2_REPORT, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&(groups.len() as u16).to_be_bytes());
    for g in groups {
        icmp.extend_from_slice(&[record, 0, 0, 0]);
        icmp.extend_from_slice(&g.octets());
    }
    let sum = checksum::sum(
        checksum::pseudo_header_v6(&src, &MLDV2_ROUTERS, IpProtocol::ICMPV6, icmp.len() as u32),
        &icmp,
    );
    set_checksum(&mut icmp, 2, !checksum::fold(sum));

    let mut ip = ipv6::Header::new_zeroed();
    ipv6::Repr {
        src,
        dst: MLDV2_ROUTERS,
        next_header: ipv6::next_header::HOP_BY_HOP,
        payload_len: (HOP_BY_HOP_ROUTER_ALERT.len() + icmp.len()) as u16,
        hop_limit: 1,
        traffic_class: 0,
        flow_label: 0,
    }
    .emit(&mut ip);
    let eth = ethernet::Header::new(
        MacAddr::from_ipv6_multicast(MLDV2_ROUTERS.octets()),
        our_mac,
        EtherType::IPV6,
    );
    [
        eth.as_bytes(),
        ip.as_bytes(),
        &HOP_BY_HOP_ROUTER_ALERT,
        &icmp,
    ]
    .concat()
}

fn set_checksum(bytes: &mut [u8], at: usize, value: u16) {
    if let Some(field) = bytes.get_mut(at..at + 2) {
        field.copy_from_slice(&value.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: MacAddr = MacAddr([0x02, 0x70, 0x63, 0x61, 0x70, 0x00]);

    #[test]
    fn igmpv3_report_lists_every_group() {
        let groups: Vec<IpAddr> = vec!["239.1.1.1".parse().unwrap(), "239.1.1.2".parse().unwrap()];
        let frames = reports(
            &groups,
            Some("10.0.0.1".parse().unwrap()),
            MAC,
            Membership::Join,
        );
        assert_eq!(frames.len(), 1);
        let f = &frames[0];
        let (eth, rest) = ethernet::parse(f).unwrap();
        assert_eq!(eth.dst, MacAddr([0x01, 0x00, 0x5e, 0, 0, 0x16]));
        let (ip, igmp) = ipv4::parse(rest).unwrap();
        assert_eq!(ip.header_len(), 24, "router alert option");
        assert_eq!(ip.ttl, 1);
        assert_eq!(ip.dst(), IGMPV3_ROUTERS);
        assert!(ipv4::verify_checksum(&rest[..24]));
        assert_eq!(igmp[0], IGMPV3_REPORT);
        assert_eq!(checksum::checksum(igmp), 0);
        assert_eq!(u16::from_be_bytes([igmp[6], igmp[7]]), 2);
        assert_eq!(igmp[8], CHANGE_TO_EXCLUDE);
        assert_eq!(&igmp[12..16], &[239, 1, 1, 1]);
        assert_eq!(&igmp[20..24], &[239, 1, 1, 2]);
    }

    #[test]
    fn mldv2_report_from_link_local() {
        let groups: Vec<IpAddr> = vec!["ff0e::1:1".parse().unwrap()];
        let frames = reports(&groups, None, MAC, Membership::Member);
        assert_eq!(frames.len(), 1);
        let (eth, rest) = ethernet::parse(&frames[0]).unwrap();
        assert_eq!(eth.dst, MacAddr([0x33, 0x33, 0, 0, 0, 0x16]));
        let (ip, payload) = ipv6::parse(rest).unwrap();
        assert_eq!(
            ip.src(),
            "fe80::70:63ff:fe61:7000".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(ip.hop_limit, 1);
        let icmp = &payload[8..];
        assert_eq!(icmp[0], MLDV2_REPORT);
        assert_eq!(icmp[8], MODE_IS_EXCLUDE);
        let sum = checksum::sum(
            checksum::pseudo_header_v6(&ip.src(), &ip.dst(), 58, icmp.len() as u32),
            icmp,
        );
        assert_eq!(checksum::fold(sum), 0xffff);
    }

    #[test]
    fn a_leave_changes_to_include_nothing() {
        let groups: Vec<IpAddr> = vec!["239.1.1.9".parse().unwrap(), "ff0e::9".parse().unwrap()];
        let frames = reports(
            &groups,
            Some("10.0.0.1".parse().unwrap()),
            MAC,
            Membership::Leave,
        );
        assert_eq!(frames.len(), 2, "one per family");
        let (_, rest) = ethernet::parse(&frames[0]).unwrap();
        let (_, igmp) = ipv4::parse(rest).unwrap();
        assert_eq!(
            (igmp[8], &igmp[10..12]),
            (CHANGE_TO_INCLUDE, &[0u8, 0][..]),
            "no sources"
        );
        let (_, rest) = ethernet::parse(&frames[1]).unwrap();
        let (_, payload) = ipv6::parse(rest).unwrap();
        assert_eq!(payload[8 + 8], CHANGE_TO_INCLUDE);
    }

    #[test]
    fn no_groups_no_reports() {
        let src = Some("10.0.0.1".parse().unwrap());
        assert!(reports(&[], src, MAC, Membership::Join).is_empty());
    }
}
