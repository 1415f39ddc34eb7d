// SPDX-License-Identifier: MIT
/*
 * sockfilter: the seccomp filter on socket families; see include/sbx/sockfilter.h.
 *
 * Classic BPF jumps only forward: the i386 checks come before the family checks they share.
 * The program, for the native architecture (and, on x86-64, for i386 and x32 system calls,
 * which reach the same kernel through other numbers):
 *   socket / socketpair: family AF_UNIX, AF_INET, AF_INET6 -> allow;
 *                        AF_NETLINK with protocol NETLINK_ROUTE -> allow; else EPERM
 *   i386 socketcall(SYS_SOCKET | SYS_SOCKETPAIR): its arguments are behind a pointer that
 *                        seccomp cannot read -> EPERM (i386 libcs since 2016 use socket())
 *   anything else -> allow
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <endian.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "sbx/bpf_abi.h"
#include "sbx/sockfilter.h"

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#elif defined(__i386__)
#define NATIVE_ARCH AUDIT_ARCH_I386
#else
#error "sockfilter: add this architecture's AUDIT_ARCH_*"
#endif

/* i386 numbers, for 32-bit programs on x86-64 */
#define I386_SOCKETCALL	  102
#define I386_SOCKET	  359
#define I386_SOCKETPAIR	  360
#define SYS_SOCKET_	  1 /* socketcall's call numbers */
#define SYS_SOCKETPAIR_	  8
#define X32_SYSCALL_BIT	  0x40000000u

/* The low 32 bits of argument i (socket()'s arguments are ints). */
#if __BYTE_ORDER == __LITTLE_ENDIAN
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i))
#else
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i) + 4)
#endif

enum label { L_NONE, L_ALLOW, L_DENY, L_FAMILY, L_NETLINK, L_I386, L_SOCKETCALL, L__MAX };

struct prog {
	struct sock_filter *ins;
	size_t n, max;
	uint8_t jt[SBX_SOCKFILTER_MAX], jf[SBX_SOCKFILTER_MAX]; /* labels to resolve */
	size_t at[L__MAX];
	bool overflow;
};

static void emit(struct prog *p, uint16_t code, uint32_t k, enum label jt, enum label jf)
{
	if (p->n >= p->max || p->n >= SBX_SOCKFILTER_MAX) {
		p->overflow = true;
		return;
	}
	p->ins[p->n] = (struct sock_filter)BPF_STMT(code, k);
	p->jt[p->n] = (uint8_t)jt;
	p->jf[p->n] = (uint8_t)jf;
	p->n++;
}

static void label(struct prog *p, enum label l)
{
	p->at[l] = p->n;
}

/* Label @l as a jump offset from instruction @i; jumps are forward and near. */
static int offset(const struct prog *p, size_t i, uint8_t l, uint8_t *off)
{
	size_t t;

	if (!l)
		return 0;
	t = p->at[l];
	if (t <= i || t - i - 1 > 255)
		return -EINVAL;
	*off = (uint8_t)(t - i - 1);
	return 0;
}

static int resolve(struct prog *p)
{
	for (size_t i = 0; i < p->n; i++)
		if (offset(p, i, p->jt[i], &p->ins[i].jt) || offset(p, i, p->jf[i], &p->ins[i].jf))
			return -EINVAL;
	return 0;
}

static void jeq(struct prog *p, uint32_t k, enum label jt, enum label jf)
{
	emit(p, BPF_JMP | BPF_JEQ | BPF_K, k, jt, jf);
}

int sbx_sockfilter_build(struct sock_filter *ins, size_t max)
{
	struct prog p = { .ins = ins, .max = max };
	int err;

	emit(&p, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch), 0, 0);
#ifdef __x86_64__
	jeq(&p, AUDIT_ARCH_I386, L_I386, L_NONE);
#endif
	jeq(&p, NATIVE_ARCH, L_NONE, L_ALLOW);
	emit(&p, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr), 0, 0);
	jeq(&p, SYS_socket, L_FAMILY, L_NONE);
	jeq(&p, SYS_socketpair, L_FAMILY, L_NONE);
#ifdef __x86_64__
	jeq(&p, X32_SYSCALL_BIT | SYS_socket, L_FAMILY, L_NONE);
	jeq(&p, X32_SYSCALL_BIT | SYS_socketpair, L_FAMILY, L_NONE);
#endif
	emit(&p, BPF_RET | BPF_K, SECCOMP_RET_ALLOW, 0, 0);

#ifdef __x86_64__
	label(&p, L_I386);
	emit(&p, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr), 0, 0);
	jeq(&p, I386_SOCKET, L_FAMILY, L_NONE);
	jeq(&p, I386_SOCKETPAIR, L_FAMILY, L_NONE);
	jeq(&p, I386_SOCKETCALL, L_SOCKETCALL, L_ALLOW);
	label(&p, L_SOCKETCALL);
	/* socketcall(call, args): the call number is the first argument */
	emit(&p, BPF_LD | BPF_W | BPF_ABS, ARG_LO(0), 0, 0);
	jeq(&p, SYS_SOCKET_, L_DENY, L_NONE);
	jeq(&p, SYS_SOCKETPAIR_, L_DENY, L_ALLOW);
#endif

	label(&p, L_FAMILY);
	emit(&p, BPF_LD | BPF_W | BPF_ABS, ARG_LO(0), 0, 0);
	jeq(&p, SBX_AF_UNIX, L_ALLOW, L_NONE);
	jeq(&p, SBX_AF_INET, L_ALLOW, L_NONE);
	jeq(&p, SBX_AF_INET6, L_ALLOW, L_NONE);
	jeq(&p, SBX_AF_NETLINK, L_NETLINK, L_DENY);
	label(&p, L_NETLINK);
	emit(&p, BPF_LD | BPF_W | BPF_ABS, ARG_LO(2), 0, 0);
	jeq(&p, SBX_NETLINK_ROUTE, L_ALLOW, L_DENY);

	label(&p, L_DENY);
	emit(&p, BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA), 0, 0);
	label(&p, L_ALLOW);
	emit(&p, BPF_RET | BPF_K, SECCOMP_RET_ALLOW, 0, 0);

	if (p.overflow)
		return -ENOSPC;
	err = resolve(&p);
	return err ? err : (int)p.n;
}

int sbx_sockfilter_install(void)
{
	struct sock_filter ins[SBX_SOCKFILTER_MAX];
	struct sock_fprog fprog;
	int n = sbx_sockfilter_build(ins, SBX_SOCKFILTER_MAX);

	if (n < 0)
		return n;
	fprog.len = (unsigned short)n;
	fprog.filter = ins;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog))
		return -errno;
	return 0;
}
