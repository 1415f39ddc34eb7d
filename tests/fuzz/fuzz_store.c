/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the policy store loader (user/store.c): the input is written as
 * policy.json in a private temporary state dir and loaded. Besides "no crash", it checks:
 * a refusal says why (naming the file); a store that loads saves, and what was saved loads
 * back the same (preset, rules and every field of them); the rules it loads compile into a
 * policy. Built and run by `make fuzz` (see tests/fuzz/run.sh).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir_a[PATH_MAX], dir_b[PATH_MAX];

static void cleanup(void)
{
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/" SBX_STORE_FILE, dir_a);
	unlink(path);
	snprintf(path, sizeof(path), "%s/" SBX_STORE_FILE, dir_b);
	unlink(path);
	rmdir(dir_a);
	rmdir(dir_b);
}

/* Two private dirs, on tmpfs where there is one: the input's, and the saved copy's. */
static void setup(void)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");

	if (!base || !*base)
		base = "/tmp";
	snprintf(dir_a, sizeof(dir_a), "%s/sbx-fuzz-store-XXXXXX", base);
	snprintf(dir_b, sizeof(dir_b), "%s/sbx-fuzz-store-XXXXXX", base);
	if (!mkdtemp(dir_a) || !mkdtemp(dir_b))
		abort();
	atexit(cleanup);
}

static void same_rule(const struct sbx_rule *a, const struct sbx_rule *b)
{
	if (strcmp(a->id, b->id) || strcmp(a->name, b->name) || a->prov != b->prov ||
	    strcmp(a->sandbox, b->sandbox) || a->type != b->type || a->decision != b->decision ||
	    a->created != b->created || a->nres != b->nres)
		abort();
	for (size_t i = 0; i < a->nres; i++)
		if (strcmp(a->res[i].text, b->res[i].text) || a->res[i].kind != b->res[i].kind)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[PATH_MAX + 32], err[512] = "";
	struct sbx_store st, back;
	struct sbx_policy *p;
	FILE *f;
	int ret;

	if (!dir_a[0])
		setup();
	snprintf(path, sizeof(path), "%s/" SBX_STORE_FILE, dir_a);
	f = fopen(path, "we");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f))
		abort();
	ret = sbx_store_load(dir_a, &st, err, sizeof(err));
	if (ret) {
		if (ret != -EINVAL || !strstr(err, SBX_STORE_FILE))
			abort();
		return 0;
	}
	if (sbx_store_save(dir_b, &st, err, sizeof(err)) ||
	    sbx_store_load(dir_b, &back, err, sizeof(err)))
		abort();
	if (back.preset != st.preset || back.nrules != st.nrules)
		abort();
	for (size_t i = 0; i < st.nrules; i++)
		same_rule(&st.rules[i], &back.rules[i]);
	p = sbx_policy_new();
	if (!p)
		abort();
	for (size_t i = 0; i < st.nrules; i++)
		if (sbx_policy_add(p, &st.rules[i]))
			abort();
	if (sbx_policy_compile(p))
		abort();
	sbx_policy_free(p);
	sbx_store_release(&back);
	sbx_store_release(&st);
	return 0;
}
