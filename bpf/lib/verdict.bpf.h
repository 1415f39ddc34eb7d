/* SPDX-License-Identifier: MIT */
/*
 * Counting a kernel block in sbx_verdicts: the one exit every drop/deny path goes through.
 *
 * A sandbox may create at most SBX_VERDICTS_PER_SANDBOX rows (its row counter is the
 * SBX_PROXY_NONE row of its id, see bpf_abi.h); past that, a block to a destination it has no
 * row for is counted in its "(other hosts)" row of that reason, so one sandbox spraying
 * destinations cannot evict another's history from the LRU map, and no block goes uncounted.
 * user/bpfmaps.c sbx_bpf_verdict_add applies the same rule to the proxy's verdicts.
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
	char host[16];	/* a name for a block without an address ("family 40"), or empty */
};

/* Which row of a block: its own, the sandbox's row counter, or its "(other hosts)" row. */
enum sbx_row {
	SBX_ROW_EXACT,
	SBX_ROW_COUNTER,
	SBX_ROW_OTHER,
};

/* One key buffer reused for the three rows: two would not fit the 512-byte BPF stack. */
static __always_inline void sbx_fill_key(struct sbx_verdict_key *key, const struct sbx_block *b,
					 enum sbx_row row)
{
	__builtin_memset(key, 0, sizeof(*key));
	key->sandbox_id = b->sandbox_id;
	if (row == SBX_ROW_COUNTER)
		return;
	key->proxy_kind = SBX_PROXY_NETWORK;
	key->decision = SBX_DECISION_BLOCK;
	key->reason = b->reason;
	if (row == SBX_ROW_OTHER) {
		__builtin_memcpy(key->host, SBX_VERDICT_OTHER_HOSTS, sizeof(SBX_VERDICT_OTHER_HOSTS));
		return;
	}
	key->family = b->family;
	__builtin_memcpy(key->addr, b->addr, sizeof(key->addr));
	key->port = b->port;
	key->l4proto = b->l4proto;
	__builtin_memcpy(key->host, b->host, sizeof(b->host));
}

/*
 * Inserts key with count 1, or bumps it if another CPU inserted it first. Returns 1 if this
 * call created the row, 0 if it bumped one, -1 if the map would take neither.
 */
static __always_inline int sbx_insert_or_bump(struct sbx_verdict_key *key, __u64 now)
{
	struct sbx_verdict_val init = { .count = 1, .last_seen_ns = now }, *val;

	/* -17: EEXIST, another CPU inserted it first */
	if (bpf_map_update_elem(&sbx_verdicts, key, &init, BPF_NOEXIST) != -17)
		return bpf_map_lookup_elem(&sbx_verdicts, key) ? 1 : -1;
	val = bpf_map_lookup_elem(&sbx_verdicts, key);
	if (!val)
		return -1;
	__sync_fetch_and_add(&val->count, 1);
	val->last_seen_ns = now;
	return 0;
}

/*
 * Takes one of the sandbox's rows; NULL if it has none left (or its counter cannot be had).
 * The counter is read, then bumped: CPUs racing on the last free row may each take one, so the
 * bound can be passed by as many rows as CPUs create at the same instant, never more.
 */
static __always_inline struct sbx_verdict_val *sbx_take_row(struct sbx_verdict_key *key,
							    const struct sbx_block *b, __u64 now)
{
	struct sbx_verdict_val zero = {}, *rows;

	sbx_fill_key(key, b, SBX_ROW_COUNTER);
	rows = bpf_map_lookup_elem(&sbx_verdicts, key);
	if (!rows) {
		bpf_map_update_elem(&sbx_verdicts, key, &zero, BPF_NOEXIST);
		rows = bpf_map_lookup_elem(&sbx_verdicts, key);
		if (!rows)
			return NULL;
	}
	if (rows->count >= SBX_VERDICTS_PER_SANDBOX)
		return NULL;
	__sync_fetch_and_add(&rows->count, 1);
	rows->last_seen_ns = now;
	return rows;
}

/*
 * Counter update safe against other CPUs: an existing entry is bumped atomically; a missing
 * one is inserted with BPF_NOEXIST, and if another CPU won that race (-EEXIST) the entry it
 * created is bumped instead. A failure here never changes the verdict.
 */
static __always_inline void sbx_count_block(const struct sbx_block *b)
{
	struct sbx_verdict_key key;
	struct sbx_verdict_val *val, *rows;
	__u64 now = bpf_ktime_get_boot_ns();

	sbx_fill_key(&key, b, SBX_ROW_EXACT);
	val = bpf_map_lookup_elem(&sbx_verdicts, &key);
	if (val) {
		__sync_fetch_and_add(&val->count, 1);
		val->last_seen_ns = now;
		return;
	}
	rows = sbx_take_row(&key, b, now);
	if (rows) {
		sbx_fill_key(&key, b, SBX_ROW_EXACT);
		if (sbx_insert_or_bump(&key, now) == 1)
			return;
		/* The row came from another CPU, or not at all: give ours back. */
		__sync_fetch_and_add(&rows->count, -1);
		return;
	}
	sbx_fill_key(&key, b, SBX_ROW_OTHER);
	sbx_insert_or_bump(&key, now);
}

#endif /* SBX_VERDICT_BPF_H */
