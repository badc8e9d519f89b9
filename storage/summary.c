/*
 * summary.c - partial trace summaries in span block heads, merged on read (summary.h).
 *
 * A partial is msgpack [min_start, max_end, spans, errors, root, services]
 * where root is nil or [service, operation] and services is
 * [[service, spans], ...].
 */
#include "summary.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "err.h"
#include "keys.h"
#include "mpcheck.h"
#include "partition.h"
#include "spanpack.h"

struct svc_count {
	cm_str service;
	uint32_t spans;
};

void
st_summary_scratch_fini(st_summary_scratch *s)
{
	cm_free(s->svcs);
	s->svcs = NULL;
	s->cap = 0;
}

bool
st_summary_pack(msgpack_packer *pk, const cm_batch *b, const span_ref *refs, size_t n, st_summary_scratch *scratch)
{
	uint64_t start = UINT64_MAX, end = 0;
	uint32_t errors = 0;
	size_t nsvcs = 0;
	const cm_span *root = NULL;

	for (size_t i = 0; i < n; i++) {
		const cm_span *s = refs[i].sp;
		cm_str svc = s->resource < b->nresources ? b->resources[s->resource].service : CM_STR("");
		size_t k;
		start = s->start_ns < start ? s->start_ns : start;
		end = s->end_ns > end ? s->end_ns : end;
		errors += s->status == CM_STATUS_ERROR;
		if (root == NULL && cm_span_id_is_zero(&s->parent_span_id))
			root = s;
		for (k = 0; k < nsvcs && !cm_str_same(scratch->svcs[k].service, svc); k++)
			;
		if (k == nsvcs) {
			if (nsvcs == scratch->cap) {
				size_t c = scratch->cap ? scratch->cap * 2 : 16;
				struct svc_count *v = cm_realloc(scratch->svcs, c * sizeof *v);
				if (v == NULL)
					return false;
				scratch->svcs = v;
				scratch->cap = c;
			}
			scratch->svcs[nsvcs++] = (struct svc_count){ svc, 0 };
		}
		scratch->svcs[k].spans++;
	}
	msgpack_pack_array(pk, 6);
	msgpack_pack_uint64(pk, start);
	msgpack_pack_uint64(pk, end);
	msgpack_pack_uint32(pk, (uint32_t)n);
	msgpack_pack_uint32(pk, errors);
	if (root != NULL) {
		msgpack_pack_array(pk, 2);
		cm_pack_str(pk, b->resources[root->resource].service);
		cm_pack_str(pk, root->name);
	} else {
		msgpack_pack_nil(pk);
	}
	msgpack_pack_array(pk, nsvcs);
	for (size_t k = 0; k < nsvcs; k++) {
		msgpack_pack_array(pk, 2);
		cm_pack_str(pk, scratch->svcs[k].service);
		msgpack_pack_uint32(pk, scratch->svcs[k].spans);
	}
	return true;
}

static char *
dup_str(const msgpack_object *o)
{
	return o->type == MSGPACK_OBJECT_STR ? cm_strndup(o->via.str.ptr, o->via.str.size) : cm_strndup("", 0);
}

/* Adds one partial (an unpacked, checked value) to out. */
static int
merge_partial(const msgpack_object *p, st_summary *out)
{
	const msgpack_object *f;
	uint64_t start, end;

	if (p->type != MSGPACK_OBJECT_ARRAY || p->via.array.size != 6)
		return CM_EPROTO;
	f = p->via.array.ptr;
	for (int i = 0; i < 4; i++)
		if (f[i].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
			return CM_EPROTO;
	if (f[5].type != MSGPACK_OBJECT_ARRAY)
		return CM_EPROTO;
	start = f[0].via.u64;
	end = f[1].via.u64 > start ? f[1].via.u64 : start;
	if (out->spans == 0) {
		out->start_ns = start;
		out->duration_ns = end - start;
	} else {
		uint64_t oend = out->start_ns + out->duration_ns;
		out->start_ns = start < out->start_ns ? start : out->start_ns;
		out->duration_ns = (end > oend ? end : oend) - out->start_ns;
	}
	out->spans += (uint32_t)f[2].via.u64;
	out->errors += (uint32_t)f[3].via.u64;
	if (out->root_service == NULL && f[4].type == MSGPACK_OBJECT_ARRAY && f[4].via.array.size == 2) {
		out->root_service = dup_str(&f[4].via.array.ptr[0]);
		out->root_operation = dup_str(&f[4].via.array.ptr[1]);
		if (out->root_service == NULL || out->root_operation == NULL)
			return CM_ENOMEM;
	}
	for (uint32_t i = 0; i < f[5].via.array.size; i++) {
		const msgpack_object *e = &f[5].via.array.ptr[i];
		size_t k;
		if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 2 ||
		    e->via.array.ptr[0].type != MSGPACK_OBJECT_STR || e->via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
			return CM_EPROTO;
		const msgpack_object_str *name = &e->via.array.ptr[0].via.str;
		for (k = 0; k < out->nservices; k++)
			if (strlen(out->services[k].service) == name->size &&
			    memcmp(out->services[k].service, name->ptr, name->size) == 0)
				break;
		if (k == out->nservices) {
			st_service_spans *v = cm_realloc(out->services, (k + 1) * sizeof *v);
			if (v == NULL)
				return CM_ENOMEM;
			out->services = v;
			if ((v[k].service = cm_strndup(name->ptr, name->size)) == NULL)
				return CM_ENOMEM;
			v[k].spans = 0;
			out->nservices++;
		}
		out->services[k].spans += (uint32_t)e->via.array.ptr[1].via.u64;
	}
	return CM_OK;
}

/* Merges the partial at the head of one span block (st_trace_blocks callback). */
static int
merge_block_head(void *arg, const char *val, size_t vlen)
{
	size_t off = 0, hlen;
	const char *why;
	msgpack_unpacked up;
	int rv;

	if ((rv = st_block_split(val, vlen, &hlen, NULL)) != CM_OK)
		return rv;
	if (cm_msgpack_check(val + ST_BLOCK_HEAD, hlen, 4, &why) != CM_OK)
		return CM_EPROTO;
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, val + ST_BLOCK_HEAD, hlen, &off) != MSGPACK_UNPACK_SUCCESS)
		rv = CM_EPROTO;
	else
		rv = merge_partial(&up.data, arg);
	msgpack_unpacked_destroy(&up);
	return rv;
}

int
st_trace_summary_locked(st_store *s, const cm_trace_id *id, st_summary *out)
{
	uint64_t now = s->now_ns();
	int rv = CM_OK;

	memset(out, 0, sizeof *out);
	out->id = *id;
	for (size_t i = 0; i < s->nparts && rv == CM_OK; i++)
		if (st_part_alive(s, &s->parts[i], now))
			rv = st_trace_blocks(s, s->parts[i].spans, id, merge_block_head, out, "read summary");
	if (rv == CM_EPROTO)
		rv = CM_EIO; /* a stored value that does not decode is damage, not bad input */
	if (rv == CM_OK && out->spans == 0)
		rv = CM_ENOENT;
	if (rv != CM_OK)
		st_summary_fini(out);
	return rv;
}

int
st_trace_summary(st_store *s, const cm_trace_id *id, st_summary *out)
{
	int rv = st_lock_read(s);
	if (rv != CM_OK)
		return rv;
	rv = st_trace_summary_locked(s, id, out);
	pthread_rwlock_unlock(&s->lock);
	return rv;
}

void
st_summary_fini(st_summary *s)
{
	for (size_t i = 0; i < s->nservices; i++)
		cm_free(s->services[i].service);
	cm_free(s->services);
	cm_free(s->root_service);
	cm_free(s->root_operation);
	memset(s, 0, sizeof *s);
}

void
st_summaries_fini(st_summaries *l)
{
	for (size_t i = 0; i < l->n; i++)
		st_summary_fini(&l->v[i]);
	cm_free(l->v);
	l->v = NULL;
	l->n = 0;
}
