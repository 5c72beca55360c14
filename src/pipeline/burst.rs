//! The order a worker runs a received burst through the pipeline in: every packet's data is
//! prefetched `PREFETCH_AHEAD` places before its turn, and its table slots (the first pass,
//! `Gateway::hint`) `TABLES_AHEAD` places before, so the cache misses of one packet overlap
//! the work on the packets in front of it. The data plane and the criterion benchmarks both
//! run bursts through this, so what the benchmarks measure is the worker's own loop.

use crate::tables::PortIndex;

use super::gateway::TableHint;
use super::{DropReason, Frame, Gateway, Verdict};

/// The most packets one burst holds (the data plane's RX burst array).
pub const MAX_BURST: usize = 64;

/// How far ahead of the packet being processed its data is prefetched, and (from that data,
/// once it has arrived) its MAC-table slots. Measured alternatives are in
/// docs/PERFORMANCE.md ("tried and not kept").
const PREFETCH_AHEAD: usize = 4;
const TABLES_AHEAD: usize = 2;

/// One burst in progress: where it came from and the first pass's work per packet.
#[derive(Debug)]
pub struct BurstRun {
    hints: [TableHint; MAX_BURST],
    port: PortIndex,
    from_underlay: bool,
}

impl Default for BurstRun {
    fn default() -> BurstRun {
        BurstRun {
            hints: [TableHint::default(); MAX_BURST],
            port: 0,
            from_underlay: false,
        }
    }
}

impl BurstRun {
    /// Starts a burst received on `port` (`from_underlay`: the underlay port): prefetches
    /// the first packets and works out the first pass for those the loop will not reach
    /// ahead of time.
    #[inline(always)]
    pub fn start<F: Frame>(
        &mut self,
        gw: &Gateway,
        packets: &[Option<F>],
        port: PortIndex,
        from_underlay: bool,
    ) {
        self.port = port;
        self.from_underlay = from_underlay;
        for f in packets.iter().take(PREFETCH_AHEAD).flatten() {
            f.prefetch_data();
        }
        for (f, h) in packets.iter().zip(self.hints.iter_mut()).take(TABLES_AHEAD) {
            *h = f
                .as_ref()
                .map(|f| gw.hint(f.data(), port, from_underlay))
                .unwrap_or_default();
        }
    }

    /// Runs packet `i` through the pipeline, having first prefetched and hinted the packets
    /// ahead of it, and returns its verdict (None: the slot is empty). The packet stays in
    /// its slot, rewritten, for the caller to take and carry the verdict out on: returning
    /// it alongside would make the result too large to come back in registers. Call for
    /// `i` = 0, 1, … in order after `start`.
    #[inline(always)]
    pub fn next<F: Frame>(
        &mut self,
        gw: &mut Gateway,
        packets: &mut [Option<F>],
        i: usize,
    ) -> Option<Verdict> {
        if let Some(Some(ahead)) = packets.get(i.saturating_add(PREFETCH_AHEAD)) {
            ahead.prefetch_data();
        }
        let next = i.saturating_add(TABLES_AHEAD);
        if let (Some(Some(ahead)), Some(h)) = (packets.get(next), self.hints.get_mut(next)) {
            *h = gw.hint(ahead.data(), self.port, self.from_underlay);
        }
        if let Some(h) = self.hints.get(i.saturating_add(1)) {
            gw.hint_again(h);
        }
        let f = packets.get_mut(i)?.as_mut()?;
        // Every packet gets its own hint (a slot never filled holds the default: no hint).
        let hint = self
            .hints
            .get_mut(i)
            .map(std::mem::take)
            .unwrap_or_default();
        gw.use_hint(hint);
        // The pool's buffers fit the largest configured MTU; a longer frame arrives as a
        // chain, whose headers the pipeline cannot see whole.
        if !f.is_contiguous() {
            return Some(Verdict::Drop(DropReason::FrameTooLong));
        }
        Some(if self.from_underlay {
            gw.underlay(f)
        } else {
            gw.access(f, self.port)
        })
    }
}
