/* SPDX-License-Identifier: MIT */
/*
 * The main of a fuzz target built without libFuzzer: feeds every file named on the command
 * line (or found in a directory named there, one level deep) to LLVMFuzzerTestOneInput once,
 * so the corpus still runs as a regression test under ASan+UBSan. Options starting with '-'
 * are libFuzzer's and are ignored. Prints how many inputs it replayed; exits 1 if none.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define REPLAY_MAX_BYTES (1u << 20) /* a corpus file is small */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
	static uint8_t buf[REPLAY_MAX_BYTES];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f) {
		fprintf(stderr, "replay: cannot open %s\n", path);
		return -1;
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	return 0;
}

static int replay_path(const char *path, unsigned *count)
{
	struct stat st;
	struct dirent *e;
	DIR *d;

	if (stat(path, &st))
		return 0; /* a corpus directory not made yet */
	if (!S_ISDIR(st.st_mode)) {
		*count += replay_file(path) == 0;
		return 0;
	}
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char file[4096];

		if (e->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
		if (stat(file, &st) == 0 && S_ISREG(st.st_mode))
			*count += replay_file(file) == 0;
	}
	closedir(d);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned count = 0;

	for (int i = 1; i < argc; i++)
		if (argv[i][0] != '-' && replay_path(argv[i], &count))
			return 1;
	printf("replayed %u inputs\n", count);
	return count ? 0 : 1;
}
