/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for user/sniff.c. Besides "no crash", it checks the contracts the proxy
 * relies on: only documented return codes, -EAGAIN only below the caps, every success is a
 * valid host, a success is preceded by -EAGAIN on its prefixes, and an origin-form rewrite
 * parses back to the same host and port.
 * Built and run by `make fuzz` (see tests/fuzz/run.sh).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sniff.h"

#define REWRITE_MAX (3 * SBX_HTTP_MAX_HEAD)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_tls(const uint8_t *data, size_t size)
{
	struct sbx_tls_hello h, h2;
	int err = sbx_sniff_tls_hello(data, size, &h), cls = sbx_sniff_is_tls(data, size);

	if (err != 0 && err != -ENOENT && err != -EAGAIN && err != -EPROTO)
		abort();
	if (err == -EAGAIN && size >= SBX_SNIFF_MAX)
		abort();
	if (err != -EPROTO && size >= 3 && cls != 1)
		abort();
	if (err == -EPROTO || err == -EAGAIN)
		return;
	if (h.len == 0 || h.len > size || h.len > SBX_SNIFF_MAX)
		abort();
	if (err == 0 && !sbx_sniff_valid_hostname(h.sni))
		abort();
	if (err == -ENOENT && h.sni[0])
		abort();
	/* Exactly the ClientHello's records give the same answer; one byte less asks for more. */
	if (sbx_sniff_tls_hello(data, h.len, &h2) != err || strcmp(h.sni, h2.sni) ||
	    h.ech != h2.ech)
		abort();
	if (sbx_sniff_tls_hello(data, h.len - 1, &h2) != -EAGAIN ||
	    sbx_sniff_tls_hello(data, h.len / 2, &h2) != -EAGAIN)
		abort();
}

static bool host_ok(const char *h)
{
	return sbx_sniff_valid_hostname(h) || strchr(h, ':') ||
	       strspn(h, "0123456789.") == strlen(h);
}

static void fuzz_http(const char *buf, size_t size)
{
	static char out[REWRITE_MAX];
	struct sbx_http_req req, req2;
	uint16_t want_port;
	size_t used;
	int err = sbx_http_parse_request(buf, size, &req);

	if (err != 0 && err != -EAGAIN && err != -EPROTO && err != -E2BIG)
		abort();
	if (err == -EAGAIN && size >= SBX_HTTP_MAX_HEAD)
		abort();
	if (err)
		return;
	if (req.head_len == 0 || req.head_len > size || req.head_len > SBX_HTTP_MAX_HEAD)
		abort();
	if (req.host[0] ? !host_ok(req.host) || !req.port : req.port || req.version_minor)
		abort();
	if (req.host_header[0] && !host_ok(req.host_header))
		abort();
	if (sbx_http_parse_request(buf, req.head_len, &req2) != 0 ||
	    sbx_http_parse_request(buf, req.head_len - 1, &req2) != -EAGAIN)
		abort();
	err = sbx_http_origin_form(buf, req.head_len, &req, out, sizeof(out), &used);
	if (req.is_connect) {
		if (err != -EINVAL)
			abort();
		return;
	}
	if (err || used > sizeof(out))
		abort();
	if (used > SBX_HTTP_MAX_HEAD)
		return; /* CRLF and the new Host may grow a head past what we parse */
	/*
	 * What goes upstream names the host the policy judged, in origin-form. Its Host omits a
	 * default port (RFC 9110 §4.2.3), so https's 443 reads back as origin-form's 80.
	 */
	want_port = req.port;
	if (req.absolute && !strncasecmp(req.target, "https:", 6) && req.port == 443)
		want_port = 80;
	if (sbx_http_parse_request(out, used, &req2) != 0 || req2.head_len != used ||
	    req2.absolute || strcmp(req2.host, req.host) || req2.port != want_port ||
	    strcmp(req2.method, req.method) || req2.version_minor != req.version_minor)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_tls(data, size);
	fuzz_http((const char *)data, size);
	if (size < 300) {
		char name[300];

		memcpy(name, data, size);
		name[size] = '\0';
		if (sbx_sniff_valid_hostname(name) && (strlen(name) > SBX_HOST_MAX || !name[0]))
			abort();
	}
	return 0;
}
