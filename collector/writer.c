/*
 * writer.c - a stager thread that acknowledges, an assembler thread that writes.
 *
 * Requests live on their callers' stacks; the queue links them under `mu`.
 * A caller waits on its own semaphore, which the stager posts once it has
 * set the result: one wake-up for each caller of a write, where a
 * condition variable broadcast woke every waiting caller, each then
 * queueing for `mu` (futex calls were 8% of the collector's CPU).
 *
 * `pend` lists the staged records not yet written, in order, each with
 * its batch: the stager appends what it staged, taking the caller's batch
 * (decoding it again from the record took native ingest per core to x0.77
 * of the build before; keeping it, x0.92), and the assembler takes a
 * prefix of up to max_spans and removes it once written. Records found
 * staged at start (a crash left them) are decoded and cleaned first, and
 * due at once. Once idle for
 * ST_DEPS_WRITE_MS after a write, the assembler writes the dependency
 * totals the store counted and has not written yet (store.h).
 */
#include "writer.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <time.h>

#include "alloc.h"
#include "buf.h"
#include "clock.h"
#include "err.h"
#include "log.h"
#include "wire.h"

/* How long the stager waits for the assembler to catch up before answering CM_EAGAIN. */
#define ROOM_WAIT_MS 2000
/* How long the assembler waits after a failed write before it tries again. */
#define RETRY_WRITE_MS 1000

typedef struct request {
	cm_batch *batch; /* moved into the writer once staged */
	const void *raw;
	size_t raw_len;
	cm_batch *held;  /* where it is moved: allocated by the stager before it stages */
	int rv;
	sem_t done; /* posted after rv is set; the caller may return at once (glibc's sem_post allows that) */
	struct request *next;
} request;

/* A staged record not written yet, and its batch. */
typedef struct staged {
	uint64_t seq;
	uint64_t at_ns; /* monotonic time it was staged; 0: found staged at start */
	cm_batch *batch;
} staged;

struct col_writer {
	st_store *store;
	col_metrics *metrics;
	col_writer_config cfg;
	pthread_mutex_t mu;
	pthread_cond_t work; /* stager: a request queued, or stopping */
	pthread_cond_t due;  /* assembler: a record staged, or the stager done */
	pthread_cond_t room; /* stager: the assembler wrote, or stopping */
	request *head, *tail;
	staged *pend;
	size_t npend, cappend;
	uint64_t staged_spans;
	bool stopping, stager_done;
	pthread_t stager, assembler;
	st_record *recs; /* the stager's */
	size_t caprecs;
	const cm_batch **group; /* the assembler's: one write's batches */
	size_t capgroup;
};

/* Staged records were checked against the receivers' limits when they came. */
static const cm_wire_limits staged_limits = { SIZE_MAX, UINT32_MAX, UINT32_MAX };

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
	return first;
}

/* The CLOCK_MONOTONIC time ns (cm_mono_ns()'s clock) as a deadline for the condition variables. */
static struct timespec
deadline_at(uint64_t ns)
{
	return (struct timespec){ .tv_sec = (time_t)(ns / 1000000000u), .tv_nsec = (long)(ns % 1000000000u) };
}

/* Makes room for n more entries in pend (mu held). */
static int
reserve(col_writer *w, size_t n)
{
	if (w->npend + n > w->cappend) {
		size_t cap = w->cappend ? w->cappend : 256;
		while (cap < w->npend + n)
			cap *= 2;
		staged *p = cm_realloc(w->pend, cap * sizeof *p);
		if (p == NULL)
			return CM_ENOMEM;
		w->pend = p;
		w->cappend = cap;
	}
	return CM_OK;
}

/* Publishes the staged counts as gauges (mu held). */
static void
publish(col_writer *w)
{
	atomic_store_explicit(&w->metrics->staged_batches, w->npend, memory_order_relaxed);
	atomic_store_explicit(&w->metrics->staged_spans, w->staged_spans, memory_order_relaxed);
}

static void
free_batch(cm_batch *b)
{
	if (b != NULL)
		cm_batch_fini(b);
	cm_free(b);
}

/* ---- the stager ---- */

/*
 * Waits (mu held) while 1.25 x max_spans are kept and not written (what
 * bounds the writer's memory), at most ROOM_WAIT_MS; false if there is
 * still no room.
 */
static bool
wait_for_room(col_writer *w)
{
	uint64_t limit = (uint64_t)w->cfg.max_spans + w->cfg.max_spans / 4;
	struct timespec ts = deadline_at(cm_mono_ns() + ROOM_WAIT_MS * 1000000ull);

	while (w->staged_spans >= limit && !w->stopping && pthread_cond_timedwait(&w->room, &w->mu, &ts) != ETIMEDOUT)
		;
	return w->staged_spans < limit || w->stopping;
}

/* Fills w->recs[0..n) with list's records and gives each request a batch to be moved into. */
static int
prepare(col_writer *w, request *list, size_t n)
{
	size_t i = 0;

	if (n > w->caprecs) {
		st_record *r = cm_realloc(w->recs, n * sizeof *r);
		if (r == NULL)
			return CM_ENOMEM;
		w->recs = r;
		w->caprecs = n;
	}
	for (request *r = list; r != NULL; r = r->next, i++) {
		if ((r->held = cm_malloc(sizeof *r->held)) == NULL)
			return CM_ENOMEM;
		w->recs[i] = (st_record){ r->raw, r->raw_len };
	}
	return CM_OK;
}

/*
 * Stages list's n requests in one write; on CM_OK moves their batches
 * into pend (room reserved by the caller). mu not held.
 */
static int
stage(col_writer *w, request *list, size_t n)
{
	uint64_t first, now;
	int rv = prepare(w, list, n);

	if (rv == CM_OK)
		rv = st_stage(w->store, w->recs, n, &first);
	if (rv != CM_OK) {
		for (request *r = list; r != NULL; r = r->next) {
			cm_free(r->held);
			r->held = NULL;
		}
		return rv;
	}
	now = cm_mono_ns();
	pthread_mutex_lock(&w->mu);
	for (request *r = list; r != NULL; r = r->next) {
		*r->held = *r->batch;
		cm_batch_init(r->batch);
		w->pend[w->npend++] = (staged){ first++, now, r->held };
		w->staged_spans += r->held->nspans;
	}
	publish(w);
	pthread_cond_signal(&w->due);
	pthread_mutex_unlock(&w->mu);
	return CM_OK;
}

static void *
stager_main(void *arg)
{
	col_writer *w = arg;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		request *list;
		size_t n;
		int rv;

		while (w->head == NULL && !w->stopping)
			pthread_cond_wait(&w->work, &w->mu);
		if (w->head == NULL)
			break; /* stopping and drained */
		rv = wait_for_room(w) ? CM_OK : CM_EAGAIN;
		list = take(w, &n);
		if (rv == CM_OK)
			rv = reserve(w, n);
		pthread_mutex_unlock(&w->mu);

		if (rv == CM_OK)
			rv = stage(w, list, n);
		for (request *r = list, *next; r != NULL; r = next) {
			next = r->next; /* r may vanish once done is posted */
			r->rv = rv;
			sem_post(&r->done);
		}
		pthread_mutex_lock(&w->mu);
	}
	w->stager_done = true;
	pthread_cond_signal(&w->due);
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* ---- the assembler ---- */

/*
 * Takes (mu held) the first staged batches, up to max_spans spans (at
 * least one batch), into w->group; OUT: *n, *spans. They stay in pend
 * until written.
 */
static int
take_group(col_writer *w, size_t *n, uint64_t *spans)
{
	size_t k = 0;

	*spans = 0;
	while (k < w->npend && (k == 0 || *spans + w->pend[k].batch->nspans <= w->cfg.max_spans))
		*spans += w->pend[k++].batch->nspans;
	if (k > w->capgroup) {
		const cm_batch **g = cm_realloc(w->group, k * sizeof *g);
		if (g == NULL)
			return CM_ENOMEM;
		w->group = g;
		w->capgroup = k;
	}
	for (size_t i = 0; i < k; i++)
		w->group[i] = w->pend[i].batch;
	*n = k;
	return CM_OK;
}

/* Forgets the first n staged batches, now written (mu held); the caller frees them (w->group). */
static void
written(col_writer *w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		w->staged_spans -= w->pend[i].batch->nspans;
	w->npend -= n;
	memmove(w->pend, w->pend + n, w->npend * sizeof *w->pend);
	publish(w);
	pthread_cond_broadcast(&w->room);
}

/* Whether a write is due (mu held); if not, *wake is when one will be (0: when signalled). */
static bool
write_due(const col_writer *w, uint64_t *wake)
{
	*wake = 0;
	if (w->npend == 0)
		return false;
	if (w->stager_done || w->staged_spans >= w->cfg.max_spans || w->pend[0].at_ns == 0)
		return true;
	*wake = w->pend[0].at_ns + w->cfg.window_ns;
	return cm_mono_ns() >= *wake;
}

/*
 * Waits (mu held) until wake (0: until signalled). After a write
 * (*deps_due), idle for ST_DEPS_WRITE_MS, the dependency totals are
 * written first.
 */
static void
wait_for_due(col_writer *w, uint64_t wake, bool *deps_due, uint64_t written_ns)
{
	uint64_t deps_at = written_ns + (uint64_t)ST_DEPS_WRITE_MS * 1000000u;
	uint64_t until = *deps_due && (wake == 0 || deps_at < wake) ? deps_at : wake;
	struct timespec ts = deadline_at(until);

	if (until == 0) {
		pthread_cond_wait(&w->due, &w->mu);
	} else if (pthread_cond_timedwait(&w->due, &w->mu, &ts) == ETIMEDOUT && *deps_due && until == deps_at) {
		pthread_mutex_unlock(&w->mu);
		st_store_write_deps(w->store); /* a failure is logged */
		pthread_mutex_lock(&w->mu);
		*deps_due = false;
	}
}

static void *
assembler_main(void *arg)
{
	col_writer *w = arg;
	bool deps_due = false;
	uint64_t written_ns = 0;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		uint64_t wake, from, below, spans, t0;
		struct timespec ts;
		size_t n;
		int rv;

		if (!write_due(w, &wake)) {
			if (w->npend == 0 && w->stager_done)
				break;
			wait_for_due(w, wake, &deps_due, written_ns);
			continue;
		}
		rv = take_group(w, &n, &spans);
		if (rv == CM_OK) {
			from = w->pend[0].seq;
			below = w->pend[n - 1].seq + 1;
			pthread_mutex_unlock(&w->mu);
			t0 = cm_mono_ns();
			rv = st_store_write_staged(w->store, w->group, n, from, below);
			if (rv == CM_OK)
				col_metrics_observe_write(w->metrics, (cm_mono_ns() - t0) / 1000, (uint32_t)spans);
			pthread_mutex_lock(&w->mu);
		}
		if (rv == CM_OK) {
			written(w, n);
			pthread_mutex_unlock(&w->mu);
			for (size_t i = 0; i < n; i++)
				free_batch((cm_batch *)w->group[i]);
			deps_due = true;
			written_ns = cm_mono_ns();
			pthread_mutex_lock(&w->mu);
			continue;
		}
		atomic_fetch_add_explicit(&w->metrics->write_errors, 1, memory_order_relaxed);
		cm_log(CM_LOG_ERROR, "COL-WRITE", "writing %zu staged batches failed: %s (they stay staged)", w->npend,
		    cm_strerror(rv));
		if (w->stager_done) {
			cm_log(CM_LOG_ERROR, "COL-STOP-STAGED", "stopping: the staged batches are written at the next start");
			break;
		}
		ts = deadline_at(cm_mono_ns() + RETRY_WRITE_MS * 1000000ull);
		pthread_cond_timedwait(&w->due, &w->mu, &ts);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* ---- life ---- */

typedef struct adoption {
	col_writer *w;
	cm_wire_codec codec;
} adoption;

/* st_staged_each()'s callback at start: a record a crash left staged, decoded and cleaned, due at once. */
static int
adopt_record(void *arg, uint64_t seq, const void *data, size_t len)
{
	adoption *a = arg;
	col_writer *w = a->w;
	const char *why = NULL;
	col_clean_result c;
	cm_batch *b;
	int rv;

	if ((rv = reserve(w, 1)) != CM_OK || (b = cm_malloc(sizeof *b)) == NULL)
		return CM_ENOMEM;
	cm_batch_init(b);
	rv = cm_wire_decode_batch(&a->codec, data, len, &staged_limits, b, &why);
	if (rv == CM_ENOMEM) {
		free_batch(b);
		return rv;
	}
	if (rv != CM_OK) {
		/* Only a damaged store or a bug gets here: say so, and write the rest. */
		cm_log(CM_LOG_ERROR, "COL-STAGED-BAD", "staged record %llu cannot be read (%s): its spans are dropped",
		    (unsigned long long)seq, why);
		atomic_fetch_add_explicit(&w->metrics->write_errors, 1, memory_order_relaxed);
		cm_batch_fini(b);
		cm_batch_init(b); /* an empty batch: its write deletes the record */
	}
	col_clean(&w->cfg.limits, b, &c); /* a native request is staged as it came */
	w->pend[w->npend++] = (staged){ seq, 0, b };
	w->staged_spans += b->nspans;
	return CM_OK;
}

/* Lists the records a crash left staged, due at once. */
static int
adopt_staged(col_writer *w)
{
	adoption a = { .w = w };
	uint64_t first, next;
	int rv = st_staged_range(w->store, &first, &next);

	if (rv != CM_OK || first == next)
		return rv;
	if ((rv = cm_wire_codec_init(&a.codec)) != CM_OK)
		return rv;
	rv = st_staged_each(w->store, first, next, adopt_record, &a);
	cm_wire_codec_fini(&a.codec);
	publish(w);
	if (rv == CM_OK)
		cm_log(CM_LOG_INFO, "COL-STAGED", "%zu acknowledged batches (%llu spans) were staged and not written: "
		    "writing them", w->npend, (unsigned long long)w->staged_spans);
	return rv;
}

static void
destroy(col_writer *w)
{
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->work);
	pthread_cond_destroy(&w->due);
	pthread_cond_destroy(&w->room);
	for (size_t i = 0; i < w->npend; i++)
		free_batch(w->pend[i].batch);
	cm_free(w->pend);
	cm_free(w->recs);
	cm_free(w->group);
	cm_free(w);
}

int
col_writer_start(st_store *store, col_metrics *m, const col_writer_config *cfg, col_writer **out)
{
	col_writer *w = cm_calloc(1, sizeof *w);
	pthread_condattr_t ca;
	int rv;

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
	pthread_cond_init(&w->due, &ca);
	pthread_cond_init(&w->room, &ca);
	pthread_condattr_destroy(&ca);
	if ((rv = adopt_staged(w)) != CM_OK) {
		destroy(w);
		return rv;
	}
	if (pthread_create(&w->stager, NULL, stager_main, w) != 0) {
		destroy(w);
		return CM_ENOMEM;
	}
	if (pthread_create(&w->assembler, NULL, assembler_main, w) != 0) {
		pthread_mutex_lock(&w->mu);
		w->stopping = true;
		pthread_cond_signal(&w->work);
		pthread_mutex_unlock(&w->mu);
		pthread_join(w->stager, NULL);
		destroy(w);
		return CM_ENOMEM;
	}
	*out = w;
	return CM_OK;
}

/* ---- callers ---- */

static pthread_key_t codec_key;
static pthread_once_t codec_once = PTHREAD_ONCE_INIT;

static void
codec_free(void *c)
{
	cm_wire_codec_fini(c);
	cm_free(c);
}

static void
codec_key_create(void)
{
	pthread_key_create(&codec_key, codec_free);
}

/* The calling thread's codec (freed when the thread exits); NULL when out of memory. */
static cm_wire_codec *
thread_codec(void)
{
	cm_wire_codec *c;

	pthread_once(&codec_once, codec_key_create);
	if ((c = pthread_getspecific(codec_key)) != NULL)
		return c;
	if ((c = cm_malloc(sizeof *c)) == NULL)
		return NULL;
	if (cm_wire_codec_init(c) != CM_OK) {
		cm_free(c);
		return NULL;
	}
	pthread_setspecific(codec_key, c);
	return c;
}

/* Queues r and waits for the stager's answer. */
static int
submit(col_writer *w, request *r)
{
	sem_init(&r->done, 0, 0);
	pthread_mutex_lock(&w->mu);
	if (w->stopping) {
		pthread_mutex_unlock(&w->mu);
		sem_destroy(&r->done);
		return CM_ECLOSED;
	}
	if (w->tail)
		w->tail->next = r;
	else
		w->head = r;
	w->tail = r;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->mu);
	while (sem_wait(&r->done) != 0) /* EINTR */
		;
	sem_destroy(&r->done);
	return r->rv;
}

int
col_writer_write(col_writer *w, cm_batch *b, const void *raw, size_t raw_len)
{
	request r = { .batch = b, .raw = raw, .raw_len = raw_len };
	cm_wire_codec *codec;
	const char *why;
	cm_buf rec;
	cm_batch copy;
	int rv;

	if (raw != NULL)
		return submit(w, &r);
	/*
	 * b's strings may point into the request (an OTLP protobuf body): the
	 * record is b encoded, and the batch held until it is written is that
	 * record decoded, which owns its bytes. Done here, in the receivers'
	 * threads, not in the one stager.
	 */
	if ((codec = thread_codec()) == NULL)
		return CM_ENOMEM;
	cm_buf_init(&rec);
	cm_batch_init(&copy);
	rv = cm_wire_encode_batch(codec, b, 0, NULL, &rec);
	if (rv == CM_OK)
		rv = cm_wire_decode_batch(codec, rec.data, rec.len, &staged_limits, &copy, &why);
	if (rv == CM_OK) {
		r = (request){ .batch = &copy, .raw = rec.data, .raw_len = rec.len };
		rv = submit(w, &r);
	}
	cm_batch_fini(&copy); /* empty once staged */
	cm_buf_fini(&rec);
	return rv;
}

void
col_writer_stop(col_writer *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stopping = true;
	pthread_cond_signal(&w->work);
	pthread_cond_broadcast(&w->room);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->stager, NULL);
	pthread_join(w->assembler, NULL);
	destroy(w);
}
