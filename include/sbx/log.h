/* SPDX-License-Identifier: MIT */
/* The level of sbx's log (user/log.h prints it): the CLI's -v raises it for the library. */
#ifndef SBX_LOG_H
#define SBX_LOG_H

enum sbx_log_level { SBX_LOG_WARN, SBX_LOG_INFO, SBX_LOG_DEBUG };

extern enum sbx_log_level sbx_log_level;

#endif
