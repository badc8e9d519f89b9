/*
 * deps.h - service dependencies maintained at ingest (storage-internal).
 *
 * An edge parent-service -> child-service is one span whose parent span
 * belongs to another service. Spans of one trace reach the collector in
 * different batches (each service exports its own), a child usually before
 * its parent (parents end later), so the resolver remembers, for a bounded
 * recent window, which service each span belongs to, and which children
 * wait for a parent not seen yet. Edge counts are kept per hour of the
 * child's start and persisted as totals in meta ('d' keys, keys.h), so
 * /api/dependencies needs no batch job. A span seen again (a resent batch)
 * counts nothing. Memory is bounded (16 MiB): the window remembers the last
 * ST_DEPS_SLOTS / 2 to ST_DEPS_SLOTS spans and waiting children (a span
 * that arrives before its parent is both), about a second at full load
 * (~270k spans/s), minutes at ordinary rates; a parent arriving later than
 * that after its child loses the edge.
 *
 * Threads: st_deps_* calls are serialised by the caller (the store's
 * deps_mu), from observing a write's spans until that write is done.
 */
#ifndef WEFT_STORAGE_DEPS_H
#define WEFT_STORAGE_DEPS_H

#include <rocksdb/c.h>

#include "span.h"

#define ST_DEPS_SLOTS (1u << 19) /* per generation */

typedef struct st_deps st_deps;
struct st_store;

st_deps *st_deps_create(void);
void st_deps_destroy(st_deps *d);

/* A span's keys in the tables: its own, and its parent's (0: a root). */
typedef struct st_deps_keys {
	uint64_t self, parent;
} st_deps_keys;

/*
 * Makes sp's keys and asks for the table slots st_deps_observe() will
 * read with them. The table is 16 MiB of random access: a writer that
 * prefetches a span some spans ahead of observing it overlaps the cache
 * misses instead of waiting for each. Under the same lock as
 * st_deps_observe. OUT: *k.
 */
void st_deps_prefetch(const st_deps *d, const cm_span *sp, st_deps_keys *k);

/*
 * The number the tables know a service by, given out on first sight;
 * UINT32_MAX when out of memory. A linear search: callers ask once per
 * resource of a write, not per span. Under st_deps_observe's lock.
 */
uint32_t st_deps_service(st_deps *d, cm_str service);

/* Feeds one span of service number svc (st_deps_service), whose keys st_deps_prefetch() made. */
void st_deps_observe(st_deps *d, struct st_store *s, const cm_span *sp, const st_deps_keys *k, uint32_t svc);

/* Adds a Put of every edge total changed since the last call to wb. */
void st_deps_flush(st_deps *d, rocksdb_writebatch_t *wb, rocksdb_column_family_handle_t *meta);

#endif
