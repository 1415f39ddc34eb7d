// SPDX-License-Identifier: MIT
/*
 * `sbx run`, `exec`, `ls`, `stop`, `rm` and `attach`: sandboxes. sbxd makes and keeps the
 * sandbox (cgroup, network namespace, veth, BPF, and an init holding its private root, pid,
 * user, ipc and uts namespaces: include/sbx/confine.h); entering it happens here:
 *
 *   parent: pidfd of the init -> setns(pid) for the child only -> fork
 *   child:  join the cgroup -> setns(net, ipc, uts, user, mnt) -> its home -> the invoking
 *           user (SUDO_UID) or the sandbox's root -> no new privileges -> seccomp -> exec.
 *
 * The command never holds a capability in the host's user namespace and runs in the sandbox's,
 * so it cannot undo any of that, nor see or ptrace processes outside. It never
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
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <linux/openat2.h>

#include <sbx/confine.h>
#include <sbx/fsutil.h>
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
		"Usage: sbx run [-w|--workspace DIR[:ro]]... NAME [--] [CMD [ARG...]]\n"
		"\n"
		"Creates sandbox NAME if it does not exist, starts it, and runs CMD in it\n"
		"(default: $SHELL, or /bin/sh). sbx exits with CMD's status (128+N if signal\n"
		"N killed it); stdin, stdout and stderr pass through, and a terminal on stdin\n"
		"becomes the sandbox's terminal. A NAME that is a command on PATH, and no\n"
		"sandbox yet, must be followed by '--' (otherwise it is taken for a typo).\n"
		"\n"
		"  -w, --workspace DIR[:ro]  show host directory DIR at the same path inside,\n"
		"                            writable (filesystem:read and filesystem:write\n"
		"                            rules must allow it) or read-only with :ro\n"
		"                            (filesystem:read); up to 8. A running sandbox\n"
		"                            refuses other ones (stop it first); without -w a\n"
		"                            sandbox keeps the ones it has.\n"
		"\n"
		"In the sandbox: its own root (the host's /usr, /etc, /opt through overlays it\n"
		"may change without changing the host's; its own /tmp, /run, /var, /home, /dev,\n"
		"/proc; no other host file but the workspaces), its own pid namespace, and its\n"
		"own network namespace whose only way out is sbxd's proxy (HTTP_PROXY and\n"
		"HTTPS_PROXY point at it; everything else is redirected or dropped under the\n"
		"policy). CMD runs as the invoking user (SUDO_UID, unless 0) or as the\n"
		"sandbox's root, in a user namespace whose ids are a block of host ids of its\n"
		"own, with no capability on the host; it starts in the current directory if a\n"
		"workspace holds it, else in the first workspace, else in its home. Needs root\n"
		"(run it with sudo). See sbx-run(1).\n");
}

static void help_exec(FILE *f)
{
	fprintf(f, "Usage: sbx exec NAME [--] CMD [ARG...]\n"
		   "\n"
		   "Runs CMD in the running sandbox NAME, like 'sbx run', but fails (exit 1)\n"
		   "when NAME does not exist or is stopped. Exits with CMD's status. CMD sees\n"
		   "the workspaces the sandbox runs with: --workspace is refused here.\n");
}

static int help_ls(void)
{
	printf("Usage: sbx ls [--json]\n"
	       "\n"
	       "Lists the sandboxes: NAME STATUS ADDRESS GATEWAY PROCESSES CREATED WORKSPACES.\n"
	       "STATUS is running (started; PROCESSES may be 0), stopped (sbx stop), or\n"
	       "attached (an existing cgroup, sbx attach). WORKSPACES lists the host\n"
	       "directories mounted in it (PATH, or PATH:ro when read-only), or '-'.\n"
	       "--json prints {\"sandboxes\": [{\"name\", \"id\", \"status\", \"ip\", \"gateway\",\n"
	       "\"attached\", \"cgroup\", \"cgroup_id\", \"netns\", \"host_if\", \"stopped\",\n"
	       "\"processes\", \"created\"}]} (created: Unix time); a sandbox that is not\n"
	       "attached also has \"id_base\" (the host id of its root), \"init_pid\" and\n"
	       "\"init_start\" (its init; init_pid 0 when stopped), \"owner\" {\"uid\", \"gid\", \"home\"}\n"
	       "and \"workspaces\" [{\"path\", \"readonly\"}].\n");
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
	int cgroup_procs_fd;
	int pidfd;   /* the sandbox's init: its namespaces are joined */
	int err_fd;  /* child -> parent: why entering failed; closed by a successful exec */
	int pty_slave; /* -1: no terminal on stdin */
	const cJSON *env;
	char cwd[PATH_MAX];  /* where the command starts, inside */
	bool as_user; /* SUDO_UID: run as that user */
	struct sbx_enter_ids ids; /* inside the sandbox */
	uint32_t id_base;	  /* the sandbox's root on the host */
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
	char err[ENTER_ERR_MAX];
	const cJSON *it;
	int ret;

	sigprocmask(SIG_SETMASK, oldmask, NULL);
	/* every step below fails closed: the command runs fully confined or not at all */
	ret = sbx_enter_apply(e->pidfd, e->cgroup_procs_fd, &e->ids, e->home, e->cwd, err,
			      sizeof(err));
	if (ret)
		child_fail(e, 'S', -ret, "%s; the command did not run", err);
	/* a session of our own: the caller's terminal is never our controlling terminal */
	if (setsid() < 0)
		child_fail(e, 'S', errno, "setsid: %s", strerror(errno));
	if (e->pty_slave >= 0) {
		if (ioctl(e->pty_slave, TIOCSCTTY, 0))
			child_fail(e, 'S', errno, "cannot set up the terminal: %s",
				   strerror(errno));
		for (int fd = 0; fd <= 2; fd++)
			if ((fd == 0 || isatty(fd)) && dup2(e->pty_slave, fd) < 0)
				child_fail(e, 'S', errno, "dup2: %s", strerror(errno));
	}
	cJSON_ArrayForEach(it, e->env)
		if (cJSON_IsString(it))
			setenv(it->string, it->valuestring, 1);
	setenv("HOME", e->home, 1);
	setenv("USER", e->user, 1);
	setenv("LOGNAME", e->user, 1);
	/* the system calls a sandbox never needs (sbx-run(1), "System calls") */
	ret = sbx_seccomp_install();
	if (ret)
		child_fail(e, 'S', -ret, "cannot install the seccomp filter: %s; the command "
			   "did not run", strerror(-ret));
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

/* A pseudo-terminal of the sandbox's own devpts, so /dev/pts/N inside names it. */
static int open_pty(pid_t init, int *master, int *slave)
{
	struct termios tio;
	struct winsize ws;
	char ptmx[64];
	int unlock = 0;

	struct open_how how = { .flags = O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC,
				.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS |
					   RESOLVE_NO_MAGICLINKS };
	struct stat st;
	int root;

	/*
	 * The sandbox's root may have put anything at dev/pts/ptmx: no symlink is followed (a
	 * /proc/self/... one would resolve in ours), and only the ptmx device is taken.
	 */
	snprintf(ptmx, sizeof(ptmx), "/proc/%d/root", (int)init);
	root = open(ptmx, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return -errno;
	*master = (int)syscall(SYS_openat2, root, "dev/pts/ptmx", &how, sizeof(how));
	close(root);
	if (*master < 0)
		return -errno;
	if (fstat(*master, &st) || !S_ISCHR(st.st_mode) || major(st.st_rdev) != 5 ||
	    minor(st.st_rdev) != 2) {
		close(*master);
		return -EPERM;
	}
	if (ioctl(*master, TIOCSPTLCK, &unlock))
		goto fail;
	*slave = ioctl(*master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*slave < 0)
		goto fail;
	if (tcgetattr(0, &tio) == 0)
		tcsetattr(*slave, TCSANOW, &tio);
	if (ioctl(0, TIOCGWINSZ, &ws) == 0)
		ioctl(*slave, TIOCSWINSZ, &ws);
	return 0;
fail:
	close(*master);
	return -errno;
}

/*
 * Who the command is inside: SUDO_UID/SUDO_GID's user, or the sandbox's root. Either way its
 * host ids are the sandbox's own block (SUDO_UID=0, sudo from root, is root without sudo).
 */
static int resolve_user(struct enter *e)
{
	const char *su = getenv("SUDO_UID"), *sg = getenv("SUDO_GID");
	struct passwd *pw;
	char *end;
	unsigned long u, g;

	snprintf(e->home, sizeof(e->home), "/root");
	snprintf(e->user, sizeof(e->user), "root");
	if (!su || !*su)
		return 0;
	errno = 0;
	u = strtoul(su, &end, 10);
	if (errno || *end || u >= UINT32_MAX)
		return p_err(EXIT_USAGE, "SUDO_UID=%s is not a user id", su);
	if (u == 0)
		return 0;
	g = u;
	if (sg && *sg) {
		g = strtoul(sg, &end, 10);
		if (errno || *end || g >= UINT32_MAX)
			return p_err(EXIT_USAGE, "SUDO_GID=%s is not a group id", sg);
	}
	if (u >= SBX_IDS_PER_SANDBOX || g >= SBX_IDS_PER_SANDBOX)
		return p_err(EXIT_FAIL, "uid %lu or gid %lu is past the %u ids a sandbox has; run "
			     "sbx as root without sudo to be the sandbox's root",
			     u, g, SBX_IDS_PER_SANDBOX);
	e->as_user = true;
	e->ids.uid = (uid_t)u;
	e->ids.gid = (gid_t)g;
	pw = getpwuid(e->ids.uid);
	if (pw && pw->pw_dir && pw->pw_dir[0] == '/' && strcmp(pw->pw_dir, "/"))
		snprintf(e->home, sizeof(e->home), "%s", pw->pw_dir);
	else
		snprintf(e->home, sizeof(e->home), "/home/%lu", u);
	if (pw)
		snprintf(e->user, sizeof(e->user), "%s", pw->pw_name);
	else
		snprintf(e->user, sizeof(e->user), "%lu", u);
	return 0;
}

/*
 * Where the command starts: where sbx was run if that is in a workspace (the same path
 * inside), else the first workspace, else the home directory.
 */
static void pick_cwd(struct enter *e, const cJSON *workspaces)
{
	char here[PATH_MAX];
	const cJSON *w;

	snprintf(e->cwd, sizeof(e->cwd), "%s", e->home);
	if (!getcwd(here, sizeof(here)))
		here[0] = '\0';
	cJSON_ArrayForEach(w, workspaces) {
		const char *p = jstr(w, "path");

		if (p[0] == '/' && sbx_path_within(here, p)) {
			snprintf(e->cwd, sizeof(e->cwd), "%s", here);
			return;
		}
	}
	w = cJSON_GetArrayItem(workspaces, 0);
	if (w)
		snprintf(e->cwd, sizeof(e->cwd), "%s", jstr(w, "path"));
}

/*
 * The sandbox's init, as sbxd started it: a pidfd checked against the start time sbxd
 * recorded, so a pid reused since is never joined.
 */
static int open_init(const cJSON *sb)
{
	const cJSON *pid = cJSON_GetObjectItem(sb, "init_pid");
	const cJSON *start = cJSON_GetObjectItem(sb, "init_start");
	unsigned long long now;
	int fd;

	if (!cJSON_IsNumber(pid) || pid->valuedouble < 1 || !cJSON_IsNumber(start))
		return -ESRCH;
	fd = (int)syscall(SYS_pidfd_open, (pid_t)pid->valuedouble, 0);
	if (fd < 0)
		return -errno;
	if (sbx_proc_starttime((pid_t)pid->valuedouble, &now) ||
	    now != (unsigned long long)start->valuedouble) {
		close(fd);
		return -ESRCH;
	}
	return fd;
}

/*
 * Said once, when a sandbox is made by root without sudo (SUDO_UID unset or 0): `id` inside
 * says root, yet the caller's own files in its workspaces refuse writes (sbx-run(1), "User").
 */
static void note_nobody(const char *name)
{
	fprintf(stderr,
		"sbx: sandbox %s runs commands as its own root, which is user nobody (%d) in its "
		"workspaces:\n"
		"sbx: they can write there only what user nobody owns, not your files "
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

/* The request's workspaces: [{path, readonly}] with paths resolved here. */
static int workspace_args(cJSON *args, char **ws, size_t nws)
{
	cJSON *arr;

	if (!nws)
		return 0;
	arr = cJSON_AddArrayToObject(args, "workspaces");
	for (size_t i = 0; i < nws; i++) {
		char spec[PATH_MAX], real[PATH_MAX], *colon;
		bool ro = false;
		cJSON *w;

		snprintf(spec, sizeof(spec), "%s", ws[i]);
		colon = strrchr(spec, ':');
		if (colon && (!strcmp(colon, ":ro") || !strcmp(colon, ":rw"))) {
			ro = !strcmp(colon, ":ro");
			*colon = '\0';
		}
		if (!spec[0])
			return p_err(EXIT_USAGE, "--workspace needs a directory: --workspace DIR[:ro]");
		if (!realpath(spec, real))
			return p_err(EXIT_USAGE, "workspace %s: %s", spec, strerror(errno));
		w = cJSON_CreateObject();
		cJSON_AddStringToObject(w, "path", real);
		cJSON_AddBoolToObject(w, "readonly", ro);
		cJSON_AddItemToArray(arr, w);
	}
	return 0;
}

/* sandbox.start / sandbox.exec, then the child enters, and we wait for it. */
static int enter(const char *verb, const char *name, char **cmd, char **ws, size_t nws)
{
	static const int fwd[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGWINCH };
	char *def_cmd[3] = { NULL, NULL, NULL }, path[PATH_MAX + 16], msg[ENTER_ERR_MAX + 1];
	struct enter e = { .name = name, .cmd = cmd, .cgroup_procs_fd = -1, .pidfd = -1,
			   .pty_slave = -1 };
	const cJSON *sb;
	struct termios saved, raw;
	bool restore_tty = false, created, started = false;
	sigset_t mask, oldmask;
	int ret, pfd[2] = { -1, -1 }, master = -1, sfd = -1, status, own_pidns = -1;
	cJSON *args, *owner, *reply = NULL;
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
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "name", name);
	owner = cJSON_AddObjectToObject(args, "owner");
	cJSON_AddNumberToObject(owner, "uid", e.ids.uid);
	cJSON_AddNumberToObject(owner, "gid", e.ids.gid);
	/* '~' of the filesystem rules: the host's home, resolved, as `policy check` sends it */
	invoking_home(path, sizeof(path));
	cJSON_AddStringToObject(owner, "home", path);
	ret = workspace_args(args, ws, nws);
	if (ret) {
		cJSON_Delete(args);
		return ret;
	}
	ret = daemon_call(strcmp(verb, "exec") == 0 ? "sandbox.exec" : "sandbox.start", args, true,
			  &reply);
	if (ret)
		return ret;
	sb = cJSON_GetObjectItem(reply, "sandbox");
	created = cJSON_IsTrue(cJSON_GetObjectItem(reply, "created"));
	if (created && !e.as_user)
		note_nobody(name);
	e.env = cJSON_GetObjectItem(reply, "env");
	e.id_base = (uint32_t)cJSON_GetNumberValue(cJSON_GetObjectItem(sb, "id_base"));
	pick_cwd(&e, cJSON_GetObjectItem(sb, "workspaces"));
	snprintf(path, sizeof(path), "%s/cgroup.procs", jstr(sb, "cgroup"));
	e.cgroup_procs_fd = open(path, O_WRONLY | O_CLOEXEC);
	if (e.cgroup_procs_fd < 0) {
		ret = p_err(EXIT_FAIL, "cannot open %s: %s", path, strerror(errno));
		goto out;
	}
	e.pidfd = open_init(sb);
	if (e.pidfd < 0) {
		ret = p_err(EXIT_FAIL, "sandbox %s has no running init (%s); stop it (sbx stop %s) "
			    "and run it again", name, strerror(-e.pidfd), name);
		goto out;
	}
	if (isatty(0)) {
		ret = open_pty((pid_t)cJSON_GetNumberValue(cJSON_GetObjectItem(sb, "init_pid")),
			       &master, &e.pty_slave);
		if (!ret && fchown(e.pty_slave, e.id_base + e.ids.uid, e.id_base + e.ids.gid))
			ret = -errno;
		if (ret) {
			ret = p_err(EXIT_FAIL, "cannot open a pseudo-terminal in the sandbox: %s",
				    strerror(-ret));
			goto out;
		}
	}
	/*
	 * The command is born in the sandbox's pid namespace; we stay where we are, and so do
	 * any other children of ours (a sanitizer's tracer thread, a daemon started later).
	 */
	own_pidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
	if (own_pidns < 0 || setns(e.pidfd, CLONE_NEWPID)) {
		ret = p_err(EXIT_FAIL, "cannot join the sandbox's pid namespace: %s",
			    strerror(errno));
		goto out;
	}
	if (pipe2(pfd, O_CLOEXEC)) {
		ret = p_err(EXIT_FAIL, "pipe: %s", strerror(errno));
		goto out;
	}
	e.err_fd = pfd[1];
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
	if (setns(own_pidns, CLONE_NEWPID)) {
		kill(pid, SIGKILL);
		ret = p_err(EXIT_FAIL, "cannot return to our pid namespace: %s", strerror(errno));
		goto out;
	}
	close(pfd[1]);
	pfd[1] = -1;
	/* the child has its own copies now */
	close(e.cgroup_procs_fd);
	close(e.pidfd);
	e.cgroup_procs_fd = e.pidfd = -1;
	if (e.pty_slave >= 0) {
		/* only the child's copies left: the master reads EIO once they are closed */
		close(e.pty_slave);
		e.pty_slave = -1;
	}
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	/* the child's verdict on entering: EOF means it reached exec */
	n = 0;
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
		int fds[] = { e.cgroup_procs_fd, e.pidfd, e.pty_slave, master, pfd[0], pfd[1],
			      sfd, own_pidns };

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
	char *ws[SBX_WORKSPACES_MAX]; /* --workspace DIR[:ro] */
	size_t nws;
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
		{ "workspace", required_argument, NULL, 'w' },
		{ 0 },
	};
	bool is_exec = strcmp(a->verb, "exec") == 0;
	char err[SBX_ERR_MAX], rest[2048];
	int opt;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc + 1, argv - 1, is_exec ? "+:h" : "+:hw:", opts,
				  NULL)) != -1) {
		if (opt == 'h') {
			(is_exec ? help_exec : help_run)(stdout);
			return -1;
		}
		if (opt == 'w' && is_exec)
			return p_err(EXIT_USAGE, "sbx exec joins a running sandbox with the "
				     "workspaces it has; --workspace goes with sbx run");
		if (opt == 'w') {
			if (a->nws == SBX_WORKSPACES_MAX)
				return p_err(EXIT_USAGE, "at most %d workspaces", SBX_WORKSPACES_MAX);
			a->ws[a->nws++] = optarg;
			continue;
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
	return enter(a.verb, a.name, a.cmd, a.ws, a.nws);
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

/* The WORKSPACES cell: "PATH[:ro], ...", or "-" for none (and for attached cgroups). */
static void workspaces_cell(const cJSON *sb, char *out, size_t len)
{
	const cJSON *w;
	size_t off = 0;

	snprintf(out, len, "-");
	cJSON_ArrayForEach(w, cJSON_GetObjectItem(sb, "workspaces")) {
		bool ro = cJSON_IsTrue(cJSON_GetObjectItem(w, "readonly"));
		int n = snprintf(out + off, len - off, "%s%s%s", off ? "," : "", jstr(w, "path"),
				 ro ? ":ro" : "");

		if (n < 0 || (size_t)n >= len - off)
			break;
		off += (size_t)n;
	}
}

int do_sandbox_ls(int argc, char **argv)
{
	static const char *const hdr[] = { "NAME",	   "STATUS",  "ADDRESS",   "GATEWAY",
					   "PROCESSES", "CREATED", "WORKSPACES" };
	static char ws[SBX_WORKSPACES_MAX * (PATH_MAX + 4)];
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
	t = table_new(7, hdr);
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(reply, "sandboxes")) {
		const cJSON *procs = cJSON_GetObjectItem(it, "processes");
		const cJSON *created = cJSON_GetObjectItem(it, "created");
		char np[16], when[48];
		const char *cells[7];

		snprintf(np, sizeof(np), "%d", cJSON_IsNumber(procs) ? procs->valueint : 0);
		ago(cJSON_IsNumber(created) ? created->valuedouble : 0, when, sizeof(when));
		workspaces_cell(it, ws, sizeof(ws));
		cells[0] = jstr(it, "name");
		cells[1] = jstr(it, "status");
		cells[2] = *jstr(it, "ip") ? jstr(it, "ip") : "-";
		cells[3] = jstr(it, "gateway");
		cells[4] = np;
		cells[5] = when;
		cells[6] = ws;
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
