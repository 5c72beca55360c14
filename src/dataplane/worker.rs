//! The poll-mode loop every worker lcore runs (DPDK l2fwd/l3fwd shape).
//!
//! Run to completion: receive a burst on each of the worker's RX queues, hand it to the
//! handler, which takes each packet and queues it on a TX queue or drops it with a named
//! reason. TX queues send when a burst is full, and every `tx_drain` TSC ticks whatever is
//! pending goes out; the handler's housekeeping (table updates, timers) runs then too, never
//! in the middle of a burst.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::dpdk::{self, Burst, LcoreId, Mbuf, RxQueue, TxQueue};
use crate::pipeline::DropReason;

use super::counters::SharedCounters;

/// The per-packet work of a data-plane mode.
pub trait BurstHandler: Send + 'static {
    /// Handles one burst received on port `rx_port` (index in configuration order). The
    /// handler takes every packet out of `burst`; a packet it drops must be counted with
    /// `TxPorts::drop_packet` (or `counters().count_drop`).
    fn handle(&mut self, rx_port: usize, burst: &mut Burst, tx: &mut TxPorts, now: u64);

    /// Runs between bursts, every drain period.
    fn housekeeping(&mut self, _tx: &mut TxPorts, _now: u64) {}
}

/// The worker's TX queues, one per port in configuration order, with its counters.
#[derive(Debug)]
pub struct TxPorts {
    queues: Vec<TxQueue>,
    counters: SharedCounters,
}

impl TxPorts {
    pub fn new(queues: Vec<TxQueue>, counters: SharedCounters, burst: u16) -> TxPorts {
        let mut queues = queues;
        for q in &mut queues {
            q.set_burst(usize::from(burst));
        }
        TxPorts { queues, counters }
    }

    /// Queues `m` for transmission on port `port`.
    #[inline(always)]
    pub fn send(&mut self, port: usize, m: Mbuf) {
        let Some(q) = self.queues.get_mut(port) else {
            self.counters.count_drop(DropReason::TxQueueFull, 1);
            return;
        };
        let r = q.push(m);
        if r.sent != 0 || r.dropped != 0 {
            self.account(port, r);
        }
    }

    /// Counts and frees a packet the handler refuses.
    #[inline(always)]
    pub fn drop_packet(&self, m: Mbuf, reason: DropReason) {
        self.counters.count_drop(reason, 1);
        drop(m);
    }

    #[inline(always)]
    pub fn counters(&self) -> &SharedCounters {
        &self.counters
    }

    /// Sends everything pending on every port.
    #[inline]
    pub fn flush_all(&mut self) {
        for port in 0..self.queues.len() {
            if let Some(q) = self.queues.get_mut(port) {
                let r = q.flush();
                if r.sent != 0 || r.dropped != 0 {
                    self.account(port, r);
                }
            }
        }
    }

    #[inline(always)]
    fn account(&self, port: usize, r: dpdk::TxResult) {
        if let Some(p) = self.counters.port(port) {
            p.tx_packets.add(u64::from(r.sent));
            if r.dropped != 0 {
                p.tx_dropped.add(u64::from(r.dropped));
            }
        }
        if r.dropped != 0 {
            self.counters
                .count_drop(DropReason::TxQueueFull, u64::from(r.dropped));
        }
    }
}

/// Everything one worker lcore owns.
#[derive(Debug)]
pub struct Worker<H> {
    pub lcore: LcoreId,
    /// (port index, queue) pairs this worker polls.
    pub rx: Vec<(usize, RxQueue)>,
    pub tx: TxPorts,
    pub handler: H,
    pub counters: SharedCounters,
    pub stop: Arc<AtomicBool>,
    pub burst: u16,
    pub tx_drain_tsc: u64,
    pub idle: Option<IdleBackOff>,
}

/// How long a worker spins with nothing received before the idle back-off sleeps.
pub const IDLE_BEFORE_SLEEP_US: u64 = 1000;

/// The optional idle back-off (`workers.idle_sleep_us`): a worker that has received nothing
/// for `IDLE_BEFORE_SLEEP_US` sleeps between polls, so an idle gateway does not hold its
/// cores at 100%. A packet that arrives while it sleeps waits up to one sleep; traffic
/// keeps it polling, as without the back-off.
#[derive(Debug, Clone, Copy)]
pub struct IdleBackOff {
    after_tsc: u64,
    sleep: std::time::Duration,
}

impl IdleBackOff {
    /// None when `sleep_us` is 0 (off).
    pub fn new(sleep_us: u32, tsc_hz: u64) -> Option<IdleBackOff> {
        (sleep_us > 0).then(|| IdleBackOff {
            after_tsc: (tsc_hz / 1_000_000).saturating_mul(IDLE_BEFORE_SLEEP_US),
            sleep: std::time::Duration::from_micros(u64::from(sleep_us)),
        })
    }

    /// Whether a worker idle since `last_rx` sleeps at `now`.
    #[inline]
    fn due(&self, last_rx: u64, now: u64) -> bool {
        now.wrapping_sub(last_rx) >= self.after_tsc
    }
}

impl<H: BurstHandler> Worker<H> {
    /// The poll loop; returns when `stop` is set, after sending what is pending.
    pub fn run(mut self) -> i32 {
        let mut burst = Burst::default();
        let mut last_drain = dpdk::tsc();
        let mut last_rx = last_drain;
        while !self.stop.load(Ordering::Relaxed) {
            let start = dpdk::tsc();
            if start.wrapping_sub(last_drain) >= self.tx_drain_tsc {
                self.tx.flush_all();
                self.handler.housekeeping(&mut self.tx, start);
                last_drain = start;
            }
            let mut received = 0usize;
            for (port, rxq) in &mut self.rx {
                let n = rxq.rx_burst(&mut burst, self.burst);
                if n == 0 {
                    continue;
                }
                received = received.saturating_add(n);
                if let Some(c) = self.counters.port(*port) {
                    let bytes: u64 = burst
                        .packets()
                        .iter()
                        .flatten()
                        .map(|m| u64::from(m.pkt_len()))
                        .sum();
                    c.rx_packets.add(n as u64);
                    c.rx_bytes.add(bytes);
                }
                self.counters.bursts.inc();
                self.handler.handle(*port, &mut burst, &mut self.tx, start);
                burst.clear();
            }
            if received == 0 {
                self.counters.idle_polls.inc();
                if let Some(idle) = self.idle.filter(|i| i.due(last_rx, start)) {
                    // Nothing may wait in the TX buffers through the sleep.
                    self.tx.flush_all();
                    std::thread::sleep(idle.sleep);
                    self.counters.idle_sleeps.inc();
                }
            } else {
                last_rx = start;
                self.counters.busy_polls.inc();
                self.counters.burst_packets.add(received as u64);
                self.counters
                    .busy_cycles
                    .add(dpdk::tsc().wrapping_sub(start));
            }
        }
        self.tx.flush_all();
        0
    }
}
