//! The time-stamp counter: the data plane's clock.

/// Current TSC value. Cheap enough to read once per burst.
#[inline(always)]
pub fn tsc() -> u64 {
    // SAFETY: reads the CPU's time-stamp counter; no memory is touched.
    unsafe { dpdk_sys::rte_rdtsc() }
}

/// TSC ticks per second, as measured by EAL at start (0 before EAL is up).
pub fn tsc_hz() -> u64 {
    // SAFETY: returns a value EAL computed at init; reading it has no preconditions.
    unsafe { dpdk_sys::rte_get_tsc_hz() }
}
