//! The Environment Abstraction Layer: initialised once per process, cleaned up on drop.

use std::ffi::{c_char, CString};
use std::sync::atomic::{AtomicBool, Ordering};

use super::error::{DpdkError, Errno};

static INITIALISED: AtomicBool = AtomicBool::new(false);

/// Why EAL did not start.
#[derive(Debug, thiserror::Error)]
pub enum EalError {
    #[error("EAL can be initialised only once per process")]
    AlreadyInitialised,
    #[error("EAL argument {0:?} contains a NUL byte")]
    NulInArgument(String),
    #[error("unexpected argument {0:?} before `--` (application options go after `--`)")]
    StrayArgument(String),
    /// EAL refused its arguments (it has already printed its usage or the reason).
    #[error("bad EAL arguments: {0}")]
    BadArguments(Errno),
    #[error(transparent)]
    Init(DpdkError),
}

impl EalError {
    /// True when the fault lies in what the user typed, not in the machine.
    pub fn is_usage_error(&self) -> bool {
        !matches!(self, EalError::AlreadyInitialised | EalError::Init(_))
    }
}

/// Splits `argv` at the first `--`: `(program + EAL arguments, application arguments)`.
pub fn split_args(argv: &[String]) -> (Vec<String>, Vec<String>) {
    match argv.iter().position(|a| a == "--") {
        Some(at) => (argv[..at].to_vec(), argv[at + 1..].to_vec()),
        None => (argv.to_vec(), Vec::new()),
    }
}

/// Proof that EAL is initialised. Dropping it runs `rte_eal_cleanup`, so it must outlive every
/// port, mempool and lcore the process uses.
#[derive(Debug)]
pub struct Eal {
    _private: (),
}

impl Eal {
    /// Initialises EAL from `eal_args` (program name first, no application arguments).
    pub fn init(eal_args: &[String]) -> Result<Eal, EalError> {
        if INITIALISED.swap(true, Ordering::SeqCst) {
            return Err(EalError::AlreadyInitialised);
        }
        let owned = eal_args
            .iter()
            .map(|a| CString::new(a.as_str()).map_err(|_| EalError::NulInArgument(a.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        // EAL keeps pointers into argv (e.g. the program name for its logs) for the lifetime
        // of the process, so the strings are deliberately leaked: this happens once.
        let mut argv: Vec<*mut c_char> = owned.into_iter().map(CString::into_raw).collect();
        let argc = i32::try_from(argv.len()).unwrap_or(i32::MAX);
        // SAFETY: argv holds argc valid, NUL-terminated, leaked strings; EAL may permute the
        // array, which we own and never read afterwards.
        let parsed = unsafe { dpdk_sys::rte_eal_init(argc, argv.as_mut_ptr()) };
        if parsed < 0 {
            let errno = Errno::last();
            return Err(match errno.0 {
                libc::EINVAL => EalError::BadArguments(errno),
                _ => EalError::Init(DpdkError::new("rte_eal_init", errno)),
            });
        }
        let consumed = usize::try_from(parsed).unwrap_or(0);
        if consumed + 1 < eal_args.len() {
            // EAL stops at the first argument it does not know as an option. Undo init so the
            // process can exit cleanly with a usage error.
            // SAFETY: EAL was initialised just above and nothing else uses it yet.
            unsafe { dpdk_sys::rte_eal_cleanup() };
            return Err(EalError::StrayArgument(eal_args[consumed + 1].clone()));
        }
        Ok(Eal { _private: () })
    }
}

impl Drop for Eal {
    fn drop(&mut self) {
        // SAFETY: EAL was initialised by `init`; every DPDK object is released by now because
        // the owners borrow or outlive-check against this guard in `main`.
        let ret = unsafe { dpdk_sys::rte_eal_cleanup() };
        if ret != 0 {
            tracing::warn!("rte_eal_cleanup failed: {}", Errno(-ret));
        }
    }
}

/// The DPDK library version this process runs against (which may differ from the build).
pub fn runtime_version() -> String {
    // SAFETY: rte_version returns a pointer to a static NUL-terminated string.
    let v = unsafe { std::ffi::CStr::from_ptr(dpdk_sys::rte_version()) };
    v.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn split_args_at_double_dash() {
        let (eal, app) = split_args(&strings(&["vtepd", "-l", "0-1", "--", "-c", "x.toml"]));
        assert_eq!(eal, strings(&["vtepd", "-l", "0-1"]));
        assert_eq!(app, strings(&["-c", "x.toml"]));
    }

    #[test]
    fn split_args_without_double_dash_gives_no_app_args() {
        let (eal, app) = split_args(&strings(&["vtepd", "-l", "0"]));
        assert_eq!(eal, strings(&["vtepd", "-l", "0"]));
        assert!(app.is_empty());
    }

    #[test]
    fn only_the_first_double_dash_splits() {
        let (_, app) = split_args(&strings(&["vtepd", "--", "-c", "--", "x"]));
        assert_eq!(app, strings(&["-c", "--", "x"]));
    }

    #[test]
    fn runtime_version_names_dpdk() {
        assert!(runtime_version().starts_with("DPDK"));
    }
}
