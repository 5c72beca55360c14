//! The namespace's neighbour tables in vtepd's terms: what a netlink neighbour message says
//! (a remote MAC, a flood entry, a MAC/IP binding, one of vtepd's own local MACs), and the
//! messages that write vtepd's local MACs and bindings for zebra to advertise.
//!
//! What zebra writes (FRR zebra/rt_netlink.c, netlink_macfdb_update_ctx and
//! netlink_vxlan_flood_update_ctx): remote MACs as AF_BRIDGE entries on `vxlan<VNI>` with
//! NDA_LLADDR and NDA_DST (the remote VTEP), `NTF_SELF`; type 3 flood entries the same with
//! the zero MAC (one per VTEP, appended); remote MAC/IP neighbours on the VNI's SVI
//! (`br<VNI>`) with `NTF_EXT_LEARNED`. Local MACs zebra reads from the bridge's other ports:
//! vtepd writes them on `vtd<VNI>` as `master` entries with `NTF_EXT_LEARNED`, which the
//! kernel never ages (vtepd ages them itself and removes them), configured ones `static`
//! and `NTF_STICKY`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
};
use netlink_packet_route::AddressFamily;

use super::namespace::Role;
use crate::wire::{MacAddr, Vni};

/// One neighbour-table entry, as far as vtepd cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fact {
    /// A type 2 route: `mac` is behind `vtep`.
    RemoteMac {
        vni: Vni,
        mac: MacAddr,
        vtep: IpAddr,
    },
    /// A type 3 route: BUM traffic of the VNI goes (also) to `vtep`.
    FloodVtep { vni: Vni, vtep: IpAddr },
    /// A type 2 MAC/IP route: `ip` is at `mac`.
    Binding { vni: Vni, ip: IpAddr, mac: MacAddr },
    /// A local MAC on `vtd<VNI>`: vtepd's own export, seen back (or removed by zebra).
    LocalMac { vni: Vni, mac: MacAddr },
}

/// What a neighbour message means; None for entries vtepd has no use for (the kernel's own
/// bridge entries, incomplete neighbours, devices that are not vtepd's).
pub fn fact(msg: &NeighbourMessage, device: impl Fn(u32) -> Option<(Role, Vni)>) -> Option<Fact> {
    let (role, vni) = device(msg.header.ifindex)?;
    let mut lladdr = None;
    let mut dst = None;
    for a in &msg.attributes {
        match a {
            NeighbourAttribute::LinkLayerAddress(b) => lladdr = mac(b),
            NeighbourAttribute::Destination(d) => dst = ip(d),
            _ => {}
        }
    }
    let mac = lladdr?;
    match (msg.header.family, role) {
        (AddressFamily::Bridge, Role::Vxlan) => {
            // Without a destination: the bridge's own view of the port, not zebra's entry.
            let vtep = dst?;
            if mac == MacAddr::ZERO {
                Some(Fact::FloodVtep { vni, vtep })
            } else if mac.is_unicast() {
                Some(Fact::RemoteMac { vni, mac, vtep })
            } else {
                None
            }
        }
        (AddressFamily::Bridge, Role::Port) => Some(Fact::LocalMac { vni, mac }),
        (AddressFamily::Inet | AddressFamily::Inet6, Role::Bridge) => {
            let usable = !matches!(
                msg.header.state,
                NeighbourState::Incomplete | NeighbourState::Failed | NeighbourState::None
            );
            (usable && msg.header.flags.contains(NeighbourFlags::ExtLearned) && mac.is_unicast())
                .then_some(Fact::Binding { vni, ip: dst?, mac })
        }
        _ => None,
    }
}

fn mac(bytes: &[u8]) -> Option<MacAddr> {
    Some(MacAddr(bytes.try_into().ok()?))
}

fn ip(addr: &NeighbourAddress) -> Option<IpAddr> {
    match addr {
        NeighbourAddress::Inet(a) => Some(IpAddr::V4(*a)),
        NeighbourAddress::Inet6(a) => Some(IpAddr::V6(*a)),
        // AF_BRIDGE entries carry NDA_DST as raw bytes: 4 or 16 of them.
        NeighbourAddress::Other(b) => match b.len() {
            4 => <[u8; 4]>::try_from(b.as_slice())
                .ok()
                .map(|o| IpAddr::V4(Ipv4Addr::from(o))),
            16 => <[u8; 16]>::try_from(b.as_slice())
                .ok()
                .map(|o| IpAddr::V6(Ipv6Addr::from(o))),
            _ => None,
        },
        _ => None,
    }
}

/// A local MAC on the VNI's port device, for zebra to advertise: a learned one as `bridge
/// fdb replace MAC dev vtd<VNI> master extern_learn` (never aged by the kernel: vtepd ages
/// it), a configured one as `... master static sticky`, which zebra advertises as a sticky
/// MAC (RFC 7432 §15.2: the fabric never moves it). The kernel drops `sticky` from
/// extern_learn entries, hence not both.
pub fn local_mac(ifindex: u32, mac: MacAddr, is_static: bool) -> NeighbourMessage {
    let mut m = NeighbourMessage::default();
    m.header.family = AddressFamily::Bridge;
    m.header.ifindex = ifindex;
    (m.header.state, m.header.flags) = if is_static {
        (
            NeighbourState::Noarp,
            NeighbourFlags::Controller | NeighbourFlags::Sticky,
        )
    } else {
        (
            NeighbourState::Reachable,
            NeighbourFlags::Controller | NeighbourFlags::ExtLearned,
        )
    };
    m.attributes
        .push(NeighbourAttribute::LinkLayerAddress(mac.0.to_vec()));
    m
}

/// A local IP binding on the VNI's bridge, for zebra's MAC/IP routes.
pub fn local_binding(ifindex: u32, ip: IpAddr, mac: MacAddr) -> NeighbourMessage {
    let mut m = NeighbourMessage::default();
    m.header.family = match ip {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    };
    m.header.ifindex = ifindex;
    m.header.state = NeighbourState::Reachable;
    m.header.flags = NeighbourFlags::ExtLearned;
    m.attributes
        .push(NeighbourAttribute::Destination(NeighbourAddress::from(ip)));
    m.attributes
        .push(NeighbourAttribute::LinkLayerAddress(mac.0.to_vec()));
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::{Emitable, Parseable};

    const VXLAN: u32 = 7;
    const BRIDGE: u32 = 5;
    const PORT: u32 = 8;

    fn devices(ifindex: u32) -> Option<(Role, Vni)> {
        let vni = Vni::new(100)?;
        match ifindex {
            VXLAN => Some((Role::Vxlan, vni)),
            BRIDGE => Some((Role::Bridge, vni)),
            PORT => Some((Role::Port, vni)),
            _ => None,
        }
    }

    /// The message as the kernel would send it: emitted to bytes and parsed back.
    fn through_wire(m: &NeighbourMessage) -> NeighbourMessage {
        let mut buf = vec![0; m.buffer_len()];
        m.emit(&mut buf);
        NeighbourMessage::parse(&buf[..]).unwrap()
    }

    fn bridge_entry(ifindex: u32, mac: [u8; 6], dst: Option<[u8; 4]>) -> NeighbourMessage {
        let mut m = NeighbourMessage::default();
        m.header.family = AddressFamily::Bridge;
        m.header.ifindex = ifindex;
        m.header.state = NeighbourState::Reachable;
        m.header.flags = NeighbourFlags::Own | NeighbourFlags::ExtLearned;
        m.attributes
            .push(NeighbourAttribute::LinkLayerAddress(mac.to_vec()));
        if let Some(d) = dst {
            m.attributes
                .push(NeighbourAttribute::Destination(NeighbourAddress::Other(
                    d.to_vec(),
                )));
        }
        through_wire(&m)
    }

    fn vni() -> Vni {
        Vni::new(100).unwrap()
    }

    #[test]
    fn remote_mac_on_the_vxlan_device() {
        let m = bridge_entry(VXLAN, [2, 0, 0, 0, 0, 3], Some([10, 0, 0, 3]));
        assert_eq!(
            fact(&m, devices),
            Some(Fact::RemoteMac {
                vni: vni(),
                mac: MacAddr([2, 0, 0, 0, 0, 3]),
                vtep: "10.0.0.3".parse().unwrap()
            })
        );
    }

    #[test]
    fn zero_mac_is_a_flood_entry() {
        let m = bridge_entry(VXLAN, [0; 6], Some([10, 0, 0, 3]));
        assert_eq!(
            fact(&m, devices),
            Some(Fact::FloodVtep {
                vni: vni(),
                vtep: "10.0.0.3".parse().unwrap()
            })
        );
    }

    #[test]
    fn entries_without_destination_or_on_other_devices_are_ignored() {
        // The bridge's own entry for the vxlan port (`master`, no dst).
        assert_eq!(
            fact(&bridge_entry(VXLAN, [2, 0, 0, 0, 0, 3], None), devices),
            None
        );
        assert_eq!(
            fact(
                &bridge_entry(99, [2, 0, 0, 0, 0, 3], Some([10, 0, 0, 3])),
                devices
            ),
            None
        );
        // Multicast MACs are not hosts.
        assert_eq!(
            fact(
                &bridge_entry(VXLAN, [1, 0, 0x5e, 0, 0, 1], Some([10, 0, 0, 3])),
                devices
            ),
            None
        );
    }

    #[test]
    fn local_mac_written_is_recognised_back() {
        let mac = MacAddr([2, 0, 0, 0, 1, 1]);
        let m = through_wire(&local_mac(PORT, mac, false));
        assert_eq!(m.header.state, NeighbourState::Reachable);
        assert!(m
            .header
            .flags
            .contains(NeighbourFlags::Controller | NeighbourFlags::ExtLearned));
        assert_eq!(fact(&m, devices), Some(Fact::LocalMac { vni: vni(), mac }));
        let sticky = through_wire(&local_mac(PORT, mac, true));
        assert_eq!(sticky.header.state, NeighbourState::Noarp);
        assert_eq!(
            sticky.header.flags,
            NeighbourFlags::Controller | NeighbourFlags::Sticky
        );
        assert_eq!(
            fact(&sticky, devices),
            Some(Fact::LocalMac { vni: vni(), mac })
        );
    }

    #[test]
    fn ext_learned_neighbour_on_the_bridge_is_a_binding() {
        let ip: IpAddr = "192.168.100.3".parse().unwrap();
        let mac = MacAddr([2, 0, 0, 0, 0, 3]);
        let m = through_wire(&local_binding(BRIDGE, ip, mac));
        assert_eq!(
            fact(&m, devices),
            Some(Fact::Binding {
                vni: vni(),
                ip,
                mac
            })
        );
        let v6: IpAddr = "fd00::3".parse().unwrap();
        let m = through_wire(&local_binding(BRIDGE, v6, mac));
        assert_eq!(
            fact(&m, devices),
            Some(Fact::Binding {
                vni: vni(),
                ip: v6,
                mac
            })
        );
        // The kernel's own (not EVPN) and unresolved neighbours are not.
        let mut own = local_binding(BRIDGE, ip, mac);
        own.header.flags = NeighbourFlags::empty();
        assert_eq!(fact(&through_wire(&own), devices), None);
        let mut failed = local_binding(BRIDGE, ip, mac);
        failed.header.state = NeighbourState::Failed;
        assert_eq!(fact(&through_wire(&failed), devices), None);
    }
}
