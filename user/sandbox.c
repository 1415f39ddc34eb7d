// SPDX-License-Identifier: MIT
/*
 * The sandbox registry and the sandbox.* requests; see sandbox.h. The pure parts (address
 * pool, names, the state file) come first, then the kernel objects of one sandbox (cgroup,
 * netns, veth, BPF), then the requests.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <limits.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>

#include <sbx/policy.h>
#include "ctl.h"
#include "fsutil.h"
#include "log.h"
#include "netlink.h"
#include "sandbox.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -EINVAL)
#define BAD(...) sbx_ctl_error(2, "bad-input", __VA_ARGS__)
#define FAILED(...) sbx_ctl_error(1, "failed", __VA_ARGS__)

#define STOP_POLL_US 10000
#define CGROUP_PROCS_MAX (4u << 20) /* bytes of a cgroup.procs we read */
#define KILL_ROUNDS 50		    /* cgroup.kill fallback: kill-everyone passes */
#define TAKEN_MAX 4096		    /* local addresses considered when allocating one */

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

static cJSON *entry_to_json(const struct sbx_sandbox *sb)
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
	return 0;
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
		cJSON *e = entry_to_json(l->v[i]);

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

/* ---- mounts and cgroups ------------------------------------------------------------------- */

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

int sbx_mountinfo_foreach(int (*fn)(const char *root, const char *mountpoint, const char *fstype,
				    void *arg),
			  void *arg)
{
	char *text = NULL, *line, *next;
	int ret = sbx_read_file("/proc/self/mountinfo", 16u << 20, &text, NULL);

	if (ret)
		return ret;
	for (line = text; line && *line; line = next) {
		char *f[6], *sep, *save = NULL;
		int n = 0;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		/* id parent maj:min root mountpoint options [optional...] - fstype source ... */
		sep = strstr(line, " - ");
		if (!sep)
			continue;
		*sep = '\0';
		for (char *t = strtok_r(line, " ", &save); t && n < 5;
		     t = strtok_r(NULL, " ", &save))
			f[n++] = t;
		f[5] = strtok_r(sep + 3, " ", &save);
		if (n < 5 || !f[5])
			continue;
		unescape(f[3]);
		unescape(f[4]);
		ret = fn(f[3], f[4], f[5], arg);
		if (ret)
			break;
	}
	free(text);
	return ret;
}

struct cg_find {
	char path[PATH_MAX], root[PATH_MAX];
	int rank; /* 3 /sys/fs/cgroup, 2 /sys/fs/cgroup/unified, 1 elsewhere */
};

static int cg_find_cb(const char *root, const char *mp, const char *fstype, void *arg)
{
	struct cg_find *f = arg;
	int rank;

	if (strcmp(fstype, "cgroup2") != 0)
		return 0;
	rank = strcmp(mp, "/sys/fs/cgroup") == 0	   ? 3 :
	       strcmp(mp, "/sys/fs/cgroup/unified") == 0 ? 2 :
							    1;
	if (rank > f->rank) {
		f->rank = rank;
		snprintf(f->path, sizeof(f->path), "%s", mp);
		snprintf(f->root, sizeof(f->root), "%s", root);
	}
	return 0;
}

int sbx_cgroup2_root(char *out, size_t len, char *mnt_root, size_t rootlen)
{
	struct cg_find f = { .rank = 0 };
	int ret = sbx_mountinfo_foreach(cg_find_cb, &f);

	if (ret)
		return ret;
	if (!f.rank)
		return -ENOENT;
	snprintf(out, len, "%s", f.path);
	if (mnt_root)
		snprintf(mnt_root, rootlen, "%s", f.root);
	return 0;
}

static bool is_fs(const char *path, long magic)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == magic;
}

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;
	size_t n = strlen(s);

	if (fd < 0)
		return -errno;
	if (write(fd, s, n) != (ssize_t)n)
		err = -errno;
	close(fd);
	return err;
}

static int cg_file(const char *cg, const char *file, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/%s", cg, file);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Processes directly in the cgroup; -errno when it cannot be read. */
static int cgroup_nprocs(const char *cg)
{
	char path[PATH_MAX + 16], *text = NULL;
	int n = 0, err = cg_file(cg, "cgroup.procs", path, sizeof(path));

	if (!err)
		err = sbx_read_file(path, CGROUP_PROCS_MAX, &text, NULL);
	if (err)
		return err;
	for (char *p = text; *p; p++)
		n += *p == '\n';
	free(text);
	return n;
}

/* Any process in the cgroup or below (cgroup.events "populated 1"). */
static bool cgroup_populated(const char *cg)
{
	char path[PATH_MAX + 16], *text = NULL;
	bool populated = false;

	if (cg_file(cg, "cgroup.events", path, sizeof(path)) ||
	    sbx_read_file(path, 4096, &text, NULL))
		return cgroup_nprocs(cg) > 0;
	populated = strstr(text, "populated 1") != NULL;
	free(text);
	return populated;
}

/* SIGKILL everything in the cgroup one pid at a time: kernels before 5.14 lack cgroup.kill. */
static void cgroup_kill_each(const char *cg)
{
	char path[PATH_MAX + 16];

	if (cg_file(cg, "cgroup.procs", path, sizeof(path)))
		return;
	for (int round = 0; round < KILL_ROUNDS && cgroup_nprocs(cg) > 0; round++) {
		char *text = NULL, *save = NULL;

		if (sbx_read_file(path, CGROUP_PROCS_MAX, &text, NULL))
			return;
		for (char *t = strtok_r(text, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
			long pid = strtol(t, NULL, 10);

			if (pid > 1)
				kill((pid_t)pid, SIGKILL);
		}
		free(text);
		usleep(STOP_POLL_US);
	}
}

/* Kill every process of the cgroup and wait (bounded) until none is left. */
static int cgroup_stop(const char *cg)
{
	char path[PATH_MAX + 16];
	int err;

	if (!cgroup_populated(cg))
		return 0;
	err = cg_file(cg, "cgroup.kill", path, sizeof(path));
	if (!err)
		err = write_str(path, "1");
	if (err == -ENOENT)
		cgroup_kill_each(cg);
	else if (err)
		return err;
	for (int i = 0; i < SBX_SANDBOX_STOP_MS * 1000 / STOP_POLL_US; i++) {
		if (!cgroup_populated(cg))
			return 0;
		usleep(STOP_POLL_US);
	}
	return -ETIMEDOUT;
}

/* The cgroup of a process, from its "0::" line in /proc/PID/cgroup, as a path under @cg_root. */
static int pid_cgroup(pid_t pid, const char *cg_root, const char *mnt_root, char *out, size_t len)
{
	char path[64], *text = NULL, *line, *next, *rel = NULL;
	size_t rl = strlen(mnt_root);
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	ret = sbx_read_file(path, 1 << 16, &text, NULL);
	if (ret)
		return ret;
	for (line = text; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (strncmp(line, "0::", 3) == 0) {
			rel = line + 3;
			break;
		}
	}
	ret = -ENOENT;
	if (rel) {
		/* a mount of a sub-hierarchy shows paths below its root */
		if (strcmp(mnt_root, "/") != 0 && strncmp(rel, mnt_root, rl) == 0 &&
		    (rel[rl] == '/' || !rel[rl]))
			rel += rl;
		ret = snprintf(out, len, "%s%s", cg_root, strcmp(rel, "/") ? rel : "") >= (int)len ?
			      -ENAMETOOLONG :
			      0;
	}
	free(text);
	return ret;
}

/* a == b, or a below b */
static bool path_within(const char *a, const char *b)
{
	size_t n = strlen(b);

	return strncmp(a, b, n) == 0 && (a[n] == '\0' || a[n] == '/');
}

/* ---- the registry --------------------------------------------------------------------------- */

struct sbx_sandboxes {
	pthread_rwlock_t lock; /* proxy threads look sandboxes up while requests change them */
	struct sbx_paths paths;
	struct sbx_sandbox_ports ports;
	struct sbx_pool pool;
	struct sbx_bpf *bpf;
	char cg_root[PATH_MAX];	  /* the cgroup2 mount, "" when there is none */
	char cg_mnt_root[PATH_MAX]; /* its root within the hierarchy */
	char cg_parent[PATH_MAX];   /* cg_root/<instance>: our sandboxes' cgroups */
	char state_path[PATH_MAX];
	char netns_dir[PATH_MAX];
	char files_dir[PATH_MAX];
	struct sbx_sandbox_list list;
};

static int save(struct sbx_sandboxes *s, char *err, size_t errlen)
{
	return sbx_sandbox_list_save(s->state_path, &s->list, err, errlen);
}

static struct sbx_sandbox *find(struct sbx_sandboxes *s, const char *name, size_t *idx)
{
	for (size_t i = 0; i < s->list.n; i++) {
		if (strcmp(s->list.v[i]->name, name) == 0) {
			if (idx)
				*idx = i;
			return s->list.v[i];
		}
	}
	return NULL;
}

static void forget(struct sbx_sandboxes *s, const char *name)
{
	size_t i;

	pthread_rwlock_wrlock(&s->lock);
	if (find(s, name, &i))
		sbx_sandbox_list_del(&s->list, i);
	pthread_rwlock_unlock(&s->lock);
}

static int files_path(const struct sbx_sandboxes *s, const char *name, const char *file, char *out,
		      size_t len)
{
	int n = file ? snprintf(out, len, "%s/%s/%s", s->files_dir, name, file) :
		       snprintf(out, len, "%s/%s", s->files_dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* resolv.conf and hosts for the sandbox's mount namespace. */
static int write_files(struct sbx_sandboxes *s, const struct sbx_sandbox *sb)
{
	char dir[PATH_MAX], path[PATH_MAX], gw[INET_ADDRSTRLEN], text[512];
	int err, n;

	inet_ntop(AF_INET, &sb->gw4, gw, sizeof(gw));
	err = files_path(s, sb->name, NULL, dir, sizeof(dir));
	if (!err)
		err = sbx_mkdir_p(dir, 0755);
	if (!err)
		err = files_path(s, sb->name, "resolv.conf", path, sizeof(path));
	if (err)
		return err;
	n = snprintf(text, sizeof(text),
		     "# sbx sandbox %s: every name is resolved by sbxd, under the policy\n"
		     "nameserver %s\n",
		     sb->name, gw);
	err = sbx_write_atomic(path, text, (size_t)n, 0644);
	if (!err)
		err = files_path(s, sb->name, "hosts", path, sizeof(path));
	if (err)
		return err;
	n = snprintf(text, sizeof(text),
		     "127.0.0.1\tlocalhost\n"
		     "::1\tlocalhost ip6-localhost ip6-loopback\n"
		     "%s\tgateway.docker.internal host.docker.internal\n",
		     gw);
	return sbx_write_atomic(path, text, (size_t)n, 0644);
}

static void remove_files(struct sbx_sandboxes *s, const char *name)
{
	char path[PATH_MAX];

	if (!files_path(s, name, "resolv.conf", path, sizeof(path)))
		unlink(path);
	if (!files_path(s, name, "hosts", path, sizeof(path)))
		unlink(path);
	if (!files_path(s, name, NULL, path, sizeof(path)))
		rmdir(path);
}

/*
 * A new network namespace bound at @path. The calling thread enters it (unshare) just long
 * enough to bind it and set its defaults, then returns to its own.
 */
static int netns_create(const char *path)
{
	int self, fd, err = 0;

	if (is_fs(path, NSFS_MAGIC) && umount2(path, MNT_DETACH) && errno != EINVAL)
		return -errno; /* a leftover of a crashed sbxd: replaced */
	fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0444);
	if (fd < 0)
		return -errno;
	close(fd);
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return -errno;
	if (unshare(CLONE_NEWNET)) {
		err = -errno;
		close(self);
		return err;
	}
	if (mount("/proc/thread-self/ns/net", path, NULL, MS_BIND, NULL))
		err = -errno;
	/*
	 * No IPv6 on eth0 (created later): the sandbox is IPv4-only, and its router and
	 * neighbour solicitations would only fill the verdict log with blocked packets.
	 */
	if (!err)
		write_str("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	/*
	 * Ping sockets for every group: closed, the kernel refuses them itself (EACCES) before
	 * cgroup/sock_create sees them, and the refusal is not counted. Open, sock_create
	 * refuses them with EPERM and counts icmp-blocked (sbxd(8), ENFORCEMENT).
	 */
	if (!err)
		write_str("/proc/sys/net/ipv4/ping_group_range", "0 2147483647");
	if (setns(self, CLONE_NEWNET))
		abort(); /* this thread must not stay in the sandbox's namespace */
	close(self);
	return err;
}

static void netns_remove(const char *path)
{
	if (!path[0])
		return;
	if (umount2(path, MNT_DETACH) && errno != EINVAL && errno != ENOENT && errno != ENOTDIR)
		pr_warn("sbx: cannot unmount %s: %s\n", path, strerror(errno));
	if (unlink(path) && errno != ENOENT && errno != ENOTDIR)
		pr_warn("sbx: cannot remove %s: %s\n", path, strerror(errno));
}

struct netns_setup {
	uint32_t ip4, gw4;
	char why[128];
};

/* Inside the sandbox's namespace: lo and eth0 up, the address, the default route. */
static int netns_configure(void *arg)
{
	struct netns_setup *ns = arg;
	struct sbx_nl *nl = NULL;
	int ifindex = 0, err;

	err = sbx_nl_open(-1, &nl);
	if (err) {
		snprintf(ns->why, sizeof(ns->why), "netlink");
		return err;
	}
	err = sbx_nl_link_up(nl, 1 /* lo */);
	if (err)
		snprintf(ns->why, sizeof(ns->why), "bringing lo up");
	if (!err && (err = sbx_nl_ifindex(nl, SBX_SANDBOX_PEER_IF, &ifindex)))
		snprintf(ns->why, sizeof(ns->why), "finding %s", SBX_SANDBOX_PEER_IF);
	if (!err && (err = sbx_nl_addr4_add(nl, ifindex, ns->ip4, 30)))
		snprintf(ns->why, sizeof(ns->why), "adding the address to %s", SBX_SANDBOX_PEER_IF);
	if (!err && (err = sbx_nl_link_up(nl, ifindex)))
		snprintf(ns->why, sizeof(ns->why), "bringing %s up", SBX_SANDBOX_PEER_IF);
	if (!err && (err = sbx_nl_route4_default(nl, ifindex, ns->gw4)))
		snprintf(ns->why, sizeof(ns->why), "adding the default route");
	sbx_nl_close(nl);
	return err;
}

static void sandbox_cfg(const struct sbx_sandboxes *s, const struct sbx_sandbox *sb,
			struct sbx_sandbox_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->sandbox_id = sb->id;
	cfg->flags = sb->attached ? 0 : SBX_CFG_F_OWN_NETNS;
	cfg->proxy_ip4 = sb->gw4;
	cfg->tproxy_port = s->ports.tproxy;
	cfg->fwd_port = s->ports.fwd;
	cfg->dns_port = s->ports.dns;
}

/* Attach (or re-attach, with the current ports) the enforcement of one sandbox. */
static int enforce(struct sbx_sandboxes *s, struct sbx_sandbox *sb, char *err, size_t errlen)
{
	struct sbx_sandbox_cfg cfg;
	__u64 cgid = 0;
	int ret, ifindex;

	if (!s->bpf)
		return ERR("eBPF enforcement is not available (see the sbxd log); refusing to run "
			   "sandbox %s unconfined",
			   sb->name);
	sandbox_cfg(s, sb, &cfg);
	ret = sbx_bpf_attach_cgroup(s->bpf, sb->cgroup, &cfg, &cgid);
	if (ret) {
		snprintf(err, errlen, "cannot attach the eBPF programs to cgroup %s: %s (see the "
			 "sbxd log)", sb->cgroup, strerror(-ret));
		return ret;
	}
	sb->cgroup_id = cgid;
	if (sb->attached) {
		ret = sbx_bpf_attach_cgroup_skb(s->bpf, sb->cgroup, &cfg, NULL);
		if (ret) {
			snprintf(err, errlen, "cannot attach the packet filter to cgroup %s: %s "
				 "(see the sbxd log)", sb->cgroup, strerror(-ret));
			return ret;
		}
	} else {
		ifindex = (int)if_nametoindex(sb->host_if);
		ret = ifindex ? sbx_bpf_attach_tc(s->bpf, ifindex, &cfg) : -ENODEV;
		if (ret) {
			snprintf(err, errlen, "cannot attach the packet filter to %s: %s (see the "
				 "sbxd log)", sb->host_if, strerror(-ret));
			return ret;
		}
	}
	ret = sbx_bpf_set_sandbox_name(s->bpf, sb->id, sb->name);
	if (ret)
		snprintf(err, errlen, "cannot record the name of sandbox %s: %s", sb->name,
			 strerror(-ret));
	return ret;
}

/*
 * Undo whatever exists of one sandbox's kernel objects: enforcement, veth, netns, our cgroup
 * (never an attached one), its files. Idempotent; 0 or the first error, said in @err.
 */
static int teardown(struct sbx_sandboxes *s, const struct sbx_sandbox *sb, char *err,
		    size_t errlen)
{
	struct sbx_nl *nl = NULL;
	__u64 cgid = sb->cgroup_id;
	int ret = 0, r;

	if (s->bpf) {
		if (sbx_bpf_cgroup_id(sb->cgroup, &cgid))
			cgid = sb->cgroup_id;
		if (cgid && (r = sbx_bpf_detach_cgroup(s->bpf, cgid)) && !ret) {
			ret = r;
			snprintf(err, errlen, "cannot detach the eBPF programs of %s: %s",
				 sb->cgroup, strerror(-r));
		}
		if (!sb->attached && if_nametoindex(sb->host_if))
			sbx_bpf_detach_tc(s->bpf, (int)if_nametoindex(sb->host_if));
		sbx_bpf_delete_sandbox_name(s->bpf, sb->id);
	}
	if (sb->attached)
		return ret;
	if (if_nametoindex(sb->host_if)) {
		r = sbx_nl_open(-1, &nl);
		if (!r)
			r = sbx_nl_link_del(nl, sb->host_if);
		sbx_nl_close(nl);
		if (r && r != -ENODEV && !ret) {
			ret = r;
			snprintf(err, errlen, "cannot delete %s: %s", sb->host_if, strerror(-r));
		}
	}
	netns_remove(sb->netns);
	if (rmdir(sb->cgroup) && errno != ENOENT && !ret) {
		ret = -errno;
		snprintf(err, errlen, "cannot remove cgroup %s: %s", sb->cgroup, strerror(errno));
	}
	remove_files(s, sb->name);
	return ret;
}

/* Host end of the veth: no IPv6 (see netns_create), the gateway address, up. */
static int host_if_configure(struct sbx_nl *nl, const struct sbx_sandbox *sb, int ifindex)
{
	char path[128];
	int err;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", sb->host_if);
	write_str(path, "1");
	err = sbx_nl_addr4_add(nl, ifindex, sb->gw4, 30);
	return err ? err : sbx_nl_link_up(nl, ifindex);
}

static int can_create(const struct sbx_sandboxes *s, const char *name, char *err, size_t errlen)
{
	if (!s->cg_root[0])
		return ERR("no cgroup v2 hierarchy is mounted (mount -t cgroup2 none "
			   "/sys/fs/cgroup)");
	if (!s->bpf)
		return ERR("eBPF enforcement is not available (see the sbxd log); refusing to "
			   "create sandbox %s unconfined",
			   name);
	return 0;
}

/* Make every kernel object of a netns sandbox, then enforce. On failure the caller tears down. */
static int setup(struct sbx_sandboxes *s, struct sbx_sandbox *sb, char *err, size_t errlen)
{
	struct netns_setup nss = { .ip4 = sb->ip4, .gw4 = sb->gw4 };
	struct sbx_nl *nl = NULL;
	int ret, nsfd = -1, ifindex = 0;

	ret = can_create(s, sb->name, err, errlen);
	if (ret)
		return ret;
	if (mkdir(s->cg_parent, 0755) && errno != EEXIST) {
		ret = -errno;
		snprintf(err, errlen, "cannot create cgroup %s: %s", s->cg_parent, strerror(errno));
		return ret;
	}
	if (mkdir(sb->cgroup, 0755) && errno != EEXIST) {
		ret = -errno;
		snprintf(err, errlen, "cannot create cgroup %s: %s", sb->cgroup, strerror(errno));
		return ret;
	}
	ret = sbx_mkdir_p(s->netns_dir, 0755);
	if (!ret)
		ret = netns_create(sb->netns);
	if (ret) {
		snprintf(err, errlen, "cannot create the network namespace %s: %s", sb->netns,
			 strerror(-ret));
		return ret;
	}
	nsfd = open(sb->netns, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot open %s: %s", sb->netns, strerror(errno));
		return ret;
	}
	ret = sbx_nl_open(-1, &nl);
	if (ret) {
		snprintf(err, errlen, "cannot open a netlink socket: %s", strerror(-ret));
		goto out;
	}
	ret = sbx_nl_veth_add(nl, sb->host_if, SBX_SANDBOX_PEER_IF, nsfd, &ifindex);
	if (ret == -EEXIST) {
		/* a leftover of a crashed sbxd, with our name: ours to replace */
		pr_info("sbx: replacing a leftover %s\n", sb->host_if);
		sbx_nl_link_del(nl, sb->host_if);
		ret = sbx_nl_veth_add(nl, sb->host_if, SBX_SANDBOX_PEER_IF, nsfd, &ifindex);
	}
	if (ret) {
		snprintf(err, errlen, "cannot create the veth pair %s/%s: %s", sb->host_if,
			 SBX_SANDBOX_PEER_IF, strerror(-ret));
		goto out;
	}
	ret = host_if_configure(nl, sb, ifindex);
	if (ret) {
		snprintf(err, errlen, "cannot configure %s: %s", sb->host_if, strerror(-ret));
		goto out;
	}
	ret = sbx_netns_call(nsfd, netns_configure, &nss);
	if (ret) {
		snprintf(err, errlen, "cannot set up the network of sandbox %s (%s): %s", sb->name,
			 nss.why[0] ? nss.why : "entering its namespace", strerror(-ret));
		goto out;
	}
	ret = enforce(s, sb, err, errlen);
	if (!ret)
		ret = write_files(s, sb);
	if (ret == -ENAMETOOLONG || (ret && !err[0]))
		snprintf(err, errlen, "cannot write the files of sandbox %s under %s: %s", sb->name,
			 s->files_dir, strerror(-ret));
out:
	sbx_nl_close(nl);
	close(nsfd);
	return ret;
}

/* Everything a netns sandbox needs is still there (a reboot or a human may remove parts). */
static bool intact(const struct sbx_sandboxes *s, const struct sbx_sandbox *sb, const char **what)
{
	if (!is_fs(sb->cgroup, CGROUP2_SUPER_MAGIC)) {
		*what = "cgroup";
		return false;
	}
	if (sb->attached)
		return true;
	if (!is_fs(sb->netns, NSFS_MAGIC)) {
		*what = "network namespace";
		return false;
	}
	if (!if_nametoindex(sb->host_if)) {
		*what = "veth";
		return false;
	}
	return true;
}

/* The IPv4 addresses on this namespace's interfaces (at most @max). */
static size_t local_addrs(uint32_t *out, size_t max)
{
	struct ifaddrs *ifa, *it;
	size_t n = 0;

	if (getifaddrs(&ifa))
		return 0;
	for (it = ifa; it && n < max; it = it->ifa_next)
		if (it->ifa_addr && it->ifa_addr->sa_family == AF_INET)
			out[n++] = ((struct sockaddr_in *)it->ifa_addr)->sin_addr.s_addr;
	freeifaddrs(ifa);
	return n;
}

static int next_id(struct sbx_sandboxes *s, uint32_t *id)
{
	for (uint32_t tries = 0; tries < SBX_SANDBOXES_MAX + 1; tries++) {
		uint32_t cand = s->list.next_id ? s->list.next_id : 1;
		bool used = false;

		s->list.next_id = cand + 1;
		for (size_t i = 0; i < s->list.n && !used; i++)
			used = s->list.v[i]->id == cand;
		if (!used) {
			*id = cand;
			return 0;
		}
	}
	return -ENOSPC;
}

/* A registry entry (saved first, so a crash leaves nothing unknown) for a new sandbox. */
static int add_entry(struct sbx_sandboxes *s, struct sbx_sandbox *sb, char *err, size_t errlen)
{
	int ret;

	if (s->list.n >= SBX_SANDBOXES_MAX)
		return ERR("too many sandboxes (%d); remove some with 'sbx rm'", SBX_SANDBOXES_MAX);
	ret = next_id(s, &sb->id);
	if (ret)
		return ERR("no sandbox id left");
	sb->created = time(NULL);
	if (!sb->attached) {
		uint32_t taken[TAKEN_MAX];
		size_t ntaken = local_addrs(taken, TAKEN_MAX);

		ret = sbx_pool_alloc(&s->pool, s->list.v, s->list.n, taken, ntaken, &sb->ip4,
				     &sb->gw4);
		if (ret == -ENOSPC) {
			char net[INET_ADDRSTRLEN];

			inet_ntop(AF_INET, &s->pool.net, net, sizeof(net));
			return ERR("the sandbox address pool %s/%d is full; remove sandboxes "
				   "or set a larger sandbox_pool in %s",
				   net, s->pool.prefix, s->paths.config);
		}
		if (ret)
			return ERR("cannot allocate an address: %s", strerror(-ret));
		sbx_sandbox_host_if(s->paths.instance, sb->id, sb->host_if);
		if (snprintf(sb->cgroup, sizeof(sb->cgroup), "%s/%s", s->cg_parent, sb->name) >=
			    (int)sizeof(sb->cgroup) ||
		    snprintf(sb->netns, sizeof(sb->netns), "%s/%s", s->netns_dir, sb->name) >=
			    (int)sizeof(sb->netns))
			return ERR("the paths of sandbox %s are too long", sb->name);
	}
	pthread_rwlock_wrlock(&s->lock);
	ret = sbx_sandbox_list_add(&s->list, sb);
	pthread_rwlock_unlock(&s->lock);
	if (ret)
		return ERR("out of memory");
	ret = save(s, err, errlen);
	if (ret)
		forget(s, sb->name);
	return ret;
}

/* The registry's copy of @sb gets the fields setup filled in (cgroup id), and is saved. */
static int update_entry(struct sbx_sandboxes *s, const struct sbx_sandbox *sb, char *err,
			size_t errlen)
{
	struct sbx_sandbox *cur;

	pthread_rwlock_wrlock(&s->lock);
	cur = find(s, sb->name, NULL);
	if (cur)
		*cur = *sb;
	pthread_rwlock_unlock(&s->lock);
	return save(s, err, errlen);
}

/* Undo a failed creation: kernel objects, then the registry entry. */
static void abandon(struct sbx_sandboxes *s, const struct sbx_sandbox *sb)
{
	char err[SBX_ERR_MAX * 2], err2[SBX_ERR_MAX * 2];

	err[0] = '\0';
	if (teardown(s, sb, err, sizeof(err)))
		pr_warn("sbx: cleaning up after sandbox %s: %s\n", sb->name, err);
	forget(s, sb->name);
	if (save(s, err2, sizeof(err2)))
		pr_warn("sbx: %s\n", err2);
	rmdir(s->cg_parent); /* when it was the only one */
}

static int create(struct sbx_sandboxes *s, const char *name, struct sbx_sandbox **out, char *err,
		  size_t errlen)
{
	struct sbx_sandbox *sb = calloc(1, sizeof(*sb));
	int ret;

	if (!sb)
		return ERR("out of memory");
	snprintf(sb->name, sizeof(sb->name), "%s", name);
	ret = can_create(s, name, err, errlen);
	if (!ret)
		ret = add_entry(s, sb, err, errlen);
	if (!ret) {
		ret = setup(s, sb, err, errlen);
		if (!ret)
			ret = update_entry(s, sb, err, errlen);
		if (ret)
			abandon(s, sb);
	}
	if (!ret) {
		char ip[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &sb->ip4, ip, sizeof(ip));
		pr_info("sandbox %s created: id %u, %s on %s, cgroup %s\n", sb->name, sb->id, ip,
			sb->host_if, sb->cgroup);
		*out = find(s, name, NULL);
	}
	free(sb);
	return ret;
}

/* ---- requests ----------------------------------------------------------------------------- */

/* What `sbx ls --json` shows: the stored fields, plus what only the kernel knows now. */
static cJSON *sandbox_json(const struct sbx_sandbox *sb)
{
	cJSON *j = entry_to_json(sb);
	int n = cgroup_nprocs(sb->cgroup);

	if (!j)
		return NULL;
	if (sb->attached)
		cJSON_ReplaceItemInObject(j, "ip", cJSON_CreateString(""));
	cJSON_AddStringToObject(j, "status", sb->attached ? "attached" :
					     sb->stopped  ? "stopped" :
							    "running");
	cJSON_AddNumberToObject(j, "processes", n < 0 ? 0 : n);
	return j;
}

static cJSON *name_arg(const cJSON *args, const char **name)
{
	char why[SBX_ERR_MAX];

	*name = sbx_json_arg(args, "name");
	if (!*name)
		return BAD("a sandbox name is required");
	if (sbx_sandbox_name_check(*name, why, sizeof(why)))
		return BAD("%s", why);
	return NULL;
}

static cJSON *start_reply(struct sbx_sandboxes *s, const struct sbx_sandbox *sb, bool created)
{
	cJSON *r = sbx_ctl_ok(), *env, *mounts, *m;
	char gw[INET_ADDRSTRLEN], proxy[64], path[PATH_MAX];
	static const char *const proxy_vars[] = { "HTTP_PROXY", "HTTPS_PROXY", "http_proxy",
						  "https_proxy" };
	static const char *const files[][2] = { { "resolv.conf", "/etc/resolv.conf" },
						{ "hosts", "/etc/hosts" } };

	inet_ntop(AF_INET, &sb->gw4, gw, sizeof(gw));
	cJSON_AddItemToObject(r, "sandbox", sandbox_json(sb));
	cJSON_AddBoolToObject(r, "created", created);
	env = cJSON_AddObjectToObject(r, "env");
	/* a name, not the address: host.docker.internal must go through the proxy too */
	snprintf(proxy, sizeof(proxy), "http://gateway.docker.internal:%u", s->ports.fwd);
	for (size_t i = 0; i < sizeof(proxy_vars) / sizeof(proxy_vars[0]); i++)
		cJSON_AddStringToObject(env, proxy_vars[i], proxy);
	cJSON_AddStringToObject(env, "NO_PROXY", "localhost,127.0.0.1");
	cJSON_AddStringToObject(env, "no_proxy", "localhost,127.0.0.1");
	cJSON_AddStringToObject(env, "SBX_SANDBOX", sb->name);
	mounts = cJSON_AddArrayToObject(r, "mounts");
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		files_path(s, sb->name, files[i][0], path, sizeof(path));
		m = cJSON_CreateObject();
		cJSON_AddStringToObject(m, "source", path);
		cJSON_AddStringToObject(m, "target", files[i][1]);
		cJSON_AddItemToArray(mounts, m);
	}
	return r;
}

static cJSON *op_start(struct sbx_sandboxes *s, const cJSON *args, bool must_run)
{
	char err[SBX_ERR_MAX * 4] = "";
	struct sbx_sandbox *sb, copy;
	const char *name, *what;
	cJSON *bad = name_arg(args, &name);
	bool created = false;
	int ret;

	if (bad)
		return bad;
	sb = find(s, name, NULL);
	if (!sb && must_run)
		return FAILED("no sandbox named '%s' (create it with: sbx run %s)", name, name);
	if (sb && sb->attached)
		return FAILED("'%s' is an attached cgroup (%s), not a sandbox to run commands in",
			      name, sb->cgroup);
	if (sb && must_run && sb->stopped)
		return FAILED("sandbox '%s' is stopped (start it with: sbx run %s)", name, name);
	if (!sb) {
		if (create(s, name, &sb, err, sizeof(err)))
			return FAILED("cannot create sandbox %s: %s", name, err);
		created = true;
	} else if (!intact(s, sb, &what)) {
		if (cgroup_populated(sb->cgroup))
			return FAILED("sandbox %s lost its %s while processes run in it; stop it "
				      "(sbx stop %s) and run it again",
				      name, what, name);
		/* rebuild it in place: same id, same addresses */
		pr_warn("sbx: sandbox %s lost its %s; setting it up again\n", name, what);
		copy = *sb;
		teardown(s, &copy, err, sizeof(err));
		err[0] = '\0';
		ret = setup(s, &copy, err, sizeof(err));
		if (!ret)
			ret = update_entry(s, &copy, err, sizeof(err));
		if (ret) {
			char err2[SBX_ERR_MAX * 2];

			teardown(s, &copy, err2, sizeof(err2));
			return FAILED("cannot set up sandbox %s again: %s (remove it with: sbx rm "
				      "%s)",
				      name, err, name);
		}
	} else if (write_files(s, sb)) {
		return FAILED("cannot write the files of sandbox %s under %s", name, s->files_dir);
	}
	sb = find(s, name, NULL);
	if (sb->stopped) {
		copy = *sb;
		copy.stopped = false;
		if (update_entry(s, &copy, err, sizeof(err)))
			return FAILED("%s", err);
	}
	return start_reply(s, sb, created);
}

static cJSON *op_ls(struct sbx_sandboxes *s)
{
	cJSON *r = sbx_ctl_ok(), *arr = cJSON_AddArrayToObject(r, "sandboxes");

	for (size_t i = 0; i < s->list.n; i++)
		cJSON_AddItemToArray(arr, sandbox_json(s->list.v[i]));
	return r;
}

static cJSON *op_stop(struct sbx_sandboxes *s, const cJSON *args)
{
	char err[SBX_ERR_MAX * 2];
	struct sbx_sandbox *sb, copy;
	const char *name;
	cJSON *bad = name_arg(args, &name), *r;
	int ret;

	if (bad)
		return bad;
	sb = find(s, name, NULL);
	if (!sb)
		return FAILED("no sandbox named '%s'", name);
	ret = cgroup_stop(sb->cgroup);
	if (ret && ret != -ENOENT)
		return FAILED("cannot stop the processes of sandbox %s (cgroup %s): %s", name,
			      sb->cgroup, ret == -ETIMEDOUT ? "they are still exiting" :
							      strerror(-ret));
	if (!sb->attached && !sb->stopped) {
		copy = *sb;
		copy.stopped = true;
		if (update_entry(s, &copy, err, sizeof(err)))
			return FAILED("%s", err);
	}
	pr_info("sandbox %s stopped\n", name);
	r = sbx_ctl_ok();
	cJSON_AddItemToObject(r, "sandbox", sandbox_json(find(s, name, NULL)));
	return r;
}

static cJSON *op_rm(struct sbx_sandboxes *s, const cJSON *args)
{
	char err[SBX_ERR_MAX * 2] = "", err2[SBX_ERR_MAX * 2];
	bool force = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(args, "force"));
	struct sbx_sandbox *sb, copy;
	const char *name;
	cJSON *bad = name_arg(args, &name), *r;
	int ret, n;

	if (bad)
		return bad;
	sb = find(s, name, NULL);
	if (!sb)
		return FAILED("no sandbox named '%s'", name);
	copy = *sb;
	if (!copy.attached) {
		n = cgroup_nprocs(copy.cgroup);
		if (n > 0 && !force)
			return FAILED("sandbox %s has %d running process%s; stop it first "
				      "(sbx stop %s) or pass --force",
				      name, n, n == 1 ? "" : "es", name);
		ret = cgroup_stop(copy.cgroup);
		if (ret && ret != -ENOENT)
			return FAILED("cannot stop the processes of sandbox %s: %s; nothing was "
				      "removed",
				      name, ret == -ETIMEDOUT ? "they are still exiting" :
								strerror(-ret));
	}
	ret = teardown(s, &copy, err, sizeof(err));
	if (ret)
		return FAILED("cannot remove sandbox %s: %s", name, err);
	forget(s, name);
	if (save(s, err2, sizeof(err2)))
		return FAILED("%s", err2);
	/* the last one out leaves no trace of the instance (busy or not empty: others remain) */
	rmdir(s->cg_parent);
	rmdir(s->netns_dir);
	rmdir(s->files_dir);
	pr_info("sandbox %s removed\n", name);
	r = sbx_ctl_ok();
	cJSON_AddStringToObject(r, "name", name);
	return r;
}

/* The cgroup directory @args names: "cgroup" (absolute, or relative to the root) or "pid". */
static cJSON *attach_target(struct sbx_sandboxes *s, const cJSON *args, char *out, size_t len)
{
	const char *cg = sbx_json_arg(args, "cgroup");
	const cJSON *pid = cJSON_GetObjectItemCaseSensitive(args, "pid");
	char path[PATH_MAX];
	int ret;

	if (!cg == !pid)
		return BAD("give exactly one of --cgroup PATH and --pid PID");
	if (pid) {
		if (!cJSON_IsNumber(pid) || pid->valuedouble < 1 || pid->valuedouble > INT_MAX)
			return BAD("--pid must be a process id");
		ret = pid_cgroup((pid_t)pid->valuedouble, s->cg_root, s->cg_mnt_root, path,
				 sizeof(path));
		if (ret)
			return FAILED("cannot find the cgroup v2 of process %d: %s",
				      (int)pid->valuedouble,
				      ret == -ENOENT ? "no such process, or it is in no cgroup v2" :
						       strerror(-ret));
	} else if (path_within(cg, s->cg_root)) {
		snprintf(path, sizeof(path), "%s", cg);
	} else {
		/* "/system.slice/x.service" as /proc/PID/cgroup shows it, or relative */
		if (snprintf(path, sizeof(path), "%s%s%s", s->cg_root, cg[0] == '/' ? "" : "/",
			     cg) >= (int)sizeof(path))
			return BAD("cgroup path too long");
	}
	if (!realpath(path, out) || strlen(out) >= len)
		return FAILED("cannot use cgroup %s: %s", path, strerror(errno));
	if (!is_fs(out, CGROUP2_SUPER_MAGIC) || !path_within(out, s->cg_root))
		return FAILED("%s is not a cgroup v2 directory under %s", out, s->cg_root);
	return NULL;
}

static cJSON *op_attach(struct sbx_sandboxes *s, const cJSON *args)
{
	char target[PATH_MAX], self[PATH_MAX], err[SBX_ERR_MAX * 4] = "";
	struct sbx_sandbox *sb;
	const char *name;
	cJSON *bad = name_arg(args, &name), *r;
	int ret;

	if (bad)
		return bad;
	if (!s->cg_root[0])
		return FAILED("no cgroup v2 hierarchy is mounted");
	if (find(s, name, NULL))
		return FAILED("a sandbox named '%s' exists already (remove it with: sbx rm %s)",
			      name, name);
	bad = attach_target(s, args, target, sizeof(target));
	if (bad)
		return bad;
	if (strcmp(target, s->cg_root) == 0)
		return FAILED("refusing to attach to the root cgroup %s: that would confine the "
			      "whole machine",
			      target);
	if (pid_cgroup(getpid(), s->cg_root, s->cg_mnt_root, self, sizeof(self)) == 0 &&
	    path_within(self, target))
		return FAILED("refusing to attach to %s: sbxd itself runs in it, and confining "
			      "sbxd would cut off every sandbox's way out",
			      target);
	if (path_within(target, s->cg_parent) || path_within(s->cg_parent, target))
		return FAILED("refusing to attach to %s: it holds sbx's own sandboxes", target);
	for (size_t i = 0; i < s->list.n; i++)
		if (path_within(target, s->list.v[i]->cgroup) ||
		    path_within(s->list.v[i]->cgroup, target))
			return FAILED("refusing to attach to %s: it overlaps sandbox %s (%s)",
				      target, s->list.v[i]->name, s->list.v[i]->cgroup);
	if (!s->bpf)
		return FAILED("eBPF enforcement is not available (see the sbxd log)");
	sb = calloc(1, sizeof(*sb));
	if (!sb)
		return FAILED("out of memory");
	snprintf(sb->name, sizeof(sb->name), "%s", name);
	snprintf(sb->cgroup, sizeof(sb->cgroup), "%s", target);
	sb->attached = true;
	sb->gw4 = htonl(INADDR_LOOPBACK);
	ret = add_entry(s, sb, err, sizeof(err));
	if (!ret) {
		ret = enforce(s, sb, err, sizeof(err));
		if (!ret)
			ret = update_entry(s, sb, err, sizeof(err));
		if (ret)
			abandon(s, sb);
	}
	if (ret) {
		free(sb);
		return FAILED("cannot attach %s to %s: %s", name, target, err);
	}
	pr_info("sandbox %s attached to cgroup %s (id %u)\n", name, target, sb->id);
	free(sb);
	r = sbx_ctl_ok();
	cJSON_AddItemToObject(r, "sandbox", sandbox_json(find(s, name, NULL)));
	return r;
}

cJSON *sbx_sandboxes_handle(struct sbx_sandboxes *s, const char *op, const cJSON *args,
			    bool *shutdown)
{
	*shutdown = false;
	if (strcmp(op, "sandbox.start") == 0)
		return op_start(s, args, false);
	if (strcmp(op, "sandbox.exec") == 0)
		return op_start(s, args, true);
	if (strcmp(op, "sandbox.ls") == 0)
		return op_ls(s);
	if (strcmp(op, "sandbox.stop") == 0)
		return op_stop(s, args);
	if (strcmp(op, "sandbox.rm") == 0)
		return op_rm(s, args);
	if (strcmp(op, "sandbox.attach") == 0)
		return op_attach(s, args);
	return sbx_ctl_error(2, "bad-request", "unknown request '%s'", op);
}

int sbx_sandboxes_peer_where(struct sbx_sandboxes *s, pid_t pid, char *name, size_t len)
{
	char cg[PATH_MAX];
	int ret;

	name[0] = '\0';
	if (pid <= 0)
		return -ESRCH;
	if (!s->cg_root[0])
		return SBX_PEER_HOST; /* no cgroup v2: no sandbox exists */
	ret = pid_cgroup(pid, s->cg_root, s->cg_mnt_root, cg, sizeof(cg));
	if (ret)
		return ret;
	/* everything below <root>/<instance>, registered or not, is ours */
	if (path_within(cg, s->cg_parent))
		return SBX_PEER_SANDBOX;
	for (size_t i = 0; i < s->list.n; i++) {
		const struct sbx_sandbox *sb = s->list.v[i];

		if (path_within(cg, sb->cgroup)) {
			snprintf(name, len, "%s", sb->name);
			return sb->attached ? SBX_PEER_ATTACHED : SBX_PEER_SANDBOX;
		}
	}
	return SBX_PEER_HOST;
}

bool sbx_sandboxes_attached(struct sbx_sandboxes *s, const char *name)
{
	const struct sbx_sandbox *sb = name ? find(s, name, NULL) : NULL;

	return sb && sb->attached;
}

bool sbx_sandboxes_by_ip(struct sbx_sandboxes *s, uint32_t ip4, struct sbx_sandbox *out)
{
	bool found = false;

	pthread_rwlock_rdlock(&s->lock);
	for (size_t i = 0; i < s->list.n && !found; i++) {
		if (!s->list.v[i]->attached && s->list.v[i]->ip4 == ip4) {
			*out = *s->list.v[i];
			found = true;
		}
	}
	pthread_rwlock_unlock(&s->lock);
	return found;
}

bool sbx_sandboxes_by_id(struct sbx_sandboxes *s, uint32_t id, struct sbx_sandbox *out)
{
	bool found = false;

	pthread_rwlock_rdlock(&s->lock);
	for (size_t i = 0; i < s->list.n && !found; i++) {
		if (s->list.v[i]->id == id) {
			*out = *s->list.v[i];
			found = true;
		}
	}
	pthread_rwlock_unlock(&s->lock);
	return found;
}

void sbx_sandboxes_stop_all(struct sbx_sandboxes *s)
{
	char err[SBX_ERR_MAX * 2];
	bool changed = false;

	/* kill them all first, then wait: one bounded wait, not one per sandbox */
	for (size_t i = 0; i < s->list.n; i++) {
		char path[PATH_MAX + 16];

		if (s->list.v[i]->attached || !cgroup_populated(s->list.v[i]->cgroup) ||
		    cg_file(s->list.v[i]->cgroup, "cgroup.kill", path, sizeof(path)))
			continue;
		if (write_str(path, "1") == -ENOENT)
			cgroup_kill_each(s->list.v[i]->cgroup);
	}
	for (size_t i = 0; i < s->list.n; i++) {
		struct sbx_sandbox *sb = s->list.v[i];

		if (sb->attached)
			continue;
		if (cgroup_stop(sb->cgroup) == -ETIMEDOUT)
			pr_warn("sbx: sandbox %s: processes still exiting\n", sb->name);
		if (!sb->stopped) {
			pthread_rwlock_wrlock(&s->lock);
			sb->stopped = true;
			pthread_rwlock_unlock(&s->lock);
			changed = true;
		}
	}
	if (changed && save(s, err, sizeof(err)))
		pr_warn("sbx: %s\n", err);
}

/* ---- open / free ----------------------------------------------------------------------------- */

/* At startup: keep what is intact (re-applying its enforcement), drop what vanished. */
static void revive(struct sbx_sandboxes *s)
{
	char err[SBX_ERR_MAX * 4];
	const char *what;
	bool changed = false;

	for (size_t i = s->list.n; i-- > 0;) {
		struct sbx_sandbox *sb = s->list.v[i], copy = *sb;

		if (!intact(s, sb, &what) &&
		    ((is_fs(sb->cgroup, CGROUP2_SUPER_MAGIC) && cgroup_populated(sb->cgroup)) ||
		     strcmp(what, "veth") == 0)) {
			/*
			 * Processes still run in it, or only the veth is missing (sbxd may have
			 * started in another network namespace): it stays, and so does its
			 * enforcement; sbx run sets it up again, sbx rm takes it down.
			 */
			pr_warn("sbx: sandbox %s: its %s is missing; kept\n", sb->name, what);
		} else if (!intact(s, sb, &what)) {
			pr_warn("sbx: sandbox %s: its %s is gone; forgetting it\n", sb->name, what);
			err[0] = '\0';
			if (teardown(s, &copy, err, sizeof(err)))
				pr_warn("sbx: sandbox %s: %s\n", copy.name, err);
			forget(s, copy.name);
			changed = true;
			continue;
		}
		if (!s->bpf)
			continue;
		err[0] = '\0';
		if (enforce(s, &copy, err, sizeof(err)))
			pr_warn("sbx: sandbox %s: %s (its earlier enforcement stays pinned)\n",
				copy.name, err);
		if (!copy.attached && write_files(s, &copy))
			pr_warn("sbx: sandbox %s: cannot write its files under %s\n", copy.name,
				s->files_dir);
		if (copy.cgroup_id != sb->cgroup_id) {
			pthread_rwlock_wrlock(&s->lock);
			*sb = copy;
			pthread_rwlock_unlock(&s->lock);
			changed = true;
		}
	}
	if (changed && save(s, err, sizeof(err)))
		pr_warn("sbx: %s\n", err);
	if (s->list.n)
		pr_info("%zu sandbox%s known\n", s->list.n, s->list.n == 1 ? "" : "es");
}

int sbx_sandboxes_open(const struct sbx_paths *paths, const struct sbx_config *cfg,
		       const struct sbx_sandbox_ports *ports, struct sbx_bpf *bpf,
		       struct sbx_sandboxes **out, char *err, size_t errlen)
{
	struct sbx_sandboxes *s = calloc(1, sizeof(*s));
	const char *pool = cfg && cfg->sandbox_pool[0] ? cfg->sandbox_pool :
							 SBX_SANDBOX_POOL_DEFAULT;
	int ret;

	if (!s)
		return -ENOMEM;
	pthread_rwlock_init(&s->lock, NULL);
	s->paths = *paths;
	s->ports = *ports;
	s->bpf = bpf;
	ret = sbx_pool_parse(pool, &s->pool, err, errlen);
	if (ret)
		goto fail;
	snprintf(s->state_path, sizeof(s->state_path), "%s/%s", paths->state_dir,
		 SBX_SANDBOX_STATE_FILE);
	snprintf(s->netns_dir, sizeof(s->netns_dir), "%s/netns", paths->run_dir);
	snprintf(s->files_dir, sizeof(s->files_dir), "%s/sandboxes", paths->run_dir);
	if (sbx_cgroup2_root(s->cg_root, sizeof(s->cg_root), s->cg_mnt_root,
			     sizeof(s->cg_mnt_root)) == 0)
		snprintf(s->cg_parent, sizeof(s->cg_parent), "%s/%s", s->cg_root, paths->instance);
	else
		pr_warn("sbx: no cgroup v2 hierarchy is mounted: sandboxes cannot be created\n");
	ret = sbx_sandbox_list_load(s->state_path, &s->list, err, errlen);
	if (ret == -ENOENT) {
		s->list.next_id = 1;
		ret = 0;
	}
	if (ret)
		goto fail;
	revive(s);
	*out = s;
	return 0;
fail:
	sbx_sandboxes_free(s);
	return ret;
}

void sbx_sandboxes_free(struct sbx_sandboxes *s)
{
	if (!s)
		return;
	sbx_sandbox_list_release(&s->list);
	pthread_rwlock_destroy(&s->lock);
	free(s);
}
