/*
 * summary.c - partial trace summaries in span block heads, merged on read (summary.h).
 */
#include "summary.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "err.h"
#include "keys.h"
#include "partition.h"
#include "varint.h"

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
st_summary_put(cm_buf *out, const st_block_enc *enc, const cm_batch *b, const cm_span *const *refs, size_t n,
    st_summary_scratch *scratch)
{
	uint64_t start = UINT64_MAX, end = 0;
	uint32_t errors = 0;
	size_t nsvcs = 0;
	const cm_span *root = NULL;

	for (size_t i = 0; i < n; i++) {
		const cm_span *s = refs[i];
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
	if (cm_buf_reserve(out, 4 * ST_VARINT_MAX) != CM_OK)
		return false;
	st_put_varint(out, n > 0 && end > start ? end - start : 0);
	st_put_varint(out, errors);
	st_put_varint(out, root != NULL);
	if (root != NULL) {
		st_block_put_name(enc, out, b->resources[root->resource].service);
		st_block_put_name(enc, out, root->name);
	}
	if (cm_buf_reserve(out, ST_VARINT_MAX) == CM_OK)
		st_put_varint(out, nsvcs);
	for (size_t k = 0; k < nsvcs; k++) {
		st_block_put_name(enc, out, scratch->svcs[k].service);
		if (cm_buf_reserve(out, ST_VARINT_MAX) == CM_OK)
			st_put_varint(out, scratch->svcs[k].spans);
	}
	return !out->failed;
}

/* A summary being merged from a trace's blocks. */
typedef struct merging {
	st_store *s;
	st_summary *out;
} merging;

/* Spans per service: adds n to service name's count. */
static int
add_service(st_summary *out, cm_str name, uint64_t n)
{
	size_t k;
	for (k = 0; k < out->nservices; k++)
		if (cm_str_eq(name, out->services[k].service))
			break;
	if (k == out->nservices) {
		st_service_spans *v = cm_realloc(out->services, (k + 1) * sizeof *v);
		if (v == NULL)
			return CM_ENOMEM;
		out->services = v;
		if ((v[k].service = cm_strndup(name.p, name.len)) == NULL)
			return CM_ENOMEM;
		v[k].spans = 0;
		out->nservices++;
	}
	out->services[k].spans += (uint32_t)n;
	return CM_OK;
}

/* Merges the partial at the head of one span block (st_trace_blocks callback). */
static int
merge_block_head(void *arg, const uint8_t *key, const char *val, size_t vlen)
{
	merging *m = arg;
	st_summary *out = m->out;
	const st_block_syms syms = { st_store_symbol, m->s };
	size_t sum_off, sum_len, spans_off;
	const uint8_t *p, *end;
	uint64_t start, dur, errors, has_root, nsvcs;
	uint32_t spans;
	cm_str svc, op;
	int rv;

	if ((rv = st_block_split(val, vlen, &sum_off, &sum_len, &spans_off)) != CM_OK ||
	    (rv = st_block_count(val + spans_off, vlen - spans_off, &spans)) != CM_OK)
		return rv;
	start = st_get_be64(key + 16); /* the block's first span's, its earliest */
	p = (const uint8_t *)val + sum_off;
	end = p + sum_len;
	if (!st_get_varint(&p, end, &dur) || !st_get_varint(&p, end, &errors) || !st_get_varint(&p, end, &has_root) ||
	    dur > UINT64_MAX - start || errors > spans || has_root > 1)
		return CM_EPROTO;
	if (has_root && (!st_block_get_name(&p, end, &syms, &svc) || !st_block_get_name(&p, end, &syms, &op)))
		return CM_EPROTO;
	if (out->spans == 0) {
		out->start_ns = start;
		out->duration_ns = dur;
	} else {
		uint64_t oend = out->start_ns + out->duration_ns;
		out->start_ns = start < out->start_ns ? start : out->start_ns;
		out->duration_ns = (start + dur > oend ? start + dur : oend) - out->start_ns;
	}
	out->spans += spans;
	out->errors += (uint32_t)errors;
	if (has_root && out->root_service == NULL) {
		out->root_service = cm_strndup(svc.p, svc.len);
		out->root_operation = cm_strndup(op.p, op.len);
		if (out->root_service == NULL || out->root_operation == NULL)
			return CM_ENOMEM;
	}
	if (!st_get_varint(&p, end, &nsvcs))
		return CM_EPROTO;
	for (uint64_t i = 0; i < nsvcs; i++) {
		uint64_t n;
		if (!st_block_get_name(&p, end, &syms, &svc) || !st_get_varint(&p, end, &n) || n > UINT32_MAX)
			return CM_EPROTO;
		if ((rv = add_service(out, svc, n)) != CM_OK)
			return rv;
	}
	return p == end ? CM_OK : CM_EPROTO;
}

int
st_trace_summary_locked(st_store *s, const cm_trace_id *id, st_summary *out)
{
	uint64_t now = s->now_ns();
	merging m = { s, out };
	int rv = CM_OK;

	memset(out, 0, sizeof *out);
	out->id = *id;
	for (size_t i = 0; i < s->nparts && rv == CM_OK; i++)
		if (st_part_alive(s, &s->parts[i], now))
			rv = st_trace_blocks(s, s->parts[i].spans, id, merge_block_head, &m, "read summary");
	if (rv == CM_EPROTO || rv == CM_EVERSION)
		rv = CM_EIO; /* a stored value that does not decode is damage (the layout is checked at open) */
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
