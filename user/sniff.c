/* SPDX-License-Identifier: MIT */
/*
 * sniff: strict parsers for the TLS ClientHello and the HTTP/1.x request head, so the proxy
 * can judge a connection by the host it names before any byte goes upstream.
 *
 * Everything here reads bytes the sandboxed program chose, so every length is checked against
 * both what the message declares and what has actually arrived: reading past the declared end
 * is a malformed message (-EPROTO), reading past what arrived is a prefix (-EAGAIN). No I/O,
 * no allocation, no global state.
 */
#include "sniff.h"

#include <sbx/conn.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define TLS_CT_HANDSHAKE 22
#define TLS_HS_CLIENT_HELLO 1
#define TLS_HS_HDR_LEN 4
#define TLS_MAX_MINOR 4 /* record versions 3.0 (SSLv3 compat) .. 3.4 */
#define TLS_RANDOM_LEN 32
#define TLS_SESSION_ID_MAX 32
#define TLS_EXT_SERVER_NAME 0
#define TLS_SNI_HOST_NAME 0
/* The handshake message must fit the payload of records that all end within SBX_SNIFF_MAX. */
#define TLS_HELLO_MAX (SBX_SNIFF_MAX - SBX_TLS_HDR_LEN)

#define PORT_DIGITS_MAX 5
#define CONTENT_LENGTH_DIGITS_MAX 18 /* fits a long long with room to spare */
#define HTTP_DEFAULT_PORT 80
#define HTTPS_DEFAULT_PORT 443
#define IPV6_TEXT_MAX 45 /* INET6_ADDRSTRLEN - 1, with an embedded IPv4 tail */

static char ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* The same checks in both directions, lowercase only: callers normalise first. */
/* The engine's own host-name rule (user/addr.c), so the sniffer and the policy agree. */
int sbx_sniff_valid_hostname(const char *h)
{
	return sbx_host_name_check(h, NULL, NULL, 0) == 0;
}

/*
 * Lowercase n bytes into dst (SBX_HOST_BUF) and drop one trailing dot. -EPROTO for an empty
 * name, an embedded NUL, or more than SBX_HOST_MAX characters.
 */
static int host_normalize(const char *src, size_t n, char *dst)
{
	size_t i;

	if (n && src[n - 1] == '.')
		n--;
	if (n == 0 || n > SBX_HOST_MAX)
		return -EPROTO;
	for (i = 0; i < n; i++) {
		if (src[i] == '\0')
			return -EPROTO;
		dst[i] = ascii_lower(src[i]);
	}
	dst[n] = '\0';
	return 0;
}

/* TLS */

int sbx_sniff_is_tls(const uint8_t *buf, size_t len)
{
	if (len < 1)
		return -EAGAIN;
	if (buf[0] != TLS_CT_HANDSHAKE)
		return 0;
	if (len < 2)
		return -EAGAIN;
	if (buf[1] != 3)
		return 0;
	if (len < 3)
		return -EAGAIN;
	return buf[2] <= TLS_MAX_MINOR;
}

/*
 * A cursor over a length-delimited TLS vector: end is where the enclosing structure says the
 * vector stops, avail is how many bytes have arrived. off may pass avail by skipping.
 */
struct tls_rd {
	const uint8_t *p;
	size_t off;
	size_t end;
	size_t avail;
};

static int rd_need(const struct tls_rd *r, size_t n)
{
	if (n > r->end - r->off)
		return -EPROTO;
	if (r->off + n > r->avail)
		return -EAGAIN;
	return 0;
}

static int rd_uint(struct tls_rd *r, size_t n, uint32_t *v)
{
	int err = rd_need(r, n);
	size_t i;

	if (err)
		return err;
	*v = 0;
	for (i = 0; i < n; i++)
		*v = *v << 8 | r->p[r->off + i];
	r->off += n;
	return 0;
}

/* Skipping needs no bytes to have arrived, only that the vector declares them. */
static int rd_skip(struct tls_rd *r, size_t n)
{
	if (n > r->end - r->off)
		return -EPROTO;
	r->off += n;
	return 0;
}

/* A vector with an lenbytes-byte length prefix: sub covers it, r moves past it. */
static int rd_vec(struct tls_rd *r, size_t lenbytes, struct tls_rd *sub)
{
	uint32_t n;
	int err = rd_uint(r, lenbytes, &n);

	if (err)
		return err;
	if (n > r->end - r->off)
		return -EPROTO;
	*sub = *r;
	sub->end = r->off + n;
	r->off += n;
	return 0;
}

/* The server_name extension body (RFC 6066 §3). */
static int tls_parse_sni(struct tls_rd *ext, char *host)
{
	struct tls_rd list, name;
	bool found = false;
	uint32_t type;
	size_t n;
	int err;

	err = rd_vec(ext, 2, &list);
	if (err)
		return err;
	if (list.end != ext->end || list.off == list.end)
		return -EPROTO;
	while (list.off < list.end) {
		err = rd_uint(&list, 1, &type);
		if (err)
			return err;
		/* Only host_name is defined; "MUST NOT contain more than one name of the same
		 * name_type". Anything else is a client trying to confuse us. */
		if (type != TLS_SNI_HOST_NAME || found)
			return -EPROTO;
		err = rd_vec(&list, 2, &name);
		if (err)
			return err;
		n = name.end - name.off;
		if (n == 0 || n > SBX_HOST_MAX + 1)
			return -EPROTO;
		err = rd_need(&name, n);
		if (err)
			return err;
		err = host_normalize((const char *)name.p + name.off, n, host);
		if (err)
			return err;
		/* RFC 6066 forbids IP literals here; the validator refuses them too. */
		if (!sbx_sniff_valid_hostname(host))
			return -EPROTO;
		found = true;
	}
	return 0;
}

/* The ClientHello body (RFC 8446 §4.1.2): 0 with a server name, -ENOENT without. */
static int tls_parse_hello(struct tls_rd *r, struct sbx_tls_hello *hello)
{
	struct tls_rd sub, exts, ext;
	bool sni = false, ech = false;
	uint32_t v, type;
	int err;

	err = rd_uint(r, 2, &v);
	if (err)
		return err;
	if (v >> 8 != 3)
		return -EPROTO;
	err = rd_skip(r, TLS_RANDOM_LEN);
	if (err)
		return err;
	err = rd_vec(r, 1, &sub);
	if (err)
		return err;
	if (sub.end - sub.off > TLS_SESSION_ID_MAX)
		return -EPROTO;
	err = rd_vec(r, 2, &sub);
	if (err)
		return err;
	if (sub.end - sub.off < 2 || (sub.end - sub.off) % 2)
		return -EPROTO;
	err = rd_vec(r, 1, &sub);
	if (err)
		return err;
	if (sub.end == sub.off)
		return -EPROTO;
	if (r->off == r->end)
		return -ENOENT; /* no extensions at all */
	err = rd_vec(r, 2, &exts);
	if (err)
		return err;
	if (exts.end != r->end)
		return -EPROTO;
	while (exts.off < exts.end) {
		err = rd_uint(&exts, 2, &type);
		if (err)
			return err;
		err = rd_vec(&exts, 2, &ext);
		if (err)
			return err;
		/* "There MUST NOT be more than one extension of the same type": a second
		 * server_name is exactly how one would show us one host and the server another. */
		if (type == TLS_EXT_SERVER_NAME) {
			if (sni)
				return -EPROTO;
			sni = true;
			err = tls_parse_sni(&ext, hello->sni);
			if (err)
				return err;
		} else if (type == SBX_TLS_EXT_ECH) {
			if (ech)
				return -EPROTO;
			ech = true;
		}
	}
	hello->ech = ech;
	return sni ? 0 : -ENOENT;
}

/*
 * Check the first n (< SBX_TLS_HDR_LEN) bytes of a record header. The length's high byte
 * already tells an oversized record.
 */
static int tls_check_hdr_prefix(const uint8_t *h, size_t n)
{
	if (n > 0 && h[0] != TLS_CT_HANDSHAKE)
		return -EPROTO;
	if (n > 1 && h[1] != 3)
		return -EPROTO;
	if (n > 2 && h[2] > TLS_MAX_MINOR)
		return -EPROTO;
	if (n > 3 && h[3] > SBX_TLS_RECORD_MAX >> 8)
		return -EPROTO;
	return 0;
}

/*
 * Gather the handshake message from the handshake records at the start of buf into hs
 * (TLS_HELLO_MAX bytes). *have is how many handshake bytes arrived, *need the message size
 * with its header once known (else 0), *used where the last record ends. Returns 0 when the
 * whole message is there, -EAGAIN when it is not yet, -EPROTO on a bad record.
 */
static int tls_gather(const uint8_t *buf, size_t len, uint8_t *hs, size_t *have, size_t *need,
		      size_t *used)
{
	size_t off = 0;

	*have = *need = 0;
	while (!*need || *have < *need) {
		size_t rlen, take, full;

		/* Every record has a header and at least one byte, all within the cap. */
		if (off + SBX_TLS_HDR_LEN + 1 > SBX_SNIFF_MAX)
			return -EPROTO;
		if (len - off < SBX_TLS_HDR_LEN) {
			int err = tls_check_hdr_prefix(buf + off, len - off);

			return err ? err : -EAGAIN;
		}
		if (tls_check_hdr_prefix(buf + off, SBX_TLS_HDR_LEN - 1))
			return -EPROTO;
		rlen = (size_t)buf[off + 3] << 8 | buf[off + 4];
		/* Zero-length handshake fragments are forbidden (RFC 8446 §5.1). */
		if (rlen == 0 || rlen > SBX_TLS_RECORD_MAX)
			return -EPROTO;
		if (off + SBX_TLS_HDR_LEN + rlen > SBX_SNIFF_MAX)
			return -EPROTO;
		take = len - off - SBX_TLS_HDR_LEN;
		if (take > rlen)
			take = rlen;
		/* Fits: payloads sum to less than SBX_SNIFF_MAX minus one header. */
		memcpy(hs + *have, buf + off + SBX_TLS_HDR_LEN, take);
		full = *have + rlen;
		*have += take;
		if (*have >= 1 && hs[0] != TLS_HS_CLIENT_HELLO)
			return -EPROTO;
		if (!*need && *have >= TLS_HS_HDR_LEN) {
			size_t n = (size_t)hs[1] << 16 | (size_t)hs[2] << 8 | hs[3];

			if (n > TLS_HELLO_MAX - TLS_HS_HDR_LEN)
				return -EPROTO;
			*need = TLS_HS_HDR_LEN + n;
		}
		/* Nothing may follow the ClientHello in its record: the client has nothing
		 * else to say before the server answers. */
		if (*need && full > *need)
			return -EPROTO;
		if (take < rlen)
			return -EAGAIN;
		off += SBX_TLS_HDR_LEN + rlen;
	}
	*used = off;
	return 0;
}

int sbx_sniff_tls_hello(const uint8_t *buf, size_t len, struct sbx_tls_hello *hello)
{
	uint8_t hs[TLS_HELLO_MAX];
	size_t have, need, used = 0;
	struct tls_rd r;
	int gerr, err;

	memset(hello, 0, sizeof(*hello));
	gerr = tls_gather(buf, len, hs, &have, &need, &used);
	/* Cannot happen (gather refuses what would not fit), but never ask a caller that has
	 * given us all we said we would need for more. */
	if (gerr == -EAGAIN && len >= SBX_SNIFF_MAX)
		return -EPROTO;
	if (gerr && gerr != -EAGAIN)
		return gerr;
	if (!need)
		return gerr;
	/* Parse even a partial message, so garbage is refused as soon as it shows. */
	r = (struct tls_rd){ .p = hs, .off = TLS_HS_HDR_LEN, .end = need, .avail = have };
	err = tls_parse_hello(&r, hello);
	if (err == -EPROTO)
		return err;
	if (gerr == -EAGAIN) {
		hello->sni[0] = '\0';
		hello->ech = false;
		return -EAGAIN;
	}
	if (err == -EAGAIN)
		return -EPROTO;
	hello->len = used;
	return err;
}

int sbx_sniff_tls_sni(const uint8_t *buf, size_t len, char *host, size_t hostlen)
{
	struct sbx_tls_hello hello;
	size_t n;
	int err;

	err = sbx_sniff_tls_hello(buf, len, &hello);
	if (err)
		return err;
	n = strlen(hello.sni);
	if (n >= hostlen)
		return -ENOSPC;
	memcpy(host, hello.sni, n + 1);
	return 0;
}

/* HTTP */

/* RFC 9110 §5.6.2 tchar. */
static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool mem_ieq(const char *a, size_t n, const char *lit)
{
	size_t i;

	if (strlen(lit) != n)
		return false;
	for (i = 0; i < n; i++)
		if (ascii_lower(a[i]) != lit[i])
			return false;
	return true;
}

struct line {
	const char *p;
	size_t n;
};

/* The next line of buf[*pos, end) without its CR LF or LF; false when there is none. */
static bool next_line(const char *buf, size_t end, size_t *pos, struct line *l)
{
	const char *lf;

	if (*pos >= end)
		return false;
	lf = memchr(buf + *pos, '\n', end - *pos);
	if (!lf)
		return false;
	l->p = buf + *pos;
	l->n = (size_t)(lf - l->p);
	if (l->n && l->p[l->n - 1] == '\r')
		l->n--;
	*pos = (size_t)(lf - buf) + 1;
	return true;
}

/*
 * Find the blank line ending the head, refusing early the bytes no head may contain: NUL and
 * other controls (HTAB aside), and CR not followed by LF, which parsers disagree on.
 */
static int http_find_head(const char *buf, size_t len, size_t *head_len)
{
	size_t scan = len < SBX_HTTP_MAX_HEAD ? len : SBX_HTTP_MAX_HEAD;
	size_t i, ls = 0;

	for (i = 0; i < scan; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c == '\n') {
			if (i == ls || (i == ls + 1 && buf[ls] == '\r')) {
				if (ls == 0)
					return -EPROTO; /* no request line */
				*head_len = i + 1;
				return 0;
			}
			ls = i + 1;
		} else if (c == '\r') {
			if (i + 1 < scan && buf[i + 1] != '\n')
				return -EPROTO;
		} else if ((c < 0x20 && c != '\t') || c == 0x7f) {
			return -EPROTO;
		}
	}
	return len >= SBX_HTTP_MAX_HEAD ? -E2BIG : -EAGAIN;
}

/* A method token must show within its first bytes: refuse TLS and binary without waiting. */
static int http_check_method_prefix(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len && i < SBX_HTTP_METHOD_MAX; i++) {
		if (buf[i] == ' ')
			return i ? 0 : -EPROTO;
		if (!is_tchar(buf[i]))
			return -EPROTO;
	}
	return i == SBX_HTTP_METHOD_MAX ? -EPROTO : 0;
}

/* Strict dotted quad: four decimal parts 0..255 without leading zeros. */
static bool is_dotted_quad(const char *s)
{
	int parts = 0;

	for (;;) {
		int v = 0, digits = 0;

		while (is_digit(*s)) {
			if (digits && v == 0)
				return false;
			v = v * 10 + (*s++ - '0');
			if (++digits > 3 || v > 255)
				return false;
		}
		if (!digits)
			return false;
		if (++parts == 4)
			return *s == '\0';
		if (*s++ != '.')
			return false;
	}
}

static int parse_port(const char *s, size_t n, uint16_t *port)
{
	unsigned long v = 0;
	size_t i;

	if (n == 0 || n > PORT_DIGITS_MAX)
		return -EPROTO;
	for (i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -EPROTO;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > UINT16_MAX)
		return -EPROTO;
	*port = (uint16_t)v;
	return 0;
}

/*
 * host [":" port] as in URIs (RFC 3986 §3.2.2), without userinfo: a host name, a dotted-quad
 * IPv4 address or a bracketed IPv6 address (stored canonical, without brackets). *port is 0
 * when none is written.
 */
static int parse_authority(const char *s, size_t n, char *host, uint16_t *port)
{
	const char *end = s + n, *p;

	*port = 0;
	if (n == 0)
		return -EPROTO;
	if (s[0] == '[') {
		char tmp[IPV6_TEXT_MAX + 1];
		struct in6_addr a6;
		size_t hn;

		p = memchr(s, ']', n);
		if (!p)
			return -EPROTO;
		hn = (size_t)(p - s - 1);
		if (hn == 0 || hn > IPV6_TEXT_MAX)
			return -EPROTO;
		memcpy(tmp, s + 1, hn);
		tmp[hn] = '\0';
		/* inet_pton refuses zone ids ("%25eth0") and anything not an address. */
		if (inet_pton(AF_INET6, tmp, &a6) != 1 ||
		    !inet_ntop(AF_INET6, &a6, host, SBX_HOST_BUF))
			return -EPROTO;
		p++;
		if (p != end && *p != ':')
			return -EPROTO;
	} else {
		int err;

		p = memchr(s, ':', n);
		if (!p)
			p = end;
		err = host_normalize(s, (size_t)(p - s), host);
		if (err)
			return err;
		if (!is_dotted_quad(host) && !sbx_sniff_valid_hostname(host))
			return -EPROTO;
	}
	if (p == end)
		return 0;
	return parse_port(p + 1, (size_t)(end - p - 1), port);
}

/* The absolute-form target's scheme: its default port, or 0 if not http(s). */
static uint16_t absolute_scheme(const char *t, size_t *skip)
{
	if (strncasecmp(t, "http://", 7) == 0) {
		*skip = 7;
		return HTTP_DEFAULT_PORT;
	}
	if (strncasecmp(t, "https://", 8) == 0) {
		*skip = 8;
		return HTTPS_DEFAULT_PORT;
	}
	return 0;
}

/* Length of the authority at t: up to the path or query. */
static size_t authority_len(const char *t)
{
	return strcspn(t, "/?");
}

static int http_parse_request_line(const struct line *l, struct sbx_http_req *req,
				   uint16_t *def_port)
{
	const char *sp1, *sp2, *t, *end = l->p + l->n;
	size_t mlen, tlen, i, skip;
	int err;

	sp1 = memchr(l->p, ' ', l->n);
	if (!sp1)
		return -EPROTO;
	mlen = (size_t)(sp1 - l->p);
	if (mlen == 0 || mlen >= SBX_HTTP_METHOD_MAX)
		return -EPROTO;
	for (i = 0; i < mlen; i++)
		if (!is_tchar(l->p[i]))
			return -EPROTO;
	t = sp1 + 1;
	sp2 = memchr(t, ' ', (size_t)(end - t));
	if (!sp2)
		return -EPROTO;
	tlen = (size_t)(sp2 - t);
	if (tlen == 0)
		return -EPROTO;
	if (tlen >= SBX_HTTP_TARGET_MAX)
		return -E2BIG;
	/* Visible ASCII only, and no fragment: it is never part of a request-target. */
	for (i = 0; i < tlen; i++)
		if (t[i] <= 0x20 || t[i] >= 0x7f || t[i] == '#')
			return -EPROTO;
	/* The version is case-sensitive (RFC 9112 §2.3); 0.9 and 2.0 are not heads we proxy. */
	if (end - sp2 - 1 != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) || (sp2[8] != '0' && sp2[8] != '1'))
		return -EPROTO;
	req->version_minor = sp2[8] - '0';

	memcpy(req->method, l->p, mlen);
	req->method[mlen] = '\0';
	memcpy(req->target, t, tlen);
	req->target[tlen] = '\0';

	if (strcmp(req->method, "CONNECT") == 0) {
		req->is_connect = 1;
		*def_port = 0;
		err = parse_authority(req->target, tlen, req->host, &req->port);
		return err ? err : req->port ? 0 : -EPROTO; /* the port is required */
	}
	*def_port = HTTP_DEFAULT_PORT;
	if (req->target[0] == '/')
		return 0;
	if (strcmp(req->target, "*") == 0)
		return strcmp(req->method, "OPTIONS") == 0 ? 0 : -EPROTO;
	*def_port = absolute_scheme(req->target, &skip);
	if (!*def_port)
		return -EPROTO;
	req->absolute = 1;
	t = req->target + skip;
	tlen = authority_len(t);
	/* Userinfo is how "http://allowed.com@evil.com/" fools a careless reader. */
	if (memchr(t, '@', tlen))
		return -EPROTO;
	err = parse_authority(t, tlen, req->host, &req->port);
	if (!err && !req->port)
		req->port = *def_port;
	return err;
}

static int parse_content_length(const char *v, size_t n, long long *out)
{
	long long x = 0;
	size_t i;

	if (n == 0 || n > CONTENT_LENGTH_DIGITS_MAX)
		return -EPROTO;
	for (i = 0; i < n; i++) {
		if (!is_digit(v[i]))
			return -EPROTO;
		x = x * 10 + (v[i] - '0');
	}
	*out = x;
	return 0;
}

static int http_parse_header(const struct line *l, struct sbx_http_req *req, uint16_t def_port,
			     bool *seen_te)
{
	const char *colon, *v, *ve;
	size_t nlen, i;
	long long cl;
	int err;

	/* obs-fold (RFC 9112 §5.2): a continuation line some parsers join and others not. */
	if (l->p[0] == ' ' || l->p[0] == '\t')
		return -EPROTO;
	colon = memchr(l->p, ':', l->n);
	if (!colon)
		return -EPROTO;
	nlen = (size_t)(colon - l->p);
	if (nlen == 0)
		return -EPROTO;
	/* Space before the colon is not a tchar: refused, as RFC 9112 §5.1 requires. */
	for (i = 0; i < nlen; i++)
		if (!is_tchar(l->p[i]))
			return -EPROTO;
	v = colon + 1;
	ve = l->p + l->n;
	while (v < ve && (*v == ' ' || *v == '\t'))
		v++;
	while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
		ve--;

	if (mem_ieq(l->p, nlen, "host")) {
		if (req->has_host_header)
			return -EPROTO;
		req->has_host_header = 1;
		if (v == ve)
			return 0;
		err = parse_authority(v, (size_t)(ve - v), req->host_header,
				      &req->host_header_port);
		/* CONNECT's Host has no default port (def_port 0): only what is written. */
		if (!err && !req->host_header_port)
			req->host_header_port = def_port;
		return err;
	}
	if (mem_ieq(l->p, nlen, "content-length")) {
		err = parse_content_length(v, (size_t)(ve - v), &cl);
		if (err)
			return err;
		if (req->content_length >= 0 && req->content_length != cl)
			return -EPROTO;
		req->content_length = cl;
		return 0;
	}
	if (mem_ieq(l->p, nlen, "transfer-encoding")) {
		/* Only plain "chunked": anything else is where framing disagreements hide. */
		if (*seen_te || !mem_ieq(v, (size_t)(ve - v), "chunked"))
			return -EPROTO;
		*seen_te = true;
		req->chunked = 1;
	}
	return 0;
}

int sbx_http_parse_request(const char *buf, size_t len, struct sbx_http_req *req)
{
	size_t head_len = 0, pos = 0;
	uint16_t def_port = 0;
	bool seen_te = false;
	struct line l;
	int err;

	memset(req, 0, sizeof(*req));
	req->content_length = -1;
	err = http_check_method_prefix(buf, len);
	if (err)
		return err;
	err = http_find_head(buf, len, &head_len);
	if (err)
		return err;

	if (!next_line(buf, head_len, &pos, &l))
		return -EPROTO;
	err = http_parse_request_line(&l, req, &def_port);
	if (err)
		return err;
	while (next_line(buf, head_len, &pos, &l) && l.n) {
		err = http_parse_header(&l, req, def_port, &seen_te);
		if (err)
			return err;
	}
	if (req->chunked && (req->content_length >= 0 || req->version_minor == 0))
		return -EPROTO;

	if (!req->is_connect && !req->absolute) {
		if (req->host_header[0]) {
			memcpy(req->host, req->host_header, sizeof(req->host));
			req->port = req->host_header_port;
		} else if (req->version_minor == 1) {
			return -EPROTO; /* RFC 9112 §3.2: Host is required */
		}
	}
	req->head_len = head_len;
	return 0;
}

struct wbuf {
	char *p;
	size_t n;
	size_t cap;
	bool over;
};

static void w_put(struct wbuf *w, const char *s, size_t n)
{
	if (w->over || n > w->cap - w->n) {
		w->over = true;
		return;
	}
	memcpy(w->p + w->n, s, n);
	w->n += n;
}

static void w_str(struct wbuf *w, const char *s)
{
	w_put(w, s, strlen(s));
}

int sbx_http_origin_form(const char *buf, size_t head_len, const struct sbx_http_req *req,
			 char *out, size_t outlen, size_t *outlen_used)
{
	struct wbuf w = { .p = out, .cap = outlen };
	const char *path = req->target;
	uint16_t def_port = 0;
	size_t pos = 0, skip;
	struct line l;
	char tmp[32];

	*outlen_used = 0;
	if (req->is_connect || head_len != req->head_len || head_len > SBX_HTTP_MAX_HEAD ||
	    !next_line(buf, head_len, &pos, &l))
		return -EINVAL;
	if (req->absolute) {
		def_port = absolute_scheme(req->target, &skip);
		if (!def_port)
			return -EINVAL;
		path = req->target + skip + authority_len(req->target + skip);
	}

	w_str(&w, req->method);
	/* "http://h" and "http://h?q" have an empty path: origin-form needs the "/". */
	w_str(&w, *path == '/' || *path == '*' ? " " : " /");
	w_str(&w, path);
	snprintf(tmp, sizeof(tmp), " HTTP/1.%d\r\n", req->version_minor ? 1 : 0);
	w_str(&w, tmp);
	if (req->absolute) {
		bool v6 = strchr(req->host, ':') != NULL;

		w_str(&w, v6 ? "Host: [" : "Host: ");
		w_str(&w, req->host);
		w_str(&w, v6 ? "]" : "");
		if (req->port != def_port) {
			snprintf(tmp, sizeof(tmp), ":%u", req->port);
			w_str(&w, tmp);
		}
		w_str(&w, "\r\n");
	}
	for (;;) {
		const char *colon;
		size_t nlen;

		if (!next_line(buf, head_len, &pos, &l))
			return -EINVAL;
		if (!l.n)
			break;
		colon = memchr(l.p, ':', l.n);
		nlen = colon ? (size_t)(colon - l.p) : l.n;
		/* Hop-by-hop credentials for us, and (absolute-form) the Host we replaced. */
		if (mem_ieq(l.p, nlen, "proxy-connection") ||
		    mem_ieq(l.p, nlen, "proxy-authorization") ||
		    (req->absolute && mem_ieq(l.p, nlen, "host")))
			continue;
		w_put(&w, l.p, l.n);
		w_str(&w, "\r\n");
	}
	w_str(&w, "\r\n");
	if (w.over)
		return -ENOSPC;
	*outlen_used = w.n;
	return 0;
}

/* ---- chunked request bodies --------------------------------------------------------------- */

enum {
	CH_SIZE,	/* hex digits of the chunk size */
	CH_EXT,		/* a chunk extension, up to the end of the size line */
	CH_SIZE_LF,	/* CR seen at the end of the size line */
	CH_DATA,	/* c->left bytes of data */
	CH_DATA_CR,	/* the CRLF after the data */
	CH_DATA_LF,
	CH_TRAILER,	/* at the start of a trailer line (or the final blank line) */
	CH_TRAILER_LINE,
	CH_TRAILER_LF,	/* CR seen at the start of a line: the blank line ends the body */
	CH_DONE,
};

static int hex_value(uint8_t ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* The size line ended: a chunk of data, or the last chunk (trailers follow). */
static int chunk_line_end(struct sbx_chunked *c)
{
	if (!c->digits)
		return -EPROTO;
	c->left = c->size;
	c->state = c->size ? CH_DATA : CH_TRAILER;
	c->size = 0;
	c->digits = 0;
	return 0;
}

long sbx_http_chunked_feed(struct sbx_chunked *c, const uint8_t *buf, size_t len, bool *done)
{
	size_t i = 0;

	*done = c->state == CH_DONE;
	while (i < len && c->state != CH_DONE) {
		uint8_t ch = buf[i];
		int v;

		switch (c->state) {
		case CH_SIZE:
			v = hex_value(ch);
			if (v >= 0) {
				if (++c->digits > SBX_CHUNK_SIZE_DIGITS)
					return -EPROTO;
				c->size = c->size << 4 | (uint64_t)v;
			} else if (ch == ';' || ch == ' ' || ch == '\t') {
				c->state = CH_EXT;
			} else if (ch == '\r') {
				c->state = CH_SIZE_LF;
			} else if (ch == '\n') {
				if (chunk_line_end(c))
					return -EPROTO;
			} else {
				return -EPROTO;
			}
			i++;
			break;
		case CH_EXT:
			if (ch == '\r')
				c->state = CH_SIZE_LF;
			else if (ch == '\n' && chunk_line_end(c))
				return -EPROTO;
			else if (ch < 0x20 && ch != '\t' && ch != '\n')
				return -EPROTO;
			i++;
			break;
		case CH_SIZE_LF:
			if (ch != '\n' || chunk_line_end(c))
				return -EPROTO;
			i++;
			break;
		case CH_DATA: {
			size_t n = len - i < c->left ? len - i : (size_t)c->left;

			c->left -= n;
			i += n;
			if (!c->left)
				c->state = CH_DATA_CR;
			break;
		}
		case CH_DATA_CR:
			if (ch == '\r')
				c->state = CH_DATA_LF;
			else if (ch == '\n')
				c->state = CH_SIZE;
			else
				return -EPROTO;
			i++;
			break;
		case CH_DATA_LF:
			if (ch != '\n')
				return -EPROTO;
			c->state = CH_SIZE;
			i++;
			break;
		case CH_TRAILER:
			c->state = ch == '\r' ? CH_TRAILER_LF : ch == '\n' ? CH_DONE : CH_TRAILER_LINE;
			i++;
			break;
		case CH_TRAILER_LINE:
			if (ch == '\n')
				c->state = CH_TRAILER;
			i++;
			break;
		case CH_TRAILER_LF:
			if (ch != '\n')
				return -EPROTO;
			c->state = CH_DONE;
			i++;
			break;
		}
	}
	*done = c->state == CH_DONE;
	return (long)i;
}
