// SPDX-License-Identifier: MIT
/* The built-in presets and the reviewed default groups they are made of. */
#include <errno.h>
#include <sbx/policy.h>
#include "test.h"

static struct sbx_policy *preset_policy(enum sbx_preset preset)
{
	struct sbx_policy *p = sbx_policy_new();
	struct sbx_rule *rules;
	size_t n;

	if (sbx_defaults_build(preset, &rules, &n))
		abort();
	for (size_t i = 0; i < n; i++)
		sbx_policy_add(p, &rules[i]);
	sbx_rules_free(rules, n);
	sbx_policy_compile(p);
	return p;
}

static bool allows(struct sbx_policy *p, const char *host, int port)
{
	struct sbx_verdict v;

	return sbx_policy_decide(p, NULL, host, (uint16_t)port, &v) == 0 &&
	       v.decision == SBX_ALLOW;
}

static void test_balanced_has_the_seed_groups_in_order(void)
{
	static const char *const want[] = {
		"default-ai-services",	     "default-package-managers",
		"default-code-and-containers", "default-cloud-infrastructure",
		"default-os-packages",	     "default-cert-validation",
		"default-fs-read-allow-all",   "default-fs-write-allow-all",
	};
	struct sbx_rule *rules;
	size_t n, total = 0;

	CHECK_INT(sbx_defaults_build(SBX_PRESET_BALANCED, &rules, &n), 0);
	CHECK_INT(n, 8);
	for (size_t i = 0; i < n && i < 8; i++) {
		CHECK_STR(rules[i].name, want[i]);
		CHECK(rules[i].builtin);
		CHECK_INT(rules[i].decision, SBX_ALLOW);
		CHECK_INT(rules[i].prov, SBX_PROV_LOCAL);
		if (i < 6) {
			CHECK(rules[i].nres >= 20);
			total += rules[i].nres;
		}
	}
	CHECK(total >= 180);
	CHECK_INT(rules[6].type, SBX_TYPE_FS_READ);
	CHECK_STR(rules[6].res[0].text, "**");
	CHECK_INT(rules[7].type, SBX_TYPE_FS_WRITE);
	sbx_rules_free(rules, n);
}

static void test_balanced_allows_common_dev_hosts(void)
{
	struct sbx_policy *p = preset_policy(SBX_PRESET_BALANCED);

	CHECK(allows(p, "pypi.org", 443));
	CHECK(allows(p, "files.pythonhosted.org", 443));
	CHECK(allows(p, "registry.npmjs.org", 443));
	CHECK(allows(p, "github.com", 443));
	CHECK(allows(p, "objects.githubusercontent.com", 443));
	CHECK(allows(p, "ghcr.io", 443));
	CHECK(allows(p, "api.anthropic.com", 443));
	CHECK(allows(p, "api.openai.com", 443));
	CHECK(allows(p, "archive.ubuntu.com", 80));
	CHECK(allows(p, "deb.debian.org", 80));
	CHECK(allows(p, "ocsp.digicert.com", 80));
	CHECK(!allows(p, "pypi.org", 22));
	CHECK(!allows(p, "evil.example", 443));
	CHECK(!allows(p, "host.docker.internal", 11434));
	sbx_policy_free(p);
}

static void test_deny_all_allows_nothing(void)
{
	struct sbx_policy *p = preset_policy(SBX_PRESET_DENY_ALL);

	CHECK_INT(sbx_policy_count(p), 2); /* the filesystem groups only */
	CHECK(!allows(p, "api.anthropic.com", 443));
	CHECK(!allows(p, "pypi.org", 443));
	sbx_policy_free(p);
}

static void test_allow_all_is_a_double_star_rule(void)
{
	struct sbx_policy *p = preset_policy(SBX_PRESET_ALLOW_ALL);

	CHECK_STR(sbx_policy_rule(p, 0)->name, "default-allow-all");
	CHECK_STR(sbx_policy_rule(p, 0)->res[0].text, "**");
	CHECK(allows(p, "anything.example", 443));
	CHECK(allows(p, "203.0.113.5", 22));
	CHECK(!allows(p, "host.docker.internal", 8080)); /* host services stay closed */
	sbx_policy_free(p);
}

static void test_builtin_ids_are_stable(void)
{
	struct sbx_rule *a, *b;
	size_t na, nb;

	CHECK_INT(sbx_defaults_build(SBX_PRESET_BALANCED, &a, &na), 0);
	CHECK_INT(sbx_defaults_build(SBX_PRESET_DENY_ALL, &b, &nb), 0);
	CHECK_STR(a[6].id, b[0].id); /* default-fs-read-allow-all in both */
	CHECK(strcmp(a[0].id, a[1].id) != 0);
	sbx_rules_free(a, na);
	sbx_rules_free(b, nb);
}

static void test_no_preset_has_no_rules(void)
{
	struct sbx_rule *r;
	size_t n = 99;

	CHECK_INT(sbx_defaults_build(SBX_PRESET_NONE, &r, &n), 0);
	CHECK_INT(n, 0);
	sbx_rules_free(r, n);
}

static const struct test tests[] = {
	T(test_balanced_has_the_seed_groups_in_order),
	T(test_balanced_allows_common_dev_hosts),
	T(test_deny_all_allows_nothing),
	T(test_allow_all_is_a_double_star_rule),
	T(test_builtin_ids_are_stable),
	T(test_no_preset_has_no_rules),
};

TEST_MAIN("defaults", tests)
