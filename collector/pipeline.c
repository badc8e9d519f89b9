/*
 * pipeline.c - validate, then write durably.
 */
#include "pipeline.h"

#include "clock.h"
#include "err.h"
#include "log.h"

#define ADD(counter, n) atomic_fetch_add_explicit(&(counter), (n), memory_order_relaxed)

int
col_pipeline_write(col_pipeline *p, col_receiver rx, cm_batch *b, col_write_result *res)
{
	uint32_t kept = 0;
	uint64_t t0;
	int rv;

	res->accepted = res->rejected = 0;
	res->first_reason = NULL;
	ADD(p->metrics->rx[rx].spans_received, b->nspans);
	for (uint32_t i = 0; i < b->nresources; i++)
		if (b->resources[i].service.len == 0)
			b->resources[i].service = CM_STR("unknown_service");
	for (uint32_t i = 0; i < b->nspans; i++) {
		const char *why;
		if (cm_span_validate(b, &b->spans[i], &why) != CM_OK) {
			if (res->first_reason == NULL)
				res->first_reason = why;
			res->rejected++;
			continue;
		}
		b->spans[kept++] = b->spans[i];
	}
	b->nspans = kept;
	ADD(p->metrics->rx[rx].spans_rejected, res->rejected);
	if (kept == 0)
		return CM_OK;

	t0 = cm_mono_ns();
	rv = st_store_write(p->store, b);
	if (rv != CM_OK) {
		ADD(p->metrics->write_errors, 1);
		cm_log(CM_LOG_ERROR, "COL-WRITE", "writing %u spans failed: %s", kept, cm_strerror(rv));
		/* Storage trouble (disk full, I/O) may pass: let the sender retry. */
		return CM_EAGAIN;
	}
	col_metrics_observe_write(p->metrics, (cm_mono_ns() - t0) / 1000);
	ADD(p->metrics->rx[rx].spans_accepted, kept);
	res->accepted = kept;
	return CM_OK;
}
