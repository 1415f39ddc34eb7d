// SPDX-License-Identifier: MIT
/* cgroup v2 helpers; see cgroup.h. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "fsutil.h"

#define STOP_POLL_US 10000
#define CGROUP_PROCS_MAX (4u << 20) /* bytes of a cgroup.procs we read */
#define KILL_ROUNDS 50		    /* cgroup.kill fallback: kill-everyone passes */

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

static int cg_file(const char *cg, const char *file, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/%s", cg, file);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int sbx_cgroup_nprocs(const char *cg)
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

bool sbx_cgroup_populated(const char *cg)
{
	char path[PATH_MAX + 16], *text = NULL;
	bool populated = false;

	if (cg_file(cg, "cgroup.events", path, sizeof(path)) ||
	    sbx_read_file(path, 4096, &text, NULL))
		return sbx_cgroup_nprocs(cg) > 0;
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
	for (int round = 0; round < KILL_ROUNDS && sbx_cgroup_nprocs(cg) > 0; round++) {
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

int sbx_cgroup_kill(const char *cg)
{
	char path[PATH_MAX + 16];
	int err;

	if (!sbx_cgroup_populated(cg))
		return 0;
	err = cg_file(cg, "cgroup.kill", path, sizeof(path));
	if (!err)
		err = sbx_write_str(path, "1");
	if (err == -ENOENT) {
		cgroup_kill_each(cg);
		return 0;
	}
	return err;
}

int sbx_cgroup_stop(const char *cg, int ms)
{
	int err = sbx_cgroup_kill(cg);

	if (err)
		return err;
	for (int i = 0; i < ms * 1000 / STOP_POLL_US; i++) {
		if (!sbx_cgroup_populated(cg))
			return 0;
		usleep(STOP_POLL_US);
	}
	return -ETIMEDOUT;
}

int sbx_cgroup_of_pid(pid_t pid, const char *cg_root, const char *mnt_root, char *out,
		      size_t len)
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

