//! The gateway mode on a worker: runs the pipeline on each received mbuf and carries out its
//! verdict — send, segment, replicate, absorb or drop — on the real buffers.

use std::sync::Arc;

use crossbeam::queue::ArrayQueue;

use crate::dpdk::{Burst, Gso, Mbuf, Mempool, Segmented, MAX_SEGMENTS};
use crate::pipeline::encap::{self, PacketParams};
use crate::pipeline::{
    segment, BurstRun, DropReason, Flood, Frame, Gateway, InnerMeta, Offload, Target, Verdict,
};
use crate::tables::PortIndex;
use crate::wire::{checksum, ethernet, vlan};

use super::counters::WorkerCounters;
use super::worker::{BurstHandler, TxPorts};

// The pipeline's burst state must hold every packet an RX burst can bring.
const _: () = assert!(crate::dpdk::MAX_BURST <= crate::pipeline::MAX_BURST);

/// Table updates applied per drain period (100 µs): 2.5 M updates/s at most, while a burst of
/// them never delays packets by more than a few microseconds.
const UPDATES_PER_DRAIN: usize = 256;
/// Management-originated packets sent per drain period.
const SLOW_PATH_PER_DRAIN: usize = 32;

/// Buffers a worker needs beyond the packets it receives.
#[derive(Debug, Clone, Copy)]
pub struct ReplicationPools {
    /// Small direct buffers for the private headers of copies and GSO segments.
    pub headers: Mempool,
    /// Indirect buffers (no data room) that reference a shared payload.
    pub indirect: Mempool,
    /// Full-size buffers, for copies to ports that cannot send chained buffers.
    pub full: Mempool,
}

/// The gateway's `BurstHandler`.
#[derive(Debug)]
pub struct GatewayHandler {
    gw: Gateway,
    underlay: usize,
    pools: ReplicationPools,
    gso: Gso,
    segments: Box<[Option<Mbuf>; MAX_SEGMENTS]>,
    /// The burst being handled.
    burst: BurstRun,
    /// Packets the management thread originates (ARP/ND requests, what the EVPN
    /// namespace's kernel sends), sent on the underlay.
    slow_path: Arc<ArrayQueue<Mbuf>>,
    /// Packets for the EVPN namespace's kernel (the exception path), when it is on.
    to_kernel: Option<Arc<ArrayQueue<Mbuf>>>,
    tsc_per_tick: u64,
}

impl GatewayHandler {
    pub fn new(
        gw: Gateway,
        pools: ReplicationPools,
        slow_path: Arc<ArrayQueue<Mbuf>>,
        to_kernel: Option<Arc<ArrayQueue<Mbuf>>>,
        tsc_hz: u64,
    ) -> GatewayHandler {
        let underlay = usize::from(gw.params.underlay_port);
        let max_frame = gw.params.mtu.saturating_add(ethernet::HEADER_LEN as u16);
        GatewayHandler {
            gso: Gso::new(&pools.headers, &pools.indirect, max_frame),
            gw,
            underlay,
            pools,
            segments: Box::new(std::array::from_fn(|_| None)),
            burst: BurstRun::default(),
            slow_path,
            to_kernel,
            tsc_per_tick: tsc_hz
                .checked_div(u64::from(crate::pipeline::learn::TICKS_PER_SEC))
                .unwrap_or(0)
                .max(1),
        }
    }

    #[inline(always)]
    fn tick(&self, tsc: u64) -> u32 {
        // Wraps after years; the pipeline compares ticks with wrapping arithmetic.
        tsc.checked_div(self.tsc_per_tick).unwrap_or(0) as u32
    }

    #[inline(always)]
    fn execute(&mut self, verdict: Verdict, m: Mbuf, tx: &mut TxPorts) {
        match verdict {
            Verdict::Forward(port) => tx.send(usize::from(port), m),
            Verdict::Drop(reason) => tx.drop_packet(m, reason),
            Verdict::Consumed => drop(m),
            Verdict::Exception => self.exception(m, tx),
            Verdict::Flood(f) => self.flood(f, m, tx),
            Verdict::Segment(port) => self.segment(m, usize::from(port), tx),
        }
    }

    /// Hands a packet to the exception thread, which writes it into the EVPN namespace.
    #[cold]
    fn exception(&mut self, m: Mbuf, tx: &mut TxPorts) {
        let Some(queue) = &self.to_kernel else {
            tx.drop_packet(m, DropReason::NotLocal);
            return;
        };
        match queue.push(m) {
            Ok(()) => self.gw.counters().local.to_kernel.inc(),
            Err(m) => tx.drop_packet(m, DropReason::ExceptionQueueFull),
        }
    }

    /// Sends one copy of a broadcast/unknown frame to every destination of its VNI. All but
    /// the last get a private header buffer chained to an indirect reference to the frame
    /// (no payload copy); the last one is the original, rewritten in place. Access copies
    /// come first: tagging in place overwrites the inner MAC bytes, which only access copies
    /// (whose reference skips the Ethernet header) may share.
    fn flood(&mut self, fl: Flood, m: Mbuf, tx: &mut TxPorts) {
        let targets = self.gw.flood_targets(fl).count();
        if targets == 0 {
            tx.drop_packet(m, DropReason::NoFloodDestination);
            return;
        }
        let mut inner_eth = [0u8; ethernet::HEADER_LEN];
        match m.data().get(..ethernet::HEADER_LEN) {
            Some(h) => inner_eth.copy_from_slice(h),
            None => {
                tx.drop_packet(m, DropReason::InnerTruncated);
                return;
            }
        }
        let inner_len = m.data().len();
        let meta = if fl.to_underlay {
            self.gw.inner_meta(m.data(), m.rss_hash())
        } else {
            InnerMeta::default()
        };
        let mut inner_sum: Option<u64> = None;
        let mut original = Some(m);
        let counters = Arc::clone(self.gw.counters());
        // Every copy beyond the original is a replica, sent or dropped: with that, received
        // + replicas = sent + dropped holds for floods too.
        counters.replicas.add(targets.saturating_sub(1) as u64);
        for (i, target) in self.gw.flood_targets(fl).enumerate() {
            let last = i.saturating_add(1) == targets;
            let result = match target {
                Target::Access { port, .. } if !self.gw.fits_access(port, inner_len) => {
                    drop_copy(
                        last,
                        &mut original,
                        DropReason::AccessMtuExceeded,
                        tx,
                        &counters,
                    );
                    continue;
                }
                Target::Access { port, vlan } => {
                    if last {
                        original.take().map(|m| self.access_in_place(m, port, vlan))
                    } else {
                        original
                            .as_ref()
                            .map(|m| self.access_copy(m, &inner_eth, port, vlan))
                    }
                }
                Target::Tunnel(t) => {
                    let Some((vni_id, outer)) = self.gw.flood_tunnel(fl.vni, t) else {
                        let reason = DropReason::NeighborUnresolved;
                        drop_copy(last, &mut original, reason, tx, &counters);
                        continue;
                    };
                    if outer.outer_ip_len(inner_len) > usize::from(self.gw.params.mtu) {
                        drop_copy(last, &mut original, DropReason::MtuExceeded, tx, &counters);
                        continue;
                    }
                    let params = PacketParams {
                        vni: vni_id,
                        inner_len,
                        entropy: meta.entropy,
                        tos: meta.tos,
                    };
                    let r = if last {
                        original.take().map(|mut m| {
                            self.gw
                                .encap_in_place(&mut m, &outer, vni_id, meta)
                                .map(|()| (self.underlay, m))
                        })
                    } else {
                        let sw_sum = outer.is_ipv6()
                            && outer.encap() == crate::config::Encap::Vxlan
                            && !self.gw.params.offload.outer_udp_checksum;
                        if sw_sum && inner_sum.is_none() {
                            inner_sum = original.as_ref().map(|m| checksum::sum(0, m.data()));
                        }
                        original
                            .as_ref()
                            .map(|m| self.tunnel_copy(m, &outer, &params, inner_sum))
                    };
                    if let Some(Ok(_)) = &r {
                        self.gw
                            .count_flood_encap(fl.vni, outer.len().saturating_add(inner_len));
                    }
                    r
                }
            };
            match result {
                Some(Ok((port, copy))) => {
                    if let Some(c) = counters.vni(fl.vni) {
                        c.flood_copies.inc();
                    }
                    tx.send(port, copy);
                }
                Some(Err(reason)) => counters.count_drop(reason, 1),
                None => {}
            }
        }
        // Not reached with a packet left, but never leak one.
        if let Some(m) = original {
            tx.drop_packet(m, DropReason::NoFloodDestination);
        }
    }

    fn access_in_place(
        &self,
        mut m: Mbuf,
        port: PortIndex,
        vlan: Option<u16>,
    ) -> Result<(usize, Mbuf), DropReason> {
        if let Some(v) = vlan {
            if !crate::pipeline::vlan::push(&mut m, v) {
                return Err(DropReason::NoHeadroom);
            }
        }
        Ok((usize::from(port), m))
    }

    /// A copy for an access port: its own Ethernet header (tagged as the port needs) chained
    /// to a reference to the original's payload.
    fn access_copy(
        &self,
        m: &Mbuf,
        inner_eth: &[u8; ethernet::HEADER_LEN],
        port: PortIndex,
        vlan: Option<u16>,
    ) -> Result<(usize, Mbuf), DropReason> {
        let hdr_len = if vlan.is_some() {
            ethernet::HEADER_LEN + vlan::TAG_LEN
        } else {
            ethernet::HEADER_LEN
        };
        let mut hdr = self
            .pools
            .headers
            .alloc()
            .ok_or(DropReason::MbufExhausted)?;
        let h = hdr.append(hdr_len as u16).ok_or(DropReason::NoHeadroom)?;
        write_access_header(h, inner_eth, vlan);
        let payload = m.data().get(ethernet::HEADER_LEN..).unwrap_or_default();
        let copy = self.attach(hdr, m, ethernet::HEADER_LEN, payload)?;
        Ok((usize::from(port), copy))
    }

    /// A copy for a tunnel: its own outer headers chained to a reference to the whole inner
    /// frame.
    fn tunnel_copy(
        &self,
        m: &Mbuf,
        outer: &encap::OuterTemplate,
        params: &PacketParams,
        inner_sum: Option<u64>,
    ) -> Result<(usize, Mbuf), DropReason> {
        let mut hdr = self
            .pools
            .headers
            .alloc()
            .ok_or(DropReason::MbufExhausted)?;
        let h = hdr
            .append(outer.len() as u16)
            .ok_or(DropReason::NoHeadroom)?;
        outer.write(h, params, &self.gw.params.source_ports)?;
        let udp6 = outer.is_ipv6() && outer.encap() == crate::config::Encap::Vxlan;
        match inner_sum {
            Some(sum) if udp6 => {
                encap::finish_udp6_checksum(h, sum);
            }
            _ if udp6 => hdr.request_offload(Offload::outer_udp6(outer.len())),
            _ => {}
        }
        let copy = self.attach(hdr, m, 0, m.data())?;
        Ok((self.underlay, copy))
    }

    /// Chains `hdr` to a zero-copy reference to `m` from byte `skip` on; on ports that cannot
    /// send chained buffers, copies `payload` into `hdr`'s full-size twin instead.
    fn attach(&self, hdr: Mbuf, m: &Mbuf, skip: usize, payload: &[u8]) -> Result<Mbuf, DropReason> {
        if !self.gw.params.offload.multi_segs {
            let mut full = self.pools.full.alloc().ok_or(DropReason::MbufExhausted)?;
            let head = hdr.data();
            let total = head.len().saturating_add(payload.len());
            let out = full.append(total as u16).ok_or(DropReason::NoHeadroom)?;
            let (a, b) = out.split_at_mut(head.len());
            a.copy_from_slice(head);
            b.copy_from_slice(payload);
            full.set_ol_flags(hdr.ol_flags());
            full.set_tx_offload(hdr.tx_offload());
            return Ok(full);
        }
        let mut clone = m
            .clone_indirect(&self.pools.indirect)
            .ok_or(DropReason::MbufExhausted)?;
        if skip > 0 && !clone.adj(skip as u16) {
            return Err(DropReason::InnerTruncated);
        }
        hdr.chain(clone).map_err(|_| DropReason::MbufExhausted)
    }

    /// Segments an encapsulated TCP packet to the MTU: by the NIC when it has tunnel TSO,
    /// else with librte_gso, fixing each segment's checksums in software.
    fn segment(&mut self, mut m: Mbuf, port: usize, tx: &mut TxPorts) {
        if self.gw.params.offload.tunnel_tso {
            if m.prepare_tx_offload() {
                tx.send(port, m);
            } else {
                tx.drop_packet(m, DropReason::MtuExceeded);
            }
            return;
        }
        let lens = m.tx_offload();
        let offload = Offload {
            outer_l2_len: lens.outer_l2_len,
            outer_l3_len: lens.outer_l3_len,
            l2_len: lens.l2_len,
            l3_len: lens.l3_len,
            l4_len: lens.l4_len,
            ..Offload::default()
        };
        let counters = Arc::clone(self.gw.counters());
        match self.gso.segment(m, &mut self.segments) {
            Ok(Segmented::Whole(mut m)) => {
                m.set_ol_flags(0);
                tx.send(port, m);
            }
            Ok(Segmented::Segments(n)) => {
                counters.replicas.add(n.saturating_sub(1) as u64);
                let linearize = !self.gw.params.offload.multi_segs;
                for i in 0..n {
                    let Some(mut s) = self.segments.get_mut(i).and_then(Option::take) else {
                        continue;
                    };
                    let (head, tail) = s.head_and_tail();
                    let ok = segment::finish_tcp4_segment(head, tail, &offload);
                    // Checksums are done: the port must not be asked for offloads it lacks.
                    s.set_ol_flags(0);
                    let s = if linearize { self.linearize(s) } else { Ok(s) };
                    match (ok, s) {
                        (true, Ok(s)) => tx.send(port, s),
                        (false, Ok(s)) => tx.drop_packet(s, DropReason::MtuExceeded),
                        (_, Err(reason)) => counters.count_drop(reason, 1),
                    }
                }
            }
            Err(_) => counters.count_drop(DropReason::MbufExhausted, 1),
        }
    }
}

impl GatewayHandler {
    /// One contiguous copy of a chained packet, for ports that cannot send chains.
    fn linearize(&self, m: Mbuf) -> Result<Mbuf, DropReason> {
        let len = u16::try_from(m.pkt_len()).map_err(|_| DropReason::MtuExceeded)?;
        let mut full = self.pools.full.alloc().ok_or(DropReason::MbufExhausted)?;
        let out = full.append(len).ok_or(DropReason::MtuExceeded)?;
        if m.copy_to(out) != usize::from(len) {
            return Err(DropReason::MtuExceeded);
        }
        Ok(full)
    }
}

/// Drops one flood copy that cannot be made: the original itself when it is the last, else
/// only counted (no copy was made).
fn drop_copy(
    last: bool,
    original: &mut Option<Mbuf>,
    reason: DropReason,
    tx: &mut TxPorts,
    counters: &WorkerCounters,
) {
    match original.take_if(|_| last) {
        Some(m) => tx.drop_packet(m, reason),
        None => counters.count_drop(reason, 1),
    }
}

/// An Ethernet header, with an 802.1Q tag when `vlan` is set, from the inner frame's header.
fn write_access_header(out: &mut [u8], inner_eth: &[u8; ethernet::HEADER_LEN], vlan: Option<u16>) {
    let (macs, ethertype) = inner_eth.split_at(12);
    if let Some(dst) = out.get_mut(..12) {
        dst.copy_from_slice(macs);
    }
    match vlan {
        Some(v) => {
            let tag = [0x81, 0x00, (v >> 8) as u8, v as u8];
            if let Some(dst) = out.get_mut(12..16) {
                dst.copy_from_slice(&tag);
            }
            if let Some(dst) = out.get_mut(16..18) {
                dst.copy_from_slice(ethertype);
            }
        }
        None => {
            if let Some(dst) = out.get_mut(12..14) {
                dst.copy_from_slice(ethertype);
            }
        }
    }
}

impl BurstHandler for GatewayHandler {
    #[inline]
    fn handle(&mut self, rx_port: usize, burst: &mut Burst, tx: &mut TxPorts, now: u64) {
        let tick = self.tick(now);
        self.gw.set_now(tick);
        let from_underlay = rx_port == self.underlay;
        let packets = burst.packets();
        self.burst
            .start(&self.gw, packets, rx_port as PortIndex, from_underlay);
        for i in 0..packets.len() {
            let verdict = self.burst.next(&mut self.gw, packets, i);
            if let (Some(verdict), Some(m)) = (verdict, packets.get_mut(i).and_then(Option::take)) {
                self.execute(verdict, m, tx);
            }
        }
    }

    fn housekeeping(&mut self, tx: &mut TxPorts, now: u64) {
        let tick = self.tick(now);
        self.gw.set_now(tick);
        self.gw.apply_updates(UPDATES_PER_DRAIN);
        self.gw.age_sessions();
        for _ in 0..SLOW_PATH_PER_DRAIN {
            let Some(m) = self.slow_path.pop() else { break };
            tx.counters().generated.inc();
            tx.send(self.underlay, m);
        }
    }
}
