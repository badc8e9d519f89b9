/*
 * otlp_proto.c - protobuf-c messages <-> the span model.
 *
 * The request is unpacked with protobuf-c into the thread's scratch arena
 * (one reset for the whole tree) after a structural check that bounds its
 * recursive nesting (pbcheck.h), then copied into the batch's arena.
 */
#include "otlp_proto.h"

#include <pthread.h>
#include <string.h>

#include "alloc.h"
#include "builder.h"
#include "err.h"
#include "jsonw.h"
#include "otlp_trace.pb-c.h"
#include "pbcheck.h"

static int convert_attrs(col_builder *bl, Weft__Otlp__KeyValue **kv, size_t n, uint32_t dropped, cm_attrs *out);

static void
kv_json(cm_jsonw *w, Weft__Otlp__KeyValue **kv, size_t n);

static void
any_json(cm_jsonw *w, const Weft__Otlp__AnyValue *v)
{
	if (v == NULL) {
		cm_jsonw_null(w);
		return;
	}
	switch (v->value_case) {
	case WEFT__OTLP__ANY_VALUE__VALUE_STRING_VALUE: cm_jsonw_str(w, v->string_value); break;
	case WEFT__OTLP__ANY_VALUE__VALUE_BOOL_VALUE: cm_jsonw_bool(w, v->bool_value); break;
	case WEFT__OTLP__ANY_VALUE__VALUE_INT_VALUE: cm_jsonw_int(w, v->int_value); break;
	case WEFT__OTLP__ANY_VALUE__VALUE_DOUBLE_VALUE: cm_jsonw_double(w, v->double_value); break;
	case WEFT__OTLP__ANY_VALUE__VALUE_ARRAY_VALUE:
		cm_jsonw_arr(w);
		for (size_t i = 0; v->array_value && i < v->array_value->n_values; i++)
			any_json(w, v->array_value->values[i]);
		cm_jsonw_arr_end(w);
		break;
	case WEFT__OTLP__ANY_VALUE__VALUE_KVLIST_VALUE:
		kv_json(w, v->kvlist_value ? v->kvlist_value->values : NULL, v->kvlist_value ? v->kvlist_value->n_values : 0);
		break;
	default:
		cm_jsonw_null(w);
	}
}

static void
kv_json(cm_jsonw *w, Weft__Otlp__KeyValue **kv, size_t n)
{
	cm_jsonw_obj(w);
	for (size_t i = 0; i < n; i++) {
		cm_jsonw_key(w, kv[i]->key);
		any_json(w, kv[i]->value);
	}
	cm_jsonw_obj_end(w);
}

static int
convert_value(col_builder *bl, const Weft__Otlp__AnyValue *v, cm_value *out)
{
	memset(out, 0, sizeof *out);
	if (v == NULL) {
		out->type = CM_VAL_STR;
		out->u.s = CM_STR("");
		return CM_OK;
	}
	switch (v->value_case) {
	case WEFT__OTLP__ANY_VALUE__VALUE_STRING_VALUE:
		out->type = CM_VAL_STR;
		out->u.s = col_str(bl, v->string_value, strlen(v->string_value));
		break;
	case WEFT__OTLP__ANY_VALUE__VALUE_BOOL_VALUE:
		out->type = CM_VAL_BOOL;
		out->u.b = v->bool_value;
		break;
	case WEFT__OTLP__ANY_VALUE__VALUE_INT_VALUE:
		out->type = CM_VAL_INT;
		out->u.i = v->int_value;
		break;
	case WEFT__OTLP__ANY_VALUE__VALUE_DOUBLE_VALUE:
		out->type = CM_VAL_DOUBLE;
		out->u.d = v->double_value;
		break;
	case WEFT__OTLP__ANY_VALUE__VALUE_BYTES_VALUE:
		out->type = CM_VAL_BYTES;
		out->u.s = col_str(bl, (const char *)v->bytes_value.data, v->bytes_value.len);
		break;
	case WEFT__OTLP__ANY_VALUE__VALUE_ARRAY_VALUE: {
		size_t n = v->array_value ? v->array_value->n_values : 0;
		out->type = CM_VAL_ARRAY;
		out->u.arr.n = (uint32_t)n;
		out->u.arr.v = col_values(bl, n);
		for (size_t i = 0; i < n && !bl->oom; i++)
			convert_value(bl, v->array_value->values[i], &out->u.arr.v[i]);
		break;
	}
	case WEFT__OTLP__ANY_VALUE__VALUE_KVLIST_VALUE: {
		cm_buf text;
		cm_jsonw w;
		cm_buf_init(&text);
		cm_jsonw_init(&w, &text);
		any_json(&w, v);
		out->type = CM_VAL_STR;
		out->u.s = col_str(bl, text.data ? text.data : "", text.len);
		bl->oom |= text.failed;
		cm_buf_fini(&text);
		break;
	}
	default:
		out->type = CM_VAL_STR; /* an AnyValue with nothing set is an empty value */
		out->u.s = CM_STR("");
	}
	return bl->oom ? CM_ENOMEM : CM_OK;
}

static int
convert_attrs(col_builder *bl, Weft__Otlp__KeyValue **kv, size_t n, uint32_t dropped, cm_attrs *out)
{
	out->v = col_attrs(bl, n);
	out->n = 0;
	out->dropped = dropped;
	for (size_t i = 0; i < n && !bl->oom; i++) {
		cm_attr *a = &out->v[out->n++];
		a->key = col_str(bl, kv[i]->key, strlen(kv[i]->key));
		convert_value(bl, kv[i]->value, &a->val);
	}
	return bl->oom ? CM_ENOMEM : CM_OK;
}

/* Copies an id of exactly n bytes (empty = absent = zero). */
static bool
copy_id(uint8_t *dst, const ProtobufCBinaryData *src, size_t n)
{
	if (src->len == 0) {
		memset(dst, 0, n);
		return true;
	}
	if (src->len != n)
		return false;
	memcpy(dst, src->data, n);
	return true;
}

static int
convert_span(col_builder *bl, const Weft__Otlp__Span *in, cm_span *s, const char **why)
{
	if (!copy_id(s->trace_id.b, &in->trace_id, 16) || !copy_id(s->span_id.b, &in->span_id, 8) ||
	    !copy_id(s->parent_span_id.b, &in->parent_span_id, 8)) {
		*why = "trace_id must be 16 bytes, span_id and parent_span_id 8";
		return CM_EPROTO;
	}
	s->trace_state = col_str(bl, in->trace_state, strlen(in->trace_state));
	s->flags = in->flags;
	s->name = col_str(bl, in->name, strlen(in->name));
	s->kind = (uint8_t)(in->kind >= 0 && in->kind <= 5 ? in->kind : CM_KIND_UNSPECIFIED);
	s->start_ns = in->start_time_unix_nano;
	s->end_ns = in->end_time_unix_nano;
	if (in->status != NULL) {
		s->status = (uint8_t)(in->status->code >= 0 && in->status->code <= 2 ? in->status->code : 0);
		s->status_message = col_str(bl, in->status->message, strlen(in->status->message));
	}
	convert_attrs(bl, in->attributes, in->n_attributes, in->dropped_attributes_count, &s->attrs);
	s->dropped_events = in->dropped_events_count;
	s->dropped_links = in->dropped_links_count;
	if (in->n_events > 0 && (s->events = cm_arena_alloc(&bl->b->arena, in->n_events * sizeof *s->events)) == NULL)
		return CM_ENOMEM;
	for (size_t i = 0; i < in->n_events && !bl->oom; i++) {
		const Weft__Otlp__Span__Event *e = in->events[i];
		cm_event *o = &s->events[s->nevents++];
		o->time_ns = e->time_unix_nano;
		o->name = col_str(bl, e->name, strlen(e->name));
		convert_attrs(bl, e->attributes, e->n_attributes, e->dropped_attributes_count, &o->attrs);
	}
	if (in->n_links > 0 && (s->links = cm_arena_alloc(&bl->b->arena, in->n_links * sizeof *s->links)) == NULL)
		return CM_ENOMEM;
	for (size_t i = 0; i < in->n_links && !bl->oom; i++) {
		const Weft__Otlp__Span__Link *l = in->links[i];
		cm_link *o = &s->links[s->nlinks++];
		if (!copy_id(o->trace_id.b, &l->trace_id, 16) || !copy_id(o->span_id.b, &l->span_id, 8)) {
			*why = "link ids must be 16 and 8 bytes";
			return CM_EPROTO;
		}
		o->trace_state = col_str(bl, l->trace_state, strlen(l->trace_state));
		o->flags = l->flags;
		convert_attrs(bl, l->attributes, l->n_attributes, l->dropped_attributes_count, &o->attrs);
	}
	return bl->oom ? CM_ENOMEM : CM_OK;
}

/*
 * protobuf-c allocates every message node separately: take them from an
 * arena instead. protobuf-c initializes what it allocates (its default
 * allocator is malloc), so the arena need not zero it.
 */
static void *
arena_alloc(void *arena, size_t n)
{
	return cm_arena_alloc_uninit(arena, n);
}

static void
arena_free(void *arena, void *p)
{
	(void)arena, (void)p; /* released all at once with the arena */
}

/*
 * Each thread keeps its scratch arena between requests, reset after each:
 * an arena per request cost page faults and the kernel's zeroing of fresh
 * pages, about a tenth of OTLP ingest. The key's destructor frees it when
 * the thread exits.
 */
enum { SCRATCH_CHUNK = 1u << 20 };
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static bool scratch_ok;

static void
scratch_free(void *p)
{
	cm_arena_fini(p);
	cm_free(p);
}

static void
scratch_key_init(void)
{
	scratch_ok = pthread_key_create(&scratch_key, scratch_free) == 0;
}

/* The calling thread's scratch arena; NULL when out of memory. */
static cm_arena *
scratch(void)
{
	cm_arena *a;

	pthread_once(&scratch_once, scratch_key_init);
	if (!scratch_ok)
		return NULL;
	if ((a = pthread_getspecific(scratch_key)) != NULL)
		return a;
	if ((a = cm_malloc(sizeof *a)) == NULL)
		return NULL;
	cm_arena_init(a, SCRATCH_CHUNK);
	if (pthread_setspecific(scratch_key, a) != 0) {
		cm_free(a);
		return NULL;
	}
	return a;
}

int
col_otlp_proto_decode(const void *body, size_t len, cm_batch *out, const char **why)
{
	Weft__Otlp__ExportTraceServiceRequest *req;
	cm_arena *pb_arena;
	ProtobufCAllocator alloc = { arena_alloc, arena_free, NULL };
	col_builder bl;
	int rv = CM_OK;

	if ((rv = col_pb_check_otlp_traces(body, len, why)) != CM_OK)
		return rv;
	if ((alloc.allocator_data = pb_arena = scratch()) == NULL) {
		*why = "out of memory";
		return CM_ENOMEM;
	}
	req = weft__otlp__export_trace_service_request__unpack(&alloc, len, body);
	if (req == NULL) {
		cm_arena_reset(pb_arena);
		*why = "body is not a valid OTLP ExportTraceServiceRequest protobuf";
		return CM_EPROTO;
	}
	col_builder_init(&bl, out);
	for (size_t r = 0; r < req->n_resource_spans && rv == CM_OK; r++) {
		const Weft__Otlp__ResourceSpans *rs = req->resource_spans[r];
		cm_resource *res = col_add_resource(&bl);
		if (res == NULL)
			break;
		if (rs->resource != NULL)
			convert_attrs(&bl, rs->resource->attributes, rs->resource->n_attributes,
			    rs->resource->dropped_attributes_count, &res->attrs);
		col_resource_service(res);
		for (size_t k = 0; k < rs->n_scope_spans && rv == CM_OK; k++) {
			const Weft__Otlp__ScopeSpans *ss = rs->scope_spans[k];
			cm_scope *sc = col_add_scope(&bl);
			if (sc == NULL)
				break;
			if (ss->scope != NULL) {
				sc->name = col_str(&bl, ss->scope->name, strlen(ss->scope->name));
				sc->version = col_str(&bl, ss->scope->version, strlen(ss->scope->version));
				convert_attrs(&bl, ss->scope->attributes, ss->scope->n_attributes,
				    ss->scope->dropped_attributes_count, &sc->attrs);
			}
			for (size_t i = 0; i < ss->n_spans && rv == CM_OK; i++) {
				cm_span *s = col_add_span(&bl);
				if (s == NULL)
					break;
				rv = convert_span(&bl, ss->spans[i], s, why);
			}
		}
	}
	cm_arena_reset(pb_arena); /* the whole unpacked tree; one chunk is kept for the next request */
	if (rv == CM_OK && bl.oom)
		rv = CM_ENOMEM;
	if (rv == CM_ENOMEM)
		*why = "out of memory";
	return rv;
}

void
col_otlp_proto_response(cm_buf *out, int64_t rejected, const char *message)
{
	Weft__Otlp__ExportTraceServiceResponse resp = WEFT__OTLP__EXPORT_TRACE_SERVICE_RESPONSE__INIT;
	Weft__Otlp__ExportTracePartialSuccess partial = WEFT__OTLP__EXPORT_TRACE_PARTIAL_SUCCESS__INIT;
	size_t n;

	if (rejected > 0 || (message != NULL && *message != '\0')) {
		partial.rejected_spans = rejected;
		partial.error_message = (char *)(message ? message : "");
		resp.partial_success = &partial;
	}
	n = weft__otlp__export_trace_service_response__get_packed_size(&resp);
	if (cm_buf_reserve(out, n) != CM_OK)
		return;
	weft__otlp__export_trace_service_response__pack(&resp, (uint8_t *)out->data + out->len);
	out->len += n;
}
