//! Encapsulation checked by decapsulation: a frame sent by the gateway under test (from an
//! access port, selected like the `access` target's first byte) to the VTEP behind its
//! destination — unicast to a static MAC, or every flood copy — is received by a second
//! gateway that is that VTEP (`PEER`), which must decapsulate it and deliver exactly the
//! frame that entered, without its 802.1Q tag. An oracle, not only "no crash": a wrong
//! checksum, length, VNI, encapsulation or truncated inner frame fails here.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use vtepd::pipeline::{DropReason, Frame, Verdict};
use vtepd_fuzz::{untagged, Base, FuzzFrame, GATEWAY, GW_MAC, NEXT_HOP_MAC, PEER};

struct Bases {
    gateway: Base,
    peer: Base,
}

fn bases() -> &'static Bases {
    static B: OnceLock<Bases> = OnceLock::new();
    B.get_or_init(|| Bases {
        gateway: Base::new(GATEWAY, GW_MAC),
        peer: Base::new(PEER, NEXT_HOP_MAC),
    })
}

fuzz_target!(init: { bases(); }, |data: &[u8]| {
    let Some((&sel, mut frame)) = data.split_first() else {
        return;
    };
    // As in `access`: bits 0-1 the access port (0 is port 1 too), bit 7 a stripped tag.
    let port = (sel & 0x03).max(1);
    let mut tci = None;
    if sel & 0x80 != 0 {
        let Some((t, r)) = frame.split_first_chunk::<2>() else {
            return;
        };
        tci = Some(u16::from_be_bytes(*t));
        frame = r;
    }
    let Some(mut f) = FuzzFrame::new(frame) else {
        return;
    };
    f.vlan = tci;
    let b = bases();
    let mut gw = b.gateway.node();
    let mut peer = b.peer.node();
    let (verdict, sent) = gw.access(port, f);
    if !matches!(verdict, Verdict::Forward(0) | Verdict::Segment(0) | Verdict::Flood(_)) {
        return;
    }
    // What the gateway put into the tunnel: the frame as received, untagged.
    let inner = untagged(frame);
    // A station sending to itself: where the peer has a tunnel back to the gateway, it learns
    // the source behind it, then finds the destination there, and split horizon drops the
    // frame (never back into the underlay).
    let to_itself = inner.get(..6).is_some_and(|dst| inner.get(6..12) == Some(dst));
    for packet in sent {
        let mut r = packet.clone();
        let v = peer.gw.underlay(&mut r);
        if to_itself && v == Verdict::Drop(DropReason::SplitHorizon) {
            continue;
        }
        let delivered = match v {
            Verdict::Forward(p) => {
                assert_ne!(p, 0, "the peer sent a decapsulated frame to the underlay");
                untagged(r.data())
            }
            Verdict::Flood(_) => r.data().to_vec(),
            other => panic!(
                "the peer refused {verdict:?}: {other:?}\n sent {:02x?}\n from {:02x?}",
                packet.data(),
                frame
            ),
        };
        assert_eq!(
            delivered,
            inner,
            "decapsulated frame differs from the one encapsulated ({verdict:?})"
        );
        peer.step();
    }
});
