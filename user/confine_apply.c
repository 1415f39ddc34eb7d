// SPDX-License-Identifier: MIT
/*
 * Carrying out a sandbox root's plan (include/sbx/confine.h), in the sandbox's init.
 *
 * Every path inside the new root is resolved with openat2(RESOLVE_IN_ROOT) from the root's
 * fd, and every mount goes onto an fd with the new mount API: a symlink the sandbox left in
 * its own /home or upper layer resolves inside the sandbox, never on the host.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>

#include <sbx/confine.h>

#define FAIL(ret, ...) (snprintf(err, errlen, __VA_ARGS__), (ret))

static int open_in(int rootfd, const char *path, int flags)
{
	struct open_how how = { .flags = (uint64_t)(flags | O_CLOEXEC),
				.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	const char *rel = path[0] == '/' ? path + 1 : path;
	int fd = (int)syscall(SYS_openat2, rootfd, *rel ? rel : ".", &how, sizeof(how));

	return fd < 0 ? -errno : fd;
}

/* mkdir -p @path inside the root; returns an O_PATH fd of it. */
static int mkpath(int rootfd, const char *path, uid_t owner)
{
	char buf[PATH_MAX];
	int fd = -1, ret;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1;; p++) {
		bool last = *p == '\0';

		if (*p != '/' && !last)
			continue;
		*p = '\0';
		if (fd >= 0)
			close(fd);
		fd = open_in(rootfd, buf, O_PATH | O_DIRECTORY);
		if (fd == -ENOENT) {
			char *slash = strrchr(buf, '/');
			int parent;

			*slash = '\0';
			parent = open_in(rootfd, buf[0] ? buf : "/", O_PATH | O_DIRECTORY);
			*slash = '/';
			if (parent < 0)
				return parent;
			ret = mkdirat(parent, slash + 1, 0755) && errno != EEXIST ? -errno : 0;
			if (!ret && fchownat(parent, slash + 1, owner, owner, AT_SYMLINK_NOFOLLOW))
				ret = -errno;
			close(parent);
			if (ret)
				return ret;
			fd = open_in(rootfd, buf, O_PATH | O_DIRECTORY);
		}
		if (fd < 0 || last)
			return fd;
		*p = '/';
	}
}

/* A regular file at @path inside the root (made one if it is anything else); O_PATH fd. */
static int mkfile(int rootfd, const char *path, uid_t owner)
{
	char dir[PATH_MAX], *slash;
	struct stat st;
	int parent, fd;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	*slash = '\0';
	parent = mkpath(rootfd, dir[0] ? dir : "/", owner);
	if (parent < 0)
		return parent;
	if (fstatat(parent, slash + 1, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode))
		unlinkat(parent, slash + 1, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0);
	fd = openat(parent, slash + 1, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd >= 0) {
		close(fd);
		fd = openat(parent, slash + 1, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	}
	fd = fd < 0 ? -errno : fd;
	close(parent);
	return fd;
}

static int attach(int mfd, int target)
{
	int ret = move_mount(mfd, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);

	return ret ? -errno : 0;
}

/* A new filesystem of @type with "k=v,k=v" options, mounted with @attr onto @target. */
static int fresh(const char *type, const char *opts, unsigned attr, int target)
{
	char buf[256], *save = NULL, *kv;
	int fs = fsopen(type, FSOPEN_CLOEXEC), mfd, ret = 0;

	if (fs < 0)
		return -errno;
	snprintf(buf, sizeof(buf), "%s", opts ? opts : "");
	for (kv = strtok_r(buf, ",", &save); kv && !ret; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');

		if (eq)
			*eq = '\0';
		ret = fsconfig(fs, eq ? FSCONFIG_SET_STRING : FSCONFIG_SET_FLAG, kv,
			       eq ? eq + 1 : NULL, 0) ? -errno : 0;
	}
	if (!ret)
		ret = fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) ? -errno : 0;
	mfd = ret ? -1 : fsmount(fs, FSMOUNT_CLOEXEC, attr);
	if (!ret && mfd < 0)
		ret = -errno;
	close(fs);
	if (!ret)
		ret = attach(mfd, target);
	if (mfd >= 0)
		close(mfd);
	return ret;
}

/* A detached copy of the mount at @dfd/@path with @attr set, idmapped when @userns >= 0. */
static int clone_tree(int dfd, const char *path, unsigned attr, int userns)
{
	struct mount_attr a = { .attr_set = attr, .userns_fd = (uint64_t)userns };
	int fd = open_tree(dfd, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
				       (path[0] ? 0 : AT_EMPTY_PATH));

	if (fd < 0)
		return -errno;
	if (userns >= 0)
		a.attr_set |= MOUNT_ATTR_IDMAP;
	if (a.attr_set && mount_setattr(fd, "", AT_EMPTY_PATH, &a, sizeof(a))) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	return fd;
}

static int bind_to(int mfd, int target)
{
	int ret;

	if (mfd < 0)
		return mfd;
	ret = attach(mfd, target);
	close(mfd);
	return ret;
}

/*
 * A workspace: @fd is a detached copy of its mount, made by sbxd in the host's mount
 * namespace (open_tree cannot copy a mount of another namespace, and ours is a copy).
 */
static int workspace(int fd, unsigned ro, int userns, int target)
{
	struct mount_attr a = { .attr_set = ro | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
					    MOUNT_ATTR_IDMAP,
				.userns_fd = (uint64_t)userns };

	if (mount_setattr(fd, "", AT_EMPTY_PATH, &a, sizeof(a)))
		return -errno;
	return attach(fd, target);
}

/* The host directory @src, idmapped, as the lower layer of an overlay on @target. */
static int overlay(const struct sbx_plan *p, const struct sbx_step *s, int userns, int target)
{
	char stage[PATH_MAX], upper[PATH_MAX], work[PATH_MAX], opts[PATH_MAX * 3 + 64];
	const char *name = s->target + 1;
	struct stat st;
	int lower, ret;

	if (stat(s->src, &st))
		return -errno;
	snprintf(stage, sizeof(stage), "%s/%s", p->stage, name);
	snprintf(upper, sizeof(upper), "%s/fs/%s", p->layers, name);
	snprintf(work, sizeof(work), "%s/work/%s", p->layers, name);
	if ((mkdir(stage, 0700) && errno != EEXIST) || (mkdir(upper, 0755) && errno != EEXIST) ||
	    (mkdir(work, 0700) && errno != EEXIST))
		return -errno;
	/* the overlay's root takes the upper directory's owner and mode: the host's, idmapped */
	if (chown(upper, p->id_base + st.st_uid, p->id_base + st.st_gid) ||
	    chmod(upper, st.st_mode & 07777))
		return -errno;
	lower = clone_tree(AT_FDCWD, s->src, MOUNT_ATTR_RDONLY, userns);
	if (lower < 0)
		return lower;
	ret = move_mount(lower, "", AT_FDCWD, stage, MOVE_MOUNT_F_EMPTY_PATH) ? -errno : 0;
	close(lower);
	if (ret)
		return ret;
	snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s,workdir=%s,index=off,xino=off",
		 stage, upper, work);
	ret = fresh("overlay", opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, target);
	/* the overlay holds the layer; its staging mount goes */
	umount2(stage, MNT_DETACH);
	return ret;
}

static int step(const struct sbx_plan *p, const struct sbx_step *s, int rootfd,
		const struct sbx_workspace *ws, size_t nws, int userns, int ws_userns)
{
	char opts[128];
	bool file = s->kind == SBX_STEP_MASK_FILE || (s->flags & SBX_BIND_FILE);
	unsigned ro = s->flags & SBX_BIND_RO ? MOUNT_ATTR_RDONLY : 0;
	uid_t root = p->id_base;
	int target, ret;

	if (s->kind == SBX_STEP_SYMLINK) {
		char dir[PATH_MAX], *slash;

		snprintf(dir, sizeof(dir), "%s", s->target);
		slash = strrchr(dir, '/');
		*slash = '\0';
		target = mkpath(rootfd, dir[0] ? dir : "/", root);
		if (target < 0)
			return target;
		ret = symlinkat(s->src, target, slash + 1) && errno != EEXIST ? -errno : 0;
		if (!ret && fchownat(target, slash + 1, root, root, AT_SYMLINK_NOFOLLOW))
			ret = -errno;
		close(target);
		return ret;
	}
	target = file ? mkfile(rootfd, s->target, root) : mkpath(rootfd, s->target, root);
	if (target < 0)
		return target;
	switch (s->kind) {
	case SBX_STEP_TMPFS:
		snprintf(opts, sizeof(opts), "%s,uid=%u,gid=%u", s->src, root, root);
		ret = fresh("tmpfs", opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, target);
		break;
	case SBX_STEP_OVERLAY:
		ret = overlay(p, s, userns, target);
		break;
	case SBX_STEP_BIND:
		/* the character devices keep their nodes usable; nothing else needs dev */
		ret = bind_to(clone_tree(AT_FDCWD, s->src,
					 ro | MOUNT_ATTR_NOSUID |
						 (strncmp(s->target, "/dev/", 5) ? MOUNT_ATTR_NODEV :
										   0),
					 -1),
			      target);
		break;
	case SBX_STEP_WORKSPACE:
		if (s->ws < 0 || (size_t)s->ws >= nws || ws[s->ws].fd < 0) {
			ret = -EBADF;
			break;
		}
		ret = workspace(ws[s->ws].fd, ro, ws_userns >= 0 ? ws_userns : userns, target);
		break;
	case SBX_STEP_MASK_FILE:
		ret = bind_to(clone_tree(AT_FDCWD, p->empty,
					 MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
					 -1),
			      target);
		break;
	case SBX_STEP_MASK_DIR:
		ret = fresh("tmpfs", "mode=000,size=4k",
			    MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
				    MOUNT_ATTR_NOEXEC,
			    target);
		break;
	case SBX_STEP_DEVPTS:
		/* gid 5 inside is tty */
		snprintf(opts, sizeof(opts), "newinstance,ptmxmode=0666,mode=0620,gid=%u",
			 root + 5);
		ret = fresh("devpts", opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, target);
		break;
	case SBX_STEP_PROC:
		ret = fresh("proc", NULL,
			    MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, target);
		break;
	case SBX_STEP_SYSFS:
		ret = fresh("sysfs", NULL,
			    MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
				    MOUNT_ATTR_NOEXEC,
			    target);
		break;
	default:
		ret = -EINVAL;
	}
	close(target);
	return ret;
}

static int make_root(const struct sbx_plan *p)
{
	char opts[64];
	int fd;

	if ((mkdir(p->root, 0700) && errno != EEXIST) || (mkdir(p->stage, 0700) && errno != EEXIST))
		return -errno;
	fd = open(p->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	snprintf(opts, sizeof(opts), "mode=755,uid=%u,gid=%u", p->id_base, p->id_base);
	if (fresh("tmpfs", opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, fd)) {
		close(fd);
		return -errno;
	}
	close(fd);
	/* the fd of the tmpfs now mounted there, not of the directory under it */
	fd = open(p->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Into the new root, then the sandbox's user namespace and a mount namespace it owns. */
static int enter_root(const struct sbx_plan *p, int rootfd, int userns, char *err,
		      size_t errlen)
{
	if (fchdir(rootfd) || syscall(SYS_pivot_root, ".", "."))
		return FAIL(-errno, "cannot make %s the sandbox's root: %s", p->root,
			    strerror(errno));
	/* the host's tree, stacked under ours by pivot_root(".", "."), goes away */
	if (umount2(".", MNT_DETACH) || chdir("/"))
		return FAIL(-errno, "cannot detach the host's root: %s", strerror(errno));
	if (setns(userns, CLONE_NEWUSER))
		return FAIL(-errno, "cannot enter the sandbox's user namespace: %s",
			    strerror(errno));
	if (setgroups(0, NULL) || setresgid(0, 0, 0) || setresuid(0, 0, 0))
		return FAIL(-errno, "cannot become the sandbox's root: %s", strerror(errno));
	/* a namespace owned by the sandbox's: every mount above is locked for its root */
	if (unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS))
		return FAIL(-errno, "cannot unshare the sandbox's namespaces: %s",
			    strerror(errno));
	if (sethostname(p->name, strlen(p->name)))
		return FAIL(-errno, "cannot set the hostname: %s", strerror(errno));
	return 0;
}

int sbx_plan_apply(const struct sbx_plan *p, const struct sbx_workspace *ws, size_t nws,
		   int userns, int ws_userns, char *err, size_t errlen)
{
	char what[PATH_MAX * 2 + 32];
	int rootfd, ret;

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return FAIL(-errno, "cannot make mounts private: %s", strerror(errno));
	rootfd = make_root(p);
	if (rootfd < 0)
		return FAIL(rootfd, "cannot mount the sandbox's root on %s: %s", p->root,
			    strerror(-rootfd));
	for (size_t i = 0; i < p->n; i++) {
		ret = step(p, &p->step[i], rootfd, ws, nws, userns, ws_userns);
		if (ret) {
			sbx_step_describe(&p->step[i], what, sizeof(what));
			close(rootfd);
			if (p->step[i].kind == SBX_STEP_WORKSPACE && ret == -EINVAL)
				return FAIL(ret, "cannot mount workspace %s: its filesystem "
					    "cannot be id-mapped (%s)",
					    p->step[i].src, strerror(-ret));
			return FAIL(ret, "cannot set up the sandbox's root (%s): %s", what,
				    strerror(-ret));
		}
	}
	ret = enter_root(p, rootfd, userns, err, errlen);
	close(rootfd);
	return ret;
}
