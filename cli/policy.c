// SPDX-License-Identifier: MIT
/*
 * `sbx policy`: ls, allow, deny, rm, inspect, check, reset, set-default.
 * The daemon owns the policy; these build requests and print its replies
 * as the seeds' tables, or as JSON with --json.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <sbx/policy.h>
#include <sbx/store.h>
#include "sbx.h"

#define STATUS_WRAP 30 /* the width seed 003 wraps inactive reasons at */

static int help_policy(int argc, char **argv)
{
	printf("Usage: sbx policy COMMAND [OPTIONS]\n"
	       "\n"
	       "Commands:\n"
	       "  ls [SANDBOX]            list rules, yours first (--expand, --type, --source,\n"
	       "                          --decision, --include-inactive, --json)\n"
	       "  allow TYPE RESOURCES    add an allow rule; TYPE is network, filesystem:read or\n"
	       "                          filesystem:write; RESOURCES a comma-separated list\n"
	       "  deny TYPE RESOURCES     add a deny rule (deny beats allow, whatever the specificity)\n"
	       "  rm RULE                 remove a rule you added, by its name or ID; or\n"
	       "  rm TYPE --resource R    take one resource out of your rules\n"
	       "  inspect RULE            show one rule in full\n"
	       "  check [network] TARGET  which rule decides a host, host:port, IP or URL, and why\n"
	       "  check filesystem PATH   may PATH be mounted read-only and read-write, and why\n"
	       "  set-default allow-all|balanced|deny-all\n"
	       "                          choose the baseline (Open, Balanced, Locked Down)\n"
	       "  reset [--force]         delete local rules, stop sbxd; the next command asks again\n"
	       "  log [SANDBOX]           verdicts: blocked and allowed hosts (--limit, --json,\n"
	       "                          --follow)\n"
	       "\n"
	       "Network resources: example.com, *.example.com (subdomains, not the root),\n"
	       "**.example.com (root and subdomains), ** (everything), any of those with :PORT,\n"
	       "localhost:PORT (a host service, reached as host.docker.internal:PORT),\n"
	       "10.1.2.3, 10.0.0.0/8, 2001:db8::/32 and [2001:db8::1]:22 (raw TCP to addresses).\n"
	       "Path patterns: ** (everything), ~ (your home), ~/src, /srv/data (that path),\n"
	       "/srv/** (every path below /srv), ~/**/.ssh (at any depth), /srv/*.git.\n"
	       "\n"
	       "Run 'sbx policy COMMAND --help' for details; see sbx-policy(1).\n");
	return EXIT_OK;
}

/*
 * getopt over argv with the verb as argv[0]; returns the option or -1. Only -h and -g are
 * short: the long names are the interface the seeds document, and undocumented letters had
 * come to mean different things in different verbs (-s was --sandbox or --source).
 */
static int next_opt(int argc, char **argv, const char *shortopts, const struct option *opts)
{
	return getopt_long(argc, argv, shortopts, opts, NULL);
}

/* getopt's complaint, in our words (and as JSON with --json). */
int bad_option(int opt, char **argv)
{
	const char *arg = argv[optind - 1];

	if (opt == ':')
		return p_err(EXIT_USAGE, "option '%s' needs a value", arg);
	return p_err(EXIT_USAGE, "unknown option '%s' (see --help)", arg);
}

/* Verbs with no other options: note --json and drop it from argv; returns the new argc. */
static int take_json(int argc, char **argv)
{
	int kept = 0;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json_output = true;
		else
			argv[kept++] = argv[i];
	}
	return kept;
}

/* --json anywhere on the line decides the output form, errors included. */
void reset_opts(int argc, char **argv)
{
	optind = 0;
	opterr = 0;
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], "--json") == 0)
			json_output = true;
}

/* Resources one per line, the way seed 003 lists multi-resource rules. */
static char *join_lines(const cJSON *arr)
{
	size_t len = 1;
	const cJSON *it;
	char *s, *p;

	cJSON_ArrayForEach(it, arr)
		len += strlen(cJSON_IsString(it) ? it->valuestring : "") + 1;
	s = p = calloc(1, len);
	if (!s)
		abort();
	cJSON_ArrayForEach(it, arr) {
		if (p != s)
			*p++ = '\n';
		p = stpcpy(p, cJSON_IsString(it) ? it->valuestring : "");
	}
	return s;
}

/* Columns of UTF-8 text. */
static size_t text_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

/* Byte offset of the character @cols columns into @s. */
static size_t col_offset(const char *s, size_t cols)
{
	size_t i = 0;

	for (; s[i] && cols; cols--)
		for (i++; s[i] && ((unsigned char)s[i] & 0xc0) == 0x80;)
			i++;
	return i;
}

/*
 * Append @s to @out (of @len bytes), in @room columns: a longer resource
 * loses its middle to "…", so both its start and its port stay in sight.
 * Returns true when it was cut.
 */
static bool append_fit(char *out, size_t len, const char *s, size_t room)
{
	size_t used = strlen(out), w = text_width(s), head, tail;

	if (w <= room || room < 3) {
		snprintf(out + used, len - used, "%s", s);
		return false;
	}
	head = (room - 1) / 2;
	tail = room - 1 - head;
	snprintf(out + used, len - used, "%.*s…%s", (int)col_offset(s, head), s,
		 s + col_offset(s, w - tail));
	return true;
}

/* A user's rule: one resource per line (seed 003), each fitted to @room columns. */
static char *rule_lines(const cJSON *arr, size_t room, bool *cut)
{
	size_t len = 1;
	const cJSON *it;
	char *s;

	cJSON_ArrayForEach(it, arr)
		len += strlen(cJSON_IsString(it) ? it->valuestring : "") + 4;
	s = calloc(1, len);
	if (!s)
		abort();
	cJSON_ArrayForEach(it, arr) {
		if (*s)
			strcat(s, "\n");
		if (append_fit(s, len, cJSON_IsString(it) ? it->valuestring : "", room))
			*cut = true;
	}
	return s;
}

/*
 * A default group on one line: "58 hosts: pypi.org:443, files.pythonhosted.org:443, …",
 * as many entries as fit in @room columns; a group of one shows it as it is.
 */
static char *group_line(const cJSON *arr, const char *noun, size_t room)
{
	int n = cJSON_GetArraySize(arr), shown = 0;
	char head[32], *s;
	size_t len = 64, w;
	const cJSON *it;

	if (n == 1)
		return rule_lines(arr, room, &(bool){ false });
	cJSON_ArrayForEach(it, arr)
		len += strlen(it->valuestring) + 2;
	s = calloc(1, len);
	if (!s)
		abort();
	snprintf(head, sizeof(head), "%d %s", n, noun);
	strcpy(s, head);
	w = text_width(head);
	cJSON_ArrayForEach(it, arr) {
		size_t add = strlen(it->valuestring) + 2; /* ": " or ", " before it */
		bool last = shown + 1 == n;

		/* room for it, and for ", …" after it unless it is the last */
		if (w + add + (last ? 0 : 3) > room)
			break;
		strcat(s, shown ? ", " : ": ");
		strcat(s, it->valuestring);
		w += add;
		shown++;
	}
	if (shown && shown < n)
		strcat(s, ", …");
	return s;
}

/* "inactive — reason" wrapped at STATUS_WRAP columns, as seed 003 shows it. */
static void wrap_status(const char *status, const char *why, char *out, size_t len)
{
	char text[512];
	size_t col = 0, o = 0;

	if (!why || !*why) {
		snprintf(out, len, "%s", status);
		return;
	}
	snprintf(text, sizeof(text), "%s — %s", status, why);
	for (char *w = strtok(text, " "); w && o + strlen(w) + 2 < len; w = strtok(NULL, " ")) {
		size_t wl = strlen(w);

		if (col && col + 1 + wl > STATUS_WRAP) {
			out[o++] = '\n';
			col = 0;
		} else if (col) {
			out[o++] = ' ';
			col++;
		}
		memcpy(out + o, w, wl);
		o += wl;
		col += wl;
	}
	out[o] = '\0';
}

#define LS_WIDTH 100   /* what `policy ls` fits in, or a wider terminal */
#define LS_GAP 2       /* between its columns */
#define LS_ROOM_MIN 16 /* RESOURCES never narrower, however long the names */

static void ls_help(void)
{
	printf("Usage: sbx policy ls [SANDBOX] [--type network|filesystem] [--include-inactive]\n"
	       "                     [--expand] [--decision allow|deny]\n"
	       "                     [--source user|default|local|kit|remote] [--json]\n"
	       "\n"
	       "Lists the active rules: PROVENANCE APPLIES_TO POLICY/RULE TYPE DECISION\n"
	       "RESOURCES, the rules you added first. Each default group takes one line with\n"
	       "its number of entries; the table fits 100 columns, a resource too long for it\n"
	       "is cut with '…'. The POLICY/RULE name is what 'sbx policy rm' and 'inspect'\n"
	       "take.\n"
	       "\n"
	       "  SANDBOX             only global rules and rules scoped to SANDBOX\n"
	       "  --expand, --wide    every entry of every rule, one per line, uncut\n"
	       "  --source user       only the rules you added; 'default': only the built-in\n"
	       "                      groups; local, kit, remote: by PROVENANCE (local covers\n"
	       "                      both)\n"
	       "  --include-inactive  also rules overridden by organization governance, with\n"
	       "                      a STATUS column\n"
	       "  --json              {\"rules\": [{\"id\", \"name\", \"provenance\",\n"
	       "                      \"applies_to\", \"type\", \"decision\", \"resources\",\n"
	       "                      \"status\", \"builtin\"}], \"default\"}, every entry (see\n"
	       "                      sbx-policy(1))\n"
	       "\n"
	       "When no rule matches the filters, 'no rules match' goes to standard error\n"
	       "and the exit status is 0.\n");
}

struct ls_view {
	size_t width;  /* what the tables fit in */
	bool inactive; /* a STATUS column */
	bool expand;   /* every entry, uncut */
	bool summarised, cut;
};

/*
 * One table of `policy ls`: the rules of @rules whose "builtin" is @groups.
 * Unless expanded, it fits LS_WIDTH: a group takes one line, a resource too
 * long is cut. Returns the number of rules printed.
 */
static int ls_table(const cJSON *rules, bool groups, struct ls_view *v)
{
	const char *hdr[] = { "PROVENANCE", "APPLIES_TO", "POLICY/RULE", "TYPE", "DECISION",
			      "STATUS",	    "RESOURCES" };
	const char *cols[7];
	int ncols = 0, rescol, row = 0;
	size_t room = SIZE_MAX;
	const cJSON *rule;
	struct table *t;

	for (int i = 0; i < 7; i++)
		if (i != 5 || v->inactive)
			cols[ncols++] = hdr[i];
	rescol = ncols - 1;
	t = table_new(ncols, cols);
	table_set_gap(t, LS_GAP);
	cJSON_ArrayForEach(rule, rules) {
		const char *cells[7];
		char status[600];
		int n = 0;

		if (cJSON_IsTrue(cJSON_GetObjectItem(rule, "builtin")) != groups)
			continue;
		cells[n++] = jstr(rule, "provenance");
		cells[n++] = jstr(rule, "applies_to");
		cells[n++] = jstr(rule, "name");
		cells[n++] = jstr(rule, "type");
		cells[n++] = jstr(rule, "decision");
		if (v->inactive) {
			wrap_status(jstr(rule, "status"), jstr(rule, "status_reason"), status,
				    sizeof(status));
			cells[n++] = status;
		}
		cells[n++] = ""; /* RESOURCES, once the room for it is known */
		table_add(t, cells);
	}
	if (!v->expand) {
		room = table_room(t, rescol, v->width);
		if (room < LS_ROOM_MIN)
			room = LS_ROOM_MIN;
	}
	cJSON_ArrayForEach(rule, rules) {
		const cJSON *res = cJSON_GetObjectItem(rule, "resources");
		char *cell;

		if (cJSON_IsTrue(cJSON_GetObjectItem(rule, "builtin")) != groups)
			continue;
		if (groups && !v->expand) {
			bool net = strcmp(jstr(rule, "type"), "network") == 0;

			cell = group_line(res, net ? "hosts" : "paths", room);
			v->summarised = v->summarised || cJSON_GetArraySize(res) > 1;
		} else {
			cell = rule_lines(res, room, &v->cut);
		}
		table_set(t, (size_t)row++, rescol, cell);
		free(cell);
	}
	if (row)
		table_print(t, stdout);
	table_free(t);
	return row;
}

/*
 * Two tables with seed 003's columns: the rules people added (or kits, or
 * their organization) first, then the built-in groups, each laid out to fit.
 */
static void ls_print(const cJSON *rules, bool inactive, bool expand)
{
	struct ls_view v = { .width = LS_WIDTH, .inactive = inactive, .expand = expand };
	struct winsize ws;
	int mine;

	/* a wider terminal shows more of each group */
	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 &&
	    ws.ws_col > LS_WIDTH)
		v.width = ws.ws_col;
	mine = ls_table(rules, false, &v);
	if (mine && mine < cJSON_GetArraySize(rules))
		printf("\n");
	ls_table(rules, true, &v);
	fflush(stdout);
	if (v.summarised && v.cut)
		fprintf(stderr, "Default groups are summarised and long resources cut: "
				"sbx policy ls --expand lists every entry in full.\n");
	else if (v.summarised)
		fprintf(stderr, "Default groups are summarised: sbx policy ls --expand lists "
				"every entry.\n");
	else if (v.cut)
		fprintf(stderr, "Long resources are cut to fit: sbx policy ls --expand shows "
				"them in full.\n");
}

static int do_ls(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "type", required_argument, NULL, 't' },
		{ "include-inactive", no_argument, NULL, 'i' },
		{ "expand", no_argument, NULL, 'e' },
		{ "wide", no_argument, NULL, 'e' },
		{ "decision", required_argument, NULL, 'd' },
		{ "source", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	cJSON *args = cJSON_CreateObject(), *reply;
	bool expand = false, inactive = false;
	const cJSON *hidden, *rules;
	int opt, ret;

	reset_opts(argc, argv);
	while ((opt = next_opt(argc + 1, argv - 1, ":h", opts)) != -1) {
		switch (opt) {
		case 't':
			if (strcmp(optarg, "network") && strcmp(optarg, "filesystem")) {
				cJSON_Delete(args);
				return p_err(EXIT_USAGE, "--type must be network or filesystem, not '%s'",
					     optarg);
			}
			cJSON_AddStringToObject(args, "type", optarg);
			break;
		case 'i':
			inactive = true;
			cJSON_AddTrueToObject(args, "include_inactive");
			break;
		case 'e':
			expand = true;
			break;
		case 'd':
			cJSON_AddStringToObject(args, "decision", optarg);
			break;
		case 's':
			cJSON_AddStringToObject(args, "source", optarg);
			break;
		case 'j':
			json_output = true;
			break;
		case 'h':
			cJSON_Delete(args);
			ls_help();
			return EXIT_OK;
		default:
			cJSON_Delete(args);
			return bad_option(opt, argv - 1);
		}
	}
	if (argc + 1 - optind > 1) {
		cJSON_Delete(args);
		return p_err(EXIT_USAGE, "policy ls takes at most one SANDBOX argument");
	}
	if (argc + 1 - optind == 1) {
		const char *sandbox = argv[optind - 1];
		char err[SBX_ERR_MAX];

		if (sbx_sandbox_name_check(sandbox, err, sizeof(err))) {
			cJSON_Delete(args);
			return p_err(EXIT_USAGE, "%s", err);
		}
		cJSON_AddStringToObject(args, "sandbox", sandbox);
	}
	ret = daemon_call("policy.ls", args, true, &reply);
	if (ret)
		return ret;
	if (json_output) {
		cJSON *out = cJSON_CreateObject();

		cJSON_AddItemToObject(out, "rules",
				      cJSON_DetachItemFromObject(reply, "rules"));
		cJSON_AddItemToObject(out, "default", cJSON_DetachItemFromObject(reply, "default"));
		cJSON_Delete(reply);
		print_json(out);
		return EXIT_OK;
	}
	hidden = cJSON_GetObjectItem(reply, "hidden_inactive");
	if (cJSON_IsNumber(hidden) && hidden->valueint > 0)
		printf("Hidden %d inactive rules. Show with: sbx policy ls --include-inactive\n",
		       hidden->valueint);
	rules = cJSON_GetObjectItem(reply, "rules");
	if (cJSON_GetArraySize(rules) == 0)
		fprintf(stderr, "no rules match\n");
	else
		ls_print(rules, inactive, expand);
	cJSON_Delete(reply);
	return EXIT_OK;
}

static void add_help(FILE *f, const char *verb)
{
	fprintf(f, "Usage: sbx policy %s network|filesystem:read|filesystem:write\n"
	       "                        [--sandbox NAME | -g] [--name NAME] [--json] "
	       "[--] \"RESOURCE[,RESOURCE...]\"\n"
	       "\n"
	       "Adds one local %s rule covering every resource in the list. Without --sandbox\n"
	       "(or with -g/--global) it applies to all sandboxes. Changes apply to the next\n"
	       "connection of every sandbox at once.\n"
	       "\n"
	       "The rule is named local: and the first 8 characters of its ID, or NAME: up to\n"
	       "63 letters, digits, '-', '_' and '.', starting with a letter or digit, unique\n"
	       "among the rules of its scope. 'sbx policy rm' and 'inspect' take the name.\n"
	       "\n"
	       "Network resources: example.com, *.example.com, **.example.com, **, HOST:PORT,\n"
	       "localhost:PORT, IP, CIDR, [IPv6]:PORT. Filesystem resources: path patterns\n"
	       "starting with /, ~ or *.\n",
	       verb, verb);
}

/* Is @w exactly one of the verb's options, and does it take the next word as its value? */
static bool known_option(const char *w, const char *shortopts, const struct option *opts,
			 bool *takes_value)
{
	const char *c;

	*takes_value = false;
	if (w[1] == '-') {
		size_t n = strcspn(w + 2, "=");

		for (; opts->name; opts++) {
			if (strlen(opts->name) == n && strncmp(opts->name, w + 2, n) == 0) {
				*takes_value = opts->has_arg == required_argument && !w[2 + n];
				return true;
			}
		}
		return false;
	}
	c = w[1] && !w[2] && w[1] != ':' ? strchr(shortopts, w[1]) : NULL;
	if (c)
		*takes_value = c[1] == ':';
	return c != NULL;
}

/*
 * Copy the verb (@argv[-1]) and its @argc words into @av for getopt; return
 * the count. getopt reads '-a.com' after `allow network` as options, and
 * permutes: "unknown option 'network'". So a word in an operand's place that
 * starts with one '-' and is no option of the verb goes last, behind a "--":
 * the operand it stands in the place of, which the grammar then judges.
 * Bit N of @places is operand N (0: the first); the first such word moves.
 */
static int operands_first(int argc, char **argv, const char *shortopts,
			  const struct option *opts, unsigned places, char **av)
{
	int n = 0, operands = 0, moved = -1;
	bool value;

	av[n++] = argv[-1];
	for (int i = 0; i < argc; i++) {
		const char *w = argv[i];

		if (moved < 0 && operands >= 0) {
			if (strcmp(w, "--") == 0) {
				operands = -1; /* the rest is operands already */
			} else if (w[0] != '-' || !w[1]) {
				operands++;
			} else if (known_option(w, shortopts, opts, &value)) {
				if (value && i + 1 < argc)
					av[n++] = argv[i++];
			} else if (w[1] != '-' && operands < 8 && (places & 1u << operands)) {
				moved = i;
				continue;
			}
		}
		av[n++] = argv[i];
	}
	if (moved >= 0) {
		av[n++] = "--";
		av[n++] = argv[moved];
	}
	av[n] = NULL;
	return n;
}

/*
 * allow/deny with other than TYPE and one list: say what to write instead, the
 * resources given apart (allow network a.com b.com) joined into the one list.
 */
static int add_usage(const char *decision, char **rest, int nargs)
{
	char list[1024] = "";
	size_t used = 0;
	enum sbx_rule_type t;

	if (nargs == 0) {
		if (!json_output)
			add_help(stderr, decision);
		return p_err(EXIT_USAGE, "expected a rule type and a resource list");
	}
	if (sbx_type_parse(rest[0], &t))
		return p_err(EXIT_USAGE, "'%s' is not a rule type: give network, filesystem:read or "
					 "filesystem:write first, as in: sbx policy %s network %s",
			     rest[0], decision, rest[0]);
	if (nargs == 1)
		return p_err(EXIT_USAGE, "no resources given: sbx policy %s %s RESOURCE[,RESOURCE...]",
			     decision, rest[0]);
	for (int i = 1; i < nargs && used < sizeof(list); i++) {
		const char *r = rest[i];
		size_t n;

		r += strspn(r, ",");
		for (n = strlen(r); n && r[n - 1] == ','; n--)
			;
		if (n)
			used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%.*s",
						 used ? "," : "", (int)n, r);
	}
	return p_err(EXIT_USAGE, "one rule takes one comma-separated list of resources: sbx policy "
				 "%s %s '%s'",
		     decision, rest[0], list);
}

static int do_add(const char *decision, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sandbox", required_argument, NULL, 's' },
		{ "global", no_argument, NULL, 'g' },
		{ "name", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *sandbox = NULL, *name = NULL, *type, *resources;
	enum sbx_rule_type t;
	bool global = false;
	cJSON *args, *reply, *rule, *skipped;
	const cJSON *it;
	int opt, ret, nargs, ac;
	char **rest, *av[argc + 3];

	reset_opts(argc, argv);
	ac = operands_first(argc, argv, ":s:gn:jh", opts, 1u << 1, av); /* TYPE RESOURCES */
	while ((opt = next_opt(ac, av, ":gh", opts)) != -1) {
		switch (opt) {
		case 's':
			sandbox = optarg;
			break;
		case 'g':
			global = true;
			break;
		case 'n':
			name = optarg;
			break;
		case 'j':
			json_output = true;
			break;
		case 'h':
			add_help(stdout, decision);
			return EXIT_OK;
		default:
			return bad_option(opt, av);
		}
	}
	if (sandbox && global)
		return p_err(EXIT_USAGE, "--sandbox and --global exclude each other");
	rest = av + optind;
	nargs = ac - optind;
	if (nargs != 2)
		return add_usage(decision, rest, nargs);
	type = rest[0];
	resources = rest[1];
	if (sbx_type_parse(type, &t))
		return p_err(EXIT_USAGE,
			     "unknown rule type '%s': use network, filesystem:read or "
			     "filesystem:write",
			     type);
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "decision", decision);
	cJSON_AddStringToObject(args, "type", type);
	cJSON_AddStringToObject(args, "resources", resources);
	if (sandbox)
		cJSON_AddStringToObject(args, "sandbox", sandbox);
	if (name)
		cJSON_AddStringToObject(args, "name", name);
	ret = daemon_call("policy.add", args, true, &reply);
	if (ret)
		return ret;
	if (json_reply(reply))
		return EXIT_OK;
	skipped = cJSON_GetObjectItem(reply, "already_present");
	cJSON_ArrayForEach(it, skipped)
		printf("%s is already %s by a local rule\n", it->valuestring,
		       strcmp(decision, "allow") == 0 ? "allowed" : "denied");
	rule = cJSON_GetObjectItem(reply, "rule");
	if (rule) {
		char *res = join_lines(cJSON_GetObjectItem(rule, "resources"));

		for (char *p = res; (p = strchr(p, '\n'));)
			*p = ',';
		printf("Added %s: %s %s %s%s%s\n", jstr(rule, "name"), jstr(rule, "type"),
		       jstr(rule, "decision"), res, sandbox ? " for sandbox " : "",
		       sandbox ? sandbox : "");
		free(res);
	}
	cJSON_Delete(reply);
	return EXIT_OK;
}

static int do_allow(int argc, char **argv)
{
	return do_add("allow", argc, argv);
}

static int do_deny(int argc, char **argv)
{
	return do_add("deny", argc, argv);
}

static void rm_help(void)
{
	printf("Usage: sbx policy rm RULE [--json]\n"
	       "       sbx policy rm [TYPE] --id ID [--json]\n"
	       "       sbx policy rm TYPE --resource RESOURCE [--json]\n"
	       "\n"
	       "RULE is a rule's name, the POLICY/RULE column of 'sbx policy ls' (local:1a2b3c4d,\n"
	       "or the --name you gave), or its ID. An ID may be cut to a unique prefix of at\n"
	       "least 8 characters, with or without 'local:'. A name that several rules have\n"
	       "(in different scopes) is refused with the list of them: give the ID.\n"
	       "--resource takes RESOURCE out of every local rule of TYPE that lists it (a rule\n"
	       "left empty goes away). TYPE is network, filesystem:read or filesystem:write;\n"
	       "with --id it only checks the rule's type.\n"
	       "Default policy groups cannot be removed: deny their hosts instead.\n");
}

/* "local:1a2b3c4d: network deny ads.example.com for sandbox docs" */
static void rule_summary(const cJSON *rule, char *out, size_t len)
{
	char *res = join_lines(cJSON_GetObjectItem(rule, "resources"));
	const char *applies = jstr(rule, "applies_to");
	bool scoped = strncmp(applies, "sandbox:", 8) == 0;

	for (char *p = res; (p = strchr(p, '\n'));)
		*p = ',';
	snprintf(out, len, "%s: %s %s %s%s%s", jstr(rule, "name"), jstr(rule, "type"),
		 jstr(rule, "decision"), res, scoped ? " for sandbox " : "",
		 scoped ? applies + 8 : "");
	free(res);
}

static int do_rm(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "resource", required_argument, NULL, 'r' },
		{ "id", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *resource = NULL, *id = NULL, *word = NULL;
	struct sbx_resource canon;
	enum sbx_rule_type t;
	cJSON *args, *reply;
	const cJSON *rule;
	int opt, ret;
	char line[2048];

	reset_opts(argc, argv);
	while ((opt = next_opt(argc + 1, argv - 1, ":h", opts)) != -1) {
		switch (opt) {
		case 'r':
			resource = optarg;
			break;
		case 'i':
			id = optarg;
			break;
		case 'j':
			json_output = true;
			break;
		case 'h':
			rm_help();
			return EXIT_OK;
		default:
			return bad_option(opt, argv - 1);
		}
	}
	if (argc + 1 - optind > 1)
		return p_err(EXIT_USAGE, "usage: sbx policy rm RULE, sbx policy rm [TYPE] --id ID, "
					 "or sbx policy rm TYPE --resource RESOURCE");
	if (argc + 1 - optind == 1)
		word = argv[optind - 1];
	if (resource && id)
		return p_err(EXIT_USAGE, "give exactly one of --resource or --id");
	if (resource && !word)
		return p_err(EXIT_USAGE, "--resource needs the rule type: sbx policy rm network "
					 "--resource %s",
			     resource);
	if ((resource || id) && word && sbx_type_parse(word, &t))
		return p_err(EXIT_USAGE, "unknown rule type '%s': use network, filesystem:read or "
					 "filesystem:write",
			     word);
	if (!resource && !id && !word)
		return p_err(EXIT_USAGE, "give the rule to remove: sbx policy rm RULE (its name or "
					 "ID, see sbx policy ls)");
	if (!resource && !id && sbx_type_parse(word, &t) == 0)
		return p_err(EXIT_USAGE, "'%s' is a rule type: give --resource RESOURCE or --id ID "
					 "after it, or remove a rule by name: sbx policy rm RULE",
			     word);
	args = cJSON_CreateObject();
	if (resource || id) {
		if (word)
			cJSON_AddStringToObject(args, "type", word);
		if (resource)
			cJSON_AddStringToObject(args, "resource", resource);
		else
			cJSON_AddStringToObject(args, "id", id);
	} else {
		cJSON_AddStringToObject(args, "rule", word);
	}
	ret = daemon_call("policy.rm", args, true, &reply);
	if (ret)
		return ret;
	if (json_reply(reply))
		return EXIT_OK;
	/* the resource as rules list it (Three.Example.com. is three.example.com) */
	if (resource && !sbx_resource_parse(t, resource, &canon, line, sizeof(line)))
		resource = canon.text;
	cJSON_ArrayForEach(rule, cJSON_GetObjectItem(reply, "rules")) {
		if (!resource) {
			rule_summary(rule, line, sizeof(line));
			printf("Removed %s\n", line);
		} else if (cJSON_GetArraySize(cJSON_GetObjectItem(rule, "resources")) == 1) {
			printf("Removed %s, and rule %s with it (it had nothing else)\n", resource,
			       jstr(rule, "name"));
		} else {
			printf("Removed %s from rule %s\n", resource, jstr(rule, "name"));
		}
	}
	cJSON_Delete(reply);
	return EXIT_OK;
}

static void print_rule(const cJSON *rule)
{
	const cJSON *created = cJSON_GetObjectItem(rule, "created"), *it;
	const char *why = jstr(rule, "status_reason");
	bool first = true;

	printf("ID:          %s\n", jstr(rule, "id"));
	printf("Name:        %s\n", jstr(rule, "name"));
	printf("Provenance:  %s\n", jstr(rule, "provenance"));
	printf("Applies to:  %s\n", jstr(rule, "applies_to"));
	printf("Type:        %s\n", jstr(rule, "type"));
	printf("Decision:    %s\n", jstr(rule, "decision"));
	printf("Status:      %s%s%s\n", jstr(rule, "status"), *why ? " — " : "", why);
	printf("Built-in:    %s\n",
	       cJSON_IsTrue(cJSON_GetObjectItem(rule, "builtin")) ? "yes (cannot be removed)"
								   : "no");
	if (cJSON_IsNumber(created)) {
		char ts[64];
		time_t when = (time_t)created->valuedouble;
		struct tm tm;

		strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S %Z", localtime_r(&when, &tm));
		printf("Created:     %s\n", ts);
	}
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(rule, "resources")) {
		printf("%s%s\n", first ? "Resources:   " : "             ", it->valuestring);
		first = false;
	}
}

static int do_inspect(int argc, char **argv)
{
	cJSON *args, *reply;
	int ret;

	argc = take_json(argc, argv);
	for (int i = 0; i < argc; i++) {
		if (is_help(argv[i])) {
			printf("Usage: sbx policy inspect RULE [--json]\n\n"
			       "Shows one rule in full. RULE is its name (the POLICY/RULE\n"
			       "column of 'sbx policy ls', such as local:1a2b3c4d or\n"
			       "default-ai-services) or its ID, with or without 'local:', or a\n"
			       "unique ID prefix of 8+ characters.\n");
			return EXIT_OK;
		}
	}
	for (int i = 0; i < argc; i++) /* no name or ID starts with '-' */
		if (argv[i][0] == '-')
			return p_err(EXIT_USAGE, "unknown option '%s' (see --help)", argv[i]);
	if (argc != 1)
		return p_err(EXIT_USAGE, "usage: sbx policy inspect RULE [--json]");
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "rule", argv[0]);
	ret = daemon_call("policy.inspect", args, true, &reply);
	if (ret)
		return ret;
	if (json_output)
		print_json(cJSON_DetachItemFromObject(reply, "rule"));
	else
		print_rule(cJSON_GetObjectItem(reply, "rule"));
	cJSON_Delete(reply);
	return EXIT_OK;
}

/*
 * TARGET: host, host:port, IP, [v6]:port, or a URL whose scheme gives the
 * default port. A bare host means 443, as most traffic is HTTPS.
 */
static int parse_target(const char *target, char *host, size_t hostlen, int *port)
{
	char buf[1024], *p = buf, *end, *colon = NULL;
	const char *scheme_end = strstr(target, "://");

	*port = 443;
	if (strlen(target) >= sizeof(buf) || !*target)
		return -EINVAL;
	if (scheme_end) {
		size_t slen = (size_t)(scheme_end - target);

		if (slen == 4 && strncasecmp(target, "http", 4) == 0)
			*port = 80;
		else if (slen == 2 && strncasecmp(target, "ws", 2) == 0)
			*port = 80;
		else if (!((slen == 5 && strncasecmp(target, "https", 5) == 0) ||
			   (slen == 3 && strncasecmp(target, "wss", 3) == 0)))
			return -EPROTONOSUPPORT;
		target = scheme_end + 3;
	}
	snprintf(buf, sizeof(buf), "%s", target);
	if (scheme_end) {
		buf[strcspn(buf, "/?#")] = '\0';
		if (strchr(buf, '@'))
			p = strrchr(buf, '@') + 1;
	}
	if (*p == '[') {
		end = strchr(p, ']');
		if (!end)
			return -EINVAL;
		*end = '\0';
		if (end[1] == ':')
			colon = end + 1;
		else if (end[1])
			return -EINVAL;
		p++;
	} else if (strchr(p, ':') == strrchr(p, ':')) {
		colon = strchr(p, ':'); /* exactly one ':' is host:port; more is bare IPv6 */
		if (colon)
			*colon = '\0';
		else
			colon = NULL;
		if (colon)
			colon[0] = ':';
	}
	if (colon) {
		char *e;
		long v;

		*colon = '\0';
		if (!colon[1])
			return -EINVAL;
		v = strtol(colon + 1, &e, 10);
		if (*e || v < 1 || v > 65535)
			return -ERANGE;
		*port = (int)v;
	}
	if (!*p)
		return -EINVAL;
	snprintf(host, hostlen, "%s", p);
	return 0;
}

static void print_mount(const cJSON *m, const char *what, const char *path,
			const char *sandbox)
{
	const cJSON *rule = cJSON_GetObjectItem(m, "rule");

	printf("%s  %s mount of %s%s%s\n",
	       strcmp(jstr(m, "decision"), "allow") == 0 ? "ALLOWED" : "BLOCKED", what, path,
	       sandbox ? " in sandbox " : "", sandbox ? sandbox : "");
	if (cJSON_IsObject(rule))
		printf("rule:    %s (%s %s %s, %s)\n", jstr(rule, "name"), jstr(rule, "provenance"),
		       jstr(rule, "type"), jstr(rule, "decision"), jstr(m, "resource"));
	else
		printf("rule:    -\n");
	printf("reason:  %s\n", jstr(m, "reason"));
	printf("detail:  %s\n", jstr(m, "detail"));
	if (*jstr(m, "fix"))
		printf("fix:     %s\n", jstr(m, "fix"));
}

/* check filesystem PATH: the read-only and the read-write mount of PATH as sbx run would. */
static int check_path(const char *path, const char *sandbox)
{
	char resolved[PATH_MAX], home[PATH_MAX];
	cJSON *args, *reply;
	int ret;

	if (!realpath(path, resolved))
		return p_err(EXIT_USAGE, "cannot check %s: %s (give an existing directory)", path,
			     strerror(errno));
	invoking_home(home, sizeof(home));
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "path", resolved);
	cJSON_AddStringToObject(args, "home", home);
	if (sandbox)
		cJSON_AddStringToObject(args, "sandbox", sandbox);
	ret = daemon_call("policy.check", args, true, &reply);
	if (ret)
		return ret;
	if (json_reply(reply))
		return EXIT_OK;
	print_mount(cJSON_GetObjectItem(reply, "read_only"), "read-only", resolved, sandbox);
	printf("\n");
	print_mount(cJSON_GetObjectItem(reply, "read_write"), "read-write", resolved, sandbox);
	cJSON_Delete(reply);
	return EXIT_OK;
}

static int do_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sandbox", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *sandbox = NULL, *target;
	char host[1024], *av[argc + 3];
	cJSON *args, *reply;
	const cJSON *rule;
	int opt, ret, port, nargs, ac;
	char **rest;
	bool fs;

	reset_opts(argc, argv);
	/* [network] TARGET: '-a.com' is the target, whichever place it has */
	ac = operands_first(argc, argv, ":s:jh", opts, 1u << 0 | 1u << 1, av);
	while ((opt = next_opt(ac, av, ":h", opts)) != -1) {
		switch (opt) {
		case 's':
			sandbox = optarg;
			break;
		case 'j':
			json_output = true;
			break;
		case 'h':
			printf("Usage: sbx policy check [network] TARGET [--sandbox NAME] "
			       "[--json]\n"
			       "       sbx policy check filesystem PATH [--sandbox NAME] [--json]\n"
			       "\n"
			       "Shows whether a connection to TARGET would be allowed, the rule that\n"
			       "decides it and why. TARGET is a host (port 443), host:port, an IP\n"
			       "address, [IPv6]:port, or a URL (http:// means port 80, https:// 443).\n"
			       "With --sandbox, rules scoped to that sandbox count too. A refusal\n"
			       "ends with a fix: line, the command that would allow it (or why no\n"
			       "rule can), as the proxy's 403 page shows it.\n"
			       "\n"
			       "With filesystem, shows whether the existing directory PATH (symlinks\n"
			       "resolved) may be mounted as a workspace read-only (filesystem:read)\n"
			       "and read-write (filesystem:read and filesystem:write), each with its\n"
			       "deciding rule, reason and fix. '~' in rules is your home directory\n"
			       "(the sudo caller's under sudo). A deny rule matching anything inside\n"
			       "PATH refuses the mount.\n");
			return EXIT_OK;
		default:
			return bad_option(opt, av);
		}
	}
	rest = av + optind;
	nargs = ac - optind;
	if (nargs == 2 && strcmp(rest[0], "network") == 0) {
		rest++;
		nargs--;
	}
	fs = nargs >= 1 && (strcmp(rest[0], "filesystem") == 0 ||
			    strcmp(rest[0], "filesystem:read") == 0 ||
			    strcmp(rest[0], "filesystem:write") == 0);
	if (fs && nargs == 2)
		return check_path(rest[1], sandbox);
	if (fs && nargs == 1)
		return p_err(EXIT_USAGE, "give the path after 'filesystem': sbx policy check "
					 "filesystem PATH");
	if (nargs == 1 && strcmp(rest[0], "network") == 0)
		return p_err(EXIT_USAGE, "give the target after 'network': sbx policy check network "
					 "HOST[:PORT]");
	if (nargs != 1)
		return p_err(EXIT_USAGE, "usage: sbx policy check [network] TARGET [--sandbox "
					 "NAME] [--json], or sbx policy check filesystem PATH");
	target = rest[0];
	ret = parse_target(target, host, sizeof(host), &port);
	if (ret == -EPROTONOSUPPORT)
		return p_err(EXIT_USAGE, "'%s': only http, https, ws and wss URLs can be checked",
			     target);
	if (ret == -ERANGE)
		return p_err(EXIT_USAGE, "'%s': port must be 1-65535", target);
	if (ret)
		return p_err(EXIT_USAGE, "'%s' is not a host, host:port, address or URL", target);
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "host", host);
	cJSON_AddNumberToObject(args, "port", port);
	if (sandbox)
		cJSON_AddStringToObject(args, "sandbox", sandbox);
	ret = daemon_call("policy.check", args, true, &reply);
	if (ret)
		return ret;
	if (json_reply(reply))
		return EXIT_OK;
	rule = cJSON_GetObjectItem(reply, "rule");
	{
		bool v6 = strchr(jstr(reply, "host"), ':') != NULL;

		printf("%s  %s%s%s:%d%s%s\n",
		       strcmp(jstr(reply, "decision"), "allow") == 0 ? "ALLOWED" : "BLOCKED",
		       v6 ? "[" : "", jstr(reply, "host"), v6 ? "]" : "",
		       cJSON_GetObjectItem(reply, "port")->valueint, sandbox ? " from sandbox " : "",
		       sandbox ? sandbox : "");
	}
	if (cJSON_IsObject(rule))
		printf("rule:    %s (%s %s, %s)\n", jstr(rule, "name"), jstr(rule, "provenance"),
		       jstr(rule, "decision"), jstr(reply, "resource"));
	else
		printf("rule:    -\n");
	printf("reason:  %s\n", jstr(reply, "reason"));
	printf("detail:  %s\n", jstr(reply, "detail"));
	if (*jstr(reply, "fix"))
		printf("fix:     %s\n", jstr(reply, "fix"));
	cJSON_Delete(reply);
	return EXIT_OK;
}

/* The chooser's names (seed 000) and other spellings, for the value they mean. */
static const struct {
	const char *said, *value;
} preset_aliases[] = {
	{ "open", "allow-all" }, { "allow", "allow-all" }, { "allowall", "allow-all" },
	{ "allow_all", "allow-all" }, { "allow-all", "allow-all" }, { "balanced", "balanced" },
	{ "locked down", "deny-all" }, { "locked-down", "deny-all" }, { "lockeddown", "deny-all" },
	{ "locked_down", "deny-all" }, { "locked", "deny-all" }, { "lockdown", "deny-all" },
	{ "deny", "deny-all" }, { "denyall", "deny-all" }, { "deny_all", "deny-all" },
	{ "deny-all", "deny-all" },
};

static int bad_preset(const char *said)
{
	for (size_t i = 0; i < sizeof(preset_aliases) / sizeof(preset_aliases[0]); i++)
		if (strcasecmp(said, preset_aliases[i].said) == 0)
			return p_err(EXIT_USAGE,
				     "'%s' is not a value set-default takes; did you mean: sbx "
				     "policy set-default %s",
				     said, preset_aliases[i].value);
	return p_err(EXIT_USAGE, "unknown default '%s': use allow-all (Open), balanced or "
				 "deny-all (Locked Down)",
		     said);
}

static int do_set_default(int argc, char **argv)
{
	enum sbx_preset preset;
	cJSON *args, *reply;
	int ret;

	argc = take_json(argc, argv);
	for (int i = 0; i < argc; i++) {
		if (is_help(argv[i])) {
			printf("Usage: sbx policy set-default allow-all|balanced|deny-all [--json]\n"
			       "\n"
			       "  allow-all  Open: all traffic allowed (a '**' allow rule)\n"
			       "  balanced   Default deny, with AI services, package managers, code\n"
			       "             hosts, container registries, cloud APIs, OS packages and\n"
			       "             certificate checks allowed\n"
			       "  deny-all   Locked Down: nothing allowed until you allow it\n"
			       "\n"
			       "Your own rules are kept. Use this in CI and other non-interactive\n"
			       "environments before any other sbx command.\n");
			return EXIT_OK;
		}
	}
	for (int i = 0; i < argc; i++)
		if (argv[i][0] == '-')
			return p_err(EXIT_USAGE, "unknown option '%s' (see --help)", argv[i]);
	if (argc != 1)
		return p_err(EXIT_USAGE, "give one default: allow-all (Open), balanced or deny-all "
					 "(Locked Down), as in: sbx policy set-default balanced");
	if (sbx_preset_parse(argv[0], &preset))
		return bad_preset(argv[0]);
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "value", argv[0]);
	ret = daemon_call("policy.set_default", args, true, &reply);
	if (ret)
		return ret;
	if (json_reply(reply))
		return EXIT_OK;
	printf("Default network policy: %s\n", argv[0]);
	cJSON_Delete(reply);
	return EXIT_OK;
}

/* No daemon: delete the store ourselves, holding its lock so none starts meanwhile. */
static int reset_offline(void)
{
	int fd = open(paths.lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644), err;

	if (fd < 0 && errno != ENOENT)
		return p_err(EXIT_FAIL, "cannot open %s: %s (run as root)", paths.lock,
			     strerror(errno));
	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB)) {
		close(fd);
		return p_err(EXIT_FAIL, "sbxd is starting or stopping; try again");
	}
	err = sbx_store_remove(paths.state_dir);
	if (fd >= 0)
		close(fd);
	if (err)
		return p_err(EXIT_FAIL, "cannot delete the policy store in %s: %s",
			     paths.state_dir, strerror(-err));
	return 0;
}

static int do_reset(int argc, char **argv)
{
	bool force = false, running, done = false;
	char sandboxes[PATH_MAX + 32];
	cJSON *reply;
	int fd, ret;

	reset_opts(argc, argv); /* --json anywhere: errors in JSON too */
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--force") == 0 || strcmp(argv[i], "-f") == 0) {
			force = true;
		} else if (strcmp(argv[i], "--json") == 0) {
			json_output = true;
		} else if (is_help(argv[i])) {
			printf("Usage: sbx policy reset [-f|--force] [--json]\n\n"
			       "Deletes the local policy store (your rules and the chosen default),\n"
			       "stops running sandboxes and the daemon. The next command asks for a\n"
			       "default policy again. Asks for confirmation unless --force.\n"
			       "--json prints {\"reset\": true}.\n");
			return EXIT_OK;
		} else {
			return p_err(EXIT_USAGE, "unknown argument '%s'", argv[i]);
		}
	}
	if (!force) {
		char answer[16] = "";

		if (!isatty(0))
			return p_err(EXIT_USAGE, "refusing to reset without confirmation; pass "
						 "--force");
		printf("This deletes every local policy rule and the default policy, and stops\n"
		       "the daemon and all running sandboxes. Continue? [y/N] ");
		fflush(stdout);
		if (!fgets(answer, sizeof(answer), stdin) ||
		    (answer[0] != 'y' && answer[0] != 'Y')) {
			printf("Aborted; nothing changed.\n");
			return EXIT_FAIL;
		}
	}
	running = daemon_connect(&fd) == 0;
	if (running)
		close(fd);
	snprintf(sandboxes, sizeof(sandboxes), "%s/sandboxes.json", paths.state_dir);
	/* sandboxes stop with a reset, and only sbxd knows how: start it for them */
	if (running || access(sandboxes, F_OK) == 0) {
		ret = daemon_call("policy.reset", cJSON_CreateObject(), true, &reply);
		if (!ret) {
			cJSON_Delete(reply);
			if (daemon_wait_exit(10000))
				return p_err(EXIT_FAIL,
					     "the policy store is gone but sbxd did not exit");
		} else if (running) {
			return ret;
		}
		done = !ret;
	}
	if (!done) {
		/* no daemon, or one that cannot start (a corrupt store): delete it ourselves */
		ret = reset_offline();
		if (ret)
			return ret;
	}
	if (json_output) {
		cJSON *j = cJSON_CreateObject();

		cJSON_AddBoolToObject(j, "reset", 1);
		print_json(j);
	} else {
		printf("Policy reset. The next sbx command asks for a default network policy;\n"
		       "to choose one now (allow-all, balanced or deny-all): sbx policy set-default "
		       "balanced\n");
	}
	return EXIT_OK;
}

static const struct cmd policy_cmds[] = {
	{ "ls", do_ls },
	{ "allow", do_allow },
	{ "deny", do_deny },
	{ "rm", do_rm },
	{ "inspect", do_inspect },
	{ "check", do_check },
	{ "set-default", do_set_default },
	{ "reset", do_reset },
	{ "log", do_policy_log },
	{ "help", help_policy },
	{ 0 },
};

int do_policy(int argc, char **argv)
{
	return cmd_select("sbx policy", policy_cmds, argc, argv, help_policy);
}
