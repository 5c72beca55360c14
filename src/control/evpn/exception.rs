//! The exception path's management half: BGP (and whatever else the namespace's kernel
//! speaks at the VTEP addresses) over vtepd's underlay port, as on a gateway whose only
//! links are its fabric ports.
//!
//! A thread inside the namespace owns a DPDK port on `vtep0`'s peer (net_af_packet, created
//! at run time there, so its socket is the namespace's): what the workers hand over
//! (`to_kernel`, policed per class in `pipeline::exception`) goes out on it and so into the
//! kernel through `vtep0`; what the kernel sends from `vtep0` comes in on it and goes to
//! the workers' slow-path queue, to leave on the underlay. No copy either way: the buffers
//! move. Off the worker cores: workers only push to a bounded queue.
//!
//! Why not a TAP (net_tap) or virtio-user as `vtep0`: either dies with vtepd, and `vtep0`
//! carries the ownership mark and the addresses FRR's sessions are bound to; a veth outlives
//! a crash with the namespace, and the next vtepd takes it over.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam::queue::ArrayQueue;

use crate::dpdk::{Burst, Hotplug, Mbuf, Mempool, Port, PortInfo, PortSetup, RxQueue, TxQueue};
use crate::pipeline;

use super::namespace;
use super::thread::spawn_ready;

/// The DPDK device on `vtep0`'s peer.
const DEVICE: &str = "net_af_packet_evpn";
/// Packets moved each way per round.
const BURST: u16 = 32;
/// The pause when a round moved nothing: the thread shares the management core, and BGP
/// does not notice 200 µs.
const IDLE: Duration = Duration::from_micros(200);

/// The queues between the workers and the exception thread.
#[derive(Debug, Clone)]
pub struct ExceptionQueues {
    /// Filled by the workers with packets for the kernel.
    pub to_kernel: Arc<ArrayQueue<Mbuf>>,
    /// The workers' slow-path queue: what the kernel sends leaves on the underlay.
    pub to_underlay: Arc<ArrayQueue<Mbuf>>,
    /// Buffers for what the kernel sends.
    pub pool: Mempool,
}

/// What crossed the exception path, both ways.
#[derive(Debug, Default)]
pub struct ExceptionCounters {
    pub to_kernel_packets: AtomicU64,
    pub to_kernel_bytes: AtomicU64,
    /// Refused by the namespace's side (its socket buffer full).
    pub to_kernel_dropped: AtomicU64,
    pub from_kernel_packets: AtomicU64,
    pub from_kernel_bytes: AtomicU64,
    /// No room in the slow-path queue.
    pub from_kernel_dropped: AtomicU64,
}

/// A snapshot of `ExceptionCounters`, for the API and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExceptionStats {
    pub to_kernel_packets: u64,
    pub to_kernel_bytes: u64,
    pub to_kernel_dropped: u64,
    pub from_kernel_packets: u64,
    pub from_kernel_bytes: u64,
    pub from_kernel_dropped: u64,
}

impl ExceptionCounters {
    pub fn snapshot(&self) -> ExceptionStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ExceptionStats {
            to_kernel_packets: get(&self.to_kernel_packets),
            to_kernel_bytes: get(&self.to_kernel_bytes),
            to_kernel_dropped: get(&self.to_kernel_dropped),
            from_kernel_packets: get(&self.from_kernel_packets),
            from_kernel_bytes: get(&self.from_kernel_bytes),
            from_kernel_dropped: get(&self.from_kernel_dropped),
        }
    }
}

fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

/// The running exception thread.
#[derive(Debug)]
pub struct ExceptionPath {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    pub counters: Arc<ExceptionCounters>,
}

impl ExceptionPath {
    /// Enters `namespace` on a new thread (pinned to `cpu`), makes the port on `vtep0`'s
    /// peer there and starts moving packets. Fails if the port cannot be made.
    pub fn start(
        namespace: &str,
        hotplug: Hotplug,
        queues: ExceptionQueues,
        cpu: Option<usize>,
    ) -> io::Result<ExceptionPath> {
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(ExceptionCounters::default());
        let (s, c, ns) = (
            Arc::clone(&stop),
            Arc::clone(&counters),
            namespace.to_owned(),
        );
        let pool = queues.pool;
        let thread = spawn_ready(
            "vtepd-exception",
            cpu,
            move || open(&ns, &hotplug, &pool),
            move |(port, rx, tx)| {
                Mover {
                    rx,
                    tx,
                    queues,
                    counters: c,
                }
                .run(&s);
                // Stopped and closed only now: the queues hold its buffers until then.
                drop(port);
            },
        )?;
        Ok(ExceptionPath {
            stop,
            thread: Some(thread),
            counters,
        })
    }

    /// Ends the thread; what is still queued for the kernel is dropped.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn open(
    namespace: &str,
    hotplug: &Hotplug,
    pool: &Mempool,
) -> io::Result<(Port, RxQueue, TxQueue)> {
    let ns = std::fs::File::open(format!("/run/netns/{namespace}"))?;
    // Only this thread moves: the device's socket, made here, is the namespace's.
    nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
    let peer = namespace::exception_device();
    let id = hotplug
        .attach_vdev(DEVICE, &format!("{DEVICE},iface={peer},qpairs=1"))
        .map_err(io::Error::other)?;
    let info = PortInfo::query(id).map_err(io::Error::other)?;
    let setup = PortSetup {
        queues: 1,
        rx_desc: 512,
        tx_desc: 512,
        mtu: None,
        rss_hf: 0,
        rx_offloads: 0,
        tx_offloads: 0,
        promiscuous: false,
        allmulticast: false,
        rx_pools: vec![*pool],
    };
    let (mut port, mut rx, mut tx) = Port::configure(info, &setup).map_err(io::Error::other)?;
    port.start().map_err(io::Error::other)?;
    match (rx.pop(), tx.pop()) {
        (Some(rx), Some(tx)) => Ok((port, rx, tx)),
        _ => Err(io::Error::other("the exception port has no queue")),
    }
}

struct Mover {
    rx: RxQueue,
    tx: TxQueue,
    queues: ExceptionQueues,
    counters: Arc<ExceptionCounters>,
}

impl Mover {
    fn run(&mut self, stop: &AtomicBool) {
        let mut burst = Burst::default();
        while !stop.load(Ordering::Relaxed) {
            let moved = self.kernel_bound() + self.underlay_bound(&mut burst);
            if moved == 0 {
                std::thread::sleep(IDLE);
            }
        }
    }

    fn kernel_bound(&mut self) -> usize {
        let mut moved = 0;
        let (mut sent, mut dropped, mut bytes) = (0u64, 0u64, 0u64);
        for _ in 0..BURST {
            let Some(m) = self.queues.to_kernel.pop() else {
                break;
            };
            moved += 1;
            bytes += u64::from(m.pkt_len());
            let r = self.tx.push(m);
            sent += u64::from(r.sent);
            dropped += u64::from(r.dropped);
        }
        if moved > 0 {
            let r = self.tx.flush();
            sent += u64::from(r.sent);
            dropped += u64::from(r.dropped);
            add(&self.counters.to_kernel_packets, sent);
            add(&self.counters.to_kernel_bytes, bytes);
            add(&self.counters.to_kernel_dropped, dropped);
        }
        moved
    }

    fn underlay_bound(&mut self, burst: &mut Burst) -> usize {
        let n = self.rx.rx_burst(burst, BURST);
        for mut m in burst.packets().iter_mut().filter_map(Option::take) {
            // The kernel left TCP/UDP checksums to vtep0's "hardware": this is it.
            if m.is_contiguous() {
                pipeline::exception::complete_checksum(m.data_mut());
            }
            let len = u64::from(m.pkt_len());
            match self.queues.to_underlay.push(m) {
                Ok(()) => {
                    add(&self.counters.from_kernel_packets, 1);
                    add(&self.counters.from_kernel_bytes, len);
                }
                // The buffer goes back to its pool with the refused value.
                Err(_) => add(&self.counters.from_kernel_dropped, 1),
            }
        }
        burst.clear();
        n
    }
}
