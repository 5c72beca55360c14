#!/usr/bin/env bash
# The whole test suite, on a fresh Debian 12 machine as root: installs what it needs, then
# formatting, lints, unit tests, the black-box tests that run the real vtepd binary on
# DPDK virtual devices (no NIC, no hugepages needed), and a bounded fuzzing pass of every
# fuzz target ($VTEPD_FUZZ_SECONDS per target, default 45; 0 skips it; scripts/fuzz.sh).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
cd "$VTEPD_ROOT"

ensure_packages "${BUILD_PACKAGES[@]}" "${TRAFFIC_PACKAGES[@]}" "${EVPN_PACKAGES[@]}" shellcheck
ensure_cargo

log "cargo fmt --check"
cargo fmt --all -- --check

log "shellcheck scripts"
shellcheck -x scripts/*.sh scripts/*/*.sh

log "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "cargo test"
cargo test --workspace --locked -- --test-threads=1

fuzz_seconds=${VTEPD_FUZZ_SECONDS:-45}
if [ "$fuzz_seconds" -gt 0 ]; then
    log "fuzzing, ${fuzz_seconds}s per target (VTEPD_FUZZ_SECONDS; 0 skips)"
    scripts/fuzz.sh --seconds "$fuzz_seconds"
fi

log "all tests passed"
