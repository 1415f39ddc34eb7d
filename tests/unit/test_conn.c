// SPDX-License-Identifier: MIT
/*
 * The one classification of addresses and host names, and the one connection
 * decision (include/sbx/conn.h): tables of peer-style cases, as a sandboxed
 * client would try them, each named after what it shows.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sbx/conn.h>
#include <sbx/policy.h>
#include "hostaddr.h"
#include "sniff.h"
#include "test.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static char err[SBX_ERR_MAX];

/* ---- the environment the cases run in ------------------------------------------------ */

/*
 * Host addresses 192.168.1.10, 203.0.113.77 (a public one), the gateway
 * 10.209.0.1, fe80::1234 and 2001:db8::77; pool 10.209.0.0/16; sbx listens on
 * 3128, 3129 and 3153.
 */
static struct sbx_addr_env env;

static struct sbx_addr addr(const char *text)
{
	struct sbx_addr a;

	if (sbx_addr_parse(text, &a) != 1)
		fprintf(stderr, "  test address '%s' does not parse\n", text);
	return a;
}

static void env_init(void)
{
	static const char *const hosts[] = { "192.168.1.10", "203.0.113.77", "10.209.0.1",
					     "fe80::1234", "2001:db8::77" };
	struct sbx_addr pool = addr("10.209.0.0");

	memset(&env, 0, sizeof(env));
	for (size_t i = 0; i < ARRAY_SIZE(hosts); i++) {
		struct sbx_addr a = addr(hosts[i]);

		sbx_addr_env_add_host(&env, &a);
	}
	sbx_addr_env_set_pool(&env, &pool, 16);
	sbx_addr_env_add_port(&env, 3128);
	sbx_addr_env_add_port(&env, 3129);
	sbx_addr_env_add_port(&env, 3153);
}

static const char *const class_names[] = {
	[SBX_ADDR_PUBLIC] = "public", [SBX_ADDR_INTERNAL] = "internal", [SBX_ADDR_HOST] = "host",
	[SBX_ADDR_SANDBOX] = "sandbox", [SBX_ADDR_OWN] = "own",
};

/* ---- address classification ---------------------------------------------------------- */

struct class_case {
	const char *addr;
	uint16_t port;
	enum sbx_addr_class want;
};

static const struct class_case class_cases[] = {
	/* public, including the TEST-NET origins of the test world */
	{ "8.8.8.8", 443, SBX_ADDR_PUBLIC },
	{ "1.1.1.1", 53, SBX_ADDR_PUBLIC },
	{ "198.51.100.7", 443, SBX_ADDR_PUBLIC },
	{ "203.0.113.9", 80, SBX_ADDR_PUBLIC },
	{ "192.0.2.1", 80, SBX_ADDR_PUBLIC },
	{ "172.15.255.255", 80, SBX_ADDR_PUBLIC },
	{ "172.32.0.1", 80, SBX_ADDR_PUBLIC },
	{ "100.63.255.255", 80, SBX_ADDR_PUBLIC },
	{ "100.128.0.1", 80, SBX_ADDR_PUBLIC },
	{ "198.20.0.1", 80, SBX_ADDR_PUBLIC },
	{ "11.0.0.1", 80, SBX_ADDR_PUBLIC },
	{ "223.255.255.255", 80, SBX_ADDR_PUBLIC },
	/* internal IPv4 */
	{ "10.1.2.3", 22, SBX_ADDR_INTERNAL },
	{ "10.255.255.255", 80, SBX_ADDR_INTERNAL },
	{ "172.16.0.1", 80, SBX_ADDR_INTERNAL },
	{ "172.31.255.255", 80, SBX_ADDR_INTERNAL },
	{ "192.168.0.1", 80, SBX_ADDR_INTERNAL },
	{ "100.64.0.1", 80, SBX_ADDR_INTERNAL },
	{ "100.127.255.255", 80, SBX_ADDR_INTERNAL },
	{ "169.254.169.254", 80, SBX_ADDR_INTERNAL },
	{ "0.1.2.3", 80, SBX_ADDR_INTERNAL },
	{ "192.0.0.8", 80, SBX_ADDR_INTERNAL },
	{ "198.18.0.1", 80, SBX_ADDR_INTERNAL },
	{ "198.19.255.255", 80, SBX_ADDR_INTERNAL },
	{ "224.0.0.1", 80, SBX_ADDR_INTERNAL },
	{ "239.255.255.250", 1900, SBX_ADDR_INTERNAL },
	{ "240.0.0.1", 80, SBX_ADDR_INTERNAL },
	{ "255.255.255.255", 80, SBX_ADDR_INTERNAL },
	{ "10.210.0.1", 80, SBX_ADDR_INTERNAL },
	/* the host: loopback, unspecified, its own addresses, the gateways */
	{ "127.0.0.1", 80, SBX_ADDR_HOST },
	{ "127.0.0.53", 53, SBX_ADDR_HOST },
	{ "127.255.255.254", 80, SBX_ADDR_HOST },
	{ "0.0.0.0", 80, SBX_ADDR_HOST },
	{ "192.168.1.10", 8080, SBX_ADDR_HOST },
	{ "203.0.113.77", 443, SBX_ADDR_HOST },
	{ "10.209.0.1", 11434, SBX_ADDR_HOST },
	{ "::1", 80, SBX_ADDR_HOST },
	{ "::", 80, SBX_ADDR_HOST },
	{ "fe80::1234", 80, SBX_ADDR_HOST },
	{ "2001:db8::77", 80, SBX_ADDR_HOST },
	{ "::ffff:127.0.0.1", 80, SBX_ADDR_HOST },
	{ "::ffff:192.168.1.10", 80, SBX_ADDR_HOST },
	/* sbx's own listeners, on any host address */
	{ "127.0.0.1", 3128, SBX_ADDR_OWN },
	{ "0.0.0.0", 3153, SBX_ADDR_OWN },
	{ "10.209.0.1", 3128, SBX_ADDR_OWN },
	{ "10.209.0.1", 3129, SBX_ADDR_OWN },
	{ "192.168.1.10", 3153, SBX_ADDR_OWN },
	{ "203.0.113.77", 3129, SBX_ADDR_OWN },
	{ "::1", 3128, SBX_ADDR_OWN },
	{ "::", 3129, SBX_ADDR_OWN },
	{ "::ffff:127.0.0.1", 3153, SBX_ADDR_OWN },
	/* sandboxes */
	{ "10.209.0.2", 80, SBX_ADDR_SANDBOX },
	{ "10.209.0.6", 3128, SBX_ADDR_SANDBOX },
	{ "10.209.255.254", 22, SBX_ADDR_SANDBOX },
	{ "10.209.0.5", 80, SBX_ADDR_SANDBOX },
	{ "::ffff:10.209.0.5", 80, SBX_ADDR_SANDBOX },
	/* internal IPv6 ranges */
	{ "fe80::1", 80, SBX_ADDR_INTERNAL },
	{ "febf:ffff::1", 80, SBX_ADDR_INTERNAL },
	{ "fec0::1", 80, SBX_ADDR_INTERNAL },
	{ "fc00::1", 80, SBX_ADDR_INTERNAL },
	{ "fd12:3456:789a::1", 80, SBX_ADDR_INTERNAL },
	{ "ff02::1", 80, SBX_ADDR_INTERNAL },
	{ "ff05::1:3", 80, SBX_ADDR_INTERNAL },
	{ "100::1", 80, SBX_ADDR_INTERNAL },
	{ "2001:2::1", 80, SBX_ADDR_INTERNAL },
	/* every form that embeds an internal IPv4 */
	{ "::ffff:10.0.0.1", 80, SBX_ADDR_INTERNAL },
	{ "::ffff:169.254.169.254", 80, SBX_ADDR_INTERNAL },
	{ "::ffff:0:10.0.0.1", 80, SBX_ADDR_INTERNAL },
	{ "::10.0.0.1", 80, SBX_ADDR_INTERNAL },
	{ "::127.0.0.1", 80, SBX_ADDR_INTERNAL },
	{ "::a9fe:a9fe", 80, SBX_ADDR_INTERNAL },
	{ "64:ff9b::7f00:1", 80, SBX_ADDR_INTERNAL },
	{ "64:ff9b::10.0.0.1", 80, SBX_ADDR_INTERNAL },
	{ "64:ff9b::a9fe:a9fe", 80, SBX_ADDR_INTERNAL },
	{ "64:ff9b::c0a8:1", 80, SBX_ADDR_INTERNAL },
	{ "64:ff9b::127.0.0.1", 3128, SBX_ADDR_INTERNAL },
	{ "64:ff9b::192.168.1.10", 80, SBX_ADDR_INTERNAL },
	{ "64:ff9b::10.209.0.9", 80, SBX_ADDR_INTERNAL },
	/* local-use NAT64, 6to4 and Teredo: internal outright */
	{ "64:ff9b:1::1", 80, SBX_ADDR_INTERNAL },
	{ "64:ff9b:1:ffff::808:808", 80, SBX_ADDR_INTERNAL },
	{ "2002:7f00:1::1", 80, SBX_ADDR_INTERNAL },
	{ "2002:a00:1::1", 80, SBX_ADDR_INTERNAL },
	{ "2002:808:808::1", 80, SBX_ADDR_INTERNAL },
	{ "2001:0:4136:e378:8000:63bf:3fff:fdd2", 80, SBX_ADDR_INTERNAL },
	{ "2001::1", 80, SBX_ADDR_INTERNAL },
	/* public IPv6, including embedded public IPv4 and the documentation range */
	{ "2606:4700:4700::1111", 443, SBX_ADDR_PUBLIC },
	{ "2001:4860:4860::8888", 443, SBX_ADDR_PUBLIC },
	{ "2001:db8::1", 443, SBX_ADDR_PUBLIC },
	{ "2001:3::1", 443, SBX_ADDR_PUBLIC },
	{ "100:0:0:1::1", 80, SBX_ADDR_PUBLIC },
	{ "::ffff:8.8.8.8", 443, SBX_ADDR_PUBLIC },
	{ "::ffff:0:8.8.8.8", 443, SBX_ADDR_PUBLIC },
	{ "::8.8.8.8", 443, SBX_ADDR_PUBLIC },
	{ "64:ff9b::8.8.8.8", 443, SBX_ADDR_PUBLIC },
	{ "64:ff9b::198.51.100.7", 443, SBX_ADDR_PUBLIC },
};

static void test_addresses_are_classified_against_the_host_pool_and_ports(void)
{
	env_init();
	for (size_t i = 0; i < ARRAY_SIZE(class_cases); i++) {
		const struct class_case *c = &class_cases[i];
		struct sbx_addr a = addr(c->addr);
		enum sbx_addr_class got = sbx_addr_classify(&env, &a, c->port);

		if (got != c->want) {
			fprintf(stderr, "  %s port %u: %s, want %s\n", c->addr, c->port,
				class_names[got], class_names[c->want]);
			test_failed = 1;
		}
	}
}

static void test_without_environment_only_loopback_is_the_host(void)
{
	struct sbx_addr a = addr("127.0.0.1"), b = addr("10.209.0.2"), c = addr("8.8.8.8"),
			d = addr("::1"), e = addr("fd00::1");

	CHECK_INT(sbx_addr_classify(NULL, &a, 80), SBX_ADDR_HOST);
	CHECK_INT(sbx_addr_classify(NULL, &b, 80), SBX_ADDR_INTERNAL);
	CHECK_INT(sbx_addr_classify(NULL, &c, 80), SBX_ADDR_PUBLIC);
	CHECK_INT(sbx_addr_classify(NULL, &d, 3128), SBX_ADDR_HOST);
	CHECK_INT(sbx_addr_classify(NULL, &e, 80), SBX_ADDR_INTERNAL);
}

/* A mapped address arriving raw (from a sockaddr_in6) is the IPv4 address it maps. */
static void test_raw_mapped_addresses_count_as_their_ipv4(void)
{
	static const char *const cases[] = { "::ffff:127.0.0.1", "::ffff:10.209.0.5",
					     "::ffff:10.1.2.3", "::ffff:8.8.8.8",
					     "::ffff:10.209.0.1" };

	env_init();
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct sbx_addr raw = { .family = 6 }, v4 = addr(cases[i]);

		CHECK_INT(inet_pton(AF_INET6, cases[i], raw.a), 1);
		CHECK_INT(sbx_addr_classify(&env, &raw, 80), sbx_addr_classify(&env, &v4, 80));
		CHECK_INT(sbx_addr_is_internal(&raw), sbx_addr_is_internal(&v4));
	}
}

static void test_ip4_internal_takes_network_order(void)
{
	CHECK(sbx_ip4_is_internal(htonl(0x7f000001)));
	CHECK(sbx_ip4_is_internal(htonl(0xa9fea9fe)));
	CHECK(!sbx_ip4_is_internal(htonl(0xc6336407))); /* 198.51.100.7 */
	CHECK(!sbx_ip4_is_internal(htonl(0xcb007109))); /* 203.0.113.9 */
}

static void test_environment_ignores_duplicates_and_reports_full(void)
{
	struct sbx_addr_env e = { 0 };
	struct sbx_addr a = addr("10.0.0.1"), m = { .family = 6 };

	CHECK_INT(sbx_addr_env_add_host(&e, &a), 0);
	CHECK_INT(sbx_addr_env_add_host(&e, &a), 0);
	inet_pton(AF_INET6, "::ffff:10.0.0.1", m.a);
	CHECK_INT(sbx_addr_env_add_host(&e, &m), 0);
	CHECK_INT(e.nhost, 1);
	for (uint32_t i = 0; i < SBX_ADDR_ENV_MAX - 1; i++) {
		struct sbx_addr x = { .family = 4 };
		uint32_t ip = htonl(0x0b000000 + i);

		memcpy(x.a, &ip, 4);
		CHECK_INT(sbx_addr_env_add_host(&e, &x), 0);
	}
	struct sbx_addr one_more = addr("12.0.0.1");
	CHECK_INT(sbx_addr_env_add_host(&e, &one_more), -ENOSPC);
	CHECK_INT(sbx_addr_env_add_port(&e, 0), 0);
	CHECK_INT(e.nown_ports, 0);
	for (uint16_t p = 1; p <= SBX_OWN_PORTS_MAX; p++)
		CHECK_INT(sbx_addr_env_add_port(&e, p), 0);
	CHECK_INT(sbx_addr_env_add_port(&e, 1), 0);
	CHECK_INT(sbx_addr_env_add_port(&e, 999), -ENOSPC);
}

static void test_snapshot_lists_addresses_that_classify_as_host(void)
{
	struct sbx_addr_env e;
	int ret = sbx_addr_env_snapshot(&e);

	CHECK(ret == 0 || ret == -ENOSPC);
	CHECK(e.nhost <= SBX_ADDR_ENV_MAX);
	for (size_t i = 0; i < e.nhost; i++)
		CHECK_INT(sbx_addr_classify(&e, &e.host[i], 80), SBX_ADDR_HOST);
}

/* ---- parsing addresses: every spelling ------------------------------------------------- */

struct parse_case {
	const char *text;
	int want;
	const char *canon; /* for want == 1 */
};

static const struct parse_case parse_cases[] = {
	{ "1.2.3.4", 1, "1.2.3.4" },
	{ "255.255.255.255", 1, "255.255.255.255" },
	{ "0.0.0.0", 1, "0.0.0.0" },
	{ "::1", 1, "::1" },
	{ "[::1]", 1, "::1" },
	{ "FE80::1", 1, "fe80::1" },
	{ "2001:DB8:0:0:0:0:0:1", 1, "2001:db8::1" },
	{ "[::ffff:127.0.0.1]", 1, "127.0.0.1" },
	{ "::FFFF:7f00:1", 1, "127.0.0.1" },
	{ "64:ff9b::127.0.0.1", 1, "64:ff9b::7f00:1" },
	/* hex, octal and short IPv4 spellings: never names, never addresses */
	{ "0x7f000001", -EINVAL, NULL },
	{ "0X7F000001", -EINVAL, NULL },
	{ "127.0.0.0x1", -EINVAL, NULL },
	{ "0xa9fea9fe", -EINVAL, NULL },
	{ "0xa9.0xfe.0xa9.0xfe", -EINVAL, NULL },
	{ "0x7f.1", -EINVAL, NULL },
	{ "017700000001", -EINVAL, NULL },
	{ "0177.0.0.1", -EINVAL, NULL },
	{ "127.000.000.001", -EINVAL, NULL },
	{ "127.0.0.01", -EINVAL, NULL },
	{ "127.1", -EINVAL, NULL },
	{ "127.0.1", -EINVAL, NULL },
	{ "2130706433", -EINVAL, NULL },
	{ "1.2.3.999", -EINVAL, NULL },
	{ "1.2.3.4.5", -EINVAL, NULL },
	{ "256.1.1.1", -EINVAL, NULL },
	{ "a.0x10", -EINVAL, NULL },
	{ "example.0x", -EINVAL, NULL },
	{ "127.0.0.1.", -EINVAL, NULL },
	/* IPv6 forms sbx does not take */
	{ "fe80::1%eth0", -EINVAL, NULL },
	{ "[fe80::1%25eth0]", -EINVAL, NULL },
	{ "[::1", -EINVAL, NULL },
	{ "[1.2.3.4]", -EINVAL, NULL },
	{ "1:2", -EINVAL, NULL },
	{ "1::2::3", -EINVAL, NULL },
	/* host-name candidates */
	{ "example.com", 0, NULL },
	{ "0x7f000001.com", 0, NULL },
	{ "1.2.3.com", 0, NULL },
	{ "a.b1", 0, NULL },
	{ "123abc", 0, NULL },
	{ "0xg", 0, NULL },
	{ "xn--caf-dma.com", 0, NULL },
	{ "", 0, NULL },
};

static void test_every_ipv4_spelling_is_an_address_or_refused(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(parse_cases); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct sbx_addr a;
		char text[64];
		int got = sbx_addr_parse(c->text, &a);

		if (got != c->want) {
			fprintf(stderr, "  parse '%s': %d, want %d\n", c->text, got, c->want);
			test_failed = 1;
			continue;
		}
		if (got == 1) {
			sbx_addr_format(&a, text, sizeof(text));
			CHECK_STR(text, c->canon);
		} else {
			CHECK_INT(a.family, 0);
		}
	}
}

/* ---- host names: normalisation and refusals -------------------------------------------- */

struct name_case {
	const char *in;
	const char *want; /* the normal form, or NULL for a refusal */
	const char *why;  /* for refusals: part of the message */
};

static char l63[64], l64[65], n253[254], n254[255];

static void long_names_init(void)
{
	memset(l63, 'a', 63);
	memset(l64, 'a', 64);
	/* 4 labels of 61 + 3 dots = 247, then ".abcde" = 253 */
	for (int i = 0; i < 4; i++) {
		memset(n253 + i * 62, 'b', 61);
		n253[i * 62 + 61] = '.';
	}
	memcpy(n253 + 248, "abcde", 5);
	memcpy(n254, n253, 253);
	memcpy(n254 + 252, "ef", 2);
}

static const struct name_case name_cases[] = {
	{ "Example.COM", "example.com", NULL },
	{ "example.com.", "example.com", NULL },
	{ "PyPI.org.", "pypi.org", NULL },
	{ "LOCALHOST.", "localhost", NULL },
	{ "localhost", "localhost", NULL },
	{ "foo.localhost", "foo.localhost", NULL },
	{ "Host.Docker.Internal", "host.docker.internal", NULL },
	{ "a", "a", NULL },
	{ "_dmarc.example.com", "_dmarc.example.com", NULL },
	{ "_acme-challenge.example.com", "_acme-challenge.example.com", NULL },
	{ "xn--caf-dma.com", "xn--caf-dma.com", NULL },
	{ "XN--CAF-DMA.COM", "xn--caf-dma.com", NULL },
	{ "1.2.3.com", "1.2.3.com", NULL },
	{ "0x7f000001.com", "0x7f000001.com", NULL },
	{ "1.2.3.4", "1.2.3.4", NULL },
	{ "[::1]", "::1", NULL },
	{ "[::FFFF:127.0.0.1]", "127.0.0.1", NULL },
	{ "::ffff:127.0.0.1", "127.0.0.1", NULL },
	{ "FE80::0:1", "fe80::1", NULL },
	{ "", NULL, "empty" },
	{ "a..b", NULL, "empty label" },
	{ ".a", NULL, "empty label" },
	{ "..", NULL, "empty label" },
	{ "-a.com", NULL, "start or end with '-'" },
	{ "a-.com", NULL, "start or end with '-'" },
	{ "a b.com", NULL, "space" },
	{ "caf\xc3\xa9.com", NULL, "not allowed" },
	{ "a/b", NULL, "'/'" },
	{ "a:b", NULL, "':'" },
	{ "*.localhost", NULL, "'*'" },
	{ "exa%mple.com", NULL, "'%'" },
	{ "0x7f000001", NULL, "neither a host name nor a valid IPv4 address" },
	{ "0X7F000001", NULL, "127.0.0.1" },
	{ "127.0.0.0x1", NULL, "127.0.0.1" },
	{ "0xa9fea9fe", NULL, "169.254.169.254" },
	{ "017700000001", NULL, "127.0.0.1" },
	{ "0177.0.0.1", NULL, "127.0.0.1" },
	{ "127.1", NULL, "127.0.0.1" },
	{ "2130706433", NULL, "127.0.0.1" },
	{ "1.2.3.999", NULL, "neither a host name nor a valid IPv4" },
	{ "evil.0x10", NULL, "neither a host name nor a valid IPv4" },
	{ "a.123", NULL, "neither a host name nor a valid IPv4" },
};

static void check_name(const char *in, const char *want, const char *why)
{
	char out[SBX_HOST_MAX + 1];
	int ret;

	err[0] = '\0';
	ret = sbx_host_normalize(in, out, sizeof(out), err, sizeof(err));
	if (want && (ret || strcmp(out, want))) {
		fprintf(stderr, "  normalise '%s': %d '%s' (%s), want '%s'\n", in, ret,
			ret ? "" : out, err, want);
		test_failed = 1;
	}
	if (!want && (ret != -EINVAL || !strstr(err, why))) {
		fprintf(stderr, "  normalise '%s': %d \"%s\", want a refusal saying \"%s\"\n", in,
			ret, err, why);
		test_failed = 1;
	}
}

static void test_host_names_normalise_or_say_what_is_wrong(void)
{
	long_names_init();
	for (size_t i = 0; i < ARRAY_SIZE(name_cases); i++)
		check_name(name_cases[i].in, name_cases[i].want, name_cases[i].why);
	check_name(l63, l63, NULL);
	check_name(l64, NULL, "label of 64 bytes");
	check_name(n253, n253, NULL);
	check_name(n254, NULL, "limit is 253");
	CHECK(!sbx_host_is_service("foo.localhost"));
	CHECK(sbx_host_is_service("localhost"));
}

/* The sniffer, the engine and check share one rule. */
static void test_sniffer_and_engine_agree_on_host_names(void)
{
	static const char *const names[] = { "pypi.org", "a", "_dmarc.a.io", "1.2.3.com",
					     "0x7f000001", "127.0.0.0x1", "0xa9fea9fe", "127.1",
					     "017700000001", "a.123", "-a.com", "a..b", "A.com",
					     "a_b.example", "x.0x1f", "xn--caf-dma.com" };
	char out[SBX_HOST_MAX + 1];

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		bool engine = sbx_host_name_check(names[i], NULL, NULL, 0) == 0;
		bool sniff = sbx_sniff_valid_hostname(names[i]) == 1;
		bool norm = sbx_host_normalize(names[i], out, sizeof(out), err, sizeof(err)) == 0 &&
			    strcmp(out, names[i]) == 0;

		if (engine != sniff || (engine && !norm)) {
			fprintf(stderr, "  '%s': engine %d sniff %d normalise %d\n", names[i],
				engine, sniff, norm);
			test_failed = 1;
		}
	}
}

static void test_rules_refuse_address_spellings_as_names(void)
{
	static const char *const bad[] = { "0x7f000001", "127.0.0.0x1", "0xa9fea9fe:80",
					   "0xa9fea9fe.", "017700000001:22", "127.1:80",
					   "*.0x7f000001", "**.127", "0x7f000001/8" };
	struct sbx_resource r;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		err[0] = '\0';
		if (sbx_resource_parse(SBX_TYPE_NETWORK, bad[i], &r, err, sizeof(err)) != -EINVAL) {
			fprintf(stderr, "  rule resource '%s' accepted as '%s'\n", bad[i], r.text);
			test_failed = 1;
		}
	}
	CHECK_INT(sbx_resource_parse(SBX_TYPE_NETWORK, "0x7f000001.example:443", &r, err,
				     sizeof(err)),
		  0);
}

/* ---- the connection decision ----------------------------------------------------------- */

static struct sbx_policy *p_any, *p_list, *p_org;

static void add_prov(struct sbx_policy *p, enum sbx_provenance prov, const char *name,
		     enum sbx_decision d, const char *sandbox, const char *csv)
{
	struct sbx_rule r;

	memset(&r, 0, sizeof(r));
	r.prov = prov;
	snprintf(r.name, sizeof(r.name), "%s", name);
	sbx_uuid_from_name(name, r.id);
	r.decision = d;
	r.type = SBX_TYPE_NETWORK;
	snprintf(r.sandbox, sizeof(r.sandbox), "%s", sandbox ? sandbox : "");
	if (sbx_resource_list_parse(SBX_TYPE_NETWORK, csv, &r.res, &r.nres, err, sizeof(err))) {
		fprintf(stderr, "  rule %s: %s\n", name, err);
		test_failed = 1;
	}
	CHECK_INT(sbx_policy_add(p, &r), 0);
	sbx_rule_release(&r);
}

static void add(struct sbx_policy *p, const char *name, enum sbx_decision d, const char *sandbox,
		const char *csv)
{
	add_prov(p, SBX_PROV_LOCAL, name, d, sandbox, csv);
}

static void policies_init(void)
{
	if (p_any)
		return;
	/* "**" with denies, a host service and an internal address rule */
	p_any = sbx_policy_new();
	add(p_any, "any", SBX_ALLOW, NULL, "**");
	add(p_any, "ads", SBX_DENY, NULL, "ads.example.com");
	add(p_any, "bad-addr", SBX_DENY, NULL, "198.51.100.13");
	add(p_any, "ollama", SBX_ALLOW, NULL, "localhost:11434");
	add(p_any, "ssh", SBX_ALLOW, NULL, "10.1.2.3:22");
	add(p_any, "box-only", SBX_DENY, "box1", "blocked-in-box.example");
	add(p_any, "trackers", SBX_DENY, NULL, "*.tracker.example");
	CHECK_INT(sbx_policy_compile(p_any), 0);
	/* a list: default deny */
	p_list = sbx_policy_new();
	add(p_list, "pypi", SBX_ALLOW, NULL, "pypi.org");
	add(p_list, "github", SBX_ALLOW, NULL, "**.github.com");
	add(p_list, "evil", SBX_DENY, NULL, "evil.example");
	add(p_list, "origins", SBX_ALLOW, NULL, "198.51.100.0/24:22");
	add(p_list, "private", SBX_ALLOW, NULL, "10.0.0.0/8");
	add(p_list, "web", SBX_ALLOW, NULL, "localhost:8080");
	add(p_list, "box", SBX_ALLOW, "box1", "box.example");
	add(p_list, "pkgs", SBX_ALLOW, NULL, "files.example:443");
	CHECK_INT(sbx_policy_compile(p_list), 0);
	/* an organization's policy: its deny cannot be lifted here */
	p_org = sbx_policy_new();
	add_prov(p_org, SBX_PROV_REMOTE, "org-any", SBX_ALLOW, NULL, "**");
	add_prov(p_org, SBX_PROV_REMOTE, "org-deny", SBX_DENY, NULL, "paste.example");
	CHECK_INT(sbx_policy_compile(p_org), 0);
}

enum { ANY, LIST, ORG };
#define C SBX_CONN_CONNECT
#define F SBX_CONN_FORWARD
#define K SBX_CONN_CHECK
#define TP SBX_CONN_TRANSPARENT
#define TLS SBX_STREAM_TLS
#define HTTP SBX_STREAM_HTTP
#define RAW SBX_STREAM_RAW
#define BAD SBX_STREAM_BAD
#define PUB SBX_ADDR_PUBLIC
#define INT SBX_ADDR_INTERNAL
#define HOST SBX_ADDR_HOST
#define SBOX SBX_ADDR_SANDBOX
#define OWN SBX_ADDR_OWN
#define R_OK SBX_REASON_DOMAIN_ALLOWED
#define R_ADDR SBX_REASON_ADDRESS_ALLOWED
#define R_DENY SBX_REASON_DOMAIN_BLOCKED
#define R_DEF SBX_REASON_DEFAULT_DENY
#define R_PRIV SBX_REASON_PRIVATE_IP
#define R_SNI SBX_REASON_SNI_MISMATCH
#define R_BAD SBX_REASON_BAD_STREAM

struct conn_case {
	const char *name;
	int pol;
	enum sbx_conn_kind kind;
	const char *target; /* CONNECT, FORWARD, CHECK */
	const char *orig;   /* TRANSPARENT */
	enum sbx_addr_class ocls;
	const char *dns;
	uint16_t port;
	enum sbx_stream st;
	const char *sname;
	bool dialled;
	const char *up; /* NULL: not yet */
	enum sbx_addr_class ucls;
	const char *sandbox;
	/* expected */
	bool allow;
	enum sbx_reason reason;
	const char *has;  /* in the detail */
	const char *fix;  /* in the fix */
	const char *hasnt; /* not in the detail */
	int ret;	  /* 0 or -EINVAL */
	const char *host; /* v->host, when given */
	int hs;		  /* host_service: 0 no, 1 yes, -1 either */
};

static const struct conn_case conn_cases[] = {
	/* CONNECT by name: the target is decided, and the stream must name it */
	{ "connect_name_allowed_by_star_star", ANY, C, "example.net", .port = 443, .allow = true,
	  .reason = R_OK, .host = "example.net" },
	{ "connect_denied_name_beats_star_star", ANY, C, "ads.example.com", .port = 443,
	  .reason = R_DENY, .has = "ads",
	  .fix = "sbx policy rm network --resource ads.example.com  # a deny beats" },
	{ "connect_deny_fix_quotes_a_wildcard", ANY, C, "t1.tracker.example", .port = 443,
	  .reason = R_DENY, .fix = "sbx policy rm network --resource '*.tracker.example'  # " },
	{ "connect_organization_deny_cannot_be_lifted_here", ORG, C, "paste.example", .port = 443,
	  .reason = R_DENY, .fix = "no local rule can allow this: deny rule org-deny is the "
				   "organization's" },
	{ "connect_target_is_canonicalised", ANY, C, "Example.NET.", .port = 443, .st = TLS,
	  .sname = "example.net", .allow = true, .reason = R_OK, .host = "example.net" },
	{ "connect_sni_equal_to_target", ANY, C, "example.net", .port = 443, .st = TLS,
	  .sname = "example.net", .allow = true, .reason = R_OK },
	{ "connect_sni_case_and_dot_do_not_matter", ANY, C, "example.net", .port = 443, .st = TLS,
	  .sname = "EXAMPLE.net.", .allow = true, .reason = R_OK },
	{ "connect_sni_naming_another_host_is_fronting", ANY, C, "example.net", .port = 443,
	  .st = TLS, .sname = "other.example", .reason = R_SNI, .has = "other.example",
	  .fix = "no rule can allow this: a connection opened for one host never carries" },
	{ "connect_sni_naming_a_denied_host", ANY, C, "example.net", .port = 443, .st = TLS,
	  .sname = "ads.example.com", .reason = R_SNI },
	{ "connect_sni_naming_a_subdomain", LIST, C, "api.github.com", .port = 443, .st = TLS,
	  .sname = "raw.github.com", .reason = R_SNI },
	{ "connect_missing_sni_on_a_named_tunnel", ANY, C, "example.net", .port = 443, .st = TLS,
	  .sname = "", .reason = R_SNI, .has = "no server name" },
	{ "connect_null_sni_on_a_named_tunnel", ANY, C, "example.net", .port = 443, .st = TLS,
	  .reason = R_SNI, .has = "no server name" },
	{ "connect_http_host_equal_to_target", ANY, C, "example.net", .port = 80, .st = HTTP,
	  .sname = "example.net", .allow = true, .reason = R_OK },
	{ "connect_http_host_naming_another_host", ANY, C, "example.net", .port = 80, .st = HTTP,
	  .sname = "evil.example", .reason = R_SNI },
	{ "connect_http_without_host_on_named_tunnel", ANY, C, "example.net", .port = 80,
	  .st = HTTP, .sname = "", .reason = R_SNI },
	{ "connect_sni_that_is_no_host_name", ANY, C, "example.net", .port = 443, .st = TLS,
	  .sname = "0x7f000001", .reason = R_BAD },
	{ "connect_bad_stream_is_refused", ANY, C, "example.net", .port = 443, .st = BAD,
	  .reason = R_BAD, .has = "malformed", .fix = "no rule can allow this: malformed" },
	{ "connect_raw_under_the_target_rule", ANY, C, "example.net", .port = 22, .st = RAW,
	  .allow = true, .reason = R_OK },
	{ "connect_raw_to_denied_target", ANY, C, "ads.example.com", .port = 22, .st = RAW,
	  .reason = R_DENY },
	{ "connect_first_refusal_is_the_target", ANY, C, "ads.example.com", .port = 443,
	  .st = BAD, .reason = R_DENY },
	{ "connect_list_default_deny", LIST, C, "other.example", .port = 443, .reason = R_DEF,
	  .has = "default deny", .fix = "sbx policy allow network other.example:443" },
	{ "connect_list_allowed_on_another_port_only", LIST, C, "files.example", .port = 80,
	  .reason = R_DEF, .has = "files.example is allowed on port 443 (pkgs), not on port 80",
	  .fix = "sbx policy allow network files.example:80" },
	{ "connect_list_public_ipv6_fix_is_quoted", LIST, C, "[2606:4700:4700::1111]", .port = 443,
	  .up = "2606:4700:4700::1111", .ucls = PUB, .reason = R_DEF,
	  .fix = "sbx policy allow network '[2606:4700:4700::1111]:443'" },
	{ "connect_list_allows_listed", LIST, C, "pypi.org", .port = 443, .st = TLS,
	  .sname = "pypi.org", .allow = true, .reason = R_OK },
	{ "connect_list_sni_to_unlisted", LIST, C, "pypi.org", .port = 443, .st = TLS,
	  .sname = "evil.example", .reason = R_SNI },
	{ "connect_scoped_rule_for_its_sandbox", LIST, C, "box.example", .port = 443,
	  .sandbox = "box1", .allow = true, .reason = R_OK },
	{ "connect_scoped_rule_not_other_sandbox", LIST, C, "box.example", .port = 443,
	  .sandbox = "box2", .reason = R_DEF, .fix = "sbx policy allow network box.example:443" },
	{ "connect_scoped_deny_in_its_sandbox", ANY, C, "blocked-in-box.example", .port = 443,
	  .sandbox = "box1", .reason = R_DENY },
	{ "connect_scoped_deny_not_elsewhere", ANY, C, "blocked-in-box.example", .port = 443,
	  .allow = true, .reason = R_OK },
	/* CONNECT by address: the class decides what may open it */
	{ "connect_public_ip_under_star_star", ANY, C, "8.8.8.8", .port = 443, .up = "8.8.8.8",
	  .ucls = PUB, .allow = true, .reason = R_OK, .host = "8.8.8.8" },
	{ "connect_ip_any_sni_not_denied", ANY, C, "8.8.8.8", .port = 443, .st = TLS,
	  .sname = "whatever.example", .up = "8.8.8.8", .ucls = PUB, .allow = true },
	{ "connect_ip_denied_sni_refused", ANY, C, "8.8.8.8", .port = 443, .st = TLS,
	  .sname = "ads.example.com", .up = "8.8.8.8", .ucls = PUB, .reason = R_DENY,
	  .has = "ads.example.com" },
	{ "connect_ip_without_sni_allowed", ANY, C, "8.8.8.8", .port = 443, .st = TLS,
	  .sname = "", .up = "8.8.8.8", .ucls = PUB, .allow = true },
	{ "connect_denied_address", ANY, C, "198.51.100.13", .port = 80, .up = "198.51.100.13",
	  .ucls = PUB, .reason = R_DENY },
	{ "connect_internal_ip_under_star_star", ANY, C, "10.9.9.9", .port = 443,
	  .up = "10.9.9.9", .ucls = INT, .reason = R_PRIV,
	  .fix = "sbx policy allow network 10.9.9.9:443  # only if 10.9.9.9 is meant to be "
		 "reached" },
	{ "connect_internal_ip_names_the_private_address_rule", ANY, C, "10.9.9.9", .port = 443,
	  .up = "10.9.9.9", .ucls = INT, .reason = R_PRIV,
	  .has = "10.9.9.9 is a private address: refused by the private-address rule",
	  .hasnt = "any" },
	{ "connect_internal_ip_with_address_rule", ANY, C, "10.1.2.3", .port = 22,
	  .up = "10.1.2.3", .ucls = INT, .allow = true, .reason = R_ADDR },
	{ "connect_internal_ip_address_rule_other_port", ANY, C, "10.1.2.3", .port = 23,
	  .up = "10.1.2.3", .ucls = INT, .reason = R_PRIV },
	{ "connect_internal_ip_classified_without_upstream", ANY, C, "10.9.9.9", .port = 443,
	  .reason = R_PRIV },
	{ "connect_metadata_ip", ANY, C, "169.254.169.254", .port = 80, .up = "169.254.169.254",
	  .ucls = INT, .reason = R_PRIV },
	{ "connect_cgnat_ip", ANY, C, "100.64.1.1", .port = 80, .up = "100.64.1.1", .ucls = INT,
	  .reason = R_PRIV },
	{ "connect_ipv6_loopback", ANY, C, "[::1]", .port = 80, .up = "::1", .ucls = HOST,
	  .reason = R_PRIV, .has = "localhost:80" },
	{ "connect_ipv6_unspecified", ANY, C, "::", .port = 80, .up = "::", .ucls = HOST,
	  .reason = R_PRIV },
	{ "connect_ipv6_link_local", ANY, C, "fe80::1", .port = 80, .up = "fe80::1", .ucls = INT,
	  .reason = R_PRIV },
	{ "connect_ipv6_ula", ANY, C, "fd00::1", .port = 80, .up = "fd00::1", .ucls = INT,
	  .reason = R_PRIV },
	{ "connect_ipv6_multicast", ANY, C, "ff02::1", .port = 80, .up = "ff02::1", .ucls = INT,
	  .reason = R_PRIV },
	{ "connect_ipv4_mapped_loopback", ANY, C, "::ffff:127.0.0.1", .port = 80,
	  .up = "127.0.0.1", .ucls = HOST, .reason = R_PRIV },
	{ "connect_ipv4_compatible_private", ANY, C, "::10.0.0.1", .port = 80, .up = "::10.0.0.1",
	  .ucls = INT, .reason = R_PRIV },
	{ "connect_nat64_loopback", ANY, C, "64:ff9b::7f00:1", .port = 80,
	  .up = "64:ff9b::7f00:1", .ucls = INT, .reason = R_PRIV },
	{ "connect_nat64_metadata_without_upstream", ANY, C, "64:ff9b::a9fe:a9fe", .port = 80,
	  .reason = R_PRIV },
	{ "connect_6to4", ANY, C, "2002:7f00:1::1", .port = 80, .up = "2002:7f00:1::1",
	  .ucls = INT, .reason = R_PRIV },
	{ "connect_teredo", ANY, C, "2001:0:4136:e378:8000:63bf:3fff:fdd2", .port = 80,
	  .reason = R_PRIV },
	{ "connect_public_ipv6", ANY, C, "[2606:4700:4700::1111]", .port = 443,
	  .up = "2606:4700:4700::1111", .ucls = PUB, .allow = true },
	{ "connect_loopback_v4", ANY, C, "127.0.0.1", .port = 80, .up = "127.0.0.1", .ucls = HOST,
	  .reason = R_PRIV, .has = "address of this host",
	  .fix = "sbx policy allow network localhost:80" },
	{ "connect_host_address_is_a_host_service", ANY, C, "192.168.1.10", .port = 11434,
	  .up = "192.168.1.10", .ucls = HOST, .allow = true, .hs = 1 },
	{ "connect_host_address_other_port", ANY, C, "192.168.1.10", .port = 22,
	  .up = "192.168.1.10", .ucls = HOST, .reason = R_PRIV, .hs = -1 },
	{ "connect_public_host_address_not_under_star_star", ANY, C, "203.0.113.77", .port = 443,
	  .up = "203.0.113.77", .ucls = HOST, .reason = R_PRIV, .hs = -1 },
	{ "connect_gateway_not_under_cidr", LIST, C, "10.209.0.1", .port = 22,
	  .up = "10.209.0.1", .ucls = HOST, .reason = R_PRIV, .hs = -1 },
	{ "connect_sandbox_address_refused", ANY, C, "10.209.0.6", .port = 80,
	  .up = "10.209.0.6", .ucls = SBOX, .reason = R_PRIV, .has = "sandbox",
	  .fix = "no rule can allow this: sandboxes never reach each other" },
	{ "connect_sandbox_address_not_even_by_cidr", LIST, C, "10.209.0.6", .port = 80,
	  .up = "10.209.0.6", .ucls = SBOX, .reason = R_PRIV },
	{ "connect_own_listener_refused", ANY, C, "10.209.0.1", .port = 3128,
	  .up = "10.209.0.1", .ucls = OWN, .reason = R_PRIV, .has = "own listeners",
	  .fix = "no rule can allow this: the proxy never dials sbx's own listeners" },
	{ "connect_own_listener_not_even_by_cidr", LIST, C, "10.209.0.1", .port = 3153,
	  .up = "10.209.0.1", .ucls = OWN, .reason = R_PRIV },
	{ "connect_list_public_ip_address_rule", LIST, C, "198.51.100.7", .port = 22,
	  .up = "198.51.100.7", .ucls = PUB, .allow = true, .reason = R_ADDR },
	{ "connect_list_ip_rule_denied_sni", LIST, C, "198.51.100.7", .port = 22, .st = TLS,
	  .sname = "evil.example", .up = "198.51.100.7", .ucls = PUB, .reason = R_DENY },
	{ "connect_list_ip_rule_unlisted_sni", LIST, C, "198.51.100.7", .port = 22, .st = TLS,
	  .sname = "unlisted.example", .up = "198.51.100.7", .ucls = PUB, .allow = true,
	  .reason = R_ADDR },
	{ "connect_list_ip_without_rule", LIST, C, "198.51.100.7", .port = 443,
	  .up = "198.51.100.7", .ucls = PUB, .reason = R_DEF },
	{ "connect_list_private_cidr", LIST, C, "10.20.30.40", .port = 5432, .up = "10.20.30.40",
	  .ucls = INT, .allow = true, .reason = R_ADDR },
	/* spellings that are neither names nor addresses */
	{ "connect_hex_target", ANY, C, "0x7f000001", .port = 80, .reason = R_BAD, .ret = -EINVAL,
	  .has = "not a valid host", .fix = "no rule can allow this: it is not a valid host" },
	{ "connect_hex_last_part", ANY, C, "127.0.0.0x1", .port = 80, .reason = R_BAD,
	  .ret = -EINVAL },
	{ "connect_hex_metadata", ANY, C, "0xa9fea9fe", .port = 80, .reason = R_BAD,
	  .ret = -EINVAL },
	{ "connect_octal_target", ANY, C, "0177.0.0.1", .port = 80, .reason = R_BAD,
	  .ret = -EINVAL },
	{ "connect_short_target", ANY, C, "127.1", .port = 80, .reason = R_BAD, .ret = -EINVAL },
	{ "connect_decimal_target", ANY, C, "2130706433", .port = 80, .reason = R_BAD,
	  .ret = -EINVAL },
	{ "connect_empty_label_target", ANY, C, "a..b", .port = 80, .reason = R_BAD,
	  .ret = -EINVAL },
	/* host services by name */
	{ "connect_localhost_rule", ANY, C, "localhost", .port = 11434, .up = "127.0.0.1",
	  .ucls = HOST, .allow = true, .reason = R_OK, .hs = 1 },
	{ "connect_host_docker_internal", ANY, C, "host.docker.internal", .port = 11434,
	  .allow = true, .reason = R_OK, .hs = 1 },
	{ "connect_localhost_other_port", ANY, C, "localhost", .port = 11435, .reason = R_DEF,
	  .hs = -1 },
	{ "connect_localhost_not_by_star_star", ANY, C, "host.docker.internal", .port = 80,
	  .reason = R_DEF, .hs = -1, .has = "only a localhost:80 rule opens it",
	  .fix = "sbx policy allow network localhost:80" },
	{ "connect_sub_localhost_is_a_name", ANY, C, "foo.localhost", .port = 80, .allow = true,
	  .reason = R_OK, .hs = 0 },
	{ "connect_host_service_dialled_elsewhere", ANY, C, "localhost", .port = 11434,
	  .up = "198.51.100.7", .ucls = PUB, .reason = R_PRIV, .hs = -1 },
	{ "connect_host_service_to_own_port", LIST, C, "localhost", .port = 8080,
	  .up = "127.0.0.1", .ucls = OWN, .reason = R_PRIV, .hs = -1 },
	/* the address a name resolved to */
	{ "name_resolving_public", ANY, C, "example.net", .port = 443, .up = "198.51.100.7",
	  .ucls = PUB, .allow = true, .reason = R_OK },
	{ "name_resolving_internal_is_rebinding", ANY, C, "example.net", .port = 443,
	  .up = "10.0.0.5", .ucls = INT, .reason = R_PRIV,
	  .has = "example.net resolves to a private address 10.0.0.5: refused by the "
		 "private-address rule", .hasnt = "any",
	  .fix = "sbx policy allow network 10.0.0.5:443  # only if 10.0.0.5 is meant to be "
		 "reached" },
	{ "name_resolving_internal_under_address_rule", ANY, C, "example.net", .port = 22,
	  .up = "10.1.2.3", .ucls = INT, .allow = true, .reason = R_OK },
	{ "name_resolving_to_denied_address", ANY, C, "example.net", .port = 80,
	  .up = "198.51.100.13", .ucls = PUB, .reason = R_DENY, .has = "bad-addr",
	  .fix = "sbx policy rm network --resource 198.51.100.13 " },
	{ "name_resolving_to_denied_address_mapped", ANY, C, "example.net", .port = 80,
	  .up = "::ffff:198.51.100.13", .ucls = PUB, .reason = R_DENY },
	{ "name_resolving_to_loopback", ANY, C, "example.net", .port = 80, .up = "127.0.0.1",
	  .ucls = HOST, .reason = R_PRIV,
	  .fix = "sbx policy allow network localhost:80  # then connect to "
		 "host.docker.internal:80" },
	{ "name_resolving_to_host_address", ANY, C, "example.net", .port = 80,
	  .up = "192.168.1.10", .ucls = HOST, .reason = R_PRIV },
	{ "name_resolving_to_sandbox", ANY, C, "example.net", .port = 80, .up = "10.209.0.6",
	  .ucls = SBOX, .reason = R_PRIV },
	{ "name_resolving_to_own_listener", ANY, C, "example.net", .port = 3128,
	  .up = "10.209.0.1", .ucls = OWN, .reason = R_PRIV },
	{ "name_resolving_to_ipv6_ula", ANY, C, "example.net", .port = 443, .up = "fd00::5",
	  .ucls = INT, .reason = R_PRIV },
	{ "name_resolving_to_nat64_private", ANY, C, "example.net", .port = 443,
	  .up = "64:ff9b::10.0.0.1", .ucls = INT, .reason = R_PRIV },
	{ "list_name_resolving_internal_with_cidr", LIST, C, "pypi.org", .port = 443,
	  .up = "10.0.0.9", .ucls = INT, .allow = true, .reason = R_OK },
	/* the forward proxy: the Host must be the URI's host */
	{ "forward_host_equal_to_uri", ANY, F, "example.net", .port = 80, .st = HTTP,
	  .sname = "example.net", .allow = true, .reason = R_OK },
	{ "forward_host_other_than_uri", ANY, F, "example.net", .port = 80, .st = HTTP,
	  .sname = "other.example", .reason = R_SNI },
	{ "forward_without_host", ANY, F, "example.net", .port = 80, .st = HTTP, .sname = "",
	  .reason = R_SNI },
	{ "forward_denied_uri", ANY, F, "ads.example.com", .port = 80, .st = HTTP,
	  .sname = "ads.example.com", .reason = R_DENY },
	{ "forward_ip_uri_internal", ANY, F, "192.168.7.7", .port = 80, .up = "192.168.7.7",
	  .ucls = INT, .reason = R_PRIV },
	/* transparent: opened for the resolver's name, else the address */
	{ "tp_raw_under_resolver_name", LIST, TP, .orig = "198.51.100.7", .ocls = PUB,
	  .dns = "pypi.org", .port = 443, .st = RAW, .allow = true, .reason = R_OK,
	  .host = "pypi.org" },
	{ "tp_raw_by_address_default_deny", LIST, TP, .orig = "198.51.100.9", .ocls = PUB,
	  .port = 443, .st = RAW, .reason = R_DEF, .host = "198.51.100.9",
	  .fix = "sbx policy allow network 198.51.100.9:443" },
	{ "tp_raw_by_address_rule", LIST, TP, .orig = "198.51.100.9", .ocls = PUB, .port = 22,
	  .st = RAW, .allow = true, .reason = R_ADDR },
	{ "tp_resolver_name_denied", ANY, TP, .orig = "198.51.100.50", .ocls = PUB,
	  .dns = "ads.example.com", .port = 443, .reason = R_DENY },
	{ "tp_sni_decides_when_not_dialled", LIST, TP, .orig = "198.51.100.9", .ocls = PUB,
	  .port = 443, .st = TLS, .sname = "pypi.org", .allow = true, .reason = R_OK,
	  .host = "pypi.org" },
	{ "tp_sni_denied_when_not_dialled", LIST, TP, .orig = "198.51.100.9", .ocls = PUB,
	  .port = 443, .st = TLS, .sname = "evil.example", .reason = R_DENY },
	{ "tp_sni_unlisted_when_not_dialled", LIST, TP, .orig = "198.51.100.9", .ocls = PUB,
	  .port = 443, .st = TLS, .sname = "unlisted.example", .reason = R_DEF },
	{ "tp_sni_other_than_resolver_name_redialled", LIST, TP, .orig = "198.51.100.7",
	  .ocls = PUB, .dns = "pypi.org", .port = 443, .st = TLS, .sname = "api.github.com",
	  .allow = true, .reason = R_OK, .host = "api.github.com" },
	{ "tp_http_host_decides_when_not_dialled", ANY, TP, .orig = "198.51.100.7", .ocls = PUB,
	  .port = 80, .st = HTTP, .sname = "Example.NET", .allow = true, .host = "example.net" },
	{ "tp_http_host_internal_literal", ANY, TP, .orig = "198.51.100.7", .ocls = PUB,
	  .port = 80, .st = HTTP, .sname = "10.0.0.1", .reason = R_PRIV },
	{ "tp_sni_localhost_is_a_host_service", ANY, TP, .orig = "198.51.100.7", .ocls = PUB,
	  .port = 11434, .st = TLS, .sname = "localhost", .allow = true, .hs = 1 },
	{ "tp_sni_resolving_internal", ANY, TP, .orig = "198.51.100.7", .ocls = PUB, .port = 443,
	  .st = TLS, .sname = "example.net", .up = "10.0.0.7", .ucls = INT, .reason = R_PRIV },
	{ "tp_sni_resolving_to_denied_address", ANY, TP, .orig = "198.51.100.7", .ocls = PUB,
	  .port = 443, .st = TLS, .sname = "example.net", .up = "198.51.100.13", .ucls = PUB,
	  .reason = R_DENY },
	{ "tp_missing_sni_with_resolver_name", LIST, TP, .orig = "198.51.100.7", .ocls = PUB,
	  .dns = "pypi.org", .port = 443, .st = TLS, .sname = "", .reason = R_SNI,
	  .has = "no server name" },
	{ "tp_missing_sni_by_address", ANY, TP, .orig = "8.8.8.8", .ocls = PUB, .port = 443,
	  .st = TLS, .sname = "", .allow = true },
	{ "tp_bad_stream", ANY, TP, .orig = "8.8.8.8", .ocls = PUB, .port = 443, .st = BAD,
	  .reason = R_BAD },
	{ "tp_bad_stream_after_dial", ANY, TP, .orig = "8.8.8.8", .ocls = PUB, .port = 25,
	  .st = BAD, .dialled = true, .up = "8.8.8.8", .ucls = PUB, .reason = R_BAD },
	/* transparent, dialled first (server speaks first): the upstream is fixed */
	{ "tp_dialled_sni_must_match_resolver_name", LIST, TP, .orig = "198.51.100.7",
	  .ocls = PUB, .dns = "pypi.org", .port = 443, .st = TLS, .sname = "api.github.com",
	  .dialled = true, .up = "198.51.100.7", .ucls = PUB, .reason = R_SNI },
	{ "tp_dialled_sni_matching_resolver_name", LIST, TP, .orig = "198.51.100.7", .ocls = PUB,
	  .dns = "pypi.org", .port = 443, .st = TLS, .sname = "PyPI.org", .dialled = true,
	  .up = "198.51.100.7", .ucls = PUB, .allow = true, .reason = R_OK },
	{ "tp_dialled_by_address_denied_sni", ANY, TP, .orig = "8.8.8.8", .ocls = PUB,
	  .port = 443, .st = TLS, .sname = "ads.example.com", .dialled = true, .up = "8.8.8.8",
	  .ucls = PUB, .reason = R_DENY },
	{ "tp_dialled_by_address_other_sni", ANY, TP, .orig = "8.8.8.8", .ocls = PUB, .port = 443,
	  .st = TLS, .sname = "x.example", .dialled = true, .up = "8.8.8.8", .ucls = PUB,
	  .allow = true },
	{ "tp_dialled_missing_sni_with_resolver_name", LIST, TP, .orig = "198.51.100.7",
	  .ocls = PUB, .dns = "pypi.org", .port = 443, .st = TLS, .sname = "", .dialled = true,
	  .up = "198.51.100.7", .ucls = PUB, .reason = R_SNI },
	{ "tp_dialled_raw_smtp", LIST, TP, .orig = "198.51.100.7", .ocls = PUB,
	  .dns = "pypi.org", .port = 25, .st = RAW, .dialled = true, .up = "198.51.100.7",
	  .ucls = PUB, .allow = true },
	/* transparent to the host, sandboxes and sbx itself */
	{ "tp_gateway_is_the_host_service", ANY, TP, .orig = "10.209.0.1", .ocls = HOST,
	  .port = 11434, .st = RAW, .up = "127.0.0.1", .ucls = HOST, .allow = true, .hs = 1,
	  .host = "host.docker.internal" },
	{ "tp_gateway_other_port", ANY, TP, .orig = "10.209.0.1", .ocls = HOST, .port = 22,
	  .reason = R_PRIV, .has = "localhost:22", .hs = -1,
	  .fix = "sbx policy allow network localhost:22" },
	{ "tp_host_address_with_list_rule", LIST, TP, .orig = "192.168.1.10", .ocls = HOST,
	  .port = 8080, .allow = true, .hs = 1 },
	{ "tp_sandbox_address_refused", LIST, TP, .orig = "10.209.0.6", .ocls = SBOX, .port = 22,
	  .reason = R_PRIV },
	{ "tp_sandbox_address_refused_whatever_sni", ANY, TP, .orig = "10.209.0.6", .ocls = SBOX,
	  .port = 443, .st = TLS, .sname = "example.net", .reason = R_PRIV },
	{ "tp_sandbox_address_despite_resolver_name", ANY, TP, .orig = "10.209.0.6",
	  .ocls = SBOX, .dns = "example.net", .port = 443, .reason = R_PRIV },
	{ "tp_own_listener_refused", ANY, TP, .orig = "10.209.0.1", .ocls = OWN, .port = 3129,
	  .reason = R_PRIV },
	{ "tp_internal_under_star_star", ANY, TP, .orig = "10.9.9.9", .ocls = INT, .port = 443,
	  .st = RAW, .reason = R_PRIV },
	{ "tp_internal_address_rule", ANY, TP, .orig = "10.1.2.3", .ocls = INT, .port = 22,
	  .st = RAW, .up = "10.1.2.3", .ucls = INT, .allow = true, .reason = R_ADDR },
	{ "tp_ipv6_link_local", ANY, TP, .orig = "fe80::1", .ocls = INT, .port = 80,
	  .reason = R_PRIV },
	/* check: the same decision, port and sandbox given */
	{ "check_name", ANY, K, "example.net", .port = 443, .allow = true, .reason = R_OK },
	{ "check_ipv6_loopback_blocked", ANY, K, "::1", .port = 80, .up = "::1", .ucls = HOST,
	  .reason = R_PRIV },
	{ "check_fe80_blocked", ANY, K, "fe80::1", .port = 443, .up = "fe80::1", .ucls = INT,
	  .reason = R_PRIV },
	{ "check_mapped_loopback_blocked", ANY, K, "127.0.0.1", .port = 80, .up = "127.0.0.1",
	  .ucls = HOST, .reason = R_PRIV },
	{ "check_nat64_blocked", ANY, K, "64:ff9b::7f00:1", .port = 80, .up = "64:ff9b::7f00:1",
	  .ucls = INT, .reason = R_PRIV },
	{ "check_hex_is_bad_input", ANY, K, "0x7f000001", .port = 80, .reason = R_BAD,
	  .ret = -EINVAL },
	{ "check_cidr_allows_internal", LIST, K, "10.1.2.3", .port = 443, .up = "10.1.2.3",
	  .ucls = INT, .allow = true, .reason = R_ADDR },
	{ "check_own_port", ANY, K, "127.0.0.1", .port = 3128, .up = "127.0.0.1", .ucls = OWN,
	  .reason = R_PRIV },
	/* facts that do not fit together are refused */
	{ "facts_connect_without_target", ANY, C, NULL, .port = 443, .reason = R_DEF,
	  .ret = -EINVAL },
	{ "facts_transparent_without_address", ANY, TP, .port = 443, .reason = R_DEF,
	  .ret = -EINVAL },
	{ "facts_port_zero", ANY, C, "example.net", .port = 0, .reason = R_DEF, .ret = -EINVAL },
};

static struct sbx_policy *case_policy(const struct conn_case *c)
{
	return c->pol == ANY ? p_any : c->pol == LIST ? p_list : p_org;
}

/* A copy of @p with each local rule's resource @drop taken out, and @add allowed (or NULL). */
static struct sbx_policy *policy_edit(const struct sbx_policy *p, const char *drop,
				      const char *allow)
{
	struct sbx_policy *q = sbx_policy_new();

	for (size_t i = 0; i < sbx_policy_count(p); i++) {
		struct sbx_rule r;
		size_t keep = 0;

		CHECK_INT(sbx_rule_copy(&r, sbx_policy_rule(p, i)), 0);
		for (size_t j = 0; j < r.nres; j++)
			if (!drop || r.prov != SBX_PROV_LOCAL || strcmp(r.res[j].text, drop))
				r.res[keep++] = r.res[j];
		r.nres = keep;
		if (keep)
			CHECK_INT(sbx_policy_add(q, &r), 0);
		sbx_rule_release(&r);
	}
	if (allow)
		add(q, "the-fix", SBX_ALLOW, NULL, allow);
	CHECK_INT(sbx_policy_compile(q), 0);
	return q;
}

/* The one shell word after @lead in @fix, unquoted. */
static bool fix_word(const char *fix, const char *lead, char *out, size_t len)
{
	const char *w = fix + strlen(lead), *end;

	if (strncmp(fix, lead, strlen(lead)) != 0)
		return false;
	if (*w == '\'') {
		end = strchr(++w, '\'');
	} else {
		end = w + strcspn(w, " ,");
	}
	if (!end || (size_t)(end - w) >= len)
		return false;
	snprintf(out, len, "%.*s", (int)(end - w), w);
	return true;
}

/*
 * A fix does what it says: the rule it names, added, allows the very connection; the deny
 * it lifts no longer refuses it. A host-service fix for a name that leads to the host
 * changes what the client must ask for, so it is shown by its own cases.
 */
static const char *fix_fails(const struct conn_case *c, const struct sbx_conn_facts *f,
			     const struct sbx_conn_verdict *v)
{
	static const char allow[] = "sbx policy allow network ", rm[] =
		"sbx policy rm network --resource ";
	char w[SBX_RESOURCE_MAX], deny_rule[SBX_RULE_NAME_LEN] = "";
	struct sbx_policy *q = NULL;
	struct sbx_conn_verdict after;
	const char *why = NULL;

	if (v->allow || strstr(v->fix, "# then connect to "))
		return NULL;
	if (fix_word(v->fix, allow, w, sizeof(w))) {
		q = policy_edit(case_policy(c), NULL, w);
	} else if (fix_word(v->fix, rm, w, sizeof(w))) {
		snprintf(deny_rule, sizeof(deny_rule), "%s", v->rule ? v->rule->name : "");
		q = policy_edit(case_policy(c), w, NULL);
	} else {
		return strncmp(v->fix, "no ", 3) == 0 ? NULL : "a fix that is neither a command "
							       "nor a limit";
	}
	sbx_conn_decide(q, f, &after);
	if (!deny_rule[0] && !after.allow)
		why = "the rule the fix adds does not allow it";
	else if (deny_rule[0] && after.rule && !strcmp(after.rule->name, deny_rule))
		why = "the deny the fix lifts still refuses it";
	sbx_policy_free(q);
	return why;
}

static bool run_case(const struct conn_case *c)
{
	struct sbx_conn_facts f = {
		.sandbox = c->sandbox,
		.kind = c->kind,
		.port = c->port,
		.target = c->target,
		.orig_class = c->ocls,
		.dns_name = c->dns,
		.stream = c->st,
		.stream_name = c->sname,
		.dialled = c->dialled,
		.up_class = c->ucls,
	};
	struct sbx_conn_verdict v;
	const char *why = NULL;
	int ret;

	if (c->orig)
		f.orig = addr(c->orig);
	if (c->up && sbx_addr_parse(c->up, &f.upstream) != 1)
		return fprintf(stderr, "  %s: bad upstream in the table\n", c->name), false;
	if (c->up && c->up[0] == ':' && f.upstream.family == 4) {
		/* keep a mapped upstream raw, as a sockaddr_in6 would bring it */
		f.upstream.family = 6;
		inet_pton(AF_INET6, c->up, f.upstream.a);
	}
	ret = sbx_conn_decide(case_policy(c), &f, &v);
	if (ret != c->ret)
		why = "return value";
	else if (v.allow != c->allow)
		why = "allow";
	else if ((c->reason || !c->allow) && v.reason != c->reason)
		why = "reason";
	else if (c->has && !strstr(v.detail, c->has))
		why = "detail";
	else if (c->hasnt && strstr(v.detail, c->hasnt))
		why = "detail names what it should not";
	else if (c->fix && !strstr(v.fix, c->fix))
		why = "fix";
	else if (v.allow == !!v.fix[0])
		why = v.allow ? "an allow with a fix" : "a refusal without a fix";
	else if (c->host && strcmp(v.host, c->host))
		why = "host";
	else if (c->hs >= 0 && v.host_service != (c->hs == 1))
		why = "host_service";
	else if (!v.allow && v.reason != SBX_REASON_DOMAIN_BLOCKED && v.rule)
		why = "a built-in refusal names a rule";
	else if (v.allow && !v.rule)
		why = "an allow without a rule";
	else if (!v.detail[0])
		why = "no detail";
	else if (!ret)
		why = fix_fails(c, &f, &v);
	if (why)
		fprintf(stderr,
			"  %s: %s: ret %d allow %d reason %s host '%s' hs %d detail \"%s\" "
			"fix \"%s\"\n",
			c->name, why, ret, v.allow, sbx_reason_name(v.reason), v.host,
			v.host_service, v.detail, v.fix);
	return !why;
}

static void test_connection_cases_decide_as_a_user_expects(void)
{
	size_t failed = 0;

	policies_init();
	for (size_t i = 0; i < ARRAY_SIZE(conn_cases); i++)
		failed += !run_case(&conn_cases[i]);
	if (failed)
		test_failed = 1;
	printf("  %zu connection cases, %zu failed\n", ARRAY_SIZE(conn_cases), failed);
}

/* A verdict is complete whatever happened: the refusal of bad facts included. */
static void test_decide_refuses_null_facts(void)
{
	struct sbx_conn_verdict v;

	policies_init();
	CHECK_INT(sbx_conn_decide(p_any, NULL, &v), -EINVAL);
	CHECK(!v.allow);
	CHECK_HAS(v.detail, "inconsistent");
	CHECK_INT(sbx_conn_decide(NULL, &(struct sbx_conn_facts){ .kind = SBX_CONN_CHECK,
								   .target = "x.example",
								   .port = 1 },
				  &v),
		  -EINVAL);
	CHECK(!v.allow);
}

/* Facts arrive one by one; each call re-decides all known so far, and never relaxes. */
static void test_later_facts_only_narrow_a_connect(void)
{
	struct sbx_conn_facts f = { .kind = SBX_CONN_CONNECT, .target = "example.net",
				    .port = 443 };
	struct sbx_conn_verdict v;

	policies_init();
	CHECK_INT(sbx_conn_decide(p_any, &f, &v), 0);
	CHECK(v.allow);
	f.stream = SBX_STREAM_TLS;
	f.stream_name = "example.net";
	CHECK_INT(sbx_conn_decide(p_any, &f, &v), 0);
	CHECK(v.allow);
	f.upstream = addr("198.51.100.13");
	f.up_class = SBX_ADDR_PUBLIC;
	CHECK_INT(sbx_conn_decide(p_any, &f, &v), 0);
	CHECK(!v.allow);
	CHECK_INT(v.reason, SBX_REASON_DOMAIN_BLOCKED);
	CHECK_STR(v.rule ? v.rule->name : "", "bad-addr");
}

/* A name that leads to the host: the fix's rule opens the host service it names instead. */
static void test_host_service_fix_opens_host_docker_internal(void)
{
	struct sbx_conn_facts f = { .kind = SBX_CONN_CONNECT, .target = "loop.example", .port = 80,
				    .upstream = addr("127.0.0.1"), .up_class = SBX_ADDR_HOST };
	struct sbx_policy *q;
	struct sbx_conn_verdict v;

	policies_init();
	CHECK_INT(sbx_conn_decide(p_any, &f, &v), 0);
	CHECK(!v.allow);
	CHECK_STR(v.fix, "sbx policy allow network localhost:80  # then connect to "
			 "host.docker.internal:80");
	q = policy_edit(p_any, NULL, "localhost:80");
	f.target = "host.docker.internal";
	CHECK_INT(sbx_conn_decide(q, &f, &v), 0);
	CHECK(v.allow && v.host_service);
	CHECK_STR(v.fix, "");
	sbx_policy_free(q);
}

static void test_cleanup(void)
{
	sbx_policy_free(p_any);
	sbx_policy_free(p_list);
	sbx_policy_free(p_org);
	p_any = p_list = p_org = NULL;
}

static const struct test tests[] = {
	T(test_addresses_are_classified_against_the_host_pool_and_ports),
	T(test_without_environment_only_loopback_is_the_host),
	T(test_raw_mapped_addresses_count_as_their_ipv4),
	T(test_ip4_internal_takes_network_order),
	T(test_environment_ignores_duplicates_and_reports_full),
	T(test_snapshot_lists_addresses_that_classify_as_host),
	T(test_every_ipv4_spelling_is_an_address_or_refused),
	T(test_host_names_normalise_or_say_what_is_wrong),
	T(test_sniffer_and_engine_agree_on_host_names),
	T(test_rules_refuse_address_spellings_as_names),
	T(test_connection_cases_decide_as_a_user_expects),
	T(test_decide_refuses_null_facts),
	T(test_later_facts_only_narrow_a_connect),
	T(test_host_service_fix_opens_host_docker_internal),
	T(test_cleanup),
};

TEST_MAIN("conn", tests)
