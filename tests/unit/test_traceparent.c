/*
 * test_traceparent.c - W3C traceparent parsing and formatting, and
 * inject/extract through carrier callbacks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "weft.h"

static void
valid_header_parses_and_formats_back(void **state)
{
	const char *tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
	weft_span_context c;
	char out[WEFT_TRACEPARENT_SIZE];
	(void)state;
	assert_int_equal(weft_traceparent_parse(tp, &c), WEFT_OK);
	assert_true(c.remote);
	assert_int_equal(c.flags, 1);
	assert_int_equal(c.trace_id.b[0], 0x4b);
	assert_int_equal(c.span_id.b[7], 0xb7);
	assert_int_equal(weft_traceparent_format(&c, out, sizeof out), WEFT_OK);
	assert_string_equal(out, tp);
	assert_int_equal(weft_traceparent_format(&c, out, sizeof out - 1), WEFT_EINVAL);
}

static void
invalid_headers_are_rejected(void **state)
{
	static const char *const bad[] = {
		"",
		"00",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",             /* short flags */
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",           /* v00 must be 55 */
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",            /* version ff */
		"0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",            /* upper case */
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",            /* zero trace */
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",            /* zero span */
		"00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.future",     /* bad separator */
	};
	weft_span_context c;
	(void)state;
	memset(&c, 0x5a, sizeof c);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(weft_traceparent_parse(bad[i], &c), WEFT_EINVAL);
	assert_int_equal(weft_traceparent_parse(NULL, &c), WEFT_EINVAL);
	assert_int_equal(c.flags, 0x5a); /* untouched */
}

static void
future_versions_parse_leniently(void **state)
{
	weft_span_context c;
	(void)state;
	assert_int_equal(weft_traceparent_parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", &c), WEFT_OK);
	assert_int_equal(weft_traceparent_parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds", &c), WEFT_OK);
	assert_int_equal(c.flags, 1);
}

typedef struct carrier {
	char key[32];
	char value[128];
} carrier;

static void
set(void *arg, const char *key, const char *value)
{
	carrier *c = arg;
	snprintf(c->key, sizeof c->key, "%s", key);
	snprintf(c->value, sizeof c->value, "%s", value);
}

static const char *
get(void *arg, const char *key)
{
	carrier *c = arg;
	return strcmp(c->key, key) == 0 ? c->value : NULL;
}

static void
inject_then_extract_gives_the_same_context(void **state)
{
	weft_tracer_config cfg = { .service_name = "t", .endpoint = "tcp://127.0.0.1:1", .shutdown_timeout_ms = 100 };
	weft_tracer *t;
	weft_span *s;
	weft_span_context sent;
	weft_context got;
	carrier car = { "", "" };
	(void)state;
	assert_int_equal(weft_tracer_create(&cfg, &t), WEFT_OK);
	s = weft_span_start(t, "client", NULL);
	weft_inject(s, set, &car);
	assert_string_equal(car.key, "traceparent");
	sent = weft_span_get_context(s);
	assert_int_equal(weft_extract(t, get, NULL, &car, &got), WEFT_OK);
	assert_memory_equal(sent.trace_id.b, got.span.trace_id.b, 16);
	assert_memory_equal(sent.span_id.b, got.span.span_id.b, 8);
	assert_int_equal(got.span.flags, WEFT_FLAG_SAMPLED);
	strcpy(car.key, "other");
	assert_int_equal(weft_extract(t, get, NULL, &car, &got), WEFT_ENOENT);
	weft_span_end(s);
	weft_tracer_destroy(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(valid_header_parses_and_formats_back),
		cmocka_unit_test(invalid_headers_are_rejected),
		cmocka_unit_test(future_versions_parse_leniently),
		cmocka_unit_test(inject_then_extract_gives_the_same_context),
	};
	return cmocka_run_group_tests_name("traceparent", tests, NULL, NULL);
}
