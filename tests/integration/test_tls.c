/*
 * test_tls.c - TLS everywhere a client talks to weft, with a throwaway CA
 * made at test time by the openssl command line: HTTPS on weft-collector's
 * HTTP listeners and weft-query, and tls+tcp:// between libweft and the
 * collector's native listener. Clients verify the server against that CA,
 * refuse a server their CA did not sign, and plain HTTP to a TLS port gets
 * nowhere.
 */
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

static const char otlp_body[] =
    "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":"
    "\"tlssvc\"}}]},\"scopeSpans\":[{\"spans\":[{\"traceId\":\"5b8efff798038103d269b633813fc60d\",\"spanId\":"
    "\"eee19b7ec3c1b175\",\"name\":\"op\",\"startTimeUnixNano\":\"1700000000000000000\",\"endTimeUnixNano\":"
    "\"1700000001000000000\"}]}]}]}";

typedef struct env {
	char dir[512], data[600], ca[600], other_ca[600], cert[600], key[600];
	char otlp_url[64], admin_url[64], query_url[64], admin_plain[64], native_url[64];
	hx_daemon collector, query;
} env;

static env E;

/* A CA, a server certificate for 127.0.0.1 signed by it, and an unrelated CA. */
static bool
make_certs(void)
{
	char cmd[4096];
	snprintf(cmd, sizeof cmd,
	    "cd '%s' && exec >openssl.log 2>&1 && "
	    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem "
	    "-days 2 -subj /CN=weft-test-ca && "
	    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key -out other.pem "
	    "-days 2 -subj /CN=someone-else && "
	    "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr "
	    "-subj /CN=127.0.0.1 && "
	    /* mbedTLS 2 (libweft's TLS) matches names, not IP SANs: the address is also a DNS name here */
	    "printf 'subjectAltName=IP:127.0.0.1,DNS:127.0.0.1\\n' >ext.cnf && "
	    "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 "
	    "-extfile ext.cnf",
	    E.dir);
	return system(cmd) == 0;
}

static int
setup(void **state)
{
	char log[700], otlp[32], admin[32], http[32];
	(void)state;
	snprintf(E.dir, sizeof E.dir, "%s", hx_tmpdir());
	snprintf(E.data, sizeof E.data, "%s/data", E.dir);
	snprintf(E.ca, sizeof E.ca, "%s/ca.pem", E.dir);
	snprintf(E.other_ca, sizeof E.other_ca, "%s/other.pem", E.dir);
	snprintf(E.cert, sizeof E.cert, "%s/server.pem", E.dir);
	snprintf(E.key, sizeof E.key, "%s/server.key", E.dir);
	if (!make_certs())
		return -1;
	snprintf(otlp, sizeof otlp, "127.0.0.1:%d", hx_free_port());
	snprintf(admin, sizeof admin, "127.0.0.1:%d", hx_free_port());
	snprintf(http, sizeof http, "127.0.0.1:%d", hx_free_port());
	snprintf(E.otlp_url, sizeof E.otlp_url, "https://%s", otlp);
	snprintf(E.admin_url, sizeof E.admin_url, "https://%s", admin);
	snprintf(E.admin_plain, sizeof E.admin_plain, "http://%s", admin);
	snprintf(E.query_url, sizeof E.query_url, "https://%s", http);
	snprintf(E.native_url, sizeof E.native_url, "tls+tcp://127.0.0.1:%d", hx_free_port());
	qry_http_set_ca(E.ca);
	const char *cargv[] = { hx_bin("weft-collector"), "--data-dir", E.data, "--native", E.native_url, "--zipkin", "off",
		"--otlp-http", otlp, "--admin", admin, "--tls-cert", E.cert, "--tls-key", E.key, NULL };
	snprintf(log, sizeof log, "%s/collector.log", E.dir);
	if (!hx_start(&E.collector, log, cargv) || !hx_wait_http(E.admin_url, "/readyz", 10000))
		return -1;
	const char *qargv[] = { hx_bin("weft-query"), "--data-dir", E.data, "--http", http, "--tls-cert", E.cert,
		"--tls-key", E.key, NULL };
	snprintf(log, sizeof log, "%s/query.log", E.dir);
	return hx_start(&E.query, log, qargv) && hx_wait_http(E.query_url, "/api/services", 10000) ? 0 : -1;
}

static int
teardown(void **state)
{
	hx_daemon *const ds[] = { &E.collector, &E.query };
	(void)state;
	qry_http_set_ca(NULL);
	return hx_stop_all(ds, 2, E.dir);
}

static void
spans_go_in_and_come_out_over_https(void **state)
{
	qry_http_response r;
	char err[256];
	(void)state;
	assert_int_equal(qry_http_request(E.otlp_url, "POST", "/v1/traces", "application/json", otlp_body,
	                     strlen(otlp_body), 5000, &r, err, sizeof err),
	    CM_OK);
	assert_int_equal(r.status, 200);
	cm_buf_fini(&r.body);
	assert_true(hx_wait_written(E.admin_url, 10000)); /* over HTTPS too */
	assert_int_equal(qry_http_request(E.query_url, "GET", "/api/traces/5b8efff798038103d269b633813fc60d", NULL, NULL, 0,
	                     5000, &r, err, sizeof err),
	    CM_OK);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body.data, "tlssvc"));
	cm_buf_fini(&r.body);
}

static void
the_cli_verifies_against_weft_ca_file(void **state)
{
	char url[96], ca[700];
	const char *argv[] = { hx_bin("weft"), "--url", url, "services", NULL };
	const char *with_ca[] = { ca, NULL };
	cm_buf out;
	(void)state;
	snprintf(url, sizeof url, "%s", E.query_url);
	snprintf(ca, sizeof ca, "WEFT_CA_FILE=%s", E.ca);
	cm_buf_init(&out);
	assert_int_equal(hx_run(argv, with_ca, &out), 0);
	assert_non_null(strstr(out.data, "tlssvc"));
	out.len = 0;
	snprintf(ca, sizeof ca, "WEFT_CA_FILE=%s", E.other_ca);
	assert_int_equal(hx_run(argv, with_ca, &out), 1); /* a server this CA did not sign */
	cm_buf_fini(&out);
}

static void
untrusted_or_plain_connections_get_nowhere(void **state)
{
	qry_http_response r;
	char err[256];
	(void)state;
	qry_http_set_ca(E.other_ca);
	assert_int_not_equal(qry_http_request(E.query_url, "GET", "/api/services", NULL, NULL, 0, 5000, &r, err, sizeof err),
	    CM_OK);
	assert_non_null(strstr(err, "TLS"));
	qry_http_set_ca(E.ca);
	/* plain HTTP to a TLS listener: no HTTP answer */
	if (qry_http_request(E.admin_plain, "GET", "/healthz", NULL, NULL, 0, 3000, &r, err, sizeof err) == CM_OK) {
		assert_int_not_equal(r.status, 200);
		cm_buf_fini(&r.body);
	}
}

static weft_tracer *
tracer_with_ca(const char *ca)
{
	weft_tracer_config cfg = { .service_name = "tls-native", .endpoint = E.native_url, .tls_ca_file = ca,
		.schedule_delay_ms = 20, .export_timeout_ms = 1000, .shutdown_timeout_ms = 200 };
	weft_tracer *t = NULL;
	assert_int_equal(weft_tracer_create(&cfg, &t), WEFT_OK);
	return t;
}

static void
libweft_sends_over_tls_and_verifies_the_collector(void **state)
{
	weft_tracer *t;
	weft_stats st;
	weft_tracer_config bad = { .endpoint = "tls+tcp://127.0.0.1:1", .tls_ca_file = "/nonexistent/ca.pem" };
	qry_http_response r;
	char err[256];
	(void)state;

	t = tracer_with_ca(E.ca);
	weft_span_end(weft_span_start(t, "over tls", NULL));
	assert_int_equal(weft_tracer_flush(t, 15000), WEFT_OK);
	weft_tracer_stats(t, &st);
	assert_int_equal(st.spans_exported, 1);
	weft_tracer_destroy(t);
	assert_true(hx_wait_written(E.admin_url, 10000));
	assert_int_equal(qry_http_request(E.query_url, "GET", "/api/services", NULL, NULL, 0, 5000, &r, err, sizeof err),
	    CM_OK);
	assert_non_null(strstr(r.body.data, "tls-native"));
	cm_buf_fini(&r.body);
	/* a CA that did not sign the collector's certificate: nothing is sent */
	t = tracer_with_ca(E.other_ca);
	weft_span_end(weft_span_start(t, "refused", NULL));
	assert_int_equal(weft_tracer_flush(t, 1500), WEFT_ETIMEDOUT);
	weft_tracer_stats(t, &st);
	assert_int_equal(st.spans_exported, 0);
	assert_true(st.retries > 0);
	weft_tracer_destroy(t);
	/* an unreadable CA file is a configuration error */
	assert_int_equal(weft_tracer_create(&bad, &t), WEFT_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(spans_go_in_and_come_out_over_https),
		cmocka_unit_test(the_cli_verifies_against_weft_ca_file),
		cmocka_unit_test(untrusted_or_plain_connections_get_nowhere),
		cmocka_unit_test(libweft_sends_over_tls_and_verifies_the_collector),
	};
	return cmocka_run_group_tests_name("tls", tests, setup, teardown);
}
