// SPDX-License-Identifier: MIT
/*
 * nounshare: run a command under a seccomp filter that makes unshare(2) or setns(2) fail with
 * EPERM when it asks for any of the given namespaces, the way a container runtime's profile or
 * an LSM refuses them. The tests use it to see that `sbx run` and `sbx exec` fail closed when
 * they cannot join a sandbox's namespaces.
 *   nounshare NS[,NS...] CMD [ARG...]
 * NS: user or mount (unshare), setns-user, setns-mount or setns-pid (setns).
 * Exits 2 on bad usage, 1 when the filter cannot be installed, else execs CMD.
 */
#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const struct {
	const char *name;
	int sys;
	unsigned flag;
} known[] = {
	{ "user", SCMP_SYS(unshare), CLONE_NEWUSER },
	{ "mount", SCMP_SYS(unshare), CLONE_NEWNS },
	{ "setns-user", SCMP_SYS(setns), CLONE_NEWUSER },
	{ "setns-mount", SCMP_SYS(setns), CLONE_NEWNS },
	{ "setns-pid", SCMP_SYS(setns), CLONE_NEWPID },
};

/* One rule per namespace: EPERM when its flag is in the call's flags. */
static int add(scmp_filter_ctx ctx, const char *tok)
{
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (strcmp(tok, known[i].name))
			continue;
		/* unshare's flags are its first argument, setns's its second */
		struct scmp_arg_cmp cmp = known[i].sys == SCMP_SYS(unshare) ?
			SCMP_A0(SCMP_CMP_MASKED_EQ, known[i].flag, known[i].flag) :
			SCMP_A1(SCMP_CMP_MASKED_EQ, known[i].flag, known[i].flag);

		return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), known[i].sys, 1, cmp);
	}
	return -EINVAL;
}

int main(int argc, char **argv)
{
	char buf[128], *tok, *save = NULL;
	scmp_filter_ctx ctx;
	int ret = -EINVAL;

	if (argc < 3) {
		fprintf(stderr, "usage: nounshare user|mount|setns-user|setns-mount|setns-pid[,...] "
				"CMD [ARG...]\n");
		return 2;
	}
	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx) {
		fprintf(stderr, "nounshare: cannot make a seccomp filter\n");
		return 1;
	}
	/* root may install it as is; no_new_privs would break sudo */
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	snprintf(buf, sizeof(buf), "%s", argv[1]);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		ret = add(ctx, tok);
		if (ret)
			break;
	}
	if (ret == -EINVAL) {
		fprintf(stderr, "nounshare: unknown namespace '%s' (user, mount, setns-user, "
				"setns-mount, setns-pid)\n", tok ? tok : argv[1]);
		seccomp_release(ctx);
		return 2;
	}
	if (!ret)
		ret = seccomp_load(ctx);
	seccomp_release(ctx);
	if (ret) {
		fprintf(stderr, "nounshare: cannot install the filter: %s\n", strerror(-ret));
		return 1;
	}
	execvp(argv[2], argv + 2);
	fprintf(stderr, "nounshare: cannot run %s: %s\n", argv[2], strerror(errno));
	return 127;
}
