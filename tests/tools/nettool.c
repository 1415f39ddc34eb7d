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
	fprintf(stderr, "usage: nettool raw|packet|udp IP PORT|tcp IP PORT|icmp IP\n");
	return 2;
}
