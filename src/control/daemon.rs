//! The daemon's life: set the data plane up, launch one worker per lcore, watch for signals
//! and idleness, stop the workers, close the ports, report.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam::utils::CachePadded;

use crate::config::{Config, Mode};
use crate::dataplane::setup::{self, Plumbing, SetupError};
use crate::dataplane::xconnect::CrossConnect;
use crate::dataplane::{BurstHandler, CounterSnapshot, SharedCounters, TxPorts, Worker};
use crate::dpdk::{self, DpdkError, Eal, Launched, LcoreId};

use super::console::RateLine;
use super::gateway::{self as gw, GatewayError};
use super::report::{self, MempoolReport, NicStats, PortReport, Report, Totals, WorkerReport};
use super::tables::TableManager;

/// How often the management loop wakes up: table changes reach the workers within this
/// (plus one drain period on the worker).
const TICK: Duration = Duration::from_millis(1);

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
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
}

impl RunError {
    pub fn is_usage_error(&self) -> bool {
        match self {
            RunError::Setup(e) => e.is_usage_error(),
            RunError::Gateway(GatewayError::Tables(_)) => true,
            _ => false,
        }
    }
}

/// Runs the gateway until SIGINT/SIGTERM (or idleness, if asked); returns the final report.
pub fn run(eal: &Eal, config: Config, opts: &RunOptions) -> Result<Report, RunError> {
    let signalled = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&signalled)).map_err(RunError::Signals)?;
    }

    let lcores = dpdk::worker_lcores(eal);
    let mut plumbing = setup::build(eal, &config, &lcores)?;
    let names: Vec<String> = plumbing
        .ports
        .iter()
        .map(|p| p.port.info.name.clone())
        .collect();
    let in_use_at_start: u64 = plumbing.pools.values().map(|p| u64::from(p.in_use())).sum();

    let stop = Arc::new(AtomicBool::new(false));
    let counters: Vec<SharedCounters> = lcores
        .iter()
        .map(|_| Arc::new(CachePadded::new(Default::default())))
        .collect();
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
            .and_then(|plan| {
                manager = Some(plan.manager);
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
            return Err(e);
        }
    };
    tracing::info!(
        "vtepd running: {} worker(s) on lcore(s) {:?}, management on lcore {}",
        launched.len(),
        lcores.iter().map(|l| l.0).collect::<Vec<_>>(),
        dpdk::main_lcore(eal)
    );

    watch(&signalled, &counters, &names, opts, manager.as_mut());

    stop.store(true, Ordering::SeqCst);
    let workers: Vec<(LcoreId, i32)> = launched
        .into_iter()
        .map(|l| {
            let lcore = l.lcore();
            (lcore, l.wait())
        })
        .collect();
    for (lcore, rc) in &workers {
        if *rc != 0 {
            tracing::warn!("worker on lcore {lcore} exited with {rc}");
        }
    }

    let snapshot = CounterSnapshot::sum(&counters, names.len());
    let mut report = build_report(&plumbing, &snapshot, &counters, &lcores);
    if let Some(m) = &manager {
        report::add_gateway(&mut report, m, &counters);
    }
    report.mempool.in_use_at_start = in_use_at_start;
    let pools = plumbing.pools.clone();
    drop(plumbing); // stops and closes the ports, returning their buffers
    report.mempool.in_use_at_exit = pools.values().map(|p| u64::from(p.in_use())).sum();
    report.mempool.capacity = pools.values().map(|p| u64::from(p.capacity())).sum();
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
        };
        launched.push(dpdk::launch(eal, *lcore, move || worker.run())?);
    }
    Ok(launched)
}

/// The management loop: returns on a signal or once traffic has stopped for long enough.
fn watch(
    signalled: &AtomicBool,
    counters: &[SharedCounters],
    names: &[String],
    opts: &RunOptions,
    mut manager: Option<&mut TableManager>,
) {
    let mut rates = RateLine::new(CounterSnapshot::sum(counters, names.len()));
    let mut next_stats = opts.stats_interval.map(|i| Instant::now() + i);
    let mut last_rx = 0u64;
    let mut last_activity = Instant::now();
    let mut next_check = Instant::now();
    while !signalled.load(Ordering::Relaxed) {
        std::thread::sleep(TICK);
        if let Some(m) = manager.as_deref_mut() {
            m.tick();
        }
        let now = Instant::now();
        if now < next_check {
            continue;
        }
        next_check = now + Duration::from_millis(10);
        if let (Some(at), Some(interval)) = (next_stats, opts.stats_interval) {
            if now >= at {
                for line in rates.lines(CounterSnapshot::sum(counters, names.len()), names) {
                    println!("{line}");
                }
                next_stats = Some(at + interval);
            }
        }
        if let Some(idle) = opts.exit_when_idle {
            let rx = CounterSnapshot::sum(counters, names.len()).total_rx();
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

fn build_report(
    plumbing: &Plumbing,
    snapshot: &CounterSnapshot,
    counters: &[SharedCounters],
    lcores: &[LcoreId],
) -> Report {
    let ports = plumbing
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
    let workers = lcores
        .iter()
        .zip(counters)
        .map(|(l, c)| {
            let packets = c.burst_packets.get();
            WorkerReport {
                lcore: l.0,
                busy_polls: c.busy_polls.get(),
                idle_polls: c.idle_polls.get(),
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
    Report {
        ports,
        drops: report::drops_by_name(snapshot),
        workers,
        totals: Totals {
            rx_packets: snapshot.total_rx(),
            tx_packets: snapshot.total_tx(),
            dropped: snapshot.total_drops(),
        },
        mempool: MempoolReport::default(),
        gateway: None,
    }
}
