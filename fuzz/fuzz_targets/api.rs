//! The management API's untrusted input: a sequence of HTTP requests (`METHOD URL`, a
//! newline, the body; requests separated by `~NXT`) through `api::route` (paths, query
//! strings, JSON bodies) and then, as the management loop does, `admin::*` on the harness's
//! gateway with a real `TableManager` (`vni_from_json`, `fdb_from_json`, `arp_from_json`,
//! the cross-table checks, the authority, fan-out to a worker that applies the updates).
//!
//! Besides never panicking, after every request:
//! - a refused request changed neither the running configuration nor the tables;
//! - the tables hold exactly what a fresh start from the running configuration would
//!   (VNIs, static MACs, static bindings, tunnels).

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use vtepd::config::Config;
use vtepd::control::admin::{self, AdminError};
use vtepd::control::api::{server::route, ApiOp};
use vtepd::control::gateway::authority_from_config;
use vtepd::control::tables::TableManager;
use vtepd_fuzz::{
    gateway_of, mgmt_pool, pieces, static_state, Base, FDB_CAPACITY, GATEWAY, GW_MAC,
};

fn base() -> &'static Base {
    static B: OnceLock<Base> = OnceLock::new();
    B.get_or_init(|| Base::new(GATEWAY, GW_MAC))
}

/// `Management::change`, without the answers' bodies.
fn change(config: &mut Config, m: &mut TableManager, op: ApiOp) -> Result<String, AdminError> {
    let json = |v: &vtepd::config::VniConfig| admin::vni_json(v).to_string();
    match op {
        ApiOp::AddVni(body) => admin::add_vni(config, m, body).map(|v| json(&v)),
        ApiOp::ReplaceVni(id, body) => admin::replace_vni(config, m, id, body).map(|v| json(&v)),
        ApiOp::SetFlood(id, list) => {
            admin::set_list(config, m, id, "flood", list).map(|v| json(&v))
        }
        ApiOp::SetAllowedVteps(id, list) => {
            admin::set_list(config, m, id, "allowed_vteps", list).map(|v| json(&v))
        }
        ApiOp::DeleteVni(id) => admin::delete_vni(config, m, id).map(|()| String::new()),
        ApiOp::Flush { vni, all } => admin::flush(config, m, vni, all).map(|n| n.to_string()),
        ApiOp::AddFdb(body) => admin::add_fdb(config, m, body).map(|f| format!("{f:?}")),
        ApiOp::DeleteFdb { vni, mac } => {
            admin::delete_fdb(config, m, vni, &mac).map(|()| String::new())
        }
        ApiOp::AddArp(body) => admin::add_arp(config, m, body).map(|a| format!("{a:?}")),
        ApiOp::DeleteArp { vni, ip } => {
            admin::delete_arp(config, m, vni, &ip).map(|()| String::new())
        }
        // Reads (answered from the running state) and reload (reads the file).
        _ => Ok(String::new()),
    }
}

vtepd_fuzz::eal_leak_suppressions!();

// EAL and the tables before the first input: what they allocate once is not a leak.
fuzz_target!(init: { base(); mgmt_pool(); }, |data: &[u8]| {
    let b = base();
    let mut node = b.node();
    let mut m = b.manager(&node);
    let mut config = b.full.clone();
    for piece in pieces(data) {
        // The server refuses bodies that are not UTF-8.
        let Ok(request) = std::str::from_utf8(piece) else {
            continue;
        };
        let (head, body) = request.split_once('\n').unwrap_or((request, ""));
        let (method, url) = head.split_once(' ').unwrap_or((head, ""));
        let op = match route(method, url, body) {
            Ok(op) => op,
            Err(reply) => {
                assert!((400..500).contains(&reply.status), "{reply:?}");
                continue;
            }
        };
        let (config_before, tables_before) = (config.clone(), static_state(&m.authority));
        if let Err(e) = change(&mut config, &mut m, op) {
            assert!((400..600).contains(&e.status), "{e:?}");
            assert_eq!(config, config_before, "a refused request changed the configuration: {e}");
            assert_eq!(
                static_state(&m.authority),
                tables_before,
                "a refused request changed the tables: {e}"
            );
        }
        let g = gateway_of(&config).expect("still a gateway");
        if let Ok(fresh) = authority_from_config(g, GW_MAC, FDB_CAPACITY) {
            assert_eq!(
                static_state(&m.authority),
                static_state(&fresh),
                "the tables differ from a fresh start with the running configuration"
            );
        }
        node.gw.apply_updates(usize::MAX);
    }
});
