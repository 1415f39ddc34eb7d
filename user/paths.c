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

/* "key = value" lines, '#' comments: the file holds a handful of settings. */
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

int sbx_config_load(const char *path, struct sbx_config *c, char *err, size_t errlen)
{
	char *text = NULL, *line, *next;
	int ret, lineno = 0;
	unsigned *lim;

	memset(c, 0, sizeof(*c));
	c->gid = (gid_t)-1;
	c->proxy_port = 3128;
	c->transparent_port = 3129;
	c->dns_port = 3153;
	ret = sbx_read_file(path, 1 << 20, &text, NULL);
	if (ret == -ENOENT)
		return 0;
	if (ret) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(-ret));
		return ret;
	}
	for (line = text; line; line = next) {
		char *eq, *key, *val, *hash;

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
		if (!eq) {
			ret = ERR("%s:%d: expected 'key = value'", path, lineno);
			break;
		}
		*eq = '\0';
		key = trim(key);
		val = trim(eq + 1);
		if (strcmp(key, "group") == 0) {
			struct group *g = getgrnam(val);

			if (!g) {
				ret = ERR("%s:%d: no such group '%s'", path, lineno, val);
				break;
			}
			snprintf(c->group, sizeof(c->group), "%s", val);
			c->gid = g->gr_gid;
		} else if (strcmp(key, "dns_upstream") == 0) {
			snprintf(c->dns_upstream, sizeof(c->dns_upstream), "%s", val);
		} else if (strcmp(key, "proxy_port") == 0 || strcmp(key, "transparent_port") == 0 ||
			   strcmp(key, "dns_port") == 0) {
			char *end;
			unsigned long v = strtoul(val, &end, 10);

			if (!*val || *end || v < 1 || v > 65535) {
				ret = ERR("%s:%d: %s must be a port number 1-65535", path, lineno, key);
				break;
			}
			*(key[0] == 'p' ? &c->proxy_port
			  : key[0] == 't' ? &c->transparent_port : &c->dns_port) = (uint16_t)v;
		} else if (strcmp(key, "sandbox_pool") == 0) {
			if (strlen(val) >= sizeof(c->sandbox_pool)) {
				ret = ERR("%s:%d: sandbox_pool '%s' is not an IPv4 CIDR", path, lineno,
					  val);
				break;
			}
			snprintf(c->sandbox_pool, sizeof(c->sandbox_pool), "%s", val);
		} else if ((lim = limit_key(c, key))) {
			char *end;
			unsigned long v = strtoul(val, &end, 10);

			if (!*val || *end || v < 1 || v > 1000000) {
				ret = ERR("%s:%d: %s must be a whole number 1-1000000", path, lineno,
					  key);
				break;
			}
			*lim = (unsigned)v;
		} else {
			ret = ERR("%s:%d: unknown setting '%s' (known: group, dns_upstream, "
				  "sandbox_pool, proxy_port, transparent_port, dns_port, "
				  "sessions_per_sandbox, head_timeout, idle_timeout, "
				  "half_close_timeout)",
				  path, lineno, key);
			break;
		}
	}
	free(text);
	return ret;
}
