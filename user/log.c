// SPDX-License-Identifier: MIT
/* Leveled logging; see log.h. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <bpf/libbpf.h>

#include "log.h"

enum sbx_log_level sbx_log_level = SBX_LOG_WARN;
int sbx_log_timestamps;

/* format attributes: clang checks that what reaches vfprintf is a format */
__attribute__((format(printf, 2, 0)))
static void vlog(enum sbx_log_level level, const char *fmt, va_list ap)
{
	static const char *const names[] = { "warn", "info", "debug" };

	if (level > sbx_log_level)
		return;
	if (sbx_log_timestamps) {
		char ts[32];
		time_t now = time(NULL);
		struct tm tm;

		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", localtime_r(&now, &tm));
		fprintf(stderr, "%s %s: ", ts, names[level]);
	}
	vfprintf(stderr, fmt, ap);
}

void sbx_log_print(enum sbx_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

/*
 * bpf_tc_hook_create() asks the kernel for a clsact qdisc exclusively (NLM_F_EXCL). On a
 * veth that already has one (every sandbox's, when a restarted sbxd re-applies its packet
 * filter) the kernel says EEXIST, which sbx takes as done, and libbpf prints the kernel's
 * extack text "Exclusivity flag on, cannot modify" on the way: nothing failed.
 */
static bool harmless(const char *fmt, va_list ap)
{
	static const char excl[] = "Exclusivity flag on";
	const char *msg;
	va_list copy;

	if (strcmp(fmt, "libbpf: Kernel error message: %s\n") != 0)
		return false;
	va_copy(copy, ap);
	msg = va_arg(copy, const char *);
	va_end(copy);
	return msg && strncmp(msg, excl, sizeof(excl) - 1) == 0;
}

__attribute__((format(printf, 2, 0)))
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* libbpf's warnings are our info, its info our debug */
	enum sbx_log_level ours = level == LIBBPF_WARN ? SBX_LOG_INFO : SBX_LOG_DEBUG;

	if (harmless(fmt, ap))
		return 0;
	vlog(ours, fmt, ap);
	return 0;
}

void sbx_log_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}
