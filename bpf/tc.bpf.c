// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * tc.bpf.c — the packet backstop. Whatever a sandbox manages to put on the wire past the socket
 * hooks, only this leaves it:
 *   - IPv4 TCP to (proxy_ip4, tproxy_port | fwd_port | dns_port),
 *   - IPv4 UDP to (proxy_ip4, dns_port),
 *   - ARP (TC only, so the veth works).
 * Everything else — ICMP, other IP protocols, IPv6, fragments, other hosts and ports, VLAN
 * tags, runts — is dropped and counted in sbx_verdicts with its reason.
 *
 * Two attach points share that decision:
 *   - sbx_tc_ingress: TC ingress (clsact) on the host side of a sandbox's veth, i.e. packets
 *     coming out of the sandbox; sandbox found by ifindex in sbx_ifaces.
 *   - sbx_cg_egress: cgroup_skb/egress on a cgroup attached in the host namespace (proxy on
 *     127.0.0.1); sandbox found by the socket's cgroup in sbx_sandboxes. Sockets there that
 *     were accepted (passive opens) may also answer local clients on 127.0.0.0/8, so a service
 *     inside the cgroup can reply to the proxy dialing it. Datagrams it lets through to the
 *     resolver are filed in sbx_dns_clients by source port, so the resolver knows their sandbox.
 * Headers are read with bpf_skb_load_bytes, so non-linear skbs are handled and anything short
 * is caught as malformed rather than trusted.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "sbx/bpf_abi.h"
#include "lib/net.bpf.h"
#include "lib/maps.bpf.h"
#include "lib/verdict.bpf.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* Host-side veth ifindex (in sbxd's namespace) -> sandbox. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SBX_MAX_IFACES);
	__type(key, __u32);
	__type(value, struct sbx_sandbox_cfg);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sbx_ifaces SEC(".maps");

static __always_inline int to_proxy_port(const struct sbx_sandbox_cfg *cfg, __u32 daddr,
					 __u16 port)
{
	return daddr == cfg->proxy_ip4 && port != 0 &&
	       (port == cfg->tproxy_port || port == cfg->fwd_port || port == cfg->dns_port);
}

/*
 * The decision on one IP packet whose network header starts at off. Returns 0 to pass, else
 * the drop reason; fills b with what is known of the destination either way.
 */
static __always_inline __u8 check_ip(struct __sk_buff *skb, __u32 off, __u16 l3proto,
				     const struct sbx_sandbox_cfg *cfg, struct sbx_block *b,
				     __u16 *sport)
{
	struct ipv6hdr ip6;
	struct udphdr uh;
	struct tcphdr th;
	struct iphdr iph;
	__u32 l4off;

	if (l3proto == ETH_P_IPV6) {
		b->family = SBX_AF_INET6;
		if (bpf_skb_load_bytes(skb, off, &ip6, sizeof(ip6)) == 0) {
			__builtin_memcpy(b->addr, &ip6.daddr, sizeof(b->addr));
			b->l4proto = ip6.nexthdr;
		}
		return SBX_REASON_IPV6_BLOCKED;
	}
	if (l3proto != ETH_P_IP)
		return SBX_REASON_PROTOCOL_BLOCKED;

	if (bpf_skb_load_bytes(skb, off, &iph, sizeof(iph)))
		return SBX_REASON_MALFORMED;
	if (iph.version != 4 || iph.ihl < 5)
		return SBX_REASON_MALFORMED;
	b->family = SBX_AF_INET;
	b->addr[0] = iph.daddr;
	b->l4proto = iph.protocol;
	if (iph.frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return SBX_REASON_IP_FRAGMENT;

	l4off = off + iph.ihl * 4;
	switch (iph.protocol) {
	case IPPROTO_TCP:
		if (bpf_skb_load_bytes(skb, l4off, &th, sizeof(th)))
			return SBX_REASON_MALFORMED;
		b->port = bpf_ntohs(th.dest);
		return to_proxy_port(cfg, iph.daddr, b->port) ? 0 : SBX_REASON_TCP_BLOCKED;
	case IPPROTO_UDP:
		if (bpf_skb_load_bytes(skb, l4off, &uh, sizeof(uh)))
			return SBX_REASON_MALFORMED;
		b->port = bpf_ntohs(uh.dest);
		*sport = bpf_ntohs(uh.source);
		return cfg->dns_port && iph.daddr == cfg->proxy_ip4 && b->port == cfg->dns_port ?
			       0 :
			       SBX_REASON_UDP_BLOCKED;
	case IPPROTO_ICMP:
		return SBX_REASON_ICMP_BLOCKED;
	default:
		return SBX_REASON_PROTOCOL_BLOCKED;
	}
}

SEC("tc")
int sbx_tc_ingress(struct __sk_buff *skb)
{
	struct sbx_sandbox_cfg *cfg;
	struct sbx_block b = {};
	__u32 ifindex = skb->ifindex;
	__u16 eth_proto, sport = 0;
	__u8 reason;

	cfg = bpf_map_lookup_elem(&sbx_ifaces, &ifindex);
	if (!cfg)
		return TC_ACT_OK;

	if (skb->vlan_present) {
		reason = SBX_REASON_PROTOCOL_BLOCKED;
		goto drop;
	}
	if (bpf_skb_load_bytes(skb, 12, &eth_proto, sizeof(eth_proto))) {
		reason = SBX_REASON_MALFORMED;
		goto drop;
	}
	eth_proto = bpf_ntohs(eth_proto);
	if (eth_proto == ETH_P_ARP)
		return TC_ACT_OK;
	reason = check_ip(skb, ETH_HLEN, eth_proto, cfg, &b, &sport);
	if (!reason)
		return TC_ACT_OK;
drop:
	b.sandbox_id = cfg->sandbox_id;
	b.reason = reason;
	sbx_count_block(&b);
	return TC_ACT_SHOT;
}

/* The sandbox owning the socket that sends skb: innermost registered cgroup. */
static __always_inline struct sbx_sandbox_cfg *skb_sandbox(struct __sk_buff *skb)
{
	struct sbx_sandbox_cfg *found = NULL, *cfg;
	__u64 id;
	int level;

	for (level = 1; level <= SBX_MAX_CGROUP_DEPTH; level++) {
		id = bpf_skb_ancestor_cgroup_id(skb, level);
		if (!id)
			break;
		cfg = bpf_map_lookup_elem(&sbx_sandboxes, &id);
		if (cfg)
			found = cfg;
	}
	return found;
}

/*
 * Sent by the passive side of a TCP connection: a SYN-ACK (the program sees the listener, or
 * the request socket) or an accepted socket (marked by sockops).
 */
static __always_inline int from_passive_socket(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;
	__u32 *mark;

	if (!sk)
		return 0;
	if (sk->state == BPF_TCP_LISTEN || sk->state == BPF_TCP_NEW_SYN_RECV)
		return 1;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return 0;
	mark = bpf_sk_storage_get(&sbx_passive, sk, 0, 0);
	return mark && *mark;
}

SEC("cgroup_skb/egress")
int sbx_cg_egress(struct __sk_buff *skb)
{
	struct sbx_sandbox_cfg *cfg = skb_sandbox(skb);
	struct sbx_block b = {};
	__u16 sport = 0;
	__u8 reason;

	if (!cfg)
		return SBX_SOCK_ALLOW;
	reason = check_ip(skb, 0, bpf_ntohs(skb->protocol), cfg, &b, &sport);
	if (!reason) {
		/*
		 * A datagram to the resolver, which sees it come from 127.0.0.1: file its
		 * sandbox by source port. Here, not only in connect4/sendmsg4, because a
		 * connected UDP socket (glibc's resolver) has no port yet when connect4 runs;
		 * filed before the packet is delivered, so the resolver always finds it.
		 */
		if (b.l4proto == IPPROTO_UDP && sport && !(cfg->flags & SBX_CFG_F_OWN_NETNS))
			sbx_name_dns_client(cfg->sandbox_id, sport, b.addr[0], b.port);
		return SBX_SOCK_ALLOW;
	}
	if (reason == SBX_REASON_TCP_BLOCKED && (bpf_ntohl(b.addr[0]) >> 24) == 127 &&
	    from_passive_socket(skb))
		return SBX_SOCK_ALLOW;

	b.sandbox_id = cfg->sandbox_id;
	b.reason = reason;
	sbx_count_block(&b);
	return SBX_SOCK_DENY;
}
