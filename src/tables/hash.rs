//! The hasher of vtepd's hot tables: one 64×64→128-bit multiply folded to 64 bits.
//!
//! The keys are integers (a packed FDB key, a VNI), so SipHash's DoS resistance buys nothing
//! per lookup but costs ~20 ns; a folded multiply mixes every input bit into both halves, so
//! hashbrown's bucket index (low bits) and tag (top 7 bits) are both well distributed. The
//! seed is random per process so an attacker cannot precompute colliding MACs.

use std::hash::{BuildHasher, Hasher};

const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

#[inline(always)]
pub fn fold_mul(a: u64, b: u64) -> u64 {
    let p = u128::from(a).wrapping_mul(u128::from(b));
    // Both halves of the product, folded.
    (p as u64) ^ ((p >> 64) as u64)
}

/// Hasher for integer keys.
#[derive(Debug, Clone, Copy)]
pub struct FoldHasher {
    seed: u64,
    state: u64,
}

impl Hasher for FoldHasher {
    #[inline(always)]
    fn finish(&self) -> u64 {
        self.state
    }

    #[inline(always)]
    fn write_u64(&mut self, v: u64) {
        self.state = fold_mul(self.state ^ v ^ self.seed, MULTIPLIER);
    }

    #[inline(always)]
    fn write_u128(&mut self, v: u128) {
        self.write_u64(v as u64);
        self.write_u64((v >> 64) as u64);
    }

    #[inline(always)]
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }

    #[inline(always)]
    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }

    #[inline(always)]
    fn write_u16(&mut self, v: u16) {
        self.write_u64(u64::from(v));
    }

    #[inline(always)]
    fn write_u8(&mut self, v: u8) {
        self.write_u64(u64::from(v));
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            if let Some(dst) = w.get_mut(..chunk.len()) {
                dst.copy_from_slice(chunk);
            }
            self.write_u64(u64::from_le_bytes(w));
        }
    }
}

/// Builds `FoldHasher`s with a per-process random seed.
#[derive(Debug, Clone, Copy)]
pub struct FoldBuildHasher {
    seed: u64,
}

impl Default for FoldBuildHasher {
    fn default() -> Self {
        FoldBuildHasher {
            seed: process_seed(),
        }
    }
}

impl BuildHasher for FoldBuildHasher {
    type Hasher = FoldHasher;

    #[inline(always)]
    fn build_hasher(&self) -> FoldHasher {
        FoldHasher {
            seed: self.seed,
            state: 0,
        }
    }
}

/// A seed from std's randomly keyed SipHash (itself seeded from the OS), computed once.
pub(crate) fn process_seed() -> u64 {
    use std::sync::OnceLock;
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(0x7665_7470_6421);
        h.finish() | 1
    })
}

/// A hashbrown map with the fold hasher.
pub type FastMap<K, V> = hashbrown::HashMap<K, V, FoldBuildHasher>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_keys_spread_over_low_and_high_bits() {
        // 4096 keys into 4096 buckets: a random function fills 1 - 1/e of them (~2589, with a
        // standard deviation of ~20). Fixed seeds keep the test deterministic; the process
        // seed is random in the daemon.
        for seed in [0, 1, 0xdead_beef, u64::MAX, 0x0123_4567_89ab_cdef] {
            let b = FoldBuildHasher { seed };
            let mut low = std::collections::HashSet::new();
            let mut high = std::collections::HashSet::new();
            for k in 0u64..4096 {
                let h = b.hash_one(k << 48 | 0x0200_0000_0000 | k);
                low.insert(h & 0xfff);
                high.insert(h >> 57);
            }
            assert!(
                low.len() > 2330,
                "seed {seed:#x}: low bits poorly spread: {}",
                low.len()
            );
            assert_eq!(
                high.len(),
                128,
                "seed {seed:#x}: every top-7-bit tag value is used"
            );
        }
    }
}
