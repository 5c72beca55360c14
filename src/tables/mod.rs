//! Forwarding tables: VNIs, tunnels (remote VTEPs), the MAC table (FDB), IP→MAC bindings.
//!
//! The management thread owns the authoritative copy (`Authority`) and is its single
//! writer; every worker holds a `Replica` that only it reads and writes, changed between
//! bursts by `Update`s the management thread sends (and by the worker's own learning, which
//! it reports back as `Event`s). Any control plane — the configuration, learning, the API,
//! later EVPN — changes the tables through the same `Authority` methods, so they all reach
//! the workers the same way.
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::arithmetic_side_effects
    )
)]

pub mod authority;
pub mod binding;
pub mod fdb;
pub mod hash;
pub mod policy;
pub mod replica;
pub mod route;
pub mod session;
pub mod sync;
pub mod tunnel;
pub mod update;
pub mod vni;

use std::fmt;

use crate::wire::MacAddr;

pub use authority::Authority;
pub use replica::Replica;
pub use update::{Event, Update};

/// Most VNIs one gateway serves: every VNI is reached through a VLAN (at most 4094) or an
/// access port's untagged VNI, so 4096 slots cover every valid configuration.
pub const MAX_VNIS: usize = 4096;
/// Most tunnels (remote VTEP × encapsulation) a gateway keeps.
pub const MAX_TUNNELS: usize = 65536;

/// Dense index of a VNI in the tables: slot in the VNI table and per-VNI counters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VniIndex(pub u16);

impl VniIndex {
    #[inline(always)]
    pub fn slot(self) -> usize {
        usize::from(self.0)
    }
}

impl fmt::Debug for VniIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "vni#{}", self.0)
    }
}

/// Dense index of a tunnel: slot in the tunnel table.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TunnelId(pub u32);

impl TunnelId {
    #[inline(always)]
    pub fn slot(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Debug for TunnelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tunnel#{}", self.0)
    }
}

/// Index of a port in configuration order (0 is the underlay in gateway mode).
pub type PortIndex = u8;

/// An FDB key: VNI index in the top 16 bits, MAC in the low 48 (`MacAddr::to_u64`). One
/// integer compare and one cheap hash per lookup. Ordered by VNI, then MAC.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FdbKey(u64);

impl Ord for FdbKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.vni(), self.mac()).cmp(&(other.vni(), other.mac()))
    }
}

impl PartialOrd for FdbKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl FdbKey {
    #[inline(always)]
    pub fn new(vni: VniIndex, mac: MacAddr) -> FdbKey {
        FdbKey((u64::from(vni.0) << 48) | mac.to_u64())
    }

    #[inline(always)]
    pub fn vni(self) -> VniIndex {
        // The top 16 bits of a u64.
        VniIndex((self.0 >> 48) as u16)
    }

    #[inline(always)]
    pub fn mac(self) -> MacAddr {
        let b = self.0.to_le_bytes();
        MacAddr([b[0], b[1], b[2], b[3], b[4], b[5]])
    }

    #[inline(always)]
    pub fn raw(self) -> u64 {
        self.0
    }

    #[inline(always)]
    pub(crate) fn from_raw(raw: u64) -> FdbKey {
        FdbKey(raw)
    }
}

impl fmt::Debug for FdbKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}/{}", self.vni(), self.mac())
    }
}

/// Where frames to a MAC go.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Dest {
    /// Behind an access port of this gateway.
    Access(PortIndex),
    /// Behind a remote VTEP.
    Tunnel(TunnelId),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fdb_key_packs_vni_and_mac() {
        let mac = MacAddr([0x02, 0x11, 0x22, 0x33, 0x44, 0x55]);
        let k = FdbKey::new(VniIndex(0xabcd), mac);
        assert_eq!(k.vni(), VniIndex(0xabcd));
        assert_eq!(k.mac(), mac);
        assert_ne!(k, FdbKey::new(VniIndex(1), mac));
    }

    #[test]
    fn fdb_keys_order_by_vni_then_mac() {
        // The packed integer holds the MAC little-endian; the order must not follow it.
        let a = MacAddr([0x02, 0, 0, 0, 0, 0xff]);
        let b = MacAddr([0x03, 0, 0, 0, 0, 0x01]);
        let mut keys = vec![
            FdbKey::new(VniIndex(2), a),
            FdbKey::new(VniIndex(1), b),
            FdbKey::new(VniIndex(1), a),
        ];
        keys.sort();
        let got: Vec<(VniIndex, MacAddr)> = keys.iter().map(|k| (k.vni(), k.mac())).collect();
        assert_eq!(
            got,
            [(VniIndex(1), a), (VniIndex(1), b), (VniIndex(2), a)],
            "{keys:?}"
        );
    }
}
