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

typedef struct col_pipeline {
	col_writer *writer;
	col_metrics *metrics;
	uint32_t max_value_bytes; /* longer string/bytes attribute values are cut; 0: no limit */
} col_pipeline;

typedef struct col_write_result {
	uint32_t accepted;
	uint32_t rejected;
	const char *first_reason; /* static; for the first rejected span */
} col_write_result;

/*
 * Validates b (repairing what can be repaired: an empty service name
 * becomes "unknown_service"; over-long attribute values are cut, at a UTF-8
 * character boundary for strings, and counted in weft_values_truncated_total),
 * removes invalid spans from it, writes the rest.
 * Returns CM_OK (with *res filled), CM_EAGAIN when the store cannot take
 * writes now (the sender should retry), or another error.
 */
int col_pipeline_write(col_pipeline *p, col_receiver rx, cm_batch *b, col_write_result *res);

#endif
