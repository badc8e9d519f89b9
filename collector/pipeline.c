/*
 * pipeline.c - validate, then write durably.
 */
#include "pipeline.h"

#include "err.h"
#include "log.h"

#define ADD(counter, n) atomic_fetch_add_explicit(&(counter), (n), memory_order_relaxed)

/* Cuts string and bytes values over max; returns how many were cut. */
static uint32_t
truncate_attrs(cm_attrs *a, uint32_t max)
{
	uint32_t cut = 0;
	for (uint32_t i = 0; i < a->n; i++) {
		cm_value *v = &a->v[i].val;
		if ((v->type == CM_VAL_STR || v->type == CM_VAL_BYTES) && v->u.s.len > max) {
			v->u.s.len = v->type == CM_VAL_STR ? cm_utf8_cut(v->u.s.p, v->u.s.len, max) : max;
			cut++;
		}
	}
	return cut;
}

/* Keeps the first max attributes; returns how many were dropped. */
static uint32_t
limit_attrs(cm_attrs *a, uint32_t max)
{
	uint32_t over = a->n > max ? a->n - max : 0;
	a->n -= over;
	a->dropped += over;
	return over;
}

/* Applies fn to the attributes of the span, its events and its links; sums what it returns. */
static uint32_t
each_attrs(cm_span *s, uint32_t (*fn)(cm_attrs *, uint32_t), uint32_t max)
{
	uint32_t n = fn(&s->attrs, max);
	for (uint32_t i = 0; i < s->nevents; i++)
		n += fn(&s->events[i].attrs, max);
	for (uint32_t i = 0; i < s->nlinks; i++)
		n += fn(&s->links[i].attrs, max);
	return n;
}

int
col_pipeline_write(col_pipeline *p, col_receiver rx, cm_batch *b, col_write_result *res)
{
	uint32_t kept = 0, truncated = 0, dropped = 0;
	int rv;

	res->accepted = res->rejected = 0;
	res->first_reason = NULL;
	ADD(p->metrics->rx[rx].spans_received, b->nspans);
	for (uint32_t i = 0; i < b->nresources; i++)
		if (b->resources[i].service.len == 0)
			b->resources[i].service = CM_STR("unknown_service");
	for (uint32_t i = 0; i < b->nspans; i++) {
		const char *why;
		if (cm_span_validate(b, &b->spans[i], &why) != CM_OK) {
			if (res->first_reason == NULL)
				res->first_reason = why;
			res->rejected++;
			continue;
		}
		if (p->limits.max_attributes > 0)
			dropped += each_attrs(&b->spans[i], limit_attrs, p->limits.max_attributes);
		if (p->limits.max_value_bytes > 0)
			truncated += each_attrs(&b->spans[i], truncate_attrs, p->limits.max_value_bytes);
		b->spans[kept++] = b->spans[i];
	}
	if (truncated > 0)
		ADD(p->metrics->values_truncated, truncated);
	if (dropped > 0)
		ADD(p->metrics->attributes_dropped, dropped);
	b->nspans = kept;
	ADD(p->metrics->rx[rx].spans_rejected, res->rejected);
	if (kept == 0)
		return CM_OK;

	rv = col_writer_write(p->writer, b);
	if (rv != CM_OK) {
		cm_log(CM_LOG_ERROR, "COL-WRITE", "writing %u spans failed: %s", kept, cm_strerror(rv));
		/* Storage trouble (disk full, I/O) may pass, and a stopping writer means
		 * another collector will take it: let the sender retry. */
		return CM_EAGAIN;
	}
	ADD(p->metrics->rx[rx].spans_accepted, kept);
	res->accepted = kept;
	return CM_OK;
}
