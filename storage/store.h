/*
 * store.h - weft's span store on RocksDB: the only interface to it.
 *
 * No RocksDB type leaves storage/. A data directory is one RocksDB database
 * with these column families (key layout in storage/keys.h):
 *   meta            resources and scopes by content hash, services,
 *                   operations, dependency totals, the partition set
 *   spans.<time>    span blocks keyed by trace id, start time and span id,
 *                   so a trace is one prefix seek per partition
 *   index.<time>    search index entries
 * The spans and index families come in pairs, one pair per time partition
 * of arrival (storage/partition.h): retention drops partitions whole.
 *
 * A primary store (weft-collector) writes; any number of secondary stores
 * (weft-query) read the same directory and follow the primary with
 * st_store_catch_up().
 *
 * Threads: a store may be shared by threads; each call is independent.
 * Ownership: results are written into caller-owned objects (cm_batch,
 * st_strlist, st_oplist) freed by their _fini functions.
 */
#ifndef WEFT_STORAGE_STORE_H
#define WEFT_STORAGE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "span.h"

typedef struct st_store st_store;

typedef struct st_options {
	const char *data_dir;
	bool secondary;            /* open read-only, following a primary */
	bool sync;                 /* fsync the WAL on every write */
	size_t block_cache_bytes;  /* 0: 64 MiB */
	uint64_t retention_ns;     /* primary: keep data this long after arrival; 0: for ever */
	uint64_t (*now_ns)(void);  /* the clock retention follows; NULL: the real time */
} st_options;

/*
 * Opens (creating if primary and missing) the store in o->data_dir.
 * On failure returns CM_EIO (or CM_ENOENT for a secondary whose primary
 * never created the directory) with the reason in err[0..errlen).
 */
int st_store_open(const st_options *o, st_store **out, char *err, size_t errlen);
/*
 * Writes the dependency totals not written yet (a primary's; see
 * st_store_write_deps()) and closes: the WAL holds every other write.
 * NULL is a no-op.
 */
void st_store_close(st_store *s);

/*
 * Writes every span of b, with its resource and scope, in one atomic
 * RocksDB write batch. On CM_OK the spans are in the write-ahead log (and
 * on disk with sync): they survive a crash of the process. Writing the same
 * batch twice stores it once: keys derive from trace id, start and span id.
 */
int st_store_write(st_store *s, const cm_batch *b);

/*
 * Writes n batches in one atomic RocksDB write batch (one WAL write),
 * merged: a trace's spans in any of them form one block, and each trace
 * and tag is indexed once. Durability as st_store_write(). A batch
 * written again alone is stored again in part; trace reads return each
 * span once, trace summaries count its spans twice.
 */
int st_store_write_many(st_store *s, const cm_batch *const *batches, size_t n);

/*
 * Staging (primary only). A trace's spans reach a collector from each of
 * its services' exporters, in several requests; stored as they arrive,
 * each write made a block and index entries of its own for the trace. A
 * collector may instead acknowledge a request once its bytes are staged
 * (st_stage: durable as st_store_write), gather what it staged for a
 * while, and write it as one large write (st_store_write_staged), which
 * deletes the records it came from in the same atomic write. After a
 * crash, the records still staged are exactly those acknowledged and not
 * written: st_staged_range() and st_staged_each() read them back.
 * Records are opaque bytes to the store, numbered from 1 in the order
 * staged (one stager at a time); the records staged are always a run of
 * numbers, [first, next).
 */
typedef struct st_record {
	const void *data;
	size_t len;
} st_record;

/* Stages v[0..n) in one atomic write, numbered *first, *first + 1, ... */
int st_stage(st_store *s, const st_record *v, size_t n, uint64_t *first);
/* OUT: *first and *next, the staged records being [*first, *next). */
int st_staged_range(st_store *s, uint64_t *first, uint64_t *next);
/*
 * Calls fn(arg, seq, data, len) for each staged record numbered in
 * [from, below), in order, until fn returns non-zero (returned); data is
 * valid during the call only.
 */
int st_staged_each(st_store *s, uint64_t from, uint64_t below,
    int (*fn)(void *arg, uint64_t seq, const void *data, size_t len), void *arg);
/* st_store_write_many(), deleting the staged records [from, below) in the same atomic write. */
int st_store_write_staged(st_store *s, const cm_batch *const *batches, size_t n, uint64_t from, uint64_t below);

/*
 * Dependency totals are counted as spans are written and written
 * themselves at most once per ST_DEPS_WRITE_MS, with the spans of a
 * write: each total is one key rewritten again and again, and writing
 * every total with every batch was a tenth of the collector's CPU (most
 * of the meta family's writes). A crash loses at most the last interval's
 * counts, never a span. st_store_write_deps() writes what is counted now;
 * a writer calls it once idle for ST_DEPS_WRITE_MS; st_dependencies() on
 * the primary and st_store_close() call it too.
 */
#define ST_DEPS_WRITE_MS 1000
int st_store_write_deps(st_store *s);

/*
 * Primary: drops the partitions that expired (and dependency totals of
 * hours as old). The cost depends on the number of partitions, not on what
 * they hold. OUT: *dropped, how many partitions went.
 */
int st_store_expire(st_store *s, size_t *dropped);

/*
 * Primary: compacts every family down to its last level, so that the files
 * on disk are what the data settles to (make bench-store measures bytes
 * per span after it). Takes as long as rewriting the store.
 */
int st_store_compact(st_store *s);

/* Bytes of the store's files on disk (SST files, WAL, manifest). */
uint64_t st_store_disk_bytes(st_store *s);

/* Bytes of the store's table files by family: span blocks, index, and the rest (meta). */
typedef struct st_family_bytes {
	uint64_t spans, index, meta;
} st_family_bytes;
int st_store_family_bytes(st_store *s, st_family_bytes *out);

/*
 * Calls fn(arg, id) once for every trace the live partitions hold spans of
 * (a trace in several partitions once per partition), in the order of
 * their ids, until fn returns non-zero (returned). Takes as long as
 * reading every key of the spans families. fn runs under the store's lock
 * and may not call the store.
 */
int st_trace_ids(st_store *s, int (*fn)(void *arg, const cm_trace_id *id), void *arg);

/* What the store holds in memory, by RocksDB's own accounting. */
typedef struct st_memory {
	uint64_t memtable_bytes;      /* write buffers of every family, flushed ones still pinned included */
	uint64_t block_cache_bytes;   /* the block cache's usage (--block-cache-mib bounds it) */
	uint64_t table_readers_bytes; /* table files' index and filter blocks, held outside the cache */
} st_memory;

/*
 * Fills *m (zeros for a store that is reopening after a failure). Memtables
 * rise and fall with every flush; a process's RSS follows them.
 */
void st_store_memory(st_store *s, st_memory *m);
/* Appends m as Prometheus gauges (weft_store_memtable_bytes, ...) to out. */
void st_memory_render(const st_memory *m, cm_buf *out);

/*
 * Secondary only: sees what the primary has written up to now, reopening
 * when the primary created or dropped a partition.
 */
int st_store_catch_up(st_store *s);

/*
 * Reads a whole trace into out (an initialised empty batch), spans ordered
 * by start time. Returns CM_ENOENT when the store has no span of it.
 */
int st_trace_get(st_store *s, const cm_trace_id *id, cm_batch *out);

/*
 * A trace search, with Jaeger's semantics: a trace matches when one of its
 * spans has the service and operation (when given), a duration within
 * [min, max] (0: unbounded), starts within [start, end], and carries every
 * tag (storage/tags.h: as its own attribute, one of its events' or links',
 * its resource's or its scope's; values compared as text; also the tags
 * Jaeger JSON derives from span fields: error=true, span.kind,
 * otel.status_code, otel.status_description, otel.scope.name,
 * otel.scope.version).
 */
typedef struct st_tag {
	const char *key;
	const char *value;
} st_tag;

typedef struct st_query {
	const char *service;   /* NULL or "": any */
	const char *operation; /* NULL or "": any */
	const st_tag *tags;
	size_t ntags;
	uint64_t start_ns, end_ns;       /* end 0: now and later */
	uint64_t min_dur_ns, max_dur_ns; /* 0: unbounded */
	uint32_t limit;                  /* 0: 20 */
} st_query;

/*
 * Finds matching traces, newest first, into out->v[0..n) (an array of
 * initialised batches owned by the caller; fini each). Looks at no more than
 * ST_SEARCH_MAX_CANDIDATES traces from the index per call. The index dates a
 * batch by its earliest span: spans that start more than ST_SEARCH_SLACK_NS
 * after the earliest span of their batch are not found by a window that
 * excludes that earliest span.
 */
#define ST_SEARCH_MAX_CANDIDATES 5000
#define ST_SEARCH_SLACK_NS (600ull * 1000000000ull)
typedef struct st_traces {
	cm_batch *v;
	size_t n;
} st_traces;
int st_search(st_store *s, const st_query *q, st_traces *out);
void st_traces_fini(st_traces *t);

/*
 * A trace's summary, from what the store holds of it: its root span's
 * service and operation (NULL while the root has not arrived), start
 * (earliest span) and duration (to the latest end), spans, spans with
 * error status, and spans per service (by name).
 */
typedef struct st_service_spans {
	char *service;
	uint32_t spans;
} st_service_spans;

typedef struct st_summary {
	cm_trace_id id;
	char *root_service, *root_operation;
	uint64_t start_ns, duration_ns;
	uint32_t spans, errors;
	st_service_spans *services;
	size_t nservices;
} st_summary;

void st_summary_fini(st_summary *s);

/* Reads the summary of a trace without reading its spans. CM_ENOENT when the store has none. */
int st_trace_summary(st_store *s, const cm_trace_id *id, st_summary *out);

typedef struct st_summaries {
	st_summary *v;
	size_t n;
} st_summaries;
void st_summaries_fini(st_summaries *l);

/*
 * Summaries of the traces st_search() would find, newest index entries
 * first, with one difference: a trace is in the window when its summary's
 * [start, start + duration] overlaps [start_ns, end_ns]. Queries the index
 * decides (service and operation, at most one duration bound, no tags; or
 * no operation, duration or tags at all) read no spans; the others read
 * each candidate trace to check it.
 */
int st_search_summaries(st_store *s, const st_query *q, st_summaries *out);

typedef struct st_dep {
	char *parent;
	char *child;
	uint64_t calls;
} st_dep;

typedef struct st_deplist {
	st_dep *v;
	size_t n;
} st_deplist;
void st_deplist_fini(st_deplist *l);

/*
 * Service-to-service calls (a span whose parent span is of another service)
 * with the child span starting in the hours overlapping [start_ns, end_ns],
 * summed per edge. Maintained at ingest: no batch job. OUT: *out.
 */
int st_dependencies(st_store *s, uint64_t start_ns, uint64_t end_ns, st_deplist *out);

typedef struct st_strlist {
	char **v;
	size_t n;
} st_strlist;
void st_strlist_fini(st_strlist *l);

typedef struct st_op {
	char *name;
	int kind; /* cm_span_kind */
} st_op;

typedef struct st_oplist {
	st_op *v;
	size_t n;
} st_oplist;
void st_oplist_fini(st_oplist *l);

/* OUT: *out, sorted by name. */
int st_services(st_store *s, st_strlist *out);
/* OUT: *out, sorted by kind, then name. CM_OK with n == 0 for an unknown service. */
int st_operations(st_store *s, const char *service, st_oplist *out);

#endif
