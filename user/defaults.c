// SPDX-License-Identifier: MIT
/*
 * The built-in rules of each `set-default` preset. The Balanced groups come
 * from the reviewed lists in data/defaults/; every preset keeps the two
 * filesystem groups, and Open adds one "**" allow. Built-in ids are derived
 * from the group name so they stay the same across restarts and versions.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sbx/policy.h>
#include "defaults.h"

/* The order `policy ls` shows them in: seed 001's five, then certificate checks. */
static const char *const balanced_order[] = {
	"default-ai-services",		"default-package-managers", "default-code-and-containers",
	"default-cloud-infrastructure", "default-os-packages",	    "default-cert-validation",
};

static int builtin_rule(struct sbx_rule *r, const char *name, enum sbx_rule_type type,
			const char *text)
{
	char err[SBX_ERR_MAX], line[SBX_RESOURCE_MAX];
	size_t cap = 0;
	const char *p = text;

	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	sbx_uuid_from_name(name, r->id);
	r->prov = SBX_PROV_LOCAL;
	r->type = type;
	r->decision = SBX_ALLOW;
	r->builtin = true;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char *hash;

		if (len >= sizeof(line))
			goto bad;
		memcpy(line, p, len);
		line[len] = '\0';
		p += len + (nl ? 1 : 0);
		hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		/* trim: the data files align their comments with spaces */
		for (len = strlen(line); len && (line[len - 1] == ' ' || line[len - 1] == '\t');)
			line[--len] = '\0';
		if (!len)
			continue;
		if (r->nres == cap) {
			struct sbx_resource *tmp;

			cap = cap ? cap * 2 : 32;
			tmp = realloc(r->res, cap * sizeof(*tmp));
			if (!tmp) {
				sbx_rule_release(r);
				return -ENOMEM;
			}
			r->res = tmp;
		}
		if (sbx_resource_parse(type, line, &r->res[r->nres], err, sizeof(err))) {
			fprintf(stderr, "sbx: built-in group %s: %s\n", name, err);
			goto bad;
		}
		r->nres++;
	}
	return 0;
bad:
	sbx_rule_release(r);
	return -EINVAL;
}

static const struct sbx_default_group *group_find(const char *name)
{
	for (unsigned i = 0; i < sbx_default_groups_n; i++)
		if (strcmp(sbx_default_groups[i].name, name) == 0)
			return &sbx_default_groups[i];
	return NULL;
}

int sbx_defaults_build(enum sbx_preset preset, struct sbx_rule **rules, size_t *n)
{
	size_t max = sizeof(balanced_order) / sizeof(balanced_order[0]) + 3, count = 0;
	struct sbx_rule *out = calloc(max, sizeof(*out));
	int err = 0;

	*rules = NULL;
	*n = 0;
	if (!out)
		return -ENOMEM;
	if (preset == SBX_PRESET_BALANCED) {
		for (size_t i = 0; i < sizeof(balanced_order) / sizeof(balanced_order[0]); i++) {
			const struct sbx_default_group *g = group_find(balanced_order[i]);

			if (!g) {
				fprintf(stderr, "sbx: built-in group %s is missing\n",
					balanced_order[i]);
				err = -EINVAL;
				goto fail;
			}
			err = builtin_rule(&out[count], g->name, SBX_TYPE_NETWORK, g->text);
			if (err)
				goto fail;
			count++;
		}
	} else if (preset == SBX_PRESET_ALLOW_ALL) {
		err = builtin_rule(&out[count], "default-allow-all", SBX_TYPE_NETWORK, "**");
		if (err)
			goto fail;
		count++;
	}
	if (preset != SBX_PRESET_NONE) {
		err = builtin_rule(&out[count], "default-fs-read-allow-all", SBX_TYPE_FS_READ,
				   "**");
		if (!err)
			count++;
		if (!err)
			err = builtin_rule(&out[count], "default-fs-write-allow-all",
					   SBX_TYPE_FS_WRITE, "**");
		if (err)
			goto fail;
		count++;
	}
	*rules = out;
	*n = count;
	return 0;
fail:
	sbx_rules_free(out, count);
	return err;
}
