/*
 * store.c - opening and closing the RocksDB database behind a data directory.
 *
 * The primary creates missing column families; a secondary lists the ones
 * that exist and opens all of them, with its own scratch directory (RocksDB
 * keeps a secondary's info log there) under $TMPDIR, removed at close.
 */
#include "store_int.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "deps.h"
#include "err.h"
#include "log.h"

static const char *const cf_names[CF_COUNT] = { "default", "spans", "meta", "index" };

int
st_rocks_error(const char *what, char *err)
{
	cm_log(CM_LOG_ERROR, "ST-ROCKS", "%s: %s", what, err ? err : "unknown error");
	free(err);
	return CM_EIO;
}

static int
remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
configure(st_store *s, const st_options *o)
{
	size_t cache = o->block_cache_bytes ? o->block_cache_bytes : (size_t)64 << 20;

	s->opts = rocksdb_options_create();
	rocksdb_options_set_create_if_missing(s->opts, 1);
	rocksdb_options_set_create_missing_column_families(s->opts, 1);
	rocksdb_options_increase_parallelism(s->opts, 2);
	rocksdb_options_set_max_open_files(s->opts, -1); /* required by secondaries */
	/* RocksDB opens new table files on threads created for each catch-up;
	 * a secondary catches up before every request: open them inline. */
	rocksdb_options_set_max_file_opening_threads(s->opts, 1);
	rocksdb_options_set_keep_log_file_num(s->opts, 4);

	s->cache = rocksdb_cache_create_lru(cache);
	s->table = rocksdb_block_based_options_create();
	rocksdb_block_based_options_set_block_cache(s->table, s->cache);
	rocksdb_block_based_options_set_filter_policy(s->table, rocksdb_filterpolicy_create_bloom(10));
	rocksdb_block_based_options_set_whole_key_filtering(s->table, 0);

	for (int i = 0; i < CF_COUNT; i++) {
		rocksdb_options_t *cf = rocksdb_options_create_copy(s->opts);
		if (i == CF_SPANS) {
			/* One trace = one prefix: bloom filters and seeks work per trace id. */
			rocksdb_options_set_prefix_extractor(cf, rocksdb_slicetransform_create_fixed_prefix(16));
			rocksdb_options_set_block_based_table_factory(cf, s->table);
			/*
			 * L0 is rewritten by compaction within seconds: flush it
			 * uncompressed. Cheap LZ4 while data is young, zstd at the
			 * bottommost level where it settles.
			 */
			static int per_level[] = { rocksdb_no_compression, rocksdb_lz4_compression,
				rocksdb_lz4_compression, rocksdb_lz4_compression, rocksdb_lz4_compression,
				rocksdb_lz4_compression, rocksdb_lz4_compression };
			rocksdb_options_set_compression_per_level(cf, per_level, sizeof per_level / sizeof per_level[0]);
			rocksdb_options_set_bottommost_compression(cf, rocksdb_zstd_compression);
		}
		if (i == CF_INDEX) /* small entries, one per batch: a small memtable keeps RSS down */
			rocksdb_options_set_write_buffer_size(cf, 16u << 20);
		s->cf_opts[i] = cf;
	}
	s->wopts = rocksdb_writeoptions_create();
	rocksdb_writeoptions_set_sync(s->wopts, o->sync);
	s->ropts = rocksdb_readoptions_create();
}

static int
open_secondary(st_store *s, const st_options *o, char *errbuf, size_t errlen)
{
	char *err = NULL;
	const char *tmp = getenv("TMPDIR");
	char templ[4096];
	size_t n = 0;
	char **names;

	names = rocksdb_list_column_families(s->opts, o->data_dir, &n, &err);
	if (err != NULL) {
		snprintf(errbuf, errlen, "no weft store in %s yet (%s)", o->data_dir, err);
		free(err);
		rocksdb_list_column_families_destroy(names, n); /* allocated even on error */
		return CM_ENOENT;
	}
	for (size_t i = 0; i < n; i++) {
		bool known = false;
		for (int j = 0; j < CF_COUNT; j++)
			known |= strcmp(names[i], cf_names[j]) == 0;
		if (!known) {
			snprintf(errbuf, errlen, "%s has unknown column family %s", o->data_dir, names[i]);
			rocksdb_list_column_families_destroy(names, n);
			return CM_EIO;
		}
	}
	rocksdb_list_column_families_destroy(names, n);
	if (n != CF_COUNT) {
		snprintf(errbuf, errlen, "%s is not complete yet (%zu column families)", o->data_dir, n);
		return CM_ENOENT;
	}

	snprintf(templ, sizeof templ, "%s/weft-secondary-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(templ) == NULL) {
		snprintf(errbuf, errlen, "mkdtemp %s: %s", templ, strerror(errno));
		return CM_EIO;
	}
	s->secondary_dir = cm_strndup(templ, strlen(templ));
	if (s->secondary_dir == NULL)
		return CM_ENOMEM;
	s->db = rocksdb_open_as_secondary_column_families(s->opts, o->data_dir, templ, CF_COUNT,
	    cf_names, (const rocksdb_options_t *const *)s->cf_opts, s->cf, &err);
	if (err != NULL) {
		snprintf(errbuf, errlen, "open %s as secondary: %s", o->data_dir, err);
		free(err);
		return CM_EIO;
	}
	return CM_OK;
}

int
st_store_open(const st_options *o, st_store **out, char *errbuf, size_t errlen)
{
	st_store *s;
	char *err = NULL;
	int rv;

	if ((s = cm_calloc(1, sizeof *s)) == NULL)
		return CM_ENOMEM;
	pthread_mutex_init(&s->seen.mu, NULL);
	pthread_mutex_init(&s->deps_mu, NULL);
	if (!o->secondary && (s->deps = st_deps_create()) == NULL) {
		pthread_mutex_destroy(&s->seen.mu);
		pthread_mutex_destroy(&s->deps_mu);
		cm_free(s);
		return CM_ENOMEM;
	}
	s->secondary = o->secondary;
	if ((s->data_dir = cm_strndup(o->data_dir, strlen(o->data_dir))) == NULL) {
		cm_free(s);
		return CM_ENOMEM;
	}
	configure(s, o);
	if (o->secondary) {
		rv = open_secondary(s, o, errbuf, errlen);
	} else {
		if (mkdir(o->data_dir, 0755) != 0 && errno != EEXIST) {
			snprintf(errbuf, errlen, "mkdir %s: %s", o->data_dir, strerror(errno));
			rv = CM_EIO;
		} else {
			s->db = rocksdb_open_column_families(s->opts, o->data_dir, CF_COUNT, cf_names,
			    (const rocksdb_options_t *const *)s->cf_opts, s->cf, &err);
			rv = CM_OK;
			if (err != NULL) {
				snprintf(errbuf, errlen, "open %s: %s", o->data_dir, err);
				free(err);
				rv = CM_EIO;
			}
		}
	}
	if (rv != CM_OK) {
		st_store_close(s);
		return rv;
	}
	*out = s;
	return CM_OK;
}

void
st_store_close(st_store *s)
{
	if (s == NULL)
		return;
	for (int i = 0; i < CF_COUNT; i++)
		if (s->cf[i] != NULL)
			rocksdb_column_family_handle_destroy(s->cf[i]);
	if (s->db != NULL)
		rocksdb_close(s->db);
	for (int i = 0; i < CF_COUNT; i++)
		if (s->cf_opts[i] != NULL)
			rocksdb_options_destroy(s->cf_opts[i]);
	rocksdb_options_destroy(s->opts);
	rocksdb_block_based_options_destroy(s->table);
	rocksdb_cache_destroy(s->cache);
	rocksdb_writeoptions_destroy(s->wopts);
	rocksdb_readoptions_destroy(s->ropts);
	cm_free(s->data_dir);
	st_deps_destroy(s->deps);
	pthread_mutex_destroy(&s->seen.mu);
	pthread_mutex_destroy(&s->deps_mu);
	if (s->secondary_dir != NULL) {
		nftw(s->secondary_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
		cm_free(s->secondary_dir);
	}
	cm_free(s);
}

uint64_t
st_store_disk_bytes(st_store *s)
{
	DIR *d = opendir(s->data_dir);
	struct dirent *e;
	uint64_t total = 0;
	char path[4096];

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		snprintf(path, sizeof path, "%s/%s", s->data_dir, e->d_name);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			total += (uint64_t)st.st_size;
	}
	closedir(d);
	return total;
}

bool
st_seen_has(st_seen *s, uint64_t h)
{
	bool found = false;
	h |= 1; /* never 0, the empty mark */
	pthread_mutex_lock(&s->mu);
	for (uint32_t i = (uint32_t)h % ST_SEEN_SLOTS;; i = (i + 1) % ST_SEEN_SLOTS) {
		if (s->slot[i] == 0)
			break;
		if (s->slot[i] == h) {
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&s->mu);
	return found;
}

void
st_seen_add(st_seen *s, const uint64_t *hs, size_t n)
{
	pthread_mutex_lock(&s->mu);
	for (size_t k = 0; k < n; k++) {
		uint64_t h = hs[k] | 1;
		uint32_t i = (uint32_t)h % ST_SEEN_SLOTS;
		if (s->used >= ST_SEEN_SLOTS / 2) { /* keep probes short: start over */
			memset(s->slot, 0, sizeof s->slot);
			s->used = 0;
		}
		while (s->slot[i] != 0 && s->slot[i] != h)
			i = (i + 1) % ST_SEEN_SLOTS;
		if (s->slot[i] == 0) {
			s->slot[i] = h;
			s->used++;
		}
	}
	pthread_mutex_unlock(&s->mu);
}

int
st_store_catch_up(st_store *s)
{
	char *err = NULL;
	if (!s->secondary)
		return CM_OK;
	rocksdb_try_catch_up_with_primary(s->db, &err);
	return err ? st_rocks_error("catch up with primary", err) : CM_OK;
}
