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
			     "no default network policy has been chosen yet; run 'sbx policy "
			     "set-default allow-all|balanced|deny-all' first");
}

static cJSON *rule_json(const struct sbx_policyd *pd, const struct sbx_rule *r)
{
	const char *why = NULL;
	bool active = sbx_policy_rule_active(pd->policy, r, &why);

	return sbx_rule_to_json(r, active ? "active" : "inactive", active ? NULL : why);
}

static cJSON *do_ls(struct sbx_policyd *pd, const cJSON *args)
{
	const char *sandbox = sbx_json_arg(args, "sandbox"), *type = sbx_json_arg(args, "type");
	const char *decision = sbx_json_arg(args, "decision"), *source = sbx_json_arg(args, "source");
	bool inactive = arg_bool(args, "include_inactive");
	enum sbx_decision want_dec = SBX_ALLOW;
	enum sbx_provenance want_prov = SBX_PROV_LOCAL;
	cJSON *reply, *rules;
	size_t hidden = 0;

	if (type && strcmp(type, "network") && strcmp(type, "filesystem"))
		return BAD("--type must be network or filesystem, not '%s'", type);
	if (decision && sbx_decision_parse(decision, &want_dec))
		return BAD("--decision must be allow or deny, not '%s'", decision);
	if (source && sbx_prov_parse(source, &want_prov))
		return BAD("--source must be local, kit or remote, not '%s'", source);
	reply = sbx_ctl_ok();
	cJSON_AddStringToObject(reply, "default", sbx_preset_name(pd->st.preset));
	rules = cJSON_AddArrayToObject(reply, "rules");
	for (size_t i = 0; i < sbx_policy_count(pd->policy); i++) {
		const struct sbx_rule *r = sbx_policy_rule(pd->policy, i);

		if (sandbox && r->sandbox[0] && strcmp(sandbox, r->sandbox))
			continue;
		if (type && (strcmp(type, "network") == 0) != (r->type == SBX_TYPE_NETWORK))
			continue;
		if (decision && r->decision != want_dec)
			continue;
		if (source && r->prov != want_prov)
			continue;
		if (!inactive && !sbx_policy_rule_active(pd->policy, r, NULL)) {
			hidden++;
			continue;
		}
		cJSON_AddItemToArray(rules, rule_json(pd, r));
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

static cJSON *do_add(struct sbx_policyd *pd, const cJSON *args)
{
	const char *decision = sbx_json_arg(args, "decision"), *type = sbx_json_arg(args, "type");
	const char *resources = sbx_json_arg(args, "resources"), *sandbox = sbx_json_arg(args, "sandbox");
	const char *name = sbx_json_arg(args, "name");
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
	if (name && (strlen(name) >= SBX_RULE_NAME_LEN || strchr(name, '\n')))
		return BAD("rule name must be one line under %d bytes", SBX_RULE_NAME_LEN);
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
	sbx_uuid_random(rule.id);
	if (name)
		snprintf(rule.name, sizeof(rule.name), "%s", name);
	else
		snprintf(rule.name, sizeof(rule.name), "local:%s", rule.id);
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

/* Accept "local:UUID" as well as the bare UUID seed 001 asks for. */
static const char *strip_local(const char *id)
{
	return strncmp(id, "local:", 6) == 0 ? id + 6 : id;
}

static const struct sbx_rule *find_rule(const struct sbx_policyd *pd, const char *id)
{
	const struct sbx_rule *found = NULL;
	size_t n;

	id = strip_local(id);
	n = strlen(id);
	/* a unique prefix of 8 or more characters is as good as the whole id */
	for (size_t i = 0; n >= 8 && i < sbx_policy_count(pd->policy); i++) {
		const struct sbx_rule *r = sbx_policy_rule(pd->policy, i);

		if (strncmp(r->id, id, n) == 0) {
			if (found)
				return NULL;
			found = r;
		}
	}
	return found;
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

static cJSON *do_rm(struct sbx_policyd *pd, const cJSON *args)
{
	const char *type = sbx_json_arg(args, "type"), *resource = sbx_json_arg(args, "resource");
	const char *id = sbx_json_arg(args, "id");
	enum sbx_rule_type t;
	struct sbx_resource want;
	struct sbx_store next;
	char err[SBX_ERR_MAX], target[SBX_ID_LEN + 1] = "";
	cJSON *reply, *removed, *fail;
	size_t hits = 0;

	if (!type || sbx_type_parse(type, &t))
		return BAD("unknown rule type '%s': use network, filesystem:read or "
			   "filesystem:write",
			   type ? type : "");
	if (!!resource == !!id)
		return BAD("give exactly one of --resource or --id");
	if (resource && sbx_resource_parse(t, resource, &want, err, sizeof(err)))
		return BAD("%s", err);
	if (id) {
		const struct sbx_rule *r = find_rule(pd, id);

		if (!r)
			return BAD("no rule with id %s (see sbx policy ls --wide)", id);
		if (r->type != t)
			return BAD("rule %s is a %s rule, not %s", id, sbx_type_name(r->type),
				   type);
		if (r->builtin || r->prov != SBX_PROV_LOCAL)
			return cannot_remove(r);
		snprintf(target, sizeof(target), "%s", r->id);
	}
	if (store_copy(&pd->st, &next, 0))
		return FAILED("out of memory");
	reply = sbx_ctl_ok();
	removed = cJSON_AddArrayToObject(reply, "removed");
	for (size_t i = 0; i < next.nrules;) {
		struct sbx_rule *r = &next.rules[i];
		bool drop = false;

		if (id) {
			drop = strcmp(r->id, target) == 0;
		} else if (r->type == t) {
			size_t keep = 0;

			for (size_t j = 0; j < r->nres; j++)
				if (strcmp(r->res[j].text, want.text) != 0)
					r->res[keep++] = r->res[j];
			if (keep != r->nres) {
				hits++;
				cJSON_AddItemToArray(removed, cJSON_CreateString(r->id));
			}
			r->nres = keep;
			drop = keep == 0;
		}
		if (drop) {
			if (id) {
				hits++;
				cJSON_AddItemToArray(removed, cJSON_CreateString(r->id));
			}
			sbx_rule_release(r);
			memmove(r, r + 1, (next.nrules - i - 1) * sizeof(*r));
			next.nrules--;
			continue;
		}
		i++;
	}
	if (!hits) {
		sbx_store_release(&next);
		cJSON_Delete(reply);
		for (size_t i = 0; i < sbx_policy_count(pd->policy); i++) {
			const struct sbx_rule *r = sbx_policy_rule(pd->policy, i);

			for (size_t j = 0; r->type == t && j < r->nres; j++)
				if (strcmp(r->res[j].text, want.text) == 0)
					return cannot_remove(r);
		}
		/* "rm --resource pypi.org" where a default group lists pypi.org:443 */
		for (size_t i = 0; want.host[0] && i < sbx_policy_count(pd->policy); i++) {
			const struct sbx_rule *r = sbx_policy_rule(pd->policy, i);

			for (size_t j = 0; r->builtin && r->type == t && j < r->nres; j++)
				if (r->res[j].kind == want.kind && strcmp(r->res[j].host, want.host) == 0)
					return BAD("no local rule has %s; the default group %s lists %s "
						   "and default groups cannot be removed (to block it: "
						   "sbx policy deny network %s)",
						   want.text, r->name, r->res[j].text, want.text);
		}
		return BAD("no local %s rule has the resource %s (see sbx policy ls)", type,
			   want.text);
	}
	fail = commit(pd, &next);
	if (fail) {
		cJSON_Delete(reply);
		return fail;
	}
	return reply;
}

static cJSON *do_inspect(struct sbx_policyd *pd, const cJSON *args)
{
	const char *id = sbx_json_arg(args, "id");
	const struct sbx_rule *r = id ? find_rule(pd, id) : NULL;
	cJSON *reply;

	if (!id)
		return BAD("give a rule id (see sbx policy ls --wide)");
	if (!r)
		return BAD("no rule with id %s (see sbx policy ls --wide)", id);
	reply = sbx_ctl_ok();
	cJSON_AddItemToObject(reply, "rule", rule_json(pd, r));
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
	if (sbx_host_is_service(norm))
		sbx_addr_parse(SBX_HOST_SERVICE_ADDR, &f.upstream);
	else
		sbx_addr_parse(norm, &f.upstream);
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
