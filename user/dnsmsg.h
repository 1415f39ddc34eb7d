/* SPDX-License-Identifier: MIT */
/*
 * dnsmsg: DNS wire format for sbxd's policy-aware resolver.
 *
 * Parses the queries sandboxed programs send, builds the replies sbxd gives them, builds the
 * queries sbxd sends upstream and extracts the A/AAAA addresses from upstream's replies. Pure:
 * no I/O, no allocation, no global state. Parsing is strict: names are limited to the bytes
 * host names use ([A-Za-z0-9-_]), which also closes the easiest channel for smuggling data out
 * through query names made of arbitrary bytes.
 */
#ifndef SBX_DNSMSG_H
#define SBX_DNSMSG_H

#include <stddef.h>
#include <stdint.h>

#define SBX_DNS_HDR_LEN 12
#define SBX_DNS_NAME_MAX 253 /* dotted text, without the trailing dot */
#define SBX_DNS_NAME_BUF 256
#define SBX_DNS_LABEL_MAX 63
#define SBX_DNS_MAX_LABELS 127
#define SBX_DNS_MAX_PTR_HOPS 32	  /* compression pointers followed for one name */
#define SBX_DNS_MAX_CNAME 8	  /* CNAME links followed from the question name */
#define SBX_DNS_MAX_ANSWERS 32	  /* answers sbx_dns_build_reply accepts */
#define SBX_DNS_UDP_MIN 512	  /* what every client accepts (RFC 1035 §4.2.1) */
#define SBX_DNS_EDNS_UDP 1232	  /* what we advertise (DNS flag day 2020) */
#define SBX_DNS_EDNS_UDP_MAX 4096 /* the most we send a client whatever it advertises */
#define SBX_DNS_MSG_MAX 65535	  /* a message over TCP */

#define SBX_DNS_TYPE_A 1
#define SBX_DNS_TYPE_CNAME 5
#define SBX_DNS_TYPE_AAAA 28
#define SBX_DNS_TYPE_OPT 41
#define SBX_DNS_CLASS_IN 1

#define SBX_DNS_RCODE_NOERROR 0
#define SBX_DNS_RCODE_FORMERR 1
#define SBX_DNS_RCODE_SERVFAIL 2
#define SBX_DNS_RCODE_NXDOMAIN 3
#define SBX_DNS_RCODE_NOTIMP 4
#define SBX_DNS_RCODE_REFUSED 5

/* Header flag bits (RFC 1035 §4.1.1, RFC 4035 §3.2). */
#define SBX_DNS_F_QR 0x8000
#define SBX_DNS_F_OPCODE 0x7800
#define SBX_DNS_F_AA 0x0400
#define SBX_DNS_F_TC 0x0200
#define SBX_DNS_F_RD 0x0100
#define SBX_DNS_F_RA 0x0080
#define SBX_DNS_F_AD 0x0020
#define SBX_DNS_F_CD 0x0010
#define SBX_DNS_F_RCODE 0x000f

struct sbx_dns_query {
	uint16_t id;
	uint16_t flags;
	char name[SBX_DNS_NAME_BUF]; /* dotted, lowercase, no trailing dot; root is "" */
	uint16_t qtype;
	uint16_t qclass;
	size_t question_end; /* offset just past the question; SBX_DNS_HDR_LEN if none parsed */
	uint16_t edns_udp;   /* the client's EDNS UDP size (at least 512), 0 if it sent no OPT */
};

struct sbx_dns_rr {
	uint16_t type; /* SBX_DNS_TYPE_A (addr[0..3]) or SBX_DNS_TYPE_AAAA (addr[0..15]) */
	uint32_t ttl;
	uint8_t addr[16];
};

/*
 * Parse a query from a client. Returns
 *   0            one question, QR=0, opcode QUERY, no answer/authority records, at most one
 *                additional record which is an EDNS OPT (its contents ignored);
 *   -EMSGSIZE    the packet ends before its fields do (drop it);
 *   -EBADMSG     QR=1: a response, never answered (so two resolvers cannot loop);
 *   -EOPNOTSUPP  an opcode other than QUERY (answer NOTIMP);
 *   -EPROTO      anything else malformed (answer FORMERR): not exactly one question, TC set,
 *                compression pointers (no client needs them in a query), a label over 63
 *                bytes or with bytes outside [A-Za-z0-9-_], a name over 253 characters,
 *                records besides one OPT, bytes after the last record.
 * Whenever len >= SBX_DNS_HDR_LEN, q->id, q->flags and q->question_end (the header's end) are
 * set on return, so sbx_dns_build_reply can build the error reply.
 */
int sbx_dns_parse_query(const uint8_t *pkt, size_t len, struct sbx_dns_query *q);

/* The size a reply to q must fit in over UDP: 512, or the client's EDNS size up to 4096. */
size_t sbx_dns_reply_limit(const struct sbx_dns_query *q);

/*
 * Build the reply to q (parsed from qpkt) into out: same id, opcode, RD and CD; QR=1, RA=1;
 * the question copied byte for byte; nans answers (each A or AAAA, the question's type, class
 * IN, owner a pointer to the question name); an OPT record if the query had one. If the
 * answers do not fit in outlen the reply carries none and has TC set, telling the client to
 * ask over TCP. Returns 0, -EINVAL for a bad rcode (above 15), answers with an error rcode or
 * without a question, or an answer of the wrong type or too many (SBX_DNS_MAX_ANSWERS),
 * -ENOSPC if not even the header and question fit.
 */
int sbx_dns_build_reply(const struct sbx_dns_query *q, const uint8_t *qpkt, int rcode,
			const struct sbx_dns_rr *answers, size_t nans, uint8_t *out, size_t outlen,
			size_t *used);

/*
 * Build the query sbxd sends upstream: RD=1, one question (name dotted with or without a
 * trailing dot, "" for the root; labels of [A-Za-z0-9-_]), class IN, and an EDNS OPT record
 * advertising SBX_DNS_EDNS_UDP so answers up to that size come back over UDP.
 * -EINVAL for a bad name, -ENOSPC if out is too small.
 */
int sbx_dns_build_query(uint16_t id, const char *name, uint16_t qtype, uint8_t *out,
			size_t outlen, size_t *used);

/*
 * Read upstream's reply to the query (expect_id, expect_name, expect_type, class IN), which
 * must be A or AAAA. Returns 0 with *rcode set; for NOERROR, *nans addresses of expect_type
 * (at most maxans) whose owner is the question name or a name reached from it through at
 * most SBX_DNS_MAX_CNAME CNAMEs, every one's ttl the minimum TTL over them and the CNAMEs
 * used (0 addresses is NODATA). Otherwise
 *   -EMSGSIZE    TC set: ask again over TCP;
 *   -EPROTO      not the reply to that question (id, QR, opcode, question), or malformed:
 *                fields past the end, pointers that do not point strictly backwards or hop
 *                too often, names with bytes outside [A-Za-z0-9-_], an A/AAAA with the wrong
 *                length, two CNAMEs for one name, a CNAME loop;
 *   -EINVAL      expect_type is not A or AAAA.
 * Authority and additional sections are not read.
 */
int sbx_dns_parse_reply(const uint8_t *pkt, size_t len, uint16_t expect_id,
			const char *expect_name, uint16_t expect_type, struct sbx_dns_rr *ans,
			size_t maxans, size_t *nans, int *rcode);

#endif
