// SPDX-License-Identifier: MIT
/*
 * The egress proxy; see proxy.h. A session is a client/upstream pair:
 *
 *   HEAD -> RESOLVE -> DIAL -> [GATED] -> [UPGRADE] -> RELAY
 *
 * Every fact the proxy learns (the target, the client's first bytes, the
 * address it is about to dial) goes through one decision, sbx_conn_decide()
 * (include/sbx/conn.h), and no timer turns an unclassified stream into a
 * relay: while GATED, server bytes flow to the client (SSH, SMTP speak first)
 * but client bytes go nowhere until they are classified and judged. An HTTP
 * stream carries one request upstream (Connection: close; the body by its
 * Content-Length); an Upgrade survives only a 101 answer.
 *
 * Deadlines, not callbacks: a session holds one deadline for its state, which
 * a periodic sweep enforces, so no timer can call back into a session that
 * changed state or was freed. A pending lookup is cancelled when the session
 * is freed. Each sandbox holds at most its share of sessions.
 *
 * Relaying splices through one pipe per worker and direction, drained on every
 * step; what the destination cannot take goes to a per-session backlog, so a
 * session costs two descriptors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sbx/bpf_abi.h>
#include <sbx/conn.h>
#include <sbx/policy.h>
#include "ev.h"
#include "log.h"
#include "proxy.h"
#include "sniff.h"

#define CHUNK 65536
#define HEAD_BUF SBX_SNIFF_MAX
#define SHARE_SLOTS 8192 /* > SBX_MAX_SANDBOXES: open addressing never fills */
#define NO_LIMIT UINT64_MAX

enum sess_state {
	ST_HEAD,    /* reading what the first decision needs */
	ST_RESOLVE, /* waiting for upstream DNS */
	ST_DIAL,    /* non-blocking connect in progress */
	ST_GATED,   /* connected: server bytes flow, client bytes wait for their classification */
	ST_UPGRADE, /* an Upgrade request went up: client bytes wait for the status */
	ST_RELAY,   /* both ways */
};

/* One direction of a relay. */
struct dir {
	uint8_t *bl;	/* backlog: bytes read that the destination did not take yet */
	size_t bl_len, bl_off;
	uint64_t limit; /* bytes still allowed from the source (NO_LIMIT) */
	bool eof;	/* the source finished */
	bool shut;	/* the destination was shut for writing */
	bool discard;	/* past the limit: read and drop (no reset for the client) */
	bool chunked;	/* a chunked request body: read and framed here, not spliced */
	struct sbx_chunked ch;
};

struct share {
	_Atomic uint32_t id;	    /* sandbox id, 0 free */
	_Atomic int n;		    /* sessions it holds now */
	_Atomic int resolving;	    /* of which waiting for upstream DNS */
};

struct worker;

struct sess {
	struct worker *w;
	enum sess_state st;
	int cfd, ufd;
	uint64_t deadline, born;
	long resolve;
	struct share *share;
	struct sbx_proxy_client client;
	uint8_t proxy_kind; /* for the verdict: forward, forward-bypass, transparent, network */
	bool http;	    /* a refusal may answer with an HTTP page */
	bool recorded;	    /* the connection's verdict is in the log */
	bool gate_allowed;  /* decided on everything but the stream: record at classification */
	bool server_first;  /* the silent-client dial was tried */
	bool dial_orig;	    /* dial the address the app dialled, not a resolved name */
	bool upgrade;	    /* an Upgrade request is queued: wait for its status */
	bool moved;	    /* bytes moved since the relay's deadline was last set */
	/* the facts so far (struct sbx_conn_facts points into these) */
	struct sbx_conn_facts f;
	char target[SBX_HOST_BUF];
	char dns_name[SBX_HOST_BUF];
	char stream_name[SBX_HOST_BUF];
	struct sbx_proxy_decision d; /* the latest allowing decision */
	uint16_t port;
	struct sess *prev, *next;
	uint8_t in[HEAD_BUF]; /* client bytes read before they are classified */
	size_t in_len;
	bool client_eof; /* the client finished before its bytes were classified */
	struct dir cu, uc; /* client->upstream, upstream->client */
	uint32_t cmask, umask;
};

struct worker {
	struct sbx_proxy *p;
	pthread_t thread;
	struct sbx_ev *ev;
	struct sbx_resolver *res;
	int fwd_fd, tp_fd, wake[2];
	int pipe_cu[2], pipe_uc[2]; /* shared by the worker's sessions, empty between steps */
	unsigned nsess;
	uint64_t accept_paused_until;
	struct sess *sessions;
};

struct sbx_proxy {
	struct sbx_proxy_config cfg;
	struct sbx_proxy_limits lim;
	struct sbx_proxy_ops ops;
	int nworkers;
	unsigned sessions_per_worker;
	struct share shares[SHARE_SLOTS];
	struct worker w[SBX_PROXY_WORKERS_MAX];
};


/* ---- per-sandbox shares ---------------------------------------------------- */

static struct share *share_get(struct sbx_proxy *p, uint32_t id)
{
	uint32_t h = (id * 2654435761u) % SHARE_SLOTS;

	for (unsigned i = 0; i < SHARE_SLOTS; i++) {
		struct share *s = &p->shares[(h + i) % SHARE_SLOTS];
		uint32_t cur = atomic_load(&s->id), zero = 0;

		if (cur == id)
			return s;
		if (cur == 0) {
			if (atomic_compare_exchange_strong(&s->id, &zero, id) || zero == id)
				return s;
		}
	}
	return NULL;
}

/* ---- session lifecycle ----------------------------------------------------- */

static void close_fd(struct sess *s, int *fd)
{
	if (*fd < 0)
		return;
	sbx_ev_del(s->w->ev, *fd);
	close(*fd);
	*fd = -1;
}

static void record(struct sess *s, const struct sbx_proxy_decision *d)
{
	const struct sbx_proxy_ops *ops = &s->w->p->ops;
	const char *host = d->host[0] ? d->host : s->target;

	if (s->recorded)
		return;
	s->recorded = true;
	ops->record(ops->ctx, &s->client, s->proxy_kind, host, s->port, d);
}

static void sess_free(struct sess *s)
{
	/* a server-first relay whose client never spoke was raw TCP under its rule */
	if (s->gate_allowed && !s->recorded && s->ufd >= 0)
		record(s, &s->d);
	if (s->resolve > 0) {
		sbx_resolve_cancel(s->w->res, s->resolve);
		atomic_fetch_sub(&s->share->resolving, 1);
	}
	close_fd(s, &s->cfd);
	close_fd(s, &s->ufd);
	free(s->cu.bl);
	free(s->uc.bl);
	if (s->share)
		atomic_fetch_sub(&s->share->n, 1);
	if (s->prev)
		s->prev->next = s->next;
	else
		s->w->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->w->nsess--;
	free(s);
}

/* Close the client with a TCP reset: what a refused TLS or raw connection gets. */
static void sess_reset(struct sess *s)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (s->cfd >= 0)
		setsockopt(s->cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	sess_free(s);
}

/* Best effort, never blocking: the client is about to be closed anyway. */
static void send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

/* @in fit for a header line: a rule name is anyone's text, and no byte of it ends a line. */
static void header_text(const char *in, char *out, size_t len)
{
	size_t n = 0;

	for (; *in && n + 1 < len; in++)
		out[n++] = (unsigned char)*in < 0x20 || *in == 0x7f ? '?' : *in;
	out[n] = '\0';
}

/*
 * A reply that ends the session. A refusal's @fix (or NULL) goes into the reason phrase and
 * an X-Sbx-Fix header too: a client that shows no body (curl after CONNECT says only
 * "response 403") still shows the status line, and scripts can read the header.
 */
static void http_reply(struct sess *s, int code, const char *status, const char *fix,
		       const char *body)
{
	char head[512 + 2 * SBX_CONN_FIX_MAX], fx[SBX_CONN_FIX_MAX] = "";
	int n;

	if (fix)
		header_text(fix, fx, sizeof(fx));
	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 %d %s%s%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
		     "Content-Length: %zu\r\nConnection: close\r\nX-Sbx-Blocked: %s\r\n"
		     "%s%s%s\r\n",
		     code, status, fx[0] ? "; fix: " : "", fx, strlen(body),
		     code == 403 ? "1" : "0", fx[0] ? "X-Sbx-Fix: " : "", fx, fx[0] ? "\r\n" : "");
	send_all(s->cfd, head, (size_t)n);
	send_all(s->cfd, body, strlen(body));
	shutdown(s->cfd, SHUT_WR);
	sess_free(s);
}

/* The 403 page (README, "What a sandbox can reach"): what decided, and what to do next. */
static void blocked_page(struct sess *s, const struct sbx_proxy_decision *d)
{
	char body[1536];

	snprintf(body, sizeof(body),
		 "Blocked by network policy: domain %s\n"
		 "rule: %s\n"
		 "origin: %s\n"
		 "detail: %s\n"
		 "%s%s%s",
		 d->host[0] ? d->host : s->target, d->rule[0] ? d->rule : "-", d->origin,
		 d->detail, d->fix[0] ? "fix: " : "", d->fix, d->fix[0] ? "\n" : "");
	http_reply(s, 403, "Blocked by network policy", d->fix, body);
}

/*
 * Refuse: a 403 page while the client still speaks HTTP to us (nothing was
 * relayed yet), a reset otherwise.
 */
static void refuse(struct sess *s, const struct sbx_proxy_decision *d)
{
	pr_debug("proxy: blocked %s %s:%u: %s (fix: %s)\n", s->client.sandbox,
		 d->host[0] ? d->host : s->target, s->port, d->detail, d->fix);
	s->recorded = false; /* an allowed gate is superseded by this refusal */
	record(s, d);
	if (s->http)
		blocked_page(s, d);
	else
		sess_reset(s);
}

static void set_deadline(struct sess *s, unsigned ms)
{
	s->deadline = sbx_ev_now_ms() + ms;
}

/* ---- relay ------------------------------------------------------------------ */

static void sess_io(struct sbx_ev *ev, int fd, uint32_t events, void *arg);

/*
 * Watch @fd (the client or the upstream socket) for @mask. EPOLLHUP and
 * EPOLLERR come whatever the mask and stay (a reset socket): a side with
 * nothing to wait for is armed for one such report, not a wake-up per loop.
 */
static void watch(struct sess *s, int fd, uint32_t mask)
{
	uint32_t *cur = fd == s->cfd ? &s->cmask : &s->umask;

	if (fd < 0 || *cur == mask)
		return;
	sbx_ev_mod(s->w->ev, fd, mask ? mask : EPOLLONESHOT);
	*cur = mask;
}

static bool reading(const struct dir *d)
{
	return !d->eof && !d->bl_len && (d->limit > 0 || d->discard);
}

/*
 * What to wait for on one side. EPOLLRDHUP only while that side is read:
 * it is level-triggered, and a finished side would wake the loop forever.
 */
static uint32_t want_events(struct sess *s, bool client)
{
	struct dir *in = client ? &s->cu : &s->uc, *out = client ? &s->uc : &s->cu;
	uint32_t e = 0;

	switch (s->st) {
	case ST_RELAY:
		break;
	case ST_GATED: /* the client is read into s->in, not relayed */
		if (client)
			return (s->client_eof ? 0 : EPOLLIN | EPOLLRDHUP) |
			       (s->uc.bl_len ? EPOLLOUT : 0);
		break;
	case ST_UPGRADE: /* the client waits; upstream is read once its status is there */
		if (client)
			return s->uc.bl_len ? EPOLLOUT : 0;
		return s->cu.bl_len ? EPOLLOUT : EPOLLIN | EPOLLRDHUP;
	default:
		return 0;
	}
	if (reading(in))
		e |= EPOLLIN | EPOLLRDHUP;
	if (out->bl_len)
		e |= EPOLLOUT;
	return e;
}

static int backlog_add(struct dir *d, const void *buf, size_t len)
{
	uint8_t *nb;

	if (!len)
		return 0;
	if (d->bl_off) {
		memmove(d->bl, d->bl + d->bl_off, d->bl_len - d->bl_off);
		d->bl_len -= d->bl_off;
		d->bl_off = 0;
	}
	nb = realloc(d->bl, d->bl_len + len);
	if (!nb)
		return -ENOMEM;
	memcpy(nb + d->bl_len, buf, len);
	d->bl = nb;
	d->bl_len += len;
	return 0;
}

/* Send the backlog; 1 while some is left, 0 when empty, -1 on error. */
static int backlog_flush(struct dir *d, int dst)
{
	while (d->bl_off < d->bl_len) {
		ssize_t n = send(dst, d->bl + d->bl_off, d->bl_len - d->bl_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 1;
		if (n < 0)
			return -1;
		d->bl_off += (size_t)n;
	}
	free(d->bl);
	d->bl = NULL;
	d->bl_len = d->bl_off = 0;
	return 0;
}

/* Read and drop what the source has (a client past its one request). */
static int drain(struct dir *d, int src)
{
	for (int i = 0; i < 16; i++) {
		/* TCP drops what MSG_TRUNC asks for without copying it anywhere */
		ssize_t n = recv(src, NULL, CHUNK, MSG_DONTWAIT | MSG_TRUNC);

		if (n > 0)
			continue;
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			d->eof = true;
		break;
	}
	return 0;
}

/*
 * Empty the worker's pipe after a failed step: whatever stayed in it would go
 * to the next session that splices through it, another sandbox's peer.
 */
static void pipe_empty(int pp[2])
{
	uint8_t sink[16384]; /* per call: workers run side by side */

	for (int i = 0; i <= CHUNK / (int)sizeof(sink); i++)
		if (read(pp[0], sink, sizeof(sink)) <= 0)
			break;
}

/*
 * Take body bytes of a chunked request into the backlog, up to its end; what
 * follows it is dropped. 1 when bytes were taken, 0 when there are none now,
 * -1 on malformed framing or a hard error.
 */
static int take_chunked(struct dir *d, const uint8_t *buf, size_t len)
{
	bool done;
	long m = sbx_http_chunked_feed(&d->ch, buf, len, &done);

	if (m < 0 || backlog_add(d, buf, (size_t)m))
		return -1;
	if (done) { /* the request ended: nothing after it goes upstream */
		d->chunked = false;
		d->limit = 0;
		d->discard = true;
	}
	return 1;
}

static int pump_chunked(struct dir *d, int src)
{
	uint8_t buf[16384];
	ssize_t n = recv(src, buf, sizeof(buf), MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		d->eof = true;
		return 0;
	}
	return take_chunked(d, buf, (size_t)n);
}

/*
 * Move what is available from @src through the worker's pipe to @dst; what
 * @dst does not take is read back out of the pipe into the backlog, so the
 * pipe is empty again for the next session. -1 on a hard error (the pipe
 * emptied all the same).
 */
static int pump(struct sess *s, struct dir *d, int src, int dst, int pp[2])
{
	for (int rounds = 0; rounds < 16; rounds++) {
		ssize_t n, m;
		size_t want;

		if (d->bl_len) {
			int r = backlog_flush(d, dst);

			if (r < 0)
				return -1;
			if (r > 0)
				break;
			s->moved = true;
		}
		if (d->eof)
			break;
		if (d->limit == 0) {
			if (d->discard)
				drain(d, src);
			break;
		}
		if (d->chunked) {
			int r = pump_chunked(d, src);

			if (r < 0)
				return -1;
			if (r == 0)
				break;
			s->moved = true;
			continue;
		}
		want = d->limit < CHUNK ? (size_t)d->limit : CHUNK;
		n = splice(src, NULL, pp[1], NULL, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n == 0) {
			d->eof = true;
			break;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			return -1; /* a reset is passed on as one: a cut stream must not look whole */
		}
		s->moved = true;
		if (d->limit != NO_LIMIT)
			d->limit -= (uint64_t)n;
		m = splice(pp[0], NULL, dst, NULL, (size_t)n, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (m < 0 && errno != EAGAIN && errno != EINTR) {
			pipe_empty(pp);
			return -1;
		}
		if (m < 0)
			m = 0;
		if (m < n) {
			uint8_t *tmp = malloc((size_t)(n - m));
			ssize_t r = tmp ? read(pp[0], tmp, (size_t)(n - m)) : -1;

			if (r != n - m || backlog_add(d, tmp, (size_t)r)) {
				free(tmp);
				pipe_empty(pp);
				return -1;
			}
			free(tmp);
			break;
		}
	}
	if (d->eof && !d->bl_len && !d->shut) {
		shutdown(dst, SHUT_WR);
		d->shut = true;
		s->moved = true; /* half-closed now: its own deadline starts */
	}
	return 0;
}

/* Move bytes both ways; false when the session is gone. */
static bool relay(struct sess *s)
{
	struct worker *w = s->w;

	bool cu_on = s->st == ST_RELAY, uc_on = s->st == ST_RELAY || s->st == ST_GATED;

	/* gated: client bytes wait in s->in; upgrading: only the request head goes up */
	if ((cu_on && pump(s, &s->cu, s->cfd, s->ufd, w->pipe_cu)) ||
	    (!cu_on && s->cu.bl_len && backlog_flush(&s->cu, s->ufd) < 0) ||
	    (uc_on && pump(s, &s->uc, s->ufd, s->cfd, w->pipe_uc)) ||
	    (!uc_on && s->uc.bl_len && backlog_flush(&s->uc, s->cfd) < 0)) {
		sess_reset(s);
		return false;
	}
	if (s->st == ST_RELAY && s->uc.shut && !s->cu.bl_len &&
	    (s->cu.shut || s->cu.eof || s->cu.limit == 0)) {
		sess_free(s);
		return false;
	}
	/* only bytes that went somewhere keep a relay alive, not wake-ups or dropped bytes */
	if ((s->st == ST_RELAY || (s->st == ST_GATED && !s->in_len)) && s->moved)
		set_deadline(s, s->cu.eof || s->uc.eof ? w->p->lim.half_close_ms
						       : w->p->lim.idle_ms);
	s->moved = false;
	watch(s, s->cfd, want_events(s, true));
	watch(s, s->ufd, want_events(s, false));
	return true;
}

static void start_relay(struct sess *s)
{
	s->st = ST_RELAY;
	s->http = false;
	s->moved = true;
	relay(s);
}

/* ---- HTTP: one request upstream ---------------------------------------------- */

static bool header_is(const char *line, size_t l, const char *name)
{
	size_t n = strlen(name);

	return l > n && strncasecmp(line, name, n) == 0;
}

static bool header_has_token(const char *head, size_t len, const char *name, const char *token)
{
	size_t tl = strlen(token);

	for (const char *p = head, *end = head + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (header_is(p, l, name)) {
			for (const char *q = p + strlen(name); q + tl <= p + l; q++)
				if (strncasecmp(q, token, tl) == 0)
					return true;
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	return false;
}

/*
 * Every Upgrade header offers exactly "websocket": a server picks one of the
 * protocols offered, and "websocket, h2c" could come back as h2c.
 */
static bool upgrade_is_websocket(const char *head, size_t len)
{
	bool seen = false;

	for (const char *p = head, *end = head + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (header_is(p, l, "upgrade:")) {
			const char *v = p + 8, *e = p + l;

			while (v < e && (*v == ' ' || *v == '\t'))
				v++;
			while (e > v && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
				e--;
			if (e - v != 9 || strncasecmp(v, "websocket", 9))
				return false;
			seen = true;
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	return seen;
}

/*
 * Queue the first HTTP request of a stream for upstream (@head in the form it
 * goes upstream, @rest the client bytes after the head). The upstream
 * connection carries this request only: its head is rewritten to
 * "Connection: close" and its body is counted by Content-Length, the client's
 * bytes past it dropped; a second request naming another host on the same
 * connection would otherwise reach the first host's server undecided. A
 * WebSocket Upgrade request without a body keeps its Connection header and
 * waits for the status (ST_UPGRADE): only a 101 keeps the connection open.
 * No other upgrade: after a 101 to h2c each HTTP/2 stream names its own host.
 */
static int http_first_request(struct sess *s, const char *head, size_t len,
			      const struct sbx_http_req *req, const uint8_t *rest, size_t rest_len)
{
	bool upgrade = header_has_token(head, len, "connection:", "upgrade") &&
		       upgrade_is_websocket(head, len) && !req->chunked &&
		       req->content_length <= 0 && rest_len == 0;
	uint64_t body = req->chunked ? NO_LIMIT
			: req->content_length > 0 ? (uint64_t)req->content_length : 0;
	size_t now = body < rest_len ? (size_t)body : rest_len, o = 0;
	char *out = malloc(len + 32);
	int err;

	if (!out)
		return -ENOMEM;
	for (const char *p = head, *end = head + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p + 1) : (size_t)(end - p);

		if (l <= 2) /* the blank line ending the head */
			break;
		if (upgrade || !(header_is(p, l, "connection:") || header_is(p, l, "keep-alive:") ||
				 header_is(p, l, "proxy-connection:"))) {
			memcpy(out + o, p, l);
			o += l;
		}
		p += l;
	}
	memcpy(out + o, upgrade ? "\r\n" : "Connection: close\r\n\r\n", upgrade ? 2 : 21);
	o += upgrade ? 2 : 21;
	err = backlog_add(&s->cu, out, o);
	free(out);
	s->cu.limit = upgrade ? 0 : body == NO_LIMIT ? NO_LIMIT : body - now;
	s->cu.discard = !upgrade;
	s->cu.chunked = req->chunked;
	if (!err && req->chunked) /* framed as it comes: the body ends at its last chunk */
		err = take_chunked(&s->cu, rest, rest_len) < 0 ? -EPROTO : 0;
	else if (!err)
		err = backlog_add(&s->cu, rest, now);
	if (err)
		return err;
	s->in_len = 0;
	return upgrade ? 1 : 0;
}

/*
 * ST_UPGRADE: the upstream's status line decides whether the connection stays
 * open. It is read into s->in (a peek would wake us for ever while it is
 * short) and goes on to the client ahead of the rest.
 */
static void upgrade_status(struct sess *s)
{
	ssize_t n = recv(s->ufd, s->in + s->in_len, 16 - s->in_len, MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		s->in_len += (size_t)n;
		if (s->in_len < 12 && !memchr(s->in, '\n', s->in_len))
			return;
		if (s->in_len >= 12 && memcmp(s->in, "HTTP/1.", 7) == 0 &&
		    memcmp(s->in + 8, " 101", 4) == 0) {
			s->cu.limit = NO_LIMIT; /* upgraded: no longer HTTP */
			s->cu.discard = false;
		} else {
			/* no upgrade: this was the connection's one request */
			s->cu.discard = true;
			shutdown(s->ufd, SHUT_WR);
			s->cu.shut = true;
		}
	} /* else upstream closed or failed: relay what is left */
	if (backlog_add(&s->uc, s->in, s->in_len)) {
		sess_reset(s);
		return;
	}
	s->in_len = 0;
	start_relay(s);
}

/* ---- deciding --------------------------------------------------------------- */

void sbx_proxy_decision_from(const struct sbx_conn_verdict *v, struct sbx_proxy_decision *d)
{
	memset(d, 0, sizeof(*d));
	d->allow = v->allow;
	d->reason = (uint8_t)v->reason;
	d->host_service = v->host_service;
	if (v->rule) {
		snprintf(d->rule, sizeof(d->rule), "%s", v->rule->name);
		snprintf(d->origin, sizeof(d->origin), "%s", sbx_prov_name(v->rule->prov));
	} else {
		snprintf(d->origin, sizeof(d->origin), "%s",
			 v->allow || v->reason == SBX_REASON_DEFAULT_DENY ? "default policy"
									  : "proxy");
	}
	snprintf(d->host, sizeof(d->host), "%s", v->host);
	snprintf(d->detail, sizeof(d->detail), "%s", v->detail);
	snprintf(d->fix, sizeof(d->fix), "%s", v->fix);
}

static void decide(struct sess *s, struct sbx_proxy_decision *d)
{
	const struct sbx_proxy_ops *ops = &s->w->p->ops;
	struct sbx_conn_facts f;

	memset(d, 0, sizeof(*d));
	s->f.sandbox = s->client.sandbox;
	s->f.port = s->port;
	s->f.stream_name = s->stream_name;
	s->f.target = s->f.kind == SBX_CONN_TRANSPARENT ? NULL : s->target;
	s->f.dns_name = s->dns_name[0] ? s->dns_name : NULL;
	f = s->f;
	/*
	 * A target that is an address, or a host service, is what will be dialled: classify it
	 * now, as `sbx policy check` does, so that the first refusal already names the rule
	 * that decides (the host's, sbx's own ports) and not a fix that cannot work.
	 */
	if (f.kind != SBX_CONN_TRANSPARENT && !f.upstream.family) {
		sbx_target_dialled_at(s->target, &f.upstream);
		if (f.upstream.family)
			f.up_class = ops->classify(ops->ctx, &f.upstream, s->port);
	}
	ops->decide(ops->ctx, &s->client, &f, d);
}

static void go_upstream(struct sess *s);

/*
 * Classify the client's first bytes into s->f.stream; -EAGAIN: read more.
 * A prefix that is neither complete nor refuted is never guessed at: when the
 * client stops (@final: EOF, the deadline, the bound) it is refused as
 * malformed, and an HTTP-looking request the parser refuses is refused too,
 * since a server might take what the parser did not.
 */
static int classify(struct sess *s, struct sbx_http_req *req, bool final)
{
	int tls = sbx_sniff_is_tls(s->in, s->in_len), r;
	const uint8_t *b = s->in, *nl;
	size_t skip = 0, blen, line;
	struct sbx_tls_hello hello;

	final = final || s->in_len == sizeof(s->in);
	s->stream_name[0] = '\0';
	if (tls == -EAGAIN && !final)
		return -EAGAIN;
	if (tls == 1) {
		r = sbx_sniff_tls_hello(s->in, s->in_len, &hello);
		if (r == -EAGAIN && !final)
			return -EAGAIN;
		if (r == 0 || r == -ENOENT) {
			s->f.stream = SBX_STREAM_TLS;
			snprintf(s->stream_name, sizeof(s->stream_name), "%s", r ? "" : hello.sni);
		} else {
			s->f.stream = SBX_STREAM_BAD; /* two names, cut short, over the bound */
		}
		return 0;
	}
	/*
	 * A handshake record of a version the sniffer does not know is no raw
	 * stream: servers take the first record's version loosely (OpenSSL checks
	 * its major byte only, Go that it is below 0x1000).
	 */
	if (tls == -EAGAIN || s->in[0] == 0x16) {
		s->f.stream = SBX_STREAM_BAD;
		return 0;
	}
	/* an SSLv2-format ClientHello (OpenSSL still takes one): TLS without a name */
	if (s->in[0] & 0x80) {
		if (s->in_len < 4 && !final)
			return -EAGAIN;
		if (s->in_len >= 4 && s->in[2] == 1 && s->in[3] == 3) {
			s->f.stream = SBX_STREAM_TLS;
			return 0;
		}
	}
	/* servers skip blank lines before a request line (RFC 9112 2.2): so do we */
	while (skip < s->in_len && (s->in[skip] == '\r' || s->in[skip] == '\n'))
		skip++;
	if (skip == s->in_len && skip) {
		if (!final)
			return -EAGAIN;
		s->f.stream = SBX_STREAM_BAD; /* blank lines, then silence: no guess */
		return 0;
	}
	b += skip;
	blen = s->in_len - skip;
	nl = memchr(b, '\n', blen);
	line = nl ? (size_t)(nl - b) : blen;
	r = sbx_http_parse_request((const char *)b, blen, req);
	if (r == 0 && !req->is_connect) {
		if (skip) { /* what goes upstream starts at the request line */
			memmove(s->in, b, blen);
			s->in_len = blen;
		}
		/* absolute-form names its host twice: servers follow the URI, so both must agree */
		s->f.stream = req->absolute && req->host_header[0] &&
					      strcmp(req->host_header, req->host)
				      ? SBX_STREAM_BAD
				      : SBX_STREAM_HTTP;
		snprintf(s->stream_name, sizeof(s->stream_name), "%s", req->host);
		return 0;
	}
	if (!nl) {
		/*
		 * A request line may still be coming while the parser has not refuted
		 * it (a method token, no control bytes; a URI may hold any other byte)
		 * and it is not yet longer than one can be. At the end it is refused:
		 * raw, its rest would go upstream undecided.
		 */
		bool maybe = r == -EAGAIN || memmem(b, blen, " HTTP/", 6);

		if (maybe && !final && blen < SBX_HTTP_TARGET_MAX + 64)
			return -EAGAIN;
		s->f.stream = maybe ? SBX_STREAM_BAD : SBX_STREAM_RAW;
		return 0;
	}
	if (memmem(b, line, " HTTP/", 6)) {
		/* a request line: the head must parse, or a server might take what we did not */
		if (r == -EAGAIN && !final)
			return -EAGAIN;
		s->f.stream = SBX_STREAM_BAD;
		return 0;
	}
	s->f.stream = SBX_STREAM_RAW; /* HTTP/0.9 too: it names no host */
	return 0;
}

/* Queue the classified first bytes for upstream: 1 when an Upgrade waits for its status. */
static int queue_stream(struct sess *s, const struct sbx_http_req *req)
{
	int up = 0;

	if (s->f.stream == SBX_STREAM_HTTP)
		up = http_first_request(s, (const char *)s->in, req->head_len, req,
					s->in + req->head_len, s->in_len - req->head_len);
	else if (backlog_add(&s->cu, s->in, s->in_len))
		up = -ENOMEM;
	s->in_len = 0;
	return up;
}

/* Upstream connected and the stream judged: relay, or first wait for an upgrade's status. */
static void open_stream(struct sess *s)
{
	s->http = false;
	if (s->client_eof)
		s->cu.eof = true;
	if (!s->upgrade) {
		start_relay(s);
		return;
	}
	s->st = ST_UPGRADE;
	set_deadline(s, s->w->p->lim.head_ms);
	relay(s); /* sends the request head */
}

/* The client's first bytes are classified: judge them, then relay or go upstream. */
static void judge_stream(struct sess *s, const struct sbx_http_req *req)
{
	struct sbx_proxy_decision d;
	int up;

	if (s->f.kind == SBX_CONN_TRANSPARENT && s->f.stream == SBX_STREAM_HTTP) {
		s->proxy_kind = SBX_PROXY_TRANSPARENT;
		s->http = !s->f.dialled; /* nothing reached the client yet: a 403 page */
	} else if (s->f.kind == SBX_CONN_TRANSPARENT && s->f.stream == SBX_STREAM_TLS &&
		   s->stream_name[0]) {
		s->proxy_kind = SBX_PROXY_TRANSPARENT;
	}
	decide(s, &d);
	if (!d.allow) {
		refuse(s, &d);
		return;
	}
	s->d = d;
	up = queue_stream(s, req);
	if (up < 0) {
		sess_reset(s);
		return;
	}
	s->upgrade = up;
	if (s->f.dialled) {
		record(s, &d); /* the upstream was checked already: this was the last fact */
		open_stream(s);
		return;
	}
	/* a name the client sent is resolved and dialled by us; anything else goes where it was */
	s->dial_orig = !(s->f.stream == SBX_STREAM_TLS || s->f.stream == SBX_STREAM_HTTP) ||
		       !s->stream_name[0];
	go_upstream(s);
}

/* ---- upstream --------------------------------------------------------------- */

static void upstream_failed(struct sess *s, int code, const char *status, const char *why)
{
	char body[400];

	pr_debug("proxy: %s:%u: %s\n", s->d.host[0] ? s->d.host : s->target, s->port, why);
	if (!s->http) {
		sess_reset(s);
		return;
	}
	snprintf(body, sizeof(body), "cannot reach %s:%u: %s\n",
		 s->d.host[0] ? s->d.host : s->target, s->port, why);
	http_reply(s, code, status, NULL, body);
}

static void dial(struct sess *s)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int one = 1, err;

	if (s->f.upstream.family == 4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(s->port);
		memcpy(&sin->sin_addr, s->f.upstream.a, 4);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(s->port);
		memcpy(&sin6->sin6_addr, s->f.upstream.a, 16);
		len = sizeof(*sin6);
	}
	s->ufd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->ufd < 0) {
		upstream_failed(s, 502, "Bad Gateway", strerror(errno));
		return;
	}
	setsockopt(s->ufd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(s->ufd, (struct sockaddr *)&ss, len) && errno != EINPROGRESS) {
		upstream_failed(s, 502, "Bad Gateway", strerror(errno));
		return;
	}
	err = sbx_ev_add(s->w->ev, s->ufd, EPOLLOUT, sess_io, s);
	if (err) {
		upstream_failed(s, 502, "Bad Gateway", strerror(-err));
		return;
	}
	s->umask = EPOLLOUT;
	s->st = ST_DIAL;
	set_deadline(s, s->w->p->lim.dial_ms);
	watch(s, s->cfd, 0); /* nothing more from the client until the dial ends */
}

/* The address to dial is known: the last fact before any byte goes upstream. */
static void check_upstream(struct sess *s, const struct sbx_addr *a)
{
	const struct sbx_proxy_ops *ops = &s->w->p->ops;
	struct sbx_proxy_decision d;

	s->f.upstream = *a;
	s->f.up_class = ops->classify(ops->ctx, a, s->port);
	decide(s, &d);
	if (!d.allow) {
		refuse(s, &d);
		return;
	}
	s->d = d;
	if (!s->gate_allowed)
		record(s, &d);
	dial(s);
}

static void on_resolved(void *arg, int err, int rcode, const struct sbx_dns_rr *rrs, size_t n)
{
	struct sess *s = arg;
	char why[64];

	if (err == -ECANCELED)
		return; /* the session is being freed and knows it */
	s->resolve = 0;
	atomic_fetch_sub(&s->share->resolving, 1);
	for (size_t i = 0; !err && i < n; i++) {
		if (rrs[i].type == SBX_DNS_TYPE_A) {
			struct sbx_addr a = { .family = 4 };

			memcpy(a.a, rrs[i].addr, 4);
			check_upstream(s, &a);
			return;
		}
	}
	if (!err && rcode == 0)
		snprintf(why, sizeof(why), "the name has no IPv4 address (A record)");
	else if (!err && rcode == 3)
		snprintf(why, sizeof(why), "no such name (NXDOMAIN)");
	else
		snprintf(why, sizeof(why), "the name does not resolve (rcode %d)", err ? -1 : rcode);
	upstream_failed(s, 502, "Bad Gateway", why);
}

/* Allowed so far: find the address to dial. */
static void go_upstream(struct sess *s)
{
	const char *host = s->d.host[0] ? s->d.host : s->target;
	struct sbx_addr a = { 0 };

	if (s->d.host_service) {
		sbx_addr_parse(SBX_HOST_SERVICE_ADDR, &a);
		check_upstream(s, &a);
		return;
	}
	if (s->dial_orig) {
		check_upstream(s, &s->f.orig);
		return;
	}
	if (sbx_addr_parse(host, &a) == 1) {
		check_upstream(s, &a);
		return;
	}
	/* a sandbox's lookups wait on a slow upstream: no more than its share of them */
	if (atomic_fetch_add(&s->share->resolving, 1) >= SBX_PROXY_LOOKUPS_PER_SANDBOX) {
		atomic_fetch_sub(&s->share->resolving, 1);
		upstream_failed(s, 502, "Bad Gateway", "too many lookups in flight");
		return;
	}
	s->st = ST_RESOLVE;
	set_deadline(s, s->w->p->lim.resolve_ms);
	watch(s, s->cfd, 0);
	s->resolve = sbx_resolve(s->w->res, host, SBX_DNS_TYPE_A, on_resolved, s);
	if (s->resolve < 0) {
		s->resolve = 0;
		atomic_fetch_sub(&s->share->resolving, 1);
		upstream_failed(s, 502, "Bad Gateway", "too many lookups in flight");
	}
}

/* The upstream connected. */
static void on_connected(struct sess *s)
{
	if (s->f.stream != SBX_STREAM_NONE) {
		open_stream(s);
		return;
	}
	/* CONNECT, or a silent client of a server that speaks first: gate the client */
	if (s->f.kind == SBX_CONN_CONNECT) {
		static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";

		send_all(s->cfd, ok, sizeof(ok) - 1);
	}
	s->http = false;
	s->f.dialled = true;
	s->st = ST_GATED;
	set_deadline(s, s->in_len ? s->w->p->lim.head_ms : s->w->p->lim.idle_ms);
	if (s->in_len || s->client_eof) {
		struct sbx_http_req req;

		if (classify(s, &req, s->client_eof) == 0) {
			judge_stream(s, &req);
			return;
		}
	}
	relay(s);
}

/* ---- the client's first bytes ------------------------------------------------- */

/* A request the forward proxy cannot take: refused with a page, and logged. */
static void bad_request(struct sess *s, int code, const char *status, const char *body)
{
	struct sbx_proxy_decision d = { .allow = false, .reason = SBX_REASON_BAD_STREAM };

	snprintf(d.origin, sizeof(d.origin), "proxy");
	snprintf(d.host, sizeof(d.host), "(malformed request)");
	snprintf(d.detail, sizeof(d.detail), "%s", body);
	s->proxy_kind = SBX_PROXY_FORWARD;
	record(s, &d);
	http_reply(s, code, status, NULL, body);
}

static void forward_head(struct sess *s)
{
	struct sbx_proxy_decision d;
	struct sbx_http_req req;
	char *rewritten;
	size_t used;
	int r = sbx_http_parse_request((const char *)s->in, s->in_len, &req);

	if (r == -EAGAIN && !s->client_eof)
		return;
	if (r == -E2BIG) {
		bad_request(s, 431, "Request Header Fields Too Large", "request head too large\n");
		return;
	}
	if (r || !req.host[0]) {
		bad_request(s, 400, "Bad Request", "malformed proxy request\n");
		return;
	}
	if (!req.is_connect && !req.absolute) {
		bad_request(s, 400, "Bad Request",
			   "this is the sbx egress proxy: send absolute-URI requests or CONNECT\n");
		return;
	}
	snprintf(s->target, sizeof(s->target), "%s", req.host);
	s->port = req.port;
	if (req.is_connect) {
		s->f.kind = SBX_CONN_CONNECT;
		s->proxy_kind = SBX_PROXY_FORWARD_BYPASS;
		/* bytes after the CONNECT head (an eager ClientHello) are the tunnel's */
		memmove(s->in, s->in + req.head_len, s->in_len - req.head_len);
		s->in_len -= req.head_len;
		decide(s, &d);
		if (!d.allow) {
			refuse(s, &d);
			return;
		}
		s->d = d;
		s->gate_allowed = true; /* recorded once the tunnel's first bytes are judged */
		go_upstream(s);
		return;
	}
	s->f.kind = SBX_CONN_FORWARD;
	s->proxy_kind = SBX_PROXY_FORWARD;
	s->f.stream = SBX_STREAM_HTTP; /* its Host is rewritten from the target */
	snprintf(s->stream_name, sizeof(s->stream_name), "%s", req.host);
	decide(s, &d);
	if (!d.allow) {
		refuse(s, &d);
		return;
	}
	s->d = d;
	rewritten = malloc(req.head_len + 512);
	if (!rewritten || sbx_http_origin_form((const char *)s->in, req.head_len, &req, rewritten,
					       req.head_len + 512, &used)) {
		free(rewritten);
		bad_request(s, 400, "Bad Request", "cannot forward this request\n");
		return;
	}
	r = http_first_request(s, rewritten, used, &req, s->in + req.head_len,
			       s->in_len - req.head_len);
	free(rewritten);
	if (r < 0) {
		sess_reset(s);
		return;
	}
	s->upgrade = r;
	go_upstream(s);
}

/* A transparent client is silent: servers of many protocols speak first. */
static void server_first(struct sess *s)
{
	struct sbx_proxy_decision d;

	s->server_first = true;
	decide(s, &d);
	if (!d.allow) {
		refuse(s, &d); /* as raw TCP it is refused: nothing to wait for */
		return;
	}
	s->d = d;
	s->gate_allowed = true;
	s->dial_orig = true;
	go_upstream(s);
}

static void client_bytes(struct sess *s, bool final)
{
	struct sbx_http_req req;

	if (s->f.kind == SBX_CONN_FORWARD && s->st == ST_HEAD) {
		forward_head(s);
		return;
	}
	if (classify(s, &req, final) == 0)
		judge_stream(s, &req);
}

static void read_client(struct sess *s)
{
	for (int i = 0; i < 16; i++) {
		ssize_t n;

		if (s->in_len == sizeof(s->in))
			break;
		n = recv(s->cfd, s->in + s->in_len, sizeof(s->in) - s->in_len, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			if (s->in_len == 0) { /* gone before saying anything */
				sess_free(s);
				return;
			}
			s->client_eof = true;
			watch(s, s->cfd, 0);
			break;
		}
		s->in_len += (size_t)n;
	}
	if (s->st == ST_HEAD && s->f.kind != SBX_CONN_FORWARD && s->in_len &&
	    s->deadline < s->born + s->w->p->lim.head_ms)
		s->deadline = s->born + s->w->p->lim.head_ms; /* it spoke: no server-first dial */
	if (s->st == ST_GATED && s->in_len && s->deadline > sbx_ev_now_ms() + s->w->p->lim.head_ms)
		set_deadline(s, s->w->p->lim.head_ms); /* it spoke: finish within the head time */
	client_bytes(s, s->client_eof);
}

/* ---- deadlines ---------------------------------------------------------------- */

static void expire(struct sess *s, uint64_t now)
{
	const struct sbx_proxy_limits *lim = &s->w->p->lim;

	switch (s->st) {
	case ST_HEAD:
		if (s->f.kind == SBX_CONN_TRANSPARENT && !s->in_len && !s->server_first &&
		    now < s->born + lim->head_ms) {
			server_first(s);
			return;
		}
		if (s->in_len) {
			if (s->f.kind == SBX_CONN_FORWARD) {
				bad_request(s, 408, "Request Timeout", "request head incomplete\n");
				return;
			}
			client_bytes(s, true);
			return;
		}
		if (s->f.kind == SBX_CONN_FORWARD)
			http_reply(s, 408, "Request Timeout", NULL, "no request head received\n");
		else
			sess_free(s);
		return;
	case ST_RESOLVE:
		upstream_failed(s, 504, "Gateway Timeout", "the name did not resolve in time");
		return;
	case ST_DIAL:
		upstream_failed(s, 504, "Gateway Timeout", "connect timed out");
		return;
	case ST_GATED:
		if (s->in_len) {
			client_bytes(s, true);
			return;
		}
		sess_free(s);
		return;
	case ST_UPGRADE:
	case ST_RELAY:
		sess_free(s);
		return;
	}
}

static void set_listeners(struct worker *w, uint32_t events)
{
	sbx_ev_mod(w->ev, w->fwd_fd, events);
	sbx_ev_mod(w->ev, w->tp_fd, events);
}

static void sweep(struct sbx_ev *ev, void *arg)
{
	struct worker *w = arg;
	uint64_t now = sbx_ev_now_ms();
	struct sess *s = w->sessions, *next;

	if (w->accept_paused_until && now >= w->accept_paused_until) {
		w->accept_paused_until = 0;
		set_listeners(w, EPOLLIN);
	}
	for (; s; s = next) {
		next = s->next;
		if (now >= s->deadline)
			expire(s, now);
	}
	sbx_ev_timer(ev, SBX_PROXY_SWEEP_MS, sweep, w);
}

/* ---- event dispatch ------------------------------------------------------------- */

static void sess_io(struct sbx_ev *ev, int fd, uint32_t events, void *arg)
{
	struct sess *s = arg;
	bool client = fd == s->cfd;

	switch (s->st) {
	case ST_HEAD:
		if (client)
			read_client(s);
		return;
	case ST_GATED:
		/* server bytes (and the client's room for them) first; then the client's bytes */
		if ((!client || (events & EPOLLOUT)) && (!relay(s) || !client))
			return;
		if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			read_client(s);
		return;
	case ST_RESOLVE:
	case ST_DIAL:
		if (client) { /* only a hang-up or an error wakes us here */
			sess_free(s);
			return;
		}
		if (s->st == ST_DIAL) {
			int err = 0;
			socklen_t len = sizeof(err);

			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
			if (err) {
				upstream_failed(s, 502, "Bad Gateway", strerror(err));
				return;
			}
			on_connected(s);
		}
		return;
	case ST_UPGRADE:
		if (client && (events & (EPOLLHUP | EPOLLERR))) {
			sess_free(s);
			return;
		}
		if (relay(s) && !client && (events & EPOLLIN))
			upgrade_status(s);
		return;
	case ST_RELAY:
		relay(s);
		return;
	}
}

static void on_accept(struct sbx_ev *ev, int lfd, uint32_t events, void *arg)
{
	struct worker *w = arg;
	struct sbx_proxy *p = w->p;
	bool transparent = lfd == w->tp_fd;

	for (int i = 0; i < 64; i++) {
		struct sockaddr_in peer;
		socklen_t plen = sizeof(peer);
		int fd = accept4(lfd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		const struct sbx_proxy_ops *ops = &p->ops;
		struct sbx_proxy_client c;
		struct share *sh;
		struct sess *s;
		int one = 1;

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* the listeners stay readable: stop watching them for a moment */
				pr_warn("proxy: cannot accept: %s; pausing %d ms\n", strerror(errno),
					SBX_PROXY_ACCEPT_PAUSE_MS);
				w->accept_paused_until = sbx_ev_now_ms() + SBX_PROXY_ACCEPT_PAUSE_MS;
				set_listeners(w, 0);
			}
			return;
		}
		if (ops->identify(ops->ctx, transparent, &peer, &c)) {
			pr_debug("proxy: refused unknown peer %s:%u\n", inet_ntoa(peer.sin_addr),
				 ntohs(peer.sin_port));
			close(fd);
			continue;
		}
		sh = share_get(p, c.sandbox_id);
		if (sh && atomic_fetch_add(&sh->n, 1) >= (int)p->lim.sessions_per_sandbox) {
			atomic_fetch_sub(&sh->n, 1);
			sh = NULL;
		}
		if (!sh || w->nsess >= p->sessions_per_worker) {
			/* over its share: this sandbox waits, the others do not */
			if (sh)
				atomic_fetch_sub(&sh->n, 1);
			setsockopt(fd, SOL_SOCKET, SO_LINGER,
				   &(struct linger){ .l_onoff = 1, .l_linger = 0 },
				   sizeof(struct linger));
			close(fd);
			continue;
		}
		s = calloc(1, sizeof(*s));
		if (!s) {
			atomic_fetch_sub(&sh->n, 1);
			close(fd);
			continue;
		}
		s->w = w;
		s->share = sh;
		s->client = c;
		s->cfd = fd;
		s->ufd = -1;
		s->http = !transparent;
		s->cu.limit = s->uc.limit = NO_LIMIT;
		s->born = sbx_ev_now_ms();
		s->next = w->sessions;
		if (w->sessions)
			w->sessions->prev = s;
		w->sessions = s;
		w->nsess++;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (transparent) {
			struct sbx_addr *o = &s->f.orig;

			s->f.kind = SBX_CONN_TRANSPARENT;
			s->proxy_kind = SBX_PROXY_NETWORK;
			s->port = c.orig_port;
			o->family = 4;
			memcpy(o->a, &c.orig_ip4, 4);
			s->f.orig_class = c.orig_ip4 == c.gw4 ? SBX_ADDR_HOST
							      : ops->classify(ops->ctx, o, s->port);
			sbx_addr_format(o, s->target, sizeof(s->target));
			if (s->f.orig_class != SBX_ADDR_HOST &&
			    !ops->name_for_addr(ops->ctx, &c, c.orig_ip4, s->dns_name,
						sizeof(s->dns_name)))
				s->dns_name[0] = '\0';
			s->deadline = s->born + p->lim.sniff_ms;
		} else {
			s->f.kind = SBX_CONN_FORWARD;
			s->deadline = s->born + p->lim.head_ms;
		}
		if (sbx_ev_add(ev, fd, EPOLLIN | EPOLLRDHUP, sess_io, s)) {
			sess_free(s);
			continue;
		}
		s->cmask = EPOLLIN | EPOLLRDHUP;
	}
}

/* ---- workers ------------------------------------------------------------------ */

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

static void close_pair(int p[2])
{
	for (int i = 0; i < 2; i++)
		if (p[i] >= 0)
			close(p[i]);
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
	close_pair(w->wake);
	close_pair(w->pipe_cu);
	close_pair(w->pipe_uc);
	sbx_ev_free(w->ev);
}

static int worker_init(struct sbx_proxy *p, struct worker *w)
{
	int err;

	w->p = p;
	w->fwd_fd = w->tp_fd = -1;
	w->wake[0] = w->wake[1] = w->pipe_cu[0] = w->pipe_cu[1] = w->pipe_uc[0] =
		w->pipe_uc[1] = -1;
	err = sbx_ev_new(&w->ev);
	if (!err)
		err = sbx_resolver_new(w->ev, &p->cfg.upstreams, &w->res);
	if (!err)
		err = listen_on(p->cfg.bind_ip4, p->cfg.fwd_port, &w->fwd_fd);
	if (!err)
		err = listen_on(p->cfg.bind_ip4, p->cfg.tproxy_port, &w->tp_fd);
	if (!err && (pipe2(w->wake, O_NONBLOCK | O_CLOEXEC) ||
		     pipe2(w->pipe_cu, O_NONBLOCK | O_CLOEXEC) ||
		     pipe2(w->pipe_uc, O_NONBLOCK | O_CLOEXEC)))
		err = -errno;
	/* the pipes must take a whole chunk, or a splice could strand bytes in them */
	if (!err && (fcntl(w->pipe_cu[1], F_SETPIPE_SZ, CHUNK) < CHUNK ||
		     fcntl(w->pipe_uc[1], F_SETPIPE_SZ, CHUNK) < CHUNK))
		err = -errno ? -errno : -EINVAL;
	if (!err)
		err = sbx_ev_add(w->ev, w->fwd_fd, EPOLLIN, on_accept, w);
	if (!err)
		err = sbx_ev_add(w->ev, w->tp_fd, EPOLLIN, on_accept, w);
	if (!err)
		err = sbx_ev_add(w->ev, w->wake[0], EPOLLIN, on_wake, w);
	if (!err && sbx_ev_timer(w->ev, SBX_PROXY_SWEEP_MS, sweep, w) < 0)
		err = -ENOMEM;
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

#define DEFAULT(field, value) (lim->field = lim->field ? lim->field : (value))

/* Fill the defaults; the session cap follows the descriptors there are. */
static void limits_init(struct sbx_proxy *p)
{
	struct sbx_proxy_limits *lim = &p->lim;
	struct rlimit rl;
	unsigned fit = 1024;

	*lim = p->cfg.limits;
	/* sbxd raised the soft limit to the hard one at start */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > 2 * SBX_PROXY_FD_RESERVE)
		fit = (unsigned)((rl.rlim_cur - SBX_PROXY_FD_RESERVE) / 2);
	if (!lim->sessions_max || lim->sessions_max > fit)
		lim->sessions_max = fit; /* two descriptors a session */
	DEFAULT(sessions_per_sandbox, SBX_PROXY_SESSIONS_PER_SANDBOX);
	DEFAULT(head_ms, SBX_PROXY_HEAD_MS);
	DEFAULT(sniff_ms, SBX_PROXY_SNIFF_MS);
	DEFAULT(dial_ms, SBX_PROXY_DIAL_MS);
	DEFAULT(resolve_ms, SBX_PROXY_RESOLVE_MS);
	DEFAULT(idle_ms, SBX_PROXY_IDLE_MS);
	DEFAULT(half_close_ms, SBX_PROXY_HALF_CLOSE_MS);
	p->sessions_per_worker = lim->sessions_max / (unsigned)p->nworkers;
}

int sbx_proxy_start(const struct sbx_proxy_config *cfg, const struct sbx_proxy_ops *ops,
		    struct sbx_proxy **out)
{
	struct sbx_proxy *p = calloc(1, sizeof(*p));
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
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
	limits_init(p);
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
