//! BGP EVPN's shadow namespace against a running vtepd, without FRR: the devices vtepd makes
//! for zebra, entries written the way zebra writes them (AF_BRIDGE entries with a
//! destination on `vxlan<VNI>`, the zero MAC for type 3, extern_learn neighbours on
//! `br<VNI>`) reaching vtepd's tables, local MACs exported, VNIs added and removed at run
//! time, a namespace that is not vtepd's refused untouched, and one a crash left taken over.
//! tests/evpn_frr.rs runs the same with real FRR routers.
//!
//! Needs root and iproute2 (`ip`, `bridge`); skipped, saying so, without them.

mod common;

use std::time::Duration;

use common::api::{null_ports, Api};
use common::netns::{capable, wait_until, NameOnly, Netns};
use common::{serial, Scratch, Vtepd};
use serde_json::{json, Value};

const GATEWAY: &str = r#"
[underlay]
port = "net_null0"
addresses = ["10.0.0.1/24"]
next_hop_mac = "02:00:00:00:00:fe"
vxlan_port = 4789

[[access]]
port = "net_null1"
untagged_vni = 5000

[[vni]]
id = 5000
control = "evpn"
arp_suppression = true

[[vni]]
id = 5100
vlan = 100
flood = ["10.0.0.2"]

[[fdb]]
vni = 5000
mac = "02:00:00:00:50:01"
port = "net_null1"
"#;

fn config(namespace: &str) -> String {
    format!("{GATEWAY}\n[evpn]\nnamespace = \"{namespace}\"\n")
}

fn start(s: &Scratch, namespace: &str) -> (common::Running, Api) {
    let v = null_ports(Vtepd::new(s, &config(namespace)));
    let api = Api::new(v.api_url().expect("harness-chosen API port"));
    (v.spawn(), api)
}

/// `ip -d -j link show dev NAME` in the namespace: the device's JSON.
fn link(ns: &NameOnly, name: &str) -> Value {
    let text = ns.ip(&["-d", "-j", "link", "show", "dev", name]);
    let v: Value = serde_json::from_str(&text).unwrap();
    v[0].clone()
}

fn links(ns: &NameOnly) -> Vec<String> {
    let v: Value = serde_json::from_str(&ns.ip(&["-j", "link", "show"])).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|l| l["ifname"].as_str().unwrap().to_owned())
        .collect()
}

/// The FDB entry of `mac` in VNI `vni` as the API shows it.
fn fdb_entry(api: &Api, vni: u32, mac: &str) -> Option<Value> {
    api.get_ok(&format!("/api/v1/fdb?vni={vni}"))
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["mac"] == mac)
        .cloned()
}

fn evpn_vni(api: &Api, vni: u32) -> Value {
    api.get_ok("/api/v1/evpn")["vnis"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["vni"] == vni)
        .cloned()
        .unwrap_or(Value::Null)
}

fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    assert!(
        wait_until(Duration::from_secs(10), Duration::from_millis(20), &mut f),
        "not within 10 s: {what}"
    );
}

#[test]
fn the_namespace_mirrors_evpn_vnis_and_carries_routes_both_ways() {
    if !capable(&["bridge"]) {
        return;
    }
    let _slot = serial();
    let s = Scratch::new();
    let ns = NameOnly::new();
    let (vtepd, api) = start(&s, ns.name());

    // vtep0: the underlay port's MAC and the VTEP address; vtepd's mark.
    let vtep0 = link(&ns, "vtep0");
    let underlay_mac = api.get_ok("/api/v1/ports")[0]["mac"].clone();
    assert_eq!(vtep0["address"], underlay_mac);
    assert!(vtep0["ifalias"].as_str().unwrap().starts_with("vtepd pid="));
    // BGP over the underlay (the default): the VTEP address with its subnet, on-link
    // through the exception path, and no TCP segment larger than the MTU.
    let addrs = ns.ip(&["-4", "-br", "addr", "show", "dev", "vtep0"]);
    assert!(addrs.contains("10.0.0.1/24"), "{addrs}");
    assert_eq!(vtep0["gso_max_segs"], 1, "{vtep0}");
    assert_eq!(
        api.get_ok("/api/v1/evpn")["exception"]["from_kernel_dropped"],
        0
    );

    // The EVPN VNI's three devices, as zebra needs them; none for the static VNI.
    let vx = link(&ns, "vxlan5000");
    let info = &vx["linkinfo"]["info_data"];
    assert_eq!(vx["linkinfo"]["info_kind"], "vxlan");
    assert_eq!(info["id"], 5000);
    assert_eq!(info["local"], "10.0.0.1");
    assert_eq!(info["port"], 4789);
    assert_eq!(info["learning"], false, "{vx}");
    assert_eq!(vx["master"], "br5000");
    assert_eq!(link(&ns, "vtd5000")["master"], "br5000");
    assert_eq!(link(&ns, "br5000")["linkinfo"]["info_kind"], "bridge");
    let names = links(&ns);
    assert!(!names.iter().any(|n| n.ends_with("5100")), "{names:?}");

    // The static local MAC is exported for zebra to advertise, sticky (never moved by the
    // fabric) and static.
    let exported = ns.bridge(&["-j", "fdb", "show", "dev", "vtd5000"]);
    let exported: Value = serde_json::from_str(&exported).unwrap();
    let entry = exported
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["mac"] == "02:00:00:00:50:01")
        .unwrap_or_else(|| panic!("not exported: {exported}"));
    assert!(
        entry["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "sticky"),
        "{entry}"
    );
    assert_eq!(entry["state"], "static", "{entry}");

    // No FRR here: said, and shown.
    let view = api.get_ok("/api/v1/evpn");
    assert_eq!(view["namespace"], ns.name());
    assert_eq!(view["frr_running"], false);

    // Zebra's writes: a type 3 flood entry, a type 2 MAC, a MAC/IP neighbour.
    ns.bridge(&[
        "fdb",
        "append",
        "00:00:00:00:00:00",
        "dev",
        "vxlan5000",
        "dst",
        "10.0.0.3",
        "self",
        "permanent",
    ]);
    ns.bridge(&[
        "fdb",
        "add",
        "02:00:00:00:03:03",
        "dev",
        "vxlan5000",
        "dst",
        "10.0.0.3",
        "self",
        "extern_learn",
    ]);
    ns.ip(&[
        "neigh",
        "add",
        "192.168.50.3",
        "lladdr",
        "02:00:00:00:03:03",
        "dev",
        "br5000",
        "extern_learn",
        "nud",
        "noarp",
    ]);
    eventually("the remote MAC in the tables", || {
        fdb_entry(&api, 5000, "02:00:00:00:03:03")
            .is_some_and(|e| e["origin"] == "evpn" && e["remote"] == "10.0.0.3")
    });
    eventually("the flood list", || {
        evpn_vni(&api, 5000)["flood_vteps"] == json!(["10.0.0.3"])
    });
    eventually("the binding for ARP suppression", || {
        api.get_ok("/api/v1/arp?vni=5000")
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["ip"] == "192.168.50.3" && a["mac"] == "02:00:00:00:03:03")
    });
    // EVPN entries do not age: no idle time.
    assert_eq!(
        fdb_entry(&api, 5000, "02:00:00:00:03:03").unwrap()["idle_secs"],
        Value::Null
    );

    // A route for the static MAC does not move it.
    ns.bridge(&[
        "fdb",
        "add",
        "02:00:00:00:50:01",
        "dev",
        "vxlan5000",
        "dst",
        "10.0.0.4",
        "self",
        "extern_learn",
    ]);
    eventually("the refusal counted", || {
        api.get_ok("/api/v1/evpn")["counters"]["refused_static"] == 1
    });
    assert_eq!(
        fdb_entry(&api, 5000, "02:00:00:00:50:01").unwrap()["port"],
        "net_null1"
    );

    // The MAC moves to another VTEP (a higher sequence elsewhere), then is withdrawn.
    ns.bridge(&[
        "fdb",
        "replace",
        "02:00:00:00:03:03",
        "dev",
        "vxlan5000",
        "dst",
        "10.0.0.4",
        "self",
        "extern_learn",
    ]);
    eventually("the move", || {
        fdb_entry(&api, 5000, "02:00:00:00:03:03").is_some_and(|e| e["remote"] == "10.0.0.4")
    });
    ns.bridge(&[
        "fdb",
        "del",
        "02:00:00:00:03:03",
        "dev",
        "vxlan5000",
        "self",
    ]);
    ns.bridge(&[
        "fdb",
        "del",
        "00:00:00:00:00:00",
        "dev",
        "vxlan5000",
        "dst",
        "10.0.0.3",
        "self",
    ]);
    eventually("the withdrawals", || {
        fdb_entry(&api, 5000, "02:00:00:00:03:03").is_none()
            && evpn_vni(&api, 5000)["flood_vteps"] == json!([])
    });
    let c = api.get_ok("/api/v1/evpn")["counters"].clone();
    assert_eq!(c["macs_installed"], 2, "{c}");
    assert_eq!(c["macs_withdrawn"], 1, "{c}");
    assert_eq!(c["resyncs"], 0, "{c}");
    let metrics = api.get("/metrics").body;
    assert!(
        metrics.contains("vtepd_evpn_macs_installed_total 2"),
        "{metrics}"
    );
    assert!(metrics.contains("vtepd_evpn_frr_running 0"), "{metrics}");

    // The static MAC deleted through the API is withdrawn from the namespace.
    let r = api.call("DELETE", "/api/v1/fdb/5000/02:00:00:00:50:01", None);
    assert_eq!(r.status, 204, "{r:?}");
    eventually("the export withdrawn", || {
        !ns.bridge(&["fdb", "show", "dev", "vtd5000"])
            .contains("02:00:00:00:50:01")
    });

    // A VNI added under EVPN through the API gets its devices; removed, they go.
    let r = api.call(
        "POST",
        "/api/v1/vnis",
        Some(r#"{"id": 5200, "vlan": 200, "control": "evpn"}"#),
    );
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(link(&ns, "vxlan5200")["master"], "br5200");
    let r = api.call("DELETE", "/api/v1/vnis/5200", None);
    assert_eq!(r.status, 204, "{r:?}");
    let names = links(&ns);
    assert!(!names.iter().any(|n| n.contains("5200")), "{names:?}");

    let out = vtepd.stop();
    out.assert_success();
    assert!(
        out.stderr.contains("FRR does not run in namespace"),
        "{}",
        out.stderr
    );
    assert!(!ns.exists(), "the namespace outlived vtepd");
}

#[test]
fn a_namespace_that_is_not_vtepds_is_refused_and_left_alone() {
    if !capable(&[]) {
        return;
    }
    let _slot = serial();
    let s = Scratch::new();
    let foreign = Netns::new();
    let out = null_ports(Vtepd::new(&s, &config(foreign.name()))).run_until_idle(100);
    assert_eq!(out.status.code(), Some(2), "{}", out.stderr);
    let line = format!(
        "evpn.namespace: namespace \"{}\" exists and is not vtepd's",
        foreign.name()
    );
    assert!(out.stderr.contains(&line), "{}", out.stderr);
    let names = foreign.ip(&["-br", "link"]);
    assert!(!names.contains("vtep0"), "{names}");
}

#[test]
fn a_namespace_left_by_a_crash_is_taken_over_with_its_routes() {
    if !capable(&["bridge"]) {
        return;
    }
    let _slot = serial();
    let s = Scratch::new();
    let ns = NameOnly::new();
    let (first, _) = start(&s, ns.name());
    // The second vtepd is refused while the first runs.
    let busy = null_ports(Vtepd::new(&s, &config(ns.name()))).run_until_idle(100);
    assert_eq!(busy.status.code(), Some(2), "{}", busy.stderr);
    assert!(
        busy.stderr.contains("belongs to the vtepd running as pid"),
        "{}",
        busy.stderr
    );

    ns.bridge(&[
        "fdb",
        "add",
        "02:00:00:00:03:03",
        "dev",
        "vxlan5000",
        "dst",
        "10.0.0.3",
        "self",
        "extern_learn",
    ]);
    first.crash();
    assert!(ns.exists());

    let (second, api) = start(&s, ns.name());
    eventually("the route read again", || {
        fdb_entry(&api, 5000, "02:00:00:00:03:03").is_some_and(|e| e["origin"] == "evpn")
    });
    let out = second.stop();
    out.assert_success();
    assert!(
        out.stderr.contains("taking over namespace"),
        "{}",
        out.stderr
    );
    assert!(!ns.exists());
}
