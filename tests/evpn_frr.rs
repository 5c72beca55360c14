//! BGP EVPN with real FRR (Debian's frr): a route reflector, a Linux host running FRR with
//! kernel VXLAN (`advertise-all-vni`) as a VTEP, and vtepd with FRR in its shadow namespace,
//! all in namespaces this test makes, on one L2 fabric segment (10.0.0.0/24):
//!
//! ```text
//!  h1 ─acc─ [vtepd, ns gw] ─und─┐                    ┌─ rr   10.0.0.100 (FRR, reflector)
//!  192.168.100.1    VTEP 10.0.0.1├── fab (bridge) ───┤
//!  (shadow ns: FRR ─mgmt 10.0.0.11)                   └─ lv   10.0.0.3 (FRR + kernel VXLAN) ─ h3
//! ```
//!
//! The first test's FRR peers over vtepd's underlay port (the exception path), as on a
//! gateway whose only links are its fabric ports; the two-gateway test's peer over a
//! management interface moved into the namespace (`bgp_via = "namespace"`). The hosts ping
//! each other; vtepd's flood list comes from type 3 routes, its remote MAC from a type 2
//! route, and its local MAC is advertised as type 2 (checked on the reflector: RD, RT, VNI,
//! next hop, and at the Linux VTEP's kernel), known unicast then flows without flooding; a
//! SYN flood at the VTEP address leaves forwarding and the BGP session alone; stopping
//! vtepd withdraws its routes everywhere.
//!
//! Needs root, iproute2, ping, nsenter and FRR; skipped, saying so, without them.

mod common;

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::api::{Api, Proxy};
use common::frr::Frr;
use common::netns::{capable, veth, wait_until, NameOnly, Netns};
use common::{serial, Running, Scratch, Vtepd};
use serde_json::{json, Value};

const VNI: u32 = 100;
const H1_MAC: &str = "02:00:00:00:01:01";
const H2_MAC: &str = "02:00:00:00:02:02";
const H3_MAC: &str = "02:00:00:00:03:03";

/// How a test gateway's FRR reaches the reflector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bgp {
    /// Over vtepd's underlay port (the exception path).
    Underlay,
    /// Over a management interface of its own in the namespace.
    Management,
}

fn gateway_config(vtep: &str, namespace: &str, bgp: Bgp) -> String {
    let bgp_via = match bgp {
        Bgp::Underlay => "underlay",
        Bgp::Management => "namespace",
    };
    format!(
        r#"
[underlay]
port = "net_af_packet0"
addresses = ["{vtep}/24"]

[[access]]
port = "net_af_packet1"
untagged_vni = {VNI}

[[vni]]
id = {VNI}
control = "evpn"

[evpn]
namespace = "{namespace}"
bgp_via = "{bgp_via}"
"#
    )
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The sample gateway config for another router (the Linux VTEP's, gateway B's): its router
/// id is its VTEP address.
fn frr_config(s: &Scratch, name: &str, router_id: &str) -> PathBuf {
    let text = std::fs::read_to_string(repo("config/frr/gateway.conf")).unwrap();
    s.write(
        &format!("{name}.conf"),
        &text.replace(
            "bgp router-id 10.0.0.1",
            &format!("bgp router-id {router_id}"),
        ),
    )
}

/// A port of the fabric bridge, its other end `inner` in `ns`.
fn plug(fab: &Netns, ns: &str, port: &str, inner: &str) {
    fab.ip(&[
        "link", "add", port, "type", "veth", "peer", "name", inner, "netns", ns,
    ]);
    fab.ip(&["link", "set", port, "master", "fab", "up"]);
}

/// A tenant host: `eth0` with a fixed MAC and address.
/// A permanent ARP entry on the host's eth0.
fn pin_neighbor(ns: &Netns, ip: &str, mac: &str) {
    ns.ip(&[
        "neigh",
        "replace",
        ip,
        "lladdr",
        mac,
        "nud",
        "permanent",
        "dev",
        "eth0",
    ]);
}

fn host(ns: &Netns, mac: &str, addr: &str) {
    ns.ip(&["link", "set", "eth0", "address", mac]);
    ns.quiet_up("eth0");
    ns.addr("eth0", addr);
}

/// The fabric segment with the route reflector and the Linux VTEP (h3 behind it).
struct Fabric {
    fab: Netns,
    rr: Netns,
    lv: Netns,
    h3: Netns,
}

fn fabric() -> Fabric {
    let f = Fabric {
        fab: Netns::new(),
        rr: Netns::new(),
        lv: Netns::new(),
        h3: Netns::new(),
    };
    f.fab.ip(&["link", "add", "fab", "type", "bridge"]);
    f.fab.quiet_up("fab");
    plug(&f.fab, f.rr.name(), "f-rr", "eth0");
    f.rr.quiet_up("eth0");
    f.rr.addr("eth0", "10.0.0.100/24");
    // The reflector's TCP reaches vtepd's exception path over veths only: its checksums
    // must be in the frames (docs/ARCHITECTURE.md, AF_PACKET consumers).
    f.rr.ok(&["ethtool", "-K", "eth0", "tx", "off"]);
    plug(&f.fab, f.lv.name(), "f-lv", "eth0");
    f.lv.quiet_up("eth0");
    f.lv.addr("eth0", "10.0.0.3/24");
    // The Linux VTEP: a bridge with kernel VXLAN (no data-plane learning: EVPN fills it)
    // and the host h3 on it.
    f.lv.ip(&["link", "add", "br100", "type", "bridge"]);
    f.lv.ip(&[
        "link",
        "add",
        "vxlan100",
        "type",
        "vxlan",
        "id",
        "100",
        "local",
        "10.0.0.3",
        "dstport",
        "4789",
        "nolearning",
    ]);
    f.lv.ip(&["link", "set", "vxlan100", "master", "br100"]);
    veth(&f.lv, "h3", &f.h3, "eth0");
    f.lv.ip(&["link", "set", "h3", "master", "br100"]);
    for dev in ["br100", "vxlan100", "h3"] {
        f.lv.quiet_up(dev);
    }
    host(&f.h3, H3_MAC, "192.168.100.3/24");
    f
}

/// A vtepd gateway on the fabric with FRR in its namespace, and a tenant host on its
/// access port.
struct Gateway {
    vtep: String,
    /// The gateway's own namespace (its ports), kept for its life.
    ns: Netns,
    host: Netns,
    shadow: NameOnly,
    // Taken by the stop methods while failure dumps still borrow the gateway.
    vtepd: RefCell<Option<Running>>,
    api: Api,
    _proxy: Proxy,
    frr: RefCell<Option<Frr>>,
}

impl Gateway {
    /// Gateway `n` (1, 2): VTEP 10.0.0.n, management address (if any) 10.0.0.1n.
    fn start(s: &Scratch, f: &Fabric, n: u8, bgp: Bgp, host_mac: &str, host_addr: &str) -> Gateway {
        let vtep = format!("10.0.0.{n}");
        let (ns, tenant) = (Netns::new(), Netns::new());
        plug(&f.fab, ns.name(), &format!("f-gw{n}"), "und");
        ns.quiet_up("und");
        veth(&ns, "acc", &tenant, "eth0");
        ns.quiet_up("acc");
        host(&tenant, host_mac, host_addr);
        let shadow = NameOnly::new();
        let v = Vtepd::new(s, &gateway_config(&vtep, shadow.name(), bgp))
            .vdev("net_af_packet0,iface=und")
            .vdev("net_af_packet1,iface=acc");
        let port = v.api_port().expect("harness-chosen API port");
        let vtepd = ns.vtepd_net_only(v);
        // The API listens on the gateway namespace's loopback: reached through a proxy.
        let (proxy, local) = Proxy::start(&ns, port);
        if bgp == Bgp::Management {
            // FRR's own way to the reflector: a management interface in vtepd's namespace.
            plug(&f.fab, shadow.name(), &format!("f-mg{n}"), "mgmt");
            shadow.ip(&["addr", "add", &format!("10.0.0.1{n}/24"), "dev", "mgmt"]);
            shadow.ip(&["link", "set", "mgmt", "up"]);
        }
        let frr = Frr::start(shadow.name(), &frr_config(s, &format!("gw{n}"), &vtep));
        Gateway {
            vtep,
            ns,
            host: tenant,
            shadow,
            vtepd: RefCell::new(Some(vtepd)),
            api: Api::new(format!("http://127.0.0.1:{local}")),
            _proxy: proxy,
            frr: RefCell::new(Some(frr)),
        }
    }

    /// Kills FRR in the gateway's namespace, as a crash would.
    fn kill_frr(&self) {
        self.frr.take().expect("FRR runs").kill();
    }

    /// Where the gateway's tables have `mac`: (origin, remote VTEP or port).
    fn mac(&self, mac: &str) -> Option<(String, String)> {
        self.api
            .get_ok(&format!("/api/v1/fdb?vni={VNI}"))
            .as_array()?
            .iter()
            .find(|e| e["mac"] == mac)
            .map(|e| {
                let at = e["remote"].as_str().or(e["port"].as_str()).unwrap_or("");
                (e["origin"].as_str().unwrap_or("").to_owned(), at.to_owned())
            })
    }

    fn evpn(&self) -> Value {
        self.api.get_ok("/api/v1/evpn")
    }

    fn vni(&self) -> Value {
        self.api.get_ok(&format!("/api/v1/vnis/{VNI}"))
    }

    fn dump(&self) -> String {
        if self.vtepd.borrow().is_none() {
            return format!("gateway {}: stopped\n", self.vtep);
        }
        format!(
            "gateway {}: FRR\n{}\n{}\nvtepd evpn: {:#}\nvtepd fdb: {:#}\n",
            self.vtep,
            self.frr
                .borrow()
                .as_ref()
                .map(|f| f.vtysh("show bgp l2vpn evpn summary") + &f.logs())
                .unwrap_or_default(),
            self.shadow.bridge(&["fdb", "show"]),
            self.evpn(),
            self.api.get_ok("/api/v1/fdb"),
        )
    }

    fn stop_vtepd(&self) -> common::Outcome {
        let out = self.vtepd.take().expect("vtepd runs").stop();
        out.assert_success();
        out
    }
}

impl Drop for Gateway {
    /// vtepd before its FRR, as an operator would; the namespace goes with the guard.
    fn drop(&mut self) {
        drop(self.vtepd.take());
        drop(self.frr.take());
    }
}

/// Waits for `f`, or fails with `dump()` (the routers' and vtepd's views).
fn eventually(limit_secs: u64, what: &str, mut f: impl FnMut() -> bool, dump: impl Fn() -> String) {
    if !wait_until(
        Duration::from_secs(limit_secs),
        Duration::from_millis(100),
        &mut f,
    ) {
        panic!("not within {limit_secs} s: {what}\n{}", dump());
    }
}

/// The reflector's EVPN routes as (RD, prefix, next hop, extended communities).
fn routes(rr: &Frr) -> Vec<(String, String, String, String)> {
    let v = rr.json("show bgp l2vpn evpn route json");
    let mut out = Vec::new();
    for (rd, prefixes) in v.as_object().into_iter().flatten() {
        let Some(prefixes) = prefixes.as_object() else {
            continue;
        };
        for (prefix, entry) in prefixes {
            let Some(paths) = entry["paths"].as_array() else {
                continue;
            };
            for p in paths
                .iter()
                .flat_map(|p| p.as_array().into_iter().flatten())
            {
                out.push((
                    rd.clone(),
                    prefix.clone(),
                    p["nexthops"][0]["ip"].as_str().unwrap_or("").to_owned(),
                    p["extendedCommunity"]["string"]
                        .as_str()
                        .unwrap_or("")
                        .to_owned(),
                ));
            }
        }
    }
    out
}

fn has_route(rr: &Frr, prefix: &str, next_hop: &str) -> bool {
    routes(rr)
        .iter()
        .any(|(_, p, nh, _)| p == prefix && nh == next_hop)
}

fn type3(vtep: &str) -> String {
    format!("[3]:[0]:[32]:[{vtep}]")
}

fn type2(mac: &str) -> String {
    format!("[2]:[0]:[48]:[{mac}]")
}

fn ping_ok(from: &Netns, to: &str) -> bool {
    let p = from.ping(to, 3);
    p.status.success() && String::from_utf8_lossy(&p.stdout).contains(" 0% packet loss")
}

/// Pings 20 times each way between hosts whose MACs every gateway knows, and checks that no
/// gateway flooded them: flooded, the pings would cost each gateway at least 40 copies. A
/// few copies in the window are background BUM (a kernel's ARP or the Linux VTEP's own
/// multicast) that the pinned neighbour entries make rare but cannot rule out.
fn assert_unicast_not_flooded(
    pairs: &[(&Netns, &str)],
    at: &[&Gateway],
    dump: impl Fn() -> String,
) {
    const PINGS: u64 = 20;
    const BACKGROUND: u64 = 4;
    let copies = || {
        at.iter()
            .map(|g| g.vni()["flood_copies"].as_u64().unwrap_or(0))
            .collect::<Vec<_>>()
    };
    let before = copies();
    for (from, to) in pairs {
        let p = from.ping(to, PINGS as u32);
        assert!(
            String::from_utf8_lossy(&p.stdout).contains(" 0% packet loss"),
            "ping {to}: {}\n{}",
            String::from_utf8_lossy(&p.stdout),
            dump()
        );
    }
    for ((g, b), a) in at.iter().zip(&before).zip(copies()) {
        assert!(
            a.saturating_sub(*b) <= BACKGROUND,
            "known unicast was flooded at {}: {} copies for {} pings\n{}",
            g.vtep,
            a.saturating_sub(*b),
            PINGS * pairs.len() as u64,
            dump()
        );
    }
}

fn lv_fdb(f: &Fabric) -> String {
    f.lv.ok(&["bridge", "fdb", "show", "dev", "vxlan100"])
}

#[test]
fn vtepd_and_a_linux_vtep_exchange_type_2_and_3_routes_through_a_reflector() {
    if !capable(&["ping", "nsenter", "vtysh", "bridge", "ethtool"]) {
        return;
    }
    let _slot = serial();
    let s = Scratch::new();
    let f = fabric();
    let rr = Frr::start(f.rr.name(), &repo("config/frr/route-reflector.conf"));
    let lv = Frr::start(f.lv.name(), &frr_config(&s, "linux-vtep", "10.0.0.3"));
    let a = Gateway::start(&s, &f, 1, Bgp::Underlay, H1_MAC, "192.168.100.1/24");
    let dump = || {
        format!(
            "reflector:\n{}\n{}linux VTEP fdb:\n{}",
            rr.vtysh("show bgp l2vpn evpn route"),
            a.dump(),
            lv_fdb(&f),
        )
    };

    // Type 3 from both VTEPs; each builds its flood list from the other's.
    eventually(
        60,
        "type 3 routes of both VTEPs on the reflector",
        || {
            has_route(&rr, &type3("10.0.0.1"), "10.0.0.1")
                && has_route(&rr, &type3("10.0.0.3"), "10.0.0.3")
        },
        dump,
    );
    eventually(
        20,
        "vtepd's flood list from the Linux VTEP's type 3 route",
        || a.evpn()["vnis"][0]["flood_vteps"] == json!(["10.0.0.3"]),
        dump,
    );
    eventually(
        20,
        "the Linux VTEP floods to vtepd",
        || lv_fdb(&f).contains("00:00:00:00:00:00 dst 10.0.0.1"),
        dump,
    );
    assert_eq!(a.evpn()["frr_running"], true);

    // The hosts reach each other across vtepd and the kernel VTEP.
    eventually(
        30,
        "h1 pings h3",
        || ping_ok(&a.host, "192.168.100.3"),
        dump,
    );

    // h1's MAC, learned on vtepd's access port, is advertised: type 2 with vtepd's RD, the
    // VNI's RT, the VXLAN encapsulation community, VNI 100, next hop the VTEP address.
    eventually(
        20,
        "h1's type 2 route on the reflector",
        || has_route(&rr, &type2(H1_MAC), "10.0.0.1"),
        dump,
    );
    let (rd, _, _, ext) = routes(&rr)
        .into_iter()
        .find(|(_, p, _, _)| p == &type2(H1_MAC))
        .unwrap();
    assert!(rd.starts_with("10.0.0.1:"), "route distinguisher {rd}");
    assert!(
        ext.contains("RT:65000:100") && ext.contains("ET:8"),
        "{ext}"
    );
    let detail = rr.vtysh("show bgp l2vpn evpn route detail type macip");
    assert!(
        detail.contains(&format!("Route {} VNI {VNI}", type2(H1_MAC))),
        "{detail}"
    );
    let (rd3, _, _, ext3) = routes(&rr)
        .into_iter()
        .find(|(_, p, _, _)| p == &type3("10.0.0.1"))
        .unwrap();
    assert_eq!(rd3, rd);
    assert!(ext3.contains("ET:8"), "{ext3}");
    // ... and installed at the Linux VTEP behind vtepd's address.
    eventually(
        20,
        "h1's MAC at the Linux VTEP",
        || lv_fdb(&f).contains(&format!("{H1_MAC} dst 10.0.0.1")),
        dump,
    );
    // h3's MAC came to vtepd by its type 2 route, not by learning.
    assert_eq!(
        a.mac(H3_MAC),
        Some(("evpn".into(), "10.0.0.3".into())),
        "{}",
        dump()
    );
    assert_eq!(a.evpn()["vnis"][0]["local_macs"], json!([H1_MAC]));

    // A static MAC on the access port is advertised sticky (RFC 7432 §15.2): the fabric
    // never moves it.
    const PINNED: &str = "02:00:00:00:01:99";
    a.api.expect(
        201,
        "POST",
        "/api/v1/fdb",
        Some(&json!({"vni": VNI, "mac": PINNED, "port": "net_af_packet1"})),
    );
    eventually(
        20,
        "the static MAC's type 2 route, sticky",
        || {
            routes(&rr).iter().any(|(_, p, nh, ext)| {
                p == &type2(PINNED) && nh == "10.0.0.1" && ext.contains("sticky")
            })
        },
        dump,
    );
    eventually(
        20,
        "the static MAC at the Linux VTEP, sticky there too",
        || lv_fdb(&f).contains(&format!("{PINNED} dst 10.0.0.1")),
        dump,
    );
    a.api
        .expect(204, "DELETE", &format!("/api/v1/fdb/{VNI}/{PINNED}"), None);
    eventually(
        20,
        "the static MAC's route withdrawn",
        || !has_route(&rr, &type2(PINNED), "10.0.0.1"),
        dump,
    );

    // Both MACs known on both sides: unicast, no flooding at vtepd (the hosts' ARP entries
    // pinned, as a broadcast request when one expires is flooded, rightly).
    pin_neighbor(&a.host, "192.168.100.3", H3_MAC);
    pin_neighbor(&f.h3, "192.168.100.1", H1_MAC);
    assert_unicast_not_flooded(
        &[(&a.host, "192.168.100.3"), (&f.h3, "192.168.100.1")],
        &[&a],
        dump,
    );

    // The BGP session runs through vtepd's underlay port: both ways of the exception path.
    let exception = |k: &str| a.evpn()["exception"][k].as_u64().unwrap();
    assert!(exception("to_kernel_packets") > 0, "{}", dump());
    assert!(exception("from_kernel_packets") > 0, "{}", dump());
    let session = || rr.json("show bgp neighbors 10.0.0.1 json")["10.0.0.1"].clone();
    let before = session();
    assert_eq!(before["bgpState"], "Established", "{before}");

    // A SYN flood at the VTEP's BGP port for longer than the session's hold time (9 s), at
    // 20 times what the new-connection class admits (1000/s; a rate this debug build on
    // AF_PACKET forwards beside the tenants' traffic: the policer protects the kernel and
    // the session, a worker's own capacity is the NIC's and the core's): tenant traffic is
    // still forwarded, the session stays up, the flood is policed.
    let und_mac = a.ns.ok(&["cat", "/sys/class/net/und/address"]);
    let script = repo("tests/traffic/syn_flood.py");
    let flood = f.rr.spawn(&[
        "python3",
        script.to_str().unwrap(),
        "eth0",
        und_mac.trim(),
        "10.0.0.1",
        "179",
        "12",
        "20000",
    ]);
    std::thread::sleep(Duration::from_secs(1));
    for _ in 0..3 {
        assert!(
            ping_ok(&a.host, "192.168.100.3"),
            "forwarding under the flood\n{}",
            dump()
        );
    }
    let sent: u64 = flood.wait(Duration::from_secs(60)).trim().parse().unwrap();
    let policed = a.api.get_ok("/api/v1/stats")["drops"]["exception_policed"]
        .as_u64()
        .unwrap();
    assert!(sent > 100_000, "the flood sent only {sent} SYNs");
    // The new-connection class admits 1000/s: the rest of the flood never reached the kernel.
    assert!(
        policed > sent / 2,
        "{policed} of {sent} SYNs policed\n{}",
        dump()
    );
    let after = session();
    assert_eq!(after["bgpState"], "Established", "{after}");
    assert_eq!(
        after["connectionsEstablished"], before["connectionsEstablished"],
        "the session was re-established during the flood: {after}"
    );
    assert!(ping_ok(&f.h3, "192.168.100.1"), "{}", dump());

    // vtepd stops: its devices go, zebra withdraws its routes, the others remove them.
    let out = a.stop_vtepd();
    eventually(
        30,
        "vtepd's routes withdrawn at the reflector",
        || {
            let r = routes(&rr);
            !r.iter()
                .any(|(_, p, _, _)| p == &type3("10.0.0.1") || p == &type2(H1_MAC))
        },
        || rr.vtysh("show bgp l2vpn evpn route"),
    );
    eventually(
        20,
        "vtepd's entries removed at the Linux VTEP",
        || !lv_fdb(&f).contains("10.0.0.1"),
        || lv_fdb(&f),
    );
    // FRR still runs in the namespace: kept for the next vtepd, and said so.
    assert!(a.shadow.exists());
    assert!(out.stderr.contains("kept"), "{}", out.stderr);
    drop(a);
    lv.stop();
    rr.stop();
}

/// Both VTEPs' type 3 routes are on the reflector and each has the others in its flood list.
fn wait_for_flood_lists(rr: &Frr, f: &Fabric, gateways: &[&Gateway], dump: &dyn Fn() -> String) {
    eventually(
        60,
        "type 3 routes of every VTEP on the reflector",
        || {
            gateways
                .iter()
                .map(|g| g.vtep.as_str())
                .chain(["10.0.0.3"])
                .all(|v| has_route(rr, &type3(v), v))
        },
        dump,
    );
    for g in gateways {
        let mut others: Vec<&str> = gateways
            .iter()
            .map(|o| o.vtep.as_str())
            .filter(|v| *v != g.vtep)
            .chain(["10.0.0.3"])
            .collect();
        others.sort();
        eventually(
            20,
            &format!("{}'s flood list from the type 3 routes", g.vtep),
            || g.evpn()["vnis"][0]["flood_vteps"] == json!(others),
            dump,
        );
        eventually(
            20,
            &format!("the Linux VTEP floods to {}", g.vtep),
            || lv_fdb(f).contains(&format!("00:00:00:00:00:00 dst {}", g.vtep)),
            dump,
        );
    }
}

#[test]
fn two_gateways_share_macs_a_moved_mac_converges_and_a_stopped_gateway_is_withdrawn() {
    if !capable(&["ping", "nsenter", "vtysh", "bridge", "ethtool"]) {
        return;
    }
    let _slot = serial();
    let s = Scratch::new();
    let f = fabric();
    let rr = Frr::start(f.rr.name(), &repo("config/frr/route-reflector.conf"));
    let lv = Frr::start(f.lv.name(), &frr_config(&s, "linux-vtep", "10.0.0.3"));
    let a = Gateway::start(&s, &f, 1, Bgp::Management, H1_MAC, "192.168.100.1/24");
    let b = Gateway::start(&s, &f, 2, Bgp::Management, H2_MAC, "192.168.100.2/24");
    let dump = || {
        format!(
            "reflector:\n{}\n{}{}linux VTEP fdb:\n{}",
            rr.vtysh("show bgp l2vpn evpn route detail"),
            a.dump(),
            b.dump(),
            lv_fdb(&f),
        )
    };
    wait_for_flood_lists(&rr, &f, &[&a, &b], &dump);

    // h1 behind A and h2 behind B reach each other; each gateway learns its own host and
    // gets the other's by its type 2 route; the Linux VTEP gets both.
    eventually(
        30,
        "h1 pings h2",
        || ping_ok(&a.host, "192.168.100.2"),
        dump,
    );
    assert!(ping_ok(&f.h3, "192.168.100.1"), "{}", dump());
    for (at, mac, vtep) in [(&b, H1_MAC, "10.0.0.1"), (&a, H2_MAC, "10.0.0.2")] {
        eventually(
            20,
            &format!("{mac} installed at {} behind {vtep}", at.vtep),
            || at.mac(mac) == Some(("evpn".into(), vtep.into())),
            dump,
        );
        eventually(
            20,
            &format!("{mac} at the Linux VTEP behind {vtep}"),
            || lv_fdb(&f).contains(&format!("{mac} dst {vtep}")),
            dump,
        );
    }
    // Known unicast between the gateways: no flood copies on either. The hosts' ARP entries
    // are pinned first: a broadcast ARP request when one expires is flooded, rightly.
    pin_neighbor(&a.host, "192.168.100.2", H2_MAC);
    pin_neighbor(&b.host, "192.168.100.1", H1_MAC);
    pin_neighbor(&f.h3, "192.168.100.1", H1_MAC);
    assert_unicast_not_flooded(
        &[(&a.host, "192.168.100.2"), (&b.host, "192.168.100.1")],
        &[&a, &b],
        dump,
    );
    a.host.ip(&["neigh", "del", "192.168.100.2", "dev", "eth0"]);
    b.host.ip(&["neigh", "del", "192.168.100.1", "dev", "eth0"]);
    f.h3.ip(&["neigh", "del", "192.168.100.1", "dev", "eth0"]);

    // h1 moves to B's rack: same MAC and address, now on B's access port (h2's host takes
    // over h1's identity). Its first frames there make B learn it over A's route; B's FRR
    // advertises it with a higher sequence and A gives it up.
    a.host.ip(&["link", "set", "eth0", "down"]);
    b.host.ip(&["addr", "flush", "dev", "eth0"]);
    host(&b.host, H1_MAC, "192.168.100.1/24");
    eventually(
        30,
        "the moved host reaches h3",
        || ping_ok(&b.host, "192.168.100.3"),
        dump,
    );
    eventually(
        20,
        "h1's route from B with a higher sequence on the reflector",
        || {
            routes(&rr).iter().any(|(_, p, nh, ext)| {
                p == &type2(H1_MAC) && nh == "10.0.0.2" && ext.contains("MM:")
            })
        },
        dump,
    );
    eventually(
        20,
        "A's own route for h1 withdrawn",
        || !has_route(&rr, &type2(H1_MAC), "10.0.0.1"),
        dump,
    );
    eventually(
        20,
        "h1 is remote behind B at A",
        || a.mac(H1_MAC) == Some(("evpn".into(), "10.0.0.2".into())),
        dump,
    );
    eventually(
        20,
        "h1 behind B at the Linux VTEP",
        || lv_fdb(&f).contains(&format!("{H1_MAC} dst 10.0.0.2")),
        dump,
    );
    assert_eq!(
        b.mac(H1_MAC).map(|(origin, _)| origin),
        Some("learned".into())
    );
    assert_eq!(a.evpn()["counters"]["moved_remote"], 1, "{}", dump());
    assert_eq!(b.evpn()["counters"]["moved_local"], 1, "{}", dump());
    // Converged: no loss.
    assert!(ping_ok(&f.h3, "192.168.100.1"), "{}", dump());

    // Gateway A stops: its type 3 route goes, B and the Linux VTEP stop flooding to it.
    a.stop_vtepd();
    eventually(
        30,
        "A's type 3 route withdrawn",
        || !has_route(&rr, &type3("10.0.0.1"), "10.0.0.1"),
        dump,
    );
    eventually(
        20,
        "B floods only to the Linux VTEP",
        || b.evpn()["vnis"][0]["flood_vteps"] == json!(["10.0.0.3"]),
        dump,
    );
    eventually(
        20,
        "the Linux VTEP no longer floods to A",
        || !lv_fdb(&f).contains("dst 10.0.0.1"),
        dump,
    );

    // FRR dies at B: vtepd notices and says so, and keeps the entries zebra left in the
    // kernel, as a Linux VTEP would (the fabric, its session gone, forgets B meanwhile).
    b.kill_frr();
    eventually(
        10,
        "B sees FRR gone",
        || b.evpn()["frr_running"] == false,
        dump,
    );
    assert_eq!(
        b.mac(H3_MAC),
        Some(("evpn".into(), "10.0.0.3".into())),
        "{}",
        dump()
    );
    assert_eq!(
        b.evpn()["vnis"][0]["flood_vteps"],
        json!(["10.0.0.3"]),
        "{}",
        dump()
    );
    let out = b.stop_vtepd();
    assert!(
        out.stderr.contains("FRR stopped in namespace"),
        "{}",
        out.stderr
    );
    drop((a, b));
    lv.stop();
    rr.stop();
}
