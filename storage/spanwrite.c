/*
 * spanwrite.c - the write path: one cm_batch -> one RocksDB write batch.
 *
 * Everything goes into the time partition current at arrival
 * (partition.h). The spans of one trace in one batch are stored together
 * as one span block (keys.h, block.h), headed by their partial summary (summary.h),
 * so a batch costs one memtable insert per trace instead of one per span,
 * and the block compresses as a unit. Several batches can be written at
 * once (one WAL write) but never share a block, so a block's key depends
 * only on its batch: a resent batch rewrites the same blocks. Each batch
 * also gets its index entries: by service, by time, and attribute postings
 * (tags.h). Resources and scopes are stored once per distinct content
 * (keyed by the hash of their encoding); each span refers to them by that
 * hash. Services and operations are upserted so listing them needs no scan
 * of spans. Meta entries already known to be stored (the store's seen-set)
 * are not written again.
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "block.h"
#include "buf.h"
#include "clock.h"
#include "deps.h"
#include "err.h"
#include "keys.h"
#include "log.h"
#include "partition.h"
#include "spanpack.h"
#include "store_int.h"
#include "summary.h"
#include "tags.h"
#include "varint.h"

typedef struct writer {
	rocksdb_writebatch_t *wb;
	st_store *s;
	st_part *part; /* the partition written into */
	const cm_batch *const *batches;
	st_summary_scratch sum;
	st_block_scratch blk;
	cm_buf head; /* a block's summary */
	cm_buf buf;
	uint64_t **res_hash;   /* per batch, per resource */
	uint64_t **scope_hash; /* per batch, per scope */
	uint64_t *fresh; /* meta hashes written by this batch, for the seen-set */
	size_t nfresh, capfresh;
	bool oom;
} writer;

/* Puts tag+key -> value in meta unless it is known to be stored already. */
static void
put_meta_once(writer *w, char tag, const void *k, size_t klen, const void *v, size_t vlen)
{
	char key[1 + 1024];
	uint64_t h;

	if (klen > sizeof key - 1)
		return; /* absurdly long names are stored in spans but not listed */
	key[0] = tag;
	if (klen > 0)
		memcpy(key + 1, k, klen);
	h = st_hash_fast(key, 1 + klen); /* for the in-memory seen-set only */
	if (st_seen_has(&w->s->seen, h))
		return;
	for (size_t i = 0; i < w->nfresh; i++)
		if (w->fresh[i] == h)
			return;
	if (w->nfresh == w->capfresh) {
		size_t cap = w->capfresh ? w->capfresh * 2 : 64;
		uint64_t *f = cm_realloc(w->fresh, cap * sizeof *f);
		if (f == NULL) {
			w->oom = true;
			return;
		}
		w->fresh = f;
		w->capfresh = cap;
	}
	w->fresh[w->nfresh++] = h;
	rocksdb_writebatch_put_cf(w->wb, w->s->cf[CF_META], key, 1 + klen, v, vlen);
}

/* Stores the encoding in w->buf under tag+hash; returns the hash. */
static uint64_t
put_hashed(writer *w, char tag)
{
	uint8_t h[8];
	uint64_t hash = st_hash64(w->buf.data, w->buf.len);
	st_put_be64(h, hash);
	put_meta_once(w, tag, h, 8, w->buf.data, w->buf.len);
	return hash;
}

static void
put_operation(writer *w, const cm_batch *b, const cm_span *sp)
{
	cm_str svc = b->resources[sp->resource].service;
	char key[1024];
	size_t n;

	if ((size_t)svc.len + sp->name.len + 2 > sizeof key)
		return;
	if (svc.len > 0)
		memcpy(key, svc.p, svc.len);
	n = svc.len;
	key[n++] = '\0';
	key[n++] = (char)sp->kind;
	if (sp->name.len > 0)
		memcpy(key + n, sp->name.p, sp->name.len);
	n += sp->name.len;
	put_meta_once(w, ST_META_OPERATION, key, n, "", 0);
}

/* Order of spans in a write: by batch, trace, start, then span id. */
static int
by_trace_start(const void *a, const void *b)
{
	const span_ref *ra = a, *rb = b;
	const cm_span *x = ra->sp, *y = rb->sp;
	int c;
	if (ra->batch != rb->batch)
		return ra->batch < rb->batch ? -1 : 1;
	c = memcmp(x->trace_id.b, y->trace_id.b, 16);
	if (c != 0)
		return c;
	if (x->start_ns != y->start_ns)
		return x->start_ns < y->start_ns ? -1 : 1;
	return memcmp(x->span_id.b, y->span_id.b, 8);
}

typedef struct op_stat {
	cm_str op;
	uint64_t min, max;
} op_stat;

/* True if refs[i] starts another trace than refs[i - 1]. */
static inline bool
new_trace(const span_ref *refs, size_t i)
{
	return i == 0 || memcmp(refs[i].sp->trace_id.b, refs[i - 1].sp->trace_id.b, 16) != 0;
}

/*
 * Appends, for the traces of refs[0..n) with spans of service svc, their
 * position in the batch's 'T' entry and the operations svc ran in them
 * with the buckets of their shortest and longest span (keys.h). Returns
 * the traces listed.
 */
static size_t
put_service_traces(writer *w, const cm_batch *b, const span_ref *refs, size_t n, cm_str svc)
{
	const st_block_enc enc = { &w->s->sym, w->wb, w->s->cf[CF_META] };
	size_t listed = 0;
	uint64_t pos = 0, next = 0; /* the trace's position; the one after the last listed */

	for (size_t i = 0, j; i < n; i = j, pos++) {
		op_stat ops[32];
		uint32_t nops = 0;
		bool wildcard = false;
		for (j = i; j < n && (j == i || !new_trace(refs, j)); j++) {
			const cm_span *sp = refs[j].sp;
			uint64_t d = sp->end_ns - sp->start_ns;
			uint32_t k;
			if (wildcard || !cm_str_same(b->resources[sp->resource].service, svc))
				continue;
			for (k = 0; k < nops && !cm_str_same(ops[k].op, sp->name); k++)
				;
			if (k == nops) {
				if (nops == 32) { /* too many to list: no operations means any (see search.c) */
					wildcard = true;
					continue;
				}
				ops[nops++] = (op_stat){ sp->name, d, d };
			}
			ops[k].min = d < ops[k].min ? d : ops[k].min;
			ops[k].max = d > ops[k].max ? d : ops[k].max;
		}
		if (nops == 0)
			continue;
		if (cm_buf_reserve(&w->buf, 2 * ST_VARINT_MAX) != CM_OK)
			return listed;
		st_put_varint(&w->buf, pos - next);
		st_put_varint(&w->buf, wildcard ? 0 : nops);
		for (uint32_t k = 0; k < nops && !wildcard; k++) {
			st_block_put_name(&enc, &w->buf, ops[k].op);
			if (cm_buf_reserve(&w->buf, 2 * ST_VARINT_MAX) == CM_OK) {
				uint64_t lo = st_dur_bucket(ops[k].min);
				st_put_varint(&w->buf, lo);
				st_put_varint(&w->buf, st_dur_bucket_up(ops[k].max) - lo);
			}
		}
		next = pos + 1;
		listed++;
	}
	return listed;
}

/*
 * The index entries of one batch (keys.h): refs[0..n) are its spans sorted
 * by trace. The list of all its traces by time, their attribute postings,
 * and for each service the traces it has spans in, with operations.
 */
static void
put_batch_index(writer *w, const cm_batch *b, const span_ref *refs, size_t n)
{
	char key[1 + 1024 + 1 + 16];
	uint8_t batch_key[8], ids[24];
	uint64_t start = UINT64_MAX;
	size_t klen;

	if (n == 0)
		return;
	for (size_t i = 0; i < n; i++)
		start = refs[i].sp->start_ns < start ? refs[i].sp->start_ns : start;
	memcpy(ids, refs[0].sp->trace_id.b, 16);
	memcpy(ids + 16, refs[0].sp->span_id.b, 8);
	st_put_be64(batch_key, st_hash64(ids, sizeof ids));

	/* 'T': every trace of the batch */
	w->buf.len = 0;
	for (size_t i = 0; i < n; i++)
		if (new_trace(refs, i))
			cm_buf_append(&w->buf, refs[i].sp->trace_id.b, 16);
	key[0] = ST_INDEX_TIME;
	st_put_be64((uint8_t *)key + 1, start);
	memcpy(key + 9, batch_key, 8);
	rocksdb_writebatch_put_cf(w->wb, w->part->index, key, 17, w->buf.data, w->buf.len);

	/* 'A': attribute postings, numbering traces as the 'T' entry lists them */
	if (st_tag_postings_put(w->wb, w->part->index, b, refs, n, (const uint8_t *)key + 1) != CM_OK)
		w->oom = true;

	/* 'S': per service, its traces and operations */
	for (uint32_t r = 0; r < b->nresources; r++) {
		cm_str svc = b->resources[r].service;
		bool dup = false;
		for (uint32_t q = 0; q < r && !dup; q++) /* several resources may share a service */
			dup = cm_str_same(b->resources[q].service, svc);
		if (dup || svc.len > 1024)
			continue;
		w->buf.len = 0;
		if (put_service_traces(w, b, refs, n, svc) == 0)
			continue;
		key[0] = ST_INDEX_SERVICE;
		if (svc.len)
			memcpy(key + 1, svc.p, svc.len);
		klen = 1 + svc.len;
		key[klen++] = '\0';
		st_put_be64((uint8_t *)key + klen, start);
		memcpy(key + klen + 8, batch_key, 8);
		rocksdb_writebatch_put_cf(w->wb, w->part->index, key, klen + 16, w->buf.data, w->buf.len);
	}
}

/* Adds one block (keys.h): the spans refs[0..n) of one trace, headed by their summary. */
static void
put_block(writer *w, const span_ref *refs, uint32_t n)
{
	uint8_t key[ST_SPAN_KEY_SIZE], version = ST_SPAN_VALUE_VERSION;
	const st_block_enc enc = { &w->s->sym, w->wb, w->s->cf[CF_META] };

	w->head.len = 0;
	if (!st_summary_put(&w->head, &enc, w->batches[refs[0].batch], refs, n, &w->sum)) {
		w->oom = true;
		return;
	}
	w->buf.len = 0;
	cm_buf_append(&w->buf, &version, 1);
	if (cm_buf_reserve(&w->buf, ST_VARINT_MAX) == CM_OK)
		st_put_varint(&w->buf, w->head.len);
	cm_buf_append(&w->buf, w->head.data, w->head.len);
	st_block_encode(&enc, &w->blk, &w->buf, refs, n, w->res_hash, w->scope_hash);
	st_key_span(key, refs[0].sp);
	rocksdb_writebatch_put_cf(w->wb, w->part->spans, (const char *)key, sizeof key, w->buf.data, w->buf.len);
}

/* Resources, scopes, services and operations of batch bi. */
static bool
put_meta_of(writer *w, const cm_batch *b, size_t bi)
{
	w->res_hash[bi] = cm_calloc(b->nresources + 1, sizeof(uint64_t));
	w->scope_hash[bi] = cm_calloc(b->nscopes + 1, sizeof(uint64_t));
	if (w->res_hash[bi] == NULL || w->scope_hash[bi] == NULL)
		return false;
	for (uint32_t i = 0; i < b->nresources; i++) {
		const cm_resource *r = &b->resources[i];
		w->buf.len = 0;
		cm_pack_resource(&w->buf, r);
		w->res_hash[bi][i] = put_hashed(w, ST_META_RESOURCE);
		put_meta_once(w, ST_META_SERVICE, r->service.p, r->service.len, "", 0);
	}
	for (uint32_t i = 0; i < b->nscopes; i++) {
		w->buf.len = 0;
		cm_pack_scope(&w->buf, &b->scopes[i]);
		w->scope_hash[bi][i] = put_hashed(w, ST_META_SCOPE);
	}
	for (uint32_t i = 0; i < b->nspans; i++)
		put_operation(w, b, &b->spans[i]);
	return true;
}

#define REOPEN_INTERVAL_NS 1000000000ull
/* How far ahead of st_deps_observe its slots are prefetched: enough misses in flight to cover memory latency. */
#define DEPS_PREFETCH_AHEAD 16

/* After a failed write: the next write reopens the database first (RocksDB stops writing after an I/O error). */
static void
mark_failed(st_store *s)
{
	pthread_rwlock_wrlock(&s->lock);
	if (!s->failed)
		s->reopen_at_ns = cm_now_ns() + REOPEN_INTERVAL_NS;
	s->failed = true;
	pthread_rwlock_unlock(&s->lock);
}

/*
 * Takes s->lock shared, and the partition to write into unless part is
 * NULL. A store whose last write failed is reopened first, at most once
 * per REOPEN_INTERVAL_NS: until then, and while reopening fails (the disk
 * is still full), writes fail fast with CM_EIO.
 */
static int
lock_for_write(st_store *s, st_part **part)
{
	char errbuf[512];
	int rv = CM_OK;

	pthread_rwlock_rdlock(&s->lock);
	if (s->failed) {
		pthread_rwlock_unlock(&s->lock);
		pthread_rwlock_wrlock(&s->lock);
		if (s->failed && cm_now_ns() < s->reopen_at_ns) {
			rv = CM_EIO;
		} else if (s->failed) {
			rv = st_store_reopen(s, errbuf, sizeof errbuf);
			s->failed = rv != CM_OK;
			s->reopen_at_ns = cm_now_ns() + REOPEN_INTERVAL_NS;
			if (rv == CM_OK)
				cm_log(CM_LOG_INFO, "ST-ROCKS", "store reopened after a failed write: writing again");
			else
				cm_log(CM_LOG_ERROR, "ST-ROCKS", "reopening after a failed write: %s", errbuf);
		}
		pthread_rwlock_unlock(&s->lock);
		if (rv != CM_OK)
			return CM_EIO;
		pthread_rwlock_rdlock(&s->lock);
	}
	rv = s->db == NULL ? CM_EIO : part != NULL ? st_part_current(s, part) : CM_OK;
	if (rv != CM_OK)
		pthread_rwlock_unlock(&s->lock);
	return rv;
}

int
st_store_write_many(st_store *s, const cm_batch *const *batches, size_t n)
{
	writer w = { .s = s, .batches = batches };
	st_deps_keys ahead[DEPS_PREFETCH_AHEAD];
	span_ref *refs = NULL;
	size_t total = 0, k = 0;
	char *err = NULL;
	int rv = CM_ENOMEM;

	if (s->secondary)
		return CM_EINVAL;
	if ((rv = lock_for_write(s, &w.part)) != CM_OK) {
		if (rv == CM_EIO)
			mark_failed(s);
		return rv;
	}
	rv = CM_ENOMEM;
	/* RocksDB's per-thread perf counters cost a TLS lookup per key comparison. */
	rocksdb_set_perf_level(rocksdb_disable);
	w.wb = rocksdb_writebatch_create();
	cm_buf_init(&w.buf);
	cm_buf_init(&w.head);
	for (size_t i = 0; i < n; i++)
		total += batches[i]->nspans;
	w.res_hash = cm_calloc(n + 1, sizeof *w.res_hash);
	w.scope_hash = cm_calloc(n + 1, sizeof *w.scope_hash);
	refs = cm_malloc((total + 1) * sizeof *refs);
	if (w.res_hash == NULL || w.scope_hash == NULL || refs == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (!put_meta_of(&w, batches[i], i))
			goto out;
		for (uint32_t j = 0; j < batches[i]->nspans; j++)
			refs[k++] = (span_ref){ &batches[i]->spans[j], (uint32_t)i };
	}
	qsort(refs, total, sizeof *refs, by_trace_start);
	st_sym_write_begin(&s->sym);
	for (size_t i = 0, j = 0; i < total; i = j) { /* refs are grouped by batch: index each */
		while (j < total && refs[j].batch == refs[i].batch)
			j++;
		put_batch_index(&w, batches[refs[i].batch], refs + i, j - i);
	}
	for (size_t i = 0, j; i < total; i = j) {
		for (j = i + 1; j < total; j++)
			if (refs[i].batch != refs[j].batch ||
			    memcmp(refs[i].sp->trace_id.b, refs[j].sp->trace_id.b, 16) != 0)
				break;
		put_block(&w, refs + i, (uint32_t)(j - i));
	}
	if (w.buf.failed || w.head.failed || w.oom) {
		st_sym_write_end(&s->sym, false);
		goto out;
	}
	/* Dependencies: observed now; their totals written with these spans when due (store.h). */
	pthread_mutex_lock(&s->deps_mu);
	for (size_t i = 0; i < total && i < DEPS_PREFETCH_AHEAD; i++)
		st_deps_prefetch(s->deps, refs[i].sp, &ahead[i]);
	for (size_t i = 0; i < total; i++) {
		st_deps_keys keys = ahead[i % DEPS_PREFETCH_AHEAD]; /* its slot takes span i + DEPS_PREFETCH_AHEAD's */
		if (i + DEPS_PREFETCH_AHEAD < total)
			st_deps_prefetch(s->deps, refs[i + DEPS_PREFETCH_AHEAD].sp, &ahead[i % DEPS_PREFETCH_AHEAD]);
		st_deps_observe(s->deps, s, refs[i].sp, &keys, batches[refs[i].batch]->resources[refs[i].sp->resource].service);
	}
	if (cm_mono_ns() - s->deps_written_ns >= (uint64_t)ST_DEPS_WRITE_MS * 1000000u) {
		st_deps_flush(s->deps, w.wb, s->cf[CF_META]);
		s->deps_written_ns = cm_mono_ns();
	}
	rocksdb_write(s->db, s->wopts, w.wb, &err);
	pthread_mutex_unlock(&s->deps_mu);
	rv = err ? st_rocks_error("write batch", err) : CM_OK;
	st_sym_write_end(&s->sym, rv == CM_OK);
	if (rv == CM_OK)
		st_seen_add(&s->seen, w.fresh, w.nfresh);
out:
	for (size_t i = 0; w.res_hash != NULL && i < n; i++) {
		cm_free(w.res_hash[i]);
		cm_free(w.scope_hash[i]);
	}
	cm_free(refs);
	cm_free(w.fresh);
	st_summary_scratch_fini(&w.sum);
	st_block_scratch_fini(&w.blk);
	cm_free(w.res_hash);
	cm_free(w.scope_hash);
	cm_buf_fini(&w.buf);
	cm_buf_fini(&w.head);
	rocksdb_writebatch_destroy(w.wb);
	pthread_rwlock_unlock(&s->lock);
	if (rv == CM_EIO)
		mark_failed(s);
	return rv;
}

int
st_store_write(st_store *s, const cm_batch *b)
{
	return st_store_write_many(s, &b, 1);
}

int
st_store_write_deps(st_store *s)
{
	rocksdb_writebatch_t *wb;
	char *err = NULL;
	int rv;

	if (s->secondary)
		return CM_OK;
	if ((rv = lock_for_write(s, NULL)) != CM_OK) { /* the meta family only: no partition */
		if (rv == CM_EIO)
			mark_failed(s);
		return rv;
	}
	wb = rocksdb_writebatch_create();
	pthread_mutex_lock(&s->deps_mu);
	st_deps_flush(s->deps, wb, s->cf[CF_META]);
	if (rocksdb_writebatch_count(wb) > 0)
		rocksdb_write(s->db, s->wopts, wb, &err);
	s->deps_written_ns = cm_mono_ns();
	pthread_mutex_unlock(&s->deps_mu);
	rocksdb_writebatch_destroy(wb);
	rv = err ? st_rocks_error("write dependency totals", err) : CM_OK;
	pthread_rwlock_unlock(&s->lock);
	if (rv == CM_EIO)
		mark_failed(s);
	return rv;
}
