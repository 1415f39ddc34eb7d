// SPDX-License-Identifier: MIT
/* The sandbox registry's pure parts: address pool, names, the state file. No root needed. */
#include <arpa/inet.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sbx/policy.h>
#include "fsutil.h"
#include "sandbox.h"
#include "test.h"

static char dir[64];
static char path[128];
static char err[1024];

static void fresh_dir(void)
{
	char cmd[128];

	if (dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd))
			fprintf(stderr, "  cannot remove %s\n", dir);
	}
	snprintf(dir, sizeof(dir), "/tmp/sbx-sandbox-test-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/%s", dir, SBX_SANDBOX_STATE_FILE);
}

static void write_text(const char *text)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
}

static uint32_t ip(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		abort();
	return a.s_addr;
}

static const char *str(uint32_t a)
{
	static char buf[4][INET_ADDRSTRLEN];
	static int i;

	i = (i + 1) % 4;
	return inet_ntop(AF_INET, &a, buf[i], sizeof(buf[i]));
}

static struct sbx_pool pool(const char *cidr)
{
	struct sbx_pool p;

	if (sbx_pool_parse(cidr, &p, err, sizeof(err)))
		abort();
	return p;
}

/* A netns sandbox using the /30 of @addr (its .2). */
static struct sbx_sandbox *box(const char *name, uint32_t id, const char *addr)
{
	struct sbx_sandbox *sb = calloc(1, sizeof(*sb));

	snprintf(sb->name, sizeof(sb->name), "%s", name);
	sb->id = id;
	sb->ip4 = ip(addr);
	sb->gw4 = htonl(ntohl(sb->ip4) - 1);
	snprintf(sb->cgroup, sizeof(sb->cgroup), "/sys/fs/cgroup/sbx/%s", name);
	snprintf(sb->netns, sizeof(sb->netns), "/run/sbx/netns/%s", name);
	sbx_sandbox_host_if("sbx", id, sb->host_if);
	sb->created = 1764000000 + id;
	sb->cgroup_id = 1000 + id;
	return sb;
}

/* Append a copy of @sb to @l and free @sb. */
static void add(struct sbx_sandbox_list *l, struct sbx_sandbox *sb)
{
	if (sbx_sandbox_list_add(l, sb))
		abort();
	free(sb);
}

static void test_pool_parse_accepts_a_cidr(void)
{
	struct sbx_pool p;

	CHECK_INT(sbx_pool_parse("10.209.0.0/16", &p, err, sizeof(err)), 0);
	CHECK_STR(str(p.net), "10.209.0.0");
	CHECK_INT(p.prefix, 16);
	CHECK_INT(sbx_pool_parse("192.168.77.0/30", &p, err, sizeof(err)), 0);
}

static void test_pool_parse_rejects_bad_pools_saying_why(void)
{
	struct sbx_pool p;

	CHECK_INT(sbx_pool_parse("10.209.0.0", &p, err, sizeof(err)), -EINVAL);
	CHECK_HAS(err, "no prefix length");
	CHECK_INT(sbx_pool_parse("10.209.0.1/16", &p, err, sizeof(err)), -EINVAL);
	CHECK_HAS(err, "did you mean 10.209.0.0/16");
	CHECK_INT(sbx_pool_parse("10.209.0.0/31", &p, err, sizeof(err)), -EINVAL);
	CHECK_HAS(err, "8 to 30");
	CHECK_INT(sbx_pool_parse("10.0.0.0/7", &p, err, sizeof(err)), -EINVAL);
	CHECK_INT(sbx_pool_parse("10.209.0.0/1x", &p, err, sizeof(err)), -EINVAL);
	CHECK_INT(sbx_pool_parse("example.com/16", &p, err, sizeof(err)), -EINVAL);
	CHECK_INT(sbx_pool_parse("10.209.0.0/", &p, err, sizeof(err)), -EINVAL);
}

static void test_pool_first_sandbox_gets_the_lowest_slot(void)
{
	struct sbx_pool p = pool("10.209.0.0/16");
	uint32_t a, g;

	CHECK_INT(sbx_pool_alloc(&p, NULL, 0, NULL, 0, &a, &g), 0);
	CHECK_STR(str(a), "10.209.0.2");
	CHECK_STR(str(g), "10.209.0.1");
}

static void test_pool_never_hands_out_a_used_slot(void)
{
	struct sbx_pool p = pool("10.209.0.0/16");
	struct sbx_sandbox *v[3] = { box("a", 1, "10.209.0.2"), box("b", 2, "10.209.0.6"),
				     box("c", 3, "10.209.0.14") };
	uint32_t a, g;

	CHECK_INT(sbx_pool_alloc(&p, v, 3, NULL, 0, &a, &g), 0);
	CHECK_STR(str(a), "10.209.0.10");
	CHECK_STR(str(g), "10.209.0.9");
	for (int i = 0; i < 3; i++)
		free(v[i]);
}

static void test_pool_reuses_a_slot_after_removal(void)
{
	struct sbx_pool p = pool("10.209.0.0/16");
	struct sbx_sandbox_list l = { 0 };
	uint32_t a, g;

	add(&l, box("a", 1, "10.209.0.2"));
	add(&l, box("b", 2, "10.209.0.6"));
	add(&l, box("c", 3, "10.209.0.10"));
	CHECK_INT(sbx_pool_alloc(&p, l.v, l.n, NULL, 0, &a, &g), 0);
	CHECK_STR(str(a), "10.209.0.14");
	sbx_sandbox_list_del(&l, 1); /* b */
	CHECK_INT(l.n, 2);
	CHECK_STR(l.v[1]->name, "c");
	CHECK_INT(sbx_pool_alloc(&p, l.v, l.n, NULL, 0, &a, &g), 0);
	CHECK_STR(str(a), "10.209.0.6");
	sbx_sandbox_list_release(&l);
}

static void test_pool_full_is_enospc(void)
{
	struct sbx_pool p = pool("10.209.7.0/29"); /* two /30s */
	struct sbx_sandbox *v[2] = { box("a", 1, "10.209.7.2"), NULL };
	uint32_t a, g;

	CHECK_INT(sbx_pool_alloc(&p, v, 1, NULL, 0, &a, &g), 0);
	CHECK_STR(str(a), "10.209.7.6");
	v[1] = box("b", 2, "10.209.7.6");
	CHECK_INT(sbx_pool_alloc(&p, v, 2, NULL, 0, &a, &g), -ENOSPC);
	free(v[0]);
	free(v[1]);
}

static void test_pool_ignores_attached_and_outside_addresses(void)
{
	struct sbx_pool p = pool("10.209.0.0/16");
	struct sbx_sandbox *v[2] = { box("a", 1, "10.208.0.2"), box("b", 2, "10.209.0.2") };
	uint32_t a, g;

	v[1]->attached = true; /* an attached cgroup holds no address */
	CHECK_INT(sbx_pool_alloc(&p, v, 2, NULL, 0, &a, &g), 0);
	CHECK_STR(str(a), "10.209.0.2");
	free(v[0]);
	free(v[1]);
}

static void test_pool_skips_addresses_already_in_use(void)
{
	struct sbx_pool p = pool("10.209.0.0/16");
	uint32_t taken[2] = { ip("10.209.0.1"), ip("10.209.0.9") }, a, g;
	struct sbx_sandbox *v[1] = { box("a", 1, "10.209.0.6") };

	CHECK_INT(sbx_pool_alloc(&p, v, 1, taken, 2, &a, &g), 0);
	CHECK_STR(str(a), "10.209.0.14");
	free(v[0]);
}

static void test_pool_many_sandboxes_never_clash(void)
{
	struct sbx_pool p = pool("10.209.0.0/22"); /* 256 slots */
	struct sbx_sandbox_list l = { 0 };
	uint32_t a, g;
	int n = 0;

	while (sbx_pool_alloc(&p, l.v, l.n, NULL, 0, &a, &g) == 0 && n < 1000) {
		struct sbx_sandbox *sb = box("x", (uint32_t)n + 1, str(a));

		for (size_t i = 0; i < l.n; i++)
			CHECK(l.v[i]->ip4 != a && (ntohl(l.v[i]->ip4) & ~3u) != (ntohl(a) & ~3u));
		add(&l, sb);
		n++;
	}
	CHECK_INT(n, 256);
	sbx_sandbox_list_release(&l);
}

static void test_host_if_names_fit_and_differ(void)
{
	char a[16], b[16], c[16];

	sbx_sandbox_host_if("sbx", 12, a);
	CHECK_STR(a, "sbx-12");
	sbx_sandbox_host_if("abcdefghijkl", 99, a); /* 12 + 3 = 15: fits */
	CHECK_STR(a, "abcdefghijkl-99");
	sbx_sandbox_host_if("abcdefghijkl", 123456, a);
	sbx_sandbox_host_if("abcdefghijkm", 123456, b);
	sbx_sandbox_host_if("abcdefghijkl", 123457, c);
	CHECK(strlen(a) <= 15 && strlen(b) <= 15 && strlen(c) <= 15);
	CHECK(strcmp(a, b) != 0);
	CHECK(strcmp(a, c) != 0);
	CHECK_HAS(a, "-123456");
}

static void test_sandbox_names_are_checked(void)
{
	char long_name[80];

	CHECK_INT(sbx_sandbox_name_check("t1", err, sizeof(err)), 0);
	CHECK_INT(sbx_sandbox_name_check("ci-job_2.x", err, sizeof(err)), 0);
	CHECK(sbx_sandbox_name_check("", err, sizeof(err)) != 0);
	CHECK(sbx_sandbox_name_check("../etc", err, sizeof(err)) != 0);
	CHECK(sbx_sandbox_name_check("a/b", err, sizeof(err)) != 0);
	CHECK(sbx_sandbox_name_check(".hidden", err, sizeof(err)) != 0);
	CHECK(sbx_sandbox_name_check("a b", err, sizeof(err)) != 0);
	memset(long_name, 'a', 64);
	long_name[64] = '\0';
	CHECK(sbx_sandbox_name_check(long_name, err, sizeof(err)) != 0);
	long_name[63] = '\0';
	CHECK_INT(sbx_sandbox_name_check(long_name, err, sizeof(err)), 0);
}

static void test_state_round_trip_keeps_every_field(void)
{
	struct sbx_sandbox_list l = { .next_id = 7 }, back;
	struct sbx_sandbox *att;

	fresh_dir();
	add(&l, box("web", 3, "10.209.0.6"));
	l.v[0]->stopped = true;
	att = box("ci.job-1", 6, "10.209.0.2");
	att->attached = true;
	att->ip4 = 0;
	att->gw4 = htonl(0x7f000001);
	att->netns[0] = att->host_if[0] = '\0';
	snprintf(att->cgroup, sizeof(att->cgroup), "/sys/fs/cgroup/unified/system.slice/ci job");
	add(&l, att);
	CHECK_INT(sbx_sandbox_list_save(path, &l, err, sizeof(err)), 0);
	CHECK_INT(sbx_sandbox_list_load(path, &back, err, sizeof(err)), 0);
	CHECK_INT(back.next_id, 7);
	CHECK_INT(back.n, 2);
	for (size_t i = 0; i < 2 && back.n == 2; i++) {
		const struct sbx_sandbox *x = l.v[i], *y = back.v[i];

		CHECK_STR(y->name, x->name);
		CHECK_INT(y->id, x->id);
		CHECK_INT(y->ip4, x->ip4);
		CHECK_INT(y->gw4, x->gw4);
		CHECK_INT(y->attached, x->attached);
		CHECK_STR(y->cgroup, x->cgroup);
		CHECK_STR(y->netns, x->netns);
		CHECK_STR(y->host_if, x->host_if);
		CHECK_INT(y->created, x->created);
		CHECK_INT(y->cgroup_id, x->cgroup_id);
		CHECK_INT(y->stopped, x->stopped);
	}
	sbx_sandbox_list_release(&l);
	sbx_sandbox_list_release(&back);
}

static void test_state_missing_is_enoent(void)
{
	struct sbx_sandbox_list l;

	fresh_dir();
	CHECK_INT(sbx_sandbox_list_load(path, &l, err, sizeof(err)), -ENOENT);
}

static void expect_corrupt(const char *text, const char *why)
{
	struct sbx_sandbox_list l;
	char *after = NULL;

	fresh_dir();
	write_text(text);
	err[0] = '\0';
	CHECK_INT(sbx_sandbox_list_load(path, &l, err, sizeof(err)), -EINVAL);
	CHECK_HAS(err, path);
	CHECK_HAS(err, why);
	/* never a silent reset: the file is left as it was */
	CHECK_INT(sbx_read_file(path, 1 << 20, &after, NULL), 0);
	CHECK_STR(after, text);
	free(after);
}

static void test_state_corrupt_is_an_error_naming_the_file(void)
{
	static const char entry[] =
		"{\"name\":\"a\",\"id\":1,\"attached\":false,\"stopped\":false,"
		"\"ip\":\"10.209.0.2\",\"gateway\":\"10.209.0.1\","
		"\"cgroup\":\"/sys/fs/cgroup/sbx/a\",\"cgroup_id\":5,"
		"\"netns\":\"/run/sbx/netns/a\",\"host_if\":\"sbx-1\",\"created\":1}";
	char text[1024];

	expect_corrupt("{\"schema\":1,", "not valid JSON");
	expect_corrupt("[]", "not valid JSON");
	expect_corrupt("{\"sandboxes\":[]}", "schema");
	expect_corrupt("{\"schema\":9,\"next_id\":1,\"sandboxes\":[]}", "newer sbx");
	expect_corrupt("{\"schema\":1,\"sandboxes\":[]}", "next_id");
	expect_corrupt("{\"schema\":1,\"next_id\":1,\"sandboxes\":[{\"name\":\"../x\"}]}",
		       "name");
	snprintf(text, sizeof(text), "{\"schema\":1,\"next_id\":2,\"sandboxes\":[%s,%s]}", entry,
		 entry);
	expect_corrupt(text, "appears twice");
	snprintf(text, sizeof(text), "{\"schema\":1,\"next_id\":2,\"sandboxes\":[%s]}", entry);
	*strstr(text, "10.209.0.2") = 'x';
	expect_corrupt(text, "\"ip\"");
}

static void test_state_save_is_atomic_and_private(void)
{
	struct sbx_sandbox_list l = { .next_id = 2 };
	struct stat st;

	fresh_dir();
	add(&l, box("a", 1, "10.209.0.2"));
	CHECK_INT(sbx_sandbox_list_save(path, &l, err, sizeof(err)), 0);
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(st.st_mode & 0777, 0600);
	snprintf(err, sizeof(err), "%s/.%s.tmp", dir, SBX_SANDBOX_STATE_FILE);
	CHECK(access(err, F_OK) != 0);
	sbx_sandbox_list_release(&l);
}

static void test_save_into_a_missing_dir_says_where(void)
{
	struct sbx_sandbox_list l = { .next_id = 1 };

	CHECK(sbx_sandbox_list_save("/nonexistent-sbx-dir/sandboxes.json", &l, err,
				    sizeof(err)) < 0);
	CHECK_HAS(err, "/nonexistent-sbx-dir/sandboxes.json");
}

static const struct test tests[] = {
	T(test_pool_parse_accepts_a_cidr),
	T(test_pool_parse_rejects_bad_pools_saying_why),
	T(test_pool_first_sandbox_gets_the_lowest_slot),
	T(test_pool_never_hands_out_a_used_slot),
	T(test_pool_reuses_a_slot_after_removal),
	T(test_pool_full_is_enospc),
	T(test_pool_ignores_attached_and_outside_addresses),
	T(test_pool_skips_addresses_already_in_use),
	T(test_pool_many_sandboxes_never_clash),
	T(test_host_if_names_fit_and_differ),
	T(test_sandbox_names_are_checked),
	T(test_state_round_trip_keeps_every_field),
	T(test_state_missing_is_enoent),
	T(test_state_corrupt_is_an_error_naming_the_file),
	T(test_state_save_is_atomic_and_private),
	T(test_save_into_a_missing_dir_says_where),
};

int main(void)
{
	int ret = test_main("sandbox", tests, sizeof(tests) / sizeof(tests[0]));

	if (dir[0]) {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd))
			fprintf(stderr, "cannot remove %s\n", dir);
	}
	return ret;
}
