/* SPDX-License-Identifier: MIT */
/* File helpers the CLI shares with sbxd (the rest are in user/fsutil.h). */
#ifndef SBX_FSUTIL_H
#define SBX_FSUTIL_H

#include <stdbool.h>
#include <sys/types.h>

/* mkdir -p with @mode for the directories it creates. */
int sbx_mkdir_p(const char *path, mode_t mode);
/* @path is @dir or below it (both absolute and canonical; "/" holds everything). */
bool sbx_path_within(const char *path, const char *dir);

#endif
