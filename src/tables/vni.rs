//! VNIs as the data plane sees them, and the (access port, VLAN) → VNI maps.

use std::net::IpAddr;
use std::num::NonZeroU64;

use crate::config::Encap;
use crate::wire::vlan::VID_MASK;
use crate::wire::Vni;

use super::{PortIndex, TunnelId, VniIndex, MAX_VNIS};
use crate::pipeline::underlay::{VxlanPorts, VXLAN_PORT_SLOTS};

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
    /// The UDP port of a VXLAN VNI's packets, both ways (unused for NVGRE).
    pub vxlan_port: u16,
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
    /// The VNI's place in a tenant VRF (None: bridged only).
    pub routing: Option<VniRouting>,
}

/// A routed VNI: its VRF and the anycast gateway's addresses on its subnets.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VniRouting {
    pub vrf: super::route::VrfIndex,
    pub gateways: Vec<crate::config::IpCidr>,
    /// The VRF's L3VNI: frames to this gateway's router MAC are routed, nothing is bridged.
    pub l3: bool,
}

impl VniRouting {
    /// Whether `ip` is one of the gateway's own addresses in this VNI.
    #[inline(always)]
    pub fn is_gateway(&self, ip: IpAddr) -> bool {
        self.gateways.iter().any(|g| g.addr == ip)
    }

    /// The gateway address on the subnet holding `ip`, or the first of its family.
    pub fn source_for(&self, ip: IpAddr) -> Option<IpAddr> {
        self.gateways
            .iter()
            .find(|g| g.contains(ip))
            .or_else(|| {
                self.gateways
                    .iter()
                    .find(|g| g.addr.is_ipv4() == ip.is_ipv4())
            })
            .map(|g| g.addr)
    }
}

impl VniState {
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

/// What the per-packet path needs of a VNI: its wire id, its slot, its encapsulation and the
/// switches forwarding acts on, in eight bytes. The id index (`VniTable::summary_by_id`, for
/// tunnel packets) and the per-slot array (`VniTable::summary`, for access frames) hold it
/// whole, so one load gives a packet all of it without following the pointer to the
/// `VniState`, and it travels in a register (as separate bools it went through the stack,
/// and read back across two stores, stalled decapsulation by ~10 cycles).
///
/// One word, as the tables store it: the id in bits 32..56, `PRESENT` (so that no summary
/// is zero, the tables' empty slot, and an `Option` of one is eight bytes too), the
/// `VxlanPorts` slot of its UDP port in 24..27, the flags in 16..24, the slot in 0..16. A lookup returns the stored word as it is and each field is a
/// shift away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VniSummary(NonZeroU64);

impl VniSummary {
    const PRESENT: NonZeroU64 = NonZeroU64::new(1 << 31).unwrap();
    const NVGRE: u64 = 1 << 16;
    const LEARNING: u64 = 2 << 16;
    const ARP_SUPPRESSION: u64 = 4 << 16;
    /// Neither an allowlist nor a learn-from list: any VTEP may send and be learned from.
    const OPEN: u64 = 8 << 16;
    /// In a tenant VRF: frames to the anycast gateway MAC are routed.
    const ROUTED: u64 = 16 << 16;
    /// A VRF's L3VNI (symmetric IRB).
    const L3: u64 = 32 << 16;
    const PORT_SLOT_SHIFT: u32 = 24;
    const PORT_SLOT_MASK: u64 = 7;

    /// `state`, held in slot `index`, its UDP port in `port_slot`.
    fn of(index: VniIndex, state: &VniState, port_slot: u8) -> VniSummary {
        let flag = |on: bool, bit: u64| if on { bit } else { 0 };
        VniSummary(
            Self::PRESENT
                | (u64::from(state.id.get()) << 32)
                | ((u64::from(port_slot) & Self::PORT_SLOT_MASK) << Self::PORT_SLOT_SHIFT)
                | u64::from(index.0)
                | flag(state.encap == Encap::Nvgre, Self::NVGRE)
                | flag(state.learning, Self::LEARNING)
                | flag(state.arp_suppression, Self::ARP_SUPPRESSION)
                | flag(
                    state.allowed_vteps.is_none() && state.learn_vteps.is_none(),
                    Self::OPEN,
                )
                | flag(state.routing.is_some(), Self::ROUTED)
                | flag(state.routing.as_ref().is_some_and(|r| r.l3), Self::L3),
        )
    }

    /// The summary a table holds in a slot (None: the slot is empty).
    #[inline(always)]
    fn from_slot(word: u64) -> Option<VniSummary> {
        NonZeroU64::new(word).map(VniSummary)
    }

    /// What a table holds for this summary.
    #[inline(always)]
    fn word(self) -> u64 {
        self.0.get()
    }

    /// The VNI's wire id.
    #[inline(always)]
    pub fn id(self) -> Vni {
        Vni::from_u24(self.raw_id())
    }

    #[inline(always)]
    fn raw_id(self) -> u32 {
        (self.word() >> 32) as u32
    }

    /// The VNI's slot in the tables.
    #[inline(always)]
    pub fn index(self) -> VniIndex {
        VniIndex(self.word() as u16)
    }

    #[inline(always)]
    pub fn encap(self) -> Encap {
        if self.word() & Self::NVGRE != 0 {
            Encap::Nvgre
        } else {
            Encap::Vxlan
        }
    }

    /// The `VxlanPorts` slot of the VNI's UDP port (0 for NVGRE).
    #[inline(always)]
    pub fn port_slot(self) -> u8 {
        ((self.word() >> Self::PORT_SLOT_SHIFT) & Self::PORT_SLOT_MASK) as u8
    }

    #[inline(always)]
    pub fn learning(self) -> bool {
        self.word() & Self::LEARNING != 0
    }

    #[inline(always)]
    pub fn arp_suppression(self) -> bool {
        self.word() & Self::ARP_SUPPRESSION != 0
    }

    /// Any VTEP may send into the VNI and be learned from: no per-VTEP list to consult.
    #[inline(always)]
    pub fn open(self) -> bool {
        self.word() & Self::OPEN != 0
    }

    /// The VNI is in a tenant VRF (`VniState::routing`).
    #[inline(always)]
    pub fn routed(self) -> bool {
        self.word() & Self::ROUTED != 0
    }

    /// The VNI is a VRF's L3VNI: it routes, and bridges nothing.
    #[inline(always)]
    pub fn l3(self) -> bool {
        self.word() & Self::L3 != 0
    }
}

/// How frames of a VNI leave an access port (`VniTable::egress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Egress {
    Untagged,
    /// Tagged with this 802.1Q VLAN.
    Tagged(u16),
}

/// VNI id → `VniSummary`, for received tunnel packets: a small flat table (8192 slots of 8
/// bytes, 64 KiB) with linear probing, consulted for every tunnel packet, so it avoids a
/// general hash map's overhead; changes are rare (a VNI added, changed or removed), so
/// removal simply rebuilds it.
#[derive(Debug)]
struct IdIndex {
    slots: Box<[u64; ID_SLOTS]>,
}

const ID_SLOTS: usize = MAX_VNIS * 2;
/// A free slot of the id index or of the per-slot summaries (no summary is zero).
const EMPTY: u64 = 0;

impl IdIndex {
    fn new() -> IdIndex {
        IdIndex {
            slots: Box::new([EMPTY; ID_SLOTS]),
        }
    }

    #[inline(always)]
    fn home(id: u32) -> usize {
        (super::hash::fold_mul(u64::from(id), 0x9e37_79b9_7f4a_7c15) as usize) & (ID_SLOTS - 1)
    }

    #[inline(always)]
    fn get(&self, id: Vni) -> Option<VniSummary> {
        let mut i = Self::home(id.get());
        for _ in 0..ID_SLOTS {
            let found = VniSummary::from_slot(*self.slots.get(i)?)?;
            if found.raw_id() == id.get() {
                return Some(found);
            }
            i = i.wrapping_add(1) & (ID_SLOTS - 1);
        }
        None
    }

    /// Adds `vni`, or replaces the entry of its id.
    fn insert(&mut self, vni: VniSummary) {
        let (id, word) = (vni.raw_id(), vni.word());
        let mut i = Self::home(id);
        for _ in 0..ID_SLOTS {
            let Some(slot) = self.slots.get_mut(i) else {
                return;
            };
            if VniSummary::from_slot(*slot).is_none_or(|v| v.raw_id() == id) {
                *slot = word;
                return;
            }
            i = i.wrapping_add(1) & (ID_SLOTS - 1);
        }
    }

    fn remove(&mut self, id: Vni) {
        let kept: Vec<VniSummary> = self
            .slots
            .iter()
            .filter_map(|&v| VniSummary::from_slot(v))
            .filter(|v| v.raw_id() != id.get())
            .collect();
        self.slots.fill(EMPTY);
        for v in kept {
            self.insert(v);
        }
    }
}

/// A worker's VNI table.
#[derive(Debug)]
pub struct VniTable {
    slots: Vec<Option<Box<VniState>>>,
    by_id: IdIndex,
    /// Per slot: the VNI's `VniSummary` (EMPTY when the slot is free).
    summaries: Box<[u64]>,
    /// Per port index: VLAN id → VNI index (NO_VNI when unmapped). Allocated per port used.
    vlan_maps: Vec<Option<Box<[u16; VLANS]>>>,
    /// Per port index: VNI slot → how its frames leave the port (`EGRESS_*`, or the VLAN
    /// they are tagged with). Allocated per port used. What a frame bound for an access port
    /// needs, without reading the VNI's state and searching its members.
    egress_maps: Vec<Option<Box<[u16; MAX_VNIS]>>>,
    untagged: Vec<Option<VniIndex>>,
    /// The UDP ports VXLAN is received on, and per slot how many VNIs use it.
    vxlan_ports: VxlanPorts,
    port_users: [u32; VXLAN_PORT_SLOTS],
}

/// `egress_maps`: the port does not carry the VNI.
const EGRESS_NONE: u16 = u16::MAX;
/// `egress_maps`: the VNI's frames leave the port untagged.
const EGRESS_UNTAGGED: u16 = u16::MAX - 1;

impl VniTable {
    /// A table for `ports` ports, with `vxlan_port` (`underlay.vxlan_port`) always open.
    pub fn new(ports: usize, vxlan_port: u16) -> VniTable {
        VniTable {
            vxlan_ports: VxlanPorts::single(vxlan_port),
            port_users: [0; VXLAN_PORT_SLOTS],
            slots: (0..MAX_VNIS).map(|_| None).collect(),
            by_id: IdIndex::new(),
            summaries: vec![EMPTY; MAX_VNIS].into_boxed_slice(),
            vlan_maps: (0..ports).map(|_| None).collect(),
            egress_maps: (0..ports).map(|_| None).collect(),
            untagged: vec![None; ports],
        }
    }

    #[inline(always)]
    pub fn get(&self, index: VniIndex) -> Option<&VniState> {
        self.slots.get(index.slot())?.as_deref()
    }

    /// The VNI with wire id `id`.
    #[inline(always)]
    pub fn by_id(&self, id: Vni) -> Option<VniIndex> {
        self.by_id.get(id).map(|v| v.index())
    }

    /// The UDP ports VXLAN is received on now.
    #[inline(always)]
    pub fn vxlan_ports(&self) -> &VxlanPorts {
        &self.vxlan_ports
    }

    /// The UDP port a VNI's VXLAN packets are sent to.
    #[inline(always)]
    pub fn vxlan_port(&self, vni: VniSummary) -> u16 {
        self.vxlan_ports.port(vni.port_slot())
    }

    /// The slot of `state`'s UDP port, opening it in a free slot if no VNI uses it yet.
    fn acquire_port(&mut self, state: &VniState) -> u8 {
        if state.encap != Encap::Vxlan {
            return 0;
        }
        let port = state.vxlan_port;
        // A port other than slot 0's stands only in a slot in use: a freed slot repeats
        // slot 0's.
        let open = self.vxlan_ports.slot_of(port);
        let free = || {
            (1..VXLAN_PORT_SLOTS)
                .find(|&s| self.port_users.get(s) == Some(&0))
                .and_then(|s| u8::try_from(s).ok())
        };
        // The config allows MAX_VXLAN_PORTS, half the slots, so one is always free; were
        // none, the VNI would get slot 0 and its packets on another port would be dropped
        // as `vxlan_port_mismatch`, never mixed up with another port's.
        let slot = open.or_else(free).unwrap_or(0);
        self.vxlan_ports.open(slot, port);
        if let Some(n) = self.port_users.get_mut(usize::from(slot)) {
            *n = n.saturating_add(1);
        }
        slot
    }

    fn release_port(&mut self, summary: VniSummary, state: &VniState) {
        if state.encap != Encap::Vxlan {
            return;
        }
        let slot = summary.port_slot();
        if let Some(n) = self.port_users.get_mut(usize::from(slot)) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.vxlan_ports.close(slot);
            }
        }
    }

    /// What a tunnel packet with VNI `id` needs of it (decapsulation).
    #[inline(always)]
    pub fn summary_by_id(&self, id: Vni) -> Option<VniSummary> {
        self.by_id.get(id)
    }

    /// What the per-packet path needs of the VNI in `index`.
    #[inline(always)]
    pub fn summary(&self, index: VniIndex) -> Option<VniSummary> {
        VniSummary::from_slot(*self.summaries.get(index.slot())?)
    }

    /// How frames of `vni` leave access port `port`, or None if the port does not carry it.
    #[inline(always)]
    pub fn egress(&self, vni: VniIndex, port: PortIndex) -> Option<Egress> {
        let map = self.egress_maps.get(usize::from(port))?.as_ref()?;
        match *map.get(vni.slot())? {
            EGRESS_NONE => None,
            EGRESS_UNTAGGED => Some(Egress::Untagged),
            vlan => Some(Egress::Tagged(vlan)),
        }
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
        let old_summary = self.summary(index);
        if let (Some(old), Some(summary)) = (&old, old_summary) {
            self.release_port(summary, old);
        }
        if let Some(old) = &old {
            if self.by_id(old.id) == Some(index) {
                self.by_id.remove(old.id);
            }
            for m in &old.access {
                self.unmap_member(m, index);
            }
        }
        if let Some(summary) = self.summaries.get_mut(index.slot()) {
            *summary = EMPTY;
        }
        if let Some(new) = state {
            let port_slot = self.acquire_port(&new);
            let summary = VniSummary::of(index, &new, port_slot);
            self.by_id.insert(summary);
            if let Some(slot) = self.summaries.get_mut(index.slot()) {
                *slot = summary.word();
            }
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
        if let Some(Some(map)) = self.egress_maps.get_mut(port) {
            if let Some(e) = map.get_mut(index.slot()) {
                *e = EGRESS_NONE;
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
        let Some(slot) = self.egress_maps.get_mut(port) else {
            return;
        };
        let map = slot.get_or_insert_with(|| Box::new([EGRESS_NONE; MAX_VNIS]));
        if let Some(e) = map.get_mut(usize::from(value)) {
            // The first member naming the port wins.
            if *e == EGRESS_NONE {
                *e = m
                    .egress_tag()
                    .map_or(EGRESS_UNTAGGED, |vlan| vlan & VID_MASK);
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
            vxlan_port: 4789,
            learning: true,
            arp_suppression: false,
            flood: FloodTo::None,
            access,
            allowed_vteps: None,
            max_macs: None,
            bum_rate_pps: None,
            learn_vteps: None,
            routing: None,
        })
    }

    #[test]
    fn vxlan_ports_open_while_a_vni_uses_them() {
        let mut t = VniTable::new(2, 4789);
        let on = |id: u32, index: u16, port: u16| {
            let mut s = state(id, index, vec![]);
            s.vxlan_port = port;
            Some(s)
        };
        t.set(VniIndex(0), on(1, 0, 8472));
        t.set(VniIndex(1), on(2, 1, 8472));
        t.set(VniIndex(2), on(3, 2, 4789));
        let flannel = t.summary_by_id(Vni::new(1).unwrap()).unwrap();
        assert_ne!(flannel.port_slot(), 0);
        assert_eq!(t.vxlan_port(flannel), 8472);
        assert_eq!(
            t.summary_by_id(Vni::new(2).unwrap()).unwrap().port_slot(),
            flannel.port_slot()
        );
        assert_eq!(
            t.summary_by_id(Vni::new(3).unwrap()).unwrap().port_slot(),
            0
        );
        assert_eq!(t.vxlan_ports().open_ports(), vec![4789, 8472]);
        // Open while one VNI still uses it; moved by a change; closed with its last user.
        t.set(VniIndex(0), None);
        assert_eq!(t.vxlan_ports().open_ports(), vec![4789, 8472]);
        t.set(VniIndex(1), on(2, 1, 4096));
        assert_eq!(t.vxlan_ports().open_ports(), vec![4789, 4096]);
        assert_eq!(t.vxlan_port(t.summary(VniIndex(1)).unwrap()), 4096);
        t.set(VniIndex(1), None);
        assert_eq!(*t.vxlan_ports(), VxlanPorts::single(4789));
        // An NVGRE VNI opens nothing.
        let mut nvgre = state(4, 3, vec![]);
        nvgre.encap = Encap::Nvgre;
        nvgre.vxlan_port = 9999;
        t.set(VniIndex(3), Some(nvgre));
        assert_eq!(*t.vxlan_ports(), VxlanPorts::single(4789));
        assert_eq!(t.summary(VniIndex(3)).unwrap().port_slot(), 0);
    }

    #[test]
    fn maps_vlans_and_untagged_per_port() {
        let mut t = VniTable::new(3, 4789);
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
        assert_eq!(t.egress(VniIndex(0), 2), Some(Egress::Untagged));
        assert_eq!(t.egress(VniIndex(0), 1), Some(Egress::Tagged(100)));
        assert_eq!(t.egress(VniIndex(0), 0), None);
        assert_eq!(t.egress(VniIndex(1), 1), None);
    }

    #[test]
    fn replacing_and_removing_clears_old_mappings() {
        let mut t = VniTable::new(2, 4789);
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
        assert_eq!(t.egress(VniIndex(3), 1), Some(Egress::Tagged(8)));
        assert_eq!(t.summary(VniIndex(3)).map(|s| s.id().get()), Some(11));
        t.set(VniIndex(3), None);
        assert_eq!(t.for_access(1, Some(8)), None);
        assert_eq!(t.egress(VniIndex(3), 1), None);
        assert_eq!(t.summary(VniIndex(3)), None);
        assert!(t.get(VniIndex(3)).is_none());
    }

    #[test]
    fn two_vnis_can_swap_vlans_one_at_a_time() {
        let mut t = VniTable::new(2, 4789);
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
        assert_eq!(t.egress(VniIndex(1), 1), Some(Egress::Tagged(200)));
        assert_eq!(t.egress(VniIndex(2), 1), Some(Egress::Tagged(100)));
    }

    #[test]
    fn id_index_finds_what_it_holds() {
        let entry = |i: u32| {
            VniSummary(
                VniSummary::PRESENT
                    | (u64::from(i * 4099 + 7) << 32)
                    | u64::from(i % 16) << 16
                    | u64::from(i % 4096),
            )
        };
        let mut ix = IdIndex::new();
        for i in 0..4000u32 {
            ix.insert(entry(i));
        }
        for i in 0..4000u32 {
            assert_eq!(ix.get(entry(i).id()), Some(entry(i)));
        }
        assert_eq!(ix.get(Vni::from_u24(3)), None);
        ix.remove(entry(0).id());
        assert_eq!(ix.get(entry(0).id()), None);
        assert_eq!(ix.get(entry(1).id()), Some(entry(1)));
    }

    #[test]
    fn the_summary_follows_the_vnis_state() {
        let mut t = VniTable::new(2, 4789);
        let id = Vni::new(5000).unwrap();
        t.set(VniIndex(1), Some(state(5000, 1, vec![])));
        let v = t.summary_by_id(id).unwrap();
        assert_eq!(t.summary(VniIndex(1)), Some(v));
        assert_eq!(
            (v.id(), v.index(), v.encap()),
            (id, VniIndex(1), Encap::Vxlan)
        );
        assert!(v.learning() && v.open() && !v.arp_suppression());

        let mut changed = state(5000, 1, vec![]);
        changed.encap = Encap::Nvgre;
        changed.learning = false;
        changed.arp_suppression = true;
        changed.allowed_vteps = Some(vec!["10.0.0.2".parse().unwrap()]);
        t.set(VniIndex(1), Some(changed));
        let v = t.summary_by_id(id).unwrap();
        assert_eq!(t.summary(VniIndex(1)), Some(v));
        assert_eq!(v.encap(), Encap::Nvgre);
        assert!(!v.learning() && !v.open() && v.arp_suppression());

        let mut learn_from = state(5000, 1, vec![]);
        learn_from.learn_vteps = Some(vec!["10.0.0.3".parse().unwrap()]);
        t.set(VniIndex(1), Some(learn_from));
        assert!(!t.summary_by_id(id).unwrap().open());

        t.set(VniIndex(1), None);
        assert_eq!(t.summary_by_id(id), None);
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
