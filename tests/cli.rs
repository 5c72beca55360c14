//! The daemon's contract with operators: exit codes and one-line errors.

mod common;

use std::process::Command;

use common::api::{null_ports, NULL_GATEWAY};
use common::{serial, RuntimeDir, Scratch, Vtepd};

const GOOD: &str = "[xconnect]\nports = [\"net_pcap0\", \"net_pcap1\"]\n";

fn vtepd(args: &[&str]) -> std::process::Output {
    // A run that got as far as EAL leaves its runtime directory behind when it refuses to go
    // on (exit 2 exits without EAL's cleanup).
    let _runtime = args
        .iter()
        .position(|a| *a == "--file-prefix")
        .and_then(|i| args.get(i + 1))
        .map(|prefix| RuntimeDir::new(*prefix));
    Command::new(common::vtepd_bin())
        .args(args)
        .output()
        .unwrap()
}

/// The last line of stderr, which must be vtepd's own error.
fn error_line(out: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    assert!(!stderr.contains("backtrace"), "backtrace: {stderr}");
    stderr.lines().last().unwrap_or_default().to_owned()
}

#[test]
fn check_accepts_a_valid_config() {
    let s = Scratch::new();
    let cfg = s.write("ok.toml", GOOD);
    let out = vtepd(&["--", "-c", cfg.to_str().unwrap(), "--check"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("configuration is valid"));
}

#[test]
fn every_shipped_config_is_valid() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/config");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let out = vtepd(&["--", "-c", path.to_str().unwrap(), "--check"]);
            assert!(
                out.status.success(),
                "{}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} configs found");
}

#[test]
fn bad_key_is_one_line_and_exit_2() {
    let s = Scratch::new();
    let cfg = s.write(
        "bad.toml",
        "[xconnect]\nports = [\"a\", \"b\"]\nportz = 1\n",
    );
    let out = vtepd(&["--", "-c", cfg.to_str().unwrap(), "--check"]);
    assert_eq!(out.status.code(), Some(2));
    let line = error_line(&out);
    assert!(line.contains("xconnect.portz"), "{line}");
    assert!(line.contains("unknown field"), "{line}");
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
}

#[test]
fn bad_address_is_one_line_and_exit_2() {
    let s = Scratch::new();
    let cfg = s.write(
        "bad.toml",
        "[underlay]\nport = \"net_pcap0\"\naddresses = [\"10.0.0.1/24\"]\n\
         [[access]]\nport = \"net_pcap1\"\nuntagged_vni = 100\n\
         [[vni]]\nid = 100\nflood = [\"10.0.0.300\"]\n",
    );
    let out = vtepd(&["--", "-c", cfg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        error_line(&out),
        format!(
            "vtepd: config {}: vni[0].flood[0]: \"10.0.0.300\" is not an IPv4 or IPv6 address",
            cfg.display()
        )
    );
}

#[test]
fn missing_file_is_exit_2() {
    let out = vtepd(&["--", "-c", "/nonexistent/vtepd.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(error_line(&out).contains("/nonexistent/vtepd.toml"));
}

#[test]
fn port_that_does_not_exist_is_exit_2() {
    let _slot = serial();
    let s = Scratch::new();
    let out = Vtepd::new(&s, "[xconnect]\nports = [\"net_null0\", \"net_pcap9\"]\n")
        .vdev("net_null0")
        .run_until_idle(100);
    assert_eq!(out.status.code(), Some(2), "{}", out.stderr);
    let line = out.stderr.lines().last().unwrap_or_default();
    assert!(
        line.starts_with("vtepd: no DPDK port named \"net_pcap9\""),
        "{line}"
    );
    assert!(line.contains("0 = net_null0"), "{line}");
    assert!(!out.stderr.contains("panicked"));
}

#[test]
fn one_lcore_is_a_usage_error() {
    let _slot = serial();
    let s = Scratch::new();
    let cfg = s.write(
        "x.toml",
        "[xconnect]\nports = [\"net_null0\", \"net_null1\"]\n",
    );
    let out = vtepd(&[
        "-l",
        "0",
        "--no-huge",
        "-m",
        "128",
        "--no-pci",
        "--file-prefix",
        &format!("vtepd-cli-{}", std::process::id()),
        "--vdev",
        "net_null0",
        "--vdev",
        "net_null1",
        "--",
        "-c",
        cfg.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(error_line(&out).contains("no worker lcore"));
}

#[test]
fn bad_eal_argument_is_exit_2() {
    let _slot = serial();
    let s = Scratch::new();
    let cfg = s.write("x.toml", GOOD);
    let out = vtepd(&["--no-such-eal-flag", "--", "-c", cfg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn version_and_help_need_no_eal() {
    let out = vtepd(&["--version"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("vtepd "));
    let out = vtepd(&["--help"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--config"));
}

/// The harness removes a run's DPDK runtime directory (`/var/run/dpdk/<file-prefix>`) also
/// when the test fails: from a run that stopped by itself after EAL made the directory (a
/// port missing, exit 2), and from one still running when the test panicked.
#[test]
fn a_failed_test_leaves_no_dpdk_runtime_directory() {
    let _slot = serial();
    let s = Scratch::new();
    // The access port is missing: refused once EAL is up (exit 2, EAL's files left).
    let v = Vtepd::new(&s, NULL_GATEWAY).vdev("net_null0,no-rx=1");
    let dir = v.runtime_dir();
    let seen = dir.clone();
    let failed = std::panic::catch_unwind(move || {
        let out = v.command().output().expect("run vtepd");
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        assert!(seen.exists(), "EAL made its runtime directory");
        panic!("the test fails here, its vtepd exited");
    });
    assert_failed_at(failed, "the test fails here, its vtepd exited");
    assert!(!dir.exists(), "{} left behind", dir.display());

    let v = null_ports(Vtepd::new(&s, NULL_GATEWAY));
    let dir = v.runtime_dir();
    let seen = dir.clone();
    let failed = std::panic::catch_unwind(move || {
        let _running = v.spawn();
        assert!(seen.exists(), "EAL made its runtime directory");
        panic!("the test fails here, its vtepd running");
    });
    assert_failed_at(failed, "the test fails here, its vtepd running");
    assert!(!dir.exists(), "{} left behind", dir.display());
}

/// That `result` is the panic `message`, not an assertion failing before it.
fn assert_failed_at(result: std::thread::Result<()>, message: &str) {
    let payload = result.expect_err("the closure panics");
    let got = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
    assert_eq!(got, Some(message), "failed before the point tested");
}
