// SPDX-License-Identifier: MIT
/*
 * The socket hooks (bpf/sock.bpf.c) and the cgroup_skb filter for real: a fresh cgroup v2
 * directory with sbx's programs attached through user/bpfmaps, child processes moved into it,
 * and this process playing the proxy (a TCP listener as the transparent proxy, a UDP socket as
 * the resolver) on 127.0.0.1.
 *
 * Safety: the test first moves itself into a private network namespace with only lo up, so
 * even if a hook failed to rewrite, nothing could leave the machine; every destination used
 * is loopback anyway. Creates exactly: the cgroup sbxtest-<pid> (and sbxtest-<pid>/skb) under
 * the cgroup2 mount, the pin dir /sys/fs/bpf/sbxtest-<pid>, and mounts bpffs if it was not;
 * removes all of them at the end. Needs root; prints SKIP otherwise.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mntent.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <bpf/bpf.h>

#include "bpfmaps.h"
#include "bpf_test.h"
#include "test.h"

#define SANDBOX_ID    7
#define SKB_SANDBOX_ID 8
#define CHILD_TIMEOUT 10   /* seconds a child may run */
#define WAIT_MS	      5000 /* longest the parent waits for any one event */

static struct sbx_bpf *B;
static char cg_path[256], cg_skb_path[300], cg_gone_path[300], pin_dir[128];
static __u64 cgid, cgid_skb;
/* transparent proxy (TCP), resolver (UDP and TCP), a TCP listener that is not the proxy */
static int proxy_fd, dns_fd, dns_tcp_fd, other_fd;
static __u16 proxy_port, dns_port, other_port;
static struct sbx_sandbox_cfg cfg;

/* ---- helpers ---------------------------------------------------------------------------- */

static __u32 ip(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

static struct sockaddr_in sin4(const char *addr, __u16 port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };

	sa.sin_addr.s_addr = ip(addr);
	return sa;
}

static struct sockaddr_in6 sin6(const char *addr, __u16 port)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(port) };

	inet_pton(AF_INET6, addr, &sa.sin6_addr);
	return sa;
}

/* Non-blocking, so a step that fails can never hang the test in accept() or recv(). */
static int bound_socket_at(int type, __u16 want, __u16 *port)
{
	struct sockaddr_in sa = sin4("127.0.0.1", want);
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    (type == SOCK_STREAM && listen(fd, 16)) ||
	    getsockname(fd, (struct sockaddr *)&sa, &len)) {
		perror("test socket");
		exit(1);
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

static int bound_socket(int type, __u16 *port)
{
	return bound_socket_at(type, 0, port);
}

static int wait_readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

struct child {
	pid_t pid;
	int to_parent, from_parent; /* pipes, the parent's ends */
};

static int child_to_parent, child_from_parent;

static void join_cgroup(const char *path)
{
	char procs[400];
	int fd;

	snprintf(procs, sizeof(procs), "%s/cgroup.procs", path);
	fd = open(procs, O_WRONLY);
	if (fd < 0 || write(fd, "0", 1) != 1) {
		perror(procs);
		_exit(99);
	}
	close(fd);
}

/* Run fn in a child inside the cgroup at path; it talks to us over two pipes. */
static struct child spawn(const char *path, int (*fn)(void))
{
	int up[2], down[2];
	struct child c;

	if (pipe2(up, O_CLOEXEC) || pipe2(down, O_CLOEXEC)) {
		perror("pipe");
		exit(1);
	}
	fflush(NULL);
	c.pid = fork();
	if (c.pid < 0) {
		perror("fork");
		exit(1);
	}
	if (c.pid == 0) {
		alarm(CHILD_TIMEOUT);
		close(up[0]);
		close(down[1]);
		child_to_parent = up[1];
		child_from_parent = down[0];
		join_cgroup(path);
		_exit(fn());
	}
	close(up[1]);
	close(down[0]);
	c.to_parent = up[0];
	c.from_parent = down[1];
	return c;
}

/* Exit status of the child (0 = all its checks passed). */
static int reap(struct child *c)
{
	int status = 0;

	close(c->to_parent);
	close(c->from_parent);
	if (waitpid(c->pid, &status, 0) != c->pid)
		return -1;
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "  child killed by signal %d\n", WTERMSIG(status));
		return -1;
	}
	return WEXITSTATUS(status);
}

static int run_child(const char *path, int (*fn)(void))
{
	struct child c = spawn(path, fn);

	return reap(&c);
}

static int child_send(const void *buf, size_t len)
{
	return write(child_to_parent, buf, len) == (ssize_t)len ? 0 : -1;
}

/* Child waits for the parent's go-ahead (or the parent's end closing). */
static void child_wait_parent(void)
{
	char c;

	if (read(child_from_parent, &c, 1) < 0)
		return;
}

static int parent_recv(struct child *c, void *buf, size_t len)
{
	if (!wait_readable(c->to_parent, WAIT_MS))
		return -1;
	return read(c->to_parent, buf, len) == (ssize_t)len ? 0 : -1;
}

static long long verdict_count_host(__u32 sandbox_id, unsigned reason, const char *host,
				    unsigned l4proto);

static long long verdict_count(__u32 sandbox_id, unsigned reason, unsigned family,
			       const void *addr, size_t alen, unsigned port, unsigned l4proto)
{
	struct sbx_verdict_key k;
	struct sbx_verdict_val v;
	int fd = B ? sbx_bpf_map_fd(B, SBX_MAP_VERDICTS) :
		     sbx_bpf_open_pinned_map(pin_dir, SBX_MAP_VERDICTS);
	long long n = 0;

	memset(&k, 0, sizeof(k));
	k.sandbox_id = sandbox_id;
	k.proxy_kind = SBX_PROXY_NETWORK;
	k.decision = SBX_DECISION_BLOCK;
	k.reason = (__u8)reason;
	k.family = (__u8)family;
	if (addr)
		memcpy(k.addr, addr, alen);
	k.port = (__u16)port;
	k.l4proto = (__u8)l4proto;
	if (fd >= 0 && bpf_map_lookup_elem(fd, &k, &v) == 0)
		n = (long long)v.count;
	if (!B && fd >= 0)
		close(fd);
	return n;
}

/* A socket() refusal's verdict, which names what was asked in its host. */
static long long verdict_count_host(__u32 sandbox_id, unsigned reason, const char *host,
				    unsigned l4proto)
{
	struct sbx_verdict_key k;
	struct sbx_verdict_val v;
	int fd = sbx_bpf_map_fd(B, SBX_MAP_VERDICTS);

	memset(&k, 0, sizeof(k));
	k.sandbox_id = sandbox_id;
	k.proxy_kind = SBX_PROXY_NETWORK;
	k.decision = SBX_DECISION_BLOCK;
	k.reason = (__u8)reason;
	k.l4proto = (__u8)l4proto;
	snprintf(k.host, sizeof(k.host), "%s", host);
	return bpf_map_lookup_elem(fd, &k, &v) == 0 ? (long long)v.count : 0;
}

static long long count_v4(__u32 id, unsigned reason, const char *dst, unsigned port,
			  unsigned l4proto)
{
	__u32 a = ip(dst);

	return verdict_count(id, reason, SBX_AF_INET, &a, 4, port, l4proto);
}

static long long count_v6(__u32 id, unsigned reason, const char *dst, unsigned port,
			  unsigned l4proto)
{
	struct in6_addr a;

	inet_pton(AF_INET6, dst, &a);
	return verdict_count(id, reason, SBX_AF_INET6, &a, 16, port, l4proto);
}

/* ---- children ----------------------------------------------------------------------------- */

struct tcp_report {
	__u16 local_port;
	__u16 pad;
};

/* Where the next TCP child connects (127.0.0.2:7 unless a test says otherwise). */
static const char *tcp_dst = "127.0.0.2";
static __u16 tcp_dst_port = 7;

/* connect() to addr is redirected; getpeername() still says addr. */
static int child_tcp_common(int family)
{
	struct sockaddr_storage peer, local;
	socklen_t plen = sizeof(peer), llen = sizeof(local);
	struct tcp_report r = {};
	int fd = socket(family, SOCK_STREAM, 0);

	C_CHECK(fd >= 0);
	if (family == AF_INET) {
		struct sockaddr_in dst = sin4(tcp_dst, tcp_dst_port);
		struct sockaddr_in *p = (struct sockaddr_in *)&peer;

		C_CHECK(connect(fd, (struct sockaddr *)&dst, sizeof(dst)) == 0);
		C_CHECK(getpeername(fd, (struct sockaddr *)&peer, &plen) == 0);
		C_CHECK(p->sin_addr.s_addr == ip(tcp_dst));
		C_CHECK(ntohs(p->sin_port) == tcp_dst_port);
		C_CHECK(getsockname(fd, (struct sockaddr *)&local, &llen) == 0);
		r.local_port = ntohs(((struct sockaddr_in *)&local)->sin_port);
	} else {
		char mapped[64];
		struct sockaddr_in6 dst, *p = (struct sockaddr_in6 *)&peer;

		snprintf(mapped, sizeof(mapped), "::ffff:%s", tcp_dst);
		dst = sin6(mapped, tcp_dst_port);
		C_CHECK(connect(fd, (struct sockaddr *)&dst, sizeof(dst)) == 0);
		C_CHECK(getpeername(fd, (struct sockaddr *)&peer, &plen) == 0);
		C_CHECK(memcmp(&p->sin6_addr, &dst.sin6_addr, 16) == 0);
		C_CHECK(ntohs(p->sin6_port) == tcp_dst_port);
		C_CHECK(getsockname(fd, (struct sockaddr *)&local, &llen) == 0);
		r.local_port = ntohs(((struct sockaddr_in6 *)&local)->sin6_port);
	}
	C_CHECK(child_send(&r, sizeof(r)) == 0);
	child_wait_parent(); /* keep the connection open until the parent looked it up */
	close(fd);
	return 0;
}

static int child_tcp4(void)
{
	return child_tcp_common(AF_INET);
}

static int child_tcp6_mapped(void)
{
	return child_tcp_common(AF_INET6);
}

static int child_udp_refused(void)
{
	struct sockaddr_in dst = sin4("127.0.0.3", 9999);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	C_CHECK(fd >= 0);
	C_CHECK(sendto(fd, "x", 1, 0, (struct sockaddr *)&dst, sizeof(dst)) < 0 && errno == EPERM);
	return 0;
}

static int child_udp_connect_refused(void)
{
	struct sockaddr_in dst = sin4("127.0.0.3", 9999);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	C_CHECK(fd >= 0);
	C_CHECK(connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0 && errno == EPERM);
	return 0;
}

/* DNS to any server lands on our resolver; the answer appears to come from that server. */
static int child_dns(void)
{
	struct sockaddr_in dst = sin4("127.0.0.3", 53), from, peer;
	socklen_t flen = sizeof(from), plen = sizeof(peer);
	char buf[8];
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	C_CHECK(fd >= 0);
	/* unconnected: sendmsg4 + recvmsg4 */
	C_CHECK(sendto(fd, "q1", 2, 0, (struct sockaddr *)&dst, sizeof(dst)) == 2);
	C_CHECK(wait_readable(fd, WAIT_MS));
	C_CHECK(recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen) == 2);
	C_CHECK(memcmp(buf, "a1", 2) == 0);
	C_CHECK(from.sin_addr.s_addr == ip("127.0.0.3") && ntohs(from.sin_port) == 53);
	close(fd);

	/* connected: connect4 + getpeername4 */
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	C_CHECK(fd >= 0);
	C_CHECK(connect(fd, (struct sockaddr *)&dst, sizeof(dst)) == 0);
	C_CHECK(getpeername(fd, (struct sockaddr *)&peer, &plen) == 0);
	C_CHECK(peer.sin_addr.s_addr == ip("127.0.0.3") && ntohs(peer.sin_port) == 53);
	C_CHECK(send(fd, "q2", 2, 0) == 2);
	C_CHECK(wait_readable(fd, WAIT_MS));
	C_CHECK(recv(fd, buf, sizeof(buf), 0) == 2);
	C_CHECK(memcmp(buf, "a2", 2) == 0);
	close(fd);
	return 0;
}

static int child_raw_refused(void)
{
	C_CHECK(socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) < 0 && errno == EPERM);
	C_CHECK(socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6) < 0 && errno == EPERM);
	C_CHECK(socket(AF_INET, SOCK_RAW, IPPROTO_RAW) < 0 && errno == EPERM);
	/* ordinary sockets are still fine */
	C_CHECK(socket(AF_INET, SOCK_STREAM, 0) >= 0);
	C_CHECK(socket(AF_INET6, SOCK_DGRAM, 0) >= 0);
	C_CHECK(socket(AF_UNIX, SOCK_STREAM, 0) >= 0);
	return 0;
}

/* Non-TCP/UDP IP protocols: MPTCP (262, past a byte), UDP-Lite, SCTP where there is one. */
static int child_other_ip_protocols_refused(void)
{
	C_CHECK(socket(AF_INET, SOCK_STREAM, 262) < 0 && errno == EPERM);
	C_CHECK(socket(AF_INET6, SOCK_STREAM, 262) < 0 && errno == EPERM);
	C_CHECK(socket(AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE) < 0 && errno == EPERM);
	/* without the SCTP module the kernel says so itself, before any hook */
	C_CHECK(socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP) < 0 &&
		(errno == EPERM || errno == EPROTONOSUPPORT));
	C_CHECK(socket(AF_INET, SOCK_SEQPACKET, IPPROTO_SCTP) < 0 &&
		(errno == EPERM || errno == EPROTONOSUPPORT || errno == ESOCKTNOSUPPORT));
	/* protocol 0 is TCP or UDP: fine */
	C_CHECK(socket(AF_INET, SOCK_STREAM, 0) >= 0);
	C_CHECK(socket(AF_INET6, SOCK_DGRAM, 0) >= 0);
	return 0;
}

/* ICMP "ping" sockets, where the kernel would allow them for root (ping_group_range). */
/* Packet sockets and other families: only the lsm_cgroup program sees them being created. */
static int child_packet_refused(void)
{
	C_CHECK(socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)) < 0 && errno == EPERM);
	C_CHECK(socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_IP)) < 0 && errno == EPERM);
	/* and every other family but unix, inet, inet6 and netlink route */
	C_CHECK(socket(40 /* AF_VSOCK */, SOCK_STREAM, 0) < 0 && errno == EPERM);
	C_CHECK(socket(AF_NETLINK, SOCK_RAW, 9 /* NETLINK_AUDIT */) < 0 && errno == EPERM);
	C_CHECK(socket(AF_NETLINK, SOCK_RAW, 0 /* NETLINK_ROUTE */) >= 0);
	C_CHECK(socket(AF_UNIX, SOCK_DGRAM, 0) >= 0);
	return 0;
}

static int child_ping_refused(void)
{
	C_CHECK(socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP) < 0 && errno == EPERM);
	return 0;
}

static int child_ipv6_refused(void)
{
	struct sockaddr_in6 dst = sin6("::1", 80), dns = sin6("::1", 53);
	int fd = socket(AF_INET6, SOCK_STREAM, 0), ufd = socket(AF_INET6, SOCK_DGRAM, 0);

	C_CHECK(fd >= 0 && ufd >= 0);
	C_CHECK(connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0 && errno == EPERM);
	C_CHECK(sendto(ufd, "x", 1, 0, (struct sockaddr *)&dns, sizeof(dns)) < 0 && errno == EPERM);
	return 0;
}

/* After detach: the same datagram is no longer refused (it goes to loopback). */
static int child_udp_free(void)
{
	struct sockaddr_in dst = sin4("127.0.0.3", 9999);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	C_CHECK(fd >= 0);
	C_CHECK(sendto(fd, "x", 1, 0, (struct sockaddr *)&dst, sizeof(dst)) == 1);
	return 0;
}

/*
 * In the skb cgroup the socket hooks let loopback through (SBX_CFG_F_OWN_NETNS), so only the
 * cgroup_skb filter stands between these sockets and 127.0.0.1.
 */
static int child_skb_blocks_direct(void)
{
	struct sockaddr_in other = sin4("127.0.0.1", other_port);
	struct sockaddr_in bad = sin4("127.0.0.1", 9998), dns = sin4("127.0.0.1", dns_port);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int ufd = socket(AF_INET, SOCK_DGRAM, 0);
	struct pollfd p;
	int soerr = 0;
	socklen_t len = sizeof(soerr);

	C_CHECK(fd >= 0 && ufd >= 0);
	C_CHECK(connect(fd, (struct sockaddr *)&other, sizeof(other)) < 0);
	C_CHECK(errno == EINPROGRESS || errno == EPERM);
	p = (struct pollfd){ .fd = fd, .events = POLLOUT };
	if (poll(&p, 1, 500) == 1) {
		C_CHECK(getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0);
		C_CHECK(soerr != 0); /* never connected */
	}
	C_CHECK(sendto(ufd, "x", 1, 0, (struct sockaddr *)&bad, sizeof(bad)) < 0 && errno == EPERM);
	C_CHECK(sendto(ufd, "d", 1, 0, (struct sockaddr *)&dns, sizeof(dns)) == 1);
	return 0;
}

static int child_skb_to_proxy(void)
{
	struct sockaddr_in dst = sin4("127.0.0.1", proxy_port);
	struct tcp_report r = {};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	C_CHECK(fd >= 0);
	C_CHECK(connect(fd, (struct sockaddr *)&dst, sizeof(dst)) == 0);
	C_CHECK(send(fd, "hello", 5, 0) == 5);
	C_CHECK(child_send(&r, sizeof(r)) == 0);
	child_wait_parent();
	return 0;
}

/* A service inside the cgroup answers a local client (as the proxy dialing it would be). */
static int child_skb_server(void)
{
	__u16 port;
	int lfd = bound_socket(SOCK_STREAM, &port), cfd;
	struct tcp_report r = { .local_port = port };

	C_CHECK(child_send(&r, sizeof(r)) == 0);
	C_CHECK(wait_readable(lfd, WAIT_MS));
	cfd = accept(lfd, NULL, NULL);
	C_CHECK(cfd >= 0);
	C_CHECK(send(cfd, "hi", 2, 0) == 2);
	child_wait_parent();
	return 0;
}

/* A resolver client as glibc's: a fresh UDP socket connected to the name server, then send. */
static int child_dns_connected_fresh(void)
{
	struct sockaddr_in dst = sin4("127.0.0.3", 53);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	C_CHECK(fd >= 0);
	C_CHECK(connect(fd, (struct sockaddr *)&dst, sizeof(dst)) == 0);
	C_CHECK(send(fd, "c1", 2, 0) == 2);
	close(fd);
	return 0;
}

/* The first datagram of a fresh unconnected socket: no local port yet at sendmsg4. */
static int child_dns_unconnected_fresh(void)
{
	struct sockaddr_in dst = sin4("127.0.0.3", 53);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	C_CHECK(fd >= 0);
	C_CHECK(sendto(fd, "u1", 2, 0, (struct sockaddr *)&dst, sizeof(dst)) == 2);
	close(fd);
	return 0;
}

/* ---- tests -------------------------------------------------------------------------------- */

/*
 * The proxy side of a redirected connection: accept on listen_fd, check the peer, look up the
 * original destination (tcp_dst:tcp_dst_port).
 */
static void check_redirect_to(int listen_fd, int (*fn)(void))
{
	struct child c = spawn(cg_path, fn);
	struct sockaddr_in peer;
	socklen_t plen = sizeof(peer);
	struct tcp_report r;
	struct sbx_orig orig;
	int afd = -1, i, err;

	CHECK_INT(parent_recv(&c, &r, sizeof(r)), 0);
	CHECK(wait_readable(listen_fd, WAIT_MS));
	afd = accept4(listen_fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK);
	CHECK(afd >= 0);
	if (afd >= 0) {
		CHECK_INT(peer.sin_family, AF_INET);
		CHECK_INT(ntohs(peer.sin_port), r.local_port);
		CHECK_INT(sbx_bpf_lookup_conn(B, peer.sin_addr.s_addr, ntohs(peer.sin_port), &orig),
			  0);
		CHECK_INT(orig.sandbox_id, SANDBOX_ID);
		CHECK_INT(orig.family, SBX_AF_INET);
		CHECK_INT(orig.port, tcp_dst_port);
		CHECK(memcmp(orig.addr, &(__u32){ ip(tcp_dst) }, 4) == 0);
	}
	CHECK_INT(write(c.from_parent, "k", 1), 1);
	CHECK_INT(reap(&c), 0);
	if (afd >= 0) {
		/* Our close lets the client socket reach CLOSE, which forgets the entry. */
		close(afd);
		for (i = 0; i < 100; i++) {
			err = sbx_bpf_lookup_conn(B, peer.sin_addr.s_addr, ntohs(peer.sin_port),
						  &orig);
			if (err == -ENOENT)
				break;
			usleep(20 * 1000);
		}
		CHECK(i < 100);
	}
}

static void check_redirect(int (*fn)(void))
{
	check_redirect_to(proxy_fd, fn);
}

static void test_tcp_connect_redirected_to_proxy(void)
{
	check_redirect(child_tcp4);
}

static void test_tcp_dns_redirected_to_resolver(void)
{
	tcp_dst = "127.0.0.3";
	tcp_dst_port = 53;
	check_redirect_to(dns_tcp_fd, child_tcp4);
	check_redirect_to(dns_tcp_fd, child_tcp6_mapped);
	tcp_dst = "127.0.0.2";
	tcp_dst_port = 7;
}

static void test_tcp_v4mapped_connect_redirected(void)
{
	check_redirect(child_tcp6_mapped);
}

static void test_udp_other_than_dns_refused(void)
{
	CHECK_INT(run_child(cg_path, child_udp_refused), 0);
	CHECK_INT(run_child(cg_path, child_udp_connect_refused), 0);
	CHECK_INT(count_v4(SANDBOX_ID, SBX_REASON_UDP_BLOCKED, "127.0.0.3", 9999, 17), 2);
}

static void test_dns_goes_to_resolver(void)
{
	struct child c = spawn(cg_path, child_dns);
	struct sockaddr_in from;
	socklen_t flen;
	char buf[8];

	for (int i = 1; i <= 2; i++) {
		flen = sizeof(from);
		CHECK(wait_readable(dns_fd, WAIT_MS));
		CHECK_INT(recvfrom(dns_fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from,
				   &flen),
			  2);
		CHECK(buf[0] == 'q' && buf[1] == '0' + i);
		CHECK_INT(sendto(dns_fd, i == 1 ? "a1" : "a2", 2, 0, (struct sockaddr *)&from,
				 flen),
			  2);
	}
	CHECK_INT(reap(&c), 0);
}

static void test_raw_sockets_refused(void)
{
	CHECK_INT(run_child(cg_path, child_raw_refused), 0);
	CHECK_INT(verdict_count(SANDBOX_ID, SBX_REASON_RAW_SOCKET, 0, NULL, 0, 0, IPPROTO_ICMP), 1);
	CHECK_INT(verdict_count(SANDBOX_ID, SBX_REASON_RAW_SOCKET, 0, NULL, 0, 0, IPPROTO_ICMPV6),
		  1);
	CHECK_INT(verdict_count(SANDBOX_ID, SBX_REASON_RAW_SOCKET, 0, NULL, 0, 0, IPPROTO_RAW), 1);
}

static void test_other_ip_protocols_refused(void)
{
	CHECK_INT(run_child(cg_path, child_other_ip_protocols_refused), 0);
	CHECK_INT(verdict_count_host(SANDBOX_ID, SBX_REASON_PROTOCOL_BLOCKED, "protocol 262", 0),
		  2);
	CHECK_INT(verdict_count(SANDBOX_ID, SBX_REASON_PROTOCOL_BLOCKED, 0, NULL, 0, 0,
				IPPROTO_UDPLITE),
		  1);
	CHECK_STR(sbx_reason_name(SBX_REASON_FAMILY_BLOCKED), "family-blocked");
}

static void test_packet_sockets_refused(void)
{
	if (sbx_bpf_prog_fd(B, "sbx_socket_create") < 0) {
		printf("SKIP bpf_sock.packet_sockets: this kernel does not load lsm_cgroup "
		       "programs\n");
		return;
	}
	CHECK_INT(run_child(cg_path, child_packet_refused), 0);
	/* AF_PACKET: no IP protocol */
	CHECK_INT(verdict_count(SANDBOX_ID, SBX_REASON_RAW_SOCKET, 0, NULL, 0, 0, 0), 2);
	CHECK_INT(verdict_count_host(SANDBOX_ID, SBX_REASON_FAMILY_BLOCKED, "family 40", 0), 1);
	CHECK_INT(verdict_count_host(SANDBOX_ID, SBX_REASON_FAMILY_BLOCKED, "netlink 9", 9), 1);
}

/*
 * ICMP "ping" sockets. The kernel refuses them itself (EACCES, before our hook) unless the
 * caller's group is in ping_group_range, which is per network namespace: open it in ours.
 */
static void test_ping_socket_refused(void)
{
	const char *knob = "/proc/sys/net/ipv4/ping_group_range";
	int fd = open(knob, O_WRONLY);

	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK_INT(write(fd, "0 0", 3), 3);
		close(fd);
	}
	CHECK_INT(run_child(cg_path, child_ping_refused), 0);
	CHECK_INT(verdict_count(SANDBOX_ID, SBX_REASON_ICMP_BLOCKED, 0, NULL, 0, 0, IPPROTO_ICMP),
		  1);
}

static void test_ipv6_refused(void)
{
	CHECK_INT(run_child(cg_path, child_ipv6_refused), 0);
	CHECK_INT(count_v6(SANDBOX_ID, SBX_REASON_IPV6_BLOCKED, "::1", 80, IPPROTO_TCP), 1);
	CHECK_INT(count_v6(SANDBOX_ID, SBX_REASON_IPV6_BLOCKED, "::1", 53, IPPROTO_UDP), 1);
}

/* Enforcement with sbxd gone, then shared with the next sbxd. */
static void test_enforcement_outlives_daemon(void)
{
	long long before = count_v4(SANDBOX_ID, SBX_REASON_UDP_BLOCKED, "127.0.0.3", 9999, 17);
	struct sbx_sandbox_cfg got;
	int fd, err;

	/* A cgroup that disappears while sbxd is away: the next sbxd forgets it. */
	const char *gone = cg_gone_path;
	char link[600];
	struct bpf_link_info info;
	__u32 ilen;
	__u64 gone_id = 0;
	int i, lfd;

	CHECK_INT(mkdir(gone, 0755), 0);
	CHECK_INT(sbx_bpf_attach_cgroup(B, gone, &cfg, &gone_id), 0);
	snprintf(link, sizeof(link), "%s/links/cg%llu_sbx_connect4", pin_dir,
		 (unsigned long long)gone_id);
	CHECK_INT(rmdir(gone), 0);
	/* The kernel lets go of the cgroup asynchronously; wait until the link says so. */
	for (i = 0; i < 100; i++) {
		lfd = bpf_obj_get(link);
		memset(&info, 0, sizeof(info));
		ilen = sizeof(info);
		if (lfd >= 0 && bpf_obj_get_info_by_fd(lfd, &info, &ilen) == 0 &&
		    info.cgroup.cgroup_id == 0)
			i = 1000;
		if (lfd >= 0)
			close(lfd);
		if (i < 1000)
			usleep(20 * 1000);
	}
	CHECK(i > 100);

	sbx_bpf_close(B);
	B = NULL;
	CHECK_INT(run_child(cg_path, child_udp_refused), 0);
	CHECK_INT(count_v4(SANDBOX_ID, SBX_REASON_UDP_BLOCKED, "127.0.0.3", 9999, 17), before + 1);

	/* the CLI's view with no daemon */
	fd = sbx_bpf_open_pinned_map(pin_dir, SBX_MAP_SANDBOX_NAMES);
	CHECK(fd >= 0);
	if (fd >= 0) {
		char name[SBX_SANDBOX_NAME_MAX];

		CHECK_INT(sbx_bpf_sandbox_name(fd, SANDBOX_ID, name), 0);
		CHECK_STR(name, "sock-test");
		close(fd);
	}
	CHECK_INT(sbx_bpf_open_pinned_map(pin_dir, "sbx_no_such_map"), -ENOENT);

	err = sbx_bpf_open(pin_dir, &B);
	CHECK_INT(err, 0);
	if (err) {
		fprintf(stderr, "  cannot reopen: %s\n", strerror(-err));
		exit(1);
	}
	CHECK_INT(bpf_map_lookup_elem(sbx_bpf_map_fd(B, SBX_MAP_SANDBOXES), &cgid, &got), 0);
	CHECK_INT(got.sandbox_id, SANDBOX_ID);
	CHECK_INT(bpf_map_lookup_elem(sbx_bpf_map_fd(B, SBX_MAP_SANDBOXES), &gone_id, &got),
		  -ENOENT);
	CHECK(access(link, F_OK) < 0 && errno == ENOENT);
	/* The links now run the new programs, which count into the same map. */
	CHECK_INT(run_child(cg_path, child_udp_refused), 0);
	CHECK_INT(count_v4(SANDBOX_ID, SBX_REASON_UDP_BLOCKED, "127.0.0.3", 9999, 17), before + 2);
	check_redirect(child_tcp4);
}

static void test_cgroup_skb_backstop(void)
{
	struct sbx_sandbox_cfg skb_cfg = cfg;
	struct sockaddr_in dst;
	struct tcp_report r;
	struct child c;
	char buf[8];
	int fd, afd;

	skb_cfg.sandbox_id = SKB_SANDBOX_ID;
	skb_cfg.flags = SBX_CFG_F_OWN_NETNS;
	CHECK_INT(sbx_bpf_attach_cgroup(B, cg_skb_path, &skb_cfg, &cgid_skb), 0);
	CHECK_INT(sbx_bpf_attach_cgroup_skb(B, cg_skb_path, &skb_cfg, NULL), 0);

	CHECK_INT(run_child(cg_skb_path, child_skb_blocks_direct), 0);
	CHECK(!wait_readable(other_fd, 0)); /* the SYN never arrived */
	CHECK(count_v4(SKB_SANDBOX_ID, SBX_REASON_TCP_BLOCKED, "127.0.0.1", other_port, 6) >= 1);
	CHECK_INT(count_v4(SKB_SANDBOX_ID, SBX_REASON_UDP_BLOCKED, "127.0.0.1", 9998, 17), 1);
	CHECK(wait_readable(dns_fd, WAIT_MS));
	CHECK_INT(recv(dns_fd, buf, sizeof(buf), MSG_DONTWAIT), 1);

	c = spawn(cg_skb_path, child_skb_to_proxy);
	CHECK_INT(parent_recv(&c, &r, sizeof(r)), 0);
	CHECK(wait_readable(proxy_fd, WAIT_MS));
	afd = accept4(proxy_fd, NULL, NULL, SOCK_CLOEXEC);
	CHECK(afd >= 0);
	CHECK(wait_readable(afd, WAIT_MS));
	CHECK_INT(recv(afd, buf, sizeof(buf), MSG_DONTWAIT), 5);
	CHECK_INT(write(c.from_parent, "k", 1), 1);
	CHECK_INT(reap(&c), 0);
	close(afd);

	c = spawn(cg_skb_path, child_skb_server);
	CHECK_INT(parent_recv(&c, &r, sizeof(r)), 0);
	dst = sin4("127.0.0.1", r.local_port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK_INT(connect(fd, (struct sockaddr *)&dst, sizeof(dst)), 0);
	CHECK(wait_readable(fd, WAIT_MS));
	CHECK_INT(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), 2);
	CHECK_INT(write(c.from_parent, "k", 1), 1);
	CHECK_INT(reap(&c), 0);
	close(fd);

	CHECK_INT(sbx_bpf_detach_cgroup(B, cgid_skb), 0);
}

/*
 * A cgroup attached in the host namespace talks to the resolver from 127.0.0.1: the resolver
 * can tell its sandbox by the query's source port, for connected sockets (glibc) and for the
 * first datagram of an unconnected one alike.
 */
static void check_resolver_knows(int (*fn)(void), const char *want)
{
	struct sockaddr_in from;
	socklen_t flen = sizeof(from);
	struct sbx_orig orig;
	char buf[8];

	CHECK_INT(run_child(cg_path, fn), 0);
	CHECK(wait_readable(dns_fd, WAIT_MS));
	CHECK_INT(recvfrom(dns_fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from,
			   &flen),
		  2);
	CHECK(memcmp(buf, want, 2) == 0);
	CHECK_INT(from.sin_addr.s_addr, ip("127.0.0.1"));
	CHECK_INT(sbx_bpf_lookup_conn(B, 0, ntohs(from.sin_port), &orig), 0);
	CHECK_INT(orig.sandbox_id, SANDBOX_ID);
}

static void test_attached_dns_clients_are_known(void)
{
	CHECK_INT(sbx_bpf_attach_cgroup_skb(B, cg_path, &cfg, NULL), 0);
	check_resolver_knows(child_dns_connected_fresh, "c1");
	check_resolver_knows(child_dns_unconnected_fresh, "u1");
}

static void test_detach_stops_enforcement(void)
{
	struct sbx_sandbox_cfg got;
	char path[512];
	struct stat st;

	CHECK_INT(sbx_bpf_detach_cgroup(B, cgid), 0);
	CHECK_INT(bpf_map_lookup_elem(sbx_bpf_map_fd(B, SBX_MAP_SANDBOXES), &cgid, &got), -ENOENT);
	snprintf(path, sizeof(path), "%s/links/cg%llu_sbx_connect4", pin_dir,
		 (unsigned long long)cgid);
	CHECK(stat(path, &st) < 0 && errno == ENOENT);
	CHECK_INT(run_child(cg_path, child_udp_free), 0);
}

static const struct test tests[] = {
	T(test_tcp_connect_redirected_to_proxy),
	T(test_tcp_v4mapped_connect_redirected),
	T(test_tcp_dns_redirected_to_resolver),
	T(test_udp_other_than_dns_refused),
	T(test_dns_goes_to_resolver),
	T(test_raw_sockets_refused),
	T(test_other_ip_protocols_refused),
	T(test_packet_sockets_refused),
	T(test_ping_socket_refused),
	T(test_ipv6_refused),
	T(test_enforcement_outlives_daemon),
	T(test_cgroup_skb_backstop),
	T(test_attached_dns_clients_are_known),
	T(test_detach_stops_enforcement),
};

/* ---- setup -------------------------------------------------------------------------------- */

static int find_cgroup2(char *out, size_t size)
{
	FILE *f = setmntent("/proc/self/mounts", "r");
	struct mntent *m;
	int found = 0;

	if (!f)
		return 0;
	while (!found && (m = getmntent(f))) {
		if (strcmp(m->mnt_type, "cgroup2") == 0) {
			snprintf(out, size, "%s", m->mnt_dir);
			found = 1;
		}
	}
	endmntent(f);
	return found;
}

/* A private network namespace with lo up: nothing this test sends can leave the machine. */
static int private_netns(void)
{
	struct ifreq ifr = { 0 };
	int fd;

	if (unshare(CLONE_NEWNET))
		return -errno;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
	return 0;
}

static void remove_cgroup(const char *path)
{
	/* The last child may take a moment to leave after it was reaped. */
	for (int i = 0; i < 50 && rmdir(path) && errno == EBUSY; i++)
		usleep(20 * 1000);
}

int main(void)
{
	char root[200];
	int had_bpffs, rc = 1, err;

	if (geteuid() != 0) {
		printf("SKIP bpf_sock: needs root\n");
		return 0;
	}
	signal(SIGPIPE, SIG_IGN); /* a child that failed early closed its pipe */
	if (!find_cgroup2(root, sizeof(root))) {
		printf("SKIP bpf_sock: no cgroup2 mount\n");
		return 0;
	}
	err = private_netns();
	if (err) {
		printf("FAIL bpf_sock.setup: private network namespace: %s\n", strerror(-err));
		return 1;
	}
	snprintf(cg_path, sizeof(cg_path), "%s/sbxtest-%d", root, (int)getpid());
	snprintf(cg_skb_path, sizeof(cg_skb_path), "%s/skb", cg_path);
	snprintf(cg_gone_path, sizeof(cg_gone_path), "%s-gone", cg_path);
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/sbxtest-%d", (int)getpid());
	if (mkdir(cg_path, 0755) || mkdir(cg_skb_path, 0755)) {
		printf("FAIL bpf_sock.setup: mkdir %s: %s\n", cg_path, strerror(errno));
		goto out_cgroup;
	}
	had_bpffs = bpffs_mounted();

	proxy_fd = bound_socket(SOCK_STREAM, &proxy_port);
	other_fd = bound_socket(SOCK_STREAM, &other_port);
	dns_fd = bound_socket(SOCK_DGRAM, &dns_port);
	dns_tcp_fd = bound_socket_at(SOCK_STREAM, dns_port, &dns_port);
	cfg = (struct sbx_sandbox_cfg){
		.sandbox_id = SANDBOX_ID,
		.proxy_ip4 = ip("127.0.0.1"),
		.tproxy_port = proxy_port,
		.fwd_port = 0,
		.dns_port = dns_port,
	};

	err = sbx_bpf_open(pin_dir, &B);
	if (err) {
		printf("FAIL bpf_sock.setup: sbx_bpf_open(%s): %s\n", pin_dir, strerror(-err));
		goto out;
	}
	err = sbx_bpf_attach_cgroup(B, cg_path, &cfg, &cgid);
	if (!err)
		err = sbx_bpf_set_sandbox_name(B, SANDBOX_ID, "sock-test");
	if (err) {
		printf("FAIL bpf_sock.setup: attach %s: %s\n", cg_path, strerror(-err));
		goto out;
	}
	rc = test_main("bpf_sock", tests, sizeof(tests) / sizeof(tests[0]));
out:
	sbx_bpf_close(B);
	err = sbx_bpf_unpin_all(pin_dir);
	if (err) {
		printf("FAIL bpf_sock.cleanup: unpin %s: %s\n", pin_dir, strerror(-err));
		rc = 1;
	}
	if (!had_bpffs)
		umount_bpffs_if_unused();
out_cgroup:
	remove_cgroup(cg_gone_path); /* normally gone already */
	remove_cgroup(cg_skb_path);
	remove_cgroup(cg_path);
	return rc;
}
