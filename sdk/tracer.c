/*
 * tracer.c - tracer life cycle, configuration, flush and statistics.
 *
 * Shutdown: weft_tracer_destroy() sets `stopping`, lets the exporter drain
 * the queue until shutdown_timeout_ms, then closes the socket (which wakes
 * an exporter blocked on the network) and joins it.
 */
#include <errno.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "clock.h"
#include "err.h"
#include "sdk_int.h"

_Static_assert(WEFT_EREJECTED == (int)CM_EREJECTED, "weft_err mirrors cm_err");

const char *
weft_strerror(int err)
{
	return cm_strerror(err);
}

void
sdk_log(weft_tracer *t, int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (t->log_fn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	t->log_fn(t->log_arg, level, msg);
}

static const char *
pick(const char *explicit, const char *env)
{
	const char *v;
	if (explicit != NULL)
		return explicit;
	v = getenv(env);
	return v && *v ? v : NULL;
}

/* A value from cfg, else the environment (with `scale` for units), else dflt. */
static int
pick_u32(uint32_t explicit, const char *env, uint32_t dflt, uint32_t *out)
{
	const char *v = getenv(env);
	char *end;
	unsigned long n;

	if (explicit) {
		*out = explicit;
		return CM_OK;
	}
	if (v == NULL || *v == '\0') {
		*out = dflt;
		return CM_OK;
	}
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || *end != '\0' || n == 0 || n > UINT32_MAX)
		return CM_EINVAL;
	*out = (uint32_t)n;
	return CM_OK;
}

void
sdk_deadline_in(struct timespec *ts, uint32_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static int
configure(weft_tracer *t, const weft_tracer_config *c)
{
	const char *endpoint = pick(c->endpoint, "WEFT_ENDPOINT");
	int rv;

	if ((rv = pick_u32(c->max_queue_spans, "OTEL_BSP_MAX_QUEUE_SIZE", 2048, &t->max_queue)) ||
	    (rv = pick_u32(c->max_export_batch, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512, &t->max_batch)) ||
	    (rv = pick_u32(c->schedule_delay_ms, "OTEL_BSP_SCHEDULE_DELAY", 5000, &t->delay_ms)) ||
	    (rv = pick_u32(c->export_timeout_ms, "OTEL_BSP_EXPORT_TIMEOUT", 30000, &t->export_timeout_ms)))
		return rv;
	if (t->max_batch > t->max_queue)
		t->max_batch = t->max_queue;
	t->shutdown_timeout_ms = c->shutdown_timeout_ms ? c->shutdown_timeout_ms : 5000;
	t->log_fn = c->log_fn;
	t->log_arg = c->log_arg;
	if ((rv = sdk_sampler_init(&t->sampler, pick(c->sampler, "OTEL_TRACES_SAMPLER"),
	         pick(c->sampler_arg, "OTEL_TRACES_SAMPLER_ARG"))) != CM_OK)
		return rv;
	endpoint = endpoint ? endpoint : "tcp://127.0.0.1:4319";
	if ((t->endpoint = cm_strndup(endpoint, strlen(endpoint))) == NULL)
		return CM_ENOMEM;
	return sdk_resource_init(t, pick(c->service_name, "OTEL_SERVICE_NAME"),
	    pick(c->resource_attributes, "OTEL_RESOURCE_ATTRIBUTES"));
}

static int
open_socket(weft_tracer *t)
{
	int rv;

	if ((rv = nng_req0_open(&t->sock)) != 0)
		return CM_ENOMEM;
	nng_socket_set_ms(t->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_socket_set_ms(t->sock, NNG_OPT_RECONNMINT, 100);
	nng_socket_set_ms(t->sock, NNG_OPT_RECONNMAXT, 2000);
	nng_socket_set_size(t->sock, NNG_OPT_RECVMAXSZ, 1 << 20);
	/* Non-blocking dial: a collector that is down now is retried in the background. */
	if ((rv = nng_dial(t->sock, t->endpoint, NULL, NNG_FLAG_NONBLOCK)) != 0) {
		sdk_log(t, WEFT_LOG_ERROR, "cannot dial %s: %s", t->endpoint, nng_strerror(rv));
		nng_close(t->sock);
		return CM_EINVAL;
	}
	return CM_OK;
}

static void
free_tracer(weft_tracer *t)
{
	weft_span *s = t->head;
	while (s != NULL) {
		weft_span *next = s->next;
		sdk_span_free(s);
		s = next;
	}
	pthread_mutex_destroy(&t->mu);
	pthread_cond_destroy(&t->wake);
	pthread_cond_destroy(&t->done);
	cm_arena_fini(&t->arena);
	cm_free(t->endpoint);
	cm_free(t);
}

int
weft_tracer_create(const weft_tracer_config *cfg, weft_tracer **out)
{
	static const weft_tracer_config defaults = { 0 };
	pthread_condattr_t ca;
	weft_tracer *t;
	int rv;

	if (out == NULL)
		return WEFT_EINVAL;
	if ((t = cm_calloc(1, sizeof *t)) == NULL)
		return WEFT_ENOMEM;
	cm_arena_init(&t->arena, 4096);
	pthread_mutex_init(&t->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->wake, &ca);
	pthread_cond_init(&t->done, &ca);
	pthread_condattr_destroy(&ca);
	if ((rv = configure(t, cfg ? cfg : &defaults)) != CM_OK ||
	    (rv = open_socket(t)) != CM_OK) {
		free_tracer(t);
		return rv;
	}
	if (pthread_create(&t->thread, NULL, sdk_exporter_main, t) != 0) {
		nng_close(t->sock);
		free_tracer(t);
		return WEFT_ENOMEM;
	}
	*out = t;
	return WEFT_OK;
}

/* Waits under t->mu until every span ended before now is finished. */
static int
wait_finished(weft_tracer *t, uint32_t timeout_ms)
{
	struct timespec deadline;
	uint64_t target = t->ended;
	int rv = WEFT_OK;

	sdk_deadline_in(&deadline, timeout_ms);
	while (t->finished < target) {
		t->flush_wanted = true;
		pthread_cond_signal(&t->wake);
		if (pthread_cond_timedwait(&t->done, &t->mu, &deadline) == ETIMEDOUT) {
			rv = t->finished < target ? WEFT_ETIMEDOUT : WEFT_OK;
			break;
		}
	}
	return rv;
}

int
weft_tracer_flush(weft_tracer *t, uint32_t timeout_ms)
{
	int rv;
	if (t == NULL)
		return WEFT_EINVAL;
	pthread_mutex_lock(&t->mu);
	rv = wait_finished(t, timeout_ms);
	pthread_mutex_unlock(&t->mu);
	return rv;
}

void
weft_tracer_destroy(weft_tracer *t)
{
	if (t == NULL)
		return;
	pthread_mutex_lock(&t->mu);
	if (wait_finished(t, t->shutdown_timeout_ms) != WEFT_OK)
		sdk_log(t, WEFT_LOG_WARN, "shutdown: %u spans not acknowledged in %u ms, dropped",
		    t->queued, t->shutdown_timeout_ms);
	t->stopping = true;
	pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&t->mu);
	/* Wakes an exporter blocked in nng_recv(); it then drops what is left. */
	nng_close(t->sock);
	pthread_join(t->thread, NULL);
	free_tracer(t);
}

/* The upper bound of the power-of-two bucket holding quantile q. */
static uint32_t
ack_quantile(const uint64_t *hist, uint64_t total, double q)
{
	uint64_t rank = (uint64_t)(q * (double)total), seen = 0;
	for (int i = 0; i < 32; i++) {
		seen += hist[i];
		if (seen > rank)
			return i >= 31 ? UINT32_MAX : (uint32_t)2 << i;
	}
	return 0;
}

void
weft_tracer_stats(weft_tracer *t, weft_stats *out)
{
	if (t == NULL || out == NULL)
		return;
	pthread_mutex_lock(&t->mu);
	*out = t->stats;
	out->queued = t->queued;
	out->ack_p50_us = ack_quantile(t->ack_us_log2, t->stats.batches_sent, 0.50);
	out->ack_p99_us = ack_quantile(t->ack_us_log2, t->stats.batches_sent, 0.99);
	pthread_mutex_unlock(&t->mu);
}
