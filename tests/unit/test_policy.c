// SPDX-License-Identifier: MIT
/* The policy engine: grammar, normalisation, precedence, scopes, governance. */
#include <errno.h>
#include <sbx/policy.h>
#include "test.h"

static char err[SBX_ERR_MAX];

/* Parse @text as a network resource and return its canonical text ("" on error). */
static const char *canon(const char *text)
{
	static struct sbx_resource r;

	err[0] = '\0';
	if (sbx_resource_parse(SBX_TYPE_NETWORK, text, &r, err, sizeof(err)))
		return "";
	return r.text;
}

static bool rejected(const char *text, const char *why)
{
	struct sbx_resource r;

	err[0] = '\0';
	if (sbx_resource_parse(SBX_TYPE_NETWORK, text, &r, err, sizeof(err)) != -EINVAL)
		return false;
	if (!strstr(err, why)) {
		fprintf(stderr, "  '%s' rejected with \"%s\", wanted \"%s\"\n", text, err, why);
		return false;
	}
	return true;
}

static void rule_init(struct sbx_rule *r, const char *name, enum sbx_decision d,
		      const char *sandbox, const char *csv)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	sbx_uuid_from_name(name, r->id);
	r->decision = d;
	r->type = SBX_TYPE_NETWORK;
	snprintf(r->sandbox, sizeof(r->sandbox), "%s", sandbox ? sandbox : "");
	if (sbx_resource_list_parse(SBX_TYPE_NETWORK, csv, &r->res, &r->nres, err, sizeof(err)))
		fprintf(stderr, "  rule %s: %s\n", name, err);
}

static void add(struct sbx_policy *p, const char *name, enum sbx_decision d,
		const char *sandbox, const char *csv)
{
	struct sbx_rule r;

	rule_init(&r, name, d, sandbox, csv);
	CHECK_INT(sbx_policy_add(p, &r), 0);
	sbx_rule_release(&r);
}

/* The name of the rule deciding @host:@port, "allow:NAME"/"deny:NAME", or "deny:default". */
static const char *decide(struct sbx_policy *p, const char *sandbox, const char *host, int port)
{
	static char out[256];
	struct sbx_verdict v;

	if (!sbx_policy_compile(p) && sbx_policy_decide(p, sandbox, host, (uint16_t)port, &v))
		return "error";
	snprintf(out, sizeof(out), "%s:%s", v.decision == SBX_ALLOW ? "allow" : "deny",
		 v.rule ? v.rule->name : "default");
	return out;
}

static void test_exact_hosts_are_lowercased_without_trailing_dot(void)
{
	CHECK_STR(canon("Example.COM."), "example.com");
	CHECK_STR(canon("pypi.org:443"), "pypi.org:443");
	CHECK_STR(canon("API.Anthropic.com.:443"), "api.anthropic.com:443");
	CHECK_STR(canon("_acme-challenge.example.com"), "_acme-challenge.example.com");
}

static void test_wildcards_parse_to_their_kinds(void)
{
	struct sbx_resource r;

	CHECK_INT(sbx_resource_parse(SBX_TYPE_NETWORK, "*.npmjs.org", &r, err, sizeof(err)), 0);
	CHECK_INT(r.kind, SBX_RES_SUBDOMAIN);
	CHECK_STR(r.host, "npmjs.org");
	CHECK_INT(sbx_resource_parse(SBX_TYPE_NETWORK, "**.Example.com:8443", &r, err,
				     sizeof(err)),
		  0);
	CHECK_INT(r.kind, SBX_RES_TREE);
	CHECK_INT(r.port, 8443);
	CHECK_STR(r.text, "**.example.com:8443");
	CHECK_INT(sbx_resource_parse(SBX_TYPE_NETWORK, "**", &r, err, sizeof(err)), 0);
	CHECK_INT(r.kind, SBX_RES_ANY);
	CHECK_INT(sbx_resource_parse(SBX_TYPE_NETWORK, "localhost:11434", &r, err, sizeof(err)),
		  0);
	CHECK_INT(r.kind, SBX_RES_LOCALHOST);
	CHECK_INT(r.port, 11434);
}

static void test_addresses_and_cidrs_normalise(void)
{
	CHECK_STR(canon("10.1.2.3:22"), "10.1.2.3:22");
	CHECK_STR(canon("10.0.0.0/8"), "10.0.0.0/8");
	CHECK_STR(canon("10.20.0.0/16:443"), "10.20.0.0/16:443");
	CHECK_STR(canon("10.1.2.3/32"), "10.1.2.3");
	CHECK_STR(canon("2001:DB8::1"), "2001:db8::1");
	CHECK_STR(canon("2001:db8::/32"), "2001:db8::/32");
	CHECK_STR(canon("[2001:db8::1]:22"), "[2001:db8::1]:22");
	CHECK_STR(canon("[2001:db8::/32]:443"), "[2001:db8::/32]:443");
	CHECK_STR(canon("::ffff:10.1.2.3"), "10.1.2.3"); /* v4-mapped is v4 */
}

static void test_bad_resources_say_what_is_wrong(void)
{
	char label64[80], name254[300];

	memset(label64, 'a', 64);
	strcpy(label64 + 64, ".com");
	for (int i = 0; i < 254; i += 2)
		memcpy(name254 + i, "a.", 2);
	strcpy(name254 + 254, "com");
	CHECK(rejected("", "empty"));
	CHECK(rejected("exa mple.com", "white space"));
	CHECK(rejected("a..b.com", "empty label"));
	CHECK(rejected(".example.com", "empty label"));
	CHECK(rejected(label64, "label of 64 bytes"));
	CHECK(rejected(name254, "limit is 253"));
	CHECK(rejected("example.com:0", "outside 1-65535"));
	CHECK(rejected("example.com:65536", "outside 1-65535"));
	CHECK(rejected("example.com:99999999999999999999", "outside 1-65535"));
	CHECK(rejected("example.com:https", "not a number"));
	CHECK(rejected("example.com:", "missing port"));
	CHECK(rejected("foo*.com", "'*' may only appear"));
	CHECK(rejected("a.*.com", "'*' may only appear"));
	CHECK(rejected("*.*.com", "'*' may only appear"));
	CHECK(rejected("***.com", "'*' may only appear"));
	CHECK(rejected("*", "use '**'"));
	CHECK(rejected("https://example.com", "looks like a URL"));
	CHECK(rejected("localhost", "needs a port"));
	CHECK(rejected("host.docker.internal:80", "localhost:PORT"));
	CHECK(rejected("10.1.2.3/8", "host bits set; did you mean 10.0.0.0/8"));
	CHECK(rejected("10.0.0.0/33", "prefix length must be 0-32"));
	CHECK(rejected("2001:db8::/129", "prefix length must be 0-128"));
	CHECK(rejected("exa$mple.com", "'$'"));
	CHECK(rejected("-bad.com", "start or end with '-'"));
	CHECK(rejected("127.1", "neither a host name nor a valid IPv4"));
	CHECK(rejected("1.2.3.4.5", "neither a host name nor a valid IPv4"));
	CHECK(rejected("[2001:db8::1", "missing ']'"));
	CHECK(rejected("[2001:db8::1]x", "unexpected text"));
}

static void test_comma_lists_reject_empty_items(void)
{
	struct sbx_resource *res;
	size_t n;

	CHECK_INT(sbx_resource_list_parse(SBX_TYPE_NETWORK, "api.anthropic.com,*.npmjs.org,*.pypi.org",
					  &res, &n, err, sizeof(err)),
		  0);
	CHECK_INT(n, 3);
	CHECK_STR(res[1].text, "*.npmjs.org");
	free(res);
	CHECK_INT(sbx_resource_list_parse(SBX_TYPE_NETWORK, "a.com,,b.com", &res, &n, err,
					  sizeof(err)),
		  -EINVAL);
	CHECK_HAS(err, "empty resource");
	CHECK_INT(sbx_resource_list_parse(SBX_TYPE_NETWORK, "a.com,", &res, &n, err, sizeof(err)),
		  -EINVAL);
	CHECK_INT(sbx_resource_list_parse(SBX_TYPE_NETWORK, "a.com, b.com", &res, &n, err,
					  sizeof(err)),
		  -EINVAL);
	CHECK_HAS(err, "white space");
	/* the same resource twice counts once */
	CHECK_INT(sbx_resource_list_parse(SBX_TYPE_NETWORK, "a.com,A.com.", &res, &n, err,
					  sizeof(err)),
		  0);
	CHECK_INT(n, 1);
	free(res);
}

static void test_filesystem_paths(void)
{
	struct sbx_resource r;

	CHECK_INT(sbx_resource_parse(SBX_TYPE_FS_WRITE, "~/**", &r, err, sizeof(err)), 0);
	CHECK_STR(r.text, "~/**");
	CHECK_INT(r.kind, SBX_RES_PATH);
	CHECK_INT(sbx_resource_parse(SBX_TYPE_FS_READ, "relative/path", &r, err, sizeof(err)),
		  -EINVAL);
	CHECK_HAS(err, "must start with");
}

/* Parse @text as a filesystem:read pattern: its canonical text, or "!" and the error. */
static const char *fs_canon(const char *text)
{
	static char out[SBX_RESOURCE_MAX + SBX_ERR_MAX];
	struct sbx_resource r;

	if (sbx_resource_parse(SBX_TYPE_FS_READ, text, &r, err, sizeof(err)))
		snprintf(out, sizeof(out), "!%s", err);
	else
		snprintf(out, sizeof(out), "%s", r.text);
	return out;
}

static void test_path_patterns_accepted_and_canonical(void)
{
	static const char *const table[][2] = {
		{ "**", "**" },
		{ "~", "~" },
		{ "~/", "~/" }, /* as seed 003 lists it; it means ~ */
		{ "~/src", "~/src" },
		{ "~/src/", "~/src" },
		{ "~/src/**", "~/src/**" },
		{ "~/**/.ssh", "~/**/.ssh" },
		{ "/", "/" },
		{ "/srv/data", "/srv/data" },
		{ "/srv/data/", "/srv/data" },
		{ "/srv/**", "/srv/**" },
		{ "/etc/*", "/etc/*" },
		{ "/home/*/proj", "/home/*/proj" },
		{ "/var/log/*.log", "/var/log/*.log" },
		{ "**/.ssh", "**/.ssh" },
		{ "/a b/c", "!" }, /* white space: refused for every type */
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		const char *got = fs_canon(table[i][0]);

		if (strcmp(table[i][1], "!") == 0)
			CHECK(got[0] == '!');
		else
			CHECK_STR(got, table[i][1]);
	}
}

static void test_path_patterns_refused_with_a_reason(void)
{
	static const char *const table[][2] = {
		{ "", "empty" },
		{ "relative/path", "must start with '/', '~' or '**'" },
		{ "./build", "must start with" },
		{ "*/x", "must start with" },
		{ "*", "must start with" },
		{ "~root/x", "~NAME is not supported" },
		{ "/a//b", "empty segment" },
		{ "/a/b//", "empty segment" },
		{ "~//", "empty segment" },
		{ "/a/./b", "'.' segment" },
		{ "/a/../b", "'..' segment" },
		{ "~/..", "'..' segment" },
		{ "/a/b**", "'**' must be a whole segment" },
		{ "/a/**x/c", "'**' must be a whole segment" },
		{ "/a\001b", "control character" },
		{ "/a\177b", "control character" },
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		const char *got = fs_canon(table[i][0]);

		if (got[0] != '!' || !strstr(got, table[i][1]))
			fprintf(stderr, "  '%s' gave \"%s\", wanted an error with \"%s\"\n",
				table[i][0], got, table[i][1]);
		CHECK(got[0] == '!' && strstr(got, table[i][1]));
	}
}

static void fs_add(struct sbx_policy *p, const char *name, enum sbx_rule_type t,
		   enum sbx_decision d, enum sbx_provenance prov, const char *sandbox,
		   const char *csv)
{
	struct sbx_rule r;

	memset(&r, 0, sizeof(r));
	snprintf(r.name, sizeof(r.name), "%s", name);
	sbx_uuid_from_name(name, r.id);
	r.type = t;
	r.decision = d;
	r.prov = prov;
	snprintf(r.sandbox, sizeof(r.sandbox), "%s", sandbox ? sandbox : "");
	if (sbx_resource_list_parse(t, csv, &r.res, &r.nres, err, sizeof(err)))
		fprintf(stderr, "  rule %s: %s\n", name, err);
	CHECK_INT(sbx_policy_add(p, &r), 0);
	sbx_rule_release(&r);
}

/* "allow:NAME", "deny:NAME", "deny-inside:NAME" or "deny:default" for a @type decision. */
static const char *fs_decide(struct sbx_policy *p, const char *sandbox, enum sbx_rule_type t,
			     const char *path, const char *home)
{
	static char out[256];
	struct sbx_verdict v;
	int ret;

	CHECK_INT(sbx_policy_compile(p), 0);
	ret = sbx_policy_decide_path(p, sandbox, t, path, home, &v);
	if (ret)
		return ret == -EINVAL ? "einval" : "error";
	snprintf(out, sizeof(out), "%s%s:%s", v.decision == SBX_ALLOW ? "allow" : "deny",
		 v.inside ? "-inside" : "", v.rule ? v.rule->name : "default");
	return out;
}

#define RD SBX_TYPE_FS_READ
#define WR SBX_TYPE_FS_WRITE
#define LOCAL SBX_PROV_LOCAL

static void test_path_decisions_follow_the_patterns(void)
{
	static const struct {
		const char *pattern, *path, *want; /* allow/deny of an allow rule "r" */
	} table[] = {
		{ "**", "/", "allow:r" },
		{ "**", "/home/a/proj", "allow:r" },
		{ "/srv/data", "/srv/data", "allow:r" },
		{ "/srv/data", "/srv/data/x", "deny:default" },
		{ "/srv/data", "/srv", "deny:default" },
		{ "/srv/**", "/srv", "deny:default" }, /* strictly below */
		{ "/srv/**", "/srv/x", "allow:r" },
		{ "/srv/**", "/srv/x/y", "allow:r" },
		{ "/srv/**", "/srvx", "deny:default" },
		{ "/srv/*", "/srv/x", "allow:r" },
		{ "/srv/*", "/srv/x/y", "deny:default" },
		{ "/srv/*.git", "/srv/a.git", "allow:r" },
		{ "/srv/*.git", "/srv/a.gitx", "deny:default" },
		{ "/srv/**/src", "/srv/src", "allow:r" }, /* a middle ** may be nothing */
		{ "/srv/**/src", "/srv/a/b/src", "allow:r" },
		{ "/srv/**/src", "/srv/a/b", "deny:default" },
		{ "**/.ssh", "/home/a/.ssh", "allow:r" },
		{ "/", "/", "allow:r" },
		{ "/", "/srv", "deny:default" },
		{ "/**", "/srv", "allow:r" },
		{ "/**", "/", "deny:default" },
		{ "~", "/home/a", "allow:r" },
		{ "~/", "/home/a", "allow:r" },
		{ "~/", "/home/a/proj", "deny:default" },
		{ "~/**", "/home/a/proj", "allow:r" },
		{ "~/**", "/home/a", "deny:default" },
		{ "~/**", "/home/ab/proj", "deny:default" },
		{ "~/**", "/home/b/proj", "deny:default" },
		{ "~/proj", "/home/a/proj", "allow:r" },
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		struct sbx_policy *p = sbx_policy_new();
		const char *got;

		fs_add(p, "r", RD, SBX_ALLOW, LOCAL, NULL, table[i].pattern);
		got = fs_decide(p, NULL, RD, table[i].path, "/home/a");
		if (strcmp(got, table[i].want))
			fprintf(stderr, "  allow %s, path %s\n", table[i].pattern, table[i].path);
		CHECK_STR(got, table[i].want);
		sbx_policy_free(p);
	}
}

static void test_path_deny_inside_the_mount_refuses_it(void)
{
	struct sbx_policy *p = sbx_policy_new();

	fs_add(p, "all", RD, SBX_ALLOW, LOCAL, NULL, "**");
	fs_add(p, "secrets", RD, SBX_DENY, LOCAL, NULL, "~/proj/secrets");
	fs_add(p, "keys", RD, SBX_DENY, LOCAL, NULL, "~/**/.ssh");
	fs_add(p, "logs", RD, SBX_DENY, LOCAL, NULL, "/var/log/*");
	/* the deny matches the path itself */
	CHECK_STR(fs_decide(p, NULL, RD, "/home/a/proj/secrets", "/home/a"), "deny:secrets");
	CHECK_STR(fs_decide(p, NULL, RD, "/home/a/x/.ssh", "/home/a"), "deny:keys");
	CHECK_STR(fs_decide(p, NULL, RD, "/home/a/.ssh", "/home/a"), "deny:keys");
	/* something it matches lies below the path: mounting it would expose that */
	CHECK_STR(fs_decide(p, NULL, RD, "/home/a/proj", "/home/a"), "deny-inside:secrets");
	CHECK_STR(fs_decide(p, NULL, RD, "/home/a/other", "/home/a"), "deny-inside:keys");
	CHECK_STR(fs_decide(p, NULL, RD, "/home/a", "/home/a"), "deny-inside:secrets");
	CHECK_STR(fs_decide(p, NULL, RD, "/home", "/home/a"), "deny-inside:secrets");
	CHECK_STR(fs_decide(p, NULL, RD, "/", "/home/a"), "deny-inside:secrets");
	CHECK_STR(fs_decide(p, NULL, RD, "/var/log", "/home/a"), "deny-inside:logs");
	CHECK_STR(fs_decide(p, NULL, RD, "/var", "/home/a"), "deny-inside:logs");
	/* beside or below a deny's match, it does not count */
	CHECK_STR(fs_decide(p, NULL, RD, "/srv", "/home/a"), "allow:all");
	CHECK_STR(fs_decide(p, NULL, RD, "/home/b/proj", "/home/a"), "allow:all");
	CHECK_STR(fs_decide(p, NULL, RD, "/var/lib", "/home/a"), "allow:all");
	sbx_policy_free(p);
}

static void test_path_home_patterns_need_a_home(void)
{
	struct sbx_policy *p = sbx_policy_new();

	fs_add(p, "home", RD, SBX_ALLOW, LOCAL, NULL, "~/**");
	fs_add(p, "keys", RD, SBX_DENY, LOCAL, NULL, "~/.ssh");
	CHECK_STR(fs_decide(p, NULL, RD, "/home/a/proj", "/home/a"), "allow:home");
	CHECK_STR(fs_decide(p, NULL, RD, "/home/a/proj", "/home/a/"), "allow:home");
	CHECK_STR(fs_decide(p, NULL, RD, "/home/a/proj", NULL), "deny:default");
	CHECK_STR(fs_decide(p, NULL, RD, "/home/a/proj", ""), "deny:default");
	CHECK_STR(fs_decide(p, NULL, RD, "/home/a/proj", "relative"), "deny:default");
	CHECK_STR(fs_decide(p, NULL, RD, "/root/x", "/root"), "allow:home");
	CHECK_STR(fs_decide(p, NULL, RD, "/root", "/root"), "deny-inside:keys");
	CHECK_STR(fs_decide(p, NULL, RD, "/x", "/"), "allow:home"); /* home is / */
	sbx_policy_free(p);
}

/* Seed 003's organization example: home subdirectories writable, the home itself denied. */
static void test_path_org_home_example(void)
{
	struct sbx_policy *p = sbx_policy_new();
	struct sbx_verdict v;
	char line[512];

	fs_add(p, "default-fs-read-allow-all", RD, SBX_ALLOW, LOCAL, NULL, "**");
	fs_add(p, "default-fs-write-allow-all", WR, SBX_ALLOW, LOCAL, NULL, "**");
	fs_add(p, "allow home subdirectories", WR, SBX_ALLOW, SBX_PROV_REMOTE, NULL, "~/**");
	fs_add(p, "deny home directory", WR, SBX_DENY, SBX_PROV_REMOTE, NULL, "~/");
	CHECK_STR(fs_decide(p, NULL, WR, "/home/a/proj", "/home/a"),
		  "allow:allow home subdirectories");
	CHECK_STR(fs_decide(p, NULL, WR, "/home/a", "/home/a"), "deny:deny home directory");
	/* governed: the local ** allow of writing is inactive, reading is not governed */
	CHECK_STR(fs_decide(p, NULL, WR, "/srv", "/home/a"), "deny:default");
	CHECK_STR(fs_decide(p, NULL, RD, "/srv", "/home/a"), "allow:default-fs-read-allow-all");

	CHECK_INT(sbx_policy_decide_path(p, NULL, WR, "/home/a", "/home/a", &v), 0);
	CHECK_INT(v.reason, SBX_REASON_PATH_BLOCKED);
	sbx_path_verdict_detail(&v, "/home/a", line, sizeof(line));
	CHECK_STR(line, "filesystem:write of /home/a denied by rule deny home directory (~/)");
	sbx_path_verdict_fix(&v, "/home/a", line, sizeof(line));
	CHECK_HAS(line, "no local rule can allow this: deny rule deny home directory is the "
			"organization's");
	CHECK_INT(sbx_policy_decide_path(p, NULL, WR, "/srv/my data", "/home/a", &v), 0);
	CHECK_INT(v.reason, SBX_REASON_DEFAULT_DENY);
	CHECK(v.rule == NULL);
	sbx_path_verdict_detail(&v, "/srv/my data", line, sizeof(line));
	CHECK_STR(line, "no filesystem:write rule allows /srv/my data (default deny)");
	sbx_path_verdict_fix(&v, "/srv/my data", line, sizeof(line));
	CHECK_STR(line, "sbx policy allow filesystem:write '/srv/my data'");

	/* a mount: read-write needs both, the read refusal comes first */
	CHECK_INT(sbx_policy_decide_mount(p, NULL, "/srv", "/home/a", false, &v), 0);
	CHECK(v.decision == SBX_ALLOW && v.type == RD);
	CHECK_INT(sbx_policy_decide_mount(p, NULL, "/srv", "/home/a", true, &v), 0);
	CHECK(v.decision == SBX_DENY && v.type == WR);
	CHECK_INT(sbx_policy_decide_mount(p, NULL, "/home/a/p", "/home/a", true, &v), 0);
	CHECK(v.decision == SBX_ALLOW && v.type == WR);
	CHECK_INT(v.reason, SBX_REASON_PATH_ALLOWED);
	sbx_policy_free(p);
}

static void test_path_local_deny_fix_and_inside_detail(void)
{
	struct sbx_policy *p = sbx_policy_new();
	struct sbx_verdict v;
	char line[512];

	fs_add(p, "all", WR, SBX_ALLOW, LOCAL, NULL, "**");
	fs_add(p, "nosecrets", WR, SBX_DENY, LOCAL, NULL, "~/proj/secrets");
	CHECK_INT(sbx_policy_compile(p), 0);
	CHECK_INT(sbx_policy_decide_path(p, NULL, WR, "/home/a/proj", "/home/a", &v), 0);
	CHECK(v.inside);
	sbx_path_verdict_detail(&v, "/home/a/proj", line, sizeof(line));
	CHECK_HAS(line, "filesystem:write of /home/a/proj denied by rule nosecrets "
			"(~/proj/secrets), which matches a path inside it");
	sbx_path_verdict_fix(&v, "/home/a/proj", line, sizeof(line));
	CHECK_STR(line, "sbx policy rm filesystem:write --resource '~/proj/secrets'  # a deny "
			"beats every allow");
	CHECK_INT(sbx_policy_decide_path(p, NULL, WR, "/srv", "/home/a", &v), 0);
	sbx_path_verdict_detail(&v, "/srv", line, sizeof(line));
	CHECK_STR(line, "filesystem:write of /srv allowed by rule all (**)");
	sbx_path_verdict_fix(&v, "/srv", line, sizeof(line));
	CHECK_STR(line, "");
	sbx_policy_free(p);
}

static void test_path_rules_keep_to_their_type_and_scope(void)
{
	struct sbx_policy *p = sbx_policy_new();

	fs_add(p, "rd", RD, SBX_ALLOW, LOCAL, NULL, "/srv/**");
	fs_add(p, "box", WR, SBX_ALLOW, LOCAL, "box", "/srv/**");
	fs_add(p, "boxdeny", RD, SBX_DENY, LOCAL, "other", "/srv/x");
	add(p, "net", SBX_ALLOW, NULL, "**"); /* a network ** allows no path */
	CHECK_STR(fs_decide(p, NULL, RD, "/srv/x", NULL), "allow:rd");
	CHECK_STR(fs_decide(p, NULL, WR, "/srv/x", NULL), "deny:default");
	CHECK_STR(fs_decide(p, "", WR, "/srv/x", NULL), "deny:default");
	CHECK_STR(fs_decide(p, "box", WR, "/srv/x", NULL), "allow:box");
	CHECK_STR(fs_decide(p, "box", RD, "/srv/x", NULL), "allow:rd");
	CHECK_STR(fs_decide(p, "other", RD, "/srv/x", NULL), "deny:boxdeny");
	CHECK_STR(fs_decide(p, "other", RD, "/srv", NULL), "deny-inside:boxdeny");
	CHECK_STR(fs_decide(p, NULL, RD, "/opt", NULL), "deny:default");
	sbx_policy_free(p);
}

static void test_path_decide_refuses_bad_input(void)
{
	struct sbx_policy *p = sbx_policy_new();
	struct sbx_verdict v;

	fs_add(p, "all", RD, SBX_ALLOW, LOCAL, NULL, "**");
	CHECK_INT(sbx_policy_decide_path(p, NULL, RD, "/srv", NULL, &v), -EAGAIN);
	CHECK_STR(fs_decide(p, NULL, RD, "relative", NULL), "einval");
	CHECK_STR(fs_decide(p, NULL, RD, "/srv/", NULL), "einval");
	CHECK_STR(fs_decide(p, NULL, RD, "/srv//x", NULL), "einval");
	CHECK_STR(fs_decide(p, NULL, RD, "/srv/../x", NULL), "einval");
	CHECK_STR(fs_decide(p, NULL, RD, "/srv/./x", NULL), "einval");
	CHECK_STR(fs_decide(p, NULL, RD, "", NULL), "einval");
	CHECK_STR(fs_decide(p, NULL, SBX_TYPE_NETWORK, "/srv", NULL), "einval");
	CHECK_STR(fs_decide(p, NULL, RD, "/srv", NULL), "allow:all");
	sbx_policy_free(p);
}

static void test_exact_rule_does_not_match_subdomains(void)
{
	struct sbx_policy *p = sbx_policy_new();

	add(p, "r", SBX_ALLOW, NULL, "example.com");
	CHECK_STR(decide(p, NULL, "example.com", 443), "allow:r");
	CHECK_STR(decide(p, NULL, "EXAMPLE.com.", 80), "allow:r");
	CHECK_STR(decide(p, NULL, "www.example.com", 443), "deny:default");
	CHECK_STR(decide(p, NULL, "badexample.com", 443), "deny:default");
	sbx_policy_free(p);
}

static void test_single_star_matches_any_depth_but_not_root(void)
{
	struct sbx_policy *p = sbx_policy_new();

	add(p, "r", SBX_ALLOW, NULL, "*.example.com");
	CHECK_STR(decide(p, NULL, "www.example.com", 443), "allow:r");
	CHECK_STR(decide(p, NULL, "a.b.c.example.com", 443), "allow:r");
	CHECK_STR(decide(p, NULL, "example.com", 443), "deny:default");
	CHECK_STR(decide(p, NULL, "notexample.com", 443), "deny:default");
	sbx_policy_free(p);
}

static void test_double_star_matches_root_and_subdomains(void)
{
	struct sbx_policy *p = sbx_policy_new();

	add(p, "r", SBX_ALLOW, NULL, "**.example.com");
	CHECK_STR(decide(p, NULL, "example.com", 443), "allow:r");
	CHECK_STR(decide(p, NULL, "x.y.example.com", 80), "allow:r");
	CHECK_STR(decide(p, NULL, "example.org", 443), "deny:default");
	sbx_policy_free(p);
}

static void test_port_qualified_rules_match_only_that_port(void)
{
	struct sbx_policy *p = sbx_policy_new();

	add(p, "r", SBX_ALLOW, NULL, "pypi.org:443");
	CHECK_STR(decide(p, NULL, "pypi.org", 443), "allow:r");
	CHECK_STR(decide(p, NULL, "pypi.org", 80), "deny:default");
	sbx_policy_free(p);
}

static void test_deny_beats_wildcard_allow(void)
{
	struct sbx_policy *p = sbx_policy_new();

	add(p, "everything", SBX_ALLOW, NULL, "**");
	add(p, "tree", SBX_ALLOW, NULL, "**.example.com");
	add(p, "ads", SBX_DENY, NULL, "ads.example.com");
	CHECK_STR(decide(p, NULL, "ads.example.com", 443), "deny:ads");
	CHECK_STR(decide(p, NULL, "www.example.com", 443), "allow:tree");
	CHECK_STR(decide(p, NULL, "anything.org", 443), "allow:everything");
	sbx_policy_free(p);
}

static void test_broad_deny_beats_specific_allow(void)
{
	struct sbx_policy *p = sbx_policy_new();

	add(p, "exact", SBX_ALLOW, NULL, "api.example.com:443");
	add(p, "all-example", SBX_DENY, NULL, "**.example.com");
	CHECK_STR(decide(p, NULL, "api.example.com", 443), "deny:all-example");
	add(p, "nothing", SBX_DENY, NULL, "**");
	CHECK_STR(decide(p, NULL, "other.org", 443), "deny:nothing");
	sbx_policy_free(p);
}

static void test_sandbox_scoped_rules_apply_only_to_that_sandbox(void)
{
	struct sbx_policy *p = sbx_policy_new();

	add(p, "docs-only", SBX_ALLOW, "docs", "api.github.com");
	add(p, "block-for-ci", SBX_DENY, "ci", "pypi.org");
	add(p, "pypi", SBX_ALLOW, NULL, "pypi.org");
	CHECK_STR(decide(p, "docs", "api.github.com", 443), "allow:docs-only");
	CHECK_STR(decide(p, "other", "api.github.com", 443), "deny:default");
	CHECK_STR(decide(p, NULL, "api.github.com", 443), "deny:default");
	CHECK_STR(decide(p, "ci", "pypi.org", 443), "deny:block-for-ci");
	CHECK_STR(decide(p, "docs", "pypi.org", 443), "allow:pypi");
	sbx_policy_free(p);
}

static void test_localhost_rules_open_only_host_services(void)
{
	struct sbx_policy *p = sbx_policy_new();

	add(p, "everything", SBX_ALLOW, NULL, "**");
	CHECK_STR(decide(p, NULL, "host.docker.internal", 11434), "deny:default");
	add(p, "ollama", SBX_ALLOW, NULL, "localhost:11434");
	CHECK_STR(decide(p, NULL, "host.docker.internal", 11434), "allow:ollama");
	CHECK_STR(decide(p, NULL, "localhost", 11434), "allow:ollama");
	CHECK_STR(decide(p, NULL, "host.docker.internal", 22), "deny:default");
	sbx_policy_free(p);
}

static void test_address_rules_match_ip_literals(void)
{
	struct sbx_policy *p = sbx_policy_new();
	struct sbx_verdict v;
	uint8_t a[16] = { 10, 20, 5, 6 };

	add(p, "ssh", SBX_ALLOW, NULL, "10.1.2.3:22");
	add(p, "lan", SBX_ALLOW, NULL, "10.20.0.0/16:443");
	add(p, "v6", SBX_ALLOW, NULL, "2001:db8::/32");
	add(p, "no-10-20-5", SBX_DENY, NULL, "10.20.5.0/24:443");
	CHECK_STR(decide(p, NULL, "10.1.2.3", 22), "allow:ssh");
	CHECK_STR(decide(p, NULL, "10.1.2.3", 23), "deny:default");
	CHECK_STR(decide(p, NULL, "10.20.9.9", 443), "allow:lan");
	CHECK_STR(decide(p, NULL, "10.20.5.1", 443), "deny:no-10-20-5");
	CHECK_STR(decide(p, NULL, "2001:db8:1::5", 80), "allow:v6");
	CHECK_STR(decide(p, NULL, "::ffff:10.1.2.3", 22), "allow:ssh");
	/* the proxy's check of a resolved address sees only address rules */
	CHECK_INT(sbx_policy_decide_addr(p, NULL, 4, a, 443, &v), 0);
	CHECK_INT(v.decision, SBX_DENY);
	a[2] = 9;
	CHECK_INT(sbx_policy_decide_addr(p, NULL, 4, a, 443, &v), 0);
	CHECK_INT(v.decision, SBX_ALLOW);
	CHECK_STR(v.rule->name, "lan");
	CHECK_STR(sbx_reason_name(v.reason), "address-allowed");
	sbx_policy_free(p);
}

static void test_domain_rules_never_match_addresses(void)
{
	struct sbx_policy *p = sbx_policy_new();
	struct sbx_verdict v;
	uint8_t a[16] = { 198, 51, 100, 10 };

	add(p, "pypi", SBX_ALLOW, NULL, "pypi.org,**.example.com");
	CHECK_STR(decide(p, NULL, "198.51.100.10", 443), "deny:default");
	CHECK_INT(sbx_policy_decide_addr(p, NULL, 4, a, 443, &v), 0);
	CHECK(v.rule == NULL);
	sbx_policy_free(p);
}

static void test_default_is_deny_with_a_reason(void)
{
	struct sbx_policy *p = sbx_policy_new();
	struct sbx_verdict v;
	char detail[256];

	CHECK_INT(sbx_policy_compile(p), 0);
	CHECK_INT(sbx_policy_decide(p, NULL, "pypi.org", 443, &v), 0);
	CHECK_INT(v.decision, SBX_DENY);
	CHECK_INT(v.reason, SBX_REASON_DEFAULT_DENY);
	CHECK_STR(sbx_reason_name(v.reason), "default-deny");
	sbx_verdict_detail(&v, detail, sizeof(detail));
	CHECK_STR(detail, "no matching allow rule - blocked by default deny policy");
	sbx_policy_free(p);
}

static void test_decide_refuses_invalid_hosts(void)
{
	struct sbx_policy *p = sbx_policy_new();
	struct sbx_verdict v;

	add(p, "all", SBX_ALLOW, NULL, "**");
	CHECK_INT(sbx_policy_compile(p), 0);
	CHECK_INT(sbx_policy_decide(p, NULL, "bad host", 443, &v), -EINVAL);
	CHECK_INT(sbx_policy_decide(p, NULL, "", 443, &v), -EINVAL);
	CHECK_INT(sbx_policy_decide(p, NULL, "a..b", 443, &v), -EINVAL);
	CHECK_INT(sbx_policy_decide(p, NULL, "127.1", 443, &v), -EINVAL);
	sbx_policy_free(p);
}

static void test_uncompiled_policy_refuses_to_decide(void)
{
	struct sbx_policy *p = sbx_policy_new();
	struct sbx_verdict v;

	add(p, "all", SBX_ALLOW, NULL, "**");
	CHECK_INT(sbx_policy_decide(p, NULL, "x.com", 443, &v), -EAGAIN);
	sbx_policy_free(p);
}

static void test_remote_rules_make_local_rules_of_their_type_inactive(void)
{
	struct sbx_policy *p = sbx_policy_new();
	struct sbx_rule r;
	const char *why = NULL;

	add(p, "local-allow", SBX_ALLOW, NULL, "pypi.org");
	rule_init(&r, "default network / allow AI", SBX_ALLOW, NULL, "api.anthropic.com");
	r.prov = SBX_PROV_REMOTE;
	CHECK_INT(sbx_policy_add(p, &r), 0);
	sbx_rule_release(&r);
	CHECK_STR(decide(p, NULL, "pypi.org", 443), "deny:default");
	CHECK_STR(decide(p, NULL, "api.anthropic.com", 443), "allow:default network / allow AI");
	CHECK(!sbx_policy_rule_active(p, sbx_policy_rule(p, 0), &why));
	CHECK_HAS(why, "corporate policy takes precedence");
	CHECK(sbx_policy_rule_active(p, sbx_policy_rule(p, 1), NULL));
	sbx_policy_free(p);
}

static void test_may_allow_ignores_ports_for_allows_not_for_denies(void)
{
	struct sbx_policy *p = sbx_policy_new();

	add(p, "pypi", SBX_ALLOW, NULL, "pypi.org:443,**.example.com");
	add(p, "no-ssh", SBX_DENY, NULL, "ssh.example.com:22");
	add(p, "no-ads", SBX_DENY, NULL, "ads.example.com");
	CHECK_INT(sbx_policy_compile(p), 0);
	CHECK(sbx_policy_may_allow(p, NULL, "pypi.org"));
	CHECK(sbx_policy_may_allow(p, NULL, "ssh.example.com")); /* 443 is still allowed */
	CHECK(!sbx_policy_may_allow(p, NULL, "ads.example.com"));
	CHECK(!sbx_policy_may_allow(p, NULL, "evil.example"));
	CHECK(!sbx_policy_may_allow(p, NULL, "secret-data.exfil.example"));
	sbx_policy_free(p);
}

static void test_uuids(void)
{
	char a[SBX_ID_LEN + 1], b[SBX_ID_LEN + 1];

	sbx_uuid_random(a);
	sbx_uuid_random(b);
	CHECK_INT(strlen(a), 36);
	CHECK(strcmp(a, b) != 0);
	CHECK(a[14] == '4');
	sbx_uuid_from_name("default-ai-services", a);
	sbx_uuid_from_name("default-ai-services", b);
	CHECK_STR(a, b);
	CHECK(a[14] == '5');
}

static void test_names_round_trip(void)
{
	enum sbx_rule_type t;
	enum sbx_preset pr;

	CHECK_INT(sbx_type_parse("filesystem:write", &t), 0);
	CHECK_STR(sbx_type_name(t), "filesystem:write");
	CHECK_INT(sbx_type_parse("net", &t), -EINVAL);
	CHECK_INT(sbx_preset_parse("balanced", &pr), 0);
	CHECK_INT(pr, SBX_PRESET_BALANCED);
	CHECK_INT(sbx_preset_parse("none", &pr), -EINVAL);
	CHECK_INT(sbx_sandbox_name_check("my-sandbox", err, sizeof(err)), 0);
	CHECK_INT(sbx_sandbox_name_check("bad/name", err, sizeof(err)), -EINVAL);
	CHECK_INT(sbx_sandbox_name_check("-x", err, sizeof(err)), -EINVAL);
}

static void test_rule_names_are_one_word_and_not_a_type(void)
{
	char l64[65];

	memset(l64, 'a', 64);
	l64[64] = '\0';
	CHECK_INT(sbx_rule_name_check("ci-cache", err, sizeof(err)), 0);
	CHECK_INT(sbx_rule_name_check("Team_1.rules", err, sizeof(err)), 0);
	CHECK_INT(sbx_rule_name_check(l64 + 1, err, sizeof(err)), 0); /* 63 bytes */
	CHECK_INT(sbx_rule_name_check(l64, err, sizeof(err)), -EINVAL);
	CHECK_HAS(err, "longer than 63");
	CHECK_INT(sbx_rule_name_check("my rule", err, sizeof(err)), -EINVAL);
	CHECK_HAS(err, "may only contain");
	CHECK_INT(sbx_rule_name_check("local:mine", err, sizeof(err)), -EINVAL);
	CHECK_INT(sbx_rule_name_check("-x", err, sizeof(err)), -EINVAL);
	CHECK_HAS(err, "start with a letter or digit");
	CHECK_INT(sbx_rule_name_check("network", err, sizeof(err)), -EINVAL);
	CHECK_HAS(err, "is a rule type");
	CHECK_INT(sbx_rule_name_check("filesystem", err, sizeof(err)), -EINVAL);
	CHECK_INT(sbx_rule_name_check("default-ai-services", err, sizeof(err)), -EINVAL);
	CHECK_HAS(err, "'default-'");
	CHECK_INT(sbx_rule_name_check("", err, sizeof(err)), -EINVAL);
}

static void test_paths_are_not_network_resources(void)
{
	CHECK(rejected("~/src/**", "'~/src/**' is a filesystem path pattern, not a host"));
	CHECK(rejected("/etc/shadow", "filesystem path pattern"));
	CHECK(rejected("./build", "filesystem path pattern"));
	CHECK(rejected("**/node_modules", "filesystem path pattern"));
	CHECK(rejected("example.com/api", "names a host, not a path; give 'example.com'"));
	CHECK(rejected("10.0.0.0/x", "prefix length must be a number"));
	CHECK_STR(canon("10.0.0.0/8"), "10.0.0.0/8");
	CHECK(sbx_resource_is_path("~"));
	CHECK(!sbx_resource_is_path("*.example.com"));
	CHECK(!sbx_resource_is_path("**"));
	CHECK(!sbx_resource_is_path("2001:db8::/32"));
}

/* The names sbx_policy_find found for @handle, space-separated, after @how as a letter. */
static const char *find(const struct sbx_policy *p, const char *handle, bool ids_only)
{
	static char out[256];
	const struct sbx_rule *m[4];
	enum sbx_match how;
	size_t n = sbx_policy_find(p, handle, ids_only, m, 4, &how);

	snprintf(out, sizeof(out), "%c", "NEPS"[how]);
	for (size_t i = 0; i < n && i < 4; i++)
		snprintf(out + strlen(out), sizeof(out) - strlen(out), " %s", m[i]->name);
	return out;
}

static void test_find_rules_by_name_id_or_id_prefix(void)
{
	struct sbx_policy *p = sbx_policy_new();
	struct sbx_rule r;

	rule_init(&r, "local:abcdef12", SBX_ALLOW, NULL, "a.example");
	strcpy(r.id, "abcdef12-0000-4000-8000-000000000001");
	CHECK_INT(sbx_policy_add(p, &r), 0);
	sbx_rule_release(&r);
	rule_init(&r, "twin", SBX_ALLOW, NULL, "b.example");
	strcpy(r.id, "abcdef12-0001-4000-8000-000000000002");
	CHECK_INT(sbx_policy_add(p, &r), 0);
	sbx_rule_release(&r);
	rule_init(&r, "ci", SBX_ALLOW, "box", "c.example");
	strcpy(r.id, "12345678-0000-4000-8000-000000000003");
	CHECK_INT(sbx_policy_add(p, &r), 0);
	sbx_rule_release(&r);
	rule_init(&r, "ci", SBX_DENY, NULL, "c.example");
	strcpy(r.id, "ffffffff-0000-4000-8000-000000000004");
	CHECK_INT(sbx_policy_add(p, &r), 0);
	sbx_rule_release(&r);

	CHECK_STR(find(p, "local:abcdef12", false), "E local:abcdef12");  /* its name */
	CHECK_STR(find(p, "twin", false), "E twin");
	CHECK_STR(find(p, "twin", true), "N");				   /* names not asked for */
	CHECK_STR(find(p, "abcdef12-0001-4000-8000-000000000002", true), "E twin");
	CHECK_STR(find(p, "local:ABCDEF12-0001-4000-8000-000000000002", false), "E twin");
	CHECK_STR(find(p, "abcdef12", true), "P local:abcdef12 twin");	   /* a shared prefix */
	CHECK_STR(find(p, "abcdef12-0001", false), "P twin");
	CHECK_STR(find(p, "1234", false), "S ci");			   /* too short */
	CHECK_STR(find(p, "ci", false), "E ci ci");			   /* two scopes */
	CHECK_STR(find(p, "nothing", false), "N");
	CHECK_STR(find(p, "local:", false), "N");
	sbx_policy_free(p);
}

static const struct test tests[] = {
	T(test_exact_hosts_are_lowercased_without_trailing_dot),
	T(test_wildcards_parse_to_their_kinds),
	T(test_addresses_and_cidrs_normalise),
	T(test_bad_resources_say_what_is_wrong),
	T(test_comma_lists_reject_empty_items),
	T(test_filesystem_paths),
	T(test_path_patterns_accepted_and_canonical),
	T(test_path_patterns_refused_with_a_reason),
	T(test_path_decisions_follow_the_patterns),
	T(test_path_deny_inside_the_mount_refuses_it),
	T(test_path_home_patterns_need_a_home),
	T(test_path_org_home_example),
	T(test_path_local_deny_fix_and_inside_detail),
	T(test_path_rules_keep_to_their_type_and_scope),
	T(test_path_decide_refuses_bad_input),
	T(test_exact_rule_does_not_match_subdomains),
	T(test_single_star_matches_any_depth_but_not_root),
	T(test_double_star_matches_root_and_subdomains),
	T(test_port_qualified_rules_match_only_that_port),
	T(test_deny_beats_wildcard_allow),
	T(test_broad_deny_beats_specific_allow),
	T(test_sandbox_scoped_rules_apply_only_to_that_sandbox),
	T(test_localhost_rules_open_only_host_services),
	T(test_address_rules_match_ip_literals),
	T(test_domain_rules_never_match_addresses),
	T(test_default_is_deny_with_a_reason),
	T(test_decide_refuses_invalid_hosts),
	T(test_uncompiled_policy_refuses_to_decide),
	T(test_remote_rules_make_local_rules_of_their_type_inactive),
	T(test_may_allow_ignores_ports_for_allows_not_for_denies),
	T(test_uuids),
	T(test_names_round_trip),
	T(test_rule_names_are_one_word_and_not_a_type),
	T(test_paths_are_not_network_resources),
	T(test_find_rules_by_name_id_or_id_prefix),
};

TEST_MAIN("policy", tests)
