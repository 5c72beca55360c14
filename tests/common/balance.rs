//! The packet accounting every vtepd run must satisfy, checked on its final report (the
//! `--final-stats` JSON, the same document as `GET /api/v1/stats`).
//!
//! Where the numbers come from (src/dataplane/counters.rs, src/control/report.rs):
//!
//! - `ports[i].rx_packets`: packets worker i's RX bursts returned on the port; every one is
//!   handed to the mode's handler, which must forward it, drop it with a reason, or absorb it.
//! - `ports[i].tx_packets`: packets the driver accepted (`rte_eth_tx_burst`); what it refused
//!   is freed and counted twice, as `ports[i].tx_dropped` and as drop reason `tx_queue_full`.
//! - `drops.<reason>`: one count per packet dropped for that reason, wherever it happened —
//!   a flood copy that could not be made (`mbuf_exhausted`) or whose neighbour is unresolved
//!   counts too, because its copy was counted in `replicas` first. `totals.dropped` is their sum.
//! - `gateway.replicas`: packets made beyond the one received — a flood to N destinations adds
//!   N - 1, a GSO split into N segments adds N - 1.
//! - `gateway.generated`: packets the management thread originated (ARP/ND requests, IGMP/MLD
//!   reports, what the EVPN namespace's kernel sends through the exception path) that a
//!   worker sent.
//! - `gateway.local.absorbed`: packets for the VTEP itself consumed without an answer (ARP
//!   replies, neighbour advertisements). Answered requests (ARP, echo, ND) are rewritten in
//!   place and sent: they are in `tx_packets`.
//! - `gateway.local.to_kernel`: packets handed to the exception path, for the EVPN
//!   namespace's kernel.
//!
//! Hence, exactly, once the workers have stopped (the daemon stops them, each flushing its TX
//! buffers, before it reads the counters, so nothing is in flight in the final report):
//!
//! ```text
//! Σ rx_packets + replicas + generated = Σ tx_packets + totals.dropped + absorbed + to_kernel
//! ```
//!
//! A cross-connect has no `gateway` section: replicas, generated, absorbed and to_kernel are
//! zero.
//! Mid-run snapshots (`GET /api/v1/stats` while traffic flows) are off by what sits in RX
//! bursts and TX buffers at that instant, so only a final report balances exactly.

use serde_json::Value;

/// The terms of the identity, as read from one report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Balance {
    pub rx: u64,
    pub replicas: u64,
    pub generated: u64,
    pub tx: u64,
    pub dropped: u64,
    pub absorbed: u64,
    pub to_kernel: u64,
    /// Σ ports[].tx_dropped: what the drivers refused (part of `dropped`).
    pub tx_refused: u64,
}

impl Balance {
    /// Reads the terms from `report`, panicking with the report when a field is missing.
    pub fn of(report: &Value) -> Balance {
        let n = |v: &Value, what: &str| -> u64 {
            v.as_u64()
                .unwrap_or_else(|| panic!("{what} is not a count: {v} in {report:#}"))
        };
        let ports = report["ports"]
            .as_array()
            .unwrap_or_else(|| panic!("no ports in the report: {report:#}"));
        let sum = |key: &str| -> u64 {
            ports
                .iter()
                .map(|p| n(&p[key], &format!("ports[].{key}")))
                .sum()
        };
        let g = &report["gateway"];
        let gw = |v: &Value, what: &str| -> u64 {
            if g.is_null() {
                0
            } else {
                n(v, what)
            }
        };
        Balance {
            rx: sum("rx_packets"),
            tx: sum("tx_packets"),
            tx_refused: sum("tx_dropped"),
            dropped: n(&report["totals"]["dropped"], "totals.dropped"),
            replicas: gw(&g["replicas"], "gateway.replicas"),
            generated: gw(&g["generated"], "gateway.generated"),
            absorbed: gw(&g["local"]["absorbed"], "gateway.local.absorbed"),
            to_kernel: gw(&g["local"]["to_kernel"], "gateway.local.to_kernel"),
        }
    }

    /// Packets that entered the data plane: received, replicated or originated.
    pub fn inputs(&self) -> u64 {
        self.rx + self.replicas + self.generated
    }

    /// Packets that left it: sent, dropped with a reason, absorbed or handed to the kernel.
    pub fn outputs(&self) -> u64 {
        self.tx + self.dropped + self.absorbed + self.to_kernel
    }
}

impl std::fmt::Display for Balance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "rx {} + replicas {} + generated {} = {}; tx {} + dropped {} + absorbed {} + to kernel {} = {}",
            self.rx,
            self.replicas,
            self.generated,
            self.inputs(),
            self.tx,
            self.dropped,
            self.absorbed,
            self.to_kernel,
            self.outputs()
        )
    }
}

/// Asserts that the final report `report` accounts for every packet (the identity above) and
/// that its totals agree with their parts: `totals.rx_packets` / `tx_packets` are the ports'
/// sums, the drop reasons sum to `totals.dropped`, and `tx_queue_full` is exactly what the
/// ports' TX queues refused. Returns the terms (for a summary).
pub fn assert_counters_balance(report: &Value) -> Balance {
    let b = Balance::of(report);
    let totals = &report["totals"];
    assert_eq!(
        totals["rx_packets"].as_u64(),
        Some(b.rx),
        "totals.rx_packets is not the ports' sum: {totals}"
    );
    assert_eq!(
        totals["tx_packets"].as_u64(),
        Some(b.tx),
        "totals.tx_packets is not the ports' sum: {totals}"
    );
    let drops = report["drops"]
        .as_object()
        .unwrap_or_else(|| panic!("no drops in the report: {report:#}"));
    let by_reason: u64 = drops
        .iter()
        .map(|(k, v)| {
            v.as_u64()
                .unwrap_or_else(|| panic!("drops.{k} is not a count: {v}"))
        })
        .sum();
    assert_eq!(
        by_reason, b.dropped,
        "the drop reasons do not sum to totals.dropped: {:#}",
        report["drops"]
    );
    assert_eq!(
        drops.get("tx_queue_full").and_then(Value::as_u64),
        Some(b.tx_refused),
        "drops.tx_queue_full is not what the ports' TX queues refused (Σ ports[].tx_dropped)"
    );
    assert_eq!(
        b.inputs(),
        b.outputs(),
        "counters do not balance: {b}\ndrops: {:#}",
        report["drops"]
    );
    b
}

/// Asserts that the drivers' own counters (`ports[].nic`, from `rte_eth_stats`) agree with
/// the workers': every packet a driver delivered was counted by a worker, and every packet a
/// worker counted as sent was accepted by the driver. Holds for the drivers that count
/// delivered and accepted packets (net_pcap, net_null, net_ring); a final report only.
pub fn assert_nic_agrees(report: &Value) {
    for p in report["ports"].as_array().expect("ports") {
        assert_eq!(
            (
                p["nic"]["rx_packets"].as_u64(),
                p["nic"]["tx_packets"].as_u64()
            ),
            (p["rx_packets"].as_u64(), p["tx_packets"].as_u64()),
            "port {}: driver (rx, tx) differ from the workers' counts: {p:#}",
            p["name"]
        );
    }
}

/// Asserts that no mbuf is missing at exit: the pools held as many buffers in use after the
/// ports were closed as before they were started — none.
pub fn assert_no_mbuf_leak(report: &Value) {
    assert_eq!(
        report["mempool"]["in_use_at_exit"].as_u64(),
        Some(0),
        "mbufs leaked: {:#}",
        report["mempool"]
    );
}
