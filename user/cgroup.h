/* SPDX-License-Identifier: MIT */
/*
 * cgroup v2 helpers for the sandboxes: where the hierarchy is mounted, which cgroup a process
 * is in, how many processes a cgroup holds, and killing them all. They know nothing of sbx.
 */
#ifndef SBX_USER_CGROUP_H
#define SBX_USER_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sbx/sandbox.h> /* sbx_mountinfo_foreach */

/*
 * Where the cgroup v2 hierarchy is mounted: /sys/fs/cgroup, or /sys/fs/cgroup/unified on
 * hybrid hosts, or wherever else; @mnt_root (may be NULL) gets the mount's root within the
 * hierarchy ("/" normally). -ENOENT when there is none.
 */
int sbx_cgroup2_root(char *out, size_t len, char *mnt_root, size_t rootlen);

/* Processes directly in the cgroup; -errno when it cannot be read. */
int sbx_cgroup_nprocs(const char *cg);
/* Any process in the cgroup or below (cgroup.events "populated 1"). */
bool sbx_cgroup_populated(const char *cg);
/*
 * SIGKILL every process of the cgroup (cgroup.kill, or one pid at a time where the kernel
 * lacks it) without waiting. 0 when it was empty; -errno when cgroup.kill cannot be written.
 */
int sbx_cgroup_kill(const char *cg);
/* Kill every process of the cgroup and wait up to @ms until none is left (-ETIMEDOUT). */
int sbx_cgroup_stop(const char *cg, int ms);
/* The cgroup of a process, from its "0::" line in /proc/PID/cgroup, as a path under @cg_root. */
int sbx_cgroup_of_pid(pid_t pid, const char *cg_root, const char *mnt_root, char *out,
		      size_t len);

#endif
