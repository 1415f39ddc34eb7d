// SPDX-License-Identifier: MIT
/* Host id blocks of sandboxes: the sandbox_ids setting, the allocator, the host's accounts. */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "idrange.h"
#include "paths.h"
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
	snprintf(dir, sizeof(dir), "/tmp/sbx-idrange-test-XXXXXX");
	if (!mkdtemp(dir))
		abort();
}

/* @name under dir, e.g. "/etc/passwd" (its directory is made). */
static void write_file(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/etc", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
}

/* ---- sandbox_ids ------------------------------------------------------------------------- */

static void test_default_is_systemd_gap(void)
{
	struct sbx_ids_cfg c;

	sbx_ids_default(&c);
	CHECK_INT(c.first, 0x70000000u);
	CHECK_INT(c.count, 4094);
	CHECK_INT((uint64_t)c.first + (uint64_t)c.count * 65536 - 1, 0x7FFDFFFFu);
	CHECK_INT(sbx_ids_parse(SBX_IDS_DEFAULT, &c, err, sizeof(err)), 0);
	CHECK_INT(c.first, 0x70000000u);
	CHECK_INT(c.count, 4094);
}

static void test_parse_accepts(void)
{
	static const struct {
		const char *text;
		uint32_t first, count;
	} ok[] = {
		{ "1879048192-2147352575", 0x70000000u, 4094 },
		{ "0x70000000-0x7FFDFFFF", 0x70000000u, 4094 },
		{ " 65536 - 131071 ", 65536, 1 },
		{ "65536-196607", 65536, 2 },
		{ "4294836224-4294901759", 0xFFFE0000u, 1 }, /* the last whole block */
		{ "65536-4294901759", 65536, 65534 },
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct sbx_ids_cfg c = { 0 };

		err[0] = '\0';
		CHECK_INT(sbx_ids_parse(ok[i].text, &c, err, sizeof(err)), 0);
		CHECK_STR(err, "");
		CHECK_INT(c.first, ok[i].first);
		CHECK_INT(c.count, ok[i].count);
	}
}

static void test_parse_refuses(void)
{
	static const struct {
		const char *text, *why;
	} bad[] = {
		{ "", "is not a range FIRST-LAST" },
		{ "1879048192", "is not a range FIRST-LAST" },
		{ "-5-131071", "is not a range FIRST-LAST" },
		{ "65536-", "is not a range FIRST-LAST" },
		{ "65536-131071x", "is not a range FIRST-LAST" },
		{ "0x0x10000-131071", "is not a range FIRST-LAST" },
		{ "65536-131071-5", "is not a range FIRST-LAST" },
		{ "0-65535", "FIRST must be at least 65536" },
		{ "65537-196607", "FIRST must be a multiple of 65536 (did you mean 131072?)" },
		{ "65536-131072", "LAST+1 must be a multiple of 65536" },
		{ "65536-200000", "(LAST such as 196607)" },
		{ "131072-140000", "(LAST such as 196607)" },
		{ "65536-4294967295", "LAST must be below 4294967294" },
		{ "65536-4294967294", "LAST must be below 4294967294" },
		{ "65536-4294967296", "host ids end at 4294967295" },
		{ "131072-131071", "holds no block of 65536 ids" },
		{ "196608-131071", "holds no block of 65536 ids" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sbx_ids_cfg c = { 7, 7 };

		err[0] = '\0';
		CHECK_INT(sbx_ids_parse(bad[i].text, &c, err, sizeof(err)), -EINVAL);
		CHECK_HAS(err, bad[i].why);
		CHECK_HAS(err, "sandbox_ids");
		CHECK_INT(c.first, 7);
		CHECK_INT(c.count, 7);
	}
}

static int load(const char *text, struct sbx_config *c)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/sbxd.conf", dir);
	write_file("/sbxd.conf", text);
	err[0] = '\0';
	return sbx_config_load(path, c, err, sizeof(err));
}

static void test_config_key(void)
{
	struct sbx_config c;
	char want[256];

	fresh_dir();
	unsetenv("SBX_DNS_UPSTREAM");
	CHECK_INT(load("# nothing set\n", &c), 0);
	CHECK_INT(c.ids.first, 0x70000000u);
	CHECK_INT(c.ids.count, 4094);

	CHECK_INT(load("group = root\nsandbox_ids = 0x10000000-0x1000FFFF\n", &c), 0);
	CHECK_INT(c.ids.first, 0x10000000u);
	CHECK_INT(c.ids.count, 1);

	CHECK_INT(load("\n\nsandbox_ids = 65536-65536\n", &c), -EINVAL);
	snprintf(want, sizeof(want), "%s/sbxd.conf:3: sandbox_ids '65536-65536'", dir);
	CHECK_HAS(err, want);
	CHECK_HAS(err, "LAST+1 must be a multiple of 65536, a sandbox takes 65536 ids (LAST such "
		       "as 131071)");

	CHECK_INT(load("sandbox_ids = 0x20000-0x1FFFF\n", &c), -EINVAL);
	CHECK_HAS(err, "sbxd.conf:1: sandbox_ids '0x20000-0x1FFFF' holds no block of 65536 ids");
	CHECK_INT(c.ids.first, 0x70000000u); /* a refused file leaves no half-set range */

	CHECK_INT(load("sandbox_idz = 65536-131071\n", &c), -EINVAL);
	CHECK_HAS(err, "unknown setting 'sandbox_idz'");
	CHECK_HAS(err, "sandbox_ids");
}

/* ---- allocation -------------------------------------------------------------------------- */

static const struct sbx_ids_cfg four = { 0x70000000u, 4 }; /* blocks 0x7000_0000..0x7003_FFFF */

static void test_alloc_lowest_free(void)
{
	uint32_t base = 0;

	CHECK_INT(sbx_ids_alloc(&four, NULL, 0, NULL, 0, &base), 0);
	CHECK_INT(base, 0x70000000u);
}

static void test_alloc_skips_taken(void)
{
	const uint32_t taken[] = { 0x70020000u, 0x70000000u };
	uint32_t base = 0;

	CHECK_INT(sbx_ids_alloc(&four, taken, 2, NULL, 0, &base), 0);
	CHECK_INT(base, 0x70010000u);
	/* a block of another range (the config changed) still counts where it overlaps */
	const uint32_t moved[] = { 0x6FFF8000u };

	CHECK_INT(sbx_ids_alloc(&four, moved, 1, NULL, 0, &base), 0);
	CHECK_INT(base, 0x70010000u);
}

static void test_alloc_skips_host_uid(void)
{
	const struct sbx_id_span host[] = { { 0, 65535 }, { 0x70000005u, 0x70000005u } };
	uint32_t base = 0;

	CHECK_INT(sbx_ids_alloc(&four, NULL, 0, host, 2, &base), 0);
	CHECK_INT(base, 0x70010000u);
}

static void test_alloc_skips_subuid_range(void)
{
	/* a subordinate range from the middle of block 0 to the first id of block 2 */
	const struct sbx_id_span host[] = { { 0x70008000u, 0x70020000u } };
	uint32_t base = 0;

	CHECK_INT(sbx_ids_alloc(&four, NULL, 0, host, 1, &base), 0);
	CHECK_INT(base, 0x70030000u);
}

static void test_alloc_enospc_when_full(void)
{
	const uint32_t taken[] = { 0x70000000u, 0x70030000u };
	const struct sbx_id_span host[] = { { 0x70010000u, 0x7002FFFFu } };
	uint32_t base = 42;

	CHECK_INT(sbx_ids_alloc(&four, taken, 2, host, 1, &base), -ENOSPC);
	CHECK_INT(base, 42);
	/* one whole span covering everything */
	const struct sbx_id_span all[] = { { 0, 0xFFFFFFFFu } };

	CHECK_INT(sbx_ids_alloc(&four, NULL, 0, all, 1, &base), -ENOSPC);
	sbx_ids_nospc(&four, "/etc/sbx/sbxd.conf", err, sizeof(err));
	CHECK_HAS(err, "no free block of 65536 user ids in sandbox_ids 1879048192-1879310335");
	CHECK_HAS(err, "widen sandbox_ids in /etc/sbx/sbxd.conf");
}

static void test_alloc_the_last_block(void)
{
	const struct sbx_ids_cfg top = { 0xFFFE0000u, 1 };
	const uint32_t taken[] = { 0xFFFF0000u }; /* past the range: no effect, no overflow */
	uint32_t base = 0;

	CHECK_INT(sbx_ids_alloc(&top, taken, 1, NULL, 0, &base), 0);
	CHECK_INT(base, 0xFFFE0000u);
}

static void test_alloc_refuses_bad_cfg(void)
{
	const struct sbx_ids_cfg bad[] = {
		{ 0, 1 }, { 0x70000001u, 1 }, { 0x70000000u, 0 }, { 0xFFFF0000u, 1 },
	};
	uint32_t base;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_INT(sbx_ids_alloc(&bad[i], NULL, 0, NULL, 0, &base), -EINVAL);
}

/* ---- the host's accounts ----------------------------------------------------------------- */

static void test_host_spans_from_files(void)
{
	struct sbx_id_span *s = NULL;
	size_t n = 0;

	fresh_dir();
	write_file("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"
				  "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
				  "# a comment\n"
				  "+nis\n"
				  "weird:x:0x70000005:2\n" /* not decimal: its uid is skipped */
				  "svc:x:1879048197:1879048197::/:/bin/false\n"
				  "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
				  "short:x\n"
				  "big:x:4294967296:3\n");
	write_file("/etc/group", "root:x:0:\nusers:x:100:a,b\nbad:x:-1:\n");
	write_file("/etc/subuid", "alice:100000:65536\n"
				  "bob:165536:65536\n" /* adjacent: merged with alice's */
				  "zero:300000:0\n"
				  "over:4294967290:100\n"
				  "extra:1:2:3\n"
				  "noisy:abc:5\n");
	write_file("/etc/subgid", "alice:1879244800:10\n");

	CHECK_INT(sbx_ids_host_spans(&s, &n, dir), 0);
	/* sorted, adjacent and overlapping ids merged */
	const struct sbx_id_span want[] = {
		{ 0, 3 }, /* 0, 1, 2 (weird's gid), 3 (big's gid) */
		{ 100, 100 },
		{ 65534, 65534 },
		{ 100000, 231071 },
		{ 1879048197, 1879048197 },
		{ 1879244800, 1879244809 },
	};
	CHECK_INT(n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < n && i < sizeof(want) / sizeof(want[0]); i++) {
		CHECK_INT(s[i].first, want[i].first);
		CHECK_INT(s[i].last, want[i].last);
	}

	/* the allocator skips block 0 (svc's uid) and block 3 (1879244800 is 0x7003_0000) */
	const struct sbx_ids_cfg c = { 0x70000000u, 8 };
	const uint32_t taken[] = { 0x70010000u, 0x70020000u };
	uint32_t base = 0;

	CHECK_INT(sbx_ids_alloc(&c, NULL, 0, s, n, &base), 0);
	CHECK_INT(base, 0x70010000u);
	CHECK_INT(sbx_ids_alloc(&c, taken, 2, s, n, &base), 0);
	CHECK_INT(base, 0x70040000u);
	free(s);
}

static void test_host_spans_missing_files(void)
{
	struct sbx_id_span *s = (void *)1;
	size_t n = 7;

	fresh_dir();
	CHECK_INT(sbx_ids_host_spans(&s, &n, dir), 0);
	CHECK_INT(n, 0);
	CHECK(s == NULL);
}

static void test_host_spans_unreadable_is_an_error(void)
{
	struct sbx_id_span *s = NULL;
	char path[128];
	size_t n = 0;

	fresh_dir();
	snprintf(path, sizeof(path), "%s/etc/passwd", dir);
	write_file("/etc/group", "root:x:0:\n");
	CHECK_INT(mkdir(path, 0755), 0); /* a directory where the file should be */
	CHECK(sbx_ids_host_spans(&s, &n, dir) < 0);
}

static void test_host_spans_real_files(void)
{
	struct sbx_id_span *s = NULL;
	size_t n = 0;
	int has_root = 0;

	CHECK_INT(sbx_ids_host_spans(&s, &n, ""), 0);
	for (size_t i = 0; i < n; i++)
		has_root |= s[i].first == 0;
	CHECK(has_root);
	free(s);
}

static void test_cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK_INT(system(cmd), 0);
}

static const struct test tests[] = {
	T(test_default_is_systemd_gap),
	T(test_parse_accepts),
	T(test_parse_refuses),
	T(test_config_key),
	T(test_alloc_lowest_free),
	T(test_alloc_skips_taken),
	T(test_alloc_skips_host_uid),
	T(test_alloc_skips_subuid_range),
	T(test_alloc_enospc_when_full),
	T(test_alloc_the_last_block),
	T(test_alloc_refuses_bad_cfg),
	T(test_host_spans_from_files),
	T(test_host_spans_missing_files),
	T(test_host_spans_unreadable_is_an_error),
	T(test_host_spans_real_files),
	T(test_cleanup),
};

TEST_MAIN("idrange", tests)
