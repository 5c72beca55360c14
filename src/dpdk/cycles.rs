//! The time-stamp counter: the data plane's clock.

/// Current TSC value. Cheap enough to read once per burst.
#[inline(always)]
pub fn tsc() -> u64 {
    // The intrinsic inlines; DPDK's rte_rdtsc is only reachable through a wrapper call.
    #[cfg(target_arch = "x86_64")]
    // SAFETY: reads the CPU's time-stamp counter; no memory is touched.
    unsafe {
        std::arch::x86_64::_rdtsc()
    }
    #[cfg(not(target_arch = "x86_64"))]
    // SAFETY: as above, through DPDK.
    unsafe {
        dpdk_sys::rte_rdtsc()
    }
}

/// TSC ticks per second, as measured by EAL at start (0 before EAL is up).
pub fn tsc_hz() -> u64 {
    // SAFETY: returns a value EAL computed at init; reading it has no preconditions.
    unsafe { dpdk_sys::rte_get_tsc_hz() }
}

/// Hints the CPU to bring the cache line holding `value` closer (for lookups that follow a
/// burst later). Never faults; a no-op on architectures without the intrinsic here.
#[inline(always)]
pub fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetching is a hint that never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
            (value as *const T).cast(),
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}
