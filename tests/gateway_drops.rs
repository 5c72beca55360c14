//! Every drop reason a crafted packet can trigger deterministically, through the real binary:
//! each bad packet (scapy) is followed by a good one, which must come out unchanged, and each
//! reason is counted under its own name in the final report — the process carrying on.

mod common;

use common::traffic::{expected_drops, mac, run_gateway, scenario, Encapsulated, VTEP4};
use common::{read_pcap, serial, Scratch};
use etherparse::{EtherType, Ethernet2Header};

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
vlan = 100
arp_suppression = true

[[vni]]
id = 5300
vlan = 130
allowed_vteps = ["10.0.0.2"]

[[vni]]
id = 7000
vlan = 200
encap = "nvgre"

[[fdb]]
vni = 5000
mac = "02:00:00:00:03:01"
port = "net_pcap1"

[[fdb]]
vni = 5300
mac = "02:00:00:00:03:02"
port = "net_pcap1"

[[fdb]]
vni = 5000
mac = "02:00:00:00:02:09"
remote = "10.0.0.9"
"#;

#[test]
fn underlay_drop_reasons_are_counted_and_good_packets_still_flow() {
    let _slot = serial();
    let s = Scratch::new();
    let expect = scenario("underlay_drops", s.dir.path());
    let input = read_pcap(&s.path("underlay.pcap"));
    let run = run_gateway(&s, UNDERLAY_CONFIG, 2);

    run.assert_drops(&expected_drops(&expect));
    for reason in [
        "runt",
        "underlay_vlan",
        "non_ip",
        "ip_malformed",
        "ip_fragment",
        "ip_ttl_zero",
        "not_local",
        "unsupported_protocol",
        "ipv6_extension_header",
        "udp_malformed",
        "udp_port_closed",
        "udp_bad_checksum",
        "vxlan_truncated",
        "vxlan_no_vni",
        "gre_truncated",
        "gre_checksum_or_sequence",
        "gre_no_key",
        "gre_bad_version",
        "gre_not_ethernet",
        "unknown_vni",
        "encap_mismatch",
        "vtep_not_allowed",
        "inner_truncated",
        "inner_vlan",
        "bad_source_mac",
        "split_horizon",
        "arp_malformed",
        "arp_not_for_us",
        "icmp_unsupported",
        "icmp_malformed",
        "icmp_bad_checksum",
    ] {
        assert!(run.drop_count(reason) > 0, "{reason} exercised");
    }
    assert_eq!(
        run.port_counter(0, "rx_packets"),
        input.len() as u64,
        "runts too"
    );

    // Every good packet interleaved with the bad ones came out, unchanged and in order.
    let want = read_pcap(&s.path("expect-access1.pcap"));
    let got = run.output(1);
    assert_eq!(got.len(), want.len(), "good packets delivered");
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "good packet {i}");
    }
    assert!(run.output(0).is_empty(), "nothing answered or sent back");
}

const ACCESS_CONFIG: &str = r#"
[underlay]
port = "net_pcap0"
addresses = ["10.0.0.1/24"]
next_hop_mac = "02:00:00:00:00:fe"

[[access]]
port = "net_pcap1"

[[access]]
port = "net_pcap2"
untagged_vni = 5500

[[vni]]
id = 5000
vlan = 100

[[vni]]
id = 5100
vlan = 110
arp_suppression = true

[[vni]]
id = 5500

[[fdb]]
vni = 5000
mac = "02:00:00:00:02:01"
remote = "10.0.0.2"

[[fdb]]
vni = 5000
mac = "02:00:00:00:05:01"
port = "net_pcap1"

[[fdb]]
vni = 5500
mac = "02:00:00:00:02:05"
remote = "10.0.0.5"
"#;

#[test]
fn access_drop_reasons_are_counted_and_good_frames_still_flow() {
    let _slot = serial();
    let s = Scratch::new();
    let expect = scenario("access_drops", s.dir.path());
    let run = run_gateway(&s, ACCESS_CONFIG, 3);

    run.assert_drops(&expected_drops(&expect));
    for reason in [
        "runt",
        "untagged_no_vni",
        "unmapped_vlan",
        "qinq_unsupported",
        "bad_source_mac",
        "same_port",
        "arp_malformed",
        "no_flood_destination",
    ] {
        assert!(run.drop_count(reason) > 0, "{reason} exercised");
    }

    // The good frames of each port, encapsulated in order: port 1's in VNI 5000 to 10.0.0.2,
    // port 2's in VNI 5500 to 10.0.0.5.
    let tunnels: Vec<Encapsulated> = run.output(0).iter().map(|f| Encapsulated::of(f)).collect();
    for (vni, remote, expected) in [
        (5000, "10.0.0.2", "expect-inner1.pcap"),
        (5500, "10.0.0.5", "expect-inner2.pcap"),
    ] {
        let got: Vec<&Encapsulated> = tunnels.iter().filter(|p| p.vni() == vni).collect();
        let want = read_pcap(&s.path(expected));
        assert_eq!(got.len(), want.len(), "VNI {vni}: good frames");
        for (i, (p, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(&p.inner, w, "VNI {vni}: good frame {i}");
            assert_eq!(p.dst_ip(), remote.parse::<std::net::IpAddr>().unwrap());
        }
    }
    assert!(run.output(1).is_empty() && run.output(2).is_empty());
}

const UNRESOLVED_CONFIG: &str = r#"
[underlay]
port = "net_pcap0"
addresses = ["10.0.0.1/24"]

[[access]]
port = "net_pcap1"
untagged_vni = 5000

[[access]]
port = "net_pcap2"

[[vni]]
id = 5000
vlan = 100
flood = ["10.0.0.2", "10.0.0.3"]

[[fdb]]
vni = 5000
mac = "02:00:00:00:02:01"
remote = "10.0.0.2"
"#;

#[test]
fn traffic_to_unresolved_vteps_is_dropped_while_their_macs_are_asked_for() {
    let _slot = serial();
    let s = Scratch::new();
    let expect = scenario("unresolved", s.dir.path());
    let run = run_gateway(&s, UNRESOLVED_CONFIG, 3);

    // Nobody answers: the unicast frames and both tunnel copies of the broadcast wait for the
    // VTEPs' MACs; the access copy of the broadcast goes out.
    run.assert_drops(&expected_drops(&expect));
    assert!(run.drop_count("neighbor_unresolved") > 0);
    assert_eq!(run.output(2), read_pcap(&s.path("expect-access2.pcap")));
    assert_eq!(run.replicas(), 2, "three flood targets: two replicas");

    // Meanwhile the gateway asks: ARP who-has 10.0.0.2 / 10.0.0.3 tell 10.0.0.1, broadcast
    // from the port's MAC.
    let out = run.output(0);
    assert!(run.generated() >= 2, "ARP requests were generated");
    assert_eq!(
        out.len() as u64,
        run.generated(),
        "only generated packets went out"
    );
    let ours = run.port_mac(0);
    let vtep: std::net::Ipv4Addr = VTEP4.parse().unwrap();
    let mut asked = std::collections::BTreeSet::new();
    for f in &out {
        let (eth, arp) = Ethernet2Header::from_slice(f).unwrap();
        assert_eq!(eth.ether_type, EtherType::ARP);
        assert_eq!(eth.destination, mac("ff:ff:ff:ff:ff:ff"));
        assert_eq!(eth.source, ours);
        assert_eq!(
            &arp[..8],
            &[0, 1, 8, 0, 6, 4, 0, 1],
            "Ethernet/IPv4 ARP request"
        );
        assert_eq!(&arp[8..14], &ours, "sender MAC");
        assert_eq!(&arp[14..18], &vtep.octets(), "sender IP");
        asked.insert(arp[24..28].to_vec());
    }
    assert_eq!(
        asked,
        [vec![10, 0, 0, 2], vec![10, 0, 0, 3]].into_iter().collect(),
        "both remote VTEPs asked for"
    );
}

/// The underlay 1600, port 1 2000 (native VNI 5000, L1), port 2 1400 (VNI 5000 tagged, L2).
const PORT_MTU_CONFIG: &str = r#"
[underlay]
port = "net_pcap0"
addresses = ["10.0.0.1/24"]
next_hop_mac = "02:00:00:00:00:fe"
mtu = 1600

[[access]]
port = "net_pcap1"
untagged_vni = 5000
mtu = 2000

[[access]]
port = "net_pcap2"
mtu = 1400

[[vni]]
id = 5000
vlan = 100

[[fdb]]
vni = 5000
mac = "02:00:00:00:03:01"
port = "net_pcap1"

[[fdb]]
vni = 5000
mac = "02:00:00:00:03:02"
port = "net_pcap2"
"#;

/// Virtual devices deliver frames of any length the buffers hold: one longer than its port's
/// MTU (plus Ethernet header and tag) is refused on receipt, and one larger than the MTU of
/// the access port it would leave on is not sent there — unicast, bridged or a flood copy.
#[test]
fn frames_over_a_ports_mtu_are_counted_and_not_sent() {
    let _slot = serial();
    let s = Scratch::new();
    let expect = scenario("port_mtu", s.dir.path());
    let run = run_gateway(&s, PORT_MTU_CONFIG, 3);

    run.assert_drops(&expected_drops(&expect));
    // Each port's frames in the order they arrived on theirs; the ports are polled in turn.
    for port in [1, 2] {
        let mut got = run.output(port);
        let mut want = read_pcap(&s.path(&format!("expect-access{port}.pcap")));
        got.sort();
        want.sort();
        assert_eq!(got, want, "port {port}");
    }
    assert!(run.output(0).is_empty(), "nothing for the underlay");
    assert_eq!(
        run.vni(5000, "decap_packets"),
        expect["decap_packets"].as_u64().unwrap(),
        "a packet not sent is not counted as decapsulated"
    );
    assert_eq!(run.replicas(), expect["replicas"].as_u64().unwrap());
}
