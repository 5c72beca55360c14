//! Debian's nfdump as the independent IPFIX collector: `nfcapd` receives, `nfdump -o raw`
//! decodes what it stored.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::netns::Netns;
use super::Scratch;

/// `nfcapd` receiving on a loopback port into a scratch directory.
pub struct Nfcapd {
    child: Child,
    dir: PathBuf,
    log: PathBuf,
    pub addr: SocketAddr,
}

impl Nfcapd {
    /// In `ns` (its loopback) or, with None, in the test's own namespace.
    pub fn start(scratch: &Scratch, ns: Option<&Netns>) -> Nfcapd {
        assert!(
            installed("nfcapd") && installed("nfdump"),
            "nfcapd/nfdump not found: apt-get install nfdump (scripts/test.sh installs it)"
        );
        let dir = scratch.path("flows");
        std::fs::create_dir(&dir).unwrap();
        let log = scratch.path("nfcapd.log");
        // A free port: taken, then given back for nfcapd (which fails loudly if it loses it).
        let addr = UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .unwrap();
        let mut cmd = match ns {
            Some(ns) => ns.cmd("nfcapd"),
            None => Command::new("nfcapd"),
        };
        let child = cmd
            .args(["-b", "127.0.0.1", "-p", &addr.port().to_string(), "-w"])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut nfcapd = Nfcapd {
            child,
            dir,
            log,
            addr,
        };
        // It has bound its socket once it says it started.
        nfcapd.wait_for_log("Startup nfcapd");
        nfcapd
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn wait_for_log(&mut self, line: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.log().contains(line) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("nfcapd exited ({status}):\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "nfcapd did not log {line:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops it with SIGTERM, which writes out what it holds; returns its log and the files
    /// it wrote (`nfcapd.YYYYmmddHHMM`, more than one if the run crossed a 5-minute boundary).
    pub fn stop(mut self) -> (String, Vec<PathBuf>) {
        let status = Command::new("kill")
            .args(["-s", "TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "nfcapd: {status}\n{}", self.log());
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                name.starts_with("nfcapd.") && !name.starts_with("nfcapd.current")
            })
            .collect();
        files.sort();
        (self.log(), files)
    }
}

impl Drop for Nfcapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn installed(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `nfdump -r FILE -o raw`: one map of "key = value" lines per flow record, the value's
/// first word only ("proto = 6 TCP" gives "6").
pub fn nfdump_raw(file: &Path) -> Vec<HashMap<String, String>> {
    let out = Command::new("nfdump")
        .arg("-r")
        .arg(file)
        .args(["-o", "raw"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "nfdump: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut records = Vec::new();
    for line in text.lines() {
        if line.starts_with("Flow Record") {
            records.push(HashMap::new());
        } else if let (Some(record), Some((key, value))) =
            (records.last_mut(), line.split_once('='))
        {
            let value = value.split_whitespace().next().unwrap_or("").to_owned();
            record.insert(key.trim().to_owned(), value);
        }
    }
    records
}
