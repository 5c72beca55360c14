//! The management API against a running vtepd: every route's success path, its refusals
//! (status and a message naming the field), nothing half-applied by a refused request, the
//! bearer token, and a table change made under traffic reaching the worker.
//!
//! Most tests run vtepd on `net_null` ports that receive nothing; the traffic tests use
//! `net_pcap` ports (a replayed capture, or veths in a network namespace).

mod common;

use std::net::Ipv4Addr;
use std::time::Duration;

use common::api::{
    config_only, ids, mac_text, null_ports, parse_vxlan, pcap_ports, poll, seq_of, settle, station,
    stream_frame, tenant, unix, Api, Lab, Reply, NULL_GATEWAY,
};
use common::netns::wait_until;
use common::{serial, Scratch, Vtepd};
use serde_json::{json, Value};

/// vtepd on `NULL_GATEWAY` (plus `extra`), and a client for its API.
fn start(s: &Scratch, extra: &str) -> (common::Running, Api, String) {
    let v = null_ports(Vtepd::new(s, &format!("{NULL_GATEWAY}{extra}")));
    let api = Api::new(v.api_url().expect("harness-chosen API port"));
    let config = v.config_path().display().to_string();
    (v.spawn(), api, config)
}

/// Sends a request that must be refused with `status` and an error starting with `prefix`,
/// and checks it changed nothing.
fn refused(api: &Api, method: &str, path: &str, body: Option<&str>, status: u16, prefix: &str) {
    let before = api.state();
    let r = api.call(method, path, body);
    r.refused(status, prefix);
    assert_eq!(
        api.state(),
        before,
        "{method} {path} was refused but changed something"
    );
}

/// The read-only views, the no-op reload, and requests the router refuses.
#[test]
fn read_only_routes_and_malformed_requests() {
    let _slot = serial();
    let s = Scratch::new();
    let (vtepd, api, config) = start(&s, "");

    let st = api.get_ok("/api/v1/status");
    assert_eq!(st["mode"], "gateway");
    assert_eq!(st["workers"], 1);
    assert_eq!(st["ports"], 2);
    assert_eq!(st["config"], config.as_str());
    assert!(st["version"].as_str().unwrap().starts_with("0."), "{st}");
    assert!(st["dpdk"].as_str().unwrap().starts_with("DPDK "), "{st}");

    let ports = api.get_ok("/api/v1/ports");
    let ports = ports.as_array().unwrap();
    assert_eq!(ports.len(), 2);
    assert_eq!(
        (ports[0]["name"].as_str(), ports[0]["role"].as_str()),
        (Some("net_null0"), Some("underlay"))
    );
    assert_eq!(
        (ports[1]["name"].as_str(), ports[1]["role"].as_str()),
        (Some("net_null1"), Some("access"))
    );
    assert_eq!(ports[0]["driver"], "net_null");
    assert_eq!(ports[0]["rx_packets"], 0);

    let workers = api.get_ok("/api/v1/workers");
    let workers = workers.as_array().unwrap();
    assert_eq!(workers.len(), 1);
    assert_eq!(workers[0]["lcore"], 1);
    assert_eq!(workers[0]["packets"], 0);

    let stats = api.get_ok("/api/v1/stats");
    assert_eq!(stats["totals"]["rx_packets"], 0);
    assert_eq!(stats["drops"]["unknown_vni"], 0);
    assert_eq!(stats["gateway"]["vnis"].as_array().unwrap().len(), 2);

    let m = api.get("/metrics");
    assert_eq!(m.status, 200);
    assert!(
        m.content_type.starts_with("text/plain; version=0.0.4"),
        "{}",
        m.content_type
    );
    assert!(m.body.contains("\nvtepd_vnis 2\n"), "{}", m.body);

    assert_eq!(ids(&api.get_ok("/api/v1/vnis")), [5000, 5100]);
    let v = api.get_ok("/api/v1/vnis/5000");
    assert_eq!(v["flood"], json!(["10.0.0.2"]));
    assert_eq!(v["vlan"], Value::Null);
    assert_eq!(v["encap"], "vxlan");
    assert_eq!(api.get_ok("/api/v1/vnis/5100/")["vlan"], 100);
    assert_eq!(api.get_ok("/api/v1/fdb"), json!([]));
    assert_eq!(api.get_ok("/api/v1/arp?vni=5000"), json!([]));

    // The file did not change: a reload changes nothing and says so.
    let r = api.expect(200, "POST", "/api/v1/reload", None);
    assert_eq!(
        r,
        json!({"vnis_added": [], "vnis_removed": [], "vnis_changed": [], "fdb_changed": 0,
               "arp_changed": 0, "settings_changed": []})
    );

    // Wrong methods.
    for (method, path) in [
        ("PATCH", "/api/v1/vnis"),
        ("DELETE", "/api/v1/status"),
        ("POST", "/api/v1/ports"),
        ("PUT", "/api/v1/workers"),
        ("DELETE", "/api/v1/stats"),
        ("GET", "/api/v1/reload"),
        ("POST", "/metrics"),
        ("PUT", "/api/v1/fdb"),
        ("GET", "/api/v1/vnis/5000/flood"),
        ("POST", "/api/v1/vnis/5000"),
        ("GET", "/api/v1/vnis/5000/flush"),
        ("GET", "/api/v1/fdb/5000/02:00:00:00:00:01"),
        ("POST", "/api/v1/arp/5000/192.168.1.1"),
    ] {
        refused(
            &api,
            method,
            path,
            None,
            405,
            &format!("{method} is not allowed on {path}"),
        );
    }
    // Unknown paths.
    for path in ["/api/v1/nothing", "/api/v2/vnis", "/api/v1", "/", "/foo"] {
        refused(&api, "GET", path, None, 404, "no such resource: ");
    }
    // Bodies, path and query parameters.
    refused(
        &api,
        "POST",
        "/api/v1/vnis",
        Some("{\"id\": 6000,"),
        400,
        "the body is not valid JSON: ",
    );
    refused(
        &api,
        "POST",
        "/api/v1/vnis",
        None,
        400,
        "this request needs a JSON body",
    );
    refused(
        &api,
        "POST",
        "/api/v1/fdb",
        Some("[not json]"),
        400,
        "the body is not valid JSON: ",
    );
    refused(&api, "GET", "/api/v1/vnis/abc", None, 400, "vni: \"abc\"");
    refused(&api, "GET", "/api/v1/vnis/0", None, 400, "vni: \"0\"");
    refused(&api, "GET", "/api/v1/vnis/16777216", None, 400, "vni: ");
    refused(
        &api,
        "GET",
        "/api/v1/vnis/7777",
        None,
        404,
        "VNI 7777 is not configured",
    );
    refused(
        &api,
        "GET",
        "/api/v1/fdb?vlan=3",
        None,
        400,
        "unknown query parameter \"vlan\"",
    );
    refused(&api, "GET", "/api/v1/fdb?vni=x", None, 400, "vni: \"x\"");
    refused(&api, "GET", "/api/v1/arp?vni=0", None, 400, "vni: \"0\"");

    let out = vtepd.stop();
    out.assert_success();
}

/// POST, GET, PUT (whole VNI, flood list, allowlist) and DELETE of VNIs, and every way to get
/// one wrong, each refusal leaving everything as it was.
#[test]
fn vni_routes_round_trip_and_refusals_name_the_field() {
    let _slot = serial();
    let s = Scratch::new();
    let (vtepd, api, _) = start(&s, "");

    // Refusals of POST /vnis.
    let post = |body: Value, status: u16, prefix: &str| {
        refused(
            &api,
            "POST",
            "/api/v1/vnis",
            Some(&body.to_string()),
            status,
            prefix,
        );
    };
    post(
        json!({"id": 6000, "vlan": 600, "flood": ["10.0.0.x"]}),
        400,
        "vni.flood[0]: ",
    );
    post(
        json!({"id": 6000, "vlan": 600, "flood": ["10.0.0.3", "10.0.0.1"]}),
        400,
        "vni.flood[1]: ",
    );
    post(json!({"id": 6000, "vlan": 100}), 409, "vni.vlan: VLAN 100");
    post(
        json!({"id": 5000, "vlan": 700}),
        409,
        "vni.id: VNI 5000 already exists",
    );
    post(
        json!({"id": 6000, "vlan": 600, "bogus": 1}),
        400,
        "vni.bogus: unknown field",
    );
    post(json!({"id": 6000}), 400, "vni.vlan: ");
    post(json!({"id": 0, "vlan": 600}), 400, "vni.id: ");
    post(json!({"id": 16777216, "vlan": 600}), 400, "vni.id: ");
    post(json!({"id": "6000", "vlan": 600}), 400, "vni.id: ");
    post(json!({"id": 6000, "vlan": 4095}), 400, "vni.vlan: ");
    post(
        json!({"id": 6000, "vlan": 600, "encap": "geneve"}),
        400,
        "vni.encap: ",
    );
    post(
        json!({"id": 4000, "vlan": 600, "encap": "nvgre"}),
        400,
        "vni.id: ",
    );
    post(
        json!({"id": 6000, "vlan": 600, "flood": ["10.0.0.3"], "multicast_group": "239.1.1.1"}),
        400,
        "vni.",
    );
    post(
        json!({"id": 6000, "vlan": 600, "multicast_group": "10.0.0.9"}),
        400,
        "vni.multicast_group: ",
    );
    post(
        json!({"id": 6000, "vlan": 600, "allowed_vteps": ["nope"]}),
        400,
        "vni.allowed_vteps[0]: ",
    );
    post(
        json!({"id": 6000, "vlan": 600, "max_macs": 0}),
        400,
        "vni.max_macs: ",
    );
    post(json!([6000]), 400, "vni: ");

    // Added: the answer is the VNI as configured, GET shows it with zero counters.
    let added = api.expect(
        201,
        "POST",
        "/api/v1/vnis",
        Some(&json!({"id": 6000, "vlan": 600, "flood": ["10.0.0.3"]})),
    );
    assert_eq!(
        added,
        json!({"id": 6000, "encap": "vxlan", "vlan": 600, "flood": ["10.0.0.3"],
               "learning": true, "arp_suppression": false, "control": "static"})
    );
    assert_eq!(ids(&api.get_ok("/api/v1/vnis")), [5000, 5100, 6000]);
    let v = api.get_ok("/api/v1/vnis/6000");
    assert_eq!(
        config_only(&v),
        json!({"id": 6000, "encap": "vxlan", "vlan": 600, "flood": ["10.0.0.3"],
               "multicast_group": null, "learning": true, "arp_suppression": false,
               "allowed_vteps": null, "max_macs": null,
               "bum_rate_pps": null, "learn_only_from_flood": false})
    );
    for c in ["macs", "encap_packets", "decap_packets", "flood_copies"] {
        assert_eq!(v[c], 0, "{c}: {v}");
    }

    // PUT replaces the whole VNI (fields left out take their defaults).
    let put = json!({"vlan": 601, "learning": false, "arp_suppression": true, "max_macs": 100,
                     "allowed_vteps": ["10.0.0.3", "10.0.0.4"], "flood": ["10.0.0.3"],
                     "bum_rate_pps": 20000, "learn_only_from_flood": true});
    api.expect(200, "PUT", "/api/v1/vnis/6000", Some(&put));
    assert_eq!(
        config_only(&api.get_ok("/api/v1/vnis/6000")),
        json!({"id": 6000, "encap": "vxlan", "vlan": 601, "flood": ["10.0.0.3"],
               "multicast_group": null, "learning": false, "arp_suppression": true,
               "allowed_vteps": ["10.0.0.3", "10.0.0.4"], "max_macs": 100,
               "bum_rate_pps": 20000, "learn_only_from_flood": true})
    );
    let put_path = "/api/v1/vnis/6000";
    refused(
        &api,
        "PUT",
        put_path,
        Some(r#"{"id": 6001, "vlan": 601}"#),
        400,
        "vni.id: ",
    );
    refused(
        &api,
        "PUT",
        put_path,
        Some(r#"{"vlan": 100}"#),
        409,
        "vni.vlan: VLAN 100",
    );
    refused(
        &api,
        "PUT",
        put_path,
        Some(r#"{"vlan": 601, "flood": ["10.0.0.3", "x"]}"#),
        400,
        "vni.flood[1]: ",
    );
    refused(
        &api,
        "PUT",
        put_path,
        Some(r#"{"vlan": 601, "learn": true}"#),
        400,
        "vni.learn: ",
    );
    refused(
        &api,
        "PUT",
        put_path,
        Some("{"),
        400,
        "the body is not valid JSON",
    );
    refused(
        &api,
        "PUT",
        "/api/v1/vnis/7777",
        Some(r#"{"vlan": 777}"#),
        404,
        "VNI 7777 is not configured",
    );
    // The native VNI of an access port can be changed in place but needs no VLAN.
    api.expect(
        200,
        "PUT",
        "/api/v1/vnis/5000",
        Some(&json!({"flood": ["10.0.0.2", "10.0.0.3"]})),
    );
    assert_eq!(
        api.get_ok("/api/v1/vnis/5000")["flood"],
        json!(["10.0.0.2", "10.0.0.3"])
    );

    // PUT flood replaces the list (and keeps everything else).
    let flood = "/api/v1/vnis/6000/flood";
    let r = api.expect(200, "PUT", flood, Some(&json!(["10.0.0.4", "10.0.0.5"])));
    assert_eq!(r["flood"], json!(["10.0.0.4", "10.0.0.5"]));
    let v = api.get_ok("/api/v1/vnis/6000");
    assert_eq!(v["flood"], json!(["10.0.0.4", "10.0.0.5"]));
    assert_eq!(v["vlan"], 601);
    assert_eq!(v["max_macs"], 100);
    api.expect(200, "PUT", flood, Some(&json!(["10.0.0.6"])));
    assert_eq!(
        api.get_ok("/api/v1/vnis/6000")["flood"],
        json!(["10.0.0.6"])
    );
    // Learning only from the flood list needs a list; nothing changes when refused.
    refused(
        &api,
        "PUT",
        flood,
        Some("[]"),
        400,
        "vni.learn_only_from_flood: needs a `flood` list",
    );
    assert_eq!(
        api.get_ok("/api/v1/vnis/6000")["flood"],
        json!(["10.0.0.6"])
    );
    let mut open_learning = put.clone();
    open_learning["learn_only_from_flood"] = json!(false);
    api.expect(200, "PUT", "/api/v1/vnis/6000", Some(&open_learning));
    api.expect(200, "PUT", flood, Some(&json!([])));
    assert_eq!(api.get_ok("/api/v1/vnis/6000")["flood"], json!([]));
    api.expect(200, "PUT", flood, Some(&json!(["10.0.0.4", "10.0.0.5"])));
    refused(
        &api,
        "PUT",
        flood,
        Some(r#"["10.0.0.7", "bad"]"#),
        400,
        "vni.flood[1]: ",
    );
    refused(
        &api,
        "PUT",
        flood,
        Some(r#"["10.0.0.1"]"#),
        400,
        "vni.flood[0]: ",
    );
    refused(
        &api,
        "PUT",
        flood,
        Some(r#""10.0.0.7""#),
        400,
        "vni.flood: ",
    );
    refused(
        &api,
        "PUT",
        flood,
        Some(r#"{"flood": []}"#),
        400,
        "vni.flood: ",
    );
    refused(
        &api,
        "PUT",
        "/api/v1/vnis/7777/flood",
        Some("[]"),
        404,
        "VNI 7777 is not configured",
    );
    assert_eq!(
        api.get_ok("/api/v1/vnis/6000")["flood"],
        json!(["10.0.0.4", "10.0.0.5"])
    );

    // PUT allowed_vteps replaces the allowlist.
    let allowed = "/api/v1/vnis/6000/allowed_vteps";
    api.expect(200, "PUT", allowed, Some(&json!(["10.0.0.9"])));
    assert_eq!(
        api.get_ok("/api/v1/vnis/6000")["allowed_vteps"],
        json!(["10.0.0.9"])
    );
    refused(
        &api,
        "PUT",
        allowed,
        Some(r#"["10.0.0.9", "x"]"#),
        400,
        "vni.allowed_vteps[1]: ",
    );
    refused(&api, "PUT", allowed, Some("7"), 400, "vni.allowed_vteps: ");

    // DELETE.
    refused(
        &api,
        "DELETE",
        "/api/v1/vnis/5000",
        None,
        409,
        "VNI 5000 is an access port's untagged_vni",
    );
    refused(
        &api,
        "DELETE",
        "/api/v1/vnis/7777",
        None,
        404,
        "VNI 7777 is not configured",
    );
    let r = api.call("DELETE", "/api/v1/vnis/6000", None);
    assert_eq!((r.status, r.body.as_str()), (204, ""), "{r:?}");
    refused(
        &api,
        "GET",
        "/api/v1/vnis/6000",
        None,
        404,
        "VNI 6000 is not configured",
    );
    refused(
        &api,
        "DELETE",
        "/api/v1/vnis/6000",
        None,
        404,
        "VNI 6000 is not configured",
    );
    assert_eq!(ids(&api.get_ok("/api/v1/vnis")), [5000, 5100]);
    // Its VLAN is free again.
    api.expect(
        201,
        "POST",
        "/api/v1/vnis",
        Some(&json!({"id": 6100, "vlan": 601})),
    );

    let out = vtepd.stop();
    out.assert_success();
    let r = out.report.expect("final stats");
    let final_ids: Vec<u64> = r["gateway"]["vnis"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_u64().unwrap())
        .collect();
    assert_eq!(final_ids.len(), 3, "{final_ids:?}");
}

/// Static MAC entries and bindings: added, shown, filtered by VNI, removed; flushes; every
/// refusal naming the field and changing nothing.
#[test]
fn fdb_arp_and_flush_round_trip() {
    let _slot = serial();
    let s = Scratch::new();
    let (vtepd, api, _) = start(&s, "");
    let (m1, m2, m3) = (
        mac_text(station(1)),
        mac_text(station(2)),
        mac_text(station(3)),
    );

    // Static MAC entries.
    let e = api.expect(
        201,
        "POST",
        "/api/v1/fdb",
        Some(&json!({"vni": 5000, "mac": m1, "remote": "10.0.0.7"})),
    );
    assert_eq!(
        e,
        json!({"vni": 5000, "mac": m1, "port": null, "remote": "10.0.0.7", "static": true,
               "origin": "static", "idle_secs": null})
    );
    api.expect(
        201,
        "POST",
        "/api/v1/fdb",
        Some(&json!({"vni": 5100, "mac": m2, "port": "net_null1"})),
    );
    api.expect(
        201,
        "POST",
        "/api/v1/fdb",
        Some(&json!({"vni": 5100, "mac": m3, "remote": "10.0.0.2"})),
    );
    let all = api.get_ok("/api/v1/fdb");
    assert_eq!(
        all,
        json!([
            {"vni": 5000, "mac": m1, "port": null, "remote": "10.0.0.7", "static": true, "origin": "static", "idle_secs": null},
            {"vni": 5100, "mac": m2, "port": "net_null1", "remote": null, "static": true, "origin": "static", "idle_secs": null},
            {"vni": 5100, "mac": m3, "port": null, "remote": "10.0.0.2", "static": true, "origin": "static", "idle_secs": null},
        ])
    );
    assert_eq!(
        api.get_ok("/api/v1/fdb?vni=5000").as_array().unwrap().len(),
        1
    );
    assert_eq!(
        api.get_ok("/api/v1/fdb?vni=5100").as_array().unwrap().len(),
        2
    );
    assert_eq!(api.get_ok("/api/v1/fdb?vni=7777"), json!([]));
    // Adding again replaces the entry.
    api.expect(
        201,
        "POST",
        "/api/v1/fdb",
        Some(&json!({"vni": 5000, "mac": m1, "remote": "10.0.0.8"})),
    );
    assert_eq!(api.get_ok("/api/v1/fdb?vni=5000")[0]["remote"], "10.0.0.8");

    let fdb = |body: Value, status: u16, prefix: &str| {
        refused(
            &api,
            "POST",
            "/api/v1/fdb",
            Some(&body.to_string()),
            status,
            prefix,
        );
    };
    fdb(
        json!({"vni": 7777, "mac": m1, "remote": "10.0.0.7"}),
        400,
        "fdb.vni: ",
    );
    fdb(
        json!({"vni": 5000, "mac": "01:00:00:00:00:01", "remote": "10.0.0.7"}),
        400,
        "fdb.mac: ",
    );
    fdb(
        json!({"vni": 5000, "mac": "02:00:00:00:00", "remote": "10.0.0.7"}),
        400,
        "fdb.mac: ",
    );
    fdb(
        json!({"vni": 5000, "mac": m1, "remote": "10.0.0.7", "port": "net_null1"}),
        400,
        "fdb",
    );
    fdb(json!({"vni": 5000, "mac": m1}), 400, "fdb");
    fdb(
        json!({"vni": 5000, "mac": m1, "port": "net_null0"}),
        400,
        "fdb.port: ",
    );
    fdb(
        json!({"vni": 5000, "mac": m1, "remote": "10.0.0.1"}),
        400,
        "fdb.remote: ",
    );
    fdb(
        json!({"vni": 5000, "mac": m1, "remote": "10.0.0.x"}),
        400,
        "fdb.remote: ",
    );
    fdb(
        json!({"vni": 5000, "mac": m1, "remote": "10.0.0.7", "ttl": 3}),
        400,
        "fdb.ttl: ",
    );
    refused(
        &api,
        "DELETE",
        "/api/v1/fdb/5000/02:00:00:00:09:09",
        None,
        404,
        "no entry for 02:00:00:00:09:09 in VNI 5000",
    );
    refused(
        &api,
        "DELETE",
        &format!("/api/v1/fdb/7777/{m1}"),
        None,
        404,
        "VNI 7777 is not configured",
    );
    refused(&api, "DELETE", "/api/v1/fdb/5000/zz", None, 400, "mac: ");

    let r = api.call("DELETE", &format!("/api/v1/fdb/5000/{m1}"), None);
    assert_eq!(r.status, 204, "{r:?}");
    assert_eq!(api.get_ok("/api/v1/fdb?vni=5000"), json!([]));
    refused(
        &api,
        "DELETE",
        &format!("/api/v1/fdb/5000/{m1}"),
        None,
        404,
        "no entry for ",
    );

    // Static bindings.
    let b = api.expect(
        201,
        "POST",
        "/api/v1/arp",
        Some(&json!({"vni": 5000, "ip": "192.168.1.10", "mac": m2})),
    );
    assert_eq!(
        b,
        json!({"vni": 5000, "ip": "192.168.1.10", "mac": m2, "static": true})
    );
    api.expect(
        201,
        "POST",
        "/api/v1/arp",
        Some(&json!({"vni": 5100, "ip": "fd00:1::10", "mac": m3})),
    );
    assert_eq!(
        api.get_ok("/api/v1/arp"),
        json!([
            {"vni": 5000, "ip": "192.168.1.10", "mac": m2, "static": true},
            {"vni": 5100, "ip": "fd00:1::10", "mac": m3, "static": true},
        ])
    );
    assert_eq!(
        api.get_ok("/api/v1/arp?vni=5100").as_array().unwrap().len(),
        1
    );
    let arp = |body: Value, status: u16, prefix: &str| {
        refused(
            &api,
            "POST",
            "/api/v1/arp",
            Some(&body.to_string()),
            status,
            prefix,
        );
    };
    arp(
        json!({"vni": 5000, "ip": "192.168.1.x", "mac": m2}),
        400,
        "arp.ip: ",
    );
    arp(
        json!({"vni": 5000, "ip": "192.168.1.11", "mac": "ff:ff:ff:ff:ff:ff"}),
        400,
        "arp.mac: ",
    );
    arp(
        json!({"vni": 7777, "ip": "192.168.1.11", "mac": m2}),
        400,
        "arp.vni: ",
    );
    arp(json!({"vni": 5000, "ip": "192.168.1.11"}), 400, "arp");
    refused(
        &api,
        "DELETE",
        "/api/v1/arp/5000/192.168.1.99",
        None,
        404,
        "no entry for 192.168.1.99 in VNI 5000",
    );
    refused(&api, "DELETE", "/api/v1/arp/5000/nope", None, 400, "ip: ");
    refused(
        &api,
        "DELETE",
        "/api/v1/arp/7777/192.168.1.10",
        None,
        404,
        "VNI 7777 is not configured",
    );
    for path in [
        "/api/v1/arp/5000/192.168.1.10",
        "/api/v1/arp/5100/fd00:1::10",
    ] {
        let r = api.call("DELETE", path, None);
        assert_eq!(r.status, 204, "{path}: {r:?}");
    }
    assert_eq!(api.get_ok("/api/v1/arp"), json!([]));

    // Flush: learned MACs only (there are none), then everything, static entries included.
    let r = api.expect(200, "POST", "/api/v1/vnis/5100/flush", None);
    assert_eq!(r, json!({"vni": 5100, "removed": 0}));
    assert_eq!(
        api.get_ok("/api/v1/fdb?vni=5100").as_array().unwrap().len(),
        2
    );
    let r = api.expect(200, "POST", "/api/v1/vnis/5100/flush?all=true", None);
    assert_eq!(r, json!({"vni": 5100, "removed": 2}));
    assert_eq!(api.get_ok("/api/v1/fdb"), json!([]));
    refused(
        &api,
        "POST",
        "/api/v1/vnis/7777/flush",
        None,
        404,
        "VNI 7777 is not configured",
    );

    // A removed VNI takes its static entries and bindings with it.
    api.expect(
        201,
        "POST",
        "/api/v1/vnis",
        Some(&json!({"id": 6000, "vlan": 600})),
    );
    api.expect(
        201,
        "POST",
        "/api/v1/fdb",
        Some(&json!({"vni": 6000, "mac": m1, "remote": "10.0.0.7"})),
    );
    api.expect(
        201,
        "POST",
        "/api/v1/arp",
        Some(&json!({"vni": 6000, "ip": "10.9.9.9", "mac": m1})),
    );
    assert_eq!(api.get_ok("/api/v1/fdb").as_array().unwrap().len(), 1);
    assert_eq!(api.call("DELETE", "/api/v1/vnis/6000", None).status, 204);
    assert_eq!(api.get_ok("/api/v1/fdb"), json!([]));
    assert_eq!(api.get_ok("/api/v1/arp"), json!([]));

    let out = vtepd.stop();
    out.assert_success();
    // The audit log: each change with who asked and how it ended, refusals too.
    let audit: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("audit: "))
        .collect();
    let has = |what: &str, end: &str| {
        audit
            .iter()
            .any(|l| l.contains("api 127.0.0.1:") && l.contains(what) && l.contains(end))
    };
    assert!(
        has(
            &format!(r#"fdb add {{"mac":"{m1}","remote":"10.0.0.7","vni":6000}}"#),
            "done (201)"
        ),
        "{audit:#?}"
    );
    assert!(has("arp add", "done (201)"), "{audit:#?}");
    assert!(has("vni 6000 delete", "done (204)"), "{audit:#?}");
    assert!(has("refused (", ""), "refusals are audited too: {audit:#?}");
    assert!(
        !audit.iter().any(|l| l.contains("ListFdb")),
        "reads are not audited: {audit:#?}"
    );
}

/// With `[api] token`, requests without the token or with a wrong one get 401 (with
/// `WWW-Authenticate: Bearer`), with it 200 — `/metrics` included.
#[test]
fn bearer_token_is_required_when_configured() {
    let _slot = serial();
    let s = Scratch::new();
    let token = "0123456789abcdef-test-token";
    let port = common::api::free_port();
    let v = null_ports(Vtepd::new(
        &s,
        &format!("{NULL_GATEWAY}\n[api]\nlisten = \"127.0.0.1:{port}\"\ntoken = \"{token}\"\n"),
    ));
    let vtepd = v.spawn();
    let api = Api::new(format!("http://127.0.0.1:{port}"));
    let paths = [
        ("GET", "/api/v1/status"),
        ("GET", "/api/v1/vnis"),
        ("GET", "/metrics"),
        ("POST", "/api/v1/reload"),
        ("GET", "/api/v1/nothing"),
    ];
    for (method, path) in paths {
        for auth in [
            None,
            Some("Bearer wrong-token-wrong-token".to_owned()),
            Some(format!("Bearer {token}x")),
            Some(format!("Basic {token}")),
            Some(token.to_owned()),
        ] {
            let r = api.request(method, path, None, auth.as_deref());
            r.refused(401, "missing or wrong bearer token");
        }
    }
    let good = format!("Bearer {token}");
    let r = api.request("GET", "/api/v1/status", None, Some(&good));
    assert_eq!(r.status, 200, "{r:?}");
    let r = api.request("GET", "/metrics", None, Some(&good));
    assert_eq!(r.status, 200, "{r:?}");
    let r = api.request("GET", "/api/v1/nothing", None, Some(&good));
    assert_eq!(r.status, 404, "{r:?}");
    // A refused change is refused before it is looked at.
    let add = json!({"id": 6000, "vlan": 600}).to_string();
    let r = api.request("POST", "/api/v1/vnis", Some(&add), None);
    assert_eq!(r.status, 401);
    let authed = api.clone().with_token(token);
    assert_eq!(ids(&authed.get_ok("/api/v1/vnis")), [5000, 5100]);
    assert_eq!(
        authed
            .send("POST", "/api/v1/vnis", &json!({"id": 6000, "vlan": 600}))
            .status,
        201
    );
    // vtepctl with --token and --token-file.
    let tf = s.write("token", &format!("{token}\n"));
    let run = common::api::vtepctl(&api.base, &["--token", token, "show", "vni", "--json"]);
    assert_eq!(ids(&run.json()), [5000, 5100, 6000]);
    let tf = tf.display().to_string();
    let run = common::api::vtepctl(&api.base, &["--token-file", &tf, "show", "status"]);
    assert!(run.ok().contains("gateway"), "{run:?}");
    let run = common::api::vtepctl(&api.base, &["show", "status"]);
    let line = run.failed();
    assert!(
        line.contains("missing or wrong bearer token") && line.ends_with("(HTTP 401)"),
        "{line}"
    );

    vtepd.stop().assert_success();
}

/// An API reachable from the network without a token is refused before anything starts:
/// exit 2 and one line naming api.listen.
#[test]
fn listening_off_loopback_without_a_token_is_refused_at_start() {
    let _slot = serial();
    let s = Scratch::new();
    let v = null_ports(Vtepd::new(
        &s,
        &format!("{NULL_GATEWAY}\n[api]\nlisten = \"0.0.0.0:8179\"\n"),
    ));
    let out = v.command().output().expect("run vtepd");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    let line = stderr.trim_end();
    assert!(line.starts_with("vtepd: config "), "{line}");
    assert!(
        line.ends_with(
            ": api.listen: 0.0.0.0:8179 is reachable from the network: set api.token or \
             api.token_file"
        ),
        "{line}"
    );
    assert!(!stderr.contains("EAL"), "EAL was started: {stderr}");
}

const R2: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const R3: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 3);
const R4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 4);
const R5: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 5);

/// What became of one frame of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Flooded: one copy to each of 10.0.0.2 and 10.0.0.3.
    Flooded,
    /// One copy, to 10.0.0.4.
    Unicast,
    /// Flooded to the new flood list: one copy, to 10.0.0.5.
    Reflooded,
    /// Anything else (lost, duplicated, elsewhere).
    Other,
}

/// A static MAC entry added through the API while a stream to that MAC runs: frames before
/// are flooded, from one frame on (for good) they go unicast to the entry's VTEP; after
/// DELETE they are flooded again; after PUT flood, to the new list. Every frame comes out,
/// exactly as the tables said at the time. Prints the time from the API's answer to the first
/// packet reflecting each change (issue 4 asks for 10 ms; a loaded CI machine gets 500).
#[test]
fn fdb_change_under_traffic_reaches_the_worker() {
    if !Lab::capable() {
        return;
    }
    let _slot = serial();
    let lab = Lab::start(
        r#"
[underlay]
port = "net_pcap0"
addresses = ["10.0.0.1/24"]
next_hop_mac = "02:00:00:00:00:fe"

[[access]]
port = "net_pcap1"
untagged_vni = 5000

[[vni]]
id = 5000
flood = ["10.0.0.2", "10.0.0.3"]
"#,
        1,
    );
    let (src, x) = (station(0x0a), station(0x99));
    let tag = "fdb-stream-";
    let template = stream_frame(src, x, None, tag);
    let stream = lab.stream(1, 2, 20_000, std::slice::from_ref(&template));

    // Per frame number: its copies on the underlay (destination VTEP, capture time).
    let fates = |lab: &Lab| -> Vec<Vec<(Ipv4Addr, f64)>> {
        let mut by_seq: Vec<Vec<(Ipv4Addr, f64)>> = Vec::new();
        for c in lab.output(0) {
            let Some(v) = parse_vxlan(&c.data) else {
                continue;
            };
            let Some(seq) = seq_of(&v.inner, tag) else {
                continue;
            };
            let i = seq as usize;
            if by_seq.len() <= i {
                by_seq.resize(i + 1, Vec::new());
            }
            by_seq[i].push((v.dst, c.ts));
        }
        by_seq
    };
    let fate = |copies: &[(Ipv4Addr, f64)]| -> Fate {
        let mut d: Vec<Ipv4Addr> = copies.iter().map(|c| c.0).collect();
        d.sort();
        if d == [R2, R3] {
            Fate::Flooded
        } else if d == [R4] {
            Fate::Unicast
        } else if d == [R5] {
            Fate::Reflooded
        } else {
            Fate::Other
        }
    };
    let count = |lab: &Lab, f: Fate| fates(lab).iter().filter(|c| fate(c) == f).count();
    let limit = Duration::from_secs(20);
    let every = Duration::from_millis(20);

    assert!(
        wait_until(limit, every, || count(&lab, Fate::Flooded) >= 40),
        "the stream is not flooded"
    );
    let add = json!({"vni": 5000, "mac": mac_text(x), "remote": "10.0.0.4"});
    let asked_add = unix(std::time::SystemTime::now());
    let r: Reply = lab.api.send("POST", "/api/v1/fdb", &add);
    assert_eq!(r.status, 201, "{r:?}");
    let added = unix(r.at);
    assert!(
        wait_until(limit, every, || count(&lab, Fate::Unicast) >= 100),
        "the stream never went unicast to 10.0.0.4"
    );
    let delete = format!("/api/v1/fdb/5000/{}", mac_text(x));
    let asked_del = unix(std::time::SystemTime::now());
    let r = lab.api.call("DELETE", &delete, None);
    assert_eq!(r.status, 204, "{r:?}");
    let deleted = unix(r.at);
    let after = |lab: &Lab| {
        let f = fates(lab);
        let last_unicast = f
            .iter()
            .rposition(|c| fate(c) == Fate::Unicast)
            .unwrap_or(0);
        f[last_unicast..]
            .iter()
            .filter(|c| fate(c) == Fate::Flooded)
            .count()
    };
    assert!(
        wait_until(limit, every, || after(&lab) >= 40),
        "the stream was not flooded again after DELETE"
    );
    let asked_flood = unix(std::time::SystemTime::now());
    let r = lab
        .api
        .send("PUT", "/api/v1/vnis/5000/flood", &json!(["10.0.0.5"]));
    assert_eq!(r.status, 200, "{r:?}");
    let reflooded = unix(r.at);
    assert!(
        wait_until(limit, every, || count(&lab, Fate::Reflooded) >= 40),
        "the stream was not flooded to the new list"
    );
    let sent = stream.finish();
    // Frames the kernel's capture dropped before vtepd could read them (a starved poller on a
    // loaded machine) are `-`, and checked against the port's rx_missed below.
    let classify = |f: &[Vec<(Ipv4Addr, f64)>]| -> String {
        (0..sent.len())
            .map(|i| match f.get(i) {
                None => '-',
                Some(c) if c.is_empty() => '-',
                Some(c) => match fate(c) {
                    Fate::Flooded => 'F',
                    Fate::Unicast => 'U',
                    Fate::Reflooded => 'N',
                    Fate::Other => '?',
                },
            })
            .collect()
    };
    settle(|| {
        let f = fates(&lab);
        let n = f.iter().map(Vec::len).sum();
        (n, !classify(&f).contains(['-', '?']))
    });
    let f = fates(&lab);
    let summary = classify(&f);
    assert!(
        !summary.contains('?'),
        "frames duplicated or sent elsewhere (F flooded, U unicast, - lost, ? other): {summary}"
    );
    assert_eq!(f.len(), sent.len(), "frames nobody sent: {summary}");
    // F...FU...UF...FN...N (lost frames aside): each change switches the stream once.
    let seen: String = summary.chars().filter(|c| *c != '-').collect();
    let mut rest = seen.as_str();
    let mut runs = Vec::new();
    for phase in ['F', 'U', 'F', 'N'] {
        let next = rest.trim_start_matches(phase);
        runs.push(rest.len() - next.len());
        rest = next;
    }
    assert!(
        rest.is_empty() && runs[0] >= 40 && runs.iter().all(|n| *n > 0),
        "not one switch per change: {summary}"
    );
    let k1 = summary.find('U').expect("a unicast frame");
    let k2 = k1 + summary[k1..].find('F').expect("flooded again");
    let k3 = summary.find('N').expect("flooded to the new list");
    // The last frame handled the old way before each switch.
    let before = |k: usize| summary[..k].rfind(['F', 'U', 'N']).expect("a frame before");

    let first_copy = |i: usize| f[i].iter().map(|c| c.1).fold(f64::MAX, f64::min);
    let ms = |s: f64| s * 1000.0;
    let report = |what: &str, asked: f64, answered: f64, k: usize| -> f64 {
        let capture = first_copy(k) - answered;
        eprintln!(
            "{what}: request took {:.1} ms; first packet reflecting it (frame {k}) written \
             {:.1} ms after the answer (capture clock), that frame sent {:.1} ms after the \
             answer; the last frame still handled the old way was sent {:.1} ms after it",
            ms(answered - asked),
            ms(capture),
            ms(sent[k] - answered),
            ms(sent[before(k)] - answered),
        );
        capture.max(sent[k] - answered)
    };
    let l_add = report("FDB add", asked_add, added, k1);
    let l_del = report("FDB delete", asked_del, deleted, k2);
    let l_flood = report("flood list", asked_flood, reflooded, k3);
    for (what, l) in [("add", l_add), ("delete", l_del), ("flood list", l_flood)] {
        assert!(
            l < 0.5,
            "the {what} took {:.0} ms to reach the worker: {summary}",
            ms(l)
        );
    }

    // The unicast copies carry the frame unchanged, to the static entry's VTEP.
    let out = lab.output(0);
    let v = out
        .iter()
        .filter_map(|c| parse_vxlan(&c.data))
        .find(|v| seq_of(&v.inner, tag) == Some(k1 as u32))
        .expect("frame k1");
    assert_eq!((v.dst, v.vni, v.src), (R4, 5000, common::api::LOCAL));
    assert_eq!(v.dst_mac, common::api::NEXT_HOP_MAC);
    let mut expected = template.clone();
    let at = expected
        .windows(12)
        .position(|w| w == b"SEQ:00000000")
        .unwrap();
    expected[at..at + 12].copy_from_slice(format!("SEQ:{k1:08}").as_bytes());
    assert_eq!(v.inner, expected, "the encapsulated frame");

    let out = lab.stop();
    let r = out.report.as_ref().unwrap();
    assert_eq!(r["totals"]["dropped"], 0, "{}", out.stdout);
    common::traffic::assert_accounting(r);
    let lost = summary.matches('-').count() as u64;
    let missed = r["ports"][1]["nic"]["rx_missed"].as_u64().unwrap();
    assert!(
        lost <= missed,
        "{lost} frames lost, only {missed} before vtepd (rx_missed): {summary}"
    );
    if lost > 0 {
        eprintln!("note: {lost} frames dropped by the kernel's capture before vtepd read them");
    }
}

/// Changing a VNI's encapsulation through `PUT /api/v1/vnis/{id}` drops its learned MACs (they
/// sit behind tunnels of the old encapsulation) but keeps its static entries and bindings,
/// re-created behind the new encapsulation's tunnels — as a reload of the same change does.
#[test]
fn changing_the_encapsulation_keeps_static_entries() {
    let _slot = serial();
    let s = Scratch::new();
    let m = mac_text(station(0x61));
    let (vtepd, api, _) = start(
        &s,
        &format!(
            "\n[[vni]]\nid = 6000\nvlan = 600\n\n[[fdb]]\nvni = 6000\nmac = \"{m}\"\n\
             remote = \"10.0.0.7\"\n\n[[arp]]\nvni = 6000\nip = \"192.168.6.1\"\nmac = \"{m}\"\n"
        ),
    );
    let fdb = json!([{"vni": 6000, "mac": m, "port": null, "remote": "10.0.0.7", "static": true,
                      "origin": "static", "idle_secs": null}]);
    let arp = json!([{"vni": 6000, "ip": "192.168.6.1", "mac": m, "static": true}]);
    assert_eq!(api.get_ok("/api/v1/fdb?vni=6000"), fdb);
    let r = api.send(
        "PUT",
        "/api/v1/vnis/6000",
        &json!({"vlan": 600, "encap": "nvgre"}),
    );
    assert_eq!(r.status, 200, "{r:?}");
    let after = (
        api.get_ok("/api/v1/fdb?vni=6000"),
        api.get_ok("/api/v1/arp?vni=6000"),
    );
    vtepd.stop().assert_success();
    assert_eq!(
        after,
        (fdb, arp),
        "static entries after the encapsulation changed"
    );
}

/// A path under a known resource that names nothing (`/api/v1/vnis/5000/members`,
/// `/api/v1/status/extra`) is an unknown path: 404, as for any other, not 405 (which says the
/// resource exists but not with this method).
#[test]
fn unknown_paths_under_known_resources_are_404() {
    let _slot = serial();
    let s = Scratch::new();
    let (vtepd, api, _) = start(&s, "");
    let mut wrong = Vec::new();
    for path in [
        "/api/v1/vnis/5000/members",
        "/api/v1/vnis/5000/flood/extra",
        "/api/v1/status/extra",
        "/api/v1/fdb/5000",
        "/api/v1/arp/5000/192.168.1.1/x",
        "/api/v1/reload/now",
    ] {
        let r = api.get(path);
        if r.status != 404 || !r.error().starts_with("no such resource: ") {
            wrong.push(format!("GET {path}: {} {}", r.status, r.error()));
        }
    }
    vtepd.stop().assert_success();
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// A VNI added after another was removed starts with zero counters, in the API and in
/// /metrics — not with the counts of the VNI whose table slot it reuses.
#[test]
fn a_new_vni_starts_with_zero_counters() {
    let _slot = serial();
    let s = Scratch::new();
    let m = station(0x20);
    let config = format!(
        r#"
[underlay]
port = "net_pcap0"
addresses = ["10.0.0.1/24"]
next_hop_mac = "02:00:00:00:00:fe"

[[access]]
port = "net_pcap1"
untagged_vni = 5000

[[vni]]
id = 5000

[[vni]]
id = 5100
vlan = 100

[[fdb]]
vni = 5100
mac = "{}"
remote = "10.0.0.2"
"#,
        mac_text(m)
    );
    // Five frames in VNI 5100 (VLAN 100) to a MAC behind 10.0.0.2: encapsulated at start.
    let frames: Vec<Vec<u8>> = (0..5u8)
        .map(|i| tenant(station(0x30 + i), m, Some(100), b"counted"))
        .collect();
    let (v, _) = pcap_ports(Vtepd::new(&s, &config), &s, &[Vec::new(), frames]);
    let api = Api::new(v.api_url().unwrap());
    let vtepd = v.spawn();
    poll(&api, "/api/v1/vnis/5100", Duration::from_secs(10), |v| {
        v["encap_packets"] == 5
    });
    assert_eq!(api.call("DELETE", "/api/v1/vnis/5100", None).status, 204);
    api.expect(
        201,
        "POST",
        "/api/v1/vnis",
        Some(&json!({"id": 7000, "vlan": 700})),
    );
    let v = api.get_ok("/api/v1/vnis/7000");
    let metrics = common::api::parse_exposition(&api.get("/metrics").body).unwrap();
    let in_metrics = metrics.value("vtepd_vni_encap_packets_total", &[("vni", "7000")]);
    vtepd.stop().assert_success();
    assert_eq!(
        (v["encap_packets"].as_u64(), v["encap_bytes"].as_u64()),
        (Some(0), Some(0)),
        "VNI 7000 never carried a packet: {v}"
    );
    assert_eq!(in_metrics, Some(0.0));
}
