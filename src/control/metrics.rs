//! Prometheus text exposition (format 0.0.4) of everything vtepd counts, at `/metrics`.
//!
//! Names follow Prometheus conventions: `vtepd_` prefix, `_total` on counters, units in the
//! name (`_bytes_total`, `_seconds`), one family per quantity with labels for port, worker,
//! VNI and drop reason.

use std::fmt::Write as _;

use super::report::Report;

/// Values the report does not carry.
#[derive(Debug, Clone, Default)]
pub struct Extra {
    /// Per port: link up, speed in Mb/s, driver extended statistics.
    pub links: Vec<(bool, u32)>,
    pub xstats: Vec<Vec<(String, u64)>>,
    /// Per worker: updates waiting in its queue.
    pub update_queue_depth: Vec<usize>,
    pub update_queue_full: u64,
    pub uptime_secs: u64,
    pub tunnels: usize,
    pub bindings: usize,
    pub vnis: usize,
    pub evpn: Option<super::api::model::EvpnView>,
    pub vrfs: Vec<super::api::model::VrfView>,
    pub routes: Vec<super::api::model::RouteView>,
    pub policy: Option<super::policy_view::PolicyView>,
}

struct Writer {
    out: String,
}

impl Writer {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }

    /// A family with one sample per item.
    fn each<T>(
        &mut self,
        name: &str,
        kind: &str,
        help: &str,
        items: &[T],
        f: impl Fn(&T) -> (Vec<(&str, String)>, f64),
    ) {
        self.family(name, kind, help);
        for item in items {
            let (labels, value) = f(item);
            let labels: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
            self.sample(name, &labels, fmt_value(value));
        }
    }
}

fn fmt_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Turns a driver statistic name into a metric-safe label value is not needed (labels take any
/// text), but names of families must be `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn render(r: &Report, x: &Extra) -> String {
    let mut w = Writer { out: String::new() };
    w.family(
        "vtepd_uptime_seconds",
        "gauge",
        "Seconds since vtepd started forwarding.",
    );
    w.sample("vtepd_uptime_seconds", &[], x.uptime_secs);

    let ports: Vec<(usize, &super::report::PortReport)> = r.ports.iter().enumerate().collect();
    let port_labels =
        |p: &super::report::PortReport| vec![("port", p.name.clone()), ("role", p.role.to_owned())];
    for (name, help, get) in [
        (
            "vtepd_port_rx_packets_total",
            "Packets received by the port (driver counter).",
            (|p: &super::report::PortReport| p.nic.rx_packets)
                as fn(&super::report::PortReport) -> u64,
        ),
        (
            "vtepd_port_tx_packets_total",
            "Packets sent by the port (driver counter).",
            |p| p.nic.tx_packets,
        ),
        (
            "vtepd_port_rx_bytes_total",
            "Bytes received by the port (driver counter).",
            |p| p.nic.rx_bytes,
        ),
        (
            "vtepd_port_tx_bytes_total",
            "Bytes sent by the port (driver counter).",
            |p| p.nic.tx_bytes,
        ),
        (
            "vtepd_port_rx_missed_total",
            "Packets the port dropped because the RX queue was full.",
            |p| p.nic.rx_missed,
        ),
        (
            "vtepd_port_rx_errors_total",
            "Erroneous received packets.",
            |p| p.nic.rx_errors,
        ),
        ("vtepd_port_tx_errors_total", "Failed transmissions.", |p| {
            p.nic.tx_errors
        }),
        (
            "vtepd_port_rx_nombuf_total",
            "Receive buffer allocation failures.",
            |p| p.nic.rx_nombuf,
        ),
        (
            "vtepd_port_tx_dropped_total",
            "Packets the TX queue refused (also in drops, reason tx_queue_full).",
            |p| p.tx_dropped,
        ),
    ] {
        w.each(name, "counter", help, &ports, |(_, p)| {
            (port_labels(p), get(p) as f64)
        });
    }
    w.each(
        "vtepd_port_link_up",
        "gauge",
        "1 when the port's link is up.",
        &ports,
        |(i, p)| {
            (
                port_labels(p),
                x.links.get(*i).map_or(0.0, |l| f64::from(u8::from(l.0))),
            )
        },
    );
    w.each(
        "vtepd_port_link_speed_bits_per_second",
        "gauge",
        "Link speed.",
        &ports,
        |(i, p)| {
            (
                port_labels(p),
                x.links.get(*i).map_or(0.0, |l| f64::from(l.1) * 1e6),
            )
        },
    );
    w.family(
        "vtepd_port_xstat_total",
        "counter",
        "Driver extended statistics (rte_eth_xstats), by name.",
    );
    for (i, p) in r.ports.iter().enumerate() {
        for (stat, value) in x.xstats.get(i).into_iter().flatten() {
            w.sample(
                "vtepd_port_xstat_total",
                &[("port", &p.name), ("stat", stat)],
                value,
            );
        }
    }

    let workers: Vec<&super::report::WorkerReport> = r.workers.iter().collect();
    let lcore = |wr: &&super::report::WorkerReport| vec![("lcore", wr.lcore.to_string())];
    w.each(
        "vtepd_worker_packets_total",
        "counter",
        "Packets a worker received.",
        &workers,
        |wr| (lcore(wr), wr.packets as f64),
    );
    w.each(
        "vtepd_worker_bursts_total",
        "counter",
        "Non-empty receive bursts.",
        &workers,
        |wr| (lcore(wr), wr.bursts as f64),
    );
    w.each(
        "vtepd_worker_busy_polls_total",
        "counter",
        "Poll loop iterations that received packets.",
        &workers,
        |wr| (lcore(wr), wr.busy_polls as f64),
    );
    w.each(
        "vtepd_worker_idle_polls_total",
        "counter",
        "Poll loop iterations that received nothing.",
        &workers,
        |wr| (lcore(wr), wr.idle_polls as f64),
    );
    w.each(
        "vtepd_worker_idle_sleeps_total",
        "counter",
        "Sleeps of the idle back-off (workers.idle_sleep_us).",
        &workers,
        |wr| (lcore(wr), wr.idle_sleeps as f64),
    );
    w.each(
        "vtepd_worker_average_burst_packets",
        "gauge",
        "Average packets per non-empty burst.",
        &workers,
        |wr| {
            (
                lcore(wr),
                if wr.bursts == 0 {
                    0.0
                } else {
                    wr.packets as f64 / wr.bursts as f64
                },
            )
        },
    );
    w.each(
        "vtepd_worker_cycles_per_packet",
        "gauge",
        "TSC cycles spent per packet in busy iterations.",
        &workers,
        |wr| (lcore(wr), wr.cycles_per_packet),
    );
    let depths: Vec<(usize, usize)> = x.update_queue_depth.iter().copied().enumerate().collect();
    w.each(
        "vtepd_worker_update_queue_depth",
        "gauge",
        "Table updates waiting for a worker.",
        &depths,
        |(i, d)| {
            (
                vec![(
                    "lcore",
                    workers
                        .get(*i)
                        .map_or(String::new(), |wr| wr.lcore.to_string()),
                )],
                *d as f64,
            )
        },
    );
    w.family(
        "vtepd_update_queue_full_total",
        "counter",
        "Times an update waited because a worker's queue was full.",
    );
    w.sample("vtepd_update_queue_full_total", &[], x.update_queue_full);

    let drops: Vec<(&&str, &u64)> = r.drops.iter().collect();
    w.each(
        "vtepd_drops_total",
        "counter",
        "Packets dropped, by reason.",
        &drops,
        |(k, v)| (vec![("reason", (**k).to_owned())], **v as f64),
    );

    w.family(
        "vtepd_mempool_in_use_buffers",
        "gauge",
        "Packet buffers currently allocated.",
    );
    w.sample("vtepd_mempool_in_use_buffers", &[], r.mempool.in_use);
    w.family(
        "vtepd_mempool_capacity_buffers",
        "gauge",
        "Packet buffers in the pools.",
    );
    w.sample("vtepd_mempool_capacity_buffers", &[], r.mempool.capacity);
    w.each(
        "vtepd_mempool_pool_in_use_buffers",
        "gauge",
        "Packet buffers currently allocated, per pool (ports' pools and replication pools).",
        &r.mempool.pools,
        |p| (vec![("pool", p.name.clone())], p.in_use as f64),
    );

    if let Some(g) = &r.gateway {
        let vnis: Vec<&super::report::VniReport> = g.vnis.iter().collect();
        let vni = |v: &&super::report::VniReport| vec![("vni", v.id.to_string())];
        w.each(
            "vtepd_vni_encap_packets_total",
            "counter",
            "Packets encapsulated into the VNI.",
            &vnis,
            |v| (vni(v), v.encap_packets as f64),
        );
        w.each(
            "vtepd_vni_encap_bytes_total",
            "counter",
            "Bytes encapsulated into the VNI (outer headers included).",
            &vnis,
            |v| (vni(v), v.encap_bytes as f64),
        );
        w.each(
            "vtepd_vni_decap_packets_total",
            "counter",
            "Tunnel packets of the VNI whose inner frame was forwarded: to an access port, flooded to the VNI's access ports, or routed out of it. Dropped packets and ARP/ND requests the gateway answers are not counted.",
            &vnis,
            |v| (vni(v), v.decap_packets as f64),
        );
        w.each(
            "vtepd_vni_decap_bytes_total",
            "counter",
            "Inner frame bytes (Ethernet header included, untagged) of the packets in vtepd_vni_decap_packets_total.",
            &vnis,
            |v| (vni(v), v.decap_bytes as f64),
        );
        w.each(
            "vtepd_vni_flood_copies_total",
            "counter",
            "Copies sent for broadcast, multicast and unknown unicast.",
            &vnis,
            |v| (vni(v), v.flood_copies as f64),
        );
        w.each(
            "vtepd_vni_arp_suppressed_total",
            "counter",
            "ARP requests and neighbour solicitations answered locally.",
            &vnis,
            |v| (vni(v), v.arp_suppressed as f64),
        );
        w.each(
            "vtepd_vni_mac_limit_hits_total",
            "counter",
            "New MACs not learned because of max_macs.",
            &vnis,
            |v| (vni(v), v.mac_limit_hits as f64),
        );
        w.each(
            "vtepd_vni_bum_rate_limited_total",
            "counter",
            "Broadcast, multicast and unknown-unicast frames dropped by storm control.",
            &vnis,
            |v| (vni(v), v.bum_rate_limited as f64),
        );
        w.each(
            "vtepd_vni_learn_refused_total",
            "counter",
            "Frames from VTEPs outside the flood list whose source MAC was not learned.",
            &vnis,
            |v| (vni(v), v.learn_refused as f64),
        );
        w.each(
            "vtepd_vni_learned_macs",
            "gauge",
            "Learned MACs in the VNI.",
            &vnis,
            |v| (vni(v), f64::from(v.macs)),
        );

        let t = &g.tables;
        for (name, help, value) in [
            ("vtepd_fdb_learned_total", "MACs learned.", t.learned),
            (
                "vtepd_fdb_moved_total",
                "MACs that moved to another port or VTEP.",
                t.moved,
            ),
            ("vtepd_fdb_aged_total", "Learned MACs that expired.", t.aged),
            (
                "vtepd_fdb_refused_static_total",
                "Moves of static MACs refused.",
                t.refused_static,
            ),
            (
                "vtepd_fdb_refused_limit_total",
                "MACs refused by a VNI's max_macs.",
                t.refused_limit,
            ),
            (
                "vtepd_fdb_refused_full_total",
                "MACs refused because the table was full.",
                t.refused_full,
            ),
            (
                "vtepd_bindings_snooped_total",
                "IP bindings learned from ARP/ND.",
                t.bindings_snooped,
            ),
            (
                "vtepd_bindings_spoof_refused_total",
                "ARP/ND claims on static bindings refused.",
                t.binding_spoof_refused,
            ),
            (
                "vtepd_local_arp_replies_total",
                "ARP replies for the VTEP addresses.",
                g.local.arp_replies,
            ),
            (
                "vtepd_local_echo_replies_total",
                "ICMP/ICMPv6 echo replies from the VTEP addresses.",
                g.local.echo_replies,
            ),
            (
                "vtepd_local_nd_replies_total",
                "Neighbour advertisements for the VTEP addresses.",
                g.local.nd_replies,
            ),
            (
                "vtepd_local_too_big_total",
                "ICMP fragmentation needed / ICMPv6 packet too big sent back for frames too big for the underlay once encapsulated.",
                g.local.too_big,
            ),
            (
                "vtepd_local_to_kernel_total",
                "Packets for the VTEP addresses handed to the exception path (the EVPN namespace's kernel).",
                g.local.to_kernel,
            ),
            (
                "vtepd_replicas_total",
                "Extra packets made by flooding and segmentation.",
                g.replicas,
            ),
            (
                "vtepd_generated_total",
                "Packets the management thread originated (ARP/ND, IGMP/MLD).",
                g.generated,
            ),
            (
                "vtepd_events_dropped_total",
                "Worker events lost to a full queue.",
                g.events_dropped,
            ),
            (
                "vtepd_updates_applied_total",
                "Table updates applied by the workers.",
                g.updates_applied,
            ),
        ] {
            w.family(name, "counter", help);
            w.sample(name, &[], value);
        }
        for (name, help, value) in [
            (
                "vtepd_fdb_entries",
                "MAC entries, static and learned.",
                g.fdb_entries,
            ),
            (
                "vtepd_tunnels",
                "Tunnels (remote VTEP or group, encapsulation).",
                x.tunnels,
            ),
            ("vtepd_bindings", "IP to MAC bindings.", x.bindings),
            ("vtepd_vnis", "Configured VNIs.", x.vnis),
        ] {
            w.family(name, "gauge", help);
            w.sample(name, &[], value);
        }
    }
    if let Some(e) = &x.evpn {
        evpn(&mut w, e);
    }
    routing(&mut w, &x.vrfs, &x.routes);
    if let Some(p) = &x.policy {
        policy(&mut w, p);
    }
    w.out
}

fn policy(w: &mut Writer, p: &super::policy_view::PolicyView) {
    w.family(
        "vtepd_policy_rule_hits_total",
        "counter",
        "Flows (and packets outside sessions) a policy rule decided since the policy was loaded; rule 0 is a default.",
    );
    for r in &p.rules {
        let id = r.id.to_string();
        w.sample(
            "vtepd_policy_rule_hits_total",
            &[("rule", &id), ("action", &r.action)],
            r.hits,
        );
    }
    for (scope, action, hits) in [
        ("within", &p.default_within, p.default_within_hits),
        ("between", &p.default_between, p.default_between_hits),
    ] {
        w.sample(
            "vtepd_policy_rule_hits_total",
            &[("rule", "0"), ("action", action), ("default", scope)],
            hits,
        );
    }
    let s = &p.sessions;
    let l = &p.log;
    for (name, kind, help, value) in [
        (
            "vtepd_policy_sessions",
            "gauge",
            "Sessions the workers hold.",
            s.active,
        ),
        (
            "vtepd_policy_session_capacity",
            "gauge",
            "Sessions the workers can hold (policy.max_sessions).",
            s.capacity,
        ),
        (
            "vtepd_policy_sessions_opened_total",
            "counter",
            "Sessions opened.",
            s.opened,
        ),
        (
            "vtepd_policy_sessions_closed_total",
            "counter",
            "Sessions ended (idle, closed, or revoked).",
            s.closed,
        ),
        (
            "vtepd_policy_sessions_revoked_total",
            "counter",
            "Sessions cut because new rules no longer allow them.",
            s.revoked,
        ),
        (
            "vtepd_policy_log_notes_total",
            "counter",
            "Flow notes the management thread received from the workers.",
            l.notes,
        ),
        (
            "vtepd_policy_log_notes_dropped_total",
            "counter",
            "Flow notes the workers could not queue.",
            l.notes_dropped,
        ),
        (
            "vtepd_policy_deny_logs_policed_total",
            "counter",
            "Denied-flow log notes over the log's rate, not sent.",
            l.deny_logs_policed,
        ),
        (
            "vtepd_ipfix_records_total",
            "counter",
            "Connection-log records handed to the IPFIX exporter.",
            l.records,
        ),
        (
            "vtepd_ipfix_messages_sent_total",
            "counter",
            "IPFIX messages sent to collectors.",
            l.messages_sent,
        ),
        (
            "vtepd_ipfix_send_errors_total",
            "counter",
            "IPFIX messages a collector's socket did not take.",
            l.send_errors,
        ),
    ] {
        w.family(name, kind, help);
        w.sample(name, &[], value);
    }
}

fn routing(
    w: &mut Writer,
    vrfs: &[super::api::model::VrfView],
    routes: &[super::api::model::RouteView],
) {
    if vrfs.is_empty() {
        return;
    }
    type Get = fn(&super::api::model::VrfCountersView) -> u64;
    let families: [(&str, &str, Get); 9] = [
        (
            "vtepd_vrf_routed_packets_total",
            "Packets routed in the VRF.",
            |c| c.routed_packets,
        ),
        (
            "vtepd_vrf_routed_bytes_total",
            "Bytes routed in the VRF.",
            |c| c.routed_bytes,
        ),
        (
            "vtepd_vrf_no_route_total",
            "Packets with no route in the VRF (dropped).",
            |c| c.no_route,
        ),
        (
            "vtepd_vrf_ttl_expired_total",
            "Routed packets whose TTL or hop limit expired.",
            |c| c.ttl_expired,
        ),
        (
            "vtepd_vrf_icmp_errors_total",
            "ICMP time exceeded messages the gateway sent.",
            |c| c.icmp_errors,
        ),
        (
            "vtepd_vrf_unresolved_total",
            "Packets to a host whose MAC was not known (dropped).",
            |c| c.unresolved,
        ),
        (
            "vtepd_vrf_resolve_requests_total",
            "ARP requests and neighbour solicitations sent for hosts.",
            |c| c.resolve_requests,
        ),
        (
            "vtepd_vrf_gateway_replies_total",
            "ARP/ND requests for gateway addresses answered.",
            |c| c.gateway_replies,
        ),
        (
            "vtepd_vrf_echo_replies_total",
            "Echo requests to gateway addresses answered.",
            |c| c.echo_replies,
        ),
    ];
    for (name, help, get) in families {
        w.family(name, "counter", help);
        for v in vrfs {
            w.sample(name, &[("vrf", &v.name)], get(&v.counters));
        }
    }
    w.family(
        "vtepd_vrf_routes",
        "gauge",
        "Routes installed in the VRF's FIB.",
    );
    for v in vrfs {
        w.sample("vtepd_vrf_routes", &[("vrf", &v.name)], v.routes);
    }
    type RouteGet = fn(&super::api::model::RouteView) -> u64;
    let per_route: [(&str, &str, RouteGet); 2] = [
        (
            "vtepd_route_packets_total",
            "Packets routed by the route.",
            |r| r.packets,
        ),
        (
            "vtepd_route_bytes_total",
            "Bytes routed by the route.",
            |r| r.bytes,
        ),
    ];
    for (name, help, get) in per_route {
        w.family(name, "counter", help);
        for r in routes.iter().filter(|r| r.installed) {
            w.sample(name, &[("vrf", &r.vrf), ("prefix", &r.prefix)], get(r));
        }
    }
}

fn evpn(w: &mut Writer, e: &super::api::model::EvpnView) {
    let c = &e.counters;
    for (name, help, value) in [
        (
            "vtepd_evpn_macs_installed_total",
            "Remote MACs installed or moved by EVPN type 2 routes.",
            c.macs_installed,
        ),
        (
            "vtepd_evpn_macs_withdrawn_total",
            "Remote MACs removed because their type 2 route was withdrawn.",
            c.macs_withdrawn,
        ),
        (
            "vtepd_evpn_moved_remote_total",
            "Learned local MACs moved to a remote VTEP by a route (MAC mobility).",
            c.moved_remote,
        ),
        (
            "vtepd_evpn_moved_local_total",
            "EVPN MACs seen again on a local port (re-advertised with a higher sequence).",
            c.moved_local,
        ),
        (
            "vtepd_evpn_refused_static_total",
            "Routes for a MAC or binding that is static here (the static entry stays).",
            c.refused_static,
        ),
        (
            "vtepd_evpn_flood_updates_total",
            "Flood list changes from type 3 routes.",
            c.flood_updates,
        ),
        (
            "vtepd_evpn_bindings_installed_total",
            "IP bindings installed from type 2 MAC/IP routes.",
            c.bindings_installed,
        ),
        (
            "vtepd_evpn_bindings_withdrawn_total",
            "IP bindings removed because their route was withdrawn.",
            c.bindings_withdrawn,
        ),
        (
            "vtepd_evpn_import_refused_total",
            "Route changes the tables refused (full table, own address).",
            c.import_refused,
        ),
        (
            "vtepd_evpn_netlink_messages_total",
            "Netlink messages read from the EVPN namespace.",
            c.kernel_messages,
        ),
        (
            "vtepd_evpn_netlink_resyncs_total",
            "Full re-reads of the namespace after netlink messages were lost.",
            c.resyncs,
        ),
        (
            "vtepd_evpn_exported_total",
            "Local MACs and bindings written into the namespace for FRR to advertise.",
            c.exported,
        ),
        (
            "vtepd_evpn_export_withdrawn_total",
            "Local MACs and bindings removed from the namespace (aged, moved away).",
            c.export_withdrawn,
        ),
        (
            "vtepd_evpn_export_errors_total",
            "Writes into the namespace the kernel refused.",
            c.export_errors,
        ),
    ] {
        w.family(name, "counter", help);
        w.sample(name, &[], value);
    }
    w.family(
        "vtepd_evpn_frr_running",
        "gauge",
        "1 when zebra and bgpd run in the EVPN namespace.",
    );
    w.sample("vtepd_evpn_frr_running", &[], u8::from(e.frr_running));
    if let Some(x) = &e.exception {
        for (name, help, into_kernel, out_of_kernel) in [
            (
                "vtepd_evpn_exception_packets_total",
                "Packets through the exception path: in = into the namespace's kernel, out = from it to the underlay.",
                x.to_kernel_packets,
                x.from_kernel_packets,
            ),
            (
                "vtepd_evpn_exception_bytes_total",
                "Bytes through the exception path, by direction.",
                x.to_kernel_bytes,
                x.from_kernel_bytes,
            ),
            (
                "vtepd_evpn_exception_dropped_total",
                "Packets the exception thread could not pass on: in = the namespace refused them, out = the slow-path queue was full (policed and queue-full drops on workers are vtepd_drops_total's exception_*).",
                x.to_kernel_dropped,
                x.from_kernel_dropped,
            ),
        ] {
            w.family(name, "counter", help);
            w.sample(name, &[("direction", "in")], into_kernel);
            w.sample(name, &[("direction", "out")], out_of_kernel);
        }
    }
    for (name, help, get) in [
        (
            "vtepd_evpn_remote_macs",
            "MACs behind remote VTEPs from type 2 routes, per VNI.",
            (|v: &super::api::model::EvpnVniView| v.remote_macs.len())
                as fn(&super::api::model::EvpnVniView) -> usize,
        ),
        (
            "vtepd_evpn_flood_vteps",
            "VTEPs in the flood list from type 3 routes, per VNI.",
            |v| v.flood_vteps.len(),
        ),
        (
            "vtepd_evpn_local_macs",
            "Local MACs exported for FRR to advertise, per VNI.",
            |v| v.local_macs.len(),
        ),
    ] {
        w.family(name, "gauge", help);
        for v in &e.vnis {
            w.sample(name, &[("vni", &v.vni.to_string())], get(v));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn values_print_as_integers_when_whole() {
        assert_eq!(fmt_value(3.0), "3");
        assert_eq!(fmt_value(2.5), "2.5");
    }
}
