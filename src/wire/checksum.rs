//! The Internet checksum (RFC 1071) and its incremental update (RFC 1624).

use std::net::{Ipv4Addr, Ipv6Addr};

/// Adds `data` to a running one's-complement sum (not yet folded). Big-endian 16-bit words; an
/// odd final byte is padded with zero.
#[inline]
pub fn sum(mut acc: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let v = u64::from_be_bytes(w);
        // Add the four 16-bit words via two 32-bit halves; u64 cannot overflow for any
        // packet size vtepd handles (2^32 words).
        acc = acc.wrapping_add(v >> 32).wrapping_add(v & 0xffff_ffff);
    }
    let rest = chunks.remainder();
    let mut pairs = rest.chunks_exact(2);
    for p in &mut pairs {
        let mut w = [0u8; 2];
        w.copy_from_slice(p);
        acc = acc.wrapping_add(u64::from(u16::from_be_bytes(w)));
    }
    if let [last] = pairs.remainder() {
        acc = acc.wrapping_add(u64::from(*last) << 8);
    }
    acc
}

/// Sums data that arrives in pieces (the segments of a chained packet): a piece that starts
/// at an odd offset has its bytes in the other halves of the 16-bit words, so its folded sum
/// is byte-swapped (RFC 1071 §2(B)).
#[derive(Debug, Clone, Copy, Default)]
pub struct Accumulator {
    acc: u64,
    odd: bool,
}

impl Accumulator {
    pub fn new(start: u64) -> Accumulator {
        Accumulator {
            acc: start,
            odd: false,
        }
    }

    #[inline]
    pub fn add(&mut self, piece: &[u8]) {
        let s = sum(0, piece);
        let s = if self.odd {
            u64::from(fold(s).swap_bytes())
        } else {
            s
        };
        self.acc = self.acc.wrapping_add(s);
        if piece.len() % 2 == 1 {
            self.odd = !self.odd;
        }
    }

    pub fn total(&self) -> u64 {
        self.acc
    }
}

/// Folds a running sum to 16 bits (without complementing).
#[inline]
pub fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff).wrapping_add(acc >> 16);
    }
    // The loop leaves at most 16 bits.
    acc as u16
}

/// The checksum field value for `data` (complement of the folded sum).
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum(0, data))
}

/// Pseudo-header sum for UDP/TCP/ICMPv6 over IPv4.
#[inline]
pub fn pseudo_header_v4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, len: u16) -> u64 {
    let mut acc = sum(0, &src.octets());
    acc = sum(acc, &dst.octets());
    acc.wrapping_add(u64::from(protocol))
        .wrapping_add(u64::from(len))
}

/// Pseudo-header sum for UDP/TCP/ICMPv6 over IPv6 (RFC 8200 §8.1).
#[inline]
pub fn pseudo_header_v6(src: &Ipv6Addr, dst: &Ipv6Addr, next_header: u8, len: u32) -> u64 {
    let mut acc = sum(0, &src.octets());
    acc = sum(acc, &dst.octets());
    acc.wrapping_add(u64::from(next_header))
        .wrapping_add(u64::from(len >> 16))
        .wrapping_add(u64::from(len & 0xffff))
}

/// Updates checksum `check` for a 16-bit field changing from `old` to `new` (RFC 1624 eq. 3).
#[inline(always)]
pub fn update16(check: u16, old: u16, new: u16) -> u16 {
    let acc = u64::from(!check)
        .wrapping_add(u64::from(!old))
        .wrapping_add(u64::from(new));
    !fold(acc)
}

/// A UDP checksum as sent: 0 is transmitted as 0xffff (RFC 768).
#[inline(always)]
pub fn udp_wire(check: u16) -> u16 {
    if check == 0 {
        0xffff
    } else {
        check
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // The worked example of RFC 1071 §3: sum 0xddf2, checksum !0xddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(0, &data)), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(fold(sum(0, &[0x12, 0x34, 0x56])), 0x1234 + 0x5600);
    }

    #[test]
    fn long_input_matches_bytewise_sum() {
        let data: Vec<u8> = (0..1501u32).map(|i| (i * 7 + 3) as u8).collect();
        let mut slow: u64 = 0;
        for pair in data.chunks(2) {
            let hi = u64::from(pair[0]) << 8;
            let lo = pair.get(1).copied().map(u64::from).unwrap_or(0);
            slow += hi | lo;
        }
        assert_eq!(fold(sum(0, &data)), fold(slow));
    }

    #[test]
    fn pieces_sum_like_the_whole() {
        let data: Vec<u8> = (0..301u32).map(|i| (i * 13 + 7) as u8).collect();
        for cuts in [[1usize, 2], [3, 150], [100, 101], [0, 300]] {
            let mut a = Accumulator::default();
            a.add(&data[..cuts[0]]);
            a.add(&data[cuts[0]..cuts[1]]);
            a.add(&data[cuts[1]..]);
            assert_eq!(fold(a.total()), fold(sum(0, &data)), "cuts {cuts:?}");
        }
    }

    #[test]
    fn incremental_update_matches_recompute() {
        let mut hdr = [
            0x45u8, 0x00, 0x00, 0x54, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 10, 0, 0, 1,
            10, 0, 0, 2,
        ];
        let c = checksum(&hdr);
        hdr[10..12].copy_from_slice(&c.to_be_bytes());
        // change total length 0x0054 -> 0x05dc
        let updated = update16(c, 0x0054, 0x05dc);
        hdr[2..4].copy_from_slice(&0x05dcu16.to_be_bytes());
        hdr[10..12].copy_from_slice(&[0, 0]);
        assert_eq!(updated, checksum(&hdr));
    }
}
