/* SPDX-License-Identifier: MIT */
/*
 * Where an instance keeps its state, sockets and pins, from DESIGN.md's
 * defaults or the SBX_* environment overrides, so that isolated instances
 * (tests, benchmarks, a second daemon) never collide. sbxd's config file is user/paths.h.
 */
#ifndef SBX_PATHS_H
#define SBX_PATHS_H

#include <limits.h>
#include <stddef.h>

#define SBX_INSTANCE_MAX 12 /* names of veths and cgroups derive from it */

struct sbx_paths {
	char instance[SBX_INSTANCE_MAX + 1];
	char state_dir[PATH_MAX];
	char run_dir[PATH_MAX];
	char bpf_dir[PATH_MAX];
	char config[PATH_MAX];
	char sock[PATH_MAX];	/* run_dir/sbxd.sock */
	char lock[PATH_MAX];	/* run_dir/sbxd.lock: held by the running daemon */
	char log[PATH_MAX];	/* run_dir/sbxd.log: the daemon's output when started on demand */
};

/* -EINVAL with @err set if an override is unusable. */
int sbx_paths_init(struct sbx_paths *p, char *err, size_t errlen);

#endif
