//! Generates the DPDK bindings from the headers of the DPDK installed on this machine.
//!
//! Everything comes from `pkg-config libdpdk`: the include paths and defines feed both bindgen
//! and the C compiler, and the link flags go to rustc. DPDK's fast-path functions are
//! `static inline`, so bindgen's `wrap_static_fns` emits a C file of exported wrappers, which is
//! compiled here with the very same flags: the wrappers cannot drift from the headers they wrap.

use std::env;
use std::fmt::Write as _;
use std::path::PathBuf;

const MIN_DPDK: &str = "22.11";

/// Constants DPDK defines through function-like macros (`RTE_BIT64(n)`) or expressions bindgen
/// cannot evaluate. clang evaluates them for us: each becomes an enumerator of a 64-bit enum in
/// a generated header, renamed back to its DPDK name in the bindings.
const EVALUATED_CONSTANTS: &[&str] = &[
    "RTE_ETH_RX_OFFLOAD_VLAN_STRIP",
    "RTE_ETH_RX_OFFLOAD_IPV4_CKSUM",
    "RTE_ETH_RX_OFFLOAD_UDP_CKSUM",
    "RTE_ETH_RX_OFFLOAD_TCP_CKSUM",
    "RTE_ETH_RX_OFFLOAD_OUTER_IPV4_CKSUM",
    "RTE_ETH_RX_OFFLOAD_OUTER_UDP_CKSUM",
    "RTE_ETH_RX_OFFLOAD_RSS_HASH",
    "RTE_ETH_RX_OFFLOAD_SCATTER",
    "RTE_ETH_TX_OFFLOAD_VLAN_INSERT",
    "RTE_ETH_TX_OFFLOAD_IPV4_CKSUM",
    "RTE_ETH_TX_OFFLOAD_UDP_CKSUM",
    "RTE_ETH_TX_OFFLOAD_TCP_CKSUM",
    "RTE_ETH_TX_OFFLOAD_TCP_TSO",
    "RTE_ETH_TX_OFFLOAD_UDP_TSO",
    "RTE_ETH_TX_OFFLOAD_OUTER_IPV4_CKSUM",
    "RTE_ETH_TX_OFFLOAD_OUTER_UDP_CKSUM",
    "RTE_ETH_TX_OFFLOAD_VXLAN_TNL_TSO",
    "RTE_ETH_TX_OFFLOAD_GRE_TNL_TSO",
    "RTE_ETH_TX_OFFLOAD_MULTI_SEGS",
    "RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE",
    "RTE_ETH_RSS_IPV4",
    "RTE_ETH_RSS_FRAG_IPV4",
    "RTE_ETH_RSS_NONFRAG_IPV4_TCP",
    "RTE_ETH_RSS_NONFRAG_IPV4_UDP",
    "RTE_ETH_RSS_NONFRAG_IPV4_OTHER",
    "RTE_ETH_RSS_IPV6",
    "RTE_ETH_RSS_FRAG_IPV6",
    "RTE_ETH_RSS_NONFRAG_IPV6_TCP",
    "RTE_ETH_RSS_NONFRAG_IPV6_UDP",
    "RTE_ETH_RSS_NONFRAG_IPV6_OTHER",
    "RTE_ETH_RSS_IP",
    "RTE_ETH_RSS_UDP",
    "RTE_ETH_RSS_TCP",
    "RTE_ETH_RSS_L2_PAYLOAD",
    "RTE_ETH_RSS_LEVEL_OUTERMOST",
    "RTE_ETH_RSS_LEVEL_INNERMOST",
    "RTE_ETH_LINK_SPEED_FIXED",
];

/// The DPDK API surface vtepd uses. Allowlisting keeps the bindings small and avoids the
/// handful of DPDK types bindgen cannot express (see `OPAQUE_TYPES`).
const FUNCTIONS: &[&str] = &[
    "rte_eal_.*",
    "rte_eth_.*",
    "rte_pktmbuf_.*",
    "rte_mbuf_.*",
    "rte_mempool_.*",
    "rte_lcore_.*",
    "rte_get_main_lcore",
    "rte_get_next_lcore",
    "rte_get_tsc_hz",
    "rte_get_tsc_cycles",
    "rte_rdtsc",
    "rte_rdtsc_precise",
    "rte_socket_id",
    "rte_dev_probe",
    "rte_strerror",
    "rte_version",
    "rte_gso_segment",
    "rte_acl_create",
    "rte_acl_add_rules",
    "rte_acl_build",
    "rte_acl_classify",
    "rte_acl_free",
    "rte_tel_data_.*",
    "rte_telemetry_register_cmd",
    "rte_raw_cksum",
    "rte_raw_cksum_mbuf",
    "rte_ipv4_cksum",
    "rte_ipv4_phdr_cksum",
    "rte_ipv6_phdr_cksum",
    "rte_ipv4_udptcp_cksum",
    "rte_ipv6_udptcp_cksum",
    "rte_prefetch0",
    "rte_prefetch1",
    "rte_prefetch2",
    "rte_delay_us_block",
    "rte_net_intel_cksum_flags_prepare",
    "vtepd_.*",
];

/// Types that break the generated Rust when bindgen lays them out (packed structs containing
/// aligned members, derives on bitfield unions). vtepd never looks inside them.
const OPAQUE_TYPES: &[&str] = &["rte_l2tpv2_combined_msg_hdr", "rte_gtp_psc_generic_hdr"];

#[derive(Debug)]
struct RenameEvaluated;

impl bindgen::callbacks::ParseCallbacks for RenameEvaluated {
    fn enum_variant_name(
        &self,
        _enum_name: Option<&str>,
        original_variant_name: &str,
        _variant_value: bindgen::callbacks::EnumVariantValue,
    ) -> Option<String> {
        original_variant_name
            .strip_prefix("VTEPD_EVAL_")
            .map(str::to_owned)
    }
}

fn main() {
    if let Err(err) = pkg_config::Config::new()
        .atleast_version(MIN_DPDK)
        .cargo_metadata(true)
        .probe("libdpdk")
    {
        panic!(
            "\n\nDPDK >= {MIN_DPDK} was not found by pkg-config ({err}).\n\
                 On Debian 12 install it with:\n\n    \
                 apt-get install dpdk libdpdk-dev dpdk-dev pkg-config libclang-dev clang\n\n\
                 (scripts/test.sh and scripts/demo.sh do this for you.)\n"
        );
    }

    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let shim_dir = manifest.join("shim");
    println!("cargo:rerun-if-changed={}", shim_dir.display());
    println!("cargo:rerun-if-changed=build.rs");

    // The same preprocessor flags for bindgen and cc: include paths, `-include rte_config.h`,
    // `-march=...` (DPDK's headers pick vector code paths from it).
    let cflags = pkg_config_cflags();

    let consts_header = out.join("vtepd_consts.h");
    std::fs::write(&consts_header, evaluated_constants_header())
        .expect("write the generated constants header");
    let wrapper = out.join("vtepd_wrapper.h");
    std::fs::write(
        &wrapper,
        format!(
            "#include \"{}\"\n#ifdef VTEPD_BINDGEN\n#include \"{}\"\n#endif\n",
            shim_dir.join("shim.h").display(),
            consts_header.display()
        ),
    )
    .expect("write the bindgen wrapper header");

    let static_fns = out.join("static_fns");
    let mut builder = bindgen::Builder::default()
        .header(wrapper.display().to_string())
        .clang_args(&cflags)
        // The constants header is a clang extension (a 64-bit enum): bindgen only.
        .clang_arg("-DVTEPD_BINDGEN")
        .wrap_static_fns(true)
        .wrap_static_fns_path(&static_fns)
        .parse_callbacks(Box::new(RenameEvaluated))
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .prepend_enum_name(false)
        .derive_default(true)
        .derive_debug(true)
        .generate_comments(false)
        .layout_tests(false)
        .allowlist_var("RTE_.*")
        .allowlist_var("VTEPD_EVAL_.*")
        .allowlist_type("rte_eth_.*")
        .allowlist_type("rte_mbuf")
        .allowlist_type("rte_gso_ctx")
        .allowlist_type("rte_acl_.*")
        .allowlist_type("rte_tel_data")
        .allowlist_type("vtepd_evaluated_constants");
    for f in FUNCTIONS {
        builder = builder.allowlist_function(f);
    }
    for t in OPAQUE_TYPES {
        builder = builder.opaque_type(t);
    }
    let bindings = builder
        .generate()
        .expect("bindgen could not generate the DPDK bindings");
    bindings
        .write_to_file(out.join("bindings.rs"))
        .expect("write bindings.rs");

    // The wrappers include the same headers through the same wrapper file.
    let mut build = cc::Build::new();
    build
        .file(static_fns.with_extension("c"))
        .file(shim_dir.join("shim.c"))
        .include(&manifest)
        .include(&shim_dir)
        .include(&out)
        .flag_if_supported("-Wno-deprecated-declarations")
        .warnings(false);
    for flag in &cflags {
        build.flag(flag);
    }
    // bindgen's generated C includes the wrapper by its absolute path; nothing else is needed.
    build.compile("vtepd_dpdk_shim");
}

/// `pkg-config --cflags libdpdk`, split as the shell would (DPDK's flags contain no quoting).
fn pkg_config_cflags() -> Vec<String> {
    let output = std::process::Command::new(env::var("PKG_CONFIG").unwrap_or("pkg-config".into()))
        .args(["--cflags", "libdpdk"])
        .output()
        .expect("run pkg-config --cflags libdpdk");
    assert!(
        output.status.success(),
        "pkg-config --cflags libdpdk failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

fn evaluated_constants_header() -> String {
    let mut header = String::from(
        "/* Generated by dpdk-sys/build.rs: lets clang evaluate DPDK's macro constants. */\n\
         #include <stdint.h>\n\
         enum vtepd_evaluated_constants : uint64_t {\n",
    );
    for name in EVALUATED_CONSTANTS {
        let _ = writeln!(header, "\tVTEPD_EVAL_{name} = (uint64_t)({name}),");
    }
    header.push_str("};\n");
    header
}
