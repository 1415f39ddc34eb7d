// SPDX-License-Identifier: MIT
/*
 * Talking to sbxd: connect, start it on demand (seed 000: "when the daemon
 * restarts on the next command"), and the first-start policy chooser.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <sbx/ctl.h>
#include <sbx/ev.h>
#include <sbx/fsutil.h>
#include "sbx.h"

#define CALL_TIMEOUT_MS 60000
#define SPAWN_TIMEOUT_MS 15000

int daemon_connect(int *fd)
{
	return sbx_ctl_connect(paths.sock, fd);
}

/* sbxd next to this sbx (build/ or an install's bin/ and sbin/), else $PATH. */
static void find_sbxd(char *out, size_t len)
{
	char self[PATH_MAX], cand[PATH_MAX + 16];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	snprintf(out, len, "sbxd");
	if (n <= 0)
		return;
	self[n] = '\0';
	dirname(self);
	snprintf(cand, sizeof(cand), "%s/sbxd", self);
	if (access(cand, X_OK) == 0) {
		snprintf(out, len, "%s", cand);
		return;
	}
	snprintf(cand, sizeof(cand), "%s/../sbin/sbxd", self);
	if (access(cand, X_OK) == 0)
		snprintf(out, len, "%s", cand);
}

int daemon_spawn(bool foreground)
{
	char sbxd[PATH_MAX], fdarg[16], msg[1024];
	size_t used = 0;
	int pfd[2], ret;
	uint64_t deadline;
	pid_t pid;

	find_sbxd(sbxd, sizeof(sbxd));
	if (foreground) {
		execlp(sbxd, "sbxd", (char *)NULL);
		return p_err(EXIT_FAIL, "cannot run %s: %s", sbxd, strerror(errno));
	}
	ret = sbx_mkdir_p(paths.run_dir, 0755);
	if (ret)
		return p_err(EXIT_FAIL, "cannot create %s: %s (run as root)", paths.run_dir,
			     strerror(-ret));
	if (pipe2(pfd, O_CLOEXEC))
		return p_err(EXIT_FAIL, "pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		return p_err(EXIT_FAIL, "fork: %s", strerror(errno));
	if (pid == 0) {
		/* detach twice so the daemon is nobody's child and no session's */
		int null, log;

		setsid();
		if (fork() != 0)
			_exit(0);
		null = open("/dev/null", O_RDWR);
		log = open(paths.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (null >= 0)
			dup2(null, 0);
		if (log >= 0) {
			dup2(log, 1);
			dup2(log, 2);
		}
		/* fd 3 carries the ready message; dup2 clears its close-on-exec */
		if (pfd[1] == 3 ? fcntl(3, F_SETFD, 0) < 0 : dup2(pfd[1], 3) < 0)
			_exit(127);
		snprintf(fdarg, sizeof(fdarg), "3");
		execlp(sbxd, "sbxd", "--ready-fd", fdarg, (char *)NULL);
		snprintf(msg, sizeof(msg), "cannot run %s: %s", sbxd, strerror(errno));
		if (write(3, msg, strlen(msg)) < 0)
			_exit(126);
		_exit(127);
	}
	close(pfd[1]);
	waitpid(pid, NULL, 0);
	deadline = sbx_ev_now_ms() + SPAWN_TIMEOUT_MS;
	for (;;) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		uint64_t now = sbx_ev_now_ms();
		ssize_t n;

		if (now >= deadline || poll(&p, 1, (int)(deadline - now)) == 0) {
			close(pfd[0]);
			return p_err(EXIT_FAIL, "sbxd did not start within %d s (see %s)",
				     SPAWN_TIMEOUT_MS / 1000, paths.log);
		}
		n = read(pfd[0], msg + used, sizeof(msg) - 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
		if (used == sizeof(msg) - 1)
			break;
	}
	close(pfd[0]);
	msg[used] = '\0';
	if (strncmp(msg, "ok", 2) == 0)
		return 0;
	if (strstr(msg, "another sbxd already runs"))
		return 0; /* lost a race with another sbx command: that daemon serves us */
	return p_err(EXIT_FAIL, "cannot start sbxd: %s", used ? msg : "it exited at once");
}

int daemon_wait_exit(int ms)
{
	uint64_t deadline = sbx_ev_now_ms() + (uint64_t)ms;
	int fd = open(paths.lock, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	while (flock(fd, LOCK_SH | LOCK_NB)) {
		if (sbx_ev_now_ms() >= deadline) {
			close(fd);
			return -ETIMEDOUT;
		}
		usleep(20000);
	}
	close(fd);
	return 0;
}

/* Seed 000's chooser: the label, its line's text, and the set-default value it stands for. */
static const struct {
	const char *label, *text, *value;
} choices[] = {
	{ "Open", "All network traffic allowed, no restrictions.", "allow-all" },
	{ "Balanced", "Default deny, with common dev sites allowed.", "balanced" },
	{ "Locked Down", "All network traffic blocked unless you allow it.", "deny-all" },
};
#define NCHOICES ((int)(sizeof(choices) / sizeof(choices[0])))
#define CHOOSER_LINES 6 /* what draw_choices prints */

static void draw_choices(int sel, bool redraw)
{
	if (redraw)
		printf("\033[%dA", CHOOSER_LINES);
	for (int i = 0; i < NCHOICES; i++)
		printf("\r\033[K  %s %d. %-12s — %s\n", i == sel ? ">" : " ", i + 1,
		       choices[i].label, choices[i].text);
	printf("\r\033[K\n\r\033[K  Use ↑/↓ to navigate, Enter to select, or press 1–3.\n\r\033[K\n");
	fflush(stdout);
}

/* The terminal as the chooser found it, put back by a signal that ends us meanwhile. */
static struct termios chooser_tty;
static const int chooser_sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
#define CHOOSER_NSIGS (sizeof(chooser_sigs) / sizeof(chooser_sigs[0]))

static void chooser_signal(int sig)
{
	tcsetattr(0, TCSANOW, &chooser_tty);
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * Seed 000's first-start chooser; returns 0..2, or -1 when the user gives up (q, Ctrl-C,
 * Ctrl-D, Ctrl-\). The terminal is raw without ISIG, so Ctrl-C is a key here rather than a
 * SIGINT that would leave the terminal raw; other signals put it back before they end us.
 */
static int choose_default(void)
{
	struct sigaction sa = { .sa_handler = chooser_signal }, old_sa[CHOOSER_NSIGS];
	struct termios raw;
	int sel = 1, ret = -1;

	if (tcgetattr(0, &chooser_tty))
		return -1;
	for (size_t i = 0; i < CHOOSER_NSIGS; i++)
		sigaction(chooser_sigs[i], &sa, &old_sa[i]);
	raw = chooser_tty;
	raw.c_lflag &= ~(ICANON | ECHO | ISIG);
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	tcsetattr(0, TCSANOW, &raw);
	printf("Choose a default network policy:\n\n");
	draw_choices(sel, false);
	for (int keys = 0; keys < 10000; keys++) {
		char c;

		if (read(0, &c, 1) != 1)
			break;
		if (c >= '1' && c < '1' + NCHOICES) {
			/* show what the digit picked before taking it */
			sel = c - '1';
			draw_choices(sel, true);
			ret = sel;
			break;
		}
		if (c == '\r' || c == '\n') {
			ret = sel;
			break;
		}
		if (c == 'q' || c == 3 || c == 4 || c == 28) /* q, Ctrl-C, Ctrl-D, Ctrl-\ */
			break;
		if (c == 27) {
			char seq[2];

			if (read(0, &seq[0], 1) != 1 || read(0, &seq[1], 1) != 1)
				break;
			if (seq[0] == '[' && seq[1] == 'A')
				sel = sel > 0 ? sel - 1 : NCHOICES - 1;
			else if (seq[0] == '[' && seq[1] == 'B')
				sel = sel < NCHOICES - 1 ? sel + 1 : 0;
			draw_choices(sel, true);
		} else if (c == 'k' || c == 'j') {
			sel = c == 'k' ? (sel > 0 ? sel - 1 : NCHOICES - 1) :
					 (sel < NCHOICES - 1 ? sel + 1 : 0);
			draw_choices(sel, true);
		}
	}
	tcsetattr(0, TCSANOW, &chooser_tty);
	for (size_t i = 0; i < CHOOSER_NSIGS; i++)
		sigaction(chooser_sigs[i], &old_sa[i], NULL);
	return ret;
}

/*
 * Start sbxd and connect. Another command may be starting it at the same
 * time (it holds the lock but has no socket yet): wait for that one's socket,
 * and start again only if it gave up. Bounded by SPAWN_TIMEOUT_MS.
 */
static int connect_starting(int *fd)
{
	uint64_t deadline = sbx_ev_now_ms() + SPAWN_TIMEOUT_MS;
	int err = -ENOENT;

	for (int spawns = 0; spawns < 3 && sbx_ev_now_ms() < deadline; spawns++) {
		if (daemon_spawn(false))
			return EXIT_FAIL; /* daemon_spawn said why */
		while (sbx_ev_now_ms() < deadline) {
			err = daemon_connect(fd);
			if (err != -ENOENT && err != -ECONNREFUSED)
				return err;
			if (daemon_wait_exit(0) == 0)
				break; /* nobody holds the lock: that start failed, try ours again */
			usleep(20000);
		}
	}
	return err;
}

static int call_once(const char *op, const cJSON *args, bool autostart, cJSON **reply)
{
	cJSON *req = cJSON_CreateObject();
	int fd, err;

	*reply = NULL;
	err = daemon_connect(&fd);
	if ((err == -ENOENT || err == -ECONNREFUSED) && autostart)
		err = connect_starting(&fd);
	if (err == EXIT_FAIL)
		goto out_req;
	if (err == -ENOENT || err == -ECONNREFUSED) {
		err = p_err(EXIT_FAIL, "sbxd is not running (start it with: sbx daemon start)");
		goto out_req;
	}
	if (err) {
		err = p_err(EXIT_FAIL, "cannot connect to sbxd at %s: %s%s", paths.sock,
			    strerror(-err), err == -EACCES ? " (run as root)" : "");
		goto out_req;
	}
	cJSON_AddStringToObject(req, "op", op);
	cJSON_AddItemReferenceToObject(req, "args", (cJSON *)args);
	err = sbx_ctl_call(fd, req, reply, CALL_TIMEOUT_MS);
	close(fd);
	if (err)
		err = p_err(EXIT_FAIL, "no answer from sbxd: %s", strerror(-err));
out_req:
	cJSON_Delete(req);
	return err;
}

/* Ask on the terminal, save the choice and confirm it in one line; 0 or the exit code. */
static int choose_and_save(void)
{
	int choice = choose_default(), ret;
	cJSON *a, *r = NULL;

	if (choice < 0)
		return p_err(EXIT_FAIL, "no default policy chosen; nothing done");
	a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "value", choices[choice].value);
	ret = call_once("policy.set_default", a, true, &r);
	cJSON_Delete(a);
	if (!ret && !cJSON_IsTrue(cJSON_GetObjectItem(r, "ok")))
		ret = p_err(EXIT_FAIL, "cannot save the default policy: %s", jstr(r, "error"));
	if (!ret)
		printf("Default network policy: %s (%s)\n", choices[choice].label,
		       choices[choice].value);
	fflush(stdout);
	cJSON_Delete(r);
	return ret;
}

/*
 * sbxd refused @op: no default policy chosen yet. On a terminal the chooser asks; otherwise
 * a policy command fails (its error says how to choose), while a sandbox command says in one
 * line what is in force and goes on under it: nothing is allowed, which is what the sandbox
 * would get anyway, and a CI job that never chose stays confined (an attach refused would
 * leave its cgroup unconfined). Returns 0 to retry @op (with @args amended), -1 to fail with
 * sbxd's error, or the exit code.
 */
static int no_default(const char *op, cJSON *args)
{
	if (!json_output && isatty(0) && isatty(1))
		return choose_and_save();
	if (strncmp(op, "sandbox.", 8) != 0)
		return -1;
	fprintf(stderr, "sbx: no default network policy chosen yet, so every connection is blocked; "
			"choose one (allow-all, balanced or deny-all): sbx policy set-default "
			"balanced\n");
	cJSON_AddTrueToObject(args, "no_default_ok");
	return 0;
}

int daemon_call(const char *op, cJSON *args, bool autostart, cJSON **reply)
{
	int ret = call_once(op, args, autostart, reply);
	const cJSON *msg, *code;

	if (!ret && !cJSON_IsTrue(cJSON_GetObjectItem(*reply, "ok")) &&
	    strcmp(jstr(*reply, "kind"), "no-default") == 0) {
		ret = no_default(op, args);
		if (ret == 0) {
			cJSON_Delete(*reply);
			*reply = NULL;
			ret = call_once(op, args, autostart, reply);
		} else if (ret < 0) {
			ret = 0; /* sbxd's own error below */
		} else {
			cJSON_Delete(*reply);
			*reply = NULL;
		}
	}
	cJSON_Delete(args);
	if (ret)
		return ret;
	if (cJSON_IsTrue(cJSON_GetObjectItem(*reply, "ok")))
		return 0;
	msg = cJSON_GetObjectItem(*reply, "error");
	code = cJSON_GetObjectItem(*reply, "code");
	ret = p_err(cJSON_IsNumber(code) && code->valueint == 2 ? EXIT_USAGE : EXIT_FAIL, "%s",
		    cJSON_IsString(msg) ? msg->valuestring : "sbxd refused the request");
	cJSON_Delete(*reply);
	*reply = NULL;
	return ret;
}
