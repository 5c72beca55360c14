#!/usr/bin/env bash
# Instructions per packet of the pipeline's per-packet benchmarks, counted under callgrind.
#
#   scripts/bench/instructions.sh [--runs N] [NAME ...]
#
# Times on a shared or virtual host move by 5-15 % from run to run; an instruction count
# does not, so this shows what a code change did to the pipeline where criterion cannot.
# It is not a speed: cycles per packet also depend on how many instructions retire per
# cycle, on cache misses and on branch prediction (criterion and scripts/bench.sh measure
# those). Each NAME is a `packet/` benchmark of benches/pipeline.rs (default: all of
# them), or a `burst/` one named in full (e.g. burst/vxlan_decap_fabric/1K: a burst of 32
# packets per run); its body (copy the frames into their buffers, run the pipeline on
# them) runs N times (default 100000) inside `counted`, the only function callgrind counts
# (VTEPD_BENCH_COUNT, see the bench's module doc). `frame_copy` is that copy alone: a
# pipeline's own instructions are its row less that one, as the table's last column shows.
#
# Needs valgrind (Debian: apt-get install valgrind; installed here when run as root).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
cd "$VTEPD_ROOT"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

runs=100000 names=()
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs=${2:?}; shift ;;
        -h|--help) usage; exit 0 ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) names+=("$1") ;;
    esac
    shift
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "--runs: a positive number"
[ ${#names[@]} -gt 0 ] ||
    names=(frame_copy classify vxlan_decap nvgre_decap vxlan_encap nvgre_encap flow_hash_ipv4 flow_hash_ipv6)

command -v valgrind >/dev/null 2>&1 || ensure_packages valgrind
ensure_cargo
ensure_packages "${BUILD_PACKAGES[@]}"

# The bench binary cargo builds (the last "Executable" line names it).
bench=$(cargo bench --bench pipeline --no-run --message-format=short 2>&1 |
    sed -n 's/.*Executable benches\/pipeline.rs (\(.*\))$/\1/p' | tail -n 1)
if [ -z "$bench" ] || [ ! -x "$bench" ]; then
    die "could not build the pipeline benchmark"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# count NAME: the instructions per packet of NAME's body, to two decimals.
count() {
    local name=$1 id=$1 file=${1//\//_}
    case "$name" in */*) ;; *) id=packet/$name ;; esac
    local out="$work/$file.callgrind" log="$work/$file.log"
    VTEPD_BENCH_COUNT=$runs valgrind --tool=callgrind --callgrind-out-file="$out" \
        --toggle-collect='*counted*' "$bench" --bench "^$id\$" \
        >"$log" 2>&1 || { cat "$log" >&2; die "$name: valgrind failed"; }
    local packets
    packets=$(sed -n "s|^$name: ran $runs times in counted(), \([0-9]*\) packets each\$|\1|p" "$log")
    [ -n "$packets" ] || die "$name: no such benchmark ($id)"
    awk -v t="$(sed -n 's/^summary: \([0-9]*\)$/\1/p' "$out")" -v n="$((runs * packets))" \
        'BEGIN { printf "%.2f\n", t / n }'
}

copy=$(count frame_copy)
printf '| benchmark | instructions/packet | less frame_copy |\n| --- | --- | --- |\n'
for name in "${names[@]}"; do
    per=$(count "$name")
    awk -v n="$name" -v p="$per" -v c="$copy" 'BEGIN {
        net = (n == "frame_copy" || n ~ /^(classify|flow_hash)/) ? "—" : sprintf("%.0f", p - c)
        printf "| %s | %.0f | %s |\n", n, p, net
    }'
done
echo "($runs runs each; commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ', with uncommitted changes'))"
