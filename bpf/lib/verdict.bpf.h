/* SPDX-License-Identifier: MIT */
/*
 * Counting a kernel block in sbx_verdicts: the one exit every drop/deny path goes through.
 */
#ifndef SBX_VERDICT_BPF_H
#define SBX_VERDICT_BPF_H

#include <bpf/bpf_helpers.h>
#include "sbx/bpf_abi.h"
#include "lib/maps.bpf.h"

/* What the kernel knows about a blocked attempt; addr as in sbx_verdict_key. */
struct sbx_block {
	__u32 sandbox_id;
	__u8 reason;
	__u8 family;
	__u8 l4proto;
	__u8 pad;
	__u16 port;	/* host order */
	__u16 pad2;
	__u32 addr[4];	/* network order words */
};

/*
 * Counter update safe against other CPUs: an existing entry is bumped atomically; a missing
 * one is inserted with BPF_NOEXIST, and if another CPU won that race (-EEXIST) the entry it
 * created is bumped instead. A failure here never changes the verdict.
 */
static __always_inline void sbx_count_block(const struct sbx_block *b)
{
	struct sbx_verdict_key key;
	struct sbx_verdict_val init = {}, *val;
	__u64 now = bpf_ktime_get_boot_ns();

	__builtin_memset(&key, 0, sizeof(key));
	key.sandbox_id = b->sandbox_id;
	key.proxy_kind = SBX_PROXY_NETWORK;
	key.decision = SBX_DECISION_BLOCK;
	key.reason = b->reason;
	key.family = b->family;
	__builtin_memcpy(key.addr, b->addr, sizeof(key.addr));
	key.port = b->port;
	key.l4proto = b->l4proto;

	val = bpf_map_lookup_elem(&sbx_verdicts, &key);
	if (!val) {
		init.count = 1;
		init.last_seen_ns = now;
		/* -17: EEXIST, another CPU inserted it first */
		if (bpf_map_update_elem(&sbx_verdicts, &key, &init, BPF_NOEXIST) != -17)
			return;
		val = bpf_map_lookup_elem(&sbx_verdicts, &key);
		if (!val)
			return;
	}
	__sync_fetch_and_add(&val->count, 1);
	val->last_seen_ns = now;
}

#endif /* SBX_VERDICT_BPF_H */
