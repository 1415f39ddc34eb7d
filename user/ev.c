// SPDX-License-Identifier: MIT
/* The epoll reactor; see ev.h. Handlers live in an array indexed by fd. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ev.h"

#define EV_BATCH 64

struct handler {
	sbx_ev_fd_fn fn;
	void *arg;
};

struct timer {
	long id;
	uint64_t when;
	sbx_ev_timer_fn fn;
	void *arg;
};

struct sbx_ev {
	int epfd;
	int stop;
	struct handler *h;
	size_t nh;
	struct timer *timers;
	size_t ntimers, captimers;
	long next_id;
};

uint64_t sbx_ev_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int sbx_ev_new(struct sbx_ev **out)
{
	struct sbx_ev *ev = calloc(1, sizeof(*ev));

	if (!ev)
		return -ENOMEM;
	ev->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ev->epfd < 0) {
		int err = -errno;

		free(ev);
		return err;
	}
	*out = ev;
	return 0;
}

void sbx_ev_free(struct sbx_ev *ev)
{
	if (!ev)
		return;
	close(ev->epfd);
	free(ev->h);
	free(ev->timers);
	free(ev);
}

int sbx_ev_add(struct sbx_ev *ev, int fd, uint32_t events, sbx_ev_fd_fn fn, void *arg)
{
	struct epoll_event e = { .events = events, .data.fd = fd };

	if (fd < 0)
		return -EBADF;
	if ((size_t)fd >= ev->nh) {
		size_t n = (size_t)fd * 2 + 16;
		struct handler *tmp = realloc(ev->h, n * sizeof(*tmp));

		if (!tmp)
			return -ENOMEM;
		memset(tmp + ev->nh, 0, (n - ev->nh) * sizeof(*tmp));
		ev->h = tmp;
		ev->nh = n;
	}
	if (epoll_ctl(ev->epfd, EPOLL_CTL_ADD, fd, &e)) {
		if (errno != EEXIST || epoll_ctl(ev->epfd, EPOLL_CTL_MOD, fd, &e))
			return -errno;
	}
	ev->h[fd] = (struct handler){ fn, arg };
	return 0;
}

int sbx_ev_mod(struct sbx_ev *ev, int fd, uint32_t events)
{
	struct epoll_event e = { .events = events, .data.fd = fd };

	return epoll_ctl(ev->epfd, EPOLL_CTL_MOD, fd, &e) ? -errno : 0;
}

void sbx_ev_del(struct sbx_ev *ev, int fd)
{
	if (fd < 0 || (size_t)fd >= ev->nh)
		return;
	epoll_ctl(ev->epfd, EPOLL_CTL_DEL, fd, NULL);
	ev->h[fd] = (struct handler){ NULL, NULL };
}

long sbx_ev_timer(struct sbx_ev *ev, uint64_t ms, sbx_ev_timer_fn fn, void *arg)
{
	if (ev->ntimers == ev->captimers) {
		size_t n = ev->captimers ? ev->captimers * 2 : 8;
		struct timer *tmp = realloc(ev->timers, n * sizeof(*tmp));

		if (!tmp)
			return -ENOMEM;
		ev->timers = tmp;
		ev->captimers = n;
	}
	ev->timers[ev->ntimers++] = (struct timer){ ++ev->next_id, sbx_ev_now_ms() + ms, fn, arg };
	return ev->next_id;
}

void sbx_ev_timer_cancel(struct sbx_ev *ev, long id)
{
	for (size_t i = 0; i < ev->ntimers; i++) {
		if (ev->timers[i].id == id) {
			ev->timers[i] = ev->timers[--ev->ntimers];
			return;
		}
	}
}

/* Fire due timers; return the ms until the next one, or -1 for none. */
static int run_timers(struct sbx_ev *ev)
{
	uint64_t now = sbx_ev_now_ms(), next = UINT64_MAX;

	for (size_t i = 0; i < ev->ntimers;) {
		struct timer t = ev->timers[i];

		if (t.when <= now) {
			ev->timers[i] = ev->timers[--ev->ntimers];
			t.fn(ev, t.arg); /* may add or cancel timers */
			i = 0;
			now = sbx_ev_now_ms();
			next = UINT64_MAX;
			continue;
		}
		if (t.when < next)
			next = t.when;
		i++;
	}
	if (next == UINT64_MAX)
		return -1;
	return next - now > 60000 ? 60000 : (int)(next - now);
}

int sbx_ev_run(struct sbx_ev *ev)
{
	struct epoll_event events[EV_BATCH];

	ev->stop = 0;
	while (!ev->stop) {
		int timeout = run_timers(ev), n;

		if (ev->stop)
			break;
		n = epoll_wait(ev->epfd, events, EV_BATCH, timeout);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (int i = 0; i < n; i++) {
			int fd = events[i].data.fd;

			/* a handler earlier in this batch may have closed this fd */
			if ((size_t)fd < ev->nh && ev->h[fd].fn)
				ev->h[fd].fn(ev, fd, events[i].events, ev->h[fd].arg);
		}
	}
	return 0;
}

void sbx_ev_stop(struct sbx_ev *ev)
{
	ev->stop = 1;
}
