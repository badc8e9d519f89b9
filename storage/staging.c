/*
 * staging.c - records acknowledged before their spans are written.
 *
 * The staging family maps <number:8 BE> to a record's bytes. Numbers are
 * given in the order records are staged and never reused; the records
 * still staged are always one run [first, stage_next): st_store_write_staged()
 * deletes a prefix of them with one range deletion, in the same atomic
 * write as their spans. The family's memtable is a skip list (records are
 * read back while new ones arrive), and a record usually dies in it: a
 * flush drops the values its range deletion covers.
 */
#include <stdlib.h>

#include "err.h"
#include "keys.h"
#include "store_int.h"

/* The number of the first (seek_first) or last staged record in *seq; false when none is staged. */
static bool
staged_end(rocksdb_iterator_t *it, void (*seek)(rocksdb_iterator_t *), uint64_t *seq)
{
	const char *k;
	size_t len;

	seek(it);
	if (!rocksdb_iter_valid(it) || (k = rocksdb_iter_key(it, &len)) == NULL || len != 8)
		return false;
	*seq = st_get_be64((const uint8_t *)k);
	return true;
}

int
st_staging_load(st_store *s)
{
	rocksdb_iterator_t *it = rocksdb_create_iterator_cf(s->db, s->ropts, s->cf[CF_STAGING]);
	uint64_t last;

	atomic_store(&s->stage_next, staged_end(it, rocksdb_iter_seek_to_last, &last) ? last + 1 : 1);
	return st_iter_close(it, "read staged records", CM_OK);
}

int
st_staged_range(st_store *s, uint64_t *first, uint64_t *next)
{
	rocksdb_iterator_t *it;
	int rv;

	if (s->secondary)
		return CM_EINVAL;
	if ((rv = st_lock_read(s)) != CM_OK)
		return rv;
	*next = atomic_load(&s->stage_next);
	it = rocksdb_create_iterator_cf(s->db, s->ropts, s->cf[CF_STAGING]);
	if (!staged_end(it, rocksdb_iter_seek_to_first, first))
		*first = *next;
	rv = st_iter_close(it, "read staged records", CM_OK);
	pthread_rwlock_unlock(&s->lock);
	return rv;
}

int
st_stage(st_store *s, const st_record *v, size_t n, uint64_t *first)
{
	rocksdb_writebatch_t *wb;
	char *err = NULL;
	uint64_t seq;
	int rv;

	if (s->secondary)
		return CM_EINVAL;
	if ((rv = st_lock_write(s, NULL)) != CM_OK)
		return rv;
	/* One stager at a time (the collector has one): numbers follow the order of the writes. */
	seq = atomic_load(&s->stage_next);
	wb = rocksdb_writebatch_create();
	for (size_t i = 0; i < n; i++) {
		uint8_t key[8];
		st_put_be64(key, seq + i);
		rocksdb_writebatch_put_cf(wb, s->cf[CF_STAGING], (const char *)key, sizeof key, v[i].data, v[i].len);
	}
	rocksdb_write(s->db, s->wopts, wb, &err);
	rocksdb_writebatch_destroy(wb);
	rv = err ? st_rocks_error("stage records", err) : CM_OK;
	if (rv == CM_OK) {
		atomic_store(&s->stage_next, seq + n);
		*first = seq;
	}
	return st_unlock_write(s, rv);
}

int
st_staged_each(st_store *s, uint64_t from, uint64_t below,
    int (*fn)(void *arg, uint64_t seq, const void *p, size_t len), void *arg)
{
	rocksdb_readoptions_t *ro;
	rocksdb_iterator_t *it;
	uint8_t lo[8], hi[8];
	int rv;

	if (s->secondary)
		return CM_EINVAL;
	if ((rv = st_lock_read(s)) != CM_OK)
		return rv;
	st_put_be64(lo, from);
	st_put_be64(hi, below);
	ro = rocksdb_readoptions_create();
	rocksdb_readoptions_set_iterate_upper_bound(ro, (const char *)hi, sizeof hi);
	it = rocksdb_create_iterator_cf(s->db, ro, s->cf[CF_STAGING]);
	rv = CM_OK;
	for (rocksdb_iter_seek(it, (const char *)lo, sizeof lo); rv == CM_OK && rocksdb_iter_valid(it);
	    rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const char *k = rocksdb_iter_key(it, &klen), *val = rocksdb_iter_value(it, &vlen);
		if (klen != 8) {
			rv = CM_EPROTO;
			break;
		}
		rv = fn(arg, st_get_be64((const uint8_t *)k), val, vlen);
	}
	rv = st_iter_close(it, "read staged records", rv);
	rocksdb_readoptions_destroy(ro);
	pthread_rwlock_unlock(&s->lock);
	return rv;
}

void
st_unstage(st_store *s, rocksdb_writebatch_t *wb, uint64_t from, uint64_t below)
{
	uint8_t lo[8], hi[8];

	st_put_be64(lo, from);
	st_put_be64(hi, below);
	rocksdb_writebatch_delete_range_cf(wb, s->cf[CF_STAGING], (const char *)lo, sizeof lo, (const char *)hi,
	    sizeof hi);
}
