// SPDX-License-Identifier: MIT
/*
 * bpfmaps: loading, pinning and attaching sbx's BPF programs, and the userspace side of the
 * maps they share with sbxd and the CLI. See bpfmaps.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "bpfmaps.h"
#include "fsutil.h"
#include "log.h"
#include "sock.skel.h"
#include "tc.skel.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define TC_PROG_NAME	 "sbx_tc_ingress"
#define CG_SKB_PROG_NAME "sbx_cg_egress"
#define LSM_PROG_NAME	 "sbx_socket_create"
#define LSM_HOOK_FUNC	 "bpf_lsm_socket_create"

/* Every map sbx pins, by name: what unpin_all may remove from the pin dir. */
static const char *const pinned_maps[] = {
	SBX_MAP_SANDBOXES, SBX_MAP_IFACES,	 SBX_MAP_ORIG_DST, SBX_MAP_CONN,
	SBX_MAP_VERDICTS,  SBX_MAP_SANDBOX_NAMES, SBX_MAP_PASSIVE, SBX_MAP_DNS_CLIENTS,
};

struct sbx_bpf {
	struct sock_bpf *sock;
	struct tc_bpf *tc;
	char pin_dir[PATH_MAX];
};

static const char *hint(int err)
{
	switch (-err) {
	case EPERM:
	case EACCES:
		return " (run as root)";
	case ENOENT:
		return " (does it exist?)";
	default:
		return "";
	}
}

static int join_path(char *buf, size_t size, const char *a, const char *b, const char *c)
{
	int n = snprintf(buf, size, "%s/%s%s%s", a, b, c ? "/" : "", c ? c : "");

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static bool under_bpffs_mount(const char *path)
{
	size_t n = strlen(SBX_BPFFS_MOUNT);

	return strncmp(path, SBX_BPFFS_MOUNT, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

static int fs_type(const char *path, long *type)
{
	struct statfs st;

	if (statfs(path, &st))
		return -errno;
	*type = (long)st.f_type;
	return 0;
}

/* bpffs is not mounted at boot on our machines; sbxd mounts it like systemd would. */
static int ensure_bpffs(const char *pin_dir)
{
	long type = 0;
	int err;

	if (under_bpffs_mount(pin_dir) && fs_type(SBX_BPFFS_MOUNT, &type) == 0 &&
	    type != BPF_FS_MAGIC) {
		if (mount("bpf", SBX_BPFFS_MOUNT, "bpf", MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  "mode=0700")) {
			err = -errno;
			pr_warn("sbx: cannot mount bpffs on %s: %s%s\n", SBX_BPFFS_MOUNT,
				strerror(-err), hint(err));
			return err;
		}
		pr_info("sbx: mounted bpffs on %s\n", SBX_BPFFS_MOUNT);
	}
	err = sbx_mkdir_p(pin_dir, 0700);
	if (err) {
		pr_warn("sbx: cannot create pin dir %s: %s%s\n", pin_dir, strerror(-err),
			hint(err));
		return err;
	}
	err = fs_type(pin_dir, &type);
	if (err || type != BPF_FS_MAGIC) {
		pr_warn("sbx: pin dir %s is not on a bpf filesystem (mount -t bpf bpf DIR, or set "
			"SBX_BPF_DIR under /sys/fs/bpf)\n",
			pin_dir);
		return err ? err : -EINVAL;
	}
	return 0;
}

static int make_subdir(const char *pin_dir, const char *sub)
{
	char path[PATH_MAX];
	int err = join_path(path, sizeof(path), pin_dir, sub, NULL);

	if (err)
		return err;
	if (mkdir(path, 0700) && errno != EEXIST) {
		err = -errno;
		pr_warn("sbx: cannot create %s: %s%s\n", path, strerror(-err), hint(err));
		return err;
	}
	return 0;
}

static struct bpf_program *find_prog(const struct sbx_bpf *b, const char *name)
{
	struct bpf_program *p = bpf_object__find_program_by_name(b->sock->obj, name);

	return p ? p : bpf_object__find_program_by_name(b->tc->obj, name);
}

const char *sbx_bpf_pin_dir(const struct sbx_bpf *b)
{
	return b->pin_dir;
}

int sbx_bpf_map_fd(const struct sbx_bpf *b, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(b->sock->obj, name);

	if (!m)
		m = bpf_object__find_map_by_name(b->tc->obj, name);
	return m ? bpf_map__fd(m) : -ENOENT;
}

int sbx_bpf_prog_fd(const struct sbx_bpf *b, const char *name)
{
	struct bpf_program *p = find_prog(b, name);

	return p ? bpf_program__fd(p) : -ENOENT;
}

/* Pin prog as pin_dir/progs/<name>, atomically replacing a pin left by an earlier sbxd. */
static int pin_prog(const struct sbx_bpf *b, const struct bpf_program *prog)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	const char *name = bpf_program__name(prog);
	int err;

	if (join_path(path, sizeof(path), b->pin_dir, SBX_PIN_PROGS_DIR, name) ||
	    snprintf(tmp, sizeof(tmp), "%s_new", path) /* bpffs refuses dots */ >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	unlink(tmp);
	if (bpf_obj_pin(bpf_program__fd(prog), tmp)) {
		err = -errno;
		goto fail;
	}
	if (rename(tmp, path)) {
		err = -errno;
		unlink(tmp);
		goto fail;
	}
	return 0;
fail:
	pr_warn("sbx: cannot pin program %s at %s: %s\n", name, path, strerror(-err));
	return err;
}

static int link_pin_path(char *buf, size_t size, const char *pin_dir, __u64 cgid,
			 const char *prog_name)
{
	int n = snprintf(buf, size, "%s/%s/cg%" PRIu64 "_%s", pin_dir, SBX_PIN_LINKS_DIR,
			 (uint64_t)cgid, prog_name);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Parse "cg<id>_<prog>" into id and a pointer to prog; false for anything else. */
static bool parse_link_name(const char *name, __u64 *cgid, const char **prog)
{
	unsigned long long id;
	char *end;

	if (strncmp(name, "cg", 2) != 0 || name[2] < '0' || name[2] > '9')
		return false;
	errno = 0;
	id = strtoull(name + 2, &end, 10);
	if (errno || *end != '_' || !end[1])
		return false;
	*cgid = id;
	*prog = end + 1;
	return true;
}

/* The cgroup a link is attached to; 0 once the cgroup is gone (the link is defunct). */
static __u64 link_cgroup_id(int link_fd)
{
	struct bpf_link_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(link_fd, &info, &len))
		return 0;
	return info.type == BPF_LINK_TYPE_CGROUP ? info.cgroup.cgroup_id : 0;
}

/*
 * Moves the links and TC filters of an earlier sbxd to this one's programs, and forgets
 * cgroups that were removed meanwhile. Best effort: what fails is reported and left as is
 * (still enforcing with the old programs).
 */
static void adopt_attachments(struct sbx_bpf *b)
{
	char dir[PATH_MAX], path[PATH_MAX + NAME_MAX + 2];
	int sandboxes_fd = sbx_bpf_map_fd(b, SBX_MAP_SANDBOXES);
	int ifaces_fd = sbx_bpf_map_fd(b, SBX_MAP_IFACES);
	int tc_fd = sbx_bpf_prog_fd(b, TC_PROG_NAME);
	struct bpf_program *prog;
	struct dirent *de;
	__u32 next, *prev = NULL, *keys;
	const char *prog_name;
	char ifname[IF_NAMESIZE];
	__u64 cgid;
	DIR *d;
	int fd, n, i;

	if (join_path(dir, sizeof(dir), b->pin_dir, SBX_PIN_LINKS_DIR, NULL) == 0 &&
	    (d = opendir(dir))) {
		while ((de = readdir(d))) {
			if (!parse_link_name(de->d_name, &cgid, &prog_name))
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			fd = bpf_obj_get(path);
			if (fd < 0)
				continue;
			if (link_cgroup_id(fd) != cgid) {
				pr_info("sbx: cgroup %" PRIu64 " is gone, removing %s\n",
					(uint64_t)cgid, path);
				unlink(path);
				bpf_map_delete_elem(sandboxes_fd, &cgid);
			} else if ((prog = find_prog(b, prog_name)) && bpf_program__fd(prog) >= 0 &&
				   bpf_link_update(fd, bpf_program__fd(prog), NULL)) {
				pr_warn("sbx: cannot move %s to the new %s program: %s\n", path,
					prog_name, strerror(errno));
			}
			close(fd);
		}
		closedir(d);
	}

	keys = calloc(SBX_MAX_IFACES, sizeof(*keys));
	if (!keys)
		return;
	for (n = 0; n < SBX_MAX_IFACES && bpf_map_get_next_key(ifaces_fd, prev, &next) == 0;
	     n++) {
		keys[n] = next;
		prev = &keys[n];
	}
	for (i = 0; i < n; i++) {
		if (!if_indextoname(keys[i], ifname)) {
			bpf_map_delete_elem(ifaces_fd, &keys[i]);
			continue;
		}
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)keys[i],
			    .attach_point = BPF_TC_INGRESS);
		LIBBPF_OPTS(bpf_tc_opts, opts, .handle = SBX_TC_HANDLE, .priority = SBX_TC_PRIORITY,
			    .prog_fd = tc_fd, .flags = BPF_TC_F_REPLACE);
		if (bpf_tc_attach(&hook, &opts))
			pr_warn("sbx: cannot move the TC filter on %s to the new program\n",
				ifname);
	}
	free(keys);
}

/* Loads a do-nothing lsm_cgroup program on the hook: 0 if this kernel takes them, -errno. */
static int probe_lsm_cgroup(int hook_btf_id)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 1 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_LSM_CGROUP,
		    .attach_btf_id = (__u32)hook_btf_id);
	int fd = bpf_prog_load(BPF_PROG_TYPE_LSM, "sbx_probe", "GPL", insns, 2, &opts);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/*
 * The socket-family guard is an lsm_cgroup program: it loads only where the kernel has the BPF
 * LSM built in and allows LSM programs, and acts only where the BPF LSM is also enabled (lsm=
 * on the command line). Without it sbx still confines the sandboxes it runs (`sbx run` adds a
 * seccomp filter on socket families; packet sockets need CAP_NET_RAW, and their frames meet
 * the veth filter), but not the families of attached cgroups: say so rather than refuse to run.
 */
static void probe_lsm(struct sbx_bpf *b)
{
	struct bpf_program *prog = bpf_object__find_program_by_name(b->sock->obj, LSM_PROG_NAME);
	struct btf *vmlinux = btf__load_vmlinux_btf();
	int id = vmlinux ? btf__find_by_name_kind(vmlinux, LSM_HOOK_FUNC, BTF_KIND_FUNC) : -ENOENT;
	char active[256] = "";
	int err;
	FILE *f;

	btf__free(vmlinux);
	err = id > 0 ? probe_lsm_cgroup(id) : -ENOENT;
	if (err) {
		pr_warn("sbx: %s: socket families other than unix, inet, inet6 and netlink "
			"route are refused only by sbx run's seccomp filter (not in attached "
			"cgroups) and not counted\n",
			err == -ENOENT ? "kernel without the BPF LSM" :
			err == -EPERM  ? "this kernel refuses BPF LSM programs" :
					 "cannot load an lsm_cgroup program");
		bpf_program__set_autoload(prog, false);
		return;
	}
	f = fopen("/sys/kernel/security/lsm", "r");
	if (f) {
		if (!fgets(active, sizeof(active), f))
			active[0] = '\0';
		fclose(f);
		if (!strstr(active, "bpf"))
			pr_warn("sbx: the BPF LSM is not enabled (add bpf to lsm= on the kernel "
				"command line): socket families are refused only by sbx run's "
				"seccomp filter (not in attached cgroups)\n");
	}
}

int sbx_bpf_open(const char *pin_dir, struct sbx_bpf **out)
{
	struct bpf_program *prog;
	struct sbx_bpf *b;
	int err;

	*out = NULL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	if (snprintf(b->pin_dir, sizeof(b->pin_dir), "%s", pin_dir) >= (int)sizeof(b->pin_dir)) {
		err = -ENAMETOOLONG;
		goto cleanup;
	}
	err = ensure_bpffs(b->pin_dir);
	if (!err)
		err = make_subdir(b->pin_dir, SBX_PIN_LINKS_DIR);
	if (!err)
		err = make_subdir(b->pin_dir, SBX_PIN_PROGS_DIR);
	if (err)
		goto cleanup;

	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = b->pin_dir);
	b->sock = sock_bpf__open_opts(&opts);
	if (!b->sock) {
		err = -errno;
		pr_warn("sbx: cannot open the socket programs: %s\n", strerror(-err));
		goto cleanup;
	}
	probe_lsm(b);
	err = sock_bpf__load(b->sock);
	if (err) {
		pr_warn("sbx: cannot load the socket programs with maps in %s: %s (kernel without "
			"cgroup BPF? maps pinned by another sbx version: stop sbxd, remove its sandboxes and "
			"the pin dir, then start again)\n",
			b->pin_dir, strerror(-err));
		goto cleanup;
	}
	b->tc = tc_bpf__open_opts(&opts);
	if (!b->tc) {
		err = -errno;
		pr_warn("sbx: cannot open the packet filter: %s\n", strerror(-err));
		goto cleanup;
	}
	err = tc_bpf__load(b->tc);
	if (err) {
		pr_warn("sbx: cannot load the packet filter with maps in %s: %s (kernel without "
			"cls_bpf? maps pinned by another sbx version: stop sbxd, remove its sandboxes and "
			"the pin dir, then start again)\n",
			b->pin_dir, strerror(-err));
		goto cleanup;
	}

	bpf_object__for_each_program(prog, b->sock->obj) {
		if (!bpf_program__autoload(prog))
			continue;
		err = pin_prog(b, prog);
		if (err)
			goto cleanup;
	}
	bpf_object__for_each_program(prog, b->tc->obj) {
		err = pin_prog(b, prog);
		if (err)
			goto cleanup;
	}
	adopt_attachments(b);
	*out = b;
	return 0;
cleanup:
	sbx_bpf_close(b);
	return err;
}

void sbx_bpf_close(struct sbx_bpf *b)
{
	if (!b)
		return;
	tc_bpf__destroy(b->tc);
	sock_bpf__destroy(b->sock);
	free(b);
}

int sbx_bpf_cgroup_id(const char *cgroup_path, __u64 *id)
{
	struct file_handle *fh;
	int mount_id, err = 0;

	fh = malloc(sizeof(*fh) + sizeof(*id));
	if (!fh)
		return -ENOMEM;
	fh->handle_bytes = sizeof(*id);
	if (name_to_handle_at(AT_FDCWD, cgroup_path, fh, &mount_id, 0))
		err = -errno;
	else if (fh->handle_bytes != sizeof(*id))
		err = -EINVAL;
	else
		memcpy(id, fh->f_handle, sizeof(*id));
	free(fh);
	return err;
}

static int open_cgroup(const char *path, __u64 *cgid)
{
	struct statfs st;
	int fd, err;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		pr_warn("sbx: cannot open cgroup %s: %s%s\n", path, strerror(-err), hint(err));
		return err;
	}
	if (fstatfs(fd, &st) || st.f_type != CGROUP2_SUPER_MAGIC) {
		pr_warn("sbx: %s is not a cgroup v2 directory (look for the cgroup2 mount in "
			"/proc/self/mounts)\n",
			path);
		close(fd);
		return -EINVAL;
	}
	err = sbx_bpf_cgroup_id(path, cgid);
	if (err) {
		pr_warn("sbx: cannot get the id of cgroup %s: %s\n", path, strerror(-err));
		close(fd);
		return err;
	}
	return fd;
}

/*
 * Attach prog to the cgroup through a link pinned in links/; a link already pinned there (an
 * earlier attach, an earlier sbxd) is moved to prog instead. *created says which.
 */
static int link_prog(struct sbx_bpf *b, const char *cgroup_path, int cgfd, __u64 cgid,
		     struct bpf_program *prog, bool *created)
{
	const char *name = bpf_program__name(prog);
	char path[PATH_MAX];
	struct bpf_link *link;
	int fd, err;

	*created = false;
	err = link_pin_path(path, sizeof(path), b->pin_dir, cgid, name);
	if (err)
		return err;
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		if (link_cgroup_id(fd) == cgid &&
		    bpf_link_update(fd, bpf_program__fd(prog), NULL) == 0) {
			close(fd);
			return 0;
		}
		close(fd);
		unlink(path); /* defunct or foreign: replace it */
	}

	link = bpf_program__attach_cgroup(prog, cgfd);
	if (!link) {
		err = -errno;
		pr_warn("sbx: cannot attach %s to %s: %s%s\n", name, cgroup_path, strerror(-err),
			err == -EPERM ? " (run as root)" :
			err == -EINVAL ? " (kernel without this cgroup hook?)" : "");
		return err;
	}
	err = bpf_link__pin(link, path);
	if (err) {
		pr_warn("sbx: cannot pin the %s link of %s at %s: %s\n", name, cgroup_path, path,
			strerror(-err));
		bpf_link__destroy(link); /* not pinned: detaches */
		return err;
	}
	/* The pin keeps it attached after our fd is gone. */
	bpf_link__disconnect(link);
	bpf_link__destroy(link);
	*created = true;
	return 0;
}

static void unlink_link(const char *pin_dir, __u64 cgid, const char *prog_name)
{
	char path[PATH_MAX];
	int fd;

	if (link_pin_path(path, sizeof(path), pin_dir, cgid, prog_name))
		return;
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		bpf_link_detach(fd);
		close(fd);
	}
	unlink(path);
}

static int register_sandbox(struct sbx_bpf *b, const char *cgroup_path, __u64 cgid,
			    const struct sbx_sandbox_cfg *cfg, bool *existed)
{
	int fd = sbx_bpf_map_fd(b, SBX_MAP_SANDBOXES);
	struct sbx_sandbox_cfg old;
	int err;

	*existed = bpf_map_lookup_elem(fd, &cgid, &old) == 0;
	if (bpf_map_update_elem(fd, &cgid, cfg, BPF_ANY)) {
		err = -errno;
		pr_warn("sbx: cannot register cgroup %s in %s: %s%s\n", cgroup_path,
			SBX_MAP_SANDBOXES, strerror(-err),
			err == -E2BIG ? " (too many sandboxes)" : "");
		return err;
	}
	return 0;
}

/* Attach the programs of obj (all of them, or only `only`) to a cgroup; see bpfmaps.h. */
static int attach_cgroup_progs(struct sbx_bpf *b, struct bpf_object *obj, const char *only,
			       const char *cgroup_path, const struct sbx_sandbox_cfg *cfg,
			       __u64 *cgid_out)
{
	const char *made[32]; /* links this call created; more than the programs we have */
	struct bpf_program *prog;
	bool existed, created;
	int cgfd, err = 0;
	size_t n = 0, i;
	__u64 cgid;

	cgfd = open_cgroup(cgroup_path, &cgid);
	if (cgfd < 0)
		return cgfd;
	/* Registered first: a program that runs as soon as it is attached must find it. */
	err = register_sandbox(b, cgroup_path, cgid, cfg, &existed);
	if (err)
		goto out;
	bpf_object__for_each_program(prog, obj) {
		if (only && strcmp(bpf_program__name(prog), only) != 0)
			continue;
		if (bpf_program__type(prog) == BPF_PROG_TYPE_SCHED_CLS ||
		    !bpf_program__autoload(prog))
			continue;
		err = link_prog(b, cgroup_path, cgfd, cgid, prog, &created);
		if (err)
			break;
		if (created && n < sizeof(made) / sizeof(made[0]))
			made[n++] = bpf_program__name(prog);
	}
	if (err) {
		for (i = 0; i < n; i++)
			unlink_link(b->pin_dir, cgid, made[i]);
		if (!existed)
			bpf_map_delete_elem(sbx_bpf_map_fd(b, SBX_MAP_SANDBOXES), &cgid);
		goto out;
	}
	if (cgid_out)
		*cgid_out = cgid;
out:
	close(cgfd);
	return err;
}

int sbx_bpf_attach_cgroup(struct sbx_bpf *b, const char *cgroup_path,
			  const struct sbx_sandbox_cfg *cfg, __u64 *cgid_out)
{
	return attach_cgroup_progs(b, b->sock->obj, NULL, cgroup_path, cfg, cgid_out);
}

int sbx_bpf_attach_cgroup_skb(struct sbx_bpf *b, const char *cgroup_path,
			      const struct sbx_sandbox_cfg *cfg, __u64 *cgid_out)
{
	return attach_cgroup_progs(b, b->tc->obj, CG_SKB_PROG_NAME, cgroup_path, cfg, cgid_out);
}

/* Detach and unpin every link in pin_dir/links for cgid, or for every cgroup if all. */
static int unlink_links(const char *pin_dir, bool all, __u64 cgid)
{
	char dir[PATH_MAX], path[PATH_MAX + NAME_MAX + 2];
	const char *prog_name;
	struct dirent *de;
	int fd, err = 0;
	__u64 id;
	DIR *d;

	if (join_path(dir, sizeof(dir), pin_dir, SBX_PIN_LINKS_DIR, NULL))
		return -ENAMETOOLONG;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (!parse_link_name(de->d_name, &id, &prog_name) || (!all && id != cgid))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		fd = bpf_obj_get(path);
		if (fd >= 0) {
			bpf_link_detach(fd); /* fails harmlessly on links whose cgroup is gone */
			close(fd);
		}
		if (unlink(path) && errno != ENOENT && !err) {
			err = -errno;
			pr_warn("sbx: cannot unpin %s: %s\n", path, strerror(-err));
		}
	}
	closedir(d);
	return err;
}

int sbx_bpf_detach_cgroup(struct sbx_bpf *b, __u64 cgid)
{
	int err = unlink_links(b->pin_dir, false, cgid);

	if (bpf_map_delete_elem(sbx_bpf_map_fd(b, SBX_MAP_SANDBOXES), &cgid) && errno != ENOENT &&
	    !err)
		err = -errno;
	return err;
}

int sbx_bpf_attach_tc(struct sbx_bpf *b, int ifindex, const struct sbx_sandbox_cfg *cfg)
{
	int fd = sbx_bpf_map_fd(b, SBX_MAP_IFACES);
	__u32 key = (__u32)ifindex;
	struct sbx_sandbox_cfg old;
	char ifname[IF_NAMESIZE] = "?";
	bool existed;
	int err;

	if_indextoname(key, ifname);
	existed = bpf_map_lookup_elem(fd, &key, &old) == 0;
	if (bpf_map_update_elem(fd, &key, cfg, BPF_ANY)) {
		err = -errno;
		pr_warn("sbx: cannot register interface %s in %s: %s\n", ifname, SBX_MAP_IFACES,
			strerror(-err));
		return err;
	}
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = SBX_TC_HANDLE, .priority = SBX_TC_PRIORITY,
		    .prog_fd = sbx_bpf_prog_fd(b, TC_PROG_NAME), .flags = BPF_TC_F_REPLACE);
	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST) {
		pr_warn("sbx: cannot add a clsact qdisc to %s (ifindex %d): %s%s\n", ifname,
			ifindex, strerror(-err), err == -ENODEV ? " (interface gone?)" : hint(err));
		goto fail;
	}
	err = bpf_tc_attach(&hook, &opts);
	if (err) {
		pr_warn("sbx: cannot attach the packet filter to %s ingress: %s%s\n", ifname,
			strerror(-err), hint(err));
		goto fail;
	}
	return 0;
fail:
	if (!existed)
		bpf_map_delete_elem(fd, &key);
	return err;
}

static int detach_tc_filter(int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = SBX_TC_HANDLE, .priority = SBX_TC_PRIORITY);
	int err = bpf_tc_detach(&hook, &opts);

	/* Gone with its interface, or never attached: nothing to do. */
	if (err == -ENOENT || err == -ENODEV || err == -EINVAL)
		return 0;
	if (err)
		pr_warn("sbx: cannot detach the packet filter from ifindex %d: %s\n", ifindex,
			strerror(-err));
	return err;
}

int sbx_bpf_detach_tc(struct sbx_bpf *b, int ifindex)
{
	__u32 key = (__u32)ifindex;
	int err = detach_tc_filter(ifindex);

	if (bpf_map_delete_elem(sbx_bpf_map_fd(b, SBX_MAP_IFACES), &key) && errno != ENOENT &&
	    !err)
		err = -errno;
	return err;
}

/* The key of a sandbox's row counter in sbx_verdicts (see bpf_abi.h). */
static void counter_key(__u32 sandbox_id, struct sbx_verdict_key *rk)
{
	memset(rk, 0, sizeof(*rk));
	rk->sandbox_id = sandbox_id;
}

int sbx_bpf_set_sandbox_name(struct sbx_bpf *b, __u32 sandbox_id, const char *name)
{
	int names_fd = sbx_bpf_map_fd(b, SBX_MAP_SANDBOX_NAMES);
	struct sbx_sandbox_name v, old;
	struct sbx_verdict_key rk;
	int err;

	memset(&v, 0, sizeof(v));
	if (strlen(name) >= sizeof(v.name))
		return -ENAMETOOLONG;
	strcpy(v.name, name);
	/*
	 * A sandbox new to this id (ids start again at 1 with a fresh state dir) gets its own
	 * SBX_VERDICTS_PER_SANDBOX rows: the rows of the id's earlier owner stay, as history.
	 */
	if (bpf_map_lookup_elem(names_fd, &sandbox_id, &old) ||
	    strncmp(old.name, v.name, sizeof(v.name)) != 0) {
		counter_key(sandbox_id, &rk);
		bpf_map_delete_elem(sbx_bpf_map_fd(b, SBX_MAP_VERDICTS), &rk);
	}
	if (bpf_map_update_elem(names_fd, &sandbox_id, &v, BPF_ANY)) {
		err = -errno;
		pr_warn("sbx: cannot record the name of sandbox %s: %s\n", name, strerror(-err));
		return err;
	}
	return 0;
}

int sbx_bpf_delete_sandbox_name(struct sbx_bpf *b, __u32 sandbox_id)
{
	if (bpf_map_delete_elem(sbx_bpf_map_fd(b, SBX_MAP_SANDBOX_NAMES), &sandbox_id) &&
	    errno != ENOENT)
		return -errno;
	return 0;
}

int sbx_bpf_sandbox_name(int names_fd, __u32 sandbox_id, char name[SBX_SANDBOX_NAME_MAX])
{
	struct sbx_sandbox_name v;

	if (bpf_map_lookup_elem(names_fd, &sandbox_id, &v))
		return -errno;
	memcpy(name, v.name, SBX_SANDBOX_NAME_MAX);
	name[SBX_SANDBOX_NAME_MAX - 1] = '\0';
	return 0;
}

int sbx_bpf_lookup_conn(struct sbx_bpf *b, __u32 ip4, __u16 port, struct sbx_orig *out)
{
	struct sbx_conn_key key = { .ip4 = ip4, .port = port };
	__u32 udp_port = port;

	/* address 0: a datagram client of the resolver, kept apart from the connections */
	if (ip4 == 0 ? bpf_map_lookup_elem(sbx_bpf_map_fd(b, SBX_MAP_DNS_CLIENTS), &udp_port, out) :
		       bpf_map_lookup_elem(sbx_bpf_map_fd(b, SBX_MAP_CONN), &key, out))
		return -errno;
	return 0;
}

int sbx_bpf_delete_conn(struct sbx_bpf *b, __u32 ip4, __u16 port)
{
	struct sbx_conn_key key = { .ip4 = ip4, .port = port };
	__u32 udp_port = port;

	if (ip4 == 0 ? bpf_map_delete_elem(sbx_bpf_map_fd(b, SBX_MAP_DNS_CLIENTS), &udp_port) :
		       bpf_map_delete_elem(sbx_bpf_map_fd(b, SBX_MAP_CONN), &key))
		return -errno;
	return 0;
}

static __u64 clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

__u64 sbx_bpf_boottime_to_realtime_ns(__u64 boot_ns)
{
	return clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_BOOTTIME) + boot_ns;
}

/* count + 1 on an existing row: 0, -ENOENT if there is none (or it was evicted meanwhile). */
static int verdict_bump(int map_fd, const struct sbx_verdict_key *k, __u64 now)
{
	struct sbx_verdict_val v;

	if (bpf_map_lookup_elem(map_fd, k, &v))
		return -errno;
	v.count++;
	v.last_seen_ns = now;
	return bpf_map_update_elem(map_fd, k, &v, BPF_EXIST) ? -errno : 0;
}

/* A new row with count 1, or + 1 on the one someone inserted first; *created says which. */
static int verdict_insert(int map_fd, const struct sbx_verdict_key *k, __u64 now, bool *created)
{
	struct sbx_verdict_val v = { .count = 1, .last_seen_ns = now };
	int attempt, err = 0;

	*created = false;
	for (attempt = 0; attempt < 2; attempt++) {
		if (bpf_map_update_elem(map_fd, k, &v, BPF_NOEXIST) == 0) {
			*created = true;
			return 0;
		}
		err = -errno;
		if (err != -EEXIST) /* EEXIST: inserted meanwhile, bump it */
			return err;
		err = verdict_bump(map_fd, k, now);
		if (err != -ENOENT) /* ENOENT: evicted meanwhile, insert it */
			return err;
	}
	return err;
}

/*
 * Takes one of the sandbox's SBX_VERDICTS_PER_SANDBOX rows (bpf/lib/verdict.bpf.h
 * sbx_take_row); false when it has none left. A read-modify-write: a row the kernel takes at
 * the same instant may be lost from the counter, which only lets the bound drift by that row.
 */
static bool take_row(int map_fd, __u32 sandbox_id, __u64 now)
{
	struct sbx_verdict_key rk;
	struct sbx_verdict_val rows = { 0 };

	counter_key(sandbox_id, &rk);
	if (bpf_map_lookup_elem(map_fd, &rk, &rows) && errno != ENOENT)
		return false;
	if (rows.count >= SBX_VERDICTS_PER_SANDBOX)
		return false;
	rows.count++;
	rows.last_seen_ns = now;
	return bpf_map_update_elem(map_fd, &rk, &rows, BPF_ANY) == 0;
}

static void give_back_row(int map_fd, __u32 sandbox_id)
{
	struct sbx_verdict_key rk;
	struct sbx_verdict_val rows;

	counter_key(sandbox_id, &rk);
	if (bpf_map_lookup_elem(map_fd, &rk, &rows) == 0 && rows.count > 0) {
		rows.count--;
		bpf_map_update_elem(map_fd, &rk, &rows, BPF_EXIST);
	}
}

int sbx_bpf_verdict_add(int map_fd, const struct sbx_verdict_key *k)
{
	struct sbx_verdict_key other;
	__u64 now = clock_ns(CLOCK_BOOTTIME);
	bool created;
	int err;

	if (k->proxy_kind == SBX_PROXY_NONE)
		return -EINVAL; /* the key of a row counter, not a verdict */
	err = verdict_bump(map_fd, k, now);
	if (err != -ENOENT)
		return err;
	if (take_row(map_fd, k->sandbox_id, now)) {
		err = verdict_insert(map_fd, k, now, &created);
		if (err || !created)
			give_back_row(map_fd, k->sandbox_id);
		return err;
	}
	/* Past its bound: the sandbox's one row for every other host of this kind of verdict. */
	memset(&other, 0, sizeof(other));
	other.sandbox_id = k->sandbox_id;
	other.proxy_kind = k->proxy_kind;
	other.decision = k->decision;
	other.reason = k->reason;
	snprintf(other.host, sizeof(other.host), "%s", SBX_VERDICT_OTHER_HOSTS);
	err = verdict_bump(map_fd, &other, now);
	if (err != -ENOENT)
		return err;
	return verdict_insert(map_fd, &other, now, &created);
}

int sbx_bpf_verdict_foreach(int map_fd,
			    int (*fn)(const struct sbx_verdict_key *k,
				      const struct sbx_verdict_val *v, void *arg),
			    void *arg)
{
	struct sbx_verdict_key key, next;
	struct sbx_verdict_val val;
	const void *prev = NULL;
	int n, ret;

	for (n = 0; n < SBX_MAX_VERDICTS; n++) {
		if (bpf_map_get_next_key(map_fd, prev, &next))
			return errno == ENOENT ? 0 : -errno;
		key = next;
		prev = &key;
		if (key.proxy_kind == SBX_PROXY_NONE)
			continue; /* a sandbox's row counter */
		if (bpf_map_lookup_elem(map_fd, &key, &val))
			continue; /* evicted between the two calls */
		ret = fn(&key, &val, arg);
		if (ret)
			return ret;
	}
	return 0;
}

int sbx_bpf_open_pinned_map(const char *pin_dir, const char *name)
{
	char path[PATH_MAX];
	int fd, err;

	err = join_path(path, sizeof(path), pin_dir, name, NULL);
	if (err)
		return err;
	fd = bpf_obj_get(path);
	/* quiet: the caller says what it could not do, and how to fix it, in one sentence */
	return fd < 0 ? -errno : fd;
}

/* Remove every entry of pin_dir/sub (all made by sbx), then the directory. */
static int clear_subdir(const char *pin_dir, const char *sub)
{
	char dir[PATH_MAX], path[PATH_MAX + NAME_MAX + 2];
	struct dirent *de;
	int err = 0;
	DIR *d;

	if (join_path(dir, sizeof(dir), pin_dir, sub, NULL))
		return -ENAMETOOLONG;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlink(path) && errno != ENOENT && !err)
			err = -errno;
	}
	closedir(d);
	if (rmdir(dir) && errno != ENOENT && !err)
		err = -errno;
	if (err)
		pr_warn("sbx: cannot clear %s: %s\n", dir, strerror(-err));
	return err;
}

int sbx_bpf_unpin_all(const char *pin_dir)
{
	__u32 key, next, *prev = NULL;
	char path[PATH_MAX];
	struct stat st;
	size_t i;
	int fd, n, err, ret = 0;

	if (stat(pin_dir, &st) && errno == ENOENT)
		return 0;

	err = unlink_links(pin_dir, true, 0);
	if (err)
		ret = err;

	fd = sbx_bpf_open_pinned_map(pin_dir, SBX_MAP_IFACES);
	if (fd < 0 && fd != -ENOENT)
		pr_warn("sbx: cannot open pinned map %s/%s: %s%s\n", pin_dir, SBX_MAP_IFACES,
			strerror(-fd), hint(fd));
	if (fd >= 0) {
		for (n = 0; n < SBX_MAX_IFACES && bpf_map_get_next_key(fd, prev, &next) == 0; n++) {
			key = next;
			prev = &key;
			err = detach_tc_filter((int)key);
			if (err && !ret)
				ret = err;
		}
		close(fd);
	}

	err = clear_subdir(pin_dir, SBX_PIN_LINKS_DIR);
	if (err && !ret)
		ret = err;
	err = clear_subdir(pin_dir, SBX_PIN_PROGS_DIR);
	if (err && !ret)
		ret = err;
	for (i = 0; i < sizeof(pinned_maps) / sizeof(pinned_maps[0]); i++) {
		if (join_path(path, sizeof(path), pin_dir, pinned_maps[i], NULL))
			continue;
		if (unlink(path) && errno != ENOENT && !ret) {
			ret = -errno;
			pr_warn("sbx: cannot unpin %s: %s\n", path, strerror(-ret));
		}
	}
	if (rmdir(pin_dir) && errno != ENOENT) {
		err = -errno;
		if (err == -ENOTEMPTY)
			pr_warn("sbx: left %s in place: it holds files sbx did not create\n",
				pin_dir);
		else
			pr_warn("sbx: cannot remove %s: %s\n", pin_dir, strerror(-err));
		if (!ret)
			ret = err;
	}
	return ret;
}
