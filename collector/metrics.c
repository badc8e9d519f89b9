/*
 * metrics.c - Prometheus text rendering of the collector's counters.
 */
#include "metrics.h"

static const uint64_t bucket_us[COL_LATENCY_BUCKETS] = { 50, 100, 250, 500, 1000, 2500,
	5000, 10000, 25000, 50000, 100000, 1000000 };
static const char *const rx_names[COL_RX_COUNT] = { "native" };

#define LOAD(x) ((unsigned long long)atomic_load_explicit(&(x), memory_order_relaxed))

void
col_metrics_observe_write(col_metrics *m, uint64_t us)
{
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

void
col_metrics_render(col_metrics *m, cm_buf *out)
{
	unsigned long long cum = 0;

	counter(out, "weft_receiver_requests_total", "Requests received, by receiver.");
	for (int r = 0; r < COL_RX_COUNT; r++)
		cm_buf_printf(out, "weft_receiver_requests_total{receiver=\"%s\"} %llu\n", rx_names[r], LOAD(m->rx[r].requests));
	counter(out, "weft_receiver_requests_rejected_total", "Requests rejected as malformed or over limits.");
	for (int r = 0; r < COL_RX_COUNT; r++)
		cm_buf_printf(out, "weft_receiver_requests_rejected_total{receiver=\"%s\"} %llu\n", rx_names[r], LOAD(m->rx[r].requests_rejected));
	counter(out, "weft_receiver_spans_received_total", "Spans decoded, by receiver.");
	for (int r = 0; r < COL_RX_COUNT; r++)
		cm_buf_printf(out, "weft_receiver_spans_received_total{receiver=\"%s\"} %llu\n", rx_names[r], LOAD(m->rx[r].spans_received));
	counter(out, "weft_receiver_spans_accepted_total", "Spans written durably, by receiver.");
	for (int r = 0; r < COL_RX_COUNT; r++)
		cm_buf_printf(out, "weft_receiver_spans_accepted_total{receiver=\"%s\"} %llu\n", rx_names[r], LOAD(m->rx[r].spans_accepted));
	counter(out, "weft_receiver_spans_rejected_total", "Spans refused by validation, by receiver.");
	for (int r = 0; r < COL_RX_COUNT; r++)
		cm_buf_printf(out, "weft_receiver_spans_rejected_total{receiver=\"%s\"} %llu\n", rx_names[r], LOAD(m->rx[r].spans_rejected));
	counter(out, "weft_store_write_errors_total", "Storage writes that failed.");
	cm_buf_printf(out, "weft_store_write_errors_total %llu\n", LOAD(m->write_errors));

	cm_buf_puts(out, "# HELP weft_store_write_seconds Time to make one batch durable.\n"
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
