// SPDX-License-Identifier: MIT
/*
 * One classification of addresses and host names (include/sbx/conn.h), for
 * the policy engine, `sbx policy check`, the sniffer and both proxy paths.
 * Pure: no I/O, no allocation.
 *
 * Choices (sbxd(8), "How a connection is decided"):
 *  - Internal IPv6: ::, ::1, fe80::/10, fec0::/10, fc00::/7, ff00::/8,
 *    100::/64 (discard), 2001:2::/48 (benchmarking, as 198.18.0.0/15), and every
 *    form that embeds an internal IPv4: mapped ::ffff:0:0/96, translated
 *    ::ffff:0:0:0/96, compatible ::/96, NAT64 64:ff9b::/96.
 *  - Internal outright: local-use NAT64 64:ff9b:1::/48 (a local translator by
 *    definition), 6to4 2002::/16 and Teredo 2001::/32: tunnels whose endpoint
 *    is an IPv4 address, never an upstream a sandbox needs, and a way to name
 *    an internal IPv4 in a form a per-range list would miss.
 *  - Documentation ranges are public: the test world serves its "internet"
 *    from TEST-NET (198.51.100.0/24, 203.0.113.0/24), and 2001:db8::/32 is
 *    treated alike.
 *  - Loopback and unspecified addresses reach the host's own listeners when
 *    the proxy dials them, so they are host addresses whatever the environment.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sbx/conn.h>

#define ERR(...) (err ? snprintf(err, errlen, __VA_ARGS__) : 0, -EINVAL)
#define IP6_TEXT_MAX 64

static const uint8_t mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
static const uint8_t translated_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0 };
static const uint8_t compat_prefix[12] = { 0 };
static const uint8_t nat64_prefix[12] = { 0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0 };

/* ---- host names ---------------------------------------------------------------------- */

static bool is_hex(char c)
{
	return isdigit((unsigned char)c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*
 * Does the last label of @s (one trailing dot ignored) read as a number: all
 * decimal digits, or 0x followed by hex digits? Every IPv4 spelling inet_aton()
 * takes ends in one, as does every host URL parsers read as IPv4 (WHATWG "ends
 * in a number"); no top-level domain does.
 */
static bool ends_in_number(const char *s)
{
	size_t n = strlen(s), start;

	if (n && s[n - 1] == '.')
		n--;
	start = n;
	while (start && s[start - 1] != '.')
		start--;
	if (start == n)
		return false;
	if (n - start >= 2 && s[start] == '0' && (s[start + 1] == 'x' || s[start + 1] == 'X')) {
		for (size_t i = start + 2; i < n; i++)
			if (!is_hex(s[i]))
				return false;
		return true;
	}
	for (size_t i = start; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

static bool label_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* The dotted quad inet_aton() makes of @s, for a message that says what it means. */
static void aton_hint(const char *s, char *out, size_t len)
{
	struct in_addr a;
	char q[INET_ADDRSTRLEN];

	out[0] = '\0';
	if (strlen(s) < IP6_TEXT_MAX && !strpbrk(s, " \t\r\n") && inet_aton(s, &a) &&
	    inet_ntop(AF_INET, &a, q, sizeof(q)))
		snprintf(out, len, " (inet_aton() reads it as %s: write that for an address)", q);
}

/*
 * Underscores are accepted because real service names use them
 * (_acme-challenge). A name ending in a number is refused: resolvers and URL
 * parsers read "127.1" or "0x7f000001" as an address, never as a name.
 */
int sbx_host_name_check(const char *h, const char *shown, char *err, size_t errlen)
{
	size_t len = strlen(h), label = 0;
	const char *last = h;

	if (!shown)
		shown = h;
	if (len == 0)
		return ERR("empty host name");
	if (len > SBX_HOST_MAX)
		return ERR("host name is %zu bytes long; the limit is %d", len, SBX_HOST_MAX);
	for (const char *c = h;; c++) {
		if (*c == '.' || *c == '\0') {
			if (label == 0)
				return ERR("'%s' has an empty label", shown);
			if (label > SBX_LABEL_MAX)
				return ERR("'%s' has a label of %zu bytes; the limit is %d", shown,
					   label, SBX_LABEL_MAX);
			if (*last == '-' || c[-1] == '-')
				return ERR("'%s': a label cannot start or end with '-'", shown);
			if (*c == '\0')
				break;
			label = 0;
			last = c + 1;
			continue;
		}
		if (*c == '*')
			return ERR("'%s': '*' may only appear as a leading '*.' or '**.' label",
				   shown);
		if (*c == ' ' || *c == '\t')
			return ERR("'%s' contains a space", shown);
		if (!label_char(*c))
			return ERR("'%s' contains '%c', which is not allowed in a host name", shown,
				   isprint((unsigned char)*c) ? *c : '?');
		label++;
	}
	if (ends_in_number(h)) {
		char hint[96];

		aton_hint(h, hint, sizeof(hint));
		return ERR("'%s' is neither a host name nor a valid IPv4 address%s", shown, hint);
	}
	return 0;
}

/* ---- addresses ----------------------------------------------------------------------- */

int sbx_addr_parse(const char *s, struct sbx_addr *out)
{
	char buf[IP6_TEXT_MAX];
	size_t n = s ? strlen(s) : 0;

	memset(out, 0, sizeof(*out));
	if (n == 0)
		return 0;
	if (s[0] == '[' || strchr(s, ':')) {
		if (s[0] == '[') {
			if (n < 2 || s[n - 1] != ']' || n - 2 >= sizeof(buf))
				return -EINVAL;
			memcpy(buf, s + 1, n - 2);
			buf[n - 2] = '\0';
		} else {
			if (n >= sizeof(buf))
				return -EINVAL;
			memcpy(buf, s, n + 1);
		}
		/* inet_pton refuses zones ("%eth0") and anything else not an address */
		if (inet_pton(AF_INET6, buf, out->a) != 1) {
			memset(out, 0, sizeof(*out));
			return -EINVAL;
		}
		out->family = 6;
		if (memcmp(out->a, mapped_prefix, sizeof(mapped_prefix)) == 0) {
			memmove(out->a, out->a + 12, 4);
			memset(out->a + 4, 0, 12);
			out->family = 4;
		}
		return 1;
	}
	/* glibc's inet_pton takes only a dotted quad of decimals without leading zeros */
	if (inet_pton(AF_INET, s, out->a) == 1) {
		out->family = 4;
		return 1;
	}
	memset(out, 0, sizeof(*out));
	return ends_in_number(s) ? -EINVAL : 0;
}

void sbx_target_dialled_at(const char *target, struct sbx_addr *out)
{
	sbx_addr_parse(sbx_host_is_service(target) ? SBX_HOST_SERVICE_ADDR : target, out);
}

void sbx_addr_format(const struct sbx_addr *a, char *out, size_t len)
{
	if (!len)
		return;
	out[0] = '\0';
	if (a->family == 4 || a->family == 6)
		inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->a, out, (socklen_t)len);
}

bool sbx_ip4_is_internal(uint32_t ip4)
{
	uint32_t a = ntohl(ip4);

	return (a >> 24) == 0 ||		/* 0.0.0.0/8, "this network" */
	       (a >> 24) == 10 ||		/* RFC 1918 */
	       (a >> 24) == 127 ||		/* loopback */
	       (a >> 22) == (100u << 2 | 1) ||	/* 100.64.0.0/10, CGNAT */
	       (a >> 16) == (169u << 8 | 254) || /* link-local, cloud metadata */
	       (a >> 20) == (172u << 4 | 1) ||	/* 172.16.0.0/12 */
	       (a >> 16) == (192u << 8 | 168) || /* 192.168.0.0/16 */
	       (a >> 8) == (192u << 16 | 0 << 8 | 0) || /* 192.0.0.0/24, IETF protocol */
	       (a >> 17) == (198u << 7 | 18 >> 1) ||	 /* 198.18.0.0/15, benchmarking */
	       (a >> 28) >= 14;		/* multicast 224/4, reserved 240/4, broadcast */
}

/*
 * The IPv4 address an IPv6 address stands for, where a packet to it reaches
 * that IPv4 host (mapped, translated, compatible, NAT64 well-known prefix).
 */
static bool embedded_ip4(const struct sbx_addr *a, uint32_t *ip4)
{
	if (memcmp(a->a, mapped_prefix, 12) && memcmp(a->a, translated_prefix, 12) &&
	    memcmp(a->a, compat_prefix, 12) && memcmp(a->a, nat64_prefix, 12))
		return false;
	memcpy(ip4, a->a + 12, 4);
	return true;
}

/* Is @a inside @net/@prefix (same family)? */
static bool in_prefix(const uint8_t *a, const uint8_t *net, unsigned prefix)
{
	unsigned whole = prefix / 8, rest = prefix % 8;

	if (memcmp(a, net, whole))
		return false;
	return !rest || ((a[whole] ^ net[whole]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

static bool ip6_in(const struct sbx_addr *a, const char *net, unsigned prefix)
{
	uint8_t n[16];

	return inet_pton(AF_INET6, net, n) == 1 && in_prefix(a->a, n, prefix);
}

bool sbx_addr_is_internal(const struct sbx_addr *a)
{
	uint32_t ip4;

	if (a->family == 4) {
		memcpy(&ip4, a->a, 4);
		return sbx_ip4_is_internal(ip4);
	}
	if (a->family != 6)
		return false;
	if (embedded_ip4(a, &ip4))
		return sbx_ip4_is_internal(ip4); /* :: and ::1 embed 0.0.0.0/8 */
	return ip6_in(a, "fe80::", 10) ||	 /* link-local */
	       ip6_in(a, "fec0::", 10) ||	 /* site-local (deprecated) */
	       ip6_in(a, "fc00::", 7) ||	 /* unique-local */
	       ip6_in(a, "ff00::", 8) ||	 /* multicast */
	       ip6_in(a, "100::", 64) ||	 /* discard-only */
	       ip6_in(a, "2001:2::", 48) ||	 /* benchmarking */
	       ip6_in(a, "64:ff9b:1::", 48) || /* local-use NAT64 */
	       ip6_in(a, "2002::", 16) ||	 /* 6to4 */
	       ip6_in(a, "2001::", 32);	 /* Teredo */
}

/* Loopback or unspecified: the proxy dialling it reaches its own host. */
static bool is_local(const struct sbx_addr *a)
{
	static const uint8_t zero[16], one[16] = { [15] = 1 };

	if (a->family == 4)
		return a->a[0] == 127 || memcmp(a->a, zero, 4) == 0;
	return a->family == 6 && (memcmp(a->a, zero, 16) == 0 || memcmp(a->a, one, 16) == 0);
}

/* An IPv4-mapped address as the IPv4 address it is. */
static struct sbx_addr unmapped(const struct sbx_addr *a)
{
	struct sbx_addr u = *a;

	if (a->family == 6 && memcmp(a->a, mapped_prefix, 12) == 0) {
		memset(&u, 0, sizeof(u));
		u.family = 4;
		memcpy(u.a, a->a + 12, 4);
	}
	return u;
}

static bool addr_equal(const struct sbx_addr *x, const struct sbx_addr *y)
{
	return x->family == y->family && memcmp(x->a, y->a, x->family == 4 ? 4 : 16) == 0;
}

static bool env_has_host(const struct sbx_addr_env *env, const struct sbx_addr *a)
{
	for (size_t i = 0; env && i < env->nhost && i < SBX_ADDR_ENV_MAX; i++) {
		struct sbx_addr h = unmapped(&env->host[i]);

		if (addr_equal(&h, a))
			return true;
	}
	return false;
}

static bool env_in_pool(const struct sbx_addr_env *env, const struct sbx_addr *a)
{
	unsigned bits = a->family == 4 ? 32 : 128;

	return env && env->pool.family == a->family && env->pool_prefix <= bits &&
	       in_prefix(a->a, env->pool.a, env->pool_prefix);
}

static bool env_own_port(const struct sbx_addr_env *env, uint16_t port)
{
	for (size_t i = 0; env && port && i < env->nown_ports && i < SBX_OWN_PORTS_MAX; i++)
		if (env->own_ports[i] == port)
			return true;
	return false;
}

enum sbx_addr_class sbx_addr_classify(const struct sbx_addr_env *env, const struct sbx_addr *a,
				      uint16_t port)
{
	/*
	 * Only a mapped address is its IPv4 address on this host; the other
	 * embedded forms lead elsewhere (a translator, a tunnel) and are judged
	 * by what they embed, as internal or public.
	 */
	struct sbx_addr u = unmapped(a);

	if (is_local(&u) || env_has_host(env, &u))
		return env_own_port(env, port) ? SBX_ADDR_OWN : SBX_ADDR_HOST;
	if (env_in_pool(env, &u))
		return SBX_ADDR_SANDBOX;
	return sbx_addr_is_internal(&u) ? SBX_ADDR_INTERNAL : SBX_ADDR_PUBLIC;
}

/* ---- building an environment ------------------------------------------------------------ */

int sbx_addr_env_add_host(struct sbx_addr_env *env, const struct sbx_addr *a)
{
	struct sbx_addr u = unmapped(a);

	if (u.family != 4 && u.family != 6)
		return -EINVAL;
	if (env_has_host(env, &u))
		return 0;
	if (env->nhost >= SBX_ADDR_ENV_MAX)
		return -ENOSPC;
	env->host[env->nhost++] = u;
	return 0;
}

int sbx_addr_env_add_port(struct sbx_addr_env *env, uint16_t port)
{
	if (!port || env_own_port(env, port))
		return 0;
	if (env->nown_ports >= SBX_OWN_PORTS_MAX)
		return -ENOSPC;
	env->own_ports[env->nown_ports++] = port;
	return 0;
}

void sbx_addr_env_set_pool(struct sbx_addr_env *env, const struct sbx_addr *net, uint8_t prefix)
{
	env->pool = unmapped(net);
	env->pool_prefix = prefix;
}
