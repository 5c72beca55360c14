//! What vtepd tells its watchers after known traffic: `/metrics` in the Prometheus text
//! format (parsed strictly by the helper in tests/common/api.rs) and vtepd's commands in DPDK
//! telemetry (`dpdk-telemetry.py -f <file-prefix>`) next to DPDK's own `/ethdev/stats`, both
//! checked against the API's counters and the final report.

mod common;

use std::net::Ipv4Addr;
use std::time::Duration;

use common::api::{
    mac_text, parse_exposition, pcap_mac, pcap_ports, poll, station, telemetry, tenant, vxlan_from,
    Api, Exposition, BROADCAST,
};
use common::{serial, Running, Scratch, Vtepd};
use serde_json::{json, Value};

const R2: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// The static MAC behind 10.0.0.2.
fn m1() -> [u8; 6] {
    station(0x01)
}

fn config() -> String {
    format!(
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
flood = ["10.0.0.2"]

[[vni]]
id = 5100
vlan = 100

[[fdb]]
vni = 5000
mac = "{}"
remote = "10.0.0.2"
"#,
        mac_text(m1())
    )
}

/// Known traffic, replayed once at start:
/// - access: 5 frames to the static MAC (encapsulated to 10.0.0.2 in VNI 5000), 3 frames on
///   VLAN 300 (mapped to no VNI);
/// - underlay: 4 VXLAN packets of VNI 7777 (unknown), 2 broadcasts of VNI 5000 from 10.0.0.2
///   (decapsulated to the access port).
const ACCESS_RX: u64 = 8;
const UNDERLAY_RX: u64 = 6;

struct Run {
    vtepd: Running,
    api: Api,
    prefix: String,
    _scratch: Scratch,
}

fn start_with_traffic() -> Run {
    let s = Scratch::new();
    let (src, r) = (station(0x0a), station(0x0b));
    let mut access: Vec<Vec<u8>> = (0..5).map(|_| tenant(src, m1(), None, b"to m1")).collect();
    access.extend((0..3).map(|_| tenant(src, BROADCAST, Some(300), b"vlan 300")));
    let mut underlay: Vec<Vec<u8>> = (0..4)
        .map(|_| {
            vxlan_from(
                R2,
                pcap_mac(0),
                7777,
                &tenant(r, BROADCAST, None, b"unknown vni"),
            )
        })
        .collect();
    underlay.extend((0..2).map(|_| {
        vxlan_from(
            R2,
            pcap_mac(0),
            5000,
            &tenant(r, BROADCAST, None, b"from r2"),
        )
    }));
    let (v, _) = pcap_ports(Vtepd::new(&s, &config()), &s, &[underlay, access]);
    let api = Api::new(v.api_url().expect("harness-chosen API port"));
    let prefix = v.file_prefix().to_owned();
    let vtepd = v.spawn();
    poll(&api, "/api/v1/stats", Duration::from_secs(15), |st| {
        st["totals"]["rx_packets"] == ACCESS_RX + UNDERLAY_RX
    });
    // Learning events reach the management thread asynchronously.
    poll(&api, "/api/v1/stats", Duration::from_secs(15), |st| {
        st["gateway"]["tables"]["learned"] == 2
    });
    Run {
        vtepd,
        api,
        prefix,
        _scratch: s,
    }
}

fn vni_of(stats: &Value, id: u64) -> &Value {
    stats["gateway"]["vnis"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == id)
        .unwrap_or_else(|| panic!("no VNI {id}"))
}

fn u(v: &Value) -> f64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}")) as f64
}

/// `/metrics` after known traffic: well-formed, and every number what the API and the final
/// report say.
#[test]
fn metrics_after_known_traffic() {
    let _slot = serial();
    let run = start_with_traffic();
    let reply = run.api.get("/metrics");
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.content_type,
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let m: Exposition = parse_exposition(&reply.body)
        .unwrap_or_else(|e| panic!("{e}\n--- exposition ---\n{}", reply.body));
    let stats = run.api.get_ok("/api/v1/stats");

    // The families a dashboard relies on, with their types.
    for (name, kind) in [
        ("vtepd_uptime_seconds", "gauge"),
        ("vtepd_port_rx_packets_total", "counter"),
        ("vtepd_port_tx_packets_total", "counter"),
        ("vtepd_port_rx_bytes_total", "counter"),
        ("vtepd_port_tx_bytes_total", "counter"),
        ("vtepd_port_rx_missed_total", "counter"),
        ("vtepd_port_tx_dropped_total", "counter"),
        ("vtepd_port_link_up", "gauge"),
        ("vtepd_worker_packets_total", "counter"),
        ("vtepd_worker_update_queue_depth", "gauge"),
        ("vtepd_drops_total", "counter"),
        ("vtepd_mempool_in_use_buffers", "gauge"),
        ("vtepd_vni_encap_packets_total", "counter"),
        ("vtepd_vni_decap_packets_total", "counter"),
        ("vtepd_vni_flood_copies_total", "counter"),
        ("vtepd_vni_learned_macs", "gauge"),
        ("vtepd_fdb_learned_total", "counter"),
        ("vtepd_fdb_entries", "gauge"),
        ("vtepd_tunnels", "gauge"),
        ("vtepd_vnis", "gauge"),
    ] {
        let f = m
            .families
            .get(name)
            .unwrap_or_else(|| panic!("no family {name}"));
        assert_eq!(f.kind, kind, "{name}");
        assert!(
            f.help.as_deref().is_some_and(|h| !h.is_empty()),
            "{name} has no HELP"
        );
    }

    // Ports: the driver's counters.
    let port =
        |name: &str, role: &str, metric: &str| m.one(metric, &[("port", name), ("role", role)]);
    assert_eq!(
        port("net_pcap0", "underlay", "vtepd_port_rx_packets_total"),
        UNDERLAY_RX as f64
    );
    assert_eq!(
        port("net_pcap1", "access", "vtepd_port_rx_packets_total"),
        ACCESS_RX as f64
    );
    assert_eq!(
        port("net_pcap0", "underlay", "vtepd_port_tx_packets_total"),
        5.0
    );
    assert_eq!(
        port("net_pcap1", "access", "vtepd_port_tx_packets_total"),
        2.0
    );
    assert_eq!(port("net_pcap0", "underlay", "vtepd_port_link_up"), 1.0);
    for (i, p) in stats["ports"].as_array().unwrap().iter().enumerate() {
        let (name, role) = (p["name"].as_str().unwrap(), p["role"].as_str().unwrap());
        assert_eq!(name, format!("net_pcap{i}"));
        for (metric, key) in [
            ("vtepd_port_rx_packets_total", "rx_packets"),
            ("vtepd_port_tx_packets_total", "tx_packets"),
            ("vtepd_port_rx_bytes_total", "rx_bytes"),
            ("vtepd_port_tx_bytes_total", "tx_bytes"),
        ] {
            assert_eq!(
                port(name, role, metric),
                u(&p["nic"][key]),
                "{metric} {name}"
            );
        }
    }

    // Drops: every reason, as the API counts them.
    let drops = stats["drops"].as_object().unwrap();
    assert_eq!(m.families["vtepd_drops_total"].samples.len(), drops.len());
    for (reason, n) in drops {
        assert_eq!(
            m.one("vtepd_drops_total", &[("reason", reason)]),
            u(n),
            "{reason}"
        );
    }
    assert_eq!(
        m.one("vtepd_drops_total", &[("reason", "unknown_vni")]),
        4.0
    );
    assert_eq!(
        m.one("vtepd_drops_total", &[("reason", "unmapped_vlan")]),
        3.0
    );
    let total_drops: f64 = m.families["vtepd_drops_total"]
        .samples
        .iter()
        .map(|s| s.value)
        .sum();
    assert_eq!(total_drops, 7.0, "no other drop");

    // VNIs.
    let vni = |metric: &str, id: &str| m.one(metric, &[("vni", id)]);
    assert_eq!(vni("vtepd_vni_encap_packets_total", "5000"), 5.0);
    assert_eq!(vni("vtepd_vni_decap_packets_total", "5000"), 2.0);
    assert_eq!(vni("vtepd_vni_encap_packets_total", "5100"), 0.0);
    assert_eq!(m.families["vtepd_vni_encap_packets_total"].samples.len(), 2);
    for id in [5000u64, 5100] {
        let v = vni_of(&stats, id);
        let label = id.to_string();
        for (metric, key) in [
            ("vtepd_vni_encap_packets_total", "encap_packets"),
            ("vtepd_vni_encap_bytes_total", "encap_bytes"),
            ("vtepd_vni_decap_packets_total", "decap_packets"),
            ("vtepd_vni_decap_bytes_total", "decap_bytes"),
            ("vtepd_vni_flood_copies_total", "flood_copies"),
            ("vtepd_vni_learned_macs", "macs"),
        ] {
            assert_eq!(vni(metric, &label), u(&v[key]), "{metric} {id}");
        }
    }

    // Workers and tables.
    assert_eq!(
        m.one("vtepd_worker_packets_total", &[("lcore", "1")]),
        (ACCESS_RX + UNDERLAY_RX) as f64
    );
    assert_eq!(
        m.one("vtepd_worker_update_queue_depth", &[("lcore", "1")]),
        0.0
    );
    assert_eq!(m.one("vtepd_vnis", &[]), 2.0);
    assert_eq!(m.one("vtepd_fdb_learned_total", &[]), 2.0);
    assert_eq!(
        m.one("vtepd_fdb_entries", &[]),
        u(&stats["gateway"]["fdb_entries"])
    );
    assert_eq!(
        m.one("vtepd_fdb_entries", &[]),
        3.0,
        "static m1, learned src and r"
    );
    assert_eq!(m.one("vtepd_tunnels", &[]), 1.0, "10.0.0.2, vxlan");
    assert!(m.one("vtepd_uptime_seconds", &[]) >= 0.0);

    // The final report says the same (nothing moved since).
    let out = run.vtepd.stop();
    out.assert_success();
    let r = out.report.as_ref().expect("final stats");
    let v = vni_of(r, 5000);
    assert_eq!(
        vni("vtepd_vni_encap_packets_total", "5000"),
        u(&v["encap_packets"])
    );
    assert_eq!(
        vni("vtepd_vni_decap_packets_total", "5000"),
        u(&v["decap_packets"])
    );
    assert_eq!(
        m.one("vtepd_drops_total", &[("reason", "unknown_vni")]),
        out.drop_count("unknown_vni") as f64
    );
    assert_eq!(
        port("net_pcap0", "underlay", "vtepd_port_rx_packets_total"),
        u(&r["ports"][0]["nic"]["rx_packets"])
    );
}

/// dpdk-telemetry.py lists vtepd's commands and gets JSON from each that agrees with the API
/// and with DPDK's own `/ethdev/stats`.
#[test]
fn telemetry_commands_answer_next_to_dpdks_own() {
    let _slot = serial();
    let run = start_with_traffic();
    let commands = [
        "/",
        "/vtepd/stats",
        "/vtepd/vni",
        "/vtepd/vni,5000",
        "/vtepd/vni,7777",
        "/vtepd/vni,abc",
        "/vtepd/fdb",
        "/vtepd/fdb,5000",
        "/vtepd/fdb,5100",
        "/vtepd/ports",
        "/vtepd/workers",
        "/ethdev/stats,0",
        "/ethdev/stats,1",
        "/help,/vtepd/vni",
    ];
    let answers = telemetry(&run.prefix, &commands);
    let answer = |i: usize| -> &Value {
        let a = answers[i].as_object().expect("an object");
        assert_eq!(a.len(), 1, "{}", answers[i]);
        a.get(commands[i].split(',').next().unwrap())
            .unwrap_or_else(|| {
                panic!(
                    "answer to {} is keyed by its command: {}",
                    commands[i], answers[i]
                )
            })
    };
    let stats = run.api.get_ok("/api/v1/stats");

    let listed: Vec<&str> = answer(0)
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for c in [
        "/vtepd/stats",
        "/vtepd/vni",
        "/vtepd/fdb",
        "/vtepd/ports",
        "/vtepd/workers",
        "/ethdev/stats",
    ] {
        assert!(listed.contains(&c), "{c} not listed: {listed:?}");
    }

    let st = answer(1);
    assert_eq!(st["totals/rx_packets"], ACCESS_RX + UNDERLAY_RX);
    assert_eq!(st["totals/tx_packets"], stats["totals"]["tx_packets"]);
    assert_eq!(st["totals/dropped"], 7);
    assert_eq!(st["drops/unknown_vni"], 4);
    assert_eq!(st["drops/unmapped_vlan"], 3);
    for (reason, n) in stats["drops"].as_object().unwrap() {
        assert_eq!(&st[format!("drops/{reason}")], n, "{reason}");
    }
    assert_eq!(st["gateway/tables/learned"], 2);
    assert_eq!(st["gateway/fdb_entries"], 3);
    assert_eq!(st["mempool/in_use"], stats["mempool"]["in_use"]);
    let keys: Vec<&String> = st.as_object().unwrap().keys().collect();
    assert!(
        !keys.iter().any(|k| k.starts_with("ports")
            || k.starts_with("workers")
            || k.starts_with("gateway/vnis")),
        "lists with their own commands: {keys:?}"
    );

    assert_eq!(answer(2), &json!([5000, 5100]));
    let v = answer(3);
    assert_eq!(v["id"], 5000);
    assert_eq!(v["encap"], "vxlan");
    assert_eq!(v["flood"], "10.0.0.2");
    assert_eq!(v["learning"], 1);
    assert_eq!(v["encap_packets"], 5);
    assert_eq!(v["decap_packets"], 2);
    assert_eq!(v["encap_bytes"], vni_of(&stats, 5000)["encap_bytes"]);
    assert_eq!(answer(4), &json!({"error": "VNI 7777 is not configured"}));
    assert_eq!(answer(5), &json!({"error": "\"abc\" is not a VNI"}));

    let fdb: Vec<&str> = answer(6)
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(fdb.len(), 3, "{fdb:?}");
    let m1_line = format!("5000 {} vtep 10.0.0.2 static", mac_text(m1()));
    assert!(fdb.contains(&m1_line.as_str()), "{fdb:?}");
    assert!(
        fdb.contains(&format!("5000 {} port net_pcap1 learned", mac_text(station(0x0a))).as_str()),
        "{fdb:?}"
    );
    assert!(
        fdb.contains(&format!("5000 {} vtep 10.0.0.2 learned", mac_text(station(0x0b))).as_str()),
        "{fdb:?}"
    );
    assert_eq!(answer(7).as_array().unwrap().len(), 3);
    assert_eq!(answer(8), &json!([]));

    let ports = answer(9);
    let api_ports = run.api.get_ok("/api/v1/ports");
    for (i, p) in api_ports.as_array().unwrap().iter().enumerate() {
        let name = p["name"].as_str().unwrap();
        let t = &ports[name];
        assert_eq!(t["role"], p["role"], "{name}");
        assert_eq!(t["driver"], "net_pcap");
        assert_eq!(t["link_up"], 1);
        assert_eq!(t["rx_packets"], p["rx_packets"], "{name}");
        assert_eq!(t["tx_packets"], p["tx_packets"], "{name}");
        // DPDK's own view of the same port.
        let eth = answer(11 + i);
        assert_eq!(eth["ipackets"], t["rx_packets"], "{name}");
        assert_eq!(eth["opackets"], t["tx_packets"], "{name}");
        assert_eq!(eth["ibytes"], t["rx_bytes"], "{name}");
    }
    assert_eq!(ports["net_pcap0"]["rx_packets"], UNDERLAY_RX);
    assert_eq!(ports["net_pcap1"]["rx_packets"], ACCESS_RX);
    assert_eq!(answer(11)["ipackets"], UNDERLAY_RX);
    assert_eq!(answer(12)["ipackets"], ACCESS_RX);
    assert_eq!(answer(11)["opackets"], 5);

    let workers = answer(10).as_object().unwrap();
    assert_eq!(workers.len(), 1, "{workers:?}");
    let w = &workers["1"];
    assert_eq!(w["lcore"], 1);
    assert_eq!(w["packets"], ACCESS_RX + UNDERLAY_RX);
    assert_eq!(w["update_queue_depth"], 0);
    // Fractions are numbers (rounded), not text.
    assert!(w["cycles_per_packet"].is_u64(), "{w}");
    assert!(w["average_burst"].is_u64(), "{w}");

    let help = answer(13);
    assert!(
        help["/vtepd/vni"]
            .as_str()
            .is_some_and(|h| h.contains("VNI")),
        "{help}"
    );

    run.vtepd.stop().assert_success();
}

/// `/vtepd/fdb,<vni>` with a parameter that is not a VNI is refused like `/vtepd/vni,abc`,
/// not answered with every VNI's entries.
#[test]
fn telemetry_fdb_refuses_a_bad_vni() {
    let _slot = serial();
    let run = start_with_traffic();
    let answers = telemetry(&run.prefix, &["/vtepd/fdb,abc"]);
    run.vtepd.stop().assert_success();
    assert_eq!(
        answers[0],
        json!({"/vtepd/fdb": {"error": "\"abc\" is not a VNI"}})
    );
}

/// The parser the metrics test relies on refuses what the format forbids.
#[test]
fn the_exposition_parser_is_strict() {
    let good =
        "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 3\na_total{x=\"2\"} 4\n\
                # TYPE g gauge\ng 2.5\n";
    let e = parse_exposition(good).unwrap();
    assert_eq!(e.one("a_total", &[("x", "2")]), 4.0);
    assert_eq!(e.value("g", &[]), Some(2.5));
    assert_eq!(e.families["a_total"].help.as_deref(), Some("A."));
    for (bad, why) in [
        ("a_total 1\n", "no TYPE"),
        ("# TYPE a counter\na 1\n", "counter without _total"),
        ("# TYPE a_total gauge\na_total 1\n", "gauge with _total"),
        ("# TYPE a_total counter\na_total{x=1} 1\n", "unquoted label"),
        (
            "# TYPE a_total counter\na_total{x=\"1\"} one\n",
            "bad value",
        ),
        ("# TYPE a_total counter\na_total -1\n", "negative counter"),
        (
            "# TYPE a_total counter\na_total 1\na_total 2\n",
            "duplicate series",
        ),
        (
            "# TYPE a_total counter\na_total{x=\"1\",x=\"2\"} 1\n",
            "duplicate label",
        ),
        (
            "# TYPE a_total counter\na_total{x=\"a\\q\"} 1\n",
            "bad escape",
        ),
        (
            "# TYPE a_total counter\na_total{1x=\"a\"} 1\n",
            "bad label name",
        ),
        (
            "# TYPE a_total counter\n# TYPE g gauge\na_total 1\n",
            "sample after another family",
        ),
        (
            "# TYPE a_total counter\n# TYPE a_total counter\n",
            "two TYPEs",
        ),
        ("# TYPE a_total histogram\n", "type vtepd does not use"),
        ("# TYPE g gauge\ng 1", "no final newline"),
        ("# TYPE g gauge\ng 1 2 3\n", "trailing text"),
        ("# TYPE 9g gauge\n", "bad metric name"),
    ] {
        assert!(parse_exposition(bad).is_err(), "accepted ({why}): {bad:?}");
    }
}
