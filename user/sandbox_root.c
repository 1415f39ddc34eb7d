// SPDX-License-Identifier: MIT
/*
 * A sandbox's own root, host ids and init (include/sbx/confine.h): the block of host ids its
 * user namespace maps, the directory under the state dir that keeps its upper layers, /var,
 * /home and /root until sbx rm, its workspaces (checked against the filesystem rules at every
 * start), and starting its init.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sbx/confine.h>
#include <sbx/policy.h>
#include "ctl.h"
#include "log.h"
#include "sandbox_int.h"
#include "sbxinit.h"

#define FAILED(...) sbx_ctl_error(1, "failed", __VA_ARGS__)
#define BAD(...) sbx_ctl_error(2, "bad-input", __VA_ARGS__)
#define MASKS_DIR "/etc"

bool sbx_sandbox_init_alive(const struct sbx_sandbox *sb)
{
	unsigned long long start;

	return sb->init_pid > 0 && sbx_proc_starttime(sb->init_pid, &start) == 0 &&
	       start == sb->init_start;
}

static int root_dir(const struct sbx_sandboxes *s, const char *name, const char *sub, char *out,
		    size_t len)
{
	int n = snprintf(out, len, "%s/%s%s%s", s->roots_dir, name, sub ? "/" : "",
			 sub ? sub : "");

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/*
 * @path opened once: the rules judge where the fd is, and the init mounts that fd, so a
 * path swapped between the check and the mount shows nothing else.
 */
static int open_workspace(const char *path, struct sbx_workspace *w, char *why, size_t len)
{
	char proc[64];
	ssize_t n;

	w->fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (w->fd < 0)
		return snprintf(why, len, "cannot open workspace %s: %s", path, strerror(errno)),
		       -errno;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", w->fd);
	n = readlink(proc, w->path, sizeof(w->path) - 1);
	if (n <= 0 || w->path[0] != '/') {
		close(w->fd);
		w->fd = -1;
		return snprintf(why, len, "cannot tell where workspace %s is", path), -EIO;
	}
	w->path[n] = '\0';
	return 0;
}

/* The filesystem rules on one workspace: 0, or a refusal with what to do in @why. */
static int check_workspace(struct sbx_sandboxes *s, const struct sbx_sandbox *sb,
			   const struct sbx_workspace *w, char *why, size_t len)
{
	char detail[SBX_ERR_MAX * 2], fix[SBX_ERR_MAX * 2];
	const struct sbx_policy *p;
	struct sbx_verdict v;
	int ret;

	if (!s->pd)
		return snprintf(why, len, "no filesystem rules are loaded"), -EPERM;
	p = sbx_policyd_read_lock(s->pd);
	ret = sbx_policy_decide_mount(p, sb->name, w->path, sb->owner_home, !w->ro, &v);
	if (!ret && v.decision != SBX_ALLOW) {
		sbx_path_verdict_detail(&v, w->path, detail, sizeof(detail));
		sbx_path_verdict_fix(&v, w->path, fix, sizeof(fix));
		snprintf(why, len, "workspace %s%s refused: %s%s%s", w->path, w->ro ? ":ro" : "",
			 detail, fix[0] ? "\nfix: " : "", fix);
		ret = -EACCES;
	} else if (ret) {
		snprintf(why, len, "cannot decide workspace %s: %s", w->path, strerror(-ret));
	}
	sbx_policyd_read_unlock(s->pd);
	return ret;
}

static void close_workspaces(struct sbx_workspace *ws, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ws[i].fd >= 0)
			close(ws[i].fd);
}

/* Open and check every workspace of @sb; on failure nothing stays open. */
static int open_workspaces(struct sbx_sandboxes *s, const struct sbx_sandbox *sb,
			   struct sbx_workspace *ws, char *why, size_t len)
{
	int ret = 0;

	for (size_t i = 0; i < sb->nws && !ret; i++) {
		ws[i].ro = sb->ws[i].ro;
		ret = open_workspace(sb->ws[i].path, &ws[i], why, len);
		if (!ret)
			ret = check_workspace(s, sb, &ws[i], why, len);
		if (ret)
			close_workspaces(ws, i + (ws[i].fd >= 0));
	}
	return ret;
}

cJSON *sbx_sandbox_take_workspaces(struct sbx_sandboxes *s, struct sbx_sandbox *sb,
				   const cJSON *arr)
{
	struct sbx_workspace ws[SBX_SANDBOX_WS_MAX];
	struct sbx_sandbox want = *sb;
	char why[SBX_ERR_MAX * 4];
	const cJSON *it;
	int ret;

	if (!cJSON_IsArray(arr))
		return BAD("workspaces must be a list");
	want.nws = 0;
	cJSON_ArrayForEach(it, arr) {
		const char *path = sbx_json_str(it, "path");

		if (want.nws == SBX_SANDBOX_WS_MAX)
			return BAD("at most %d workspaces", SBX_SANDBOX_WS_MAX);
		if (!path || path[0] != '/' || strlen(path) >= PATH_MAX)
			return BAD("a workspace must be an absolute path");
		snprintf(want.ws[want.nws].path, PATH_MAX, "%s", path);
		want.ws[want.nws++].ro =
			cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "readonly"));
	}
	ret = open_workspaces(s, &want, ws, why, sizeof(why));
	if (ret)
		return ret == -EACCES ? sbx_ctl_error(1, "refused", "%s", why) : FAILED("%s", why);
	/* what the fds say, not what was asked: the canonical paths */
	for (size_t i = 0; i < want.nws; i++)
		snprintf(want.ws[i].path, PATH_MAX, "%s", ws[i].path);
	close_workspaces(ws, want.nws);
	sb->nws = want.nws;
	memcpy(sb->ws, want.ws, sizeof(sb->ws));
	return NULL;
}

static int alloc_ids(struct sbx_sandboxes *s, struct sbx_sandbox *sb, char *err, size_t errlen)
{
	uint32_t taken[SBX_SANDBOXES_MAX];
	struct sbx_id_span *spans = NULL;
	size_t ntaken = 0, nspans = 0;
	int ret;

	for (size_t i = 0; i < s->list.n; i++)
		if (s->list.v[i]->id_base && strcmp(s->list.v[i]->name, sb->name))
			taken[ntaken++] = s->list.v[i]->id_base;
	ret = sbx_ids_host_spans(&spans, &nspans, "");
	if (ret)
		return snprintf(err, errlen, "cannot read the host's accounts: %s",
				strerror(-ret)),
		       ret;
	ret = sbx_ids_alloc(&s->ids, taken, ntaken, spans, nspans, &sb->id_base);
	free(spans);
	if (ret == -ENOSPC)
		sbx_ids_nospc(&s->ids, s->paths.config, err, errlen);
	else if (ret)
		snprintf(err, errlen, "cannot allocate host ids: %s", strerror(-ret));
	return ret;
}

/* mkdir @path (mode, owner) unless it exists; an existing one keeps what the sandbox did. */
static int own_dir(const char *path, mode_t mode, uid_t owner)
{
	if (mkdir(path, mode) == 0)
		return chown(path, owner, owner) || chmod(path, mode) ? -errno : 0;
	return errno == EEXIST ? 0 : -errno;
}

static int make_dirs(struct sbx_sandboxes *s, const struct sbx_sandbox *sb, char *err,
		     size_t errlen)
{
	static const struct {
		const char *sub;
		mode_t mode;
		bool sandbox_owns;
	} dirs[] = {
		{ NULL, 0700, false },	    { "fs", 0755, false },
		{ "fs/var", 0755, true },   { "fs/var/tmp", 01777, true },
		{ "fs/home", 0755, true },  { "fs/root", 0700, true },
		{ "work", 0700, false },
	};
	char path[PATH_MAX];
	int ret, fd;

	if (mkdir(s->roots_dir, 0700) && errno != EEXIST)
		return snprintf(err, errlen, "cannot create %s: %s", s->roots_dir,
				strerror(errno)),
		       -errno;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		ret = root_dir(s, sb->name, dirs[i].sub, path, sizeof(path));
		if (!ret)
			ret = own_dir(path, dirs[i].mode, dirs[i].sandbox_owns ? sb->id_base : 0);
		if (ret)
			return snprintf(err, errlen, "cannot create %s: %s", path,
					strerror(-ret)),
			       ret;
	}
	root_dir(s, sb->name, "empty", path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0444);
	if (fd < 0)
		return snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno)),
		       -errno;
	close(fd);
	return 0;
}

static int build_plan(struct sbx_sandboxes *s, const struct sbx_sandbox *sb,
		      const struct sbx_workspace *ws, struct sbx_plan *plan, char *err,
		      size_t errlen)
{
	const char *hidden[] = { s->paths.state_dir, s->paths.run_dir, s->paths.bpf_dir };
	struct sbx_sys_entry sys[SBX_SYS_DIRS_MAX];
	char dir[PATH_MAX], files[PATH_MAX], **masks = NULL;
	size_t nsys = 0, nmasks = 0;
	int ret;

	root_dir(s, sb->name, NULL, dir, sizeof(dir));
	sbx_sandbox_files_path(s, sb->name, NULL, files, sizeof(files));
	ret = sbx_sys_scan("", sys, SBX_SYS_DIRS_MAX, &nsys);
	if (!ret)
		ret = sbx_masks_scan(MASKS_DIR, &masks, &nmasks, SBX_MASKS_MAX);
	if (ret)
		return snprintf(err, errlen, "cannot look through the host's %s: %s",
				ret == -E2BIG ? MASKS_DIR " (too many files only their owner may "
						"read; nothing would hide them all)" :
						"system directories",
				strerror(-ret)),
		       ret;
	ret = sbx_plan_build(&(struct sbx_confine_in){ .name = sb->name,
						       .id_base = sb->id_base,
						       .dir = dir,
						       .files_dir = files,
						       .sys = sys,
						       .nsys = nsys,
						       .masks = (const char *const *)masks,
						       .nmasks = nmasks,
						       .hidden = hidden,
						       .nhidden = 3,
						       .ws = ws,
						       .nws = sb->nws },
			     plan, err, errlen);
	sbx_masks_free(masks, nmasks);
	return ret;
}

/*
 * The idmap of workspaces: on-disk owner @uid is @inside in the sandbox (its root or its
 * user); every other uid is nobody's, so the sandbox's root has no capability over those
 * files. Groups map one to one except root's (a file must have both ids mapped to be
 * writable at all; a group grants nothing the sandbox's user does not have).
 */
static void ws_maps(const struct sbx_sandbox *sb, uint32_t uid, char *map, size_t mlen,
		    char *gmap, size_t glen)
{
	uint32_t inside = uid == 0 ? SBX_SANDBOX_NOBODY : uid; /* on disk */
	uint32_t base = sb->id_base;

	snprintf(map, mlen, "%u %u 1\n", inside, base + uid);
	if (uid == 0) /* root's sandbox writes as nobody: gid nobody is its root's group */
		snprintf(gmap, glen, "1 %u %u\n%u %u 1\n%u %u 1\n", base + 1,
			 SBX_SANDBOX_NOBODY - 1, SBX_SANDBOX_NOBODY, base,
			 SBX_SANDBOX_NOBODY + 1, base + SBX_SANDBOX_NOBODY + 1);
	else
		snprintf(gmap, glen, "1 %u %u\n", base + 1, SBX_IDS_PER_SANDBOX - 1);
}

/* The sandbox's user namespace (all its ids), and the one workspaces are idmapped with. */
static int open_userns(const struct sbx_sandbox *sb, int *all, int *owner)
{
	char map[64], gmap[160];
	uint32_t uid = sb->owner_uid < SBX_IDS_PER_SANDBOX ? sb->owner_uid : 0;

	snprintf(map, sizeof(map), "0 %u %u\n", sb->id_base, SBX_IDS_PER_SANDBOX);
	*all = sbx_userns_open(map, map);
	if (*all < 0)
		return *all;
	ws_maps(sb, uid, map, sizeof(map), gmap, sizeof(gmap));
	*owner = sbx_userns_open(map, gmap);
	if (*owner < 0) {
		close(*all);
		return *owner;
	}
	return 0;
}

int sbx_sandbox_root_start(struct sbx_sandboxes *s, struct sbx_sandbox *sb, char *err,
			   size_t errlen)
{
	struct sbx_workspace ws[SBX_SANDBOX_WS_MAX];
	struct sbx_plan *plan = NULL;
	unsigned long long start = 0;
	int ret, all = -1, owner = -1;
	pid_t pid = 0;

	if (!sb->id_base && (ret = alloc_ids(s, sb, err, errlen)))
		return ret;
	ret = make_dirs(s, sb, err, errlen);
	if (ret)
		return ret;
	ret = open_workspaces(s, sb, ws, err, errlen);
	if (ret)
		return ret;
	plan = calloc(1, sizeof(*plan));
	ret = plan ? build_plan(s, sb, ws, plan, err, errlen) : -ENOMEM;
	if (!ret && (ret = open_userns(sb, &all, &owner)))
		snprintf(err, errlen, "cannot make the sandbox's user namespace: %s",
			 strerror(-ret));
	if (!ret)
		ret = sbx_init_start(&(struct sbx_init_args){ .plan = plan,
							      .ws = ws,
							      .nws = sb->nws,
							      .cgroup = sb->cgroup,
							      .netns = sb->netns,
							      .userns_fd = all,
							      .ws_userns_fd = owner },
				     &pid, err, errlen);
	if (!ret && sbx_proc_starttime(pid, &start)) {
		kill(pid, SIGKILL);
		snprintf(err, errlen, "the sandbox's init exited as it started");
		ret = -ESRCH;
	}
	if (!ret) {
		sb->init_pid = pid;
		sb->init_start = start;
	}
	if (all >= 0)
		close(all);
	if (owner >= 0)
		close(owner);
	close_workspaces(ws, sb->nws);
	free(plan);
	return ret;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	if (type == FTW_DP)
		return rmdir(path) && errno != ENOENT ? -1 : 0;
	return unlink(path) && errno != ENOENT ? -1 : 0;
}

int sbx_sandbox_root_remove(struct sbx_sandboxes *s, const char *name, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	struct stat st;

	if (root_dir(s, name, NULL, dir, sizeof(dir)) || lstat(dir, &st))
		return 0;
	/* FTW_MOUNT: nothing is mounted there once its init is gone; never cross into one */
	if (nftw(dir, remove_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) ||
	    (rmdir(dir) && errno != ENOENT)) {
		snprintf(err, errlen, "cannot remove %s: %s", dir, strerror(errno));
		return -errno;
	}
	rmdir(s->roots_dir); /* the last one out */
	return 0;
}
