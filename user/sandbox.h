/* SPDX-License-Identifier: MIT */
/*
 * The sandbox registry: what sandboxes exist, their cgroups, network namespaces, veths and
 * addresses, and the BPF enforcement on each; the sandbox.* control requests.
 *
 * A sandbox is a cgroup v2 directory <cgroup2 root>/<instance>/<name> plus a network
 * namespace (bind-mounted at $SBX_RUN_DIR/netns/<name>) joined to sbxd's namespace by a veth
 * pair: the host end <instance>-<id> holds the gateway address, the sandbox end is eth0 with
 * the sandbox address, one /30 of the address pool each. An attached sandbox (sbx attach) is
 * an existing cgroup in sbxd's own network namespace, enforced with cgroup_skb instead of TC.
 *
 * The registry is saved in $SBX_STATE_DIR/sandboxes.json before any kernel object is made, so
 * a crash leaves nothing unknown; the enforcement itself is pinned in BPF and outlives sbxd.
 */
#ifndef SBX_USER_SANDBOX_H
#define SBX_USER_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <limits.h>
#include <stdint.h>
#include <sys/types.h>
#include <cjson/cJSON.h>
#include <sbx/confine.h>
#include <sbx/sandbox.h>

#include "bpfmaps.h"
#include "paths.h"

#define SBX_SANDBOX_STATE_FILE "sandboxes.json"
#define SBX_SANDBOX_STATE_SCHEMA 1
#define SBX_SANDBOX_STATE_MAX (64u << 20)  /* bytes of sandboxes.json */
#define SBX_SANDBOXES_MAX 1024		    /* sandboxes per instance */
#define SBX_SANDBOX_POOL_DEFAULT "10.209.0.0/16"
#define SBX_SANDBOX_STOP_MS 5000	    /* how long stop waits for the processes to exit */
#define SBX_SANDBOX_PEER_IF "eth0"	    /* the sandbox end of the veth */
#define SBX_SANDBOX_WS_MAX SBX_WORKSPACES_MAX

struct sbx_sandbox {
	char name[64];
	uint32_t id;	   /* >= 1, stable for the sandbox's life; also the BPF sandbox_id */
	uint32_t ip4, gw4; /* sandbox address and its gateway (host end of the veth), network
			    * order; 0 and 127.0.0.1 for attached cgroups */
	bool attached;	   /* an existing cgroup in sbxd's netns (sbx attach) */
	char cgroup[4096]; /* absolute cgroup directory */
	char netns[4096];  /* bind-mounted netns file, "" when attached */
	char host_if[16];  /* host-side veth name, "" when attached */
	int64_t created;
	uint64_t cgroup_id; /* the kernel's id of cgroup when enforcement was attached */
	bool stopped;	    /* sbx stop: sbx exec refuses, sbx run starts it again */
	uint32_t id_base;   /* host uid/gid of its root: a block of sandbox_ids; 0 if attached */
	int32_t init_pid;   /* its init (sandbox_root.c) while it runs, else 0 */
	uint64_t init_start; /* the init's start time, so a reused pid is not taken for it */
	uint32_t owner_uid, owner_gid; /* who made it: workspaces are idmapped to this user */
	char owner_home[PATH_MAX];     /* what ~ means in filesystem rules for it */
	size_t nws;
	struct sbx_sandbox_ws {
		char path[PATH_MAX]; /* canonical */
		bool ro;
	} ws[SBX_SANDBOX_WS_MAX];
};

struct sbx_sandboxes;
struct sbx_policyd;

/* The proxy ports sbxd listens on (host order). */
struct sbx_sandbox_ports {
	uint16_t fwd, tproxy, dns;
};

/*
 * Load $STATE/sandboxes.json and re-register what exists (enforcement stays pinned in BPF;
 * it is re-applied with the current ports); drop, logging it, entries whose netns or cgroup
 * vanished and that hold no process (one that only lost its veth, or still has processes,
 * is kept: sbx run rebuilds it, sbx rm removes it). A corrupt file is an error naming it.
 * @bpf may be NULL (no BPF: listing works, creating refuses). @cfg gives the address pool
 * (sandbox_pool).
 */
int sbx_sandboxes_open(const struct sbx_paths *paths, const struct sbx_config *cfg,
		       const struct sbx_sandbox_ports *ports, struct sbx_bpf *bpf,
		       struct sbx_sandboxes **out, char *err, size_t errlen);
/* Does NOT tear down sandboxes: they stay enforced. NULL is fine. */
void sbx_sandboxes_free(struct sbx_sandboxes *s);
/* The policy whose filesystem rules decide workspaces. */
void sbx_sandboxes_set_policy(struct sbx_sandboxes *s, struct sbx_policyd *pd);
/*
 * One request; returns a reply (never NULL unless out of memory). Ops:
 *   sandbox.start {name}   create if needed, start; reply {"sandbox": {...}, "env": {...},
 *                          "mounts": [{"source", "target"}], "created": bool}
 *   sandbox.exec {name}    the same reply, but the sandbox must exist and be running
 *   sandbox.ls             {"sandboxes": [{...}]}
 *   sandbox.stop {name}    kill its processes (cgroup.kill), mark it stopped
 *   sandbox.rm {name, force}   stop, detach BPF, delete veth, netns, cgroup, forget it
 *   sandbox.attach {name, cgroup | pid}   enforce on an existing cgroup
 */
cJSON *sbx_sandboxes_handle(struct sbx_sandboxes *s, const char *op, const cJSON *args,
			    bool *shutdown);
/* Where a control-socket peer runs (sbxd(8) "Authority"). */
enum {
	SBX_PEER_HOST,	   /* outside every sandbox and attached cgroup */
	SBX_PEER_SANDBOX,  /* in a sandbox sbx made (anywhere under <cgroup2 root>/<instance>) */
	SBX_PEER_ATTACHED, /* in or below an attached cgroup */
};
/*
 * Which of those process @pid is in, from /proc/PID/cgroup; @name gets the sandbox's name
 * when it is a registered one. -errno when its cgroup cannot be read (-EMFILE: sbxd is out of
 * descriptors; -ESRCH/-ENOENT: the process is gone): an error, never a guess. Main thread.
 */
int sbx_sandboxes_peer_where(struct sbx_sandboxes *s, pid_t pid, char *name, size_t len);
/* Is @name an attached cgroup (sbx attach)? false when there is no such sandbox. Main thread. */
bool sbx_sandboxes_attached(struct sbx_sandboxes *s, const char *name);
/* Thread-safe lookups for the proxy workers (internal rwlock); copy into *out. */
bool sbx_sandboxes_by_ip(struct sbx_sandboxes *s, uint32_t ip4, struct sbx_sandbox *out);
bool sbx_sandboxes_by_id(struct sbx_sandboxes *s, uint32_t id, struct sbx_sandbox *out);
/* Kill every running netns sandbox's processes and mark it stopped (sbx policy reset). */
void sbx_sandboxes_stop_all(struct sbx_sandboxes *s);

/* ---- pure parts, unit-tested ------------------------------------------------------------ */

/* An address pool: IPv4 network (network order) and prefix length, 8..30. */
struct sbx_pool {
	uint32_t net;
	int prefix;
};

int sbx_pool_parse(const char *text, struct sbx_pool *out, char *err, size_t errlen);
/*
 * The lowest /30 of @pool that no sandbox of @v uses and that holds none of the @ntaken
 * addresses of @taken (those already on sbxd's interfaces: another instance, the host's own
 * networks): *gw4 = its .1, *ip4 = its .2 (network order). -ENOSPC when the pool is full.
 */
int sbx_pool_alloc(const struct sbx_pool *pool, struct sbx_sandbox *const *v, size_t n,
		   const uint32_t *taken, size_t ntaken, uint32_t *ip4, uint32_t *gw4);
/* The host-side veth name: <instance>-<id> within 15 characters. */
void sbx_sandbox_host_if(const char *instance, uint32_t id, char out[16]);

/* The saved registry. */
struct sbx_sandbox_list {
	struct sbx_sandbox **v;
	size_t n;
	uint32_t next_id; /* ids are never reused: verdict counters stay one sandbox's */
};

/* -ENOENT when there is no file; -EINVAL with @err naming the file when it is corrupt. */
int sbx_sandbox_list_load(const char *path, struct sbx_sandbox_list *l, char *err,
			  size_t errlen);
int sbx_sandbox_list_save(const char *path, const struct sbx_sandbox_list *l, char *err,
			  size_t errlen);
void sbx_sandbox_list_release(struct sbx_sandbox_list *l);
/* Append a copy; -ENOMEM. */
int sbx_sandbox_list_add(struct sbx_sandbox_list *l, const struct sbx_sandbox *sb);
/* Remove (and free) entry i. */
void sbx_sandbox_list_del(struct sbx_sandbox_list *l, size_t i);

#endif
