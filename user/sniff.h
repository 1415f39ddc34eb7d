/* SPDX-License-Identifier: MIT */
/*
 * sniff: what the proxy learns from the first bytes a sandboxed client sends.
 *
 * Two parsers, both pure (no I/O, no allocation, no global state) and strict, because their
 * input comes from the code we are confining:
 *   - the TLS ClientHello, for the server name (SNI) the client asks for;
 *   - the HTTP/1.x request head, for the host a plain or forward-proxied request goes to.
 * Each returns -EAGAIN while the bytes so far are a valid but incomplete prefix, so the caller
 * can read more, and never asks for more than a fixed bound (SBX_SNIFF_MAX, SBX_HTTP_MAX_HEAD).
 */
#ifndef SBX_SNIFF_H
#define SBX_SNIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A DNS host name: at most 253 characters without the trailing dot (RFC 1035 §3.1). */
#define SBX_HOST_MAX 253
#define SBX_HOST_BUF 256

/* TLS record layer: 5-byte header, plaintext fragment at most 2^14 bytes (RFC 8446 §5.1). */
#define SBX_TLS_HDR_LEN 5
#define SBX_TLS_RECORD_MAX 16384
/*
 * The most bytes the ClientHello sniffer ever needs: one full-size record. A ClientHello split
 * over several records is reassembled as long as all of them end within this many bytes.
 */
#define SBX_SNIFF_MAX (SBX_TLS_HDR_LEN + SBX_TLS_RECORD_MAX)

/* TLS extension carrying Encrypted Client Hello (draft-ietf-tls-esni). */
#define SBX_TLS_EXT_ECH 0xfe0d

struct sbx_tls_hello {
	char sni[SBX_HOST_BUF]; /* server_name host_name, canonical; "" when absent */
	bool ech;		/* ECH offered: sni is only the outer (public) name */
	size_t len;		/* bytes of the buffer the ClientHello's records took */
};

/*
 * Classify the first bytes of a connection: 1 if they start a TLS handshake record, 0 if not,
 * -EAGAIN if fewer than 3 bytes are there and those agree with TLS so far.
 */
int sbx_sniff_is_tls(const uint8_t *buf, size_t len);

/*
 * Parse the ClientHello at the start of buf. Returns
 *   0          a complete, well-formed ClientHello with a server name, in hello->sni
 *              (lowercased, trailing dot removed, a valid DNS name, never an IP literal);
 *   -ENOENT    a complete, well-formed ClientHello without server_name;
 *   -EAGAIN    a valid prefix: read more (only while len < SBX_SNIFF_MAX);
 *   -EPROTO    not TLS, or malformed anywhere in the ClientHello (length fields that disagree,
 *              duplicate server_name, a name with NUL, an IP literal or otherwise not a DNS
 *              name, a ClientHello that would not fit in SBX_SNIFF_MAX bytes, ...).
 * A ClientHello fragmented over several handshake records is reassembled, so a server name
 * pushed into a later record (a known DPI-evasion trick) is still seen; it is never reported
 * as "no SNI". hello->ech and hello->len are valid for 0 and -ENOENT.
 */
int sbx_sniff_tls_hello(const uint8_t *buf, size_t len, struct sbx_tls_hello *hello);

/*
 * The same, filling only the server name into host (hostlen bytes, SBX_HOST_BUF is enough);
 * -ENOSPC if it does not fit.
 */
int sbx_sniff_tls_sni(const uint8_t *buf, size_t len, char *host, size_t hostlen);

/*
 * 1 if h is a canonical host name: 1..253 characters, dot-separated labels of 1..63 of
 * [a-z0-9-_], lowercase, no trailing dot, and not something an address parser would take for
 * an IPv4 address (an all-digit last label, or anything inet_aton() accepts such as
 * "0x7f000001"). 0 otherwise.
 */
int sbx_sniff_valid_hostname(const char *h);

/* HTTP/1.x request heads. */
#define SBX_HTTP_MAX_HEAD 16384
#define SBX_HTTP_METHOD_MAX 16
#define SBX_HTTP_TARGET_MAX 2048

struct sbx_http_req {
	char method[SBX_HTTP_METHOD_MAX];  /* case kept: methods are case-sensitive */
	char target[SBX_HTTP_TARGET_MAX];  /* the request-target as sent */
	char host[SBX_HOST_BUF];	   /* where the request goes: canonical name or IP literal
					    * (IPv6 without brackets); "" only for HTTP/1.0
					    * origin-form without Host */
	uint16_t port;			   /* 0 only when host is "" */
	int is_connect;			   /* authority-form: CONNECT host:port */
	int absolute;			   /* absolute-form: GET http://host/... */
	size_t head_len;		   /* bytes through the blank line ending the head */
	char host_header[SBX_HOST_BUF];	   /* Host header, normalised like host; "" if absent */
	uint16_t host_header_port;	   /* its port, or the scheme default (0 for CONNECT) */
	/* Added for the proxy's framing; smuggling-prone combinations are refused. */
	int version_minor;		   /* HTTP/1.<version_minor>: 0 or 1 */
	int has_host_header;		   /* a Host header was present (possibly empty) */
	long long content_length;	   /* -1 if no Content-Length */
	int chunked;			   /* Transfer-Encoding: chunked */
};

/*
 * Parse the request head at the start of buf. Returns
 *   0          a complete, valid head (through the blank line; CRLF or bare LF endings);
 *   -EAGAIN    a valid prefix without the blank line yet, and len < SBX_HTTP_MAX_HEAD;
 *   -E2BIG     the head, or the request-target, exceeds its bound;
 *   -EPROTO    anything else: bad method token or version, control characters or NUL, a
 *              header without colon or with space before it, obs-fold, a bad, missing
 *              (HTTP/1.1 origin-form) or repeated Host (RFC 9112 §3.2 requires 400 for any
 *              repeat), userinfo or a non-http(s) scheme in absolute-form, a port of 0 or above
 *              65535, an IPv4 literal not in dotted-quad form, Content-Length together with
 *              Transfer-Encoding, a Transfer-Encoding other than "chunked", ...
 * Bytes after head_len (a body, a pipelined request) are not looked at.
 */
int sbx_http_parse_request(const char *buf, size_t len, struct sbx_http_req *req);

/*
 * Rewrite a head parsed by sbx_http_parse_request into what the proxy sends upstream: the
 * request line in origin-form, Proxy-Connection and Proxy-Authorization dropped, every line
 * ending in CRLF. For absolute-form the Host header is replaced by one made from the
 * request-target, as RFC 9112 §3.2.2 requires of proxies, so upstream routes on the same host
 * the policy judged. out is not NUL-terminated; *outlen_used is its length.
 * -EINVAL for CONNECT or a head_len that does not match req, -ENOSPC if out is too small.
 */
int sbx_http_origin_form(const char *buf, size_t head_len, const struct sbx_http_req *req,
			 char *out, size_t outlen, size_t *outlen_used);

/*
 * A chunked request body (RFC 9112 §7.1), followed byte by byte so the proxy knows where the
 * request ends: what comes after it is not this request's. Start from a zeroed struct.
 */
struct sbx_chunked {
	int state;
	uint64_t left;	 /* data bytes left in the current chunk */
	uint64_t size;	 /* the chunk size being read */
	unsigned digits; /* hex digits of it so far */
};

#define SBX_CHUNK_SIZE_DIGITS 15 /* a chunk of 2^60 bytes is no real body */

/*
 * Feed the next @len bytes of the body. Returns how many of them belong to it (all of them
 * while it goes on; fewer once its last chunk and trailers end, after which done is true),
 * or -EPROTO for malformed framing (a bad size line, a missing CRLF after data, a size of more
 * than SBX_CHUNK_SIZE_DIGITS digits): a server might frame it otherwise, so stop there.
 */
long sbx_http_chunked_feed(struct sbx_chunked *c, const uint8_t *buf, size_t len, bool *done);

#endif
