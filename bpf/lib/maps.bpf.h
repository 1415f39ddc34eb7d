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
 * Local UDP port -> the sandbox (and destination) of a datagram to sbxd's resolver from a
 * cgroup attached in the host namespace, which the resolver sees coming from 127.0.0.1. Apart
 * from sbx_conn so that no amount of DNS can evict a redirected TCP connection's entry; one
 * entry per port, so the map cannot fill up.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SBX_MAX_DNS_CLIENTS);
	__type(key, __u32);
	__type(value, struct sbx_orig);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sbx_dns_clients SEC(".maps");

/* The one writer of sbx_dns_clients: port -> sandbox_id, unless it is so already. */
static __always_inline void sbx_name_dns_client(__u32 sandbox_id, __u16 port, __u32 dst_ip4,
						__u16 dst_port)
{
	struct sbx_orig orig = {}, *old;
	__u32 key = port;

	old = bpf_map_lookup_elem(&sbx_dns_clients, &key);
	if (old && old->sandbox_id == sandbox_id)
		return;
	orig.sandbox_id = sandbox_id;
	orig.family = SBX_AF_INET;
	__builtin_memcpy(orig.addr, &dst_ip4, sizeof(dst_ip4));
	orig.port = dst_port;
	bpf_map_update_elem(&sbx_dns_clients, &key, &orig, BPF_ANY);
}

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
