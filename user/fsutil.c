// SPDX-License-Identifier: MIT
/* File helpers shared by the store and the daemon; see fsutil.h. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "fsutil.h"

size_t sbx_write_crash_after;

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		size_t chunk = len;
		ssize_t n;

		if (sbx_write_crash_after && chunk > sbx_write_crash_after)
			chunk = sbx_write_crash_after;
		n = write(fd, p, chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
		if (sbx_write_crash_after)
			_exit(99);
	}
	return 0;
}

static int fsync_dir(const char *path)
{
	char buf[PATH_MAX];
	int fd, err = 0;

	snprintf(buf, sizeof(buf), "%s", path);
	fd = open(dirname(buf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd))
		err = -errno;
	close(fd);
	return err;
}

int sbx_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[PATH_MAX], buf[PATH_MAX];
	int fd, err;

	snprintf(buf, sizeof(buf), "%s", path);
	if (snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dirname(buf), basename((char *)path)) >=
	    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	err = write_all(fd, data, len);
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err) {
		unlink(tmp);
		return err;
	}
	return fsync_dir(path);
}

int sbx_read_file(const char *path, size_t max, char **out, size_t *len)
{
	char *buf = NULL;
	size_t used = 0, cap = 0;
	int fd, err = 0;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n;

		if (used + 1 >= cap) {
			char *tmp;

			cap = cap ? cap * 2 : 4096;
			if (cap > max + 1)
				cap = max + 1;
			if (used + 1 >= cap) {
				err = -EFBIG;
				break;
			}
			tmp = realloc(buf, cap);
			if (!tmp) {
				err = -ENOMEM;
				break;
			}
			buf = tmp;
		}
		n = read(fd, buf + used, cap - used - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			break;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	close(fd);
	if (err) {
		free(buf);
		return err;
	}
	if (!buf && !(buf = malloc(1)))
		return -ENOMEM;
	buf[used] = '\0';
	*out = buf;
	if (len)
		*len = used;
	return 0;
}

int sbx_mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;

			*p = '\0';
			if (mkdir(buf, mode) && errno != EEXIST)
				return -errno;
			if (c == '\0')
				break;
			*p = c;
		}
	}
	return 0;
}

bool sbx_path_within(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (n == 1 && dir[0] == '/')
		return path[0] == '/';
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

int sbx_write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;
	size_t n = strlen(s);

	if (fd < 0)
		return -errno;
	if (write(fd, s, n) != (ssize_t)n)
		err = -errno;
	close(fd);
	return err;
}

bool sbx_is_fs(const char *path, long magic)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == magic;
}
