/* SPDX-License-Identifier: MIT */
/*
 * dnsmsg: the DNS wire format (RFC 1035, EDNS from RFC 6891) as sbxd's resolver needs it.
 *
 * Queries come from the sandbox and replies from the network, so every offset is checked
 * against the packet's length before it is read, compression pointers must point strictly
 * backwards (before the start of the name piece they sit in, which also rules out loops) and
 * are counted, and names are held to host-name bytes. No I/O, no allocation.
 */
#include "dnsmsg.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define DNS_PTR_BITS 0xc0     /* top bits of a length byte: 11 pointer, 01/10 reserved */
#define DNS_QUESTION_FIXED 4  /* qtype, qclass */
#define DNS_RR_FIXED 10	      /* type, class, ttl, rdlength */
#define DNS_OPT_LEN 11	      /* root name + DNS_RR_FIXED, no options */
#define DNS_NAME_WIRE_MAX 255 /* RFC 1035 §2.3.4 */
#define DNS_PTR_QNAME 0xc00c  /* pointer to the question name, just after the header */
#define DNS_ANSWER_FIXED (2 + DNS_RR_FIXED)
#define DNS_TTL_MAX 0x7fffffffu /* RFC 2181 §8: larger values mean 0 */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static bool is_label_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

static char ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static uint32_t clamp_ttl(uint32_t ttl)
{
	return ttl > DNS_TTL_MAX ? 0 : ttl;
}

/* Case-insensitive equality of a decoded name and a caller's name (one trailing dot allowed). */
static bool name_eq(const char *decoded, const char *name)
{
	size_t n = strlen(name), i;

	if (n && name[n - 1] == '.')
		n--;
	if (strlen(decoded) != n)
		return false;
	for (i = 0; i < n; i++)
		if (ascii_lower(decoded[i]) != ascii_lower(name[i]))
			return false;
	return true;
}

/*
 * Decode the name at off into out (SBX_DNS_NAME_BUF): dotted, lowercase, no trailing dot.
 * *next is the offset just past the name where it sits (past its first pointer, if any).
 * -EMSGSIZE if it runs past len, -EPROTO if it is malformed or uses pointers when !allow_ptr.
 */
static int dns_read_name(const uint8_t *pkt, size_t len, size_t off, bool allow_ptr, char *out,
			 size_t *next)
{
	size_t pos = off, seg = off, n = 0, i;
	unsigned int labels = 0, hops = 0;
	bool jumped = false;

	for (;;) {
		uint8_t b;

		if (pos >= len)
			return -EMSGSIZE;
		b = pkt[pos];
		if (b == 0) {
			if (!jumped)
				*next = pos + 1;
			out[n] = '\0';
			return 0;
		}
		if ((b & DNS_PTR_BITS) == DNS_PTR_BITS) {
			size_t target;

			if (!allow_ptr)
				return -EPROTO;
			if (pos + 1 >= len)
				return -EMSGSIZE;
			target = (size_t)(b & ~DNS_PTR_BITS) << 8 | pkt[pos + 1];
			/* Strictly before the piece we are in: names only point at names
			 * written earlier, and the walk can never come back. */
			if (target < SBX_DNS_HDR_LEN || target >= seg ||
			    ++hops > SBX_DNS_MAX_PTR_HOPS)
				return -EPROTO;
			if (!jumped)
				*next = pos + 2;
			jumped = true;
			pos = seg = target;
			continue;
		}
		if (b & DNS_PTR_BITS)
			return -EPROTO; /* extended label types (RFC 6891 §5) are obsolete */
		if (++labels > SBX_DNS_MAX_LABELS)
			return -EPROTO;
		if (b > len - pos - 1)
			return -EMSGSIZE;
		if (n + (n ? 1 : 0) + b > SBX_DNS_NAME_MAX)
			return -EPROTO;
		if (n)
			out[n++] = '.';
		for (i = 0; i < b; i++) {
			uint8_t c = pkt[pos + 1 + i];

			if (!is_label_char(c))
				return -EPROTO;
			out[n++] = ascii_lower((char)c);
		}
		pos += 1 + (size_t)b;
	}
}

/* Encode a dotted name (one trailing dot allowed, "" is the root) into wire labels. */
static int dns_write_name(const char *name, uint8_t *out, size_t *wlen)
{
	size_t n = strlen(name), i, start = 0, w = 0;

	if (n && name[n - 1] == '.')
		n--;
	if (n > SBX_DNS_NAME_MAX)
		return -EINVAL;
	for (i = 0; n && i <= n; i++) {
		size_t l = i - start;

		if (i < n && name[i] != '.') {
			if (!is_label_char((uint8_t)name[i]))
				return -EINVAL;
			continue;
		}
		if (l == 0 || l > SBX_DNS_LABEL_MAX)
			return -EINVAL;
		out[w++] = (uint8_t)l;
		memcpy(out + w, name + start, l);
		w += l;
		start = i + 1;
	}
	out[w++] = 0;
	*wlen = w;
	return 0;
}

int sbx_dns_parse_query(const uint8_t *pkt, size_t len, struct sbx_dns_query *q)
{
	uint16_t qd, an, ns, ar, edns_udp = 0;
	size_t off, qend;
	int err;

	memset(q, 0, sizeof(*q));
	if (len < SBX_DNS_HDR_LEN)
		return -EMSGSIZE;
	q->id = get16(pkt);
	q->flags = get16(pkt + 2);
	q->question_end = SBX_DNS_HDR_LEN;
	qd = get16(pkt + 4);
	an = get16(pkt + 6);
	ns = get16(pkt + 8);
	ar = get16(pkt + 10);
	if (q->flags & SBX_DNS_F_QR)
		return -EBADMSG;
	if (q->flags & SBX_DNS_F_OPCODE)
		return -EOPNOTSUPP;
	if ((q->flags & SBX_DNS_F_TC) || qd != 1 || an || ns || ar > 1)
		return -EPROTO;

	err = dns_read_name(pkt, len, SBX_DNS_HDR_LEN, false, q->name, &off);
	if (err)
		return err;
	if (len - off < DNS_QUESTION_FIXED)
		return -EMSGSIZE;
	q->qtype = get16(pkt + off);
	q->qclass = get16(pkt + off + 2);
	off += DNS_QUESTION_FIXED;
	qend = off;
	if (ar) {
		uint16_t udp, rdlen;

		if (len - off < DNS_OPT_LEN)
			return -EMSGSIZE;
		if (pkt[off] != 0 || get16(pkt + off + 1) != SBX_DNS_TYPE_OPT)
			return -EPROTO;
		udp = get16(pkt + off + 3);
		rdlen = get16(pkt + off + 9);
		if (rdlen > len - off - DNS_OPT_LEN)
			return -EMSGSIZE;
		off += DNS_OPT_LEN + rdlen;
		/* "Values lower than 512 MUST be treated as equal to 512" (RFC 6891 §6.2.3). */
		edns_udp = udp < SBX_DNS_UDP_MIN ? SBX_DNS_UDP_MIN : udp;
	}
	if (off != len)
		return -EPROTO;
	/* Only now: an error reply must not echo the question or EDNS of a bad query. */
	q->question_end = qend;
	q->edns_udp = edns_udp;
	return 0;
}

size_t sbx_dns_reply_limit(const struct sbx_dns_query *q)
{
	if (!q->edns_udp)
		return SBX_DNS_UDP_MIN;
	if (q->edns_udp > SBX_DNS_EDNS_UDP_MAX)
		return SBX_DNS_EDNS_UDP_MAX;
	return q->edns_udp < SBX_DNS_UDP_MIN ? SBX_DNS_UDP_MIN : q->edns_udp;
}

static size_t rr_addr_len(uint16_t type)
{
	return type == SBX_DNS_TYPE_A ? 4 : type == SBX_DNS_TYPE_AAAA ? 16 : 0;
}

static void put_opt(uint8_t *p)
{
	p[0] = 0; /* root */
	put16(p + 1, SBX_DNS_TYPE_OPT);
	put16(p + 3, SBX_DNS_EDNS_UDP);
	put32(p + 5, 0); /* extended rcode 0, version 0, no DO */
	put16(p + 9, 0);
}

int sbx_dns_build_reply(const struct sbx_dns_query *q, const uint8_t *qpkt, int rcode,
			const struct sbx_dns_rr *answers, size_t nans, uint8_t *out, size_t outlen,
			size_t *used)
{
	size_t qlen, base, ans_bytes = 0, off, i, alen;
	size_t opt = q->edns_udp ? DNS_OPT_LEN : 0;
	uint16_t flags;
	bool tc;

	*used = 0;
	if (rcode < 0 || rcode > SBX_DNS_F_RCODE)
		return -EINVAL;
	if (q->question_end < SBX_DNS_HDR_LEN ||
	    q->question_end > SBX_DNS_HDR_LEN + DNS_NAME_WIRE_MAX + DNS_QUESTION_FIXED)
		return -EINVAL;
	qlen = q->question_end - SBX_DNS_HDR_LEN;
	if (nans > SBX_DNS_MAX_ANSWERS || (nans && (rcode || !qlen)))
		return -EINVAL;
	for (i = 0; i < nans; i++) {
		alen = rr_addr_len(answers[i].type);
		if (!alen || answers[i].type != q->qtype)
			return -EINVAL;
		ans_bytes += DNS_ANSWER_FIXED + alen;
	}
	base = SBX_DNS_HDR_LEN + qlen + opt;
	if (base > outlen)
		return -ENOSPC;
	/* Rather no answers and TC than some: a partial set would be cached as the truth. */
	tc = ans_bytes > outlen - base;
	if (tc)
		nans = 0;

	flags = SBX_DNS_F_QR | SBX_DNS_F_RA | (uint16_t)rcode |
		(q->flags & (SBX_DNS_F_OPCODE | SBX_DNS_F_RD | SBX_DNS_F_CD)) |
		(tc ? SBX_DNS_F_TC : 0);
	put16(out, q->id);
	put16(out + 2, flags);
	put16(out + 4, qlen ? 1 : 0);
	put16(out + 6, (uint16_t)nans);
	put16(out + 8, 0);
	put16(out + 10, opt ? 1 : 0);
	/* The question byte for byte: clients match on it, 0x20-randomised case included. */
	memcpy(out + SBX_DNS_HDR_LEN, qpkt + SBX_DNS_HDR_LEN, qlen);
	off = SBX_DNS_HDR_LEN + qlen;
	for (i = 0; i < nans; i++) {
		alen = rr_addr_len(answers[i].type);
		put16(out + off, DNS_PTR_QNAME);
		put16(out + off + 2, answers[i].type);
		put16(out + off + 4, SBX_DNS_CLASS_IN);
		put32(out + off + 6, clamp_ttl(answers[i].ttl));
		put16(out + off + 10, (uint16_t)alen);
		memcpy(out + off + DNS_ANSWER_FIXED, answers[i].addr, alen);
		off += DNS_ANSWER_FIXED + alen;
	}
	if (opt) {
		put_opt(out + off);
		off += opt;
	}
	*used = off;
	return 0;
}

int sbx_dns_build_query(uint16_t id, const char *name, uint16_t qtype, uint8_t *out,
			size_t outlen, size_t *used)
{
	uint8_t wire[DNS_NAME_WIRE_MAX];
	size_t wlen, total;
	int err;

	*used = 0;
	err = dns_write_name(name, wire, &wlen);
	if (err)
		return err;
	total = SBX_DNS_HDR_LEN + wlen + DNS_QUESTION_FIXED + DNS_OPT_LEN;
	if (total > outlen)
		return -ENOSPC;
	put16(out, id);
	put16(out + 2, SBX_DNS_F_RD);
	put16(out + 4, 1);
	put16(out + 6, 0);
	put16(out + 8, 0);
	put16(out + 10, 1);
	memcpy(out + SBX_DNS_HDR_LEN, wire, wlen);
	put16(out + SBX_DNS_HDR_LEN + wlen, qtype);
	put16(out + SBX_DNS_HDR_LEN + wlen + 2, SBX_DNS_CLASS_IN);
	put_opt(out + SBX_DNS_HDR_LEN + wlen + DNS_QUESTION_FIXED);
	*used = total;
	return 0;
}

/* One resource record of a reply, its owner decoded. */
struct dns_rr_view {
	char owner[SBX_DNS_NAME_BUF];
	uint16_t type;
	uint16_t cls;
	uint32_t ttl;
	size_t rdoff;
	uint16_t rdlen;
};

static int dns_read_rr(const uint8_t *pkt, size_t len, size_t *off, struct dns_rr_view *rr)
{
	size_t p;
	int err;

	err = dns_read_name(pkt, len, *off, true, rr->owner, &p);
	if (err)
		return err;
	if (len - p < DNS_RR_FIXED)
		return -EMSGSIZE;
	rr->type = get16(pkt + p);
	rr->cls = get16(pkt + p + 2);
	rr->ttl = clamp_ttl(get32(pkt + p + 4));
	rr->rdlen = get16(pkt + p + 8);
	rr->rdoff = p + DNS_RR_FIXED;
	if (rr->rdlen > len - rr->rdoff)
		return -EMSGSIZE;
	*off = rr->rdoff + rr->rdlen;
	return 0;
}

/* A CNAME's target, which must fill its rdata exactly. */
static int dns_read_cname(const uint8_t *pkt, size_t len, const struct dns_rr_view *rr,
			  char *target)
{
	size_t next;
	int err = dns_read_name(pkt, len, rr->rdoff, true, target, &next);

	if (err)
		return err;
	return next == rr->rdoff + rr->rdlen ? 0 : -EPROTO;
}

static bool in_chain(char chain[][SBX_DNS_NAME_BUF], size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(chain[i], name) == 0)
			return true;
	return false;
}

/* Every answer well-formed, before any is believed. */
static int dns_check_answers(const uint8_t *pkt, size_t len, size_t off, uint16_t ancount)
{
	char target[SBX_DNS_NAME_BUF];
	struct dns_rr_view rr;
	uint16_t i;
	int err;

	for (i = 0; i < ancount; i++) {
		err = dns_read_rr(pkt, len, &off, &rr);
		if (err)
			return err;
		if (rr.cls != SBX_DNS_CLASS_IN)
			continue;
		if (rr_addr_len(rr.type) && rr.rdlen != rr_addr_len(rr.type))
			return -EPROTO;
		if (rr.type == SBX_DNS_TYPE_CNAME) {
			err = dns_read_cname(pkt, len, &rr, target);
			if (err)
				return err;
		}
	}
	return 0;
}

/*
 * Follow the CNAME chain from chain[0] through the answers: chain[1..] are the targets.
 * Returns the chain length, or -EPROTO for two CNAMEs on one name or a loop.
 */
static int dns_follow_cnames(const uint8_t *pkt, size_t len, size_t an_off, uint16_t ancount,
			     char chain[][SBX_DNS_NAME_BUF], uint32_t *minttl)
{
	size_t n = 1;

	while (n <= SBX_DNS_MAX_CNAME) {
		struct dns_rr_view rr;
		size_t off = an_off;
		bool found = false;
		uint16_t i;
		int err;

		for (i = 0; i < ancount; i++) {
			err = dns_read_rr(pkt, len, &off, &rr);
			if (err)
				return err;
			if (rr.type != SBX_DNS_TYPE_CNAME || rr.cls != SBX_DNS_CLASS_IN ||
			    strcmp(rr.owner, chain[n - 1]) != 0)
				continue;
			if (found)
				return -EPROTO;
			found = true;
			err = dns_read_cname(pkt, len, &rr, chain[n]);
			if (err)
				return err;
			if (rr.ttl < *minttl)
				*minttl = rr.ttl;
		}
		if (!found)
			break;
		if (in_chain(chain, n, chain[n]))
			return -EPROTO;
		n++;
	}
	return (int)n;
}

int sbx_dns_parse_reply(const uint8_t *pkt, size_t len, uint16_t expect_id,
			const char *expect_name, uint16_t expect_type, struct sbx_dns_rr *ans,
			size_t maxans, size_t *nans, int *rcode)
{
	char chain[SBX_DNS_MAX_CNAME + 1][SBX_DNS_NAME_BUF];
	uint32_t minttl = DNS_TTL_MAX;
	struct dns_rr_view rr;
	uint16_t flags, ancount, i;
	size_t off, an_off, n = 0, alen;
	int err, nchain;

	*nans = 0;
	*rcode = 0;
	alen = rr_addr_len(expect_type);
	if (!alen)
		return -EINVAL;
	if (len < SBX_DNS_HDR_LEN)
		return -EPROTO;
	flags = get16(pkt + 2);
	if (get16(pkt) != expect_id || !(flags & SBX_DNS_F_QR) || (flags & SBX_DNS_F_OPCODE) ||
	    get16(pkt + 4) != 1)
		return -EPROTO;
	err = dns_read_name(pkt, len, SBX_DNS_HDR_LEN, true, chain[0], &off);
	if (err)
		return -EPROTO;
	if (len - off < DNS_QUESTION_FIXED || !name_eq(chain[0], expect_name) ||
	    get16(pkt + off) != expect_type || get16(pkt + off + 2) != SBX_DNS_CLASS_IN)
		return -EPROTO;
	if (flags & SBX_DNS_F_TC)
		return -EMSGSIZE;
	*rcode = flags & SBX_DNS_F_RCODE;
	if (*rcode != SBX_DNS_RCODE_NOERROR)
		return 0;

	an_off = off + DNS_QUESTION_FIXED;
	ancount = get16(pkt + 6);
	err = dns_check_answers(pkt, len, an_off, ancount);
	if (err)
		return -EPROTO;
	nchain = dns_follow_cnames(pkt, len, an_off, ancount, chain, &minttl);
	if (nchain < 0)
		return -EPROTO;

	off = an_off;
	for (i = 0; i < ancount && n < maxans; i++) {
		err = dns_read_rr(pkt, len, &off, &rr);
		if (err)
			return -EPROTO;
		if (rr.type != expect_type || rr.cls != SBX_DNS_CLASS_IN ||
		    !in_chain(chain, (size_t)nchain, rr.owner))
			continue;
		ans[n].type = rr.type;
		memset(ans[n].addr, 0, sizeof(ans[n].addr));
		memcpy(ans[n].addr, pkt + rr.rdoff, alen);
		if (rr.ttl < minttl)
			minttl = rr.ttl;
		n++;
	}
	for (off = 0; off < n; off++)
		ans[off].ttl = minttl;
	*nans = n;
	return 0;
}
