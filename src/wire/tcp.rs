//! TCP headers (RFC 9293): only what a tunnel endpoint needs — ports for the entropy hash and
//! the header length for segmentation offload.

use zerocopy::network_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::Error;

pub const HEADER_LEN: usize = 20;

#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct Header {
    src_port: U16,
    dst_port: U16,
    seq: U32,
    ack: U32,
    data_offset: u8,
    flags: u8,
    window: U16,
    checksum: U16,
    urgent: U16,
}

impl Header {
    #[inline(always)]
    pub fn src_port(&self) -> u16 {
        self.src_port.get()
    }

    #[inline(always)]
    pub fn dst_port(&self) -> u16 {
        self.dst_port.get()
    }

    #[inline(always)]
    pub fn seq(&self) -> u32 {
        self.seq.get()
    }

    /// Header length in bytes, options included.
    #[inline(always)]
    pub fn header_len(&self) -> usize {
        usize::from(self.data_offset >> 4) << 2
    }

    #[inline(always)]
    pub fn flags(&self) -> u8 {
        self.flags
    }
}

/// Views `bytes` as a TCP segment; the data offset must be at least 5 words and fit.
#[inline(always)]
pub fn parse(bytes: &[u8]) -> Result<(&Header, &[u8]), Error> {
    let (h, _) = super::overlay::<Header>(bytes)?;
    let hlen = h.header_len();
    if hlen < HEADER_LEN {
        return Err(Error::Malformed);
    }
    let payload = bytes.get(hlen..).ok_or(Error::Truncated)?;
    Ok((h, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    static SEGMENT: [u8; 24] = [
        0x30, 0x39, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0, b'a',
        b'b', b'c', b'd',
    ];

    #[test]
    fn deconstruct() {
        let (h, payload) = parse(&SEGMENT).unwrap();
        assert_eq!(h.src_port(), 12345);
        assert_eq!(h.dst_port(), 80);
        assert_eq!(h.seq(), 1);
        assert_eq!(h.header_len(), 20);
        assert_eq!(h.flags(), 0x18);
        assert_eq!(payload, b"abcd");
    }

    #[test]
    fn impossible_len() {
        assert_eq!(parse(&SEGMENT[..19]).unwrap_err(), Error::Truncated);
        let mut s = SEGMENT;
        s[12] = 0x40;
        assert_eq!(parse(&s).unwrap_err(), Error::Malformed);
        s[12] = 0xf0;
        assert_eq!(parse(&s).unwrap_err(), Error::Truncated);
    }
}
