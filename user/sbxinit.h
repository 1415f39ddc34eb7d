/* SPDX-License-Identifier: MIT */
/* Starting a sandbox's init (see sbxinit.c). */
#ifndef SBX_SBXINIT_H
#define SBX_SBXINIT_H

#include <sys/types.h>

#include <sbx/confine.h>

struct sbx_init_args {
	const struct sbx_plan *plan;
	const struct sbx_workspace *ws;
	size_t nws;
	const char *cgroup; /* the sandbox's cgroup directory */
	const char *netns;  /* its network namespace file */
	int userns_fd;	    /* the sandbox's user namespace */
	int ws_userns_fd;   /* the invoking user's idmap for workspaces, or -1 */
};

/* Start the init; on success *pid is its pid on the host, ready for sbx_enter_apply(). */
int sbx_init_start(const struct sbx_init_args *a, pid_t *pid, char *err, size_t errlen);

#endif
