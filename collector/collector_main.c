/*
 * collector_main.c - weft-collector: flags, wiring, signals.
 *
 * Every flag has an environment override (named in --help); flags win.
 * SIGTERM and SIGINT drain the receivers, close the store and exit 0.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "budget.h"
#include "duration.h"
#include "httpd.h"
#include "env.h"
#include "err.h"
#include "log.h"
#include "native.h"
#include "pipeline.h"
#include "receivers.h"
#include "store.h"
#include "writer.h"

static const char usage[] =
    "usage: weft-collector --data-dir DIR [options]\n"
    "\n"
    "Receives spans, writes them durably to the store in DIR, and acknowledges\n"
    "each batch only once it is in the write-ahead log.\n"
    "\n"
    "  --data-dir DIR        store directory, created if missing   [WEFT_DATA_DIR]\n"
    "  --native URL|off      libweft NNG listener (tcp://127.0.0.1:4319)  [WEFT_NATIVE]\n"
    "  --otlp-http ADDR|off  OTLP/HTTP POST /v1/traces (127.0.0.1:4318)   [WEFT_OTLP_HTTP]\n"
    "  --zipkin ADDR|off     Zipkin POST /api/v2/spans (127.0.0.1:9411)   [WEFT_ZIPKIN]\n"
    "  --admin ADDR|off      /metrics /healthz /readyz (127.0.0.1:14269)  [WEFT_ADMIN]\n"
    "  --native-workers N    native requests handled at once (16) [WEFT_NATIVE_WORKERS]\n"
    "  --http-threads N      threads per HTTP listener (2)        [WEFT_HTTP_THREADS]\n"
    "  --memory-limit MIB    bytes of requests in progress before senders\n"
    "                        are told to retry (64)              [WEFT_MEMORY_LIMIT_MIB]\n"
    "  --max-request-mib N   largest request body, compressed or not (16)\n"
    "                                                         [WEFT_MAX_REQUEST_MIB]\n"
    "  --max-value-bytes N   attribute values are cut to this (65536; 0: no limit)\n"
    "                                                         [WEFT_MAX_VALUE_BYTES]\n"
    "  --max-attributes N    attributes kept per span, event and link; more are\n"
    "                        dropped and counted (1024; 0: no limit) [WEFT_MAX_ATTRIBUTES]\n"
    "  --max-batch-spans N   spans in one request; more refuse it (100000)\n"
    "                                                         [WEFT_MAX_BATCH_SPANS]\n"
    "  --max-json-depth N    nesting of a JSON body; deeper refuses it (64)\n"
    "                                                         [WEFT_MAX_JSON_DEPTH]\n"
    "  --write-max-spans N   spans in one write to the store; the writer keeps up\n"
    "                        to 1.25 x this acknowledged and not yet written,\n"
    "                        in memory (65536)                 [WEFT_WRITE_MAX_SPANS]\n"
    "  --write-window D      how long acknowledged spans wait for the rest of\n"
    "                        their traces before they are written (and can be\n"
    "                        queried), e.g. 500ms (1s)           [WEFT_WRITE_WINDOW]\n"
    "  --block-cache-mib N   RocksDB block cache (64)           [WEFT_BLOCK_CACHE_MIB]\n"
    "  --retention D         keep spans this long after arrival, then drop them\n"
    "                        (7d; e.g. 72h; 0: for ever)         [WEFT_RETENTION]\n"
    "  --sync                fsync the WAL on every batch          [WEFT_SYNC=1]\n"
    "  --tls-cert F, --tls-key F  HTTPS on the OTLP, Zipkin and admin listeners,\n"
    "                        and TLS on a --native tls+tcp://HOST:PORT listener,\n"
    "                        with this PEM certificate chain and key [WEFT_TLS_CERT,\n"
    "                        WEFT_TLS_KEY]\n"
    "  --auth-token-file F   every receiver and /metrics require a token from F\n"
    "                        (one per line): HTTP Authorization: Bearer <token>,\n"
    "                        native batches carry it (none) [WEFT_AUTH_TOKEN_FILE]\n"
    "  --log-level LEVEL     debug|info|warn|error|off (info)      [WEFT_LOG_LEVEL]\n"
    "  --help                this text\n";

typedef struct config {
	const char *data_dir;
	const char *native;
	const char *otlp_http;
	const char *zipkin;
	const char *admin;
	long workers;
	long http_threads;
	long memory_limit_mib;
	long max_request_mib;
	long max_value_bytes;
	long max_attributes;
	long max_batch_spans;
	long max_json_depth;
	long write_max_spans;
	uint64_t write_window_ns;
	long block_cache_mib;
	uint64_t retention_ns;
	bool sync;
	const char *token_file;
	const char *tls_cert;
	const char *tls_key;
} config;

/* Parses a whole number in [lo, hi] into *out; false otherwise. */
static bool
parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints a one-line reason; returns the exit code for bad usage. */
static int
fail(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "weft-collector: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 2;
}

static int
parse_args(int argc, char **argv, config *c)
{
	static const struct option opts[] = {
		{ "data-dir", required_argument, NULL, 'd' },
		{ "native", required_argument, NULL, 'n' },
		{ "admin", required_argument, NULL, 'a' },
		{ "otlp-http", required_argument, NULL, 'o' },
		{ "zipkin", required_argument, NULL, 'z' },
		{ "native-workers", required_argument, NULL, 'w' },
		{ "http-threads", required_argument, NULL, 't' },
		{ "memory-limit", required_argument, NULL, 'm' },
		{ "max-request-mib", required_argument, NULL, 'r' },
		{ "max-value-bytes", required_argument, NULL, 'v' },
		{ "max-attributes", required_argument, NULL, 'M' },
		{ "max-batch-spans", required_argument, NULL, 'B' },
		{ "max-json-depth", required_argument, NULL, 'J' },
		{ "write-max-spans", required_argument, NULL, 'W' },
		{ "write-window", required_argument, NULL, 'L' },
		{ "sync", no_argument, NULL, 's' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "auth-token-file", required_argument, NULL, 'A' },
		{ "block-cache-mib", required_argument, NULL, 'C' },
		{ "retention", required_argument, NULL, 'R' },
		{ "tls-cert", required_argument, NULL, 'T' },
		{ "tls-key", required_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *level = cm_env_or("WEFT_LOG_LEVEL", "info");
	const char *workers = cm_env_or("WEFT_NATIVE_WORKERS", "16");
	const char *threads = cm_env_or("WEFT_HTTP_THREADS", "2");
	const char *memory = cm_env_or("WEFT_MEMORY_LIMIT_MIB", "64");
	const char *request = cm_env_or("WEFT_MAX_REQUEST_MIB", "16");
	const char *value = cm_env_or("WEFT_MAX_VALUE_BYTES", "65536");
	const char *attrs = cm_env_or("WEFT_MAX_ATTRIBUTES", "1024");
	const char *spans = cm_env_or("WEFT_MAX_BATCH_SPANS", "100000");
	const char *depth = cm_env_or("WEFT_MAX_JSON_DEPTH", "64");
	const char *wmax = cm_env_or("WEFT_WRITE_MAX_SPANS", "65536");
	const char *window = cm_env_or("WEFT_WRITE_WINDOW", "1s");
	const char *cache = cm_env_or("WEFT_BLOCK_CACHE_MIB", "64");
	const char *retention = cm_env_or("WEFT_RETENTION", "7d");
	int ch;

	c->data_dir = cm_env_or("WEFT_DATA_DIR", NULL);
	c->native = cm_env_or("WEFT_NATIVE", "tcp://127.0.0.1:4319");
	c->admin = cm_env_or("WEFT_ADMIN", "127.0.0.1:14269");
	c->otlp_http = cm_env_or("WEFT_OTLP_HTTP", "127.0.0.1:4318");
	c->zipkin = cm_env_or("WEFT_ZIPKIN", "127.0.0.1:9411");
	c->sync = strcmp(cm_env_or("WEFT_SYNC", "0"), "1") == 0;
	c->token_file = cm_env_or("WEFT_AUTH_TOKEN_FILE", NULL);
	c->tls_cert = cm_env_or("WEFT_TLS_CERT", NULL);
	c->tls_key = cm_env_or("WEFT_TLS_KEY", NULL);
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': c->data_dir = optarg; break;
		case 'n': c->native = optarg; break;
		case 'a': c->admin = optarg; break;
		case 'o': c->otlp_http = optarg; break;
		case 'z': c->zipkin = optarg; break;
		case 'w': workers = optarg; break;
		case 't': threads = optarg; break;
		case 'm': memory = optarg; break;
		case 'r': request = optarg; break;
		case 'v': value = optarg; break;
		case 'M': attrs = optarg; break;
		case 'B': spans = optarg; break;
		case 'J': depth = optarg; break;
		case 'W': wmax = optarg; break;
		case 'L': window = optarg; break;
		case 's': c->sync = true; break;
		case 'l': level = optarg; break;
		case 'A': c->token_file = optarg; break;
		case 'C': cache = optarg; break;
		case 'R': retention = optarg; break;
		case 'T': c->tls_cert = optarg; break;
		case 'K': c->tls_key = optarg; break;
		case 'h': fputs(usage, stdout); exit(0);
		default:
			return fail("unknown or incomplete option %s (see --help)", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return fail("unexpected argument %s (see --help)", argv[optind]);
	if (c->data_dir == NULL)
		return fail("%s", "--data-dir is required (see --help)");
	if ((cm_log_threshold = cm_log_parse_level(level)) < 0)
		return fail("bad --log-level %s (debug|info|warn|error|off)", level);
	if (!parse_long(workers, 1, 256, &c->workers))
		return fail("bad --native-workers %s (1..256)", workers);
	if (!parse_long(threads, 1, 64, &c->http_threads))
		return fail("bad --http-threads %s (1..64)", threads);
	if (!parse_long(memory, 1, 1 << 20, &c->memory_limit_mib))
		return fail("bad --memory-limit %s (MiB, at least 1)", memory);
	if (!parse_long(request, 1, 1024, &c->max_request_mib))
		return fail("bad --max-request-mib %s (1..1024)", request);
	if (!parse_long(value, 0, 1 << 30, &c->max_value_bytes))
		return fail("bad --max-value-bytes %s", value);
	if (!parse_long(attrs, 0, 1 << 20, &c->max_attributes))
		return fail("bad --max-attributes %s (0..1048576)", attrs);
	if (!parse_long(spans, 1, 1000000, &c->max_batch_spans))
		return fail("bad --max-batch-spans %s (1..1000000)", spans);
	if (!parse_long(depth, 4, 1024, &c->max_json_depth))
		return fail("bad --max-json-depth %s (4..1024)", depth);
	if (!parse_long(wmax, 1, 1 << 24, &c->write_max_spans))
		return fail("bad --write-max-spans %s (1..16777216)", wmax);
	if (cm_duration_parse(window, &c->write_window_ns) != CM_OK || c->write_window_ns > 3600000000000ull)
		return fail("bad --write-window %s (a duration up to 1h, such as 500ms or 2s; 0: write at once)", window);
	if (!parse_long(cache, 1, 1 << 20, &c->block_cache_mib))
		return fail("bad --block-cache-mib %s (MiB, at least 1)", cache);
	if (cm_duration_parse(retention, &c->retention_ns) != CM_OK ||
	    (c->retention_ns != 0 && c->retention_ns < 3600000000000ull))
		return fail("bad --retention %s (a duration of at least 1h, such as 72h or 7d; 0: for ever)", retention);
	if ((c->tls_cert == NULL) != (c->tls_key == NULL))
		return fail("%s", "--tls-cert and --tls-key go together");
	return 0;
}

#define EXPIRE_INTERVAL_S 60

/* Drops the partitions past --retention; its cost does not grow with the data. */
static void
expire(st_store *store)
{
	size_t dropped;
	if (st_store_expire(store, &dropped) != CM_OK)
		cm_log(CM_LOG_ERROR, "COL-RETENTION", "%s", "dropping expired partitions failed; trying again later");
}

/* The signal taken from set, or -1 after timeout_s without one. */
static int
wait_for_signal(const sigset_t *set, long timeout_s)
{
	struct timespec ts = { timeout_s, 0 };
	int sig;
	while ((sig = sigtimedwait(set, NULL, &ts)) < 0 && errno == EINTR)
		;
	return sig;
}

/* Health checks stay open for probes; /metrics needs the token like everything else. */
static const char *const admin_open_paths[] = { "/healthz", "/readyz", NULL };

/* PEM text of --tls-cert and --tls-key, read once at start; NULL without TLS. */
static cm_buf tls_cert, tls_key;

/* Starts an HTTP listener unless addr is "off". */
static int
start_http(const char *name, const char *addr, const config *c, const cm_auth *auth, col_budget *budget,
    col_metrics *m, col_receiver rx, col_http_handler handler, void *arg, col_httpd **out)
{
	char err[512];
	col_httpd_config hc = {
		.addr = addr,
		.max_body = (size_t)c->max_request_mib << 20,
		.max_decompressed = (size_t)c->max_request_mib << 20,
		.budget = budget,
		.metrics = m,
		.rx = rx,
		.threads = (unsigned)c->http_threads,
		.handler = handler,
		.arg = arg,
		.name = name,
		.auth = auth,
		.open_paths = admin_open_paths,
		.tls_cert_pem = tls_cert.data,
		.tls_key_pem = tls_key.data,
	};
	if (strcmp(addr, "off") == 0)
		return 0;
	if (col_httpd_start(&hc, out, err, sizeof err) != CM_OK) {
		fprintf(stderr, "weft-collector: %s\n", err);
		return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	config c = { 0 };
	st_options so = { 0 };
	st_store *store = NULL;
	col_metrics metrics;
	col_budget budget;
	col_pipeline pipeline;
	col_writer *writer = NULL;
	col_writer_config wc;
	col_limits limits;
	col_admin admin;
	col_native *native = NULL;
	col_httpd *admin_http = NULL, *otlp_http = NULL, *zipkin_http = NULL;
	atomic_bool ready = false;
	sigset_t sigs;
	char err[512] = "";
	int rv, sig;

	static cm_auth auth_tokens;
	const cm_auth *auth = NULL;

	if ((rv = parse_args(argc, argv, &c)) != 0)
		return rv;
	/*
	 * RocksDB's memtables come and go in blocks of megabytes. glibc gave
	 * each freed one back to the kernel (mapped blocks, and heap tops above
	 * the trim threshold) and faulted the next in a page at a time; kept,
	 * they cost nothing more than the peak the memory limiter bounds
	 * already (page faults per 2M native spans 47k -> 34k, system time -15%).
	 */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 128 << 20);
	if (c.token_file != NULL) {
		if (cm_auth_load(c.token_file, &auth_tokens, err, sizeof err) != CM_OK)
			return fail("%s", err);
		auth = &auth_tokens;
	}
	cm_buf_init(&tls_cert);
	cm_buf_init(&tls_key);
	if (c.tls_cert != NULL &&
	    (cm_buf_read_file(&tls_cert, c.tls_cert) != CM_OK || cm_buf_read_file(&tls_key, c.tls_key) != CM_OK))
		return fail("cannot read %s or %s", c.tls_cert, c.tls_key);
	/* Signals are taken by sigwait() below; every thread inherits the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	memset(&metrics, 0, sizeof metrics);
	atomic_init(&budget.used, 0);
	budget.limit = (size_t)c.memory_limit_mib << 20;
	so.data_dir = c.data_dir;
	so.sync = c.sync;
	so.block_cache_bytes = (size_t)c.block_cache_mib << 20;
	so.retention_ns = c.retention_ns;
	if (st_store_open(&so, &store, err, sizeof err) != CM_OK) {
		fprintf(stderr, "weft-collector: %s\n", err);
		return 1;
	}
	limits = (col_limits){ (uint32_t)c.max_value_bytes, (uint32_t)c.max_attributes, (uint32_t)c.max_batch_spans,
		(uint32_t)c.max_json_depth };
	wc = (col_writer_config){ (uint32_t)c.write_max_spans, c.write_window_ns, limits };
	if (col_writer_start(store, &metrics, &wc, &writer) != CM_OK) {
		fprintf(stderr, "weft-collector: cannot start the writer\n");
		st_store_close(store);
		return 1;
	}
	pipeline = (col_pipeline){ writer, &metrics, limits };
	admin = (col_admin){ &metrics, &budget, store, &ready };

	rv = start_http("admin", c.admin, &c, auth, NULL, NULL, 0, col_admin_handle, &admin, &admin_http);
	if (rv == 0)
		rv = start_http("otlp-http", c.otlp_http, &c, auth, &budget, &metrics, COL_RX_OTLP_HTTP,
		    col_otlp_handle, &pipeline, &otlp_http);
	if (rv == 0)
		rv = start_http("zipkin", c.zipkin, &c, auth, &budget, &metrics, COL_RX_ZIPKIN,
		    col_zipkin_handle, &pipeline, &zipkin_http);
	if (rv == 0 && strcmp(c.native, "off") != 0) {
		col_native_config nc = {
			.url = c.native,
			.workers = (int)c.workers,
			.limits = cm_wire_default_limits,
			.retry_ms = 500,
			.budget = &budget,
			.auth = auth,
			.tls_cert_pem = tls_cert.data,
			.tls_key_pem = tls_key.data,
		};
		nc.limits.max_message = (size_t)c.max_request_mib << 20;
		nc.limits.max_spans = (uint32_t)c.max_batch_spans;
		if (col_native_start(&nc, &pipeline, &native, err, sizeof err) != CM_OK) {
			fprintf(stderr, "weft-collector: %s\n", err);
			rv = 1;
		}
	}
	if (rv != 0) {
		col_httpd_stop(zipkin_http);
		col_httpd_stop(otlp_http);
		col_httpd_stop(admin_http);
		col_writer_stop(writer);
		st_store_close(store);
		return 1;
	}
	atomic_store(&ready, true);
	cm_log(CM_LOG_INFO, "COL-READY", "data dir %s; native %s; otlp-http %s; zipkin %s; admin %s%s%s",
	    c.data_dir, c.native, c.otlp_http, c.zipkin, c.admin, c.sync ? "; fsync per batch" : "",
	    auth ? "; bearer tokens required" : "");

	expire(store);
	while ((sig = wait_for_signal(&sigs, EXPIRE_INTERVAL_S)) < 0)
		expire(store);
	cm_log(CM_LOG_INFO, "COL-STOP", "%s: draining", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	atomic_store(&ready, false);
	/* Receivers first (each finishes the requests it has), then the store. */
	col_native_stop(native, 2000);
	col_httpd_stop(otlp_http);
	col_httpd_stop(zipkin_http);
	col_httpd_stop(admin_http);
	col_writer_stop(writer);
	st_store_close(store);
	cm_log(CM_LOG_INFO, "COL-STOPPED", "store closed cleanly");
	return 0;
}
