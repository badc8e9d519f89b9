/*
 * weft.h - libweft, the weft tracing SDK for C services.
 *
 * This header is libweft's whole supported API: nothing else in the library
 * is, and every exported name starts with weft_ / WEFT_.
 *
 * Model: a tracer (one per process, usually) owns a bounded span queue and
 * one exporter thread. weft_span_start() and weft_span_end() run on the
 * application's thread and never block on the network: ended spans go into
 * the queue, and the exporter thread batches them, compresses them (zstd)
 * and sends them to weft-collector over NNG, keeping each batch until the
 * collector acknowledges that it is durable. When the queue is full, new
 * spans are dropped and counted (weft_tracer_stats), never waited for.
 *
 * Threads: a tracer may be used from any number of threads. A span belongs
 * to the thread that uses it, until weft_span_end(). Every function accepts
 * a NULL span and then does nothing, so a failed start needs no checks.
 *
 * Configuration follows OpenTelemetry's environment variables where one
 * exists: OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER,
 * OTEL_TRACES_SAMPLER_ARG, OTEL_BSP_MAX_QUEUE_SIZE,
 * OTEL_BSP_MAX_EXPORT_BATCH_SIZE, OTEL_BSP_SCHEDULE_DELAY,
 * OTEL_BSP_EXPORT_TIMEOUT; plus WEFT_ENDPOINT (the collector's NNG URL,
 * default tcp://127.0.0.1:4319). Explicit fields of weft_tracer_config win.
 *
 * The library never calls exit() or abort(), and logs nothing unless the
 * application installs a log callback.
 */
#ifndef WEFT_H
#define WEFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(WEFT_BUILDING)
#define WEFT_API __attribute__((visibility("default")))
#else
#define WEFT_API
#endif

/* Error codes: 0 is success, the numbers never change. */
typedef enum weft_err {
	WEFT_OK = 0,
	WEFT_ENOMEM = 1,
	WEFT_EINVAL = 2,
	WEFT_EPROTO = 3,
	WEFT_ETOOBIG = 4,
	WEFT_EIO = 5,
	WEFT_ENOENT = 6,
	WEFT_ECLOSED = 7,
	WEFT_ETIMEDOUT = 8,
	WEFT_EAGAIN = 9,
	WEFT_EVERSION = 10,
	WEFT_EUNREACHABLE = 11,
	WEFT_EREJECTED = 12,
} weft_err;

/* A static description of err; never NULL. */
WEFT_API const char *weft_strerror(int err);

/* Ids are one-field structs so that a span id cannot pass for a trace id. */
typedef struct weft_trace_id {
	uint8_t b[16];
} weft_trace_id;

typedef struct weft_span_id {
	uint8_t b[8];
} weft_span_id;

#define WEFT_FLAG_SAMPLED 0x01

/* What crosses process boundaries: ids, W3C trace flags, and whether it came from another process. */
typedef struct weft_span_context {
	weft_trace_id trace_id;
	weft_span_id span_id;
	uint8_t flags;
	bool remote;
} weft_span_context;

/* True when both ids are non-zero. */
WEFT_API bool weft_span_context_is_valid(const weft_span_context *c);

typedef struct weft_tracer weft_tracer;
typedef struct weft_span weft_span;

typedef enum weft_log_level {
	WEFT_LOG_DEBUG = 0,
	WEFT_LOG_INFO = 1,
	WEFT_LOG_WARN = 2,
	WEFT_LOG_ERROR = 3,
} weft_log_level;

typedef void (*weft_log_fn)(void *arg, int level, const char *message);

/*
 * Tracer settings. Zero / NULL fields take the environment variable named
 * beside them, then the default.
 */
typedef struct weft_tracer_config {
	const char *service_name;        /* OTEL_SERVICE_NAME, else service.name in
	                                    OTEL_RESOURCE_ATTRIBUTES, else "unknown_service" */
	const char *resource_attributes; /* "k=v,k2=v2" (percent-encoded values); OTEL_RESOURCE_ATTRIBUTES */
	const char *endpoint;            /* NNG URL; WEFT_ENDPOINT; tcp://127.0.0.1:4319 */
	const char *sampler;             /* OTEL_TRACES_SAMPLER; parentbased_always_on */
	const char *sampler_arg;         /* OTEL_TRACES_SAMPLER_ARG; 1.0 */
	uint32_t max_queue_spans;        /* OTEL_BSP_MAX_QUEUE_SIZE; 2048 */
	uint32_t max_export_batch;       /* OTEL_BSP_MAX_EXPORT_BATCH_SIZE; 512 */
	uint32_t schedule_delay_ms;      /* OTEL_BSP_SCHEDULE_DELAY; 5000 */
	uint32_t export_timeout_ms;      /* OTEL_BSP_EXPORT_TIMEOUT: wait for one reply; 30000 */
	uint32_t shutdown_timeout_ms;    /* how long weft_tracer_destroy() may flush; 5000 */
	weft_log_fn log_fn;              /* NULL: the library logs nothing */
	void *log_arg;
} weft_tracer_config;

/*
 * Creates a tracer and starts its exporter thread. cfg may be NULL (all from
 * the environment). The collector need not be up: the exporter connects in
 * the background and retries. Returns WEFT_OK, WEFT_EINVAL for a bad
 * setting (e.g. an unknown sampler or a malformed endpoint), or WEFT_ENOMEM.
 */
WEFT_API int weft_tracer_create(const weft_tracer_config *cfg, weft_tracer **out);

/*
 * Exports what is queued (waiting at most shutdown_timeout_ms), stops the
 * exporter thread and frees the tracer. Spans of this tracer still open are
 * not exported; end them first. NULL is a no-op.
 */
WEFT_API void weft_tracer_destroy(weft_tracer *t);

/*
 * Waits until every span ended before the call has been acknowledged by the
 * collector or dropped, at most timeout_ms. Returns WEFT_OK or WEFT_ETIMEDOUT.
 */
WEFT_API int weft_tracer_flush(weft_tracer *t, uint32_t timeout_ms);

typedef struct weft_stats {
	uint64_t spans_started;  /* recording spans started */
	uint64_t spans_unsampled;/* spans started without recording */
	uint64_t spans_exported; /* acknowledged by the collector */
	uint64_t spans_dropped;  /* queue full, rejected by the collector, or given up at shutdown */
	uint64_t batches_sent;
	uint64_t retries;        /* sends repeated after a timeout or a RETRY reply */
	uint32_t queued;         /* spans waiting in the queue now */
	uint32_t ack_p50_us;     /* send-to-acknowledgement time of batches (within 2x, */
	uint32_t ack_p99_us;     /*   from power-of-two buckets); 0 before the first */
} weft_stats;

WEFT_API void weft_tracer_stats(weft_tracer *t, weft_stats *out);

/* ---- spans ---- */

typedef enum weft_span_kind {
	WEFT_KIND_INTERNAL = 1,
	WEFT_KIND_SERVER = 2,
	WEFT_KIND_CLIENT = 3,
	WEFT_KIND_PRODUCER = 4,
	WEFT_KIND_CONSUMER = 5,
} weft_span_kind;

typedef enum weft_status {
	WEFT_STATUS_UNSET = 0,
	WEFT_STATUS_OK = 1,
	WEFT_STATUS_ERROR = 2,
} weft_status;

typedef struct weft_span_options {
	int kind;                         /* weft_span_kind; 0 means INTERNAL */
	const weft_span_context *parent;  /* explicit parent (e.g. from weft_extract) */
	bool root;                        /* start a new trace even if a span is current */
	uint64_t start_ns;                /* unix ns; 0 means now */
} weft_span_options;

/*
 * Starts a span named `name` (copied). Its parent is opts->parent if given,
 * else the thread's current span unless opts->root, else none (a new trace).
 * opts may be NULL. Returns NULL only when out of memory; a span that the
 * sampler drops is returned too, not recording, so that its context still
 * propagates.
 */
WEFT_API weft_span *weft_span_start(weft_tracer *t, const char *name, const weft_span_options *opts);

/*
 * Ends the span at the current time and hands it to the exporter. If it is
 * the thread's current span, the span that was current before it becomes
 * current again. The span must not be used after this call.
 */
WEFT_API void weft_span_end(weft_span *s);

/* Makes s the thread's current span until it ends. */
WEFT_API void weft_span_make_current(weft_span *s);
/* The thread's current span, or NULL. */
WEFT_API weft_span *weft_span_current(void);

WEFT_API weft_span_context weft_span_get_context(const weft_span *s);
WEFT_API bool weft_span_is_recording(const weft_span *s);

/* Typed attributes; keys and string values are copied. A later value for a key replaces the earlier one. */
WEFT_API void weft_span_set_str(weft_span *s, const char *key, const char *value);
WEFT_API void weft_span_set_int(weft_span *s, const char *key, int64_t value);
WEFT_API void weft_span_set_double(weft_span *s, const char *key, double value);
WEFT_API void weft_span_set_bool(weft_span *s, const char *key, bool value);

typedef enum weft_attr_type {
	WEFT_ATTR_STR = 0,
	WEFT_ATTR_BOOL = 1,
	WEFT_ATTR_INT = 2,
	WEFT_ATTR_DOUBLE = 3,
} weft_attr_type;

typedef struct weft_attr {
	const char *key;
	int type; /* weft_attr_type */
	union {
		const char *s;
		bool b;
		int64_t i;
		double d;
	} v;
} weft_attr;

#define WEFT_STR(k, val) ((weft_attr){ .key = (k), .type = WEFT_ATTR_STR, .v.s = (val) })
#define WEFT_INT(k, val) ((weft_attr){ .key = (k), .type = WEFT_ATTR_INT, .v.i = (val) })
#define WEFT_DOUBLE(k, val) ((weft_attr){ .key = (k), .type = WEFT_ATTR_DOUBLE, .v.d = (val) })
#define WEFT_BOOL(k, val) ((weft_attr){ .key = (k), .type = WEFT_ATTR_BOOL, .v.b = (val) })

/* Adds a timestamped event (now) with attributes; everything is copied. */
WEFT_API void weft_span_add_event(weft_span *s, const char *name, const weft_attr *attrs, size_t nattrs);

/* Sets the status; message (copied, may be NULL) is kept only for ERROR, as OTLP says. */
WEFT_API void weft_span_set_status(weft_span *s, int status, const char *message);

/* ---- propagation (W3C Trace Context) ---- */

#define WEFT_TRACEPARENT_SIZE 56 /* 55 characters and a NUL */

/*
 * Writes "00-<trace-id>-<span-id>-<flags>" into dst. Returns WEFT_OK, or
 * WEFT_EINVAL when cap < WEFT_TRACEPARENT_SIZE or the context is invalid.
 */
WEFT_API int weft_traceparent_format(const weft_span_context *c, char *dst, size_t cap);

/*
 * Parses a traceparent header value as W3C Trace Context says: lowercase
 * hex, exact field lengths, version ff and all-zero ids invalid, future
 * versions read leniently. On WEFT_OK *out is set with remote = true;
 * otherwise WEFT_EINVAL and *out is untouched.
 */
WEFT_API int weft_traceparent_parse(const char *value, weft_span_context *out);

/* A carrier's accessors: get returns NULL when the key is absent. */
typedef const char *(*weft_getter)(void *carrier, const char *key);
typedef void (*weft_setter)(void *carrier, const char *key, const char *value);

/* Writes the span's context into the carrier as a "traceparent" header. */
WEFT_API void weft_inject(const weft_span *s, weft_setter set, void *carrier);

/* Reads "traceparent" from the carrier. Returns WEFT_OK, WEFT_ENOENT or WEFT_EINVAL. */
WEFT_API int weft_extract(weft_getter get, void *carrier, weft_span_context *out);

#ifdef __cplusplus
}
#endif

#endif
