/*
 * critpath.c - Jaeger UI's critical path algorithm, without recursion.
 *
 * Jaeger UI's recursive form is:
 *   compute(span, until):
 *     child = the last-finishing child of span ending before `until`
 *             (any child when until is unset)
 *     if child: section(span, child.end, until or span.end)
 *               compute(child, unset); compute(span, child.start)
 *     else:     section(span, span.start, until or span.end)
 * Here the two calls are frames on an explicit stack, so arbitrarily deep
 * traces cannot overflow the C stack.
 */
#include "critpath.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "err.h"
#include "span.h"

typedef struct node {
	uint64_t start, end;  /* clipped */
	uint32_t *children;   /* sorted by clipped end, latest first */
	uint32_t nchildren;
	bool kept;
} node;

typedef struct frame {
	uint32_t span;
	uint64_t until;
	bool has_until;
} frame;

static int
by_end_desc(const void *a, const void *b, void *arg)
{
	const node *nodes = arg;
	uint64_t x = nodes[*(const uint32_t *)a].end, y = nodes[*(const uint32_t *)b].end;
	return x > y ? -1 : x < y;
}

static int
by_start(const void *a, const void *b)
{
	const qry_cp_section *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

static int
push_section(qry_critical_path *cp, uint32_t *cap, uint32_t span, uint64_t start, uint64_t end)
{
	if (start == end)
		return CM_OK;
	if (cp->n == *cap) {
		uint32_t ncap = *cap ? *cap * 2 : 16;
		qry_cp_section *v = cm_realloc(cp->v, ncap * sizeof *v);
		if (v == NULL)
			return CM_ENOMEM;
		cp->v = v;
		*cap = ncap;
	}
	cp->v[cp->n++] = (qry_cp_section){ span, start, end };
	return CM_OK;
}

int
qry_critical_path_compute(const qry_tree_span *spans, uint32_t n, qry_critical_path *out)
{
	qry_tree tree;
	qry_critical_path cp = { NULL, 0 };
	node *nodes = NULL;
	uint32_t *child_store = NULL, cap = 0, root = UINT32_MAX, top = 0;
	frame *stack = NULL;
	size_t stack_cap;
	int rv;

	if ((rv = qry_tree_build(spans, n, &tree)) != CM_OK)
		return rv;
	nodes = cm_calloc(n + 1, sizeof *nodes);
	child_store = cm_malloc((n + 1) * sizeof *child_store);
	stack_cap = 2 * (size_t)n + 2;
	stack = cm_malloc(stack_cap * sizeof *stack);
	if (nodes == NULL || child_store == NULL || stack == NULL) {
		rv = CM_ENOMEM;
		goto out;
	}
	/* The root: the earliest root span (rows are in display order, roots by start). */
	for (uint32_t r = 0; r < tree.nrows && root == UINT32_MAX; r++)
		if (tree.rows[r].depth == 0)
			root = tree.rows[r].span;
	if (root == UINT32_MAX)
		goto out;

	/* Clip in display order (parents before children) and collect kept children. */
	{
		uint32_t used = 0;
		/* first pass: clip and count children per parent */
		for (uint32_t r = 0; r < tree.nrows; r++) {
			const qry_tree_row *row = &tree.rows[r];
			const qry_tree_span *s = &spans[row->span];
			node *nd = &nodes[row->span];
			nd->start = s->start;
			nd->end = s->end > s->start ? s->end : s->start;
			if (row->depth == 0) {
				nd->kept = row->span == root;
				continue;
			}
			uint32_t p = tree.rows[row->parent].span;
			const node *pn = &nodes[p];
			if (!pn->kept || (spans[p].kind == CM_KIND_PRODUCER && s->kind == CM_KIND_CONSUMER))
				continue;
			if (nd->start >= pn->end || nd->end <= pn->start)
				continue; /* entirely outside its parent */
			if (nd->start < pn->start)
				nd->start = pn->start;
			if (nd->end > pn->end)
				nd->end = pn->end;
			nd->kept = true;
			nodes[p].nchildren++;
		}
		/* second pass: give each parent its slice of child_store */
		for (uint32_t i = 0; i < n; i++) {
			nodes[i].children = child_store + used;
			used += nodes[i].nchildren;
			nodes[i].nchildren = 0;
		}
		for (uint32_t r = 0; r < tree.nrows; r++) {
			const qry_tree_row *row = &tree.rows[r];
			if (row->depth == 0 || !nodes[row->span].kept)
				continue;
			node *pn = &nodes[tree.rows[row->parent].span];
			pn->children[pn->nchildren++] = row->span;
		}
		for (uint32_t i = 0; i < n; i++)
			if (nodes[i].nchildren > 1)
				qsort_r(nodes[i].children, nodes[i].nchildren, sizeof(uint32_t), by_end_desc, nodes);
	}

	stack[top++] = (frame){ root, 0, false };
	while (top > 0) {
		frame f = stack[--top];
		const node *nd = &nodes[f.span];
		uint64_t until = f.has_until ? f.until : nd->end;
		uint32_t child = UINT32_MAX;

		for (uint32_t i = 0; i < nd->nchildren; i++) {
			uint32_t c = nd->children[i];
			if (!f.has_until || nodes[c].end < f.until) {
				child = c;
				break;
			}
		}
		if (child == UINT32_MAX) {
			if ((rv = push_section(&cp, &cap, f.span, nd->start, until)) != CM_OK)
				goto out;
			continue;
		}
		if ((rv = push_section(&cp, &cap, f.span, nodes[child].end, until)) != CM_OK)
			goto out;
		/* LIFO: the child is walked first, then the parent before the child's start. */
		stack[top++] = (frame){ f.span, nodes[child].start, true };
		stack[top++] = (frame){ child, 0, false };
	}
	qsort(cp.v, cp.n, sizeof *cp.v, by_start);
	rv = CM_OK;
out:
	if (rv != CM_OK) {
		cm_free(cp.v);
		cp = (qry_critical_path){ NULL, 0 };
	}
	cm_free(nodes);
	cm_free(child_store);
	cm_free(stack);
	qry_tree_fini(&tree);
	*out = cp;
	return rv;
}

void
qry_critical_path_fini(qry_critical_path *cp)
{
	cm_free(cp->v);
	cp->v = NULL;
	cp->n = 0;
}

int
qry_critical_path_of_trace(const cm_batch *t, qry_critical_path *out)
{
	qry_tree_span *in = qry_tree_spans_of(t);
	int rv;

	if (in == NULL)
		return CM_ENOMEM;
	rv = qry_critical_path_compute(in, t->nspans, out);
	cm_free(in);
	return rv;
}
