/*
 * writer.h - the collector's writer: stage, acknowledge, then write a
 * window's spans together.
 *
 * A trace's spans arrive from each of its services' exporters in requests
 * of their own. Written as they came, each write stored its own block of
 * the trace and its own index entries for it. So receiver threads hand
 * cleaned batches to a stager thread, which stages every batch queued in
 * one durable write (st_stage: the bytes of a native BATCH message) and
 * wakes each caller with the result: the acknowledgement. It keeps the
 * batches. An assembler thread writes them once the oldest staged batch
 * is `window` old, or max_spans are staged, as one st_store_write_staged()
 * (a trace's spans in all of them one block, indexed once), which deletes
 * their records. Staged spans reach queries that much later. On start,
 * what a crash left staged is read back, cleaned again (clean.h) and
 * written first. When the assembler falls behind (1.25 x max_spans kept),
 * the stager waits for it, then answers CM_EAGAIN.
 *
 * Threads: col_writer_write() from any thread; two internal threads.
 */
#ifndef WEFT_COLLECTOR_WRITER_H
#define WEFT_COLLECTOR_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "clean.h"
#include "metrics.h"
#include "span.h"
#include "store.h"

typedef struct col_writer col_writer;

typedef struct col_writer_config {
	uint32_t max_spans; /* spans in one write; 0: 65536 */
	uint64_t window_ns; /* how long a staged batch waits for the rest of its traces */
	col_limits limits;  /* what the receivers cleaned with */
} col_writer_config;

int col_writer_start(st_store *store, col_metrics *m, const col_writer_config *cfg, col_writer **out);

/*
 * Stages b durably: raw[0..raw_len) if raw is not NULL (the native BATCH
 * message b was decoded from, without a token; b must own its bytes, as
 * a decoded native batch does), else b encoded as one. Returns CM_OK once
 * staged, with b moved into the writer (b is left empty), CM_ECLOSED when
 * the writer is stopping, CM_EAGAIN when it is behind, or the storage
 * error (b untouched).
 */
int col_writer_write(col_writer *w, cm_batch *b, const void *raw, size_t raw_len);

/* Stages what is queued, writes everything staged, stops the threads, frees. NULL is a no-op. */
void col_writer_stop(col_writer *w);

#endif
