/*
 * test_auth.c - --auth-token-file on weft-collector and weft-query: every
 * receiver (OTLP/HTTP, Zipkin, native) and every query endpoint refuses a
 * request without a valid bearer token (401 / REJECTED), accepts one with
 * any token of the file, health checks stay open, the CLI sends
 * WEFT_AUTH_TOKEN, and no token appears in the daemons' logs or in the
 * store's files.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "harness.h"
#include "httpc.h"
#include "weft.h"

#define TOKEN_A "tok-1.alpha"
#define TOKEN_B "second-token"

static const char otlp_body[] =
    "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":"
    "\"authsvc\"}}]},\"scopeSpans\":[{\"spans\":[{\"traceId\":\"5b8efff798038103d269b633813fc60c\",\"spanId\":"
    "\"eee19b7ec3c1b174\",\"name\":\"op\",\"startTimeUnixNano\":\"1700000000000000000\",\"endTimeUnixNano\":"
    "\"1700000001000000000\"}]}]}]}";

typedef struct env {
	char dir[512], data[600], tokens[600];
	int otlp, zipkin, admin, http, native;
	char native_url[64], query_url[64], admin_url[64];
	hx_daemon collector, query;
} env;

static env E;

static int
setup(void **state)
{
	char log[700], otlp[32], zipkin[32], admin[32], http[32];
	FILE *f;
	(void)state;
	snprintf(E.dir, sizeof E.dir, "%s", hx_tmpdir());
	snprintf(E.data, sizeof E.data, "%s/data", E.dir);
	snprintf(E.tokens, sizeof E.tokens, "%s/tokens", E.dir);
	if ((f = fopen(E.tokens, "w")) == NULL)
		return -1;
	fprintf(f, "# rotated on Monday\n  %s  \n\n%s\n", TOKEN_A, TOKEN_B);
	fclose(f);
	E.otlp = hx_free_port(), E.zipkin = hx_free_port(), E.admin = hx_free_port();
	E.http = hx_free_port(), E.native = hx_free_port();
	snprintf(otlp, sizeof otlp, "127.0.0.1:%d", E.otlp);
	snprintf(zipkin, sizeof zipkin, "127.0.0.1:%d", E.zipkin);
	snprintf(admin, sizeof admin, "127.0.0.1:%d", E.admin);
	snprintf(http, sizeof http, "127.0.0.1:%d", E.http);
	snprintf(E.native_url, sizeof E.native_url, "tcp://127.0.0.1:%d", E.native);
	snprintf(E.admin_url, sizeof E.admin_url, "http://%s", admin);
	snprintf(E.query_url, sizeof E.query_url, "http://%s", http);
	const char *cargv[] = { hx_bin("weft-collector"), "--data-dir", E.data, "--native", E.native_url,
		"--otlp-http", otlp, "--zipkin", zipkin, "--admin", admin, "--auth-token-file", E.tokens, NULL };
	snprintf(log, sizeof log, "%s/collector.log", E.dir);
	if (!hx_start(&E.collector, log, cargv) || !hx_wait_http(E.admin_url, "/readyz", 10000))
		return -1;
	const char *qargv[] = { hx_bin("weft-query"), "--data-dir", E.data, "--http", http,
		"--auth-token-file", E.tokens, NULL };
	snprintf(log, sizeof log, "%s/query.log", E.dir);
	qry_http_set_bearer(TOKEN_A);
	if (!hx_start(&E.query, log, qargv) || !hx_wait_http(E.query_url, "/api/services", 10000))
		return -1;
	qry_http_set_bearer(NULL);
	return 0;
}

static int
teardown(void **state)
{
	hx_daemon *const ds[] = { &E.collector, &E.query };
	(void)state;
	return hx_stop_all(ds, 2, E.dir);
}

/* Waits until the collector wrote what it acknowledged; its /metrics needs a token too. */
static void
wait_written(void)
{
	qry_http_set_bearer(TOKEN_B);
	assert_true(hx_wait_written(E.admin_url, 10000));
	qry_http_set_bearer(NULL);
}

/* Sends one request with an optional Authorization value; returns the status, the body in *body. */
static int
request(int port, const char *method, const char *path, const char *auth, const char *ctype, const char *payload,
    cm_buf *body)
{
	char req[4096];
	int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s%s%s", method, path,
	    auth ? "Authorization: " : "", auth ? auth : "", auth ? "\r\n" : "");
	if (payload != NULL)
		n += snprintf(req + n, sizeof req - (size_t)n, "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n%s", ctype,
		    strlen(payload), payload);
	else
		n += snprintf(req + n, sizeof req - (size_t)n, "\r\n");
	cm_buf_init(body);
	return hx_http_raw(port, req, (size_t)n, body, NULL);
}

static int
status_of(int port, const char *method, const char *path, const char *auth, const char *ctype, const char *payload)
{
	cm_buf b;
	int st = request(port, method, path, auth, ctype, payload, &b);
	cm_buf_fini(&b);
	return st;
}

static void
http_receivers_need_a_token(void **state)
{
	const char *json = "application/json";
	cm_buf b;
	(void)state;
	assert_int_equal(status_of(E.otlp, "POST", "/v1/traces", NULL, json, otlp_body), 401);
	assert_int_equal(status_of(E.otlp, "POST", "/v1/traces", "Bearer wrong", json, otlp_body), 401);
	assert_int_equal(status_of(E.otlp, "POST", "/v1/traces", "Basic " TOKEN_A, json, otlp_body), 401);
	assert_int_equal(status_of(E.otlp, "POST", "/v1/traces", "Bearer " TOKEN_A "x", json, otlp_body), 401);
	assert_int_equal(status_of(E.otlp, "POST", "/v1/traces", "Bearer " TOKEN_A " junk", json, otlp_body), 401);
	assert_int_equal(status_of(E.otlp, "POST", "/v1/traces", "bearer " TOKEN_B, json, otlp_body), 200);
	assert_int_equal(status_of(E.otlp, "POST", "/v1/traces", "Bearer " TOKEN_A, json, otlp_body), 200);
	assert_int_equal(status_of(E.zipkin, "POST", "/api/v2/spans", NULL, json, "[]"), 401);
	assert_int_equal(status_of(E.zipkin, "POST", "/api/v2/spans", "Bearer " TOKEN_A, json, "[]"), 202);
	/* health checks stay open for probes; metrics do not */
	assert_int_equal(status_of(E.admin, "GET", "/healthz", NULL, NULL, NULL), 200);
	assert_int_equal(status_of(E.admin, "GET", "/readyz", NULL, NULL, NULL), 200);
	assert_int_equal(request(E.admin, "GET", "/metrics", NULL, NULL, NULL, &b), 401);
	assert_non_null(strstr(b.data, "bearer token"));
	cm_buf_fini(&b);
	assert_int_equal(status_of(E.admin, "GET", "/metrics", "Bearer " TOKEN_B, NULL, NULL), 200);
}

static void
query_api_needs_a_token(void **state)
{
	cm_buf b;
	(void)state;
	assert_int_equal(request(E.http, "GET", "/api/services", NULL, NULL, NULL, &b), 401);
	assert_non_null(strstr(b.data, "\"code\":401"));
	cm_buf_fini(&b);
	wait_written();
	assert_int_equal(status_of(E.http, "GET", "/api/traces/5b8efff798038103d269b633813fc60c", "Bearer nope", NULL, NULL),
	    401);
	assert_int_equal(status_of(E.http, "GET", "/api/traces/5b8efff798038103d269b633813fc60c", "Bearer " TOKEN_A, NULL,
	                     NULL),
	    200);
}

static void
native_batches_need_a_token(void **state)
{
	weft_tracer_config cfg = { .service_name = "authsvc", .endpoint = E.native_url, .schedule_delay_ms = 20,
		.shutdown_timeout_ms = 500, .auth_token = "wrong" };
	weft_tracer *t;
	weft_stats st;
	(void)state;
	assert_int_equal(weft_tracer_create(&cfg, &t), WEFT_OK);
	weft_span_end(weft_span_start(t, "refused", NULL));
	assert_int_equal(weft_tracer_flush(t, 10000), WEFT_OK);
	weft_tracer_stats(t, &st);
	assert_int_equal(st.spans_exported, 0);
	assert_int_equal(st.spans_dropped, 1); /* REJECTED is final: not retried */
	weft_tracer_destroy(t);
	cfg.auth_token = TOKEN_B;
	assert_int_equal(weft_tracer_create(&cfg, &t), WEFT_OK);
	weft_span_end(weft_span_start(t, "accepted", NULL));
	assert_int_equal(weft_tracer_flush(t, 10000), WEFT_OK);
	weft_tracer_stats(t, &st);
	assert_int_equal(st.spans_exported, 1);
	weft_tracer_destroy(t);

	/* A batch with a token is staged without it (writer.h): no file of the store holds one. */
	wait_written();
	DIR *d = opendir(E.data);
	struct dirent *e;
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		char path[1024];
		cm_buf f;
		snprintf(path, sizeof path, "%s/%s", E.data, e->d_name);
		cm_buf_init(&f);
		if (e->d_type == DT_REG && cm_buf_read_file(&f, path) == CM_OK)
			assert_null(memmem(f.data, f.len, TOKEN_B, strlen(TOKEN_B)));
		cm_buf_fini(&f);
	}
	closedir(d);
}

static void
cli_sends_the_token_and_logs_never_show_it(void **state)
{
	char url[96], env_tok[64];
	const char *argv[] = { hx_bin("weft"), "--url", url, "services", NULL };
	const char *with[] = { env_tok, NULL };
	cm_buf out, log;
	(void)state;
	snprintf(url, sizeof url, "%s", E.query_url);
	snprintf(env_tok, sizeof env_tok, "WEFT_AUTH_TOKEN=%s", TOKEN_A);
	wait_written();
	cm_buf_init(&out);
	assert_int_equal(hx_run(argv, NULL, &out), 1);
	out.len = 0;
	assert_int_equal(hx_run(argv, with, &out), 0);
	assert_non_null(strstr(out.data, "authsvc"));
	cm_buf_fini(&out);
	for (int i = 0; i < 2; i++) {
		cm_buf_init(&log);
		assert_int_equal(cm_buf_read_file(&log, i ? E.query.log : E.collector.log), CM_OK);
		assert_null(strstr(log.data, TOKEN_A));
		assert_null(strstr(log.data, TOKEN_B));
		cm_buf_fini(&log);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(http_receivers_need_a_token),
		cmocka_unit_test(query_api_needs_a_token),
		cmocka_unit_test(native_batches_need_a_token),
		cmocka_unit_test(cli_sends_the_token_and_logs_never_show_it),
	};
	return cmocka_run_group_tests_name("auth", tests, setup, teardown);
}
