#!/usr/bin/env bash
# Coverage-guided fuzzing of vtepd's untrusted inputs with cargo-fuzz (libFuzzer + ASan, with
# debug assertions and overflow checks): every target runs for a bounded time from the
# committed corpus, and any crash, failed check, overflow, leak or timeout fails the run.
#
#   scripts/fuzz.sh [--seconds N] [--cmin] [--seed] [--no-build] [TARGET...]
#   scripts/fuzz.sh --repro ARTIFACT
#
# Targets (fuzz/fuzz_targets/, docs/TESTING.md "Fuzzing" says what each covers):
#   underlay   frames from the fabric: classify, decapsulation, ARP/ICMP/ND for the VTEP
#   access     tenant frames: VLAN map, learning, ARP/ND suppression, encapsulation, floods
#   roundtrip  a frame encapsulated by one gateway and decapsulated by its peer is unchanged
#   config     configuration text, the tables built from it, reload to it
#   api        HTTP API requests: routing, JSON bodies, the edits they make
#
# Options:
#   --seconds N    time per target (default $VTEPD_FUZZ_SECONDS, else 60)
#   --cmin         afterwards, minimise each target's committed corpus (fuzz/corpus/TARGET)
#                  together with what this run found (like cargo fuzz cmin, but libFuzzer's
#                  -set_cover_merge=1 on edges only: a small set covering every edge)
#   --seed         first add seeds from the test traffic and configurations
#                  (scripts/fuzz-corpus.py)
#   --no-build     use the binaries already built in fuzz/target
#   --repro FILE   run one input (a crash artifact) through its target, with the backtrace;
#                  the target is the artifact's folder name (fuzz/artifacts/TARGET/...)
#
# New inputs go to fuzz/target/fuzz-work/TARGET/ (never into the committed corpus unless
# --cmin); crashes to fuzz/artifacts/TARGET/. Extra libFuzzer flags: $VTEPD_FUZZ_FLAGS
# (e.g. "-jobs=2 -workers=2"). Per target the summary shows executions, executions per
# second, coverage (cov: edges, ft: features), corpus size and the new inputs found.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
cd "$VTEPD_ROOT"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

# cargo-fuzz, pinned: the build flags (sanitizer, coverage, debug assertions) come from it.
CARGO_FUZZ_VERSION=0.13.2
ALL_TARGETS=(underlay access roundtrip config api)
FUZZ_DIR=$VTEPD_ROOT/fuzz
BIN_DIR=$FUZZ_DIR/target/x86_64-unknown-linux-gnu/release
WORK=$FUZZ_DIR/target/fuzz-work

seconds=${VTEPD_FUZZ_SECONDS:-60} cmin=0 seed=0 build=1 repro=""
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds=${2:?}; shift ;;
        --cmin) cmin=1 ;;
        --seed) seed=1 ;;
        --no-build) build=0 ;;
        --repro) repro=${2:?}; shift ;;
        -h|--help) usage; exit 0 ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) targets+=("$1") ;;
    esac
    shift
done
[ ${#targets[@]} -gt 0 ] || targets=("${ALL_TARGETS[@]}")
for t in "${targets[@]}"; do
    [ -f "$FUZZ_DIR/fuzz_targets/$t.rs" ] || die "no fuzz target $t (targets: ${ALL_TARGETS[*]})"
done
[[ "$seconds" =~ ^[0-9]+$ ]] || die "--seconds: $seconds is not a number of seconds"

# libFuzzer flags per target: the dictionary and the largest input (frame sequences need
# room; a round trip is one frame).
dict_of() { case "$1" in underlay|access|roundtrip) echo packets ;; *) echo "$1" ;; esac; }
max_len_of() { case "$1" in roundtrip) echo 2100 ;; api) echo 4096 ;; *) echo 8192 ;; esac; }

# Sanitizer settings: a bounded quarantine (memory), leaks checked, abort on the first error.
export ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=64:detect_leaks=1:abort_on_error=1}
# Full backtraces for panics (failed checks).
export RUST_BACKTRACE=${RUST_BACKTRACE:-1}

ensure_cargo_fuzz() {
    if cargo fuzz --version 2>/dev/null | grep -qx "cargo-fuzz $CARGO_FUZZ_VERSION"; then
        return 0
    fi
    log "installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
}

build_targets() {
    # cargo-fuzz passes -Z flags (sanitizer, coverage): RUSTC_BOOTSTRAP lets a stable
    # toolchain take them. 16 codegen units: a faster build, slightly slower executions.
    log "building fuzz targets (cargo fuzz build, ASan, debug assertions)"
    (cd "$FUZZ_DIR" && RUSTC_BOOTSTRAP=1 cargo fuzz build --debug-assertions \
        --codegen-units 16 "$@")
}

if [ -n "$repro" ]; then
    [ -f "$repro" ] || die "--repro: no such file $repro"
    t=$(basename "$(dirname "$repro")")
    [ -f "$FUZZ_DIR/fuzz_targets/$t.rs" ] ||
        die "--repro: $repro is not under fuzz/artifacts/TARGET/ (name its target's folder)"
    ensure_cargo
    [ "$build" -eq 0 ] || { ensure_packages "${BUILD_PACKAGES[@]}" g++; ensure_cargo_fuzz; build_targets "$t"; }
    log "running $repro through $t"
    exec "$BIN_DIR/$t" -runs=1 "$repro"
fi

# libfuzzer-sys compiles libFuzzer (C++).
ensure_packages "${BUILD_PACKAGES[@]}" g++
ensure_cargo
if [ "$seed" -eq 1 ]; then
    ensure_packages "${TRAFFIC_PACKAGES[@]}"
    log "seeding fuzz/corpus from the test traffic and configurations"
    "$PYTHON" scripts/fuzz-corpus.py
fi
if [ "$build" -eq 1 ]; then
    ensure_cargo_fuzz
    build_targets
fi

# One line of libFuzzer's final statistics: "stat::name: value".
stat() { sed -n "s/^stat::$2: *//p" "$1" | tail -1; }
# A field of the last status line ("#N DONE cov: 123 ft: 456 corp: 7/8Kb ...").
status_field() { grep -E '^#[0-9]+' "$1" | tail -1 | sed -n "s/.*$2: \([^ ]*\).*/\1/p"; }

# Targets that start EAL (api) leave /var/run/dpdk/vtepd-fuzz-<pid>: libFuzzer ends the
# process without EAL's cleanup. Removes those of processes that are gone.
reap_eal_dirs() {
    local d pid
    for d in /var/run/dpdk/vtepd-fuzz-*; do
        [ -d "$d" ] || continue
        pid=${d##*-}
        [ -d "/proc/$pid" ] || rm -rf "$d"
    done
}

failed=()
summary=()
for t in "${targets[@]}"; do
    corpus=$FUZZ_DIR/corpus/$t
    scratch=$WORK/$t
    artifacts=$FUZZ_DIR/artifacts/$t
    logf=$WORK/$t.log
    mkdir -p "$corpus" "$scratch" "$artifacts"
    log "fuzzing $t for ${seconds}s ($(find "$corpus" -type f | wc -l) seed(s))"
    rc=0
    # shellcheck disable=SC2086  # VTEPD_FUZZ_FLAGS is a list of flags
    "$BIN_DIR/$t" "$scratch" "$corpus" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -max_len="$(max_len_of "$t")" -dict="$FUZZ_DIR/dict/$(dict_of "$t").dict" \
        -artifact_prefix="$artifacts/" -print_final_stats=1 ${VTEPD_FUZZ_FLAGS:-} \
        >"$logf" 2>&1 || rc=$?
    reap_eal_dirs
    execs=$(stat "$logf" number_of_executed_units)
    rate=$(stat "$logf" average_exec_per_sec)
    new=$(stat "$logf" new_units_added)
    cov=$(status_field "$logf" cov)
    ft=$(status_field "$logf" ft)
    corp=$(status_field "$logf" corp)
    summary+=("$(printf '%-10s %10s %8s %7s %7s %12s %5s' "$t" "${execs:-?}" "${rate:-?}" \
        "${cov:-?}" "${ft:-?}" "${corp:-?}" "${new:-?}")")
    if [ "$rc" -ne 0 ]; then
        failed+=("$t")
        artifact=$(sed -n "s/.*Test unit written to \(.*\)$/\1/p" "$logf" | tail -1)
        printf '\033[1;31m%s: libFuzzer exited %s\033[0m\n' "$t" "$rc" >&2
        grep -E -m1 -A12 "panicked at|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)" \
            "$logf" >&2 || tail -30 "$logf" >&2
        echo "  log:       $logf" >&2
        if [ -n "$artifact" ]; then
            echo "  input:     $artifact" >&2
            echo "  reproduce: scripts/fuzz.sh --repro $artifact" >&2
            echo "         or: cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run $t ${artifact#"$FUZZ_DIR/"}" >&2
        fi
    fi
done

if [ "$cmin" -eq 1 ]; then
    for t in "${targets[@]}"; do
        corpus=$FUZZ_DIR/corpus/$t
        merged=$WORK/$t.cmin
        rm -rf "$merged" && mkdir -p "$merged"
        log "minimising fuzz/corpus/$t"
        # A small set of inputs covering every edge (-set_cover_merge), not every hit-count
        # bucket (-use_counters=0): the committed corpus stays small; a campaign finds the
        # counts again quickly.
        "$BIN_DIR/$t" -set_cover_merge=1 -use_counters=0 -max_len="$(max_len_of "$t")" \
            -timeout=10 -rss_limit_mb=2048 "$merged" "$corpus" "$WORK/$t" \
            >"$WORK/$t.cmin.log" 2>&1 ||
            die "minimising $t failed: see $WORK/$t.cmin.log"
        rm -rf "$corpus" && mv "$merged" "$corpus"
        echo "  $(find "$corpus" -type f | wc -l) file(s), $(du -sb --apparent-size "$corpus" | cut -f1) bytes" >&2
    done
fi

printf '\n%-10s %10s %8s %7s %7s %12s %5s\n' target execs exec/s cov ft corpus new
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
    die "fuzzing found a crash in: ${failed[*]}"
fi
log "fuzzing: no crash in ${targets[*]} (${seconds}s each)"
