/*
 * test_e2e.c - the whole path with real processes: weft-demo-shop (four
 * libweft processes) -> weft-collector (NNG, RocksDB) -> weft-query (HTTP,
 * RocksDB secondary) -> the weft CLI. Daemons run on free loopback ports in
 * a temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "harness.h"
#include "httpc.h"
#include "wire.h"

typedef struct env {
	char dir[512], data[600];
	char native[64], admin[64], http[64], query_url[96], admin_url[96];
	hx_daemon collector, query;
} env;

static env E;

/* Starts the collector with the default --write-window, or window. */
static bool
start_collector(const char *window)
{
	char log[700];
	const char *argv[] = { hx_bin("weft-collector"), "--data-dir", E.data, "--native", E.native,
		"--admin", E.admin, window ? "--write-window" : NULL, window, NULL };
	snprintf(log, sizeof log, "%s/collector.log", E.dir);
	return hx_start(&E.collector, log, argv) && hx_wait_http(E.admin_url, "/readyz", 10000);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(E.dir, sizeof E.dir, "%s", hx_tmpdir());
	snprintf(E.data, sizeof E.data, "%s/data", E.dir);
	snprintf(E.native, sizeof E.native, "tcp://127.0.0.1:%d", hx_free_port());
	snprintf(E.admin, sizeof E.admin, "127.0.0.1:%d", hx_free_port());
	snprintf(E.http, sizeof E.http, "127.0.0.1:%d", hx_free_port());
	snprintf(E.admin_url, sizeof E.admin_url, "http://%s", E.admin);
	snprintf(E.query_url, sizeof E.query_url, "http://%s", E.http);
	return start_collector(NULL) && hx_start_query(&E.query, E.dir, E.data, E.http) ? 0 : -1;
}

static int
teardown(void **state)
{
	hx_daemon *const ds[] = { &E.collector, &E.query };
	(void)state;
	return hx_stop_all(ds, 2, E.dir);
}

/* Runs the demo; returns the trace id it printed (static storage). */
static const char *
run_demo(bool fail_payment)
{
	static char id[33];
	const char *argv[] = { hx_bin("weft-demo-shop"), "--collector", E.native,
		fail_payment ? "--fail-payment" : NULL, NULL };
	cm_buf out;
	char *line;

	cm_buf_init(&out);
	assert_int_equal(hx_run(argv, NULL, &out), 0);
	line = strstr(out.data, "trace ");
	assert_non_null(line);
	memcpy(id, line + 6, 32);
	id[32] = '\0';
	cm_buf_fini(&out);
	return id;
}

/* Waits until the collector wrote what it acknowledged (it stages first: writer.h). */
static void
wait_written(void)
{
	assert_true(hx_wait_written(E.admin_url, 10000));
}

/* GETs a query API path; returns the parsed body, asserting the status. */
static json_t *
get(const char *path, int want_status)
{
	qry_http_response r;
	char err[256];
	json_error_t jerr;
	json_t *doc;

	assert_int_equal(qry_http_request(E.query_url, "GET", path, NULL, NULL, 0, 5000, &r, err, sizeof err), CM_OK);
	assert_int_equal(r.status, want_status);
	doc = json_loadb(r.body.data, r.body.len, 0, &jerr);
	cm_buf_fini(&r.body);
	assert_non_null(doc);
	return doc;
}

static const char *
span_service(json_t *trace, json_t *span)
{
	return json_string_value(json_object_get(json_object_get(json_object_get(trace, "processes"),
	    json_string_value(json_object_get(span, "processID"))), "serviceName"));
}

static json_t *
find_span(json_t *trace, const char *service, const char *op)
{
	json_t *s;
	size_t i;
	json_array_foreach(json_object_get(trace, "spans"), i, s)
		if (strcmp(span_service(trace, s), service) == 0 &&
		    strcmp(json_string_value(json_object_get(s, "operationName")), op) == 0)
			return s;
	fail_msg("no span %s/%s", service, op);
	return NULL;
}

static bool
has_tag(json_t *span, const char *key, const char *str_value)
{
	json_t *t;
	size_t i;
	json_array_foreach(json_object_get(span, "tags"), i, t) {
		json_t *v = json_object_get(t, "value");
		if (strcmp(json_string_value(json_object_get(t, "key")), key) != 0)
			continue;
		return str_value == NULL ? json_is_true(v) : json_is_string(v) && strcmp(json_string_value(v), str_value) == 0;
	}
	return false;
}

/* Asserts child's CHILD_OF parent is `parent` and that it lies inside the parent's time. */
static void
assert_child_of(json_t *child, json_t *parent)
{
	json_t *ref = json_array_get(json_object_get(child, "references"), 0);
	json_int_t cs = json_integer_value(json_object_get(child, "startTime"));
	json_int_t ps = json_integer_value(json_object_get(parent, "startTime"));
	json_int_t ce = cs + json_integer_value(json_object_get(child, "duration"));
	json_int_t pe = ps + json_integer_value(json_object_get(parent, "duration"));
	assert_string_equal(json_string_value(json_object_get(ref, "refType")), "CHILD_OF");
	assert_string_equal(json_string_value(json_object_get(ref, "spanID")),
	    json_string_value(json_object_get(parent, "spanID")));
	assert_true(cs >= ps);
	/*
	 * Jaeger JSON truncates start and duration to microseconds separately
	 * (as Jaeger's own translation does), so a child that ends in the
	 * parent's last microsecond can end one microsecond past it.
	 */
	assert_true(ce <= pe + 1);
}

static void
demo_trace_spans_four_services_with_correct_parentage(void **state)
{
	const char *id = run_demo(false);
	char path[128];
	json_t *doc, *trace, *procs, *gw, *gwc, *order, *inv, *pay;
	(void)state;

	/* The demo flushed before exiting: once written, the very first read must see everything. */
	wait_written();
	snprintf(path, sizeof path, "/api/traces/%s", id);
	doc = get(path, 200);
	assert_true(json_is_null(json_object_get(doc, "errors")));
	trace = json_array_get(json_object_get(doc, "data"), 0);
	assert_string_equal(json_string_value(json_object_get(trace, "traceID")), id);
	assert_int_equal(json_array_size(json_object_get(trace, "spans")), 9);
	procs = json_object_get(trace, "processes");
	assert_int_equal(json_object_size(procs), 4);

	gw = find_span(trace, "api-gateway", "GET /checkout");
	gwc = find_span(trace, "api-gateway", "order.place");
	order = find_span(trace, "order", "order.place");
	inv = find_span(trace, "inventory", "inventory.reserve");
	pay = find_span(trace, "payment", "payment.charge");
	assert_int_equal(json_array_size(json_object_get(gw, "references")), 0);
	assert_child_of(gwc, gw);
	assert_child_of(order, gwc);
	assert_child_of(find_span(trace, "order", "validate cart"), order);
	assert_child_of(find_span(trace, "order", "inventory.reserve"), order);
	assert_child_of(inv, find_span(trace, "order", "inventory.reserve"));
	assert_child_of(find_span(trace, "inventory", "SELECT stock"), inv);
	assert_child_of(pay, find_span(trace, "order", "payment.charge"));
	assert_true(has_tag(gw, "span.kind", "server"));
	assert_true(has_tag(gwc, "span.kind", "client"));
	assert_false(has_tag(pay, "error", NULL));
	json_decref(doc);

	doc = get("/api/services", 200);
	assert_int_equal(json_integer_value(json_object_get(doc, "total")), 4);
	json_decref(doc);
	doc = get("/api/services/order/operations", 200);
	assert_int_equal(json_array_size(json_object_get(doc, "data")), 4);
	json_decref(doc);
	doc = get("/api/operations?service=order&spanKind=client", 200);
	assert_int_equal(json_array_size(json_object_get(doc, "data")), 2);
	json_decref(doc);
}

static void
failed_payment_marks_the_error_spans(void **state)
{
	const char *id = run_demo(true);
	char path[128];
	json_t *doc, *trace, *pay, *log;
	(void)state;

	wait_written();
	snprintf(path, sizeof path, "/api/traces/%s", id);
	doc = get(path, 200);
	trace = json_array_get(json_object_get(doc, "data"), 0);
	assert_int_equal(json_object_size(json_object_get(trace, "processes")), 4);
	pay = find_span(trace, "payment", "payment.charge");
	assert_true(has_tag(pay, "error", NULL));
	assert_true(has_tag(pay, "otel.status_code", "ERROR"));
	assert_true(has_tag(pay, "otel.status_description", "card declined"));
	log = json_array_get(json_object_get(pay, "logs"), 0);
	assert_non_null(log);
	assert_true(has_tag(find_span(trace, "api-gateway", "GET /checkout"), "error", NULL));
	assert_false(has_tag(find_span(trace, "inventory", "inventory.reserve"), "error", NULL));
	json_decref(doc);
}

static void
unknown_and_malformed_ids_get_jaeger_errors(void **state)
{
	json_t *doc, *err;
	(void)state;
	doc = get("/api/traces/00000000000000000000000000abcdef", 404);
	assert_true(json_is_null(json_object_get(doc, "data")));
	err = json_array_get(json_object_get(doc, "errors"), 0);
	assert_int_equal(json_integer_value(json_object_get(err, "code")), 404);
	json_decref(doc);
	doc = get("/api/traces/not-hex", 400);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(doc, "errors"), 0), "code")), 400);
	json_decref(doc);
	doc = get("/api/nothing", 404);
	json_decref(doc);
}

static void
cli_prints_the_tree_and_fails_clearly(void **state)
{
	const char *id = run_demo(true);
	char url_env[128];
	const char *envv[] = { url_env, "NO_COLOR=1", NULL };
	const char *trace_argv[] = { hx_bin("weft"), "trace", id, NULL };
	const char *json_argv[] = { hx_bin("weft"), "--json", "trace", id, NULL };
	const char *svc_argv[] = { hx_bin("weft"), "services", NULL };
	const char *unknown_argv[] = { hx_bin("weft"), "trace", "abcdef", NULL };
	const char *down_argv[] = { hx_bin("weft"), "--url", "http://127.0.0.1:1", "services", NULL };
	const char *usage_argv[] = { hx_bin("weft"), "frobnicate", NULL };
	cm_buf out;
	json_t *doc;
	json_error_t jerr;
	(void)state;

	wait_written();
	snprintf(url_env, sizeof url_env, "WEFT_QUERY_URL=%s", E.query_url);
	cm_buf_init(&out);
	assert_int_equal(hx_run(trace_argv, envv, &out), 0);
	assert_non_null(strstr(out.data, id));
	assert_non_null(strstr(out.data, "9 spans, 4 services"));
	assert_non_null(strstr(out.data, "\napi-gateway GET /checkout"));
	assert_non_null(strstr(out.data, "\n  api-gateway order.place"));
	assert_non_null(strstr(out.data, "\n    order order.place"));
	assert_non_null(strstr(out.data, "\n        payment payment.charge"));
	assert_non_null(strstr(out.data, "ERROR: card declined"));
	assert_non_null(strstr(out.data, "#")); /* critical path cells */
	assert_null(strstr(out.data, "\033")); /* no colour when not a terminal */
	cm_buf_fini(&out);

	const char *cp_argv[] = { hx_bin("weft"), "critical-path", id, NULL };
	const char *bd_argv[] = { hx_bin("weft"), "breakdown", id, NULL };
	const char *ex_argv[] = { hx_bin("weft"), "export", id, NULL };
	cm_buf_init(&out);
	assert_int_equal(hx_run(cp_argv, envv, &out), 0);
	assert_non_null(strstr(out.data, "payment payment.charge"));
	out.len = 0;
	assert_int_equal(hx_run(bd_argv, envv, &out), 0);
	assert_non_null(strstr(out.data, "SELF %"));
	assert_non_null(strstr(out.data, "\npayment "));
	assert_int_equal(hx_run(ex_argv, envv, &out), 2); /* --format is required */
	cm_buf_fini(&out);

	cm_buf_init(&out);
	assert_int_equal(hx_run(json_argv, envv, &out), 0);
	doc = json_loadb(out.data, out.len, 0, &jerr);
	assert_non_null(doc);
	assert_int_equal(json_array_size(json_object_get(json_array_get(json_object_get(doc, "data"), 0), "spans")), 9);
	json_decref(doc);
	cm_buf_fini(&out);

	cm_buf_init(&out);
	assert_int_equal(hx_run(svc_argv, envv, &out), 0);
	assert_string_equal(out.data, "api-gateway\ninventory\norder\npayment\n");
	cm_buf_fini(&out);

	cm_buf_init(&out);
	assert_int_equal(hx_run(unknown_argv, envv, &out), 3);
	assert_int_equal(hx_run(down_argv, envv, &out), 1);
	assert_int_equal(hx_run(usage_argv, envv, &out), 2);
	cm_buf_fini(&out);
}

static void
malformed_native_batches_are_rejected_and_the_collector_stays_up(void **state)
{
	nng_socket s;
	char *buf = NULL;
	size_t len = 0;
	cm_wire_reply reply;
	(void)state;

	assert_int_equal(nng_req0_open(&s), 0);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 5000);
	assert_int_equal(nng_dial(s, E.native, NULL, 0), 0);
	assert_int_equal(nng_send(s, (char[]){ "garbage" }, 7, 0), 0);
	assert_int_equal(nng_recv(s, &buf, &len, NNG_FLAG_ALLOC), 0);
	assert_int_equal(cm_wire_decode_reply(buf, len, &reply), CM_OK);
	nng_free(buf, len);
	assert_int_equal(reply.type, CM_MSG_REJECTED);
	assert_true(strlen(reply.reason) > 0);
	nng_close(s);
	assert_true(hx_wait_http(E.admin_url, "/healthz", 2000));
}

static void
acknowledged_spans_survive_a_collector_restart(void **state)
{
	const char *id = run_demo(false);
	char path[128];
	json_t *doc;
	(void)state;

	assert_int_equal(hx_stop(&E.collector), 0); /* SIGTERM: writes what it staged, then exits */
	assert_true(start_collector(NULL));
	snprintf(path, sizeof path, "/api/traces/%s", id);
	doc = get(path, 200);
	assert_int_equal(json_array_size(json_object_get(json_array_get(json_object_get(doc, "data"), 0), "spans")), 9);
	json_decref(doc);
	/* the query daemon follows the restarted collector too */
	id = run_demo(false);
	wait_written();
	snprintf(path, sizeof path, "/api/traces/%s", id);
	doc = get(path, 200);
	json_decref(doc);
}

static void
staged_spans_are_written_after_a_crash(void **state)
{
	const char *id;
	char path[128];
	json_t *doc;
	(void)state;

	/* Acknowledged, staged, and (with an hour's window) not written yet when the collector dies. */
	assert_int_equal(hx_stop(&E.collector), 0);
	assert_true(start_collector("1h"));
	id = run_demo(false);
	hx_kill(&E.collector);
	snprintf(path, sizeof path, "/api/traces/%s", id);
	doc = get(path, 404);
	json_decref(doc);
	assert_true(start_collector(NULL));
	wait_written();
	doc = get(path, 200);
	assert_int_equal(json_array_size(json_object_get(json_array_get(json_object_get(doc, "data"), 0), "spans")), 9);
	json_decref(doc);
}

static void
bad_flags_exit_non_zero_with_one_line(void **state)
{
	const char *c1[] = { hx_bin("weft-collector"), "--bogus", NULL };
	const char *c2[] = { hx_bin("weft-collector"), NULL };
	const char *c3[] = { hx_bin("weft-collector"), "--data-dir", "/tmp", "--write-window", "2h", NULL };
	const char *q1[] = { hx_bin("weft-query"), "--data-dir", "/tmp", "--http", "nowhere", NULL };
	const char *h[] = { hx_bin("weft-collector"), "--help", NULL };
	cm_buf out;
	(void)state;
	cm_buf_init(&out);
	assert_int_equal(hx_run(c1, NULL, &out), 2);
	assert_int_equal(hx_run(c2, NULL, &out), 2);
	assert_int_equal(hx_run(c3, NULL, &out), 2);
	assert_int_equal(hx_run(q1, NULL, &out), 1);
	out.len = 0;
	assert_int_equal(hx_run(h, NULL, &out), 0);
	assert_non_null(strstr(out.data, "--data-dir"));
	cm_buf_fini(&out);
}

static void
search_finds_the_failed_checkout_by_service_and_tag(void **state)
{
	const char *ok_id, *failed_id;
	char ok[33], failed[33], url_env[128], path[256];
	const char *envv[] = { url_env, NULL };
	json_t *doc, *t;
	size_t i;
	bool saw_failed = false;
	cm_buf out;
	(void)state;

	snprintf(ok, sizeof ok, "%s", (ok_id = run_demo(false)));
	snprintf(failed, sizeof failed, "%s", (failed_id = run_demo(true)));
	wait_written();
	doc = get("/api/traces?service=payment&limit=1000", 200);
	json_array_foreach(json_object_get(doc, "data"), i, t)
		saw_failed |= strcmp(json_string_value(json_object_get(t, "traceID")), failed) == 0;
	assert_true(saw_failed);
	assert_true(json_integer_value(json_object_get(doc, "total")) >= 2);
	json_decref(doc);

	/* error=true is derived from the span status, as in Jaeger's JSON */
	doc = get("/api/traces?service=payment&tags=%7B%22error%22%3A%22true%22%7D&limit=1000", 200);
	json_array_foreach(json_object_get(doc, "data"), i, t)
		assert_string_not_equal(json_string_value(json_object_get(t, "traceID")), ok);
	assert_true(json_array_size(json_object_get(doc, "data")) >= 1);
	json_decref(doc);

	/* the same search as summaries: what the whole trace says, without it */
	snprintf(path, sizeof path, "/api/traces/%s", failed);
	doc = get(path, 200);
	size_t nspans = json_array_size(json_object_get(json_array_get(json_object_get(doc, "data"), 0), "spans"));
	json_decref(doc);
	doc = get("/api/summaries?service=payment&tag=error:true&limit=1000", 200);
	saw_failed = false;
	json_array_foreach(json_object_get(doc, "data"), i, t) {
		assert_string_not_equal(json_string_value(json_object_get(t, "traceID")), ok);
		if (strcmp(json_string_value(json_object_get(t, "traceID")), failed) != 0)
			continue;
		saw_failed = true;
		assert_string_equal(json_string_value(json_object_get(t, "rootServiceName")), "api-gateway");
		assert_int_equal(json_integer_value(json_object_get(t, "spanCount")), nspans);
		assert_true(json_integer_value(json_object_get(t, "errorCount")) >= 1);
		assert_int_equal(json_array_size(json_object_get(t, "services")), 4);
		assert_true(json_integer_value(json_object_get(t, "duration")) > 0);
	}
	assert_true(saw_failed);
	json_decref(doc);

	snprintf(path, sizeof path, "/api/traces?service=inventory&operation=SELECT%%20stock&minDuration=1ms&tag=db.system:sqlite&limit=1");
	doc = get(path, 200);
	assert_int_equal(json_array_size(json_object_get(doc, "data")), 1);
	json_decref(doc);
	doc = get("/api/traces?service=inventory&minDuration=10s", 200);
	assert_int_equal(json_array_size(json_object_get(doc, "data")), 0);
	json_decref(doc);
	doc = get("/api/traces?operation=x", 400);
	json_decref(doc);

	/* the demo's calls, counted at ingest and written within ST_DEPS_WRITE_MS */
	int edges = 0;
	for (int attempt = 0; attempt < 50 && edges < 3; attempt++) {
		if (attempt > 0)
			usleep(100000);
		doc = get("/api/dependencies?lookback=86400000", 200);
		edges = 0;
		json_array_foreach(json_object_get(doc, "data"), i, t) {
			const char *p = json_string_value(json_object_get(t, "parent")), *ch = json_string_value(json_object_get(t, "child"));
			if (((strcmp(p, "api-gateway") == 0 && strcmp(ch, "order") == 0) ||
			        (strcmp(p, "order") == 0 && (strcmp(ch, "payment") == 0 || strcmp(ch, "inventory") == 0))) &&
			    json_integer_value(json_object_get(t, "callCount")) >= 2)
				edges++;
		}
		if (edges == 3)
			assert_int_equal(json_array_size(json_object_get(doc, "data")), 3);
		json_decref(doc);
	}
	assert_int_equal(edges, 3);

	snprintf(url_env, sizeof url_env, "WEFT_QUERY_URL=%s", E.query_url);
	const char *deps_argv[] = { hx_bin("weft"), "deps", "--dot", NULL };
	cm_buf_init(&out);
	assert_int_equal(hx_run(deps_argv, envv, &out), 0);
	assert_non_null(strstr(out.data, "\"order\" -> \"payment\""));
	cm_buf_fini(&out);
	const char *argv[] = { hx_bin("weft"), "search", "--service", "payment", "--tag", "error=true", "--since", "1h", NULL };
	cm_buf_init(&out);
	assert_int_equal(hx_run(argv, envv, &out), 0);
	assert_non_null(strstr(out.data, failed));
	assert_null(strstr(out.data, ok));
	cm_buf_fini(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(demo_trace_spans_four_services_with_correct_parentage),
		cmocka_unit_test(failed_payment_marks_the_error_spans),
		cmocka_unit_test(unknown_and_malformed_ids_get_jaeger_errors),
		cmocka_unit_test(cli_prints_the_tree_and_fails_clearly),
		cmocka_unit_test(malformed_native_batches_are_rejected_and_the_collector_stays_up),
		cmocka_unit_test(acknowledged_spans_survive_a_collector_restart),
		cmocka_unit_test(staged_spans_are_written_after_a_crash),
		cmocka_unit_test(bad_flags_exit_non_zero_with_one_line),
		cmocka_unit_test(search_finds_the_failed_checkout_by_service_and_tag),
	};
	return cmocka_run_group_tests_name("e2e", tests, setup, teardown);
}
