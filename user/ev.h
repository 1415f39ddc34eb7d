/* SPDX-License-Identifier: MIT */
/*
 * A small epoll reactor: fd events and one-shot timers. One per thread; it
 * knows nothing of sbx (after redis's ae.c).
 */
#ifndef SBX_USER_EV_H
#define SBX_USER_EV_H

#include <stdint.h>
#include <sys/epoll.h>
#include <sbx/ev.h>

struct sbx_ev;
typedef void (*sbx_ev_fd_fn)(struct sbx_ev *ev, int fd, uint32_t events, void *arg);
typedef void (*sbx_ev_timer_fn)(struct sbx_ev *ev, void *arg);

int sbx_ev_new(struct sbx_ev **out);
void sbx_ev_free(struct sbx_ev *ev);
/* Watch @fd for @events (EPOLLIN/EPOLLOUT...); add replaces an existing watch. */
int sbx_ev_add(struct sbx_ev *ev, int fd, uint32_t events, sbx_ev_fd_fn fn, void *arg);
int sbx_ev_mod(struct sbx_ev *ev, int fd, uint32_t events);
void sbx_ev_del(struct sbx_ev *ev, int fd);
/* Call @fn once after @ms milliseconds; returns a timer id > 0 or -errno. */
long sbx_ev_timer(struct sbx_ev *ev, uint64_t ms, sbx_ev_timer_fn fn, void *arg);
void sbx_ev_timer_cancel(struct sbx_ev *ev, long id);
/* Run until sbx_ev_stop(); returns 0 or -errno from epoll. */
int sbx_ev_run(struct sbx_ev *ev);
void sbx_ev_stop(struct sbx_ev *ev);

#endif
