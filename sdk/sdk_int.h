/*
 * sdk_int.h - libweft's internal structures, shared by sdk/ files only.
 *
 * Span life: weft_span_start() allocates a weft_span whose record (a
 * cm_span) keeps its strings and arrays in the span's own arena. At
 * weft_span_end() a recording span is appended to the tracer's queue (a
 * singly linked list under `mu`), or freed and counted as dropped when the
 * queue is full. The exporter thread takes whole batches off the queue,
 * sends them, and frees the spans once the collector has acknowledged them.
 */
#ifndef WEFT_SDK_INT_H
#define WEFT_SDK_INT_H

#include <nng/nng.h>
#include <pthread.h>
#include <stdarg.h>
#include <time.h>

#include "arena.h"
#include "span.h"
#include "weft.h"

typedef enum sdk_sampler_kind {
	SAMPLER_ALWAYS_ON,
	SAMPLER_ALWAYS_OFF,
	SAMPLER_RATIO,
} sdk_sampler_kind;

typedef struct sdk_sampler {
	sdk_sampler_kind root;  /* decision for spans without a parent */
	bool parent_based;      /* follow the parent's sampled flag when there is one */
	uint64_t ratio_bound;   /* RATIO: sample when the id's low 56 bits are below it */
} sdk_sampler;

struct weft_span {
	cm_span rec;
	cm_arena arena;
	weft_tracer *tracer;
	weft_span *prev_current; /* restored when this current span ends */
	weft_span *next;         /* queue link */
	uint32_t attr_cap;
	uint32_t event_cap;
	bool recording;
	bool current;
};

struct weft_tracer {
	/* settings, fixed after create */
	char *endpoint;
	uint32_t max_queue;
	uint32_t max_batch;
	uint32_t delay_ms;
	uint32_t export_timeout_ms;
	uint32_t shutdown_timeout_ms;
	sdk_sampler sampler;
	weft_log_fn log_fn;
	void *log_arg;
	cm_arena arena;      /* resource and scope strings */
	cm_resource resource;
	cm_scope scope;

	/* queue, under mu */
	pthread_mutex_t mu;
	pthread_cond_t wake;    /* exporter: work or shutdown */
	pthread_cond_t done;    /* flushers: progress */
	weft_span *head, *tail;
	uint32_t queued;
	uint64_t ended;         /* spans handed to the queue or dropped at end */
	uint64_t finished;      /* of those: exported or dropped */
	bool flush_wanted;
	bool stopping;

	/* counters, under mu */
	weft_stats stats;
	uint64_t ack_us_log2[32]; /* batches acknowledged in [2^i, 2^(i+1)) µs */

	/* exporter thread */
	pthread_t thread;
	nng_socket sock;
};

/* Parses the sampler name and argument (OTEL_TRACES_SAMPLER spelling). */
int sdk_sampler_init(sdk_sampler *s, const char *name, const char *arg);
/* Decides whether a new span records. parent may be NULL. */
bool sdk_sampler_decide(const sdk_sampler *s, const weft_span_context *parent, const cm_trace_id *id);

/* Parses OTEL_RESOURCE_ATTRIBUTES syntax into t->resource. */
int sdk_resource_init(weft_tracer *t, const char *service, const char *attrs);

/* The exporter thread's body. */
void *sdk_exporter_main(void *arg);

/* Logs through the application's callback, if any. */
void sdk_log(weft_tracer *t, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The CLOCK_MONOTONIC time ms from now, for the tracer's condition variables. */
void sdk_deadline_in(struct timespec *ts, uint32_t ms);

/* Frees a span and its arena. */
void sdk_span_free(weft_span *s);

#endif
