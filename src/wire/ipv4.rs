//! IPv4 headers (RFC 791).
//!
//! ```text
//!  0       4       8              16      19                     31
//! +-------+-------+--------------+-------------------------------+
//! |Version|  IHL  |  DSCP  |ECN  |         Total Length          |
//! +-------+-------+--------------+-----+-------------------------+
//! |        Identification        |Flags|    Fragment Offset      |
//! +--------------+---------------+-----+-------------------------+
//! |     TTL      |   Protocol    |       Header Checksum         |
//! +--------------+---------------+-------------------------------+
//! |                       Source Address                         |
//! |                    Destination Address                       |
//! +--------------------------------------------------------------+
//! ```

use std::net::Ipv4Addr;

use zerocopy::network_endian::U16;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::{checksum, Error};

/// The header without options.
pub const HEADER_LEN: usize = 20;

const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const FRAG_OFFSET_MASK: u16 = 0x1fff;

/// IP protocol numbers (also IPv6 next-header values) vtepd acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpProtocol {
    Icmp,
    Tcp,
    Udp,
    Gre,
    Icmpv6,
    Unknown(u8),
}

impl IpProtocol {
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const GRE: u8 = 47;
    pub const ICMPV6: u8 = 58;
}

impl From<u8> for IpProtocol {
    #[inline(always)]
    fn from(v: u8) -> Self {
        match v {
            Self::ICMP => IpProtocol::Icmp,
            Self::TCP => IpProtocol::Tcp,
            Self::UDP => IpProtocol::Udp,
            Self::GRE => IpProtocol::Gre,
            Self::ICMPV6 => IpProtocol::Icmpv6,
            other => IpProtocol::Unknown(other),
        }
    }
}

impl From<IpProtocol> for u8 {
    #[inline(always)]
    fn from(v: IpProtocol) -> u8 {
        match v {
            IpProtocol::Icmp => IpProtocol::ICMP,
            IpProtocol::Tcp => IpProtocol::TCP,
            IpProtocol::Udp => IpProtocol::UDP,
            IpProtocol::Gre => IpProtocol::GRE,
            IpProtocol::Icmpv6 => IpProtocol::ICMPV6,
            IpProtocol::Unknown(other) => other,
        }
    }
}

/// The fixed part of an IPv4 header.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct Header {
    version_ihl: u8,
    dscp_ecn: u8,
    total_len: U16,
    ident: U16,
    flags_frag: U16,
    pub ttl: u8,
    protocol: u8,
    checksum: U16,
    src: [u8; 4],
    dst: [u8; 4],
}

impl Header {
    #[inline(always)]
    pub fn version(&self) -> u8 {
        self.version_ihl >> 4
    }

    /// Header length in bytes, options included.
    #[inline(always)]
    pub fn header_len(&self) -> usize {
        usize::from(self.version_ihl & 0x0f) << 2
    }

    /// The whole TOS byte (DSCP and ECN).
    #[inline(always)]
    pub fn tos(&self) -> u8 {
        self.dscp_ecn
    }

    #[inline(always)]
    pub fn dscp(&self) -> u8 {
        self.dscp_ecn >> 2
    }

    #[inline(always)]
    pub fn ecn(&self) -> u8 {
        self.dscp_ecn & 0x03
    }

    #[inline(always)]
    pub fn total_len(&self) -> u16 {
        self.total_len.get()
    }

    #[inline(always)]
    pub fn ident(&self) -> u16 {
        self.ident.get()
    }

    #[inline(always)]
    pub fn dont_fragment(&self) -> bool {
        self.flags_frag.get() & FLAG_DF != 0
    }

    /// Any fragment: more-fragments set, or a non-zero offset.
    #[inline(always)]
    pub fn is_fragment(&self) -> bool {
        self.flags_frag.get() & (FLAG_MF | FRAG_OFFSET_MASK) != 0
    }

    #[inline(always)]
    pub fn protocol(&self) -> IpProtocol {
        IpProtocol::from(self.protocol)
    }

    #[inline(always)]
    pub fn protocol_raw(&self) -> u8 {
        self.protocol
    }

    #[inline(always)]
    pub fn checksum(&self) -> u16 {
        self.checksum.get()
    }

    #[inline(always)]
    pub fn src(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.src)
    }

    #[inline(always)]
    pub fn dst(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.dst)
    }

    #[inline(always)]
    pub fn src_bytes(&self) -> [u8; 4] {
        self.src
    }

    #[inline(always)]
    pub fn dst_bytes(&self) -> [u8; 4] {
        self.dst
    }

    #[inline(always)]
    pub fn set_total_len(&mut self, len: u16) {
        self.total_len.set(len);
    }

    #[inline(always)]
    pub fn set_ident(&mut self, ident: u16) {
        self.ident.set(ident);
    }

    #[inline(always)]
    pub fn set_dscp_ecn(&mut self, dscp: u8, ecn: u8) {
        self.dscp_ecn = (dscp << 2) | (ecn & 0x03);
    }

    #[inline(always)]
    pub fn set_checksum(&mut self, c: u16) {
        self.checksum.set(c);
    }

    #[inline(always)]
    pub fn set_src(&mut self, a: Ipv4Addr) {
        self.src = a.octets();
    }

    #[inline(always)]
    pub fn set_dst(&mut self, a: Ipv4Addr) {
        self.dst = a.octets();
    }

    /// Sets the ECN field, updating the checksum incrementally (RFC 1624).
    #[inline]
    pub fn set_ecn_updating_checksum(&mut self, ecn: u8) {
        let old = u16::from_be_bytes([self.version_ihl, self.dscp_ecn]);
        self.dscp_ecn = (self.dscp_ecn & 0xfc) | (ecn & 0x03);
        let new = u16::from_be_bytes([self.version_ihl, self.dscp_ecn]);
        self.checksum
            .set(checksum::update16(self.checksum.get(), old, new));
    }

    /// Computes and stores the header checksum (options-less header).
    #[inline]
    pub fn fill_checksum(&mut self) {
        self.checksum.set(0);
        let c = checksum::checksum(self.as_bytes());
        self.checksum.set(c);
    }
}

/// The meaning of an options-less IPv4 header, for building one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub payload_len: u16,
    pub ttl: u8,
    pub dscp: u8,
    pub dont_fragment: bool,
}

impl Repr {
    /// Writes a complete header (checksum included).
    pub fn emit(&self, h: &mut Header) {
        let total = u16::try_from(HEADER_LEN)
            .unwrap_or(20)
            .saturating_add(self.payload_len);
        *h = Header {
            version_ihl: 0x45,
            dscp_ecn: self.dscp << 2,
            total_len: U16::new(total),
            ident: U16::new(0),
            flags_frag: U16::new(if self.dont_fragment { FLAG_DF } else { 0 }),
            ttl: self.ttl,
            protocol: self.protocol,
            checksum: U16::new(0),
            src: self.src.octets(),
            dst: self.dst.octets(),
        };
        h.fill_checksum();
    }
}

/// Views `bytes` as an IPv4 packet: checks version, IHL and lengths. Returns the header, its
/// options-included length, and the payload bounded by the header's total length (trailing
/// Ethernet padding excluded).
#[inline(always)]
pub fn parse(bytes: &[u8]) -> Result<(&Header, &[u8]), Error> {
    let (h, _) = super::overlay::<Header>(bytes)?;
    if h.version() != 4 {
        return Err(Error::Malformed);
    }
    let hlen = h.header_len();
    let total = usize::from(h.total_len());
    if hlen < HEADER_LEN || total < hlen {
        return Err(Error::Malformed);
    }
    let payload = bytes.get(hlen..total).ok_or(Error::Truncated)?;
    Ok((h, payload))
}

/// Mutable view of the fixed header (no validation beyond length).
#[inline(always)]
pub fn parse_mut(bytes: &mut [u8]) -> Result<(&mut Header, &mut [u8]), Error> {
    super::overlay_mut(bytes)
}

/// True when the header checksum (options included) verifies.
#[inline(always)]
pub fn verify_checksum(header_with_options: &[u8]) -> bool {
    // The usual 20-byte header as five 32-bit words: a few additions, no loop.
    if let Ok(words) = <&[u8; HEADER_LEN]>::try_from(header_with_options) {
        let mut acc = 0u64;
        for w in words.chunks_exact(4) {
            let mut b = [0u8; 4];
            b.copy_from_slice(w);
            acc = acc.wrapping_add(u64::from(u32::from_be_bytes(b)));
        }
        return checksum::fold(acc) == 0xffff;
    }
    checksum::fold(checksum::sum(0, header_with_options)) == 0xffff
}

#[cfg(test)]
mod tests {
    use super::*;

    // 45 00 0030 1234 4000 40 11 csum 0a000001 0a000002 + 28 bytes payload
    fn packet() -> Vec<u8> {
        let mut p = vec![
            0x45, 0xb8, 0x00, 0x30, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 10, 0, 0, 1,
            10, 0, 0, 2,
        ];
        let c = checksum::checksum(&p);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        p.extend_from_slice(&[0u8; 28]);
        p
    }

    #[test]
    fn deconstruct() {
        let p = packet();
        let (h, payload) = parse(&p).unwrap();
        assert_eq!(h.version(), 4);
        assert_eq!(h.header_len(), 20);
        assert_eq!(h.dscp(), 46);
        assert_eq!(h.total_len(), 48);
        assert!(h.dont_fragment());
        assert!(!h.is_fragment());
        assert_eq!(h.ttl, 64);
        assert_eq!(h.protocol(), IpProtocol::Udp);
        assert_eq!(h.src(), Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(h.dst(), Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(payload.len(), 28);
        assert!(verify_checksum(&p[..20]));
    }

    #[test]
    fn emit() {
        let mut bytes = [0u8; 20];
        let (h, _) = parse_mut(&mut bytes).unwrap();
        Repr {
            src: Ipv4Addr::new(10, 0, 0, 1),
            dst: Ipv4Addr::new(10, 0, 0, 2),
            protocol: IpProtocol::UDP,
            payload_len: 28,
            ttl: 64,
            dscp: 46,
            dont_fragment: true,
        }
        .emit(h);
        let mut expected = packet();
        expected.truncate(20);
        // Repr emits ident 0; the sample uses 0x1234.
        expected[4..6].copy_from_slice(&[0, 0]);
        expected[10..12].copy_from_slice(&[0, 0]);
        let c = checksum::checksum(&expected);
        expected[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(&bytes[..], &expected[..]);
    }

    #[test]
    fn impossible_len() {
        let p = packet();
        assert_eq!(parse(&p[..19]).unwrap_err(), Error::Truncated);
        // total length beyond the bytes present
        assert_eq!(parse(&p[..40]).unwrap_err(), Error::Truncated);
    }

    #[test]
    fn bad_ihl_and_version() {
        let mut p = packet();
        p[0] = 0x44;
        assert_eq!(parse(&p).unwrap_err(), Error::Malformed);
        p[0] = 0x65;
        assert_eq!(parse(&p).unwrap_err(), Error::Malformed);
    }

    #[test]
    fn trailing_padding_is_not_payload() {
        let mut p = packet();
        p.extend_from_slice(&[0xee; 6]);
        let (_, payload) = parse(&p).unwrap();
        assert_eq!(payload.len(), 28);
    }

    #[test]
    fn checksum_fast_path_agrees_with_the_general_sum() {
        let p = packet();
        assert!(verify_checksum(&p[..20]));
        for i in 0..20 {
            let mut bad = p[..20].to_vec();
            bad[i] ^= 0x5a;
            assert!(!verify_checksum(&bad), "byte {i}");
            assert_eq!(
                verify_checksum(&bad),
                checksum::fold(checksum::sum(0, &bad)) == 0xffff
            );
        }
    }

    #[test]
    fn fragments() {
        let mut p = packet();
        p[6] = 0x20; // MF
        assert!(parse(&p).unwrap().0.is_fragment());
        p[6] = 0x00;
        p[7] = 0x10; // offset
        assert!(parse(&p).unwrap().0.is_fragment());
    }
}
