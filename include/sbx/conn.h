/* SPDX-License-Identifier: MIT */
/*
 * One decision for one connection (sbxd(8), "How a connection is decided").
 *
 * The proxy learns the facts of a connection one at a time: what it was opened
 * for (a forward-proxy or CONNECT target, or the address a transparent client
 * dialled and the name sbx's resolver handed out for it), then what the client's
 * first bytes name (TLS SNI, HTTP Host, or nothing: raw TCP), then the address
 * it is about to dial. Each time a fact arrives it calls sbx_conn_decide() with
 * all it knows; `sbx policy check` and the unit tests call the same function.
 * Pure: no I/O, no allocation, no global state.
 *
 * Addresses and host names are classified here, once, for the engine, `check`
 * and both proxy paths: every IPv4 spelling inet_aton() accepts is an address,
 * never a host name; IPv6 internal ranges and every form embedding an internal
 * IPv4 (mapped, translated, compatible, NAT64) are internal, and so are 6to4,
 * Teredo and local-use NAT64 whatever they embed (user/addr.c says why).
 */
#ifndef SBX_CONN_H
#define SBX_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sbx/policy.h>

#define SBX_CONN_DETAIL_MAX 256
#define SBX_CONN_FIX_MAX 320 /* a command naming a host and a port, quoted, with a short note */
#define SBX_ADDR_ENV_MAX 256 /* host addresses sbx keeps track of */
#define SBX_OWN_PORTS_MAX 8

/* An IP address: family 0 (none yet), 4 (addr[0..3]) or 6; network order. */
struct sbx_addr {
	uint8_t family;
	uint8_t a[16];
};

/* What an address is to sbx. */
enum sbx_addr_class {
	SBX_ADDR_PUBLIC,
	SBX_ADDR_INTERNAL, /* loopback, RFC 1918, CGNAT, link-local, ULA, ...: an address rule opens it */
	SBX_ADDR_HOST,	   /* one of the host's own addresses: only a localhost:PORT rule opens it */
	SBX_ADDR_SANDBOX,  /* a sandbox's own address: never reachable (seed 002) */
	SBX_ADDR_OWN,	   /* one of sbx's own listeners (proxy, resolver): never dialled */
};

/*
 * The addresses that are not what they seem, as sbxd sees them now: every
 * address configured in the namespace sbxd runs in (all interfaces), the
 * sandboxes' gateways, the pool sandboxes take their addresses from, and the
 * ports sbx itself listens on.
 */
struct sbx_addr_env {
	struct sbx_addr host[SBX_ADDR_ENV_MAX];
	size_t nhost;
	struct sbx_addr pool; /* sandbox address pool (network address) */
	uint8_t pool_prefix;
	uint16_t own_ports[SBX_OWN_PORTS_MAX]; /* proxy, transparent, resolver ports (host order) */
	size_t nown_ports;
};

/* Which way the connection came. */
enum sbx_conn_kind {
	SBX_CONN_CHECK,	      /* `sbx policy check HOST:PORT` */
	SBX_CONN_FORWARD,     /* forward proxy, absolute-URI HTTP request */
	SBX_CONN_CONNECT,     /* forward proxy, CONNECT tunnel */
	SBX_CONN_TRANSPARENT, /* connect4/6 redirected a connect() */
};

/* What the client's first bytes are. */
enum sbx_stream {
	SBX_STREAM_NONE, /* nothing classified yet */
	SBX_STREAM_TLS,	 /* a complete ClientHello; stream_name is its SNI ("" if absent) */
	SBX_STREAM_HTTP, /* an HTTP/1.x request head; stream_name is its Host */
	SBX_STREAM_RAW,	 /* neither: raw TCP */
	SBX_STREAM_BAD,	 /* malformed or ambiguous (two server names, over the bound, ...) */
};

struct sbx_conn_facts {
	const char *sandbox;	    /* the sandbox's name; NULL or "": global rules only */
	enum sbx_conn_kind kind;
	uint16_t port;		    /* destination port, host order */
	const char *target;	    /* forward/CONNECT/check: the host (name or IP literal) asked
				     * for, as the client sent it; NULL for transparent */
	struct sbx_addr orig;	    /* transparent: the address the app dialled */
	enum sbx_addr_class orig_class;
	const char *dns_name;	    /* transparent: the name sbx's resolver gave this sandbox for
				     * orig, or NULL */
	enum sbx_stream stream;
	const char *stream_name;    /* SNI or Host for TLS/HTTP streams */
	bool dialled;		    /* the upstream was dialled before the stream was classified
				     * (server-speaks-first protocols): it is fixed */
	struct sbx_addr upstream;   /* the address about to be dialled (family 0: not yet) */
	enum sbx_addr_class up_class;
};

struct sbx_conn_verdict {
	bool allow;
	enum sbx_reason reason;		/* enum sbx_reason of include/sbx/bpf_abi.h */
	const struct sbx_rule *rule;	/* the deciding rule, NULL for the default or a built-in
					 * refusal (private-ip, sni-mismatch, ...) */
	const struct sbx_resource *res; /* its matching resource */
	char host[SBX_HOST_MAX + 1];	/* what was judged: the name (or address) to log, and for
					 * transparent TLS/HTTP not yet dialled, the name to resolve
					 * and dial */
	bool host_service;		/* dial the host's loopback on port (localhost:PORT rule) */
	bool by_address;		/* an IP/CIDR rule allowed it */
	char detail[SBX_CONN_DETAIL_MAX]; /* a sentence for the log, 403 pages and `check` */
	char fix[SBX_CONN_FIX_MAX];	  /* a refusal: what to do next (below); "" if allowed */
};

/*
 * Decide a connection on the facts known so far. allow=true means nothing
 * known so far forbids it; the caller asks again when the next fact arrives.
 * Returns 0, or -EINVAL when the facts are inconsistent or the target is not a
 * valid host (reason unparseable-stream; `check` reports it as bad input), or
 * -EAGAIN for an uncompiled policy: the verdict is then a refusal all the same.
 *
 * How each fact is judged (sbx-policy(1), check; user/conn.c):
 *  - an IP-literal target is judged by its class: pass it as the upstream too
 *    (with up_class from sbx_addr_classify) from the first call, so a host,
 *    sandbox or own address is known at once; without it the literal is
 *    classified by the address alone and the upstream step catches the rest.
 *    A host address is decided as host.docker.internal (localhost:PORT rules
 *    only) and, if allowed, host_service is set;
 *  - transparent: orig_class HOST is the host service (v->host is
 *    "host.docker.internal"), SANDBOX and OWN are refused, else dns_name if set,
 *    else the address;
 *  - stream BAD is refused; TLS/HTTP: on a connection opened for a name the
 *    stream name must be that name (sni-mismatch, also for an empty one); opened
 *    by address, it is refused only by a deny rule naming it; transparent and
 *    not dialled, it is what is decided and what v->host gives to resolve;
 *  - upstream: SANDBOX and OWN refused, HOST only for a host service (and a host
 *    service only to HOST), INTERNAL only under an address rule, and an address
 *    deny rule refuses whatever name led there.
 * host_service is false on every refusal.
 *
 * Every refusal says what to do next in v->fix, for 403 pages, the CONNECT
 * refusal and `check` (sbx-policy(1), check): the one command that would
 * allow it ("sbx policy allow network pypi.org:80"; "localhost:PORT" for a
 * host service; an address rule for an internal address) or lift a local deny
 * rule, a line that pastes into a shell as it is (quoted where a shell would
 * read into it, a note as a "  # " comment); or, when no rule can allow it
 * (another sandbox, sbx's own ports, a mismatched or malformed stream),
 * "no rule can allow this: " and the limit.
 */
int sbx_conn_decide(const struct sbx_policy *p, const struct sbx_conn_facts *f,
		    struct sbx_conn_verdict *v);

/* Classify an address (port: the destination port, host order; 0 if unknown). */
enum sbx_addr_class sbx_addr_classify(const struct sbx_addr_env *env, const struct sbx_addr *a,
				      uint16_t port);

/* Internal by itself (no environment): loopback, private, link-local, ULA, embedded forms... */
bool sbx_addr_is_internal(const struct sbx_addr *a);
bool sbx_ip4_is_internal(uint32_t ip4); /* network order */

/*
 * Parse an IP literal as sbx understands one: dotted-quad IPv4 and IPv6
 * (brackets optional; an IPv4-mapped ::ffff:a.b.c.d is returned as the IPv4
 * address it is, as the engine matches it). Returns 1 and fills @out for an
 * address; 0 for something that is not an address in any spelling (a host
 * name candidate); -EINVAL for text that only an address could be and that is
 * not one sbx accepts: every other IPv4 spelling inet_aton() would take (hex,
 * octal, short forms: "0x7f000001", "127.1", "017700000001"), anything whose
 * last label is a number (decimal or 0x-hex: "1.2.3.999", "a.0x10"; no DNS
 * name ends in one, and URL parsers read them as IPv4), an IPv6 form with a
 * zone ("fe80::1%eth0"). None of these is ever a host name.
 */
int sbx_addr_parse(const char *s, struct sbx_addr *out);

/* Where a host service (localhost:PORT, host.docker.internal:PORT) is dialled. */
#define SBX_HOST_SERVICE_ADDR "127.0.0.1"

/*
 * The address a named target is dialled at, before any lookup: SBX_HOST_SERVICE_ADDR for a
 * host service, the address for an IP literal; family 0 for a name to resolve (or none).
 */
void sbx_target_dialled_at(const char *target, struct sbx_addr *out);

/* Text form of an address (IPv6 without brackets; "" for family 0). */
void sbx_addr_format(const struct sbx_addr *a, char *out, size_t len);

/*
 * Is @h a valid host name? @h is canonical (lowercase, no trailing dot): 1-253
 * bytes of dot-separated labels of 1-63 of [a-z0-9_-], no label starting or
 * ending with '-', and not a number in any spelling (see sbx_addr_parse).
 * Returns 0, or -EINVAL with a sentence in @err (may be NULL) naming @shown
 * (NULL: @h). The one host-name rule of the engine, `check` and the sniffer.
 */
int sbx_host_name_check(const char *h, const char *shown, char *err, size_t errlen);

/*
 * Build an environment: start from a zeroed struct (or a snapshot of the
 * host's addresses, see user/hostaddr.h), then add. -ENOSPC when full;
 * duplicates and port 0 are ignored.
 */
int sbx_addr_env_add_host(struct sbx_addr_env *env, const struct sbx_addr *a);
int sbx_addr_env_add_port(struct sbx_addr_env *env, uint16_t port);
void sbx_addr_env_set_pool(struct sbx_addr_env *env, const struct sbx_addr *net, uint8_t prefix);

#endif
