//! The counters at exit: printed for the operator, optionally written as JSON for tools.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::dataplane::{CounterSnapshot, SharedCounters};
use crate::dpdk::PortStats;
use crate::pipeline::DropReason;
use crate::tables::authority::AuthorityStats;

use super::tables::{SyncStats, TableManager};

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub ports: Vec<PortReport>,
    /// Every drop reason, zero or not, so tools can rely on the keys.
    pub drops: BTreeMap<&'static str, u64>,
    pub workers: Vec<WorkerReport>,
    pub totals: Totals,
    pub mempool: MempoolReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<GatewayReport>,
}

/// Gateway-mode counters.
#[derive(Debug, Clone, Serialize)]
pub struct GatewayReport {
    pub vnis: Vec<VniReport>,
    pub tables: AuthorityStats,
    pub sync: SyncStats,
    pub fdb_entries: usize,
    pub local: LocalReport,
    /// Extra packets made by replication (flood copies and GSO segments beyond the first).
    pub replicas: u64,
    /// Packets the management thread originated (ARP/ND requests).
    pub generated: u64,
    pub fdb_full: u64,
    pub events_dropped: u64,
    pub updates_applied: u64,
    /// The policy's rules with their hits, sessions and log counters (as the API shows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<super::policy_view::PolicyView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VniReport {
    pub id: u32,
    pub encap_packets: u64,
    pub encap_bytes: u64,
    pub decap_packets: u64,
    pub decap_bytes: u64,
    pub flood_copies: u64,
    pub learn_events: u64,
    pub arp_suppressed: u64,
    pub mac_limit_hits: u64,
    pub bum_rate_limited: u64,
    pub learn_refused: u64,
    /// Learned MACs in the authoritative table.
    pub macs: u32,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct LocalReport {
    pub arp_replies: u64,
    pub echo_replies: u64,
    pub nd_replies: u64,
    pub absorbed: u64,
    /// Handed to the exception path, for the kernel in the EVPN namespace.
    pub to_kernel: u64,
    /// ICMP fragmentation needed / packet too big sent for frames too big for the underlay.
    pub too_big: u64,
}

/// Adds the gateway's tables and per-VNI counters to a report.
pub fn add_gateway(report: &mut Report, m: &TableManager, workers: &[SharedCounters]) {
    let sum = |f: &dyn Fn(&crate::dataplane::WorkerCounters) -> u64| -> u64 {
        workers.iter().map(|w| f(w)).sum()
    };
    let vnis = m
        .authority
        .vnis()
        .map(|(id, index, _)| {
            let v = |f: &dyn Fn(&crate::dataplane::counters::VniCounters) -> u64| -> u64 {
                workers
                    .iter()
                    .filter_map(|w| w.vni_of(index, *id))
                    .map(f)
                    .sum()
            };
            VniReport {
                id: id.get(),
                encap_packets: v(&|c| c.encap_packets.get()),
                encap_bytes: v(&|c| c.encap_bytes.get()),
                decap_packets: v(&|c| c.decap_packets.get()),
                decap_bytes: v(&|c| c.decap_bytes.get()),
                flood_copies: v(&|c| c.flood_copies.get()),
                learn_events: v(&|c| c.learn_events.get()),
                arp_suppressed: v(&|c| c.arp_suppressed.get()),
                mac_limit_hits: v(&|c| c.mac_limit_hits.get()),
                bum_rate_limited: v(&|c| c.bum_rate_limited.get()),
                learn_refused: v(&|c| c.learn_refused.get()),
                macs: m.authority.learned_in(*id),
            }
        })
        .collect();
    report.gateway = Some(GatewayReport {
        vnis,
        tables: m.authority.stats,
        sync: m.stats,
        fdb_entries: m.authority.fdb_len(),
        local: LocalReport {
            arp_replies: sum(&|w| w.local.arp_replies.get()),
            echo_replies: sum(&|w| w.local.echo_replies.get()),
            nd_replies: sum(&|w| w.local.nd_replies.get()),
            absorbed: sum(&|w| w.local.absorbed.get()),
            to_kernel: sum(&|w| w.local.to_kernel.get()),
            too_big: sum(&|w| w.local.too_big.get()),
        },
        replicas: sum(&|w| w.replicas.get()),
        generated: sum(&|w| w.generated.get()),
        fdb_full: sum(&|w| w.fdb_full.get()),
        events_dropped: m.events_dropped(),
        updates_applied: m.updates_applied(),
        policy: super::policy_view::policy(&m.policy, workers, m.channels()),
    });
}

#[derive(Debug, Clone, Serialize)]
pub struct PortReport {
    pub name: String,
    pub role: &'static str,
    pub mac: String,
    /// As counted by the workers.
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_dropped: u64,
    /// As counted by the driver (`rte_eth_stats`).
    pub nic: NicStats,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct NicStats {
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_missed: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub rx_nombuf: u64,
}

impl From<PortStats> for NicStats {
    fn from(s: PortStats) -> Self {
        NicStats {
            rx_packets: s.rx_packets,
            tx_packets: s.tx_packets,
            rx_bytes: s.rx_bytes,
            tx_bytes: s.tx_bytes,
            rx_missed: s.rx_missed,
            rx_errors: s.rx_errors,
            tx_errors: s.tx_errors,
            rx_nombuf: s.rx_nombuf,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct WorkerReport {
    pub lcore: u32,
    pub busy_polls: u64,
    pub idle_polls: u64,
    pub idle_sleeps: u64,
    pub bursts: u64,
    pub packets: u64,
    pub cycles_per_packet: f64,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Totals {
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub dropped: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct MempoolReport {
    /// Mbufs in use once the ports were started (their RX rings filled).
    pub in_use_at_start: u64,
    /// Mbufs in use when the report was taken.
    pub in_use: u64,
    /// Mbufs in use after the ports were closed (final report only): anything but 0 is a
    /// leak.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_use_at_exit: Option<u64>,
    pub capacity: u64,
    /// Each pool: the ports' (one per NUMA socket), then the gateway's replication pools.
    pub pools: Vec<PoolReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PoolReport {
    pub name: String,
    pub capacity: u64,
    pub in_use: u64,
}

pub fn drops_by_name(snapshot: &CounterSnapshot) -> BTreeMap<&'static str, u64> {
    DropReason::ALL
        .iter()
        .map(|r| {
            (
                r.name(),
                snapshot.drops.get(*r as usize).copied().unwrap_or(0),
            )
        })
        .collect()
}

impl Report {
    /// A human summary, one block per kind of counter.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "vtepd final counters");
        let _ = writeln!(
            out,
            "  {:<20} {:<9} {:>12} {:>14} {:>12} {:>10}",
            "port", "role", "rx packets", "rx bytes", "tx packets", "tx drops"
        );
        for p in &self.ports {
            let _ = writeln!(
                out,
                "  {:<20} {:<9} {:>12} {:>14} {:>12} {:>10}",
                p.name, p.role, p.rx_packets, p.rx_bytes, p.tx_packets, p.tx_dropped
            );
        }
        let nonzero: Vec<String> = self
            .drops
            .iter()
            .filter(|(_, v)| **v != 0)
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(
            out,
            "  drops: {}",
            if nonzero.is_empty() {
                "none".to_owned()
            } else {
                nonzero.join(" ")
            }
        );
        if let Some(g) = &self.gateway {
            let _ = writeln!(
                out,
                "  {:<10} {:>12} {:>14} {:>12} {:>14} {:>10} {:>8} {:>10}",
                "vni",
                "encap pkts",
                "encap bytes",
                "decap pkts",
                "decap bytes",
                "flooded",
                "macs",
                "arp supp"
            );
            for v in &g.vnis {
                let _ = writeln!(
                    out,
                    "  {:<10} {:>12} {:>14} {:>12} {:>14} {:>10} {:>8} {:>10}",
                    v.id,
                    v.encap_packets,
                    v.encap_bytes,
                    v.decap_packets,
                    v.decap_bytes,
                    v.flood_copies,
                    v.macs,
                    v.arp_suppressed
                );
            }
            let t = &g.tables;
            let _ = writeln!(
                out,
                "  tables: {} MACs; learned {} moved {} aged {}; refused: static {} limit {} full {}; bindings snooped {}",
                g.fdb_entries, t.learned, t.moved, t.aged, t.refused_static, t.refused_limit, t.refused_full, t.bindings_snooped
            );
            let _ = writeln!(
                out,
                "  local: {} ARP replies, {} echo replies, {} ND replies, {} absorbed, {} to the EVPN namespace's kernel; {} generated (neighbour requests, the kernel's own packets)",
                g.local.arp_replies, g.local.echo_replies, g.local.nd_replies, g.local.absorbed, g.local.to_kernel, g.generated
            );
        }
        for w in &self.workers {
            let avg = if w.bursts == 0 {
                0.0
            } else {
                w.packets as f64 / w.bursts as f64
            };
            let _ = writeln!(
                out,
                "  worker lcore {}: {} packets in {} bursts (avg {:.1}), {:.0} cycles/packet",
                w.lcore, w.packets, w.bursts, avg, w.cycles_per_packet
            );
        }
        let _ = writeln!(
            out,
            "  total: rx {} tx {} dropped {}; mbufs in use at exit {} (at start {})",
            self.totals.rx_packets,
            self.totals.tx_packets,
            self.totals.dropped,
            self.mempool.in_use_at_exit.unwrap_or(self.mempool.in_use),
            self.mempool.in_use_at_start
        );
        out
    }
}
