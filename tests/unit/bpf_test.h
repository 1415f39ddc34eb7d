/* SPDX-License-Identifier: MIT */
/* What the root-only BPF tests share: leaving bpffs as they found it. */
#ifndef SBX_BPF_TEST_H
#define SBX_BPF_TEST_H

#include <dirent.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statfs.h>

#define BPF_FS_MAGIC_ 0xcafe4a11

static inline int bpffs_mounted(void)
{
	struct statfs st;

	return statfs("/sys/fs/bpf", &st) == 0 && st.f_type == BPF_FS_MAGIC_;
}

/*
 * Unmount the bpffs this test mounted, unless someone (an sbxd started meanwhile) pinned
 * something there: only the kernel's own preload entries may remain.
 */
static inline void umount_bpffs_if_unused(void)
{
	DIR *d = opendir("/sys/fs/bpf");
	struct dirent *de;
	int used = 0;

	if (!d)
		return;
	while ((de = readdir(d)))
		used |= strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
			strcmp(de->d_name, "maps.debug") && strcmp(de->d_name, "progs.debug");
	closedir(d);
	if (!used)
		umount("/sys/fs/bpf");
}

#endif
