/* SPDX-License-Identifier: MIT */
/*
 * The seccomp filter of a sandboxed command (`sbx run`, `sbx exec`; man/sbx-run.1, "System
 * calls"). Every system call is allowed but kernel attack surface a sandbox never needs; a
 * refused call fails with EPERM (clone3 with ENOSYS), never a kill, so programs can fall back.
 * Refused:
 *   - outright: the calls sbx_seccomp_refused() lists (bpf, perf_event_open, keyrings,
 *     userfaultfd, kexec and modules, the host's ports, swap, power, accounting, quotas, clock
 *     and kernel log, and calls the kernel keeps only for old programs);
 *   - a new user namespace: clone and unshare with CLONE_NEWUSER, setns with CLONE_NEWUSER or
 *     with nstype 0 (whose namespace type seccomp cannot see); clone3 fails with ENOSYS, as
 *     its flags are behind a pointer, and libcs fall back to clone;
 *   - personality() other than PER_LINUX, PER_LINUX32 and the 0xffffffff query;
 *   - socket() and socketpair() of any family but AF_UNIX, AF_INET, AF_INET6 and AF_NETLINK
 *     NETLINK_ROUTE (bpf_abi.h), and on i386 socketcall()'s SYS_SOCKET and SYS_SOCKETPAIR,
 *     whose arguments are behind a pointer. The kernel's cgroup/sock_create hook only sees
 *     AF_INET and AF_INET6, and the BPF LSM hook that sees the rest does not load on every
 *     kernel; this filter holds on all of them.
 * On x86-64 the i386 and x32 system calls are filtered alike.
 */
#ifndef SBX_SECCOMP_H
#define SBX_SECCOMP_H

#include <stddef.h>

/*
 * Install the filter on the calling thread (inherited by its children and kept across execve).
 * Call it after no_new_privs is set, right before exec. 0 or -errno.
 */
int sbx_seccomp_install(void);

/* The system calls refused outright, by name (for the man page and the tests); *n of them. */
const char *const *sbx_seccomp_refused(size_t *n);

#endif /* SBX_SECCOMP_H */
