// SPDX-License-Identifier: MIT
/*
 * The pure parts of the sandbox registry (see sandbox.h): the address pool, the host-side
 * veth names, and the state file sandboxes.json.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sbx/policy.h>
#include "ctl.h"
#include "fsutil.h"
#include "sandbox_int.h"

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -EINVAL)

/* ---- address pool ------------------------------------------------------------------------ */

int sbx_pool_parse(const char *text, struct sbx_pool *out, char *err, size_t errlen)
{
	char buf[32], *slash, *end;
	struct in_addr a;
	unsigned long prefix;
	uint32_t host;

	if (!text || strlen(text) >= sizeof(buf))
		return ERR("sandbox_pool '%s' is not an IPv4 CIDR such as %s", text ? text : "",
			   SBX_SANDBOX_POOL_DEFAULT);
	snprintf(buf, sizeof(buf), "%s", text);
	slash = strchr(buf, '/');
	if (!slash)
		return ERR("sandbox_pool '%s' has no prefix length (e.g. %s)", text,
			   SBX_SANDBOX_POOL_DEFAULT);
	*slash = '\0';
	errno = 0;
	prefix = strtoul(slash + 1, &end, 10);
	if (inet_pton(AF_INET, buf, &a) != 1 || !isdigit((unsigned char)slash[1]) || *end ||
	    errno)
		return ERR("sandbox_pool '%s' is not an IPv4 CIDR such as %s", text,
			   SBX_SANDBOX_POOL_DEFAULT);
	if (prefix < 8 || prefix > 30)
		return ERR("sandbox_pool '%s': the prefix length must be 8 to 30 (each sandbox "
			   "takes a /30)",
			   text);
	host = ntohl(a.s_addr) & (prefix == 32 ? 0 : (0xffffffffu >> prefix));
	if (host)
		return ERR("sandbox_pool '%s' has host bits set (did you mean %s/%lu?)", text,
			   inet_ntoa((struct in_addr){ htonl(ntohl(a.s_addr) - host) }), prefix);
	out->net = a.s_addr;
	out->prefix = (int)prefix;
	return 0;
}

static void pool_mark(uint8_t *used, uint32_t base, uint32_t slots, uint32_t ip4)
{
	uint32_t net = ntohl(ip4) & ~3u;

	if (ip4 && net >= base && net - base < slots * 4)
		used[(net - base) / 32] |= (uint8_t)(1u << ((net - base) / 4 % 8));
}

int sbx_pool_alloc(const struct sbx_pool *pool, struct sbx_sandbox *const *v, size_t n,
		   const uint32_t *taken, size_t ntaken, uint32_t *ip4, uint32_t *gw4)
{
	uint32_t base = ntohl(pool->net), slots = 1u << (30 - pool->prefix);
	uint8_t *used = calloc(slots / 8 + 1, 1);

	if (!used)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (!v[i]->attached)
			pool_mark(used, base, slots, v[i]->ip4);
	for (size_t i = 0; i < ntaken; i++)
		pool_mark(used, base, slots, taken[i]);
	for (uint32_t k = 0; k < slots; k++) {
		if (used[k / 8] & (1u << (k % 8)))
			continue;
		free(used);
		*gw4 = htonl(base + 4 * k + 1);
		*ip4 = htonl(base + 4 * k + 2);
		return 0;
	}
	free(used);
	return -ENOSPC;
}

void sbx_sandbox_host_if(const char *instance, uint32_t id, char out[16])
{
	char suffix[16];
	size_t room;
	uint32_t h = 2166136261u;

	snprintf(suffix, sizeof(suffix), "-%" PRIu32, id);
	if (strlen(instance) + strlen(suffix) <= 15) {
		snprintf(out, 16, "%s%s", instance, suffix);
		return;
	}
	/* Too long: a prefix of the instance and a hash of all of it keep instances apart. */
	for (const char *c = instance; *c; c++)
		h = (h ^ (uint8_t)*c) * 16777619u;
	room = 15 - strlen(suffix) - 4;
	snprintf(out, 16, "%.*s%04x%s", (int)room, instance, h & 0xffff, suffix);
}

/* ---- the state file ------------------------------------------------------------------------ */

/* What its own root needs: its ids, its init, who made it, its workspaces. */
static bool add_root_fields(cJSON *j, const struct sbx_sandbox *sb)
{
	cJSON *owner, *arr;

	cJSON_AddNumberToObject(j, "id_base", sb->id_base);
	cJSON_AddNumberToObject(j, "init_pid", sb->init_pid);
	cJSON_AddNumberToObject(j, "init_start", (double)sb->init_start);
	owner = cJSON_AddObjectToObject(j, "owner");
	arr = cJSON_AddArrayToObject(j, "workspaces");
	if (!owner || !arr)
		return false;
	cJSON_AddNumberToObject(owner, "uid", sb->owner_uid);
	cJSON_AddNumberToObject(owner, "gid", sb->owner_gid);
	cJSON_AddStringToObject(owner, "home", sb->owner_home);
	for (size_t i = 0; i < sb->nws; i++) {
		cJSON *w = cJSON_CreateObject();

		if (!w)
			return false;
		cJSON_AddItemToArray(arr, w);
		cJSON_AddStringToObject(w, "path", sb->ws[i].path);
		if (!cJSON_AddBoolToObject(w, "readonly", sb->ws[i].ro))
			return false;
	}
	return true;
}

cJSON *sbx_sandbox_to_json(const struct sbx_sandbox *sb)
{
	cJSON *j = cJSON_CreateObject();
	char ip[INET_ADDRSTRLEN], gw[INET_ADDRSTRLEN];

	if (!j)
		return NULL;
	inet_ntop(AF_INET, &sb->ip4, ip, sizeof(ip));
	inet_ntop(AF_INET, &sb->gw4, gw, sizeof(gw));
	cJSON_AddStringToObject(j, "name", sb->name);
	cJSON_AddNumberToObject(j, "id", sb->id);
	cJSON_AddBoolToObject(j, "attached", sb->attached);
	cJSON_AddStringToObject(j, "ip", ip);
	cJSON_AddStringToObject(j, "gateway", gw);
	cJSON_AddStringToObject(j, "cgroup", sb->cgroup);
	cJSON_AddNumberToObject(j, "cgroup_id", (double)sb->cgroup_id);
	cJSON_AddStringToObject(j, "netns", sb->netns);
	cJSON_AddStringToObject(j, "host_if", sb->host_if);
	cJSON_AddNumberToObject(j, "created", (double)sb->created);
	if (!sb->attached && !add_root_fields(j, sb)) {
		cJSON_Delete(j);
		return NULL;
	}
	if (!cJSON_AddBoolToObject(j, "stopped", sb->stopped)) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

static bool jnum(const cJSON *j, const char *key, double min, double max, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);

	if (!cJSON_IsNumber(v) || v->valuedouble < min || v->valuedouble > max)
		return false;
	*out = v->valuedouble;
	return true;
}

/* Absent in a registry from before private roots: then the sandbox gets them on its next run. */
static int root_fields_from_json(const cJSON *j, struct sbx_sandbox *sb, char *err,
				 size_t errlen)
{
	const cJSON *owner = cJSON_GetObjectItemCaseSensitive(j, "owner");
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "workspaces"), *w;
	const char *home;
	double v;

	if (jnum(j, "id_base", 0, UINT32_MAX, &v))
		sb->id_base = (uint32_t)v;
	if (jnum(j, "init_pid", 0, INT32_MAX, &v))
		sb->init_pid = (int32_t)v;
	if (jnum(j, "init_start", 0, 9007199254740992.0, &v))
		sb->init_start = (uint64_t)v;
	if (cJSON_IsObject(owner)) {
		if (jnum(owner, "uid", 0, UINT32_MAX, &v))
			sb->owner_uid = (uint32_t)v;
		if (jnum(owner, "gid", 0, UINT32_MAX, &v))
			sb->owner_gid = (uint32_t)v;
		home = sbx_json_str(owner, "home");
		if (home && strlen(home) < sizeof(sb->owner_home))
			snprintf(sb->owner_home, sizeof(sb->owner_home), "%s", home);
	}
	if (arr && !cJSON_IsArray(arr))
		return ERR("sandbox %s has a bad \"workspaces\"", sb->name);
	cJSON_ArrayForEach(w, arr) {
		const char *path = sbx_json_str(w, "path");

		if (sb->nws == SBX_SANDBOX_WS_MAX || !path || path[0] != '/' ||
		    strlen(path) >= PATH_MAX)
			return ERR("sandbox %s has a bad workspace", sb->name);
		snprintf(sb->ws[sb->nws].path, PATH_MAX, "%s", path);
		sb->ws[sb->nws++].ro = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(w, "readonly"));
	}
	return 0;
}

static int entry_from_json(const cJSON *j, struct sbx_sandbox *sb, char *err, size_t errlen)
{
	const char *name = sbx_json_str(j, "name"), *ip = sbx_json_str(j, "ip"), *gw = sbx_json_str(j, "gateway");
	const char *cg = sbx_json_str(j, "cgroup"), *netns = sbx_json_str(j, "netns"), *hif = sbx_json_str(j, "host_if");
	const cJSON *att = cJSON_GetObjectItemCaseSensitive(j, "attached");
	const cJSON *stopped = cJSON_GetObjectItemCaseSensitive(j, "stopped");
	char why[SBX_ERR_MAX];
	double id, cgid, created;

	memset(sb, 0, sizeof(*sb));
	if (!cJSON_IsObject(j))
		return ERR("a sandbox is not a JSON object");
	if (!name || sbx_sandbox_name_check(name, why, sizeof(why)))
		return ERR("a sandbox has a missing or bad \"name\"%s%s", name ? ": " : "",
			   name ? why : "");
	snprintf(sb->name, sizeof(sb->name), "%s", name);
	if (!jnum(j, "id", 1, UINT32_MAX, &id))
		return ERR("sandbox %s has no valid \"id\"", name);
	sb->id = (uint32_t)id;
	if (!cJSON_IsBool(att) || !cJSON_IsBool(stopped))
		return ERR("sandbox %s has no \"attached\" or \"stopped\" flag", name);
	sb->attached = cJSON_IsTrue(att);
	sb->stopped = cJSON_IsTrue(stopped);
	if (!ip || !gw || inet_pton(AF_INET, ip, &sb->ip4) != 1 ||
	    inet_pton(AF_INET, gw, &sb->gw4) != 1)
		return ERR("sandbox %s has a bad \"ip\" or \"gateway\"", name);
	if (!cg || cg[0] != '/' || strlen(cg) >= sizeof(sb->cgroup))
		return ERR("sandbox %s has a bad \"cgroup\"", name);
	snprintf(sb->cgroup, sizeof(sb->cgroup), "%s", cg);
	if (!netns || strlen(netns) >= sizeof(sb->netns) || (!sb->attached && netns[0] != '/'))
		return ERR("sandbox %s has a bad \"netns\"", name);
	snprintf(sb->netns, sizeof(sb->netns), "%s", netns);
	if (!hif || strlen(hif) >= sizeof(sb->host_if) || (!sb->attached && !hif[0]))
		return ERR("sandbox %s has a bad \"host_if\"", name);
	snprintf(sb->host_if, sizeof(sb->host_if), "%s", hif);
	if (!jnum(j, "cgroup_id", 0, 9007199254740992.0, &cgid) ||
	    !jnum(j, "created", 0, 9007199254740992.0, &created))
		return ERR("sandbox %s has a bad \"cgroup_id\" or \"created\"", name);
	sb->cgroup_id = (uint64_t)cgid;
	sb->created = (int64_t)created;
	return sb->attached ? 0 : root_fields_from_json(j, sb, err, errlen);
}

void sbx_sandbox_list_release(struct sbx_sandbox_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

int sbx_sandbox_list_add(struct sbx_sandbox_list *l, const struct sbx_sandbox *sb)
{
	struct sbx_sandbox **v = realloc(l->v, (l->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	l->v = v;
	v[l->n] = malloc(sizeof(*sb));
	if (!v[l->n])
		return -ENOMEM;
	memcpy(v[l->n], sb, sizeof(*sb));
	l->n++;
	return 0;
}

void sbx_sandbox_list_del(struct sbx_sandbox_list *l, size_t i)
{
	free(l->v[i]);
	memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof(*l->v));
	l->n--;
}

int sbx_sandbox_list_load(const char *path, struct sbx_sandbox_list *l, char *err, size_t errlen)
{
	char why[SBX_ERR_MAX + 64] = "";
	const cJSON *schema, *arr, *item;
	struct sbx_sandbox sb;
	cJSON *root = NULL;
	char *text = NULL;
	double next;
	int ret;

	memset(l, 0, sizeof(*l));
	ret = sbx_read_file(path, SBX_SANDBOX_STATE_MAX, &text, NULL);
	if (ret == -ENOENT)
		return ret;
	if (ret) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(-ret));
		return ret;
	}
	root = cJSON_Parse(text);
	schema = cJSON_GetObjectItemCaseSensitive(root, "schema");
	arr = cJSON_GetObjectItemCaseSensitive(root, "sandboxes");
	if (!cJSON_IsObject(root)) {
		snprintf(why, sizeof(why), "not valid JSON");
		goto corrupt;
	}
	if (!cJSON_IsNumber(schema)) {
		snprintf(why, sizeof(why), "no \"schema\" version");
		goto corrupt;
	}
	if (schema->valueint != SBX_SANDBOX_STATE_SCHEMA) {
		snprintf(err, errlen,
			 "%s has schema %d; this sbx understands %d (was it written by a newer "
			 "sbx?)",
			 path, schema->valueint, SBX_SANDBOX_STATE_SCHEMA);
		ret = -EINVAL;
		goto out;
	}
	if (!jnum(root, "next_id", 1, UINT32_MAX, &next) || !cJSON_IsArray(arr)) {
		snprintf(why, sizeof(why), "no \"next_id\" or \"sandboxes\" list");
		goto corrupt;
	}
	l->next_id = (uint32_t)next;
	cJSON_ArrayForEach(item, arr) {
		if (entry_from_json(item, &sb, why, sizeof(why)))
			goto corrupt;
		for (size_t i = 0; i < l->n; i++) {
			if (strcmp(l->v[i]->name, sb.name) == 0 || l->v[i]->id == sb.id) {
				snprintf(why, sizeof(why), "sandbox %s appears twice", sb.name);
				goto corrupt;
			}
		}
		if (l->n >= SBX_SANDBOXES_MAX) {
			snprintf(why, sizeof(why), "more than %d sandboxes", SBX_SANDBOXES_MAX);
			goto corrupt;
		}
		ret = sbx_sandbox_list_add(l, &sb);
		if (ret)
			goto out;
	}
	ret = 0;
	goto out;
corrupt:
	snprintf(err, errlen,
		 "sandbox registry %s is corrupt (%s); it was left untouched: fix the file, or "
		 "move it away to forget every sandbox",
		 path, why);
	ret = -EINVAL;
out:
	if (ret)
		sbx_sandbox_list_release(l);
	cJSON_Delete(root);
	free(text);
	return ret;
}

int sbx_sandbox_list_save(const char *path, const struct sbx_sandbox_list *l, char *err,
			  size_t errlen)
{
	cJSON *root = cJSON_CreateObject(), *arr;
	char *text = NULL;
	int ret = -ENOMEM;

	if (!root)
		goto out;
	cJSON_AddNumberToObject(root, "schema", SBX_SANDBOX_STATE_SCHEMA);
	cJSON_AddNumberToObject(root, "next_id", l->next_id ? l->next_id : 1);
	arr = cJSON_AddArrayToObject(root, "sandboxes");
	if (!arr)
		goto out;
	for (size_t i = 0; i < l->n; i++) {
		cJSON *e = sbx_sandbox_to_json(l->v[i]);

		if (!e)
			goto out;
		cJSON_AddItemToArray(arr, e);
	}
	text = cJSON_Print(root);
	if (text)
		ret = sbx_write_atomic(path, text, strlen(text), 0600);
out:
	if (ret)
		snprintf(err, errlen, "cannot write the sandbox registry %s: %s", path,
			 strerror(-ret));
	free(text);
	cJSON_Delete(root);
	return ret;
}
