// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * sock.bpf.c — what a sandbox's sockets may do. Attached (one loaded instance, many links) to
 * every sandbox cgroup; a socket belongs to the sandbox registered for the innermost cgroup of
 * the calling task in sbx_sandboxes, and is left alone when there is none.
 *
 *  - connect4/6: TCP to anything but the proxy's own ports is rewritten to the transparent
 *    proxy (TCP to port 53: to the resolver), the original destination saved by socket
 *    cookie; UDP connects to port 53 go to the resolver; other UDP, real IPv6 and other
 *    protocols fail with EPERM.
 *  - sendmsg4/6: datagrams to port 53 go to the resolver; all other UDP fails with EPERM.
 *  - recvmsg4/6, getpeername4/6: show the original destination instead of the proxy.
 *  - sockops: when a redirected connection sends its SYN, publishes (client addr, port) ->
 *    original destination in sbx_conn for the proxy to read after accept(); forgets both
 *    entries when the socket closes; marks accepted sockets for the cgroup_skb filter.
 *  - sock_create: raw, ICMP and non-TCP/UDP IP sockets (SCTP, MPTCP, UDP-Lite...) fail with
 *    EPERM.
 *  - lsm_cgroup/socket_create: every family but AF_UNIX, AF_INET/AF_INET6 and AF_NETLINK
 *    NETLINK_ROUTE fails with EPERM (AF_VSOCK, AF_PACKET, AF_ALG, AF_XDP, other netlink
 *    protocols...): cgroup/sock_create only sees AF_INET/AF_INET6. Needs the BPF LSM;
 *    user/bpfmaps.c skips it on kernels without (sbx run's seccomp filter still refuses them).
 * Every refusal is counted in sbx_verdicts with its reason.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>
#include "sbx/bpf_abi.h"
#include "lib/net.bpf.h"
#include "lib/maps.bpf.h"
#include "lib/verdict.bpf.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* Client (addr, port) -> original destination, for the proxy after accept(). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SBX_MAX_CONN);
	__type(key, struct sbx_conn_key);
	__type(value, struct sbx_orig);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sbx_conn SEC(".maps");

/* Socket cookie -> what the app asked for; LRU so sockets that never close cleanly age out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SBX_MAX_ORIG);
	__type(key, __u64);
	__type(value, struct sbx_orig);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sbx_orig_dst SEC(".maps");

/* Sandbox id -> name, written by sbxd, read by the CLI when sbxd is down. No program uses it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SBX_MAX_SANDBOXES);
	__type(key, __u32);
	__type(value, struct sbx_sandbox_name);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sbx_sandbox_names SEC(".maps");

/*
 * The sandbox of the calling task: the innermost registered cgroup among its ancestors, so a
 * sandbox nested in another is governed by its own settings.
 */
static __always_inline struct sbx_sandbox_cfg *current_sandbox(void)
{
	struct sbx_sandbox_cfg *found = NULL, *cfg;
	__u64 id;
	int level;

	for (level = 1; level <= SBX_MAX_CGROUP_DEPTH; level++) {
		id = bpf_get_current_ancestor_cgroup_id(level);
		if (!id)
			break;
		cfg = bpf_map_lookup_elem(&sbx_sandboxes, &id);
		if (cfg)
			found = cfg;
	}
	return found;
}

/* The protocol as a verdict key holds it (IPPROTO_MPTCP does not fit a byte). */
static __always_inline __u8 l4proto_of(__u32 protocol)
{
	return protocol <= 255 ? (__u8)protocol : 0;
}

/*
 * "<prefix> <n>" (n < 1000) into a verdict's host: what a socket() refusal names, having no
 * destination. prefix is a string literal of at most 10 characters.
 */
#define sbx_host_number(host, prefix, n)                                                     \
	do {                                                                                 \
		__u32 n_ = (n), i_ = sizeof(prefix) - 1;                                     \
		__builtin_memcpy(host, prefix, sizeof(prefix) - 1);                          \
		host[i_++] = ' ';                                                            \
		if (n_ >= 100)                                                               \
			host[i_++] = '0' + n_ / 100 % 10;                                    \
		if (n_ >= 10)                                                                \
			host[i_++] = '0' + n_ / 10 % 10;                                     \
		host[i_] = '0' + n_ % 10;                                                    \
	} while (0)

/* The refusal of a socket(): no address, a name for what was asked in the verdict's host. */
static __always_inline int deny_socket(const struct sbx_sandbox_cfg *cfg, __u8 reason,
				       __u32 family, __u32 protocol)
{
	struct sbx_block b = {};

	b.sandbox_id = cfg->sandbox_id;
	b.reason = reason;
	b.l4proto = l4proto_of(protocol);
	if (family == AF_NETLINK)
		sbx_host_number(b.host, "netlink", protocol & 0xff);
	else if (family == AF_INET || family == AF_INET6) {
		if (protocol > 255) /* IPPROTO_MPTCP */
			sbx_host_number(b.host, "protocol", protocol % 1000);
	} else if (family != AF_PACKET) {
		sbx_host_number(b.host, "family", family & 0xff);
	}
	sbx_count_block(&b);
	return SBX_SOCK_DENY;
}

/* The refusal exit of every socket hook: count, then EPERM. */
static __always_inline int deny(const struct sbx_sandbox_cfg *cfg, __u8 reason, __u8 family,
				const __u32 addr[4], __u16 port, __u8 l4proto)
{
	struct sbx_block b = {};

	b.sandbox_id = cfg->sandbox_id;
	b.reason = reason;
	b.family = family;
	b.l4proto = l4proto;
	b.port = port;
	if (addr) {
		b.addr[0] = addr[0];
		b.addr[1] = addr[1];
		b.addr[2] = addr[2];
		b.addr[3] = addr[3];
	}
	sbx_count_block(&b);
	return SBX_SOCK_DENY;
}

static __always_inline void remember_orig(void *ctx, const struct sbx_sandbox_cfg *cfg,
					  __u32 ip4, __u16 port)
{
	struct sbx_orig orig = {};
	__u64 cookie = bpf_get_socket_cookie(ctx);

	orig.sandbox_id = cfg->sandbox_id;
	orig.family = SBX_AF_INET;
	__builtin_memcpy(orig.addr, &ip4, sizeof(ip4));
	orig.port = port;
	bpf_map_update_elem(&sbx_orig_dst, &cookie, &orig, BPF_ANY);
}

/*
 * A cgroup attached in the host namespace reaches sbxd from 127.0.0.1, which
 * names no sandbox: tell sbxd who it is. TCP is recorded through the cookie
 * (sockops files it under the client's address once it has a port); a UDP
 * socket that already has its port here is filed now in sbx_dns_clients (one
 * still without, being connected, is filed by tc.bpf.c's cgroup_skb filter
 * when its first datagram leaves).
 */
static __always_inline void name_local_client(struct bpf_sock_addr *ctx,
					      const struct sbx_sandbox_cfg *cfg, __u32 ip4,
					      __u16 port)
{
	struct bpf_sock *sk = ctx->sk;

	if (ctx->type == SOCK_STREAM) {
		remember_orig(ctx, cfg, ip4, port);
		return;
	}
	if (sk && sk->src_port)
		sbx_name_dns_client(cfg->sandbox_id, (__u16)sk->src_port, ip4, port);
}

/* Outcome of the IPv4 decision shared by connect4/6 and sendmsg4/6. */
enum v4_action {
	V4_PASS,	/* leave the destination alone */
	V4_REWRITE,	/* send it to *new_ip4:*new_port (host order) */
	V4_DENY,	/* refuse with *reason */
};

static __always_inline enum v4_action decide_v4(const struct sbx_sandbox_cfg *cfg, __u32 type,
						__u32 protocol, __u32 ip4, __u16 port,
						__u16 *new_port, __u8 *reason)
{
	if ((cfg->flags & SBX_CFG_F_OWN_NETNS) && sbx_ip4_is_local(ip4))
		return V4_PASS;

	if (type == SOCK_STREAM) {
		if (protocol != IPPROTO_TCP) {
			*reason = SBX_REASON_PROTOCOL_BLOCKED;
			return V4_DENY;
		}
		if (ip4 == cfg->proxy_ip4 && port != 0 &&
		    (port == cfg->tproxy_port || port == cfg->fwd_port || port == cfg->dns_port))
			return V4_PASS;
		/* DNS over TCP (the fallback for truncated answers) belongs to the resolver too. */
		if (cfg->dns_port && port == 53) {
			*new_port = cfg->dns_port;
			return V4_REWRITE;
		}
		if (!cfg->tproxy_port) {
			*reason = SBX_REASON_TCP_BLOCKED;
			return V4_DENY;
		}
		*new_port = cfg->tproxy_port;
		return V4_REWRITE;
	}

	if (type == SOCK_DGRAM && protocol == IPPROTO_UDP) {
		if (cfg->dns_port && ip4 == cfg->proxy_ip4 && port == cfg->dns_port)
			return V4_PASS;
		if (cfg->dns_port && port == 53) {
			*new_port = cfg->dns_port;
			return V4_REWRITE;
		}
		*reason = SBX_REASON_UDP_BLOCKED;
		return V4_DENY;
	}

	*reason = protocol == IPPROTO_ICMP ? SBX_REASON_ICMP_BLOCKED : SBX_REASON_PROTOCOL_BLOCKED;
	return V4_DENY;
}

static __always_inline int handle_v4(struct bpf_sock_addr *ctx)
{
	struct sbx_sandbox_cfg *cfg = current_sandbox();
	__u32 addr[4] = {};
	__u16 port, new_port = 0;
	__u8 reason = 0;

	if (!cfg)
		return SBX_SOCK_ALLOW;
	addr[0] = ctx->user_ip4;
	port = bpf_ntohs((__u16)ctx->user_port);

	switch (decide_v4(cfg, ctx->type, ctx->protocol, addr[0], port, &new_port, &reason)) {
	case V4_PASS:
		if (!(cfg->flags & SBX_CFG_F_OWN_NETNS) && addr[0] == cfg->proxy_ip4)
			name_local_client(ctx, cfg, addr[0], port);
		return SBX_SOCK_ALLOW;
	case V4_REWRITE:
		remember_orig(ctx, cfg, addr[0], port);
		if (!(cfg->flags & SBX_CFG_F_OWN_NETNS))
			name_local_client(ctx, cfg, addr[0], port);
		ctx->user_ip4 = cfg->proxy_ip4;
		ctx->user_port = bpf_htons(new_port);
		return SBX_SOCK_ALLOW;
	default:
		return deny(cfg, reason, SBX_AF_INET, addr, port, l4proto_of(ctx->protocol));
	}
}

static __always_inline int handle_v6(struct bpf_sock_addr *ctx)
{
	struct sbx_sandbox_cfg *cfg = current_sandbox();
	__u32 addr[4];
	__u16 port, new_port = 0;
	__u8 reason = 0;

	if (!cfg)
		return SBX_SOCK_ALLOW;
	addr[0] = ctx->user_ip6[0];
	addr[1] = ctx->user_ip6[1];
	addr[2] = ctx->user_ip6[2];
	addr[3] = ctx->user_ip6[3];
	port = bpf_ntohs((__u16)ctx->user_port);

	if ((cfg->flags & SBX_CFG_F_OWN_NETNS) &&
	    sbx_ip6_is_local(addr[0], addr[1], addr[2], addr[3]))
		return SBX_SOCK_ALLOW;
	if (!sbx_ip6_is_v4mapped(addr[0], addr[1], addr[2]))
		return deny(cfg, SBX_REASON_IPV6_BLOCKED, SBX_AF_INET6, addr, port,
			    l4proto_of(ctx->protocol));

	switch (decide_v4(cfg, ctx->type, ctx->protocol, addr[3], port, &new_port, &reason)) {
	case V4_PASS:
		return SBX_SOCK_ALLOW;
	case V4_REWRITE:
		remember_orig(ctx, cfg, addr[3], port);
		ctx->user_ip6[3] = cfg->proxy_ip4;
		ctx->user_port = bpf_htons(new_port);
		return SBX_SOCK_ALLOW;
	default:
		addr[0] = addr[3];
		addr[1] = addr[2] = addr[3] = 0;
		return deny(cfg, reason, SBX_AF_INET, addr, port, l4proto_of(ctx->protocol));
	}
}

SEC("cgroup/connect4")
int sbx_connect4(struct bpf_sock_addr *ctx)
{
	return handle_v4(ctx);
}

SEC("cgroup/connect6")
int sbx_connect6(struct bpf_sock_addr *ctx)
{
	return handle_v6(ctx);
}

SEC("cgroup/sendmsg4")
int sbx_sendmsg4(struct bpf_sock_addr *ctx)
{
	return handle_v4(ctx);
}

SEC("cgroup/sendmsg6")
int sbx_sendmsg6(struct bpf_sock_addr *ctx)
{
	return handle_v6(ctx);
}

SEC("cgroup/getpeername4")
int sbx_getpeer4(struct bpf_sock_addr *ctx)
{
	__u64 cookie = bpf_get_socket_cookie(ctx);
	struct sbx_orig *orig = bpf_map_lookup_elem(&sbx_orig_dst, &cookie);
	__u32 ip4;

	if (orig && orig->family == SBX_AF_INET) {
		__builtin_memcpy(&ip4, orig->addr, sizeof(ip4));
		ctx->user_ip4 = ip4;
		ctx->user_port = bpf_htons(orig->port);
	}
	return SBX_SOCK_ALLOW;
}

SEC("cgroup/getpeername6")
int sbx_getpeer6(struct bpf_sock_addr *ctx)
{
	__u64 cookie = bpf_get_socket_cookie(ctx);
	struct sbx_orig *orig = bpf_map_lookup_elem(&sbx_orig_dst, &cookie);
	__u32 ip4;

	if (orig && orig->family == SBX_AF_INET) {
		__builtin_memcpy(&ip4, orig->addr, sizeof(ip4));
		ctx->user_ip6[0] = 0;
		ctx->user_ip6[1] = 0;
		ctx->user_ip6[2] = bpf_htonl(0x0000ffff);
		ctx->user_ip6[3] = ip4;
		ctx->user_port = bpf_htons(orig->port);
	}
	return SBX_SOCK_ALLOW;
}

/*
 * A reply from the resolver to a datagram sendmsg redirected: make it come from where the app
 * sent its query (resolvers such as glibc's drop answers from any other address).
 */
static __always_inline struct sbx_orig *resolver_reply_orig(void *ctx, __u32 src_ip4,
							    __u16 src_port)
{
	struct sbx_sandbox_cfg *cfg;
	struct sbx_orig *orig;
	__u64 cookie;

	cookie = bpf_get_socket_cookie(ctx);
	orig = bpf_map_lookup_elem(&sbx_orig_dst, &cookie);
	if (!orig || orig->family != SBX_AF_INET)
		return NULL;
	cfg = current_sandbox();
	if (!cfg || !cfg->dns_port || src_ip4 != cfg->proxy_ip4 || src_port != cfg->dns_port)
		return NULL;
	return orig;
}

SEC("cgroup/recvmsg4")
int sbx_recvmsg4(struct bpf_sock_addr *ctx)
{
	struct sbx_orig *orig;
	__u32 ip4;

	orig = resolver_reply_orig(ctx, ctx->user_ip4, bpf_ntohs((__u16)ctx->user_port));
	if (orig) {
		__builtin_memcpy(&ip4, orig->addr, sizeof(ip4));
		ctx->user_ip4 = ip4;
		ctx->user_port = bpf_htons(orig->port);
	}
	return SBX_SOCK_ALLOW;
}

SEC("cgroup/recvmsg6")
int sbx_recvmsg6(struct bpf_sock_addr *ctx)
{
	struct sbx_orig *orig;
	__u32 ip4;

	if (!sbx_ip6_is_v4mapped(ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2]))
		return SBX_SOCK_ALLOW;
	orig = resolver_reply_orig(ctx, ctx->user_ip6[3], bpf_ntohs((__u16)ctx->user_port));
	if (orig) {
		__builtin_memcpy(&ip4, orig->addr, sizeof(ip4));
		ctx->user_ip6[3] = ip4;
		ctx->user_port = bpf_htons(orig->port);
	}
	return SBX_SOCK_ALLOW;
}

SEC("sockops")
int sbx_sockops(struct bpf_sock_ops *skops)
{
	struct sbx_conn_key key = {};
	struct sbx_orig *orig;
	struct bpf_sock *sk;
	__u64 cookie;
	__u32 *mark;
	int flags;

	switch (skops->op) {
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
		/* The local address and port are chosen by now; the SYN is about to leave. */
		cookie = bpf_get_socket_cookie(skops);
		orig = bpf_map_lookup_elem(&sbx_orig_dst, &cookie);
		if (!orig)
			break;
		key.ip4 = skops->local_ip4;
		key.port = (__u16)skops->local_port;
		bpf_map_update_elem(&sbx_conn, &key, orig, BPF_ANY);
		flags = skops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG;
		bpf_sock_ops_cb_flags_set(skops, flags);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		/* Only redirected sockets asked for this callback. */
		if (skops->args[1] != BPF_TCP_CLOSE)
			break;
		cookie = bpf_get_socket_cookie(skops);
		bpf_map_delete_elem(&sbx_orig_dst, &cookie);
		key.ip4 = skops->local_ip4;
		key.port = (__u16)skops->local_port;
		bpf_map_delete_elem(&sbx_conn, &key);
		break;
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		sk = skops->sk;
		if (!sk)
			break;
		mark = bpf_sk_storage_get(&sbx_passive, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
		if (mark)
			*mark = 1;
		break;
	default:
		break;
	}
	return 1;
}

/*
 * The socket families a confined program needs: 0 to admit, else the refusal's reason.
 * AF_INET/AF_INET6 are admitted here and judged by type and protocol in sock_create.
 */
static __always_inline __u8 family_verdict(__u32 family, __u32 protocol)
{
	switch (family) {
	case AF_UNIX:
	case AF_INET:
	case AF_INET6:
		return 0;
	case AF_NETLINK:
		/* routes, addresses, links of its own namespace; not audit, uevents, xfrm... */
		return protocol == NETLINK_ROUTE ? 0 : SBX_REASON_FAMILY_BLOCKED;
	case AF_PACKET:
		return SBX_REASON_RAW_SOCKET;
	default:
		return SBX_REASON_FAMILY_BLOCKED;
	}
}

SEC("cgroup/sock_create")
int sbx_sock_create(struct bpf_sock *sk)
{
	struct sbx_sandbox_cfg *cfg = current_sandbox();
	__u32 family, type, protocol;
	__u8 reason;

	if (!cfg)
		return SBX_SOCK_ALLOW;
	family = sk->family;
	type = sk->type;
	protocol = sk->protocol;

	/* Only AF_INET/AF_INET6 come here today; should another family, judge it the same. */
	if (family != AF_INET && family != AF_INET6) {
		reason = family_verdict(family, protocol);
		return reason ? deny_socket(cfg, reason, family, protocol) : SBX_SOCK_ALLOW;
	}
	if (type == SOCK_RAW)
		return deny_socket(cfg, SBX_REASON_RAW_SOCKET, family, protocol);
	if (type == SOCK_STREAM && protocol == IPPROTO_TCP)
		return SBX_SOCK_ALLOW;
	if (type == SOCK_DGRAM && protocol == IPPROTO_UDP)
		return SBX_SOCK_ALLOW;
	if (protocol == IPPROTO_ICMP || protocol == IPPROTO_ICMPV6)
		return deny_socket(cfg, SBX_REASON_ICMP_BLOCKED, family, protocol);
	/* SCTP, MPTCP (262), UDP-Lite, SOCK_SEQPACKET...: nothing the proxy can judge */
	return deny_socket(cfg, SBX_REASON_PROTOCOL_BLOCKED, family, protocol);
}

/*
 * Every other family: AF_PACKET frames bypass the IP stack (so the cgroup_skb filter too),
 * AF_VSOCK reaches the hypervisor and its other guests, AF_ALG and most netlink protocols
 * are kernel attack surface; none of them ever reaches cgroup/sock_create. The cgroup is the
 * calling task's.
 */
SEC("lsm_cgroup/socket_create")
int BPF_PROG(sbx_socket_create, int family, int type, int protocol, int kern)
{
	struct sbx_sandbox_cfg *cfg;
	__u8 reason;

	if (kern)
		return SBX_SOCK_ALLOW;
	reason = family_verdict((__u32)family, (__u32)protocol);
	if (!reason)
		return SBX_SOCK_ALLOW;
	cfg = current_sandbox();
	if (!cfg)
		return SBX_SOCK_ALLOW;
	return deny_socket(cfg, reason, (__u32)family, (__u32)protocol);
}
