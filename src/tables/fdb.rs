//! A worker's MAC table: (VNI, MAC) → destination.

use super::hash::FastMap;
use super::{Dest, FdbKey, VniIndex, MAX_VNIS};

/// One MAC entry as a worker holds it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FdbEntry {
    pub dest: Dest,
    /// Configured (or installed by a control plane): never learned over, never aged.
    pub is_static: bool,
    /// The worker-local tick at which this worker last reported traffic from this MAC
    /// (refresh events drive aging on the management thread).
    pub refreshed: u32,
}

impl FdbEntry {
    pub const fn learned(dest: Dest, now: u32) -> FdbEntry {
        FdbEntry {
            dest,
            is_static: false,
            refreshed: now,
        }
    }

    pub const fn fixed(dest: Dest) -> FdbEntry {
        FdbEntry {
            dest,
            is_static: true,
            refreshed: 0,
        }
    }
}

/// The table is full: the entry was not added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

/// A worker's FDB replica. Its capacity is reserved up front: inserting never reallocates,
/// so learning on a worker never allocates.
#[derive(Debug)]
pub struct Fdb {
    map: FastMap<FdbKey, FdbEntry>,
    capacity: usize,
    /// Learned (non-static) entries per VNI, for per-VNI MAC limits.
    learned_per_vni: Box<[u32]>,
}

impl Fdb {
    pub fn with_capacity(capacity: usize) -> Fdb {
        Fdb {
            // Twice the entries: removals leave tombstones, and hashbrown only rehashes in
            // place (without allocating) while the table is at most half full.
            map: FastMap::with_capacity_and_hasher(capacity.saturating_mul(2), Default::default()),
            capacity,
            learned_per_vni: vec![0; MAX_VNIS].into_boxed_slice(),
        }
    }

    #[inline(always)]
    pub fn get(&self, key: FdbKey) -> Option<&FdbEntry> {
        self.map.get(&key)
    }

    #[inline(always)]
    pub fn get_mut(&mut self, key: FdbKey) -> Option<&mut FdbEntry> {
        self.map.get_mut(&key)
    }

    /// Adds or replaces an entry; refuses a new key when the reserved capacity is used up.
    pub fn insert(&mut self, key: FdbKey, entry: FdbEntry) -> Result<Option<FdbEntry>, Full> {
        let old = match self.map.get_mut(&key) {
            Some(slot) => Some(std::mem::replace(slot, entry)),
            None => {
                if self.map.len() >= self.capacity {
                    return Err(Full);
                }
                self.map.insert(key, entry);
                None
            }
        };
        self.account(key.vni(), old.as_ref(), -1);
        self.account(key.vni(), Some(&entry), 1);
        Ok(old)
    }

    pub fn remove(&mut self, key: FdbKey) -> Option<FdbEntry> {
        let old = self.map.remove(&key);
        self.account(key.vni(), old.as_ref(), -1);
        old
    }

    /// Removes every entry of `vni` (only the learned ones if `learned_only`).
    pub fn flush_vni(&mut self, vni: VniIndex, learned_only: bool) -> usize {
        let before = self.map.len();
        self.map
            .retain(|k, e| k.vni() != vni || (learned_only && e.is_static));
        if let Some(n) = self.learned_per_vni.get_mut(vni.slot()) {
            *n = 0;
        }
        before.saturating_sub(self.map.len())
    }

    /// Removes every entry pointing at `dest` (a removed tunnel or port).
    pub fn flush_dest(&mut self, dest: Dest) -> usize {
        let before = self.map.len();
        let counts = &mut self.learned_per_vni;
        self.map.retain(|k, e| {
            let keep = e.dest != dest;
            if !keep && !e.is_static {
                if let Some(n) = counts.get_mut(k.vni().slot()) {
                    *n = n.saturating_sub(1);
                }
            }
            keep
        });
        before.saturating_sub(self.map.len())
    }

    #[inline(always)]
    pub fn learned_in(&self, vni: VniIndex) -> u32 {
        self.learned_per_vni.get(vni.slot()).copied().unwrap_or(0)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn iter(&self) -> impl Iterator<Item = (&FdbKey, &FdbEntry)> {
        self.map.iter()
    }

    fn account(&mut self, vni: VniIndex, entry: Option<&FdbEntry>, delta: i32) {
        if let (Some(e), Some(n)) = (entry, self.learned_per_vni.get_mut(vni.slot())) {
            if !e.is_static {
                *n = n.saturating_add_signed(delta);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::TunnelId;
    use crate::wire::MacAddr;

    fn key(vni: u16, last: u8) -> FdbKey {
        FdbKey::new(VniIndex(vni), MacAddr([2, 0, 0, 0, 0, last]))
    }

    #[test]
    fn insert_replace_remove() {
        let mut f = Fdb::with_capacity(4);
        let e1 = FdbEntry::learned(Dest::Access(1), 0);
        let e2 = FdbEntry::learned(Dest::Tunnel(TunnelId(3)), 5);
        assert_eq!(f.insert(key(1, 1), e1), Ok(None));
        assert_eq!(f.insert(key(1, 1), e2), Ok(Some(e1)));
        assert_eq!(f.get(key(1, 1)), Some(&e2));
        assert_eq!(f.get(key(2, 1)), None, "same MAC, other VNI");
        assert_eq!(f.remove(key(1, 1)), Some(e2));
        assert!(f.is_empty());
    }

    #[test]
    fn capacity_is_a_hard_limit() {
        let mut f = Fdb::with_capacity(2);
        let e = FdbEntry::learned(Dest::Access(1), 0);
        f.insert(key(1, 1), e).unwrap();
        f.insert(key(1, 2), e).unwrap();
        assert_eq!(f.insert(key(1, 3), e), Err(Full));
        assert!(f.insert(key(1, 2), e).is_ok(), "replacing needs no room");
    }

    #[test]
    fn learned_counts_per_vni() {
        let mut f = Fdb::with_capacity(16);
        f.insert(key(1, 1), FdbEntry::learned(Dest::Access(1), 0))
            .unwrap();
        f.insert(key(1, 2), FdbEntry::learned(Dest::Access(1), 0))
            .unwrap();
        f.insert(key(1, 3), FdbEntry::fixed(Dest::Access(1)))
            .unwrap();
        f.insert(key(2, 1), FdbEntry::learned(Dest::Access(2), 0))
            .unwrap();
        assert_eq!(f.learned_in(VniIndex(1)), 2);
        f.insert(key(1, 1), FdbEntry::fixed(Dest::Access(1)))
            .unwrap();
        assert_eq!(f.learned_in(VniIndex(1)), 1, "learned entry became static");
        assert_eq!(f.flush_vni(VniIndex(1), true), 1);
        assert_eq!(f.len(), 3, "static entries survive a learned-only flush");
        assert_eq!(f.flush_dest(Dest::Access(2)), 1);
        assert_eq!(f.learned_in(VniIndex(2)), 0);
    }
}
