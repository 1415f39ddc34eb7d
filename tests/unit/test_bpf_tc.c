// SPDX-License-Identifier: MIT
/*
 * The packet backstop (bpf/tc.bpf.c) on hand-built frames through BPF_PROG_TEST_RUN: what
 * passes, what drops, that garbage never crashes nor passes, and that every drop is counted
 * in sbx_verdicts under the right reason. Then attaches it for real, to lo in a private network
 * namespace of this process (so nothing else ever sees it). Loads the real objects through
 * user/bpfmaps into a private pin dir, removed at the end. Needs root; prints SKIP otherwise.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpfmaps.h"
#include "bpf_test.h"
#include "test.h"

#define TC_ACT_OK   0
#define TC_ACT_SHOT 2

#define SANDBOX_ID 42
#define PROXY	   "10.99.0.1"
#define TPROXY	   15001
#define FWD	   15002
#define DNS	   15053
#define LO_IFINDEX 1 /* test runs put the skb on lo */

static struct sbx_bpf *B;
static int tc_fd, cg_fd, verdicts_fd, ifaces_fd;
static char pin_dir[128];

struct frame {
	unsigned char b[256];
	size_t len;
};

static __u32 ip(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

static void put16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static void eth(struct frame *f, unsigned ethertype)
{
	memset(f, 0, sizeof(*f));
	memcpy(f->b, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02", 12);
	put16(f->b + 12, ethertype);
	f->len = 14;
}

/* Ethernet + IPv4 (ihl 5 + opt_words) + l4len bytes of L4 header with the given dport. */
static void ipv4(struct frame *f, unsigned proto, const char *dst, unsigned dport, size_t l4len,
		 unsigned opt_words)
{
	unsigned char *h;
	size_t ihl = 5 + opt_words;

	eth(f, 0x0800);
	h = f->b + 14;
	h[0] = (unsigned char)(0x40 | ihl);
	put16(h + 2, (unsigned)(ihl * 4 + l4len));
	h[8] = 64;
	h[9] = (unsigned char)proto;
	memcpy(h + 12, &(__u32){ ip("10.99.0.2") }, 4);
	memcpy(h + 16, &(__u32){ ip(dst) }, 4);
	for (size_t i = 20; i < ihl * 4; i++)
		h[i] = 1; /* NOP options */
	h += ihl * 4;
	if (l4len >= 4) {
		put16(h, 40000);
		put16(h + 2, dport);
	}
	if (proto == 6 && l4len >= 20) {
		h[12] = 5 << 4;
		h[13] = 0x02; /* SYN */
	}
	if (proto == 1 && l4len >= 1)
		h[0] = 8; /* echo request */
	f->len = 14 + ihl * 4 + l4len;
}

static int run(int prog_fd, const struct frame *f)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f->b, .data_size_in = (__u32)f->len,
		    .repeat = 1);
	int err = bpf_prog_test_run_opts(prog_fd, &opts);

	if (err) {
		fprintf(stderr, "  test run failed: %s\n", strerror(-err));
		return -1;
	}
	return (int)opts.retval;
}

/* Count of the kernel's block verdict with these fields, 0 if none. */
static long long count_of(unsigned reason, unsigned family, const void *addr, size_t alen,
			  unsigned port, unsigned l4proto)
{
	struct sbx_verdict_key k;
	struct sbx_verdict_val v;
	struct timespec ts;
	__u64 now;

	memset(&k, 0, sizeof(k));
	k.sandbox_id = SANDBOX_ID;
	k.proxy_kind = SBX_PROXY_NETWORK;
	k.decision = SBX_DECISION_BLOCK;
	k.reason = (__u8)reason;
	k.family = (__u8)family;
	if (addr)
		memcpy(k.addr, addr, alen);
	k.port = (__u16)port;
	k.l4proto = (__u8)l4proto;
	if (bpf_map_lookup_elem(verdicts_fd, &k, &v))
		return 0;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	now = (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
	CHECK(v.last_seen_ns > 0 && v.last_seen_ns <= now);
	CHECK(now - v.last_seen_ns < 60ull * 1000000000ull);
	return (long long)v.count;
}

static long long count_v4(unsigned reason, const char *dst, unsigned port, unsigned l4proto)
{
	__u32 a = ip(dst);

	return count_of(reason, SBX_AF_INET, &a, 4, port, l4proto);
}

static void test_tcp_syn_to_proxy_ports_passes(void)
{
	struct frame f;

	ipv4(&f, 6, PROXY, TPROXY, 20, 0);
	CHECK_INT(run(tc_fd, &f), TC_ACT_OK);
	ipv4(&f, 6, PROXY, FWD, 20, 0);
	CHECK_INT(run(tc_fd, &f), TC_ACT_OK);
	ipv4(&f, 6, PROXY, DNS, 20, 0); /* DNS over TCP */
	CHECK_INT(run(tc_fd, &f), TC_ACT_OK);
	ipv4(&f, 6, PROXY, TPROXY, 20, 2); /* with IP options: L4 found past them */
	CHECK_INT(run(tc_fd, &f), TC_ACT_OK);
}

static void test_tcp_elsewhere_drops_and_counts(void)
{
	struct frame f;

	ipv4(&f, 6, PROXY, 22, 20, 0); /* proxy host, other port */
	CHECK_INT(run(tc_fd, &f), TC_ACT_SHOT);
	CHECK_INT(run(tc_fd, &f), TC_ACT_SHOT);
	ipv4(&f, 6, "198.51.100.7", TPROXY, 20, 0); /* proxy port, other host */
	CHECK_INT(run(tc_fd, &f), TC_ACT_SHOT);
	CHECK_INT(count_v4(SBX_REASON_TCP_BLOCKED, PROXY, 22, 6), 2);
	CHECK_INT(count_v4(SBX_REASON_TCP_BLOCKED, "198.51.100.7", TPROXY, 6), 1);
}

static void test_icmp_echo_drops(void)
{
	struct frame f;

	ipv4(&f, 1, PROXY, 0, 8, 0);
	CHECK_INT(run(tc_fd, &f), TC_ACT_SHOT);
	ipv4(&f, 1, "198.51.100.8", 0, 8, 0);
	CHECK_INT(run(tc_fd, &f), TC_ACT_SHOT);
	CHECK_INT(count_v4(SBX_REASON_ICMP_BLOCKED, PROXY, 0, 1), 1);
	CHECK_INT(count_v4(SBX_REASON_ICMP_BLOCKED, "198.51.100.8", 0, 1), 1);
}

static void test_udp_to_resolver_passes(void)
{
	struct frame f;

	ipv4(&f, 17, PROXY, DNS, 8 + 12, 0);
	CHECK_INT(run(tc_fd, &f), TC_ACT_OK);
}

static void test_udp_elsewhere_drops(void)
{
	struct frame f;

	ipv4(&f, 17, "198.51.100.9", 53, 8 + 12, 0); /* DNS, but not to our resolver */
	CHECK_INT(run(tc_fd, &f), TC_ACT_SHOT);
	ipv4(&f, 17, PROXY, 443, 8 + 12, 0); /* QUIC to the proxy host */
	CHECK_INT(run(tc_fd, &f), TC_ACT_SHOT);
	ipv4(&f, 17, PROXY, TPROXY, 8, 0); /* UDP to the TCP proxy port */
	CHECK_INT(run(tc_fd, &f), TC_ACT_SHOT);
	CHECK_INT(count_v4(SBX_REASON_UDP_BLOCKED, "198.51.100.9", 53, 17), 1);
	CHECK_INT(count_v4(SBX_REASON_UDP_BLOCKED, PROXY, 443, 17), 1);
	CHECK_INT(count_v4(SBX_REASON_UDP_BLOCKED, PROXY, TPROXY, 17), 1);
}

static void test_other_ip_protocols_drop(void)
{
	struct frame f;

	ipv4(&f, 132, PROXY, TPROXY, 12, 0); /* SCTP to the proxy port */
	CHECK_INT(run(tc_fd, &f), TC_ACT_SHOT);
	ipv4(&f, 47, PROXY, 0, 4, 0); /* GRE */
	CHECK_INT(run(tc_fd, &f), TC_ACT_SHOT);
	CHECK_INT(count_v4(SBX_REASON_PROTOCOL_BLOCKED, PROXY, 0, 132), 1);
	CHECK_INT(count_v4(SBX_REASON_PROTOCOL_BLOCKED, PROXY, 0, 47), 1);
}

static void test_ipv6_drops(void)
{
	struct frame f;
	struct in6_addr dst;
	unsigned char *h;

	inet_pton(AF_INET6, "2001:db8::1", &dst);
	eth(&f, 0x86dd);
	h = f.b + 14;
	h[0] = 0x60;
	put16(h + 4, 20);
	h[6] = 6;
	h[7] = 64;
	memcpy(h + 24, &dst, 16);
	put16(h + 40 + 2, TPROXY);
	f.len = 14 + 40 + 20;
	CHECK_INT(run(tc_fd, &f), TC_ACT_SHOT);
	/* ICMPv6 neighbour solicitation: no NDP either */
	h[6] = 58;
	h[40] = 135;
	CHECK_INT(run(tc_fd, &f), TC_ACT_SHOT);
	CHECK_INT(count_of(SBX_REASON_IPV6_BLOCKED, SBX_AF_INET6, &dst, 16, 0, 6), 1);
	CHECK_INT(count_of(SBX_REASON_IPV6_BLOCKED, SBX_AF_INET6, &dst, 16, 0, 58), 1);
}

static void test_arp_passes(void)
{
	struct frame f;
	unsigned char *h;

	eth(&f, 0x0806);
	memset(f.b, 0xff, 6);
	h = f.b + 14;
	put16(h, 1);
	put16(h + 2, 0x0800);
	h[4] = 6;
	h[5] = 4;
	put16(h + 6, 1); /* who-has */
	f.len = 14 + 28;
	CHECK_INT(run(tc_fd, &f), TC_ACT_OK);
}

/*
 * BPF_PROG_TEST_RUN itself refuses frames shorter than an IPv4/IPv6 header behind an IP
 * ethertype, so runts are covered by headers that claim more than the frame holds.
 */
static void test_truncated_packets_drop(void)
{
	struct frame f;

	ipv4(&f, 6, PROXY, TPROXY, 20, 0);
	f.len = 14 + 20 + 10; /* TCP header cut short, to an allowed port */
	CHECK_INT(run(tc_fd, &f), TC_ACT_SHOT);
	ipv4(&f, 17, PROXY, DNS, 8, 0);
	f.len = 14 + 20 + 6; /* UDP header cut short, to the resolver */
	CHECK_INT(run(tc_fd, &f), TC_ACT_SHOT);
	ipv4(&f, 6, PROXY, TPROXY, 20, 0);
	f.b[14] = 0x4f; /* ihl 15: options run past the end of the frame */
	CHECK_INT(run(tc_fd, &f), TC_ACT_SHOT);
	ipv4(&f, 6, PROXY, TPROXY, 20, 0);
	f.b[14] = 0x44; /* ihl 4 */
	CHECK_INT(run(tc_fd, &f), TC_ACT_SHOT);
	ipv4(&f, 6, PROXY, TPROXY, 20, 0);
	f.b[14] = 0x65; /* version 6 in an IPv4 frame */
	CHECK_INT(run(tc_fd, &f), TC_ACT_SHOT);
	/* An invalid IP header counts with family 0; a short L4 header under the IPv4 dst. */
	CHECK_INT(count_of(SBX_REASON_MALFORMED, 0, NULL, 0, 0, 0), 2);
	CHECK_INT(count_v4(SBX_REASON_MALFORMED, PROXY, 0, 6), 2);
	CHECK_INT(count_v4(SBX_REASON_MALFORMED, PROXY, 0, 17), 1);
}

/* Frames with no IP behind the Ethernet header: other ethertypes, a bare header. */
static void test_non_ip_frames_drop(void)
{
	struct frame f;

	eth(&f, 0x88cc); /* LLDP, header only */
	CHECK_INT(run(tc_fd, &f), TC_ACT_SHOT);
	eth(&f, 0x8100); /* an 802.1Q tag left in the payload */
	f.len = 60;
	CHECK_INT(run(tc_fd, &f), TC_ACT_SHOT);
	CHECK_INT(count_of(SBX_REASON_PROTOCOL_BLOCKED, 0, NULL, 0, 0, 0), 2);
}

static void test_fragments_drop(void)
{
	struct frame f;

	ipv4(&f, 6, PROXY, TPROXY, 20, 0);
	f.b[14 + 6] = 0x20; /* MF on the first fragment */
	CHECK_INT(run(tc_fd, &f), TC_ACT_SHOT);
	ipv4(&f, 17, PROXY, DNS, 8, 0);
	f.b[14 + 7] = 0x10; /* a later fragment: no L4 header, ports unknown */
	CHECK_INT(run(tc_fd, &f), TC_ACT_SHOT);
	ipv4(&f, 6, PROXY, TPROXY, 20, 0);
	f.b[14 + 6] = 0x40; /* DF alone is fine */
	CHECK_INT(run(tc_fd, &f), TC_ACT_OK);
	CHECK_INT(count_v4(SBX_REASON_IP_FRAGMENT, PROXY, 0, 6), 1);
	CHECK_INT(count_v4(SBX_REASON_IP_FRAGMENT, PROXY, 0, 17), 1);
}

/* Random frames never crash the program and never get through. */
static void test_garbage_never_passes(void)
{
	static const unsigned types[] = { 0x0800, 0x86dd, 0x8100, 0x88cc, 0x0000, 0xffff };
	unsigned seed = 12345;
	struct frame f;
	int passed = 0, failed_runs = 0;

	for (int i = 0; i < 2000; i++) {
		unsigned type = types[i % 6];
		/* the shortest frame a test run accepts with this ethertype */
		size_t min = type == 0x0800 ? 14 + 20 : type == 0x86dd ? 14 + 40 : 14;

		memset(&f, 0, sizeof(f));
		f.len = min + (size_t)(rand_r(&seed) % 120);
		for (size_t j = 0; j < f.len; j++)
			f.b[j] = (unsigned char)rand_r(&seed);
		put16(f.b + 12, type);
		switch (run(tc_fd, &f)) {
		case TC_ACT_SHOT:
			break;
		case -1:
			failed_runs++;
			break;
		default:
			passed++;
		}
	}
	CHECK_INT(failed_runs, 0);
	CHECK_INT(passed, 0);
}

static void test_foreign_interface_untouched(void)
{
	__u32 key = LO_IFINDEX;
	struct sbx_sandbox_cfg cfg;
	struct frame f;

	CHECK_INT(bpf_map_lookup_elem(ifaces_fd, &key, &cfg), 0);
	CHECK_INT(bpf_map_delete_elem(ifaces_fd, &key), 0);
	ipv4(&f, 1, "198.51.100.10", 0, 8, 0);
	CHECK_INT(run(tc_fd, &f), TC_ACT_OK);
	CHECK_INT(count_v4(SBX_REASON_ICMP_BLOCKED, "198.51.100.10", 0, 1), 0);
	CHECK_INT(bpf_map_update_elem(ifaces_fd, &key, &cfg, BPF_ANY), 0);
	CHECK_INT(run(tc_fd, &f), TC_ACT_SHOT);
	CHECK_INT(count_v4(SBX_REASON_ICMP_BLOCKED, "198.51.100.10", 0, 1), 1);
}

/* cgroup_skb with no socket (as in a test run) belongs to no sandbox: it passes. */
static void test_cgroup_skb_without_sandbox_passes(void)
{
	struct frame f;

	ipv4(&f, 1, "198.51.100.11", 0, 8, 0);
	CHECK_INT(run(cg_fd, &f), 1);
}

/* The proxy's own increments share the map and the semantics. */
static void test_userspace_verdict_add(void)
{
	struct sbx_verdict_key k;
	struct sbx_verdict_val v;

	memset(&k, 0, sizeof(k));
	k.sandbox_id = SANDBOX_ID;
	k.proxy_kind = SBX_PROXY_TRANSPARENT;
	k.decision = SBX_DECISION_ALLOW;
	k.reason = SBX_REASON_DOMAIN_ALLOWED;
	strcpy(k.host, "pypi.org");
	strcpy(k.rule, "default-pypi");
	CHECK_INT(sbx_bpf_verdict_add(verdicts_fd, &k), 0);
	CHECK_INT(sbx_bpf_verdict_add(verdicts_fd, &k), 0);
	CHECK_INT(sbx_bpf_verdict_add(verdicts_fd, &k), 0);
	CHECK_INT(bpf_map_lookup_elem(verdicts_fd, &k, &v), 0);
	CHECK_INT(v.count, 3);
	CHECK(v.last_seen_ns > 0);
	CHECK_STR(sbx_reason_name(k.reason), "domain-allowed");
	CHECK_STR(sbx_reason_name(SBX_REASON_IPV6_BLOCKED), "ipv6-blocked");
	CHECK_STR(sbx_reason_name(200), "");
	CHECK_STR(sbx_proxy_kind_name(SBX_PROXY_NETWORK), "network");
}

#define SPRAYER_ID 77
#define SPRAY	   (SBX_MAX_VERDICTS + 4000) /* more destinations than the map has rows */

struct rows_of {
	__u32 sandbox_id;
	long long rows, total, other;
};

static int tally(const struct sbx_verdict_key *k, const struct sbx_verdict_val *v, void *arg)
{
	struct rows_of *r = arg;

	CHECK(k->proxy_kind != SBX_PROXY_NONE); /* row counters are not verdicts */
	if (k->sandbox_id != r->sandbox_id)
		return 0;
	r->rows++;
	r->total += (long long)v->count;
	if (strcmp(k->host, SBX_VERDICT_OTHER_HOSTS) == 0)
		r->other += (long long)v->count;
	return 0;
}

static struct rows_of rows_of(__u32 sandbox_id)
{
	struct rows_of r = { .sandbox_id = sandbox_id };

	CHECK_INT(sbx_bpf_verdict_foreach(verdicts_fd, tally, &r), 0);
	return r;
}

static void proxy_key(struct sbx_verdict_key *k, __u32 sandbox_id, const char *host)
{
	memset(k, 0, sizeof(*k));
	k->sandbox_id = sandbox_id;
	k->proxy_kind = SBX_PROXY_TRANSPARENT;
	k->decision = SBX_DECISION_ALLOW;
	k->reason = SBX_REASON_DOMAIN_ALLOWED;
	snprintf(k->host, sizeof(k->host), "%s", host);
	strcpy(k->rule, "r1");
}

/*
 * One sandbox sending to more distinct destinations than the map has rows keeps to its own
 * rows: the rest land in its "(other hosts)" row with the count exact, and another sandbox's
 * history (kernel and proxy rows) is all still there.
 */
static void test_spraying_sandbox_cannot_flush_the_log(void)
{
	struct sbx_sandbox_cfg cfg, sprayer;
	struct sbx_verdict_key k;
	struct sbx_verdict_val v;
	struct rows_of before, after, spray;
	__u32 key = LO_IFINDEX, daddr;
	long long tcp22 = count_v4(SBX_REASON_TCP_BLOCKED, PROXY, 22, 6);
	struct frame f;
	int i, shot = 0;

	proxy_key(&k, SANDBOX_ID, "history.example");
	CHECK_INT(sbx_bpf_verdict_add(verdicts_fd, &k), 0);
	before = rows_of(SANDBOX_ID);
	CHECK(before.rows >= 10 && before.other == 0);

	CHECK_INT(sbx_bpf_set_sandbox_name(B, SPRAYER_ID, "sprayer"), 0);
	CHECK_INT(bpf_map_lookup_elem(ifaces_fd, &key, &cfg), 0);
	sprayer = cfg;
	sprayer.sandbox_id = SPRAYER_ID;
	CHECK_INT(bpf_map_update_elem(ifaces_fd, &key, &sprayer, BPF_ANY), 0);
	ipv4(&f, 17, "10.0.0.0", 9999, 8 + 12, 0);
	for (i = 0; i < SPRAY; i++) {
		daddr = htonl(0x0a000000u | (__u32)i);
		memcpy(f.b + 14 + 16, &daddr, 4);
		shot += run(tc_fd, &f) == TC_ACT_SHOT;
	}
	/* the same destination again: its own row, not "other hosts" */
	daddr = htonl(0x0a000000u);
	memcpy(f.b + 14 + 16, &daddr, 4);
	shot += run(tc_fd, &f) == TC_ACT_SHOT;
	CHECK_INT(bpf_map_update_elem(ifaces_fd, &key, &cfg, BPF_ANY), 0);
	CHECK_INT(shot, SPRAY + 1);

	spray = rows_of(SPRAYER_ID);
	CHECK_INT(spray.total, SPRAY + 1);
	CHECK_INT(spray.rows, SBX_VERDICTS_PER_SANDBOX + 1);
	CHECK_INT(spray.other, SPRAY - SBX_VERDICTS_PER_SANDBOX);
	memset(&k, 0, sizeof(k));
	k.sandbox_id = SPRAYER_ID;
	k.proxy_kind = SBX_PROXY_NETWORK;
	k.decision = SBX_DECISION_BLOCK;
	k.reason = SBX_REASON_UDP_BLOCKED;
	k.family = SBX_AF_INET;
	k.port = 9999;
	k.l4proto = 17;
	memcpy(k.addr, &daddr, 4);
	CHECK_INT(bpf_map_lookup_elem(verdicts_fd, &k, &v), 0);
	CHECK_INT(v.count, 2);

	after = rows_of(SANDBOX_ID);
	CHECK_INT(after.rows, before.rows);
	CHECK_INT(after.total, before.total);
	CHECK_INT(count_v4(SBX_REASON_TCP_BLOCKED, PROXY, 22, 6), tcp22);
	proxy_key(&k, SANDBOX_ID, "history.example");
	CHECK_INT(bpf_map_lookup_elem(verdicts_fd, &k, &v), 0);
	CHECK_INT(v.count, 1);

	/* The proxy's verdicts keep to the same bound: a new host of the sprayer is aggregated */
	proxy_key(&k, SPRAYER_ID, "new.example");
	CHECK_INT(sbx_bpf_verdict_add(verdicts_fd, &k), 0);
	CHECK_INT(sbx_bpf_verdict_add(verdicts_fd, &k), 0);
	CHECK_INT(bpf_map_lookup_elem(verdicts_fd, &k, &v), -ENOENT);
	proxy_key(&k, SPRAYER_ID, SBX_VERDICT_OTHER_HOSTS);
	memset(k.rule, 0, sizeof(k.rule));
	CHECK_INT(bpf_map_lookup_elem(verdicts_fd, &k, &v), 0);
	CHECK_INT(v.count, 2);
	/* ... while the other sandbox still gets rows of its own */
	proxy_key(&k, SANDBOX_ID, "new.example");
	CHECK_INT(sbx_bpf_verdict_add(verdicts_fd, &k), 0);
	CHECK_INT(bpf_map_lookup_elem(verdicts_fd, &k, &v), 0);
	CHECK_INT(v.count, 1);
	k.proxy_kind = SBX_PROXY_NONE;
	CHECK_INT(sbx_bpf_verdict_add(verdicts_fd, &k), -EINVAL);

	/* A new sandbox given the sprayer's id (a fresh state dir) starts with its own rows. */
	CHECK_INT(sbx_bpf_set_sandbox_name(B, SPRAYER_ID, "sprayer"), 0); /* restart: same */
	proxy_key(&k, SPRAYER_ID, "after-restart.example");
	CHECK_INT(sbx_bpf_verdict_add(verdicts_fd, &k), 0);
	CHECK_INT(bpf_map_lookup_elem(verdicts_fd, &k, &v), -ENOENT);
	CHECK_INT(sbx_bpf_set_sandbox_name(B, SPRAYER_ID, "newcomer"), 0);
	proxy_key(&k, SPRAYER_ID, "newcomer.example");
	CHECK_INT(sbx_bpf_verdict_add(verdicts_fd, &k), 0);
	CHECK_INT(bpf_map_lookup_elem(verdicts_fd, &k, &v), 0);
	CHECK_INT(v.count, 1);
}

static int udp_socket(__u16 port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = ip("127.0.0.1");
	if (fd >= 0 && port && bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Does a datagram from tx to 127.0.0.1:port arrive at rx? */
static int udp_arrives(int tx, int rx, __u16 port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct pollfd p = { .fd = rx, .events = POLLIN };
	char buf[4];

	sa.sin_addr.s_addr = ip("127.0.0.1");
	if (sendto(tx, "x", 1, 0, (struct sockaddr *)&sa, sizeof(sa)) != 1)
		return -1;
	if (poll(&p, 1, 300) != 1)
		return 0;
	return recv(rx, buf, sizeof(buf), MSG_DONTWAIT) == 1;
}

/*
 * The filter on a real interface: lo of a private network namespace stands in for the
 * host side of a veth (what the sandbox sends arrives on its ingress).
 */
static void test_attach_tc_filters_real_traffic(void)
{
	struct sbx_sandbox_cfg cfg = {
		.sandbox_id = SANDBOX_ID,
		.proxy_ip4 = ip("127.0.0.1"),
		.tproxy_port = TPROXY,
		.dns_port = DNS,
	};
	struct ifreq ifr = { .ifr_name = "lo" };
	int tx, dns, other, fd;

	CHECK_INT(unshare(CLONE_NEWNET), 0);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0);
	ifr.ifr_flags |= IFF_UP;
	CHECK(ioctl(fd, SIOCSIFFLAGS, &ifr) == 0);
	close(fd);

	tx = udp_socket(0);
	dns = udp_socket(DNS);
	other = udp_socket(9999);
	CHECK(tx >= 0 && dns >= 0 && other >= 0);
	CHECK_INT(udp_arrives(tx, other, 9999), 1); /* before: lo carries anything */

	CHECK_INT(sbx_bpf_attach_tc(B, LO_IFINDEX, &cfg), 0);
	CHECK_INT(sbx_bpf_attach_tc(B, LO_IFINDEX, &cfg), 0); /* again: replaces, no error */
	CHECK_INT(udp_arrives(tx, dns, DNS), 1);
	CHECK_INT(udp_arrives(tx, other, 9999), 0);
	CHECK_INT(udp_arrives(tx, other, 9999), 0);
	CHECK_INT(count_v4(SBX_REASON_UDP_BLOCKED, "127.0.0.1", 9999, 17), 2);

	CHECK_INT(sbx_bpf_detach_tc(B, LO_IFINDEX), 0);
	CHECK_INT(udp_arrives(tx, other, 9999), 1);
	CHECK_INT(count_v4(SBX_REASON_UDP_BLOCKED, "127.0.0.1", 9999, 17), 2);
	CHECK_INT(sbx_bpf_detach_tc(B, LO_IFINDEX), 0); /* twice: nothing left, not an error */

	/* Left attached: the cleanup in main checks that unpin_all takes it off. */
	CHECK_INT(sbx_bpf_attach_tc(B, LO_IFINDEX, &cfg), 0);
	CHECK_INT(udp_arrives(tx, other, 9999), 0);
	{
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = LO_IFINDEX,
			    .attach_point = BPF_TC_INGRESS);
		LIBBPF_OPTS(bpf_tc_opts, q, .handle = SBX_TC_HANDLE, .priority = SBX_TC_PRIORITY);

		CHECK_INT(bpf_tc_query(&hook, &q), 0);
		CHECK(q.prog_id != 0);
	}
	close(tx);
	close(dns);
	close(other);
}

static const struct test tests[] = {
	T(test_tcp_syn_to_proxy_ports_passes),
	T(test_tcp_elsewhere_drops_and_counts),
	T(test_icmp_echo_drops),
	T(test_udp_to_resolver_passes),
	T(test_udp_elsewhere_drops),
	T(test_other_ip_protocols_drop),
	T(test_ipv6_drops),
	T(test_arp_passes),
	T(test_truncated_packets_drop),
	T(test_non_ip_frames_drop),
	T(test_fragments_drop),
	T(test_garbage_never_passes),
	T(test_foreign_interface_untouched),
	T(test_cgroup_skb_without_sandbox_passes),
	T(test_userspace_verdict_add),
	T(test_attach_tc_filters_real_traffic),
	T(test_spraying_sandbox_cannot_flush_the_log),
};

int main(void)
{
	struct sbx_sandbox_cfg cfg = {
		.sandbox_id = SANDBOX_ID,
		.proxy_ip4 = ip(PROXY),
		.tproxy_port = TPROXY,
		.fwd_port = FWD,
		.dns_port = DNS,
	};
	__u32 key = LO_IFINDEX;
	int had_bpffs, rc, err;

	if (geteuid() != 0) {
		printf("SKIP bpf_tc: needs root\n");
		return 0;
	}
	had_bpffs = bpffs_mounted();
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/sbxtest-tc-%d", (int)getpid());
	err = sbx_bpf_open(pin_dir, &B);
	if (err) {
		printf("FAIL bpf_tc.setup: sbx_bpf_open(%s): %s\n", pin_dir, strerror(-err));
		rc = 1;
		goto out;
	}
	tc_fd = sbx_bpf_prog_fd(B, "sbx_tc_ingress");
	cg_fd = sbx_bpf_prog_fd(B, "sbx_cg_egress");
	verdicts_fd = sbx_bpf_map_fd(B, SBX_MAP_VERDICTS);
	ifaces_fd = sbx_bpf_map_fd(B, SBX_MAP_IFACES);
	/* Only a map entry: nothing is attached to lo, test runs just pretend to come from it. */
	if (tc_fd < 0 || cg_fd < 0 || verdicts_fd < 0 || ifaces_fd < 0 ||
	    bpf_map_update_elem(ifaces_fd, &key, &cfg, BPF_ANY)) {
		printf("FAIL bpf_tc.setup: programs or maps missing\n");
		rc = 1;
	} else {
		rc = test_main("bpf_tc", tests, sizeof(tests) / sizeof(tests[0]));
	}
	sbx_bpf_close(B);
out:
	err = sbx_bpf_unpin_all(pin_dir);
	if (err) {
		printf("FAIL bpf_tc.cleanup: unpin %s: %s\n", pin_dir, strerror(-err));
		rc = 1;
	}
	/* unpin_all also takes the filter off lo (the one in our private namespace). */
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = LO_IFINDEX, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, q, .handle = SBX_TC_HANDLE, .priority = SBX_TC_PRIORITY);
	err = bpf_tc_query(&hook, &q);
	/* -EINVAL: the chain itself is gone (the kernel's "Cannot find specified filter chain") */
	if (err != -ENOENT && err != -EINVAL) {
		printf("FAIL bpf_tc.cleanup: filter still on lo after unpin (query: %d)\n", err);
		rc = 1;
	}
	if (!had_bpffs)
		umount_bpffs_if_unused();
	return rc;
}
