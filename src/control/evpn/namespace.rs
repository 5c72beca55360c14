//! The shadow namespace: the Linux network namespace vtepd owns so FRR's zebra sees vtepd's
//! EVPN state as if it were the kernel's.
//!
//! It holds `vtep0` (the underlay's MAC and addresses) and, per EVPN VNI, a bridge
//! `br<VNI>` with the kernel VXLAN device `vxlan<VNI>` (`nolearning`) and a port `vtd<VNI>`,
//! where vtepd writes the MACs it learns on its access ports. None of them carries tenant
//! traffic: vtepd's data plane does. `vtep0` and `vtd<VNI>` are veth pairs (the `-p` peer
//! only gives them carrier), not dummies: kernels without the dummy module have veth.
//!
//! Devices are made with iproute2 (`ip -batch`, one process per change), as SONiC's
//! vxlanmgrd does: they change only when VNIs do, and `ip netns` is also how operators and
//! FRR's start script enter the namespace, so the namespace is exactly what `ip netns add`
//! makes. The per-MAC traffic (hot under a learn storm) goes over netlink (`netlink.rs`).
//!
//! Ownership is marked on `vtep0` itself (its alias, `vtepd pid=N`): a namespace without
//! that mark is someone else's and is never touched; one whose owner is gone was left by a
//! crash and is taken over, keeping any FRR running in it.

use std::collections::BTreeSet;
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::config::IpCidr;
use crate::wire::{MacAddr, Vni};

/// The interface that holds the VTEP addresses (and marks the namespace as vtepd's).
pub const VTEP_DEVICE: &str = "vtep0";
const OWNER_MARK: &str = "vtepd pid=";
/// The suffix of a veth's peer (`vtd5000` and `vtd5000-p`).
const PEER: &str = "-p";

/// `vtep0`'s peer, where the exception path's port sits.
pub fn exception_device() -> String {
    format!("{VTEP_DEVICE}{PEER}")
}

/// How the namespace's kernel reaches the fabric.
#[derive(Debug, Clone, Copy)]
pub enum Reach<'a> {
    /// Through `vtep0` and the exception path: the VTEP addresses with their prefixes (the
    /// underlay subnet is on-link) and a default route through these next hops.
    Underlay { next_hops: &'a [IpAddr] },
    /// Through an interface of the operator's: `vtep0` holds the addresses as host routes,
    /// never a way out.
    OwnInterface,
}

/// What a device in the namespace stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// `br<VNI>`: the VNI's bridge (zebra's SVI for MAC/IP routes).
    Bridge,
    /// `vxlan<VNI>`: where zebra installs remote MACs and flood entries.
    Vxlan,
    /// `vtd<VNI>`: where vtepd writes its local MACs.
    Port,
}

impl Role {
    const ALL: [Role; 3] = [Role::Bridge, Role::Vxlan, Role::Port];

    fn prefix(self) -> &'static str {
        match self {
            Role::Bridge => "br",
            Role::Vxlan => "vxlan",
            Role::Port => "vtd",
        }
    }

    pub fn device(self, vni: Vni) -> String {
        format!("{}{}", self.prefix(), vni.get())
    }
}

/// The role and VNI of a device name vtepd makes; None for any other name.
pub fn parse_device(name: &str) -> Option<(Role, Vni)> {
    Role::ALL.into_iter().find_map(|role| {
        let digits = name.strip_prefix(role.prefix())?;
        if digits.is_empty()
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || digits.starts_with('0')
        {
            return None;
        }
        Some((role, Vni::new(digits.parse().ok()?)?))
    })
}

/// Why the namespace could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum NamespaceError {
    #[error(
        "namespace {0:?} exists and is not vtepd's (it has no {VTEP_DEVICE} marked \
         \"{OWNER_MARK}...\"): choose another evpn.namespace, or remove it with `ip netns del {0}`"
    )]
    Foreign(String),
    #[error("namespace {0:?} belongs to the vtepd running as pid {1}")]
    InUse(String, u32),
    #[error("`{command}` failed: {reason}")]
    Command { command: String, reason: String },
}

impl NamespaceError {
    /// A problem with the configuration (exit 2) rather than with the host.
    pub fn is_usage_error(&self) -> bool {
        matches!(self, NamespaceError::Foreign(_) | NamespaceError::InUse(..))
    }
}

/// The shadow namespace, owned by this process.
#[derive(Debug)]
pub struct Namespace {
    name: String,
    vxlan_port: u16,
    source: IpAddr,
    vnis: BTreeSet<Vni>,
}

impl Namespace {
    /// Creates the namespace, or takes over the one a crashed vtepd left; sets `vtep0` up.
    pub fn open(
        name: &str,
        underlay_mac: MacAddr,
        addresses: &[IpCidr],
        source: IpAddr,
        vxlan_port: u16,
        reach: Reach<'_>,
    ) -> Result<Namespace, NamespaceError> {
        let mut existing = BTreeSet::new();
        if path(name).exists() {
            let owner = owner(name).ok_or_else(|| NamespaceError::Foreign(name.to_owned()))?;
            if owner != std::process::id() && is_running_vtepd(owner) {
                return Err(NamespaceError::InUse(name.to_owned(), owner));
            }
            tracing::warn!(
                "evpn: taking over namespace {name:?} left by vtepd pid {owner} (what runs in it, FRR, keeps running)"
            );
            existing = complete_vnis(name)?;
        } else {
            run(&["netns", "add", name])?;
            let made = batch(
                name,
                &[
                    "link set lo up".to_owned(),
                    format!("link add {VTEP_DEVICE} type veth peer name {VTEP_DEVICE}{PEER}"),
                    format!("link set {VTEP_DEVICE}{PEER} up"),
                ],
            );
            if let Err(e) = made {
                let _ = run(&["netns", "del", name]);
                return Err(e);
            }
        }
        let mut setup = vec![
            format!(
                "link set {VTEP_DEVICE} address {underlay_mac} alias \"{OWNER_MARK}{}\" up",
                std::process::id()
            ),
            format!("address flush dev {VTEP_DEVICE}"),
        ];
        setup.extend(addresses.iter().map(|a| {
            let len = match reach {
                Reach::Underlay { .. } => a.prefix,
                // A host route per address: vtep0 is an endpoint, not a subnet's way out.
                Reach::OwnInterface if a.addr.is_ipv4() => 32,
                Reach::OwnInterface => 128,
            };
            format!("address add {}/{len} dev {VTEP_DEVICE}", a.addr)
        }));
        if let Reach::Underlay { next_hops } = reach {
            for v4 in [true, false] {
                let hops: Vec<String> = next_hops
                    .iter()
                    .filter(|h| h.is_ipv4() == v4)
                    .map(|h| format!("nexthop via {h} dev {VTEP_DEVICE} onlink"))
                    .collect();
                if !hops.is_empty() {
                    let default = if v4 { "0.0.0.0/0" } else { "::/0" };
                    setup.push(format!("route replace {default} {}", hops.join(" ")));
                }
            }
        }
        batch(name, &setup)?;
        if let Reach::Underlay { .. } = reach {
            // The exception port reads what vtep0 sends as it is: no TCP segments larger
            // than the MTU (TSO/GSO, which a veth would otherwise pass on whole).
            // Checksums the kernel leaves to vtep0's "hardware" are filled in there.
            if let Err(e) = batch(name, &[format!("link set {VTEP_DEVICE} gso_max_segs 1")]) {
                tracing::warn!(
                    "evpn: {e}: large BGP messages may not cross the exception path (a kernel \
                     older than 5.19 cannot change gso_max_segs; run `ethtool -K {VTEP_DEVICE} \
                     tso off gso off` in the namespace)"
                );
            }
        }
        // Devices of VNIs no longer configured go with the first `reconcile`.
        Ok(Namespace {
            name: name.to_owned(),
            vxlan_port,
            source,
            vnis: existing,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The EVPN VNIs whose devices exist.
    pub fn vnis(&self) -> &BTreeSet<Vni> {
        &self.vnis
    }

    /// Makes the devices match `wanted`: removes those of other VNIs (zebra withdraws their
    /// routes), creates the missing ones.
    pub fn reconcile(&mut self, wanted: &BTreeSet<Vni>) -> Result<(), NamespaceError> {
        let mut commands = Vec::new();
        for gone in self.vnis.difference(wanted) {
            // The bridge last: its ports leave it first.
            for role in [Role::Port, Role::Vxlan, Role::Bridge] {
                commands.push(format!("link del {}", role.device(*gone)));
            }
        }
        for new in wanted.difference(&self.vnis) {
            commands.extend(self.create_commands(*new));
        }
        if commands.is_empty() {
            return Ok(());
        }
        let result = batch(&self.name, &commands);
        // On failure the namespace holds what it holds: ask it, so the next call repairs.
        self.vnis = match &result {
            Ok(()) => wanted.clone(),
            Err(_) => complete_vnis(&self.name).unwrap_or_default(),
        };
        result
    }

    fn create_commands(&self, vni: Vni) -> Vec<String> {
        let (br, vx, port) = (
            Role::Bridge.device(vni),
            Role::Vxlan.device(vni),
            Role::Port.device(vni),
        );
        vec![
            // No STP: the bridge only mirrors the VNI for zebra.
            format!("link add {br} type bridge stp_state 0"),
            format!(
                "link add {vx} type vxlan id {} local {} dstport {} nolearning",
                vni.get(),
                self.source,
                self.vxlan_port
            ),
            format!("link add {port} type veth peer name {port}{PEER}"),
            format!("link set {vx} master {br}"),
            format!("link set {port} master {br}"),
            // Only vtepd writes MACs on its port; the kernel learns nothing there.
            format!("link set {port} type bridge_slave learning off"),
            format!("link set {port}{PEER} up"),
            format!("link set {br} up"),
            format!("link set {vx} up"),
            format!("link set {port} up"),
        ]
    }

    /// Removes every VNI's devices (FRR withdraws their routes), then the namespace itself
    /// unless processes (FRR) still run in it: those keep it, and are told about.
    pub fn close(mut self) {
        if let Err(e) = self.reconcile(&BTreeSet::new()) {
            tracing::warn!("evpn: removing the VNI devices: {e}");
        }
        let pids = pids_in(&self.name);
        if pids.is_empty() {
            if let Err(e) = run(&["netns", "del", &self.name]) {
                tracing::warn!("evpn: removing namespace {:?}: {e}", self.name);
            }
        } else {
            // Unmarked, so the next vtepd takes it over.
            let _ = batch(
                &self.name,
                &[format!("link set {VTEP_DEVICE} alias \"{OWNER_MARK}0\"")],
            );
            tracing::info!(
                "evpn: namespace {:?} kept: processes {pids:?} (FRR) still run in it; \
                 scripts/frr.sh stop {} ends them",
                self.name,
                self.name
            );
        }
    }
}

fn path(name: &str) -> PathBuf {
    PathBuf::from("/run/netns").join(name)
}

/// The pid in `vtep0`'s ownership mark, None when the namespace has no such mark.
fn owner(name: &str) -> Option<u32> {
    let out = output(&["-n", name, "-j", "link", "show", "dev", VTEP_DEVICE]).ok()?;
    let links: serde_json::Value = serde_json::from_str(&out).ok()?;
    let alias = links.get(0)?.get("ifalias")?.as_str()?;
    alias.strip_prefix(OWNER_MARK)?.parse().ok()
}

/// A live (not zombie) process named vtepd.
fn is_running_vtepd(pid: u32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
            .unwrap_or("")
    };
    pid != 0 && field("Name:") == "vtepd" && !field("State:").starts_with(['Z', 'X'])
}

/// The VNIs whose three devices exist in the namespace; the devices of VNIs half made (a
/// crash between two commands) are removed.
fn complete_vnis(name: &str) -> Result<BTreeSet<Vni>, NamespaceError> {
    let mut found: std::collections::BTreeMap<Vni, Vec<Role>> = Default::default();
    for (role, vni) in devices(name)? {
        found.entry(vni).or_default().push(role);
    }
    let mut complete = BTreeSet::new();
    let mut remove = Vec::new();
    for (vni, roles) in found {
        if roles.len() == Role::ALL.len() {
            complete.insert(vni);
        } else {
            remove.extend(roles.iter().map(|r| format!("link del {}", r.device(vni))));
        }
    }
    if !remove.is_empty() {
        batch(name, &remove)?;
    }
    Ok(complete)
}

/// The devices vtepd made that exist in the namespace.
fn devices(name: &str) -> Result<Vec<(Role, Vni)>, NamespaceError> {
    let out = output(&["-n", name, "-j", "link", "show"])?;
    let links: serde_json::Value =
        serde_json::from_str(&out).map_err(|e| NamespaceError::Command {
            command: format!("ip -n {name} -j link show"),
            reason: e.to_string(),
        })?;
    Ok(links
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l.get("ifname")?.as_str())
        .filter_map(parse_device)
        .collect())
}

/// Stops the namespace's kernel from answering ARP for the VTEP addresses on its other
/// interfaces (a management port moved in for BGP): vtepd's data plane answers for them on
/// the underlay. Call from a thread inside the namespace (`/proc/sys/net` is the caller's).
pub fn leave_vtep_addresses_to_the_data_plane() {
    for (key, value) in [("arp_ignore", "1"), ("arp_announce", "2")] {
        let path = format!("/proc/sys/net/ipv4/conf/all/{key}");
        if let Err(e) = std::fs::write(&path, value) {
            tracing::warn!("evpn: setting {path} to {value} in the namespace: {e}");
        }
    }
}

/// Processes whose network namespace is `name` (what `ip netns pids` lists).
pub fn pids_in(name: &str) -> Vec<u32> {
    let Ok(target) = std::fs::metadata(path(name)) else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::metadata(format!("/proc/{pid}/ns/net"))
                .is_ok_and(|m| m.ino() == target.ino() && m.dev() == target.dev())
        })
        .collect()
}

/// The names of the processes in the namespace (to tell whether FRR runs there).
pub fn programs_in(name: &str) -> Vec<String> {
    let mut out: Vec<String> = pids_in(name)
        .into_iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).ok())
        .map(|c| c.trim_end().to_owned())
        .collect();
    out.sort();
    out.dedup();
    out
}

fn run(args: &[&str]) -> Result<(), NamespaceError> {
    output(args).map(drop)
}

fn output(args: &[&str]) -> Result<String, NamespaceError> {
    let command = || format!("ip {}", args.join(" "));
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| NamespaceError::Command {
            command: command(),
            reason: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(NamespaceError::Command {
            command: command(),
            reason: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs iproute2 commands in the namespace, in one process.
fn batch(name: &str, commands: &[String]) -> Result<(), NamespaceError> {
    let text = commands.join("\n") + "\n";
    let failed = |reason: String| NamespaceError::Command {
        command: format!("ip -n {name} -batch - ({})", commands.join("; ")),
        reason,
    };
    let mut child = Command::new("ip")
        .args(["-n", name, "-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| failed(e.to_string()))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| failed(e.to_string()))?;
    if !out.status.success() {
        return Err(failed(
            String::from_utf8_lossy(&out.stderr)
                .trim()
                .replace('\n', "; "),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_round_trip() {
        let vni = Vni::new(5000).unwrap();
        for role in Role::ALL {
            assert_eq!(parse_device(&role.device(vni)), Some((role, vni)));
        }
        assert_eq!(
            Role::Vxlan.device(Vni::new(16_777_215).unwrap()),
            "vxlan16777215"
        );
        // Every name fits IFNAMSIZ (15 characters).
        assert!(Role::Vxlan.device(Vni::new(16_777_215).unwrap()).len() <= 15);
    }

    #[test]
    fn other_names_are_not_ours() {
        for name in [
            "vtep0",
            "br",
            "brx1",
            "vxlan05000",
            "vxlan5000a",
            "eth0",
            "vxlan99999999",
        ] {
            assert_eq!(parse_device(name), None, "{name}");
        }
    }
}
