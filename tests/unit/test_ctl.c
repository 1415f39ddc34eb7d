// SPDX-License-Identifier: MIT
/*
 * Control-socket peer identification: who the caller is must be known or be an error,
 * never a guess (sbxd(8) "Access"): out of descriptors is -EMFILE, not "not a member".
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctl.h"
#include "test.h"

#define FILL_MAX 4096

static void test_primary_group_is_membership(void)
{
	CHECK_INT(sbx_ctl_in_group(54321, 777, 777), 1);
}

static void test_no_group_configured_admits_nobody(void)
{
	CHECK_INT(sbx_ctl_in_group(54321, 777, (gid_t)-1), 0);
}

static void test_unknown_user_is_not_a_member(void)
{
	/* no passwd entry: no supplementary groups, and no error either */
	CHECK_INT(sbx_ctl_in_group(54321, 54321, 0), 0);
}

static void test_supplementary_group_is_membership(void)
{
	struct group *g = getgrgid(0);
	struct passwd *pw = getpwuid(0);

	/* root's own primary group, asked with another primary: found through getgrouplist */
	if (!g || !pw) {
		fprintf(stderr, "  no root user or group here; nothing to check\n");
		return;
	}
	CHECK_INT(sbx_ctl_in_group(0, 54321, pw->pw_gid), 1);
}

/* With every descriptor taken, the group database cannot be read: an error, not a "no". */
static void test_out_of_descriptors_is_an_error_not_a_no(void)
{
	struct rlimit old, low;
	int fds[FILL_MAX], n = 0, ret;

	if (getrlimit(RLIMIT_NOFILE, &old)) {
		CHECK(0);
		return;
	}
	low = old;
	low.rlim_cur = 64;
	CHECK_INT(setrlimit(RLIMIT_NOFILE, &low), 0);
	while (n < FILL_MAX && (fds[n] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
		n++;
	CHECK(n < FILL_MAX && errno == EMFILE);
	/* uid 0 exists; whether it is in group 54321 needs /etc/group: -EMFILE */
	ret = sbx_ctl_in_group(0, 0, 54321);
	while (n > 0)
		close(fds[--n]);
	CHECK_INT(setrlimit(RLIMIT_NOFILE, &old), 0);
	CHECK_INT(ret, -EMFILE);
	/* and with room again, the answer */
	CHECK_INT(sbx_ctl_in_group(0, 0, 54321), 0);
}

static void test_peer_credentials_of_a_socketpair(void)
{
	struct ucred cred;
	int sv[2];

	CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	CHECK_INT(sbx_ctl_peer_cred(sv[0], &cred), 0);
	CHECK_INT(cred.pid, getpid());
	CHECK_INT(cred.uid, getuid());
	CHECK_INT(sbx_ctl_peer_cred(-1, &cred), -EBADF);
	close(sv[0]);
	close(sv[1]);
}

static void test_peer_pidfd_names_a_live_process(void)
{
	int sv[2], pidfd;

	CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pidfd = sbx_ctl_peer_pidfd(sv[0]);
	if (pidfd == -ENOPROTOOPT || pidfd == -EINVAL) {
		fprintf(stderr, "  no SO_PEERPIDFD on this kernel; nothing to check\n");
	} else {
		CHECK(pidfd >= 0);
		CHECK(pidfd >= 0 && sbx_pidfd_alive(pidfd));
		if (pidfd >= 0)
			close(pidfd);
	}
	close(sv[0]);
	close(sv[1]);
}

static const struct test tests[] = {
	T(test_primary_group_is_membership),
	T(test_no_group_configured_admits_nobody),
	T(test_unknown_user_is_not_a_member),
	T(test_supplementary_group_is_membership),
	T(test_out_of_descriptors_is_an_error_not_a_no),
	T(test_peer_credentials_of_a_socketpair),
	T(test_peer_pidfd_names_a_live_process),
};

TEST_MAIN("ctl", tests)
