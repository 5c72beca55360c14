//! The underlay classifier's fast path: tunnel packets shaped like the last one.
//!
//! Nearly every packet a gateway receives on its underlay is VXLAN or NVGRE over IPv4 without
//! options, to the same local address, in the same outer shape. `underlay::classify` parses
//! and checks such a packet header by header (a dozen branches); here the fields that must
//! hold the same value as in the last tunnel packet `classify` accepted are compared in
//! one pass over the first 48 bytes as six masked 64-bit words, and only what varies per
//! packet is checked on its own: the lengths, the TTL and the IPv4 header checksum.
//!
//! A packet this accepts is one `classify` would accept with the same result: every field
//! `classify` checks against a constant or a local address is either compared here with a
//! packet `classify` accepted, or checked here as `classify` does, and everything the result
//! holds is read from the packet. Anything else (another shape, an IPv4 option, a length or
//! checksum that does not fit) is left to `classify`, which also gives the drop reason.
//! What varies between tunnels (the sending VTEP, the VNI, the UDP source port, the NVGRE
//! FlowID) is not compared, so one shape serves every remote VTEP and VNI. Each
//! encapsulation keeps its own `WAYS` most recent shapes, so VXLAN and NVGRE arriving
//! interleaved do not evict each other, and neither do unicast tunnel traffic and the
//! flooded traffic of a multicast underlay group (which differ in the destination address).

use std::net::{IpAddr, Ipv4Addr};

use crate::config::Encap;
use crate::wire::{checksum, ethernet, gre, ipv4, udp, vxlan, IpProtocol, Vni};

use super::underlay::TunnelPacket;

/// The bytes compared, as words: Ethernet, IPv4 without options, then UDP and VXLAN up to
/// its VNI (flags at 42), or GRE.
const WORDS: usize = 6;
const SPAN: usize = WORDS * 8;

const IP: usize = ethernet::HEADER_LEN;
const L4: usize = IP + ipv4::HEADER_LEN;
const VXLAN_OUTER: usize = L4 + udp::HEADER_LEN + vxlan::HEADER_LEN;
const NVGRE_OUTER: usize = L4 + gre::HEADER_LEN;

/// A mask over the first `SPAN` bytes as words: the listed byte ranges in full, and single
/// bytes with their own bits.
// Evaluated at compile time only, where an index out of range fails the build.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
const fn mask(ranges: &[(usize, usize)], bits: &[(usize, u8)]) -> [u64; WORDS] {
    let mut m = [0u64; WORDS];
    let mut r = 0;
    while r < ranges.len() {
        let mut i = ranges[r].0;
        while i < ranges[r].1 {
            m[i / 8] |= 0xff << (8 * (i % 8));
            i += 1;
        }
        r += 1;
    }
    let mut b = 0;
    while b < bits.len() {
        let (i, v) = bits[b];
        m[i / 8] |= (v as u64) << (8 * (i % 8));
        b += 1;
    }
    m
}

// What every packet of a shape has as the one it was learned from, whatever the tunnel:
// EtherType and IPv4 version/header length (12..15), no fragment (MF and the offset zero:
// the low 6 bits at IP + 6 and all of IP + 7), the protocol and the destination address;
// the source MAC's group bit (0).
const COMMON_BITS: [(usize, u8); 2] = [(6, 0x01), (IP + 6, 0x3f)];
/// VXLAN: also the UDP destination port and the VXLAN flags.
const VXLAN_MASK: [u64; WORDS] = mask(
    &[
        (12, IP + 1),
        (IP + 7, IP + 8),
        (IP + 9, IP + 10),
        (IP + 16, L4),
        (L4 + 2, L4 + 4),
        (L4 + 8, L4 + 9),
    ],
    &COMMON_BITS,
);
/// NVGRE: also the GRE flags and protocol.
const NVGRE_MASK: [u64; WORDS] = mask(
    &[
        (12, IP + 1),
        (IP + 7, IP + 8),
        (IP + 9, IP + 10),
        (IP + 16, L4),
        (L4, L4 + 4),
    ],
    &COMMON_BITS,
);

/// Shapes kept per encapsulation: a gateway's unicast address and one multicast group, or
/// two local addresses. A miss costs one more masked compare before `classify`; more ways
/// would add that to every packet of a shape not kept.
const WAYS: usize = 2;

/// The shapes of the last VXLAN and NVGRE packets `classify` accepted, the newest first.
#[derive(Debug, Clone, Default)]
pub struct TunnelShapes {
    vxlan: [Option<Shape>; WAYS],
    nvgre: [Option<Shape>; WAYS],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shape {
    /// The packet's first `SPAN` bytes as words, masked.
    expect: [u64; WORDS],
    /// The `VxlanPorts` slot of its UDP port (which the mask covers).
    port_slot: u8,
}

impl Shape {
    /// Whether words `w` of a packet, masked with `mask`, are this shape's.
    #[inline(always)]
    fn matches(&self, w: &[u64; WORDS], mask: &[u64; WORDS]) -> bool {
        let mut differ = 0u64;
        for ((w, e), m) in w.iter().zip(self.expect).zip(mask) {
            differ |= (w ^ e) & m;
        }
        differ == 0
    }
}

#[inline(always)]
fn words(frame: &[u8]) -> Option<[u64; WORDS]> {
    let head: &[u8; SPAN] = frame.get(..SPAN)?.try_into().ok()?;
    let mut out = [0u64; WORDS];
    for (w, chunk) in out.iter_mut().zip(head.chunks_exact(8)) {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        *w = u64::from_le_bytes(b);
    }
    Some(out)
}

/// Whether the IPv4 header checksum verifies, summed from the words already loaded: the
/// header (bytes 14..34) is the top two bytes of word 1, words 2 and 3, and the low two
/// bytes of word 4. Words read little-endian sum to the byte-swapped big-endian sum
/// (RFC 1071 §2(B)), and a sum of all ones reads the same either way round.
#[inline(always)]
fn header_checksum_ok(w: &[u64; WORDS]) -> bool {
    const LOW32: u64 = 0xffff_ffff;
    let [_, w1, w2, w3, w4, _] = *w;
    let acc = (w1 >> 48)
        .wrapping_add(w2 >> 32)
        .wrapping_add(w2 & LOW32)
        .wrapping_add(w3 >> 32)
        .wrapping_add(w3 & LOW32)
        .wrapping_add(w4 & 0xffff);
    checksum::fold(acc) == 0xffff
}

#[inline(always)]
fn be16(frame: &[u8], at: usize) -> usize {
    match frame.get(at..at.wrapping_add(2)) {
        Some(&[a, b]) => usize::from(u16::from_be_bytes([a, b])),
        _ => 0,
    }
}

impl TunnelShapes {
    /// Records the shape of a packet `classify` accepted as `t` (IPv4 without options only).
    #[inline]
    pub fn learn(&mut self, frame: &[u8], t: &TunnelPacket) {
        let (ways, mask, outer) = match t.encap {
            Encap::Vxlan => (&mut self.vxlan, &VXLAN_MASK, VXLAN_OUTER),
            Encap::Nvgre => (&mut self.nvgre, &NVGRE_MASK, NVGRE_OUTER),
        };
        if t.outer_len != outer || !t.src.is_ipv4() {
            return;
        }
        let Some(w) = words(frame) else {
            return;
        };
        let mut expect = [0u64; WORDS];
        for ((e, w), m) in expect.iter_mut().zip(w).zip(mask) {
            *e = w & m;
        }
        let shape = Some(Shape {
            expect,
            port_slot: t.port_slot,
        });
        // A kept shape's packet that missed for its lengths or checksum changes nothing.
        if !ways.contains(&shape) {
            ways.rotate_right(1);
            if let Some(newest) = ways.first_mut() {
                *newest = shape;
            }
        }
    }

    /// `classify`'s result for a packet of a known shape; None: classify it in full.
    /// `hw_checksum` is the NIC's verdict on the IPv4 header checksum, if it gave one.
    #[inline(always)]
    pub fn classify(&self, frame: &[u8], hw_checksum: Option<bool>) -> Option<TunnelPacket> {
        let w = words(frame)?;
        // The protocol byte picks the shape.
        let (ways, mask, encap) = match *frame.get(IP + 9)? {
            IpProtocol::UDP => (&self.vxlan, &VXLAN_MASK, Encap::Vxlan),
            IpProtocol::GRE => (&self.nvgre, &NVGRE_MASK, Encap::Nvgre),
            _ => return None,
        };
        // The newest first: written out, the second compare stays off a first-way hit's path.
        let [newest, older] = ways;
        let kept = |s: &Option<Shape>| s.filter(|s| s.matches(&w, mask)).map(|s| s.port_slot);
        let port_slot = kept(newest).or_else(|| kept(older))?;
        // The IPv4 datagram lies within the frame; trailing padding is allowed.
        let total = be16(frame, IP + 2);
        if total > frame.len().wrapping_sub(IP) || *frame.get(IP + 8)? == 0 {
            return None;
        }
        let ip_payload = total.checked_sub(ipv4::HEADER_LEN)?;
        let (inner_len, outer_len, vni) = match encap {
            Encap::Vxlan => {
                // The UDP length bounds the datagram: within the IP payload, with room for
                // the VXLAN header and an inner Ethernet header.
                let len = be16(frame, L4 + 4);
                if len > ip_payload {
                    return None;
                }
                let inner = len.checked_sub(udp::HEADER_LEN + vxlan::HEADER_LEN)?;
                (inner, VXLAN_OUTER, frame.get(L4 + 12..L4 + 15)?)
            }
            Encap::Nvgre => {
                let inner = ip_payload.checked_sub(gre::HEADER_LEN)?;
                (inner, NVGRE_OUTER, frame.get(L4 + 4..L4 + 7)?)
            }
        };
        if inner_len < ethernet::HEADER_LEN {
            return None;
        }
        if !hw_checksum.unwrap_or_else(|| header_checksum_ok(&w)) {
            return None;
        }
        let src = frame.get(IP + 12..IP + 16)?;
        let vni: [u8; 3] = vni.try_into().ok()?;
        let src: [u8; 4] = src.try_into().ok()?;
        let tos = *frame.get(IP + 1)?;
        Some(TunnelPacket {
            encap,
            vni: Vni::from_bytes(vni),
            port_slot,
            src: IpAddr::V4(Ipv4Addr::from(src)),
            outer_len,
            inner_len,
            outer_tos: tos,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::underlay::{classify, LocalAddrs, NicChecks, Underlay, VxlanPorts};
    use etherparse::{IpNumber, PacketBuilder};
    use proptest::prelude::*;

    const PORT: u16 = 4789;
    /// A second VXLAN port open in `ports()`' slot 2 (flannel's).
    const FLANNEL_PORT: u16 = 8472;

    fn ports() -> VxlanPorts {
        let mut p = VxlanPorts::single(PORT);
        p.open(2, FLANNEL_PORT);
        p
    }

    fn local() -> LocalAddrs {
        LocalAddrs {
            v4: vec!["10.0.0.1".parse().unwrap(), "10.0.0.5".parse().unwrap()],
            v6: vec![],
            groups: vec!["239.1.1.1".parse().unwrap()].into(),
        }
    }

    /// What a packet's varying fields are set to.
    #[derive(Debug, Clone, Copy)]
    struct Vary {
        src: [u8; 4],
        vni: u32,
        sport: u16,
        ttl: u8,
        tos: u8,
        inner: usize,
        nvgre: bool,
    }

    /// A VXLAN (or NVGRE) packet from 10.0.0.2 in VNI 5000 with a 60-byte inner frame.
    fn base(nvgre: bool) -> Vary {
        Vary {
            src: [10, 0, 0, 2],
            vni: 5000,
            sport: 50000,
            ttl: 64,
            tos: 0,
            inner: 60,
            nvgre,
        }
    }

    fn packet(v: Vary, dst: [u8; 4]) -> Vec<u8> {
        let mut inner = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
        inner.resize(v.inner.max(14), 0x45);
        let mut out = Vec::new();
        let eth = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 9], [2, 0, 0, 0, 0, 1]);
        let ip = |b: etherparse::PacketBuilderStep<etherparse::Ethernet2Header>| {
            b.ipv4(v.src, dst, v.ttl.max(1))
        };
        if v.nvgre {
            let mut payload = vec![0x20, 0x00, 0x65, 0x58];
            payload.extend_from_slice(&((v.vni << 8) | u32::from(v.sport as u8)).to_be_bytes());
            payload.extend_from_slice(&inner);
            ip(eth)
                .write(&mut out, IpNumber::GRE, &payload)
                .expect("packet");
        } else {
            let mut payload = vec![0x08, 0, 0, 0];
            payload.extend_from_slice(&(v.vni << 8).to_be_bytes());
            payload.extend_from_slice(&inner);
            ip(eth)
                .udp(v.sport, PORT)
                .write(&mut out, &payload)
                .expect("packet");
        }
        out[IP + 1] = v.tos;
        fix_checksum(&mut out);
        out
    }

    /// Recomputes the (options-less) IPv4 header checksum, whatever the header now holds.
    fn fix_checksum(p: &mut [u8]) {
        if let Some(Ok((ip, _))) = p.get_mut(IP..).map(ipv4::parse_mut) {
            ip.fill_checksum();
        }
    }

    fn full(p: &[u8], hw: Option<bool>) -> Result<Underlay, crate::pipeline::DropReason> {
        let nic = NicChecks {
            ipv4_header: hw,
            outer_udp: None,
        };
        classify(p, &local(), &ports(), nic)
    }

    /// `shapes` after `classify` accepted `p`, as `Gateway::underlay` learns.
    fn learn(shapes: &mut TunnelShapes, p: &[u8]) {
        let Ok(Underlay::Tunnel(t)) = full(p, None) else {
            panic!("the packet classifies")
        };
        shapes.learn(p, &t);
    }

    /// Shapes learned from VXLAN and NVGRE packets to the gateway's address and then to its
    /// multicast group: the group's shape the newest of each encapsulation's two.
    fn primed() -> TunnelShapes {
        let mut shapes = TunnelShapes::default();
        for nvgre in [false, true] {
            for dst in [[10, 0, 0, 1], [239, 1, 1, 1]] {
                learn(&mut shapes, &packet(base(nvgre), dst));
            }
        }
        shapes
    }

    /// Whether `p` takes the fast path, with classify's result when it does.
    fn fast(shapes: &TunnelShapes, p: &[u8]) -> bool {
        let got = shapes.classify(p, None);
        if let Some(t) = got {
            assert_eq!(full(p, None), Ok(Underlay::Tunnel(t)));
        }
        got.is_some()
    }

    /// `packet` sent to UDP port `port` instead (without a UDP checksum, as over IPv4 it may).
    fn to_port(mut p: Vec<u8>, port: u16) -> Vec<u8> {
        p[L4 + 2..L4 + 4].copy_from_slice(&port.to_be_bytes());
        p[L4 + 6..L4 + 8].fill(0);
        p
    }

    #[test]
    fn a_shape_keeps_the_port_slot_it_was_learned_on() {
        let mut shapes = TunnelShapes::default();
        let flannel = to_port(packet(base(false), [10, 0, 0, 1]), FLANNEL_PORT);
        learn(&mut shapes, &flannel);
        assert_eq!(
            shapes.classify(&flannel, None).map(|t| t.port_slot),
            Some(2)
        );
        // The other port is another shape: classified in full until learned.
        let standard = packet(base(false), [10, 0, 0, 1]);
        assert!(!fast(&shapes, &standard));
        learn(&mut shapes, &standard);
        assert_eq!(
            shapes.classify(&standard, None).map(|t| t.port_slot),
            Some(0)
        );
        assert!(fast(&shapes, &flannel));
        // A port no VNI uses is never fast.
        assert!(!fast(&shapes, &to_port(standard, 9999)));
    }

    #[test]
    fn unicast_and_group_traffic_interleaved_both_stay_fast() {
        let shapes = primed();
        for _ in 0..3 {
            for nvgre in [false, true] {
                assert!(fast(&shapes, &packet(base(nvgre), [10, 0, 0, 1])));
                assert!(fast(&shapes, &packet(base(nvgre), [239, 1, 1, 1])));
            }
        }
    }

    #[test]
    fn a_third_shape_evicts_the_oldest_of_its_encapsulation_only() {
        let mut shapes = primed();
        let [unicast, group, second] = [[10, 0, 0, 1], [239, 1, 1, 1], [10, 0, 0, 5]];
        assert!(!fast(&shapes, &packet(base(false), second)));
        learn(&mut shapes, &packet(base(false), second));
        assert!(fast(&shapes, &packet(base(false), second)));
        assert!(fast(&shapes, &packet(base(false), group)));
        assert!(!fast(&shapes, &packet(base(false), unicast)));
        // NVGRE keeps its own two.
        assert!(fast(&shapes, &packet(base(true), unicast)));
        assert!(fast(&shapes, &packet(base(true), group)));
    }

    #[test]
    fn relearning_a_kept_shape_evicts_nothing() {
        let mut shapes = primed();
        // A packet of a kept shape can reach classify (a checksum the NIC did not verify
        // and the fast path refused, say) and be learned again.
        learn(&mut shapes, &packet(base(false), [10, 0, 0, 1]));
        learn(&mut shapes, &packet(base(false), [10, 0, 0, 1]));
        assert!(fast(&shapes, &packet(base(false), [10, 0, 0, 1])));
        assert!(fast(&shapes, &packet(base(false), [239, 1, 1, 1])));
    }

    fn vary() -> impl Strategy<Value = Vary> {
        (
            any::<[u8; 4]>(),
            0u32..(1 << 24),
            any::<u16>(),
            1u8..=255,
            any::<u8>(),
            prop_oneof![14usize..20, 14usize..200],
            any::<bool>(),
        )
            .prop_map(|(src, vni, sport, ttl, tos, inner, nvgre)| Vary {
                src,
                vni,
                sport,
                ttl,
                tos,
                inner,
                nvgre,
            })
    }

    #[test]
    fn nothing_is_fast_before_a_shape_is_learned() {
        let p = packet(base(false), [10, 0, 0, 1]);
        assert_eq!(TunnelShapes::default().classify(&p, None), None);
    }

    proptest! {
        // Cheap cases (about 5 µs): many, so that rare edits (one bit of one field) occur.
        #![proptest_config(ProptestConfig { cases: 20000, ..ProptestConfig::default() })]

        /// Tunnel packets from any VTEP, in any VNI, with any source port, TTL, TOS and
        /// length take the fast path, with classify's result.
        #[test]
        fn every_tunnel_of_a_known_shape_is_fast_and_the_same(v in vary(), pad in 0usize..8) {
            let shapes = primed();
            let mut p = packet(v, [10, 0, 0, 1]);
            // Ethernet padding after the datagram is not the inner frame.
            p.resize(p.len() + pad, 0);
            let Ok(Underlay::Tunnel(want)) = full(&p, None) else {
                panic!("classify accepts {v:?}")
            };
            prop_assert_eq!(shapes.classify(&p, None), Some(want));
        }

        /// Whatever changes, a packet the fast path accepts is one classify accepts, with
        /// the same result: up to 4 edits of header fields (each set to 0, all ones, its
        /// value ±1, a bit flipped or anything, a length to around what the frame holds), a
        /// truncation, the
        /// IPv4 checksum recomputed or not, the NIC's checksum verdict or none.
        #[test]
        fn the_fast_path_never_disagrees_with_classify(
            v in vary(),
            to_group in any::<bool>(),
            edits in proptest::collection::vec((0usize..FIELDS.len(), 0u8..7, any::<u16>()), 0..4),
            cut in proptest::option::of(0usize..120),
            refix in any::<bool>(),
            hw in proptest::option::of(any::<bool>()),
        ) {
            let shapes = primed();
            let dst = if to_group { [239, 1, 1, 1] } else { [10, 0, 0, 1] };
            let mut p = packet(v, dst);
            for (field, how, any) in edits {
                edit(&mut p, FIELDS[field], how, any);
            }
            if let Some(n) = cut {
                p.truncate(n);
            }
            if refix {
                fix_checksum(&mut p);
            }
            if let Some(fast) = shapes.classify(&p, hw) {
                prop_assert_eq!(full(&p, hw), Ok(Underlay::Tunnel(fast)), "{:02x?}", p);
            }
        }
    }

    /// Header fields as (offset, width): Ethernet addresses and type, every IPv4 field, UDP's
    /// or GRE's, VXLAN's flags, reserved bytes and VNI.
    const FIELDS: [(usize, usize); 20] = [
        (0, 1),
        (6, 1),
        (12, 2),
        (IP, 1),
        (IP + 1, 1),
        (IP + 2, 2),
        (IP + 4, 2),
        (IP + 6, 1),
        (IP + 7, 1),
        (IP + 8, 1),
        (IP + 9, 1),
        (IP + 12, 4),
        (IP + 16, 4),
        (L4, 2),
        (L4 + 2, 2),
        (L4 + 4, 2),
        (L4 + 6, 2),
        (L4 + 8, 1),
        (L4 + 9, 3),
        (L4 + 12, 4),
    ];

    /// Sets a field: `how` 0 zero, 1 all ones, 2 plus one, 3 minus one, 4 `any`, 5 bit
    /// `any` flipped, 6 what the frame holds after the field's header start, plus `any` % 24
    /// minus 12 (lengths near the edge).
    fn edit(p: &mut [u8], (at, width): (usize, usize), how: u8, any: u16) {
        let Some(bytes) = p.get(at..at + width) else {
            return;
        };
        let mut v = bytes.iter().fold(0u64, |v, b| (v << 8) | u64::from(*b));
        let ones = (1u64 << (8 * width)) - 1;
        v = match how {
            0 => 0,
            1 => ones,
            2 => v.wrapping_add(1),
            3 => v.wrapping_sub(1),
            4 => u64::from(any),
            5 => v ^ (1 << (u64::from(any) % (8 * width as u64))),
            _ => {
                let header = if at >= L4 { L4 } else { IP };
                ((p.len() - header) as u64)
                    .wrapping_add(u64::from(any % 24))
                    .wrapping_sub(12)
            }
        } & ones;
        for (i, b) in p[at..at + width].iter_mut().enumerate() {
            *b = (v >> (8 * (width - 1 - i))) as u8;
        }
    }

    /// Every IPv4 total length and UDP length around what the frame holds: the fast path
    /// takes exactly the packets classify accepts, with its result.
    #[test]
    fn lengths_at_every_edge() {
        let shapes = primed();
        for nvgre in [false, true] {
            for inner in [14, 15, 40] {
                let v = Vary {
                    tos: 3,
                    inner,
                    ..base(nvgre)
                };
                let base = packet(v, [10, 0, 0, 1]);
                let fields: &[usize] = if nvgre { &[IP + 2] } else { &[IP + 2, L4 + 4] };
                for &at in fields {
                    for len in 0..base.len() + 4 {
                        let mut p = base.clone();
                        p[at..at + 2].copy_from_slice(&(len as u16).to_be_bytes());
                        fix_checksum(&mut p);
                        let fast = shapes.classify(&p, None);
                        match full(&p, None) {
                            Ok(Underlay::Tunnel(t)) => {
                                assert_eq!(fast, Some(t), "{v:?}, length at {at} = {len}")
                            }
                            other => assert_eq!(fast, None, "{v:?}, at {at} = {len}: {other:?}"),
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn a_shape_is_not_learned_from_a_packet_with_ip_options() {
        let p = packet(base(false), [10, 0, 0, 1]);
        let Ok(Underlay::Tunnel(mut t)) = full(&p, None) else {
            panic!()
        };
        let mut shapes = TunnelShapes::default();
        t.outer_len += 4;
        shapes.learn(&p, &t);
        assert_eq!(shapes.classify(&p, None), None);
    }
}
