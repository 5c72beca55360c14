//! Tenant VRFs as the data plane sees them: one forwarding table (FIB) per VRF, each a
//! longest-prefix match over that VRF's connected subnets and static routes.
//!
//! Why not DPDK's rte_lpm/rte_fib: their IPv4 tables are DIR-24-8, 64 MiB of tbl24 per
//! table, and one table per VRF per worker (the replicas are per worker, never shared) would
//! need gigabytes for a few dozen tenants. A tenant VRF holds few distinct prefix lengths
//! (its /24 and /64 subnets, a default route, some aggregates), so the FIB keeps one hash
//! table entry per prefix and probes the lengths present, longest first: as many probes as
//! distinct lengths longer than the match, each one hashed load (the idea of binary search
//! on prefix lengths, Waldvogel et al., without the markers, which pay off only with many
//! lengths). docs/PERFORMANCE.md has the routed path's cost (scripts/bench.sh vxlan-routed).
//!
//! A FIB is built whole by the management thread and swapped into a worker's replica by one
//! update (the old one comes back as garbage), so a worker never sees half a change and
//! never allocates.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::hash::FastMap;
use super::{TunnelId, VniIndex};
use crate::wire::MacAddr;

/// Most VRFs one gateway holds.
pub const MAX_VRFS: usize = 1024;
/// Most routes (connected subnets and static routes, all VRFs) with their own counters.
pub const MAX_ROUTES: usize = 16384;

/// Dense index of a VRF: slot in the VRF table and in the per-VRF counters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VrfIndex(pub u16);

impl VrfIndex {
    #[inline(always)]
    pub fn slot(self) -> usize {
        usize::from(self.0)
    }
}

impl fmt::Debug for VrfIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "vrf#{}", self.0)
    }
}

/// Slot of a route's counters; stable while the route exists, whatever else changes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct RouteSlot(pub u16);

impl RouteSlot {
    #[inline(always)]
    pub fn slot(self) -> usize {
        usize::from(self.0)
    }
}

/// Where a routed packet goes next.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum NextHop {
    /// The destination is a host on this VNI's subnet.
    Connected(VniIndex),
    /// Through the router at `ip`, a host of `vni`.
    Via { vni: VniIndex, ip: IpAddr },
    /// Looked up again in another VRF (a leaked route); what that finds must lead to a VNI.
    Vrf(VrfIndex),
    /// Through the VRF's L3VNI `vni` and `tunnel` to another VTEP, whose router MAC the
    /// packet is sent to (symmetric IRB, RFC 9135).
    Remote {
        vni: VniIndex,
        tunnel: TunnelId,
        router_mac: MacAddr,
    },
}

/// One FIB entry.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Route {
    pub next_hop: NextHop,
    pub slot: RouteSlot,
}

/// One VRF's forwarding table.
#[derive(Clone, Debug, Default)]
pub struct Fib {
    v4: FastMap<u64, Route>,
    v6: FastMap<(u8, u128), Route>,
    /// Prefix lengths present, longest first.
    v4_lengths: Vec<u8>,
    v6_lengths: Vec<u8>,
}

impl PartialEq for Fib {
    fn eq(&self, other: &Self) -> bool {
        self.v4 == other.v4 && self.v6 == other.v6
    }
}

impl Eq for Fib {}

#[inline(always)]
fn v4_key(len: u8, addr: u32) -> u64 {
    let mask = u32::MAX
        .checked_shl(32u32.saturating_sub(u32::from(len)))
        .unwrap_or(0);
    (u64::from(len) << 32) | u64::from(addr & mask)
}

#[inline(always)]
fn v6_masked(len: u8, addr: u128) -> u128 {
    addr & u128::MAX
        .checked_shl(128u32.saturating_sub(u32::from(len)))
        .unwrap_or(0)
}

impl Fib {
    /// Adds (or replaces) the route for `addr/len`; host bits of `addr` are ignored.
    pub fn insert(&mut self, addr: IpAddr, len: u8, route: Route) {
        match addr {
            IpAddr::V4(a) => {
                let len = len.min(32);
                self.v4.insert(v4_key(len, u32::from(a)), route);
                insert_length(&mut self.v4_lengths, len);
            }
            IpAddr::V6(a) => {
                let len = len.min(128);
                self.v6.insert((len, v6_masked(len, u128::from(a))), route);
                insert_length(&mut self.v6_lengths, len);
            }
        }
    }

    /// The longest-prefix match for `dst`.
    #[inline(always)]
    pub fn lookup_v4(&self, dst: Ipv4Addr) -> Option<Route> {
        let a = u32::from(dst);
        for len in &self.v4_lengths {
            if let Some(r) = self.v4.get(&v4_key(*len, a)) {
                return Some(*r);
            }
        }
        None
    }

    #[inline(always)]
    pub fn lookup_v6(&self, dst: &Ipv6Addr) -> Option<Route> {
        let a = u128::from(*dst);
        for len in &self.v6_lengths {
            if let Some(r) = self.v6.get(&(*len, v6_masked(*len, a))) {
                return Some(*r);
            }
        }
        None
    }

    #[inline(always)]
    pub fn lookup(&self, dst: IpAddr) -> Option<Route> {
        match dst {
            IpAddr::V4(a) => self.lookup_v4(a),
            IpAddr::V6(a) => self.lookup_v6(&a),
        }
    }

    pub fn len(&self) -> usize {
        self.v4.len().saturating_add(self.v6.len())
    }

    /// The counter slots of routes this FIB has and `old` had not (or under another slot):
    /// their counters start from zero.
    pub fn slots_new_since<'a>(
        &'a self,
        old: Option<&'a Fib>,
    ) -> impl Iterator<Item = RouteSlot> + 'a {
        let v4 = self.v4.iter().filter_map(move |(k, r)| {
            (old.and_then(|o| o.v4.get(k)).map(|o| o.slot) != Some(r.slot)).then_some(r.slot)
        });
        let v6 = self.v6.iter().filter_map(move |(k, r)| {
            (old.and_then(|o| o.v6.get(k)).map(|o| o.slot) != Some(r.slot)).then_some(r.slot)
        });
        v4.chain(v6)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn insert_length(lengths: &mut Vec<u8>, len: u8) {
    if let Err(at) = lengths.binary_search_by(|l| len.cmp(l)) {
        lengths.insert(at, len);
    }
}

/// A worker's VRFs: a FIB per slot.
#[derive(Debug)]
pub struct VrfTable {
    fibs: Vec<Option<Box<Fib>>>,
}

impl Default for VrfTable {
    fn default() -> Self {
        VrfTable {
            fibs: (0..MAX_VRFS).map(|_| None).collect(),
        }
    }
}

impl VrfTable {
    #[inline(always)]
    pub fn get(&self, vrf: VrfIndex) -> Option<&Fib> {
        self.fibs.get(vrf.slot()).and_then(|f| f.as_deref())
    }

    /// Installs or removes a VRF's FIB; returns the one it replaced.
    pub fn set(&mut self, vrf: VrfIndex, fib: Option<Box<Fib>>) -> Option<Box<Fib>> {
        let slot = self.fibs.get_mut(vrf.slot())?;
        std::mem::replace(slot, fib)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(vni: u16, slot: u16) -> Route {
        Route {
            next_hop: NextHop::Connected(VniIndex(vni)),
            slot: RouteSlot(slot),
        }
    }

    #[test]
    fn longest_prefix_wins() {
        let mut fib = Fib::default();
        fib.insert("0.0.0.0".parse().unwrap(), 0, route(0, 0));
        fib.insert("10.1.0.0".parse().unwrap(), 16, route(1, 1));
        fib.insert("10.1.2.0".parse().unwrap(), 24, route(2, 2));
        fib.insert("10.1.2.77".parse().unwrap(), 32, route(3, 3));
        let hit = |a: &str| fib.lookup(a.parse().unwrap()).map(|r| r.slot.0);
        assert_eq!(hit("10.1.2.77"), Some(3));
        assert_eq!(hit("10.1.2.78"), Some(2));
        assert_eq!(hit("10.1.3.1"), Some(1));
        assert_eq!(hit("192.0.2.1"), Some(0));
        assert_eq!(fib.v4_lengths, vec![32, 24, 16, 0]);
    }

    #[test]
    fn no_default_means_no_route() {
        let mut fib = Fib::default();
        fib.insert("192.168.10.0".parse().unwrap(), 24, route(1, 1));
        fib.insert("fd10::".parse().unwrap(), 64, route(1, 2));
        assert!(fib.lookup("192.168.11.1".parse().unwrap()).is_none());
        assert_eq!(
            fib.lookup("fd10::99".parse().unwrap()).map(|r| r.slot.0),
            Some(2)
        );
        assert!(fib.lookup("fd11::99".parse().unwrap()).is_none());
        // The families never meet.
        assert!(fib.lookup("::ffff:192.168.10.1".parse().unwrap()).is_none());
    }

    #[test]
    fn host_bits_of_an_inserted_prefix_are_ignored() {
        let mut fib = Fib::default();
        fib.insert("10.9.9.9".parse().unwrap(), 8, route(1, 1));
        assert!(fib.lookup("10.200.0.1".parse().unwrap()).is_some());
        fib.insert("2001:db8::1".parse().unwrap(), 0, route(2, 2));
        assert_eq!(
            fib.lookup("::1".parse().unwrap()).map(|r| r.slot.0),
            Some(2)
        );
    }
}
