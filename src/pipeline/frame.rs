//! What the pipeline needs from a packet buffer. The data plane implements it for DPDK
//! mbufs; tests and benchmarks use `VecFrame`, so every stage runs without EAL.

use crate::config::Encap;

/// Work the pipeline asks the NIC (or librte_gso) to do on transmit, with the header
/// lengths it needs. Lengths follow DPDK's tunnel convention: `l2_len` covers the tunnel
/// header plus the inner Ethernet header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Offload {
    pub outer_ipv6: bool,
    pub outer_udp_checksum: bool,
    pub outer_ipv4_checksum: bool,
    pub tunnel: Option<Encap>,
    /// Segment the inner TCP/IPv4 packet to `tso_segsz` bytes of payload.
    pub tcp_segmentation: bool,
    pub outer_l2_len: u16,
    pub outer_l3_len: u16,
    pub l2_len: u16,
    pub l3_len: u16,
    pub l4_len: u16,
    pub tso_segsz: u16,
}

impl Offload {
    /// The outer UDP checksum of an IPv6 VXLAN packet (the field holds the pseudo-header sum).
    pub fn outer_udp6(outer_len: usize) -> Offload {
        Offload {
            outer_ipv6: true,
            outer_udp_checksum: true,
            tunnel: Some(Encap::Vxlan),
            outer_l2_len: 14,
            outer_l3_len: 40,
            // UDP + VXLAN + inner Ethernet: the outer stack minus outer Ethernet and IPv6,
            // plus the inner Ethernet header.
            l2_len: len16(outer_len.saturating_sub(14 + 40).saturating_add(14)),
            ..Offload::default()
        }
    }

    /// TCP segmentation of an encapsulated TCP/IPv4 packet with an IPv4 outer header.
    pub fn tunnel_tcp4_segmentation(
        encap: Encap,
        outer_l3_len: usize,
        tunnel_l2_len: usize,
        l3_len: usize,
        l4_len: usize,
        mss: u16,
    ) -> Offload {
        Offload {
            outer_ipv4_checksum: true,
            tunnel: Some(encap),
            tcp_segmentation: true,
            outer_l2_len: 14,
            outer_l3_len: len16(outer_l3_len),
            l2_len: len16(tunnel_l2_len),
            l3_len: len16(l3_len),
            l4_len: len16(l4_len),
            tso_segsz: mss,
            ..Offload::default()
        }
    }
}

fn len16(v: usize) -> u16 {
    u16::try_from(v).unwrap_or(u16::MAX)
}

/// A packet buffer with headroom, whose front can grow and shrink.
pub trait Frame {
    /// The packet's bytes (the first segment; received packets are contiguous).
    fn data(&self) -> &[u8];
    fn data_mut(&mut self) -> &mut [u8];
    /// Grows the front by `len` bytes; returns them.
    fn prepend(&mut self, len: usize) -> Option<&mut [u8]>;
    /// Removes `len` bytes from the front.
    fn adj(&mut self, len: usize) -> bool;
    /// Cuts the packet to `len` bytes (drops trailing padding).
    fn truncate(&mut self, len: usize) -> bool;
    /// Keeps only the `len` bytes at `start`: `adj(start)` then `truncate(len)` (what
    /// decapsulation does to drop the outer headers and any trailing padding), but as one
    /// change of the lengths, and none when it fails.
    fn narrow(&mut self, start: usize, len: usize) -> bool;
    /// Grows the packet at the end by `len` bytes (contents unspecified).
    fn append(&mut self, len: usize) -> bool;
    /// The NIC's RSS hash of the packet, if it computed one.
    fn rss_hash(&self) -> Option<u32>;
    /// The 802.1Q TCI the NIC stripped on receive, if it did.
    fn rx_vlan(&self) -> Option<u16>;
    /// The NIC's verdict on the (outer) IPv4 header checksum, if it checked it.
    fn rx_ip_checksum_ok(&self) -> Option<bool> {
        None
    }
    /// The NIC's verdict on the outer UDP checksum of a tunnel packet, if it checked it.
    fn rx_outer_udp_checksum_ok(&self) -> Option<bool> {
        None
    }
    /// Asks for transmit offloads (checksums, segmentation).
    fn request_offload(&mut self, o: Offload);
    /// Whether the whole packet is in this buffer (a received chain is not).
    fn is_contiguous(&self) -> bool {
        true
    }
    /// Starts bringing the packet's first bytes into the cache, ahead of its turn.
    fn prefetch_data(&self) {}
}

/// A frame borrowed from wherever it lives: what benchmarks hand a burst, so that moving a
/// packet through the burst loop costs a pointer, as an mbuf does.
impl<F: Frame + ?Sized> Frame for &mut F {
    #[inline(always)]
    fn data(&self) -> &[u8] {
        (**self).data()
    }
    #[inline(always)]
    fn data_mut(&mut self) -> &mut [u8] {
        (**self).data_mut()
    }
    #[inline(always)]
    fn prepend(&mut self, len: usize) -> Option<&mut [u8]> {
        (**self).prepend(len)
    }
    #[inline(always)]
    fn adj(&mut self, len: usize) -> bool {
        (**self).adj(len)
    }
    #[inline(always)]
    fn truncate(&mut self, len: usize) -> bool {
        (**self).truncate(len)
    }
    #[inline(always)]
    fn narrow(&mut self, start: usize, len: usize) -> bool {
        (**self).narrow(start, len)
    }
    #[inline(always)]
    fn append(&mut self, len: usize) -> bool {
        (**self).append(len)
    }
    #[inline(always)]
    fn rss_hash(&self) -> Option<u32> {
        (**self).rss_hash()
    }
    #[inline(always)]
    fn rx_vlan(&self) -> Option<u16> {
        (**self).rx_vlan()
    }
    #[inline(always)]
    fn rx_ip_checksum_ok(&self) -> Option<bool> {
        (**self).rx_ip_checksum_ok()
    }
    #[inline(always)]
    fn rx_outer_udp_checksum_ok(&self) -> Option<bool> {
        (**self).rx_outer_udp_checksum_ok()
    }
    #[inline(always)]
    fn request_offload(&mut self, o: Offload) {
        (**self).request_offload(o)
    }
    #[inline(always)]
    fn is_contiguous(&self) -> bool {
        (**self).is_contiguous()
    }
    #[inline(always)]
    fn prefetch_data(&self) {
        (**self).prefetch_data()
    }
}

/// A heap-backed frame with headroom, for tests and benchmarks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VecFrame {
    buf: Vec<u8>,
    start: usize,
    pub rss: Option<u32>,
    pub vlan: Option<u16>,
    pub offload: Option<Offload>,
}

impl VecFrame {
    /// DPDK's default headroom.
    pub const HEADROOM: usize = 128;

    pub fn new(bytes: &[u8]) -> VecFrame {
        let mut buf = vec![0u8; Self::HEADROOM];
        buf.extend_from_slice(bytes);
        VecFrame {
            buf,
            start: Self::HEADROOM,
            rss: None,
            vlan: None,
            offload: None,
        }
    }

    pub fn bytes(&self) -> &[u8] {
        self.data()
    }

    /// Resets to `bytes` without reallocating (benchmarks reuse one frame).
    pub fn reset(&mut self, bytes: &[u8]) {
        self.buf.truncate(Self::HEADROOM);
        self.buf.extend_from_slice(bytes);
        self.start = Self::HEADROOM;
    }
}

impl Frame for VecFrame {
    fn data(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }

    fn data_mut(&mut self) -> &mut [u8] {
        let start = self.start;
        self.buf.get_mut(start..).unwrap_or_default()
    }

    fn prepend(&mut self, len: usize) -> Option<&mut [u8]> {
        let start = self.start.checked_sub(len)?;
        self.start = start;
        self.buf.get_mut(start..start.checked_add(len)?)
    }

    fn adj(&mut self, len: usize) -> bool {
        match self.start.checked_add(len) {
            Some(s) if s <= self.buf.len() => {
                self.start = s;
                true
            }
            _ => false,
        }
    }

    fn truncate(&mut self, len: usize) -> bool {
        match self.start.checked_add(len) {
            Some(end) if end <= self.buf.len() => {
                self.buf.truncate(end);
                true
            }
            _ => false,
        }
    }

    fn narrow(&mut self, start: usize, len: usize) -> bool {
        let Some(s) = self.start.checked_add(start) else {
            return false;
        };
        match s.checked_add(len) {
            Some(end) if end <= self.buf.len() => {
                self.start = s;
                self.buf.truncate(end);
                true
            }
            _ => false,
        }
    }

    fn append(&mut self, len: usize) -> bool {
        self.buf.resize(self.buf.len().saturating_add(len), 0);
        true
    }

    fn rss_hash(&self) -> Option<u32> {
        self.rss
    }

    fn rx_vlan(&self) -> Option<u16> {
        self.vlan
    }

    fn request_offload(&mut self, o: Offload) {
        self.offload = Some(o);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vec_frame_grows_and_shrinks_at_the_front() {
        let mut f = VecFrame::new(b"inner");
        f.prepend(3).unwrap().copy_from_slice(b"hd:");
        assert_eq!(f.data(), b"hd:inner");
        assert!(f.adj(3));
        assert!(f.truncate(3));
        assert_eq!(f.data(), b"inn");
        assert!(f.prepend(VecFrame::HEADROOM + 1).is_none());
        assert!(!f.adj(4));
    }

    #[test]
    fn vec_frame_narrows_to_a_window() {
        let mut f = VecFrame::new(b"outer:inner..");
        assert!(!f.narrow(6, 8), "past the end");
        assert_eq!(
            f.data(),
            b"outer:inner..",
            "a failed narrow changes nothing"
        );
        assert!(f.narrow(6, 5));
        assert_eq!(f.data(), b"inner");
        assert!(f.narrow(0, 5));
        assert!(!f.narrow(usize::MAX, 1));
    }
}
