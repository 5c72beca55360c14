//! The counters at exit: printed for the operator, optionally written as JSON for tools.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::dataplane::CounterSnapshot;
use crate::dpdk::PortStats;
use crate::pipeline::DropReason;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub ports: Vec<PortReport>,
    /// Every drop reason, zero or not, so tools can rely on the keys.
    pub drops: BTreeMap<&'static str, u64>,
    pub workers: Vec<WorkerReport>,
    pub totals: Totals,
    pub mempool: MempoolReport,
}

#[derive(Debug, Clone, Serialize)]
pub struct PortReport {
    pub name: String,
    pub role: &'static str,
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

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct MempoolReport {
    /// Mbufs in use once the ports were started (their RX rings filled).
    pub in_use_at_start: u64,
    /// Mbufs in use after the ports were closed: anything but 0 is a leak.
    pub in_use_at_exit: u64,
    pub capacity: u64,
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
            self.mempool.in_use_at_exit,
            self.mempool.in_use_at_start
        );
        out
    }
}
