//! Ethernet II frames.
//!
//! ```text
//!  0                   6                   12      14
//! +-------------------+-------------------+-------+------------
//! | destination MAC   | source MAC        | type  | payload ...
//! +-------------------+-------------------+-------+------------
//! ```

use std::fmt;
use std::str::FromStr;

use zerocopy::network_endian::U16;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::Error;

pub const HEADER_LEN: usize = 14;
/// The smallest frame on the wire without the FCS.
pub const MIN_FRAME_LEN: usize = 60;

/// A 48-bit MAC address.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    FromBytes,
    IntoBytes,
    KnownLayout,
    Immutable,
    Unaligned,
)]
#[repr(transparent)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
    pub const ZERO: MacAddr = MacAddr([0; 6]);

    /// Group (multicast or broadcast) address: the I/G bit of the first octet.
    #[inline(always)]
    pub const fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    #[inline(always)]
    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }

    /// A unicast address that can be learned or configured as a station.
    #[inline(always)]
    pub fn is_unicast(&self) -> bool {
        !self.is_multicast() && *self != Self::ZERO
    }

    /// The IPv4 multicast MAC (01:00:5e + low 23 bits of the group).
    pub const fn from_ipv4_multicast(group: [u8; 4]) -> MacAddr {
        MacAddr([0x01, 0x00, 0x5e, group[1] & 0x7f, group[2], group[3]])
    }

    /// The IPv6 multicast MAC (33:33 + low 32 bits of the group).
    pub const fn from_ipv6_multicast(group: [u8; 16]) -> MacAddr {
        MacAddr([0x33, 0x33, group[12], group[13], group[14], group[15]])
    }

    /// The address as a 64-bit integer (the top 16 bits zero): a cheap hash key. Its bytes
    /// in wire order, little-endian, so it is the 6 bytes as loaded from a frame, with no
    /// byte swap (numeric order is not address order: compare `MacAddr`s for that).
    #[inline(always)]
    pub const fn to_u64(self) -> u64 {
        let b = self.0;
        u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], 0, 0])
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Why a string is not a MAC address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a MAC address (expected six hex octets like 02:00:00:00:00:01)")]
pub struct ParseMacError(String);

impl FromStr for MacAddr {
    type Err = ParseMacError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseMacError(s.to_owned());
        let mut out = [0u8; 6];
        let mut parts = s.split([':', '-']);
        for byte in out.iter_mut() {
            let part = parts.next().ok_or_else(err)?;
            if part.len() != 2 {
                return Err(err());
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| err())?;
        }
        if parts.next().is_some() {
            return Err(err());
        }
        Ok(MacAddr(out))
    }
}

/// EtherType values vtepd acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EtherType {
    Ipv4,
    Arp,
    Vlan,
    QinQ,
    Ipv6,
    /// Transparent Ethernet Bridging: the payload of NVGRE.
    TransparentEthernet,
    Unknown(u16),
}

impl EtherType {
    pub const IPV4: u16 = 0x0800;
    pub const ARP: u16 = 0x0806;
    pub const VLAN: u16 = 0x8100;
    pub const QINQ: u16 = 0x88a8;
    pub const IPV6: u16 = 0x86dd;
    pub const TEB: u16 = 0x6558;
}

impl From<u16> for EtherType {
    #[inline(always)]
    fn from(v: u16) -> Self {
        match v {
            Self::IPV4 => EtherType::Ipv4,
            Self::ARP => EtherType::Arp,
            Self::VLAN => EtherType::Vlan,
            Self::QINQ => EtherType::QinQ,
            Self::IPV6 => EtherType::Ipv6,
            Self::TEB => EtherType::TransparentEthernet,
            other => EtherType::Unknown(other),
        }
    }
}

impl From<EtherType> for u16 {
    #[inline(always)]
    fn from(v: EtherType) -> u16 {
        match v {
            EtherType::Ipv4 => EtherType::IPV4,
            EtherType::Arp => EtherType::ARP,
            EtherType::Vlan => EtherType::VLAN,
            EtherType::QinQ => EtherType::QINQ,
            EtherType::Ipv6 => EtherType::IPV6,
            EtherType::TransparentEthernet => EtherType::TEB,
            EtherType::Unknown(other) => other,
        }
    }
}

/// The Ethernet header overlay.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct Header {
    pub dst: MacAddr,
    pub src: MacAddr,
    ethertype: U16,
}

impl Header {
    pub const fn new(dst: MacAddr, src: MacAddr, ethertype: u16) -> Header {
        Header {
            dst,
            src,
            ethertype: U16::new(ethertype),
        }
    }

    #[inline(always)]
    pub fn ethertype(&self) -> EtherType {
        EtherType::from(self.ethertype.get())
    }

    #[inline(always)]
    pub fn ethertype_raw(&self) -> u16 {
        self.ethertype.get()
    }

    #[inline(always)]
    pub fn set_ethertype(&mut self, ethertype: u16) {
        self.ethertype.set(ethertype);
    }
}

/// Views the front of `frame` as an Ethernet header; returns it and the payload.
#[inline(always)]
pub fn parse(frame: &[u8]) -> Result<(&Header, &[u8]), Error> {
    super::overlay(frame)
}

#[inline(always)]
pub fn parse_mut(frame: &mut [u8]) -> Result<(&mut Header, &mut [u8]), Error> {
    super::overlay_mut(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    // dst 02:00:00:00:00:02, src 02:00:00:00:00:01, IPv4, then payload
    static FRAME: [u8; 16] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, //
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, //
        0x08, 0x00, //
        0xaa, 0xbb,
    ];

    #[test]
    fn deconstruct() {
        let (h, payload) = parse(&FRAME).unwrap();
        assert_eq!(h.dst, MacAddr([2, 0, 0, 0, 0, 2]));
        assert_eq!(h.src, MacAddr([2, 0, 0, 0, 0, 1]));
        assert_eq!(h.ethertype(), EtherType::Ipv4);
        assert_eq!(payload, &[0xaa, 0xbb]);
    }

    #[test]
    fn construct() {
        let mut bytes = [0u8; 16];
        let (h, payload) = parse_mut(&mut bytes).unwrap();
        *h = Header::new(
            MacAddr([2, 0, 0, 0, 0, 2]),
            MacAddr([2, 0, 0, 0, 0, 1]),
            0x0800,
        );
        payload.copy_from_slice(&[0xaa, 0xbb]);
        assert_eq!(bytes, FRAME);
    }

    #[test]
    fn impossible_len() {
        assert_eq!(parse(&FRAME[..13]).unwrap_err(), Error::Truncated);
    }

    #[test]
    fn unknown_ethertype_is_kept() {
        assert_eq!(EtherType::from(0x88cc), EtherType::Unknown(0x88cc));
        assert_eq!(u16::from(EtherType::Unknown(0x88cc)), 0x88cc);
    }

    #[test]
    fn mac_parse_and_display() {
        let mac: MacAddr = "02:AB:00:00:00:ff".parse().unwrap();
        assert_eq!(mac.to_string(), "02:ab:00:00:00:ff");
        assert!("02:ab:00:00:00".parse::<MacAddr>().is_err());
        assert!("02:ab:00:00:00:00:01".parse::<MacAddr>().is_err());
        assert!("2:ab:00:00:00:00".parse::<MacAddr>().is_err());
        assert!("zz:ab:00:00:00:00".parse::<MacAddr>().is_err());
    }

    #[test]
    fn mac_classes() {
        assert!(MacAddr::BROADCAST.is_multicast());
        assert!(MacAddr([0x01, 0, 0x5e, 0, 0, 1]).is_multicast());
        assert!(MacAddr([2, 0, 0, 0, 0, 1]).is_unicast());
        assert!(!MacAddr::ZERO.is_unicast());
        assert_eq!(
            MacAddr::from_ipv4_multicast([239, 129, 1, 1]),
            MacAddr([0x01, 0x00, 0x5e, 0x01, 0x01, 0x01])
        );
    }
}
