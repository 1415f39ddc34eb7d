// SPDX-License-Identifier: MIT
/* Links, addresses and routes over libnl-route-3; see netlink.h. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <linux/rtnetlink.h>

#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>

#include "netlink.h"

struct sbx_nl {
	struct nl_sock *sk;
};

/* libnl's codes back to errno values, for messages that use strerror. */
static int nl_errno(int nlerr)
{
	switch (nlerr < 0 ? -nlerr : nlerr) {
	case 0:
		return 0;
	case NLE_EXIST:
		return -EEXIST;
	case NLE_OBJ_NOTFOUND:
		return -ENOENT;
	case NLE_NODEV:
		return -ENODEV;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_PERM:
		return -EPERM;
	case NLE_NOACCESS:
		return -EACCES;
	case NLE_BUSY:
		return -EBUSY;
	case NLE_RANGE:
		return -ERANGE;
	case NLE_OPNOTSUPP:
	case NLE_AF_NOSUPPORT:
		return -EOPNOTSUPP;
	case NLE_NOADDR:
		return -EADDRNOTAVAIL;
	case NLE_AGAIN:
		return -EAGAIN;
	case NLE_INTR:
		return -EINTR;
	case NLE_INVAL:
		return -EINVAL;
	default:
		return -EIO;
	}
}

int sbx_netns_call(int netns_fd, int (*fn)(void *arg), void *arg)
{
	int self, ret;

	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return -errno;
	if (setns(netns_fd, CLONE_NEWNET)) {
		ret = -errno;
		close(self);
		return ret;
	}
	ret = fn(arg);
	/* Carrying on in the wrong namespace would misplace everything this thread does next. */
	if (setns(self, CLONE_NEWNET))
		abort();
	close(self);
	return ret;
}

static int connect_sock(void *arg)
{
	struct sbx_nl *nl = arg;

	nl->sk = nl_socket_alloc();
	if (!nl->sk)
		return -ENOMEM;
	return nl_errno(nl_connect(nl->sk, NETLINK_ROUTE));
}

int sbx_nl_open(int netns_fd, struct sbx_nl **out)
{
	struct sbx_nl *nl = calloc(1, sizeof(*nl));
	int err;

	if (!nl)
		return -ENOMEM;
	err = netns_fd >= 0 ? sbx_netns_call(netns_fd, connect_sock, nl) : connect_sock(nl);
	if (err) {
		sbx_nl_close(nl);
		return err;
	}
	*out = nl;
	return 0;
}

void sbx_nl_close(struct sbx_nl *nl)
{
	if (!nl)
		return;
	if (nl->sk)
		nl_socket_free(nl->sk);
	free(nl);
}

int sbx_nl_ifindex(struct sbx_nl *nl, const char *ifname, int *ifindex_out)
{
	struct rtnl_link *link = NULL;
	int err = nl_errno(rtnl_link_get_kernel(nl->sk, 0, ifname, &link));

	if (err == -ENOENT)
		err = -ENODEV;
	if (!err) {
		*ifindex_out = rtnl_link_get_ifindex(link);
		rtnl_link_put(link);
	}
	return err;
}

int sbx_nl_veth_add(struct sbx_nl *nl, const char *host_if, const char *peer_if, int peer_netns_fd,
		    int *ifindex_out)
{
	struct rtnl_link *link = rtnl_link_veth_alloc(), *peer;
	int err;

	if (!link)
		return -ENOMEM;
	rtnl_link_set_name(link, host_if);
	peer = rtnl_link_veth_get_peer(link);
	rtnl_link_set_name(peer, peer_if);
	rtnl_link_set_ns_fd(peer, peer_netns_fd);
	rtnl_link_put(peer);
	err = nl_errno(rtnl_link_add(nl->sk, link, NLM_F_CREATE | NLM_F_EXCL));
	rtnl_link_put(link);
	if (err)
		return err;
	return sbx_nl_ifindex(nl, host_if, ifindex_out);
}

int sbx_nl_link_del(struct sbx_nl *nl, const char *ifname)
{
	struct rtnl_link *link = rtnl_link_alloc();
	int err;

	if (!link)
		return -ENOMEM;
	rtnl_link_set_name(link, ifname);
	err = nl_errno(rtnl_link_delete(nl->sk, link));
	rtnl_link_put(link);
	return err == -ENOENT ? -ENODEV : err;
}

int sbx_nl_link_up(struct sbx_nl *nl, int ifindex)
{
	struct rtnl_link *orig = NULL, *change;
	int err = nl_errno(rtnl_link_get_kernel(nl->sk, ifindex, NULL, &orig));

	if (err)
		return err == -ENOENT ? -ENODEV : err;
	change = rtnl_link_alloc();
	if (!change) {
		rtnl_link_put(orig);
		return -ENOMEM;
	}
	rtnl_link_set_flags(change, IFF_UP);
	err = nl_errno(rtnl_link_change(nl->sk, orig, change, 0));
	rtnl_link_put(change);
	rtnl_link_put(orig);
	return err;
}

static struct nl_addr *addr4(uint32_t ip4, int prefix)
{
	struct nl_addr *a = nl_addr_build(AF_INET, &ip4, sizeof(ip4));

	if (a)
		nl_addr_set_prefixlen(a, prefix);
	return a;
}

int sbx_nl_addr4_add(struct sbx_nl *nl, int ifindex, uint32_t ip4, int prefix)
{
	struct rtnl_addr *addr = rtnl_addr_alloc();
	struct nl_addr *local = addr4(ip4, prefix);
	int err = -ENOMEM;

	if (!addr || !local)
		goto out;
	rtnl_addr_set_ifindex(addr, ifindex);
	rtnl_addr_set_family(addr, AF_INET);
	err = nl_errno(rtnl_addr_set_local(addr, local));
	if (err)
		goto out;
	rtnl_addr_set_prefixlen(addr, prefix);
	err = nl_errno(rtnl_addr_add(nl->sk, addr, 0));
	if (err == -EEXIST)
		err = 0;
out:
	nl_addr_put(local);
	rtnl_addr_put(addr);
	return err;
}

int sbx_nl_route4_default(struct sbx_nl *nl, int ifindex, uint32_t gw4)
{
	struct rtnl_route *route = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	struct nl_addr *dst = addr4(0, 0), *gw = addr4(gw4, 32);
	int err = -ENOMEM;

	if (!route || !nh || !dst || !gw)
		goto out;
	rtnl_route_set_family(route, AF_INET);
	rtnl_route_set_table(route, RT_TABLE_MAIN);
	rtnl_route_set_protocol(route, RTPROT_BOOT);
	rtnl_route_set_scope(route, RT_SCOPE_UNIVERSE);
	rtnl_route_set_type(route, RTN_UNICAST);
	err = nl_errno(rtnl_route_set_dst(route, dst));
	if (err)
		goto out;
	rtnl_route_nh_set_ifindex(nh, ifindex);
	rtnl_route_nh_set_gateway(nh, gw);
	rtnl_route_add_nexthop(route, nh);
	nh = NULL; /* the route owns it now */
	err = nl_errno(rtnl_route_add(nl->sk, route, NLM_F_REPLACE));
out:
	if (nh)
		rtnl_route_nh_free(nh);
	nl_addr_put(dst);
	nl_addr_put(gw);
	if (route)
		rtnl_route_put(route);
	return err;
}
