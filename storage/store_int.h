/*
 * store_int.h - the st_store structure, shared by storage/'s own files only.
 */
#ifndef WEFT_STORAGE_STORE_INT_H
#define WEFT_STORAGE_STORE_INT_H

#include <pthread.h>
#include <rocksdb/c.h>

#include "store.h"

enum { CF_DEFAULT, CF_SPANS, CF_META, CF_INDEX, CF_COUNT };

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

struct st_store {
	rocksdb_t *db;
	rocksdb_options_t *opts;
	rocksdb_options_t *cf_opts[CF_COUNT];
	rocksdb_column_family_handle_t *cf[CF_COUNT];
	rocksdb_block_based_table_options_t *table;
	rocksdb_cache_t *cache;
	rocksdb_writeoptions_t *wopts;
	rocksdb_readoptions_t *ropts;
	st_seen seen;
	struct st_deps *deps;     /* primary only; guarded by deps_mu */
	pthread_mutex_t deps_mu;  /* held from observing a write's spans until it is written */
	char *data_dir;
	char *secondary_dir; /* removed at close */
	bool secondary;
};

/* True if hash h is in the seen-set. */
bool st_seen_has(st_seen *s, uint64_t h);
/* Adds the n hashes (after they were written). */
void st_seen_add(st_seen *s, const uint64_t *h, size_t n);

/* Turns a RocksDB error string into CM_EIO and a log line; frees it. */
int st_rocks_error(const char *what, char *err);

#endif
