/* SPDX-License-Identifier: MIT */
/*
 * bpfmaps — sbx's eBPF programs and maps from userspace: load them, pin them under the bpffs
 * dir, attach them to sandbox cgroups and veths, and read/write the shared maps.
 *
 * Everything that enforces is pinned (maps by name in the pin dir, cgroup links in
 * pin_dir/links, programs in pin_dir/progs) or held by the kernel (TC filters live with their
 * interface), so enforcement outlives sbxd: when it exits or crashes the sandboxes stay
 * confined (fail closed), and a restarted sbxd reopens the same maps and moves the existing
 * attachments to its freshly loaded programs.
 *
 * Functions return 0 or -errno. Those that set things up print what failed, on what, and what
 * to do (pr_warn); the per-connection/per-verdict calls (lookup_conn, verdict_add, ...) are
 * quiet. Interfaces are named by ifindex in the network namespace of the caller.
 */
#ifndef SBX_USER_BPFMAPS_H
#define SBX_USER_BPFMAPS_H

#include <linux/types.h>
#include <sbx/bpf_abi.h>
#include <sbx/verdicts.h>

struct sbx_bpf;

/*
 * Load both BPF objects with their maps pinned in pin_dir (reusing maps already pinned there,
 * so a restarted daemon shares the counters and sandbox tables of the running enforcement) and
 * pin the programs. When pin_dir is under /sys/fs/bpf and no bpffs is mounted there, mounts
 * one. Links and TC filters left by a previous sbxd are moved to the new programs; links of
 * cgroups that no longer exist are removed with their sandbox entries.
 */
int sbx_bpf_open(const char *pin_dir, struct sbx_bpf **out);
/* Close every fd; the pins (and so the enforcement) stay. NULL is fine. */
void sbx_bpf_close(struct sbx_bpf *b);

const char *sbx_bpf_pin_dir(const struct sbx_bpf *b);
/* fd of a map by its SBX_MAP_* name, or of a program by name; -ENOENT if none. Not dup'd. */
int sbx_bpf_map_fd(const struct sbx_bpf *b, const char *name);
int sbx_bpf_prog_fd(const struct sbx_bpf *b, const char *name);

/* The id the kernel gives the cgroup v2 directory at path (what bpf_get_current_cgroup_id sees). */
int sbx_bpf_cgroup_id(const char *cgroup_path, __u64 *id);

/*
 * Enforce cfg on a cgroup v2 directory: register it in sbx_sandboxes, then attach every socket
 * program with a link pinned as pin_dir/links/cg<id>_<program>. Attaching again updates cfg
 * and the links. On failure the links made by this call are removed again.
 */
int sbx_bpf_attach_cgroup(struct sbx_bpf *b, const char *cgroup_path,
			  const struct sbx_sandbox_cfg *cfg, __u64 *cgid_out);
/*
 * For a cgroup attached in the host namespace (cfg's proxy on 127.0.0.1): also attach the
 * cgroup_skb egress filter, so packets from its sockets reach nothing but the proxy ports
 * (and local clients of services it accepted connections for). Call with the same cfg as
 * sbx_bpf_attach_cgroup.
 */
int sbx_bpf_attach_cgroup_skb(struct sbx_bpf *b, const char *cgroup_path,
			      const struct sbx_sandbox_cfg *cfg, __u64 *cgid_out);
/* Detach and unpin every link of that cgroup, drop its sbx_sandboxes entry. */
int sbx_bpf_detach_cgroup(struct sbx_bpf *b, __u64 cgid);

/*
 * TC backstop on the host side of a sandbox veth: register ifindex in sbx_ifaces, create the
 * clsact qdisc if needed and (re)place sbx's ingress filter. The filter lives as long as the
 * interface. Detach removes the filter (not the qdisc) and the entry; a vanished interface is
 * not an error.
 */
int sbx_bpf_attach_tc(struct sbx_bpf *b, int ifindex, const struct sbx_sandbox_cfg *cfg);
int sbx_bpf_detach_tc(struct sbx_bpf *b, int ifindex);

/*
 * sbx_sandbox_names, for `sbx policy log` while sbxd is down. Naming an id anew (a name other
 * than the one it has) also gives it a fresh SBX_VERDICTS_PER_SANDBOX rows.
 */
int sbx_bpf_set_sandbox_name(struct sbx_bpf *b, __u32 sandbox_id, const char *name);
int sbx_bpf_delete_sandbox_name(struct sbx_bpf *b, __u32 sandbox_id);

/*
 * The original destination of a redirected connection, by the peer address the proxy got from
 * accept(): ip4 in network order, port in host order. -ENOENT if not redirected by sbx.
 * ip4 0 asks for the datagram client of the resolver with that local UDP port (a cgroup
 * attached in the host namespace; sbx_dns_clients) instead.
 */
int sbx_bpf_lookup_conn(struct sbx_bpf *b, __u32 ip4, __u16 port, struct sbx_orig *out);
int sbx_bpf_delete_conn(struct sbx_bpf *b, __u32 ip4, __u16 port);

/*
 * Count one verdict in sbx_verdicts (fd from sbx_bpf_map_fd or sbx_bpf_open_pinned_map):
 * count + 1, last_seen = now in CLOCK_BOOTTIME ns; a missing key is inserted with
 * BPF_NOEXIST, retried once if someone else inserted it first. The increment is a
 * read-modify-write: exact with one userspace writer per key (sbxd), which is the case since
 * the kernel only writes keys with empty host and rule. Zero the whole key before filling it.
 * A sandbox that has used its SBX_VERDICTS_PER_SANDBOX rows has a verdict for a new key
 * counted in its SBX_VERDICT_OTHER_HOSTS row of that kind, decision and reason instead (as the
 * kernel does), so the count stays exact and other sandboxes' rows stay. -EINVAL for a key of
 * kind SBX_PROXY_NONE (a row counter's).
 */
int sbx_bpf_verdict_add(int map_fd, const struct sbx_verdict_key *k);

/*
 * Undo everything sbx pinned in pin_dir: detach and unpin the links, detach the TC filters
 * recorded in sbx_ifaces, unpin programs and maps, remove the directories. Files sbx did not
 * create are left alone (and the dir with them, -ENOTEMPTY). A missing pin_dir is fine.
 */
int sbx_bpf_unpin_all(const char *pin_dir);

#endif /* SBX_USER_BPFMAPS_H */
