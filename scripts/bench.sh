#!/usr/bin/env bash
# End-to-end throughput of vtepd on a machine without a NIC, next to its ceiling.
#
#   scripts/bench.sh [--quick] [--runs N] [--window S] [--warmup S] [--sizes 64,512,1500]
#                    [--scenarios LIST] [--workers 1,3] [--packets N] [--huge auto|yes|no]
#                    [--out DIR] [--no-build] [--bin PATH] [--keep] [--header-swap] [--burst N]
#
# The harness: DPDK virtual devices, the same for every engine. `net_pcap` with
# rx_pcap=<generated traffic>,infinite_rx=1 replays a capture preloaded into mbufs (one
# rx_pcap, hence one RX queue, per worker) into the device under test; `net_null,no-rx=1` is
# the sink. The ceiling is dpdk-testpmd's io forwarding on exactly these devices and the same
# core layout (-l 0-W: lcore 0 main, lcores 1..W forwarding); vtepd then does the real work
# (VXLAN/NVGRE decap and encap, a mixed run with learning). Rates are read from the port
# counters over a fixed window after a warm-up (scripts/bench/measure.py, through DPDK
# telemetry `/ethdev/stats,<port>`), vtepd's cycles per packet from its own worker counters
# (GET /api/v1/workers). Every measurement is repeated (median), ceiling and vtepd runs
# alternate so background load hits both alike.
#
# Scenarios (scripts/pcapgen.py bench generates the traffic and configurations: 4 VNIs per
# encapsulation, 8 remote VTEPs, 256 hosts per VNI on each side, 8192 frames of as many flows):
#   vxlan-decap, nvgre-decap  underlay net_pcap0 -> access net_null0; inner destinations are
#                             static [[fdb]] port entries (unicast), inner sources are learned
#   vxlan-routed              the vxlan-decap traffic sent to the anycast gateway MAC, each
#                             packet for a host of the next VNI of one tenant VRF: decap, FIB
#                             lookup, TTL and MAC rewrite, bridged to the access port (static
#                             bindings); its cost over vxlan-decap is the routing stage's
#   vxlan-routed-policy       the vxlan-routed traffic under a policy of 1000 rules whose last
#                             (lowest-priority) rule allows it statefully: after the first pass
#                             every packet is a session hit, the established-flow path; its
#                             cost over vxlan-routed is the policy stage's on established flows
#   vxlan-routed-acl          the same rules with that rule stateless: every packet is classified
#                             by rte_acl, the price each new flow pays before its session opens
#   vxlan-encap, nvgre-encap  access net_pcap0 -> underlay net_null0; destinations are static
#                             [[fdb]] remote entries, sources learned, UDP source port hashed
#   mixed                     both directions at once, VXLAN and NVGRE, no static entries:
#                             learning does the work. Each net_pcap port is given no TX stream,
#                             so it drops what is sent to it (net_pcap's tx_drop: counted and
#                             freed, as net_null does), for vtepd and the ceiling alike.
#   xconnect                  vtepd's cross-connect on the vxlan-decap traffic: its poll loop,
#                             counters and TX buffering without the pipeline, which splits
#                             vtepd's cycles into I/O (this vs. the ceiling) and packet work
#                             (the other scenarios vs. this)
# With --header-swap a third engine runs in every scenario: dpdk-testpmd's 5tswap forwarding,
# which parses each packet's Ethernet, VLAN, IP and UDP/TCP headers and swaps their source and
# destination fields, and nothing else (no lookup, no length change). It shows what touching
# the headers of every packet costs on this harness, next to the ceiling that touches none.
# Sizes are the tenant frame on the access port: 802.1Q-tagged, without FCS (as DPDK counts).
#
# Options:
#   --quick          smoke pass: 1 run, 64 bytes, 1 s warm-up, 2 s window
#   --runs N         repetitions of every measurement (default 3; the median is reported)
#   --window S       measuring window in seconds (default 5)
#   --warmup S       seconds of traffic before the window (default 2)
#   --sizes LIST     tenant frame sizes (default 64,512,1500)
#   --scenarios LIST (default xconnect,vxlan-decap,vxlan-routed,vxlan-routed-policy,vxlan-routed-acl,
#                    vxlan-encap,nvgre-decap,nvgre-encap,mixed)
#   --workers LIST   worker counts (default 1, plus nproc-1 when the machine has 3+ cores)
#   --packets N      frames per generated stream (default 8192; net_pcap keeps them in mbufs)
#   --huge MODE      auto: hugepages if 1 GiB is free, else --no-huge -m 2048 (default);
#                    yes: reserve them with scripts/setup-hugepages.sh if needed; no: never
#   --out DIR        results folder (default /tmp/vtepd-bench); writes <date>.md and <date>.json
#   --no-build       use the existing release binary
#   --bin PATH       measure this vtepd binary (implies --no-build)
#   --keep           keep the work folder (traffic, configurations, process logs)
#   --header-swap    also measure dpdk-testpmd --forward-mode=5tswap (see above)
#   --burst N        packets per RX/TX burst, 1..64, for every engine (vtepd's workers.burst,
#                    testpmd's --burst; default 32, both engines' own default)
#   --force-workers  allow workers without a core each besides the main lcore's: as many
#                    workers as CPUs puts the (mostly sleeping) main lcore on worker N's CPU,
#                    which still measures scaling on a small machine; more workers than CPUs
#                    share CPUs (a functional check of the multi-queue harness only)
#
# The binary is $CARGO_TARGET_DIR/release/vtepd (./target/release/vtepd by default) unless
# --bin names one.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
cd "$VTEPD_ROOT"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

runs="" window="" warmup="" sizes="" scenarios="xconnect,vxlan-decap,vxlan-routed,vxlan-routed-policy,vxlan-routed-acl,vxlan-encap,nvgre-decap,nvgre-encap,mixed"
workers="" packets=8192 huge=auto out=/tmp/vtepd-bench build=1 bin="" keep=0 quick=0 force_workers=0
engines=(testpmd vtepd) burst=32
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=1 ;;
        --runs) runs=${2:?}; shift ;;
        --window) window=${2:?}; shift ;;
        --warmup) warmup=${2:?}; shift ;;
        --sizes) sizes=${2:?}; shift ;;
        --scenarios) scenarios=${2:?}; shift ;;
        --workers) workers=${2:?}; shift ;;
        --packets) packets=${2:?}; shift ;;
        --huge) huge=${2:?}; shift ;;
        --out) out=${2:?}; shift ;;
        --no-build) build=0 ;;
        --bin) bin=${2:?}; build=0; shift ;;
        --keep) keep=1 ;;
        --force-workers) force_workers=1 ;;
        --header-swap) engines=(testpmd testpmd-5tswap vtepd) ;;
        --burst) burst=${2:?}; shift ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
    shift
done
if [ "$quick" -eq 1 ]; then
    : "${runs:=1}" "${window:=2}" "${warmup:=1}" "${sizes:=64}"
fi
: "${runs:=3}" "${window:=5}" "${warmup:=2}" "${sizes:=64,512,1500}"
ncpu=$(nproc)
if [ -z "$workers" ]; then
    workers=1
    [ "$ncpu" -ge 3 ] && workers="1,$(( ncpu - 1 > 16 ? 16 : ncpu - 1 ))"
fi
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "--runs: a positive integer"
[[ "$window" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--window: seconds"
[[ "$warmup" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--warmup: seconds"
[[ "$sizes" =~ ^[0-9]+(,[0-9]+)*$ ]] || die "--sizes: comma-separated frame sizes"
[[ "$workers" =~ ^[0-9]+(,[0-9]+)*$ ]] || die "--workers: comma-separated worker counts"
if ! [[ "$burst" =~ ^[0-9]+$ ]] || [ "$burst" -lt 1 ] || [ "$burst" -gt 64 ]; then
    die "--burst: 1..64"
fi
case "$huge" in auto|yes|no) ;; *) die "--huge: auto, yes or no" ;; esac
IFS=, read -r -a size_list <<< "$sizes"
IFS=, read -r -a scenario_list <<< "$scenarios"
IFS=, read -r -a worker_list <<< "$workers"
for s in "${scenario_list[@]}"; do
    case "$s" in vxlan-decap|vxlan-routed|vxlan-routed-policy|vxlan-routed-acl|vxlan-encap|nvgre-decap|nvgre-encap|mixed|xconnect) ;;
        *) die "unknown scenario $s" ;; esac
done
for w in "${worker_list[@]}"; do
    if [ "$w" -lt 1 ] || [ "$w" -gt 16 ]; then
        die "--workers: 1..16 (net_pcap has at most 16 queues)"
    fi
    if [ $(( w + 1 )) -gt "$ncpu" ] && [ "$force_workers" -eq 0 ]; then
        die "--workers $w needs $(( w + 1 )) cores, this machine has $ncpu (--force-workers to oversubscribe)"
    fi
done

ensure_packages "${BUILD_PACKAGES[@]}" python3 python3-scapy
for tool in dpdk-testpmd dpdk-telemetry.py; do
    command -v "$tool" >/dev/null || die "$tool not found (Debian package dpdk-dev)"
done
ensure_cargo

: "${bin:=${CARGO_TARGET_DIR:-$VTEPD_ROOT/target}/release/vtepd}"
if [ "$build" -eq 1 ]; then
    log "building vtepd (release)"
    cargo build --release --locked --bin vtepd
fi
[ -x "$bin" ] || die "$bin not found (build it, or drop --no-build)"

# --- memory -----------------------------------------------------------------------------
huge_free_mb() {
    awk '/^HugePages_Free/ {f=$2} /^Hugepagesize/ {s=$2} END {print int(f*s/1024)}' /proc/meminfo
}
if [ "$huge" = yes ] && [ "$(huge_free_mb)" -lt 1024 ]; then
    log "reserving hugepages (scripts/setup-hugepages.sh)"
    scripts/setup-hugepages.sh >/dev/null
fi
if [ "$huge" != no ] && [ "$(huge_free_mb)" -ge 1024 ] && mount -t hugetlbfs | grep -q .; then
    mem_args=(--huge-unlink)
    mem_desc="hugepages ($(huge_free_mb) MiB free at start; --huge-unlink)"
else
    [ "$huge" = yes ] && die "no usable hugepages after setup"
    mem_args=(--no-huge -m 2048)
    mem_desc="no hugepages (--no-huge -m 2048)"
fi

# --- processes and cleanup -----------------------------------------------------------------
work=$(mktemp -d /tmp/vtepd-bench-work.XXXXXX)
tag="vbench$$"
pids=()
fifo_fd=""
cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
    done
    if [ -n "$fifo_fd" ]; then eval "exec ${fifo_fd}>&-"; fi
    rm -rf /var/run/dpdk/"$tag"-* 2>/dev/null || true
    rm -f /dev/hugepages/"$tag"-* 2>/dev/null || true
    if [ "$keep" -eq 1 ]; then
        log "work folder kept: $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget_pid() {
    local keep_pids=() p
    for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep_pids+=("$p"); done
    pids=("${keep_pids[@]}")
}

# Waits up to $2 tenths of a second for process $1 to end; its exit status, or 255.
wait_exit() {
    local pid=$1 tenths=$2 rc=0
    for _ in $(seq "$tenths"); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        forget_pid "$pid"
        return 255
    fi
    wait "$pid" 2>/dev/null || rc=$?
    forget_pid "$pid"
    return "$rc"
}

free_port() {
    "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- traffic ------------------------------------------------------------------------------
queues=$(printf '%s\n' "${worker_list[@]}" | sort -un | paste -sd, -)
pcapgen=("$PYTHON" scripts/pcapgen.py bench --dir "$work/traffic" --sizes "$sizes" --queues "$queues"
         --packets "$packets")
log "generating traffic and configurations: ${pcapgen[*]}"
"${pcapgen[@]}" >/dev/null
mkdir -p "$work/runs" "$work/logs"

# The devices of one scenario: sets vdev_args, sources, sinks.
harness() {
    local scenario=$1 size=$2 w=$3 k rx0="" rx1=""
    for (( k = 0; k < w; k++ )); do
        case "$scenario" in
            mixed)
                rx0+=",rx_pcap=$work/traffic/mixed-underlay-$size-q${k}of$w.pcap"
                rx1+=",rx_pcap=$work/traffic/mixed-access-$size-q${k}of$w.pcap" ;;
            xconnect) rx0+=",rx_pcap=$work/traffic/vxlan-decap-$size-q${k}of$w.pcap" ;;
            vxlan-routed-*) rx0+=",rx_pcap=$work/traffic/vxlan-routed-$size-q${k}of$w.pcap" ;;
            *) rx0+=",rx_pcap=$work/traffic/$scenario-$size-q${k}of$w.pcap" ;;
        esac
    done
    if [ "$scenario" = mixed ]; then
        vdev_args=(--vdev "net_pcap0${rx0},infinite_rx=1" --vdev "net_pcap1${rx1},infinite_rx=1")
        sources=net_pcap0,net_pcap1 sinks=net_pcap0,net_pcap1
    else
        vdev_args=(--vdev "net_pcap0${rx0},infinite_rx=1" --vdev "net_null0,no-rx=1")
        sources=net_pcap0 sinks=net_null0
    fi
}

# One measurement: engine (testpmd|testpmd-5tswap|vtepd), scenario, size, workers, run number.
run_one() {
    local engine=$1 scenario=$2 size=$3 w=$4 n=$5
    local id="$engine-$scenario-$size-w$w-r$n" prefix api="" pid rc=0 load
    prefix="$tag-$id"
    local lcores="0-$w"
    if [ $(( w + 1 )) -gt "$ncpu" ]; then
        # --force-workers: lcores 0..w on CPUs round-robin, so with as many workers as
        # CPUs the last one shares CPU 0 with the main lcore.
        lcores=$(for (( k = 0; k <= w; k++ )); do printf '%d@%d,' "$k" $(( k % ncpu )); done)
        lcores="--lcores=${lcores%,}"
    else
        lcores="-l $lcores"
    fi
    harness "$scenario" "$size" "$w"
    local mbufs
    mbufs=$(sed -n 's/^mbufs = //p' "$work/traffic/$scenario.toml")
    # shellcheck disable=SC2206 # lcores is "-l 0-W" or "--lcores=...": split on purpose
    local eal=($lcores --no-pci --file-prefix "$prefix" "${mem_args[@]}" "${vdev_args[@]}")
    local cmd logf="$work/logs/$id.log"
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    if [ "$engine" != vtepd ]; then
        local mode=io
        [ "$engine" = testpmd-5tswap ] && mode=5tswap
        cmd=(dpdk-testpmd "${eal[@]}" -- --forward-mode="$mode" --auto-start --nb-cores="$w"
             --rxq="$w" --txq="$w" --total-num-mbufs="$mbufs" --burst="$burst" --record-core-cycles)
        # Non-interactive testpmd forwards until a line arrives on stdin (or it closes): its
        # own fifo, held open here, so nothing left over from another run can stop it early.
        mkfifo "$work/$id.stdin"
        exec {fifo_fd}<>"$work/$id.stdin"
        "${cmd[@]}" < "$work/$id.stdin" > "$logf" 2>&1 &
    else
        local port conf="$work/runs/$id.toml"
        port=$(free_port)
        sed -e "s/^listen = .*/listen = \"127.0.0.1:$port\"/" -e "s/^mbufs = .*/&\nburst = $burst/" \
            "$work/traffic/$scenario.toml" > "$conf"
        api="http://127.0.0.1:$port"
        cmd=("$bin" "${eal[@]}" -- -c "$conf" --log warn --final-stats "$work/runs/$id.final.json")
        "${cmd[@]}" < /dev/null > "$logf" 2>&1 &
    fi
    pid=$!
    pids+=("$pid")
    local measure=("$PYTHON" scripts/bench/measure.py --prefix "$prefix" --pid "$pid"
                   --sources "$sources" --sinks "$sinks" --warmup "$warmup" --window "$window")
    [ -n "$api" ] && measure+=(--api "$api")
    if ! "${measure[@]}" > "$work/runs/$id.json" 2> "$work/runs/$id.err"; then
        echo "  $id: measurement failed: $(cat "$work/runs/$id.err")" >&2
        tail -5 "$logf" | sed 's/^/    /' >&2
    fi
    if [ "$engine" != vtepd ]; then
        echo >&"$fifo_fd"          # "Press enter to exit"
        wait_exit "$pid" 200 || rc=$?
        exec {fifo_fd}>&-
        fifo_fd=""
        rm -f "$work/$id.stdin"
    else
        kill -INT "$pid" 2>/dev/null || true
        wait_exit "$pid" 200 || rc=$?
    fi
    "$PYTHON" scripts/bench/report.py record --run "$work/runs/$id.json" --engine "$engine" \
        --scenario "$scenario" --size "$size" --workers "$w" --run-number "$n" --exit "$rc" \
        --log "$logf" --final-stats "$work/runs/$id.final.json" --loadavg "$load" \
        --manifest "$work/traffic/manifest.json" -- "${cmd[@]}" >> "$work/runs.jsonl"
    "$PYTHON" scripts/bench/report.py line --last "$work/runs.jsonl"
}

stamp=$(date +%Y-%m-%d-%H%M%S)
rev="$(git describe --always --dirty 2>/dev/null || echo unknown)"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
log "measuring: runs=$runs warmup=${warmup}s window=${window}s sizes=$sizes workers=$workers; $mem_desc"
log "load average at start: $load_start (on $ncpu CPUs)"
# Scenarios, worker counts and engines all alternate inside each run, so that a stage's
# price (one scenario against another: vxlan-routed-policy against vxlan-routed) and a
# scaling ratio (N workers against 1) compare runs taken moments apart.
for size in "${size_list[@]}"; do
    for (( n = 1; n <= runs; n++ )); do
        for scenario in "${scenario_list[@]}"; do
            for w in "${worker_list[@]}"; do
                for engine in "${engines[@]}"; do
                    run_one "$engine" "$scenario" "$size" "$w" "$n"
                done
            done
        done
    done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

layout_note=()
for w in "${worker_list[@]}"; do
    if [ "$w" -gt "$ncpu" ]; then
        layout_note=(--info "WARNING=--force-workers: $w workers on $ncpu CPUs share cores (--lcores): a functional check, not a measurement")
    elif [ "$w" -eq "$ncpu" ] && [ ${#layout_note[@]} -eq 0 ]; then
        # Each worker still has a CPU to itself but for the main lcore, whose threads
        # (management tick, API) mostly sleep: per-worker cycles hold, totals may be low.
        layout_note=(--info "NOTE=$w workers on $ncpu CPUs (--lcores): the main lcore shares CPU 0 with worker $w; per-worker cycles are its own, the total may be lower than with a core for the main lcore")
    fi
done
mkdir -p "$out"
"$PYTHON" scripts/bench/report.py table --runs "$work/runs.jsonl" \
    --markdown "$out/$stamp.md" --json "$out/$stamp.json" --pcapgen "${pcapgen[*]}" \
    --info "date=$(date -Iseconds)" \
    --info "host=$(uname -n), $(uname -sr), $ncpu CPUs: $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)" \
    --info "vtepd=$rev at the start ($bin, built $(date -r "$bin" -Iseconds))" \
    --info "dpdk=$(pkg-config --modversion libdpdk 2>/dev/null || echo unknown) (dpdk-testpmd $(command -v dpdk-testpmd))" \
    --info "memory=$mem_desc" \
    --info "load average (1/5/15 min)=$load_start at start, $load_end at end" \
    --info "kernel TSC estimate=$(dmesg 2>/dev/null | sed -n 's/.*tsc: Detected \([0-9.]*\) MHz.*/\1 MHz/p' | head -1)" \
    --info "settings=runs $runs, warm-up ${warmup}s, window ${window}s, $packets frames per stream, workers $workers, burst $burst" \
    "${layout_note[@]}"
log "results: $out/$stamp.md ($out/$stamp.json has every run)"
