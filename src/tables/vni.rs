//! VNIs as the data plane sees them, and the (access port, VLAN) → VNI maps.

use std::net::IpAddr;

use crate::config::Encap;
use crate::wire::Vni;

use super::{PortIndex, TunnelId, VniIndex, MAX_VNIS};

/// An access port carrying a VNI.
///
/// Native-VLAN semantics, as on a switch trunk: on the port whose `untagged_vni` this is,
/// untagged frames belong to the VNI and frames leave untagged, while frames tagged with the
/// VNI's VLAN are accepted too; on other ports only the VNI's VLAN maps to it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct AccessMember {
    pub port: PortIndex,
    /// The VNI's 802.1Q VLAN on this port.
    pub vlan: Option<u16>,
    /// This port's untagged (native) VNI.
    pub untagged: bool,
}

impl AccessMember {
    pub const fn tagged(port: PortIndex, vlan: u16) -> AccessMember {
        AccessMember {
            port,
            vlan: Some(vlan),
            untagged: false,
        }
    }

    pub const fn native(port: PortIndex, vlan: Option<u16>) -> AccessMember {
        AccessMember {
            port,
            vlan,
            untagged: true,
        }
    }

    /// The tag frames of this VNI carry when they leave this port.
    #[inline(always)]
    pub fn egress_tag(&self) -> Option<u16> {
        if self.untagged {
            None
        } else {
            self.vlan
        }
    }
}

/// Where broadcast, multicast and unknown-unicast frames of a VNI go on the underlay.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub enum FloodTo {
    /// Nowhere on the underlay.
    #[default]
    None,
    /// One copy per remote VTEP (head-end replication).
    Tunnels(Vec<TunnelId>),
    /// One copy to the underlay multicast group (a tunnel whose remote is the group).
    Group(TunnelId),
}

/// One VNI in a worker's replica.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VniState {
    pub id: Vni,
    pub index: VniIndex,
    pub encap: Encap,
    pub learning: bool,
    pub arp_suppression: bool,
    pub flood: FloodTo,
    pub access: Vec<AccessMember>,
    /// Only these VTEPs may send into the VNI (None: any).
    pub allowed_vteps: Option<Vec<IpAddr>>,
    pub max_macs: Option<u32>,
    /// Storm control: BUM packets per second admitted into the VNI by all workers together.
    pub bum_rate_pps: Option<u32>,
    /// MACs behind remote VTEPs are learned only from these (None: from any).
    pub learn_vteps: Option<Vec<IpAddr>>,
}

impl VniState {
    /// The VLAN to tag frames with on `port`, or None if the port does not carry the VNI.
    #[inline(always)]
    pub fn member(&self, port: PortIndex) -> Option<&AccessMember> {
        self.access.iter().find(|m| m.port == port)
    }

    #[inline(always)]
    pub fn allows(&self, vtep: IpAddr) -> bool {
        match &self.allowed_vteps {
            None => true,
            Some(list) => list.contains(&vtep),
        }
    }

    /// Whether MACs and bindings seen behind `vtep` may be learned.
    #[inline(always)]
    pub fn learns_from(&self, vtep: IpAddr) -> bool {
        match &self.learn_vteps {
            None => true,
            Some(list) => list.contains(&vtep),
        }
    }
}

const NO_VNI: u16 = u16::MAX;
const VLANS: usize = 4096;

/// VNI id → slot, for decapsulation: a small flat table (8192 slots of 8 bytes, 64 KiB)
/// with linear probing. Consulted for every tunnel packet whose VNI differs from the
/// previous packet's, so it avoids a general hash map's overhead; changes are rare (a VNI
/// added or removed), so removal simply rebuilds it.
#[derive(Debug)]
struct IdIndex {
    slots: Box<[u64]>,
}

const ID_SLOTS: usize = MAX_VNIS * 2;
const ID_EMPTY: u64 = u64::MAX;

impl IdIndex {
    fn new() -> IdIndex {
        IdIndex {
            slots: vec![ID_EMPTY; ID_SLOTS].into_boxed_slice(),
        }
    }

    #[inline(always)]
    fn home(id: u32) -> usize {
        (super::hash::fold_mul(u64::from(id), 0x9e37_79b9_7f4a_7c15) as usize) & (ID_SLOTS - 1)
    }

    #[inline(always)]
    fn get(&self, id: u32) -> Option<VniIndex> {
        let mut i = Self::home(id);
        for _ in 0..ID_SLOTS {
            let v = *self.slots.get(i)?;
            if v == ID_EMPTY {
                return None;
            }
            if (v >> 16) as u32 == id {
                // The low 16 bits hold the index.
                return Some(VniIndex(v as u16));
            }
            i = i.wrapping_add(1) & (ID_SLOTS - 1);
        }
        None
    }

    fn insert(&mut self, id: u32, index: VniIndex) {
        let mut i = Self::home(id);
        for _ in 0..ID_SLOTS {
            let Some(slot) = self.slots.get_mut(i) else {
                return;
            };
            if *slot == ID_EMPTY || (*slot >> 16) as u32 == id {
                *slot = (u64::from(id) << 16) | u64::from(index.0);
                return;
            }
            i = i.wrapping_add(1) & (ID_SLOTS - 1);
        }
    }

    fn remove(&mut self, id: u32) {
        let kept: Vec<u64> = self
            .slots
            .iter()
            .copied()
            .filter(|v| *v != ID_EMPTY && (*v >> 16) as u32 != id)
            .collect();
        self.slots.fill(ID_EMPTY);
        for v in kept {
            self.insert((v >> 16) as u32, VniIndex(v as u16));
        }
    }
}

/// A worker's VNI table.
#[derive(Debug)]
pub struct VniTable {
    slots: Vec<Option<Box<VniState>>>,
    by_id: IdIndex,
    /// Per port index: VLAN id → VNI index (NO_VNI when unmapped). Allocated per port used.
    vlan_maps: Vec<Option<Box<[u16; VLANS]>>>,
    untagged: Vec<Option<VniIndex>>,
}

impl VniTable {
    pub fn new(ports: usize) -> VniTable {
        VniTable {
            slots: (0..MAX_VNIS).map(|_| None).collect(),
            by_id: IdIndex::new(),
            vlan_maps: (0..ports).map(|_| None).collect(),
            untagged: vec![None; ports],
        }
    }

    #[inline(always)]
    pub fn get(&self, index: VniIndex) -> Option<&VniState> {
        self.slots.get(index.slot())?.as_deref()
    }

    /// The VNI with wire id `id` (decapsulation).
    #[inline(always)]
    pub fn by_id(&self, id: Vni) -> Option<VniIndex> {
        self.by_id.get(id.get())
    }

    /// The VNI of a frame received on `port` with 802.1Q VLAN `vlan` (None: untagged).
    #[inline(always)]
    pub fn for_access(&self, port: PortIndex, vlan: Option<u16>) -> Option<VniIndex> {
        let port = usize::from(port);
        match vlan {
            None => self.untagged.get(port).copied().flatten(),
            Some(v) => {
                let map = self.vlan_maps.get(port)?.as_ref()?;
                let idx = *map.get(usize::from(v & 0x0fff))?;
                (idx != NO_VNI).then_some(VniIndex(idx))
            }
        }
    }

    /// Installs, replaces (Some) or removes (None) the VNI in `index`; returns the old one.
    pub fn set(&mut self, index: VniIndex, state: Option<Box<VniState>>) -> Option<Box<VniState>> {
        let old = self.slots.get_mut(index.slot())?.take();
        if let Some(old) = &old {
            if self.by_id.get(old.id.get()) == Some(index) {
                self.by_id.remove(old.id.get());
            }
            for m in &old.access {
                self.unmap_member(m, index);
            }
        }
        if let Some(new) = state {
            self.by_id.insert(new.id.get(), index);
            for m in &new.access {
                self.map_member(m, index.0);
            }
            if let Some(slot) = self.slots.get_mut(index.slot()) {
                *slot = Some(new);
            }
        }
        old
    }

    /// Clears the mappings of `m` that still point at `index` (another VNI may have taken
    /// a VLAN over since, as when two VNIs swap VLANs in one reload).
    fn unmap_member(&mut self, m: &AccessMember, index: VniIndex) {
        let port = usize::from(m.port);
        if m.untagged {
            if let Some(u) = self.untagged.get_mut(port) {
                if *u == Some(index) {
                    *u = None;
                }
            }
        }
        if let (Some(vlan), Some(Some(map))) = (m.vlan, self.vlan_maps.get_mut(port)) {
            if let Some(e) = map.get_mut(usize::from(vlan & 0x0fff)) {
                if *e == index.0 {
                    *e = NO_VNI;
                }
            }
        }
    }

    fn map_member(&mut self, m: &AccessMember, value: u16) {
        let port = usize::from(m.port);
        if m.untagged {
            if let Some(u) = self.untagged.get_mut(port) {
                *u = (value != NO_VNI).then_some(VniIndex(value));
            }
        }
        if let Some(vlan) = m.vlan {
            let Some(slot) = self.vlan_maps.get_mut(port) else {
                return;
            };
            let map = slot.get_or_insert_with(|| Box::new([NO_VNI; VLANS]));
            if let Some(e) = map.get_mut(usize::from(vlan & 0x0fff)) {
                *e = value;
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &VniState> {
        self.slots.iter().filter_map(|s| s.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(id: u32, index: u16, access: Vec<AccessMember>) -> Box<VniState> {
        Box::new(VniState {
            id: Vni::new(id).unwrap(),
            index: VniIndex(index),
            encap: Encap::Vxlan,
            learning: true,
            arp_suppression: false,
            flood: FloodTo::None,
            access,
            allowed_vteps: None,
            max_macs: None,
            bum_rate_pps: None,
            learn_vteps: None,
        })
    }

    #[test]
    fn maps_vlans_and_untagged_per_port() {
        let mut t = VniTable::new(3);
        t.set(
            VniIndex(0),
            Some(state(
                5000,
                0,
                vec![
                    AccessMember::tagged(1, 100),
                    AccessMember::native(2, Some(100)),
                ],
            )),
        );
        assert_eq!(t.for_access(1, Some(100)), Some(VniIndex(0)));
        assert_eq!(t.for_access(1, Some(101)), None);
        assert_eq!(t.for_access(1, None), None);
        assert_eq!(t.for_access(2, None), Some(VniIndex(0)));
        assert_eq!(
            t.for_access(2, Some(100)),
            Some(VniIndex(0)),
            "native VLAN also tagged"
        );
        assert_eq!(t.by_id(Vni::new(5000).unwrap()), Some(VniIndex(0)));
        let s = t.get(VniIndex(0)).unwrap();
        assert_eq!(s.member(2).unwrap().egress_tag(), None);
        assert_eq!(s.member(1).unwrap().egress_tag(), Some(100));
    }

    #[test]
    fn replacing_and_removing_clears_old_mappings() {
        let mut t = VniTable::new(2);
        t.set(
            VniIndex(3),
            Some(state(10, 3, vec![AccessMember::tagged(1, 7)])),
        );
        let old = t.set(
            VniIndex(3),
            Some(state(11, 3, vec![AccessMember::tagged(1, 8)])),
        );
        assert_eq!(old.unwrap().id.get(), 10);
        assert_eq!(t.for_access(1, Some(7)), None);
        assert_eq!(t.for_access(1, Some(8)), Some(VniIndex(3)));
        assert_eq!(t.by_id(Vni::new(10).unwrap()), None);
        t.set(VniIndex(3), None);
        assert_eq!(t.for_access(1, Some(8)), None);
        assert!(t.get(VniIndex(3)).is_none());
    }

    #[test]
    fn two_vnis_can_swap_vlans_one_at_a_time() {
        let mut t = VniTable::new(2);
        t.set(
            VniIndex(1),
            Some(state(10, 1, vec![AccessMember::tagged(1, 100)])),
        );
        t.set(
            VniIndex(2),
            Some(state(20, 2, vec![AccessMember::tagged(1, 200)])),
        );
        t.set(
            VniIndex(1),
            Some(state(10, 1, vec![AccessMember::tagged(1, 200)])),
        );
        t.set(
            VniIndex(2),
            Some(state(20, 2, vec![AccessMember::tagged(1, 100)])),
        );
        assert_eq!(t.for_access(1, Some(100)), Some(VniIndex(2)));
        assert_eq!(t.for_access(1, Some(200)), Some(VniIndex(1)));
    }

    #[test]
    fn id_index_finds_what_it_holds() {
        let mut ix = IdIndex::new();
        for i in 0..4000u32 {
            ix.insert(i * 4099 + 7, VniIndex((i % 4096) as u16));
        }
        for i in 0..4000u32 {
            assert_eq!(ix.get(i * 4099 + 7), Some(VniIndex((i % 4096) as u16)));
        }
        assert_eq!(ix.get(3), None);
        ix.remove(7);
        assert_eq!(ix.get(7), None);
        assert_eq!(ix.get(4099 + 7), Some(VniIndex(1)));
    }

    #[test]
    fn allowlist() {
        let mut s = state(1, 0, vec![]);
        assert!(s.allows("10.0.0.9".parse().unwrap()));
        s.allowed_vteps = Some(vec!["10.0.0.2".parse().unwrap()]);
        assert!(s.allows("10.0.0.2".parse().unwrap()));
        assert!(!s.allows("10.0.0.9".parse().unwrap()));
    }
}
