//! Memory for the data plane's large lookup tables: one anonymous mapping per table, aligned
//! to 2 MiB and advised to the kernel as transparent-huge-page memory, then touched page by
//! page so that it is all present before a worker looks anything up.
//!
//! Why not `Box<[T]>`: a table of 1M MAC entries spans 32 MiB; in 4 KiB pages nearly every
//! lookup of a random MAC also misses the TLB and walks the page tables, which prefetching
//! hides only partly (criterion `burst/vxlan_decap/1M`: 223 → 160 cycles per packet with huge
//! pages; docs/PERFORMANCE.md). And a fresh heap allocation faults its pages in on first
//! write, which would be a worker's first learned MAC in that page. DPDK's own hugepage
//! memory is not used because tables also live outside EAL (tests, benchmarks, the fuzz
//! harness) and must not depend on `--no-huge`; `memmap2` would hand out bytes, to be cast to
//! the slot type on every access.
//!
//! Where the kernel has no transparent huge pages (or they are switched off), the mapping
//! stays in 4 KiB pages: only slower, never wrong.

use std::ptr::NonNull;

use zerocopy::FromZeros;

/// A transparent huge page.
const HUGE_PAGE: usize = 2 << 20;
/// Tables smaller than this stay in ordinary pages: a huge page would mostly hold nothing.
const HUGE_FROM: usize = HUGE_PAGE;
const PAGE: usize = 4096;

/// A fixed-length, zero-initialised array of `T` in its own mapping (see the module docs).
pub struct TableMemory<T> {
    ptr: NonNull<T>,
    len: usize,
    /// The mapping's length in bytes (a whole number of pages).
    mapped: usize,
}

// SAFETY: TableMemory owns its elements exclusively, like Box<[T]>; sending or sharing it is
// sound exactly when sending or sharing the elements is.
unsafe impl<T: Send> Send for TableMemory<T> {}
// SAFETY: as above: `&TableMemory<T>` only gives out `&[T]`.
unsafe impl<T: Sync> Sync for TableMemory<T> {}

impl<T: FromZeros> TableMemory<T> {
    /// `len` zeroed elements, every page present. Panics only where `Box<[T]>` would abort:
    /// when the memory cannot be had.
    pub fn zeroed(len: usize) -> TableMemory<T> {
        assert!(
            std::mem::align_of::<T>() <= PAGE,
            "table element alignment beyond a page"
        );
        let bytes = len
            .checked_mul(std::mem::size_of::<T>())
            .expect("table size overflows");
        let huge = bytes >= HUGE_FROM;
        let unit = if huge { HUGE_PAGE } else { PAGE };
        // At least one page, so that the pointer is real even for an empty table.
        let mapped = bytes.max(1).div_ceil(unit).saturating_mul(unit);
        let ptr = if huge {
            map_aligned(mapped, HUGE_PAGE)
        } else {
            map(mapped)
        };
        let Some(ptr) = ptr else {
            std::alloc::handle_alloc_error(
                std::alloc::Layout::from_size_align(mapped, unit)
                    .unwrap_or(std::alloc::Layout::new::<T>()),
            );
        };
        if huge {
            // SAFETY: `ptr..ptr+mapped` is the mapping just made; the advice changes how it
            // is backed, never its contents. A kernel without THP refuses it: 4 KiB pages.
            let _ = unsafe { libc::madvise(ptr.as_ptr().cast(), mapped, libc::MADV_HUGEPAGE) };
        }
        // Fault every page in now, on the thread building the table, rather than on a
        // worker's first write into it. Writing a zero leaves the contents as they were.
        let base = ptr.as_ptr().cast::<u8>();
        let mut at = 0;
        while at < mapped {
            // SAFETY: `at < mapped`: inside the mapping, which is readable and writable.
            unsafe { base.add(at).write_volatile(0) };
            at += PAGE;
        }
        TableMemory {
            ptr: ptr.cast(),
            len,
            mapped,
        }
    }
}

impl<T> std::ops::Deref for TableMemory<T> {
    type Target = [T];

    #[inline(always)]
    fn deref(&self) -> &[T] {
        // SAFETY: `ptr` points to `len` initialised `T` (zero is a valid T: FromZeros) in a
        // mapping this value owns until drop; the shared borrow of self keeps it alive and
        // forbids writers.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T> std::ops::DerefMut for TableMemory<T> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`, and the exclusive borrow of self makes this the only access.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl<T> Drop for TableMemory<T> {
    fn drop(&mut self) {
        // SAFETY: the mapping was made by `zeroed` with exactly this address and length and
        // is unmapped once; the elements need no drop (FromZeros types are plain data).
        let _ = unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.mapped) };
    }
}

impl<T> std::fmt::Debug for TableMemory<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableMemory")
            .field("len", &self.len)
            .field("mapped", &self.mapped)
            .finish()
    }
}

/// A private anonymous read/write mapping of `len` bytes (zero-filled by the kernel).
fn map(len: usize) -> Option<NonNull<u8>> {
    // SAFETY: a new anonymous mapping at an address the kernel picks; nothing existing is
    // touched.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return None;
    }
    NonNull::new(p.cast())
}

/// `map`, at an address that is a multiple of `align`: maps `align` bytes more and gives the
/// unaligned head and the tail back.
fn map_aligned(len: usize, align: usize) -> Option<NonNull<u8>> {
    let total = len.checked_add(align)?;
    let raw = map(total)?;
    let addr = raw.as_ptr() as usize;
    let head = addr.next_multiple_of(align) - addr;
    let tail = total - head - len;
    // SAFETY: both ranges lie inside the mapping just made, outside the part kept.
    unsafe {
        if head > 0 {
            libc::munmap(raw.as_ptr().cast(), head);
        }
        if tail > 0 {
            libc::munmap(raw.as_ptr().add(head + len).cast(), tail);
        }
    }
    // SAFETY: `head < align <= total`: inside the original mapping.
    NonNull::new(unsafe { raw.as_ptr().add(head) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_large_tables_are_zeroed_writable_and_sized() {
        for len in [0usize, 1, 100, 300_000] {
            let mut t = TableMemory::<u64>::zeroed(len);
            assert_eq!(t.len(), len);
            assert!(t.iter().all(|v| *v == 0));
            if let Some(last) = t.last_mut() {
                *last = 7;
            }
            assert_eq!(t.iter().sum::<u64>(), if len > 0 { 7 } else { 0 });
        }
    }

    #[test]
    fn large_tables_start_on_a_huge_page_boundary() {
        let t = TableMemory::<[u64; 2]>::zeroed(HUGE_PAGE / 16 * 3);
        assert_eq!(t.as_ptr() as usize % HUGE_PAGE, 0);
        assert_eq!(t.mapped, 3 * HUGE_PAGE);
    }
}
