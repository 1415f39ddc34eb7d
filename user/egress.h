/* SPDX-License-Identifier: MIT */
/*
 * The way out of every sandbox: the forward and transparent proxy, the
 * sandboxes' resolver, and the verdict counters they share with the kernel
 * programs. It glues proxy.c and dnsd.c to the policy, the sandbox registry
 * and the pinned BPF maps.
 */
#ifndef SBX_EGRESS_H
#define SBX_EGRESS_H

#include "bpfmaps.h"
#include "ev.h"
#include "paths.h"
#include "policyd.h"

struct sbx_sandboxes;

/* The ports sbxd serves sandboxes on (the gateway address of each). */
#define SBX_FWD_PORT_DEFAULT 3128
#define SBX_TPROXY_PORT_DEFAULT 3129
#define SBX_DNS_PORT_DEFAULT 3153

struct sbx_egress_deps {
	struct sbx_ev *ev; /* the daemon's loop, for the resolver */
	struct sbx_policyd *pd;
	struct sbx_sandboxes *sandboxes;
	struct sbx_bpf *bpf;
	const struct sbx_config *cfg;
	uint16_t fwd_port, tproxy_port, dns_port;
	int workers; /* 0: one per CPU */
};

struct sbx_egress;

/* Start listening; -errno with @err saying what failed. */
int sbx_egress_start(const struct sbx_egress_deps *deps, struct sbx_egress **out, char *err,
		     size_t errlen);
void sbx_egress_stop(struct sbx_egress *e);

#endif
