/* SPDX-License-Identifier: MIT */
/*
 * The sandboxes' resolver. It answers only names the asking sandbox's policy
 * could allow (forwarding them upstream) and refuses the rest without asking
 * anyone, so a denied name never leaves the host (no DNS exfiltration). It
 * remembers which address it gave which sandbox for which name, so the
 * proxy can judge raw TCP to that address by the name.
 */
#ifndef SBX_DNSD_H
#define SBX_DNSD_H

#include <stdbool.h>
#include <stdint.h>

#include <netinet/in.h>

#include "ev.h"
#include "resolve.h"

#define SBX_DNSD_MEMORY 65536	  /* (sandbox, address) -> name entries kept */
#define SBX_DNSD_REMEMBER_S 3600  /* how long an answer stays usable for raw TCP */
#define SBX_DNSD_TTL_MAX 300	  /* cap on the TTL handed to sandboxes */
/*
 * Fair shares. Lookups in flight and DNS-over-TCP connections are limited per
 * sandbox as well as in all, so one sandbox at its limit leaves the others
 * answered: the totals hold SBX_DNSD_PENDING_MAX / SBX_DNSD_PENDING_PER_SANDBOX
 * (16) sandboxes at their limit before anyone else is turned away. Past its
 * share a query gets SERVFAIL at once and a TCP connection is closed.
 */
#define SBX_DNSD_PENDING_MAX SBX_RESOLVE_PENDING_MAX /* upstream lookups in flight */
#define SBX_DNSD_PENDING_PER_SANDBOX 32
#define SBX_DNSD_TCP_MAX 256	      /* DNS-over-TCP clients at once */
#define SBX_DNSD_TCP_PER_SANDBOX 16
#define SBX_DNSD_TCP_IDLE_MS 10000 /* a TCP client with no query started is closed */
#define SBX_DNSD_TCP_SLOW_MS 2000  /* a query must arrive whole this soon after it starts */

struct sbx_dnsd_ops {
	void *ctx;
	/* The sandbox behind a query's source address; false refuses the query. */
	bool (*identify)(void *ctx, const struct sockaddr_in *peer, uint32_t *sandbox_id,
			 char *sandbox, size_t len, uint32_t *gw4);
	/* Could the policy allow some connection to @name from @sandbox? */
	bool (*may_resolve)(void *ctx, const char *sandbox, const char *name);
	/* Count a refused name. */
	void (*refused)(void *ctx, uint32_t sandbox_id, const char *name);
};

struct sbx_dnsd;

int sbx_dnsd_start(struct sbx_ev *ev, uint32_t bind_ip4, uint16_t port,
		   const struct sbx_upstreams *up, const struct sbx_dnsd_ops *ops,
		   struct sbx_dnsd **out);
void sbx_dnsd_free(struct sbx_dnsd *d);
/* Thread-safe: the name this sandbox was given @ip4 for, if it still counts. */
bool sbx_dnsd_name_for(struct sbx_dnsd *d, uint32_t sandbox_id, uint32_t ip4, char *name,
		       size_t len);

#endif
