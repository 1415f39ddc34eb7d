// SPDX-License-Identifier: MIT
/* The policy.* requests of the control socket; see policyd.h. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>

#include <sbx/conn.h>

#include "ctl.h"
#include "policyd.h"
#include "store.h"

struct sbx_policyd {
	pthread_rwlock_t lock; /* proxy threads read the policy while requests change it */
	char state_dir[PATH_MAX];
	struct sbx_store st;
	struct sbx_policy *policy; /* defaults(preset) + local rules, compiled */
	struct sbx_addr_env env;   /* what check classifies addresses against */
};

#define BAD(...) sbx_ctl_error(2, "bad-input", __VA_ARGS__)
#define FAILED(...) sbx_ctl_error(1, "failed", __VA_ARGS__)

static struct sbx_policy *policy_build(const struct sbx_store *st)
{
	struct sbx_policy *p = sbx_policy_new();
	struct sbx_rule *defs = NULL;
	size_t ndefs = 0;
	int err;

	if (!p)
		return NULL;
	err = sbx_defaults_build(st->preset, &defs, &ndefs);
	for (size_t i = 0; !err && i < ndefs; i++)
		err = sbx_policy_add(p, &defs[i]);
	for (size_t i = 0; !err && i < st->nrules; i++)
		err = sbx_policy_add(p, &st->rules[i]);
	if (!err)
		err = sbx_policy_compile(p);
	sbx_rules_free(defs, ndefs);
	if (err) {
		sbx_policy_free(p);
		return NULL;
	}
	return p;
}

/* Is @id's first SBX_ID_PREFIX_MIN characters the start of another rule's ID? */
static bool prefix_shared(const struct sbx_rule *rules, size_t n, const char *id, size_t self)
{
	for (size_t i = 0; i < n; i++)
		if (i != self && strncmp(rules[i].id, id, SBX_ID_PREFIX_MIN) == 0)
			return true;
	return false;
}

/*
 * Rules added before names were short are called "local:" + their whole ID;
 * they get the short name new rules get. The old name still finds them,
 * as an ID. Saved with the next change.
 */
static void shorten_auto_names(struct sbx_store *st)
{
	for (size_t i = 0; i < st->nrules; i++) {
		struct sbx_rule *r = &st->rules[i];
		const char *tail = r->name + strlen(SBX_AUTO_NAME_PREFIX);

		if (strncmp(r->name, SBX_AUTO_NAME_PREFIX, strlen(SBX_AUTO_NAME_PREFIX)) ||
		    strcmp(tail, r->id) || prefix_shared(st->rules, st->nrules, r->id, i))
			continue;
		snprintf(r->name, sizeof(r->name), "%s%.*s", SBX_AUTO_NAME_PREFIX,
			 SBX_ID_PREFIX_MIN, r->id);
	}
}

int sbx_policyd_open(const char *state_dir, struct sbx_policyd **out, char *err, size_t errlen)
{
	struct sbx_policyd *pd = calloc(1, sizeof(*pd));
	int ret;

	if (!pd)
		return -ENOMEM;
	pthread_rwlock_init(&pd->lock, NULL);
	snprintf(pd->state_dir, sizeof(pd->state_dir), "%s", state_dir);
	ret = sbx_store_load(state_dir, &pd->st, err, errlen);
	if (ret == -ENOENT) {
		pd->st.preset = SBX_PRESET_NONE;
		ret = 0;
	}
	if (!ret) {
		shorten_auto_names(&pd->st);
		pd->policy = policy_build(&pd->st);
		if (!pd->policy) {
			snprintf(err, errlen, "cannot build the policy (built-in data broken?)");
			ret = -EINVAL;
		}
	}
	if (ret) {
		sbx_policyd_free(pd);
		return ret;
	}
	*out = pd;
	return 0;
}

void sbx_policyd_free(struct sbx_policyd *pd)
{
	if (!pd)
		return;
	sbx_store_release(&pd->st);
	sbx_policy_free(pd->policy);
	pthread_rwlock_destroy(&pd->lock);
	free(pd);
}

const struct sbx_policy *sbx_policyd_read_lock(struct sbx_policyd *pd)
{
	pthread_rwlock_rdlock(&pd->lock);
	return pd->policy;
}

void sbx_policyd_read_unlock(struct sbx_policyd *pd)
{
	pthread_rwlock_unlock(&pd->lock);
}

const struct sbx_policy *sbx_policyd_policy(const struct sbx_policyd *pd)
{
	return pd->policy;
}

enum sbx_preset sbx_policyd_preset(const struct sbx_policyd *pd)
{
	return pd->st.preset;
}

/*
 * Save @next, then make it current. On failure nothing changes and the
 * reply says why; @next is released either way.
 */
static cJSON *commit(struct sbx_policyd *pd, struct sbx_store *next)
{
	char err[512];
	struct sbx_policy *p = policy_build(next);

	if (!p) {
		sbx_store_release(next);
		return FAILED("cannot compile the new policy: out of memory");
	}
	if (sbx_store_save(pd->state_dir, next, err, sizeof(err))) {
		sbx_policy_free(p);
		sbx_store_release(next);
		return FAILED("%s; the policy is unchanged", err);
	}
	sbx_store_release(&pd->st);
	pd->st = *next;
	sbx_policy_free(pd->policy);
	pd->policy = p;
	return NULL;
}

static int store_copy(const struct sbx_store *src, struct sbx_store *dst, size_t extra)
{
	memset(dst, 0, sizeof(*dst));
	dst->preset = src->preset;
	dst->rules = calloc(src->nrules + extra + 1, sizeof(*dst->rules));
	if (!dst->rules)
		return -ENOMEM;
	for (size_t i = 0; i < src->nrules; i++) {
		if (sbx_rule_copy(&dst->rules[i], &src->rules[i])) {
			sbx_store_release(dst);
			return -ENOMEM;
		}
		dst->nrules++;
	}
	return 0;
}

static bool arg_bool(const cJSON *args, const char *key)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(args, key));
}

static cJSON *no_default(void)
{
	return sbx_ctl_error(2, "no-default",
			     "no default network policy has been chosen yet; choose one (allow-all, "
			     "balanced or deny-all) first: sbx policy set-default balanced");
}

static cJSON *rule_json(const struct sbx_policyd *pd, const struct sbx_rule *r)
{
	const char *why = NULL;
	bool active = sbx_policy_rule_active(pd->policy, r, &why);

	return sbx_rule_to_json(r, active ? "active" : "inactive", active ? NULL : why);
}

/* --source: a provenance, or "user" (rules you added) and "default" (the built-in groups). */
enum ls_source { SRC_ANY, SRC_PROV, SRC_USER, SRC_DEFAULT };

static bool source_has(enum ls_source src, enum sbx_provenance prov, const struct sbx_rule *r)
{
	switch (src) {
	case SRC_PROV:
		return r->prov == prov;
	case SRC_USER:
		return r->prov == SBX_PROV_LOCAL && !r->builtin;
	case SRC_DEFAULT:
		return r->builtin;
	default:
		return true;
	}
}

static cJSON *do_ls(struct sbx_policyd *pd, const cJSON *args)
{
	const char *sandbox = sbx_json_arg(args, "sandbox"), *type = sbx_json_arg(args, "type");
	const char *decision = sbx_json_arg(args, "decision"), *source = sbx_json_arg(args, "source");
	bool inactive = arg_bool(args, "include_inactive");
	enum sbx_decision want_dec = SBX_ALLOW;
	enum sbx_provenance want_prov = SBX_PROV_LOCAL;
	enum ls_source src = SRC_ANY;
	cJSON *reply, *rules;
	size_t hidden = 0;

	if (type && strcmp(type, "network") && strcmp(type, "filesystem"))
		return BAD("--type must be network or filesystem, not '%s'", type);
	if (decision && sbx_decision_parse(decision, &want_dec))
		return BAD("--decision must be allow or deny, not '%s'", decision);
	if (source && strcmp(source, "user") == 0)
		src = SRC_USER;
	else if (source && strcmp(source, "default") == 0)
		src = SRC_DEFAULT;
	else if (source && sbx_prov_parse(source, &want_prov) == 0)
		src = SRC_PROV;
	else if (source)
		return BAD("--source must be user, default, local, kit or remote, not '%s'",
			   source);
	reply = sbx_ctl_ok();
	cJSON_AddStringToObject(reply, "default", sbx_preset_name(pd->st.preset));
	rules = cJSON_AddArrayToObject(reply, "rules");
	/* the rules people (or kits, or their organization) added first, built-in groups last */
	for (int builtin = 0; builtin < 2; builtin++) {
		for (size_t i = 0; i < sbx_policy_count(pd->policy); i++) {
			const struct sbx_rule *r = sbx_policy_rule(pd->policy, i);

			if (r->builtin != builtin)
				continue;
			if (sandbox && r->sandbox[0] && strcmp(sandbox, r->sandbox))
				continue;
			if (type && (strcmp(type, "network") == 0) != (r->type == SBX_TYPE_NETWORK))
				continue;
			if (decision && r->decision != want_dec)
				continue;
			if (!source_has(src, want_prov, r))
				continue;
			if (!inactive && !sbx_policy_rule_active(pd->policy, r, NULL)) {
				hidden++;
				continue;
			}
			cJSON_AddItemToArray(rules, rule_json(pd, r));
		}
	}
	cJSON_AddNumberToObject(reply, "hidden_inactive", (double)hidden);
	return reply;
}

/* Is @res already in a local rule with the same decision, type and scope? */
static bool already_present(const struct sbx_store *st, const struct sbx_rule *want,
			    const struct sbx_resource *res)
{
	for (size_t i = 0; i < st->nrules; i++) {
		const struct sbx_rule *r = &st->rules[i];

		if (r->type != want->type || r->decision != want->decision ||
		    strcmp(r->sandbox, want->sandbox))
			continue;
		for (size_t j = 0; j < r->nres; j++)
			if (strcmp(r->res[j].text, res->text) == 0)
				return true;
	}
	return false;
}

/* A rule named @name in @sandbox's scope ("" for all), or NULL. */
static const struct sbx_rule *name_in_scope(const struct sbx_policyd *pd, const char *name,
					    const char *sandbox)
{
	for (size_t i = 0; i < sbx_policy_count(pd->policy); i++) {
		const struct sbx_rule *r = sbx_policy_rule(pd->policy, i);

		if (strcmp(r->name, name) == 0 && strcmp(r->sandbox, sandbox) == 0)
			return r;
	}
	return NULL;
}

/* A fresh ID whose first characters no other rule's ID starts with, and its short name. */
static void new_identity(const struct sbx_policyd *pd, struct sbx_rule *rule)
{
	enum sbx_match how;
	char prefix[SBX_ID_PREFIX_MIN + 1];

	/* 2^32 prefixes: a second try is already rare, a seventeenth never happens */
	for (int tries = 0; tries < 16; tries++) {
		sbx_uuid_random(rule->id);
		snprintf(prefix, sizeof(prefix), "%s", rule->id);
		if (!sbx_policy_find(pd->policy, prefix, true, NULL, 0, &how))
			break;
	}
	snprintf(rule->name, sizeof(rule->name), "%s%s", SBX_AUTO_NAME_PREFIX, prefix);
}

/*
 * `allow network '~/src'`: a path where a host should be. Say which type
 * takes it, as the command to run.
 */
static cJSON *path_for_network(const char *decision, const char *csv)
{
	char item[SBX_RESOURCE_MAX];

	for (const char *p = csv; *p;) {
		size_t len = strcspn(p, ",");

		snprintf(item, sizeof(item), "%.*s", (int)len, p);
		if (sbx_resource_is_path(item))
			return BAD("'%s' is a filesystem path pattern, not a host; to %s reading "
				   "it, run: sbx policy %s filesystem:read '%s' (and "
				   "filesystem:write for writing)",
				   item, decision, decision, item);
		p += len + (p[len] == ',');
	}
	return NULL;
}

static cJSON *do_add(struct sbx_policyd *pd, const cJSON *args)
{
	const char *decision = sbx_json_arg(args, "decision"), *type = sbx_json_arg(args, "type");
	const char *resources = sbx_json_arg(args, "resources"), *sandbox = sbx_json_arg(args, "sandbox");
	const char *name = sbx_json_arg(args, "name");
	const struct sbx_rule *same;
	struct sbx_rule rule = { 0 };
	struct sbx_resource *res = NULL;
	struct sbx_store next;
	char err[SBX_ERR_MAX];
	cJSON *reply, *skipped, *fail;
	size_t nres = 0, keep = 0;

	if (!decision || sbx_decision_parse(decision, &rule.decision))
		return BAD("decision must be allow or deny");
	if (!type || sbx_type_parse(type, &rule.type))
		return BAD("unknown rule type '%s': use network, filesystem:read or "
			   "filesystem:write",
			   type ? type : "");
	if (sandbox) {
		if (sbx_sandbox_name_check(sandbox, err, sizeof(err)))
			return BAD("%s", err);
		snprintf(rule.sandbox, sizeof(rule.sandbox), "%s", sandbox);
	}
	if (name && sbx_rule_name_check(name, err, sizeof(err)))
		return BAD("%s", err);
	same = name ? name_in_scope(pd, name, rule.sandbox) : NULL;
	if (same)
		return BAD("a rule named %s already applies to %s%s; names are unique in their "
			   "scope: choose another --name, or remove that rule first (sbx policy rm "
			   "--id %.*s)",
			   name, sandbox ? "sandbox " : "all sandboxes", sandbox ? sandbox : "",
			   SBX_ID_PREFIX_MIN, same->id);
	fail = rule.type == SBX_TYPE_NETWORK && resources ? path_for_network(decision, resources)
							    : NULL;
	if (fail)
		return fail;
	if (sbx_resource_list_parse(rule.type, resources, &res, &nres, err, sizeof(err)))
		return BAD("%s", err);
	reply = sbx_ctl_ok();
	skipped = cJSON_AddArrayToObject(reply, "already_present");
	for (size_t i = 0; i < nres; i++) {
		if (already_present(&pd->st, &rule, &res[i]))
			cJSON_AddItemToArray(skipped, cJSON_CreateString(res[i].text));
		else
			res[keep++] = res[i];
	}
	if (!keep) {
		free(res);
		return reply;
	}
	new_identity(pd, &rule);
	if (name)
		snprintf(rule.name, sizeof(rule.name), "%s", name);
	rule.prov = SBX_PROV_LOCAL;
	rule.created = (int64_t)time(NULL);
	rule.res = res;
	rule.nres = keep;
	if (store_copy(&pd->st, &next, 1)) {
		free(res);
		cJSON_Delete(reply);
		return FAILED("out of memory");
	}
	next.rules[next.nrules++] = rule; /* next owns res now */
	fail = commit(pd, &next);
	if (fail) {
		cJSON_Delete(reply);
		return fail;
	}
	cJSON_AddItemToObject(reply, "rule",
			      rule_json(pd, sbx_policy_find_id(pd->policy, rule.id)));
	return reply;
}

#define CANDIDATES_SHOWN 5

#define DESCRIBE_RES_MAX 48 /* bytes of resources in one line of a candidate list */

/* "\n  NAME  APPLIES_TO  TYPE DECISION RES,RES,…  (ID id)" into @out; returns its length. */
static size_t describe(const struct sbx_rule *r, char *out, size_t len)
{
	char res[DESCRIBE_RES_MAX + 8] = "";
	size_t used = 0;
	int n;

	for (size_t i = 0; i < r->nres; i++) {
		size_t add = strlen(r->res[i].text) + (i ? 1 : 0);

		if (used + add > DESCRIBE_RES_MAX) {
			strcpy(res + used, i ? ",…" : "…");
			break;
		}
		used += (size_t)snprintf(res + used, sizeof(res) - used, "%s%s", i ? "," : "",
					 r->res[i].text);
	}
	n = snprintf(out, len, "\n  %s  %s%s  %s %s %s  (ID %s)", r->name,
		     r->sandbox[0] ? "sandbox:" : "all", r->sandbox, sbx_type_name(r->type),
		     sbx_decision_name(r->decision), res, r->id);
	return n < 0 ? 0 : (size_t)n >= len ? len - 1 : (size_t)n;
}

/*
 * The one rule @handle names (a name or an ID, or only an ID with
 * @ids_only), or an error reply that lists what it matched and says how to
 * name one rule.
 */
static cJSON *resolve(const struct sbx_policyd *pd, const char *handle, bool ids_only,
		      const struct sbx_rule **found)
{
	const struct sbx_rule *m[CANDIDATES_SHOWN];
	char list[900] = "";
	enum sbx_match how;
	size_t n = sbx_policy_find(pd->policy, handle, ids_only, m, CANDIDATES_SHOWN, &how);
	size_t used = 0;

	if (n == 1 && how != SBX_MATCH_SHORT) {
		*found = m[0];
		return NULL;
	}
	for (size_t i = 0; i < n && i < CANDIDATES_SHOWN; i++)
		used += describe(m[i], list + used, sizeof(list) - used);
	if (n > CANDIDATES_SHOWN)
		snprintf(list + used, sizeof(list) - used, "\n  and %zu more",
			 n - CANDIDATES_SHOWN);
	if (how == SBX_MATCH_SHORT)
		return BAD("ID prefix '%s' is too short: give at least %d characters of the ID (or "
			   "the rule's name); it matches %zu rule%s:%s",
			   handle, SBX_ID_PREFIX_MIN, n, n == 1 ? "" : "s", list);
	if (how == SBX_MATCH_PREFIX)
		return BAD("ID prefix '%s' matches %zu rules; give more of the ID:%s", handle, n,
			   list);
	if (how == SBX_MATCH_EXACT)
		return BAD("'%s' names %zu rules; give the ID of the one you mean (its first 8 "
			   "characters are enough):%s",
			   handle, n, list);
	if (ids_only)
		return BAD("no rule has the ID %s (sbx policy inspect NAME shows a rule's ID)",
			   handle);
	return BAD("no rule is named %s or has that ID (names are in the POLICY/RULE column "
		   "of sbx policy ls)",
		   handle);
}

static cJSON *cannot_remove(const struct sbx_rule *r)
{
	if (r->builtin)
		return BAD("%s is a default policy group and cannot be removed; to block one of "
			   "its hosts, add a deny rule (sbx policy deny network HOST), or choose "
			   "another baseline with sbx policy set-default",
			   r->name);
	if (r->prov == SBX_PROV_KIT)
		return BAD("rule %s comes from a kit; it goes away with the sandbox that uses "
			   "the kit",
			   r->name);
	return BAD("rule %s is set by your organization and cannot be removed locally",
		   r->name);
}

/* `rm --resource`, nothing removed: say why, naming the default group that lists it. */
static cJSON *resource_not_found(const struct sbx_policyd *pd, enum sbx_rule_type t,
				 const struct sbx_resource *want)
{
	for (size_t i = 0; i < sbx_policy_count(pd->policy); i++) {
		const struct sbx_rule *r = sbx_policy_rule(pd->policy, i);

		for (size_t j = 0; r->type == t && j < r->nres; j++)
			if (strcmp(r->res[j].text, want->text) == 0)
				return cannot_remove(r);
	}
	/* "rm --resource pypi.org" where a default group lists pypi.org:443 */
	for (size_t i = 0; want->host[0] && i < sbx_policy_count(pd->policy); i++) {
		const struct sbx_rule *r = sbx_policy_rule(pd->policy, i);

		for (size_t j = 0; r->builtin && r->type == t && j < r->nres; j++)
			if (r->res[j].kind == want->kind && strcmp(r->res[j].host, want->host) == 0)
				return BAD("no local rule has %s; the default group %s lists %s "
					   "and default groups cannot be removed (to block it: "
					   "sbx policy deny network %s)",
					   want->text, r->name, r->res[j].text, want->text);
	}
	return BAD("no local %s rule has the resource %s (see sbx policy ls)", sbx_type_name(t),
		   want->text);
}

/* Take rule @i out of @next. */
static void drop_rule(struct sbx_store *next, size_t i)
{
	struct sbx_rule *r = &next->rules[i];

	sbx_rule_release(r);
	memmove(r, r + 1, (next->nrules - i - 1) * sizeof(*r));
	next->nrules--;
}

/* Take @want out of every local rule of type @t in @next; note each rule changed. */
static size_t remove_resource(struct sbx_store *next, enum sbx_rule_type t,
			      const struct sbx_resource *want, cJSON *ids, cJSON *rules)
{
	size_t hits = 0;

	for (size_t i = 0; i < next->nrules;) {
		struct sbx_rule *r = &next->rules[i];
		size_t keep = 0;

		for (size_t j = 0; r->type == t && j < r->nres; j++)
			keep += strcmp(r->res[j].text, want->text) != 0;
		if (r->type != t || keep == r->nres) {
			i++;
			continue;
		}
		hits++;
		cJSON_AddItemToArray(ids, cJSON_CreateString(r->id));
		cJSON_AddItemToArray(rules, sbx_rule_to_json(r, NULL, NULL)); /* as it was */
		keep = 0;
		for (size_t j = 0; j < r->nres; j++)
			if (strcmp(r->res[j].text, want->text) != 0)
				r->res[keep++] = r->res[j];
		r->nres = keep;
		if (keep)
			i++;
		else
			drop_rule(next, i);
	}
	return hits;
}

static void remove_rule(struct sbx_store *next, const char *id)
{
	for (size_t i = 0; i < next->nrules; i++) {
		if (strcmp(next->rules[i].id, id) == 0) {
			drop_rule(next, i);
			return;
		}
	}
}

/*
 * rm RULE (a name or an ID), rm [TYPE] --id ID, rm TYPE --resource R.
 * Seed 000 has the last two with a type; the type only checks the rule.
 */
static cJSON *do_rm(struct sbx_policyd *pd, const cJSON *args)
{
	const char *type = sbx_json_arg(args, "type"), *resource = sbx_json_arg(args, "resource");
	const char *id = sbx_json_arg(args, "id"), *handle = sbx_json_arg(args, "rule");
	const struct sbx_rule *r = NULL;
	enum sbx_rule_type t = SBX_TYPE_NETWORK;
	struct sbx_resource want;
	struct sbx_store next;
	char err[SBX_ERR_MAX];
	cJSON *reply, *ids, *rules, *fail;

	if (type && sbx_type_parse(type, &t))
		return BAD("unknown rule type '%s': use network, filesystem:read or "
			   "filesystem:write",
			   type);
	if (!!resource + !!id + !!handle != 1)
		return BAD("give one rule (its name or ID), --id ID, or TYPE --resource RESOURCE");
	if (resource && !type)
		return BAD("--resource needs the rule type: sbx policy rm network --resource %s",
			   resource);
	if (resource && sbx_resource_parse(t, resource, &want, err, sizeof(err)))
		return BAD("%s", err);
	if (!resource) {
		fail = resolve(pd, id ? id : handle, id != NULL, &r);
		if (fail)
			return fail;
		if (type && r->type != t)
			return BAD("rule %s is a %s rule, not %s", r->name, sbx_type_name(r->type),
				   type);
		if (r->builtin || r->prov != SBX_PROV_LOCAL)
			return cannot_remove(r);
	}
	if (store_copy(&pd->st, &next, 0))
		return FAILED("out of memory");
	reply = sbx_ctl_ok();
	ids = cJSON_AddArrayToObject(reply, "removed");
	rules = cJSON_AddArrayToObject(reply, "rules");
	if (r) {
		cJSON_AddItemToArray(ids, cJSON_CreateString(r->id));
		cJSON_AddItemToArray(rules, sbx_rule_to_json(r, NULL, NULL));
		remove_rule(&next, r->id);
	} else if (!remove_resource(&next, t, &want, ids, rules)) {
		sbx_store_release(&next);
		cJSON_Delete(reply);
		return resource_not_found(pd, t, &want);
	}
	fail = commit(pd, &next);
	if (fail) {
		cJSON_Delete(reply);
		return fail;
	}
	return reply;
}

/* inspect RULE: a name or an ID ("id", from older clients: an ID only). */
static cJSON *do_inspect(struct sbx_policyd *pd, const cJSON *args)
{
	const char *handle = sbx_json_arg(args, "rule"), *id = sbx_json_arg(args, "id");
	const struct sbx_rule *r = NULL;
	cJSON *reply, *fail;

	if (!handle && !id)
		return BAD("give a rule's name or ID (see sbx policy ls)");
	fail = resolve(pd, handle ? handle : id, !handle, &r);
	if (fail)
		return fail;
	reply = sbx_ctl_ok();
	cJSON_AddItemToObject(reply, "rule", rule_json(pd, r));
	return reply;
}

/* One mount decision of `check filesystem`: read-only or read-write. */
static cJSON *mount_json(const struct sbx_policyd *pd, const struct sbx_verdict *v,
			 const char *path)
{
	char detail[SBX_ERR_MAX + 2 * PATH_MAX], fix[SBX_ERR_MAX + 2 * PATH_MAX];
	cJSON *j = cJSON_CreateObject();

	sbx_path_verdict_detail(v, path, detail, sizeof(detail));
	sbx_path_verdict_fix(v, path, fix, sizeof(fix));
	cJSON_AddStringToObject(j, "decision", v->decision == SBX_ALLOW ? "allow" : "deny");
	cJSON_AddStringToObject(j, "type", sbx_type_name(v->type));
	cJSON_AddStringToObject(j, "reason", sbx_reason_name(v->reason));
	cJSON_AddStringToObject(j, "detail", detail);
	if (v->decision != SBX_ALLOW)
		cJSON_AddStringToObject(j, "fix", fix);
	if (v->rule) {
		cJSON_AddItemToObject(j, "rule", rule_json(pd, v->rule));
		cJSON_AddStringToObject(j, "resource", v->res->text);
	} else {
		cJSON_AddNullToObject(j, "rule");
	}
	return j;
}

/*
 * `check filesystem PATH`: may PATH (absolute, resolved by the client) be mounted read-only
 * and read-write? "home" is what '~' means for the user asking.
 */
static cJSON *do_check_path(struct sbx_policyd *pd, const cJSON *args)
{
	const char *path = sbx_json_arg(args, "path"), *sandbox = sbx_json_arg(args, "sandbox");
	const char *home = sbx_json_arg(args, "home");
	struct sbx_verdict ro, rw;
	char err[SBX_ERR_MAX];
	cJSON *reply;
	int ret;

	if (!path)
		return BAD("give a path to check");
	if (sandbox && sbx_sandbox_name_check(sandbox, err, sizeof(err)))
		return BAD("%s", err);
	ret = sbx_policy_decide_mount(pd->policy, sandbox, path, home, false, &ro);
	if (!ret)
		ret = sbx_policy_decide_mount(pd->policy, sandbox, path, home, true, &rw);
	if (ret == -EINVAL)
		return BAD("'%s' is not an absolute path without '.', '..' or '//' segments", path);
	if (ret)
		return FAILED("cannot decide %s: %s", path, strerror(-ret));
	reply = sbx_ctl_ok();
	cJSON_AddStringToObject(reply, "type", "filesystem");
	cJSON_AddStringToObject(reply, "path", path);
	cJSON_AddStringToObject(reply, "home", home ? home : "");
	cJSON_AddStringToObject(reply, "sandbox", sandbox ? sandbox : "");
	cJSON_AddItemToObject(reply, "read_only", mount_json(pd, &ro, path));
	cJSON_AddItemToObject(reply, "read_write", mount_json(pd, &rw, path));
	return reply;
}

/* The one connection decision (include/sbx/conn.h), for a connection to host:port. */
static cJSON *do_check(struct sbx_policyd *pd, const cJSON *args)
{
	const char *host = sbx_json_arg(args, "host"), *sandbox = sbx_json_arg(args, "sandbox");
	const cJSON *port = cJSON_GetObjectItemCaseSensitive(args, "port");
	char norm[SBX_HOST_MAX + 1], err[SBX_ERR_MAX];
	struct sbx_conn_facts f = { .kind = SBX_CONN_CHECK };
	struct sbx_conn_verdict v;
	cJSON *reply;

	if (sbx_json_arg(args, "path"))
		return do_check_path(pd, args);
	if (!host)
		return BAD("give a host to check");
	if (!cJSON_IsNumber(port) || port->valueint < 1 || port->valueint > 65535)
		return BAD("port must be 1-65535");
	if (sandbox && sbx_sandbox_name_check(sandbox, err, sizeof(err)))
		return BAD("%s", err);
	if (sbx_host_normalize(host, norm, sizeof(norm), err, sizeof(err)))
		return BAD("%s", err);
	f.sandbox = sandbox;
	f.port = (uint16_t)port->valueint;
	f.target = norm;
	/* an address is dialled as it is, a host service on loopback: classify as the proxy would */
	sbx_target_dialled_at(norm, &f.upstream);
	if (f.upstream.family)
		f.up_class = sbx_addr_classify(&pd->env, &f.upstream, f.port);
	if (sbx_conn_decide(pd->policy, &f, &v))
		return BAD("%s", v.detail);
	reply = sbx_ctl_ok();
	cJSON_AddStringToObject(reply, "host", norm);
	cJSON_AddNumberToObject(reply, "port", port->valueint);
	cJSON_AddStringToObject(reply, "sandbox", sandbox ? sandbox : "");
	cJSON_AddStringToObject(reply, "decision", v.allow ? "allow" : "deny");
	cJSON_AddStringToObject(reply, "reason", sbx_reason_name(v.reason));
	cJSON_AddStringToObject(reply, "detail", v.detail);
	if (!v.allow)
		cJSON_AddStringToObject(reply, "fix", v.fix);
	if (v.rule) {
		cJSON_AddItemToObject(reply, "rule", rule_json(pd, v.rule));
		cJSON_AddStringToObject(reply, "resource", v.res->text);
	} else {
		cJSON_AddNullToObject(reply, "rule");
	}
	return reply;
}

static cJSON *do_set_default(struct sbx_policyd *pd, const cJSON *args)
{
	const char *value = sbx_json_arg(args, "value");
	struct sbx_store next;
	cJSON *fail, *reply;
	enum sbx_preset preset;

	if (!value || sbx_preset_parse(value, &preset))
		return BAD("the default must be allow-all, balanced or deny-all");
	if (store_copy(&pd->st, &next, 0))
		return FAILED("out of memory");
	next.preset = preset;
	fail = commit(pd, &next);
	if (fail)
		return fail;
	reply = sbx_ctl_ok();
	cJSON_AddStringToObject(reply, "default", value);
	return reply;
}

static cJSON *do_reset(struct sbx_policyd *pd, bool *shutdown)
{
	int err = sbx_store_remove(pd->state_dir);
	struct sbx_store empty = { 0 };
	struct sbx_policy *p;

	if (err)
		return FAILED("cannot delete the policy store in %s: %s", pd->state_dir,
			      strerror(-err));
	p = policy_build(&empty);
	if (p) {
		sbx_policy_free(pd->policy);
		pd->policy = p;
	}
	sbx_store_release(&pd->st);
	*shutdown = true;
	return sbx_ctl_ok();
}

static cJSON *handle(struct sbx_policyd *pd, const char *op, const cJSON *args, bool *shutdown)
{
	if (strcmp(op, "policy.set_default") == 0)
		return do_set_default(pd, args);
	if (strcmp(op, "policy.reset") == 0)
		return do_reset(pd, shutdown);
	if (strncmp(op, "policy.", 7) == 0 && pd->st.preset == SBX_PRESET_NONE)
		return no_default();
	if (strcmp(op, "policy.ls") == 0)
		return do_ls(pd, args);
	if (strcmp(op, "policy.add") == 0)
		return do_add(pd, args);
	if (strcmp(op, "policy.rm") == 0)
		return do_rm(pd, args);
	if (strcmp(op, "policy.inspect") == 0)
		return do_inspect(pd, args);
	if (strcmp(op, "policy.check") == 0)
		return do_check(pd, args);
	return BAD("unknown request '%s'", op);
}

cJSON *sbx_policyd_handle(struct sbx_policyd *pd, const char *op, const cJSON *args,
			  bool *shutdown)
{
	cJSON *reply;

	*shutdown = false;
	pthread_rwlock_wrlock(&pd->lock);
	reply = handle(pd, op, args, shutdown);
	pthread_rwlock_unlock(&pd->lock);
	return reply;
}

void sbx_policyd_set_env(struct sbx_policyd *pd, const struct sbx_addr_env *env)
{
	pthread_rwlock_wrlock(&pd->lock);
	pd->env = *env;
	pthread_rwlock_unlock(&pd->lock);
}
