//! The policy stage: the stateful firewall on the inner headers, after decapsulation and
//! before encapsulation, for bridged and routed packets alike (docs/SECURITY.md).
//!
//! A packet of a tracked flow is let through by its session (one hash lookup); any other
//! is classified (rte_acl over protocol, segments, addresses and ports) and allowed, denied
//! or allowed with a new session its replies will match. A session admitted under an older
//! policy is checked again on its next packet: kept if the new rules still allow its
//! initiator's direction, cut (and logged) if not.
//!
//! Without a policy the stage is one branch on an empty `Option`.

use std::net::IpAddr;

use crate::config::Action;
use crate::tables::policy::{FlowKey, PolicySet};
use crate::tables::session::{tcp_flags, Aged, Refused, Session, SessionKey, Sessions};
use crate::wire::{ethernet, ipv4, ipv6, EtherType};

use super::DropReason;

/// Zones of VRFs have this bit and the slots of the two VRFs a flow joins (the same one
/// twice unless a route leaks between them); a VNI outside any VRF is its own zone.
pub const VRF_ZONE: u32 = 1 << 31;
const VRF_SLOT_BITS: u32 = 15;

/// The zone of a flow between VRF slots `lo` and `hi`.
#[inline(always)]
pub fn vrf_zone(lo: usize, hi: usize) -> u32 {
    VRF_ZONE | ((lo as u32) << VRF_SLOT_BITS) | (hi as u32 & ((1 << VRF_SLOT_BITS) - 1))
}

/// The VRF slot of a tenant (None: a VNI outside any VRF is the tenant).
pub fn vrf_slot_of_tenant(tenant: u16) -> Option<usize> {
    usize::from(tenant).checked_sub(crate::tables::MAX_VNIS)
}

/// Where a policed packet is: its zone (sessions are looked up there), the tenant its
/// sessions count against, and its source and destination segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope {
    pub zone: u32,
    pub tenant: u16,
    pub src_vni: u32,
    pub dst_vni: u32,
}

/// A packet as the policy reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet {
    pub flow: FlowKey,
    pub tcp_flags: u8,
    /// Whether a session can follow this flow (TCP, UDP, ICMP echo): others are classified
    /// packet by packet.
    pub trackable: bool,
}

/// Why `Packet::read` could not read a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unread {
    /// Not IPv4 or IPv6: the segment pair's default decides.
    NotIp,
    /// A fragment: no ports to classify on.
    Fragment,
    /// A truncated or malformed IP header.
    Malformed,
}

const ICMP_ECHO_REQUEST: u8 = 8;
const ICMP_ECHO_REPLY: u8 = 0;
const ICMPV6_ECHO_REQUEST: u8 = 128;
const ICMPV6_ECHO_REPLY: u8 = 129;

impl Packet {
    /// Reads an untagged Ethernet frame's IP 5-tuple.
    #[inline]
    pub fn read(frame: &[u8], src_vni: u32, dst_vni: u32) -> Result<Packet, Unread> {
        let (eth, l3) = ethernet::parse(frame).map_err(|_| Unread::Malformed)?;
        let (src, dst, protocol, l4): (IpAddr, IpAddr, u8, &[u8]) = match eth.ethertype_raw() {
            EtherType::IPV4 => {
                let (ip, l4) = ipv4::parse(l3).map_err(|_| Unread::Malformed)?;
                if ip.is_fragment() {
                    return Err(Unread::Fragment);
                }
                (ip.src().into(), ip.dst().into(), ip.protocol_raw(), l4)
            }
            EtherType::IPV6 => {
                let (ip, l4) = ipv6::parse(l3).map_err(|_| Unread::Malformed)?;
                let next = ip.next_header_raw();
                if next == ipv6::next_header::FRAGMENT {
                    return Err(Unread::Fragment);
                }
                (ip.src().into(), ip.dst().into(), next, l4)
            }
            _ => return Err(Unread::NotIp),
        };
        let port = |at: usize| {
            l4.get(at..at.saturating_add(2))
                .and_then(|b| <[u8; 2]>::try_from(b).ok())
                .map_or(0, u16::from_be_bytes)
        };
        let (src_port, dst_port, tcp_flags, trackable) = match protocol {
            6 => (port(0), port(2), l4.get(13).copied().unwrap_or(0), true),
            17 => (port(0), port(2), 0, true),
            1 | 58 => {
                let kind = l4.first().copied().unwrap_or(0);
                let code = l4.get(1).copied().unwrap_or(0);
                let echo = matches!(
                    (protocol, kind),
                    (1, ICMP_ECHO_REQUEST | ICMP_ECHO_REPLY)
                        | (58, ICMPV6_ECHO_REQUEST | ICMPV6_ECHO_REPLY)
                );
                if echo {
                    // Request and reply share the identifier: one session for both.
                    let id = port(4);
                    (id, id, 0, true)
                } else {
                    (0, u16::from_be_bytes([kind, code]), 0, false)
                }
            }
            _ => (0, 0, 0, false),
        };
        Ok(Packet {
            flow: FlowKey {
                protocol,
                src_vni,
                dst_vni,
                src,
                dst,
                src_port,
                dst_port,
            },
            tcp_flags,
            trackable,
        })
    }

    /// Whether this is a request that starts a flow (not an answer to one).
    fn opens(&self) -> bool {
        self.flow.protocol != 6 || self.tcp_flags & tcp_flags::RST == 0
    }
}

/// Something the stage wants logged or counted by the management thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowNote {
    Started(Session),
    /// A live session's counts so far (every `ipfix_interim`).
    Interim(Session),
    Ended(Session, EndCause),
    Denied {
        flow: FlowKey,
        tenant: u16,
        rule_id: u32,
        bytes: u64,
        at: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndCause {
    Idle,
    /// RST, or FIN from both sides and then the close timeout.
    Closed,
    /// The rules changed and no longer allow it, or the policy was removed.
    Revoked,
}

/// One worker's policy: the shared rules and the worker's own sessions.
#[derive(Debug)]
pub struct PolicyStage {
    pub set: std::sync::Arc<PolicySet>,
    pub sessions: Box<Sessions>,
}

/// What the stage decided for one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Let through by a session.
    Tracked,
    /// Classified and allowed (with a session opened if the rule is stateful).
    Allowed { slot: u16 },
}

impl PolicyStage {
    /// Decides for `p` (of `len` bytes) in `scope`; `note` receives what the management
    /// thread should hear. `hashed`: the burst's first pass's hash of the packet's session
    /// key, if it made one (`Sessions::get_mut_hinted` checks it).
    #[inline]
    pub fn decide(
        &mut self,
        p: &Packet,
        scope: Scope,
        len: u64,
        now: u32,
        hashed: Option<u64>,
        mut note: impl FnMut(FlowNote),
    ) -> Result<Decision, (DropReason, Option<u16>)> {
        let key = SessionKey::of(scope.zone, &p.flow);
        if p.trackable {
            if let Some(s) = self.sessions.get_mut_hinted(&key, hashed) {
                let forward = s.is_forward(p.flow.src, p.flow.src_port);
                if s.generation == self.set.generation && !s.reopened_by(p.tcp_flags) {
                    s.account(forward, len, p.tcp_flags, now);
                    return Ok(Decision::Tracked);
                }
                // Admitted under older rules (or a closed connection reopened): the
                // initiator's direction is judged again.
                let again = self.set.classify(&s.flow);
                if again.rule.action == Action::Allow
                    && again.rule.stateful
                    && !s.reopened_by(p.tcp_flags)
                {
                    s.generation = self.set.generation;
                    s.slot = again.slot;
                    s.rule_id = again.rule.id;
                    s.log = again.rule.log;
                    s.account(forward, len, p.tcp_flags, now);
                    return Ok(Decision::Tracked);
                }
                let cause = if s.reopened_by(p.tcp_flags) {
                    EndCause::Closed
                } else {
                    EndCause::Revoked
                };
                if let Some(old) = self.sessions.close(&key) {
                    note(FlowNote::Ended(old, cause));
                }
            }
        }
        let v = self.set.classify(&p.flow);
        match v.rule.action {
            Action::Deny => {
                if v.rule.log {
                    note(FlowNote::Denied {
                        flow: p.flow,
                        tenant: scope.tenant,
                        rule_id: v.rule.id,
                        bytes: len,
                        at: now,
                    });
                }
                Err((DropReason::PolicyDenied, Some(v.slot)))
            }
            Action::Allow if v.rule.stateful && p.trackable && p.opens() => {
                let mut s = Session::new(key, p.flow, scope.tenant, now);
                s.slot = v.slot;
                s.rule_id = v.rule.id;
                s.generation = self.set.generation;
                s.log = v.rule.log;
                s.account(true, len, p.tcp_flags, now);
                match self.sessions.open(s, self.set.tenant_sessions) {
                    Ok(opened) => {
                        note(FlowNote::Started(*opened));
                        Ok(Decision::Allowed { slot: v.slot })
                    }
                    Err(Refused::TenantLimit) => {
                        Err((DropReason::SessionTenantLimit, Some(v.slot)))
                    }
                    Err(Refused::TableFull) => Err((DropReason::SessionTableFull, Some(v.slot))),
                }
            }
            Action::Allow => Ok(Decision::Allowed { slot: v.slot }),
        }
    }

    /// A frame the policy cannot read as IP: fragments are dropped, anything else takes the
    /// default of its segment pair (and malformed IP is dropped).
    pub fn decide_unread(
        &self,
        why: Unread,
        within: bool,
    ) -> Result<Decision, (DropReason, Option<u16>)> {
        match why {
            Unread::Fragment => Err((DropReason::PolicyFragment, None)),
            Unread::Malformed => Err((DropReason::PolicyMalformed, None)),
            Unread::NotIp => {
                let slot = self.set.default_slot(within);
                let action = self.set.rules.get(slot).map(|r| r.action);
                let slot = slot as u16;
                if action == Some(Action::Allow) {
                    Ok(Decision::Allowed { slot })
                } else {
                    Err((DropReason::PolicyDenied, Some(slot)))
                }
            }
        }
    }

    /// Ages a few sessions (called once per burst).
    #[inline]
    pub fn expire(&mut self, now: u32, budget: usize, mut note: impl FnMut(FlowNote)) {
        let (timeouts, interim) = (self.set.timeouts, self.set.interim);
        self.sessions
            .expire(now, &timeouts, interim, budget, |aged| match aged {
                Aged::Ended(s) => {
                    let cause = if s.flow.protocol == 6
                        && s.tcp_state() == crate::tables::session::TcpState::Closing
                    {
                        EndCause::Closed
                    } else {
                        EndCause::Idle
                    };
                    note(FlowNote::Ended(s, cause));
                }
                Aged::Interim(s) => note(FlowNote::Interim(s)),
            });
    }
}
