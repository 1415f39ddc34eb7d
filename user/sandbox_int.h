/* SPDX-License-Identifier: MIT */
/*
 * What the sandbox files share (sandbox.c: the lifecycle, sandbox_ops.c: the requests,
 * sandbox_state.c: the state file); nothing outside them includes it.
 */
#ifndef SBX_USER_SANDBOX_INT_H
#define SBX_USER_SANDBOX_INT_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#include "policyd.h"
#include "sandbox.h"

struct sbx_sandboxes {
	pthread_rwlock_t lock; /* proxy threads look sandboxes up while requests change them */
	struct sbx_paths paths;
	struct sbx_sandbox_ports ports;
	struct sbx_pool pool;
	struct sbx_bpf *bpf;
	char cg_root[PATH_MAX];	  /* the cgroup2 mount, "" when there is none */
	char cg_mnt_root[PATH_MAX]; /* its root within the hierarchy */
	char cg_parent[PATH_MAX];   /* cg_root/<instance>: our sandboxes' cgroups */
	char state_path[PATH_MAX];
	char netns_dir[PATH_MAX];
	char files_dir[PATH_MAX];
	struct sbx_sandbox_list list;
	struct sbx_ids_cfg ids;	    /* sandbox_ids */
	char roots_dir[PATH_MAX];   /* state_dir/roots: each sandbox's own files */
	struct sbx_policyd *pd;	    /* filesystem rules for workspaces */
};

/* sandbox_state.c: a registry entry as stored in sandboxes.json. */
cJSON *sbx_sandbox_to_json(const struct sbx_sandbox *sb);

/* sandbox.c: the registry; the writers take s->lock around changes of s->list. */
int sbx_sandboxes_save(struct sbx_sandboxes *s, char *err, size_t errlen);
struct sbx_sandbox *sbx_sandboxes_find(struct sbx_sandboxes *s, const char *name, size_t *idx);
void sbx_sandboxes_forget(struct sbx_sandboxes *s, const char *name);
/* A registry entry (saved first, so a crash leaves nothing unknown) for a new sandbox. */
int sbx_sandboxes_add(struct sbx_sandboxes *s, struct sbx_sandbox *sb, char *err, size_t errlen);
/* The registry's copy of @sb gets the fields setup filled in (cgroup id), and is saved. */
int sbx_sandboxes_update(struct sbx_sandboxes *s, const struct sbx_sandbox *sb, char *err,
			 size_t errlen);

/* sandbox.c: the kernel objects and files of one sandbox. */
int sbx_sandbox_files_path(const struct sbx_sandboxes *s, const char *name, const char *file,
			   char *out, size_t len);
/* resolv.conf and hosts for the sandbox's mount namespace. */
int sbx_sandbox_write_files(struct sbx_sandboxes *s, const struct sbx_sandbox *sb);
/* Attach (or re-attach, with the current ports) the enforcement of one sandbox. */
int sbx_sandbox_enforce(struct sbx_sandboxes *s, struct sbx_sandbox *sb, char *err,
			size_t errlen);
/*
 * Undo whatever exists of one sandbox's kernel objects: enforcement, veth, netns, our cgroup
 * (never an attached one), its files. Idempotent; 0 or the first error, said in @err.
 */
int sbx_sandbox_teardown(struct sbx_sandboxes *s, const struct sbx_sandbox *sb, char *err,
			 size_t errlen);
/* Make every kernel object of a netns sandbox, then enforce. On failure the caller tears down. */
int sbx_sandbox_setup(struct sbx_sandboxes *s, struct sbx_sandbox *sb, char *err, size_t errlen);
/* Everything a netns sandbox needs is still there; else @what names the missing part. */
bool sbx_sandbox_intact(const struct sbx_sandboxes *s, const struct sbx_sandbox *sb,
			const char **what);
/* Undo a failed creation: kernel objects, then the registry entry. */
void sbx_sandbox_abandon(struct sbx_sandboxes *s, const struct sbx_sandbox *sb);
/* Register, set up and enforce a new netns sandbox; *out is its registry entry. */
int sbx_sandbox_create(struct sbx_sandboxes *s, const char *name, struct sbx_sandbox **out,
		       char *err, size_t errlen);

/* sandbox_root.c: a sandbox's own root, ids and init. */
bool sbx_sandbox_init_alive(const struct sbx_sandbox *sb);
/*
 * Take the workspaces of a request ([{path, readonly}], canonical paths) into @sb, checking
 * them as its next start will; an error reply, or NULL.
 */
cJSON *sbx_sandbox_take_workspaces(struct sbx_sandboxes *s, struct sbx_sandbox *sb,
				   const cJSON *arr);
/* Start its init (allocating its ids first if it has none). @err says why not. */
int sbx_sandbox_root_start(struct sbx_sandboxes *s, struct sbx_sandbox *sb, char *err,
			   size_t errlen);
/* Its own files (upper layers, /home, /root, /var): gone with sbx rm. */
int sbx_sandbox_root_remove(struct sbx_sandboxes *s, const char *name, char *err, size_t errlen);

#endif
