//! vtepctl, the built binary, against a running vtepd: every `show` in tables and as the
//! API's JSON, every change (checked through the API), reload, completions, and the error
//! contract (one line `vtepctl: ...` on stderr, exit 1).

mod common;

use common::api::{
    config_only, ids, null_ports, strip_idle, vtepctl, vtepctl_bin, Api, CtlRun, NULL_GATEWAY,
};
use common::{serial, Scratch, Vtepd};
use serde_json::json;

const STATIC: &str = r#"
[[fdb]]
vni = 5000
mac = "02:00:00:00:01:01"
remote = "10.0.0.7"

[[arp]]
vni = 5100
ip = "192.168.1.10"
mac = "02:00:00:00:01:02"
"#;

fn start(s: &Scratch) -> (common::Running, Api, String) {
    let v = null_ports(Vtepd::new(s, &format!("{NULL_GATEWAY}{STATIC}")));
    let api = Api::new(v.api_url().expect("harness-chosen API port"));
    let config = v.config_path().display().to_string();
    (v.spawn(), api, config)
}

/// The table vtepctl printed: header cells and rows, split on runs of two or more spaces.
fn table(out: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut lines = out.lines().map(|l| {
        l.split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect::<Vec<String>>()
    });
    let header = lines.next().expect("a header line");
    (header, lines.collect())
}

/// Every `show`, in tables and with --json (which must be exactly what the API answers).
#[test]
fn show_commands_print_tables_and_json() {
    let _slot = serial();
    let s = Scratch::new();
    let (vtepd, api, config) = start(&s);
    let ctl = |args: &[&str]| vtepctl(&api.base, args);

    let out = ctl(&["show", "status"]);
    let text = out.ok();
    assert!(text.starts_with("vtepd 0."), "{text}");
    assert!(
        text.contains("\ngateway on DPDK ")
            && text.contains("1 worker(s), 2 port(s)")
            && text.trim_end().ends_with(&format!("config {config}")),
        "{text}"
    );
    let st = ctl(&["show", "status", "--json"]).json();
    let mut from_api = api.get_ok("/api/v1/status");
    from_api["uptime_secs"] = st["uptime_secs"].clone();
    assert_eq!(st, from_api);

    let out = ctl(&["show", "vni"]);
    let (header, rows) = table(out.ok());
    assert_eq!(
        header,
        [
            "VNI",
            "ENCAP",
            "VLAN",
            "FLOOD",
            "MACS",
            "ENCAP PKTS",
            "DECAP PKTS",
            "FLOODED",
            "ARP SUPP",
            "STORM DROPS"
        ]
    );
    assert_eq!(
        rows,
        [
            ["5000", "vxlan", "-", "10.0.0.2", "0", "0", "0", "0", "0", "0"],
            ["5100", "vxlan", "100", "-", "0", "0", "0", "0", "0", "0"],
        ]
    );
    let j = ctl(&["--json", "show", "vni"]).json();
    assert_eq!(j, api.get_ok("/api/v1/vnis"));
    let (_, rows) = table(ctl(&["show", "vni", "5100"]).ok());
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][0], "5100");
    let j = ctl(&["show", "vni", "5100", "--json"]).json();
    assert_eq!(
        config_only(&j),
        config_only(&api.get_ok("/api/v1/vnis/5100"))
    );

    let (header, rows) = table(ctl(&["show", "fdb"]).ok());
    assert_eq!(header, ["VNI", "MAC", "WHERE", "TYPE", "IDLE S"]);
    assert_eq!(
        rows,
        [["5000", "02:00:00:00:01:01", "vtep 10.0.0.7", "static", "-"]]
    );
    assert_eq!(
        strip_idle(&ctl(&["show", "fdb", "--json"]).json()),
        strip_idle(&api.get_ok("/api/v1/fdb"))
    );
    let (_, rows) = table(ctl(&["show", "fdb", "--vni", "5100"]).ok());
    assert!(rows.is_empty(), "{rows:?}");
    assert_eq!(
        ctl(&["show", "fdb", "--vni", "5100", "--json"]).json(),
        json!([])
    );

    let (header, rows) = table(ctl(&["show", "arp"]).ok());
    assert_eq!(header, ["VNI", "IP", "MAC", "TYPE"]);
    assert_eq!(
        rows,
        [["5100", "192.168.1.10", "02:00:00:00:01:02", "static"]]
    );
    assert_eq!(
        ctl(&["show", "arp", "--vni", "5100", "--json"]).json(),
        api.get_ok("/api/v1/arp?vni=5100")
    );
    assert_eq!(
        ctl(&["show", "arp", "--vni", "5000", "--json"]).json(),
        json!([])
    );

    let (header, rows) = table(ctl(&["show", "ports"]).ok());
    assert_eq!(
        header,
        [
            "PORT",
            "ROLE",
            "MAC",
            "DRIVER",
            "LINK",
            "RX PKTS",
            "TX PKTS",
            "RX MISSED",
            "TX DROPPED"
        ]
    );
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0][..2], ["net_null0", "underlay"]);
    assert_eq!(rows[1][..2], ["net_null1", "access"]);
    assert_eq!(rows[0][3], "net_null");
    assert!(rows[0][4].starts_with("up "), "{rows:?}");
    let ports = ctl(&["show", "ports", "--json"]).json();
    assert_eq!(ports, api.get_ok("/api/v1/ports"));

    let (header, rows) = table(ctl(&["show", "workers"]).ok());
    assert_eq!(
        header,
        [
            "LCORE",
            "PACKETS",
            "BURSTS",
            "AVG BURST",
            "BUSY POLLS",
            "IDLE POLLS",
            "CYCLES/PKT",
            "UPDATE QUEUE"
        ]
    );
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][..3], ["1", "0", "0"]);
    let w = ctl(&["show", "workers", "--json"]).json();
    assert_eq!(w.as_array().map(Vec::len), Some(1));
    assert_eq!(w[0]["lcore"], 1);
    assert_eq!(w[0]["packets"], 0);

    let text = ctl(&["show", "stats"]).ok().to_owned();
    assert_eq!(
        text,
        "received 0  sent 0  dropped 0\nno drops\nMACs 1: learned 0 moved 0 aged 0; bindings \
         snooped 0\n"
    );
    let st = ctl(&["show", "stats", "--json"]).json();
    let from_api = api.get_ok("/api/v1/stats");
    assert_eq!(st["totals"], from_api["totals"]);
    assert_eq!(st["drops"], from_api["drops"]);
    assert_eq!(st["gateway"]["fdb_entries"], 1);

    vtepd.stop().assert_success();
}

/// Every change vtepctl makes, checked through the API; then reload puts the file back.
#[test]
fn changes_through_vtepctl_reach_the_tables() {
    let _slot = serial();
    let s = Scratch::new();
    let (vtepd, api, _) = start(&s);
    let ctl = |args: &[&str]| vtepctl(&api.base, args);
    let said = |r: CtlRun, text: &str| assert_eq!(r.ok(), format!("{text}\n"));

    said(
        ctl(&[
            "vni",
            "add",
            "--id",
            "6000",
            "--vlan",
            "600",
            "--flood",
            "10.0.0.3,10.0.0.4",
            "--arp-suppression",
            "--max-macs",
            "50",
        ]),
        "added VNI 6000",
    );
    assert_eq!(
        config_only(&api.get_ok("/api/v1/vnis/6000")),
        json!({"id": 6000, "encap": "vxlan", "vlan": 600, "flood": ["10.0.0.3", "10.0.0.4"],
               "multicast_group": null, "learning": true, "arp_suppression": true,
               "allowed_vteps": null, "max_macs": 50,
               "bum_rate_pps": null, "learn_only_from_flood": false})
    );
    let j = ctl(&[
        "--json", "vni", "add", "--id", "6100", "--vlan", "610", "--encap", "nvgre",
    ])
    .json();
    assert_eq!(j["id"], 6100);
    assert_eq!(j["encap"], "nvgre");
    assert_eq!(api.get_ok("/api/v1/vnis/6100")["encap"], "nvgre");

    // `replace` sets everything: what it is not given takes its default.
    said(
        ctl(&[
            "vni",
            "replace",
            "--id",
            "6000",
            "--vlan",
            "601",
            "--no-learning",
            "--allowed-vteps",
            "10.0.0.3",
            "--flood",
            "10.0.0.3",
            "--bum-rate-pps",
            "5000",
        ]),
        "replaced VNI 6000",
    );
    assert_eq!(
        config_only(&api.get_ok("/api/v1/vnis/6000")),
        json!({"id": 6000, "encap": "vxlan", "vlan": 601, "flood": ["10.0.0.3"],
               "multicast_group": null, "learning": false, "arp_suppression": false,
               "allowed_vteps": ["10.0.0.3"], "max_macs": null,
               "bum_rate_pps": 5000, "learn_only_from_flood": false})
    );
    said(
        ctl(&["vni", "flood", "6000", "10.0.0.5,10.0.0.6"]),
        "VNI 6000 floods to 10.0.0.5, 10.0.0.6",
    );
    assert_eq!(
        api.get_ok("/api/v1/vnis/6000")["flood"],
        json!(["10.0.0.5", "10.0.0.6"])
    );
    said(ctl(&["vni", "flood", "6000"]), "VNI 6000 floods to no VTEP");
    assert_eq!(api.get_ok("/api/v1/vnis/6000")["flood"], json!([]));
    assert_eq!(api.get_ok("/api/v1/vnis/6000")["learning"], false);

    // `update` changes what it is given and keeps the rest; `--clear` removes a limit.
    said(
        ctl(&[
            "vni",
            "update",
            "--id",
            "6000",
            "--max-macs",
            "70",
            "--learning",
            "true",
            "--flood",
            "10.0.0.7",
        ]),
        "changed VNI 6000",
    );
    assert_eq!(
        config_only(&api.get_ok("/api/v1/vnis/6000")),
        json!({"id": 6000, "encap": "vxlan", "vlan": 601, "flood": ["10.0.0.7"],
               "multicast_group": null, "learning": true, "arp_suppression": false,
               "allowed_vteps": ["10.0.0.3"], "max_macs": 70,
               "bum_rate_pps": 5000, "learn_only_from_flood": false})
    );
    said(
        ctl(&[
            "vni",
            "update",
            "--id",
            "6000",
            "--clear",
            "bum-rate-pps,allowed-vteps",
        ]),
        "changed VNI 6000",
    );
    let v = config_only(&api.get_ok("/api/v1/vnis/6000"));
    assert_eq!(
        (
            &v["bum_rate_pps"],
            &v["allowed_vteps"],
            &v["max_macs"],
            &v["vlan"]
        ),
        (&json!(null), &json!(null), &json!(70), &json!(601))
    );
    // `set` (`update` is its other name) changes only the VLAN here, through one PATCH.
    said(
        ctl(&["vni", "set", "--id", "6000", "--vlan", "602"]),
        "changed VNI 6000",
    );
    let mut want = v.clone();
    want["vlan"] = json!(602);
    assert_eq!(config_only(&api.get_ok("/api/v1/vnis/6000")), want);
    // A port of its own (flannel's), shown beside the encapsulation; cleared, the
    // underlay's again.
    said(
        ctl(&["vni", "set", "--id", "6000", "--vxlan-port", "8472"]),
        "changed VNI 6000",
    );
    assert_eq!(api.get_ok("/api/v1/vnis/6000")["vxlan_port"], 8472);
    assert_eq!(config_only(&api.get_ok("/api/v1/vnis/6000")), want);
    let (_, rows) = table(ctl(&["show", "vni", "6000"]).ok());
    assert_eq!(rows[0][1], "vxlan:8472");
    said(
        ctl(&["vni", "set", "--id", "6000", "--clear", "vxlan-port"]),
        "changed VNI 6000",
    );
    assert_eq!(api.get_ok("/api/v1/vnis/6000")["vxlan_port"], json!(null));
    // The API's merge patch: a null removes a setting, the others stay.
    let patched = api.expect(
        200,
        "PATCH",
        "/api/v1/vnis/6000",
        Some(&json!({"max_macs": null, "arp_suppression": true})),
    );
    assert_eq!(
        (
            &patched["max_macs"],
            &patched["arp_suppression"],
            &patched["vlan"]
        ),
        (&json!(null), &json!(true), &json!(602)),
        "{patched:#}"
    );
    assert!(api
        .send(
            "PATCH",
            "/api/v1/vnis/6000",
            &json!(["not", "an", "object"])
        )
        .refused(400, "vni: expected a JSON object")
        .contains("null removes one"));

    said(
        ctl(&[
            "fdb",
            "add",
            "--vni",
            "6000",
            "--mac",
            "02:00:00:00:06:01",
            "--remote",
            "10.0.0.2",
        ]),
        "02:00:00:00:06:01 in VNI 6000 added",
    );
    said(
        ctl(&[
            "fdb",
            "add",
            "--vni",
            "6000",
            "--mac",
            "02:00:00:00:06:02",
            "--port",
            "net_null1",
        ]),
        "02:00:00:00:06:02 in VNI 6000 added",
    );
    assert_eq!(
        strip_idle(&api.get_ok("/api/v1/fdb?vni=6000")),
        json!([
            {"vni": 6000, "mac": "02:00:00:00:06:01", "port": null, "remote": "10.0.0.2", "static": true,
             "origin": "static"},
            {"vni": 6000, "mac": "02:00:00:00:06:02", "port": "net_null1", "remote": null, "static": true,
             "origin": "static"},
        ])
    );
    said(
        ctl(&["fdb", "del", "--vni", "6000", "--mac", "02:00:00:00:06:02"]),
        "02:00:00:00:06:02 in VNI 6000 removed",
    );
    assert_eq!(
        api.get_ok("/api/v1/fdb?vni=6000").as_array().unwrap().len(),
        1
    );

    // In bulk from a file of JSON lines: all entries, or none when one is wrong.
    said(
        ctl(&["vni", "add", "--id", "6900", "--vlan", "690"]),
        "added VNI 6900",
    );
    let lines: String = (0..300)
        .map(|i| {
            format!(
                "{{\"vni\": 6900, \"mac\": \"02:00:00:00:7{}:{:02x}\", \"remote\": \"10.0.0.{}\"}}\n",
                i / 256,
                i % 256,
                2 + i % 3
            )
        })
        .collect();
    let bad = format!("{lines}{{\"vni\": 6900, \"mac\": \"nope\", \"remote\": \"10.0.0.2\"}}\n");
    std::fs::write(s.path("bad.jsonl"), &bad).unwrap();
    let e = ctl(&[
        "fdb",
        "add",
        "--file",
        s.path("bad.jsonl").to_str().unwrap(),
    ])
    .failed();
    assert!(e.starts_with("vtepctl: line 301: fdb.mac: "), "{e}");
    assert_eq!(
        api.get_ok("/api/v1/fdb?vni=6900").as_array().unwrap().len(),
        0,
        "nothing of a refused file is applied"
    );
    std::fs::write(s.path("macs.jsonl"), &lines).unwrap();
    said(
        ctl(&[
            "fdb",
            "add",
            "--file",
            s.path("macs.jsonl").to_str().unwrap(),
        ]),
        "300 static MAC entries added",
    );
    assert_eq!(
        api.get_ok("/api/v1/fdb?vni=6900").as_array().unwrap().len(),
        300
    );
    let twice = format!("{lines}{}", lines.lines().next().unwrap());
    std::fs::write(s.path("twice.jsonl"), twice).unwrap();
    let e = ctl(&[
        "fdb",
        "add",
        "--file",
        s.path("twice.jsonl").to_str().unwrap(),
    ])
    .failed();
    assert!(
        e.contains("line 301: fdb.mac: 02:00:00:00:70:00 in VNI 6900 is given twice"),
        "{e}"
    );
    said(ctl(&["vni", "del", "6900"]), "removed VNI 6900");

    said(
        ctl(&[
            "arp",
            "add",
            "--vni",
            "6000",
            "--ip",
            "10.1.1.1",
            "--mac",
            "02:00:00:00:06:01",
        ]),
        "10.1.1.1 is 02:00:00:00:06:01 in VNI 6000",
    );
    said(
        ctl(&[
            "arp",
            "add",
            "--vni",
            "6000",
            "--ip",
            "fd00:6::1",
            "--mac",
            "02:00:00:00:06:01",
        ]),
        "fd00:6::1 is 02:00:00:00:06:01 in VNI 6000",
    );
    assert_eq!(
        api.get_ok("/api/v1/arp?vni=6000").as_array().unwrap().len(),
        2
    );
    said(
        ctl(&["arp", "del", "--vni", "6000", "--ip", "10.1.1.1"]),
        "binding of 10.1.1.1 in VNI 6000 removed",
    );
    assert_eq!(
        api.get_ok("/api/v1/arp?vni=6000"),
        json!([{"vni": 6000, "ip": "fd00:6::1", "mac": "02:00:00:00:06:01", "static": true}])
    );

    said(
        ctl(&["flush", "--vni", "6000"]),
        "removed 0 MAC(s) from VNI 6000",
    );
    assert_eq!(
        api.get_ok("/api/v1/fdb?vni=6000").as_array().unwrap().len(),
        1
    );
    let j = ctl(&["flush", "--vni", "6000", "--all", "--json"]).json();
    assert_eq!(j, json!({"vni": 6000, "removed": 1}));
    assert_eq!(api.get_ok("/api/v1/fdb?vni=6000"), json!([]));

    said(ctl(&["vni", "del", "6100"]), "removed VNI 6100");
    assert_eq!(api.get("/api/v1/vnis/6100").status, 404);
    assert_eq!(ids(&api.get_ok("/api/v1/vnis")), [5000, 5100, 6000]);

    // Reload: the file wins again — VNI 6000 (added through the API) goes.
    let r = ctl(&["reload"]);
    assert_eq!(
        r.ok(),
        "reloaded: VNIs added [] removed [6000] changed []; 0 static MAC and 0 binding changes\n"
    );
    assert_eq!(ids(&api.get_ok("/api/v1/vnis")), [5000, 5100]);
    let j = ctl(&["reload", "--json"]).json();
    assert_eq!(
        j,
        json!({"vnis_added": [], "vnis_removed": [], "vnis_changed": [], "fdb_changed": 0,
               "arp_changed": 0, "settings_changed": []})
    );

    vtepd.stop().assert_success();
}

/// Errors: one line `vtepctl: ...` with the API's message and status, exit 1; nothing
/// changed. Usage errors are clap's (exit 2).
#[test]
fn errors_are_one_line_and_exit_1() {
    let _slot = serial();
    let s = Scratch::new();
    let (vtepd, api, _) = start(&s);
    let ctl = |args: &[&str]| vtepctl(&api.base, args);
    let before = api.state();

    for (args, expected) in [
        (
            vec!["vni", "add", "--id", "5000", "--vlan", "9"],
            "vtepctl: vni.id: VNI 5000 already exists (HTTP 409)",
        ),
        (
            vec!["vni", "add", "--id", "6000", "--vlan", "100"],
            "vtepctl: vni.vlan: VLAN 100 is already mapped to VNI 5100 (HTTP 409)",
        ),
        (
            vec![
                "vni", "add", "--id", "6000", "--vlan", "600", "--flood", "10.0.0.x",
            ],
            "vtepctl: vni.flood[0]: \"10.0.0.x\" is not an IPv4 or IPv6 address (HTTP 400)",
        ),
        (
            vec!["vni", "set", "--id", "7777", "--vlan", "777"],
            "vtepctl: VNI 7777 is not configured (HTTP 404)",
        ),
        (
            vec!["vni", "update", "--id", "7777", "--vlan", "777"],
            "vtepctl: VNI 7777 is not configured (HTTP 404)",
        ),
        (
            vec!["vni", "set", "--id", "5000"],
            "vtepctl: nothing to change: give a setting, or --clear one",
        ),
        (
            vec!["vni", "update", "--id", "5000", "--clear", "flood"],
            "vtepctl: --clear flood: not a setting that can be removed (vlan, multicast-group, \
             vxlan-port, allowed-vteps, max-macs, bum-rate-pps, vrf, gateway)",
        ),
        (
            vec!["vni", "flood", "5000", "10.0.0.2,bad"],
            "vtepctl: vni.flood[1]: \"bad\" is not an IPv4 or IPv6 address (HTTP 400)",
        ),
        (
            vec!["vni", "del", "5000"],
            "vtepctl: VNI 5000 is an access port's untagged_vni: change the configuration and \
             reload (HTTP 409)",
        ),
        (
            vec!["vni", "del", "7777"],
            "vtepctl: VNI 7777 is not configured (HTTP 404)",
        ),
        (
            vec!["show", "vni", "7777"],
            "vtepctl: VNI 7777 is not configured (HTTP 404)",
        ),
        (
            vec![
                "fdb",
                "add",
                "--vni",
                "7777",
                "--mac",
                "02:00:00:00:00:01",
                "--remote",
                "10.0.0.2",
            ],
            "vtepctl: fdb.vni: VNI 7777 is not configured (HTTP 400)",
        ),
        (
            vec![
                "fdb", "add", "--vni", "5000", "--mac", "zz", "--remote", "10.0.0.2",
            ],
            "vtepctl: fdb.mac: ",
        ),
        (
            vec!["fdb", "del", "--vni", "5000", "--mac", "02:00:00:00:09:09"],
            "vtepctl: no entry for 02:00:00:00:09:09 in VNI 5000 (HTTP 404)",
        ),
        (
            vec![
                "arp",
                "add",
                "--vni",
                "5000",
                "--ip",
                "300.1.1.1",
                "--mac",
                "02:00:00:00:00:01",
            ],
            "vtepctl: arp.ip: ",
        ),
        (
            vec!["arp", "del", "--vni", "5000", "--ip", "10.9.9.9"],
            "vtepctl: no entry for 10.9.9.9 in VNI 5000 (HTTP 404)",
        ),
        (
            vec!["flush", "--vni", "7777"],
            "vtepctl: VNI 7777 is not configured (HTTP 404)",
        ),
    ] {
        let line = ctl(&args).failed();
        assert!(line.starts_with(expected), "{args:?}: {line}");
        if !expected.ends_with(": ") {
            assert_eq!(line, expected, "{args:?}");
        }
    }
    assert_eq!(
        api.state(),
        before,
        "a refused vtepctl command changed something"
    );

    // A reload of a broken file: refused, the key named.
    let config = s
        .dir
        .path()
        .read_dir()
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "toml"))
        .unwrap();
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("flood = [\"10.0.0.2\"]", "flood = [\"10.0.0.256\"]"),
    )
    .unwrap();
    let line = ctl(&["reload"]).failed();
    assert_eq!(
        line,
        format!(
            "vtepctl: config {}: vni[0].flood[0]: \"10.0.0.256\" is not an IPv4 or IPv6 \
             address (HTTP 400)",
            config.display()
        )
    );
    std::fs::write(&config, text).unwrap();
    assert_eq!(api.state(), before);

    // No vtepd there; a bad URL; a missing token file.
    let closed = format!("http://127.0.0.1:{}", common::api::free_port());
    let line = vtepctl(&closed, &["show", "status"]).failed();
    assert!(
        line.starts_with(&format!("vtepctl: cannot reach vtepd at {closed}: ")),
        "{line}"
    );
    let line = vtepctl("not a url", &["show", "vni"]).failed();
    assert!(
        line.starts_with("vtepctl: cannot reach vtepd at not a url: "),
        "{line}"
    );
    let line = ctl(&["--token-file", "/nonexistent/token", "show", "vni"]).failed();
    assert!(line.starts_with("vtepctl: /nonexistent/token: "), "{line}");

    // Usage errors are clap's: exit 2, on stderr.
    for args in [
        vec!["show", "bogus"],
        vec!["fdb", "add", "--vni", "5000", "--mac", "02:00:00:00:00:01"],
        vec![
            "fdb",
            "add",
            "--vni",
            "5000",
            "--mac",
            "02:00:00:00:00:01",
            "--remote",
            "10.0.0.2",
            "--port",
            "x",
        ],
        vec!["vni", "add", "--id", "x"],
        vec!["--token", "a", "--token-file", "b", "show", "vni"],
    ] {
        let r = ctl(&args);
        assert_eq!(r.code, Some(2), "{args:?}: {r:?}");
        assert!(
            r.stdout.is_empty() && r.stderr.starts_with("error: "),
            "{args:?}: {r:?}"
        );
    }
    assert_eq!(api.state(), before);

    vtepd.stop().assert_success();
}

/// Completion scripts for every shell clap knows, without a vtepd; --version and --help.
#[test]
fn completions_version_and_help_need_no_vtepd() {
    for (shell, marker) in [
        ("bash", "_vtepctl()"),
        ("zsh", "#compdef vtepctl"),
        ("fish", "complete -c vtepctl"),
        ("elvish", "vtepctl"),
        ("powershell", "vtepctl"),
    ] {
        let r = vtepctl("http://127.0.0.1:1", &["completions", shell]);
        let text = r.ok();
        assert!(text.contains(marker), "{shell}: no {marker:?}");
        for sub in [
            "show",
            "vni",
            "fdb",
            "arp",
            "flush",
            "reload",
            "completions",
        ] {
            assert!(text.contains(sub), "{shell} completions lack {sub}");
        }
    }
    let r = vtepctl("http://127.0.0.1:1", &["completions", "tcsh"]);
    assert_eq!(r.code, Some(2), "{r:?}");

    let out = std::process::Command::new(vtepctl_bin())
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("vtepctl 0."));
    let out = std::process::Command::new(vtepctl_bin())
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for word in [
        "show", "vni", "fdb", "arp", "flush", "reload", "--api", "--token", "--json",
    ] {
        assert!(help.contains(word), "--help lacks {word}: {help}");
    }
    // The bash script is valid bash.
    let s = Scratch::new();
    let script = s.write(
        "vtepctl.bash",
        vtepctl("http://127.0.0.1:1", &["completions", "bash"]).ok(),
    );
    let check = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}
