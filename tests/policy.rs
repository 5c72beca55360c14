//! The stateful policy against real TCP: Linux hosts behind kernel VXLAN VTEPs and behind an
//! access port, in one tenant VRF with a training segment (VNI 1000) and a storage segment
//! (VNI 9000). Training may open NFS (2049) and SSH (22) to storage; everything else between
//! segments is denied; inside training, telnet (23) to one host is denied. Connections are
//! made and refused as the rules say, replies pass only for connections that were allowed,
//! a reload cuts what the new rules no longer allow and keeps the rest, and the connection
//! log reaches a real IPFIX collector (nfcapd) with the right flows and counts.
//!
//! Needs root, iproute2, iputils-ping, bridge, python3 and nfdump; skipped (with a message)
//! without the network tools, failed without nfdump.

mod common;

use std::time::Duration;

use common::api::{vtepctl, Api, Proxy};
use common::netns::{self, veth, Bg, Netns};
use common::nfdump::{nfdump_raw, Nfcapd};
use common::{serial, Scratch, Vtepd};

const RULES: &str = r#"
[[policy.rule]]
id = 10
from = "training"
to = "storage"
proto = "tcp"
ports = [22, 2049]
action = "allow"
log = true

[[policy.rule]]
id = 20
priority = 200
from = "training"
to = "secured"
proto = "tcp"
ports = [23]
action = "deny"
log = true
"#;

fn config(collector: &str) -> String {
    format!(
        r#"
[underlay]
port = "net_af_packet0"
addresses = ["10.0.0.1/24"]

[[access]]
port = "net_af_packet1"
untagged_vni = 1000

[[vrf]]
name = "org-a"
id = 10

[[vni]]
id = 1000
flood = ["10.0.0.2"]
vrf = "org-a"
gateway = "192.168.10.1/24"

[[vni]]
id = 9000
flood = ["10.0.0.3"]
vrf = "org-a"
gateway = "192.168.90.1/24"

[policy]
ipfix = ["{collector}"]
ipfix_interim = 1

[policy.timeouts]
tcp_closed = 1

[[policy.group]]
name = "training"
vnis = [1000]

[[policy.group]]
name = "storage"
vnis = [9000]

[[policy.group]]
name = "secured"
vnis = [1000]
prefixes = ["192.168.10.5/32"]
{RULES}"#
    )
}

/// A kernel VTEP at `underlay` with VNI `vni` towards vtepd, its host address on `vxlan0`.
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

fn flows_py() -> String {
    format!("{}/tests/traffic/flows.py", env!("CARGO_MANIFEST_DIR"))
}

fn serve(ns: &Netns, ports: &[&str]) -> Bg {
    let script = flows_py();
    let mut args = vec!["python3", script.as_str(), "serve"];
    args.extend_from_slice(ports);
    let bg = ns.spawn(&args);
    // Listening before anyone connects.
    assert!(netns::wait_until(
        Duration::from_secs(5),
        Duration::from_millis(50),
        || ns
            .output(&["ss", "-ltn"])
            .stdout
            .windows(ports[0].len() + 1)
            .any(|w| w == format!(":{}", ports[0]).as_bytes())
    ));
    bg
}

/// One connection from `ns`: "ok", "refused" or "timeout".
fn connect(ns: &Netns, host: &str, port: u16) -> String {
    let script = flows_py();
    let out = ns.output(&["python3", &script, "connect", host, &port.to_string()]);
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Connects, retrying while vtepd resolves the host (the first packet to an unknown host
/// is lost to the resolution).
fn connect_retrying(ns: &Netns, host: &str, port: u16) -> String {
    let mut last = String::new();
    for _ in 0..3 {
        last = connect(ns, host, port);
        if last == "ok" {
            break;
        }
    }
    last
}

fn all_answered(o: &std::process::Output) -> bool {
    o.status.success() && String::from_utf8_lossy(&o.stdout).contains(" 0% packet loss")
}

fn rule_hits(policy: &serde_json::Value, id: u64) -> u64 {
    policy["rules"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["id"] == id))
        .and_then(|r| r["hits"].as_u64())
        .unwrap_or(0)
}

#[test]
fn policy_allows_denies_follows_reloads_and_logs_connections() {
    if !netns::capable(&["ping", "bridge", "python3", "ss", "ethtool"]) {
        return;
    }
    let _slot = serial();
    let s = Scratch::new();
    let (v, fabric, acc) = (Netns::new(), Netns::new(), Netns::new());
    let (a, c) = (Netns::new(), Netns::new());
    fabric.ip(&["link", "add", "br0", "type", "bridge"]);
    fabric.quiet_up("br0");
    veth(&v, "und", &fabric, "p0");
    veth(&a, "eth0", &fabric, "p1");
    veth(&c, "eth0", &fabric, "p2");
    for p in ["p0", "p1", "p2"] {
        fabric.no_ipv6(p);
        fabric.ip(&["link", "set", p, "master", "br0"]);
        fabric.up(p);
    }
    veth(&v, "acc", &acc, "eth0");
    v.quiet_up("und");
    v.quiet_up("acc");
    // a: a training host behind a kernel VTEP; acc: the training host 192.168.10.5 on the
    // access port; c: a storage host behind a kernel VTEP.
    kernel_vtep(&a, "10.0.0.2", 1000, "192.168.10.2/24", "192.168.10.1");
    kernel_vtep(&c, "10.0.0.3", 9000, "192.168.90.2/24", "192.168.90.1");
    acc.quiet_up("eth0");
    acc.addr("eth0", "192.168.10.5/24");
    // TCP over veth leaves its checksum to an offload vtepd's AF_PACKET ports never do:
    // the hosts checksum in software, as they would in front of a real NIC.
    for ns in [&a, &c, &acc] {
        ns.ok(&["ethtool", "-K", "eth0", "tx", "off"]);
    }
    for ns in [&a, &c] {
        ns.ok(&["ethtool", "-K", "vxlan0", "tx", "off"]);
    }
    acc.ip(&["route", "add", "default", "via", "192.168.10.1"]);

    // The collector listens on vtepd's namespace's loopback.
    let nfcapd = Nfcapd::start(&s, Some(&v));
    let run = Vtepd::new(&s, &config(&nfcapd.addr.to_string()))
        .vdev("net_af_packet0,iface=und")
        .vdev("net_af_packet1,iface=acc");
    let port = run.api_port().expect("the harness's API port");
    let config_path = run.config_path();
    let vtepd = v.vtepd(run);
    let (_proxy, local) = Proxy::start(&v, port);
    let base = format!("http://127.0.0.1:{local}");
    let api = Api::new(base.clone());
    let state = || {
        format!(
            "policy: {:#}\nsessions: {:#}\nstats: {:#}",
            api.get_ok("/api/v1/policy"),
            api.get_ok("/api/v1/sessions"),
            api.get_ok("/api/v1/stats")
        )
    };

    let _storage = serve(&c, &["2049", "22", "80"]);
    let _training = serve(&a, &["5000"]);
    let _secured = serve(&acc, &["23", "24"]);

    // Training → storage: NFS and SSH, nothing else.
    assert_eq!(
        connect_retrying(&a, "192.168.90.2", 2049),
        "ok",
        "{}",
        state()
    );
    assert_eq!(connect(&a, "192.168.90.2", 22), "ok", "{}", state());
    assert_eq!(connect(&a, "192.168.90.2", 80), "timeout", "{}", state());
    assert!(!all_answered(&a.ping("192.168.90.2", 1)), "{}", state());
    // Storage → training is not a reply to anything: denied.
    assert_eq!(connect(&c, "192.168.10.2", 5000), "timeout", "{}", state());
    // Inside training (bridged from the access port to a's VTEP): allowed by default,
    // but for telnet to the secured host.
    assert!(all_answered(&a.ping("192.168.10.5", 2)), "{}", state());
    assert_eq!(
        connect_retrying(&a, "192.168.10.5", 24),
        "ok",
        "{}",
        state()
    );
    assert_eq!(connect(&a, "192.168.10.5", 23), "timeout", "{}", state());

    let policy = api.get_ok("/api/v1/policy");
    assert!(rule_hits(&policy, 10) >= 2, "{policy:#}");
    assert!(rule_hits(&policy, 20) >= 1, "{policy:#}");
    assert!(
        policy["default_between_hits"].as_u64().unwrap_or(0) >= 3,
        "{policy:#}"
    );
    assert!(
        policy["sessions"]["opened"].as_u64().unwrap_or(0) >= 2,
        "{policy:#}"
    );
    let metrics = api.get("/metrics").body;
    for line in [
        "vtepd_policy_rule_hits_total{rule=\"10\",action=\"allow\"}",
        "vtepd_policy_rule_hits_total{rule=\"0\",action=\"deny\",default=\"between\"}",
        "vtepd_policy_sessions_opened_total",
        "vtepd_drops_total{reason=\"policy_denied\"}",
    ] {
        assert!(metrics.contains(line), "{line} not in /metrics:\n{metrics}");
    }
    let shown = vtepctl(&base, &["show", "policy"]);
    let table = shown.ok();
    assert!(
        table.contains("training") && table.contains("22,2049") && table.contains("between"),
        "{table}"
    );

    // Mid-connection reload: SSH is no longer allowed. The open SSH connection is cut on
    // its next packet; the NFS one carries on.
    let script = flows_py();
    let ssh = a.spawn(&["python3", &script, "hold", "192.168.90.2", "22", "4"]);
    let nfs = a.spawn(&["python3", &script, "hold", "192.168.90.2", "2049", "4"]);
    std::thread::sleep(Duration::from_millis(1200));
    let sessions = vtepctl(&base, &["show", "sessions"]);
    assert!(
        sessions.ok().contains("192.168.90.2:22") && sessions.ok().contains("192.168.90.2:2049"),
        "{}",
        sessions.ok()
    );
    let file = std::fs::read_to_string(&config_path).expect("the running configuration");
    std::fs::write(
        &config_path,
        file.replace("ports = [22, 2049]", "ports = [2049]"),
    )
    .expect("rewrite the configuration");
    assert_eq!(api.call("POST", "/api/v1/reload", None).status, 200);
    let (ssh, nfs) = (
        ssh.wait(Duration::from_secs(15)),
        nfs.wait(Duration::from_secs(15)),
    );
    let rounds = |out: &str| out.lines().map(str::to_owned).collect::<Vec<_>>();
    let (ssh, nfs) = (rounds(&ssh), rounds(&nfs));
    assert!(
        ssh.first().is_some_and(|l| l == "ok") && ssh.last().is_some_and(|l| l == "fail"),
        "SSH should work, then be cut: {ssh:?}\n{}",
        state()
    );
    assert!(
        nfs.len() > 5 && nfs.iter().all(|l| l == "ok"),
        "NFS should carry on: {nfs:?}\n{}",
        state()
    );
    let policy = api.get_ok("/api/v1/policy");
    assert!(
        policy["sessions"]["revoked"].as_u64().unwrap_or(0) >= 1,
        "{policy:#}"
    );
    assert_eq!(connect(&a, "192.168.90.2", 22), "timeout", "{}", state());

    // The closed connections end (tcp_closed = 1 s) and are logged.
    assert!(
        netns::wait_until(Duration::from_secs(10), Duration::from_millis(200), || {
            api.get_ok("/api/v1/policy")["sessions"]["active"].as_u64() == Some(0)
        }),
        "{}",
        state()
    );
    std::thread::sleep(Duration::from_millis(300));
    let out = vtepd.stop();
    out.assert_success();
    let (log, files) = nfcapd.stop();
    let flows: Vec<_> = files.iter().flat_map(|f| nfdump_raw(f)).collect();
    let find = |dport: &str, pred: &dyn Fn(&std::collections::HashMap<String, String>) -> bool| {
        flows.iter().any(|f| {
            f.get("dst port").map(String::as_str) == Some(dport)
                && f.get("src addr").map(String::as_str) == Some("192.168.10.2")
                && pred(f)
        })
    };
    let count = |f: &std::collections::HashMap<String, String>, k: &str| {
        f.get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
    };
    // The held NFS connection (4 s, interim reports every second) is in several records,
    // whose deltas add up to both directions' traffic.
    let mut nfs: std::collections::HashMap<&str, (usize, u64, u64)> = Default::default();
    for f in flows.iter().filter(|f| {
        f.get("dst port").map(String::as_str) == Some("2049")
            && f.get("src addr").map(String::as_str) == Some("192.168.10.2")
    }) {
        let e = nfs
            .entry(f.get("src port").map_or("", String::as_str))
            .or_default();
        e.0 += 1;
        e.1 += count(f, "in packets");
        e.2 += count(f, "out packets");
    }
    assert!(
        nfs.values()
            .any(|&(records, i, o)| records >= 3 && i >= 5 && o >= 5),
        "no NFS connection reported in interim and end records with both directions: \
         {nfs:?}\n{flows:#?}\n{log}"
    );
    // The denied HTTP attempt (the default between segments logs its denials).
    assert!(
        find("80", &|f| count(f, "in packets") >= 1
            && count(f, "out packets") == 0),
        "no denied HTTP record: {flows:#?}\n{log}"
    );
    // The VRF of the flows.
    assert!(
        flows
            .iter()
            .all(|f| f.get("ingress VRF").map(String::as_str) == Some("10")),
        "{flows:#?}"
    );
    let r = out.report.as_ref().expect("final stats written");
    assert_eq!(r["mempool"]["in_use_at_exit"], 0, "mbuf leak: {r:#}");
    assert!(out.drop_count("policy_denied") >= 4, "{r:#}");
}
