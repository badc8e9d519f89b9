/*
 * memory.c - what the store holds in memory (store.h), and its gauges in
 * Prometheus text for the daemons' /metrics.
 */
#include <string.h>

#include "store.h"
#include "store_int.h"

/* Adds family cf's integer properties to *m. */
static void
cf_memory(st_store *s, rocksdb_column_family_handle_t *cf, st_memory *m)
{
	uint64_t v;
	if (rocksdb_property_int_cf(s->db, cf, "rocksdb.size-all-mem-tables", &v) == 0)
		m->memtable_bytes += v;
	if (rocksdb_property_int_cf(s->db, cf, "rocksdb.estimate-table-readers-mem", &v) == 0)
		m->table_readers_bytes += v;
}

void
st_store_memory(st_store *s, st_memory *m)
{
	memset(m, 0, sizeof *m);
	pthread_rwlock_rdlock(&s->lock);
	if (s->db != NULL) {
		for (int i = 0; i < CF_FIXED; i++)
			if (s->cf[i] != NULL) /* a secondary has no staging family */
				cf_memory(s, s->cf[i], m);
		for (size_t i = 0; i < s->nparts; i++) {
			cf_memory(s, s->parts[i].spans, m);
			cf_memory(s, s->parts[i].index, m);
		}
		m->block_cache_bytes = rocksdb_cache_get_usage(s->cache);
	}
	pthread_rwlock_unlock(&s->lock);
}

/* One gauge in Prometheus text. */
static void
gauge(cm_buf *out, const char *name, const char *help, uint64_t v)
{
	cm_buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n%s %llu\n", name, help, name, name, (unsigned long long)v);
}

void
st_memory_render(const st_memory *m, cm_buf *out)
{
	gauge(out, "weft_store_memtable_bytes", "Bytes of RocksDB write buffers (memtables), all families.",
	    m->memtable_bytes);
	gauge(out, "weft_store_block_cache_bytes", "Bytes in the block cache (bounded by --block-cache-mib).",
	    m->block_cache_bytes);
	gauge(out, "weft_store_table_readers_bytes",
	    "Bytes of table files' index and filter blocks held outside the block cache.", m->table_readers_bytes);
}
