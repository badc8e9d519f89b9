/*
 * metrics.h - the collector's own counters, served on /metrics.
 *
 * Counters are relaxed atomics updated by receiver threads and read by the
 * admin listener; a reading is not a consistent snapshot across counters.
 */
#ifndef WEFT_COLLECTOR_METRICS_H
#define WEFT_COLLECTOR_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "buf.h"

typedef enum col_receiver {
	COL_RX_NATIVE = 0,
	COL_RX_OTLP_HTTP = 1,
	COL_RX_ZIPKIN = 2,
	COL_RX_COUNT
} col_receiver;

/* Upper bounds (µs) of the write latency histogram buckets; +Inf follows. */
#define COL_LATENCY_BUCKETS 12

typedef struct col_metrics {
	struct {
		atomic_uint_fast64_t requests;
		atomic_uint_fast64_t requests_rejected;
		atomic_uint_fast64_t requests_throttled; /* refused: memory limit or storage unavailable */
		atomic_uint_fast64_t spans_received;
		atomic_uint_fast64_t spans_accepted;
		atomic_uint_fast64_t spans_rejected;
	} rx[COL_RX_COUNT];
	atomic_uint_fast64_t values_truncated;
	atomic_uint_fast64_t attributes_dropped;
	atomic_uint_fast64_t write_batches;
	atomic_uint_fast64_t write_spans;
	atomic_uint_fast64_t write_errors;
	atomic_uint_fast64_t write_us_sum;
	atomic_uint_fast64_t write_us_bucket[COL_LATENCY_BUCKETS + 1];
	atomic_uint_fast64_t staged_batches; /* gauges, set by the writer: acknowledged, not written yet */
	atomic_uint_fast64_t staged_spans;
} col_metrics;

void col_metrics_observe_write(col_metrics *m, uint64_t us, uint32_t spans);

/* Gauges read at render time. */
typedef struct col_gauges {
	uint64_t budget_used;   /* bytes of requests in progress */
	uint64_t budget_limit;
	uint64_t storage_bytes; /* SST files + WAL on disk */
} col_gauges;

/* Appends the Prometheus text exposition of m and g to out. */
void col_metrics_render(col_metrics *m, const col_gauges *g, cm_buf *out);

#endif
