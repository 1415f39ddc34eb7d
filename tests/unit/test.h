/* SPDX-License-Identifier: MIT */
/*
 * A minimal unit-test harness: every test is a function, every failed check
 * prints where and why, and each test prints one PASS/FAIL line that
 * tests/run.sh counts.
 */
#ifndef SBX_TEST_H
#define SBX_TEST_H

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

struct test {
	const char *name;
	void (*fn)(void);
};

static int test_failed;

#define T(fn) { #fn, fn }

#define CHECK(cond)                                                                  \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, \
				#cond);                                              \
			test_failed = 1;                                             \
		}                                                                    \
	} while (0)

/* A forked child's check: say where and why, return the line as its exit status. */
#define C_CHECK(cond)                                                                \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "  child %s:%d: %s failed (errno: %s)\n",    \
				__FILE__, __LINE__, #cond, strerror(errno));         \
			return __LINE__ % 250 + 1;                                   \
		}                                                                    \
	} while (0)

#define CHECK_INT(a, b)                                                              \
	do {                                                                         \
		long long _a = (long long)(a), _b = (long long)(b);                  \
		if (_a != _b) {                                                      \
			fprintf(stderr, "  %s:%d: %s == %lld, expected %lld\n", __FILE__, \
				__LINE__, #a, _a, _b);                               \
			test_failed = 1;                                             \
		}                                                                    \
	} while (0)

#define CHECK_STR(a, b)                                                              \
	do {                                                                         \
		const char *_a = (a), *_b = (b);                                     \
		if (!_a || !_b || strcmp(_a, _b) != 0) {                             \
			fprintf(stderr, "  %s:%d: %s == \"%s\", expected \"%s\"\n",  \
				__FILE__, __LINE__, #a, _a ? _a : "(null)",          \
				_b ? _b : "(null)");                                 \
			test_failed = 1;                                             \
		}                                                                    \
	} while (0)

/* A substring check, for error messages that must say what is wrong. */
#define CHECK_HAS(hay, needle)                                                       \
	do {                                                                         \
		const char *_h = (hay), *_n = (needle);                              \
		if (!_h || !strstr(_h, _n)) {                                        \
			fprintf(stderr, "  %s:%d: \"%s\" does not contain \"%s\"\n", \
				__FILE__, __LINE__, _h ? _h : "(null)", _n);         \
			test_failed = 1;                                             \
		}                                                                    \
	} while (0)

static inline int test_main(const char *suite, const struct test *tests, size_t n)
{
	int failures = 0;

	for (size_t i = 0; i < n; i++) {
		test_failed = 0;
		tests[i].fn();
		printf("%s %s.%s\n", test_failed ? "FAIL" : "PASS", suite, tests[i].name);
		fflush(stdout);
		failures += test_failed;
	}
	return failures ? 1 : 0;
}

#define TEST_MAIN(suite, tests)                                                      \
	int main(void)                                                               \
	{                                                                            \
		return test_main(suite, tests, sizeof(tests) / sizeof(tests[0]));    \
	}

#endif
