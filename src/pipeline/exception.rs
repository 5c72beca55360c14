//! The exception path's worker half: packets for the VTEP addresses that vtepd does not
//! serve itself (BGP, BFD, the replies to what the namespace's kernel sent) go to that
//! kernel, in two classes with a policer each, as control-plane policing on a router: a
//! flood of connection attempts spends the budget of new traffic, never that of the sessions
//! already established.
//!
//! Only packets the classifier refused as unserved reach this module, so the tunnel path
//! pays nothing for it.

use crate::config::ExceptionLimits;
use crate::wire::{checksum, ethernet, ipv4, ipv6, tcp, udp, EtherType, IpProtocol};

use super::policer::Policer;
use super::underlay::LocalAddrs;

/// The policing class of a packet for the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExceptionClass {
    /// TCP segments other than a bare SYN (BGP sessions), BFD, ARP and ND replies.
    Established,
    /// Connection attempts (a bare SYN) and everything else.
    New,
}

/// BFD control (RFC 5881), echo (RFC 5881 §4) and multihop (RFC 5883) ports.
const BFD_PORTS: [u16; 3] = [3784, 3785, 4784];
const TCP_SYN: u8 = 0x02;
const TCP_ACK: u8 = 0x10;

/// The class of an unserved IP packet, when it is addressed to one of our unicast
/// addresses (a group address, or no IP at all, is not the kernel's business).
pub fn class_of(frame: &[u8], local: &LocalAddrs) -> Option<ExceptionClass> {
    let (eth, rest) = ethernet::parse(frame).ok()?;
    let (protocol, l4) = match eth.ethertype_raw() {
        EtherType::IPV4 => {
            let (ip, l4) = ipv4::parse(rest).ok()?;
            if !local.is_local_v4(ip.dst()) {
                return None;
            }
            (ip.protocol_raw(), l4)
        }
        EtherType::IPV6 => {
            let (ip, l4) = ipv6::parse(rest).ok()?;
            if !local.is_local_v6(&ip.dst()) {
                return None;
            }
            // Behind extension headers: policed as new traffic, not looked into.
            (ip.next_header_raw(), l4)
        }
        _ => return None,
    };
    Some(match protocol {
        IpProtocol::TCP => match tcp::parse(l4) {
            Ok((t, _)) if t.flags() & (TCP_SYN | TCP_ACK) == TCP_SYN => ExceptionClass::New,
            Ok(_) => ExceptionClass::Established,
            Err(_) => ExceptionClass::New,
        },
        IpProtocol::UDP => match udp::parse(l4) {
            Ok((u, _)) if BFD_PORTS.contains(&u.dst_port()) => ExceptionClass::Established,
            _ => ExceptionClass::New,
        },
        _ => ExceptionClass::New,
    })
}

/// One worker's exception-path policers.
#[derive(Debug, Clone)]
pub struct ExceptionPolicers {
    established: (u64, Policer),
    new: (u64, Policer),
}

impl ExceptionPolicers {
    /// Policers for this worker's share of `limits`.
    pub fn new(limits: ExceptionLimits, workers: u32) -> ExceptionPolicers {
        ExceptionPolicers {
            established: (
                Policer::share(limits.established_pps, workers),
                Policer::default(),
            ),
            new: (Policer::share(limits.new_pps, workers), Policer::default()),
        }
    }

    /// Whether one more packet of `class` may go to the kernel at worker tick `now`.
    #[inline]
    pub fn admit(&mut self, class: ExceptionClass, now: u32) -> bool {
        let (rate, bucket) = match class {
            ExceptionClass::Established => &mut self.established,
            ExceptionClass::New => &mut self.new,
        };
        bucket.admit(*rate, now)
    }
}

/// Fills in the TCP or UDP checksum of a frame the namespace's kernel sent: its veth leaves
/// checksums to the "hardware" (CHECKSUM_PARTIAL), and the exception port reads the frame
/// before anything computes them. Whole IPv4/IPv6 datagrams (no IPv6 extension headers);
/// anything else is left as it is. Returns whether it wrote a checksum.
pub fn complete_checksum(frame: &mut [u8]) -> bool {
    let Some((start, end, field, pseudo)) = transport_of(frame) else {
        return false;
    };
    let Some(l4) = frame.get_mut(start..end) else {
        return false;
    };
    let Some(slot) = l4.get_mut(field..field.saturating_add(2)) else {
        return false;
    };
    slot.fill(0);
    let mut sum = !checksum::fold(checksum::sum(pseudo, l4));
    if field == UDP_CHECKSUM {
        sum = checksum::udp_wire(sum);
    }
    if let Some(slot) = l4.get_mut(field..field.saturating_add(2)) {
        slot.copy_from_slice(&sum.to_be_bytes());
    }
    true
}

const TCP_CHECKSUM: usize = 16;
const UDP_CHECKSUM: usize = 6;

/// Where a frame's TCP/UDP segment lies, its checksum field's offset in it, and the
/// pseudo-header's sum.
fn transport_of(frame: &[u8]) -> Option<(usize, usize, usize, u64)> {
    let (eth, rest) = ethernet::parse(frame).ok()?;
    let (protocol, start, len, pseudo) = match eth.ethertype_raw() {
        EtherType::IPV4 => {
            let (ip, _) = ipv4::parse(rest).ok()?;
            if ip.is_fragment() {
                return None;
            }
            let len = ip
                .total_len()
                .checked_sub(u16::try_from(ip.header_len()).ok()?)?;
            let protocol = ip.protocol_raw();
            (
                protocol,
                ethernet::HEADER_LEN.checked_add(ip.header_len())?,
                len,
                checksum::pseudo_header_v4(ip.src(), ip.dst(), protocol, len),
            )
        }
        EtherType::IPV6 => {
            let (ip, _) = ipv6::parse(rest).ok()?;
            let (len, protocol) = (ip.payload_len(), ip.next_header_raw());
            (
                protocol,
                ethernet::HEADER_LEN.checked_add(ipv6::HEADER_LEN)?,
                len,
                checksum::pseudo_header_v6(&ip.src(), &ip.dst(), protocol, u32::from(len)),
            )
        }
        _ => return None,
    };
    let field = match protocol {
        IpProtocol::TCP => TCP_CHECKSUM,
        IpProtocol::UDP => UDP_CHECKSUM,
        _ => return None,
    };
    let end = start.checked_add(usize::from(len))?;
    (end <= frame.len()).then_some((start, end, field, pseudo))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::underlay::tests::local;
    use etherparse::PacketBuilder;

    fn tcp4(dst: [u8; 4], syn: bool, ack: bool) -> Vec<u8> {
        let mut b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 9], [2, 0, 0, 0, 0, 1])
            .ipv4([10, 0, 0, 2], dst, 64)
            .tcp(40000, 179, 1, 1000);
        if syn {
            b = b.syn();
        }
        if ack {
            b = b.ack(7);
        }
        let mut out = Vec::new();
        b.write(&mut out, &[]).unwrap();
        out
    }

    fn udp6(dport: u16) -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 9], [2, 0, 0, 0, 0, 1])
            .ipv6(
                "fd00::2".parse::<std::net::Ipv6Addr>().unwrap().octets(),
                "fd00::1".parse::<std::net::Ipv6Addr>().unwrap().octets(),
                64,
            )
            .udp(49152, dport)
            .write(&mut out, &[0; 24])
            .unwrap();
        out
    }

    #[test]
    fn a_bare_syn_is_new_every_other_segment_established() {
        let l = local();
        let class = |f: Vec<u8>| class_of(&f, &l);
        assert_eq!(
            class(tcp4([10, 0, 0, 1], true, false)),
            Some(ExceptionClass::New)
        );
        // The answer to our own connection attempt belongs to an established exchange.
        assert_eq!(
            class(tcp4([10, 0, 0, 1], true, true)),
            Some(ExceptionClass::Established)
        );
        assert_eq!(
            class(tcp4([10, 0, 0, 1], false, true)),
            Some(ExceptionClass::Established)
        );
        assert_eq!(class(udp6(3784)), Some(ExceptionClass::Established));
        assert_eq!(class(udp6(53)), Some(ExceptionClass::New));
    }

    #[test]
    fn only_our_unicast_addresses_reach_the_kernel() {
        let l = local();
        assert_eq!(class_of(&tcp4([10, 0, 0, 9], false, true), &l), None);
        assert_eq!(class_of(&tcp4([239, 1, 1, 1], false, true), &l), None);
        assert_eq!(class_of(&[0u8; 10], &l), None);
    }

    #[test]
    fn checksums_left_to_the_hardware_are_filled_in() {
        for mut good in [tcp4([10, 0, 0, 1], false, true), udp6(179)] {
            let sent = good.clone();
            // What a veth hands over: the field holds anything (the pseudo-header's sum).
            let field = if sent[12..14] == [0x86, 0xdd] {
                14 + 40 + 6
            } else {
                14 + 20 + 16
            };
            good[field] = 0x12;
            good[field + 1] = 0x34;
            assert!(complete_checksum(&mut good));
            assert_eq!(good, sent);
        }
        let mut arp = vec![0xff; 42];
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert!(!complete_checksum(&mut arp));
    }

    #[test]
    fn each_class_has_its_own_budget() {
        let limits = ExceptionLimits {
            established_pps: 1600,
            new_pps: 16,
        };
        let mut p = ExceptionPolicers::new(limits, 1);
        let new = (0..10_000)
            .filter(|_| p.admit(ExceptionClass::New, 0))
            .count();
        assert_eq!(new, 32, "one RX burst at the smallest depth");
        // The flood of new traffic left the established budget whole.
        let established = (0..10_000)
            .filter(|_| p.admit(ExceptionClass::Established, 0))
            .count();
        assert_eq!(established, 200);
        // Two workers police half the rate each.
        let mut half = ExceptionPolicers::new(limits, 2);
        let n = (0..10_000)
            .filter(|_| half.admit(ExceptionClass::Established, 0))
            .count();
        assert_eq!(n, 100);
    }
}
