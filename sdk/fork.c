/*
 * fork.c - keeping tracers usable across fork().
 *
 * prepare (parent, before fork): takes every tracer's mutex and the TSC
 * calibration lock (tsc.h), so that the child never inherits one held by
 * a thread it does not have.
 * parent (after fork): releases them.
 * child (after fork, one thread): releases them, re-initialises the
 * condition variables (glibc's may wait on the parent's vanished waiters),
 * forgets the parent's queue (the parent exports it; the child would send
 * it twice), the parent's connection and other threads' states, resets the
 * statistics, and bumps the fork generation so that spans the parent had
 * started are never exported by the child. The child's exporter thread
 * starts on its first ended span or flush (starting threads inside the
 * fork handler is not safe).
 */
#include <pthread.h>
#include <string.h>

#include "alloc.h"
#include "err.h"
#include "sdk_int.h"
#include "tsc.h"

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t registry_once = PTHREAD_ONCE_INIT;
static weft_tracer **registry;
static size_t nregistry, registry_cap;

static void
prepare(void)
{
	pthread_mutex_lock(&registry_mu);
	for (size_t i = 0; i < nregistry; i++)
		pthread_mutex_lock(&registry[i]->mu);
	sdk_tsc_fork_lock(); /* last: whoever holds it takes no other lock */
}

static void
parent(void)
{
	sdk_tsc_fork_unlock();
	for (size_t i = nregistry; i-- > 0;)
		pthread_mutex_unlock(&registry[i]->mu);
	pthread_mutex_unlock(&registry_mu);
}

static void
reset_counters(sdk_counters *c)
{
	_Atomic uint64_t *v = (_Atomic uint64_t *)c;
	for (size_t i = 0; i < sizeof *c / sizeof(uint64_t); i++)
		atomic_store_explicit(&v[i], 0, memory_order_relaxed);
}

/* Drops what ts's ring holds (the parent's spans); its spans go to their owners or are freed. */
static void
drop_ring(sdk_thread *self, sdk_thread *ts)
{
	weft_span *s;
	while ((s = sdk_ring_pop(&ts->ended)) != NULL) {
		if (s->owner == self)
			sdk_thread_give(self, s);
		else
			sdk_span_destroy(s);
	}
}

static void
child_tracer(weft_tracer *t)
{
	pthread_condattr_t ca;
	sdk_thread *self = pthread_getspecific(t->key);

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->wake, &ca);
	pthread_cond_init(&t->done, &ca);
	pthread_condattr_destroy(&ca);
	atomic_fetch_add_explicit(&t->gen, 1, memory_order_relaxed);
	for (sdk_thread *ts = t->threads; ts != NULL; ts = ts->next)
		drop_ring(self, ts);
	for (sdk_thread *ts = t->threads; ts != NULL; ts = ts->next) {
		reset_counters(&ts->c);
		if (ts == self)
			continue;
		/* Its thread does not exist here: the child's exporter reaps it once its spans are back. */
		while (ts->npool > 0)
			sdk_span_destroy(ts->pool[--ts->npool]);
		ts->credit = 0;
		atomic_store_explicit(&ts->dead, true, memory_order_relaxed);
	}
	reset_counters(&t->retired);
	atomic_store_explicit(&t->budget, t->max_queue_bytes - (self ? self->credit : 0), memory_order_relaxed);
	memset(&t->xstats, 0, sizeof t->xstats);
	memset(t->ack_us_log2, 0, sizeof t->ack_us_log2);
	t->finished = 0;
	t->kicked = t->flush_wanted = false;
	t->exporter_running = false;
	if (sdk_conn_after_fork(&t->conn) == 0)
		atomic_store_explicit(&t->need_exporter, !t->stopping, memory_order_relaxed);
	pthread_mutex_unlock(&t->mu);
}

static void
child(void)
{
	sdk_tsc_fork_unlock();
	for (size_t i = 0; i < nregistry; i++)
		child_tracer(registry[i]);
	pthread_mutex_unlock(&registry_mu);
}

static void
install(void)
{
	pthread_atfork(prepare, parent, child);
}

int
sdk_fork_register(weft_tracer *t)
{
	pthread_once(&registry_once, install);
	pthread_mutex_lock(&registry_mu);
	if (nregistry == registry_cap) {
		size_t cap = registry_cap ? registry_cap * 2 : 4;
		weft_tracer **v = cm_realloc(registry, cap * sizeof *v);
		if (v == NULL) {
			pthread_mutex_unlock(&registry_mu);
			return CM_ENOMEM;
		}
		registry = v;
		registry_cap = cap;
	}
	registry[nregistry++] = t;
	pthread_mutex_unlock(&registry_mu);
	return CM_OK;
}

void
sdk_fork_unregister(weft_tracer *t)
{
	pthread_mutex_lock(&registry_mu);
	for (size_t i = 0; i < nregistry; i++) {
		if (registry[i] == t) {
			registry[i] = registry[--nregistry];
			break;
		}
	}
	pthread_mutex_unlock(&registry_mu);
}
