//! The pipeline's `Frame` over a DPDK mbuf, and offload requests turned into mbuf flags.

use crate::config::Encap;
use crate::dpdk::{mbuf_flags as f, Mbuf, TxOffload};
use crate::pipeline::{Frame, Offload};

impl Frame for Mbuf {
    #[inline(always)]
    fn data(&self) -> &[u8] {
        Mbuf::data(self)
    }

    #[inline(always)]
    fn data_mut(&mut self) -> &mut [u8] {
        Mbuf::data_mut(self)
    }

    #[inline(always)]
    fn prepend(&mut self, len: usize) -> Option<&mut [u8]> {
        Mbuf::prepend(self, u16::try_from(len).ok()?)
    }

    #[inline(always)]
    fn adj(&mut self, len: usize) -> bool {
        u16::try_from(len).is_ok_and(|l| Mbuf::adj(self, l))
    }

    #[inline(always)]
    fn truncate(&mut self, len: usize) -> bool {
        let have = usize::from(self.data_len());
        match have.checked_sub(len).map(u16::try_from) {
            Some(Ok(0)) => true,
            Some(Ok(extra)) => self.trim(extra),
            _ => false,
        }
    }

    #[inline(always)]
    fn narrow(&mut self, start: usize, len: usize) -> bool {
        match (u16::try_from(start), u16::try_from(len)) {
            (Ok(start), Ok(len)) => Mbuf::narrow(self, start, len),
            _ => false,
        }
    }

    #[inline(always)]
    fn append(&mut self, len: usize) -> bool {
        u16::try_from(len).is_ok_and(|l| Mbuf::append(self, l).is_some())
    }

    #[inline(always)]
    fn rss_hash(&self) -> Option<u32> {
        Mbuf::rss_hash(self)
    }

    #[inline(always)]
    fn rx_vlan(&self) -> Option<u16> {
        self.rx_vlan_stripped()
    }

    #[inline(always)]
    fn rx_ip_checksum_ok(&self) -> Option<bool> {
        Mbuf::rx_ip_checksum_ok(self)
    }

    #[inline(always)]
    fn rx_outer_udp_checksum_ok(&self) -> Option<bool> {
        Mbuf::rx_outer_l4_checksum_ok(self)
    }

    #[inline(always)]
    fn is_contiguous(&self) -> bool {
        Mbuf::is_contiguous(self)
    }

    #[inline(always)]
    fn prefetch_data(&self) {
        Mbuf::prefetch_data(self)
    }

    fn request_offload(&mut self, o: Offload) {
        let mut flags = self.ol_flags();
        if o.outer_ipv6 {
            flags |= f::TX_OUTER_IPV6;
        } else if o.outer_ipv4_checksum || o.tcp_segmentation {
            flags |= f::TX_OUTER_IPV4;
        }
        if o.outer_udp_checksum {
            flags |= f::TX_OUTER_UDP_CKSUM;
        }
        if o.outer_ipv4_checksum {
            flags |= f::TX_OUTER_IP_CKSUM;
        }
        match o.tunnel {
            Some(Encap::Vxlan) => flags |= f::TX_TUNNEL_VXLAN,
            Some(Encap::Nvgre) => flags |= f::TX_TUNNEL_GRE,
            None => {}
        }
        if o.tcp_segmentation {
            flags |= f::TX_TCP_SEG | f::TX_IPV4 | f::TX_IP_CKSUM | f::TX_TCP_CKSUM;
        }
        self.set_ol_flags(flags);
        self.set_tx_offload(TxOffload {
            outer_l2_len: o.outer_l2_len,
            outer_l3_len: o.outer_l3_len,
            l2_len: o.l2_len,
            l3_len: o.l3_len,
            l4_len: o.l4_len,
            tso_segsz: o.tso_segsz,
        });
    }
}
