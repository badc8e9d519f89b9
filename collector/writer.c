/*
 * writer.c - one thread turning queued batches into large RocksDB writes.
 *
 * Requests live on their callers' stacks; the queue links them under `mu`.
 * A caller waits on its own semaphore, which the writer posts once it has
 * set the result: one wake-up for each caller of a write, where a
 * condition variable broadcast woke every waiting caller, each then
 * queueing for `mu` (futex calls were 8% of the collector's CPU). Once idle
 * for ST_DEPS_WRITE_MS after a write, the writer writes the dependency
 * totals the store counted and has not written yet (store.h).
 */
#include "writer.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <time.h>

#include "alloc.h"
#include "clock.h"
#include "err.h"
#include "log.h"

typedef struct request {
	const cm_batch *batch;
	int rv;
	sem_t done; /* posted after rv is set; the caller may return at once (glibc's sem_post allows that) */
	struct request *next;
} request;

struct col_writer {
	st_store *store;
	col_metrics *metrics;
	col_writer_config cfg;
	pthread_mutex_t mu;
	pthread_cond_t work;
	request *head, *tail;
	uint64_t queued_spans;
	bool stopping;
	pthread_t thread;
	const cm_batch **batches; /* writer thread's scratch */
	size_t cap;
};

/* Takes queued requests up to max_spans (at least one) off the queue, under mu. */
static request *
take(col_writer *w, size_t *n)
{
	request *first = w->head, *last = first;
	uint64_t spans = first->batch->nspans;

	*n = 1;
	while (last->next != NULL && spans + last->next->batch->nspans <= w->cfg.max_spans) {
		last = last->next;
		spans += last->batch->nspans;
		(*n)++;
	}
	w->head = last->next;
	if (w->head == NULL)
		w->tail = NULL;
	last->next = NULL;
	w->queued_spans -= spans;
	return first;
}

/* The CLOCK_MONOTONIC time us from now, for timed waits on `work`. */
static struct timespec
deadline_in(uint64_t us)
{
	struct timespec ts;
	uint64_t ns;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ns = (uint64_t)ts.tv_nsec + us * 1000u;
	ts.tv_sec += (time_t)(ns / 1000000000u);
	ts.tv_nsec = (long)(ns % 1000000000u);
	return ts;
}

static void
linger(col_writer *w)
{
	struct timespec ts;

	if (w->cfg.linger_us == 0 || w->queued_spans >= w->cfg.max_spans || w->stopping)
		return;
	ts = deadline_in(w->cfg.linger_us);
	while (w->queued_spans < w->cfg.max_spans && !w->stopping &&
	    pthread_cond_timedwait(&w->work, &w->mu, &ts) != ETIMEDOUT)
		;
}

/*
 * Waits (mu held) for a request or stop. After a write (*deps_due), the
 * wait is bounded: idle for ST_DEPS_WRITE_MS, the dependency totals are
 * written, and the wait goes on unbounded.
 */
static void
wait_for_work(col_writer *w, bool *deps_due)
{
	struct timespec ts = deadline_in((uint64_t)ST_DEPS_WRITE_MS * 1000u);

	while (w->head == NULL && !w->stopping) {
		if (!*deps_due) {
			pthread_cond_wait(&w->work, &w->mu);
		} else if (pthread_cond_timedwait(&w->work, &w->mu, &ts) == ETIMEDOUT) {
			pthread_mutex_unlock(&w->mu);
			st_store_write_deps(w->store); /* a failure is logged */
			pthread_mutex_lock(&w->mu);
			*deps_due = false;
		}
	}
}

static void *
writer_main(void *arg)
{
	col_writer *w = arg;
	bool deps_due = false;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		request *list;
		size_t n, i = 0;
		uint64_t t0, spans = 0;
		int rv;

		wait_for_work(w, &deps_due);
		if (w->head == NULL)
			break; /* stopping and drained */
		linger(w);
		list = take(w, &n);
		pthread_mutex_unlock(&w->mu);

		if (n > w->cap) {
			const cm_batch **b = cm_realloc(w->batches, n * sizeof *b);
			if (b != NULL) {
				w->batches = b;
				w->cap = n;
			}
		}
		if (n <= w->cap) {
			for (request *r = list; r != NULL; r = r->next) {
				w->batches[i++] = r->batch;
				spans += r->batch->nspans;
			}
			t0 = cm_mono_ns();
			rv = st_store_write_many(w->store, w->batches, n);
			deps_due = true;
			if (rv == CM_OK)
				col_metrics_observe_write(w->metrics, (cm_mono_ns() - t0) / 1000, (uint32_t)spans);
			else
				atomic_fetch_add_explicit(&w->metrics->write_errors, 1, memory_order_relaxed);
		} else {
			rv = CM_ENOMEM;
		}

		for (request *r = list, *next; r != NULL; r = next) {
			next = r->next; /* r may vanish once done is posted */
			r->rv = rv;
			sem_post(&r->done);
		}
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

int
col_writer_start(st_store *store, col_metrics *m, const col_writer_config *cfg, col_writer **out)
{
	col_writer *w = cm_calloc(1, sizeof *w);
	pthread_condattr_t ca;

	if (w == NULL)
		return CM_ENOMEM;
	w->store = store;
	w->metrics = m;
	w->cfg = *cfg;
	if (w->cfg.max_spans == 0)
		w->cfg.max_spans = 65536;
	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->work, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->work);
		cm_free(w);
		return CM_ENOMEM;
	}
	*out = w;
	return CM_OK;
}

int
col_writer_write(col_writer *w, const cm_batch *b)
{
	request r = { .batch = b };

	sem_init(&r.done, 0, 0);
	pthread_mutex_lock(&w->mu);
	if (w->stopping) {
		pthread_mutex_unlock(&w->mu);
		sem_destroy(&r.done);
		return CM_ECLOSED;
	}
	if (w->tail)
		w->tail->next = &r;
	else
		w->head = &r;
	w->tail = &r;
	w->queued_spans += b->nspans;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->mu);
	while (sem_wait(&r.done) != 0) /* EINTR */
		;
	sem_destroy(&r.done);
	return r.rv;
}

void
col_writer_stop(col_writer *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stopping = true;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->work);
	cm_free(w->batches);
	cm_free(w);
}
