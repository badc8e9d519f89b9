/*
 * breakdown.h - where a trace's time goes, per service and per operation:
 * what Jaeger UI's "trace statistics" view shows, computed in the daemon.
 *
 * For each group: span count; total, min, avg and max duration; self time
 * (a span's duration not covered by its children, overlapping children
 * counted once) as total, min, avg and max; and the share of the trace's
 * duration spent in the group's self time. Durations in ns.
 */
#ifndef WEFT_QUERY_BREAKDOWN_H
#define WEFT_QUERY_BREAKDOWN_H

#include <stdint.h>

#include "span.h"

typedef struct qry_bd_row {
	cm_str service;
	cm_str operation; /* empty in per-service rows */
	uint32_t count;
	uint64_t total, min, max;
	uint64_t self_total, self_min, self_max;
	double self_share; /* self_total / trace duration, 0..1 */
} qry_bd_row;

typedef struct qry_breakdown {
	qry_bd_row *services;   /* sorted by self_total, largest first */
	uint32_t nservices;
	qry_bd_row *operations; /* likewise */
	uint32_t noperations;
	uint64_t trace_start, trace_end;
} qry_breakdown;

/* Strings point into t, which must outlive the result. OUT: *out (fini it). */
int qry_breakdown_compute(const cm_batch *t, qry_breakdown *out);
void qry_breakdown_fini(qry_breakdown *b);

#endif
