//! A worker's copy of the tables: read and written by that worker alone.

use super::binding::BindingTable;
use super::fdb::Fdb;
use super::route::VrfTable;
use super::tunnel::TunnelTable;
use super::update::{Garbage, Update};
use super::vni::VniTable;
use super::Dest;

/// Every table a worker forwards with.
#[derive(Debug)]
pub struct Replica {
    pub vnis: VniTable,
    pub tunnels: TunnelTable,
    pub fdb: Fdb,
    pub bindings: BindingTable,
    pub vrfs: VrfTable,
}

impl Replica {
    /// Tables for `ports` ports; `vxlan_port` is `underlay.vxlan_port`.
    pub fn new(ports: usize, fdb_capacity: usize, vxlan_port: u16) -> Replica {
        Replica {
            vnis: VniTable::new(ports, vxlan_port),
            tunnels: TunnelTable::default(),
            fdb: Fdb::with_capacity(fdb_capacity),
            bindings: BindingTable::with_capacity(fdb_capacity),
            vrfs: VrfTable::default(),
        }
    }

    /// Applies one update; returns what it replaced, to hand back for freeing. `now` is the
    /// worker's tick, stamped on entries so refresh reporting starts from the install time.
    pub fn apply(&mut self, update: Update, now: u32) -> Option<Garbage> {
        match update {
            Update::Vni(index, state) => {
                let removing = state.is_none();
                let old = self.vnis.set(index, state);
                if removing {
                    self.fdb.flush_vni(index, false);
                    self.bindings.flush_vni(index);
                }
                old.map(Garbage::Vni)
            }
            Update::Tunnel(id, tunnel) => {
                let removing = tunnel.is_none();
                let old = self.tunnels.set(id, tunnel);
                if removing {
                    self.fdb.flush_dest(Dest::Tunnel(id));
                }
                old.map(Garbage::Tunnel)
            }
            Update::FdbSet(key, mut entry) => {
                entry.refreshed = now;
                // A full table refuses the entry; frames to that MAC keep flooding.
                let _ = self.fdb.insert(key, entry);
                None
            }
            Update::FdbDel(key) => {
                self.fdb.remove(key);
                None
            }
            Update::FdbFlush { vni, learned_only } => {
                self.fdb.flush_vni(vni, learned_only);
                None
            }
            Update::BindingSet(vni, ip, b) => {
                self.bindings.insert(vni, ip, b);
                None
            }
            Update::BindingDel(vni, ip) => {
                self.bindings.remove(vni, ip);
                None
            }
            Update::Vrf(vrf, fib) => self.vrfs.set(vrf, fib).map(Garbage::Fib),
            // The groups belong to the underlay classifier, outside the tables
            // (`Gateway::apply_updates` takes them); a replica alone has no use for them.
            Update::Groups(g) => Some(Garbage::Groups(g)),
            // Likewise the policy belongs to the policy stage (`Gateway::apply_updates`).
            Update::Policy(p) => {
                let p = *p;
                p.set.map(Garbage::Policy)
            }
        }
    }
}
