/* SPDX-License-Identifier: MIT */
/*
 * The daemon's policy service: owns the store and the compiled policy, and
 * answers the policy.* control requests. Every change is saved before it is
 * applied, so a failed write changes nothing.
 */
#ifndef SBX_POLICYD_H
#define SBX_POLICYD_H

#include <cjson/cJSON.h>
#include <sbx/conn.h>
#include <sbx/policy.h>

struct sbx_policyd;

/* Load the store under @state_dir; a missing store means "no default chosen yet". */
int sbx_policyd_open(const char *state_dir, struct sbx_policyd **out, char *err, size_t errlen);
void sbx_policyd_free(struct sbx_policyd *pd);
/* The compiled policy (replaced on every change): for the daemon's own thread. */
const struct sbx_policy *sbx_policyd_policy(const struct sbx_policyd *pd);
/*
 * Other threads (the proxy workers) decide under the read lock, so a change
 * never frees the policy they are reading; it applies to their next decision.
 */
const struct sbx_policy *sbx_policyd_read_lock(struct sbx_policyd *pd);
void sbx_policyd_read_unlock(struct sbx_policyd *pd);
enum sbx_preset sbx_policyd_preset(const struct sbx_policyd *pd);

/*
 * Handle one request; returns a reply (never NULL unless out of memory).
 * Sets *shutdown when the daemon must exit once the reply is sent.
 */
cJSON *sbx_policyd_handle(struct sbx_policyd *pd, const char *op, const cJSON *args,
			  bool *shutdown);

/*
 * The addresses `sbx policy check` classifies against (host addresses, the
 * sandbox pool, sbx's own ports): sbxd sets them before it answers a check.
 */
void sbx_policyd_set_env(struct sbx_policyd *pd, const struct sbx_addr_env *env);

#endif
