/* SPDX-License-Identifier: MIT */
/* The control socket, sbxd's side; the protocol and the client are in <sbx/ctl.h>. */
#ifndef SBX_USER_CTL_H
#define SBX_USER_CTL_H

#include <stdbool.h>
#include <sys/types.h>
#include <cjson/cJSON.h>
#include <sbx/ctl.h>

/* Server: bind and listen at @path (replacing a stale socket), mode 0660, group @gid. */
int sbx_ctl_listen(const char *path, gid_t gid, int *fd_out);
/* Who is at the other end (SO_PEERCRED); -errno when it cannot be read. */
struct ucred;
int sbx_ctl_peer_cred(int fd, struct ucred *out);
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5; glibc 2.36 does not name it */
#endif
/* A pidfd of the process that connected: -ENOPROTOOPT on older kernels, -ESRCH if it is gone. */
int sbx_ctl_peer_pidfd(int fd);
/* Has that process not exited yet, so its pid still names it? */
bool sbx_pidfd_alive(int pidfd);
/*
 * Is @uid (primary group @pgid) a member of group @gid? 1 yes, 0 no (also when @gid is
 * (gid_t)-1: no group configured), -errno when the user or group database cannot be read
 * (-EMFILE: out of descriptors), which is never taken for a "no".
 */
int sbx_ctl_in_group(uid_t uid, gid_t pgid, gid_t gid);

/*
 * One request line, parsed: a JSON object with a string "op" and, if present,
 * an object "args". @op and @args point into @root, which the caller frees
 * with sbx_ctl_request_free(). On bad input returns -EINVAL and sets @why to a
 * sentence for the reply; nothing is left to free.
 */
struct sbx_ctl_request {
	cJSON *root;
	const char *op;
	const cJSON *args; /* NULL when the request has none */
};
int sbx_ctl_request_parse(const char *line, struct sbx_ctl_request *req, const char **why);
void sbx_ctl_request_free(struct sbx_ctl_request *req);

/* Reply helpers for handlers. */
cJSON *sbx_ctl_ok(void);
cJSON *sbx_ctl_error(int code, const char *kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
