/*
 * spantree.c - parent links -> depth-first display order, O(n log n).
 */
#include "spantree.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "err.h"

typedef struct node {
	uint32_t first_child, next_sibling, last_child; /* UINT32_MAX: none */
	bool visited;  /* emitted, or a duplicate that never will be */
	bool attached; /* has a parent in the trace */
} node;

static const cm_span_id zero_id;

static int
by_start(const void *a, const void *b, void *arg)
{
	const qry_tree_span *spans = arg;
	const qry_tree_span *x = &spans[*(const uint32_t *)a], *y = &spans[*(const uint32_t *)b];
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return memcmp(x->id.b, y->id.b, 8);
}

static int
by_id(const void *a, const void *b, void *arg)
{
	const qry_tree_span *spans = arg;
	const qry_tree_span *x = &spans[*(const uint32_t *)a], *y = &spans[*(const uint32_t *)b];
	int c = memcmp(x->id.b, y->id.b, 8);
	if (c != 0)
		return c;
	return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1; /* first occurrence first */
}

/* Index of the first span with id in the by-id order, or UINT32_MAX. */
static uint32_t
find(const qry_tree_span *spans, const uint32_t *ids, uint32_t n, const cm_span_id *id)
{
	uint32_t lo = 0, hi = n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (memcmp(spans[ids[mid]].id.b, id->b, 8) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && memcmp(spans[ids[lo]].id.b, id->b, 8) == 0 ? ids[lo] : UINT32_MAX;
}

static void
push_child(node *nodes, uint32_t parent, uint32_t child)
{
	if (nodes[parent].first_child == UINT32_MAX)
		nodes[parent].first_child = child;
	else
		nodes[nodes[parent].last_child].next_sibling = child;
	nodes[parent].last_child = child;
}

/* Appends the subtree of root to t in depth-first order; stack holds row indexes. */
static void
walk(node *nodes, uint32_t root, uint32_t *stack, qry_tree *t)
{
	uint32_t top = 0;

	nodes[root].visited = true;
	t->rows[t->nrows] = (qry_tree_row){ root, 0, UINT32_MAX };
	stack[top++] = t->nrows++;
	while (top > 0) {
		uint32_t row = stack[top - 1];
		uint32_t span = t->rows[row].span;
		uint32_t c = nodes[span].first_child;
		while (c != UINT32_MAX && nodes[c].visited)
			c = nodes[c].next_sibling;
		if (c == UINT32_MAX) {
			top--;
			continue;
		}
		nodes[c].visited = true;
		nodes[span].first_child = nodes[c].next_sibling; /* children are emitted once */
		t->rows[t->nrows] = (qry_tree_row){ c, t->rows[row].depth + 1, row };
		stack[top++] = t->nrows++;
	}
}

int
qry_tree_build(const qry_tree_span *spans, uint32_t n, qry_tree *out)
{
	uint32_t *order = cm_malloc((n + 1) * sizeof *order);
	uint32_t *ids = cm_malloc((n + 1) * sizeof *ids);
	uint32_t *stack = cm_malloc((n + 1) * sizeof *stack);
	node *nodes = cm_malloc((n + 1) * sizeof *nodes);
	qry_tree t = { 0 };
	uint32_t nids = 0;

	t.rows = cm_malloc((n + 1) * sizeof *t.rows);
	if (order == NULL || ids == NULL || stack == NULL || nodes == NULL || t.rows == NULL) {
		cm_free(order), cm_free(ids), cm_free(stack), cm_free(nodes), cm_free(t.rows);
		return CM_ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++) {
		order[i] = ids[i] = i;
		nodes[i] = (node){ UINT32_MAX, UINT32_MAX, UINT32_MAX, false, false };
	}
	qsort_r(ids, n, sizeof *ids, by_id, (void *)spans);
	/* Keep the first occurrence of each id; later ones are duplicates. */
	for (uint32_t i = 0; i < n; i++) {
		if (nids > 0 && memcmp(spans[ids[nids - 1]].id.b, spans[ids[i]].id.b, 8) == 0) {
			nodes[ids[i]].visited = true; /* never shown */
			t.duplicates++;
			continue;
		}
		ids[nids++] = ids[i];
	}
	qsort_r(order, n, sizeof *order, by_start, (void *)spans);

	for (uint32_t k = 0; k < n; k++) {
		uint32_t i = order[k], p;
		if (nodes[i].visited)
			continue; /* duplicate */
		if (memcmp(&spans[i].parent, &zero_id, sizeof zero_id) == 0)
			continue;
		p = find(spans, ids, nids, &spans[i].parent);
		if (p == UINT32_MAX || p == i) {
			t.orphans++;
			continue;
		}
		nodes[i].attached = true;
		push_child(nodes, p, i);
	}
	/* Roots are spans that are nobody's child: walk them in start order. */
	for (uint32_t k = 0; k < n; k++) {
		uint32_t i = order[k];
		if (!nodes[i].visited && !nodes[i].attached)
			walk(nodes, i, stack, &t);
	}
	/* Whatever is left sits in a parent cycle: show each as a root. */
	for (uint32_t k = 0; k < n; k++)
		if (!nodes[order[k]].visited) {
			t.orphans++;
			walk(nodes, order[k], stack, &t);
		}
	cm_free(order);
	cm_free(ids);
	cm_free(stack);
	cm_free(nodes);
	*out = t;
	return CM_OK;
}

void
qry_tree_fini(qry_tree *t)
{
	cm_free(t->rows);
	memset(t, 0, sizeof *t);
}

qry_tree_span *
qry_tree_spans_of(const cm_batch *t)
{
	qry_tree_span *in = cm_calloc(t->nspans + 1, sizeof *in);
	if (in == NULL)
		return NULL;
	for (uint32_t i = 0; i < t->nspans; i++) {
		const cm_span *s = &t->spans[i];
		in[i] = (qry_tree_span){ s->span_id, s->parent_span_id, s->start_ns, s->end_ns, s->kind };
	}
	return in;
}
