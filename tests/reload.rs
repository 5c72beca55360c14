//! Configuration reload of a running gateway — by SIGHUP, `vtepctl reload` and
//! `POST /api/v1/reload` — while a numbered stream in VNI 5000 runs: a refused reload (a bad
//! file, or a change that needs a restart) changes nothing; an accepted one adds, removes and
//! changes VNIs and settings, and the stream loses no frame either way.
//!
//! vtepd runs in a network namespace on veths (see `Lab` in tests/common/api.rs). Needs root
//! and iproute2; skipped (with a message) without them.

mod common;

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::api::{
    contains, ids, mac_text, parse_vxlan, seq_of, settle, station, stream_frame, tenant, Lab, Mac,
    Stream, BROADCAST, LOCAL, NEXT_HOP_MAC,
};
use common::netns::wait_until;
use common::{serial, Outcome};
use serde_json::json;

const R2: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const R3: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 3);
const R5: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 5);

const UNDERLAY: usize = 0;
const ACC1: usize = 1;

/// The stream: from `SRC` to `X`, which sits behind 10.0.0.2 (a static entry), in VNI 5000.
const SRC: Mac = [0x02, 0, 0, 0, 0x01, 0x0a];
const X: Mac = [0x02, 0, 0, 0, 0x01, 0x99];
const TAG: &str = "reload-stream-";

/// Underlay, one access port (native VNI 5000), VNI 5000 flooding to `flood5000`, VNI 5100
/// on VLAN 100, X behind 10.0.0.2; `tail` after it.
fn config(flood5000: &str, tail: &str) -> String {
    file(flood5000, Some(100), None, tail)
}

/// As `config`, with VNI 5100 (flooding to 10.0.0.2) on VLAN `vni5100` and VNI 6000 (flooding
/// to 10.0.0.3) on VLAN `vni6000`, each left out when None.
fn file(flood5000: &str, vni5100: Option<u16>, vni6000: Option<u16>, tail: &str) -> String {
    let vni = |id: u32, vlan: Option<u16>, flood: &str| {
        vlan.map(|v| format!("[[vni]]\nid = {id}\nvlan = {v}\nflood = [\"{flood}\"]\n"))
            .unwrap_or_default()
    };
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
flood = [{flood5000}]

{v5100}
{v6000}
[[fdb]]
vni = 5000
mac = "{x}"
remote = "10.0.0.2"
{tail}
"#,
        v5100 = vni(5100, vni5100, "10.0.0.2"),
        v6000 = vni(6000, vni6000, "10.0.0.3"),
        x = mac_text(X)
    )
}

fn base() -> String {
    config("\"10.0.0.2\"", "")
}

const VNI_6000: &str = "\n[[vni]]\nid = 6000\nvlan = 600\nflood = [\"10.0.0.3\"]\n";

/// Starts the lab and the stream, and waits until the stream comes out.
fn start() -> (Lab, Stream) {
    let lab = Lab::start(&base(), 1);
    let stream = lab.stream(ACC1, 3, 30_000, &[stream_frame(SRC, X, None, TAG)]);
    let flowing = wait_until(Duration::from_secs(20), Duration::from_millis(20), || {
        delivered(&lab).iter().filter(|c| !c.is_empty()).count() >= 30
    });
    assert!(flowing, "the stream does not come out");
    (lab, stream)
}

/// The stream's copies on the underlay, by frame number: (destination, VNI).
fn delivered(lab: &Lab) -> Vec<Vec<(Ipv4Addr, u32)>> {
    let mut by_seq: Vec<Vec<(Ipv4Addr, u32)>> = Vec::new();
    for c in lab.output(UNDERLAY) {
        let Some(v) = parse_vxlan(&c.data) else {
            continue;
        };
        let Some(seq) = seq_of(&v.inner, TAG) else {
            continue;
        };
        let i = seq as usize;
        if by_seq.len() <= i {
            by_seq.resize(i + 1, Vec::new());
        }
        by_seq[i].push((v.dst, v.vni));
    }
    by_seq
}

/// Stops the stream, then vtepd, and asserts every frame the stream sent came out exactly
/// once, encapsulated to 10.0.0.2 in VNI 5000 — except frames the kernel's capture dropped
/// before vtepd could read them (a starved poller on a loaded machine: libpcap's ring is
/// small), which the access port counts as `rx_missed`; and that vtepd accounted for every
/// frame it did receive (sent or dropped with a reason). Returns the stream's length,
/// vtepd's outcome and the access port's `rx_missed`.
fn stop_with_stream_intact(lab: Lab, stream: Stream) -> (usize, Outcome, u64) {
    let sent = stream.finish().len();
    let expected = vec![(R2, 5000)];
    let complete = |d: &[Vec<(Ipv4Addr, u32)>]| d.len() == sent && d.iter().all(|c| *c == expected);
    settle(|| {
        let d = delivered(&lab);
        (d.iter().map(Vec::len).sum(), complete(&d))
    });
    let mut d = delivered(&lab);
    let out = lab.stop();
    let r = out.report.as_ref().expect("final stats");
    let missed = r["ports"][ACC1]["nic"]["rx_missed"]
        .as_u64()
        .expect("rx_missed");
    d.resize(d.len().max(sent), Vec::new());
    let lost: Vec<usize> = (0..sent).filter(|i| d[*i].is_empty()).collect();
    let wrong: Vec<(usize, &Vec<(Ipv4Addr, u32)>)> = d
        .iter()
        .enumerate()
        .filter(|(i, c)| !c.is_empty() && (**c != expected || *i >= sent))
        .take(20)
        .collect();
    let context = format!(
        "ports: {:#}\ntotals: {}\nstdout:\n{}",
        r["ports"], r["totals"], out.stdout
    );
    assert!(
        wrong.is_empty(),
        "frames delivered more than once, elsewhere, or never sent (first 20): {wrong:?}\n{context}"
    );
    assert!(
        lost.len() as u64 <= missed,
        "{} of {sent} frames lost ({lost:?}), only {missed} before vtepd (rx_missed)\n{context}",
        lost.len()
    );
    if !lost.is_empty() {
        eprintln!(
            "note: {} frames ({lost:?}) dropped by the kernel's capture before vtepd read them \
             (rx_missed {missed}); every frame vtepd received was delivered",
            lost.len()
        );
    }
    common::traffic::assert_accounting(r);
    (sent, out, missed)
}

/// Asserts a drop counter: exactly `expected`, or (when the kernel's capture dropped frames
/// before vtepd, which may have been probes) at most that.
fn assert_drops(out: &Outcome, reason: &str, expected: u64, missed: u64) {
    let got = out.drop_count(reason);
    if missed == 0 {
        assert_eq!(got, expected, "{reason}\n{}", out.stdout);
    } else {
        assert!(
            got <= expected && got + missed >= expected,
            "{reason}: {got}\n{}",
            out.stdout
        );
    }
}

/// A token unique in this process (16 bytes).
fn token() -> Vec<u8> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "rl{:08}{:06}",
        std::process::id() % 100_000_000,
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
    .into_bytes()
}

/// The underlay copies of the frame carrying `token`: (destination, VNI), sorted.
fn copies(lab: &Lab, token: &[u8]) -> Vec<(Ipv4Addr, u32)> {
    let mut c: Vec<(Ipv4Addr, u32)> = lab
        .output(UNDERLAY)
        .iter()
        .filter(|f| contains(&f.data, token))
        .map(|f| {
            let v = parse_vxlan(&f.data).expect("a VXLAN packet");
            assert_eq!((v.src, v.dst_mac), (LOCAL, NEXT_HOP_MAC));
            (v.dst, v.vni)
        })
        .collect();
    c.sort();
    c
}

/// Sends a broadcast from `from` on the access port (tagged `vlan`) until its copies on the
/// underlay are `expected` (each attempt a fresh token; table changes reach the worker
/// asynchronously). An empty `expected`: one attempt, which must go nowhere.
fn probe(lab: &Lab, from: Mac, vlan: Option<u16>, expected: &[(Ipv4Addr, u32)]) {
    let start = Instant::now();
    let mut tries = Vec::new();
    loop {
        let t = token();
        lab.send(ACC1, &[tenant(from, BROADCAST, vlan, &t)]);
        if expected.is_empty() {
            std::thread::sleep(Duration::from_millis(600));
            let c = copies(lab, &t);
            assert!(
                c.is_empty(),
                "VLAN {vlan:?}: should be dropped, went to {c:?}"
            );
            return;
        }
        wait_until(Duration::from_secs(3), Duration::from_millis(10), || {
            copies(lab, &t).len() >= expected.len()
        });
        std::thread::sleep(Duration::from_millis(100));
        let c = copies(lab, &t);
        if c == expected {
            return;
        }
        tries.push(c);
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "VLAN {vlan:?}: never flooded to {expected:?}; tries: {tries:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `text` without ANSI escape sequences (vtepd colours its log even into a pipe).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters final-byte
            if chars.next() == Some('[') {
                for d in chars.by_ref() {
                    if ('@'..='~').contains(&d) {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// Lets a SIGHUP be handled before the file changes again: a pause, then two API round trips
/// through the management loop.
fn hup_handled(lab: &Lab) {
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..2 {
        assert_eq!(lab.api.get("/api/v1/status").status, 200);
    }
}

/// Refused reloads — a file that does not validate, one that does not parse, one that changes
/// what needs a restart (alone, or with a VNI added) — through the API, vtepctl and SIGHUP:
/// errors naming the key (400 / 409 / one log line), no change to the tables, and the stream
/// in VNI 5000 untouched.
#[test]
fn refused_reloads_change_nothing() {
    if !Lab::capable() {
        return;
    }
    let _slot = serial();
    let (lab, stream) = start();
    let path = lab.config_path.display().to_string();
    let before = lab.api.state();
    assert_eq!(ids(&lab.api.get_ok("/api/v1/vnis")), [5000, 5100]);

    let cases = [
        (
            config(
                "\"10.0.0.2\"",
                "[[vni]]\nid = 6000\nvlan = 600\nflood = [\"10.0.0.x\"]\n",
            ),
            400,
            format!("config {path}: vni[2].flood[0]: \"10.0.0.x\" is not an IPv4 or IPv6 address"),
        ),
        (
            config("\"10.0.0.2\"", "[[vni]\nid = 6000\n"),
            400,
            format!("config {path}: "),
        ),
        (
            config(
                "\"10.0.0.2\"",
                "[[vni]]\nid = 6000\nvlan = 600\nbogus = 1\n",
            ),
            400,
            format!("config {path}: vni[2].bogus"),
        ),
        (
            base().replace("10.0.0.1/24", "10.0.0.9/24"),
            409,
            "underlay.addresses changed: restart vtepd to change it (nothing was applied)"
                .to_owned(),
        ),
        (
            // A VNI added in the same file must not be applied either.
            config("\"10.0.0.2\"", VNI_6000).replace("10.0.0.1/24", "10.0.0.1/16"),
            409,
            "underlay.addresses changed: restart vtepd to change it (nothing was applied)"
                .to_owned(),
        ),
        (
            config("\"10.0.0.2\"", "[workers]\nburst = 16\n"),
            409,
            "workers.burst changed: restart vtepd".to_owned(),
        ),
        (
            config("\"10.0.0.2\"", VNI_6000)
                .replace("untagged_vni = 5000", "untagged_vni = 5000\nmtu = 1400"),
            409,
            "access[0].mtu changed: restart vtepd".to_owned(),
        ),
    ];
    let mut hup_errors = Vec::new();
    for (file, status, error) in &cases {
        lab.rewrite(file);
        // The API.
        let r = lab.api.call("POST", "/api/v1/reload", None);
        r.refused(*status, error);
        assert_eq!(
            lab.api.state(),
            before,
            "POST reload ({error}) changed something"
        );
        // vtepctl.
        let line = lab.vtepctl(&["reload"]).failed();
        assert!(
            line.starts_with(&format!("vtepctl: {error}"))
                && line.ends_with(&format!("(HTTP {status})")),
            "{line}"
        );
        assert_eq!(
            lab.api.state(),
            before,
            "vtepctl reload ({error}) changed something"
        );
        // SIGHUP: logged, nothing changed.
        lab.vtepd().signal("HUP");
        hup_handled(&lab);
        assert_eq!(
            lab.api.state(),
            before,
            "SIGHUP ({error}) changed something"
        );
        hup_errors.push(r.error());
    }
    // The stream is still forwarded as before the attempts.
    probe(&lab, station(0x51), None, &[(R2, 5000)]);
    probe(&lab, station(0x52), Some(100), &[(R2, 5100)]);
    probe(&lab, station(0x53), Some(600), &[]);
    lab.rewrite(&base());
    let (n, out, missed) = stop_with_stream_intact(lab, stream);
    eprintln!("stream of {n} frames across the refused reloads: none lost by vtepd");

    // One error line per SIGHUP, with the same message as the API.
    let stderr = strip_ansi(&out.stderr);
    let logged: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("reload (SIGHUP)"))
        .collect();
    assert_eq!(logged.len(), cases.len(), "{logged:#?}");
    for (line, error) in logged.iter().zip(&hup_errors) {
        assert!(line.contains(" ERROR "), "{line}");
        assert!(
            line.ends_with(&format!(
                "reload (SIGHUP) refused, nothing changed: {error}"
            )),
            "{line}\nexpected the API's message: {error}"
        );
    }
    let r = out.report.as_ref().unwrap();
    // The VLAN 600 probe, and nothing else.
    assert_drops(&out, "unmapped_vlan", 1, missed);
    assert_eq!(
        r["totals"]["dropped"], r["drops"]["unmapped_vlan"],
        "{}",
        out.stdout
    );
}

/// Accepted reloads while the stream runs: SIGHUP adds VNI 6000 (it appears and forwards),
/// `POST /api/v1/reload` swaps the VLANs of VNIs 5100 and 6000 (each VLAN then reaches the
/// other VNI), then removes VNI 5100 (gone, its VLAN dropped), `vtepctl reload` changes
/// VNI 5000's flood list (the new list is used), a reload of `mac_age_secs` ages a learned
/// MAC out — and every frame of the stream in VNI 5000 is delivered exactly once.
#[test]
fn reloads_add_remove_and_change_vnis_without_losing_traffic() {
    if !Lab::capable() {
        return;
    }
    let _slot = serial();
    let (lab, stream) = start();
    let learned = station(0x40);
    // Before: VNI 5000 floods to 10.0.0.2 (and learns `learned`), VNI 5100 exists, 6000 not.
    probe(&lab, learned, None, &[(R2, 5000)]);
    probe(&lab, station(0x41), Some(100), &[(R2, 5100)]);
    probe(&lab, station(0x42), Some(600), &[]);
    let learned_text = mac_text(learned);
    let has_learned = |lab: &Lab| {
        lab.api
            .get_ok("/api/v1/fdb?vni=5000")
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["mac"] == learned_text.as_str() && e["static"] == false)
    };
    assert!(wait_until(
        Duration::from_secs(10),
        Duration::from_millis(20),
        || has_learned(&lab)
    ));

    // SIGHUP: VNI 6000 added.
    let r2 = "\"10.0.0.2\"";
    lab.rewrite(&file(r2, Some(100), Some(600), ""));
    lab.vtepd().signal("HUP");
    let appeared = wait_until(Duration::from_secs(10), Duration::from_millis(20), || {
        lab.api.get("/api/v1/vnis/6000").status == 200
    });
    assert!(appeared, "VNI 6000 did not appear after SIGHUP");
    let v = lab.api.get_ok("/api/v1/vnis/6000");
    assert_eq!(
        (v["vlan"].clone(), v["flood"].clone()),
        (json!(600), json!(["10.0.0.3"]))
    );
    probe(&lab, station(0x43), Some(600), &[(R3, 6000)]);
    assert_eq!(ids(&lab.api.get_ok("/api/v1/vnis")), [5000, 5100, 6000]);

    // POST /api/v1/reload: VNIs 5100 and 6000 swap VLANs.
    lab.rewrite(&file(r2, Some(600), Some(100), ""));
    let r = lab.api.expect(200, "POST", "/api/v1/reload", None);
    assert_eq!(r["vnis_changed"], json!([5100, 6000]), "{r}");
    assert_eq!(lab.api.get_ok("/api/v1/vnis/5100")["vlan"], 600);
    assert_eq!(lab.api.get_ok("/api/v1/vnis/6000")["vlan"], 100);
    probe(&lab, station(0x46), Some(100), &[(R3, 6000)]);
    probe(&lab, station(0x47), Some(600), &[(R2, 5100)]);

    // POST /api/v1/reload: VNI 5100 removed.
    lab.rewrite(&file(r2, None, Some(100), ""));
    let r = lab.api.expect(200, "POST", "/api/v1/reload", None);
    assert_eq!(
        r,
        json!({"vnis_added": [], "vnis_removed": [5100], "vnis_changed": [], "fdb_changed": 0,
               "arp_changed": 0, "settings_changed": []})
    );
    assert_eq!(lab.api.get("/api/v1/vnis/5100").status, 404);
    assert_eq!(ids(&lab.api.get_ok("/api/v1/vnis")), [5000, 6000]);
    probe(&lab, station(0x44), Some(600), &[]);
    probe(&lab, station(0x48), Some(100), &[(R3, 6000)]);

    // vtepctl reload: VNI 5000 floods to 10.0.0.5 instead of 10.0.0.2.
    let r5 = "\"10.0.0.5\"";
    lab.rewrite(&file(r5, None, Some(100), ""));
    let out = lab.vtepctl(&["reload"]);
    assert_eq!(
        out.ok(),
        "reloaded: VNIs added [] removed [] changed [5000]; 0 static MAC and 0 binding changes\n"
    );
    assert_eq!(
        lab.api.get_ok("/api/v1/vnis/5000")["flood"],
        json!(["10.0.0.5"])
    );
    probe(&lab, station(0x45), None, &[(R5, 5000)]);
    // The change kept the VNI's MACs: `learned` is still there.
    assert!(
        has_learned(&lab),
        "VNI 5000 lost its learned MACs in the change"
    );

    // POST /api/v1/reload: learned MACs now age after 2 s.
    lab.rewrite(&file(r5, None, Some(100), "[tables]\nmac_age_secs = 2\n"));
    let r = lab.api.expect(200, "POST", "/api/v1/reload", None);
    assert_eq!(
        r["settings_changed"],
        json!(["tables.mac_age_secs = 2"]),
        "{r}"
    );
    assert_eq!(r["vnis_changed"], json!([]), "{r}");
    let aged = wait_until(Duration::from_secs(10), Duration::from_millis(100), || {
        !has_learned(&lab)
    });
    assert!(
        aged,
        "{learned_text} did not age out after mac_age_secs became 2"
    );
    // The static entry of the stream's destination never ages.
    let fdb = lab.api.get_ok("/api/v1/fdb?vni=5000");
    assert!(
        fdb.as_array()
            .unwrap()
            .iter()
            .any(|e| e["mac"] == mac_text(X).as_str() && e["static"] == true),
        "{fdb}"
    );

    let (n, out, missed) = stop_with_stream_intact(lab, stream);
    eprintln!("stream of {n} frames across five reloads: none lost by vtepd");
    assert!(
        strip_ansi(&out.stderr)
            .contains("reload (SIGHUP): VNIs added [6000] removed [] changed []"),
        "{}",
        out.stderr
    );
    // The audit log has what each reload changed.
    let log = strip_ansi(&out.stderr);
    for line in [
        "audit: reload: vni 6000 add",
        "audit: reload: vni 5000 change",
    ] {
        assert!(log.contains(line), "{line:?} not in\n{log}");
    }
    let r = out.report.as_ref().unwrap();
    let ids: Vec<u64> = r["gateway"]["vnis"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(r["gateway"]["tables"]["aged"].as_u64().unwrap() >= 1);
    // The two probes on VLANs no VNI had at the time.
    assert_drops(&out, "unmapped_vlan", 2, missed);
    assert_eq!(
        r["totals"]["dropped"], r["drops"]["unmapped_vlan"],
        "{}",
        out.stdout
    );
}

/// The log line a SIGHUP leaves is for a log file or the journal (vtepd's stderr is not a
/// terminal there): plain text, without ANSI colour sequences.
#[test]
fn log_lines_on_a_pipe_are_plain_text() {
    let _slot = serial();
    let s = common::Scratch::new();
    let v = common::api::null_ports(common::Vtepd::new(&s, common::api::NULL_GATEWAY));
    let path = v.config_path();
    let vtepd = v.spawn();
    std::fs::write(&path, "[[vni]\n").unwrap();
    vtepd.signal("HUP");
    std::thread::sleep(Duration::from_millis(500));
    let out = vtepd.stop();
    out.assert_success();
    let line = out
        .stderr
        .lines()
        .find(|l| l.contains("reload (SIGHUP) refused"))
        .unwrap_or_else(|| panic!("no SIGHUP line: {}", out.stderr));
    assert!(
        !out.stderr.contains('\u{1b}'),
        "escape sequences in: {line:?}"
    );
}
