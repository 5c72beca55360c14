//! An owned packet buffer.

use std::fmt;
use std::ptr::NonNull;

use dpdk_sys::rte_mbuf;

use super::mempool::Mempool;

/// TX offload requests and RX results carried in `ol_flags` (DPDK's `RTE_MBUF_F_*` bits).
pub mod flags {
    pub const RX_VLAN_STRIPPED: u64 = dpdk_sys::RTE_MBUF_F_RX_VLAN_STRIPPED as u64;
    pub const RX_RSS_HASH: u64 = dpdk_sys::RTE_MBUF_F_RX_RSS_HASH as u64;
    pub const RX_IP_CKSUM_MASK: u64 = dpdk_sys::RTE_MBUF_F_RX_IP_CKSUM_MASK as u64;
    pub const RX_IP_CKSUM_GOOD: u64 = dpdk_sys::RTE_MBUF_F_RX_IP_CKSUM_GOOD as u64;
    pub const RX_IP_CKSUM_BAD: u64 = dpdk_sys::RTE_MBUF_F_RX_IP_CKSUM_BAD as u64;
    pub const RX_OUTER_L4_CKSUM_MASK: u64 = dpdk_sys::RTE_MBUF_F_RX_OUTER_L4_CKSUM_MASK as u64;
    pub const RX_OUTER_L4_CKSUM_GOOD: u64 = dpdk_sys::RTE_MBUF_F_RX_OUTER_L4_CKSUM_GOOD as u64;
    pub const RX_OUTER_L4_CKSUM_BAD: u64 = dpdk_sys::RTE_MBUF_F_RX_OUTER_L4_CKSUM_BAD as u64;
    pub const TX_VLAN: u64 = dpdk_sys::RTE_MBUF_F_TX_VLAN;
    pub const TX_IPV4: u64 = dpdk_sys::RTE_MBUF_F_TX_IPV4;
    pub const TX_IPV6: u64 = dpdk_sys::RTE_MBUF_F_TX_IPV6;
    pub const TX_IP_CKSUM: u64 = dpdk_sys::RTE_MBUF_F_TX_IP_CKSUM;
    pub const TX_TCP_CKSUM: u64 = dpdk_sys::RTE_MBUF_F_TX_TCP_CKSUM;
    pub const TX_UDP_CKSUM: u64 = dpdk_sys::RTE_MBUF_F_TX_UDP_CKSUM;
    pub const TX_TCP_SEG: u64 = dpdk_sys::RTE_MBUF_F_TX_TCP_SEG;
    pub const TX_OUTER_IPV4: u64 = dpdk_sys::RTE_MBUF_F_TX_OUTER_IPV4;
    pub const TX_OUTER_IPV6: u64 = dpdk_sys::RTE_MBUF_F_TX_OUTER_IPV6;
    pub const TX_OUTER_IP_CKSUM: u64 = dpdk_sys::RTE_MBUF_F_TX_OUTER_IP_CKSUM;
    pub const TX_OUTER_UDP_CKSUM: u64 = dpdk_sys::RTE_MBUF_F_TX_OUTER_UDP_CKSUM;
    pub const TX_TUNNEL_VXLAN: u64 = dpdk_sys::RTE_MBUF_F_TX_TUNNEL_VXLAN;
    pub const TX_TUNNEL_GRE: u64 = dpdk_sys::RTE_MBUF_F_TX_TUNNEL_GRE;
}

/// Header lengths the NIC (or librte_gso) needs for checksum and segmentation offloads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxOffload {
    pub outer_l2_len: u16,
    pub outer_l3_len: u16,
    /// For tunnels: outer L4 + tunnel header + inner Ethernet, as DPDK defines it.
    pub l2_len: u16,
    pub l3_len: u16,
    pub l4_len: u16,
    pub tso_segsz: u16,
}

/// One packet buffer, owned: freed back to its pool when dropped.
///
/// `repr(transparent)` over a non-null pointer: a slice of `Option<Mbuf>` has the layout of
/// DPDK's `struct rte_mbuf *[]`, which lets bursts be received straight into owned handles.
#[repr(transparent)]
pub struct Mbuf {
    raw: NonNull<rte_mbuf>,
}

// SAFETY: an mbuf is exclusively owned by this handle; moving ownership to another thread is
// how DPDK pipelines work (mempool frees are thread-safe).
unsafe impl Send for Mbuf {}

impl Mbuf {
    /// Takes ownership of a raw mbuf.
    ///
    /// # Safety
    /// `raw` must point to a valid mbuf that nothing else will free or use afterwards.
    #[inline(always)]
    pub(crate) unsafe fn from_raw(raw: NonNull<rte_mbuf>) -> Mbuf {
        Mbuf { raw }
    }

    /// Gives up ownership without freeing.
    #[inline(always)]
    pub(crate) fn into_raw(self) -> NonNull<rte_mbuf> {
        let raw = self.raw;
        std::mem::forget(self);
        raw
    }

    #[inline(always)]
    fn m(&self) -> &rte_mbuf {
        // SAFETY: we own a valid mbuf for as long as `self` lives.
        unsafe { self.raw.as_ref() }
    }

    #[inline(always)]
    fn m_mut(&mut self) -> &mut rte_mbuf {
        // SAFETY: we own a valid mbuf exclusively for as long as `self` lives.
        unsafe { self.raw.as_mut() }
    }

    /// The first segment's bytes (the whole packet when `is_contiguous`).
    #[inline(always)]
    pub fn data(&self) -> &[u8] {
        let m = self.m();
        // SAFETY: buf_addr + data_off .. + data_len lies inside the mbuf's data buffer, which
        // stays valid and unaliased-for-writes while we hold `&self`.
        unsafe {
            std::slice::from_raw_parts(
                m.buf_addr.cast::<u8>().add(usize::from(m.data_off)),
                usize::from(m.data_len),
            )
        }
    }

    /// The first segment's bytes, writable.
    ///
    /// The caller must not write into a buffer shared with a clone (`refcnt() > 1`), which
    /// vtepd never does: clones only ever get a private header segment chained in front.
    #[inline(always)]
    pub fn data_mut(&mut self) -> &mut [u8] {
        let m = self.m_mut();
        // SAFETY: as for `data`, and `&mut self` makes the access exclusive.
        unsafe {
            std::slice::from_raw_parts_mut(
                m.buf_addr.cast::<u8>().add(usize::from(m.data_off)),
                usize::from(m.data_len),
            )
        }
    }

    /// Total packet length over all segments.
    #[inline(always)]
    pub fn pkt_len(&self) -> u32 {
        self.m().pkt_len
    }

    /// Length of the first segment.
    #[inline(always)]
    pub fn data_len(&self) -> u16 {
        self.m().data_len
    }

    #[inline(always)]
    pub fn headroom(&self) -> u16 {
        self.m().data_off
    }

    #[inline(always)]
    pub fn tailroom(&self) -> u16 {
        let m = self.m();
        m.buf_len
            .saturating_sub(m.data_off)
            .saturating_sub(m.data_len)
    }

    #[inline(always)]
    pub fn nb_segs(&self) -> u16 {
        self.m().nb_segs
    }

    #[inline(always)]
    pub fn is_contiguous(&self) -> bool {
        self.m().nb_segs == 1
    }

    /// Grows the packet at the front by `len` bytes of headroom; returns the new bytes.
    /// Done in Rust rather than through `rte_pktmbuf_prepend` so it inlines into the pipeline.
    #[inline(always)]
    pub fn prepend(&mut self, len: u16) -> Option<&mut [u8]> {
        let m = self.m_mut();
        let data_off = m.data_off.checked_sub(len)?;
        let data_len = m.data_len.checked_add(len)?;
        let pkt_len = m.pkt_len.checked_add(u32::from(len))?;
        m.data_off = data_off;
        m.data_len = data_len;
        m.pkt_len = pkt_len;
        let data = self.data_mut();
        data.get_mut(..usize::from(len))
    }

    /// Removes `len` bytes from the front of the first segment.
    #[inline(always)]
    pub fn adj(&mut self, len: u16) -> bool {
        let m = self.m_mut();
        if len > m.data_len {
            return false;
        }
        m.data_off += len;
        m.data_len -= len;
        m.pkt_len = m.pkt_len.saturating_sub(u32::from(len));
        true
    }

    /// Keeps the `len` bytes at `start` of the first segment: `adj(start)`, then what is
    /// past `len` trimmed (single-segment packets only, unless nothing is past it), with one
    /// change of the lengths and none when it fails.
    #[inline(always)]
    pub fn narrow(&mut self, start: u16, len: u16) -> bool {
        let contiguous = self.is_contiguous();
        let m = self.m_mut();
        let Some(end) = start.checked_add(len) else {
            return false;
        };
        if end > m.data_len || (end < m.data_len && !contiguous) {
            return false;
        }
        let dropped = m.data_len - len;
        m.data_off += start;
        m.data_len = len;
        m.pkt_len = m.pkt_len.saturating_sub(u32::from(dropped));
        true
    }

    /// Grows the packet at the end by `len` bytes of tailroom (single-segment packets only).
    pub fn append(&mut self, len: u16) -> Option<&mut [u8]> {
        if !self.is_contiguous() || len > self.tailroom() {
            return None;
        }
        let m = self.m_mut();
        let old = usize::from(m.data_len);
        m.data_len += len;
        m.pkt_len += u32::from(len);
        self.data_mut().get_mut(old..)
    }

    /// Removes `len` bytes from the end (single-segment packets only).
    pub fn trim(&mut self, len: u16) -> bool {
        if !self.is_contiguous() || len > self.data_len() {
            return false;
        }
        let m = self.m_mut();
        m.data_len -= len;
        m.pkt_len -= u32::from(len);
        true
    }

    /// The port the packet was received on.
    #[inline(always)]
    pub fn port(&self) -> u16 {
        self.m().port
    }

    #[inline(always)]
    pub fn ol_flags(&self) -> u64 {
        self.m().ol_flags
    }

    #[inline(always)]
    pub fn set_ol_flags(&mut self, flags: u64) {
        self.m_mut().ol_flags = flags;
    }

    /// The RSS hash the NIC computed, when it did.
    #[inline(always)]
    pub fn rss_hash(&self) -> Option<u32> {
        let m = self.m();
        if m.ol_flags & flags::RX_RSS_HASH != 0 {
            // SAFETY: with RX_RSS_HASH set, the driver wrote the `rss` member of the union.
            Some(unsafe { m.__bindgen_anon_2.hash.rss })
        } else {
            None
        }
    }

    /// The NIC's verdict on the IPv4 header checksum: None when it did not check.
    #[inline(always)]
    pub fn rx_ip_checksum_ok(&self) -> Option<bool> {
        match self.m().ol_flags & flags::RX_IP_CKSUM_MASK {
            flags::RX_IP_CKSUM_GOOD => Some(true),
            flags::RX_IP_CKSUM_BAD => Some(false),
            _ => None,
        }
    }

    /// The NIC's verdict on a tunnel packet's outer UDP checksum: None when it did not check
    /// (DPDK's outer L4 flags; the plain L4 flags may describe the inner packet instead).
    #[inline(always)]
    pub fn rx_outer_l4_checksum_ok(&self) -> Option<bool> {
        match self.m().ol_flags & flags::RX_OUTER_L4_CKSUM_MASK {
            flags::RX_OUTER_L4_CKSUM_GOOD => Some(true),
            flags::RX_OUTER_L4_CKSUM_BAD => Some(false),
            _ => None,
        }
    }

    /// The 802.1Q TCI the NIC stripped on receive, if it stripped one.
    #[inline(always)]
    pub fn rx_vlan_stripped(&self) -> Option<u16> {
        let m = self.m();
        (m.ol_flags & flags::RX_VLAN_STRIPPED != 0).then_some(m.vlan_tci)
    }

    /// Asks the NIC to insert an 802.1Q tag with `tci` on transmit.
    #[inline(always)]
    pub fn request_vlan_insert(&mut self, tci: u16) {
        let m = self.m_mut();
        m.vlan_tci = tci;
        m.ol_flags |= flags::TX_VLAN;
    }

    /// Sets the header lengths used by checksum/TSO offloads (and librte_gso).
    #[inline(always)]
    pub fn set_tx_offload(&mut self, o: TxOffload) {
        // SAFETY: rte_mbuf_tx_offload only packs its arguments into a u64.
        let packed = unsafe {
            dpdk_sys::rte_mbuf_tx_offload(
                u64::from(o.l2_len),
                u64::from(o.l3_len),
                u64::from(o.l4_len),
                u64::from(o.tso_segsz),
                u64::from(o.outer_l3_len),
                u64::from(o.outer_l2_len),
                0,
            )
        };
        self.m_mut().__bindgen_anon_3.tx_offload = packed;
    }

    /// Reads back the offload lengths (for tests and GSO bookkeeping).
    pub fn tx_offload(&self) -> TxOffload {
        // SAFETY: the bitfield view of the union is always initialised (it is a u64).
        let b = unsafe { self.m().__bindgen_anon_3.__bindgen_anon_1 };
        // The bitfields are at most 16 bits wide by DPDK's definition.
        let f = |v: u64| u16::try_from(v).unwrap_or(u16::MAX);
        TxOffload {
            l2_len: f(b.l2_len()),
            l3_len: f(b.l3_len()),
            l4_len: f(b.l4_len()),
            tso_segsz: f(b.tso_segsz()),
            outer_l3_len: f(b.outer_l3_len()),
            outer_l2_len: f(b.outer_l2_len()),
        }
    }

    /// How many handles (clones) share this buffer's data.
    pub fn refcnt(&self) -> u16 {
        // SAFETY: reads the refcount with DPDK's own atomic accessor.
        unsafe { dpdk_sys::rte_mbuf_refcnt_read(self.raw.as_ptr()) }
    }

    /// An indirect buffer from `pool` that shares this packet's data (zero copy). Used to
    /// replicate one frame to several destinations: each copy gets its own header segment.
    #[inline]
    pub fn clone_indirect(&self, pool: &Mempool) -> Option<Mbuf> {
        // SAFETY: self is a valid mbuf; rte_pktmbuf_clone attaches a new indirect mbuf and
        // bumps the refcount of the data it points to.
        let m = unsafe { dpdk_sys::rte_pktmbuf_clone(self.raw.as_ptr(), pool.as_ptr()) };
        // SAFETY: a non-NULL result is a new mbuf we own.
        NonNull::new(m).map(|m| unsafe { Mbuf::from_raw(m) })
    }

    /// Appends `tail` as further segments of this packet. On failure (too many segments)
    /// both are handed back.
    #[inline]
    pub fn chain(self, tail: Mbuf) -> Result<Mbuf, (Mbuf, Mbuf)> {
        // SAFETY: both mbufs are valid and owned; on success the head owns the tail.
        let ret = unsafe { dpdk_sys::rte_pktmbuf_chain(self.raw.as_ptr(), tail.raw.as_ptr()) };
        if ret == 0 {
            std::mem::forget(tail);
            Ok(self)
        } else {
            Err((self, tail))
        }
    }

    /// Copies the whole packet (all segments) into `out`, returning the bytes copied.
    pub fn copy_to(&self, out: &mut [u8]) -> usize {
        let len = out.len().min(self.pkt_len() as usize);
        let Ok(len32) = u32::try_from(len) else {
            return 0;
        };
        // SAFETY: reads at most `len` bytes of the packet into `out`, which has room for them.
        let src = unsafe {
            dpdk_sys::rte_pktmbuf_read(self.raw.as_ptr(), 0, len32, out.as_mut_ptr().cast())
        };
        if src.is_null() {
            return 0;
        }
        if src.cast::<u8>() != out.as_mut_ptr() {
            // SAFETY: rte_pktmbuf_read returned a pointer to `len` contiguous packet bytes.
            let bytes = unsafe { std::slice::from_raw_parts(src.cast::<u8>(), len) };
            out[..len].copy_from_slice(bytes);
        }
        len
    }

    /// The first segment's bytes, writable, and the bytes of every further segment. For
    /// chained packets whose first segment is a private header (flood copies, GSO segments).
    pub fn head_and_tail(&mut self) -> (&mut [u8], Segments<'_>) {
        let next = self.m().next;
        let head = self.data_mut();
        // SAFETY: the head's bytes and the following segments are distinct buffers; the
        // borrow of `self` covers both.
        let head = unsafe { std::slice::from_raw_parts_mut(head.as_mut_ptr(), head.len()) };
        (
            head,
            Segments {
                next,
                _owner: std::marker::PhantomData,
            },
        )
    }

    /// Prepares checksum fields as the NIC's TSO/checksum offloads expect (pseudo-header
    /// sums), according to the mbuf's offload flags.
    pub fn prepare_tx_offload(&mut self) -> bool {
        let flags = self.ol_flags();
        // SAFETY: the mbuf is valid and its headers are in its first segment with the lengths
        // its tx_offload fields state (set by the pipeline).
        unsafe { dpdk_sys::rte_net_intel_cksum_flags_prepare(self.raw.as_ptr(), flags) == 0 }
    }

    /// Hints the CPU to fetch the packet's first cache line. The intrinsic rather than
    /// DPDK's `rte_prefetch0`, which bindgen can only reach through an out-of-line wrapper.
    #[inline(always)]
    pub fn prefetch_data(&self) {
        let m = self.m();
        let addr = m
            .buf_addr
            .cast::<u8>()
            .wrapping_add(usize::from(m.data_off));
        #[cfg(target_arch = "x86_64")]
        // SAFETY: prefetching is a hint that never faults, whatever the address.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(addr.cast());
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = addr;
    }
}

/// The segments after the first of a chained packet.
#[derive(Debug)]
pub struct Segments<'a> {
    next: *mut rte_mbuf,
    _owner: std::marker::PhantomData<&'a Mbuf>,
}

impl<'a> Iterator for Segments<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let seg = NonNull::new(self.next)?;
        // SAFETY: a segment of a chain the borrowed Mbuf owns; valid while the borrow lasts.
        let m = unsafe { seg.as_ref() };
        self.next = m.next;
        // SAFETY: the segment's data lies within its buffer (DPDK invariant).
        Some(unsafe {
            std::slice::from_raw_parts(
                m.buf_addr.cast::<u8>().add(usize::from(m.data_off)),
                usize::from(m.data_len),
            )
        })
    }
}

impl Drop for Mbuf {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: we own the mbuf (and its chain); nothing uses it after this.
        unsafe { dpdk_sys::rte_pktmbuf_free(self.raw.as_ptr()) }
    }
}

impl fmt::Debug for Mbuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mbuf")
            .field("pkt_len", &self.pkt_len())
            .field("nb_segs", &self.nb_segs())
            .field("port", &self.port())
            .field("ol_flags", &format_args!("{:#x}", self.ol_flags()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An mbuf header over a heap buffer, built by hand: exercises the length bookkeeping
    /// without EAL. Never dropped as an `Mbuf` (it has no pool), only released with `into_raw`.
    struct FakeMbuf {
        _buf: Vec<u8>,
        raw: Box<rte_mbuf>,
    }

    impl FakeMbuf {
        fn new(headroom: u16, data: &[u8], buf_len: u16) -> FakeMbuf {
            let mut buf = vec![0u8; usize::from(buf_len)];
            let start = usize::from(headroom);
            buf[start..start + data.len()].copy_from_slice(data);
            let mut raw: Box<rte_mbuf> = Box::default();
            raw.buf_addr = buf.as_mut_ptr().cast();
            raw.buf_len = buf_len;
            raw.data_off = headroom;
            raw.data_len = data.len() as u16;
            raw.pkt_len = data.len() as u32;
            raw.nb_segs = 1;
            FakeMbuf { _buf: buf, raw }
        }

        fn with<R>(&mut self, f: impl FnOnce(&mut Mbuf) -> R) -> R {
            // SAFETY: the header and its buffer live in `self` for the whole call, and the
            // handle is released with into_raw (never freed through DPDK).
            let mut m = unsafe { Mbuf::from_raw(NonNull::from(&mut *self.raw)) };
            let r = f(&mut m);
            let _ = m.into_raw();
            r
        }
    }

    #[test]
    fn option_mbuf_is_a_pointer() {
        assert_eq!(
            std::mem::size_of::<Option<Mbuf>>(),
            std::mem::size_of::<*mut rte_mbuf>()
        );
    }

    #[test]
    fn prepend_and_adj_move_the_data_start() {
        let mut f = FakeMbuf::new(16, b"payload", 64);
        f.with(|m| {
            assert_eq!(m.data(), b"payload");
            assert_eq!(m.headroom(), 16);
            m.prepend(4).unwrap().copy_from_slice(b"hdr:");
            assert_eq!(m.data(), b"hdr:payload");
            assert_eq!(m.pkt_len(), 11);
            assert!(m.prepend(13).is_none(), "only 12 bytes of headroom left");
            assert_eq!(m.data(), b"hdr:payload", "a failed prepend changes nothing");
            assert!(m.adj(4));
            assert_eq!(m.data(), b"payload");
            assert!(!m.adj(8));
        });
    }

    #[test]
    fn narrow_keeps_a_window_of_the_data() {
        let mut f = FakeMbuf::new(16, b"outer:inner..", 64);
        f.with(|m| {
            assert!(!m.narrow(6, 8), "past the end");
            assert!(!m.narrow(u16::MAX, 2));
            assert_eq!(
                m.data(),
                b"outer:inner..",
                "a failed narrow changes nothing"
            );
            assert!(m.narrow(6, 5));
            assert_eq!(m.data(), b"inner");
            assert_eq!((m.pkt_len(), m.headroom()), (5, 22));
        });
    }

    #[test]
    fn append_and_trim_move_the_data_end() {
        let mut f = FakeMbuf::new(16, b"abc", 24);
        f.with(|m| {
            assert_eq!(m.tailroom(), 5);
            m.append(2).unwrap().copy_from_slice(b"de");
            assert_eq!(m.data(), b"abcde");
            assert!(m.append(4).is_none());
            assert!(m.trim(3));
            assert_eq!(m.data(), b"ab");
            assert!(!m.trim(3));
        });
    }

    #[test]
    fn tx_offload_lengths_round_trip() {
        let mut f = FakeMbuf::new(0, b"", 8);
        let o = TxOffload {
            outer_l2_len: 14,
            outer_l3_len: 20,
            l2_len: 30,
            l3_len: 20,
            l4_len: 20,
            tso_segsz: 1400,
        };
        assert_eq!(
            f.with(|m| {
                m.set_tx_offload(o);
                m.tx_offload()
            }),
            o
        );
    }

    #[test]
    fn rss_hash_only_when_flagged() {
        let mut f = FakeMbuf::new(0, b"", 8);
        f.raw.__bindgen_anon_2.hash.rss = 0xdead_beef;
        assert_eq!(f.with(|m| m.rss_hash()), None);
        f.raw.ol_flags = flags::RX_RSS_HASH;
        assert_eq!(f.with(|m| m.rss_hash()), Some(0xdead_beef));
    }
}
