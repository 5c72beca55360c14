//! The management thread's side of table sync: takes the workers' events, changes the
//! authoritative tables, ages them, resolves the underlay next hops, and sends every change
//! to every worker.
//!
//! Workers are never blocked: when a worker's update queue is full the updates wait here, in
//! order, in that worker's backlog, and go out on the next tick.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam::queue::ArrayQueue;

use crate::dpdk::{Mbuf, Mempool};
use crate::tables::authority::{Authority, Change};
use crate::tables::sync::SyncChannel;
use crate::tables::update::{Event, Update};
use crate::tables::Replica;
use crate::wire::MacAddr;

use super::evpn::Evpn;
use super::multicast;
use super::neighbor::{self, Action, Resolver};
use super::policy::{Clock, PolicyControl};
use crate::tables::policy::TICKS_PER_SECOND;

/// Events taken from one worker per tick: bounds a tick's length under a learning storm.
const EVENTS_PER_TICK: usize = 65536;
const AGING_PERIOD: Duration = Duration::from_secs(1);
const REPORT_PERIOD: Duration = Duration::from_secs(10);

/// Counters of the management thread's sync work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SyncStats {
    pub events: u64,
    pub updates_sent: u64,
    /// Updates that waited in a backlog because a worker's queue was full.
    pub updates_deferred: u64,
    pub solicitations: u64,
    /// IGMP/MLD membership reports for the underlay groups.
    pub membership_reports: u64,
    /// Management packets not sent (no buffer, or the slow path queue was full).
    pub slow_path_dropped: u64,
}

#[derive(Debug)]
pub struct TableManager {
    pub authority: Authority,
    channels: Vec<Arc<SyncChannel>>,
    backlog: Vec<VecDeque<Update>>,
    resolver: Resolver,
    slow_path: Arc<ArrayQueue<Mbuf>>,
    pool: Mempool,
    underlay_mac: MacAddr,
    epoch: Instant,
    next_aging: Instant,
    next_report: Instant,
    reported: crate::tables::authority::AuthorityStats,
    mac_age_secs: u64,
    /// Underlay multicast groups the VNIs flood to, and when to report membership next.
    groups: Vec<std::net::IpAddr>,
    next_membership: Instant,
    joined: bool,
    /// BGP EVPN through FRR, when configured.
    evpn: Option<Evpn>,
    /// The policy the workers classify with, and their connection log.
    pub policy: PolicyControl,
    pub stats: SyncStats,
}

impl TableManager {
    pub fn new(
        authority: Authority,
        channels: Vec<Arc<SyncChannel>>,
        slow_path: Arc<ArrayQueue<Mbuf>>,
        pool: Mempool,
        underlay_mac: MacAddr,
        mac_age_secs: u32,
    ) -> TableManager {
        let now = Instant::now();
        let timeout = Duration::from_secs(u64::from(authority.underlay().neighbor_timeout_secs));
        let channels_len = channels.len();
        TableManager {
            backlog: channels.iter().map(|_| VecDeque::new()).collect(),
            channels,
            authority,
            resolver: Resolver::new(timeout),
            slow_path,
            pool,
            underlay_mac,
            epoch: now,
            next_aging: now + AGING_PERIOD,
            next_report: now + REPORT_PERIOD,
            reported: Default::default(),
            mac_age_secs: u64::from(mac_age_secs),
            groups: Vec::new(),
            next_membership: now,
            joined: false,
            evpn: None,
            policy: PolicyControl::new(
                channels_len,
                Clock {
                    tsc_per_tick: crate::dpdk::tsc_hz() / u64::from(TICKS_PER_SECOND),
                    now_tsc: crate::dpdk::tsc,
                },
                true,
            ),
            stats: SyncStats::default(),
        }
    }

    /// Builds `cfg` (None: no policy) and sends it to every worker, after the updates
    /// before it. A policy that cannot be built changes nothing.
    pub fn set_policy(
        &mut self,
        cfg: Option<&crate::config::PolicyConfig>,
    ) -> Result<(), crate::tables::policy::PolicyBuildError> {
        self.policy.install(cfg)?;
        for w in 0..self.channels.len() {
            let u = self.policy.update_for(w);
            self.send_to(w, u);
        }
        Ok(())
    }

    /// Queues `u` for worker `w`, behind its backlog.
    fn send_to(&mut self, w: usize, u: Update) {
        let (Some(ch), Some(backlog)) = (self.channels.get(w), self.backlog.get_mut(w)) else {
            return;
        };
        self.stats.updates_sent += 1;
        if backlog.is_empty() {
            if let Err(u) = ch.send(u) {
                self.stats.updates_deferred += 1;
                backlog.push_back(u);
            }
        } else {
            self.stats.updates_deferred += 1;
            backlog.push_back(u);
        }
    }

    /// Hands EVPN its table changes from now on (and the routes it imports to the tables).
    pub fn attach_evpn(&mut self, evpn: Evpn) {
        self.evpn = Some(evpn);
    }

    pub fn underlay_mac(&self) -> MacAddr {
        self.underlay_mac
    }

    pub fn evpn(&self) -> Option<&Evpn> {
        self.evpn.as_ref()
    }

    /// Stops EVPN: the namespace's devices go, and FRR withdraws their routes.
    pub fn stop_evpn(&mut self) {
        self.evpn = None;
    }

    /// Changes how long learned MACs live (a reload).
    pub fn set_mac_age(&mut self, secs: u32) {
        self.mac_age_secs = u64::from(secs);
    }

    /// The management clock, in seconds since start (what `last_seen` is measured in).
    pub fn now_secs(&self) -> u64 {
        self.seconds(Instant::now())
    }

    pub fn update_queue_depths(&self) -> Vec<usize> {
        self.channels
            .iter()
            .zip(&self.backlog)
            .map(|(c, b)| c.pending_updates() + b.len())
            .collect()
    }

    pub fn update_queue_full(&self) -> u64 {
        self.channels
            .iter()
            .map(|c| {
                c.update_queue_full
                    .load(std::sync::atomic::Ordering::Relaxed)
            })
            .sum()
    }

    /// Sets the underlay groups to report membership of.
    pub fn set_groups(&mut self, groups: Vec<std::net::IpAddr>) {
        self.groups = groups;
        self.next_membership = Instant::now();
        self.joined = false;
    }

    /// A replica with the current tables, for a worker about to start.
    pub fn replica(&self, ports: usize, fdb_capacity: usize) -> Replica {
        self.authority.replica(ports, fdb_capacity)
    }

    fn seconds(&self, now: Instant) -> u64 {
        now.duration_since(self.epoch).as_secs()
    }

    /// One round of management work; called every millisecond or so.
    pub fn tick(&mut self) {
        let now = Instant::now();
        let secs = self.seconds(now);
        let mut changes = Vec::new();
        for w in 0..self.channels.len() {
            for _ in 0..EVENTS_PER_TICK {
                let Some(ev) = self.channels.get(w).and_then(|c| c.next_event()) else {
                    break;
                };
                self.stats.events += 1;
                self.event(ev, secs, now, &mut changes);
            }
        }
        if let Some(e) = self.evpn.as_mut() {
            changes.extend(e.import(&mut self.authority));
        }
        if now >= self.next_aging {
            let aged = self.authority.expire(secs, self.mac_age_secs);
            if !aged.is_empty() {
                tracing::debug!("aging: {} table changes", aged.len());
            }
            changes.extend(aged);
            self.next_aging = now + AGING_PERIOD;
        }
        if self.authority.underlay().next_hop_mac.is_none() {
            let wanted = self.authority.gateways();
            for action in self.resolver.tick(&wanted, now) {
                match action {
                    Action::Solicit(ip) => self.solicit(ip),
                    Action::Lost(ip) => changes.extend(self.authority.set_neighbor(ip, None)),
                }
            }
        }
        self.fanout(&changes);
        self.flush_backlog();
        self.policy.tick(&self.channels, &self.authority);
        if now >= self.next_membership && !self.groups.is_empty() {
            let groups = self.groups.clone();
            let kind = if self.joined {
                multicast::Membership::Member
            } else {
                multicast::Membership::Join
            };
            self.report_membership(&groups, kind);
            self.joined = true;
            self.next_membership = now + Duration::from_secs(multicast::REPORT_INTERVAL_SECS);
        }
        if now >= self.next_report {
            self.report();
            self.next_report = now + REPORT_PERIOD;
        }
    }

    fn event(&mut self, ev: Event, secs: u64, now: Instant, changes: &mut Vec<Change>) {
        match self.authority.absorb(ev, secs, changes) {
            Some(Event::Neighbor { ip, mac }) if self.resolver.answered(ip, mac, now) => {
                changes.extend(self.authority.set_neighbor(ip, Some(mac)));
            }
            // Replaced table values, freed here rather than on a worker.
            Some(Event::Garbage(g)) => drop(g),
            // `absorb` handled it, or a neighbour answer nobody asked for.
            _ => {}
        }
    }

    /// IGMP/MLD reports of `groups` on the underlay.
    fn report_membership(&mut self, groups: &[std::net::IpAddr], kind: multicast::Membership) {
        let frames = multicast::reports(
            groups,
            self.authority.underlay().source_v4(),
            self.underlay_mac,
            kind,
        );
        for f in frames {
            if self.send_slow_path(&f) {
                self.stats.membership_reports += 1;
            }
        }
    }

    /// After the VNIs' groups changed (a VNI added, changed or removed by the API or a
    /// reload): joins the new groups and leaves those no VNI floods to any more, at once
    /// rather than at the next periodic report.
    fn follow_groups(&mut self) {
        let now = self.authority.groups();
        let joined: Vec<_> = now
            .iter()
            .filter(|g| !self.groups.contains(g))
            .copied()
            .collect();
        let left: Vec<_> = self
            .groups
            .iter()
            .filter(|g| !now.contains(g))
            .copied()
            .collect();
        tracing::info!("underlay groups: joined {joined:?}, left {left:?}");
        self.report_membership(&joined, multicast::Membership::Join);
        self.report_membership(&left, multicast::Membership::Leave);
        self.groups = now;
    }

    /// Sends the current state of every changed object to every worker, in order, each
    /// object once.
    pub fn fanout(&mut self, changes: &[Change]) {
        if changes.is_empty() {
            return;
        }
        if changes.contains(&Change::Groups) {
            self.follow_groups();
        }
        let mut seen = HashSet::with_capacity(changes.len());
        let unique: Vec<&Change> = changes.iter().filter(|c| seen.insert(**c)).collect();
        if let Some(e) = self.evpn.as_mut() {
            e.observe(changes, &self.authority);
        }
        for w in 0..self.channels.len() {
            for c in &unique {
                let u = self.authority.render(c);
                self.send_to(w, u);
            }
        }
    }

    fn flush_backlog(&mut self) {
        for (ch, backlog) in self.channels.iter().zip(self.backlog.iter_mut()) {
            while let Some(u) = backlog.pop_front() {
                if let Err(u) = ch.send(u) {
                    backlog.push_front(u);
                    break;
                }
            }
        }
    }

    /// The workers' channels, in worker order.
    pub fn channels(&self) -> &[Arc<SyncChannel>] {
        &self.channels
    }

    pub fn events_dropped(&self) -> u64 {
        self.channels
            .iter()
            .map(|c| c.events_dropped.load(std::sync::atomic::Ordering::Relaxed))
            .sum()
    }

    pub fn updates_applied(&self) -> u64 {
        self.channels
            .iter()
            .map(|c| c.updates_applied.load(std::sync::atomic::Ordering::Relaxed))
            .sum()
    }

    /// True when every worker has applied every update sent so far.
    pub fn in_sync(&self) -> bool {
        self.backlog.iter().all(VecDeque::is_empty)
            && self.channels.iter().all(|c| c.pending_updates() == 0)
    }

    fn solicit(&mut self, ip: std::net::IpAddr) {
        if let Some(frame) =
            neighbor::solicitation(self.authority.underlay(), self.underlay_mac, ip)
        {
            if self.send_slow_path(&frame) {
                self.stats.solicitations += 1;
            }
        }
    }

    /// Hands a frame the management thread built to a worker, to go out on the underlay.
    fn send_slow_path(&mut self, frame: &[u8]) -> bool {
        let Some(mut m) = self.pool.alloc() else {
            self.stats.slow_path_dropped += 1;
            return false;
        };
        match m.append(frame.len() as u16) {
            Some(buf) => buf.copy_from_slice(frame),
            None => {
                self.stats.slow_path_dropped += 1;
                return false;
            }
        }
        match self.slow_path.push(m) {
            Ok(()) => true,
            Err(_) => {
                self.stats.slow_path_dropped += 1;
                false
            }
        }
    }

    /// A summary line when learning was refused (a learn storm, a MAC limit, spoofing):
    /// one line per period, never one per packet.
    fn report(&mut self) {
        let s = self.authority.stats;
        let r = self.reported;
        let refused = (s.refused_static - r.refused_static)
            + (s.refused_limit - r.refused_limit)
            + (s.refused_full - r.refused_full)
            + (s.binding_spoof_refused - r.binding_spoof_refused);
        if refused > 0 {
            tracing::warn!(
                "learning refused in the last {}s: {} moves of static MACs, {} over a VNI's max_macs, \
                 {} with the table full, {} ARP/ND claims on static bindings",
                REPORT_PERIOD.as_secs(),
                s.refused_static - r.refused_static,
                s.refused_limit - r.refused_limit,
                s.refused_full - r.refused_full,
                s.binding_spoof_refused - r.binding_spoof_refused
            );
        }
        let learned = s.learned - r.learned;
        if learned > 10_000 {
            tracing::warn!(
                "learn storm: {learned} new MACs in the last {}s ({} in the table)",
                REPORT_PERIOD.as_secs(),
                self.authority.fdb_len()
            );
        }
        self.reported = s;
    }
}
