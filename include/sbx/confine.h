/* SPDX-License-Identifier: MIT */
/*
 * What a sandboxed command sees and who it is: a private root, its own namespaces and ids.
 *
 * sbxd starts one init per running sandbox. The init builds the sandbox's root from a plan
 * (struct sbx_plan): a pure function turns the facts (the host's system directories, the
 * files to hide, the workspaces, the sandbox's id block) into a list of typed mount steps,
 * which sbx_plan_apply() carries out in the init, in a mount namespace of its own; then the
 * init pivots into that root, enters the sandbox's user namespace and unshares the mount
 * namespace once more, so every mount it made is locked for the sandbox's root.
 *
 * `sbx run` and `sbx exec` join the init's namespaces (sbx_enter_apply()): nothing is built
 * twice, and every command of a sandbox shares one root, one pid namespace, one /tmp.
 */
#ifndef SBX_CONFINE_H
#define SBX_CONFINE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SBX_IDS_PER_SANDBOX 65536u /* ids 0..65535 inside map to base..base+65535 outside */
#define SBX_PLAN_MAX 512	   /* mount steps of one plan */
#define SBX_MASKS_MAX 256	   /* host files hidden in the overlaid system directories */
#define SBX_WORKSPACES_MAX 8 /* of one sandbox */
#define SBX_SYS_DIRS_MAX 16

/* A host system directory the sandbox sees through an overlay, or the symlink it is. */
enum sbx_sys_kind {
	SBX_SYS_ABSENT,
	SBX_SYS_DIR,
	SBX_SYS_LINK,
};

struct sbx_sys_entry {
	char name[16]; /* "usr", "bin", ...: a directory of / */
	enum sbx_sys_kind kind;
	char link[PATH_MAX]; /* SBX_SYS_LINK: its target, as readlink gives it */
};

/* A host directory mounted at the same path inside; opened once by sbxd, mounted via the fd. */
struct sbx_workspace {
	char path[PATH_MAX]; /* canonical (resolved from the open fd) */
	bool ro;
	int fd;		     /* O_PATH|O_DIRECTORY; -1 in unit tests */
};

struct sbx_confine_in {
	const char *name;     /* the sandbox: its hostname */
	uint32_t id_base;     /* host uid/gid of the sandbox's root */
	const char *dir;      /* the sandbox's own directory under the state dir */
	const char *files_dir; /* resolv.conf and hosts that sbxd writes for it */
	const struct sbx_sys_entry *sys;
	size_t nsys;
	const char *const *masks; /* host paths to hide (files nobody but their owner may read) */
	size_t nmasks;
	const char *const *hidden; /* sbx's own directories: never visible, never a workspace */
	size_t nhidden;
	const struct sbx_workspace *ws;
	size_t nws;
};

enum sbx_step_kind {
	SBX_STEP_SYMLINK, /* target -> src */
	SBX_STEP_TMPFS,	  /* target, data: mount options */
	SBX_STEP_OVERLAY, /* target: lower src (idmapped), upper and work under dir */
	SBX_STEP_BIND,	  /* host src (a file when SBX_BIND_FILE) -> target */
	SBX_STEP_WORKSPACE, /* workspace ws -> target (its path), idmapped to the invoking user */
	SBX_STEP_MASK_FILE, /* an empty read-only file over target */
	SBX_STEP_MASK_DIR,  /* an empty read-only directory over target */
	SBX_STEP_DEVPTS,
	SBX_STEP_PROC,
	SBX_STEP_SYSFS,
};

#define SBX_BIND_FILE 0x1 /* target is a file: made a regular file if it is anything else */
#define SBX_BIND_RO 0x2

struct sbx_step {
	enum sbx_step_kind kind;
	unsigned flags;
	mode_t mode;
	int ws;		      /* SBX_STEP_WORKSPACE: index into the workspaces */
	char target[PATH_MAX]; /* absolute, inside the sandbox */
	char src[PATH_MAX];    /* host path, link text, or mount options */
};

struct sbx_plan {
	char name[64];
	uint32_t id_base;
	char root[PATH_MAX];  /* host dir the root tmpfs goes on (in the init's own mount ns) */
	char stage[PATH_MAX]; /* host dir where idmapped lower layers wait for their overlay */
	char layers[PATH_MAX]; /* upper layers: <dir>/fs/NAME; overlay work dirs: <dir>/work/NAME */
	char empty[PATH_MAX];  /* an empty file, for masks */
	size_t n;
	struct sbx_step step[SBX_PLAN_MAX];
};

/*
 * Build the plan from @in: pure, no I/O. Returns 0, or -EINVAL with a sentence in @err (a
 * workspace that would show sbx's own directories, too many masks, a path too long...).
 * @out is large: allocate it.
 */
int sbx_plan_build(const struct sbx_confine_in *in, struct sbx_plan *out, char *err,
		   size_t errlen);

/* A human line per step, for tests and `sbxd --debug`. */
void sbx_step_describe(const struct sbx_step *s, char *out, size_t len);

/*
 * Carry out @plan, as root of the host user namespace, in the pid namespace's first process
 * (for /proc) and a private mount namespace; @ws are the workspaces (their fds), @userns_fd
 * the sandbox's user namespace (the idmap of the system layers), @ws_userns_fd the one that
 * maps the invoking user for workspaces (-1: same as @userns_fd). Ends with the process's
 * root and cwd in the new root, then in the sandbox's user namespace as its root, with every
 * mount locked. Returns 0 or -errno with @err saying which step failed.
 */
int sbx_plan_apply(const struct sbx_plan *plan, const struct sbx_workspace *ws, size_t nws,
		   int userns_fd, int ws_userns_fd, char *err, size_t errlen);

/* ---- host facts (I/O) ---------------------------------------------------------------------- */

/* The host's system directories (usr, bin, sbin, lib*, etc, opt) as they are now. */
int sbx_sys_scan(const char *hostroot, struct sbx_sys_entry *out, size_t max, size_t *n);
/*
 * Files and directories under @dir that only their owner or group may read: the sandbox's
 * root owns them through the idmap, so they are hidden instead. At most @max paths
 * (malloc'd, free with sbx_masks_free()); -E2BIG when there are more.
 */
int sbx_masks_scan(const char *dir, char ***out, size_t *n, size_t max);
void sbx_masks_free(char **v, size_t n);

/*
 * A user namespace that maps @uid_map/@gid_map ("INSIDE OUTSIDE COUNT\n" lines), for idmapped
 * mounts and for the sandbox itself; returns an fd of it or -errno.
 */
int sbx_userns_open(const char *uid_map, const char *gid_map);

/* Field 22 of /proc/PID/stat: with the pid, it names one process across pid reuse. */
int sbx_proc_starttime(pid_t pid, unsigned long long *out);

/* ---- entering a running sandbox ------------------------------------------------------------ */

struct sbx_enter_ids {
	uid_t uid; /* inside: 0 (the sandbox's root) or the invoking user's id */
	gid_t gid;
};

/*
 * In a child of sbx, after the parent's setns(pidfd, CLONE_NEWPID) and fork: join @pidfd's
 * cgroup (via @cgroup_procs_fd), network, ipc, uts, user and mount namespaces; make @home
 * (owned by @ids) if missing; cd to @cwd; become @ids with no capability outside and no new
 * privileges. The seccomp filter and exec are the caller's. Returns 0 or -errno with @err.
 */
int sbx_enter_apply(int pidfd, int cgroup_procs_fd, const struct sbx_enter_ids *ids,
		    const char *home, const char *cwd, char *err, size_t errlen);

#endif
