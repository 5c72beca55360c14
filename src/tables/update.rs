//! The messages between the management thread and the workers.
//!
//! `Update`s go from the management thread to every worker's replica, `Event`s come back.
//! Both travel through bounded lock-free queues (crossbeam `ArrayQueue`): a full queue is
//! counted, never waited on. Heap values (a VNI's lists, a tunnel) are boxed by the
//! management thread; a worker hands replaced ones back as `Garbage` so it never frees
//! memory itself.

use std::net::IpAddr;

use crate::config::Encap;
use crate::wire::MacAddr;

use super::binding::Binding;
use super::fdb::FdbEntry;
use super::route::{Fib, VrfIndex};
use super::tunnel::Tunnel;
use super::vni::VniState;
use super::{FdbKey, PortIndex, TunnelId, VniIndex};

/// A change to apply to a worker's replica.
#[derive(Debug)]
pub enum Update {
    /// Install or replace (Some) or remove (None) a VNI.
    Vni(VniIndex, Option<Box<VniState>>),
    /// Install or replace (Some) or remove (None) a tunnel.
    Tunnel(TunnelId, Option<Box<Tunnel>>),
    FdbSet(FdbKey, FdbEntry),
    FdbDel(FdbKey),
    /// Remove a VNI's entries (learned only, or all).
    FdbFlush {
        vni: VniIndex,
        learned_only: bool,
    },
    BindingSet(VniIndex, IpAddr, Binding),
    BindingDel(VniIndex, IpAddr),
    /// Install or replace (Some) or remove (None) a VRF's forwarding table.
    Vrf(VrfIndex, Option<Box<Fib>>),
    /// The underlay multicast groups to receive (every VNI's `multicast_group`).
    Groups(Box<[IpAddr]>),
    /// A new policy for the policy stage (None: no policy any more), with a session table
    /// the first time (made on the management thread, so no worker allocates it).
    Policy(Box<PolicyUpdate>),
}

/// `Update::Policy`'s payload.
#[derive(Debug)]
pub struct PolicyUpdate {
    pub set: Option<std::sync::Arc<super::policy::PolicySet>>,
    pub sessions: Option<Box<super::session::Sessions>>,
}

/// Where a worker saw a MAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Location {
    Access(PortIndex),
    Remote { vtep: IpAddr, encap: Encap },
}

/// What a worker reports to the management thread.
#[derive(Debug)]
pub enum Event {
    /// A MAC was seen at a new location (new entry or move).
    Learned { key: FdbKey, at: Location },
    /// Traffic from a known MAC (rate-limited per entry): keeps it from aging.
    Refreshed(FdbKey),
    /// An ARP/ND exchange in a VNI showed `ip` at `mac`.
    Snooped {
        vni: VniIndex,
        ip: IpAddr,
        mac: MacAddr,
    },
    /// An underlay neighbour answered (ARP reply, neighbour advertisement).
    Neighbor { ip: IpAddr, mac: MacAddr },
    /// Values the worker replaced, to be freed here rather than on the worker.
    Garbage(Garbage),
}

/// Replaced table values on their way back to the management thread.
#[derive(Debug)]
pub enum Garbage {
    Vni(Box<VniState>),
    Tunnel(Box<Tunnel>),
    Fib(Box<Fib>),
    Groups(Box<[IpAddr]>),
    /// A replaced policy: the last worker to let go of it frees its classifier on the
    /// management thread.
    Policy(std::sync::Arc<super::policy::PolicySet>),
    Sessions(Box<super::session::Sessions>),
}
