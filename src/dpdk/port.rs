//! Ethernet ports: lookup, capabilities, configuration, queues, link and statistics.

use std::ffi::{CStr, CString};
use std::fmt;
use std::mem::MaybeUninit;

use super::eal::Eal;
use super::error::{check, DpdkError, Errno};
use super::mbuf::Mbuf;
use super::mempool::Mempool;

/// A DPDK port id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortId(pub u16);

impl fmt::Debug for PortId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "port{}", self.0)
    }
}

impl fmt::Display for PortId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Why a port could not be found or set up.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error("no DPDK port named {name:?} (available: {available})")]
    NotFound { name: String, available: String },
    #[error("port {name}: {what}")]
    Unsupported { name: String, what: String },
    #[error("port {name}: {source}")]
    Dpdk {
        name: String,
        #[source]
        source: DpdkError,
    },
}

/// Every port EAL probed, by id.
pub fn available_ports(_eal: &Eal) -> Vec<PortId> {
    let mut ports = Vec::new();
    // SAFETY: iterating port ids has no preconditions once EAL is up (witnessed by `_eal`).
    let mut id = unsafe { dpdk_sys::rte_eth_find_next_owned_by(0, 0) };
    while id < u64::from(dpdk_sys::RTE_MAX_ETHPORTS) {
        let Ok(port) = u16::try_from(id) else { break };
        ports.push(PortId(port));
        // SAFETY: as above.
        id = unsafe { dpdk_sys::rte_eth_find_next_owned_by(port + 1, 0) };
    }
    ports
}

/// The right to add devices while vtepd runs, taken on the main thread once EAL is up and
/// handed to the thread that adds them (the namespace a device opens its host resources in
/// is its creator thread's).
#[derive(Debug)]
pub struct Hotplug(());

impl Hotplug {
    pub fn new(_eal: &Eal) -> Hotplug {
        Hotplug(())
    }

    /// Creates a virtual device as `--vdev <devargs>` would at start (`rte_dev_probe`) and
    /// returns its port, `name` being the device name the devargs begin with. Devices that
    /// open host resources (net_af_packet's socket) open them in the calling thread's
    /// network namespace.
    pub fn attach_vdev(&self, name: &str, devargs: &str) -> Result<PortId, PortError> {
        let dpdk_err = |what: &str, errno: i32| PortError::Dpdk {
            name: name.to_owned(),
            source: DpdkError::new(what, Errno(errno)),
        };
        let c_args = CString::new(devargs).map_err(|_| dpdk_err("devargs", libc::EINVAL))?;
        let c_name = CString::new(name).map_err(|_| dpdk_err("device name", libc::EINVAL))?;
        // SAFETY: EAL is up (witnessed by `Hotplug`); c_args is a valid C string that DPDK
        // copies.
        let ret = unsafe { dpdk_sys::rte_dev_probe(c_args.as_ptr()) };
        if ret != 0 {
            return Err(dpdk_err("rte_dev_probe", -ret));
        }
        let mut id = 0u16;
        // SAFETY: c_name is a valid C string, id a valid out-pointer.
        let ret = unsafe { dpdk_sys::rte_eth_dev_get_port_by_name(c_name.as_ptr(), &mut id) };
        if ret != 0 {
            return Err(dpdk_err("rte_eth_dev_get_port_by_name", -ret));
        }
        Ok(PortId(id))
    }
}

/// The device name of a port ("net_pcap0", "0000:3b:00.0").
pub fn port_name(port: PortId) -> String {
    let mut buf = [0 as std::ffi::c_char; dpdk_sys::RTE_ETH_NAME_MAX_LEN as usize];
    // SAFETY: buf has RTE_ETH_NAME_MAX_LEN bytes, the size DPDK writes at most.
    let ret = unsafe { dpdk_sys::rte_eth_dev_get_name_by_port(port.0, buf.as_mut_ptr()) };
    if ret != 0 {
        return format!("port{}", port.0);
    }
    // SAFETY: on success DPDK wrote a NUL-terminated name into buf.
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

/// Finds a port by device name, or by numeric port id.
pub fn find_port(eal: &Eal, name: &str) -> Result<PortId, PortError> {
    let not_found = || PortError::NotFound {
        name: name.to_owned(),
        available: describe_ports(eal),
    };
    let c_name = CString::new(name).map_err(|_| not_found())?;
    let mut id = 0u16;
    // SAFETY: c_name is a valid C string, id a valid out-pointer.
    let ret = unsafe { dpdk_sys::rte_eth_dev_get_port_by_name(c_name.as_ptr(), &mut id) };
    if ret == 0 {
        return Ok(PortId(id));
    }
    match name.parse::<u16>() {
        Ok(n) if available_ports(eal).contains(&PortId(n)) => Ok(PortId(n)),
        _ => Err(not_found()),
    }
}

fn describe_ports(eal: &Eal) -> String {
    let ports = available_ports(eal);
    if ports.is_empty() {
        return "none; add --vdev or -a to the EAL arguments".to_owned();
    }
    ports
        .iter()
        .map(|p| format!("{} = {}", p.0, port_name(*p)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a device can do, from `rte_eth_dev_info_get`.
#[derive(Debug, Clone)]
pub struct PortInfo {
    pub id: PortId,
    pub name: String,
    pub driver: String,
    pub max_rx_queues: u16,
    pub max_tx_queues: u16,
    pub rx_offload_capa: u64,
    pub tx_offload_capa: u64,
    pub rss_offload_capa: u64,
    pub min_mtu: u16,
    pub max_mtu: u16,
    /// The largest frame the device receives (Ethernet header and CRC included).
    pub max_rx_pktlen: u32,
    pub socket: i32,
    pub mac: [u8; 6],
}

impl PortInfo {
    pub fn query(port: PortId) -> Result<PortInfo, PortError> {
        let name = port_name(port);
        let mut raw = MaybeUninit::<dpdk_sys::rte_eth_dev_info>::zeroed();
        // SAFETY: raw is a valid out-pointer; DPDK fills it on success.
        let ret = unsafe { dpdk_sys::rte_eth_dev_info_get(port.0, raw.as_mut_ptr()) };
        check(ret, || "rte_eth_dev_info_get".into()).map_err(|source| PortError::Dpdk {
            name: name.clone(),
            source,
        })?;
        // SAFETY: zero-initialised and then filled by DPDK: every field is initialised.
        let raw = unsafe { raw.assume_init() };
        let driver = if raw.driver_name.is_null() {
            "unknown".to_owned()
        } else {
            // SAFETY: driver_name points to the driver's static NUL-terminated name.
            unsafe { CStr::from_ptr(raw.driver_name) }
                .to_string_lossy()
                .into_owned()
        };
        let mut mac = dpdk_sys::rte_ether_addr::default();
        // SAFETY: mac is a valid out-pointer.
        let ret = unsafe { dpdk_sys::rte_eth_macaddr_get(port.0, &mut mac) };
        check(ret, || "rte_eth_macaddr_get".into()).map_err(|source| PortError::Dpdk {
            name: name.clone(),
            source,
        })?;
        // SAFETY: reading the device's NUMA socket has no preconditions.
        let socket = unsafe { dpdk_sys::rte_eth_dev_socket_id(port.0) };
        Ok(PortInfo {
            id: port,
            name,
            driver,
            max_rx_queues: raw.max_rx_queues,
            max_tx_queues: raw.max_tx_queues,
            rx_offload_capa: raw.rx_offload_capa,
            tx_offload_capa: raw.tx_offload_capa,
            rss_offload_capa: raw.flow_type_rss_offloads,
            min_mtu: raw.min_mtu,
            max_mtu: raw.max_mtu,
            max_rx_pktlen: raw.max_rx_pktlen,
            socket,
            mac: mac.addr_bytes,
        })
    }
}

/// How to set a port up. Requested offloads and RSS fields are masked to the device's
/// capabilities; `Port::offloads` tells what was actually enabled.
#[derive(Debug, Clone)]
pub struct PortSetup {
    pub queues: u16,
    pub rx_desc: u16,
    pub tx_desc: u16,
    pub mtu: Option<u16>,
    pub rss_hf: u64,
    pub rx_offloads: u64,
    pub tx_offloads: u64,
    pub promiscuous: bool,
    pub allmulticast: bool,
    /// One pool per RX queue (each worker's queue draws from its own socket's pool).
    pub rx_pools: Vec<Mempool>,
}

/// The offloads and RSS fields a port ended up with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EnabledOffloads {
    pub rx: u64,
    pub tx: u64,
    pub rss_hf: u64,
}

/// A configured port. Stopped and closed on drop.
#[derive(Debug)]
pub struct Port {
    pub info: PortInfo,
    pub offloads: EnabledOffloads,
    pub queues: u16,
    started: bool,
}

impl Port {
    /// Configures the device and its queues (one RX and one TX queue per worker). Returns the
    /// port and its queues; each queue goes to exactly one worker.
    pub fn configure(
        info: PortInfo,
        setup: &PortSetup,
    ) -> Result<(Port, Vec<RxQueue>, Vec<TxQueue>), PortError> {
        let id = info.id;
        let name = info.name.clone();
        let dpdk_err = |source| PortError::Dpdk {
            name: name.clone(),
            source,
        };
        if setup.queues == 0
            || setup.queues > info.max_rx_queues
            || setup.queues > info.max_tx_queues
        {
            return Err(PortError::Unsupported {
                name: name.clone(),
                what: format!(
                    "{} workers need {} RX and TX queues, the device has {} RX and {} TX \
                     (net_pcap: one queue per rx_pcap/tx_pcap argument)",
                    setup.queues, setup.queues, info.max_rx_queues, info.max_tx_queues
                ),
            });
        }
        if setup.rx_pools.len() != usize::from(setup.queues) {
            return Err(PortError::Unsupported {
                name: name.clone(),
                what: "one RX mempool per queue is required".into(),
            });
        }
        if let Some(mtu) = setup.mtu {
            if mtu < info.min_mtu || mtu > info.max_mtu {
                return Err(PortError::Unsupported {
                    name: name.clone(),
                    what: format!(
                        "MTU {mtu} is outside the device's range {}..={}",
                        info.min_mtu, info.max_mtu
                    ),
                });
            }
            // DPDK checks the frame, not the MTU: Ethernet header and CRC on top (what
            // rte_eth_dev_configure would refuse with a bare EINVAL).
            let frame = u32::from(mtu) + ETHER_OVERHEAD;
            if info.max_rx_pktlen != 0 && frame > info.max_rx_pktlen {
                return Err(PortError::Unsupported {
                    name: name.clone(),
                    what: format!(
                        "MTU {mtu} needs {frame}-byte frames; the device receives at most {} \
                         (MTU {})",
                        info.max_rx_pktlen,
                        info.max_rx_pktlen.saturating_sub(ETHER_OVERHEAD)
                    ),
                });
            }
        }

        let offloads = EnabledOffloads {
            rx: setup.rx_offloads & info.rx_offload_capa,
            tx: setup.tx_offloads & info.tx_offload_capa,
            rss_hf: setup.rss_hf & info.rss_offload_capa,
        };
        let mut conf = dpdk_sys::rte_eth_conf::default();
        if offloads.rss_hf != 0 {
            conf.rxmode.mq_mode = dpdk_sys::RTE_ETH_MQ_RX_RSS;
            conf.rx_adv_conf.rss_conf.rss_hf = offloads.rss_hf;
        }
        conf.rxmode.offloads = offloads.rx;
        conf.txmode.offloads = offloads.tx;
        if let Some(mtu) = setup.mtu {
            conf.rxmode.mtu = u32::from(mtu);
        }
        // SAFETY: conf is a valid, fully initialised configuration for the call.
        let ret =
            unsafe { dpdk_sys::rte_eth_dev_configure(id.0, setup.queues, setup.queues, &conf) };
        check(ret, || "rte_eth_dev_configure".into()).map_err(dpdk_err)?;

        let (mut rx_desc, mut tx_desc) = (setup.rx_desc, setup.tx_desc);
        // SAFETY: valid out-pointers; the device is configured.
        let ret =
            unsafe { dpdk_sys::rte_eth_dev_adjust_nb_rx_tx_desc(id.0, &mut rx_desc, &mut tx_desc) };
        check(ret, || "rte_eth_dev_adjust_nb_rx_tx_desc".into()).map_err(dpdk_err)?;

        let socket = u32::try_from(info.socket).unwrap_or(0);
        let mut rxqs = Vec::with_capacity(usize::from(setup.queues));
        let mut txqs = Vec::with_capacity(usize::from(setup.queues));
        for (q, pool) in (0..setup.queues).zip(&setup.rx_pools) {
            // SAFETY: the device is configured with `queues` RX queues; NULL rx_conf selects
            // the driver's defaults; the pool outlives the port (pools live until EAL cleanup).
            let ret = unsafe {
                dpdk_sys::rte_eth_rx_queue_setup(
                    id.0,
                    q,
                    rx_desc,
                    socket,
                    std::ptr::null(),
                    pool.as_ptr(),
                )
            };
            check(ret, || format!("rte_eth_rx_queue_setup({q})")).map_err(dpdk_err)?;
            // SAFETY: as above, for TX; NULL tx_conf selects the defaults plus the port's
            // offloads.
            let ret = unsafe {
                dpdk_sys::rte_eth_tx_queue_setup(id.0, q, tx_desc, socket, std::ptr::null())
            };
            check(ret, || format!("rte_eth_tx_queue_setup({q})")).map_err(dpdk_err)?;
            rxqs.push(RxQueue { port: id, queue: q });
            txqs.push(TxQueue::new(id, q));
        }

        let port = Port {
            info,
            offloads,
            queues: setup.queues,
            started: false,
        };
        // Promiscuous/allmulticast are best effort: virtual devices often lack them, and an
        // access port that cannot be made promiscuous still carries its own MAC's traffic.
        if setup.promiscuous {
            // SAFETY: the port is configured.
            let ret = unsafe { dpdk_sys::rte_eth_promiscuous_enable(id.0) };
            if ret != 0 && ret != -libc::ENOTSUP {
                tracing::warn!(port = %port.info.name, "promiscuous mode: {}", Errno(-ret));
            }
        }
        if setup.allmulticast {
            // SAFETY: the port is configured.
            let ret = unsafe { dpdk_sys::rte_eth_allmulticast_enable(id.0) };
            if ret != 0 && ret != -libc::ENOTSUP {
                tracing::warn!(port = %port.info.name, "all-multicast mode: {}", Errno(-ret));
            }
        }
        Ok((port, rxqs, txqs))
    }

    pub fn id(&self) -> PortId {
        self.info.id
    }

    pub fn start(&mut self) -> Result<(), PortError> {
        // SAFETY: the port is configured with all its queues set up.
        let ret = unsafe { dpdk_sys::rte_eth_dev_start(self.info.id.0) };
        check(ret, || "rte_eth_dev_start".into()).map_err(|source| PortError::Dpdk {
            name: self.info.name.clone(),
            source,
        })?;
        self.started = true;
        Ok(())
    }

    pub fn stop(&mut self) {
        if self.started {
            // SAFETY: the port was started; workers using its queues have been joined.
            let ret = unsafe { dpdk_sys::rte_eth_dev_stop(self.info.id.0) };
            if ret != 0 {
                tracing::warn!(port = %self.info.name, "stop: {}", Errno(-ret));
            }
            self.started = false;
        }
    }

    pub fn link(&self) -> Link {
        let mut raw = dpdk_sys::rte_eth_link::default();
        // SAFETY: raw is a valid out-pointer.
        let ret = unsafe { dpdk_sys::rte_eth_link_get_nowait(self.info.id.0, &mut raw) };
        if ret != 0 {
            return Link::default();
        }
        Link {
            up: raw.link_status() != 0,
            speed_mbps: raw.link_speed,
            full_duplex: raw.link_duplex() != 0,
        }
    }

    pub fn stats(&self) -> PortStats {
        PortStats::read(self.info.id)
    }

    /// The driver's extended statistics, by name.
    pub fn xstats(&self) -> Vec<(String, u64)> {
        read_xstats(self.info.id)
    }
}

impl Drop for Port {
    fn drop(&mut self) {
        self.stop();
        // SAFETY: the port is stopped and no queue handle is in use any more (workers are
        // joined before ports are dropped).
        let ret = unsafe { dpdk_sys::rte_eth_dev_close(self.info.id.0) };
        if ret != 0 {
            tracing::warn!(port = %self.info.name, "close: {}", Errno(-ret));
        }
    }
}

/// Link state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Link {
    pub up: bool,
    pub speed_mbps: u32,
    pub full_duplex: bool,
}

/// The basic counters every driver keeps (`rte_eth_stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortStats {
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_missed: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub rx_nombuf: u64,
}

impl PortStats {
    pub fn read(port: PortId) -> PortStats {
        let mut raw = dpdk_sys::rte_eth_stats::default();
        // SAFETY: raw is a valid out-pointer; reading stats is thread-safe in DPDK.
        let ret = unsafe { dpdk_sys::rte_eth_stats_get(port.0, &mut raw) };
        if ret != 0 {
            return PortStats::default();
        }
        PortStats {
            rx_packets: raw.ipackets,
            tx_packets: raw.opackets,
            rx_bytes: raw.ibytes,
            tx_bytes: raw.obytes,
            rx_missed: raw.imissed,
            rx_errors: raw.ierrors,
            tx_errors: raw.oerrors,
            rx_nombuf: raw.rx_nombuf,
        }
    }
}

fn read_xstats(port: PortId) -> Vec<(String, u64)> {
    // SAFETY: a NULL array with size 0 asks for the count only.
    let n = unsafe { dpdk_sys::rte_eth_xstats_get_names(port.0, std::ptr::null_mut(), 0) };
    let Ok(n) = usize::try_from(n) else {
        return Vec::new();
    };
    let mut names = vec![dpdk_sys::rte_eth_xstat_name::default(); n];
    let mut values = vec![dpdk_sys::rte_eth_xstat::default(); n];
    let size = u32::try_from(n).unwrap_or(0);
    // SAFETY: both arrays have `n` elements, the size passed.
    let got_names = unsafe { dpdk_sys::rte_eth_xstats_get_names(port.0, names.as_mut_ptr(), size) };
    // SAFETY: as above.
    let got_values = unsafe { dpdk_sys::rte_eth_xstats_get(port.0, values.as_mut_ptr(), size) };
    if got_names < 0 || got_values < 0 {
        return Vec::new();
    }
    values
        .iter()
        .take(usize::try_from(got_values).unwrap_or(0))
        .filter_map(|v| {
            let name = names.get(usize::try_from(v.id).ok()?)?;
            // SAFETY: DPDK NUL-terminates each name within its fixed-size array.
            let text = unsafe { CStr::from_ptr(name.name.as_ptr()) };
            Some((text.to_string_lossy().into_owned(), v.value))
        })
        .collect()
}

/// Ethernet header + CRC: what DPDK adds to an MTU to get the frame size.
const ETHER_OVERHEAD: u32 = 14 + 4;

/// The most packets one burst call handles.
pub const MAX_BURST: usize = 64;

/// One RX queue of one port, owned by exactly one worker.
#[derive(Debug)]
pub struct RxQueue {
    port: PortId,
    queue: u16,
}

impl RxQueue {
    pub fn port(&self) -> PortId {
        self.port
    }

    pub fn queue(&self) -> u16 {
        self.queue
    }

    /// Receives up to `burst.capacity()` packets into `burst`, replacing its contents.
    #[inline(always)]
    pub fn rx_burst(&mut self, burst: &mut Burst, max: u16) -> usize {
        burst.clear();
        let max = max.min(MAX_BURST as u16);
        // SAFETY: `slots` has MAX_BURST entries, all None after clear(); Option<Mbuf> has the
        // layout of `struct rte_mbuf *`, so DPDK writes owned mbuf pointers straight into them.
        // This queue is used by this worker alone (DPDK's per-queue thread-safety rule).
        let n = unsafe {
            dpdk_sys::rte_eth_rx_burst(
                self.port.0,
                self.queue,
                burst.slots.as_mut_ptr().cast::<*mut dpdk_sys::rte_mbuf>(),
                max,
            )
        };
        burst.len = usize::from(n);
        burst.len
    }
}

/// A received burst: owned mbufs in slots `0..len`. Untaken packets are freed on `clear`/drop.
#[derive(Debug)]
pub struct Burst {
    slots: [Option<Mbuf>; MAX_BURST],
    len: usize,
}

impl Default for Burst {
    fn default() -> Self {
        Burst {
            slots: std::array::from_fn(|_| None),
            len: 0,
        }
    }
}

impl Burst {
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The received packets; a handler `take()`s the ones it keeps.
    #[inline(always)]
    pub fn packets(&mut self) -> &mut [Option<Mbuf>] {
        let len = self.len;
        self.slots.get_mut(..len).unwrap_or_default()
    }

    /// Frees whatever was not taken.
    #[inline(always)]
    pub fn clear(&mut self) {
        for slot in self.packets() {
            drop(slot.take());
        }
        self.len = 0;
    }
}

/// One TX queue of one port with its pending buffer, owned by exactly one worker.
/// Packets are queued with `push` and go out when a burst is full or on `flush`; what the
/// driver does not accept is freed and reported as dropped.
#[derive(Debug)]
pub struct TxQueue {
    port: PortId,
    queue: u16,
    pending: [Option<Mbuf>; MAX_BURST],
    len: usize,
    threshold: usize,
}

/// The result of handing packets to the driver.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxResult {
    pub sent: u16,
    pub dropped: u16,
}

impl TxQueue {
    fn new(port: PortId, queue: u16) -> TxQueue {
        TxQueue {
            port,
            queue,
            pending: std::array::from_fn(|_| None),
            len: 0,
            threshold: 32,
        }
    }

    pub fn port(&self) -> PortId {
        self.port
    }

    pub fn queue(&self) -> u16 {
        self.queue
    }

    /// Sends as soon as `burst` packets are pending.
    pub fn set_burst(&mut self, burst: usize) {
        self.threshold = burst.clamp(1, MAX_BURST);
    }

    #[inline(always)]
    pub fn pending(&self) -> usize {
        self.len
    }

    /// Queues one packet; sends the burst when it is full.
    #[inline(always)]
    pub fn push(&mut self, m: Mbuf) -> TxResult {
        if let Some(slot) = self.pending.get_mut(self.len) {
            *slot = Some(m);
            self.len += 1;
        } else {
            // Unreachable while threshold <= MAX_BURST; kept panic-free.
            drop(m);
            return TxResult {
                sent: 0,
                dropped: 1,
            };
        }
        if self.len >= self.threshold {
            self.flush()
        } else {
            TxResult::default()
        }
    }

    /// Sends everything pending; frees and counts what the driver refused.
    #[inline]
    pub fn flush(&mut self) -> TxResult {
        if self.len == 0 {
            return TxResult::default();
        }
        let n = u16::try_from(self.len).unwrap_or(MAX_BURST as u16);
        // SAFETY: slots 0..len hold owned mbufs (layout of `struct rte_mbuf *`). The driver
        // takes ownership of the first `sent`; this queue is used by this worker alone.
        let sent = unsafe {
            dpdk_sys::rte_eth_tx_burst(
                self.port.0,
                self.queue,
                self.pending.as_mut_ptr().cast::<*mut dpdk_sys::rte_mbuf>(),
                n,
            )
        };
        let accepted = usize::from(sent);
        for (i, slot) in self.pending.iter_mut().take(self.len).enumerate() {
            if i < accepted {
                // Owned by the driver now: forget without freeing.
                if let Some(m) = slot.take() {
                    let _ = m.into_raw();
                }
            } else {
                drop(slot.take());
            }
        }
        self.len = 0;
        TxResult {
            sent,
            dropped: n - sent,
        }
    }
}

impl Drop for TxQueue {
    fn drop(&mut self) {
        for slot in self.pending.iter_mut() {
            drop(slot.take());
        }
    }
}
