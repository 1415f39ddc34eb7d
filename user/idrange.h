/* SPDX-License-Identifier: MIT */
/*
 * Host user ids for sandboxes' user namespaces: each sandbox maps its ids 0..65535 to its own
 * block of 65536 host ids, taken from the configured range sandbox_ids, never shared with
 * another sandbox nor with any id the host's accounts use (/etc/passwd, /etc/group,
 * /etc/subuid, /etc/subgid). The allocator is pure; reading the accounts is separate.
 */
#ifndef SBX_IDRANGE_H
#define SBX_IDRANGE_H

#include <stddef.h>
#include <stdint.h>

#define SBX_IDS_BLOCK 65536u		/* host ids per sandbox: its ids 0..65535 */
#define SBX_IDS_FIRST_DEFAULT 0x70000000u /* above systemd's container range 0x80000-0x6FFFFFFF */
#define SBX_IDS_LAST_DEFAULT 0x7FFDFFFFu  /* below systemd's dynamic ids at 0x7FFE0000 */
#define SBX_IDS_DEFAULT "1879048192-2147352575"
#define SBX_IDS_LAST_MAX 4294967293u	/* 4294967294 is the overflow id, 4294967295 invalid */
#define SBX_IDS_HOST_SPANS_MAX 65536	/* host account entries read, all files together */
#define SBX_IDS_HOST_FILE_MAX (16u << 20) /* bytes read of each account file */

/* The configured range: @count blocks of SBX_IDS_BLOCK ids from host id @first. */
struct sbx_ids_cfg {
	uint32_t first; /* a multiple of SBX_IDS_BLOCK, at least SBX_IDS_BLOCK */
	uint32_t count; /* blocks, >= 1 */
};

/* Host ids first..last (inclusive) that an account or subordinate range uses. */
struct sbx_id_span {
	uint32_t first;
	uint32_t last;
};

/* The default range, SBX_IDS_DEFAULT. */
void sbx_ids_default(struct sbx_ids_cfg *cfg);
/*
 * Parse "FIRST-LAST" (decimal or 0x hex host ids, LAST inclusive) into @cfg; -EINVAL with
 * @err saying what is wrong (no file or line: the caller adds them).
 */
int sbx_ids_parse(const char *text, struct sbx_ids_cfg *cfg, char *err, size_t errlen);

/*
 * The lowest block of @cfg that no sandbox holds (@taken_bases: the host bases of the
 * sandboxes' blocks) and that overlaps no @host span; its first host id in *@base.
 * -ENOSPC when every block is used (sbx_ids_nospc says so), -EINVAL for a bad @cfg.
 */
int sbx_ids_alloc(const struct sbx_ids_cfg *cfg, const uint32_t *taken_bases, size_t ntaken,
		  const struct sbx_id_span *host, size_t nhost, uint32_t *base);
/* The message for sbx_ids_alloc's -ENOSPC; @config is the config file's path. */
void sbx_ids_nospc(const struct sbx_ids_cfg *cfg, const char *config, char *err, size_t errlen);

/*
 * Every id the host's accounts use: the uids and gids of @root/etc/passwd, the gids of
 * @root/etc/group, the ranges of @root/etc/subuid and @root/etc/subgid ("name:start:count").
 * @root is "" for the real files. A missing file counts as empty; malformed lines are
 * skipped. *@out is sorted, overlapping spans merged, malloc'd (NULL when *@n is 0).
 * -errno if a file cannot be read, -E2BIG past SBX_IDS_HOST_SPANS_MAX entries.
 */
int sbx_ids_host_spans(struct sbx_id_span **out, size_t *n, const char *root);

#endif
