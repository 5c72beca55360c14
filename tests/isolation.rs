//! Tenant isolation, proven on the real binary.
//!
//! - The sweep: every (ingress VNI, ingress point, destination) of a multi-tenant
//!   configuration — VXLAN and NVGRE VNIs, tagged and native, MACs known in one VNI sent to
//!   from another, a MAC that exists in every VNI at a different place, broadcast, multicast
//!   and unknown unicast — goes where an independent model of the tables says, and nothing
//!   ever leaves on another VNI, untagged on a trunk, or back where it came from.
//! - A flood of a million random source MACs in one VNI stops at its `max_macs`; the other
//!   VNIs keep learning and forwarding.
//! - Static FDB entries and static bindings survive learning and ARP spoofing, counted.

mod common;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use common::api::{mac_text, tenant, vxlan_from, Mac, BROADCAST, LOCAL};
use common::traffic::{assert_accounting, run_gateway, Encapsulated, INPUTS};
use common::{read_pcap, serial, write_pcap, Scratch, Vtepd};

/// Where a frame enters or leaves: port 0 is the underlay, 1..=3 the access ports.
type Port = usize;
const TRUNK: Port = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encap {
    Vxlan,
    Nvgre,
}

struct Tenant {
    vni: u32,
    encap: Encap,
    vlan: u16,
    /// The access port whose untagged frames belong to this VNI.
    native: Option<Port>,
    flood: &'static [Ipv4Addr],
    /// A station behind a remote VTEP (the first of `flood`), and one behind an access port.
    remote_host: Mac,
    local_host: (Mac, Port),
    /// Where the MAC every VNI knows, `SHARED`, is in this VNI.
    shared_at: Place,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Place {
    Port(Port),
    Vtep(Ipv4Addr),
}

const SHARED: Mac = [0x02, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a];
const UNKNOWN: Mac = [0x02, 0xde, 0xad, 0, 0, 1];
const MULTICAST: Mac = [0x01, 0x00, 0x5e, 0x01, 0x02, 0x03];

fn tenants() -> Vec<Tenant> {
    const F11: &[Ipv4Addr] = &[Ipv4Addr::new(10, 0, 0, 11)];
    const F12: &[Ipv4Addr] = &[Ipv4Addr::new(10, 0, 0, 12), Ipv4Addr::new(10, 0, 0, 13)];
    const F21: &[Ipv4Addr] = &[Ipv4Addr::new(10, 0, 0, 21)];
    const F22: &[Ipv4Addr] = &[Ipv4Addr::new(10, 0, 0, 22), Ipv4Addr::new(10, 0, 0, 23)];
    vec![
        Tenant {
            vni: 5001,
            encap: Encap::Vxlan,
            vlan: 101,
            native: None,
            flood: F11,
            remote_host: [0x02, 0x50, 0x01, 0, 0, 0x0f],
            local_host: ([0x02, 0x50, 0x01, 0, 0, 0x01], TRUNK),
            shared_at: Place::Vtep(F11[0]),
        },
        Tenant {
            vni: 5002,
            encap: Encap::Vxlan,
            vlan: 102,
            native: Some(2),
            flood: F12,
            remote_host: [0x02, 0x50, 0x02, 0, 0, 0x0f],
            local_host: ([0x02, 0x50, 0x02, 0, 0, 0x02], 2),
            shared_at: Place::Port(2),
        },
        Tenant {
            vni: 6001,
            encap: Encap::Nvgre,
            vlan: 201,
            native: None,
            flood: F21,
            remote_host: [0x02, 0x60, 0x01, 0, 0, 0x0f],
            local_host: ([0x02, 0x60, 0x01, 0, 0, 0x01], TRUNK),
            shared_at: Place::Vtep(F21[0]),
        },
        Tenant {
            vni: 6002,
            encap: Encap::Nvgre,
            vlan: 202,
            native: Some(3),
            flood: F22,
            remote_host: [0x02, 0x60, 0x02, 0, 0, 0x0f],
            local_host: ([0x02, 0x60, 0x02, 0, 0, 0x03], 3),
            shared_at: Place::Port(TRUNK),
        },
    ]
}

fn config(tenants: &[Tenant], extra_vni_keys: &str) -> String {
    let mut c = String::from(
        r#"
[underlay]
port = "net_pcap0"
addresses = ["10.0.0.1/24"]
next_hop_mac = "02:00:00:00:00:fe"
mtu = 1600

[[access]]
port = "net_pcap1"
"#,
    );
    for port in 2..=3 {
        c += &format!("\n[[access]]\nport = \"net_pcap{port}\"\n");
        if let Some(t) = tenants.iter().find(|t| t.native == Some(port)) {
            c += &format!("untagged_vni = {}\n", t.vni);
        }
    }
    for t in tenants {
        let flood: Vec<String> = t.flood.iter().map(|a| format!("\"{a}\"")).collect();
        c += &format!(
            "\n[[vni]]\nid = {}\nencap = \"{}\"\nvlan = {}\nflood = [{}]\n{extra_vni_keys}",
            t.vni,
            if t.encap == Encap::Vxlan {
                "vxlan"
            } else {
                "nvgre"
            },
            t.vlan,
            flood.join(", ")
        );
        let place = |p: Place| match p {
            Place::Port(p) => format!("port = \"net_pcap{p}\""),
            Place::Vtep(a) => format!("remote = \"{a}\""),
        };
        for (mac, at) in [
            (t.remote_host, Place::Vtep(t.flood[0])),
            (t.local_host.0, Place::Port(t.local_host.1)),
            (SHARED, t.shared_at),
        ] {
            c += &format!(
                "\n[[fdb]]\nvni = {}\nmac = \"{}\"\n{}\n",
                t.vni,
                mac_text(mac),
                place(at)
            );
        }
    }
    c
}

/// A tunnel packet from `remote` carrying `inner` in `vni`.
fn from_fabric(encap: Encap, remote: Ipv4Addr, vni: u32, inner: &[u8]) -> Vec<u8> {
    match encap {
        Encap::Vxlan => vxlan_from(remote, common::api::pcap_mac(0), vni, inner),
        Encap::Nvgre => {
            let mut gre = vec![0x20, 0x00, 0x65, 0x58];
            gre.extend_from_slice(&((vni << 8) | 0x11).to_be_bytes());
            gre.extend_from_slice(inner);
            let mut f = Vec::new();
            etherparse::PacketBuilder::ethernet2(
                [0x02, 0, 0, 0xee, 0, 1],
                common::api::pcap_mac(0),
            )
            .ipv4(remote.octets(), LOCAL.octets(), 64)
            .write(&mut f, etherparse::IpNumber(47), &gre)
            .expect("build a frame");
            f
        }
    }
}

const MARK: &[u8; 4] = b"ISOL";

fn payload(id: u32) -> Vec<u8> {
    let mut p = MARK.to_vec();
    p.extend_from_slice(&id.to_be_bytes());
    p
}

/// The sweep frame id a frame carries.
fn id_in(frame: &[u8]) -> Option<u32> {
    let at = frame.windows(4).position(|w| w == MARK)?;
    let id = frame.get(at + 4..at + 8)?;
    Some(u32::from_be_bytes(id.try_into().ok()?))
}

/// One copy leaving the gateway, as an observer on the wire sees it: the port, the VNI it is
/// in (from the tunnel header, or from the VLAN tag / native VNI of the access port; None
/// for an untagged frame on a port without a native VNI) and, on the underlay, the VTEP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Copy {
    port: Port,
    vni: Option<u32>,
    vtep: Option<Ipv4Addr>,
}

fn observe(tenants: &[Tenant], port: Port, frame: &[u8]) -> Copy {
    if port == 0 {
        let e = Encapsulated::of(frame);
        let vtep = match e.dst_ip() {
            std::net::IpAddr::V4(a) => Some(a),
            std::net::IpAddr::V6(_) => None,
        };
        return Copy {
            port,
            vni: Some(e.vni()),
            vtep,
        };
    }
    let vni = if frame[12..14] == [0x81, 0x00] {
        let vid = u16::from_be_bytes([frame[14], frame[15]]) & 0x0fff;
        tenants.iter().find(|t| t.vlan == vid).map(|t| t.vni)
    } else {
        tenants
            .iter()
            .find(|t| t.native == Some(port))
            .map(|t| t.vni)
    };
    Copy {
        port,
        vni,
        vtep: None,
    }
}

/// What the model says a frame from `from` in tenant `t` to `dst` becomes.
fn expected(tenants: &[Tenant], t: &Tenant, from: Port, dst: Mac) -> Vec<Copy> {
    let known = if dst == t.remote_host {
        Some(Place::Vtep(t.flood[0]))
    } else if dst == t.local_host.0 {
        Some(Place::Port(t.local_host.1))
    } else if dst == SHARED {
        Some(t.shared_at)
    } else {
        None
    };
    let on_port = |p: Port| Copy {
        port: p,
        vni: Some(t.vni),
        vtep: None,
    };
    let _ = tenants;
    match known {
        Some(Place::Port(p)) if p == from => vec![], // same_port
        Some(Place::Port(p)) => vec![on_port(p)],
        Some(Place::Vtep(_)) if from == 0 => vec![], // split horizon
        Some(Place::Vtep(a)) => vec![Copy {
            port: 0,
            vni: Some(t.vni),
            vtep: Some(a),
        }],
        None => {
            // Every access port carries every VNI (tagged, or native), except where it came in.
            let mut c: Vec<Copy> = (1..=3).filter(|p| *p != from).map(on_port).collect();
            if from != 0 {
                c.extend(t.flood.iter().map(|a| Copy {
                    port: 0,
                    vni: Some(t.vni),
                    vtep: Some(*a),
                }));
            }
            c
        }
    }
}

#[test]
fn no_frame_ever_leaves_its_vni() {
    let _slot = serial();
    let s = Scratch::new();
    let tenants = tenants();
    let mut destinations: Vec<Mac> = vec![SHARED, UNKNOWN, MULTICAST, BROADCAST];
    for t in &tenants {
        destinations.push(t.remote_host);
        destinations.push(t.local_host.0);
    }

    let mut inputs: Vec<Vec<Vec<u8>>> = vec![Vec::new(); 4];
    let mut want: BTreeMap<u32, (u32, Vec<Copy>)> = BTreeMap::new();
    let mut id = 0u32;
    let mut next_source = || {
        id += 1;
        // A fresh source per frame: learning never turns a destination of the sweep around.
        (
            id,
            [0x02, 0x77, 0, (id >> 16) as u8, (id >> 8) as u8, id as u8],
        )
    };
    for t in &tenants {
        for &dst in &destinations {
            for (port, input) in inputs.iter_mut().enumerate().skip(1) {
                let (id, src) = next_source();
                let vlan = (t.native != Some(port)).then_some(t.vlan);
                input.push(tenant(src, dst, vlan, &payload(id)));
                want.insert(id, (t.vni, expected(&tenants, t, port, dst)));
            }
            for &vtep in t.flood {
                let (id, src) = next_source();
                let inner = tenant(src, dst, None, &payload(id));
                inputs[0].push(from_fabric(t.encap, vtep, t.vni, &inner));
                want.insert(id, (t.vni, expected(&tenants, t, 0, dst)));
            }
        }
    }

    for (port, frames) in inputs.iter().enumerate() {
        write_pcap(&s.path(INPUTS[port]), frames);
    }
    let run = run_gateway(&s, &config(&tenants, ""), inputs.len());

    let mut got: BTreeMap<u32, Vec<Copy>> = BTreeMap::new();
    let mut strays = Vec::new();
    for port in 0..4 {
        for frame in run.output(port) {
            match id_in(&frame) {
                Some(id) => got
                    .entry(id)
                    .or_default()
                    .push(observe(&tenants, port, &frame)),
                None => strays.push((port, frame)),
            }
        }
    }
    assert!(
        strays.is_empty(),
        "frames that are not the sweep's: {strays:02x?}"
    );

    let mut leaks = Vec::new();
    let mut wrong = Vec::new();
    for (id, (vni, mut expect)) in want {
        let mut copies = got.remove(&id).unwrap_or_default();
        for c in &copies {
            if c.vni != Some(vni) {
                leaks.push(format!("frame {id} of VNI {vni} left as {c:?}"));
            }
        }
        copies.sort();
        expect.sort();
        if copies != expect {
            wrong.push(format!(
                "frame {id} (VNI {vni}): {copies:?}, expected {expect:?}"
            ));
        }
    }
    assert!(
        leaks.is_empty(),
        "{} leaks:\n{}",
        leaks.len(),
        leaks.join("\n")
    );
    assert!(
        wrong.is_empty(),
        "{} frames not where the model says:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert!(got.is_empty(), "copies of frames never sent: {got:?}");
}

/// MACs that are all different and look random (a bijection of `n`).
fn random_mac(n: u32) -> Mac {
    let x = n.wrapping_mul(0x9e37_79b9).rotate_left(13) ^ 0x5bd1_e995;
    let [a, b, c, d] = x.to_be_bytes();
    [0x02, 0xa0, a, b, c, d]
}

#[test]
fn a_hostile_tenant_cannot_exhaust_the_others() {
    const STORM: u32 = 1_000_000;
    const MAX_MACS: u64 = 1000;
    const RATE: u64 = 1000;
    let _slot = serial();
    let s = Scratch::new();
    let tenants = tenants();
    let (attacker, others) = (&tenants[0], &tenants[1..]);
    let mut config = config(&tenants, "");
    config = config.replacen(
        "id = 5001\n",
        &format!("id = 5001\nmax_macs = {MAX_MACS}\nbum_rate_pps = {RATE}\n"),
        1,
    );

    // The attacker: a million broadcasts from a million random MACs on the trunk, in its VLAN.
    let template = tenant(random_mac(0), BROADCAST, Some(attacker.vlan), b"storm");
    let storm: Vec<Vec<u8>> = (0..STORM)
        .map(|n| {
            let mut f = template.clone();
            f[6..12].copy_from_slice(&random_mac(n));
            f
        })
        .collect();
    // Everyone else, on the other ports at the same time: known unicast, unknown unicast and
    // broadcasts from 500 stations per VNI, each frame tagged with its id.
    let mut inputs: Vec<Vec<Vec<u8>>> = vec![Vec::new(), storm, Vec::new(), Vec::new()];
    let mut want: BTreeMap<u32, (u32, Vec<Copy>)> = BTreeMap::new();
    let mut id = 0u32;
    for round in 0..6u32 {
        for (i, t) in others.iter().enumerate() {
            let port = [2, 3, 2][i];
            for station in 0..500u32 {
                id += 1;
                let src = random_mac(10_000_000 + 1000 * i as u32 + station);
                let dst = [t.remote_host, UNKNOWN, BROADCAST][(round % 3) as usize];
                let vlan = (t.native != Some(port)).then_some(t.vlan);
                inputs[port].push(tenant(src, dst, vlan, &payload(id)));
                want.insert(id, (t.vni, expected(&tenants, t, port, dst)));
            }
        }
    }

    let mut v = Vtepd::new(&s, &config).arg("--log").arg("warn");
    for (port, frames) in inputs.iter().enumerate() {
        let rx = s.path(&format!("in{port}.pcap"));
        write_pcap(&rx, frames);
        v = v.vdev(format!(
            "net_pcap{port},rx_pcap={},tx_pcap={}",
            rx.display(),
            s.path(&format!("out{port}.pcap")).display()
        ));
    }
    drop(inputs);
    let started = std::time::Instant::now();
    let outcome = v.run_until_idle(300);
    let seconds = started.elapsed().as_secs_f64();
    outcome.assert_success();
    let report = outcome.report.clone().expect("final report");
    assert_accounting(&report);

    // Everyone else's frames all went exactly where they should.
    let mut got: BTreeMap<u32, Vec<Copy>> = BTreeMap::new();
    let mut storm_copies = 0u64;
    for port in 0..4 {
        for frame in read_pcap(&s.path(&format!("out{port}.pcap"))) {
            match id_in(&frame) {
                Some(id) => got
                    .entry(id)
                    .or_default()
                    .push(observe(&tenants, port, &frame)),
                None => {
                    assert_eq!(observe(&tenants, port, &frame).vni, Some(attacker.vni));
                    storm_copies += 1;
                }
            }
        }
    }
    let mut wrong = Vec::new();
    for (id, (vni, mut expect)) in want {
        let mut copies = got.remove(&id).unwrap_or_default();
        copies.sort();
        expect.sort();
        if copies != expect {
            wrong.push(format!(
                "frame {id} (VNI {vni}): {copies:?}, expected {expect:?}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} frames of other tenants went wrong:\n{}",
        wrong.len(),
        wrong
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );

    let vni = |id: u32, key: &str| -> u64 {
        report["gateway"]["vnis"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["id"] == id)
            .and_then(|v| v[key].as_u64())
            .unwrap_or_else(|| panic!("no {key} for VNI {id}"))
    };
    // The attacker's table stopped at its limit; the others learned every station.
    assert_eq!(vni(5001, "macs"), MAX_MACS);
    assert_eq!(vni(5001, "mac_limit_hits"), u64::from(STORM) - MAX_MACS);
    for t in others {
        assert_eq!(
            vni(t.vni, "macs"),
            500,
            "VNI {} learned its stations",
            t.vni
        );
        assert_eq!(vni(t.vni, "bum_rate_limited"), 0);
    }
    // Its storm was held to its rate: what passed is a burst plus the rate over the run, the
    // rest counted. Each admitted broadcast makes 3 copies (ports 2 and 3, one VTEP).
    let admitted = storm_copies / 3;
    assert_eq!(storm_copies % 3, 0);
    assert_eq!(
        vni(5001, "bum_rate_limited"),
        u64::from(STORM) - admitted,
        "every refused broadcast is counted"
    );
    let bound = (RATE as f64 * (seconds + 1.0)) as u64 + 32;
    assert!(
        admitted <= bound,
        "{admitted} broadcasts passed in {seconds:.1} s at {RATE}/s"
    );
    assert_eq!(
        report["drops"]["bum_rate_limited"].as_u64(),
        Some(u64::from(STORM) - admitted)
    );
}

/// An ARP reply (`sha` is at `spa`), untagged or tagged with `vlan`.
fn arp_reply(sha: Mac, spa: [u8; 4], vlan: Option<u16>) -> Vec<u8> {
    let mut f = BROADCAST.to_vec();
    f.extend_from_slice(&sha);
    if let Some(v) = vlan {
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&v.to_be_bytes());
    }
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 2]);
    f.extend_from_slice(&sha);
    f.extend_from_slice(&spa);
    f.extend_from_slice(&BROADCAST);
    f.extend_from_slice(&spa);
    f.resize(f.len().max(60), 0);
    f
}

#[test]
fn static_entries_and_bindings_survive_learning_and_spoofing() {
    let _slot = serial();
    let s = Scratch::new();
    let tenants = tenants();
    let t = &tenants[1]; // VNI 5002: native on port 2, remote host behind 10.0.0.12.
    let config = config(&tenants, "arp_suppression = true\n")
        + &format!(
            "\n[[arp]]\nvni = {}\nip = \"192.168.2.10\"\nmac = \"{}\"\n",
            t.vni,
            mac_text(t.local_host.0)
        );
    let attacker: Mac = [0x02, 0xba, 0xd0, 0, 0, 1];
    let accomplice: Mac = [0x02, 0xba, 0xd0, 0, 0, 2];
    let claim = [192, 168, 2, 10];
    // From an access port (port 3 carries VNI 5002 tagged): frames sourced from the static
    // remote host's MAC, and ARP replies claiming the static binding.
    let access = vec![
        tenant(t.remote_host, UNKNOWN, Some(t.vlan), b"steal"),
        arp_reply(attacker, claim, Some(t.vlan)),
    ];
    // From a VTEP of the VNI: the static local host's MAC, and the same claim.
    let fabric = vec![
        from_fabric(
            t.encap,
            t.flood[1],
            t.vni,
            &tenant(t.local_host.0, UNKNOWN, None, b"steal"),
        ),
        from_fabric(
            t.encap,
            t.flood[1],
            t.vni,
            &arp_reply(accomplice, claim, None),
        ),
    ];
    let (v, _) = common::api::pcap_ports(
        Vtepd::new(&s, &config),
        &s,
        &[fabric, Vec::new(), Vec::new(), access],
    );
    let api = common::api::Api::new(v.api_url().unwrap());
    let vtepd = v.spawn();
    let stats = common::api::poll(
        &api,
        "/api/v1/stats",
        std::time::Duration::from_secs(10),
        |s| {
            let t = &s["gateway"]["tables"];
            t["refused_static"].as_u64() >= Some(2)
                && t["binding_spoof_refused"].as_u64() >= Some(2)
        },
    );
    let fdb = api.get_ok(&format!("/api/v1/fdb?vni={}", t.vni));
    let arp = api.get_ok(&format!("/api/v1/arp?vni={}", t.vni));
    let metrics = common::api::parse_exposition(&api.get("/metrics").body).unwrap();
    vtepd.stop().assert_success();

    let entry = |mac: Mac| {
        fdb.as_array()
            .unwrap()
            .iter()
            .find(|e| e["mac"] == mac_text(mac))
            .cloned()
            .unwrap_or_else(|| panic!("{} is gone: {fdb:#}", mac_text(mac)))
    };
    let remote = entry(t.remote_host);
    assert_eq!(
        (remote["remote"].as_str(), remote["static"].as_bool()),
        (Some("10.0.0.12"), Some(true))
    );
    let local = entry(t.local_host.0);
    assert_eq!(
        (local["port"].as_str(), local["static"].as_bool()),
        (Some("net_pcap2"), Some(true))
    );
    let bindings = arp.as_array().unwrap();
    let b = bindings
        .iter()
        .find(|b| b["ip"] == "192.168.2.10")
        .unwrap_or_else(|| panic!("the static binding is gone: {arp:#}"));
    assert_eq!(
        (b["mac"].as_str(), b["static"].as_bool()),
        (Some(mac_text(t.local_host.0).as_str()), Some(true))
    );
    assert_eq!(
        metrics.value("vtepd_bindings_spoof_refused_total", &[]),
        stats["gateway"]["tables"]["binding_spoof_refused"].as_f64()
    );
}
