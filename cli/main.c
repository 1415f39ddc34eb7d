// SPDX-License-Identifier: MIT
/* sbx: the command line. Dispatch, shared output helpers, `sbx help`. */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sbx/ctl.h>
#include <sbx/log.h>
#include "sbx.h"

bool json_output;
struct sbx_paths paths;

bool is_help(const char *arg)
{
	return strcmp(arg, "help") == 0 || strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

int p_err(int code, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (json_output) {
		cJSON *j = cJSON_CreateObject();

		cJSON_AddStringToObject(j, "error", msg);
		cJSON_AddNumberToObject(j, "code", code);
		print_json(j);
	} else {
		fprintf(stderr, "sbx: %s\n", msg);
	}
	return code;
}

void print_json(cJSON *j)
{
	char *s = cJSON_Print(j);

	if (s)
		printf("%s\n", s);
	free(s);
	cJSON_Delete(j);
}

bool json_reply(cJSON *reply)
{
	if (!json_output)
		return false;
	cJSON_DeleteItemFromObject(reply, "ok");
	print_json(reply);
	return true;
}

const char *jstr(const cJSON *j, const char *key)
{
	const char *v = sbx_json_str(j, key);

	return v ? v : "";
}

/*
 * Bad usage: the usage that follows goes to standard error, as every complaint
 * does; nothing else is printed on standard output after it.
 */
void usage_to_stderr(void)
{
	fflush(stdout);
	dup2(STDERR_FILENO, STDOUT_FILENO);
}

int cmd_select(const char *what, const struct cmd *cmds, int argc, char **argv,
	       int (*help)(int, char **))
{
	const struct cmd *found = NULL;
	size_t n;

	if (argc < 1) {
		usage_to_stderr();
		help(0, NULL);
		return EXIT_USAGE;
	}
	if (is_help(argv[0]))
		return help(argc, argv);
	n = strlen(argv[0]);
	for (const struct cmd *c = cmds; c->cmd; c++) {
		if (strcmp(c->cmd, argv[0]) == 0)
			return c->func(argc - 1, argv + 1);
		if (n && strncmp(c->cmd, argv[0], n) == 0) {
			if (found) {
				fprintf(stderr, "sbx: '%s' is ambiguous (%s or %s?)\n", argv[0],
					found->cmd, c->cmd);
				return EXIT_USAGE;
			}
			found = c;
		}
	}
	if (found)
		return found->func(argc - 1, argv + 1);
	return p_err(EXIT_USAGE, "unknown command '%s' (see %s --help)", argv[0], what);
}

static int do_help(int argc, char **argv)
{
	printf("Usage: sbx [-v|--verbose] COMMAND ...\n"
	       "       sbx --version | --help\n"
	       "\n"
	       "sbx confines the network egress of sandboxes: nothing leaves except through\n"
	       "a proxy that decides every connection against allow/deny rules.\n"
	       "\n"
	       "Commands:\n"
	       "  run       create and start a sandbox, run a command in it (default: a shell)\n"
	       "  exec      run a command in a running sandbox\n"
	       "  ls        list sandboxes\n"
	       "  stop      stop a sandbox's processes\n"
	       "  rm        remove a sandbox\n"
	       "  attach    enforce the policy on an existing cgroup (a CI job, a container)\n"
	       "  policy    list, add, remove and check network and filesystem rules\n"
	       "  daemon    start, stop or show the sbxd daemon\n"
	       "  version   print the version\n"
	       "\n"
	       "Run 'sbx COMMAND --help' for the options of each command; see sbx(1).\n"
	       "Exit status: 0 done, 1 failed, 2 bad usage or bad input, 3 sbxd not running\n"
	       "(daemon status only); run and exec exit with the command's status.\n");
	return argc < 0 ? EXIT_USAGE : EXIT_OK;
}

static int do_version(int argc, char **argv)
{
	reset_opts(argc, argv); /* --json anywhere: errors in JSON too */
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json_output = true;
		} else if (is_help(argv[i])) {
			printf("Usage: sbx version [--json]\n"
			       "\n"
			       "Prints the version. --json prints {\"version\": \"VERSION\"}.\n");
			return EXIT_OK;
		} else {
			return p_err(EXIT_USAGE, "unknown argument '%s' (see sbx version --help)",
				     argv[i]);
		}
	}
	if (json_output) {
		cJSON *j = cJSON_CreateObject();

		cJSON_AddStringToObject(j, "version", SBX_VERSION);
		print_json(j);
	} else {
		printf("sbx %s\n", SBX_VERSION);
	}
	return EXIT_OK;
}

static const struct cmd top_cmds[] = {
	{ "run", do_run },
	{ "exec", do_exec },
	{ "ls", do_sandbox_ls },
	{ "stop", do_sandbox_stop },
	{ "rm", do_sandbox_rm },
	{ "attach", do_attach },
	{ "policy", do_policy },
	{ "daemon", do_daemon },
	{ "version", do_version },
	{ "help", do_help },
	{ 0 },
};

int main(int argc, char **argv)
{
	char err[512];

	argc--;
	argv++;
	while (argc > 0 && argv[0][0] == '-') {
		if (strcmp(argv[0], "-v") == 0 || strcmp(argv[0], "--verbose") == 0) {
			sbx_log_level = SBX_LOG_DEBUG;
		} else if (strcmp(argv[0], "--version") == 0) {
			return do_version(0, NULL);
		} else if (is_help(argv[0])) {
			return do_help(0, NULL);
		} else {
			fprintf(stderr, "sbx: unknown option '%s'\n", argv[0]);
			return EXIT_USAGE;
		}
		argc--;
		argv++;
	}
	if (sbx_paths_init(&paths, err, sizeof(err)))
		return p_err(EXIT_USAGE, "%s", err);
	return cmd_select("sbx", top_cmds, argc, argv, do_help);
}

/*
 * What '~' means in filesystem rules for the user asking: under sudo the invoking user's
 * home (SUDO_UID), else $HOME, else the password database's.
 */
void invoking_home(char *out, size_t len)
{
	const char *sudo_uid = getenv("SUDO_UID"), *home = NULL;
	char resolved[PATH_MAX];
	struct passwd *pw = NULL;

	if (sudo_uid && *sudo_uid && strcmp(sudo_uid, "0") != 0) {
		char *end;
		unsigned long uid = strtoul(sudo_uid, &end, 10);

		if (!*end)
			pw = getpwuid((uid_t)uid);
		if (!pw && getenv("SUDO_USER"))
			pw = getpwnam(getenv("SUDO_USER"));
		home = pw ? pw->pw_dir : NULL;
	} else {
		home = getenv("HOME");
		if (!home || home[0] != '/') {
			pw = getpwuid(getuid());
			home = pw ? pw->pw_dir : NULL;
		}
	}
	/* the rules are decided on resolved paths: a home behind a symlink is resolved too */
	if (home && realpath(home, resolved))
		home = resolved;
	snprintf(out, len, "%s", home ? home : "");
}
