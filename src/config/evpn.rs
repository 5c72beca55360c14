//! `[evpn]` and a VNI's `control`: which VNIs BGP EVPN (through FRR) fills, and where vtepd
//! mirrors them for FRR (docs/EVPN.md).

use super::schema;
use super::validate::int;
use super::{
    BgpVia, ConfigError, Control, Encap, EvpnConfig, ExceptionLimits, DEFAULT_EVPN_NAMESPACE,
};

impl Default for EvpnConfig {
    fn default() -> Self {
        EvpnConfig {
            namespace: DEFAULT_EVPN_NAMESPACE.to_owned(),
            all_vnis: false,
            bgp_via: BgpVia::Underlay(ExceptionLimits::default()),
        }
    }
}

/// The `[evpn]` table.
pub(super) fn section(e: &schema::Evpn) -> Result<EvpnConfig, ConfigError> {
    let namespace = match e.namespace.as_deref() {
        None => DEFAULT_EVPN_NAMESPACE.to_owned(),
        Some(n) => {
            // A name `ip netns` accepts: a plain file name under /run/netns.
            let ok = !n.is_empty()
                && n.len() <= 64
                && n != "."
                && n != ".."
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
            if !ok {
                return Err(ConfigError::invalid(
                    "evpn.namespace",
                    format!(
                        "{n:?} is not a usable namespace name (1 to 64 of letters, digits, '-', \
                         '_', '.')"
                    ),
                ));
            }
            n.to_owned()
        }
    };
    let all_vnis = match e.vnis.as_deref() {
        None => false,
        Some("all") => true,
        Some(other) => {
            return Err(ConfigError::invalid(
                "evpn.vnis",
                format!(
                    "{other:?}: expected \"all\" (or leave it out and set control = \"evpn\" \
                     per VNI)"
                ),
            ))
        }
    };
    let limit = |key: &str, given: Option<i64>, default: u32| {
        given.map_or(Ok(default), |v| {
            int(&format!("evpn.{key}"), v, 1..=100_000_000)
        })
    };
    let defaults = ExceptionLimits::default();
    let limits = ExceptionLimits {
        established_pps: limit(
            "exception_established_pps",
            e.exception_established_pps,
            defaults.established_pps,
        )?,
        new_pps: limit("exception_new_pps", e.exception_new_pps, defaults.new_pps)?,
    };
    let bgp_via = match e.bgp_via.as_deref() {
        None | Some("underlay") => BgpVia::Underlay(limits),
        Some("namespace") => {
            if let Some(key) = [
                ("exception_established_pps", e.exception_established_pps),
                ("exception_new_pps", e.exception_new_pps),
            ]
            .iter()
            .find_map(|(k, v)| v.map(|_| k))
            {
                return Err(ConfigError::invalid(
                    format!("evpn.{key}"),
                    "has no meaning with bgp_via = \"namespace\": there is no exception path",
                ));
            }
            BgpVia::Namespace
        }
        Some(other) => {
            return Err(ConfigError::invalid(
                "evpn.bgp_via",
                format!(
                    "{other:?}: expected \"underlay\" (BGP through vtepd's underlay port) or \
                     \"namespace\" (an interface of FRR's own in the namespace)"
                ),
            ))
        }
    };
    Ok(EvpnConfig {
        namespace,
        all_vnis,
        bgp_via,
    })
}

/// A `[[vni]]`'s `control`, checked against what EVPN supports: VXLAN, head-end
/// replication, remote MACs from the control plane only.
pub(super) fn control(
    key: &str,
    given: Option<&str>,
    encap: Encap,
    has_multicast_group: bool,
    learn_only_from_flood: bool,
    evpn: Option<&EvpnConfig>,
) -> Result<Control, ConfigError> {
    let control = match given {
        // `vnis = "all"` leaves NVGRE VSIDs static: EVPN has no NVGRE encapsulation here.
        None if evpn.is_some_and(|e| e.all_vnis) && encap == Encap::Vxlan => Control::Evpn,
        None | Some("static") => Control::Static,
        Some("evpn") => Control::Evpn,
        Some(other) => {
            return Err(ConfigError::invalid(
                format!("{key}.control"),
                format!("{other:?}: expected \"static\" or \"evpn\""),
            ))
        }
    };
    if control == Control::Evpn {
        if encap != Encap::Vxlan {
            return Err(ConfigError::invalid(
                format!("{key}.control"),
                "EVPN carries VXLAN VNIs only (RFC 8365); an NVGRE VSID stays static",
            ));
        }
        if has_multicast_group {
            return Err(ConfigError::invalid(
                format!("{key}.multicast_group"),
                "not supported with control = \"evpn\" yet: EVPN VNIs flood by head-end \
                 replication to the type 3 routes' VTEPs",
            ));
        }
        if learn_only_from_flood {
            return Err(ConfigError::invalid(
                format!("{key}.learn_only_from_flood"),
                "has no meaning with control = \"evpn\": remote MACs come from EVPN, never \
                 from the data plane",
            ));
        }
    }
    Ok(control)
}

#[cfg(test)]
mod tests {
    use crate::config::{parse, BgpVia, Control, ExceptionLimits, Mode};

    const BASE: &str = r#"
[underlay]
port = "net_null0"
addresses = ["10.0.0.1/24"]

[[access]]
port = "net_null1"

[[vni]]
id = 5000
vlan = 100

[[vni]]
id = 6000
vlan = 200
encap = "nvgre"
"#;

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    fn controls(text: &str) -> (Vec<Control>, Option<crate::config::EvpnConfig>) {
        let Mode::Gateway(g) = parse(text).unwrap().mode else {
            panic!("a gateway")
        };
        (g.vnis.iter().map(|v| v.control).collect(), g.evpn)
    }

    #[test]
    fn vnis_are_static_without_evpn() {
        let (c, e) = controls(BASE);
        assert_eq!(c, vec![Control::Static, Control::Static]);
        assert_eq!(e, None);
    }

    #[test]
    fn one_evpn_vni_turns_evpn_on_in_the_default_namespace() {
        let (c, e) = controls(&BASE.replace("vlan = 100", "vlan = 100\ncontrol = \"evpn\""));
        assert_eq!(c, vec![Control::Evpn, Control::Static]);
        let e = e.unwrap();
        assert_eq!((e.namespace.as_str(), e.all_vnis), ("vtepd", false));
    }

    #[test]
    fn all_vnis_takes_every_vxlan_vni_but_an_explicit_static() {
        let text = format!("{BASE}\n[evpn]\nnamespace = \"gw-a\"\nvnis = \"all\"\n");
        let (c, e) = controls(&text);
        // The NVGRE VSID stays static.
        assert_eq!(c, vec![Control::Evpn, Control::Static]);
        assert_eq!(e.unwrap().namespace, "gw-a");
        let (c, _) = controls(&text.replace("vlan = 100", "vlan = 100\ncontrol = \"static\""));
        assert_eq!(c, vec![Control::Static, Control::Static]);
    }

    #[test]
    fn bad_values_name_their_key() {
        assert_eq!(
            err(&format!("{BASE}\n[evpn]\nnamespace = \"../etc\"\n")),
            "evpn.namespace: \"../etc\" is not a usable namespace name (1 to 64 of letters, \
             digits, '-', '_', '.')"
        );
        assert_eq!(
            err(&format!("{BASE}\n[evpn]\nvnis = \"some\"\n")),
            "evpn.vnis: \"some\": expected \"all\" (or leave it out and set control = \"evpn\" \
             per VNI)"
        );
        assert_eq!(
            err(&BASE.replace("vlan = 100", "vlan = 100\ncontrol = \"bgp\"")),
            "vni[0].control: \"bgp\": expected \"static\" or \"evpn\""
        );
        assert!(err(&format!("{BASE}\n[evpn]\nasn = 65000\n")).starts_with("evpn.asn"));
        assert!(err(&format!("{BASE}\n[evpn]\nbgp_via = \"mgmt\"\n"))
            .starts_with("evpn.bgp_via: \"mgmt\": expected \"underlay\""));
        assert_eq!(
            err(&format!("{BASE}\n[evpn]\nexception_new_pps = 0\n")),
            "evpn.exception_new_pps: 0 is out of range 1..=100000000"
        );
        assert!(err(&format!(
            "{BASE}\n[evpn]\nbgp_via = \"namespace\"\nexception_new_pps = 10\n"
        ))
        .starts_with("evpn.exception_new_pps: has no meaning with bgp_via = \"namespace\""));
    }

    #[test]
    fn bgp_goes_over_the_underlay_port_unless_told_otherwise() {
        let (_, e) = controls(&format!("{BASE}\n[evpn]\n"));
        assert_eq!(
            e.unwrap().bgp_via,
            BgpVia::Underlay(ExceptionLimits {
                established_pps: 20_000,
                new_pps: 1_000
            })
        );
        let (_, e) = controls(&format!(
            "{BASE}\n[evpn]\nexception_established_pps = 5000\nexception_new_pps = 50\n"
        ));
        assert_eq!(
            e.unwrap().bgp_via,
            BgpVia::Underlay(ExceptionLimits {
                established_pps: 5000,
                new_pps: 50
            })
        );
        let (_, e) = controls(&format!("{BASE}\n[evpn]\nbgp_via = \"namespace\"\n"));
        assert_eq!(e.unwrap().bgp_via, BgpVia::Namespace);
    }

    #[test]
    fn evpn_vnis_are_vxlan_with_head_end_replication() {
        assert_eq!(
            err(&BASE.replace("encap = \"nvgre\"", "encap = \"nvgre\"\ncontrol = \"evpn\"")),
            "vni[1].control: EVPN carries VXLAN VNIs only (RFC 8365); an NVGRE VSID stays static"
        );
        assert!(err(&BASE.replace(
            "vlan = 100",
            "vlan = 100\ncontrol = \"evpn\"\nmulticast_group = \"239.1.1.1\""
        ))
        .starts_with("vni[0].multicast_group: not supported with control = \"evpn\""));
        assert!(err(&BASE.replace(
            "vlan = 100",
            "vlan = 100\ncontrol = \"evpn\"\nflood = [\"10.0.0.2\"]\nlearn_only_from_flood = true"
        ))
        .starts_with("vni[0].learn_only_from_flood: has no meaning"));
        // A configured flood list stays, beside the type 3 routes'.
        let (c, _) = controls(&BASE.replace(
            "vlan = 100",
            "vlan = 100\ncontrol = \"evpn\"\nflood = [\"10.0.0.2\"]",
        ));
        assert_eq!(c[0], Control::Evpn);
    }

    #[test]
    fn evpn_needs_an_ipv4_vtep_address() {
        assert_eq!(
            err(&BASE
                .replace("10.0.0.1/24", "fd00::1/64")
                .replace("vlan = 100", "vlan = 100\ncontrol = \"evpn\"")),
            "vni[0].control: EVPN needs an IPv4 address in underlay.addresses (FRR's EVPN VTEPs \
             are IPv4)"
        );
    }

    #[test]
    fn a_cross_connect_takes_no_evpn() {
        assert!(
            err("[xconnect]\nports = [\"a\", \"b\"]\n[evpn]\n").starts_with("evpn: gateway tables")
        );
    }
}
