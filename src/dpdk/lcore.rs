//! Logical cores: which ones EAL was given, and running work on them.

use std::ffi::c_void;
use std::fmt;

use super::eal::Eal;
use super::error::{check, DpdkError};

/// An EAL logical core id (as given to `-l`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LcoreId(pub u32);

impl fmt::Debug for LcoreId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lcore{}", self.0)
    }
}

impl fmt::Display for LcoreId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl LcoreId {
    /// The NUMA socket the core sits on.
    pub fn socket(self) -> i32 {
        // SAFETY: a lookup in EAL's lcore table; any id is accepted.
        let s = unsafe { dpdk_sys::rte_lcore_to_socket_id(self.0) };
        i32::try_from(s).unwrap_or(0)
    }

    /// The CPU this lcore is pinned to (lcore ids and CPU ids differ with `--lcores`).
    pub fn cpu(self) -> Option<usize> {
        // SAFETY: a lookup in EAL's lcore table; any id is accepted.
        let cpu = unsafe { dpdk_sys::rte_lcore_to_cpu_id(self.0 as i32) };
        usize::try_from(cpu).ok()
    }
}

/// The main lcore: where `main` runs and where vtepd keeps its management thread.
pub fn main_lcore(_eal: &Eal) -> LcoreId {
    // SAFETY: valid once EAL is initialised.
    LcoreId(unsafe { dpdk_sys::rte_get_main_lcore() })
}

/// Every enabled lcore except the main one, in id order: one worker each.
pub fn worker_lcores(_eal: &Eal) -> Vec<LcoreId> {
    let mut out = Vec::new();
    // SAFETY: iterating EAL's lcore table; -1 starts the walk, skip_main=1, wrap=0.
    let mut id = unsafe { dpdk_sys::rte_get_next_lcore(u32::MAX, 1, 0) };
    while id < dpdk_sys::RTE_MAX_LCORE {
        out.push(LcoreId(id));
        // SAFETY: as above.
        id = unsafe { dpdk_sys::rte_get_next_lcore(id, 1, 0) };
    }
    out
}

/// The lcore the calling thread runs on, if it is an EAL thread.
pub fn current() -> Option<LcoreId> {
    // SAFETY: reads a thread-local.
    let id = unsafe { dpdk_sys::rte_lcore_id() };
    (id < dpdk_sys::RTE_MAX_LCORE).then_some(LcoreId(id))
}

type Job = Box<dyn FnOnce() -> i32 + Send + 'static>;

extern "C" fn run_job(arg: *mut c_void) -> i32 {
    // SAFETY: `arg` is the Box<Job> leaked by `launch`, handed to exactly one lcore, which
    // takes it back here exactly once.
    let job = unsafe { Box::from_raw(arg.cast::<Job>()) };
    job()
}

/// A job running on a worker lcore.
#[derive(Debug)]
#[must_use = "a launched lcore must be waited for"]
pub struct Launched {
    lcore: LcoreId,
}

/// Runs `job` on `lcore` (which must be idle, and not the main lcore).
pub fn launch<F>(_eal: &Eal, lcore: LcoreId, job: F) -> Result<Launched, DpdkError>
where
    F: FnOnce() -> i32 + Send + 'static,
{
    let boxed: Box<Job> = Box::new(Box::new(job));
    let arg = Box::into_raw(boxed);
    // SAFETY: run_job matches lcore_function_t; `arg` stays valid until run_job reclaims it.
    let ret = unsafe { dpdk_sys::rte_eal_remote_launch(Some(run_job), arg.cast(), lcore.0) };
    if let Err(e) = check(ret, || format!("launch on lcore {}", lcore.0)) {
        // SAFETY: the launch failed, so the job was never handed over: reclaim and drop it.
        drop(unsafe { Box::from_raw(arg) });
        return Err(e);
    }
    Ok(Launched { lcore })
}

impl Launched {
    pub fn lcore(&self) -> LcoreId {
        self.lcore
    }

    /// Blocks until the job returns; gives its return value.
    pub fn wait(self) -> i32 {
        // SAFETY: waiting on an lcore we launched has no other preconditions.
        unsafe { dpdk_sys::rte_eal_wait_lcore(self.lcore.0) }
    }
}
