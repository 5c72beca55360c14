//! scripts/bench.sh end to end, as a smoke pass: generated traffic replayed by net_pcap into
//! net_null (the mixed run: into net_pcap ports that drop what they send), counters read
//! through DPDK telemetry and the API, the report, for testpmd (io and the 5tswap header-swap
//! reference) and vtepd with one worker and with two (one RX queue each, `--force-workers` on
//! this small machine), at a burst size other than the default. It measures nothing (a debug
//! build on a shared machine): it checks that every run worked, that vtepd lost no packet and
//! no mbuf, and that every worker had traffic.
//!
//! Needs root and dpdk-testpmd; skipped (with a message) without them.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::netns::{self, PYTHON};
use common::{serial, vtepd_bin, Scratch};
use serde_json::Value;

const SCENARIOS: [&str; 5] = [
    "xconnect",
    "vxlan-decap",
    "vxlan-routed",
    "vxlan-routed-policy",
    "mixed",
];
const WORKERS: [u64; 2] = [1, 2];
const ENGINES: [&str; 3] = ["testpmd", "testpmd-5tswap", "vtepd"];

#[test]
fn every_engine_scenario_and_worker_count_runs_clean() {
    if !netns::capable(&["dpdk-testpmd", "dpdk-telemetry.py", PYTHON]) {
        return;
    }
    let _slot = serial();
    let scratch = Scratch::new();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bench.sh");
    let out = Command::new(script)
        .args([
            "--quick",
            "--bin",
            vtepd_bin(),
            "--huge",
            "no",
            "--packets",
            "2048",
        ])
        .args(["--scenarios", &SCENARIOS.join(","), "--workers", "1,2"])
        .args(["--force-workers", "--header-swap", "--burst", "16", "--out"])
        .arg(scratch.dir.path())
        .output()
        .expect("run scripts/bench.sh");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bench.sh failed:\n{log}");

    let json = std::fs::read_dir(scratch.dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .unwrap_or_else(|| panic!("no JSON report written:\n{log}"));
    let report: Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    let runs = report["runs"].as_array().expect("runs");
    let settings = report["info"]["settings"].as_str().expect("settings");
    assert!(settings.ends_with("burst 16"), "{settings}");

    let seen: BTreeSet<(String, String, u64)> = runs
        .iter()
        .map(|r| {
            (
                r["engine"].as_str().unwrap().to_owned(),
                r["scenario"].as_str().unwrap().to_owned(),
                r["workers"].as_u64().unwrap(),
            )
        })
        .collect();
    let mut expected = BTreeSet::new();
    for engine in ENGINES {
        for s in SCENARIOS {
            for w in WORKERS {
                expected.insert((engine.to_owned(), s.to_owned(), w));
            }
        }
    }
    assert_eq!(
        seen, expected,
        "one run of each engine, scenario and worker count"
    );
    assert_eq!(runs.len(), expected.len());

    for r in runs {
        let what = format!("{} {} w{}", r["engine"], r["scenario"], r["workers"]);
        assert_eq!(r["ok"], true, "{what}: not measured: {r:#}\n{log}");
        assert_eq!(r["exit"], 0, "{what}: exit status: {r:#}");
        assert!(
            r["mpps"].as_f64().unwrap() > 0.0,
            "{what}: no traffic: {r:#}"
        );
        if r["engine"] != "vtepd" {
            continue;
        }
        assert_eq!(r["mempool_at_exit"], 0, "{what}: mbufs leaked: {r:#}");
        assert_eq!(r["final_dropped"], 0, "{what}: dropped packets: {r:#}");
        let drops: u64 = r["drops"]
            .as_object()
            .expect("drops")
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(drops, 0, "{what}: drops in the window: {r:#}");
        let per_worker = r["per_worker_cycles"]
            .as_array()
            .expect("per_worker_cycles");
        assert_eq!(
            per_worker.len() as u64,
            r["workers"].as_u64().unwrap(),
            "{what}: one figure per worker: {r:#}"
        );
        assert!(
            per_worker
                .iter()
                .all(|c| c.as_f64().is_some_and(|c| c > 0.0)),
            "{what}: a worker without traffic (its queue got no flows?): {r:#}"
        );
        // The replay fills nearly every burst: each worker's bursts average just under
        // --burst (never above: 32, the default, would show).
        let bursts = r["per_worker_average_burst"]
            .as_array()
            .expect("per_worker_average_burst");
        assert!(
            bursts
                .iter()
                .all(|b| b.as_f64().is_some_and(|b| (15.0..=16.0).contains(&b))),
            "{what}: bursts not of 16 packets: {r:#}"
        );
    }
}
