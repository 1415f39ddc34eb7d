// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for the one classification of addresses and host names
 * (user/addr.c). Besides "no crash", it checks what the engine, check and the
 * proxy rely on: an address parses back to itself from its text form; text
 * refused as an address spelling is never a host name; a host name is never an
 * address; the classification of an address is one of the classes and agrees
 * with "internal" for addresses outside the host and the pool.
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Iinclude -Iuser \
 *         user/addr.c tests/fuzz/fuzz_addr.c -o /tmp/fuzz_addr &&
 *   /tmp/fuzz_addr -max_total_time=60
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sbx/conn.h>

#define TEXT_MAX 300

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_text(const char *s)
{
	struct sbx_addr a, b;
	char text[64];
	int ret = sbx_addr_parse(s, &a);
	bool name = sbx_host_name_check(s, NULL, NULL, 0) == 0;

	if (ret != 1 && ret != 0 && ret != -EINVAL)
		abort();
	if (ret != 0 && name)
		abort(); /* an address, or only an address could be it: never a name */
	if (ret != 1)
		return;
	if (a.family != 4 && a.family != 6)
		abort();
	sbx_addr_format(&a, text, sizeof(text));
	if (sbx_addr_parse(text, &b) != 1 || b.family != a.family || memcmp(a.a, b.a, 16))
		abort();
}

static void fuzz_addr(const uint8_t *data, size_t size)
{
	struct sbx_addr_env env = { 0 };
	struct sbx_addr a = { .family = size & 1 ? 6 : 4 };
	struct sbx_addr h = { .family = 4, .a = { 127, 0, 0, 1 } };
	enum sbx_addr_class c;
	uint16_t port;

	if (size < 19)
		return;
	memcpy(a.a, data, a.family == 4 ? 4 : 16);
	memcpy(&port, data + 16, 2);
	sbx_addr_env_add_host(&env, &h);
	sbx_addr_env_add_port(&env, 3128);
	env.pool.family = 4;
	env.pool.a[0] = 10;
	env.pool.a[1] = 209;
	env.pool_prefix = data[18] % 40; /* past 32 too: never read beyond the address */
	c = sbx_addr_classify(&env, &a, port);
	if ((unsigned)c > SBX_ADDR_OWN)
		abort();
	if ((c == SBX_ADDR_PUBLIC) == sbx_addr_is_internal(&a) &&
	    (c == SBX_ADDR_PUBLIC || c == SBX_ADDR_INTERNAL))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[TEXT_MAX + 1];
	size_t n = size < TEXT_MAX ? size : TEXT_MAX;

	memcpy(s, data, n);
	s[n] = '\0';
	fuzz_text(s);
	fuzz_addr(data, size);
	return 0;
}
