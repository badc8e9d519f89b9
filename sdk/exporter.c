/*
 * exporter.c - the tracer's exporter thread: rings -> batches -> collector.
 *
 * It wakes when a thread has ended a batch's worth of spans, when
 * schedule_delay_ms has passed, on a flush, or at shutdown; then it drains
 * every thread's ring in batches of max_batch. Each batch is encoded
 * (msgpack + zstd, common/wire.h), its spans go back to their owners and
 * their bytes to the queue budget, and the encoded batch is sent until the
 * collector answers: OK counts it exported; REJECTED drops it (never
 * retried); RETRY waits the time the collector asks for; a failure (no
 * connection, no answer in time, a broken connection) backs off
 * exponentially with jitter (100 ms doubling to 5 s) and sends again.
 * Resending is safe: the store keys spans by (trace id, start, span id).
 *
 * Circuit breaker: breaker_failures failures in a row open it; for
 * breaker_cooldown_ms nothing is sent (the rings fill, then new spans are
 * dropped at end, so the application pays nothing for a dead collector).
 * Then one probe is sent half-open: success closes the breaker, failure
 * opens it again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "clock.h"
#include "err.h"
#include "ids.h"
#include "sdk_int.h"
#include "tsc.h"
#include "wire.h"

enum { BACKOFF_MIN_MS = 100, BACKOFF_MAX_MS = 5000, ZSTD_LEVEL = 1, CLOCK_TICK_MS = 500 };
enum send_result { SENT, REJECTED, GAVE_UP };

typedef struct exporter {
	weft_tracer *t;
	cm_wire_codec codec;
	bool have_codec;
	cm_buf msg;
	cm_span *spans;
	weft_span **taken;
	uint32_t failures; /* in a row, for the breaker */
	uint32_t breaker;  /* weft_breaker_state; this thread writes it, stats read a copy */
	uint64_t calibrated_ns; /* monotonic time of this thread's last sdk_tsc_calibrate() */
} exporter;

/*
 * Calibrates the span clock (tsc.h) when CLOCK_TICK_MS have passed since
 * the last time, so that the application's threads never find its base
 * stale: not while this thread exports without pause, nor while it waits.
 */
static void
clock_tick(exporter *x)
{
	uint64_t now = cm_mono_ns();
	if (now - x->calibrated_ns >= (uint64_t)CLOCK_TICK_MS * 1000000u) {
		x->calibrated_ns = now;
		sdk_tsc_calibrate();
	}
}

/*
 * Waits on t->wake, t->mu held, until the monotonic time due, stopping,
 * or (with for_work) a kick or a flush, calibrating the clock at least
 * every CLOCK_TICK_MS meanwhile.
 */
static void
wait_until(exporter *x, uint64_t due, bool for_work)
{
	weft_tracer *t = x->t;

	while (!t->stopping && !(for_work && (t->flush_wanted || t->kicked))) {
		struct timespec ts;
		uint64_t now = cm_mono_ns(), left = due > now ? (due - now) / 1000000u : 0;
		if (left == 0)
			break;
		sdk_deadline_in(&ts, left < CLOCK_TICK_MS ? (uint32_t)left : CLOCK_TICK_MS);
		if (pthread_cond_timedwait(&t->wake, &t->mu, &ts) == ETIMEDOUT) {
			pthread_mutex_unlock(&t->mu);
			clock_tick(x);
			pthread_mutex_lock(&t->mu);
		}
	}
}

/* Sleeps ms, or less when the tracer is stopping. Returns true if stopping. */
static bool
pause_ms(exporter *x, uint32_t ms)
{
	weft_tracer *t = x->t;
	bool stopping;

	pthread_mutex_lock(&t->mu);
	wait_until(x, cm_mono_ns() + (uint64_t)ms * 1000000u, false);
	stopping = t->stopping;
	pthread_mutex_unlock(&t->mu);
	return stopping;
}

static void
set_breaker(exporter *x, uint32_t state)
{
	weft_tracer *t = x->t;
	if (state == x->breaker)
		return;
	pthread_mutex_lock(&t->mu);
	if (state == WEFT_BREAKER_OPEN)
		t->xstats.breaker_opens++;
	t->xstats.breaker = x->breaker = state;
	pthread_mutex_unlock(&t->mu);
}

static void
count_retry(weft_tracer *t)
{
	pthread_mutex_lock(&t->mu);
	t->xstats.retries++;
	pthread_mutex_unlock(&t->mu);
}

/* One request and its reply. Returns CM_OK (OK), CM_EREJECTED, CM_EAGAIN (RETRY, *retry_ms set) or a transport error. */
static int
attempt(exporter *x, uint32_t *retry_ms)
{
	weft_tracer *t = x->t;
	uint32_t timeout = t->export_timeout_ms < BACKOFF_MAX_MS ? t->export_timeout_ms : BACKOFF_MAX_MS;
	const uint8_t *body;
	cm_wire_reply reply;
	size_t blen;
	int rv;

	if ((rv = sdk_conn_request(&t->conn, x->msg.data, x->msg.len, timeout, &body, &blen)) != CM_OK) {
		sdk_log(t, WEFT_LOG_DEBUG, "send to %s: %s", t->endpoint, cm_strerror(rv));
		return rv;
	}
	if (cm_wire_decode_reply(body, blen, &reply) != CM_OK) {
		sdk_log(t, WEFT_LOG_WARN, "undecodable reply from %s", t->endpoint);
		sdk_conn_close(&t->conn);
		return CM_EPROTO;
	}
	switch (reply.type) {
	case CM_MSG_OK:
		return CM_OK;
	case CM_MSG_RETRY:
		*retry_ms = reply.retry_ms;
		return CM_EAGAIN;
	default:
		sdk_log(t, WEFT_LOG_ERROR, "collector rejected a batch: %s", reply.reason);
		return CM_EREJECTED;
	}
}

static enum send_result
send_batch(exporter *x)
{
	weft_tracer *t = x->t;
	uint32_t backoff = BACKOFF_MIN_MS;

	for (bool first = true;; first = false) {
		uint32_t retry_ms = 0, wait;
		int rv;

		if (x->failures >= t->breaker_failures) {
			set_breaker(x, WEFT_BREAKER_OPEN);
			sdk_log(t, WEFT_LOG_WARN, "%s unreachable: not sending for %u ms", t->endpoint, t->breaker_cooldown_ms);
			if (pause_ms(x, t->breaker_cooldown_ms))
				return GAVE_UP;
			set_breaker(x, WEFT_BREAKER_HALF_OPEN);
		}
		if (!first)
			count_retry(t);
		rv = attempt(x, &retry_ms);
		if (rv == CM_ECLOSED)
			return GAVE_UP;
		if (rv == CM_OK || rv == CM_EREJECTED || rv == CM_EAGAIN) {
			/* The collector answered: it is up, whatever it said. */
			x->failures = 0;
			set_breaker(x, WEFT_BREAKER_CLOSED);
		}
		if (rv == CM_OK)
			return SENT;
		if (rv == CM_EREJECTED)
			return REJECTED;
		if (rv == CM_EAGAIN) {
			wait = retry_ms ? retry_ms : backoff;
			wait = wait < BACKOFF_MAX_MS ? wait : BACKOFF_MAX_MS;
		} else {
			x->failures++;
			if (x->failures >= t->breaker_failures)
				continue;
			/* Full jitter: a random wait in [backoff/2, backoff). */
			wait = backoff / 2 + (uint32_t)(cm_rand64() % (backoff / 2 + 1));
			backoff = backoff * 2 < BACKOFF_MAX_MS ? backoff * 2 : BACKOFF_MAX_MS;
		}
		if (pause_ms(x, wait))
			return GAVE_UP;
	}
}

/* The head of the thread list; nodes after it change only on this thread (reaping). */
static sdk_thread *
threads(weft_tracer *t)
{
	sdk_thread *head;
	pthread_mutex_lock(&t->mu);
	head = t->threads;
	pthread_mutex_unlock(&t->mu);
	return head;
}

/*
 * Pops spans to export from the rings into x->taken, up to max_batch
 * spans or max_batch_bytes of span memory; spans not to export
 * (unsampled, foreign) go straight back. Returns how many were taken.
 */
static uint32_t
take_batch(exporter *x)
{
	weft_tracer *t = x->t;
	uint64_t bytes = 0;
	uint32_t n = 0;

	for (sdk_thread *ts = threads(t); ts != NULL && n < t->max_batch && bytes < t->max_batch_bytes; ts = ts->next) {
		weft_span *s;
		while (n < t->max_batch && bytes < t->max_batch_bytes && (s = sdk_ring_pop(&ts->ended)) != NULL) {
			if (s->bytes == 0) {
				sdk_span_recycle(s);
				continue;
			}
			x->taken[n++] = s;
			bytes += s->bytes;
		}
	}
	return n;
}

/* A span whose times are TSC ticks (its copy; the events are the span's own, which this thread holds) in nanoseconds. */
static void
span_times_to_ns(cm_span *sp)
{
	sp->start_ns = sdk_tsc_ticks_to_ns(sp->start_ns);
	sp->end_ns = sdk_tsc_ticks_to_ns(sp->end_ns);
	for (uint32_t k = 0; k < sp->nevents; k++)
		sp->events[k].time_ns = sdk_tsc_ticks_to_ns(sp->events[k].time_ns);
}

/* Encodes the taken spans into x->msg and hands them back. Returns false if encoding failed. */
static bool
encode_and_release(exporter *x, uint32_t n)
{
	weft_tracer *t = x->t;
	int64_t bytes = 0;
	cm_batch view;
	bool ok;

	clock_tick(x); /* a fresh base for the ticks below */
	for (uint32_t i = 0; i < n; i++) {
		weft_span *s = x->taken[i];
		sdk_attrs_dedup(&s->rec.attrs); /* the application's thread appends a key set again */
		x->spans[i] = s->rec;          /* resource 0, scope 0: the tracer's */
		if (s->ticks)
			span_times_to_ns(&x->spans[i]);
	}
	memset(&view, 0, sizeof view);
	view.resources = &t->resource;
	view.nresources = 1;
	view.scopes = &t->scope;
	view.nscopes = 1;
	view.spans = x->spans;
	view.nspans = n;
	ok = x->have_codec && cm_wire_encode_batch(&x->codec, &view, ZSTD_LEVEL, t->auth_token, &x->msg) == CM_OK;
	for (uint32_t i = 0; i < n; i++) {
		bytes += x->taken[i]->bytes;
		sdk_span_recycle(x->taken[i]);
	}
	atomic_fetch_add_explicit(&t->budget, bytes, memory_order_relaxed);
	return ok;
}

static void
account(weft_tracer *t, uint32_t n, enum send_result r, uint64_t us)
{
	pthread_mutex_lock(&t->mu);
	t->finished += n;
	if (r == SENT) {
		t->xstats.spans_exported += n;
		t->xstats.batches_sent++;
		t->ack_us_log2[us ? 63 - __builtin_clzll(us) : 0]++;
	} else {
		t->xstats.spans_dropped += n;
	}
	pthread_cond_broadcast(&t->done);
	pthread_mutex_unlock(&t->mu);
}

/* Exports everything queued now; with `stopping`, drops it instead. */
static void
drain(exporter *x, bool stopping)
{
	weft_tracer *t = x->t;
	uint32_t n;

	while ((n = take_batch(x)) > 0) {
		bool encoded = encode_and_release(x, n);
		uint64_t t0 = cm_mono_ns();
		enum send_result r = encoded && !stopping ? send_batch(x) : GAVE_UP;
		account(t, n, r, (cm_mono_ns() - t0) / 1000);
		if (r == GAVE_UP)
			stopping = true;
		clock_tick(x); /* under steady load the queue may never empty */
	}
}

void *
sdk_exporter_main(void *arg)
{
	exporter x = { .t = arg };
	weft_tracer *t = x.t;

	x.have_codec = cm_wire_codec_init(&x.codec) == CM_OK;
	x.spans = cm_calloc(t->max_batch, sizeof *x.spans);
	x.taken = cm_calloc(t->max_batch, sizeof *x.taken);
	cm_buf_init(&x.msg);
	if (x.spans == NULL || x.taken == NULL)
		x.have_codec = false; /* spans are dropped and counted, never leaked */
	pthread_mutex_lock(&t->mu);
	for (;;) {
		bool stopping;

		wait_until(&x, cm_mono_ns() + (uint64_t)t->delay_ms * 1000000u, true);
		t->kicked = false;
		t->flush_wanted = false;
		stopping = t->stopping;
		pthread_mutex_unlock(&t->mu);

		clock_tick(&x);
		sdk_threads_reap(t);
		drain(&x, stopping);

		pthread_mutex_lock(&t->mu);
		pthread_cond_broadcast(&t->done);
		if (stopping)
			break;
	}
	pthread_mutex_unlock(&t->mu);
	cm_buf_fini(&x.msg);
	cm_free(x.spans);
	cm_free(x.taken);
	if (x.have_codec)
		cm_wire_codec_fini(&x.codec);
	return NULL;
}

int
sdk_exporter_start(weft_tracer *t)
{
	if (t->exporter_running)
		return CM_OK;
	if (pthread_create(&t->thread, NULL, sdk_exporter_main, t) != 0)
		return CM_ENOMEM;
	t->exporter_running = true;
	atomic_store_explicit(&t->need_exporter, false, memory_order_relaxed);
	return CM_OK;
}

void
sdk_exporter_kick(weft_tracer *t)
{
	pthread_mutex_lock(&t->mu);
	if (atomic_load_explicit(&t->need_exporter, memory_order_relaxed) && !t->stopping)
		sdk_exporter_start(t);
	t->kicked = true;
	pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&t->mu);
}
