/*
 * native.c - NNG REP receiver: decode, validate, write, reply.
 *
 * Threads: `workers` threads, each blocking on its own nng_ctx. `busy`
 * counts requests between receive and reply, so that a stop can wait for
 * them before closing the socket.
 */
#include "native.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/tls/tls.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "err.h"
#include "log.h"

struct col_native {
	nng_socket sock;
	nng_listener listener;
	col_pipeline *pipeline;
	col_native_config cfg;
	pthread_t *threads;
	int nthreads;
	atomic_int busy;
};

#define ADD(counter, n) atomic_fetch_add_explicit(&(counter), (n), memory_order_relaxed)

static void
set_reply(nng_msg *msg, int type, uint32_t accepted, uint32_t retry_ms, const char *reason)
{
	cm_wire_reply r = { .type = type, .accepted = accepted, .retry_ms = retry_ms };
	cm_buf out;

	snprintf(r.reason, sizeof r.reason, "%s", reason ? reason : "");
	cm_buf_init(&out);
	nng_msg_clear(msg);
	if (cm_wire_encode_reply(&r, &out) == CM_OK)
		nng_msg_append(msg, out.data, out.len);
	cm_buf_fini(&out);
}

/* Bytes a request holds while handled: the message, its payload, the decoded batch. */
static size_t
request_cost(nng_msg *msg)
{
	const uint8_t *h = nng_msg_body(msg);
	size_t len = nng_msg_len(msg), raw = 0;
	if (len >= CM_WIRE_HEADER_SIZE)
		raw = (size_t)h[8] << 24 | (size_t)h[9] << 16 | (size_t)h[10] << 8 | h[11];
	return len + 2 * raw;
}

/* Handles one request in place: msg becomes the reply. */
static bool
authorized(col_native *n, nng_msg *msg)
{
	const char *tok;
	size_t len;
	if (n->cfg.auth == NULL)
		return true;
	return cm_wire_token(nng_msg_body(msg), nng_msg_len(msg), &tok, &len) && cm_auth_token_ok(n->cfg.auth, tok, len);
}

static void
handle(col_native *n, cm_wire_codec *codec, nng_msg *msg)
{
	col_metrics *m = n->pipeline->metrics;
	col_write_result res;
	const char *why = NULL;
	cm_batch b;
	size_t cost;
	int rv;

	ADD(m->rx[COL_RX_NATIVE].requests, 1);
	cost = request_cost(msg);
	if (n->cfg.budget != NULL && !col_budget_take(n->cfg.budget, cost)) {
		ADD(m->rx[COL_RX_NATIVE].requests_throttled, 1);
		set_reply(msg, CM_MSG_RETRY, 0, n->cfg.retry_ms, "collector at its memory limit");
		return;
	}
	if (!authorized(n, msg)) {
		ADD(m->rx[COL_RX_NATIVE].requests_rejected, 1);
		set_reply(msg, CM_MSG_REJECTED, 0, 0, "missing or invalid token (set WEFT_AUTH_TOKEN)");
		if (n->cfg.budget != NULL)
			col_budget_give(n->cfg.budget, cost);
		return;
	}
	cm_batch_init(&b);
	rv = cm_wire_decode_batch(codec, nng_msg_body(msg), nng_msg_len(msg), &n->cfg.limits, &b, &why);
	if (rv != CM_OK) {
		ADD(m->rx[COL_RX_NATIVE].requests_rejected, 1);
		cm_log(CM_LOG_WARN, "COL-NATIVE-BAD", "rejected batch: %s", why);
		set_reply(msg, CM_MSG_REJECTED, 0, 0, why);
	} else {
		const char *tok;
		size_t tlen;
		/* Staged as it came, unless it carries a token: that is not kept on disk. */
		bool raw = !cm_wire_token(nng_msg_body(msg), nng_msg_len(msg), &tok, &tlen);
		rv = col_pipeline_write(n->pipeline, COL_RX_NATIVE, &b, raw ? nng_msg_body(msg) : NULL,
		    raw ? nng_msg_len(msg) : 0, &res);
		if (rv == CM_OK && res.accepted == 0 && res.rejected > 0)
			set_reply(msg, CM_MSG_REJECTED, 0, 0, res.first_reason);
		else if (rv == CM_OK)
			set_reply(msg, CM_MSG_OK, res.accepted, 0, res.first_reason);
		else
			set_reply(msg, CM_MSG_RETRY, 0, n->cfg.retry_ms, cm_strerror(rv));
	}
	cm_batch_fini(&b);
	if (n->cfg.budget != NULL)
		col_budget_give(n->cfg.budget, cost);
}

static void *
worker(void *arg)
{
	col_native *n = arg;
	cm_wire_codec codec;
	nng_ctx ctx;
	nng_aio *aio;

	if (cm_wire_codec_init(&codec) != CM_OK)
		return NULL;
	if (nng_ctx_open(&ctx, n->sock) != 0 || nng_aio_alloc(&aio, NULL, NULL) != 0) {
		cm_wire_codec_fini(&codec);
		return NULL;
	}
	for (;;) {
		nng_msg *msg;
		int rv;

		nng_ctx_recv(ctx, aio);
		nng_aio_wait(aio);
		rv = nng_aio_result(aio);
		if (rv == NNG_ECLOSED)
			break;
		if (rv != 0)
			continue;
		atomic_fetch_add(&n->busy, 1);
		msg = nng_aio_get_msg(aio);
		handle(n, &codec, msg);
		nng_aio_set_msg(aio, msg);
		nng_ctx_send(ctx, aio);
		nng_aio_wait(aio);
		if (nng_aio_result(aio) != 0)
			nng_msg_free(msg); /* the sender left; it will resend */
		atomic_fetch_sub(&n->busy, 1);
	}
	nng_aio_free(aio);
	nng_ctx_close(ctx);
	cm_wire_codec_fini(&codec);
	return NULL;
}

/* Listens on cfg->url; a tls+tcp:// url gets NNG's TLS (mbedTLS) with the configured certificate. */
static int
listen_on(col_native *n, char *err, size_t errlen)
{
	bool tls = strncmp(n->cfg.url, "tls+tcp://", 10) == 0;
	nng_tls_config *tc = NULL;
	int rv;

	if (tls && n->cfg.tls_cert_pem == NULL) {
		snprintf(err, errlen, "%s needs --tls-cert and --tls-key", n->cfg.url);
		return NNG_EINVAL;
	}
	if ((rv = nng_listener_create(&n->listener, n->sock, n->cfg.url)) != 0) {
		snprintf(err, errlen, "listen on %s: %s", n->cfg.url, nng_strerror(rv));
		return rv;
	}
	if (tls && ((rv = nng_tls_config_alloc(&tc, NNG_TLS_MODE_SERVER)) != 0 ||
	               (rv = nng_tls_config_own_cert(tc, n->cfg.tls_cert_pem, n->cfg.tls_key_pem, NULL)) != 0 ||
	               (rv = nng_listener_set_ptr(n->listener, NNG_OPT_TLS_CONFIG, tc)) != 0)) {
		snprintf(err, errlen, "TLS for %s: %s", n->cfg.url, nng_strerror(rv));
	} else if ((rv = nng_listener_start(n->listener, 0)) != 0) {
		snprintf(err, errlen, "listen on %s: %s", n->cfg.url, nng_strerror(rv));
	}
	if (tc != NULL)
		nng_tls_config_free(tc); /* the listener holds its own reference */
	return rv;
}

int
col_native_start(const col_native_config *cfg, col_pipeline *p, col_native **out,
    char *err, size_t errlen)
{
	col_native *n;
	int rv;

	if ((n = cm_calloc(1, sizeof *n)) == NULL)
		return CM_ENOMEM;
	n->cfg = *cfg;
	n->pipeline = p;
	n->nthreads = cfg->workers > 0 ? cfg->workers : 16;
	if ((rv = nng_rep0_open(&n->sock)) != 0) {
		snprintf(err, errlen, "rep socket: %s", nng_strerror(rv));
		cm_free(n);
		return CM_ENOMEM;
	}
	nng_socket_set_size(n->sock, NNG_OPT_RECVMAXSZ, cfg->limits.max_message);
	if ((rv = listen_on(n, err, errlen)) != 0) {
		nng_close(n->sock);
		cm_free(n);
		return CM_EINVAL;
	}
	if ((n->threads = cm_calloc((size_t)n->nthreads, sizeof(pthread_t))) == NULL) {
		nng_close(n->sock);
		cm_free(n);
		return CM_ENOMEM;
	}
	for (int i = 0; i < n->nthreads; i++) {
		if (pthread_create(&n->threads[i], NULL, worker, n) != 0) {
			n->nthreads = i;
			col_native_stop(n, 0);
			snprintf(err, errlen, "cannot start receiver threads");
			return CM_ENOMEM;
		}
	}
	*out = n;
	return CM_OK;
}

void
col_native_stop(col_native *n, uint32_t drain_ms)
{
	struct timespec pause = { 0, 5 * 1000 * 1000 };

	if (n == NULL)
		return;
	/* Pipes close with the listener, so in-flight replies are waited for first. */
	for (uint32_t waited = 0; atomic_load(&n->busy) > 0 && waited < drain_ms; waited += 5)
		nanosleep(&pause, NULL);
	nng_close(n->sock);
	for (int i = 0; i < n->nthreads; i++)
		pthread_join(n->threads[i], NULL);
	cm_free(n->threads);
	cm_free(n);
}
