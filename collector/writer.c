/*
 * writer.c - a stager thread that acknowledges, an assembler thread that writes.
 *
 * Requests live on their callers' stacks; the queue links them under `mu`.
 * A caller waits on its own semaphore, which the stager posts once it has
 * set the result: one wake-up for each caller of a write, where a
 * condition variable broadcast woke every waiting caller, each then
 * queueing for `mu` (futex calls were 8% of the collector's CPU).
 *
 * `pend` lists the staged records not yet written, in order: the stager
 * appends what it staged, the assembler removes what it wrote. Records
 * found staged at start (a crash left them) are listed as due at once.
 * The assembler reads records from the front until it has max_spans (or
 * WRITE_MAX_BYTES of decoded batches): a write never holds more in memory
 * however far behind it is. Once idle for ST_DEPS_WRITE_MS after a write,
 * it writes the dependency totals the store counted and has not written
 * yet (store.h).
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
/* Decoded bytes one write holds at most, whatever max_spans: spans with large attributes. */
#define WRITE_MAX_BYTES ((size_t)128 << 20)
/* An encoding buffer that grew past this (a large request) is given back after use. */
#define SPARE_BUF_MAX ((size_t)1 << 20)
/* read_record()'s "enough for one write", apart from every CM_ code. */
#define READ_ENOUGH (-1)

typedef struct request {
	const cm_batch *batch;
	const void *raw;
	size_t raw_len;
	int rv;
	sem_t done; /* posted after rv is set; the caller may return at once (glibc's sem_post allows that) */
	struct request *next;
} request;

/* A staged record not written yet. */
typedef struct staged {
	uint64_t seq;
	uint64_t at_ns;  /* monotonic time it was staged; 0: found staged at start */
	uint32_t spans;  /* 0 when found staged at start */
} staged;

/* The assembler's scratch: one write's batches, read back and decoded. */
typedef struct assembly {
	cm_wire_codec codec;
	cm_batch **batches;
	size_t n, cap;
	uint64_t spans, bytes;
	uint64_t below; /* the number after the last record read */
} assembly;

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
	/* the stager's scratch */
	cm_wire_codec codec;
	st_record *recs;
	cm_buf *bufs;
	size_t caprecs;
	assembly as;
};

/* Read by read_record(): staged records were checked against the receivers' limits already. */
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

/* ---- the stager ---- */

/*
 * Waits (mu held) while 2 x max_spans are staged and not written, at most
 * ROOM_WAIT_MS; false if there is still no room.
 */
static bool
wait_for_room(col_writer *w)
{
	uint64_t limit = 2 * (uint64_t)w->cfg.max_spans;
	struct timespec ts = deadline_at(cm_mono_ns() + ROOM_WAIT_MS * 1000000ull);

	while (w->staged_spans >= limit && !w->stopping && pthread_cond_timedwait(&w->room, &w->mu, &ts) != ETIMEDOUT)
		;
	return w->staged_spans < limit || w->stopping;
}

/* Fills w->recs[0..n) with the records of list's requests. */
static int
records_of(col_writer *w, const request *list, size_t n)
{
	size_t i = 0;

	if (n > w->caprecs) {
		st_record *r = cm_realloc(w->recs, n * sizeof *r);
		if (r == NULL)
			return CM_ENOMEM;
		w->recs = r;
		cm_buf *b = cm_realloc(w->bufs, n * sizeof *b);
		if (b == NULL)
			return CM_ENOMEM;
		w->bufs = b;
		for (size_t k = w->caprecs; k < n; k++)
			cm_buf_init(&w->bufs[k]);
		w->caprecs = n;
	}
	for (const request *r = list; r != NULL; r = r->next, i++) {
		int rv;
		if (r->raw != NULL) {
			w->recs[i] = (st_record){ r->raw, r->raw_len };
			continue;
		}
		if ((rv = cm_wire_encode_batch(&w->codec, r->batch, 0, NULL, &w->bufs[i])) != CM_OK)
			return rv;
		w->recs[i] = (st_record){ w->bufs[i].data, w->bufs[i].len };
	}
	return CM_OK;
}

/* Gives back the encoding buffers a large request grew. */
static void
trim_bufs(col_writer *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (w->bufs[i].cap > SPARE_BUF_MAX) {
			cm_buf_fini(&w->bufs[i]);
			cm_buf_init(&w->bufs[i]);
		}
	}
}

/* Stages list's n requests in one write; on CM_OK lists them in pend (reserved by the caller). mu not held. */
static int
stage(col_writer *w, request *list, size_t n)
{
	uint64_t first, now;
	int rv = records_of(w, list, n);

	if (rv == CM_OK)
		rv = st_stage(w->store, w->recs, n, &first);
	trim_bufs(w, n < w->caprecs ? n : w->caprecs);
	if (rv != CM_OK)
		return rv;
	now = cm_mono_ns();
	pthread_mutex_lock(&w->mu);
	for (const request *r = list; r != NULL; r = r->next) {
		w->pend[w->npend++] = (staged){ first++, now, r->batch->nspans };
		w->staged_spans += r->batch->nspans;
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

/* st_staged_each()'s callback: decodes and cleans one record into the assembly. */
static int
read_record(void *arg, uint64_t seq, const void *data, size_t len)
{
	col_writer *w = arg;
	assembly *a = &w->as;
	const char *why = NULL;
	cm_batch *b;
	int rv;

	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		cm_batch **v = cm_realloc(a->batches, cap * sizeof *v);
		if (v == NULL)
			return CM_ENOMEM;
		a->batches = v;
		a->cap = cap;
	}
	if ((b = cm_malloc(sizeof *b)) == NULL)
		return CM_ENOMEM;
	cm_batch_init(b);
	rv = cm_wire_decode_batch(&a->codec, data, len, &staged_limits, b, &why);
	if (rv != CM_OK) {
		cm_batch_fini(b);
		cm_free(b);
		if (rv == CM_ENOMEM)
			return rv;
		/* Only a damaged store or a bug gets here: say so, and do not stop writing the rest. */
		cm_log(CM_LOG_ERROR, "COL-STAGED-BAD", "staged record %llu cannot be read (%s): its spans are dropped",
		    (unsigned long long)seq, why);
		atomic_fetch_add_explicit(&w->metrics->write_errors, 1, memory_order_relaxed);
	} else {
		col_clean_result c;
		col_clean(&w->cfg.limits, b, &c);
		a->batches[a->n++] = b;
		a->spans += b->nspans;
		a->bytes += len + b->arena.held;
	}
	a->below = seq + 1;
	return a->spans >= w->cfg.max_spans || a->bytes >= WRITE_MAX_BYTES ? READ_ENOUGH : CM_OK;
}

/*
 * Reads the staged records from `from` on (before `below`) until there is
 * enough for one write, and writes them, deleting them in the same write.
 * OUT: w->as.below, after the last record written. mu not held.
 */
static int
assemble(col_writer *w, uint64_t from, uint64_t below)
{
	assembly *a = &w->as;
	uint64_t t0;
	int rv;

	a->n = 0;
	a->spans = a->bytes = 0;
	a->below = from;
	rv = st_staged_each(w->store, from, below, read_record, w);
	if (rv == READ_ENOUGH)
		rv = CM_OK;
	if (rv == CM_OK && a->below == from) {
		cm_log(CM_LOG_ERROR, "COL-STAGED-GONE", "staged records %llu-%llu are not in the store",
		    (unsigned long long)from, (unsigned long long)below - 1);
		a->below = below;
	}
	if (rv == CM_OK) {
		t0 = cm_mono_ns();
		rv = st_store_write_staged(w->store, (const cm_batch *const *)a->batches, a->n, from, a->below);
		if (rv == CM_OK)
			col_metrics_observe_write(w->metrics, (cm_mono_ns() - t0) / 1000, (uint32_t)a->spans);
	}
	if (rv != CM_OK) {
		atomic_fetch_add_explicit(&w->metrics->write_errors, 1, memory_order_relaxed);
		cm_log(CM_LOG_ERROR, "COL-WRITE", "writing staged records from %llu failed: %s (they stay staged)",
		    (unsigned long long)from, cm_strerror(rv));
	}
	for (size_t i = 0; i < a->n; i++) {
		cm_batch_fini(a->batches[i]);
		cm_free(a->batches[i]);
	}
	return rv;
}

/* Forgets the records before below, now written (mu held). */
static void
written(col_writer *w, uint64_t below)
{
	size_t k = 0;

	while (k < w->npend && w->pend[k].seq < below)
		w->staged_spans -= w->pend[k++].spans;
	w->npend -= k;
	memmove(w->pend, w->pend + k, w->npend * sizeof *w->pend);
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
		uint64_t wake, from, below;
		struct timespec ts;
		int rv;

		if (!write_due(w, &wake)) {
			if (w->npend == 0 && w->stager_done)
				break;
			wait_for_due(w, wake, &deps_due, written_ns);
			continue;
		}
		from = w->pend[0].seq;
		below = w->pend[w->npend - 1].seq + 1;
		pthread_mutex_unlock(&w->mu);
		rv = assemble(w, from, below);
		pthread_mutex_lock(&w->mu);
		if (rv == CM_OK) {
			written(w, w->as.below);
			deps_due = true;
			written_ns = cm_mono_ns();
			continue;
		}
		if (w->stager_done) {
			cm_log(CM_LOG_ERROR, "COL-STOP-STAGED",
			    "stopping with %zu staged batches not written: they are written at the next start", w->npend);
			break;
		}
		ts = deadline_at(cm_mono_ns() + RETRY_WRITE_MS * 1000000ull);
		pthread_cond_timedwait(&w->due, &w->mu, &ts);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* ---- life ---- */

/* Lists the records a crash left staged as due at once. */
static int
adopt_staged(col_writer *w)
{
	uint64_t first, next;
	int rv = st_staged_range(w->store, &first, &next);

	if (rv != CM_OK || first == next)
		return rv;
	if ((rv = reserve(w, (size_t)(next - first))) != CM_OK)
		return rv;
	for (uint64_t seq = first; seq < next; seq++)
		w->pend[w->npend++] = (staged){ seq, 0, 0 };
	publish(w);
	cm_log(CM_LOG_INFO, "COL-STAGED", "%llu acknowledged batches were staged and not written: writing them",
	    (unsigned long long)(next - first));
	return CM_OK;
}

static void
destroy(col_writer *w)
{
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->work);
	pthread_cond_destroy(&w->due);
	pthread_cond_destroy(&w->room);
	cm_wire_codec_fini(&w->codec);
	cm_wire_codec_fini(&w->as.codec);
	for (size_t i = 0; i < w->caprecs; i++)
		cm_buf_fini(&w->bufs[i]);
	cm_free(w->bufs);
	cm_free(w->recs);
	cm_free(w->as.batches);
	cm_free(w->pend);
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
	if ((rv = cm_wire_codec_init(&w->codec)) != CM_OK || (rv = cm_wire_codec_init(&w->as.codec)) != CM_OK ||
	    (rv = adopt_staged(w)) != CM_OK) {
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

int
col_writer_write(col_writer *w, const cm_batch *b, const void *raw, size_t raw_len)
{
	request r = { .batch = b, .raw = raw, .raw_len = raw_len };

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
	pthread_cond_broadcast(&w->room);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->stager, NULL);
	pthread_join(w->assembler, NULL);
	destroy(w);
}
