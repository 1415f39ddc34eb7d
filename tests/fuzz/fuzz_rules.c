/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the rule grammar in user/policy.c: sbx_resource_parse and
 * sbx_resource_list_parse for each rule type, sbx_host_normalize and
 * sbx_sandbox_name_check. The first byte picks the rule type; the rest is the text. Besides
 * "no crash", it checks: a refusal says why; a parsed resource's canonical text parses back
 * to itself (what the store saves is what it loads); a name rule's host is already
 * normalised and is no address in any spelling; a list holds no duplicates and each item is
 * its own parse; a normalised host normalises to itself and is an address sbx accepts or no
 * address at all; and an allow rule made of a parsed network resource allows the host,
 * address and port it names. Built and run by `make fuzz` (see tests/fuzz/run.sh).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sbx/conn.h>
#include <sbx/policy.h>

#define TEXT_MAX (2 * SBX_RESOURCE_MAX + 64)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same_resource(const struct sbx_resource *a, const struct sbx_resource *b)
{
	if (a->kind != b->kind || a->port != b->port || strcmp(a->text, b->text) ||
	    strcmp(a->host, b->host))
		abort();
	if (a->kind == SBX_RES_CIDR &&
	    (a->family != b->family || a->prefix != b->prefix || memcmp(a->addr, b->addr, 16)))
		abort();
}

/* An allow rule of just @res must allow what @res names. */
static void check_match(const struct sbx_resource *res)
{
	struct sbx_rule rule = { .type = SBX_TYPE_NETWORK, .decision = SBX_ALLOW, .nres = 1 };
	uint16_t port = res->port ? res->port : 443;
	struct sbx_policy *p = sbx_policy_new();
	struct sbx_verdict v;
	char host[SBX_HOST_MAX + 8];
	int err = 0;

	snprintf(host, sizeof(host), "%s", res->kind == SBX_RES_ANY ? "example.com" : res->host);

	if (!p)
		return;
	snprintf(rule.id, sizeof(rule.id), "00000000-0000-4000-8000-000000000000");
	snprintf(rule.name, sizeof(rule.name), "fuzz");
	rule.res = (struct sbx_resource *)res;
	if (sbx_policy_add(p, &rule) || sbx_policy_compile(p))
		abort();
	switch (res->kind) {
	case SBX_RES_SUBDOMAIN:
		if (strlen(res->host) + 2 > SBX_HOST_MAX)
			goto out;
		snprintf(host, sizeof(host), "a.%s", res->host);
		/* fall through */
	case SBX_RES_EXACT:
	case SBX_RES_TREE:
	case SBX_RES_ANY:
		err = sbx_policy_decide(p, NULL, host, port, &v);
		break;
	case SBX_RES_CIDR:
		err = sbx_policy_decide_addr(p, NULL, res->family, res->addr, port, &v);
		break;
	default:
		goto out;
	}
	if (err || v.decision != SBX_ALLOW || !v.rule || v.res != &v.rule->res[0])
		abort();
	if (res->kind != SBX_RES_CIDR && !sbx_policy_may_allow(p, NULL, host))
		abort();
out:
	sbx_policy_free(p);
}

static void fuzz_resource(enum sbx_rule_type type, const char *text)
{
	struct sbx_resource r, again;
	char err[SBX_ERR_MAX] = "", err2[SBX_ERR_MAX], norm[SBX_HOST_MAX + 1];

	if (sbx_resource_parse(type, text, &r, err, sizeof(err))) {
		if (!err[0])
			abort();
		return;
	}
	if (!r.text[0] || strlen(r.text) >= SBX_RESOURCE_MAX)
		abort();
	if (sbx_resource_parse(type, r.text, &again, err2, sizeof(err2)))
		abort();
	same_resource(&r, &again);
	if (type != SBX_TYPE_NETWORK) {
		if (r.kind != SBX_RES_PATH)
			abort();
		return;
	}
	if (r.kind == SBX_RES_EXACT || r.kind == SBX_RES_SUBDOMAIN || r.kind == SBX_RES_TREE) {
		if (sbx_host_normalize(r.host, norm, sizeof(norm), err2, sizeof(err2)) ||
		    strcmp(norm, r.host))
			abort();
		/* a name rule never names an address, in any spelling (issue 6, item 13) */
		if (sbx_addr_parse(r.host, &(struct sbx_addr){ 0 }) != 0)
			abort();
	}
	check_match(&r);
}

static void fuzz_list(enum sbx_rule_type type, const char *text)
{
	struct sbx_resource *res = NULL, one;
	char err[SBX_ERR_MAX] = "", err2[SBX_ERR_MAX];
	size_t n = 0;

	if (sbx_resource_list_parse(type, text, &res, &n, err, sizeof(err))) {
		if (!err[0] || res || n)
			abort();
		return;
	}
	if (!n || n > SBX_RESOURCES_PER_RULE)
		abort();
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < i; j++)
			if (strcmp(res[i].text, res[j].text) == 0)
				abort();
		if (sbx_resource_parse(type, res[i].text, &one, err2, sizeof(err2)))
			abort();
		same_resource(&res[i], &one);
	}
	free(res);
}

static void fuzz_host(const char *text)
{
	char out[SBX_HOST_MAX + 1], again[SBX_HOST_MAX + 1], err[SBX_ERR_MAX] = "";

	if (sbx_host_normalize(text, out, sizeof(out), err, sizeof(err))) {
		if (!err[0])
			abort();
		return;
	}
	if (!out[0] || strlen(out) > SBX_HOST_MAX)
		abort();
	for (const char *c = out; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			abort();
	if (sbx_host_normalize(out, again, sizeof(again), err, sizeof(err)) || strcmp(out, again))
		abort();
	/* what normalises is an address sbx accepts, or a name that is no address at all */
	if (sbx_addr_parse(out, &(struct sbx_addr){ 0 }) < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[TEXT_MAX], err[SBX_ERR_MAX];
	enum sbx_rule_type type;

	if (size < 1 || size > sizeof(text))
		return 0;
	type = (enum sbx_rule_type)(data[0] % SBX_TYPE__COUNT);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	fuzz_resource(type, text);
	fuzz_list(type, text);
	fuzz_host(text);
	err[0] = '\0';
	if (sbx_sandbox_name_check(text, err, sizeof(err)) && !err[0])
		abort();
	return 0;
}
