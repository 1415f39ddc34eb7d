// SPDX-License-Identifier: MIT
/*
 * bench/proxy: the sbx egress proxy in the foreground on 127.0.0.1, for
 * bench/proxy.sh to load with wrk and curl. No daemon, no BPF: the ops
 * accept every peer as sandbox "bench" and decide through a real compiled
 * policy (the Balanced defaults plus an address rule for 127.0.0.1), so
 * every request pays for a real decision. Runs until SIGTERM or SIGINT,
 * then stops the proxy and prints the verdict counts to stderr.
 *
 *   proxy [--fwd-port P] [--tproxy-port P] [--workers N] [--dns IP:PORT]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sbx/policy.h>
#include "proxy.h"
#include "resolve.h"

#define SANDBOX "bench"
#define ALLOW_RULE "127.0.0.1"

static struct sbx_policy *policy;
static atomic_ulong verdicts[SBX_PROXY__MAX][2]; /* [kind][allow] */
static atomic_ulong reasons[SBX_REASON__MAX];

static int identify(void *ctx, bool transparent, const struct sockaddr_in *peer,
		    struct sbx_proxy_client *out)
{
	memset(out, 0, sizeof(*out));
	out->sandbox_id = 1;
	snprintf(out->sandbox, sizeof(out->sandbox), SANDBOX);
	out->gw4 = htonl(0x7f0000fe); /* 127.0.0.254: nothing here dials it */
	out->orig_ip4 = htonl(INADDR_LOOPBACK);
	out->orig_port = 18081;
	return 0;
}

static void decide(void *ctx, const struct sbx_proxy_client *c, const struct sbx_conn_facts *f,
		   struct sbx_proxy_decision *d)
{
	struct sbx_conn_verdict v;

	sbx_conn_decide(policy, f, &v);
	sbx_proxy_decision_from(&v, d);
}

static enum sbx_addr_class classify(void *ctx, const struct sbx_addr *a, uint16_t port)
{
	return sbx_addr_is_internal(a) ? SBX_ADDR_INTERNAL : SBX_ADDR_PUBLIC;
}

static bool name_for_addr(void *ctx, const struct sbx_proxy_client *c, uint32_t ip4, char *name,
			  size_t len)
{
	return false;
}

static void record(void *ctx, const struct sbx_proxy_client *c, uint8_t kind, const char *host,
		   uint16_t port, const struct sbx_proxy_decision *d)
{
	if (kind < SBX_PROXY__MAX)
		atomic_fetch_add_explicit(&verdicts[kind][d->allow], 1, memory_order_relaxed);
	if (d->reason < SBX_REASON__MAX)
		atomic_fetch_add_explicit(&reasons[d->reason], 1, memory_order_relaxed);
}

static int build_policy(void)
{
	struct sbx_rule *defs = NULL, r = { 0 };
	size_t ndefs = 0;
	char err[SBX_ERR_MAX];
	int ret;

	policy = sbx_policy_new();
	if (!policy)
		return -ENOMEM;
	ret = sbx_defaults_build(SBX_PRESET_BALANCED, &defs, &ndefs);
	for (size_t i = 0; !ret && i < ndefs; i++)
		ret = sbx_policy_add(policy, &defs[i]);
	sbx_rules_free(defs, ndefs);
	if (ret) {
		fprintf(stderr, "proxy: cannot build the Balanced defaults: %s\n", strerror(-ret));
		return ret;
	}
	snprintf(r.name, sizeof(r.name), "bench-origin");
	sbx_uuid_from_name(r.name, r.id);
	r.type = SBX_TYPE_NETWORK;
	r.decision = SBX_ALLOW;
	r.prov = SBX_PROV_LOCAL;
	ret = sbx_resource_list_parse(SBX_TYPE_NETWORK, ALLOW_RULE, &r.res, &r.nres, err,
				      sizeof(err));
	if (ret) {
		fprintf(stderr, "proxy: %s\n", err);
		return ret;
	}
	ret = sbx_policy_add(policy, &r);
	sbx_rule_release(&r);
	if (!ret)
		ret = sbx_policy_compile(policy);
	if (ret)
		fprintf(stderr, "proxy: cannot compile the policy: %s\n", strerror(-ret));
	else
		fprintf(stderr, "proxy: policy of %zu rules (Balanced defaults + %s)\n",
			sbx_policy_count(policy), ALLOW_RULE);
	return ret;
}

static int parse_port(const char *s, uint16_t *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < 1 || v > 65535)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: proxy [--fwd-port P] [--tproxy-port P] [--workers N] [--dns IP:PORT]\n"
		   "  defaults: --fwd-port 13180 --tproxy-port 13181 --workers 0 (one per CPU)\n"
		   "            --dns 127.0.0.1:53\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "fwd-port", required_argument, NULL, 'f' },
		{ "tproxy-port", required_argument, NULL, 't' },
		{ "workers", required_argument, NULL, 'w' },
		{ "dns", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static const struct sbx_proxy_ops ops = { NULL, identify, decide, classify,
						  name_for_addr, record };
	struct sbx_proxy_config cfg = { .bind_ip4 = htonl(INADDR_LOOPBACK),
					.fwd_port = 13180,
					.tproxy_port = 13181 };
	const char *dns = "127.0.0.1:53";
	struct sbx_proxy *proxy;
	char err[SBX_ERR_MAX];
	sigset_t set;
	int opt, sig = 0, ret;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'f':
		case 't':
			if (parse_port(optarg, opt == 'f' ? &cfg.fwd_port : &cfg.tproxy_port)) {
				fprintf(stderr, "proxy: bad port '%s'\n", optarg);
				return 2;
			}
			break;
		case 'w':
			cfg.workers = atoi(optarg);
			if (cfg.workers < 0 || cfg.workers > SBX_PROXY_WORKERS_MAX) {
				fprintf(stderr, "proxy: --workers takes 0..%d\n", SBX_PROXY_WORKERS_MAX);
				return 2;
			}
			break;
		case 'd':
			dns = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (sbx_upstreams_parse(dns, NULL, &cfg.upstreams, err, sizeof(err))) {
		fprintf(stderr, "proxy: %s\n", err);
		return 2;
	}
	if (build_policy())
		return 1;

	/* block the stop signals before the workers start, so only sigwait sees them */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	ret = sbx_proxy_start(&cfg, &ops, &proxy);
	if (ret) {
		fprintf(stderr, "proxy: cannot start on 127.0.0.1:%u/%u: %s\n", cfg.fwd_port,
			cfg.tproxy_port, strerror(-ret));
		sbx_policy_free(policy);
		return 1;
	}
	fprintf(stderr, "proxy: forward 127.0.0.1:%u, transparent 127.0.0.1:%u, %ld workers\n",
		cfg.fwd_port, cfg.tproxy_port,
		cfg.workers ? (long)cfg.workers : sysconf(_SC_NPROCESSORS_ONLN));
	while (sigwait(&set, &sig) != 0)
		;
	sbx_proxy_stop(proxy);
	sbx_policy_free(policy);

	fprintf(stderr, "proxy: stopped by signal %d; verdicts:\n", sig);
	for (int k = 0; k < SBX_PROXY__MAX; k++)
		for (int a = 1; a >= 0; a--)
			if (atomic_load(&verdicts[k][a]))
				fprintf(stderr, "  %-16s %-5s %lu\n", sbx_proxy_kind_name((unsigned)k),
					a ? "allow" : "block", atomic_load(&verdicts[k][a]));
	for (int r = 0; r < SBX_REASON__MAX; r++)
		if (atomic_load(&reasons[r]))
			fprintf(stderr, "  reason %-20s %lu\n", sbx_reason_name((unsigned)r),
				atomic_load(&reasons[r]));
	return 0;
}
