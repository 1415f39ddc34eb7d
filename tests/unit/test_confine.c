// SPDX-License-Identifier: MIT
/* The plan of a sandbox's root: what it mounts where, and what it refuses to mount. */
#include <sbx/confine.h>

#include "test.h"

static const struct sbx_sys_entry debian_sys[] = {
	{ "usr", SBX_SYS_DIR, "" },	     { "bin", SBX_SYS_LINK, "usr/bin" },
	{ "sbin", SBX_SYS_LINK, "usr/sbin" }, { "lib", SBX_SYS_LINK, "usr/lib" },
	{ "lib64", SBX_SYS_LINK, "usr/lib64" }, { "etc", SBX_SYS_DIR, "" },
	{ "opt", SBX_SYS_DIR, "" },
};
static const char *const hidden[] = { "/var/lib/sbx", "/run/sbx", "/sys/fs/bpf/sbx" };

static struct sbx_plan plan;
static char err[512];

static struct sbx_confine_in base_in(void)
{
	struct sbx_confine_in in = {
		.name = "dev",
		.id_base = 0x70010000,
		.dir = "/var/lib/sbx/sandboxes/dev",
		.files_dir = "/run/sbx/sandboxes/dev",
		.sys = debian_sys,
		.nsys = sizeof(debian_sys) / sizeof(debian_sys[0]),
		.hidden = hidden,
		.nhidden = sizeof(hidden) / sizeof(hidden[0]),
	};
	return in;
}

static const struct sbx_step *find(const char *target)
{
	for (size_t i = 0; i < plan.n; i++)
		if (!strcmp(plan.step[i].target, target))
			return &plan.step[i];
	return NULL;
}

static size_t index_of(const char *target)
{
	const struct sbx_step *s = find(target);

	return s ? (size_t)(s - plan.step) : (size_t)-1;
}

static void test_system_dirs_are_overlays_and_links_stay_links(void)
{
	struct sbx_confine_in in = base_in();
	const struct sbx_step *s;

	CHECK_INT(sbx_plan_build(&in, &plan, err, sizeof(err)), 0);
	s = find("/usr");
	CHECK(s && s->kind == SBX_STEP_OVERLAY);
	CHECK_STR(s ? s->src : NULL, "/usr");
	s = find("/etc");
	CHECK(s && s->kind == SBX_STEP_OVERLAY);
	s = find("/bin");
	CHECK(s && s->kind == SBX_STEP_SYMLINK);
	CHECK_STR(s ? s->src : NULL, "usr/bin");
	CHECK_STR(plan.root, "/var/lib/sbx/sandboxes/dev/root");
	CHECK_STR(plan.layers, "/var/lib/sbx/sandboxes/dev");
	CHECK_INT(plan.id_base, 0x70010000);
}

static void test_own_tmp_run_home_and_kernel_views(void)
{
	struct sbx_confine_in in = base_in();
	const struct sbx_step *s;

	CHECK_INT(sbx_plan_build(&in, &plan, err, sizeof(err)), 0);
	CHECK(find("/tmp") && find("/tmp")->kind == SBX_STEP_TMPFS);
	CHECK_HAS(find("/tmp") ? find("/tmp")->src : NULL, "mode=1777");
	CHECK(find("/run") && find("/run")->kind == SBX_STEP_TMPFS);
	s = find("/home");
	CHECK(s && s->kind == SBX_STEP_BIND);
	CHECK_STR(s ? s->src : NULL, "/var/lib/sbx/sandboxes/dev/fs/home");
	CHECK_STR(find("/root") ? find("/root")->src : NULL, "/var/lib/sbx/sandboxes/dev/fs/root");
	CHECK_STR(find("/var") ? find("/var")->src : NULL, "/var/lib/sbx/sandboxes/dev/fs/var");
	CHECK(find("/proc") && find("/proc")->kind == SBX_STEP_PROC);
	CHECK(find("/sys") && find("/sys")->kind == SBX_STEP_SYSFS);
	CHECK(find("/dev/pts") && find("/dev/pts")->kind == SBX_STEP_DEVPTS);
	CHECK(find("/dev/null") && find("/dev/null")->kind == SBX_STEP_BIND);
	CHECK(find("/dev/urandom") && (find("/dev/urandom")->flags & SBX_BIND_FILE));
	CHECK(find("/dev/ptmx") && find("/dev/ptmx")->kind == SBX_STEP_SYMLINK);
	/* /dev is mounted before what goes in it */
	CHECK(index_of("/dev") < index_of("/dev/null"));
	CHECK(index_of("/dev") < index_of("/dev/shm"));
	/* nothing of the host's /dev beyond the listed devices, no host /sys or /run */
	for (size_t i = 0; i < plan.n; i++) {
		const struct sbx_step *t = &plan.step[i];

		if (t->kind == SBX_STEP_BIND && !strncmp(t->src, "/dev/", 5)) {
			CHECK_STR(t->src, t->target);
			CHECK(strchr(t->src + 5, '/') == NULL);
		}
		CHECK(!(t->kind == SBX_STEP_BIND && !strncmp(t->src, "/sys", 4)));
		CHECK(!(t->kind == SBX_STEP_BIND && !strncmp(t->src, "/run/", 5) &&
			!(t->flags & SBX_BIND_FILE)));
	}
}

static void test_resolv_conf_and_hosts_are_sbxd_files(void)
{
	struct sbx_confine_in in = base_in();
	const struct sbx_step *s;

	CHECK_INT(sbx_plan_build(&in, &plan, err, sizeof(err)), 0);
	s = find("/etc/resolv.conf");
	CHECK(s && s->kind == SBX_STEP_BIND && (s->flags & SBX_BIND_FILE) &&
	      (s->flags & SBX_BIND_RO));
	CHECK_STR(s ? s->src : NULL, "/run/sbx/sandboxes/dev/resolv.conf");
	CHECK_STR(find("/etc/hosts") ? find("/etc/hosts")->src : NULL,
		  "/run/sbx/sandboxes/dev/hosts");
	CHECK(index_of("/etc") < index_of("/etc/resolv.conf"));
}

static void test_masks_hide_unreadable_files_and_sbx_dirs(void)
{
	static const char *const masks[] = { "/etc/shadow", "/etc/ssl/private/", "/home/x/secret" };
	static const char *const hid[] = { "/etc/sbx-state", "/run/sbx" };
	struct sbx_confine_in in = base_in();

	in.masks = masks;
	in.nmasks = 3;
	in.hidden = hid;
	in.nhidden = 2;
	CHECK_INT(sbx_plan_build(&in, &plan, err, sizeof(err)), 0);
	CHECK(find("/etc/shadow") && find("/etc/shadow")->kind == SBX_STEP_MASK_FILE);
	CHECK(find("/etc/ssl/private") && find("/etc/ssl/private")->kind == SBX_STEP_MASK_DIR);
	/* not in an overlaid directory: it is not there to hide */
	CHECK(!find("/home/x/secret"));
	/* a state dir under /etc is hidden, one under /run is not there at all */
	CHECK(find("/etc/sbx-state") && find("/etc/sbx-state")->kind == SBX_STEP_MASK_DIR);
	CHECK(!find("/run/sbx"));
	CHECK(index_of("/etc") < index_of("/etc/shadow"));
}

static void test_workspaces_come_last_parents_first(void)
{
	struct sbx_workspace ws[] = {
		{ "/home/a/src/lib", false, -1 },
		{ "/home/a/src", true, -1 },
		{ "/srv/data", false, -1 },
	};
	struct sbx_confine_in in = base_in();
	const struct sbx_step *s;

	in.ws = ws;
	in.nws = 3;
	CHECK_INT(sbx_plan_build(&in, &plan, err, sizeof(err)), 0);
	CHECK(index_of("/home/a/src") < index_of("/home/a/src/lib"));
	CHECK(index_of("/home") < index_of("/home/a/src"));
	CHECK(index_of("/sys") < index_of("/home/a/src"));
	s = find("/home/a/src");
	CHECK(s && s->kind == SBX_STEP_WORKSPACE && s->ws == 1 && (s->flags & SBX_BIND_RO));
	s = find("/home/a/src/lib");
	CHECK(s && s->ws == 0 && !(s->flags & SBX_BIND_RO));
	CHECK_INT(plan.step[plan.n - 1].kind, SBX_STEP_WORKSPACE);
}

static void test_workspaces_that_would_show_sbx_or_the_kernel_are_refused(void)
{
	static const struct {
		const char *path, *says;
	} bad[] = {
		{ "/", "cannot be a workspace" },
		{ "/var/lib", "sbx's own directory /var/lib/sbx" },
		{ "/var/lib/sbx/sandboxes", "sbx's own directory /var/lib/sbx" },
		{ "/run", "/run/sbx" },
		{ "/proc/1", "under /proc" },
		{ "/sys", "under /sys" },
		{ "/dev/shm", "under /dev" },
		{ "relative", "not an absolute path" },
	};
	struct sbx_confine_in in = base_in();

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sbx_workspace ws = { .fd = -1 };

		snprintf(ws.path, sizeof(ws.path), "%s", bad[i].path);
		in.ws = &ws;
		in.nws = 1;
		err[0] = '\0';
		CHECK_INT(sbx_plan_build(&in, &plan, err, sizeof(err)), -EINVAL);
		CHECK_HAS(err, bad[i].says);
	}
}

static void test_duplicate_workspace_and_bad_input_refused(void)
{
	struct sbx_workspace ws[] = { { "/srv/a", false, -1 }, { "/srv/a", true, -1 } };
	struct sbx_confine_in in = base_in();

	in.ws = ws;
	in.nws = 2;
	CHECK_INT(sbx_plan_build(&in, &plan, err, sizeof(err)), -EINVAL);
	CHECK_HAS(err, "given twice");
	in = base_in();
	in.id_base = 65534;
	CHECK_INT(sbx_plan_build(&in, &plan, err, sizeof(err)), -EINVAL);
	CHECK_HAS(err, "id base");
	in = base_in();
	in.dir = "relative";
	CHECK_INT(sbx_plan_build(&in, &plan, err, sizeof(err)), -EINVAL);
	in = base_in();
	in.nsys = 1; /* no /etc */
	CHECK_INT(sbx_plan_build(&in, &plan, err, sizeof(err)), -EINVAL);
	CHECK_HAS(err, "/etc");
}

static void test_too_many_masks_fail_closed(void)
{
	static char paths[SBX_MASKS_MAX + 1][32];
	static const char *masks[SBX_MASKS_MAX + 1];
	struct sbx_confine_in in = base_in();

	for (int i = 0; i <= SBX_MASKS_MAX; i++) {
		snprintf(paths[i], sizeof(paths[i]), "/etc/secret%d", i);
		masks[i] = paths[i];
	}
	in.masks = masks;
	in.nmasks = SBX_MASKS_MAX + 1;
	CHECK_INT(sbx_plan_build(&in, &plan, err, sizeof(err)), -EINVAL);
	CHECK_HAS(err, "host files to hide");
}

static void test_describe_says_kind_target_and_source(void)
{
	struct sbx_confine_in in = base_in();
	char line[PATH_MAX * 2];

	CHECK_INT(sbx_plan_build(&in, &plan, err, sizeof(err)), 0);
	sbx_step_describe(find("/etc/hosts"), line, sizeof(line));
	CHECK_STR(line, "bind /etc/hosts /run/sbx/sandboxes/dev/hosts ro");
}

static const struct test tests[] = {
	T(test_system_dirs_are_overlays_and_links_stay_links),
	T(test_own_tmp_run_home_and_kernel_views),
	T(test_resolv_conf_and_hosts_are_sbxd_files),
	T(test_masks_hide_unreadable_files_and_sbx_dirs),
	T(test_workspaces_come_last_parents_first),
	T(test_workspaces_that_would_show_sbx_or_the_kernel_are_refused),
	T(test_duplicate_workspace_and_bad_input_refused),
	T(test_too_many_masks_fail_closed),
	T(test_describe_says_kind_target_and_source),
};

TEST_MAIN("confine", tests)
