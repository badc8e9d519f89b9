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
 * once, and the floor. Prints "bench: NAME VALUE" lines (DESIGN §11).
 */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

typedef enum { CASE_4ATTR, CASE_UNSAMPLED, CASE_FLOOR } bench_case;

typedef struct run {
	weft_tracer *t;
	bench_case c;
	uint32_t *ns;
	long n;
} run;

static void *
measure(void *arg)
{
	run *r = arg;
	for (long i = 0; i < r->n; i++) {
		uint64_t t0, t1;
		if (r->c == CASE_FLOOR) {
			t0 = now();
			t1 = now();
		} else {
			t0 = now();
			weft_span *s = weft_span_start(r->t, "GET /api/items", NULL);
			if (r->c == CASE_4ATTR) {
				weft_span_set_str(s, "http.request.method", "GET");
				weft_span_set_str(s, "url.path", "/api/items");
				weft_span_set_int(s, "http.response.status_code", 200);
				weft_span_set_bool(s, "cache.hit", true);
			}
			weft_span_end(s);
			t1 = now();
		}
		r->ns[i] = (uint32_t)(t1 - t0);
		if ((i + 1) % BURST == 0 && r->c != CASE_FLOOR)
			weft_tracer_flush(r->t, 10000); /* untimed: keeps the queue from overflowing */
	}
	return NULL;
}

/* Runs case c on `threads` threads; prints p50/p99 and returns the p50. */
static uint32_t
bench(const char *name, bench_case c, const char *sampler, int threads, uint32_t *p99)
{
	weft_tracer_config cfg = { .service_name = "bench", .endpoint = endpoint, .sampler = sampler,
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
		r[i] = (run){ t, c, all + (size_t)i * (size_t)spans, spans };
		pthread_create(&th[i], NULL, measure, &r[i]);
	}
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	qsort(all, (size_t)spans * (size_t)threads, sizeof *all, cmp);
	p50 = all[(size_t)spans * (size_t)threads / 2];
	*p99 = all[(size_t)((double)spans * threads * 0.99)];
	if (t != NULL) {
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

int
main(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "endpoint", required_argument, NULL, 'e' },
		{ "spans", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	uint32_t a50, a99, u50, u99, t50, t99, f50, f99;
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
	f50 = bench("floor (two clock reads)", CASE_FLOOR, NULL, 1, &f99);
	a50 = bench("sampled, 4 attributes", CASE_4ATTR, "always_on", 1, &a99);
	u50 = bench("unsampled", CASE_UNSAMPLED, "always_off", 1, &u99);
	t50 = bench("sampled, 4 attrs, 2 threads", CASE_4ATTR, "always_on", 2, &t99);
	printf("\nbench: sdk_span_4attr_p50_ns %u\nbench: sdk_span_4attr_p99_ns %u\n", a50, a99);
	printf("bench: sdk_span_unsampled_p50_ns %u\nbench: sdk_span_2threads_p50_ns %u\n", u50, t50);
	printf("bench: sdk_floor_p50_ns %u\n", f50);
	(void)u99, (void)t99, (void)f99;
	return 0;
}
