//! Configuration reload (SIGHUP, `vtepctl reload`): what differs between the running
//! configuration and the new file, and whether it can change without a restart.
//!
//! Tables change live — VNIs, their flood lists, allowlists and flags, static MACs and
//! bindings, which VNI is an access port's native one, MAC aging — and only what differs is
//! sent to the workers, so traffic of unchanged VNIs is untouched. Ports, addresses, queues
//! and the API endpoint are fixed while the data plane runs: changing them is refused with
//! the key that needs a restart, and nothing is applied.

use std::collections::BTreeMap;

use crate::config::{Config, GatewayConfig, Mode, RoutingConfig, StaticArp, StaticFdb, VniConfig};
use crate::wire::Vni;

/// What a reload will do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadPlan {
    pub vnis_removed: Vec<Vni>,
    /// Changed VNIs, or VNIs whose access ports changed (an access port's `untagged_vni`).
    pub vnis_changed: Vec<VniConfig>,
    pub vnis_added: Vec<VniConfig>,
    pub fdb_removed: Vec<StaticFdb>,
    /// New or changed static entries.
    pub fdb_set: Vec<StaticFdb>,
    pub arp_removed: Vec<StaticArp>,
    pub arp_set: Vec<StaticArp>,
    pub mac_age_secs: Option<u32>,
    /// New VRFs and static routes (Some: they changed).
    pub routing: Option<Option<RoutingConfig>>,
    /// The new policy (Some: it changed; Some(None): removed).
    pub policy: Option<Option<crate::config::PolicyConfig>>,
}

impl ReloadPlan {
    pub fn is_empty(&self) -> bool {
        *self == ReloadPlan::default()
    }
}

/// Why a reload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key} changed: restart vtepd to change it (nothing was applied)")]
pub struct NeedsRestart {
    pub key: String,
}

fn restart(key: &str) -> NeedsRestart {
    NeedsRestart {
        key: key.to_owned(),
    }
}

/// The first of `fields` (name, changed?) that changed, as `section.name`.
fn first_change(section: &str, fields: &[(&str, bool)]) -> Result<(), NeedsRestart> {
    match fields.iter().find(|(_, changed)| *changed) {
        Some((name, _)) => Err(restart(&format!("{section}.{name}"))),
        None => Ok(()),
    }
}

pub fn plan(old: &Config, new: &Config) -> Result<ReloadPlan, NeedsRestart> {
    let (w, nw) = (&old.workers, &new.workers);
    first_change(
        "workers",
        &[
            ("burst", w.burst != nw.burst),
            ("rx_desc", w.rx_desc != nw.rx_desc),
            ("tx_desc", w.tx_desc != nw.tx_desc),
            ("tx_drain_us", w.tx_drain_us != nw.tx_drain_us),
            ("mbufs", w.mbufs != nw.mbufs),
            ("idle_sleep_us", w.idle_sleep_us != nw.idle_sleep_us),
        ],
    )?;
    first_change(
        "tables",
        &[(
            "fdb_capacity",
            old.tables.fdb_capacity != new.tables.fdb_capacity,
        )],
    )?;
    first_change(
        "api",
        &[
            ("listen", old.api.listen != new.api.listen),
            ("token", old.api.token != new.api.token),
        ],
    )?;
    let mac_age_secs =
        (old.tables.mac_age_secs != new.tables.mac_age_secs).then_some(new.tables.mac_age_secs);
    match (&old.mode, &new.mode) {
        (Mode::CrossConnect { ports: a }, Mode::CrossConnect { ports: b }) => {
            if a != b {
                return Err(restart("xconnect.ports"));
            }
            Ok(ReloadPlan {
                mac_age_secs,
                ..ReloadPlan::default()
            })
        }
        (Mode::Gateway(a), Mode::Gateway(b)) => {
            let mut p = gateway(a, b)?;
            p.mac_age_secs = mac_age_secs;
            Ok(p)
        }
        _ => Err(restart("the mode ([underlay] vs [xconnect])")),
    }
}

fn gateway(old: &GatewayConfig, new: &GatewayConfig) -> Result<ReloadPlan, NeedsRestart> {
    let (u, nu) = (&old.underlay, &new.underlay);
    first_change(
        "underlay",
        &[
            ("port", u.port != nu.port),
            ("addresses", u.addresses != nu.addresses),
            ("next_hop", u.next_hops != nu.next_hops),
            ("next_hop_mac", u.next_hop_mac != nu.next_hop_mac),
            ("mtu", u.mtu != nu.mtu),
            ("vxlan_port", u.vxlan_port != nu.vxlan_port),
            ("ttl", u.ttl != nu.ttl),
            ("dscp", u.dscp != nu.dscp),
            ("source_port_range", u.source_ports != nu.source_ports),
            (
                "neighbor_timeout_secs",
                u.neighbor_timeout_secs != nu.neighbor_timeout_secs,
            ),
        ],
    )?;
    // The workers hold the priority maps from their start, as they hold `underlay.dscp`.
    first_change(
        "qos",
        &[
            ("pcp_to_dscp", old.qos.pcp_to_dscp != new.qos.pcp_to_dscp),
            ("dscp_to_pcp", old.qos.dscp_to_pcp != new.qos.dscp_to_pcp),
        ],
    )?;
    if old.access.len() != new.access.len() {
        return Err(restart("access (the number of access ports)"));
    }
    for (i, (a, b)) in old.access.iter().zip(&new.access).enumerate() {
        first_change(
            &format!("access[{i}]"),
            &[("port", a.port != b.port), ("mtu", a.mtu != b.mtu)],
        )?;
    }
    let native = |g: &GatewayConfig, vni: Vni| -> Vec<bool> {
        g.access
            .iter()
            .map(|a| a.untagged_vni == Some(vni))
            .collect()
    };

    // The workers hold the gateway and router MACs and the ICMP/resolution rates from
    // their start.
    let fixed = |r: &Option<Box<RoutingConfig>>| {
        r.as_ref().map(|r| {
            (
                r.gateway_mac,
                r.icmp_errors_pps,
                r.resolve_pps,
                r.router_mac,
            )
        })
    };
    let (r, nr) = (fixed(&old.routing), fixed(&new.routing));
    if r.is_some() != nr.is_some() {
        return Err(restart("vrf (routing switched on or off)"));
    }
    first_change(
        "routing",
        &[
            ("gateway_mac", r.map(|r| r.0) != nr.map(|r| r.0)),
            ("icmp_errors_pps", r.map(|r| r.1) != nr.map(|r| r.1)),
            ("resolve_pps", r.map(|r| r.2) != nr.map(|r| r.2)),
            ("router_mac", r.map(|r| r.3) != nr.map(|r| r.3)),
        ],
    )?;
    let old_vnis: BTreeMap<Vni, &VniConfig> = old.vnis.iter().map(|v| (v.id, v)).collect();
    let new_vnis: BTreeMap<Vni, &VniConfig> = new.vnis.iter().map(|v| (v.id, v)).collect();
    let mut p = ReloadPlan {
        routing: (old.routing != new.routing).then(|| new.routing.as_deref().cloned()),
        policy: (old.policy != new.policy).then(|| new.policy.as_deref().cloned()),
        ..ReloadPlan::default()
    };
    for (id, v) in &old_vnis {
        match new_vnis.get(id) {
            None => p.vnis_removed.push(*id),
            Some(n) if *n != *v || native(old, *id) != native(new, *id) => {
                p.vnis_changed.push((*n).clone())
            }
            Some(_) => {}
        }
    }
    for (id, v) in &new_vnis {
        if !old_vnis.contains_key(id) {
            p.vnis_added.push((*v).clone());
        }
    }

    let old_fdb: BTreeMap<_, _> = old.fdb.iter().map(|f| ((f.vni, f.mac), f)).collect();
    let new_fdb: BTreeMap<_, _> = new.fdb.iter().map(|f| ((f.vni, f.mac), f)).collect();
    for (k, f) in &old_fdb {
        // Entries of a removed VNI go with it.
        if !new_fdb.contains_key(k) && new_vnis.contains_key(&k.0) {
            p.fdb_removed.push((*f).clone());
        }
    }
    for (k, f) in &new_fdb {
        let recreated = p.vnis_added.iter().any(|v| v.id == k.0)
            || p.vnis_changed
                .iter()
                .any(|v| v.id == k.0 && old_vnis.get(&v.id).is_some_and(|o| o.encap != v.encap));
        if old_fdb.get(k) != Some(f) || recreated {
            p.fdb_set.push((*f).clone());
        }
    }

    let old_arp: BTreeMap<_, _> = old.arp.iter().map(|a| ((a.vni, a.ip), a)).collect();
    let new_arp: BTreeMap<_, _> = new.arp.iter().map(|a| ((a.vni, a.ip), a)).collect();
    for (k, a) in &old_arp {
        if !new_arp.contains_key(k) && new_vnis.contains_key(&k.0) {
            p.arp_removed.push((*a).clone());
        }
    }
    for (k, a) in &new_arp {
        let recreated = p.vnis_added.iter().any(|v| v.id == k.0)
            || p.vnis_changed
                .iter()
                .any(|v| v.id == k.0 && old_vnis.get(&v.id).is_some_and(|o| o.encap != v.encap));
        if old_arp.get(k) != Some(a) || recreated {
            p.arp_set.push((*a).clone());
        }
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    const BASE: &str = r#"
[underlay]
port = "u"
addresses = ["10.0.0.1/24"]
next_hop_mac = "02:00:00:00:00:fe"
[[access]]
port = "a"
untagged_vni = 100
[[vni]]
id = 100
vlan = 10
flood = ["10.0.0.2"]
[[vni]]
id = 200
vlan = 20
[[fdb]]
vni = 100
mac = "02:00:00:00:00:01"
remote = "10.0.0.2"
"#;

    fn config(extra: &str, replace: (&str, &str)) -> Config {
        parse(&format!("{}{extra}", BASE.replace(replace.0, replace.1))).unwrap()
    }

    #[test]
    fn same_file_changes_nothing() {
        let c = config("", ("", ""));
        assert!(plan(&c, &c).unwrap().is_empty());
    }

    #[test]
    fn added_removed_and_changed_vnis() {
        let old = config("", ("", ""));
        let new = config(
            "[[vni]]\nid = 300\nvlan = 30\n",
            ("flood = [\"10.0.0.2\"]", "flood = [\"10.0.0.3\"]"),
        );
        let p = plan(&old, &new).unwrap();
        assert_eq!(
            p.vnis_added.iter().map(|v| v.id.get()).collect::<Vec<_>>(),
            vec![300]
        );
        assert_eq!(
            p.vnis_changed
                .iter()
                .map(|v| v.id.get())
                .collect::<Vec<_>>(),
            vec![100]
        );
        assert!(p.vnis_removed.is_empty());
        let gone = parse(&BASE.replace("[[vni]]\nid = 200\nvlan = 20\n", "")).unwrap();
        assert_eq!(
            plan(&old, &gone).unwrap().vnis_removed,
            vec![Vni::new(200).unwrap()]
        );
    }

    #[test]
    fn static_entries_diff() {
        let old = config("", ("", ""));
        let new = config(
            "[[fdb]]\nvni = 200\nmac = \"02:00:00:00:00:02\"\nport = \"a\"\n",
            ("mac = \"02:00:00:00:00:01\"", "mac = \"02:00:00:00:00:03\""),
        );
        let p = plan(&old, &new).unwrap();
        assert_eq!(p.fdb_removed.len(), 1);
        assert_eq!(p.fdb_set.len(), 2);
    }

    #[test]
    fn native_vni_change_updates_both_vnis() {
        let old = config("", ("", ""));
        let new = config("", ("untagged_vni = 100", "untagged_vni = 200"));
        let p = plan(&old, &new).unwrap();
        let mut ids: Vec<u32> = p.vnis_changed.iter().map(|v| v.id.get()).collect();
        ids.sort();
        assert_eq!(ids, vec![100, 200]);
    }

    #[test]
    fn ports_and_addresses_need_a_restart() {
        let old = config("", ("", ""));
        let e = plan(&old, &config("", ("10.0.0.1/24", "10.0.0.9/24"))).unwrap_err();
        assert_eq!(e.key, "underlay.addresses");
        let e = plan(&old, &config("", ("port = \"a\"", "port = \"b\""))).unwrap_err();
        assert_eq!(e.key, "access[0].port");
        let e = plan(&old, &config("[workers]\nburst = 64\n", ("", ""))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "workers.burst changed: restart vtepd to change it (nothing was applied)"
        );
        let qos = "[qos]\npcp_to_dscp = \"class-selector\"\n";
        let e = plan(&old, &config(qos, ("", ""))).unwrap_err();
        assert_eq!(e.key, "qos.pcp_to_dscp");
    }

    #[test]
    fn mac_age_changes_live() {
        let old = config("", ("", ""));
        let new = config("[tables]\nmac_age_secs = 60\n", ("", ""));
        assert_eq!(plan(&old, &new).unwrap().mac_age_secs, Some(60));
    }
}
