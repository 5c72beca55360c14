//! UDP headers (RFC 768).
//!
//! ```text
//! +----------------+----------------+----------------+----------------+
//! |  Source Port   |   Dest Port    |     Length     |    Checksum    |
//! +----------------+----------------+----------------+----------------+
//! ```

use zerocopy::network_endian::U16;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::Error;

pub const HEADER_LEN: usize = 8;

#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct Header {
    src_port: U16,
    dst_port: U16,
    len: U16,
    checksum: U16,
}

impl Header {
    pub const fn new(src_port: u16, dst_port: u16, len: u16) -> Header {
        Header {
            src_port: U16::new(src_port),
            dst_port: U16::new(dst_port),
            len: U16::new(len),
            checksum: U16::ZERO,
        }
    }

    #[inline(always)]
    pub fn src_port(&self) -> u16 {
        self.src_port.get()
    }

    #[inline(always)]
    pub fn dst_port(&self) -> u16 {
        self.dst_port.get()
    }

    /// Header plus payload length, as the header states it.
    #[inline(always)]
    pub fn length(&self) -> u16 {
        self.len.get()
    }

    #[inline(always)]
    pub fn checksum(&self) -> u16 {
        self.checksum.get()
    }

    #[inline(always)]
    pub fn set_src_port(&mut self, p: u16) {
        self.src_port.set(p);
    }

    #[inline(always)]
    pub fn set_dst_port(&mut self, p: u16) {
        self.dst_port.set(p);
    }

    #[inline(always)]
    pub fn set_len(&mut self, l: u16) {
        self.len.set(l);
    }

    #[inline(always)]
    pub fn set_checksum(&mut self, c: u16) {
        self.checksum.set(c);
    }
}

/// Views `bytes` as a UDP datagram: the length field must cover the header and fit in the
/// bytes given. Returns the header and the payload bounded by the length field.
#[inline(always)]
pub fn parse(bytes: &[u8]) -> Result<(&Header, &[u8]), Error> {
    let (h, _) = super::overlay::<Header>(bytes)?;
    let len = usize::from(h.length());
    if len < HEADER_LEN {
        return Err(Error::Malformed);
    }
    let payload = bytes.get(HEADER_LEN..len).ok_or(Error::Truncated)?;
    Ok((h, payload))
}

/// Whether a UDP datagram over IPv6 (header and payload, as its length field bounds it)
/// verifies: its checksum over the pseudo-header and the datagram.
#[inline]
pub fn checksum_ok_v6(src: &std::net::Ipv6Addr, dst: &std::net::Ipv6Addr, datagram: &[u8]) -> bool {
    use super::checksum::{fold, pseudo_header_v6, sum};
    let Ok(len) = u32::try_from(datagram.len()) else {
        return false;
    };
    let pseudo = pseudo_header_v6(src, dst, super::IpProtocol::UDP, len);
    fold(sum(pseudo, datagram)) == 0xffff
}

#[inline(always)]
pub fn parse_mut(bytes: &mut [u8]) -> Result<(&mut Header, &mut [u8]), Error> {
    super::overlay_mut(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    static DATAGRAM: [u8; 12] = [0xc0, 0x00, 0x12, 0xb5, 0x00, 0x0c, 0x00, 0x00, 1, 2, 3, 4];

    #[test]
    fn deconstruct() {
        let (h, payload) = parse(&DATAGRAM).unwrap();
        assert_eq!(h.src_port(), 49152);
        assert_eq!(h.dst_port(), 4789);
        assert_eq!(h.length(), 12);
        assert_eq!(payload, &[1, 2, 3, 4]);
    }

    #[test]
    fn construct() {
        let h = Header::new(49152, 4789, 12);
        assert_eq!(h.as_bytes(), &DATAGRAM[..8]);
    }

    #[test]
    fn impossible_len() {
        assert_eq!(parse(&DATAGRAM[..7]).unwrap_err(), Error::Truncated);
        assert_eq!(parse(&DATAGRAM[..11]).unwrap_err(), Error::Truncated);
        let mut short = DATAGRAM;
        short[5] = 7;
        assert_eq!(parse(&short).unwrap_err(), Error::Malformed);
    }
}
