//! IP → MAC bindings per VNI, for ARP and neighbour-discovery suppression.

use std::net::IpAddr;

use crate::wire::MacAddr;

use super::hash::FastMap;
use super::VniIndex;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Binding {
    pub mac: MacAddr,
    /// Configured: snooped ARP/ND never overwrites it.
    pub is_static: bool,
}

/// A worker's binding table; capacity reserved up front like the FDB's.
#[derive(Debug)]
pub struct BindingTable {
    map: FastMap<(VniIndex, IpAddr), Binding>,
    capacity: usize,
}

impl BindingTable {
    pub fn with_capacity(capacity: usize) -> BindingTable {
        BindingTable {
            map: FastMap::with_capacity_and_hasher(capacity.saturating_mul(2), Default::default()),
            capacity,
        }
    }

    #[inline(always)]
    pub fn get(&self, vni: VniIndex, ip: IpAddr) -> Option<&Binding> {
        self.map.get(&(vni, ip))
    }

    /// Adds or replaces a binding; false if the table is full.
    pub fn insert(&mut self, vni: VniIndex, ip: IpAddr, b: Binding) -> bool {
        if let Some(slot) = self.map.get_mut(&(vni, ip)) {
            *slot = b;
            return true;
        }
        if self.map.len() >= self.capacity {
            return false;
        }
        self.map.insert((vni, ip), b);
        true
    }

    pub fn remove(&mut self, vni: VniIndex, ip: IpAddr) -> Option<Binding> {
        self.map.remove(&(vni, ip))
    }

    pub fn flush_vni(&mut self, vni: VniIndex) {
        self.map.retain(|(v, _), _| *v != vni);
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_are_per_vni() {
        let mut t = BindingTable::with_capacity(2);
        let ip: IpAddr = "192.168.1.10".parse().unwrap();
        let b = Binding {
            mac: MacAddr([2, 0, 0, 0, 0, 1]),
            is_static: true,
        };
        assert!(t.insert(VniIndex(1), ip, b));
        assert_eq!(t.get(VniIndex(1), ip), Some(&b));
        assert_eq!(t.get(VniIndex(2), ip), None);
        assert!(t.insert(VniIndex(2), ip, b));
        assert!(!t.insert(VniIndex(3), ip, b), "full");
        t.flush_vni(VniIndex(1));
        assert_eq!(t.len(), 1);
    }
}
