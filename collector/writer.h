/*
 * writer.h - the collector's batching writer.
 *
 * Receiver threads hand validated batches to one writer thread and wait.
 * The writer takes every batch that is queued (up to max_spans; after
 * waiting up to linger_us for more when it has less), writes them all as
 * one RocksDB write batch (st_store_write_many: one WAL write), and wakes
 * each waiter with the result. Under load this turns many small writes into
 * few large ones without adding latency when idle (linger 0).
 *
 * Threads: col_writer_write() from any thread; one internal writer thread.
 */
#ifndef WEFT_COLLECTOR_WRITER_H
#define WEFT_COLLECTOR_WRITER_H

#include <stdint.h>

#include "metrics.h"
#include "span.h"
#include "store.h"

typedef struct col_writer col_writer;

typedef struct col_writer_config {
	uint32_t max_spans; /* spans in one write; 0: 65536 */
	uint32_t linger_us; /* wait for more batches when under max_spans; 0: none */
} col_writer_config;

int col_writer_start(st_store *store, col_metrics *m, const col_writer_config *cfg, col_writer **out);

/*
 * Writes b durably (it must stay valid until the call returns). Returns
 * CM_OK once it is in the write-ahead log, CM_ECLOSED when the writer is
 * stopping, or the storage error.
 */
int col_writer_write(col_writer *w, const cm_batch *b);

/* Writes what is queued, stops the thread, frees. NULL is a no-op. */
void col_writer_stop(col_writer *w);

#endif
