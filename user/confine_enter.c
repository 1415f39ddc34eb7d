// SPDX-License-Identifier: MIT
/* Joining a running sandbox (include/sbx/confine.h): what `sbx run` and `sbx exec` do. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sbx/confine.h>
#include <sbx/fsutil.h>

#define FAIL(...) (snprintf(err, errlen, __VA_ARGS__), -errno)

/* mkdir -p inside the sandbox; the last directory, when made, belongs to @ids. */
static int make_home(const char *home, const struct sbx_enter_ids *ids)
{
	char parent[PATH_MAX], *slash;
	struct stat st;
	int ret;

	if (!home || home[0] != '/' || stat(home, &st) == 0)
		return 0;
	snprintf(parent, sizeof(parent), "%s", home);
	slash = strrchr(parent, '/');
	*slash = '\0';
	ret = parent[0] ? sbx_mkdir_p(parent, 0755) : 0;
	if (ret)
		return ret;
	if (mkdir(home, 0700) && errno != EEXIST)
		return -errno;
	return lchown(home, ids->uid, ids->gid) ? -errno : 0;
}

int sbx_enter_apply(int pidfd, int cgroup_procs_fd, const struct sbx_enter_ids *ids,
		    const char *home, const char *cwd, char *err, size_t errlen)
{
	int ret;

	if (write(cgroup_procs_fd, "0", 1) != 1)
		return FAIL("cannot join the sandbox's cgroup: %s", strerror(errno));
	if (setns(pidfd, CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWUSER |
				 CLONE_NEWNS))
		return FAIL("cannot join the sandbox's namespaces: %s", strerror(errno));
	/* the sandbox's root first: what it makes is the sandbox's, and it may chown */
	if (setgroups(0, NULL) || setresgid(0, 0, 0) || setresuid(0, 0, 0))
		return FAIL("cannot become the sandbox's root: %s", strerror(errno));
	ret = make_home(home, ids);
	if (ret) {
		errno = -ret;
		return FAIL("cannot make the home directory %s in the sandbox: %s", home,
			    strerror(-ret));
	}
	if (setresgid(ids->gid, ids->gid, ids->gid) ||
	    setresuid(ids->uid, ids->uid, ids->uid))
		return FAIL("cannot become uid %u in the sandbox: %s", (unsigned)ids->uid,
			    strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return FAIL("cannot set no_new_privs: %s", strerror(errno));
	if ((!cwd || chdir(cwd)) && (!home || chdir(home)) && chdir("/"))
		return FAIL("cannot enter / in the sandbox: %s", strerror(errno));
	return 0;
}
