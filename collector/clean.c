/*
 * clean.c - validate and repair a decoded batch.
 */
#include "clean.h"

#include "err.h"

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

void
col_clean(const col_limits *lim, cm_batch *b, col_clean_result *r)
{
	uint32_t kept = 0;

	*r = (col_clean_result){ 0 };
	for (uint32_t i = 0; i < b->nresources; i++)
		if (b->resources[i].service.len == 0)
			b->resources[i].service = CM_STR("unknown_service");
	for (uint32_t i = 0; i < b->nspans; i++) {
		const char *why;
		if (cm_span_validate(b, &b->spans[i], &why) != CM_OK) {
			if (r->first_reason == NULL)
				r->first_reason = why;
			r->rejected++;
			continue;
		}
		if (lim->max_attributes > 0)
			r->dropped += each_attrs(&b->spans[i], limit_attrs, lim->max_attributes);
		if (lim->max_value_bytes > 0)
			r->truncated += each_attrs(&b->spans[i], truncate_attrs, lim->max_value_bytes);
		b->spans[kept++] = b->spans[i];
	}
	b->nspans = kept;
}
