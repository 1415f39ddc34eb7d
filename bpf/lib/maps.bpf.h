/* SPDX-License-Identifier: MIT */
/*
 * Maps that more than one BPF object uses. Each object that includes this gets its own
 * definition; LIBBPF_PIN_BY_NAME plus the pin root that user/bpfmaps.c passes at open makes
 * libbpf create a map once, pin it under the bpffs dir, and reuse the pin everywhere else (the
 * other object, a restarted sbxd, the CLI).
 */
#ifndef SBX_MAPS_BPF_H
#define SBX_MAPS_BPF_H

#include <bpf/bpf_helpers.h>
#include "sbx/bpf_abi.h"

/* cgroup id -> sandbox; written by sbxd when it attaches a cgroup. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SBX_MAX_SANDBOXES);
	__type(key, __u64);
	__type(value, struct sbx_sandbox_cfg);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sbx_sandboxes SEC(".maps");

/*
 * Client (addr, port) -> original destination, for the proxy after accept() and for sbxd's
 * resolver to tell which attached cgroup a query on 127.0.0.1 comes from. Written by sockops
 * and the sock_addr hooks, and by the cgroup_skb filter for datagrams to the resolver.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SBX_MAX_CONN);
	__type(key, struct sbx_conn_key);
	__type(value, struct sbx_orig);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sbx_conn SEC(".maps");

/*
 * Verdict counters, written by the kernel programs (blocks) and sbxd's proxy (everything it
 * decides), read by `sbx policy log`. LRU rather than plain hash: when a sandbox sprays
 * distinct destinations the least recently seen keys are evicted, so the newest verdicts are
 * always recorded instead of the map filling up and silently losing them.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SBX_MAX_VERDICTS);
	__type(key, struct sbx_verdict_key);
	__type(value, struct sbx_verdict_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sbx_verdicts SEC(".maps");

/*
 * Marks sockets of a sandbox that were accepted (passive opens), set by sockops: the
 * cgroup_skb filter lets them answer local clients (the proxy dialing a host service the
 * policy allows). Socket-local storage dies with the socket.
 */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sbx_passive SEC(".maps");

#endif /* SBX_MAPS_BPF_H */
