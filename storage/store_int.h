/*
 * store_int.h - the st_store structure, shared by storage/'s own files only.
 */
#ifndef WEFT_STORAGE_STORE_INT_H
#define WEFT_STORAGE_STORE_INT_H

#include <rocksdb/c.h>

#include "store.h"

enum { CF_DEFAULT, CF_SPANS, CF_META, CF_COUNT };

struct st_store {
	rocksdb_t *db;
	rocksdb_options_t *opts;
	rocksdb_options_t *cf_opts[CF_COUNT];
	rocksdb_column_family_handle_t *cf[CF_COUNT];
	rocksdb_block_based_table_options_t *table;
	rocksdb_cache_t *cache;
	rocksdb_writeoptions_t *wopts;
	rocksdb_readoptions_t *ropts;
	char *data_dir;
	char *secondary_dir; /* removed at close */
	bool secondary;
};

/* Turns a RocksDB error string into CM_EIO and a log line; frees it. */
int st_rocks_error(const char *what, char *err);

#endif
