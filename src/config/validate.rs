//! From the file's text to a `Config`: every rule, every error naming its key.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::ops::RangeInclusive;

use super::schema::{self, Dscp, File};
use super::{
    AccessConfig, Config, ConfigError, Control, DscpPolicy, Encap, EvpnConfig, FdbDest,
    GatewayConfig, IpCidr, Mode, QosConfig, StaticArp, StaticFdb, TablesConfig, UnderlayConfig,
    VniConfig, WorkersConfig, MAX_VXLAN_PORTS,
};
use crate::wire::{MacAddr, Vni};

/// NVGRE reserves VSIDs 0..=0xfff and 0xffffff (RFC 7637 §3.2).
const NVGRE_VSIDS: RangeInclusive<i64> = 0x1000..=0xff_fffe;
const VXLAN_VNIS: RangeInclusive<i64> = 1..=0xff_ffff;

/// Parses and validates configuration text.
pub fn parse(text: &str) -> Result<Config, ConfigError> {
    let file: File = deserialize(text)?;
    validate(file)
}

fn deserialize(text: &str) -> Result<File, ConfigError> {
    let de = toml::Deserializer::new(text);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let line = inner
            .span()
            .map(|s| text.get(..s.start).unwrap_or("").matches('\n').count() + 1);
        let message = inner.message().replace('\n', " ");
        let key = match (path.as_str(), line) {
            (".", Some(line)) | ("", Some(line)) => format!("line {line}"),
            (_, Some(line)) => format!("{path} (line {line})"),
            (_, None) => path,
        };
        ConfigError::invalid(key, message.trim().to_owned())
    })
}

fn validate(file: File) -> Result<Config, ConfigError> {
    let workers = workers(&file.workers)?;
    let tables = tables(&file.tables)?;
    let api = api(&file.api)?;
    let mode = match (file.xconnect, file.underlay) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::invalid(
                "xconnect",
                "a cross-connect cannot be combined with [underlay]: choose one mode",
            ))
        }
        (Some(x), None) => {
            let gateway_keys = [
                ("access", file.access.is_empty()),
                ("vni", file.vni.is_empty()),
                ("fdb", file.fdb.is_empty()),
                ("arp", file.arp.is_empty()),
                ("evpn", file.evpn.is_none()),
                ("routing", file.routing.is_none()),
                ("vrf", file.vrf.is_empty()),
                ("route", file.route.is_empty()),
                ("policy", file.policy.is_none()),
                ("qos", file.qos.is_none()),
            ];
            if let Some((key, _)) = gateway_keys.iter().find(|(_, empty)| !empty) {
                return Err(ConfigError::invalid(
                    *key,
                    "gateway tables need [underlay]; a cross-connect takes only [xconnect]",
                ));
            }
            xconnect(x)?
        }
        (None, Some(u)) => {
            let mut g = gateway(
                u,
                file.access,
                file.vni,
                file.fdb,
                file.arp,
                file.evpn.as_ref(),
                (file.routing.as_ref(), &file.vrf, &file.route),
                file.policy.as_ref(),
            )?;
            g.qos = file
                .qos
                .as_ref()
                .map(super::qos::section)
                .transpose()?
                .unwrap_or_default();
            Mode::Gateway(g)
        }
        (None, None) => {
            return Err(ConfigError::invalid(
                "underlay",
                "missing: a gateway needs [underlay] (or use [xconnect] for a cross-connect)",
            ))
        }
    };
    Ok(Config {
        mode,
        workers,
        tables,
        api,
    })
}

fn api(a: &schema::Api) -> Result<super::ApiConfig, ConfigError> {
    if a.enabled == Some(false) {
        if a.listen.is_some() || a.token.is_some() || a.token_file.is_some() {
            return Err(ConfigError::invalid(
                "api.enabled",
                "the API is disabled, so listen/token/token_file would be ignored: remove them",
            ));
        }
        return Ok(super::ApiConfig {
            listen: None,
            token: None,
        });
    }
    let listen = match a.listen.as_deref() {
        None => super::ApiConfig::default().listen,
        Some(l) => Some(l.parse::<std::net::SocketAddr>().map_err(|_| {
            ConfigError::invalid(
                "api.listen",
                format!("{l:?} is not an address:port like 127.0.0.1:8179 or [::1]:8179"),
            )
        })?),
    };
    let token = match (&a.token, &a.token_file) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::invalid(
                "api.token",
                "give either token or token_file, not both",
            ))
        }
        (Some(t), None) => Some(t.trim().to_owned()),
        (None, Some(path)) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| ConfigError::invalid("api.token_file", format!("{path}: {e}")))?
                .trim()
                .to_owned(),
        ),
        (None, None) => None,
    };
    if let Some(t) = &token {
        if t.len() < 16 {
            return Err(ConfigError::invalid(
                "api.token",
                "too short: use at least 16 characters (e.g. `openssl rand -hex 16`)",
            ));
        }
        if !t.chars().all(|c| c.is_ascii_graphic()) {
            return Err(ConfigError::invalid(
                "api.token",
                "only printable ASCII without spaces is allowed",
            ));
        }
    }
    if let Some(addr) = listen {
        if !addr.ip().is_loopback() && token.is_none() {
            return Err(ConfigError::invalid(
                "api.listen",
                format!("{addr} is reachable from the network: set api.token or api.token_file"),
            ));
        }
    }
    Ok(super::ApiConfig { listen, token })
}

fn xconnect(x: schema::Xconnect) -> Result<Mode, ConfigError> {
    let ports: Vec<String> = x
        .ports
        .into_iter()
        .map(schema::PortRef::into_name)
        .collect();
    match <[String; 2]>::try_from(ports) {
        Ok([a, b]) if a == b => Err(ConfigError::invalid(
            "xconnect.ports",
            format!("both entries name port {a:?}; give two different ports"),
        )),
        Ok(ports) => Ok(Mode::CrossConnect { ports }),
        Err(v) => Err(ConfigError::invalid(
            "xconnect.ports",
            format!("needs exactly two ports, got {}", v.len()),
        )),
    }
}

pub(super) fn int<T: TryFrom<i64>>(
    key: &str,
    v: i64,
    range: RangeInclusive<i64>,
) -> Result<T, ConfigError> {
    if !range.contains(&v) {
        return Err(ConfigError::invalid(
            key,
            format!("{v} is out of range {}..={}", range.start(), range.end()),
        ));
    }
    T::try_from(v).map_err(|_| ConfigError::invalid(key, format!("{v} is out of range")))
}

pub(super) fn ip(key: &str, s: &str) -> Result<IpAddr, ConfigError> {
    s.parse()
        .map_err(|_| ConfigError::invalid(key, format!("{s:?} is not an IPv4 or IPv6 address")))
}

fn mac(key: &str, s: &str) -> Result<MacAddr, ConfigError> {
    s.parse()
        .map_err(|e: crate::wire::ethernet::ParseMacError| ConfigError::invalid(key, e.to_string()))
}

pub(super) fn unicast_mac(key: &str, s: &str) -> Result<MacAddr, ConfigError> {
    let m = mac(key, s)?;
    if !m.is_unicast() {
        return Err(ConfigError::invalid(
            key,
            format!("{m} is not a unicast MAC address"),
        ));
    }
    Ok(m)
}

pub(super) fn cidr(key: &str, s: &str) -> Result<IpCidr, ConfigError> {
    let c = prefix(key, s)?;
    if c.addr.is_unspecified() || c.addr.is_multicast() {
        return Err(ConfigError::invalid(
            key,
            format!("{} cannot be a VTEP address", c.addr),
        ));
    }
    Ok(c)
}

/// An address or prefix with its length, as in `10.0.0.1/24` or `0.0.0.0/0`.
pub(super) fn prefix(key: &str, s: &str) -> Result<IpCidr, ConfigError> {
    let bad = || {
        ConfigError::invalid(
            key,
            format!("{s:?} is not an address with prefix length, like 10.0.0.1/24 or fd00::1/64"),
        )
    };
    let (addr, prefix) = s.split_once('/').ok_or_else(bad)?;
    let addr: IpAddr = addr.parse().map_err(|_| bad())?;
    let prefix: u8 = prefix.parse().map_err(|_| bad())?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    if prefix > max {
        return Err(ConfigError::invalid(
            key,
            format!("prefix length {prefix} is longer than {max}"),
        ));
    }
    Ok(IpCidr { addr, prefix })
}

pub(super) fn vni_id(key: &str, v: i64) -> Result<Vni, ConfigError> {
    let v: u32 = int(key, v, VXLAN_VNIS)?;
    Vni::new(v).ok_or_else(|| ConfigError::invalid(key, format!("{v} does not fit in 24 bits")))
}

#[allow(clippy::too_many_arguments)] // one per section of the file
fn gateway(
    u: schema::Underlay,
    access: Vec<schema::Access>,
    vnis: Vec<schema::Vni>,
    fdb: Vec<schema::Fdb>,
    arp: Vec<schema::Arp>,
    evpn_section: Option<&schema::Evpn>,
    (routing_section, vrfs, routes): (Option<&schema::Routing>, &[schema::Vrf], &[schema::Route]),
    policy_section: Option<&schema::Policy>,
) -> Result<GatewayConfig, ConfigError> {
    let underlay = underlay(u)?;
    let section = evpn_section.map(super::evpn::section).transpose()?;
    let mut routing = super::routing::section(routing_section, vrfs, routes, &underlay)?;

    let mut ports_seen: HashMap<String, String> = HashMap::new();
    ports_seen.insert(underlay.port.clone(), "underlay.port".into());

    let mut vnis = vnis
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            vni(
                &format!("vni[{i}]"),
                v,
                &underlay,
                section.as_ref(),
                routing.as_ref(),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    // Each VNI against those before it, so the error names the later of the two.
    let all: Vec<&VniConfig> = vnis.iter().collect();
    for (i, v) in vnis.iter().enumerate() {
        let before = all.get(..i).unwrap_or(&[]);
        super::routing::check_overlap(&format!("vni[{i}]"), v, before)?;
        check_vxlan_ports(&format!("vni[{i}]"), v, before, &underlay)?;
    }
    if let Some(r) = routing.as_mut() {
        r.routes = super::routing::routes(routes, &vnis, r, &underlay)?;
    }
    vnis.extend(super::routing::l3vnis(routing.as_ref(), &vnis)?);
    if let Some(i) = vnis.iter().position(|v| v.control == Control::Evpn) {
        if underlay.source_v4().is_none() {
            return Err(ConfigError::invalid(
                format!("vni[{i}].control"),
                "EVPN needs an IPv4 address in underlay.addresses (FRR's EVPN VTEPs are IPv4)",
            ));
        }
    }
    // A VNI under EVPN control turns EVPN on with the default namespace.
    let evpn = section.or_else(|| {
        vnis.iter()
            .any(|v| v.control == Control::Evpn)
            .then(EvpnConfig::default)
    });
    let mut by_id: HashMap<Vni, usize> = HashMap::new();
    let mut by_vlan: HashMap<u16, Vni> = HashMap::new();
    for (i, v) in vnis.iter().enumerate() {
        if let Some(prev) = by_id.insert(v.id, i) {
            return Err(ConfigError::invalid(
                format!("vni[{i}].id"),
                format!("VNI {} is already defined by vni[{prev}]", v.id),
            ));
        }
        if let Some(vlan) = v.vlan {
            if let Some(other) = by_vlan.insert(vlan, v.id) {
                return Err(ConfigError::invalid(
                    format!("vni[{i}].vlan"),
                    format!("VLAN {vlan} is already mapped to VNI {other}"),
                ));
            }
        }
    }

    let l3_ids: HashSet<Vni> = vnis.iter().filter(|v| v.l3).map(|v| v.id).collect();
    let mut access_ports = Vec::with_capacity(access.len());
    for (i, a) in access.into_iter().enumerate() {
        let key = format!("access[{i}]");
        let port = a.port.into_name();
        if let Some(prev) = ports_seen.insert(port.clone(), format!("{key}.port")) {
            return Err(ConfigError::invalid(
                format!("{key}.port"),
                format!("port {port:?} is already used by {prev}"),
            ));
        }
        let untagged_vni = a
            .untagged_vni
            .map(|v| {
                let k = format!("{key}.untagged_vni");
                let id = vni_id(&k, v)?;
                if l3_ids.contains(&id) {
                    Err(ConfigError::invalid(k, l3_refusal(id)))
                } else if by_id.contains_key(&id) {
                    Ok(id)
                } else {
                    Err(ConfigError::invalid(
                        k,
                        format!("VNI {id} is not defined in [[vni]]"),
                    ))
                }
            })
            .transpose()?;
        let mtu = a
            .mtu
            .map(|m| int(&format!("{key}.mtu"), m, 68..=9600))
            .transpose()?;
        access_ports.push(AccessConfig {
            port,
            untagged_vni,
            mtu,
        });
    }
    if access_ports.is_empty() {
        return Err(ConfigError::invalid(
            "access",
            "a gateway needs at least one [[access]] port",
        ));
    }
    for (i, v) in vnis.iter().enumerate() {
        // A routed VNI is reached through the gateway: its hosts may all be remote.
        let reachable = v.vlan.is_some()
            || v.vrf.is_some()
            || access_ports.iter().any(|a| a.untagged_vni == Some(v.id));
        if !reachable {
            return Err(ConfigError::invalid(
                format!("vni[{i}]"),
                format!(
                    "VNI {} has no `vlan`, no `vrf` and no access port has it as \
                     `untagged_vni`: nothing could reach it",
                    v.id
                ),
            ));
        }
    }

    let known_vni = |key: &str, v: i64| -> Result<Vni, ConfigError> {
        let id = vni_id(key, v)?;
        if l3_ids.contains(&id) {
            return Err(ConfigError::invalid(key, l3_refusal(id)));
        }
        if by_id.contains_key(&id) {
            Ok(id)
        } else {
            Err(ConfigError::invalid(
                key,
                format!("VNI {id} is not defined in [[vni]]"),
            ))
        }
    };

    let mut static_fdb = Vec::with_capacity(fdb.len());
    let mut fdb_keys = HashSet::new();
    for (i, f) in fdb.into_iter().enumerate() {
        let key = format!("fdb[{i}]");
        let entry = fdb_entry(&key, f, &known_vni, &underlay, &access_ports)?;
        if !fdb_keys.insert((entry.vni, entry.mac)) {
            return Err(ConfigError::invalid(
                format!("{key}.mac"),
                format!(
                    "{} in VNI {} is already a static entry",
                    entry.mac, entry.vni
                ),
            ));
        }
        if routing.as_ref().is_some_and(|r| r.gateway_mac == entry.mac) {
            return Err(ConfigError::invalid(
                format!("{key}.mac"),
                format!(
                    "{} is the anycast gateway MAC ([routing] gateway_mac)",
                    entry.mac
                ),
            ));
        }
        static_fdb.push(entry);
    }

    let mut static_arp = Vec::with_capacity(arp.len());
    let mut arp_keys = HashSet::new();
    for (i, a) in arp.into_iter().enumerate() {
        let key = format!("arp[{i}]");
        let entry = arp_entry(&key, a, &known_vni)?;
        if !arp_keys.insert((entry.vni, entry.ip)) {
            return Err(ConfigError::invalid(
                format!("{key}.ip"),
                format!("{} in VNI {} is already bound", entry.ip, entry.vni),
            ));
        }
        static_arp.push(entry);
    }

    let policy = policy_section
        .map(|p| super::policy::section(p, &vnis))
        .transpose()?
        .map(Box::new);
    Ok(GatewayConfig {
        underlay,
        access: access_ports,
        vnis,
        fdb: static_fdb,
        arp: static_arp,
        evpn,
        routing: routing.map(Box::new),
        policy,
        qos: QosConfig::default(),
    })
}

/// One static MAC entry; `known_vni` checks the VNI exists.
fn fdb_entry(
    key: &str,
    f: schema::Fdb,
    known_vni: &dyn Fn(&str, i64) -> Result<Vni, ConfigError>,
    underlay: &UnderlayConfig,
    access_ports: &[AccessConfig],
) -> Result<StaticFdb, ConfigError> {
    let vni = known_vni(&format!("{key}.vni"), f.vni)?;
    let mac = unicast_mac(&format!("{key}.mac"), &f.mac)?;
    let dest = match (f.remote, f.port) {
        (Some(r), None) => {
            let k = format!("{key}.remote");
            let r = ip(&k, &r)?;
            check_remote(&k, r, underlay)?;
            FdbDest::Remote(r)
        }
        (None, Some(p)) => {
            let p = p.into_name();
            if !access_ports.iter().any(|a| a.port == p) {
                return Err(ConfigError::invalid(
                    format!("{key}.port"),
                    format!("{p:?} is not an [[access]] port"),
                ));
            }
            FdbDest::Access(p)
        }
        _ => {
            return Err(ConfigError::invalid(
                key,
                "give exactly one of `remote` (a VTEP address) or `port` (an access port)",
            ))
        }
    };
    Ok(StaticFdb { vni, mac, dest })
}

/// One static IP→MAC binding.
fn arp_entry(
    key: &str,
    a: schema::Arp,
    known_vni: &dyn Fn(&str, i64) -> Result<Vni, ConfigError>,
) -> Result<StaticArp, ConfigError> {
    let vni = known_vni(&format!("{key}.vni"), a.vni)?;
    let ip_key = format!("{key}.ip");
    let addr = ip(&ip_key, &a.ip)?;
    if addr.is_multicast() || addr.is_unspecified() {
        return Err(ConfigError::invalid(
            ip_key,
            format!("{addr} is not a host address"),
        ));
    }
    let mac = unicast_mac(&format!("{key}.mac"), &a.mac)?;
    Ok(StaticArp { vni, ip: addr, mac })
}

/// Deserializes one table entry from JSON (an API request body) with the file's rules:
/// unknown fields refused, errors naming the field under `key`.
fn from_json<T: serde::de::DeserializeOwned>(
    key: &str,
    value: serde_json::Value,
) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            key.to_owned()
        } else {
            format!("{key}.{path}")
        };
        ConfigError::invalid(field, e.into_inner().to_string())
    })
}

/// That `v`'s UDP port, with those of `others` (but a VNI of the same id: the one `v`
/// replaces) and the underlay's, makes no more than the gateway receives on at once.
fn check_vxlan_ports(
    key: &str,
    v: &VniConfig,
    others: &[&VniConfig],
    underlay: &UnderlayConfig,
) -> Result<(), ConfigError> {
    let Some(port) = v.vxlan_port else {
        return Ok(());
    };
    let mut ports = vec![underlay.vxlan_port];
    for o in others.iter().filter(|o| o.id != v.id) {
        if let Some(p) = o.vxlan_port {
            if !ports.contains(&p) {
                ports.push(p);
            }
        }
    }
    if ports.contains(&port) || ports.len() < MAX_VXLAN_PORTS {
        return Ok(());
    }
    ports.sort_unstable();
    Err(ConfigError::invalid(
        format!("{key}.vxlan_port"),
        format!(
            "{port}: at most {MAX_VXLAN_PORTS} VXLAN UDP ports at once, and {ports:?} are in use"
        ),
    ))
}

/// A VNI given as JSON (the API's `POST /api/v1/vnis`), checked like a `[[vni]]` table of
/// `existing`'s file.
pub fn vni_from_json(
    value: serde_json::Value,
    existing: &GatewayConfig,
) -> Result<VniConfig, ConfigError> {
    let v = vni(
        "vni",
        from_json("vni", value)?,
        &existing.underlay,
        existing.evpn.as_ref(),
        existing.routing.as_deref(),
    )?;
    let others: Vec<&VniConfig> = existing.vnis.iter().collect();
    super::routing::check_overlap("vni", &v, &others)?;
    check_vxlan_ports("vni", &v, &others, &existing.underlay)?;
    if let Some(r) = existing.routing.as_deref() {
        super::routing::check_against_routes("vni", &v, &r.routes)?;
    }
    if v.control == Control::Evpn && existing.evpn.is_none() {
        // The namespace is set up at start: EVPN cannot be switched on by a call.
        return Err(ConfigError::invalid(
            "vni.control",
            "EVPN is not running in this vtepd (no [evpn] and no EVPN VNI at start)",
        ));
    }
    Ok(v)
}

/// A static MAC entry given as JSON, checked like an `[[fdb]]` table against `existing`.
pub fn fdb_from_json(
    value: serde_json::Value,
    existing: &GatewayConfig,
) -> Result<StaticFdb, ConfigError> {
    let known = |k: &str, v: i64| known_vni_in(k, v, existing);
    fdb_entry(
        "fdb",
        from_json("fdb", value)?,
        &known,
        &existing.underlay,
        &existing.access,
    )
}

/// A static binding given as JSON, checked like an `[[arp]]` table against `existing`.
pub fn arp_from_json(
    value: serde_json::Value,
    existing: &GatewayConfig,
) -> Result<StaticArp, ConfigError> {
    let known = |k: &str, v: i64| known_vni_in(k, v, existing);
    arp_entry("arp", from_json("arp", value)?, &known)
}

fn known_vni_in(key: &str, v: i64, g: &GatewayConfig) -> Result<Vni, ConfigError> {
    let id = vni_id(key, v)?;
    match g.vnis.iter().find(|c| c.id == id) {
        Some(c) if c.l3 => Err(ConfigError::invalid(key, l3_refusal(id))),
        Some(_) => Ok(id),
        None => Err(ConfigError::invalid(
            key,
            format!("VNI {id} is not configured"),
        )),
    }
}

fn underlay(u: schema::Underlay) -> Result<UnderlayConfig, ConfigError> {
    if u.addresses.is_empty() {
        return Err(ConfigError::invalid(
            "underlay.addresses",
            "needs at least one local VTEP address, like \"10.0.0.1/24\"",
        ));
    }
    let mut addresses = Vec::with_capacity(u.addresses.len());
    for (i, a) in u.addresses.iter().enumerate() {
        let c = cidr(&format!("underlay.addresses[{i}]"), a)?;
        if addresses.iter().any(|p: &IpCidr| p.addr == c.addr) {
            return Err(ConfigError::invalid(
                format!("underlay.addresses[{i}]"),
                format!("{} is listed twice", c.addr),
            ));
        }
        addresses.push(c);
    }
    let has_v6 = addresses.iter().any(|c| c.addr.is_ipv6());

    let mut next_hops: Vec<IpAddr> = Vec::new();
    for (i, nh) in u
        .next_hop
        .map(schema::OneOrMany::into_vec)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let key = format!("underlay.next_hop[{i}]");
        let nh = ip(&key, nh)?;
        if !addresses.iter().any(|c| c.addr.is_ipv4() == nh.is_ipv4()) {
            return Err(ConfigError::invalid(
                key,
                format!("{nh}: the underlay has no local address of this family"),
            ));
        }
        if !addresses.iter().any(|c| c.contains(nh)) {
            return Err(ConfigError::invalid(
                key,
                format!("{nh} is not on a local subnet, so it cannot be a next hop"),
            ));
        }
        if next_hops.iter().any(|p| p.is_ipv4() == nh.is_ipv4()) {
            return Err(ConfigError::invalid(
                key,
                "only one next hop per address family",
            ));
        }
        next_hops.push(nh);
    }
    let next_hop_mac = u
        .next_hop_mac
        .as_deref()
        .map(|m| unicast_mac("underlay.next_hop_mac", m))
        .transpose()?;

    let min_mtu = if has_v6 { 1280 } else { 576 };
    let mtu = int("underlay.mtu", u.mtu.unwrap_or(1500), min_mtu..=9600)?;
    let vxlan_port = int(
        "underlay.vxlan_port",
        u.vxlan_port.unwrap_or(4789),
        1..=65535,
    )?;
    let ttl = int("underlay.ttl", u.ttl.unwrap_or(64), 1..=255)?;
    let dscp = match u.dscp {
        None => DscpPolicy::Inherit,
        Some(Dscp::Policy(p)) if p == "inherit" => DscpPolicy::Inherit,
        Some(Dscp::Policy(p)) => {
            return Err(ConfigError::invalid(
                "underlay.dscp",
                format!("{p:?}: expected \"inherit\" or a number 0..=63"),
            ))
        }
        Some(Dscp::Fixed(v)) => DscpPolicy::Fixed(int("underlay.dscp", v, 0..=63)?),
    };
    let source_ports = match u.source_port_range.as_deref() {
        None => (49152, 65535),
        Some([lo, hi]) => {
            let lo: u16 = int("underlay.source_port_range[0]", *lo, 1..=65535)?;
            let hi: u16 = int("underlay.source_port_range[1]", *hi, 1..=65535)?;
            if lo > hi {
                return Err(ConfigError::invalid(
                    "underlay.source_port_range",
                    format!("{lo} is above {hi}"),
                ));
            }
            (lo, hi)
        }
        Some(_) => {
            return Err(ConfigError::invalid(
                "underlay.source_port_range",
                "expected [low, high], like [49152, 65535]",
            ))
        }
    };
    let neighbor_timeout_secs = int(
        "underlay.neighbor_timeout_secs",
        u.neighbor_timeout_secs.unwrap_or(300),
        5..=86400,
    )?;
    Ok(UnderlayConfig {
        port: u.port.into_name(),
        addresses,
        next_hops,
        next_hop_mac,
        mtu,
        vxlan_port,
        ttl,
        dscp,
        source_ports,
        neighbor_timeout_secs,
    })
}

/// A remote VTEP must be reachable from a local address of its family, and not be local.
fn check_remote(key: &str, remote: IpAddr, underlay: &UnderlayConfig) -> Result<(), ConfigError> {
    if remote.is_multicast() || remote.is_unspecified() {
        return Err(ConfigError::invalid(
            key,
            format!("{remote} is not a unicast VTEP address"),
        ));
    }
    if underlay.is_local(remote) {
        return Err(ConfigError::invalid(
            key,
            format!("{remote} is one of this gateway's own addresses"),
        ));
    }
    if underlay.source_for(remote).is_none() {
        return Err(ConfigError::invalid(
            key,
            format!("{remote}: the underlay has no local address of this family"),
        ));
    }
    if underlay.next_hop_mac.is_none() && underlay.gateway_for(remote).is_none() {
        return Err(ConfigError::invalid(
            key,
            format!(
                "{remote} is not on a local subnet and no next_hop of its family is set \
                 (set underlay.next_hop or underlay.next_hop_mac)"
            ),
        ));
    }
    Ok(())
}

fn vni(
    key: &str,
    v: schema::Vni,
    underlay: &UnderlayConfig,
    evpn: Option<&EvpnConfig>,
    routing: Option<&super::RoutingConfig>,
) -> Result<VniConfig, ConfigError> {
    let (vrf, gateways) = super::routing::vni_keys(
        key,
        v.vrf.as_deref(),
        v.gateway.clone().map(schema::OneOrMany::into_vec),
        routing,
    )?;
    let encap = match v.encap.as_deref() {
        None | Some("vxlan") => Encap::Vxlan,
        Some("nvgre") => Encap::Nvgre,
        Some(other) => {
            return Err(ConfigError::invalid(
                format!("{key}.encap"),
                format!("{other:?}: expected \"vxlan\" or \"nvgre\""),
            ))
        }
    };
    let id_key = format!("{key}.id");
    let id = match encap {
        Encap::Vxlan => vni_id(&id_key, v.id)?,
        Encap::Nvgre => {
            let raw: u32 = int(&id_key, v.id, NVGRE_VSIDS).map_err(|_| {
                ConfigError::invalid(
                    &id_key,
                    format!(
                        "{} is not a usable NVGRE VSID (4096..=16777214; RFC 7637 reserves the rest)",
                        v.id
                    ),
                )
            })?;
            Vni::from_u24(raw)
        }
    };
    let vlan = v
        .vlan
        .map(|x| int(&format!("{key}.vlan"), x, 1..=4094))
        .transpose()?;
    let mut flood = Vec::with_capacity(v.flood.len());
    for (i, f) in v.flood.iter().enumerate() {
        let k = format!("{key}.flood[{i}]");
        let r = ip(&k, f)?;
        check_remote(&k, r, underlay)?;
        if flood.contains(&r) {
            return Err(ConfigError::invalid(k, format!("{r} is listed twice")));
        }
        flood.push(r);
    }
    let multicast_group = v
        .multicast_group
        .as_deref()
        .map(|g| {
            let k = format!("{key}.multicast_group");
            let g = ip(&k, g)?;
            if !g.is_multicast() {
                return Err(ConfigError::invalid(
                    k,
                    format!("{g} is not a multicast address"),
                ));
            }
            if underlay.source_for(g).is_none() {
                return Err(ConfigError::invalid(
                    k,
                    format!("{g}: the underlay has no local address of this family"),
                ));
            }
            Ok(g)
        })
        .transpose()?;
    if multicast_group.is_some() && !flood.is_empty() {
        return Err(ConfigError::invalid(
            format!("{key}.multicast_group"),
            "use either `flood` (head-end replication) or `multicast_group`, not both",
        ));
    }
    let allowed_vteps = v
        .allowed_vteps
        .map(|list| {
            list.iter()
                .enumerate()
                .map(|(i, a)| ip(&format!("{key}.allowed_vteps[{i}]"), a))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let max_macs = v
        .max_macs
        .map(|m| int(&format!("{key}.max_macs"), m, 1..=16_777_216))
        .transpose()?;
    let bum_rate_pps = v
        .bum_rate_pps
        .map(|r| int(&format!("{key}.bum_rate_pps"), r, 1..=1_000_000_000))
        .transpose()?;
    let vxlan_port = v
        .vxlan_port
        .map(|p| {
            let k = format!("{key}.vxlan_port");
            if encap != Encap::Vxlan {
                return Err(ConfigError::invalid(k, "only a VXLAN VNI has a UDP port"));
            }
            int(&k, p, 1..=65535)
        })
        .transpose()?
        // The underlay's port is written as the default it is.
        .filter(|&p| p != underlay.vxlan_port);
    let learn_only_from_flood = v.learn_only_from_flood.unwrap_or(false);
    if learn_only_from_flood && flood.is_empty() {
        return Err(ConfigError::invalid(
            format!("{key}.learn_only_from_flood"),
            "needs a `flood` list to learn from (a multicast VNI has no list of VTEPs)",
        ));
    }
    let control = super::evpn::control(
        key,
        v.control.as_deref(),
        encap,
        multicast_group.is_some(),
        learn_only_from_flood,
        evpn,
    )?;
    Ok(VniConfig {
        id,
        encap,
        vlan,
        flood,
        multicast_group,
        vxlan_port,
        control,
        learning: v.learning.unwrap_or(true),
        arp_suppression: v.arp_suppression.unwrap_or(false),
        allowed_vteps,
        max_macs,
        bum_rate_pps,
        learn_only_from_flood,
        vrf,
        gateways,
        l3: false,
    })
}

/// Why a VNI that is a VRF's L3VNI cannot be named where hosts are.
fn l3_refusal(id: Vni) -> String {
    format!("VNI {id} is an L3VNI ([[vrf]] l3vni): it carries routed packets, no hosts")
}

fn workers(w: &schema::Workers) -> Result<WorkersConfig, ConfigError> {
    let d = WorkersConfig::default();
    Ok(WorkersConfig {
        burst: int(
            "workers.burst",
            w.burst.unwrap_or(i64::from(d.burst)),
            1..=crate::dpdk::MAX_BURST as i64,
        )?,
        rx_desc: int(
            "workers.rx_desc",
            w.rx_desc.unwrap_or(i64::from(d.rx_desc)),
            32..=32768,
        )?,
        tx_desc: int(
            "workers.tx_desc",
            w.tx_desc.unwrap_or(i64::from(d.tx_desc)),
            32..=32768,
        )?,
        tx_drain_us: int(
            "workers.tx_drain_us",
            w.tx_drain_us.unwrap_or(i64::from(d.tx_drain_us)),
            1..=100_000,
        )?,
        mbufs: w
            .mbufs
            .map(|m| int("workers.mbufs", m, 1024..=16_777_216))
            .transpose()?,
        idle_sleep_us: int(
            "workers.idle_sleep_us",
            w.idle_sleep_us.unwrap_or(i64::from(d.idle_sleep_us)),
            0..=100_000,
        )?,
    })
}

fn tables(t: &schema::Tables) -> Result<TablesConfig, ConfigError> {
    let d = TablesConfig::default();
    Ok(TablesConfig {
        mac_age_secs: int(
            "tables.mac_age_secs",
            t.mac_age_secs.unwrap_or(i64::from(d.mac_age_secs)),
            1..=86_400 * 7,
        )?,
        fdb_capacity: int(
            "tables.fdb_capacity",
            t.fdb_capacity.unwrap_or(i64::from(d.fdb_capacity)),
            1024..=16_777_216,
        )?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GATEWAY: &str = r#"
[underlay]
port = "net_pcap1"
addresses = ["10.0.0.1/24", "fd00::1/64"]
next_hop = "10.0.0.254"
mtu = 1600

[[access]]
port = "net_pcap0"
untagged_vni = 5000

[[vni]]
id = 5000
vlan = 100
flood = ["10.0.0.2", "10.0.0.3"]
arp_suppression = true

[[vni]]
id = 6000
encap = "nvgre"
vlan = 200
multicast_group = "239.1.1.1"

[[fdb]]
vni = 5000
mac = "02:00:00:00:00:02"
remote = "10.0.0.2"

[[arp]]
vni = 5000
ip = "192.168.1.10"
mac = "02:00:00:00:00:02"
"#;

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn full_gateway_parses() {
        let c = parse(GATEWAY).unwrap();
        let Mode::Gateway(g) = &c.mode else {
            panic!("expected a gateway")
        };
        assert_eq!(g.underlay.mtu, 1600);
        assert_eq!(g.underlay.vxlan_port, 4789);
        assert_eq!(g.underlay.ttl, 64);
        assert_eq!(g.underlay.dscp, DscpPolicy::Inherit);
        assert_eq!(g.underlay.source_ports, (49152, 65535));
        assert_eq!(g.vnis.len(), 2);
        assert_eq!(g.vnis[1].encap, Encap::Nvgre);
        assert!(g.vnis[0].learning);
        assert_eq!(g.access[0].untagged_vni, Vni::new(5000));
        assert_eq!(g.fdb[0].dest, FdbDest::Remote("10.0.0.2".parse().unwrap()));
        assert_eq!(c.tables.mac_age_secs, 300);
        assert_eq!(c.workers.burst, 32);
        assert_eq!(c.ports(), vec!["net_pcap1", "net_pcap0"]);
    }

    #[test]
    fn cross_connect_parses() {
        let c = parse("[xconnect]\nports = [\"net_pcap0\", 1]\n").unwrap();
        assert_eq!(
            c.mode,
            Mode::CrossConnect {
                ports: ["net_pcap0".into(), "1".into()]
            }
        );
    }

    #[test]
    fn unknown_key_is_named() {
        let e = err("[xconnect]\nports = [\"a\", \"b\"]\nbogus = 1\n");
        assert!(
            e.starts_with("xconnect.bogus (line 3): unknown field `bogus`"),
            "{e}"
        );
        let e = err(&GATEWAY.replace("mtu = 1600", "mtu = 1600\nmtuu = 1"));
        assert!(e.starts_with("underlay.mtuu"), "{e}");
    }

    #[test]
    fn syntax_error_names_the_line() {
        let e = err("[xconnect\n");
        assert!(e.starts_with("line 1: "), "{e}");
        assert!(!e.contains('\n'));
    }

    #[test]
    fn wrong_type_is_named() {
        let e = err(&GATEWAY.replace("mtu = 1600", "mtu = \"big\""));
        assert!(e.starts_with("underlay.mtu"), "{e}");
    }

    #[test]
    fn bad_address_is_named() {
        let e = err(&GATEWAY.replace("\"10.0.0.3\"", "\"10.0.0.x\""));
        assert_eq!(
            e,
            "vni[0].flood[1]: \"10.0.0.x\" is not an IPv4 or IPv6 address"
        );
        let e = err(&GATEWAY.replace("10.0.0.1/24", "10.0.0.1"));
        assert!(e.starts_with("underlay.addresses[0]: "), "{e}");
        let e = err(&GATEWAY.replace("10.0.0.1/24", "10.0.0.1/33"));
        assert_eq!(
            e,
            "underlay.addresses[0]: prefix length 33 is longer than 32"
        );
    }

    #[test]
    fn ranges_are_enforced() {
        assert_eq!(
            err(&GATEWAY.replace("vlan = 100", "vlan = 4095")),
            "vni[0].vlan: 4095 is out of range 1..=4094"
        );
        assert_eq!(
            err(&GATEWAY.replace("id = 5000", "id = 16777216")),
            "vni[0].id: 16777216 is out of range 1..=16777215"
        );
        assert!(err(&GATEWAY.replace("id = 6000", "id = 100"))
            .starts_with("vni[1].id: 100 is not a usable NVGRE VSID"));
        assert_eq!(
            err(&GATEWAY.replace("mtu = 1600", "mtu = 1000")),
            "underlay.mtu: 1000 is out of range 1280..=9600"
        );
    }

    #[test]
    fn references_must_exist() {
        assert_eq!(
            err(&GATEWAY.replace("untagged_vni = 5000", "untagged_vni = 7000")),
            "access[0].untagged_vni: VNI 7000 is not defined in [[vni]]"
        );
        assert_eq!(
            err(&GATEWAY.replace("vni = 5000\nip", "vni = 42\nip")),
            "arp[0].vni: VNI 42 is not defined in [[vni]]"
        );
    }

    #[test]
    fn duplicates_are_refused() {
        assert_eq!(
            err(&GATEWAY.replace("vlan = 200", "vlan = 100")),
            "vni[1].vlan: VLAN 100 is already mapped to VNI 5000"
        );
        assert_eq!(
            err(&GATEWAY.replace("\"10.0.0.3\"", "\"10.0.0.2\"")),
            "vni[0].flood[1]: 10.0.0.2 is listed twice"
        );
        let e = err(&GATEWAY.replace("port = \"net_pcap0\"", "port = \"net_pcap1\""));
        assert_eq!(
            e,
            "access[0].port: port \"net_pcap1\" is already used by underlay.port"
        );
    }

    #[test]
    fn remotes_must_be_reachable() {
        let no_nh = GATEWAY.replace("next_hop = \"10.0.0.254\"\n", "");
        assert!(parse(&no_nh).is_ok(), "on-link remotes need no next hop");
        let off_link = no_nh.replace("\"10.0.0.3\"", "\"10.9.0.3\"");
        assert!(err(&off_link).starts_with("vni[0].flood[1]: 10.9.0.3 is not on a local subnet"));
        let with_mac = off_link.replace(
            "mtu = 1600",
            "mtu = 1600\nnext_hop_mac = \"02:00:00:00:00:fe\"",
        );
        assert!(parse(&with_mac).is_ok());
        assert_eq!(
            err(&GATEWAY.replace("\"10.0.0.3\"", "\"10.0.0.1\"")),
            "vni[0].flood[1]: 10.0.0.1 is one of this gateway's own addresses"
        );
    }

    #[test]
    fn flood_and_multicast_are_exclusive() {
        let e = err(&GATEWAY.replace(
            "arp_suppression = true",
            "arp_suppression = true\nmulticast_group = \"239.1.1.2\"",
        ));
        assert!(e.starts_with("vni[0].multicast_group: use either"), "{e}");
    }

    #[test]
    fn mode_must_be_chosen() {
        assert!(err("").starts_with("underlay: missing"));
        assert!(
            err("[xconnect]\nports = [\"a\"]\n").starts_with("xconnect.ports: needs exactly two")
        );
        let both = format!("{GATEWAY}\n[xconnect]\nports = [\"a\", \"b\"]\n");
        assert!(err(&both).starts_with("xconnect: a cross-connect cannot be combined"));
    }

    #[test]
    fn static_entries_need_one_destination() {
        let e = err(&GATEWAY.replace(
            "remote = \"10.0.0.2\"",
            "remote = \"10.0.0.2\"\nport = \"net_pcap0\"",
        ));
        assert!(e.starts_with("fdb[0]: give exactly one of"), "{e}");
        let e = err(&GATEWAY.replace(
            "mac = \"02:00:00:00:00:02\"\nremote",
            "mac = \"ff:ff:ff:ff:ff:ff\"\nremote",
        ));
        assert_eq!(
            e,
            "fdb[0].mac: ff:ff:ff:ff:ff:ff is not a unicast MAC address"
        );
    }

    #[test]
    fn unreachable_vni_is_refused() {
        let e = err(&GATEWAY.replace("vlan = 200\n", ""));
        assert!(e.starts_with("vni[1]: VNI 6000 has no `vlan`"), "{e}");
    }

    #[test]
    fn workers_and_tables() {
        let c = parse(&format!(
            "{GATEWAY}\n[workers]\nburst = 64\n[tables]\nmac_age_secs = 10\n"
        ))
        .unwrap();
        assert_eq!(c.workers.burst, 64);
        assert_eq!(c.tables.mac_age_secs, 10);
        assert_eq!(
            err(&format!("{GATEWAY}\n[workers]\nburst = 65\n")),
            "workers.burst: 65 is out of range 1..=64"
        );
    }

    #[test]
    fn api_defaults_to_loopback_without_token() {
        let c = parse(GATEWAY).unwrap();
        assert_eq!(c.api.listen, Some("127.0.0.1:8179".parse().unwrap()));
        assert_eq!(c.api.token, None);
        let off = parse(&format!("{GATEWAY}\n[api]\nenabled = false\n")).unwrap();
        assert_eq!(off.api.listen, None);
    }

    #[test]
    fn api_off_loopback_needs_a_token() {
        assert_eq!(
            err(&format!("{GATEWAY}\n[api]\nlisten = \"0.0.0.0:8179\"\n")),
            "api.listen: 0.0.0.0:8179 is reachable from the network: set api.token or api.token_file"
        );
        let ok = parse(&format!(
            "{GATEWAY}\n[api]\nlisten = \"0.0.0.0:8179\"\ntoken = \"0123456789abcdef\"\n"
        ))
        .unwrap();
        assert_eq!(ok.api.token.as_deref(), Some("0123456789abcdef"));
        assert!(err(&format!("{GATEWAY}\n[api]\ntoken = \"short\"\n"))
            .starts_with("api.token: too short"));
        assert!(
            err(&format!("{GATEWAY}\n[api]\nlisten = \"localhost\"\n")).starts_with("api.listen: ")
        );
        assert!(err(&format!(
            "{GATEWAY}\n[api]\ntoken_file = \"/nonexistent\"\n"
        ))
        .starts_with("api.token_file: /nonexistent: "));
    }

    #[test]
    fn vxlan_ports_per_vni() {
        let with = |extra: &str| GATEWAY.to_owned() + extra;
        let vni = |id: u32, port: u32| {
            let vlan = id - 6000;
            format!("\n[[vni]]\nid = {id}\nvlan = {vlan}\nvxlan_port = {port}\n")
        };
        let c = parse(&GATEWAY.replace("vlan = 100\n", "vlan = 100\nvxlan_port = 8472\n")).unwrap();
        let Mode::Gateway(g) = c.mode else { panic!() };
        assert_eq!(g.vnis[0].vxlan_port, Some(8472));
        assert_eq!(g.vnis[1].vxlan_port, None);
        // The underlay's own port, written out, is the default.
        let c = parse(&with(&vni(7000, 4789))).unwrap();
        let Mode::Gateway(g) = c.mode else { panic!() };
        assert_eq!(g.vnis[2].vxlan_port, None);
        assert_eq!(
            err(&GATEWAY.replace("vlan = 200\n", "vlan = 200\nvxlan_port = 8472\n")),
            "vni[1].vxlan_port: only a VXLAN VNI has a UDP port"
        );
        assert_eq!(
            err(&with(&vni(7000, 0))),
            "vni[2].vxlan_port: 0 is out of range 1..=65535"
        );
        // Three ports beside the underlay's, reused as often as wanted; a fourth is refused.
        let three = [
            (7001, 8472),
            (7002, 4096),
            (7003, 8472),
            (7004, 5000),
            (7005, 4096),
        ];
        let three: String = three.iter().map(|&(i, p)| vni(i, p)).collect();
        assert!(parse(&with(&three)).is_ok());
        assert_eq!(
            err(&with(&(three + &vni(7006, 6000)))),
            "vni[7].vxlan_port: 6000: at most 4 VXLAN UDP ports at once, and [4096, 4789, 5000, \
             8472] are in use"
        );
    }

    #[test]
    fn storm_control_and_learning_restrictions() {
        let c = parse(&GATEWAY.replace(
            "vlan = 100\n",
            "vlan = 100\nbum_rate_pps = 5000\nlearn_only_from_flood = true\n",
        ))
        .unwrap();
        let Mode::Gateway(g) = c.mode else { panic!() };
        assert_eq!(g.vnis[0].bum_rate_pps, Some(5000));
        assert!(g.vnis[0].learn_only_from_flood);
        assert_eq!(
            err(&GATEWAY.replace("vlan = 200\n", "vlan = 200\nbum_rate_pps = 0\n")),
            "vni[1].bum_rate_pps: 0 is out of range 1..=1000000000"
        );
        assert_eq!(
            err(&GATEWAY.replace("vlan = 200\n", "vlan = 200\nlearn_only_from_flood = true\n")),
            "vni[1].learn_only_from_flood: needs a `flood` list to learn from (a multicast VNI \
             has no list of VTEPs)"
        );
    }

    #[test]
    fn dscp_policy() {
        let c = parse(&GATEWAY.replace("mtu = 1600", "mtu = 1600\ndscp = 46")).unwrap();
        let Mode::Gateway(g) = c.mode else { panic!() };
        assert_eq!(g.underlay.dscp, DscpPolicy::Fixed(46));
        let e = err(&GATEWAY.replace("mtu = 1600", "mtu = 1600\ndscp = \"copy\""));
        assert!(e.starts_with("underlay.dscp: \"copy\""), "{e}");
    }
}
