/*
 * test_jaegerimport.c - Jaeger JSON -> OTLP JSON, checked against Jaeger's
 * own golden pair read backwards (otlp2jaeger-out.json -> -in.json).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jaegerimport.h"

static json_t *
fixture(const char *rel)
{
	const char *dir = getenv("WEFT_FIXTURES");
	char path[1024];
	json_error_t jerr;
	json_t *doc;
	snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "tests/fixtures", rel);
	doc = json_load_file(path, 0, &jerr);
	if (doc == NULL)
		fail_msg("cannot read %s (set WEFT_FIXTURES)", path);
	return doc;
}

static void
golden_output_converts_back_to_its_input(void **state)
{
	json_t *out = fixture("jaeger/otlp2jaeger-out.json"), *in = fixture("jaeger/otlp2jaeger-in.json");
	json_t *trace = json_array_get(json_object_get(out, "data"), 0);
	const char *why = NULL;
	json_t *req = qry_jaeger_to_otlp(trace, &why), *want_rs, *got_rs, *want_sp, *got_sp;
	(void)state;

	assert_non_null(req);
	want_rs = json_array_get(json_object_get(in, "resourceSpans"), 0);
	got_rs = json_array_get(json_object_get(req, "resourceSpans"), 0);
	assert_true(json_equal(json_object_get(want_rs, "resource"), json_object_get(got_rs, "resource")));
	assert_true(json_equal(json_object_get(json_array_get(json_object_get(want_rs, "scopeSpans"), 0), "scope"),
	    json_object_get(json_array_get(json_object_get(got_rs, "scopeSpans"), 0), "scope")));
	for (size_t i = 0; i < 2; i++) {
		const char *fields[] = { "traceId", "spanId", "parentSpanId", "name", "kind", "startTimeUnixNano",
			"endTimeUnixNano", "attributes", "status" };
		want_sp = json_array_get(json_object_get(json_array_get(json_object_get(want_rs, "scopeSpans"), 0), "spans"), i);
		got_sp = json_array_get(json_object_get(json_array_get(json_object_get(got_rs, "scopeSpans"), 0), "spans"), i);
		for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++)
			if (!json_equal(json_object_get(want_sp, fields[f]), json_object_get(got_sp, fields[f])))
				fail_msg("span %zu field %s differs", i, fields[f]);
	}
	json_decref(req);
	json_decref(in);
	json_decref(out);
}

static void
typed_tags_status_logs_and_links_convert(void **state)
{
	const char *text = "{\"traceID\":\"abc\",\"processes\":{\"p1\":{\"serviceName\":\"s\",\"tags\":[]}},"
	    "\"spans\":[{\"traceID\":\"abc\",\"spanID\":\"0000000000000001\",\"operationName\":\"op\",\"processID\":\"p1\","
	    "\"startTime\":5,\"duration\":7,\"references\":[{\"refType\":\"FOLLOWS_FROM\",\"traceID\":\"def\",\"spanID\":\"0000000000000009\"}],"
	    "\"tags\":[{\"key\":\"n\",\"type\":\"int64\",\"value\":42},{\"key\":\"f\",\"type\":\"float64\",\"value\":0.5},"
	    "{\"key\":\"b\",\"type\":\"bool\",\"value\":true},{\"key\":\"error\",\"type\":\"bool\",\"value\":true},"
	    "{\"key\":\"span.kind\",\"type\":\"string\",\"value\":\"consumer\"}],"
	    "\"logs\":[{\"timestamp\":6,\"fields\":[{\"key\":\"event\",\"type\":\"string\",\"value\":\"boom\"},"
	    "{\"key\":\"k\",\"type\":\"string\",\"value\":\"v\"}]}]}]}";
	json_error_t jerr;
	json_t *trace = json_loads(text, 0, &jerr), *req, *sp, *attrs;
	const char *why = NULL;
	(void)state;
	assert_non_null(trace);
	req = qry_jaeger_to_otlp(trace, &why);
	assert_non_null(req);
	sp = json_array_get(json_object_get(json_array_get(json_object_get(json_array_get(json_object_get(req, "resourceSpans"), 0),
	    "scopeSpans"), 0), "spans"), 0);
	assert_string_equal(json_string_value(json_object_get(sp, "traceId")), "00000000000000000000000000000abc");
	assert_int_equal(json_integer_value(json_object_get(sp, "kind")), 5);
	assert_string_equal(json_string_value(json_object_get(sp, "startTimeUnixNano")), "5000");
	assert_string_equal(json_string_value(json_object_get(sp, "endTimeUnixNano")), "12000");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(sp, "status"), "code")), 2);
	attrs = json_object_get(sp, "attributes");
	assert_int_equal(json_array_size(attrs), 3); /* error and span.kind became status and kind */
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(attrs, 0), "value"), "intValue")), "42");
	assert_true(json_number_value(json_object_get(json_object_get(json_array_get(attrs, 1), "value"), "doubleValue")) == 0.5);
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(sp, "events"), 0), "name")), "boom");
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(sp, "links"), 0), "spanId")), "0000000000000009");
	json_decref(req);
	json_decref(trace);
	trace = json_loads("{\"traceID\":\"x\"}", 0, &jerr);
	assert_null(qry_jaeger_to_otlp(trace, &why));
	assert_non_null(why);
	json_decref(trace);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(golden_output_converts_back_to_its_input),
		cmocka_unit_test(typed_tags_status_logs_and_links_convert),
	};
	return cmocka_run_group_tests_name("jaegerimport", tests, NULL, NULL);
}
