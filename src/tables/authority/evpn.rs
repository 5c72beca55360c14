//! What BGP EVPN routes (through FRR's zebra and the namespace's bridge tables) change in the
//! authoritative tables: remote MACs from type 2 routes, flood lists from type 3, IP
//! bindings from type 2 MAC/IP routes.
//!
//! The rules, RFC 7432 §15 as FRR applies them: FRR decides which location of a MAC wins
//! (sequence numbers, duplicate detection); a route it installs moves a learned MAC away, a
//! MAC learned on a local port moves an EVPN one back (and is exported, so FRR advertises it
//! with a higher sequence). Static entries never move and are never replaced by a route.

use std::net::IpAddr;

use super::{Authority, BindingRecord, Change, MacRecord, Origin, TableError};
use crate::config::{Control, Encap};
use crate::tables::binding::Binding;
use crate::tables::update::Location;
use crate::tables::{FdbKey, VniIndex};
use crate::wire::{MacAddr, Vni};

/// Counters of what EVPN did to the tables.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct EvpnStats {
    /// Remote MACs installed or moved to another VTEP by type 2 routes.
    pub macs_installed: u64,
    /// Remote MACs removed because their route was withdrawn.
    pub macs_withdrawn: u64,
    /// Learned local MACs a route moved to a remote VTEP.
    pub moved_remote: u64,
    /// EVPN MACs seen on a local port (moved back, exported with a higher sequence).
    pub moved_local: u64,
    /// Routes for a MAC or binding that is static here: the static entry stays.
    pub refused_static: u64,
    /// Changes of a VNI's flood list from type 3 routes.
    pub flood_updates: u64,
    pub bindings_installed: u64,
    pub bindings_withdrawn: u64,
}

impl Authority {
    /// The slot of `vni` when it exists and is under EVPN control.
    pub fn evpn_vni(&self, vni: Vni) -> Result<VniIndex, TableError> {
        match self.vnis.get(&vni) {
            Some(r) if r.config.control == Control::Evpn => Ok(r.index),
            Some(_) => Err(TableError::NotEvpn(vni)),
            None => Err(TableError::UnknownVni(vni)),
        }
    }

    /// One MAC entry by its key.
    pub fn fdb_record(&self, key: FdbKey) -> Option<&MacRecord> {
        self.fdb.get(&key)
    }

    /// Every VNI under EVPN control.
    pub fn evpn_vnis(&self) -> impl Iterator<Item = Vni> + '_ {
        self.vnis
            .values()
            .filter(|r| r.config.control == Control::Evpn)
            .map(|r| r.config.id)
    }

    /// A type 2 route: `mac` in `vni` is behind `vtep`.
    pub fn set_evpn_mac(
        &mut self,
        vni: Vni,
        mac: MacAddr,
        vtep: IpAddr,
    ) -> Result<Vec<Change>, TableError> {
        let index = self.evpn_vni(vni)?;
        if self.underlay.is_local(vtep) {
            return Err(TableError::OwnAddress(vtep));
        }
        let key = FdbKey::new(index, mac);
        let at = Location::Remote {
            vtep,
            encap: Encap::Vxlan,
        };
        match self.fdb.get(&key) {
            Some(r) if r.is_static() => {
                self.evpn_stats.refused_static = self.evpn_stats.refused_static.wrapping_add(1);
                return Err(TableError::Static(format!("{mac} in VNI {vni}")));
            }
            Some(r) if r.origin == Origin::Evpn && r.at == at => return Ok(Vec::new()),
            Some(_) => {}
            None if self.fdb.len() >= self.fdb_capacity => {
                return Err(TableError::FdbFull(self.fdb_capacity));
            }
            None => {}
        }
        let mut changes = Vec::new();
        self.location_dest(at, &mut changes)?;
        let old = self.fdb.insert(
            key,
            MacRecord {
                at,
                origin: Origin::Evpn,
                last_seen: 0,
            },
        );
        if let Some(old) = old {
            if old.origin == Origin::Learned {
                self.evpn_stats.moved_remote = self.evpn_stats.moved_remote.wrapping_add(1);
                self.count_learned(index, -1);
            }
            self.release_location(old.at, &mut changes);
        }
        self.evpn_stats.macs_installed = self.evpn_stats.macs_installed.wrapping_add(1);
        // The entry before any tunnel its old location released.
        changes.insert(
            changes
                .iter()
                .position(
                    |c| matches!(c, Change::Tunnel(id) if !self.tunnel_by_id.contains_key(id)),
                )
                .unwrap_or(changes.len()),
            Change::Fdb(key),
        );
        Ok(changes)
    }

    /// A type 2 route withdrawn: removes the MAC if EVPN put it there (a MAC that has since
    /// moved to a local port, or was made static, stays).
    pub fn remove_evpn_mac(&mut self, vni: Vni, mac: MacAddr) -> Vec<Change> {
        let Ok(index) = self.evpn_vni(vni) else {
            return Vec::new();
        };
        let key = FdbKey::new(index, mac);
        if self.fdb.get(&key).is_none_or(|r| r.origin != Origin::Evpn) {
            return Vec::new();
        }
        let mut changes = vec![Change::Fdb(key)];
        if let Some(old) = self.fdb.remove(&key) {
            self.release_location(old.at, &mut changes);
        }
        self.evpn_stats.macs_withdrawn = self.evpn_stats.macs_withdrawn.wrapping_add(1);
        changes
    }

    /// The VTEPs of `vni`'s type 3 routes: flooded to together with the configured list.
    pub fn set_evpn_flood(
        &mut self,
        vni: Vni,
        vteps: &[IpAddr],
    ) -> Result<Vec<Change>, TableError> {
        self.evpn_vni(vni)?;
        let mut wanted: Vec<IpAddr> = vteps
            .iter()
            .copied()
            .filter(|v| !self.underlay.is_local(*v))
            .collect();
        wanted.sort();
        wanted.dedup();
        let (config, index) = match self.vnis.get(&vni) {
            Some(r) if r.evpn_flood == wanted => return Ok(Vec::new()),
            Some(r) => (r.config.clone(), r.index),
            None => return Err(TableError::UnknownVni(vni)),
        };
        let mut changes = Vec::new();
        let flood = self.flood_tunnels(&config, &wanted, &mut changes)?;
        let old = match self.vnis.get_mut(&vni) {
            Some(r) => {
                r.evpn_flood = wanted;
                std::mem::replace(&mut r.flood, flood)
            }
            None => return Err(TableError::UnknownVni(vni)),
        };
        changes.push(Change::Vni(index));
        self.release_flood(&old, &mut changes);
        self.evpn_stats.flood_updates = self.evpn_stats.flood_updates.wrapping_add(1);
        Ok(changes)
    }

    /// The VTEPs EVPN added to `vni`'s flood list.
    pub fn evpn_flood(&self, vni: Vni) -> &[IpAddr] {
        self.vnis
            .get(&vni)
            .map(|r| r.evpn_flood.as_slice())
            .unwrap_or(&[])
    }

    /// A type 2 MAC/IP route: `ip` in `vni` is at `mac` (for ARP/ND suppression).
    pub fn set_evpn_binding(
        &mut self,
        vni: Vni,
        ip: IpAddr,
        mac: MacAddr,
    ) -> Result<Vec<Change>, TableError> {
        let index = self.evpn_vni(vni)?;
        match self.bindings.get(&(index, ip)) {
            Some(r) if r.origin == Origin::Static => {
                self.evpn_stats.refused_static = self.evpn_stats.refused_static.wrapping_add(1);
                return Err(TableError::Static(format!("{ip} in VNI {vni}")));
            }
            Some(r) if r.binding.mac == mac && r.origin == Origin::Evpn => return Ok(Vec::new()),
            Some(_) => {}
            None if self.bindings.len() >= self.fdb_capacity => {
                return Err(TableError::FdbFull(self.fdb_capacity));
            }
            None => {}
        }
        self.bindings.insert(
            (index, ip),
            BindingRecord {
                binding: Binding {
                    mac,
                    is_static: false,
                },
                origin: Origin::Evpn,
                last_seen: 0,
            },
        );
        self.evpn_stats.bindings_installed = self.evpn_stats.bindings_installed.wrapping_add(1);
        Ok(vec![Change::Binding(index, ip)])
    }

    /// A type 2 MAC/IP route withdrawn: removes the binding if EVPN put it there.
    pub fn remove_evpn_binding(&mut self, vni: Vni, ip: IpAddr) -> Vec<Change> {
        let Ok(index) = self.evpn_vni(vni) else {
            return Vec::new();
        };
        if self
            .bindings
            .get(&(index, ip))
            .is_none_or(|r| r.origin != Origin::Evpn)
        {
            return Vec::new();
        }
        self.bindings.remove(&(index, ip));
        self.evpn_stats.bindings_withdrawn = self.evpn_stats.bindings_withdrawn.wrapping_add(1);
        vec![Change::Binding(index, ip)]
    }

    /// Where a binding came from.
    pub fn binding_origin(&self, vni: Vni, ip: IpAddr) -> Option<Origin> {
        self.bindings
            .get(&(self.vni_index(vni)?, ip))
            .map(|r| r.origin)
    }

    /// Every binding of `vni` with where it came from.
    pub fn bindings_of(&self, vni: Vni) -> Vec<(IpAddr, MacAddr, Origin)> {
        let Some(index) = self.vni_index(vni) else {
            return Vec::new();
        };
        let mut out: Vec<_> = self
            .bindings
            .iter()
            .filter(|((v, _), _)| *v == index)
            .map(|((_, ip), r)| (*ip, r.binding.mac, r.origin))
            .collect();
        out.sort();
        out
    }

    /// Removes the MACs and bindings EVPN installed in a VNI (it left EVPN control).
    pub(super) fn purge_evpn(&mut self, index: VniIndex, changes: &mut Vec<Change>) {
        let keys: Vec<FdbKey> = self
            .fdb
            .iter()
            .filter(|(k, r)| k.vni() == index && r.origin == Origin::Evpn)
            .map(|(k, _)| *k)
            .collect();
        for key in keys {
            changes.push(Change::Fdb(key));
            if let Some(old) = self.fdb.remove(&key) {
                self.release_location(old.at, changes);
            }
        }
        let ips: Vec<IpAddr> = self
            .bindings
            .iter()
            .filter(|((v, _), r)| *v == index && r.origin == Origin::Evpn)
            .map(|((_, ip), _)| *ip)
            .collect();
        for ip in ips {
            self.bindings.remove(&(index, ip));
            changes.push(Change::Binding(index, ip));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{authority, mac, remote, vni};
    use super::*;

    fn evpn_vni(id: u32, flood: &[&str]) -> crate::config::VniConfig {
        let mut v = vni(id, flood);
        v.control = Control::Evpn;
        v
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn setup() -> (Authority, Vni) {
        let mut a = authority();
        let v = evpn_vni(100, &[]);
        a.add_vni(&v, vec![]).unwrap();
        (a, v.id)
    }

    #[test]
    fn type_2_installs_and_withdraws_a_remote_mac() {
        let (mut a, id) = setup();
        let changes = a.set_evpn_mac(id, mac(1), ip("10.0.0.3")).unwrap();
        assert!(matches!(changes[0], Change::Tunnel(_)), "{changes:?}");
        assert!(matches!(changes[1], Change::Fdb(_)), "{changes:?}");
        let r = a.mac(id, mac(1)).unwrap();
        assert_eq!((r.at, r.origin), (remote("10.0.0.3"), Origin::Evpn));
        assert_eq!(a.learned_in(id), 0);
        // The same route again changes nothing.
        assert!(a
            .set_evpn_mac(id, mac(1), ip("10.0.0.3"))
            .unwrap()
            .is_empty());
        let gone = a.remove_evpn_mac(id, mac(1));
        assert!(a.mac(id, mac(1)).is_none());
        // The tunnel nothing else used goes with it.
        assert!(
            gone.iter().any(|c| matches!(c, Change::Tunnel(_))),
            "{gone:?}"
        );
        assert_eq!(a.tunnel_count(), 0);
        assert_eq!(
            (a.evpn_stats.macs_installed, a.evpn_stats.macs_withdrawn),
            (1, 1)
        );
    }

    #[test]
    fn evpn_entries_do_not_age() {
        let (mut a, id) = setup();
        a.set_evpn_mac(id, mac(1), ip("10.0.0.3")).unwrap();
        a.set_evpn_binding(id, ip("192.168.1.3"), mac(1)).unwrap();
        assert!(a.expire(1_000_000, 300).is_empty());
        assert!(a.mac(id, mac(1)).is_some());
        assert_eq!(a.binding_origin(id, ip("192.168.1.3")), Some(Origin::Evpn));
    }

    #[test]
    fn remote_learning_is_off_under_evpn_local_learning_moves_a_mac_back() {
        let (mut a, id) = setup();
        let index = a.vni_index(id).unwrap();
        let key = FdbKey::new(index, mac(1));
        assert_eq!(
            a.learn(key, remote("10.0.0.9"), 1),
            Err(TableError::LearningDisabled(id))
        );
        a.set_evpn_mac(id, mac(1), ip("10.0.0.3")).unwrap();
        // The host now talks on a local port: the move wins here, and is exported.
        let port = Location::Access(1);
        a.learn(key, port, 2).unwrap();
        let r = a.mac(id, mac(1)).unwrap();
        assert_eq!((r.at, r.origin), (port, Origin::Learned));
        assert_eq!(a.learned_in(id), 1);
        assert_eq!(a.evpn_stats.moved_local, 1);
        // The old route's withdrawal does not remove the local MAC.
        assert!(a.remove_evpn_mac(id, mac(1)).is_empty());
        // A later route (a higher sequence FRR chose) moves it away again.
        a.set_evpn_mac(id, mac(1), ip("10.0.0.4")).unwrap();
        assert_eq!(a.mac(id, mac(1)).unwrap().at, remote("10.0.0.4"));
        assert_eq!(a.learned_in(id), 0);
        assert_eq!(a.evpn_stats.moved_remote, 1);
    }

    #[test]
    fn static_entries_win_over_routes() {
        let (mut a, id) = setup();
        let port = Location::Access(1);
        a.set_static_fdb(id, mac(1), port).unwrap();
        assert!(matches!(
            a.set_evpn_mac(id, mac(1), ip("10.0.0.3")),
            Err(TableError::Static(_))
        ));
        assert_eq!(a.mac(id, mac(1)).unwrap().at, port);
        a.set_static_binding(id, ip("192.168.1.1"), mac(1)).unwrap();
        assert!(a.set_evpn_binding(id, ip("192.168.1.1"), mac(2)).is_err());
        assert!(a.remove_evpn_binding(id, ip("192.168.1.1")).is_empty());
        assert_eq!(a.evpn_stats.refused_static, 2);
    }

    #[test]
    fn type_3_joins_the_configured_flood_list() {
        let mut a = authority();
        let v = evpn_vni(100, &["10.0.0.2"]);
        a.add_vni(&v, vec![]).unwrap();
        let changes = a
            .set_evpn_flood(v.id, &[ip("10.0.0.3"), ip("10.0.0.2"), ip("10.0.0.1")])
            .unwrap();
        assert!(changes.contains(&Change::Vni(a.vni_index(v.id).unwrap())));
        // Our own address is never a flood target; the configured VTEP is shared, not doubled.
        assert_eq!(a.evpn_flood(v.id), &[ip("10.0.0.2"), ip("10.0.0.3")]);
        assert_eq!(a.tunnel_count(), 2);
        assert!(a
            .set_evpn_flood(v.id, &[ip("10.0.0.2"), ip("10.0.0.3")])
            .unwrap()
            .is_empty());
        a.set_evpn_flood(v.id, &[]).unwrap();
        // The configured VTEP stays.
        assert_eq!(a.tunnel_count(), 1);
    }

    #[test]
    fn routes_for_static_vnis_are_refused() {
        let mut a = authority();
        let v = vni(200, &[]);
        a.add_vni(&v, vec![]).unwrap();
        assert_eq!(
            a.set_evpn_mac(v.id, mac(1), ip("10.0.0.3")),
            Err(TableError::NotEvpn(v.id))
        );
        assert_eq!(
            a.set_evpn_flood(v.id, &[ip("10.0.0.3")]),
            Err(TableError::NotEvpn(v.id))
        );
    }

    #[test]
    fn leaving_evpn_control_drops_what_evpn_installed() {
        let (mut a, id) = setup();
        a.set_evpn_mac(id, mac(1), ip("10.0.0.3")).unwrap();
        a.set_evpn_flood(id, &[ip("10.0.0.4")]).unwrap();
        a.set_evpn_binding(id, ip("192.168.1.3"), mac(1)).unwrap();
        let port = Location::Access(1);
        a.set_static_fdb(id, mac(2), port).unwrap();
        let mut now_static = evpn_vni(100, &[]);
        now_static.control = Control::Static;
        a.update_vni(&now_static, vec![]).unwrap();
        assert!(a.mac(id, mac(1)).is_none());
        assert!(a.evpn_flood(id).is_empty());
        assert_eq!(a.tunnel_count(), 0);
        assert!(a.binding(id, ip("192.168.1.3")).is_none());
        assert!(a.mac(id, mac(2)).is_some());
    }
}
