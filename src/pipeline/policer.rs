//! A token bucket on the worker clock, for rate limits that must cost a few instructions:
//! storm control per VNI, the exception path per class.
//!
//! Buckets refill on the worker clock (1/16 s ticks); tokens are counted in sixteenths of a
//! packet so that a rate of a few packets per second still refills.

use super::learn::TICKS_PER_SEC;

/// Tokens per packet: a bucket refilled with `rate` tokens per tick admits `rate` packets
/// per second.
const PACKET: u64 = TICKS_PER_SEC as u64;
/// Depth of a bucket in ticks of traffic (an eighth of a second), so short bursts pass...
const DEPTH_TICKS: u64 = 2;
/// ...but at least this many packets (one RX burst) at any rate.
const MIN_DEPTH_PACKETS: u64 = 32;

/// One token bucket, owned by one worker.
#[derive(Debug, Clone, Copy, Default)]
pub struct Policer {
    /// The per-worker rate the bucket was filled for (packets/s); 0 = not set up yet.
    rate: u64,
    tokens: u64,
    last: u32,
}

impl Policer {
    /// One worker's share of a rate for the whole gateway (rounded up, at least 1).
    pub fn share(limit_pps: u32, workers: u32) -> u64 {
        u64::from(limit_pps)
            .div_ceil(u64::from(workers.max(1)))
            .max(1)
    }

    /// Whether one more packet may pass at worker tick `now`, at `rate` packets/s.
    #[inline]
    pub fn admit(&mut self, rate: u64, now: u32) -> bool {
        let depth = rate
            .saturating_mul(DEPTH_TICKS)
            .max(MIN_DEPTH_PACKETS * PACKET);
        if self.rate != rate {
            // A new user of the bucket, or a new rate: start full.
            *self = Policer {
                rate,
                tokens: depth,
                last: now,
            };
        } else {
            let elapsed = u64::from(now.wrapping_sub(self.last));
            self.tokens = self
                .tokens
                .saturating_add(elapsed.saturating_mul(rate))
                .min(depth);
            self.last = now;
        }
        if self.tokens >= PACKET {
            self.tokens = self.tokens.saturating_sub(PACKET);
            true
        } else {
            false
        }
    }
}
