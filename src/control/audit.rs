//! The audit log: one line for every change made to the tables through the API or a reload,
//! saying who made it and what it was (the log line's timestamp says when). It goes to the
//! `vtepd::audit` tracing target, so operators can route it apart
//! (`RUST_LOG`-style filters, journald matching on the target).

use crate::config::{FdbDest, StaticArp, StaticFdb};

use super::api::ApiOp;
use super::reload::ReloadPlan;

/// What a changing API call asks for, one line per change (a bulk call's entries each on
/// their own), JSON bodies compact as sent.
pub fn describe(op: &ApiOp) -> Vec<String> {
    match op {
        ApiOp::AddFdbBulk(entries) => entries.iter().map(|e| format!("fdb add {e}")).collect(),
        other => vec![describe_one(other)],
    }
}

fn describe_one(op: &ApiOp) -> String {
    match op {
        ApiOp::AddVni(body) => format!("vni add {body}"),
        ApiOp::ReplaceVni(id, body) => format!("vni {id} replace {body}"),
        ApiOp::PatchVni(id, body) => format!("vni {id} patch {body}"),
        ApiOp::SetFlood(id, list) => format!("vni {id} flood {list}"),
        ApiOp::SetAllowedVteps(id, list) => format!("vni {id} allowed_vteps {list}"),
        ApiOp::DeleteVni(id) => format!("vni {id} delete"),
        ApiOp::Flush { vni, all } => {
            format!("vni {vni} flush {}", if *all { "all" } else { "learned" })
        }
        ApiOp::AddFdb(body) => format!("fdb add {body}"),
        ApiOp::DeleteFdb { vni, mac } => format!("fdb delete vni {vni} mac {mac}"),
        ApiOp::AddArp(body) => format!("arp add {body}"),
        ApiOp::DeleteArp { vni, ip } => format!("arp delete vni {vni} ip {ip}"),
        other => format!("{other:?}"),
    }
}

fn fdb(f: &StaticFdb) -> String {
    let at = match &f.dest {
        FdbDest::Remote(ip) => format!("remote {ip}"),
        FdbDest::Access(port) => format!("port {port}"),
    };
    format!("vni {} mac {} {at}", f.vni, f.mac)
}

fn arp(a: &StaticArp) -> String {
    format!("vni {} ip {} mac {}", a.vni, a.ip, a.mac)
}

/// One line per static entry and VNI a reload changes.
pub fn reload_lines(plan: &ReloadPlan) -> Vec<String> {
    let mut out = Vec::new();
    out.extend(
        plan.vnis_removed
            .iter()
            .map(|id| format!("vni {id} delete")),
    );
    out.extend(
        plan.vnis_changed
            .iter()
            .map(|v| format!("vni {} change", v.id)),
    );
    out.extend(plan.vnis_added.iter().map(|v| format!("vni {} add", v.id)));
    out.extend(
        plan.fdb_removed
            .iter()
            .map(|f| format!("fdb delete {}", fdb(f))),
    );
    out.extend(plan.fdb_set.iter().map(|f| format!("fdb set {}", fdb(f))));
    out.extend(
        plan.arp_removed
            .iter()
            .map(|a| format!("arp delete {}", arp(a))),
    );
    out.extend(plan.arp_set.iter().map(|a| format!("arp set {}", arp(a))));
    if plan.routing.is_some() {
        out.push("routing (VRFs, routes) replaced".to_owned());
    }
    match &plan.policy {
        Some(Some(p)) => out.push(format!(
            "policy replaced: {} group(s), {} rule(s), default between {} within {}",
            p.groups.len(),
            p.rules.len(),
            p.default_between,
            p.default_within
        )),
        Some(None) => out.push("policy removed".to_owned()),
        None => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_described_with_their_bodies() {
        let body =
            serde_json::json!({"vni": 5000, "mac": "02:00:00:00:00:01", "remote": "10.0.0.2"});
        assert_eq!(
            describe(&ApiOp::AddFdb(body.clone())),
            [r#"fdb add {"mac":"02:00:00:00:00:01","remote":"10.0.0.2","vni":5000}"#]
        );
        assert_eq!(
            describe(&ApiOp::DeleteArp {
                vni: 5000,
                ip: "192.168.1.9".into()
            }),
            ["arp delete vni 5000 ip 192.168.1.9"]
        );
        assert_eq!(
            describe(&ApiOp::AddFdbBulk(vec![body.clone(), body])).len(),
            2
        );
    }
}
