//! What `vtepctl show evpn`, `GET /api/v1/evpn` and `/metrics` show of EVPN.

use std::sync::atomic::Ordering;

use super::Evpn;
use crate::control::api::model::{ArpView, EvpnCounters, EvpnMacView, EvpnView, EvpnVniView};
use crate::tables::authority::{Authority, Origin};
use crate::tables::update::Location;

pub fn view(evpn: &Evpn, authority: &Authority) -> EvpnView {
    let mut vnis: Vec<EvpnVniView> = authority
        .evpn_vnis()
        .map(|vni| {
            let index = authority.vni_index(vni);
            let mut remote_macs: Vec<EvpnMacView> = authority
                .fdb()
                .filter(|(k, r)| Some(k.vni()) == index && r.origin == Origin::Evpn)
                .filter_map(|(k, r)| match r.at {
                    Location::Remote { vtep, .. } => Some(EvpnMacView {
                        mac: k.mac().to_string(),
                        vtep: vtep.to_string(),
                    }),
                    Location::Access(_) => None,
                })
                .collect();
            remote_macs.sort_by(|a, b| a.mac.cmp(&b.mac));
            EvpnVniView {
                vni: vni.get(),
                flood_vteps: authority
                    .evpn_flood(vni)
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
                remote_macs,
                local_macs: evpn
                    .exported_in(vni)
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
                remote_bindings: authority
                    .bindings_of(vni)
                    .into_iter()
                    .filter(|(_, _, o)| *o == Origin::Evpn)
                    .map(|(ip, mac, _)| ArpView {
                        vni: vni.get(),
                        ip: ip.to_string(),
                        mac: mac.to_string(),
                        is_static: false,
                    })
                    .collect(),
            }
        })
        .collect();
    vnis.sort_by_key(|v| v.vni);
    let s = authority.evpn_stats;
    let get = |f: fn(&super::netlink::SyncCounters) -> u64| evpn.counters().map_or(0, f);
    EvpnView {
        namespace: evpn.namespace().to_owned(),
        frr_running: evpn.frr_running(),
        exception: evpn.exception_stats(),
        vnis,
        counters: EvpnCounters {
            macs_installed: s.macs_installed,
            macs_withdrawn: s.macs_withdrawn,
            moved_remote: s.moved_remote,
            moved_local: s.moved_local,
            refused_static: s.refused_static,
            flood_updates: s.flood_updates,
            bindings_installed: s.bindings_installed,
            bindings_withdrawn: s.bindings_withdrawn,
            imported: evpn.imports.imported,
            import_refused: evpn.imports.refused,
            kernel_messages: get(|c| c.kernel_messages.load(Ordering::Relaxed)),
            resyncs: get(|c| c.resyncs.load(Ordering::Relaxed)),
            exported: get(|c| c.exported.load(Ordering::Relaxed)),
            export_withdrawn: get(|c| c.withdrawn.load(Ordering::Relaxed)),
            export_errors: get(|c| c.write_errors.load(Ordering::Relaxed)),
        },
    }
}
