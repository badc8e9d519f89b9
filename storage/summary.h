/*
 * summary.h - trace summaries, read from the span blocks (storage-internal).
 *
 * A summary (earliest start, latest end, spans, errors, the root span's
 * service and operation once it has arrived, spans per service) merges
 * the outlines of a trace's blocks, one prefix seek per live partition:
 * st_block_outline() reads the parents, shapes, names, starts, durations
 * and refs columns of a block (block.h), not its attributes, and the
 * services come from the resources its refs name (st_resource_service,
 * cached by content hash). Until the thirteenth session each block began with its partial
 * summary, a byte per span of the spans family (docs/benchmarks.md). A
 * batch written again as it was written before rewrites its blocks;
 * resent alone after it was merged with other batches in a write
 * (spanwrite.c), or after its partition ended, its spans are counted twice
 * (trace reads drop the repeats).
 */
#ifndef WEFT_STORAGE_SUMMARY_H
#define WEFT_STORAGE_SUMMARY_H

#include "block.h"
#include "store_int.h"

/* st_trace_summary() with s->lock held. */
int st_trace_summary_locked(st_store *s, const cm_trace_id *id, st_summary *out);

#endif
