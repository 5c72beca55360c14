//! Bringing the data plane up: mempools per NUMA socket, ports with one RX and one TX queue
//! per worker, offloads and RSS masked to what each device can do (l3fwd's setup order).

use std::collections::BTreeMap;

use crate::config::{Config, Mode};
use crate::dpdk::{
    self, consts, Eal, LcoreId, Mempool, Port, PortError, PortInfo, PortSetup, RxQueue, TxQueue,
};

use super::counters::MAX_PORTS;

/// What a port is for; decides its offloads, RSS fields and promiscuity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortRole {
    Underlay,
    Access,
    CrossConnect,
}

impl PortRole {
    pub fn as_str(self) -> &'static str {
        match self {
            PortRole::Underlay => "underlay",
            PortRole::Access => "access",
            PortRole::CrossConnect => "xconnect",
        }
    }
}

/// Why the data plane could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(
        "no worker lcore: give EAL at least two cores, e.g. `-l 0-1` (the first runs the \
         management thread, each further one a worker)"
    )]
    NoWorkers,
    #[error("too many ports ({0}); at most {MAX_PORTS}")]
    TooManyPorts(usize),
    #[error(transparent)]
    Port(#[from] PortError),
    #[error(transparent)]
    Dpdk(#[from] dpdk::DpdkError),
}

impl SetupError {
    /// True when the configuration or the command line is at fault (exit code 2).
    pub fn is_usage_error(&self) -> bool {
        matches!(
            self,
            SetupError::NoWorkers
                | SetupError::TooManyPorts(_)
                | SetupError::Port(PortError::NotFound { .. })
                | SetupError::Port(PortError::Unsupported { .. })
        )
    }
}

/// A port that is configured and started, with its role.
#[derive(Debug)]
pub struct PortHandle {
    pub role: PortRole,
    pub port: Port,
}

/// Per-worker queues: `rx[w][p]` and `tx[w][p]` are worker w's queues on port p.
#[derive(Debug)]
pub struct Plumbing {
    pub ports: Vec<PortHandle>,
    pub rx: Vec<Vec<RxQueue>>,
    pub tx: Vec<Vec<TxQueue>>,
    pub pools: BTreeMap<i32, Mempool>,
    /// Pools a mode adds for its workers (the gateway's replication pools): empty until the
    /// workers start, counted with the ports' pools.
    pub extra_pools: Vec<Mempool>,
    /// Mbufs in use once every port is started (RX rings filled), before any worker runs:
    /// what the pools return to whenever no packet is in flight.
    pub in_use_at_start: u64,
}

impl Plumbing {
    /// Every pool the data plane takes buffers from.
    pub fn all_pools(&self) -> impl Iterator<Item = &Mempool> {
        self.pools.values().chain(&self.extra_pools)
    }
}

/// The role of each configured port, in configuration order.
pub fn port_roles(config: &Config) -> Vec<(String, PortRole)> {
    match &config.mode {
        Mode::CrossConnect { ports } => ports
            .iter()
            .map(|p| (p.clone(), PortRole::CrossConnect))
            .collect(),
        Mode::Gateway(g) => std::iter::once((g.underlay.port.clone(), PortRole::Underlay))
            .chain(g.access.iter().map(|a| (a.port.clone(), PortRole::Access)))
            .collect(),
    }
}

/// How many mbufs a pool needs: every descriptor of every queue can hold one, plus what is in
/// flight in each worker (RX burst, TX buffers per port) and the per-lcore caches.
pub fn pool_size(config: &Config, ports: usize, workers: usize) -> u32 {
    if let Some(n) = config.workers.mbufs {
        return n;
    }
    let w = &config.workers;
    let per_queue = u32::from(w.rx_desc).saturating_add(u32::from(w.tx_desc));
    let rings = per_queue
        .saturating_mul(ports as u32)
        .saturating_mul(workers as u32);
    let in_flight = (dpdk::MAX_BURST as u32)
        .saturating_mul((ports as u32).saturating_add(1))
        .saturating_add(POOL_CACHE)
        .saturating_mul(workers as u32);
    rings
        .saturating_add(in_flight)
        .saturating_add(4096)
        .next_power_of_two()
        .saturating_sub(1)
}

const POOL_CACHE: u32 = 256;

/// Room in each mbuf for the largest frame any port may receive, so every received frame is
/// one contiguous buffer (no RX scatter), plus DPDK's headroom, which the encapsulation's
/// outer headers are prepended into.
pub fn data_room(config: &Config) -> u16 {
    let largest_mtu = match &config.mode {
        Mode::Gateway(g) => g
            .access
            .iter()
            .filter_map(|a| a.mtu)
            .chain(std::iter::once(g.underlay.mtu))
            .max()
            .unwrap_or(1500),
        Mode::CrossConnect { .. } => 1500,
    };
    // Ethernet header + one 802.1Q tag + the FCS some drivers leave in the buffer.
    let frame = largest_mtu.saturating_add(14 + 4 + 4);
    let room = frame.saturating_add(dpdk::HEADROOM);
    room.max(dpdk::DEFAULT_DATA_ROOM)
}

pub fn build(eal: &Eal, config: &Config, workers: &[LcoreId]) -> Result<Plumbing, SetupError> {
    if workers.is_empty() {
        return Err(SetupError::NoWorkers);
    }
    let roles = port_roles(config);
    if roles.len() > MAX_PORTS {
        return Err(SetupError::TooManyPorts(roles.len()));
    }
    // Look every port up before allocating anything: a typo fails fast and cleanly.
    let infos = roles
        .iter()
        .map(|(name, _)| dpdk::find_port(eal, name).and_then(PortInfo::query))
        .collect::<Result<Vec<_>, _>>()?;

    let mut pools = BTreeMap::new();
    let size = pool_size(config, roles.len(), workers.len());
    for socket in workers.iter().map(|l| l.socket()) {
        if let std::collections::btree_map::Entry::Vacant(e) = pools.entry(socket) {
            let pool = Mempool::create(
                eal,
                &format!("vtepd_mbufs_s{socket}"),
                size,
                POOL_CACHE,
                data_room(config),
                socket,
            )?;
            e.insert(pool);
        }
    }
    let rx_pools: Vec<Mempool> = workers
        .iter()
        .filter_map(|l| pools.get(&l.socket()).copied())
        .collect();

    let queues = u16::try_from(workers.len()).unwrap_or(u16::MAX);
    let mut ports = Vec::with_capacity(roles.len());
    let mut rx: Vec<Vec<RxQueue>> = workers.iter().map(|_| Vec::new()).collect();
    let mut tx: Vec<Vec<TxQueue>> = workers.iter().map(|_| Vec::new()).collect();
    for ((_, role), info) in roles.iter().zip(infos) {
        let setup = port_setup(config, *role, &info, queues, rx_pools.clone());
        let (mut port, rxqs, txqs) = Port::configure(info, &setup)?;
        port.start()?;
        log_port(&port, *role);
        for (w, q) in rxqs.into_iter().enumerate() {
            if let Some(v) = rx.get_mut(w) {
                v.push(q);
            }
        }
        for (w, q) in txqs.into_iter().enumerate() {
            if let Some(v) = tx.get_mut(w) {
                v.push(q);
            }
        }
        ports.push(PortHandle { role: *role, port });
    }
    // Measured before the workers start: once they run, packets in flight would count too.
    let in_use_at_start = pools.values().map(|p| u64::from(p.in_use())).sum();
    Ok(Plumbing {
        ports,
        rx,
        tx,
        pools,
        extra_pools: Vec::new(),
        in_use_at_start,
    })
}

fn port_setup(
    config: &Config,
    role: PortRole,
    info: &PortInfo,
    queues: u16,
    rx_pools: Vec<Mempool>,
) -> PortSetup {
    let w = &config.workers;
    let (mtu, rss_hf, tx_offloads) = match (&config.mode, role) {
        (Mode::Gateway(g), PortRole::Underlay) => (
            // The port must carry the largest outer IP packet plus the Ethernet header.
            Some(g.underlay.mtu),
            consts::RTE_ETH_RSS_IP | consts::RTE_ETH_RSS_UDP,
            consts::RTE_ETH_TX_OFFLOAD_IPV4_CKSUM
                | consts::RTE_ETH_TX_OFFLOAD_OUTER_IPV4_CKSUM
                | consts::RTE_ETH_TX_OFFLOAD_OUTER_UDP_CKSUM
                | consts::RTE_ETH_TX_OFFLOAD_UDP_CKSUM
                | consts::RTE_ETH_TX_OFFLOAD_TCP_CKSUM
                | consts::RTE_ETH_TX_OFFLOAD_VXLAN_TNL_TSO
                | consts::RTE_ETH_TX_OFFLOAD_GRE_TNL_TSO
                | consts::RTE_ETH_TX_OFFLOAD_MULTI_SEGS,
        ),
        (Mode::Gateway(g), PortRole::Access) => (
            g.access
                .iter()
                .find(|a| a.port == info.name || a.port == info.id.to_string())
                .and_then(|a| a.mtu),
            consts::RTE_ETH_RSS_IP | consts::RTE_ETH_RSS_UDP | consts::RTE_ETH_RSS_TCP,
            consts::RTE_ETH_TX_OFFLOAD_VLAN_INSERT | consts::RTE_ETH_TX_OFFLOAD_MULTI_SEGS,
        ),
        _ => (
            None,
            consts::RTE_ETH_RSS_IP | consts::RTE_ETH_RSS_UDP | consts::RTE_ETH_RSS_TCP,
            0,
        ),
    };
    PortSetup {
        queues,
        rx_desc: w.rx_desc,
        tx_desc: w.tx_desc,
        mtu,
        rss_hf,
        rx_offloads: consts::RTE_ETH_RX_OFFLOAD_RSS_HASH
            | if role == PortRole::Underlay {
                consts::RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | consts::RTE_ETH_RX_OFFLOAD_OUTER_UDP_CKSUM
            } else {
                0
            },
        tx_offloads,
        promiscuous: role != PortRole::Underlay,
        allmulticast: role == PortRole::Underlay,
        rx_pools,
    }
}

fn log_port(port: &Port, role: PortRole) {
    let link = port.link();
    let mac = crate::wire::MacAddr(port.info.mac);
    tracing::info!(
        "port {} ({}, id {}, driver {}, mac {mac}): {} queue pair(s), link {}{}, \
         rx offloads {:#x}, tx offloads {:#x}, rss {:#x}",
        port.info.name,
        role.as_str(),
        port.info.id,
        port.info.driver,
        port.queues,
        if link.up { "up" } else { "down" },
        if link.speed_mbps > 0 {
            format!(" {} Mb/s", link.speed_mbps)
        } else {
            String::new()
        },
        port.offloads.rx,
        port.offloads.tx,
        port.offloads.rss_hf,
    );
}
