// SPDX-License-Identifier: MIT
/*
 * `sbx policy log`: the verdict counters, read straight from the pinned BPF
 * map the proxy and the kernel programs write, so it works while sbxd is
 * down. --follow polls the map and prints each new verdict as it lands, one
 * line each under a header (sbx-policy(1), log).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include <sbx/bpf_abi.h>
#include <sbx/policy.h>
#include <sbx/verdicts.h>
#include "sbx.h"

#define FOLLOW_POLL_MS 250
#define LOG_ENTRIES_MAX SBX_MAX_VERDICTS

struct entry {
	struct sbx_verdict_key k;
	struct sbx_verdict_val v;
	char sandbox[SBX_SANDBOX_NAME_MAX];
	char host[SBX_VERDICT_HOST_MAX + 48];
	uint64_t when_ns; /* wall clock */
};

struct snapshot {
	struct entry *e;
	size_t n;
};

static const char *l4_name(uint8_t p)
{
	switch (p) {
	case 6:
		return "tcp";
	case 17:
		return "udp";
	case 1:
		return "icmp";
	case 58:
		return "icmpv6";
	default:
		return NULL;
	}
}

/* Kernel verdicts carry an address; proxy verdicts a host name. */
static void format_host(const struct sbx_verdict_key *k, char *out, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "";
	const char *proto = l4_name(k->l4proto);

	if (k->host[0]) {
		snprintf(out, len, "%.*s", (int)sizeof(k->host), k->host);
		return;
	}
	if (!k->family) { /* refused before it had a destination: a socket() call */
		if (proto || !k->l4proto)
			snprintf(out, len, "(%s socket)", proto ? proto : "raw");
		else
			snprintf(out, len, "(protocol %u socket)", k->l4proto);
		return;
	}
	inet_ntop(k->family == SBX_AF_INET ? AF_INET : AF_INET6, k->addr, a, sizeof(a));
	if (k->port)
		snprintf(out, len, k->family == SBX_AF_INET6 ? "[%s]:%u" : "%s:%u", a, k->port);
	else
		snprintf(out, len, "%s", a);
	if (proto)
		snprintf(out + strlen(out), len - strlen(out), " (%s)", proto);
}

struct collect {
	struct snapshot *s;
	int names_fd;
	const char *sandbox;
};

static int collect_one(const struct sbx_verdict_key *k, const struct sbx_verdict_val *v,
		       void *arg)
{
	struct collect *c = arg;
	struct entry *e;

	if (c->s->n == LOG_ENTRIES_MAX)
		return 1;
	e = &c->s->e[c->s->n];
	memset(e, 0, sizeof(*e));
	e->k = *k;
	e->v = *v;
	if (c->names_fd < 0 || sbx_bpf_sandbox_name(c->names_fd, k->sandbox_id, e->sandbox))
		snprintf(e->sandbox, sizeof(e->sandbox), "#%u", k->sandbox_id);
	if (c->sandbox && strcmp(c->sandbox, e->sandbox) != 0)
		return 0;
	format_host(k, e->host, sizeof(e->host));
	e->when_ns = sbx_bpf_boottime_to_realtime_ns(v->last_seen_ns);
	c->s->n++;
	return 0;
}

static int by_recent(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	return x->when_ns < y->when_ns ? 1 : x->when_ns > y->when_ns ? -1 : 0;
}

/* -ENOENT when nothing was ever enforced here (no pinned map). */
static int snapshot_take(struct snapshot *s, const char *sandbox)
{
	struct collect c = { s, -1, sandbox };
	int fd = sbx_bpf_open_pinned_map(paths.bpf_dir, SBX_MAP_VERDICTS), err;

	s->n = 0;
	if (fd < 0)
		return fd;
	if (!s->e)
		s->e = calloc(LOG_ENTRIES_MAX, sizeof(*s->e));
	if (!s->e) {
		close(fd);
		return -ENOMEM;
	}
	c.names_fd = sbx_bpf_open_pinned_map(paths.bpf_dir, SBX_MAP_SANDBOX_NAMES);
	err = sbx_bpf_verdict_foreach(fd, collect_one, &c);
	if (c.names_fd >= 0)
		close(c.names_fd);
	close(fd);
	qsort(s->e, s->n, sizeof(*s->e), by_recent);
	return err < 0 ? err : 0;
}

static void when_text(uint64_t ns, char *out, size_t len)
{
	time_t t = (time_t)(ns / 1000000000ull);
	struct tm tm;

	strftime(out, len, "%H:%M:%S %d-%b", localtime_r(&t, &tm));
}

/* JSON times are Unix time, as every other time sbx prints in JSON (created, started). */
static double when_unix(uint64_t ns)
{
	return (double)(ns / 1000000000ull);
}

static const char *rule_text(const struct entry *e, char *buf, size_t len)
{
	snprintf(buf, len, "%.*s", (int)sizeof(e->k.rule), e->k.rule);
	return buf[0] ? buf : "-";
}

/* The fields a verdict has in both JSON forms, the table's and --follow's. */
static cJSON *entry_json(const struct entry *e)
{
	char rule[SBX_VERDICT_RULE_MAX + 1];
	cJSON *j = cJSON_CreateObject();

	rule_text(e, rule, sizeof(rule));
	cJSON_AddStringToObject(j, "host", e->host);
	if (e->k.port)
		cJSON_AddNumberToObject(j, "port", e->k.port);
	cJSON_AddStringToObject(j, "sandbox", e->sandbox);
	cJSON_AddStringToObject(j, "type", "network");
	cJSON_AddStringToObject(j, "proxy_type", sbx_proxy_kind_name(e->k.proxy_kind));
	cJSON_AddStringToObject(j, "rule", strcmp(rule, "-") ? rule : "");
	cJSON_AddStringToObject(j, "reason", sbx_reason_name(e->k.reason));
	return j;
}

/*
 * One sentence for what stops the log, which reads the pinned maps itself: a group member
 * may use the control socket, but the pin directory is root's.
 */
static int read_error(int err)
{
	if (err == -EACCES || err == -EPERM)
		return p_err(EXIT_FAIL, "policy log reads the verdict maps pinned under %s: needs "
					"root (sudo sbx policy log)", paths.bpf_dir);
	return p_err(EXIT_FAIL, "cannot read the verdicts pinned under %s: %s", paths.bpf_dir,
		     strerror(-err));
}

/* What a rule can change: an allow, a deny lifted, an address rule (sbx-policy(1), Reasons). */
static bool rule_can_fix(uint8_t reason)
{
	return reason == SBX_REASON_DEFAULT_DENY || reason == SBX_REASON_DOMAIN_BLOCKED ||
	       reason == SBX_REASON_DNS_REFUSED || reason == SBX_REASON_PRIVATE_IP;
}

/*
 * Under the Blocked table: how to allow a host. The log keeps what was decided then, and
 * the policy may have changed since, so the fix for one host comes from `check`, which
 * decides it now; refusals no rule lifts are named as such.
 */
static void print_hints(const bool *shown_reasons)
{
	char limits[256] = "";
	size_t n = 0;
	bool fixable = false;

	for (unsigned r = 0; r < SBX_REASON__MAX; r++) {
		if (!shown_reasons[r])
			continue;
		if (rule_can_fix((uint8_t)r)) {
			fixable = true;
			continue;
		}
		n += (size_t)snprintf(limits + n, n < sizeof(limits) ? sizeof(limits) - n : 0,
				      "%s%s", n ? ", " : "", sbx_reason_name(r));
	}
	if (fixable)
		printf("\nTo allow a blocked host: sbx policy allow network HOST:PORT\n"
		       "What decides it now, and the fix: sbx policy check HOST:PORT\n");
	if (n)
		printf("%sNo rule allows what was refused as %s (see sbx-policy(1), Reasons).\n",
		       fixable ? "" : "\n", limits);
}

static void print_tables(const struct snapshot *s, size_t limit)
{
	static const char *const hdr[] = { "SANDBOX", "TYPE",	   "HOST",  "PROXY",
					   "RULE",    "REASON",	   "LAST SEEN", "COUNT" };

	for (int blocked = 1; blocked >= 0; blocked--) {
		struct table *t = table_new(8, hdr);
		bool reasons[SBX_REASON__MAX] = { false };
		size_t shown = 0;

		printf("%s requests:\n", blocked ? "Blocked" : "Allowed");
		for (size_t i = 0; i < s->n && shown < limit; i++) {
			const struct entry *e = &s->e[i];
			char when[32], count[24], rule[SBX_VERDICT_RULE_MAX + 1];
			const char *cells[8];

			if ((e->k.decision == SBX_DECISION_BLOCK) != blocked)
				continue;
			when_text(e->when_ns, when, sizeof(when));
			snprintf(count, sizeof(count), "%llu", (unsigned long long)e->v.count);
			cells[0] = e->sandbox;
			cells[1] = "network";
			cells[2] = e->host;
			cells[3] = sbx_proxy_kind_name(e->k.proxy_kind);
			cells[4] = rule_text(e, rule, sizeof(rule));
			cells[5] = sbx_reason_name(e->k.reason);
			cells[6] = when;
			cells[7] = count;
			table_add(t, cells);
			if (e->k.reason < SBX_REASON__MAX)
				reasons[e->k.reason] = true;
			shown++;
		}
		table_print(t, stdout);
		table_free(t);
		if (blocked) {
			print_hints(reasons);
			printf("\n");
		}
	}
}

static void print_json_log(const struct snapshot *s, size_t limit)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *blocked = cJSON_AddArrayToObject(root, "blocked_hosts");
	cJSON *allowed = cJSON_AddArrayToObject(root, "allowed_hosts");
	size_t nb = 0, na = 0;

	for (size_t i = 0; i < s->n; i++) {
		const struct entry *e = &s->e[i];
		bool is_blocked = e->k.decision == SBX_DECISION_BLOCK;
		cJSON *j;
		size_t *seen = is_blocked ? &nb : &na;

		if (*seen >= limit)
			continue;
		(*seen)++;
		j = entry_json(e);
		cJSON_AddNumberToObject(j, "last_seen", when_unix(e->when_ns));
		cJSON_AddNumberToObject(j, "count", (double)e->v.count);
		cJSON_AddItemToArray(is_blocked ? blocked : allowed, j);
	}
	print_json(root);
}

static volatile sig_atomic_t stop_follow;

static void on_stop(int sig)
{
	stop_follow = 1;
}

static uint64_t old_count(const struct snapshot *old, const struct entry *e)
{
	for (size_t i = 0; i < old->n; i++)
		if (memcmp(&old->e[i].k, &e->k, sizeof(e->k)) == 0)
			return old->e[i].v.count;
	return 0;
}

/*
 * The --follow columns: fixed widths, as the lines come one at a time (a longer cell pushes);
 * the header fits in 100 columns.
 */
#define FOLLOW_FMT "%-8s  %-10s  %-8s  %-26s  %-14s  %-18s  %s\n"

static void follow_json(const struct entry *e)
{
	cJSON *j = entry_json(e);
	char *line;

	cJSON_AddStringToObject(j, "decision",
				e->k.decision == SBX_DECISION_BLOCK ? "blocked" : "allowed");
	cJSON_AddNumberToObject(j, "time", when_unix(e->when_ns));
	line = cJSON_PrintUnformatted(j);
	if (line)
		printf("%s\n", line);
	free(line);
	cJSON_Delete(j);
}

static void follow_line(const struct entry *e)
{
	char when[16], rule[SBX_VERDICT_RULE_MAX + 1];
	time_t t = (time_t)(e->when_ns / 1000000000ull);
	struct tm tm;

	strftime(when, sizeof(when), "%H:%M:%S", localtime_r(&t, &tm));
	printf(FOLLOW_FMT, when, e->sandbox,
	       e->k.decision == SBX_DECISION_BLOCK ? "BLOCKED" : "ALLOWED", e->host,
	       sbx_proxy_kind_name(e->k.proxy_kind), sbx_reason_name(e->k.reason),
	       rule_text(e, rule, sizeof(rule)));
}

/*
 * Seed 001's live view: one line per verdict as it happens. What it follows goes to
 * standard error, so standard output holds only the table (or JSON lines) for a pipe.
 */
static int follow(const char *sandbox)
{
	struct snapshot a = { 0 }, b = { 0 }, *old = &a, *cur = &b;
	int err, ret = EXIT_OK;

	signal(SIGINT, on_stop);
	signal(SIGTERM, on_stop);
	err = snapshot_take(old, sandbox);
	if (err == -ENOENT)
		old->n = 0;
	else if (err)
		return read_error(err);
	if (sandbox)
		fprintf(stderr, "Following new verdicts of sandbox %s (Ctrl-C to stop)\n", sandbox);
	else
		fprintf(stderr, "Following new verdicts of all sandboxes (Ctrl-C to stop)\n");
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!json_output)
		printf(FOLLOW_FMT, "TIME", "SANDBOX", "DECISION", "HOST", "PROXY", "REASON",
		       "RULE");
	while (!stop_follow) {
		struct snapshot *tmp;

		usleep(FOLLOW_POLL_MS * 1000);
		err = snapshot_take(cur, sandbox);
		if (err == -ENOENT)
			continue; /* not enforced yet: keep waiting */
		if (err) {
			ret = read_error(err);
			break;
		}
		for (size_t i = cur->n; i-- > 0;) { /* oldest first */
			const struct entry *e = &cur->e[i];
			uint64_t before = old_count(old, e);

			for (uint64_t c = before; c < e->v.count && c < before + 100; c++) {
				if (json_output)
					follow_json(e);
				else
					follow_line(e);
			}
		}
		tmp = old;
		old = cur;
		cur = tmp;
	}
	free(a.e);
	free(b.e);
	return ret;
}

int do_policy_log(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "limit", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "type", required_argument, NULL, 't' },
		{ "follow", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *sandbox = NULL;
	struct snapshot s = { 0 };
	size_t limit = (size_t)-1;
	bool want_follow = false;
	int opt, err;

	reset_opts(argc, argv);
	/* long options only, as in every policy command (-h aside) */
	while ((opt = getopt_long(argc + 1, argv - 1, ":h", opts, NULL)) != -1) {
		switch (opt) {
		case 'n': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end || v < 1)
				return p_err(EXIT_USAGE, "--limit needs a positive number");
			limit = (size_t)v;
			break;
		}
		case 'j':
			json_output = true;
			break;
		case 't':
			if (strcmp(optarg, "network") == 0)
				break;
			if (strcmp(optarg, "filesystem") == 0 ||
			    strncmp(optarg, "filesystem:", 11) == 0)
				return p_err(EXIT_USAGE, "the log records network traffic only; "
							 "filesystem decisions are not logged yet");
			return p_err(EXIT_USAGE, "--type must be network");
		case 'f':
			want_follow = true;
			break;
		case 'h':
			printf("Usage: sbx policy log [SANDBOX] [--limit N] [--json] [--type network] "
			       "[--follow]\n"
			       "\n"
			       "Which hosts sandboxes contacted and the verdicts: Blocked and Allowed\n"
			       "tables (SANDBOX TYPE HOST PROXY RULE REASON LAST SEEN COUNT), most recent\n"
			       "first. Reads the counters pinned in the kernel, so it works while sbxd is\n"
			       "down; it needs root.\n"
			       "--follow prints each new verdict as it happens, one line each under the\n"
			       "header TIME SANDBOX DECISION HOST PROXY REASON RULE, until Ctrl-C; what\n"
			       "it follows is said on standard error.\n"
			       "--json prints {\"blocked_hosts\": [...], \"allowed_hosts\": [...]} with host,\n"
			       "port, sandbox, type, proxy_type, rule, reason, last_seen and count; with\n"
			       "--follow, one object a line with decision, host, port, sandbox, type,\n"
			       "proxy_type, rule, reason and time.\n");
			return EXIT_OK;
		default:
			return bad_option(opt, argv - 1);
		}
	}
	if (argc + 1 - optind > 1)
		return p_err(EXIT_USAGE, "policy log takes at most one SANDBOX argument");
	if (argc + 1 - optind == 1) {
		char err_text[SBX_ERR_MAX];

		sandbox = argv[optind - 1];
		if (sbx_sandbox_name_check(sandbox, err_text, sizeof(err_text)))
			return p_err(EXIT_USAGE, "%s", err_text);
	}
	if (want_follow)
		return follow(sandbox);
	err = snapshot_take(&s, sandbox);
	if (err && err != -ENOENT) {
		free(s.e);
		return read_error(err);
	}
	if (json_output)
		print_json_log(&s, limit);
	else
		print_tables(&s, limit);
	free(s.e);
	return EXIT_OK;
}
