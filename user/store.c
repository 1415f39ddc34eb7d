// SPDX-License-Identifier: MIT
/* The JSON policy store; see store.h. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "fsutil.h"
#include "store.h"

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -EINVAL)
#define CREATED_MAX 9007199254740992.0 /* 2^53: every integer up to it is a double */

cJSON *sbx_rule_to_json(const struct sbx_rule *r, const char *status, const char *why)
{
	cJSON *j = cJSON_CreateObject(), *res;
	char applies[SBX_RULE_NAME_LEN + 8];

	if (!j)
		return NULL;
	snprintf(applies, sizeof(applies), r->sandbox[0] ? "sandbox:%s" : "all", r->sandbox);
	cJSON_AddStringToObject(j, "id", r->id);
	cJSON_AddStringToObject(j, "name", r->name);
	cJSON_AddStringToObject(j, "provenance", sbx_prov_name(r->prov));
	cJSON_AddStringToObject(j, "applies_to", applies);
	cJSON_AddStringToObject(j, "type", sbx_type_name(r->type));
	cJSON_AddStringToObject(j, "decision", sbx_decision_name(r->decision));
	res = cJSON_AddArrayToObject(j, "resources");
	for (size_t i = 0; res && i < r->nres; i++)
		cJSON_AddItemToArray(res, cJSON_CreateString(r->res[i].text));
	if (status) {
		cJSON_AddStringToObject(j, "status", status);
		if (why)
			cJSON_AddStringToObject(j, "status_reason", why);
		cJSON_AddBoolToObject(j, "builtin", r->builtin);
	}
	if (r->created)
		cJSON_AddNumberToObject(j, "created", (double)r->created);
	if (!res || !cJSON_GetObjectItem(j, "decision")) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

int sbx_rule_from_json(const cJSON *j, struct sbx_rule *r, char *err, size_t errlen)
{
	const char *id = sbx_json_str(j, "id"), *name = sbx_json_str(j, "name");
	const char *prov = sbx_json_str(j, "provenance"), *applies = sbx_json_str(j, "applies_to");
	const char *type = sbx_json_str(j, "type"), *decision = sbx_json_str(j, "decision");
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(j, "resources");
	const cJSON *created = cJSON_GetObjectItemCaseSensitive(j, "created");
	const cJSON *item;
	char rerr[SBX_ERR_MAX];
	size_t i = 0;

	memset(r, 0, sizeof(*r));
	if (!cJSON_IsObject(j))
		return ERR("a rule is not a JSON object");
	if (!id || strlen(id) != SBX_ID_LEN)
		return ERR("a rule has a missing or malformed \"id\"");
	if (!name || !*name || strlen(name) >= SBX_RULE_NAME_LEN)
		return ERR("rule %s has a missing or overlong \"name\"", id);
	snprintf(r->id, sizeof(r->id), "%s", id);
	snprintf(r->name, sizeof(r->name), "%s", name);
	if (sbx_prov_parse(prov, &r->prov))
		return ERR("rule %s has an unknown \"provenance\"", id);
	if (!type || sbx_type_parse(type, &r->type))
		return ERR("rule %s has an unknown \"type\"", id);
	if (!decision || sbx_decision_parse(decision, &r->decision))
		return ERR("rule %s has an unknown \"decision\"", id);
	if (!applies)
		return ERR("rule %s has no \"applies_to\"", id);
	if (strncmp(applies, "sandbox:", 8) == 0) {
		if (sbx_sandbox_name_check(applies + 8, rerr, sizeof(rerr)))
			return ERR("rule %s: %s", id, rerr);
		snprintf(r->sandbox, sizeof(r->sandbox), "%s", applies + 8);
	} else if (strcmp(applies, "all") != 0) {
		return ERR("rule %s: \"applies_to\" must be \"all\" or \"sandbox:NAME\"", id);
	}
	if (created && !cJSON_IsNumber(created))
		return ERR("rule %s has a malformed \"created\"", id);
	if (created) {
		/* unix seconds; a double past ±2^53 is no time and would not convert */
		double t = created->valuedouble;

		if (!(t >= -CREATED_MAX && t <= CREATED_MAX))
			return ERR("rule %s has a malformed \"created\"", id);
		r->created = (int64_t)t;
	}
	if (!cJSON_IsArray(res) || cJSON_GetArraySize(res) < 1 ||
	    cJSON_GetArraySize(res) > SBX_RESOURCES_PER_RULE)
		return ERR("rule %s has no \"resources\" list", id);
	r->res = calloc((size_t)cJSON_GetArraySize(res), sizeof(*r->res));
	if (!r->res)
		return -ENOMEM;
	cJSON_ArrayForEach(item, res) {
		if (!cJSON_IsString(item) ||
		    sbx_resource_parse(r->type, item->valuestring, &r->res[i], rerr, sizeof(rerr))) {
			sbx_rule_release(r);
			return ERR("rule %s: %s", id, cJSON_IsString(item) ? rerr : "a resource is "
								    "not a string");
		}
		i++;
	}
	r->nres = i;
	return 0;
}

static void store_path(const char *dir, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", dir, SBX_STORE_FILE);
}

void sbx_store_release(struct sbx_store *st)
{
	sbx_rules_free(st->rules, st->nrules);
	memset(st, 0, sizeof(*st));
}

int sbx_store_load(const char *state_dir, struct sbx_store *st, char *err, size_t errlen)
{
	char path[PATH_MAX], why[SBX_ERR_MAX] = "";
	const cJSON *schema, *rules, *item;
	const char *preset;
	cJSON *root = NULL;
	char *text = NULL;
	int ret;

	memset(st, 0, sizeof(*st));
	store_path(state_dir, path, sizeof(path));
	ret = sbx_read_file(path, SBX_STORE_MAX, &text, NULL);
	if (ret == -ENOENT)
		return -ENOENT;
	if (ret) {
		snprintf(err, errlen, "cannot read policy store %s: %s", path, strerror(-ret));
		return ret;
	}
	root = cJSON_Parse(text);
	if (!cJSON_IsObject(root)) {
		snprintf(why, sizeof(why), "not valid JSON");
		goto corrupt;
	}
	schema = cJSON_GetObjectItemCaseSensitive(root, "schema");
	if (!cJSON_IsNumber(schema)) {
		snprintf(why, sizeof(why), "no \"schema\" version");
		goto corrupt;
	}
	if (schema->valueint > SBX_STORE_SCHEMA || schema->valueint < 1) {
		snprintf(err, errlen,
			 "policy store %s has schema %d; this sbx understands up to %d (was it "
			 "written by a newer sbx?)",
			 path, schema->valueint, SBX_STORE_SCHEMA);
		ret = -EINVAL;
		goto out;
	}
	preset = sbx_json_str(root, "default");
	if (!preset || sbx_preset_parse(preset, &st->preset)) {
		snprintf(why, sizeof(why), "\"default\" is not allow-all, balanced or deny-all");
		goto corrupt;
	}
	rules = cJSON_GetObjectItemCaseSensitive(root, "rules");
	if (!cJSON_IsArray(rules)) {
		snprintf(why, sizeof(why), "no \"rules\" list");
		goto corrupt;
	}
	st->rules = calloc((size_t)cJSON_GetArraySize(rules) + 1, sizeof(*st->rules));
	if (!st->rules) {
		ret = -ENOMEM;
		goto out;
	}
	cJSON_ArrayForEach(item, rules) {
		if (sbx_rule_from_json(item, &st->rules[st->nrules], why, sizeof(why)))
			goto corrupt;
		st->nrules++;
	}
	ret = 0;
	goto out;
corrupt:
	snprintf(err, errlen,
		 "policy store %s is corrupt (%s); it was left untouched: fix the file, or move "
		 "it away and run 'sbx policy reset --force' to start over",
		 path, why);
	ret = -EINVAL;
out:
	if (ret)
		sbx_store_release(st);
	cJSON_Delete(root);
	free(text);
	return ret;
}

int sbx_store_save(const char *state_dir, const struct sbx_store *st, char *err, size_t errlen)
{
	char path[PATH_MAX], *text = NULL;
	cJSON *root = cJSON_CreateObject(), *rules;
	int ret = -ENOMEM;

	store_path(state_dir, path, sizeof(path));
	if (!root)
		goto out;
	cJSON_AddNumberToObject(root, "schema", SBX_STORE_SCHEMA);
	cJSON_AddStringToObject(root, "default", sbx_preset_name(st->preset));
	rules = cJSON_AddArrayToObject(root, "rules");
	if (!rules)
		goto out;
	for (size_t i = 0; i < st->nrules; i++) {
		cJSON *r = sbx_rule_to_json(&st->rules[i], NULL, NULL);

		if (!r)
			goto out;
		cJSON_AddItemToArray(rules, r);
	}
	text = cJSON_Print(root);
	if (!text)
		goto out;
	ret = sbx_mkdir_p(state_dir, 0700);
	if (!ret)
		ret = sbx_write_atomic(path, text, strlen(text), 0600);
out:
	if (ret)
		snprintf(err, errlen, "cannot write policy store %s: %s", path, strerror(-ret));
	free(text);
	cJSON_Delete(root);
	return ret;
}

int sbx_store_remove(const char *state_dir)
{
	char path[PATH_MAX];

	store_path(state_dir, path, sizeof(path));
	if (unlink(path) && errno != ENOENT)
		return -errno;
	return 0;
}
