// SPDX-License-Identifier: MIT
/* Host id blocks for sandboxes' user namespaces; see idrange.h. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "idrange.h"

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -EINVAL)
#define BLOCKS_MAX (1u << 16) /* blocks in any valid range: 2^32 / SBX_IDS_BLOCK */

/* ---- the configured range ---------------------------------------------------------------- */

void sbx_ids_default(struct sbx_ids_cfg *cfg)
{
	cfg->first = SBX_IDS_FIRST_DEFAULT;
	cfg->count = (SBX_IDS_LAST_DEFAULT - SBX_IDS_FIRST_DEFAULT + 1) / SBX_IDS_BLOCK;
}

/* A host id, decimal or 0x hex, with nothing else around it but blanks. */
static int id_parse(const char *s, uint64_t *v)
{
	int base = 10;
	char *end;

	while (isblank((unsigned char)*s))
		s++;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!isxdigit((unsigned char)*s) || (base == 16 && (s[1] == 'x' || s[1] == 'X')))
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, &end, base);
	while (isblank((unsigned char)*end))
		end++;
	if (errno || *end)
		return -EINVAL;
	return *v > UINT32_MAX ? -ERANGE : 0;
}

/* The whole-block LAST nearest below @last, or FIRST's first block if that is below @first. */
static uint64_t last_suggest(uint64_t first, uint64_t last)
{
	uint64_t down = (last + 1) / SBX_IDS_BLOCK * SBX_IDS_BLOCK - 1;

	return down < first + SBX_IDS_BLOCK - 1 ? first + SBX_IDS_BLOCK - 1 : down;
}

int sbx_ids_parse(const char *text, struct sbx_ids_cfg *cfg, char *err, size_t errlen)
{
	char buf[64], *dash;
	uint64_t first, last;
	int ret;

	if (!text || strlen(text) >= sizeof(buf) || !(dash = strchr(text, '-')))
		return ERR("sandbox_ids '%s' is not a range FIRST-LAST of host ids such as %s",
			   text ? text : "", SBX_IDS_DEFAULT);
	snprintf(buf, sizeof(buf), "%s", text);
	dash = buf + (dash - text);
	*dash = '\0';
	ret = id_parse(buf, &first);
	if (!ret)
		ret = id_parse(dash + 1, &last);
	if (ret == -ERANGE)
		return ERR("sandbox_ids '%s': host ids end at %" PRIu32, text, UINT32_MAX);
	if (ret)
		return ERR("sandbox_ids '%s' is not a range FIRST-LAST of host ids such as %s",
			   text, SBX_IDS_DEFAULT);
	if (first < SBX_IDS_BLOCK)
		return ERR("sandbox_ids '%s': FIRST must be at least %u (ids below it belong to the "
			   "host)",
			   text, SBX_IDS_BLOCK);
	if (first % SBX_IDS_BLOCK)
		return ERR("sandbox_ids '%s': FIRST must be a multiple of %u (did you mean "
			   "%" PRIu64 "?)",
			   text, SBX_IDS_BLOCK, (first / SBX_IDS_BLOCK + 1) * SBX_IDS_BLOCK);
	if (last > SBX_IDS_LAST_MAX)
		return ERR("sandbox_ids '%s': LAST must be below 4294967294 (4294967294 is the "
			   "overflow id, 4294967295 no id at all)",
			   text);
	if ((last + 1) % SBX_IDS_BLOCK)
		return ERR("sandbox_ids '%s': LAST+1 must be a multiple of %u, a sandbox takes %u "
			   "ids (LAST such as %" PRIu64 ")",
			   text, SBX_IDS_BLOCK, SBX_IDS_BLOCK, last_suggest(first, last));
	if (last < first + SBX_IDS_BLOCK - 1)
		return ERR("sandbox_ids '%s' holds no block of %u ids: LAST must be at least "
			   "FIRST+%u",
			   text, SBX_IDS_BLOCK, SBX_IDS_BLOCK - 1);
	cfg->first = (uint32_t)first;
	cfg->count = (uint32_t)((last + 1 - first) / SBX_IDS_BLOCK);
	return 0;
}

/* ---- allocation -------------------------------------------------------------------------- */

static int cfg_valid(const struct sbx_ids_cfg *cfg)
{
	uint64_t end = (uint64_t)cfg->first + (uint64_t)cfg->count * SBX_IDS_BLOCK;

	return cfg->first >= SBX_IDS_BLOCK && cfg->first % SBX_IDS_BLOCK == 0 && cfg->count >= 1 &&
	       end - 1 <= SBX_IDS_LAST_MAX;
}

/* Mark every block of @cfg that host ids @first..@last overlap. */
static void used_mark(uint64_t *used, const struct sbx_ids_cfg *cfg, uint32_t first,
		      uint32_t last)
{
	uint64_t lo, hi;

	if (last < first || last < cfg->first)
		return;
	lo = first < cfg->first ? 0 : (first - cfg->first) / SBX_IDS_BLOCK;
	hi = (last - cfg->first) / SBX_IDS_BLOCK;
	if (hi >= cfg->count)
		hi = cfg->count - 1;
	for (uint64_t b = lo; b <= hi; b++)
		used[b / 64] |= 1ull << (b % 64);
}

int sbx_ids_alloc(const struct sbx_ids_cfg *cfg, const uint32_t *taken_bases, size_t ntaken,
		  const struct sbx_id_span *host, size_t nhost, uint32_t *base)
{
	uint64_t used[BLOCKS_MAX / 64] = { 0 };

	if (!cfg_valid(cfg))
		return -EINVAL;
	for (size_t i = 0; i < ntaken; i++) {
		uint64_t last = (uint64_t)taken_bases[i] + SBX_IDS_BLOCK - 1;

		used_mark(used, cfg, taken_bases[i], last > UINT32_MAX ? UINT32_MAX : (uint32_t)last);
	}
	for (size_t i = 0; i < nhost; i++)
		used_mark(used, cfg, host[i].first, host[i].last);
	for (uint32_t b = 0; b < cfg->count; b++) {
		if (!(used[b / 64] & (1ull << (b % 64)))) {
			*base = cfg->first + b * SBX_IDS_BLOCK;
			return 0;
		}
	}
	return -ENOSPC;
}

void sbx_ids_nospc(const struct sbx_ids_cfg *cfg, const char *config, char *err, size_t errlen)
{
	uint64_t last = (uint64_t)cfg->first + (uint64_t)cfg->count * SBX_IDS_BLOCK - 1;

	snprintf(err, errlen,
		 "no free block of %u user ids in sandbox_ids %" PRIu32 "-%" PRIu64 " (%" PRIu32
		 " blocks, each held by a sandbox or overlapping an id in /etc/passwd, "
		 "/etc/group, /etc/subuid or /etc/subgid); remove sandboxes with 'sbx rm' or "
		 "widen sandbox_ids in %s",
		 SBX_IDS_BLOCK, cfg->first, last, cfg->count, config);
}

/* ---- the host's accounts ----------------------------------------------------------------- */

struct spans {
	struct sbx_id_span *v;
	size_t n, cap;
};

static int spans_add(struct spans *s, uint32_t first, uint32_t last)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct sbx_id_span *v;

		if (s->n >= SBX_IDS_HOST_SPANS_MAX)
			return -E2BIG;
		v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = (struct sbx_id_span){ first, last };
	return 0;
}

/* Field @idx (0-based) of a colon-separated line as a decimal id; -EINVAL if not one. */
static int field_id(char *const *f, int nf, int idx, uint32_t *v)
{
	unsigned long long x;
	char *end;

	if (idx >= nf || !isdigit((unsigned char)f[idx][0]))
		return -EINVAL;
	errno = 0;
	x = strtoull(f[idx], &end, 10);
	if (errno || *end || x > UINT32_MAX)
		return -EINVAL;
	*v = (uint32_t)x;
	return 0;
}

#define FIELDS_MAX 8

/* Split @line at ':' into at most FIELDS_MAX fields (the last keeps the rest). */
static int fields_split(char *line, char **f)
{
	int n = 0;

	f[n++] = line;
	for (char *p = line; *p && n < FIELDS_MAX; p++) {
		if (*p == ':') {
			*p = '\0';
			f[n++] = p + 1;
		}
	}
	return n;
}

enum acct_kind { ACCT_PASSWD, ACCT_GROUP, ACCT_SUB };

/* The ids one line uses; a malformed line adds nothing. */
static int line_spans(struct spans *s, char *line, enum acct_kind kind)
{
	char *f[FIELDS_MAX];
	int nf, ret = 0;
	uint32_t a, b;

	if (!*line || line[0] == '#' || line[0] == '+' || line[0] == '-')
		return 0; /* blank, comment, or NIS compat entries: no id here */
	nf = fields_split(line, f);
	switch (kind) {
	case ACCT_PASSWD: /* name:passwd:uid:gid:gecos:home:shell */
		if (!field_id(f, nf, 2, &a))
			ret = spans_add(s, a, a);
		if (!ret && !field_id(f, nf, 3, &b))
			ret = spans_add(s, b, b);
		break;
	case ACCT_GROUP: /* name:passwd:gid:members */
		if (!field_id(f, nf, 2, &a))
			ret = spans_add(s, a, a);
		break;
	case ACCT_SUB: /* name:start:count */
		if (nf == 3 && !field_id(f, nf, 1, &a) && !field_id(f, nf, 2, &b) && b &&
		    (uint64_t)a + b - 1 <= UINT32_MAX)
			ret = spans_add(s, a, a + (b - 1));
		break;
	}
	return ret;
}

static int file_spans(struct spans *s, const char *root, const char *name, enum acct_kind kind)
{
	char path[4096], *text = NULL, *line, *next;
	int ret;

	if ((size_t)snprintf(path, sizeof(path), "%s%s", root, name) >= sizeof(path))
		return -ENAMETOOLONG;
	ret = sbx_read_file(path, SBX_IDS_HOST_FILE_MAX, &text, NULL);
	if (ret == -ENOENT)
		return 0;
	if (ret)
		return ret;
	for (line = text; line && !ret; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		ret = line_spans(s, line, kind);
	}
	free(text);
	return ret;
}

static int span_cmp(const void *a, const void *b)
{
	const struct sbx_id_span *x = a, *y = b;

	if (x->first != y->first)
		return x->first < y->first ? -1 : 1;
	return (x->last > y->last) - (x->last < y->last);
}

/* Sort and merge overlapping or adjacent spans in place. */
static size_t spans_merge(struct sbx_id_span *v, size_t n)
{
	size_t out = 0;

	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), span_cmp);
	for (size_t i = 1; i < n; i++) {
		if ((uint64_t)v[i].first <= (uint64_t)v[out].last + 1) {
			if (v[i].last > v[out].last)
				v[out].last = v[i].last;
		} else {
			v[++out] = v[i];
		}
	}
	return out + 1;
}

int sbx_ids_host_spans(struct sbx_id_span **out, size_t *n, const char *root)
{
	static const struct {
		const char *name;
		enum acct_kind kind;
	} files[] = {
		{ "/etc/passwd", ACCT_PASSWD },
		{ "/etc/group", ACCT_GROUP },
		{ "/etc/subuid", ACCT_SUB },
		{ "/etc/subgid", ACCT_SUB },
	};
	struct spans s = { 0 };
	int ret = 0;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]) && !ret; i++)
		ret = file_spans(&s, root, files[i].name, files[i].kind);
	if (ret) {
		free(s.v);
		return ret;
	}
	*n = spans_merge(s.v, s.n);
	*out = *n ? s.v : NULL;
	if (!*n)
		free(s.v);
	return 0;
}
