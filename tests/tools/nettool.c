// SPDX-License-Identifier: MIT
/*
 * nettool: the escape attempts the integration tests make from inside a
 * sandbox, each printing "ok" or "refused: <errno text>" and exiting 0 or 1.
 *   nettool raw                 socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)
 *   nettool packet              socket(AF_PACKET, SOCK_RAW, ...)
 *   nettool udp IP PORT         send one datagram
 *   nettool tcp IP PORT         connect (IPv4 or IPv6 literal), getpeername, then report
 *                               what the peer does within 3 s: data=..., eof, reset, timeout
 *   nettool icmp IP             one ICMP echo over a ping socket
 *   nettool talk IP PORT STEP...
 *                               connect, then play the steps in order (the attacks of the
 *                               fronting tests: silence, split first flights, crafted TLS):
 *     connect=HOST:PORT         CONNECT through IP:PORT (a forward proxy); reads the reply
 *                               head, and stops unless it is 200
 *     sleep=MS                  stay silent
 *     send=TEXT                 send TEXT; \r \n \t \\ \xHH are unescaped
 *     hello=NAME[,NAME...]      send a TLS 1.2 ClientHello whose one server_name extension
 *                               lists every NAME in order ("-": no server_name)
 *     hello2=NAME,NAME          the same with one server_name extension per NAME
 *     records=K                 split the following ClientHellos over K TLS records
 *     chunk=N gap=MS            write the following sends N bytes at a time, MS apart
 *     read=MS                   collect what the peer sends for MS, or until it closes
 *     expect=TEXT               stop unless what was received so far contains TEXT
 *     shut                      shutdown(SHUT_WR)
 *   and prints "ok end=open|eof|reset tls=server-hello|alert|none connect=STATUS|-
 *   bytes=N" then "recv:" and every received byte (printable kept, CR dropped, lines kept,
 *   others as '.'). A send that fails ends the steps and says why. "refused: ..." if the connect fails.
 *   nettool socket FAMILY TYPE PROTO
 *                               socket() only; FAMILY unix|inet|inet6|netlink|packet|vsock|alg
 *                               or a number, TYPE stream|dgram|raw|seqpacket or a number
 *   nettool dns IP PORT NAME    an A query for NAME over a fresh connected UDP socket (as
 *                               glibc asks): "ok ADDR ..." or "ok rcode=N"
 *   nettool dnsmany IP PORT N SUFFIX
 *                               A queries for q0.SUFFIX .. q<N-1>.SUFFIX, one after the other
 *                               over one connected UDP socket, each given 2 s to be
 *                               answered: "ok answered=A"
 *   nettool spray N SECONDS     one datagram to each of N distinct 10.x.y.z:9999, stopping
 *                               after SECONDS: "ok sent=S refused=R" (R: sendto said EPERM)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int result(int ok, const char *what)
{
	if (ok)
		printf("ok%s%s\n", what ? " " : "", what ? what : "");
	else
		printf("refused: %s\n", strerror(errno));
	return ok ? 0 : 1;
}

static int fill(const char *ip, const char *port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *a = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *b = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &a->sin_addr) == 1) {
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)atoi(port));
		*len = sizeof(*a);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, ip, &b->sin6_addr) == 1) {
		b->sin6_family = AF_INET6;
		b->sin6_port = htons((uint16_t)atoi(port));
		*len = sizeof(*b);
		return AF_INET6;
	}
	fprintf(stderr, "bad address %s\n", ip);
	exit(2);
}

struct named {
	const char *name;
	int value;
};

static const struct named families[] = {
	{ "unix", AF_UNIX },	   { "inet", AF_INET },	  { "inet6", AF_INET6 },
	{ "netlink", AF_NETLINK }, { "packet", AF_PACKET }, { "vsock", 40 /* AF_VSOCK */ },
	{ "alg", 38 /* AF_ALG */ },
};

static const struct named types[] = {
	{ "stream", SOCK_STREAM },
	{ "dgram", SOCK_DGRAM },
	{ "raw", SOCK_RAW },
	{ "seqpacket", SOCK_SEQPACKET },
};

static int lookup(const struct named *t, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(t[i].name, s))
			return t[i].value;
	return atoi(s);
}

/* A query for name (type A, class IN), id 0x5b5b, recursion desired; its length. */
static size_t dns_query(unsigned char *q, size_t size, const char *name)
{
	size_t n = 12, lab;
	const char *p = name, *dot;

	memset(q, 0, 12);
	q[0] = q[1] = 0x5b;
	q[2] = 0x01;
	q[5] = 1;
	while (*p && n + 64 + 5 < size) {
		dot = strchr(p, '.');
		lab = dot ? (size_t)(dot - p) : strlen(p);
		if (lab == 0 || lab > 63)
			break;
		q[n++] = (unsigned char)lab;
		memcpy(q + n, p, lab);
		n += lab;
		p += lab + (dot ? 1 : 0);
	}
	q[n++] = 0;
	q[n++] = 0;
	q[n++] = 1; /* A */
	q[n++] = 0;
	q[n++] = 1; /* IN */
	return n;
}

/* "ok A1 A2 ..." for the A records of an answer, "ok rcode=N" when there are none. */
static int dns_answer(const unsigned char *r, size_t len)
{
	char out[256] = "", a[INET_ADDRSTRLEN];
	size_t off = 12, rdlen;
	unsigned an, i;

	if (len < 12 || r[0] != 0x5b || r[1] != 0x5b) {
		errno = EPROTO;
		return result(0, NULL);
	}
	an = (unsigned)r[6] << 8 | r[7];
	while (off < len && r[off]) /* the question's name */
		off += r[off] + 1u;
	off += 5;
	for (i = 0; i < an && off + 12 <= len; i++) {
		off += (r[off] & 0xc0) == 0xc0 ? 2 : 0; /* sbxd and dnsmasq point at the question */
		rdlen = (size_t)r[off + 8] << 8 | r[off + 9];
		if (r[off + 1] == 1 && rdlen == 4 && off + 10 + 4 <= len)
			snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s",
				 out[0] ? " " : "", inet_ntop(AF_INET, r + off + 10, a, sizeof(a)));
		off += 10 + rdlen;
	}
	if (!out[0])
		snprintf(out, sizeof(out), "rcode=%u", r[3] & 0x0f);
	return result(1, out);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- talk ---------------------------------------------------------------------------------- */

#define TALK_RECV_MAX 65536
#define TALK_SEND_MAX 8192
#define TALK_NAMES_MAX 8
#define TALK_CONNECT_MS 5000

struct talk {
	int fd;
	char recv[TALK_RECV_MAX + 1]; /* NUL after the last byte: calloc'ed, never filled */
	size_t nrecv;
	const char *end;	/* "open", "eof", "reset" */
	int connect_status;	/* -1: no CONNECT */
	size_t chunk;		/* 0: one write */
	int gap_ms;
	int records;
	char why[160];		/* why the steps stopped early, "" if they did not */
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Collect what the peer sends for ms, until it closes, or (stop_at_head) a blank line. */
static void talk_read(struct talk *t, int ms, int stop_at_head)
{
	long long until = now_ms() + ms;

	while (strcmp(t->end, "open") == 0) {
		long long left = until - now_ms();
		struct pollfd p = { .fd = t->fd, .events = POLLIN };
		char scratch[4096], *dst = scratch;
		size_t room = sizeof(scratch);
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) != 1)
			return;
		if (t->nrecv < TALK_RECV_MAX) {
			dst = t->recv + t->nrecv;
			room = TALK_RECV_MAX - t->nrecv;
		}
		n = recv(t->fd, dst, room, 0);
		if (n == 0) {
			t->end = "eof";
		} else if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			t->end = errno == ECONNRESET ? "reset" : "error";
		} else if (dst != scratch) {
			t->nrecv += (size_t)n;
			if (stop_at_head && memmem(t->recv, t->nrecv, "\r\n\r\n", 4))
				return;
		}
	}
}

/* Send len bytes as the chunk/gap settings say; 0 or -errno. */
static int talk_send(struct talk *t, const uint8_t *buf, size_t len)
{
	size_t off = 0, step = t->chunk ? t->chunk : len;

	while (off < len) {
		size_t n = len - off < step ? len - off : step;
		ssize_t w = send(t->fd, buf + off, n, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += (size_t)w;
		if (off < len && t->gap_ms)
			sleep_ms(t->gap_ms);
	}
	return 0;
}

/* TEXT with \r \n \t \\ \xHH unescaped into out; its length. */
static size_t unescape(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;

	while (*s && n < cap) {
		if (*s != '\\' || !s[1]) {
			out[n++] = (uint8_t)*s++;
			continue;
		}
		s++;
		switch (*s) {
		case 'r': out[n++] = '\r'; s++; break;
		case 'n': out[n++] = '\n'; s++; break;
		case 't': out[n++] = '\t'; s++; break;
		case 'x': {
			unsigned int v = 0;

			if (sscanf(s + 1, "%2x", &v) == 1) {
				out[n++] = (uint8_t)v;
				s += 3;
			} else {
				out[n++] = 'x';
				s++;
			}
			break;
		}
		default: out[n++] = (uint8_t)*s++; break;
		}
	}
	return n;
}

static uint8_t *put16(uint8_t *p, size_t v)
{
	*p++ = (uint8_t)(v >> 8);
	*p++ = (uint8_t)v;
	return p;
}

/*
 * A TLS 1.2 ClientHello an OpenSSL server answers in the clear (ServerHello, then its
 * certificate, which names the virtual host it chose), with the names in one server_name
 * extension (one_ext) or one extension each. Returns the handshake message's length.
 */
static size_t build_hello(char *names, int one_ext, uint8_t *out, size_t cap)
{
	static const uint8_t suites[] = { 0xc0, 0x2b, 0xc0, 0x2f, 0xc0, 0x2c, 0xc0, 0x30,
					  0xcc, 0xa9, 0xcc, 0xa8, 0x00, 0x9c, 0x00, 0x2f,
					  0x00, 0xff };
	static const uint8_t other_ext[] = {
		0x00, 0x0a, 0x00, 0x08, 0x00, 0x06, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18, /* groups */
		0x00, 0x0b, 0x00, 0x02, 0x01, 0x00,				  /* points */
		0x00, 0x0d, 0x00, 0x0c, 0x00, 0x0a, 0x04, 0x03, 0x05, 0x03, 0x08, 0x04, 0x04, 0x01,
		0x02, 0x01,						  /* sigalgs */
		0x00, 0x17, 0x00, 0x00,					  /* ems */
	};
	char *list[TALK_NAMES_MAX], *save = NULL, *tok;
	uint8_t *p = out + 4, *ext_len, *sni_start = NULL;
	size_t nnames = 0, i;

	if (cap < 1024)
		return 0;
	for (tok = strtok_r(names, ",", &save); tok && nnames < TALK_NAMES_MAX;
	     tok = strtok_r(NULL, ",", &save))
		if (strcmp(tok, "-") && strlen(tok) < 256)
			list[nnames++] = tok;
	*p++ = 3;
	*p++ = 3;
	for (i = 0; i < 32; i++)
		*p++ = (uint8_t)(rand() & 0xff);
	*p++ = 32;
	for (i = 0; i < 32; i++)
		*p++ = (uint8_t)(rand() & 0xff);
	p = put16(p, sizeof(suites));
	memcpy(p, suites, sizeof(suites));
	p += sizeof(suites);
	*p++ = 1;
	*p++ = 0;
	ext_len = p;
	p += 2;
	for (i = 0; i < nnames; i++) {
		size_t n = strlen(list[i]);

		if (!one_ext || i == 0) {
			p = put16(p, 0); /* server_name */
			sni_start = p;
			p += 4;
		}
		*p++ = 0; /* host_name */
		p = put16(p, n);
		memcpy(p, list[i], n);
		p += n;
		if (!one_ext || i == nnames - 1) {
			put16(sni_start, (size_t)(p - sni_start - 2));
			put16(sni_start + 2, (size_t)(p - sni_start - 4));
		}
	}
	memcpy(p, other_ext, sizeof(other_ext));
	p += sizeof(other_ext);
	put16(ext_len, (size_t)(p - ext_len - 2));
	out[0] = 1; /* client_hello */
	out[1] = 0;
	put16(out + 2, (size_t)(p - out - 4));
	return (size_t)(p - out);
}

/* The handshake message in k records (k >= 1) into out; the bytes to send. */
static size_t frame_records(const uint8_t *hs, size_t len, int k, uint8_t *out)
{
	size_t off = 0, n = 0, part = (len + (size_t)k - 1) / (size_t)k;

	while (off < len) {
		size_t m = len - off < part ? len - off : part;

		out[n++] = 22;
		out[n++] = 3;
		out[n++] = 1;
		put16(out + n, m);
		n += 2;
		memcpy(out + n, hs + off, m);
		n += m;
		off += m;
	}
	return n;
}

static int talk_step(struct talk *t, char *step)
{
	static uint8_t buf[TALK_SEND_MAX], framed[TALK_SEND_MAX + 5 * 64];
	char *arg = strchr(step, '=');
	size_t n;
	int err;

	if (arg)
		*arg++ = '\0';
	if (!strcmp(step, "sleep") && arg) {
		sleep_ms(atoi(arg));
	} else if (!strcmp(step, "read") && arg) {
		talk_read(t, atoi(arg), 0);
	} else if (!strcmp(step, "chunk") && arg) {
		t->chunk = (size_t)atoi(arg);
	} else if (!strcmp(step, "gap") && arg) {
		t->gap_ms = atoi(arg);
	} else if (!strcmp(step, "records") && arg) {
		t->records = atoi(arg) < 1 ? 1 : atoi(arg) > 64 ? 64 : atoi(arg);
	} else if (!strcmp(step, "expect") && arg) {
		if (!memmem(t->recv, t->nrecv, arg, strlen(arg))) {
			snprintf(t->why, sizeof(t->why), "expected %.100s", arg);
			return -ENOMSG;
		}
	} else if (!strcmp(step, "shut")) {
		shutdown(t->fd, SHUT_WR);
	} else if (!strcmp(step, "send") && arg) {
		n = unescape(arg, buf, sizeof(buf));
		if ((err = talk_send(t, buf, n))) {
			snprintf(t->why, sizeof(t->why), "send: %s", strerror(-err));
			return err;
		}
	} else if ((!strcmp(step, "hello") || !strcmp(step, "hello2")) && arg) {
		n = build_hello(arg, !strcmp(step, "hello"), buf, sizeof(buf));
		n = frame_records(buf, n, t->records, framed);
		if ((err = talk_send(t, framed, n))) {
			snprintf(t->why, sizeof(t->why), "send hello: %s", strerror(-err));
			return err;
		}
	} else if (!strcmp(step, "connect") && arg) {
		char req[600];
		int len = snprintf(req, sizeof(req), "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n",
				   arg, arg);

		if ((err = talk_send(t, (const uint8_t *)req, (size_t)len))) {
			snprintf(t->why, sizeof(t->why), "send CONNECT: %s", strerror(-err));
			return err;
		}
		talk_read(t, TALK_CONNECT_MS, 1);
		if (sscanf(t->recv, "HTTP/1.%*1d %3d", &t->connect_status) != 1)
			t->connect_status = 0;
		if (t->connect_status != 200) {
			snprintf(t->why, sizeof(t->why), "CONNECT answered %d", t->connect_status);
			return -EACCES;
		}
		/* what follows the reply head is the tunnel's */
		t->nrecv = 0;
	} else {
		fprintf(stderr, "nettool: bad talk step '%s'\n", step);
		exit(2);
	}
	return 0;
}

static int talk(const char *ip, const char *port, int nsteps, char **steps)
{
	struct sockaddr_storage ss;
	struct talk *t = calloc(1, sizeof(*t));
	const char *tls = "none";
	socklen_t len;
	int one = 1, i, family;
	size_t k;

	if (!t)
		return result(0, NULL);
	t->end = "open";
	t->connect_status = -1;
	t->records = 1;
	srand((unsigned int)(now_ms() ^ getpid()));
	family = fill(ip, port, &ss, &len);
	t->fd = socket(family, SOCK_STREAM, 0);
	if (t->fd < 0 || connect(t->fd, (struct sockaddr *)&ss, len))
		return result(0, NULL);
	setsockopt(t->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (i = 0; i < nsteps; i++)
		if (talk_step(t, steps[i]))
			break;
	/* a closing peer may still have bytes in flight; a reset shows once they are read */
	talk_read(t, 200, 0);
	if (t->nrecv >= 2 && t->recv[0] == 0x16 && t->recv[1] == 3)
		tls = "server-hello";
	else if (t->nrecv >= 2 && t->recv[0] == 0x15 && t->recv[1] == 3)
		tls = "alert";
	printf("ok end=%s tls=%s connect=", t->end, tls);
	if (t->connect_status < 0)
		printf("-");
	else
		printf("%d", t->connect_status);
	printf(" bytes=%zu%s%s\nrecv:\n", t->nrecv, t->why[0] ? " stopped=" : "", t->why);
	for (k = 0; k < t->nrecv; k++) {
		unsigned char c = (unsigned char)t->recv[k];

		if (c != '\r')
			putchar(c == '\n' || (c >= 0x20 && c < 0x7f) ? c : '.');
	}
	putchar('\n');
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss, peer;
	socklen_t len, plen = sizeof(peer);
	int fd, family;

	if (argc < 2)
		return 2;
	if (!strcmp(argv[1], "raw"))
		return result(socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) >= 0, NULL);
	if (!strcmp(argv[1], "packet"))
		return result(socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)) >= 0, NULL);
	if (!strcmp(argv[1], "udp") && argc == 4) {
		family = fill(argv[2], argv[3], &ss, &len);
		fd = socket(family, SOCK_DGRAM, 0);
		return result(fd >= 0 && sendto(fd, "sbx-escape\n", 11, 0, (struct sockaddr *)&ss,
						len) == 11,
			      NULL);
	}
	if (!strcmp(argv[1], "tcp") && argc == 4) {
		char text[INET6_ADDRSTRLEN + 96] = "";

		family = fill(argv[2], argv[3], &ss, &len);
		fd = socket(family, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len))
			return result(0, NULL);
		if (getpeername(fd, (struct sockaddr *)&peer, &plen) == 0) {
			char a[INET6_ADDRSTRLEN];

			if (peer.ss_family == AF_INET)
				snprintf(text, sizeof(text), "peer=%s:%u",
					 inet_ntop(AF_INET, &((struct sockaddr_in *)&peer)->sin_addr,
						   a, sizeof(a)),
					 ntohs(((struct sockaddr_in *)&peer)->sin_port));
		}
		/* then wait for what the other end does: the proxy resets what it refuses */
		{
			struct pollfd p = { .fd = fd, .events = POLLIN };
			char buf[128];
			ssize_t n = 0;

			if (poll(&p, 1, 3000) == 1)
				n = recv(fd, buf, sizeof(buf) - 1, 0);
			else
				errno = ETIMEDOUT;
			if (n > 0) {
				buf[n] = '\0';
				buf[strcspn(buf, "\r\n")] = '\0';
				snprintf(text + strlen(text), sizeof(text) - strlen(text), " data=%.40s",
					 buf);
			} else {
				snprintf(text + strlen(text), sizeof(text) - strlen(text), " %s",
					 n == 0 ? "eof" : errno == ECONNRESET ? "reset" : "timeout");
			}
		}
		return result(1, text);
	}
	if (!strcmp(argv[1], "icmp") && argc == 3) {
		struct icmphdr h = { .type = ICMP_ECHO, .un.echo.id = 0x5b, .un.echo.sequence = 1 };
		struct pollfd p;
		char buf[256];

		fill(argv[2], "0", &ss, &len);
		fd = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
		if (fd < 0 || sendto(fd, &h, sizeof(h), 0, (struct sockaddr *)&ss, len) < 0)
			return result(0, NULL);
		p = (struct pollfd){ .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 1000) == 1 && recv(fd, buf, sizeof(buf), 0) > 0)
			return result(1, "reply");
		errno = ETIMEDOUT;
		return result(0, NULL);
	}
	if (!strcmp(argv[1], "socket") && argc == 5) {
		fd = socket(lookup(families, sizeof(families) / sizeof(families[0]), argv[2]),
			    lookup(types, sizeof(types) / sizeof(types[0]), argv[3]), atoi(argv[4]));
		return result(fd >= 0, NULL);
	}
	if (!strcmp(argv[1], "dns") && argc == 5) {
		unsigned char q[512], r[1500];
		struct pollfd p;
		size_t qlen = dns_query(q, sizeof(q), argv[4]);
		ssize_t n;

		fill(argv[2], argv[3], &ss, &len);
		fd = socket(AF_INET, SOCK_DGRAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) ||
		    send(fd, q, qlen, 0) != (ssize_t)qlen)
			return result(0, NULL);
		p = (struct pollfd){ .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 3000) != 1) {
			errno = ETIMEDOUT;
			return result(0, NULL);
		}
		n = recv(fd, r, sizeof(r), 0);
		if (n < 0)
			return result(0, NULL);
		return dns_answer(r, (size_t)n);
	}
	if (!strcmp(argv[1], "dnsmany") && argc == 6) {
		unsigned char q[512], r[1500];
		char name[300];
		long i, n = atol(argv[4]), answered = 0;
		struct pollfd p;
		size_t qlen;
		char text[64];

		fill(argv[2], argv[3], &ss, &len);
		fd = socket(AF_INET, SOCK_DGRAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len))
			return result(0, NULL);
		for (i = 0; i < n && i < 100000; i++) {
			snprintf(name, sizeof(name), "q%ld.%.200s", i, argv[5]);
			qlen = dns_query(q, sizeof(q), name);
			if (send(fd, q, qlen, 0) != (ssize_t)qlen)
				return result(0, NULL);
			p = (struct pollfd){ .fd = fd, .events = POLLIN };
			if (poll(&p, 1, 2000) == 1 && recv(fd, r, sizeof(r), 0) > 0)
				answered++;
		}
		snprintf(text, sizeof(text), "answered=%ld", answered);
		return result(1, text);
	}
	if (!strcmp(argv[1], "spray") && argc == 4) {
		long i, n = atol(argv[2]), sent = 0, refused = 0;
		double end = now_s() + atof(argv[3]);
		struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(9999) };
		char text[64];

		fd = socket(AF_INET, SOCK_DGRAM, 0);
		if (fd < 0)
			return result(0, NULL);
		for (i = 0; i < n && i < (1L << 24); i++) {
			if ((i & 1023) == 0 && now_s() > end)
				break;
			dst.sin_addr.s_addr = htonl(0x0a000000u | (uint32_t)i);
			if (sendto(fd, "x", 1, 0, (struct sockaddr *)&dst, sizeof(dst)) == 1)
				sent++;
			else if (errno == EPERM)
				refused++;
		}
		snprintf(text, sizeof(text), "sent=%ld refused=%ld", sent, refused);
		return result(1, text);
	}
	if (!strcmp(argv[1], "talk") && argc >= 4)
		return talk(argv[2], argv[3], argc - 4, argv + 4);
	fprintf(stderr, "usage: nettool raw|packet|udp IP PORT|tcp IP PORT|icmp IP|"
			"talk IP PORT STEP...|socket FAMILY TYPE PROTO|dns IP PORT NAME|"
			"dnsmany IP PORT N SUFFIX|spray N SECONDS\n");
	return 2;
}
