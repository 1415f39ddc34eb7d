// SPDX-License-Identifier: MIT
/* Control-socket plumbing shared by sbxd and the CLI; see ctl.h. */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "ev.h"

static int sun_fill(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	strcpy(sun->sun_path, path);
	return 0;
}

int sbx_ctl_listen(const char *path, gid_t gid, int *fd_out)
{
	struct sockaddr_un sun;
	int fd, err = sun_fill(&sun, path);

	if (err)
		return err;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* the caller holds the instance lock, so a socket file left here is stale */
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) || listen(fd, 64))
		goto fail;
	if (chmod(path, gid == (gid_t)-1 ? 0600 : 0660))
		goto fail;
	if (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid))
		goto fail;
	*fd_out = fd;
	return 0;
fail:
	err = -errno;
	close(fd);
	return err;
}

#define GROUPS_MAX 65536 /* NGROUPS_MAX: getgrouplist never needs more */

int sbx_ctl_peer_cred(int fd, struct ucred *out)
{
	socklen_t len = sizeof(*out);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, out, &len))
		return -errno;
	return 0;
}

int sbx_ctl_peer_pidfd(int fd)
{
	int pidfd = -1;
	socklen_t len = sizeof(pidfd);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len))
		return -errno;
	return pidfd;
}

bool sbx_pidfd_alive(int pidfd)
{
	/* EPERM: it exists, we may just not signal it */
	return syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) == 0 || errno != ESRCH;
}

int sbx_ctl_in_group(uid_t uid, gid_t pgid, gid_t gid)
{
	struct passwd pw, *res = NULL;
	gid_t *groups = NULL;
	char buf[4096];
	int n = 64, ret;

	if (gid == (gid_t)-1)
		return 0;
	if (pgid == gid)
		return 1;
	/* NSS opens files: under EMFILE this fails, and that is an error, never a "no" */
	errno = 0;
	ret = getpwuid_r(uid, &pw, buf, sizeof(buf), &res);
	if (ret)
		return -ret;
	if (!res)
		return errno == EMFILE || errno == ENFILE ? -errno : 0;
	for (;;) {
		gid_t *tmp = realloc(groups, (size_t)n * sizeof(*groups));
		int want = n;

		if (!tmp) {
			ret = -ENOMEM;
			break;
		}
		groups = tmp;
		errno = 0;
		if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &want) >= 0) {
			ret = 0;
			for (int i = 0; i < want && !ret; i++)
				ret = groups[i] == gid;
			if (!ret && (errno == EMFILE || errno == ENFILE))
				ret = -errno;
			break;
		}
		if (want <= n || want > GROUPS_MAX) {
			ret = errno ? -errno : -EINVAL;
			break;
		}
		n = want;
	}
	free(groups);
	return ret;
}

int sbx_ctl_connect(const char *path, int *fd_out)
{
	struct sockaddr_un sun;
	int fd, err = sun_fill(&sun, path);

	if (err)
		return err;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		err = -errno;
		close(fd);
		return err;
	}
	*fd_out = fd;
	return 0;
}

static int wait_fd(int fd, short events, uint64_t deadline)
{
	for (;;) {
		uint64_t now = sbx_ev_now_ms();
		struct pollfd p = { .fd = fd, .events = events };
		int n;

		if (now >= deadline)
			return -ETIMEDOUT;
		n = poll(&p, 1, (int)(deadline - now));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n > 0)
			return 0;
	}
}

int sbx_ctl_call(int fd, const cJSON *req, cJSON **reply, int timeout_ms)
{
	uint64_t deadline = sbx_ev_now_ms() + (uint64_t)timeout_ms;
	char *out = cJSON_PrintUnformatted(req), *buf = NULL;
	size_t len, off = 0, used = 0, cap = 0;
	int err = 0, send_err = 0;

	*reply = NULL;
	if (!out)
		return -ENOMEM;
	len = strlen(out);
	out[len++] = '\n'; /* cJSON's buffer has room: it held the NUL */
	while (off < len) {
		ssize_t n = send(fd, out + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			/* a refusal arrives before we finish asking: read it below */
			send_err = -errno;
			break;
		}
		off += (size_t)n;
	}
	for (;;) {
		ssize_t n;

		if (used + 1 >= cap) {
			char *tmp;

			cap = cap ? cap * 2 : 65536;
			if (cap > SBX_CTL_REPLY_MAX) {
				err = -EMSGSIZE;
				goto out;
			}
			tmp = realloc(buf, cap);
			if (!tmp) {
				err = -ENOMEM;
				goto out;
			}
			buf = tmp;
		}
		err = wait_fd(fd, POLLIN, deadline);
		if (err)
			goto out;
		n = recv(fd, buf + used, cap - used - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			goto out;
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (buf[used - 1] == '\n')
			break;
	}
	if (!used) {
		err = send_err ? send_err : -ECONNRESET;
		goto out;
	}
	buf[used] = '\0';
	*reply = cJSON_Parse(buf);
	if (!cJSON_IsObject(*reply)) {
		cJSON_Delete(*reply);
		*reply = NULL;
		err = -EPROTO;
	}
out:
	free(buf);
	free(out);
	return err;
}

int sbx_ctl_request_parse(const char *line, struct sbx_ctl_request *req, const char **why)
{
	cJSON *root = cJSON_Parse(line);
	const cJSON *op = cJSON_GetObjectItemCaseSensitive(root, "op");
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(root, "args");

	memset(req, 0, sizeof(*req));
	if (!cJSON_IsObject(root) || !cJSON_IsString(op)) {
		*why = "malformed request";
		goto bad;
	}
	if (args && !cJSON_IsObject(args)) {
		*why = "\"args\" must be an object";
		goto bad;
	}
	req->root = root;
	req->op = op->valuestring;
	req->args = args;
	return 0;
bad:
	cJSON_Delete(root);
	return -EINVAL;
}

void sbx_ctl_request_free(struct sbx_ctl_request *req)
{
	cJSON_Delete(req->root);
	memset(req, 0, sizeof(*req));
}

const char *sbx_json_str(const cJSON *j, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *sbx_json_arg(const cJSON *args, const char *key)
{
	const char *v = sbx_json_str(args, key);

	return v && v[0] ? v : NULL;
}

cJSON *sbx_ctl_ok(void)
{
	cJSON *j = cJSON_CreateObject();

	cJSON_AddBoolToObject(j, "ok", 1);
	return j;
}

cJSON *sbx_ctl_error(int code, const char *kind, const char *fmt, ...)
{
	cJSON *j = cJSON_CreateObject();
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cJSON_AddBoolToObject(j, "ok", 0);
	cJSON_AddStringToObject(j, "error", msg);
	cJSON_AddNumberToObject(j, "code", code);
	cJSON_AddStringToObject(j, "kind", kind);
	return j;
}
