#!/usr/bin/env bash
# Runs FRR (zebra + bgpd) inside a Linux network namespace, as an instance of its own: one
# per namespace, any number side by side on one machine (vtepd's shadow namespace, a route
# reflector, Linux VTEPs for the EVPN tests). Needs root and Debian's frr package (installed
# when missing); uses neither systemd nor /etc/frr/daemons.
#
# How the instances are kept apart: each daemon runs under `ip netns exec NAMESPACE`, so it
# sees that namespace's links, routes and neighbours and its BGP socket listens there; and
# each gets `-N NAMESPACE` (FRR's "pathspace"), which moves its vty sockets, zebra's zserv.api
# (the socket bgpd finds zebra by) and the pid files into /run/frr/NAMESPACE/, and vtysh -N
# talks to those. zebra needs no --vrfwnetns (that is for VRFs as namespaces, one zebra for
# all) and no -M module. The daemons' TCP vty ports are off (-P 0): vtysh uses the sockets.
#
# The daemons start with an empty configuration; CONFIG (an frr.conf-style file, as in
# config/frr/) is then loaded with `vtysh -f`, which hands each daemon its own sections.
# Changes made later through vtysh are not saved anywhere (`write` would go to /etc/frr/NS/).
#
# No watchfrr: a daemon that dies stays dead, and the status subcommand and the tests see
# it, rather than a restart (which would come back without the configuration loaded here
# and, for zebra, replay the kernel state) hiding it.
#
# An frr service that the package starts by itself (zebra and staticd in the root namespace,
# under /run/frr/) does not disturb these instances: other namespace, other paths, and no
# TCP vty here to collide with its 127.0.0.1 ports.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

usage() {
    cat <<USAGE
usage: $0 start NAMESPACE CONFIG   start zebra and bgpd in NAMESPACE, load CONFIG
       $0 stop NAMESPACE           stop that instance (and only that one)
       $0 status NAMESPACE         say whether it runs (exit 0: both daemons up, 3: not)
       $0 vtysh NAMESPACE [ARGS]   run vtysh against it, e.g.
                                   $0 vtysh vtepd -c 'show bgp l2vpn evpn summary'
Logs, pid files and sockets are in /run/frr/NAMESPACE/.
USAGE
    exit 2
}

FRR_BIN=/usr/lib/frr
# Where -N NAMESPACE puts the sockets and pid files (/var/run/frr/NAMESPACE; /var/run is
# /run on Debian). The logs go there too.
FRR_RUN=/run/frr
# In start order; stopped in the reverse order, so that bgpd can still tell its peers.
DAEMONS=(zebra bgpd)

check_name() {
    [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]] || die "bad namespace name '$1'"
}

check_netns() {
    [ -e "/run/netns/$1" ] || die "network namespace $1 does not exist (ip netns add $1)"
}

# Prints the pid of DAEMON of instance NS when it runs; fails when it does not.
daemon_pid() {
    local pidfile="$FRR_RUN/$1/$2.pid" pid
    [ -r "$pidfile" ] || return 1
    pid=$(<"$pidfile")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] || return 1
    echo "$pid"
}

# vtysh for instance NS. Its vtysh.conf is looked for in /run/frr/NS/ (an empty one is made
# at start): without one, vtysh complains about the missing /etc/frr/NS/vtysh.conf.
vtysh_ns() {
    local ns=$1
    shift
    vtysh -N "$ns" --config_dir "$FRR_RUN" "$@"
}

running_daemons() {
    local d
    for d in "${DAEMONS[@]}"; do
        if daemon_pid "$1" "$d" >/dev/null; then printf '%s ' "$d"; fi
    done
}

cmd_start() {
    [ $# -eq 2 ] || usage
    local ns=$1 config=$2 dir d up i
    check_name "$ns"
    [ "$(id -u)" -eq 0 ] || die "run as root"
    check_netns "$ns"
    [ -r "$config" ] || die "cannot read $config"
    up=$(running_daemons "$ns")
    [ -z "$up" ] || die "an FRR instance already runs in $ns (${up% }): $0 stop $ns first"
    ensure_packages frr

    dir="$FRR_RUN/$ns"
    install -d -o frr -g frr -m 0755 "$FRR_RUN" "$dir"
    rm -f "$dir"/*.pid "$dir"/*.vty "$dir/zserv.api"
    for d in "${DAEMONS[@]}"; do
        if [ -e "$dir/$d.log" ]; then mv -f "$dir/$d.log" "$dir/$d.log.old"; fi
    done
    : >"$dir/vtysh.conf"

    log "starting zebra and bgpd in namespace $ns (logs in $dir/)"
    # -s: a large netlink receive buffer, as Debian's /etc/frr/daemons gives zebra, so that
    # a burst of kernel notifications (many MACs at once) is not lost.
    ip netns exec "$ns" "$FRR_BIN/zebra" -d -N "$ns" -f /dev/null -P 0 -s 90000000 \
        -i "$dir/zebra.pid" --log "file:$dir/zebra.log" ||
        die "zebra did not start in $ns (see $dir/zebra.log)"
    for ((i = 0; i < 50; i++)); do
        [ -S "$dir/zserv.api" ] && break
        sleep 0.1
    done
    ip netns exec "$ns" "$FRR_BIN/bgpd" -d -N "$ns" -f /dev/null -P 0 \
        -i "$dir/bgpd.pid" --log "file:$dir/bgpd.log" ||
        { cmd_stop "$ns" >/dev/null 2>&1; die "bgpd did not start in $ns (see $dir/bgpd.log)"; }

    # vtysh answers once both daemons accept on their vty sockets.
    for ((i = 0; i < 100; i++)); do
        [ "$(vtysh_ns "$ns" -c 'show daemons' 2>/dev/null | xargs)" = "zebra bgpd" ] && break
        sleep 0.1
    done
    ((i < 100)) || { cmd_stop "$ns" >/dev/null 2>&1; die "FRR in $ns does not answer vtysh"; }

    log "loading $config"
    vtysh_ns "$ns" -f "$config" ||
        { cmd_stop "$ns" >/dev/null 2>&1; die "$config did not load (FRR in $ns stopped)"; }
    log "FRR runs in $ns: $0 vtysh $ns -c 'show bgp l2vpn evpn summary'"
}

cmd_stop() {
    [ $# -eq 1 ] || usage
    local ns=$1 dir="$FRR_RUN/$1" d pid i stopped=0
    check_name "$ns"
    for ((d = ${#DAEMONS[@]} - 1; d >= 0; d--)); do
        pid=$(daemon_pid "$ns" "${DAEMONS[d]}") || continue
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            [ -d "/proc/$pid" ] || break
            sleep 0.1
        done
        if [ -d "/proc/$pid" ]; then
            log "${DAEMONS[d]} ($pid) ignored SIGTERM for 10 s: killing it"
            kill -KILL "$pid" 2>/dev/null || true
            while [ -d "/proc/$pid" ]; do sleep 0.1; done
        fi
        stopped=$((stopped + 1))
    done
    rm -f "$dir"/*.pid "$dir"/*.vty "$dir/zserv.api"
    if ((stopped)); then log "FRR in $ns stopped"; else log "no FRR runs in $ns"; fi
}

cmd_status() {
    [ $# -eq 1 ] || usage
    local ns=$1 d pid n=0
    check_name "$ns"
    for d in "${DAEMONS[@]}"; do
        if pid=$(daemon_pid "$ns" "$d"); then
            echo "$d: running (pid $pid)"
            n=$((n + 1))
        else
            echo "$d: not running"
        fi
    done
    ((n == ${#DAEMONS[@]})) || exit 3
    vtysh_ns "$ns" -c 'show bgp summary'
}

cmd_vtysh() {
    [ $# -ge 1 ] || usage
    local ns=$1
    shift
    check_name "$ns"
    [ -n "$(running_daemons "$ns")" ] || die "no FRR runs in $ns: $0 start $ns CONFIG"
    vtysh_ns "$ns" "$@"
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case "$cmd" in
start) cmd_start "$@" ;;
stop) cmd_stop "$@" ;;
status) cmd_status "$@" ;;
vtysh) cmd_vtysh "$@" ;;
-h | --help | help) usage ;;
*) usage ;;
esac
