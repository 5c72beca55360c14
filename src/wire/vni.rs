//! The 24-bit virtual network identifier shared by VXLAN (VNI) and NVGRE (VSID).

use std::fmt;

/// A 24-bit VXLAN Network Identifier / NVGRE Virtual Subnet ID.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Vni(u32);

impl Vni {
    pub const MAX: u32 = 0x00ff_ffff;

    /// `None` when `v` does not fit in 24 bits.
    #[inline(always)]
    pub const fn new(v: u32) -> Option<Vni> {
        if v <= Self::MAX {
            Some(Vni(v))
        } else {
            None
        }
    }

    /// Keeps the low 24 bits (for values read from a 24-bit wire field).
    #[inline(always)]
    pub const fn from_u24(v: u32) -> Vni {
        Vni(v & Self::MAX)
    }

    #[inline(always)]
    pub const fn get(self) -> u32 {
        self.0
    }

    /// The three network-order bytes of the wire field.
    #[inline(always)]
    pub const fn to_bytes(self) -> [u8; 3] {
        let b = self.0.to_be_bytes();
        [b[1], b[2], b[3]]
    }

    #[inline(always)]
    pub const fn from_bytes(b: [u8; 3]) -> Vni {
        Vni(u32::from_be_bytes([0, b[0], b[1], b[2]]))
    }
}

impl fmt::Debug for Vni {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "vni{}", self.0)
    }
}

impl fmt::Display for Vni {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_24_bits() {
        assert_eq!(Vni::new(0xff_ffff).map(Vni::get), Some(0xff_ffff));
        assert_eq!(Vni::new(0x100_0000), None);
    }

    #[test]
    fn bytes_round_trip() {
        let v = Vni::from_u24(0x12_3456);
        assert_eq!(v.to_bytes(), [0x12, 0x34, 0x56]);
        assert_eq!(Vni::from_bytes([0x12, 0x34, 0x56]), v);
    }
}
