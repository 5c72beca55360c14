//! IPv6 headers (RFC 8200).
//!
//! ```text
//! +-------+---------------+---------------------------------------+
//! |Version| Traffic Class |              Flow Label               |
//! +-------+---------------+-------+---------------+---------------+
//! |        Payload Length         |  Next Header  |   Hop Limit   |
//! +-------------------------------+---------------+---------------+
//! |                    Source Address (128 bits)                  |
//! |                 Destination Address (128 bits)                |
//! +---------------------------------------------------------------+
//! ```

use std::net::Ipv6Addr;

use zerocopy::network_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::{Error, IpProtocol};

pub const HEADER_LEN: usize = 40;

/// Next-header values of the extension headers vtepd walks past (or refuses).
pub mod next_header {
    pub const HOP_BY_HOP: u8 = 0;
    pub const ROUTING: u8 = 43;
    pub const FRAGMENT: u8 = 44;
    pub const DEST_OPTIONS: u8 = 60;
    pub const NO_NEXT: u8 = 59;
}

#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct Header {
    ver_tc_flow: U32,
    payload_len: U16,
    next_header: u8,
    pub hop_limit: u8,
    src: [u8; 16],
    dst: [u8; 16],
}

impl Header {
    #[inline(always)]
    pub fn version(&self) -> u8 {
        // The top 4 bits of a u32 fit a u8.
        (self.ver_tc_flow.get() >> 28) as u8
    }

    #[inline(always)]
    pub fn traffic_class(&self) -> u8 {
        // Bits 20..28 of the first word: 8 bits.
        (self.ver_tc_flow.get() >> 20) as u8
    }

    #[inline(always)]
    pub fn dscp(&self) -> u8 {
        self.traffic_class() >> 2
    }

    #[inline(always)]
    pub fn flow_label(&self) -> u32 {
        self.ver_tc_flow.get() & 0x000f_ffff
    }

    #[inline(always)]
    pub fn payload_len(&self) -> u16 {
        self.payload_len.get()
    }

    #[inline(always)]
    pub fn next_header(&self) -> IpProtocol {
        IpProtocol::from(self.next_header)
    }

    #[inline(always)]
    pub fn next_header_raw(&self) -> u8 {
        self.next_header
    }

    #[inline(always)]
    pub fn src(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.src)
    }

    #[inline(always)]
    pub fn dst(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.dst)
    }

    #[inline(always)]
    pub fn src_bytes(&self) -> &[u8; 16] {
        &self.src
    }

    #[inline(always)]
    pub fn dst_bytes(&self) -> &[u8; 16] {
        &self.dst
    }

    #[inline(always)]
    pub fn set_payload_len(&mut self, len: u16) {
        self.payload_len.set(len);
    }

    #[inline(always)]
    pub fn set_traffic_class(&mut self, tc: u8) {
        let w = self.ver_tc_flow.get();
        self.ver_tc_flow
            .set((w & 0xf00f_ffff) | (u32::from(tc) << 20));
    }

    #[inline(always)]
    pub fn set_flow_label(&mut self, label: u32) {
        let w = self.ver_tc_flow.get();
        self.ver_tc_flow
            .set((w & 0xfff0_0000) | (label & 0x000f_ffff));
    }

    #[inline(always)]
    pub fn set_src(&mut self, a: &Ipv6Addr) {
        self.src = a.octets();
    }

    #[inline(always)]
    pub fn set_dst(&mut self, a: &Ipv6Addr) {
        self.dst = a.octets();
    }
}

/// The meaning of an IPv6 header, for building one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub next_header: u8,
    pub payload_len: u16,
    pub hop_limit: u8,
    pub traffic_class: u8,
    pub flow_label: u32,
}

impl Repr {
    pub fn emit(&self, h: &mut Header) {
        *h = Header {
            ver_tc_flow: U32::new(
                (6 << 28) | (u32::from(self.traffic_class) << 20) | (self.flow_label & 0xf_ffff),
            ),
            payload_len: U16::new(self.payload_len),
            next_header: self.next_header,
            hop_limit: self.hop_limit,
            src: self.src.octets(),
            dst: self.dst.octets(),
        };
    }
}

/// Views `bytes` as an IPv6 packet: checks the version and that the payload length fits.
/// The payload is bounded by the payload length (Ethernet padding excluded).
#[inline(always)]
pub fn parse(bytes: &[u8]) -> Result<(&Header, &[u8]), Error> {
    let (h, rest) = super::overlay::<Header>(bytes)?;
    if h.version() != 6 {
        return Err(Error::Malformed);
    }
    let payload = rest
        .get(..usize::from(h.payload_len()))
        .ok_or(Error::Truncated)?;
    Ok((h, payload))
}

#[inline(always)]
pub fn parse_mut(bytes: &mut [u8]) -> Result<(&mut Header, &mut [u8]), Error> {
    super::overlay_mut(bytes)
}

/// Solicited-node multicast address for `target` (ff02::1:ffXX:XXXX).
pub fn solicited_node(target: &Ipv6Addr) -> Ipv6Addr {
    let t = target.octets();
    Ipv6Addr::from([
        0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, t[13], t[14], t[15],
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet() -> Vec<u8> {
        let mut p = vec![0x60, 0xb0, 0x00, 0x01, 0x00, 0x08, 17, 64];
        p.extend_from_slice(&"fd00::1".parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(&"fd00::2".parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        p
    }

    #[test]
    fn deconstruct() {
        let p = packet();
        let (h, payload) = parse(&p).unwrap();
        assert_eq!(h.version(), 6);
        assert_eq!(h.traffic_class(), 0x0b);
        assert_eq!(h.flow_label(), 1);
        assert_eq!(h.next_header(), IpProtocol::Udp);
        assert_eq!(h.hop_limit, 64);
        assert_eq!(h.src(), "fd00::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(payload, &[1, 2, 3, 4, 5, 6, 7, 8]);
    }

    #[test]
    fn emit() {
        let mut bytes = [0u8; 40];
        let (h, _) = parse_mut(&mut bytes).unwrap();
        Repr {
            src: "fd00::1".parse().unwrap(),
            dst: "fd00::2".parse().unwrap(),
            next_header: 17,
            payload_len: 8,
            hop_limit: 64,
            traffic_class: 0x0b,
            flow_label: 1,
        }
        .emit(h);
        assert_eq!(&bytes[..], &packet()[..40]);
    }

    #[test]
    fn impossible_len() {
        let p = packet();
        assert_eq!(parse(&p[..39]).unwrap_err(), Error::Truncated);
        assert_eq!(parse(&p[..47]).unwrap_err(), Error::Truncated);
    }

    #[test]
    fn wrong_version() {
        let mut p = packet();
        p[0] = 0x40;
        assert_eq!(parse(&p).unwrap_err(), Error::Malformed);
    }

    #[test]
    fn solicited_node_address() {
        let a: Ipv6Addr = "fd00::12:3456".parse().unwrap();
        assert_eq!(
            solicited_node(&a),
            "ff02::1:ff12:3456".parse::<Ipv6Addr>().unwrap()
        );
    }
}
