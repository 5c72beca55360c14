//! `[routing]`, `[[vrf]]`, `[[route]]` and a VNI's `vrf`/`gateway`: the L3 gateway's
//! configuration (docs/ROUTING.md).

use std::collections::HashSet;
use std::net::IpAddr;

use super::schema;
use super::validate::{int, ip, prefix as cidr, unicast_mac, vni_id};
use super::{
    ConfigError, Control, Encap, IpCidr, RemoteHop, RouteNextHop, RoutingConfig, StaticRoute,
    UnderlayConfig, VniConfig, VrfConfig, DEFAULT_GATEWAY_MAC,
};
use crate::wire::MacAddr;

use crate::tables::route::MAX_VRFS;

/// The routing sections; None when no VRF is configured (then none of them may be given).
pub(super) fn section(
    routing: Option<&schema::Routing>,
    vrfs: &[schema::Vrf],
    routes: &[schema::Route],
    underlay: &UnderlayConfig,
) -> Result<Option<RoutingConfig>, ConfigError> {
    if vrfs.is_empty() {
        if routing.is_some() {
            return Err(ConfigError::invalid(
                "routing",
                "no [[vrf]] is defined: routing needs at least one tenant VRF",
            ));
        }
        if !routes.is_empty() {
            return Err(ConfigError::invalid(
                "route[0].vrf",
                "no [[vrf]] is defined: a route belongs to a VRF",
            ));
        }
        return Ok(None);
    }
    if vrfs.len() > MAX_VRFS {
        return Err(ConfigError::invalid(
            format!("vrf[{MAX_VRFS}]"),
            format!("at most {MAX_VRFS} VRFs"),
        ));
    }
    let mut out = Vec::with_capacity(vrfs.len());
    let mut ids = HashSet::new();
    for (i, v) in vrfs.iter().enumerate() {
        let key = format!("vrf[{i}]");
        // A Linux interface name (IFNAMSIZ - 1), so the VRF can be mirrored for FRR.
        let name_ok = !v.name.is_empty()
            && v.name.len() <= 15
            && v.name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !name_ok {
            return Err(ConfigError::invalid(
                format!("{key}.name"),
                format!(
                    "{:?} is not a usable VRF name (1 to 15 of letters, digits, '-', '_')",
                    v.name
                ),
            ));
        }
        if out.iter().any(|o: &VrfConfig| o.name == v.name) {
            return Err(ConfigError::invalid(
                format!("{key}.name"),
                format!("VRF {:?} is defined twice", v.name),
            ));
        }
        let id: u32 = int(&format!("{key}.id"), v.id, 1..=65535)?;
        if !ids.insert(id) {
            return Err(ConfigError::invalid(
                format!("{key}.id"),
                format!("VRF id {id} is already used"),
            ));
        }
        let l3vni = v
            .l3vni
            .map(|n| vni_id(&format!("{key}.l3vni"), n))
            .transpose()?;
        if let Some(l3) = l3vni {
            if let Some(o) = out.iter().find(|o| o.l3vni == Some(l3)) {
                return Err(ConfigError::invalid(
                    format!("{key}.l3vni"),
                    format!("VNI {l3} is already VRF {:?}'s L3VNI", o.name),
                ));
            }
        }
        out.push(VrfConfig {
            name: v.name.clone(),
            id,
            l3vni,
        });
    }
    let r = routing.cloned().unwrap_or_default();
    let gateway_mac = r
        .gateway_mac
        .as_deref()
        .map(|m| unicast_mac("routing.gateway_mac", m))
        .transpose()?
        .unwrap_or(DEFAULT_GATEWAY_MAC);
    let router_mac = r
        .router_mac
        .as_deref()
        .map(|m| unicast_mac("routing.router_mac", m))
        .transpose()?
        .unwrap_or_else(|| default_router_mac(underlay));
    if router_mac == gateway_mac {
        return Err(ConfigError::invalid(
            "routing.router_mac",
            "the router MAC is this gateway's own and must differ from the anycast gateway_mac",
        ));
    }
    let pps = |key: &str, v: Option<i64>, default: u32| {
        v.map_or(Ok(default), |v| {
            int(&format!("routing.{key}"), v, 1..=10_000_000)
        })
    };
    Ok(Some(RoutingConfig {
        gateway_mac,
        router_mac,
        vrfs: out,
        routes: Vec::new(),
        icmp_errors_pps: pps("icmp_errors_pps", r.icmp_errors_pps, 1000)?,
        resolve_pps: pps("resolve_pps", r.resolve_pps, 1000)?,
    }))
}

/// `[routing] router_mac` when not given: locally administered, from the first underlay
/// address (its low 32 bits for IPv6), so two gateways with different VTEP addresses never
/// share one.
pub(super) fn default_router_mac(underlay: &UnderlayConfig) -> MacAddr {
    let low = match underlay.addresses.first().map(|c| c.addr) {
        Some(IpAddr::V4(a)) => a.octets(),
        Some(IpAddr::V6(a)) => {
            let o = a.octets();
            [o[12], o[13], o[14], o[15]]
        }
        None => [0; 4],
    };
    MacAddr([0x02, 0x72, low[0], low[1], low[2], low[3]])
}

/// The L3VNIs of the VRFs (`[[vrf]] l3vni`) as VNIs of their own, after the `[[vni]]`s: each
/// routes only, carries no VLAN, floods and learns nothing.
pub(super) fn l3vnis(
    routing: Option<&RoutingConfig>,
    vnis: &[VniConfig],
) -> Result<Vec<VniConfig>, ConfigError> {
    let Some(r) = routing else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (i, v) in r.vrfs.iter().enumerate() {
        let Some(id) = v.l3vni else {
            continue;
        };
        if let Some(n) = vnis.iter().position(|o| o.id == id) {
            return Err(ConfigError::invalid(
                format!("vrf[{i}].l3vni"),
                format!("VNI {id} is already defined by vni[{n}]: an L3VNI carries no segment"),
            ));
        }
        out.push(VniConfig {
            id,
            encap: Encap::Vxlan,
            vlan: None,
            flood: Vec::new(),
            multicast_group: None,
            vxlan_port: None,
            learning: false,
            arp_suppression: false,
            allowed_vteps: None,
            max_macs: None,
            bum_rate_pps: None,
            learn_only_from_flood: false,
            control: Control::Static,
            vrf: Some(v.name.clone()),
            gateways: Vec::new(),
            l3: true,
        });
    }
    Ok(out)
}

/// A VNI's `vrf` and `gateway` keys.
pub(super) fn vni_keys(
    key: &str,
    vrf: Option<&str>,
    gateway: Option<Vec<String>>,
    routing: Option<&RoutingConfig>,
) -> Result<(Option<String>, Vec<IpCidr>), ConfigError> {
    let Some(name) = vrf else {
        if gateway.is_some() {
            return Err(ConfigError::invalid(
                format!("{key}.gateway"),
                "a gateway address needs the VNI's `vrf`",
            ));
        }
        return Ok((None, Vec::new()));
    };
    if routing.and_then(|r| r.vrf(name)).is_none() {
        return Err(ConfigError::invalid(
            format!("{key}.vrf"),
            format!("VRF {name:?} is not defined in [[vrf]]"),
        ));
    }
    let list = gateway.unwrap_or_default();
    if list.is_empty() {
        return Err(ConfigError::invalid(
            format!("{key}.gateway"),
            "a VNI in a VRF needs its gateway address (e.g. \"192.168.10.1/24\")",
        ));
    }
    let mut gateways: Vec<IpCidr> = Vec::with_capacity(list.len());
    for (i, g) in list.iter().enumerate() {
        let k = format!("{key}.gateway[{i}]");
        let c = cidr(&k, g)?;
        let (min, max) = if c.addr.is_ipv4() { (8, 31) } else { (16, 127) };
        if c.prefix < min || c.prefix > max {
            return Err(ConfigError::invalid(
                k,
                format!("/{}: a gateway subnet is /{min} to /{max}", c.prefix),
            ));
        }
        // Link-local addresses never cross the router (and every VNI would share fe80::/64).
        let usable = match c.addr {
            IpAddr::V4(a) => {
                !a.is_multicast() && !a.is_broadcast() && !a.is_unspecified() && !a.is_loopback()
            }
            IpAddr::V6(a) => {
                !a.is_multicast()
                    && !a.is_unspecified()
                    && !a.is_loopback()
                    && (a.segments()[0] & 0xffc0) != 0xfe80
            }
        };
        if !usable || c.network().addr == c.addr || c.is_broadcast_of(c.addr) {
            return Err(ConfigError::invalid(
                k,
                format!("{c} is not a usable host address on its subnet"),
            ));
        }
        if let Some(prev) = gateways.iter().find(|p| p.overlaps(&c)) {
            return Err(ConfigError::invalid(
                k,
                format!("{c} overlaps {prev}, already a gateway of this VNI"),
            ));
        }
        gateways.push(c);
    }
    Ok((Some(name.to_owned()), gateways))
}

/// Two VNIs of one VRF must not share a subnet (a host address would be ambiguous); VNIs of
/// different VRFs may (tenants reuse prefixes).
pub(super) fn check_overlap(
    key: &str,
    vni: &VniConfig,
    others: &[&VniConfig],
) -> Result<(), ConfigError> {
    let Some(vrf) = &vni.vrf else {
        return Ok(());
    };
    for other in others
        .iter()
        .filter(|o| o.id != vni.id && o.vrf.as_ref() == Some(vrf))
    {
        for (i, g) in vni.gateways.iter().enumerate() {
            if let Some(o) = other.gateways.iter().find(|o| o.overlaps(g)) {
                return Err(ConfigError::invalid(
                    format!("{key}.gateway[{i}]"),
                    format!(
                        "{} overlaps {} of VNI {} in VRF {vrf:?}",
                        g.network(),
                        o.network(),
                        other.id
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// A VNI added or replaced later (the API) against the routes of its VRF: its gateway
/// addresses must not be a route's router, nor its subnets a static route's prefix.
pub(super) fn check_against_routes(
    key: &str,
    vni: &VniConfig,
    routes: &[StaticRoute],
) -> Result<(), ConfigError> {
    let Some(vrf) = &vni.vrf else {
        return Ok(());
    };
    for (i, g) in vni.gateways.iter().enumerate() {
        for r in routes.iter().filter(|r| &r.vrf == vrf) {
            if r.via() == Some(g.addr) {
                return Err(ConfigError::invalid(
                    format!("{key}.gateway[{i}]"),
                    format!(
                        "{} is the router of VRF {vrf:?}'s route to {}",
                        g.addr, r.prefix
                    ),
                ));
            }
            if r.prefix == g.network() {
                return Err(ConfigError::invalid(
                    format!("{key}.gateway[{i}]"),
                    format!("{} is a static route of VRF {vrf:?} already", r.prefix),
                ));
            }
        }
    }
    Ok(())
}

/// The `[[route]]` tables, each next hop on a gateway subnet of its VRF.
pub(super) fn routes(
    routes: &[schema::Route],
    vnis: &[VniConfig],
    routing: &RoutingConfig,
    underlay: &UnderlayConfig,
) -> Result<Vec<StaticRoute>, ConfigError> {
    let mut out: Vec<StaticRoute> = Vec::with_capacity(routes.len());
    for (i, r) in routes.iter().enumerate() {
        let key = format!("route[{i}]");
        if routing.vrf(&r.vrf).is_none() {
            return Err(ConfigError::invalid(
                format!("{key}.vrf"),
                format!("VRF {:?} is not defined in [[vrf]]", r.vrf),
            ));
        }
        let prefix = cidr(&format!("{key}.prefix"), &r.prefix)?;
        if prefix.addr.is_multicast() {
            return Err(ConfigError::invalid(
                format!("{key}.prefix"),
                format!("{prefix} is a multicast prefix: only unicast is routed"),
            ));
        }
        if prefix.network() != prefix {
            return Err(ConfigError::invalid(
                format!("{key}.prefix"),
                format!(
                    "{prefix} has host bits set (the prefix is {})",
                    prefix.network()
                ),
            ));
        }
        if out.iter().any(|o| o.vrf == r.vrf && o.prefix == prefix) {
            return Err(ConfigError::invalid(
                format!("{key}.prefix"),
                format!("{prefix} is already routed in VRF {:?}", r.vrf),
            ));
        }
        let subnets: Vec<IpCidr> = vnis
            .iter()
            .filter(|v| v.vrf.as_deref() == Some(r.vrf.as_str()))
            .flat_map(|v| v.gateways.iter().copied())
            .collect();
        // A connected subnet always wins: a static route to it would never carry.
        if subnets.iter().any(|g| g.network() == prefix) {
            return Err(ConfigError::invalid(
                format!("{key}.prefix"),
                format!(
                    "{prefix} is a gateway subnet of VRF {:?} (connected)",
                    r.vrf
                ),
            ));
        }
        let given = [
            r.via.is_some(),
            r.next_vrf.is_some(),
            r.vtep.is_some() || r.router_mac.is_some(),
        ];
        if given.iter().filter(|g| **g).count() > 1 {
            return Err(ConfigError::invalid(
                key,
                "give one next hop: `via` (a router), `next_vrf` (another VRF) or \
                 `vtep` with `router_mac` (another VTEP)",
            ));
        }
        let next_hop = if let Some(via) = &r.via {
            RouteNextHop::Via(router(&key, via, prefix, &r.vrf, &subnets)?)
        } else if let Some(target) = &r.next_vrf {
            if routing.vrf(target).is_none() {
                return Err(ConfigError::invalid(
                    format!("{key}.next_vrf"),
                    format!("VRF {target:?} is not defined in [[vrf]]"),
                ));
            }
            if *target == r.vrf {
                return Err(ConfigError::invalid(
                    format!("{key}.next_vrf"),
                    "a route cannot lead into its own VRF",
                ));
            }
            RouteNextHop::Vrf(target.clone())
        } else if given[2] {
            RouteNextHop::Remote(remote_hop(&key, r, routing, underlay)?)
        } else {
            return Err(ConfigError::invalid(
                key,
                "a route needs `via` (a router), `next_vrf` (another VRF) or `vtep` with \
                 `router_mac` (another VTEP)",
            ));
        };
        out.push(StaticRoute {
            vrf: r.vrf.clone(),
            prefix,
            next_hop,
        });
    }
    Ok(out)
}

/// A route's `vtep` and `router_mac`: another VTEP of the fabric, reached through the VRF's
/// L3VNI.
fn remote_hop(
    key: &str,
    r: &schema::Route,
    routing: &RoutingConfig,
    underlay: &UnderlayConfig,
) -> Result<RemoteHop, ConfigError> {
    if routing.vrf(&r.vrf).and_then(|v| v.l3vni).is_none() {
        return Err(ConfigError::invalid(
            format!("{key}.vtep"),
            format!(
                "VRF {:?} has no `l3vni`: routes through another VTEP travel in it",
                r.vrf
            ),
        ));
    }
    let Some(text) = r.vtep.as_deref() else {
        return Err(ConfigError::invalid(
            format!("{key}.vtep"),
            "`router_mac` needs the `vtep` it belongs to",
        ));
    };
    let vtep = ip(&format!("{key}.vtep"), text)?;
    let usable = match vtep {
        IpAddr::V4(a) => !a.is_multicast() && !a.is_broadcast() && !a.is_unspecified(),
        IpAddr::V6(a) => !a.is_multicast() && !a.is_unspecified(),
    };
    if !usable || vtep.is_loopback() {
        return Err(ConfigError::invalid(
            format!("{key}.vtep"),
            format!("{vtep} is not a unicast VTEP address"),
        ));
    }
    if underlay.addresses.iter().any(|c| c.addr == vtep) {
        return Err(ConfigError::invalid(
            format!("{key}.vtep"),
            format!("{vtep} is this gateway's own underlay address"),
        ));
    }
    if underlay.source_for(vtep).is_none() {
        return Err(ConfigError::invalid(
            format!("{key}.vtep"),
            format!("{vtep}: underlay.addresses has no address of its family"),
        ));
    }
    let Some(mac) = r.router_mac.as_deref() else {
        return Err(ConfigError::invalid(
            format!("{key}.router_mac"),
            "a route through another VTEP needs that VTEP's router MAC",
        ));
    };
    let router_mac = unicast_mac(&format!("{key}.router_mac"), mac)?;
    if router_mac == routing.router_mac || router_mac == routing.gateway_mac {
        return Err(ConfigError::invalid(
            format!("{key}.router_mac"),
            format!("{router_mac} is this gateway's own (router_mac or gateway_mac)"),
        ));
    }
    Ok(RemoteHop { vtep, router_mac })
}

/// A route's `via`: a host on one of the VRF's gateway subnets.
fn router(
    key: &str,
    text: &str,
    prefix: IpCidr,
    vrf: &str,
    subnets: &[IpCidr],
) -> Result<IpAddr, ConfigError> {
    let via = ip(&format!("{key}.via"), text)?;
    if via.is_ipv4() != prefix.addr.is_ipv4() {
        return Err(ConfigError::invalid(
            format!("{key}.via"),
            format!("{via} is not of the family of {prefix}"),
        ));
    }
    let mut on_link = false;
    for g in subnets {
        if g.addr == via {
            return Err(ConfigError::invalid(
                format!("{key}.via"),
                format!("{via} is the gateway's own address"),
            ));
        }
        if g.contains(via) && (g.network().addr == via || g.is_broadcast_of(via)) {
            return Err(ConfigError::invalid(
                format!("{key}.via"),
                format!("{via} is not a host address of {}", g.network()),
            ));
        }
        on_link |= g.contains(via);
    }
    if !on_link {
        return Err(ConfigError::invalid(
            format!("{key}.via"),
            format!(
                "{via} is on no gateway subnet of VRF {vrf:?}: the next hop must be a host \
                 of one of its VNIs"
            ),
        ));
    }
    Ok(via)
}

#[cfg(test)]
mod tests {
    use crate::config::{parse, Mode, DEFAULT_GATEWAY_MAC};

    const BASE: &str = r#"
[underlay]
port = "net_null0"
addresses = ["10.0.0.1/24"]

[[access]]
port = "net_null1"

[[vrf]]
name = "org-a"
id = 10

[[vrf]]
name = "org-b"
id = 20

[[vni]]
id = 1000
vlan = 100
vrf = "org-a"
gateway = ["192.168.10.1/24", "fd10::1/64"]

[[vni]]
id = 1001
vlan = 101
vrf = "org-a"
gateway = "192.168.11.1/24"

[[vni]]
id = 2000
vlan = 200
vrf = "org-b"
gateway = "192.168.10.1/24"
"#;

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    fn routing(text: &str) -> crate::config::RoutingConfig {
        let Mode::Gateway(g) = parse(text).unwrap().mode else {
            panic!("a gateway")
        };
        *g.routing.expect("routing on")
    }

    #[test]
    fn vrfs_may_reuse_a_prefix_and_take_the_defaults() {
        let r = routing(BASE);
        assert_eq!(r.gateway_mac, DEFAULT_GATEWAY_MAC);
        assert_eq!((r.icmp_errors_pps, r.resolve_pps), (1000, 1000));
        let names: Vec<_> = r.vrfs.iter().map(|v| (v.name.as_str(), v.id)).collect();
        assert_eq!(names, [("org-a", 10), ("org-b", 20)]);
    }

    #[test]
    fn routes_are_checked_against_the_vrfs_subnets() {
        let text = format!(
            "{BASE}\n[[route]]\nvrf = \"org-a\"\nprefix = \"0.0.0.0/0\"\nvia = \"192.168.11.254\"\n"
        );
        let r = routing(&text);
        assert_eq!(r.routes.len(), 1);
        assert_eq!(r.routes[0].prefix.to_string(), "0.0.0.0/0");
        // A next hop on org-b's subnet only: not reachable from org-a's.
        assert_eq!(
            err(&text.replace("192.168.11.254", "10.9.9.9")),
            "route[0].via: 10.9.9.9 is on no gateway subnet of VRF \"org-a\": the next hop \
             must be a host of one of its VNIs"
        );
        assert_eq!(
            err(&text.replace("192.168.11.254", "192.168.11.1")),
            "route[0].via: 192.168.11.1 is the gateway's own address"
        );
        assert_eq!(
            err(&text.replace("192.168.11.254", "192.168.11.255")),
            "route[0].via: 192.168.11.255 is not a host address of 192.168.11.0/24"
        );
        assert_eq!(
            err(&text.replace("0.0.0.0/0", "192.168.10.0/24")),
            "route[0].prefix: 192.168.10.0/24 is a gateway subnet of VRF \"org-a\" (connected)"
        );
        assert_eq!(
            err(&text.replace("0.0.0.0/0", "10.1.2.3/16")),
            "route[0].prefix: 10.1.2.3/16 has host bits set (the prefix is 10.1.0.0/16)"
        );
        assert_eq!(
            err(&text.replace("0.0.0.0/0", "::/0")),
            "route[0].via: 192.168.11.254 is not of the family of ::/0"
        );
        assert_eq!(
            err(&text.replace("vrf = \"org-a\"\nprefix", "vrf = \"org-z\"\nprefix")),
            "route[0].vrf: VRF \"org-z\" is not defined in [[vrf]]"
        );
        for (keys, error) in [
            (
                "next_vrf = \"org-z\"",
                "route[0].next_vrf: VRF \"org-z\" is not defined in [[vrf]]",
            ),
            (
                "next_vrf = \"org-a\"",
                "route[0].next_vrf: a route cannot lead into its own VRF",
            ),
            (
                "via = \"192.168.11.254\"\nnext_vrf = \"org-b\"",
                "route[0]: give one next hop: `via` (a router), `next_vrf` (another VRF) or \
                 `vtep` with `router_mac` (another VTEP)",
            ),
            (
                "",
                "route[0]: a route needs `via` (a router), `next_vrf` (another VRF) or `vtep` \
                 with `router_mac` (another VTEP)",
            ),
        ] {
            let leak =
                format!("{BASE}\n[[route]]\nvrf = \"org-a\"\nprefix = \"10.50.0.0/16\"\n{keys}\n");
            assert_eq!(err(&leak), error);
        }
        let leak = format!(
            "{BASE}\n[[route]]\nvrf = \"org-a\"\nprefix = \"10.50.0.0/16\"\nnext_vrf = \"org-b\"\n"
        );
        assert_eq!(routing(&leak).routes[0].next_vrf(), Some("org-b"));
        let twice = format!(
            "{text}\n[[route]]\nvrf = \"org-a\"\nprefix = \"0.0.0.0/0\"\nvia = \"192.168.10.9\"\n"
        );
        assert_eq!(
            err(&twice),
            "route[1].prefix: 0.0.0.0/0 is already routed in VRF \"org-a\""
        );
    }

    #[test]
    fn l3vnis_and_routes_through_other_vteps() {
        let text = BASE.replace("id = 10\n", "id = 10\nl3vni = 5000\n");
        let Mode::Gateway(g) = parse(&text).unwrap().mode else {
            panic!("a gateway")
        };
        let r = g.routing.as_deref().unwrap();
        assert_eq!(r.vrfs[0].l3vni.map(|v| v.get()), Some(5000));
        // The default router MAC comes from the first underlay address (10.0.0.1).
        assert_eq!(r.router_mac.to_string(), "02:72:0a:00:00:01");
        let l3 = g.vnis.iter().find(|v| v.id.get() == 5000).unwrap();
        assert!(l3.l3 && !l3.learning && l3.vlan.is_none() && l3.flood.is_empty());
        assert_eq!(l3.vrf.as_deref(), Some("org-a"));

        let remote = |keys: &str| {
            format!("{text}\n[[route]]\nvrf = \"org-a\"\nprefix = \"10.60.0.0/16\"\n{keys}\n")
        };
        let ok = remote("vtep = \"10.0.0.9\"\nrouter_mac = \"02:72:0a:00:00:09\"");
        let hop = routing(&ok).routes[0].remote().unwrap();
        assert_eq!(hop.vtep.to_string(), "10.0.0.9");
        assert_eq!(hop.router_mac.to_string(), "02:72:0a:00:00:09");
        for (keys, error) in [
            (
                "vtep = \"10.0.0.9\"",
                "route[0].router_mac: a route through another VTEP needs that VTEP's router MAC",
            ),
            (
                "router_mac = \"02:72:0a:00:00:09\"",
                "route[0].vtep: `router_mac` needs the `vtep` it belongs to",
            ),
            (
                "vtep = \"10.0.0.1\"\nrouter_mac = \"02:72:0a:00:00:09\"",
                "route[0].vtep: 10.0.0.1 is this gateway's own underlay address",
            ),
            (
                "vtep = \"239.1.1.1\"\nrouter_mac = \"02:72:0a:00:00:09\"",
                "route[0].vtep: 239.1.1.1 is not a unicast VTEP address",
            ),
            (
                "vtep = \"fd00::9\"\nrouter_mac = \"02:72:0a:00:00:09\"",
                "route[0].vtep: fd00::9: underlay.addresses has no address of its family",
            ),
            (
                "vtep = \"10.0.0.9\"\nrouter_mac = \"02:72:0a:00:00:01\"",
                "route[0].router_mac: 02:72:0a:00:00:01 is this gateway's own (router_mac or \
                 gateway_mac)",
            ),
        ] {
            assert_eq!(err(&remote(keys)), error, "{keys}");
        }
        // org-b has no L3VNI: nothing to carry a route through another VTEP.
        let no_l3 = ok.replace(
            "vrf = \"org-a\"\nprefix = \"10.60",
            "vrf = \"org-b\"\nprefix = \"10.60",
        );
        assert_eq!(
            err(&no_l3),
            "route[0].vtep: VRF \"org-b\" has no `l3vni`: routes through another VTEP travel in it"
        );
        // An L3VNI is a VNI of its own: no [[vni]] may have its id, no host may be in it.
        assert_eq!(
            err(&BASE.replace("id = 10\n", "id = 10\nl3vni = 1000\n")),
            "vrf[0].l3vni: VNI 1000 is already defined by vni[0]: an L3VNI carries no segment"
        );
        assert_eq!(
            err(&text.replace("id = 20\n", "id = 20\nl3vni = 5000\n")),
            "vrf[1].l3vni: VNI 5000 is already VRF \"org-a\"'s L3VNI"
        );
        assert_eq!(
            err(&format!(
                "{text}\n[[arp]]\nvni = 5000\nip = \"192.168.10.9\"\nmac = \"02:00:00:00:00:09\"\n"
            )),
            "arp[0].vni: VNI 5000 is an L3VNI ([[vrf]] l3vni): it carries routed packets, no hosts"
        );
        assert_eq!(
            err(&format!(
                "{text}\n[routing]\nrouter_mac = \"02:76:74:70:00:01\"\n"
            )),
            "routing.router_mac: the router MAC is this gateway's own and must differ from the \
             anycast gateway_mac"
        );
    }

    #[test]
    fn bad_values_name_their_key() {
        assert_eq!(
            err(&BASE.replace(
                "gateway = \"192.168.11.1/24\"",
                "gateway = \"192.168.10.7/24\""
            )),
            "vni[1].gateway[0]: 192.168.10.0/24 overlaps 192.168.10.0/24 of VNI 1000 in VRF \
             \"org-a\""
        );
        assert_eq!(
            err(&BASE.replace("\"192.168.11.1/24\"", "\"192.168.11.0/24\"")),
            "vni[1].gateway[0]: 192.168.11.0/24 is not a usable host address on its subnet"
        );
        for bad in ["192.168.11.255/24", "127.0.0.1/8"] {
            assert_eq!(
                err(&BASE.replace("\"192.168.11.1/24\"", &format!("\"{bad}\""))),
                format!("vni[1].gateway[0]: {bad} is not a usable host address on its subnet")
            );
        }
        assert_eq!(
            err(&BASE.replace("fd10::1/64", "fe80::1/64")),
            "vni[0].gateway[1]: fe80::1/64 is not a usable host address on its subnet"
        );
        assert_eq!(
            err(&BASE.replace("\"192.168.11.1/24\"", "\"192.168.11.1/32\"")),
            "vni[1].gateway[0]: /32: a gateway subnet is /8 to /31"
        );
        assert_eq!(
            err(&BASE.replace("vrf = \"org-b\"\ngateway", "vrf = \"org-c\"\ngateway")),
            "vni[2].vrf: VRF \"org-c\" is not defined in [[vrf]]"
        );
        assert_eq!(
            err(&BASE.replace(
                "vrf = \"org-b\"\ngateway = \"192.168.10.1/24\"",
                "vrf = \"org-b\""
            )),
            "vni[2].gateway: a VNI in a VRF needs its gateway address (e.g. \"192.168.10.1/24\")"
        );
        assert_eq!(
            err(&BASE.replace("id = 20", "id = 10")),
            "vrf[1].id: VRF id 10 is already used"
        );
        assert_eq!(
            err(&BASE.replace("name = \"org-b\"", "name = \"org b\"")),
            "vrf[1].name: \"org b\" is not a usable VRF name (1 to 15 of letters, digits, '-', \
             '_')"
        );
        assert!(err(&format!(
            "{BASE}\n[routing]\ngateway_mac = \"01:00:5e:00:00:01\"\n"
        ))
        .starts_with("routing.gateway_mac"));
        assert_eq!(
            err(&format!("{BASE}\n[routing]\nicmp_errors_pps = 0\n")),
            "routing.icmp_errors_pps: 0 is out of range 1..=10000000"
        );
    }

    #[test]
    fn a_vni_from_the_api_is_checked_against_the_routes() {
        let text = format!(
            "{BASE}\n[[route]]\nvrf = \"org-a\"\nprefix = \"10.50.0.0/16\"\nvia = \"192.168.11.254\"\n"
        );
        let Mode::Gateway(g) = parse(&text).unwrap().mode else {
            panic!("a gateway")
        };
        let put = |gateway: &str| {
            crate::config::vni_from_json(
                serde_json::json!({"id": 1001, "vlan": 101, "vrf": "org-a", "gateway": gateway}),
                &g,
            )
            .map(|_| ())
            .map_err(|e| e.to_string())
        };
        assert_eq!(
            put("192.168.11.254/24"),
            Err(
                "vni.gateway[0]: 192.168.11.254 is the router of VRF \"org-a\"'s route to \
                 10.50.0.0/16"
                    .into()
            )
        );
        assert_eq!(
            put("10.50.0.1/16"),
            Err("vni.gateway[0]: 10.50.0.0/16 is a static route of VRF \"org-a\" already".into())
        );
        assert_eq!(put("192.168.11.2/24"), Ok(()));
    }

    #[test]
    fn routing_keys_without_a_vrf_are_refused() {
        let bridged = BASE
            .split("[[vni]]")
            .next()
            .unwrap()
            .split("[[vrf]]")
            .next()
            .unwrap()
            .to_owned()
            + "[[vni]]\nid = 1000\nvlan = 100\n";
        assert!(parse(&bridged).is_ok());
        assert_eq!(
            err(&format!("{bridged}\n[routing]\nresolve_pps = 10\n")),
            "routing: no [[vrf]] is defined: routing needs at least one tenant VRF"
        );
        assert_eq!(
            err(&bridged.replace("vlan = 100", "vlan = 100\ngateway = \"192.168.1.1/24\"")),
            "vni[0].gateway: a gateway address needs the VNI's `vrf`"
        );
    }
}
