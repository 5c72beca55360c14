//! Resolving underlay neighbours (next hops and on-link VTEPs) with ARP and neighbour
//! discovery, and keeping them fresh.
//!
//! The management thread decides when to ask; the request goes out through a worker's TX
//! queue (the slow path) and the answer comes back as a worker event. A neighbour is used
//! for `neighbor_timeout_secs`; from three quarters of that on it is probed again, and if
//! nothing answers by the end it is dropped and traffic behind it waits (counted as
//! `neighbor_unresolved`) until it answers.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use crate::config::UnderlayConfig;
use crate::pipeline::solicit;
use crate::wire::MacAddr;

/// Time between two requests for the same address.
const RETRY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Resolving {
        next: Instant,
        attempts: u32,
    },
    Reachable {
        mac: MacAddr,
        confirmed: Instant,
        next_probe: Instant,
    },
}

/// What the resolver wants done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send an ARP request / neighbour solicitation for this address.
    Solicit(IpAddr),
    /// This neighbour stopped answering: forget its MAC.
    Lost(IpAddr),
}

#[derive(Debug)]
pub struct Resolver {
    entries: HashMap<IpAddr, State>,
    timeout: Duration,
}

impl Resolver {
    pub fn new(timeout: Duration) -> Resolver {
        Resolver {
            entries: HashMap::new(),
            timeout,
        }
    }

    /// Brings the watched set in line with `wanted` and says what to send or forget now.
    pub fn tick(&mut self, wanted: &[IpAddr], now: Instant) -> Vec<Action> {
        self.entries.retain(|ip, _| wanted.contains(ip));
        let mut actions = Vec::new();
        for ip in wanted {
            let state = self.entries.entry(*ip).or_insert(State::Resolving {
                next: now,
                attempts: 0,
            });
            match *state {
                State::Resolving { next, attempts } if now >= next => {
                    if attempts == 3 {
                        tracing::warn!("underlay neighbour {ip} does not answer; still trying");
                    }
                    actions.push(Action::Solicit(*ip));
                    *state = State::Resolving {
                        next: now + RETRY,
                        attempts: attempts.saturating_add(1),
                    };
                }
                State::Reachable {
                    confirmed,
                    next_probe,
                    mac,
                } => {
                    if now.duration_since(confirmed) >= self.timeout {
                        tracing::warn!("underlay neighbour {ip} ({mac}) stopped answering");
                        actions.push(Action::Lost(*ip));
                        actions.push(Action::Solicit(*ip));
                        *state = State::Resolving {
                            next: now + RETRY,
                            attempts: 1,
                        };
                    } else if now >= next_probe {
                        actions.push(Action::Solicit(*ip));
                        *state = State::Reachable {
                            mac,
                            confirmed,
                            next_probe: now + RETRY,
                        };
                    }
                }
                State::Resolving { .. } => {}
            }
        }
        actions
    }

    /// An answer from `ip`; true when it is watched (so its MAC matters).
    pub fn answered(&mut self, ip: IpAddr, mac: MacAddr, now: Instant) -> bool {
        let Some(state) = self.entries.get_mut(&ip) else {
            return false;
        };
        if let State::Resolving { attempts, .. } = state {
            if *attempts > 3 {
                tracing::info!("underlay neighbour {ip} answered: {mac}");
            }
        }
        *state = State::Reachable {
            mac,
            confirmed: now,
            next_probe: now + self.timeout.mul_f32(0.75),
        };
        true
    }

    pub fn mac(&self, ip: IpAddr) -> Option<MacAddr> {
        match self.entries.get(&ip) {
            Some(State::Reachable { mac, .. }) => Some(*mac),
            _ => None,
        }
    }
}

/// The local address to ask from: one on the target's subnet, else the family's first.
fn source_for(underlay: &UnderlayConfig, target: IpAddr) -> Option<IpAddr> {
    underlay
        .addresses
        .iter()
        .find(|c| c.contains(target))
        .map(|c| c.addr)
        .or_else(|| underlay.source_for(target))
}

/// An ARP request or neighbour solicitation for `target`, as a complete Ethernet frame.
pub fn solicitation(
    underlay: &UnderlayConfig,
    our_mac: MacAddr,
    target: IpAddr,
) -> Option<Vec<u8>> {
    match (source_for(underlay, target)?, target) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => Some(arp_request(our_mac, src, dst)),
        (IpAddr::V6(src), IpAddr::V6(dst)) => Some(neighbor_solicitation(our_mac, &src, &dst)),
        _ => None,
    }
}

fn arp_request(our_mac: MacAddr, src: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
    let mut frame = vec![0u8; solicit::ARP_REQUEST_LEN];
    solicit::write_arp_request(&mut frame, our_mac, src, target);
    frame
}

fn neighbor_solicitation(our_mac: MacAddr, src: &Ipv6Addr, target: &Ipv6Addr) -> Vec<u8> {
    let mut frame = vec![0u8; solicit::NS_LEN];
    solicit::write_neighbor_solicitation(&mut frame, our_mac, src, target);
    frame
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DscpPolicy, IpCidr};
    use crate::wire::{arp, checksum, ethernet, icmpv6, ipv6};

    fn underlay() -> UnderlayConfig {
        UnderlayConfig {
            port: "u".into(),
            addresses: vec![
                IpCidr {
                    addr: "10.0.0.1".parse().unwrap(),
                    prefix: 24,
                },
                IpCidr {
                    addr: "fd00::1".parse().unwrap(),
                    prefix: 64,
                },
            ],
            next_hops: vec![],
            next_hop_mac: None,
            mtu: 1500,
            vxlan_port: 4789,
            ttl: 64,
            dscp: DscpPolicy::Inherit,
            source_ports: (49152, 65535),
            neighbor_timeout_secs: 300,
        }
    }

    #[test]
    fn resolves_probes_and_forgets() {
        let mut r = Resolver::new(Duration::from_secs(8));
        let ip: IpAddr = "10.0.0.2".parse().unwrap();
        let t0 = Instant::now();
        assert_eq!(r.tick(&[ip], t0), vec![Action::Solicit(ip)]);
        assert!(r.tick(&[ip], t0 + Duration::from_millis(500)).is_empty());
        assert_eq!(r.tick(&[ip], t0 + RETRY), vec![Action::Solicit(ip)]);
        assert!(r.answered(ip, MacAddr([2, 0, 0, 0, 0, 2]), t0 + RETRY));
        assert_eq!(r.mac(ip), Some(MacAddr([2, 0, 0, 0, 0, 2])));
        assert!(r.tick(&[ip], t0 + Duration::from_secs(6)).is_empty());
        assert_eq!(
            r.tick(&[ip], t0 + Duration::from_secs(8)),
            vec![Action::Solicit(ip)],
            "probe at 3/4"
        );
        assert_eq!(
            r.tick(&[ip], t0 + Duration::from_secs(10)),
            vec![Action::Lost(ip), Action::Solicit(ip)]
        );
        assert_eq!(r.mac(ip), None);
        assert!(
            !r.answered("10.0.0.9".parse().unwrap(), MacAddr::ZERO, t0),
            "not watched"
        );
        assert!(r.tick(&[], t0).is_empty());
        assert!(!r.answered(ip, MacAddr::ZERO, t0), "no longer watched");
    }

    #[test]
    fn arp_request_frame() {
        let f = solicitation(
            &underlay(),
            MacAddr([2, 0, 0, 0, 0, 1]),
            "10.0.0.2".parse().unwrap(),
        )
        .unwrap();
        let (eth, rest) = ethernet::parse(&f).unwrap();
        assert_eq!(eth.dst, MacAddr::BROADCAST);
        let r = arp::Repr::parse(rest).unwrap();
        assert_eq!(r.operation, arp::Operation::Request);
        assert_eq!(r.sender_ip, "10.0.0.1".parse::<Ipv4Addr>().unwrap());
        assert_eq!(r.target_ip, "10.0.0.2".parse::<Ipv4Addr>().unwrap());
    }

    #[test]
    fn neighbor_solicitation_frame() {
        let f = solicitation(
            &underlay(),
            MacAddr([2, 0, 0, 0, 0, 1]),
            "fd00::2".parse().unwrap(),
        )
        .unwrap();
        let (eth, rest) = ethernet::parse(&f).unwrap();
        assert_eq!(eth.dst, MacAddr([0x33, 0x33, 0xff, 0, 0, 2]));
        let (ip, payload) = ipv6::parse(rest).unwrap();
        assert_eq!(ip.hop_limit, 255);
        let ns = icmpv6::NdRepr::parse(payload).unwrap();
        assert_eq!(ns.target, "fd00::2".parse::<Ipv6Addr>().unwrap());
        assert_eq!(ns.lladdr, Some(MacAddr([2, 0, 0, 0, 0, 1])));
        let sum = checksum::sum(
            checksum::pseudo_header_v6(&ip.src(), &ip.dst(), 58, payload.len() as u32),
            payload,
        );
        assert_eq!(checksum::fold(sum), 0xffff);
    }
}
