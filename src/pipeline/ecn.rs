//! ECN on decapsulation (RFC 6040 §4.2, normal mode): what the outer header's ECN field
//! does to the inner packet.
//!
//! ```text
//!   arriving inner \ outer | Not-ECT   ECT(0)    ECT(1)    CE
//!   -----------------------+----------------------------------------
//!   Not-ECT                | Not-ECT   Not-ECT   Not-ECT   drop
//!   ECT(0)                 | ECT(0)    ECT(0)    ECT(1)    CE
//!   ECT(1)                 | ECT(1)    ECT(1)    ECT(1)    CE
//!   CE                     | CE        CE        CE        CE
//! ```
//!
//! A CE mark over a Not-ECT packet is congestion the inner endpoints cannot be told about,
//! so the packet is dropped, as a congested router would have dropped it. Frames that are
//! not IPv4 or IPv6 carry no ECN field and are left as they are.

use crate::wire::{ethernet, ipv4, ipv6, EtherType};

use super::DropReason;

pub const NOT_ECT: u8 = 0b00;
pub const ECT1: u8 = 0b01;
pub const ECT0: u8 = 0b10;
pub const CE: u8 = 0b11;

/// The inner ECN field after decapsulation, by the table above; None: drop the packet.
#[inline(always)]
pub const fn combine(outer: u8, inner: u8) -> Option<u8> {
    match (outer & CE, inner & CE) {
        (CE, NOT_ECT) => None,
        (CE, _) => Some(CE),
        (ECT1, ECT0) => Some(ECT1),
        (_, inner) => Some(inner),
    }
}

/// Applies the outer ECN field `outer` to the inner frame `frame` (Ethernet, untagged):
/// rewrites the inner IPv4 ECN field (header checksum updated) or IPv6 traffic class, or
/// refuses the packet (`ecn_ce_not_ect`).
#[inline(always)]
pub fn decapsulate(outer: u8, frame: &mut [u8]) -> Result<(), DropReason> {
    // Not-ECT and ECT(0) outside change nothing inside: only ECT(1) and CE, the two with
    // the low bit set, need the inner header read. Nearly every packet stops here.
    if outer & ECT1 == 0 {
        return Ok(());
    }
    apply(outer, frame)
}

// Out of line: what decapsulation inlines stays the one test above.
#[inline(never)]
fn apply(outer: u8, frame: &mut [u8]) -> Result<(), DropReason> {
    let Ok((eth, rest)) = ethernet::parse_mut(frame) else {
        return Ok(());
    };
    match eth.ethertype_raw() {
        EtherType::IPV4 => match ipv4::parse_mut(rest) {
            Ok((ip, _)) if ip.version() == 4 => {
                let inner = ip.ecn();
                let new = combine(outer, inner).ok_or(DropReason::EcnCeNotEct)?;
                if new != inner {
                    ip.set_ecn_updating_checksum(new);
                }
                Ok(())
            }
            _ => Ok(()),
        },
        EtherType::IPV6 => match ipv6::parse_mut(rest) {
            Ok((ip, _)) if ip.version() == 6 => {
                let tc = ip.traffic_class();
                let new = combine(outer, tc).ok_or(DropReason::EcnCeNotEct)?;
                if new != tc & CE {
                    ip.set_traffic_class((tc & !CE) | new);
                }
                Ok(())
            }
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6040 Figure 4, row by row (inner), column by column (outer).
    #[test]
    fn the_decapsulation_table() {
        let outer = [NOT_ECT, ECT0, ECT1, CE];
        let table = [
            (NOT_ECT, [Some(NOT_ECT), Some(NOT_ECT), Some(NOT_ECT), None]),
            (ECT0, [Some(ECT0), Some(ECT0), Some(ECT1), Some(CE)]),
            (ECT1, [Some(ECT1), Some(ECT1), Some(ECT1), Some(CE)]),
            (CE, [Some(CE), Some(CE), Some(CE), Some(CE)]),
        ];
        for (inner, row) in table {
            for (o, want) in outer.iter().zip(row) {
                assert_eq!(
                    combine(*o, inner),
                    want,
                    "outer {o:#04b}, inner {inner:#04b}"
                );
            }
        }
    }

    #[test]
    fn frames_without_an_ecn_field_are_left_alone() {
        let mut arp = vec![0xff; 6];
        arp.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x06]);
        arp.extend_from_slice(&[0; 28]);
        let before = arp.clone();
        assert_eq!(decapsulate(CE, &mut arp), Ok(()));
        assert_eq!(arp, before);
        // An IPv4 EtherType over something that is not IPv4.
        let mut bogus = before.clone();
        bogus[12..14].copy_from_slice(&[0x08, 0x00]);
        bogus[14] = 0x60;
        let kept = bogus.clone();
        assert_eq!(decapsulate(CE, &mut bogus), Ok(()));
        assert_eq!(bogus, kept);
    }
}
