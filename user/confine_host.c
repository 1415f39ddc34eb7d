// SPDX-License-Identifier: MIT
/*
 * The host facts a sandbox's root plan is built from, and the user namespaces that idmap it.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sbx/confine.h>
#include "fsutil.h"

#define SCAN_ENTRIES_MAX 200000 /* entries of /etc looked at before giving up */

static const char *const sys_names[] = { "usr", "bin", "sbin", "lib", "lib32", "lib64",
					 "libx32", "etc", "opt" };

int sbx_sys_scan(const char *hostroot, struct sbx_sys_entry *out, size_t max, size_t *n)
{
	char path[PATH_MAX];
	struct stat st;

	*n = 0;
	for (size_t i = 0; i < sizeof(sys_names) / sizeof(sys_names[0]); i++) {
		struct sbx_sys_entry *e;

		snprintf(path, sizeof(path), "%s/%s", hostroot ? hostroot : "", sys_names[i]);
		if (lstat(path, &st))
			continue;
		if (!S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode))
			continue;
		if (*n == max)
			return -E2BIG;
		e = &out[(*n)++];
		memset(e, 0, sizeof(*e));
		snprintf(e->name, sizeof(e->name), "%s", sys_names[i]);
		e->kind = S_ISDIR(st.st_mode) ? SBX_SYS_DIR : SBX_SYS_LINK;
		if (e->kind == SBX_SYS_LINK) {
			ssize_t len = readlink(path, e->link, sizeof(e->link) - 1);

			if (len <= 0) {
				(*n)--;
				continue;
			}
			e->link[len] = '\0';
		}
	}
	return 0;
}

/* nftw has no user pointer: one scan at a time (sbxd starts inits one at a time). */
static struct {
	char **v;
	size_t n, max, seen;
	int err;
} scan;

static int scan_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	bool dir = type == FTW_D, hide;
	size_t len;

	if (++scan.seen > SCAN_ENTRIES_MAX) {
		scan.err = -E2BIG;
		return FTW_STOP;
	}
	if (type == FTW_SL || type == FTW_NS || type == FTW_DNR)
		return FTW_CONTINUE;
	/* a directory others may not list or enter, or a file others may not read */
	hide = dir ? (st->st_mode & (S_IROTH | S_IXOTH)) != (S_IROTH | S_IXOTH) :
		     !(st->st_mode & S_IROTH) || !S_ISREG(st->st_mode);
	if (!hide || ftw->level == 0)
		return FTW_CONTINUE;
	if (scan.n == scan.max) {
		scan.err = -E2BIG;
		return FTW_STOP;
	}
	len = strlen(path);
	scan.v[scan.n] = malloc(len + 2);
	if (!scan.v[scan.n]) {
		scan.err = -ENOMEM;
		return FTW_STOP;
	}
	snprintf(scan.v[scan.n++], len + 2, "%s%s", path, dir ? "/" : "");
	return dir ? FTW_SKIP_SUBTREE : FTW_CONTINUE;
}

int sbx_masks_scan(const char *dir, char ***out, size_t *n, size_t max)
{
	memset(&scan, 0, sizeof(scan));
	scan.v = calloc(max ? max : 1, sizeof(char *));
	if (!scan.v)
		return -ENOMEM;
	scan.max = max;
	if (nftw(dir, scan_one, 32, FTW_PHYS | FTW_MOUNT | FTW_ACTIONRETVAL) < 0 && !scan.err &&
	    errno != ENOENT)
		scan.err = -errno;
	if (scan.err) {
		sbx_masks_free(scan.v, scan.n);
		return scan.err;
	}
	*out = scan.v;
	*n = scan.n;
	return 0;
}

void sbx_masks_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int write_map(pid_t pid, const char *file, const char *map)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	return sbx_write_str(path, map);
}

/*
 * A child makes the namespace and waits; we write its maps and keep an fd of it. The child
 * only makes syscalls: sbxd has threads.
 */
int sbx_userns_open(const char *uid_map, const char *gid_map)
{
	int up[2], down[2], fd = -1, ret;
	char path[64], c = 0;
	pid_t pid;

	if (pipe2(up, O_CLOEXEC))
		return -errno;
	if (pipe2(down, O_CLOEXEC)) {
		ret = -errno;
		close(up[0]);
		close(up[1]);
		return ret;
	}
	pid = fork();
	if (pid == 0) {
		char r;

		close(down[1]);
		close(up[0]);
		r = unshare(CLONE_NEWUSER) ? 'E' : 'U';

		if (write(up[1], &r, 1) != 1 || r != 'U')
			_exit(1);
		/* until the parent has what it needs: its end closes */
		while (read(down[0], &r, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	ret = pid < 0 ? -errno : 0;
	if (!ret && (read(up[0], &c, 1) != 1 || c != 'U'))
		ret = -EPERM;
	if (!ret)
		ret = write_map(pid, "uid_map", uid_map);
	if (!ret)
		ret = write_map(pid, "gid_map", gid_map);
	if (!ret) {
		snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			ret = -errno;
	}
	close(down[1]);
	close(up[0]);
	if (pid > 0)
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	return ret ? ret : fd;
}
