/* SPDX-License-Identifier: MIT */
/*
 * The policy store: the chosen preset and the local rules, as JSON under the
 * state dir. Writes are atomic and durable; a corrupt file is an error that
 * names the file, never a silent reset.
 */
#ifndef SBX_USER_STORE_H
#define SBX_USER_STORE_H

#include <stddef.h>
#include <cjson/cJSON.h>
#include <sbx/policy.h>
#include <sbx/store.h>

#define SBX_STORE_SCHEMA 1
#define SBX_STORE_FILE "policy.json"
#define SBX_STORE_MAX (64u << 20) /* refuse to read a bigger store */

struct sbx_store {
	enum sbx_preset preset;
	struct sbx_rule *rules; /* local rules the user added */
	size_t nrules;
};

/* Returns 0, -ENOENT when there is no store yet, or -EINVAL with @err set. */
int sbx_store_load(const char *state_dir, struct sbx_store *st, char *err, size_t errlen);
int sbx_store_save(const char *state_dir, const struct sbx_store *st, char *err, size_t errlen);
void sbx_store_release(struct sbx_store *st);

/*
 * A rule as JSON, in the public shape: id, name, provenance, applies_to,
 * type, decision, resources, plus status when @status is set.
 */
cJSON *sbx_rule_to_json(const struct sbx_rule *r, const char *status, const char *why);
/* Parse and validate a stored rule; -EINVAL with @err saying what is wrong. */
int sbx_rule_from_json(const cJSON *j, struct sbx_rule *r, char *err, size_t errlen);

#endif
