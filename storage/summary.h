/*
 * summary.h - trace summaries, kept at ingest (storage-internal).
 *
 * Every span block (keys.h) starts with the partial summary of the spans
 * it holds, one trace's spans of one batch: their earliest start and
 * latest end, spans, errors, the root span's service and operation when
 * the block has it, and spans per service. Reading a summary merges a
 * trace's partials, one prefix seek per live partition, without decoding
 * a span. The header costs no write of its own: separate summary entries
 * cost ingest 18% (random keys in a second family to insert and compact),
 * the header nothing measurable. A batch written again as it was written
 * before rewrites its blocks; resent alone after it was merged with other
 * batches in a write (spanwrite.c), or after its partition ended, its
 * spans are counted twice (trace reads drop the repeats).
 */
#ifndef WEFT_STORAGE_SUMMARY_H
#define WEFT_STORAGE_SUMMARY_H

#include "block.h"
#include "store_int.h"

/* Reused memory of st_summary_put(). */
typedef struct st_summary_scratch {
	struct svc_count *svcs;
	size_t cap;
} st_summary_scratch;

void st_summary_scratch_fini(st_summary_scratch *s);

/*
 * Appends the partial summary of refs[0..n), spans of one trace in batch
 * b: varints (latest end - earliest start, errors, 1 and the root's service
 * and operation or 0, services, then per service its name and spans), names
 * as blocks write them (block.h). The earliest start and the span count are
 * the spans' own (block.h). False when out of memory.
 */
bool st_summary_put(cm_buf *out, const st_block_enc *enc, const cm_batch *b, const cm_span *const *refs, size_t n,
    st_summary_scratch *scratch);

/* st_trace_summary() with s->lock held. */
int st_trace_summary_locked(st_store *s, const cm_trace_id *id, st_summary *out);

#endif
