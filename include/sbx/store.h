/* SPDX-License-Identifier: MIT */
/* The policy store, as far as the CLI touches it (user/store.h has the rest). */
#ifndef SBX_STORE_H
#define SBX_STORE_H

/* Delete the store; missing is fine. */
int sbx_store_remove(const char *state_dir);

#endif
