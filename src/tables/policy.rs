//! The compiled policy every worker classifies new flows with.
//!
//! The management thread expands each rule over its groups' members (every source member ×
//! every destination member × every port range × the protocol's numbers) into classifier
//! entries over one key layout per address family, and builds them with DPDK's rte_acl
//! (`crate::dpdk::acl`). Workers share the built policy (`Arc`) and replace it whole when the
//! rules change: `generation` tells a session which policy decided it.
//!
//! The key is what the pipeline extracts from the inner headers (`FlowKey`): protocol,
//! source and destination segment (VNI), addresses, ports, all in network byte order.
//! A flow no entry matches takes the default of its segment pair (`default_within` when both
//! ends are in one VNI, `default_between` otherwise).
//!
//! `Matcher::Reference` evaluates the same entries one by one with rte_acl's semantics: the
//! model the tests check the data path against, and the classifier of the unit tests and the
//! fuzz harness, which run without EAL.

use std::net::IpAddr;

use crate::config::{Action, GroupRef, Member, PolicyConfig, Protocol};
use crate::dpdk::acl::{AclContext, AclError, AclRule, FieldDef, FieldKind, FieldMatch};

/// Fields of the IPv4 key: protocol, source VNI, destination VNI, source address,
/// destination address, source port, destination port.
pub const FIELDS_V4: usize = 7;
/// IPv6: the addresses take four 32-bit words each.
pub const FIELDS_V6: usize = 13;
/// Key lengths in bytes.
pub const KEY_V4: usize = 24;
pub const KEY_V6: usize = 48;

/// Classifier entries a policy may expand to (rte_acl's build time and memory grow with them).
pub const MAX_ENTRIES: usize = 200_000;

const fn field(kind: FieldKind, size: u8, offset: u32, input: u8) -> FieldDef {
    FieldDef {
        kind,
        size,
        offset,
        input,
    }
}

/// The IPv4 key: `[proto, 0, 0, 0, src_vni, dst_vni, src, dst, sport, dport]`.
pub const LAYOUT_V4: [FieldDef; FIELDS_V4] = [
    field(FieldKind::Bitmask, 1, 0, 0),
    field(FieldKind::Prefix, 4, 4, 1),
    field(FieldKind::Prefix, 4, 8, 2),
    field(FieldKind::Prefix, 4, 12, 3),
    field(FieldKind::Prefix, 4, 16, 4),
    field(FieldKind::Range, 2, 20, 5),
    field(FieldKind::Range, 2, 22, 5),
];

/// The IPv6 key: as IPv4 with 16-byte addresses at 12 and 28, ports at 44.
pub const LAYOUT_V6: [FieldDef; FIELDS_V6] = [
    field(FieldKind::Bitmask, 1, 0, 0),
    field(FieldKind::Prefix, 4, 4, 1),
    field(FieldKind::Prefix, 4, 8, 2),
    field(FieldKind::Prefix, 4, 12, 3),
    field(FieldKind::Prefix, 4, 16, 4),
    field(FieldKind::Prefix, 4, 20, 5),
    field(FieldKind::Prefix, 4, 24, 6),
    field(FieldKind::Prefix, 4, 28, 7),
    field(FieldKind::Prefix, 4, 32, 8),
    field(FieldKind::Prefix, 4, 36, 9),
    field(FieldKind::Prefix, 4, 40, 10),
    field(FieldKind::Range, 2, 44, 11),
    field(FieldKind::Range, 2, 46, 11),
];

/// A flow as the classifier sees it (the initiator's direction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub protocol: u8,
    pub src_vni: u32,
    pub dst_vni: u32,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
}

impl FlowKey {
    /// The classifier's key bytes; the length used depends on the family.
    #[inline(always)]
    pub fn encode(&self, out: &mut [u8; KEY_V6]) -> usize {
        out[0] = self.protocol;
        out[1..4].fill(0);
        out[4..8].copy_from_slice(&self.src_vni.to_be_bytes());
        out[8..12].copy_from_slice(&self.dst_vni.to_be_bytes());
        match (self.src, self.dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                out[12..16].copy_from_slice(&s.octets());
                out[16..20].copy_from_slice(&d.octets());
                out[20..22].copy_from_slice(&self.src_port.to_be_bytes());
                out[22..24].copy_from_slice(&self.dst_port.to_be_bytes());
                KEY_V4
            }
            (s, d) => {
                out[12..28].copy_from_slice(&v6_octets(s));
                out[28..44].copy_from_slice(&v6_octets(d));
                out[44..46].copy_from_slice(&self.src_port.to_be_bytes());
                out[46..48].copy_from_slice(&self.dst_port.to_be_bytes());
                KEY_V6
            }
        }
    }
}

fn v6_octets(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

/// What a rule decides, as the data path needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleMeta {
    /// The operator's rule id (0 for the defaults).
    pub id: u32,
    pub action: Action,
    pub stateful: bool,
    pub log: bool,
}

/// A rule slot: index into `PolicySet::rules`. The defaults have slots of their own, after
/// the configured rules, so every decision is counted somewhere.
pub type RuleSlot = u16;

/// The decision for one new flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub slot: RuleSlot,
    pub rule: RuleMeta,
}

/// A classifier for one address family.
#[derive(Debug)]
pub enum Matcher<const N: usize> {
    Acl(AclContext),
    Reference(Vec<AclRule<N>>, [FieldDef; N]),
}

impl<const N: usize> Matcher<N> {
    fn build(
        label: &str,
        layout: &[FieldDef; N],
        entries: Vec<AclRule<N>>,
        with_acl: bool,
    ) -> Result<Self, AclError> {
        if with_acl {
            AclContext::build(label, layout, &entries).map(Matcher::Acl)
        } else {
            Ok(Matcher::Reference(entries, *layout))
        }
    }

    /// The matching entry's userdata (rule slot + 1), 0 when none matches.
    #[inline(always)]
    pub fn classify(&self, key: &[u8]) -> u32 {
        match self {
            Matcher::Acl(ctx) => ctx.classify(key),
            Matcher::Reference(entries, layout) => reference_classify(entries, layout, key),
        }
    }

    pub fn entries(&self) -> usize {
        match self {
            Matcher::Acl(ctx) => ctx.rules(),
            Matcher::Reference(entries, _) => entries.len(),
        }
    }
}

/// rte_acl's semantics, one entry at a time: every field matches, highest priority wins.
/// Tests and the fuzz harness only; offsets and sizes come from the constant layouts.
#[allow(clippy::arithmetic_side_effects)]
fn reference_classify<const N: usize>(
    entries: &[AclRule<N>],
    layout: &[FieldDef; N],
    key: &[u8],
) -> u32 {
    let mut best: Option<&AclRule<N>> = None;
    for e in entries {
        let all = layout.iter().zip(&e.fields).all(|(d, m)| {
            let at = d.offset as usize;
            let Some(bytes) = key.get(at..at + usize::from(d.size)) else {
                return false;
            };
            let v = bytes.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b));
            match d.kind {
                FieldKind::Bitmask => v & m.mask_range == m.value,
                FieldKind::Range => (m.value..=m.mask_range).contains(&v),
                FieldKind::Prefix => {
                    let bits = u32::from(d.size) * 8;
                    let mask = if m.mask_range == 0 {
                        0
                    } else {
                        (u32::MAX << (bits - m.mask_range.min(bits))) & (u32::MAX >> (32 - bits))
                    };
                    v & mask == m.value & mask
                }
            }
        });
        if all && best.is_none_or(|b| e.priority > b.priority) {
            best = Some(e);
        }
    }
    best.map_or(0, |e| e.userdata)
}

/// A policy compiled for the workers.
#[derive(Debug)]
pub struct PolicySet {
    /// Increases with every policy built; sessions remember the one that admitted them.
    pub generation: u32,
    /// The configured rules in file order, then `default_within`, then `default_between`.
    pub rules: Box<[RuleMeta]>,
    pub v4: Matcher<FIELDS_V4>,
    pub v6: Matcher<FIELDS_V6>,
    /// Session idle timeouts, in worker ticks (1/16 s).
    pub timeouts: TickTimeouts,
    /// Ticks between a live session's interim reports (0: none).
    pub interim: u32,
    /// Sessions each worker may hold, and each tenant on each worker.
    pub worker_sessions: u32,
    pub tenant_sessions: u32,
    pub log_default_deny: bool,
}

/// `SessionTimeouts` in worker ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TickTimeouts {
    pub tcp_established: u32,
    pub tcp_transient: u32,
    pub tcp_closed: u32,
    pub udp: u32,
    pub other: u32,
}

/// Worker ticks per second.
pub const TICKS_PER_SECOND: u32 = 16;

/// Why a policy could not be built.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PolicyBuildError {
    #[error("the rules expand to {0} classifier entries, more than {MAX_ENTRIES}")]
    TooManyEntries(usize),
    #[error("more than {} rules", RuleSlot::MAX - 2)]
    TooManyRules,
    #[error("building the classifier: {0}")]
    Classifier(#[from] AclError),
}

impl PolicySet {
    /// Compiles `cfg` for `workers` workers; `with_acl` false builds the reference matcher
    /// (no EAL: tests and the fuzz harness).
    // Built on the management thread, over bounded config sizes (checked first): not the
    // per-packet path the module lints guard.
    #[allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
    pub fn build(
        cfg: &PolicyConfig,
        generation: u32,
        workers: usize,
        with_acl: bool,
    ) -> Result<PolicySet, PolicyBuildError> {
        if cfg.rules.len() > usize::from(RuleSlot::MAX) - 2 {
            return Err(PolicyBuildError::TooManyRules);
        }
        let mut rules: Vec<RuleMeta> = cfg
            .rules
            .iter()
            .map(|r| RuleMeta {
                id: r.id,
                action: r.action,
                stateful: r.stateful,
                log: r.log,
            })
            .collect();
        for action in [cfg.default_within, cfg.default_between] {
            rules.push(RuleMeta {
                id: 0,
                action,
                // Stateless: what a default allows, it allows both ways (the reply's segment
                // pair is the same pair), so sessions would only fill the table.
                stateful: false,
                log: action == Action::Deny && cfg.log_default_deny,
            });
        }
        // Higher priority first, equal ones in file order: a unique rank per rule.
        let mut order: Vec<usize> = (0..cfg.rules.len()).collect();
        order.sort_by_key(|&i| (std::cmp::Reverse(cfg.rules[i].priority), i));
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        let n = order.len() as u32;
        for (position, &i) in order.iter().enumerate() {
            let r = &cfg.rules[i];
            let rank = n - position as u32;
            let userdata = i as u32 + 1;
            let from = members(cfg, &r.from);
            let to = members(cfg, &r.to);
            let ports: &[(u16, u16)] = if r.ports.is_empty() {
                &[(0, u16::MAX)]
            } else {
                &r.ports
            };
            for s in &from {
                for d in &to {
                    for &(lo, hi) in ports {
                        for family in [Family::V4, Family::V6] {
                            let (Some(sp), Some(dp)) = (family.fits(s), family.fits(d)) else {
                                continue;
                            };
                            let proto = protocol_match(r.protocol, family);
                            let common = Common {
                                proto,
                                src_vni: s.vni.map(|v| v.get()),
                                dst_vni: d.vni.map(|v| v.get()),
                                ports: (lo, hi),
                            };
                            match family {
                                Family::V4 => v4.push(entry_v4(&common, sp, dp, rank, userdata)),
                                Family::V6 => v6.push(entry_v6(&common, sp, dp, rank, userdata)),
                            }
                            if v4.len() + v6.len() > MAX_ENTRIES {
                                return Err(PolicyBuildError::TooManyEntries(v4.len() + v6.len()));
                            }
                        }
                    }
                }
            }
        }
        let t = cfg.timeouts;
        let ticks = |s: u32| s.saturating_mul(TICKS_PER_SECOND);
        let per_worker = |total: u32| total.div_ceil(workers.max(1) as u32).max(1);
        Ok(PolicySet {
            generation,
            rules: rules.into_boxed_slice(),
            v4: Matcher::build("vtepd-acl4", &LAYOUT_V4, v4, with_acl)?,
            v6: Matcher::build("vtepd-acl6", &LAYOUT_V6, v6, with_acl)?,
            timeouts: TickTimeouts {
                tcp_established: ticks(t.tcp_established),
                tcp_transient: ticks(t.tcp_transient),
                tcp_closed: ticks(t.tcp_closed),
                udp: ticks(t.udp),
                other: ticks(t.other),
            },
            interim: ticks(cfg.ipfix_interim),
            worker_sessions: per_worker(cfg.max_sessions),
            tenant_sessions: per_worker(cfg.tenant_max_sessions),
            log_default_deny: cfg.log_default_deny,
        })
    }

    /// The rule for a new flow: the highest-priority matching rule, else the segment pair's
    /// default.
    #[inline]
    pub fn classify(&self, flow: &FlowKey) -> Verdict {
        let mut key = [0u8; KEY_V6];
        let len = flow.encode(&mut key);
        let hit = if len == KEY_V4 {
            self.v4.classify(&key[..KEY_V4])
        } else {
            self.v6.classify(&key)
        };
        let slot = match hit.checked_sub(1) {
            Some(i) => i as usize,
            None => self.default_slot(flow.src_vni == flow.dst_vni),
        };
        let rule = self.rules.get(slot).copied().unwrap_or(RuleMeta {
            id: 0,
            action: Action::Deny,
            stateful: false,
            log: false,
        });
        Verdict {
            slot: slot as RuleSlot,
            rule,
        }
    }

    /// The slot of the default for a flow inside one segment (`within`) or between two.
    pub fn default_slot(&self, within: bool) -> usize {
        let configured = self.rules.len().saturating_sub(2);
        if within {
            configured
        } else {
            configured.saturating_add(1)
        }
    }

    /// Classifier entries, IPv4 and IPv6.
    pub fn entries(&self) -> (usize, usize) {
        (self.v4.entries(), self.v6.entries())
    }
}

#[derive(Clone, Copy)]
enum Family {
    V4,
    V6,
}

impl Family {
    /// The member's prefix in this family (any address when it has none); None when the
    /// member is of the other family.
    fn fits(self, m: &Member) -> Option<(u128, u8)> {
        match (self, m.prefix) {
            (_, None) => Some((0, 0)),
            (Family::V4, Some(c)) => match c.addr {
                IpAddr::V4(a) => Some((u128::from(u32::from(a)), c.prefix)),
                IpAddr::V6(_) => None,
            },
            (Family::V6, Some(c)) => match c.addr {
                IpAddr::V6(a) => Some((u128::from(a), c.prefix)),
                IpAddr::V4(_) => None,
            },
        }
    }
}

fn members(cfg: &PolicyConfig, g: &GroupRef) -> Vec<Member> {
    match g {
        GroupRef::Any => vec![Member {
            vni: None,
            prefix: None,
        }],
        GroupRef::Group(name) => cfg
            .groups
            .iter()
            .find(|x| &x.name == name)
            .map(|x| x.members.clone())
            .unwrap_or_default(),
    }
}

/// The protocol field: (value, mask).
fn protocol_match(p: Protocol, family: Family) -> FieldMatch {
    let exact = |n: u32| FieldMatch {
        value: n,
        mask_range: 0xff,
    };
    match (p, family) {
        (Protocol::Any, _) => FieldMatch::default(),
        (Protocol::Tcp, _) => exact(6),
        (Protocol::Udp, _) => exact(17),
        (Protocol::Icmp, Family::V4) => exact(1),
        (Protocol::Icmp, Family::V6) => exact(58),
    }
}

struct Common {
    proto: FieldMatch,
    src_vni: Option<u32>,
    dst_vni: Option<u32>,
    ports: (u16, u16),
}

fn vni_match(v: Option<u32>) -> FieldMatch {
    v.map_or(FieldMatch::default(), |v| FieldMatch {
        value: v,
        mask_range: 32,
    })
}

fn entry_v4(
    c: &Common,
    (src, src_len): (u128, u8),
    (dst, dst_len): (u128, u8),
    priority: u32,
    userdata: u32,
) -> AclRule<FIELDS_V4> {
    let ip = |a: u128, len: u8| FieldMatch {
        value: a as u32,
        mask_range: u32::from(len),
    };
    AclRule {
        priority,
        userdata,
        fields: [
            c.proto,
            vni_match(c.src_vni),
            vni_match(c.dst_vni),
            ip(src, src_len),
            ip(dst, dst_len),
            FieldMatch {
                value: 0,
                mask_range: u32::from(u16::MAX),
            },
            FieldMatch {
                value: u32::from(c.ports.0),
                mask_range: u32::from(c.ports.1),
            },
        ],
    }
}

#[allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
fn entry_v6(
    c: &Common,
    src: (u128, u8),
    dst: (u128, u8),
    priority: u32,
    userdata: u32,
) -> AclRule<FIELDS_V6> {
    let mut fields = [FieldMatch::default(); FIELDS_V6];
    fields[0] = c.proto;
    fields[1] = vni_match(c.src_vni);
    fields[2] = vni_match(c.dst_vni);
    for (base, (addr, len)) in [(3, src), (7, dst)] {
        for word in 0..4 {
            // Word 0 is the most significant 32 bits; each word takes what is left of the
            // prefix length, up to 32.
            let value = (addr >> (96 - 32 * word)) as u32;
            let bits = u32::from(len).saturating_sub(32 * word as u32).min(32);
            fields[base + word] = FieldMatch {
                value,
                mask_range: bits,
            };
        }
    }
    fields[11] = FieldMatch {
        value: 0,
        mask_range: u32::from(u16::MAX),
    };
    fields[12] = FieldMatch {
        value: u32::from(c.ports.0),
        mask_range: u32::from(c.ports.1),
    };
    AclRule {
        priority,
        userdata,
        fields,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{GroupConfig, IpCidr, RuleConfig, SessionTimeouts};
    use crate::wire::Vni;

    fn cidr(s: &str) -> IpCidr {
        let (a, p) = s.split_once('/').unwrap();
        IpCidr {
            addr: a.parse().unwrap(),
            prefix: p.parse().unwrap(),
        }
    }

    fn policy(rules: Vec<RuleConfig>) -> PolicyConfig {
        PolicyConfig {
            default_between: Action::Deny,
            default_within: Action::Allow,
            groups: vec![
                GroupConfig {
                    name: "training".into(),
                    members: vec![Member {
                        vni: Vni::new(1000),
                        prefix: None,
                    }],
                },
                GroupConfig {
                    name: "storage".into(),
                    members: vec![
                        Member {
                            vni: Vni::new(9000),
                            prefix: Some(cidr("10.90.0.0/16")),
                        },
                        Member {
                            vni: Vni::new(9000),
                            prefix: Some(cidr("fd90::/32")),
                        },
                    ],
                },
            ],
            rules,
            max_sessions: 1000,
            tenant_max_sessions: 100,
            log_default_deny: true,
            timeouts: SessionTimeouts::default(),
            ipfix: vec![],
            ipfix_template_refresh: 60,
            ipfix_interim: 60,
        }
    }

    fn rule(
        id: u32,
        priority: u32,
        proto: Protocol,
        ports: Vec<(u16, u16)>,
        action: Action,
    ) -> RuleConfig {
        RuleConfig {
            id,
            priority,
            from: GroupRef::Group("training".into()),
            to: GroupRef::Group("storage".into()),
            protocol: proto,
            ports,
            action,
            stateful: action == Action::Allow,
            log: true,
        }
    }

    fn flow(proto: u8, src: &str, dst: &str, dport: u16, src_vni: u32, dst_vni: u32) -> FlowKey {
        FlowKey {
            protocol: proto,
            src_vni,
            dst_vni,
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            src_port: 40000,
            dst_port: dport,
        }
    }

    #[test]
    fn rules_then_segment_defaults() {
        let cfg = policy(vec![
            rule(
                10,
                100,
                Protocol::Tcp,
                vec![(2049, 2049), (22, 22)],
                Action::Allow,
            ),
            rule(20, 50, Protocol::Any, vec![], Action::Deny),
        ]);
        let p = PolicySet::build(&cfg, 1, 1, false).unwrap();
        let v = p.classify(&flow(6, "10.1.0.5", "10.90.0.7", 2049, 1000, 9000));
        assert_eq!((v.rule.id, v.rule.action), (10, Action::Allow));
        let v = p.classify(&flow(6, "10.1.0.5", "10.90.0.7", 80, 1000, 9000));
        assert_eq!((v.rule.id, v.rule.action), (20, Action::Deny));
        // Outside storage's prefix: no rule, the between-segments default.
        let v = p.classify(&flow(6, "10.1.0.5", "10.91.0.7", 22, 1000, 9000));
        assert_eq!((v.rule.id, v.rule.action), (0, Action::Deny));
        assert_eq!(v.slot as usize, p.default_slot(false));
        // Inside one segment: allowed by default.
        let v = p.classify(&flow(17, "10.1.0.5", "10.1.0.6", 53, 1000, 1000));
        assert_eq!((v.rule.id, v.rule.action), (0, Action::Allow));
        // IPv6 members match IPv6 flows only.
        let v = p.classify(&flow(6, "fd10::5", "fd90::7", 22, 1000, 9000));
        assert_eq!(v.rule.id, 10);
        let v = p.classify(&flow(6, "fd10::5", "fd91::7", 22, 1000, 9000));
        assert_eq!(v.rule.id, 0);
    }

    #[test]
    fn priority_beats_file_order_and_ties_keep_it() {
        let cfg = policy(vec![
            rule(1, 10, Protocol::Tcp, vec![], Action::Deny),
            rule(2, 90, Protocol::Tcp, vec![(22, 22)], Action::Allow),
            rule(3, 90, Protocol::Tcp, vec![(22, 22)], Action::Deny),
        ]);
        let p = PolicySet::build(&cfg, 1, 1, false).unwrap();
        assert_eq!(
            p.classify(&flow(6, "10.1.0.5", "10.90.0.7", 22, 1000, 9000))
                .rule
                .id,
            2
        );
        assert_eq!(
            p.classify(&flow(6, "10.1.0.5", "10.90.0.7", 23, 1000, 9000))
                .rule
                .id,
            1
        );
    }

    #[test]
    fn icmp_means_icmpv6_for_ipv6() {
        let cfg = policy(vec![rule(5, 1, Protocol::Icmp, vec![], Action::Allow)]);
        let p = PolicySet::build(&cfg, 1, 1, false).unwrap();
        assert_eq!(
            p.classify(&flow(1, "10.1.0.5", "10.90.0.7", 0, 1000, 9000))
                .rule
                .id,
            5
        );
        assert_eq!(
            p.classify(&flow(58, "fd10::5", "fd90::7", 0, 1000, 9000))
                .rule
                .id,
            5
        );
        assert_eq!(
            p.classify(&flow(58, "10.1.0.5", "10.90.0.7", 0, 1000, 9000))
                .rule
                .id,
            0
        );
    }

    #[test]
    fn limits_are_split_across_workers() {
        let p = PolicySet::build(&policy(vec![]), 1, 3, false).unwrap();
        assert_eq!((p.worker_sessions, p.tenant_sessions), (334, 34));
        assert_eq!(p.timeouts.udp, 600 * TICKS_PER_SECOND);
    }

    #[test]
    fn ipv6_prefix_words() {
        let e = entry_v6(
            &Common {
                proto: FieldMatch::default(),
                src_vni: None,
                dst_vni: None,
                ports: (0, 0),
            },
            (
                u128::from("fd90:1:2:3::".parse::<std::net::Ipv6Addr>().unwrap()),
                40,
            ),
            (0, 0),
            1,
            1,
        );
        assert_eq!(
            e.fields[3],
            FieldMatch {
                value: 0xfd90_0001,
                mask_range: 32
            }
        );
        assert_eq!(
            e.fields[4],
            FieldMatch {
                value: 0x0002_0003,
                mask_range: 8
            }
        );
        assert_eq!(e.fields[5].mask_range, 0);
    }
}
