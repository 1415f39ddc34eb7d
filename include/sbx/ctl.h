/* SPDX-License-Identifier: MIT */
/*
 * The control socket, client side: a Unix stream socket in the run dir carrying one JSON
 * request and one JSON reply per connection, each a single line. Replies are
 * {"ok": true, ...} or {"ok": false, "error": "...", "code": 1|2, "kind": "..."}.
 * The server side (listen, peer credentials, request parsing, replies) is sbxd's user/ctl.h.
 */
#ifndef SBX_CTL_H
#define SBX_CTL_H

#include <cjson/cJSON.h>

#define SBX_CTL_REQ_MAX (1u << 20)   /* a request is small */
#define SBX_CTL_REPLY_MAX (256u << 20) /* a listing of 100,000 rules is not */

/* Connect; -ENOENT/-ECONNREFUSED mean no daemon is listening. */
int sbx_ctl_connect(const char *path, int *fd_out);
/* Send @req and wait up to @timeout_ms for the reply. */
int sbx_ctl_call(int fd, const cJSON *req, cJSON **reply, int timeout_ms);

/* String members: NULL unless @key is a string (sbx_json_arg: and not empty). */
const char *sbx_json_str(const cJSON *j, const char *key);
const char *sbx_json_arg(const cJSON *args, const char *key);

#endif
