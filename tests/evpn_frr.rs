//! BGP EVPN with real FRR (Debian's frr): a route reflector, a Linux host running FRR with
//! kernel VXLAN (`advertise-all-vni`) as a VTEP, and vtepd with FRR in its shadow namespace,
//! all in namespaces this test makes, on one L2 fabric segment (10.0.0.0/24):
//!
//! ```text
//!  h1 ─acc─ [vtepd, ns gw] ─und─┐                    ┌─ rr   10.0.0.100 (FRR, reflector)
//!  192.168.100.1    VTEP 10.0.0.1├── fab (bridge) ───┤
//!  shadow ns: FRR ─mgmt 10.0.0.11┘                    └─ lv   10.0.0.3 (FRR + kernel VXLAN) ─ h3
//! ```
//!
//! FRR in vtepd's namespace peers over a management interface there (BGP over the underlay
//! port needs the exception path, not built yet). The hosts ping each other; vtepd's flood
//! list comes from type 3 routes, its remote MAC from a type 2 route, and its local MAC is
//! advertised as type 2 (checked on the reflector: RD, RT, VNI, next hop, and at the Linux
//! VTEP's kernel), known unicast then flows without flooding; stopping vtepd withdraws its
//! routes everywhere.
//!
//! Needs root, iproute2, ping, nsenter and FRR; skipped, saying so, without them.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::api::{Api, Proxy};
use common::frr::Frr;
use common::netns::{capable, veth, wait_until, NameOnly, Netns};
use common::{serial, Running, Scratch, Vtepd};
use serde_json::Value;

const VNI: u32 = 100;
const H1_MAC: &str = "02:00:00:00:01:01";
const H3_MAC: &str = "02:00:00:00:03:03";

fn gateway_config(namespace: &str) -> String {
    format!(
        r#"
[underlay]
port = "net_af_packet0"
addresses = ["10.0.0.1/24"]

[[access]]
port = "net_af_packet1"
untagged_vni = {VNI}

[[vni]]
id = {VNI}
control = "evpn"

[evpn]
namespace = "{namespace}"
"#
    )
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The sample gateway config for another router id (the Linux VTEP's).
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

struct Fabric {
    fab: Netns,
    rr: Netns,
    lv: Netns,
    h3: Netns,
    gw: Netns,
    h1: Netns,
}

fn fabric() -> Fabric {
    let f = Fabric {
        fab: Netns::new(),
        rr: Netns::new(),
        lv: Netns::new(),
        h3: Netns::new(),
        gw: Netns::new(),
        h1: Netns::new(),
    };
    f.fab.ip(&["link", "add", "fab", "type", "bridge"]);
    f.fab.quiet_up("fab");
    plug(&f.fab, f.rr.name(), "f-rr", "eth0");
    f.rr.quiet_up("eth0");
    f.rr.addr("eth0", "10.0.0.100/24");
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
    f.h3.ip(&["link", "set", "eth0", "address", H3_MAC]);
    f.h3.quiet_up("eth0");
    f.h3.addr("eth0", "192.168.100.3/24");
    // vtepd's ports: the underlay on the fabric, the access port to h1.
    plug(&f.fab, f.gw.name(), "f-gw", "und");
    f.gw.quiet_up("und");
    veth(&f.gw, "acc", &f.h1, "eth0");
    f.gw.quiet_up("acc");
    f.h1.ip(&["link", "set", "eth0", "address", H1_MAC]);
    f.h1.quiet_up("eth0");
    f.h1.addr("eth0", "192.168.100.1/24");
    f
}

fn vtepd(s: &Scratch, gw: &Netns, shadow: &NameOnly) -> (Running, Api, Proxy) {
    let v = Vtepd::new(s, &gateway_config(shadow.name()))
        .vdev("net_af_packet0,iface=und")
        .vdev("net_af_packet1,iface=acc");
    let url = v.api_url().expect("harness-chosen API port");
    let port: u16 = url.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap();
    let running = gw.vtepd_net_only(v);
    // The API listens on gw's loopback: reached through a proxy.
    let (proxy, local) = Proxy::start(gw, port);
    (
        running,
        Api::new(format!("http://127.0.0.1:{local}")),
        proxy,
    )
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

fn vni_view(api: &Api) -> Value {
    api.get_ok(&format!("/api/v1/vnis/{VNI}"))
}

fn evpn_view(api: &Api) -> Value {
    api.get_ok("/api/v1/evpn")["vnis"][0].clone()
}

fn ping_ok(from: &Netns, to: &str) -> bool {
    let p = from.ping(to, 3);
    p.status.success() && String::from_utf8_lossy(&p.stdout).contains(" 0% packet loss")
}

#[test]
fn vtepd_and_a_linux_vtep_exchange_type_2_and_3_routes_through_a_reflector() {
    if !capable(&["ping", "nsenter", "vtysh", "bridge"]) {
        return;
    }
    let _slot = serial();
    let s = Scratch::new();
    let f = fabric();
    let rr = Frr::start(f.rr.name(), &repo("config/frr/route-reflector.conf"));
    let lv = Frr::start(f.lv.name(), &frr_config(&s, "linux-vtep", "10.0.0.3"));

    let shadow = NameOnly::new();
    let (gateway, api, _proxy) = vtepd(&s, &f.gw, &shadow);
    // FRR's own way to the reflector: a management interface in vtepd's namespace.
    plug(&f.fab, shadow.name(), "f-mg", "mgmt");
    shadow.ip(&["addr", "add", "10.0.0.11/24", "dev", "mgmt"]);
    shadow.ip(&["link", "set", "mgmt", "up"]);
    let gw_frr = Frr::start(shadow.name(), &repo("config/frr/gateway.conf"));
    let dump = || {
        format!(
            "reflector:\n{}\ngateway FRR:\n{}\n{}\nlinux VTEP fdb:\n{}\nvtepd evpn: {:#}",
            rr.vtysh("show bgp l2vpn evpn route"),
            gw_frr.vtysh("show bgp l2vpn evpn summary"),
            gw_frr.logs(),
            f.lv.ok(&["bridge", "fdb", "show", "dev", "vxlan100"]),
            api.get_ok("/api/v1/evpn"),
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
        || evpn_view(&api)["flood_vteps"] == serde_json::json!(["10.0.0.3"]),
        dump,
    );
    eventually(
        20,
        "the Linux VTEP floods to vtepd",
        || {
            f.lv.ok(&["bridge", "fdb", "show", "dev", "vxlan100"])
                .contains("00:00:00:00:00:00 dst 10.0.0.1")
        },
        dump,
    );
    assert_eq!(api.get_ok("/api/v1/evpn")["frr_running"], true);

    // The hosts reach each other across vtepd and the kernel VTEP.
    eventually(30, "h1 pings h3", || ping_ok(&f.h1, "192.168.100.3"), dump);

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
        || {
            f.lv.ok(&["bridge", "fdb", "show", "dev", "vxlan100"])
                .contains(&format!("{H1_MAC} dst 10.0.0.1"))
        },
        dump,
    );
    // h3's MAC came to vtepd by its type 2 route, not by learning.
    let h3 = api
        .get_ok(&format!("/api/v1/fdb?vni={VNI}"))
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["mac"] == H3_MAC)
        .cloned()
        .unwrap_or_else(|| panic!("h3's MAC not at vtepd\n{}", dump()));
    assert_eq!(h3["origin"], "evpn");
    assert_eq!(h3["remote"], "10.0.0.3");
    assert_eq!(evpn_view(&api)["local_macs"], serde_json::json!([H1_MAC]));

    // Both MACs known on both sides: unicast, no flooding at vtepd.
    let flooded = vni_view(&api)["flood_copies"].as_u64().unwrap();
    assert!(ping_ok(&f.h1, "192.168.100.3"), "{}", dump());
    assert!(ping_ok(&f.h3, "192.168.100.1"), "{}", dump());
    assert_eq!(
        vni_view(&api)["flood_copies"].as_u64().unwrap(),
        flooded,
        "known unicast was flooded"
    );

    // vtepd stops: its devices go, zebra withdraws its routes, the others remove them.
    let out = gateway.stop();
    out.assert_success();
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
        || {
            !f.lv
                .ok(&["bridge", "fdb", "show", "dev", "vxlan100"])
                .contains("10.0.0.1")
        },
        || f.lv.ok(&["bridge", "fdb", "show", "dev", "vxlan100"]),
    );
    // FRR still runs in the namespace: kept for the next vtepd, and said so.
    assert!(shadow.exists());
    assert!(out.stderr.contains("kept"), "{}", out.stderr);
    gw_frr.stop();
    lv.stop();
    rr.stop();
}
