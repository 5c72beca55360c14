//! One worker's connection table for the stateful policy: sessions keyed by zone (the
//! tenant's VRF, or the VNI of a segment outside any VRF) and the normalised 5-tuple, so
//! both directions of a flow find the same session.
//!
//! All memory is taken when the table is made: a slab of `capacity` sessions with a free
//! list, and a hashbrown index sized at twice the capacity. hashbrown rehashes in place,
//! without allocating, while it is at most half full (tombstones from removals included),
//! so neither insert nor remove ever allocates on the data path.
//!
//! TCP is tracked only as far as aging needs (VPP's acl-plugin does the same): a session is
//! transient until both directions have been seen, established after, and closing after a
//! RST or a FIN from each side; each state has its idle timeout. Aging walks the slab a few
//! slots per burst (`expire`).

use std::net::IpAddr;

use super::policy::{FlowKey, RuleSlot, TickTimeouts};

/// The direction-free identity of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionKey {
    zone: u32,
    protocol: u8,
    lo: (IpAddr, u16),
    hi: (IpAddr, u16),
}

impl SessionKey {
    /// The zone: a VRF (`pipeline::policy::vrf_slot_of_zone`), or a VNI outside any VRF.
    pub fn zone(&self) -> u32 {
        self.zone
    }

    /// The key of `flow` in `zone`, whichever direction `flow` is.
    #[inline(always)]
    pub fn of(zone: u32, flow: &FlowKey) -> SessionKey {
        let a = (flow.src, flow.src_port);
        let b = (flow.dst, flow.dst_port);
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        SessionKey {
            zone,
            protocol: flow.protocol,
            lo,
            hi,
        }
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

/// A worker's sessions (see the module docs).
#[derive(Debug)]
pub struct Sessions {
    index: hashbrown::HashMap<SessionKey, u32>,
    slab: Vec<Option<Session>>,
    free: Vec<u32>,
    tenants: Vec<u32>,
    /// The next slot `expire` looks at.
    cursor: usize,
}

impl Sessions {
    pub fn new(capacity: u32) -> Sessions {
        let capacity = capacity.max(1) as usize;
        Sessions {
            index: hashbrown::HashMap::with_capacity(capacity.saturating_mul(2)),
            slab: vec![None; capacity],
            // Popped from the end: slot 0 first.
            free: (0..capacity as u32).rev().collect(),
            tenants: vec![0; TENANT_SLOTS],
            cursor: 0,
        }
    }

    pub fn capacity(&self) -> usize {
        self.slab.len()
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Sessions `tenant` holds on this worker.
    pub fn tenant_count(&self, tenant: u16) -> u32 {
        self.tenants.get(usize::from(tenant)).copied().unwrap_or(0)
    }

    /// The session of `key`, if tracked.
    #[inline(always)]
    pub fn get_mut(&mut self, key: &SessionKey) -> Option<&mut Session> {
        let slot = *self.index.get(key)?;
        self.slab.get_mut(slot as usize)?.as_mut()
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
        if let Some(n) = self.tenants.get_mut(tenant) {
            *n = n.saturating_add(1);
        }
        self.index.insert(s.key, slot);
        let at = self.slab.get_mut(slot as usize).ok_or(Refused::TableFull)?;
        Ok(at.insert(s))
    }

    /// Ends the session of `key`; returns it.
    pub fn close(&mut self, key: &SessionKey) -> Option<Session> {
        let slot = self.index.remove(key)?;
        self.release(slot)
    }

    fn release(&mut self, slot: u32) -> Option<Session> {
        let s = self.slab.get_mut(slot as usize)?.take()?;
        if let Some(n) = self.tenants.get_mut(usize::from(s.tenant)) {
            *n = n.saturating_sub(1);
        }
        self.free.push(slot);
        Some(s)
    }

    /// Looks at up to `budget` slab slots from where the last call stopped and ends the
    /// sessions idle past their timeout, handing each to `ended`.
    pub fn expire(
        &mut self,
        now: u32,
        timeouts: &TickTimeouts,
        budget: usize,
        mut ended: impl FnMut(Session),
    ) {
        let n = self.slab.len();
        for _ in 0..budget.min(n) {
            let slot = self.cursor;
            let next = slot.saturating_add(1);
            self.cursor = if next >= n { 0 } else { next };
            let idle = match self.slab.get(slot) {
                Some(Some(s)) => now.wrapping_sub(s.last) >= s.timeout(timeouts),
                _ => false,
            };
            if idle {
                if let Some(s) = self.slab.get(slot).copied().flatten() {
                    self.index.remove(&s.key);
                    if let Some(s) = self.release(slot as u32) {
                        ended(s);
                    }
                }
            }
        }
    }

    /// Ends every session, handing each to `ended` (the policy was removed).
    pub fn clear(&mut self, mut ended: impl FnMut(Session)) {
        for slot in 0..self.slab.len() {
            if let Some(s) = self.release(slot as u32) {
                ended(s);
            }
        }
        self.index.clear();
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
        let mut ended = Vec::new();
        t.expire(120, &T, 4, |s| ended.push(s.flow.src_port));
        assert_eq!(ended, vec![1]);
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
}
