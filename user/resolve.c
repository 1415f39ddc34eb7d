// SPDX-License-Identifier: MIT
/*
 * Asynchronous upstream DNS over UDP; see resolve.h. Each query gets its own
 * socket, bound to a port the kernel picks at random, and a random id, so an
 * off-path spoofer must guess both. It is sent to the upstreams in turn and
 * is answered only by a datagram from the upstream it was last sent to (address
 * and port) whose id and question (name, type, class) match; anything else is
 * dropped and the query keeps waiting until its timer says otherwise. A socket
 * per query costs a descriptor while it is in flight: SBX_RESOLVE_PENDING_MAX
 * bounds them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fsutil.h"
#include "resolve.h"

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -EINVAL)

struct pending {
	struct pending *next;
	struct sbx_resolver *r;
	long handle;
	int fd; /* this query's own socket: a fresh random source port */
	uint16_t id;
	uint16_t qtype;
	int tries;
	size_t upstream;
	long timer;
	char name[SBX_DNS_NAME_BUF];
	sbx_resolve_fn fn;
	void *arg;
};

struct sbx_resolver {
	struct sbx_ev *ev;
	struct sbx_upstreams up;
	long next_handle;
	struct pending *head; /* in flight, each malloc'd so timers can point at it */
	size_t n;
};

static int addr_parse(const char *s, struct sockaddr_in *sin)
{
	char buf[64], *colon;
	unsigned long port = 53;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	colon = strchr(buf, ':');
	if (colon) {
		char *end;

		*colon = '\0';
		port = strtoul(colon + 1, &end, 10);
		if (*end || port < 1 || port > 65535)
			return -EINVAL;
	}
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, buf, &sin->sin_addr) == 1 ? 0 : -EINVAL;
}

int sbx_upstreams_parse(const char *spec, const char *resolv_conf, struct sbx_upstreams *up,
			char *err, size_t errlen)
{
	char *text = NULL, *line, *next;

	memset(up, 0, sizeof(*up));
	if (spec && *spec) {
		char buf[256], *save = NULL;

		snprintf(buf, sizeof(buf), "%s", spec);
		for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			if (up->n == SBX_RESOLVE_UPSTREAMS)
				return ERR("more than %d DNS upstreams in '%s'",
					   SBX_RESOLVE_UPSTREAMS, spec);
			if (addr_parse(t, &up->addr[up->n]))
				return ERR("DNS upstream '%s' is not IPv4[:PORT]", t);
			up->n++;
		}
		return up->n ? 0 : ERR("no DNS upstream in '%s'", spec);
	}
	if (sbx_read_file(resolv_conf, 1 << 16, &text, NULL))
		return ERR("cannot read %s; set SBX_DNS_UPSTREAM=IP[:PORT]", resolv_conf);
	for (line = text; line && up->n < SBX_RESOLVE_UPSTREAMS; line = next) {
		char ns[64];

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (sscanf(line, " nameserver %63s", ns) == 1 && addr_parse(ns, &up->addr[up->n]) == 0)
			up->n++;
	}
	free(text);
	return up->n ? 0 : ERR("no IPv4 nameserver in %s; set SBX_DNS_UPSTREAM=IP[:PORT]",
			       resolv_conf);
}

static void unlink_pending(struct sbx_resolver *r, struct pending *p)
{
	for (struct pending **pp = &r->head; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			r->n--;
			break;
		}
	}
	if (p->timer > 0)
		sbx_ev_timer_cancel(r->ev, p->timer);
	if (p->fd >= 0) {
		sbx_ev_del(r->ev, p->fd);
		close(p->fd);
	}
	free(p);
}

static void finish(struct sbx_resolver *r, struct pending *p, int err, int rcode,
		   const struct sbx_dns_rr *rrs, size_t n)
{
	sbx_resolve_fn fn = p->fn;
	void *arg = p->arg;

	unlink_pending(r, p);
	fn(arg, err, rcode, rrs, n); /* may start or cancel lookups */
}

static void timeout_cb(struct sbx_ev *ev, void *arg);

static void try_send(struct sbx_resolver *r, struct pending *p)
{
	uint8_t pkt[SBX_DNS_NAME_BUF + 32];
	struct sockaddr_in *to = &r->up.addr[p->upstream % r->up.n];
	size_t len;

	/* a failed send is treated like a lost datagram: the timer retries */
	if (sbx_dns_build_query(p->id, p->name, p->qtype, pkt, sizeof(pkt), &len) == 0)
		sendto(p->fd, pkt, len, MSG_DONTWAIT, (struct sockaddr *)to, sizeof(*to));
	p->timer = sbx_ev_timer(r->ev, SBX_RESOLVE_TRY_MS, timeout_cb, p);
}

static void timeout_cb(struct sbx_ev *ev, void *arg)
{
	struct pending *p = arg;
	struct sbx_resolver *r = p->r;

	p->timer = 0;
	if (++p->tries >= SBX_RESOLVE_TRIES) {
		finish(r, p, -ETIMEDOUT, 0, NULL, 0);
		return;
	}
	p->upstream++;
	try_send(r, p);
}

/* Is this datagram the answer to @p? Returns 0 and fills the answer, or -errno. */
static int match(const struct sbx_resolver *r, const struct pending *p, const uint8_t *pkt,
		 size_t len, const struct sockaddr_in *from, socklen_t flen,
		 struct sbx_dns_rr *rrs, size_t max, size_t *n, int *rcode)
{
	const struct sockaddr_in *want = &r->up.addr[p->upstream % r->up.n];

	if (flen != sizeof(*from) || from->sin_family != AF_INET ||
	    from->sin_addr.s_addr != want->sin_addr.s_addr || from->sin_port != want->sin_port)
		return -EPERM; /* not from the server we asked */
	/* the id, then the question (name case-insensitively, type, class IN) */
	return sbx_dns_parse_reply(pkt, len, p->id, p->name, p->qtype, rrs, max, n, rcode);
}

static void on_readable(struct sbx_ev *ev, int fd, uint32_t events, void *arg)
{
	struct pending *p = arg;

	/* bounded: a flood of forgeries cannot hold the loop */
	for (int i = 0; i < SBX_RESOLVE_READS; i++) {
		uint8_t pkt[4096];
		struct sockaddr_in from;
		socklen_t flen = sizeof(from);
		struct sbx_dns_rr rrs[16];
		size_t n = 0;
		int rcode = 0;
		ssize_t len = recvfrom(fd, pkt, sizeof(pkt), MSG_DONTWAIT, (struct sockaddr *)&from,
				       &flen);

		if (len < 0)
			return;
		if (match(p->r, p, pkt, (size_t)len, &from, flen, rrs, 16, &n, &rcode))
			continue; /* dropped: keep waiting for the real answer */
		finish(p->r, p, 0, rcode, rrs, n);
		return;
	}
}

int sbx_resolver_new(struct sbx_ev *ev, const struct sbx_upstreams *up,
		     struct sbx_resolver **out)
{
	struct sbx_resolver *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	if (!up->n || up->n > SBX_RESOLVE_UPSTREAMS) {
		free(r);
		return -EINVAL;
	}
	r->ev = ev;
	r->up = *up;
	*out = r;
	return 0;
}

void sbx_resolver_free(struct sbx_resolver *r)
{
	if (!r)
		return;
	/* every callback runs exactly once: owners free what they attached */
	while (r->head)
		finish(r, r->head, -ECANCELED, 0, NULL, 0);
	free(r);
}

/* A UDP socket on a port the kernel picks at random among the ephemeral ones. */
static int query_socket(struct sbx_ev *ev, struct pending *p)
{
	struct sockaddr_in any = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), err;

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&any, sizeof(any))) {
		err = -errno;
		close(fd);
		return err;
	}
	err = sbx_ev_add(ev, fd, EPOLLIN, on_readable, p);
	if (err) {
		close(fd);
		return err;
	}
	p->fd = fd;
	return 0;
}

long sbx_resolve(struct sbx_resolver *r, const char *name, uint16_t qtype, sbx_resolve_fn fn,
		 void *arg)
{
	struct pending *p;
	uint16_t id;
	int err;

	if (strlen(name) > SBX_DNS_NAME_MAX)
		return -EINVAL;
	if (r->n >= SBX_RESOLVE_PENDING_MAX)
		return -EBUSY;
	if (getrandom(&id, sizeof(id), 0) != sizeof(id))
		return -EIO;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->fd = -1;
	err = query_socket(r->ev, p);
	if (err) {
		free(p);
		return err;
	}
	p->r = r;
	p->handle = ++r->next_handle;
	p->id = id;
	p->qtype = qtype;
	p->fn = fn;
	p->arg = arg;
	p->upstream = (size_t)id % r->up.n;
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->next = r->head;
	r->head = p;
	r->n++;
	try_send(r, p);
	return p->handle;
}

void sbx_resolve_cancel(struct sbx_resolver *r, long handle)
{
	for (struct pending *p = r->head; p; p = p->next) {
		if (p->handle == handle) {
			unlink_pending(r, p);
			return;
		}
	}
}
