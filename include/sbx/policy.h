/* SPDX-License-Identifier: MIT */
/*
 * The policy engine: rules, the resource grammar, precedence and decisions.
 * Pure C with no I/O, so the daemon, the CLI, tests and benchmarks share it.
 *
 * A policy is a list of rules. sbx_policy_compile() turns it into hash
 * indexes so that sbx_policy_decide() costs a handful of lookups (the host,
 * then each parent suffix) however many rules there are.
 */
#ifndef SBX_POLICY_H
#define SBX_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sbx/bpf_abi.h> /* enum sbx_reason: verdict reasons are one list, kernel and user */

#define SBX_HOST_MAX 253	/* longest DNS name, without trailing dot */
#define SBX_LABEL_MAX 63
#define SBX_RESOURCE_MAX 512	/* longest resource text we accept */
#define SBX_RESOURCES_PER_RULE 1024
#define SBX_RULE_NAME_LEN 128	/* rule and sandbox names */
#define SBX_RULE_NAME_MAX 63	/* a name given with --name: fits a verdict's rule field */
#define SBX_ID_LEN 36		/* a UUID in text form */
#define SBX_ID_PREFIX_MIN 8	/* the shortest ID prefix that names a rule */
#define SBX_AUTO_NAME_PREFIX "local:" /* unnamed local rules: "local:" + 8 hex digits of the id */
#define SBX_ERR_MAX 256
#define SBX_PATH_SEGS_MAX 128	/* segments in one path pattern */

enum sbx_rule_type {
	SBX_TYPE_NETWORK,
	SBX_TYPE_FS_READ,
	SBX_TYPE_FS_WRITE,
	SBX_TYPE__COUNT,
};

enum sbx_decision {
	SBX_ALLOW,
	SBX_DENY,
};

enum sbx_provenance {
	SBX_PROV_LOCAL,
	SBX_PROV_KIT,
	SBX_PROV_REMOTE,
};

enum sbx_res_kind {
	SBX_RES_EXACT,	   /* example.com */
	SBX_RES_SUBDOMAIN, /* *.example.com: any depth, not the root */
	SBX_RES_TREE,	   /* **.example.com: the root and every subdomain */
	SBX_RES_ANY,	   /* ** */
	SBX_RES_LOCALHOST, /* localhost:PORT, a host service */
	SBX_RES_CIDR,	   /* 10.0.0.0/8, 10.1.2.3, 2001:db8::/32 */
	SBX_RES_PATH,	   /* a filesystem path pattern (sbx_policy_decide_path) */
};

struct sbx_resource {
	enum sbx_res_kind kind;
	uint16_t port;	     /* 0: any port */
	uint8_t family;	     /* SBX_RES_CIDR: 4 or 6 */
	uint8_t prefix;	     /* SBX_RES_CIDR: prefix length */
	uint8_t addr[16];    /* SBX_RES_CIDR: network address, masked */
	char host[SBX_HOST_MAX + 1]; /* the domain without any wildcard prefix */
	char text[SBX_RESOURCE_MAX]; /* canonical form, as listed and stored */
};

struct sbx_rule {
	char id[SBX_ID_LEN + 1];
	char name[SBX_RULE_NAME_LEN];
	enum sbx_provenance prov;
	char sandbox[SBX_RULE_NAME_LEN]; /* "" applies to all sandboxes */
	enum sbx_rule_type type;
	enum sbx_decision decision;
	bool builtin;		    /* a default group: cannot be removed */
	int64_t created;	    /* unix seconds, 0 if unknown */
	size_t nres;
	struct sbx_resource *res;
};

struct sbx_verdict {
	enum sbx_decision decision;
	enum sbx_reason reason;	    /* domain-allowed, domain-blocked or default-deny; for
				     * paths path-allowed, path-blocked or default-deny */
	const struct sbx_rule *rule;	    /* NULL when nothing matched */
	const struct sbx_resource *res;	    /* the resource that matched */
	enum sbx_rule_type type;	    /* the rule type that decided (network for hosts) */
	bool inside;			    /* a path deny: it matches below the path, not the
					     * path itself (a mount exposes the whole subtree) */
};

/* The built-in baselines of `sbx policy set-default`. */
enum sbx_preset {
	SBX_PRESET_NONE, /* not chosen yet */
	SBX_PRESET_ALLOW_ALL,
	SBX_PRESET_BALANCED,
	SBX_PRESET_DENY_ALL,
};

struct sbx_policy;

/* Names <-> enums; the _parse functions return -EINVAL on unknown text. */
const char *sbx_type_name(enum sbx_rule_type t);
int sbx_type_parse(const char *s, enum sbx_rule_type *t);
const char *sbx_decision_name(enum sbx_decision d);
int sbx_decision_parse(const char *s, enum sbx_decision *d);
const char *sbx_prov_name(enum sbx_provenance p);
int sbx_prov_parse(const char *s, enum sbx_provenance *p);
const char *sbx_preset_name(enum sbx_preset p);
int sbx_preset_parse(const char *s, enum sbx_preset *p);

/*
 * Parse and normalise one resource of a rule of type @type. On error returns
 * -EINVAL and writes a sentence saying what is wrong into @err.
 */
int sbx_resource_parse(enum sbx_rule_type type, const char *text, struct sbx_resource *out,
		       char *err, size_t errlen);
/* Parse a comma-separated list; *out is malloc'd. Empty items are an error. */
int sbx_resource_list_parse(enum sbx_rule_type type, const char *csv, struct sbx_resource **out,
			    size_t *n, char *err, size_t errlen);
/* Validate a sandbox name: [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 63 bytes. */
int sbx_sandbox_name_check(const char *name, char *err, size_t errlen);
/*
 * Validate a rule name given with --name: as a sandbox name, and neither a
 * rule type nor in the "default-" space of the built-in groups.
 */
int sbx_rule_name_check(const char *name, char *err, size_t errlen);
/* Does a network resource look like a filesystem path pattern (~/src/..., /opt, ./x)? */
bool sbx_resource_is_path(const char *text);
/* localhost and host.docker.internal: the host's own services, opened by localhost:PORT. */
bool sbx_host_is_service(const char *h);
/* Normalise a host name or IP literal for lookups: lowercase, no trailing dot. */
int sbx_host_normalize(const char *in, char *out, size_t outlen, char *err, size_t errlen);

/* Rules: deep copy and release of the resources they own. */
int sbx_rule_copy(struct sbx_rule *dst, const struct sbx_rule *src);
void sbx_rule_release(struct sbx_rule *r);
/* A fresh random (v4) UUID; a name-based one for built-in rules. */
void sbx_uuid_random(char out[SBX_ID_LEN + 1]);
void sbx_uuid_from_name(const char *name, char out[SBX_ID_LEN + 1]);

/*
 * A policy owns copies of its rules. Add or remove rules, then compile
 * before deciding; decide on an uncompiled policy returns -EAGAIN.
 */
struct sbx_policy *sbx_policy_new(void);
void sbx_policy_free(struct sbx_policy *p);
int sbx_policy_add(struct sbx_policy *p, const struct sbx_rule *r);
size_t sbx_policy_count(const struct sbx_policy *p);
const struct sbx_rule *sbx_policy_rule(const struct sbx_policy *p, size_t i);
const struct sbx_rule *sbx_policy_find_id(const struct sbx_policy *p, const char *id);

/* How a handle (what `policy rm` and `inspect` take) matched. */
enum sbx_match {
	SBX_MATCH_NONE,
	SBX_MATCH_EXACT,  /* a rule's name, or its whole ID (with or without "local:") */
	SBX_MATCH_PREFIX, /* no exact match; a prefix of SBX_ID_PREFIX_MIN+ characters of IDs */
	SBX_MATCH_SHORT,  /* no exact match; a prefix of IDs, too short to name a rule */
};

/*
 * The rules @handle names: exact matches if there are any, else the rules
 * whose ID starts with it. With @ids_only, names are not looked at. Stores
 * up to @max of them in @out and returns how many there are in all.
 */
size_t sbx_policy_find(const struct sbx_policy *p, const char *handle, bool ids_only,
		       const struct sbx_rule **out, size_t max, enum sbx_match *how);
int sbx_policy_compile(struct sbx_policy *p);

/*
 * Governance: while any remote rule of a type exists, local and kit rules of
 * that type are not evaluated. Returns true for an active rule; otherwise
 * false and, if @why is set, the reason shown by `policy ls`.
 */
bool sbx_policy_rule_active(const struct sbx_policy *p, const struct sbx_rule *r,
			    const char **why);

/*
 * Decide a network connection from @sandbox ("" or NULL: no sandbox, only
 * global rules apply) to @host (a name or an IP literal) on @port.
 * Deny beats allow regardless of specificity; with no allow, deny.
 * Returns 0, or -EINVAL for a host that is not a valid name or address.
 */
int sbx_policy_decide(const struct sbx_policy *p, const char *sandbox, const char *host,
		      uint16_t port, struct sbx_verdict *v);

/*
 * Could some connection to @host be allowed, on any port? What the resolver
 * asks before it looks a name up: a name no rule could allow is refused
 * without asking anyone upstream.
 */
bool sbx_policy_may_allow(const struct sbx_policy *p, const char *sandbox, const char *host);

/*
 * Decide an address only against address (IP/CIDR) rules: how the proxy
 * learns whether a resolved private address was named explicitly. @addr is
 * 4 bytes (network order) for family 4, 16 for family 6.
 */
int sbx_policy_decide_addr(const struct sbx_policy *p, const char *sandbox, int family,
			   const uint8_t *addr, uint16_t port, struct sbx_verdict *v);

/* A human sentence for a verdict, e.g. for `policy check` and 403 pages. */
void sbx_verdict_detail(const struct sbx_verdict *v, char *out, size_t outlen);

/*
 * Decide whether the host directory @path may be mounted into @sandbox, for rules of @type
 * (filesystem:read or filesystem:write); sbx-policy(1), FILESYSTEM RULES. @path is absolute
 * and canonical (the caller resolves it with realpath(3)); @home is the invoking user's home
 * directory, what '~' means (NULL or "": '~' patterns match nothing).
 *
 * Only active rules of @type, global or scoped to @sandbox, count. A mount exposes the whole
 * subtree, so a deny rule decides if it matches @path or could match any path below it
 * (v->inside); else an allow rule matching @path itself allows (a trailing "**" matches
 * strictly below its prefix: "~" with a trailing "**" allows /home/a/proj, not /home/a); else
 * deny by default. Linear in the number of filesystem rules, no I/O.
 * Returns 0, -EINVAL for a @path that is not absolute and canonical or a @type that is not a
 * filesystem type, -EAGAIN for an uncompiled policy.
 */
int sbx_policy_decide_path(const struct sbx_policy *p, const char *sandbox,
			   enum sbx_rule_type type, const char *path, const char *home,
			   struct sbx_verdict *v);

/*
 * A workspace mount: read-only needs filesystem:read, read-write filesystem:read and
 * filesystem:write. @v is the verdict that decides: the first refusal (read before write),
 * else the allow of the last type asked. Returns as sbx_policy_decide_path().
 */
int sbx_policy_decide_mount(const struct sbx_policy *p, const char *sandbox, const char *path,
			    const char *home, bool writable, struct sbx_verdict *v);

/*
 * Sentences for a path verdict of sbx_policy_decide_path(): "filesystem:write of /home/a
 * denied by rule NAME (~/)", "no filesystem:write rule allows /x". The fix is what to do next
 * for a refusal ("" for an allow): the command that allows @path, the command that lifts a
 * local deny rule, or "no local rule can allow this: " and why.
 */
void sbx_path_verdict_detail(const struct sbx_verdict *v, const char *path, char *out,
			     size_t outlen);
void sbx_path_verdict_fix(const struct sbx_verdict *v, const char *path, char *out,
			  size_t outlen);

/* @w as one word for a POSIX shell: quoted when a shell would read into it ('[', '*', ' '). */
void sbx_shell_word(const char *w, char *out, size_t len);

/*
 * The built-in rules of a preset, as copies the caller releases with
 * sbx_rules_free(). Returns -EINVAL if the embedded data does not parse.
 */
int sbx_defaults_build(enum sbx_preset preset, struct sbx_rule **rules, size_t *n);
void sbx_rules_free(struct sbx_rule *rules, size_t n);

#endif
