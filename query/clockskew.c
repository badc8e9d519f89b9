/*
 * clockskew.c - symmetric-latency placement of cross-host children.
 *
 * The span tree's rows come in depth-first order, so a parent is adjusted
 * before its children, and each row's skew context (host, delta) is
 * inherited from its parent row unless the host changes.
 */
#include "clockskew.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "duration.h"
#include "err.h"
#include "ids.h"
#include "spantree.h"

typedef struct skew {
	cm_str host;
	int64_t delta;
} skew;

static cm_str
host_of(const cm_batch *t, const cm_span *s)
{
	static const char *const keys[] = { "host.name", "host.ip", "ip", "hostname" };
	if (s->resource >= t->nresources)
		return CM_STR("");
	const cm_attrs *a = &t->resources[s->resource].attrs;
	for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
		for (uint32_t i = 0; i < a->n; i++)
			if (cm_str_eq(a->v[i].key, keys[k]) && a->v[i].val.type == CM_VAL_STR)
				return a->v[i].val.u.s;
	return CM_STR("");
}

static bool
same(cm_str a, cm_str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static void warn_add(qry_span_warnings *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
warn_add(qry_span_warnings *w, const char *fmt, ...)
{
	va_list ap;
	if (w->n >= QRY_MAX_WARNINGS)
		return;
	va_start(ap, fmt);
	vsnprintf(w->text[w->n++], sizeof w->text[0], fmt, ap);
	va_end(ap);
}

/* Jaeger's calculateSkew: how far to move child to center it in parent. */
static int64_t
calculate(const cm_span *child, const cm_span *parent)
{
	uint64_t pd = parent->end_ns - parent->start_ns, cd = child->end_ns - child->start_ns;
	if (pd < cd)
		return 0; /* a longer child cannot be placed inside */
	if (child->start_ns >= parent->start_ns && child->end_ns <= parent->end_ns)
		return 0; /* already inside */
	return (int64_t)(parent->start_ns + (pd - cd) / 2) - (int64_t)child->start_ns;
}

static void
shift(cm_span *s, int64_t d)
{
	s->start_ns = (uint64_t)((int64_t)s->start_ns + d);
	s->end_ns = (uint64_t)((int64_t)s->end_ns + d);
	for (uint32_t i = 0; i < s->nevents; i++)
		s->events[i].time_ns = (uint64_t)((int64_t)s->events[i].time_ns + d);
}

int
qry_clock_skew_adjust(cm_batch *t, uint64_t max_delta_ns, qry_span_warnings *warn)
{
	qry_tree_span *in = qry_tree_spans_of(t);
	skew *ctx = NULL;
	qry_tree tree;
	int rv;

	if (in == NULL)
		return CM_ENOMEM;
	rv = qry_tree_build(in, t->nspans, &tree);
	cm_free(in);
	if (rv != CM_OK)
		return rv;
	if ((ctx = cm_calloc(tree.nrows + 1, sizeof *ctx)) == NULL) {
		qry_tree_fini(&tree);
		return CM_ENOMEM;
	}
	for (uint32_t r = 0; r < tree.nrows; r++) {
		const qry_tree_row *row = &tree.rows[r];
		cm_span *s = &t->spans[row->span];
		cm_str host = host_of(t, s);
		char d[48], m[48];

		if (row->depth == 0) {
			ctx[r] = (skew){ host, 0 };
			if (!cm_span_id_is_zero(&s->parent_span_id)) {
				char hex[CM_SPAN_ID_HEX + 1];
				cm_hex_encode(s->parent_span_id.b, 8, hex);
				warn_add(&warn[row->span], "invalid parent span IDs=%s; skipping clock skew adjustment", hex);
			}
			continue;
		}
		ctx[r] = ctx[row->parent];
		if (host.len == 0 || !same(host, ctx[r].host)) {
			/* the first span of another host: its skew against its parent */
			ctx[r] = (skew){ host, calculate(s, &t->spans[tree.rows[row->parent].span]) };
		}
		if (ctx[r].delta == 0)
			continue;
		cm_duration_format(ctx[r].delta, d, sizeof d);
		if (max_delta_ns == 0) {
			warn_add(&warn[row->span], "clock skew adjustment disabled; not applying calculated delta of %s", d);
		} else if ((uint64_t)(ctx[r].delta < 0 ? -ctx[r].delta : ctx[r].delta) > max_delta_ns) {
			cm_duration_format((int64_t)max_delta_ns, m, sizeof m);
			warn_add(&warn[row->span], "max clock skew adjustment delta of %s exceeded; not applying calculated delta of %s", m, d);
		} else {
			shift(s, ctx[r].delta);
			warn_add(&warn[row->span], "This span's timestamps were adjusted by %s", d);
		}
	}
	cm_free(ctx);
	qry_tree_fini(&tree);
	return CM_OK;
}
