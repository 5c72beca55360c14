#!/usr/bin/env bash
# The whole test suite, on a fresh Debian 12 machine as root: installs what it needs, then
# formatting, lints, unit tests, and the black-box tests that run the real vtepd binary on
# DPDK virtual devices (no NIC, no hugepages needed).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$VTEPD_ROOT"

ensure_packages "${BUILD_PACKAGES[@]}" "${TRAFFIC_PACKAGES[@]}"
ensure_cargo

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "cargo test"
cargo test --workspace --locked -- --test-threads=1

log "all tests passed"
