/* SPDX-License-Identifier: MIT */
/* Small file helpers: durable atomic replace, whole-file reads, directories. */
#ifndef SBX_USER_FSUTIL_H
#define SBX_USER_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sbx/fsutil.h>

/*
 * Replace @path with @data so that a crash at any point leaves either the
 * old or the new content: write a temp file, fsync, rename, fsync the dir.
 */
int sbx_write_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* Tests only: when > 0, the writer exits after this many bytes (a crash). */
extern size_t sbx_write_crash_after;

/* Read a whole file (at most @max bytes) into a NUL-terminated malloc'd buffer. */
int sbx_read_file(const char *path, size_t max, char **out, size_t *len);
/* Write @s to an existing file (procfs, sysfs, cgroupfs) in one write(). */
int sbx_write_str(const char *path, const char *s);
/* Is @path on a filesystem of type @magic (statfs f_type)? */
bool sbx_is_fs(const char *path, long magic);

#endif
