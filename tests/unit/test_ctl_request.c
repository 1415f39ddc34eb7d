// SPDX-License-Identifier: MIT
/* Control requests: what sbxd accepts as a request line, and what it refuses and why. */
#include <errno.h>

#include "ctl.h"
#include "test.h"

static void test_request_with_op_and_args_is_parsed(void)
{
	struct sbx_ctl_request req;
	const char *why = NULL;

	CHECK_INT(sbx_ctl_request_parse("{\"op\":\"policy.ls\",\"args\":{\"type\":\"network\"}}",
					&req, &why),
		  0);
	CHECK_STR(req.op, "policy.ls");
	CHECK_STR(sbx_json_arg(req.args, "type"), "network");
	sbx_ctl_request_free(&req);
	CHECK(!req.root && !req.op && !req.args);
	CHECK_INT(sbx_ctl_request_parse("{\"op\":\"status\"}", &req, &why), 0);
	CHECK_STR(req.op, "status");
	CHECK(req.args == NULL);
	sbx_ctl_request_free(&req);
}

static void test_malformed_requests_are_refused_with_a_reason(void)
{
	static const struct {
		const char *line, *why;
	} bad[] = {
		{ "", "malformed request" },
		{ "{not json", "malformed request" },
		{ "[\"op\"]", "malformed request" },
		{ "{\"args\":{}}", "malformed request" },
		{ "{\"op\":7}", "malformed request" },
		{ "{\"op\":\"policy.ls\",\"args\":[]}", "\"args\" must be an object" },
		{ "{\"op\":\"policy.ls\",\"args\":\"x\"}", "\"args\" must be an object" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sbx_ctl_request req;
		const char *why = NULL;

		CHECK_INT(sbx_ctl_request_parse(bad[i].line, &req, &why), -EINVAL);
		CHECK_STR(why, bad[i].why);
		CHECK(!req.root && !req.op);
	}
}

static const struct test tests[] = {
	T(test_request_with_op_and_args_is_parsed),
	T(test_malformed_requests_are_refused_with_a_reason),
};

TEST_MAIN("ctl_request", tests)
