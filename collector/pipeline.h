/*
 * pipeline.h - what every receiver hands its decoded batches to.
 *
 * col_pipeline_write() cleans a batch (clean.h), counting what it
 * changed, and returns only once the valid spans are durable (staged by
 * the writer, writer.h): a receiver may acknowledge exactly when it
 * returns CM_OK.
 * This is the seam behind which batching writers and a distributed bus can
 * later sit (docs/architecture.md).
 *
 * Threads: safe to call from any number of receiver threads at once.
 */
#ifndef WEFT_COLLECTOR_PIPELINE_H
#define WEFT_COLLECTOR_PIPELINE_H

#include "clean.h"
#include "metrics.h"
#include "span.h"
#include "writer.h"

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
 * Cleans b (clean.h; counted in weft_values_truncated_total and
 * weft_attributes_dropped_total) and has the writer stage the rest. raw,
 * when not NULL, is the native BATCH message (docs/wire-format.md) b was
 * decoded from, carrying no token: it is staged as it is, else b is
 * encoded as one. Returns CM_OK (with *res filled), CM_EAGAIN when the
 * store cannot take writes now (the sender should retry), or another error.
 */
int col_pipeline_write(col_pipeline *p, col_receiver rx, cm_batch *b, const void *raw, size_t raw_len,
    col_write_result *res);

#endif
