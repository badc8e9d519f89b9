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
	COL_RX_COUNT
} col_receiver;

/* Upper bounds (µs) of the write latency histogram buckets; +Inf follows. */
#define COL_LATENCY_BUCKETS 12

typedef struct col_metrics {
	struct {
		atomic_uint_fast64_t requests;
		atomic_uint_fast64_t requests_rejected;
		atomic_uint_fast64_t spans_received;
		atomic_uint_fast64_t spans_accepted;
		atomic_uint_fast64_t spans_rejected;
	} rx[COL_RX_COUNT];
	atomic_uint_fast64_t write_batches;
	atomic_uint_fast64_t write_errors;
	atomic_uint_fast64_t write_us_sum;
	atomic_uint_fast64_t write_us_bucket[COL_LATENCY_BUCKETS + 1];
} col_metrics;

void col_metrics_observe_write(col_metrics *m, uint64_t us);
/* Appends the Prometheus text exposition of m to out. */
void col_metrics_render(col_metrics *m, cm_buf *out);

#endif
