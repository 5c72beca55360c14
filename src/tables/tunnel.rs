//! Tunnels: one per (remote VTEP or underlay group, encapsulation), each with its outer
//! header template ready to copy.

use std::net::IpAddr;

use crate::config::Encap;
use crate::pipeline::encap::OuterTemplate;

use super::hash::FastMap;
use super::{TunnelId, MAX_TUNNELS};

/// One tunnel in a worker's replica.
#[derive(Debug, Clone, Copy)]
pub struct Tunnel {
    pub remote: IpAddr,
    pub encap: Encap,
    /// The outer headers; None while the next hop's MAC is unresolved.
    pub outer: Option<OuterTemplate>,
}

/// A worker's tunnel table.
#[derive(Debug)]
pub struct TunnelTable {
    slots: Vec<Option<Box<Tunnel>>>,
    by_remote: FastMap<(IpAddr, Encap), TunnelId>,
}

impl Default for TunnelTable {
    fn default() -> Self {
        TunnelTable {
            slots: Vec::new(),
            by_remote: FastMap::with_capacity_and_hasher(1024, Default::default()),
        }
    }
}

impl TunnelTable {
    #[inline(always)]
    pub fn get(&self, id: TunnelId) -> Option<&Tunnel> {
        self.slots.get(id.slot())?.as_deref()
    }

    /// The tunnel to `remote` with `encap` (learning on decapsulation).
    #[inline(always)]
    pub fn find(&self, remote: IpAddr, encap: Encap) -> Option<TunnelId> {
        self.by_remote.get(&(remote, encap)).copied()
    }

    /// Installs, replaces (Some) or removes (None) a tunnel; returns the old one. Slots grow
    /// on demand (only between bursts, when an update is applied).
    pub fn set(&mut self, id: TunnelId, tunnel: Option<Box<Tunnel>>) -> Option<Box<Tunnel>> {
        let slot = id.slot();
        if slot >= MAX_TUNNELS {
            return tunnel;
        }
        if self.slots.len() <= slot {
            self.slots.resize_with(slot.saturating_add(1), || None);
        }
        let new_key = tunnel.as_ref().map(|t| (t.remote, t.encap));
        let old = match self.slots.get_mut(slot) {
            Some(s) => std::mem::replace(s, tunnel),
            None => return None,
        };
        if let Some(old) = &old {
            self.by_remote.remove(&(old.remote, old.encap));
        }
        if let Some(key) = new_key {
            self.by_remote.insert(key, id);
        }
        old
    }

    pub fn iter(&self) -> impl Iterator<Item = (TunnelId, &Tunnel)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, t)| Some((TunnelId(u32::try_from(i).ok()?), t.as_deref()?)))
    }

    pub fn len(&self) -> usize {
        self.by_remote.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_remote.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_find_replace_remove() {
        let mut t = TunnelTable::default();
        let remote: IpAddr = "10.0.0.2".parse().unwrap();
        let tun = Tunnel {
            remote,
            encap: Encap::Vxlan,
            outer: None,
        };
        assert!(t.set(TunnelId(5), Some(Box::new(tun))).is_none());
        assert_eq!(t.find(remote, Encap::Vxlan), Some(TunnelId(5)));
        assert_eq!(t.find(remote, Encap::Nvgre), None);
        assert_eq!(t.get(TunnelId(5)).unwrap().remote, remote);
        assert!(t.get(TunnelId(4)).is_none());
        assert!(t.set(TunnelId(5), None).is_some());
        assert_eq!(t.find(remote, Encap::Vxlan), None);
        assert!(t.is_empty());
    }
}
