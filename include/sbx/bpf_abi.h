/* SPDX-License-Identifier: MIT */
/*
 * The kernel <-> user ABI of sbx's eBPF side: map keys and values, limits, enums, map and pin
 * names. Included by the bpf/ programs (after vmlinux.h, which supplies __u8..__u64) and by
 * user/ and cli/ (which get them from <linux/types.h>). Fixed-width fields only, explicit
 * padding, sizes checked below: these structs live in maps pinned under the bpffs dir and
 * outlive the daemon that wrote them, so a layout change is an ABI break (the pin dir must
 * be emptied, with sbxd stopped, before a new layout loads).
 * Enums only ever grow at the end.
 *
 * Byte order: IPv4 addresses are in network order everywhere; ports are in host order
 * everywhere except where a field says otherwise.
 */
#ifndef SBX_BPF_ABI_H
#define SBX_BPF_ABI_H

#ifndef __bpf__
#include <linux/types.h>
#endif

/* Pins: maps directly in the bpffs dir, programs and links in subdirectories. */
#define SBX_BPF_DIR_DEFAULT	"/sys/fs/bpf/sbx"
#define SBX_BPFFS_MOUNT		"/sys/fs/bpf"
#define SBX_PIN_LINKS_DIR	"links"		/* cg<cgroup id>_<program name> */
#define SBX_PIN_PROGS_DIR	"progs"		/* <program name> */

/* Map names; each map is pinned under the bpffs dir by this name. */
#define SBX_MAP_SANDBOXES	"sbx_sandboxes"		/* __u64 cgroup id -> sbx_sandbox_cfg */
#define SBX_MAP_IFACES		"sbx_ifaces"		/* __u32 ifindex -> sbx_sandbox_cfg */
#define SBX_MAP_ORIG_DST	"sbx_orig_dst"		/* __u64 socket cookie -> sbx_orig */
#define SBX_MAP_CONN		"sbx_conn"		/* sbx_conn_key -> sbx_orig */
#define SBX_MAP_VERDICTS	"sbx_verdicts"		/* sbx_verdict_key -> sbx_verdict_val */
#define SBX_MAP_SANDBOX_NAMES	"sbx_sandbox_names"	/* __u32 sandbox id -> sbx_sandbox_name */
#define SBX_MAP_PASSIVE		"sbx_passive"		/* sk_storage: __u32, 1 = accepted socket */
#define SBX_MAP_DNS_CLIENTS	"sbx_dns_clients"	/* __u32 local UDP port -> sbx_orig */

/* Limits. */
#define SBX_MAX_CGROUP_DEPTH	16	/* cgroup levels searched for a sandbox, from the root */
#define SBX_MAX_SANDBOXES	4096	/* sbx_sandboxes entries (cgroups) */
#define SBX_MAX_IFACES		4096	/* sbx_ifaces entries (host-side veths) */
#define SBX_MAX_ORIG		65536	/* sbx_orig_dst: rewritten sockets alive at once */
#define SBX_MAX_CONN		65536	/* sbx_conn: redirected connections awaiting/in relay */
#define SBX_MAX_DNS_CLIENTS	65536	/* sbx_dns_clients: one per UDP port, so never full */
#define SBX_MAX_VERDICTS	65536	/* sbx_verdicts: distinct verdict keys (LRU beyond) */
/*
 * Rows one sandbox may create in sbx_verdicts; past that its verdicts for hosts it has no row
 * for are counted in one SBX_VERDICT_OTHER_HOSTS row per (proxy kind, decision, reason). With
 * at most SBX_MAX_VERDICTS / (SBX_VERDICTS_PER_SANDBOX + 64) = 60 sandboxes at their bound
 * at once, no sandbox's rows are evicted by another's (the 64: its counter row and its
 * "other hosts" rows).
 */
#define SBX_VERDICTS_PER_SANDBOX 1024
#define SBX_VERDICT_OTHER_HOSTS	"(other hosts)"
#define SBX_VERDICT_HOST_MAX	128	/* bytes of a verdict's host, NUL included */
#define SBX_VERDICT_RULE_MAX	64	/* bytes of a verdict's rule name, NUL included */
#define SBX_SANDBOX_NAME_MAX	64	/* bytes of a sandbox name, NUL included */

/* TC filter identity on the host-side veth (clsact ingress). */
#define SBX_TC_HANDLE		0x5b0
#define SBX_TC_PRIORITY		0x5b0

/* Address families as the kernel numbers them (no libc on the BPF side). */
#define SBX_AF_UNIX		1
#define SBX_AF_INET		2
#define SBX_AF_INET6		10
#define SBX_AF_NETLINK		16
#define SBX_NETLINK_ROUTE	0
/*
 * The socket families a sandbox may create: SBX_AF_UNIX, SBX_AF_INET, SBX_AF_INET6 (TCP and
 * UDP only, sock.bpf.c sock_create), and SBX_AF_NETLINK with SBX_NETLINK_ROUTE only. Enforced
 * by sock.bpf.c (lsm_cgroup/socket_create, where the kernel takes BPF LSM programs) and by the
 * seccomp filter of `sbx run` (include/sbx/seccomp.h) everywhere.
 */

/* sbx_sandbox_cfg.flags */
enum sbx_cfg_flags {
	/*
	 * The sandbox has its own network namespace: its loopback (127.0.0.0/8, 0.0.0.0, ::1)
	 * never leaves it, so connects and datagrams there pass unchanged. Never set this for
	 * a cgroup attached in the host namespace, where loopback reaches host services.
	 */
	SBX_CFG_F_OWN_NETNS = 1u << 0,
};

/*
 * One sandbox as the kernel sees it. Value of sbx_sandboxes (by cgroup id) and sbx_ifaces (by
 * host-side ifindex). The proxy address is the host side of the sandbox's veth, or 127.0.0.1 for
 * a cgroup attached in the host namespace. Ports in host order; 0 = that service is off (its
 * traffic is refused).
 */
struct sbx_sandbox_cfg {
	__u32 sandbox_id;
	__u32 flags;		/* enum sbx_cfg_flags */
	__u32 proxy_ip4;	/* network order */
	__u16 tproxy_port;	/* transparent proxy: every other TCP connect lands here */
	__u16 fwd_port;		/* forward proxy (HTTP_PROXY/HTTPS_PROXY) */
	__u16 dns_port;		/* resolver, UDP and TCP */
	__u16 pad;
	__u8 proxy_ip6[16];	/* reserved: sandboxes are IPv4-only today */
};

/*
 * The destination a sandbox asked for before connect4/6 or sendmsg4/6 rewrote it. Value of
 * sbx_orig_dst (by socket cookie, for getpeername/recvmsg) and sbx_conn (by the client's local
 * address, for the proxy after accept()).
 */
struct sbx_orig {
	__u32 sandbox_id;
	__u8 family;		/* SBX_AF_INET (v4-mapped IPv6 destinations are stored as IPv4) */
	__u8 pad[3];
	__u8 addr[16];		/* IPv4: addr[0..3], network order; rest zero */
	__u16 port;		/* host order */
	__u16 pad2;
};

/* Key of sbx_conn: the address the proxy sees as the peer of an accepted connection. */
struct sbx_conn_key {
	__u32 ip4;		/* client local address, network order */
	__u16 port;		/* client local port, host order */
	__u16 pad;
};

enum sbx_proxy_kind {
	SBX_PROXY_NONE = 0,
	SBX_PROXY_FORWARD,		/* forward proxy, credentials may be injected */
	SBX_PROXY_FORWARD_BYPASS,	/* forward proxy, no credential injection */
	SBX_PROXY_TRANSPARENT,		/* connect4/6 redirect to the transparent proxy */
	SBX_PROXY_NETWORK,		/* non-HTTP: raw TCP, UDP, ICMP; what the kernel counts */
	SBX_PROXY_BROWSER_OPEN,		/* a sandbox asked the host to open a URL */
	SBX_PROXY__MAX,
};

enum sbx_verdict_decision {
	SBX_DECISION_NONE = 0,
	SBX_DECISION_ALLOW,
	SBX_DECISION_BLOCK,
	SBX_DECISION__MAX,
};

/* Why a verdict went the way it did. Also the drop reason of the kernel programs. */
enum sbx_reason {
	SBX_REASON_NONE = 0,
	SBX_REASON_DOMAIN_ALLOWED,	/* a rule allowed the host */
	SBX_REASON_DOMAIN_BLOCKED,	/* a deny rule matched the host */
	SBX_REASON_DEFAULT_DENY,	/* no rule allowed it */
	SBX_REASON_PRIVATE_IP,		/* upstream resolved to an internal address */
	SBX_REASON_SNI_MISMATCH,	/* TLS SNI / Host disagrees with the destination */
	SBX_REASON_DNS_REFUSED,		/* resolver refused a name */
	SBX_REASON_UDP_BLOCKED,		/* UDP other than DNS */
	SBX_REASON_ICMP_BLOCKED,	/* ICMP, incl. ping sockets */
	SBX_REASON_RAW_SOCKET,		/* SOCK_RAW or AF_PACKET */
	SBX_REASON_IPV6_BLOCKED,	/* real IPv6 destination */
	SBX_REASON_TCP_BLOCKED,		/* TCP to something other than the proxy */
	SBX_REASON_PROTOCOL_BLOCKED,	/* other IP protocols, SCTP, MPTCP, non-IP frames */
	SBX_REASON_NO_SNI_RAW_TCP,	/* transparent proxy: neither SNI nor Host header */
	SBX_REASON_UPSTREAM_FAILED,	/* allowed, but the upstream dial failed */
	SBX_REASON_ADDRESS_ALLOWED,	/* an IP/CIDR rule allowed the destination */
	SBX_REASON_DNS_ALLOWED,		/* resolver answered a name the policy could allow */
	SBX_REASON_MALFORMED,		/* truncated or invalid packet headers */
	SBX_REASON_IP_FRAGMENT,		/* IPv4 fragment (ports unknowable) */
	SBX_REASON_BAD_STREAM,		/* proxy: client bytes malformed or ambiguous, or no valid host */
	SBX_REASON_FAMILY_BLOCKED,	/* a socket family or netlink protocol sandboxes never need */
	SBX_REASON_PATH_ALLOWED,	/* a filesystem rule allowed mounting a path */
	SBX_REASON_PATH_BLOCKED,	/* a filesystem deny rule matched the path or below it */
	SBX_REASON__MAX,
};

/*
 * Key of the verdict counters, shared by the kernel programs (which fill sandbox_id,
 * proxy_kind = NETWORK, decision = BLOCK, reason, family/addr/port/l4proto, and leave host
 * and rule zero) and the userspace proxy (which fills host and rule, family = 0). Zero the
 * whole key before filling it: every byte, padding included, is part of the hash.
 *
 * Two kinds of rows are not one verdict each:
 *  - the key with proxy_kind SBX_PROXY_NONE and every other field zero but sandbox_id is
 *    that sandbox's row counter: its count is the number of rows it created (readers skip it);
 *  - host SBX_VERDICT_OTHER_HOSTS (with family, addr, port, l4proto and rule zero) counts the
 *    verdicts of a sandbox past its SBX_VERDICTS_PER_SANDBOX rows, per kind/decision/reason.
 * The kernel's rows have kernel reasons (SBX_REASON_*_BLOCKED but DOMAIN_BLOCKED, MALFORMED,
 * IP_FRAGMENT), the proxy's the others, so each "other hosts" row has one writer kind.
 */
struct sbx_verdict_key {
	__u32 sandbox_id;
	__u8 proxy_kind;	/* enum sbx_proxy_kind */
	__u8 decision;		/* enum sbx_verdict_decision */
	__u8 reason;		/* enum sbx_reason */
	__u8 family;		/* SBX_AF_INET/6 for an address, 0 when host is set */
	__u8 addr[16];		/* IPv4 in addr[0..3], network order */
	__u16 port;		/* destination port, host order; 0 when none */
	__u8 l4proto;		/* IPPROTO_* (0 when unknown) */
	__u8 pad;
	char host[SBX_VERDICT_HOST_MAX];
	char rule[SBX_VERDICT_RULE_MAX];
};

/*
 * last_seen_ns is CLOCK_BOOTTIME (bpf_ktime_get_boot_ns() in the kernel,
 * clock_gettime(CLOCK_BOOTTIME) in userspace); readers convert it to wall time with
 * realtime_now - boottime_now + last_seen_ns.
 */
struct sbx_verdict_val {
	__u64 count;
	__u64 last_seen_ns;
};

struct sbx_sandbox_name {
	char name[SBX_SANDBOX_NAME_MAX];
};

_Static_assert(sizeof(struct sbx_sandbox_cfg) == 36, "sbx_sandbox_cfg layout is ABI");
_Static_assert(sizeof(struct sbx_orig) == 28, "sbx_orig layout is ABI");
_Static_assert(sizeof(struct sbx_conn_key) == 8, "sbx_conn_key layout is ABI");
_Static_assert(sizeof(struct sbx_verdict_key) == 220, "sbx_verdict_key layout is ABI");
_Static_assert(sizeof(struct sbx_verdict_val) == 16, "sbx_verdict_val layout is ABI");

#ifndef __bpf__
/* Names as the CLI prints them and --json emits them; "" for NONE and unknown values. */
static inline const char *sbx_reason_name(unsigned int reason)
{
	static const char *const names[SBX_REASON__MAX] = {
		[SBX_REASON_NONE] = "",
		[SBX_REASON_DOMAIN_ALLOWED] = "domain-allowed",
		[SBX_REASON_DOMAIN_BLOCKED] = "domain-blocked",
		[SBX_REASON_DEFAULT_DENY] = "default-deny",
		[SBX_REASON_PRIVATE_IP] = "private-ip",
		[SBX_REASON_SNI_MISMATCH] = "sni-mismatch",
		[SBX_REASON_DNS_REFUSED] = "dns-refused",
		[SBX_REASON_UDP_BLOCKED] = "udp-blocked",
		[SBX_REASON_ICMP_BLOCKED] = "icmp-blocked",
		[SBX_REASON_RAW_SOCKET] = "raw-socket",
		[SBX_REASON_IPV6_BLOCKED] = "ipv6-blocked",
		[SBX_REASON_TCP_BLOCKED] = "tcp-blocked",
		[SBX_REASON_PROTOCOL_BLOCKED] = "protocol-blocked",
		[SBX_REASON_NO_SNI_RAW_TCP] = "no-sni-raw-tcp",
		[SBX_REASON_UPSTREAM_FAILED] = "upstream-failed",
		[SBX_REASON_ADDRESS_ALLOWED] = "address-allowed",
		[SBX_REASON_DNS_ALLOWED] = "dns-allowed",
		[SBX_REASON_MALFORMED] = "malformed-packet",
		[SBX_REASON_IP_FRAGMENT] = "ip-fragment",
		[SBX_REASON_BAD_STREAM] = "unparseable-stream",
		[SBX_REASON_FAMILY_BLOCKED] = "family-blocked",
		[SBX_REASON_PATH_ALLOWED] = "path-allowed",
		[SBX_REASON_PATH_BLOCKED] = "path-blocked",
	};

	return reason < SBX_REASON__MAX && names[reason] ? names[reason] : "";
}

static inline const char *sbx_proxy_kind_name(unsigned int kind)
{
	static const char *const names[SBX_PROXY__MAX] = {
		[SBX_PROXY_NONE] = "",
		[SBX_PROXY_FORWARD] = "forward",
		[SBX_PROXY_FORWARD_BYPASS] = "forward-bypass",
		[SBX_PROXY_TRANSPARENT] = "transparent",
		[SBX_PROXY_NETWORK] = "network",
		[SBX_PROXY_BROWSER_OPEN] = "browser-open",
	};

	return kind < SBX_PROXY__MAX && names[kind] ? names[kind] : "";
}

static inline const char *sbx_verdict_decision_name(unsigned int decision)
{
	return decision == SBX_DECISION_ALLOW ? "allow" :
	       decision == SBX_DECISION_BLOCK ? "block" : "";
}
#endif /* !__bpf__ */

#endif /* SBX_BPF_ABI_H */
