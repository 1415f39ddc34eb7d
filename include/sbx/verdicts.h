/* SPDX-License-Identifier: MIT */
/*
 * Reading the pinned verdict counters and sandbox names without loading anything: what
 * `sbx policy log` needs while sbxd is down. The rest of the BPF side is user/bpfmaps.h.
 */
#ifndef SBX_VERDICTS_H
#define SBX_VERDICTS_H

#include <linux/types.h>
#include <sbx/bpf_abi.h>

/*
 * An fd of one pinned map (SBX_MAP_VERDICTS, SBX_MAP_SANDBOX_NAMES, ...) without loading
 * anything: for the CLI while sbxd is down. Prints nothing: -ENOENT if nothing is pinned
 * there, -EACCES or -EPERM without root, and the caller says what that means.
 */
int sbx_bpf_open_pinned_map(const char *pin_dir, const char *name);

/* From an fd of sbx_sandbox_names (e.g. sbx_bpf_open_pinned_map); -ENOENT if unnamed. */
int sbx_bpf_sandbox_name(int names_fd, __u32 sandbox_id, char name[SBX_SANDBOX_NAME_MAX]);

/*
 * Call fn for every verdict (at most SBX_MAX_VERDICTS), row counters left out; fn returning
 * non-zero stops the walk and is returned. Entries added or evicted meanwhile may be missed.
 */
int sbx_bpf_verdict_foreach(int map_fd,
			    int (*fn)(const struct sbx_verdict_key *k,
				      const struct sbx_verdict_val *v, void *arg),
			    void *arg);
/* A last_seen_ns (CLOCK_BOOTTIME) as CLOCK_REALTIME ns. */
__u64 sbx_bpf_boottime_to_realtime_ns(__u64 boot_ns);

#endif
