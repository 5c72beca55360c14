//! IEEE 802.1Q tags.
//!
//! A tagged frame carries TPID 0x8100 where the EtherType would be, then this 4-byte tag:
//!
//! ```text
//! +-----+---+--------------+-------------------+
//! | PCP |DEI|   VLAN id    | inner EtherType   |
//! | 3 b |1 b|    12 b      |       16 b        |
//! +-----+---+--------------+-------------------+
//! ```

use zerocopy::network_endian::U16;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::{Error, EtherType};

/// Bytes a tag adds after the source MAC (TPID + TCI).
pub const TAG_LEN: usize = 4;
/// The tag's bytes after the TPID: TCI + inner EtherType.
pub const HEADER_LEN: usize = 4;
pub const VID_MASK: u16 = 0x0fff;

/// The tag that follows a TPID of 0x8100.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct Header {
    tci: U16,
    ethertype: U16,
}

impl Header {
    pub const fn new(tci: u16, ethertype: u16) -> Header {
        Header {
            tci: U16::new(tci),
            ethertype: U16::new(ethertype),
        }
    }

    #[inline(always)]
    pub fn tci(&self) -> u16 {
        self.tci.get()
    }

    #[inline(always)]
    pub fn vid(&self) -> u16 {
        self.tci.get() & VID_MASK
    }

    #[inline(always)]
    pub fn pcp(&self) -> u8 {
        pcp_of(self.tci.get())
    }

    #[inline(always)]
    pub fn ethertype(&self) -> EtherType {
        EtherType::from(self.ethertype.get())
    }

    #[inline(always)]
    pub fn ethertype_raw(&self) -> u16 {
        self.ethertype.get()
    }
}

/// The priority (PCP) of a TCI.
#[inline(always)]
pub const fn pcp_of(tci: u16) -> u8 {
    // The top 3 bits of a u16 always fit a u8.
    (tci >> 13) as u8
}

/// Builds a TCI from priority and VLAN id.
#[inline(always)]
pub const fn tci(pcp: u8, vid: u16) -> u16 {
    (((pcp & 0x7) as u16) << 13) | (vid & VID_MASK)
}

#[inline(always)]
pub fn parse(bytes: &[u8]) -> Result<(&Header, &[u8]), Error> {
    super::overlay(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    // PCP 5, DEI 0, VID 100, inner IPv4
    static TAG: [u8; 4] = [0xa0, 0x64, 0x08, 0x00];

    #[test]
    fn deconstruct() {
        let (h, rest) = parse(&TAG).unwrap();
        assert_eq!(h.vid(), 100);
        assert_eq!(h.pcp(), 5);
        assert_eq!(h.ethertype(), EtherType::Ipv4);
        assert!(rest.is_empty());
    }

    #[test]
    fn construct() {
        let h = Header::new(tci(5, 100), 0x0800);
        assert_eq!(h.as_bytes(), &TAG);
    }

    #[test]
    fn impossible_len() {
        assert_eq!(parse(&TAG[..3]).unwrap_err(), Error::Truncated);
    }
}
