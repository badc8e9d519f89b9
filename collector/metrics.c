/*
 * metrics.c - Prometheus text rendering of the collector's counters.
 */
#include "metrics.h"

#include <stddef.h>

static const uint64_t bucket_us[COL_LATENCY_BUCKETS] = { 50, 100, 250, 500, 1000, 2500,
	5000, 10000, 25000, 50000, 100000, 1000000 };
static const char *const rx_names[COL_RX_COUNT] = { "native", "otlp_http", "zipkin" };

#define LOAD(x) ((unsigned long long)atomic_load_explicit(&(x), memory_order_relaxed))

void
col_metrics_observe_write(col_metrics *m, uint64_t us, uint32_t spans)
{
	atomic_fetch_add_explicit(&m->write_spans, spans, memory_order_relaxed);
	int i = 0;
	while (i < COL_LATENCY_BUCKETS && us > bucket_us[i])
		i++;
	atomic_fetch_add_explicit(&m->write_us_bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->write_us_sum, us, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->write_batches, 1, memory_order_relaxed);
}

static void
counter(cm_buf *out, const char *name, const char *help)
{
	cm_buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
}

static void
per_receiver(cm_buf *out, const char *name, const char *help, col_metrics *m, size_t offset)
{
	counter(out, name, help);
	for (int r = 0; r < COL_RX_COUNT; r++) {
		atomic_uint_fast64_t *c = (atomic_uint_fast64_t *)((char *)&m->rx[r] + offset);
		cm_buf_printf(out, "%s{receiver=\"%s\"} %llu\n", name, rx_names[r], LOAD(*c));
	}
}

#define RX_OFFSET(field) offsetof(__typeof__(((col_metrics *)0)->rx[0]), field)

void
col_metrics_render(col_metrics *m, const col_gauges *g, cm_buf *out)
{
	unsigned long long cum = 0;

	per_receiver(out, "weft_receiver_requests_total", "Requests received.", m, RX_OFFSET(requests));
	per_receiver(out, "weft_receiver_requests_rejected_total", "Requests rejected as malformed or over limits.", m, RX_OFFSET(requests_rejected));
	per_receiver(out, "weft_receiver_requests_throttled_total", "Requests refused for now (memory limit or storage unavailable); senders retry.", m, RX_OFFSET(requests_throttled));
	per_receiver(out, "weft_receiver_spans_received_total", "Spans decoded.", m, RX_OFFSET(spans_received));
	per_receiver(out, "weft_receiver_spans_accepted_total", "Spans acknowledged: staged durably.", m, RX_OFFSET(spans_accepted));
	per_receiver(out, "weft_receiver_spans_rejected_total", "Spans refused by validation.", m, RX_OFFSET(spans_rejected));
	counter(out, "weft_values_truncated_total", "Attribute values cut to the length limit.");
	cm_buf_printf(out, "weft_values_truncated_total %llu\n", LOAD(m->values_truncated));
	counter(out, "weft_attributes_dropped_total", "Attributes dropped over the per-span limit.");
	cm_buf_printf(out, "weft_attributes_dropped_total %llu\n", LOAD(m->attributes_dropped));
	counter(out, "weft_store_write_errors_total", "Storage writes that failed.");
	cm_buf_printf(out, "weft_store_write_errors_total %llu\n", LOAD(m->write_errors));
	counter(out, "weft_store_written_spans_total", "Spans written to the store.");
	cm_buf_printf(out, "weft_store_written_spans_total %llu\n", LOAD(m->write_spans));
	cm_buf_puts(out, "# HELP weft_memory_limit_used_bytes Bytes of requests in progress (the memory limiter).\n"
	                 "# TYPE weft_memory_limit_used_bytes gauge\n");
	cm_buf_printf(out, "weft_memory_limit_used_bytes %llu\n", (unsigned long long)g->budget_used);
	cm_buf_puts(out, "# HELP weft_memory_limit_bytes The memory limiter's limit.\n# TYPE weft_memory_limit_bytes gauge\n");
	cm_buf_printf(out, "weft_memory_limit_bytes %llu\n", (unsigned long long)g->budget_limit);
	cm_buf_puts(out, "# HELP weft_storage_bytes Bytes of the store on disk (SST files and WAL).\n# TYPE weft_storage_bytes gauge\n");
	cm_buf_printf(out, "weft_storage_bytes %llu\n", (unsigned long long)g->storage_bytes);

	cm_buf_puts(out, "# HELP weft_staged_batches Requests acknowledged (staged) and not yet written to the store.\n"
	                 "# TYPE weft_staged_batches gauge\n");
	cm_buf_printf(out, "weft_staged_batches %llu\n", LOAD(m->staged_batches));
	cm_buf_puts(out, "# HELP weft_staged_spans Spans acknowledged (staged) and not yet written to the store.\n"
	                 "# TYPE weft_staged_spans gauge\n");
	cm_buf_printf(out, "weft_staged_spans %llu\n", LOAD(m->staged_spans));
	cm_buf_puts(out, "# HELP weft_store_write_seconds Time of one write of staged spans to the store.\n"
	                 "# TYPE weft_store_write_seconds histogram\n");
	for (int i = 0; i <= COL_LATENCY_BUCKETS; i++) {
		cum += LOAD(m->write_us_bucket[i]);
		if (i < COL_LATENCY_BUCKETS)
			cm_buf_printf(out, "weft_store_write_seconds_bucket{le=\"%g\"} %llu\n", (double)bucket_us[i] / 1e6, cum);
		else
			cm_buf_printf(out, "weft_store_write_seconds_bucket{le=\"+Inf\"} %llu\n", cum);
	}
	cm_buf_printf(out, "weft_store_write_seconds_sum %g\n", (double)LOAD(m->write_us_sum) / 1e6);
	cm_buf_printf(out, "weft_store_write_seconds_count %llu\n", LOAD(m->write_batches));
}
