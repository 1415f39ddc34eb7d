/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the one connection decision, sbx_conn_decide (user/conn.c), with
 * the address classification the proxy runs before it. The input picks a policy (one of
 * POLICIES), the kind of connection, port, stream kind, sandbox, the address dialled and
 * the upstream (from a table of telling addresses, or raw bytes), then the target, the
 * resolver's name and the stream's name as text lines. Besides "no crash", it checks the
 * promises of sbxd(8) and issue 6: nothing is allowed without a rule; a sandbox's address
 * and sbx's own listeners are never dialled; a host address only through a host-service
 * (localhost:PORT) rule, never by "**"; an internal address only by an address rule; a
 * malformed stream is never relayed; a deny on an address holds whatever name led there;
 * a refusal always says why. Built and run by `make fuzz` (see tests/fuzz/run.sh).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sbx/conn.h>

#define POLICIES 3
#define TEXT_MAX 1024

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const rules[POLICIES][3][2] = {
	/* { decision, resources } */
	{ { "allow", "**,localhost:8080" }, { "deny", "198.51.100.13" }, { NULL, NULL } },
	{ { "allow", "a.io,*.b.io:443,10.1.0.0/16:22,fd00::/8" },
	  { "deny", "evil.b.io" },
	  { "allow", "localhost:8080" } },
	{ { NULL, NULL } }, /* no rule: everything is refused */
};

/* Addresses that are not what they seem, and some that are. */
static const char *const telling[] = {
	"192.0.2.1",	    "10.200.0.1",	 "10.200.0.5",	   "127.0.0.1",
	"10.1.2.3",	    "198.51.100.13",	 "198.51.100.7",   "169.254.169.254",
	"::1",		    "::ffff:127.0.0.1", "2001:db8::1",	   "64:ff9b::7f00:1",
	"fd00::1",	    "2002:7f00:1::1",	 "100.64.0.1",	   "203.0.113.9",
};

static struct sbx_policy *policies[POLICIES];
static struct sbx_addr_env env;

static void add_rule(struct sbx_policy *p, const char *decision, const char *resources,
		     unsigned i)
{
	struct sbx_rule r = { .type = SBX_TYPE_NETWORK };
	char err[SBX_ERR_MAX];

	snprintf(r.id, sizeof(r.id), "00000000-0000-4000-8000-00000000000%u", i);
	snprintf(r.name, sizeof(r.name), "rule%u", i);
	err[0] = '\0';
	if (sbx_decision_parse(decision, &r.decision) ||
	    sbx_resource_list_parse(r.type, resources, &r.res, &r.nres, err, sizeof(err)) ||
	    sbx_policy_add(p, &r)) {
		fprintf(stderr, "fuzz_conn: cannot make rule %s %s: %s\n", decision, resources,
			err);
		abort();
	}
	free(r.res);
}

static void parse_addr(const char *text, struct sbx_addr *a)
{
	if (sbx_addr_parse(text, a) != 1)
		abort();
}

static void setup(void)
{
	static const char *const host[] = { "192.0.2.1", "10.200.0.1", "2001:db8::1" };
	static const uint16_t own[] = { 3128, 3129, 3153 };
	struct sbx_addr a;

	for (unsigned i = 0; i < POLICIES; i++) {
		policies[i] = sbx_policy_new();
		if (!policies[i])
			abort();
		for (unsigned j = 0; j < 3 && rules[i][j][0]; j++)
			add_rule(policies[i], rules[i][j][0], rules[i][j][1], j);
		if (sbx_policy_compile(policies[i]))
			abort();
	}
	for (size_t i = 0; i < sizeof(host) / sizeof(host[0]); i++) {
		parse_addr(host[i], &a);
		sbx_addr_env_add_host(&env, &a);
	}
	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		sbx_addr_env_add_port(&env, own[i]);
	parse_addr("10.200.0.0", &a);
	sbx_addr_env_set_pool(&env, &a, 16);
}

/* An address from @sel: one of the telling ones, or @raw's bytes. */
static void pick_addr(uint8_t sel, const uint8_t raw[16], struct sbx_addr *a)
{
	if (sel < sizeof(telling) / sizeof(telling[0])) {
		parse_addr(telling[sel], a);
		return;
	}
	a->family = sel & 1 ? 6 : 4;
	memset(a->a, 0, sizeof(a->a));
	memcpy(a->a, raw, a->family == 4 ? 4 : 16);
}

static bool same_addr(const struct sbx_addr *a, const char *text)
{
	struct sbx_addr b;

	parse_addr(text, &b);
	return a->family == b.family && memcmp(a->a, b.a, a->family == 4 ? 4 : 16) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sbx_conn_facts f = { 0 };
	struct sbx_conn_verdict v;
	char text[TEXT_MAX], *line[3] = { NULL, NULL, NULL }, *next;
	unsigned policy;
	int err;

	if (!policies[0])
		setup();
	if (size < 38 || size - 38 >= sizeof(text))
		return 0;
	policy = data[0] % POLICIES;
	f.kind = (enum sbx_conn_kind)(data[1] & 3);
	f.stream = (enum sbx_stream)((data[1] >> 2) % (SBX_STREAM_BAD + 1));
	f.dialled = data[1] & 0x40;
	f.sandbox = data[1] & 0x80 ? "dev" : NULL;
	f.port = (uint16_t)(data[2] << 8 | data[3]);
	pick_addr(data[4], data + 6, &f.orig);
	if (data[5] & 0x80)
		pick_addr(data[5] & 0x7f, data + 22, &f.upstream);
	/* what the proxy classifies before it asks */
	f.orig_class = sbx_addr_classify(&env, &f.orig, f.port);
	if (f.upstream.family)
		f.up_class = sbx_addr_classify(&env, &f.upstream, f.port);
	memcpy(text, data + 38, size - 38);
	text[size - 38] = '\0';
	next = text;
	for (int i = 0; i < 3 && next; i++) {
		line[i] = next;
		next = strchr(next, '\n');
		if (next)
			*next++ = '\0';
	}
	f.target = line[0];
	f.dns_name = line[1];
	f.stream_name = line[2];
	if (f.kind == SBX_CONN_TRANSPARENT)
		f.target = NULL;

	err = sbx_conn_decide(policies[policy], &f, &v);
	if (err != 0 && err != -EINVAL)
		abort();
	if (err && v.allow)
		abort();
	if (!v.allow) {
		/* every refusal says what to do next */
		if (!v.detail[0] || !v.fix[0] || v.host_service)
			abort();
		return 0;
	}
	if (v.fix[0])
		abort();
	/* allowed: only by a rule, never by the default */
	if (!v.rule || !v.res || v.rule->decision != SBX_ALLOW || policy == 2)
		abort();
	if (f.stream == SBX_STREAM_BAD)
		abort();
	if (f.upstream.family) {
		if (f.up_class == SBX_ADDR_SANDBOX || f.up_class == SBX_ADDR_OWN)
			abort();
		if (f.up_class == SBX_ADDR_HOST && !v.host_service)
			abort();
		if (f.up_class == SBX_ADDR_INTERNAL && !v.by_address)
			abort();
		if (policy == 0 && same_addr(&f.upstream, "198.51.100.13"))
			abort();
	}
	if (f.kind == SBX_CONN_TRANSPARENT &&
	    (f.orig_class == SBX_ADDR_SANDBOX || f.orig_class == SBX_ADDR_OWN))
		abort();
	/* the host is opened only by a host-service rule, never by "**" */
	if (v.host_service && v.res->kind != SBX_RES_LOCALHOST)
		abort();
	return 0;
}
