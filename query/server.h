/*
 * server.h - weft-query's HTTP API: Jaeger's query API on a weft store.
 *
 * Routes (docs/http-api.md has examples):
 *   GET /api/services
 *   GET /api/services/{service}/operations
 *   GET /api/operations?service=S[&spanKind=K]
 *   GET /api/traces/{traceID}
 * Every answer is Jaeger's envelope {"data","total","limit","offset","errors"}.
 * With tokens configured, a request without "Authorization: Bearer <token>"
 * gets 401 (and WWW-Authenticate) before anything is read.
 *
 * Traces are clock-skew adjusted (clockskew.h) unless the request says
 * raw=true. The store is opened as a RocksDB secondary of the collector's data
 * directory when first needed (the collector may start later), and caught
 * up with the primary before every request, so an acknowledged span is
 * visible to the next request.
 */
#ifndef WEFT_QUERY_SERVER_H
#define WEFT_QUERY_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "auth.h"

typedef struct qry_server qry_server;

typedef struct qry_server_config {
	const char *data_dir;
	const char *http_addr; /* host:port */
	unsigned threads;      /* HTTP worker threads */
	uint64_t max_clock_skew_ns; /* bound of clock-skew adjustment; 0 disables it */
	const cm_auth *auth;   /* bearer tokens every request needs (401 without); NULL: open */
	size_t block_cache_bytes; /* RocksDB block cache; 0: the store's default (64 MiB) */
	const char *tls_cert_pem; /* HTTPS with this certificate chain and key (PEM text); */
	const char *tls_key_pem;  /*   both NULL: plain HTTP */
} qry_server_config;

/* Starts listening. On failure returns an error with the reason in err. */
int qry_server_start(const qry_server_config *cfg, qry_server **out, char *err, size_t errlen);
void qry_server_stop(qry_server *s);

#endif
