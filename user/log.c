// SPDX-License-Identifier: MIT
/* Leveled logging; see log.h. */
#include <stdarg.h>
#include <stdio.h>
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

__attribute__((format(printf, 2, 0)))
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* libbpf's warnings are our info, its info our debug */
	enum sbx_log_level ours = level == LIBBPF_WARN ? SBX_LOG_INFO : SBX_LOG_DEBUG;

	vlog(ours, fmt, ap);
	return 0;
}

void sbx_log_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}
