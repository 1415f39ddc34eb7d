// SPDX-License-Identifier: MIT
/*
 * The sandboxes' resolver on loopback: allowed names are forwarded to a fake
 * upstream and remembered, denied ones are refused without asking it, over
 * UDP and TCP.
 */
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dnsd.h"
#include "dnsmsg.h"
#include "test.h"

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
	*id = 3;
	snprintf(sandbox, len, "t");
	*gw4 = htonl(0x0a000001);
	return true;
}

static bool may_resolve(void *ctx, const char *sandbox, const char *name)
{
	return strcmp(name, "allowed.test") == 0;
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

/* Ask @name over UDP (or TCP); returns the rcode and the first A answer in *a. */
static int ask(const char *name, uint16_t type, bool tcp, uint32_t *a)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(dnsd_port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	uint8_t q[512], r[4096];
	struct sbx_dns_rr rr[4];
	size_t qlen, n = 0;
	int fd = socket(AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0), rcode = -1;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t got;

	*a = 0;
	if (sbx_dns_build_query(0x1234, name, type, q + 2, sizeof(q) - 2, &qlen))
		abort();
	if (connect(fd, (struct sockaddr *)&to, sizeof(to)))
		abort();
	q[0] = (uint8_t)(qlen >> 8);
	q[1] = (uint8_t)qlen;
	if (tcp)
		send(fd, q, qlen + 2, 0);
	else
		send(fd, q + 2, qlen, 0);
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
	T(test_teardown),
};

TEST_MAIN("dnsd", tests)
