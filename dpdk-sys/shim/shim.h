/*
 * The one part of the DPDK API that bindgen cannot reach by itself: macros.
 * Everything `static inline` is wrapped by bindgen's wrap_static_fns instead.
 */
#ifndef VTEPD_DPDK_SHIM_H
#define VTEPD_DPDK_SHIM_H

#include <rte_config.h>
#include <rte_acl.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_eal.h>
#include <rte_cycles.h>
#include <rte_launch.h>
#include <rte_version.h>
#include <rte_gso.h>
#include <rte_telemetry.h>
#include <rte_net.h>
#include <rte_prefetch.h>

/* rte_errno is a macro over a per-lcore thread-local variable. */
int vtepd_rte_errno(void);

#endif
