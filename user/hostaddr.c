// SPDX-License-Identifier: MIT
/*
 * The host's own addresses (user/hostaddr.h): what the proxy must treat as the
 * host, reachable only as a host service (sbxd(8), "How a connection is decided").
 */
#include <errno.h>
#include <ifaddrs.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "hostaddr.h"
#include "sandbox.h"

static bool ifa_addr(const struct sockaddr *sa, struct sbx_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (sa && sa->sa_family == AF_INET) {
		out->family = 4;
		memcpy(out->a, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return true;
	}
	if (sa && sa->sa_family == AF_INET6) {
		out->family = 6;
		memcpy(out->a, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		return true;
	}
	return false;
}

int sbx_addr_env_snapshot(struct sbx_addr_env *env)
{
	struct ifaddrs *list, *i;
	struct sbx_addr a;
	int err = 0;

	memset(env, 0, sizeof(*env));
	if (getifaddrs(&list))
		return -errno;
	for (i = list; i; i = i->ifa_next) {
		if (!ifa_addr(i->ifa_addr, &a))
			continue;
		err = sbx_addr_env_add_host(env, &a);
		if (err)
			break;
	}
	freeifaddrs(list);
	return err;
}

int sbx_addr_env_build(struct sbx_addr_env *env, const char *pool, const uint16_t *ports,
		       size_t nports)
{
	int ret = sbx_addr_env_snapshot(env);
	struct sbx_pool p;
	char err[256];

	if (sbx_pool_parse(pool && *pool ? pool : SBX_SANDBOX_POOL_DEFAULT, &p, err,
			   sizeof(err)) == 0) {
		struct sbx_addr net = { .family = 4 };

		memcpy(net.a, &p.net, 4);
		sbx_addr_env_set_pool(env, &net, (uint8_t)p.prefix);
	}
	for (size_t i = 0; i < nports; i++)
		sbx_addr_env_add_port(env, ports[i]);
	return ret;
}
