//! Harness for black-box tests: run the real `vtepd` binary on DPDK virtual devices.
//!
//! EAL initialises once per process, so every test spawns the binary. Runs are serialised (a
//! process-wide lock): with two cores, concurrent DPDK processes would fight over lcore 1.
#![allow(dead_code)]

pub mod api;
pub mod balance;
pub mod frr;
pub mod netns;
pub mod nfdump;
pub mod traffic;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

static SERIAL: Mutex<()> = Mutex::new(());
static RUN_ID: AtomicU32 = AtomicU32::new(0);

/// Holds the machine's DPDK slot for the duration of one test.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

pub fn vtepd_bin() -> &'static str {
    env!("CARGO_BIN_EXE_vtepd")
}

/// A scratch directory removed on drop.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch {
            dir: tempfile::Builder::new()
                .prefix("vtepd-test")
                .tempdir()
                .unwrap(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

/// Where EAL keeps a process's runtime files: `RUNTIME_ROOT/<file-prefix>`.
pub const RUNTIME_ROOT: &str = "/var/run/dpdk";

/// A run's DPDK runtime directory (`/var/run/dpdk/<file-prefix>`), removed when this is
/// dropped. EAL leaves it behind whenever a process exits (cleanly or not), so whoever owns
/// the run owns this: a `Vtepd` until it is started, then its `Running` (or the wait of
/// `run_until_idle`). A test that fails unwinds through it, so a failure leaves nothing.
#[derive(Debug)]
pub struct RuntimeDir {
    prefix: String,
}

impl RuntimeDir {
    pub fn new(prefix: impl Into<String>) -> RuntimeDir {
        RuntimeDir {
            prefix: prefix.into(),
        }
    }

    /// The `--file-prefix`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn path(&self) -> PathBuf {
        Path::new(RUNTIME_ROOT).join(&self.prefix)
    }
}

impl Drop for RuntimeDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.path());
    }
}

/// What a finished run left behind.
#[derive(Debug)]
pub struct Outcome {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// The `--final-stats` JSON, when the run got that far.
    pub report: Option<serde_json::Value>,
}

impl Outcome {
    /// A drop counter from the final report.
    pub fn drop_count(&self, reason: &str) -> u64 {
        let report = self.report.as_ref().expect("run produced a report");
        report["drops"][reason]
            .as_u64()
            .unwrap_or_else(|| panic!("no drop counter {reason:?} in {report:#}"))
    }

    pub fn assert_success(&self) {
        assert!(
            self.status.success(),
            "vtepd failed ({:?})\nstdout:\n{}\nstderr:\n{}",
            self.status,
            self.stdout,
            self.stderr
        );
    }
}

/// One vtepd invocation.
pub struct Vtepd {
    /// EAL's lcore arguments: `-l 0-1` unless `lcores` set a mapping.
    lcores: [String; 2],
    vdevs: Vec<String>,
    eal_extra: Vec<String>,
    app_args: Vec<String>,
    config: PathBuf,
    runtime: RuntimeDir,
    report: PathBuf,
    api: Option<String>,
}

impl Vtepd {
    /// The API's base URL (`http://127.0.0.1:PORT`) when the harness chose the port.
    pub fn api_url(&self) -> Option<String> {
        self.api.clone()
    }

    /// The API's port when the harness chose it (for a proxy into vtepd's namespace).
    pub fn api_port(&self) -> Option<u16> {
        self.api.as_deref()?.rsplit(':').next()?.parse().ok()
    }

    /// The configuration file this run uses (to rewrite it before a reload).
    pub fn config_path(&self) -> PathBuf {
        self.config.clone()
    }

    /// The `--file-prefix` this run gives EAL (for `dpdk-telemetry.py -f`).
    pub fn file_prefix(&self) -> &str {
        self.runtime.prefix()
    }

    /// The DPDK runtime directory this run's EAL makes (removed with the run).
    pub fn runtime_dir(&self) -> PathBuf {
        self.runtime.path()
    }

    /// vtepd on lcores 0-1 (management + one worker) with `config` written into `scratch`.
    /// Without an `[api]` section the API listens on a free loopback port chosen here (test
    /// binaries running at once must not fight over the default port); see `api_url`.
    pub fn new(scratch: &Scratch, config: &str) -> Vtepd {
        let id = RUN_ID.fetch_add(1, Ordering::SeqCst);
        let (config, api) = if config.contains("[api]") {
            (config.to_owned(), None)
        } else {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .expect("a free loopback port");
            (
                format!("{config}\n[api]\nlisten = \"127.0.0.1:{port}\"\n"),
                Some(format!("http://127.0.0.1:{port}")),
            )
        };
        Vtepd {
            lcores: ["-l".into(), "0-1".into()],
            vdevs: Vec::new(),
            eal_extra: Vec::new(),
            app_args: Vec::new(),
            config: scratch.write(&format!("vtepd-{id}.toml"), &config),
            api,
            runtime: RuntimeDir::new(format!("vtepd-test-{}-{id}", std::process::id())),
            report: scratch.path(&format!("report-{id}.json")),
        }
    }

    /// Runs on EAL lcore mapping `map` (`--lcores`, e.g. `0@0,1@1,2@1`: two workers sharing
    /// CPU 1) instead of `-l 0-1`: more workers than this machine has spare cores.
    pub fn lcores(mut self, map: &str) -> Vtepd {
        self.lcores = ["--lcores".into(), map.into()];
        self
    }

    pub fn vdev(mut self, spec: impl Into<String>) -> Vtepd {
        self.vdevs.push(spec.into());
        self
    }

    pub fn eal_arg(mut self, a: impl Into<String>) -> Vtepd {
        self.eal_extra.push(a.into());
        self
    }

    pub fn arg(mut self, a: impl Into<String>) -> Vtepd {
        self.app_args.push(a.into());
        self
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(vtepd_bin());
        c.args(&self.lcores)
            .args(["--no-huge", "-m", "256", "--no-pci"])
            .args(["--file-prefix", self.runtime.prefix()]);
        for v in &self.vdevs {
            c.args(["--vdev", v]);
        }
        c.args(&self.eal_extra)
            .arg("--")
            .arg("-c")
            .arg(&self.config);
        c.arg("--final-stats").arg(&self.report);
        c.args(&self.app_args);
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        c
    }

    /// Runs until no packet has arrived for `idle_ms`, with a hard limit.
    pub fn run_until_idle(self, idle_ms: u64) -> Outcome {
        let mut cmd = self.command();
        cmd.args(["--exit-when-idle", &idle_ms.to_string()]);
        let child = cmd.spawn().expect("spawn vtepd");
        // Removed once the process has been waited for, or as a failed wait unwinds.
        let _runtime = self.runtime;
        finish(child, Duration::from_secs(60), &self.report)
    }

    /// Starts vtepd and returns once it is forwarding (its "running" log line).
    pub fn spawn(self) -> Running {
        let mut child = self.command().spawn().expect("spawn vtepd");
        let mut stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut all = Vec::new();
            let mut buf = [0u8; 4096];
            let mut announced = false;
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                all.extend_from_slice(&buf[..n]);
                if !announced && String::from_utf8_lossy(&all).contains("vtepd running") {
                    announced = true;
                    let _ = tx.send(());
                }
            }
            String::from_utf8_lossy(&all).into_owned()
        });
        let started = rx.recv_timeout(Duration::from_secs(30)).is_ok();
        let running = Running {
            child,
            stderr: Some(reader),
            report: self.report,
            runtime: self.runtime,
        };
        assert!(started, "vtepd did not start");
        running
    }
}

/// A vtepd process in the background.
pub struct Running {
    child: Child,
    stderr: Option<std::thread::JoinHandle<String>>,
    report: PathBuf,
    /// Dropped after `drop` has killed and waited for the process.
    runtime: RuntimeDir,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by name ("INT", "TERM", "HUP") with kill(1): the tests stay free of
    /// `unsafe`.
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args(["-s", sig, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -s {sig} failed");
    }

    /// Sends SIGINT and waits for the exit.
    pub fn stop(self) -> Outcome {
        self.end("INT")
    }

    /// Kills it with SIGKILL, as a crash would (nothing of its own cleanup runs), and waits.
    pub fn crash(self) -> Outcome {
        self.end("KILL")
    }

    fn end(mut self, sig: &str) -> Outcome {
        self.signal(sig);
        let child = std::mem::replace(&mut self.child, dummy_child());
        let stderr = self.stderr.take();
        let mut out = finish(child, Duration::from_secs(30), &self.report);
        if let Some(h) = stderr {
            out.stderr = h.join().unwrap_or_default();
        }
        out
    }
}

impl Drop for Running {
    /// A test that panics drops its gateway here: killed, then (the `runtime` field) its DPDK
    /// runtime directory removed, so nothing of it outlives the test.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dummy_child() -> Child {
    Command::new("true").spawn().unwrap()
}

/// Waits for `child` (killed past `limit`) and collects what it left; the caller holds its
/// runtime directory.
fn finish(mut child: Child, limit: Duration, report: &Path) -> Outcome {
    let start = Instant::now();
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(o) = stdout.as_mut() {
            let _ = o.read_to_string(&mut s);
        }
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(e) = stderr.as_mut() {
            let _ = e.read_to_string(&mut s);
        }
        s
    });
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let s = child.wait().unwrap();
            panic!("vtepd ran past {limit:?} and was killed ({s:?})");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Outcome {
        status,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
        report: std::fs::read_to_string(report)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok()),
    }
}

/// Writes Ethernet frames to a pcap file.
pub fn write_pcap(path: &Path, frames: &[Vec<u8>]) {
    use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
    let file = std::fs::File::create(path).unwrap();
    let header = PcapHeader {
        datalink: pcap_file::DataLink::ETHERNET,
        ..Default::default()
    };
    let mut w = PcapWriter::with_header(file, header).unwrap();
    for (i, f) in frames.iter().enumerate() {
        let ts = Duration::from_micros(i as u64);
        w.write_packet(&PcapPacket::new(ts, f.len() as u32, f))
            .unwrap();
    }
}

/// Reads every frame of a pcap file.
pub fn read_pcap(path: &Path) -> Vec<Vec<u8>> {
    use pcap_file::pcap::PcapReader;
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut r = PcapReader::new(file).unwrap();
    let mut out = Vec::new();
    while let Some(p) = r.next_packet() {
        out.push(p.unwrap().data.into_owned());
    }
    out
}
