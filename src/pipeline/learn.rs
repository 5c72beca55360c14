//! Rate limits for what workers report about MACs.

use crate::tables::FdbKey;

/// Worker ticks per second (the worker clock runs at 1/16 s).
pub const TICKS_PER_SEC: u32 = 16;
/// A worker reports traffic from a known MAC at most this often (aging needs no finer).
pub const REFRESH_TICKS: u32 = TICKS_PER_SEC;

const SLOTS: usize = 4096;

/// Suppresses repeated "learned" reports: a MAC whose entry cannot be installed yet (its
/// tunnel does not exist on this worker until the management thread creates it) would
/// otherwise be reported by every packet. A direct-mapped memory of recent reports lets
/// each key through at most once per tick.
#[derive(Debug)]
pub struct LearnFilter {
    slots: Box<[(u64, u32)]>,
}

impl Default for LearnFilter {
    fn default() -> Self {
        LearnFilter {
            slots: vec![(u64::MAX, 0); SLOTS].into_boxed_slice(),
        }
    }
}

impl LearnFilter {
    /// True when `key`, seen now at a location `tag` (a small value naming where), should be
    /// reported.
    #[inline(always)]
    pub fn should_report(&mut self, key: FdbKey, tag: u64, now: u32) -> bool {
        let id = key.raw() ^ tag.rotate_left(29);
        let slot = (crate::tables::hash::fold_mul(id, 0x9e37_79b9_7f4a_7c15) as usize) % SLOTS;
        match self.slots.get_mut(slot) {
            Some(s) if s.0 == id && s.1 == now => false,
            Some(s) => {
                *s = (id, now);
                true
            }
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::VniIndex;
    use crate::wire::MacAddr;

    #[test]
    fn once_per_tick_per_key() {
        let mut f = LearnFilter::default();
        let k = FdbKey::new(VniIndex(1), MacAddr([2, 0, 0, 0, 0, 1]));
        assert!(f.should_report(k, 1, 10));
        assert!(!f.should_report(k, 1, 10));
        assert!(f.should_report(k, 2, 10), "a new location is news");
        assert!(f.should_report(k, 2, 11), "next tick");
    }
}
