//! The L3 gateway against the Linux kernel: kernel VXLAN VTEPs in namespaces, each with a
//! tenant address in one VNI and vtepd's anycast gateway as its default route; vtepd routes
//! between the VNIs of a tenant VRF, resolves hosts itself, answers for its gateway
//! addresses, sends time exceeded, follows a static route to a router, and keeps a second
//! VRF with the same prefixes apart.
//!
//! Needs root, iproute2, iputils-ping and bridge; skipped (with a message) without them.

mod common;

use std::process::Output;

use common::api::{vtepctl, Api, Proxy};
use common::netns::{self, veth, Netns};
use common::{serial, Scratch, Vtepd};

const CONFIG: &str = r#"
[underlay]
port = "net_af_packet0"
addresses = ["10.0.0.1/24"]

[[access]]
port = "net_af_packet1"

[[vrf]]
name = "org-a"
id = 10

[[vrf]]
name = "org-b"
id = 20

# org-a: training (100) and inference (200).
[[vni]]
id = 100
flood = ["10.0.0.2"]
vrf = "org-a"
gateway = "192.168.10.1/24"

[[vni]]
id = 200
flood = ["10.0.0.3"]
vrf = "org-a"
gateway = "192.168.20.1/24"

# org-b reuses org-a's inference prefix.
[[vni]]
id = 300
flood = ["10.0.0.4"]
vrf = "org-b"
gateway = "192.168.20.1/24"

# A router on org-a's inference subnet.
[[route]]
vrf = "org-a"
prefix = "172.16.0.0/16"
via = "192.168.20.254"
"#;

/// A kernel VTEP at `underlay` (10.0.0.x) with VNI `vni` towards vtepd (10.0.0.1), its
/// tenant address on `vxlan0`, and vtepd's gateway as its default route.
fn kernel_vtep(ns: &Netns, underlay: &str, vni: u32, tenant: &str, gateway: &str) {
    ns.quiet_up("eth0");
    ns.addr("eth0", &format!("{underlay}/24"));
    let id = vni.to_string();
    ns.ip(&[
        "link", "add", "vxlan0", "type", "vxlan", "id", &id, "dstport", "4789", "local", underlay,
        "remote", "10.0.0.1", "dev", "eth0",
    ]);
    ns.quiet_up("vxlan0");
    ns.addr("vxlan0", tenant);
    ns.ip(&["route", "add", "default", "via", gateway]);
}

fn ping_ttl(ns: &Netns, dst: &str, ttl: u32) -> Output {
    let ttl = ttl.to_string();
    ns.output(&["ping", "-n", "-c", "1", "-t", &ttl, "-W", "3", dst])
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

fn all_answered(o: &Output) -> bool {
    o.status.success() && text(o).contains(" 0% packet loss")
}

fn vrf(api: &Api, name: &str) -> serde_json::Value {
    let vrfs = api.get_ok("/api/v1/vrfs");
    vrfs.as_array()
        .and_then(|a| a.iter().find(|v| v["name"] == name))
        .cloned()
        .unwrap_or_else(|| panic!("no VRF {name} in {vrfs:#}"))
}

fn counter(api: &Api, name: &str, key: &str) -> u64 {
    vrf(api, name)["counters"][key].as_u64().unwrap_or(0)
}

fn vni_floods(api: &Api, vni: u32) -> u64 {
    api.get_ok(&format!("/api/v1/vnis/{vni}"))["flood_copies"]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn kernel_hosts_in_two_vnis_are_routed_and_another_vrf_stays_apart() {
    if !netns::capable(&["ping", "bridge"]) {
        return;
    }
    let _slot = serial();
    let s = Scratch::new();
    let (v, fabric, acc) = (Netns::new(), Netns::new(), Netns::new());
    let (a, c, d) = (Netns::new(), Netns::new(), Netns::new());
    fabric.ip(&["link", "add", "br0", "type", "bridge"]);
    fabric.quiet_up("br0");
    veth(&v, "und", &fabric, "p0");
    for (i, ns) in [&a, &c, &d].into_iter().enumerate() {
        veth(ns, "eth0", &fabric, &format!("p{}", i + 1));
    }
    for p in ["p0", "p1", "p2", "p3"] {
        fabric.no_ipv6(p);
        fabric.ip(&["link", "set", p, "master", "br0"]);
        fabric.up(p);
    }
    veth(&v, "acc", &acc, "eth0");
    v.quiet_up("und");
    v.quiet_up("acc");
    acc.quiet_up("eth0");
    // a: org-a training; c: org-a inference, also the router 192.168.20.254 in front of
    // 172.16.0.0/16 (its own 172.16.0.1); d: org-b, with c's very address.
    kernel_vtep(&a, "10.0.0.2", 100, "192.168.10.2/24", "192.168.10.1");
    kernel_vtep(&c, "10.0.0.3", 200, "192.168.20.2/24", "192.168.20.1");
    c.addr("vxlan0", "192.168.20.254/24");
    c.up("lo");
    c.addr("lo", "172.16.0.1/32");
    kernel_vtep(&d, "10.0.0.4", 300, "192.168.20.2/24", "192.168.20.1");

    let run = Vtepd::new(&s, CONFIG)
        .vdev("net_af_packet0,iface=und")
        .vdev("net_af_packet1,iface=acc");
    let port = run.api_port().expect("the harness's API port");
    let config = run.config_path();
    let vtepd = v.vtepd(run);
    // The API listens on the namespace's loopback: reached through a proxy.
    let (_proxy, local) = Proxy::start(&v, port);
    let api = Api::new(format!("http://127.0.0.1:{local}"));
    let state = || {
        format!(
            "vrfs: {:#}\nroutes: {:#}\nstats: {:#}",
            api.get_ok("/api/v1/vrfs"),
            api.get_ok("/api/v1/routes"),
            api.get_ok("/api/v1/stats")
        )
    };

    // The gateway answers for its addresses: its own VNI's and the other VNI's of the VRF.
    assert!(all_answered(&a.ping("192.168.10.1", 2)), "{}", state());
    assert!(all_answered(&a.ping("192.168.20.1", 2)), "{}", state());

    // The first packet to c finds it unresolved: lost, and vtepd asks for it in VNI 200.
    // Then the pings go through, routed both ways.
    let _ = a.ping("192.168.20.2", 1);
    let ok = netns::wait_until(
        std::time::Duration::from_secs(10),
        std::time::Duration::from_millis(200),
        || all_answered(&a.ping("192.168.20.2", 1)),
    );
    assert!(ok, "org-a training never reached inference\n{}", state());
    assert!(counter(&api, "org-a", "unresolved") >= 1, "{}", state());
    assert!(
        counter(&api, "org-a", "resolve_requests") >= 1,
        "{}",
        state()
    );

    // Resolved, routed traffic floods nothing.
    let floods = (vni_floods(&api, 100), vni_floods(&api, 200));
    let routed = counter(&api, "org-a", "routed_packets");
    let p = a.ping("192.168.20.2", 10);
    assert!(all_answered(&p), "{}\n{}", text(&p), state());
    assert_eq!(
        (vni_floods(&api, 100), vni_floods(&api, 200)),
        floods,
        "routed unicast was flooded\n{}",
        state()
    );
    // 10 requests and 10 replies.
    assert!(
        counter(&api, "org-a", "routed_packets") >= routed + 20,
        "{}",
        state()
    );

    // TTL 1: time exceeded from the gateway's address on a's subnet.
    let t = ping_ttl(&a, "192.168.20.2", 1);
    assert!(
        text(&t).contains("From 192.168.10.1") && text(&t).contains("Time to live exceeded"),
        "{}\n{}",
        text(&t),
        state()
    );
    assert!(counter(&api, "org-a", "ttl_expired") >= 1, "{}", state());
    assert!(counter(&api, "org-a", "icmp_errors") >= 1, "{}", state());

    // A static route: 172.16.0.1 through the router at 192.168.20.254.
    let _ = a.ping("172.16.0.1", 1);
    let ok = netns::wait_until(
        std::time::Duration::from_secs(10),
        std::time::Duration::from_millis(200),
        || all_answered(&a.ping("172.16.0.1", 1)),
    );
    assert!(ok, "the static route did not carry\n{}", state());
    let routes = api.get_ok("/api/v1/routes?vrf=org-a");
    let via = routes
        .as_array()
        .and_then(|r| r.iter().find(|r| r["prefix"] == "172.16.0.0/16"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(via["kind"], "static", "{routes:#}");
    assert_eq!(via["vni"], 200, "{routes:#}");
    assert!(via["packets"].as_u64().unwrap_or(0) >= 1, "{routes:#}");

    // org-b: its own gateway answers, org-a's subnets do not exist there, and nothing of
    // org-a's traffic to 192.168.20.2 reached d.
    assert!(all_answered(&d.ping("192.168.20.1", 2)), "{}", state());
    assert!(!all_answered(&d.ping("192.168.10.2", 2)), "{}", state());
    assert!(counter(&api, "org-b", "no_route") >= 1, "{}", state());
    assert_eq!(counter(&api, "org-b", "routed_packets"), 0, "{}", state());
    assert!(!all_answered(&d.ping("172.16.0.1", 1)), "{}", state());
    assert_eq!(
        api.get("/api/v1/routes?vrf=org-z").status,
        404,
        "an unknown VRF"
    );

    // The operator's views: vtepctl and /metrics.
    let base = format!("http://127.0.0.1:{local}");
    let shown = vtepctl(&base, &["show", "route", "--vrf", "org-a"]);
    let table = shown.ok();
    assert!(
        table.contains("172.16.0.0/16") && table.contains("192.168.20.254 (vni 200)"),
        "{table}"
    );
    assert!(!table.contains("org-b"), "{table}");
    let shown = vtepctl(&base, &["show", "vrf"]);
    let table = shown.ok();
    assert!(
        table.contains("org-a") && table.contains("100,200"),
        "{table}"
    );
    let json = vtepctl(&base, &["--json", "show", "vrf"]);
    let parsed: serde_json::Value = serde_json::from_str(json.ok()).expect("JSON");
    assert_eq!(parsed.as_array().map(Vec::len), Some(2), "{parsed:#}");
    // vtepctl's read-modify-write keeps the VNI in its VRF.
    vtepctl(
        &base,
        &["vni", "update", "--id", "200", "--max-macs", "1000"],
    )
    .ok();
    let vni = api.get_ok("/api/v1/vnis/200");
    assert_eq!(
        (vni["vrf"].as_str(), vni["max_macs"].as_u64()),
        (Some("org-a"), Some(1000)),
        "{vni:#}"
    );
    assert_eq!(
        vni["gateway"],
        serde_json::json!(["192.168.20.1/24"]),
        "{vni:#}"
    );
    let metrics = api.get("/metrics").body;
    for line in [
        "vtepd_vrf_routed_packets_total{vrf=\"org-a\"}",
        "vtepd_vrf_no_route_total{vrf=\"org-b\"}",
        "vtepd_route_packets_total{vrf=\"org-a\",prefix=\"172.16.0.0/16\"}",
    ] {
        assert!(metrics.contains(line), "{line} not in /metrics:\n{metrics}");
    }

    // A reload without the static route takes it out of the workers' FIB.
    let without_route = CONFIG
        .split("# A router on org-a's inference subnet.")
        .next()
        .unwrap_or(CONFIG);
    let mut file = std::fs::read_to_string(&config).expect("the running configuration");
    file = file.replace(CONFIG, without_route);
    std::fs::write(&config, &file).expect("rewrite the configuration");
    assert_eq!(api.call("POST", "/api/v1/reload", None).status, 200);
    let routes = api.get_ok("/api/v1/routes?vrf=org-a");
    assert!(!routes.to_string().contains("172.16.0.0/16"), "{routes:#}");
    assert!(!all_answered(&a.ping("172.16.0.1", 1)), "{}", state());
    assert!(counter(&api, "org-a", "no_route") >= 1, "{}", state());
    // Connected routing is untouched by it.
    assert!(all_answered(&a.ping("192.168.20.2", 3)), "{}", state());

    let out = vtepd.stop();
    out.assert_success();
    let r = out.report.as_ref().expect("final stats written");
    assert_eq!(r["mempool"]["in_use_at_exit"], 0, "mbuf leak: {r:#}");
    // The first packet to c became vtepd's ARP request (counted as `resolve_requests`,
    // not as a drop); org-b's pings to org-a are the `no_route` drops.
    assert!(out.drop_count("no_route") >= 1, "{r:#}");
}
