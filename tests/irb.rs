//! Symmetric IRB (RFC 9135) against the Linux kernel: a kernel leaf VTEP programmed the way
//! FRR's zebra programs symmetric IRB (an L3VNI VXLAN device in a bridge whose MAC is the
//! leaf's router MAC, a route to vtepd's tenant subnet "via" vtepd's VTEP address onlink on
//! that bridge, a permanent neighbour entry giving vtepd's router MAC, and a VXLAN FDB entry
//! for it), with a tenant host behind it; and a kernel VXLAN host in an L2VNI behind vtepd.
//! vtepd routes between them through the VRF's L3VNI, each router routing the packet once.
//!
//! Needs root, iproute2, iputils-ping and bridge; skipped (with a message) without them.

mod common;

use std::process::Output;
use std::time::Duration;

use common::api::{vtepctl, Api, Proxy};
use common::netns::{self, veth, Netns};
use common::{serial, Scratch, Vtepd};

const VTEPD_RMAC: &str = "02:72:00:00:00:01";
const LEAF_RMAC: &str = "02:72:00:00:00:05";

const CONFIG: &str = r#"
[underlay]
port = "net_af_packet0"
addresses = ["10.0.0.1/24"]

[[access]]
port = "net_af_packet1"

[routing]
router_mac = "02:72:00:00:00:01"

[[vrf]]
name = "org-a"
id = 10
l3vni = 5000

[[vrf]]
name = "org-b"
id = 20

[[vni]]
id = 100
flood = ["10.0.0.2"]
vrf = "org-a"
gateway = "192.168.10.1/24"

[[vni]]
id = 300
flood = ["10.0.0.4"]
vrf = "org-b"
gateway = "192.168.10.1/24"

# The leaf's tenant subnet, as an EVPN type 5 route would install it.
[[route]]
vrf = "org-a"
prefix = "10.2.0.0/24"
vtep = "10.0.0.5"
router_mac = "02:72:00:00:00:05"
"#;

/// A kernel VTEP at `underlay` with VNI `vni` towards vtepd, its tenant address on `vxlan0`
/// and vtepd's gateway as its default route.
fn kernel_host(ns: &Netns, underlay: &str, vni: u32, tenant: &str) {
    ns.quiet_up("eth0");
    ns.addr("eth0", &format!("{underlay}/24"));
    let id = vni.to_string();
    ns.ip(&[
        "link", "add", "vxlan0", "type", "vxlan", "id", &id, "dstport", "4789", "local", underlay,
        "remote", "10.0.0.1", "dev", "eth0",
    ]);
    ns.quiet_up("vxlan0");
    ns.addr("vxlan0", tenant);
    ns.ip(&["route", "add", "default", "via", "192.168.10.1"]);
}

/// The leaf at 10.0.0.5: L3VNI 5000 as zebra sets it up for a VRF (here the leaf's default
/// table), and the tenant subnet 10.2.0.0/24 on `h0` towards host `b`.
fn symmetric_irb_leaf(leaf: &Netns, b: &Netns) {
    leaf.quiet_up("eth0");
    leaf.addr("eth0", "10.0.0.5/24");
    leaf.ok(&["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    leaf.ip(&[
        "link",
        "add",
        "vx5000",
        "type",
        "vxlan",
        "id",
        "5000",
        "dstport",
        "4789",
        "local",
        "10.0.0.5",
        "nolearning",
        "dev",
        "eth0",
    ]);
    leaf.ip(&[
        "link", "add", "br5000", "address", LEAF_RMAC, "type", "bridge",
    ]);
    leaf.no_ipv6("br5000");
    leaf.ip(&["link", "set", "vx5000", "master", "br5000"]);
    leaf.quiet_up("vx5000");
    leaf.quiet_up("br5000");
    // What zebra installs for a remote type 5 prefix: the route through the remote VTEP's
    // address, that address's router MAC, and where that MAC is.
    leaf.ip(&[
        "route",
        "add",
        "192.168.10.0/24",
        "via",
        "10.0.0.1",
        "dev",
        "br5000",
        "onlink",
    ]);
    leaf.ip(&[
        "neigh",
        "replace",
        "10.0.0.1",
        "lladdr",
        VTEPD_RMAC,
        "dev",
        "br5000",
        "nud",
        "permanent",
    ]);
    leaf.ok(&[
        "bridge",
        "fdb",
        "append",
        VTEPD_RMAC,
        "dev",
        "vx5000",
        "dst",
        "10.0.0.1",
        "self",
        "permanent",
    ]);
    veth(leaf, "h0", b, "eth0");
    leaf.quiet_up("h0");
    leaf.addr("h0", "10.2.0.1/24");
    b.quiet_up("eth0");
    b.addr("eth0", "10.2.0.10/24");
    b.ip(&["route", "add", "default", "via", "10.2.0.1"]);
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

fn all_answered(o: &Output) -> bool {
    o.status.success() && text(o).contains(" 0% packet loss")
}

fn vni_counter(api: &Api, vni: u32, key: &str) -> u64 {
    api.get_ok(&format!("/api/v1/vnis/{vni}"))[key]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn a_kernel_leaf_with_symmetric_irb_routes_to_a_host_behind_vtepd() {
    if !netns::capable(&["ping", "bridge", "sysctl"]) {
        return;
    }
    let _slot = serial();
    let s = Scratch::new();
    let (v, fabric, acc) = (Netns::new(), Netns::new(), Netns::new());
    let (a, d, leaf, b) = (Netns::new(), Netns::new(), Netns::new(), Netns::new());
    fabric.ip(&["link", "add", "br0", "type", "bridge"]);
    fabric.quiet_up("br0");
    veth(&v, "und", &fabric, "p0");
    for (i, ns) in [&a, &d, &leaf].into_iter().enumerate() {
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
    // a: org-a in VNI 100; d: org-b in VNI 300 with a's very address; the leaf with b.
    kernel_host(&a, "10.0.0.2", 100, "192.168.10.2/24");
    kernel_host(&d, "10.0.0.4", 300, "192.168.10.2/24");
    symmetric_irb_leaf(&leaf, &b);

    let run = Vtepd::new(&s, CONFIG)
        .vdev("net_af_packet0,iface=und")
        .vdev("net_af_packet1,iface=acc");
    let port = run.api_port().expect("the harness's API port");
    let config = run.config_path();
    let vtepd = v.vtepd(run);
    let (_proxy, local) = Proxy::start(&v, port);
    let api = Api::new(format!("http://127.0.0.1:{local}"));
    let state = || {
        format!(
            "vrfs: {:#}\nroutes: {:#}\nvni 5000: {:#}\nstats: {:#}\nleaf: {}\n{}",
            api.get_ok("/api/v1/vrfs"),
            api.get_ok("/api/v1/routes"),
            api.get_ok("/api/v1/vnis/5000"),
            api.get_ok("/api/v1/stats"),
            leaf.ip(&["-s", "link", "show", "vx5000"]),
            leaf.ip(&["neigh", "show"]),
        )
    };

    // a's first packets teach vtepd its binding (ARP for the gateway) and resolve the
    // leaf's underlay address; then a reaches b, and b's replies come back routed.
    let ok = netns::wait_until(Duration::from_secs(15), Duration::from_millis(300), || {
        all_answered(&a.ping("10.2.0.10", 1))
    });
    assert!(ok, "org-a never reached the leaf's host\n{}", state());
    let p = a.ping("10.2.0.10", 5);
    assert!(all_answered(&p), "{}\n{}", text(&p), state());
    // b sends with TTL 64; the leaf routes once, vtepd once.
    assert!(text(&p).contains("ttl=62"), "{}", text(&p));
    // Both ways in the L3VNI: requests out, replies in.
    assert!(vni_counter(&api, 5000, "encap_packets") >= 5, "{}", state());
    assert!(vni_counter(&api, 5000, "decap_packets") >= 5, "{}", state());

    // From the leaf's side: b starts the conversation.
    assert!(all_answered(&b.ping("192.168.10.2", 3)), "{}", state());

    // org-b has the same address as a, but no route to the leaf and no L3VNI.
    assert!(!all_answered(&d.ping("10.2.0.10", 2)), "{}", state());
    let vrfs = api.get_ok("/api/v1/vrfs");
    let org_b = vrfs
        .as_array()
        .and_then(|a| a.iter().find(|v| v["name"] == "org-b"))
        .cloned()
        .unwrap_or_default();
    assert!(
        org_b["counters"]["no_route"].as_u64().unwrap_or(0) >= 1,
        "{vrfs:#}"
    );
    assert!(org_b.get("l3vni").is_none(), "{vrfs:#}");

    // The operator's views.
    let base = format!("http://127.0.0.1:{local}");
    let shown = vtepctl(&base, &["show", "route", "--vrf", "org-a"]);
    let table = shown.ok();
    assert!(
        table.contains("10.2.0.0/24")
            && table.contains("vtep 10.0.0.5 rmac 02:72:00:00:00:05 (l3vni 5000)"),
        "{table}"
    );
    let shown = vtepctl(&base, &["show", "vrf"]);
    assert!(shown.ok().contains("100,l3:5000"), "{}", shown.ok());
    let routes = api.get_ok("/api/v1/routes?vrf=org-a");
    let remote = routes
        .as_array()
        .and_then(|r| r.iter().find(|r| r["prefix"] == "10.2.0.0/24"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(remote["vtep"], "10.0.0.5", "{routes:#}");
    assert_eq!(remote["vni"], 5000, "{routes:#}");
    assert!(remote["packets"].as_u64().unwrap_or(0) >= 5, "{routes:#}");
    // The L3VNI is vtepd's to manage through [[vrf]], not through VNI calls.
    let refused = api.call("DELETE", "/api/v1/vnis/5000", None);
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(refused.body.contains("L3VNI"), "{}", refused.body);

    // A reload without the route: the leaf is unreachable, the route's tunnel gone.
    let without = CONFIG
        .split("# The leaf's tenant subnet")
        .next()
        .unwrap_or(CONFIG);
    let file = std::fs::read_to_string(&config).expect("the running configuration");
    std::fs::write(&config, file.replace(CONFIG, without)).expect("rewrite the configuration");
    assert_eq!(api.call("POST", "/api/v1/reload", None).status, 200);
    assert!(!all_answered(&a.ping("10.2.0.10", 1)), "{}", state());
    let routes = api.get_ok("/api/v1/routes?vrf=org-a");
    assert!(!routes.to_string().contains("10.2.0.0/24"), "{routes:#}");

    let out = vtepd.stop();
    out.assert_success();
    let r = out.report.as_ref().expect("final stats written");
    assert_eq!(r["mempool"]["in_use_at_exit"], 0, "mbuf leak: {r:#}");
}
