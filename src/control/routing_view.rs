//! What `vtepctl show vrf|route`, `GET /api/v1/vrfs|routes` and `/metrics` show of the L3
//! gateway: the authority's VRFs and routes with the workers' counters summed.

use crate::control::api::model::{RouteView, VrfCountersView, VrfView};
use crate::dataplane::counters::{RouteCounters, VrfCounters};
use crate::dataplane::SharedCounters;
use crate::tables::authority::{Authority, RouteKind};
use crate::tables::route::{RouteSlot, VrfIndex};

pub fn vrfs(authority: &Authority, workers: &[SharedCounters]) -> Vec<VrfView> {
    let routes = authority.routes();
    authority
        .vrfs()
        .into_iter()
        .map(|(name, id, index)| {
            let in_vrf = |c: &&crate::config::VniConfig| c.vrf.as_deref() == Some(name.as_str());
            let mut vnis: Vec<u32> = authority
                .vnis()
                .filter(|(_, _, c)| in_vrf(c) && !c.l3)
                .map(|(id, _, _)| id.get())
                .collect();
            let l3vni = authority
                .vnis()
                .find(|(_, _, c)| in_vrf(c) && c.l3)
                .map(|(id, _, _)| id.get());
            vnis.sort_unstable();
            VrfView {
                routes: routes
                    .iter()
                    .filter(|r| r.vrf_index == index && r.slot.is_some())
                    .count(),
                counters: vrf_counters(workers, index),
                name,
                id,
                vnis,
                l3vni,
            }
        })
        .collect()
}

/// The routes of every VRF, or of `vrf` only; Err names a VRF that does not exist.
pub fn routes(
    authority: &Authority,
    workers: &[SharedCounters],
    vrf: Option<&str>,
) -> Result<Vec<RouteView>, String> {
    if let Some(name) = vrf {
        if !authority.vrfs().iter().any(|(n, _, _)| n == name) {
            return Err(format!("VRF {name:?} is not configured"));
        }
    }
    let mut out: Vec<RouteView> = authority
        .routes()
        .into_iter()
        .filter(|r| vrf.is_none_or(|v| v == r.vrf))
        .map(|r| {
            let (packets, bytes) = r.slot.map_or((0, 0), |slot| route_counters(workers, slot));
            RouteView {
                prefix: r.prefix.to_string(),
                kind: match r.kind {
                    RouteKind::Connected => "connected",
                    RouteKind::Static => "static",
                }
                .to_owned(),
                vni: r.vni.map(|v| v.get()),
                via: r.via.map(|v| v.to_string()),
                next_vrf: r.next_vrf.map(|(name, _)| name),
                vtep: r.remote.map(|h| h.vtep.to_string()),
                router_mac: r.remote.map(|h| h.router_mac.to_string()),
                installed: r.slot.is_some(),
                packets,
                bytes,
                vrf: r.vrf,
            }
        })
        .collect();
    out.sort_by(|a, b| (&a.vrf, &a.prefix).cmp(&(&b.vrf, &b.prefix)));
    Ok(out)
}

fn vrf_counters(workers: &[SharedCounters], index: VrfIndex) -> VrfCountersView {
    let sum = |f: fn(&VrfCounters) -> u64| -> u64 {
        workers.iter().filter_map(|w| w.vrf(index)).map(f).sum()
    };
    VrfCountersView {
        routed_packets: sum(|c| c.routed_packets.get()),
        routed_bytes: sum(|c| c.routed_bytes.get()),
        no_route: sum(|c| c.no_route.get()),
        ttl_expired: sum(|c| c.ttl_expired.get()),
        icmp_errors: sum(|c| c.icmp_errors.get()),
        unresolved: sum(|c| c.unresolved.get()),
        resolve_requests: sum(|c| c.resolve_requests.get()),
        gateway_replies: sum(|c| c.gateway_replies.get()),
        echo_replies: sum(|c| c.echo_replies.get()),
    }
}

fn route_counters(workers: &[SharedCounters], slot: RouteSlot) -> (u64, u64) {
    let sum = |f: fn(&RouteCounters) -> u64| -> u64 {
        workers.iter().filter_map(|w| w.route(slot)).map(f).sum()
    };
    (sum(|c| c.packets.get()), sum(|c| c.bytes.get()))
}
