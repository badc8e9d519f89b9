/*
 * native.h - the native NNG receiver (REP) for libweft batches.
 *
 * Several worker threads each own an NNG context on one REP socket, so
 * batches from many SDKs are decoded and written concurrently (RocksDB
 * groups concurrent writers into one WAL write). Each request gets exactly
 * one reply: OK after the spans are durable, RETRY when the memory limiter
 * is spent or storage cannot take them now, REJECTED (never to be retried)
 * for a malformed batch. A request holds its message and decoded size
 * (from the header's raw length, times two for the decoded structures)
 * against the budget until it is answered.
 */
#ifndef WEFT_COLLECTOR_NATIVE_H
#define WEFT_COLLECTOR_NATIVE_H

#include "auth.h"
#include "budget.h"
#include "pipeline.h"
#include "wire.h"

typedef struct col_native col_native;

typedef struct col_native_config {
	const char *url;       /* e.g. tcp://127.0.0.1:4319 */
	int workers;           /* concurrent requests in progress */
	cm_wire_limits limits;
	uint32_t retry_ms;     /* suggested wait in RETRY replies */
	col_budget *budget;    /* the memory limiter; NULL: unlimited */
	const cm_auth *auth;   /* batches must carry one of these tokens (REJECTED otherwise); NULL: open */
	const char *tls_cert_pem; /* for a tls+tcp:// url: certificate chain and key (PEM text) */
	const char *tls_key_pem;
} col_native_config;

/* Listens on cfg->url. On failure returns an error with the reason in err. */
int col_native_start(const col_native_config *cfg, col_pipeline *p, col_native **out,
    char *err, size_t errlen);

/*
 * Lets requests in progress finish (up to drain_ms), closes the socket and
 * joins the workers. NULL is a no-op.
 */
void col_native_stop(col_native *n, uint32_t drain_ms);

#endif
