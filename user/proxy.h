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


#include "resolve.h"

#include <sbx/conn.h>

#define SBX_PROXY_WORKERS_MAX 16
#define SBX_PROXY_SWEEP_MS 100	   /* how often each worker looks at its sessions' deadlines */
#define SBX_PROXY_FD_RESERVE 256   /* descriptors left for the control socket, DNS, maps */
#define SBX_PROXY_ACCEPT_PAUSE_MS 100 /* out of descriptors: stop accepting this long */

/* Limits and timeouts (sbxd(8), "Limits"); 0 in a field means its default. */
struct sbx_proxy_limits {
	unsigned sessions_per_sandbox; /* concurrent sessions one sandbox may hold (1024) */
	unsigned sessions_max;	       /* all sandboxes (from RLIMIT_NOFILE: 2 fds a session) */
	unsigned head_ms;	       /* the client's first bytes or request head (10 s) */
	unsigned sniff_ms;	       /* silence before a server-speaks-first dial (1 s) */
	unsigned dial_ms;	       /* upstream connect (10 s) */
	unsigned resolve_ms;	       /* upstream DNS for one session (10 s) */
	unsigned idle_ms;	       /* a relay with no byte either way (300 s) */
	unsigned half_close_ms;	       /* a relay one side of which has finished (30 s) */
};

#define SBX_PROXY_SESSIONS_PER_SANDBOX 1024
#define SBX_PROXY_LOOKUPS_PER_SANDBOX 64  /* upstream lookups one sandbox may have pending */
#define SBX_PROXY_HEAD_MS 10000
#define SBX_PROXY_SNIFF_MS 1000
#define SBX_PROXY_DIAL_MS 10000
#define SBX_PROXY_RESOLVE_MS 10000
#define SBX_PROXY_IDLE_MS 300000
#define SBX_PROXY_HALF_CLOSE_MS 30000

/* Who is connecting, as sbxd identifies it. Addresses in network order. */
struct sbx_proxy_client {
	uint32_t sandbox_id;
	char sandbox[64];
	uint32_t gw4;	     /* the sandbox's gateway: connects there mean host services */
	uint32_t orig_ip4;   /* transparent: the destination the app dialled */
	uint16_t orig_port;  /* host order */
};

/* A verdict copied out of the policy (its rules may change once the lock is let go). */
struct sbx_proxy_decision {
	bool allow;
	uint8_t reason;	     /* enum sbx_reason of include/sbx/bpf_abi.h */
	bool host_service;   /* dial the host's loopback */
	char rule[64];	     /* the deciding rule's name, "" for the default */
	char origin[32];     /* its provenance, "default policy" or "proxy" */
	char host[SBX_HOST_MAX + 1]; /* what was judged (see struct sbx_conn_verdict) */
	char detail[SBX_CONN_DETAIL_MAX];
	char fix[SBX_CONN_FIX_MAX]; /* a refusal: what to do next (include/sbx/conn.h) */
};

struct sbx_proxy_ops {
	void *ctx;
	/* Identify a connection by its peer; -ENOENT refuses it. */
	int (*identify)(void *ctx, bool transparent, const struct sockaddr_in *peer,
			struct sbx_proxy_client *out);
	/* sbx_conn_decide() on these facts (f->sandbox is set from c). */
	void (*decide)(void *ctx, const struct sbx_proxy_client *c, const struct sbx_conn_facts *f,
		       struct sbx_proxy_decision *d);
	/* sbx_addr_classify() against the host's addresses as they are now. */
	enum sbx_addr_class (*classify)(void *ctx, const struct sbx_addr *a, uint16_t port);
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
	struct sbx_proxy_limits limits;
	struct sbx_upstreams upstreams;
};

struct sbx_proxy;

/* Copy a verdict into a decision (under the policy lock: the rules may change after it). */
void sbx_proxy_decision_from(const struct sbx_conn_verdict *v, struct sbx_proxy_decision *d);

int sbx_proxy_start(const struct sbx_proxy_config *cfg, const struct sbx_proxy_ops *ops,
		    struct sbx_proxy **out);
void sbx_proxy_stop(struct sbx_proxy *p);

#endif
