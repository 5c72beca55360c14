//! Packet-buffer pools.

use std::ffi::CString;
use std::ptr::NonNull;

use super::eal::Eal;
use super::error::DpdkError;
use super::mbuf::Mbuf;

/// Size of the data room of each mbuf: DPDK's default (2048 bytes + headroom) holds a full
/// 1500-byte frame plus the 70 bytes an IPv6 VXLAN encapsulation prepends.
pub const DEFAULT_DATA_ROOM: u16 = dpdk_sys::RTE_MBUF_DEFAULT_BUF_SIZE as u16;
/// Bytes reserved in front of received data: where outer headers are prepended.
pub const HEADROOM: u16 = dpdk_sys::RTE_PKTMBUF_HEADROOM as u16;

/// A pool of packet buffers (`rte_pktmbuf_pool_create`). The pool lives until EAL cleanup:
/// DPDK has no safe way to free a pool that ports may still hold buffers of.
#[derive(Debug, Clone, Copy)]
pub struct Mempool {
    raw: NonNull<dpdk_sys::rte_mempool>,
}

// SAFETY: DPDK mempools are multi-producer/multi-consumer safe (the default ring ops); the
// handle is a pointer to shared memory that lives until EAL cleanup.
unsafe impl Send for Mempool {}
// SAFETY: see Send; every operation through a shared handle is thread-safe in DPDK.
unsafe impl Sync for Mempool {}

impl Mempool {
    /// Creates a pool of `size` mbufs with a per-lcore cache of `cache` on NUMA `socket`.
    pub fn create(
        _eal: &Eal,
        name: &str,
        size: u32,
        cache: u32,
        data_room: u16,
        socket: i32,
    ) -> Result<Mempool, DpdkError> {
        let c_name = CString::new(name).map_err(|_| {
            DpdkError::new(format!("mempool name {name:?}"), super::Errno(libc::EINVAL))
        })?;
        // SAFETY: c_name is a valid C string for the call; EAL is initialised (witnessed by
        // `_eal`); DPDK copies the name.
        let raw = unsafe {
            dpdk_sys::rte_pktmbuf_pool_create(c_name.as_ptr(), size, cache, 0, data_room, socket)
        };
        NonNull::new(raw)
            .map(|raw| Mempool { raw })
            .ok_or_else(|| DpdkError::last(format!("create mempool {name} of {size} mbufs")))
    }

    pub(crate) fn as_ptr(&self) -> *mut dpdk_sys::rte_mempool {
        self.raw.as_ptr()
    }

    /// Allocates one packet buffer, or `None` when the pool is empty.
    #[inline]
    pub fn alloc(&self) -> Option<Mbuf> {
        // SAFETY: the pool pointer is valid for the life of the process.
        let m = unsafe { dpdk_sys::rte_pktmbuf_alloc(self.raw.as_ptr()) };
        // SAFETY: a non-NULL result is a freshly allocated mbuf we now own.
        NonNull::new(m).map(|m| unsafe { Mbuf::from_raw(m) })
    }

    /// Buffers currently allocated from the pool (held by ports, workers or in flight).
    pub fn in_use(&self) -> u32 {
        // SAFETY: the pool pointer is valid; the count is read without side effects.
        unsafe { dpdk_sys::rte_mempool_in_use_count(self.raw.as_ptr()) }
    }

    /// Buffers available in the pool, caches included.
    pub fn available(&self) -> u32 {
        // SAFETY: as for `in_use`.
        unsafe { dpdk_sys::rte_mempool_avail_count(self.raw.as_ptr()) }
    }

    /// The name the pool was created with.
    pub fn name(&self) -> String {
        // SAFETY: the pool pointer is valid; `name` is a NUL-terminated array inside the
        // pool header, written once at creation.
        let name = unsafe { std::ffi::CStr::from_ptr((*self.raw.as_ptr()).name.as_ptr()) };
        name.to_string_lossy().into_owned()
    }

    /// The pool's total size.
    pub fn capacity(&self) -> u32 {
        // SAFETY: the pool pointer is valid and `size` is set at creation, never changed.
        unsafe { (*self.raw.as_ptr()).size }
    }
}
