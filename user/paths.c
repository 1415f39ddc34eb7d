// SPDX-License-Identifier: MIT
/* Paths and the daemon's config file; see paths.h. */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "paths.h"
#include "resolve.h"
#include "sandbox.h"

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -EINVAL)

static int dir_from(char *out, const char *env, const char *def, char *err, size_t errlen)
{
	const char *v = getenv(env);

	if (!v || !*v)
		v = def;
	if (v[0] != '/')
		return ERR("%s=%s must be an absolute path", env, v);
	if (strlen(v) > PATH_MAX - 32)
		return ERR("%s is too long", env);
	snprintf(out, PATH_MAX, "%s", v);
	return 0;
}

int sbx_paths_init(struct sbx_paths *p, char *err, size_t errlen)
{
	const char *inst = getenv("SBX_INSTANCE");
	int ret;

	memset(p, 0, sizeof(*p));
	if (!inst || !*inst)
		inst = "sbx";
	if (strlen(inst) > SBX_INSTANCE_MAX)
		return ERR("SBX_INSTANCE=%s is longer than %d characters", inst, SBX_INSTANCE_MAX);
	for (const char *c = inst; *c; c++)
		if (!islower((unsigned char)*c) && !isdigit((unsigned char)*c) && *c != '-')
			return ERR("SBX_INSTANCE=%s may only contain a-z, 0-9 and '-'", inst);
	snprintf(p->instance, sizeof(p->instance), "%s", inst);
	ret = dir_from(p->state_dir, "SBX_STATE_DIR", "/var/lib/sbx", err, errlen);
	if (!ret)
		ret = dir_from(p->run_dir, "SBX_RUN_DIR", "/run/sbx", err, errlen);
	if (!ret)
		ret = dir_from(p->bpf_dir, "SBX_BPF_DIR", "/sys/fs/bpf/sbx", err, errlen);
	if (!ret)
		ret = dir_from(p->config, "SBX_CONFIG", "/etc/sbx/sbxd.conf", err, errlen);
	if (ret)
		return ret;
	snprintf(p->sock, sizeof(p->sock), "%s/sbxd.sock", p->run_dir);
	snprintf(p->lock, sizeof(p->lock), "%s/sbxd.lock", p->run_dir);
	snprintf(p->log, sizeof(p->log), "%s/sbxd.log", p->run_dir);
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* The numeric limits, by their key in sbxd.conf. */
static unsigned *limit_key(struct sbx_config *c, const char *key)
{
	if (strcmp(key, "sessions_per_sandbox") == 0)
		return &c->sessions_per_sandbox;
	if (strcmp(key, "head_timeout") == 0)
		return &c->head_timeout;
	if (strcmp(key, "idle_timeout") == 0)
		return &c->idle_timeout;
	if (strcmp(key, "half_close_timeout") == 0)
		return &c->half_close_timeout;
	return NULL;
}

/* The three listening ports, by key; @i is their index in port_lines. */
static uint16_t *port_key(struct sbx_config *c, const char *key, int *i)
{
	if (strcmp(key, "proxy_port") == 0)
		return *i = 0, &c->proxy_port;
	if (strcmp(key, "transparent_port") == 0)
		return *i = 1, &c->transparent_port;
	if (strcmp(key, "dns_port") == 0)
		return *i = 2, &c->dns_port;
	return NULL;
}

/*
 * sbxd listens on all three ports, the resolver on TCP too: two on one port would leave one
 * listener unreachable. The error points at the later of the two lines (0: the default).
 */
static int ports_check(const struct sbx_config *c, const char *path, const int lines[3],
		       char *err, size_t errlen)
{
	static const char *const names[] = { "proxy_port", "transparent_port", "dns_port" };
	const uint16_t port[] = { c->proxy_port, c->transparent_port, c->dns_port };

	for (int a = 0; a < 3; a++) {
		for (int b = a + 1; b < 3; b++) {
			int late = lines[a] > lines[b] ? a : b, other = late == a ? b : a;
			char where[32] = "its default";

			if (port[a] != port[b])
				continue;
			if (lines[other])
				snprintf(where, sizeof(where), "line %d", lines[other]);
			return ERR("%s:%d: %s %u is also %s (%s); the forward proxy, the "
				   "transparent proxy and the resolver need three different ports",
				   path, lines[late], names[late], port[a], names[other], where);
		}
	}
	return 0;
}

/* SBX_DNS_UPSTREAM overrides dns_upstream; both are checked here, before anything starts. */
static int upstream_set(struct sbx_config *c, const char *val, const char *where, char *err,
			size_t errlen)
{
	struct sbx_upstreams up;
	char why[256];

	if (!*val)
		return ERR("%s: give one to %d DNS upstreams as IPv4[:PORT], comma-separated",
			   where, SBX_RESOLVE_UPSTREAMS);
	if (strlen(val) >= sizeof(c->dns_upstream))
		return ERR("%s: '%s' is too long for at most %d IPv4[:PORT] DNS upstreams", where,
			   val, SBX_RESOLVE_UPSTREAMS);
	if (sbx_upstreams_parse(val, NULL, &up, why, sizeof(why)))
		return ERR("%s: %s", where, why);
	snprintf(c->dns_upstream, sizeof(c->dns_upstream), "%s", val);
	return 0;
}

/* One "key = value" line; -EINVAL with @err naming @path and @lineno. */
static int config_set(struct sbx_config *c, const char *key, const char *val, const char *path,
		      int lineno, int port_lines[3], char *err, size_t errlen)
{
	char where[PATH_MAX + 16], why[256], *end;
	unsigned long v;
	unsigned *lim;
	uint16_t *port;
	int i;

	snprintf(where, sizeof(where), "%s:%d", path, lineno);
	if (strcmp(key, "group") == 0) {
		struct group *g = getgrnam(val);

		if (!g)
			return ERR("%s: no such group '%s' (create it with: groupadd --system %s)",
				   where, val, val);
		if (strlen(val) >= sizeof(c->group))
			return ERR("%s: group name '%s' is too long", where, val);
		snprintf(c->group, sizeof(c->group), "%s", val);
		c->gid = g->gr_gid;
	} else if (strcmp(key, "dns_upstream") == 0) {
		return upstream_set(c, val, where, err, errlen);
	} else if ((port = port_key(c, key, &i))) {
		v = strtoul(val, &end, 10);
		if (!*val || *end || v < 1 || v > 65535)
			return ERR("%s: %s must be a port number 1-65535", where, key);
		*port = (uint16_t)v;
		port_lines[i] = lineno;
	} else if (strcmp(key, "sandbox_pool") == 0) {
		struct sbx_pool pool;

		if (sbx_pool_parse(val, &pool, why, sizeof(why)))
			return ERR("%s: %s", where, why);
		snprintf(c->sandbox_pool, sizeof(c->sandbox_pool), "%s", val);
	} else if (strcmp(key, "sandbox_ids") == 0) {
		if (sbx_ids_parse(val, &c->ids, why, sizeof(why)))
			return ERR("%s: %s", where, why);
	} else if ((lim = limit_key(c, key))) {
		v = strtoul(val, &end, 10);
		if (!*val || *end || v < 1 || v > 1000000)
			return ERR("%s: %s must be a whole number 1-1000000", where, key);
		*lim = (unsigned)v;
	} else {
		return ERR("%s:%d: unknown setting '%s' (known: group, dns_upstream, "
			   "sandbox_pool, sandbox_ids, proxy_port, transparent_port, dns_port, "
			   "sessions_per_sandbox, head_timeout, idle_timeout, "
			   "half_close_timeout)",
			   path, lineno, key);
	}
	return 0;
}

/* "key = value" lines, '#' comments: the file holds a handful of settings. */
static int config_parse(char *text, const char *path, struct sbx_config *c, char *err,
			size_t errlen)
{
	int port_lines[3] = { 0 }, lineno = 0, ret = 0;
	char *line, *next;

	for (line = text; line && !ret; line = next) {
		char *eq, *key, *hash;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		hash = strchr(line, '#');
		lineno++;
		if (hash)
			*hash = '\0';
		key = trim(line);
		if (!*key)
			continue;
		eq = strchr(key, '=');
		if (!eq)
			return ERR("%s:%d: expected 'key = value'", path, lineno);
		*eq = '\0';
		ret = config_set(c, trim(key), trim(eq + 1), path, lineno, port_lines, err, errlen);
	}
	return ret ? ret : ports_check(c, path, port_lines, err, errlen);
}

int sbx_config_load(const char *path, struct sbx_config *c, char *err, size_t errlen)
{
	const char *env = getenv("SBX_DNS_UPSTREAM");
	char *text = NULL;
	int ret;

	memset(c, 0, sizeof(*c));
	c->gid = (gid_t)-1;
	c->proxy_port = 3128;
	c->transparent_port = 3129;
	c->dns_port = 3153;
	sbx_ids_default(&c->ids);
	ret = sbx_read_file(path, 1 << 20, &text, NULL);
	if (ret == -ENOENT) {
		ret = 0;
	} else if (ret) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(-ret));
		return ret;
	} else {
		ret = config_parse(text, path, c, err, errlen);
		free(text);
	}
	if (!ret && env && *env)
		ret = upstream_set(c, env, "SBX_DNS_UPSTREAM", err, errlen);
	return ret;
}
