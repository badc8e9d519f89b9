/*
 * bench_sdk.c - weft-bench-sdk: what libweft costs the instrumented thread.
 *
 *   weft-bench-sdk --endpoint tcp://127.0.0.1:4319 [--spans N]
 *
 * Each measured operation is timed alone between two CLOCK_MONOTONIC
 * reads; the "floor" case times nothing between the two reads, in the same
 * run, so the cost above the measurement itself is visible. Spans are made
 * in bursts of 1000 followed by an untimed flush, so the queue never
 * overflows and every timed span takes the full path to the exporter.
 * Cases: a sampled span with 4 attributes (start, 4 sets, end), an
 * unsampled span (always_off sampler), the sampled case on two threads at
 * once, the sampled case with the collector down (nothing listens: the
 * rings fill and spans are dropped and counted; no flushes), and the floor.
 * The ns/op cases time bursts of 1000 spans as a whole (p50 over bursts),
 * which leaves out the clock's own cost, as published ns/op figures do.
 * Measuring starts a second after the first tracer, once the TSC clock has
 * calibrated, as in any process that has run for a second. Prints
 * "bench: NAME VALUE" lines (DESIGN §11).
 */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "weft.h"

enum { BURST = 1000 };

static long spans = 200000;
static const char *endpoint = "tcp://127.0.0.1:4319";

static inline uint64_t
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

typedef enum { CASE_4ATTR, CASE_UNSAMPLED, CASE_FLOOR, CASE_DOWN } bench_case;

typedef struct run {
	weft_tracer *t;
	bench_case c;
	uint32_t *ns;
	long n;
	int group; /* spans per timed interval: 1, or BURST for ns/op without the clock's cost */
} run;

static void
one_span(const run *r)
{
	weft_span *s = weft_span_start(r->t, "GET /api/items", NULL);
	if (r->c == CASE_4ATTR || r->c == CASE_DOWN) {
		weft_span_set_str(s, "http.request.method", "GET");
		weft_span_set_str(s, "url.path", "/api/items");
		weft_span_set_int(s, "http.response.status_code", 200);
		weft_span_set_bool(s, "cache.hit", true);
	}
	weft_span_end(s);
}

static void *
measure(void *arg)
{
	run *r = arg;
	long k = 0;
	for (long i = 0; i < r->n; i += r->group) {
		uint64_t t0 = now(), t1;
		if (r->c != CASE_FLOOR)
			for (int j = 0; j < r->group; j++)
				one_span(r);
		t1 = now();
		r->ns[k++] = (uint32_t)((t1 - t0) / (uint64_t)r->group);
		if ((i + r->group) % BURST == 0 && r->c != CASE_FLOOR && r->c != CASE_DOWN)
			weft_tracer_flush(r->t, 10000); /* untimed: keeps the queue from overflowing */
	}
	r->n = k;
	return NULL;
}

/* Runs case c on `threads` threads, timing `group` spans at a time; prints p50/p99 and returns the p50. */
static uint32_t
bench_grouped(const char *name, bench_case c, const char *sampler, int threads, int group, uint32_t *p99)
{
	weft_tracer_config cfg = { .service_name = "bench", .endpoint = c == CASE_DOWN ? "tcp://127.0.0.1:1" : endpoint,
		.sampler = sampler, .shutdown_timeout_ms = 100,
		.schedule_delay_ms = 50, .max_queue_spans = 4 * BURST, .max_export_batch = 512 };
	weft_tracer *t = NULL;
	pthread_t th[2];
	run r[2];
	uint32_t *all = malloc(sizeof(uint32_t) * (size_t)spans * (size_t)threads), p50;
	weft_stats st;

	if (c != CASE_FLOOR && weft_tracer_create(&cfg, &t) != WEFT_OK) {
		fprintf(stderr, "weft-bench-sdk: cannot create a tracer for %s\n", endpoint);
		exit(1);
	}
	for (int i = 0; i < threads; i++) {
		r[i] = (run){ t, c, all + (size_t)i * (size_t)spans, spans, group };
		pthread_create(&th[i], NULL, measure, &r[i]);
	}
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	for (int i = 1; i < threads; i++) /* gather the per-thread results */
		memmove(all + (size_t)i * (size_t)r[0].n, r[i].ns, sizeof *all * (size_t)r[i].n);
	size_t total = (size_t)r[0].n * (size_t)threads;
	qsort(all, total, sizeof *all, cmp);
	p50 = all[total / 2];
	*p99 = all[(size_t)((double)total * 0.99)];
	if (t != NULL) {
		if (c != CASE_DOWN)
			weft_tracer_flush(t, 10000);
		weft_tracer_stats(t, &st);
		printf("%-28s p50 %5u ns  p99 %6u ns  (exported %llu, dropped %llu)\n", name, p50, *p99,
		    (unsigned long long)st.spans_exported, (unsigned long long)st.spans_dropped);
		weft_tracer_destroy(t);
	} else {
		printf("%-28s p50 %5u ns  p99 %6u ns\n", name, p50, *p99);
	}
	free(all);
	return p50;
}

static uint32_t
bench(const char *name, bench_case c, const char *sampler, int threads, uint32_t *p99)
{
	return bench_grouped(name, c, sampler, threads, 1, p99);
}

int
main(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "endpoint", required_argument, NULL, 'e' },
		{ "spans", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	uint32_t a50, a99, u50, u99, t50, t99, f50, f99, d50, d99, o50, o99, uo50, uo99;
	int ch;

	while ((ch = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		if (ch == 'e')
			endpoint = optarg;
		else if (ch == 'n')
			spans = atol(optarg);
		else
			return 2;
	}
	if (spans < BURST)
		spans = BURST;
	bench("warm-up", CASE_4ATTR, "always_on", 1, &a99);
	sleep(1);
	f50 = bench("floor (two clock reads)", CASE_FLOOR, NULL, 1, &f99);
	a50 = bench("sampled, 4 attributes", CASE_4ATTR, "always_on", 1, &a99);
	u50 = bench("unsampled", CASE_UNSAMPLED, "always_off", 1, &u99);
	t50 = bench("sampled, 4 attrs, 2 threads", CASE_4ATTR, "always_on", 2, &t99);
	d50 = bench("sampled, collector down", CASE_DOWN, "always_on", 1, &d99);
	o50 = bench_grouped("sampled, 4 attrs, ns/op", CASE_4ATTR, "always_on", 1, BURST, &o99);
	uo50 = bench_grouped("unsampled, ns/op", CASE_UNSAMPLED, "always_off", 1, BURST, &uo99);
	printf("\nbench: sdk_span_4attr_p50_ns %u\nbench: sdk_span_4attr_p99_ns %u\n", a50, a99);
	printf("bench: sdk_span_unsampled_p50_ns %u\nbench: sdk_span_2threads_p50_ns %u\n", u50, t50);
	printf("bench: sdk_span_down_p50_ns %u\nbench: sdk_span_down_p99_ns %u\n", d50, d99);
	printf("bench: sdk_span_4attr_op_ns %u\nbench: sdk_span_unsampled_op_ns %u\n", o50, uo50);
	printf("bench: sdk_floor_p50_ns %u\n", f50);
	(void)u99, (void)t99, (void)f99, (void)o99, (void)uo99;
	return 0;
}
