/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for user/dnsmsg.c: queries captured from dig and host on loopback, every
 * truncation of them, hand-assembled upstream replies with compression and CNAME chains, and
 * the hostile packets a sandboxed program or a spoofing upstream could send: pointer loops,
 * forward pointers, oversize labels, binary label bytes, mismatched questions.
 */
#include <errno.h>
#include <stdint.h>

#include "dnsmsg.h"
#include "test.h"

/* dig @127.0.0.1 PyPI.org A: RD, AD, EDNS udp 1232 with a cookie option */
static const uint8_t dig_query[] = {
	0x37, 0xc3, 0x01, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x04, 0x50, 0x79, 0x50, 0x49, 0x03, 0x6f, 0x72, 0x67, 0x00, 0x00, 0x01,
	0x00, 0x01, 0x00, 0x00, 0x29, 0x04, 0xd0, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x0c, 0x00, 0x0a, 0x00, 0x08, 0x10, 0x4e, 0x38, 0x9f, 0x43, 0xc0, 0x06,
	0xe6,
};
/* host -t AAAA files.pythonhosted.org 127.0.0.1: RD, AD, no EDNS */
static const uint8_t host_query[] = {
	0x79, 0xed, 0x01, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x05, 0x66, 0x69, 0x6c, 0x65, 0x73, 0x0c, 0x70, 0x79, 0x74, 0x68, 0x6f,
	0x6e, 0x68, 0x6f, 0x73, 0x74, 0x65, 0x64, 0x03, 0x6f, 0x72, 0x67, 0x00,
	0x00, 0x1c, 0x00, 0x01,
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PKT_MAX 8192

struct pkt {
	uint8_t b[PKT_MAX];
	size_t n;
};

static void p8(struct pkt *p, unsigned int v)
{
	p->b[p->n++] = (uint8_t)v;
}

static void p16(struct pkt *p, unsigned int v)
{
	p8(p, v >> 8);
	p8(p, v);
}

static void p32(struct pkt *p, uint32_t v)
{
	p16(p, v >> 16);
	p16(p, v & 0xffff);
}

static void pmem(struct pkt *p, const void *m, size_t n)
{
	if (n)
		memcpy(p->b + p->n, m, n);
	p->n += n;
}

/* The labels of a dotted name, without the terminating root label. */
static void plabels(struct pkt *p, const char *name)
{
	while (*name) {
		size_t l = strcspn(name, ".");

		p8(p, (unsigned int)l);
		pmem(p, name, l);
		name += l;
		if (*name == '.')
			name++;
	}
}

/* A whole uncompressed name; returns where it starts. */
static size_t pname(struct pkt *p, const char *name)
{
	size_t at = p->n;

	plabels(p, name);
	p8(p, 0);
	return at;
}

static void pptr(struct pkt *p, size_t to)
{
	p16(p, 0xc000 | (unsigned int)to);
}

static void phdr(struct pkt *p, unsigned int id, unsigned int flags, unsigned int qd,
		 unsigned int an, unsigned int ns, unsigned int ar)
{
	p->n = 0;
	p16(p, id);
	p16(p, flags);
	p16(p, qd);
	p16(p, an);
	p16(p, ns);
	p16(p, ar);
}

static void pquery(struct pkt *p, unsigned int flags, const char *name, unsigned int type)
{
	phdr(p, 0xbeef, flags, 1, 0, 0, 0);
	pname(p, name);
	p16(p, type);
	p16(p, SBX_DNS_CLASS_IN);
}

/* type, class, ttl and rdlength of a record whose owner was just written. */
static void prr(struct pkt *p, unsigned int type, unsigned int cls, uint32_t ttl,
		unsigned int rdlen)
{
	p16(p, type);
	p16(p, cls);
	p32(p, ttl);
	p16(p, rdlen);
}

static void pa(struct pkt *p, uint32_t ttl, uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	const uint8_t addr[4] = { a, b, c, d };

	prr(p, SBX_DNS_TYPE_A, SBX_DNS_CLASS_IN, ttl, 4);
	pmem(p, addr, 4);
}

static void set16(struct pkt *p, size_t at, unsigned int v)
{
	p->b[at] = (uint8_t)(v >> 8);
	p->b[at + 1] = (uint8_t)v;
}

static struct sbx_dns_query q;

static int parse_q(const struct pkt *p)
{
	return sbx_dns_parse_query(p->b, p->n, &q);
}

static void test_dig_query_parses(void)
{
	CHECK_INT(sbx_dns_parse_query(dig_query, sizeof(dig_query), &q), 0);
	CHECK_INT(q.id, 0x37c3);
	CHECK_INT(q.flags, 0x0120);
	CHECK_STR(q.name, "pypi.org");
	CHECK_INT(q.qtype, SBX_DNS_TYPE_A);
	CHECK_INT(q.qclass, SBX_DNS_CLASS_IN);
	CHECK_INT(q.question_end, 12 + 10 + 4);
	CHECK_INT(q.edns_udp, 1232);
}

static void test_query_without_edns_parses(void)
{
	CHECK_INT(sbx_dns_parse_query(host_query, sizeof(host_query), &q), 0);
	CHECK_STR(q.name, "files.pythonhosted.org");
	CHECK_INT(q.qtype, SBX_DNS_TYPE_AAAA);
	CHECK_INT(q.question_end, sizeof(host_query));
	CHECK_INT(q.edns_udp, 0);
}

static void test_every_truncated_query_is_emsgsize(void)
{
	size_t k;

	for (k = 0; k < sizeof(dig_query); k++)
		CHECK_INT(sbx_dns_parse_query(dig_query, k, &q), -EMSGSIZE);
	for (k = 0; k < sizeof(host_query); k++)
		CHECK_INT(sbx_dns_parse_query(host_query, k, &q), -EMSGSIZE);
}

static void test_response_sent_as_query_is_ebadmsg(void)
{
	struct pkt p;

	pquery(&p, SBX_DNS_F_QR | SBX_DNS_F_RD, "a.io", 1);
	CHECK_INT(parse_q(&p), -EBADMSG);
	CHECK_INT(q.id, 0xbeef);
}

static void test_other_opcodes_are_eopnotsupp(void)
{
	struct pkt p;

	pquery(&p, 5 << 11, "a.io", 1); /* UPDATE */
	CHECK_INT(parse_q(&p), -EOPNOTSUPP);
	CHECK_INT(q.question_end, SBX_DNS_HDR_LEN);
	pquery(&p, 2 << 11, "a.io", 1); /* STATUS */
	CHECK_INT(parse_q(&p), -EOPNOTSUPP);
	pquery(&p, 1 << 11, "a.io", 1); /* IQUERY */
	CHECK_INT(parse_q(&p), -EOPNOTSUPP);
}

static void test_query_section_counts_are_enforced(void)
{
	struct pkt p;

	pquery(&p, 0, "a.io", 1);
	CHECK_INT(parse_q(&p), 0);
	set16(&p, 4, 0);
	CHECK_INT(parse_q(&p), -EPROTO);
	set16(&p, 4, 2);
	CHECK_INT(parse_q(&p), -EPROTO);
	set16(&p, 4, 1);
	set16(&p, 6, 1);
	CHECK_INT(parse_q(&p), -EPROTO);
	set16(&p, 6, 0);
	set16(&p, 8, 1);
	CHECK_INT(parse_q(&p), -EPROTO);
	set16(&p, 8, 0);
	set16(&p, 10, 2);
	CHECK_INT(parse_q(&p), -EPROTO);
	set16(&p, 10, 0);
	set16(&p, 2, SBX_DNS_F_TC);
	CHECK_INT(parse_q(&p), -EPROTO);
	set16(&p, 2, 0);
	p8(&p, 0); /* a byte after the question */
	CHECK_INT(parse_q(&p), -EPROTO);
}

static void test_compression_pointer_in_query_is_refused(void)
{
	struct pkt p;

	phdr(&p, 1, 0, 1, 0, 0, 0);
	plabels(&p, "www");
	pptr(&p, 12); /* a loop onto itself, too */
	p16(&p, 1);
	p16(&p, 1);
	CHECK_INT(parse_q(&p), -EPROTO);
	phdr(&p, 1, 0, 1, 0, 0, 0);
	pptr(&p, 12);
	p16(&p, 1);
	p16(&p, 1);
	CHECK_INT(parse_q(&p), -EPROTO);
}

static void test_oversize_labels_and_names_are_refused(void)
{
	char name[400];
	struct pkt p;
	size_t i;

	memset(name, 'a', 64);
	strcpy(name + 64, ".io");
	pquery(&p, 0, name, 1);
	CHECK_INT(parse_q(&p), -EPROTO);
	/* 254 characters in 63-byte labels. */
	memset(name, 'a', 254);
	for (i = 63; i < 254; i += 64)
		name[i] = '.';
	name[254] = '\0';
	pquery(&p, 0, name, 1);
	CHECK_INT(parse_q(&p), -EPROTO);
	/* 128 one-byte labels. */
	for (i = 0; i < 128; i++) {
		name[2 * i] = 'a';
		name[2 * i + 1] = '.';
	}
	name[255] = '\0';
	pquery(&p, 0, name, 1);
	CHECK_INT(parse_q(&p), -EPROTO);
}

static void test_names_at_the_limits_are_accepted(void)
{
	char name[400];
	struct pkt p;
	size_t i;

	memset(name, 'A', 253);
	for (i = 63; i < 253; i += 64)
		name[i] = '.';
	name[253] = '\0';
	pquery(&p, 0, name, 1);
	CHECK_INT(parse_q(&p), 0);
	CHECK_INT(strlen(q.name), 253);
	CHECK(q.name[0] == 'a'); /* lowercased */
	for (i = 0; i < 127; i++) {
		name[2 * i] = 'b';
		name[2 * i + 1] = '.';
	}
	name[253] = '\0';
	pquery(&p, 0, name, 1);
	CHECK_INT(parse_q(&p), 0);
	CHECK_INT(strlen(q.name), 253);
}

static void test_label_bytes_outside_hostname_chars_are_refused(void)
{
	static const char *const bad[] = { "a\001b", "a b", "a*", "a/b", "\xff", "caf\xc3\xa9",
					   "a\\b", "a%b", "a:b" };
	struct pkt p;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		pquery(&p, 0, bad[i], 1);
		CHECK_INT(parse_q(&p), -EPROTO);
	}
	/* An embedded dot or NUL inside a label is a different name than its text shows. */
	phdr(&p, 1, 0, 1, 0, 0, 0);
	p8(&p, 3);
	pmem(&p, "a.b", 3);
	p8(&p, 0);
	p16(&p, 1);
	p16(&p, 1);
	CHECK_INT(parse_q(&p), -EPROTO);
	p.b[14] = 0;
	CHECK_INT(parse_q(&p), -EPROTO);
	pquery(&p, 0, "_dmarc.x-1.IO", 16);
	CHECK_INT(parse_q(&p), 0);
	CHECK_STR(q.name, "_dmarc.x-1.io");
}

static void test_reserved_label_types_are_refused(void)
{
	struct pkt p;

	pquery(&p, 0, "a.io", 1);
	p.b[12] = 0x41; /* extended label type */
	CHECK_INT(parse_q(&p), -EPROTO);
	p.b[12] = 0x81;
	CHECK_INT(parse_q(&p), -EPROTO);
}

static void test_additional_record_must_be_a_single_opt(void)
{
	struct pkt p;
	size_t end;

	pquery(&p, 0, "a.io", 1);
	set16(&p, 10, 1);
	end = p.n;
	p8(&p, 0);
	prr(&p, SBX_DNS_TYPE_OPT, 4096, 0, 4);
	pmem(&p, "\x00\x0a\x00\x00", 4);
	CHECK_INT(parse_q(&p), 0);
	CHECK_INT(q.edns_udp, 4096);
	CHECK_INT(q.question_end, end);
	p.b[end + 2] = SBX_DNS_TYPE_A; /* not OPT */
	CHECK_INT(parse_q(&p), -EPROTO);
	p.b[end + 2] = SBX_DNS_TYPE_OPT;
	p.b[end] = 1; /* owner not the root */
	CHECK_INT(parse_q(&p), -EPROTO);
	p.b[end] = 0;
	set16(&p, end + 9, 5); /* options run past the end */
	CHECK_INT(parse_q(&p), -EMSGSIZE);
	set16(&p, end + 9, 3); /* and stop short of it */
	CHECK_INT(parse_q(&p), -EPROTO);
}

static void test_root_query_has_empty_name(void)
{
	struct pkt p;

	pquery(&p, SBX_DNS_F_RD, "", 2);
	CHECK_INT(parse_q(&p), 0);
	CHECK_STR(q.name, "");
	CHECK_INT(q.qtype, 2);
	CHECK_INT(q.question_end, 12 + 1 + 4);
}

static void test_reply_limit_follows_edns(void)
{
	struct pkt p;

	CHECK_INT(sbx_dns_parse_query(host_query, sizeof(host_query), &q), 0);
	CHECK_INT(sbx_dns_reply_limit(&q), 512);
	CHECK_INT(sbx_dns_parse_query(dig_query, sizeof(dig_query), &q), 0);
	CHECK_INT(sbx_dns_reply_limit(&q), 1232);
	pquery(&p, 0, "a.io", 1);
	set16(&p, 10, 1);
	p8(&p, 0);
	prr(&p, SBX_DNS_TYPE_OPT, 100, 0, 0);
	CHECK_INT(parse_q(&p), 0);
	CHECK_INT(q.edns_udp, 512);
	CHECK_INT(sbx_dns_reply_limit(&q), 512);
	set16(&p, p.n - 8, 65535);
	CHECK_INT(parse_q(&p), 0);
	CHECK_INT(sbx_dns_reply_limit(&q), 4096);
}

static void test_reply_echoes_question_and_flags(void)
{
	static const uint8_t want[] = {
		0x37, 0xc3, 0x81, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,
		0x04, 'P',  'y',  'P',  'I',  0x03, 'o',  'r',	'g',  0x00, 0x00, 0x01,
		0x00, 0x01, 0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c,
		0x00, 0x04, 192,  0,	2,    1,    0x00, 0x00, 0x29, 0x04, 0xd0, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00,
	};
	struct sbx_dns_rr rr = { .type = SBX_DNS_TYPE_A, .ttl = 60, .addr = { 192, 0, 2, 1 } };
	uint8_t out[512];
	size_t used;

	CHECK_INT(sbx_dns_parse_query(dig_query, sizeof(dig_query), &q), 0);
	CHECK_INT(sbx_dns_build_reply(&q, dig_query, 0, &rr, 1, out, sizeof(out), &used), 0);
	CHECK_INT(used, sizeof(want));
	CHECK(memcmp(out, want, sizeof(want)) == 0);
}

static void test_reply_round_trips_through_parse_reply(void)
{
	struct sbx_dns_rr rr[2] = {
		{ .type = SBX_DNS_TYPE_AAAA, .ttl = 300,
		  .addr = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 } },
		{ .type = SBX_DNS_TYPE_AAAA, .ttl = 30,
		  .addr = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 } },
	};
	struct sbx_dns_rr got[4];
	uint8_t out[512];
	size_t used, n;
	int rcode;

	CHECK_INT(sbx_dns_parse_query(host_query, sizeof(host_query), &q), 0);
	CHECK_INT(sbx_dns_build_reply(&q, host_query, 0, rr, 2, out, sizeof(out), &used), 0);
	CHECK_INT(used, sizeof(host_query) + 2 * 28);
	CHECK_INT(sbx_dns_parse_reply(out, used, q.id, "files.pythonhosted.org", 28, got, 4, &n,
				      &rcode),
		  0);
	CHECK_INT(rcode, 0);
	CHECK_INT(n, 2);
	CHECK(memcmp(got[0].addr, rr[0].addr, 16) == 0);
	CHECK(memcmp(got[1].addr, rr[1].addr, 16) == 0);
	CHECK_INT(got[0].ttl, 30);
	CHECK_INT(got[1].ttl, 30);
}

static void test_reply_without_answers_carries_rcode(void)
{
	static const int rcodes[] = { SBX_DNS_RCODE_NXDOMAIN, SBX_DNS_RCODE_REFUSED,
				      SBX_DNS_RCODE_SERVFAIL, SBX_DNS_RCODE_NOERROR };
	struct sbx_dns_rr none[1];
	uint8_t out[512];
	size_t used, n, i;
	int rcode;

	CHECK_INT(sbx_dns_parse_query(dig_query, sizeof(dig_query), &q), 0);
	for (i = 0; i < ARRAY_SIZE(rcodes); i++) {
		CHECK_INT(sbx_dns_build_reply(&q, dig_query, rcodes[i], NULL, 0, out, sizeof(out),
					      &used),
			  0);
		CHECK_INT(out[3] & 0x0f, rcodes[i]);
		CHECK_INT(out[2], 0x81);
		CHECK_INT(used, 26 + 11);
		CHECK_INT(sbx_dns_parse_reply(out, used, 0x37c3, "pypi.org", 1, none, 1, &n,
					      &rcode),
			  0);
		CHECK_INT(rcode, rcodes[i]);
		CHECK_INT(n, 0);
	}
}

static void test_reply_too_big_is_truncated_without_answers(void)
{
	struct sbx_dns_rr rr[SBX_DNS_MAX_ANSWERS];
	struct sbx_dns_rr got[1];
	uint8_t out[2048];
	size_t used, n, i;
	int rcode;

	CHECK_INT(sbx_dns_parse_query(host_query, sizeof(host_query), &q), 0);
	for (i = 0; i < SBX_DNS_MAX_ANSWERS; i++)
		rr[i] = (struct sbx_dns_rr){ .type = SBX_DNS_TYPE_AAAA, .ttl = 1 };
	/* 40 + 32 * 28 = 936 bytes: more than a client without EDNS takes. */
	CHECK_INT(sbx_dns_build_reply(&q, host_query, 0, rr, SBX_DNS_MAX_ANSWERS, out,
				      sbx_dns_reply_limit(&q), &used),
		  0);
	CHECK_INT(used, sizeof(host_query));
	CHECK(out[2] & (SBX_DNS_F_TC >> 8));
	CHECK_INT(out[7], 0);
	CHECK_INT(sbx_dns_parse_reply(out, used, q.id, q.name, 28, got, 1, &n, &rcode), -EMSGSIZE);
	CHECK_INT(sbx_dns_build_reply(&q, host_query, 0, rr, SBX_DNS_MAX_ANSWERS, out, 936,
				      &used),
		  0);
	CHECK_INT(used, 936);
	CHECK(!(out[2] & (SBX_DNS_F_TC >> 8)));
	CHECK_INT(sbx_dns_build_reply(&q, host_query, 0, rr, 1, out, sizeof(host_query) - 1, &used),
		  -ENOSPC);
	CHECK_INT(used, 0);
}

static void test_reply_refuses_bad_arguments(void)
{
	struct sbx_dns_rr a = { .type = SBX_DNS_TYPE_A, .ttl = 1 };
	struct sbx_dns_rr rr[SBX_DNS_MAX_ANSWERS + 1];
	struct sbx_dns_query bad;
	uint8_t out[2048];
	size_t used;

	CHECK_INT(sbx_dns_parse_query(host_query, sizeof(host_query), &q), 0);
	/* An A answer to an AAAA question. */
	CHECK_INT(sbx_dns_build_reply(&q, host_query, 0, &a, 1, out, sizeof(out), &used), -EINVAL);
	a.type = SBX_DNS_TYPE_CNAME;
	q.qtype = SBX_DNS_TYPE_CNAME;
	CHECK_INT(sbx_dns_build_reply(&q, host_query, 0, &a, 1, out, sizeof(out), &used), -EINVAL);
	CHECK_INT(sbx_dns_parse_query(dig_query, sizeof(dig_query), &q), 0);
	a.type = SBX_DNS_TYPE_A;
	CHECK_INT(sbx_dns_build_reply(&q, dig_query, 3, &a, 1, out, sizeof(out), &used), -EINVAL);
	CHECK_INT(sbx_dns_build_reply(&q, dig_query, 16, NULL, 0, out, sizeof(out), &used),
		  -EINVAL);
	CHECK_INT(sbx_dns_build_reply(&q, dig_query, -1, NULL, 0, out, sizeof(out), &used),
		  -EINVAL);
	memset(rr, 0, sizeof(rr));
	CHECK_INT(sbx_dns_build_reply(&q, dig_query, 0, rr, SBX_DNS_MAX_ANSWERS + 1, out,
				      sizeof(out), &used),
		  -EINVAL);
	bad = q;
	bad.question_end = 11;
	CHECK_INT(sbx_dns_build_reply(&bad, dig_query, 0, NULL, 0, out, sizeof(out), &used),
		  -EINVAL);
	bad.question_end = 12 + 255 + 4 + 1;
	CHECK_INT(sbx_dns_build_reply(&bad, dig_query, 0, NULL, 0, out, sizeof(out), &used),
		  -EINVAL);
}

static void test_error_reply_to_unparsable_query_has_no_question(void)
{
	struct sbx_dns_rr a = { .type = SBX_DNS_TYPE_A };
	uint8_t out[64];
	struct pkt p;
	size_t used;

	pquery(&p, SBX_DNS_F_RD | SBX_DNS_F_CD, "a*b", 1);
	CHECK_INT(parse_q(&p), -EPROTO);
	CHECK_INT(sbx_dns_build_reply(&q, p.b, SBX_DNS_RCODE_FORMERR, NULL, 0, out, sizeof(out),
				      &used),
		  0);
	CHECK_INT(used, SBX_DNS_HDR_LEN);
	CHECK_INT(out[0] << 8 | out[1], 0xbeef);
	CHECK_INT(out[2] << 8 | out[3], SBX_DNS_F_QR | SBX_DNS_F_RD | SBX_DNS_F_RA |
						SBX_DNS_F_CD | SBX_DNS_RCODE_FORMERR);
	CHECK_INT(out[5], 0);
	CHECK_INT(sbx_dns_build_reply(&q, p.b, 0, &a, 1, out, sizeof(out), &used), -EINVAL);
	/* A bad query with a good OPT gets a plain FORMERR: no question, no OPT. */
	pquery(&p, 0, "a.io", 1);
	set16(&p, 10, 1);
	p8(&p, 0);
	prr(&p, SBX_DNS_TYPE_OPT, 1232, 0, 0);
	p8(&p, 0);
	CHECK_INT(parse_q(&p), -EPROTO);
	CHECK_INT(q.edns_udp, 0);
	CHECK_INT(sbx_dns_build_reply(&q, p.b, SBX_DNS_RCODE_FORMERR, NULL, 0, out, sizeof(out),
				      &used),
		  0);
	CHECK_INT(used, SBX_DNS_HDR_LEN);
	pquery(&p, 5 << 11, "a.io", 1);
	CHECK_INT(parse_q(&p), -EOPNOTSUPP);
	CHECK_INT(sbx_dns_build_reply(&q, p.b, SBX_DNS_RCODE_NOTIMP, NULL, 0, out, sizeof(out),
				      &used),
		  0);
	CHECK_INT(out[2] << 8 | out[3], SBX_DNS_F_QR | (5 << 11) | SBX_DNS_F_RA |
						SBX_DNS_RCODE_NOTIMP);
}

static void test_build_query_encodes_name(void)
{
	static const uint8_t want[] = {
		0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
		0x04, 'p',  'y',  'p',	'i',  0x03, 'o',  'r',	'g',  0x00, 0x00, 0x1c,
		0x00, 0x01, 0x00, 0x00, 0x29, 0x04, 0xd0, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00,
	};
	uint8_t out[512];
	size_t used, k;

	CHECK_INT(sbx_dns_build_query(0x1234, "pypi.org", 28, out, sizeof(out), &used), 0);
	CHECK_INT(used, sizeof(want));
	CHECK(memcmp(out, want, sizeof(want)) == 0);
	CHECK_INT(sbx_dns_build_query(0x1234, "pypi.org.", 28, out, sizeof(out), &used), 0);
	CHECK(memcmp(out, want, sizeof(want)) == 0);
	for (k = 0; k < sizeof(want); k++)
		CHECK_INT(sbx_dns_build_query(0x1234, "pypi.org", 28, out, k, &used), -ENOSPC);
	CHECK_INT(sbx_dns_build_query(7, "", 2, out, sizeof(out), &used), 0);
	CHECK_INT(used, 12 + 1 + 4 + 11);
	CHECK_INT(out[12], 0);
}

static void test_build_query_refuses_bad_names(void)
{
	static const char *const bad[] = { "a..b", ".a", "..", "a b", "a\xff", "a*.io",
					   "a.io..", "a/b" };
	char name[400];
	uint8_t out[600];
	size_t used, i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		CHECK_INT(sbx_dns_build_query(1, bad[i], 1, out, sizeof(out), &used), -EINVAL);
	memset(name, 'a', 64);
	name[64] = '\0';
	CHECK_INT(sbx_dns_build_query(1, name, 1, out, sizeof(out), &used), -EINVAL);
	memset(name, 'a', 254);
	for (i = 63; i < 254; i += 64)
		name[i] = '.';
	name[254] = '\0';
	CHECK_INT(sbx_dns_build_query(1, name, 1, out, sizeof(out), &used), -EINVAL);
	name[253] = '\0';
	CHECK_INT(sbx_dns_build_query(1, name, 1, out, sizeof(out), &used), 0);
	CHECK_INT(sbx_dns_parse_query(out, used, &q), 0);
	CHECK_STR(q.name, name);
	CHECK_INT(q.edns_udp, SBX_DNS_EDNS_UDP);
}

/*
 * Upstream's reply for www.example.com A: a CNAME to edge.cdn.net (owner and target
 * compressed), two A records for the target, and one for a name nobody asked about.
 */
static void make_cname_reply(struct pkt *p)
{
	size_t target;

	phdr(p, 0x4242, 0x8180, 1, 4, 0, 0);
	pname(p, "www.example.com");
	p16(p, SBX_DNS_TYPE_A);
	p16(p, SBX_DNS_CLASS_IN);
	pptr(p, 12);
	prr(p, SBX_DNS_TYPE_CNAME, SBX_DNS_CLASS_IN, 300, 11);
	target = p->n;
	plabels(p, "edge.cdn");
	pptr(p, 12 + 4 + 8); /* "com" of the question: 0 terminated there */
	pptr(p, target);
	pa(p, 60, 1, 1, 1, 1);
	pptr(p, target);
	pa(p, 120, 2, 2, 2, 2);
	pname(p, "evil.com");
	pa(p, 5, 6, 6, 6, 6);
}

static int parse_r(const struct pkt *p, const char *name, uint16_t type, struct sbx_dns_rr *ans,
		   size_t maxans, size_t *n, int *rcode)
{
	return sbx_dns_parse_reply(p->b, p->n, 0x4242, name, type, ans, maxans, n, rcode);
}

static void test_upstream_reply_follows_cname_chain(void)
{
	struct sbx_dns_rr ans[8];
	struct pkt p;
	size_t n;
	int rcode;

	make_cname_reply(&p);
	CHECK_INT(parse_r(&p, "WWW.example.com.", 1, ans, 8, &n, &rcode), 0);
	CHECK_INT(rcode, 0);
	CHECK_INT(n, 2);
	CHECK(memcmp(ans[0].addr, "\x01\x01\x01\x01", 4) == 0);
	CHECK(memcmp(ans[1].addr, "\x02\x02\x02\x02", 4) == 0);
	CHECK_INT(ans[0].type, SBX_DNS_TYPE_A);
	CHECK_INT(ans[0].ttl, 60);
	CHECK_INT(ans[1].ttl, 60);
}

static void test_cname_chain_in_any_order_is_followed(void)
{
	struct sbx_dns_rr ans[8];
	struct pkt p;
	size_t n;
	int rcode;

	/* Addresses first, then b -> c, then a -> b: the chain is not in answer order. */
	phdr(&p, 0x4242, 0x8180, 1, 4, 0, 0);
	pname(&p, "a.io");
	p16(&p, 1);
	p16(&p, 1);
	pname(&p, "c.io");
	pa(&p, 3000, 10, 0, 0, 3);
	pname(&p, "b.io");
	prr(&p, SBX_DNS_TYPE_CNAME, 1, 20, 6);
	pname(&p, "c.io");
	pname(&p, "a.io");
	prr(&p, SBX_DNS_TYPE_CNAME, 1, 4000, 6);
	pname(&p, "b.io");
	pname(&p, "a.io");
	pa(&p, 4000, 10, 0, 0, 1);
	CHECK_INT(parse_r(&p, "a.io", 1, ans, 8, &n, &rcode), 0);
	CHECK_INT(n, 2);
	CHECK(memcmp(ans[0].addr, "\x0a\x00\x00\x03", 4) == 0);
	CHECK(memcmp(ans[1].addr, "\x0a\x00\x00\x01", 4) == 0);
	CHECK_INT(ans[0].ttl, 20);
}

static void test_reply_for_another_question_is_refused(void)
{
	struct sbx_dns_rr ans[8];
	struct pkt p;
	size_t n;
	int rcode;

	make_cname_reply(&p);
	CHECK_INT(sbx_dns_parse_reply(p.b, p.n, 0x4243, "www.example.com", 1, ans, 8, &n, &rcode),
		  -EPROTO);
	CHECK_INT(parse_r(&p, "example.com", 1, ans, 8, &n, &rcode), -EPROTO);
	CHECK_INT(parse_r(&p, "www.example.co", 1, ans, 8, &n, &rcode), -EPROTO);
	CHECK_INT(parse_r(&p, "www.example.com", 28, ans, 8, &n, &rcode), -EPROTO);
	set16(&p, 2, 0x0180); /* QR clear: a query, not a reply */
	CHECK_INT(parse_r(&p, "www.example.com", 1, ans, 8, &n, &rcode), -EPROTO);
	set16(&p, 2, 0x8180 | (4 << 11));
	CHECK_INT(parse_r(&p, "www.example.com", 1, ans, 8, &n, &rcode), -EPROTO);
	make_cname_reply(&p);
	set16(&p, 12 + 17 + 2, 3); /* class CH */
	CHECK_INT(parse_r(&p, "www.example.com", 1, ans, 8, &n, &rcode), -EPROTO);
	make_cname_reply(&p);
	set16(&p, 4, 0);
	CHECK_INT(parse_r(&p, "www.example.com", 1, ans, 8, &n, &rcode), -EPROTO);
	CHECK_INT(n, 0);
}

static void test_truncated_flag_asks_for_tcp(void)
{
	struct sbx_dns_rr ans[8];
	struct pkt p;
	size_t n;
	int rcode;

	make_cname_reply(&p);
	set16(&p, 2, 0x8180 | SBX_DNS_F_TC);
	CHECK_INT(parse_r(&p, "www.example.com", 1, ans, 8, &n, &rcode), -EMSGSIZE);
	CHECK_INT(n, 0);
}

static void test_error_rcode_returns_no_addresses(void)
{
	struct sbx_dns_rr ans[8];
	struct pkt p;
	size_t n;
	int rcode;

	make_cname_reply(&p);
	set16(&p, 2, 0x8183);
	CHECK_INT(parse_r(&p, "www.example.com", 1, ans, 8, &n, &rcode), 0);
	CHECK_INT(rcode, SBX_DNS_RCODE_NXDOMAIN);
	CHECK_INT(n, 0);
}

/* A reply to "a.io" A whose single answer's owner is written by the caller. */
static void reply_head(struct pkt *p, unsigned int an)
{
	phdr(p, 0x4242, 0x8180, 1, an, 0, 0);
	pname(p, "a.io");
	p16(p, 1);
	p16(p, 1);
}

static void test_pointer_loops_and_bad_pointers_are_refused(void)
{
	struct sbx_dns_rr ans[8];
	struct pkt p;
	size_t n, at;
	int rcode;

	reply_head(&p, 1);
	at = p.n;
	pptr(&p, at); /* points at itself */
	pa(&p, 1, 1, 2, 3, 4);
	CHECK_INT(parse_r(&p, "a.io", 1, ans, 8, &n, &rcode), -EPROTO);

	reply_head(&p, 1);
	at = p.n;
	pptr(&p, at + 2); /* forward */
	pa(&p, 1, 1, 2, 3, 4);
	CHECK_INT(parse_r(&p, "a.io", 1, ans, 8, &n, &rcode), -EPROTO);

	reply_head(&p, 1);
	pptr(&p, 2); /* into the header */
	pa(&p, 1, 1, 2, 3, 4);
	CHECK_INT(parse_r(&p, "a.io", 1, ans, 8, &n, &rcode), -EPROTO);

	reply_head(&p, 1);
	pptr(&p, 0x3fff); /* past the end */
	pa(&p, 1, 1, 2, 3, 4);
	CHECK_INT(parse_r(&p, "a.io", 1, ans, 8, &n, &rcode), -EPROTO);

	/* Two names pointing at each other: x -> y and y -> x. The first is written as a
	 * label then a pointer to the second, which points back to the first label. */
	reply_head(&p, 2);
	at = p.n;
	p8(&p, 1);
	p8(&p, 'x');
	pptr(&p, at + 4);
	pptr(&p, at);
	pa(&p, 1, 1, 2, 3, 4);
	CHECK_INT(parse_r(&p, "a.io", 1, ans, 8, &n, &rcode), -EPROTO);

	/* And a well-formed pointer to the question works. */
	reply_head(&p, 1);
	pptr(&p, 12);
	pa(&p, 1, 1, 2, 3, 4);
	CHECK_INT(parse_r(&p, "a.io", 1, ans, 8, &n, &rcode), 0);
	CHECK_INT(n, 1);
}

static void test_pointer_hops_are_bounded(void)
{
	struct sbx_dns_rr ans[8];
	size_t n, hops;
	struct pkt p;
	int rcode;

	for (hops = SBX_DNS_MAX_PTR_HOPS; hops <= SBX_DNS_MAX_PTR_HOPS + 1; hops++) {
		size_t prev = 12, i, rd;

		/* An unknown-type record carries a chain of pointers, each to the one before,
		 * the first to the question name; the A record's owner points at the last. */
		reply_head(&p, 2);
		pptr(&p, 12);
		prr(&p, 99, 1, 1, (unsigned int)(2 * (hops - 1)));
		rd = p.n;
		for (i = 0; i + 1 < hops; i++) {
			pptr(&p, prev);
			prev = rd + 2 * i;
		}
		pptr(&p, prev);
		pa(&p, 1, 9, 9, 9, 9);
		CHECK_INT(parse_r(&p, "a.io", 1, ans, 8, &n, &rcode),
			  hops <= SBX_DNS_MAX_PTR_HOPS ? 0 : -EPROTO);
		if (hops <= SBX_DNS_MAX_PTR_HOPS)
			CHECK_INT(n, 1);
	}
}

static void test_cname_loop_and_double_cname_are_refused(void)
{
	struct sbx_dns_rr ans[8];
	struct pkt p;
	size_t n;
	int rcode;

	reply_head(&p, 2);
	pptr(&p, 12);
	prr(&p, SBX_DNS_TYPE_CNAME, 1, 1, 6);
	pname(&p, "b.io");
	pname(&p, "b.io");
	prr(&p, SBX_DNS_TYPE_CNAME, 1, 1, 2);
	pptr(&p, 12);
	CHECK_INT(parse_r(&p, "a.io", 1, ans, 8, &n, &rcode), -EPROTO);

	reply_head(&p, 3);
	pptr(&p, 12);
	prr(&p, SBX_DNS_TYPE_CNAME, 1, 1, 6);
	pname(&p, "b.io");
	pptr(&p, 12);
	prr(&p, SBX_DNS_TYPE_CNAME, 1, 1, 6);
	pname(&p, "c.io");
	pname(&p, "c.io");
	pa(&p, 1, 1, 2, 3, 4);
	CHECK_INT(parse_r(&p, "a.io", 1, ans, 8, &n, &rcode), -EPROTO);

	/* A CNAME whose target does not fill its rdata exactly. */
	reply_head(&p, 1);
	pptr(&p, 12);
	prr(&p, SBX_DNS_TYPE_CNAME, 1, 1, 7);
	pname(&p, "b.io");
	p8(&p, 0);
	CHECK_INT(parse_r(&p, "a.io", 1, ans, 8, &n, &rcode), -EPROTO);
}

static void test_cname_chain_longer_than_bound_is_not_followed(void)
{
	struct sbx_dns_rr ans[8];
	size_t n, len;
	struct pkt p;
	int rcode;

	for (len = SBX_DNS_MAX_CNAME; len <= SBX_DNS_MAX_CNAME + 1; len++) {
		char from[16], to[16];
		size_t i;

		reply_head(&p, (unsigned int)len + 1);
		for (i = 0; i < len; i++) {
			snprintf(from, sizeof(from), i ? "c%zu.io" : "a.io", i);
			snprintf(to, sizeof(to), "c%zu.io", i + 1);
			pname(&p, from);
			prr(&p, SBX_DNS_TYPE_CNAME, 1, 100, (unsigned int)strlen(to) + 2);
			pname(&p, to);
		}
		pname(&p, to);
		pa(&p, 50, 7, 7, 7, 7);
		CHECK_INT(parse_r(&p, "a.io", 1, ans, 8, &n, &rcode), 0);
		CHECK_INT(n, len <= SBX_DNS_MAX_CNAME ? 1 : 0);
	}
}

static void test_address_with_wrong_length_is_refused(void)
{
	struct sbx_dns_rr ans[8];
	struct pkt p;
	size_t n;
	int rcode;

	reply_head(&p, 1);
	pptr(&p, 12);
	prr(&p, SBX_DNS_TYPE_A, 1, 1, 5);
	pmem(&p, "\x01\x02\x03\x04\x05", 5);
	CHECK_INT(parse_r(&p, "a.io", 1, ans, 8, &n, &rcode), -EPROTO);
	reply_head(&p, 1);
	pptr(&p, 12);
	prr(&p, SBX_DNS_TYPE_AAAA, 1, 1, 4);
	pmem(&p, "\x01\x02\x03\x04", 4);
	CHECK_INT(parse_r(&p, "a.io", 1, ans, 8, &n, &rcode), -EPROTO);
}

static void test_every_truncated_reply_is_refused(void)
{
	struct sbx_dns_rr ans[8];
	struct pkt p;
	size_t n, k;
	int rcode;

	make_cname_reply(&p);
	for (k = 0; k < p.n; k++)
		CHECK_INT(sbx_dns_parse_reply(p.b, k, 0x4242, "www.example.com", 1, ans, 8, &n,
					      &rcode),
			  -EPROTO);
	/* Names in the answers that are not host names spoil the whole reply. */
	reply_head(&p, 1);
	pname(&p, "a\x01.io");
	pa(&p, 1, 1, 2, 3, 4);
	CHECK_INT(parse_r(&p, "a.io", 1, ans, 8, &n, &rcode), -EPROTO);
}

static void test_answers_beyond_maxans_are_dropped(void)
{
	struct sbx_dns_rr ans[8];
	struct pkt p;
	size_t n;
	int rcode;

	make_cname_reply(&p);
	memset(ans, 0xee, sizeof(ans));
	CHECK_INT(parse_r(&p, "www.example.com", 1, ans, 1, &n, &rcode), 0);
	CHECK_INT(n, 1);
	CHECK(memcmp(ans[0].addr, "\x01\x01\x01\x01", 4) == 0);
	CHECK_INT(ans[1].type, 0xeeee);
	CHECK_INT(parse_r(&p, "www.example.com", 1, ans, 0, &n, &rcode), 0);
	CHECK_INT(n, 0);
}

static void test_expect_type_must_be_a_or_aaaa(void)
{
	struct sbx_dns_rr ans[8];
	struct pkt p;
	size_t n;
	int rcode;

	make_cname_reply(&p);
	CHECK_INT(parse_r(&p, "www.example.com", SBX_DNS_TYPE_CNAME, ans, 8, &n, &rcode), -EINVAL);
	CHECK_INT(parse_r(&p, "www.example.com", 16, ans, 8, &n, &rcode), -EINVAL);
}

static void test_ttl_with_high_bit_counts_as_zero(void)
{
	struct sbx_dns_rr ans[8];
	struct pkt p;
	size_t n;
	int rcode;

	reply_head(&p, 1);
	pptr(&p, 12);
	pa(&p, 0x80000000u, 1, 2, 3, 4);
	CHECK_INT(parse_r(&p, "a.io", 1, ans, 8, &n, &rcode), 0);
	CHECK_INT(n, 1);
	CHECK_INT(ans[0].ttl, 0);
}

static void test_answers_of_other_types_or_classes_are_ignored(void)
{
	struct sbx_dns_rr ans[8];
	struct pkt p;
	size_t n;
	int rcode;

	reply_head(&p, 4);
	pptr(&p, 12);
	prr(&p, SBX_DNS_TYPE_AAAA, 1, 1, 16);
	pmem(&p, "0123456789abcdef", 16);
	pptr(&p, 12);
	prr(&p, SBX_DNS_TYPE_A, 3, 1, 4); /* class CH */
	pmem(&p, "\x05\x05\x05\x05", 4);
	pptr(&p, 12);
	prr(&p, 16, 1, 1, 3); /* TXT with binary contents */
	pmem(&p, "\x02\x00\xff", 3);
	pptr(&p, 12);
	pa(&p, 77, 8, 8, 8, 8);
	CHECK_INT(parse_r(&p, "a.io", 1, ans, 8, &n, &rcode), 0);
	CHECK_INT(n, 1);
	CHECK(memcmp(ans[0].addr, "\x08\x08\x08\x08", 4) == 0);
	CHECK_INT(ans[0].ttl, 77);
}

static const struct test tests[] = {
	T(test_dig_query_parses),
	T(test_query_without_edns_parses),
	T(test_every_truncated_query_is_emsgsize),
	T(test_response_sent_as_query_is_ebadmsg),
	T(test_other_opcodes_are_eopnotsupp),
	T(test_query_section_counts_are_enforced),
	T(test_compression_pointer_in_query_is_refused),
	T(test_oversize_labels_and_names_are_refused),
	T(test_names_at_the_limits_are_accepted),
	T(test_label_bytes_outside_hostname_chars_are_refused),
	T(test_reserved_label_types_are_refused),
	T(test_additional_record_must_be_a_single_opt),
	T(test_root_query_has_empty_name),
	T(test_reply_limit_follows_edns),
	T(test_reply_echoes_question_and_flags),
	T(test_reply_round_trips_through_parse_reply),
	T(test_reply_without_answers_carries_rcode),
	T(test_reply_too_big_is_truncated_without_answers),
	T(test_reply_refuses_bad_arguments),
	T(test_error_reply_to_unparsable_query_has_no_question),
	T(test_build_query_encodes_name),
	T(test_build_query_refuses_bad_names),
	T(test_upstream_reply_follows_cname_chain),
	T(test_cname_chain_in_any_order_is_followed),
	T(test_reply_for_another_question_is_refused),
	T(test_truncated_flag_asks_for_tcp),
	T(test_error_rcode_returns_no_addresses),
	T(test_pointer_loops_and_bad_pointers_are_refused),
	T(test_pointer_hops_are_bounded),
	T(test_cname_loop_and_double_cname_are_refused),
	T(test_cname_chain_longer_than_bound_is_not_followed),
	T(test_address_with_wrong_length_is_refused),
	T(test_every_truncated_reply_is_refused),
	T(test_answers_beyond_maxans_are_dropped),
	T(test_expect_type_must_be_a_or_aaaa),
	T(test_ttl_with_high_bit_counts_as_zero),
	T(test_answers_of_other_types_or_classes_are_ignored),
};

TEST_MAIN("dnsmsg", tests)
