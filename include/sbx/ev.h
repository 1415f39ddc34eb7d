/* SPDX-License-Identifier: MIT */
/* The clock of sbxd's event loop (user/ev.h), for the CLI's timeouts too. */
#ifndef SBX_EV_H
#define SBX_EV_H

#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t sbx_ev_now_ms(void);

#endif
