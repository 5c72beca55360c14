//! Flooding through the real binary: broadcast, multicast and unknown-unicast frames from an
//! access port are replicated once per flood VTEP (head-end replication) or once to the
//! VNI's underlay multicast group, and once to every other access port of the VNI.

mod common;

use std::collections::BTreeSet;
use std::net::IpAddr;

use common::traffic::{
    distinct, ip, mac, run_gateway, scenario, tshark_fields, Encapsulated, OuterIp, TunnelHeader,
    NEXT_HOP_MAC, VTEP4, VTEP6,
};
use common::{read_pcap, serial, Scratch};
use etherparse::{Ethernet2Header, Ipv4Header};

const CONFIG: &str = r#"
[underlay]
port = "net_pcap0"
addresses = ["10.0.0.1/24", "fd00::1/64"]
next_hop_mac = "02:00:00:00:00:fe"

[[access]]
port = "net_pcap1"
untagged_vni = 5000

[[access]]
port = "net_pcap2"

[[vni]]
id = 5000
vlan = 100
flood = ["10.0.0.2", "10.0.0.3", "10.0.0.4"]

[[vni]]
id = 6000
vlan = 200
multicast_group = "239.1.1.1"

[[vni]]
id = 5200
vlan = 300
flood = ["fd00::2", "fd00::3"]

[[vni]]
id = 7000
vlan = 400
encap = "nvgre"
flood = ["10.0.0.5", "fd00::5"]
"#;

#[test]
fn bum_frames_are_replicated_to_every_vtep_group_and_access_port() {
    let _slot = serial();
    let s = Scratch::new();
    let expect = scenario("flood", s.dir.path());
    let frames = expect["frames"].as_array().unwrap();
    let inners = read_pcap(&s.path("expect-inner.pcap"));
    let run = run_gateway(&s, CONFIG, 3);

    // Access side: one copy on port 2, tagged with the VNI's VLAN; none back to port 1.
    assert!(
        run.output(1).is_empty(),
        "nothing back out of the ingress port"
    );
    assert_eq!(
        run.output(2),
        read_pcap(&s.path("expect-access2.pcap")),
        "copies on access port 2"
    );

    // Underlay: the tunnel copies of each frame, in frame order.
    let underlay = run.output(0);
    let copies: Vec<Encapsulated> = underlay
        .iter()
        .filter_map(|f| Encapsulated::parse(f))
        .collect();
    let port_mac = run.port_mac(0);
    let mut at = 0;
    let mut replicas = 0;
    for (i, f) in frames.iter().enumerate() {
        let remotes: BTreeSet<IpAddr> = f["remotes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| ip(r.as_str().unwrap()))
            .collect();
        let vni = f["vni"].as_u64().unwrap() as u32;
        let chunk = copies
            .get(at..at + remotes.len())
            .unwrap_or_else(|| panic!("frame {i}: missing copies"));
        at += remotes.len();
        // access port 2 + the tunnels, minus the original.
        replicas += remotes.len() as u64;
        assert_eq!(
            distinct(chunk.iter().map(Encapsulated::dst_ip)),
            remotes,
            "frame {i}: exactly one copy per flood destination"
        );
        assert_eq!(
            distinct(chunk.iter().map(Encapsulated::entropy)).len(),
            1,
            "frame {i}: copies of one frame carry one entropy"
        );
        for p in chunk {
            let ctx = format!("frame {i} copy to {}", p.dst_ip());
            assert_eq!(p.inner, inners[i], "{ctx}: inner frame");
            assert_eq!(p.vni(), vni, "{ctx}: VNI");
            assert_eq!(p.eth.source, port_mac, "{ctx}: outer source MAC");
            assert_eq!(p.ttl(), 64, "{ctx}: TTL");
            let group = matches!(p.dst_ip(), IpAddr::V4(a) if a.is_multicast());
            let dst_mac = if group {
                // RFC 1112: 01:00:5e + the group's low 23 bits.
                mac("01:00:5e:01:01:01")
            } else {
                mac(NEXT_HOP_MAC)
            };
            assert_eq!(p.eth.destination, dst_mac, "{ctx}: outer destination MAC");
            match &p.ip {
                OuterIp::V4(_) => {
                    assert_eq!(p.src_ip(), ip(VTEP4), "{ctx}");
                    p.assert_ipv4_header_valid();
                }
                OuterIp::V6(_) => {
                    assert_eq!(p.src_ip(), ip(VTEP6), "{ctx}");
                    assert_eq!(p.ip_len(), p.frame_len - 14, "{ctx}: IPv6 payload length");
                }
            }
            match &p.tunnel {
                TunnelHeader::Vxlan { udp, vxlan } => {
                    assert_eq!(f["encap"], "vxlan", "{ctx}");
                    assert_eq!(udp.destination_port, 4789, "{ctx}");
                    assert!(udp.source_port >= 49152, "{ctx}: source port");
                    assert_eq!(usize::from(udp.length), p.ip_payload.len(), "{ctx}");
                    let v = vni.to_be_bytes();
                    assert_eq!(vxlan, &[8, 0, 0, 0, v[1], v[2], v[3], 0], "{ctx}");
                    if matches!(p.ip, OuterIp::V6(_)) {
                        // Copies share the inner frame: the software checksum must cover it.
                        p.assert_udp6_checksum_valid();
                    } else {
                        assert_eq!(udp.checksum, 0, "{ctx}");
                    }
                }
                TunnelHeader::Nvgre { gre } => {
                    assert_eq!(f["encap"], "nvgre", "{ctx}");
                    assert_eq!(&gre[..4], &[0x20, 0, 0x65, 0x58], "{ctx}: NVGRE header");
                }
            }
        }
        let vni_id = u64::from(vni);
        let per_frame = remotes.len() as u64 + 1;
        let n = frames.iter().filter(|g| g["vni"] == f["vni"]).count() as u64;
        assert_eq!(
            run.vni(vni_id, "flood_copies"),
            per_frame * n,
            "VNI {vni} flood_copies"
        );
        assert_eq!(
            run.vni(vni_id, "encap_packets"),
            remotes.len() as u64 * n,
            "VNI {vni} encap_packets"
        );
    }
    assert_eq!(at, copies.len(), "no other tunnel packets");
    assert_eq!(
        run.replicas(),
        replicas,
        "replicas: copies beyond the original"
    );
    assert_eq!(run.report["totals"]["dropped"], 0);

    // Whatever else the underlay sent was generated by vtepd: IGMPv3 membership reports for
    // the group (RFC 3376, to 224.0.0.22).
    let others: Vec<&Vec<u8>> = underlay
        .iter()
        .filter(|f| Encapsulated::parse(f).is_none())
        .collect();
    assert_eq!(others.len() as u64, run.generated(), "generated packets");
    for f in others {
        let (eth, rest) = Ethernet2Header::from_slice(f).unwrap();
        assert_eq!(eth.source, port_mac);
        let (h, _) = Ipv4Header::from_slice(rest).expect("an IGMP report");
        assert_eq!(h.protocol.0, 2, "IGMP");
        assert_eq!(h.destination, [224, 0, 0, 22]);
    }

    // Wireshark verifies every IPv6 UDP checksum, the copies' included.
    let rows = tshark_fields(
        &run.output_path(0),
        &[],
        &["eth.type", "udp.checksum.status"],
    );
    // The first occurrence of each field is the outer header's.
    let v6: Vec<&Vec<String>> = rows.iter().filter(|r| r[0].starts_with("0x86dd")).collect();
    assert_eq!(
        v6.len(),
        3,
        "IPv6 copies: 2 of VNI 5200, 1 of VSID 7000: {rows:?}"
    );
    for r in v6 {
        assert!(
            r[1].is_empty() || r[1].starts_with('1'),
            "UDP checksum {r:?}"
        );
    }
}
