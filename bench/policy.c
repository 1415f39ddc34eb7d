// SPDX-License-Identifier: MIT
/*
 * bench/policy: decisions per second and median ns per decision for
 * policies of 10, 1,000 and 100,000 rules, side by side. The query mix is
 * the same for every size (names that match, names that do not, subdomains,
 * addresses), so the columns differ only in the number of rules. The target:
 * the 100,000-rule median within 1.5x of the 10-rule one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sbx/policy.h>

#define QUERIES 1024
#define BATCHES 400
#define TARGET_RATIO 1.5

struct query {
	char host[64];
	uint16_t port;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint32_t rng = 2463534242u;

static uint32_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

/* Rule i of every size is the same rule, so smaller policies are prefixes. */
static void rule_text(size_t i, char *out, size_t len)
{
	switch (i % 10) {
	case 0:
	case 1:
	case 2:
	case 3:
	case 4:
		snprintf(out, len, "h%zu.svc%zu.example.com:443", i, i % 97);
		break;
	case 5:
		snprintf(out, len, "*.t%zu.example.org", i);
		break;
	case 6:
		snprintf(out, len, "**.d%zu.example.net:443", i);
		break;
	case 7:
		snprintf(out, len, "10.%zu.%zu.0/24:22", (i >> 8) & 255, i & 255);
		break;
	case 8:
		snprintf(out, len, "api%zu.vendor.io", i);
		break;
	default:
		snprintf(out, len, "deny%zu.example.com", i);
	}
}

static struct sbx_policy *make_policy(size_t n)
{
	struct sbx_policy *p = sbx_policy_new();
	char err[SBX_ERR_MAX], text[128];

	for (size_t i = 0; i < n; i++) {
		struct sbx_rule r = { 0 };

		rule_text(i, text, sizeof(text));
		snprintf(r.name, sizeof(r.name), "rule-%zu", i);
		r.type = SBX_TYPE_NETWORK;
		r.decision = i % 10 == 9 ? SBX_DENY : SBX_ALLOW;
		if (i % 50 == 1)
			snprintf(r.sandbox, sizeof(r.sandbox), "sb%zu", i % 7);
		if (sbx_resource_list_parse(r.type, text, &r.res, &r.nres, err, sizeof(err))) {
			fprintf(stderr, "bench: %s: %s\n", text, err);
			exit(1);
		}
		sbx_policy_add(p, &r);
		sbx_rule_release(&r);
	}
	if (sbx_policy_compile(p))
		exit(1);
	return p;
}

/*
 * Hosts a sandbox would ask about. Every hit is on one of the first ten
 * rules, which every size has, so each size answers the same questions
 * with the same verdicts and only the size of the indexes differs.
 */
static void make_queries(struct query *q)
{
	for (size_t i = 0; i < QUERIES; i++) {
		q[i].port = 443;
		switch (i % 8) {
		case 0: {
			unsigned k = next_rand() % 5;

			snprintf(q[i].host, sizeof(q[i].host), "h%u.svc%u.example.com", k, k);
			break;
		}
		case 1:
			snprintf(q[i].host, sizeof(q[i].host), "a.b.t5.example.org");
			break;
		case 2:
			snprintf(q[i].host, sizeof(q[i].host), "cdn%u.pkg.registry.example.dev",
				 next_rand() % 1000);
			break;
		case 3:
			snprintf(q[i].host, sizeof(q[i].host), "10.0.7.%u", next_rand() % 250);
			q[i].port = 22;
			break;
		case 4:
			snprintf(q[i].host, sizeof(q[i].host), "deny9.example.com");
			break;
		case 5:
			snprintf(q[i].host, sizeof(q[i].host), "www.d6.example.net");
			break;
		case 6:
			snprintf(q[i].host, sizeof(q[i].host), "api8.vendor.io");
			break;
		default:
			snprintf(q[i].host, sizeof(q[i].host), "www.site%u.com", next_rand() % 5000);
		}
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void run(size_t nrules, const struct query *q, double *median, double *rate,
		double *build_ms)
{
	static double per[BATCHES];
	uint64_t t0 = now_ns(), total = 0;
	struct sbx_policy *p = make_policy(nrules);
	struct sbx_verdict v;
	unsigned allowed = 0;

	*build_ms = (double)(now_ns() - t0) / 1e6;
	for (size_t i = 0; i < QUERIES; i++) /* warm up */
		sbx_policy_decide(p, NULL, q[i].host, q[i].port, &v);
	for (size_t b = 0; b < BATCHES; b++) {
		uint64_t start = now_ns(), d;

		for (size_t i = 0; i < QUERIES; i++) {
			sbx_policy_decide(p, "sb1", q[i].host, q[i].port, &v);
			allowed += v.decision == SBX_ALLOW;
		}
		d = now_ns() - start;
		total += d;
		per[b] = (double)d / QUERIES;
	}
	qsort(per, BATCHES, sizeof(per[0]), cmp_double);
	*median = per[BATCHES / 2];
	*rate = (double)BATCHES * QUERIES / ((double)total / 1e9);
	if (allowed == 0)
		fprintf(stderr, "bench: nothing was allowed; the query mix is broken\n");
	sbx_policy_free(p);
}

int main(void)
{
	static const size_t sizes[] = { 10, 1000, 100000 };
	static struct query q[QUERIES];
	double median[3], rate[3], build[3], ratio;

	make_queries(q);
	for (int i = 0; i < 3; i++)
		run(sizes[i], q, &median[i], &rate[i], &build[i]);
	printf("policy decisions (%d queries x %d batches, same query mix for every size)\n",
	       QUERIES, BATCHES);
	printf("%-22s %14s %14s %14s\n", "rules", "10", "1,000", "100,000");
	printf("%-22s %14.0f %14.0f %14.0f\n", "decisions/s", rate[0], rate[1], rate[2]);
	printf("%-22s %14.1f %14.1f %14.1f\n", "median ns/decision", median[0], median[1],
	       median[2]);
	printf("%-22s %14.1f %14.1f %14.1f\n", "compile ms", build[0], build[1], build[2]);
	ratio = median[2] / median[0];
	printf("100,000 vs 10 rules: %.2fx the median cost (target <= %.1fx): %s\n", ratio,
	       TARGET_RATIO, ratio <= TARGET_RATIO ? "ok" : "OVER TARGET");
	return ratio <= TARGET_RATIO ? 0 : 1;
}
