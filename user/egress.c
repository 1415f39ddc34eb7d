// SPDX-License-Identifier: MIT
/* The proxy and the sandboxes' resolver wired to policy, sandboxes and verdicts; see egress.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sbx/conn.h>

#include "dnsd.h"
#include "egress.h"
#include "hostaddr.h"
#include "log.h"
#include "proxy.h"
#include "sandbox.h"

#define ENV_REFRESH_MS 1000

struct sbx_egress {
	struct sbx_egress_deps deps;
	pthread_mutex_t env_lock;
	struct sbx_addr_env env; /* refreshed at most once every ENV_REFRESH_MS */
	uint64_t env_at;
	int verdicts_fd;
	struct sbx_proxy *proxy;
	struct sbx_dnsd *dnsd;
};

static void count(struct sbx_egress *e, uint32_t sandbox_id, uint8_t kind, bool allow,
		  uint8_t reason, const char *host, uint16_t port, const char *rule)
{
	struct sbx_verdict_key k;

	memset(&k, 0, sizeof(k)); /* every byte is hashed, padding included */
	k.sandbox_id = sandbox_id;
	k.proxy_kind = kind;
	k.decision = allow ? SBX_DECISION_ALLOW : SBX_DECISION_BLOCK;
	k.reason = reason;
	k.port = port;
	k.l4proto = 6;
	snprintf(k.host, sizeof(k.host), "%s", host);
	snprintf(k.rule, sizeof(k.rule), "%s", rule ? rule : "");
	if (e->verdicts_fd >= 0 && sbx_bpf_verdict_add(e->verdicts_fd, &k))
		pr_debug("cannot count a verdict for %s\n", host);
}

static void fill_client(const struct sbx_sandbox *sb, struct sbx_proxy_client *c)
{
	c->sandbox_id = sb->id;
	snprintf(c->sandbox, sizeof(c->sandbox), "%s", sb->name);
	c->gw4 = sb->gw4;
}

/*
 * An attached cgroup talks to us from 127.0.0.1: the kernel filed its sockets
 * by port (TCP under the address, UDP under address 0).
 */
static bool by_local_client(struct sbx_egress *e, const struct sockaddr_in *peer,
			    struct sbx_sandbox *sb)
{
	struct sbx_orig orig;
	uint16_t port = ntohs(peer->sin_port);

	if (ntohl(peer->sin_addr.s_addr) >> 24 != 127)
		return false;
	if (sbx_bpf_lookup_conn(e->deps.bpf, peer->sin_addr.s_addr, port, &orig) &&
	    sbx_bpf_lookup_conn(e->deps.bpf, 0, port, &orig))
		return false;
	return sbx_sandboxes_by_id(e->deps.sandboxes, orig.sandbox_id, sb) && sb->attached;
}

static int identify(void *ctx, bool transparent, const struct sockaddr_in *peer,
		    struct sbx_proxy_client *out)
{
	struct sbx_egress *e = ctx;
	struct sbx_sandbox sb;

	memset(out, 0, sizeof(*out));
	if (transparent) {
		struct sbx_orig orig;
		uint16_t port = ntohs(peer->sin_port);

		/* sockops recorded the original destination under the client's address */
		if (sbx_bpf_lookup_conn(e->deps.bpf, peer->sin_addr.s_addr, port, &orig))
			return -ENOENT;
		sbx_bpf_delete_conn(e->deps.bpf, peer->sin_addr.s_addr, port);
		if (orig.family != SBX_AF_INET ||
		    !sbx_sandboxes_by_id(e->deps.sandboxes, orig.sandbox_id, &sb))
			return -ENOENT;
		fill_client(&sb, out);
		memcpy(&out->orig_ip4, orig.addr, 4);
		out->orig_port = orig.port;
		return 0;
	}
	if (!sbx_sandboxes_by_ip(e->deps.sandboxes, peer->sin_addr.s_addr, &sb) &&
	    !by_local_client(e, peer, &sb))
		return -ENOENT;
	fill_client(&sb, out);
	return 0;
}

static void decide(void *ctx, const struct sbx_proxy_client *c, const struct sbx_conn_facts *f,
		   struct sbx_proxy_decision *d)
{
	struct sbx_egress *e = ctx;
	const struct sbx_policy *p = sbx_policyd_read_lock(e->deps.pd);
	struct sbx_conn_verdict v;

	sbx_conn_decide(p, f, &v);
	sbx_proxy_decision_from(&v, d);
	sbx_policyd_read_unlock(e->deps.pd);
}

/* The host's addresses change (sandboxes come and go): look again at most once a second. */
static enum sbx_addr_class classify(void *ctx, const struct sbx_addr *a, uint16_t port)
{
	struct sbx_egress *e = ctx;
	uint64_t now = sbx_ev_now_ms();
	enum sbx_addr_class c;

	pthread_mutex_lock(&e->env_lock);
	if (now - e->env_at >= ENV_REFRESH_MS || !e->env_at) {
		const uint16_t ports[] = { e->deps.fwd_port, e->deps.tproxy_port,
					   e->deps.dns_port };
		int ret = sbx_addr_env_build(&e->env, e->deps.cfg->sandbox_pool, ports, 3);

		if (ret)
			pr_warn("cannot list the host's addresses: %s\n", strerror(-ret));
		e->env_at = now;
	}
	c = sbx_addr_classify(&e->env, a, port);
	pthread_mutex_unlock(&e->env_lock);
	return c;
}

static bool name_for_addr(void *ctx, const struct sbx_proxy_client *c, uint32_t ip4, char *name,
			  size_t len)
{
	struct sbx_egress *e = ctx;

	return sbx_dnsd_name_for(e->dnsd, c->sandbox_id, ip4, name, len);
}

static void record(void *ctx, const struct sbx_proxy_client *c, uint8_t kind, const char *host,
		   uint16_t port, const struct sbx_proxy_decision *d)
{
	count(ctx, c->sandbox_id, kind, d->allow, d->reason, host, port, d->rule);
}

static bool dns_identify(void *ctx, const struct sockaddr_in *peer, uint32_t *sandbox_id,
			 char *sandbox, size_t len, uint32_t *gw4)
{
	struct sbx_egress *e = ctx;
	struct sbx_sandbox sb;

	if (!sbx_sandboxes_by_ip(e->deps.sandboxes, peer->sin_addr.s_addr, &sb) &&
	    !by_local_client(e, peer, &sb))
		return false;
	*sandbox_id = sb.id;
	snprintf(sandbox, len, "%s", sb.name);
	*gw4 = sb.gw4;
	return true;
}

static bool may_resolve(void *ctx, const char *sandbox, const char *name)
{
	struct sbx_egress *e = ctx;
	bool ok = sbx_policy_may_allow(sbx_policyd_read_lock(e->deps.pd), sandbox, name);

	sbx_policyd_read_unlock(e->deps.pd);
	return ok;
}

static void dns_refused(void *ctx, uint32_t sandbox_id, const char *name)
{
	count(ctx, sandbox_id, SBX_PROXY_NETWORK, false, SBX_REASON_DNS_REFUSED, name, 53, NULL);
}

int sbx_egress_start(const struct sbx_egress_deps *deps, struct sbx_egress **out, char *err,
		     size_t errlen)
{
	struct sbx_egress *e = calloc(1, sizeof(*e));
	struct sbx_proxy_config pc = { 0 };
	struct sbx_proxy_ops pops = {
		.identify = identify,
		.decide = decide,
		.classify = classify,
		.name_for_addr = name_for_addr,
		.record = record,
	};
	struct sbx_dnsd_ops dops = {
		.identify = dns_identify,
		.may_resolve = may_resolve,
		.refused = dns_refused,
	};
	int ret;

	if (!e)
		return -ENOMEM;
	e->deps = *deps;
	pops.ctx = dops.ctx = e;
	pthread_mutex_init(&e->env_lock, NULL);
	e->verdicts_fd = sbx_bpf_map_fd(deps->bpf, SBX_MAP_VERDICTS);
	/* SBX_DNS_UPSTREAM is in cfg already (sbx_config_load) */
	ret = sbx_upstreams_parse(deps->cfg->dns_upstream, "/etc/resolv.conf", &pc.upstreams, err,
				  errlen);
	if (ret)
		goto fail;
	pc.bind_ip4 = htonl(INADDR_ANY);
	pc.fwd_port = deps->fwd_port;
	pc.tproxy_port = deps->tproxy_port;
	pc.workers = deps->workers;
	pc.limits.sessions_per_sandbox = deps->cfg->sessions_per_sandbox;
	pc.limits.head_ms = deps->cfg->head_timeout * 1000;
	pc.limits.idle_ms = deps->cfg->idle_timeout * 1000;
	pc.limits.half_close_ms = deps->cfg->half_close_timeout * 1000;
	ret = sbx_dnsd_start(deps->ev, htonl(INADDR_ANY), deps->dns_port, &pc.upstreams, &dops,
			     &e->dnsd);
	if (ret) {
		snprintf(err, errlen, "cannot serve DNS on port %u: %s", deps->dns_port,
			 strerror(-ret));
		goto fail;
	}
	ret = sbx_proxy_start(&pc, &pops, &e->proxy);
	if (ret) {
		snprintf(err, errlen, "cannot listen on ports %u/%u: %s", deps->fwd_port,
			 deps->tproxy_port, strerror(-ret));
		goto fail;
	}
	pr_info("egress proxy on ports %u (forward) and %u (transparent), DNS on %u\n",
		deps->fwd_port, deps->tproxy_port, deps->dns_port);
	*out = e;
	return 0;
fail:
	sbx_egress_stop(e);
	return ret;
}

void sbx_egress_stop(struct sbx_egress *e)
{
	if (!e)
		return;
	sbx_proxy_stop(e->proxy);
	sbx_dnsd_free(e->dnsd);
	pthread_mutex_destroy(&e->env_lock);
	free(e);
}
