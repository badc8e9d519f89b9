/*
 * otlp_proto.c - OTLP ExportTraceServiceRequest protobuf -> the span
 * model, decoded straight from the wire format; and the response.
 *
 * One pass over each message and no tree in between: protobuf-c's unpack
 * built one (a node per message, a copy per string) that was then copied
 * again into the batch, and with a structural check before it that was
 * three tenths of the collector's CPU on OTLP. Strings and bytes point
 * into the request body (otlp_proto.h). A message's repeated fields are
 * counted before it is decoded, so each array is allocated once.
 *
 * Proto3's rules, kept: fields come in any order; unknown fields are
 * skipped; of a singular field seen twice the last scalar wins and
 * messages merge (their repeated fields concatenate). Refused, with a
 * reason: a known field with another wire type, groups, truncated or
 * overlong varints, lengths past the end of their message, ids of the
 * wrong size, and nesting deeper than COL_PB_MAX_DEPTH (AnyValue's arrays
 * and lists nest, and each level is a recursion here).
 */
#include "otlp_proto.h"

#include <string.h>

#include "builder.h"
#include "err.h"
#include "jsonw.h"
#include "otlp_trace.pb-c.h"
#include "pbwire.h"

/* Copies an id of exactly n bytes (empty = absent = zero). */
static bool
copy_id(uint8_t *dst, const pb_field *f, size_t n)
{
	if (f->v == 0) {
		memset(dst, 0, n);
		return true;
	}
	if (f->v != n)
		return false;
	memcpy(dst, f->data, n);
	return true;
}

/* Refuses nesting past COL_PB_MAX_DEPTH (the request is depth 0). */
static inline int
deeper(int depth, const char **why)
{
	return depth > COL_PB_MAX_DEPTH ? pb_refuse(why, "OTLP request nested too deeply") : CM_OK;
}

static int any_json(cm_jsonw *w, pb_msg m, int depth, const char **why);
static int member_json(cm_jsonw *w, const pb_field *f, int depth, const char **why);

/*
 * Checks what a later field replaced (proto3 keeps the last of a singular
 * field): an AnyValue member `member`, or else a whole AnyValue `any`,
 * rendered and dropped, so that bad bytes in it are refused all the same.
 */
static int
check_replaced(const pb_field *member, pb_msg any, int depth, const char **why)
{
	cm_buf scratch;
	cm_jsonw w;
	int rv;

	cm_buf_init(&scratch);
	cm_jsonw_init(&w, &scratch);
	rv = member != NULL ? member_json(&w, member, depth, why) : any_json(&w, any, depth, why);
	cm_buf_fini(&scratch);
	return rv;
}

/* A KeyValueList at depth as a JSON object; a key without a value maps to null. */
static int
kvlist_json(cm_jsonw *w, pb_msg m, int depth, const char **why)
{
	pb_field f, kf;
	int rv;

	if ((rv = deeper(depth, why)) != CM_OK)
		return rv;
	cm_jsonw_obj(w);
	while (pb_next(&m, &f, &rv, why)) {
		pb_msg kv, value = { NULL, NULL };
		cm_str key = CM_STR("");
		if (f.num != 1)
			continue;
		PB_EXPECT(f, PB_LEN, why);
		if ((rv = deeper(depth + 1, why)) != CM_OK)
			return rv;
		kv = pb_sub(&f);
		while (pb_next(&kv, &kf, &rv, why)) {
			if (kf.num == 1) {
				PB_EXPECT(kf, PB_LEN, why);
				key = pb_str(&kf);
			} else if (kf.num == 2) {
				PB_EXPECT(kf, PB_LEN, why);
				if (value.p != NULL && (rv = check_replaced(NULL, value, depth + 2, why)) != CM_OK)
					return rv;
				value = pb_sub(&kf);
			}
		}
		if (rv != CM_OK)
			return rv;
		cm_jsonw_keyn(w, key);
		if (value.p == NULL)
			cm_jsonw_null(w);
		else if ((rv = any_json(w, value, depth + 2, why)) != CM_OK)
			return rv;
	}
	if (rv != CM_OK)
		return rv;
	cm_jsonw_obj_end(w);
	return CM_OK;
}

/* AnyValue's members' wire types, by field number. */
static const uint8_t any_wire[] = { 0xff, PB_LEN, PB_VARINT, PB_VARINT, PB_I64, PB_LEN, PB_LEN, PB_LEN };

/* An AnyValue at depth as JSON: its last member set (a oneof), null when none or bytes. */
static int
any_json(cm_jsonw *w, pb_msg m, int depth, const char **why)
{
	pb_field f, last = { 0 };
	int rv;

	if ((rv = deeper(depth, why)) != CM_OK)
		return rv;
	while (pb_next(&m, &f, &rv, why)) {
		if (f.num >= sizeof any_wire)
			continue;
		PB_EXPECT(f, any_wire[f.num], why);
		if ((last.num == 5 || last.num == 6) && (rv = check_replaced(&last, m, depth, why)) != CM_OK)
			return rv;
		last = f;
	}
	if (rv != CM_OK)
		return rv;
	return member_json(w, &last, depth, why);
}

/* One member f of an AnyValue at depth as JSON; null for none (num 0) or bytes. */
static int
member_json(cm_jsonw *w, const pb_field *f, int depth, const char **why)
{
	pb_field e;
	double d;
	int rv;

	switch (f->num) {
	case 1: cm_jsonw_strn(w, pb_str(f)); break;
	case 2: cm_jsonw_bool(w, f->v != 0); break;
	case 3: cm_jsonw_int(w, (int64_t)f->v); break;
	case 4:
		memcpy(&d, &f->v, sizeof d);
		cm_jsonw_double(w, d);
		break;
	case 5: {
		pb_msg arr = pb_sub(f);
		if ((rv = deeper(depth + 1, why)) != CM_OK)
			return rv;
		cm_jsonw_arr(w);
		while (pb_next(&arr, &e, &rv, why)) {
			if (e.num != 1)
				continue;
			PB_EXPECT(e, PB_LEN, why);
			if ((rv = any_json(w, pb_sub(&e), depth + 2, why)) != CM_OK)
				return rv;
		}
		if (rv != CM_OK)
			return rv;
		cm_jsonw_arr_end(w);
		break;
	}
	case 6: return kvlist_json(w, pb_sub(f), depth + 1, why);
	default: cm_jsonw_null(w);
	}
	return CM_OK;
}

static int decode_value(col_builder *bl, pb_msg m, cm_value *out, int depth, const char **why);

/* Appends an ArrayValue's values to out (an array already, or made one), decoding them at depth + 1. */
static int
decode_array(col_builder *bl, pb_msg m, cm_value *out, int depth, const char **why)
{
	uint32_t n[PB_MAX_COUNTED], have;
	cm_value *v;
	pb_field f;
	int rv;

	if ((rv = deeper(depth, why)) != CM_OK)
		return rv;
	if (out->type != CM_VAL_ARRAY) {
		out->type = CM_VAL_ARRAY;
		out->u.arr.v = NULL;
		out->u.arr.n = 0;
	}
	pb_count_fields(m, n);
	have = out->u.arr.n;
	v = out->u.arr.v;
	if (n[1] > 0) {
		if ((v = col_values(bl, (size_t)have + n[1])) == NULL)
			return CM_ENOMEM;
		if (have)
			memcpy(v, out->u.arr.v, have * sizeof *v);
		out->u.arr.v = v;
	}
	while (pb_next(&m, &f, &rv, why)) {
		if (f.num != 1)
			continue;
		PB_EXPECT(f, PB_LEN, why);
		if (out->u.arr.n == have + n[1]) /* pb_count_fields() saw the same bytes: cannot happen */
			return pb_refuse(why, "OTLP array values miscounted");
		v[out->u.arr.n].type = CM_VAL_STR;
		v[out->u.arr.n].u.s = CM_STR("");
		if ((rv = decode_value(bl, pb_sub(&f), &v[out->u.arr.n++], depth + 1, why)) != CM_OK)
			return rv;
	}
	return rv;
}

/* Renders a KeyValueList at depth as its JSON text, copied into the batch (the span model has no maps). */
static int
decode_kvlist(col_builder *bl, pb_msg m, cm_value *out, int depth, const char **why)
{
	cm_buf text;
	cm_jsonw w;
	int rv;

	cm_buf_init(&text);
	cm_jsonw_init(&w, &text);
	rv = kvlist_json(&w, m, depth, why);
	if (rv == CM_OK && text.failed)
		rv = CM_ENOMEM;
	if (rv == CM_OK) {
		out->type = CM_VAL_STR;
		out->u.s = col_str(bl, text.data, text.len);
		rv = bl->oom ? CM_ENOMEM : CM_OK;
	}
	cm_buf_fini(&text);
	return rv;
}

/*
 * An AnyValue at depth into out, which the caller set to an empty string
 * (what an AnyValue with no member means). The last member set wins; an
 * array seen twice concatenates.
 */
static int
decode_value(col_builder *bl, pb_msg m, cm_value *out, int depth, const char **why)
{
	pb_field f;
	int rv;

	if ((rv = deeper(depth, why)) != CM_OK)
		return rv;
	while (pb_next(&m, &f, &rv, why)) {
		if (f.num >= sizeof any_wire)
			continue;
		PB_EXPECT(f, any_wire[f.num], why);
		switch (f.num) {
		case 1:
			out->type = CM_VAL_STR;
			out->u.s = pb_str(&f);
			break;
		case 2:
			out->type = CM_VAL_BOOL;
			out->u.b = f.v != 0;
			break;
		case 3:
			out->type = CM_VAL_INT;
			out->u.i = (int64_t)f.v;
			break;
		case 4:
			out->type = CM_VAL_DOUBLE;
			memcpy(&out->u.d, &f.v, sizeof out->u.d);
			break;
		case 5: rv = decode_array(bl, pb_sub(&f), out, depth + 1, why); break;
		case 6: rv = decode_kvlist(bl, pb_sub(&f), out, depth + 1, why); break;
		case 7:
			out->type = CM_VAL_BYTES;
			out->u.s = pb_str(&f);
			break;
		}
		if (rv != CM_OK)
			return rv;
	}
	return rv;
}

/* A KeyValue at depth into a. */
static int
decode_kv(col_builder *bl, pb_msg m, cm_attr *a, int depth, const char **why)
{
	pb_field f;
	int rv;

	a->key = CM_STR("");
	a->val.type = CM_VAL_STR;
	a->val.u.s = CM_STR("");
	while (pb_next(&m, &f, &rv, why)) {
		if (f.num == 1) {
			PB_EXPECT(f, PB_LEN, why);
			a->key = pb_str(&f);
		} else if (f.num == 2) {
			PB_EXPECT(f, PB_LEN, why);
			if ((rv = decode_value(bl, pb_sub(&f), &a->val, depth + 1, why)) != CM_OK)
				return rv;
		}
	}
	return rv;
}

/* Makes room for `more` attributes after the ones a holds (a message seen twice merges). */
static int
attrs_room(col_builder *bl, cm_attrs *a, uint32_t more)
{
	cm_attr *v;

	if (more == 0)
		return CM_OK;
	if ((v = col_attrs(bl, (size_t)a->n + more)) == NULL)
		return CM_ENOMEM;
	if (a->n)
		memcpy(v, a->v, a->n * sizeof *v);
	a->v = v;
	return CM_OK;
}

/* Decodes field f, a KeyValue at depth, into the next of a's `cap` slots. */
static int
add_attr(col_builder *bl, const pb_field *f, cm_attrs *a, uint32_t cap, int depth, const char **why)
{
	PB_EXPECT(*f, PB_LEN, why);
	if (a->n == cap) /* pb_count_fields() saw the same bytes: cannot happen */
		return pb_refuse(why, "OTLP attributes miscounted");
	return decode_kv(bl, pb_sub(f), &a->v[a->n++], depth, why);
}

static int
decode_resource(col_builder *bl, pb_msg m, cm_resource *r, const char **why)
{
	uint32_t n[PB_MAX_COUNTED], cap;
	pb_field f;
	int rv;

	pb_count_fields(m, n);
	cap = r->attrs.n + n[1];
	if ((rv = attrs_room(bl, &r->attrs, n[1])) != CM_OK)
		return rv;
	while (pb_next(&m, &f, &rv, why)) {
		if (f.num == 1) {
			rv = add_attr(bl, &f, &r->attrs, cap, 3, why);
		} else if (f.num == 2) {
			PB_EXPECT(f, PB_VARINT, why);
			r->attrs.dropped = (uint32_t)f.v;
		}
		if (rv != CM_OK)
			return rv;
	}
	return rv;
}

static int
decode_scope(col_builder *bl, pb_msg m, cm_scope *sc, const char **why)
{
	uint32_t n[PB_MAX_COUNTED], cap;
	pb_field f;
	int rv;

	pb_count_fields(m, n);
	cap = sc->attrs.n + n[3];
	if ((rv = attrs_room(bl, &sc->attrs, n[3])) != CM_OK)
		return rv;
	while (pb_next(&m, &f, &rv, why)) {
		switch (f.num) {
		case 1:
			PB_EXPECT(f, PB_LEN, why);
			sc->name = pb_str(&f);
			break;
		case 2:
			PB_EXPECT(f, PB_LEN, why);
			sc->version = pb_str(&f);
			break;
		case 3: rv = add_attr(bl, &f, &sc->attrs, cap, 4, why); break;
		case 4:
			PB_EXPECT(f, PB_VARINT, why);
			sc->attrs.dropped = (uint32_t)f.v;
			break;
		}
		if (rv != CM_OK)
			return rv;
	}
	return rv;
}

/* Span.Event, depth 4. */
static int
decode_event(col_builder *bl, pb_msg m, cm_event *e, const char **why)
{
	uint32_t n[PB_MAX_COUNTED];
	pb_field f;
	int rv;

	pb_count_fields(m, n);
	if ((rv = attrs_room(bl, &e->attrs, n[3])) != CM_OK)
		return rv;
	while (pb_next(&m, &f, &rv, why)) {
		switch (f.num) {
		case 1:
			PB_EXPECT(f, PB_I64, why);
			e->time_ns = f.v;
			break;
		case 2:
			PB_EXPECT(f, PB_LEN, why);
			e->name = pb_str(&f);
			break;
		case 3: rv = add_attr(bl, &f, &e->attrs, n[3], 5, why); break;
		case 4:
			PB_EXPECT(f, PB_VARINT, why);
			e->attrs.dropped = (uint32_t)f.v;
			break;
		}
		if (rv != CM_OK)
			return rv;
	}
	return rv;
}

/* Span.Link, depth 4; ids checked as a span's are. */
static int
decode_link(col_builder *bl, pb_msg m, cm_link *l, const char **why)
{
	pb_field f, trace_id = { .v = 0 }, span_id = { .v = 0 };
	uint32_t n[PB_MAX_COUNTED];
	int rv;

	pb_count_fields(m, n);
	if ((rv = attrs_room(bl, &l->attrs, n[4])) != CM_OK)
		return rv;
	while (pb_next(&m, &f, &rv, why)) {
		switch (f.num) {
		case 1:
			PB_EXPECT(f, PB_LEN, why);
			trace_id = f;
			break;
		case 2:
			PB_EXPECT(f, PB_LEN, why);
			span_id = f;
			break;
		case 3:
			PB_EXPECT(f, PB_LEN, why);
			l->trace_state = pb_str(&f);
			break;
		case 4: rv = add_attr(bl, &f, &l->attrs, n[4], 5, why); break;
		case 5:
			PB_EXPECT(f, PB_VARINT, why);
			l->attrs.dropped = (uint32_t)f.v;
			break;
		case 6:
			PB_EXPECT(f, PB_I32, why);
			l->flags = (uint32_t)f.v;
			break;
		}
		if (rv != CM_OK)
			return rv;
	}
	if (rv != CM_OK)
		return rv;
	if (!copy_id(l->trace_id.b, &trace_id, 16) || !copy_id(l->span_id.b, &span_id, 8))
		return pb_refuse(why, "link ids must be 16 and 8 bytes");
	return CM_OK;
}

static int
decode_status(pb_msg m, cm_span *s, const char **why)
{
	pb_field f;
	int rv;

	while (pb_next(&m, &f, &rv, why)) {
		if (f.num == 2) {
			PB_EXPECT(f, PB_LEN, why);
			s->status_message = pb_str(&f);
		} else if (f.num == 3) {
			PB_EXPECT(f, PB_VARINT, why);
			s->status = (uint8_t)((int32_t)f.v >= 0 && (int32_t)f.v <= 2 ? f.v : 0);
		}
	}
	return rv;
}


/*
 * A Span (depth 3) into s, which col_add_span() zeroed. Ids are checked
 * once the span is read: of an id sent twice, only the last counts.
 */
static int
decode_span(col_builder *bl, pb_msg m, cm_span *s, const char **why)
{
	pb_field f, trace_id = { .v = 0 }, span_id = { .v = 0 }, parent_id = { .v = 0 };
	uint32_t n[PB_MAX_COUNTED];
	int rv;

	pb_count_fields(m, n);
	if ((rv = attrs_room(bl, &s->attrs, n[9])) != CM_OK)
		return rv;
	if (n[11] > 0 && (s->events = cm_arena_alloc(&bl->b->arena, n[11] * sizeof *s->events)) == NULL)
		return CM_ENOMEM;
	if (n[13] > 0 && (s->links = cm_arena_alloc(&bl->b->arena, n[13] * sizeof *s->links)) == NULL)
		return CM_ENOMEM;
	while (pb_next(&m, &f, &rv, why)) {
		switch (f.num) {
		case 1:
			PB_EXPECT(f, PB_LEN, why);
			trace_id = f;
			break;
		case 2:
			PB_EXPECT(f, PB_LEN, why);
			span_id = f;
			break;
		case 4:
			PB_EXPECT(f, PB_LEN, why);
			parent_id = f;
			break;
		case 3:
			PB_EXPECT(f, PB_LEN, why);
			s->trace_state = pb_str(&f);
			break;
		case 5:
			PB_EXPECT(f, PB_LEN, why);
			s->name = pb_str(&f);
			break;
		case 6:
			PB_EXPECT(f, PB_VARINT, why);
			s->kind = (uint8_t)((int32_t)f.v >= 0 && (int32_t)f.v <= 5 ? f.v : CM_KIND_UNSPECIFIED);
			break;
		case 7:
		case 8:
			PB_EXPECT(f, PB_I64, why);
			*(f.num == 7 ? &s->start_ns : &s->end_ns) = f.v;
			break;
		case 9: rv = add_attr(bl, &f, &s->attrs, n[9], 4, why); break;
		case 10:
			PB_EXPECT(f, PB_VARINT, why);
			s->attrs.dropped = (uint32_t)f.v;
			break;
		case 11:
			PB_EXPECT(f, PB_LEN, why);
			if (s->nevents == n[11])
				return pb_refuse(why, "OTLP events miscounted");
			memset(&s->events[s->nevents], 0, sizeof *s->events);
			rv = decode_event(bl, pb_sub(&f), &s->events[s->nevents++], why);
			break;
		case 12:
			PB_EXPECT(f, PB_VARINT, why);
			s->dropped_events = (uint32_t)f.v;
			break;
		case 13:
			PB_EXPECT(f, PB_LEN, why);
			if (s->nlinks == n[13])
				return pb_refuse(why, "OTLP links miscounted");
			memset(&s->links[s->nlinks], 0, sizeof *s->links);
			rv = decode_link(bl, pb_sub(&f), &s->links[s->nlinks++], why);
			break;
		case 14:
			PB_EXPECT(f, PB_VARINT, why);
			s->dropped_links = (uint32_t)f.v;
			break;
		case 15:
			PB_EXPECT(f, PB_LEN, why);
			rv = decode_status(pb_sub(&f), s, why);
			break;
		case 16:
			PB_EXPECT(f, PB_I32, why);
			s->flags = (uint32_t)f.v;
			break;
		}
		if (rv != CM_OK)
			return rv;
	}
	if (rv != CM_OK)
		return rv;
	if (!copy_id(s->trace_id.b, &trace_id, 16) || !copy_id(s->span_id.b, &span_id, 8) ||
	    !copy_id(s->parent_span_id.b, &parent_id, 8))
		return pb_refuse(why, "trace_id must be 16 bytes, span_id and parent_span_id 8");
	return CM_OK;
}

/* ScopeSpans (depth 2): a scope and the spans that refer to it. */
static int
decode_scope_spans(col_builder *bl, pb_msg m, const char **why)
{
	cm_scope *sc = col_add_scope(bl);
	pb_field f;
	int rv;

	if (sc == NULL)
		return CM_ENOMEM;
	while (pb_next(&m, &f, &rv, why)) {
		if (f.num == 1) {
			PB_EXPECT(f, PB_LEN, why);
			rv = decode_scope(bl, pb_sub(&f), sc, why);
		} else if (f.num == 2) {
			cm_span *s;
			PB_EXPECT(f, PB_LEN, why);
			if ((s = col_add_span(bl)) == NULL)
				return CM_ENOMEM;
			rv = decode_span(bl, pb_sub(&f), s, why);
		}
		if (rv != CM_OK)
			return rv;
	}
	return rv;
}

/* ResourceSpans (depth 1): a resource and its scopes' spans. */
static int
decode_resource_spans(col_builder *bl, pb_msg m, const char **why)
{
	cm_resource *res = col_add_resource(bl);
	pb_field f;
	int rv;

	if (res == NULL)
		return CM_ENOMEM;
	while (pb_next(&m, &f, &rv, why)) {
		if (f.num == 1) {
			PB_EXPECT(f, PB_LEN, why);
			rv = decode_resource(bl, pb_sub(&f), res, why);
		} else if (f.num == 2) {
			PB_EXPECT(f, PB_LEN, why);
			rv = decode_scope_spans(bl, pb_sub(&f), why);
		}
		if (rv != CM_OK)
			return rv;
	}
	if (rv != CM_OK)
		return rv;
	col_resource_service(res);
	return CM_OK;
}

int
col_otlp_proto_decode(const void *body, size_t len, cm_batch *out, const char **why)
{
	pb_msg m = { body, (const uint8_t *)body + len };
	col_builder bl;
	pb_field f;
	int rv;

	col_builder_init(&bl, out);
	while (pb_next(&m, &f, &rv, why)) {
		if (f.num != 1)
			continue;
		PB_EXPECT(f, PB_LEN, why);
		if ((rv = decode_resource_spans(&bl, pb_sub(&f), why)) != CM_OK)
			break;
	}
	if (rv == CM_ENOMEM || (rv == CM_OK && bl.oom)) {
		*why = "out of memory";
		return CM_ENOMEM;
	}
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
