/*
 * tracer.c - tracer life cycle, configuration, flush and statistics.
 *
 * Shutdown: weft_tracer_destroy() lets the exporter drain the rings until
 * shutdown_timeout_ms, then sets `stopping`, cancels the connection (which
 * wakes an exporter blocked on the network) and joins it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "clock.h"
#include "err.h"
#include "sdk_int.h"
#include "tsc.h"
#include "wire.h"

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

/* A value from cfg, else the environment, else dflt. */
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
configure_limits(weft_tracer *t, const weft_tracer_config *c)
{
	sdk_limits *l = &t->limits;
	int rv;

	if ((rv = pick_u32(c->max_attributes, "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", 128, &l->attributes)) ||
	    (rv = pick_u32(c->max_events, "OTEL_SPAN_EVENT_COUNT_LIMIT", 128, &l->events)) ||
	    (rv = pick_u32(c->max_event_attributes, "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", 128, &l->event_attributes)) ||
	    (rv = pick_u32(c->max_value_length, "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", 4096, &l->value_length)))
		return rv;
	/* A span's strings must fit its arena's first chunk often enough; 16 MiB is past any sane value. */
	return l->value_length <= (16u << 20) ? CM_OK : CM_EINVAL;
}

static int
configure(weft_tracer *t, const weft_tracer_config *c)
{
	const char *endpoint = pick(c->endpoint, "WEFT_ENDPOINT");
	const char *props = pick(c->propagators, "OTEL_PROPAGATORS");
	const char *token = pick(c->auth_token, "WEFT_AUTH_TOKEN");
	uint32_t queue_bytes;
	int rv;

	if ((rv = pick_u32(c->max_queue_spans, "OTEL_BSP_MAX_QUEUE_SIZE", 2048, &t->max_queue)) ||
	    (rv = pick_u32(c->max_queue_bytes, "WEFT_BSP_MAX_QUEUE_BYTES", 4u << 20, &queue_bytes)) ||
	    (rv = pick_u32(c->max_export_batch, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512, &t->max_batch)) ||
	    (rv = pick_u32(c->max_export_batch_bytes, "WEFT_BSP_MAX_EXPORT_BATCH_BYTES", 4u << 20, &t->max_batch_bytes)) ||
	    (rv = pick_u32(c->schedule_delay_ms, "OTEL_BSP_SCHEDULE_DELAY", 5000, &t->delay_ms)) ||
	    (rv = pick_u32(c->export_timeout_ms, "OTEL_BSP_EXPORT_TIMEOUT", 30000, &t->export_timeout_ms)) ||
	    (rv = pick_u32(c->breaker_failures, "WEFT_BREAKER_FAILURES", 5, &t->breaker_failures)) ||
	    (rv = pick_u32(c->breaker_cooldown_ms, "WEFT_BREAKER_COOLDOWN", 10000, &t->breaker_cooldown_ms)) ||
	    (rv = configure_limits(t, c)))
		return rv;
	if (t->max_batch > t->max_queue)
		t->max_batch = t->max_queue;
	t->max_queue_bytes = queue_bytes;
	atomic_init(&t->budget, t->max_queue_bytes);
	t->shutdown_timeout_ms = c->shutdown_timeout_ms ? c->shutdown_timeout_ms : 5000;
	t->log_fn = c->log_fn;
	t->log_arg = c->log_arg;
	if ((rv = weft_propagators_parse(props ? props : "tracecontext,baggage", &t->propagators)) != CM_OK)
		return rv;
	if ((rv = sdk_sampler_init(&t->sampler, pick(c->sampler, "OTEL_TRACES_SAMPLER"),
	         pick(c->sampler_arg, "OTEL_TRACES_SAMPLER_ARG"))) != CM_OK)
		return rv;
	if (token != NULL && (strlen(token) > CM_WIRE_MAX_TOKEN || (t->auth_token = cm_strndup(token, strlen(token))) == NULL))
		return strlen(token) > CM_WIRE_MAX_TOKEN ? CM_EINVAL : CM_ENOMEM;
	endpoint = endpoint ? endpoint : "tcp://127.0.0.1:4319";
	if ((t->endpoint = cm_strndup(endpoint, strlen(endpoint))) == NULL)
		return CM_ENOMEM;
	if ((rv = sdk_conn_init(&t->conn, t->endpoint, pick(c->tls_ca_file, "WEFT_TLS_CA"))) != CM_OK) {
		sdk_log(t, WEFT_LOG_ERROR, "bad endpoint %s (want tcp://HOST:PORT, tls+tcp://HOST:PORT with a readable "
		    "CA file, or ipc:///PATH)", t->endpoint);
		return rv;
	}
	return sdk_resource_init(t, pick(c->service_name, "OTEL_SERVICE_NAME"),
	    pick(c->resource_attributes, "OTEL_RESOURCE_ATTRIBUTES"));
}

static void
free_tracer(weft_tracer *t)
{
	pthread_key_delete(t->key);
	sdk_threads_free(t);
	sdk_conn_fini(&t->conn);
	pthread_mutex_destroy(&t->mu);
	pthread_cond_destroy(&t->wake);
	pthread_cond_destroy(&t->done);
	cm_arena_fini(&t->arena);
	cm_free(t->endpoint);
	cm_free(t->auth_token);
	cm_free(t);
}

int
weft_tracer_create(const weft_tracer_config *cfg, weft_tracer **out)
{
	static const weft_tracer_config defaults = { 0 };
	static _Atomic uint64_t next_id = 1;
	pthread_condattr_t ca;
	weft_tracer *t;
	int rv;

	if (out == NULL)
		return WEFT_EINVAL;
	if ((t = cm_calloc(1, sizeof *t)) == NULL)
		return WEFT_ENOMEM;
	if (pthread_key_create(&t->key, sdk_thread_exit) != 0) {
		cm_free(t);
		return WEFT_ENOMEM;
	}
	t->id = atomic_fetch_add(&next_id, 1);
	t->conn.fd = t->conn.cancel_fd = -1;
	cm_arena_init(&t->arena, 4096);
	pthread_mutex_init(&t->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->wake, &ca);
	pthread_cond_init(&t->done, &ca);
	pthread_condattr_destroy(&ca);
	if ((rv = configure(t, cfg ? cfg : &defaults)) != CM_OK) {
		free_tracer(t);
		return rv;
	}
	sdk_tsc_calibrate(); /* the anchor; the exporter refines the rate */
	if ((rv = sdk_fork_register(t)) != CM_OK) {
		free_tracer(t);
		return rv;
	}
	pthread_mutex_lock(&t->mu);
	rv = sdk_exporter_start(t);
	pthread_mutex_unlock(&t->mu);
	if (rv != CM_OK) {
		sdk_fork_unregister(t);
		free_tracer(t);
		return rv;
	}
	*out = t;
	return WEFT_OK;
}

/* Recording spans the application's threads have put on their rings, under t->mu. */
static uint64_t
pushed_total(weft_tracer *t)
{
	uint64_t n = atomic_load_explicit(&t->retired.pushed, memory_order_relaxed);
	for (sdk_thread *ts = t->threads; ts != NULL; ts = ts->next)
		n += atomic_load_explicit(&ts->c.pushed, memory_order_acquire);
	return n;
}

/* Waits under t->mu until every span ended before now is exported or dropped. */
static int
wait_finished(weft_tracer *t, uint32_t timeout_ms)
{
	struct timespec deadline;
	uint64_t target = pushed_total(t);

	sdk_deadline_in(&deadline, timeout_ms);
	while (t->finished < target && t->exporter_running) {
		t->flush_wanted = true;
		pthread_cond_signal(&t->wake);
		if (pthread_cond_timedwait(&t->done, &t->mu, &deadline) == ETIMEDOUT)
			break;
	}
	return t->finished < target ? WEFT_ETIMEDOUT : WEFT_OK;
}

int
weft_tracer_flush(weft_tracer *t, uint32_t timeout_ms)
{
	int rv;
	if (t == NULL)
		return WEFT_EINVAL;
	sdk_exporter_kick(t); /* a forked child's exporter starts here if not yet */
	pthread_mutex_lock(&t->mu);
	rv = wait_finished(t, timeout_ms);
	pthread_mutex_unlock(&t->mu);
	return rv;
}

void
weft_tracer_destroy(weft_tracer *t)
{
	bool joined;

	if (t == NULL)
		return;
	sdk_fork_unregister(t);
	pthread_mutex_lock(&t->mu);
	if (wait_finished(t, t->shutdown_timeout_ms) != WEFT_OK)
		sdk_log(t, WEFT_LOG_WARN, "shutdown: spans not acknowledged in %u ms are dropped", t->shutdown_timeout_ms);
	t->stopping = true;
	pthread_cond_signal(&t->wake);
	joined = t->exporter_running;
	pthread_mutex_unlock(&t->mu);
	/* Wakes an exporter blocked on the network; it then drops what is left. */
	sdk_conn_cancel(&t->conn);
	if (joined)
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

static void
add_counters(weft_stats *out, const sdk_counters *c)
{
	out->spans_started += atomic_load_explicit(&c->started, memory_order_relaxed);
	out->spans_unsampled += atomic_load_explicit(&c->unsampled, memory_order_relaxed);
	out->spans_dropped += atomic_load_explicit(&c->dropped, memory_order_relaxed);
	out->attributes_dropped += atomic_load_explicit(&c->attributes_dropped, memory_order_relaxed);
	out->events_dropped += atomic_load_explicit(&c->events_dropped, memory_order_relaxed);
	out->values_truncated += atomic_load_explicit(&c->values_truncated, memory_order_relaxed);
}

void
weft_tracer_stats(weft_tracer *t, weft_stats *out)
{
	int64_t free_bytes;
	uint64_t queued = 0;

	if (t == NULL || out == NULL)
		return;
	pthread_mutex_lock(&t->mu);
	*out = t->xstats;
	add_counters(out, &t->retired);
	for (sdk_thread *ts = t->threads; ts != NULL; ts = ts->next) {
		add_counters(out, &ts->c);
		queued += sdk_ring_size(&ts->ended);
	}
	out->queued = (uint32_t)queued;
	free_bytes = atomic_load_explicit(&t->budget, memory_order_relaxed);
	out->queued_bytes = (uint32_t)(t->max_queue_bytes - (free_bytes < 0 ? 0 : free_bytes));
	out->ack_p50_us = ack_quantile(t->ack_us_log2, t->xstats.batches_sent, 0.50);
	out->ack_p99_us = ack_quantile(t->ack_us_log2, t->xstats.batches_sent, 0.99);
	pthread_mutex_unlock(&t->mu);
}
