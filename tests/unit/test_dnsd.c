// SPDX-License-Identifier: MIT
/*
 * The sandboxes' resolver on loopback: allowed names are forwarded to a fake
 * upstream and remembered, denied ones are refused without asking it, over
 * UDP and TCP. Two sandboxes share it: "t" asks from 127.0.0.1, "b" from
 * 127.0.0.2; one at its limits must leave the other answered. The fake
 * upstream never answers names under stall.test (a stalled upstream).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dnsd.h"
#include "dnsmsg.h"
#include "test.h"

#define B_ADDR 0x7f000002 /* sandbox b's address; everything else on loopback is t */
#define A_ID 3
#define B_ID 5

static struct sbx_ev *ev;
static struct sbx_dnsd *dnsd;
static uint16_t dnsd_port;
static int upstream_fd, wake[2];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char upstream_asked[4096], refused_names[4096];

static void *upstream_main(void *arg)
{
	for (;;) {
		uint8_t pkt[1500], out[1500];
		struct sockaddr_in from;
		socklen_t flen = sizeof(from);
		struct sbx_dns_query q;
		struct sbx_dns_rr rr = { .type = SBX_DNS_TYPE_A, .ttl = 3600,
					 .addr = { 198, 51, 100, 7 } };
		size_t used;
		ssize_t n = recvfrom(upstream_fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&from,
				     &flen);

		if (n < 0)
			return NULL;
		if (sbx_dns_parse_query(pkt, (size_t)n, &q))
			continue;
		if (strstr(q.name, "stall.test"))
			continue; /* stalled: never answered */
		pthread_mutex_lock(&lock);
		strncat(upstream_asked, q.name, sizeof(upstream_asked) - strlen(upstream_asked) - 2);
		strcat(upstream_asked, ";");
		pthread_mutex_unlock(&lock);
		if (sbx_dns_build_reply(&q, pkt, 0, &rr, 1, out, sizeof(out), &used) == 0)
			sendto(upstream_fd, out, used, 0, (struct sockaddr *)&from, flen);
	}
}

static bool identify(void *ctx, const struct sockaddr_in *peer, uint32_t *id, char *sandbox,
		     size_t len, uint32_t *gw4)
{
	bool b = peer->sin_addr.s_addr == htonl(B_ADDR);

	*id = b ? B_ID : A_ID;
	snprintf(sandbox, len, b ? "b" : "t");
	*gw4 = htonl(0x0a000001);
	return true;
}

static bool may_resolve(void *ctx, const char *sandbox, const char *name)
{
	size_t n = strlen(name);

	return strcmp(name, "allowed.test") == 0 ||
	       (n > 11 && strcmp(name + n - 11, ".stall.test") == 0);
}

static void refused(void *ctx, uint32_t id, const char *name)
{
	pthread_mutex_lock(&lock);
	strncat(refused_names, name, sizeof(refused_names) - strlen(refused_names) - 2);
	strcat(refused_names, ";");
	pthread_mutex_unlock(&lock);
}

static void on_wake(struct sbx_ev *e, int fd, uint32_t events, void *arg)
{
	sbx_ev_stop(e);
}

static void *loop_main(void *arg)
{
	sbx_ev_run(ev);
	return NULL;
}

static pthread_t loop_thread;

static int bound_socket(int type, uint16_t *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, type, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) ||
	    getsockname(fd, (struct sockaddr *)&sin, &len))
		abort();
	*port = ntohs(sin.sin_port);
	return fd;
}

/* A socket of the sandbox at @src (host order), connected to the resolver; -1 if refused. */
static int dial(uint32_t src, bool tcp)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(dnsd_port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in me = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(src) };
	int fd = socket(AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&me, sizeof(me)))
		abort();
	if (connect(fd, (struct sockaddr *)&to, sizeof(to))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Send a query for @name on @fd (framed for TCP). */
static void send_query(int fd, uint16_t id, const char *name, uint16_t type, bool tcp)
{
	uint8_t q[512];
	size_t qlen;

	if (sbx_dns_build_query(id, name, type, q + 2, sizeof(q) - 2, &qlen))
		abort();
	q[0] = (uint8_t)(qlen >> 8);
	q[1] = (uint8_t)qlen;
	send(fd, tcp ? q : q + 2, tcp ? qlen + 2 : qlen, MSG_NOSIGNAL);
}

/* Ask @name from @src over UDP (or TCP); returns the rcode and the first A answer in *a. */
static int ask_from(uint32_t src, const char *name, uint16_t type, bool tcp, uint32_t *a)
{
	uint8_t r[4096];
	struct sbx_dns_rr rr[4];
	size_t n = 0;
	int fd = dial(src, tcp), rcode = -1;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t got;

	*a = 0;
	if (fd < 0)
		return -1;
	send_query(fd, 0x1234, name, type, tcp);
	if (poll(&p, 1, 3000) != 1) {
		close(fd);
		return -1;
	}
	got = recv(fd, r, sizeof(r), 0);
	close(fd);
	if (got < (tcp ? 2 : 1))
		return -1;
	if (sbx_dns_parse_reply(r + (tcp ? 2 : 0), (size_t)got - (tcp ? 2 : 0), 0x1234, name, type,
				rr, 4, &n, &rcode))
		return -2;
	if (n && type == SBX_DNS_TYPE_A)
		memcpy(a, rr[0].addr, 4);
	return rcode;
}

static int ask(const char *name, uint16_t type, bool tcp, uint32_t *a)
{
	return ask_from(INADDR_LOOPBACK, name, type, tcp, a);
}

static bool asked(const char *list, const char *name)
{
	bool r;

	pthread_mutex_lock(&lock);
	r = strstr(list, name) != NULL;
	pthread_mutex_unlock(&lock);
	return r;
}

static void test_setup(void)
{
	struct sbx_dnsd_ops ops = { NULL, identify, may_resolve, refused };
	struct sbx_upstreams up = { .n = 1 };
	uint16_t up_port;
	pthread_t t;
	int probe;

	upstream_fd = bound_socket(SOCK_DGRAM, &up_port);
	pthread_create(&t, NULL, upstream_main, NULL);
	pthread_detach(t);
	up.addr[0] = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(up_port),
					   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	probe = bound_socket(SOCK_STREAM, &dnsd_port);
	close(probe);
	CHECK_INT(sbx_ev_new(&ev), 0);
	CHECK_INT(sbx_dnsd_start(ev, htonl(INADDR_LOOPBACK), dnsd_port, &up, &ops, &dnsd), 0);
	CHECK_INT(pipe(wake), 0);
	sbx_ev_add(ev, wake[0], EPOLLIN, on_wake, NULL);
	pthread_create(&loop_thread, NULL, loop_main, NULL);
}

static void test_allowed_name_is_forwarded_and_remembered(void)
{
	uint32_t a;
	char name[64] = "";

	CHECK_INT(ask("allowed.test", SBX_DNS_TYPE_A, false, &a), 0);
	CHECK_INT(ntohl(a), 0xc6336407); /* 198.51.100.7 */
	CHECK(asked(upstream_asked, "allowed.test;"));
	CHECK(sbx_dnsd_name_for(dnsd, 3, a, name, sizeof(name)));
	CHECK_STR(name, "allowed.test");
	CHECK(!sbx_dnsd_name_for(dnsd, 4, a, name, sizeof(name))); /* another sandbox */
}

static void test_denied_name_is_refused_without_asking_upstream(void)
{
	uint32_t a;

	CHECK_INT(ask("secret-data.exfil.example", SBX_DNS_TYPE_A, false, &a), 5);
	CHECK(!asked(upstream_asked, "exfil"));
	CHECK(asked(refused_names, "secret-data.exfil.example;"));
	CHECK_INT(ask("secret-data.exfil.example", SBX_DNS_TYPE_AAAA, false, &a), 5);
}

static void test_gateway_names_answer_locally(void)
{
	uint32_t a;

	CHECK_INT(ask("gateway.docker.internal", SBX_DNS_TYPE_A, false, &a), 0);
	CHECK_INT(ntohl(a), 0x0a000001);
	CHECK_INT(ask("host.docker.internal", SBX_DNS_TYPE_A, false, &a), 0);
	CHECK(!asked(upstream_asked, "docker.internal"));
}

static void test_aaaa_of_allowed_name_is_empty(void)
{
	uint32_t a;

	CHECK_INT(ask("allowed.test", SBX_DNS_TYPE_AAAA, false, &a), 0);
	CHECK_INT(a, 0);
}

static void test_tcp_queries_are_answered(void)
{
	uint32_t a;

	CHECK_INT(ask("allowed.test", SBX_DNS_TYPE_A, true, &a), 0);
	CHECK_INT(ntohl(a), 0xc6336407);
	CHECK_INT(ask("denied.test", SBX_DNS_TYPE_A, true, &a), 5);
}

static void test_garbage_gets_formerr_or_silence(void)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(dnsd_port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	/* one question whose label holds a control byte: malformed, not truncated */
	uint8_t junk[] = { 0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0,
			   3,	 'a',  1,    'b',  0,	 0,    1, 0, 1 };
	uint8_t r[512];
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint32_t a;

	sendto(fd, junk, sizeof(junk), 0, (struct sockaddr *)&to, sizeof(to));
	CHECK(poll(&p, 1, 2000) == 1);
	CHECK(recv(fd, r, sizeof(r), MSG_DONTWAIT) >= 12);
	CHECK_INT(r[3] & 0x0f, SBX_DNS_RCODE_FORMERR);
	sendto(fd, junk, 3, 0, (struct sockaddr *)&to, sizeof(to)); /* too short: dropped */
	close(fd);
	/* and the resolver still answers */
	CHECK_INT(ask("allowed.test", SBX_DNS_TYPE_A, false, &a), 0);
}

/* Has the server closed @fd (EOF or reset) within @ms? */
static bool closed_by_server(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	return poll(&p, 1, ms) == 1 && recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
}

static void test_flood_to_stalled_upstream_leaves_other_sandbox_answered(void)
{
	enum { FLOOD = 4 * SBX_DNSD_PENDING_PER_SANDBOX };
	int fd = dial(INADDR_LOOPBACK, false), servfail = 0;
	uint32_t a;

	/* sandbox t: distinct names the upstream never answers, far past its share */
	for (int i = 0; i < FLOOD; i++) {
		char name[64];

		snprintf(name, sizeof(name), "n%d.stall.test", i);
		send_query(fd, (uint16_t)i, name, SBX_DNS_TYPE_A, false);
	}
	/* what is past the share is refused at once, not queued behind the stall */
	for (int i = 0; i < FLOOD; i++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint8_t r[512];

		if (poll(&p, 1, 1000) != 1 || recv(fd, r, sizeof(r), 0) < 12)
			break;
		servfail += (r[3] & 0x0f) == SBX_DNS_RCODE_SERVFAIL;
	}
	CHECK_INT(servfail, FLOOD - SBX_DNSD_PENDING_PER_SANDBOX);
	/* sandbox b is answered, over UDP and TCP, while t's lookups still wait */
	CHECK_INT(ask_from(B_ADDR, "allowed.test", SBX_DNS_TYPE_A, false, &a), 0);
	CHECK_INT(ntohl(a), 0xc6336407);
	CHECK_INT(ask_from(B_ADDR, "allowed.test", SBX_DNS_TYPE_A, true, &a), 0);
	CHECK_INT(ntohl(a), 0xc6336407);
	/* and t itself is told SERVFAIL, not left waiting, while at its limit */
	CHECK_INT(ask("allowed.test", SBX_DNS_TYPE_A, false, &a), SBX_DNS_RCODE_SERVFAIL);
	close(fd);
}

static void test_tcp_connections_past_share_are_closed_others_served(void)
{
	enum { HOLD = 2 * SBX_DNSD_TCP_PER_SANDBOX };
	int fds[HOLD], closed = 0, open_first = 0;
	uint32_t a;

	for (int i = 0; i < HOLD; i++)
		fds[i] = dial(INADDR_LOOPBACK, true);
	for (int i = 0; i < HOLD; i++) {
		bool first = i < SBX_DNSD_TCP_PER_SANDBOX;
		bool c = fds[i] < 0 || closed_by_server(fds[i], first ? 0 : 1000);

		closed += c;
		open_first += first && !c;
	}
	CHECK_INT(closed, HOLD - SBX_DNSD_TCP_PER_SANDBOX);
	CHECK_INT(open_first, SBX_DNSD_TCP_PER_SANDBOX);
	/* sandbox b gets its own share */
	CHECK_INT(ask_from(B_ADDR, "allowed.test", SBX_DNS_TYPE_A, true, &a), 0);
	CHECK_INT(ntohl(a), 0xc6336407);
	/* t's held connections still work; a slot given back can be taken again */
	close(fds[0]);
	usleep(100 * 1000);
	send_query(fds[1], 7, "denied.test", SBX_DNS_TYPE_A, true);
	CHECK(!closed_by_server(fds[1], 500)); /* answered, not closed */
	CHECK_INT(ask("denied.test", SBX_DNS_TYPE_A, true, &a), 5);
	for (int i = 1; i < HOLD; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static void test_slow_tcp_client_is_closed(void)
{
	int fd = dial(INADDR_LOOPBACK, true);
	uint64_t t0 = sbx_ev_now_ms(), dt;

	usleep(100 * 1000); /* let the server take the previous test's closes */
	CHECK(send(fd, "\0", 1, 0) == 1); /* half a length prefix, then nothing */
	CHECK(closed_by_server(fd, SBX_DNSD_TCP_SLOW_MS + 2000));
	dt = sbx_ev_now_ms() - t0;
	CHECK(dt >= SBX_DNSD_TCP_SLOW_MS - 100 && dt < SBX_DNSD_TCP_SLOW_MS + 1500);
	close(fd);
}

static void test_teardown(void)
{
	CHECK_INT(write(wake[1], "x", 1), 1);
	pthread_join(loop_thread, NULL);
	sbx_dnsd_free(dnsd);
	sbx_ev_free(ev);
	close(wake[0]);
	close(wake[1]);
	shutdown(upstream_fd, SHUT_RDWR);
	close(upstream_fd);
}

static const struct test tests[] = {
	T(test_setup),
	T(test_allowed_name_is_forwarded_and_remembered),
	T(test_denied_name_is_refused_without_asking_upstream),
	T(test_gateway_names_answer_locally),
	T(test_aaaa_of_allowed_name_is_empty),
	T(test_tcp_queries_are_answered),
	T(test_garbage_gets_formerr_or_silence),
	T(test_flood_to_stalled_upstream_leaves_other_sandbox_answered),
	T(test_tcp_connections_past_share_are_closed_others_served),
	T(test_slow_tcp_client_is_closed),
	T(test_teardown),
};

TEST_MAIN("dnsd", tests)
