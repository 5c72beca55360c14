//! Bringing the VXLAN/NVGRE gateway up: authoritative tables from the configuration, a
//! replica and a pipeline per worker, the pools replication needs, the offload decisions.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use crossbeam::queue::ArrayQueue;

use crate::config::{BgpVia, Config, FdbDest, GatewayConfig};
use crate::dataplane::gateway::{GatewayHandler, ReplicationPools};
use crate::dataplane::setup::Plumbing;
use crate::dataplane::SharedCounters;
use crate::dpdk::{self, consts, Eal, LcoreId, Mempool};
use crate::pipeline::encap::SourcePorts;
use crate::pipeline::underlay::LocalAddrs;
use crate::pipeline::{Gateway, GatewayParams, OffloadCaps, RoutingParams};
use crate::tables::authority::{members, Authority, TableError};
use crate::tables::sync::SyncChannel;
use crate::tables::update::Location;
use crate::tables::PortIndex;
use crate::wire::MacAddr;

use super::evpn::exception::ExceptionQueues;
use super::tables::TableManager;

/// Updates and events a worker's queues hold.
const SYNC_QUEUE: usize = 65536;
/// Management-originated packets waiting for a worker.
const SLOW_PATH_QUEUE: usize = 1024;
/// Packets for the EVPN namespace's kernel waiting for the exception thread: a few
/// milliseconds of the default policers.
const TO_KERNEL_QUEUE: usize = 1024;
/// Buffers for copies' private headers and for references to shared payloads, per socket.
const REPLICATION_POOL: u32 = 16383;
/// Data room of a header buffer: the largest outer header stack plus headroom.
const HEADER_ROOM: u16 = 256 + 128;

/// Why the gateway could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("tables: {0}")]
    Tables(#[from] TableError),
    #[error(transparent)]
    Dpdk(#[from] dpdk::DpdkError),
    #[error("policy: {0}")]
    Policy(#[from] crate::tables::policy::PolicyBuildError),
}

/// The authoritative tables the configuration describes. Port indices follow configuration
/// order: 0 is the underlay, access ports from 1.
pub fn authority_from_config(
    g: &GatewayConfig,
    underlay_mac: MacAddr,
    fdb_capacity: usize,
) -> Result<Authority, TableError> {
    let mut a = Authority::new(g.underlay.clone(), underlay_mac, fdb_capacity);
    a.set_routing(g.routing.as_deref().cloned());
    let access: Vec<(PortIndex, Option<crate::wire::Vni>)> = g
        .access
        .iter()
        .enumerate()
        .map(|(i, p)| (port_index(i), p.untagged_vni))
        .collect();
    for v in &g.vnis {
        a.add_vni(v, members(v, &access))?;
    }
    for f in &g.fdb {
        let encap = a
            .vni_config(f.vni)
            .map(|v| v.encap)
            .ok_or(TableError::UnknownVni(f.vni))?;
        let at = match &f.dest {
            FdbDest::Remote(ip) => Location::Remote { vtep: *ip, encap },
            FdbDest::Access(name) => {
                let i = g
                    .access
                    .iter()
                    .position(|p| &p.port == name)
                    .ok_or_else(|| TableError::NotFound(name.clone()))?;
                Location::Access(port_index(i))
            }
        };
        a.set_static_fdb(f.vni, f.mac, at)?;
    }
    for b in &g.arp {
        a.set_static_binding(b.vni, b.ip, b.mac)?;
    }
    Ok(a)
}

fn port_index(access_position: usize) -> PortIndex {
    PortIndex::try_from(access_position + 1).unwrap_or(PortIndex::MAX)
}

/// The pipeline's fixed parameters.
pub fn params(g: &GatewayConfig, underlay_mac: MacAddr, offload: OffloadCaps) -> GatewayParams {
    let mut local = LocalAddrs::default();
    for c in &g.underlay.addresses {
        match c.addr {
            IpAddr::V4(a) => local.v4.push(a),
            IpAddr::V6(a) => local.v6.push(a),
        }
    }
    let mut groups: Vec<IpAddr> = g.vnis.iter().filter_map(|v| v.multicast_group).collect();
    groups.sort();
    groups.dedup();
    local.groups = groups.into_boxed_slice();
    GatewayParams {
        underlay_port: 0,
        underlay_mac,
        local,
        mtu: g.underlay.mtu,
        port_mtu: std::iter::once(g.underlay.mtu)
            .chain(g.access.iter().map(|a| a.effective_mtu()))
            .collect(),
        dscp: g.underlay.dscp,
        qos: g.qos,
        source_ports: SourcePorts::new(g.underlay.source_ports.0, g.underlay.source_ports.1),
        offload,
        workers: 1,
        exception: match g.evpn.as_ref().map(|e| e.bgp_via) {
            Some(BgpVia::Underlay(limits)) => Some(limits),
            Some(BgpVia::Namespace) | None => None,
        },
        routing: g.routing.as_ref().map(|r| RoutingParams {
            gateway_mac: r.gateway_mac,
            router_mac: r.router_mac,
            icmp_errors_pps: r.icmp_errors_pps,
            resolve_pps: r.resolve_pps,
        }),
    }
}

/// What the ports can do, and one line per port for the start-up log.
fn offload_caps(plumbing: &Plumbing) -> (OffloadCaps, Vec<String>) {
    let underlay_tx = plumbing
        .ports
        .first()
        .map(|p| p.port.offloads.tx)
        .unwrap_or(0);
    let has = |bit: u64| underlay_tx & bit != 0;
    let caps = OffloadCaps {
        outer_ipv4_checksum: has(consts::RTE_ETH_TX_OFFLOAD_OUTER_IPV4_CKSUM),
        outer_udp_checksum: has(consts::RTE_ETH_TX_OFFLOAD_OUTER_UDP_CKSUM),
        // Hardware tunnel TSO also needs the NIC to do the inner checksums.
        tunnel_tso: has(consts::RTE_ETH_TX_OFFLOAD_VXLAN_TNL_TSO)
            && has(consts::RTE_ETH_TX_OFFLOAD_GRE_TNL_TSO)
            && has(consts::RTE_ETH_TX_OFFLOAD_IPV4_CKSUM)
            && has(consts::RTE_ETH_TX_OFFLOAD_TCP_CKSUM),
        multi_segs: plumbing
            .ports
            .iter()
            .all(|p| p.port.offloads.tx & consts::RTE_ETH_TX_OFFLOAD_MULTI_SEGS != 0),
    };
    let hw = |on: bool| if on { "hardware" } else { "software" };
    let mut lines = vec![format!(
        "offloads on underlay port {}: outer IPv4 checksum software (incremental from the \
         template), outer UDP checksum (IPv6) {}, TCP segmentation {}, flood copies {}",
        plumbing
            .ports
            .first()
            .map(|p| p.port.info.name.as_str())
            .unwrap_or("?"),
        hw(caps.outer_udp_checksum),
        if caps.tunnel_tso {
            "hardware (tunnel TSO)"
        } else {
            "software (librte_gso)"
        },
        if caps.multi_segs {
            "zero-copy (chained buffers)"
        } else {
            "copied (a port lacks multi-segment TX)"
        },
    )];
    for p in plumbing.ports.iter().skip(1) {
        lines.push(format!(
            "offloads on access port {}: VLAN tags in software, multi-segment TX {}",
            p.port.info.name,
            if p.port.offloads.tx & consts::RTE_ETH_TX_OFFLOAD_MULTI_SEGS != 0 {
                "yes"
            } else {
                "no"
            }
        ));
    }
    (caps, lines)
}

/// Everything the gateway mode needs on top of the ports: per-worker handlers ready to
/// launch, and the management side of table sync.
pub struct GatewayPlan {
    pub handlers: Vec<GatewayHandler>,
    pub manager: TableManager,
    /// The replication pools (headers and indirect buffers of flood copies and GSO
    /// segments), for the mempool accounting next to the ports' pools.
    pub pools: Vec<Mempool>,
    /// The queues of the exception path, when BGP goes over the underlay.
    pub exception: Option<ExceptionQueues>,
}

impl std::fmt::Debug for GatewayPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayPlan")
            .field("workers", &self.handlers.len())
            .finish()
    }
}

pub fn plan(
    eal: &Eal,
    config: &Config,
    g: &GatewayConfig,
    lcores: &[LcoreId],
    plumbing: &Plumbing,
    counters: &[SharedCounters],
) -> Result<GatewayPlan, GatewayError> {
    let underlay_mac = plumbing
        .ports
        .first()
        .map(|p| MacAddr(p.port.info.mac))
        .unwrap_or(MacAddr::ZERO);
    let fdb_capacity = config.tables.fdb_capacity as usize;
    let authority = authority_from_config(g, underlay_mac, fdb_capacity)?;
    let (offload, lines) = offload_caps(plumbing);
    for l in lines {
        tracing::info!("{l}");
    }
    let mut params = params(g, underlay_mac, offload);
    params.workers = u32::try_from(lcores.len()).unwrap_or(u32::MAX);

    let mut pools: BTreeMap<i32, ReplicationPools> = BTreeMap::new();
    for (socket, full) in &plumbing.pools {
        let headers = Mempool::create(
            eal,
            &format!("vtepd_hdr_s{socket}"),
            REPLICATION_POOL,
            256,
            HEADER_ROOM,
            *socket,
        )?;
        let indirect = Mempool::create(
            eal,
            &format!("vtepd_ind_s{socket}"),
            REPLICATION_POOL,
            256,
            0,
            *socket,
        )?;
        pools.insert(
            *socket,
            ReplicationPools {
                headers,
                indirect,
                full: *full,
            },
        );
    }
    let mgmt_pool = plumbing.pools.values().next().copied().ok_or_else(|| {
        dpdk::DpdkError::new(
            "mempool for the management thread",
            dpdk::Errno(libc::ENOMEM),
        )
    })?;

    let channels: Vec<Arc<SyncChannel>> = lcores
        .iter()
        .map(|_| SyncChannel::new(SYNC_QUEUE, SYNC_QUEUE))
        .collect();
    let slow_path = Arc::new(ArrayQueue::new(SLOW_PATH_QUEUE));
    let exception = params.exception.map(|_| ExceptionQueues {
        to_kernel: Arc::new(ArrayQueue::new(TO_KERNEL_QUEUE)),
        to_underlay: Arc::clone(&slow_path),
        pool: mgmt_pool,
    });
    let mut manager = TableManager::new(
        authority,
        channels.clone(),
        Arc::clone(&slow_path),
        mgmt_pool,
        underlay_mac,
        config.tables.mac_age_secs,
    );
    manager.set_groups(params.local.groups.to_vec());
    manager.set_policy(g.policy.as_deref())?;
    let ports = plumbing.ports.len();
    let hz = dpdk::tsc_hz();
    let mut handlers = Vec::with_capacity(lcores.len());
    for ((lcore, channel), c) in lcores.iter().zip(&channels).zip(counters) {
        let pool = pools.get(&lcore.socket()).copied().ok_or_else(|| {
            dpdk::DpdkError::new("mempool for a worker's socket", dpdk::Errno(libc::ENOMEM))
        })?;
        let mut gw = Gateway::new(
            params.clone(),
            manager.replica(ports, fdb_capacity),
            Arc::clone(channel),
            Arc::clone(c),
        );
        // The policy is in force from the first packet: taken in before the worker starts.
        gw.apply_updates(usize::MAX);
        handlers.push(GatewayHandler::new(
            gw,
            pool,
            Arc::clone(&slow_path),
            exception.as_ref().map(|e| Arc::clone(&e.to_kernel)),
            hz,
        ));
    }
    tracing::info!(
        "gateway: {} VNI(s), {} tunnel(s), {} static MAC(s), {} static binding(s); VTEP {}",
        g.vnis.len(),
        manager.authority.tunnels().count(),
        g.fdb.len(),
        g.arp.len(),
        g.underlay
            .addresses
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let pools = pools
        .values()
        .flat_map(|p| [p.headers, p.indirect])
        .collect();
    Ok(GatewayPlan {
        handlers,
        manager,
        pools,
        exception,
    })
}
