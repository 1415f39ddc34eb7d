// SPDX-License-Identifier: MIT
/*
 * The plan of a sandbox's root (see include/sbx/confine.h): pure, unit tested without root.
 *
 * The root is a tmpfs owned by the sandbox's root. The host's system directories come in
 * through overlays whose lower layer is the host's, idmapped so that host root is the
 * sandbox's root (package managers can change anything; the changes land in the sandbox's
 * upper layer and the host's copy never changes). Files only their owner may read on the
 * host are masked, since the idmap makes the sandbox's root their owner. /tmp and /run are
 * fresh tmpfs, /var, /home and /root the sandbox's own directories (kept until sbx rm); /dev
 * holds the usual character devices and a devpts of its own; /proc is the pid namespace's,
 * /sys read-only. Workspaces come last, parents before children.
 */
#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sbx/confine.h>
#include <sbx/fsutil.h>

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -EINVAL)

static const char *const dev_nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };
static const char *const dev_links[][2] = {
	{ "ptmx", "pts/ptmx" },		{ "fd", "/proc/self/fd" },
	{ "stdin", "/proc/self/fd/0" }, { "stdout", "/proc/self/fd/1" },
	{ "stderr", "/proc/self/fd/2" },
};
/* own directories of the sandbox, kept under <dir>/fs until sbx rm */
static const char *const own_dirs[][2] = { { "var", "/var" }, { "home", "/home" },
					   { "root", "/root" } };
/* never a workspace: the sandbox's own kernel views */
static const char *const virtual_dirs[] = { "/proc", "/sys", "/dev" };

static struct sbx_step *add(struct sbx_plan *p, enum sbx_step_kind kind, const char *target)
{
	struct sbx_step *s;

	if (p->n == SBX_PLAN_MAX)
		return NULL;
	s = &p->step[p->n++];
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->ws = -1;
	snprintf(s->target, sizeof(s->target), "%s", target);
	return s;
}

/* The system directory @path falls in, if it is overlaid. */
static const struct sbx_sys_entry *overlaid(const struct sbx_confine_in *in, const char *path)
{
	char top[PATH_MAX];

	for (size_t i = 0; i < in->nsys; i++) {
		snprintf(top, sizeof(top), "/%s", in->sys[i].name);
		if (in->sys[i].kind == SBX_SYS_DIR && sbx_path_within(path, top))
			return &in->sys[i];
	}
	return NULL;
}

static int check_workspace(const struct sbx_confine_in *in, const struct sbx_workspace *w,
			   char *err, size_t errlen)
{
	if (w->path[0] != '/' || strlen(w->path) >= PATH_MAX - 1)
		return ERR("workspace '%s' is not an absolute path", w->path);
	if (!strcmp(w->path, "/"))
		return ERR("the host's / cannot be a workspace: name the directory the sandbox "
			   "needs");
	for (size_t i = 0; i < sizeof(virtual_dirs) / sizeof(virtual_dirs[0]); i++)
		if (sbx_path_within(w->path, virtual_dirs[i]))
			return ERR("workspace %s is under %s, which each sandbox has of its own",
				   w->path, virtual_dirs[i]);
	for (size_t i = 0; i < in->nhidden; i++)
		if (sbx_path_within(in->hidden[i], w->path) || sbx_path_within(w->path, in->hidden[i]))
			return ERR("workspace %s would show sbx's own directory %s to the sandbox; "
				   "no rule can allow this",
				   w->path, in->hidden[i]);
	return 0;
}

static int cmp_ws(const void *a, const void *b)
{
	const struct sbx_workspace *x = *(const struct sbx_workspace *const *)a;
	const struct sbx_workspace *y = *(const struct sbx_workspace *const *)b;

	return strcmp(x->path, y->path);
}

static int sys_steps(const struct sbx_confine_in *in, struct sbx_plan *p)
{
	struct sbx_step *s;
	char target[PATH_MAX];

	for (size_t i = 0; i < in->nsys; i++) {
		const struct sbx_sys_entry *e = &in->sys[i];

		snprintf(target, sizeof(target), "/%s", e->name);
		if (e->kind == SBX_SYS_LINK) {
			s = add(p, SBX_STEP_SYMLINK, target);
			if (!s)
				return -E2BIG;
			snprintf(s->src, sizeof(s->src), "%s", e->link);
		} else if (e->kind == SBX_SYS_DIR) {
			s = add(p, SBX_STEP_OVERLAY, target);
			if (!s)
				return -E2BIG;
			snprintf(s->src, sizeof(s->src), "%s", target);
		}
	}
	return 0;
}

static int fs_steps(const struct sbx_confine_in *in, struct sbx_plan *p)
{
	struct sbx_step *s;
	char path[PATH_MAX];
	bool ok = true;

	ok = ok && (s = add(p, SBX_STEP_TMPFS, "/tmp")) &&
	     snprintf(s->src, sizeof(s->src), "mode=1777") > 0;
	ok = ok && (s = add(p, SBX_STEP_TMPFS, "/run")) &&
	     snprintf(s->src, sizeof(s->src), "mode=755") > 0;
	for (size_t i = 0; ok && i < sizeof(own_dirs) / sizeof(own_dirs[0]); i++) {
		ok = (s = add(p, SBX_STEP_BIND, own_dirs[i][1])) != NULL;
		if (ok)
			snprintf(s->src, sizeof(s->src), "%s/fs/%s", in->dir, own_dirs[i][0]);
	}
	ok = ok && (s = add(p, SBX_STEP_TMPFS, "/dev")) &&
	     snprintf(s->src, sizeof(s->src), "mode=755") > 0;
	for (size_t i = 0; ok && i < sizeof(dev_nodes) / sizeof(dev_nodes[0]); i++) {
		snprintf(path, sizeof(path), "/dev/%s", dev_nodes[i]);
		ok = (s = add(p, SBX_STEP_BIND, path)) != NULL;
		if (ok) {
			s->flags = SBX_BIND_FILE;
			snprintf(s->src, sizeof(s->src), "%s", path);
		}
	}
	ok = ok && add(p, SBX_STEP_DEVPTS, "/dev/pts");
	ok = ok && (s = add(p, SBX_STEP_TMPFS, "/dev/shm")) &&
	     snprintf(s->src, sizeof(s->src), "mode=1777") > 0;
	for (size_t i = 0; ok && i < sizeof(dev_links) / sizeof(dev_links[0]); i++) {
		snprintf(path, sizeof(path), "/dev/%s", dev_links[i][0]);
		ok = (s = add(p, SBX_STEP_SYMLINK, path)) != NULL;
		if (ok)
			snprintf(s->src, sizeof(s->src), "%s", dev_links[i][1]);
	}
	ok = ok && add(p, SBX_STEP_PROC, "/proc");
	ok = ok && add(p, SBX_STEP_SYSFS, "/sys");
	return ok ? 0 : -E2BIG;
}

/* sbxd's resolv.conf and hosts over the sandbox's /etc; masks over what must not show. */
static int hide_steps(const struct sbx_confine_in *in, struct sbx_plan *p, char *err,
		      size_t errlen)
{
	static const char *const files[] = { "resolv.conf", "hosts" };
	struct sbx_step *s;
	char path[PATH_MAX];

	if (!overlaid(in, "/etc"))
		return ERR("the host has no /etc directory to build the sandbox's from");
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "/etc/%s", files[i]);
		s = add(p, SBX_STEP_BIND, path);
		if (!s)
			return -E2BIG;
		s->flags = SBX_BIND_FILE | SBX_BIND_RO;
		snprintf(s->src, sizeof(s->src), "%s/%s", in->files_dir, files[i]);
	}
	if (in->nmasks > SBX_MASKS_MAX)
		return ERR("%zu host files to hide; at most %d", in->nmasks, SBX_MASKS_MAX);
	/* a mask ending in '/' is a directory */
	for (size_t i = 0; i < in->nmasks; i++) {
		size_t n = strlen(in->masks[i]);
		bool dir = n > 1 && in->masks[i][n - 1] == '/';

		if (in->masks[i][0] != '/' || n >= PATH_MAX)
			return ERR("mask '%s' is not an absolute path", in->masks[i]);
		if (!overlaid(in, in->masks[i]))
			continue;
		s = add(p, dir ? SBX_STEP_MASK_DIR : SBX_STEP_MASK_FILE, in->masks[i]);
		if (!s)
			return -E2BIG;
		if (dir)
			s->target[n - 1] = '\0';
	}
	for (size_t i = 0; i < in->nhidden; i++) {
		if (!overlaid(in, in->hidden[i]))
			continue;
		s = add(p, SBX_STEP_MASK_DIR, in->hidden[i]);
		if (!s)
			return -E2BIG;
	}
	return 0;
}

static int ws_steps(const struct sbx_confine_in *in, struct sbx_plan *p, char *err,
		    size_t errlen)
{
	const struct sbx_workspace *sorted[SBX_WORKSPACES_MAX];
	struct sbx_step *s;
	int ret;

	if (in->nws > SBX_WORKSPACES_MAX)
		return ERR("%zu workspaces; at most %d", in->nws, SBX_WORKSPACES_MAX);
	for (size_t i = 0; i < in->nws; i++) {
		ret = check_workspace(in, &in->ws[i], err, errlen);
		if (ret)
			return ret;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(in->ws[i].path, in->ws[j].path))
				return ERR("workspace %s is given twice", in->ws[i].path);
		sorted[i] = &in->ws[i];
	}
	qsort(sorted, in->nws, sizeof(sorted[0]), cmp_ws);
	for (size_t i = 0; i < in->nws; i++) {
		s = add(p, SBX_STEP_WORKSPACE, sorted[i]->path);
		if (!s)
			return -E2BIG;
		s->ws = (int)(sorted[i] - in->ws);
		s->flags = sorted[i]->ro ? SBX_BIND_RO : 0;
		snprintf(s->src, sizeof(s->src), "%s", sorted[i]->path);
	}
	return 0;
}

int sbx_plan_build(const struct sbx_confine_in *in, struct sbx_plan *p, char *err,
		   size_t errlen)
{
	int ret;

	memset(p, 0, offsetof(struct sbx_plan, step));
	if (!in->name || !*in->name || strlen(in->name) >= sizeof(p->name))
		return ERR("a sandbox name of 1 to %zu bytes is needed", sizeof(p->name) - 1);
	if (!in->dir || in->dir[0] != '/' || strlen(in->dir) > PATH_MAX - 64)
		return ERR("the sandbox's directory must be an absolute path shorter than %d",
			   PATH_MAX - 64);
	if (!in->files_dir || in->files_dir[0] != '/')
		return ERR("the sandbox's files directory must be an absolute path");
	if (in->id_base < SBX_IDS_PER_SANDBOX || in->id_base % SBX_IDS_PER_SANDBOX)
		return ERR("id base %u is not a block of %u ids above the host's first",
			   in->id_base, SBX_IDS_PER_SANDBOX);
	snprintf(p->name, sizeof(p->name), "%s", in->name);
	p->id_base = in->id_base;
	snprintf(p->root, sizeof(p->root), "%s/root", in->dir);
	snprintf(p->stage, sizeof(p->stage), "%s/stage", in->dir);
	snprintf(p->layers, sizeof(p->layers), "%s", in->dir);
	snprintf(p->empty, sizeof(p->empty), "%s/empty", in->dir);
	ret = sys_steps(in, p);
	if (!ret)
		ret = fs_steps(in, p);
	if (!ret)
		ret = hide_steps(in, p, err, errlen);
	if (!ret)
		ret = ws_steps(in, p, err, errlen);
	if (ret == -E2BIG)
		return ERR("the sandbox's root needs more than %d mounts", SBX_PLAN_MAX);
	return ret;
}

void sbx_step_describe(const struct sbx_step *s, char *out, size_t len)
{
	static const char *const kinds[] = {
		[SBX_STEP_SYMLINK] = "symlink",
		[SBX_STEP_TMPFS] = "tmpfs",	     [SBX_STEP_OVERLAY] = "overlay",
		[SBX_STEP_BIND] = "bind",	     [SBX_STEP_WORKSPACE] = "workspace",
		[SBX_STEP_MASK_FILE] = "mask-file", [SBX_STEP_MASK_DIR] = "mask-dir",
		[SBX_STEP_DEVPTS] = "devpts",	     [SBX_STEP_PROC] = "proc",
		[SBX_STEP_SYSFS] = "sysfs",
	};

	snprintf(out, len, "%s %s%s%s%s", kinds[s->kind], s->target, s->src[0] ? " " : "", s->src,
		 s->flags & SBX_BIND_RO ? " ro" : "");
}
