/*
 * pipeline.h - what every receiver hands its decoded batches to.
 *
 * col_pipeline_write() validates a batch, drops (and counts) invalid spans,
 * and returns only once the valid ones are durable in the store's
 * write-ahead log (through the batching writer, writer.h): a receiver may
 * acknowledge exactly when it returns CM_OK.
 * This is the seam behind which batching writers and a distributed bus can
 * later sit (docs/architecture.md).
 *
 * Threads: safe to call from any number of receiver threads at once.
 */
#ifndef WEFT_COLLECTOR_PIPELINE_H
#define WEFT_COLLECTOR_PIPELINE_H

#include "metrics.h"
#include "span.h"
#include "writer.h"

/* The collector's limits on what one request may hold; receivers read them too. 0: no limit. */
typedef struct col_limits {
	uint32_t max_value_bytes; /* longer string/bytes attribute values are cut */
	uint32_t max_attributes;  /* per span, event and link: more are dropped (and counted in the span) */
	uint32_t max_batch_spans; /* spans in one request: more refuse the request (413 / REJECTED) */
	uint32_t max_json_depth;  /* nesting of a JSON body: deeper refuses it (400) */
} col_limits;

typedef struct col_pipeline {
	col_writer *writer;
	col_metrics *metrics;
	col_limits limits;
} col_pipeline;

typedef struct col_write_result {
	uint32_t accepted;
	uint32_t rejected;
	const char *first_reason; /* static; for the first rejected span */
} col_write_result;

/*
 * Validates b (repairing what can be repaired: an empty service name
 * becomes "unknown_service"; over-long attribute values are cut, at a UTF-8
 * character boundary for strings, and counted in weft_values_truncated_total;
 * attributes over the limit are dropped, counted in the span's
 * dropped_attributes_count and in weft_attributes_dropped_total),
 * removes invalid spans from it, writes the rest.
 * Returns CM_OK (with *res filled), CM_EAGAIN when the store cannot take
 * writes now (the sender should retry), or another error.
 */
int col_pipeline_write(col_pipeline *p, col_receiver rx, cm_batch *b, col_write_result *res);

#endif
