//! Encapsulation through the real binary: access frames (crafted by scapy) to stations behind
//! remote VTEPs, the VXLAN/NVGRE packets on the underlay taken apart field by field
//! (etherparse, and tshark's dissectors as a second opinion), and TCP segmentation to the
//! underlay MTU.

mod common;

use std::collections::BTreeMap;
use std::net::IpAddr;

use common::traffic::{
    distinct, ip, mac, run_gateway, scenario, tshark_fields, Encapsulated, GatewayRun, OuterIp,
    TunnelHeader, NEXT_HOP_MAC, VTEP4, VTEP6,
};
use common::{read_pcap, serial, Scratch};
use etherparse::{Ethernet2Header, Ipv4Header, TcpHeader};

/// Underlay on net_pcap0, one access port with native VNI 5000; VNI 5100 on VLAN 100. M1
/// (VNI 5000) sits behind `remotes[0]`, M2 (VNI 5100) behind `remotes[1]`.
fn config(addresses: &str, underlay_extra: &str, encaps: [&str; 2], remotes: [&str; 2]) -> String {
    format!(
        r#"
[underlay]
port = "net_pcap0"
addresses = [{addresses}]
next_hop_mac = "{NEXT_HOP_MAC}"
{underlay_extra}

[[access]]
port = "net_pcap1"
untagged_vni = 5000

[[vni]]
id = 5000
encap = "{e0}"

[[vni]]
id = 5100
vlan = 100
encap = "{e1}"

[[fdb]]
vni = 5000
mac = "02:00:00:00:02:01"
remote = "{r0}"

[[fdb]]
vni = 5100
mac = "02:00:00:00:02:02"
remote = "{r1}"
"#,
        e0 = encaps[0],
        e1 = encaps[1],
        r0 = remotes[0],
        r1 = remotes[1],
    )
}

/// What the outer headers must say for one configuration.
struct Expected {
    local: IpAddr,
    remotes: [IpAddr; 2],
    ttl: u8,
    /// None: inherit the inner DSCP.
    dscp: Option<u8>,
    vxlan_port: u16,
    source_ports: (u16, u16),
    /// Fewest distinct entropy values (UDP source ports, NVGRE FlowIDs) 32 flows must get.
    spread: usize,
}

/// Runs the `encap` scenario with `config` and checks every packet on the underlay against
/// the scenario's frames and `e`. Returns the run for further checks.
fn encapsulate(config: &str, e: &Expected) -> (GatewayRun, Scratch) {
    let s = Scratch::new();
    let expect = scenario("encap", s.dir.path());
    let meta = expect["frames"].as_array().unwrap();
    let inners = read_pcap(&s.path("expect-inner.pcap"));
    let run = run_gateway(&s, config, 2);
    let out = run.output(0);
    assert_eq!(out.len(), meta.len(), "one tunnel packet per access frame");
    assert_eq!(run.report["totals"]["dropped"], 0);
    assert!(
        run.output(1).is_empty(),
        "nothing back out of the access port"
    );

    let port_mac = run.port_mac(0);
    let mut entropy_by_flow: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    let mut flow_label_by_flow: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    let mut bytes_by_vni: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
    for (i, (frame, m)) in out.iter().zip(meta).enumerate() {
        let p = Encapsulated::of(frame);
        let vni = m["vni"].as_u64().unwrap() as u32;
        let remote = e.remotes[m["remote"].as_u64().unwrap() as usize];
        let inner_tos = m["tos"].as_u64().unwrap() as u8;
        let flow = m["flow"].as_str().unwrap().to_owned();
        let ctx = format!("packet {i} ({m})");

        assert_eq!(p.eth.destination, mac(NEXT_HOP_MAC), "{ctx}: outer dst MAC");
        assert_eq!(p.eth.source, port_mac, "{ctx}: outer src MAC");
        assert_eq!(p.src_ip(), e.local, "{ctx}: outer source");
        assert_eq!(p.dst_ip(), remote, "{ctx}: outer destination");
        assert_eq!(p.ttl(), e.ttl, "{ctx}: TTL / hop limit");
        let tos = match e.dscp {
            None => inner_tos,
            // RFC 6040: ECN is copied even when the DSCP is fixed.
            Some(d) => d << 2 | (inner_tos & 3),
        };
        assert_eq!(p.tos(), tos, "{ctx}: outer DSCP/ECN");
        assert_eq!(p.vni(), vni, "{ctx}: VNI");
        assert_eq!(
            p.inner, inners[i],
            "{ctx}: inner frame (802.1Q tag removed)"
        );
        match &p.ip {
            OuterIp::V4(h) => {
                p.assert_ipv4_header_valid();
                let proto = if p.is_vxlan() { 17 } else { 47 };
                assert_eq!(h.protocol.0, proto, "{ctx}: IP protocol");
            }
            OuterIp::V6(h) => {
                assert_eq!(
                    usize::from(h.payload_length),
                    frame.len() - 54,
                    "{ctx}: payload length"
                );
                let next = if p.is_vxlan() { 17 } else { 47 };
                assert_eq!(h.next_header.0, next, "{ctx}: next header");
                flow_label_by_flow
                    .entry(flow.clone())
                    .or_default()
                    .push(h.flow_label.value());
            }
        }
        match &p.tunnel {
            TunnelHeader::Vxlan { udp, vxlan } => {
                assert_eq!(udp.destination_port, e.vxlan_port, "{ctx}: UDP dst port");
                assert!(
                    (e.source_ports.0..=e.source_ports.1).contains(&udp.source_port),
                    "{ctx}: UDP source port {} outside {:?}",
                    udp.source_port,
                    e.source_ports
                );
                assert_eq!(
                    usize::from(udp.length),
                    p.ip_payload.len(),
                    "{ctx}: UDP length"
                );
                if matches!(p.ip, OuterIp::V4(_)) {
                    assert_eq!(udp.checksum, 0, "{ctx}: UDP checksum over IPv4");
                } else {
                    p.assert_udp6_checksum_valid();
                }
                let v = vni.to_be_bytes();
                assert_eq!(
                    vxlan,
                    &[0x08, 0, 0, 0, v[1], v[2], v[3], 0],
                    "{ctx}: VXLAN header (I flag, VNI, reserved zero)"
                );
            }
            TunnelHeader::Nvgre { gre } => {
                assert_eq!(
                    &gre[..2],
                    &[0x20, 0x00],
                    "{ctx}: GRE flags: K only, version 0"
                );
                assert_eq!(&gre[2..4], &[0x65, 0x58], "{ctx}: GRE protocol");
                let key = u32::from_be_bytes([gre[4], gre[5], gre[6], gre[7]]);
                assert_eq!(key >> 8, vni, "{ctx}: GRE key = VSID << 8 | FlowID");
                assert_eq!(p.ip_payload.len(), 8 + p.inner.len(), "{ctx}: GRE payload");
            }
        }
        entropy_by_flow.entry(flow).or_default().push(p.entropy());
        let c = bytes_by_vni.entry(vni).or_default();
        c.0 += 1;
        c.1 += frame.len() as u64;
    }
    for (flow, values) in entropy_by_flow.iter().chain(&flow_label_by_flow) {
        assert_eq!(
            distinct(values.iter().copied()).len(),
            1,
            "flow {flow}: every packet carries the same entropy: {values:?}"
        );
    }
    let per_flow: Vec<u32> = (0..32)
        .map(|i| entropy_by_flow[&format!("f{i}")][0])
        .collect();
    assert!(
        distinct(per_flow.iter().copied()).len() >= e.spread,
        "32 flows spread over at least {} entropy values: {per_flow:?}",
        e.spread
    );
    for (vni, (packets, bytes)) in bytes_by_vni {
        assert_eq!(
            run.vni(u64::from(vni), "encap_packets"),
            packets,
            "VNI {vni} encap_packets"
        );
        assert_eq!(
            run.vni(u64::from(vni), "encap_bytes"),
            bytes,
            "VNI {vni} encap_bytes"
        );
    }
    assert_eq!(run.port_counter(0, "tx_packets"), meta.len() as u64);
    (run, s)
}

fn v4(remotes: [&str; 2]) -> [IpAddr; 2] {
    [ip(remotes[0]), ip(remotes[1])]
}

#[test]
fn vxlan_over_ipv4_with_defaults() {
    let _slot = serial();
    let remotes = ["10.0.0.2", "10.0.0.3"];
    let cfg = config(r#""10.0.0.1/24""#, "", ["vxlan", "vxlan"], remotes);
    let (run, _s) = encapsulate(
        &cfg,
        &Expected {
            local: ip(VTEP4),
            remotes: v4(remotes),
            ttl: 64,
            dscp: None,
            vxlan_port: 4789,
            source_ports: (49152, 65535),
            spread: 16,
        },
    );
    // Wireshark agrees: valid outer and inner IPv4 checksums, UDP checksum absent, the VNIs.
    let rows = tshark_fields(
        &run.output_path(0),
        &[],
        &[
            "ip.checksum.status",
            "udp.checksum.status",
            "vxlan.vni",
            "vxlan.flags",
        ],
    );
    assert_eq!(rows.len(), run.output(0).len());
    for (i, r) in rows.iter().enumerate() {
        assert!(
            r[0].starts_with('1'),
            "packet {i}: outer IPv4 checksum: {r:?}"
        );
        assert!(
            r[1].starts_with('3'),
            "packet {i}: outer UDP checksum absent: {r:?}"
        );
        assert!(r[2] == "5000" || r[2] == "5100", "packet {i}: VNI {r:?}");
        assert_eq!(r[3], "0x0800", "packet {i}: VXLAN flags");
    }
}

#[test]
fn vxlan_over_ipv4_with_custom_ttl_dscp_port_and_source_ports() {
    let _slot = serial();
    let remotes = ["10.0.0.2", "192.168.77.7"];
    let cfg = config(
        r#""10.0.0.1/24""#,
        "ttl = 9\ndscp = 46\nvxlan_port = 8472\nsource_port_range = [10000, 10009]",
        ["vxlan", "vxlan"],
        remotes,
    );
    let (run, _s) = encapsulate(
        &cfg,
        &Expected {
            local: ip(VTEP4),
            remotes: v4(remotes),
            ttl: 9,
            dscp: Some(46),
            vxlan_port: 8472,
            source_ports: (10000, 10009),
            spread: 5,
        },
    );
    let rows = tshark_fields(
        &run.output_path(0),
        &["udp.port==8472,vxlan"],
        &["ip.dsfield.dscp", "ip.ttl", "vxlan.vni"],
    );
    for (i, r) in rows.iter().enumerate() {
        assert!(r[0].starts_with("46"), "packet {i}: outer DSCP {r:?}");
        assert!(r[1].starts_with("9"), "packet {i}: outer TTL {r:?}");
        assert!(
            !r[2].is_empty(),
            "packet {i}: tshark decodes VXLAN on 8472: {r:?}"
        );
    }
}

#[test]
fn nvgre_over_ipv4() {
    let _slot = serial();
    let remotes = ["10.0.0.2", "10.0.0.3"];
    let cfg = config(r#""10.0.0.1/24""#, "ttl = 200", ["nvgre", "nvgre"], remotes);
    let (run, _s) = encapsulate(
        &cfg,
        &Expected {
            local: ip(VTEP4),
            remotes: v4(remotes),
            ttl: 200,
            dscp: None,
            vxlan_port: 4789,
            source_ports: (49152, 65535),
            // 8-bit FlowIDs.
            spread: 16,
        },
    );
    let rows = tshark_fields(
        &run.output_path(0),
        &[],
        &["ip.proto", "gre.flags_and_version", "gre.proto", "gre.key"],
    );
    for (i, r) in rows.iter().enumerate() {
        assert!(r[0].starts_with("47"), "packet {i}: {r:?}");
        assert_eq!(r[1], "0x2000", "packet {i}: GRE flags {r:?}");
        assert_eq!(r[2], "0x6558", "packet {i}: GRE protocol {r:?}");
        let key = u32::from_str_radix(r[3].trim_start_matches("0x"), 16).unwrap();
        assert!(
            key >> 8 == 5000 || key >> 8 == 5100,
            "packet {i}: VSID {r:?}"
        );
    }
}

#[test]
fn vxlan_and_nvgre_over_ipv6() {
    let _slot = serial();
    let remotes = ["fd00::2", "fd00::3"];
    let cfg = config(
        r#""10.0.0.1/24", "fd00::1/64""#,
        "ttl = 33",
        ["vxlan", "nvgre"],
        remotes,
    );
    let (run, _s) = encapsulate(
        &cfg,
        &Expected {
            local: ip(VTEP6),
            remotes: [ip(remotes[0]), ip(remotes[1])],
            ttl: 33,
            dscp: None,
            vxlan_port: 4789,
            source_ports: (49152, 65535),
            spread: 16,
        },
    );
    // net_pcap has no checksum offload: the software UDP checksum must verify for Wireshark.
    let rows = tshark_fields(
        &run.output_path(0),
        &[],
        &["ipv6.hlim", "udp.checksum.status", "vxlan.vni", "gre.key"],
    );
    let mut vxlan = 0;
    for (i, r) in rows.iter().enumerate() {
        assert!(r[0].starts_with("33"), "packet {i}: hop limit {r:?}");
        if r[2] == "5000" {
            vxlan += 1;
            assert!(
                r[1].starts_with('1'),
                "packet {i}: UDP checksum good: {r:?}"
            );
        } else {
            assert!(
                r[3].starts_with("0x0013ec"),
                "packet {i}: NVGRE VSID 5100 {r:?}"
            );
        }
    }
    assert_eq!(vxlan, 37, "VXLAN packets (VNI 5000)");
}

#[test]
fn priority_tagged_frames_belong_to_the_native_vni() {
    let _slot = serial();
    let s = Scratch::new();
    scenario("priority_tagged", s.dir.path());
    let cfg = config(
        r#""10.0.0.1/24""#,
        "",
        ["vxlan", "vxlan"],
        ["10.0.0.2", "10.0.0.3"],
    );
    let run = run_gateway(&s, &cfg, 2);
    assert_eq!(
        run.report["totals"]["dropped"], 0,
        "{:#}",
        run.report["drops"]
    );
    let out = run.output(0);
    assert_eq!(out.len(), 1);
    let p = Encapsulated::of(&out[0]);
    assert_eq!((p.vni(), p.dst_ip()), (5000, ip("10.0.0.2")));
    assert_eq!(p.inner, read_pcap(&s.path("expect-inner.pcap"))[0]);
}

/// `[qos]` both ways: the access tag's PCP to the outer DSCP (an explicit list), the outer
/// DSCP to the PCP of the tag pushed on decapsulation (class selector with EF as an
/// exception); checked byte for byte and by tshark's 802.1Q and IP dissectors.
#[test]
fn pcp_and_outer_dscp_map_both_ways() {
    let _slot = serial();
    let s = Scratch::new();
    let expect = scenario("priority_map", s.dir.path());
    let mut cfg = config(
        r#""10.0.0.1/24""#,
        "",
        ["vxlan", "vxlan"],
        ["10.0.0.2", "10.0.0.3"],
    );
    cfg.push_str(
        r#"
[[fdb]]
vni = 5000
mac = "02:00:00:00:03:01"
port = "net_pcap1"

[[fdb]]
vni = 5100
mac = "02:00:00:00:03:02"
port = "net_pcap1"

[qos]
pcp_to_dscp = [0, 10, 18, 26, 34, 46, 48, 56]
dscp_to_pcp = { 46 = 6 }
"#,
    );
    let run = run_gateway(&s, &cfg, 2);
    assert_eq!(
        run.report["totals"]["dropped"], 0,
        "{:#}",
        run.report["drops"]
    );
    let want_tos: Vec<u8> = expect["outer_tos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_u64().unwrap() as u8)
        .collect();
    let tos: Vec<u8> = run
        .output(0)
        .iter()
        .map(|f| Encapsulated::of(f).tos())
        .collect();
    assert_eq!(tos, want_tos, "outer TOS of each tunnel packet");
    let dscp: Vec<String> = tshark_fields(&run.output_path(0), &[], &["ip.dsfield.dscp"])
        .into_iter()
        .map(|r| r[0].split(',').next().unwrap_or_default().to_owned())
        .collect();
    let want_dscp: Vec<String> = want_tos.iter().map(|t| (t >> 2).to_string()).collect();
    assert_eq!(dscp, want_dscp, "tshark: outer DSCP");

    assert_eq!(
        run.output(1),
        read_pcap(&s.path("expect-access1.pcap")),
        "decapsulated frames, tagged with the PCP their outer DSCP maps to"
    );
    let pcp: Vec<String> = tshark_fields(&run.output_path(1), &[], &["vlan.priority"])
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    assert_eq!(pcp, ["6", "3", "0", ""], "tshark: 802.1Q priority");
}

// --- MTU and segmentation -------------------------------------------------------------------

const MTU_CONFIG: &str = r#"
[underlay]
port = "net_pcap0"
addresses = ["10.0.0.1/24", "fd00::1/64"]
next_hop_mac = "02:00:00:00:00:fe"

[[access]]
port = "net_pcap1"
untagged_vni = 5000
mtu = 3000

[[vni]]
id = 5000

[[vni]]
id = 5100
vlan = 100
encap = "nvgre"

[[vni]]
id = 5200
vlan = 200

[[fdb]]
vni = 5000
mac = "02:00:00:00:02:01"
remote = "10.0.0.2"

[[fdb]]
vni = 5100
mac = "02:00:00:00:02:02"
remote = "10.0.0.3"

[[fdb]]
vni = 5200
mac = "02:00:00:00:02:03"
remote = "fd00::2"
"#;

/// The TCP segment inside a tunnel packet, with its inner IPv4 header.
fn inner_tcp(inner: &[u8]) -> (Ipv4Header, TcpHeader, Vec<u8>) {
    let (eth, rest) = Ethernet2Header::from_slice(inner).unwrap();
    assert_eq!(eth.ether_type, etherparse::EtherType::IPV4);
    let (ip, _) = Ipv4Header::from_slice(rest).unwrap();
    let l4 = &rest[ip.header_len()..usize::from(ip.total_len)];
    assert_eq!(
        usize::from(ip.total_len),
        rest.len(),
        "inner IPv4 total length matches the segment"
    );
    let (tcp, payload) = TcpHeader::from_slice(l4).unwrap();
    (ip, tcp, payload.to_vec())
}

#[test]
fn oversize_tcp_is_segmented_to_the_mtu_and_the_rest_dropped() {
    let _slot = serial();
    let s = Scratch::new();
    let expect = scenario("mtu", s.dir.path());
    let meta = expect["frames"].as_array().unwrap();
    let inners = read_pcap(&s.path("expect-inner.pcap"));
    let run = run_gateway(&s, MTU_CONFIG, 2);
    let out = run.output(0);
    let mut next = 0;
    let mut segments_beyond_first = 0;
    let mut expected_drops: BTreeMap<String, u64> = BTreeMap::new();
    let mut too_big = Vec::new();
    for (i, m) in meta.iter().enumerate() {
        let original = &inners[i];
        match m["action"].as_str().unwrap() {
            "too_big" => too_big.push((i, m.clone())),
            "drop" => {
                *expected_drops
                    .entry(m["reason"].as_str().unwrap().to_owned())
                    .or_default() += 1;
            }
            "whole" => {
                let p = Encapsulated::of(&out[next]);
                next += 1;
                assert!(p.ip_len() <= 1500, "frame {i}: within the MTU");
                assert_eq!(&p.inner, original, "frame {i}: sent whole");
                assert_eq!(p.dst_ip(), ip(m["remote"].as_str().unwrap()));
                if let Some(len) = m["ip_len"].as_u64() {
                    assert_eq!(p.ip_len() as u64, len, "frame {i}: outer IP length");
                }
            }
            "segment" => {
                let (orig_ip, orig_tcp, orig_payload) = inner_tcp(original);
                let mut payload = Vec::new();
                let mut seq = orig_tcp.sequence_number;
                let mut count = 0;
                let mut entropy = Vec::new();
                while payload.len() < orig_payload.len() {
                    let frame = out.get(next).unwrap_or_else(|| {
                        panic!("frame {i}: missing segments after {} bytes", payload.len())
                    });
                    next += 1;
                    count += 1;
                    let p = Encapsulated::of(frame);
                    let ctx = format!("frame {i} segment {count}");
                    assert!(
                        p.ip_len() <= 1500,
                        "{ctx}: outer IP length {} > MTU",
                        p.ip_len()
                    );
                    p.assert_ipv4_header_valid();
                    assert_eq!(p.dst_ip(), ip(m["remote"].as_str().unwrap()), "{ctx}");
                    assert_eq!(p.vni(), m["vni"].as_u64().unwrap() as u32, "{ctx}: VNI");
                    assert_eq!(p.is_vxlan(), m["encap"] == "vxlan", "{ctx}: encapsulation");
                    if p.is_vxlan() {
                        assert_eq!(usize::from(p.udp().length), p.ip_payload.len(), "{ctx}");
                    }
                    entropy.push(p.entropy());
                    // The inner Ethernet header is the original's.
                    assert_eq!(&p.inner[..14], &original[..14], "{ctx}: inner Ethernet");
                    let (ip4, tcp, data) = inner_tcp(&p.inner);
                    assert_eq!(
                        ip4.header_checksum,
                        ip4.calc_header_checksum(),
                        "{ctx}: inner IPv4 checksum"
                    );
                    assert_eq!(
                        (ip4.source, ip4.destination),
                        (orig_ip.source, orig_ip.destination)
                    );
                    assert_eq!(
                        tcp.checksum,
                        tcp.calc_checksum_ipv4(&ip4, &data).unwrap(),
                        "{ctx}: TCP checksum"
                    );
                    assert_eq!(
                        tcp.sequence_number, seq,
                        "{ctx}: contiguous sequence numbers"
                    );
                    assert_eq!(tcp.acknowledgment_number, orig_tcp.acknowledgment_number);
                    assert_eq!(
                        (tcp.source_port, tcp.destination_port),
                        (orig_tcp.source_port, orig_tcp.destination_port)
                    );
                    assert!(tcp.ack, "{ctx}: ACK kept");
                    let last = payload.len() + data.len() >= orig_payload.len();
                    assert_eq!(tcp.psh, last, "{ctx}: PSH only on the last segment");
                    assert!(!data.is_empty(), "{ctx}: empty segment");
                    seq = seq.wrapping_add(data.len() as u32);
                    payload.extend_from_slice(&data);
                }
                assert_eq!(payload, orig_payload, "frame {i}: payload reassembles");
                assert!(count >= 2, "frame {i}: segmented");
                assert_eq!(
                    distinct(entropy).len(),
                    1,
                    "frame {i}: one flow, one entropy"
                );
                segments_beyond_first += count - 1;
            }
            other => panic!("unknown action {other}"),
        }
    }
    assert_eq!(next, out.len(), "no unexpected packets on the underlay");
    run.assert_drops(&expected_drops);
    // The ICMP errors, back on the access port in order, each from the destination.
    let back = run.output(1);
    assert_eq!(
        back.len(),
        too_big.len(),
        "one ICMP error per frame too big"
    );
    for (reply, (i, m)) in back.iter().zip(&too_big) {
        let ctx = format!("frame {i}'s ICMP error");
        let sliced = etherparse::SlicedPacket::from_ethernet(reply).unwrap();
        let vlan = (reply[12..14] == [0x81, 0x00])
            .then(|| u64::from(u16::from_be_bytes([reply[14], reply[15]]) & 0x0fff));
        assert_eq!(vlan, m["vlan"].as_u64(), "{ctx}: the VNI's tag");
        let original = &inners[*i];
        assert_eq!(&reply[..6], &original[6..12], "{ctx}: to the sender's MAC");
        let mtu = m["mtu"].as_u64().unwrap();
        match sliced.net {
            Some(etherparse::NetSlice::Ipv4(_)) => {
                let icmp = sliced.transport.as_ref().unwrap();
                let etherparse::TransportSlice::Icmpv4(icmp) = icmp else {
                    panic!("{ctx}: {icmp:?}")
                };
                assert_eq!(
                    icmp.icmp_type(),
                    etherparse::Icmpv4Type::DestinationUnreachable(
                        etherparse::icmpv4::DestUnreachableHeader::FragmentationNeeded {
                            next_hop_mtu: mtu as u16
                        }
                    ),
                    "{ctx}"
                );
            }
            Some(etherparse::NetSlice::Ipv6(_)) => {
                let icmp = sliced.transport.as_ref().unwrap();
                let etherparse::TransportSlice::Icmpv6(icmp) = icmp else {
                    panic!("{ctx}: {icmp:?}")
                };
                assert_eq!(
                    icmp.icmp_type(),
                    etherparse::Icmpv6Type::PacketTooBig { mtu: mtu as u32 },
                    "{ctx}"
                );
            }
            other => panic!("{ctx}: {other:?}"),
        }
    }
    let gw = &run.report["gateway"];
    assert_eq!(gw["local"]["too_big"], too_big.len() as u64, "{gw:#}");
    assert_eq!(
        run.replicas(),
        segments_beyond_first,
        "GSO segments counted as replicas"
    );
    // Wireshark: every outer IPv4, inner IPv4 and inner TCP checksum verifies.
    for (i, r) in tshark_fields(
        &run.output_path(0),
        &["udp.port==4789,vxlan"],
        &["ip.checksum.status", "tcp.checksum.status"],
    )
    .iter()
    .enumerate()
    {
        assert!(
            r[0].split(',').all(|v| v == "1"),
            "packet {i}: IPv4 checksums {r:?}"
        );
        assert!(
            r[1].is_empty() || r[1] == "1",
            "packet {i}: TCP checksum {r:?}"
        );
    }
}
