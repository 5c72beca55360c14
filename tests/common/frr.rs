//! FRR instances (zebra + bgpd) in test namespaces, through scripts/frr.sh: the route
//! reflector, Linux VTEPs and the routers in vtepd's EVPN namespace (tests/evpn_frr.rs).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::netns::check;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/frr.sh")
}

/// One running FRR instance, stopped on drop.
#[derive(Debug)]
pub struct Frr {
    namespace: String,
    running: bool,
}

impl Frr {
    /// Starts zebra and bgpd in `namespace` with `config` (frr.conf style).
    pub fn start(namespace: &str, config: &Path) -> Frr {
        let mut c = Command::new(script());
        c.args(["start", namespace]).arg(config);
        check(c);
        Frr {
            namespace: namespace.to_owned(),
            running: true,
        }
    }

    /// A vtysh command's output (`show ...`).
    pub fn vtysh(&self, command: &str) -> String {
        let mut c = Command::new(script());
        c.args(["vtysh", &self.namespace, "-c", command]);
        check(c)
    }

    /// A `show ... json` command's answer.
    pub fn json(&self, command: &str) -> serde_json::Value {
        let text = self.vtysh(command);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{command}: {e}: {text}"))
    }

    /// The daemons' logs, for a failure message.
    pub fn logs(&self) -> String {
        ["zebra", "bgpd"]
            .iter()
            .map(|d| {
                let path = format!("/run/frr/{}/{d}.log", self.namespace);
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(30).collect();
                format!(
                    "--- {path} (last lines)\n{}\n",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            })
            .collect()
    }

    pub fn stop(mut self) {
        self.halt();
    }

    /// Kills the daemons with SIGKILL, as a crash would, zebra first: a zebra that outlives
    /// bgpd removes the routes bgpd gave it, a dead one leaves its kernel entries. Then
    /// scripts/frr.sh clears their files.
    pub fn kill(mut self) {
        for d in ["zebra", "bgpd"] {
            let pidfile = format!("/run/frr/{}/{d}.pid", self.namespace);
            if let Some(pid) = std::fs::read_to_string(&pidfile)
                .ok()
                .and_then(|p| p.trim().parse::<i32>().ok())
            {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .output();
            }
        }
        self.halt();
    }

    fn halt(&mut self) {
        if self.running {
            self.running = false;
            let _ = Command::new(script())
                .args(["stop", &self.namespace])
                .output();
        }
    }
}

impl Drop for Frr {
    fn drop(&mut self) {
        self.halt();
    }
}
