//! The authoritative tables, owned by the management thread.
//!
//! Every control plane (configuration, learning reported by workers, the API, EVPN later)
//! changes the tables through these methods. Each returns the `Change`s it made: names of
//! objects whose state changed. The management thread renders each change into an `Update`
//! per worker at send time (`render`), so a burst of changes to one object collapses into
//! its latest state, and dependencies go out in order (a tunnel before the MACs behind it).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use crate::config::{Control, Encap, UnderlayConfig, VniConfig};
use crate::pipeline::encap::{OuterTemplate, TemplateParams};
use crate::wire::{MacAddr, Vni};

use super::binding::Binding;
use super::fdb::FdbEntry;
use super::tunnel::Tunnel;
use super::update::{Event, Location, Update};
use super::vni::{AccessMember, FloodTo, VniState};
use super::{Dest, FdbKey, PortIndex, TunnelId, VniIndex, MAX_TUNNELS, MAX_VNIS};

/// An object whose state changed; rendered into an `Update` when sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Change {
    Vni(VniIndex),
    Tunnel(TunnelId),
    Fdb(FdbKey),
    FdbFlush {
        vni: VniIndex,
        learned_only: bool,
    },
    Binding(VniIndex, IpAddr),
    /// A VRF's FIB (rebuilt whole when sent).
    Vrf(crate::tables::route::VrfIndex),
    /// The underlay multicast groups the VNIs flood to (the set, sent whole).
    Groups,
}

/// Why a table operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    #[error("VNI {0} is not configured")]
    UnknownVni(Vni),
    #[error("VNI {0} already exists")]
    VniExists(Vni),
    #[error("too many VNIs (at most {MAX_VNIS})")]
    TooManyVnis,
    #[error("too many tunnels (at most {MAX_TUNNELS})")]
    TooManyTunnels,
    #[error("{0} is a static entry")]
    Static(String),
    #[error("learning is disabled in VNI {0}")]
    LearningDisabled(Vni),
    #[error("VNI {0} reached its MAC limit")]
    MacLimit(Vni),
    #[error("the MAC table is full ({0} entries)")]
    FdbFull(usize),
    #[error("{0}: the underlay has no address of this family")]
    NoSourceAddress(IpAddr),
    #[error("no entry for {0}")]
    NotFound(String),
    #[error("VNI {0} is not under EVPN control")]
    NotEvpn(Vni),
    #[error("{0} is this gateway's own VTEP address")]
    OwnAddress(IpAddr),
}

mod evpn;
mod routing;

pub use evpn::EvpnStats;
pub use routing::{RouteInfo, RouteKind};

/// Who put an entry (a MAC or an IP binding) into the tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// Configuration or the API: never ages, never moves.
    Static,
    /// Seen by a worker (MAC learning, ARP/ND snooping): ages.
    Learned,
    /// A BGP EVPN route, through FRR: stays until the route is withdrawn.
    Evpn,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Static => "static",
            Origin::Learned => "learned",
            Origin::Evpn => "evpn",
        }
    }
}

/// One MAC as the management thread knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MacRecord {
    pub at: Location,
    pub origin: Origin,
    /// Management-clock seconds when traffic from it was last reported.
    pub last_seen: u64,
}

impl MacRecord {
    pub fn is_static(&self) -> bool {
        self.origin == Origin::Static
    }
}

#[derive(Debug, Clone)]
struct VniRecord {
    index: VniIndex,
    config: VniConfig,
    members: Vec<AccessMember>,
    /// Tunnels the flood list (or multicast group) holds a reference on.
    flood: FloodTo,
    /// VTEPs of the VNI's EVPN type 3 routes: flooded to with the configured `flood` list.
    evpn_flood: Vec<IpAddr>,
}

#[derive(Debug, Clone, Copy)]
struct TunnelRecord {
    id: TunnelId,
    /// Flood lists and MAC entries using this tunnel; removed at zero.
    refs: u32,
}

#[derive(Debug, Clone, Copy)]
struct BindingRecord {
    binding: Binding,
    origin: Origin,
    last_seen: u64,
}

/// Counters of what the management thread did to the tables.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct AuthorityStats {
    pub learned: u64,
    pub moved: u64,
    pub aged: u64,
    pub refused_static: u64,
    pub refused_limit: u64,
    pub refused_full: u64,
    pub bindings_snooped: u64,
    pub binding_spoof_refused: u64,
}

/// The authoritative tables.
#[derive(Debug, Clone)]
pub struct Authority {
    underlay: UnderlayConfig,
    underlay_mac: MacAddr,
    fdb_capacity: usize,
    vnis: BTreeMap<Vni, VniRecord>,
    vni_by_index: HashMap<VniIndex, Vni>,
    free_vni: Vec<VniIndex>,
    tunnels: HashMap<(IpAddr, Encap), TunnelRecord>,
    tunnel_by_id: HashMap<TunnelId, (IpAddr, Encap)>,
    free_tunnel: Vec<TunnelId>,
    next_tunnel: u32,
    fdb: HashMap<FdbKey, MacRecord>,
    learned_per_vni: HashMap<VniIndex, u32>,
    bindings: HashMap<(VniIndex, IpAddr), BindingRecord>,
    /// Resolved underlay neighbours (next hops and on-link VTEPs).
    neighbors: HashMap<IpAddr, MacAddr>,
    routing: routing::RoutingTables,
    pub stats: AuthorityStats,
    pub evpn_stats: EvpnStats,
}

impl Authority {
    pub fn new(underlay: UnderlayConfig, underlay_mac: MacAddr, fdb_capacity: usize) -> Authority {
        Authority {
            underlay,
            underlay_mac,
            fdb_capacity,
            vnis: BTreeMap::new(),
            vni_by_index: HashMap::new(),
            free_vni: (0..MAX_VNIS as u16).rev().map(VniIndex).collect(),
            tunnels: HashMap::new(),
            tunnel_by_id: HashMap::new(),
            free_tunnel: Vec::new(),
            next_tunnel: 0,
            fdb: HashMap::new(),
            learned_per_vni: HashMap::new(),
            bindings: HashMap::new(),
            neighbors: HashMap::new(),
            routing: routing::RoutingTables::default(),
            stats: AuthorityStats::default(),
            evpn_stats: EvpnStats::default(),
        }
    }

    pub fn underlay(&self) -> &UnderlayConfig {
        &self.underlay
    }

    pub fn vni_index(&self, id: Vni) -> Option<VniIndex> {
        self.vnis.get(&id).map(|r| r.index)
    }

    pub fn vni_id(&self, index: VniIndex) -> Option<Vni> {
        self.vni_by_index.get(&index).copied()
    }

    pub fn vni_config(&self, id: Vni) -> Option<&VniConfig> {
        self.vnis.get(&id).map(|r| &r.config)
    }

    /// The access ports carrying VNI `id`, as it was last given them.
    pub fn members_of(&self, id: Vni) -> Vec<AccessMember> {
        self.vnis
            .get(&id)
            .map(|r| r.members.clone())
            .unwrap_or_default()
    }

    pub fn vnis(&self) -> impl Iterator<Item = (&Vni, VniIndex, &VniConfig)> {
        self.vnis.iter().map(|(id, r)| (id, r.index, &r.config))
    }

    pub fn fdb(&self) -> impl Iterator<Item = (&FdbKey, &MacRecord)> {
        self.fdb.iter()
    }

    pub fn fdb_len(&self) -> usize {
        self.fdb.len()
    }

    pub fn bindings(&self) -> impl Iterator<Item = (&(VniIndex, IpAddr), &Binding)> {
        self.bindings.iter().map(|(k, r)| (k, &r.binding))
    }

    pub fn tunnels(&self) -> impl Iterator<Item = (TunnelId, IpAddr, Encap)> + '_ {
        self.tunnel_by_id.iter().map(|(id, (ip, e))| (*id, *ip, *e))
    }

    /// The tunnel to `remote` with `encap`, if one exists.
    pub fn tunnel_id(&self, remote: IpAddr, encap: Encap) -> Option<TunnelId> {
        self.tunnels.get(&(remote, encap)).map(|t| t.id)
    }

    /// The underlay multicast groups the VNIs flood to, each once, sorted.
    pub fn groups(&self) -> Vec<IpAddr> {
        let mut g: Vec<IpAddr> = self
            .vnis
            .values()
            .filter_map(|r| r.config.multicast_group)
            .collect();
        g.sort();
        g.dedup();
        g
    }

    /// `Change::Groups` when the groups are not `before` any more.
    fn groups_changed(&self, before: &[IpAddr], changes: &mut Vec<Change>) {
        if self.groups() != before {
            changes.push(Change::Groups);
        }
    }

    // --- VNIs -------------------------------------------------------------------------

    /// Adds a VNI carried on the given access ports. Its flood tunnels are created as needed.
    pub fn add_vni(
        &mut self,
        config: &VniConfig,
        members: Vec<AccessMember>,
    ) -> Result<Vec<Change>, TableError> {
        if self.vnis.contains_key(&config.id) {
            return Err(TableError::VniExists(config.id));
        }
        let index = self.free_vni.pop().ok_or(TableError::TooManyVnis)?;
        let groups = self.groups();
        let mut changes = Vec::new();
        let flood = match self.flood_tunnels(config, &[], &mut changes) {
            Ok(f) => f,
            Err(e) => {
                self.free_vni.push(index);
                return Err(e);
            }
        };
        self.vnis.insert(
            config.id,
            VniRecord {
                index,
                config: config.clone(),
                members,
                flood,
                evpn_flood: Vec::new(),
            },
        );
        self.vni_by_index.insert(index, config.id);
        changes.push(Change::Vni(index));
        self.routes_changed_by(config.id, None, &mut changes);
        self.groups_changed(&groups, &mut changes);
        Ok(changes)
    }

    /// Changes a VNI in place (flood list or group, allowlist, flags, VLAN and members),
    /// keeping its MAC table. A change of encapsulation re-creates it: its MACs sit behind
    /// tunnels of the old encapsulation.
    pub fn update_vni(
        &mut self,
        config: &VniConfig,
        members: Vec<AccessMember>,
    ) -> Result<Vec<Change>, TableError> {
        let (index, old_encap, old_control, evpn_flood) = match self.vnis.get(&config.id) {
            Some(r) => (
                r.index,
                r.config.encap,
                r.config.control,
                r.evpn_flood.clone(),
            ),
            None => return Err(TableError::UnknownVni(config.id)),
        };
        if old_encap != config.encap {
            let mut changes = self.remove_vni(config.id)?;
            changes.extend(self.add_vni(config, members)?);
            return Ok(changes);
        }
        // Leaving EVPN control drops what EVPN put in.
        let leaves_evpn = old_control == Control::Evpn && config.control != Control::Evpn;
        let evpn_flood = if leaves_evpn { Vec::new() } else { evpn_flood };
        // New flood tunnels first (a failure leaves everything as it was), then the VNI,
        // then the tunnels only the old flood list used.
        let groups = self.groups();
        let mut changes = Vec::new();
        let flood = self.flood_tunnels(config, &evpn_flood, &mut changes)?;
        let old_record = self.vnis.get(&config.id).cloned();
        let old_flood = match self.vnis.get_mut(&config.id) {
            Some(r) => {
                r.config = config.clone();
                r.members = members;
                r.evpn_flood = evpn_flood;
                std::mem::replace(&mut r.flood, flood)
            }
            None => return Err(TableError::UnknownVni(config.id)),
        };
        changes.push(Change::Vni(index));
        self.release_flood(&old_flood, &mut changes);
        if leaves_evpn {
            self.purge_evpn(index, &mut changes);
        }
        self.routes_changed_by(config.id, old_record.as_ref(), &mut changes);
        self.groups_changed(&groups, &mut changes);
        Ok(changes)
    }

    /// Removes a VNI with everything in it.
    pub fn remove_vni(&mut self, id: Vni) -> Result<Vec<Change>, TableError> {
        let groups = self.groups();
        let record = self.vnis.remove(&id).ok_or(TableError::UnknownVni(id))?;
        self.vni_by_index.remove(&record.index);
        let mut changes = vec![Change::Vni(record.index)];
        let keys: Vec<FdbKey> = self
            .fdb
            .keys()
            .filter(|k| k.vni() == record.index)
            .copied()
            .collect();
        for key in keys {
            if let Some(old) = self.fdb.remove(&key) {
                self.release_location(old.at, &mut changes);
            }
        }
        self.learned_per_vni.remove(&record.index);
        self.bindings.retain(|(v, _), _| *v != record.index);
        self.release_flood(&record.flood, &mut changes);
        self.free_vni.push(record.index);
        self.vrf_changes(&record, &mut changes);
        self.assign_route_slots();
        self.groups_changed(&groups, &mut changes);
        Ok(changes)
    }

    /// After VNI `id` was added or changed (it was `old`): the FIBs of its VRFs, old and new,
    /// are sent again and route counter slots follow.
    fn routes_changed_by(&mut self, id: Vni, old: Option<&VniRecord>, changes: &mut Vec<Change>) {
        if let Some(old) = old {
            self.vrf_changes(old, changes);
        }
        if let Some(new) = self.vnis.get(&id).cloned() {
            self.vrf_changes(&new, changes);
        }
        self.assign_route_slots();
    }

    /// The tunnels a VNI floods to: its group, or its `flood` list with the VTEPs EVPN
    /// added (`evpn_flood`), each once.
    fn flood_tunnels(
        &mut self,
        config: &VniConfig,
        evpn_flood: &[IpAddr],
        changes: &mut Vec<Change>,
    ) -> Result<FloodTo, TableError> {
        if let Some(group) = config.multicast_group {
            let id = self.acquire_tunnel(group, config.encap, changes)?;
            return Ok(FloodTo::Group(id));
        }
        let mut remotes: Vec<IpAddr> = config.flood.clone();
        for r in evpn_flood {
            if !remotes.contains(r) {
                remotes.push(*r);
            }
        }
        if remotes.is_empty() {
            return Ok(FloodTo::None);
        }
        let mut ids = Vec::with_capacity(remotes.len());
        for remote in &remotes {
            match self.acquire_tunnel(*remote, config.encap, changes) {
                Ok(id) => ids.push(id),
                Err(e) => {
                    self.release_flood(&FloodTo::Tunnels(ids), changes);
                    return Err(e);
                }
            }
        }
        Ok(FloodTo::Tunnels(ids))
    }

    fn release_flood(&mut self, flood: &FloodTo, changes: &mut Vec<Change>) {
        match flood {
            FloodTo::None => {}
            FloodTo::Group(id) => self.release_tunnel(*id, changes),
            FloodTo::Tunnels(ids) => {
                for id in ids {
                    self.release_tunnel(*id, changes);
                }
            }
        }
    }

    // --- Tunnels ----------------------------------------------------------------------

    fn acquire_tunnel(
        &mut self,
        remote: IpAddr,
        encap: Encap,
        changes: &mut Vec<Change>,
    ) -> Result<TunnelId, TableError> {
        if let Some(t) = self.tunnels.get_mut(&(remote, encap)) {
            t.refs = t.refs.saturating_add(1);
            return Ok(t.id);
        }
        if self.underlay.source_for(remote).is_none() {
            return Err(TableError::NoSourceAddress(remote));
        }
        let id = match self.free_tunnel.pop() {
            Some(id) => id,
            None => {
                if self.next_tunnel as usize >= MAX_TUNNELS {
                    return Err(TableError::TooManyTunnels);
                }
                let id = TunnelId(self.next_tunnel);
                self.next_tunnel = self.next_tunnel.wrapping_add(1);
                id
            }
        };
        self.tunnels
            .insert((remote, encap), TunnelRecord { id, refs: 1 });
        self.tunnel_by_id.insert(id, (remote, encap));
        changes.push(Change::Tunnel(id));
        Ok(id)
    }

    fn release_tunnel(&mut self, id: TunnelId, changes: &mut Vec<Change>) {
        let Some(key) = self.tunnel_by_id.get(&id).copied() else {
            return;
        };
        let Some(t) = self.tunnels.get_mut(&key) else {
            return;
        };
        t.refs = t.refs.saturating_sub(1);
        if t.refs == 0 {
            self.tunnels.remove(&key);
            self.tunnel_by_id.remove(&id);
            self.free_tunnel.push(id);
            changes.push(Change::Tunnel(id));
        }
    }

    /// The underlay neighbour whose MAC packets to `remote` are sent to; None for multicast
    /// groups (their MAC derives from the group) and with a fixed `next_hop_mac`.
    pub fn gateway_for(&self, remote: IpAddr) -> Option<IpAddr> {
        if remote.is_multicast() || self.underlay.next_hop_mac.is_some() {
            return None;
        }
        self.underlay.gateway_for(remote)
    }

    /// Every neighbour the current tunnels need resolved.
    pub fn gateways(&self) -> Vec<IpAddr> {
        let mut out: Vec<IpAddr> = self
            .tunnels
            .keys()
            .filter_map(|(remote, _)| self.gateway_for(*remote))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Records a resolved (Some) or lost (None) underlay neighbour; rebuilds the templates
    /// of the tunnels behind it.
    pub fn set_neighbor(&mut self, ip: IpAddr, mac: Option<MacAddr>) -> Vec<Change> {
        let changed = match mac {
            Some(m) => self.neighbors.insert(ip, m) != Some(m),
            None => self.neighbors.remove(&ip).is_some(),
        };
        if !changed {
            return Vec::new();
        }
        let mut ids: Vec<TunnelId> = self
            .tunnels
            .iter()
            .filter(|((remote, _), _)| self.gateway_for(*remote) == Some(ip))
            .map(|(_, t)| t.id)
            .collect();
        ids.sort();
        ids.into_iter().map(Change::Tunnel).collect()
    }

    pub fn neighbor(&self, ip: IpAddr) -> Option<MacAddr> {
        self.neighbors.get(&ip).copied()
    }

    fn tunnel_state(&self, remote: IpAddr, encap: Encap) -> Tunnel {
        let dst_mac = match remote {
            IpAddr::V4(g) if g.is_multicast() => Some(MacAddr::from_ipv4_multicast(g.octets())),
            IpAddr::V6(g) if g.is_multicast() => Some(MacAddr::from_ipv6_multicast(g.octets())),
            _ => self
                .underlay
                .next_hop_mac
                .or_else(|| self.neighbors.get(&self.gateway_for(remote)?).copied()),
        };
        let outer = dst_mac.and_then(|dst_mac| {
            OuterTemplate::build(&TemplateParams {
                src_mac: self.underlay_mac,
                dst_mac,
                src_ip: self.underlay.source_for(remote)?,
                dst_ip: remote,
                encap,
                ttl: self.underlay.ttl,
            })
        });
        Tunnel {
            remote,
            encap,
            outer,
        }
    }

    // --- MAC table --------------------------------------------------------------------

    fn location_dest(&mut self, at: Location, changes: &mut Vec<Change>) -> Result<(), TableError> {
        if let Location::Remote { vtep, encap } = at {
            self.acquire_tunnel(vtep, encap, changes)?;
        }
        Ok(())
    }

    fn release_location(&mut self, at: Location, changes: &mut Vec<Change>) {
        if let Location::Remote { vtep, encap } = at {
            if let Some(t) = self.tunnels.get(&(vtep, encap)) {
                let id = t.id;
                self.release_tunnel(id, changes);
            }
        }
    }

    fn count_learned(&mut self, vni: VniIndex, delta: i32) {
        let n = self.learned_per_vni.entry(vni).or_insert(0);
        *n = n.saturating_add_signed(delta);
    }

    /// Installs a static entry (configuration or API); replaces whatever was there.
    pub fn set_static_fdb(
        &mut self,
        vni: Vni,
        mac: MacAddr,
        at: Location,
    ) -> Result<Vec<Change>, TableError> {
        let index = self.vni_index(vni).ok_or(TableError::UnknownVni(vni))?;
        let key = FdbKey::new(index, mac);
        if !self.fdb.contains_key(&key) && self.fdb.len() >= self.fdb_capacity {
            return Err(TableError::FdbFull(self.fdb_capacity));
        }
        let mut changes = Vec::new();
        self.location_dest(at, &mut changes)?;
        let old = self.fdb.insert(
            key,
            MacRecord {
                at,
                origin: Origin::Static,
                last_seen: 0,
            },
        );
        if let Some(old) = old {
            if old.origin == Origin::Learned {
                self.count_learned(index, -1);
            }
            self.release_location(old.at, &mut changes);
        }
        changes.push(Change::Fdb(key));
        Ok(changes)
    }

    /// Removes an entry (static or learned).
    pub fn remove_fdb(&mut self, vni: Vni, mac: MacAddr) -> Result<Vec<Change>, TableError> {
        let index = self.vni_index(vni).ok_or(TableError::UnknownVni(vni))?;
        let key = FdbKey::new(index, mac);
        let old = self
            .fdb
            .remove(&key)
            .ok_or_else(|| TableError::NotFound(format!("{mac} in VNI {vni}")))?;
        if old.origin == Origin::Learned {
            self.count_learned(index, -1);
        }
        let mut changes = vec![Change::Fdb(key)];
        self.release_location(old.at, &mut changes);
        Ok(changes)
    }

    /// A worker's report about a MAC or a binding (learned, refreshed, snooped), applied; what
    /// must reach the workers is added to `changes`. Refusals (static entries, limits) are
    /// counted by the methods themselves. Returns the events that are not about the tables'
    /// own entries (neighbour answers, garbage) for the caller to handle.
    pub fn absorb(&mut self, ev: Event, now: u64, changes: &mut Vec<Change>) -> Option<Event> {
        match ev {
            Event::Learned { key, at } => {
                if let Ok(c) = self.learn(key, at, now) {
                    changes.extend(c);
                }
            }
            Event::Refreshed(key) => self.refresh(key, now),
            Event::Snooped { vni, ip, mac } => {
                if let Ok(c) = self.snoop(vni, ip, mac, now) {
                    changes.extend(c);
                }
            }
            other => return Some(other),
        }
        None
    }

    /// A worker saw `key` at `at`: a new entry or a move. Static entries never move.
    pub fn learn(
        &mut self,
        key: FdbKey,
        at: Location,
        now: u64,
    ) -> Result<Vec<Change>, TableError> {
        let vni = self
            .vni_id(key.vni())
            .ok_or(TableError::UnknownVni(Vni::from_u24(0)))?;
        let (learning, max_macs, control) = match self.vnis.get(&vni) {
            Some(r) => (r.config.learning, r.config.max_macs, r.config.control),
            None => return Err(TableError::UnknownVni(vni)),
        };
        // Under EVPN, MACs behind remote VTEPs come from the control plane only.
        let remote = matches!(at, Location::Remote { .. });
        if !learning || (control == Control::Evpn && remote) {
            return Err(TableError::LearningDisabled(vni));
        }
        match self.fdb.get_mut(&key) {
            Some(rec) if rec.is_static() => {
                self.stats.refused_static = self.stats.refused_static.wrapping_add(1);
                return Err(TableError::Static(format!("{} in VNI {vni}", key.mac())));
            }
            Some(rec) if rec.at == at => {
                rec.last_seen = now;
                return Ok(Vec::new());
            }
            Some(_) => {}
            None => {
                let learned = self.learned_per_vni.get(&key.vni()).copied().unwrap_or(0);
                if max_macs.is_some_and(|m| learned >= m) {
                    self.stats.refused_limit = self.stats.refused_limit.wrapping_add(1);
                    return Err(TableError::MacLimit(vni));
                }
                if self.fdb.len() >= self.fdb_capacity {
                    self.stats.refused_full = self.stats.refused_full.wrapping_add(1);
                    return Err(TableError::FdbFull(self.fdb_capacity));
                }
            }
        }
        let mut changes = Vec::new();
        self.location_dest(at, &mut changes)?;
        let old = self.fdb.insert(
            key,
            MacRecord {
                at,
                origin: Origin::Learned,
                last_seen: now,
            },
        );
        match old {
            Some(old) => {
                self.stats.moved = self.stats.moved.wrapping_add(1);
                if old.origin == Origin::Evpn {
                    // A MAC EVPN placed at a remote VTEP now talks on a local port: exported,
                    // it is advertised with a higher sequence (RFC 7432 §15).
                    self.evpn_stats.moved_local = self.evpn_stats.moved_local.wrapping_add(1);
                    self.count_learned(key.vni(), 1);
                }
                self.release_location(old.at, &mut changes);
            }
            None => {
                self.stats.learned = self.stats.learned.wrapping_add(1);
                self.count_learned(key.vni(), 1);
            }
        }
        // The entry goes out before any tunnel its old location released.
        let fdb_change = Change::Fdb(key);
        let pos = changes
            .iter()
            .position(|c| matches!(c, Change::Tunnel(id) if !self.tunnel_by_id.contains_key(id)))
            .unwrap_or(changes.len());
        changes.insert(pos, fdb_change);
        Ok(changes)
    }

    /// Traffic from `key` was seen: it does not age.
    pub fn refresh(&mut self, key: FdbKey, now: u64) {
        if let Some(rec) = self.fdb.get_mut(&key) {
            rec.last_seen = now;
        }
    }

    /// Removes learned entries and snooped bindings not seen for `max_age` seconds.
    pub fn expire(&mut self, now: u64, max_age: u64) -> Vec<Change> {
        let expired: Vec<FdbKey> = self
            .fdb
            .iter()
            .filter(|(_, r)| {
                r.origin == Origin::Learned && now.saturating_sub(r.last_seen) >= max_age
            })
            .map(|(k, _)| *k)
            .collect();
        let mut changes = Vec::new();
        for key in expired {
            if let Some(old) = self.fdb.remove(&key) {
                self.stats.aged = self.stats.aged.wrapping_add(1);
                self.count_learned(key.vni(), -1);
                changes.push(Change::Fdb(key));
                self.release_location(old.at, &mut changes);
            }
        }
        // A snooped binding lives as long as its MAC does: hosts do not repeat ARP/ND while
        // their entries are fresh, and the routing stage would lose a packet to every
        // binding that expired under traffic. Learned MACs past their age are gone by now.
        let stale: Vec<(VniIndex, IpAddr)> = self
            .bindings
            .iter()
            .filter(|((vni, _), r)| {
                r.origin == Origin::Learned
                    && now.saturating_sub(r.last_seen) >= max_age
                    && !self.fdb.contains_key(&FdbKey::new(*vni, r.binding.mac))
            })
            .map(|(k, _)| *k)
            .collect();
        for k in stale {
            self.bindings.remove(&k);
            changes.push(Change::Binding(k.0, k.1));
        }
        changes
    }

    /// Removes a VNI's learned entries (all entries with `learned_only` false).
    pub fn flush(&mut self, vni: Vni, learned_only: bool) -> Result<Vec<Change>, TableError> {
        let index = self.vni_index(vni).ok_or(TableError::UnknownVni(vni))?;
        let keys: Vec<FdbKey> = self
            .fdb
            .iter()
            .filter(|(k, r)| k.vni() == index && (!learned_only || r.origin == Origin::Learned))
            .map(|(k, _)| *k)
            .collect();
        let mut changes = vec![Change::FdbFlush {
            vni: index,
            learned_only,
        }];
        for key in keys {
            if let Some(old) = self.fdb.remove(&key) {
                if old.origin == Origin::Learned {
                    self.count_learned(index, -1);
                }
                self.release_location(old.at, &mut changes);
            }
        }
        Ok(changes)
    }

    pub fn mac(&self, vni: Vni, mac: MacAddr) -> Option<&MacRecord> {
        self.fdb.get(&FdbKey::new(self.vni_index(vni)?, mac))
    }

    pub fn learned_in(&self, vni: Vni) -> u32 {
        self.vni_index(vni)
            .and_then(|i| self.learned_per_vni.get(&i).copied())
            .unwrap_or(0)
    }

    // --- IP bindings --------------------------------------------------------------------

    pub fn set_static_binding(
        &mut self,
        vni: Vni,
        ip: IpAddr,
        mac: MacAddr,
    ) -> Result<Vec<Change>, TableError> {
        let index = self.vni_index(vni).ok_or(TableError::UnknownVni(vni))?;
        self.bindings.insert(
            (index, ip),
            BindingRecord {
                binding: Binding {
                    mac,
                    is_static: true,
                },
                origin: Origin::Static,
                last_seen: 0,
            },
        );
        Ok(vec![Change::Binding(index, ip)])
    }

    pub fn binding(&self, vni: Vni, ip: IpAddr) -> Option<&Binding> {
        self.bindings
            .get(&(self.vni_index(vni)?, ip))
            .map(|r| &r.binding)
    }

    pub fn binding_count(&self) -> usize {
        self.bindings.len()
    }

    pub fn tunnel_count(&self) -> usize {
        self.tunnels.len()
    }

    pub fn vni_count(&self) -> usize {
        self.vnis.len()
    }

    pub fn remove_binding(&mut self, vni: Vni, ip: IpAddr) -> Result<Vec<Change>, TableError> {
        let index = self.vni_index(vni).ok_or(TableError::UnknownVni(vni))?;
        self.bindings
            .remove(&(index, ip))
            .ok_or_else(|| TableError::NotFound(format!("{ip} in VNI {vni}")))?;
        Ok(vec![Change::Binding(index, ip)])
    }

    /// An ARP/ND exchange showed `ip` at `mac`. A static binding is never overwritten.
    pub fn snoop(
        &mut self,
        vni: VniIndex,
        ip: IpAddr,
        mac: MacAddr,
        now: u64,
    ) -> Result<Vec<Change>, TableError> {
        if !self.vni_by_index.contains_key(&vni) {
            return Ok(Vec::new());
        }
        match self.bindings.get_mut(&(vni, ip)) {
            Some(r) if r.binding.is_static => {
                if r.binding.mac != mac {
                    self.stats.binding_spoof_refused =
                        self.stats.binding_spoof_refused.wrapping_add(1);
                    return Err(TableError::Static(format!("{ip}")));
                }
                Ok(Vec::new())
            }
            Some(r) if r.binding.mac == mac => {
                r.last_seen = now;
                Ok(Vec::new())
            }
            _ => {
                if self.bindings.len() >= self.fdb_capacity {
                    return Err(TableError::FdbFull(self.fdb_capacity));
                }
                self.stats.bindings_snooped = self.stats.bindings_snooped.wrapping_add(1);
                self.bindings.insert(
                    (vni, ip),
                    BindingRecord {
                        binding: Binding {
                            mac,
                            is_static: false,
                        },
                        origin: Origin::Learned,
                        last_seen: now,
                    },
                );
                Ok(vec![Change::Binding(vni, ip)])
            }
        }
    }

    // --- Rendering ----------------------------------------------------------------------

    /// The current state of a changed object, as an update for one worker.
    pub fn render(&self, change: &Change) -> Update {
        match *change {
            Change::Vni(index) => {
                let state = self
                    .vni_by_index
                    .get(&index)
                    .and_then(|id| self.vnis.get(id))
                    .map(|r| {
                        Box::new(VniState {
                            id: r.config.id,
                            index: r.index,
                            encap: r.config.encap,
                            vxlan_port: r.config.vxlan_port.unwrap_or(self.underlay.vxlan_port),
                            learning: r.config.learning,
                            arp_suppression: r.config.arp_suppression,
                            flood: r.flood.clone(),
                            access: r.members.clone(),
                            allowed_vteps: r.config.allowed_vteps.clone(),
                            max_macs: r.config.max_macs,
                            bum_rate_pps: r.config.bum_rate_pps,
                            // EVPN VNIs learn from no remote VTEP: the control plane
                            // tells where remote MACs are.
                            learn_vteps: match r.config.control {
                                Control::Evpn => Some(Vec::new()),
                                Control::Static => r
                                    .config
                                    .learn_only_from_flood
                                    .then(|| r.config.flood.clone()),
                            },
                            routing: self.vni_routing(r),
                        })
                    });
                Update::Vni(index, state)
            }
            Change::Tunnel(id) => Update::Tunnel(
                id,
                self.tunnel_by_id
                    .get(&id)
                    .map(|(remote, encap)| Box::new(self.tunnel_state(*remote, *encap))),
            ),
            Change::Fdb(key) => match self.fdb.get(&key).and_then(|r| self.entry_for(r)) {
                Some(entry) => Update::FdbSet(key, entry),
                None => Update::FdbDel(key),
            },
            Change::FdbFlush { vni, learned_only } => Update::FdbFlush { vni, learned_only },
            Change::Binding(vni, ip) => match self.bindings.get(&(vni, ip)) {
                Some(r) => Update::BindingSet(vni, ip, r.binding),
                None => Update::BindingDel(vni, ip),
            },
            Change::Vrf(index) => Update::Vrf(index, self.render_fib(index)),
            Change::Groups => Update::Groups(self.groups().into_boxed_slice()),
        }
    }

    fn entry_for(&self, r: &MacRecord) -> Option<FdbEntry> {
        let dest = match r.at {
            Location::Access(p) => Dest::Access(p),
            Location::Remote { vtep, encap } => Dest::Tunnel(self.tunnels.get(&(vtep, encap))?.id),
        };
        Some(if r.is_static() {
            FdbEntry::fixed(dest)
        } else {
            FdbEntry::learned(dest, 0)
        })
    }

    /// Every object, in dependency order: what a new replica needs.
    pub fn all(&self) -> Vec<Change> {
        let mut out: Vec<Change> = Vec::new();
        let mut tunnels: Vec<TunnelId> = self.tunnel_by_id.keys().copied().collect();
        tunnels.sort();
        out.extend(tunnels.into_iter().map(Change::Tunnel));
        out.extend(self.vnis.values().map(|r| Change::Vni(r.index)));
        out.extend(self.fdb.keys().map(|k| Change::Fdb(*k)));
        out.extend(self.bindings.keys().map(|(v, ip)| Change::Binding(*v, *ip)));
        out.extend(self.vrfs().into_iter().map(|(_, _, i)| Change::Vrf(i)));
        out
    }

    /// A worker's replica of the current tables, for `ports` ports.
    pub fn replica(&self, ports: usize, fdb_capacity: usize) -> super::replica::Replica {
        let mut r = super::replica::Replica::new(ports, fdb_capacity, self.underlay.vxlan_port);
        for c in self.all() {
            r.apply(self.render(&c), 0);
        }
        r
    }
}

/// Which access ports carry a VNI, and how: natively (untagged) where the port's
/// `untagged_vni` is this VNI, else tagged with the VNI's VLAN (if it has one).
pub fn members(vni: &VniConfig, access_ports: &[(PortIndex, Option<Vni>)]) -> Vec<AccessMember> {
    access_ports
        .iter()
        .filter_map(|(port, untagged)| {
            if *untagged == Some(vni.id) {
                Some(AccessMember::native(*port, vni.vlan))
            } else {
                vni.vlan.map(|v| AccessMember::tagged(*port, v))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DscpPolicy, IpCidr};
    use crate::tables::replica::Replica;

    fn underlay() -> UnderlayConfig {
        UnderlayConfig {
            port: "u".into(),
            addresses: vec![IpCidr {
                addr: "10.0.0.1".parse().unwrap(),
                prefix: 24,
            }],
            next_hops: vec![],
            next_hop_mac: None,
            mtu: 1500,
            vxlan_port: 4789,
            ttl: 64,
            dscp: DscpPolicy::Inherit,
            source_ports: (49152, 65535),
            neighbor_timeout_secs: 300,
        }
    }

    pub(super) fn vni(id: u32, flood: &[&str]) -> VniConfig {
        VniConfig {
            id: Vni::new(id).unwrap(),
            encap: Encap::Vxlan,
            vlan: Some(100),
            flood: flood.iter().map(|s| s.parse().unwrap()).collect(),
            multicast_group: None,
            vxlan_port: None,
            learning: true,
            arp_suppression: false,
            allowed_vteps: None,
            max_macs: None,
            bum_rate_pps: None,
            learn_only_from_flood: false,
            control: Control::Static,
            vrf: None,
            gateways: Vec::new(),
            l3: false,
        }
    }

    pub(super) fn mac(n: u8) -> MacAddr {
        MacAddr([2, 0, 0, 0, 0, n])
    }

    pub(super) fn remote(ip: &str) -> Location {
        Location::Remote {
            vtep: ip.parse().unwrap(),
            encap: Encap::Vxlan,
        }
    }

    pub(super) fn authority() -> Authority {
        Authority::new(underlay(), mac(0xaa), 1024)
    }

    fn replica_of(a: &Authority) -> Replica {
        a.replica(4, 1024)
    }

    #[test]
    fn vni_with_flood_list_creates_tunnels_first() {
        let mut a = authority();
        let v = vni(5000, &["10.0.0.2", "10.0.0.3"]);
        let changes = a.add_vni(&v, members(&v, &[(1, None)])).unwrap();
        assert_eq!(changes.len(), 3);
        assert!(matches!(changes[0], Change::Tunnel(_)));
        assert!(matches!(changes[2], Change::Vni(_)));
        let r = replica_of(&a);
        let idx = a.vni_index(v.id).unwrap();
        assert_eq!(r.vnis.for_access(1, Some(100)), Some(idx));
        assert_eq!(r.tunnels.len(), 2);
        // Unresolved next hop: the template waits for ARP.
        let t = r
            .tunnels
            .find("10.0.0.2".parse().unwrap(), Encap::Vxlan)
            .unwrap();
        assert!(r.tunnels.get(t).unwrap().outer.is_none());
        assert_eq!(
            a.gateways().len(),
            2,
            "on-link remotes are their own gateways"
        );
    }

    #[test]
    fn neighbor_resolution_rebuilds_templates() {
        let mut a = authority();
        let v = vni(5000, &["10.0.0.2"]);
        a.add_vni(&v, vec![]).unwrap();
        let changes = a.set_neighbor("10.0.0.2".parse().unwrap(), Some(mac(2)));
        assert_eq!(changes.len(), 1);
        let r = replica_of(&a);
        let (_, t) = r.tunnels.iter().next().unwrap();
        assert_eq!(t.outer.unwrap().dst_mac(), mac(2));
        assert!(a
            .set_neighbor("10.0.0.2".parse().unwrap(), Some(mac(2)))
            .is_empty());
    }

    #[test]
    fn learning_moves_and_ages() {
        let mut a = authority();
        let v = vni(5000, &[]);
        a.add_vni(&v, vec![]).unwrap();
        let key = FdbKey::new(a.vni_index(v.id).unwrap(), mac(9));
        let c = a.learn(key, Location::Access(1), 10).unwrap();
        assert_eq!(c, vec![Change::Fdb(key)]);
        assert_eq!(a.stats.learned, 1);
        // Move behind a remote VTEP: the tunnel is created before the entry goes out.
        let c = a.learn(key, remote("10.0.0.7"), 11).unwrap();
        assert!(matches!(c[0], Change::Tunnel(_)));
        assert_eq!(c[1], Change::Fdb(key));
        assert_eq!(a.stats.moved, 1);
        // Same place again: nothing to send.
        assert!(a.learn(key, remote("10.0.0.7"), 12).unwrap().is_empty());
        assert!(a.expire(100, 300).is_empty());
        let c = a.expire(400, 300);
        assert_eq!(c[0], Change::Fdb(key));
        assert!(
            matches!(c[1], Change::Tunnel(_)),
            "the learned tunnel goes with its last MAC"
        );
        assert_eq!(a.stats.aged, 1);
        assert_eq!(a.learned_in(v.id), 0);
        assert!(a.tunnels().next().is_none());
    }

    #[test]
    fn a_snooped_binding_lives_as_long_as_its_mac() {
        let mut a = authority();
        let v = vni(5000, &[]);
        a.add_vni(&v, vec![]).unwrap();
        let index = a.vni_index(v.id).unwrap();
        let key = FdbKey::new(index, mac(9));
        let ip: IpAddr = "192.168.1.9".parse().unwrap();
        a.learn(key, Location::Access(1), 10).unwrap();
        a.snoop(index, ip, mac(9), 10).unwrap();
        // The host keeps sending (its MAC is refreshed) but never ARPs again.
        a.refresh(key, 350);
        assert!(
            a.expire(400, 300).is_empty(),
            "the binding went with a live MAC"
        );
        assert_eq!(a.bindings_of(v.id).len(), 1);
        // The host goes quiet: its MAC ages, and the binding with it.
        let c = a.expire(700, 300);
        assert!(c.contains(&Change::Fdb(key)), "{c:?}");
        assert!(c.contains(&Change::Binding(index, ip)), "{c:?}");
    }

    #[test]
    fn static_entries_never_move_or_age() {
        let mut a = authority();
        let v = vni(5000, &[]);
        a.add_vni(&v, vec![]).unwrap();
        a.set_static_fdb(v.id, mac(1), remote("10.0.0.2")).unwrap();
        let key = FdbKey::new(a.vni_index(v.id).unwrap(), mac(1));
        assert!(matches!(
            a.learn(key, Location::Access(1), 5),
            Err(TableError::Static(_))
        ));
        assert!(a.expire(1_000_000, 1).is_empty());
        assert_eq!(a.mac(v.id, mac(1)).unwrap().at, remote("10.0.0.2"));
    }

    #[test]
    fn mac_limit_is_per_vni() {
        let mut a = authority();
        let mut v1 = vni(1, &[]);
        v1.max_macs = Some(2);
        let mut v2 = vni(2, &[]);
        v2.vlan = Some(200);
        a.add_vni(&v1, vec![]).unwrap();
        a.add_vni(&v2, vec![]).unwrap();
        let i1 = a.vni_index(v1.id).unwrap();
        let i2 = a.vni_index(v2.id).unwrap();
        a.learn(FdbKey::new(i1, mac(1)), Location::Access(1), 0)
            .unwrap();
        a.learn(FdbKey::new(i1, mac(2)), Location::Access(1), 0)
            .unwrap();
        assert_eq!(
            a.learn(FdbKey::new(i1, mac(3)), Location::Access(1), 0),
            Err(TableError::MacLimit(v1.id))
        );
        assert!(a
            .learn(FdbKey::new(i2, mac(3)), Location::Access(1), 0)
            .is_ok());
        assert_eq!(a.stats.refused_limit, 1);
    }

    #[test]
    fn static_binding_resists_snooping() {
        let mut a = authority();
        let v = vni(5000, &[]);
        a.add_vni(&v, vec![]).unwrap();
        let ip: IpAddr = "192.168.1.10".parse().unwrap();
        a.set_static_binding(v.id, ip, mac(1)).unwrap();
        let idx = a.vni_index(v.id).unwrap();
        assert!(a.snoop(idx, ip, mac(6), 0).is_err());
        assert_eq!(a.stats.binding_spoof_refused, 1);
        let other: IpAddr = "192.168.1.11".parse().unwrap();
        assert_eq!(
            a.snoop(idx, other, mac(6), 0).unwrap(),
            vec![Change::Binding(idx, other)]
        );
        let r = replica_of(&a);
        assert_eq!(r.bindings.get(idx, ip).unwrap().mac, mac(1));
        assert_eq!(r.bindings.get(idx, other).unwrap().mac, mac(6));
    }

    #[test]
    fn removing_a_vni_releases_its_tunnels_and_slot() {
        let mut a = authority();
        let v = vni(5000, &["10.0.0.2"]);
        a.add_vni(&v, vec![]).unwrap();
        let idx = a.vni_index(v.id).unwrap();
        a.learn(FdbKey::new(idx, mac(4)), remote("10.0.0.2"), 0)
            .unwrap();
        let c = a.remove_vni(v.id).unwrap();
        assert!(c.contains(&Change::Vni(idx)));
        assert!(c.iter().any(|c| matches!(c, Change::Tunnel(_))));
        assert!(a.tunnels().next().is_none());
        assert_eq!(a.fdb_len(), 0);
        let again = a.add_vni(&v, vec![]).unwrap();
        assert!(!again.is_empty());
    }

    #[test]
    fn updating_a_vni_keeps_its_macs_and_swaps_tunnels() {
        let mut a = authority();
        let v = vni(5000, &["10.0.0.2", "10.0.0.3"]);
        a.add_vni(&v, vec![]).unwrap();
        let idx = a.vni_index(v.id).unwrap();
        a.learn(FdbKey::new(idx, mac(1)), Location::Access(1), 0)
            .unwrap();
        let v2 = vni(5000, &["10.0.0.3", "10.0.0.4"]);
        let c = a.update_vni(&v2, vec![]).unwrap();
        let created = c
            .iter()
            .position(|c| matches!(c, Change::Tunnel(_)))
            .unwrap();
        let vni_at = c.iter().position(|c| *c == Change::Vni(idx)).unwrap();
        assert!(created < vni_at, "new tunnel before the VNI: {c:?}");
        assert!(
            matches!(c.last(), Some(Change::Tunnel(_))),
            "released tunnel last: {c:?}"
        );
        assert_eq!(a.vni_index(v.id), Some(idx), "same slot");
        assert!(a.mac(v.id, mac(1)).is_some(), "MACs kept");
        let remotes: Vec<IpAddr> = a.tunnels().map(|(_, ip, _)| ip).collect();
        assert_eq!(remotes.len(), 2);
        assert!(!remotes.contains(&"10.0.0.2".parse().unwrap()));
        let mut nv = v2.clone();
        nv.encap = Encap::Nvgre;
        nv.id = Vni::new(5000).unwrap();
        a.update_vni(&nv, vec![]).unwrap();
        assert!(
            a.mac(v.id, mac(1)).is_none(),
            "new encapsulation, new MAC table"
        );
        assert_eq!(a.vni_config(v.id).unwrap().encap, Encap::Nvgre);
    }

    #[test]
    fn multicast_group_needs_no_resolution() {
        let mut a = authority();
        let mut v = vni(5000, &[]);
        v.multicast_group = Some("239.1.1.1".parse().unwrap());
        a.add_vni(&v, vec![]).unwrap();
        assert!(a.gateways().is_empty());
        let r = replica_of(&a);
        let (_, t) = r.tunnels.iter().next().unwrap();
        assert_eq!(t.outer.unwrap().dst_mac(), MacAddr([1, 0, 0x5e, 1, 1, 1]));
    }

    #[test]
    fn the_groups_follow_the_vnis() {
        let mut a = authority();
        let group = |v: &mut VniConfig, g: &str| v.multicast_group = Some(g.parse().unwrap());
        let (mut v1, mut v2) = (vni(5000, &[]), vni(5001, &[]));
        group(&mut v1, "239.1.1.1");
        group(&mut v2, "239.1.1.1");
        assert!(a.add_vni(&v1, vec![]).unwrap().contains(&Change::Groups));
        // A second VNI on the same group changes no group.
        assert!(!a.add_vni(&v2, vec![]).unwrap().contains(&Change::Groups));
        group(&mut v2, "239.1.1.2");
        assert!(a.update_vni(&v2, vec![]).unwrap().contains(&Change::Groups));
        let want: Vec<IpAddr> = vec!["239.1.1.1".parse().unwrap(), "239.1.1.2".parse().unwrap()];
        assert_eq!(a.groups(), want);
        assert!(a.remove_vni(v2.id).unwrap().contains(&Change::Groups));
        assert_eq!(a.groups(), want[..1].to_vec());
        // Flood lists are not groups.
        assert!(!a
            .add_vni(&vni(5002, &["10.0.0.2"]), vec![])
            .unwrap()
            .contains(&Change::Groups));
    }
}
