//! ICMPv6 (RFC 4443) echo and Neighbor Discovery (RFC 4861) solicitation/advertisement.
//!
//! ```text
//! NS/NA: +------+------+----------+----------------------+------------------+---------
//!        | type | code | checksum | flags + reserved (4) | target (16)      | options
//!        +------+------+----------+----------------------+------------------+---------
//! ```

use std::net::Ipv6Addr;

use zerocopy::network_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::{Error, MacAddr};

pub const ECHO_REQUEST: u8 = 128;
pub const ECHO_REPLY: u8 = 129;
pub const NEIGHBOR_SOLICIT: u8 = 135;
pub const NEIGHBOR_ADVERT: u8 = 136;

/// The 4-byte header common to all ICMPv6 messages.
pub const HEADER_LEN: usize = 4;
/// An echo request/reply's fixed part: the common header, identifier and sequence number.
pub const ECHO_HEADER_LEN: usize = 8;
/// An NS/NA body after the common header: flags/reserved + target.
pub const ND_LEN: usize = 20;
/// Source/target link-layer address option for Ethernet: type, length (in 8-byte units), MAC.
pub const LLADDR_OPTION_LEN: usize = 8;

pub const OPT_SOURCE_LLADDR: u8 = 1;
pub const OPT_TARGET_LLADDR: u8 = 2;

pub const NA_FLAG_ROUTER: u32 = 0x8000_0000;
pub const NA_FLAG_SOLICITED: u32 = 0x4000_0000;
pub const NA_FLAG_OVERRIDE: u32 = 0x2000_0000;

#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct Header {
    pub icmp_type: u8,
    pub code: u8,
    checksum: U16,
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
}

/// The body of a Neighbor Solicitation or Advertisement.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct NdBody {
    flags: U32,
    target: [u8; 16],
}

impl NdBody {
    pub fn new(flags: u32, target: &Ipv6Addr) -> NdBody {
        NdBody {
            flags: U32::new(flags),
            target: target.octets(),
        }
    }

    #[inline(always)]
    pub fn flags(&self) -> u32 {
        self.flags.get()
    }

    #[inline(always)]
    pub fn target(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.target)
    }
}

/// An Ethernet link-layer address option.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct LladdrOption {
    pub option_type: u8,
    /// In units of 8 bytes: 1 for Ethernet.
    pub len: u8,
    pub mac: MacAddr,
}

impl LladdrOption {
    pub const fn new(option_type: u8, mac: MacAddr) -> LladdrOption {
        LladdrOption {
            option_type,
            len: 1,
            mac,
        }
    }
}

/// A parsed NS or NA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NdRepr {
    pub icmp_type: u8,
    pub flags: u32,
    pub target: Ipv6Addr,
    /// The source (NS) or target (NA) link-layer address option, when present.
    pub lladdr: Option<MacAddr>,
}

impl NdRepr {
    /// Parses an ICMPv6 message that is an NS or NA (RFC 4861 §7.1.1 validity: code 0, and
    /// every option has a non-zero length).
    pub fn parse(message: &[u8]) -> Result<NdRepr, Error> {
        let (h, rest) = super::overlay::<Header>(message)?;
        if h.code != 0 || !matches!(h.icmp_type, NEIGHBOR_SOLICIT | NEIGHBOR_ADVERT) {
            return Err(Error::Malformed);
        }
        let (body, mut options) = super::overlay::<NdBody>(rest)?;
        let wanted = if h.icmp_type == NEIGHBOR_SOLICIT {
            OPT_SOURCE_LLADDR
        } else {
            OPT_TARGET_LLADDR
        };
        let mut lladdr = None;
        while !options.is_empty() {
            let (&[opt_type, opt_len], _) = super::overlay::<[u8; 2]>(options)?;
            if opt_len == 0 {
                return Err(Error::Malformed);
            }
            let len = usize::from(opt_len) << 3;
            let (opt, next) = options.split_at_checked(len).ok_or(Error::Truncated)?;
            if opt_type == wanted {
                let (o, _) = super::overlay::<LladdrOption>(opt)?;
                lladdr = Some(o.mac);
            }
            options = next;
        }
        Ok(NdRepr {
            icmp_type: h.icmp_type,
            flags: body.flags(),
            target: body.target(),
            lladdr,
        })
    }
}

/// Whether an ICMPv6 message's checksum verifies: over the IPv6 pseudo-header and the whole
/// message, which runs to the end of the IPv6 payload (RFC 4443 2.3).
#[inline]
pub fn checksum_ok(src: &Ipv6Addr, dst: &Ipv6Addr, message: &[u8]) -> bool {
    use super::checksum::{fold, pseudo_header_v6, sum};
    let Ok(len) = u32::try_from(message.len()) else {
        return false;
    };
    let pseudo = pseudo_header_v6(src, dst, super::IpProtocol::ICMPV6, len);
    fold(sum(pseudo, message)) == 0xffff
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

    fn ns(with_option: bool) -> Vec<u8> {
        let mut m = vec![NEIGHBOR_SOLICIT, 0, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&"fd00::1".parse::<Ipv6Addr>().unwrap().octets());
        if with_option {
            m.extend_from_slice(&[OPT_SOURCE_LLADDR, 1, 2, 0, 0, 0, 0, 9]);
        }
        m
    }

    #[test]
    fn parse_solicitation() {
        let r = NdRepr::parse(&ns(true)).unwrap();
        assert_eq!(r.icmp_type, NEIGHBOR_SOLICIT);
        assert_eq!(r.target, "fd00::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(r.lladdr, Some(MacAddr([2, 0, 0, 0, 0, 9])));
        assert_eq!(NdRepr::parse(&ns(false)).unwrap().lladdr, None);
    }

    #[test]
    fn zero_length_option_is_malformed() {
        let mut m = ns(true);
        m[25] = 0;
        assert_eq!(NdRepr::parse(&m).unwrap_err(), Error::Malformed);
    }

    #[test]
    fn impossible_len() {
        let m = ns(true);
        assert_eq!(NdRepr::parse(&m[..20]).unwrap_err(), Error::Truncated);
        assert_eq!(NdRepr::parse(&m[..30]).unwrap_err(), Error::Truncated);
    }

    #[test]
    fn option_layout() {
        let o = LladdrOption::new(OPT_TARGET_LLADDR, MacAddr([2, 0, 0, 0, 0, 1]));
        assert_eq!(o.as_bytes(), &[2, 1, 2, 0, 0, 0, 0, 1]);
    }
}
