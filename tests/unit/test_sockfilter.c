// SPDX-License-Identifier: MIT
/*
 * The seccomp filter on socket families (user/sockfilter.c), for real: each test forks a
 * child that sets no_new_privs, installs the filter and tries socket() calls, reporting the
 * first surprise through its exit status. Creating a socket sends nothing, and no socket is
 * connected anywhere. Needs no root.
 */
#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/netlink.h>

#include "sbx/sockfilter.h"
#include "test.h"

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef AF_ALG
#define AF_ALG 38
#endif
#ifndef AF_XDP
#define AF_XDP 44
#endif

static int refused(int family, int type, int protocol)
{
	errno = 0;
	return socket(family, type, protocol) < 0 && errno == EPERM;
}

static int works(int family, int type, int protocol)
{
	int fd = socket(family, type, protocol);

	if (fd >= 0)
		close(fd);
	return fd >= 0;
}

static int in_child(int (*fn)(void))
{
	int status = 0;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		alarm(10);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || sbx_sockfilter_install())
			_exit(99);
		_exit(fn());
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static int child_families_refused(void)
{
	C_CHECK(refused(AF_VSOCK, SOCK_STREAM, 0));
	C_CHECK(refused(AF_VSOCK, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	C_CHECK(refused(AF_ALG, SOCK_SEQPACKET, 0));
	C_CHECK(refused(AF_PACKET, SOCK_RAW, 0));
	C_CHECK(refused(AF_XDP, SOCK_RAW, 0));
	C_CHECK(refused(AF_BLUETOOTH, SOCK_STREAM, 0));
	C_CHECK(refused(AF_TIPC, SOCK_RDM, 0));
	C_CHECK(refused(AF_KEY, SOCK_RAW, 2));
	C_CHECK(refused(255, SOCK_STREAM, 0));
	/* a family number with high bits set must not look like an allowed one */
	C_CHECK(syscall(SYS_socket, 0x100000000L | AF_VSOCK, SOCK_STREAM, 0) < 0 && errno == EPERM);
	return 0;
}

static int child_netlink_route_only(void)
{
	C_CHECK(works(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE));
	C_CHECK(works(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_ROUTE));
	C_CHECK(refused(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT));
	C_CHECK(refused(AF_NETLINK, SOCK_RAW, NETLINK_KOBJECT_UEVENT));
	C_CHECK(refused(AF_NETLINK, SOCK_RAW, NETLINK_SOCK_DIAG));
	C_CHECK(refused(AF_NETLINK, SOCK_RAW, NETLINK_XFRM));
	C_CHECK(refused(AF_NETLINK, SOCK_RAW, NETLINK_GENERIC));
	C_CHECK(refused(AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER));
	return 0;
}

static int child_ordinary_sockets_work(void)
{
	int sv[2];

	C_CHECK(works(AF_UNIX, SOCK_STREAM, 0));
	C_CHECK(works(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0));
	C_CHECK(works(AF_INET, SOCK_STREAM, 0));
	C_CHECK(works(AF_INET, SOCK_DGRAM, 0));
	C_CHECK(works(AF_INET6, SOCK_STREAM, 0));
	C_CHECK(works(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	C_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	close(sv[0]);
	close(sv[1]);
	C_CHECK(socketpair(AF_VSOCK, SOCK_STREAM, 0, sv) < 0 && errno == EPERM);
	return 0;
}

#ifdef __x86_64__
/* An i386 system call from this 64-bit process (int 0x80): seccomp sees AUDIT_ARCH_I386. */
static long int80(long nr, long a, long b, long c)
{
	long ret;

	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
	return ret;
}

/* The i386 doors to socket(): socket (359), socketpair (360), socketcall (102). */
static int child_i386_calls_judged(void)
{
	int sv[2];

	C_CHECK(int80(359, AF_VSOCK, SOCK_STREAM, 0) == -EPERM);
	C_CHECK(int80(359, AF_NETLINK, SOCK_RAW, NETLINK_AUDIT) == -EPERM);
	C_CHECK(int80(359, AF_INET, SOCK_STREAM, 0) >= 0);
	C_CHECK(int80(359, AF_NETLINK, SOCK_RAW, NETLINK_ROUTE) >= 0);
	C_CHECK(int80(360, AF_VSOCK, SOCK_STREAM, 0) == -EPERM);
	/* socketcall's arguments are out of seccomp's sight: socket and socketpair refused */
	C_CHECK(int80(102, 1 /* SYS_SOCKET */, 0, 0) == -EPERM);
	C_CHECK(int80(102, 8 /* SYS_SOCKETPAIR */, 0, 0) == -EPERM);
	C_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	return 0;
}

/* getpid over int 0x80 (i386 number 20): whether this kernel runs i386 calls at all. */
static int has_i386_calls(void)
{
	int status = 0;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL); /* what int 0x80 gets without them: die quietly */
		_exit(int80(20, 0, 0, 0) == getpid() ? 0 : 1);
	}
	return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	       WEXITSTATUS(status) == 0;
}

static void test_i386_calls_judged(void)
{
	if (!has_i386_calls()) {
		printf("SKIP sockfilter.i386: this kernel runs no i386 system calls\n");
		return;
	}
	CHECK_INT(in_child(child_i386_calls_judged), 0);
}
#endif

/* Other system calls are left alone. */
static int child_other_calls_untouched(void)
{
	C_CHECK(getpid() > 0);
	C_CHECK(write(STDERR_FILENO, "", 0) == 0);
	return 0;
}

static void test_other_families_refused(void)
{
	CHECK_INT(in_child(child_families_refused), 0);
}

static void test_netlink_route_only(void)
{
	CHECK_INT(in_child(child_netlink_route_only), 0);
}

static void test_ordinary_sockets_work(void)
{
	CHECK_INT(in_child(child_ordinary_sockets_work), 0);
}

static void test_other_calls_untouched(void)
{
	CHECK_INT(in_child(child_other_calls_untouched), 0);
}

static void test_program_fits(void)
{
	struct sock_filter ins[SBX_SOCKFILTER_MAX];
	int n = sbx_sockfilter_build(ins, SBX_SOCKFILTER_MAX);

	CHECK(n > 10 && n <= SBX_SOCKFILTER_MAX);
	CHECK_INT(sbx_sockfilter_build(ins, 5), -ENOSPC);
	/* the last two instructions are the two exits */
	CHECK_INT(ins[n - 1].code, BPF_RET | BPF_K);
	CHECK_INT(ins[n - 2].code, BPF_RET | BPF_K);
}

static const struct test tests[] = {
	T(test_other_families_refused),
	T(test_netlink_route_only),
	T(test_ordinary_sockets_work),
	T(test_other_calls_untouched),
#ifdef __x86_64__
	T(test_i386_calls_judged),
#endif
	T(test_program_fits),
};

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	return test_main("sockfilter", tests, sizeof(tests) / sizeof(tests[0]));
}
