//! Changes to a running gateway: the API's edits and configuration reloads.
//!
//! The running configuration and the authoritative tables change together: every operation
//! validates its whole input against the running configuration first (with the file's
//! rules and error messages), then applies it to the tables, whose changes go to the
//! workers. A refused request changes nothing.

use std::net::IpAddr;

use crate::config::{
    self, Config, ConfigError, FdbDest, GatewayConfig, Mode, StaticArp, StaticFdb, VniConfig,
};
use crate::tables::authority::{members, Change, TableError};
use crate::tables::update::Location;
use crate::tables::PortIndex;
use crate::wire::{MacAddr, Vni};

use super::reload::{self, ReloadPlan};
use super::tables::TableManager;

/// Why an administrative change was refused, with the HTTP status that says so.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct AdminError {
    pub status: u16,
    pub message: String,
}

impl AdminError {
    fn new(status: u16, message: impl Into<String>) -> AdminError {
        AdminError {
            status,
            message: message.into(),
        }
    }
}

impl From<ConfigError> for AdminError {
    fn from(e: ConfigError) -> Self {
        AdminError::new(400, e.to_string())
    }
}

impl From<TableError> for AdminError {
    fn from(e: TableError) -> Self {
        let status = match e {
            TableError::UnknownVni(_) | TableError::NotFound(_) => 404,
            TableError::VniExists(_) | TableError::Static(_) => 409,
            TableError::TooManyVnis | TableError::TooManyTunnels | TableError::FdbFull(_) => 507,
            _ => 400,
        };
        AdminError::new(status, e.to_string())
    }
}

/// The running gateway configuration, or 409 for a cross-connect.
fn gateway(config: &mut Config) -> Result<&mut GatewayConfig, AdminError> {
    match &mut config.mode {
        Mode::Gateway(g) => Ok(g),
        Mode::CrossConnect { .. } => Err(AdminError::new(
            409,
            "this vtepd runs a cross-connect: it has no tables",
        )),
    }
}

fn access_ports(g: &GatewayConfig) -> Vec<(PortIndex, Option<Vni>)> {
    g.access
        .iter()
        .enumerate()
        .map(|(i, a)| {
            (
                PortIndex::try_from(i + 1).unwrap_or(PortIndex::MAX),
                a.untagged_vni,
            )
        })
        .collect()
}

/// The checks a `[[vni]]` gets across tables: a unique VLAN, and a way to reach it.
fn check_vni(g: &GatewayConfig, v: &VniConfig) -> Result<(), AdminError> {
    if let Some(vlan) = v.vlan {
        if let Some(other) = g.vnis.iter().find(|o| o.id != v.id && o.vlan == Some(vlan)) {
            return Err(AdminError::new(
                409,
                format!(
                    "vni.vlan: VLAN {vlan} is already mapped to VNI {}",
                    other.id
                ),
            ));
        }
    }
    // A routed VNI is reached through the gateway, as in the file (config/validate.rs).
    if v.vlan.is_none() && v.vrf.is_none() && !g.access.iter().any(|a| a.untagged_vni == Some(v.id))
    {
        return Err(AdminError::new(
            400,
            format!(
                "vni.vlan: VNI {} needs a vlan or a vrf (no access port has it as untagged_vni)",
                v.id
            ),
        ));
    }
    Ok(())
}

/// A VRF's L3VNI comes from `[[vrf]] l3vni` and changes with it, not through VNI calls.
fn refuse_l3vni(g: &GatewayConfig, id: Vni) -> Result<(), AdminError> {
    match g.vnis.iter().find(|v| v.id == id && v.l3) {
        Some(v) => Err(AdminError::new(
            409,
            format!(
                "VNI {id} is VRF {:?}'s L3VNI ([[vrf]] l3vni): change the configuration and reload",
                v.vrf.as_deref().unwrap_or_default()
            ),
        )),
        None => Ok(()),
    }
}

fn vni_id(id: u32) -> Result<Vni, AdminError> {
    Vni::new(id).ok_or_else(|| AdminError::new(400, format!("vni: {id} does not fit in 24 bits")))
}

/// `POST /vnis`.
pub fn add_vni(
    config: &mut Config,
    m: &mut TableManager,
    body: serde_json::Value,
) -> Result<VniConfig, AdminError> {
    let g = gateway(config)?;
    let v = config::vni_from_json(body, g)?;
    if g.vnis.iter().any(|o| o.id == v.id) {
        return Err(AdminError::new(
            409,
            format!("vni.id: VNI {} already exists", v.id),
        ));
    }
    check_vni(g, &v)?;
    let changes = m.authority.add_vni(&v, members(&v, &access_ports(g)))?;
    m.fanout(&changes);
    g.vnis.push(v.clone());
    tracing::info!("api: added VNI {}", v.id);
    Ok(v)
}

/// `PUT /vnis/{id}`: the whole VNI, its MAC table kept (unless the encapsulation changes).
pub fn replace_vni(
    config: &mut Config,
    m: &mut TableManager,
    id: u32,
    mut body: serde_json::Value,
) -> Result<VniConfig, AdminError> {
    let g = gateway(config)?;
    let id = vni_id(id)?;
    refuse_l3vni(g, id)?;
    if let Some(obj) = body.as_object_mut() {
        match obj.get("id") {
            None => {
                obj.insert("id".into(), serde_json::json!(id.get()));
            }
            Some(given) if given.as_u64() != Some(u64::from(id.get())) => {
                return Err(AdminError::new(
                    400,
                    format!("vni.id: {given} differs from the URL's {id}"),
                ));
            }
            Some(_) => {}
        }
    }
    let v = config::vni_from_json(body, g)?;
    let pos = g
        .vnis
        .iter()
        .position(|o| o.id == v.id)
        .ok_or_else(|| AdminError::new(404, format!("VNI {id} is not configured")))?;
    check_vni(g, &v)?;
    let recreated = g.vnis.get(pos).is_some_and(|old| old.encap != v.encap);
    let mut changes = m.authority.update_vni(&v, members(&v, &access_ports(g)))?;
    if recreated {
        // A new encapsulation re-creates the VNI's tables: its static entries and bindings
        // come back, behind tunnels of the new encapsulation.
        for f in g.fdb.iter().filter(|f| f.vni == v.id) {
            let at = location(g, m, f)?;
            changes.extend(m.authority.set_static_fdb(f.vni, f.mac, at)?);
        }
        for a in g.arp.iter().filter(|a| a.vni == v.id) {
            changes.extend(m.authority.set_static_binding(a.vni, a.ip, a.mac)?);
        }
    }
    m.fanout(&changes);
    if let Some(slot) = g.vnis.get_mut(pos) {
        *slot = v.clone();
    }
    tracing::info!("api: changed VNI {}", v.id);
    Ok(v)
}

/// `PATCH /vnis/{id}`: the settings in `patch` changed, the others kept (JSON merge patch,
/// RFC 7396: a `null` removes a setting). Applied to the VNI as the management thread holds
/// it, so two patches of one VNI at once both take effect. A patch that gives `flood` drops
/// the VNI's `multicast_group` unless it gives that too, and the other way round.
pub fn patch_vni(
    config: &mut Config,
    m: &mut TableManager,
    id: u32,
    patch: serde_json::Value,
) -> Result<VniConfig, AdminError> {
    let current = {
        let g = gateway(config)?;
        let vid = vni_id(id)?;
        refuse_l3vni(g, vid)?;
        g.vnis
            .iter()
            .find(|v| v.id == vid)
            .map(vni_json)
            .ok_or_else(|| AdminError::new(404, format!("VNI {id} is not configured")))?
    };
    let serde_json::Value::Object(changes) = patch else {
        return Err(AdminError::new(
            400,
            "vni: expected a JSON object of the settings to change (a null removes one)",
        ));
    };
    let serde_json::Value::Object(mut merged) = current else {
        return Err(AdminError::new(
            500,
            "vni: current settings are not an object",
        ));
    };
    for (exclusive, other) in [("flood", "multicast_group"), ("multicast_group", "flood")] {
        if changes.contains_key(exclusive) && !changes.contains_key(other) {
            merged.remove(other);
        }
    }
    for (key, value) in changes {
        if value.is_null() {
            merged.remove(&key);
        } else {
            merged.insert(key, value);
        }
    }
    replace_vni(config, m, id, serde_json::Value::Object(merged))
}

/// `PUT /vnis/{id}/flood` and `PUT /vnis/{id}/allowed_vteps`: one list replaced.
pub fn set_list(
    config: &mut Config,
    m: &mut TableManager,
    id: u32,
    field: &str,
    list: serde_json::Value,
) -> Result<VniConfig, AdminError> {
    if !list.is_array() {
        return Err(AdminError::new(
            400,
            format!("vni.{field}: expected a list of addresses"),
        ));
    }
    patch_vni(config, m, id, serde_json::json!({ field: list }))
}

/// `DELETE /vnis/{id}`: the VNI with its MACs and bindings, static ones included.
pub fn delete_vni(config: &mut Config, m: &mut TableManager, id: u32) -> Result<(), AdminError> {
    let g = gateway(config)?;
    let id = vni_id(id)?;
    if !g.vnis.iter().any(|v| v.id == id) {
        return Err(AdminError::new(404, format!("VNI {id} is not configured")));
    }
    refuse_l3vni(g, id)?;
    if g.access.iter().any(|a| a.untagged_vni == Some(id)) {
        return Err(AdminError::new(
            409,
            format!(
                "VNI {id} is an access port's untagged_vni: change the configuration and reload"
            ),
        ));
    }
    let changes = m.authority.remove_vni(id)?;
    m.fanout(&changes);
    g.vnis.retain(|v| v.id != id);
    g.fdb.retain(|f| f.vni != id);
    g.arp.retain(|a| a.vni != id);
    tracing::info!("api: removed VNI {id}");
    Ok(())
}

/// `POST /vnis/{id}/flush`: learned MACs (or all, static included) of a VNI.
pub fn flush(
    config: &mut Config,
    m: &mut TableManager,
    id: u32,
    all: bool,
) -> Result<usize, AdminError> {
    let g = gateway(config)?;
    let id = vni_id(id)?;
    let before = m.authority.fdb_len();
    let changes = m.authority.flush(id, !all)?;
    m.fanout(&changes);
    if all {
        g.fdb.retain(|f| f.vni != id);
    }
    Ok(before.saturating_sub(m.authority.fdb_len()))
}

fn location(g: &GatewayConfig, m: &TableManager, f: &StaticFdb) -> Result<Location, AdminError> {
    Ok(match &f.dest {
        FdbDest::Remote(ip) => {
            let encap = m
                .authority
                .vni_config(f.vni)
                .map(|v| v.encap)
                .ok_or(TableError::UnknownVni(f.vni))?;
            Location::Remote { vtep: *ip, encap }
        }
        FdbDest::Access(name) => {
            let i = g
                .access
                .iter()
                .position(|a| &a.port == name)
                .ok_or_else(|| {
                    AdminError::new(400, format!("fdb.port: {name:?} is not an access port"))
                })?;
            Location::Access(PortIndex::try_from(i + 1).unwrap_or(PortIndex::MAX))
        }
    })
}

/// `POST /fdb`: a static MAC entry (replacing a learned or static one).
pub fn add_fdb(
    config: &mut Config,
    m: &mut TableManager,
    body: serde_json::Value,
) -> Result<StaticFdb, AdminError> {
    let g = gateway(config)?;
    let f = config::fdb_from_json(body, g)?;
    let at = location(g, m, &f)?;
    let changes = m.authority.set_static_fdb(f.vni, f.mac, at)?;
    m.fanout(&changes);
    g.fdb.retain(|o| (o.vni, o.mac) != (f.vni, f.mac));
    g.fdb.push(f.clone());
    Ok(f)
}

/// `POST /fdb/bulk`: static entries given as `POST /fdb` takes them, checked all before any
/// is applied, applied whole or not at all, sent to the workers in one fan-out; returns how
/// many. An error names the entry's line (`line 3: fdb.mac: ...`).
pub fn add_fdb_bulk(
    config: &mut Config,
    m: &mut TableManager,
    entries: Vec<serde_json::Value>,
) -> Result<usize, AdminError> {
    let g = gateway(config)?;
    let mut wanted: Vec<(StaticFdb, Location)> = Vec::with_capacity(entries.len());
    let mut keys = std::collections::HashSet::with_capacity(entries.len());
    for (i, body) in entries.into_iter().enumerate() {
        let line =
            |e: AdminError| AdminError::new(e.status, format!("line {}: {}", i + 1, e.message));
        let f = config::fdb_from_json(body, g).map_err(|e| line(e.into()))?;
        let at = location(g, m, &f).map_err(line)?;
        if !keys.insert((f.vni, f.mac)) {
            return Err(line(AdminError::new(
                400,
                format!("fdb.mac: {} in VNI {} is given twice", f.mac, f.vni),
            )));
        }
        wanted.push((f, at));
    }
    let saved = m.authority.clone();
    let mut changes = Vec::with_capacity(wanted.len());
    for (i, (f, at)) in wanted.iter().enumerate() {
        match m.authority.set_static_fdb(f.vni, f.mac, *at) {
            Ok(c) => changes.extend(c),
            Err(e) => {
                // A table limit half-way: nothing of the call stays.
                m.authority = saved;
                let e = AdminError::from(e);
                return Err(AdminError::new(
                    e.status,
                    format!("line {}: {}", i + 1, e.message),
                ));
            }
        }
    }
    m.fanout(&changes);
    g.fdb.retain(|o| !keys.contains(&(o.vni, o.mac)));
    let n = wanted.len();
    g.fdb.extend(wanted.into_iter().map(|(f, _)| f));
    tracing::info!("api: {n} static MAC entries added in bulk");
    Ok(n)
}

/// `DELETE /fdb/{vni}/{mac}`: any entry, static or learned.
pub fn delete_fdb(
    config: &mut Config,
    m: &mut TableManager,
    vni: u32,
    mac: &str,
) -> Result<(), AdminError> {
    let g = gateway(config)?;
    let vni = vni_id(vni)?;
    let mac: MacAddr = mac
        .parse()
        .map_err(|e: crate::wire::ethernet::ParseMacError| {
            AdminError::new(400, format!("mac: {e}"))
        })?;
    let changes = m.authority.remove_fdb(vni, mac)?;
    m.fanout(&changes);
    g.fdb.retain(|o| (o.vni, o.mac) != (vni, mac));
    Ok(())
}

/// `POST /arp`: a static IP→MAC binding.
pub fn add_arp(
    config: &mut Config,
    m: &mut TableManager,
    body: serde_json::Value,
) -> Result<StaticArp, AdminError> {
    let g = gateway(config)?;
    let a = config::arp_from_json(body, g)?;
    let changes = m.authority.set_static_binding(a.vni, a.ip, a.mac)?;
    m.fanout(&changes);
    g.arp.retain(|o| (o.vni, o.ip) != (a.vni, a.ip));
    g.arp.push(a.clone());
    Ok(a)
}

/// `DELETE /arp/{vni}/{ip}`.
pub fn delete_arp(
    config: &mut Config,
    m: &mut TableManager,
    vni: u32,
    ip: &str,
) -> Result<(), AdminError> {
    let g = gateway(config)?;
    let vni = vni_id(vni)?;
    let ip: IpAddr = ip
        .parse()
        .map_err(|_| AdminError::new(400, format!("ip: {ip:?} is not an IPv4 or IPv6 address")))?;
    let changes = m.authority.remove_binding(vni, ip)?;
    m.fanout(&changes);
    g.arp.retain(|o| (o.vni, o.ip) != (vni, ip));
    Ok(())
}

/// Applies a new configuration: validated first, refused whole if anything needs a restart,
/// else only the differences reach the tables.
pub fn reload(
    config: &mut Config,
    manager: Option<&mut TableManager>,
    new: Config,
) -> Result<ReloadPlan, AdminError> {
    let plan = reload::plan(config, &new).map_err(|e| AdminError::new(409, e.to_string()))?;
    if let (Some(m), Mode::Gateway(g)) = (manager, &new.mode) {
        // Whole or nothing: the new file is consistent (it validated), so only a resource
        // limit can fail half-way; then the tables are put back as they were.
        let saved = m.authority.clone();
        match apply_plan(m, g, &plan) {
            Ok(changes) => {
                for line in super::audit::reload_lines(&plan) {
                    tracing::info!(target: "vtepd::audit", "audit: reload: {line}");
                }
                m.fanout(&changes);
            }
            Err(e) => {
                m.authority = saved;
                return Err(e);
            }
        }
        // After the tables, so a rule's new segments are there when it applies. The file's
        // policy built when it was validated: only the classifier's memory can fail here.
        if let Some(policy) = &plan.policy {
            m.set_policy(policy.as_ref()).map_err(|e| {
                AdminError::new(
                    500,
                    format!("tables reloaded, but the new policy could not be built: {e}"),
                )
            })?;
        }
        if let Some(age) = plan.mac_age_secs {
            m.set_mac_age(age);
        }
    }
    *config = new;
    Ok(plan)
}

fn apply_plan(
    m: &mut TableManager,
    g: &GatewayConfig,
    plan: &ReloadPlan,
) -> Result<Vec<Change>, AdminError> {
    let mut changes: Vec<Change> = Vec::new();
    let ports = access_ports(g);
    for id in &plan.vnis_removed {
        changes.extend(m.authority.remove_vni(*id)?);
    }
    for v in &plan.vnis_changed {
        changes.extend(m.authority.update_vni(v, members(v, &ports))?);
    }
    for v in &plan.vnis_added {
        changes.extend(m.authority.add_vni(v, members(v, &ports))?);
    }
    for f in &plan.fdb_removed {
        if m.authority.mac(f.vni, f.mac).is_some_and(|r| r.is_static()) {
            changes.extend(m.authority.remove_fdb(f.vni, f.mac)?);
        }
    }
    for f in &plan.fdb_set {
        let at = location(g, m, f)?;
        changes.extend(m.authority.set_static_fdb(f.vni, f.mac, at)?);
    }
    for a in &plan.arp_removed {
        if m.authority
            .binding(a.vni, a.ip)
            .is_some_and(|b| b.is_static)
        {
            changes.extend(m.authority.remove_binding(a.vni, a.ip)?);
        }
    }
    for a in &plan.arp_set {
        changes.extend(m.authority.set_static_binding(a.vni, a.ip, a.mac)?);
    }
    if let Some(routing) = &plan.routing {
        changes.extend(m.authority.set_routing(routing.clone()));
    }
    Ok(changes)
}

/// A VNI as the API shows it and takes it: the fields of a `[[vni]]` table.
pub fn vni_json(v: &VniConfig) -> serde_json::Value {
    let mut o = serde_json::json!({
        "id": v.id.get(),
        "encap": v.encap.to_string(),
        "flood": v.flood.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "learning": v.learning,
        "arp_suppression": v.arp_suppression,
        "control": v.control.to_string(),
    });
    if let Some(obj) = o.as_object_mut() {
        if let Some(vlan) = v.vlan {
            obj.insert("vlan".into(), serde_json::json!(vlan));
        }
        if let Some(g) = v.multicast_group {
            obj.insert("multicast_group".into(), serde_json::json!(g.to_string()));
        }
        if let Some(port) = v.vxlan_port {
            obj.insert("vxlan_port".into(), serde_json::json!(port));
        }
        if let Some(a) = &v.allowed_vteps {
            obj.insert(
                "allowed_vteps".into(),
                serde_json::json!(a.iter().map(ToString::to_string).collect::<Vec<_>>()),
            );
        }
        if let Some(max) = v.max_macs {
            obj.insert("max_macs".into(), serde_json::json!(max));
        }
        if let Some(rate) = v.bum_rate_pps {
            obj.insert("bum_rate_pps".into(), serde_json::json!(rate));
        }
        if v.learn_only_from_flood {
            obj.insert("learn_only_from_flood".into(), serde_json::json!(true));
        }
        if let Some(vrf) = &v.vrf {
            obj.insert("vrf".into(), serde_json::json!(vrf));
            obj.insert(
                "gateway".into(),
                serde_json::json!(v
                    .gateways
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()),
            );
        }
    }
    o
}
