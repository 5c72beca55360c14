//! The safe DPDK layer: the only module of vtepd allowed to use `unsafe`.
//!
//! Each type owns one DPDK object and releases it on drop; each `unsafe` block says why it is
//! sound. The rest of vtepd sees ports, queues, bursts and mbufs, never raw pointers.
#![allow(unsafe_code)]

pub mod acl;
mod cycles;
mod eal;
mod error;
mod gso;
mod lcore;
mod mbuf;
mod mempool;
mod port;
mod table_memory;
mod telemetry;

pub use cycles::{prefetch, tsc, tsc_hz};
pub use eal::{runtime_version, split_args, Eal, EalError};
pub use error::{DpdkError, Errno};
pub use gso::{Gso, Segmented, MAX_SEGMENTS};
pub use lcore::{current as current_lcore, launch, main_lcore, worker_lcores, Launched, LcoreId};
pub use mbuf::{flags as mbuf_flags, Mbuf, Segments, TxOffload};
pub use mempool::{Mempool, DEFAULT_DATA_ROOM, HEADROOM};
pub use port::{
    available_ports, find_port, port_name, Burst, EnabledOffloads, Hotplug, Link, Port, PortError,
    PortId, PortInfo, PortSetup, PortStats, RxQueue, TxQueue, TxResult, MAX_BURST,
};
pub use table_memory::TableMemory;
pub use telemetry::{register as register_telemetry, TelValue};

/// DPDK's capability and request bits, re-exported under readable names.
pub mod consts {
    pub use dpdk_sys::{
        RTE_ETH_RSS_IP, RTE_ETH_RSS_L2_PAYLOAD, RTE_ETH_RSS_TCP, RTE_ETH_RSS_UDP,
        RTE_ETH_RX_OFFLOAD_IPV4_CKSUM, RTE_ETH_RX_OFFLOAD_OUTER_UDP_CKSUM,
        RTE_ETH_RX_OFFLOAD_RSS_HASH, RTE_ETH_RX_OFFLOAD_VLAN_STRIP, RTE_ETH_TX_OFFLOAD_GRE_TNL_TSO,
        RTE_ETH_TX_OFFLOAD_IPV4_CKSUM, RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE,
        RTE_ETH_TX_OFFLOAD_MULTI_SEGS, RTE_ETH_TX_OFFLOAD_OUTER_IPV4_CKSUM,
        RTE_ETH_TX_OFFLOAD_OUTER_UDP_CKSUM, RTE_ETH_TX_OFFLOAD_TCP_CKSUM,
        RTE_ETH_TX_OFFLOAD_TCP_TSO, RTE_ETH_TX_OFFLOAD_UDP_CKSUM, RTE_ETH_TX_OFFLOAD_VLAN_INSERT,
        RTE_ETH_TX_OFFLOAD_VXLAN_TNL_TSO,
    };
}
