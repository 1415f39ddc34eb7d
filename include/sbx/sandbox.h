/* SPDX-License-Identifier: MIT */
/* What cli/run.c, which enters sandboxes, shares with sbxd's sandboxes (user/sandbox.h). */
#ifndef SBX_SANDBOX_H
#define SBX_SANDBOX_H

#define SBX_SANDBOX_NOBODY 65534 /* host uid/gid of "root" in a sandbox's user ns */

/*
 * Call fn for every mount of the caller's mount namespace (/proc/self/mountinfo, escapes
 * decoded): @root is the mounted directory within its filesystem. fn returning non-zero stops
 * the walk and is returned.
 */
int sbx_mountinfo_foreach(int (*fn)(const char *root, const char *mountpoint, const char *fstype,
				    void *arg),
			  void *arg);

#endif
