// SPDX-License-Identifier: MIT
/* The policy store: round trips, corruption, and crashes mid-write. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fsutil.h"
#include "store.h"
#include "test.h"

static char dir[64];
static char err[512];

static void fresh_dir(void)
{
	char cmd[128];

	if (dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd))
			fprintf(stderr, "  cannot remove %s\n", dir);
	}
	snprintf(dir, sizeof(dir), "/tmp/sbx-store-test-XXXXXX");
	if (!mkdtemp(dir))
		abort();
}

static void write_text(const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/policy.json", dir);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

static char *read_text(void)
{
	char path[128], *text = NULL;

	snprintf(path, sizeof(path), "%s/policy.json", dir);
	if (sbx_read_file(path, 1 << 20, &text, NULL))
		return NULL;
	return text;
}

static void one_rule_store(struct sbx_store *st, const char *csv)
{
	struct sbx_rule *r;

	memset(st, 0, sizeof(*st));
	st->preset = SBX_PRESET_BALANCED;
	st->rules = calloc(1, sizeof(*st->rules));
	r = &st->rules[0];
	sbx_uuid_random(r->id);
	snprintf(r->name, sizeof(r->name), "local:%s", r->id);
	r->type = SBX_TYPE_NETWORK;
	r->decision = SBX_DENY;
	snprintf(r->sandbox, sizeof(r->sandbox), "ci");
	r->created = 1764000000;
	if (sbx_resource_list_parse(SBX_TYPE_NETWORK, csv, &r->res, &r->nres, err, sizeof(err)))
		abort();
	st->nrules = 1;
}

static void test_missing_store_means_no_default_yet(void)
{
	struct sbx_store st;

	fresh_dir();
	CHECK_INT(sbx_store_load(dir, &st, err, sizeof(err)), -ENOENT);
}

static void test_round_trip_keeps_every_field(void)
{
	struct sbx_store st, back;

	fresh_dir();
	one_rule_store(&st, "pypi.org,*.npmjs.org:443,10.0.0.0/8:22");
	CHECK_INT(sbx_store_save(dir, &st, err, sizeof(err)), 0);
	CHECK_INT(sbx_store_load(dir, &back, err, sizeof(err)), 0);
	CHECK_INT(back.preset, SBX_PRESET_BALANCED);
	CHECK_INT(back.nrules, 1);
	CHECK_STR(back.rules[0].id, st.rules[0].id);
	CHECK_STR(back.rules[0].name, st.rules[0].name);
	CHECK_STR(back.rules[0].sandbox, "ci");
	CHECK_INT(back.rules[0].decision, SBX_DENY);
	CHECK_INT(back.rules[0].created, 1764000000);
	CHECK_INT(back.rules[0].nres, 3);
	CHECK_STR(back.rules[0].res[2].text, "10.0.0.0/8:22");
	sbx_store_release(&st);
	sbx_store_release(&back);
}

static void test_store_file_is_private(void)
{
	struct sbx_store st;
	struct stat sb;
	char path[128];

	fresh_dir();
	one_rule_store(&st, "a.com");
	CHECK_INT(sbx_store_save(dir, &st, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/policy.json", dir);
	CHECK_INT(stat(path, &sb), 0);
	CHECK_INT(sb.st_mode & 0777, 0600);
	sbx_store_release(&st);
}

static void test_corrupt_store_is_an_error_naming_the_file(void)
{
	static const char *const bad[] = {
		"{not json",
		"[]",
		"{\"default\":\"balanced\",\"rules\":[]}",
		"{\"schema\":1,\"default\":\"sometimes\",\"rules\":[]}",
		"{\"schema\":1,\"default\":\"balanced\"}",
		"{\"schema\":1,\"default\":\"balanced\",\"rules\":[{\"id\":\"x\"}]}",
		"{\"schema\":1,\"default\":\"balanced\",\"rules\":[{\"id\":"
		"\"0b5a0c8e-3c41-4c1e-9d59-6c5d3c1f2b7a\",\"name\":\"n\",\"provenance\":"
		"\"local\",\"applies_to\":\"all\",\"type\":\"network\",\"decision\":\"allow\","
		"\"resources\":[\"bad host\"]}]}",
		/* found by fuzz_store: a "created" no int64 holds was converted regardless (UB) */
		"{\"schema\":1,\"default\":\"balanced\",\"rules\":[{\"id\":"
		"\"0b5a0c8e-3c41-4c1e-9d59-6c5d3c1f2b7a\",\"name\":\"n\",\"provenance\":"
		"\"local\",\"applies_to\":\"all\",\"type\":\"network\",\"decision\":\"allow\","
		"\"resources\":[\"a.io\"],\"created\":1e300}]}",
		"{\"schema\":1,\"default\":\"balanced\",\"rules\":[{\"id\":"
		"\"0b5a0c8e-3c41-4c1e-9d59-6c5d3c1f2b7a\",\"name\":\"n\",\"provenance\":"
		"\"local\",\"applies_to\":\"all\",\"type\":\"network\",\"decision\":\"allow\","
		"\"resources\":[\"a.io\"],\"created\":\"yesterday\"}]}",
	};
	struct sbx_store st;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *after;

		fresh_dir();
		write_text(bad[i]);
		err[0] = '\0';
		CHECK_INT(sbx_store_load(dir, &st, err, sizeof(err)), -EINVAL);
		CHECK_HAS(err, dir);
		CHECK_HAS(err, "corrupt");
		CHECK_HAS(err, "sbx policy reset");
		after = read_text();
		CHECK_STR(after, bad[i]); /* never silently reset */
		free(after);
	}
}

static void test_newer_schema_is_refused(void)
{
	struct sbx_store st;

	fresh_dir();
	write_text("{\"schema\":99,\"default\":\"balanced\",\"rules\":[]}");
	CHECK_INT(sbx_store_load(dir, &st, err, sizeof(err)), -EINVAL);
	CHECK_HAS(err, "newer sbx");
}

/* A writer killed half-way leaves the previous store whole and loadable. */
static void test_crash_mid_write_keeps_old_state(void)
{
	struct sbx_store st, big, back;
	int status;
	pid_t pid;

	fresh_dir();
	one_rule_store(&st, "old.example.com");
	CHECK_INT(sbx_store_save(dir, &st, err, sizeof(err)), 0);
	one_rule_store(&big, "new1.example.com,new2.example.com,new3.example.com");
	pid = fork();
	if (pid == 0) {
		sbx_write_crash_after = 40; /* dies after 40 bytes of the temp file */
		sbx_store_save(dir, &big, err, sizeof(err));
		_exit(0);
	}
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 99);
	CHECK_INT(sbx_store_load(dir, &back, err, sizeof(err)), 0);
	CHECK_INT(back.nrules, 1);
	CHECK_STR(back.rules[0].res[0].text, "old.example.com");
	sbx_store_release(&back);
	/* and the next save still works over the leftover temp file */
	CHECK_INT(sbx_store_save(dir, &big, err, sizeof(err)), 0);
	CHECK_INT(sbx_store_load(dir, &back, err, sizeof(err)), 0);
	CHECK_INT(back.rules[0].nres, 3);
	sbx_store_release(&back);
	sbx_store_release(&st);
	sbx_store_release(&big);
}

static void test_save_failure_reports_path(void)
{
	struct sbx_store st;

	one_rule_store(&st, "a.com");
	CHECK(sbx_store_save("/proc/sbx-no-such-dir", &st, err, sizeof(err)) < 0);
	CHECK_HAS(err, "/proc/sbx-no-such-dir/policy.json");
	sbx_store_release(&st);
}

static void test_cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK_INT(system(cmd), 0);
}

static const struct test tests[] = {
	T(test_missing_store_means_no_default_yet),
	T(test_round_trip_keeps_every_field),
	T(test_store_file_is_private),
	T(test_corrupt_store_is_an_error_naming_the_file),
	T(test_newer_schema_is_refused),
	T(test_crash_mid_write_keeps_old_state),
	T(test_save_failure_reports_path),
	T(test_cleanup),
};

TEST_MAIN("store", tests)
