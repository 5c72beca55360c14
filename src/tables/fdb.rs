//! A worker's MAC table: (VNI, MAC) → destination.
//!
//! A flat open-addressing table rather than a general hash map, because the data plane needs
//! what a general map does not offer:
//! - prefetching by key: a burst first hashes every key and prefetches its slot, then looks
//!   them all up, so a table far larger than the caches costs little more than a small one;
//! - fixed memory: the slots are allocated once (twice the capacity, so probe sequences stay
//!   short and nothing ever grows) — learning on a worker never allocates — in memory of
//!   their own, on huge pages where the table is large (`dpdk::TableMemory`), present before
//!   the first lookup;
//! - 16-byte slots, four to a cache line: the key and the packed entry, nothing else.
//!
//! Linear probing, with backward-shift deletion (no tombstones, so lookups never slow down
//! as entries come and go). Key 0 marks an empty slot: it would be VNI slot 0 with the
//! all-zero MAC, which is never learned or configured.

use zerocopy::FromZeros;

use crate::dpdk::TableMemory;

use super::hash::fold_mul;
use super::{Dest, FdbKey, TunnelId, VniIndex, MAX_VNIS};

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

    // Packed: refreshed in bits 0..32, static in 32, tunnel-or-port in 33, the id above.
    const STATIC: u64 = 1 << 32;
    const TUNNEL: u64 = 1 << 33;
    const ID_SHIFT: u32 = 34;

    #[inline(always)]
    fn pack(self) -> u64 {
        let (kind, id) = match self.dest {
            Dest::Access(p) => (0, u64::from(p)),
            Dest::Tunnel(t) => (Self::TUNNEL, u64::from(t.0)),
        };
        u64::from(self.refreshed)
            | if self.is_static { Self::STATIC } else { 0 }
            | kind
            | (id << Self::ID_SHIFT)
    }

    #[inline(always)]
    fn unpack(v: u64) -> FdbEntry {
        let id = v >> Self::ID_SHIFT;
        FdbEntry {
            dest: if v & Self::TUNNEL != 0 {
                // Tunnel ids are below MAX_TUNNELS (2^16): they fit.
                Dest::Tunnel(TunnelId(id as u32))
            } else {
                Dest::Access(id as u8)
            },
            is_static: v & Self::STATIC != 0,
            // The low 32 bits.
            refreshed: v as u32,
        }
    }
}

/// The table is full: the entry was not added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

const EMPTY: u64 = 0;
/// Tables up to this size are assumed cache-resident (a typical L2).
const CACHE_RESIDENT_BYTES: usize = 512 * 1024;

#[derive(Clone, Copy, Default, FromZeros)]
#[repr(C, align(16))]
struct Slot {
    key: u64,
    value: u64,
}

/// Where an entry sits, from `find`: valid until the table next changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotIndex(usize);

/// A key and its home slot in one table. A burst's first pass hashes each packet's keys to
/// prefetch their slots; keeping the result lets the lookup that follows skip hashing again.
/// Only meaningful for the table that made it (the seed and the size are the table's own),
/// hence never kept beyond the burst it was made for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Probe {
    key: u64,
    home: usize,
}

impl Probe {
    /// Whether this probe is for `key`.
    #[inline(always)]
    pub fn is_for(&self, key: FdbKey) -> bool {
        self.key == key.raw()
    }
}

/// A worker's FDB replica.
pub struct Fdb {
    slots: TableMemory<Slot>,
    mask: usize,
    len: usize,
    capacity: usize,
    seed: u64,
    /// Learned (non-static) entries per VNI, for per-VNI MAC limits.
    learned_per_vni: Box<[u32]>,
}

impl std::fmt::Debug for Fdb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fdb")
            .field("len", &self.len)
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl Fdb {
    pub fn with_capacity(capacity: usize) -> Fdb {
        let slots = capacity.saturating_mul(2).max(16).next_power_of_two();
        Fdb {
            slots: TableMemory::zeroed(slots),
            mask: slots.saturating_sub(1),
            len: 0,
            capacity,
            seed: super::hash::process_seed(),
            learned_per_vni: vec![0; MAX_VNIS].into_boxed_slice(),
        }
    }

    #[inline(always)]
    fn home(&self, key: u64) -> usize {
        // Both halves of the product mixed: the low bits index well.
        (fold_mul(key ^ self.seed, 0x9e37_79b9_7f4a_7c15) as usize) & self.mask
    }

    /// Brings the cache line where `key` would sit closer, ahead of a lookup.
    #[inline(always)]
    pub fn prefetch(&self, key: FdbKey) {
        self.prefetch_probe(self.probe(key));
    }

    /// `key` with its home slot: hashed once, ahead of the lookup (see `Probe`).
    #[inline(always)]
    pub fn probe(&self, key: FdbKey) -> Probe {
        let key = key.raw();
        Probe {
            key,
            home: self.home(key),
        }
    }

    /// Brings the cache line of a probe's home slot closer.
    #[inline(always)]
    pub fn prefetch_probe(&self, probe: Probe) {
        if let Some(slot) = self.slots.get(probe.home) {
            crate::dpdk::prefetch(slot);
        }
    }

    /// Where `key` sits.
    #[inline(always)]
    pub fn find(&self, key: FdbKey) -> Option<SlotIndex> {
        self.find_probe(self.probe(key))
    }

    /// Where a probe's key sits, its hash already computed.
    #[inline(always)]
    pub fn find_probe(&self, probe: Probe) -> Option<SlotIndex> {
        let key = probe.key;
        if key == EMPTY {
            return None;
        }
        let mut i = probe.home & self.mask;
        // At most every slot; the table is never more than half full, so a probe sequence
        // ends at an empty slot long before.
        for _ in 0..self.slots.len() {
            let slot = self.slots.get(i)?;
            if slot.key == key {
                return Some(SlotIndex(i));
            }
            if slot.key == EMPTY {
                return None;
            }
            i = i.wrapping_add(1) & self.mask;
        }
        None
    }

    #[inline(always)]
    pub fn entry(&self, at: SlotIndex) -> Option<FdbEntry> {
        self.slots.get(at.0).map(|s| FdbEntry::unpack(s.value))
    }

    /// The refresh tick of a learned (not static) entry that sends to `dest`; None for any
    /// other. Learning checks every packet's source with this: it compares the packed
    /// destination, with no entry to unpack.
    #[inline(always)]
    pub fn learned_to(&self, at: SlotIndex, dest: Dest) -> Option<u32> {
        let v = self.slots.get(at.0)?.value;
        let mask = !0xffff_ffff;
        (v & mask == FdbEntry::learned(dest, 0).pack()).then_some(v as u32)
    }

    /// The tunnel of a learned (not static) entry that sends to one, and its refresh tick.
    #[inline(always)]
    pub fn learned_tunnel(&self, at: SlotIndex) -> Option<(TunnelId, u32)> {
        let v = self.slots.get(at.0)?.value;
        let kind = FdbEntry::STATIC | FdbEntry::TUNNEL;
        // Tunnel ids are below MAX_TUNNELS (2^16): they fit.
        (v & kind == FdbEntry::TUNNEL)
            .then_some((TunnelId((v >> FdbEntry::ID_SHIFT) as u32), v as u32))
    }

    /// Records the tick of the last refresh report (nothing else of the entry changes).
    #[inline(always)]
    pub fn set_refreshed(&mut self, at: SlotIndex, now: u32) {
        if let Some(s) = self.slots.get_mut(at.0) {
            s.value = (s.value & !0xffff_ffff) | u64::from(now);
        }
    }

    #[inline(always)]
    pub fn get(&self, key: FdbKey) -> Option<FdbEntry> {
        self.find(key).and_then(|at| self.entry(at))
    }

    #[inline(always)]
    pub fn get_probe(&self, probe: Probe) -> Option<FdbEntry> {
        self.find_probe(probe).and_then(|at| self.entry(at))
    }

    /// Looks up a batch of keys: every slot is prefetched before any is probed, so the cache
    /// misses of a large table overlap instead of adding up. (Measured against prefetching a
    /// fixed distance ahead, which did worse here.)
    pub fn get_many(&self, keys: &[FdbKey], out: &mut [Option<FdbEntry>]) {
        if !self.fits_in_cache() {
            for k in keys {
                self.prefetch(*k);
            }
        }
        for (k, o) in keys.iter().zip(out.iter_mut()) {
            *o = self.get(*k);
        }
    }

    /// Small tables stay in the caches: prefetching them only costs instructions.
    #[inline(always)]
    pub fn fits_in_cache(&self) -> bool {
        self.slots.len().saturating_mul(std::mem::size_of::<Slot>()) <= CACHE_RESIDENT_BYTES
    }

    /// Adds or replaces an entry; refuses a new key when the capacity is used up.
    pub fn insert(&mut self, key: FdbKey, entry: FdbEntry) -> Result<Option<FdbEntry>, Full> {
        let raw = key.raw();
        if raw == EMPTY {
            return Err(Full);
        }
        let mut i = self.home(raw);
        for _ in 0..self.slots.len() {
            let Some(slot) = self.slots.get_mut(i) else {
                return Err(Full);
            };
            if slot.key == raw {
                let old = FdbEntry::unpack(slot.value);
                slot.value = entry.pack();
                self.account(key.vni(), Some(&old), -1);
                self.account(key.vni(), Some(&entry), 1);
                return Ok(Some(old));
            }
            if slot.key == EMPTY {
                if self.len >= self.capacity {
                    return Err(Full);
                }
                *slot = Slot {
                    key: raw,
                    value: entry.pack(),
                };
                self.len = self.len.saturating_add(1);
                self.account(key.vni(), Some(&entry), 1);
                return Ok(None);
            }
            i = i.wrapping_add(1) & self.mask;
        }
        Err(Full)
    }

    pub fn remove(&mut self, key: FdbKey) -> Option<FdbEntry> {
        let at = self.find(key)?;
        let old = self.entry(at)?;
        self.remove_at(at.0);
        self.account(key.vni(), Some(&old), -1);
        Some(old)
    }

    /// Empties slot `i` and shifts back the entries of its probe run that would otherwise
    /// become unreachable (Knuth's algorithm R).
    fn remove_at(&mut self, mut i: usize) {
        let mut j = i;
        for _ in 0..self.slots.len() {
            j = j.wrapping_add(1) & self.mask;
            let Some(next) = self.slots.get(j).copied() else {
                break;
            };
            if next.key == EMPTY {
                break;
            }
            let home = self.home(next.key);
            // The entry at j may stay if its home lies cyclically in (i, j].
            let stays = if i <= j {
                i < home && home <= j
            } else {
                i < home || home <= j
            };
            if !stays {
                if let Some(hole) = self.slots.get_mut(i) {
                    *hole = next;
                }
                i = j;
            }
        }
        if let Some(hole) = self.slots.get_mut(i) {
            *hole = Slot::default();
        }
        self.len = self.len.saturating_sub(1);
    }

    /// Removes every entry for which `doomed` holds. Backward shifts only move entries to
    /// slots not yet visited, or move visited entries among visited slots, so one pass that
    /// re-examines a slot after each removal sees every entry once.
    fn remove_where(&mut self, doomed: impl Fn(FdbKey, &FdbEntry) -> bool) -> usize {
        let mut removed = 0usize;
        let mut i = 0;
        while i < self.slots.len() {
            let Some(slot) = self.slots.get(i).copied() else {
                break;
            };
            if slot.key != EMPTY {
                let key = FdbKey::from_raw(slot.key);
                let entry = FdbEntry::unpack(slot.value);
                if doomed(key, &entry) {
                    self.remove_at(i);
                    self.account(key.vni(), Some(&entry), -1);
                    removed = removed.saturating_add(1);
                    continue;
                }
            }
            i = i.saturating_add(1);
        }
        removed
    }

    /// Removes every entry of `vni` (only the learned ones if `learned_only`).
    pub fn flush_vni(&mut self, vni: VniIndex, learned_only: bool) -> usize {
        self.remove_where(|k, e| k.vni() == vni && !(learned_only && e.is_static))
    }

    /// Removes every entry pointing at `dest` (a removed tunnel or port).
    pub fn flush_dest(&mut self, dest: Dest) -> usize {
        self.remove_where(|_, e| e.dest == dest)
    }

    #[inline(always)]
    pub fn learned_in(&self, vni: VniIndex) -> u32 {
        self.learned_per_vni.get(vni.slot()).copied().unwrap_or(0)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn iter(&self) -> impl Iterator<Item = (FdbKey, FdbEntry)> + '_ {
        self.slots
            .iter()
            .filter(|s| s.key != EMPTY)
            .map(|s| (FdbKey::from_raw(s.key), FdbEntry::unpack(s.value)))
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
        assert_eq!(f.get(key(1, 1)), Some(e2));
        assert_eq!(f.get(key(2, 1)), None, "same MAC, other VNI");
        assert_eq!(f.remove(key(1, 1)), Some(e2));
        assert!(f.is_empty());
    }

    #[test]
    fn entries_pack_losslessly() {
        for e in [
            FdbEntry::learned(Dest::Access(255), u32::MAX),
            FdbEntry::fixed(Dest::Tunnel(TunnelId(65535))),
            FdbEntry::learned(Dest::Tunnel(TunnelId(0)), 7),
        ] {
            assert_eq!(FdbEntry::unpack(e.pack()), e);
        }
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
    fn the_empty_key_is_never_stored() {
        let mut f = Fdb::with_capacity(4);
        let zero = FdbKey::new(VniIndex(0), MacAddr::ZERO);
        assert_eq!(f.insert(zero, FdbEntry::fixed(Dest::Access(1))), Err(Full));
        assert_eq!(f.get(zero), None);
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

    #[test]
    fn refresh_changes_only_the_tick() {
        let mut f = Fdb::with_capacity(4);
        f.insert(key(1, 1), FdbEntry::learned(Dest::Tunnel(TunnelId(9)), 1))
            .unwrap();
        let at = f.find(key(1, 1)).unwrap();
        f.set_refreshed(at, 77);
        assert_eq!(
            f.get(key(1, 1)),
            Some(FdbEntry::learned(Dest::Tunnel(TunnelId(9)), 77))
        );
    }

    /// The table against a reference map under random inserts, removals and flushes, with
    /// heavy collisions (a tiny table): backward-shift deletion must keep every entry
    /// reachable.
    #[test]
    fn matches_a_reference_map() {
        use std::collections::HashMap;
        let mut f = Fdb::with_capacity(64);
        let mut reference: HashMap<FdbKey, FdbEntry> = HashMap::new();
        let mut state = 0x1234_5678_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..20_000u32 {
            let r = next();
            let k = key((r % 3) as u16, ((r >> 8) % 90 + 1) as u8);
            match (r >> 20) % 10 {
                0..=5 => {
                    let e = FdbEntry::learned(Dest::Access((r >> 32) as u8 % 4), round);
                    let full = reference.len() >= 64 && !reference.contains_key(&k);
                    let got = f.insert(k, e);
                    if full {
                        assert_eq!(got, Err(Full));
                    } else {
                        assert_eq!(got.unwrap(), reference.insert(k, e));
                    }
                }
                6..=8 => assert_eq!(f.remove(k), reference.remove(&k)),
                _ => {
                    let dest = Dest::Access((r >> 40) as u8 % 4);
                    let n = f.flush_dest(dest);
                    let before = reference.len();
                    reference.retain(|_, e| e.dest != dest);
                    assert_eq!(n, before - reference.len());
                }
            }
            assert_eq!(f.len(), reference.len());
        }
        for (k, e) in &reference {
            assert_eq!(f.get(*k), Some(*e));
        }
        assert_eq!(f.iter().count(), reference.len());
    }

    #[test]
    fn batch_lookups_match_single_ones() {
        let mut f = Fdb::with_capacity(128);
        let keys: Vec<FdbKey> = (1..=100).map(|i| key(i % 5, i as u8)).collect();
        for (i, k) in keys.iter().enumerate().filter(|(i, _)| i % 2 == 0) {
            f.insert(*k, FdbEntry::learned(Dest::Access(i as u8), 0))
                .unwrap();
        }
        let mut out = vec![None; keys.len()];
        f.get_many(&keys, &mut out);
        for (k, o) in keys.iter().zip(&out) {
            assert_eq!(*o, f.get(*k));
        }
    }
}
