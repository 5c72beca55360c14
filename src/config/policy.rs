//! `[policy]`, `[[policy.group]]` and `[[policy.rule]]`: the stateful firewall between (and
//! inside) tenant segments (docs/SECURITY.md).

use std::collections::HashSet;
use std::net::SocketAddr;

use super::schema;
use super::validate::{int, prefix, vni_id};
use super::{ConfigError, IpCidr, VniConfig};
use crate::wire::Vni;

/// The validated policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyConfig {
    /// What happens to a flow no rule matches, between two different segments (VNIs) ...
    pub default_between: Action,
    /// ... and inside one.
    pub default_within: Action,
    pub groups: Vec<GroupConfig>,
    /// In file order; the classifier orders them by priority.
    pub rules: Vec<RuleConfig>,
    /// Sessions the whole gateway tracks (each worker its share).
    pub max_sessions: u32,
    /// Sessions one tenant (a VRF, or a VNI outside any VRF) may hold, the gateway over.
    pub tenant_max_sessions: u32,
    /// Whether flows denied by the default action are logged (rules say it themselves).
    pub log_default_deny: bool,
    pub timeouts: SessionTimeouts,
    /// IPFIX collectors the connection log goes to.
    pub ipfix: Vec<SocketAddr>,
    /// Seconds between IPFIX template retransmissions (RFC 7011 §8.4, UDP).
    pub ipfix_template_refresh: u32,
    /// Seconds between interim reports of a live session (its counts so far, in the live
    /// view and as IPFIX interim records; NetFlow's active timeout); 0: none.
    pub ipfix_interim: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Allow,
    Deny,
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Action::Allow => "allow",
            Action::Deny => "deny",
        })
    }
}

/// Idle timeouts, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimeouts {
    pub tcp_established: u32,
    /// Opening (half-open) TCP connections.
    pub tcp_transient: u32,
    /// After FIN from both sides or a RST.
    pub tcp_closed: u32,
    pub udp: u32,
    /// ICMP and other protocols.
    pub other: u32,
}

impl Default for SessionTimeouts {
    /// VPP acl-plugin's values, with a short close timeout as Linux conntrack's.
    fn default() -> Self {
        SessionTimeouts {
            tcp_established: 24 * 3600,
            tcp_transient: 120,
            tcp_closed: 10,
            udp: 600,
            other: 60,
        }
    }
}

/// A named set of endpoints: each member is a VNI, a prefix, or a prefix in a VNI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConfig {
    pub name: String,
    pub members: Vec<Member>,
}

/// An endpoint set: `vni` None is any VNI, `prefix` None any address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    pub vni: Option<Vni>,
    pub prefix: Option<IpCidr>,
}

/// The endpoints a rule names: a group, or anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupRef {
    Any,
    Group(String),
}

impl std::fmt::Display for GroupRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GroupRef::Any => f.write_str("any"),
            GroupRef::Group(g) => f.write_str(g),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Any,
    Tcp,
    Udp,
    /// ICMP for IPv4, ICMPv6 for IPv6.
    Icmp,
}

impl Protocol {
    pub fn has_ports(self) -> bool {
        matches!(self, Protocol::Tcp | Protocol::Udp)
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Protocol::Any => "any",
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Icmp => "icmp",
        })
    }
}

/// `[[policy.rule]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleConfig {
    /// The operator's id: in metrics, logs and IPFIX records.
    pub id: u32,
    /// Higher first; equal priorities in file order.
    pub priority: u32,
    pub from: GroupRef,
    pub to: GroupRef,
    pub protocol: Protocol,
    /// Destination ports, inclusive ranges; empty is any.
    pub ports: Vec<(u16, u16)>,
    pub action: Action,
    /// An allowed flow opens a session its replies match (default for allow rules).
    pub stateful: bool,
    pub log: bool,
}

/// The highest rule priority (rte_acl needs room below its own limit for the tie-break).
pub const MAX_PRIORITY: u32 = 65_535;
/// Sessions when `max_sessions` is not given.
pub const DEFAULT_MAX_SESSIONS: u32 = 262_144;

pub(super) fn section(p: &schema::Policy, vnis: &[VniConfig]) -> Result<PolicyConfig, ConfigError> {
    let action = |key: &str, v: Option<&str>, default: Action| match v {
        None => Ok(default),
        Some("allow") => Ok(Action::Allow),
        Some("deny") => Ok(Action::Deny),
        Some(other) => Err(ConfigError::invalid(
            key,
            format!("{other:?} is not an action: \"allow\" or \"deny\""),
        )),
    };
    let default_between = action(
        "policy.default_between",
        p.default_between.as_deref(),
        Action::Deny,
    )?;
    let default_within = action(
        "policy.default_within",
        p.default_within.as_deref(),
        Action::Allow,
    )?;
    let max_sessions: u32 = p.max_sessions.map_or(Ok(DEFAULT_MAX_SESSIONS), |v| {
        int("policy.max_sessions", v, 1..=16_777_216)
    })?;
    let tenant_max_sessions: u32 = p.tenant_max_sessions.map_or(Ok(max_sessions), |v| {
        int("policy.tenant_max_sessions", v, 1..=i64::from(max_sessions))
    })?;
    let t = &p.timeouts;
    let d = SessionTimeouts::default();
    let secs = |key: &str, v: Option<i64>, default: u32| {
        v.map_or(Ok(default), |v| {
            int(&format!("policy.timeouts.{key}"), v, 1..=7 * 24 * 3600)
        })
    };
    let timeouts = SessionTimeouts {
        tcp_established: secs("tcp_established", t.tcp_established, d.tcp_established)?,
        tcp_transient: secs("tcp_transient", t.tcp_transient, d.tcp_transient)?,
        tcp_closed: secs("tcp_closed", t.tcp_closed, d.tcp_closed)?,
        udp: secs("udp", t.udp, d.udp)?,
        other: secs("other", t.other, d.other)?,
    };
    let mut ipfix = Vec::with_capacity(p.ipfix.len());
    for (i, c) in p.ipfix.iter().enumerate() {
        let addr: SocketAddr = c.parse().map_err(|_| {
            ConfigError::invalid(
                format!("policy.ipfix[{i}]"),
                format!("{c:?} is not a collector address like 192.0.2.10:4739"),
            )
        })?;
        if addr.port() == 0 || addr.ip().is_unspecified() || addr.ip().is_multicast() {
            return Err(ConfigError::invalid(
                format!("policy.ipfix[{i}]"),
                format!("{addr} cannot be a collector"),
            ));
        }
        ipfix.push(addr);
    }
    let ipfix_template_refresh = p.ipfix_template_refresh.map_or(Ok(60), |v| {
        int("policy.ipfix_template_refresh", v, 1..=3600)
    })?;
    let ipfix_interim = p
        .ipfix_interim
        .map_or(Ok(60), |v| int("policy.ipfix_interim", v, 0..=86_400))?;

    let mut groups: Vec<GroupConfig> = Vec::with_capacity(p.group.len());
    for (i, g) in p.group.iter().enumerate() {
        groups.push(group(&format!("policy.group[{i}]"), g, &groups, vnis)?);
    }
    let max = crate::dataplane::counters::MAX_POLICY_RULES;
    if p.rule.len() > max {
        return Err(ConfigError::invalid(
            format!("policy.rule[{max}]"),
            format!("at most {max} rules"),
        ));
    }
    let mut rules = Vec::with_capacity(p.rule.len());
    let mut ids = HashSet::new();
    for (i, r) in p.rule.iter().enumerate() {
        let key = format!("policy.rule[{i}]");
        let rule = rule(&key, r, &groups)?;
        if !ids.insert(rule.id) {
            return Err(ConfigError::invalid(
                format!("{key}.id"),
                format!("rule id {} is already used", rule.id),
            ));
        }
        rules.push(rule);
    }
    let cfg = PolicyConfig {
        default_between,
        default_within,
        groups,
        rules,
        max_sessions,
        tenant_max_sessions,
        log_default_deny: p.log_default_deny.unwrap_or(true),
        timeouts,
        ipfix,
        ipfix_template_refresh,
        ipfix_interim,
    };
    // What the classifier will be given: built here too (without rte_acl), so a policy
    // that expands beyond the classifier's limits is refused with the file, not at start.
    crate::tables::policy::PolicySet::build(&cfg, 0, 1, false)
        .map_err(|e| ConfigError::invalid("policy.rule", e.to_string()))?;
    Ok(cfg)
}

fn group(
    key: &str,
    g: &schema::PolicyGroup,
    before: &[GroupConfig],
    vnis: &[VniConfig],
) -> Result<GroupConfig, ConfigError> {
    let name_ok = !g.name.is_empty()
        && g.name.len() <= 32
        && g.name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !name_ok {
        return Err(ConfigError::invalid(
            format!("{key}.name"),
            format!(
                "{:?} is not a usable group name (1 to 32 of letters, digits, '-', '_')",
                g.name
            ),
        ));
    }
    if g.name == "any" {
        return Err(ConfigError::invalid(
            format!("{key}.name"),
            "\"any\" is reserved: it stands for every endpoint",
        ));
    }
    if before.iter().any(|b| b.name == g.name) {
        return Err(ConfigError::invalid(
            format!("{key}.name"),
            format!("group {:?} is defined twice", g.name),
        ));
    }
    if g.vnis.is_empty() && g.prefixes.is_empty() {
        return Err(ConfigError::invalid(
            key,
            "an empty group: give vnis, prefixes or both",
        ));
    }
    let mut in_vnis = Vec::with_capacity(g.vnis.len());
    for (j, v) in g.vnis.iter().enumerate() {
        let k = format!("{key}.vnis[{j}]");
        let id = vni_id(&k, *v)?;
        if !vnis.iter().any(|c| c.id == id) {
            return Err(ConfigError::invalid(
                k,
                format!("VNI {id} is not configured"),
            ));
        }
        in_vnis.push(Some(id));
    }
    if in_vnis.is_empty() {
        in_vnis.push(None);
    }
    let mut prefixes = Vec::with_capacity(g.prefixes.len());
    for (j, s) in g.prefixes.iter().enumerate() {
        let k = format!("{key}.prefixes[{j}]");
        let c = prefix(&k, s)?;
        if c.network() != c {
            return Err(ConfigError::invalid(
                k,
                format!("{s} has host bits set: did you mean {}?", c.network()),
            ));
        }
        prefixes.push(Some(c));
    }
    if prefixes.is_empty() {
        prefixes.push(None);
    }
    let members = in_vnis
        .iter()
        .flat_map(|v| {
            prefixes.iter().map(|p| Member {
                vni: *v,
                prefix: *p,
            })
        })
        .collect();
    Ok(GroupConfig {
        name: g.name.clone(),
        members,
    })
}

fn rule(
    key: &str,
    r: &schema::PolicyRule,
    groups: &[GroupConfig],
) -> Result<RuleConfig, ConfigError> {
    let id: u32 = int(&format!("{key}.id"), r.id, 1..=i64::from(u32::MAX))?;
    let priority: u32 = r.priority.map_or(Ok(100), |v| {
        int(&format!("{key}.priority"), v, 0..=i64::from(MAX_PRIORITY))
    })?;
    let group_ref = |field: &str, name: &str| {
        if name == "any" {
            Ok(GroupRef::Any)
        } else if groups.iter().any(|g| g.name == name) {
            Ok(GroupRef::Group(name.to_owned()))
        } else {
            Err(ConfigError::invalid(
                format!("{key}.{field}"),
                format!("no [[policy.group]] is named {name:?}"),
            ))
        }
    };
    let from = group_ref("from", &r.from)?;
    let to = group_ref("to", &r.to)?;
    let protocol = match r.proto.as_deref() {
        None | Some("any") => Protocol::Any,
        Some("tcp") => Protocol::Tcp,
        Some("udp") => Protocol::Udp,
        Some("icmp") => Protocol::Icmp,
        Some(other) => {
            return Err(ConfigError::invalid(
                format!("{key}.proto"),
                format!("{other:?} is not a protocol: \"tcp\", \"udp\", \"icmp\" or \"any\""),
            ))
        }
    };
    if !r.ports.is_empty() && !protocol.has_ports() {
        return Err(ConfigError::invalid(
            format!("{key}.ports"),
            format!("protocol {protocol} has no ports: use proto = \"tcp\" or \"udp\""),
        ));
    }
    let mut ports = Vec::with_capacity(r.ports.len());
    for (j, p) in r.ports.iter().enumerate() {
        ports.push(port_range(&format!("{key}.ports[{j}]"), p)?);
    }
    let action = match r.action.as_str() {
        "allow" => Action::Allow,
        "deny" => Action::Deny,
        other => {
            return Err(ConfigError::invalid(
                format!("{key}.action"),
                format!("{other:?} is not an action: \"allow\" or \"deny\""),
            ))
        }
    };
    if action == Action::Deny && r.stateful == Some(true) {
        return Err(ConfigError::invalid(
            format!("{key}.stateful"),
            "a deny rule opens no session",
        ));
    }
    Ok(RuleConfig {
        id,
        priority,
        from,
        to,
        protocol,
        ports,
        action,
        stateful: action == Action::Allow && r.stateful.unwrap_or(true),
        log: r.log.unwrap_or(false),
    })
}

fn port_range(key: &str, p: &schema::PortSpec) -> Result<(u16, u16), ConfigError> {
    let bad = |s: &str| {
        ConfigError::invalid(
            key,
            format!("{s:?} is not a port or range like 22 or \"6000-6010\""),
        )
    };
    match p {
        schema::PortSpec::One(n) => {
            let n: u16 = int(key, *n, 1..=65535)?;
            Ok((n, n))
        }
        schema::PortSpec::Range(s) => {
            let (lo, hi) = match s.split_once('-') {
                Some((lo, hi)) => (lo.trim(), hi.trim()),
                None => (s.trim(), s.trim()),
            };
            let lo: u16 = lo.parse().map_err(|_| bad(s))?;
            let hi: u16 = hi.parse().map_err(|_| bad(s))?;
            if lo == 0 || lo > hi {
                return Err(ConfigError::invalid(
                    key,
                    format!("{s:?}: a range runs from 1..=65535 upwards"),
                ));
            }
            Ok((lo, hi))
        }
    }
}
