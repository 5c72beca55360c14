//! The management loop on the main lcore: table sync every millisecond, API calls, reloads on
//! SIGHUP, rate lines for `--stats-interval`, and the views the API and reports are made of.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::config::{Config, Mode};
use crate::dataplane::setup::Plumbing;
use crate::dataplane::{CounterSnapshot, SharedCounters};
use crate::dpdk::{self, LcoreId, Mempool};
use crate::tables::authority::Origin;
use crate::tables::update::Location;
use crate::tables::{FdbKey, PortIndex};

use super::admin::{self, AdminError};
use super::api::model::{
    ArpView, FdbView, FlushView, PortView, ReloadView, StatusView, VniView, WorkerView,
};
use super::api::{ApiCall, ApiOp, ApiReply, ApiServer};
use super::console::RateLine;
use super::metrics;
use super::report::{self, MempoolReport, NicStats, PortReport, Report, Totals, WorkerReport};
use super::tables::TableManager;

/// How often the loop does its periodic work (events from the workers, aging, table sync):
/// table changes reach the workers within this plus one worker drain period.
const TICK: Duration = Duration::from_millis(1);

/// When the loop should end on its own.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    pub stats_interval: Option<Duration>,
    pub exit_when_idle: Option<Duration>,
}

/// The running data plane, as the management thread sees it.
#[derive(Debug, Clone, Copy)]
pub struct DataPlane<'a> {
    pub plumbing: &'a Plumbing,
    pub counters: &'a [SharedCounters],
    pub lcores: &'a [LcoreId],
}

/// Everything the management thread looks after while the workers run.
#[derive(Debug)]
pub struct Management<'a> {
    pub config: Config,
    config_path: PathBuf,
    pub manager: Option<TableManager>,
    plumbing: &'a Plumbing,
    counters: &'a [SharedCounters],
    lcores: &'a [LcoreId],
    api: Option<ApiServer>,
    calls: crossbeam::channel::Receiver<ApiCall>,
    started: Instant,
    in_use_at_start: u64,
}

impl<'a> Management<'a> {
    pub fn new(
        config: Config,
        config_path: PathBuf,
        manager: Option<TableManager>,
        data_plane: DataPlane<'a>,
        api: Option<ApiServer>,
        calls: crossbeam::channel::Receiver<ApiCall>,
    ) -> Management<'a> {
        let DataPlane {
            plumbing,
            counters,
            lcores,
        } = data_plane;
        let in_use_at_start = plumbing.in_use_at_start;
        Management {
            config,
            config_path,
            manager,
            plumbing,
            counters,
            lcores,
            api,
            calls,
            started: Instant::now(),
            in_use_at_start,
        }
    }

    /// Runs until a stop signal (or idleness, if asked). SIGHUP reloads the configuration.
    pub fn run(&mut self, stop: &AtomicBool, hup: &AtomicBool, limits: &Limits) {
        let mut rates = RateLine::new(self.rate_sources());
        let mut next_stats = limits.stats_interval.map(|i| Instant::now() + i);
        let mut last_rx = 0u64;
        let mut last_activity = Instant::now();
        let mut next_check = Instant::now();
        let mut drop_watch = DropWatch::new(self.snapshot());
        let mut next_tick = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            next_tick += TICK;
            self.serve_api_until(next_tick);
            // Behind (a long reload): the next tick is due one TICK from now, not at once.
            next_tick = next_tick.max(Instant::now());
            if let Some(m) = self.manager.as_mut() {
                m.tick();
            }
            if hup.swap(false, Ordering::Relaxed) {
                match self.reload() {
                    Ok(r) => tracing::info!("reload (SIGHUP): {}", describe_reload(&r)),
                    Err(e) => {
                        tracing::error!("reload (SIGHUP) refused, nothing changed: {}", e.message)
                    }
                }
            }
            let now = Instant::now();
            if now < next_check {
                continue;
            }
            next_check = now + Duration::from_millis(10);
            if let (Some(at), Some(interval)) = (next_stats, limits.stats_interval) {
                if now >= at {
                    for line in rates.lines(self.rate_sources()) {
                        println!("{line}");
                    }
                    next_stats = Some(at + interval);
                }
            }
            drop_watch.check(now, || self.snapshot());
            if let Some(idle) = limits.exit_when_idle {
                let rx = self.snapshot().total_rx();
                if rx != last_rx {
                    last_rx = rx;
                    last_activity = now;
                } else if now.duration_since(last_activity) >= idle {
                    tracing::info!("no packet for {} ms: stopping", idle.as_millis());
                    return;
                }
            }
        }
        tracing::info!("signal received: stopping");
    }

    /// Stops the API server (before the data plane goes away under it).
    pub fn close_api(&mut self) {
        if let Some(api) = self.api.take() {
            api.stop();
        }
    }

    fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot::sum(self.counters, self.plumbing.ports.len())
    }

    /// What `--stats-interval` reports: per direction for a gateway, per port otherwise.
    fn rate_sources(&self) -> super::console::Sources {
        let s = self.snapshot();
        let mut flows = Vec::new();
        match &self.manager {
            Some(m) => {
                let (mut ep, mut eb, mut dp, mut db) = (0, 0, 0, 0);
                for (id, index, _) in m.authority.vnis() {
                    for c in self.counters.iter().filter_map(|w| w.vni_of(index, *id)) {
                        ep += c.encap_packets.get();
                        eb += c.encap_bytes.get();
                        dp += c.decap_packets.get();
                        db += c.decap_bytes.get();
                    }
                }
                flows.push(("encap access->underlay".to_owned(), ep, eb));
                flows.push(("decap underlay->access".to_owned(), dp, db));
            }
            None => {
                for (i, p) in self.plumbing.ports.iter().enumerate() {
                    let g = |v: &Vec<u64>| v.get(i).copied().unwrap_or(0);
                    flows.push((
                        format!("{} rx", p.port.info.name),
                        g(&s.port_rx_packets),
                        g(&s.port_rx_bytes),
                    ));
                }
            }
        }
        super::console::Sources {
            flows,
            drops: s.total_drops(),
        }
    }

    /// Answers API calls as they arrive until `deadline`, the next tick: a call waits for
    /// the call before it, never for the tick. Sleeps until then when none comes.
    fn serve_api_until(&mut self, deadline: Instant) {
        loop {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return;
            };
            match self.calls.recv_timeout(left) {
                Ok(call) => {
                    let reply = self.handle(call.op, &call.from);
                    let _ = call.reply.send(reply);
                }
                Err(crossbeam::channel::RecvTimeoutError::Timeout) => return,
                Err(crossbeam::channel::RecvTimeoutError::Disconnected) => {
                    std::thread::sleep(left);
                    return;
                }
            }
        }
    }

    /// Answers one API operation.
    pub fn handle(&mut self, op: ApiOp, from: &str) -> ApiReply {
        let result: Result<ApiReply, AdminError> = match op {
            ApiOp::Status => Ok(ApiReply::json(200, &self.status())),
            ApiOp::Ports => Ok(ApiReply::json(200, &self.ports())),
            ApiOp::Workers => Ok(ApiReply::json(200, &self.workers())),
            ApiOp::Stats => Ok(ApiReply::json(200, &self.report())),
            ApiOp::Metrics => Ok(ApiReply::text(self.metrics())),
            ApiOp::ListVnis => Ok(ApiReply::json(200, &self.vnis(None))),
            ApiOp::GetVni(id) => match self.vnis(Some(id)).pop() {
                Some(v) => Ok(ApiReply::json(200, &v)),
                None => Err(AdminError {
                    status: 404,
                    message: format!("VNI {id} is not configured"),
                }),
            },
            ApiOp::ListFdb { vni } => Ok(ApiReply::json(200, &self.fdb(vni))),
            ApiOp::ListArp { vni } => Ok(ApiReply::json(200, &self.arp(vni))),
            ApiOp::Reload => self.reload().map(|r| ApiReply::json(200, &r)),
            ApiOp::Evpn => match self.evpn() {
                Some(v) => Ok(ApiReply::json(200, &v)),
                None => Err(AdminError {
                    status: 404,
                    message:
                        "EVPN is not configured (no [evpn] and no VNI with control = \"evpn\")"
                            .into(),
                }),
            },
            ApiOp::Policy => self.policy().map(|v| ApiReply::json(200, &v)),
            ApiOp::ListSessions { limit } => self.policy().map(|_| {
                let m = self
                    .manager
                    .as_ref()
                    .map(|m| super::policy_view::sessions(&m.policy, limit));
                ApiReply::json(200, &m.unwrap_or_default())
            }),
            ApiOp::ListVrfs => self.routing().map(|_| ApiReply::json(200, &self.vrfs())),
            ApiOp::ListRoutes { vrf } => self.routing().and_then(|a| {
                super::routing_view::routes(a, self.counters, vrf.as_deref())
                    .map(|r| ApiReply::json(200, &r))
                    .map_err(|message| AdminError {
                        status: 404,
                        message,
                    })
            }),
            op => {
                // The audit log: every change, who asked for it, and how it ended (the
                // log line's timestamp says when).
                let whats = super::audit::describe(&op);
                let done = self.change(op);
                match &done {
                    Ok(r) => {
                        for what in &whats {
                            tracing::info!(target: "vtepd::audit", "audit: {from}: {what}: done ({})", r.status);
                        }
                    }
                    // A refused call changed nothing: one line, however many entries.
                    Err(e) => {
                        let what = match whats.as_slice() {
                            [one] => one.clone(),
                            many => format!("{} entries in bulk", many.len()),
                        };
                        tracing::info!(target: "vtepd::audit", "audit: {from}: {what}: refused ({}: {})", e.status, e.message);
                    }
                }
                done
            }
        };
        result.unwrap_or_else(|e| ApiReply::error(e.status, e.message))
    }

    fn change(&mut self, op: ApiOp) -> Result<ApiReply, AdminError> {
        let config = &mut self.config;
        let Some(m) = self.manager.as_mut() else {
            return Err(AdminError {
                status: 409,
                message: "this vtepd runs a cross-connect: it has no tables".into(),
            });
        };
        match op {
            ApiOp::AddVni(body) => {
                let v = admin::add_vni(config, m, body)?;
                Ok(ApiReply::json(201, &admin::vni_json(&v)))
            }
            ApiOp::ReplaceVni(id, body) => {
                let v = admin::replace_vni(config, m, id, body)?;
                Ok(ApiReply::json(200, &admin::vni_json(&v)))
            }
            ApiOp::PatchVni(id, patch) => {
                let v = admin::patch_vni(config, m, id, patch)?;
                Ok(ApiReply::json(200, &admin::vni_json(&v)))
            }
            ApiOp::SetFlood(id, list) => {
                let v = admin::set_list(config, m, id, "flood", list)?;
                Ok(ApiReply::json(200, &admin::vni_json(&v)))
            }
            ApiOp::SetAllowedVteps(id, list) => {
                let v = admin::set_list(config, m, id, "allowed_vteps", list)?;
                Ok(ApiReply::json(200, &admin::vni_json(&v)))
            }
            ApiOp::DeleteVni(id) => admin::delete_vni(config, m, id).map(|()| ApiReply::empty(204)),
            ApiOp::Flush { vni, all } => {
                let removed = admin::flush(config, m, vni, all)?;
                Ok(ApiReply::json(200, &FlushView { vni, removed }))
            }
            ApiOp::AddFdb(body) => {
                let f = admin::add_fdb(config, m, body)?;
                let (port, remote) = match &f.dest {
                    crate::config::FdbDest::Access(p) => (Some(p.clone()), None),
                    crate::config::FdbDest::Remote(ip) => (None, Some(ip.to_string())),
                };
                Ok(ApiReply::json(
                    201,
                    &FdbView {
                        vni: f.vni.get(),
                        mac: f.mac.to_string(),
                        port,
                        remote,
                        is_static: true,
                        origin: "static".to_owned(),
                        idle_secs: None,
                    },
                ))
            }
            ApiOp::AddFdbBulk(entries) => {
                let added = admin::add_fdb_bulk(config, m, entries)?;
                Ok(ApiReply::json(201, &serde_json::json!({ "added": added })))
            }
            ApiOp::DeleteFdb { vni, mac } => {
                admin::delete_fdb(config, m, vni, &mac).map(|()| ApiReply::empty(204))
            }
            ApiOp::AddArp(body) => {
                let a = admin::add_arp(config, m, body)?;
                Ok(ApiReply::json(
                    201,
                    &ArpView {
                        vni: a.vni.get(),
                        ip: a.ip.to_string(),
                        mac: a.mac.to_string(),
                        is_static: true,
                    },
                ))
            }
            ApiOp::DeleteArp { vni, ip } => {
                admin::delete_arp(config, m, vni, &ip).map(|()| ApiReply::empty(204))
            }
            other => Err(AdminError {
                status: 500,
                message: format!("unhandled operation {other:?}"),
            }),
        }
    }

    /// Reads the configuration file again and applies what changed.
    pub fn reload(&mut self) -> Result<ReloadView, AdminError> {
        let new = Config::load(&self.config_path).map_err(|e| AdminError {
            status: 400,
            message: format!("config {}: {e}", self.config_path.display()),
        })?;
        let plan = admin::reload(&mut self.config, self.manager.as_mut(), new)?;
        let mut settings = Vec::new();
        if let Some(age) = plan.mac_age_secs {
            settings.push(format!("tables.mac_age_secs = {age}"));
        }
        match &plan.policy {
            Some(Some(p)) => settings.push(format!("policy ({} rules)", p.rules.len())),
            Some(None) => settings.push("policy removed".to_owned()),
            None => {}
        }
        Ok(ReloadView {
            vnis_added: plan.vnis_added.iter().map(|v| v.id.get()).collect(),
            vnis_removed: plan.vnis_removed.iter().map(|v| v.get()).collect(),
            vnis_changed: plan.vnis_changed.iter().map(|v| v.id.get()).collect(),
            fdb_changed: plan.fdb_set.len() + plan.fdb_removed.len(),
            arp_changed: plan.arp_set.len() + plan.arp_removed.len(),
            settings_changed: settings,
        })
    }

    // --- views ------------------------------------------------------------------------

    pub fn status(&self) -> StatusView {
        StatusView {
            version: crate::cli::LONG_VERSION.to_owned(),
            dpdk: dpdk::runtime_version(),
            mode: match self.config.mode {
                Mode::Gateway(_) => "gateway".into(),
                Mode::CrossConnect { .. } => "xconnect".into(),
            },
            uptime_secs: self.started.elapsed().as_secs(),
            workers: self.lcores.len(),
            ports: self.plumbing.ports.len(),
            config: self.config_path.display().to_string(),
            tsc_hz: dpdk::tsc_hz(),
        }
    }

    fn ports(&self) -> Vec<PortView> {
        let s = self.snapshot();
        self.plumbing
            .ports
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let nic = p.port.stats();
                let link = p.port.link();
                PortView {
                    name: p.port.info.name.clone(),
                    role: p.role.as_str().to_owned(),
                    mac: crate::wire::MacAddr(p.port.info.mac).to_string(),
                    driver: p.port.info.driver.clone(),
                    link_up: link.up,
                    speed_mbps: link.speed_mbps,
                    queues: p.port.queues,
                    rx_packets: nic.rx_packets,
                    tx_packets: nic.tx_packets,
                    rx_bytes: nic.rx_bytes,
                    tx_bytes: nic.tx_bytes,
                    rx_missed: nic.rx_missed,
                    rx_errors: nic.rx_errors,
                    tx_errors: nic.tx_errors,
                    tx_dropped: s.port_tx_dropped.get(i).copied().unwrap_or(0),
                }
            })
            .collect()
    }

    fn workers(&self) -> Vec<WorkerView> {
        let depths = self
            .manager
            .as_ref()
            .map(TableManager::update_queue_depths)
            .unwrap_or_default();
        self.lcores
            .iter()
            .zip(self.counters)
            .enumerate()
            .map(|(i, (l, c))| {
                let packets = c.burst_packets.get();
                let bursts = c.bursts.get();
                WorkerView {
                    lcore: l.0,
                    packets,
                    bursts,
                    average_burst: if bursts == 0 {
                        0.0
                    } else {
                        packets as f64 / bursts as f64
                    },
                    busy_polls: c.busy_polls.get(),
                    idle_polls: c.idle_polls.get(),
                    idle_sleeps: c.idle_sleeps.get(),
                    cycles_per_packet: if packets == 0 {
                        0.0
                    } else {
                        c.busy_cycles.get() as f64 / packets as f64
                    },
                    update_queue_depth: depths.get(i).copied().unwrap_or(0),
                }
            })
            .collect()
    }

    fn vnis(&self, only: Option<u32>) -> Vec<VniView> {
        let (Some(m), Mode::Gateway(g)) = (&self.manager, &self.config.mode) else {
            return Vec::new();
        };
        g.vnis
            .iter()
            .filter(|v| only.is_none_or(|id| id == v.id.get()))
            .map(|v| {
                let index = m.authority.vni_index(v.id);
                let sum = |f: &dyn Fn(&crate::dataplane::counters::VniCounters) -> u64| -> u64 {
                    index
                        .map(|i| {
                            self.counters
                                .iter()
                                .filter_map(|w| w.vni_of(i, v.id))
                                .map(f)
                                .sum()
                        })
                        .unwrap_or(0)
                };
                VniView {
                    id: v.id.get(),
                    encap: v.encap.to_string(),
                    vlan: v.vlan,
                    flood: v.flood.iter().map(ToString::to_string).collect(),
                    multicast_group: v.multicast_group.map(|g| g.to_string()),
                    vxlan_port: v.vxlan_port,
                    learning: v.learning,
                    arp_suppression: v.arp_suppression,
                    allowed_vteps: v
                        .allowed_vteps
                        .as_ref()
                        .map(|a| a.iter().map(ToString::to_string).collect()),
                    max_macs: v.max_macs,
                    bum_rate_pps: v.bum_rate_pps,
                    learn_only_from_flood: v.learn_only_from_flood,
                    control: v.control.to_string(),
                    vrf: v.vrf.clone(),
                    gateway: v.gateways.iter().map(ToString::to_string).collect(),
                    l3vni: v.l3,
                    macs: m.authority.learned_in(v.id),
                    encap_packets: sum(&|c| c.encap_packets.get()),
                    encap_bytes: sum(&|c| c.encap_bytes.get()),
                    decap_packets: sum(&|c| c.decap_packets.get()),
                    decap_bytes: sum(&|c| c.decap_bytes.get()),
                    flood_copies: sum(&|c| c.flood_copies.get()),
                    arp_suppressed: sum(&|c| c.arp_suppressed.get()),
                    bum_rate_limited: sum(&|c| c.bum_rate_limited.get()),
                    learn_refused: sum(&|c| c.learn_refused.get()),
                }
            })
            .collect()
    }

    fn port_name(&self, index: PortIndex) -> String {
        self.plumbing
            .ports
            .get(usize::from(index))
            .map(|p| p.port.info.name.clone())
            .unwrap_or_else(|| format!("port{index}"))
    }

    fn fdb(&self, vni: Option<u32>) -> Vec<FdbView> {
        let Some(m) = &self.manager else {
            return Vec::new();
        };
        let now = m.now_secs();
        let mut out: Vec<FdbView> = m
            .authority
            .fdb()
            .filter_map(|(key, r): (&FdbKey, _)| {
                let id = m.authority.vni_id(key.vni())?.get();
                if vni.is_some_and(|v| v != id) {
                    return None;
                }
                let (port, remote) = match r.at {
                    Location::Access(p) => (Some(self.port_name(p)), None),
                    Location::Remote { vtep, .. } => (None, Some(vtep.to_string())),
                };
                Some(FdbView {
                    vni: id,
                    mac: key.mac().to_string(),
                    port,
                    remote,
                    is_static: r.is_static(),
                    origin: r.origin.as_str().to_owned(),
                    idle_secs: (r.origin == Origin::Learned)
                        .then(|| now.saturating_sub(r.last_seen)),
                })
            })
            .collect();
        out.sort_by(|a, b| (a.vni, &a.mac).cmp(&(b.vni, &b.mac)));
        out
    }

    fn arp(&self, vni: Option<u32>) -> Vec<ArpView> {
        let Some(m) = &self.manager else {
            return Vec::new();
        };
        let mut out: Vec<ArpView> = m
            .authority
            .bindings()
            .filter_map(|((index, ip), b)| {
                let id = m.authority.vni_id(*index)?.get();
                if vni.is_some_and(|v| v != id) {
                    return None;
                }
                Some(ArpView {
                    vni: id,
                    ip: ip.to_string(),
                    mac: b.mac.to_string(),
                    is_static: b.is_static,
                })
            })
            .collect();
        out.sort_by(|a, b| (a.vni, &a.ip).cmp(&(b.vni, &b.ip)));
        out
    }

    fn pools(&self) -> impl Iterator<Item = &Mempool> {
        self.plumbing.all_pools()
    }

    /// Every counter, as the final report and `GET /api/v1/stats` show them.
    pub fn report(&self) -> Report {
        let snapshot = self.snapshot();
        let ports = self
            .plumbing
            .ports
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let g = |v: &Vec<u64>| v.get(i).copied().unwrap_or(0);
                PortReport {
                    name: p.port.info.name.clone(),
                    role: p.role.as_str(),
                    mac: crate::wire::MacAddr(p.port.info.mac).to_string(),
                    rx_packets: g(&snapshot.port_rx_packets),
                    rx_bytes: g(&snapshot.port_rx_bytes),
                    tx_packets: g(&snapshot.port_tx_packets),
                    tx_dropped: g(&snapshot.port_tx_dropped),
                    nic: NicStats::from(p.port.stats()),
                }
            })
            .collect();
        let workers = self
            .lcores
            .iter()
            .zip(self.counters)
            .map(|(l, c)| {
                let packets = c.burst_packets.get();
                WorkerReport {
                    lcore: l.0,
                    busy_polls: c.busy_polls.get(),
                    idle_polls: c.idle_polls.get(),
                    idle_sleeps: c.idle_sleeps.get(),
                    bursts: c.bursts.get(),
                    packets,
                    cycles_per_packet: if packets == 0 {
                        0.0
                    } else {
                        c.busy_cycles.get() as f64 / packets as f64
                    },
                }
            })
            .collect();
        let mut r = Report {
            ports,
            drops: report::drops_by_name(&snapshot),
            workers,
            totals: Totals {
                rx_packets: snapshot.total_rx(),
                tx_packets: snapshot.total_tx(),
                dropped: snapshot.total_drops(),
            },
            mempool: MempoolReport {
                in_use_at_start: self.in_use_at_start,
                in_use: self.pools().map(|p| u64::from(p.in_use())).sum(),
                in_use_at_exit: None,
                capacity: self.pools().map(|p| u64::from(p.capacity())).sum(),
                pools: self
                    .pools()
                    .map(|p| report::PoolReport {
                        name: p.name(),
                        capacity: u64::from(p.capacity()),
                        in_use: u64::from(p.in_use()),
                    })
                    .collect(),
            },
            gateway: None,
        };
        if let Some(m) = &self.manager {
            report::add_gateway(&mut r, m, self.counters);
        }
        r
    }

    /// The tables, if this vtepd routes (404 otherwise, naming what is missing).
    fn routing(&self) -> Result<&crate::tables::authority::Authority, AdminError> {
        match &self.manager {
            Some(m) if m.authority.routing().is_some() => Ok(&m.authority),
            _ => Err(AdminError {
                status: 404,
                message: "routing is not configured (no [[vrf]])".into(),
            }),
        }
    }

    /// The policy view; 404 when no policy is configured.
    fn policy(&self) -> Result<super::policy_view::PolicyView, AdminError> {
        self.manager
            .as_ref()
            .and_then(|m| super::policy_view::policy(&m.policy, self.counters, m.channels()))
            .ok_or_else(|| AdminError {
                status: 404,
                message: "no policy is configured (no [policy])".into(),
            })
    }

    pub fn vrfs(&self) -> Vec<super::api::model::VrfView> {
        self.manager.as_ref().map_or_else(Vec::new, |m| {
            super::routing_view::vrfs(&m.authority, self.counters)
        })
    }

    pub fn evpn(&self) -> Option<super::api::model::EvpnView> {
        let m = self.manager.as_ref()?;
        Some(super::evpn::view::view(m.evpn()?, &m.authority))
    }

    /// The Prometheus exposition.
    pub fn metrics(&self) -> String {
        let r = self.report();
        let extra = metrics::Extra {
            links: self
                .plumbing
                .ports
                .iter()
                .map(|p| {
                    let l = p.port.link();
                    (l.up, l.speed_mbps)
                })
                .collect(),
            xstats: self
                .plumbing
                .ports
                .iter()
                .map(|p| p.port.xstats())
                .collect(),
            update_queue_depth: self
                .manager
                .as_ref()
                .map(TableManager::update_queue_depths)
                .unwrap_or_default(),
            update_queue_full: self
                .manager
                .as_ref()
                .map_or(0, TableManager::update_queue_full),
            uptime_secs: self.started.elapsed().as_secs(),
            tunnels: self
                .manager
                .as_ref()
                .map_or(0, |m| m.authority.tunnel_count()),
            bindings: self
                .manager
                .as_ref()
                .map_or(0, |m| m.authority.binding_count()),
            vnis: self.manager.as_ref().map_or(0, |m| m.authority.vni_count()),
            evpn: self.evpn(),
            vrfs: self.vrfs(),
            routes: self
                .manager
                .as_ref()
                .and_then(|m| super::routing_view::routes(&m.authority, self.counters, None).ok())
                .unwrap_or_default(),
            policy: self.policy().ok(),
        };
        metrics::render(&r, &extra)
    }
}

/// Drops are summarised, never logged one by one: every 10 s, a warning if drops were a
/// spike (over 1000, or over 1% of what was received), naming the biggest reasons.
struct DropWatch {
    last: CounterSnapshot,
    next: Instant,
}

const DROP_REPORT_PERIOD: Duration = Duration::from_secs(10);

impl DropWatch {
    fn new(start: CounterSnapshot) -> DropWatch {
        DropWatch {
            last: start,
            next: Instant::now() + DROP_REPORT_PERIOD,
        }
    }

    fn check(&mut self, now: Instant, snapshot: impl FnOnce() -> CounterSnapshot) {
        if now < self.next {
            return;
        }
        self.next = now + DROP_REPORT_PERIOD;
        let s = snapshot();
        let dropped = s.total_drops().saturating_sub(self.last.total_drops());
        let received = s.total_rx().saturating_sub(self.last.total_rx());
        if dropped >= 1000 || (dropped > 0 && dropped.saturating_mul(100) >= received) {
            let mut reasons: Vec<(u64, &str)> = crate::pipeline::DropReason::ALL
                .iter()
                .map(|r| {
                    let i = *r as usize;
                    let d = s
                        .drops
                        .get(i)
                        .copied()
                        .unwrap_or(0)
                        .saturating_sub(self.last.drops.get(i).copied().unwrap_or(0));
                    (d, r.name())
                })
                .filter(|(d, _)| *d > 0)
                .collect();
            reasons.sort_unstable_by(|a, b| b.cmp(a));
            let top: Vec<String> = reasons
                .iter()
                .take(5)
                .map(|(d, n)| format!("{n}={d}"))
                .collect();
            tracing::warn!(
                "{dropped} of {received} packets dropped in the last {}s: {}",
                DROP_REPORT_PERIOD.as_secs(),
                top.join(" ")
            );
        }
        self.last = s;
    }
}

fn describe_reload(r: &ReloadView) -> String {
    if *r == ReloadView::default() {
        return "no change".into();
    }
    format!(
        "VNIs added {:?} removed {:?} changed {:?}; {} static MAC and {} binding changes{}",
        r.vnis_added,
        r.vnis_removed,
        r.vnis_changed,
        r.fdb_changed,
        r.arp_changed,
        if r.settings_changed.is_empty() {
            String::new()
        } else {
            format!("; {}", r.settings_changed.join(", "))
        }
    )
}
