//! The routing stage: two tenant VRFs with the same prefixes, an anycast gateway in each VNI,
//! a static default route, hosts behind access ports and behind a remote VTEP. Every frame
//! is built and read with etherparse.

use super::*;

const ANYCAST: [u8; 6] = [0x02, 0x76, 0x74, 0x70, 0x00, 0x01];
/// A router for red's default route, behind acc1 in VNI 200.
const ROUTER: [u8; 6] = [0x02, 0, 0, 0, 0x0f, 0x0f];

/// Ports: 0 = underlay, 1 = acc1, 2 = acc2 (both carry every VNI tagged).
const ROUTED: &str = r#"
[underlay]
port = "u0"
addresses = ["10.0.0.1/24"]
next_hop_mac = "02:00:00:00:00:fe"

[[access]]
port = "acc1"

[[access]]
port = "acc2"

[[vrf]]
name = "red"
id = 1

[[vrf]]
name = "blue"
id = 2

[[vni]]
id = 100
vlan = 10
flood = ["10.0.0.2"]
vrf = "red"
gateway = ["192.168.10.1/24", "fd10::1/64"]

[[vni]]
id = 200
vlan = 20
flood = ["10.0.0.2"]
vrf = "red"
gateway = ["192.168.20.1/24", "fd20::1/64"]

[[vni]]
id = 300
vlan = 30
vrf = "blue"
gateway = "192.168.10.1/24"

[[vni]]
id = 400
vlan = 40
vrf = "blue"
gateway = "192.168.20.1/24"

[[vni]]
id = 500
vlan = 50

[[route]]
vrf = "red"
prefix = "0.0.0.0/0"
via = "192.168.20.254"

# red: h2 behind acc2, r2 behind VTEP 10.0.0.2, the router behind acc1 (all in VNI 200).
[[fdb]]
vni = 200
mac = "02:00:00:00:01:02"
port = "acc2"

[[arp]]
vni = 200
ip = "192.168.20.5"
mac = "02:00:00:00:01:02"

[[arp]]
vni = 200
ip = "fd20::5"
mac = "02:00:00:00:01:02"

[[fdb]]
vni = 200
mac = "02:00:00:00:02:02"
remote = "10.0.0.2"

[[arp]]
vni = 200
ip = "192.168.20.6"
mac = "02:00:00:00:02:02"

[[fdb]]
vni = 200
mac = "02:00:00:00:0f:0f"
port = "acc1"

[[arp]]
vni = 200
ip = "192.168.20.254"
mac = "02:00:00:00:0f:0f"

# blue: the same address 192.168.20.5 is h3, behind acc2 in VNI 400.
[[fdb]]
vni = 400
mac = "02:00:00:00:01:03"
port = "acc2"

[[arp]]
vni = 400
ip = "192.168.20.5"
mac = "02:00:00:00:01:03"
"#;

fn routed() -> TestGw {
    TestGw::new(ROUTED)
}

/// A UDP/IPv4 frame between two addresses with a TTL, untagged.
fn udp4_between(src_mac: [u8; 6], dst_mac: [u8; 6], src: &str, dst: &str, ttl: u8) -> Vec<u8> {
    let mut out = Vec::new();
    ep::PacketBuilder::ethernet2(src_mac, dst_mac)
        .ipv4(v4(src), v4(dst), ttl)
        .udp(40000, 5201)
        .write(&mut out, &filler(7, 64))
        .unwrap();
    out
}

fn udp6_between(src_mac: [u8; 6], dst_mac: [u8; 6], src: &str, dst: &str, hops: u8) -> Vec<u8> {
    let mut out = Vec::new();
    ep::PacketBuilder::ethernet2(src_mac, dst_mac)
        .ipv6(v6(src), v6(dst), hops)
        .udp(40000, 5201)
        .write(&mut out, &filler(9, 64))
        .unwrap();
    out
}

fn ping4(src_mac: [u8; 6], dst_mac: [u8; 6], src: &str, dst: &str) -> Vec<u8> {
    let mut out = Vec::new();
    ep::PacketBuilder::ethernet2(src_mac, dst_mac)
        .ipv4(v4(src), v4(dst), 64)
        .icmpv4_echo_request(7, 1)
        .write(&mut out, b"abcdefgh")
        .unwrap();
    out
}

/// The (untagged) frame's MACs, and its IPv4 header as etherparse reads it.
fn routed_v4(frame: &[u8]) -> ([u8; 6], [u8; 6], ep::Ipv4Header) {
    let (eth, rest) = ep::Ethernet2Header::from_slice(frame).unwrap();
    let (ip, _) = ep::Ipv4Header::from_slice(rest).unwrap();
    (eth.destination, eth.source, ip)
}

#[test]
fn routes_between_the_vnis_of_a_vrf_to_a_local_port() {
    let mut t = routed();
    let sent = udp4_between(H1, ANYCAST, "192.168.10.5", "192.168.20.5", 64);
    let (v, f) = t.access(&tag(&sent, 10), ACC1);
    assert_eq!(v, Verdict::Forward(ACC2));
    assert_eq!(
        vid_of(f.bytes()),
        Some(20),
        "tagged for the destination VNI"
    );
    let (dst, src, ip) = routed_v4(&untag(f.bytes()));
    assert_eq!((dst, src), (H2, ANYCAST));
    assert_eq!(ip.time_to_live, 63);
    assert_eq!(
        ip.header_checksum,
        ip.calc_header_checksum(),
        "checksum updated"
    );
    assert_eq!(&untag(f.bytes())[34..], &sent[34..], "payload untouched");
    let vrf = t.authority.vrfs()[0].2;
    let c = t.gw.counters().vrf(vrf).unwrap();
    assert_eq!(c.routed_packets.get(), 1);
}

#[test]
fn routes_to_a_host_behind_a_vtep_and_from_one() {
    let mut t = routed();
    let sent = udp4_between(H1, ANYCAST, "192.168.10.5", "192.168.20.6", 64);
    let (v, f) = t.access(&tag(&sent, 10), ACC1);
    assert_eq!(v, Verdict::Forward(0));
    let o = Outer::parse(f.bytes());
    assert_eq!(o.vni(), 200, "encapsulated in the destination VNI");
    assert_eq!(o.dst_ip(), "10.0.0.2".parse::<IpAddr>().unwrap());
    let (dst, src, ip) = routed_v4(&o.inner);
    assert_eq!((dst, src, ip.time_to_live), (R2, ANYCAST, 63));

    // From the VTEP: decapsulated in VNI 200, routed into VNI 100 where h1 is known.
    t.access(
        &tag(
            &udp4_between(H1, BCAST, "192.168.10.5", "192.168.10.9", 64),
            10,
        ),
        ACC1,
    );
    t.gw.tables
        .fdb
        .insert(
            FdbKey::new(t.vni(100), MacAddr(H1)),
            FdbEntry::fixed(Dest::Access(ACC1)),
        )
        .unwrap();
    t.gw.tables.bindings.insert(
        t.vni(100),
        "192.168.10.5".parse().unwrap(),
        crate::tables::binding::Binding {
            mac: MacAddr(H1),
            is_static: false,
        },
    );
    let back = udp4_between(R2, ANYCAST, "192.168.20.6", "192.168.10.5", 9);
    let (v, f) = t.underlay(&vxlan4_packet("10.0.0.2", "10.0.0.1", 0, 200, &back));
    assert_eq!(v, Verdict::Forward(ACC1));
    assert_eq!(vid_of(f.bytes()), Some(10));
    let (dst, src, ip) = routed_v4(&untag(f.bytes()));
    assert_eq!((dst, src, ip.time_to_live), (H1, ANYCAST, 8));
    // Routed out of VNI 200: decapsulated and forwarded there. One that expires is answered
    // (time exceeded), not forwarded, and not counted.
    let expiring = udp4_between(R2, ANYCAST, "192.168.20.6", "192.168.10.5", 1);
    let (v, _) = t.underlay(&vxlan4_packet("10.0.0.2", "10.0.0.1", 0, 200, &expiring));
    assert_ne!(v, Verdict::Forward(ACC1), "{v:?}");
    let c = t.counters(200);
    assert_eq!(
        (c.decap_packets.get(), c.decap_bytes.get()),
        (1, back.len() as u64)
    );
}

#[test]
fn the_default_route_goes_to_the_router() {
    let mut t = routed();
    let sent = udp4_between(H1, ANYCAST, "192.168.10.5", "198.51.100.7", 64);
    let (v, f) = t.access(&tag(&sent, 10), ACC1);
    assert_eq!(
        v,
        Verdict::Forward(ACC1),
        "the router sits behind acc1 in VNI 200"
    );
    assert_eq!(vid_of(f.bytes()), Some(20));
    let (dst, _, ip) = routed_v4(&untag(f.bytes()));
    assert_eq!(dst, ROUTER);
    assert_eq!(
        ip.destination,
        v4("198.51.100.7"),
        "the destination address is kept"
    );
    // Blue has no default route.
    let (v, _) = t.access(&tag(&sent, 30), ACC1);
    assert_eq!(v, Verdict::Drop(DropReason::NoRoute));
}

#[test]
fn vrfs_with_the_same_prefixes_never_meet() {
    let mut t = routed();
    // 192.168.20.5 is h2 in red and h3 in blue.
    let sent = udp4_between(H1, ANYCAST, "192.168.10.5", "192.168.20.5", 64);
    let (v, f) = t.access(&tag(&sent, 30), ACC1);
    assert_eq!(v, Verdict::Forward(ACC2));
    assert_eq!(vid_of(f.bytes()), Some(40), "blue's VNI");
    assert_eq!(routed_v4(&untag(f.bytes())).0, H3);
    let (v, f) = t.access(&tag(&sent, 10), ACC1);
    assert_eq!(v, Verdict::Forward(ACC2));
    assert_eq!(vid_of(f.bytes()), Some(20), "red's VNI");
    assert_eq!(routed_v4(&untag(f.bytes())).0, H2);
}

/// Every (ingress VNI, destination) pair against a model of the two VRFs: a packet leaves
/// in a VNI of its own VRF or not at all, and to the host the model says.
#[test]
fn vrf_isolation_sweep() {
    let vnis = [
        (100u32, 10u16, "red"),
        (200, 20, "red"),
        (300, 30, "blue"),
        (400, 40, "blue"),
    ];
    let vni_vrf = |vid: u16| vnis.iter().find(|v| v.1 == vid).map(|v| v.2);
    let destinations = [
        "192.168.20.5",
        "192.168.20.6",
        "192.168.20.77",
        "192.168.10.77",
        "198.51.100.7",
        "10.0.0.2",
    ];
    for (_, vid, vrf) in vnis {
        for dst in destinations {
            let mut t = routed();
            let sent = udp4_between(H1, ANYCAST, "192.168.10.5", dst, 64);
            let sent = if vid == 10 || vid == 30 {
                sent
            } else {
                udp4_between(H1, ANYCAST, "192.168.20.9", dst, 64)
            };
            let (v, f) = t.access(&tag(&sent, vid), ACC1);
            let model: Option<(&str, [u8; 6])> = match (vrf, dst) {
                ("red", "192.168.20.5") => Some(("red", H2)),
                ("red", "192.168.20.6") => Some(("red", R2)),
                ("red", "198.51.100.7" | "10.0.0.2") => Some(("red", ROUTER)),
                ("blue", "192.168.20.5") => Some(("blue", H3)),
                _ => None,
            };
            match (v, model) {
                (Verdict::Forward(p), Some((want_vrf, mac))) => {
                    let inner = if p == 0 {
                        Outer::parse(f.bytes()).inner
                    } else {
                        let got_vrf = vni_vrf(vid_of(f.bytes()).unwrap());
                        assert_eq!(got_vrf, Some(want_vrf), "{vrf} → {dst}");
                        untag(f.bytes())
                    };
                    assert_eq!(routed_v4(&inner).0, mac, "{vrf} → {dst}");
                }
                // Unresolved hosts on a connected subnet: an ARP request in that VNI.
                (Verdict::Flood(fl), None) => {
                    let vni_id = t.authority.vni_id(fl.vni).unwrap().get();
                    let vrf_of = vnis.iter().find(|v| v.0 == vni_id).map(|v| v.2);
                    let frame = f.bytes();
                    assert_eq!(&frame[12..14], &[0x08, 0x06], "{vrf} → {dst}: ARP");
                    assert_eq!(&frame[38..42], &v4(dst), "asks for the destination");
                    if let Some(got) = vrf_of {
                        assert_eq!(got, vrf, "{vrf} → {dst}: asked in its own VRF");
                    }
                }
                (Verdict::Drop(DropReason::NoRoute), None) => {}
                other => panic!("{vrf} → {dst}: {other:?}"),
            }
        }
    }
}

#[test]
fn ttl_one_gets_time_exceeded_from_the_gateway_address() {
    let mut t = routed();
    let sent = udp4_between(H1, ANYCAST, "192.168.10.5", "192.168.20.5", 1);
    let (v, f) = t.access(&tag(&sent, 10), ACC1);
    assert_eq!(v, Verdict::Forward(ACC1), "back where it came from");
    assert_eq!(vid_of(f.bytes()), Some(10));
    let frame = untag(f.bytes());
    let p = ep::SlicedPacket::from_ethernet(&frame).unwrap();
    let Some(ep::NetSlice::Ipv4(ip)) = &p.net else {
        panic!("not IPv4")
    };
    assert_eq!(ip.header().source(), v4("192.168.10.1"));
    assert_eq!(ip.header().destination(), v4("192.168.10.5"));
    let Some(ep::TransportSlice::Icmpv4(icmp)) = &p.transport else {
        panic!("not ICMP")
    };
    assert!(matches!(icmp.icmp_type(), ep::Icmpv4Type::TimeExceeded(_)));
    assert_eq!(
        &icmp.payload()[..28],
        &sent[14..42],
        "the datagram's header and 8 bytes"
    );
    let vrf = t.authority.vrfs()[0].2;
    let c = t.gw.counters().vrf(vrf).unwrap();
    assert_eq!((c.ttl_expired.get(), c.icmp_errors.get()), (1, 1));
    // An ICMP error about an ICMP error is never sent.
    let mut err = Vec::new();
    ep::PacketBuilder::ethernet2(H1, ANYCAST)
        .ipv4(v4("192.168.10.5"), v4("192.168.20.5"), 1)
        .icmpv4(ep::Icmpv4Type::TimeExceeded(
            ep::icmpv4::TimeExceededCode::TtlExceededInTransit,
        ))
        .write(&mut err, &[0u8; 28])
        .unwrap();
    let (v, _) = t.access(&tag(&err, 10), ACC1);
    assert_eq!(v, Verdict::Drop(DropReason::TtlExpired));
}

#[test]
fn an_unknown_host_is_asked_for_once_per_tick() {
    let mut t = routed();
    let sent = udp4_between(H1, ANYCAST, "192.168.10.5", "192.168.20.77", 64);
    let (v, f) = t.access(&tag(&sent, 10), ACC1);
    assert_eq!(
        v,
        Verdict::Flood(Flood {
            vni: t.vni(200),
            except: None,
            to_underlay: true
        })
    );
    let frame = f.bytes();
    assert_eq!(&frame[..6], &BCAST);
    assert_eq!(&frame[6..12], &ANYCAST, "asked by the gateway MAC");
    let (op, sha, spa, _, tpa) = arp_fields(&frame[14..]);
    assert_eq!((op, sha), (ARP_REQUEST, ANYCAST));
    assert_eq!(
        spa,
        v4("192.168.20.1"),
        "from the gateway address on that subnet"
    );
    assert_eq!(tpa, v4("192.168.20.77"));
    let (v, _) = t.access(&tag(&sent, 10), ACC1);
    assert_eq!(
        v,
        Verdict::Drop(DropReason::HostUnresolved),
        "asked already"
    );
    t.gw.set_now(1);
    let (v, _) = t.access(&tag(&sent, 10), ACC1);
    assert!(matches!(v, Verdict::Flood(_)), "asked again a tick later");

    // The host's answer, to the gateway MAC, is absorbed and teaches the binding.
    let answer = arp(
        H3,
        ANYCAST,
        ARP_REPLY,
        H3,
        "192.168.20.77",
        ANYCAST,
        "192.168.20.1",
    );
    t.events();
    let (v, _) = t.access(&tag(&answer, 20), ACC2);
    assert_eq!(v, Verdict::Consumed);
    let snooped = t.events().into_iter().any(|e| {
        matches!(e, Event::Snooped { ip, mac, .. }
            if ip == "192.168.20.77".parse::<IpAddr>().unwrap() && mac == MacAddr(H3))
    });
    assert!(snooped, "the binding is reported");
}

#[test]
fn the_gateway_answers_arp_and_ping_for_its_addresses() {
    let mut t = routed();
    let ask = arp(
        H1,
        BCAST,
        ARP_REQUEST,
        H1,
        "192.168.10.5",
        [0; 6],
        "192.168.10.1",
    );
    let (v, f) = t.access(&tag(&ask, 10), ACC1);
    assert_eq!(v, Verdict::Forward(ACC1));
    let frame = untag(f.bytes());
    let (op, sha, spa, tha, tpa) = arp_fields(&frame[14..]);
    assert_eq!((op, sha, spa), (ARP_REPLY, ANYCAST, v4("192.168.10.1")));
    assert_eq!((tha, tpa), (H1, v4("192.168.10.5")));
    // Blue's VNI 300 has the same gateway address: answered there too, with the same MAC.
    let (v, _) = t.access(&tag(&ask, 30), ACC1);
    assert_eq!(v, Verdict::Forward(ACC1));
    // A bridged VNI has no gateway: the request is flooded as any broadcast.
    let (v, _) = t.access(&tag(&ask, 50), ACC1);
    assert!(matches!(v, Verdict::Flood(_)));

    for target in ["192.168.10.1", "192.168.20.1"] {
        let (v, f) = t.access(&tag(&ping4(H1, ANYCAST, "192.168.10.5", target), 10), ACC1);
        assert_eq!(v, Verdict::Forward(ACC1), "ping {target}");
        let frame = untag(f.bytes());
        let p = ep::SlicedPacket::from_ethernet(&frame).unwrap();
        let Some(ep::NetSlice::Ipv4(ip)) = &p.net else {
            panic!()
        };
        assert_eq!(ip.header().source(), v4(target));
        let Some(ep::TransportSlice::Icmpv4(icmp)) = &p.transport else {
            panic!()
        };
        assert!(matches!(icmp.icmp_type(), ep::Icmpv4Type::EchoReply(_)));
    }
    // A corrupted echo request is not answered.
    let mut bad = ping4(H1, ANYCAST, "192.168.10.5", "192.168.10.1");
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    let (v, _) = t.access(&tag(&bad, 10), ACC1);
    assert_eq!(v, Verdict::Drop(DropReason::IcmpBadChecksum));
    // Nothing else is served at a gateway address.
    let udp = udp4_between(H1, ANYCAST, "192.168.10.5", "192.168.10.1", 64);
    let (v, _) = t.access(&tag(&udp, 10), ACC1);
    assert_eq!(v, Verdict::Drop(DropReason::GatewayUnsupported));
}

#[test]
fn ipv6_is_routed_and_the_gateway_answers_as_a_router() {
    let mut t = routed();
    let sent = udp6_between(H1, ANYCAST, "fd10::5", "fd20::5", 64);
    let (v, f) = t.access(&tag(&sent, 10), ACC1);
    assert_eq!(v, Verdict::Forward(ACC2));
    let frame = untag(f.bytes());
    let (eth, rest) = ep::Ethernet2Header::from_slice(&frame).unwrap();
    let (ip, _) = ep::Ipv6Header::from_slice(rest).unwrap();
    assert_eq!(
        (eth.destination, eth.source, ip.hop_limit),
        (H2, ANYCAST, 63)
    );

    let ns = neighbor_solicit(H1, v6("fd10::5"), v6("fd10::1"), Some(H1));
    let (v, f) = t.access(&tag(&ns, 10), ACC1);
    assert_eq!(v, Verdict::Forward(ACC1));
    let frame = untag(f.bytes());
    let (eth, rest) = ep::Ethernet2Header::from_slice(&frame).unwrap();
    let (ip, icmp) = ep::Ipv6Header::from_slice(rest).unwrap();
    assert_eq!(eth.source, ANYCAST);
    assert!(verifies6(ip.source, ip.destination, 58, icmp));
    assert_eq!(icmp[0], 136, "a neighbour advertisement");
    assert_eq!(icmp[4] & 0xe0, 0xe0, "router, solicited and override flags");
    assert_eq!(&icmp[8..24], &v6("fd10::1"));

    // Link-local destinations are never routed.
    let ll = udp6_between(H1, ANYCAST, "fd10::5", "fe80::5", 64);
    let (v, _) = t.access(&tag(&ll, 10), ACC1);
    assert_eq!(v, Verdict::Drop(DropReason::NotRoutable));
    // An unknown IPv6 host is solicited from the gateway's address on its subnet.
    let sent = udp6_between(H1, ANYCAST, "fd10::5", "fd20::77", 64);
    let (v, f) = t.access(&tag(&sent, 10), ACC1);
    assert!(matches!(v, Verdict::Flood(_)));
    let frame = f.bytes();
    let (eth, rest) = ep::Ethernet2Header::from_slice(frame).unwrap();
    let (ip, icmp) = ep::Ipv6Header::from_slice(rest).unwrap();
    assert_eq!(
        eth.destination,
        multicast_mac_v6(solicited_node(v6("fd20::77")))
    );
    assert_eq!((ip.source, ip.hop_limit), (v6("fd20::1"), 255));
    assert!(verifies6(ip.source, ip.destination, 58, icmp));
    assert_eq!(&icmp[8..24], &v6("fd20::77"));
}

#[test]
fn the_anycast_mac_is_never_learned_and_bridged_vnis_ignore_it() {
    let mut t = routed();
    // Another gateway's routed frame, from the fabric, carries the anycast MAC as source.
    let frame = udp4_between(ANYCAST, H2, "192.168.10.5", "192.168.20.5", 63);
    t.underlay(&vxlan4_packet("10.0.0.2", "10.0.0.1", 0, 200, &frame));
    assert!(t.fdb(200, ANYCAST).is_none());
    let learned = learned_events(&t.events());
    assert!(
        learned.iter().all(|(k, _)| k.mac() != MacAddr(ANYCAST)),
        "{learned:?}"
    );
    // In a VNI outside any VRF the anycast MAC is just another unknown unicast MAC.
    let sent = udp4_between(H1, ANYCAST, "192.168.10.5", "192.168.20.5", 64);
    let (v, _) = t.access(&tag(&sent, 50), ACC1);
    assert!(matches!(v, Verdict::Flood(_)), "{v:?}");
}

#[test]
fn a_directed_broadcast_is_not_resolved_as_a_host() {
    let mut t = routed();
    let sent = udp4_between(H1, ANYCAST, "192.168.10.5", "192.168.20.255", 64);
    let (v, _) = t.access(&tag(&sent, 10), ACC1);
    assert_eq!(v, Verdict::Drop(DropReason::NotRoutable));
}

#[test]
fn another_gateways_arp_from_the_anycast_mac_teaches_no_binding() {
    let mut t = routed();
    // Gateway B asks for h3 from the anycast address and MAC, through the fabric or a port.
    let ask = arp(
        ANYCAST,
        BCAST,
        ARP_REQUEST,
        ANYCAST,
        "192.168.20.1",
        [0; 6],
        "192.168.20.77",
    );
    t.events();
    let _ = t.access(&tag(&ask, 20), ACC2);
    let snooped = t
        .events()
        .into_iter()
        .any(|e| matches!(e, Event::Snooped { .. }));
    assert!(!snooped, "the anycast MAC's binding is the gateway's own");
}

/// Through the worker's burst loop (the first pass works routed packets out two ahead and
/// prefetches their next hops), routed packets end as each would alone: resolved hosts, an
/// unresolved one, the default route, the gateway's own address, TTL 1, and a bridged frame.
#[test]
fn a_routed_burst_ends_as_its_packets_one_at_a_time() {
    let frames: Vec<Vec<u8>> = [
        ("192.168.10.5", "192.168.20.5", 64),
        ("192.168.10.5", "192.168.20.77", 64),
        ("192.168.10.5", "8.8.8.8", 64),
        ("192.168.10.5", "192.168.20.1", 64),
        ("192.168.10.5", "192.168.20.5", 1),
        ("192.168.10.5", "192.168.20.5", 9),
    ]
    .iter()
    .map(|(s, d, ttl)| tag(&udp4_between(H1, ANYCAST, s, d, *ttl), 10))
    .chain(std::iter::once(tag(
        &udp4_between(H1, H3, "192.168.10.5", "192.168.10.9", 64),
        10,
    )))
    .collect();
    let mut alone = routed();
    let expected: Vec<(Verdict, Vec<u8>)> = frames
        .iter()
        .map(|f| {
            let (v, out) = alone.access(f, ACC1);
            (v, out.bytes().to_vec())
        })
        .collect();

    let mut t = routed();
    let mut run = BurstRun::default();
    let mut burst: Vec<Option<VecFrame>> = frames.iter().map(|b| Some(VecFrame::new(b))).collect();
    run.start(&t.gw, &burst, ACC1, false);
    let got: Vec<(Verdict, Vec<u8>)> = (0..burst.len())
        .map(|i| {
            let v = run.next(&mut t.gw, &mut burst, i).expect("a packet");
            (
                v,
                burst[i].take().expect("left in its slot").bytes().to_vec(),
            )
        })
        .collect();
    assert_eq!(got, expected);
    assert!(
        matches!(expected[0].0, Verdict::Forward(_)),
        "the first one is routed: {:?}",
        expected[0].0
    );
}

/// A shared services VRF: red reaches it through a leaked route, and it reaches back into
/// one of red's subnets only; blue, with red's very prefixes, reaches nothing of it.
#[test]
fn a_leaked_route_reaches_another_vrf_and_only_what_it_names() {
    const SHARED_HOST: [u8; 6] = [0x02, 0, 0, 0, 0x09, 0x09];
    let config = format!(
        r#"{ROUTED}
[[vrf]]
name = "shared"
id = 3

[[vni]]
id = 900
vlan = 90
vrf = "shared"
gateway = "10.90.0.1/24"

[[fdb]]
vni = 900
mac = "02:00:00:00:09:09"
port = "acc2"

[[arp]]
vni = 900
ip = "10.90.0.9"
mac = "02:00:00:00:09:09"

[[route]]
vrf = "red"
prefix = "10.90.0.0/24"
next_vrf = "shared"

[[route]]
vrf = "shared"
prefix = "192.168.20.0/24"
next_vrf = "red"
"#
    );
    let mut t = TestGw::new(&config);
    // red → shared: the leaked /24 beats red's default route.
    let sent = udp4_between(H1, ANYCAST, "192.168.10.5", "10.90.0.9", 64);
    let (v, f) = t.access(&tag(&sent, 10), ACC1);
    assert_eq!(v, Verdict::Forward(ACC2));
    assert_eq!(vid_of(f.bytes()), Some(90));
    let (dst, src, ip) = routed_v4(&untag(f.bytes()));
    assert_eq!((dst, src, ip.time_to_live), (SHARED_HOST, ANYCAST, 63));
    // shared → red's 192.168.20.0/24, and nothing else of red.
    let back = udp4_between(SHARED_HOST, ANYCAST, "10.90.0.9", "192.168.20.5", 64);
    let (v, f) = t.access(&tag(&back, 90), ACC2);
    assert_eq!(v, Verdict::Forward(ACC2));
    assert_eq!(vid_of(f.bytes()), Some(20));
    assert_eq!(routed_v4(&untag(f.bytes())).0, H2);
    let other = udp4_between(SHARED_HOST, ANYCAST, "10.90.0.9", "192.168.10.5", 64);
    let (v, _) = t.access(&tag(&other, 90), ACC2);
    assert_eq!(v, Verdict::Drop(DropReason::NoRoute));
    // blue has no route there.
    let blue = udp4_between(H1, ANYCAST, "192.168.10.5", "10.90.0.9", 64);
    let (v, _) = t.access(&tag(&blue, 30), ACC1);
    assert_eq!(v, Verdict::Drop(DropReason::NoRoute));
    // The same through the burst loop, whose first pass follows the leak ahead of time.
    let frames = [
        tag(&sent, 10),
        tag(&blue, 30),
        tag(&sent, 10),
        tag(&sent, 10),
    ];
    let mut run = BurstRun::default();
    let mut burst: Vec<Option<VecFrame>> = frames.iter().map(|b| Some(VecFrame::new(b))).collect();
    run.start(&t.gw, &burst, ACC1, false);
    let verdicts: Vec<Verdict> = (0..burst.len())
        .map(|i| run.next(&mut t.gw, &mut burst, i).expect("a packet"))
        .collect();
    assert_eq!(
        verdicts,
        [
            Verdict::Forward(ACC2),
            Verdict::Drop(DropReason::NoRoute),
            Verdict::Forward(ACC2),
            Verdict::Forward(ACC2)
        ]
    );
    assert_eq!(
        routed_v4(&untag(burst[3].take().expect("in its slot").bytes())).0,
        SHARED_HOST
    );
    // The routes show where they lead.
    let leaked = t
        .authority
        .routes()
        .into_iter()
        .find(|r| r.vrf == "red" && r.prefix.to_string() == "10.90.0.0/24")
        .expect("the leaked route");
    assert_eq!(leaked.next_vrf.map(|n| n.0), Some("shared".to_owned()));
    assert!(leaked.slot.is_some(), "installed");
}

// --- symmetric IRB: the VRF's L3VNI and routes through other VTEPs --------------------------

/// This gateway's router MAC and another VTEP's, for the L3VNI tests.
const OWN_RMAC: [u8; 6] = [0x02, 0x72, 0, 0, 0, 0x01];
const PEER_RMAC: [u8; 6] = [0x02, 0x72, 0, 0, 0, 0x09];

/// `ROUTED` with red's L3VNI 5000 and two prefixes behind VTEP 10.0.0.9 (a subnet and one
/// host, as EVPN type 5 and type 2 would install them).
fn symmetric() -> TestGw {
    let toml = ROUTED
        .replace(
            "[[vrf]]\nname = \"red\"\nid = 1\n",
            "[routing]\nrouter_mac = \"02:72:00:00:00:01\"\n\n\
             [[vrf]]\nname = \"red\"\nid = 1\nl3vni = 5000\n",
        )
        .replace(
            "[[route]]\nvrf = \"red\"\nprefix = \"0.0.0.0/0\"\n",
            "[[route]]\nvrf = \"red\"\nprefix = \"10.2.0.0/16\"\nvtep = \"10.0.0.9\"\n\
             router_mac = \"02:72:00:00:00:09\"\n\n\
             [[route]]\nvrf = \"red\"\nprefix = \"fd99::/64\"\nvtep = \"10.0.0.9\"\n\
             router_mac = \"02:72:00:00:00:09\"\n\n\
             [[route]]\nvrf = \"red\"\nprefix = \"0.0.0.0/0\"\n",
        );
    assert!(toml.contains("l3vni = 5000") && toml.contains("10.2.0.0/16"));
    TestGw::new(&toml)
}

#[test]
fn a_route_through_another_vtep_goes_in_the_l3vni_to_its_router_mac() {
    let mut t = symmetric();
    let sent = udp4_between(H1, ANYCAST, "192.168.10.5", "10.2.3.4", 64);
    let (v, f) = t.access(&tag(&sent, 10), ACC1);
    assert_eq!(v, Verdict::Forward(0));
    let o = Outer::parse(f.bytes());
    assert_eq!(o.vni(), 5000, "the VRF's L3VNI");
    assert_eq!(o.dst_ip(), "10.0.0.9".parse::<IpAddr>().unwrap());
    assert!(o.checksums_verify());
    let (dst, src, ip) = routed_v4(&o.inner);
    assert_eq!(
        (dst, src),
        (PEER_RMAC, OWN_RMAC),
        "RFC 9135: router MAC to router MAC"
    );
    assert_eq!(ip.time_to_live, 63);
    assert_eq!(ip.header_checksum, ip.calc_header_checksum());
    assert_eq!(&o.inner[34..], &sent[34..], "payload untouched");
    assert_eq!(t.counters(5000).encap_packets.get(), 1);

    let six = udp6_between(H1, ANYCAST, "fd10::5", "fd99::7", 5);
    let (v, f) = t.access(&tag(&six, 10), ACC1);
    assert_eq!(v, Verdict::Forward(0));
    let o = Outer::parse(f.bytes());
    assert_eq!(o.vni(), 5000);
    let (eth, rest) = ep::Ethernet2Header::from_slice(&o.inner).unwrap();
    assert_eq!((eth.destination, eth.source), (PEER_RMAC, OWN_RMAC));
    assert_eq!(ep::Ipv6Header::from_slice(rest).unwrap().0.hop_limit, 4);

    // Blue has no such route, and its hosts never reach red's L3VNI.
    let (v, _) = t.access(&tag(&sent, 30), ACC1);
    assert_eq!(v, Verdict::Drop(DropReason::NoRoute));
}

#[test]
fn the_l3vni_routes_to_local_hosts_and_bridges_nothing() {
    let mut t = symmetric();
    // From VTEP 10.0.0.9 in the L3VNI to this gateway's router MAC: routed in red to h2.
    let routed_in = udp4_between(PEER_RMAC, OWN_RMAC, "10.2.3.4", "192.168.20.5", 9);
    let (v, f) = t.underlay(&vxlan4_packet("10.0.0.9", "10.0.0.1", 0, 5000, &routed_in));
    assert_eq!(v, Verdict::Forward(ACC2));
    assert_eq!(vid_of(f.bytes()), Some(20));
    let (dst, src, ip) = routed_v4(&untag(f.bytes()));
    assert_eq!((dst, src, ip.time_to_live), (H2, ANYCAST, 8));

    // Anything else in the L3VNI is dropped, and nothing is learned from it.
    for frame in [
        udp4_between(PEER_RMAC, ANYCAST, "10.2.3.4", "192.168.20.5", 9),
        udp4_between(PEER_RMAC, BCAST, "10.2.3.4", "192.168.20.5", 9),
        udp4_between(PEER_RMAC, H2, "10.2.3.4", "192.168.20.5", 9),
    ] {
        let (v, _) = t.underlay(&vxlan4_packet("10.0.0.9", "10.0.0.1", 0, 5000, &frame));
        assert_eq!(v, Verdict::Drop(DropReason::NotRouterMac));
    }
    assert!(t.fdb(5000, PEER_RMAC).is_none(), "an L3VNI learns nothing");
    assert!(t.events().is_empty(), "and reports nothing to learn");

    // Red's router MAC is not blue's way in: the L3VNI routes in red only.
    let blue_dst = udp4_between(PEER_RMAC, OWN_RMAC, "10.2.3.4", "192.168.20.77", 9);
    let (v, f) = t.underlay(&vxlan4_packet("10.0.0.9", "10.0.0.1", 0, 5000, &blue_dst));
    // 192.168.20.77 is unknown in red: resolved in red's VNI 200, never in blue's 400.
    match v {
        Verdict::Flood(fl) => {
            assert_eq!(t.authority.vni_id(fl.vni).unwrap().get(), 200);
            assert_eq!(&f.bytes()[12..14], &[0x08, 0x06], "an ARP request");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn routes_through_vteps_follow_reloads_of_the_routes() {
    let mut t = symmetric();
    let tunnel = t.tunnel("10.0.0.9", Encap::Vxlan);
    let routes = t.authority.routes();
    let r = routes
        .iter()
        .find(|r| r.prefix.to_string() == "10.2.0.0/16")
        .unwrap();
    assert_eq!(r.vni.map(|v| v.get()), Some(5000));
    assert!(r.slot.is_some(), "installed");
    // The routes gone, the tunnel they held goes too.
    let mut config = t.authority.routing().unwrap().clone();
    config.routes.retain(|r| r.remote().is_none());
    let changes = t.authority.set_routing(Some(config));
    assert!(changes.contains(&crate::tables::authority::Change::Tunnel(tunnel)));
    assert!(t
        .authority
        .tunnel_id("10.0.0.9".parse().unwrap(), Encap::Vxlan)
        .is_none());
}
