// SPDX-License-Identifier: MIT
/*
 * The sandbox.* control requests (start, exec, ls, stop, rm, attach) and the lookups other
 * modules make in the registry; see sandbox.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/magic.h>

#include <sbx/confine.h>
#include <sbx/policy.h>
#include "cgroup.h"
#include "ctl.h"
#include "fsutil.h"
#include "log.h"
#include "sandbox_int.h"

#define BAD(...) sbx_ctl_error(2, "bad-input", __VA_ARGS__)
#define FAILED(...) sbx_ctl_error(1, "failed", __VA_ARGS__)

/* What `sbx ls --json` shows: the stored fields, plus what only the kernel knows now. */
/* Its processes, not counting its init. */
static int processes(const struct sbx_sandbox *sb)
{
	int n = sbx_cgroup_nprocs(sb->cgroup);

	if (n > 0 && !sb->attached && sbx_sandbox_init_alive(sb))
		n--;
	return n;
}

static cJSON *sandbox_json(const struct sbx_sandbox *sb)
{
	cJSON *j = sbx_sandbox_to_json(sb);
	int n = processes(sb);

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
	cJSON *r = sbx_ctl_ok(), *env;
	char proxy[64];
	static const char *const proxy_vars[] = { "HTTP_PROXY", "HTTPS_PROXY", "http_proxy",
						  "https_proxy" };

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
	return r;
}

/* Who runs it: {"uid", "gid", "home"} of the invoking user (root when absent). */
static cJSON *owner_arg(const cJSON *args, struct sbx_sandbox *sb)
{
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(args, "owner");
	const cJSON *uid = cJSON_GetObjectItemCaseSensitive(o, "uid");
	const cJSON *gid = cJSON_GetObjectItemCaseSensitive(o, "gid");
	const char *home = sbx_json_str(o, "home");

	snprintf(sb->owner_home, sizeof(sb->owner_home), "/root");
	if (!o)
		return NULL;
	if (!cJSON_IsNumber(uid) || !cJSON_IsNumber(gid) || uid->valuedouble < 0 ||
	    gid->valuedouble < 0 || uid->valuedouble >= SBX_IDS_PER_SANDBOX ||
	    gid->valuedouble >= SBX_IDS_PER_SANDBOX)
		return BAD("the sandbox's user must have a uid and gid below %u",
			   SBX_IDS_PER_SANDBOX);
	sb->owner_uid = (uint32_t)uid->valuedouble;
	sb->owner_gid = (uint32_t)gid->valuedouble;
	if (home && home[0] == '/' && strlen(home) < sizeof(sb->owner_home))
		snprintf(sb->owner_home, sizeof(sb->owner_home), "%s", home);
	return NULL;
}

static bool same_workspaces(const struct sbx_sandbox *a, const struct sbx_sandbox *b)
{
	if (a->nws != b->nws)
		return false;
	for (size_t i = 0; i < a->nws; i++)
		if (strcmp(a->ws[i].path, b->ws[i].path) || a->ws[i].ro != b->ws[i].ro)
			return false;
	return true;
}

static void ws_list(const struct sbx_sandbox *sb, char *out, size_t len)
{
	size_t off = 0;

	out[0] = '\0';
	for (size_t i = 0; i < sb->nws && off < len; i++)
		off += (size_t)snprintf(out + off, len - off, "%s%s%s", i ? ", " : "",
					sb->ws[i].path, sb->ws[i].ro ? ":ro" : "");
	if (!sb->nws)
		snprintf(out, len, "none");
}

/* A sandbox made by this request that cannot start leaves nothing behind. */
static void undo_create(struct sbx_sandboxes *s, const struct sbx_sandbox *sb)
{
	char err[SBX_ERR_MAX];

	sbx_sandbox_abandon(s, sb);
	sbx_sandbox_root_remove(s, sb->name, err, sizeof(err));
}

/*
 * The workspaces and owner a request asks for, into @want: a new sandbox takes them, a
 * stopped one takes new workspaces, a running one must already have them.
 */
static cJSON *start_args(struct sbx_sandboxes *s, const cJSON *args, const struct sbx_sandbox *sb,
			 struct sbx_sandbox *want, bool *have_ws)
{
	const cJSON *ws = cJSON_GetObjectItemCaseSensitive(args, "workspaces");
	cJSON *bad;

	if (sb) {
		*want = *sb;
	} else {
		bad = owner_arg(args, want);
		if (bad)
			return bad;
		snprintf(want->name, sizeof(want->name), "%s", sbx_json_str(args, "name"));
	}
	*have_ws = ws != NULL;
	return ws ? sbx_sandbox_take_workspaces(s, want, ws) : NULL;
}

static cJSON *op_start(struct sbx_sandboxes *s, const cJSON *args, bool must_run)
{
	char err[SBX_ERR_MAX * 4] = "", have[SBX_ERR_MAX * 4];
	struct sbx_sandbox *sb, *want = calloc(1, sizeof(*want)), *copy = calloc(1, sizeof(*copy));
	const char *name, *what;
	cJSON *bad = name_arg(args, &name), *r = NULL;
	bool created = false, have_ws = false;
	int ret;

	if (!want || !copy)
		r = FAILED("out of memory");
	if (bad || r)
		goto out;
	sb = sbx_sandboxes_find(s, name, NULL);
	if (!sb && must_run)
		r = FAILED("no sandbox named '%s' (create it with: sbx run %s)", name, name);
	else if (sb && sb->attached)
		r = FAILED("'%s' is an attached cgroup (%s), not a sandbox to run commands in",
			   name, sb->cgroup);
	else if (sb && must_run && sb->stopped)
		r = FAILED("sandbox '%s' is stopped (start it with: sbx run %s)", name, name);
	else
		r = start_args(s, args, sb, want, &have_ws);
	if (r)
		goto out;
	if (sb && have_ws && sbx_sandbox_init_alive(sb) && !same_workspaces(sb, want)) {
		ws_list(sb, have, sizeof(have));
		r = FAILED("sandbox %s runs with workspaces: %s; stop it (sbx stop %s) to change "
			   "them",
			   name, have, name);
		goto out;
	}
	if (!sb) {
		if (sbx_sandbox_create(s, name, &sb, err, sizeof(err))) {
			r = FAILED("cannot create sandbox %s: %s", name, err);
			goto out;
		}
		created = true;
	} else if (!sbx_sandbox_intact(s, sb, &what)) {
		if (sbx_cgroup_populated(sb->cgroup)) {
			r = FAILED("sandbox %s lost its %s while processes run in it; stop it "
				   "(sbx stop %s) and run it again",
				   name, what, name);
			goto out;
		}
		/* rebuild it in place: same id, same addresses */
		pr_warn("sbx: sandbox %s lost its %s; setting it up again\n", name, what);
		*copy = *sb;
		copy->init_pid = 0;
		sbx_sandbox_teardown(s, copy, err, sizeof(err));
		err[0] = '\0';
		ret = sbx_sandbox_setup(s, copy, err, sizeof(err));
		if (!ret)
			ret = sbx_sandboxes_update(s, copy, err, sizeof(err));
		if (ret) {
			char err2[SBX_ERR_MAX * 2];

			sbx_sandbox_teardown(s, copy, err2, sizeof(err2));
			r = FAILED("cannot set up sandbox %s again: %s (remove it with: sbx rm %s)",
				   name, err, name);
			goto out;
		}
	} else if (sbx_sandbox_write_files(s, sb)) {
		r = FAILED("cannot write the files of sandbox %s under %s", name, s->files_dir);
		goto out;
	}
	*copy = *sbx_sandboxes_find(s, name, NULL);
	copy->stopped = false;
	if (created) {
		copy->owner_uid = want->owner_uid;
		copy->owner_gid = want->owner_gid;
		memcpy(copy->owner_home, want->owner_home, sizeof(copy->owner_home));
	}
	if (!sbx_sandbox_init_alive(copy)) {
		if (have_ws) {
			copy->nws = want->nws;
			memcpy(copy->ws, want->ws, sizeof(copy->ws));
		}
		ret = sbx_sandbox_root_start(s, copy, err, sizeof(err));
		if (ret) {
			if (created)
				undo_create(s, copy);
			r = ret == -EACCES ? sbx_ctl_error(1, "refused", "%s", err) :
					     FAILED("cannot start sandbox %s: %s", name, err);
			goto out;
		}
		pr_info("sandbox %s: init %d, host ids %u-%u\n", name, copy->init_pid,
			copy->id_base, copy->id_base + SBX_IDS_PER_SANDBOX - 1);
	}
	if (sbx_sandboxes_update(s, copy, err, sizeof(err))) {
		r = FAILED("%s", err);
		goto out;
	}
	r = start_reply(s, sbx_sandboxes_find(s, name, NULL), created);
out:
	free(want);
	free(copy);
	return bad ? bad : r;
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
	sb = sbx_sandboxes_find(s, name, NULL);
	if (!sb)
		return FAILED("no sandbox named '%s'", name);
	ret = sbx_cgroup_stop(sb->cgroup, SBX_SANDBOX_STOP_MS);
	if (ret && ret != -ENOENT)
		return FAILED("cannot stop the processes of sandbox %s (cgroup %s): %s", name,
			      sb->cgroup, ret == -ETIMEDOUT ? "they are still exiting" :
							      strerror(-ret));
	if (!sb->attached && (!sb->stopped || sb->init_pid)) {
		copy = *sb;
		copy.stopped = true;
		copy.init_pid = 0; /* cgroup.kill took it too */
		if (sbx_sandboxes_update(s, &copy, err, sizeof(err)))
			return FAILED("%s", err);
	}
	pr_info("sandbox %s stopped\n", name);
	r = sbx_ctl_ok();
	cJSON_AddItemToObject(r, "sandbox", sandbox_json(sbx_sandboxes_find(s, name, NULL)));
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
	sb = sbx_sandboxes_find(s, name, NULL);
	if (!sb)
		return FAILED("no sandbox named '%s'", name);
	copy = *sb;
	if (!copy.attached) {
		n = processes(&copy);
		if (n > 0 && !force)
			return FAILED("sandbox %s has %d running process%s; stop it first "
				      "(sbx stop %s) or pass --force",
				      name, n, n == 1 ? "" : "es", name);
		ret = sbx_cgroup_stop(copy.cgroup, SBX_SANDBOX_STOP_MS);
		if (ret && ret != -ENOENT)
			return FAILED("cannot stop the processes of sandbox %s: %s; nothing was "
				      "removed",
				      name, ret == -ETIMEDOUT ? "they are still exiting" :
								strerror(-ret));
	}
	ret = sbx_sandbox_teardown(s, &copy, err, sizeof(err));
	if (!ret && !copy.attached)
		ret = sbx_sandbox_root_remove(s, name, err, sizeof(err));
	if (ret)
		return FAILED("cannot remove sandbox %s: %s", name, err);
	sbx_sandboxes_forget(s, name);
	if (sbx_sandboxes_save(s, err2, sizeof(err2)))
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
		ret = sbx_cgroup_of_pid((pid_t)pid->valuedouble, s->cg_root, s->cg_mnt_root, path,
					sizeof(path));
		if (ret)
			return FAILED("cannot find the cgroup v2 of process %d: %s",
				      (int)pid->valuedouble,
				      ret == -ENOENT ? "no such process, or it is in no cgroup v2" :
						       strerror(-ret));
	} else if (sbx_path_within(cg, s->cg_root)) {
		snprintf(path, sizeof(path), "%s", cg);
	} else {
		/* "/system.slice/x.service" as /proc/PID/cgroup shows it, or relative */
		if (snprintf(path, sizeof(path), "%s%s%s", s->cg_root, cg[0] == '/' ? "" : "/",
			     cg) >= (int)sizeof(path))
			return BAD("cgroup path too long");
	}
	if (!realpath(path, out) || strlen(out) >= len)
		return FAILED("cannot use cgroup %s: %s", path, strerror(errno));
	if (!sbx_is_fs(out, CGROUP2_SUPER_MAGIC) || !sbx_path_within(out, s->cg_root))
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
	if (sbx_sandboxes_find(s, name, NULL))
		return FAILED("a sandbox named '%s' exists already (remove it with: sbx rm %s)",
			      name, name);
	bad = attach_target(s, args, target, sizeof(target));
	if (bad)
		return bad;
	if (strcmp(target, s->cg_root) == 0)
		return FAILED("refusing to attach to the root cgroup %s: that would confine the "
			      "whole machine",
			      target);
	if (sbx_cgroup_of_pid(getpid(), s->cg_root, s->cg_mnt_root, self, sizeof(self)) == 0 &&
	    sbx_path_within(self, target))
		return FAILED("refusing to attach to %s: sbxd itself runs in it, and confining "
			      "sbxd would cut off every sandbox's way out",
			      target);
	if (sbx_path_within(target, s->cg_parent) || sbx_path_within(s->cg_parent, target))
		return FAILED("refusing to attach to %s: it holds sbx's own sandboxes", target);
	for (size_t i = 0; i < s->list.n; i++)
		if (sbx_path_within(target, s->list.v[i]->cgroup) ||
		    sbx_path_within(s->list.v[i]->cgroup, target))
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
	ret = sbx_sandboxes_add(s, sb, err, sizeof(err));
	if (!ret) {
		ret = sbx_sandbox_enforce(s, sb, err, sizeof(err));
		if (!ret)
			ret = sbx_sandboxes_update(s, sb, err, sizeof(err));
		if (ret)
			sbx_sandbox_abandon(s, sb);
	}
	if (ret) {
		free(sb);
		return FAILED("cannot attach %s to %s: %s", name, target, err);
	}
	pr_info("sandbox %s attached to cgroup %s (id %u)\n", name, target, sb->id);
	free(sb);
	r = sbx_ctl_ok();
	cJSON_AddItemToObject(r, "sandbox", sandbox_json(sbx_sandboxes_find(s, name, NULL)));
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
	ret = sbx_cgroup_of_pid(pid, s->cg_root, s->cg_mnt_root, cg, sizeof(cg));
	if (ret)
		return ret;
	/* everything below <root>/<instance>, registered or not, is ours */
	if (sbx_path_within(cg, s->cg_parent))
		return SBX_PEER_SANDBOX;
	for (size_t i = 0; i < s->list.n; i++) {
		const struct sbx_sandbox *sb = s->list.v[i];

		if (sbx_path_within(cg, sb->cgroup)) {
			snprintf(name, len, "%s", sb->name);
			return sb->attached ? SBX_PEER_ATTACHED : SBX_PEER_SANDBOX;
		}
	}
	return SBX_PEER_HOST;
}

bool sbx_sandboxes_attached(struct sbx_sandboxes *s, const char *name)
{
	const struct sbx_sandbox *sb = name ? sbx_sandboxes_find(s, name, NULL) : NULL;

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
	for (size_t i = 0; i < s->list.n; i++)
		if (!s->list.v[i]->attached)
			sbx_cgroup_kill(s->list.v[i]->cgroup);
	for (size_t i = 0; i < s->list.n; i++) {
		struct sbx_sandbox *sb = s->list.v[i];

		if (sb->attached)
			continue;
		if (sbx_cgroup_stop(sb->cgroup, SBX_SANDBOX_STOP_MS) == -ETIMEDOUT)
			pr_warn("sbx: sandbox %s: processes still exiting\n", sb->name);
		if (!sb->stopped) {
			pthread_rwlock_wrlock(&s->lock);
			sb->stopped = true;
			pthread_rwlock_unlock(&s->lock);
			changed = true;
		}
	}
	if (changed && sbx_sandboxes_save(s, err, sizeof(err)))
		pr_warn("sbx: %s\n", err);
}
