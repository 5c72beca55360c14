//! Storm control: per-VNI rate limits for broadcast, multicast and unknown-unicast (BUM)
//! traffic, so a storm in one tenant's segment cannot take the replication capacity, the
//! underlay bandwidth or the access ports of the others.
//!
//! One token bucket per VNI slot per worker, no state shared between cores: each worker
//! admits its share of the VNI's rate (`Policer::share`), as RSS spreads flows over the
//! workers.

use super::policer::Policer;
use crate::tables::{VniIndex, MAX_VNIS};

/// One worker's storm-control buckets.
#[derive(Debug)]
pub struct StormControl {
    buckets: Box<[Policer]>,
    workers: u32,
}

impl StormControl {
    /// Buckets for every VNI slot; `workers` share each VNI's rate.
    pub fn new(workers: u32) -> StormControl {
        StormControl {
            buckets: vec![Policer::default(); MAX_VNIS].into_boxed_slice(),
            workers,
        }
    }

    /// Whether one more BUM packet of `vni`, whose limit is `limit_pps` (None: unlimited),
    /// may pass at worker tick `now`.
    #[inline]
    pub fn admit(&mut self, vni: VniIndex, limit_pps: Option<u32>, now: u32) -> bool {
        let Some(limit) = limit_pps else {
            return true;
        };
        let Some(b) = self.buckets.get_mut(vni.slot()) else {
            return true;
        };
        b.admit(Policer::share(limit, self.workers), now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admitted(s: &mut StormControl, vni: u16, limit: u32, now: u32, n: u32) -> u32 {
        (0..n)
            .filter(|_| s.admit(VniIndex(vni), Some(limit), now))
            .count() as u32
    }

    #[test]
    fn unlimited_vnis_always_pass() {
        let mut s = StormControl::new(1);
        assert!((0..100_000).all(|_| s.admit(VniIndex(3), None, 0)));
    }

    #[test]
    fn a_storm_gets_the_rate_and_the_burst_not_more() {
        let mut s = StormControl::new(1);
        // 1600 pps: a bucket of 2 ticks (200 packets), refilled with 100 packets a tick.
        assert_eq!(admitted(&mut s, 1, 1600, 0, 10_000), 200);
        assert_eq!(admitted(&mut s, 1, 1600, 0, 10_000), 0);
        assert_eq!(admitted(&mut s, 1, 1600, 1, 10_000), 100);
        // One second of storm at every tick: the rate, plus the initial burst.
        let total: u32 = (2..18).map(|t| admitted(&mut s, 1, 1600, t, 10_000)).sum();
        assert_eq!(total, 1600);
        // Idle for a long time: refilled to the depth only.
        assert_eq!(admitted(&mut s, 1, 1600, 1000, 10_000), 200);
    }

    #[test]
    fn slow_rates_still_refill_and_bursts_of_a_poll_pass() {
        let mut s = StormControl::new(1);
        assert_eq!(admitted(&mut s, 2, 4, 0, 100), 32, "at least one RX burst");
        // 4 pps = one packet every 4 ticks.
        let per_tick: Vec<u32> = (1..=8).map(|t| admitted(&mut s, 2, 4, t, 100)).collect();
        assert_eq!(per_tick, [0, 0, 0, 1, 0, 0, 0, 1]);
    }

    #[test]
    fn vnis_do_not_share_buckets_and_workers_share_the_rate() {
        let mut s = StormControl::new(4);
        // 6400 pps over 4 workers: 1600 each, depth 200.
        assert_eq!(admitted(&mut s, 1, 6400, 0, 10_000), 200);
        assert_eq!(admitted(&mut s, 2, 6400, 0, 10_000), 200, "VNI 2 untouched");
        // A new rate starts a fresh bucket.
        assert_eq!(admitted(&mut s, 1, 64_000, 0, 10_000), 2000);
    }

    #[test]
    fn the_clock_wrapping_around_is_a_tick_like_any_other() {
        let mut s = StormControl::new(1);
        admitted(&mut s, 1, 1600, u32::MAX, 10_000);
        assert_eq!(admitted(&mut s, 1, 1600, 0, 10_000), 100);
    }
}
