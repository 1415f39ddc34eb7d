// SPDX-License-Identifier: MIT
/*
 * The sandboxes' policy-aware resolver; see dnsd.h. What it holds for a
 * sandbox (lookups waiting upstream, TCP connections) is counted per sandbox
 * in a small table, so no sandbox takes more than its share.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dnsd.h"
#include "dnsmsg.h"
#include "log.h"

/*
 * Open addressing over sandbox ids. A slot once used keeps its id (probe
 * chains never break); a slot whose counts are zero is free for another id.
 * Live entries are at most SBX_DNSD_PENDING_MAX + SBX_DNSD_TCP_MAX.
 */
#define SHARES 2048

struct share {
	bool used;
	uint32_t sandbox_id;
	unsigned pending, tcp;
};

struct memo {
	uint32_t sandbox_id; /* 0: empty */
	uint32_t ip4;
	time_t expires;
	char name[SBX_DNS_NAME_BUF];
};

/* A DNS-over-TCP client (what connect4 sends TCP port 53 to): queries framed by length. */
struct tcpconn {
	struct sbx_dnsd *d;
	struct tcpconn *prev, *next; /* open connections */
	int fd;
	struct share *share;
	uint64_t started; /* when the partial query in @in began, 0 if none */
	int refs;  /* the connection, and each query waiting upstream */
	bool dead;   /* closed while queries were pending */
	bool broken; /* a reply could not be sent: close at the next chance */
	long timer;
	uint8_t in[2 + SBX_DNS_EDNS_UDP_MAX];
	size_t in_len;
};

struct query {
	struct sbx_dnsd *d;
	struct tcpconn *tc; /* NULL over UDP */
	struct sockaddr_in from;
	struct sbx_dns_query q;
	struct share *share;
	uint8_t pkt[512];
	size_t len;
	uint32_t sandbox_id;
};

struct sbx_dnsd {
	struct sbx_ev *ev;
	struct sbx_dnsd_ops ops;
	struct sbx_resolver *res;
	int fd, tcp_fd;
	unsigned pending, ntcp;
	struct tcpconn *conns;
	pthread_mutex_t lock; /* memo is read by proxy threads */
	struct memo *memo;
	size_t nmemo;
	struct share shares[SHARES];
};

/* The counts of @sandbox_id, found or made; NULL only if every slot is live (cannot be). */
static struct share *share_of(struct sbx_dnsd *d, uint32_t sandbox_id)
{
	size_t s = (size_t)(sandbox_id * 0x9e3779b1u) & (SHARES - 1);
	struct share *spare = NULL;

	for (size_t i = 0; i < SHARES; i++, s = (s + 1) & (SHARES - 1)) {
		struct share *sh = &d->shares[s];

		if (sh->used && sh->sandbox_id == sandbox_id)
			return sh;
		if (!spare && (!sh->used || (!sh->pending && !sh->tcp)))
			spare = sh;
		if (!sh->used)
			break;
	}
	if (spare)
		*spare = (struct share){ .used = true, .sandbox_id = sandbox_id };
	return spare;
}

static size_t memo_slot(uint32_t sandbox_id, uint32_t ip4)
{
	uint64_t h = ((uint64_t)sandbox_id << 32 | ip4) * 0x9e3779b97f4a7c15ULL;

	return (size_t)(h >> 40) & (SBX_DNSD_MEMORY - 1);
}

/* Open addressing; when full of live entries, the oldest answers go first. */
static void remember(struct sbx_dnsd *d, uint32_t sandbox_id, uint32_t ip4, const char *name,
		     time_t now)
{
	size_t s = memo_slot(sandbox_id, ip4), victim = s;

	pthread_mutex_lock(&d->lock);
	for (size_t i = 0; i < 16; i++, s = (s + 1) & (SBX_DNSD_MEMORY - 1)) {
		struct memo *m = &d->memo[s];

		if (!m->sandbox_id || m->expires < now ||
		    (m->sandbox_id == sandbox_id && m->ip4 == ip4)) {
			victim = s;
			break;
		}
		if (m->expires < d->memo[victim].expires)
			victim = s;
	}
	d->memo[victim] = (struct memo){ sandbox_id, ip4, now + SBX_DNSD_REMEMBER_S, "" };
	snprintf(d->memo[victim].name, sizeof(d->memo[victim].name), "%s", name);
	pthread_mutex_unlock(&d->lock);
}

bool sbx_dnsd_name_for(struct sbx_dnsd *d, uint32_t sandbox_id, uint32_t ip4, char *name,
		       size_t len)
{
	size_t s = memo_slot(sandbox_id, ip4);
	time_t now = time(NULL);
	bool found = false;

	if (!d)
		return false;
	pthread_mutex_lock(&d->lock);
	for (size_t i = 0; i < 16; i++, s = (s + 1) & (SBX_DNSD_MEMORY - 1)) {
		struct memo *m = &d->memo[s];

		if (m->sandbox_id == sandbox_id && m->ip4 == ip4 && m->expires >= now) {
			snprintf(name, len, "%s", m->name);
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&d->lock);
	return found;
}

static void tc_unref(struct tcpconn *tc)
{
	if (--tc->refs > 0)
		return;
	tc->d->ntcp--;
	free(tc);
}

static void tc_close(struct tcpconn *tc)
{
	if (tc->dead)
		return;
	tc->dead = true;
	if (tc->prev)
		tc->prev->next = tc->next;
	else
		tc->d->conns = tc->next;
	if (tc->next)
		tc->next->prev = tc->prev;
	if (tc->timer > 0)
		sbx_ev_timer_cancel(tc->d->ev, tc->timer);
	tc->timer = 0;
	sbx_ev_del(tc->d->ev, tc->fd);
	close(tc->fd);
	tc->share->tcp--;
	tc_unref(tc);
}

static void reply(struct sbx_dnsd *d, const struct sockaddr_in *to, struct tcpconn *tc,
		  const struct sbx_dns_query *q, const uint8_t *qpkt, int rcode,
		  const struct sbx_dns_rr *rrs, size_t n)
{
	uint8_t out[2 + SBX_DNS_EDNS_UDP_MAX];
	size_t used, limit = tc ? sizeof(out) - 2 : sbx_dns_reply_limit(q);

	if (limit > sizeof(out) - 2)
		limit = sizeof(out) - 2;
	if (sbx_dns_build_reply(q, qpkt, rcode, rrs, n, out + 2, limit, &used))
		return;
	if (!tc) {
		sendto(d->fd, out + 2, used, MSG_DONTWAIT, (const struct sockaddr *)to,
		       sizeof(*to));
		return;
	}
	if (tc->dead)
		return;
	out[0] = (uint8_t)(used >> 8);
	out[1] = (uint8_t)used;
	/* a small reply to a client that asked for it: a full socket buffer means it is gone */
	if (send(tc->fd, out, used + 2, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)(used + 2))
		tc->broken = true;
}

static void on_upstream(void *arg, int err, int rcode, const struct sbx_dns_rr *rrs, size_t n)
{
	struct query *qq = arg;
	struct sbx_dnsd *d = qq->d;
	struct sbx_dns_rr out[SBX_DNS_MAX_ANSWERS];
	size_t k = 0;
	time_t now = time(NULL);

	d->pending--;
	qq->share->pending--;
	if (err) {
		if (err != -ECANCELED)
			reply(d, &qq->from, qq->tc, &qq->q, qq->pkt, SBX_DNS_RCODE_SERVFAIL, NULL,
			      0);
		goto out;
	}
	for (size_t i = 0; i < n && k < SBX_DNS_MAX_ANSWERS; i++) {
		if (rrs[i].type != SBX_DNS_TYPE_A)
			continue;
		out[k] = rrs[i];
		if (out[k].ttl > SBX_DNSD_TTL_MAX)
			out[k].ttl = SBX_DNSD_TTL_MAX;
		{
			uint32_t ip4;

			memcpy(&ip4, rrs[i].addr, 4);
			remember(d, qq->sandbox_id, ip4, qq->q.name, now);
		}
		k++;
	}
	reply(d, &qq->from, qq->tc, &qq->q, qq->pkt, rcode == SBX_DNS_RCODE_NXDOMAIN ? rcode : 0,
	      out, k);
out:
	if (qq->tc) {
		if (qq->tc->broken)
			tc_close(qq->tc);
		tc_unref(qq->tc);
	}
	free(qq);
}

static bool is_gateway_name(const char *n)
{
	return strcmp(n, "gateway.docker.internal") == 0 || strcmp(n, "host.docker.internal") == 0;
}

static void on_query(struct sbx_dnsd *d, const uint8_t *pkt, size_t len,
		     const struct sockaddr_in *from, struct tcpconn *tc)
{
	struct sbx_dns_query q;
	struct query *qq;
	struct share *share;
	char sandbox[64];
	uint32_t sandbox_id, gw4;
	int err;

	if (!d->ops.identify(d->ops.ctx, from, &sandbox_id, sandbox, sizeof(sandbox), &gw4))
		return; /* not one of ours: say nothing */
	err = sbx_dns_parse_query(pkt, len, &q);
	if (err) {
		if (len >= SBX_DNS_HDR_LEN && err != -EMSGSIZE) {
			memset(&q, 0, sizeof(q));
			q.id = (uint16_t)(pkt[0] << 8 | pkt[1]);
			q.question_end = SBX_DNS_HDR_LEN;
			reply(d, from, tc, &q, pkt,
			      err == -EOPNOTSUPP ? SBX_DNS_RCODE_NOTIMP : SBX_DNS_RCODE_FORMERR,
			      NULL, 0);
		}
		return;
	}
	if (is_gateway_name(q.name)) {
		struct sbx_dns_rr rr = { .type = SBX_DNS_TYPE_A, .ttl = 60 };

		memcpy(rr.addr, &gw4, 4);
		reply(d, from, tc, &q, pkt, 0, &rr, q.qtype == SBX_DNS_TYPE_A ? 1 : 0);
		return;
	}
	if (!q.name[0] || !d->ops.may_resolve(d->ops.ctx, sandbox, q.name)) {
		pr_debug("dns: refused %s for %s\n", q.name, sandbox);
		d->ops.refused(d->ops.ctx, sandbox_id, q.name);
		reply(d, from, tc, &q, pkt, SBX_DNS_RCODE_REFUSED, NULL, 0);
		return;
	}
	if (q.qtype != SBX_DNS_TYPE_A || q.qclass != SBX_DNS_CLASS_IN) {
		/* sandboxes reach the world over IPv4 through the proxy: no other answers */
		reply(d, from, tc, &q, pkt, 0, NULL, 0);
		return;
	}
	share = share_of(d, sandbox_id);
	/* past its share (or everyone's), a sandbox is told at once rather than queued */
	if (!share || share->pending >= SBX_DNSD_PENDING_PER_SANDBOX ||
	    d->pending >= SBX_DNSD_PENDING_MAX || len > sizeof(qq->pkt)) {
		reply(d, from, tc, &q, pkt, SBX_DNS_RCODE_SERVFAIL, NULL, 0);
		return;
	}
	qq = calloc(1, sizeof(*qq));
	if (!qq)
		return;
	qq->d = d;
	qq->tc = tc;
	if (tc)
		tc->refs++;
	qq->from = *from;
	qq->q = q;
	memcpy(qq->pkt, pkt, len);
	qq->len = len;
	qq->sandbox_id = sandbox_id;
	qq->share = share;
	share->pending++;
	d->pending++;
	if (sbx_resolve(d->res, q.name, SBX_DNS_TYPE_A, on_upstream, qq) < 0)
		on_upstream(qq, -EIO, 0, NULL, 0);
}

static void on_readable(struct sbx_ev *ev, int fd, uint32_t events, void *arg)
{
	struct sbx_dnsd *d = arg;

	for (int i = 0; i < 64; i++) {
		uint8_t pkt[SBX_DNS_EDNS_UDP_MAX];
		struct sockaddr_in from;
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(fd, pkt, sizeof(pkt), MSG_DONTWAIT, (struct sockaddr *)&from,
				     &flen);

		if (n < 0)
			return;
		on_query(d, pkt, (size_t)n, &from, NULL);
	}
}

static void tc_idle(struct sbx_ev *ev, void *arg)
{
	struct tcpconn *tc = arg;

	tc->timer = 0;
	tc_close(tc);
}

/*
 * One deadline per connection: SBX_DNSD_TCP_IDLE_MS while no query has
 * started, and SBX_DNSD_TCP_SLOW_MS from a query's first byte to its last,
 * so a client trickling bytes cannot hold its slot.
 */
static void tc_arm(struct tcpconn *tc)
{
	uint64_t now = sbx_ev_now_ms(), ms = SBX_DNSD_TCP_IDLE_MS;

	if (tc->in_len) {
		uint64_t due;

		if (!tc->started)
			tc->started = now;
		due = tc->started + SBX_DNSD_TCP_SLOW_MS;
		ms = due > now ? due - now : 0;
	} else {
		tc->started = 0;
	}
	if (tc->timer > 0)
		sbx_ev_timer_cancel(tc->d->ev, tc->timer);
	tc->timer = sbx_ev_timer(tc->d->ev, ms, tc_idle, tc);
}

static void tc_readable(struct sbx_ev *ev, int fd, uint32_t events, void *arg)
{
	struct tcpconn *tc = arg;
	struct sockaddr_in peer;
	socklen_t plen = sizeof(peer);
	ssize_t n = recv(fd, tc->in + tc->in_len, sizeof(tc->in) - tc->in_len, MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0 || getpeername(fd, (struct sockaddr *)&peer, &plen)) {
		tc_close(tc);
		return;
	}
	tc->in_len += (size_t)n;
	while (tc->in_len >= 2 && !tc->broken) {
		size_t len = (size_t)tc->in[0] << 8 | tc->in[1];

		if (len == 0 || len > sizeof(tc->in) - 2) {
			tc_close(tc); /* not a query we would answer */
			return;
		}
		if (tc->in_len < len + 2)
			break;
		on_query(tc->d, tc->in + 2, len, &peer, tc);
		memmove(tc->in, tc->in + 2 + len, tc->in_len - 2 - len);
		tc->in_len -= 2 + len;
		tc->started = 0; /* the next query's clock starts with its first byte */
	}
	if (tc->broken)
		tc_close(tc);
	else
		tc_arm(tc);
}

/* The sandbox behind a TCP client, and its counts; NULL if not one of ours. */
static struct share *tcp_share(struct sbx_dnsd *d, int fd)
{
	struct sockaddr_in peer;
	socklen_t plen = sizeof(peer);
	char sandbox[64];
	uint32_t sandbox_id, gw4;

	if (getpeername(fd, (struct sockaddr *)&peer, &plen) || peer.sin_family != AF_INET ||
	    !d->ops.identify(d->ops.ctx, &peer, &sandbox_id, sandbox, sizeof(sandbox), &gw4))
		return NULL;
	return share_of(d, sandbox_id);
}

static void tcp_accept(struct sbx_ev *ev, int fd, uint32_t events, void *arg)
{
	struct sbx_dnsd *d = arg;

	for (int i = 0; i < 16; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct tcpconn *tc = NULL;
		struct share *share;

		if (cfd < 0)
			return;
		/* strangers, and a sandbox past its share, are closed at once */
		share = tcp_share(d, cfd);
		if (share && share->tcp < SBX_DNSD_TCP_PER_SANDBOX && d->ntcp < SBX_DNSD_TCP_MAX)
			tc = calloc(1, sizeof(*tc));
		if (!tc || sbx_ev_add(ev, cfd, EPOLLIN, tc_readable, tc)) {
			free(tc);
			close(cfd);
			continue;
		}
		tc->d = d;
		tc->fd = cfd;
		tc->share = share;
		share->tcp++;
		tc->refs = 1;
		tc->next = d->conns;
		if (d->conns)
			d->conns->prev = tc;
		d->conns = tc;
		d->ntcp++;
		tc_arm(tc);
	}
}

int sbx_dnsd_start(struct sbx_ev *ev, uint32_t bind_ip4, uint16_t port,
		   const struct sbx_upstreams *up, const struct sbx_dnsd_ops *ops,
		   struct sbx_dnsd **out)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port),
				   .sin_addr.s_addr = bind_ip4 };
	struct sbx_dnsd *d = calloc(1, sizeof(*d));
	int err;

	if (!d)
		return -ENOMEM;
	d->ev = ev;
	d->ops = *ops;
	d->fd = d->tcp_fd = -1;
	pthread_mutex_init(&d->lock, NULL);
	d->memo = calloc(SBX_DNSD_MEMORY, sizeof(*d->memo));
	if (!d->memo) {
		err = -ENOMEM;
		goto fail;
	}
	err = sbx_resolver_new(ev, up, &d->res);
	if (err)
		goto fail;
	d->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (d->fd < 0 || bind(d->fd, (struct sockaddr *)&sin, sizeof(sin))) {
		err = -errno;
		goto fail;
	}
	err = sbx_ev_add(ev, d->fd, EPOLLIN, on_readable, d);
	if (err)
		goto fail;
	d->tcp_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (d->tcp_fd < 0 ||
	    setsockopt(d->tcp_fd, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 }, sizeof(int)) ||
	    bind(d->tcp_fd, (struct sockaddr *)&sin, sizeof(sin)) || listen(d->tcp_fd, 64)) {
		err = -errno;
		goto fail;
	}
	err = sbx_ev_add(ev, d->tcp_fd, EPOLLIN, tcp_accept, d);
	if (err)
		goto fail;
	*out = d;
	return 0;
fail:
	sbx_dnsd_free(d);
	return err;
}

void sbx_dnsd_free(struct sbx_dnsd *d)
{
	if (!d)
		return;
	sbx_resolver_free(d->res); /* cancels pending queries, which free themselves */
	if (d->fd >= 0) {
		sbx_ev_del(d->ev, d->fd);
		close(d->fd);
	}
	if (d->tcp_fd >= 0) {
		sbx_ev_del(d->ev, d->tcp_fd);
		close(d->tcp_fd);
	}
	while (d->conns)
		tc_close(d->conns);
	pthread_mutex_destroy(&d->lock);
	free(d->memo);
	free(d);
}
