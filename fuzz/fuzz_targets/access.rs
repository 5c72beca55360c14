//! Frames received on the access ports: `Gateway::access` (802.1Q and priority tags, the
//! (port, VLAN) → VNI map, learning, ARP/ND snooping and suppression, local bridging,
//! VXLAN/NVGRE encapsulation over IPv4 and IPv6, segmentation decisions, flooding), then
//! what the data plane does with the verdict: flood copies encapsulated or tagged, every
//! packet for the underlay checked to be well-formed.
//!
//! The input is one or more frames separated by `~NXT`, each behind a selector byte:
//! - bits 0-2: the port: 1-3 the access ports, 0 the underlay (so a sequence can learn
//!   behind a VTEP and then send to it), 4-7 ports that do not exist;
//! - bit 7: the NIC stripped an 802.1Q tag, whose TCI are the next two bytes (underlay: the
//!   NIC checked the IPv4 header checksum, bit 5 says whether it was good);
//! - bit 6: the NIC computed an RSS hash, the next four bytes.
//!
//! The gateway has a fixed next hop and an IPv4+IPv6 underlay MTU of 1500, so large
//! frames reach the segmentation and `mtu_exceeded` paths.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use vtepd_fuzz::{pieces, Base, FuzzFrame, GATEWAY, GW_MAC};

fn base() -> &'static Base {
    static B: OnceLock<Base> = OnceLock::new();
    B.get_or_init(|| Base::new(GATEWAY, GW_MAC))
}

fuzz_target!(init: { base(); }, |data: &[u8]| {
    let mut node = base().node();
    for piece in pieces(data) {
        let Some((&sel, mut rest)) = piece.split_first() else {
            continue;
        };
        let port = sel & 0x07;
        let mut tci = None;
        if sel & 0x80 != 0 {
            let Some((t, r)) = rest.split_first_chunk::<2>() else {
                continue;
            };
            tci = Some(u16::from_be_bytes(*t));
            rest = r;
        }
        let mut rss = None;
        if sel & 0x40 != 0 {
            let Some((h, r)) = rest.split_first_chunk::<4>() else {
                continue;
            };
            rss = Some(u32::from_be_bytes(*h));
            rest = r;
        }
        if port == 0 {
            let hw = (sel & 0x80 != 0).then_some(sel & 0x20 != 0);
            node.underlay(rest, hw);
            continue;
        }
        let Some(mut f) = FuzzFrame::new(rest) else {
            continue;
        };
        f.vlan = tci;
        f.rss = rss;
        node.access(port, f);
    }
});
