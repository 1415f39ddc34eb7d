// SPDX-License-Identifier: MIT
/*
 * One decision for one connection (include/sbx/conn.h): the facts the proxy has
 * learnt so far in, a verdict out, in three steps that follow the facts:
 *
 *  1. what the connection was opened for: the forward-proxy, CONNECT or check
 *     target, or for a transparent connection the name sbx's resolver handed out
 *     for the dialled address (else that address, or the host service when it
 *     is one of the host's addresses);
 *  2. what the client's first bytes name: a TLS server name or HTTP Host must be
 *     the name the connection was opened for; on a connection opened by address
 *     it is refused only when a deny rule names it; a transparent connection not
 *     yet dialled is decided by that name alone (the proxy resolves it itself);
 *     malformed or ambiguous bytes are refused;
 *  3. the address about to be dialled: never a sandbox's or sbx's own; a host
 *     address only for a host service; an internal address only under an
 *     address rule; never an address a deny rule names.
 *
 * Each refusal also says what to do next (v->fix): the rule to add, the deny
 * to lift, or the limit no rule changes.
 *
 * Pure: no I/O, no allocation, no global state.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sbx/conn.h>

#define HOST_SERVICE "host.docker.internal"
#define ADDR_TEXT_MAX 48 /* an IPv6 text form, bracketed */

/* What the connection was opened for. */
struct opened {
	bool literal;			/* an IP address rather than a name */
	struct sbx_addr addr;		/* the address, if literal */
	enum sbx_addr_class cls;	/* its class, if literal */
	char name[SBX_HOST_MAX + 1];	/* canonical name; "" when opened by address */
};

static void say(struct sbx_conn_verdict *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void say(struct sbx_conn_verdict *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v->detail, sizeof(v->detail), fmt, ap);
	va_end(ap);
}

/* A built-in refusal: no rule decides it. */
static void refuse(struct sbx_conn_verdict *v, enum sbx_reason reason)
{
	v->allow = false;
	v->reason = reason;
	v->rule = NULL;
	v->res = NULL;
	v->by_address = false;
	v->fix[0] = '\0';
}

/* ---- what to do next ------------------------------------------------------------ */

/*
 * The command that allows @resource, and a @note ("" for none) as a shell comment: the line
 * pastes into a shell as it is.
 */
static void fix_allow(struct sbx_conn_verdict *v, const char *resource, const char *note)
{
	char w[SBX_RESOURCE_MAX + 16];

	sbx_shell_word(resource, w, sizeof(w));
	snprintf(v->fix, sizeof(v->fix), "sbx policy allow network %s%s%s", w,
		 *note ? "  # " : "", note);
}

/* No rule changes this refusal: say what the limit is. */
static void fix_none(struct sbx_conn_verdict *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void fix_none(struct sbx_conn_verdict *v, const char *fmt, ...)
{
	static const char lead[] = "no rule can allow this: ";
	va_list ap;

	snprintf(v->fix, sizeof(v->fix), "%s", lead);
	va_start(ap, fmt);
	vsnprintf(v->fix + sizeof(lead) - 1, sizeof(v->fix) - (sizeof(lead) - 1), fmt, ap);
	va_end(ap);
}

/* A deny rule decided, and a deny beats every allow: the fix is to lift it, if one may. */
static void fix_deny(struct sbx_conn_verdict *v)
{
	const struct sbx_rule *r = v->rule;
	char w[SBX_RESOURCE_MAX + 16];

	if (r->builtin || r->prov != SBX_PROV_LOCAL) {
		snprintf(v->fix, sizeof(v->fix),
			 "no local rule can allow this: deny rule %s is %s, and a deny beats "
			 "every allow", r->name,
			 r->prov == SBX_PROV_REMOTE ? "the organization's"
			 : r->prov == SBX_PROV_KIT  ? "a kit's"
						    : "built in");
		return;
	}
	sbx_shell_word(v->res->text, w, sizeof(w));
	snprintf(v->fix, sizeof(v->fix),
		 "sbx policy rm network --resource %s  # a deny beats every allow", w);
}

/*
 * An internal address: an address rule opens it (sbx-policy(1), NETWORK RESOURCES), but a
 * name that resolves there may be rebinding, so the command says what it opens.
 */
static void fix_private(struct sbx_conn_verdict *v, const char *addr, const char *addr_port)
{
	char note[ADDR_TEXT_MAX + 48];

	snprintf(note, sizeof(note), "only if %s is meant to be reached", addr);
	fix_allow(v, addr_port, note);
}

/* A host service: the localhost:PORT rule opens it, whatever name or address led there. */
static void fix_host_service(struct sbx_conn_verdict *v, uint16_t port, const char *note)
{
	char res[24];

	snprintf(res, sizeof(res), "localhost:%u", port);
	fix_allow(v, res, note);
}

/* A host or IP text and a port as a rule names them: pypi.org:80, [2001:db8::1]:443. */
static void host_port(const char *h, uint16_t port, char *out, size_t len)
{
	snprintf(out, len, strchr(h, ':') ? "[%s]:%u" : "%s:%u", h, port);
}

/* The address as a rule would name it with a port: 10.1.2.3:22, [fe80::1]:22. */
static void addr_port(const struct sbx_addr *a, uint16_t port, char *out, size_t len)
{
	char t[ADDR_TEXT_MAX];

	sbx_addr_format(a, t, sizeof(t));
	host_port(t, port, out, len);
}

/* Take an engine verdict as the connection's. */
static void take(struct sbx_conn_verdict *v, const struct sbx_verdict *pv)
{
	v->allow = pv->decision == SBX_ALLOW;
	v->reason = pv->reason;
	v->rule = pv->rule;
	v->res = pv->res;
	v->by_address = v->allow && pv->res && pv->res->kind == SBX_RES_CIDR;
	sbx_verdict_detail(pv, v->detail, sizeof(v->detail));
	v->fix[0] = '\0';
	if (!v->allow && v->rule)
		fix_deny(v);
}

static bool facts_valid(const struct sbx_conn_facts *f)
{
	bool by_target = f->kind == SBX_CONN_CHECK || f->kind == SBX_CONN_FORWARD ||
			 f->kind == SBX_CONN_CONNECT;

	if (!by_target && f->kind != SBX_CONN_TRANSPARENT)
		return false;
	if (by_target && (!f->target || !*f->target))
		return false;
	if (!by_target && f->orig.family != 4 && f->orig.family != 6)
		return false;
	if ((unsigned)f->orig_class > SBX_ADDR_OWN || (unsigned)f->up_class > SBX_ADDR_OWN ||
	    (unsigned)f->stream > SBX_STREAM_BAD)
		return false;
	return f->port && (f->upstream.family == 0 || f->upstream.family == 4 ||
			   f->upstream.family == 6);
}

/* An IPv4-mapped address (as a sockaddr_in6 brings it) as the IPv4 address it is. */
static struct sbx_addr unmapped(const struct sbx_addr *a)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	struct sbx_addr u = *a;

	if (a->family == 6 && memcmp(a->a, mapped, sizeof(mapped)) == 0) {
		memset(&u, 0, sizeof(u));
		u.family = 4;
		memcpy(u.a, a->a + 12, 4);
	}
	return u;
}

/*
 * The class of a literal the connection names: what the caller classified when
 * it is also the upstream (it has the environment); by the address alone
 * otherwise, where the upstream step still catches host, sandbox and own
 * addresses.
 */
static enum sbx_addr_class literal_class(const struct sbx_conn_facts *f, const struct sbx_addr *a)
{
	struct sbx_addr u = unmapped(&f->upstream);

	if (u.family == a->family && memcmp(u.a, a->a, a->family == 4 ? 4 : 16) == 0)
		return f->up_class;
	return sbx_addr_is_internal(a) ? SBX_ADDR_INTERNAL : SBX_ADDR_PUBLIC;
}

/* Decide a canonical host name (or IP literal text) with the engine. */
static int judge_name(const struct sbx_policy *p, const struct sbx_conn_facts *f, const char *h,
		      struct sbx_conn_verdict *v)
{
	struct sbx_verdict pv;
	int err = sbx_policy_decide(p, f->sandbox, h, f->port, &pv);

	char res[SBX_HOST_MAX + 16];

	if (err == -EAGAIN) {
		refuse(v, SBX_REASON_DEFAULT_DENY);
		say(v, "the policy is not compiled: nothing can be allowed");
		snprintf(v->fix, sizeof(v->fix), "try again once sbxd has loaded the policy");
		return err;
	}
	if (err) {
		refuse(v, SBX_REASON_BAD_STREAM);
		say(v, "'%s' is not a valid host name or address", h);
		fix_none(v, "it is not a valid host name or address");
		return err;
	}
	take(v, &pv);
	snprintf(v->host, sizeof(v->host), "%s", h);
	v->host_service = sbx_host_is_service(h);
	if (v->allow || v->rule)
		return 0;
	if (v->host_service) {
		say(v, "%s is a host service: only a localhost:%u rule opens it, \"**\" does not",
		    h, f->port);
		fix_host_service(v, f->port, "");
		return 0;
	}
	/* default deny here: a rule may allow the host on another port only (pypi.org:443) */
	if (!sbx_policy_decide(p, f->sandbox, h, 0, &pv) && pv.decision == SBX_ALLOW &&
	    pv.res->port && pv.res->port != f->port)
		say(v, "%s is allowed on port %u (%s), not on port %u", h, pv.res->port,
		    pv.rule->name, f->port);
	host_port(h, f->port, res, sizeof(res));
	fix_allow(v, res, "");
	return 0;
}

/* Decide an address the connection names, by its class. */
static int judge_literal(const struct sbx_policy *p, const struct sbx_conn_facts *f,
			 const struct sbx_addr *a, enum sbx_addr_class cls,
			 struct sbx_conn_verdict *v)
{
	char text[ADDR_TEXT_MAX], ap[ADDR_TEXT_MAX + 8];
	int err;

	sbx_addr_format(a, text, sizeof(text));
	addr_port(a, f->port, ap, sizeof(ap));
	switch (cls) {
	case SBX_ADDR_SANDBOX:
		refuse(v, SBX_REASON_PRIVATE_IP);
		snprintf(v->host, sizeof(v->host), "%s", text);
		say(v, "%s is a sandbox's address: sandboxes never reach each other, and no rule "
		       "changes that", text);
		fix_none(v, "sandboxes never reach each other");
		return 0;
	case SBX_ADDR_OWN:
		refuse(v, SBX_REASON_PRIVATE_IP);
		snprintf(v->host, sizeof(v->host), "%s", text);
		say(v, "%s is one of sbx's own listeners (proxy or resolver): the proxy never "
		       "dials itself", ap);
		fix_none(v, "the proxy never dials sbx's own listeners");
		return 0;
	case SBX_ADDR_HOST:
		err = judge_name(p, f, HOST_SERVICE, v);
		snprintf(v->host, sizeof(v->host), "%s", text);
		if (!err && !v->allow && !v->rule) {
			refuse(v, SBX_REASON_PRIVATE_IP);
			say(v, "%s is an address of this host: only a localhost:%u rule opens it "
			       "(reached as %s:%u)", text, f->port, HOST_SERVICE, f->port);
			fix_host_service(v, f->port, "");
		}
		return err;
	case SBX_ADDR_INTERNAL:
		err = judge_name(p, f, text, v);
		if (!err && v->allow && !v->by_address) {
			/* the private-address rule decides, not the name rule it overrides */
			refuse(v, SBX_REASON_PRIVATE_IP);
			say(v, "%s is a private address: refused by the private-address rule (only "
			       "an address rule opens it)", text);
			fix_private(v, text, ap);
		} else if (!err && !v->allow && !v->rule) {
			fix_private(v, text, ap); /* what the address rule opens, said */
		}
		return err;
	case SBX_ADDR_PUBLIC:
		break;
	}
	return judge_name(p, f, text, v);
}

/* Step 1: what the connection was opened for. */
static int judge_opened(const struct sbx_policy *p, const struct sbx_conn_facts *f,
			struct opened *o, struct sbx_conn_verdict *v)
{
	char err[SBX_ERR_MAX];
	int ret;

	memset(o, 0, sizeof(*o));
	if (f->kind == SBX_CONN_TRANSPARENT) {
		/* the resolver's name for the address, if it is a name at all */
		if (f->dns_name && *f->dns_name &&
		    (sbx_host_normalize(f->dns_name, o->name, sizeof(o->name), err, sizeof(err)) ||
		     sbx_addr_parse(o->name, &o->addr) != 0))
			o->name[0] = '\0';
		memset(&o->addr, 0, sizeof(o->addr));
		if (f->orig_class == SBX_ADDR_HOST) {
			/* the host's own address: what is dialled there is a host service */
			ret = judge_literal(p, f, &f->orig, SBX_ADDR_HOST, v);
			snprintf(v->host, sizeof(v->host), HOST_SERVICE);
			return ret;
		}
		if (o->name[0] && f->orig_class != SBX_ADDR_SANDBOX &&
		    f->orig_class != SBX_ADDR_OWN)
			return judge_name(p, f, o->name, v);
		o->name[0] = '\0';
		o->literal = true;
		o->addr = f->orig;
		o->cls = f->orig_class;
		return judge_literal(p, f, &o->addr, o->cls, v);
	}
	if (sbx_host_normalize(f->target, o->name, sizeof(o->name), err, sizeof(err))) {
		refuse(v, SBX_REASON_BAD_STREAM);
		snprintf(v->host, sizeof(v->host), "%.*s", SBX_HOST_MAX, f->target);
		say(v, "not a valid host: %s", err);
		fix_none(v, "it is not a valid host name or address");
		return -EINVAL;
	}
	ret = sbx_addr_parse(o->name, &o->addr);
	if (ret != 1)
		return judge_name(p, f, o->name, v);
	o->literal = true;
	o->name[0] = '\0';
	o->cls = literal_class(f, &o->addr);
	return judge_literal(p, f, &o->addr, o->cls, v);
}

/*
 * The name the connection was opened for, which the stream must carry: the
 * target, or the resolver's name for a transparent connection; NULL when it was
 * opened by address.
 */
static const char *expected_name(const struct opened *o)
{
	return o->name[0] ? o->name : NULL;
}

/* Step 2: what the client's first bytes name. */
static int judge_stream(const struct sbx_policy *p, const struct sbx_conn_facts *f,
			const struct opened *o, struct sbx_conn_verdict *v)
{
	const char *what = f->stream == SBX_STREAM_TLS ? "TLS server name" : "HTTP Host";
	const char *raw = f->stream_name ? f->stream_name : "", *want;
	char n[SBX_HOST_MAX + 1], err[SBX_ERR_MAX];
	struct sbx_verdict pv;
	struct sbx_addr a;

	/* the stream decides a transparent connection not yet dialled; else it narrows */
	if (f->stream == SBX_STREAM_BAD &&
	    (v->allow || (f->kind == SBX_CONN_TRANSPARENT && !f->dialled))) {
		refuse(v, SBX_REASON_BAD_STREAM);
		say(v, "the client's first bytes are malformed or ambiguous (two server names, "
		       "a broken handshake or request head, over the size bound): refused, "
		       "never relayed");
		fix_none(v, "malformed or ambiguous first bytes are never relayed");
		return 0;
	}
	if (f->stream != SBX_STREAM_TLS && f->stream != SBX_STREAM_HTTP)
		return 0; /* raw TCP: under the decision that opened the connection */
	n[0] = '\0';
	if (*raw && sbx_host_normalize(raw, n, sizeof(n), err, sizeof(err))) {
		refuse(v, SBX_REASON_BAD_STREAM);
		say(v, "the %s is not a valid host: %s", what, err);
		fix_none(v, "the %s must be a valid host name", what);
		return 0;
	}
	if (f->kind == SBX_CONN_TRANSPARENT && !f->dialled && *n) {
		/* not dialled yet: the name is what is decided, and what the proxy dials */
		if (f->orig_class == SBX_ADDR_SANDBOX || f->orig_class == SBX_ADDR_OWN)
			return 0;
		if (sbx_addr_parse(n, &a) == 1)
			return judge_literal(p, f, &a, literal_class(f, &a), v);
		return judge_name(p, f, n, v);
	}
	if (!v->allow)
		return 0;
	want = expected_name(o);
	if (want && !*n) {
		refuse(v, SBX_REASON_SNI_MISMATCH);
		say(v, "no server name: the connection was opened for %s, and its %s must name "
		       "it", want, what);
		fix_none(v, "the client must send the %s of the host it connected for", what);
		return 0;
	}
	if (want && strcmp(n, want) != 0) {
		refuse(v, SBX_REASON_SNI_MISMATCH);
		say(v, "the %s %s is not %s, the host the connection was opened for", what, n,
		    want);
		fix_none(v, "a connection opened for one host never carries another's");
		return 0;
	}
	if (!want && *n && sbx_policy_decide(p, f->sandbox, n, f->port, &pv) == 0 &&
	    pv.decision == SBX_DENY && pv.rule) {
		take(v, &pv);
		say(v, "the %s %s is denied by rule %s (%s)", what, n, pv.rule->name,
		    pv.res->text);
	}
	return 0;
}

/* Step 3: the address about to be dialled. */
static void judge_upstream(const struct sbx_policy *p, const struct sbx_conn_facts *f,
			   struct sbx_conn_verdict *v)
{
	char text[ADDR_TEXT_MAX], ap[ADDR_TEXT_MAX + 8];
	const char *host = v->host[0] ? v->host : "the host";
	struct sbx_addr a = unmapped(&f->upstream); /* as the engine matches it */
	struct sbx_verdict av;
	int err;

	sbx_addr_format(&a, text, sizeof(text));
	addr_port(&a, f->port, ap, sizeof(ap));
	switch (f->up_class) {
	case SBX_ADDR_SANDBOX:
		refuse(v, SBX_REASON_PRIVATE_IP);
		say(v, "%s leads to %s, a sandbox's address: sandboxes never reach each other",
		    host, text);
		fix_none(v, "sandboxes never reach each other");
		return;
	case SBX_ADDR_OWN:
		refuse(v, SBX_REASON_PRIVATE_IP);
		say(v, "%s leads to %s, one of sbx's own listeners: the proxy never dials itself",
		    host, ap);
		fix_none(v, "the proxy never dials sbx's own listeners");
		return;
	case SBX_ADDR_HOST:
		if (!v->host_service) {
			char note[64];

			refuse(v, SBX_REASON_PRIVATE_IP);
			say(v, "%s leads to %s, an address of this host: only a localhost:%u rule "
			       "opens the host, reached as %s:%u",
			    host, text, f->port, HOST_SERVICE, f->port);
			/* a rule opens the host service, not this name: it must be asked for */
			snprintf(note, sizeof(note), "then connect to %s:%u", HOST_SERVICE,
				 f->port);
			fix_host_service(v, f->port, note);
			return;
		}
		break;
	case SBX_ADDR_INTERNAL:
	case SBX_ADDR_PUBLIC:
		if (v->host_service) {
			refuse(v, SBX_REASON_PRIVATE_IP);
			say(v, "a host service is dialled on this host only, not at %s", text);
			fix_none(v, "a host service is on this host only");
			return;
		}
		break;
	}
	err = sbx_policy_decide_addr(p, f->sandbox, a.family, a.a, f->port, &av);
	if (err) {
		refuse(v, SBX_REASON_PRIVATE_IP);
		say(v, "cannot check %s against the address rules", text);
		snprintf(v->fix, sizeof(v->fix), "try again once sbxd has loaded the policy");
		return;
	}
	if (av.decision == SBX_DENY && av.rule) {
		/* a deny on an address means the address, whatever name led there */
		take(v, &av);
		say(v, "%s leads to %s, which rule %s denies (%s)", host, text, av.rule->name,
		    av.res->text);
		return;
	}
	if (f->up_class != SBX_ADDR_INTERNAL)
		return;
	if (av.decision != SBX_ALLOW || !av.rule) {
		refuse(v, SBX_REASON_PRIVATE_IP);
		say(v, "%s resolves to a private address %s: refused by the private-address rule "
		       "(only an address rule opens it)", host, text);
		fix_private(v, text, ap);
		return;
	}
	v->by_address = true;
}

int sbx_conn_decide(const struct sbx_policy *p, const struct sbx_conn_facts *f,
		    struct sbx_conn_verdict *v)
{
	struct opened o;
	int err;

	memset(v, 0, sizeof(*v));
	refuse(v, SBX_REASON_DEFAULT_DENY);
	if (!p || !f || !facts_valid(f)) {
		say(v, "inconsistent connection facts: refused");
		fix_none(v, "the connection's facts do not fit together");
		return -EINVAL;
	}
	err = judge_opened(p, f, &o, v);
	if (err)
		return err;
	if (f->stream != SBX_STREAM_NONE) {
		err = judge_stream(p, f, &o, v);
		if (err)
			return err;
	}
	/*
	 * A refusal no rule decided offers a rule as its fix: where no rule can open what would
	 * be dialled (sbx's own ports, another sandbox), say that instead.
	 */
	if (f->upstream.family &&
	    (v->allow || (!v->rule && v->reason == SBX_REASON_DEFAULT_DENY &&
			  (f->up_class == SBX_ADDR_OWN || f->up_class == SBX_ADDR_SANDBOX))))
		judge_upstream(p, f, v);
	if (!v->allow)
		v->host_service = false; /* nothing is dialled */
	return 0;
}
