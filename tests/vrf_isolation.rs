//! Tenant VRFs, proven on the real binary: two VRFs with the very same prefixes, hosts and
//! host addresses, each with two VNIs, hosts behind remote VTEPs and on a trunk, and a
//! static route to a router that differs per VRF. Every (sender, destination address) pair
//! is sent to the anycast gateway MAC; each routed copy must go where an independent model
//! of the VRF's routes and hosts says — in the destination VNI, rewritten to the host's MAC
//! from the gateway MAC, TTL decremented — and nothing ever reaches another VRF.

mod common;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use common::api::{mac_text, pcap_mac, vxlan_from, Mac};
use common::traffic::{run_gateway, Encapsulated, INPUTS};
use common::{serial, write_pcap, Scratch};

const GATEWAY_MAC: Mac = [0x02, 0xaa, 0xaa, 0, 0, 0x01];
const TRUNK: usize = 1;
const MARK: &[u8; 4] = b"VRFS";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Place {
    Trunk,
    Vtep(Ipv4Addr),
}

#[derive(Debug, Clone, Copy)]
struct Host {
    ip: Ipv4Addr,
    mac: Mac,
    at: Place,
}

struct Segment {
    vni: u32,
    vlan: u16,
    /// Its gateway subnet: 10.<subnet>.0.0/24, gateway .1.
    subnet: u8,
    vtep: Ipv4Addr,
    hosts: Vec<Host>,
}

struct Vrf {
    name: &'static str,
    segments: [Segment; 2],
    /// 172.16.0.0/16 goes through this host of the second segment.
    router: Ipv4Addr,
}

fn vrfs() -> Vec<Vrf> {
    let segment = |tag: u8, k: u8, vtep: Ipv4Addr, extra: Option<Host>| {
        let mut hosts = vec![
            Host {
                ip: Ipv4Addr::new(10, k, 0, 10),
                mac: [0x02, tag, k, 0, 0, 10],
                at: Place::Vtep(vtep),
            },
            Host {
                ip: Ipv4Addr::new(10, k, 0, 20),
                mac: [0x02, tag, k, 0, 0, 20],
                at: Place::Trunk,
            },
        ];
        hosts.extend(extra);
        Segment {
            vni: u32::from(tag) * 100 + u32::from(k),
            vlan: u16::from(tag) + u16::from(k),
            subnet: k,
            vtep,
            hosts,
        }
    };
    let red_vtep = |n: u8| Ipv4Addr::new(10, 0, 0, 10 + n);
    let blue_vtep = |n: u8| Ipv4Addr::new(10, 0, 0, 20 + n);
    vec![
        Vrf {
            name: "red",
            segments: [
                segment(0x70, 1, red_vtep(1), None),
                segment(
                    0x70,
                    2,
                    red_vtep(2),
                    Some(Host {
                        ip: Ipv4Addr::new(10, 2, 0, 254),
                        mac: [0x02, 0x70, 2, 0, 0, 0xfe],
                        at: Place::Vtep(red_vtep(2)),
                    }),
                ),
            ],
            router: Ipv4Addr::new(10, 2, 0, 254),
        },
        Vrf {
            name: "blue",
            segments: [
                segment(0x80, 1, blue_vtep(1), None),
                segment(0x80, 2, blue_vtep(2), None),
            ],
            // The same prefix routed elsewhere: through blue's host on the trunk.
            router: Ipv4Addr::new(10, 2, 0, 20),
        },
    ]
}

fn config(vrfs: &[Vrf]) -> String {
    let mut c = format!(
        r#"
[underlay]
port = "net_pcap0"
addresses = ["10.0.0.1/24"]
next_hop_mac = "02:00:00:00:00:fe"
mtu = 1600

[[access]]
port = "net_pcap1"

[routing]
gateway_mac = "{}"
"#,
        mac_text(GATEWAY_MAC)
    );
    for (i, v) in vrfs.iter().enumerate() {
        c += &format!("\n[[vrf]]\nname = \"{}\"\nid = {}\n", v.name, i + 1);
        c += &format!(
            "\n[[route]]\nvrf = \"{}\"\nprefix = \"172.16.0.0/16\"\nvia = \"{}\"\n",
            v.name, v.router
        );
        for s in &v.segments {
            c += &format!(
                "\n[[vni]]\nid = {}\nvlan = {}\nflood = [\"{}\"]\nvrf = \"{}\"\n\
                 gateway = \"10.{}.0.1/24\"\n",
                s.vni, s.vlan, s.vtep, v.name, s.subnet
            );
            for h in &s.hosts {
                let place = match h.at {
                    Place::Trunk => "port = \"net_pcap1\"".to_owned(),
                    Place::Vtep(a) => format!("remote = \"{a}\""),
                };
                c += &format!(
                    "\n[[fdb]]\nvni = {}\nmac = \"{}\"\n{place}\n",
                    s.vni,
                    mac_text(h.mac)
                );
                c += &format!(
                    "\n[[arp]]\nvni = {}\nip = \"{}\"\nmac = \"{}\"\n",
                    s.vni,
                    h.ip,
                    mac_text(h.mac)
                );
            }
        }
    }
    c
}

/// An IPv4/UDP packet from `from` to the gateway MAC for `dst`, carrying sweep id `id`.
fn routed_frame(from: &Host, dst: Ipv4Addr, vlan: Option<u16>, id: u32) -> Vec<u8> {
    let mut payload = MARK.to_vec();
    payload.extend_from_slice(&id.to_be_bytes());
    let eth = etherparse::PacketBuilder::ethernet2(from.mac, GATEWAY_MAC);
    let mut f = Vec::new();
    let built = match vlan {
        Some(v) => eth
            .single_vlan(etherparse::VlanId::try_new(v).expect("a VLAN id"))
            .ipv4(from.ip.octets(), dst.octets(), 64)
            .udp(40000, 9)
            .write(&mut f, &payload),
        None => eth
            .ipv4(from.ip.octets(), dst.octets(), 64)
            .udp(40000, 9)
            .write(&mut f, &payload),
    };
    built.expect("build a frame");
    f
}

/// What one routed copy looks like on the wire: where it left, in which VNI, to which VTEP,
/// and its inner MACs and TTL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Copy {
    vni: Option<u32>,
    place: Place,
    dst_mac: Mac,
}

/// The model: the VRF's connected subnets and its one static route, its hosts' places.
fn expected(v: &Vrf, dst: Ipv4Addr) -> Option<Copy> {
    let [a, b, c, d] = dst.octets();
    let segment_of = |ip: Ipv4Addr| {
        let [a, b, c, _] = ip.octets();
        v.segments
            .iter()
            .find(|s| a == 10 && b == s.subnet && c == 0)
    };
    if a == 10 && c == 0 && d == 1 && segment_of(dst).is_some() {
        return None; // a gateway address: UDP to it is not served
    }
    let next_hop = if segment_of(dst).is_some() {
        dst
    } else if a == 172 && b == 16 {
        v.router
    } else {
        return None; // no route
    };
    let s = segment_of(next_hop)?;
    let h = s.hosts.iter().find(|h| h.ip == next_hop)?; // else unresolved
    Some(Copy {
        vni: Some(s.vni),
        place: h.at,
        dst_mac: h.mac,
    })
}

fn mark_in(frame: &[u8]) -> Option<u32> {
    let at = frame.windows(4).position(|w| w == MARK)?;
    Some(u32::from_be_bytes(
        frame.get(at + 4..at + 8)?.try_into().ok()?,
    ))
}

/// The copy, with the inner source MAC and TTL it left with.
fn observe(vrfs: &[Vrf], port: usize, frame: &[u8]) -> (Copy, Mac, u8) {
    let (vni, place, inner) = if port == 0 {
        let e = Encapsulated::of(frame);
        let vtep = match e.dst_ip() {
            std::net::IpAddr::V4(a) => a,
            std::net::IpAddr::V6(a) => panic!("an IPv6 outer header to {a}"),
        };
        (Some(e.vni()), Place::Vtep(vtep), e.inner)
    } else {
        assert_eq!(
            frame.get(12..14),
            Some(&[0x81, 0x00][..]),
            "untagged on the trunk"
        );
        let vid = u16::from_be_bytes([frame[14], frame[15]]) & 0x0fff;
        let vni = vrfs
            .iter()
            .flat_map(|v| v.segments.iter())
            .find(|s| s.vlan == vid)
            .map(|s| s.vni);
        // Drop the tag: the same layout as a decapsulated inner frame.
        let mut untagged = frame[..12].to_vec();
        untagged.extend_from_slice(&frame[16..]);
        (vni, Place::Trunk, untagged)
    };
    let mac = |at: usize| -> Mac { inner[at..at + 6].try_into().expect("6 bytes") };
    let ttl = inner[14 + 8];
    (
        Copy {
            vni,
            place,
            dst_mac: mac(0),
        },
        mac(6),
        ttl,
    )
}

#[test]
fn routed_packets_stay_in_their_vrf() {
    let _slot = serial();
    let s = Scratch::new();
    let vrfs = vrfs();
    let mut destinations: Vec<Ipv4Addr> = vec![
        Ipv4Addr::new(172, 16, 5, 5),
        Ipv4Addr::new(192, 0, 2, 1),
        Ipv4Addr::new(10, 1, 0, 99),
        Ipv4Addr::new(10, 2, 0, 1),
        Ipv4Addr::new(10, 3, 0, 10),
    ];
    for k in 1..=2 {
        for h in [10, 20, 254] {
            destinations.push(Ipv4Addr::new(10, k, 0, h));
        }
    }

    let mut inputs: Vec<Vec<Vec<u8>>> = vec![Vec::new(), Vec::new()];
    let mut want: BTreeMap<u32, Option<Copy>> = BTreeMap::new();
    let mut id = 0u32;
    for v in &vrfs {
        for s in &v.segments {
            for from in &s.hosts {
                for &dst in &destinations {
                    id += 1;
                    want.insert(id, expected(v, dst));
                    match from.at {
                        Place::Trunk => {
                            inputs[TRUNK].push(routed_frame(from, dst, Some(s.vlan), id))
                        }
                        Place::Vtep(vtep) => {
                            let inner = routed_frame(from, dst, None, id);
                            inputs[0].push(vxlan_from(vtep, pcap_mac(0), s.vni, &inner));
                        }
                    }
                }
            }
        }
    }

    for (port, frames) in inputs.iter().enumerate() {
        write_pcap(&s.path(INPUTS[port]), frames);
    }
    let run = run_gateway(&s, &config(&vrfs), inputs.len());
    let report = run.report.clone();

    let mut got: BTreeMap<u32, Vec<Copy>> = BTreeMap::new();
    for port in 0..2 {
        for frame in run.output(port) {
            let Some(id) = mark_in(&frame) else {
                continue; // the gateway's ARP requests for unresolved hosts
            };
            let (copy, src, ttl) = observe(&vrfs, port, &frame);
            assert_eq!(src, GATEWAY_MAC, "frame {id} not from the gateway MAC");
            assert_eq!(ttl, 63, "frame {id}: TTL not decremented once");
            got.entry(id).or_default().push(copy);
        }
    }
    let mut wrong = Vec::new();
    for (id, w) in &want {
        let g = got.remove(id).unwrap_or_default();
        let w: Vec<Copy> = w.iter().copied().collect();
        if g != w {
            wrong.push(format!("frame {id}: expected {w:?}, got {g:?}"));
        }
    }
    assert!(got.is_empty(), "copies of frames never sent: {got:?}");
    assert!(
        wrong.is_empty(),
        "{} of {} frames went wrong:\n{}",
        wrong.len(),
        want.len(),
        wrong.join("\n")
    );
    let routed = want.values().filter(|w| w.is_some()).count() as u64;
    let no_route = report["drops"]["no_route"].as_u64().unwrap_or(0);
    assert!(routed >= 50 && no_route >= 10, "{report:#}");
}
