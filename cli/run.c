// SPDX-License-Identifier: MIT
/*
 * `sbx run`, `exec`, `ls`, `stop`, `rm` and `attach`: sandboxes. sbxd makes and keeps the
 * sandbox (cgroup, network namespace, veth, BPF); entering it happens here, in a child of
 * this command:
 *
 *   join the cgroup -> join the netns -> own mount namespace (resolv.conf, hosts, bpffs
 *   hidden, cgroupfs read-only, run dir hidden) -> no new privileges -> drop to the invoking
 *   user (SUDO_UID) or to root of a new user namespace that is nobody outside -> exec.
 *
 * The command never holds a capability in the host's user namespace and always runs in a user
 * namespace of its own, so it cannot undo any of that, nor ptrace processes outside. It never
 * shares our terminal as its controlling terminal either (TIOCSTI could type commands into the
 * shell that started sbx): with a terminal on stdin it gets a pseudo-terminal that we relay,
 * otherwise a session of its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <sbx/policy.h>
#include <sbx/sandbox.h>
#include <sbx/seccomp.h>
#include "sbx.h"

#define RELAY_BUF 16384
#define HIDE_MOUNTS_MAX 64 /* bpffs / cgroup mounts we handle in a sandbox's mount ns */
#define ENTER_ERR_MAX 1024
#define DRAIN_ROUNDS 4096	/* reads of the pty after the command exited */
#define DRAIN_QUIET_MS 100

/* ---- help ------------------------------------------------------------------------------------ */

static void help_run(FILE *f)
{
	fprintf(f,
		"Usage: sbx run NAME [--] [CMD [ARG...]]\n"
		"\n"
		"Creates sandbox NAME if it does not exist, starts it, and runs CMD in it\n"
		"(default: $SHELL, or /bin/sh). sbx exits with CMD's status (128+N if signal\n"
		"N killed it); stdin, stdout and stderr pass through, and a terminal on stdin\n"
		"becomes the sandbox's terminal. A NAME that is a command on PATH, and no\n"
		"sandbox yet, must be followed by '--' (otherwise it is taken for a typo).\n"
		"\n"
		"In the sandbox: its own network namespace whose only way out is sbxd's proxy\n"
		"(HTTP_PROXY/HTTPS_PROXY point at it; everything else is redirected or dropped\n"
		"under the policy), /etc/resolv.conf pointing at sbxd's resolver, and\n"
		"host.docker.internal naming the host. CMD runs as the invoking user (SUDO_UID,\n"
		"unless 0) or as root of a user namespace of its own (nobody outside it), with\n"
		"no capability on the host. Needs root (run it with sudo). See sbx-run(1).\n");
}

static void help_exec(FILE *f)
{
	fprintf(f, "Usage: sbx exec NAME [--] CMD [ARG...]\n"
		   "\n"
		   "Runs CMD in the running sandbox NAME, like 'sbx run', but fails (exit 1)\n"
		   "when NAME does not exist or is stopped. Exits with CMD's status.\n");
}

static int help_ls(void)
{
	printf("Usage: sbx ls [--json]\n"
	       "\n"
	       "Lists the sandboxes: NAME STATUS ADDRESS GATEWAY PROCESSES CREATED.\n"
	       "STATUS is running (started; PROCESSES may be 0), stopped (sbx stop), or\n"
	       "attached (an existing cgroup, sbx attach). --json prints {\"sandboxes\":\n"
	       "[{\"name\", \"id\", \"status\", \"ip\", \"gateway\", \"attached\", \"cgroup\",\n"
	       "\"cgroup_id\", \"netns\", \"host_if\", \"stopped\", \"processes\", \"created\"}]}\n"
	       "(created: Unix time).\n");
	return EXIT_OK;
}

static int help_stop(void)
{
	printf("Usage: sbx stop [--json] NAME...\n"
	       "\n"
	       "Kills every process of each sandbox (cgroup.kill) and waits for them to exit.\n"
	       "The sandbox stays, still enforced: 'sbx run NAME' starts it again.\n"
	       "--json prints {\"sandbox\": {...}} for each name, as 'sbx ls --json' shows it.\n");
	return EXIT_OK;
}

static int help_rm(void)
{
	printf("Usage: sbx rm [-f|--force] [--json] NAME...\n"
	       "\n"
	       "Removes each sandbox: its enforcement, veth, network namespace and cgroup.\n"
	       "A sandbox with running processes is refused unless --force (which kills them).\n"
	       "For an attached cgroup, only sbx's enforcement is removed; its processes and\n"
	       "the cgroup are left alone. --json prints {\"name\": NAME} for each name.\n");
	return EXIT_OK;
}

static int help_attach(void)
{
	printf("Usage: sbx attach NAME (-c|--cgroup PATH | -p|--pid PID) [-j|--json]\n"
	       "\n"
	       "Applies the same egress enforcement to an existing cgroup v2 in the host's\n"
	       "network namespace: a CI job, a service, a container's cgroup. PATH is a cgroup\n"
	       "directory, absolute or relative to the cgroup2 mount; PID takes the cgroup of\n"
	       "that process. New connections of every process in it (and below it) go through\n"
	       "sbxd's proxy (HTTP_PROXY is not set for them: direct connections are\n"
	       "redirected); other packets are dropped. 'sbx rm NAME' undoes it.\n");
	return EXIT_OK;
}

/* ---- entering a sandbox --------------------------------------------------------------------- */

/* What the child needs, all resolved before fork so that its failures are only syscalls. */
struct enter {
	const char *name;
	char **cmd;
	int cgroup_procs_fd, netns_fd;
	int err_fd;  /* child -> parent: why entering failed; closed by a successful exec */
	int go_fd;   /* parent -> child: the user namespace's maps are written */
	int pty_slave; /* -1: no terminal on stdin */
	const cJSON *env, *mounts;
	char cwd[PATH_MAX];
	bool as_user; /* SUDO_UID: run as that user */
	uid_t uid;    /* host uid/gid the command runs as */
	gid_t gid;
	uid_t uid_in; /* and inside its user namespace */
	gid_t gid_in;
	char home[PATH_MAX], user[64];
};

/* Report from the child: kind 'S' setup failed, 'E' exec failed; then exit. */
static void child_fail(const struct enter *e, char kind, int err, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 4, 5)));

static void child_fail(const struct enter *e, char kind, int err, const char *fmt, ...)
{
	char msg[ENTER_ERR_MAX];
	va_list ap;
	int n;

	msg[0] = kind;
	msg[1] = (char)(err > 0 && err < 127 ? err : 1);
	va_start(ap, fmt);
	n = vsnprintf(msg + 2, sizeof(msg) - 2, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(msg) - 3)
		n = (int)sizeof(msg) - 3;
	if (write(e->err_fd, msg, (size_t)n + 2) < 0)
		_exit(126);
	_exit(kind == 'E' ? (err == ENOENT ? 127 : 126) : 125);
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;
	ssize_t n = (ssize_t)strlen(s);

	if (fd < 0)
		return -errno;
	if (write(fd, s, (size_t)n) != n)
		err = -errno;
	close(fd);
	return err;
}

struct mounts {
	char mp[HIDE_MOUNTS_MAX][PATH_MAX];
	int n;
	bool overflow;
};

static int collect_bpffs(const char *root, const char *mp, const char *fstype, void *arg)
{
	struct mounts *m = arg;

	if (strcmp(fstype, "bpf") != 0)
		return 0;
	if (m->n == HIDE_MOUNTS_MAX) {
		m->overflow = true;
		return 0;
	}
	snprintf(m->mp[m->n++], PATH_MAX, "%s", mp);
	return 0;
}

static int collect_cgroupfs(const char *root, const char *mp, const char *fstype, void *arg)
{
	struct mounts *m = arg;

	if (strcmp(fstype, "cgroup") && strcmp(fstype, "cgroup2") &&
	    strcmp(mp, "/sys/fs/cgroup") != 0)
		return 0;
	if (m->n == HIDE_MOUNTS_MAX) {
		m->overflow = true;
		return 0;
	}
	snprintf(m->mp[m->n++], PATH_MAX, "%s", mp);
	return 0;
}

/* An empty read-only tmpfs over @path. */
static int hide(const char *path)
{
	return mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		     "size=4k,mode=755") ?
		       -errno :
		       0;
}

/* Bind-remount read-only, keeping the mount's other flags. */
static int make_readonly(const char *path)
{
	unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY;
	struct statvfs st;

	if (statvfs(path, &st))
		return -errno;
	flags |= (st.f_flag & ST_NOSUID ? MS_NOSUID : 0) | (st.f_flag & ST_NODEV ? MS_NODEV : 0) |
		 (st.f_flag & ST_NOEXEC ? MS_NOEXEC : 0) |
		 (st.f_flag & ST_NOATIME ? MS_NOATIME : 0) |
		 (st.f_flag & ST_NODIRATIME ? MS_NODIRATIME : 0) |
		 (st.f_flag & ST_RELATIME ? MS_RELATIME : 0);
	return mount(NULL, path, NULL, flags, NULL) ? -errno : 0;
}

/*
 * Bind @src over @target. A symlink (/etc/resolv.conf -> systemd's stub) is followed. A
 * dangling one gets a tmpfs over the nearest existing directory of its target, so the file can
 * be made there without touching the host. Returns 1 when there is nothing to mount over.
 */
static int bind_file(const struct enter *e, const char *src, const char *target)
{
	char real[PATH_MAX], link[PATH_MAX], dir[PATH_MAX * 2], *slash;
	struct stat st;
	ssize_t n;
	int fd;

	if (realpath(target, real))
		return mount(src, real, NULL, MS_BIND, NULL) ? -errno : 0;
	if (errno != ENOENT || lstat(target, &st) || !S_ISLNK(st.st_mode))
		return 1;
	n = readlink(target, link, sizeof(link) - 1);
	if (n <= 0)
		return 1;
	link[n] = '\0';
	if (link[0] == '/') {
		snprintf(dir, sizeof(dir), "%s", link);
	} else {
		snprintf(dir, sizeof(dir), "%s", target);
		slash = strrchr(dir, '/');
		snprintf(slash + 1, sizeof(dir) - (size_t)(slash + 1 - dir), "%s", link);
	}
	snprintf(real, sizeof(real), "%s", dir);
	/* the nearest existing ancestor: a tmpfs there, the missing path made in it */
	for (int depth = 0; depth < 64; depth++) {
		slash = strrchr(dir, '/');
		if (!slash || slash == dir)
			return 1; /* never a tmpfs over / */
		*slash = '\0';
		if (stat(dir, &st) == 0)
			break;
	}
	if (!S_ISDIR(st.st_mode) || !strcmp(dir, "/etc") || !strcmp(dir, "/usr") ||
	    !strcmp(dir, "/run") || !strcmp(dir, "/var"))
		return 1;
	if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=755"))
		return -errno;
	snprintf(link, sizeof(link), "%s", real);
	for (char *p = link + strlen(dir) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(link, 0755);
		*p = '/';
	}
	fd = open(real, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	close(fd);
	return mount(src, real, NULL, MS_BIND, NULL) ? -errno : 0;
}

static void child_mounts(const struct enter *e)
{
	struct mounts *m = calloc(1, sizeof(*m));
	const cJSON *it;
	int err;

	if (!m)
		child_fail(e, 'S', ENOMEM, "out of memory");
	if (unshare(CLONE_NEWNS))
		child_fail(e, 'S', errno, "cannot create a mount namespace for the command: %s; "
			   "it did not run", strerror(errno));
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		child_fail(e, 'S', errno, "cannot make mounts private: %s", strerror(errno));
	cJSON_ArrayForEach(it, e->mounts) {
		const cJSON *src = cJSON_GetObjectItem(it, "source");
		const cJSON *dst = cJSON_GetObjectItem(it, "target");

		if (!cJSON_IsString(src) || !cJSON_IsString(dst))
			continue;
		err = bind_file(e, src->valuestring, dst->valuestring);
		if (err < 0)
			child_fail(e, 'S', -err, "cannot mount %s over %s: %s", src->valuestring,
				   dst->valuestring, strerror(-err));
		if (err > 0)
			fprintf(stderr,
				"sbx: warning: %s does not exist here; the sandbox has none\n",
				dst->valuestring);
	}
	/* bpffs: the pins would be unreadable anyway; hide them all the same */
	if (sbx_mountinfo_foreach(collect_bpffs, m) || m->overflow)
		child_fail(e, 'S', EIO, "cannot list the bpf mounts (more than %d?)",
			   HIDE_MOUNTS_MAX);
	for (int i = 0; i < m->n; i++) {
		err = hide(m->mp[i]);
		/* ENOENT: below a bpffs hidden already */
		if (err && err != -ENOENT)
			child_fail(e, 'S', -err, "cannot hide %s: %s", m->mp[i], strerror(-err));
	}
	/* cgroupfs read-only: nothing in the sandbox moves itself out of its cgroup */
	memset(m, 0, sizeof(*m));
	if (sbx_mountinfo_foreach(collect_cgroupfs, m) || m->overflow)
		child_fail(e, 'S', EIO, "cannot list the cgroup mounts (more than %d?)",
			   HIDE_MOUNTS_MAX);
	for (int i = 0; i < m->n; i++) {
		err = make_readonly(m->mp[i]);
		if (err && err != -ENOENT)
			child_fail(e, 'S', -err, "cannot make %s read-only: %s", m->mp[i],
				   strerror(-err));
	}
	/* sbxd's control socket and the netns files stay outside */
	err = hide(paths.run_dir);
	if (err && err != -ENOENT)
		child_fail(e, 'S', -err, "cannot hide %s: %s", paths.run_dir, strerror(-err));
	free(m);
}

/*
 * Become root (or the invoking user) of a user namespace of our own that is e->uid/gid on the
 * host: no capability there, and processes outside are out of ptrace's reach. The namespace is
 * made while we are still root, and our parent (root outside) writes its id maps, so this
 * works where unprivileged user namespaces are restricted.
 */
static void child_drop(const struct enter *e)
{
	char go = 0;

	if (setgroups(0, NULL))
		child_fail(e, 'S', errno, "cannot drop supplementary groups: %s", strerror(errno));
	/*
	 * Without a user namespace of its own the command would hold its uid's rights in the
	 * host's: fail closed (sbx-run(1) "INSIDE THE SANDBOX"), never run it there.
	 */
	if (unshare(CLONE_NEWUSER))
		child_fail(e, 'S', errno,
			   "cannot create a user namespace for the command: %s; it did not run "
			   "(check sysctl user.max_user_namespaces, and any seccomp or LSM "
			   "policy that refuses unshare(CLONE_NEWUSER) to sbx)",
			   strerror(errno));
	/* 'U': map me; the parent answers 'Y' once uid_map and gid_map are written */
	if (write(e->err_fd, "U", 1) != 1 || read(e->go_fd, &go, 1) != 1 || go != 'Y')
		child_fail(e, 'S', EPERM, "the user namespace was not set up; the command did "
			   "not run");
	if (setresgid(e->gid_in, e->gid_in, e->gid_in) ||
	    setresuid(e->uid_in, e->uid_in, e->uid_in))
		child_fail(e, 'S', errno, "cannot become uid %u in the user namespace: %s",
			   (unsigned)e->uid_in, strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		child_fail(e, 'S', errno, "cannot set no_new_privs: %s", strerror(errno));
}

/* The parent's half of child_drop: the child's id maps, one id each. */
static int write_maps(pid_t pid, const struct enter *e)
{
	char path[64], map[64];
	int err;

	snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)e->uid_in, (unsigned)e->uid);
	err = write_file(path, map);
	snprintf(path, sizeof(path), "/proc/%d/setgroups", (int)pid);
	if (!err)
		err = write_file(path, "deny\n");
	snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)pid);
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)e->gid_in, (unsigned)e->gid);
	if (!err)
		err = write_file(path, map);
	return err;
}

/*
 * Where execvp would find @cmd, judged as the user the command runs as: 0 and its path, -ENOENT
 * when it is nowhere, or -EACCES and the first path that exists but may not be run. Unlike
 * execvp, a directory of PATH closed to that user (root's ~/bin, for nobody) counts as "not
 * there", so a missing command is "not found" (127), not "Permission denied".
 */
static int find_command(const char *cmd, char *out, size_t len)
{
	const char *path = getenv("PATH"), *p, *end;
	char cand[PATH_MAX];
	bool denied = false;
	struct stat st;

	if (strchr(cmd, '/')) {
		snprintf(out, len, "%s", cmd);
		return stat(cmd, &st) && (errno == ENOENT || errno == ENOTDIR) ? -ENOENT : 0;
	}
	if (!path)
		path = "/bin:/usr/bin"; /* execvp's default */
	for (p = path; *p; p = *end ? end + 1 : end) {
		int n;

		end = strchrnul(p, ':');
		/* an empty entry is the working directory */
		n = snprintf(cand, sizeof(cand), "%.*s%s%s", (int)(end - p), p, end > p ? "/" : "",
			     cmd);
		if (n >= (int)sizeof(cand) || stat(cand, &st) || !S_ISREG(st.st_mode))
			continue;
		if (access(cand, X_OK) == 0) {
			snprintf(out, len, "%s", cand);
			return 0;
		}
		if (!denied)
			snprintf(out, len, "%s", cand);
		denied = true;
	}
	return denied ? -EACCES : -ENOENT;
}

static void __attribute__((noreturn)) exec_command(const struct enter *e)
{
	char path[PATH_MAX];
	int err = find_command(e->cmd[0], path, sizeof(path));

	if (err == -ENOENT)
		child_fail(e, 'E', ENOENT, "%s: not found", e->cmd[0]);
	if (!err) {
		/* execvp, for its /bin/sh fallback on a script without #! */
		execvp(path, e->cmd);
		err = -errno;
	}
	child_fail(e, 'E', -err, "cannot run '%s' in sandbox %s: %s", path, e->name,
		   strerror(-err));
}

static void __attribute__((noreturn)) child(const struct enter *e, const sigset_t *oldmask)
{
	const cJSON *it;
	int err;

	sigprocmask(SIG_SETMASK, oldmask, NULL);
	/* every step below fails closed: the command runs fully confined or not at all */
	if (write(e->cgroup_procs_fd, "0", 1) != 1)
		child_fail(e, 'S', errno, "cannot join the sandbox's cgroup: %s; the command did "
			   "not run", strerror(errno));
	if (setns(e->netns_fd, CLONE_NEWNET))
		child_fail(e, 'S', errno, "cannot join the sandbox's network namespace: %s; the "
			   "command did not run", strerror(errno));
	/* a session of our own: the caller's terminal is never our controlling terminal */
	if (setsid() < 0)
		child_fail(e, 'S', errno, "setsid: %s", strerror(errno));
	if (e->pty_slave >= 0) {
		if (ioctl(e->pty_slave, TIOCSCTTY, 0) ||
		    fchown(e->pty_slave, e->uid, e->gid))
			child_fail(e, 'S', errno, "cannot set up the terminal: %s",
				   strerror(errno));
		for (int fd = 0; fd <= 2; fd++)
			if ((fd == 0 || isatty(fd)) && dup2(e->pty_slave, fd) < 0)
				child_fail(e, 'S', errno, "dup2: %s", strerror(errno));
	}
	child_mounts(e);
	child_drop(e);
	cJSON_ArrayForEach(it, e->env)
		if (cJSON_IsString(it))
			setenv(it->string, it->valuestring, 1);
	if (e->as_user) {
		setenv("HOME", e->home, 1);
		setenv("USER", e->user, 1);
		setenv("LOGNAME", e->user, 1);
	} else if (!getenv("HOME") || access(getenv("HOME"), X_OK)) {
		setenv("HOME", "/", 1); /* root's home is not ours: we are nobody outside */
	}
	if (chdir(e->cwd)) {
		fprintf(stderr,
			"sbx: warning: cannot enter %s in the sandbox (%s); starting in /\n",
			e->cwd, strerror(errno));
		if (chdir("/"))
			child_fail(e, 'S', errno, "chdir /: %s", strerror(errno));
	}
	/* kernel attack surface a sandbox never needs (bpf, keyrings, AF_VSOCK...): EPERM */
	err = sbx_seccomp_install();
	if (err)
		child_fail(e, 'S', -err, "cannot install the seccomp filter: %s; the command did "
			   "not run", strerror(-err));
	/* nothing of ours but 0-2 reaches the command (the caller's descriptors neither) */
	if (syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */))
		child_fail(e, 'S', errno, "cannot keep sbx's descriptors from the command: %s; it "
			   "did not run (close_range needs Linux 5.11)", strerror(errno));
	exec_command(e);
}

/* ---- the parent: relay, signals, status ------------------------------------------------------ */

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void copy_winsize(int master)
{
	struct winsize ws;

	if (ioctl(0, TIOCGWINSZ, &ws) == 0)
		ioctl(master, TIOCSWINSZ, &ws);
}

/*
 * Until the child exits: pass the forwardable signals on, relay the terminal when there is
 * a pty. Returns the child's wait status.
 */
static int supervise(pid_t pid, int master, int sfd)
{
	char in[RELAY_BUF], out[RELAY_BUF];
	size_t in_len = 0, in_off = 0;
	bool in_open = master >= 0, master_open = master >= 0, exited = false;
	int status = 0;

	while (!exited) {
		struct pollfd p[3] = { { .fd = sfd, .events = POLLIN },
				       { .fd = -1, .events = POLLIN },
				       { .fd = -1, .events = POLLIN } };
		struct signalfd_siginfo si;

		if (master_open) {
			p[1].fd = master;
			p[1].events = POLLIN | (in_len ? POLLOUT : 0);
		}
		if (in_open && !in_len)
			p[2].fd = 0;
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo == SIGCHLD) {
				pid_t w = waitpid(pid, &status, WNOHANG);

				exited = w == pid;
			} else if (si.ssi_signo == SIGWINCH) {
				if (master >= 0)
					copy_winsize(master);
			} else {
				kill(pid, (int)si.ssi_signo);
			}
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = read(master, out, sizeof(out));

			if (n > 0)
				write_all(1, out, (size_t)n);
			else if (n == 0 || (errno != EINTR && errno != EAGAIN))
				master_open = false; /* EIO: every slave is closed */
		}
		if (p[1].revents & POLLOUT && in_len) {
			ssize_t n = write(master, in + in_off, in_len - in_off);

			if (n > 0) {
				in_off += (size_t)n;
				if (in_off == in_len)
					in_len = in_off = 0;
			} else if (n < 0 && errno != EINTR && errno != EAGAIN) {
				in_len = in_off = 0;
			}
		}
		if (p[2].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = read(0, in, sizeof(in));

			if (n > 0)
				in_len = (size_t)n;
			else if (n == 0 || (errno != EINTR && errno != EAGAIN))
				in_open = false;
		}
	}
	/*
	 * What the command wrote last may still be on its way through the pty: read until every
	 * slave is closed (EIO), or a quiet moment if background jobs keep one open.
	 */
	for (int i = 0; master_open && i < DRAIN_ROUNDS; i++) {
		struct pollfd p = { .fd = master, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, DRAIN_QUIET_MS) <= 0)
			break;
		n = read(master, out, sizeof(out));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		write_all(1, out, (size_t)n);
	}
	return status;
}

static int open_pty(int *master, int *slave)
{
	struct termios tio;
	struct winsize ws;
	char name[64];

	*master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*master < 0)
		return -errno;
	if (grantpt(*master) || unlockpt(*master) || ptsname_r(*master, name, sizeof(name)))
		goto fail;
	*slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*slave < 0)
		goto fail;
	if (tcgetattr(0, &tio) == 0)
		tcsetattr(*slave, TCSANOW, &tio);
	if (ioctl(0, TIOCGWINSZ, &ws) == 0)
		ioctl(*slave, TIOCSWINSZ, &ws);
	fcntl(*master, F_SETFL, fcntl(*master, F_GETFL) | O_NONBLOCK);
	return 0;
fail:
	close(*master);
	return -errno;
}

/*
 * The credentials the command gets: SUDO_UID/SUDO_GID's user, or root of a user namespace that
 * is nobody on the host. SUDO_UID=0 (sudo from root) is root without sudo: the command is
 * never host root.
 */
static int resolve_user(struct enter *e)
{
	const char *su = getenv("SUDO_UID"), *sg = getenv("SUDO_GID");
	char *end;
	unsigned long u, g;

	e->uid = e->uid_in = SBX_SANDBOX_NOBODY;
	e->gid = e->gid_in = SBX_SANDBOX_NOBODY;
	if (!su || !*su) {
		e->uid_in = 0;
		e->gid_in = 0;
		return 0;
	}
	errno = 0;
	u = strtoul(su, &end, 10);
	if (errno || *end || u >= UINT32_MAX)
		return p_err(EXIT_USAGE, "SUDO_UID=%s is not a user id", su);
	if (u == 0) {
		e->uid_in = 0;
		e->gid_in = 0;
		return 0;
	}
	g = u;
	if (sg && *sg) {
		g = strtoul(sg, &end, 10);
		if (errno || *end || g >= UINT32_MAX)
			return p_err(EXIT_USAGE, "SUDO_GID=%s is not a group id", sg);
	}
	e->as_user = true;
	e->uid = e->uid_in = (uid_t)u;
	e->gid = e->gid_in = (gid_t)g;
	{
		struct passwd *pw = getpwuid(e->uid);

		snprintf(e->home, sizeof(e->home), "%s", pw && pw->pw_dir ? pw->pw_dir : "/");
		if (pw)
			snprintf(e->user, sizeof(e->user), "%s", pw->pw_name);
		else
			snprintf(e->user, sizeof(e->user), "%u", (unsigned)e->uid);
	}
	return 0;
}

/*
 * Said once, when a sandbox is made by root without sudo (SUDO_UID unset or 0): `id` inside
 * says root, yet the caller's own files refuse writes (sbx-run(1), "User").
 */
static void note_nobody(const char *name)
{
	fprintf(stderr,
		"sbx: sandbox %s runs commands as root of its own user namespace, which is nobody "
		"(%d) on the host:\n"
		"sbx: they can write only where user nobody may (such as /tmp), not your files "
		"(sudo sbx from a user's shell runs them as that user)\n",
		name, SBX_SANDBOX_NOBODY);
}

static void remove_sandbox(const char *name)
{
	cJSON *args = cJSON_CreateObject(), *reply = NULL;

	cJSON_AddStringToObject(args, "name", name);
	if (daemon_call("sandbox.rm", args, false, &reply) == 0)
		cJSON_Delete(reply);
}

/* sandbox.start / sandbox.exec, then the child enters, and we wait for it. */
static int enter(const char *verb, const char *name, char **cmd)
{
	static const int fwd[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGWINCH };
	char *def_cmd[3] = { NULL, NULL, NULL }, path[PATH_MAX + 16], msg[ENTER_ERR_MAX + 1];
	struct enter e = { .name = name, .cmd = cmd, .cgroup_procs_fd = -1, .netns_fd = -1,
			   .pty_slave = -1 };
	const cJSON *sb;
	struct termios saved, raw;
	bool restore_tty = false, created, started = false;
	sigset_t mask, oldmask;
	int ret, pfd[2] = { -1, -1 }, gfd[2] = { -1, -1 }, master = -1, sfd = -1, status;
	cJSON *args, *reply = NULL;
	ssize_t n;
	pid_t pid;

	ret = resolve_user(&e);
	if (ret)
		return ret;
	if (!cmd || !cmd[0]) {
		const char *shell = getenv("SHELL");

		/* -i only on a terminal: sh -i without one warns about job control */
		def_cmd[0] = (char *)(shell && *shell ? shell : "/bin/sh");
		def_cmd[1] = shell && *shell ? NULL : isatty(0) ? (char *)"-i" : NULL;
		e.cmd = def_cmd;
	}
	if (!getcwd(e.cwd, sizeof(e.cwd)))
		snprintf(e.cwd, sizeof(e.cwd), "/");
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "name", name);
	ret = daemon_call(strcmp(verb, "exec") == 0 ? "sandbox.exec" : "sandbox.start", args, true,
			  &reply);
	if (ret)
		return ret;
	sb = cJSON_GetObjectItem(reply, "sandbox");
	created = cJSON_IsTrue(cJSON_GetObjectItem(reply, "created"));
	if (created && !e.as_user)
		note_nobody(name);
	e.env = cJSON_GetObjectItem(reply, "env");
	e.mounts = cJSON_GetObjectItem(reply, "mounts");
	snprintf(path, sizeof(path), "%s/cgroup.procs", jstr(sb, "cgroup"));
	e.cgroup_procs_fd = open(path, O_WRONLY | O_CLOEXEC);
	if (e.cgroup_procs_fd < 0) {
		ret = p_err(EXIT_FAIL, "cannot open %s: %s", path, strerror(errno));
		goto out;
	}
	e.netns_fd = open(jstr(sb, "netns"), O_RDONLY | O_CLOEXEC);
	if (e.netns_fd < 0) {
		ret = p_err(EXIT_FAIL, "cannot open the network namespace %s: %s",
			    jstr(sb, "netns"), strerror(errno));
		goto out;
	}
	if (isatty(0)) {
		ret = open_pty(&master, &e.pty_slave);
		if (ret) {
			ret = p_err(EXIT_FAIL, "cannot open a pseudo-terminal: %s", strerror(-ret));
			goto out;
		}
	}
	if (pipe2(pfd, O_CLOEXEC) || pipe2(gfd, O_CLOEXEC)) {
		ret = p_err(EXIT_FAIL, "pipe: %s", strerror(errno));
		goto out;
	}
	e.err_fd = pfd[1];
	e.go_fd = gfd[0];
	sigemptyset(&mask);
	for (size_t i = 0; i < sizeof(fwd) / sizeof(fwd[0]); i++)
		sigaddset(&mask, fwd[i]);
	sigprocmask(SIG_BLOCK, &mask, &oldmask);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		ret = p_err(EXIT_FAIL, "fork: %s", strerror(errno));
		sigprocmask(SIG_SETMASK, &oldmask, NULL);
		goto out;
	}
	if (pid == 0)
		child(&e, &oldmask);
	close(pfd[1]);
	close(gfd[0]);
	pfd[1] = gfd[0] = -1;
	/* the child has its own copies now */
	close(e.cgroup_procs_fd);
	close(e.netns_fd);
	e.cgroup_procs_fd = e.netns_fd = -1;
	if (e.pty_slave >= 0) {
		/* only the child's copies left: the master reads EIO once they are closed */
		close(e.pty_slave);
		e.pty_slave = -1;
	}
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	/* the child's verdict on entering: EOF means it reached exec; 'U' asks for its id maps */
	do
		n = read(pfd[0], msg, 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		n = 0;
	if (n == 1 && msg[0] == 'U') {
		ret = write_maps(pid, &e);
		if (write(gfd[1], ret ? "N" : "Y", 1) != 1 && !ret)
			ret = -EPIPE;
		if (ret)
			fprintf(stderr, "sbx: cannot write the id maps of the sandbox's user "
				"namespace: %s\n", strerror(-ret));
		n = 0;
	}
	for (ssize_t r = 1; r > 0 && n < (ssize_t)sizeof(msg) - 1; n += r) {
		do
			r = read(pfd[0], msg + n, sizeof(msg) - 1 - (size_t)n);
		while (r < 0 && errno == EINTR);
		if (r <= 0)
			break;
	}
	if (n > 2) {
		msg[n] = '\0';
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		ret = p_err(msg[0] == 'E' ? (WIFEXITED(status) ? WEXITSTATUS(status) : 126) :
					    EXIT_FAIL,
			    "%s", msg + 2);
		goto out;
	}
	started = true;
	if (master >= 0 && tcgetattr(0, &saved) == 0) {
		raw = saved;
		cfmakeraw(&raw);
		restore_tty = tcsetattr(0, TCSADRAIN, &raw) == 0;
	}
	status = supervise(pid, master, sfd);
	if (restore_tty)
		tcsetattr(0, TCSADRAIN, &saved);
	if (WIFSIGNALED(status))
		ret = 128 + WTERMSIG(status);
	else
		ret = WIFEXITED(status) ? WEXITSTATUS(status) : EXIT_FAIL;
out:
	{
		int fds[] = { e.cgroup_procs_fd, e.netns_fd, e.pty_slave, master, pfd[0], pfd[1],
			      gfd[0], gfd[1], sfd };

		for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
			if (fds[i] >= 0)
				close(fds[i]);
	}
	/* a sandbox made for a command that never started is a typo's leftover: remove it */
	if (reply && created && !started)
		remove_sandbox(name);
	cJSON_Delete(reply);
	return ret;
}

/* What `sbx run` and `sbx exec` were asked: NAME [--] CMD... */
struct enter_args {
	const char *verb; /* "run" or "exec" */
	const char *name;
	char **cmd;	  /* NULL: the default shell */
	bool dashdash;	  /* "--" came right after NAME */
};

/* @argv as a shell would need it typed, in @out (cut short with "..." when it does not fit). */
static void quote_args(char **argv, char *out, size_t len)
{
	size_t used = 0;

	out[0] = '\0';
	for (int i = 0; argv && argv[i]; i++) {
		const char *a = argv[i];
		bool plain = *a && strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					  "0123456789_./:=@%+,-") == strlen(a);
		char q[PATH_MAX];
		size_t n = 0;

		if (plain) {
			snprintf(q, sizeof(q), "%s", a);
		} else {
			q[n++] = '\'';
			for (; *a && n < sizeof(q) - 6; a++) {
				if (*a == '\'') {
					memcpy(q + n, "'\\''", 4);
					n += 4;
				} else {
					q[n++] = *a;
				}
			}
			q[n++] = '\'';
			q[n] = '\0';
		}
		if (used + strlen(q) + 5 >= len) {
			snprintf(out + used, len - used, "%s...", i ? " " : "");
			return;
		}
		used += (size_t)snprintf(out + used, len - used, "%s%s", i ? " " : "", q);
	}
}

/* An executable file named @name in a directory of PATH. */
static bool is_command(const char *name)
{
	const char *path = getenv("PATH"), *p, *end;
	char cand[PATH_MAX];
	struct stat st;

	for (p = path ? path : ""; *p; p = *end ? end + 1 : end) {
		end = strchrnul(p, ':');
		if (end == p)
			continue;
		if (snprintf(cand, sizeof(cand), "%.*s/%s", (int)(end - p), p, name) <
			    (int)sizeof(cand) &&
		    stat(cand, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111))
			return true;
	}
	return false;
}

/* Whether sandbox @name exists: 1, 0, or -exit code (sbx ls failed and said why). */
static int sandbox_exists(const char *name)
{
	cJSON *reply;
	const cJSON *it;
	int ret = daemon_call("sandbox.ls", cJSON_CreateObject(), true, &reply);

	if (ret)
		return -ret;
	ret = 0;
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(reply, "sandboxes"))
		if (strcmp(jstr(it, "name"), name) == 0)
			ret = 1;
	cJSON_Delete(reply);
	return ret;
}

/*
 * A typo must not create a sandbox: `sbx run curl -s URL` meant a command, not a sandbox named
 * curl. A NAME that is a command on PATH and no sandbox yet must be followed by "--" to be
 * taken as a name (sbx-run(1), "Names that are commands").
 */
static int check_not_command(const struct enter_args *a)
{
	char typed[2048], rest[2048];
	int ret;

	if (a->dashdash || !is_command(a->name))
		return 0;
	ret = sandbox_exists(a->name);
	if (ret)
		return ret < 0 ? -ret : 0;
	/* the name needs no quoting: sbx_sandbox_name_check passed it */
	quote_args(a->cmd, rest, sizeof(rest));
	snprintf(typed, sizeof(typed), "%s%s%s", a->name, a->cmd ? " " : "", rest);
	if (strcmp(a->verb, "exec") == 0)
		return p_err(EXIT_USAGE, "'%s' is a command, not a sandbox: did you mean `sbx exec "
			     "NAME -- %s`?", a->name, typed);
	return p_err(EXIT_USAGE, "'%s' is a command, not a sandbox: did you mean `sbx run NAME -- "
		     "%s`? (to name a sandbox %s, write `sbx run %s --%s`)",
		     a->name, typed, a->name, a->name, a->cmd ? " CMD" : "");
}

/* NAME [--] CMD...: options only before NAME, so the command keeps its own. */
static int parse_enter(int argc, char **argv, struct enter_args *a)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool is_exec = strcmp(a->verb, "exec") == 0;
	char err[SBX_ERR_MAX], rest[2048];
	int opt;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc + 1, argv - 1, "+h", opts, NULL)) != -1) {
		if (opt == 'h') {
			(is_exec ? help_exec : help_run)(stdout);
			return -1;
		}
		return bad_option(opt, argv - 1);
	}
	/* getopt took a "--" before NAME: `sbx run -- true` names no sandbox "true" */
	if (optind >= 2 && strcmp(argv[optind - 2], "--") == 0 && optind - 1 < argc) {
		quote_args(argv + optind - 1, rest, sizeof(rest));
		return p_err(EXIT_USAGE, "the sandbox's name comes before '--': did you mean `sbx "
			     "%s NAME -- %s`?", a->verb, rest);
	}
	argv += optind - 1;
	argc -= optind - 1;
	if (argc < 1) {
		(is_exec ? help_exec : help_run)(stderr);
		return p_err(EXIT_USAGE, "a sandbox name is required");
	}
	a->name = argv[0];
	if (sbx_sandbox_name_check(a->name, err, sizeof(err)))
		return p_err(EXIT_USAGE, "%s", err);
	argv++;
	argc--;
	if (argc > 0 && strcmp(argv[0], "--") == 0) {
		a->dashdash = true;
		argv++;
		argc--;
	}
	if (is_exec && argc == 0)
		return p_err(EXIT_USAGE, "sbx exec needs a command: sbx exec %s -- CMD [ARG...]",
			     a->name);
	a->cmd = argc ? argv : NULL;
	return 0;
}

static int do_enter(const char *verb, int argc, char **argv)
{
	struct enter_args a = { .verb = verb };
	int ret = parse_enter(argc, argv, &a);

	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	if (geteuid() != 0)
		return p_err(EXIT_FAIL, "sbx %s needs root: it joins the sandbox's cgroup and "
			     "namespaces (run it with sudo)", verb);
	ret = check_not_command(&a);
	if (ret)
		return ret;
	return enter(a.verb, a.name, a.cmd);
}

int do_run(int argc, char **argv)
{
	return do_enter("run", argc, argv);
}

int do_exec(int argc, char **argv)
{
	return do_enter("exec", argc, argv);
}

/* ---- ls, stop, rm, attach ------------------------------------------------------------------ */

static void ago(double when, char *out, size_t len)
{
	long d = (long)(time(NULL) - (time_t)when);
	static const struct {
		long secs;
		const char *unit;
	} units[] = { { 86400, "day" }, { 3600, "hour" }, { 60, "minute" }, { 1, "second" } };

	if (d < 1) {
		snprintf(out, len, "just now");
		return;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (d >= units[i].secs) {
			long n = d / units[i].secs;

			snprintf(out, len, "%ld %s%s ago", n, units[i].unit, n == 1 ? "" : "s");
			return;
		}
	}
}

int do_sandbox_ls(int argc, char **argv)
{
	static const char *const hdr[] = { "NAME",	"STATUS",    "ADDRESS",
					   "GATEWAY", "PROCESSES", "CREATED" };
	cJSON *reply, *out;
	const cJSON *it;
	struct table *t;
	int ret;

	reset_opts(argc, argv); /* --json anywhere: errors in JSON too */
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json_output = true;
		else if (is_help(argv[i]))
			return help_ls();
		else
			return p_err(EXIT_USAGE, "unknown argument '%s' (see sbx ls --help)",
				     argv[i]);
	}
	ret = daemon_call("sandbox.ls", cJSON_CreateObject(), true, &reply);
	if (ret)
		return ret;
	if (json_output) {
		out = cJSON_CreateObject();
		cJSON_AddItemToObject(out, "sandboxes",
				      cJSON_DetachItemFromObject(reply, "sandboxes"));
		cJSON_Delete(reply);
		print_json(out);
		return EXIT_OK;
	}
	t = table_new(6, hdr);
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(reply, "sandboxes")) {
		const cJSON *procs = cJSON_GetObjectItem(it, "processes");
		const cJSON *created = cJSON_GetObjectItem(it, "created");
		char np[16], when[48];
		const char *cells[6];

		snprintf(np, sizeof(np), "%d", cJSON_IsNumber(procs) ? procs->valueint : 0);
		ago(cJSON_IsNumber(created) ? created->valuedouble : 0, when, sizeof(when));
		cells[0] = jstr(it, "name");
		cells[1] = jstr(it, "status");
		cells[2] = *jstr(it, "ip") ? jstr(it, "ip") : "-";
		cells[3] = jstr(it, "gateway");
		cells[4] = np;
		cells[5] = when;
		table_add(t, cells);
	}
	table_print(t, stdout);
	table_free(t);
	cJSON_Delete(reply);
	return EXIT_OK;
}

/* stop and rm: NAME... with [--force] for rm; the worst exit code wins. */
static int each_name(const char *op, int argc, char **argv, bool allow_force, int (*help)(void))
{
	const char *names[256];
	bool force = false;
	int n = 0, ret = EXIT_OK;
	char err[SBX_ERR_MAX];

	reset_opts(argc, argv); /* --json anywhere: errors in JSON too */
	for (int i = 0; i < argc; i++) {
		if (is_help(argv[i]))
			return help();
		if (strcmp(argv[i], "--json") == 0) {
			json_output = true;
		} else if (allow_force && (!strcmp(argv[i], "--force") || !strcmp(argv[i], "-f"))) {
			force = true;
		} else if (argv[i][0] == '-') {
			return p_err(EXIT_USAGE, "unknown option '%s' (see --help)", argv[i]);
		} else if (n == (int)(sizeof(names) / sizeof(names[0]))) {
			return p_err(EXIT_USAGE, "too many names");
		} else {
			if (sbx_sandbox_name_check(argv[i], err, sizeof(err)))
				return p_err(EXIT_USAGE, "%s", err);
			names[n++] = argv[i];
		}
	}
	if (n == 0) {
		if (!json_output) {
			usage_to_stderr();
			help();
		}
		return p_err(EXIT_USAGE, "a sandbox name is required");
	}
	for (int i = 0; i < n; i++) {
		cJSON *args = cJSON_CreateObject(), *reply;
		int r;

		cJSON_AddStringToObject(args, "name", names[i]);
		if (force)
			cJSON_AddTrueToObject(args, "force");
		r = daemon_call(op, args, true, &reply);
		if (r) {
			ret = r > ret ? r : ret;
			continue;
		}
		if (json_reply(reply))
			continue;
		printf("%s %s\n", strcmp(op, "sandbox.rm") == 0 ? "Removed" : "Stopped", names[i]);
		cJSON_Delete(reply);
	}
	return ret;
}

int do_sandbox_stop(int argc, char **argv)
{
	return each_name("sandbox.stop", argc, argv, false, help_stop);
}

int do_sandbox_rm(int argc, char **argv)
{
	return each_name("sandbox.rm", argc, argv, true, help_rm);
}

int do_attach(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cgroup", required_argument, NULL, 'c' },
		{ "pid", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *cgroup = NULL, *pid = NULL, *name;
	char err[SBX_ERR_MAX], *end;
	cJSON *args, *reply;
	const cJSON *sb;
	long v;
	int opt, ret;

	reset_opts(argc, argv);
	while ((opt = getopt_long(argc + 1, argv - 1, ":c:p:jh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			cgroup = optarg;
			break;
		case 'p':
			pid = optarg;
			break;
		case 'j':
			json_output = true;
			break;
		case 'h':
			return help_attach();
		default:
			return bad_option(opt, argv - 1);
		}
	}
	if (argc + 1 - optind != 1)
		return p_err(EXIT_USAGE, "expected one sandbox name: sbx attach NAME "
			     "(--cgroup PATH | --pid PID)");
	name = argv[optind - 1];
	if (sbx_sandbox_name_check(name, err, sizeof(err)))
		return p_err(EXIT_USAGE, "%s", err);
	if (!cgroup == !pid)
		return p_err(EXIT_USAGE, "give exactly one of --cgroup PATH and --pid PID");
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "name", name);
	if (cgroup) {
		cJSON_AddStringToObject(args, "cgroup", cgroup);
	} else {
		errno = 0;
		v = strtol(pid, &end, 10);
		if (errno || *end || v < 1 || v > INT_MAX) {
			cJSON_Delete(args);
			return p_err(EXIT_USAGE, "--pid %s is not a process id", pid);
		}
		cJSON_AddNumberToObject(args, "pid", (double)v);
	}
	ret = daemon_call("sandbox.attach", args, true, &reply);
	if (ret)
		return ret;
	if (json_reply(reply))
		return EXIT_OK;
	sb = cJSON_GetObjectItem(reply, "sandbox");
	printf("Attached %s to cgroup %s\n", name, jstr(sb, "cgroup"));
	cJSON_Delete(reply);
	return EXIT_OK;
}
