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

static const msgpack_object *
array_of(const msgpack_object *o, uint32_t n)
{
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != n)
		return NULL;
	return o->via.array.ptr;
}

static int
get_str(const msgpack_object *o, cm_str *out)
{
	if (o->type != MSGPACK_OBJECT_STR)
		return CM_EPROTO;
	out->p = o->via.str.size ? o->via.str.ptr : ""; /* msgpack gives NULL for "" */
	out->len = o->via.str.size;
	return CM_OK;
}

static int
get_u64(const msgpack_object *o, uint64_t *out)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return CM_EPROTO;
	*out = o->via.u64;
	return CM_OK;
}

static int
get_u32(const msgpack_object *o, uint32_t *out)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > UINT32_MAX)
		return CM_EPROTO;
	*out = (uint32_t)o->via.u64;
	return CM_OK;
}

static int
get_bin(const msgpack_object *o, uint8_t *dst, uint32_t n)
{
	if (o->type != MSGPACK_OBJECT_BIN || o->via.bin.size != n)
		return CM_EPROTO;
	memcpy(dst, o->via.bin.ptr, n);
	return CM_OK;
}

static int
unpack_value(const msgpack_object *o, cm_arena *a, cm_value *v, int depth, const char **why)
{
	switch (o->type) {
	case MSGPACK_OBJECT_STR:
		v->type = CM_VAL_STR;
		return get_str(o, &v->u.s);
	case MSGPACK_OBJECT_BIN:
		v->type = CM_VAL_BYTES;
		v->u.s = (cm_str){ o->via.bin.size ? o->via.bin.ptr : "", o->via.bin.size };
		return CM_OK;
	case MSGPACK_OBJECT_BOOLEAN:
		v->type = CM_VAL_BOOL;
		v->u.b = o->via.boolean;
		return CM_OK;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (o->via.u64 > INT64_MAX)
			FAIL("integer attribute out of int64 range");
		v->type = CM_VAL_INT;
		v->u.i = (int64_t)o->via.u64;
		return CM_OK;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		v->type = CM_VAL_INT;
		v->u.i = o->via.i64;
		return CM_OK;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		v->type = CM_VAL_DOUBLE;
		v->u.d = o->via.f64;
		return CM_OK;
	case MSGPACK_OBJECT_ARRAY:
		if (depth >= MAX_VALUE_DEPTH)
			FAIL("attribute value nested too deeply");
		v->type = CM_VAL_ARRAY;
		v->u.arr.n = o->via.array.size;
		v->u.arr.v = cm_arena_alloc(a, sizeof(cm_value) * o->via.array.size);
		if (v->u.arr.v == NULL)
			return CM_ENOMEM;
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			int rv = unpack_value(&o->via.array.ptr[i], a, &v->u.arr.v[i], depth + 1, why);
			if (rv != CM_OK)
				return rv;
		}
		return CM_OK;
	default:
		FAIL("attribute value of unsupported type");
	}
}

static int
unpack_attrs(const msgpack_object *o, const msgpack_object *dropped, cm_arena *a,
    cm_attrs *out, const char **why)
{
	uint32_t n;

	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size % 2 != 0)
		FAIL("attributes are not a key/value array");
	if (get_u32(dropped, &out->dropped) != CM_OK)
		FAIL("dropped attribute count is not an unsigned integer");
	n = o->via.array.size / 2;
	out->n = n;
	out->v = NULL;
	if (n == 0)
		return CM_OK;
	out->v = cm_arena_alloc(a, sizeof(cm_attr) * n);
	if (out->v == NULL)
		return CM_ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		int rv;
		if (get_str(&o->via.array.ptr[2 * i], &out->v[i].key) != CM_OK)
			FAIL("attribute key is not a string");
		rv = unpack_value(&o->via.array.ptr[2 * i + 1], a, &out->v[i].val, 0, why);
		if (rv != CM_OK)
			return rv;
	}
	return CM_OK;
}

int
cm_unpack_resource(const msgpack_object *o, cm_arena *a, cm_resource *out, const char **why)
{
	const msgpack_object *f = array_of(o, 3);
	if (f == NULL)
		FAIL("resource is not a 3-element array");
	if (get_str(&f[0], &out->service) != CM_OK)
		FAIL("resource service name is not a string");
	return unpack_attrs(&f[1], &f[2], a, &out->attrs, why);
}

int
cm_unpack_scope(const msgpack_object *o, cm_arena *a, cm_scope *out, const char **why)
{
	const msgpack_object *f = array_of(o, 4);
	if (f == NULL)
		FAIL("scope is not a 4-element array");
	if (get_str(&f[0], &out->name) != CM_OK || get_str(&f[1], &out->version) != CM_OK)
		FAIL("scope name or version is not a string");
	return unpack_attrs(&f[2], &f[3], a, &out->attrs, why);
}

static int
unpack_events(const msgpack_object *o, cm_arena *a, cm_span *s, const char **why)
{
	if (o->type != MSGPACK_OBJECT_ARRAY)
		FAIL("events are not an array");
	s->nevents = o->via.array.size;
	if (s->nevents == 0)
		return CM_OK;
	s->events = cm_arena_alloc(a, sizeof(cm_event) * s->nevents);
	if (s->events == NULL)
		return CM_ENOMEM;
	for (uint32_t i = 0; i < s->nevents; i++) {
		cm_event *e = &s->events[i];
		const msgpack_object *f = array_of(&o->via.array.ptr[i], 4);
		int rv;
		if (f == NULL)
			FAIL("event is not a 4-element array");
		if (get_u64(&f[0], &e->time_ns) != CM_OK || get_str(&f[1], &e->name) != CM_OK)
			FAIL("event time or name has the wrong type");
		if ((rv = unpack_attrs(&f[2], &f[3], a, &e->attrs, why)) != CM_OK)
			return rv;
	}
	return CM_OK;
}

static int
unpack_links(const msgpack_object *o, cm_arena *a, cm_span *s, const char **why)
{
	if (o->type != MSGPACK_OBJECT_ARRAY)
		FAIL("links are not an array");
	s->nlinks = o->via.array.size;
	if (s->nlinks == 0)
		return CM_OK;
	s->links = cm_arena_alloc(a, sizeof(cm_link) * s->nlinks);
	if (s->links == NULL)
		return CM_ENOMEM;
	for (uint32_t i = 0; i < s->nlinks; i++) {
		cm_link *l = &s->links[i];
		const msgpack_object *f = array_of(&o->via.array.ptr[i], 6);
		int rv;
		if (f == NULL)
			FAIL("link is not a 6-element array");
		if (get_bin(&f[0], l->trace_id.b, 16) != CM_OK || get_bin(&f[1], l->span_id.b, 8) != CM_OK)
			FAIL("link ids have the wrong type or size");
		if (get_str(&f[2], &l->trace_state) != CM_OK || get_u32(&f[3], &l->flags) != CM_OK)
			FAIL("link trace state or flags have the wrong type");
		if ((rv = unpack_attrs(&f[4], &f[5], a, &l->attrs, why)) != CM_OK)
			return rv;
	}
	return CM_OK;
}

int
cm_unpack_span(const msgpack_object *o, cm_arena *a, cm_span *s,
    uint64_t *resource_ref, uint64_t *scope_ref, const char **why)
{
	const msgpack_object *f = array_of(o, 19);
	uint32_t u;
	int rv;

	memset(s, 0, sizeof *s);
	if (f == NULL)
		FAIL("span is not a 19-element array");
	if (get_bin(&f[0], s->trace_id.b, 16) != CM_OK)
		FAIL("trace id is not 16 bytes");
	if (get_bin(&f[1], s->span_id.b, 8) != CM_OK)
		FAIL("span id is not 8 bytes");
	if (f[2].type != MSGPACK_OBJECT_NIL && get_bin(&f[2], s->parent_span_id.b, 8) != CM_OK)
		FAIL("parent span id is not 8 bytes or nil");
	if (get_str(&f[3], &s->trace_state) != CM_OK)
		FAIL("trace state is not a string");
	if (get_u32(&f[4], &s->flags) != CM_OK)
		FAIL("flags are not an unsigned integer");
	if (get_str(&f[5], &s->name) != CM_OK)
		FAIL("span name is not a string");
	if (get_u32(&f[6], &u) != CM_OK || u > CM_KIND_CONSUMER)
		FAIL("span kind is not 0..5");
	s->kind = (uint8_t)u;
	if (get_u32(&f[7], &u) != CM_OK || u > CM_STATUS_ERROR)
		FAIL("status code is not 0..2");
	s->status = (uint8_t)u;
	if (get_str(&f[8], &s->status_message) != CM_OK)
		FAIL("status message is not a string");
	if (get_u64(&f[9], &s->start_ns) != CM_OK || get_u64(&f[10], &s->end_ns) != CM_OK)
		FAIL("start or end time is not an unsigned integer");
	if ((rv = unpack_attrs(&f[11], &f[12], a, &s->attrs, why)) != CM_OK)
		return rv;
	if ((rv = unpack_events(&f[13], a, s, why)) != CM_OK)
		return rv;
	if (get_u32(&f[14], &s->dropped_events) != CM_OK)
		FAIL("dropped event count is not an unsigned integer");
	if ((rv = unpack_links(&f[15], a, s, why)) != CM_OK)
		return rv;
	if (get_u32(&f[16], &s->dropped_links) != CM_OK)
		FAIL("dropped link count is not an unsigned integer");
	if (get_u64(&f[17], resource_ref) != CM_OK || get_u64(&f[18], scope_ref) != CM_OK)
		FAIL("resource or scope reference is not an unsigned integer");
	return CM_OK;
}
