//! GRE as NVGRE uses it (RFC 7637 §3.2, on RFC 2784/2890 GRE).
//!
//! ```text
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |0| |1|0|   Reserved0     | Ver |   Protocol Type 0x6558        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |               Virtual Subnet ID (VSID)        |    FlowID     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//! C (checksum) and S (sequence) must be clear, K (key) set, version 0.

use zerocopy::network_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::{Error, EtherType, Vni};

/// GRE with a key: 4 bytes of flags/protocol and 4 of key.
pub const HEADER_LEN: usize = 8;

pub const FLAG_C: u16 = 0x8000;
pub const FLAG_K: u16 = 0x2000;
pub const FLAG_S: u16 = 0x1000;
/// RFC 2784's bits 1-5 other than K and S (RFC 1701's routing-present and strict-source-route
/// bits and the first recursion bit): a receiver that does not implement RFC 1701 must discard
/// the packet. With R set, RFC 1701 also moves the key, so the VSID would be misread.
const RFC1701_BITS: u16 = 0x4000 | 0x0800 | 0x0400;
const VERSION_MASK: u16 = 0x0007;

/// The ways GRE can fail to be NVGRE, each a distinct drop reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NvgreError {
    Truncated,
    /// Checksum or sequence present (NVGRE forbids them).
    ChecksumOrSequence,
    /// No key: no VSID.
    NoKey,
    BadVersion,
    /// RFC 1701 routing, strict source route or recursion bits set.
    Rfc1701,
    /// Not Transparent Ethernet Bridging (0x6558).
    NotEthernet,
}

#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct Header {
    flags_version: U16,
    protocol: U16,
    key: U32,
}

impl Header {
    /// An NVGRE header: K bit, TEB protocol, key = VSID << 8 | FlowID.
    pub const fn nvgre(vsid: Vni, flow_id: u8) -> Header {
        Header {
            flags_version: U16::new(FLAG_K),
            protocol: U16::new(EtherType::TEB),
            key: U32::new((vsid.get() << 8) | flow_id as u32),
        }
    }

    #[inline(always)]
    pub fn flags_version(&self) -> u16 {
        self.flags_version.get()
    }

    #[inline(always)]
    pub fn protocol(&self) -> u16 {
        self.protocol.get()
    }

    #[inline(always)]
    pub fn key(&self) -> u32 {
        self.key.get()
    }

    #[inline(always)]
    pub fn vsid(&self) -> Vni {
        Vni::from_u24(self.key.get() >> 8)
    }

    #[inline(always)]
    pub fn flow_id(&self) -> u8 {
        // The key's low byte.
        (self.key.get() & 0xff) as u8
    }

    #[inline(always)]
    pub fn set_key(&mut self, vsid: Vni, flow_id: u8) {
        self.key.set((vsid.get() << 8) | u32::from(flow_id));
    }
}

/// Views `bytes` as an NVGRE header, enforcing RFC 7637's constraints.
#[inline(always)]
pub fn parse_nvgre(bytes: &[u8]) -> Result<(&Header, &[u8]), NvgreError> {
    // Check the fixed 4 bytes first: with C or S set the key sits at another offset.
    let (base, _) = super::overlay::<[U16; 2]>(bytes).map_err(|_| NvgreError::Truncated)?;
    let [flags, protocol] = *base;
    let flags = flags.get();
    if flags & (FLAG_C | FLAG_S) != 0 {
        return Err(NvgreError::ChecksumOrSequence);
    }
    if flags & RFC1701_BITS != 0 {
        return Err(NvgreError::Rfc1701);
    }
    if flags & FLAG_K == 0 {
        return Err(NvgreError::NoKey);
    }
    if flags & VERSION_MASK != 0 {
        return Err(NvgreError::BadVersion);
    }
    if protocol.get() != EtherType::TEB {
        return Err(NvgreError::NotEthernet);
    }
    super::overlay::<Header>(bytes).map_err(|_| NvgreError::Truncated)
}

#[inline(always)]
pub fn parse_mut(bytes: &mut [u8]) -> Result<(&mut Header, &mut [u8]), Error> {
    super::overlay_mut(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    // K bit, TEB, VSID 0x001388 (5000), FlowID 0x2a
    static HEADER: [u8; 8] = [0x20, 0x00, 0x65, 0x58, 0x00, 0x13, 0x88, 0x2a];

    #[test]
    fn rfc1701_bits_are_refused_and_reserved_bits_6_to_12_ignored() {
        for flags in [0x6000u16, 0x2800, 0x2400] {
            let mut h = HEADER;
            h[..2].copy_from_slice(&flags.to_be_bytes());
            assert_eq!(
                parse_nvgre(&h).unwrap_err(),
                NvgreError::Rfc1701,
                "{flags:#06x}"
            );
        }
        for flags in [0x2200u16, 0x2100, 0x20f8] {
            let mut h = HEADER;
            h[..2].copy_from_slice(&flags.to_be_bytes());
            assert_eq!(
                parse_nvgre(&h).unwrap().0.vsid().get(),
                5000,
                "{flags:#06x}"
            );
        }
    }

    #[test]
    fn deconstruct() {
        let (h, rest) = parse_nvgre(&HEADER).unwrap();
        assert_eq!(h.vsid().get(), 5000);
        assert_eq!(h.flow_id(), 0x2a);
        assert!(rest.is_empty());
    }

    #[test]
    fn construct() {
        let h = Header::nvgre(Vni::from_u24(5000), 0x2a);
        assert_eq!(h.as_bytes(), &HEADER);
    }

    #[test]
    fn impossible_len() {
        assert_eq!(
            parse_nvgre(&HEADER[..3]).unwrap_err(),
            NvgreError::Truncated
        );
        assert_eq!(
            parse_nvgre(&HEADER[..7]).unwrap_err(),
            NvgreError::Truncated
        );
    }

    #[test]
    fn rejects_what_nvgre_forbids() {
        let mut b = HEADER;
        b[0] = 0xa0; // C + K
        assert_eq!(parse_nvgre(&b).unwrap_err(), NvgreError::ChecksumOrSequence);
        b[0] = 0x30; // K + S
        assert_eq!(parse_nvgre(&b).unwrap_err(), NvgreError::ChecksumOrSequence);
        b[0] = 0x00; // no K
        assert_eq!(parse_nvgre(&b).unwrap_err(), NvgreError::NoKey);
        b[0] = 0x20;
        b[1] = 0x01; // version 1
        assert_eq!(parse_nvgre(&b).unwrap_err(), NvgreError::BadVersion);
        b[1] = 0x00;
        b[2] = 0x08; // protocol 0x0858
        assert_eq!(parse_nvgre(&b).unwrap_err(), NvgreError::NotEthernet);
    }
}
