//! Per-worker counters: written by one worker only, summed by whoever reads them.
//!
//! Each worker owns its block (cache-line aligned, so no two workers write the same line);
//! a counter is an atomic only so the management thread can read it while the worker runs.
//! The worker's update is a relaxed load + store: no locked instruction on the fast path.

use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam::utils::CachePadded;

use crate::pipeline::DropReason;

/// Ports a configuration may use (underlay + access ports, or a cross-connect pair).
pub const MAX_PORTS: usize = 16;

/// One single-writer counter.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`. Only the owning worker may call this.
    #[inline(always)]
    pub fn add(&self, n: u64) {
        let v = self.0.load(Ordering::Relaxed);
        self.0.store(v.wrapping_add(n), Ordering::Relaxed);
    }

    #[inline(always)]
    pub fn inc(&self) {
        self.add(1);
    }

    /// Overwrites the value. Only the owning worker may call this.
    #[inline(always)]
    pub fn set(&self, v: u64) {
        self.0.store(v, Ordering::Relaxed);
    }

    #[inline(always)]
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// What one worker counted on one port.
#[derive(Debug, Default)]
pub struct PortCounters {
    pub rx_packets: Counter,
    pub rx_bytes: Counter,
    pub tx_packets: Counter,
    /// Packets the TX queue did not accept (freed; also counted as drop `tx_queue_full`).
    pub tx_dropped: Counter,
}

/// What one worker counted in one VNI.
#[derive(Debug, Default)]
pub struct VniCounters {
    pub encap_packets: Counter,
    pub encap_bytes: Counter,
    /// Tunnel packets whose inner frame was forwarded (bridged, flooded or routed); not
    /// those dropped after decapsulation or answered by the gateway.
    pub decap_packets: Counter,
    /// Their inner frames' bytes (Ethernet header included, untagged).
    pub decap_bytes: Counter,
    /// Copies sent for broadcast, multicast and unknown-unicast frames.
    pub flood_copies: Counter,
    /// MACs this worker learned or saw move (reported to the management thread).
    pub learn_events: Counter,
    /// ARP requests / neighbour solicitations answered from known bindings.
    pub arp_suppressed: Counter,
    /// New MACs not learned because the VNI reached `max_macs`.
    pub mac_limit_hits: Counter,
    /// BUM frames over the VNI's storm-control rate (also drop `bum_rate_limited`).
    pub bum_rate_limited: Counter,
    /// Frames decapsulated from a VTEP outside the flood list whose source was not learned
    /// (`learn_only_from_flood`); they are still forwarded.
    pub learn_refused: Counter,
    /// The VNI id (plus one; 0 = none) these counters belong to, as this worker sees its
    /// tables. Readers count a slot only for its owner: until a worker applies the update
    /// that gives a reused slot to a new VNI, it has carried nothing of that VNI.
    owner: Counter,
}

impl VniCounters {
    /// Zeroes every counter (a new VNI in a reused slot). Only the owning worker may call
    /// this.
    pub fn reset(&self) {
        for c in [
            &self.encap_packets,
            &self.encap_bytes,
            &self.decap_packets,
            &self.decap_bytes,
            &self.flood_copies,
            &self.learn_events,
            &self.arp_suppressed,
            &self.mac_limit_hits,
            &self.bum_rate_limited,
            &self.learn_refused,
        ] {
            c.set(0);
        }
    }

    /// Records which VNI the slot now holds. Only the owning worker may call this.
    pub fn set_owner(&self, vni: Option<crate::wire::Vni>) {
        self.owner.set(vni.map_or(0, |v| u64::from(v.get()) + 1));
    }

    /// Whether these counters are, for their worker, those of `vni`.
    pub fn belongs_to(&self, vni: crate::wire::Vni) -> bool {
        self.owner.get() == u64::from(vni.get()) + 1
    }
}

/// Packets the gateway itself answered or absorbed.
#[derive(Debug, Default)]
pub struct LocalCounters {
    pub arp_replies: Counter,
    pub echo_replies: Counter,
    pub nd_replies: Counter,
    /// Replies and advertisements absorbed (they resolve next hops).
    pub absorbed: Counter,
    /// Packets handed to the exception path, for the kernel in the EVPN namespace.
    pub to_kernel: Counter,
    /// ICMP fragmentation needed / ICMPv6 packet too big sent for frames too big for the
    /// underlay (each instead of a `mtu_exceeded` drop).
    pub too_big: Counter,
}

/// What one worker counted in one tenant VRF.
#[derive(Debug, Default)]
pub struct VrfCounters {
    pub routed_packets: Counter,
    pub routed_bytes: Counter,
    /// No route (also drop `no_route`).
    pub no_route: Counter,
    /// TTL or hop limit expired, answered or not.
    pub ttl_expired: Counter,
    /// ICMP errors sent (time exceeded).
    pub icmp_errors: Counter,
    /// Packets to a host whose MAC was unknown; each is lost, and some carried the
    /// resolution (`resolve_requests`).
    pub unresolved: Counter,
    /// ARP requests / neighbour solicitations sent for hosts.
    pub resolve_requests: Counter,
    /// ARP requests / neighbour solicitations for the gateway's addresses answered.
    pub gateway_replies: Counter,
    /// Echo requests to the gateway's addresses answered.
    pub echo_replies: Counter,
}

impl VrfCounters {
    /// Zeroes every counter (a VRF in a reused slot). Only the owning worker may call this.
    pub fn reset(&self) {
        for c in [
            &self.routed_packets,
            &self.routed_bytes,
            &self.no_route,
            &self.ttl_expired,
            &self.icmp_errors,
            &self.unresolved,
            &self.resolve_requests,
            &self.gateway_replies,
            &self.echo_replies,
        ] {
            c.set(0);
        }
    }
}

/// What one worker counted for one route (by its counter slot).
#[derive(Debug, Default)]
pub struct RouteCounters {
    pub packets: Counter,
    pub bytes: Counter,
}

/// Rules a policy may have (each with its hit counters), the two defaults aside.
pub const MAX_POLICY_RULES: usize = 4096;

/// What one worker counted for one policy rule (by its slot: the rule's place in the file,
/// then `default_within` and `default_between`). Zeroed when a new policy arrives.
#[derive(Debug, Default)]
pub struct RuleCounters {
    /// Flows (and unsessioned packets) the rule decided.
    pub hits: Counter,
}

/// The policy stage's counters on one worker.
#[derive(Debug)]
pub struct PolicyCounters {
    pub rules: Box<[RuleCounters]>,
    pub sessions_opened: Counter,
    pub sessions_closed: Counter,
    /// Sessions cut because the rules changed and no longer allow them.
    pub sessions_revoked: Counter,
    /// Sessions held now.
    pub sessions_active: Counter,
    /// Denied-flow log records not sent: over the log's rate (`DENY_LOG_PPS`).
    pub deny_logs_policed: Counter,
}

impl Default for PolicyCounters {
    fn default() -> Self {
        PolicyCounters {
            rules: (0..MAX_POLICY_RULES + 2)
                .map(|_| RuleCounters::default())
                .collect(),
            sessions_opened: Counter::default(),
            sessions_closed: Counter::default(),
            sessions_revoked: Counter::default(),
            sessions_active: Counter::default(),
            deny_logs_policed: Counter::default(),
        }
    }
}

/// Everything one worker counts.
#[derive(Debug)]
pub struct WorkerCounters {
    pub ports: [PortCounters; MAX_PORTS],
    pub drops: [Counter; DropReason::COUNT],
    pub vnis: Box<[VniCounters]>,
    pub vrfs: Box<[VrfCounters]>,
    pub routes: Box<[RouteCounters]>,
    pub policy: PolicyCounters,
    pub local: LocalCounters,
    /// Extra packets made by replication (a flood to N destinations adds N - 1).
    pub replicas: Counter,
    /// Packets the management thread originated and this worker sent (ARP/ND requests).
    pub generated: Counter,
    /// MACs not learned because this worker's table was full.
    pub fdb_full: Counter,
    /// Loop iterations that received at least one packet, and those that received none.
    pub busy_polls: Counter,
    pub idle_polls: Counter,
    /// Sleeps of the idle back-off (`workers.idle_sleep_us`).
    pub idle_sleeps: Counter,
    /// Non-empty RX bursts and the packets in them (average burst = packets / bursts).
    pub bursts: Counter,
    pub burst_packets: Counter,
    /// TSC cycles spent in busy iterations: cycles per packet = busy_cycles / burst_packets.
    pub busy_cycles: Counter,
}

impl Default for WorkerCounters {
    fn default() -> Self {
        WorkerCounters {
            ports: std::array::from_fn(|_| PortCounters::default()),
            drops: std::array::from_fn(|_| Counter::default()),
            vnis: (0..crate::tables::MAX_VNIS)
                .map(|_| VniCounters::default())
                .collect(),
            vrfs: (0..crate::tables::route::MAX_VRFS)
                .map(|_| VrfCounters::default())
                .collect(),
            routes: (0..crate::tables::route::MAX_ROUTES)
                .map(|_| RouteCounters::default())
                .collect(),
            policy: PolicyCounters::default(),
            local: LocalCounters::default(),
            replicas: Counter::default(),
            generated: Counter::default(),
            fdb_full: Counter::default(),
            busy_polls: Counter::default(),
            idle_polls: Counter::default(),
            idle_sleeps: Counter::default(),
            bursts: Counter::default(),
            burst_packets: Counter::default(),
            busy_cycles: Counter::default(),
        }
    }
}

impl WorkerCounters {
    #[inline(always)]
    pub fn count_drop(&self, reason: DropReason, n: u64) {
        if let Some(c) = self.drops.get(reason as usize) {
            c.add(n);
        }
    }

    #[inline(always)]
    pub fn port(&self, index: usize) -> Option<&PortCounters> {
        self.ports.get(index)
    }

    #[inline(always)]
    pub fn vni(&self, index: crate::tables::VniIndex) -> Option<&VniCounters> {
        self.vnis.get(index.slot())
    }

    #[inline(always)]
    pub fn vrf(&self, index: crate::tables::route::VrfIndex) -> Option<&VrfCounters> {
        self.vrfs.get(index.slot())
    }

    #[inline(always)]
    pub fn route(&self, slot: crate::tables::route::RouteSlot) -> Option<&RouteCounters> {
        self.routes.get(slot.slot())
    }

    /// The counters of `vni` in slot `index`, if this worker already holds that VNI there.
    pub fn vni_of(
        &self,
        index: crate::tables::VniIndex,
        vni: crate::wire::Vni,
    ) -> Option<&VniCounters> {
        self.vni(index).filter(|c| c.belongs_to(vni))
    }
}

/// A shareable block of counters for one worker.
pub type SharedCounters = std::sync::Arc<CachePadded<WorkerCounters>>;

/// Sums of every worker's counters, taken at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CounterSnapshot {
    pub port_rx_packets: Vec<u64>,
    pub port_rx_bytes: Vec<u64>,
    pub port_tx_packets: Vec<u64>,
    pub port_tx_dropped: Vec<u64>,
    pub drops: Vec<u64>,
    pub busy_polls: u64,
    pub idle_polls: u64,
    pub bursts: u64,
    pub burst_packets: u64,
    pub busy_cycles: u64,
}

impl CounterSnapshot {
    pub fn sum(workers: &[SharedCounters], ports: usize) -> CounterSnapshot {
        let ports = ports.min(MAX_PORTS);
        let mut s = CounterSnapshot {
            port_rx_packets: vec![0; ports],
            port_rx_bytes: vec![0; ports],
            port_tx_packets: vec![0; ports],
            port_tx_dropped: vec![0; ports],
            drops: vec![0; DropReason::COUNT],
            ..CounterSnapshot::default()
        };
        for w in workers {
            let columns = [
                &mut s.port_rx_packets,
                &mut s.port_rx_bytes,
                &mut s.port_tx_packets,
                &mut s.port_tx_dropped,
            ];
            let field = |p: &PortCounters, c: usize| match c {
                0 => p.rx_packets.get(),
                1 => p.rx_bytes.get(),
                2 => p.tx_packets.get(),
                _ => p.tx_dropped.get(),
            };
            for (c, column) in columns.into_iter().enumerate() {
                for (sum, p) in column.iter_mut().zip(w.ports.iter()) {
                    *sum = sum.wrapping_add(field(p, c));
                }
            }
            for (d, c) in s.drops.iter_mut().zip(w.drops.iter()) {
                *d = d.wrapping_add(c.get());
            }
            s.busy_polls = s.busy_polls.wrapping_add(w.busy_polls.get());
            s.idle_polls = s.idle_polls.wrapping_add(w.idle_polls.get());
            s.bursts = s.bursts.wrapping_add(w.bursts.get());
            s.burst_packets = s.burst_packets.wrapping_add(w.burst_packets.get());
            s.busy_cycles = s.busy_cycles.wrapping_add(w.busy_cycles.get());
        }
        s
    }

    pub fn total_rx(&self) -> u64 {
        self.port_rx_packets.iter().sum()
    }

    pub fn total_tx(&self) -> u64 {
        self.port_tx_packets.iter().sum()
    }

    pub fn total_drops(&self) -> u64 {
        self.drops.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn snapshot_sums_workers() {
        let a: SharedCounters = Arc::new(CachePadded::new(WorkerCounters::default()));
        let b: SharedCounters = Arc::new(CachePadded::new(WorkerCounters::default()));
        a.ports[0].rx_packets.add(3);
        b.ports[0].rx_packets.add(4);
        b.ports[1].tx_packets.inc();
        a.count_drop(DropReason::TxQueueFull, 2);
        let s = CounterSnapshot::sum(&[a, b], 2);
        assert_eq!(s.port_rx_packets, vec![7, 0]);
        assert_eq!(s.port_tx_packets, vec![0, 1]);
        assert_eq!(s.drops[DropReason::TxQueueFull as usize], 2);
        assert_eq!(s.total_drops(), 2);
    }
}
