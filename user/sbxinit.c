// SPDX-License-Identifier: MIT
/*
 * A sandbox's init: the first process of its pid namespace, started by sbxd.
 *
 *   sbxd --fork--> P: join the cgroup and the netns, unshare mount + pid namespaces
 *                  P --fork--> C (pid 1 inside): build the root (sbx_plan_apply), pivot,
 *                              become the sandbox's root, say ready, then reap and forward
 *                  P: report C's pid, exit
 *
 * Both children only make system calls and format strings: sbxd has threads. C is a copy of
 * sbxd's memory, so it is made non-dumpable: nothing in the sandbox may ptrace or read it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sbx/confine.h>
#include "sbxinit.h"

#define READY_TIMEOUT_MS 20000
#define REPORT_MAX 1024

static void report(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void report(int fd, const char *fmt, ...)
{
	char msg[REPORT_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(msg) - 2)
		n = (int)sizeof(msg) - 2;
	msg[n++] = '\n';
	if (write(fd, msg, (size_t)n) < 0)
		return;
}

static void __attribute__((noreturn)) init_loop(void)
{
	sigset_t all;

	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&all, &si);

		if (sig == SIGCHLD) {
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
		} else if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP || sig == SIGQUIT ||
			   sig == SIGUSR1 || sig == SIGUSR2) {
			kill(-1, sig); /* every process of the sandbox but us */
		}
	}
}

/* The field @n fields after the one @p starts (space-separated), or NULL. */
static char *skip_fields(char *p, int n)
{
	for (; n > 0 && p; n--) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	return p && *p ? p : NULL;
}

/*
 * Field @field (1-based, 3 or more) of /proc/@pid/stat (@pid 0: our own), read into @buf:
 * where it starts, or NULL. Fields are counted after the command name, which may hold
 * spaces and parentheses.
 */
static char *stat_field(pid_t pid, int field, char *buf, size_t len)
{
	char path[64], *p;
	ssize_t n;
	int fd;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/stat");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the end of field 2 */
	return p && p[1] ? skip_fields(p + 2, field - 3) : NULL;
}

/*
 * ps in the sandbox shows pid 1's command line: sbxd's, since the init is its fork. Blank it
 * to the init's own name, in this copy of sbxd's memory, so sbxd's arguments (its config
 * path...) are not on show. PR_SET_MM would need CAP_SYS_RESOURCE, which containers drop.
 * Fields 48 and 49 of /proc/self/stat are where the arguments are.
 */
static void set_cmdline(void)
{
	static const char name[] = "sbx-init";
	char buf[2048], *p = stat_field(0, 48, buf, sizeof(buf));
	unsigned long long start, end;

	if (!p)
		return;
	start = strtoull(p, &p, 10);
	end = strtoull(p, NULL, 10);
	if (!start || end <= start + sizeof(name))
		return;
	memset((void *)(uintptr_t)start, 0, (size_t)(end - start));
	memcpy((void *)(uintptr_t)start, name, sizeof(name));
}

static void close_all_but(int keep)
{
	if (keep > 3)
		syscall(SYS_close_range, 3U, (unsigned)keep - 1, 0U);
	syscall(SYS_close_range, (unsigned)keep + 1, ~0U, 0U);
}

static void __attribute__((noreturn)) init_main(const struct sbx_init_args *a, int rep)
{
	char err[512] = "";
	int ret, null;

	prctl(PR_SET_DUMPABLE, 0);
	set_cmdline();
	ret = sbx_plan_apply(a->plan, a->ws, a->nws, a->userns_fd, a->ws_userns_fd, err,
			     sizeof(err));
	if (ret) {
		report(rep, "S %d %s", -ret, err);
		_exit(1);
	}
	prctl(PR_SET_DUMPABLE, 0); /* again: changing ids may have reset it */
	prctl(PR_SET_NAME, "sbx-init");
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0) {
		report(rep, "S %d cannot open /dev/null in the sandbox: %s", errno,
		       strerror(errno));
		_exit(1);
	}
	close_all_but(rep);
	report(rep, "R");
	close(rep);
	init_loop();
}

static void __attribute__((noreturn)) first_child(const struct sbx_init_args *a, int cgfd,
						  int netfd, int rep)
{
	pid_t pid;

	if (write(cgfd, "0", 1) != 1) {
		report(rep, "S %d cannot join the sandbox's cgroup: %s", errno, strerror(errno));
		_exit(1);
	}
	if (setns(netfd, CLONE_NEWNET) || unshare(CLONE_NEWNS | CLONE_NEWPID)) {
		report(rep, "S %d cannot make the sandbox's namespaces: %s", errno,
		       strerror(errno));
		_exit(1);
	}
	close(cgfd);
	close(netfd);
	pid = fork();
	if (pid == 0)
		init_main(a, rep);
	if (pid < 0)
		report(rep, "S %d fork: %s", errno, strerror(errno));
	else
		report(rep, "P %d", (int)pid);
	_exit(pid < 0);
}

/* Read the children's reports until ready, failed, or silent for too long. */
static int wait_ready(int fd, pid_t *pid, char *err, size_t errlen)
{
	char buf[REPORT_MAX * 2 + 1];
	size_t len = 0;
	struct timespec t0, now;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	*pid = 0;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long ms;
		ssize_t n;
		char *line, *nl;

		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = READY_TIMEOUT_MS - ((now.tv_sec - t0.tv_sec) * 1000 +
					 (now.tv_nsec - t0.tv_nsec) / 1000000);
		if (ms <= 0 || poll(&p, 1, (int)ms) == 0) {
			snprintf(err, errlen, "the sandbox's init was not ready within %d s",
				 READY_TIMEOUT_MS / 1000);
			return -ETIMEDOUT;
		}
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "the sandbox's init exited while starting");
			return -EIO;
		}
		len += (size_t)n;
		buf[len] = '\0';
		while ((nl = strchr(buf, '\n'))) {
			*nl = '\0';
			line = buf;
			if (line[0] == 'P')
				*pid = (pid_t)atoi(line + 2);
			else if (line[0] == 'R')
				return *pid > 0 ? 0 : -EIO;
			else if (line[0] == 'S') {
				char *sp = strchr(line + 2, ' ');
				int e = atoi(line + 2);

				snprintf(err, errlen, "%s", sp ? sp + 1 : "unknown error");
				return e > 0 ? -e : -EIO;
			}
			len -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, len + 1);
		}
		if (len == sizeof(buf) - 1)
			len = 0;
	}
}

/* Detached copies of the workspaces' mounts, made here in the host's mount namespace. */
static int detach_workspaces(const struct sbx_init_args *a, struct sbx_init_args *copy,
			     struct sbx_workspace *ws, char *err, size_t errlen)
{
	*copy = *a;
	copy->ws = ws;
	copy->nws = 0;
	if (a->nws > SBX_WORKSPACES_MAX)
		return snprintf(err, errlen, "too many workspaces"), -E2BIG;
	for (size_t i = 0; i < a->nws; i++) {
		ws[i] = a->ws[i];
		ws[i].fd = open_tree(a->ws[i].fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
							 AT_EMPTY_PATH);
		if (ws[i].fd < 0) {
			int ret = -errno;

			snprintf(err, errlen, "cannot take a copy of workspace %s: %s",
				 a->ws[i].path, strerror(errno));
			for (size_t j = 0; j < i; j++)
				close(ws[j].fd);
			return ret;
		}
		copy->nws = i + 1;
	}
	return 0;
}

int sbx_init_start(const struct sbx_init_args *a, pid_t *out, char *err, size_t errlen)
{
	struct sbx_workspace ws[SBX_WORKSPACES_MAX];
	struct sbx_init_args copy;
	char path[PATH_MAX + 32];
	int cgfd, netfd, p[2], ret;
	pid_t first, init = 0;

	snprintf(path, sizeof(path), "%s/cgroup.procs", a->cgroup);
	cgfd = open(path, O_WRONLY | O_CLOEXEC);
	if (cgfd < 0)
		return snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno)), -errno;
	netfd = open(a->netns, O_RDONLY | O_CLOEXEC);
	if (netfd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot open %s: %s", a->netns, strerror(errno));
		close(cgfd);
		return ret;
	}
	if (pipe2(p, O_CLOEXEC)) {
		ret = -errno;
		close(cgfd);
		close(netfd);
		return ret;
	}
	ret = detach_workspaces(a, &copy, ws, err, errlen);
	if (ret) {
		close(p[0]);
		close(p[1]);
		close(cgfd);
		close(netfd);
		return ret;
	}
	first = fork();
	if (first == 0) {
		close(p[0]);
		first_child(&copy, cgfd, netfd, p[1]);
	}
	for (size_t i = 0; i < copy.nws; i++)
		close(ws[i].fd);
	close(p[1]);
	close(cgfd);
	close(netfd);
	if (first < 0) {
		ret = -errno;
		close(p[0]);
		snprintf(err, errlen, "fork: %s", strerror(-ret));
		return ret;
	}
	ret = wait_ready(p[0], &init, err, errlen);
	close(p[0]);
	while (waitpid(first, NULL, 0) < 0 && errno == EINTR)
		;
	if (ret && init > 0)
		kill(init, SIGKILL);
	*out = ret ? 0 : init;
	return ret;
}

int sbx_proc_starttime(pid_t pid, unsigned long long *out)
{
	char buf[1024], *state = stat_field(pid, 3, buf, sizeof(buf)), *start;

	if (!state)
		return pid > 0 && kill(pid, 0) && errno == ESRCH ? -ESRCH : -EIO;
	/* a zombie is gone for us: its namespaces cannot be joined any more */
	if (*state == 'Z' || *state == 'X')
		return -ESRCH;
	start = skip_fields(state, 22 - 3);
	if (!start)
		return -EIO;
	*out = strtoull(start, NULL, 10);
	return 0;
}
