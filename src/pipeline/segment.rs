//! Checksums of the segments librte_gso cuts an encapsulated TCP packet into. GSO fixes
//! lengths, IP ids and TCP sequence numbers but computes no checksum; where the NIC cannot
//! either, this does, over the private header segment and the payload it references.

use crate::wire::{checksum, ipv4, IpProtocol};

use super::frame::Offload;

/// Recomputes the outer IPv4, inner IPv4 and inner TCP checksums of one segment: `head` is
/// the segment's header mbuf (writable), `tail` the payload pieces after it, `o` the offload
/// lengths the packet was segmented with.
pub fn finish_tcp4_segment<'a>(
    head: &mut [u8],
    tail: impl Iterator<Item = &'a [u8]>,
    o: &Offload,
) -> bool {
    let outer_ip = usize::from(o.outer_l2_len);
    let inner_ip = outer_ip
        .saturating_add(usize::from(o.outer_l3_len))
        .saturating_add(usize::from(o.l2_len));
    let tcp_at = inner_ip.saturating_add(usize::from(o.l3_len));
    let Some(outer) = head.get_mut(outer_ip..outer_ip.saturating_add(usize::from(o.outer_l3_len)))
    else {
        return false;
    };
    let Ok((h, _)) = ipv4::parse_mut(outer) else {
        return false;
    };
    h.fill_checksum();

    let Some(inner) = head.get_mut(inner_ip..tcp_at) else {
        return false;
    };
    let Ok((h, _)) = ipv4::parse_mut(inner) else {
        return false;
    };
    let (src, dst, total) = (h.src(), h.dst(), h.total_len());
    h.set_checksum(0);
    let c = checksum::checksum(inner);
    if let Ok((h, _)) = ipv4::parse_mut(inner) {
        h.set_checksum(c);
    }

    let tcp_len = total.saturating_sub(o.l3_len);
    let Some(tcp_head) = head.get_mut(tcp_at..) else {
        return false;
    };
    // The checksum field (bytes 16..18 of the TCP header) counts as zero.
    if let Some(field) = tcp_head.get_mut(16..18) {
        field.copy_from_slice(&[0, 0]);
    } else {
        return false;
    }
    let mut acc = checksum::Accumulator::new(checksum::pseudo_header_v4(
        src,
        dst,
        IpProtocol::TCP,
        tcp_len,
    ));
    acc.add(tcp_head);
    for piece in tail {
        acc.add(piece);
    }
    let c = !checksum::fold(acc.total());
    if let Some(field) = tcp_head.get_mut(16..18) {
        field.copy_from_slice(&c.to_be_bytes());
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Encap;
    use etherparse::{PacketBuilder, SlicedPacket, TransportSlice};

    #[test]
    fn checksums_verify_after_the_fix() {
        // An inner TCP/IPv4 frame after a 50-byte VXLAN header, cut after the TCP header.
        let mut inner = Vec::new();
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([192, 168, 1, 1], [192, 168, 1, 2], 64)
            .tcp(1000, 80, 7, 1024)
            .write(&mut inner, &[0x5a; 333])
            .unwrap();
        let mut outer = Vec::new();
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 9], [2, 0, 0, 0, 0, 8])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(50000, 4789)
            .write(
                &mut outer,
                &[&[8u8, 0, 0, 0, 0, 0, 1, 0][..], &inner[..]].concat(),
            )
            .unwrap();
        let split = 50 + 14 + 20 + 20;
        let (head, payload) = outer.split_at(split);
        let mut head = head.to_vec();
        // Spoil every checksum.
        head[24] ^= 0xff;
        head[50 + 14 + 10] ^= 0xff;
        head[50 + 14 + 20 + 16] ^= 0xff;
        let o = Offload::tunnel_tcp4_segmentation(Encap::Vxlan, 20, 30, 20, 20, 1000);
        assert!(finish_tcp4_segment(&mut head, [payload].into_iter(), &o));
        let whole = [head.as_slice(), payload].concat();
        assert!(ipv4::verify_checksum(&whole[14..34]));
        let p = SlicedPacket::from_ethernet(&whole[50..]).unwrap();
        let Some(etherparse::NetSlice::Ipv4(ip)) = &p.net else {
            panic!()
        };
        assert!(ipv4::verify_checksum(&whole[64..84]));
        let Some(TransportSlice::Tcp(t)) = &p.transport else {
            panic!()
        };
        let expected = t
            .to_header()
            .calc_checksum_ipv4(&ip.header().to_header(), t.payload())
            .unwrap();
        assert_eq!(t.checksum(), expected);
    }
}
