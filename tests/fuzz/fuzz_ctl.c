/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for control-socket requests: sbx_ctl_request_parse (user/ctl.c, what
 * sbxd reads a request line with) and the policy service sbx_policyd_handle
 * (user/policyd.c) on a store in a private temporary state dir. The first byte picks the
 * starting default (none, allow-all, balanced, deny-all); the rest is up to REQUESTS_MAX
 * request lines handled in turn, so sequences like add-then-rm are reachable. Every input
 * starts from an empty store. Besides "no crash", it checks: a bad line is refused with a
 * reason; every reply is an object with a boolean "ok", an error carries a message, a code
 * (1 or 2) and a kind; every reply prints as one line that parses back; a change that
 * succeeded is in the store on disk, so a fresh policy service loads the same rules.
 * Built and run by `make fuzz` (see tests/fuzz/run.sh).
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sbx/conn.h>

#include "ctl.h"
#include "policyd.h"
#include "store.h"

#define REQUESTS_MAX 8
#define INPUT_MAX 8192

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[PATH_MAX];
static struct sbx_addr_env env; /* as sbxd sets it: host addresses, pool, own ports */

static void cleanup(void)
{
	sbx_store_remove(dir);
	rmdir(dir);
}

static void setup(void)
{
	struct sbx_addr a;
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");

	if (!base || !*base)
		base = "/tmp";
	snprintf(dir, sizeof(dir), "%s/sbx-fuzz-ctl-XXXXXX", base);
	if (!mkdtemp(dir))
		abort();
	atexit(cleanup);
	if (sbx_addr_parse("192.0.2.1", &a) != 1 || sbx_addr_env_add_host(&env, &a) ||
	    sbx_addr_parse("10.200.0.1", &a) != 1 || sbx_addr_env_add_host(&env, &a) ||
	    sbx_addr_env_add_port(&env, 3128) || sbx_addr_env_add_port(&env, 3153) ||
	    sbx_addr_parse("10.200.0.0", &a) != 1)
		abort();
	sbx_addr_env_set_pool(&env, &a, 16);
}

static void check_reply(const cJSON *reply)
{
	const cJSON *ok = cJSON_GetObjectItemCaseSensitive(reply, "ok");
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(reply, "code");
	char *line;
	cJSON *back;

	if (!cJSON_IsObject(reply) || !cJSON_IsBool(ok))
		abort();
	if (cJSON_IsFalse(ok) &&
	    (!sbx_json_arg(reply, "error") || !sbx_json_arg(reply, "kind") ||
	     !cJSON_IsNumber(code) || (code->valueint != 1 && code->valueint != 2)))
		abort();
	/* as sbxd sends it: one line */
	line = cJSON_PrintUnformatted(reply);
	if (!line || strchr(line, '\n'))
		abort();
	back = cJSON_Parse(line);
	if (!cJSON_IsObject(back))
		abort();
	cJSON_Delete(back);
	free(line);
}

/* What the policy service holds is what a restart would load. */
static void check_saved(struct sbx_policyd *pd)
{
	struct sbx_policyd *fresh = NULL;
	const struct sbx_policy *a = sbx_policyd_policy(pd), *b;
	char err[512];

	if (sbx_policyd_open(dir, &fresh, err, sizeof(err)))
		abort();
	b = sbx_policyd_policy(fresh);
	if (sbx_policyd_preset(fresh) != sbx_policyd_preset(pd) ||
	    sbx_policy_count(a) != sbx_policy_count(b))
		abort();
	for (size_t i = 0; i < sbx_policy_count(a); i++)
		if (strcmp(sbx_policy_rule(a, i)->id, sbx_policy_rule(b, i)->id))
			abort();
	sbx_policyd_free(fresh);
}

static void handle_line(struct sbx_policyd *pd, const char *line, bool *changed)
{
	struct sbx_ctl_request req;
	const char *why = NULL;
	bool shutdown = false;
	cJSON *reply;

	if (sbx_ctl_request_parse(line, &req, &why)) {
		if (!why || !*why || req.root)
			abort();
		return;
	}
	if (!req.op || (req.args && !cJSON_IsObject(req.args)))
		abort();
	/* the policy service's requests; the rest need a daemon with sandboxes */
	if (strncmp(req.op, "policy.", 7) == 0) {
		reply = sbx_policyd_handle(pd, req.op, req.args, &shutdown);
		if (!reply)
			abort();
		check_reply(reply);
		*changed = *changed || cJSON_IsTrue(cJSON_GetObjectItem(reply, "ok"));
		cJSON_Delete(reply);
	}
	sbx_ctl_request_free(&req);
	if (req.root || req.op)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const presets[] = { NULL, "allow-all", "balanced", "deny-all" };
	struct sbx_policyd *pd = NULL;
	char text[INPUT_MAX + 1], err[512], *line, *next;
	bool changed = false, shutdown;
	int n = 0;

	if (size < 1 || size > INPUT_MAX)
		return 0;
	if (!dir[0])
		setup();
	if (sbx_store_remove(dir) || sbx_policyd_open(dir, &pd, err, sizeof(err)))
		abort();
	sbx_policyd_set_env(pd, &env);
	if (presets[data[0] & 3]) {
		cJSON *args = cJSON_CreateObject(), *reply;

		cJSON_AddStringToObject(args, "value", presets[data[0] & 3]);
		reply = sbx_policyd_handle(pd, "policy.set_default", args, &shutdown);
		if (!cJSON_IsTrue(cJSON_GetObjectItem(reply, "ok")))
			abort();
		cJSON_Delete(reply);
		cJSON_Delete(args);
	}
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	for (line = text; line && n < REQUESTS_MAX; line = next, n++) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		handle_line(pd, line, &changed);
	}
	if (changed)
		check_saved(pd);
	sbx_policyd_free(pd);
	return 0;
}
