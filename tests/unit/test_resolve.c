// SPDX-License-Identifier: MIT
/*
 * The upstream resolver against a fake upstream on loopback: each query comes
 * from its own random port with its own random id, and only the answer from
 * the server asked, with the query's id and question, is taken; forgeries are
 * dropped while the query keeps waiting. One thread: the test sends as the
 * upstream, then runs the loop for a bounded time.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dnsmsg.h"
#include "resolve.h"
#include "test.h"

#define SPOOF_ADDR { 6, 6, 6, 6 }
#define REAL_ADDR { 198, 51, 100, 7 }

struct result {
	int calls, err, rcode;
	size_t n;
	uint8_t addr[4];
};

static struct sbx_ev *ev;
static struct sbx_resolver *res;
static int upstream_fd, other_fd; /* the server asked, and a stranger on another port */
static struct sockaddr_in upstream_addr;

static int bound_udp(struct sockaddr_in *sin)
{
	socklen_t len = sizeof(*sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	*sin = (struct sockaddr_in){ .sin_family = AF_INET,
				     .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (fd < 0 || bind(fd, (struct sockaddr *)sin, sizeof(*sin)) ||
	    getsockname(fd, (struct sockaddr *)sin, &len))
		abort();
	return fd;
}

static void on_result(void *arg, int err, int rcode, const struct sbx_dns_rr *rrs, size_t n)
{
	struct result *r = arg;

	r->calls++;
	r->err = err;
	r->rcode = rcode;
	r->n = n;
	if (n)
		memcpy(r->addr, rrs[0].addr, 4);
}

static void on_stop(struct sbx_ev *e, void *arg)
{
	sbx_ev_stop(e);
}

/* Let the resolver read what was sent to it: run the loop for @ms. */
static void spin(unsigned ms)
{
	long t = sbx_ev_timer(ev, ms, on_stop, NULL);

	sbx_ev_run(ev);
	sbx_ev_timer_cancel(ev, t);
}

/* The upstream receives one query: its packet, source and parse. */
static int upstream_recv(uint8_t *pkt, size_t cap, struct sockaddr_in *from,
			 struct sbx_dns_query *q)
{
	struct pollfd p = { .fd = upstream_fd, .events = POLLIN };
	socklen_t flen = sizeof(*from);
	ssize_t n;

	if (poll(&p, 1, 2000) != 1)
		return -1;
	n = recvfrom(upstream_fd, pkt, cap, 0, (struct sockaddr *)from, &flen);
	if (n < 0 || sbx_dns_parse_query(pkt, (size_t)n, q))
		return -1;
	return (int)n;
}

/* Send from @fd to @to a reply to @q (with @id) naming @name/@type, holding @addr. */
static void send_reply(int fd, const struct sockaddr_in *to, const struct sbx_dns_query *q,
		       uint16_t id, const char *name, uint16_t type, uint16_t qclass,
		       const uint8_t addr[4])
{
	uint8_t qpkt[512], out[512];
	struct sbx_dns_query fake;
	struct sbx_dns_rr rr = { .type = SBX_DNS_TYPE_A, .ttl = 60 };
	size_t qlen, used;

	/* a question of our choosing: build it as a query, then answer that */
	if (sbx_dns_build_query(id, name, SBX_DNS_TYPE_A, qpkt, sizeof(qpkt), &qlen) ||
	    sbx_dns_parse_query(qpkt, qlen, &fake))
		abort();
	qpkt[fake.question_end - 4] = (uint8_t)(type >> 8);
	qpkt[fake.question_end - 3] = (uint8_t)type;
	qpkt[fake.question_end - 2] = (uint8_t)(qclass >> 8);
	qpkt[fake.question_end - 1] = (uint8_t)qclass;
	fake.qtype = SBX_DNS_TYPE_A; /* what build_reply checks the answer against */
	memcpy(rr.addr, addr, 4);
	if (sbx_dns_build_reply(&fake, qpkt, 0, &rr, 1, out, sizeof(out), &used))
		abort();
	sendto(fd, out, used, 0, (const struct sockaddr *)to, sizeof(*to));
}

static size_t open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	size_t n = 0;

	if (!d)
		return 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void test_setup(void)
{
	struct sockaddr_in other;
	struct sbx_upstreams up = { .n = 1 };

	upstream_fd = bound_udp(&upstream_addr);
	other_fd = bound_udp(&other);
	up.addr[0] = upstream_addr;
	CHECK_INT(sbx_ev_new(&ev), 0);
	CHECK_INT(sbx_resolver_new(ev, &up, &res), 0);
}

static void test_ids_and_ports_differ_across_queries(void)
{
	enum { N = 8 };
	struct result r[N] = { 0 };
	uint16_t ports[N], ids[N];
	size_t distinct_ids = 0, steps = 0;
	bool distinct_ports = true;

	for (int i = 0; i < N; i++)
		CHECK(sbx_resolve(res, "allowed.test", SBX_DNS_TYPE_A, on_result, &r[i]) > 0);
	for (int i = 0; i < N; i++) {
		uint8_t pkt[512];
		struct sockaddr_in from;
		struct sbx_dns_query q;

		CHECK(upstream_recv(pkt, sizeof(pkt), &from, &q) > 0);
		ports[i] = ntohs(from.sin_port);
		ids[i] = q.id;
		/* answer each, so nothing is left pending */
		send_reply(upstream_fd, &from, &q, q.id, q.name, SBX_DNS_TYPE_A, SBX_DNS_CLASS_IN,
			   (uint8_t[])REAL_ADDR);
	}
	for (int i = 0; i < N; i++) {
		bool seen = false;

		for (int j = 0; j < i; j++) {
			distinct_ports = distinct_ports && ports[i] != ports[j];
			seen = seen || ids[i] == ids[j];
		}
		distinct_ids += !seen;
		if (i && ports[i] == (uint16_t)(ports[i - 1] + 1))
			steps++;
	}
	CHECK(distinct_ports);
	CHECK(steps < N - 1); /* not handed out in sequence */
	CHECK(distinct_ids >= N - 1); /* random 16-bit ids: a repeat among 8 is rare, two rarer */
	spin(300);
	for (int i = 0; i < N; i++)
		CHECK_INT(r[i].calls, 1);
}

/* Start one lookup and catch its query at the upstream. */
static void start(struct result *r, struct sockaddr_in *from, struct sbx_dns_query *q)
{
	uint8_t pkt[512];

	CHECK(sbx_resolve(res, "allowed.test", SBX_DNS_TYPE_A, on_result, r) > 0);
	CHECK(upstream_recv(pkt, sizeof(pkt), from, q) > 0);
}

/* After the forgeries, the real answer still gets through, and only it. */
static void answer_and_check(struct result *r, const struct sockaddr_in *from,
			     const struct sbx_dns_query *q)
{
	spin(200);
	CHECK_INT(r->calls, 0); /* the forgeries did not end the lookup */
	send_reply(upstream_fd, from, q, q->id, "allowed.test", SBX_DNS_TYPE_A, SBX_DNS_CLASS_IN,
		   (uint8_t[])REAL_ADDR);
	spin(200);
	CHECK_INT(r->calls, 1);
	CHECK_INT(r->err, 0);
	CHECK_INT(r->n, 1);
	CHECK(memcmp(r->addr, (uint8_t[])REAL_ADDR, 4) == 0);
}

static void test_answer_with_another_id_is_ignored(void)
{
	struct result r = { 0 };
	struct sockaddr_in from;
	struct sbx_dns_query q;

	start(&r, &from, &q);
	for (unsigned d = 1; d < 4; d++)
		send_reply(upstream_fd, &from, &q, (uint16_t)(q.id + d), "allowed.test",
			   SBX_DNS_TYPE_A, SBX_DNS_CLASS_IN, (uint8_t[])SPOOF_ADDR);
	answer_and_check(&r, &from, &q);
}

static void test_answer_to_another_question_is_ignored(void)
{
	struct result r = { 0 };
	struct sockaddr_in from;
	struct sbx_dns_query q;

	start(&r, &from, &q);
	send_reply(upstream_fd, &from, &q, q.id, "other.test", SBX_DNS_TYPE_A, SBX_DNS_CLASS_IN,
		   (uint8_t[])SPOOF_ADDR);
	send_reply(upstream_fd, &from, &q, q.id, "allowed.test", SBX_DNS_TYPE_AAAA,
		   SBX_DNS_CLASS_IN, (uint8_t[])SPOOF_ADDR);
	send_reply(upstream_fd, &from, &q, q.id, "allowed.test", SBX_DNS_TYPE_A, 3 /* CH */,
		   (uint8_t[])SPOOF_ADDR);
	answer_and_check(&r, &from, &q);
}

static void test_answer_from_another_port_is_ignored(void)
{
	struct result r = { 0 };
	struct sockaddr_in from;
	struct sbx_dns_query q;

	start(&r, &from, &q);
	send_reply(other_fd, &from, &q, q.id, "allowed.test", SBX_DNS_TYPE_A, SBX_DNS_CLASS_IN,
		   (uint8_t[])SPOOF_ADDR);
	answer_and_check(&r, &from, &q);
}

static void test_question_matches_whatever_its_case(void)
{
	struct result r = { 0 };
	struct sockaddr_in from;
	struct sbx_dns_query q;

	start(&r, &from, &q);
	send_reply(upstream_fd, &from, &q, q.id, "ALLOWED.Test", SBX_DNS_TYPE_A, SBX_DNS_CLASS_IN,
		   (uint8_t[])REAL_ADDR);
	spin(200);
	CHECK_INT(r.calls, 1);
	CHECK_INT(r.err, 0);
	CHECK(memcmp(r.addr, (uint8_t[])REAL_ADDR, 4) == 0);
}

/* Each lookup holds a socket while in flight: the cap bounds them, and they are all given back. */
static void test_pending_lookups_and_their_sockets_are_bounded(void)
{
	static struct result r[SBX_RESOLVE_PENDING_MAX + 1];
	static long h[SBX_RESOLVE_PENDING_MAX];
	size_t before = open_fds();

	for (int i = 0; i < SBX_RESOLVE_PENDING_MAX; i++)
		h[i] = sbx_resolve(res, "allowed.test", SBX_DNS_TYPE_A, on_result, &r[i]);
	CHECK(h[0] > 0 && h[SBX_RESOLVE_PENDING_MAX - 1] > 0);
	CHECK_INT(open_fds(), before + SBX_RESOLVE_PENDING_MAX);
	CHECK_INT(sbx_resolve(res, "allowed.test", SBX_DNS_TYPE_A, on_result,
			      &r[SBX_RESOLVE_PENDING_MAX]),
		  -EBUSY);
	for (int i = 0; i < SBX_RESOLVE_PENDING_MAX; i++)
		sbx_resolve_cancel(res, h[i]);
	CHECK_INT(open_fds(), before);
	for (int i = 0; i <= SBX_RESOLVE_PENDING_MAX; i++)
		CHECK_INT(r[i].calls, 0);
	/* drain what reached the upstream, so no later test reads it */
	for (int i = 0; i < 2 * SBX_RESOLVE_PENDING_MAX; i++)
		if (recv(upstream_fd, (char[512]){ 0 }, 512, MSG_DONTWAIT) < 0)
			break;
}

static void test_teardown(void)
{
	sbx_resolver_free(res);
	sbx_ev_free(ev);
	close(upstream_fd);
	close(other_fd);
}

/* sbxd(8): dns_upstream and SBX_DNS_UPSTREAM take up to three; a fourth is refused, not dropped. */
static void test_upstreams_at_most_three(void)
{
	struct sbx_upstreams up;
	char err[256] = "";

	CHECK_INT(sbx_upstreams_parse("10.0.0.1,10.0.0.2:5353,10.0.0.3", NULL, &up, err,
				      sizeof(err)),
		  0);
	CHECK_INT(up.n, 3);
	CHECK_INT(ntohs(up.addr[1].sin_port), 5353);
	CHECK_INT(sbx_upstreams_parse("10.0.0.1,10.0.0.2,10.0.0.3,10.0.0.4", NULL, &up, err,
				      sizeof(err)),
		  -EINVAL);
	CHECK_STR(err, "more than 3 DNS upstreams in '10.0.0.1,10.0.0.2,10.0.0.3,10.0.0.4'");
	CHECK_INT(sbx_upstreams_parse("10.0.0.1,ns.example", NULL, &up, err, sizeof(err)),
		  -EINVAL);
	CHECK_STR(err, "DNS upstream 'ns.example' is not IPv4[:PORT]");
}

static const struct test tests[] = {
	T(test_upstreams_at_most_three),
	T(test_setup),
	T(test_ids_and_ports_differ_across_queries),
	T(test_answer_with_another_id_is_ignored),
	T(test_answer_to_another_question_is_ignored),
	T(test_answer_from_another_port_is_ignored),
	T(test_question_matches_whatever_its_case),
	T(test_pending_lookups_and_their_sockets_are_bounded),
	T(test_teardown),
};

TEST_MAIN("resolve", tests)
