//! Frames received on the underlay port: `Gateway::underlay` (classify; VXLAN and NVGRE
//! decapsulation over IPv4 and IPv6; ARP, ICMP echo and neighbour discovery for the VTEP;
//! learning behind remote VTEPs; split horizon; flooding to the access ports), then what the
//! data plane does with the verdict.
//!
//! The input is one frame, or several separated by `~NXT` (each sees the tables the
//! previous ones left). Every frame goes to two gateways: one with a fixed next hop that
//! verifies IPv4 header checksums itself, and one that resolves its next hops from the ARP
//! and neighbour advertisements it receives and whose NIC claims to have checked the
//! checksum (so mutated headers get past it).

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use vtepd_fuzz::{gateway_resolving, pieces, Base, GATEWAY, GW_MAC};

struct Bases {
    fixed: Base,
    resolving: Base,
}

fn bases() -> &'static Bases {
    static B: OnceLock<Bases> = OnceLock::new();
    B.get_or_init(|| Bases {
        fixed: Base::new(GATEWAY, GW_MAC),
        resolving: Base::new(&gateway_resolving(), GW_MAC),
    })
}

fuzz_target!(init: { bases(); }, |data: &[u8]| {
    let b = bases();
    let mut fixed = b.fixed.node();
    let mut resolving = b.resolving.node();
    for frame in pieces(data) {
        fixed.underlay(frame, None);
        resolving.underlay(frame, Some(true));
    }
});
