// SPDX-License-Identifier: MIT
/*
 * The policy engine: resource grammar, normalisation and decisions.
 *
 * Compiling a policy sorts every (key, rule, resource) triple by key and
 * hashes each distinct key once, so a decision costs one probe for the host
 * and one for each parent suffix (or one per CIDR prefix length in use),
 * never a scan of the rules.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <openssl/evp.h>

#include <sbx/conn.h>
#include <sbx/policy.h>

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -EINVAL)

static const char *const type_names[] = {
	[SBX_TYPE_NETWORK] = "network",
	[SBX_TYPE_FS_READ] = "filesystem:read",
	[SBX_TYPE_FS_WRITE] = "filesystem:write",
};
static const char *const decision_names[] = { [SBX_ALLOW] = "allow", [SBX_DENY] = "deny" };
static const char *const prov_names[] = {
	[SBX_PROV_LOCAL] = "local",
	[SBX_PROV_KIT] = "kit",
	[SBX_PROV_REMOTE] = "remote",
};
static const char *const preset_names[] = {
	[SBX_PRESET_NONE] = "none",
	[SBX_PRESET_ALLOW_ALL] = "allow-all",
	[SBX_PRESET_BALANCED] = "balanced",
	[SBX_PRESET_DENY_ALL] = "deny-all",
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static int name_parse(const char *const *names, size_t n, const char *s, int *out)
{
	for (size_t i = 0; s && i < n; i++) {
		if (names[i] && strcmp(names[i], s) == 0) {
			*out = (int)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *sbx_type_name(enum sbx_rule_type t)
{
	return (unsigned)t < ARRAY_SIZE(type_names) ? type_names[t] : "?";
}

int sbx_type_parse(const char *s, enum sbx_rule_type *t)
{
	int v, err = name_parse(type_names, ARRAY_SIZE(type_names), s, &v);

	if (!err)
		*t = v;
	return err;
}

const char *sbx_decision_name(enum sbx_decision d)
{
	return (unsigned)d < ARRAY_SIZE(decision_names) ? decision_names[d] : "?";
}

int sbx_decision_parse(const char *s, enum sbx_decision *d)
{
	int v, err = name_parse(decision_names, ARRAY_SIZE(decision_names), s, &v);

	if (!err)
		*d = v;
	return err;
}

const char *sbx_prov_name(enum sbx_provenance p)
{
	return (unsigned)p < ARRAY_SIZE(prov_names) ? prov_names[p] : "?";
}

int sbx_prov_parse(const char *s, enum sbx_provenance *p)
{
	int v, err = name_parse(prov_names, ARRAY_SIZE(prov_names), s, &v);

	if (!err)
		*p = v;
	return err;
}

const char *sbx_preset_name(enum sbx_preset p)
{
	return (unsigned)p < ARRAY_SIZE(preset_names) ? preset_names[p] : "?";
}

int sbx_preset_parse(const char *s, enum sbx_preset *p)
{
	int v, err = name_parse(preset_names, ARRAY_SIZE(preset_names), s, &v);

	if (err || v == SBX_PRESET_NONE)
		return -EINVAL;
	*p = v;
	return 0;
}

/* ---- host names and addresses ------------------------------------------ */

/* Lowercase @in into @out, dropping one trailing dot. */
static int lower_copy(const char *in, char *out, size_t outlen)
{
	size_t n = strlen(in);

	if (n > 1 && in[n - 1] == '.')
		n--;
	if (n >= outlen)
		return -ENAMETOOLONG;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)in[i]);
	out[n] = '\0';
	return 0;
}

/* An IP literal, v6 possibly bracketed; v4-mapped v6 becomes v4 (sbx_addr_parse). */
static int ip_parse(const char *s, int *family, uint8_t addr[16])
{
	struct sbx_addr a;

	if (sbx_addr_parse(s, &a) != 1)
		return -EINVAL;
	*family = a.family;
	memcpy(addr, a.a, 16);
	return 0;
}

int sbx_host_normalize(const char *in, char *out, size_t outlen, char *err, size_t errlen)
{
	uint8_t addr[16];
	int family;

	if (!in || !*in)
		return ERR("empty host");
	if (lower_copy(in, out, outlen))
		return ERR("host name is too long; the limit is %d bytes", SBX_HOST_MAX);
	if (ip_parse(out, &family, addr) == 0) {
		inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, out, outlen);
		return 0;
	}
	return sbx_host_name_check(out, in, err, errlen);
}

bool sbx_host_is_service(const char *h)
{
	return strcmp(h, "localhost") == 0 || strcmp(h, "host.docker.internal") == 0;
}

int sbx_sandbox_name_check(const char *name, char *err, size_t errlen)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0)
		return ERR("empty sandbox name");
	if (n > 63)
		return ERR("sandbox name '%.20s...' is longer than 63 bytes", name);
	if (!isalnum((unsigned char)name[0]))
		return ERR("sandbox name '%s' must start with a letter or digit", name);
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!isalnum((unsigned char)c) && c != '-' && c != '_' && c != '.')
			return ERR("sandbox name '%s' may only contain letters, digits, '-', '_' "
				   "and '.'",
				   name);
	}
	return 0;
}

int sbx_rule_name_check(const char *name, char *err, size_t errlen)
{
	size_t n = name ? strlen(name) : 0;
	enum sbx_rule_type t;

	if (n == 0)
		return ERR("empty rule name");
	if (n > SBX_RULE_NAME_MAX)
		return ERR("rule name '%.20s...' is longer than %d bytes", name, SBX_RULE_NAME_MAX);
	if (!isalnum((unsigned char)name[0]))
		return ERR("rule name '%s' must start with a letter or digit", name);
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!isalnum((unsigned char)c) && c != '-' && c != '_' && c != '.')
			return ERR("rule name '%s' may only contain letters, digits, '-', '_' "
				   "and '.'",
				   name);
	}
	/* `sbx policy rm TYPE --resource R` reads a type where a name could be */
	if (sbx_type_parse(name, &t) == 0 || strcmp(name, "filesystem") == 0)
		return ERR("'%s' is a rule type; give the rule another name", name);
	if (strncmp(name, "default-", 8) == 0)
		return ERR("rule name '%s': names starting with 'default-' are kept for the "
			   "built-in groups",
			   name);
	return 0;
}

/* ---- resources ----------------------------------------------------------- */

bool sbx_resource_is_path(const char *s)
{
	return s[0] == '/' || s[0] == '~' || strncmp(s, "./", 2) == 0 ||
	       strncmp(s, "../", 3) == 0 || strncmp(s, "*/", 2) == 0 || strncmp(s, "**/", 3) == 0;
}

/* "example.com/api": a host with a path; NULL unless what precedes the '/' is no address. */
static const char *path_after_host(const char *s)
{
	const char *slash = strchr(s, '/');
	char head[64];
	size_t n;

	if (!slash || s[0] == '[')
		return NULL;
	n = (size_t)(slash - s);
	if (n < sizeof(head)) {
		memcpy(head, s, n);
		head[n] = '\0';
		if (ip_parse(head, &(int){ 0 }, (uint8_t[16]){ 0 }) == 0)
			return NULL; /* a CIDR */
	}
	return slash;
}

static int port_parse(const char *s, uint16_t *port, char *err, size_t errlen)
{
	unsigned long v = 0;

	if (!*s)
		return ERR("missing port after ':'");
	for (const char *c = s; *c; c++) {
		if (!isdigit((unsigned char)*c))
			return ERR("port '%s' is not a number", s);
		v = v * 10 + (unsigned long)(*c - '0');
		if (v > 65535)
			break;
	}
	if (v < 1 || v > 65535)
		return ERR("port %s is outside 1-65535", s);
	*port = (uint16_t)v;
	return 0;
}

static void mask_addr(uint8_t addr[16], int bits, int prefix)
{
	for (int i = 0; i < bits / 8; i++) {
		int keep = prefix - i * 8;

		if (keep >= 8)
			continue;
		addr[i] &= keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
	}
}

static int cidr_parse(const char *s, struct sbx_resource *r, char *err, size_t errlen)
{
	char buf[64], *slash;
	uint8_t masked[16];
	int family, bits;
	unsigned long prefix;

	if (strlen(s) >= sizeof(buf))
		return ERR("'%s' is not a valid address or CIDR", s);
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	if (ip_parse(buf, &family, r->addr))
		return ERR("'%s' is not a valid IP address or CIDR", s);
	bits = family == 4 ? 32 : 128;
	prefix = (unsigned long)bits;
	if (slash) {
		char *end;

		if (!isdigit((unsigned char)*slash))
			return ERR("'%s': prefix length must be a number", s);
		prefix = strtoul(slash, &end, 10);
		if (*end || prefix > (unsigned long)bits)
			return ERR("'%s': prefix length must be 0-%d", s, bits);
	}
	memcpy(masked, r->addr, 16);
	mask_addr(masked, bits, (int)prefix);
	if (memcmp(masked, r->addr, 16) != 0) {
		char net[INET6_ADDRSTRLEN];

		inet_ntop(family == 4 ? AF_INET : AF_INET6, masked, net, sizeof(net));
		return ERR("'%s' has host bits set; did you mean %s/%lu?", s, net, prefix);
	}
	r->kind = SBX_RES_CIDR;
	r->family = (uint8_t)family;
	r->prefix = (uint8_t)prefix;
	return 0;
}

static void resource_format(struct sbx_resource *r)
{
	char host[SBX_HOST_MAX + 8];
	bool bracket = false;

	switch (r->kind) {
	case SBX_RES_EXACT:
		snprintf(host, sizeof(host), "%s", r->host);
		break;
	case SBX_RES_SUBDOMAIN:
		snprintf(host, sizeof(host), "*.%s", r->host);
		break;
	case SBX_RES_TREE:
		snprintf(host, sizeof(host), "**.%s", r->host);
		break;
	case SBX_RES_ANY:
		snprintf(host, sizeof(host), "**");
		break;
	case SBX_RES_LOCALHOST:
		snprintf(host, sizeof(host), "localhost");
		break;
	case SBX_RES_CIDR: {
		int bits = r->family == 4 ? 32 : 128;

		inet_ntop(r->family == 4 ? AF_INET : AF_INET6, r->addr, host, sizeof(host));
		if (r->prefix != bits)
			snprintf(host + strlen(host), sizeof(host) - strlen(host), "/%u", r->prefix);
		bracket = r->family == 6 && r->port;
		snprintf(r->host, sizeof(r->host), "%s", host);
		break;
	}
	case SBX_RES_PATH:
		return;
	}
	if (r->port)
		snprintf(r->text, sizeof(r->text), "%s%s%s:%u", bracket ? "[" : "", host,
			 bracket ? "]" : "", r->port);
	else
		snprintf(r->text, sizeof(r->text), "%s", host);
}

/*
 * Path patterns (sbx-policy(1), FILESYSTEM RULES): "**" alone is every path; "~" or "~/" the
 * invoking user's home, "~/SUB..." below it; "/a/b" an absolute path. A "**" segment is any
 * number of segments: at the end one or more (every path strictly below the prefix, not the
 * prefix itself), elsewhere zero or more. A '*' inside a segment is any characters but '/'.
 * The text is kept as given but for a trailing '/' ("~/" stays, as seed 003 lists it).
 */
static int path_segment_check(const char *orig, const char *seg, size_t n, char *err,
			      size_t errlen)
{
	if (n == 0)
		return ERR("path pattern '%s' has an empty segment ('//'); write one '/'", orig);
	if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
		return ERR("path pattern '%s' has a '%.*s' segment; give the path without '.' "
			   "or '..'",
			   orig, (int)n, seg);
	for (size_t i = 0; i + 1 < n; i++)
		if (seg[i] == '*' && seg[i + 1] == '*' && n != 2)
			return ERR("path pattern '%s': '**' must be a whole segment, as in /srv/** "
				   "or ~/**/.ssh",
				   orig);
	return 0;
}

static int path_parse(const char *s, struct sbx_resource *r, char *err, size_t errlen)
{
	const char *segs = s;
	size_t n = strlen(s), count = 0;
	int ret;

	if (!*s)
		return ERR("empty path pattern");
	for (const char *c = s; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return ERR("path pattern contains a control character");
	if (s[0] == '~' && s[1] && s[1] != '/')
		return ERR("path pattern '%s': '~' is the invoking user's home and must stand "
			   "alone or be followed by '/' (~NAME is not supported; give the absolute "
			   "path)",
			   s);
	if (s[0] != '/' && s[0] != '~' && strcmp(s, "**") != 0 && strncmp(s, "**/", 3) != 0)
		return ERR("path pattern '%s' must start with '/', '~' or '**': relative paths "
			   "mean nothing to a mount (give /abs/path or ~/path)",
			   s);
	r->kind = SBX_RES_PATH;
	/* "/x/" is "/x"; "/", "~" and "~/" stay as they are */
	if (n > 1 && s[n - 1] == '/' && strcmp(s, "~/") != 0)
		n--;
	if (n > 1 && s[n - 1] == '/' && strcmp(s, "~/") != 0)
		return ERR("path pattern '%s' has an empty segment ('//'); write one '/'", s);
	snprintf(r->text, sizeof(r->text), "%.*s", (int)n, s);
	if (strcmp(r->text, "**") == 0 || strcmp(r->text, "/") == 0 || r->text[0] == '~') {
		if (r->text[0] != '~' || !r->text[1] || !r->text[2])
			return 0;
		segs = r->text + 2;
	} else {
		segs = r->text + (r->text[0] == '/');
	}
	for (const char *p = segs;; count++) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		ret = path_segment_check(s, p, len, err, errlen);
		if (ret)
			return ret;
		if (count == SBX_PATH_SEGS_MAX)
			return ERR("path pattern '%s' has more than %d segments", s,
				   SBX_PATH_SEGS_MAX);
		if (!slash)
			break;
		p = slash + 1;
	}
	return 0;
}

int sbx_resource_parse(enum sbx_rule_type type, const char *text, struct sbx_resource *r,
		       char *err, size_t errlen)
{
	char buf[SBX_RESOURCE_MAX], *host, *colon;
	const char *slash;
	size_t n;
	int ret;

	memset(r, 0, sizeof(*r));
	if (!text || !*text)
		return ERR("empty resource");
	n = strlen(text);
	if (n >= SBX_RESOURCE_MAX)
		return ERR("resource is %zu bytes long; the limit is %d", n, SBX_RESOURCE_MAX - 1);
	if (strpbrk(text, " \t\r\n"))
		return ERR("'%s' contains white space; separate resources with commas only", text);
	if (type != SBX_TYPE_NETWORK)
		return path_parse(text, r, err, errlen);
	if (strstr(text, "://"))
		return ERR("'%s' looks like a URL; give the host only, e.g. example.com or "
			   "example.com:443",
			   text);
	if (sbx_resource_is_path(text))
		return ERR("'%s' is a filesystem path pattern, not a host: path rules have the "
			   "type filesystem:read or filesystem:write",
			   text);
	slash = path_after_host(text);
	if (slash)
		return ERR("'%s': a network rule names a host, not a path; give '%.*s'", text,
			   (int)(slash - text), text);
	if (lower_copy(text, buf, sizeof(buf)))
		return ERR("resource too long");
	/* lower_copy dropped a trailing dot on the whole text; a port after it stays */
	host = buf;

	/* Split the port: "[v6]:p", "[v6/len]:p", bare v6 has no port, else last ':' */
	if (host[0] == '[') {
		char *close = strchr(host, ']');

		if (!close)
			return ERR("'%s': missing ']'", text);
		*close = '\0';
		host++;
		if (close[1] == ':') {
			ret = port_parse(close + 2, &r->port, err, errlen);
			if (ret)
				return ret;
		} else if (close[1]) {
			return ERR("'%s': unexpected text after ']'", text);
		}
		ret = cidr_parse(host, r, err, errlen);
		if (ret)
			return ret;
		resource_format(r);
		return 0;
	}
	colon = strchr(host, ':');
	if (colon && strchr(colon + 1, ':'))
		colon = NULL; /* a bare IPv6 address or CIDR */
	if (colon) {
		*colon = '\0';
		ret = port_parse(colon + 1, &r->port, err, errlen);
		if (ret)
			return ret;
	}
	n = strlen(host);
	if (n > 1 && host[n - 1] == '.')
		host[--n] = '\0';
	if (n == 0)
		return ERR("'%s': missing host", text);

	if (strcmp(host, "**") == 0) {
		r->kind = SBX_RES_ANY;
	} else if (strcmp(host, "*") == 0) {
		return ERR("'*' alone is not a pattern; use '**' to match every host");
	} else if (strcmp(host, "localhost") == 0) {
		if (!r->port)
			return ERR("'localhost' needs a port, e.g. localhost:11434 (a host service "
				   "reached from the sandbox as host.docker.internal:PORT)");
		r->kind = SBX_RES_LOCALHOST;
	} else if (strchr(host, '/') || strchr(host, ':') || ip_parse(host, &(int){ 0 }, r->addr) == 0) {
		ret = cidr_parse(host, r, err, errlen);
		if (ret)
			return ret;
	} else {
		const char *name = host;

		r->kind = SBX_RES_EXACT;
		if (strncmp(host, "**.", 3) == 0) {
			r->kind = SBX_RES_TREE;
			name += 3;
		} else if (strncmp(host, "*.", 2) == 0) {
			r->kind = SBX_RES_SUBDOMAIN;
			name += 2;
		}
		ret = sbx_host_name_check(name, text, err, errlen);
		if (ret)
			return ret;
		if (sbx_host_is_service(name))
			return ERR("'%s': host services are allowed as localhost:PORT", text);
		snprintf(r->host, sizeof(r->host), "%s", name);
	}
	resource_format(r);
	return 0;
}

int sbx_resource_list_parse(enum sbx_rule_type type, const char *csv, struct sbx_resource **out,
			    size_t *n, char *err, size_t errlen)
{
	struct sbx_resource *res = NULL;
	size_t count = 0, cap = 0;
	const char *p = csv;
	int ret = 0;

	*out = NULL;
	*n = 0;
	if (!csv || !*csv)
		return ERR("no resources given");
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		char item[SBX_RESOURCE_MAX];

		if (len == 0) {
			ret = ERR("empty resource in '%s' (stray comma?)", csv);
			goto fail;
		}
		if (len >= sizeof(item)) {
			ret = ERR("a resource is %zu bytes long; the limit is %d", len,
				  SBX_RESOURCE_MAX - 1);
			goto fail;
		}
		if (count == SBX_RESOURCES_PER_RULE) {
			ret = ERR("more than %d resources in one rule", SBX_RESOURCES_PER_RULE);
			goto fail;
		}
		memcpy(item, p, len);
		item[len] = '\0';
		if (count == cap) {
			struct sbx_resource *tmp;

			cap = cap ? cap * 2 : 4;
			tmp = realloc(res, cap * sizeof(*res));
			if (!tmp) {
				ret = -ENOMEM;
				goto fail;
			}
			res = tmp;
		}
		ret = sbx_resource_parse(type, item, &res[count], err, errlen);
		if (ret)
			goto fail;
		/* the same resource twice in one list is kept once */
		bool dup = false;
		for (size_t i = 0; i < count; i++)
			dup = dup || strcmp(res[i].text, res[count].text) == 0;
		if (!dup)
			count++;
		if (!comma)
			break;
		p = comma + 1;
	}
	*out = res;
	*n = count;
	return 0;
fail:
	free(res);
	return ret;
}

/* ---- rules ----------------------------------------------------------------- */

int sbx_rule_copy(struct sbx_rule *dst, const struct sbx_rule *src)
{
	*dst = *src;
	dst->res = NULL;
	if (src->nres) {
		dst->res = malloc(src->nres * sizeof(*dst->res));
		if (!dst->res)
			return -ENOMEM;
		memcpy(dst->res, src->res, src->nres * sizeof(*dst->res));
	}
	return 0;
}

void sbx_rule_release(struct sbx_rule *r)
{
	free(r->res);
	r->res = NULL;
	r->nres = 0;
}

void sbx_rules_free(struct sbx_rule *rules, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sbx_rule_release(&rules[i]);
	free(rules);
}

static void uuid_format(uint8_t b[16], char out[SBX_ID_LEN + 1])
{
	snprintf(out, SBX_ID_LEN + 1,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
		 b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
		 b[15]);
}

void sbx_uuid_random(char out[SBX_ID_LEN + 1])
{
	uint8_t b[16];
	size_t got = 0;

	while (got < sizeof(b)) {
		ssize_t r = getrandom(b + got, sizeof(b) - got, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			abort(); /* no randomness at all: nothing sane to fall back on */
		got += (size_t)r;
	}
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	uuid_format(b, out);
}

/* RFC 4122 v5 in a namespace of our own, so built-in ids are stable. */
void sbx_uuid_from_name(const char *name, char out[SBX_ID_LEN + 1])
{
	static const uint8_t ns[16] = { 0x5b, 0x78, 0x2e, 0x40, 0x51, 0x0c, 0x4f, 0x2a,
					0x9d, 0x36, 0x0e, 0x1a, 0x73, 0x3c, 0x8a, 0x11 };
	uint8_t buf[16 + SBX_RULE_NAME_LEN], md[EVP_MAX_MD_SIZE];
	size_t n = strnlen(name, SBX_RULE_NAME_LEN);
	unsigned mdlen = 0;

	memcpy(buf, ns, sizeof(ns));
	memcpy(buf + sizeof(ns), name, n);
	if (!EVP_Digest(buf, sizeof(ns) + n, md, &mdlen, EVP_sha1(), NULL))
		abort(); /* SHA-1 missing from libcrypto: nothing to fall back on */
	md[6] = (md[6] & 0x0f) | 0x50;
	md[8] = (md[8] & 0x3f) | 0x80;
	uuid_format(md, out);
}

/* ---- the compiled index -------------------------------------------------- */

struct entry {
	uint32_t rule;
	uint32_t res;
};

struct slot {
	uint64_t hash;
	const uint8_t *key; /* NULL: empty slot */
	uint32_t keylen;
	uint32_t first; /* entries[first .. first+count) */
	uint32_t count;
};

struct table {
	struct slot *slots;
	size_t mask;
	struct entry *entries;
};

struct sbx_policy {
	struct sbx_rule *rules;
	size_t nrules, cap;
	bool compiled;
	bool governed[SBX_TYPE__COUNT];
	struct table names; /* exact, *. and **. hosts; localhost */
	struct table cidrs; /* key: family, prefix, masked address */
	uint8_t *cidr_keys; /* storage for cidr keys */
	struct entry *any;  /* ** rules */
	size_t nany;
	bool v4_prefix[33], v6_prefix[129];
};

#define CIDR_KEY_LEN 18

static uint64_t hash_bytes(const uint8_t *k, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ k[i]) * 0x100000001b3ULL;
	return h ^ (h >> 29);
}

struct keyed {
	const uint8_t *key;
	uint32_t keylen;
	struct entry e;
};

static int keyed_cmp(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;
	size_t n = x->keylen < y->keylen ? x->keylen : y->keylen;
	int c = memcmp(x->key, y->key, n);

	if (c)
		return c;
	if (x->keylen != y->keylen)
		return x->keylen < y->keylen ? -1 : 1;
	if (x->e.rule != y->e.rule)
		return x->e.rule < y->e.rule ? -1 : 1;
	return x->e.res < y->e.res ? -1 : x->e.res > y->e.res;
}

static void table_free(struct table *t)
{
	free(t->slots);
	free(t->entries);
	memset(t, 0, sizeof(*t));
}

/* Build @t from @items (sorted here); keys must outlive the table. */
static int table_build(struct table *t, struct keyed *items, size_t n)
{
	size_t cap = 16;

	table_free(t);
	if (n == 0)
		return 0;
	qsort(items, n, sizeof(*items), keyed_cmp);
	while (cap < n * 2)
		cap <<= 1;
	t->slots = calloc(cap, sizeof(*t->slots));
	t->entries = malloc(n * sizeof(*t->entries));
	if (!t->slots || !t->entries) {
		table_free(t);
		return -ENOMEM;
	}
	t->mask = cap - 1;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		uint64_t h = hash_bytes(items[i].key, items[i].keylen);
		size_t s = h & t->mask;

		while (j < n && items[j].keylen == items[i].keylen &&
		       memcmp(items[j].key, items[i].key, items[i].keylen) == 0) {
			t->entries[j] = items[j].e;
			j++;
		}
		while (t->slots[s].key)
			s = (s + 1) & t->mask;
		t->slots[s] = (struct slot){ h, items[i].key, items[i].keylen, (uint32_t)i,
					     (uint32_t)(j - i) };
		i = j;
	}
	return 0;
}

static const struct slot *table_find(const struct table *t, const void *key, size_t keylen)
{
	uint64_t h;
	size_t s;

	if (!t->slots)
		return NULL;
	h = hash_bytes(key, keylen);
	for (s = h & t->mask; t->slots[s].key; s = (s + 1) & t->mask) {
		const struct slot *sl = &t->slots[s];

		if (sl->hash == h && sl->keylen == keylen && memcmp(sl->key, key, keylen) == 0)
			return sl;
	}
	return NULL;
}

struct sbx_policy *sbx_policy_new(void)
{
	return calloc(1, sizeof(struct sbx_policy));
}

static void index_free(struct sbx_policy *p)
{
	table_free(&p->names);
	table_free(&p->cidrs);
	free(p->cidr_keys);
	free(p->any);
	p->cidr_keys = NULL;
	p->any = NULL;
	p->nany = 0;
	memset(p->v4_prefix, 0, sizeof(p->v4_prefix));
	memset(p->v6_prefix, 0, sizeof(p->v6_prefix));
	p->compiled = false;
}

void sbx_policy_free(struct sbx_policy *p)
{
	if (!p)
		return;
	index_free(p);
	sbx_rules_free(p->rules, p->nrules);
	free(p);
}

int sbx_policy_add(struct sbx_policy *p, const struct sbx_rule *r)
{
	if (p->nrules == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		struct sbx_rule *tmp = realloc(p->rules, cap * sizeof(*tmp));

		if (!tmp)
			return -ENOMEM;
		p->rules = tmp;
		p->cap = cap;
	}
	if (sbx_rule_copy(&p->rules[p->nrules], r))
		return -ENOMEM;
	p->nrules++;
	index_free(p);
	return 0;
}

size_t sbx_policy_count(const struct sbx_policy *p)
{
	return p->nrules;
}

const struct sbx_rule *sbx_policy_rule(const struct sbx_policy *p, size_t i)
{
	return i < p->nrules ? &p->rules[i] : NULL;
}

const struct sbx_rule *sbx_policy_find_id(const struct sbx_policy *p, const char *id)
{
	for (size_t i = 0; i < p->nrules; i++)
		if (strcmp(p->rules[i].id, id) == 0)
			return &p->rules[i];
	return NULL;
}

/* Could @s be the start of a rule ID? */
static bool id_like(const char *s)
{
	for (; *s; s++)
		if (!isxdigit((unsigned char)*s) && *s != '-')
			return false;
	return true;
}

static size_t note_match(const struct sbx_rule *r, const struct sbx_rule **out, size_t max,
			 size_t n)
{
	if (n < max)
		out[n] = r;
	return n + 1;
}

size_t sbx_policy_find(const struct sbx_policy *p, const char *handle, bool ids_only,
		       const struct sbx_rule **out, size_t max, enum sbx_match *how)
{
	const char *id = strncmp(handle, SBX_AUTO_NAME_PREFIX, strlen(SBX_AUTO_NAME_PREFIX)) == 0
				 ? handle + strlen(SBX_AUTO_NAME_PREFIX)
				 : handle;
	size_t len = strlen(id), n = 0;

	*how = SBX_MATCH_NONE;
	for (size_t i = 0; i < p->nrules; i++) {
		const struct sbx_rule *r = &p->rules[i];

		if ((!ids_only && strcmp(r->name, handle) == 0) || strcasecmp(r->id, id) == 0)
			n = note_match(r, out, max, n);
	}
	if (n) {
		*how = SBX_MATCH_EXACT;
		return n;
	}
	if (!len || !id_like(id))
		return 0;
	for (size_t i = 0; i < p->nrules; i++)
		if (strncasecmp(p->rules[i].id, id, len) == 0)
			n = note_match(&p->rules[i], out, max, n);
	if (n)
		*how = len >= SBX_ID_PREFIX_MIN ? SBX_MATCH_PREFIX : SBX_MATCH_SHORT;
	return n;
}

bool sbx_policy_rule_active(const struct sbx_policy *p, const struct sbx_rule *r,
			    const char **why)
{
	bool governed = false;

	if (r->prov != SBX_PROV_REMOTE) {
		if (p->compiled) {
			governed = p->governed[r->type];
		} else {
			for (size_t i = 0; i < p->nrules; i++)
				governed = governed || (p->rules[i].prov == SBX_PROV_REMOTE &&
							p->rules[i].type == r->type);
		}
	}
	if (governed && why)
		*why = "corporate policy takes precedence and does not delegate this rule type "
		       "to local policy.";
	return !governed;
}

int sbx_policy_compile(struct sbx_policy *p)
{
	struct keyed *names = NULL, *cidrs = NULL;
	size_t nnames = 0, ncidrs = 0, total = 0, nany = 0;
	int err = -ENOMEM;

	index_free(p);
	memset(p->governed, 0, sizeof(p->governed));
	for (size_t i = 0; i < p->nrules; i++) {
		if (p->rules[i].prov == SBX_PROV_REMOTE)
			p->governed[p->rules[i].type] = true;
		total += p->rules[i].nres;
	}
	names = calloc(total + 1, sizeof(*names));
	cidrs = calloc(total + 1, sizeof(*cidrs));
	p->cidr_keys = calloc(total + 1, CIDR_KEY_LEN);
	p->any = calloc(total + 1, sizeof(*p->any));
	if (!names || !cidrs || !p->cidr_keys || !p->any)
		goto out;
	for (size_t i = 0; i < p->nrules; i++) {
		const struct sbx_rule *r = &p->rules[i];

		if (r->type != SBX_TYPE_NETWORK || (r->prov != SBX_PROV_REMOTE && p->governed[r->type]))
			continue;
		for (size_t j = 0; j < r->nres; j++) {
			const struct sbx_resource *res = &r->res[j];
			struct entry e = { (uint32_t)i, (uint32_t)j };
			uint8_t *k;

			switch (res->kind) {
			case SBX_RES_EXACT:
			case SBX_RES_SUBDOMAIN:
			case SBX_RES_TREE:
				names[nnames++] = (struct keyed){ (const uint8_t *)res->host,
								  (uint32_t)strlen(res->host), e };
				break;
			case SBX_RES_LOCALHOST:
				names[nnames++] =
					(struct keyed){ (const uint8_t *)"localhost", 9, e };
				break;
			case SBX_RES_ANY:
				p->any[nany++] = e;
				break;
			case SBX_RES_CIDR:
				k = p->cidr_keys + ncidrs * CIDR_KEY_LEN;
				k[0] = res->family;
				k[1] = res->prefix;
				memcpy(k + 2, res->addr, 16);
				cidrs[ncidrs++] = (struct keyed){ k, CIDR_KEY_LEN, e };
				if (res->family == 4)
					p->v4_prefix[res->prefix] = true;
				else
					p->v6_prefix[res->prefix] = true;
				break;
			case SBX_RES_PATH:
				break;
			}
		}
	}
	p->nany = nany;
	err = table_build(&p->names, names, nnames);
	if (!err)
		err = table_build(&p->cidrs, cidrs, ncidrs);
out:
	free(names);
	free(cidrs);
	if (err)
		index_free(p);
	else
		p->compiled = true;
	return err;
}

/* ---- decisions ----------------------------------------------------------- */

struct search {
	const struct sbx_policy *p;
	const char *sandbox;
	uint16_t port; /* 0: any port (may_allow) */
	const struct entry *allow, *deny;
};

/* Offer the entries in @sl whose kind is in @kinds; the first deny ends the search. */
static bool offer(struct search *s, const struct entry *e, size_t n, unsigned kinds)
{
	for (size_t i = 0; i < n; i++) {
		const struct sbx_rule *r = &s->p->rules[e[i].rule];
		const struct sbx_resource *res = &r->res[e[i].res];

		if (!(kinds & (1u << res->kind)))
			continue;
		/* any port: an allow on some port counts, a deny only if it covers all ports */
		if (res->port && res->port != s->port &&
		    (s->port || r->decision == SBX_DENY))
			continue;
		if (r->sandbox[0] && (!s->sandbox || strcmp(r->sandbox, s->sandbox) != 0))
			continue;
		if (r->decision == SBX_DENY) {
			s->deny = &e[i];
			return true;
		}
		if (!s->allow)
			s->allow = &e[i];
	}
	return false;
}

static bool offer_slot(struct search *s, const struct table *t, const char *key, size_t len,
		       unsigned kinds)
{
	const struct slot *sl = table_find(t, key, len);

	return sl && offer(s, t->entries + sl->first, sl->count, kinds);
}

static void finish(const struct search *s, struct sbx_verdict *v)
{
	const struct entry *e = s->deny ? s->deny : s->allow;

	memset(v, 0, sizeof(*v));
	v->decision = SBX_DENY;
	v->reason = SBX_REASON_DEFAULT_DENY;
	if (!e)
		return;
	v->rule = &s->p->rules[e->rule];
	v->res = &v->rule->res[e->res];
	v->decision = v->rule->decision;
	v->reason = s->deny ? SBX_REASON_DOMAIN_BLOCKED
		  : v->res->kind == SBX_RES_CIDR ? SBX_REASON_ADDRESS_ALLOWED
						 : SBX_REASON_DOMAIN_ALLOWED;
}

/* Most specific prefix first, so the first deny found is the one reported. */
static bool search_addr(struct search *s, int family, const uint8_t *addr)
{
	const bool *present = family == 4 ? s->p->v4_prefix : s->p->v6_prefix;
	int bits = family == 4 ? 32 : 128;
	uint8_t key[CIDR_KEY_LEN];

	for (int len = bits; len >= 0; len--) {
		if (!present[len])
			continue;
		key[0] = (uint8_t)family;
		key[1] = (uint8_t)len;
		memcpy(key + 2, addr, 16);
		mask_addr(key + 2, bits, len);
		if (offer_slot(s, &s->p->cidrs, (const char *)key, sizeof(key),
			       1u << SBX_RES_CIDR))
			return true;
	}
	return false;
}

bool sbx_policy_may_allow(const struct sbx_policy *p, const char *sandbox, const char *host)
{
	struct sbx_verdict v;

	return sbx_policy_decide(p, sandbox, host, 0, &v) == 0 && v.decision == SBX_ALLOW;
}

int sbx_policy_decide(const struct sbx_policy *p, const char *sandbox, const char *host,
		      uint16_t port, struct sbx_verdict *v)
{
	struct search s = { p, sandbox && *sandbox ? sandbox : NULL, port, NULL, NULL };
	char h[SBX_HOST_MAX + 1], err[SBX_ERR_MAX];
	uint8_t addr[16];
	int family;

	if (!p->compiled)
		return -EAGAIN;
	if (sbx_host_normalize(host, h, sizeof(h), err, sizeof(err)))
		return -EINVAL;
	if (ip_parse(h, &family, addr) == 0) {
		if (!search_addr(&s, family, addr))
			offer(&s, p->any, p->nany, 1u << SBX_RES_ANY);
	} else if (sbx_host_is_service(h)) {
		/* host services open only through localhost:PORT rules, never through ** */
		offer_slot(&s, &p->names, "localhost", 9, 1u << SBX_RES_LOCALHOST);
	} else {
		const unsigned here = 1u << SBX_RES_EXACT | 1u << SBX_RES_TREE;
		const unsigned above = 1u << SBX_RES_SUBDOMAIN | 1u << SBX_RES_TREE;
		bool done = offer_slot(&s, &p->names, h, strlen(h), here);

		for (const char *dot = strchr(h, '.'); !done && dot; dot = strchr(dot + 1, '.'))
			done = offer_slot(&s, &p->names, dot + 1, strlen(dot + 1), above);
		if (!done)
			offer(&s, p->any, p->nany, 1u << SBX_RES_ANY);
	}
	finish(&s, v);
	return 0;
}

int sbx_policy_decide_addr(const struct sbx_policy *p, const char *sandbox, int family,
			   const uint8_t *addr, uint16_t port, struct sbx_verdict *v)
{
	struct search s = { p, sandbox && *sandbox ? sandbox : NULL, port, NULL, NULL };

	uint8_t full[16] = { 0 };

	if (!p->compiled)
		return -EAGAIN;
	if (family != 4 && family != 6)
		return -EINVAL;
	/* an IPv4 caller may hand us just its 4 bytes */
	memcpy(full, addr, family == 4 ? 4 : 16);
	search_addr(&s, family, full);
	finish(&s, v);
	return 0;
}

void sbx_verdict_detail(const struct sbx_verdict *v, char *out, size_t outlen)
{
	if (!v->rule)
		snprintf(out, outlen, "no matching allow rule - blocked by default deny policy");
	else
		snprintf(out, outlen, "matched %s rule %s (%s)", sbx_decision_name(v->decision),
			 v->rule->name, v->res->text);
}

/* ---- filesystem paths ----------------------------------------------------------- */

struct seg {
	const char *s;
	size_t n;
};

/* '*' in @pat is any run of characters; a segment never holds '/'. */
static bool glob_segment(const char *pat, size_t pn, const char *s, size_t sn)
{
	size_t p = 0, i = 0, star = (size_t)-1, mark = 0;

	while (i < sn) {
		if (p < pn && pat[p] == '*') {
			star = p++;
			mark = i;
		} else if (p < pn && pat[p] == s[i]) {
			p++;
			i++;
		} else if (star != (size_t)-1) {
			p = star + 1;
			i = ++mark;
		} else {
			return false;
		}
	}
	while (p < pn && pat[p] == '*')
		p++;
	return p == pn;
}

static bool is_globstar(const struct seg *g)
{
	return g->n == 2 && g->s[0] == '*' && g->s[1] == '*';
}

/* A non-final "**" may match no segment at all: step over it. */
static void closure(bool *set, const struct seg *pat, size_t m)
{
	for (size_t k = 0; k + 1 < m; k++)
		if (set[k] && is_globstar(&pat[k]))
			set[k + 1] = true;
}

/*
 * Walk the segments of @rest ("" or "a/b", no leading '/') through the pattern @pat (an NFA
 * whose state k means "pat[0..k) matched so far"). *match: the pattern matches @rest; *below:
 * it could match some path strictly below @rest (a state short of the end is alive).
 */
static void path_walk(const struct seg *pat, size_t m, const char *rest, bool *match,
		      bool *below)
{
	bool cur[SBX_PATH_SEGS_MAX + 1] = { false }, next[SBX_PATH_SEGS_MAX + 1];
	bool alive = true;

	cur[0] = true;
	closure(cur, pat, m);
	for (const char *p = rest; *p && alive;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);

		memset(next, 0, (m + 1) * sizeof(*next));
		alive = false;
		for (size_t k = 0; k < m; k++) {
			if (!cur[k])
				continue;
			if (is_globstar(&pat[k]))
				next[k] = next[k + 1] = alive = true;
			else if (glob_segment(pat[k].s, pat[k].n, p, n))
				next[k + 1] = alive = true;
		}
		closure(next, pat, m);
		memcpy(cur, next, (m + 1) * sizeof(*cur));
		p = slash ? slash + 1 : p + n;
	}
	*match = alive && cur[m];
	*below = false;
	for (size_t k = 0; alive && k < m; k++)
		*below = *below || cur[k];
}

/* Split @s ("" or "a/b/c") into segments; the parser bounded their number. */
static size_t split_segments(const char *s, struct seg *out)
{
	size_t m = 0;

	while (*s && m < SBX_PATH_SEGS_MAX) {
		const char *slash = strchr(s, '/');
		size_t n = slash ? (size_t)(slash - s) : strlen(s);

		out[m++] = (struct seg){ s, n };
		s = slash ? slash + 1 : s + n;
	}
	return m;
}

/* The length of @home without its trailing '/', or (size_t)-1 when '~' means nothing. */
static size_t home_len(const char *home)
{
	size_t n = home ? strlen(home) : 0;

	if (n == 0 || home[0] != '/')
		return (size_t)-1;
	while (n > 0 && home[n - 1] == '/')
		n--;
	return n; /* 0: home is "/" */
}

/* Does @res match @path itself (*match), or could it match a path below it (*below)? */
static void path_test(const struct sbx_resource *res, const char *path, const char *home,
		      bool *match, bool *below)
{
	const char *t = res->text, *rest = path + 1;
	struct seg pat[SBX_PATH_SEGS_MAX] = { { NULL, 0 } };
	size_t m;

	*match = *below = false;
	if (strcmp(t, "**") == 0) {
		*match = *below = true;
		return;
	}
	if (t[0] == '~') {
		size_t h = home_len(home);

		if (h == (size_t)-1)
			return;
		if (strncmp(path, home, h) == 0 && (path[h] == '\0' || path[h] == '/' || h == 0)) {
			rest = path + h + (path[h] == '/');
		} else {
			/* the home directory is somewhere below @path: the pattern is too */
			size_t n = strlen(path);

			*below = n == 1 || (n < h && strncmp(home, path, n) == 0 && home[n] == '/');
			return;
		}
		t += t[1] == '/' ? 2 : 1;
	} else if (t[0] == '/') {
		t++;
	}
	m = split_segments(t, pat);
	path_walk(pat, m, rest, match, below);
}

/* Absolute and canonical: no empty, '.' or '..' segment, no trailing '/' but for "/". */
static bool path_canonical(const char *path)
{
	if (!path || path[0] != '/')
		return false;
	if (strcmp(path, "/") == 0)
		return true;
	for (const char *p = path + 1;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);

		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (!slash)
			return true;
		p = slash + 1;
	}
}

static bool rule_applies(const struct sbx_policy *p, const struct sbx_rule *r,
			 const char *sandbox, enum sbx_rule_type type)
{
	if (r->type != type || !sbx_policy_rule_active(p, r, NULL))
		return false;
	return !r->sandbox[0] || (sandbox && strcmp(r->sandbox, sandbox) == 0);
}

int sbx_policy_decide_path(const struct sbx_policy *p, const char *sandbox,
			   enum sbx_rule_type type, const char *path, const char *home,
			   struct sbx_verdict *v)
{
	const struct sbx_rule *allow = NULL;
	const struct sbx_resource *allow_res = NULL;

	memset(v, 0, sizeof(*v));
	v->decision = SBX_DENY;
	v->reason = SBX_REASON_DEFAULT_DENY;
	v->type = type;
	if (!p->compiled)
		return -EAGAIN;
	if ((type != SBX_TYPE_FS_READ && type != SBX_TYPE_FS_WRITE) || !path_canonical(path))
		return -EINVAL;
	if (sandbox && !*sandbox)
		sandbox = NULL;
	for (size_t i = 0; i < p->nrules; i++) {
		const struct sbx_rule *r = &p->rules[i];

		if (!rule_applies(p, r, sandbox, type))
			continue;
		for (size_t j = 0; j < r->nres; j++) {
			bool match, below;

			if (r->res[j].kind != SBX_RES_PATH)
				continue;
			path_test(&r->res[j], path, home, &match, &below);
			if (r->decision == SBX_DENY && (match || below)) {
				v->rule = r;
				v->res = &r->res[j];
				v->reason = SBX_REASON_PATH_BLOCKED;
				v->inside = !match;
				return 0;
			}
			if (r->decision == SBX_ALLOW && match && !allow) {
				allow = r;
				allow_res = &r->res[j];
			}
		}
	}
	if (allow) {
		v->decision = SBX_ALLOW;
		v->reason = SBX_REASON_PATH_ALLOWED;
		v->rule = allow;
		v->res = allow_res;
	}
	return 0;
}

int sbx_policy_decide_mount(const struct sbx_policy *p, const char *sandbox, const char *path,
			    const char *home, bool writable, struct sbx_verdict *v)
{
	int err = sbx_policy_decide_path(p, sandbox, SBX_TYPE_FS_READ, path, home, v);

	if (err || v->decision == SBX_DENY || !writable)
		return err;
	return sbx_policy_decide_path(p, sandbox, SBX_TYPE_FS_WRITE, path, home, v);
}

void sbx_path_verdict_detail(const struct sbx_verdict *v, const char *path, char *out,
			     size_t outlen)
{
	const char *type = sbx_type_name(v->type);

	if (!v->rule)
		snprintf(out, outlen, "no %s rule allows %s (default deny)", type, path);
	else if (v->inside)
		snprintf(out, outlen,
			 "%s of %s denied by rule %s (%s), which matches a path inside it (a "
			 "mount exposes the whole directory)",
			 type, path, v->rule->name, v->res->text);
	else
		snprintf(out, outlen, "%s of %s %s by rule %s (%s)", type, path,
			 v->decision == SBX_ALLOW ? "allowed" : "denied", v->rule->name,
			 v->res->text);
}

void sbx_path_verdict_fix(const struct sbx_verdict *v, const char *path, char *out,
			  size_t outlen)
{
	const struct sbx_rule *r = v->rule;
	char w[SBX_RESOURCE_MAX + 16];

	if (v->decision == SBX_ALLOW) {
		snprintf(out, outlen, "%s", "");
	} else if (!r) {
		sbx_shell_word(path, w, sizeof(w));
		snprintf(out, outlen, "sbx policy allow %s %s", sbx_type_name(v->type), w);
	} else if (r->builtin || r->prov != SBX_PROV_LOCAL) {
		snprintf(out, outlen,
			 "no local rule can allow this: deny rule %s is %s, and a deny beats "
			 "every allow",
			 r->name,
			 r->prov == SBX_PROV_REMOTE ? "the organization's"
			 : r->prov == SBX_PROV_KIT  ? "a kit's"
						    : "built in");
	} else {
		sbx_shell_word(v->res->text, w, sizeof(w));
		snprintf(out, outlen, "sbx policy rm %s --resource %s  # a deny beats every allow",
			 sbx_type_name(v->type), w);
	}
}

void sbx_shell_word(const char *w, char *out, size_t len)
{
	size_t n = 0;
	bool plain = *w != '\0';

	for (const char *c = w; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("._:/-", *c))
			plain = false;
	if (plain) {
		snprintf(out, len, "%s", w);
		return;
	}
	if (len < 3) {
		if (len)
			out[0] = '\0';
		return;
	}
	out[n++] = '\'';
	for (const char *c = w; *c && n + 5 < len; c++) {
		if (*c == '\'') {
			memcpy(out + n, "'\\''", 4);
			n += 4;
		} else {
			out[n++] = *c;
		}
	}
	out[n++] = '\'';
	out[n] = '\0';
}
