/* SPDX-License-Identifier: MIT */
/*
 * The host's own addresses, as sbxd sees them now: the start of the
 * environment that sbx_addr_classify() (include/sbx/conn.h) judges against.
 */
#ifndef SBX_HOSTADDR_H
#define SBX_HOSTADDR_H

#include <sbx/conn.h>

/*
 * Reset @env and fill it with every address configured on every interface of
 * the calling thread's network namespace (getifaddrs()). The gateways of
 * sandboxes are there too, being on sbxd's side of the veths; the caller adds
 * the pool and sbx's own ports. Returns 0, -errno when the addresses cannot be
 * read, or -ENOSPC when there are more than SBX_ADDR_ENV_MAX (the first ones
 * are kept).
 */
int sbx_addr_env_snapshot(struct sbx_addr_env *env);

/*
 * The whole environment of sbxd: a snapshot, the sandbox pool (@pool: IPv4
 * CIDR text, "" for the default) and sbx's own ports. Returns what the
 * snapshot returned; the pool and ports are set whatever it was.
 */
int sbx_addr_env_build(struct sbx_addr_env *env, const char *pool, const uint16_t *ports,
		       size_t nports);

#endif
