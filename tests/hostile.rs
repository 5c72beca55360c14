//! The generated malformed-packet suite, through the real binary on both port roles.
//!
//! tests/traffic/malformed.py (scapy) builds, for the underlay port and for an access port,
//! a capture of malformed packets in named classes — truncated at every header boundary,
//! bad lengths, fragments, TTL 0, VXLAN/GRE flag and field errors, unknown VNIs, bad ARP,
//! runts, jumbo frames, group source MACs, ... — each followed by a well-formed packet, and
//! writes the outcome the protocols say each must have (manifest.json, expect-*.pcap). The
//! expectations come from the generator, never from vtepd. Each test replays one capture
//! through vtepd and checks, with the process still running:
//!
//! - every packet was received and is accounted for (the balance below), and the mempool's
//!   in-use count is back at its start value, through the API and Prometheus;
//! - the learned MACs are exactly the generator's, and no group or zero source MAC is among
//!   them;
//!
//! then stops it (SIGINT) and checks the final report: exit 0, every drop counter exactly the
//! manifest's sum for its reason (all mismatches in one message; every other reason 0), the
//! local answers, flood replicas, the balance again, no mbuf leaked, and every frame that
//! came out — the good ones and the malformed ones a bridge forwards — byte for byte and in
//! order (encapsulated ones by their inner frame, VNI and remote VTEP).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::api::{parse_exposition, Api, Exposition};
use common::balance::{assert_counters_balance, Balance};
use common::netns::wait_until;
use common::traffic::{mac, Encapsulated, OuterIp, PYTHON};
use common::{read_pcap, serial, write_pcap, Outcome, Scratch, Vtepd};
use serde_json::Value;

/// net_pcap gives net_pcap0 this MAC; the generator writes the VTEP's answers from it.
const UNDERLAY_MAC: &str = "02:70:63:61:70:00";

/// Receive buffers hold the largest MTU (9000) + 22 bytes: jumbo frames up to that fit, a
/// longer one arrives chained and is `frame_too_long`. Smaller rings keep the pool of
/// 9 KB buffers within the 256 MB EAL is given.
const COMMON: &str = r#"
[workers]
rx_desc = 256
tx_desc = 256
mbufs = 4095
"#;

/// The underlay role: VXLAN VNIs 5000 (native on the access port), 5100 (VLAN 110), 5300
/// (VLAN 130, only 10.0.0.2 may send) and NVGRE 7000 (VLAN 200); static stations behind the
/// access port, and 02:00:00:00:02:09 behind 10.0.0.9 (split horizon).
const UNDERLAY_CONFIG: &str = r#"
[underlay]
port = "net_pcap0"
addresses = ["10.0.0.1/24", "fd00::1/64"]
next_hop_mac = "02:00:00:00:00:fe"
mtu = 9000

[[access]]
port = "net_pcap1"
untagged_vni = 5000
mtu = 9000

[[vni]]
id = 5000
vlan = 100

[[vni]]
id = 5100
vlan = 110

[[vni]]
id = 5300
vlan = 130
allowed_vteps = ["10.0.0.2"]

[[vni]]
id = 7000
vlan = 200
encap = "nvgre"

[[fdb]]
vni = 5000
mac = "02:00:00:00:03:01"
port = "net_pcap1"

[[fdb]]
vni = 5100
mac = "02:00:00:00:03:02"
port = "net_pcap1"

[[fdb]]
vni = 5300
mac = "02:00:00:00:03:03"
port = "net_pcap1"

[[fdb]]
vni = 7000
mac = "02:00:00:00:03:04"
port = "net_pcap1"

[[fdb]]
vni = 5000
mac = "02:00:00:00:02:09"
remote = "10.0.0.9"
"#;

/// The access role: untagged and VLAN 100 are VNI 5000 (flooding to 10.0.0.2 and 10.0.0.3),
/// VLAN 110 is VNI 5100 (ARP suppression, VXLAN over IPv6 to fd00::2), VLAN 120 is VNI 5200
/// (nowhere to flood), VLAN 200 is NVGRE 7000 (to 10.0.0.4).
const ACCESS_CONFIG: &str = r#"
[underlay]
port = "net_pcap0"
addresses = ["10.0.0.1/24", "fd00::1/64"]
next_hop_mac = "02:00:00:00:00:fe"
mtu = 9000

[[access]]
port = "net_pcap1"
untagged_vni = 5000
mtu = 9000

[[vni]]
id = 5000
vlan = 100
flood = ["10.0.0.2", "10.0.0.3"]

[[vni]]
id = 5100
vlan = 110
arp_suppression = true
flood = ["fd00::2"]

[[vni]]
id = 5200
vlan = 120

[[vni]]
id = 7000
vlan = 200
encap = "nvgre"
flood = ["10.0.0.4"]

[[fdb]]
vni = 5000
mac = "02:00:00:00:02:01"
remote = "10.0.0.2"

[[fdb]]
vni = 5100
mac = "02:00:00:00:02:02"
remote = "fd00::2"

[[fdb]]
vni = 7000
mac = "02:00:00:00:02:03"
remote = "10.0.0.4"

[[fdb]]
vni = 5000
mac = "02:00:00:00:03:01"
port = "net_pcap1"

[[arp]]
vni = 5100
ip = "192.168.2.10"
mac = "02:00:00:00:0b:02"
"#;

/// Runs the generator for `role` into `dir`; returns its manifest.
fn generate(role: &str, dir: &Path) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/traffic/malformed.py");
    let out = Command::new(PYTHON)
        .arg(&script)
        .arg(role)
        .arg(dir)
        .output()
        .unwrap_or_else(|e| panic!("run {PYTHON}: {e}"));
    assert!(
        out.status.success(),
        "malformed.py {role} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(dir.join("manifest.json")).expect("manifest.json");
    serde_json::from_str(&text).expect("manifest.json is JSON")
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// Learned (not static) FDB entries as (vni, mac, where: remote VTEP or port).
fn learned(fdb: &Value) -> BTreeSet<(u64, String, String)> {
    fdb.as_array()
        .expect("FDB rows")
        .iter()
        .filter(|r| r["static"] == false)
        .map(|r| {
            let at = r["remote"]
                .as_str()
                .or_else(|| r["port"].as_str())
                .unwrap_or("?");
            (
                n(&r["vni"]),
                r["mac"].as_str().unwrap().to_owned(),
                at.to_owned(),
            )
        })
        .collect()
}

/// What one role's run left behind.
struct Run {
    manifest: Value,
    report: Value,
    outcome: Outcome,
    /// Drop reasons whose live `vtepd_drops_total` differed from the manifest.
    prometheus_drops: Vec<String>,
    dir: PathBuf,
    _scratch: Scratch,
}

impl Run {
    fn output(&self, port: usize) -> Vec<Vec<u8>> {
        read_pcap(&self.dir.join(format!("out{port}.pcap")))
    }

    fn expected(&self, name: &str) -> Vec<Vec<u8>> {
        read_pcap(&self.dir.join(name))
    }
}

/// Replays the generated capture for `role` on port `input` through vtepd with `config`.
/// While vtepd still runs, waits until everything is received and accounted for and checks
/// the mempool and the learned MACs through the API and Prometheus; then stops it.
fn run(role: &str, config: &str, input: usize) -> Run {
    let s = Scratch::new();
    let dir = s.dir.path().to_path_buf();
    let manifest = generate(role, &dir);
    let inputs = ["underlay.pcap", "access1.pcap"];
    let mut v = Vtepd::new(&s, &format!("{config}{COMMON}"));
    for (i, name) in inputs.iter().enumerate() {
        let rx = dir.join(if i == input { name } else { "empty.pcap" });
        if !rx.exists() {
            write_pcap(&rx, &[]);
        }
        v = v.vdev(format!(
            "net_pcap{i},rx_pcap={},tx_pcap={}",
            rx.display(),
            dir.join(format!("out{i}.pcap")).display()
        ));
    }
    let api = Api::new(v.api_url().expect("harness-chosen API port"));
    let vtepd = v.spawn();

    // All received, nothing in flight: the balance holds once every TX buffer is flushed.
    let packets = n(&manifest["packets"]);
    let mut stats = Value::Null;
    let settled = wait_until(Duration::from_secs(30), Duration::from_millis(20), || {
        stats = api.get_ok("/api/v1/stats");
        let b = Balance::of(&stats);
        n(&stats["totals"]["rx_packets"]) == packets && b.inputs() == b.outputs()
    });
    assert!(
        settled,
        "{role}: not everything was received and accounted for ({packets} sent): {stats:#}"
    );

    // The mempool is back where it started, as the API and Prometheus say.
    let start = n(&stats["mempool"]["in_use_at_start"]);
    let mut in_use = (u64::MAX, f64::NAN);
    let back = wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
        let st = api.get_ok("/api/v1/stats");
        let m = metrics(&api);
        in_use = (
            n(&st["mempool"]["in_use"]),
            m.value("vtepd_mempool_in_use_buffers", &[])
                .expect("vtepd_mempool_in_use_buffers"),
        );
        in_use.0 == start && in_use.1 == start as f64
    });
    assert!(
        back,
        "{role}: mbufs in use (API, Prometheus) {in_use:?}, at start {start}"
    );
    // Prometheus counts the same drops as the manifest.
    let m = metrics(&api);
    let mut prometheus_drops = Vec::new();
    for (reason, count) in manifest["drops"].as_object().expect("drops") {
        let got = m.value("vtepd_drops_total", &[("reason", reason)]);
        if got != Some(n(count) as f64) {
            prometheus_drops.push(format!("{reason}: {got:?}, expected {count}"));
        }
    }

    // Learning reaches the management thread asynchronously.
    let want: BTreeSet<(u64, String, String)> = manifest["learned"]
        .as_array()
        .expect("learned")
        .iter()
        .map(|e| {
            (
                n(&e[0]),
                e[1].as_str().unwrap().to_owned(),
                e[2].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut fdb = Value::Null;
    wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
        fdb = api.get_ok("/api/v1/fdb");
        learned(&fdb) == want
    });
    assert_eq!(learned(&fdb), want, "{role}: learned MACs: {fdb:#}");
    let never: BTreeSet<&str> = manifest["never_learned"]
        .as_array()
        .expect("never_learned")
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    for row in fdb.as_array().unwrap() {
        let m = row["mac"].as_str().unwrap();
        assert!(!never.contains(m), "{role}: {m} is in the FDB: {row}");
        assert!(
            mac(m)[0] & 1 == 0 && mac(m) != [0; 6],
            "{role}: group or zero MAC in the FDB: {row}"
        );
    }

    let outcome = vtepd.stop();
    outcome.assert_success();
    let report = outcome
        .report
        .clone()
        .unwrap_or_else(|| panic!("{role}: no final report\n{}", outcome.stderr));
    Run {
        manifest,
        report,
        outcome,
        prometheus_drops,
        dir,
        _scratch: s,
    }
}

fn metrics(api: &Api) -> Exposition {
    let r = api.get("/metrics");
    assert_eq!(r.status, 200, "/metrics: {r:?}");
    parse_exposition(&r.body).unwrap_or_else(|e| panic!("/metrics: {e}"))
}

/// The final report's checks common to both roles.
fn check_report(role: &str, run: &Run, input: usize) {
    let r = &run.report;
    let m = &run.manifest;

    // Every drop reason exactly as the manifest sums it, every other one 0; all mismatches
    // at once, with the classes behind each.
    let want: BTreeMap<String, u64> = m["drops"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), n(v)))
        .collect();
    let got = r["drops"].as_object().expect("drops");
    for reason in want.keys() {
        assert!(
            got.contains_key(reason),
            "the manifest names {reason:?}, which vtepd does not count"
        );
    }
    let mut mismatches = Vec::new();
    for (reason, count) in got {
        let expected = want.get(reason).copied().unwrap_or(0);
        if n(count) != expected {
            let classes: Vec<String> = m["classes"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c["expect"] == reason.as_str())
                .map(|c| format!("{} x{}", c["class"].as_str().unwrap(), c["count"]))
                .collect();
            mismatches.push(format!(
                "  {reason}: {count}, expected {expected} (from {classes:?})"
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{role}: drop counters differ from the manifest:\n{}\nstderr:\n{}",
        mismatches.join("\n"),
        run.outcome.stderr
    );

    assert!(
        run.prometheus_drops.is_empty(),
        "{role}: vtepd_drops_total while running: {:?}",
        run.prometheus_drops
    );

    // Everything received, on the input port only, by the driver and the workers alike.
    let packets = n(&m["packets"]);
    let ports = r["ports"].as_array().unwrap();
    for (i, p) in ports.iter().enumerate() {
        let expected = if i == input { packets } else { 0 };
        assert_eq!(n(&p["rx_packets"]), expected, "{role}: port {i} rx");
        assert_eq!(
            n(&p["nic"]["rx_packets"]),
            expected,
            "{role}: port {i} NIC rx"
        );
        assert_eq!(
            n(&p["tx_packets"]),
            n(&m["outputs"][i.to_string()]),
            "{role}: port {i} tx"
        );
        assert_eq!(n(&p["tx_dropped"]), 0, "{role}: port {i} tx dropped");
    }
    assert_eq!(ports[0]["mac"], UNDERLAY_MAC, "net_pcap0's MAC");

    // What the VTEP answered or absorbed itself, flood replicas, nothing generated.
    let g = &r["gateway"];
    for k in ["arp_replies", "echo_replies", "nd_replies", "absorbed"] {
        assert_eq!(g["local"][k], m["local"][k], "{role}: local {k}");
    }
    assert_eq!(g["replicas"], m["replicas"], "{role}: flood replicas");
    assert_eq!(n(&g["generated"]), 0, "{role}: nothing generated");
    let suppressed: u64 = g["vnis"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| n(&v["arp_suppressed"]))
        .sum();
    assert_eq!(
        suppressed,
        n(&m["arp_suppressed"]),
        "{role}: ARP suppressed"
    );

    // The balance, and its total.
    assert_counters_balance(r);
    assert_eq!(
        n(&r["totals"]["dropped"]),
        want.values().sum::<u64>(),
        "{role}: total drops"
    );

    // No mbuf leaked: back at the start value while the ports were open, and the pools
    // empty once they were closed (their start value before the ports existed).
    assert_eq!(
        r["mempool"]["in_use"], r["mempool"]["in_use_at_start"],
        "{role}: mbufs in use at the end vs at start: {:#}",
        r["mempool"]
    );
    assert_eq!(
        r["mempool"]["in_use_at_exit"], 0,
        "{role}: mbufs leaked: {:#}",
        r["mempool"]
    );

    // The authority learned what the generator says (also checked live), nothing moved.
    let t = &g["tables"];
    assert_eq!(
        n(&t["learned"]),
        m["learned"].as_array().unwrap().len() as u64,
        "{role}: {t}"
    );
    assert_eq!(n(&t["moved"]), 0, "{role}: {t}");
}

/// Asserts two frame sequences are equal, describing the first difference.
fn assert_frames(what: &str, got: &[Vec<u8>], want: &[Vec<u8>]) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            g == w,
            "{what}: frame {i} of {} differs\n got  ({} bytes): {}\n want ({} bytes): {}",
            want.len(),
            g.len(),
            hex(g),
            w.len(),
            hex(w)
        );
    }
    assert_eq!(got.len(), want.len(), "{what}: number of frames");
}

fn hex(b: &[u8]) -> String {
    let s: String = b.iter().take(96).map(|x| format!("{x:02x}")).collect();
    if b.len() > 96 {
        format!("{s}...")
    } else {
        s
    }
}

#[test]
fn malformed_underlay_packets_land_in_their_counters_and_good_ones_flow() {
    let _slot = serial();
    let run = run("underlay", UNDERLAY_CONFIG, 0);
    check_report("underlay", &run, 0);
    // Decapsulated frames (the good ones, and the malformed ones whose inner frame is still a
    // frame to bridge), in order; the VTEP's own answers (ARP, echo), in order.
    assert_frames(
        "underlay: access port output",
        &run.output(1),
        &run.expected("expect-out1.pcap"),
    );
    assert_frames(
        "underlay: answers on the underlay",
        &run.output(0),
        &run.expected("expect-out0.pcap"),
    );
}

#[test]
fn malformed_access_frames_land_in_their_counters_and_good_ones_flow() {
    let _slot = serial();
    let run = run("access", ACCESS_CONFIG, 1);
    check_report("access", &run, 1);
    // Encapsulated frames in order: remote VTEP, VNI and inner frame as the generator says,
    // outer headers valid.
    let tunnels: Vec<Encapsulated> = run.output(0).iter().map(|f| Encapsulated::of(f)).collect();
    let want_inner = run.expected("expect-tunnel-inner.pcap");
    let want: Vec<(String, u64)> = run.manifest["tunnel"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t[0].as_str().unwrap().to_owned(), n(&t[1])))
        .collect();
    assert_eq!(want.len(), want_inner.len());
    for (i, (p, ((remote, vni), inner))) in
        tunnels.iter().zip(want.iter().zip(&want_inner)).enumerate()
    {
        let at = format!("access: tunnel packet {i} of {}", want.len());
        assert_eq!(p.dst_ip().to_string(), *remote, "{at}: remote VTEP");
        assert_eq!(u64::from(p.vni()), *vni, "{at}: VNI");
        assert!(
            p.inner == *inner,
            "{at}: inner frame\n got  ({} bytes): {}\n want ({} bytes): {}",
            p.inner.len(),
            hex(&p.inner),
            inner.len(),
            hex(inner)
        );
        match &p.ip {
            OuterIp::V4(_) => p.assert_ipv4_header_valid(),
            OuterIp::V6(_) if p.is_vxlan() => p.assert_udp6_checksum_valid(),
            OuterIp::V6(_) => {}
        }
    }
    assert_eq!(tunnels.len(), want.len(), "access: tunnel packets");
    // ARP suppression answers go back out of the access port.
    assert_frames(
        "access: answers on the access port",
        &run.output(1),
        &run.expected("expect-out1.pcap"),
    );
}
