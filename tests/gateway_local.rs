//! The gateway answering for itself and for its tenants, through the real binary: ARP, ping
//! and neighbour discovery for the VTEP's underlay addresses; ARP/ND suppression from static
//! bindings on the access side and through a tunnel.

mod common;

use std::collections::BTreeSet;

use common::traffic::{
    expected_drops, ip, mac, run_gateway, scenario, tshark_fields, Encapsulated, OuterIp,
    NEXT_HOP_MAC, VTEP4,
};
use common::{read_pcap, serial, Scratch};
use etherparse::{EtherType, Ethernet2Header, Ipv4Header, Ipv6Header};

const PEER_MAC: &str = "02:00:00:00:00:99";

const UNDERLAY_CONFIG: &str = r#"
[underlay]
port = "net_pcap0"
addresses = ["10.0.0.1/24", "fd00::1/64"]
next_hop_mac = "02:00:00:00:00:fe"

[[access]]
port = "net_pcap1"
untagged_vni = 5000

[[vni]]
id = 5000
"#;

/// Ones'-complement sum check: a message with its checksum in place sums to 0xffff.
fn checksum_ok(pseudo: &[u8], bytes: &[u8]) -> bool {
    let mut sum: u64 = 0;
    for chunk in [pseudo, bytes] {
        for pair in chunk.chunks(2) {
            let hi = u64::from(pair[0]) << 8;
            let lo = pair.get(1).map_or(0, |b| u64::from(*b));
            sum += hi | lo;
        }
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum == 0xffff
}

fn ipv6_pseudo(h: &Ipv6Header, next: u8) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&h.source);
    p.extend_from_slice(&h.destination);
    p.extend_from_slice(&u32::from(h.payload_length).to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, next]);
    p
}

/// Asserts `frame` is our neighbour advertisement for fd00::1 to `dst_mac`/`dst_ip` with
/// `flags` (R, S, O in the top bits) and our MAC as target link-layer address.
fn assert_advert(frame: &[u8], dst_mac: [u8; 6], dst_ip: &str, flags: u8, ours: [u8; 6]) {
    let (eth, rest) = Ethernet2Header::from_slice(frame).unwrap();
    assert_eq!((eth.destination, eth.source), (dst_mac, ours), "NA MACs");
    let (h, payload) = Ipv6Header::from_slice(rest).unwrap();
    assert_eq!(h.hop_limit, 255, "ND hop limit");
    assert_eq!(
        h.source_addr(),
        "fd00::1".parse::<std::net::Ipv6Addr>().unwrap()
    );
    assert_eq!(
        h.destination_addr(),
        dst_ip.parse::<std::net::Ipv6Addr>().unwrap()
    );
    assert_eq!(h.next_header.0, 58);
    let na = &payload[..usize::from(h.payload_length)];
    assert_eq!(na.len(), 32, "NA with one option");
    assert_eq!(&na[..2], &[136, 0], "neighbour advertisement");
    assert_eq!(na[4] & 0xe0, flags, "flags");
    assert_eq!(
        &na[8..24],
        &"fd00::1".parse::<std::net::Ipv6Addr>().unwrap().octets()
    );
    assert_eq!(&na[24..26], &[2, 1], "target link-layer address option");
    assert_eq!(&na[26..32], &ours, "target link-layer address = port MAC");
    assert!(checksum_ok(&ipv6_pseudo(&h, 58), na), "ICMPv6 checksum");
}

#[test]
fn underlay_answers_arp_ping_and_neighbour_solicitation_for_the_vtep() {
    let _slot = serial();
    let s = Scratch::new();
    let expect = scenario("local", s.dir.path());
    let input = read_pcap(&s.path("underlay.pcap"));
    let run = run_gateway(&s, UNDERLAY_CONFIG, 2);
    let out = run.output(0);
    assert_eq!(
        out.len(),
        5,
        "ARP reply, 2 echo replies, 2 neighbour advertisements"
    );
    let ours = run.port_mac(0);
    let peer = mac(PEER_MAC);

    // ARP reply: sender = our port MAC and VTEP address, target = the requester.
    let arp = &out[0];
    let (eth, body) = Ethernet2Header::from_slice(arp).unwrap();
    assert_eq!(
        (eth.destination, eth.source),
        (peer, ours),
        "ARP reply MACs"
    );
    assert_eq!(eth.ether_type, EtherType::ARP);
    assert_eq!(
        &body[..8],
        &[0, 1, 8, 0, 6, 4, 0, 2],
        "Ethernet/IPv4 ARP reply"
    );
    assert_eq!(&body[8..14], &ours, "sender MAC is the port's");
    assert_eq!(&body[14..18], &[10, 0, 0, 1], "sender IP is the VTEP's");
    assert_eq!(&body[18..24], &peer, "target MAC");
    assert_eq!(&body[24..28], &[10, 0, 0, 2], "target IP");

    // ICMP echo reply: addresses swapped, payload echoed, checksums valid.
    let (eth, rest) = Ethernet2Header::from_slice(&out[1]).unwrap();
    assert_eq!((eth.destination, eth.source), (peer, ours));
    let (h, _) = Ipv4Header::from_slice(rest).unwrap();
    assert_eq!((h.source, h.destination), ([10, 0, 0, 1], [10, 0, 0, 2]));
    assert_eq!(h.protocol.0, 1);
    assert!(h.time_to_live > 0);
    assert_eq!(h.header_checksum, h.calc_header_checksum(), "IPv4 checksum");
    let icmp = &rest[h.header_len()..usize::from(h.total_len)];
    let (_, req_rest) = Ethernet2Header::from_slice(&input[2]).unwrap();
    let (req_h, _) = Ipv4Header::from_slice(req_rest).unwrap();
    let req_icmp = &req_rest[req_h.header_len()..usize::from(req_h.total_len)];
    assert_eq!(&icmp[..2], &[0, 0], "echo reply, code 0");
    assert_eq!(
        &icmp[4..],
        &req_icmp[4..],
        "identifier, sequence and data echoed"
    );
    assert!(checksum_ok(&[], icmp), "ICMP checksum");

    // ICMPv6 echo reply.
    let (eth, rest) = Ethernet2Header::from_slice(&out[2]).unwrap();
    assert_eq!((eth.destination, eth.source), (peer, ours));
    let (h, payload) = Ipv6Header::from_slice(rest).unwrap();
    assert_eq!(
        h.source_addr(),
        "fd00::1".parse::<std::net::Ipv6Addr>().unwrap()
    );
    assert_eq!(
        h.destination_addr(),
        "fd00::2".parse::<std::net::Ipv6Addr>().unwrap()
    );
    assert_eq!(h.next_header.0, 58);
    let icmp6 = &payload[..usize::from(h.payload_length)];
    let (_, req_rest) = Ethernet2Header::from_slice(&input[3]).unwrap();
    let (_, req6) = Ipv6Header::from_slice(req_rest).unwrap();
    assert_eq!(&icmp6[..2], &[129, 0], "echo reply, code 0");
    assert_eq!(
        &icmp6[4..],
        &req6[4..],
        "identifier, sequence and data echoed"
    );
    assert!(checksum_ok(&ipv6_pseudo(&h, 58), icmp6), "ICMPv6 checksum");

    // Neighbour advertisement for fd00::1 to the solicitor, with our MAC as target link-layer
    // address (RFC 4861 4.4, 7.2.4): solicited and override.
    assert_advert(&out[3], peer, "fd00::2", 0x60, ours);
    // To a duplicate-address-detection probe (from ::): to all nodes, unsolicited.
    assert_advert(&out[4], mac("33:33:00:00:00:01"), "ff02::1", 0x20, ours);

    // Wireshark's verdicts on the same packets.
    let rows = tshark_fields(
        &run.output_path(0),
        &[],
        &[
            "arp.opcode",
            "icmp.type",
            "icmp.checksum.status",
            "icmpv6.type",
            "icmpv6.checksum.status",
            "icmpv6.nd.na.target_address",
            "icmpv6.opt.linkaddr",
            "ip.checksum.status",
        ],
    );
    assert_eq!(rows[0][0], "2");
    assert_eq!(
        (
            rows[1][1].as_str(),
            rows[1][2].as_str(),
            rows[1][7].as_str()
        ),
        ("0", "1", "1")
    );
    assert_eq!((rows[2][3].as_str(), rows[2][4].as_str()), ("129", "1"));
    for r in &rows[3..5] {
        assert_eq!((r[3].as_str(), r[4].as_str()), ("136", "1"), "NA {r:?}");
        assert_eq!(r[5], "fd00::1");
        assert_eq!(mac(&r[6]), ours);
    }

    assert_eq!(run.local("arp_replies"), 1);
    assert_eq!(run.local("echo_replies"), 2);
    assert_eq!(run.local("nd_replies"), 2);
    assert_eq!(
        run.local("absorbed"),
        2,
        "an ARP reply and a neighbour advertisement"
    );
    run.assert_drops(&expected_drops(&expect));
    assert!(run.output(1).is_empty(), "nothing to the access port");
}

const SUPPRESSION_CONFIG: &str = r#"
[underlay]
port = "net_pcap0"
addresses = ["10.0.0.1/24"]
next_hop_mac = "02:00:00:00:00:fe"

[[access]]
port = "net_pcap1"
untagged_vni = 5000

[[access]]
port = "net_pcap2"

[[vni]]
id = 5000
vlan = 100
flood = ["10.0.0.2"]
arp_suppression = true

[[vni]]
id = 5100
vlan = 110
arp_suppression = true

[[arp]]
vni = 5000
ip = "192.168.1.10"
mac = "02:00:00:00:0b:01"

[[arp]]
vni = 5100
ip = "192.168.2.10"
mac = "02:00:00:00:0b:02"

[[arp]]
vni = 5000
ip = "fd10::10"
mac = "02:00:00:00:0b:01"
"#;

#[test]
fn arp_and_nd_suppression_answer_from_bindings() {
    let _slot = serial();
    let s = Scratch::new();
    scenario("suppression", s.dir.path());
    let run = run_gateway(&s, SUPPRESSION_CONFIG, 3);

    // Port 1: the answers to its own requests (untagged, VLAN 100 and VLAN 110 kept, the
    // neighbour advertisements), byte for byte as scapy builds them, in order; plus the remote
    // hosts' requests that were not answered (unbound, or no tunnel back), flooded.
    let out1 = run.output(1);
    let (flooded, answers): (Vec<Vec<u8>>, Vec<Vec<u8>>) =
        out1.into_iter().partition(|f| f[6..11] == [2, 0, 0, 0, 2]);
    assert_eq!(
        answers,
        read_pcap(&s.path("expect-replies.pcap")),
        "answers on port 1"
    );
    assert_eq!(flooded, read_pcap(&s.path("expect-flood-access1.pcap")));

    // Port 2: the unanswered requests, tagged.
    let got: BTreeSet<Vec<u8>> = run.output(2).into_iter().collect();
    let want: BTreeSet<Vec<u8>> = read_pcap(&s.path("expect-access2.pcap"))
        .into_iter()
        .collect();
    assert_eq!(got, want, "port 2: the unanswered requests");
    assert_eq!(run.output(2).len(), 3);

    // The underlay: the local unbound request flooded to 10.0.0.2, and the answer to the
    // remote host's request, encapsulated back to the VTEP it came from.
    let tunnels: Vec<Encapsulated> = run.output(0).iter().map(|f| Encapsulated::of(f)).collect();
    assert_eq!(tunnels.len(), 2);
    for p in &tunnels {
        assert_eq!(p.dst_ip(), ip("10.0.0.2"));
        assert_eq!(p.src_ip(), ip(VTEP4));
        assert_eq!(p.vni(), 5000);
        assert_eq!(p.eth.destination, mac(NEXT_HOP_MAC));
        assert!(matches!(p.ip, OuterIp::V4(_)));
        p.assert_ipv4_header_valid();
    }
    let got: BTreeSet<Vec<u8>> = tunnels.into_iter().map(|p| p.inner).collect();
    let want: BTreeSet<Vec<u8>> = read_pcap(&s.path("expect-tunnel-inner.pcap"))
        .into_iter()
        .collect();
    assert_eq!(got, want, "tunnel packets' inner frames");

    // Wireshark: the neighbour advertisement's checksum and option.
    let rows = tshark_fields(
        &run.output_path(1),
        &[],
        &[
            "icmpv6.type",
            "icmpv6.checksum.status",
            "icmpv6.opt.linkaddr",
        ],
    );
    let na: Vec<&Vec<String>> = rows.iter().filter(|r| r[0] == "136").collect();
    assert_eq!(na.len(), 2);
    for r in na {
        assert_eq!(r[1], "1", "NA checksum");
        assert_eq!(r[2], "02:00:00:00:0b:01");
    }

    assert_eq!(
        run.vni(5000, "arp_suppressed"),
        5,
        "4 from port 1, 1 through the tunnel"
    );
    assert_eq!(run.vni(5100, "arp_suppressed"), 1);
    assert_eq!(
        run.vni(5000, "encap_packets"),
        2,
        "flood copy + tunnelled answer"
    );
    assert_eq!(run.replicas(), 3, "one extra copy per flooded request");
    assert_eq!(run.report["totals"]["dropped"], 0);
}
