/*
 * breakdown.c - per-service and per-operation time, self time by interval union.
 *
 * Children are found by parent span id (binary search over ids sorted);
 * a span's self time is its duration minus the union of its children's
 * intervals clipped to it. Rows come from the spans sorted by (service,
 * operation): O(n log n) for any number of operations.
 */
#include "breakdown.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "err.h"

typedef struct ival {
	uint64_t start, end;
} ival;

typedef struct by_parent {
	cm_span_id parent;
	uint32_t span;
} by_parent;

static int
cmp_parent(const void *a, const void *b)
{
	return memcmp(((const by_parent *)a)->parent.b, ((const by_parent *)b)->parent.b, 8);
}

static int
cmp_ival(const void *a, const void *b)
{
	const ival *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

static int
cmp_self_desc(const void *a, const void *b)
{
	const qry_bd_row *x = a, *y = b;
	return x->self_total > y->self_total ? -1 : x->self_total < y->self_total;
}

typedef struct span_time {
	cm_str service, op;
	uint64_t dur, self;
} span_time;

static int
cmp_str(cm_str a, cm_str b)
{
	size_t n = a.len < b.len ? a.len : b.len;
	int c = n ? memcmp(a.p, b.p, n) : 0;
	return c ? c : (a.len > b.len) - (a.len < b.len);
}

static int
by_service_op(const void *a, const void *b)
{
	const span_time *x = a, *y = b;
	int c = cmp_str(x->service, y->service);
	return c ? c : cmp_str(x->op, y->op);
}

/*
 * Rows from spans sorted by (service, op): one row per run of equal keys,
 * the key being the service alone when with_op is false. OUT: *rows, *n.
 */
static int
aggregate(const span_time *st, uint32_t n, bool with_op, qry_bd_row **rows, uint32_t *nrows)
{
	qry_bd_row *v = cm_calloc(n + 1, sizeof *v);
	uint32_t k = 0;

	if (v == NULL)
		return CM_ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		qry_bd_row *r = k ? &v[k - 1] : NULL;
		if (r == NULL || cmp_str(r->service, st[i].service) != 0 || (with_op && cmp_str(r->operation, st[i].op) != 0)) {
			r = &v[k++];
			r->service = st[i].service;
			r->operation = with_op ? st[i].op : CM_STR("");
			r->min = r->self_min = UINT64_MAX;
		}
		r->count++;
		r->total += st[i].dur;
		r->min = st[i].dur < r->min ? st[i].dur : r->min;
		r->max = st[i].dur > r->max ? st[i].dur : r->max;
		r->self_total += st[i].self;
		r->self_min = st[i].self < r->self_min ? st[i].self : r->self_min;
		r->self_max = st[i].self > r->self_max ? st[i].self : r->self_max;
	}
	*rows = v;
	*nrows = k;
	return CM_OK;
}

int
qry_breakdown_compute(const cm_batch *t, qry_breakdown *out)
{
	qry_breakdown b = { 0 };
	by_parent *kids = cm_malloc((t->nspans + 1) * sizeof *kids);
	ival *iv = cm_malloc((t->nspans + 1) * sizeof *iv);
	span_time *st = cm_malloc((t->nspans + 1) * sizeof *st);
	uint32_t nk = 0;
	int rv = CM_OK;

	if (kids == NULL || iv == NULL || st == NULL) {
		rv = CM_ENOMEM;
		goto out;
	}
	b.trace_start = UINT64_MAX;
	for (uint32_t i = 0; i < t->nspans; i++) {
		const cm_span *s = &t->spans[i];
		b.trace_start = s->start_ns < b.trace_start ? s->start_ns : b.trace_start;
		b.trace_end = s->end_ns > b.trace_end ? s->end_ns : b.trace_end;
		if (!cm_span_id_is_zero(&s->parent_span_id))
			kids[nk++] = (by_parent){ s->parent_span_id, i };
	}
	qsort(kids, nk, sizeof *kids, cmp_parent);
	for (uint32_t i = 0; i < t->nspans && rv == CM_OK; i++) {
		const cm_span *s = &t->spans[i];
		uint64_t dur = s->end_ns - s->start_ns, covered = 0, reach = s->start_ns;
		by_parent key = { s->span_id, 0 };
		by_parent *k = bsearch(&key, kids, nk, sizeof *kids, cmp_parent);
		uint32_t m = 0;

		while (k != NULL && k > kids && memcmp(k[-1].parent.b, s->span_id.b, 8) == 0)
			k--;
		for (; k != NULL && k < kids + nk && memcmp(k->parent.b, s->span_id.b, 8) == 0; k++) {
			const cm_span *c = &t->spans[k->span];
			uint64_t cs = c->start_ns > s->start_ns ? c->start_ns : s->start_ns;
			uint64_t ce = c->end_ns < s->end_ns ? c->end_ns : s->end_ns;
			if (k->span != i && cs < ce)
				iv[m++] = (ival){ cs, ce };
		}
		qsort(iv, m, sizeof *iv, cmp_ival);
		for (uint32_t j = 0; j < m; j++) { /* union of sorted intervals */
			uint64_t from = iv[j].start > reach ? iv[j].start : reach;
			if (iv[j].end > from) {
				covered += iv[j].end - from;
				reach = iv[j].end;
			}
		}
		st[i] = (span_time){ s->resource < t->nresources ? t->resources[s->resource].service : CM_STR(""),
			s->name, dur, dur - covered };
	}
	qsort(st, t->nspans, sizeof *st, by_service_op);
	rv = aggregate(st, t->nspans, false, &b.services, &b.nservices);
	if (rv == CM_OK)
		rv = aggregate(st, t->nspans, true, &b.operations, &b.noperations);
	if (rv == CM_OK) {
		double whole = b.trace_end > b.trace_start ? (double)(b.trace_end - b.trace_start) : 0;
		qry_bd_row *sets[2] = { b.services, b.operations };
		uint32_t counts[2] = { b.nservices, b.noperations };
		for (int k = 0; k < 2; k++) {
			for (uint32_t i = 0; i < counts[k]; i++)
				sets[k][i].self_share = whole > 0 ? (double)sets[k][i].self_total / whole : 0;
			qsort(sets[k], counts[k], sizeof *sets[k], cmp_self_desc);
		}
	}
out:
	cm_free(kids);
	cm_free(iv);
	cm_free(st);
	if (rv != CM_OK)
		qry_breakdown_fini(&b);
	*out = b;
	return rv;
}

void
qry_breakdown_fini(qry_breakdown *b)
{
	cm_free(b->services);
	cm_free(b->operations);
	memset(b, 0, sizeof *b);
}
