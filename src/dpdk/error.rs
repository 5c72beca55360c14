//! Typed errors from DPDK return codes and `rte_errno`.

use std::ffi::CStr;
use std::fmt;

/// A DPDK error number (`rte_errno`, or the negated return value of a call).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    /// The calling thread's `rte_errno`, which DPDK sets when a call returns NULL or -1.
    pub fn last() -> Self {
        // SAFETY: the shim reads a thread-local integer; it has no preconditions.
        Errno(unsafe { dpdk_sys::vtepd_rte_errno() })
    }

    /// DPDK's own text for this error (covers DPDK's private codes as well as libc's).
    pub fn describe(self) -> String {
        // SAFETY: rte_strerror returns a pointer to a static or thread-local NUL-terminated
        // string, valid until the next call on this thread; it is copied out at once.
        let text = unsafe { CStr::from_ptr(dpdk_sys::rte_strerror(self.0)) };
        text.to_string_lossy().into_owned()
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Errno({}: {})", self.0, self.describe())
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// A failed DPDK call: what was being done, and DPDK's reason.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{op}: {errno}")]
pub struct DpdkError {
    pub op: String,
    pub errno: Errno,
}

impl DpdkError {
    #[cold]
    pub fn new(op: impl Into<String>, errno: Errno) -> Self {
        DpdkError {
            op: op.into(),
            errno,
        }
    }

    /// For calls that return NULL or -1 and leave the reason in `rte_errno`.
    #[cold]
    pub fn last(op: impl Into<String>) -> Self {
        Self::new(op, Errno::last())
    }
}

/// Maps DPDK's "negative errno on failure, else a count" convention to a `Result`.
pub(crate) fn check(ret: i32, op: impl FnOnce() -> String) -> Result<u32, DpdkError> {
    if ret >= 0 {
        Ok(ret.unsigned_abs())
    } else {
        Err(DpdkError::new(op(), Errno(-ret)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_return_is_an_error_with_its_errno() {
        let err = check(-libc::ENODEV, || "configure port 3".into()).unwrap_err();
        assert_eq!(err.errno, Errno(libc::ENODEV));
        assert!(err.to_string().starts_with("configure port 3: "));
    }

    #[test]
    fn non_negative_return_is_a_count() {
        assert_eq!(check(7, || unreachable!()).unwrap(), 7);
    }

    #[test]
    fn errno_text_comes_from_dpdk() {
        assert_eq!(Errno(libc::EINVAL).describe(), "Invalid argument");
    }
}
