/*
 * spanpack.c - msgpack <-> span model.
 */
#include "spanpack.h"

#include <string.h>

#include "buf.h"
#include "err.h"
#include "hot.h"
#include "mpwrite.h"

enum { MAX_VALUE_DEPTH = 4 };

void
cm_pack_str(cm_buf *b, cm_str s)
{
	cm_mpw_str(b, s.p, s.len);
}

/* s inline, or with a string table w (strtab.h) a reference when the batch has numbered it before. */
static void
pack_text(cm_buf *b, cm_strw *w, cm_str s)
{
	uint32_t num;

	if (w != NULL && (num = cm_strw_find_or_add(w, s)) != UINT32_MAX)
		cm_mpw_ext_uint(b, CM_STRREF_EXT, num);
	else
		cm_mpw_str(b, s.p, s.len);
}

static void
pack_value(cm_buf *b, cm_strw *w, const cm_value *v)
{
	switch (v->type) {
	case CM_VAL_STR:
		pack_text(b, w, v->u.s);
		break;
	case CM_VAL_BYTES:
		cm_mpw_bin(b, v->u.s.p, v->u.s.len);
		break;
	case CM_VAL_BOOL:
		cm_mpw_bool(b, v->u.b);
		break;
	case CM_VAL_INT:
		cm_mpw_int(b, v->u.i);
		break;
	case CM_VAL_DOUBLE:
		cm_mpw_double(b, v->u.d);
		break;
	case CM_VAL_ARRAY:
		cm_mpw_array(b, v->u.arr.n);
		for (uint32_t i = 0; i < v->u.arr.n; i++)
			pack_value(b, w, &v->u.arr.v[i]);
		break;
	default:
		cm_mpw_nil(b);
	}
}

void
cm_pack_attrs(cm_buf *b, cm_strw *w, const cm_attrs *a)
{
	cm_mpw_array(b, a->n * 2);
	for (uint32_t i = 0; i < a->n; i++) {
		pack_text(b, w, a->v[i].key);
		pack_value(b, w, &a->v[i].val);
	}
}

void
cm_pack_resource(cm_buf *b, cm_strw *w, const cm_resource *r)
{
	cm_mpw_array(b, 3);
	pack_text(b, w, r->service);
	cm_pack_attrs(b, w, &r->attrs);
	cm_mpw_uint(b, r->attrs.dropped);
}

void
cm_pack_scope(cm_buf *b, cm_strw *w, const cm_scope *s)
{
	cm_mpw_array(b, 4);
	pack_text(b, w, s->name);
	pack_text(b, w, s->version);
	cm_pack_attrs(b, w, &s->attrs);
	cm_mpw_uint(b, s->attrs.dropped);
}

void
cm_pack_span(cm_buf *b, cm_strw *w, const cm_span *s, uint64_t resource_ref, uint64_t scope_ref)
{
	cm_mpw_array(b, 19);
	cm_mpw_bin(b, s->trace_id.b, 16);
	cm_mpw_bin(b, s->span_id.b, 8);
	if (cm_span_id_is_zero(&s->parent_span_id))
		cm_mpw_nil(b);
	else
		cm_mpw_bin(b, s->parent_span_id.b, 8);
	pack_text(b, w, s->trace_state);
	cm_mpw_uint(b, s->flags);
	pack_text(b, w, s->name);
	cm_mpw_uint(b, s->kind);
	cm_mpw_uint(b, s->status);
	pack_text(b, w, s->status_message);
	cm_mpw_uint(b, s->start_ns);
	cm_mpw_uint(b, s->end_ns);
	cm_pack_attrs(b, w, &s->attrs);
	cm_mpw_uint(b, s->attrs.dropped);
	cm_mpw_array(b, s->nevents);
	for (uint32_t i = 0; i < s->nevents; i++) {
		const cm_event *e = &s->events[i];
		cm_mpw_array(b, 4);
		cm_mpw_uint(b, e->time_ns);
		pack_text(b, w, e->name);
		cm_pack_attrs(b, w, &e->attrs);
		cm_mpw_uint(b, e->attrs.dropped);
	}
	cm_mpw_uint(b, s->dropped_events);
	cm_mpw_array(b, s->nlinks);
	for (uint32_t i = 0; i < s->nlinks; i++) {
		const cm_link *l = &s->links[i];
		cm_mpw_array(b, 6);
		cm_mpw_bin(b, l->trace_id.b, 16);
		cm_mpw_bin(b, l->span_id.b, 8);
		pack_text(b, w, l->trace_state);
		cm_mpw_uint(b, l->flags);
		cm_pack_attrs(b, w, &l->attrs);
		cm_mpw_uint(b, l->attrs.dropped);
	}
	cm_mpw_uint(b, s->dropped_links);
	cm_mpw_uint(b, resource_ref);
	cm_mpw_uint(b, scope_ref);
}

/* ---- unpacking ---- */

#define FAIL(reason)              \
	do {                      \
		*why = (reason);  \
		return CM_EPROTO; \
	} while (0)

/* An array header announcing exactly n elements. */
static bool
array_of(cm_mpread *r, uint32_t n)
{
	uint32_t got;
	return cm_mp_read_array(r, &got) && got == n;
}

/*
 * A string: a str, numbered when the payload has a string table, or in
 * such a payload a reference to an earlier one. A reference to a string
 * not numbered yet sets r->strs->badref, a table that cannot grow
 * r->strs->oom, so the caller can tell them from a value of another type.
 * Inline (CM_HOT): it runs for every key and string value, and with a
 * string table most of them are references (fixext 1/2/4, 0xd4-0xd6).
 */
CM_HOT int
get_str(cm_mpread *r, cm_str *out)
{
	uint32_t num;

	if (r->strs != NULL && r->p < r->end && (uint8_t)(r->p[0] - 0xd4) <= 2) {
		if (!cm_mp_read_strref(r, &num))
			return CM_EPROTO;
		if (num >= r->strs->n) {
			r->strs->badref = true;
			return CM_EPROTO;
		}
		*out = r->strs->v[num];
		return CM_OK;
	}
	if (!cm_mp_read_str(r, out))
		return CM_EPROTO;
	return r->strs == NULL || cm_strs_add(r->strs, *out) ? CM_OK : CM_ENOMEM;
}

static int
get_u64(cm_mpread *r, uint64_t *out)
{
	return cm_mp_read_uint(r, out) ? CM_OK : CM_EPROTO;
}

static int
get_u32(cm_mpread *r, uint32_t *out)
{
	uint64_t v;
	if (!cm_mp_read_uint(r, &v) || v > UINT32_MAX)
		return CM_EPROTO;
	*out = (uint32_t)v;
	return CM_OK;
}

static int
get_bin(cm_mpread *r, uint8_t *dst, uint32_t n)
{
	const uint8_t *p;
	uint32_t len;
	if (!cm_mp_read_bin(r, &p, &len) || len != n)
		return CM_EPROTO;
	memcpy(dst, p, n);
	return CM_OK;
}

static int
unpack_value(cm_mpread *r, cm_arena *a, cm_value *v, int depth, const char **why)
{
	const uint8_t *p;
	uint64_t u;
	uint32_t n;

	switch (cm_mp_peek(r)) {
	case CM_MP_STR:
	case CM_MP_OTHER: /* a string reference, or a type no value has */
		if (get_str(r, &v->u.s) != CM_OK)
			FAIL(cm_mp_peek(r) == CM_MP_STR ? "attribute value runs past the end" : "attribute value of unsupported type");
		v->type = CM_VAL_STR;
		return CM_OK;
	case CM_MP_BIN:
		if (!cm_mp_read_bin(r, &p, &n))
			FAIL("attribute value runs past the end");
		v->type = CM_VAL_BYTES;
		v->u.s = (cm_str){ n ? (const char *)p : "", n };
		return CM_OK;
	case CM_MP_BOOL:
		v->type = CM_VAL_BOOL;
		cm_mp_read_bool(r, &v->u.b);
		return CM_OK;
	case CM_MP_UINT:
		if (!cm_mp_read_uint(r, &u))
			FAIL("attribute value runs past the end");
		if (u > INT64_MAX)
			FAIL("integer attribute out of int64 range");
		v->type = CM_VAL_INT;
		v->u.i = (int64_t)u;
		return CM_OK;
	case CM_MP_NINT:
		if (!cm_mp_read_nint(r, &v->u.i))
			FAIL("attribute value runs past the end");
		v->type = CM_VAL_INT;
		return CM_OK;
	case CM_MP_FLOAT:
		if (!cm_mp_read_double(r, &v->u.d))
			FAIL("attribute value runs past the end");
		v->type = CM_VAL_DOUBLE;
		return CM_OK;
	case CM_MP_ARRAY:
		if (depth >= MAX_VALUE_DEPTH)
			FAIL("attribute value nested too deeply");
		if (!cm_mp_read_array(r, &n))
			FAIL("attribute value runs past the end");
		v->type = CM_VAL_ARRAY;
		v->u.arr.n = n;
		v->u.arr.v = cm_arena_alloc(a, sizeof(cm_value) * n);
		if (v->u.arr.v == NULL)
			return CM_ENOMEM;
		for (uint32_t i = 0; i < n; i++) {
			int rv = unpack_value(r, a, &v->u.arr.v[i], depth + 1, why);
			if (rv != CM_OK)
				return rv;
		}
		return CM_OK;
	default:
		FAIL("attribute value of unsupported type");
	}
}

/* [key0, value0, ...] then the dropped count. */
static int
unpack_attrs(cm_mpread *r, cm_arena *a, cm_attrs *out, const char **why)
{
	uint32_t n;

	if (!cm_mp_read_array(r, &n) || n % 2 != 0)
		FAIL("attributes are not a key/value array");
	n /= 2;
	out->n = 0; /* until every slot is written: the slots are not zeroed (a memset per span cost 1% of ingest) */
	out->v = NULL;
	if (n > 0 && (out->v = cm_arena_alloc_uninit(a, sizeof(cm_attr) * n)) == NULL)
		return CM_ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		int rv;
		if (get_str(r, &out->v[i].key) != CM_OK)
			FAIL("attribute key is not a string");
		if ((rv = unpack_value(r, a, &out->v[i].val, 0, why)) != CM_OK)
			return rv;
	}
	out->n = n;
	if (get_u32(r, &out->dropped) != CM_OK)
		FAIL("dropped attribute count is not an unsigned integer");
	return CM_OK;
}

int
cm_unpack_resource(cm_mpread *r, cm_arena *a, cm_resource *out, const char **why)
{
	if (!array_of(r, 3))
		FAIL("resource is not a 3-element array");
	if (get_str(r, &out->service) != CM_OK)
		FAIL("resource service name is not a string");
	return unpack_attrs(r, a, &out->attrs, why);
}

int
cm_unpack_scope(cm_mpread *r, cm_arena *a, cm_scope *out, const char **why)
{
	if (!array_of(r, 4))
		FAIL("scope is not a 4-element array");
	if (get_str(r, &out->name) != CM_OK || get_str(r, &out->version) != CM_OK)
		FAIL("scope name or version is not a string");
	return unpack_attrs(r, a, &out->attrs, why);
}

static int
unpack_events(cm_mpread *r, cm_arena *a, cm_span *s, const char **why)
{
	if (!cm_mp_read_array(r, &s->nevents))
		FAIL("events are not an array");
	if (s->nevents == 0)
		return CM_OK;
	s->events = cm_arena_alloc(a, sizeof(cm_event) * s->nevents);
	if (s->events == NULL)
		return CM_ENOMEM;
	for (uint32_t i = 0; i < s->nevents; i++) {
		cm_event *e = &s->events[i];
		int rv;
		if (!array_of(r, 4))
			FAIL("event is not a 4-element array");
		if (get_u64(r, &e->time_ns) != CM_OK || get_str(r, &e->name) != CM_OK)
			FAIL("event time or name has the wrong type");
		if ((rv = unpack_attrs(r, a, &e->attrs, why)) != CM_OK)
			return rv;
	}
	return CM_OK;
}

static int
unpack_links(cm_mpread *r, cm_arena *a, cm_span *s, const char **why)
{
	if (!cm_mp_read_array(r, &s->nlinks))
		FAIL("links are not an array");
	if (s->nlinks == 0)
		return CM_OK;
	s->links = cm_arena_alloc(a, sizeof(cm_link) * s->nlinks);
	if (s->links == NULL)
		return CM_ENOMEM;
	for (uint32_t i = 0; i < s->nlinks; i++) {
		cm_link *l = &s->links[i];
		int rv;
		if (!array_of(r, 6))
			FAIL("link is not a 6-element array");
		if (get_bin(r, l->trace_id.b, 16) != CM_OK || get_bin(r, l->span_id.b, 8) != CM_OK)
			FAIL("link ids have the wrong type or size");
		if (get_str(r, &l->trace_state) != CM_OK || get_u32(r, &l->flags) != CM_OK)
			FAIL("link trace state or flags have the wrong type");
		if ((rv = unpack_attrs(r, a, &l->attrs, why)) != CM_OK)
			return rv;
	}
	return CM_OK;
}

int
cm_unpack_span(cm_mpread *r, cm_arena *a, cm_span *s,
    uint64_t *resource_ref, uint64_t *scope_ref, const char **why)
{
	uint32_t u;
	int rv;

	memset(s, 0, sizeof *s);
	if (!array_of(r, 19))
		FAIL("span is not a 19-element array");
	if (get_bin(r, s->trace_id.b, 16) != CM_OK)
		FAIL("trace id is not 16 bytes");
	if (get_bin(r, s->span_id.b, 8) != CM_OK)
		FAIL("span id is not 8 bytes");
	if (!cm_mp_read_nil(r) && get_bin(r, s->parent_span_id.b, 8) != CM_OK)
		FAIL("parent span id is not 8 bytes or nil");
	if (get_str(r, &s->trace_state) != CM_OK)
		FAIL("trace state is not a string");
	if (get_u32(r, &s->flags) != CM_OK)
		FAIL("flags are not an unsigned integer");
	if (get_str(r, &s->name) != CM_OK)
		FAIL("span name is not a string");
	if (get_u32(r, &u) != CM_OK || u > CM_KIND_CONSUMER)
		FAIL("span kind is not 0..5");
	s->kind = (uint8_t)u;
	if (get_u32(r, &u) != CM_OK || u > CM_STATUS_ERROR)
		FAIL("status code is not 0..2");
	s->status = (uint8_t)u;
	if (get_str(r, &s->status_message) != CM_OK)
		FAIL("status message is not a string");
	if (get_u64(r, &s->start_ns) != CM_OK || get_u64(r, &s->end_ns) != CM_OK)
		FAIL("start or end time is not an unsigned integer");
	if ((rv = unpack_attrs(r, a, &s->attrs, why)) != CM_OK)
		return rv;
	if ((rv = unpack_events(r, a, s, why)) != CM_OK)
		return rv;
	if (get_u32(r, &s->dropped_events) != CM_OK)
		FAIL("dropped event count is not an unsigned integer");
	if ((rv = unpack_links(r, a, s, why)) != CM_OK)
		return rv;
	if (get_u32(r, &s->dropped_links) != CM_OK)
		FAIL("dropped link count is not an unsigned integer");
	if (get_u64(r, resource_ref) != CM_OK || get_u64(r, scope_ref) != CM_OK)
		FAIL("resource or scope reference is not an unsigned integer");
	return CM_OK;
}
