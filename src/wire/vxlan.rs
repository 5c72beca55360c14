//! VXLAN headers (RFC 7348 §5).
//!
//! ```text
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |R|R|R|R|I|R|R|R|            Reserved                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                VXLAN Network Identifier (VNI) |   Reserved    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//! Receivers must ignore the reserved bits; the I flag must be set for a valid VNI.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::{Error, Vni};

pub const HEADER_LEN: usize = 8;
/// IANA's VXLAN UDP port.
pub const DEFAULT_PORT: u16 = 4789;
/// The I flag: the VNI field is valid.
pub const FLAG_I: u8 = 0x08;

#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct Header {
    flags: u8,
    reserved1: [u8; 3],
    vni: [u8; 3],
    reserved2: u8,
}

impl Header {
    /// A header with only the I flag and `vni`.
    pub const fn new(vni: Vni) -> Header {
        Header {
            flags: FLAG_I,
            reserved1: [0; 3],
            vni: vni.to_bytes(),
            reserved2: 0,
        }
    }

    #[inline(always)]
    pub fn flags(&self) -> u8 {
        self.flags
    }

    #[inline(always)]
    pub fn has_vni(&self) -> bool {
        self.flags & FLAG_I != 0
    }

    #[inline(always)]
    pub fn vni(&self) -> Vni {
        Vni::from_bytes(self.vni)
    }

    #[inline(always)]
    pub fn set_vni(&mut self, vni: Vni) {
        self.vni = vni.to_bytes();
    }
}

#[inline(always)]
pub fn parse(bytes: &[u8]) -> Result<(&Header, &[u8]), Error> {
    super::overlay(bytes)
}

#[inline(always)]
pub fn parse_mut(bytes: &mut [u8]) -> Result<(&mut Header, &mut [u8]), Error> {
    super::overlay_mut(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    // I flag, VNI 5000 (0x001388)
    static HEADER: [u8; 8] = [0x08, 0, 0, 0, 0x00, 0x13, 0x88, 0];

    #[test]
    fn deconstruct() {
        let (h, rest) = parse(&HEADER).unwrap();
        assert!(h.has_vni());
        assert_eq!(h.vni().get(), 5000);
        assert!(rest.is_empty());
    }

    #[test]
    fn construct() {
        assert_eq!(Header::new(Vni::from_u24(5000)).as_bytes(), &HEADER);
    }

    #[test]
    fn reserved_bits_are_ignored() {
        let mut b = HEADER;
        b[0] = 0xff;
        b[1] = 0xff;
        b[7] = 0xff;
        let (h, _) = parse(&b).unwrap();
        assert!(h.has_vni());
        assert_eq!(h.vni().get(), 5000);
    }

    #[test]
    fn impossible_len() {
        assert_eq!(parse(&HEADER[..7]).unwrap_err(), Error::Truncated);
    }
}
