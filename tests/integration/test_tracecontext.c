/*
 * test_tracecontext.c - weft-tracecontext-service speaks the W3C Trace
 * Context test harness protocol: the cases of the public suite that decide
 * interoperability, each as harness -> service -> callback, with the
 * callback's headers checked here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define TRACE "12345678901234567890123456789012"
#define PARENT "1234567890123456"

typedef struct env {
	char dir[512];
	int port;
	hx_daemon service;
	int listener, listen_port;
} env;

static env E;

static int
setup(void **state)
{
	char log[700], port[16];
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof a;
	(void)state;
	snprintf(E.dir, sizeof E.dir, "%s", hx_tmpdir());
	E.port = hx_free_port();
	snprintf(port, sizeof port, "%d", E.port);
	snprintf(log, sizeof log, "%s/service.log", E.dir);
	const char *argv[] = { hx_bin("weft-tracecontext-service"), "--port", port, NULL };
	if (!hx_start(&E.service, log, argv))
		return -1;
	E.listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (E.listener < 0 || bind(E.listener, (struct sockaddr *)&a, sizeof a) != 0 || listen(E.listener, 16) != 0 ||
	    getsockname(E.listener, (struct sockaddr *)&a, &alen) != 0)
		return -1;
	E.listen_port = ntohs(a.sin_port);
	for (int i = 0; i < 100; i++) { /* until the service listens */
		cm_buf body;
		cm_buf_init(&body);
		int st = hx_http_raw(E.port, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 46, &body, NULL);
		cm_buf_fini(&body);
		if (st == 404)
			return 0;
		usleep(50000);
	}
	return -1;
}

static int
teardown(void **state)
{
	int rv = hx_stop(&E.service);
	(void)state;
	if (rv != 0)
		hx_dump_log(&E.service);
	close(E.listener);
	hx_rmrf(E.dir);
	return rv == 0 ? 0 : -1;
}

typedef struct capture {
	char req[8192];
} capture;

/* Accepts the service's callback, keeps its request, answers 200. */
static void *
accept_one(void *arg)
{
	capture *c = arg;
	int fd = accept(E.listener, NULL, NULL);
	size_t got = 0;
	if (fd < 0)
		return NULL;
	while (got < sizeof c->req - 1) {
		ssize_t n = recv(fd, c->req + got, sizeof c->req - 1 - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
		c->req[got] = '\0';
		char *end = strstr(c->req, "\r\n\r\n");
		char *cl = strcasestr(c->req, "content-length:");
		if (end != NULL && cl != NULL && got >= (size_t)(end + 4 - c->req) + (size_t)atoi(cl + 15))
			break;
	}
	send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", 57, MSG_NOSIGNAL);
	close(fd);
	return NULL;
}

/* The value of header name in a captured request, or NULL (static storage). */
static const char *
header(const capture *c, const char *name)
{
	static char v[1024];
	char pat[64];
	const char *p;
	snprintf(pat, sizeof pat, "\r\n%s:", name);
	if ((p = strcasestr(c->req, pat)) == NULL)
		return NULL;
	p += strlen(pat);
	while (*p == ' ')
		p++;
	size_t n = strcspn(p, "\r\n");
	snprintf(v, sizeof v, "%.*s", (int)n, p);
	return v;
}

/* Sends POST /test with extra request headers; returns what the callback received. */
static void
run_case(const char *headers, capture *c)
{
	char body[256], req[4096];
	pthread_t th;
	cm_buf resp;
	int n;
	snprintf(body, sizeof body, "[{\"url\":\"http://127.0.0.1:%d/callback\",\"arguments\":[1,\"two\"]}]", E.listen_port);
	n = snprintf(req, sizeof req, "POST /test HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n%s"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", headers, strlen(body), body);
	memset(c, 0, sizeof *c);
	assert_int_equal(pthread_create(&th, NULL, accept_one, c), 0);
	cm_buf_init(&resp);
	assert_int_equal(hx_http_raw(E.port, req, (size_t)n, &resp, NULL), 200);
	cm_buf_fini(&resp);
	pthread_join(th, NULL);
	assert_non_null(strstr(c->req, "POST /callback HTTP/1.1"));
	assert_non_null(strstr(c->req, "\r\n\r\n[1,\"two\"]"));
}

/* The callback's traceparent: version 00, a new span id, and the given trace id and flags (NULL: a new trace). */
static void
assert_child(const capture *c, const char *trace, const char *flags)
{
	const char *tp = header(c, "traceparent");
	assert_non_null(tp);
	assert_int_equal(strlen(tp), 55);
	assert_memory_equal(tp, "00-", 3);
	if (trace != NULL)
		assert_memory_equal(tp + 3, trace, 32);
	else
		assert_memory_not_equal(tp + 3, TRACE, 32);
	assert_memory_not_equal(tp + 36, PARENT, 16);
	if (flags != NULL)
		assert_string_equal(tp + 53, flags);
}

static void
valid_context_is_continued(void **state)
{
	capture c;
	(void)state;
	run_case("traceparent: 00-" TRACE "-" PARENT "-01\r\ntracestate: foo=1, bar=2\r\n", &c);
	assert_child(&c, TRACE, "01");
	assert_string_equal(header(&c, "tracestate"), "foo=1,bar=2");
	run_case("traceparent: 00-" TRACE "-" PARENT "-00\r\n", &c);
	assert_child(&c, TRACE, "00");
	assert_null(header(&c, "tracestate"));
}

static void
future_versions_are_read_leniently(void **state)
{
	capture c;
	(void)state;
	run_case("traceparent: cc-" TRACE "-" PARENT "-01-what-the-future-will-be-like\r\n", &c);
	assert_child(&c, TRACE, "01");
	run_case("traceparent: cc-" TRACE "-" PARENT "-01.what-the-future-will-be-like\r\n", &c);
	assert_child(&c, NULL, NULL);
}

static void
invalid_traceparent_starts_a_new_trace_without_tracestate(void **state)
{
	const char *bad[] = {
		"ff-" TRACE "-" PARENT "-01", "00-" TRACE "-" PARENT "-01-extra", "00-ABCDEF78901234567890123456789012-" PARENT "-01",
		"00-00000000000000000000000000000000-" PARENT "-01", "00-" TRACE "-0000000000000000-01",
		"00-" TRACE "-" PARENT "-1", "0-" TRACE "-" PARENT "-01", "00-" TRACE "-" PARENT "-0g", "",
	};
	capture c;
	char h[256];
	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(h, sizeof h, "traceparent: %s\r\ntracestate: foo=1\r\n", bad[i]);
		run_case(h, &c);
		assert_child(&c, NULL, NULL);
		assert_null(header(&c, "tracestate"));
	}
	run_case("", &c);
	assert_child(&c, NULL, NULL);
}

static void
tracestate_rules_are_applied(void **state)
{
	char h[2048];
	capture c;
	(void)state;
	/* several headers are one list */
	run_case("traceparent: 00-" TRACE "-" PARENT "-01\r\ntracestate: foo=1\r\ntracestate: bar=2\r\n", &c);
	assert_string_equal(header(&c, "tracestate"), "foo=1,bar=2");
	/* duplicate keys: the list is discarded, the context kept */
	run_case("traceparent: 00-" TRACE "-" PARENT "-01\r\ntracestate: foo=1,foo=2\r\n", &c);
	assert_child(&c, TRACE, "01");
	assert_null(header(&c, "tracestate"));
	/* 32 members pass, 33 are discarded */
	int off = snprintf(h, sizeof h, "traceparent: 00-" TRACE "-" PARENT "-01\r\ntracestate: ");
	for (int i = 0; i < 32; i++)
		off += snprintf(h + off, sizeof h - (size_t)off, "%sk%d=v", i ? "," : "", i);
	snprintf(h + off, sizeof h - (size_t)off, "\r\n");
	run_case(h, &c);
	assert_non_null(header(&c, "tracestate"));
	snprintf(h + off, sizeof h - (size_t)off, ",k32=v\r\n");
	run_case(h, &c);
	assert_null(header(&c, "tracestate"));
	/* a bad key or value */
	run_case("traceparent: 00-" TRACE "-" PARENT "-01\r\ntracestate: FOO=1\r\n", &c);
	assert_null(header(&c, "tracestate"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(valid_context_is_continued),
		cmocka_unit_test(future_versions_are_read_leniently),
		cmocka_unit_test(invalid_traceparent_starts_a_new_trace_without_tracestate),
		cmocka_unit_test(tracestate_rules_are_applied),
	};
	return cmocka_run_group_tests_name("tracecontext service", tests, setup, teardown);
}
