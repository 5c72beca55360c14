//! One worker's connection table for the stateful policy: sessions keyed by zone (the
//! tenant's VRF, or the VNI of a segment outside any VRF) and the normalised 5-tuple, so
//! both directions of a flow find the same session.
//!
//! All memory is taken when the table is made: a slab of `capacity` sessions with a free
//! list, and an index of at least twice as many 8-byte entries (open addressing, linear
//! probing, backward-shift removal: no tombstones, no rehash), so neither insert nor remove
//! ever allocates on the data path. An index entry is the low 32 bits of the key's hash
//! (which also give its home position) and the session's slab slot: a lookup reads one index
//! line and the session itself, and both can be prefetched a packet or two ahead
//! (`prefetch_index`, `prefetch_session`). Why not hashbrown: its buckets hold the key, so
//! the table spreads over ten times the memory and cannot be prefetched from a hash.
//!
//! TCP is tracked only as far as aging needs (VPP's acl-plugin does the same): a session is
//! transient until both directions have been seen, established after, and closing after a
//! RST or a FIN from each side; each state has its idle timeout. Aging walks the slab a few
//! slots per burst (`expire`).

use std::net::IpAddr;

use super::hash::fold_mul;
use super::policy::{FlowKey, RuleSlot, TickTimeouts};

/// The direction-free identity of a flow: the two (address, port) ends in order, IPv4 as
/// IPv4-mapped IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionKey {
    lo: u128,
    hi: u128,
    zone: u32,
    lo_port: u16,
    hi_port: u16,
    protocol: u8,
}

#[inline(always)]
fn addr_bits(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(a) => u128::from(a.to_ipv6_mapped()),
        IpAddr::V6(a) => u128::from(a),
    }
}

const HASH_MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;
/// Odd constants that keep a zero word from zeroing its product.
const HASH_KEYS: [u64; 4] = [
    0xa076_1d64_78bd_642f,
    0xe703_7ed1_a0b4_28db,
    0x8ebc_6af0_9c88_c6e3,
    0x5899_65cc_7537_4cc3,
];

impl SessionKey {
    /// The zone: a VRF (`pipeline::policy::vrf_slot_of_zone`), or a VNI outside any VRF.
    pub fn zone(&self) -> u32 {
        self.zone
    }

    /// The key of `flow` in `zone`, whichever direction `flow` is.
    #[inline(always)]
    pub fn of(zone: u32, flow: &FlowKey) -> SessionKey {
        let a = (addr_bits(flow.src), flow.src_port);
        let b = (addr_bits(flow.dst), flow.dst_port);
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        SessionKey {
            lo: lo.0,
            hi: hi.0,
            zone,
            lo_port: lo.1,
            hi_port: hi.1,
            protocol: flow.protocol,
        }
    }

    /// The key's hash under `seed` (the table's): three independent folded multiplies of
    /// word pairs, then one to mix them, so the latency is two multiplies, not five.
    #[inline(always)]
    pub fn hash(&self, seed: u64) -> u64 {
        let meta = u64::from(self.zone) << 32
            | u64::from(self.lo_port) << 16
            | u64::from(self.hi_port)
            | u64::from(self.protocol) << 56;
        let a = fold_mul(self.lo as u64 ^ seed, self.hi as u64 ^ HASH_KEYS[0]);
        let b = fold_mul(
            (self.lo >> 64) as u64 ^ HASH_KEYS[1],
            (self.hi >> 64) as u64 ^ seed.rotate_left(32),
        );
        let c = fold_mul(meta ^ HASH_KEYS[2], seed ^ HASH_KEYS[3]);
        fold_mul(a ^ b.rotate_left(21) ^ c.rotate_left(42), HASH_MULTIPLIER)
    }
}

/// Where a TCP session is, as far as its timeout goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpState {
    Transient,
    Established,
    Closing,
}

/// TCP flags the tracker reads.
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const ACK: u8 = 0x10;
}

/// One tracked flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    pub key: SessionKey,
    /// The first packet's direction: the initiator's view.
    pub flow: FlowKey,
    /// The tenant slot the session counts against.
    pub tenant: u16,
    /// The rule that admitted it, and the policy generation that rule was in.
    pub slot: RuleSlot,
    pub rule_id: u32,
    pub generation: u32,
    pub log: bool,
    pub created: u32,
    pub last: u32,
    /// When the management thread last heard of it (opened, or an interim report).
    pub reported: u32,
    /// Initiator → responder, and back.
    pub packets: u64,
    pub bytes: u64,
    pub reverse_packets: u64,
    pub reverse_bytes: u64,
    /// TCP: what each side has sent.
    fin_forward: bool,
    fin_reverse: bool,
    rst: bool,
}

impl Session {
    /// A session for `flow` (its first packet's direction), nothing counted yet.
    pub fn new(key: SessionKey, flow: FlowKey, tenant: u16, now: u32) -> Session {
        Session {
            key,
            flow,
            tenant,
            slot: 0,
            rule_id: 0,
            generation: 0,
            log: false,
            created: now,
            last: now,
            reported: now,
            packets: 0,
            bytes: 0,
            reverse_packets: 0,
            reverse_bytes: 0,
            fin_forward: false,
            fin_reverse: false,
            rst: false,
        }
    }

    /// Whether a packet with source `src`/`src_port` goes the initiator's way.
    #[inline(always)]
    pub fn is_forward(&self, src: IpAddr, src_port: u16) -> bool {
        self.flow.src == src && self.flow.src_port == src_port
    }

    pub fn tcp_state(&self) -> TcpState {
        if self.rst || (self.fin_forward && self.fin_reverse) {
            TcpState::Closing
        } else if self.packets > 0 && self.reverse_packets > 0 {
            TcpState::Established
        } else {
            TcpState::Transient
        }
    }

    /// The idle time after which the session ends.
    pub fn timeout(&self, t: &TickTimeouts) -> u32 {
        match self.flow.protocol {
            6 => match self.tcp_state() {
                TcpState::Transient => t.tcp_transient,
                TcpState::Established => t.tcp_established,
                TcpState::Closing => t.tcp_closed,
            },
            17 => t.udp,
            _ => t.other,
        }
    }

    /// Counts a packet of `len` bytes in its direction, with its TCP flags.
    #[inline(always)]
    pub fn account(&mut self, forward: bool, len: u64, flags: u8, now: u32) {
        self.last = now;
        if forward {
            self.packets = self.packets.wrapping_add(1);
            self.bytes = self.bytes.wrapping_add(len);
            self.fin_forward |= flags & tcp_flags::FIN != 0;
        } else {
            self.reverse_packets = self.reverse_packets.wrapping_add(1);
            self.reverse_bytes = self.reverse_bytes.wrapping_add(len);
            self.fin_reverse |= flags & tcp_flags::FIN != 0;
        }
        self.rst |= flags & tcp_flags::RST != 0;
    }

    /// Whether a bare SYN reopens a closing connection (the port pair is reused).
    pub fn reopened_by(&self, flags: u8) -> bool {
        self.flow.protocol == 6
            && self.tcp_state() == TcpState::Closing
            && flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN
    }
}

/// What aging found in a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aged {
    /// Idle past its timeout: removed.
    Ended(Session),
    /// Still live, and due an interim report: its counts so far.
    Interim(Session),
}

/// Why a session could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The worker's table is full.
    TableFull,
    /// The tenant holds its share already.
    TenantLimit,
}

/// Tenant slots: one per VNI slot, then one per VRF slot.
pub const TENANT_SLOTS: usize = super::MAX_VNIS + super::route::MAX_VRFS;

/// An index entry: the key hash's low 32 bits above, the slab slot + 1 below (0: empty).
type Entry = u64;

#[inline(always)]
fn entry(hash: u64, slot: u32) -> Entry {
    (hash << 32) | u64::from(slot).wrapping_add(1)
}

#[inline(always)]
fn entry_slot(e: Entry) -> Option<usize> {
    (e as u32).checked_sub(1).map(|s| s as usize)
}

#[inline(always)]
fn entry_tag(e: Entry) -> u32 {
    (e >> 32) as u32
}

/// A worker's sessions (see the module docs).
#[derive(Debug)]
pub struct Sessions {
    index: crate::dpdk::TableMemory<Entry>,
    /// Index positions - 1 (a power of two less one).
    mask: usize,
    seed: u64,
    slab: Vec<Option<Session>>,
    free: Vec<u32>,
    tenants: Vec<u32>,
    len: usize,
    /// The next slot `expire` looks at.
    cursor: usize,
}

impl Sessions {
    pub fn new(capacity: u32) -> Sessions {
        let capacity = capacity.max(1) as usize;
        // At most half full: probe sequences stay short and always end at an empty entry.
        let positions = capacity.saturating_mul(2).next_power_of_two();
        Sessions {
            index: crate::dpdk::TableMemory::zeroed(positions),
            mask: positions.saturating_sub(1),
            seed: super::hash::process_seed(),
            slab: vec![None; capacity],
            // Popped from the end: slot 0 first.
            free: (0..capacity as u32).rev().collect(),
            tenants: vec![0; TENANT_SLOTS],
            len: 0,
            cursor: 0,
        }
    }

    pub fn capacity(&self) -> usize {
        self.slab.len()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `key`'s hash in this table.
    #[inline(always)]
    pub fn hash(&self, key: &SessionKey) -> u64 {
        key.hash(self.seed)
    }

    #[inline(always)]
    fn home(&self, hash: u64) -> usize {
        (hash as u32 as usize) & self.mask
    }

    /// Brings the index line where a key of `hash` starts its probe closer.
    #[inline(always)]
    pub fn prefetch_index(&self, hash: u64) {
        if let Some(e) = self.index.get(self.home(hash)) {
            crate::dpdk::prefetch(e);
        }
    }

    /// Brings the session the index names first for `hash` closer (its tag only, no key
    /// compare: a wrong guess costs one useless prefetch). Best after `prefetch_index`.
    #[inline(always)]
    pub fn prefetch_session(&self, hash: u64) {
        let tag = hash as u32;
        let mut at = self.home(hash);
        for _ in 0..4 {
            let Some(&e) = self.index.get(at) else {
                return;
            };
            if e == 0 {
                return;
            }
            if entry_tag(e) == tag {
                if let Some(Some(s)) = entry_slot(e).and_then(|slot| self.slab.get(slot)) {
                    crate::dpdk::prefetch(s);
                    crate::dpdk::prefetch(&s.bytes);
                }
                return;
            }
            at = at.wrapping_add(1) & self.mask;
        }
    }

    /// The index position and slab slot of `key` (of `hash`).
    #[inline(always)]
    fn find(&self, key: &SessionKey, hash: u64) -> Option<(usize, usize)> {
        let tag = hash as u32;
        let mut at = self.home(hash);
        // Bounded by the index size: it always holds an empty entry, so this never runs out.
        for _ in 0..=self.mask {
            let e = *self.index.get(at)?;
            if e == 0 {
                return None;
            }
            if entry_tag(e) == tag {
                if let Some(slot) = entry_slot(e) {
                    if matches!(self.slab.get(slot), Some(Some(s)) if s.key == *key) {
                        return Some((at, slot));
                    }
                }
            }
            at = at.wrapping_add(1) & self.mask;
        }
        None
    }

    /// Empties index position `at`, moving later entries of its probe run back so every
    /// entry stays reachable from its home without tombstones.
    fn unlink(&mut self, at: usize) {
        let mask = self.mask;
        let mut hole = at;
        let mut next = at;
        for _ in 0..mask {
            next = next.wrapping_add(1) & mask;
            let Some(&e) = self.index.get(next) else {
                break;
            };
            if e == 0 {
                break;
            }
            let home = (entry_tag(e) as usize) & mask;
            // The entry may fill the hole unless its home lies after the hole (cyclically,
            // in (hole, next]).
            if next.wrapping_sub(home) & mask >= next.wrapping_sub(hole) & mask {
                if let Some(h) = self.index.get_mut(hole) {
                    *h = e;
                }
                hole = next;
            }
        }
        if let Some(h) = self.index.get_mut(hole) {
            *h = 0;
        }
    }

    /// Sessions `tenant` holds on this worker.
    pub fn tenant_count(&self, tenant: u16) -> u32 {
        self.tenants.get(usize::from(tenant)).copied().unwrap_or(0)
    }

    /// The session of `key`, if tracked.
    #[inline(always)]
    pub fn get_mut(&mut self, key: &SessionKey) -> Option<&mut Session> {
        let (_, slot) = self.find(key, self.hash(key))?;
        self.slab.get_mut(slot)?.as_mut()
    }

    /// The session of `key`, looked up first with `hinted` (a hash worked out ahead, which
    /// may be of another key): a hit is checked against the whole key, so a wrong hint
    /// costs only the probe with the right hash after it.
    #[inline(always)]
    pub fn get_mut_hinted(
        &mut self,
        key: &SessionKey,
        hinted: Option<u64>,
    ) -> Option<&mut Session> {
        let found = hinted.and_then(|h| self.find(key, h)).or_else(|| {
            let hash = self.hash(key);
            if hinted == Some(hash) {
                None
            } else {
                self.find(key, hash)
            }
        });
        let (_, slot) = found?;
        self.slab.get_mut(slot)?.as_mut()
    }

    /// Opens a session for `s` unless the table or its tenant is full.
    pub fn open(&mut self, s: Session, tenant_limit: u32) -> Result<&mut Session, Refused> {
        let tenant = usize::from(s.tenant);
        let held = self.tenants.get(tenant).copied().unwrap_or(u32::MAX);
        if held >= tenant_limit {
            return Err(Refused::TenantLimit);
        }
        let Some(slot) = self.free.pop() else {
            return Err(Refused::TableFull);
        };
        let hash = self.hash(&s.key);
        // A key already tracked keeps its one entry (the caller looks up first).
        if let Some((at, old)) = self.find(&s.key, hash) {
            self.unlink(at);
            self.release(old as u32);
        }
        if let Some(n) = self.tenants.get_mut(tenant) {
            *n = n.saturating_add(1);
        }
        let mut at = self.home(hash);
        for _ in 0..=self.mask {
            match self.index.get_mut(at) {
                Some(e) if *e == 0 => {
                    *e = entry(hash, slot);
                    break;
                }
                _ => at = at.wrapping_add(1) & self.mask,
            }
        }
        self.len = self.len.saturating_add(1);
        let at = self.slab.get_mut(slot as usize).ok_or(Refused::TableFull)?;
        Ok(at.insert(s))
    }

    /// Ends the session of `key`; returns it.
    pub fn close(&mut self, key: &SessionKey) -> Option<Session> {
        let (at, slot) = self.find(key, self.hash(key))?;
        self.unlink(at);
        self.release(slot as u32)
    }

    /// Returns slab slot `slot` (already out of the index) to the free list.
    fn release(&mut self, slot: u32) -> Option<Session> {
        let s = self.slab.get_mut(slot as usize)?.take()?;
        self.len = self.len.saturating_sub(1);
        if let Some(n) = self.tenants.get_mut(usize::from(s.tenant)) {
            *n = n.saturating_sub(1);
        }
        self.free.push(slot);
        Some(s)
    }

    /// Looks at up to `budget` slab slots from where the last call stopped: ends the sessions
    /// idle past their timeout, and hands the live ones not reported for `interim` ticks
    /// (0: never) over for an interim report.
    pub fn expire(
        &mut self,
        now: u32,
        timeouts: &TickTimeouts,
        interim: u32,
        budget: usize,
        mut aged: impl FnMut(Aged),
    ) {
        let n = self.slab.len();
        for _ in 0..budget.min(n) {
            let slot = self.cursor;
            let next = slot.saturating_add(1);
            self.cursor = if next >= n { 0 } else { next };
            let Some(Some(s)) = self.slab.get_mut(slot) else {
                continue;
            };
            if now.wrapping_sub(s.last) < s.timeout(timeouts) {
                if interim != 0 && now.wrapping_sub(s.reported) >= interim {
                    s.reported = now;
                    aged(Aged::Interim(*s));
                }
                continue;
            }
            let key = s.key;
            if let Some((at, _)) = self.find(&key, self.hash(&key)) {
                self.unlink(at);
            }
            if let Some(s) = self.release(slot as u32) {
                aged(Aged::Ended(s));
            }
        }
    }

    /// Ends every session, handing each to `ended` (the policy was removed).
    pub fn clear(&mut self, mut ended: impl FnMut(Session)) {
        self.index.fill(0);
        for slot in 0..self.slab.len() {
            if let Some(s) = self.release(slot as u32) {
                ended(s);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(src: &str, sport: u16, dst: &str, dport: u16) -> FlowKey {
        FlowKey {
            protocol: 6,
            src_vni: 1000,
            dst_vni: 9000,
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            src_port: sport,
            dst_port: dport,
        }
    }

    fn session(f: FlowKey, tenant: u16, now: u32) -> Session {
        Session::new(SessionKey::of(7, &f), f, tenant, now)
    }

    const T: TickTimeouts = TickTimeouts {
        tcp_established: 1000,
        tcp_transient: 100,
        tcp_closed: 10,
        udp: 500,
        other: 50,
    };

    #[test]
    fn both_directions_share_a_key() {
        let a = flow("10.1.0.5", 40000, "10.90.0.7", 22);
        let b = flow("10.90.0.7", 22, "10.1.0.5", 40000);
        assert_eq!(SessionKey::of(7, &a), SessionKey::of(7, &b));
        assert_ne!(SessionKey::of(7, &a), SessionKey::of(8, &a));
    }

    #[test]
    fn tcp_states_pick_the_timeout() {
        let mut s = session(flow("10.1.0.5", 40000, "10.90.0.7", 22), 0, 0);
        s.account(true, 60, tcp_flags::SYN, 1);
        assert_eq!(s.timeout(&T), 100);
        s.account(false, 60, tcp_flags::SYN | tcp_flags::ACK, 2);
        assert_eq!(s.tcp_state(), TcpState::Established);
        s.account(true, 60, tcp_flags::FIN | tcp_flags::ACK, 3);
        assert_eq!(s.tcp_state(), TcpState::Established);
        s.account(false, 60, tcp_flags::FIN | tcp_flags::ACK, 4);
        assert_eq!(s.timeout(&T), 10);
        assert!(s.reopened_by(tcp_flags::SYN));
        assert!(!s.reopened_by(tcp_flags::ACK));
        assert_eq!((s.packets, s.reverse_packets, s.bytes), (2, 2, 120));
    }

    #[test]
    fn tenant_limit_and_table_full_refuse() {
        let mut t = Sessions::new(3);
        for port in 0..2 {
            t.open(
                session(flow("10.1.0.5", 1000 + port, "10.90.0.7", 22), 1, 0),
                2,
            )
            .unwrap();
        }
        let third = session(flow("10.1.0.5", 1002, "10.90.0.7", 22), 1, 0);
        assert_eq!(t.open(third, 2).unwrap_err(), Refused::TenantLimit);
        // Another tenant still gets one.
        t.open(session(flow("10.2.0.5", 1, "10.90.0.7", 22), 2, 0), 2)
            .unwrap();
        let fourth = session(flow("10.2.0.5", 2, "10.90.0.7", 22), 2, 0);
        assert_eq!(t.open(fourth, 2).unwrap_err(), Refused::TableFull);
        assert_eq!((t.tenant_count(1), t.tenant_count(2), t.len()), (2, 1, 3));
    }

    #[test]
    fn expire_ends_idle_sessions_only_and_frees_their_slots() {
        let mut t = Sessions::new(4);
        let idle = session(flow("10.1.0.5", 1, "10.90.0.7", 22), 1, 0);
        let busy = session(flow("10.1.0.5", 2, "10.90.0.7", 22), 1, 0);
        t.open(idle, 10).unwrap();
        t.open(busy, 10)
            .unwrap()
            .account(true, 60, tcp_flags::SYN, 90);
        let (mut ended, mut interim) = (Vec::new(), Vec::new());
        t.expire(120, &T, 100, 4, |a| match a {
            Aged::Ended(s) => ended.push(s.flow.src_port),
            Aged::Interim(s) => interim.push((s.flow.src_port, s.packets)),
        });
        assert_eq!(ended, vec![1]);
        // The live one is due its interim report (opened at 0, interim 100), once.
        assert_eq!(interim, vec![(2, 1)]);
        t.expire(150, &T, 100, 4, |a| panic!("nothing due at 150: {a:?}"));
        assert_eq!((t.len(), t.tenant_count(1)), (1, 1));
        assert!(t.get_mut(&busy.key).is_some());
        // Churn far beyond the capacity never needs more memory.
        for round in 0..10_000u32 {
            let f = flow("10.3.0.1", (round % 60000) as u16 + 3, "10.90.0.7", 22);
            let s = session(f, 3, round);
            t.open(s, 10).unwrap();
            assert!(t.close(&s.key).is_some());
        }
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn clear_ends_everything() {
        let mut t = Sessions::new(4);
        t.open(session(flow("10.1.0.5", 1, "10.90.0.7", 22), 1, 0), 10)
            .unwrap();
        let mut n = 0;
        t.clear(|_| n += 1);
        assert_eq!((n, t.len(), t.tenant_count(1)), (1, 0, 0));
    }

    #[test]
    fn a_hinted_lookup_finds_the_key_whatever_the_hint() {
        let mut t = Sessions::new(8);
        let s = session(flow("10.1.0.5", 1, "10.90.0.7", 22), 1, 0);
        let other = session(flow("10.1.0.6", 1, "10.90.0.7", 22), 1, 0);
        t.open(s, 10).unwrap();
        t.open(other, 10).unwrap();
        let right = t.hash(&s.key);
        for hint in [Some(right), Some(t.hash(&other.key)), Some(right ^ 1), None] {
            let got = t.get_mut_hinted(&s.key, hint).map(|x| x.key);
            assert_eq!(got, Some(s.key), "hint {hint:?}");
        }
        t.close(&s.key);
        assert!(t.get_mut_hinted(&s.key, Some(right)).is_none());
    }

    /// Random opens and closes in a small, crowded index (wrapping probe runs, removals in
    /// the middle of runs), checked against a model after every step.
    #[test]
    fn the_index_finds_exactly_what_is_open_through_any_churn() {
        let mut t = Sessions::new(48);
        let mut model = std::collections::HashSet::new();
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let key_of = |n: u64| {
            let f = flow(
                &format!("10.1.0.{}", n % 7),
                (n / 7) as u16,
                "10.90.0.7",
                22,
            );
            (SessionKey::of(3, &f), f)
        };
        for step in 0..20_000 {
            let n = next() % 96;
            let (key, f) = key_of(n);
            if model.contains(&n) {
                assert!(
                    t.close(&key).is_some(),
                    "step {step}: {n} not found to close"
                );
                model.remove(&n);
            } else if model.len() < 48 {
                t.open(Session::new(key, f, 1, 0), u32::MAX).unwrap();
                model.insert(n);
            }
            assert_eq!(t.len(), model.len());
            if step % 97 == 0 {
                for m in 0..96 {
                    let (k, _) = key_of(m);
                    assert_eq!(
                        t.get_mut(&k).is_some(),
                        model.contains(&m),
                        "step {step}: {m}"
                    );
                }
            }
        }
        // Aging everything out empties the index too.
        for _ in 0..2 {
            t.expire(u32::MAX / 2, &T, 0, 48, |_| {});
        }
        assert!(t.is_empty());
        assert!((0..96).all(|m| t.get_mut(&key_of(m).0).is_none()));
    }
}
