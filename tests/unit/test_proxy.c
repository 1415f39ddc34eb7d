// SPDX-License-Identifier: MIT
/*
 * The proxy on loopback, no root: a fake origin and a fake DNS server in
 * threads, a real policy behind the ops, and real sockets between them.
 * Checks what a client sees (status, body, reset) and what the origin saw.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <openssl/ssl.h>

#include <sbx/conn.h>
#include <sbx/policy.h>
#include "dnsmsg.h"
#include "proxy.h"
#include "test.h"

static struct sbx_policy *policy;
static bool allow_internal;
static const char *resolver_gave; /* what name_for_addr answers for 127.0.0.1, or NULL */
static uint16_t origin_port, fwd_port, tp_port;
static int origin_fd, dns_fd;
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static char origin_seen[8192]; /* what the origin received, all connections */
static char verdicts[4096];    /* "kind:host:allow:reason;" */

/* ---- the fake origin: answers every connection with what it received ---- */

static void *origin_main(void *arg)
{
	for (;;) {
		char buf[4096], reply[4400];
		int fd = accept(origin_fd, NULL, NULL), n;
		struct pollfd p;

		if (fd < 0)
			return NULL;
		p = (struct pollfd){ .fd = fd, .events = POLLIN };
		n = poll(&p, 1, 2000) == 1 ? (int)recv(fd, buf, sizeof(buf) - 1, 0) : 0;
		if (n > 0) {
			buf[n] = '\0';
			pthread_mutex_lock(&seen_lock);
			strncat(origin_seen, buf, sizeof(origin_seen) - strlen(origin_seen) - 1);
			pthread_mutex_unlock(&seen_lock);
			snprintf(reply, sizeof(reply), "HTTP/1.0 200 OK\r\n\r\norigin got %d bytes\n", n);
			send(fd, reply, strlen(reply), MSG_NOSIGNAL);
			/* a keep-alive server: whatever else comes on this connection is seen */
			for (int i = 0; i < 3 && poll(&p, 1, 100) == 1; i++) {
				n = (int)recv(fd, buf, sizeof(buf) - 1, 0);
				if (n <= 0)
					break;
				buf[n] = '\0';
				pthread_mutex_lock(&seen_lock);
				strncat(origin_seen, buf,
					sizeof(origin_seen) - strlen(origin_seen) - 1);
				pthread_mutex_unlock(&seen_lock);
			}
		}
		close(fd);
	}
}

/* ---- an odd origin: misbehaves as odd_mode says ---- */

enum odd_mode {
	ODD_RESET,	 /* reads the first bytes, finishes, then resets the connection */
	ODD_SLOW_STATUS, /* answers "HTTP/1.1" and nothing more for a while */
};

static _Atomic int odd_mode;
static uint16_t odd_port;
static int odd_fd;

static void *odd_main(void *arg)
{
	for (;;) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };
		int fd = accept(odd_fd, NULL, NULL);
		struct pollfd p;
		char buf[4096];

		if (fd < 0)
			return NULL;
		p = (struct pollfd){ .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 2000) != 1 || recv(fd, buf, sizeof(buf), 0) <= 0) {
			close(fd);
			continue;
		}
		if (odd_mode == ODD_RESET) {
			shutdown(fd, SHUT_WR);
			usleep(200 * 1000);
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		} else {
			send(fd, "HTTP/1.1", 8, MSG_NOSIGNAL);
			usleep(1500 * 1000);
		}
		close(fd);
	}
}

/* ---- the fake DNS server: every name is 127.0.0.1 ---- */

static void *dns_main(void *arg)
{
	for (;;) {
		uint8_t pkt[1500], out[1500];
		struct sockaddr_in from;
		socklen_t flen = sizeof(from);
		struct sbx_dns_query q;
		struct sbx_dns_rr rr = { .type = SBX_DNS_TYPE_A, .ttl = 60, .addr = { 127, 0, 0, 1 } };
		size_t used;
		ssize_t n = recvfrom(dns_fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&from, &flen);

		if (n < 0)
			return NULL;
		if (sbx_dns_parse_query(pkt, (size_t)n, &q) == 0 && strcmp(q.name, "slow.test") == 0)
			continue; /* an upstream that never answers */
		if (sbx_dns_parse_query(pkt, (size_t)n, &q) == 0 &&
		    sbx_dns_build_reply(&q, pkt, 0, &rr, 1, out, sizeof(out), &used) == 0)
			sendto(dns_fd, out, used, 0, (struct sockaddr *)&from, flen);
	}
}

/* ---- the ops a daemon would pass ---- */

static int identify(void *ctx, bool transparent, const struct sockaddr_in *peer,
		    struct sbx_proxy_client *out)
{
	memset(out, 0, sizeof(*out));
	out->sandbox_id = 7;
	snprintf(out->sandbox, sizeof(out->sandbox), "t");
	out->gw4 = htonl(0x7f000002); /* 127.0.0.2: nothing here dials it */
	out->orig_ip4 = htonl(INADDR_LOOPBACK);
	out->orig_port = origin_port;
	return 0;
}

static void decide(void *ctx, const struct sbx_proxy_client *c, const struct sbx_conn_facts *f,
		   struct sbx_proxy_decision *d)
{
	struct sbx_conn_verdict v;

	sbx_conn_decide(policy, f, &v);
	sbx_proxy_decision_from(&v, d);
}

/* The origin and the fake DNS live on 127.0.0.1: public unless a test says otherwise. */
static enum sbx_addr_class classify(void *ctx, const struct sbx_addr *a, uint16_t port)
{
	return allow_internal ? SBX_ADDR_PUBLIC : SBX_ADDR_INTERNAL;
}

static bool name_for_addr(void *ctx, const struct sbx_proxy_client *c, uint32_t ip4, char *name,
			  size_t len)
{
	if (!resolver_gave)
		return false;
	snprintf(name, len, "%s", resolver_gave);
	return true;
}

static void record(void *ctx, const struct sbx_proxy_client *c, uint8_t kind, const char *host,
		   uint16_t port, const struct sbx_proxy_decision *d)
{
	char line[300];

	snprintf(line, sizeof(line), "%s:%s:%s:%s;", sbx_proxy_kind_name(kind), host,
		 d->allow ? "allow" : "block", sbx_reason_name(d->reason));
	pthread_mutex_lock(&seen_lock);
	strncat(verdicts, line, sizeof(verdicts) - strlen(verdicts) - 1);
	pthread_mutex_unlock(&seen_lock);
}

/* ---- helpers ---- */

static int listen_any(int type, uint16_t *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, type, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) ||
	    (type == SOCK_STREAM && listen(fd, 16)) ||
	    getsockname(fd, (struct sockaddr *)&sin, &len))
		abort();
	*port = ntohs(sin.sin_port);
	return fd;
}

static uint16_t free_port(void)
{
	uint16_t port;
	int fd = listen_any(SOCK_STREAM, &port);

	close(fd);
	return port;
}

static int dial(uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	for (int i = 0; i < 50; i++) {
		if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0)
			return fd;
		usleep(20000);
	}
	abort();
}

/* Send @req, read until close or 3 s; returns what came back ("" on reset). */
static const char *exchange(uint16_t port, const void *req, size_t len, int *reset)
{
	static char buf[16384];
	size_t used = 0;
	int fd = dial(port);

	*reset = 0;
	buf[0] = '\0';
	if (len)
		send(fd, req, len, MSG_NOSIGNAL);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 3000) != 1)
			break;
		n = recv(fd, buf + used, sizeof(buf) - 1 - used, 0);
		if (n < 0 && errno == ECONNRESET)
			*reset = 1;
		if (n <= 0)
			break;
		used += (size_t)n;
		buf[used] = '\0';
	}
	close(fd);
	return buf;
}

static void clear_seen(void)
{
	pthread_mutex_lock(&seen_lock);
	origin_seen[0] = verdicts[0] = '\0';
	pthread_mutex_unlock(&seen_lock);
}

static bool seen_has(const char *s)
{
	bool r;

	usleep(100000); /* the origin thread may still be appending */
	pthread_mutex_lock(&seen_lock);
	r = strstr(origin_seen, s) != NULL;
	pthread_mutex_unlock(&seen_lock);
	return r;
}

static bool verdict_has(const char *s)
{
	bool r;

	pthread_mutex_lock(&seen_lock);
	r = strstr(verdicts, s) != NULL;
	if (!r)
		fprintf(stderr, "  verdicts: %s\n", verdicts);
	pthread_mutex_unlock(&seen_lock);
	return r;
}

/* A real ClientHello naming @sni, made by OpenSSL into a memory BIO. */
static size_t client_hello(const char *sni, uint8_t *out, size_t len)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = SSL_new(ctx);
	BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
	int n;

	SSL_set_bio(ssl, rb, wb);
	SSL_set_tlsext_host_name(ssl, sni);
	SSL_set_connect_state(ssl);
	SSL_do_handshake(ssl);
	n = BIO_read(wb, out, (int)len);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	return n > 0 ? (size_t)n : 0;
}

static struct sbx_proxy *proxy;

static void test_setup(void)
{
	static struct sbx_proxy_ops ops = { NULL, identify, decide, classify, name_for_addr,
					    record };
	struct sbx_proxy_config cfg = { 0 };
	struct sbx_rule r = { 0 };
	char err[SBX_ERR_MAX];
	uint16_t dns_port;
	pthread_t t;

	signal(SIGPIPE, SIG_IGN); /* as sbxd does: splice to a reset socket raises it */
	origin_fd = listen_any(SOCK_STREAM, &origin_port);
	odd_fd = listen_any(SOCK_STREAM, &odd_port);
	dns_fd = listen_any(SOCK_DGRAM, &dns_port);
	pthread_create(&t, NULL, origin_main, NULL);
	pthread_detach(t);
	pthread_create(&t, NULL, odd_main, NULL);
	pthread_detach(t);
	pthread_create(&t, NULL, dns_main, NULL);
	pthread_detach(t);

	policy = sbx_policy_new();
	snprintf(r.name, sizeof(r.name), "test-allow");
	r.type = SBX_TYPE_NETWORK;
	CHECK_INT(sbx_resource_list_parse(SBX_TYPE_NETWORK, "allowed.test,other.test", &r.res,
					  &r.nres, err, sizeof(err)),
		  0);
	CHECK_INT(sbx_policy_add(policy, &r), 0);
	sbx_rule_release(&r);
	memset(&r, 0, sizeof(r));
	snprintf(r.name, sizeof(r.name), "test-ported");
	r.type = SBX_TYPE_NETWORK;
	CHECK_INT(sbx_resource_list_parse(SBX_TYPE_NETWORK, "ported.test:443", &r.res, &r.nres,
					  err, sizeof(err)),
		  0);
	CHECK_INT(sbx_policy_add(policy, &r), 0);
	sbx_rule_release(&r);
	CHECK_INT(sbx_policy_compile(policy), 0);

	cfg.bind_ip4 = htonl(INADDR_LOOPBACK);
	cfg.fwd_port = fwd_port = free_port();
	cfg.tproxy_port = tp_port = free_port();
	cfg.workers = 2;
	cfg.limits.sniff_ms = 300;
	cfg.limits.head_ms = 2000;
	cfg.limits.resolve_ms = 800;
	cfg.limits.sessions_per_sandbox = 16;
	cfg.upstreams.n = 1;
	cfg.upstreams.addr[0] = (struct sockaddr_in){ .sin_family = AF_INET,
						      .sin_port = htons(dns_port),
						      .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	CHECK_INT(sbx_proxy_start(&cfg, &ops, &proxy), 0);
	allow_internal = true; /* the fake DNS answers 127.0.0.1 for everything */
}

static void test_forward_get_reaches_origin_in_origin_form(void)
{
	char req[256];
	int reset;
	const char *got;

	clear_seen();
	snprintf(req, sizeof(req),
		 "GET http://allowed.test:%u/x?y=1 HTTP/1.1\r\nHost: allowed.test:%u\r\n"
		 "Proxy-Connection: keep-alive\r\n\r\n",
		 origin_port, origin_port);
	got = exchange(fwd_port, req, strlen(req), &reset);
	CHECK_HAS(got, "origin got");
	CHECK(seen_has("GET /x?y=1 HTTP/1.1\r\n"));
	CHECK(seen_has("Connection: close\r\n"));
	CHECK(!seen_has("Proxy-Connection"));
	CHECK(verdict_has("forward:allowed.test:allow:domain-allowed;"));
}

static void test_forward_denied_gets_403_and_origin_sees_nothing(void)
{
	static const char req[] = "GET http://denied.test/ HTTP/1.1\r\nHost: denied.test\r\n\r\n";
	int reset;
	const char *got;

	clear_seen();
	got = exchange(fwd_port, req, sizeof(req) - 1, &reset);
	CHECK_HAS(got, "HTTP/1.1 403 Blocked by network policy; fix: sbx policy allow network "
		       "denied.test:80\r\n");
	CHECK_HAS(got, "\r\nX-Sbx-Blocked: 1\r\n");
	CHECK_HAS(got, "\r\nX-Sbx-Fix: sbx policy allow network denied.test:80\r\n");
	CHECK_HAS(got, "\r\n\r\nBlocked by network policy: domain denied.test\n"
		       "rule: -\n"
		       "origin: default policy\n"
		       "detail: no matching allow rule - blocked by default deny policy\n"
		       "fix: sbx policy allow network denied.test:80\n");
	CHECK(!seen_has("GET"));
	CHECK(verdict_has("forward:denied.test:block:default-deny;"));
}

static void test_connect_tunnels_after_200(void)
{
	char req[256];
	int fd, n;
	char buf[512];
	struct pollfd p;

	clear_seen();
	snprintf(req, sizeof(req), "CONNECT allowed.test:%u HTTP/1.1\r\nHost: x\r\n\r\n",
		 origin_port);
	fd = dial(fwd_port);
	send(fd, req, strlen(req), 0);
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	CHECK(poll(&p, 1, 3000) == 1);
	n = (int)recv(fd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	CHECK_HAS(buf, "HTTP/1.1 200 Connection established\r\n\r\n");
	send(fd, "PING through the tunnel\n", 24, 0);
	CHECK(poll(&p, 1, 3000) == 1);
	n = (int)recv(fd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	CHECK_HAS(buf, "origin got 24 bytes");
	CHECK(seen_has("PING through the tunnel"));
	CHECK(verdict_has("forward-bypass:allowed.test:allow:domain-allowed;"));
	close(fd);
}

static void test_connect_with_other_sni_is_reset(void)
{
	uint8_t hello[4096];
	size_t hlen = client_hello("denied.test", hello, sizeof(hello));
	char req[256];
	uint8_t all[4400];
	int reset;
	size_t n;

	CHECK(hlen > 100);
	clear_seen();
	n = (size_t)snprintf(req, sizeof(req), "CONNECT allowed.test:%u HTTP/1.1\r\n\r\n",
			     origin_port);
	memcpy(all, req, n);
	memcpy(all + n, hello, hlen);
	exchange(fwd_port, all, n + hlen, &reset);
	CHECK(!seen_has("\x16\x03"));
	CHECK(verdict_has(":allowed.test:block:sni-mismatch;"));
}

static void test_connect_matching_sni_passes(void)
{
	uint8_t hello[4096], all[4400];
	size_t hlen = client_hello("allowed.test", hello, sizeof(hello)), n;
	char req[256];
	int reset;
	const char *got;

	clear_seen();
	n = (size_t)snprintf(req, sizeof(req), "CONNECT allowed.test:%u HTTP/1.1\r\n\r\n",
			     origin_port);
	memcpy(all, req, n);
	memcpy(all + n, hello, hlen);
	got = exchange(fwd_port, all, n + hlen, &reset);
	CHECK_HAS(got, "origin got");
}

/* curl shows only the status of a refused CONNECT: the fix is in it, and in a header */
static void test_connect_denied_host_gets_403_naming_the_fix(void)
{
	static const char req[] = "CONNECT denied.test:443 HTTP/1.1\r\n\r\n";
	int reset;
	const char *got;

	clear_seen();
	got = exchange(fwd_port, req, sizeof(req) - 1, &reset);
	CHECK_HAS(got, "HTTP/1.1 403 Blocked by network policy; fix: sbx policy allow network "
		       "denied.test:443\r\n");
	CHECK_HAS(got, "\r\nX-Sbx-Fix: sbx policy allow network denied.test:443\r\n");
	CHECK_HAS(got, "\nfix: sbx policy allow network denied.test:443\n");
}

/* The allowed port of a host is named, with the rule for the port asked for. */
static void test_connect_on_another_port_says_which_port_is_allowed(void)
{
	static const char req[] = "CONNECT ported.test:80 HTTP/1.1\r\n\r\n";
	int reset;
	const char *got;

	clear_seen();
	got = exchange(fwd_port, req, sizeof(req) - 1, &reset);
	CHECK_HAS(got, "\ndetail: ported.test is allowed on port 443 (test-ported), not on port "
		       "80\n");
	CHECK_HAS(got, "\r\nX-Sbx-Fix: sbx policy allow network ported.test:80\r\n");
}

static void test_garbage_to_forward_proxy_gets_400(void)
{
	static const char req[] = "\x01\x02garbage\r\n\r\n";
	int reset;

	CHECK_HAS(exchange(fwd_port, req, sizeof(req) - 1, &reset), "400 Bad Request");
	CHECK_HAS(exchange(fwd_port, "GET / HTTP/1.1\r\nHost: a.b\r\n\r\n", 29, &reset),
		  "400 Bad Request");
}

static void test_transparent_tls_uses_sni(void)
{
	uint8_t hello[4096];
	size_t hlen = client_hello("allowed.test", hello, sizeof(hello));
	int reset;

	clear_seen();
	CHECK_HAS(exchange(tp_port, hello, hlen, &reset), "origin got");
	CHECK(verdict_has("transparent:allowed.test:allow:domain-allowed;"));
	clear_seen();
	hlen = client_hello("denied.test", hello, sizeof(hello));
	CHECK_STR(exchange(tp_port, hello, hlen, &reset), "");
	CHECK(!seen_has("\x16\x03"));
	CHECK(verdict_has("transparent:denied.test:block:default-deny;"));
}

static void test_transparent_http_uses_host(void)
{
	static const char ok[] = "GET /t HTTP/1.1\r\nHost: allowed.test\r\n\r\n";
	static const char no[] = "GET /t HTTP/1.1\r\nHost: denied.test\r\n\r\n";
	int reset;

	clear_seen();
	CHECK_HAS(exchange(tp_port, ok, sizeof(ok) - 1, &reset), "origin got");
	CHECK(seen_has("GET /t HTTP/1.1\r\nHost: allowed.test\r\n"));
	CHECK(seen_has("Connection: close\r\n\r\n")); /* one request per decided connection */
	clear_seen();
	CHECK_HAS(exchange(tp_port, no, sizeof(no) - 1, &reset),
		  "Blocked by network policy: domain denied.test");
	CHECK(!seen_has("denied.test"));
}

static void test_websocket_upgrade_keeps_its_connection_header(void)
{
	static const char req[] = "GET /ws HTTP/1.1\r\nHost: allowed.test\r\nConnection: Upgrade\r\n"
				  "Upgrade: websocket\r\n\r\n";
	int reset;

	clear_seen();
	CHECK_HAS(exchange(tp_port, req, sizeof(req) - 1, &reset), "origin got");
	CHECK(seen_has("Connection: Upgrade\r\nUpgrade: websocket\r\n"));
	CHECK(!seen_has("Connection: close"));
}

static void test_transparent_raw_tcp_needs_an_address_rule(void)
{
	int reset;

	clear_seen();
	/* not TLS, not HTTP: judged on the address, which no rule names */
	exchange(tp_port, "SSH-2.0-OpenSSH_9.2\r\n", 21, &reset);
	CHECK(!seen_has("SSH-2.0"));
	CHECK(verdict_has("network:127.0.0.1:block:default-deny;"));
}

static void test_internal_address_refused_without_address_rule(void)
{
	static const char req[] = "GET http://other.test/ HTTP/1.1\r\nHost: other.test\r\n\r\n";
	int reset;
	const char *got;

	clear_seen();
	allow_internal = false;
	got = exchange(fwd_port, req, sizeof(req) - 1, &reset);
	allow_internal = true;
	CHECK_HAS(got, "HTTP/1.1 403 Blocked by network policy; fix: sbx policy allow network "
		       "127.0.0.1:");
	CHECK_HAS(got, "detail: other.test resolves to a private address 127.0.0.1: refused by "
		       "the private-address rule");
	CHECK(!strstr(got, "test-allow")); /* the private-address rule decided, not the allow */
	CHECK(verdict_has("forward:other.test:block:private-ip;"));
}

/* Connect to the transparent proxy and keep the socket (for silence and stalls). */
static int tp_open(void)
{
	return dial(tp_port);
}

/* Read what comes back within @ms; "" and *reset on a reset. */
static const char *read_for(int fd, int ms, int *reset)
{
	static char buf[8192];
	size_t used = 0;

	*reset = 0;
	buf[0] = '\0';
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, ms) != 1)
			break;
		n = recv(fd, buf + used, sizeof(buf) - 1 - used, 0);
		if (n < 0 && errno == ECONNRESET)
			*reset = 1;
		if (n <= 0)
			break;
		used += (size_t)n;
		buf[used] = '\0';
	}
	return buf;
}

static void test_connect_silence_then_other_sni_is_reset(void)
{
	uint8_t hello[4096];
	size_t hlen = client_hello("denied.test", hello, sizeof(hello));
	char req[256];
	int fd, reset;

	clear_seen();
	snprintf(req, sizeof(req), "CONNECT allowed.test:%u HTTP/1.1\r\n\r\n", origin_port);
	fd = dial(fwd_port);
	send(fd, req, strlen(req), 0);
	CHECK_HAS(read_for(fd, 500, &reset), "200 Connection established");
	usleep(2500 * 1000); /* past every timer the proxy has for a first flight */
	send(fd, hello, hlen, MSG_NOSIGNAL);
	read_for(fd, 1000, &reset);
	close(fd);
	CHECK(!seen_has("\x16\x03"));
	CHECK(verdict_has("forward-bypass:allowed.test:block:sni-mismatch;"));
}

static void test_transparent_silence_then_other_sni_is_reset(void)
{
	uint8_t hello[4096];
	size_t hlen = client_hello("denied.test", hello, sizeof(hello));
	int fd, reset;

	clear_seen();
	resolver_gave = "allowed.test"; /* the app dialled the address sbx gave for allowed.test */
	fd = tp_open();
	usleep(2500 * 1000); /* the proxy dials on silence (servers speak first) */
	send(fd, hello, hlen, MSG_NOSIGNAL);
	read_for(fd, 1000, &reset);
	close(fd);
	resolver_gave = NULL;
	CHECK(!seen_has("\x16\x03"));
	CHECK(verdict_has("transparent:allowed.test:block:sni-mismatch;"));
}

static void test_transparent_silence_then_raw_bytes_relay(void)
{
	int fd, reset;

	clear_seen();
	resolver_gave = "allowed.test";
	fd = tp_open();
	usleep(600 * 1000);
	send(fd, "HELLO raw\n", 10, MSG_NOSIGNAL);
	CHECK_HAS(read_for(fd, 1500, &reset), "origin got 10 bytes");
	close(fd);
	resolver_gave = NULL;
	CHECK(seen_has("HELLO raw"));
	CHECK(verdict_has("network:allowed.test:allow:domain-allowed;"));
}

static void test_upgrade_without_101_carries_no_second_request(void)
{
	static const char up[] = "GET /ws HTTP/1.1\r\nHost: allowed.test\r\nConnection: Upgrade\r\n"
				 "Upgrade: websocket\r\n\r\n";
	static const char second[] = "GET /x HTTP/1.1\r\nHost: denied.test\r\n\r\n";
	int fd, reset;

	clear_seen();
	fd = tp_open();
	send(fd, up, sizeof(up) - 1, MSG_NOSIGNAL);
	CHECK_HAS(read_for(fd, 250, &reset), "origin got");
	send(fd, second, sizeof(second) - 1, MSG_NOSIGNAL);
	read_for(fd, 500, &reset);
	close(fd);
	CHECK(seen_has("Upgrade: websocket"));
	CHECK(!seen_has("denied.test"));
}

static void test_pipelined_second_request_never_reaches_origin(void)
{
	static const char two[] = "GET /a HTTP/1.1\r\nHost: allowed.test\r\n\r\n"
				  "GET /b HTTP/1.1\r\nHost: denied.test\r\n\r\n";
	char fwd[512];
	int reset;

	clear_seen();
	CHECK_HAS(exchange(tp_port, two, sizeof(two) - 1, &reset), "origin got");
	CHECK(!seen_has("denied.test"));
	clear_seen();
	snprintf(fwd, sizeof(fwd),
		 "GET http://allowed.test:%u/a HTTP/1.1\r\nHost: allowed.test:%u\r\n\r\n"
		 "GET http://denied.test:%u/b HTTP/1.1\r\nHost: denied.test:%u\r\n\r\n",
		 origin_port, origin_port, origin_port, origin_port);
	CHECK_HAS(exchange(fwd_port, fwd, strlen(fwd), &reset), "origin got");
	CHECK(!seen_has("denied.test"));
}

static void test_malformed_tls_is_refused_not_relayed(void)
{
	static const uint8_t bad[] = { 0x16, 0x03, 0x01, 0x00, 0x08, 0x01, 0x00, 0x00,
				       0x99, 0xff, 0xff, 0xff, 0xff };
	int reset;

	clear_seen();
	resolver_gave = "allowed.test";
	exchange(tp_port, bad, sizeof(bad), &reset);
	resolver_gave = NULL;
	CHECK(!seen_has("\x16\x03"));
}

static void test_head_deadline_during_lookup_does_not_crash(void)
{
	uint8_t hello[4096];
	size_t hlen = client_hello("slow.test", hello, sizeof(hello));
	struct sbx_rule r = { 0 };
	char err[SBX_ERR_MAX];
	int fds[6], reset;

	/* slow.test is allowed but its upstream never answers */
	snprintf(r.name, sizeof(r.name), "slow");
	r.type = SBX_TYPE_NETWORK;
	CHECK_INT(sbx_resource_list_parse(SBX_TYPE_NETWORK, "slow.test", &r.res, &r.nres, err,
					  sizeof(err)),
		  0);
	CHECK_INT(sbx_policy_add(policy, &r), 0);
	sbx_rule_release(&r);
	CHECK_INT(sbx_policy_compile(policy), 0);
	for (int i = 0; i < 6; i++) {
		fds[i] = tp_open();
		send(fds[i], hello, hlen, MSG_NOSIGNAL);
	}
	usleep(2500 * 1000); /* past the head and the lookup deadlines */
	for (int i = 0; i < 6; i++)
		close(fds[i]);
	clear_seen();
	CHECK_HAS(exchange(tp_port, "GET /t HTTP/1.1\r\nHost: allowed.test\r\n\r\n", 39,
			   &reset),
		  "origin got");
}

static void test_one_sandbox_holds_at_most_its_share(void)
{
	int fds[16], extra, reset;

	for (int i = 0; i < 16; i++)
		fds[i] = dial(fwd_port);
	usleep(200 * 1000);
	extra = dial(fwd_port);
	read_for(extra, 500, &reset);
	CHECK(reset);
	close(extra);
	for (int i = 0; i < 16; i++)
		close(fds[i]);
	usleep(200 * 1000);
	clear_seen();
	CHECK_HAS(exchange(tp_port, "GET /t HTTP/1.1\r\nHost: allowed.test\r\n\r\n", 39,
			   &reset),
		  "origin got");
}

/* CPU time of the whole process (the proxy's workers are threads of it), in ms. */
static double cpu_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* A CONNECT tunnel to the odd origin, its first bytes sent; the socket is kept. */
static int odd_tunnel(const char *first)
{
	char req[128];
	int fd, reset;

	snprintf(req, sizeof(req), "CONNECT allowed.test:%u HTTP/1.1\r\n\r\n", odd_port);
	fd = dial(fwd_port);
	send(fd, req, strlen(req), MSG_NOSIGNAL);
	CHECK_HAS(read_for(fd, 300, &reset), "200 Connection established");
	send(fd, first, strlen(first), MSG_NOSIGNAL);
	return fd;
}

static void test_upstream_reset_after_its_fin_does_not_spin(void)
{
	int fd, reset;
	double t0;

	odd_mode = ODD_RESET;
	fd = odd_tunnel("PING\n");
	read_for(fd, 500, &reset); /* the origin finishes, then resets */
	usleep(200 * 1000);
	t0 = cpu_ms();
	usleep(600 * 1000);
	CHECK(cpu_ms() - t0 < 150);
	close(fd);
}

static void test_bytes_of_a_failed_relay_reach_no_other_session(void)
{
	char req[256];
	int reset;

	odd_mode = ODD_RESET;
	/* client bytes for an upstream that reset; both workers, most likely */
	for (int i = 0; i < 4; i++) {
		int fd = odd_tunnel("PING\n");

		read_for(fd, 500, &reset);
		usleep(200 * 1000);
		send(fd, "SMUGGLED\n", 9, MSG_NOSIGNAL);
		read_for(fd, 200, &reset);
		close(fd);
	}
	clear_seen();
	snprintf(req, sizeof(req), "CONNECT allowed.test:%u HTTP/1.1\r\n\r\nPING\n", origin_port);
	for (int i = 0; i < 6; i++) {
		int fd = dial(fwd_port);

		send(fd, req, strlen(req), MSG_NOSIGNAL);
		usleep(100 * 1000);
		send(fd, "MORE\n", 5, MSG_NOSIGNAL); /* spliced through the worker's pipe */
		CHECK_HAS(read_for(fd, 1000, &reset), "origin got 5 bytes");
		close(fd);
	}
	CHECK(seen_has("MORE"));
	CHECK(!seen_has("SMUGG"));
}

static void test_short_upgrade_status_does_not_spin(void)
{
	char req[256];
	int fd, reset;
	double t0;

	odd_mode = ODD_SLOW_STATUS;
	snprintf(req, sizeof(req),
		 "GET http://allowed.test:%u/ws HTTP/1.1\r\nHost: allowed.test:%u\r\n"
		 "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
		 odd_port, odd_port);
	fd = dial(fwd_port);
	send(fd, req, strlen(req), MSG_NOSIGNAL);
	usleep(300 * 1000);
	t0 = cpu_ms();
	usleep(600 * 1000);
	CHECK(cpu_ms() - t0 < 150);
	CHECK_HAS(read_for(fd, 1500, &reset), "HTTP/1.1"); /* what came is relayed at the end */
	close(fd);
}

static void test_blank_lines_before_a_request_are_not_raw(void)
{
	static const char req[] = "\r\nGET /x HTTP/1.1\r\nHost: denied.test\r\n\r\n";
	int reset;

	clear_seen();
	resolver_gave = "allowed.test";
	exchange(tp_port, req, sizeof(req) - 1, &reset);
	resolver_gave = NULL;
	CHECK(!seen_has("denied.test"));
	CHECK(verdict_has(":block:"));
	/* a server skips blank lines before a request line (RFC 9112 2.2): so do we, waiting */
	clear_seen();
	resolver_gave = "allowed.test";
	exchange(tp_port, "\r\n", 2, &reset);
	resolver_gave = NULL;
	CHECK(verdict_has(":block:unparseable-stream;"));
}

/* A request line sent in two parts, @pause_ms apart, on an address given for allowed.test. */
static void split_request(const char *first, int pause_ms)
{
	static const char rest[] = " HTTP/1.1\r\nHost: denied.test\r\n\r\n";
	int fd, reset;

	resolver_gave = "allowed.test";
	fd = tp_open();
	send(fd, first, strlen(first), MSG_NOSIGNAL);
	usleep((useconds_t)pause_ms * 1000);
	send(fd, rest, sizeof(rest) - 1, MSG_NOSIGNAL);
	read_for(fd, 1000, &reset);
	close(fd);
	resolver_gave = NULL;
}

static void test_request_line_in_parts_is_not_raw(void)
{
	clear_seen();
	split_request("GET /caf\xc3\xa9", 100); /* servers take such bytes in a path */
	CHECK(!seen_has("denied.test"));
	CHECK(!verdict_has("network:allowed.test:allow"));
	clear_seen();
	split_request("GET /x", 2300); /* past the head deadline */
	CHECK(!seen_has("denied.test"));
	CHECK(verdict_has(":block:unparseable-stream;"));
}

static void test_hello_of_an_odd_record_version_is_not_raw(void)
{
	uint8_t hello[4096];
	size_t hlen = client_hello("denied.test", hello, sizeof(hello));
	int reset;

	/* OpenSSL checks only the first record's major version, Go only that it is < 0x1000 */
	CHECK(hlen > 100);
	hello[2] = 0x05;
	clear_seen();
	resolver_gave = "allowed.test";
	exchange(tp_port, hello, hlen, &reset);
	resolver_gave = NULL;
	CHECK(!seen_has("\x16\x03"));
	CHECK(verdict_has(":block:"));
}

static void test_h2c_upgrade_is_one_request(void)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: allowed.test\r\n"
				  "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
				  "HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n";
	int reset;

	/* after a 101 to h2c, each HTTP/2 stream names its own :authority */
	clear_seen();
	CHECK_HAS(exchange(tp_port, req, sizeof(req) - 1, &reset), "origin got");
	CHECK(seen_has("Connection: close\r\n\r\n"));
	CHECK(!seen_has("Connection: Upgrade"));
}

static void test_upgrade_offering_websocket_and_h2c_is_one_request(void)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: allowed.test\r\n"
				  "Connection: Upgrade\r\nUpgrade: websocket, h2c\r\n\r\n";
	int reset;

	/* the server picks among the offers: it could pick h2c */
	clear_seen();
	CHECK_HAS(exchange(tp_port, req, sizeof(req) - 1, &reset), "origin got");
	CHECK(seen_has("Connection: close\r\n\r\n"));
	CHECK(!seen_has("Connection: Upgrade"));
}

static void test_sslv2_hello_is_tls_without_a_name(void)
{
	/* record length, CLIENT-HELLO, version 3.1, cipher specs, session id, challenge */
	static const uint8_t v2[] = { 0x80, 0x1c, 0x01, 0x03, 0x01, 0x00, 0x03, 0x00, 0x00,
				      0x00, 0x10, 0x00, 0x00, 0x2f, 0x11, 0x22, 0x33, 0x44,
				      0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
				      0xee, 0xff, 0x00 };
	int reset;

	/* no server name, on an address opened for one: refused, not raw */
	clear_seen();
	resolver_gave = "allowed.test";
	exchange(tp_port, v2, sizeof(v2), &reset);
	resolver_gave = NULL;
	CHECK(!seen_has("\x80\x1c"));
	CHECK(verdict_has(":block:"));
}

static void test_chunked_body_ends_the_one_request(void)
{
	static const char tp[] = "POST /up HTTP/1.1\r\nHost: allowed.test\r\n"
				 "Transfer-Encoding: chunked\r\n\r\n"
				 "4\r\nbody\r\n0\r\n\r\n"
				 "GET /b HTTP/1.1\r\nHost: denied.test\r\n\r\n";
	int fd, reset;

	clear_seen();
	CHECK_HAS(exchange(tp_port, tp, sizeof(tp) - 1, &reset), "origin got");
	CHECK(seen_has("4\r\nbody\r\n0\r\n\r\n"));
	CHECK(!seen_has("denied.test"));
	/* the same with the body and the smuggled request arriving later, in pieces */
	clear_seen();
	fd = tp_open();
	send(fd, tp, 80, MSG_NOSIGNAL);
	usleep(100 * 1000);
	send(fd, tp + 80, 10, MSG_NOSIGNAL);
	usleep(100 * 1000);
	send(fd, tp + 90, sizeof(tp) - 1 - 90, MSG_NOSIGNAL);
	read_for(fd, 800, &reset);
	close(fd);
	CHECK(seen_has("body"));
	CHECK(!seen_has("denied.test"));
}

static void test_teardown(void)
{
	sbx_proxy_stop(proxy);
	sbx_policy_free(policy);
	shutdown(origin_fd, SHUT_RDWR);
	close(origin_fd);
	shutdown(dns_fd, SHUT_RDWR);
	close(dns_fd);
	shutdown(odd_fd, SHUT_RDWR);
	close(odd_fd);
}

static const struct test tests[] = {
	T(test_setup),
	T(test_forward_get_reaches_origin_in_origin_form),
	T(test_forward_denied_gets_403_and_origin_sees_nothing),
	T(test_connect_tunnels_after_200),
	T(test_connect_with_other_sni_is_reset),
	T(test_connect_matching_sni_passes),
	T(test_connect_denied_host_gets_403_naming_the_fix),
	T(test_connect_on_another_port_says_which_port_is_allowed),
	T(test_garbage_to_forward_proxy_gets_400),
	T(test_transparent_tls_uses_sni),
	T(test_transparent_http_uses_host),
	T(test_websocket_upgrade_keeps_its_connection_header),
	T(test_transparent_raw_tcp_needs_an_address_rule),
	T(test_internal_address_refused_without_address_rule),
	T(test_connect_silence_then_other_sni_is_reset),
	T(test_transparent_silence_then_other_sni_is_reset),
	T(test_transparent_silence_then_raw_bytes_relay),
	T(test_upgrade_without_101_carries_no_second_request),
	T(test_pipelined_second_request_never_reaches_origin),
	T(test_malformed_tls_is_refused_not_relayed),
	T(test_head_deadline_during_lookup_does_not_crash),
	T(test_one_sandbox_holds_at_most_its_share),
	T(test_upstream_reset_after_its_fin_does_not_spin),
	T(test_bytes_of_a_failed_relay_reach_no_other_session),
	T(test_short_upgrade_status_does_not_spin),
	T(test_blank_lines_before_a_request_are_not_raw),
	T(test_request_line_in_parts_is_not_raw),
	T(test_hello_of_an_odd_record_version_is_not_raw),
	T(test_h2c_upgrade_is_one_request),
	T(test_upgrade_offering_websocket_and_h2c_is_one_request),
	T(test_sslv2_hello_is_tls_without_a_name),
	T(test_chunked_body_ends_the_one_request),
	T(test_teardown),
};

TEST_MAIN("proxy", tests)
