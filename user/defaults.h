/* SPDX-License-Identifier: MIT */
/* The embedded default groups (generated from data/defaults/ at build time). */
#ifndef SBX_DEFAULTS_H
#define SBX_DEFAULTS_H

struct sbx_default_group {
	const char *name;
	const char *description;
	const char *text; /* the .list file: one resource per line, '#' comments */
};

extern const struct sbx_default_group sbx_default_groups[];
extern const unsigned sbx_default_groups_n;

#endif
