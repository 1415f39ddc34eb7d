/* SPDX-License-Identifier: MIT */
/*
 * The egress proxy: a forward proxy (absolute-URI HTTP and CONNECT) and a
 * transparent proxy (what connect4 redirects: TLS SNI, HTTP Host, or raw
 * TCP), one epoll loop per worker thread, relaying with splice. It knows
 * nothing of sandboxes or policies: sbxd passes the operations below.
 */
#ifndef SBX_PROXY_H
#define SBX_PROXY_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#include <sbx/conn.h> /* sbx_ip4_is_internal */

#include "resolve.h"

#define SBX_PROXY_WORKERS_MAX 16
#define SBX_PROXY_HEAD_MS 10000	   /* a client must send its request head within this */
#define SBX_PROXY_SNIFF_MS 1000	   /* transparent: wait this long for a first byte on other ports */
#define SBX_PROXY_DIAL_MS 10000	   /* upstream connect timeout */
#define SBX_PROXY_SESSIONS_MAX 4096 /* per worker */

/* Who is connecting, as sbxd identifies it. Addresses in network order. */
struct sbx_proxy_client {
	uint32_t sandbox_id;
	char sandbox[64];
	uint32_t gw4;	     /* the sandbox's gateway: connects there mean host services */
	uint32_t orig_ip4;   /* transparent: the destination the app dialled */
	uint16_t orig_port;  /* host order */
};

struct sbx_proxy_decision {
	bool allow;
	uint8_t reason;	     /* enum sbx_reason of include/sbx/bpf_abi.h */
	char rule[64];	     /* the deciding rule's name, "" for the default */
	char origin[32];     /* its provenance, or "default policy" */
	char detail[256];
};

struct sbx_proxy_ops {
	void *ctx;
	/* Identify a connection by its peer; -ENOENT refuses it. */
	int (*identify)(void *ctx, bool transparent, const struct sockaddr_in *peer,
			struct sbx_proxy_client *out);
	/* Decide host (a name or IP literal) on port for this client. */
	void (*decide)(void *ctx, const struct sbx_proxy_client *c, const char *host,
		       uint16_t port, struct sbx_proxy_decision *d);
	/* Is this internal address named by an address rule? (private-ip check) */
	bool (*addr_allowed)(void *ctx, const struct sbx_proxy_client *c, uint32_t ip4,
			     uint16_t port, struct sbx_proxy_decision *d);
	/* The name sbxd's resolver gave this client for ip4, if any. */
	bool (*name_for_addr)(void *ctx, const struct sbx_proxy_client *c, uint32_t ip4,
			      char *name, size_t len);
	/* Count a verdict (proxy kind: enum sbx_proxy_kind). */
	void (*record)(void *ctx, const struct sbx_proxy_client *c, uint8_t kind,
		       const char *host, uint16_t port, const struct sbx_proxy_decision *d);
};

struct sbx_proxy_config {
	uint32_t bind_ip4;   /* network order; INADDR_ANY by default */
	uint16_t fwd_port;
	uint16_t tproxy_port;
	int workers;	     /* 0: one per CPU */
	struct sbx_upstreams upstreams;
};

struct sbx_proxy;

int sbx_proxy_start(const struct sbx_proxy_config *cfg, const struct sbx_proxy_ops *ops,
		    struct sbx_proxy **out);
void sbx_proxy_stop(struct sbx_proxy *p);

#endif
