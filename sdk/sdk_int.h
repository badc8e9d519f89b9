/*
 * sdk_int.h - libweft's internal structures, shared by sdk/ files only.
 *
 * Span life: a thread that uses a tracer gets an sdk_thread: a pool of
 * span objects it owns, a ring of spans it ended (it produces, the
 * exporter consumes) and a ring of its spans the exporter is done with
 * (the exporter produces, it consumes). weft_span_start() takes a span
 * from the pool, weft_span_end() pushes it on the ring; the exporter
 * encodes it and hands it back. No step takes a lock or allocates once the
 * pool is warm; the shared state is touched per batch, not per span.
 *
 * Memory: ended spans waiting for export are bounded by max_queue_bytes.
 * Threads reserve bytes from the tracer's budget in chunks (credit) and
 * spend them locally; the exporter returns a batch's bytes to the budget.
 * Open spans are the application's own concurrency and are not bounded
 * here; pools keep at most SDK_POOL_MAX idle spans each.
 */
#ifndef WEFT_SDK_INT_H
#define WEFT_SDK_INT_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

#include "arena.h"
#include "ring.h"
#include "span.h"
#include "transport.h"
#include "weft.h"

/*
 * Thread-locals of the SDK use the initial-exec model: from a shared
 * library the default model calls __tls_get_addr on every access.
 */
#define SDK_TLS __attribute__((tls_model("initial-exec")))
#define SDK_POOL_MAX 256 /* idle spans a thread keeps */

typedef enum sdk_sampler_kind {
	SAMPLER_ALWAYS_ON,
	SAMPLER_ALWAYS_OFF,
	SAMPLER_RATIO,
	SAMPLER_RATE_LIMIT,
} sdk_sampler_kind;

typedef struct sdk_sampler {
	sdk_sampler_kind root;  /* decision for spans without a parent */
	bool parent_based;      /* follow the parent's sampled flag when there is one */
	uint64_t ratio_bound;   /* RATIO: sample when the id's low 56 bits are below it */
	uint64_t interval_ns;   /* RATE_LIMIT: 1e9 / traces per second */
	uint64_t burst_ns;      /* RATE_LIMIT: how far ahead the schedule may run (one second) */
	_Atomic uint64_t tat;   /* RATE_LIMIT: theoretical arrival time of the next trace (GCRA) */
} sdk_sampler;

typedef struct sdk_limits {
	uint32_t attributes;
	uint32_t events;
	uint32_t event_attributes;
	uint32_t value_length;
} sdk_limits;

typedef struct sdk_thread sdk_thread;

/*
 * A span keeps its first attributes and its short strings (name, keys,
 * values) in itself: one object the exporter reads, no arena chunk to
 * allocate, find or reset for a typical span. The arena takes what does
 * not fit, events, and long strings.
 */
enum { SDK_INLINE_ATTRS = 8, SDK_SPAN_TEXT = 256 };

struct weft_span {
	cm_span rec;
	weft_tracer *tracer;
	sdk_thread *owner;       /* whose pool the span returns to */
	weft_span *prev_current; /* restored when this current span ends */
	cm_str baggage;          /* W3C baggage list; context only, never exported */
	uint32_t attr_cap;       /* slots at rec.attrs.v: attr_inline's, or a larger arena copy */
	uint32_t attr_fast;      /* slots the setters' fast path may fill: attr_cap, or the limit if lower */
	uint32_t event_cap;
	uint32_t gen;            /* the tracer's fork generation at start */
	uint32_t bytes;          /* charged to the queue budget at end */
	uint32_t text_used;      /* bytes of text handed out */
	uint8_t ids_pending;     /* unsampled: ids made on first use (span.c) */
	bool recording;
	bool current;
	bool ticks;              /* rec's start, end and event times are TSC ticks, for the exporter to convert (tsc.h) */
	cm_arena arena;          /* what does not fit below, and events */
	cm_attr attr_inline[SDK_INLINE_ATTRS];
	char text[SDK_SPAN_TEXT]; /* NUL-terminated strings, bump-allocated */
};

/* Counters a thread writes alone (relaxed stores) and weft_tracer_stats() sums. */
typedef struct sdk_counters {
	_Atomic uint64_t started;
	_Atomic uint64_t unsampled;
	_Atomic uint64_t pushed;   /* recording spans put on the ended ring */
	_Atomic uint64_t dropped;  /* ring full or budget spent at end */
	_Atomic uint64_t attributes_dropped;
	_Atomic uint64_t events_dropped;
	_Atomic uint64_t values_truncated;
} sdk_counters;

struct sdk_thread {
	weft_tracer *t;
	sdk_ring ended;          /* this thread -> exporter */
	sdk_ring freed;          /* exporter -> this thread: its spans, recycled */
	weft_span *pool[SDK_POOL_MAX]; /* idle spans, this thread only; a stack */
	uint32_t npool;
	int64_t credit;          /* bytes reserved from the budget, unspent */
	uint32_t until_kick;     /* spans to push before waking the exporter */
	sdk_counters c;
	_Atomic uint32_t nspans; /* span objects owned, alive anywhere */
	_Atomic bool dead;       /* the thread has exited; the exporter reaps */
	sdk_thread *next;        /* tracer's list, under t->mu */
};

struct weft_tracer {
	/* settings, fixed after create */
	uint64_t id;             /* unique per process, keys threads' caches */
	char *endpoint;
	char *auth_token;        /* NULL: none */
	uint32_t max_queue;
	uint32_t max_batch;
	uint32_t max_batch_bytes;
	uint32_t delay_ms;
	uint32_t export_timeout_ms;
	uint32_t shutdown_timeout_ms;
	uint32_t breaker_failures;
	uint32_t breaker_cooldown_ms;
	int64_t max_queue_bytes;
	unsigned propagators;
	sdk_limits limits;
	sdk_sampler sampler;
	weft_log_fn log_fn;
	void *log_arg;
	cm_arena arena;          /* resource and scope strings */
	cm_resource resource;
	cm_scope scope;
	pthread_key_t key;       /* the calling thread's sdk_thread */

	_Atomic int64_t budget;  /* bytes of max_queue_bytes not reserved */
	_Atomic uint32_t gen;    /* bumped in a forked child */
	_Atomic bool need_exporter; /* a forked child starts its exporter lazily */

	/* under mu */
	pthread_mutex_t mu;
	pthread_cond_t wake;     /* exporter: work, flush or shutdown */
	pthread_cond_t done;     /* flushers: progress */
	sdk_thread *threads;
	sdk_counters retired;    /* counters of threads that have been reaped */
	uint64_t finished;       /* recording spans the exporter is done with */
	bool kicked;
	bool flush_wanted;
	bool stopping;
	bool exporter_running;
	weft_stats xstats;       /* exporter's: exported, dropped, batches, retries, breaker */
	uint64_t ack_us_log2[32];/* batches acknowledged in [2^i, 2^(i+1)) µs */

	/* exporter thread */
	pthread_t thread;
	sdk_conn conn;
};

/* Parses the sampler name and argument (OTEL_TRACES_SAMPLER spelling). */
int sdk_sampler_init(sdk_sampler *s, const char *name, const char *arg);
/* RATE_LIMIT's decision: takes a token when one is due. */
bool sdk_sampler_rate_allows(sdk_sampler *s);

/* Whether deciding for this parent (NULL: a root) reads the trace id. */
static inline bool
sdk_sampler_reads_id(const sdk_sampler *s, const weft_span_context *parent)
{
	return s->root == SAMPLER_RATIO && !(parent != NULL && s->parent_based);
}

/* Decides whether a new span records. parent may be NULL. Inline: every span start asks. */
static inline bool
sdk_sampler_decide(sdk_sampler *s, const weft_span_context *parent, const cm_trace_id *id)
{
	uint64_t low = 0;

	if (parent != NULL && s->parent_based)
		return (parent->flags & WEFT_FLAG_SAMPLED) != 0;
	switch (s->root) {
	case SAMPLER_ALWAYS_ON:
		return true;
	case SAMPLER_ALWAYS_OFF:
		return false;
	case SAMPLER_RATIO:
		for (int i = 9; i < 16; i++)
			low = low << 8 | id->b[i];
		return low < s->ratio_bound;
	case SAMPLER_RATE_LIMIT:
		return sdk_sampler_rate_allows(s);
	}
	return false;
}

/* Parses OTEL_RESOURCE_ATTRIBUTES syntax into t->resource. */
int sdk_resource_init(weft_tracer *t, const char *service, const char *attrs);

/* The calling thread's state for the tracer it used last (thread.c). */
typedef struct sdk_tls_cache {
	uint64_t tracer_id;
	sdk_thread *ts;
} sdk_tls_cache;
extern _Thread_local sdk_tls_cache sdk_tls SDK_TLS;

/* sdk_thread_get() past the cache: the thread's state for t, created on first use. */
sdk_thread *sdk_thread_get_slow(weft_tracer *t);

/* The calling thread's state for t if the thread-local cache holds it, else NULL; calls nothing. */
static inline sdk_thread *
sdk_thread_cached(const weft_tracer *t)
{
	return sdk_tls.tracer_id == t->id ? sdk_tls.ts : NULL;
}

/*
 * The calling thread's state for t, created on first use; NULL when out of
 * memory. Inline: every span start and end asks, and a call was a tenth of
 * an unsampled span.
 */
static inline sdk_thread *
sdk_thread_get(weft_tracer *t)
{
	sdk_thread *ts = sdk_thread_cached(t);
	return ts != NULL ? ts : sdk_thread_get_slow(t);
}
/* The tracer key's destructor: the thread is exiting. */
void sdk_thread_exit(void *arg);
/* Frees s (any thread); its owner's count of spans drops. */
void sdk_span_destroy(weft_span *s);
/* sdk_thread_take() when the pool is empty: takes back what the exporter recycled, or makes a span. */
weft_span *sdk_thread_take_slow(sdk_thread *ts);

/*
 * Brings in ahead of its use the lines of s that a span with a few
 * attributes writes: the record and fields, the first attribute slots,
 * the start of the text. A recycled span was last read by the exporter
 * on another core, and the stores that start and fill it otherwise each
 * wait for a line to come back. (A read prefetch without -mprfchw;
 * PREFETCHW measured the same, and so did prefetching all 14 lines,
 * which takes more of the core's line fill buffers.) always_inline, here
 * and in sdk_thread_prefetch_next(): gcc judges a function that only
 * prefetches pure and deletes calls to it that it has not inlined yet,
 * which took the prefetch out of one build unnoticed: +30% per span.
 */
static inline __attribute__((always_inline)) void
sdk_span_prefetch(const weft_span *s)
{
	const char *p = (const char *)s;
#pragma GCC unroll 8
	for (size_t off = 0; off < offsetof(weft_span, attr_inline[4]); off += 64)
		__builtin_prefetch(p + off, 1, 3);
	__builtin_prefetch(s->text, 1, 3);
	__builtin_prefetch(s->text + 64, 1, 3);
}

/* Prefetches the span sdk_thread_take() returns next; a recording span's start asks (an unsampled one writes little). */
static inline __attribute__((always_inline)) void
sdk_thread_prefetch_next(const sdk_thread *ts)
{
	if (ts->npool != 0)
		sdk_span_prefetch(ts->pool[ts->npool - 1]);
}

/* A span from ts's pool (taking back what the exporter recycled), or a new one; NULL when out of memory. */
static inline weft_span *
sdk_thread_take(sdk_thread *ts)
{
	if (ts->npool == 0)
		return sdk_thread_take_slow(ts);
	return ts->pool[--ts->npool];
}

/* Returns s to ts's pool (ts must be the calling thread's and s's owner); its arena keeps one chunk. */
static inline void
sdk_thread_give(sdk_thread *ts, weft_span *s)
{
	if (ts->npool >= SDK_POOL_MAX) {
		sdk_span_destroy(s);
		return;
	}
	cm_arena_reset(&s->arena);
	ts->pool[ts->npool++] = s;
}
/* Exporter side: hands s back to its owner, or frees it if the owner is gone. */
void sdk_span_recycle(weft_span *s);
/* Merges attributes set more than once under one key: the first one's place, the last one's value. */
void sdk_attrs_dedup(cm_attrs *a);
/* Exporter side: frees dead threads whose rings are drained and whose spans are all back. */
void sdk_threads_reap(weft_tracer *t);
/* Frees every thread state and span (tracer destroy, exporter stopped). */
void sdk_threads_free(weft_tracer *t);
/* sdk_budget_take() when the thread's credit is short: reserves more from the tracer's budget. */
bool sdk_budget_take_slow(sdk_thread *ts, int64_t n);

/* Reserves n bytes of queue budget for ts; false when the budget is spent. */
static inline bool
sdk_budget_take(sdk_thread *ts, int64_t n)
{
	if (ts->credit < n)
		return sdk_budget_take_slow(ts, n);
	ts->credit -= n;
	return true;
}

/* Relaxed increment of a counter only one thread writes. */
static inline void
sdk_count(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

/* Starts the exporter thread (t->mu held). Returns CM_OK or CM_ENOMEM. */
int sdk_exporter_start(weft_tracer *t);
/* The exporter thread's body. */
void *sdk_exporter_main(void *arg);
/* Wakes the exporter because a batch is ready. */
void sdk_exporter_kick(weft_tracer *t);

/* Registers t for fork handling (CM_OK or CM_ENOMEM) / forgets it. */
int sdk_fork_register(weft_tracer *t);
void sdk_fork_unregister(weft_tracer *t);

/* Logs through the application's callback, if any. */
void sdk_log(weft_tracer *t, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The CLOCK_MONOTONIC time ms from now, for the tracer's condition variables. */
void sdk_deadline_in(struct timespec *ts, uint32_t ms);

#endif
