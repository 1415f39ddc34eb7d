// SPDX-License-Identifier: MIT
/*
 * The sandbox registry and the kernel objects of one sandbox (cgroup, netns, veth, BPF): create,
 * set up, enforce, tear down, and at startup revive what the state file names; see sandbox.h.
 * The requests are in sandbox_ops.c, the state file in sandbox_state.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>

#include <sbx/policy.h>
#include "cgroup.h"
#include "fsutil.h"
#include "log.h"
#include "netlink.h"
#include "sandbox_int.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -EINVAL)

#define TAKEN_MAX 4096 /* local addresses considered when allocating one */

int sbx_sandboxes_save(struct sbx_sandboxes *s, char *err, size_t errlen)
{
	return sbx_sandbox_list_save(s->state_path, &s->list, err, errlen);
}

struct sbx_sandbox *sbx_sandboxes_find(struct sbx_sandboxes *s, const char *name, size_t *idx)
{
	for (size_t i = 0; i < s->list.n; i++) {
		if (strcmp(s->list.v[i]->name, name) == 0) {
			if (idx)
				*idx = i;
			return s->list.v[i];
		}
	}
	return NULL;
}

void sbx_sandboxes_forget(struct sbx_sandboxes *s, const char *name)
{
	size_t i;

	pthread_rwlock_wrlock(&s->lock);
	if (sbx_sandboxes_find(s, name, &i))
		sbx_sandbox_list_del(&s->list, i);
	pthread_rwlock_unlock(&s->lock);
}

int sbx_sandbox_files_path(const struct sbx_sandboxes *s, const char *name, const char *file,
			   char *out, size_t len)
{
	int n = file ? snprintf(out, len, "%s/%s/%s", s->files_dir, name, file) :
		       snprintf(out, len, "%s/%s", s->files_dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* resolv.conf and hosts for the sandbox's mount namespace. */
int sbx_sandbox_write_files(struct sbx_sandboxes *s, const struct sbx_sandbox *sb)
{
	char dir[PATH_MAX], path[PATH_MAX], gw[INET_ADDRSTRLEN], text[512];
	int err, n;

	inet_ntop(AF_INET, &sb->gw4, gw, sizeof(gw));
	err = sbx_sandbox_files_path(s, sb->name, NULL, dir, sizeof(dir));
	if (!err)
		err = sbx_mkdir_p(dir, 0755);
	if (!err)
		err = sbx_sandbox_files_path(s, sb->name, "resolv.conf", path, sizeof(path));
	if (err)
		return err;
	n = snprintf(text, sizeof(text),
		     "# sbx sandbox %s: every name is resolved by sbxd, under the policy\n"
		     "nameserver %s\n",
		     sb->name, gw);
	err = sbx_write_atomic(path, text, (size_t)n, 0644);
	if (!err)
		err = sbx_sandbox_files_path(s, sb->name, "hosts", path, sizeof(path));
	if (err)
		return err;
	n = snprintf(text, sizeof(text),
		     "127.0.0.1\tlocalhost\n"
		     "::1\tlocalhost ip6-localhost ip6-loopback\n"
		     "%s\tgateway.docker.internal host.docker.internal\n",
		     gw);
	return sbx_write_atomic(path, text, (size_t)n, 0644);
}

static void remove_files(struct sbx_sandboxes *s, const char *name)
{
	char path[PATH_MAX];

	if (!sbx_sandbox_files_path(s, name, "resolv.conf", path, sizeof(path)))
		unlink(path);
	if (!sbx_sandbox_files_path(s, name, "hosts", path, sizeof(path)))
		unlink(path);
	if (!sbx_sandbox_files_path(s, name, NULL, path, sizeof(path)))
		rmdir(path);
}

/*
 * A new network namespace bound at @path. The calling thread enters it (unshare) just long
 * enough to bind it and set its defaults, then returns to its own.
 */
static int netns_create(const char *path)
{
	int self, fd, err = 0;

	if (sbx_is_fs(path, NSFS_MAGIC) && umount2(path, MNT_DETACH) && errno != EINVAL)
		return -errno; /* a leftover of a crashed sbxd: replaced */
	fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0444);
	if (fd < 0)
		return -errno;
	close(fd);
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return -errno;
	if (unshare(CLONE_NEWNET)) {
		err = -errno;
		close(self);
		return err;
	}
	if (mount("/proc/thread-self/ns/net", path, NULL, MS_BIND, NULL))
		err = -errno;
	/*
	 * No IPv6 on eth0 (created later): the sandbox is IPv4-only, and its router and
	 * neighbour solicitations would only fill the verdict log with blocked packets.
	 */
	if (!err)
		sbx_write_str("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	/*
	 * Ping sockets for every group: closed, the kernel refuses them itself (EACCES) before
	 * cgroup/sock_create sees them, and the refusal is not counted. Open, sock_create
	 * refuses them with EPERM and counts icmp-blocked (sbxd(8), ENFORCEMENT).
	 */
	if (!err)
		sbx_write_str("/proc/sys/net/ipv4/ping_group_range", "0 2147483647");
	if (setns(self, CLONE_NEWNET))
		abort(); /* this thread must not stay in the sandbox's namespace */
	close(self);
	return err;
}

static void netns_remove(const char *path)
{
	if (!path[0])
		return;
	if (umount2(path, MNT_DETACH) && errno != EINVAL && errno != ENOENT && errno != ENOTDIR)
		pr_warn("sbx: cannot unmount %s: %s\n", path, strerror(errno));
	if (unlink(path) && errno != ENOENT && errno != ENOTDIR)
		pr_warn("sbx: cannot remove %s: %s\n", path, strerror(errno));
}

struct netns_setup {
	uint32_t ip4, gw4;
	char why[128];
};

/* Inside the sandbox's namespace: lo and eth0 up, the address, the default route. */
static int netns_configure(void *arg)
{
	struct netns_setup *ns = arg;
	struct sbx_nl *nl = NULL;
	int ifindex = 0, err;

	err = sbx_nl_open(-1, &nl);
	if (err) {
		snprintf(ns->why, sizeof(ns->why), "netlink");
		return err;
	}
	err = sbx_nl_link_up(nl, 1 /* lo */);
	if (err)
		snprintf(ns->why, sizeof(ns->why), "bringing lo up");
	if (!err && (err = sbx_nl_ifindex(nl, SBX_SANDBOX_PEER_IF, &ifindex)))
		snprintf(ns->why, sizeof(ns->why), "finding %s", SBX_SANDBOX_PEER_IF);
	if (!err && (err = sbx_nl_addr4_add(nl, ifindex, ns->ip4, 30)))
		snprintf(ns->why, sizeof(ns->why), "adding the address to %s", SBX_SANDBOX_PEER_IF);
	if (!err && (err = sbx_nl_link_up(nl, ifindex)))
		snprintf(ns->why, sizeof(ns->why), "bringing %s up", SBX_SANDBOX_PEER_IF);
	if (!err && (err = sbx_nl_route4_default(nl, ifindex, ns->gw4)))
		snprintf(ns->why, sizeof(ns->why), "adding the default route");
	sbx_nl_close(nl);
	return err;
}

static void sandbox_cfg(const struct sbx_sandboxes *s, const struct sbx_sandbox *sb,
			struct sbx_sandbox_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->sandbox_id = sb->id;
	cfg->flags = sb->attached ? 0 : SBX_CFG_F_OWN_NETNS;
	cfg->proxy_ip4 = sb->gw4;
	cfg->tproxy_port = s->ports.tproxy;
	cfg->fwd_port = s->ports.fwd;
	cfg->dns_port = s->ports.dns;
}

/* Attach (or re-attach, with the current ports) the enforcement of one sandbox. */
int sbx_sandbox_enforce(struct sbx_sandboxes *s, struct sbx_sandbox *sb, char *err,
			size_t errlen)
{
	struct sbx_sandbox_cfg cfg;
	__u64 cgid = 0;
	int ret, ifindex;

	if (!s->bpf)
		return ERR("eBPF enforcement is not available (see the sbxd log); refusing to run "
			   "sandbox %s unconfined",
			   sb->name);
	sandbox_cfg(s, sb, &cfg);
	ret = sbx_bpf_attach_cgroup(s->bpf, sb->cgroup, &cfg, &cgid);
	if (ret) {
		snprintf(err, errlen, "cannot attach the eBPF programs to cgroup %s: %s (see the "
			 "sbxd log)", sb->cgroup, strerror(-ret));
		return ret;
	}
	sb->cgroup_id = cgid;
	if (sb->attached) {
		ret = sbx_bpf_attach_cgroup_skb(s->bpf, sb->cgroup, &cfg, NULL);
		if (ret) {
			snprintf(err, errlen, "cannot attach the packet filter to cgroup %s: %s "
				 "(see the sbxd log)", sb->cgroup, strerror(-ret));
			return ret;
		}
	} else {
		ifindex = (int)if_nametoindex(sb->host_if);
		ret = ifindex ? sbx_bpf_attach_tc(s->bpf, ifindex, &cfg) : -ENODEV;
		if (ret) {
			snprintf(err, errlen, "cannot attach the packet filter to %s: %s (see the "
				 "sbxd log)", sb->host_if, strerror(-ret));
			return ret;
		}
	}
	ret = sbx_bpf_set_sandbox_name(s->bpf, sb->id, sb->name);
	if (ret)
		snprintf(err, errlen, "cannot record the name of sandbox %s: %s", sb->name,
			 strerror(-ret));
	return ret;
}

/*
 * Undo whatever exists of one sandbox's kernel objects: enforcement, veth, netns, our cgroup
 * (never an attached one), its files. Idempotent; 0 or the first error, said in @err.
 */
int sbx_sandbox_teardown(struct sbx_sandboxes *s, const struct sbx_sandbox *sb, char *err,
			 size_t errlen)
{
	struct sbx_nl *nl = NULL;
	__u64 cgid = sb->cgroup_id;
	int ret = 0, r;

	if (s->bpf) {
		if (sbx_bpf_cgroup_id(sb->cgroup, &cgid))
			cgid = sb->cgroup_id;
		if (cgid && (r = sbx_bpf_detach_cgroup(s->bpf, cgid)) && !ret) {
			ret = r;
			snprintf(err, errlen, "cannot detach the eBPF programs of %s: %s",
				 sb->cgroup, strerror(-r));
		}
		if (!sb->attached && if_nametoindex(sb->host_if))
			sbx_bpf_detach_tc(s->bpf, (int)if_nametoindex(sb->host_if));
		sbx_bpf_delete_sandbox_name(s->bpf, sb->id);
	}
	if (sb->attached)
		return ret;
	if (if_nametoindex(sb->host_if)) {
		r = sbx_nl_open(-1, &nl);
		if (!r)
			r = sbx_nl_link_del(nl, sb->host_if);
		sbx_nl_close(nl);
		if (r && r != -ENODEV && !ret) {
			ret = r;
			snprintf(err, errlen, "cannot delete %s: %s", sb->host_if, strerror(-r));
		}
	}
	netns_remove(sb->netns);
	if (rmdir(sb->cgroup) && errno != ENOENT && !ret) {
		ret = -errno;
		snprintf(err, errlen, "cannot remove cgroup %s: %s", sb->cgroup, strerror(errno));
	}
	remove_files(s, sb->name);
	return ret;
}

/* Host end of the veth: no IPv6 (see netns_create), the gateway address, up. */
static int host_if_configure(struct sbx_nl *nl, const struct sbx_sandbox *sb, int ifindex)
{
	char path[128];
	int err;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", sb->host_if);
	sbx_write_str(path, "1");
	err = sbx_nl_addr4_add(nl, ifindex, sb->gw4, 30);
	return err ? err : sbx_nl_link_up(nl, ifindex);
}

static int can_create(const struct sbx_sandboxes *s, const char *name, char *err, size_t errlen)
{
	if (!s->cg_root[0])
		return ERR("no cgroup v2 hierarchy is mounted (mount -t cgroup2 none "
			   "/sys/fs/cgroup)");
	if (!s->bpf)
		return ERR("eBPF enforcement is not available (see the sbxd log); refusing to "
			   "create sandbox %s unconfined",
			   name);
	return 0;
}

/* Make every kernel object of a netns sandbox, then enforce. On failure the caller tears down. */
int sbx_sandbox_setup(struct sbx_sandboxes *s, struct sbx_sandbox *sb, char *err, size_t errlen)
{
	struct netns_setup nss = { .ip4 = sb->ip4, .gw4 = sb->gw4 };
	struct sbx_nl *nl = NULL;
	int ret, nsfd = -1, ifindex = 0;

	ret = can_create(s, sb->name, err, errlen);
	if (ret)
		return ret;
	if (mkdir(s->cg_parent, 0755) && errno != EEXIST) {
		ret = -errno;
		snprintf(err, errlen, "cannot create cgroup %s: %s", s->cg_parent, strerror(errno));
		return ret;
	}
	if (mkdir(sb->cgroup, 0755) && errno != EEXIST) {
		ret = -errno;
		snprintf(err, errlen, "cannot create cgroup %s: %s", sb->cgroup, strerror(errno));
		return ret;
	}
	ret = sbx_mkdir_p(s->netns_dir, 0755);
	if (!ret)
		ret = netns_create(sb->netns);
	if (ret) {
		snprintf(err, errlen, "cannot create the network namespace %s: %s", sb->netns,
			 strerror(-ret));
		return ret;
	}
	nsfd = open(sb->netns, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot open %s: %s", sb->netns, strerror(errno));
		return ret;
	}
	ret = sbx_nl_open(-1, &nl);
	if (ret) {
		snprintf(err, errlen, "cannot open a netlink socket: %s", strerror(-ret));
		goto out;
	}
	ret = sbx_nl_veth_add(nl, sb->host_if, SBX_SANDBOX_PEER_IF, nsfd, &ifindex);
	if (ret == -EEXIST) {
		/* a leftover of a crashed sbxd, with our name: ours to replace */
		pr_info("sbx: replacing a leftover %s\n", sb->host_if);
		sbx_nl_link_del(nl, sb->host_if);
		ret = sbx_nl_veth_add(nl, sb->host_if, SBX_SANDBOX_PEER_IF, nsfd, &ifindex);
	}
	if (ret) {
		snprintf(err, errlen, "cannot create the veth pair %s/%s: %s", sb->host_if,
			 SBX_SANDBOX_PEER_IF, strerror(-ret));
		goto out;
	}
	ret = host_if_configure(nl, sb, ifindex);
	if (ret) {
		snprintf(err, errlen, "cannot configure %s: %s", sb->host_if, strerror(-ret));
		goto out;
	}
	ret = sbx_netns_call(nsfd, netns_configure, &nss);
	if (ret) {
		snprintf(err, errlen, "cannot set up the network of sandbox %s (%s): %s", sb->name,
			 nss.why[0] ? nss.why : "entering its namespace", strerror(-ret));
		goto out;
	}
	ret = sbx_sandbox_enforce(s, sb, err, errlen);
	if (!ret)
		ret = sbx_sandbox_write_files(s, sb);
	if (ret == -ENAMETOOLONG || (ret && !err[0]))
		snprintf(err, errlen, "cannot write the files of sandbox %s under %s: %s", sb->name,
			 s->files_dir, strerror(-ret));
out:
	sbx_nl_close(nl);
	close(nsfd);
	return ret;
}

/* Everything a netns sandbox needs is still there (a reboot or a human may remove parts). */
bool sbx_sandbox_intact(const struct sbx_sandboxes *s, const struct sbx_sandbox *sb,
			const char **what)
{
	if (!sbx_is_fs(sb->cgroup, CGROUP2_SUPER_MAGIC)) {
		*what = "cgroup";
		return false;
	}
	if (sb->attached)
		return true;
	if (!sbx_is_fs(sb->netns, NSFS_MAGIC)) {
		*what = "network namespace";
		return false;
	}
	if (!if_nametoindex(sb->host_if)) {
		*what = "veth";
		return false;
	}
	return true;
}

/* The IPv4 addresses on this namespace's interfaces (at most @max). */
static size_t local_addrs(uint32_t *out, size_t max)
{
	struct ifaddrs *ifa, *it;
	size_t n = 0;

	if (getifaddrs(&ifa))
		return 0;
	for (it = ifa; it && n < max; it = it->ifa_next)
		if (it->ifa_addr && it->ifa_addr->sa_family == AF_INET)
			out[n++] = ((struct sockaddr_in *)it->ifa_addr)->sin_addr.s_addr;
	freeifaddrs(ifa);
	return n;
}

static int next_id(struct sbx_sandboxes *s, uint32_t *id)
{
	for (uint32_t tries = 0; tries < SBX_SANDBOXES_MAX + 1; tries++) {
		uint32_t cand = s->list.next_id ? s->list.next_id : 1;
		bool used = false;

		s->list.next_id = cand + 1;
		for (size_t i = 0; i < s->list.n && !used; i++)
			used = s->list.v[i]->id == cand;
		if (!used) {
			*id = cand;
			return 0;
		}
	}
	return -ENOSPC;
}

/* A registry entry (saved first, so a crash leaves nothing unknown) for a new sandbox. */
int sbx_sandboxes_add(struct sbx_sandboxes *s, struct sbx_sandbox *sb, char *err, size_t errlen)
{
	int ret;

	if (s->list.n >= SBX_SANDBOXES_MAX)
		return ERR("too many sandboxes (%d); remove some with 'sbx rm'", SBX_SANDBOXES_MAX);
	ret = next_id(s, &sb->id);
	if (ret)
		return ERR("no sandbox id left");
	sb->created = time(NULL);
	if (!sb->attached) {
		uint32_t taken[TAKEN_MAX];
		size_t ntaken = local_addrs(taken, TAKEN_MAX);

		ret = sbx_pool_alloc(&s->pool, s->list.v, s->list.n, taken, ntaken, &sb->ip4,
				     &sb->gw4);
		if (ret == -ENOSPC) {
			char net[INET_ADDRSTRLEN];

			inet_ntop(AF_INET, &s->pool.net, net, sizeof(net));
			return ERR("the sandbox address pool %s/%d is full; remove sandboxes "
				   "or set a larger sandbox_pool in %s",
				   net, s->pool.prefix, s->paths.config);
		}
		if (ret)
			return ERR("cannot allocate an address: %s", strerror(-ret));
		sbx_sandbox_host_if(s->paths.instance, sb->id, sb->host_if);
		if (snprintf(sb->cgroup, sizeof(sb->cgroup), "%s/%s", s->cg_parent, sb->name) >=
			    (int)sizeof(sb->cgroup) ||
		    snprintf(sb->netns, sizeof(sb->netns), "%s/%s", s->netns_dir, sb->name) >=
			    (int)sizeof(sb->netns))
			return ERR("the paths of sandbox %s are too long", sb->name);
	}
	pthread_rwlock_wrlock(&s->lock);
	ret = sbx_sandbox_list_add(&s->list, sb);
	pthread_rwlock_unlock(&s->lock);
	if (ret)
		return ERR("out of memory");
	ret = sbx_sandboxes_save(s, err, errlen);
	if (ret)
		sbx_sandboxes_forget(s, sb->name);
	return ret;
}

/* The registry's copy of @sb gets the fields setup filled in (cgroup id), and is saved. */
int sbx_sandboxes_update(struct sbx_sandboxes *s, const struct sbx_sandbox *sb, char *err,
			 size_t errlen)
{
	struct sbx_sandbox *cur;

	pthread_rwlock_wrlock(&s->lock);
	cur = sbx_sandboxes_find(s, sb->name, NULL);
	if (cur)
		*cur = *sb;
	pthread_rwlock_unlock(&s->lock);
	return sbx_sandboxes_save(s, err, errlen);
}

/* Undo a failed creation: kernel objects, then the registry entry. */
void sbx_sandbox_abandon(struct sbx_sandboxes *s, const struct sbx_sandbox *sb)
{
	char err[SBX_ERR_MAX * 2], err2[SBX_ERR_MAX * 2];

	err[0] = '\0';
	if (sbx_sandbox_teardown(s, sb, err, sizeof(err)))
		pr_warn("sbx: cleaning up after sandbox %s: %s\n", sb->name, err);
	sbx_sandboxes_forget(s, sb->name);
	if (sbx_sandboxes_save(s, err2, sizeof(err2)))
		pr_warn("sbx: %s\n", err2);
	rmdir(s->cg_parent); /* when it was the only one */
}

int sbx_sandbox_create(struct sbx_sandboxes *s, const char *name, struct sbx_sandbox **out,
		       char *err, size_t errlen)
{
	struct sbx_sandbox *sb = calloc(1, sizeof(*sb));
	int ret;

	if (!sb)
		return ERR("out of memory");
	snprintf(sb->name, sizeof(sb->name), "%s", name);
	ret = can_create(s, name, err, errlen);
	if (!ret)
		ret = sbx_sandboxes_add(s, sb, err, errlen);
	if (!ret) {
		ret = sbx_sandbox_setup(s, sb, err, errlen);
		if (!ret)
			ret = sbx_sandboxes_update(s, sb, err, errlen);
		if (ret)
			sbx_sandbox_abandon(s, sb);
	}
	if (!ret) {
		char ip[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &sb->ip4, ip, sizeof(ip));
		pr_info("sandbox %s created: id %u, %s on %s, cgroup %s\n", sb->name, sb->id, ip,
			sb->host_if, sb->cgroup);
		*out = sbx_sandboxes_find(s, name, NULL);
	}
	free(sb);
	return ret;
}

/* ---- open / free ----------------------------------------------------------------------------- */

/* At startup: keep what is intact (re-applying its enforcement), drop what vanished. */
static void revive(struct sbx_sandboxes *s)
{
	char err[SBX_ERR_MAX * 4];
	const char *what;
	bool changed = false;

	for (size_t i = s->list.n; i-- > 0;) {
		struct sbx_sandbox *sb = s->list.v[i], copy = *sb;

		if (!sbx_sandbox_intact(s, sb, &what) &&
		    ((sbx_is_fs(sb->cgroup, CGROUP2_SUPER_MAGIC) &&
		      sbx_cgroup_populated(sb->cgroup)) ||
		     strcmp(what, "veth") == 0)) {
			/*
			 * Processes still run in it, or only the veth is missing (sbxd may have
			 * started in another network namespace): it stays, and so does its
			 * enforcement; sbx run sets it up again, sbx rm takes it down.
			 */
			pr_warn("sbx: sandbox %s: its %s is missing; kept\n", sb->name, what);
		} else if (!sbx_sandbox_intact(s, sb, &what)) {
			pr_warn("sbx: sandbox %s: its %s is gone; forgetting it\n", sb->name, what);
			err[0] = '\0';
			if (sbx_sandbox_teardown(s, &copy, err, sizeof(err)))
				pr_warn("sbx: sandbox %s: %s\n", copy.name, err);
			sbx_sandboxes_forget(s, copy.name);
			changed = true;
			continue;
		}
		if (!s->bpf)
			continue;
		err[0] = '\0';
		if (sbx_sandbox_enforce(s, &copy, err, sizeof(err)))
			pr_warn("sbx: sandbox %s: %s (its earlier enforcement stays pinned)\n",
				copy.name, err);
		if (!copy.attached && sbx_sandbox_write_files(s, &copy))
			pr_warn("sbx: sandbox %s: cannot write its files under %s\n", copy.name,
				s->files_dir);
		if (copy.cgroup_id != sb->cgroup_id) {
			pthread_rwlock_wrlock(&s->lock);
			*sb = copy;
			pthread_rwlock_unlock(&s->lock);
			changed = true;
		}
	}
	if (changed && sbx_sandboxes_save(s, err, sizeof(err)))
		pr_warn("sbx: %s\n", err);
	if (s->list.n)
		pr_info("%zu sandbox%s known\n", s->list.n, s->list.n == 1 ? "" : "es");
}

int sbx_sandboxes_open(const struct sbx_paths *paths, const struct sbx_config *cfg,
		       const struct sbx_sandbox_ports *ports, struct sbx_bpf *bpf,
		       struct sbx_sandboxes **out, char *err, size_t errlen)
{
	struct sbx_sandboxes *s = calloc(1, sizeof(*s));
	const char *pool = cfg && cfg->sandbox_pool[0] ? cfg->sandbox_pool :
							 SBX_SANDBOX_POOL_DEFAULT;
	int ret;

	if (!s)
		return -ENOMEM;
	pthread_rwlock_init(&s->lock, NULL);
	s->paths = *paths;
	s->ports = *ports;
	s->bpf = bpf;
	if (cfg)
		s->ids = cfg->ids;
	else
		sbx_ids_default(&s->ids);
	snprintf(s->roots_dir, sizeof(s->roots_dir), "%s/roots", paths->state_dir);
	ret = sbx_pool_parse(pool, &s->pool, err, errlen);
	if (ret)
		goto fail;
	snprintf(s->state_path, sizeof(s->state_path), "%s/%s", paths->state_dir,
		 SBX_SANDBOX_STATE_FILE);
	snprintf(s->netns_dir, sizeof(s->netns_dir), "%s/netns", paths->run_dir);
	snprintf(s->files_dir, sizeof(s->files_dir), "%s/sandboxes", paths->run_dir);
	if (sbx_cgroup2_root(s->cg_root, sizeof(s->cg_root), s->cg_mnt_root,
			     sizeof(s->cg_mnt_root)) == 0)
		snprintf(s->cg_parent, sizeof(s->cg_parent), "%s/%s", s->cg_root, paths->instance);
	else
		pr_warn("sbx: no cgroup v2 hierarchy is mounted: sandboxes cannot be created\n");
	ret = sbx_sandbox_list_load(s->state_path, &s->list, err, errlen);
	if (ret == -ENOENT) {
		s->list.next_id = 1;
		ret = 0;
	}
	if (ret)
		goto fail;
	revive(s);
	*out = s;
	return 0;
fail:
	sbx_sandboxes_free(s);
	return ret;
}

void sbx_sandboxes_set_policy(struct sbx_sandboxes *s, struct sbx_policyd *pd)
{
	s->pd = pd;
}

void sbx_sandboxes_free(struct sbx_sandboxes *s)
{
	if (!s)
		return;
	sbx_sandbox_list_release(&s->list);
	pthread_rwlock_destroy(&s->lock);
	free(s);
}

