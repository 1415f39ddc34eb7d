// SPDX-License-Identifier: MIT
/*
 * sbxd, the sbx daemon: holds the instance lock, loads the policy store and
 * serves the control socket. It only wires the user/ libraries together.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "ev.h"
#include "fsutil.h"
#include "hostaddr.h"
#include "log.h"
#include "paths.h"
#include "policyd.h"
#include "egress.h"
#include "sandbox.h"

#define SBXD_VERSION "0.1.0"
#define CTL_CLIENTS_MAX 256
#define CTL_IDLE_MS 10000 /* a client that sends nothing for this long is dropped */
#define CTL_SPARE_FDS 8	  /* kept back for the control path: accept, /proc, NSS */
#define CTL_PAUSE_MS 100  /* out of descriptors even so: stop accepting this long, don't spin */

/*
 * Who may ask what (sbxd(8) "Authority"). Callers are root (or sbxd's own uid) and members
 * of the configured group; a caller inside a sandbox sbx made is refused outright, one inside
 * an attached cgroup may only read.
 */
enum authority {
	AUTH_GROUP,	       /* root or a group member */
	AUTH_ROOT,	       /* root only */
	AUTH_ROOT_IF_ATTACHED, /* root when the "name" argument is an attached cgroup */
};

struct verb {
	const char *op;	  /* the request's "op" */
	const char *name; /* the command as the user typed it, for errors */
	enum authority who;
	bool changes;	  /* changes enforcement: refused from inside an attached cgroup */
	const char *why;  /* why a non-root caller is refused */
};

static const struct verb verbs[] = {
	{ "status", "daemon status", AUTH_GROUP, false, NULL },
	{ "stop", "daemon stop", AUTH_ROOT, true,
	  "stopping sbxd cuts off the egress of every sandbox and attached cgroup" },
	{ "policy.ls", "policy ls", AUTH_GROUP, false, NULL },
	{ "policy.inspect", "policy inspect", AUTH_GROUP, false, NULL },
	{ "policy.check", "policy check", AUTH_GROUP, false, NULL },
	{ "policy.add", "policy allow/deny", AUTH_GROUP, true, NULL },
	{ "policy.rm", "policy rm", AUTH_GROUP, true, NULL },
	{ "policy.set_default", "policy set-default", AUTH_GROUP, true, NULL },
	{ "policy.reset", "policy reset", AUTH_ROOT, true,
	  "it stops every running sandbox and sbxd itself, which cuts off the egress of every "
	  "sandbox and attached cgroup" },
	{ "sandbox.ls", "ls", AUTH_GROUP, false, NULL },
	/* a new sandbox's cgroup is a way out of an attached one */
	{ "sandbox.start", "run", AUTH_GROUP, true, NULL },
	{ "sandbox.exec", "exec", AUTH_GROUP, true, NULL },
	{ "sandbox.stop", "stop", AUTH_ROOT_IF_ATTACHED, true,
	  "it is an attached cgroup, and stopping it kills processes sbx did not start" },
	{ "sandbox.rm", "rm", AUTH_ROOT_IF_ATTACHED, true,
	  "it is an attached cgroup, and removing it lifts enforcement from processes sbx did "
	  "not start" },
	{ "sandbox.attach", "attach", AUTH_ROOT, true,
	  "it changes the network of processes sbx did not start" },
};

/* Who is asking, found once per connection when it is accepted. */
struct peer {
	struct ucred cred;
	bool root;	/* uid 0 or sbxd's own uid */
	int where;	/* SBX_PEER_HOST or SBX_PEER_ATTACHED (sandboxes are refused) */
	char sandbox[64]; /* the attached cgroup's name */
};

struct client {
	int fd;
	char *in;
	size_t in_len;
	char *out;
	size_t out_len, out_off;
	bool shutdown_after;
	long timer;
	struct peer peer;
};

static struct {
	struct sbx_paths paths;
	struct sbx_config cfg;
	struct sbx_ev *ev;
	struct sbx_policyd *pd;
	struct sbx_sandboxes *sandboxes;
	struct sbx_bpf *bpf;
	struct sbx_egress *egress;
	int lock_fd, ctl_fd, sig_fd;
	time_t started;
	unsigned nclients;
	int spare[CTL_SPARE_FDS]; /* /dev/null, closed to make room for the control path */
	long ctl_paused;	  /* timer that resumes accepting, 0 when not paused */
	time_t emfile_logged;
} d = { .lock_fd = -1, .ctl_fd = -1, .sig_fd = -1 };

/*
 * The reserve of descriptors: however many connections sandboxes hold on the proxies, the
 * control path finds room to accept root's connection and to read who it is. Released just
 * before the control path needs descriptors, filled again (as far as there is room) after.
 */
static void spare_release(void)
{
	for (int i = 0; i < CTL_SPARE_FDS; i++) {
		if (d.spare[i] >= 0)
			close(d.spare[i]);
		d.spare[i] = -1;
	}
}

static void spare_fill(void)
{
	for (int i = 0; i < CTL_SPARE_FDS; i++)
		if (d.spare[i] < 0)
			d.spare[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static bool out_of_fds(int err)
{
	return err == -EMFILE || err == -ENFILE;
}

static void client_close(struct client *c)
{
	sbx_ev_del(d.ev, c->fd);
	if (c->timer > 0)
		sbx_ev_timer_cancel(d.ev, c->timer);
	close(c->fd);
	if (c->shutdown_after) {
		pr_info("shutting down on request\n");
		sbx_ev_stop(d.ev);
	}
	free(c->in);
	free(c->out);
	free(c);
	d.nclients--;
	spare_fill();
}

static void client_idle(struct sbx_ev *ev, void *arg)
{
	struct client *c = arg;

	c->timer = 0;
	pr_debug("control client idle, dropped\n");
	client_close(c);
}

static cJSON *handle_status(void)
{
	cJSON *r = sbx_ctl_ok();

	cJSON_AddNumberToObject(r, "pid", getpid());
	cJSON_AddStringToObject(r, "version", SBXD_VERSION);
	cJSON_AddStringToObject(r, "instance", d.paths.instance);
	cJSON_AddStringToObject(r, "state_dir", d.paths.state_dir);
	cJSON_AddStringToObject(r, "run_dir", d.paths.run_dir);
	cJSON_AddStringToObject(r, "bpf_dir", d.paths.bpf_dir);
	cJSON_AddStringToObject(r, "default", sbx_preset_name(sbx_policyd_preset(d.pd)));
	cJSON_AddNumberToObject(r, "rules", (double)sbx_policy_count(sbx_policyd_policy(d.pd)));
	cJSON_AddNumberToObject(r, "started", (double)d.started);
	cJSON_AddNumberToObject(r, "uptime", (double)(time(NULL) - d.started));
	return r;
}

/*
 * What `sbx policy check` classifies addresses against, as of now: the host's
 * addresses (the sandboxes' gateways among them), the sandbox pool, sbx's ports.
 */
static void check_env_refresh(void)
{
	const uint16_t ports[] = { d.cfg.proxy_port, d.cfg.transparent_port, d.cfg.dns_port };
	struct sbx_addr_env env;
	int ret = sbx_addr_env_build(&env, d.cfg.sandbox_pool, ports, 3);

	if (ret)
		pr_warn("sbxd: cannot list this host's addresses for check: %s\n", strerror(-ret));
	sbx_policyd_set_env(d.pd, &env);
}

/*
 * The requests that put traffic under the policy: until a default is chosen they are answered
 * "no-default" (the CLI's chooser), unless the caller goes on under no rule ("no_default_ok").
 */
static bool needs_default(const char *op, const cJSON *args)
{
	static const char *const ops[] = { "sandbox.start", "sandbox.exec", "sandbox.attach" };

	if (sbx_policyd_preset(d.pd) != SBX_PRESET_NONE ||
	    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(args, "no_default_ok")))
		return false;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(op, ops[i]) == 0)
			return true;
	return false;
}

static const struct verb *verb_find(const char *op)
{
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(verbs[i].op, op) == 0)
			return &verbs[i];
	return NULL;
}

/* NULL when @p may ask @v with @args, else the refusal saying what and why. */
static cJSON *authorize(const struct verb *v, const cJSON *args, const struct peer *p)
{
	const char *name = sbx_json_arg(args, "name");

	if (v->changes && p->where == SBX_PEER_ATTACHED)
		return sbx_ctl_error(1, "denied",
				     "%s refused: the caller runs inside attached cgroup '%s', and "
				     "nothing under sbx's enforcement may change it",
				     v->name, p->sandbox);
	if (p->root)
		return NULL;
	if (v->who == AUTH_ROOT)
		return sbx_ctl_error(1, "denied", "%s needs root: %s", v->name, v->why);
	if (v->who == AUTH_ROOT_IF_ATTACHED && d.sandboxes &&
	    sbx_sandboxes_attached(d.sandboxes, name))
		return sbx_ctl_error(1, "denied", "%s %s needs root: %s", v->name, name,
				     v->why);
	return NULL;
}

static cJSON *dispatch(const char *line, const struct peer *peer, bool *shutdown)
{
	struct sbx_ctl_request req;
	const struct verb *v;
	const cJSON *args;
	const char *why;
	cJSON *reply;

	*shutdown = false;
	if (sbx_ctl_request_parse(line, &req, &why))
		return sbx_ctl_error(2, "bad-request", "%s", why);
	args = req.args;
	pr_debug("request %s\n", req.op);
	v = verb_find(req.op);
	if (!v) {
		reply = sbx_ctl_error(2, "bad-input", "unknown request '%s'", req.op);
		sbx_ctl_request_free(&req);
		return reply;
	}
	reply = authorize(v, args, peer);
	if (reply) {
		pr_info("refused %s from uid %u pid %d\n", v->op, peer->cred.uid, peer->cred.pid);
	} else if (strcmp(v->op, "status") == 0) {
		reply = handle_status();
	} else if (strcmp(v->op, "stop") == 0) {
		reply = sbx_ctl_ok();
		*shutdown = true;
	} else if (strcmp(v->op, "policy.reset") == 0) {
		/* seed 000: running sandboxes stop when the daemon shuts down for a reset */
		reply = sbx_policyd_handle(d.pd, v->op, args, shutdown);
		if (*shutdown)
			sbx_sandboxes_stop_all(d.sandboxes);
	} else if (needs_default(v->op, args)) {
		reply = sbx_ctl_error(2, "no-default",
				      "no default network policy has been chosen yet; choose one "
				      "(allow-all, balanced or deny-all) first: sbx policy "
				      "set-default balanced");
	} else if (strncmp(v->op, "sandbox.", 8) == 0 && d.sandboxes) {
		reply = sbx_sandboxes_handle(d.sandboxes, v->op, args, shutdown);
	} else {
		if (strcmp(v->op, "policy.check") == 0)
			check_env_refresh();
		reply = sbx_policyd_handle(d.pd, v->op, args, shutdown);
	}
	sbx_ctl_request_free(&req);
	return reply;
}

static void client_io(struct sbx_ev *ev, int fd, uint32_t events, void *arg)
{
	struct client *c = arg;

	if (c->out) {
		ssize_t n = send(fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0) {
			client_close(c);
			return;
		}
		c->out_off += (size_t)n;
		if (c->out_off == c->out_len)
			client_close(c);
		return;
	}
	for (;;) {
		char buf[4096], *nl, *tmp;
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		cJSON *reply;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			client_close(c);
			return;
		}
		if (c->in_len + (size_t)n > SBX_CTL_REQ_MAX) {
			pr_warn("control request too large, dropped\n");
			client_close(c);
			return;
		}
		tmp = realloc(c->in, c->in_len + (size_t)n + 1);
		if (!tmp) {
			client_close(c);
			return;
		}
		c->in = tmp;
		memcpy(c->in + c->in_len, buf, (size_t)n);
		c->in_len += (size_t)n;
		c->in[c->in_len] = '\0';
		nl = memchr(c->in, '\n', c->in_len);
		if (!nl)
			continue;
		*nl = '\0';
		/* a handler may need descriptors (the store's temp file and directory) */
		spare_release();
		reply = dispatch(c->in, &c->peer, &c->shutdown_after);
		spare_fill();
		c->out = reply ? cJSON_PrintUnformatted(reply) : NULL;
		cJSON_Delete(reply);
		if (!c->out) {
			client_close(c);
			return;
		}
		c->out_len = strlen(c->out);
		c->out[c->out_len++] = '\n';
		sbx_ev_mod(ev, fd, EPOLLOUT);
		return;
	}
}

/* Send a refusal and close: the client reads it even before it has finished asking. */
static void refuse(int cfd, const char *kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void refuse(int cfd, const char *kind, const char *fmt, ...)
{
	char msg[1024], *out;
	cJSON *j;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	j = sbx_ctl_error(1, kind, "%s", msg);
	out = j ? cJSON_PrintUnformatted(j) : NULL;
	if (out) {
		size_t n = strlen(out);

		out[n++] = '\n'; /* room: the NUL was there */
		send(cfd, out, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	free(out);
	cJSON_Delete(j);
	close(cfd);
}

/*
 * Who the caller is and where it runs; 0, or -1 after refusing it. A sandboxed process never
 * reaches the socket (its mount namespace hides the run dir), but if one did, its cgroup
 * gives it away. What cannot be read is an error said as such, never a guess about the peer.
 */
static int identify(int cfd, struct peer *p)
{
	int pidfd, ret = sbx_ctl_peer_cred(cfd, &p->cred);

	if (ret) {
		refuse(cfd, "unavailable", "sbxd cannot read the caller's credentials: %s",
		       strerror(-ret));
		return -1;
	}
	p->root = p->cred.uid == 0 || p->cred.uid == geteuid();
	if (!p->root) {
		ret = sbx_ctl_in_group(p->cred.uid, p->cred.gid, d.cfg.gid);
		if (ret == 0) {
			pr_info("refused control connection from uid %u\n", p->cred.uid);
			refuse(cfd, "denied", "permission denied: sbx needs root (or membership "
			       "of the group set in the sbxd config)");
			return -1;
		}
		if (ret < 0)
			goto unknown;
	}
	/*
	 * The pid names the caller only while it lives: hold a pidfd over the /proc read and
	 * check after it that the caller has not exited (its pid could name another process).
	 */
	pidfd = sbx_ctl_peer_pidfd(cfd);
	if (pidfd < 0 && pidfd != -ENOPROTOOPT && pidfd != -EINVAL) {
		ret = pidfd;
		goto unknown;
	}
	ret = sbx_sandboxes_peer_where(d.sandboxes, p->cred.pid, p->sandbox, sizeof(p->sandbox));
	if (ret >= 0 && pidfd >= 0 && !sbx_pidfd_alive(pidfd))
		ret = -ESRCH;
	if (pidfd >= 0)
		close(pidfd);
	if (ret < 0)
		goto unknown;
	p->where = ret;
	if (p->where == SBX_PEER_SANDBOX) {
		pr_warn("refused control connection from inside a sandbox (pid %d)\n",
			p->cred.pid);
		refuse(cfd, "denied", "sbx cannot be controlled from inside a sandbox");
		return -1;
	}
	return 0;
unknown:
	if (out_of_fds(ret)) {
		pr_warn("control connection of pid %d: out of file descriptors\n", p->cred.pid);
		refuse(cfd, "unavailable", "sbxd is out of file descriptors; try again");
	} else if (ret == -ESRCH || ret == -ENOENT) {
		refuse(cfd, "unavailable", "the process that connected (pid %d) has exited, so "
		       "sbxd cannot tell where it runs", p->cred.pid);
	} else {
		refuse(cfd, "unavailable", "sbxd cannot tell who process %d (uid %u) is: %s",
		       p->cred.pid, p->cred.uid, strerror(-ret));
	}
	return -1;
}

static void ctl_resume(struct sbx_ev *ev, void *arg)
{
	d.ctl_paused = 0;
	sbx_ev_mod(ev, d.ctl_fd, EPOLLIN);
}

/* The listener stays readable while accept fails: stop watching it for a while, no spin. */
static void ctl_pause(int err)
{
	long t;

	if (d.ctl_paused)
		return;
	if (time(NULL) != d.emfile_logged) {
		d.emfile_logged = time(NULL);
		pr_warn("control socket: cannot accept: %s; pausing %d ms\n", strerror(-err),
			CTL_PAUSE_MS);
	}
	t = sbx_ev_timer(d.ev, CTL_PAUSE_MS, ctl_resume, NULL);
	if (t > 0 && !sbx_ev_mod(d.ev, d.ctl_fd, 0))
		d.ctl_paused = t;
	else if (t > 0)
		sbx_ev_timer_cancel(d.ev, t);
}

static void ctl_accept(struct sbx_ev *ev, int fd, uint32_t events, void *arg)
{
	/* the whole reserve is the control path's now; what is left goes back after */
	spare_release();
	for (int i = 0; i < 16; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		struct client *c;
		struct peer peer = { 0 };

		if (cfd < 0 && (errno == EINTR || errno == ECONNABORTED))
			continue;
		if (cfd < 0) {
			if (errno != EAGAIN)
				ctl_pause(-errno);
			break;
		}
		if (identify(cfd, &peer))
			continue;
		c = calloc(1, sizeof(*c));
		if (!c || d.nclients >= CTL_CLIENTS_MAX) {
			free(c);
			refuse(cfd, "unavailable", "sbxd is serving %u control connections; try "
			       "again", d.nclients);
			continue;
		}
		c->fd = cfd;
		c->peer = peer;
		d.nclients++;
		if (sbx_ev_add(ev, cfd, EPOLLIN, client_io, c)) {
			close(cfd);
			free(c);
			d.nclients--;
			continue;
		}
		c->timer = sbx_ev_timer(ev, CTL_IDLE_MS, client_idle, c);
	}
	spare_fill();
}

static void on_signal(struct sbx_ev *ev, int fd, uint32_t events, void *arg)
{
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) == sizeof(si)) {
		pr_info("signal %u, shutting down\n", si.ssi_signo);
		sbx_ev_stop(ev);
	}
}

static int take_lock(char *err, size_t errlen)
{
	char pid[32];
	int n;

	d.lock_fd = open(d.paths.lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (d.lock_fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", d.paths.lock, strerror(errno));
		return -errno;
	}
	if (flock(d.lock_fd, LOCK_EX | LOCK_NB)) {
		snprintf(err, errlen, "another sbxd already runs for %s (lock %s is held)",
			 d.paths.run_dir, d.paths.lock);
		return -EBUSY;
	}
	n = snprintf(pid, sizeof(pid), "%d\n", getpid());
	if (ftruncate(d.lock_fd, 0) || pwrite(d.lock_fd, pid, (size_t)n, 0) != n)
		pr_warn("cannot record pid in %s\n", d.paths.lock);
	return 0;
}

/*
 * Six descriptors a proxied connection: the soft limit's 1024 is far too few. Raised before
 * anything is opened.
 */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			pr_warn("cannot raise the descriptor limit to %llu: %s\n",
				(unsigned long long)rl.rlim_max, strerror(errno));
	}
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: sbxd [--ready-fd FD] [-v] [--help] [--version]\n"
		   "\n"
		   "The sbx daemon. The sbx command starts it on demand; run it by hand only\n"
		   "under a service manager. It stays in the foreground and logs to stderr.\n"
		   "\n"
		   "  --ready-fd FD  write \"ok\" (or the error) to FD once serving, then close it\n"
		   "  -v, --verbose  debug logging\n"
		   "\n"
		   "Environment: SBX_STATE_DIR, SBX_RUN_DIR, SBX_BPF_DIR, SBX_CONFIG,\n"
		   "SBX_DNS_UPSTREAM, SBX_INSTANCE (see sbxd(8)).\n");
}

static void ready(int fd, const char *msg)
{
	if (fd < 0)
		return;
	if (write(fd, msg, strlen(msg)) < 0)
		pr_debug("ready fd: %s\n", strerror(errno));
	close(fd);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ready-fd", required_argument, NULL, 'r' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	char err[1024];
	int ready_fd = -1, opt, ret = 1;
	sigset_t mask;

	opterr = 0; /* said below, in sbxd's words */
	while ((opt = getopt_long(argc, argv, ":vh", opts, NULL)) != -1) {
		char *end;
		long fd;

		switch (opt) {
		case 'r':
			errno = 0;
			fd = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || fd < 0 || fd > INT_MAX) {
				usage(stderr);
				fprintf(stderr, "sbxd: --ready-fd takes a file descriptor number, "
						"not '%s'\n", optarg);
				return 2;
			}
			ready_fd = (int)fd;
			break;
		case 'v':
			sbx_log_level = SBX_LOG_DEBUG;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("sbxd %s\n", SBXD_VERSION);
			return 0;
		default:
			usage(stderr);
			if (opt == ':')
				fprintf(stderr, "sbxd: option '%s' needs a value\n", argv[optind - 1]);
			else
				fprintf(stderr, "sbxd: unknown option '%s'\n", argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		fprintf(stderr, "sbxd: unexpected argument '%s' (sbxd takes options only)\n",
			argv[optind]);
		return 2;
	}
	sbx_log_timestamps = 1;
	if (sbx_log_level < SBX_LOG_INFO)
		sbx_log_level = SBX_LOG_INFO;
	sbx_log_libbpf();
	raise_nofile();
	for (int i = 0; i < CTL_SPARE_FDS; i++)
		d.spare[i] = -1;
	spare_fill();
	if (sbx_paths_init(&d.paths, err, sizeof(err)) ||
	    sbx_config_load(d.paths.config, &d.cfg, err, sizeof(err)))
		goto fail;
	ret = sbx_mkdir_p(d.paths.run_dir, 0755);
	if (!ret)
		ret = sbx_mkdir_p(d.paths.state_dir, 0700);
	if (ret) {
		snprintf(err, sizeof(err), "cannot create %s or %s: %s (run as root, or point "
			 "SBX_RUN_DIR/SBX_STATE_DIR somewhere writable)",
			 d.paths.run_dir, d.paths.state_dir, strerror(-ret));
		goto fail;
	}
	if (take_lock(err, sizeof(err)))
		goto fail;
	if (sbx_policyd_open(d.paths.state_dir, &d.pd, err, sizeof(err)))
		goto fail;
	if (sbx_bpf_open(d.paths.bpf_dir, &d.bpf))
		pr_warn("sbxd: no eBPF enforcement (see above): sandboxes cannot be created\n");
	if (sbx_sandboxes_open(&d.paths, &d.cfg,
			       &(struct sbx_sandbox_ports){ .fwd = d.cfg.proxy_port,
							    .tproxy = d.cfg.transparent_port,
							    .dns = d.cfg.dns_port },
			       d.bpf, &d.sandboxes, err, sizeof(err)))
		goto fail;
	sbx_sandboxes_set_policy(d.sandboxes, d.pd);
	ret = sbx_ev_new(&d.ev);
	if (ret) {
		snprintf(err, sizeof(err), "cannot create event loop: %s", strerror(-ret));
		goto fail;
	}
	/* the way out exists only where the kernel can force traffic through it */
	if (d.bpf) {
		struct sbx_egress_deps deps = {
			.ev = d.ev,
			.pd = d.pd,
			.sandboxes = d.sandboxes,
			.bpf = d.bpf,
			.cfg = &d.cfg,
			.fwd_port = d.cfg.proxy_port,
			.tproxy_port = d.cfg.transparent_port,
			.dns_port = d.cfg.dns_port,
		};
		char why[512];

		if (sbx_egress_start(&deps, &d.egress, why, sizeof(why))) {
			snprintf(err, sizeof(err), "%s (the ports are set in %s)", why,
				 d.paths.config);
			goto fail;
		}
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d.sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	ret = sbx_ctl_listen(d.paths.sock, d.cfg.gid, &d.ctl_fd);
	if (ret) {
		snprintf(err, sizeof(err), "cannot listen on %s: %s", d.paths.sock,
			 strerror(-ret));
		goto fail;
	}
	if (d.sig_fd < 0 || sbx_ev_add(d.ev, d.sig_fd, EPOLLIN, on_signal, NULL) ||
	    sbx_ev_add(d.ev, d.ctl_fd, EPOLLIN, ctl_accept, NULL)) {
		snprintf(err, sizeof(err), "cannot set up the event loop: %s", strerror(errno));
		goto fail;
	}
	d.started = time(NULL);
	pr_info("sbxd %s serving %s (state %s, default policy %s)\n", SBXD_VERSION,
		d.paths.sock, d.paths.state_dir, sbx_preset_name(sbx_policyd_preset(d.pd)));
	ready(ready_fd, "ok\n");
	ready_fd = -1;
	ret = sbx_ev_run(d.ev);
	if (ret)
		pr_warn("event loop failed: %s\n", strerror(-ret));
	ret = ret ? 1 : 0;
	goto out;
fail:
	ret = 1;
	pr_warn("sbxd: %s\n", err);
	ready(ready_fd, err);
out:
	spare_release();
	if (d.ctl_fd >= 0) {
		unlink(d.paths.sock);
		close(d.ctl_fd);
	}
	sbx_egress_stop(d.egress);
	sbx_ev_free(d.ev);
	sbx_sandboxes_free(d.sandboxes);
	sbx_bpf_close(d.bpf);
	sbx_policyd_free(d.pd);
	if (d.sig_fd >= 0)
		close(d.sig_fd);
	if (d.lock_fd >= 0)
		close(d.lock_fd); /* releases the lock last: the socket is gone by now */
	return ret;
}
