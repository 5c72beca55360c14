//! The daemon's life: set the data plane up, launch one worker per lcore, run the
//! management loop until told to stop, stop the workers, close the ports, report.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam::utils::CachePadded;

use crate::config::{Config, Mode};
use crate::dataplane::setup::{self, Plumbing, SetupError};
use crate::dataplane::xconnect::CrossConnect;
use crate::dataplane::{BurstHandler, IdleBackOff, SharedCounters, TxPorts, Worker};
use crate::dpdk::{self, DpdkError, Eal, Launched, LcoreId};

use super::api::{self, ApiServer};
use super::evpn::Evpn;
use super::gateway::{self as gw, GatewayError};
use super::management::{DataPlane, Limits, Management};
use super::report::Report;
use super::tables::TableManager;

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The configuration file, read again on reload.
    pub config_path: PathBuf,
    pub stats_interval: Option<Duration>,
    pub exit_when_idle: Option<Duration>,
    pub final_stats: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error(transparent)]
    Launch(#[from] DpdkError),
    #[error("install signal handlers: {0}")]
    Signals(std::io::Error),
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    #[error("api.listen: cannot serve the API on {0}")]
    Api(std::io::Error),
    #[error(transparent)]
    Evpn(#[from] super::evpn::EvpnError),
}

impl RunError {
    pub fn is_usage_error(&self) -> bool {
        match self {
            RunError::Setup(e) => e.is_usage_error(),
            RunError::Gateway(GatewayError::Tables(_) | GatewayError::Policy(_)) => true,
            RunError::Evpn(e) => e.is_usage_error(),
            _ => false,
        }
    }
}

/// Runs the gateway until SIGINT/SIGTERM (or idleness, if asked); returns the final report.
pub fn run(eal: &Eal, config: Config, opts: &RunOptions) -> Result<Report, RunError> {
    let stop_requested = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop_requested)).map_err(RunError::Signals)?;
    }
    let hup = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&hup))
        .map_err(RunError::Signals)?;

    let lcores = dpdk::worker_lcores(eal);
    let mut plumbing = setup::build(eal, &config, &lcores)?;
    let counters: Vec<SharedCounters> = lcores
        .iter()
        .map(|_| Arc::new(CachePadded::new(Default::default())))
        .collect();

    // The API comes up before the workers: a port already in use stops the start cleanly.
    // HTTP and telemetry requests reach the management loop through one channel.
    let (calls_tx, calls_rx) = api::channel();
    super::telemetry::register(eal, &calls_tx);
    let api = match config.api.listen {
        Some(addr) => {
            let cpu = dpdk::main_lcore(eal).cpu();
            let server = ApiServer::start(addr, config.api.token.clone(), cpu, calls_tx.clone())
                .map_err(RunError::Api)?;
            tracing::info!("api listening on http://{}", server.addr);
            Some(server)
        }
        None => None,
    };

    let stop = Arc::new(AtomicBool::new(false));
    let mut manager: Option<TableManager> = None;
    let launched = match &config.mode {
        Mode::CrossConnect { .. } => launch_workers(
            eal,
            &config,
            &lcores,
            &mut plumbing,
            &counters,
            &stop,
            |_| Ok(CrossConnect),
        ),
        Mode::Gateway(g) => gw::plan(eal, &config, g, &lcores, &plumbing, &counters)
            .map_err(RunError::from)
            .and_then(|mut plan| {
                if let Some(e) = &g.evpn {
                    let evpn = Evpn::start(
                        e,
                        &g.underlay,
                        plan.manager.underlay_mac(),
                        dpdk::main_lcore(eal).cpu(),
                        &plan.manager.authority,
                        plan.exception.take().map(|q| (dpdk::Hotplug::new(eal), q)),
                    )?;
                    plan.manager.attach_evpn(evpn);
                }
                manager = Some(plan.manager);
                plumbing.extra_pools.extend(plan.pools);
                let mut handlers = plan.handlers.into_iter();
                launch_workers(
                    eal,
                    &config,
                    &lcores,
                    &mut plumbing,
                    &counters,
                    &stop,
                    |_| {
                        handlers.next().ok_or(RunError::Launch(DpdkError::new(
                            "a handler per worker",
                            dpdk::Errno(libc::EINVAL),
                        )))
                    },
                )
            }),
    };
    let launched = match launched {
        Ok(l) => l,
        Err(e) => {
            stop.store(true, Ordering::SeqCst);
            if let Some(api) = api {
                api.stop();
            }
            return Err(e);
        }
    };
    tracing::info!(
        "vtepd running: {} worker(s) on lcore(s) {:?}, management on lcore {}",
        launched.len(),
        lcores.iter().map(|l| l.0).collect::<Vec<_>>(),
        dpdk::main_lcore(eal)
    );

    let mut mgmt = Management::new(
        config,
        opts.config_path.clone(),
        manager,
        DataPlane {
            plumbing: &plumbing,
            counters: &counters,
            lcores: &lcores,
        },
        api,
        calls_rx,
    );
    mgmt.run(
        &stop_requested,
        &hup,
        &Limits {
            stats_interval: opts.stats_interval,
            exit_when_idle: opts.exit_when_idle,
        },
    );
    mgmt.close_api();

    stop.store(true, Ordering::SeqCst);
    for l in launched {
        let lcore = l.lcore();
        let rc = l.wait();
        if rc != 0 {
            tracing::warn!("worker on lcore {lcore} exited with {rc}");
        }
    }
    // Let the management thread apply what the workers reported last (for the report).
    if let Some(m) = mgmt.manager.as_mut() {
        m.tick();
        m.stop_evpn();
    }
    let mut report = mgmt.report();
    drop(mgmt);
    let pools = plumbing.all_pools().copied().collect::<Vec<_>>();
    drop(plumbing); // stops and closes the ports, returning their buffers
    report.mempool.in_use_at_exit = Some(pools.iter().map(|p| u64::from(p.in_use())).sum());
    Ok(report)
}

fn launch_workers<H, F>(
    eal: &Eal,
    config: &Config,
    lcores: &[LcoreId],
    plumbing: &mut Plumbing,
    counters: &[SharedCounters],
    stop: &Arc<AtomicBool>,
    mut make_handler: F,
) -> Result<Vec<Launched>, RunError>
where
    H: BurstHandler,
    F: FnMut(usize) -> Result<H, RunError>,
{
    let hz = dpdk::tsc_hz();
    let tx_drain_tsc = hz / 1_000_000 * u64::from(config.workers.tx_drain_us);
    let mut launched = Vec::with_capacity(lcores.len());
    for (w, lcore) in lcores.iter().enumerate() {
        let rx = std::mem::take(&mut plumbing.rx[w]);
        let tx = std::mem::take(&mut plumbing.tx[w]);
        let worker = Worker {
            lcore: *lcore,
            rx: rx.into_iter().enumerate().collect(),
            tx: TxPorts::new(tx, Arc::clone(&counters[w]), config.workers.burst),
            handler: make_handler(w)?,
            counters: Arc::clone(&counters[w]),
            stop: Arc::clone(stop),
            burst: config.workers.burst,
            tx_drain_tsc,
            idle: IdleBackOff::new(config.workers.idle_sleep_us, hz),
        };
        launched.push(dpdk::launch(eal, *lcore, move || worker.run())?);
    }
    Ok(launched)
}
