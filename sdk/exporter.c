/*
 * exporter.c - the tracer's exporter thread: queue -> batches -> collector.
 *
 * It wakes when a full batch is queued, when schedule_delay_ms has passed
 * with spans waiting, on a flush, or at shutdown. A batch is encoded
 * (msgpack + zstd, common/wire.h) and sent over the REQ socket until the
 * collector answers: OK frees the spans; REJECTED drops them (never
 * retried); RETRY waits the time the collector asks for; no answer within
 * the timeout backs off exponentially with jitter (100 ms doubling to 5 s)
 * and sends again. Resending is safe: the store keys spans by
 * (trace id, start, span id), so a span stored twice is stored once.
 * Only this thread touches the socket until weft_tracer_destroy() closes it.
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
#include "wire.h"

enum { BACKOFF_MIN_MS = 100, BACKOFF_MAX_MS = 5000, ZSTD_LEVEL = 1 };
enum send_result { SENT, REJECTED, GAVE_UP };

typedef struct exporter {
	weft_tracer *t;
	cm_wire_codec codec;
	cm_buf msg;
	cm_span *spans;
	uint32_t cap;
} exporter;

/* Sleeps ms, or less when the tracer is stopping. Returns true if stopping. */
static bool
pause_ms(weft_tracer *t, uint32_t ms)
{
	struct timespec ts;
	bool stopping;

	sdk_deadline_in(&ts, ms);
	pthread_mutex_lock(&t->mu);
	while (!t->stopping && pthread_cond_timedwait(&t->wake, &t->mu, &ts) != ETIMEDOUT)
		;
	stopping = t->stopping;
	pthread_mutex_unlock(&t->mu);
	return stopping;
}

static void
count_retry(weft_tracer *t)
{
	pthread_mutex_lock(&t->mu);
	t->stats.retries++;
	pthread_mutex_unlock(&t->mu);
}

static enum send_result
send_batch(exporter *x, uint32_t n)
{
	weft_tracer *t = x->t;
	uint32_t backoff = BACKOFF_MIN_MS;
	uint32_t attempt_ms = t->export_timeout_ms < BACKOFF_MAX_MS ? t->export_timeout_ms : BACKOFF_MAX_MS;

	nng_socket_set_ms(t->sock, NNG_OPT_RECVTIMEO, (nng_duration)attempt_ms);
	for (int attempt = 0;; attempt++) {
		cm_wire_reply reply;
		void *buf = NULL;
		size_t len = 0;
		int rv;

		if (attempt > 0)
			count_retry(t);
		rv = nng_send(t->sock, x->msg.data, x->msg.len, 0);
		if (rv == 0)
			rv = nng_recv(t->sock, &buf, &len, NNG_FLAG_ALLOC);
		if (rv == NNG_ECLOSED)
			return GAVE_UP;
		if (rv == 0) {
			int drv = cm_wire_decode_reply(buf, len, &reply);
			nng_free(buf, len);
			if (drv == CM_OK && reply.type == CM_MSG_OK)
				return SENT;
			if (drv == CM_OK && reply.type == CM_MSG_REJECTED) {
				sdk_log(t, WEFT_LOG_ERROR, "collector rejected %u spans: %s", n, reply.reason);
				return REJECTED;
			}
			if (drv == CM_OK && reply.type == CM_MSG_RETRY) {
				uint32_t wait = reply.retry_ms ? reply.retry_ms : backoff;
				if (pause_ms(t, wait < BACKOFF_MAX_MS ? wait : BACKOFF_MAX_MS))
					return GAVE_UP;
				continue;
			}
			sdk_log(t, WEFT_LOG_WARN, "undecodable reply from %s", t->endpoint);
		} else {
			sdk_log(t, WEFT_LOG_DEBUG, "send to %s: %s", t->endpoint, nng_strerror(rv));
		}
		/* Full jitter: a random wait in [backoff/2, backoff). */
		uint32_t wait = backoff / 2 + (uint32_t)(cm_rand64() % (backoff / 2 + 1));
		if (pause_ms(t, wait))
			return GAVE_UP;
		backoff = backoff * 2 < BACKOFF_MAX_MS ? backoff * 2 : BACKOFF_MAX_MS;
	}
}

/* Encodes and sends the n spans of list; returns how they ended. */
static enum send_result
export_list(exporter *x, weft_span *list, uint32_t n)
{
	weft_tracer *t = x->t;
	cm_batch view;
	uint32_t i = 0;

	if (n > x->cap) {
		cm_span *v = cm_realloc(x->spans, n * sizeof *v);
		if (v == NULL)
			return REJECTED;
		x->spans = v;
		x->cap = n;
	}
	for (weft_span *s = list; s != NULL; s = s->next)
		x->spans[i++] = s->rec; /* resource 0, scope 0: the tracer's */
	memset(&view, 0, sizeof view);
	view.resources = &t->resource;
	view.nresources = 1;
	view.scopes = &t->scope;
	view.nscopes = 1;
	view.spans = x->spans;
	view.nspans = n;
	if (cm_wire_encode_batch(&x->codec, &view, ZSTD_LEVEL, &x->msg) != CM_OK)
		return REJECTED;
	return send_batch(x, n);
}

void *
sdk_exporter_main(void *arg)
{
	exporter x = { .t = arg };
	weft_tracer *t = x.t;
	bool have_codec = cm_wire_codec_init(&x.codec) == CM_OK;

	cm_buf_init(&x.msg);
	pthread_mutex_lock(&t->mu);
	for (;;) {
		struct timespec ts;
		weft_span *list, *last;
		uint32_t n = 0;
		enum send_result r;
		bool stopping;

		sdk_deadline_in(&ts, t->delay_ms);
		while (!t->stopping && !t->flush_wanted && t->queued < t->max_batch) {
			if (pthread_cond_timedwait(&t->wake, &t->mu, &ts) == ETIMEDOUT && t->queued > 0)
				break;
		}
		if (t->queued == 0) {
			t->flush_wanted = false;
			pthread_cond_broadcast(&t->done);
			if (t->stopping)
				break;
			continue;
		}
		list = last = t->head;
		for (n = 1; n < t->max_batch && last->next != NULL; n++)
			last = last->next;
		t->head = last->next;
		if (t->head == NULL)
			t->tail = NULL;
		last->next = NULL;
		t->queued -= n;
		stopping = t->stopping;
		pthread_mutex_unlock(&t->mu);

		uint64_t t0 = cm_mono_ns();
		r = have_codec && !stopping ? export_list(&x, list, n) : GAVE_UP;
		uint64_t us = (cm_mono_ns() - t0) / 1000;
		while (list != NULL) {
			weft_span *next = list->next;
			sdk_span_free(list);
			list = next;
		}

		pthread_mutex_lock(&t->mu);
		t->finished += n;
		if (r == SENT) {
			t->stats.spans_exported += n;
			t->stats.batches_sent++;
			t->ack_us_log2[us ? 63 - __builtin_clzll(us) : 0]++;
		} else {
			t->stats.spans_dropped += n;
		}
		pthread_cond_broadcast(&t->done);
	}
	pthread_mutex_unlock(&t->mu);
	cm_buf_fini(&x.msg);
	cm_free(x.spans);
	if (have_codec)
		cm_wire_codec_fini(&x.codec);
	return NULL;
}
