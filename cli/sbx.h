/* SPDX-License-Identifier: MIT */
/* What the sbx command's files share: dispatch, errors, output mode, the daemon call. */
#ifndef SBX_CLI_H
#define SBX_CLI_H

#include <stdbool.h>
#include <stdio.h>
#include <cjson/cJSON.h>

#include <sbx/paths.h>

#define SBX_VERSION "0.1.0"

/* Exit codes: 0 done, 1 failed at run time, 2 bad usage or bad input. */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

struct cmd {
	const char *cmd;
	int (*func)(int argc, char **argv);
};

extern bool json_output;
extern struct sbx_paths paths;

/* Run the command named by argv[0] from @cmds (exact or unique prefix). */
void usage_to_stderr(void);
/* @what: the words before the command ("sbx policy"), for the error that names its --help */
int cmd_select(const char *what, const struct cmd *cmds, int argc, char **argv,
	       int (*help)(int, char **));
/* Print an error (as {"error": ...} in JSON mode) and return @code. */
int p_err(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print @j to stdout, pretty, then free it. */
void print_json(cJSON *j);
/* With --json, print a daemon reply (without its "ok") and return true. */
bool json_reply(cJSON *reply);
/* A string member of a reply, "" when absent. */
const char *jstr(const cJSON *j, const char *key);
bool is_help(const char *arg);
/*
 * What '~' means in filesystem rules for the user asking (resolved, as rules are decided
 * on resolved paths): the SUDO_UID user's home, else $HOME, else the password database's.
 */
void invoking_home(char *out, size_t len);
/* Option parsing of the verbs: reset getopt (noting --json), and report its errors. */
void reset_opts(int argc, char **argv);
int bad_option(int opt, char **argv);

/*
 * Send @op with @args (consumed) to sbxd, starting it when @autostart.
 * On success returns 0 and the reply; otherwise prints why and returns the
 * exit code. A "no default policy" reply runs the first-start chooser on a
 * terminal and retries.
 */
int daemon_call(const char *op, cJSON *args, bool autostart, cJSON **reply);
/* Connect without starting; -ENOENT/-ECONNREFUSED when no daemon runs. */
int daemon_connect(int *fd);
int daemon_spawn(bool foreground);
/* Wait up to @ms for the running daemon to exit (its lock to be released). */
int daemon_wait_exit(int ms);

/* An aligned table; a cell may hold several lines (continuation rows). */
struct table;
struct table *table_new(int ncols, const char *const *headers);
void table_add(struct table *t, const char *const *cells);
/* Columns @gap spaces apart (3 unless set). */
void table_set_gap(struct table *t, int gap);
/* Replace cell @col of data row @row (0 is the first row after the headers). */
void table_set(struct table *t, size_t row, int col, const char *text);
/* What is left of @width for column @col once the other columns and the gaps are laid out. */
size_t table_room(const struct table *t, int col, size_t width);
void table_print(struct table *t, FILE *f);
void table_free(struct table *t);

int do_policy(int argc, char **argv);
int do_policy_log(int argc, char **argv);
int do_daemon(int argc, char **argv);
/* cli/run.c: sandboxes */
int do_run(int argc, char **argv);
int do_exec(int argc, char **argv);
int do_sandbox_ls(int argc, char **argv);
int do_sandbox_stop(int argc, char **argv);
int do_sandbox_rm(int argc, char **argv);
int do_attach(int argc, char **argv);

#endif
