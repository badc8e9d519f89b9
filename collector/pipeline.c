/*
 * pipeline.c - clean, then stage durably.
 */
#include "pipeline.h"

#include "err.h"
#include "log.h"

#define ADD(counter, n) atomic_fetch_add_explicit(&(counter), (n), memory_order_relaxed)

int
col_pipeline_write(col_pipeline *p, col_receiver rx, cm_batch *b, const void *raw, size_t raw_len,
    col_write_result *res)
{
	col_clean_result c;
	uint32_t kept;
	int rv;

	ADD(p->metrics->rx[rx].spans_received, b->nspans);
	col_clean(&p->limits, b, &c);
	res->accepted = 0;
	res->rejected = c.rejected;
	res->first_reason = c.first_reason;
	if (c.truncated > 0)
		ADD(p->metrics->values_truncated, c.truncated);
	if (c.dropped > 0)
		ADD(p->metrics->attributes_dropped, c.dropped);
	ADD(p->metrics->rx[rx].spans_rejected, c.rejected);
	kept = b->nspans;
	if (kept == 0)
		return CM_OK;

	rv = col_writer_write(p->writer, b, raw, raw_len);
	if (rv != CM_OK) {
		cm_log(CM_LOG_ERROR, "COL-WRITE", "writing %u spans failed: %s", kept, cm_strerror(rv));
		/* Storage trouble (disk full, I/O) may pass, and a stopping writer means
		 * another collector will take it: let the sender retry. */
		return CM_EAGAIN;
	}
	ADD(p->metrics->rx[rx].spans_accepted, kept);
	res->accepted = kept;
	return CM_OK;
}
