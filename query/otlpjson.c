/*
 * otlpjson.c - cm_batch -> OTLP JSON.
 */
#include "otlpjson.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base64.h"
#include "ids.h"

static void
u64_string(cm_jsonw *w, uint64_t v)
{
	char s[32];
	int n = snprintf(s, sizeof s, "\"%" PRIu64 "\"", v);
	cm_jsonw_raw(w, s, (size_t)n);
}

static void
any_value(cm_jsonw *w, const cm_value *v)
{
	char s[32];
	cm_jsonw_obj(w);
	switch (v->type) {
	case CM_VAL_STR:
		cm_jsonw_key(w, "stringValue");
		cm_jsonw_strn(w, v->u.s);
		break;
	case CM_VAL_BOOL:
		cm_jsonw_key(w, "boolValue");
		cm_jsonw_bool(w, v->u.b);
		break;
	case CM_VAL_INT: {
		int n = snprintf(s, sizeof s, "\"%" PRId64 "\"", v->u.i);
		cm_jsonw_key(w, "intValue");
		cm_jsonw_raw(w, s, (size_t)n);
		break;
	}
	case CM_VAL_DOUBLE:
		cm_jsonw_key(w, "doubleValue");
		cm_jsonw_double(w, v->u.d);
		break;
	case CM_VAL_BYTES: {
		cm_buf b;
		cm_buf_init(&b);
		cm_base64_encode(&b, (const uint8_t *)v->u.s.p, v->u.s.len);
		cm_jsonw_key(w, "bytesValue");
		cm_jsonw_strn(w, (cm_str){ b.data ? b.data : "", (uint32_t)b.len });
		cm_buf_fini(&b);
		break;
	}
	case CM_VAL_ARRAY:
		cm_jsonw_key(w, "arrayValue");
		cm_jsonw_obj(w);
		cm_jsonw_key(w, "values");
		cm_jsonw_arr(w);
		for (uint32_t i = 0; i < v->u.arr.n; i++)
			any_value(w, &v->u.arr.v[i]);
		cm_jsonw_arr_end(w);
		cm_jsonw_obj_end(w);
		break;
	}
	cm_jsonw_obj_end(w);
}

static void
attributes(cm_jsonw *w, const cm_attrs *a)
{
	cm_jsonw_key(w, "attributes");
	cm_jsonw_arr(w);
	for (uint32_t i = 0; i < a->n; i++) {
		cm_jsonw_obj(w);
		cm_jsonw_key(w, "key");
		cm_jsonw_strn(w, a->v[i].key);
		cm_jsonw_key(w, "value");
		any_value(w, &a->v[i].val);
		cm_jsonw_obj_end(w);
	}
	cm_jsonw_arr_end(w);
	if (a->dropped) {
		cm_jsonw_key(w, "droppedAttributesCount");
		cm_jsonw_uint(w, a->dropped);
	}
}

static void
hex_id(cm_jsonw *w, const char *key, const uint8_t *id, size_t n)
{
	char hex[33];
	cm_hex_encode(id, n, hex);
	cm_jsonw_key(w, key);
	cm_jsonw_str(w, hex);
}

static void
span(cm_jsonw *w, const cm_span *s)
{
	cm_jsonw_obj(w);
	hex_id(w, "traceId", s->trace_id.b, 16);
	hex_id(w, "spanId", s->span_id.b, 8);
	if (!cm_span_id_is_zero(&s->parent_span_id))
		hex_id(w, "parentSpanId", s->parent_span_id.b, 8);
	if (s->trace_state.len) {
		cm_jsonw_key(w, "traceState");
		cm_jsonw_strn(w, s->trace_state);
	}
	if (s->flags) {
		cm_jsonw_key(w, "flags");
		cm_jsonw_uint(w, s->flags);
	}
	cm_jsonw_key(w, "name");
	cm_jsonw_strn(w, s->name);
	cm_jsonw_key(w, "kind");
	cm_jsonw_uint(w, s->kind);
	cm_jsonw_key(w, "startTimeUnixNano");
	u64_string(w, s->start_ns);
	cm_jsonw_key(w, "endTimeUnixNano");
	u64_string(w, s->end_ns);
	attributes(w, &s->attrs);
	cm_jsonw_key(w, "events");
	cm_jsonw_arr(w);
	for (uint32_t i = 0; i < s->nevents; i++) {
		cm_jsonw_obj(w);
		cm_jsonw_key(w, "timeUnixNano");
		u64_string(w, s->events[i].time_ns);
		cm_jsonw_key(w, "name");
		cm_jsonw_strn(w, s->events[i].name);
		attributes(w, &s->events[i].attrs);
		cm_jsonw_obj_end(w);
	}
	cm_jsonw_arr_end(w);
	if (s->dropped_events) {
		cm_jsonw_key(w, "droppedEventsCount");
		cm_jsonw_uint(w, s->dropped_events);
	}
	cm_jsonw_key(w, "links");
	cm_jsonw_arr(w);
	for (uint32_t i = 0; i < s->nlinks; i++) {
		const cm_link *l = &s->links[i];
		cm_jsonw_obj(w);
		hex_id(w, "traceId", l->trace_id.b, 16);
		hex_id(w, "spanId", l->span_id.b, 8);
		if (l->trace_state.len) {
			cm_jsonw_key(w, "traceState");
			cm_jsonw_strn(w, l->trace_state);
		}
		attributes(w, &l->attrs);
		cm_jsonw_obj_end(w);
	}
	cm_jsonw_arr_end(w);
	if (s->dropped_links) {
		cm_jsonw_key(w, "droppedLinksCount");
		cm_jsonw_uint(w, s->dropped_links);
	}
	cm_jsonw_key(w, "status");
	cm_jsonw_obj(w);
	if (s->status) {
		cm_jsonw_key(w, "code");
		cm_jsonw_uint(w, s->status);
	}
	if (s->status_message.len) {
		cm_jsonw_key(w, "message");
		cm_jsonw_strn(w, s->status_message);
	}
	cm_jsonw_obj_end(w);
	cm_jsonw_obj_end(w);
}

void
qry_otlp_json_trace(cm_jsonw *w, const cm_batch *t)
{
	cm_jsonw_obj(w);
	cm_jsonw_key(w, "resourceSpans");
	cm_jsonw_arr(w);
	for (uint32_t r = 0; r < t->nresources; r++) {
		bool any = false;
		for (uint32_t i = 0; i < t->nspans && !any; i++)
			any = t->spans[i].resource == r;
		if (!any)
			continue;
		cm_jsonw_obj(w);
		cm_jsonw_key(w, "resource");
		cm_jsonw_obj(w);
		attributes(w, &t->resources[r].attrs);
		cm_jsonw_obj_end(w);
		cm_jsonw_key(w, "scopeSpans");
		cm_jsonw_arr(w);
		for (uint32_t sc = 0; sc < t->nscopes; sc++) {
			bool open = false;
			for (uint32_t i = 0; i < t->nspans; i++) {
				const cm_span *s = &t->spans[i];
				if (s->resource != r || s->scope != sc)
					continue;
				if (!open) {
					const cm_scope *scope = &t->scopes[sc];
					cm_jsonw_obj(w);
					cm_jsonw_key(w, "scope");
					cm_jsonw_obj(w);
					cm_jsonw_key(w, "name");
					cm_jsonw_strn(w, scope->name);
					if (scope->version.len) {
						cm_jsonw_key(w, "version");
						cm_jsonw_strn(w, scope->version);
					}
					if (scope->attrs.n)
						attributes(w, &scope->attrs);
					cm_jsonw_obj_end(w);
					cm_jsonw_key(w, "spans");
					cm_jsonw_arr(w);
					open = true;
				}
				span(w, s);
			}
			if (open) {
				cm_jsonw_arr_end(w);
				cm_jsonw_obj_end(w);
			}
		}
		cm_jsonw_arr_end(w);
		cm_jsonw_obj_end(w);
	}
	cm_jsonw_arr_end(w);
	cm_jsonw_obj_end(w);
}
