// SPDX-License-Identifier: MIT
/*
 * seccomp: the system call filter of a sandboxed command, built with libseccomp; what it
 * refuses and why is in include/sbx/seccomp.h and man/sbx-run.1 ("System calls").
 *
 * Allowed on purpose: mount, umount2, pivot_root, move_mount, fsopen, fsmount, open_tree,
 * mount_setattr and ptrace. The command runs in namespaces of its own (user, mount, pid), so
 * the kernel lets a mount reach only the sandbox's mount namespace and ptrace only processes
 * the sandbox may already control; refusing them would break programs (bubblewrap, debuggers)
 * and shut no door. Anything beyond needs a capability in the host's user namespace, which
 * the command does not hold.
 */
/* libseccomp's SCMP_A0(op, value) leaves datum_b to the compiler: clang warns on each use */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <linux/net.h>
#include <seccomp.h>

#include "sbx/bpf_abi.h"
#include "sbx/seccomp.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define REFUSE SCMP_ACT_ERRNO(EPERM)
#define PERSONALITY_QUERY 0xffffffffULL

/* Refused whatever their arguments; man/sbx-run.1 lists them (tests/unit/test_seccomp.c checks). */
static const char *const refused[] = {
	/* BPF programs, perf events, keyrings, userfaultfd: doors into the kernel's hard parts */
	"bpf", "perf_event_open", "keyctl", "add_key", "request_key", "userfaultfd",
	/* another kernel, kernel modules */
	"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
	/* the host's files by handle, I/O ports, swap, power, accounting, quotas, clock, log */
	"open_by_handle_at", "iopl", "ioperm", "swapon", "swapoff", "reboot", "acct", "quotactl",
	"quotactl_fd", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "syslog",
	/* terminals, and calls the kernel keeps only for old programs */
	"vhangup", "lookup_dcookie", "nfsservctl", "uselib",
};

/*
 * System calls from the architectures the native one also runs: without them a 32-bit
 * program would reach the kernel unfiltered (libseccomp kills a call from an architecture
 * the filter does not know; none is left on these).
 */
static const uint32_t compat_arches[] = {
#if defined(__x86_64__)
	SCMP_ARCH_X86, SCMP_ARCH_X32,
#elif defined(__aarch64__)
	SCMP_ARCH_ARM,
#endif
	0,
};

const char *const *sbx_seccomp_refused(size_t *n)
{
	*n = ARRAY_SIZE(refused);
	return refused;
}

static int add_arches(scmp_filter_ctx ctx)
{
	for (size_t i = 0; compat_arches[i]; i++) {
		int err = seccomp_arch_add(ctx, compat_arches[i]);

		if (err && err != -EEXIST)
			return err;
	}
	return 0;
}

static int refuse_outright(scmp_filter_ctx ctx)
{
	for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
		int nr = seccomp_syscall_resolve_name(refused[i]);
		int err;

		/* a libseccomp older than the list: refuse to run the command unfiltered */
		if (nr == __NR_SCMP_ERROR)
			return -ENOSYS;
		err = seccomp_rule_add(ctx, REFUSE, nr, 0);
		if (err)
			return err;
	}
	return 0;
}

/* One comparison of argument @i: its bits under @mask equal @bits. */
#define MASKED(i, mask, bits) \
	{ .arg = (i), .op = SCMP_CMP_MASKED_EQ, .datum_a = (mask), .datum_b = (bits) }
#define EQ(i, v) { .arg = (i), .op = SCMP_CMP_EQ, .datum_a = (v) }

struct rule {
	int nr;
	uint32_t action;
	unsigned int n; /* comparisons, all of which must hold */
	struct scmp_arg_cmp cmp[1];
};

/*
 * No new user namespace: its capabilities open kernel code (netfilter, mounts of other
 * filesystems...) that the sandbox's own namespace keeps shut. clone3 takes its flags behind a
 * pointer, so it fails with ENOSYS and libcs fall back to clone, whose flags are seen. setns
 * with nstype 0 joins whatever namespace the descriptor is, so it is refused too; a named
 * nstype other than CLONE_NEWUSER still works.
 * i386's socketcall(call, args) hides a socket's family behind args: no socket made through it.
 */
static const struct rule rules[] = {
	{ SCMP_SYS(clone3), SCMP_ACT_ERRNO(ENOSYS), 0, {} },
	{ SCMP_SYS(clone), REFUSE, 1, { MASKED(0, CLONE_NEWUSER, CLONE_NEWUSER) } },
	{ SCMP_SYS(unshare), REFUSE, 1, { MASKED(0, CLONE_NEWUSER, CLONE_NEWUSER) } },
	{ SCMP_SYS(setns), REFUSE, 1, { MASKED(1, CLONE_NEWUSER, CLONE_NEWUSER) } },
	{ SCMP_SYS(setns), REFUSE, 1, { EQ(1, 0) } },
	{ SCMP_SYS(socketcall), REFUSE, 1, { EQ(0, SYS_SOCKET) } },
	{ SCMP_SYS(socketcall), REFUSE, 1, { EQ(0, SYS_SOCKETPAIR) } },
};

static int add_rules(scmp_filter_ctx ctx)
{
	for (size_t i = 0; i < ARRAY_SIZE(rules); i++) {
		const struct rule *r = &rules[i];
		int err = seccomp_rule_add_array(ctx, r->action, r->nr, r->n, r->cmp);

		if (err)
			return err;
	}
	return 0;
}

/*
 * personality() only as PER_LINUX (0), PER_LINUX32 (8) or the 0xffffffff query: its flags
 * turn off address randomization or make data executable. A rule compares one argument once,
 * so "anything else" is written as a union: every 32-bit value but 0 and 0xffffffff has a set
 * bit i followed (cyclically) by a clear bit i+1, one masked rule each. The pair (3, 4) would
 * match 8 itself; the other values whose only such pair is (3, 4) are runs of ones ending at
 * bit 3 longer than one bit, so they have bit 2 set and bit 4 clear: the pair (2, 4) instead.
 * The upper 32 bits, which the kernel ignores, must be clear.
 */
static int refuse_personalities(scmp_filter_ctx ctx)
{
	int nr = SCMP_SYS(personality);
	int err = seccomp_rule_add(ctx, REFUSE, nr, 1, SCMP_A0(SCMP_CMP_GT, PERSONALITY_QUERY));

	for (unsigned int i = 0; i < 32 && !err; i++) {
		uint64_t set = 1ULL << (i == 3 ? 2 : i), clear = 1ULL << (i == 3 ? 4 : (i + 1) % 32);

		err = seccomp_rule_add(ctx, REFUSE, nr, 1,
				       SCMP_A0(SCMP_CMP_MASKED_EQ, set | clear, set));
	}
	return err;
}

static int family_allowed(unsigned int family)
{
	return family == SBX_AF_UNIX || family == SBX_AF_INET || family == SBX_AF_INET6;
}

/*
 * socket() or socketpair() (@nr) of a family a sandbox never needs: any number above
 * AF_NETLINK, each one below it but AF_UNIX, AF_INET and AF_INET6, and AF_NETLINK with a
 * protocol other than NETLINK_ROUTE. Compared on 64 bits, so a family with stray upper bits
 * is refused too, though the kernel would read only the lower 32.
 */
static int refuse_families(scmp_filter_ctx ctx, int nr)
{
	int err = seccomp_rule_add(ctx, REFUSE, nr, 1, SCMP_A0(SCMP_CMP_GT, SBX_AF_NETLINK));

	for (unsigned int family = 0; family < SBX_AF_NETLINK && !err; family++)
		if (!family_allowed(family))
			err = seccomp_rule_add(ctx, REFUSE, nr, 1, SCMP_A0(SCMP_CMP_EQ, family));
	if (err)
		return err;
	return seccomp_rule_add(ctx, REFUSE, nr, 2, SCMP_A0(SCMP_CMP_EQ, SBX_AF_NETLINK),
				SCMP_A2(SCMP_CMP_NE, SBX_NETLINK_ROUTE));
}

static int build(scmp_filter_ctx ctx)
{
	int err;

	/* the kernel's own errno from seccomp_load, not -ECANCELED */
	err = seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1);
	if (err)
		return err;
	/* a binary search over the call numbers: every call of the command runs this */
	err = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (err)
		return err;
	err = add_arches(ctx);
	if (!err)
		err = refuse_outright(ctx);
	if (!err)
		err = add_rules(ctx);
	if (!err)
		err = refuse_personalities(ctx);
	if (!err)
		err = refuse_families(ctx, SCMP_SYS(socket));
	if (!err)
		err = refuse_families(ctx, SCMP_SYS(socketpair));
	return err;
}

int sbx_seccomp_install(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int err;

	if (!ctx)
		return -ENOMEM;
	err = build(ctx);
	if (!err)
		err = seccomp_load(ctx);
	seccomp_release(ctx);
	return err;
}
