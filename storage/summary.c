/*
 * summary.c - trace summaries from the outlines of a trace's span blocks (summary.h).
 */
#include "summary.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "err.h"
#include "keys.h"
#include "partition.h"
#include "varint.h"

/* A summary being merged from a trace's blocks. */
typedef struct merging {
	st_store *s;
	st_summary *out;
	cm_arena arena; /* outlines and service names */
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

/* Merges what one span block tells (st_trace_blocks callback): its outline, from its columns. */
static int
merge_block(void *arg, const uint8_t *key, const char *val, size_t vlen)
{
	merging *m = arg;
	st_summary *out = m->out;
	const st_block_syms syms = { st_store_symbol, m->s };
	uint64_t start = st_get_be64(key + 16); /* the block's first span's, its earliest */
	st_outline o;
	cm_str svc;
	size_t off;
	int rv;

	if ((rv = st_block_spans(val, vlen, &off)) != CM_OK ||
	    (rv = st_block_outline(val + off, vlen - off, key, &syms, &m->arena, &o)) != CM_OK)
		return rv;
	if (out->spans == 0) {
		out->start_ns = start;
		out->duration_ns = o.end_ns - start;
	} else {
		uint64_t oend = out->start_ns + out->duration_ns;
		out->start_ns = start < out->start_ns ? start : out->start_ns;
		out->duration_ns = (o.end_ns > oend ? o.end_ns : oend) - out->start_ns;
	}
	out->spans += o.spans;
	out->errors += o.errors;
	if (o.root != UINT32_MAX && out->root_service == NULL) {
		if ((rv = st_resource_service(m->s, o.root_resource, &m->arena, &svc)) != CM_OK)
			return rv;
		out->root_service = cm_strndup(svc.p, svc.len);
		out->root_operation = cm_strndup(o.root_name.p, o.root_name.len);
		if (out->root_service == NULL || out->root_operation == NULL)
			return CM_ENOMEM;
	}
	for (uint32_t k = 0; k < o.nrefs; k++) {
		if (o.ref_spans[k] == 0)
			continue;
		if ((rv = st_resource_service(m->s, st_get_be64(o.refs + 16 * (size_t)k), &m->arena, &svc)) != CM_OK ||
		    (rv = add_service(out, svc, o.ref_spans[k])) != CM_OK)
			return rv;
	}
	return CM_OK;
}

int
st_trace_summary_locked(st_store *s, const cm_trace_id *id, st_summary *out)
{
	uint64_t now = s->now_ns();
	merging m = { .s = s, .out = out };
	int rv = CM_OK;

	memset(out, 0, sizeof *out);
	out->id = *id;
	cm_arena_init(&m.arena, 4096);
	for (size_t i = 0; i < s->nparts && rv == CM_OK; i++)
		if (st_part_alive(s, &s->parts[i], now))
			rv = st_trace_blocks(s, s->parts[i].spans, id, merge_block, &m, "read summary");
	cm_arena_fini(&m.arena);
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
