/*
 * bench_mtasts.c - bench-mtasts: the libmtasts hot paths against the
 * closest peers available in-process (no C MTA-STS library exists):
 *
 *   policy-parse/floor   ms_sts_policy_parse vs a bare line splitter that
 *                        only finds "key: value" pairs (the physical floor:
 *                        touching each byte once, no validation)
 *   mx-match/fnmatch     ms_sts_policy_match vs glibc fnmatch(FNM_CASEFOLD)
 *                        over the same patterns, on hosts where both agree
 *                        (fnmatch's "*" would also cross dots)
 *
 * Output (DESIGN.md): bench <case>/<peer> ours_ns=.. <peer>_ns=.. ratio=..
 */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mailsec/mtasts.h>

#define ROUNDS 7
#define ITERS 20000

static const char policy[] =
	"version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmx: mx2.example.com\r\n"
	"mx: *.backup.example.com\r\nmx: *.mail.protection.outlook.com\r\nmax_age: 604800\r\n";

static const char *hosts[] = {
	"mx1.example.com", "MX2.EXAMPLE.COM", "a.backup.example.com",
	"x.mail.protection.outlook.com", "evil.example.net", "mx3.example.com",
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	return v[n / 2];
}

static void report(const char *name, const char *peer, uint64_t ours, uint64_t theirs)
{
	printf("bench %s/%s ours_ns=%llu %s_ns=%llu ratio=%.2f\n", name, peer,
	       (unsigned long long)ours, peer, (unsigned long long)theirs,
	       ours ? (double)theirs / (double)ours : 0.0);
}

/* The floor: split lines and keys, nothing else. Returns the pair count. */
static volatile size_t sink;
static size_t floor_parse(const char *p, size_t len)
{
	size_t pairs = 0;
	const char *end = p + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		if (memchr(p, ':', (size_t)(e - p)))
			pairs++;
		p = e + 1;
	}
	return pairs;
}

int main(void)
{
	uint64_t ours[ROUNDS], peer[ROUNDS];
	size_t len = strlen(policy);
	for (int r = 0; r < ROUNDS; r++) {
		uint64_t t0 = now_ns();
		for (int i = 0; i < ITERS; i++) {
			struct ms_sts_policy *p = NULL;
			if (ms_sts_policy_parse(NULL, (const uint8_t *)policy, len, &p, NULL, 0) != MS_OK)
				return 1;
			sink += ms_sts_policy_mx_count(p);
			ms_sts_policy_free(p);
		}
		ours[r] = (now_ns() - t0) / ITERS;
		t0 = now_ns();
		for (int i = 0; i < ITERS; i++)
			sink += floor_parse(policy, len);
		peer[r] = (now_ns() - t0) / ITERS;
	}
	report("policy-parse", "floor", median(ours, ROUNDS), median(peer, ROUNDS));

	struct ms_sts_policy *p = NULL;
	if (ms_sts_policy_parse(NULL, (const uint8_t *)policy, len, &p, NULL, 0) != MS_OK)
		return 1;
	size_t nh = sizeof(hosts) / sizeof(hosts[0]);
	for (size_t h = 0; h < nh; h++) { /* same verdicts, or the bench is void */
		int theirs = 0;
		for (size_t k = 0; k < ms_sts_policy_mx_count(p); k++)
			theirs |= fnmatch(ms_sts_policy_mx(p, k), hosts[h], FNM_CASEFOLD) == 0;
		if (theirs != ms_sts_policy_match(p, hosts[h])) {
			fprintf(stderr, "bench-mtasts: verdicts differ for %s\n", hosts[h]);
			return 1;
		}
	}
	for (int r = 0; r < ROUNDS; r++) {
		uint64_t t0 = now_ns();
		for (int i = 0; i < ITERS; i++)
			for (size_t h = 0; h < nh; h++)
				sink += (size_t)ms_sts_policy_match(p, hosts[h]);
		ours[r] = (now_ns() - t0) / (ITERS * nh);
		t0 = now_ns();
		for (int i = 0; i < ITERS; i++)
			for (size_t h = 0; h < nh; h++) {
				int m = 0;
				for (size_t k = 0; k < ms_sts_policy_mx_count(p) && !m; k++)
					m = fnmatch(ms_sts_policy_mx(p, k), hosts[h], FNM_CASEFOLD) == 0;
				sink += (size_t)m;
			}
		peer[r] = (now_ns() - t0) / (ITERS * nh);
	}
	report("mx-match", "fnmatch", median(ours, ROUNDS), median(peer, ROUNDS));
	ms_sts_policy_free(p);
	return 0;
}
