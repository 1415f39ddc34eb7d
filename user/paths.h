/* SPDX-License-Identifier: MIT */
/*
 * Where an instance keeps its state, sockets and pins, from DESIGN.md's
 * defaults or the SBX_* environment overrides, so that isolated instances
 * (tests, benchmarks, a second daemon) never collide.
 */
#ifndef SBX_PATHS_H
#define SBX_PATHS_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "idrange.h"

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

struct sbx_config {
	char group[64];		/* who besides root may use the control socket */
	gid_t gid;		/* (gid_t)-1 when no group is configured */
	char dns_upstream[128];	/* up to 3 IP[:PORT], comma-separated; "" means resolv.conf */
	char sandbox_pool[32];	/* IPv4 CIDR sandbox addresses come from, "" means the default */
	struct sbx_ids_cfg ids;	/* sandbox_ids: host id blocks of the sandboxes' user ns */
	uint16_t proxy_port;	/* forward proxy on each sandbox gateway (3128) */
	uint16_t transparent_port; /* where connect4 sends everything else (3129) */
	uint16_t dns_port;	/* the sandboxes' resolver, UDP and TCP (3153) */
	/* proxy limits (sbxd(8), "Limits"); 0 means the default */
	unsigned sessions_per_sandbox; /* concurrent proxy sessions of one sandbox */
	unsigned head_timeout;	       /* seconds for a client's first bytes */
	unsigned idle_timeout;	       /* seconds a relay may carry nothing */
	unsigned half_close_timeout;   /* seconds a relay may stay half-closed */
};

/* -EINVAL with @err set if an override is unusable. */
int sbx_paths_init(struct sbx_paths *p, char *err, size_t errlen);
/*
 * Read the config file (a missing file means defaults), then SBX_DNS_UPSTREAM, which
 * overrides dns_upstream. -EINVAL with @err naming the file and line, or the variable.
 */
int sbx_config_load(const char *path, struct sbx_config *c, char *err, size_t errlen);

#endif
