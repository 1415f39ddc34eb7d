/* SPDX-License-Identifier: MIT */
/*
 * The socket families a sandboxed command may create, as a seccomp filter: socket() and
 * socketpair() of any family but AF_UNIX, AF_INET, AF_INET6 and AF_NETLINK NETLINK_ROUTE fail
 * with EPERM (bpf_abi.h lists them). The kernel's cgroup/sock_create hook only sees AF_INET
 * and AF_INET6, and the BPF LSM hook that sees the rest does not load on every kernel; this
 * filter holds on all of them. For the CLI (`sbx run`/`sbx exec`), the tests and sbxd.
 */
#ifndef SBX_SOCKFILTER_H
#define SBX_SOCKFILTER_H

#include <stddef.h>
#include <linux/filter.h>

#define SBX_SOCKFILTER_MAX 40 /* instructions of the program, at most */

/* The classic BPF program into prog (room for SBX_SOCKFILTER_MAX); its length, or -errno. */
int sbx_sockfilter_build(struct sock_filter *prog, size_t max);

/*
 * Install it on the calling thread (inherited by its children and kept across execve). Needs
 * no_new_privs set, or CAP_SYS_ADMIN. 0 or -errno.
 */
int sbx_sockfilter_install(void);

#endif /* SBX_SOCKFILTER_H */
