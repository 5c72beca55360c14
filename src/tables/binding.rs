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
    map: FastMap<BindingKey, Binding>,
    capacity: usize,
}

/// (VNI, address) packed into integers: hashed with two or three word writes, where
/// `(VniIndex, IpAddr)` would hash the address's enum tag and bytes one by one (the routing
/// stage looks a binding up for every routed packet).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct BindingKey {
    /// The VNI slot, and 6 for IPv6 (0 for IPv4) above it.
    vni_family: u32,
    addr: u128,
}

impl BindingKey {
    #[inline(always)]
    fn new(vni: VniIndex, ip: IpAddr) -> BindingKey {
        let (family, addr) = match ip {
            IpAddr::V4(a) => (0, u128::from(u32::from(a))),
            IpAddr::V6(a) => (6, u128::from(a)),
        };
        BindingKey {
            vni_family: u32::from(vni.0) | (family << 16),
            addr,
        }
    }

    fn vni(&self) -> VniIndex {
        VniIndex((self.vni_family & 0xffff) as u16)
    }
}

impl std::hash::Hash for BindingKey {
    #[inline(always)]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64((u64::from(self.vni_family) << 32) ^ (self.addr as u64));
        if self.vni_family >> 16 != 0 {
            state.write_u64((self.addr >> 64) as u64);
        }
    }
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
        self.map.get(&BindingKey::new(vni, ip))
    }

    /// Adds or replaces a binding; false if the table is full.
    pub fn insert(&mut self, vni: VniIndex, ip: IpAddr, b: Binding) -> bool {
        let key = BindingKey::new(vni, ip);
        if let Some(slot) = self.map.get_mut(&key) {
            *slot = b;
            return true;
        }
        if self.map.len() >= self.capacity {
            return false;
        }
        self.map.insert(key, b);
        true
    }

    pub fn remove(&mut self, vni: VniIndex, ip: IpAddr) -> Option<Binding> {
        self.map.remove(&BindingKey::new(vni, ip))
    }

    pub fn flush_vni(&mut self, vni: VniIndex) {
        self.map.retain(|k, _| k.vni() != vni);
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
        // The same bits as an IPv6 address are another key.
        let v6: IpAddr = std::net::Ipv6Addr::from(0xc0a8_010au128).into();
        assert_eq!(t.get(VniIndex(1), v6), None);
        t.flush_vni(VniIndex(1));
        assert_eq!(t.len(), 1);
    }
}
