// SPDX-License-Identifier: MIT
/*
 * The egress proxy; see proxy.h. A session is a client/upstream pair moving
 * through HEAD (read what decides it) -> RESOLVE -> DIAL -> [SNI check for
 * CONNECT] -> RELAY. Every connection is decided on a host name or an
 * address before any byte reaches upstream, and the upstream dialled is the
 * address the proxy resolved and checked itself, never one the client chose.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sbx/bpf_abi.h>
#include <sbx/policy.h>
#include "ev.h"
#include "log.h"
#include "proxy.h"
#include "sniff.h"

#define PIPE_CHUNK 65536
#define HEAD_BUF SBX_SNIFF_MAX

enum sess_kind { SESS_FORWARD, SESS_TRANSPARENT };

enum sess_state {
	ST_HEAD,    /* reading what the decision needs */
	ST_RESOLVE, /* waiting for upstream DNS */
	ST_DIAL,    /* non-blocking connect in progress */
	ST_SNI,	    /* CONNECT answered; reading the ClientHello to compare names */
	ST_RELAY,   /* splicing both ways */
};

struct dir {
	int pipe[2];
	size_t queued; /* bytes in the pipe */
	bool eof;      /* source finished */
	bool shut;     /* destination shut for writing */
};

struct worker;

struct sess {
	struct worker *w;
	enum sess_kind kind;
	enum sess_state st;
	int cfd, ufd;
	long timer;
	long resolve;
	struct sbx_proxy_client client;
	uint8_t proxy_kind; /* for the verdict: forward, forward-bypass, transparent, network */
	char host[SBX_HOST_BUF];
	uint16_t port;
	bool host_service; /* dial 127.0.0.1:port */
	bool is_connect;
	bool http; /* the client speaks HTTP to us: refusals get a 403 page */
	struct sbx_proxy_decision allowed; /* counted once the address checks pass too */
	struct sess *prev, *next; /* the worker's sessions */
	uint8_t in[HEAD_BUF]; /* client bytes read before relaying */
	size_t in_len;
	char *out; /* bytes to send upstream before relaying (head rewrite or replay) */
	size_t out_len, out_off;
	struct dir cu, uc; /* client->upstream, upstream->client */
	uint32_t cmask, umask; /* what epoll watches now, so unchanged masks cost no syscall */
};

struct worker {
	struct sbx_proxy *p;
	pthread_t thread;
	struct sbx_ev *ev;
	struct sbx_resolver *res;
	int fwd_fd, tp_fd, wake[2];
	unsigned nsess;
	struct sess *sessions;
};

struct sbx_proxy {
	struct sbx_proxy_config cfg;
	struct sbx_proxy_ops ops;
	int nworkers;
	struct worker w[SBX_PROXY_WORKERS_MAX];
};

/* ---- session lifecycle ------------------------------------------------- */

static void close_fd(struct sess *s, int *fd)
{
	if (*fd < 0)
		return;
	sbx_ev_del(s->w->ev, *fd);
	close(*fd);
	*fd = -1;
}

static void sess_free(struct sess *s)
{
	if (s->timer > 0)
		sbx_ev_timer_cancel(s->w->ev, s->timer);
	if (s->resolve > 0)
		sbx_resolve_cancel(s->w->res, s->resolve);
	close_fd(s, &s->cfd);
	close_fd(s, &s->ufd);
	for (int i = 0; i < 2; i++) {
		if (s->cu.pipe[i] >= 0)
			close(s->cu.pipe[i]);
		if (s->uc.pipe[i] >= 0)
			close(s->uc.pipe[i]);
	}
	free(s->out);
	if (s->prev)
		s->prev->next = s->next;
	else
		s->w->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->w->nsess--;
	free(s);
}

/* Close the client with a TCP reset: what a blocked TLS or raw connection gets. */
static void sess_reset(struct sess *s)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (s->cfd >= 0)
		setsockopt(s->cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	sess_free(s);
}

/* Best effort: the client is about to be closed anyway. */
static void send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

static void http_reply(struct sess *s, int code, const char *status, const char *body)
{
	char head[512];
	int n;

	/* a blocking send of a small page: the socket buffer takes it */
	fcntl(s->cfd, F_SETFL, fcntl(s->cfd, F_GETFL) & ~O_NONBLOCK);
	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
		     "Content-Length: %zu\r\nConnection: close\r\nX-Sbx-Blocked: %s\r\n\r\n",
		     code, status, strlen(body), code == 403 ? "1" : "0");
	send_all(s->cfd, head, (size_t)n);
	send_all(s->cfd, body, strlen(body));
	shutdown(s->cfd, SHUT_WR);
	sess_free(s);
}

static void blocked_page(struct sess *s, const struct sbx_proxy_decision *d)
{
	char body[1024];

	snprintf(body, sizeof(body),
		 "Blocked by network policy: domain %s\n"
		 "rule: %s\n"
		 "origin: %s\n"
		 "detail: %s\n",
		 s->host, d->rule[0] ? d->rule : "-", d->origin, d->detail);
	http_reply(s, 403, "Forbidden", body);
}

static void record(struct sess *s, const struct sbx_proxy_decision *d)
{
	const struct sbx_proxy_ops *ops = &s->w->p->ops;

	ops->record(ops->ctx, &s->client, s->proxy_kind, s->host, s->port, d);
}

/* Refuse: 403 for HTTP the proxy can speak to, a reset for TLS and raw TCP. */
static void refuse(struct sess *s, const struct sbx_proxy_decision *d)
{
	pr_debug("blocked %s %s:%u: %s\n", s->client.sandbox, s->host, s->port, d->detail);
	record(s, d);
	if (s->http)
		blocked_page(s, d);
	else
		sess_reset(s);
}

/* ---- relay --------------------------------------------------------------- */

static void sess_io(struct sbx_ev *ev, int fd, uint32_t events, void *arg);

/* Watch @fd (the client or the upstream socket) for @mask; registers it the first time. */
static void watch(struct sess *s, int fd, uint32_t mask)
{
	uint32_t *cur = fd == s->cfd ? &s->cmask : &s->umask;

	if (*cur == mask)
		return;
	sbx_ev_mod(s->w->ev, fd, mask);
	*cur = mask;
}

static uint32_t want_events(struct sess *s, int fd)
{
	uint32_t e = 0;

	if (fd == s->cfd) {
		if (!s->cu.eof && s->cu.queued < PIPE_CHUNK)
			e |= EPOLLIN;
		if (s->uc.queued)
			e |= EPOLLOUT;
	} else {
		if (!s->uc.eof && s->uc.queued < PIPE_CHUNK)
			e |= EPOLLIN;
		if (s->cu.queued)
			e |= EPOLLOUT;
	}
	return e | EPOLLRDHUP;
}

/* Move what is available from @src through @d to @dst; -1 on a hard error. */
static int pump(struct dir *d, int src, int dst)
{
	for (int rounds = 0; rounds < 16; rounds++) {
		bool progress = false;

		if (!d->eof && d->queued < PIPE_CHUNK) {
			ssize_t n = splice(src, NULL, d->pipe[1], NULL, PIPE_CHUNK - d->queued,
					   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

			if (n > 0) {
				d->queued += (size_t)n;
				progress = true;
			} else if (n == 0) {
				d->eof = true;
			} else if (errno != EAGAIN && errno != EINTR) {
				if (errno == ECONNRESET)
					d->eof = true;
				else
					return -1;
			}
		}
		if (d->queued) {
			ssize_t n = splice(d->pipe[0], NULL, dst, NULL, d->queued,
					   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

			if (n > 0) {
				d->queued -= (size_t)n;
				progress = true;
			} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				return -1;
			}
		}
		if (d->eof && !d->queued && !d->shut) {
			shutdown(dst, SHUT_WR);
			d->shut = true;
		}
		if (!progress)
			break;
	}
	return 0;
}

static void relay(struct sess *s)
{
	if (pump(&s->cu, s->cfd, s->ufd) || pump(&s->uc, s->ufd, s->cfd)) {
		sess_reset(s);
		return;
	}
	if (s->cu.shut && s->uc.shut) {
		sess_free(s);
		return;
	}
	watch(s, s->cfd, want_events(s, s->cfd));
	watch(s, s->ufd, want_events(s, s->ufd));
}

static void start_relay(struct sess *s)
{
	if (pipe2(s->cu.pipe, O_NONBLOCK | O_CLOEXEC) || pipe2(s->uc.pipe, O_NONBLOCK | O_CLOEXEC)) {
		pr_warn("proxy: pipe: %s\n", strerror(errno));
		sess_reset(s);
		return;
	}
	s->st = ST_RELAY;
	if (s->timer > 0)
		sbx_ev_timer_cancel(s->w->ev, s->timer);
	s->timer = 0;
	watch(s, s->cfd, want_events(s, s->cfd));
	relay(s);
}

/* Send s->out to upstream (blocking briefly is not allowed: use the event loop). */
static void flush_out(struct sess *s)
{
	while (s->out_off < s->out_len) {
		ssize_t n = send(s->ufd, s->out + s->out_off, s->out_len - s->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			watch(s, s->ufd, EPOLLOUT);
			return;
		}
		if (n < 0) {
			sess_reset(s);
			return;
		}
		s->out_off += (size_t)n;
	}
	free(s->out);
	s->out = NULL;
	start_relay(s);
}

static int set_out(struct sess *s, const void *data, size_t len)
{
	free(s->out);
	s->out = malloc(len ? len : 1);
	if (!s->out)
		return -ENOMEM;
	memcpy(s->out, data, len);
	s->out_len = len;
	s->out_off = 0;
	return 0;
}

/* ---- after the upstream connected -------------------------------------- */

static void sni_check(struct sess *s);
static void sni_timeout(struct sbx_ev *ev, void *arg);

static void on_connected(struct sess *s)
{
	if (s->is_connect) {
		static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
		size_t extra = s->in_len;

		send_all(s->cfd, ok, sizeof(ok) - 1);
		s->st = ST_SNI;
		watch(s, s->cfd, EPOLLIN | EPOLLRDHUP);
		watch(s, s->ufd, 0);
		if (extra) {
			sni_check(s);
			return;
		}
		s->timer = sbx_ev_timer(s->w->ev, SBX_PROXY_SNIFF_MS, sni_timeout, s);
		return;
	}
	if (s->in_len && !s->out && set_out(s, s->in, s->in_len)) {
		sess_reset(s);
		return;
	}
	if (s->out)
		flush_out(s);
	else
		start_relay(s);
}

static void sni_timeout(struct sbx_ev *ev, void *arg)
{
	struct sess *s = arg;

	/* a client that speaks only after the server (SSH over CONNECT) sends no hello */
	s->timer = 0;
	if (s->in_len == 0) {
		start_relay(s);
		return;
	}
	/* a ClientHello left unfinished could hide its name until after the check */
	if (sbx_sniff_is_tls(s->in, s->in_len) != 0) {
		sess_reset(s);
		return;
	}
	if (set_out(s, s->in, s->in_len)) {
		sess_reset(s);
		return;
	}
	watch(s, s->cfd, 0);
	flush_out(s);
}

/*
 * CONNECT answered: the first bytes of a TLS client name the server it
 * wants. A name other than the one CONNECT asked for is refused
 * (sni-mismatch), so an allowed CONNECT cannot carry another host's TLS.
 */
static void sni_check(struct sess *s)
{
	struct sbx_tls_hello hello;
	int tls = sbx_sniff_is_tls(s->in, s->in_len), r;

	if (tls == -EAGAIN)
		return;
	if (tls == 1) {
		r = sbx_sniff_tls_hello(s->in, s->in_len, &hello);
		if (r == -EAGAIN && s->in_len < sizeof(s->in))
			return;
		if (r == 0 && strcmp(hello.sni, s->host) != 0 && !s->host_service) {
			struct sbx_proxy_decision d = { .allow = false,
							.reason = SBX_REASON_SNI_MISMATCH };
			char sni[SBX_HOST_BUF];

			snprintf(sni, sizeof(sni), "%s", hello.sni);
			snprintf(d.origin, sizeof(d.origin), "proxy");
			snprintf(d.detail, sizeof(d.detail),
				 "TLS server name %s does not match CONNECT %s", sni, s->host);
			pr_info("proxy: %s: %s\n", s->client.sandbox, d.detail);
			record(s, &d);
			sess_reset(s);
			return;
		}
	}
	if (set_out(s, s->in, s->in_len)) {
		sess_reset(s);
		return;
	}
	if (s->timer > 0)
		sbx_ev_timer_cancel(s->w->ev, s->timer);
	s->timer = 0;
	watch(s, s->cfd, 0);
	flush_out(s);
}

/* ---- dialing ------------------------------------------------------------ */

static void dial_timeout(struct sbx_ev *ev, void *arg)
{
	struct sess *s = arg;

	s->timer = 0;
	pr_debug("proxy: connect to %s:%u timed out\n", s->host, s->port);
	if (s->kind == SESS_FORWARD && s->st == ST_DIAL)
		http_reply(s, 504, "Gateway Timeout", "upstream connect timed out\n");
	else
		sess_reset(s);
}

static void dial_failed(struct sess *s, int err)
{
	char body[256];

	pr_debug("proxy: connect to %s:%u: %s\n", s->host, s->port, strerror(err));
	if (s->kind == SESS_FORWARD) {
		snprintf(body, sizeof(body), "cannot reach %s:%u: %s\n", s->host, s->port,
			 strerror(err));
		http_reply(s, 502, "Bad Gateway", body);
	} else {
		sess_reset(s);
	}
}

static void dial(struct sess *s, uint32_t ip4)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(s->port),
				   .sin_addr.s_addr = ip4 };
	int one = 1;

	s->ufd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->ufd < 0) {
		dial_failed(s, errno);
		return;
	}
	setsockopt(s->ufd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	s->st = ST_DIAL;
	if (connect(s->ufd, (struct sockaddr *)&sin, sizeof(sin)) && errno != EINPROGRESS) {
		dial_failed(s, errno);
		return;
	}
	if (s->timer > 0)
		sbx_ev_timer_cancel(s->w->ev, s->timer);
	s->timer = sbx_ev_timer(s->w->ev, SBX_PROXY_DIAL_MS, dial_timeout, s);
	watch(s, s->cfd, 0); /* nothing more from the client until relaying */
	sbx_ev_add(s->w->ev, s->ufd, EPOLLOUT, sess_io, s);
	s->umask = EPOLLOUT;
}

/* The address to dial is known: refuse internal ones no address rule names. */
static void checked_dial(struct sess *s, uint32_t ip4)
{
	const struct sbx_proxy_ops *ops = &s->w->p->ops;
	struct sbx_proxy_decision d = { 0 };

	if (s->host_service) {
		record(s, &s->allowed);
		dial(s, htonl(INADDR_LOOPBACK));
		return;
	}
	if (sbx_ip4_is_internal(ip4) && !ops->addr_allowed(ops->ctx, &s->client, ip4, s->port, &d)) {
		char a[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &ip4, a, sizeof(a));
		d.allow = false;
		d.reason = SBX_REASON_PRIVATE_IP;
		snprintf(d.origin, sizeof(d.origin), "proxy");
		snprintf(d.detail, sizeof(d.detail),
			 "%s resolves to internal address %s; allow it with an address rule "
			 "(e.g. %s:%u)",
			 s->host, a, a, s->port);
		snprintf(d.rule, sizeof(d.rule), "%s", s->allowed.rule);
		refuse(s, &d);
		return;
	}
	record(s, &s->allowed);
	dial(s, ip4);
}

static void on_resolved(void *arg, int err, int rcode, const struct sbx_dns_rr *rrs, size_t n)
{
	struct sess *s = arg;

	if (err == -ECANCELED)
		return; /* the worker is going away and frees the session itself */
	s->resolve = 0;
	for (size_t i = 0; !err && i < n; i++) {
		if (rrs[i].type == SBX_DNS_TYPE_A) {
			uint32_t ip4;

			memcpy(&ip4, rrs[i].addr, 4);
			checked_dial(s, ip4);
			return;
		}
	}
	pr_debug("proxy: cannot resolve %s (err %d rcode %d)\n", s->host, err, rcode);
	if (s->kind == SESS_FORWARD) {
		char body[300];

		snprintf(body, sizeof(body), "cannot resolve %s\n", s->host);
		http_reply(s, 502, "Bad Gateway", body);
	} else {
		sess_reset(s);
	}
}

/* Decided and allowed: find the address to dial. */
static void go_upstream(struct sess *s)
{
	struct in_addr a;

	if (s->host_service) {
		checked_dial(s, 0);
		return;
	}
	if (inet_pton(AF_INET, s->host, &a) == 1) {
		checked_dial(s, a.s_addr);
		return;
	}
	if (strchr(s->host, ':')) {
		/* sandboxes are IPv4-only, and so is the way out */
		if (s->kind == SESS_FORWARD)
			http_reply(s, 502, "Bad Gateway", "IPv6 upstreams are not supported\n");
		else
			sess_reset(s);
		return;
	}
	s->st = ST_RESOLVE;
	watch(s, s->cfd, 0);
	s->resolve = sbx_resolve(s->w->res, s->host, SBX_DNS_TYPE_A, on_resolved, s);
	if (s->resolve < 0) {
		s->resolve = 0;
		on_resolved(s, -EIO, 0, NULL, 0);
	}
}

/* Decide s->host:s->port; on allow go upstream, else refuse. */
static void decide(struct sess *s)
{
	const struct sbx_proxy_ops *ops = &s->w->p->ops;
	struct sbx_proxy_decision d = { 0 };

	/* the sandbox's gateway is the host: what is dialled there is a host service */
	if (s->kind == SESS_TRANSPARENT && s->client.orig_ip4 == s->client.gw4)
		snprintf(s->host, sizeof(s->host), "host.docker.internal");
	ops->decide(ops->ctx, &s->client, s->host, s->port, &d);
	if (!d.allow) {
		refuse(s, &d);
		return;
	}
	s->allowed = d;
	s->host_service = sbx_host_is_service(s->host);
	go_upstream(s);
}

/* ---- forward proxy ------------------------------------------------------ */

static bool has_header(const char *head, size_t len, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = head, *end = head + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if ((size_t)(end - p) > n && strncasecmp(p, name, n) == 0)
			return true;
		if (!nl)
			break;
		p = nl + 1;
	}
	return false;
}

/*
 * Send "Connection: close" upstream so one connection carries one request:
 * a second request on it, naming another host, would otherwise reach the
 * first host's server without a decision. An Upgrade (WebSocket) keeps its
 * Connection header: after it the connection is no longer HTTP.
 */
static int rewrite_close(struct sess *s, const char *head, size_t len, const uint8_t *body,
			 size_t body_len)
{
	bool upgrade = has_header(head, len, "upgrade:");
	const char *p = head, *end = head + len;
	size_t o = 0;
	char *out = malloc(len + 32 + body_len);

	if (!out)
		return -ENOMEM;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p + 1) : (size_t)(end - p);

		if (l <= 2 && !upgrade) /* the blank line ending the head */
			break;
		if (upgrade || !((l > 11 && strncasecmp(p, "connection:", 11) == 0) ||
				 (l > 11 && strncasecmp(p, "keep-alive:", 11) == 0))) {
			memcpy(out + o, p, l);
			o += l;
		}
		p += l;
	}
	if (!upgrade) {
		memcpy(out + o, "Connection: close\r\n\r\n", 21);
		o += 21;
	}
	memcpy(out + o, body, body_len);
	free(s->out);
	s->out = out;
	s->out_len = o + body_len;
	s->out_off = 0;
	s->in_len = 0; /* all of it is in s->out now */
	return 0;
}

static void forward_head(struct sess *s)
{
	struct sbx_http_req req;
	char *rewritten;
	size_t used;
	int r = sbx_http_parse_request((const char *)s->in, s->in_len, &req);

	if (r == -EAGAIN)
		return;
	if (r == -E2BIG) {
		http_reply(s, 431, "Request Header Fields Too Large", "request head too large\n");
		return;
	}
	if (r || !req.host[0]) {
		http_reply(s, 400, "Bad Request", "malformed proxy request\n");
		return;
	}
	if (!req.is_connect && !req.absolute) {
		http_reply(s, 400, "Bad Request",
			   "this is the sbx egress proxy: send absolute-URI requests or CONNECT\n");
		return;
	}
	snprintf(s->host, sizeof(s->host), "%s", req.host);
	s->port = req.port;
	if (req.is_connect) {
		s->is_connect = true;
		s->proxy_kind = SBX_PROXY_FORWARD_BYPASS;
		/* bytes after the CONNECT head (an eager ClientHello) are the tunnel's */
		memmove(s->in, s->in + req.head_len, s->in_len - req.head_len);
		s->in_len -= req.head_len;
	} else {
		s->proxy_kind = SBX_PROXY_FORWARD;
		rewritten = malloc(req.head_len + 512);
		if (!rewritten || sbx_http_origin_form((const char *)s->in, req.head_len, &req,
						       rewritten, req.head_len + 512, &used) ||
		    rewrite_close(s, rewritten, used, s->in + req.head_len,
				  s->in_len - req.head_len)) {
			free(rewritten);
			http_reply(s, 400, "Bad Request", "cannot forward this request\n");
			return;
		}
		free(rewritten);
	}
	decide(s);
}

/* ---- transparent proxy ---------------------------------------------------- */

/* Nothing names the destination: decide raw TCP on the address (or the name we resolved for it). */
static void transparent_raw(struct sess *s)
{
	const struct sbx_proxy_ops *ops = &s->w->p->ops;
	struct sbx_proxy_decision d = { 0 };
	char name[SBX_HOST_BUF];

	s->proxy_kind = SBX_PROXY_NETWORK;
	if (s->client.orig_ip4 == s->client.gw4) {
		decide(s); /* a host service, whatever name it was dialled by */
		return;
	}
	inet_ntop(AF_INET, &s->client.orig_ip4, s->host, sizeof(s->host));
	ops->decide(ops->ctx, &s->client, s->host, s->port, &d);
	if (!d.allow && ops->name_for_addr(ops->ctx, &s->client, s->client.orig_ip4, name,
					   sizeof(name))) {
		struct sbx_proxy_decision byname = { 0 };

		ops->decide(ops->ctx, &s->client, name, s->port, &byname);
		if (byname.allow) {
			snprintf(s->host, sizeof(s->host), "%s", name);
			s->allowed = byname;
			/* the address is the one our resolver gave for that name */
			checked_dial(s, s->client.orig_ip4);
			return;
		}
		snprintf(s->host, sizeof(s->host), "%s", name);
		d = byname;
	}
	if (!d.allow) {
		if (d.reason == SBX_REASON_DEFAULT_DENY)
			snprintf(d.detail, sizeof(d.detail),
				 "raw TCP (no TLS server name or HTTP Host) to %s:%u needs an "
				 "address rule",
				 s->host, s->port);
		refuse(s, &d);
		return;
	}
	s->allowed = d;
	checked_dial(s, s->client.orig_ip4);
}

static void transparent_head(struct sess *s, bool timed_out)
{
	struct sbx_http_req req;
	int tls = s->in_len ? sbx_sniff_is_tls(s->in, s->in_len) : -EAGAIN, r;

	if (tls == -EAGAIN && !timed_out)
		return;
	if (tls == 1) {
		r = sbx_sniff_tls_sni(s->in, s->in_len, s->host, sizeof(s->host));
		if (r == -EAGAIN && !timed_out && s->in_len < sizeof(s->in))
			return;
		if (r == 0) {
			s->proxy_kind = SBX_PROXY_TRANSPARENT;
			decide(s);
			return;
		}
		transparent_raw(s);
		return;
	}
	if (tls == 0) {
		r = sbx_http_parse_request((const char *)s->in, s->in_len, &req);
		if (r == -EAGAIN && !timed_out)
			return;
		if (r == 0 && req.host[0] && !req.is_connect) {
			s->proxy_kind = SBX_PROXY_TRANSPARENT;
			s->http = true;
			if (rewrite_close(s, (const char *)s->in, req.head_len, s->in + req.head_len,
					  s->in_len - req.head_len)) {
				sess_reset(s);
				return;
			}
			snprintf(s->host, sizeof(s->host), "%s", req.host);
			decide(s);
			return;
		}
	}
	transparent_raw(s);
}

static void head_timeout(struct sbx_ev *ev, void *arg)
{
	struct sess *s = arg;

	s->timer = 0;
	if (s->kind == SESS_TRANSPARENT) {
		transparent_head(s, true);
		return;
	}
	http_reply(s, 408, "Request Timeout", "no request head received\n");
}

/* ---- event dispatch ------------------------------------------------------- */

static void read_head(struct sess *s)
{
	for (;;) {
		ssize_t n;

		if (s->in_len == sizeof(s->in))
			break;
		n = recv(s->cfd, s->in + s->in_len, sizeof(s->in) - s->in_len, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			/* the client went away before saying where to */
			if (s->kind == SESS_TRANSPARENT && s->in_len) {
				transparent_head(s, true);
				return;
			}
			sess_free(s);
			return;
		}
		s->in_len += (size_t)n;
	}
	if (s->st == ST_SNI) {
		sni_check(s);
		return;
	}
	if (s->kind == SESS_FORWARD)
		forward_head(s);
	else
		transparent_head(s, s->in_len == sizeof(s->in));
}

static void sess_io(struct sbx_ev *ev, int fd, uint32_t events, void *arg)
{
	struct sess *s = arg;

	switch (s->st) {
	case ST_HEAD:
	case ST_SNI:
		if (fd == s->cfd)
			read_head(s);
		return;
	case ST_RESOLVE:
		return;
	case ST_DIAL:
		if (fd == s->ufd) {
			int err = 0;
			socklen_t len = sizeof(err);

			if (s->out && s->out_off) { /* connected earlier, finishing the replay */
				flush_out(s);
				return;
			}
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
			if (err) {
				dial_failed(s, err);
				return;
			}
			if (s->timer > 0)
				sbx_ev_timer_cancel(ev, s->timer);
			s->timer = 0;
			if (s->out) {
				flush_out(s);
				return;
			}
			on_connected(s);
		}
		return;
	case ST_RELAY:
		relay(s);
		return;
	}
}

static void on_accept(struct sbx_ev *ev, int lfd, uint32_t events, void *arg)
{
	struct worker *w = arg;
	bool transparent = lfd == w->tp_fd;

	for (int i = 0; i < 64; i++) {
		struct sockaddr_in peer;
		socklen_t plen = sizeof(peer);
		int fd = accept4(lfd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		const struct sbx_proxy_ops *ops = &w->p->ops;
		struct sess *s;
		int one = 1;

		if (fd < 0)
			return;
		if (w->nsess >= SBX_PROXY_SESSIONS_MAX) {
			close(fd);
			continue;
		}
		s = calloc(1, sizeof(*s));
		if (!s) {
			close(fd);
			continue;
		}
		s->w = w;
		s->cfd = fd;
		s->ufd = -1;
		s->cu.pipe[0] = s->cu.pipe[1] = s->uc.pipe[0] = s->uc.pipe[1] = -1;
		s->kind = transparent ? SESS_TRANSPARENT : SESS_FORWARD;
		s->http = !transparent;
		s->next = w->sessions;
		if (w->sessions)
			w->sessions->prev = s;
		w->sessions = s;
		w->nsess++;
		if (ops->identify(ops->ctx, transparent, &peer, &s->client)) {
			pr_debug("proxy: refused unknown peer %s:%u\n", inet_ntoa(peer.sin_addr),
				 ntohs(peer.sin_port));
			sess_reset(s);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (transparent)
			s->port = s->client.orig_port;
		sbx_ev_add(ev, fd, EPOLLIN | EPOLLRDHUP, sess_io, s);
		s->cmask = EPOLLIN | EPOLLRDHUP;
		/* servers speak first on many raw protocols: do not wait long there */
		s->timer = sbx_ev_timer(ev,
					transparent && s->port != 443 && s->port != 80
						? SBX_PROXY_SNIFF_MS
						: SBX_PROXY_HEAD_MS,
					head_timeout, s);
	}
}

/* ---- workers ----------------------------------------------------------- */

static int listen_on(uint32_t ip4, uint16_t port, int *out)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port),
				   .sin_addr.s_addr = ip4 };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), err;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) || listen(fd, 1024)) {
		err = -errno;
		close(fd);
		return err;
	}
	*out = fd;
	return 0;
}

static void on_wake(struct sbx_ev *ev, int fd, uint32_t events, void *arg)
{
	sbx_ev_stop(ev);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	sbx_ev_run(w->ev);
	return NULL;
}

static void worker_free(struct worker *w)
{
	while (w->sessions)
		sess_free(w->sessions);
	if (w->res)
		sbx_resolver_free(w->res);
	if (w->fwd_fd >= 0)
		close(w->fwd_fd);
	if (w->tp_fd >= 0)
		close(w->tp_fd);
	if (w->wake[0] >= 0)
		close(w->wake[0]);
	if (w->wake[1] >= 0)
		close(w->wake[1]);
	sbx_ev_free(w->ev);
}

static int worker_init(struct sbx_proxy *p, struct worker *w)
{
	int err;

	w->p = p;
	w->fwd_fd = w->tp_fd = w->wake[0] = w->wake[1] = -1;
	err = sbx_ev_new(&w->ev);
	if (!err)
		err = sbx_resolver_new(w->ev, &p->cfg.upstreams, &w->res);
	if (!err)
		err = listen_on(p->cfg.bind_ip4, p->cfg.fwd_port, &w->fwd_fd);
	if (!err)
		err = listen_on(p->cfg.bind_ip4, p->cfg.tproxy_port, &w->tp_fd);
	if (!err && pipe2(w->wake, O_NONBLOCK | O_CLOEXEC))
		err = -errno;
	if (!err)
		err = sbx_ev_add(w->ev, w->fwd_fd, EPOLLIN, on_accept, w);
	if (!err)
		err = sbx_ev_add(w->ev, w->tp_fd, EPOLLIN, on_accept, w);
	if (!err)
		err = sbx_ev_add(w->ev, w->wake[0], EPOLLIN, on_wake, w);
	return err;
}

/*
 * The workers share their ports through SO_REUSEPORT, which would as gladly
 * share them with another proxy of the same user: make sure nobody has them.
 */
static int ports_free(const struct sbx_proxy_config *cfg)
{
	uint16_t ports[2] = { cfg->fwd_port, cfg->tproxy_port };

	for (int i = 0; i < 2; i++) {
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(ports[i]),
					   .sin_addr.s_addr = cfg->bind_ip4 };
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), err = 0;

		if (fd < 0)
			return -errno;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 }, sizeof(int));
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)))
			err = -errno;
		close(fd);
		if (err)
			return err;
	}
	return 0;
}

int sbx_proxy_start(const struct sbx_proxy_config *cfg, const struct sbx_proxy_ops *ops,
		    struct sbx_proxy **out)
{
	struct sbx_proxy *p = calloc(1, sizeof(*p));
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	struct rlimit rl;
	int err = 0;

	if (!p)
		return -ENOMEM;
	err = ports_free(cfg);
	if (err) {
		free(p);
		return err;
	}
	p->cfg = *cfg;
	p->ops = *ops;
	p->nworkers = cfg->workers > 0 ? cfg->workers : (int)(cpus > 0 ? cpus : 1);
	if (p->nworkers > SBX_PROXY_WORKERS_MAX)
		p->nworkers = SBX_PROXY_WORKERS_MAX;
	/* six descriptors a session: client, upstream, two pipes */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (int i = 0; i < p->nworkers && !err; i++)
		err = worker_init(p, &p->w[i]);
	for (int i = 0; i < p->nworkers && !err; i++) {
		err = -pthread_create(&p->w[i].thread, NULL, worker_main, &p->w[i]);
		if (err) {
			p->nworkers = i; /* stop only what started */
			sbx_proxy_stop(p);
			return err;
		}
	}
	if (err) {
		for (int i = 0; i < p->nworkers; i++)
			worker_free(&p->w[i]);
		free(p);
		return err;
	}
	*out = p;
	return 0;
}

void sbx_proxy_stop(struct sbx_proxy *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->nworkers; i++)
		if (write(p->w[i].wake[1], "x", 1) < 0)
			pr_warn("proxy: cannot wake worker %d\n", i);
	for (int i = 0; i < p->nworkers; i++) {
		pthread_join(p->w[i].thread, NULL);
		worker_free(&p->w[i]);
	}
	free(p);
}
