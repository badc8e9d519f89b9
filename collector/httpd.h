/*
 * httpd.h - the collector's HTTP listeners (OTLP/HTTP, Zipkin, admin) on
 * libmicrohttpd.
 *
 * The wrapper collects a request's whole body (libmicrohttpd decodes chunked
 * transfer encoding, which every OpenTelemetry JS exporter uses), enforces
 * the body size limit (413), takes the body's bytes from the memory budget
 * as they arrive (429 when it is spent), inflates Content-Encoding: gzip
 * within the decompressed limit (413), checks the bearer token when the
 * listener has one (401, before the body is kept), and hands the handler
 * one complete request. Handlers run on libmicrohttpd's worker threads.
 */
#ifndef WEFT_COLLECTOR_HTTPD_H
#define WEFT_COLLECTOR_HTTPD_H

#include <stddef.h>

#include "auth.h"
#include "budget.h"
#include "buf.h"
#include "metrics.h"

typedef struct col_http_request {
	const char *method;
	const char *path;
	const char *content_type; /* "" when absent; parameters such as charset kept */
	const char *body;         /* decompressed */
	size_t len;
} col_http_request;

typedef struct col_http_reply {
	unsigned status;
	const char *content_type;
	unsigned retry_after_s; /* sent as Retry-After when non-zero */
	cm_buf body;
} col_http_reply;

/* Fills *rep (status 200 and an empty body preset) for one request. */
typedef void (*col_http_handler)(void *arg, const col_http_request *req, col_http_reply *rep);

typedef struct col_httpd_config {
	const char *addr;         /* host:port */
	size_t max_body;          /* bytes as received */
	size_t max_decompressed;  /* bytes after gzip */
	col_budget *budget;       /* may be NULL (admin) */
	col_metrics *metrics;     /* counts 413/429 refusals under `rx`; NULL: not counted */
	col_receiver rx;
	unsigned threads;
	col_http_handler handler;
	void *arg;
	const char *name;         /* for logs: "otlp-http", "zipkin", "admin" */
	const cm_auth *auth;      /* bearer tokens required (401 without); NULL: open */
	const char *tls_cert_pem; /* HTTPS with this certificate chain and key (PEM text); */
	const char *tls_key_pem;  /*   both NULL: plain HTTP */
	const char *const *open_paths; /* paths that need no token (NULL-terminated), e.g. health checks */
} col_httpd_config;

typedef struct col_httpd col_httpd;

int col_httpd_start(const col_httpd_config *cfg, col_httpd **out, char *err, size_t errlen);
/* Stops accepting, finishes requests in progress, frees. NULL is a no-op. */
void col_httpd_stop(col_httpd *h);

/* Starts *rep as a plain-text error reply. */
void col_http_error(col_http_reply *rep, unsigned status, const char *msg);

#endif
