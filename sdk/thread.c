/*
 * thread.c - per-thread span pools, rings and queue budget.
 *
 * A thread's sdk_thread is found through a one-entry thread-local cache
 * (tracer id -> state), else the tracer's pthread key. When the thread
 * exits, the key's destructor marks the state dead and gives its idle
 * spans back; the exporter frees the state once its rings are drained and
 * every span it owns has come home (spans may end on other threads).
 */
#include <string.h>

#include "alloc.h"
#include "sdk_int.h"

enum {
	FREED_RING = 1024,     /* recycled spans in flight back to a thread */
	SPAN_ARENA_CHUNK = 1024,
	CREDIT_CHUNK = 64 << 10,
};

_Thread_local sdk_tls_cache sdk_tls SDK_TLS;

bool
sdk_ring_init(sdk_ring *r, uint32_t cap)
{
	uint32_t n = 1;
	while (n < cap)
		n <<= 1;
	memset(r, 0, sizeof *r);
	r->mask = n - 1;
	r->slot = cm_calloc(n, sizeof *r->slot);
	return r->slot != NULL;
}

void
sdk_ring_fini(sdk_ring *r)
{
	cm_free(r->slot);
	r->slot = NULL;
}

void
sdk_span_destroy(weft_span *s)
{
	sdk_thread *owner = s->owner;
	cm_arena_fini(&s->arena);
	cm_free(s);
	atomic_fetch_sub_explicit(&owner->nspans, 1, memory_order_release);
}

/* The key's destructor: runs on the exiting thread. */
void
sdk_thread_exit(void *arg)
{
	sdk_thread *ts = arg;

	while (ts->npool > 0)
		sdk_span_destroy(ts->pool[--ts->npool]);
	if (ts->credit > 0)
		atomic_fetch_add_explicit(&ts->t->budget, ts->credit, memory_order_relaxed);
	ts->credit = 0;
	if (sdk_tls.ts == ts)
		sdk_tls.ts = NULL, sdk_tls.tracer_id = 0;
	atomic_store_explicit(&ts->dead, true, memory_order_release);
	sdk_exporter_kick(ts->t);
}

static void
thread_free(sdk_thread *ts)
{
	sdk_ring_fini(&ts->ended);
	sdk_ring_fini(&ts->freed);
	cm_free(ts);
}

static sdk_thread *
thread_new(weft_tracer *t)
{
	sdk_thread *ts = cm_calloc(1, sizeof *ts);

	if (ts == NULL)
		return NULL;
	ts->t = t;
	ts->until_kick = t->max_batch;
	if (!sdk_ring_init(&ts->ended, t->max_queue) || !sdk_ring_init(&ts->freed, FREED_RING) ||
	    pthread_setspecific(t->key, ts) != 0) {
		thread_free(ts);
		return NULL;
	}
	pthread_mutex_lock(&t->mu);
	ts->next = t->threads;
	t->threads = ts;
	pthread_mutex_unlock(&t->mu);
	return ts;
}

sdk_thread *
sdk_thread_get_slow(weft_tracer *t)
{
	sdk_thread *ts;

	if ((ts = pthread_getspecific(t->key)) == NULL && (ts = thread_new(t)) == NULL)
		return NULL;
	sdk_tls.tracer_id = t->id;
	sdk_tls.ts = ts;
	return ts;
}

weft_span *
sdk_thread_take_slow(sdk_thread *ts)
{
	weft_span *s;

	while (ts->npool < SDK_POOL_MAX && (s = sdk_ring_pop(&ts->freed)) != NULL)
		ts->pool[ts->npool++] = s;
	if (ts->npool != 0)
		return sdk_thread_take(ts);
	if ((s = cm_malloc(sizeof *s)) == NULL)
		return NULL;
	cm_arena_init(&s->arena, SPAN_ARENA_CHUNK);
	s->owner = ts;
	atomic_fetch_add_explicit(&ts->nspans, 1, memory_order_relaxed);
	return s;
}

void
sdk_span_recycle(weft_span *s)
{
	sdk_thread *owner = s->owner;

	cm_arena_reset(&s->arena); /* it keeps one chunk */
	if (atomic_load_explicit(&owner->dead, memory_order_acquire) || !sdk_ring_push(&owner->freed, s))
		sdk_span_destroy(s);
}

bool
sdk_budget_take_slow(sdk_thread *ts, int64_t n)
{
	weft_tracer *t = ts->t;
	int64_t want, got;

	/* Reserve a chunk (or what the request needs) from the shared budget. */
	want = n - ts->credit;
	if (want < CREDIT_CHUNK && CREDIT_CHUNK <= t->max_queue_bytes / 16)
		want = CREDIT_CHUNK;
	got = atomic_fetch_sub_explicit(&t->budget, want, memory_order_relaxed);
	if (got < want) {
		atomic_fetch_add_explicit(&t->budget, want, memory_order_relaxed);
		return false;
	}
	ts->credit += want - n;
	return true;
}

static void
retire_counters(weft_tracer *t, sdk_thread *ts)
{
	_Atomic uint64_t *from = (_Atomic uint64_t *)&ts->c, *to = (_Atomic uint64_t *)&t->retired;
	for (size_t i = 0; i < sizeof ts->c / sizeof(uint64_t); i++)
		sdk_count(&to[i], atomic_load_explicit(&from[i], memory_order_relaxed));
}

void
sdk_threads_reap(weft_tracer *t)
{
	sdk_thread **pp;

	pthread_mutex_lock(&t->mu);
	pp = &t->threads;
	while (*pp != NULL) {
		sdk_thread *ts = *pp;
		weft_span *s;
		if (!atomic_load_explicit(&ts->dead, memory_order_acquire)) {
			pp = &ts->next;
			continue;
		}
		/* Dead: the exporter alone touches it now. Spans recycled to it after its exit are freed here. */
		while ((s = sdk_ring_pop(&ts->freed)) != NULL)
			sdk_span_destroy(s);
		if (sdk_ring_size(&ts->ended) != 0 || atomic_load_explicit(&ts->nspans, memory_order_acquire) != 0) {
			pp = &ts->next;
			continue;
		}
		retire_counters(t, ts);
		*pp = ts->next;
		thread_free(ts);
	}
	pthread_mutex_unlock(&t->mu);
}

void
sdk_threads_free(weft_tracer *t)
{
	sdk_thread *ts, *next;
	weft_span *s;

	/* Spans first (they may belong to any thread), then the states. */
	for (ts = t->threads; ts != NULL; ts = ts->next) {
		while ((s = sdk_ring_pop(&ts->ended)) != NULL)
			sdk_span_destroy(s);
		while ((s = sdk_ring_pop(&ts->freed)) != NULL)
			sdk_span_destroy(s);
		while (ts->npool > 0)
			sdk_span_destroy(ts->pool[--ts->npool]);
	}
	for (ts = t->threads; ts != NULL; ts = next) {
		next = ts->next;
		thread_free(ts);
	}
	t->threads = NULL;
	if (sdk_tls.tracer_id == t->id)
		sdk_tls.ts = NULL, sdk_tls.tracer_id = 0;
}
