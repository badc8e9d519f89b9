/*
 * weft.h - libweft, the weft tracing SDK for C services.
 *
 * This header is libweft's whole supported API: nothing else in the library
 * is, and every exported name starts with weft_ / WEFT_.
 *
 * Model: a tracer (one per process, usually) gives each thread that uses it
 * a pool of span objects and a ring of ended spans, and runs one exporter
 * thread. weft_span_start() and weft_span_end() take no lock shared with
 * other threads, allocate nothing once the pool is warm, and never block on
 * the network: the exporter thread drains the rings, encodes batches,
 * compresses them (zstd) and sends them to weft-collector over NNG's wire
 * protocol, keeping each batch until the collector acknowledges that it is
 * durable. Ended spans waiting for export are bounded in bytes
 * (max_queue_bytes); beyond that, new ones are dropped and counted
 * (weft_tracer_stats), never waited for.
 *
 * Threads: a tracer may be used from any number of threads. A span belongs
 * to one thread at a time until weft_span_end(), which any thread may call.
 * Every function accepts a NULL span and then does nothing, so a failed
 * start needs no checks. fork() is safe: the child drops what the parent
 * had queued and gets its own exporter on its first ended span.
 *
 * Configuration follows OpenTelemetry's environment variables where one
 * exists: OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER,
 * OTEL_TRACES_SAMPLER_ARG, OTEL_PROPAGATORS, OTEL_BSP_MAX_QUEUE_SIZE,
 * OTEL_BSP_MAX_EXPORT_BATCH_SIZE, OTEL_BSP_SCHEDULE_DELAY,
 * OTEL_BSP_EXPORT_TIMEOUT, OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT,
 * OTEL_SPAN_EVENT_COUNT_LIMIT, OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT,
 * OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT; plus WEFT_ENDPOINT (the collector's URL,
 * tcp:// or ipc://, default tcp://127.0.0.1:4319) and WEFT_BSP_MAX_QUEUE_BYTES.
 * Explicit fields of weft_tracer_config win. docs/sdk.md has the table.
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

#define WEFT_TRACESTATE_MAX 513 /* W3C: at least 512 characters propagate; and a NUL */
#define WEFT_BAGGAGE_MAX 8193   /* W3C: at least 8192 bytes of baggage; and a NUL */

/*
 * What a request carries in (weft_extract) and a span carries on: the
 * remote parent's ids, the vendors' W3C tracestate and the W3C baggage.
 * The strings are normalised header values, "" when absent: tracestate is
 * "key=value,key2=value2", baggage "key=value;property,key2=value2" with
 * values percent-encoded. Zero-initialise it to start from nothing.
 */
typedef struct weft_context {
	weft_span_context span;
	char tracestate[WEFT_TRACESTATE_MAX];
	char baggage[WEFT_BAGGAGE_MAX];
} weft_context;

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
	const char *auth_token;          /* the collector's bearer token (--auth-token-file);
	                                    WEFT_AUTH_TOKEN; none */
	const char *tls_ca_file;         /* tls+tcp:// endpoints: CA certificates (PEM) the
	                                    collector's certificate must chain to; WEFT_TLS_CA;
	                                    the system's bundle */
	const char *sampler;             /* OTEL_TRACES_SAMPLER; parentbased_always_on */
	const char *sampler_arg;         /* OTEL_TRACES_SAMPLER_ARG; 1.0 (ratelimiting: traces per second) */
	const char *propagators;         /* OTEL_PROPAGATORS; "tracecontext,baggage" */
	uint32_t max_queue_spans;        /* OTEL_BSP_MAX_QUEUE_SIZE: ended spans per thread; 2048 */
	uint32_t max_queue_bytes;        /* WEFT_BSP_MAX_QUEUE_BYTES: ended spans in all; 4 MiB */
	uint32_t max_export_batch;       /* OTEL_BSP_MAX_EXPORT_BATCH_SIZE; 512 */
	uint32_t max_export_batch_bytes; /* WEFT_BSP_MAX_EXPORT_BATCH_BYTES: a batch closes
	                                    when its spans' memory reaches this; 4 MiB */
	uint32_t schedule_delay_ms;      /* OTEL_BSP_SCHEDULE_DELAY; 5000 */
	uint32_t export_timeout_ms;      /* OTEL_BSP_EXPORT_TIMEOUT: wait for one reply; 30000 */
	uint32_t shutdown_timeout_ms;    /* how long weft_tracer_destroy() may flush; 5000 */
	uint32_t max_attributes;         /* OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT; 128 */
	uint32_t max_events;             /* OTEL_SPAN_EVENT_COUNT_LIMIT; 128 */
	uint32_t max_event_attributes;   /* OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT; 128 */
	uint32_t max_value_length;       /* OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT (bytes,
	                                    cut at a UTF-8 boundary); 4096 */
	uint32_t breaker_failures;       /* WEFT_BREAKER_FAILURES: failed sends in a row
	                                    that open the circuit breaker; 5 */
	uint32_t breaker_cooldown_ms;    /* WEFT_BREAKER_COOLDOWN: how long it stays open; 10000 */
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
 * not exported and must not be used afterwards; end them first, and stop
 * using the tracer on other threads before. NULL is a no-op.
 */
WEFT_API void weft_tracer_destroy(weft_tracer *t);

/*
 * Waits until every span ended before the call has been acknowledged by the
 * collector or dropped, at most timeout_ms. Returns WEFT_OK or WEFT_ETIMEDOUT.
 */
WEFT_API int weft_tracer_flush(weft_tracer *t, uint32_t timeout_ms);

typedef enum weft_breaker_state {
	WEFT_BREAKER_CLOSED = 0,    /* sending */
	WEFT_BREAKER_OPEN = 1,      /* not sending until the cooldown ends */
	WEFT_BREAKER_HALF_OPEN = 2, /* one probe batch in flight */
} weft_breaker_state;

typedef struct weft_stats {
	uint64_t spans_started;   /* recording spans started */
	uint64_t spans_unsampled; /* spans started without recording */
	uint64_t spans_exported;  /* acknowledged by the collector */
	uint64_t spans_dropped;   /* queue full, rejected by the collector, or given up at shutdown */
	uint64_t batches_sent;
	uint64_t retries;         /* sends repeated after a timeout, an error or a RETRY reply */
	uint64_t breaker_opens;   /* times the circuit breaker opened */
	uint64_t attributes_dropped; /* over max_attributes / max_event_attributes */
	uint64_t events_dropped;  /* over max_events */
	uint64_t values_truncated;/* string values cut to max_value_length */
	uint32_t queued;          /* ended spans waiting for the exporter now */
	uint32_t queued_bytes;    /* their memory, against max_queue_bytes */
	uint32_t breaker;         /* weft_breaker_state now */
	uint32_t ack_p50_us;      /* send-to-acknowledgement time of batches (within 2x, */
	uint32_t ack_p99_us;      /*   from power-of-two buckets); 0 before the first */
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
	const weft_context *context;      /* parent from a carrier (weft_extract), with its
	                                     tracestate and baggage */
	const weft_span_context *parent;  /* explicit parent by ids alone */
	bool root;                        /* start a new trace even if a span is current */
	uint64_t start_ns;                /* unix ns; 0 means now */
} weft_span_options;

/*
 * Starts a span named `name` (copied). Its parent is opts->context's span
 * if valid, else opts->parent if valid, else the thread's current span
 * unless opts->root, else none (a new trace). It inherits its parent's
 * tracestate and baggage (a context with baggage but no valid span gives a
 * new trace that baggage). opts may be NULL. Returns NULL only when out of
 * memory; a span that the sampler drops is returned too, not recording, so
 * that its context still propagates.
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

/*
 * The same calls with the strings' lengths given: the first `*_len` bytes
 * are used, and need no NUL (a C++ string_view, a slice of a buffer).
 * WEFT_LEN_UNKNOWN means a NUL-terminated string that libweft measures.
 */
#define WEFT_LEN_UNKNOWN ((size_t)-1)
WEFT_API weft_span *weft_span_start_n(weft_tracer *t, const char *name, size_t name_len, const weft_span_options *opts);
WEFT_API void weft_span_set_str_n(weft_span *s, const char *key, size_t key_len, const char *value, size_t value_len);
WEFT_API void weft_span_set_int_n(weft_span *s, const char *key, size_t key_len, int64_t value);
WEFT_API void weft_span_set_double_n(weft_span *s, const char *key, size_t key_len, double value);
WEFT_API void weft_span_set_bool_n(weft_span *s, const char *key, size_t key_len, bool value);

/*
 * In C with GCC or Clang, the calls above pass the length of a string
 * literal, which the compiler knows, so libweft does not measure it:
 * attribute keys and span names are nearly always literals. Any other
 * argument is passed as WEFT_LEN_UNKNOWN; each argument is evaluated
 * once. Define WEFT_NO_LITERAL_LENGTHS to call the plain functions.
 */
#if (defined(__GNUC__) || defined(__clang__)) && !defined(__cplusplus) && !defined(WEFT_NO_LITERAL_LENGTHS)
#define WEFT_LITERAL_LEN(p)                                                             \
	(__builtin_constant_p(p) && (const char *)(p) != NULL                              \
	        ? __builtin_strlen((const char *)(p) != NULL ? (const char *)(p) : "")     \
	        : WEFT_LEN_UNKNOWN)
/* The last argument is variadic: a compound literal's commas are not the macro's. */
#define weft_span_start(t, name, ...) weft_span_start_n((t), (name), WEFT_LITERAL_LEN(name), __VA_ARGS__)
#define weft_span_set_str(s, key, ...)                                                  \
	weft_span_set_str_n((s), (key), WEFT_LITERAL_LEN(key), (__VA_ARGS__), WEFT_LITERAL_LEN(__VA_ARGS__))
#define weft_span_set_int(s, key, ...) weft_span_set_int_n((s), (key), WEFT_LITERAL_LEN(key), __VA_ARGS__)
#define weft_span_set_double(s, key, ...) weft_span_set_double_n((s), (key), WEFT_LITERAL_LEN(key), __VA_ARGS__)
#define weft_span_set_bool(s, key, ...) weft_span_set_bool_n((s), (key), WEFT_LITERAL_LEN(key), __VA_ARGS__)
#endif

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

/*
 * Scoped spans: WEFT_SCOPED_SPAN(t, span, "name", opts) declares
 * `weft_span *span`, started with opts (NULL, or a compound literal like
 * &(weft_span_options){ .kind = WEFT_KIND_SERVER }) and made current, and
 * ends it when the enclosing block exits by any path (GCC/Clang cleanup
 * attribute).
 */
WEFT_API void weft_span_end_scoped(weft_span **s);
#define WEFT_SCOPED_SPAN(tracer, var, name, ...)                                        \
	weft_span *var __attribute__((cleanup(weft_span_end_scoped))) =                    \
	    weft_span_start((tracer), (name), (__VA_ARGS__));                              \
	weft_span_make_current(var)

/* ---- propagation ---- */

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

/*
 * Parses a tracestate header value (several headers joined with ",") into
 * dst as a normalised list: W3C key and value grammar, at most 32 members,
 * no duplicate keys, empty members skipped; if it exceeds cap-1 characters,
 * members over 128 characters go first, then members from the end. Returns
 * WEFT_OK, or WEFT_EINVAL (dst = "") for a list W3C says to discard.
 */
WEFT_API int weft_tracestate_parse(const char *value, char *dst, size_t cap);

/*
 * Sets key=value in the tracestate list ts (of capacity cap) and moves it to
 * the front, as a vendor updating its own member must. Returns WEFT_OK,
 * WEFT_EINVAL for a key or value outside the grammar, WEFT_ETOOBIG.
 */
WEFT_API int weft_tracestate_set(char *ts, size_t cap, const char *key, const char *value);

/*
 * Parses a W3C baggage header value into dst, normalised; invalid members
 * are skipped. Returns WEFT_OK or WEFT_ETOOBIG (dst keeps what fitted).
 */
WEFT_API int weft_baggage_parse(const char *value, char *dst, size_t cap);

/*
 * Copies the (percent-decoded) value of key from the baggage list into dst.
 * Returns WEFT_OK, WEFT_ENOENT, or WEFT_ETOOBIG when cap is too small.
 */
WEFT_API int weft_baggage_get(const char *baggage, const char *key, char *dst, size_t cap);

/*
 * Sets key to value (percent-encoded here) in the baggage list bg of
 * capacity cap, replacing an earlier value. Returns WEFT_OK, WEFT_EINVAL
 * for a key that is not an HTTP token, or WEFT_ETOOBIG.
 */
WEFT_API int weft_baggage_set(char *bg, size_t cap, const char *key, const char *value);

/* A span's baggage and tracestate, and their setters (children started later inherit them). */
WEFT_API const char *weft_span_baggage(const weft_span *s);
WEFT_API const char *weft_span_tracestate(const weft_span *s);
WEFT_API int weft_span_set_baggage(weft_span *s, const char *key, const char *value);
WEFT_API int weft_span_set_tracestate(weft_span *s, const char *key, const char *value);

/* Propagation formats, combined as a bit set. */
enum {
	WEFT_PROP_TRACECONTEXT = 1 << 0, /* traceparent, tracestate */
	WEFT_PROP_BAGGAGE = 1 << 1,      /* baggage */
	WEFT_PROP_B3 = 1 << 2,           /* b3 (single header) */
	WEFT_PROP_B3MULTI = 1 << 3,      /* X-B3-TraceId, X-B3-SpanId, X-B3-ParentSpanId, X-B3-Sampled, X-B3-Flags */
	WEFT_PROP_JAEGER = 1 << 4,       /* uber-trace-id, uberctx-* */
};

/*
 * Parses an OTEL_PROPAGATORS list ("tracecontext,baggage,b3,b3multi,jaeger",
 * or "none") into a set, in the order given. Returns WEFT_OK or
 * WEFT_EINVAL for an unknown name.
 */
WEFT_API int weft_propagators_parse(const char *list, unsigned *out);

/*
 * A carrier's accessors. get returns the value of a header by name, NULL
 * when absent; names are matched case-insensitively by the carrier (HTTP
 * header names are), and several headers of one name are joined with ",".
 * keys calls visit for every header name; only the jaeger format needs it
 * (for uberctx-*) and it may be NULL.
 */
typedef const char *(*weft_getter)(void *carrier, const char *key);
typedef void (*weft_setter)(void *carrier, const char *key, const char *value);
typedef void (*weft_keys)(void *carrier, void (*visit)(void *arg, const char *key), void *arg);

/* Writes the span's context, tracestate and baggage into the carrier in the tracer's formats. */
WEFT_API void weft_inject(const weft_span *s, weft_setter set, void *carrier);
WEFT_API void weft_inject_with(unsigned formats, const weft_span *s, weft_setter set, void *carrier);

/*
 * Reads the tracer's formats from the carrier into *out (zeroed first). In
 * the order of the formats, a later format's valid span context replaces an
 * earlier one, as OpenTelemetry's composite propagator does. Returns WEFT_OK
 * when a valid span context was found; WEFT_ENOENT when none was (out may
 * still carry baggage); WEFT_EINVAL for NULL arguments.
 */
WEFT_API int weft_extract(weft_tracer *t, weft_getter get, weft_keys keys, void *carrier, weft_context *out);
WEFT_API int weft_extract_with(unsigned formats, weft_getter get, weft_keys keys, void *carrier, weft_context *out);

/* Plain header arrays, for servers that hold request headers as name/value pairs. */
typedef struct weft_header {
	const char *name;
	const char *value;
} weft_header;

/* weft_extract over n headers (names in any case; repeated names joined). */
WEFT_API int weft_extract_headers(weft_tracer *t, const weft_header *h, size_t n, weft_context *out);

/*
 * weft_inject into an array: appends at most cap headers to out, their names
 * and values copied into buf (bufcap bytes). Returns how many were written;
 * headers that do not fit are left out.
 */
WEFT_API size_t weft_inject_headers(const weft_span *s, weft_header *out, size_t cap, char *buf, size_t bufcap);

#ifdef __cplusplus
}
#endif

#endif
