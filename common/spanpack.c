/*
 * spanpack.c - msgpack <-> span model.
 */
#include "spanpack.h"

#include <string.h>

#include "buf.h"
#include "err.h"

enum { MAX_VALUE_DEPTH = 4 };

int
cm_pack_to_buf(void *data, const char *p, size_t len)
{
	cm_buf *b = data;
	cm_buf_append(b, p, len);
	return b->failed ? -1 : 0;
}

void
cm_pack_str(msgpack_packer *pk, cm_str s)
{
	msgpack_pack_str(pk, s.len);
	msgpack_pack_str_body(pk, s.p, s.len);
}

static void
pack_bin(msgpack_packer *pk, const void *p, size_t n)
{
	msgpack_pack_bin(pk, n);
	msgpack_pack_bin_body(pk, p, n);
}

static void
pack_value(msgpack_packer *pk, const cm_value *v)
{
	switch (v->type) {
	case CM_VAL_STR:
		cm_pack_str(pk, v->u.s);
		break;
	case CM_VAL_BYTES:
		pack_bin(pk, v->u.s.p, v->u.s.len);
		break;
	case CM_VAL_BOOL:
		if (v->u.b)
			msgpack_pack_true(pk);
		else
			msgpack_pack_false(pk);
		break;
	case CM_VAL_INT:
		msgpack_pack_int64(pk, v->u.i);
		break;
	case CM_VAL_DOUBLE:
		msgpack_pack_double(pk, v->u.d);
		break;
	case CM_VAL_ARRAY:
		msgpack_pack_array(pk, v->u.arr.n);
		for (uint32_t i = 0; i < v->u.arr.n; i++)
			pack_value(pk, &v->u.arr.v[i]);
		break;
	default:
		msgpack_pack_nil(pk);
	}
}

void
cm_pack_attrs(msgpack_packer *pk, const cm_attrs *a)
{
	msgpack_pack_array(pk, (size_t)a->n * 2);
	for (uint32_t i = 0; i < a->n; i++) {
		cm_pack_str(pk, a->v[i].key);
		pack_value(pk, &a->v[i].val);
	}
}

void
cm_pack_resource(msgpack_packer *pk, const cm_resource *r)
{
	msgpack_pack_array(pk, 3);
	cm_pack_str(pk, r->service);
	cm_pack_attrs(pk, &r->attrs);
	msgpack_pack_uint32(pk, r->attrs.dropped);
}

void
cm_pack_scope(msgpack_packer *pk, const cm_scope *s)
{
	msgpack_pack_array(pk, 4);
	cm_pack_str(pk, s->name);
	cm_pack_str(pk, s->version);
	cm_pack_attrs(pk, &s->attrs);
	msgpack_pack_uint32(pk, s->attrs.dropped);
}

void
cm_pack_span(msgpack_packer *pk, const cm_span *s, uint64_t resource_ref, uint64_t scope_ref)
{
	msgpack_pack_array(pk, 19);
	pack_bin(pk, s->trace_id.b, 16);
	pack_bin(pk, s->span_id.b, 8);
	if (cm_span_id_is_zero(&s->parent_span_id))
		msgpack_pack_nil(pk);
	else
		pack_bin(pk, s->parent_span_id.b, 8);
	cm_pack_str(pk, s->trace_state);
	msgpack_pack_uint32(pk, s->flags);
	cm_pack_str(pk, s->name);
	msgpack_pack_uint8(pk, s->kind);
	msgpack_pack_uint8(pk, s->status);
	cm_pack_str(pk, s->status_message);
	msgpack_pack_uint64(pk, s->start_ns);
	msgpack_pack_uint64(pk, s->end_ns);
	cm_pack_attrs(pk, &s->attrs);
	msgpack_pack_uint32(pk, s->attrs.dropped);
	msgpack_pack_array(pk, s->nevents);
	for (uint32_t i = 0; i < s->nevents; i++) {
		const cm_event *e = &s->events[i];
		msgpack_pack_array(pk, 4);
		msgpack_pack_uint64(pk, e->time_ns);
		cm_pack_str(pk, e->name);
		cm_pack_attrs(pk, &e->attrs);
		msgpack_pack_uint32(pk, e->attrs.dropped);
	}
	msgpack_pack_uint32(pk, s->dropped_events);
	msgpack_pack_array(pk, s->nlinks);
	for (uint32_t i = 0; i < s->nlinks; i++) {
		const cm_link *l = &s->links[i];
		msgpack_pack_array(pk, 6);
		pack_bin(pk, l->trace_id.b, 16);
		pack_bin(pk, l->span_id.b, 8);
		cm_pack_str(pk, l->trace_state);
		msgpack_pack_uint32(pk, l->flags);
		cm_pack_attrs(pk, &l->attrs);
		msgpack_pack_uint32(pk, l->attrs.dropped);
	}
	msgpack_pack_uint32(pk, s->dropped_links);
	msgpack_pack_uint64(pk, resource_ref);
	msgpack_pack_uint64(pk, scope_ref);
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

static int
get_str(cm_mpread *r, cm_str *out)
{
	return cm_mp_read_str(r, out) ? CM_OK : CM_EPROTO;
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
		if (get_str(r, &v->u.s) != CM_OK)
			FAIL("attribute value runs past the end");
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
	out->n = n;
	out->v = NULL;
	if (n > 0 && (out->v = cm_arena_alloc(a, sizeof(cm_attr) * n)) == NULL)
		return CM_ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		int rv;
		if (get_str(r, &out->v[i].key) != CM_OK)
			FAIL("attribute key is not a string");
		if ((rv = unpack_value(r, a, &out->v[i].val, 0, why)) != CM_OK)
			return rv;
	}
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
