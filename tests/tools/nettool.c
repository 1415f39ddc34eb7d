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
	fprintf(stderr, "usage: nettool raw|packet|udp IP PORT|tcp IP PORT|icmp IP|"
		"socket FAMILY TYPE PROTO|dns IP PORT NAME|dnsmany IP PORT N SUFFIX|"
		"spray N SECONDS\n");
	return 2;
}
