/* SPDX-License-Identifier: MIT */
/*
 * Network constants that vmlinux.h lacks (they are #defines in the kernel) and small address
 * predicates shared by the socket hooks and the packet filter.
 */
#ifndef SBX_NET_BPF_H
#define SBX_NET_BPF_H

#include <bpf/bpf_endian.h>

#ifndef AF_INET
#define AF_INET		2
#endif
#ifndef AF_INET6
#define AF_INET6	10
#endif
#ifndef AF_PACKET
#define AF_PACKET	17
#endif
#ifndef AF_UNIX
#define AF_UNIX		1
#endif
#ifndef AF_NETLINK
#define AF_NETLINK	16
#endif
#define NETLINK_ROUTE	0

/* A #define in the kernel (IPv6 next-header values are not in enum IPPROTO_*). */
#define IPPROTO_ICMPV6	58

#define ETH_HLEN	14
#define ETH_P_IP	0x0800
#define ETH_P_ARP	0x0806
#define ETH_P_IPV6	0x86DD

#define IP_MF		0x2000
#define IP_OFFSET	0x1fff

#define TC_ACT_OK	0
#define TC_ACT_SHOT	2

/* Return values of cgroup socket and cgroup_skb programs. */
#define SBX_SOCK_DENY	0	/* the syscall fails with EPERM / the packet is dropped */
#define SBX_SOCK_ALLOW	1

/* 127.0.0.0/8 or 0.0.0.0 (which Linux connects to the local host), network order. */
static __always_inline int sbx_ip4_is_local(__u32 ip4)
{
	__u32 h = bpf_ntohl(ip4);

	return (h >> 24) == 127 || h == 0;
}

/* ::ffff:a.b.c.d; words in network order as sock_addr contexts hold them. */
static __always_inline int sbx_ip6_is_v4mapped(__u32 w0, __u32 w1, __u32 w2)
{
	return w0 == 0 && w1 == 0 && w2 == bpf_htonl(0x0000ffff);
}

/* ::1 or :: (which Linux connects to ::1). */
static __always_inline int sbx_ip6_is_local(__u32 w0, __u32 w1, __u32 w2, __u32 w3)
{
	return w0 == 0 && w1 == 0 && w2 == 0 && (w3 == 0 || w3 == bpf_htonl(1));
}

#endif /* SBX_NET_BPF_H */
