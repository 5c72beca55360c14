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

/// A tunnel's IPv4 remote and encapsulation as one nonzero integer, so that checking which
/// tunnel a packet came through is one compare with a flat array (`TunnelTable::leads_to`)
/// instead of a pointer to follow and an address enum to match. IPv6 remotes have none and
/// are compared in full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RemoteKey(u64);

impl RemoteKey {
    const NONE: u64 = 0;
    const IPV4: u64 = 1 << 40;

    #[inline(always)]
    fn of(remote: IpAddr, encap: Encap) -> Option<RemoteKey> {
        match remote {
            IpAddr::V4(a) => Some(RemoteKey(
                Self::IPV4 | (u64::from(u32::from(a)) << 8) | encap as u64,
            )),
            IpAddr::V6(_) => None,
        }
    }
}

/// A worker's tunnel table.
#[derive(Debug)]
pub struct TunnelTable {
    slots: Vec<Option<Box<Tunnel>>>,
    /// Each slot's `RemoteKey` (`RemoteKey::NONE`: empty, or an IPv6 remote).
    keys: Vec<u64>,
    by_remote: FastMap<(IpAddr, Encap), TunnelId>,
}

impl Default for TunnelTable {
    fn default() -> Self {
        TunnelTable {
            slots: Vec::new(),
            keys: Vec::new(),
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

    /// Whether tunnel `id` leads to `remote` with `encap` (learning's check, on every
    /// packet, that a MAC is still behind the VTEP it came from).
    #[inline(always)]
    pub fn leads_to(&self, id: TunnelId, remote: IpAddr, encap: Encap) -> bool {
        match RemoteKey::of(remote, encap) {
            Some(k) => self.keys.get(id.slot()) == Some(&k.0),
            None => self
                .get(id)
                .is_some_and(|t| t.remote == remote && t.encap == encap),
        }
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
            self.keys.resize(slot.saturating_add(1), RemoteKey::NONE);
        }
        let new_key = tunnel.as_ref().map(|t| (t.remote, t.encap));
        if let Some(k) = self.keys.get_mut(slot) {
            *k = new_key
                .and_then(|(remote, encap)| RemoteKey::of(remote, encap))
                .map_or(RemoteKey::NONE, |k| k.0);
        }
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

    #[test]
    fn leads_to_compares_remote_and_encap() {
        let mut t = TunnelTable::default();
        let v4: IpAddr = "10.0.0.2".parse().unwrap();
        let v6: IpAddr = "2001:db8::2".parse().unwrap();
        let tunnel = |remote, encap| {
            Some(Box::new(Tunnel {
                remote,
                encap,
                outer: None,
            }))
        };
        t.set(TunnelId(1), tunnel(v4, Encap::Vxlan));
        t.set(TunnelId(3), tunnel(v6, Encap::Nvgre));
        assert!(t.leads_to(TunnelId(1), v4, Encap::Vxlan));
        assert!(!t.leads_to(TunnelId(1), v4, Encap::Nvgre));
        assert!(!t.leads_to(TunnelId(1), "10.0.0.3".parse().unwrap(), Encap::Vxlan));
        assert!(t.leads_to(TunnelId(3), v6, Encap::Nvgre));
        assert!(!t.leads_to(TunnelId(3), v6, Encap::Vxlan));
        assert!(!t.leads_to(TunnelId(3), v4, Encap::Nvgre));
        assert!(!t.leads_to(TunnelId(2), v4, Encap::Vxlan), "an empty slot");
        assert!(!t.leads_to(TunnelId(9), v4, Encap::Vxlan), "past the end");
        // Replaced and removed tunnels take their keys with them.
        t.set(
            TunnelId(1),
            tunnel("10.0.0.3".parse().unwrap(), Encap::Vxlan),
        );
        assert!(!t.leads_to(TunnelId(1), v4, Encap::Vxlan));
        t.set(TunnelId(1), None);
        assert!(!t.leads_to(TunnelId(1), "10.0.0.3".parse().unwrap(), Encap::Vxlan));
    }
}
