/*
 * store.c - opening and closing the RocksDB database behind a data directory.
 *
 * Both kinds list the column families on disk and open all of them: the
 * fixed ones (the primary creates them when missing) and each partition's
 * pair (partition.h). A secondary has its own scratch directory (RocksDB
 * keeps a secondary's info log there) under $TMPDIR, removed at close, and
 * reopens when its primary's partition set changed. A primary whose write
 * failed (a full disk) is reopened by the next write (spanwrite.c):
 * RocksDB 7.8's C API has no way to resume a database stopped by an error.
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
#include "clock.h"
#include "err.h"
#include "keys.h"
#include "log.h"
#include "partition.h"

static const char *const fixed_names[CF_FIXED] = { "default", "meta", "staging" };

enum { ST_BLOCK_BYTES = 128u << 10 }; /* RocksDB's blocks in every family */

int
st_rocks_error(const char *what, char *err)
{
	cm_log(CM_LOG_ERROR, "ST-ROCKS", "%s: %s", what, err ? err : "unknown error");
	free(err);
	return CM_EIO;
}

int
st_iter_close(rocksdb_iterator_t *it, const char *what, int rv)
{
	char *err = NULL;

	rocksdb_iter_get_error(it, &err);
	rocksdb_iter_destroy(it);
	return err != NULL ? st_rocks_error(what, err) : rv;
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
	/*
	 * Debian's RocksDB 7.8 is built with assertions, and its info logger
	 * aborts the process on the first line written after an append to LOG
	 * failed: a full disk killed the collector. Fatal messages only; weft
	 * logs every error RocksDB returns to it.
	 */
	rocksdb_options_set_info_log_level(s->opts, 4 /* FATAL_LEVEL */);
	/*
	 * A vector memtable (below) takes inserts from one thread at a time:
	 * with concurrent memtable writes off, RocksDB's write group applies
	 * the batches of writers that meet (the collector's stager and
	 * assembler) one after another.
	 */
	if (!o->secondary)
		rocksdb_options_set_allow_concurrent_memtable_write(s->opts, 0);

	s->cache = rocksdb_cache_create_lru(cache);
	s->table = rocksdb_block_based_options_create();
	rocksdb_block_based_options_set_block_cache(s->table, s->cache);
	/*
	 * 128 KiB blocks: 32 KiB ones compressed to 70% of 4 KiB ones, 128 KiB
	 * to 98.6% of 32 KiB ones (1M-span loadgen store, spans family); a
	 * trace read decompresses a block or two.
	 */
	rocksdb_block_based_options_set_block_size(s->table, ST_BLOCK_BYTES);
	rocksdb_block_based_options_set_filter_policy(s->table, rocksdb_filterpolicy_create_bloom(10));
	rocksdb_block_based_options_set_whole_key_filtering(s->table, 0);
	/*
	 * Every other family: the same cache (RocksDB would give them an 8 MiB
	 * one of their own, outside --block-cache-mib) and the same block
	 * size, without filters (index entries are read by scans and by keys
	 * that exist). 32 KiB blocks took the index family of a 1M-span store
	 * from 33.7 to 28.9 bytes per span with the same compaction time, 128
	 * KiB from 20.8 to 20.3 (docs/benchmarks.md); its reads are scans.
	 */
	s->table_plain = rocksdb_block_based_options_create();
	rocksdb_block_based_options_set_block_cache(s->table_plain, s->cache);
	rocksdb_block_based_options_set_block_size(s->table_plain, ST_BLOCK_BYTES);
	rocksdb_options_set_block_based_table_factory(s->opts, s->table_plain);

	for (int i = 0; i < OPT_COUNT; i++) {
		rocksdb_options_t *cf = rocksdb_options_create_copy(s->opts);
		/*
		 * The primary never reads the spans and index families while
		 * it writes them, so their memtables are vectors: an insert is
		 * an append, sorted once at flush, where the skip list searched
		 * ~100k nodes of cache misses per key (a quarter of native
		 * ingest). Native ingest per core +19-37% back to back
		 * (docs/benchmarks.md). A read of a vector memtable copies and
		 * sorts it: correct, for tests that read what they wrote, but
		 * a secondary (weft-query), which reads all the time, keeps
		 * RocksDB's skip list.
		 */
		if (!o->secondary && (i == OPT_SPANS || i == OPT_INDEX))
			rocksdb_options_set_memtable_vector_rep(cf);
		if (i == OPT_SPANS) {
			/*
			 * 48 MiB memtables, not RocksDB's 64: the collector's
			 * writes of a window's spans are tens of MiB each, and its
			 * peak RSS (kept batches, a write, memtables) reached 255
			 * MiB of the 256 its issue allows; 229-236 like this, ingest
			 * unchanged (docs/benchmarks.md).
			 */
			rocksdb_options_set_write_buffer_size(cf, 48u << 20);
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
			/*
			 * A dictionary trained per output file on 100x its size
			 * (bytes per span after compaction, spans on a 63k-span
			 * store: 137 with 4 KiB blocks and no dictionary, 94 like
			 * this). Not for the index family: with 32 KiB blocks there
			 * it saved 0.2 bytes per span more and cost compaction time
			 * (docs/benchmarks.md).
			 */
			rocksdb_options_set_bottommost_compression_options(cf, -14, 3, 0, 16 << 10, 1);
			rocksdb_options_set_bottommost_compression_options_zstd_max_train_bytes(cf, 100 * (16 << 10), 1);
			/*
			 * Unbounded by default, RocksDB buffers a whole output file
			 * (up to 64 MiB) per compaction to sample the dictionary
			 * from: make soak saw the collector's RSS grow 26%.
			 */
			rocksdb_options_set_bottommost_compression_options_max_dict_buffer_bytes(cf, 2u << 20, 1);
		}
		if (i == OPT_STAGING) {
			/*
			 * Records live for a write window (staging.c): never
			 * compressed. A flush writes the few still staged; 8 MiB
			 * memtables, not 32, took 24 MiB off the collector's peak RSS.
			 */
			rocksdb_options_set_write_buffer_size(cf, 8u << 20);
			rocksdb_options_set_compression(cf, rocksdb_no_compression);
		}
		if (i == OPT_INDEX) {
			/* small entries, one per batch: a small memtable keeps RSS down */
			rocksdb_options_set_write_buffer_size(cf, 16u << 20);
			rocksdb_options_set_compression(cf, rocksdb_lz4_compression);
			rocksdb_options_set_bottommost_compression(cf, rocksdb_zstd_compression);
		}
		s->cf_opts[i] = cf;
	}
	s->wopts = rocksdb_writeoptions_create();
	rocksdb_writeoptions_set_sync(s->wopts, o->sync);
	s->ropts = rocksdb_readoptions_create();
	s->prefix_ropts = rocksdb_readoptions_create();
	rocksdb_readoptions_set_prefix_same_as_start(s->prefix_ropts, 1);
}

int
st_lock_read(st_store *s)
{
	pthread_rwlock_rdlock(&s->lock);
	if (s->db != NULL)
		return CM_OK;
	pthread_rwlock_unlock(&s->lock);
	return CM_EIO;
}

/* Reads meta 'P' into out (empty when absent). Lock held. */
static int
read_partlist(st_store *s, cm_buf *out)
{
	char key = ST_META_PARTITIONS, *err = NULL, *v;
	size_t len = 0;

	out->len = 0;
	v = rocksdb_get_cf(s->db, s->ropts, s->cf[CF_META], &key, 1, &len, &err);
	if (err != NULL)
		return st_rocks_error("read partitions", err);
	if (v != NULL)
		cm_buf_append(out, v, len);
	free(v);
	return out->failed ? CM_ENOMEM : CM_OK;
}

/*
 * Takes the opened partition families: pairs them by bounds, sorted by
 * start. A lone family (its partner's creation was interrupted) gets its
 * partner on the primary and is left out on a secondary.
 */
static int
adopt_partitions(st_store *s, const char *const *names, rocksdb_column_family_handle_t **h, size_t n)
{
	if (n > 0 && (s->parts = cm_calloc(n, sizeof *s->parts)) == NULL)
		return CM_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		uint64_t a, b;
		int kind;
		size_t j;
		st_part_parse(names[i], &kind, &a, &b); /* checked when listed */
		for (j = 0; j < s->nparts && (s->parts[j].start_s != a || s->parts[j].end_s != b); j++)
			;
		if (j == s->nparts) {
			size_t at = 0;
			while (at < s->nparts && s->parts[at].start_s < a)
				at++;
			memmove(s->parts + at + 1, s->parts + at, (s->nparts - at) * sizeof *s->parts);
			s->parts[at] = (st_part){ .start_s = a, .end_s = b };
			s->nparts++;
			j = at;
		}
		*(kind == ST_PART_SPANS ? &s->parts[j].spans : &s->parts[j].index) = h[i];
	}
	for (size_t j = 0; j < s->nparts;) {
		st_part *p = &s->parts[j];
		int missing = p->spans == NULL ? ST_PART_SPANS : ST_PART_INDEX;
		char name[64], *err = NULL;
		if (p->spans != NULL && p->index != NULL) {
			j++;
			continue;
		}
		if (!s->secondary) {
			st_part_name(name, sizeof name, missing, p->start_s, p->end_s);
			*(missing == ST_PART_SPANS ? &p->spans : &p->index) = rocksdb_create_column_family(s->db,
			    s->cf_opts[missing == ST_PART_SPANS ? OPT_SPANS : OPT_INDEX], name, &err);
			if (err != NULL)
				return st_rocks_error("complete partition", err);
			j++;
			continue;
		}
		rocksdb_column_family_handle_destroy(p->spans != NULL ? p->spans : p->index);
		memmove(p, p + 1, (s->nparts - j - 1) * sizeof *p);
		s->nparts--;
	}
	return CM_OK;
}

/*
 * Refuses a store of another layout: one that says so in meta 'V', or has
 * partitions but no 'V' (written before there was one). A new store's
 * primary writes ST_LAYOUT.
 */
static int
check_layout(st_store *s, char *errbuf, size_t errlen)
{
	char key = ST_META_LAYOUT, *err = NULL, *v;
	size_t len;
	int rv = CM_OK;

	v = rocksdb_get_cf(s->db, s->ropts, s->cf[CF_META], &key, 1, &len, &err);
	if (err != NULL) {
		snprintf(errbuf, errlen, "open %s: read layout: %s", s->data_dir, err);
		free(err);
		return CM_EIO;
	}
	if (v != NULL ? len != strlen(ST_LAYOUT) || memcmp(v, ST_LAYOUT, len) != 0 : s->nparts > 0) {
		snprintf(errbuf, errlen,
		    "%s holds a store of another layout (%.*s; this weft writes %s): start with an empty data directory",
		    s->data_dir, v != NULL ? (int)(len < 64 ? len : 64) : 7, v != NULL ? v : "earlier", ST_LAYOUT);
		rv = CM_EVERSION;
	} else if (v == NULL && !s->secondary) {
		rocksdb_put_cf(s->db, s->wopts, s->cf[CF_META], &key, 1, ST_LAYOUT, strlen(ST_LAYOUT), &err);
		if (err != NULL)
			rv = st_rocks_error("write layout", err);
	}
	free(v);
	return rv;
}

static bool
is_fixed(const char *name)
{
	for (int i = 0; i < CF_FIXED; i++)
		if (strcmp(name, fixed_names[i]) == 0)
			return true;
	return false;
}

/* Opens s->db with every family on disk: the fixed ones and each partition's pair. */
static int
open_db(st_store *s, char *errbuf, size_t errlen)
{
	char *err = NULL;
	size_t n = 0, fixed = s->secondary ? CF_STAGING : CF_FIXED, total = fixed;
	char **listed = rocksdb_list_column_families(s->opts, s->data_dir, &n, &err);
	const char **names;
	const rocksdb_options_t **opts;
	rocksdb_column_family_handle_t **h;
	bool have_meta = false;
	int rv = CM_OK;

	if (err != NULL) { /* no database yet */
		free(err);
		err = NULL;
		rocksdb_list_column_families_destroy(listed, n); /* allocated even on error */
		listed = NULL;
		n = 0;
	}
	names = cm_calloc(n + CF_FIXED, sizeof *names);
	opts = cm_calloc(n + CF_FIXED, sizeof *opts);
	h = cm_calloc(n + CF_FIXED, sizeof *h);
	if (names == NULL || opts == NULL || h == NULL) {
		rv = CM_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < fixed; i++) {
		names[i] = fixed_names[i];
		opts[i] = s->cf_opts[i]; /* a fixed family's template has its number */
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t a, b;
		int kind;
		if (is_fixed(listed[i])) {
			have_meta |= strcmp(listed[i], fixed_names[CF_META]) == 0;
			continue;
		}
		if (!st_part_parse(listed[i], &kind, &a, &b)) {
			snprintf(errbuf, errlen,
			    "%s has column family \"%s\", which this weft does not know (a store of an earlier layout?"
			    " start with an empty data directory)", s->data_dir, listed[i]);
			rv = CM_EIO;
			goto out;
		}
		names[total] = listed[i];
		opts[total++] = s->cf_opts[kind == ST_PART_SPANS ? OPT_SPANS : OPT_INDEX];
	}
	if (s->secondary && !have_meta) {
		snprintf(errbuf, errlen, "no weft store in %s yet", s->data_dir);
		rv = CM_ENOENT;
		goto out;
	}
	if (s->secondary)
		s->db = rocksdb_open_as_secondary_column_families(s->opts, s->data_dir, s->secondary_dir,
		    (int)total, names, opts, h, &err);
	else
		s->db = rocksdb_open_column_families(s->opts, s->data_dir, (int)total, names, opts, h, &err);
	if (err != NULL) {
		snprintf(errbuf, errlen, "open %s%s: %s", s->data_dir, s->secondary ? " as secondary" : "", err);
		free(err);
		s->db = NULL;
		rv = CM_EIO;
		goto out;
	}
	for (size_t i = 0; i < fixed; i++)
		s->cf[i] = h[i];
	rv = adopt_partitions(s, names + fixed, h + fixed, total - fixed);
	if (rv == CM_OK && s->secondary) {
		rv = read_partlist(s, &s->partlist);
		s->retention_ns = st_part_retention_of(&s->partlist);
	} else if (rv == CM_OK) {
		rv = st_part_publish(s);
	}
	if (rv != CM_OK) {
		snprintf(errbuf, errlen, "open %s: partitions: %s", s->data_dir, cm_strerror(rv));
		goto out;
	}
	if ((rv = check_layout(s, errbuf, errlen)) == CM_OK && !s->secondary &&
	    ((rv = st_sym_load(&s->sym, s->db, s->ropts, s->cf[CF_META])) != CM_OK || (rv = st_staging_load(s)) != CM_OK))
		snprintf(errbuf, errlen, "open %s: symbols and staged records: %s", s->data_dir, cm_strerror(rv));
out:
	rocksdb_list_column_families_destroy(listed, n);
	cm_free(names);
	cm_free(opts);
	cm_free(h);
	return rv;
}

static void
close_db(st_store *s)
{
	for (size_t i = 0; i < s->nparts; i++) {
		if (s->parts[i].spans != NULL)
			rocksdb_column_family_handle_destroy(s->parts[i].spans);
		if (s->parts[i].index != NULL)
			rocksdb_column_family_handle_destroy(s->parts[i].index);
	}
	cm_free(s->parts);
	s->parts = NULL;
	s->nparts = 0;
	for (int i = 0; i < CF_FIXED; i++) {
		if (s->cf[i] != NULL)
			rocksdb_column_family_handle_destroy(s->cf[i]);
		s->cf[i] = NULL;
	}
	if (s->db != NULL)
		rocksdb_close(s->db);
	s->db = NULL;
}

int
st_store_reopen(st_store *s, char *errbuf, size_t errlen)
{
	int rv = CM_EIO;
	close_db(s);
	/*
	 * A secondary may list families while its primary rewrites the
	 * MANIFEST, or list one the primary drops before the open: try again.
	 */
	for (int attempt = 0; attempt < 5 && rv != CM_OK; attempt++) {
		if (attempt > 0)
			usleep(20000);
		if ((rv = open_db(s, errbuf, errlen)) != CM_OK)
			close_db(s);
	}
	return rv;
}

int
st_store_open(const st_options *o, st_store **out, char *errbuf, size_t errlen)
{
	st_store *s;
	int rv = CM_OK;

	if ((s = cm_calloc(1, sizeof *s)) == NULL)
		return CM_ENOMEM;
	pthread_rwlock_init(&s->lock, NULL);
	pthread_mutex_init(&s->seen.mu, NULL);
	pthread_mutex_init(&s->services.mu, NULL);
	pthread_mutex_init(&s->deps_mu, NULL);

	cm_buf_init(&s->partlist);
	s->secondary = o->secondary;
	s->retention_ns = o->retention_ns;
	s->now_ns = o->now_ns ? o->now_ns : cm_now_ns;
	configure(s, o);
	/* st_sym_init first: st_store_close() finishes it, whatever failed */
	if (st_sym_init(&s->sym) != CM_OK || (s->data_dir = cm_strndup(o->data_dir, strlen(o->data_dir))) == NULL ||
	    (!o->secondary && (s->deps = st_deps_create()) == NULL)) {
		st_store_close(s);
		return CM_ENOMEM;
	}
	if (o->secondary) {
		const char *tmp = getenv("TMPDIR");
		char templ[4096];
		snprintf(templ, sizeof templ, "%s/weft-secondary-XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if (mkdtemp(templ) == NULL) {
			snprintf(errbuf, errlen, "mkdtemp %s: %s", templ, strerror(errno));
			rv = CM_EIO;
		} else if ((s->secondary_dir = cm_strndup(templ, strlen(templ))) == NULL) {
			rmdir(templ);
			rv = CM_ENOMEM;
		}
	} else if (mkdir(o->data_dir, 0755) != 0 && errno != EEXIST) {
		snprintf(errbuf, errlen, "mkdir %s: %s", o->data_dir, strerror(errno));
		rv = CM_EIO;
	}
	if (rv == CM_OK)
		rv = open_db(s, errbuf, errlen);
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
	if (!s->secondary && s->db != NULL && s->deps != NULL)
		st_store_write_deps(s); /* a failure is logged; the spans are in the WAL */
	close_db(s);
	if (s->spare_wb != NULL)
		rocksdb_writebatch_destroy(s->spare_wb);
	for (int i = 0; i < OPT_COUNT; i++)
		if (s->cf_opts[i] != NULL)
			rocksdb_options_destroy(s->cf_opts[i]);
	rocksdb_options_destroy(s->opts);
	rocksdb_block_based_options_destroy(s->table);
	rocksdb_block_based_options_destroy(s->table_plain);
	rocksdb_cache_destroy(s->cache);
	rocksdb_writeoptions_destroy(s->wopts);
	rocksdb_readoptions_destroy(s->ropts);
	rocksdb_readoptions_destroy(s->prefix_ropts);
	cm_free(s->data_dir);
	cm_buf_fini(&s->partlist);
	st_deps_destroy(s->deps);
	st_sym_fini(&s->sym);
	pthread_mutex_destroy(&s->seen.mu);
	for (size_t i = 0; i < ST_SERVICE_SLOTS; i++)
		cm_free(s->services.slot[i].name);
	pthread_mutex_destroy(&s->services.mu);
	pthread_mutex_destroy(&s->deps_mu);
	pthread_rwlock_destroy(&s->lock);
	if (s->secondary_dir != NULL) {
		nftw(s->secondary_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
		cm_free(s->secondary_dir);
	}
	cm_free(s);
}

int
st_store_compact(st_store *s)
{
	int rv;
	if (s->secondary)
		return CM_EINVAL;
	if ((rv = st_lock_read(s)) != CM_OK)
		return rv;
	rocksdb_compactoptions_t *co = rocksdb_compactoptions_create();
	rocksdb_compactoptions_set_bottommost_level_compaction(co, 2 /* kForce: rewrite the last level too */);
	rocksdb_compact_range_cf_opt(s->db, s->cf[CF_META], co, NULL, 0, NULL, 0);
	rocksdb_compact_range_cf_opt(s->db, s->cf[CF_STAGING], co, NULL, 0, NULL, 0);
	for (size_t i = 0; i < s->nparts; i++) {
		rocksdb_compact_range_cf_opt(s->db, s->parts[i].spans, co, NULL, 0, NULL, 0);
		rocksdb_compact_range_cf_opt(s->db, s->parts[i].index, co, NULL, 0, NULL, 0);
	}
	rocksdb_compactoptions_destroy(co);
	pthread_rwlock_unlock(&s->lock);
	return CM_OK;
}

int
st_store_expire(st_store *s, size_t *dropped)
{
	int rv;
	*dropped = 0;
	if (s->secondary)
		return CM_EINVAL;
	pthread_rwlock_wrlock(&s->lock);
	rv = s->db == NULL ? CM_EIO : st_part_expire(s, dropped);
	pthread_rwlock_unlock(&s->lock);
	return rv;
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

int
st_store_family_bytes(st_store *s, st_family_bytes *out)
{
	const rocksdb_livefiles_t *files;
	int rv;

	memset(out, 0, sizeof *out);
	if ((rv = st_lock_read(s)) != CM_OK)
		return rv;
	files = rocksdb_livefiles(s->db);
	for (int i = 0; files != NULL && i < rocksdb_livefiles_count(files); i++) {
		const char *cf = rocksdb_livefiles_column_family_name(files, i);
		uint64_t *sum = strncmp(cf, "spans.", 6) == 0 ? &out->spans
		    : strncmp(cf, "index.", 6) == 0          ? &out->index
							     : &out->meta;
		*sum += rocksdb_livefiles_size(files, i);
	}
	if (files != NULL)
		rocksdb_livefiles_destroy(files);
	pthread_rwlock_unlock(&s->lock);
	return files != NULL ? CM_OK : CM_EIO;
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

static bool
same_bytes(const cm_buf *a, const cm_buf *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

int
st_store_catch_up(st_store *s)
{
	char *err = NULL, errbuf[512];
	bool changed = false;
	cm_buf now;
	int rv;

	if (!s->secondary)
		return CM_OK;
	if ((rv = st_lock_read(s)) != CM_OK) { /* a reopen failed before: try again */
		pthread_rwlock_wrlock(&s->lock);
		rv = s->db != NULL ? CM_OK : st_store_reopen(s, errbuf, sizeof errbuf);
		pthread_rwlock_unlock(&s->lock);
		if (rv != CM_OK) {
			cm_log(CM_LOG_ERROR, "ST-ROCKS", "%s", errbuf);
			return rv;
		}
		return st_store_catch_up(s);
	}
	rocksdb_try_catch_up_with_primary(s->db, &err);
	cm_buf_init(&now);
	if (err != NULL) {
		/*
		 * A restarted primary's new MANIFEST names every family, also
		 * those made after this secondary opened, which catching up
		 * cannot follow: reopen.
		 */
		cm_log(CM_LOG_INFO, "ST-ROCKS", "catching up failed (%s): reopening", err);
		free(err);
		changed = true;
	} else if ((rv = read_partlist(s, &now)) == CM_OK) {
		changed = !same_bytes(&now, &s->partlist);
	}
	pthread_rwlock_unlock(&s->lock);
	if (changed) {
		pthread_rwlock_wrlock(&s->lock);
		if (now.len > 0 && same_bytes(&now, &s->partlist)) /* another thread has reopened already */
			changed = false;
		else
			rv = st_store_reopen(s, errbuf, sizeof errbuf);
		pthread_rwlock_unlock(&s->lock);
	}
	cm_buf_fini(&now);
	if (changed && rv != CM_OK)
		cm_log(CM_LOG_ERROR, "ST-ROCKS", "%s", errbuf);
	return rv;
}
