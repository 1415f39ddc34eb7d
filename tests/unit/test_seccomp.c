// SPDX-License-Identifier: MIT
/*
 * The seccomp filter of a sandboxed command (user/seccomp.c), for real: each test forks a
 * child that sets no_new_privs, installs the filter and makes system calls, reporting the
 * first surprise through its exit status (a killed child fails the test too). A refused call
 * that the filter might miss runs with harmless arguments, or under a second filter that
 * stops it (see child_listed_calls_refused). Creating a socket sends nothing. Needs no root;
 * as root a few more calls are checked.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <seccomp.h>

#include "sbx/seccomp.h"
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

#define MAN_PAGE "man/sbx-run.1" /* tests/run.sh runs us from the top of the tree */
#define NO_SUCH_PATH "/nonexistent-sbx-seccomp-test"
#define NO_SUCH_PID 0x3fffffff /* above any pid_max */
#define PERSONALITY_SAMPLES 4096

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

/* A raw call that failed with @err (the libc wrapper's -1 and errno). */
static int failed_with(long ret, int err)
{
	return ret == -1 && errno == err;
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
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || sbx_seccomp_install())
			_exit(99);
		_exit(fn());
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/*
 * Every call of the list, refused with EPERM. Some would do harm if the filter missed them
 * (kexec_load with no segments unloads the crash kernel, acct(NULL) stops accounting, as
 * root), so a second filter stacked on ours makes them all SECCOMP_RET_TRACE: with no tracer
 * the kernel fails such a call with ENOSYS without running it, and an ERRNO from our filter
 * takes precedence over it.
 */
static int child_listed_calls_refused(void)
{
	scmp_filter_ctx guard = seccomp_init(SCMP_ACT_ALLOW);
	const char *const *names;
	size_t n, checked = 0;

	names = sbx_seccomp_refused(&n);
	C_CHECK(guard);
	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);

		if (nr >= 0)
			C_CHECK(seccomp_rule_add(guard, SCMP_ACT_TRACE(0), nr, 0) == 0);
	}
	C_CHECK(seccomp_load(guard) == 0);
	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);

		if (nr < 0) /* not a call of this architecture */
			continue;
		errno = 0;
		if (!failed_with(syscall(nr, 0, 0, 0, 0, 0, 0), EPERM)) {
			fprintf(stderr, "  child: %s was not refused (%s)\n", names[i],
				strerror(errno));
			return 1;
		}
		checked++;
	}
	C_CHECK(checked >= 25);
	return 0;
}

/* The doors the issue names, called directly with arguments that would do nothing. */
static int child_kernel_doors_refused(void)
{
	C_CHECK(failed_with(syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, NULL, 0), EPERM));
	C_CHECK(failed_with(syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0), EPERM));
	C_CHECK(failed_with(syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0), EPERM));
	C_CHECK(failed_with(syscall(SYS_add_key, "user", "sbx", "x", 1, -3), EPERM));
	C_CHECK(failed_with(syscall(SYS_userfaultfd, 0), EPERM));
	return 0;
}

static void *thread_main(void *arg)
{
	return arg;
}

/* No new user namespace, by any call; other namespaces and mounts are the kernel's to judge. */
static int child_no_new_user_namespace(void)
{
	pthread_t thread;
	pid_t pid;
	long ret;
	int status;

	C_CHECK(failed_with(unshare(CLONE_NEWUSER), EPERM));
	C_CHECK(failed_with(unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET), EPERM));
	C_CHECK(unshare(0) == 0);
	ret = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
	if (ret == 0)
		_exit(0);
	C_CHECK(failed_with(ret, EPERM));
	/* clone3's flags are out of sight: ENOSYS, and libc falls back to clone */
	C_CHECK(failed_with(syscall(SYS_clone3, NULL, 0), ENOSYS));
	C_CHECK(pthread_create(&thread, NULL, thread_main, NULL) == 0);
	C_CHECK(pthread_join(thread, NULL) == 0);
	pid = fork();
	if (pid == 0)
		_exit(7);
	C_CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WEXITSTATUS(status) == 7);
	/* setns: nstype 0 could be anything; the kernel checks the descriptor after us */
	C_CHECK(failed_with(setns(-1, 0), EPERM));
	C_CHECK(failed_with(setns(-1, CLONE_NEWUSER), EPERM));
	C_CHECK(failed_with(setns(-1, CLONE_NEWUSER | CLONE_NEWNET), EPERM));
	C_CHECK(failed_with(setns(-1, CLONE_NEWNET), EBADF));
	return 0;
}

/* Mounts and ptrace reach the kernel, which confines them to the sandbox's namespaces. */
static int child_mount_and_ptrace_reach_the_kernel(void)
{
	C_CHECK(failed_with(mount(NULL, NO_SUCH_PATH, NULL, MS_PRIVATE, NULL), ENOENT));
	C_CHECK(failed_with(umount2(NO_SUCH_PATH, 0), ENOENT));
	C_CHECK(failed_with(ptrace(PTRACE_PEEKDATA, NO_SUCH_PID, NULL, NULL), ESRCH));
	if (geteuid() == 0) {
		C_CHECK(unshare(CLONE_NEWNS) == 0);
		C_CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
	}
	return 0;
}

static int personality_refused(unsigned long persona)
{
	errno = 0;
	return failed_with(syscall(SYS_personality, persona), EPERM);
}

/* Each value but PER_LINUX, PER_LINUX32 and the query; the first failure is named. */
static int check_personality(uint32_t v)
{
	if (v == PER_LINUX || v == PER_LINUX32 || v == 0xffffffffu || personality_refused(v))
		return 0;
	fprintf(stderr, "  child: personality(%#x) was not refused\n", (unsigned)v);
	return 1;
}

static int child_personality_linux_only(void)
{
	uint32_t v = 0x5b0;

	C_CHECK(personality(0xffffffff) != -1);
	C_CHECK(personality(PER_LINUX32) != -1);
	C_CHECK(personality(0xffffffff) == PER_LINUX32);
	C_CHECK(personality(PER_LINUX) == PER_LINUX32);
	C_CHECK(personality_refused(ADDR_NO_RANDOMIZE));
	C_CHECK(personality_refused(PER_LINUX32 | ADDR_NO_RANDOMIZE));
	C_CHECK(personality_refused(READ_IMPLIES_EXEC));
	C_CHECK(personality_refused(UNAME26));
	C_CHECK(personality_refused(0xfffffffe));
	C_CHECK(personality_refused(0x100000000UL));
	C_CHECK(personality_refused(0x100000008UL));
	for (unsigned int b = 0; b < 32; b++) {
		C_CHECK(!check_personality(1u << b));
		C_CHECK(!check_personality(~(1u << b)));
		C_CHECK(!check_personality((1u << b) | PER_LINUX32));
		/* a run of ones ending at bit 3, the rule set's one awkward case */
		C_CHECK(!check_personality(b < 4 ? 0xfu & ~((1u << b) - 1) : ~0u << b | 0xf));
	}
	for (int i = 0; i < PERSONALITY_SAMPLES; i++) {
		v = v * 1664525u + 1013904223u;
		C_CHECK(!check_personality(v));
		C_CHECK(!check_personality(v >> (i % 32)));
	}
	C_CHECK(personality(0xffffffff) == PER_LINUX);
	return 0;
}

static int child_families_refused(void)
{
	C_CHECK(refused(AF_VSOCK, SOCK_STREAM, 0));
	C_CHECK(refused(AF_VSOCK, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	C_CHECK(refused(AF_ALG, SOCK_SEQPACKET, 0));
	C_CHECK(refused(AF_PACKET, SOCK_RAW, 0));
	C_CHECK(refused(AF_PACKET, SOCK_DGRAM, 0));
	C_CHECK(refused(AF_XDP, SOCK_RAW, 0));
	C_CHECK(refused(AF_BLUETOOTH, SOCK_STREAM, 0));
	C_CHECK(refused(AF_TIPC, SOCK_RDM, 0));
	C_CHECK(refused(AF_KEY, SOCK_RAW, 2));
	C_CHECK(refused(AF_UNSPEC, SOCK_STREAM, 0));
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

/* Other system calls are left alone, and the process lives on to say so. */
static int child_other_calls_untouched(void)
{
	char buf[64];
	int fd;

	C_CHECK(getpid() > 0);
	C_CHECK(write(STDERR_FILENO, "", 0) == 0);
	fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	C_CHECK(fd >= 0);
	C_CHECK(read(fd, buf, sizeof(buf)) > 0);
	close(fd);
	return 0;
}

#ifdef __x86_64__
/* i386 numbers, for the same calls from a 32-bit program */
#define I386_PERSONALITY 136
#define I386_SOCKETCALL	 102
#define I386_UNSHARE	 310
#define I386_BPF	 357
#define I386_SOCKET	 359
#define I386_SOCKETPAIR	 360
#define I386_CLONE3	 435

/* An i386 system call from this 64-bit process (int 0x80): seccomp sees AUDIT_ARCH_I386. */
static long int80(long nr, long a, long b, long c)
{
	long ret;

	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
	return ret;
}

static int child_i386_calls_judged(void)
{
	int sv[2];

	C_CHECK(int80(I386_SOCKET, AF_VSOCK, SOCK_STREAM, 0) == -EPERM);
	C_CHECK(int80(I386_SOCKET, AF_NETLINK, SOCK_RAW, NETLINK_AUDIT) == -EPERM);
	C_CHECK(int80(I386_SOCKET, AF_INET, SOCK_STREAM, 0) >= 0);
	C_CHECK(int80(I386_SOCKET, AF_NETLINK, SOCK_RAW, NETLINK_ROUTE) >= 0);
	C_CHECK(int80(I386_SOCKETPAIR, AF_VSOCK, SOCK_STREAM, 0) == -EPERM);
	/* socketcall's arguments are out of seccomp's sight: socket and socketpair refused */
	C_CHECK(int80(I386_SOCKETCALL, 1 /* SYS_SOCKET */, 0, 0) == -EPERM);
	C_CHECK(int80(I386_SOCKETCALL, 8 /* SYS_SOCKETPAIR */, 0, 0) == -EPERM);
	/* its other calls reach the kernel (which finds no arguments) */
	C_CHECK(int80(I386_SOCKETCALL, 3 /* SYS_CONNECT */, 0, 0) == -EFAULT);
	C_CHECK(int80(I386_BPF, 0, 0, 0) == -EPERM);
	C_CHECK(int80(I386_UNSHARE, CLONE_NEWUSER, 0, 0) == -EPERM);
	C_CHECK(int80(I386_UNSHARE, 0, 0, 0) == 0);
	C_CHECK(int80(I386_CLONE3, 0, 0, 0) == -ENOSYS);
	C_CHECK(int80(I386_PERSONALITY, 0xffffffff, 0, 0) == PER_LINUX);
	C_CHECK(int80(I386_PERSONALITY, ADDR_NO_RANDOMIZE, 0, 0) == -EPERM);
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
		printf("SKIP seccomp.i386: this kernel runs no i386 system calls\n");
		return;
	}
	CHECK_INT(in_child(child_i386_calls_judged), 0);
}
#endif

static void test_listed_calls_refused(void)
{
	CHECK_INT(in_child(child_listed_calls_refused), 0);
}

static void test_kernel_doors_refused(void)
{
	CHECK_INT(in_child(child_kernel_doors_refused), 0);
}

static void test_no_new_user_namespace(void)
{
	CHECK_INT(in_child(child_no_new_user_namespace), 0);
}

static void test_mount_and_ptrace_reach_the_kernel(void)
{
	CHECK_INT(in_child(child_mount_and_ptrace_reach_the_kernel), 0);
}

static void test_personality_linux_only(void)
{
	CHECK_INT(in_child(child_personality_linux_only), 0);
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

static int name_char(char c)
{
	return c == '_' || isalnum((unsigned char)c);
}

/* @word in the roff @text, not as part of a longer name (a font switch may precede it). */
static int has_word(const char *text, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = strstr(text, word); p; p = strstr(p + 1, word)) {
		int bold = p - text >= 3 && !strncmp(p - 3, "\\fB", 3);

		if ((p == text || bold || !name_char(p[-1])) && !name_char(p[n]))
			return 1;
	}
	return 0;
}

/* The list names what the issue asks, libseccomp knows each name, and the man page too. */
static void test_refused_list(void)
{
	static const char *const musts[] = { "bpf", "perf_event_open", "keyctl", "add_key",
					     "userfaultfd", "kexec_load", "kexec_file_load",
					     "init_module", "finit_module" };
	static char man[1 << 17];
	const char *const *names;
	size_t n, len = 0, i, j;
	FILE *f = fopen(MAN_PAGE, "r");

	CHECK(f != NULL);
	if (f) {
		len = fread(man, 1, sizeof(man) - 1, f);
		fclose(f);
	}
	man[len] = '\0';
	names = sbx_seccomp_refused(&n);
	for (i = 0; i < sizeof(musts) / sizeof(musts[0]); i++) {
		for (j = 0; j < n && strcmp(names[j], musts[i]); j++)
			;
		CHECK_STR(j < n ? names[j] : "(missing)", musts[i]);
	}
	for (i = 0; i < n; i++) {
		CHECK(seccomp_syscall_resolve_name(names[i]) != __NR_SCMP_ERROR);
		if (!has_word(man, names[i])) {
			fprintf(stderr, "  %s does not name %s\n", MAN_PAGE, names[i]);
			test_failed = 1;
		}
	}
}

static const struct test tests[] = {
	T(test_listed_calls_refused),
	T(test_kernel_doors_refused),
	T(test_no_new_user_namespace),
	T(test_mount_and_ptrace_reach_the_kernel),
	T(test_personality_linux_only),
	T(test_other_families_refused),
	T(test_netlink_route_only),
	T(test_ordinary_sockets_work),
	T(test_other_calls_untouched),
#ifdef __x86_64__
	T(test_i386_calls_judged),
#endif
	T(test_refused_list),
};

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	return test_main("seccomp", tests, sizeof(tests) / sizeof(tests[0]));
}
