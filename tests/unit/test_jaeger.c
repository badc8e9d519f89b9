/*
 * test_jaeger.c - the Jaeger JSON mapping of the span model.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <string.h>

#include "jaeger.h"

/* Returns the tag `key` of a Jaeger span or process, or NULL. */
static json_t *
find_tag(json_t *obj, const char *field, const char *key)
{
	json_t *t;
	size_t i;
	json_array_foreach(json_object_get(obj, field), i, t)
		if (strcmp(json_string_value(json_object_get(t, "key")), key) == 0)
			return t;
	return NULL;
}

static void
spans_map_as_jaeger_does(void **state)
{
	cm_value arr[2] = { { .type = CM_VAL_INT, .u.i = 1 }, { .type = CM_VAL_STR, .u.s = CM_STR("x\"y") } };
	cm_attr attrs[] = {
		{ CM_STR("http.status_code"), { .type = CM_VAL_INT, .u.i = 503 } },
		{ CM_STR("ratio"), { .type = CM_VAL_DOUBLE, .u.d = 0.25 } },
		{ CM_STR("ok"), { .type = CM_VAL_BOOL, .u.b = false } },
		{ CM_STR("list"), { .type = CM_VAL_ARRAY, .u.arr = { arr, 2 } } },
		{ CM_STR("raw"), { .type = CM_VAL_BYTES, .u.s = { "\x01\x02\x03", 3 } } },
	};
	cm_attr res_attrs[] = { { CM_STR("service.name"), { .type = CM_VAL_STR, .u.s = CM_STR("a") } },
		{ CM_STR("host.name"), { .type = CM_VAL_STR, .u.s = CM_STR("h1") } } };
	cm_attr ev_attr = { CM_STR("exception.message"), { .type = CM_VAL_STR, .u.s = CM_STR("reset") } };
	cm_event ev = { 2000000, CM_STR("exception"), { &ev_attr, 1, 0 } };
	cm_link link = { .attrs = { NULL, 0, 0 } };
	cm_resource res[2] = { { CM_STR("a"), { res_attrs, 2, 0 } }, { CM_STR("b"), { NULL, 0, 0 } } };
	cm_scope scope = { CM_STR("lib"), CM_STR("1.0"), { NULL, 0, 0 } };
	cm_span spans[2];
	cm_batch b = { .resources = res, .nresources = 2, .scopes = &scope, .nscopes = 1, .spans = spans, .nspans = 2 };
	cm_buf out;
	cm_jsonw w;
	json_t *doc, *s0, *s1, *t;
	json_error_t jerr;
	(void)state;

	memset(spans, 0, sizeof spans);
	memset(link.trace_id.b, 0xee, 16);
	memset(link.span_id.b, 0xdd, 8);
	for (int i = 0; i < 2; i++) {
		memset(spans[i].trace_id.b, 0xab, 16);
		memset(spans[i].span_id.b, 0x10 + i, 8);
		spans[i].start_ns = 1000000 + (uint64_t)i * 1000;
		spans[i].end_ns = 5000000;
	}
	spans[0].name = CM_STR("GET /");
	spans[0].kind = CM_KIND_SERVER;
	spans[0].status = CM_STATUS_ERROR;
	spans[0].status_message = CM_STR("boom");
	spans[0].attrs = (cm_attrs){ attrs, 5, 0 };
	spans[0].events = &ev;
	spans[0].nevents = 1;
	spans[0].resource = 1; /* b is used first, so it is p1 */
	spans[1].name = CM_STR("work");
	spans[1].kind = CM_KIND_INTERNAL;
	memset(spans[1].parent_span_id.b, 0x10, 8);
	spans[1].links = &link;
	spans[1].nlinks = 1;
	spans[1].status = CM_STATUS_OK;

	qry_span_warnings warn[2];
	memset(warn, 0, sizeof warn);
	warn[1].n = 1;
	strcpy(warn[1].text[0], "This span's timestamps were adjusted by 1ms");
	cm_buf_init(&out);
	cm_jsonw_init(&w, &out);
	qry_jaeger_trace(&w, &b, warn);
	doc = json_loadb(out.data, out.len, 0, &jerr);
	assert_non_null(doc);
	assert_string_equal(json_string_value(json_object_get(doc, "traceID")), "abababababababababababababababab");
	s0 = json_array_get(json_object_get(doc, "spans"), 0);
	s1 = json_array_get(json_object_get(doc, "spans"), 1);
	assert_string_equal(json_string_value(json_object_get(s0, "processID")), "p1");
	assert_string_equal(json_string_value(json_object_get(s1, "processID")), "p2");
	assert_int_equal(json_integer_value(json_object_get(s0, "startTime")), 1000);
	assert_int_equal(json_integer_value(json_object_get(s0, "duration")), 4000);
	assert_string_equal(json_string_value(json_object_get(find_tag(s0, "tags", "span.kind"), "value")), "server");
	assert_null(find_tag(s1, "tags", "span.kind"));
	assert_string_equal(json_string_value(json_object_get(find_tag(s0, "tags", "otel.status_code"), "value")), "ERROR");
	assert_true(json_is_true(json_object_get(find_tag(s0, "tags", "error"), "value")));
	assert_string_equal(json_string_value(json_object_get(find_tag(s0, "tags", "otel.status_description"), "value")), "boom");
	assert_string_equal(json_string_value(json_object_get(find_tag(s1, "tags", "otel.status_code"), "value")), "OK");
	assert_string_equal(json_string_value(json_object_get(find_tag(s0, "tags", "otel.scope.name"), "value")), "lib");
	t = find_tag(s0, "tags", "http.status_code");
	assert_string_equal(json_string_value(json_object_get(t, "type")), "int64");
	assert_int_equal(json_integer_value(json_object_get(t, "value")), 503);
	t = find_tag(s0, "tags", "ratio");
	assert_string_equal(json_string_value(json_object_get(t, "type")), "float64");
	assert_true(json_real_value(json_object_get(t, "value")) == 0.25);
	assert_string_equal(json_string_value(json_object_get(find_tag(s0, "tags", "ok"), "type")), "bool");
	assert_string_equal(json_string_value(json_object_get(find_tag(s0, "tags", "list"), "value")), "[1,\"x\\\"y\"]");
	t = find_tag(s0, "tags", "raw");
	assert_string_equal(json_string_value(json_object_get(t, "type")), "binary");
	assert_string_equal(json_string_value(json_object_get(t, "value")), "AQID");
	t = json_array_get(json_object_get(s0, "logs"), 0);
	assert_int_equal(json_integer_value(json_object_get(t, "timestamp")), 2000);
	assert_string_equal(json_string_value(json_object_get(find_tag(t, "fields", "event"), "value")), "exception");
	assert_string_equal(json_string_value(json_object_get(find_tag(t, "fields", "exception.message"), "value")), "reset");
	assert_int_equal(json_array_size(json_object_get(s0, "references")), 0);
	t = json_object_get(s1, "references");
	assert_int_equal(json_array_size(t), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(t, 0), "refType")), "CHILD_OF");
	assert_string_equal(json_string_value(json_object_get(json_array_get(t, 0), "spanID")), "1010101010101010");
	assert_string_equal(json_string_value(json_object_get(json_array_get(t, 1), "refType")), "FOLLOWS_FROM");
	t = json_object_get(doc, "processes");
	assert_string_equal(json_string_value(json_object_get(json_object_get(t, "p1"), "serviceName")), "b");
	assert_string_equal(json_string_value(json_object_get(json_object_get(t, "p2"), "serviceName")), "a");
	assert_null(find_tag(json_object_get(t, "p2"), "tags", "service.name"));
	assert_non_null(find_tag(json_object_get(t, "p2"), "tags", "host.name"));
	assert_true(json_is_null(json_object_get(s0, "warnings")));
	assert_string_equal(json_string_value(json_array_get(json_object_get(s1, "warnings"), 0)),
	    "This span's timestamps were adjusted by 1ms");
	json_decref(doc);
	cm_buf_fini(&out);
}

static void
strings_are_escaped(void **state)
{
	cm_buf out;
	cm_jsonw w;
	json_t *doc;
	json_error_t jerr;
	(void)state;
	cm_buf_init(&out);
	cm_jsonw_init(&w, &out);
	cm_jsonw_obj(&w);
	cm_jsonw_key(&w, "k");
	cm_jsonw_strn(&w, (cm_str){ "a\"\\\n\x01z", 6 });
	cm_jsonw_key(&w, "nan");
	cm_jsonw_double(&w, 0.0 / 0.0);
	cm_jsonw_key(&w, "d");
	cm_jsonw_double(&w, 0.1);
	cm_jsonw_obj_end(&w);
	assert_string_equal(out.data, "{\"k\":\"a\\\"\\\\\\n\\u0001z\",\"nan\":null,\"d\":0.1}");
	doc = json_loadb(out.data, out.len, 0, &jerr);
	assert_non_null(doc);
	json_decref(doc);
	cm_buf_fini(&out);
}

static void
numbers_print_exactly(void **state)
{
	cm_buf out;
	cm_jsonw w;
	(void)state;
	cm_buf_init(&out);
	cm_jsonw_init(&w, &out);
	cm_jsonw_arr(&w);
	cm_jsonw_int(&w, INT64_MIN);
	cm_jsonw_int(&w, -5);
	cm_jsonw_uint(&w, 0);
	cm_jsonw_uint(&w, UINT64_MAX);
	cm_jsonw_micros(&w, 1234567);
	cm_jsonw_micros(&w, 7);
	cm_jsonw_arr_end(&w);
	assert_string_equal(out.data, "[-9223372036854775808,-5,0,18446744073709551615,1234.567,0.007]");
	cm_buf_fini(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(spans_map_as_jaeger_does),
		cmocka_unit_test(strings_are_escaped),
		cmocka_unit_test(numbers_print_exactly),
	};
	return cmocka_run_group_tests_name("jaeger", tests, NULL, NULL);
}
