/*
 * critpath.h - a trace's critical path, computed as Jaeger UI computes it.
 *
 * Over the span tree (spantree.h), from the root (the earliest root span):
 *   1. Children are clipped to their parent's time: a child entirely
 *      outside its (clipped) parent is dropped, one overflowing it is cut.
 *      A CONSUMER child of a PRODUCER span does not block its parent and
 *      is left out, as are spans under it.
 *   2. Walking back from the root's end, the critical path is the
 *      last-finishing child that ends before the point reached, recursively;
 *      the parent owns the stretches between those children.
 * The result is a list of sections {span, start, end}, ordered by start.
 */
#ifndef WEFT_QUERY_CRITPATH_H
#define WEFT_QUERY_CRITPATH_H

#include <stdint.h>

#include "span.h"
#include "spantree.h"

typedef struct qry_cp_section {
	uint32_t span; /* index into the input spans */
	uint64_t start;
	uint64_t end;
} qry_cp_section;

typedef struct qry_critical_path {
	qry_cp_section *v;
	uint32_t n;
} qry_critical_path;

/* The critical path of a stored trace; section spans index t->spans. */
int qry_critical_path_of_trace(const cm_batch *t, qry_critical_path *out);

/* OUT: *out (fini it). Returns CM_OK or CM_ENOMEM; an empty trace gives n == 0. */
int qry_critical_path_compute(const qry_tree_span *spans, uint32_t n, qry_critical_path *out);
void qry_critical_path_fini(qry_critical_path *cp);

#endif
