/*
 * test_disk_full.c - a collector whose disk fills up: it answers 503 and
 * stays up, writes again once space returns, and every request it
 * acknowledged is in the store exactly once, read through the query API,
 * also after the collector is restarted.
 *
 * The data directory lives on a small tmpfs the test mounts (root only; the
 * test is skipped, saying so, where mounting is not allowed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "harness.h"
#include "httpc.h"

#define SPANS_PER_REQUEST 20
#define MAX_TRACES 4096

typedef struct env {
	char dir[512], fs[600], data[700], filler[700];
	char otlp[64], admin[64], http[64], otlp_url[96], admin_url[96], query_url[96];
	hx_daemon collector, query;
	bool mounted;
	uint64_t acked[MAX_TRACES]; /* trace numbers the collector acknowledged */
	size_t nacked;
	uint64_t next_trace;
} env;

static env E;

static bool
start_collector(void)
{
	char log[800];
	const char *argv[] = { hx_bin("weft-collector"), "--data-dir", E.data, "--native", "off", "--zipkin", "off",
		"--otlp-http", E.otlp, "--admin", E.admin, NULL };
	snprintf(log, sizeof log, "%s/collector.log", E.dir);
	return hx_start(&E.collector, log, argv) && hx_wait_http(E.admin_url, "/readyz", 10000);
}

static int
setup(void **state)
{
	(void)state;
	memset(&E, 0, sizeof E);
	snprintf(E.dir, sizeof E.dir, "%s", hx_tmpdir());
	snprintf(E.fs, sizeof E.fs, "%s/fs", E.dir);
	snprintf(E.data, sizeof E.data, "%s/data", E.fs);
	snprintf(E.filler, sizeof E.filler, "%s/filler", E.fs);
	if (mkdir(E.fs, 0755) != 0 || mount("tmpfs", E.fs, "tmpfs", 0, "size=48m") != 0)
		return 0; /* the test skips itself */
	E.mounted = true;
	snprintf(E.otlp, sizeof E.otlp, "127.0.0.1:%d", hx_free_port());
	snprintf(E.admin, sizeof E.admin, "127.0.0.1:%d", hx_free_port());
	snprintf(E.http, sizeof E.http, "127.0.0.1:%d", hx_free_port());
	snprintf(E.otlp_url, sizeof E.otlp_url, "http://%s", E.otlp);
	snprintf(E.admin_url, sizeof E.admin_url, "http://%s", E.admin);
	snprintf(E.query_url, sizeof E.query_url, "http://%s", E.http);
	return start_collector() && hx_start_query(&E.query, E.dir, E.data, E.http) ? 0 : -1;
}

static int
teardown(void **state)
{
	hx_daemon *const ds[] = { &E.collector, &E.query };
	int rv;
	(void)state;
	rv = hx_stop_all(ds, 2, NULL);
	if (E.mounted)
		umount2(E.fs, MNT_DETACH);
	hx_rmrf(E.dir);
	return rv;
}

static void
trace_hex(uint64_t n, char hex[33])
{
	snprintf(hex, 33, "5eed%012" PRIx64 "%016" PRIx64, (uint64_t)0, n + 1);
}

/* POSTs one OTLP JSON request holding trace number n; returns the HTTP status. */
static int
post_trace(uint64_t n)
{
	char hex[33], err[256];
	uint64_t t0 = cm_now_ns();
	qry_http_response r;
	cm_buf body;
	int status;

	trace_hex(n, hex);
	cm_buf_init(&body);
	cm_buf_puts(&body, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\","
	    "\"value\":{\"stringValue\":\"disk-filler\"}}]},\"scopeSpans\":[{\"spans\":[");
	for (int i = 0; i < SPANS_PER_REQUEST; i++)
		cm_buf_printf(&body, "%s{\"traceId\":\"%s\",\"spanId\":\"%016x\",%s\"name\":\"op %d\",\"kind\":2,"
		    "\"startTimeUnixNano\":\"%" PRIu64 "\",\"endTimeUnixNano\":\"%" PRIu64 "\",\"attributes\":"
		    "[{\"key\":\"padding\",\"value\":{\"stringValue\":\"%0400d\"}}]}",
		    i ? "," : "", hex, i + 1, i ? "\"parentSpanId\":\"0000000000000001\"," : "", i, t0 + (uint64_t)i,
		    t0 + 1000 + (uint64_t)i, i);
	cm_buf_puts(&body, "]}]}]}");
	assert_false(body.failed);
	assert_int_equal(qry_http_request(E.otlp_url, "POST", "/v1/traces", "application/json", body.data, body.len,
	    10000, &r, err, sizeof err), CM_OK);
	status = r.status;
	cm_buf_fini(&r.body);
	cm_buf_fini(&body);
	assert_true(status == 200 || status == 503);
	if (status == 200) {
		assert_true(E.nacked < MAX_TRACES);
		E.acked[E.nacked++] = n;
	}
	return status;
}

/* Fills the filesystem with one file until writing fails for want of space. */
static void
fill_disk(void)
{
	static char chunk[1 << 16];
	int fd = open(E.filler, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ssize_t w;
	assert_true(fd >= 0);
	while ((w = write(fd, chunk, sizeof chunk)) > 0)
		;
	assert_int_equal(errno, ENOSPC);
	close(fd);
}

static int
get_status(const char *base, const char *path, json_t **doc)
{
	char err[256];
	qry_http_response r;
	json_error_t jerr;
	int status;
	assert_int_equal(qry_http_request(base, "GET", path, NULL, NULL, 0, 10000, &r, err, sizeof err), CM_OK);
	status = r.status;
	if (doc != NULL)
		*doc = json_loadb(r.body.data, r.body.len, 0, &jerr);
	cm_buf_fini(&r.body);
	return status;
}

/* Every acknowledged trace, read back whole, once. */
static void
assert_acked_traces_stored_once(void)
{
	/* staged while the disk was full, written once the store took writes again */
	assert_true(hx_wait_written(E.admin_url, 30000));
	for (size_t i = 0; i < E.nacked; i++) {
		char hex[33], path[96];
		json_t *doc = NULL, *spans;
		trace_hex(E.acked[i], hex);
		snprintf(path, sizeof path, "/api/traces/%s?raw=true", hex);
		assert_int_equal(get_status(E.query_url, path, &doc), 200);
		assert_non_null(doc);
		spans = json_object_get(json_array_get(json_object_get(doc, "data"), 0), "spans");
		if (json_array_size(spans) != SPANS_PER_REQUEST)
			fail_msg("trace %s has %zu spans, not %d", hex, json_array_size(spans), SPANS_PER_REQUEST);
		json_decref(doc);
	}
}

static void
full_disk_gets_503_and_writing_resumes_with_space(void **state)
{
	size_t refused = 0, acked_before;
	uint64_t deadline;
	(void)state;

	if (!E.mounted)
		skip(); /* mounting a tmpfs needs root */
	for (int i = 0; i < 50; i++)
		assert_int_equal(post_trace(E.next_trace++), 200);
	fill_disk();

	/* the disk is full: whatever space RocksDB had reserved runs out, then 503 */
	while (refused < 20 && E.next_trace < 3000)
		refused += post_trace(E.next_trace++) == 503;
	assert_int_equal(refused, 20);
	assert_int_equal(get_status(E.admin_url, "/healthz", NULL), 200);
	acked_before = E.nacked;
	assert_true(acked_before >= 50);

	/* space returns: the collector reopens its store and acknowledges again */
	assert_int_equal(unlink(E.filler), 0);
	deadline = cm_mono_ns() + 15000000000ull;
	while (post_trace(E.next_trace++) != 200) {
		assert_true(cm_mono_ns() < deadline);
		usleep(100000);
	}
	for (int i = 0; i < 50; i++)
		assert_int_equal(post_trace(E.next_trace++), 200);
	print_message("disk full: %zu of %" PRIu64 " requests acknowledged, %zu refused with 503 before space "
	    "returned\n", E.nacked, E.next_trace, refused);
	assert_acked_traces_stored_once();

	/* the store is intact: it closes cleanly and opens again with all of it */
	assert_int_equal(hx_stop(&E.collector), 0);
	assert_true(start_collector());
	assert_int_equal(post_trace(E.next_trace++), 200);
	assert_acked_traces_stored_once();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(full_disk_gets_503_and_writing_resumes_with_space, setup, teardown),
	};
	return cmocka_run_group_tests_name("disk full", tests, NULL, NULL);
}
