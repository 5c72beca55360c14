//! BGP EVPN with FRR as the speaker (docs/EVPN.md): vtepd mirrors its EVPN VNIs into a
//! shadow namespace where FRR's zebra sees them as kernel VXLAN devices, takes the routes
//! zebra installs there into its own tables, and writes the MACs it learns locally back for
//! zebra to advertise. The data plane learns nothing about BGP: EVPN changes the tables
//! through the same update path as the configuration and the API.
//!
//! - `namespace`: the namespace and its devices (`vtep0`, `br<VNI>`, `vxlan<VNI>`,
//!   `vtd<VNI>`);
//! - `kernel`: neighbour messages in vtepd's terms, and the ones vtepd writes;
//! - `mirror`: the namespace's tables as last read, so changes (and re-reads) become diffs;
//! - `netlink`: the thread that reads and writes them;
//! - `exception`: the thread that carries the kernel's own traffic (BGP) over the underlay;
//! - this file: what the management thread does with both directions.

pub mod exception;
pub mod kernel;
pub mod mirror;
pub mod namespace;
pub mod netlink;
mod thread;
pub mod view;

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::atomic::Ordering;

use crate::config::{BgpVia, EvpnConfig, UnderlayConfig};
use crate::dpdk::Hotplug;
use crate::tables::authority::{Authority, Change, Origin, TableError};
use crate::tables::update::Location;
use crate::tables::{FdbKey, VniIndex};
use crate::wire::{MacAddr, Vni};

use exception::{ExceptionPath, ExceptionQueues, ExceptionStats};
use mirror::Imported;
use namespace::{Namespace, NamespaceError};
use netlink::{Command, NetlinkSync};

/// Imported changes applied per management tick: bounds a tick when a peer's whole table
/// arrives at once.
const IMPORTS_PER_TICK: usize = 16384;

/// Why EVPN could not start.
#[derive(Debug, thiserror::Error)]
pub enum EvpnError {
    #[error("evpn.namespace: {0}")]
    Namespace(#[from] NamespaceError),
    #[error("evpn: netlink in namespace {0:?}: {1}")]
    Netlink(String, std::io::Error),
    #[error("evpn: the exception path (bgp_via = \"underlay\") in namespace {0:?}: {1}")]
    Exception(String, std::io::Error),
}

impl EvpnError {
    pub fn is_usage_error(&self) -> bool {
        matches!(self, EvpnError::Namespace(e) if e.is_usage_error())
    }
}

/// Routes the tables refused (a static entry, a full table, our own address), by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportStats {
    pub imported: u64,
    pub refused: u64,
}

/// The management thread's side of EVPN.
#[derive(Debug)]
pub struct Evpn {
    namespace: Option<Namespace>,
    sync: Option<NetlinkSync>,
    exception: Option<ExceptionPath>,
    /// The EVPN VNIs by slot: a removed VNI's slot no longer names it in the tables.
    slots: HashMap<VniIndex, Vni>,
    /// Local MACs written into the namespace (and whether static).
    exported: HashMap<(Vni, MacAddr), bool>,
    exported_bindings: HashMap<(Vni, IpAddr), MacAddr>,
    pub imports: ImportStats,
}

impl Evpn {
    /// Sets the namespace up for the EVPN VNIs in `authority`, starts the netlink thread
    /// and, with BGP over the underlay, the exception thread (both pinned to `cpu`), and
    /// exports the local MACs the tables hold already.
    pub fn start(
        config: &EvpnConfig,
        underlay: &UnderlayConfig,
        underlay_mac: MacAddr,
        cpu: Option<usize>,
        authority: &Authority,
        exception: Option<(Hotplug, ExceptionQueues)>,
    ) -> Result<Evpn, EvpnError> {
        let source = underlay
            .source_v4()
            .map(IpAddr::V4)
            .or_else(|| underlay.source_v6().map(IpAddr::V6))
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        let mut ns = Namespace::open(
            &config.namespace,
            underlay_mac,
            &underlay.addresses,
            source,
            underlay.vxlan_port,
            match config.bgp_via {
                BgpVia::Underlay(_) => namespace::Reach::Underlay {
                    next_hops: &underlay.next_hops,
                },
                BgpVia::Namespace => namespace::Reach::OwnInterface,
            },
        )?;
        ns.reconcile(&authority.evpn_vnis().collect())?;
        let sync = NetlinkSync::start(&config.namespace, cpu)
            .map_err(|e| EvpnError::Netlink(config.namespace.clone(), e))?;
        let exception = match exception {
            Some((hotplug, queues)) => Some(
                ExceptionPath::start(&config.namespace, hotplug, queues, cpu)
                    .map_err(|e| EvpnError::Exception(config.namespace.clone(), e))?,
            ),
            None => None,
        };
        let programs = namespace::programs_in(&config.namespace);
        if !programs.iter().any(|p| p == "zebra") {
            tracing::warn!(
                "evpn: FRR does not run in namespace {ns:?} yet: EVPN VNIs get no remote MACs \
                 or flood lists until it does (scripts/frr.sh start {ns} config/frr/gateway.conf); \
                 static VNIs are unaffected",
                ns = config.namespace
            );
        }
        tracing::info!(
            "evpn: namespace {:?} with {} EVPN VNI(s)",
            config.namespace,
            ns.vnis().len()
        );
        let mut e = Evpn {
            namespace: Some(ns),
            sync: Some(sync),
            exception,
            slots: HashMap::new(),
            exported: HashMap::new(),
            exported_bindings: HashMap::new(),
            imports: ImportStats::default(),
        };
        e.observe(&authority.all(), authority);
        Ok(e)
    }

    /// Applies what the namespace changed; returns the table changes for the workers.
    pub fn import(&mut self, authority: &mut Authority) -> Vec<Change> {
        let mut changes = Vec::new();
        let Some(sync) = &self.sync else {
            return changes;
        };
        for _ in 0..IMPORTS_PER_TICK {
            let Some(i) = sync.try_recv() else { break };
            self.imports.imported += 1;
            let result = match i {
                Imported::MacAt { vni, mac, vtep } => authority.set_evpn_mac(vni, mac, vtep),
                Imported::MacGone { vni, mac } => Ok(authority.remove_evpn_mac(vni, mac)),
                Imported::Flood { vni, vteps } => authority.set_evpn_flood(vni, &vteps),
                Imported::BindingAt { vni, ip, mac } => authority.set_evpn_binding(vni, ip, mac),
                Imported::BindingGone { vni, ip } => Ok(authority.remove_evpn_binding(vni, ip)),
            };
            match result {
                Ok(c) => changes.extend(c),
                // A route for a VNI that is not (or no longer) under EVPN: nothing to do.
                Err(TableError::NotEvpn(_) | TableError::UnknownVni(_)) => {}
                Err(e) => {
                    self.imports.refused += 1;
                    tracing::debug!("evpn: route not installed: {e}");
                }
            }
        }
        changes
    }

    /// Follows table changes into the namespace: devices for EVPN VNIs added or removed,
    /// local MACs and bindings exported or withdrawn.
    pub fn observe(&mut self, changes: &[Change], authority: &Authority) {
        if changes.iter().any(|c| matches!(c, Change::Vni(_))) {
            self.follow_vnis(authority);
        }
        for c in changes {
            match *c {
                Change::Fdb(key) => self.follow_mac(key, authority),
                Change::FdbFlush { vni, .. } => {
                    if let Some(&id) = self.slots.get(&vni) {
                        let macs: Vec<MacAddr> = self
                            .exported
                            .keys()
                            .filter(|(v, _)| *v == id)
                            .map(|(_, m)| *m)
                            .collect();
                        for mac in macs {
                            self.follow_mac(FdbKey::new(vni, mac), authority);
                        }
                    }
                }
                Change::Binding(vni, ip) => self.follow_binding(vni, ip, authority),
                Change::Vni(_) | Change::Tunnel(_) | Change::Vrf(_) | Change::Groups => {}
            }
        }
    }

    fn follow_vnis(&mut self, authority: &Authority) {
        let wanted: BTreeSet<Vni> = authority.evpn_vnis().collect();
        let before: BTreeSet<Vni> = self.slots.values().copied().collect();
        self.slots = wanted
            .iter()
            .filter_map(|v| Some((authority.vni_index(*v)?, *v)))
            .collect();
        if let Some(ns) = self.namespace.as_mut() {
            if ns.vnis() != &wanted {
                if let Err(e) = ns.reconcile(&wanted) {
                    tracing::error!("evpn: {e}");
                }
            }
        }
        // Entries of VNIs that left went with their devices.
        self.exported.retain(|(v, _), _| wanted.contains(v));
        self.exported_bindings
            .retain(|(v, _), _| wanted.contains(v));
        for new in wanted.difference(&before) {
            let Some(index) = authority.vni_index(*new) else {
                continue;
            };
            let keys: Vec<FdbKey> = authority
                .fdb()
                .filter(|(k, _)| k.vni() == index)
                .map(|(k, _)| *k)
                .collect();
            for key in keys {
                self.follow_mac(key, authority);
            }
            for (ip, _, _) in authority.bindings_of(*new) {
                self.follow_binding(index, ip, authority);
            }
        }
    }

    /// Exports `key` when it is local (on an access port), withdraws it when it is not.
    fn follow_mac(&mut self, key: FdbKey, authority: &Authority) {
        let Some(&vni) = self.slots.get(&key.vni()) else {
            return;
        };
        let mac = key.mac();
        let wanted = authority
            .fdb_record(key)
            .filter(|r| matches!(r.at, Location::Access(_)))
            .map(|r| r.is_static());
        let now = self.exported.get(&(vni, mac)).copied();
        if wanted == now {
            return;
        }
        let Some(sync) = &self.sync else { return };
        match wanted {
            Some(is_static) => {
                self.exported.insert((vni, mac), is_static);
                sync.send(Command::ExportMac {
                    vni,
                    mac,
                    is_static,
                });
            }
            None => {
                self.exported.remove(&(vni, mac));
                sync.send(Command::WithdrawMac { vni, mac });
            }
        }
    }

    /// Exports a binding learned or configured here whose MAC is local.
    fn follow_binding(&mut self, index: VniIndex, ip: IpAddr, authority: &Authority) {
        let Some(&vni) = self.slots.get(&index) else {
            return;
        };
        let wanted = authority
            .binding(vni, ip)
            .map(|b| b.mac)
            .filter(|_| authority.binding_origin(vni, ip) != Some(Origin::Evpn))
            .filter(|mac| {
                authority
                    .mac(vni, *mac)
                    .is_some_and(|r| matches!(r.at, Location::Access(_)))
            });
        let now = self.exported_bindings.get(&(vni, ip)).copied();
        if wanted == now {
            return;
        }
        let Some(sync) = &self.sync else { return };
        match wanted {
            Some(mac) => {
                self.exported_bindings.insert((vni, ip), mac);
                sync.send(Command::ExportBinding { vni, ip, mac });
            }
            None => {
                self.exported_bindings.remove(&(vni, ip));
                sync.send(Command::WithdrawBinding { vni, ip });
            }
        }
    }

    pub fn namespace(&self) -> &str {
        self.namespace.as_ref().map(Namespace::name).unwrap_or("")
    }

    pub fn frr_running(&self) -> bool {
        self.sync
            .as_ref()
            .is_some_and(|s| s.counters.frr_running.load(Ordering::Relaxed))
    }

    /// The netlink thread's counters.
    pub fn counters(&self) -> Option<&netlink::SyncCounters> {
        self.sync.as_ref().map(|s| &*s.counters)
    }

    /// Local MACs exported in `vni`, sorted.
    pub fn exported_in(&self, vni: Vni) -> Vec<MacAddr> {
        let mut out: Vec<MacAddr> = self
            .exported
            .keys()
            .filter(|(v, _)| *v == vni)
            .map(|(_, m)| *m)
            .collect();
        out.sort();
        out
    }

    /// What crossed the exception path; None when BGP does not use it.
    pub fn exception_stats(&self) -> Option<ExceptionStats> {
        self.exception.as_ref().map(|e| e.counters.snapshot())
    }

    pub fn exported_count(&self) -> usize {
        self.exported.len()
    }
}

impl Drop for Evpn {
    /// Withdraws everything: the VNI devices go (zebra withdraws their routes), then the
    /// namespace, unless FRR still runs in it.
    fn drop(&mut self) {
        if let Some(sync) = self.sync.take() {
            sync.stop();
        }
        if let Some(e) = self.exception.take() {
            e.stop();
        }
        if let Some(ns) = self.namespace.take() {
            ns.close();
        }
    }
}
