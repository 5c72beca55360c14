#!/usr/bin/env bash
# Reserves hugepages for DPDK and mounts hugetlbfs.
#
#   scripts/setup-hugepages.sh            # 1024 x 2 MiB pages (2 GiB) per NUMA node
#   scripts/setup-hugepages.sh 2048       # 2048 x 2 MiB pages per node
#   scripts/setup-hugepages.sh 4 1G       # 4 x 1 GiB pages per node (needs kernel support)
#   scripts/setup-hugepages.sh --status   # show what is reserved
#
# For production, reserve at boot instead (kernel command line: default_hugepagesz=1G
# hugepagesz=1G hugepages=16): late reservation can fail once memory is fragmented.
set -euo pipefail

status() {
    grep -E '^(HugePages_Total|HugePages_Free|Hugepagesize)' /proc/meminfo
    for n in /sys/devices/system/node/node*/hugepages/hugepages-*; do
        [ -e "$n/nr_hugepages" ] && echo "$(basename "$(dirname "$(dirname "$n")")") $(basename "$n"): $(cat "$n/nr_hugepages")"
    done
    mount -t hugetlbfs
}

if [ "${1:-}" = "--status" ]; then status; exit 0; fi
[ "$(id -u)" -eq 0 ] || { echo "run as root" >&2; exit 1; }

pages=${1:-1024}
size=${2:-2M}
case "$size" in
    2M) kb=2048 ;;
    1G) kb=1048576 ;;
    *) echo "page size must be 2M or 1G" >&2; exit 1 ;;
esac

nodes=(/sys/devices/system/node/node*)
if [ -e "${nodes[0]}" ]; then
    for node in "${nodes[@]}"; do
        f="$node/hugepages/hugepages-${kb}kB/nr_hugepages"
        [ -e "$f" ] || { echo "$size pages are not supported by this kernel" >&2; exit 1; }
        echo "$pages" > "$f"
        got=$(cat "$f")
        echo "$(basename "$node"): $got x $size pages"
        [ "$got" -ge "$pages" ] || echo "warning: only $got of $pages pages could be reserved on $(basename "$node")" >&2
    done
else
    echo "$pages" > "/sys/kernel/mm/hugepages/hugepages-${kb}kB/nr_hugepages"
fi

mnt=/dev/hugepages
[ "$size" = 1G ] && mnt=/dev/hugepages1G
if ! mount -t hugetlbfs | grep -q " $mnt "; then
    mkdir -p "$mnt"
    mount -t hugetlbfs -o pagesize="$size" nodev "$mnt"
fi
status
