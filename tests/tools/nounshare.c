// SPDX-License-Identifier: MIT
/*
 * nounshare: run a command under a seccomp filter that makes unshare(2) fail with EPERM when
 * it asks for any of the given namespaces, the way a container runtime's profile or an LSM
 * refuses them. The tests use it to see that `sbx run` fails closed when it cannot build the
 * sandbox's user or mount namespace.
 *   nounshare user|mount[,user|mount...] CMD [ARG...]
 * Exits 2 on bad usage, 1 when the filter cannot be installed, else execs CMD.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#else
#error "nounshare: unknown architecture"
#endif

static int parse(const char *list, unsigned *mask)
{
	char buf[128], *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", list);
	*mask = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "user") == 0)
			*mask |= CLONE_NEWUSER;
		else if (strcmp(tok, "mount") == 0)
			*mask |= CLONE_NEWNS;
		else
			return -EINVAL;
	}
	return *mask ? 0 : -EINVAL;
}

int main(int argc, char **argv)
{
	unsigned mask;

	if (argc < 3 || parse(argv[1], &mask)) {
		fprintf(stderr, "usage: nounshare user|mount[,...] CMD [ARG...]\n");
		return 2;
	}
	struct sock_filter insns[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 0, 4),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_unshare, 0, 2),
		/* the flags are an int: the low word of args[0] (little endian) */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, mask, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	};
	struct sock_fprog prog = { .len = sizeof(insns) / sizeof(insns[0]), .filter = insns };

	/* root may install it as is; no_new_privs only when we must (it would break sudo) */
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) && errno == EACCES &&
	    !prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
	if (prctl(PR_GET_SECCOMP) != 2) {
		fprintf(stderr, "nounshare: cannot install the filter: %s\n", strerror(errno));
		return 1;
	}
	execvp(argv[2], argv + 2);
	fprintf(stderr, "nounshare: cannot run %s: %s\n", argv[2], strerror(errno));
	return 127;
}
