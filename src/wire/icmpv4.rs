//! ICMP echo (RFC 792): enough to answer pings to a VTEP address.

use zerocopy::network_endian::U16;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::Error;

pub const HEADER_LEN: usize = 8;
pub const ECHO_REPLY: u8 = 0;
pub const ECHO_REQUEST: u8 = 8;

/// The echo request/reply header.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct Header {
    pub icmp_type: u8,
    pub code: u8,
    checksum: U16,
    ident: U16,
    seq: U16,
}

impl Header {
    #[inline(always)]
    pub fn checksum(&self) -> u16 {
        self.checksum.get()
    }

    #[inline(always)]
    pub fn set_checksum(&mut self, c: u16) {
        self.checksum.set(c);
    }

    #[inline(always)]
    pub fn ident(&self) -> u16 {
        self.ident.get()
    }

    #[inline(always)]
    pub fn seq(&self) -> u16 {
        self.seq.get()
    }
}

/// Whether an ICMP message's checksum (over the whole message, RFC 792) verifies.
#[inline]
pub fn checksum_ok(message: &[u8]) -> bool {
    super::checksum::fold(super::checksum::sum(0, message)) == 0xffff
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
    use crate::wire::checksum;

    #[test]
    fn deconstruct() {
        let mut msg = [8u8, 0, 0, 0, 0x12, 0x34, 0x00, 0x01, b'p', b'i', b'n', b'g'];
        let c = checksum::checksum(&msg);
        msg[2..4].copy_from_slice(&c.to_be_bytes());
        let (h, data) = parse(&msg).unwrap();
        assert_eq!(h.icmp_type, ECHO_REQUEST);
        assert_eq!(h.ident(), 0x1234);
        assert_eq!(h.seq(), 1);
        assert_eq!(data, b"ping");
        assert_eq!(checksum::checksum(&msg), 0);
    }

    #[test]
    fn impossible_len() {
        assert_eq!(parse(&[8, 0, 0]).unwrap_err(), Error::Truncated);
    }
}
