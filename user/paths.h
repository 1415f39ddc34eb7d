/* SPDX-License-Identifier: MIT */
/* sbxd's config file; where an instance keeps its files is <sbx/paths.h>. */
#ifndef SBX_USER_PATHS_H
#define SBX_USER_PATHS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sbx/paths.h>

#include "idrange.h"

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

/*
 * Read the config file (a missing file means defaults), then SBX_DNS_UPSTREAM, which
 * overrides dns_upstream. -EINVAL with @err naming the file and line, or the variable.
 */
int sbx_config_load(const char *path, struct sbx_config *c, char *err, size_t errlen);

#endif
