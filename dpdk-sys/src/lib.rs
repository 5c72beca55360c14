//! Raw bindings to the system DPDK, generated at build time (see `build.rs`).
//!
//! Nothing here is safe to call directly from application code: vtepd's `dpdk` module wraps
//! every function it uses behind safe types. `static inline` DPDK functions keep their DPDK
//! names; bindgen links them to exported wrappers compiled from the same headers.

#![allow(
    non_upper_case_globals,
    non_camel_case_types,
    non_snake_case,
    dead_code
)]
#![allow(clippy::all, clippy::pedantic)]
#![allow(unsafe_op_in_unsafe_fn, improper_ctypes)]

include!(concat!(env!("OUT_DIR"), "/bindings.rs"));
