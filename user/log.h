/* SPDX-License-Identifier: MIT */
/* Leveled logging to stderr; the level is checked before formatting. */
#ifndef SBX_USER_LOG_H
#define SBX_USER_LOG_H

#include <sbx/log.h>

/* Prefix lines with a timestamp (the daemon's log file) or not (the CLI). */
extern int sbx_log_timestamps;

void sbx_log_print(enum sbx_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Route libbpf's messages through ours, one level down. */
void sbx_log_libbpf(void);

#define pr_warn(...) sbx_log_print(SBX_LOG_WARN, __VA_ARGS__)
#define pr_info(...)                                                                     \
	do {                                                                             \
		if (sbx_log_level >= SBX_LOG_INFO)                                       \
			sbx_log_print(SBX_LOG_INFO, __VA_ARGS__);                        \
	} while (0)
#define pr_debug(...)                                                                    \
	do {                                                                             \
		if (sbx_log_level >= SBX_LOG_DEBUG)                                      \
			sbx_log_print(SBX_LOG_DEBUG, __VA_ARGS__);                       \
	} while (0)

#endif
