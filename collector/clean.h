/*
 * clean.h - the collector's checks and repairs of a decoded batch.
 *
 * Every receiver's batch is cleaned before it is acknowledged, and the
 * writer cleans it again when it reads a batch a crash left staged
 * (writer.h): a native request is staged as it came, and cleaning a clean
 * batch changes nothing, so both give the same spans.
 */
#ifndef WEFT_COLLECTOR_CLEAN_H
#define WEFT_COLLECTOR_CLEAN_H

#include <stdint.h>

#include "span.h"

/* The collector's limits on what one request may hold; receivers read them too. 0: no limit. */
typedef struct col_limits {
	uint32_t max_value_bytes; /* longer string/bytes attribute values are cut */
	uint32_t max_attributes;  /* per span, event and link: more are dropped (and counted in the span) */
	uint32_t max_batch_spans; /* spans in one request: more refuse the request (413 / REJECTED) */
	uint32_t max_json_depth;  /* nesting of a JSON body: deeper refuses it (400) */
} col_limits;

typedef struct col_clean_result {
	uint32_t rejected;        /* invalid spans removed */
	uint32_t truncated;       /* values cut */
	uint32_t dropped;         /* attributes dropped */
	const char *first_reason; /* static; for the first rejected span */
} col_clean_result;

/*
 * Repairs what can be repaired (an empty service name becomes
 * "unknown_service"; over-long attribute values are cut, at a UTF-8
 * character boundary for strings; attributes over the limit are dropped
 * and counted in the span's dropped_attributes_count) and removes invalid
 * spans (cm_span_validate), keeping the order of the others. OUT: *r.
 */
void col_clean(const col_limits *lim, cm_batch *b, col_clean_result *r);

#endif
