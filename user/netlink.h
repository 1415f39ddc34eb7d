/* SPDX-License-Identifier: MIT */
/*
 * Route netlink through libnl-3: the few link, address and route changes a sandbox's network
 * needs, with no `ip` commands. A handle talks to one network namespace, the one it was
 * opened in, for its whole life (a netlink socket keeps the namespace it was created in).
 *
 * Functions return 0 or -errno (libnl's codes mapped back); they print nothing.
 * Addresses are IPv4 in network order.
 */
#ifndef SBX_NETLINK_H
#define SBX_NETLINK_H

#include <stdint.h>

struct sbx_nl;

/* A handle in the netns of @netns_fd, or in the caller's own when @netns_fd < 0. */
int sbx_nl_open(int netns_fd, struct sbx_nl **out);
void sbx_nl_close(struct sbx_nl *nl);

/*
 * A veth pair: @host_if in the handle's namespace, its peer @peer_if created directly in the
 * namespace of @peer_netns_fd (so its name never meets the host's). Fails with -EEXIST when
 * @host_if exists. *ifindex_out: the host end's ifindex.
 */
int sbx_nl_veth_add(struct sbx_nl *nl, const char *host_if, const char *peer_if, int peer_netns_fd,
		    int *ifindex_out);
/* Delete a link by name; -ENODEV when there is none. */
int sbx_nl_link_del(struct sbx_nl *nl, const char *ifname);
/* ifindex of a link by name; -ENODEV when there is none. */
int sbx_nl_ifindex(struct sbx_nl *nl, const char *ifname, int *ifindex_out);
/* Set a link administratively up. */
int sbx_nl_link_up(struct sbx_nl *nl, int ifindex);
/* Add ip4/prefix to a link; an identical address already there is fine. */
int sbx_nl_addr4_add(struct sbx_nl *nl, int ifindex, uint32_t ip4, int prefix);
/* Default route via @gw4 on a link; replaces an existing default route. */
int sbx_nl_route4_default(struct sbx_nl *nl, int ifindex, uint32_t gw4);

/*
 * Run fn(arg) with the calling thread in the netns of @netns_fd and come back (for the
 * per-namespace files under /proc/sys/net). Other threads are not affected.
 */
int sbx_netns_call(int netns_fd, int (*fn)(void *arg), void *arg);

#endif
