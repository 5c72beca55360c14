//! Network namespaces and veth pairs for tests that need real interfaces (kernel VXLAN
//! interop, ordered live traffic). Owned by the netns/interop tests.
//!
//! Everything a test creates lives in namespaces named `vtepd-t<pid>-<n>`, with veth pairs
//! created directly inside them: the host's own interfaces are never touched. A `Netns` is
//! deleted on drop (after killing whatever still runs in it; its veths go with it), also when
//! the test panics. Namespaces of test processes that died without unwinding (SIGKILL) are
//! swept away by the next process that creates one.
//!
//! vtepd runs inside a namespace with `Netns::vtepd`, the harness's `Vtepd::spawn` with the
//! command prefixed by `ip netns exec NS` (which execs, so the pid is vtepd's own and `stop`
//! signals it directly).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Once;
use std::time::{Duration, Instant};

use super::{Running, Vtepd};

const PREFIX: &str = "vtepd-t";
const NETNS_DIR: &str = "/var/run/netns";
/// The Python with scapy (plain `python3` on PATH may be another one).
pub const PYTHON: &str = "/usr/bin/python3";

static NEXT: AtomicU32 = AtomicU32::new(0);
static SWEEP: Once = Once::new();

/// True when this machine can run namespace tests (and others that need root): root, and
/// every tool in `tools` (plus `ip`) on PATH. Prints why not, so a skipped test is visible
/// in the output.
pub fn capable(tools: &[&str]) -> bool {
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false);
    if !root {
        eprintln!("skipped: this test needs root");
        return false;
    }
    for t in std::iter::once(&"ip").chain(tools) {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {t}")])
            .stdout(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !found {
            eprintln!("skipped: {t} is not installed");
            return false;
        }
    }
    true
}

/// Runs a command to completion, panicking with its output if it fails.
pub fn check(mut c: Command) -> String {
    let what = format!("{c:?}");
    let out = c
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Polls `f` every `every` until it holds or `limit` has passed; true when it held.
pub fn wait_until(limit: Duration, every: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if f() {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(every);
    }
}

/// A namespace name of this test process that nothing has made yet, for a program that
/// makes the namespace itself (vtepd's EVPN namespace): deleted on drop if it exists then,
/// and swept like the others if the test process dies.
#[derive(Debug)]
pub struct NameOnly {
    name: String,
}

impl NameOnly {
    pub fn new() -> NameOnly {
        SWEEP.call_once(sweep_stale);
        let name = format!(
            "{PREFIX}{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        destroy(&name);
        NameOnly { name }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn exists(&self) -> bool {
        Path::new(NETNS_DIR).join(&self.name).exists()
    }

    /// `ip -n NS args...`; panics if it fails.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut c = Command::new("ip");
        c.args(["-n", &self.name]).args(args);
        check(c)
    }

    /// `bridge -n NS args...`; panics if it fails.
    pub fn bridge(&self, args: &[&str]) -> String {
        let mut c = Command::new("bridge");
        c.args(["-n", &self.name]).args(args);
        check(c)
    }
}

impl Drop for NameOnly {
    fn drop(&mut self) {
        destroy(&self.name);
    }
}

/// A network namespace of this test process, deleted on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// A fresh namespace with `lo` up.
    pub fn new() -> Netns {
        SWEEP.call_once(sweep_stale);
        let name = format!(
            "{PREFIX}{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        // Left over from a recycled pid whose namespace survived: ours now.
        destroy(&name);
        let mut c = Command::new("ip");
        c.args(["netns", "add", &name]);
        check(c);
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `program` run inside the namespace (`ip netns exec`).
    pub fn cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).arg(program);
        c
    }

    /// Runs `args` in the namespace and returns its stdout; panics if it fails.
    pub fn ok(&self, args: &[&str]) -> String {
        let (program, rest) = args.split_first().expect("a command");
        let mut c = self.cmd(program);
        c.args(rest);
        check(c)
    }

    /// Runs `args` in the namespace, whatever its exit status.
    pub fn output(&self, args: &[&str]) -> Output {
        let (program, rest) = args.split_first().expect("a command");
        let mut c = self.cmd(program);
        c.args(rest).stdin(Stdio::null());
        c.output()
            .unwrap_or_else(|e| panic!("{args:?} in {}: {e}", self.name))
    }

    /// `ip -n NS args...`; panics if it fails.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut c = Command::new("ip");
        c.args(["-n", &self.name]).args(args);
        check(c)
    }

    /// Brings `iface` up with IPv6 disabled (no router solicitations, MLD reports, DAD: the
    /// kernel stays silent on it unless told to send).
    pub fn quiet_up(&self, iface: &str) {
        self.no_ipv6(iface);
        self.ip(&["link", "set", iface, "up"]);
    }

    pub fn no_ipv6(&self, iface: &str) {
        self.ok(&[
            "sysctl",
            "-qw",
            &format!("net.ipv6.conf.{iface}.disable_ipv6=1"),
        ]);
    }

    pub fn up(&self, iface: &str) {
        self.ip(&["link", "set", iface, "up"]);
    }

    /// Adds an address (IPv6 without duplicate address detection, so it is usable at once).
    pub fn addr(&self, iface: &str, cidr: &str) {
        if cidr.contains(':') {
            self.ip(&["addr", "add", cidr, "dev", iface, "nodad"]);
        } else {
            self.ip(&["addr", "add", cidr, "dev", iface]);
        }
    }

    /// `ping -c count` from this namespace; the output, whatever the result.
    pub fn ping(&self, dst: &str, count: u32) -> Output {
        let count = count.to_string();
        let mut args = vec!["ping", "-n", "-c", &count, "-i", "0.2", "-W", "5"];
        if dst.contains(':') {
            args.insert(1, "-6");
        }
        args.push(dst);
        self.output(&args)
    }

    /// A process left running in the namespace; killed on drop.
    pub fn spawn(&self, args: &[&str]) -> Bg {
        let (program, rest) = args.split_first().expect("a command");
        let mut c = self.cmd(program);
        c.args(rest)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = c
            .spawn()
            .unwrap_or_else(|e| panic!("{args:?} in {}: {e}", self.name));
        Bg {
            child,
            what: format!("{args:?}"),
        }
    }

    /// Starts tcpdump on `iface` writing to `path` (pcap) and returns once it listens.
    /// `filter` is a pcap filter expression ("" for everything).
    pub fn capture(&self, iface: &str, path: &Path, filter: &str) -> Capture {
        let mut c = self.cmd("tcpdump");
        // -Z root: tcpdump would otherwise drop to its own user, which cannot write to the
        // test's scratch directory.
        c.args([
            "-Z",
            "root",
            "-U",
            "--immediate-mode",
            "-n",
            "-i",
            iface,
            "-w",
        ])
        .arg(path);
        if !filter.is_empty() {
            c.arg(filter);
        }
        c.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("spawn tcpdump");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut all = Vec::new();
            let mut buf = [0u8; 1024];
            let mut announced = false;
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                all.extend_from_slice(buf.get(..n).unwrap_or_default());
                if !announced && String::from_utf8_lossy(&all).contains("listening on") {
                    announced = true;
                    let _ = tx.send(());
                }
            }
            String::from_utf8_lossy(&all).into_owned()
        });
        let mut cap = Capture {
            child: Some(child),
            stderr: Some(reader),
            path: path.to_owned(),
        };
        if rx.recv_timeout(Duration::from_secs(20)).is_err() {
            let log = cap.stop_process();
            panic!("tcpdump on {iface} in {} did not start: {log}", self.name);
        }
        cap
    }

    /// `inner` run inside the namespace: `ip netns exec NS program args...`, with its
    /// environment changes and working directory (stdio is the caller's to set again).
    pub fn wrap(&self, inner: &Command) -> Command {
        let mut c = self.cmd(inner.get_program());
        c.args(inner.get_args());
        for (k, v) in inner.get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        if let Some(dir) = inner.get_current_dir() {
            c.current_dir(dir);
        }
        c
    }

    /// Starts vtepd in this namespace; returns once it is forwarding. Same as
    /// `Vtepd::spawn`, with `Vtepd::command()` wrapped by `wrap`.
    pub fn vtepd(&self, v: Vtepd) -> Running {
        let c = self.wrap(&v.command());
        self.start_vtepd(c, v)
    }

    /// `vtepd`, entering only this network namespace (`nsenter --net`), not the private
    /// mount namespace `ip netns exec` makes: the namespaces vtepd itself creates (EVPN's)
    /// are then visible to everyone, as with a vtepd in the root namespace.
    pub fn vtepd_net_only(&self, v: Vtepd) -> Running {
        let inner = v.command();
        let mut c = Command::new("nsenter");
        c.arg(format!("--net={NETNS_DIR}/{}", self.name))
            .arg("--")
            .arg(inner.get_program())
            .args(inner.get_args());
        self.start_vtepd(c, v)
    }

    fn start_vtepd(&self, mut c: Command, v: Vtepd) -> Running {
        c.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("spawn vtepd");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut all = Vec::new();
            let mut buf = [0u8; 4096];
            let mut announced = false;
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                all.extend_from_slice(buf.get(..n).unwrap_or_default());
                if !announced && String::from_utf8_lossy(&all).contains("vtepd running") {
                    announced = true;
                    let _ = tx.send(());
                }
            }
            String::from_utf8_lossy(&all).into_owned()
        });
        let started = rx.recv_timeout(Duration::from_secs(60)).is_ok();
        let mut running = Running {
            child,
            stderr: Some(reader),
            report: v.report,
            // Its runtime directory goes with the run, removed however the test ends.
            runtime: v.runtime,
        };
        if !started {
            let _ = running.child.kill();
            let _ = running.child.wait();
            let log = running
                .stderr
                .take()
                .and_then(|h| h.join().ok())
                .unwrap_or_default();
            panic!("vtepd did not start in {}:\n{log}", self.name);
        }
        running
    }
}

impl Default for Netns {
    fn default() -> Self {
        Netns::new()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        destroy(&self.name);
    }
}

/// A veth pair: `a_if` in `a`, `b_if` in `b` (the two may be the same namespace). Goes away
/// with its namespaces.
pub fn veth(a: &Netns, a_if: &str, b: &Netns, b_if: &str) {
    a.ip(&[
        "link", "add", a_if, "type", "veth", "peer", "name", b_if, "netns", &b.name,
    ]);
}

/// Kills what still runs in namespace `name` (only ever processes a test started there) and
/// deletes it.
fn destroy(name: &str) {
    if !Path::new(NETNS_DIR).join(name).exists() {
        return;
    }
    if let Ok(out) = Command::new("ip").args(["netns", "pids", name]).output() {
        for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            if pid.chars().all(|c| c.is_ascii_digit()) {
                let _ = Command::new("kill")
                    .args(["-s", "KILL", pid])
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
    let _ = Command::new("ip")
        .args(["netns", "del", name])
        .stderr(Stdio::null())
        .status();
}

/// Deletes `vtepd-t<pid>-*` namespaces whose test process is gone (killing what that process
/// left running in them), and the DPDK runtime directories of its vtepd runs.
fn sweep_stale() {
    let Ok(dir) = std::fs::read_dir(NETNS_DIR) else {
        return;
    };
    let mut dead = std::collections::BTreeSet::new();
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let Some((pid, n)) = rest.split_once('-') else {
            continue;
        };
        let numeric = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
        if !numeric(pid) || !numeric(n) {
            continue;
        }
        if !Path::new("/proc").join(pid).exists() {
            destroy(&name);
            dead.insert(pid.to_owned());
        }
    }
    // The harness's `--file-prefix vtepd-test-<pid>-<n>`, left behind by a killed run.
    let Ok(runtime) = std::fs::read_dir(super::RUNTIME_ROOT) else {
        return;
    };
    for entry in runtime.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let owner = name
            .strip_prefix("vtepd-test-")
            .and_then(|rest| rest.split_once('-'))
            .map(|(pid, _)| pid);
        if owner.is_some_and(|p| dead.contains(p)) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// A background process in a namespace, killed on drop.
#[derive(Debug)]
pub struct Bg {
    child: Child,
    what: String,
}

impl Bg {
    /// Waits for it to exit by itself (at most `limit`) and returns its output; panics if it
    /// fails or runs too long.
    pub fn wait(mut self, limit: Duration) -> String {
        let done = wait_until(limit, Duration::from_millis(20), || {
            matches!(self.child.try_wait(), Ok(Some(_)))
        });
        assert!(done, "{} ran past {limit:?}", self.what);
        let mut out = String::new();
        let mut err = String::new();
        if let Some(o) = self.child.stdout.as_mut() {
            let _ = o.read_to_string(&mut out);
        }
        if let Some(e) = self.child.stderr.as_mut() {
            let _ = e.read_to_string(&mut err);
        }
        let status = self.child.wait().expect("wait");
        assert!(
            status.success(),
            "{} failed ({status}): {out}{err}",
            self.what
        );
        out
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running tcpdump; `finish` stops it and returns what it captured.
#[derive(Debug)]
pub struct Capture {
    child: Option<Child>,
    stderr: Option<std::thread::JoinHandle<String>>,
    path: PathBuf,
}

impl Capture {
    /// Stops tcpdump (SIGINT: it writes out what it has) and reads its file.
    pub fn finish(mut self) -> Vec<Vec<u8>> {
        self.stop_process();
        read_pcap_lenient(&self.path)
    }

    fn stop_process(&mut self) -> String {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-s", "INT", &child.id().to_string()])
                .status();
            let exited = wait_until(Duration::from_secs(10), Duration::from_millis(20), || {
                matches!(child.try_wait(), Ok(Some(_)))
            });
            if !exited {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
        self.stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Every complete frame of a pcap file that may still be growing (a record cut short at the
/// end is left for the next read); a missing or empty file has none.
pub fn read_pcap_lenient(path: &Path) -> Vec<Vec<u8>> {
    let Ok(bytes) = std::fs::read(path) else {
        return Vec::new();
    };
    let Some(magic) = bytes.get(..4) else {
        return Vec::new();
    };
    let le = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => panic!("{}: not a pcap file", path.display()),
    };
    let u32_at = |at: usize| -> Option<usize> {
        let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        let v = if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        };
        usize::try_from(v).ok()
    };
    let mut frames = Vec::new();
    let mut at = 24;
    while let Some(len) = u32_at(at + 8) {
        let start = at + 16;
        let Some(data) = bytes.get(start..start + len) else {
            break;
        };
        frames.push(data.to_vec());
        at = start + len;
    }
    frames
}
