//! Configuration text: `config::parse` must answer Ok or Err for any bytes, never panic. What
//! parses then goes through everything the daemon does with a configuration:
//! - the tables (`authority_from_config`, `params`, a worker replica filled from them);
//! - the API's view of each VNI (`admin::vni_json`) reads back as the same VNI
//!   (`config::vni_from_json`);
//! - `reload::plan` of a configuration against itself is empty, and against the harness's
//!   gateway either way round answers without panicking;
//! - a reload (`admin::reload`) from the harness's running gateway to it, on a real
//!   `TableManager`: if it succeeds, the tables hold exactly what a fresh start from the new
//!   file would (VNIs, static MACs, static bindings, tunnels), and the worker applies the
//!   updates; if it is refused, nothing changed.
//!
//! `api.token_file` makes the parser read a file: inputs naming one are skipped (a fuzzer
//! would find `/dev/zero`).

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use vtepd::config;
use vtepd::control::admin;
use vtepd::control::gateway::{authority_from_config, params};
use vtepd::control::reload;
use vtepd::pipeline::OffloadCaps;
use vtepd_fuzz::{gateway_of, mgmt_pool, static_state, Base, FDB_CAPACITY, GATEWAY, GW_MAC};

fn base() -> &'static Base {
    static B: OnceLock<Base> = OnceLock::new();
    B.get_or_init(|| Base::new(GATEWAY, GW_MAC))
}

vtepd_fuzz::eal_leak_suppressions!();

// EAL and the tables before the first input: what they allocate once is not a leak.
fuzz_target!(init: { base(); mgmt_pool(); }, |data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(t) = text.parse::<toml::Table>() {
        if t.get("api").and_then(|a| a.get("token_file")).is_some() {
            return;
        }
    }
    let Ok(new) = config::parse(text) else {
        return;
    };

    let own = reload::plan(&new, &new).expect("a configuration against itself");
    assert!(own.is_empty(), "a configuration differs from itself: {own:?}");

    if let Some(g) = gateway_of(&new) {
        for v in &g.vnis {
            let json = admin::vni_json(v);
            assert_eq!(
                config::vni_from_json(json.clone(), g).as_ref(),
                Ok(v),
                "the API's view of a VNI does not read back: {json}"
            );
        }
        if let Ok(a) = authority_from_config(g, GW_MAC, FDB_CAPACITY) {
            let _ = params(g, GW_MAC, OffloadCaps::default());
            let _ = a.replica(1 + g.access.len(), FDB_CAPACITY);
        }
    }

    let b = base();
    let _ = reload::plan(&b.full, &new);
    let _ = reload::plan(&new, &b.full);

    let mut node = b.node();
    let mut m = b.manager(&node);
    let mut running = b.full.clone();
    let before = static_state(&m.authority);
    match admin::reload(&mut running, Some(&mut m), new.clone()) {
        Ok(_) => {
            assert_eq!(running, new, "the running configuration is not the new one");
            let g = gateway_of(&new).expect("a reload to a cross-connect was refused");
            if let Ok(fresh) = authority_from_config(g, GW_MAC, FDB_CAPACITY) {
                assert_eq!(
                    static_state(&m.authority),
                    static_state(&fresh),
                    "the tables after a reload differ from a fresh start"
                );
            }
            node.gw.apply_updates(usize::MAX);
        }
        Err(e) => {
            assert!((400..600).contains(&e.status), "{e:?}");
            assert_eq!(running, b.full, "a refused reload changed the configuration");
            assert_eq!(
                static_state(&m.authority),
                before,
                "a refused reload changed the tables"
            );
        }
    }
});
