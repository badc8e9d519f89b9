/*
 * otlp_json.c - OTLP JSON -> the span model, with jansson.
 */
#include "otlp_json.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "err.h"
#include "ids.h"
#include "jsonw.h"

enum { MAX_VALUE_DEPTH = 8 };

#define FAIL(reason)              \
	do {                      \
		*why = (reason);  \
		return CM_EPROTO; \
	} while (0)

/* A 64-bit integer given as a JSON number or a decimal string. */
static bool
get_i64(json_t *v, int64_t *out)
{
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return true;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;
		errno = 0;
		long long n = strtoll(s, &end, 10);
		if (errno || end == s || *end != '\0')
			return false;
		*out = n;
		return true;
	}
	return false;
}

/* Unsigned nanosecond times: strings or numbers; absent is 0. */
static bool
get_u64(json_t *v, uint64_t *out)
{
	if (v == NULL) {
		*out = 0;
		return true;
	}
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = (uint64_t)json_integer_value(v);
		return true;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;
		errno = 0;
		unsigned long long n = strtoull(s, &end, 10);
		if (errno || end == s || *end != '\0' || *s == '-')
			return false;
		*out = n;
		return true;
	}
	return false;
}

static cm_str
str_field(col_builder *bl, json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return json_is_string(v) ? col_str(bl, json_string_value(v), json_string_length(v)) : CM_STR("");
}

static uint32_t
u32_field(json_t *obj, const char *key)
{
	uint64_t v = 0;
	return get_u64(json_object_get(obj, key), &v) && v <= UINT32_MAX ? (uint32_t)v : 0;
}

/* An id: absent or "" is zero; otherwise exactly 2n hex digits, any case. */
static bool
get_id(json_t *obj, const char *key, uint8_t *dst, size_t n)
{
	json_t *v = json_object_get(obj, key);
	if (v == NULL || (json_is_string(v) && json_string_length(v) == 0)) {
		memset(dst, 0, n);
		return true;
	}
	return json_is_string(v) && cm_hex_decode(json_string_value(v), json_string_length(v), dst, n, false) == CM_OK;
}

static bool
decode_base64(col_builder *bl, const char *s, size_t len, cm_str *out)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *d = cm_arena_alloc(&bl->b->arena, len / 4 * 3 + 3);
	uint32_t acc = 0, n = 0;
	int bits = 0;

	if (d == NULL) {
		bl->oom = true;
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		const char *c;
		if (s[i] == '=')
			break;
		if ((c = strchr(tab, s[i])) == NULL || s[i] == '\0')
			return false;
		acc = acc << 6 | (uint32_t)(c - tab);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			d[n++] = (char)(acc >> bits);
		}
	}
	*out = (cm_str){ d, n };
	return true;
}

static int convert_attrs(col_builder *bl, json_t *arr, uint32_t dropped, cm_attrs *out, const char **why);

static int
convert_value(col_builder *bl, json_t *v, cm_value *out, int depth, const char **why)
{
	json_t *x;

	memset(out, 0, sizeof *out);
	out->type = CM_VAL_STR;
	out->u.s = CM_STR("");
	if (v == NULL || json_is_null(v))
		return CM_OK;
	if (!json_is_object(v))
		FAIL("attribute value is not an AnyValue object");
	if ((x = json_object_get(v, "stringValue")) != NULL) {
		if (!json_is_string(x))
			FAIL("stringValue is not a string");
		out->u.s = col_str(bl, json_string_value(x), json_string_length(x));
	} else if ((x = json_object_get(v, "boolValue")) != NULL) {
		if (!json_is_boolean(x))
			FAIL("boolValue is not a boolean");
		out->type = CM_VAL_BOOL;
		out->u.b = json_is_true(x);
	} else if ((x = json_object_get(v, "intValue")) != NULL) {
		out->type = CM_VAL_INT;
		if (!get_i64(x, &out->u.i))
			FAIL("intValue is not a 64-bit integer");
	} else if ((x = json_object_get(v, "doubleValue")) != NULL) {
		out->type = CM_VAL_DOUBLE;
		if (json_is_number(x))
			out->u.d = json_number_value(x);
		else if (json_is_string(x)) /* "NaN", "Infinity" and numbers as strings */
			out->u.d = strtod(json_string_value(x), NULL);
		else
			FAIL("doubleValue is not a number");
	} else if ((x = json_object_get(v, "bytesValue")) != NULL) {
		out->type = CM_VAL_BYTES;
		if (!json_is_string(x) || !decode_base64(bl, json_string_value(x), json_string_length(x), &out->u.s))
			FAIL("bytesValue is not base64");
	} else if ((x = json_object_get(v, "arrayValue")) != NULL) {
		json_t *vals = json_object_get(x, "values"), *e;
		size_t i;
		if (depth >= MAX_VALUE_DEPTH)
			FAIL("attribute value nested too deeply");
		if (vals != NULL && !json_is_array(vals))
			FAIL("arrayValue.values is not an array");
		out->type = CM_VAL_ARRAY;
		out->u.arr.n = (uint32_t)json_array_size(vals);
		out->u.arr.v = col_values(bl, out->u.arr.n);
		json_array_foreach(vals, i, e) {
			int rv;
			if (bl->oom)
				return CM_ENOMEM;
			if ((rv = convert_value(bl, e, &out->u.arr.v[i], depth + 1, why)) != CM_OK)
				return rv;
		}
	} else if ((x = json_object_get(v, "kvlistValue")) != NULL) {
		/* no maps in the span model: keep the OTLP JSON text of the list */
		char *text;
		if (depth >= MAX_VALUE_DEPTH)
			FAIL("attribute value nested too deeply");
		text = json_dumps(x, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (text == NULL)
			return CM_ENOMEM;
		out->u.s = col_str(bl, text, strlen(text));
		free(text);
	}
	return bl->oom ? CM_ENOMEM : CM_OK;
}

static int
convert_attrs(col_builder *bl, json_t *arr, uint32_t dropped, cm_attrs *out, const char **why)
{
	json_t *kv;
	size_t i;

	out->n = 0;
	out->dropped = dropped;
	out->v = NULL;
	if (arr == NULL || json_is_null(arr))
		return CM_OK;
	if (!json_is_array(arr))
		FAIL("attributes are not an array");
	out->v = col_attrs(bl, json_array_size(arr));
	json_array_foreach(arr, i, kv) {
		json_t *key = json_object_get(kv, "key");
		cm_attr *a;
		int rv;
		if (bl->oom)
			return CM_ENOMEM;
		if (!json_is_string(key))
			FAIL("attribute without a string key");
		a = &out->v[out->n++];
		a->key = col_str(bl, json_string_value(key), json_string_length(key));
		if ((rv = convert_value(bl, json_object_get(kv, "value"), &a->val, 0, why)) != CM_OK)
			return rv;
	}
	return CM_OK;
}

/* An enum given as an integer or as its name, e.g. 2 or "SPAN_KIND_SERVER". */
static int
enum_field(json_t *obj, const char *key, const char *const names[], int count)
{
	json_t *v = json_object_get(obj, key);
	if (json_is_integer(v))
		return json_integer_value(v) >= 0 && json_integer_value(v) < count ? (int)json_integer_value(v) : -1;
	if (json_is_string(v))
		for (int i = 0; i < count; i++)
			if (strcmp(json_string_value(v), names[i]) == 0)
				return i;
	return v == NULL ? 0 : -1;
}

static int
convert_span(col_builder *bl, json_t *js, cm_span *s, const char **why)
{
	static const char *const kinds[] = { "SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER",
		"SPAN_KIND_CLIENT", "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER" };
	static const char *const codes[] = { "STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR" };
	json_t *status = json_object_get(js, "status"), *arr, *x;
	int kind, code = 0, rv;
	size_t i;

	if (!json_is_object(js))
		FAIL("span is not an object");
	if (!get_id(js, "traceId", s->trace_id.b, 16) || !get_id(js, "spanId", s->span_id.b, 8) ||
	    !get_id(js, "parentSpanId", s->parent_span_id.b, 8))
		FAIL("traceId must be 32 hex digits, spanId and parentSpanId 16");
	s->trace_state = str_field(bl, js, "traceState");
	s->flags = u32_field(js, "flags");
	s->name = str_field(bl, js, "name");
	if ((kind = enum_field(js, "kind", kinds, 6)) < 0)
		FAIL("span kind is not 0..5 or a SPAN_KIND_ name");
	s->kind = (uint8_t)kind;
	if (!get_u64(json_object_get(js, "startTimeUnixNano"), &s->start_ns) ||
	    !get_u64(json_object_get(js, "endTimeUnixNano"), &s->end_ns))
		FAIL("start or end time is not an unsigned 64-bit integer");
	if (status != NULL && (code = enum_field(status, "code", codes, 3)) < 0)
		FAIL("status code is not 0..2 or a STATUS_CODE_ name");
	s->status = (uint8_t)code;
	s->status_message = str_field(bl, status, "message");
	if ((rv = convert_attrs(bl, json_object_get(js, "attributes"), u32_field(js, "droppedAttributesCount"), &s->attrs, why)) != CM_OK)
		return rv;
	s->dropped_events = u32_field(js, "droppedEventsCount");
	s->dropped_links = u32_field(js, "droppedLinksCount");

	arr = json_object_get(js, "events");
	if (arr != NULL && !json_is_array(arr))
		FAIL("events are not an array");
	if (json_array_size(arr) > 0 && (s->events = cm_arena_alloc(&bl->b->arena, json_array_size(arr) * sizeof(cm_event))) == NULL)
		return CM_ENOMEM;
	json_array_foreach(arr, i, x) {
		cm_event *e = &s->events[s->nevents++];
		if (!get_u64(json_object_get(x, "timeUnixNano"), &e->time_ns))
			FAIL("event time is not an unsigned 64-bit integer");
		e->name = str_field(bl, x, "name");
		if ((rv = convert_attrs(bl, json_object_get(x, "attributes"), u32_field(x, "droppedAttributesCount"), &e->attrs, why)) != CM_OK)
			return rv;
	}
	arr = json_object_get(js, "links");
	if (arr != NULL && !json_is_array(arr))
		FAIL("links are not an array");
	if (json_array_size(arr) > 0 && (s->links = cm_arena_alloc(&bl->b->arena, json_array_size(arr) * sizeof(cm_link))) == NULL)
		return CM_ENOMEM;
	json_array_foreach(arr, i, x) {
		cm_link *l = &s->links[s->nlinks++];
		if (!get_id(x, "traceId", l->trace_id.b, 16) || !get_id(x, "spanId", l->span_id.b, 8))
			FAIL("link ids must be 32 and 16 hex digits");
		l->trace_state = str_field(bl, x, "traceState");
		l->flags = u32_field(x, "flags");
		if ((rv = convert_attrs(bl, json_object_get(x, "attributes"), u32_field(x, "droppedAttributesCount"), &l->attrs, why)) != CM_OK)
			return rv;
	}
	return bl->oom ? CM_ENOMEM : CM_OK;
}

static int
convert(col_builder *bl, json_t *doc, const char **why)
{
	json_t *rss = json_object_get(doc, "resourceSpans"), *rs;
	size_t r;
	int rv;

	if (!json_is_object(doc))
		FAIL("body is not a JSON object");
	if (rss != NULL && !json_is_array(rss))
		FAIL("resourceSpans is not an array");
	json_array_foreach(rss, r, rs) {
		json_t *res = json_object_get(rs, "resource"), *sss = json_object_get(rs, "scopeSpans"), *ss;
		cm_resource *cr = col_add_resource(bl);
		size_t k;
		if (cr == NULL)
			return CM_ENOMEM;
		if ((rv = convert_attrs(bl, json_object_get(res, "attributes"), u32_field(res, "droppedAttributesCount"), &cr->attrs, why)) != CM_OK)
			return rv;
		col_resource_service(cr);
		if (sss != NULL && !json_is_array(sss))
			FAIL("scopeSpans is not an array");
		json_array_foreach(sss, k, ss) {
			json_t *scope = json_object_get(ss, "scope"), *spans = json_object_get(ss, "spans"), *sp;
			cm_scope *sc = col_add_scope(bl);
			size_t i;
			if (sc == NULL)
				return CM_ENOMEM;
			sc->name = str_field(bl, scope, "name");
			sc->version = str_field(bl, scope, "version");
			if ((rv = convert_attrs(bl, json_object_get(scope, "attributes"), u32_field(scope, "droppedAttributesCount"), &sc->attrs, why)) != CM_OK)
				return rv;
			if (spans != NULL && !json_is_array(spans))
				FAIL("spans is not an array");
			json_array_foreach(spans, i, sp) {
				cm_span *s = col_add_span(bl);
				if (s == NULL)
					return CM_ENOMEM;
				if ((rv = convert_span(bl, sp, s, why)) != CM_OK)
					return rv;
			}
		}
	}
	return bl->oom ? CM_ENOMEM : CM_OK;
}

int
col_otlp_json_decode(const char *body, size_t len, cm_batch *out, const char **why)
{
	json_error_t jerr;
	json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	col_builder bl;
	int rv;

	if (doc == NULL) {
		*why = "body is not valid JSON";
		return CM_EPROTO;
	}
	col_builder_init(&bl, out);
	rv = convert(&bl, doc, why);
	json_decref(doc);
	if (rv == CM_ENOMEM)
		*why = "out of memory";
	return rv;
}

void
col_otlp_json_response(cm_buf *out, int64_t rejected, const char *message)
{
	cm_jsonw w;
	cm_jsonw_init(&w, out);
	cm_jsonw_obj(&w);
	if (rejected > 0 || (message != NULL && *message != '\0')) {
		cm_jsonw_key(&w, "partialSuccess");
		cm_jsonw_obj(&w);
		char num[32];
		/* int64 fields are strings in OTLP JSON */
		snprintf(num, sizeof num, "\"%lld\"", (long long)rejected);
		cm_jsonw_key(&w, "rejectedSpans");
		cm_jsonw_raw(&w, num, strlen(num));
		cm_jsonw_key(&w, "errorMessage");
		cm_jsonw_str(&w, message ? message : "");
		cm_jsonw_obj_end(&w);
	}
	cm_jsonw_obj_end(&w);
}
