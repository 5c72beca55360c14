//! ARP for IPv4 over Ethernet (RFC 826).
//!
//! ```text
//! +--------+--------+----+----+--------+-------------+------------+-------------+------------+
//! | htype  | ptype  |hlen|plen|  oper  | sender MAC  | sender IP  | target MAC  | target IP  |
//! |  2     |  2     | 1  | 1  |  2     |  6          |  4         |  6          |  4         |
//! +--------+--------+----+----+--------+-------------+------------+-------------+------------+
//! ```

use std::net::Ipv4Addr;

use zerocopy::network_endian::U16;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::{Error, EtherType, MacAddr};

pub const HEADER_LEN: usize = 28;
const HTYPE_ETHERNET: u16 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Request,
    Reply,
    Unknown(u16),
}

impl From<u16> for Operation {
    fn from(v: u16) -> Self {
        match v {
            1 => Operation::Request,
            2 => Operation::Reply,
            other => Operation::Unknown(other),
        }
    }
}

impl From<Operation> for u16 {
    fn from(v: Operation) -> u16 {
        match v {
            Operation::Request => 1,
            Operation::Reply => 2,
            Operation::Unknown(other) => other,
        }
    }
}

#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct Header {
    htype: U16,
    ptype: U16,
    hlen: u8,
    plen: u8,
    oper: U16,
    sha: MacAddr,
    spa: [u8; 4],
    tha: MacAddr,
    tpa: [u8; 4],
}

/// The meaning of an Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    pub operation: Operation,
    pub sender_mac: MacAddr,
    pub sender_ip: Ipv4Addr,
    pub target_mac: MacAddr,
    pub target_ip: Ipv4Addr,
}

impl Repr {
    /// Reads an ARP packet; anything but Ethernet/IPv4 with the right lengths is malformed.
    pub fn parse(bytes: &[u8]) -> Result<Repr, Error> {
        let (h, _) = super::overlay::<Header>(bytes)?;
        if h.htype.get() != HTYPE_ETHERNET
            || h.ptype.get() != EtherType::IPV4
            || h.hlen != 6
            || h.plen != 4
        {
            return Err(Error::Malformed);
        }
        Ok(Repr {
            operation: Operation::from(h.oper.get()),
            sender_mac: h.sha,
            sender_ip: Ipv4Addr::from(h.spa),
            target_mac: h.tha,
            target_ip: Ipv4Addr::from(h.tpa),
        })
    }

    pub fn emit(&self, h: &mut Header) {
        *h = Header {
            htype: U16::new(HTYPE_ETHERNET),
            ptype: U16::new(EtherType::IPV4),
            hlen: 6,
            plen: 4,
            oper: U16::new(u16::from(self.operation)),
            sha: self.sender_mac,
            spa: self.sender_ip.octets(),
            tha: self.target_mac,
            tpa: self.target_ip.octets(),
        };
    }

    /// True for a gratuitous ARP (sender and target IP equal): an announcement, not a question.
    pub fn is_gratuitous(&self) -> bool {
        self.sender_ip == self.target_ip
    }
}

#[inline(always)]
pub fn parse_mut(bytes: &mut [u8]) -> Result<(&mut Header, &mut [u8]), Error> {
    super::overlay_mut(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    // who-has 10.0.0.1 tell 10.0.0.2 (02:00:00:00:00:02)
    static REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01, //
        2, 0, 0, 0, 0, 2, 10, 0, 0, 2, //
        0, 0, 0, 0, 0, 0, 10, 0, 0, 1,
    ];

    #[test]
    fn parse() {
        let r = Repr::parse(&REQUEST).unwrap();
        assert_eq!(r.operation, Operation::Request);
        assert_eq!(r.sender_mac, MacAddr([2, 0, 0, 0, 0, 2]));
        assert_eq!(r.sender_ip, Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(r.target_ip, Ipv4Addr::new(10, 0, 0, 1));
        assert!(!r.is_gratuitous());
    }

    #[test]
    fn emit() {
        let r = Repr::parse(&REQUEST).unwrap();
        let mut out = [0u8; 28];
        r.emit(parse_mut(&mut out).unwrap().0);
        assert_eq!(out, REQUEST);
    }

    #[test]
    fn impossible_len() {
        assert_eq!(Repr::parse(&REQUEST[..27]).unwrap_err(), Error::Truncated);
    }

    #[test]
    fn wrong_lengths_are_malformed() {
        let mut b = REQUEST;
        b[4] = 8;
        assert_eq!(Repr::parse(&b).unwrap_err(), Error::Malformed);
        let mut b = REQUEST;
        b[2] = 0x86;
        b[3] = 0xdd;
        assert_eq!(Repr::parse(&b).unwrap_err(), Error::Malformed);
    }
}
