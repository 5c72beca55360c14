//! The management side of the policy stage: builds the policy the workers classify with,
//! sends it to them, and turns their flow notes into the live session view (`vtepctl show
//! sessions`) and the IPFIX connection log.
//!
//! Workers never wait for any of this: their notes go through a bounded queue of their own
//! (`SyncChannel::note_flow`, drops counted), and the exporter's socket never blocks.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::PolicyConfig;
use crate::pipeline::policy::{EndCause, FlowNote};
use crate::tables::policy::{FlowKey, PolicyBuildError, PolicySet, TICKS_PER_SECOND};
use crate::tables::session::{Session, SessionKey, Sessions};
use crate::tables::sync::SyncChannel;
use crate::tables::update::{PolicyUpdate, Update};
use crate::wire::ipfix::{EndReason, FlowEvent, FlowRecord};

use super::ipfix::{Exporter, ExporterStats};

/// Notes taken from one worker per tick.
const NOTES_PER_TICK: usize = 65_536;

/// A live session as the management thread knows it (from its start note).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionEntry {
    pub worker: usize,
    pub session: Session,
}

/// Counters of the connection log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PolicyLogStats {
    /// Flow notes received from the workers.
    pub notes: u64,
    /// Records handed to the exporter.
    pub records: u64,
}

/// Where the management thread converts worker ticks into wall-clock time: workers count
/// ticks of the TSC, which every core shares.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub tsc_per_tick: u64,
    pub now_tsc: fn() -> u64,
}

impl Clock {
    fn now_tick(&self) -> u32 {
        ((self.now_tsc)().checked_div(self.tsc_per_tick).unwrap_or(0)) as u32
    }

    /// Unix milliseconds of worker tick `tick`, seen at `now`.
    fn unix_ms(&self, tick: u32, now: SystemTime) -> u64 {
        let ago =
            u64::from(self.now_tick().wrapping_sub(tick)) * 1000 / u64::from(TICKS_PER_SECOND);
        let now_ms = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        now_ms.saturating_sub(ago)
    }
}

/// What the records need to know about the tables: a VNI's encapsulation and a tenant's VRF.
pub trait Resolve {
    fn is_nvgre(&self, vni: u32) -> bool;
    fn vrf_id_of_tenant(&self, tenant: u16) -> u32;
}

#[derive(Debug)]
pub struct PolicyControl {
    config: Option<PolicyConfig>,
    set: Option<Arc<PolicySet>>,
    generation: u32,
    workers: usize,
    /// Which workers hold a session table.
    has_table: Vec<bool>,
    live: HashMap<(usize, SessionKey), Session>,
    /// What the connection log has reported of each live session so far (packets, bytes,
    /// reverse packets, reverse bytes): IPFIX counts are deltas since a flow's last record.
    reported: HashMap<(usize, SessionKey), [u64; 4]>,
    exporter: Option<Exporter>,
    records: Vec<FlowRecord>,
    clock: Clock,
    with_acl: bool,
    pub stats: PolicyLogStats,
}

impl PolicyControl {
    pub fn new(workers: usize, clock: Clock, with_acl: bool) -> PolicyControl {
        PolicyControl {
            config: None,
            set: None,
            generation: 0,
            workers,
            has_table: vec![false; workers],
            live: HashMap::new(),
            reported: HashMap::new(),
            exporter: None,
            records: Vec::new(),
            clock,
            with_acl,
            stats: PolicyLogStats::default(),
        }
    }

    pub fn config(&self) -> Option<&PolicyConfig> {
        self.config.as_ref()
    }

    pub fn set(&self) -> Option<&Arc<PolicySet>> {
        self.set.as_ref()
    }

    /// Builds `cfg` (None: no policy); on success it is the policy the next `updates` send.
    /// A policy that cannot be built changes nothing.
    pub fn install(&mut self, cfg: Option<&PolicyConfig>) -> Result<(), PolicyBuildError> {
        let set = match cfg {
            Some(c) => Some(Arc::new(PolicySet::build(
                c,
                self.generation.wrapping_add(1),
                self.workers,
                self.with_acl,
            )?)),
            None => None,
        };
        self.generation = self.generation.wrapping_add(1);
        let collectors = cfg.map(|c| c.ipfix.clone()).unwrap_or_default();
        let refresh = Duration::from_secs(u64::from(cfg.map_or(60, |c| c.ipfix_template_refresh)));
        if collectors.is_empty() {
            self.exporter = None;
        } else if let Some(e) = self.exporter.as_mut() {
            if let Err(err) = e.set_collectors(collectors, SystemTime::now()) {
                tracing::warn!("IPFIX collectors: {err}");
            }
        } else {
            match Exporter::new(collectors, 1, refresh) {
                Ok(e) => self.exporter = Some(e),
                Err(err) => tracing::warn!("IPFIX exporter: {err}; connection log not exported"),
            }
        }
        self.set = set;
        self.config = cfg.cloned();
        Ok(())
    }

    /// The update that gives worker `w` the current policy (with a session table if it has
    /// none yet).
    pub fn update_for(&mut self, w: usize) -> Update {
        let sessions = match (&self.set, self.has_table.get(w).copied()) {
            (Some(set), Some(false)) => Some(Box::new(Sessions::new(set.worker_sessions))),
            _ => None,
        };
        if let Some(has) = self.has_table.get_mut(w) {
            *has = self.set.is_some();
        }
        Update::Policy(Box::new(PolicyUpdate {
            set: self.set.clone(),
            sessions,
        }))
    }

    /// Takes the workers' flow notes and exports what is to be logged.
    pub fn tick(&mut self, channels: &[Arc<SyncChannel>], tables: &dyn Resolve) {
        let now = SystemTime::now();
        for (w, ch) in channels.iter().enumerate() {
            for _ in 0..NOTES_PER_TICK {
                let Some(n) = ch.next_flow() else {
                    break;
                };
                self.stats.notes += 1;
                self.note(w, n, now, tables);
            }
        }
        if let Some(e) = self.exporter.as_mut() {
            self.stats.records += self.records.len() as u64;
            // Called with nothing too: a template refresh may be due.
            e.export(&self.records, now);
        }
        self.records.clear();
    }

    fn note(&mut self, w: usize, n: FlowNote, now: SystemTime, tables: &dyn Resolve) {
        let logging = self.exporter.is_some();
        match n {
            FlowNote::Started(s) => {
                self.live.insert((w, s.key), s);
                if s.log && logging {
                    // A creation event: the counts follow in the end record.
                    let mut r = self.record(&s.flow, s.tenant, s.rule_id, tables);
                    r.event = FlowEvent::Started;
                    r.start_ms = self.clock.unix_ms(s.created, now);
                    r.end_ms = r.start_ms;
                    self.records.push(r);
                }
            }
            FlowNote::Interim(s) => {
                // A session's notes come from one worker's queue in order: an interim
                // report after its end cannot arrive, one for a session not seen opening
                // (its note dropped) starts its view here.
                self.live.insert((w, s.key), s);
                if s.log && logging {
                    let r = self.counted(w, &s, FlowEvent::Interim, now, tables);
                    self.records.push(r);
                }
            }
            FlowNote::Ended(s, cause) => {
                self.live.remove(&(w, s.key));
                if s.log && logging {
                    let event = FlowEvent::Ended(match cause {
                        EndCause::Idle => EndReason::IdleTimeout,
                        EndCause::Closed => EndReason::EndOfFlow,
                        EndCause::Revoked => EndReason::Forced,
                    });
                    let r = self.counted(w, &s, event, now, tables);
                    self.records.push(r);
                }
                self.reported.remove(&(w, s.key));
            }
            FlowNote::Denied {
                flow,
                tenant,
                rule_id,
                bytes,
                at,
            } => {
                if logging {
                    let mut r = self.record(&flow, tenant, rule_id, tables);
                    r.event = FlowEvent::Denied;
                    r.packets = 1;
                    r.bytes = bytes;
                    r.start_ms = self.clock.unix_ms(at, now);
                    r.end_ms = r.start_ms;
                    self.records.push(r);
                }
            }
        }
    }

    /// The record of `s` carrying what it counted since its last record, which it now is.
    fn counted(
        &mut self,
        w: usize,
        s: &Session,
        event: FlowEvent,
        now: SystemTime,
        tables: &dyn Resolve,
    ) -> FlowRecord {
        let total = [s.packets, s.bytes, s.reverse_packets, s.reverse_bytes];
        let before = self.reported.insert((w, s.key), total).unwrap_or_default();
        let delta = |i: usize| {
            total
                .get(i)
                .zip(before.get(i))
                .map_or(0, |(t, b)| t.saturating_sub(*b))
        };
        let mut r = self.record(&s.flow, s.tenant, s.rule_id, tables);
        r.event = event;
        r.packets = delta(0);
        r.bytes = delta(1);
        r.reverse_packets = delta(2);
        r.reverse_bytes = delta(3);
        r.start_ms = self.clock.unix_ms(s.created, now);
        r.end_ms = self.clock.unix_ms(s.last, now);
        r
    }

    fn record(
        &self,
        flow: &FlowKey,
        tenant: u16,
        rule_id: u32,
        tables: &dyn Resolve,
    ) -> FlowRecord {
        let encap = |vni: u32| {
            if tables.is_nvgre(vni) {
                crate::wire::ipfix::Encapsulation::Nvgre
            } else {
                crate::wire::ipfix::Encapsulation::Vxlan
            }
        };
        // ICMP goes out as IPFIX puts it: type << 8 | code in the destination port. An echo
        // session holds its identifier in both ports; it is recorded as its request.
        let icmp = matches!(flow.protocol, 1 | 58);
        let dst_port = match flow.protocol {
            1 if flow.src_port == flow.dst_port => 8 << 8,
            58 if flow.src_port == flow.dst_port => 128 << 8,
            _ => flow.dst_port,
        };
        FlowRecord {
            event: FlowEvent::Interim,
            src: flow.src,
            dst: flow.dst,
            src_port: if icmp { 0 } else { flow.src_port },
            dst_port,
            protocol: flow.protocol,
            src_vni: flow.src_vni,
            dst_vni: flow.dst_vni,
            src_encap: encap(flow.src_vni),
            dst_encap: encap(flow.dst_vni),
            vrf: tables.vrf_id_of_tenant(tenant),
            rule_id,
            packets: 0,
            bytes: 0,
            reverse_packets: 0,
            reverse_bytes: 0,
            start_ms: 0,
            end_ms: 0,
        }
    }

    /// Live sessions, each with the worker that holds it.
    pub fn sessions(&self) -> impl Iterator<Item = SessionEntry> + '_ {
        self.live.iter().map(|((w, _), s)| SessionEntry {
            worker: *w,
            session: *s,
        })
    }

    pub fn exporter_stats(&self) -> Option<ExporterStats> {
        self.exporter.as_ref().map(Exporter::stats)
    }

    /// Worker ticks now (for session ages in the view).
    pub fn now_tick(&self) -> u32 {
        self.clock.now_tick()
    }
}

impl Resolve for crate::tables::authority::Authority {
    fn is_nvgre(&self, vni: u32) -> bool {
        self.vnis()
            .any(|(id, _, c)| id.get() == vni && c.encap == crate::config::Encap::Nvgre)
    }

    fn vrf_id_of_tenant(&self, tenant: u16) -> u32 {
        let Some(slot) = crate::pipeline::policy::vrf_slot_of_tenant(tenant) else {
            return 0;
        };
        self.vrfs()
            .into_iter()
            .find(|(_, _, index)| index.slot() == slot)
            .map_or(0, |(_, id, _)| id)
    }
}
