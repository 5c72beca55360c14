//! What `GET /api/v1/policy` and `GET /api/v1/sessions` show: the rules with the workers'
//! hit counts, the session table's totals, the connection log's counters, and the live
//! sessions.

use serde::{Deserialize, Serialize};

use crate::config::PolicyConfig;
use crate::dataplane::counters::SharedCounters;
use crate::tables::sync::SyncChannel;

use super::policy::PolicyControl;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyView {
    pub default_between: String,
    pub default_within: String,
    pub rules: Vec<RuleView>,
    /// Flows the defaults decided (no rule matched).
    pub default_within_hits: u64,
    pub default_between_hits: u64,
    pub classifier: ClassifierView,
    pub sessions: SessionTotals,
    pub log: LogView,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RuleView {
    pub id: u32,
    pub priority: u32,
    pub from: String,
    pub to: String,
    pub proto: String,
    pub ports: Vec<String>,
    pub action: String,
    pub stateful: bool,
    pub log: bool,
    /// Flows (and packets outside sessions) this rule decided since the policy was loaded.
    pub hits: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClassifierView {
    pub generation: u32,
    pub ipv4_entries: usize,
    pub ipv6_entries: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct SessionTotals {
    pub active: u64,
    pub capacity: u64,
    pub opened: u64,
    pub closed: u64,
    pub revoked: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct LogView {
    pub collectors: Vec<String>,
    pub notes: u64,
    /// Notes the workers could not queue (the management thread fell behind).
    pub notes_dropped: u64,
    /// Denied-flow notes over the log's rate.
    pub deny_logs_policed: u64,
    pub records: u64,
    pub messages_sent: u64,
    pub send_errors: u64,
}

pub fn policy(
    control: &PolicyControl,
    workers: &[SharedCounters],
    channels: &[std::sync::Arc<SyncChannel>],
) -> Option<PolicyView> {
    let cfg: &PolicyConfig = control.config()?;
    let set = control.set()?;
    let hits = |slot: usize| -> u64 {
        workers
            .iter()
            .filter_map(|w| w.policy.rules.get(slot))
            .map(|c| c.hits.get())
            .sum()
    };
    let sum = |f: fn(&crate::dataplane::counters::PolicyCounters) -> u64| -> u64 {
        workers.iter().map(|w| f(&w.policy)).sum()
    };
    let rules = cfg
        .rules
        .iter()
        .enumerate()
        .map(|(slot, r)| RuleView {
            id: r.id,
            priority: r.priority,
            from: r.from.to_string(),
            to: r.to.to_string(),
            proto: r.protocol.to_string(),
            ports: r
                .ports
                .iter()
                .map(|(lo, hi)| {
                    if lo == hi {
                        lo.to_string()
                    } else {
                        format!("{lo}-{hi}")
                    }
                })
                .collect(),
            action: r.action.to_string(),
            stateful: r.stateful,
            log: r.log,
            hits: hits(slot),
        })
        .collect();
    let (v4, v6) = set.entries();
    let stats = control.exporter_stats().unwrap_or_default();
    Some(PolicyView {
        default_between: cfg.default_between.to_string(),
        default_within: cfg.default_within.to_string(),
        rules,
        default_within_hits: hits(set.default_slot(true)),
        default_between_hits: hits(set.default_slot(false)),
        classifier: ClassifierView {
            generation: set.generation,
            ipv4_entries: v4,
            ipv6_entries: v6,
        },
        sessions: SessionTotals {
            active: sum(|p| p.sessions_active.get()),
            capacity: u64::from(set.worker_sessions) * workers.len() as u64,
            opened: sum(|p| p.sessions_opened.get()),
            closed: sum(|p| p.sessions_closed.get()),
            revoked: sum(|p| p.sessions_revoked.get()),
        },
        log: LogView {
            collectors: cfg.ipfix.iter().map(ToString::to_string).collect(),
            notes: control.stats.notes,
            notes_dropped: channels
                .iter()
                .map(|c| c.flows_dropped.load(std::sync::atomic::Ordering::Relaxed))
                .sum(),
            deny_logs_policed: sum(|p| p.deny_logs_policed.get()),
            records: control.stats.records,
            messages_sent: stats.messages_sent,
            send_errors: stats.send_errors,
        },
    })
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionView {
    pub worker: usize,
    pub proto: u8,
    pub src: String,
    pub src_port: u16,
    pub dst: String,
    pub dst_port: u16,
    pub src_vni: u32,
    pub dst_vni: u32,
    pub rule: u32,
    pub age_secs: u64,
    /// Counted as of the session's last report to the management thread (its opening, or
    /// its latest interim report: `ipfix_interim`): initiator → responder, and back.
    pub packets: u64,
    pub bytes: u64,
    pub reverse_packets: u64,
    pub reverse_bytes: u64,
}

/// Live sessions, oldest first, at most `limit`.
pub fn sessions(control: &PolicyControl, limit: usize) -> Vec<SessionView> {
    let now = control.now_tick();
    let mut all: Vec<_> = control.sessions().collect();
    all.sort_by_key(|e| std::cmp::Reverse(now.wrapping_sub(e.session.created)));
    all.into_iter()
        .take(limit)
        .map(|e| {
            let s = e.session;
            SessionView {
                worker: e.worker,
                proto: s.flow.protocol,
                src: s.flow.src.to_string(),
                src_port: s.flow.src_port,
                dst: s.flow.dst.to_string(),
                dst_port: s.flow.dst_port,
                src_vni: s.flow.src_vni,
                dst_vni: s.flow.dst_vni,
                rule: s.rule_id,
                age_secs: u64::from(now.wrapping_sub(s.created))
                    / u64::from(crate::tables::policy::TICKS_PER_SECOND),
                packets: s.packets,
                bytes: s.bytes,
                reverse_packets: s.reverse_packets,
                reverse_bytes: s.reverse_bytes,
            }
        })
        .collect()
}
