//! Commands in DPDK's telemetry socket (`dpdk-telemetry.py`), next to DPDK's own
//! `/ethdev/stats`.
//!
//! DPDK calls a C callback on its telemetry thread; here each command maps to a Rust closure
//! returning a `TelValue`, which is written into DPDK's `rte_tel_data`. DPDK's limits apply:
//! one level of nesting (a dictionary or list of scalars inside the top one), 256 dictionary
//! entries, 512 list entries, 127-byte names and strings; what exceeds them is cut.

use std::collections::HashMap;
use std::ffi::{c_char, c_int, CStr, CString};
use std::sync::{Mutex, OnceLock};

use super::eal::Eal;
use super::error::{check, DpdkError, Errno};

/// A value for the telemetry client.
#[derive(Debug, Clone, PartialEq)]
pub enum TelValue {
    U64(u64),
    Str(String),
    Dict(Vec<(String, TelValue)>),
    List(Vec<TelValue>),
}

type Handler = Box<dyn Fn(&str) -> TelValue + Send + Sync>;

fn handlers() -> &'static Mutex<HashMap<String, Handler>> {
    static HANDLERS: OnceLock<Mutex<HashMap<String, Handler>>> = OnceLock::new();
    HANDLERS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Registers `cmd` (like "/vtepd/stats") with `help`; `handler` gets the parameters (the text
/// after the comma, possibly empty).
pub fn register<F>(_eal: &Eal, cmd: &str, help: &str, handler: F) -> Result<(), DpdkError>
where
    F: Fn(&str) -> TelValue + Send + Sync + 'static,
{
    let bad = || DpdkError::new(format!("telemetry command {cmd:?}"), Errno(libc::EINVAL));
    let c_cmd = CString::new(cmd).map_err(|_| bad())?;
    let c_help = CString::new(help).map_err(|_| bad())?;
    handlers()
        .lock()
        .map_err(|_| bad())?
        .insert(cmd.to_owned(), Box::new(handler));
    // DPDK keeps the strings for the life of the process: leaked on purpose (a few commands,
    // registered once).
    let (c_cmd, c_help) = (c_cmd.into_raw(), c_help.into_raw());
    // SAFETY: both strings are valid, NUL-terminated and never freed; `dispatch` matches
    // telemetry_cb and only touches the data DPDK hands it.
    let ret = unsafe { dpdk_sys::rte_telemetry_register_cmd(c_cmd, Some(dispatch), c_help) };
    check(ret, || format!("register telemetry command {cmd}")).map(|_| ())
}

unsafe extern "C" fn dispatch(
    cmd: *const c_char,
    params: *const c_char,
    data: *mut dpdk_sys::rte_tel_data,
) -> c_int {
    if cmd.is_null() || data.is_null() {
        return -libc::EINVAL;
    }
    // SAFETY: DPDK passes NUL-terminated strings valid for the call (params may be NULL).
    let cmd = unsafe { CStr::from_ptr(cmd) }
        .to_string_lossy()
        .into_owned();
    let params = if params.is_null() {
        String::new()
    } else {
        // SAFETY: as above.
        unsafe { CStr::from_ptr(params) }
            .to_string_lossy()
            .into_owned()
    };
    let value = {
        let Ok(map) = handlers().lock() else {
            return -libc::EIO;
        };
        match map.get(&cmd) {
            Some(h) => h(&params),
            None => return -libc::ENOENT,
        }
    };
    // SAFETY: `data` is the response object DPDK allocated for this call.
    unsafe { write_top(data, &value) };
    0
}

/// A dictionary key as DPDK accepts it: `[A-Za-z0-9_/]`, other characters become `_` (a PCI
/// address `0000:3b:00.0` is keyed `0000_3b_00_0`).
fn c_name(s: &str) -> CString {
    let name: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '/' {
                c
            } else {
                '_'
            }
        })
        .collect();
    c_text(&name)
}

fn c_text(s: &str) -> CString {
    let cut: String = s
        .chars()
        .filter(|c| *c != '\0')
        .take(dpdk_sys::RTE_TEL_MAX_STRING_LEN as usize - 1)
        .collect();
    CString::new(cut).unwrap_or_default()
}

/// Writes the top-level value. Nested dictionaries and lists become containers; anything
/// deeper is written as its text.
///
/// # Safety
/// `d` must be a valid, empty `rte_tel_data` owned by the current telemetry call.
unsafe fn write_top(d: *mut dpdk_sys::rte_tel_data, v: &TelValue) {
    match v {
        TelValue::U64(n) => {
            // SAFETY: the caller's contract on `d`.
            unsafe {
                dpdk_sys::rte_tel_data_start_dict(d);
                dpdk_sys::rte_tel_data_add_dict_u64(d, c_name("value").as_ptr(), *n);
            }
        }
        TelValue::Str(s) => {
            // SAFETY: the caller's contract on `d`; the string is copied by DPDK.
            unsafe { dpdk_sys::rte_tel_data_string(d, c_text(s).as_ptr()) };
        }
        TelValue::Dict(entries) => {
            // SAFETY: the caller's contract on `d`.
            unsafe { dpdk_sys::rte_tel_data_start_dict(d) };
            for (k, v) in entries
                .iter()
                .take(dpdk_sys::RTE_TEL_MAX_DICT_ENTRIES as usize)
            {
                let name = c_name(k);
                match v {
                    // SAFETY: a dict started on `d`; DPDK copies name and value.
                    TelValue::U64(n) => unsafe {
                        dpdk_sys::rte_tel_data_add_dict_u64(d, name.as_ptr(), *n);
                    },
                    // SAFETY: as above.
                    TelValue::Str(s) => unsafe {
                        dpdk_sys::rte_tel_data_add_dict_string(
                            d,
                            name.as_ptr(),
                            c_text(s).as_ptr(),
                        );
                    },
                    nested => {
                        // SAFETY: a fresh container filled with scalars only, then handed to
                        // DPDK, which takes ownership (keep = 0).
                        unsafe {
                            let c = dpdk_sys::rte_tel_data_alloc();
                            if !c.is_null() {
                                write_flat(c, nested);
                                dpdk_sys::rte_tel_data_add_dict_container(d, name.as_ptr(), c, 0);
                            }
                        }
                    }
                }
            }
        }
        TelValue::List(items) => {
            let kind = match items.first() {
                Some(TelValue::U64(_)) => dpdk_sys::RTE_TEL_U64_VAL,
                Some(TelValue::Str(_)) | None => dpdk_sys::RTE_TEL_STRING_VAL,
                Some(_) => dpdk_sys::RTE_TEL_CONTAINER,
            };
            // SAFETY: the caller's contract on `d`.
            unsafe { dpdk_sys::rte_tel_data_start_array(d, kind) };
            for item in items
                .iter()
                .take(dpdk_sys::RTE_TEL_MAX_ARRAY_ENTRIES as usize)
            {
                match (kind, item) {
                    // SAFETY: an array of that type started on `d`.
                    (dpdk_sys::RTE_TEL_U64_VAL, TelValue::U64(n)) => unsafe {
                        dpdk_sys::rte_tel_data_add_array_u64(d, *n);
                    },
                    // SAFETY: as above.
                    (dpdk_sys::RTE_TEL_STRING_VAL, TelValue::Str(s)) => unsafe {
                        dpdk_sys::rte_tel_data_add_array_string(d, c_text(s).as_ptr());
                    },
                    (
                        dpdk_sys::RTE_TEL_CONTAINER,
                        nested @ (TelValue::Dict(_) | TelValue::List(_)),
                    ) => {
                        // SAFETY: as for dictionary containers.
                        unsafe {
                            let c = dpdk_sys::rte_tel_data_alloc();
                            if !c.is_null() {
                                write_flat(c, nested);
                                dpdk_sys::rte_tel_data_add_array_container(d, c, 0);
                            }
                        }
                    }
                    // A list mixing kinds: the odd ones out are skipped.
                    _ => {}
                }
            }
        }
    }
}

/// A container's content: scalars only (DPDK allows one level of nesting).
///
/// # Safety
/// `c` must be a valid, empty `rte_tel_data` from `rte_tel_data_alloc`.
unsafe fn write_flat(c: *mut dpdk_sys::rte_tel_data, v: &TelValue) {
    let flat = |v: &TelValue| match v {
        TelValue::U64(n) => TelValue::U64(*n),
        TelValue::Str(s) => TelValue::Str(s.clone()),
        other => TelValue::Str(text_of(other)),
    };
    let v = match v {
        TelValue::Dict(e) => TelValue::Dict(e.iter().map(|(k, v)| (k.clone(), flat(v))).collect()),
        TelValue::List(l) => TelValue::List(l.iter().map(flat).collect()),
        other => flat(other),
    };
    // SAFETY: the caller's contract; `v` holds scalars only, so no deeper container.
    unsafe { write_top(c, &v) };
}

/// A value too deep for a container, as one line: scalars as they are, lists comma
/// separated, dictionaries `name=value` separated by spaces.
fn text_of(v: &TelValue) -> String {
    match v {
        TelValue::U64(n) => n.to_string(),
        TelValue::Str(s) => s.clone(),
        TelValue::List(l) => l.iter().map(text_of).collect::<Vec<_>>().join(","),
        TelValue::Dict(d) => d
            .iter()
            .map(|(k, v)| format!("{k}={}", text_of(v)))
            .collect::<Vec<_>>()
            .join(" "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_too_deep_become_readable_text() {
        let list = TelValue::List(vec![TelValue::U64(1), TelValue::U64(2)]);
        assert_eq!(text_of(&list), "1,2");
        let d = TelValue::Dict(vec![("a".into(), TelValue::U64(1)), ("b".into(), list)]);
        assert_eq!(text_of(&d), "a=1 b=1,2");
    }

    #[test]
    fn names_are_made_acceptable_to_dpdk() {
        assert_eq!(c_name("0000:3b:00.0").to_str().unwrap(), "0000_3b_00_0");
        assert_eq!(c_name("drops/runt").to_str().unwrap(), "drops/runt");
        assert_eq!(c_text(&"x".repeat(300)).as_bytes().len(), 127);
    }
}
