//! The authority's side of the L3 gateway: tenant VRFs, their routes (each VNI gateway's
//! subnet, connected, and the static `[[route]]`s), and the FIB every worker gets per VRF.
//!
//! Routes are not objects of their own on the way to the workers: any change that touches a
//! VRF (a VNI joining or leaving it, a gateway address, a static route) marks the VRF, and
//! its FIB is rebuilt whole when the change is sent (`render`), so a burst of changes costs
//! one rebuild per VRF. Route counter slots stay with their (VRF, prefix) across rebuilds.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use crate::config::{IpCidr, RemoteHop, RoutingConfig, StaticRoute};
use crate::tables::route::{Fib, NextHop, Route, RouteSlot, VrfIndex, MAX_ROUTES, MAX_VRFS};
use crate::tables::vni::VniRouting;
use crate::tables::TunnelId;

use super::{Authority, Change, VniRecord};

/// Where a route comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteKind {
    /// A VNI's gateway subnet.
    Connected,
    /// A `[[route]]`.
    Static,
}

/// One route as the management plane shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    pub vrf: String,
    pub vrf_index: VrfIndex,
    pub prefix: IpCidr,
    pub kind: RouteKind,
    /// The VNI the next hop is in (None: `via` is on no subnet of the VRF now, so the
    /// route is not installed).
    pub vni: Option<crate::wire::Vni>,
    /// The router a static route goes through.
    pub via: Option<IpAddr>,
    /// The VRF a leaked route continues in, and its slot (None: not defined now).
    pub next_vrf: Option<(String, Option<VrfIndex>)>,
    /// The VTEP and router MAC a route through the L3VNI (`vni`) goes to.
    pub remote: Option<RemoteHop>,
    /// Counter slot (None: not installed).
    pub slot: Option<RouteSlot>,
}

impl RouteInfo {
    /// Whether the route leads somewhere now: a VNI of its VRF, or a VRF that exists.
    fn has_next_hop(&self) -> bool {
        self.vni.is_some() || self.next_vrf.as_ref().is_some_and(|n| n.1.is_some())
    }
}

/// Routing state: the configuration in force, VRF slots and route counter slots.
#[derive(Debug, Clone)]
pub(super) struct RoutingTables {
    config: Option<RoutingConfig>,
    vrfs: BTreeMap<String, VrfIndex>,
    free_vrf: Vec<VrfIndex>,
    slots: HashMap<(VrfIndex, IpCidr), RouteSlot>,
    free_slot: Vec<RouteSlot>,
    /// The tunnel each VTEP that routes lead to (one reference on it per VTEP).
    tunnels: BTreeMap<IpAddr, TunnelId>,
}

impl Default for RoutingTables {
    fn default() -> Self {
        RoutingTables {
            config: None,
            vrfs: BTreeMap::new(),
            free_vrf: (0..MAX_VRFS as u16).rev().map(VrfIndex).collect(),
            slots: HashMap::new(),
            free_slot: (0..MAX_ROUTES as u16).rev().map(RouteSlot).collect(),
            tunnels: BTreeMap::new(),
        }
    }
}

impl RoutingTables {
    pub(super) fn index(&self, name: &str) -> Option<VrfIndex> {
        self.vrfs.get(name).copied()
    }
}

impl Authority {
    /// The routing configuration in force (None: bridging only).
    pub fn routing(&self) -> Option<&RoutingConfig> {
        self.routing.config.as_ref()
    }

    /// Every VRF: name, id and slot.
    pub fn vrfs(&self) -> Vec<(String, u32, VrfIndex)> {
        let Some(c) = &self.routing.config else {
            return Vec::new();
        };
        c.vrfs
            .iter()
            .filter_map(|v| Some((v.name.clone(), v.id, self.routing.index(&v.name)?)))
            .collect()
    }

    /// Installs a routing configuration (at start and on reload): VRFs keep their slots by
    /// name, new ones get one, removed ones are emptied; VNIs whose VRF slot changed and
    /// every VRF's FIB are sent again.
    pub fn set_routing(&mut self, config: Option<RoutingConfig>) -> Vec<Change> {
        let mut changes = Vec::new();
        let wanted: Vec<String> = config
            .as_ref()
            .map(|c| c.vrfs.iter().map(|v| v.name.clone()).collect())
            .unwrap_or_default();
        // New VRFs take their slots before the removed ones give theirs back, so no slot
        // passes from one VRF to another within one change: a worker sees it empty first,
        // and the new VRF's counters start from zero.
        for name in &wanted {
            if !self.routing.vrfs.contains_key(name) {
                if let Some(index) = self.routing.free_vrf.pop() {
                    self.routing.vrfs.insert(name.clone(), index);
                }
            }
        }
        let gone: Vec<String> = self
            .routing
            .vrfs
            .keys()
            .filter(|n| !wanted.contains(n))
            .cloned()
            .collect();
        for name in gone {
            if let Some(index) = self.routing.vrfs.remove(&name) {
                self.routing.free_vrf.push(index);
                changes.push(Change::Vrf(index));
            }
        }
        self.routing.config = config;
        self.sync_route_tunnels(&mut changes);
        // A VNI's state names its VRF's slot: send every routed VNI again.
        changes.extend(
            self.vnis
                .values()
                .filter(|r| r.config.vrf.is_some())
                .map(|r| Change::Vni(r.index)),
        );
        changes.extend(self.routing.vrfs.values().map(|i| Change::Vrf(*i)));
        self.assign_route_slots();
        changes
    }

    /// Holds one tunnel reference per VTEP the routes lead to, acquiring new ones before
    /// releasing those no route needs, so a tunnel that stays keeps its slot.
    fn sync_route_tunnels(&mut self, changes: &mut Vec<Change>) {
        let wanted: std::collections::BTreeSet<IpAddr> = self
            .routing
            .config
            .iter()
            .flat_map(|c| c.routes.iter())
            .filter_map(|r| r.remote().map(|h| h.vtep))
            .collect();
        for vtep in &wanted {
            if self.routing.tunnels.contains_key(vtep) {
                continue;
            }
            match self.acquire_tunnel(*vtep, crate::config::Encap::Vxlan, changes) {
                Ok(id) => {
                    self.routing.tunnels.insert(*vtep, id);
                }
                // Checked by the configuration: a route without its tunnel is not installed.
                Err(e) => tracing::warn!("routes to VTEP {vtep}: no tunnel ({e})"),
            }
        }
        let gone: Vec<(IpAddr, TunnelId)> = self
            .routing
            .tunnels
            .iter()
            .filter(|(v, _)| !wanted.contains(v))
            .map(|(v, t)| (*v, *t))
            .collect();
        for (vtep, id) in gone {
            self.routing.tunnels.remove(&vtep);
            self.release_tunnel(id, changes);
        }
    }

    /// The L3VNI of VRF `vrf`, if it has one.
    fn l3vni_of(&self, vrf: &str) -> Option<&VniRecord> {
        self.vnis
            .values()
            .find(|r| r.config.l3 && r.config.vrf.as_deref() == Some(vrf))
    }

    /// The VRF changes a VNI's (old or new) configuration makes.
    pub(super) fn vrf_changes(&self, record: &VniRecord, changes: &mut Vec<Change>) {
        if let Some(index) = record
            .config
            .vrf
            .as_deref()
            .and_then(|n| self.routing.index(n))
        {
            if !changes.contains(&Change::Vrf(index)) {
                changes.push(Change::Vrf(index));
            }
        }
    }

    /// What a worker's VNI state holds of its VRF.
    pub(super) fn vni_routing(&self, record: &VniRecord) -> Option<VniRouting> {
        let vrf = self.routing.index(record.config.vrf.as_deref()?)?;
        Some(VniRouting {
            vrf,
            gateways: record.config.gateways.clone(),
            l3: record.config.l3,
        })
    }

    /// Every route the configuration and the VNIs make, installed or not.
    pub fn routes(&self) -> Vec<RouteInfo> {
        let mut out = Vec::new();
        let Some(config) = &self.routing.config else {
            return out;
        };
        for v in &config.vrfs {
            let Some(index) = self.routing.index(&v.name) else {
                continue;
            };
            for r in self.vnis.values() {
                if r.config.vrf.as_deref() != Some(v.name.as_str()) {
                    continue;
                }
                for g in &r.config.gateways {
                    let prefix = g.network();
                    out.push(RouteInfo {
                        vrf: v.name.clone(),
                        vrf_index: index,
                        prefix,
                        kind: RouteKind::Connected,
                        vni: Some(r.config.id),
                        via: None,
                        next_vrf: None,
                        remote: None,
                        slot: self.routing.slots.get(&(index, prefix)).copied(),
                    });
                }
            }
            for s in config.routes.iter().filter(|s| s.vrf == v.name) {
                let remote = s.remote();
                let vni = match remote {
                    // Installed once its L3VNI and its tunnel exist.
                    Some(h) => self
                        .l3vni_of(&v.name)
                        .filter(|_| self.routing.tunnels.contains_key(&h.vtep))
                        .map(|r| r.config.id),
                    None => self.next_hop_vni(&v.name, s).map(|r| r.config.id),
                };
                let next_vrf = s.next_vrf().map(|n| (n.to_owned(), self.routing.index(n)));
                let mut route = RouteInfo {
                    vrf: v.name.clone(),
                    vrf_index: index,
                    prefix: s.prefix,
                    kind: RouteKind::Static,
                    vni,
                    via: s.via(),
                    next_vrf,
                    remote,
                    slot: None,
                };
                if route.has_next_hop() {
                    route.slot = self.routing.slots.get(&(index, s.prefix)).copied();
                }
                out.push(route);
            }
        }
        out
    }

    /// The VNI of `vrf` whose gateway subnet holds a static route's next hop.
    fn next_hop_vni(&self, vrf: &str, route: &StaticRoute) -> Option<&VniRecord> {
        let via = route.via()?;
        self.vnis.values().find(|r| {
            r.config.vrf.as_deref() == Some(vrf)
                && r.config.gateways.iter().any(|g| g.contains(via))
        })
    }

    /// Gives every route a counter slot, keeping those it had; frees the slots of routes
    /// gone. Called after any change to VNIs or routing.
    pub(super) fn assign_route_slots(&mut self) {
        let wanted: std::collections::HashSet<(VrfIndex, IpCidr)> = self
            .routes()
            .into_iter()
            .filter(RouteInfo::has_next_hop)
            .map(|r| (r.vrf_index, r.prefix))
            .collect();
        // New routes take their slots before removed ones give theirs back (as for VRFs),
        // so a worker never finds a reused slot in the FIB it already holds.
        for k in &wanted {
            if !self.routing.slots.contains_key(k) {
                // Past MAX_ROUTES a route is still installed, sharing the last slot's
                // counters (documented: counters are per route up to that many).
                let slot = self
                    .routing
                    .free_slot
                    .pop()
                    .unwrap_or(RouteSlot((MAX_ROUTES - 1) as u16));
                self.routing.slots.insert(*k, slot);
            }
        }
        let stale: Vec<(VrfIndex, IpCidr)> = self
            .routing
            .slots
            .keys()
            .filter(|k| !wanted.contains(k))
            .copied()
            .collect();
        for k in stale {
            if let Some(slot) = self.routing.slots.remove(&k) {
                // The shared last slot goes back once, with its last holder.
                let shared = slot.slot() == MAX_ROUTES - 1;
                if !shared || !self.routing.slots.values().any(|s| *s == slot) {
                    self.routing.free_slot.push(slot);
                }
            }
        }
    }

    /// The FIB of VRF `index` as it is now (None: no such VRF).
    pub(super) fn render_fib(&self, index: VrfIndex) -> Option<Box<Fib>> {
        let name = self
            .routing
            .vrfs
            .iter()
            .find(|(_, i)| **i == index)
            .map(|(n, _)| n.as_str())?;
        let mut fib = Fib::default();
        let mut routes: Vec<RouteInfo> = self
            .routes()
            .into_iter()
            .filter(|r| r.vrf == name)
            .collect();
        // A connected subnet wins over a static route to the same prefix.
        routes.sort_by_key(|r| r.kind == RouteKind::Connected);
        for r in routes {
            let Some(slot) = r.slot else {
                continue;
            };
            let next_hop = if let Some((_, Some(target))) = r.next_vrf {
                NextHop::Vrf(target)
            } else {
                let Some(vni) = r.vni.and_then(|v| self.vni_index(v)) else {
                    continue;
                };
                match (r.via, r.remote) {
                    (_, Some(h)) => {
                        let Some(tunnel) = self.routing.tunnels.get(&h.vtep).copied() else {
                            continue;
                        };
                        NextHop::Remote {
                            vni,
                            tunnel,
                            router_mac: h.router_mac,
                        }
                    }
                    (None, None) => NextHop::Connected(vni),
                    (Some(ip), None) => NextHop::Via { vni, ip },
                }
            };
            fib.insert(r.prefix.addr, r.prefix.prefix, Route { next_hop, slot });
        }
        Some(Box::new(fib))
    }
}
