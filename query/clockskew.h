/*
 * clockskew.h - clock-skew adjustment as Jaeger's query service does it.
 *
 * Walking each span tree from its root: when a span runs on another host
 * than its parent (resource host.name, else host.ip) and does not fit
 * inside its (already adjusted) parent, while being no longer than it, it
 * is moved so that it sits in the middle of the parent (assuming the
 * network latency was the same both ways), and the same shift applies to
 * its descendants on its host. A shift larger than max_delta_ns is not
 * applied; max_delta_ns == 0 disables adjustment. Each shifted span, and
 * each span whose shift was refused or whose parent is missing, gets a
 * warning in Jaeger's wording.
 */
#ifndef WEFT_QUERY_CLOCKSKEW_H
#define WEFT_QUERY_CLOCKSKEW_H

#include <stdint.h>

#include "span.h"

#define QRY_MAX_WARNINGS 2

typedef struct qry_span_warnings {
	char text[QRY_MAX_WARNINGS][192];
	uint8_t n;
} qry_span_warnings;

/*
 * Adjusts the spans (and their events) of t in place; warn[i] (t->nspans
 * entries, zeroed by the caller) receives span i's warnings.
 * Returns CM_OK or CM_ENOMEM (then nothing was changed).
 */
int qry_clock_skew_adjust(cm_batch *t, uint64_t max_delta_ns, qry_span_warnings *warn);

#endif
