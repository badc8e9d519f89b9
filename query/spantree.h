/*
 * spantree.h - a trace's spans arranged as a tree, in display order.
 *
 * Pure function over (span id, parent id, start, end): the parent is the
 * span's parent span id; spans whose parent is absent from the trace become
 * extra roots (counted as orphans); repeated span ids are kept once (counted
 * as duplicates); spans caught in a parent cycle are shown as roots too.
 * Children are ordered by start time, then span id; so are roots.
 */
#ifndef WEFT_QUERY_SPANTREE_H
#define WEFT_QUERY_SPANTREE_H

#include <stdint.h>

#include "ids.h"
#include "span.h"

typedef struct qry_tree_span {
	cm_span_id id;
	cm_span_id parent; /* zero for a root */
	uint64_t start;
	uint64_t end;
	uint8_t kind;      /* cm_span_kind; used by the critical path */
} qry_tree_span;

typedef struct qry_tree_row {
	uint32_t span;   /* index into the input */
	uint32_t depth;  /* 0 for roots */
	uint32_t parent; /* row index of the parent, UINT32_MAX for roots */
} qry_tree_row;

typedef struct qry_tree {
	qry_tree_row *rows; /* depth-first, display order */
	uint32_t nrows;
	uint32_t duplicates;
	uint32_t orphans;
} qry_tree;

/* The tree input for a stored trace (free with cm_free), or NULL when out of memory. */
qry_tree_span *qry_tree_spans_of(const cm_batch *t);

/* OUT: *out (fini it). Returns CM_OK or CM_ENOMEM. */
int qry_tree_build(const qry_tree_span *spans, uint32_t n, qry_tree *out);
void qry_tree_fini(qry_tree *t);

#endif
