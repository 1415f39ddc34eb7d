/* SPDX-License-Identifier: MIT */
/*
 * Asynchronous upstream DNS for one event loop: the proxy resolves the names
 * it dials, and sbxd's sandbox resolver forwards the names policy allows.
 * Upstreams come from SBX_DNS_UPSTREAM, the config, or /etc/resolv.conf.
 */
#ifndef SBX_RESOLVE_H
#define SBX_RESOLVE_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "dnsmsg.h"
#include "ev.h"

#define SBX_RESOLVE_UPSTREAMS 3
#define SBX_RESOLVE_TRIES 3
#define SBX_RESOLVE_TRY_MS 1500
/*
 * Lookups in flight per resolver. Each holds its own socket (a fresh random
 * source port), so this also bounds the descriptors a resolver holds; sbxd
 * runs one resolver per proxy worker and one for the sandboxes' resolver.
 */
#define SBX_RESOLVE_PENDING_MAX 512
#define SBX_RESOLVE_READS 16 /* datagrams read per wakeup of one query's socket */

struct sbx_upstreams {
	struct sockaddr_in addr[SBX_RESOLVE_UPSTREAMS];
	size_t n;
};

/*
 * Fill @up from @spec ("IP[:PORT]", comma-separated) or, when @spec is empty,
 * from the nameserver lines of @resolv_conf. -EINVAL with @err set on bad input.
 */
int sbx_upstreams_parse(const char *spec, const char *resolv_conf, struct sbx_upstreams *up,
			char *err, size_t errlen);

struct sbx_resolver;
/* @err is 0, -ETIMEDOUT, or -ECANCELED (resolver freed); @rcode the upstream's answer code. */
typedef void (*sbx_resolve_fn)(void *arg, int err, int rcode, const struct sbx_dns_rr *rrs,
			       size_t n);

int sbx_resolver_new(struct sbx_ev *ev, const struct sbx_upstreams *up,
		     struct sbx_resolver **out);
void sbx_resolver_free(struct sbx_resolver *r);
/* Start a lookup; @fn runs exactly once unless cancelled. Returns a handle > 0 or -errno. */
long sbx_resolve(struct sbx_resolver *r, const char *name, uint16_t qtype, sbx_resolve_fn fn,
		 void *arg);
void sbx_resolve_cancel(struct sbx_resolver *r, long handle);

#endif
