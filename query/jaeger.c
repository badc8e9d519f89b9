/*
 * jaeger.c - cm_batch -> Jaeger JSON trace.
 */
#include "jaeger.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "base64.h"
#include "ids.h"

static void
tag_str(cm_jsonw *w, const char *key, cm_str v)
{
	cm_jsonw_obj(w);
	cm_jsonw_key(w, "key");
	cm_jsonw_str(w, key);
	cm_jsonw_key(w, "type");
	cm_jsonw_str(w, "string");
	cm_jsonw_key(w, "value");
	cm_jsonw_strn(w, v);
	cm_jsonw_obj_end(w);
}

/* Writes an array value as JSON text (Jaeger has no array tag type). */
static void
array_json(cm_jsonw *w, const cm_value *v)
{
	switch (v->type) {
	case CM_VAL_STR: cm_jsonw_strn(w, v->u.s); break;
	case CM_VAL_BOOL: cm_jsonw_bool(w, v->u.b); break;
	case CM_VAL_INT: cm_jsonw_int(w, v->u.i); break;
	case CM_VAL_DOUBLE: cm_jsonw_double(w, v->u.d); break;
	case CM_VAL_BYTES: {
		cm_buf b;
		cm_buf_init(&b);
		cm_base64_encode(&b, (const uint8_t *)v->u.s.p, v->u.s.len);
		cm_jsonw_strn(w, (cm_str){ b.data ? b.data : "", (uint32_t)b.len });
		cm_buf_fini(&b);
		break;
	}
	case CM_VAL_ARRAY:
		cm_jsonw_arr(w);
		for (uint32_t i = 0; i < v->u.arr.n; i++)
			array_json(w, &v->u.arr.v[i]);
		cm_jsonw_arr_end(w);
		break;
	}
}

static void
tag(cm_jsonw *w, const cm_attr *a)
{
	static const char *const types[] = { "string", "bool", "int64", "float64", "binary", "string" };
	const cm_value *v = &a->val;

	cm_jsonw_obj(w);
	cm_jsonw_key(w, "key");
	cm_jsonw_strn(w, a->key);
	cm_jsonw_key(w, "type");
	cm_jsonw_str(w, v->type <= CM_VAL_ARRAY ? types[v->type] : "string");
	cm_jsonw_key(w, "value");
	if (v->type == CM_VAL_ARRAY) {
		cm_buf text;
		cm_jsonw tw;
		cm_buf_init(&text);
		cm_jsonw_init(&tw, &text);
		array_json(&tw, v);
		cm_jsonw_strn(w, (cm_str){ text.data ? text.data : "", (uint32_t)text.len });
		cm_buf_fini(&text);
	} else {
		array_json(w, v);
	}
	cm_jsonw_obj_end(w);
}

static void
tags(cm_jsonw *w, const cm_attrs *a, const char *skip)
{
	for (uint32_t i = 0; i < a->n; i++)
		if (skip == NULL || !cm_str_eq(a->v[i].key, skip))
			tag(w, &a->v[i]);
}

static void
reference(cm_jsonw *w, const char *type, const uint8_t *trace_id, const uint8_t *span_id)
{
	char hex[CM_TRACE_ID_HEX + 1];
	cm_jsonw_obj(w);
	cm_jsonw_key(w, "refType");
	cm_jsonw_str(w, type);
	cm_jsonw_key(w, "traceID");
	cm_hex_encode(trace_id, 16, hex);
	cm_jsonw_str(w, hex);
	cm_jsonw_key(w, "spanID");
	cm_hex_encode(span_id, 8, hex);
	cm_jsonw_str(w, hex);
	cm_jsonw_obj_end(w);
}

static void
span_tags(cm_jsonw *w, const cm_batch *t, const cm_span *s)
{
	const cm_scope *sc = s->scope < t->nscopes ? &t->scopes[s->scope] : NULL;

	cm_jsonw_key(w, "tags");
	cm_jsonw_arr(w);
	if (sc != NULL && sc->name.len > 0)
		tag_str(w, "otel.scope.name", sc->name);
	if (sc != NULL && sc->version.len > 0)
		tag_str(w, "otel.scope.version", sc->version);
	tags(w, &s->attrs, NULL);
	if (s->kind != CM_KIND_INTERNAL && s->kind != CM_KIND_UNSPECIFIED)
		tag_str(w, "span.kind", cm_str_from(cm_kind_name(s->kind)));
	if (s->status == CM_STATUS_OK) {
		tag_str(w, "otel.status_code", CM_STR("OK"));
	} else if (s->status == CM_STATUS_ERROR) {
		cm_attr err = { CM_STR("error"), { .type = CM_VAL_BOOL, .u.b = true } };
		tag_str(w, "otel.status_code", CM_STR("ERROR"));
		tag(w, &err);
		if (s->status_message.len > 0)
			tag_str(w, "otel.status_description", s->status_message);
	}
	if (s->trace_state.len > 0)
		tag_str(w, "w3c.tracestate", s->trace_state);
	cm_jsonw_arr_end(w);
}

static void
span_logs(cm_jsonw *w, const cm_span *s)
{
	cm_jsonw_key(w, "logs");
	cm_jsonw_arr(w);
	for (uint32_t i = 0; i < s->nevents; i++) {
		const cm_event *e = &s->events[i];
		cm_jsonw_obj(w);
		cm_jsonw_key(w, "timestamp");
		cm_jsonw_uint(w, e->time_ns / 1000);
		cm_jsonw_key(w, "fields");
		cm_jsonw_arr(w);
		if (e->name.len > 0)
			tag_str(w, "event", e->name);
		tags(w, &e->attrs, NULL);
		cm_jsonw_arr_end(w);
		cm_jsonw_obj_end(w);
	}
	cm_jsonw_arr_end(w);
}

void
qry_jaeger_trace(cm_jsonw *w, const cm_batch *t, const qry_span_warnings *warn)
{
	static const cm_trace_id no_trace;
	char hex[CM_TRACE_ID_HEX + 1], pid[16];
	/* process number (1-based) of each resource, in order of first use */
	uint32_t *proc = cm_calloc(t->nresources + 1, sizeof *proc);
	uint32_t nproc = 0;

	cm_jsonw_obj(w);
	cm_jsonw_key(w, "traceID");
	cm_hex_encode(t->nspans ? t->spans[0].trace_id.b : no_trace.b, 16, hex);
	cm_jsonw_str(w, hex);
	cm_jsonw_key(w, "spans");
	cm_jsonw_arr(w);
	for (uint32_t i = 0; i < t->nspans; i++) {
		const cm_span *s = &t->spans[i];
		cm_jsonw_obj(w);
		cm_jsonw_key(w, "traceID");
		cm_hex_encode(s->trace_id.b, 16, hex);
		cm_jsonw_str(w, hex);
		cm_jsonw_key(w, "spanID");
		cm_hex_encode(s->span_id.b, 8, hex);
		cm_jsonw_str(w, hex);
		cm_jsonw_key(w, "operationName");
		cm_jsonw_strn(w, s->name);
		cm_jsonw_key(w, "references");
		cm_jsonw_arr(w);
		if (!cm_span_id_is_zero(&s->parent_span_id))
			reference(w, "CHILD_OF", s->trace_id.b, s->parent_span_id.b);
		for (uint32_t l = 0; l < s->nlinks; l++)
			reference(w, "FOLLOWS_FROM", s->links[l].trace_id.b, s->links[l].span_id.b);
		cm_jsonw_arr_end(w);
		cm_jsonw_key(w, "startTime");
		cm_jsonw_uint(w, s->start_ns / 1000);
		cm_jsonw_key(w, "duration");
		cm_jsonw_uint(w, (s->end_ns - s->start_ns) / 1000);
		span_tags(w, t, s);
		span_logs(w, s);
		cm_jsonw_key(w, "processID");
		if (proc != NULL && s->resource < t->nresources) {
			if (proc[s->resource] == 0)
				proc[s->resource] = ++nproc;
			snprintf(pid, sizeof pid, "p%u", proc[s->resource]);
		} else {
			snprintf(pid, sizeof pid, "p1");
		}
		cm_jsonw_str(w, pid);
		cm_jsonw_key(w, "warnings");
		if (warn != NULL && warn[i].n > 0) {
			cm_jsonw_arr(w);
			for (uint8_t k = 0; k < warn[i].n; k++)
				cm_jsonw_str(w, warn[i].text[k]);
			cm_jsonw_arr_end(w);
		} else {
			cm_jsonw_null(w);
		}
		cm_jsonw_obj_end(w);
	}
	cm_jsonw_arr_end(w);

	cm_jsonw_key(w, "processes");
	cm_jsonw_obj(w);
	for (uint32_t n = 1; n <= nproc; n++) {
		for (uint32_t r = 0; r < t->nresources; r++) {
			if (proc[r] != n)
				continue;
			snprintf(pid, sizeof pid, "p%u", n);
			cm_jsonw_key(w, pid);
			cm_jsonw_obj(w);
			cm_jsonw_key(w, "serviceName");
			cm_jsonw_strn(w, t->resources[r].service);
			cm_jsonw_key(w, "tags");
			cm_jsonw_arr(w);
			tags(w, &t->resources[r].attrs, "service.name");
			cm_jsonw_arr_end(w);
			cm_jsonw_obj_end(w);
		}
	}
	cm_jsonw_obj_end(w);
	cm_jsonw_key(w, "warnings");
	cm_jsonw_null(w);
	cm_jsonw_obj_end(w);
	cm_free(proc);
}
