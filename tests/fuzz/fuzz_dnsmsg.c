/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for user/dnsmsg.c. Besides "no crash", it checks: only documented return
 * codes; a parsed query's name is a host-name-shaped string; a reply built for any parsed
 * query (or an error reply for an unparsable one) can be built and, for A/AAAA, parses back
 * to the same addresses; upstream replies never yield more than asked, of another type, or a
 * TTL with the high bit; a query built from any name parses back to that name.
 * Built and run by `make fuzz` (see tests/fuzz/run.sh).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dnsmsg.h"

#define FUZZ_ANSWERS 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool name_shape_ok(const char *n)
{
	size_t len = strlen(n);

	return len <= SBX_DNS_NAME_MAX &&
	       strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789-_.") == len &&
	       (len == 0 || (n[0] != '.' && n[len - 1] != '.' && !strstr(n, "..")));
}

static void fuzz_query(const uint8_t *data, size_t size)
{
	static uint8_t out[SBX_DNS_MSG_MAX];
	struct sbx_dns_rr rr[FUZZ_ANSWERS], got[FUZZ_ANSWERS];
	struct sbx_dns_query q;
	size_t used, n, i;
	int err = sbx_dns_parse_query(data, size, &q), rcode;

	if (err != 0 && err != -EMSGSIZE && err != -EPROTO && err != -EOPNOTSUPP &&
	    err != -EBADMSG)
		abort();
	if (err == -EPROTO || err == -EOPNOTSUPP) {
		int rerr = sbx_dns_build_reply(&q, data, SBX_DNS_RCODE_FORMERR, NULL, 0, out, 512,
					       &used);

		if (rerr || used != SBX_DNS_HDR_LEN)
			abort();
	}
	if (err)
		return;
	if (!name_shape_ok(q.name) || q.question_end > size || q.question_end <= SBX_DNS_HDR_LEN)
		abort();
	if (q.qtype != SBX_DNS_TYPE_A && q.qtype != SBX_DNS_TYPE_AAAA) {
		if (sbx_dns_build_reply(&q, data, SBX_DNS_RCODE_REFUSED, NULL, 0, out, 512, &used))
			abort();
		return;
	}
	for (i = 0; i < FUZZ_ANSWERS; i++) {
		rr[i].type = q.qtype;
		rr[i].ttl = 100 + (uint32_t)i;
		memset(rr[i].addr, (int)i + 1, sizeof(rr[i].addr));
	}
	err = sbx_dns_build_reply(&q, data, 0, rr, FUZZ_ANSWERS, out, sbx_dns_reply_limit(&q),
				  &used);
	if (err || used > sbx_dns_reply_limit(&q))
		abort();
	err = sbx_dns_parse_reply(out, used, q.id, q.name, q.qtype, got, FUZZ_ANSWERS, &n, &rcode);
	if (q.qclass != SBX_DNS_CLASS_IN) {
		if (err != -EPROTO)
			abort();
		return;
	}
	if (out[2] & (SBX_DNS_F_TC >> 8)) {
		if (err != -EMSGSIZE)
			abort();
		return;
	}
	if (err || rcode || n != FUZZ_ANSWERS)
		abort();
	for (i = 0; i < n; i++)
		if (got[i].ttl != 100 || got[i].type != q.qtype ||
		    memcmp(got[i].addr, rr[i].addr, q.qtype == SBX_DNS_TYPE_A ? 4 : 16))
			abort();
}

static void fuzz_reply(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "a.io", "www.example.com" };
	struct sbx_dns_rr got[FUZZ_ANSWERS];
	uint16_t type, id;
	size_t n, i;
	int err, rcode;

	if (size < 2)
		return;
	/* Let the input choose what it is a reply to, so matching questions are reachable. */
	id = (uint16_t)(data[0] << 8 | data[1]);
	type = size > 2 && (data[2] & 0x40) ? SBX_DNS_TYPE_AAAA : SBX_DNS_TYPE_A;
	err = sbx_dns_parse_reply(data, size, id, names[size & 1], type, got, FUZZ_ANSWERS, &n,
				  &rcode);
	if (err != 0 && err != -EPROTO && err != -EMSGSIZE)
		abort();
	if (err) {
		if (n)
			abort();
		return;
	}
	if (n > FUZZ_ANSWERS || rcode < 0 || rcode > 15 || (rcode && n))
		abort();
	for (i = 0; i < n; i++)
		if (got[i].type != type || got[i].ttl > 0x7fffffffu || got[i].ttl != got[0].ttl)
			abort();
}

static void fuzz_build_query(const uint8_t *data, size_t size)
{
	uint8_t out[SBX_DNS_HDR_LEN + 255 + 4 + 11];
	struct sbx_dns_query q;
	char name[300];
	size_t used, i, n;

	if (size >= sizeof(name))
		return;
	memcpy(name, data, size);
	name[size] = '\0';
	if (sbx_dns_build_query(0x55aa, name, SBX_DNS_TYPE_A, out, sizeof(out), &used))
		return;
	if (used > sizeof(out) || sbx_dns_parse_query(out, used, &q) || q.id != 0x55aa ||
	    q.qtype != SBX_DNS_TYPE_A || q.edns_udp != SBX_DNS_EDNS_UDP)
		abort();
	n = strlen(name);
	if (n && name[n - 1] == '.')
		n--;
	if (strlen(q.name) != n)
		abort();
	for (i = 0; i < n; i++) {
		char c = name[i] >= 'A' && name[i] <= 'Z' ? (char)(name[i] - 'A' + 'a') : name[i];

		if (q.name[i] != c)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_query(data, size);
	fuzz_reply(data, size);
	fuzz_build_query(data, size);
	return 0;
}
