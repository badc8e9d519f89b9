/*
 * store_int.h - the st_store structure, shared by storage/'s own files only.
 */
#ifndef WEFT_STORAGE_STORE_INT_H
#define WEFT_STORAGE_STORE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <rocksdb/c.h>

#include "buf.h"
#include "store.h"
#include "symbols.h"

/*
 * Whether y repeats x: a resent batch's copy of a span has its trace, id,
 * start and parent. The writer drops such repeats across the batches of a
 * write (spanwrite.c), the reader across blocks (spanread.c).
 */
static inline bool
st_span_repeats(const cm_span *x, const cm_span *y)
{
	return x->start_ns == y->start_ns && memcmp(x->span_id.b, y->span_id.b, 8) == 0 &&
	    memcmp(x->trace_id.b, y->trace_id.b, 16) == 0 && memcmp(x->parent_span_id.b, y->parent_span_id.b, 8) == 0;
}

/*
 * The column families every store has; partitions come and go (partition.h).
 * A secondary leaves the staging family (staging.c) closed: it reads spans
 * once they are written.
 */
enum { CF_DEFAULT, CF_META, CF_STAGING, CF_FIXED };
/* Option templates: one per fixed family, numbered as the family, then one per partition family kind. */
enum { OPT_DEFAULT = CF_DEFAULT, OPT_META = CF_META, OPT_STAGING = CF_STAGING, OPT_SPANS = CF_FIXED, OPT_INDEX,
	OPT_COUNT };

/*
 * Hashes of meta entries (services, operations, resources, scopes) known to
 * be stored, so that the write path does not rewrite them with every batch.
 * Filled only after a write succeeded; cleared whole when full.
 */
#define ST_SEEN_SLOTS 65536
typedef struct st_seen {
	pthread_mutex_t mu;
	uint64_t slot[ST_SEEN_SLOTS]; /* 0 = empty */
	uint32_t used;
} st_seen;

/*
 * The services of resources by content hash, for trace summaries
 * (summary.c): what is stored under a hash never changes. Direct-mapped;
 * a name is the cache's own copy.
 */
#define ST_SERVICE_SLOTS 4096
typedef struct st_service_slot {
	uint64_t hash;
	char *name; /* NULL: empty */
	uint32_t len;
} st_service_slot;
typedef struct st_service_cache {
	pthread_mutex_t mu;
	st_service_slot slot[ST_SERVICE_SLOTS];
} st_service_cache;

/* One time partition: the spans and index written while it was current. */
typedef struct st_part {
	uint64_t start_s, end_s; /* [start, end) in Unix seconds, of arrival */
	rocksdb_column_family_handle_t *spans, *index;
} st_part;

struct st_store {
	/*
	 * Held shared by every call that uses db, cf or parts; exclusively to
	 * change them (a partition created or dropped, the database reopened).
	 */
	pthread_rwlock_t lock;
	rocksdb_t *db;
	rocksdb_options_t *opts;
	rocksdb_options_t *cf_opts[OPT_COUNT];
	rocksdb_column_family_handle_t *cf[CF_FIXED];
	st_part *parts; /* sorted by start */
	size_t nparts;
	cm_buf partlist; /* secondary: the 'P' value its partitions were opened from */
	uint64_t retention_ns; /* 0: keep everything */
	uint64_t (*now_ns)(void);
	rocksdb_block_based_table_options_t *table;       /* the spans families' */
	rocksdb_block_based_table_options_t *table_plain; /* the other families' */
	rocksdb_cache_t *cache;
	rocksdb_writeoptions_t *wopts;
	rocksdb_readoptions_t *ropts;
	rocksdb_readoptions_t *prefix_ropts; /* iterators that stay within one trace id */
	st_seen seen;
	st_service_cache services;
	st_symbols sym;
	struct st_deps *deps;     /* primary only; guarded by deps_mu */
	pthread_mutex_t deps_mu;  /* held from observing a write's spans until it is written */
	uint64_t deps_written_ns; /* monotonic time dependency totals were last written; under deps_mu */
	/*
	 * A cleared write batch for the next write (spanwrite.c): it keeps the
	 * capacity its buffer grew to, which a new one grew again by doubling
	 * (the copies were 2% of native ingest). NULL while a write holds it.
	 */
	_Atomic(rocksdb_writebatch_t *) spare_wb;
	char *data_dir;
	char *secondary_dir; /* removed at close */
	bool secondary;
	bool failed;            /* primary: a write failed; reopen before the next (under lock) */
	_Atomic uint64_t stage_next; /* primary: the number st_stage() gives the next record */
	uint64_t reopen_at_ns;  /* not before then */
};

/* True if hash h is in the seen-set. */
bool st_seen_has(st_seen *s, uint64_t h);
/* Adds the n hashes (after they were written). */
void st_seen_add(st_seen *s, const uint64_t *h, size_t n);

/*
 * Takes s->lock shared for a write, and the partition to write into unless
 * part is NULL; reopens a store whose last write failed first (spanwrite.c).
 * On failure it holds nothing, and CM_EIO marks the store failed.
 */
int st_lock_write(st_store *s, st_part **part);
/*
 * Releases what st_lock_write() took; a write that failed with CM_EIO
 * marks the store failed: the next write reopens the database first
 * (RocksDB stops writing after an I/O error). Returns rv.
 */
int st_unlock_write(st_store *s, int rv);
/* Primary, lock held: sets s->stage_next after the last staged record (staging.c). */
int st_staging_load(st_store *s);

/* Adds to wb the deletion of the staged records [from, below) (staging.c). */
void st_unstage(st_store *s, rocksdb_writebatch_t *wb, uint64_t from, uint64_t below);

/* Turns a RocksDB error string into CM_EIO and a log line; frees it. */
int st_rocks_error(const char *what, char *err);
/* Destroys it; returns st_rocks_error(what, ...) if it met an error, else rv. */
int st_iter_close(rocksdb_iterator_t *it, const char *what, int rv);

/* Takes s->lock shared for a call; CM_EIO, not holding it, when the database is not open. */
int st_lock_read(st_store *s);

/*
 * Calls fn(arg, key, value, len) for each span block of trace id in one
 * partition's spans family (keys.h: the key is ST_SPAN_KEY_SIZE bytes), in
 * key order, until fn returns non-zero (returned). what names the read in
 * an error. Lock held.
 */
int st_trace_blocks(st_store *s, rocksdb_column_family_handle_t *spans, const cm_trace_id *id,
    int (*fn)(void *arg, const uint8_t *key, const char *val, size_t len), void *arg, const char *what);

/*
 * The service of the resource stored under hash, its text in a;
 * "unknown_service" when the store has no such resource. Looked up once
 * (st_service_cache), then copied from the cache. Lock held.
 */
int st_resource_service(st_store *s, uint64_t hash, cm_arena *a, cm_str *service);

/* st_trace_get() with s->lock already held. */
int st_trace_get_locked(st_store *s, const cm_trace_id *id, cm_batch *out);

/* Closes the database and reopens it with the families now on disk. Lock held exclusively. */
int st_store_reopen(st_store *s, char *errbuf, size_t errlen);

#endif
