/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for user/sniff.c: the TLS ClientHello and HTTP request-head parsers, fed real
 * client bytes captured on loopback, every prefix of them, corrupted length fields and the
 * hostile inputs a sandboxed program could send to slip a host past the policy.
 */
#include <errno.h>
#include <stdint.h>

#include "sniff.h"
#include "test.h"

/* curl 7.88.1/OpenSSL 3.0 to https://pypi.org, captured on 127.0.0.1 (--connect-to) */
static const uint8_t curl_hello[] = {
	0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x7b,
	0x74, 0xb2, 0x15, 0x11, 0x95, 0xcf, 0x11, 0xaf, 0xff, 0x05, 0x9a, 0x4d,
	0x05, 0x93, 0x03, 0xad, 0xf4, 0x81, 0xeb, 0xad, 0x62, 0x99, 0x93, 0x1a,
	0x86, 0xc1, 0xbe, 0x2f, 0xe9, 0x34, 0x4c, 0x20, 0xa7, 0x58, 0x7c, 0xee,
	0xe9, 0xd2, 0x35, 0x5d, 0x1e, 0xee, 0x34, 0x5b, 0x9e, 0x15, 0xb2, 0x48,
	0xfe, 0x4b, 0x3c, 0x39, 0x17, 0x34, 0x57, 0xb3, 0xe4, 0xd9, 0x3f, 0x17,
	0xcb, 0x22, 0x91, 0x46, 0x00, 0x3e, 0x13, 0x02, 0x13, 0x03, 0x13, 0x01,
	0xc0, 0x2c, 0xc0, 0x30, 0x00, 0x9f, 0xcc, 0xa9, 0xcc, 0xa8, 0xcc, 0xaa,
	0xc0, 0x2b, 0xc0, 0x2f, 0x00, 0x9e, 0xc0, 0x24, 0xc0, 0x28, 0x00, 0x6b,
	0xc0, 0x23, 0xc0, 0x27, 0x00, 0x67, 0xc0, 0x0a, 0xc0, 0x14, 0x00, 0x39,
	0xc0, 0x09, 0xc0, 0x13, 0x00, 0x33, 0x00, 0x9d, 0x00, 0x9c, 0x00, 0x3d,
	0x00, 0x3c, 0x00, 0x35, 0x00, 0x2f, 0x00, 0xff, 0x01, 0x00, 0x01, 0x75,
	0x00, 0x00, 0x00, 0x0d, 0x00, 0x0b, 0x00, 0x00, 0x08, 0x70, 0x79, 0x70,
	0x69, 0x2e, 0x6f, 0x72, 0x67, 0x00, 0x0b, 0x00, 0x04, 0x03, 0x00, 0x01,
	0x02, 0x00, 0x0a, 0x00, 0x16, 0x00, 0x14, 0x00, 0x1d, 0x00, 0x17, 0x00,
	0x1e, 0x00, 0x19, 0x00, 0x18, 0x01, 0x00, 0x01, 0x01, 0x01, 0x02, 0x01,
	0x03, 0x01, 0x04, 0x00, 0x10, 0x00, 0x0e, 0x00, 0x0c, 0x02, 0x68, 0x32,
	0x08, 0x68, 0x74, 0x74, 0x70, 0x2f, 0x31, 0x2e, 0x31, 0x00, 0x16, 0x00,
	0x00, 0x00, 0x17, 0x00, 0x00, 0x00, 0x31, 0x00, 0x00, 0x00, 0x0d, 0x00,
	0x2a, 0x00, 0x28, 0x04, 0x03, 0x05, 0x03, 0x06, 0x03, 0x08, 0x07, 0x08,
	0x08, 0x08, 0x09, 0x08, 0x0a, 0x08, 0x0b, 0x08, 0x04, 0x08, 0x05, 0x08,
	0x06, 0x04, 0x01, 0x05, 0x01, 0x06, 0x01, 0x03, 0x03, 0x03, 0x01, 0x03,
	0x02, 0x04, 0x02, 0x05, 0x02, 0x06, 0x02, 0x00, 0x2b, 0x00, 0x09, 0x08,
	0x03, 0x04, 0x03, 0x03, 0x03, 0x02, 0x03, 0x01, 0x00, 0x2d, 0x00, 0x02,
	0x01, 0x01, 0x00, 0x33, 0x00, 0x26, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20,
	0xdf, 0x03, 0x3f, 0xaf, 0xca, 0xa3, 0x4a, 0x35, 0xf7, 0x64, 0x19, 0x80,
	0x80, 0xec, 0xa3, 0xc5, 0x77, 0xb0, 0x04, 0x2b, 0x99, 0x9a, 0x70, 0x59,
	0x76, 0xeb, 0x49, 0x6a, 0x60, 0x6c, 0x1c, 0x5a, 0x00, 0x15, 0x00, 0xb5,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00,
};
/* openssl s_client -servername PyPI.org. (uppercase, trailing dot), captured on 127.0.0.1 */
static const uint8_t ossl_hello[] = {
	0x16, 0x03, 0x01, 0x01, 0x36, 0x01, 0x00, 0x01, 0x32, 0x03, 0x03, 0x97,
	0x96, 0xe4, 0xe1, 0x4b, 0x9e, 0x93, 0xea, 0xa3, 0xea, 0x6f, 0x07, 0x9d,
	0xdd, 0x18, 0x51, 0xa1, 0x6d, 0x16, 0x2b, 0x06, 0xdf, 0x19, 0x42, 0x7c,
	0xfc, 0x2e, 0xba, 0xcf, 0xde, 0x06, 0x07, 0x20, 0x88, 0x68, 0xa8, 0x33,
	0xcb, 0xae, 0xdc, 0x63, 0xa9, 0x67, 0xb4, 0x09, 0x46, 0xa3, 0x18, 0xa5,
	0x22, 0x5a, 0xee, 0x40, 0x9d, 0x5f, 0x1e, 0xa6, 0xf0, 0xe6, 0xc9, 0xb7,
	0xbe, 0xe6, 0xdf, 0xf9, 0x00, 0x3e, 0x13, 0x02, 0x13, 0x03, 0x13, 0x01,
	0xc0, 0x2c, 0xc0, 0x30, 0x00, 0x9f, 0xcc, 0xa9, 0xcc, 0xa8, 0xcc, 0xaa,
	0xc0, 0x2b, 0xc0, 0x2f, 0x00, 0x9e, 0xc0, 0x24, 0xc0, 0x28, 0x00, 0x6b,
	0xc0, 0x23, 0xc0, 0x27, 0x00, 0x67, 0xc0, 0x0a, 0xc0, 0x14, 0x00, 0x39,
	0xc0, 0x09, 0xc0, 0x13, 0x00, 0x33, 0x00, 0x9d, 0x00, 0x9c, 0x00, 0x3d,
	0x00, 0x3c, 0x00, 0x35, 0x00, 0x2f, 0x00, 0xff, 0x01, 0x00, 0x00, 0xab,
	0x00, 0x00, 0x00, 0x0e, 0x00, 0x0c, 0x00, 0x00, 0x09, 0x50, 0x79, 0x50,
	0x49, 0x2e, 0x6f, 0x72, 0x67, 0x2e, 0x00, 0x0b, 0x00, 0x04, 0x03, 0x00,
	0x01, 0x02, 0x00, 0x0a, 0x00, 0x16, 0x00, 0x14, 0x00, 0x1d, 0x00, 0x17,
	0x00, 0x1e, 0x00, 0x19, 0x00, 0x18, 0x01, 0x00, 0x01, 0x01, 0x01, 0x02,
	0x01, 0x03, 0x01, 0x04, 0x00, 0x23, 0x00, 0x00, 0x00, 0x16, 0x00, 0x00,
	0x00, 0x17, 0x00, 0x00, 0x00, 0x0d, 0x00, 0x2a, 0x00, 0x28, 0x04, 0x03,
	0x05, 0x03, 0x06, 0x03, 0x08, 0x07, 0x08, 0x08, 0x08, 0x09, 0x08, 0x0a,
	0x08, 0x0b, 0x08, 0x04, 0x08, 0x05, 0x08, 0x06, 0x04, 0x01, 0x05, 0x01,
	0x06, 0x01, 0x03, 0x03, 0x03, 0x01, 0x03, 0x02, 0x04, 0x02, 0x05, 0x02,
	0x06, 0x02, 0x00, 0x2b, 0x00, 0x09, 0x08, 0x03, 0x04, 0x03, 0x03, 0x03,
	0x02, 0x03, 0x01, 0x00, 0x2d, 0x00, 0x02, 0x01, 0x01, 0x00, 0x33, 0x00,
	0x26, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20, 0xe0, 0x90, 0xf4, 0x7a, 0xe7,
	0x43, 0x86, 0x6c, 0x86, 0x84, 0x40, 0x0d, 0xf6, 0x92, 0xde, 0xd7, 0xdb,
	0x95, 0xc9, 0x93, 0x7c, 0xdb, 0xb8, 0xce, 0x48, 0x3f, 0xfe, 0x23, 0x5b,
	0xe9, 0x1f, 0x33,
};
/* openssl s_client -tls1_2 -servername files.pythonhosted.org, captured on 127.0.0.1 */
static const uint8_t ossl12_hello[] = {
	0x16, 0x03, 0x01, 0x00, 0xd6, 0x01, 0x00, 0x00, 0xd2, 0x03, 0x03, 0x8c,
	0x31, 0x7b, 0xa5, 0xc6, 0x1f, 0x0d, 0x91, 0xc5, 0x90, 0x41, 0x5b, 0xf5,
	0x62, 0x89, 0x88, 0x89, 0x85, 0xd7, 0xcc, 0x12, 0xd6, 0x43, 0x1a, 0xc3,
	0xf2, 0x56, 0xc5, 0x30, 0xce, 0x3d, 0xa7, 0x00, 0x00, 0x38, 0xc0, 0x2c,
	0xc0, 0x30, 0x00, 0x9f, 0xcc, 0xa9, 0xcc, 0xa8, 0xcc, 0xaa, 0xc0, 0x2b,
	0xc0, 0x2f, 0x00, 0x9e, 0xc0, 0x24, 0xc0, 0x28, 0x00, 0x6b, 0xc0, 0x23,
	0xc0, 0x27, 0x00, 0x67, 0xc0, 0x0a, 0xc0, 0x14, 0x00, 0x39, 0xc0, 0x09,
	0xc0, 0x13, 0x00, 0x33, 0x00, 0x9d, 0x00, 0x9c, 0x00, 0x3d, 0x00, 0x3c,
	0x00, 0x35, 0x00, 0x2f, 0x00, 0xff, 0x01, 0x00, 0x00, 0x71, 0x00, 0x00,
	0x00, 0x1b, 0x00, 0x19, 0x00, 0x00, 0x16, 0x66, 0x69, 0x6c, 0x65, 0x73,
	0x2e, 0x70, 0x79, 0x74, 0x68, 0x6f, 0x6e, 0x68, 0x6f, 0x73, 0x74, 0x65,
	0x64, 0x2e, 0x6f, 0x72, 0x67, 0x00, 0x0b, 0x00, 0x04, 0x03, 0x00, 0x01,
	0x02, 0x00, 0x0a, 0x00, 0x0c, 0x00, 0x0a, 0x00, 0x1d, 0x00, 0x17, 0x00,
	0x1e, 0x00, 0x19, 0x00, 0x18, 0x00, 0x23, 0x00, 0x00, 0x00, 0x16, 0x00,
	0x00, 0x00, 0x17, 0x00, 0x00, 0x00, 0x0d, 0x00, 0x2a, 0x00, 0x28, 0x04,
	0x03, 0x05, 0x03, 0x06, 0x03, 0x08, 0x07, 0x08, 0x08, 0x08, 0x09, 0x08,
	0x0a, 0x08, 0x0b, 0x08, 0x04, 0x08, 0x05, 0x08, 0x06, 0x04, 0x01, 0x05,
	0x01, 0x06, 0x01, 0x03, 0x03, 0x03, 0x01, 0x03, 0x02, 0x04, 0x02, 0x05,
	0x02, 0x06, 0x02,
};
/* openssl s_client -noservername, captured on 127.0.0.1 */
static const uint8_t nosni_hello[] = {
	0x16, 0x03, 0x01, 0x01, 0x24, 0x01, 0x00, 0x01, 0x20, 0x03, 0x03, 0xb3,
	0xda, 0xa1, 0x4a, 0xff, 0x53, 0xab, 0x89, 0xe4, 0xb0, 0x18, 0xf3, 0x75,
	0x48, 0x80, 0xd5, 0x4d, 0x1c, 0xb0, 0xef, 0x17, 0x74, 0xe8, 0xdd, 0x54,
	0xc4, 0x6e, 0x34, 0x14, 0x72, 0x43, 0x4e, 0x20, 0x49, 0x76, 0x10, 0x9c,
	0xd2, 0xd4, 0x23, 0x34, 0xdc, 0x22, 0x90, 0xec, 0x53, 0xdd, 0x9d, 0x68,
	0xc9, 0x1c, 0xac, 0xea, 0x24, 0x5e, 0x80, 0x15, 0x12, 0x88, 0xbe, 0x2e,
	0x10, 0x1b, 0x6d, 0x90, 0x00, 0x3e, 0x13, 0x02, 0x13, 0x03, 0x13, 0x01,
	0xc0, 0x2c, 0xc0, 0x30, 0x00, 0x9f, 0xcc, 0xa9, 0xcc, 0xa8, 0xcc, 0xaa,
	0xc0, 0x2b, 0xc0, 0x2f, 0x00, 0x9e, 0xc0, 0x24, 0xc0, 0x28, 0x00, 0x6b,
	0xc0, 0x23, 0xc0, 0x27, 0x00, 0x67, 0xc0, 0x0a, 0xc0, 0x14, 0x00, 0x39,
	0xc0, 0x09, 0xc0, 0x13, 0x00, 0x33, 0x00, 0x9d, 0x00, 0x9c, 0x00, 0x3d,
	0x00, 0x3c, 0x00, 0x35, 0x00, 0x2f, 0x00, 0xff, 0x01, 0x00, 0x00, 0x99,
	0x00, 0x0b, 0x00, 0x04, 0x03, 0x00, 0x01, 0x02, 0x00, 0x0a, 0x00, 0x16,
	0x00, 0x14, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x1e, 0x00, 0x19, 0x00, 0x18,
	0x01, 0x00, 0x01, 0x01, 0x01, 0x02, 0x01, 0x03, 0x01, 0x04, 0x00, 0x23,
	0x00, 0x00, 0x00, 0x16, 0x00, 0x00, 0x00, 0x17, 0x00, 0x00, 0x00, 0x0d,
	0x00, 0x2a, 0x00, 0x28, 0x04, 0x03, 0x05, 0x03, 0x06, 0x03, 0x08, 0x07,
	0x08, 0x08, 0x08, 0x09, 0x08, 0x0a, 0x08, 0x0b, 0x08, 0x04, 0x08, 0x05,
	0x08, 0x06, 0x04, 0x01, 0x05, 0x01, 0x06, 0x01, 0x03, 0x03, 0x03, 0x01,
	0x03, 0x02, 0x04, 0x02, 0x05, 0x02, 0x06, 0x02, 0x00, 0x2b, 0x00, 0x09,
	0x08, 0x03, 0x04, 0x03, 0x03, 0x03, 0x02, 0x03, 0x01, 0x00, 0x2d, 0x00,
	0x02, 0x01, 0x01, 0x00, 0x33, 0x00, 0x26, 0x00, 0x24, 0x00, 0x1d, 0x00,
	0x20, 0x01, 0x5b, 0xaf, 0x11, 0xd7, 0x87, 0x6e, 0xa7, 0xe6, 0xc8, 0x93,
	0x2c, 0x24, 0x06, 0xe2, 0x2b, 0xf7, 0xe8, 0x2f, 0xe8, 0x43, 0x92, 0x9e,
	0xd1, 0xd0, 0xef, 0xf3, 0xd5, 0xf1, 0x1f, 0x5c, 0x38,
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MSG_MAX (SBX_SNIFF_MAX * 2)
#define MARKS_MAX 32

/* A message under construction, remembering where its length fields are. */
struct msg {
	uint8_t b[MSG_MAX];
	size_t n;
	size_t marks[MARKS_MAX];
	size_t mark_len[MARKS_MAX];
	size_t nmarks;
};

static void put8(struct msg *m, unsigned int v)
{
	m->b[m->n++] = (uint8_t)v;
}

static void put16(struct msg *m, unsigned int v)
{
	put8(m, v >> 8);
	put8(m, v);
}

static void putmem(struct msg *m, const void *p, size_t n)
{
	if (n)
		memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void putfill(struct msg *m, uint8_t c, size_t n)
{
	memset(m->b + m->n, c, n);
	m->n += n;
}

/* Reserve a bytes-wide length field; seal() fills it with the length of what followed. */
static size_t mark(struct msg *m, size_t bytes)
{
	size_t at = m->n;

	m->marks[m->nmarks] = at;
	m->mark_len[m->nmarks++] = bytes;
	putfill(m, 0, bytes);
	return at;
}

static void seal(struct msg *m, size_t at, size_t bytes)
{
	size_t len = m->n - at - bytes, i;

	for (i = 0; i < bytes; i++)
		m->b[at + i] = (uint8_t)(len >> (8 * (bytes - 1 - i)));
}

/* A server_name extension with one host_name entry of n bytes. */
static void ext_sni(struct msg *m, const char *name, size_t n)
{
	size_t el, ll;

	put16(m, 0);
	el = mark(m, 2);
	ll = mark(m, 2);
	put8(m, 0);
	put16(m, (unsigned int)n);
	putmem(m, name, n);
	seal(m, ll, 2);
	seal(m, el, 2);
}

static void ext_raw(struct msg *m, unsigned int type, const void *body, size_t n)
{
	put16(m, type);
	put16(m, (unsigned int)n);
	putmem(m, body, n);
}

/* A one-record ClientHello around the extension bytes in exts (no block at all if NULL). */
static void make_hello(struct msg *m, const struct msg *exts)
{
	size_t rec, hs, el;

	memset(m, 0, sizeof(*m));
	put8(m, 22);
	put16(m, 0x0301);
	rec = mark(m, 2);
	put8(m, 1);
	hs = mark(m, 3);
	put16(m, 0x0303);
	putfill(m, 0x11, 32);
	put8(m, 32);
	putfill(m, 0x22, 32);
	put16(m, 4);
	put16(m, 0x1301);
	put16(m, 0x1302);
	put8(m, 1);
	put8(m, 0);
	if (exts) {
		el = mark(m, 2);
		putmem(m, exts->b, exts->n);
		seal(m, el, 2);
	}
	seal(m, hs, 3);
	seal(m, rec, 2);
}

static void make_sni_hello(struct msg *m, const char *name)
{
	static struct msg e;

	memset(&e, 0, sizeof(e));
	ext_sni(&e, name, strlen(name));
	make_hello(m, &e);
}

static int sni(const uint8_t *b, size_t n, char *host)
{
	return sbx_sniff_tls_sni(b, n, host, SBX_HOST_BUF);
}

/*
 * Re-split a one-record ClientHello's payload into records of the sizes given (cycled), as a
 * client trying to hide its server name in a later record would.
 */
static size_t refragment(const uint8_t *in, size_t inlen, const size_t *sizes, size_t nsizes,
			 uint8_t *out)
{
	size_t off = SBX_TLS_HDR_LEN, o = 0, i = 0;

	while (off < inlen) {
		size_t take = sizes[i++ % nsizes];

		if (take > inlen - off)
			take = inlen - off;
		out[o++] = 22;
		out[o++] = 3;
		out[o++] = 1;
		out[o++] = (uint8_t)(take >> 8);
		out[o++] = (uint8_t)take;
		memcpy(out + o, in + off, take);
		o += take;
		off += take;
	}
	return o;
}

/* Every proper prefix of a valid message is a valid prefix: -EAGAIN, never more, never less. */
static void check_prefixes_need_more(const uint8_t *b, size_t n)
{
	struct sbx_tls_hello h;
	size_t k;

	for (k = 0; k < n; k++) {
		int err = sbx_sniff_tls_hello(b, k, &h);

		if (err != -EAGAIN) {
			fprintf(stderr, "  prefix of %zu/%zu bytes: %d\n", k, n, err);
			CHECK_INT(err, -EAGAIN);
			return;
		}
	}
}

static void test_curl_client_hello_yields_sni(void)
{
	struct sbx_tls_hello h;
	char host[SBX_HOST_BUF];

	CHECK_INT(sbx_sniff_tls_hello(curl_hello, sizeof(curl_hello), &h), 0);
	CHECK_STR(h.sni, "pypi.org");
	CHECK(!h.ech);
	CHECK_INT(h.len, sizeof(curl_hello));
	CHECK_INT(sni(curl_hello, sizeof(curl_hello), host), 0);
	CHECK_STR(host, "pypi.org");
}

static void test_sni_is_lowercased_and_loses_trailing_dot(void)
{
	char host[SBX_HOST_BUF];

	CHECK_INT(sni(ossl_hello, sizeof(ossl_hello), host), 0);
	CHECK_STR(host, "pypi.org");
}

static void test_tls12_client_hello_yields_sni(void)
{
	char host[SBX_HOST_BUF];

	CHECK_INT(sni(ossl12_hello, sizeof(ossl12_hello), host), 0);
	CHECK_STR(host, "files.pythonhosted.org");
}

static void test_client_hello_without_sni_is_enoent(void)
{
	struct sbx_tls_hello h;
	struct msg m;

	CHECK_INT(sbx_sniff_tls_hello(nosni_hello, sizeof(nosni_hello), &h), -ENOENT);
	CHECK_STR(h.sni, "");
	CHECK_INT(h.len, sizeof(nosni_hello));
	make_hello(&m, NULL);
	CHECK_INT(sbx_sniff_tls_hello(m.b, m.n, &h), -ENOENT);
}

static void test_every_truncated_client_hello_needs_more(void)
{
	struct msg m;

	check_prefixes_need_more(curl_hello, sizeof(curl_hello));
	check_prefixes_need_more(ossl_hello, sizeof(ossl_hello));
	check_prefixes_need_more(ossl12_hello, sizeof(ossl12_hello));
	check_prefixes_need_more(nosni_hello, sizeof(nosni_hello));
	make_hello(&m, NULL);
	check_prefixes_need_more(m.b, m.n);
}

static void test_bytes_after_client_hello_records_are_not_read(void)
{
	static uint8_t b[sizeof(curl_hello) + 64];
	struct sbx_tls_hello h;

	memcpy(b, curl_hello, sizeof(curl_hello));
	/* A ChangeCipherSpec and garbage: 0-RTT data and the like follow the hello. */
	memcpy(b + sizeof(curl_hello), "\x14\x03\x03\x00\x01\x01\xff\xff\xff", 9);
	CHECK_INT(sbx_sniff_tls_hello(b, sizeof(curl_hello) + 9, &h), 0);
	CHECK_STR(h.sni, "pypi.org");
	CHECK_INT(h.len, sizeof(curl_hello));
}

static void test_is_tls_classifies_first_bytes(void)
{
	CHECK_INT(sbx_sniff_is_tls((const uint8_t *)"", 0), -EAGAIN);
	CHECK_INT(sbx_sniff_is_tls((const uint8_t *)"\x16", 1), -EAGAIN);
	CHECK_INT(sbx_sniff_is_tls((const uint8_t *)"\x16\x03", 2), -EAGAIN);
	CHECK_INT(sbx_sniff_is_tls((const uint8_t *)"\x16\x03\x01", 3), 1);
	CHECK_INT(sbx_sniff_is_tls(curl_hello, sizeof(curl_hello)), 1);
	CHECK_INT(sbx_sniff_is_tls((const uint8_t *)"\x16\x03\x05", 3), 0);
	CHECK_INT(sbx_sniff_is_tls((const uint8_t *)"\x16\x02", 2), 0);
	CHECK_INT(sbx_sniff_is_tls((const uint8_t *)"G", 1), 0);
	CHECK_INT(sbx_sniff_is_tls((const uint8_t *)"GET / HTTP/1.1", 14), 0);
	CHECK_INT(sbx_sniff_is_tls((const uint8_t *)"\x80\x2e\x01", 3), 0); /* SSLv2 hello */
}

static void test_hand_built_hello_with_sni_parses(void)
{
	char host[SBX_HOST_BUF];
	struct msg m;

	make_sni_hello(&m, "Example.COM");
	CHECK_INT(sni(m.b, m.n, host), 0);
	CHECK_STR(host, "example.com");
	check_prefixes_need_more(m.b, m.n);
}

static void test_length_field_corruptions_never_succeed(void)
{
	static const int deltas[] = { 1, -1, 2, -2, 0x100, -0x100 };
	static struct msg m, e;
	struct sbx_tls_hello h;
	size_t i, d;

	memset(&e, 0, sizeof(e));
	ext_raw(&e, 0x000a, "\x00\x02\x00\x1d", 4);
	ext_sni(&e, "pypi.org", 8);
	ext_raw(&e, 0x002b, "\x02\x03\x04", 3);
	make_hello(&m, &e);
	CHECK_INT(sbx_sniff_tls_hello(m.b, m.n, &h), 0);
	/* The session id length byte, which make_hello writes without a mark, too. */
	m.marks[m.nmarks] = 43;
	m.mark_len[m.nmarks++] = 1;
	for (i = 0; i < m.nmarks; i++) {
		for (d = 0; d < ARRAY_SIZE(deltas); d++) {
			static struct msg c;
			size_t at = m.marks[i], w = m.mark_len[i], k;
			long v = 0;
			int err;

			c = m;
			for (k = 0; k < w; k++)
				v = v << 8 | c.b[at + k];
			v += deltas[d];
			if (v < 0 || v >= 1L << (8 * w))
				continue;
			for (k = 0; k < w; k++)
				c.b[at + k] = (uint8_t)(v >> (8 * (w - 1 - k)));
			err = sbx_sniff_tls_hello(c.b, c.n, &h);
			if (err == 0 || err == -ENOENT)
				fprintf(stderr, "  field at %zu %+d parsed: %d\n", at,
					deltas[d], err);
			CHECK(err == -EPROTO || err == -EAGAIN);
		}
	}
	/* Also a zeroed extension block: the extensions are gone but bytes remain. */
	e.n = 0;
	make_hello(&m, &e);
	CHECK_INT(sbx_sniff_tls_hello(m.b, m.n, &h), -ENOENT);
}

static void test_duplicate_sni_extension_is_refused(void)
{
	char host[SBX_HOST_BUF];
	static struct msg m, e;

	memset(&e, 0, sizeof(e));
	ext_sni(&e, "allowed.com", 11);
	ext_sni(&e, "evil.com", 8);
	make_hello(&m, &e);
	CHECK_INT(sni(m.b, m.n, host), -EPROTO);
}

static void test_two_host_names_in_one_sni_list_are_refused(void)
{
	static const uint8_t body[] = { 0x00, 0x0e, 0x00, 0x00, 0x04, 'a', '.', 'i', 'o',
					0x00, 0x00, 0x04, 'b', '.', 'i', 'o' };
	char host[SBX_HOST_BUF];
	static struct msg m, e;

	memset(&e, 0, sizeof(e));
	ext_raw(&e, 0, body, sizeof(body));
	make_hello(&m, &e);
	CHECK_INT(sni(m.b, m.n, host), -EPROTO);
	/* And the first alone parses, so the refusal is about the second name. */
	memset(&e, 0, sizeof(e));
	ext_raw(&e, 0, "\x00\x07\x00\x00\x04" "a.io", 9);
	make_hello(&m, &e);
	CHECK_INT(sni(m.b, m.n, host), 0);
	CHECK_STR(host, "a.io");
}

static void test_unknown_or_empty_sni_entries_are_refused(void)
{
	char host[SBX_HOST_BUF];
	static struct msg m, e;

	memset(&e, 0, sizeof(e));
	ext_raw(&e, 0, "\x00\x07\x01\x00\x04" "a.io", 9); /* name_type 1 */
	make_hello(&m, &e);
	CHECK_INT(sni(m.b, m.n, host), -EPROTO);
	memset(&e, 0, sizeof(e));
	ext_raw(&e, 0, "\x00\x00", 2); /* empty list */
	make_hello(&m, &e);
	CHECK_INT(sni(m.b, m.n, host), -EPROTO);
	memset(&e, 0, sizeof(e));
	ext_raw(&e, 0, "", 0); /* empty extension, as servers send back */
	make_hello(&m, &e);
	CHECK_INT(sni(m.b, m.n, host), -EPROTO);
	memset(&e, 0, sizeof(e));
	ext_raw(&e, 0, "\x00\x03\x00\x00\x00", 5); /* empty host_name */
	make_hello(&m, &e);
	CHECK_INT(sni(m.b, m.n, host), -EPROTO);
	memset(&e, 0, sizeof(e));
	ext_raw(&e, 0, "\x00\x07\x00\x00\x04" "a.io" "x", 10); /* list shorter than extension */
	make_hello(&m, &e);
	CHECK_INT(sni(m.b, m.n, host), -EPROTO);
}

static void test_sni_with_embedded_nul_is_refused(void)
{
	char host[SBX_HOST_BUF];
	static struct msg m, e;

	memset(&e, 0, sizeof(e));
	ext_sni(&e, "evil.com\0.pypi.org", 18);
	make_hello(&m, &e);
	CHECK_INT(sni(m.b, m.n, host), -EPROTO);
}

static void test_ip_literal_sni_is_refused(void)
{
	static const char *const bad[] = { "1.2.3.4", "127.0.0.1.", "::1", "[::1]",
					   "2001:db8::1", "0x7f000001", "127.1", "2130706433",
					   "0x7f.0.0.1", "10.0.0.010" };
	char host[SBX_HOST_BUF];
	struct msg m;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		make_sni_hello(&m, bad[i]);
		if (sni(m.b, m.n, host) != -EPROTO)
			fprintf(stderr, "  accepted %s\n", bad[i]);
		CHECK_INT(sni(m.b, m.n, host), -EPROTO);
	}
}

static void test_sni_that_is_not_a_dns_name_is_refused(void)
{
	static const char *const bad[] = { "a b.com", "a/b.com", "a..b", ".a.com", "a.com..",
					   ".", "evil.com\r\nHost: x", "caf\xc3\xa9.com",
					   "*.example.com", "a%2ecom", "user@host.com" };
	char host[SBX_HOST_BUF], name[300];
	struct msg m;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		make_sni_hello(&m, bad[i]);
		if (sni(m.b, m.n, host) != -EPROTO)
			fprintf(stderr, "  accepted %s\n", bad[i]);
		CHECK_INT(sni(m.b, m.n, host), -EPROTO);
	}
	/* A 64-byte label, and 254 characters. */
	memset(name, 'a', 64);
	strcpy(name + 64, ".com");
	make_sni_hello(&m, name);
	CHECK_INT(sni(m.b, m.n, host), -EPROTO);
	memset(name, 'a', 254);
	for (i = 63; i < 254; i += 64)
		name[i] = '.';
	name[254] = '\0';
	make_sni_hello(&m, name);
	CHECK_INT(sni(m.b, m.n, host), -EPROTO);
}

static void test_sni_at_the_length_limits_is_accepted(void)
{
	char host[SBX_HOST_BUF], name[300];
	struct msg m;
	size_t i;

	/* 63-byte labels, 253 characters in all, and a trailing dot on top. */
	memset(name, 'a', 253);
	for (i = 63; i < 253; i += 64)
		name[i] = '.';
	name[252] = 'z';
	name[253] = '.';
	name[254] = '\0';
	make_sni_hello(&m, name);
	CHECK_INT(sni(m.b, m.n, host), 0);
	CHECK_INT(strlen(host), 253);
	CHECK(memcmp(host, name, 253) == 0);
	/* Underscores and hyphens appear in real names. */
	make_sni_hello(&m, "_acme-challenge.x-1.example.com");
	CHECK_INT(sni(m.b, m.n, host), 0);
	CHECK_STR(host, "_acme-challenge.x-1.example.com");
}

static void test_sni_host_buffer_too_small_is_enospc(void)
{
	char host[8];

	CHECK_INT(sbx_sniff_tls_sni(curl_hello, sizeof(curl_hello), host, 8), -ENOSPC);
	CHECK_INT(sbx_sniff_tls_sni(curl_hello, sizeof(curl_hello), host, 9 - 1), -ENOSPC);
	{
		char h9[9];

		CHECK_INT(sbx_sniff_tls_sni(curl_hello, sizeof(curl_hello), h9, 9), 0);
		CHECK_STR(h9, "pypi.org");
	}
}

static void test_ech_extension_is_reported(void)
{
	struct sbx_tls_hello h;
	static struct msg m, e;

	memset(&e, 0, sizeof(e));
	ext_sni(&e, "cloudflare-ech.com", 18);
	ext_raw(&e, SBX_TLS_EXT_ECH, "\x00\x00\x01\x00\x01\x2a\x00\x00\x00\x00", 10);
	make_hello(&m, &e);
	CHECK_INT(sbx_sniff_tls_hello(m.b, m.n, &h), 0);
	CHECK_STR(h.sni, "cloudflare-ech.com");
	CHECK(h.ech);
	/* ECH with no outer name at all. */
	memset(&e, 0, sizeof(e));
	ext_raw(&e, SBX_TLS_EXT_ECH, "\x00", 1);
	make_hello(&m, &e);
	CHECK_INT(sbx_sniff_tls_hello(m.b, m.n, &h), -ENOENT);
	CHECK(h.ech);
	/* Twice is refused like any repeated extension we read. */
	ext_raw(&e, SBX_TLS_EXT_ECH, "\x00", 1);
	make_hello(&m, &e);
	CHECK_INT(sbx_sniff_tls_hello(m.b, m.n, &h), -EPROTO);
}

static void test_client_hello_fragmented_over_records_is_reassembled(void)
{
	static const size_t one[] = { 1 }, mixed[] = { 3, 100, 7 }, split[] = { 200 };
	static const size_t *const plans[] = { one, mixed, split };
	static const size_t nplan[] = { 1, 3, 1 };
	static uint8_t b[MSG_MAX];
	struct sbx_tls_hello h;
	size_t p, n;

	for (p = 0; p < ARRAY_SIZE(plans); p++) {
		n = refragment(curl_hello, sizeof(curl_hello), plans[p], nplan[p], b);
		CHECK_INT(sbx_sniff_tls_hello(b, n, &h), 0);
		CHECK_STR(h.sni, "pypi.org");
		CHECK_INT(h.len, n);
		check_prefixes_need_more(b, n);
	}
}

static void test_record_with_bytes_after_client_hello_is_refused(void)
{
	static uint8_t b[sizeof(curl_hello) + 4];
	char host[SBX_HOST_BUF];
	size_t rlen;

	memcpy(b, curl_hello, sizeof(curl_hello));
	memcpy(b + sizeof(curl_hello), "\x01\x00\x00\x00", 4); /* a second handshake message */
	rlen = (size_t)(b[3] << 8 | b[4]) + 4;
	b[3] = (uint8_t)(rlen >> 8);
	b[4] = (uint8_t)rlen;
	CHECK_INT(sni(b, sizeof(b), host), -EPROTO);
}

static void test_records_that_are_not_a_client_hello_are_refused(void)
{
	char host[SBX_HOST_BUF];
	uint8_t b[sizeof(curl_hello)];

	memcpy(b, curl_hello, sizeof(b));
	b[0] = 23; /* application data */
	CHECK_INT(sni(b, sizeof(b), host), -EPROTO);
	CHECK_INT(sni(b, 1, host), -EPROTO);
	b[0] = 22;
	b[1] = 2;
	CHECK_INT(sni(b, 2, host), -EPROTO);
	b[1] = 3;
	b[2] = 5;
	CHECK_INT(sni(b, 3, host), -EPROTO);
	b[2] = 1;
	b[5] = 2; /* ServerHello */
	CHECK_INT(sni(b, 6, host), -EPROTO);
	b[5] = 1;
	b[9] = 2; /* legacy_version 2.x */
	CHECK_INT(sni(b, sizeof(b), host), -EPROTO);
	CHECK_INT(sni((const uint8_t *)"\x80\x2e\x01\x03\x01", 5, host), -EPROTO);
	CHECK_INT(sni((const uint8_t *)"GET / HTTP/1.1\r\n", 16, host), -EPROTO);
}

static void test_zero_length_and_oversized_records_are_refused(void)
{
	char host[SBX_HOST_BUF];

	CHECK_INT(sni((const uint8_t *)"\x16\x03\x01\x00\x00", 5, host), -EPROTO);
	CHECK_INT(sni((const uint8_t *)"\x16\x03\x01\x40\x01", 5, host), -EPROTO);
	CHECK_INT(sni((const uint8_t *)"\x16\x03\x01\x41", 4, host), -EPROTO);
	CHECK_INT(sni((const uint8_t *)"\x16\x03\x01\x40\x00", 5, host), -EAGAIN);
}

static void test_client_hello_bigger_than_cap_is_refused_at_once(void)
{
	char host[SBX_HOST_BUF];

	/* Declares a 16381-byte handshake body: with its header it cannot fit one record. */
	CHECK_INT(sni((const uint8_t *)"\x16\x03\x01\x40\x00\x01\x00\x3f\xfd", 9, host), -EPROTO);
	CHECK_INT(sni((const uint8_t *)"\x16\x03\x01\x40\x00\x01\x00\x3f\xfc", 9, host), -EAGAIN);
	CHECK_INT(sni((const uint8_t *)"\x16\x03\x01\x00\x04\x01\xff\xff\xff", 9, host), -EPROTO);
}

static void test_largest_single_record_hello_parses(void)
{
	static struct msg m, e;
	struct sbx_tls_hello h;

	memset(&e, 0, sizeof(e));
	ext_sni(&e, "pypi.org", 8);
	make_hello(&m, &e);
	/* Pad (extension 21) so the record payload is exactly 2^14 bytes. */
	ext_raw(&e, 21, NULL, 0);
	e.n -= 2;
	put16(&e, (unsigned int)(SBX_TLS_RECORD_MAX - (m.n - SBX_TLS_HDR_LEN) - 4));
	putfill(&e, 0, SBX_TLS_RECORD_MAX - (m.n - SBX_TLS_HDR_LEN) - 4);
	make_hello(&m, &e);
	CHECK_INT(m.n, SBX_SNIFF_MAX);
	CHECK_INT(sbx_sniff_tls_hello(m.b, m.n, &h), 0);
	CHECK_STR(h.sni, "pypi.org");
	check_prefixes_need_more(m.b, m.n);
}

static void test_never_asks_for_more_than_the_cap(void)
{
	static const size_t one[] = { 1 };
	static uint8_t b[MSG_MAX * 3];
	static struct msg m, e;
	struct sbx_tls_hello h;
	size_t n, k;

	/* 3000 bytes in 1-byte records is 18000 bytes on the wire: past the cap. */
	memset(&e, 0, sizeof(e));
	ext_raw(&e, 21, NULL, 0);
	e.n -= 2;
	put16(&e, 2900);
	putfill(&e, 0, 2900);
	ext_sni(&e, "pypi.org", 8);
	make_hello(&m, &e);
	n = refragment(m.b, m.n, one, 1, b);
	CHECK(n > SBX_SNIFF_MAX);
	for (k = SBX_SNIFF_MAX; k <= n; k += 97)
		CHECK_INT(sbx_sniff_tls_hello(b, k, &h), -EPROTO);
	CHECK_INT(sbx_sniff_tls_hello(b, SBX_SNIFF_MAX - 10, &h), -EAGAIN);
}

static void test_malformed_hello_fields_are_refused(void)
{
	char host[SBX_HOST_BUF];
	struct msg m;
	uint8_t save;

	make_sni_hello(&m, "pypi.org");
	m.b[43] = 33; /* session id longer than 32 */
	CHECK_INT(sni(m.b, m.n, host), -EPROTO);
	make_sni_hello(&m, "pypi.org");
	m.b[77] = 3; /* odd cipher suites length */
	CHECK_INT(sni(m.b, m.n, host), -EPROTO);
	make_sni_hello(&m, "pypi.org");
	save = m.b[82];
	CHECK_INT(save, 1);
	m.b[82] = 0; /* no compression methods */
	CHECK_INT(sni(m.b, m.n, host), -EPROTO);
}

static void test_garbage_is_refused_without_waiting(void)
{
	char host[SBX_HOST_BUF];

	CHECK_INT(sni((const uint8_t *)"G", 1, host), -EPROTO);
	CHECK_INT(sni((const uint8_t *)"\x16\x03\x01\x00\x10\x02", 6, host), -EPROTO);
	CHECK_INT(sni((const uint8_t *)"", 0, host), -EAGAIN);
}

static void test_valid_hostname_rules(void)
{
	static const char *const good[] = { "a", "pypi.org", "x-1.example.com", "_dmarc.a.io",
					    "1.2.3.com", "123abc", "a.b1", "xn--caf-dma.com" };
	static const char *const bad[] = { "", ".", "a.", ".a", "a..b", "A.com", "a b",
					   "1.2.3.4", "123", "a.123", "0x7f000001", "0x7f.1",
					   "a/b", "a:80", "[::1]", "a\tb", "\xff" };
	char name[300];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(good); i++)
		CHECK(sbx_sniff_valid_hostname(good[i]) == 1);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		if (sbx_sniff_valid_hostname(bad[i]))
			fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
		CHECK(sbx_sniff_valid_hostname(bad[i]) == 0);
	}
	memset(name, 'a', 64);
	name[64] = '\0';
	CHECK_INT(sbx_sniff_valid_hostname(name), 0);
	name[63] = '\0';
	CHECK_INT(sbx_sniff_valid_hostname(name), 1);
}

/* HTTP */

/* curl -x http://127.0.0.1:PORT -H 'Proxy-Authorization: ...' http://pypi.org/simple/... */
static const char curl_absolute[] = "GET http://pypi.org/simple/requests/?x=1 HTTP/1.1\r\n"
				    "Host: pypi.org\r\n"
				    "User-Agent: curl/7.88.1\r\n"
				    "Accept: */*\r\n"
				    "Proxy-Connection: Keep-Alive\r\n"
				    "Proxy-Authorization: Basic dXNlcjpwdw==\r\n"
				    "\r\n";
/* curl -p -x http://127.0.0.1:PORT https://pypi.org/ */
static const char curl_connect[] = "CONNECT pypi.org:443 HTTP/1.1\r\n"
				   "Host: pypi.org:443\r\n"
				   "User-Agent: curl/7.88.1\r\n"
				   "Proxy-Connection: Keep-Alive\r\n"
				   "\r\n";
/* curl -p -x http://127.0.0.1:PORT 'https://[2001:db8::1]:8443/' */
static const char curl_connect6[] = "CONNECT [2001:db8::1]:8443 HTTP/1.1\r\n"
				    "Host: [2001:db8::1]:8443\r\n"
				    "User-Agent: curl/7.88.1\r\n"
				    "Proxy-Connection: Keep-Alive\r\n"
				    "\r\n";

static struct sbx_http_req req;

static int parse(const char *s)
{
	return sbx_http_parse_request(s, strlen(s), &req);
}

static void check_http_prefixes_need_more(const char *s)
{
	size_t n = strlen(s), k;

	for (k = 0; k < n; k++) {
		int err = sbx_http_parse_request(s, k, &req);

		if (err != -EAGAIN) {
			fprintf(stderr, "  prefix of %zu/%zu bytes: %d\n", k, n, err);
			CHECK_INT(err, -EAGAIN);
			return;
		}
	}
}

static void test_curl_absolute_form_request_parses(void)
{
	CHECK_INT(parse(curl_absolute), 0);
	CHECK_STR(req.method, "GET");
	CHECK_STR(req.target, "http://pypi.org/simple/requests/?x=1");
	CHECK_STR(req.host, "pypi.org");
	CHECK_INT(req.port, 80);
	CHECK_INT(req.absolute, 1);
	CHECK_INT(req.is_connect, 0);
	CHECK_STR(req.host_header, "pypi.org");
	CHECK_INT(req.host_header_port, 80);
	CHECK_INT(req.head_len, strlen(curl_absolute));
	CHECK_INT(req.version_minor, 1);
	CHECK_INT(req.content_length, -1);
	CHECK_INT(req.chunked, 0);
}

static void test_curl_connect_request_parses(void)
{
	CHECK_INT(parse(curl_connect), 0);
	CHECK_STR(req.method, "CONNECT");
	CHECK_STR(req.host, "pypi.org");
	CHECK_INT(req.port, 443);
	CHECK_INT(req.is_connect, 1);
	CHECK_INT(req.absolute, 0);
	CHECK_STR(req.host_header, "pypi.org");
	CHECK_INT(req.host_header_port, 443);
	CHECK_INT(parse(curl_connect6), 0);
	CHECK_STR(req.host, "2001:db8::1");
	CHECK_INT(req.port, 8443);
	CHECK_STR(req.host_header, "2001:db8::1");
	CHECK_INT(req.host_header_port, 8443);
}

static void test_connect_host_header_without_port_reports_no_port(void)
{
	CHECK_INT(parse("CONNECT a.io:443 HTTP/1.1\r\nHost: a.io\r\n\r\n"), 0);
	CHECK_STR(req.host_header, "a.io");
	CHECK_INT(req.host_header_port, 0);
	CHECK_INT(parse("CONNECT a.io:443 HTTP/1.0\r\n\r\n"), 0);
	CHECK_INT(req.has_host_header, 0);
	CHECK_STR(req.host_header, "");
}

static void test_origin_form_takes_host_from_host_header(void)
{
	CHECK_INT(parse("GET /x?y HTTP/1.1\r\nHost: Example.COM.:8080\r\n\r\nbody"), 0);
	CHECK_STR(req.target, "/x?y");
	CHECK_STR(req.host, "example.com");
	CHECK_INT(req.port, 8080);
	CHECK_INT(req.absolute, 0);
	CHECK_INT(req.head_len, strlen("GET /x?y HTTP/1.1\r\nHost: Example.COM.:8080\r\n\r\n"));
	CHECK_INT(parse("GET / HTTP/1.1\r\nhOsT:\t pypi.org \t\r\n\r\n"), 0);
	CHECK_STR(req.host, "pypi.org");
	CHECK_INT(req.port, 80);
	CHECK_INT(parse("GET / HTTP/1.1\r\nHost: [::FFFF:1.2.3.4]\r\n\r\n"), 0);
	CHECK_STR(req.host, "::ffff:1.2.3.4");
	CHECK_INT(parse("GET / HTTP/1.1\r\nHost: 10.0.0.1:65535\r\n\r\n"), 0);
	CHECK_STR(req.host, "10.0.0.1");
	CHECK_INT(req.port, 65535);
}

static void test_bare_lf_line_endings_are_accepted(void)
{
	CHECK_INT(parse("GET / HTTP/1.1\nHost: a.io\n\n"), 0);
	CHECK_STR(req.host, "a.io");
	CHECK_INT(req.head_len, 27);
	CHECK_INT(parse("GET / HTTP/1.1\r\nHost: a.io\n\r\n"), 0);
	CHECK_INT(req.head_len, 29);
}

static void test_every_truncated_head_needs_more(void)
{
	check_http_prefixes_need_more(curl_absolute);
	check_http_prefixes_need_more(curl_connect);
	check_http_prefixes_need_more(curl_connect6);
	check_http_prefixes_need_more("GET / HTTP/1.1\nHost: a.io\n\n");
	check_http_prefixes_need_more("OPTIONS * HTTP/1.1\r\nHost: a.io\r\n\r\n");
}

static void test_head_longer_than_limit_is_e2big(void)
{
	static char b[SBX_HTTP_MAX_HEAD + 100];
	const char *start = "GET / HTTP/1.1\r\nHost: a.io\r\nX: ";
	size_t n = strlen(start);

	memcpy(b, start, n);
	memset(b + n, 'x', sizeof(b) - n);
	CHECK_INT(sbx_http_parse_request(b, SBX_HTTP_MAX_HEAD - 1, &req), -EAGAIN);
	CHECK_INT(sbx_http_parse_request(b, SBX_HTTP_MAX_HEAD, &req), -E2BIG);
	CHECK_INT(sbx_http_parse_request(b, sizeof(b), &req), -E2BIG);
	/* Ending exactly at the limit is fine; one byte later is not. */
	memcpy(b + SBX_HTTP_MAX_HEAD - 4, "\r\n\r\n", 4);
	CHECK_INT(sbx_http_parse_request(b, sizeof(b), &req), 0);
	CHECK_INT(req.head_len, SBX_HTTP_MAX_HEAD);
	memcpy(b + SBX_HTTP_MAX_HEAD - 4, "x\r\n\r", 4);
	b[SBX_HTTP_MAX_HEAD] = '\n';
	CHECK_INT(sbx_http_parse_request(b, sizeof(b), &req), -E2BIG);
}

static void test_target_longer_than_limit_is_e2big(void)
{
	static char b[SBX_HTTP_TARGET_MAX + 64];
	size_t n;

	strcpy(b, "GET /");
	n = strlen(b);
	memset(b + n, 'a', SBX_HTTP_TARGET_MAX - 1 - 1);
	n += SBX_HTTP_TARGET_MAX - 2;
	strcpy(b + n, " HTTP/1.1\r\nHost: a.io\r\n\r\n");
	CHECK_INT(parse(b), 0);
	CHECK_INT(strlen(req.target), SBX_HTTP_TARGET_MAX - 1);
	memmove(b + 5, b + 4, strlen(b + 4) + 1);
	CHECK_INT(parse(b), -E2BIG);
}

static void test_http11_origin_form_without_host_is_refused(void)
{
	CHECK_INT(parse("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n"), -EPROTO);
	CHECK_INT(parse("GET / HTTP/1.1\r\nHost:\r\n\r\n"), -EPROTO);
	/* HTTP/1.0 may omit it: the host is then unknown, never guessed. */
	CHECK_INT(parse("GET / HTTP/1.0\r\n\r\n"), 0);
	CHECK_STR(req.host, "");
	CHECK_INT(req.port, 0);
	CHECK_INT(req.version_minor, 0);
}

static void test_repeated_host_header_is_refused(void)
{
	CHECK_INT(parse("GET / HTTP/1.1\r\nHost: a.io\r\nHost: evil.com\r\n\r\n"), -EPROTO);
	CHECK_INT(parse("GET / HTTP/1.1\r\nHost: a.io\r\nhost: a.io\r\n\r\n"), -EPROTO);
	CHECK_INT(parse("GET http://a.io/ HTTP/1.1\r\nHost: a.io\r\nHOST: b.io\r\n\r\n"), -EPROTO);
}

static void test_header_injection_attempts_are_refused(void)
{
	/* A bare CR: some parsers see two headers, some one. */
	CHECK_INT(parse("GET / HTTP/1.1\r\nHost: a.io\rHost: evil.com\r\n\r\n"), -EPROTO);
	CHECK_INT(parse("GET / HTTP/1.1\r\nX: a\r\r\nHost: a.io\r\n\r\n"), -EPROTO);
	CHECK_INT(sbx_http_parse_request("GET / HTTP/1.1\r\nHost: a.io\r\nX: \0\r\n\r\n", 36, &req),
		  -EPROTO);
	CHECK_INT(sbx_http_parse_request("GET / HTTP/1.1\r\nHost: a.io\0evil\r\n\r\n", 35, &req),
		  -EPROTO);
	CHECK_INT(parse("GET / HTTP/1.1\r\nHost: a.io\r\nX: a\x01b\r\n\r\n"), -EPROTO);
	CHECK_INT(parse("GET / HTTP/1.1\r\nHost: a.io\r\nX: a\x7f\r\n\r\n"), -EPROTO);
	/* obs-fold: a continuation line that could carry a second Host. */
	CHECK_INT(parse("GET / HTTP/1.1\r\nHost: a.io\r\nX: y\r\n Host: evil.com\r\n\r\n"),
		  -EPROTO);
	CHECK_INT(parse("GET / HTTP/1.1\r\nHost: a.io\r\nX: y\r\n\tz\r\n\r\n"), -EPROTO);
	/* Whitespace before the colon hides "Host " from strict parsers. */
	CHECK_INT(parse("GET / HTTP/1.1\r\nHost : evil.com\r\n\r\n"), -EPROTO);
	CHECK_INT(parse("GET / HTTP/1.1\r\nHost: a.io\r\nNoColonHere\r\n\r\n"), -EPROTO);
	CHECK_INT(parse("GET / HTTP/1.1\r\nHost: a.io\r\n: empty-name\r\n\r\n"), -EPROTO);
	/* Tabs and high bytes in values are allowed. */
	CHECK_INT(parse("GET / HTTP/1.1\r\nHost: a.io\r\nUser-Agent: a\tb \xc3\xa9\r\n\r\n"), 0);
}

static void test_garbage_requests_are_refused(void)
{
	static const char *const bad[] = {
		"\r\nGET / HTTP/1.1\r\nHost: a.io\r\n\r\n",
		"GET  / HTTP/1.1\r\nHost: a.io\r\n\r\n",
		"GET / HTTP/1.1 \r\nHost: a.io\r\n\r\n",
		" GET / HTTP/1.1\r\nHost: a.io\r\n\r\n",
		"G(ET / HTTP/1.1\r\nHost: a.io\r\n\r\n",
		"GET / HTTP/1.2\r\nHost: a.io\r\n\r\n",
		"GET / http/1.1\r\nHost: a.io\r\n\r\n",
		"GET / HTTP/2.0\r\nHost: a.io\r\n\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"GET /\r\n\r\n",
		"GET\r\n\r\n",
		"GET / HTTP/1.1 extra\r\nHost: a.io\r\n\r\n",
		"GET /a b HTTP/1.1\r\nHost: a.io\r\n\r\n",
		"GET /a#frag HTTP/1.1\r\nHost: a.io\r\n\r\n",
		"GET /\xc3\xa9 HTTP/1.1\r\nHost: a.io\r\n\r\n",
		"GET a.io/ HTTP/1.1\r\nHost: a.io\r\n\r\n",
		"GET * HTTP/1.1\r\nHost: a.io\r\n\r\n",
		"ABCDEFGHIJKLMNOP / HTTP/1.1\r\nHost: a.io\r\n\r\n",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		int err = parse(bad[i]);

		if (err != -EPROTO)
			fprintf(stderr, "  bad[%zu] gave %d\n", i, err);
		CHECK_INT(err, -EPROTO);
	}
	/* A 15-character method is the longest we keep. */
	CHECK_INT(parse("ABCDEFGHIJKLMNO / HTTP/1.1\r\nHost: a.io\r\n\r\n"), 0);
	CHECK_STR(req.method, "ABCDEFGHIJKLMNO");
}

static void test_binary_is_refused_from_the_first_bytes(void)
{
	CHECK_INT(sbx_http_parse_request((const char *)curl_hello, 1, &req), -EPROTO);
	CHECK_INT(sbx_http_parse_request("\x00", 1, &req), -EPROTO);
	CHECK_INT(sbx_http_parse_request("GE\x01", 3, &req), -EPROTO);
	CHECK_INT(sbx_http_parse_request("ABCDEFGHIJKLMNOPQ", 17, &req), -EPROTO);
	CHECK_INT(sbx_http_parse_request("G", 1, &req), -EAGAIN);
	CHECK_INT(sbx_http_parse_request("", 0, &req), -EAGAIN);
}

static void test_absolute_form_with_userinfo_is_refused(void)
{
	CHECK_INT(parse("GET http://user@evil.com/ HTTP/1.1\r\nHost: evil.com\r\n\r\n"), -EPROTO);
	CHECK_INT(parse("GET http://allowed.com@evil.com/ HTTP/1.1\r\n\r\n"), -EPROTO);
	CHECK_INT(parse("GET http://u:p@evil.com:80/ HTTP/1.1\r\n\r\n"), -EPROTO);
	/* An @ in the path is not userinfo. */
	CHECK_INT(parse("GET http://a.io/@x HTTP/1.1\r\nHost: a.io\r\n\r\n"), 0);
	CHECK_STR(req.host, "a.io");
}

static void test_absolute_form_schemes_and_ports(void)
{
	CHECK_INT(parse("GET https://A.io/x HTTP/1.1\r\nHost: a.io\r\n\r\n"), 0);
	CHECK_STR(req.host, "a.io");
	CHECK_INT(req.port, 443);
	CHECK_INT(req.host_header_port, 443);
	CHECK_INT(parse("GET HTTP://a.io:8080 HTTP/1.1\r\nHost: a.io:8080\r\n\r\n"), 0);
	CHECK_INT(req.port, 8080);
	CHECK_INT(parse("GET http://[2001:db8::1]:81/ HTTP/1.1\r\nHost: [2001:db8::1]:81\r\n\r\n"),
		  0);
	CHECK_STR(req.host, "2001:db8::1");
	CHECK_INT(req.port, 81);
	CHECK_INT(parse("GET http://a.io?q HTTP/1.0\r\n\r\n"), 0);
	CHECK_STR(req.host, "a.io");
	CHECK_INT(parse("GET ftp://a.io/ HTTP/1.1\r\nHost: a.io\r\n\r\n"), -EPROTO);
	CHECK_INT(parse("GET ws://a.io/ HTTP/1.1\r\nHost: a.io\r\n\r\n"), -EPROTO);
	CHECK_INT(parse("GET http:///x HTTP/1.1\r\nHost: a.io\r\n\r\n"), -EPROTO);
	CHECK_INT(parse("GET http://a.io:/x HTTP/1.1\r\nHost: a.io\r\n\r\n"), -EPROTO);
	CHECK_INT(parse("GET http://a.io\\@evil.com/ HTTP/1.1\r\n\r\n"), -EPROTO);
	CHECK_INT(parse("GET http://%65vil.com/ HTTP/1.1\r\n\r\n"), -EPROTO);
}

static void test_absolute_form_reports_disagreeing_host_header(void)
{
	CHECK_INT(parse("GET http://allowed.com/ HTTP/1.1\r\nHost: evil.com:8080\r\n\r\n"), 0);
	CHECK_STR(req.host, "allowed.com");
	CHECK_INT(req.port, 80);
	CHECK_STR(req.host_header, "evil.com");
	CHECK_INT(req.host_header_port, 8080);
	CHECK_INT(parse("GET http://allowed.com/ HTTP/1.1\r\n\r\n"), 0);
	CHECK_STR(req.host_header, "");
	CHECK_INT(req.has_host_header, 0);
}

static void test_connect_needs_authority_with_port(void)
{
	static const char *const bad[] = {
		"CONNECT a.io HTTP/1.1\r\n\r\n",
		"CONNECT a.io: HTTP/1.1\r\n\r\n",
		"CONNECT a.io:0 HTTP/1.1\r\n\r\n",
		"CONNECT a.io:65536 HTTP/1.1\r\n\r\n",
		"CONNECT a.io:443x HTTP/1.1\r\n\r\n",
		"CONNECT a.io:+443 HTTP/1.1\r\n\r\n",
		"CONNECT a.io:000443 HTTP/1.1\r\n\r\n",
		"CONNECT a.io:443:1 HTTP/1.1\r\n\r\n",
		"CONNECT /x HTTP/1.1\r\nHost: a.io\r\n\r\n",
		"CONNECT http://a.io:443/ HTTP/1.1\r\n\r\n",
		"CONNECT user@a.io:443 HTTP/1.1\r\n\r\n",
		"CONNECT 2001:db8::1:443 HTTP/1.1\r\n\r\n",
		"CONNECT [2001:db8::1] HTTP/1.1\r\n\r\n",
		"CONNECT [fe80::1%25eth0]:443 HTTP/1.1\r\n\r\n",
		"CONNECT [a.io]:443 HTTP/1.1\r\n\r\n",
		"CONNECT []:443 HTTP/1.1\r\n\r\n",
		"CONNECT [::1]x:443 HTTP/1.1\r\n\r\n",
		"CONNECT :443 HTTP/1.1\r\n\r\n",
		"CONNECT 127.1:443 HTTP/1.1\r\n\r\n",
		"CONNECT 0x7f000001:443 HTTP/1.1\r\n\r\n",
		"CONNECT 010.0.0.1:443 HTTP/1.1\r\n\r\n",
		"CONNECT 256.0.0.1:443 HTTP/1.1\r\n\r\n",
		"CONNECT 2130706433:443 HTTP/1.1\r\n\r\n",
		"connect a.io:443 HTTP/1.1\r\n\r\n",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		int err = parse(bad[i]);

		if (err != -EPROTO)
			fprintf(stderr, "  bad[%zu] gave %d\n", i, err);
		CHECK_INT(err, -EPROTO);
	}
	CHECK_INT(parse("CONNECT 10.1.2.3:65535 HTTP/1.1\r\n\r\n"), 0);
	CHECK_STR(req.host, "10.1.2.3");
	CHECK_INT(req.port, 65535);
	CHECK_INT(parse("CONNECT [::1]:1 HTTP/1.1\r\n\r\n"), 0);
	CHECK_STR(req.host, "::1");
	CHECK_INT(req.port, 1);
	CHECK_INT(parse("CONNECT [2001:0DB8:0:0::1]:443 HTTP/1.1\r\n\r\n"), 0);
	CHECK_STR(req.host, "2001:db8::1"); /* canonical, so policy compares one spelling */
}

static void test_bad_host_header_values_are_refused(void)
{
	static const char *const bad[] = {
		"GET / HTTP/1.1\r\nHost: a.io:0\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a.io:99999\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a.io:\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: user@a.io\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a.io/x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a..io\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: ::1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: 127.1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a.io, b.io\r\n\r\n",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		int err = parse(bad[i]);

		if (err != -EPROTO)
			fprintf(stderr, "  bad[%zu] gave %d\n", i, err);
		CHECK_INT(err, -EPROTO);
	}
}

static void test_options_asterisk_form_is_accepted(void)
{
	CHECK_INT(parse("OPTIONS * HTTP/1.1\r\nHost: a.io\r\n\r\n"), 0);
	CHECK_STR(req.target, "*");
	CHECK_STR(req.host, "a.io");
}

static void test_body_framing_that_could_smuggle_is_refused(void)
{
	CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a.io\r\nContent-Length: 12\r\n\r\n"), 0);
	CHECK_INT(req.content_length, 12);
	CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a.io\r\nTransfer-Encoding: Chunked\r\n\r\n"), 0);
	CHECK_INT(req.chunked, 1);
	CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a.io\r\nContent-Length: 5\r\n"
			"Content-Length: 5\r\n\r\n"),
		  0);
	CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a.io\r\nContent-Length: 5\r\n"
			"Content-Length: 6\r\n\r\n"),
		  -EPROTO);
	CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a.io\r\nContent-Length: 5\r\n"
			"Transfer-Encoding: chunked\r\n\r\n"),
		  -EPROTO);
	CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a.io\r\n"
			"Transfer-Encoding: gzip, chunked\r\n\r\n"),
		  -EPROTO);
	CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a.io\r\nTransfer-Encoding: chunked\r\n"
			"Transfer-Encoding: chunked\r\n\r\n"),
		  -EPROTO);
	CHECK_INT(parse("POST / HTTP/1.0\r\nHost: a.io\r\nTransfer-Encoding: chunked\r\n\r\n"),
		  -EPROTO);
	CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a.io\r\nContent-Length: -1\r\n\r\n"), -EPROTO);
	CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a.io\r\nContent-Length: 1 2\r\n\r\n"), -EPROTO);
	CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a.io\r\nContent-Length: 5, 5\r\n\r\n"), -EPROTO);
	CHECK_INT(parse("POST / HTTP/1.1\r\nHost: a.io\r\nContent-Length: 9999999999999999999\r\n"
			"\r\n"),
		  -EPROTO);
}

static void test_origin_form_rewrites_curl_absolute_request(void)
{
	static const char want[] = "GET /simple/requests/?x=1 HTTP/1.1\r\n"
				   "Host: pypi.org\r\n"
				   "User-Agent: curl/7.88.1\r\n"
				   "Accept: */*\r\n"
				   "\r\n";
	char out[1024];
	size_t used;

	CHECK_INT(parse(curl_absolute), 0);
	CHECK_INT(sbx_http_origin_form(curl_absolute, req.head_len, &req, out, sizeof(out), &used),
		  0);
	CHECK_INT(used, strlen(want));
	out[used] = '\0';
	CHECK_STR(out, want);
}

static void test_origin_form_replaces_host_with_the_judged_one(void)
{
	static const char in[] = "POST http://allowed.com:8080?q=1 HTTP/1.0\n"
				 "host: evil.com\n"
				 "proxy-authorization: secret\n"
				 "Content-Length: 2\n"
				 "\n"
				 "hi";
	static const char want[] = "POST /?q=1 HTTP/1.0\r\n"
				   "Host: allowed.com:8080\r\n"
				   "Content-Length: 2\r\n"
				   "\r\n";
	char out[1024];
	size_t used;

	CHECK_INT(parse(in), 0);
	CHECK_INT(sbx_http_origin_form(in, req.head_len, &req, out, sizeof(out), &used), 0);
	out[used] = '\0';
	CHECK_STR(out, want);
	CHECK_INT(parse(out), 0);
	CHECK_STR(req.host, "allowed.com");
	CHECK_INT(req.port, 8080);
}

static void test_origin_form_brackets_ipv6_and_keeps_origin_requests(void)
{
	static const char in6[] = "GET https://[2001:db8::1] HTTP/1.1\r\nHost: x.io\r\n\r\n";
	static const char orig[] = "GET /a HTTP/1.1\nHost: a.io\nProxy-Connection: close\nX: 1\n\n";
	char out[256];
	size_t used;

	CHECK_INT(parse(in6), 0);
	CHECK_INT(sbx_http_origin_form(in6, req.head_len, &req, out, sizeof(out), &used), 0);
	out[used] = '\0';
	CHECK_STR(out, "GET / HTTP/1.1\r\nHost: [2001:db8::1]\r\n\r\n");
	CHECK_INT(parse(orig), 0);
	CHECK_INT(sbx_http_origin_form(orig, req.head_len, &req, out, sizeof(out), &used), 0);
	out[used] = '\0';
	CHECK_STR(out, "GET /a HTTP/1.1\r\nHost: a.io\r\nX: 1\r\n\r\n");
}

static void test_origin_form_refuses_connect_and_small_buffers(void)
{
	char out[256];
	size_t used = 7, need, k;

	CHECK_INT(parse(curl_connect), 0);
	CHECK_INT(sbx_http_origin_form(curl_connect, req.head_len, &req, out, sizeof(out), &used),
		  -EINVAL);
	CHECK_INT(used, 0);
	CHECK_INT(parse(curl_absolute), 0);
	CHECK_INT(sbx_http_origin_form(curl_absolute, req.head_len - 1, &req, out, sizeof(out),
				       &used),
		  -EINVAL);
	CHECK_INT(sbx_http_origin_form(curl_absolute, req.head_len, &req, out, sizeof(out), &need),
		  0);
	for (k = 0; k < need; k++)
		CHECK_INT(sbx_http_origin_form(curl_absolute, req.head_len, &req, out, k, &used),
			  -ENOSPC);
	CHECK_INT(sbx_http_origin_form(curl_absolute, req.head_len, &req, out, need, &used), 0);
	CHECK_INT(used, need);
}

/* Feed @body in pieces of @step bytes; the bytes that belonged to the body, or -EPROTO. */
static long chunked_take(const char *body, size_t step, bool *done)
{
	struct sbx_chunked c = { 0 };
	size_t len = strlen(body), off = 0;
	long total = 0;

	*done = false;
	while (off < len && !*done) {
		size_t n = len - off < step ? len - off : step;
		long m = sbx_http_chunked_feed(&c, (const uint8_t *)body + off, n, done);

		if (m < 0)
			return m;
		total += m;
		off += n;
	}
	return total;
}

static void test_chunked_body_ends_at_its_last_chunk(void)
{
	static const char body[] = "5\r\nhello\r\n1a;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n"
				   "0\r\nX-Trailer: t\r\n\r\n";
	static const char second[] = "GET /b HTTP/1.1\r\nHost: evil.example\r\n\r\n";
	char both[256];
	bool done;

	snprintf(both, sizeof(both), "%s%s", body, second);
	for (size_t step = 1; step <= sizeof(both); step *= 3) {
		CHECK_INT(chunked_take(both, step, &done), (long)strlen(body));
		CHECK(done);
	}
	CHECK_INT(chunked_take("0\r\n\r\nGET", 64, &done), 5);
	CHECK(done);
	CHECK_INT(chunked_take("A\n0123456789\n0\n\n", 64, &done), 16); /* bare LF */
	CHECK(done);
}

static void test_chunked_body_in_progress_takes_everything(void)
{
	bool done;

	CHECK_INT(chunked_take("10\r\n0123456789", 64, &done), 14);
	CHECK(!done);
	CHECK_INT(chunked_take("3\r\nabc\r\n0\r\nTrailer: x\r\n", 64, &done), 23);
	CHECK(!done);
}

static void test_chunked_malformed_framing_is_refused(void)
{
	static const char *const bad[] = {
		"\r\n",			 /* no size */
		"g\r\n",			 /* not hex */
		"5\r\nhelloX",		 /* no CRLF after the data */
		"5\r\nhello\rX",		 /* CR without LF */
		"1234567890abcdef0\r\n",	 /* a size of more than 15 digits */
		"5\rX",			 /* CR without LF in the size line */
		"5;a\x01b\r\n",		 /* control character in an extension */
		"0\r\n\rX",			 /* CR without LF at the end */
	};
	bool done;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_INT(chunked_take(bad[i], 64, &done), -EPROTO);
}

static const struct test tests[] = {
	T(test_curl_client_hello_yields_sni),
	T(test_sni_is_lowercased_and_loses_trailing_dot),
	T(test_tls12_client_hello_yields_sni),
	T(test_client_hello_without_sni_is_enoent),
	T(test_every_truncated_client_hello_needs_more),
	T(test_bytes_after_client_hello_records_are_not_read),
	T(test_is_tls_classifies_first_bytes),
	T(test_hand_built_hello_with_sni_parses),
	T(test_length_field_corruptions_never_succeed),
	T(test_duplicate_sni_extension_is_refused),
	T(test_two_host_names_in_one_sni_list_are_refused),
	T(test_unknown_or_empty_sni_entries_are_refused),
	T(test_sni_with_embedded_nul_is_refused),
	T(test_ip_literal_sni_is_refused),
	T(test_sni_that_is_not_a_dns_name_is_refused),
	T(test_sni_at_the_length_limits_is_accepted),
	T(test_sni_host_buffer_too_small_is_enospc),
	T(test_ech_extension_is_reported),
	T(test_client_hello_fragmented_over_records_is_reassembled),
	T(test_record_with_bytes_after_client_hello_is_refused),
	T(test_records_that_are_not_a_client_hello_are_refused),
	T(test_zero_length_and_oversized_records_are_refused),
	T(test_client_hello_bigger_than_cap_is_refused_at_once),
	T(test_largest_single_record_hello_parses),
	T(test_never_asks_for_more_than_the_cap),
	T(test_malformed_hello_fields_are_refused),
	T(test_garbage_is_refused_without_waiting),
	T(test_valid_hostname_rules),
	T(test_curl_absolute_form_request_parses),
	T(test_curl_connect_request_parses),
	T(test_connect_host_header_without_port_reports_no_port),
	T(test_origin_form_takes_host_from_host_header),
	T(test_bare_lf_line_endings_are_accepted),
	T(test_every_truncated_head_needs_more),
	T(test_head_longer_than_limit_is_e2big),
	T(test_target_longer_than_limit_is_e2big),
	T(test_http11_origin_form_without_host_is_refused),
	T(test_repeated_host_header_is_refused),
	T(test_header_injection_attempts_are_refused),
	T(test_garbage_requests_are_refused),
	T(test_binary_is_refused_from_the_first_bytes),
	T(test_absolute_form_with_userinfo_is_refused),
	T(test_absolute_form_schemes_and_ports),
	T(test_absolute_form_reports_disagreeing_host_header),
	T(test_connect_needs_authority_with_port),
	T(test_bad_host_header_values_are_refused),
	T(test_options_asterisk_form_is_accepted),
	T(test_body_framing_that_could_smuggle_is_refused),
	T(test_origin_form_rewrites_curl_absolute_request),
	T(test_origin_form_replaces_host_with_the_judged_one),
	T(test_origin_form_brackets_ipv6_and_keeps_origin_requests),
	T(test_origin_form_refuses_connect_and_small_buffers),
	T(test_chunked_body_ends_at_its_last_chunk),
	T(test_chunked_body_in_progress_takes_everything),
	T(test_chunked_malformed_framing_is_refused),
};

TEST_MAIN("sniff", tests)
