/*
 * spanwrite.c - the write path: batches -> one RocksDB write batch.
 *
 * Everything goes into the time partition current at arrival
 * (partition.h). The batches of one write are merged first: the spans of
 * one trace in them are stored together as one span block (keys.h,
 * block.h), so a write costs
 * one memtable insert per trace instead of one per span, and the block
 * compresses as a unit. The merged batch gets one set of index entries:
 * by service, by time, and attribute postings (tags.h), each trace and
 * tag listed once however many of the write's batches carry it. A batch
 * resent while its first copy is queued lands in the same write, and its
 * repeats are dropped here (drop_resent); resent alone after it was part
 * of a larger write, it forms other blocks: readers drop the repeated
 * spans (spanread.c), and trace summaries count them twice (summary.h).
 * Resources and scopes are stored once per distinct content
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
#include "hash.h"
#include "keys.h"
#include "log.h"
#include "partition.h"
#include "spanpack.h"
#include "store_int.h"
#include "tags.h"
#include "varint.h"

typedef struct writer {
	rocksdb_writebatch_t *wb;
	st_store *s;
	st_part *part; /* the partition written into */
	const cm_batch *b; /* the write's batches, merged */
	st_block_scratch blk;
	cm_buf buf;
	uint64_t *res_hash;   /* per resource */
	uint64_t *scope_hash; /* per scope */
	uint32_t *res_service; /* per resource: its service's number in the dependency tables */
	uint64_t *fresh; /* meta hashes written by this write, for the seen-set */
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
	h = cm_hash_fast(key, 1 + klen); /* for the in-memory seen-set only */
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

/*
 * Order of spans in a write: by trace, start, span id, then place in the
 * merged batch, which puts the repeats of a span in the order of the
 * batches that carried them (drop_resent()). The ids are compared as
 * big-endian words (memcmp's order) in a stable merge sort with the
 * comparison inline: qsort's calls to a comparator cost 2.5% of ingest.
 */
typedef struct span_order {
	uint64_t trace_hi, trace_lo, start, span;
	const cm_span *sp;
} span_order;

static inline bool
order_before(const span_order *x, const span_order *y)
{
	if (x->trace_hi != y->trace_hi)
		return x->trace_hi < y->trace_hi;
	if (x->trace_lo != y->trace_lo)
		return x->trace_lo < y->trace_lo;
	if (x->start != y->start)
		return x->start < y->start;
	return x->span < y->span;
}

enum { SORT_RUN = 16 }; /* runs sorted by insertion before merging */

/* Merges the sorted a[0..na) and b[0..nb) into out; a's element first on a tie. */
static void
merge_runs(const span_order *a, size_t na, const span_order *b, size_t nb, span_order *out)
{
	size_t i = 0, j = 0;
	while (i < na && j < nb)
		*out++ = order_before(&b[j], &a[i]) ? b[j++] : a[i++];
	while (i < na)
		*out++ = a[i++];
	while (j < nb)
		*out++ = b[j++];
}

/* Sorts refs[0..n), the write's spans in their merged batch's order, as above; false when out of memory. */
static bool
sort_spans(const cm_span **refs, size_t n)
{
	span_order *v = cm_malloc(2 * (n + 1) * sizeof *v), *from = v, *to;

	if (v == NULL)
		return false;
	to = v + n;
	for (size_t i = 0; i < n; i++) {
		const cm_span *sp = refs[i];
		span_order o = { st_get_be64(sp->trace_id.b), st_get_be64(sp->trace_id.b + 8), sp->start_ns,
			st_get_be64(sp->span_id.b), sp };
		size_t k = i;
		for (; k % SORT_RUN != 0 && order_before(&o, &v[k - 1]); k--)
			v[k] = v[k - 1];
		v[k] = o;
	}
	for (size_t width = SORT_RUN; width < n; width *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * width) {
			size_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
			merge_runs(from + lo, mid - lo, from + mid, hi - mid, to + lo);
		}
		span_order *t = from;
		from = to;
		to = t;
	}
	for (size_t i = 0; i < n; i++)
		refs[i] = from[i].sp;
	cm_free(v);
	return true;
}

typedef struct op_stat {
	cm_str op;
	uint64_t min, max;
} op_stat;

/* True if refs[i] starts another trace than refs[i - 1]. */
static inline bool
new_trace(const cm_span *const *refs, size_t i)
{
	return i == 0 || memcmp(refs[i]->trace_id.b, refs[i - 1]->trace_id.b, 16) != 0;
}

/*
 * Appends, for the traces of refs[0..n) with spans of service svc, their
 * position in the batch's 'T' entry and the operations svc ran in them
 * with the buckets of their shortest and longest span (keys.h). Returns
 * the traces listed.
 */
static size_t
put_service_traces(writer *w, const cm_batch *b, const cm_span *const *refs, size_t n, cm_str svc)
{
	const st_block_enc enc = { &w->s->sym, w->wb, w->s->cf[CF_META] };
	size_t listed = 0;
	uint64_t pos = 0, next = 0; /* the trace's position; the one after the last listed */

	for (size_t i = 0, j; i < n; i = j, pos++) {
		op_stat ops[32];
		uint32_t nops = 0;
		bool wildcard = false;
		for (j = i; j < n && (j == i || !new_trace(refs, j)); j++) {
			const cm_span *sp = refs[j];
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
 * The index entries of the write's batch (keys.h): refs[0..n) are its spans
 * sorted by trace. The list of all its traces by time, their attribute postings,
 * and for each service the traces it has spans in, with operations.
 */
static void
put_batch_index(writer *w, const cm_span *const *refs, size_t n)
{
	const cm_batch *b = w->b;
	char key[ST_SERVICE_KEY_MAX + 2 + 16];
	uint8_t batch_key[8];
	uint64_t start = UINT64_MAX, h = ST_HASH_SEED;
	size_t klen;

	if (n == 0)
		return;
	/*
	 * The entries' key names every span: a write's entries are replaced
	 * only by a write of the same spans. A batch resent alone after it was
	 * part of a larger write gets entries of its own, and the larger
	 * write's, which list its other batches' traces and tags, stay.
	 */
	for (size_t i = 0; i < n; i++) {
		start = refs[i]->start_ns < start ? refs[i]->start_ns : start;
		if (new_trace(refs, i))
			h = st_hash_mix(h, refs[i]->trace_id.b, 16);
		h = st_hash_mix(h, refs[i]->span_id.b, 8);
	}
	st_put_be64(batch_key, h);

	/* 'T': every trace of the batch, by the beginning of its id */
	w->buf.len = 0;
	for (size_t i = 0; i < n; i++)
		if (new_trace(refs, i))
			cm_buf_append(&w->buf, refs[i]->trace_id.b, ST_TRACE_REF_BYTES);
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
		if (dup || svc.len > ST_SERVICE_KEY_MAX)
			continue;
		w->buf.len = 0;
		if (put_service_traces(w, b, refs, n, svc) == 0)
			continue;
		klen = st_key_service(key, svc.p, svc.len);
		st_put_be64((uint8_t *)key + klen, start);
		memcpy(key + klen + 8, batch_key, 8);
		rocksdb_writebatch_put_cf(w->wb, w->part->index, key, klen + 16, w->buf.data, w->buf.len);
	}
}

/* Adds one block (keys.h): the spans refs[0..n) of one trace. */
static void
put_block(writer *w, const cm_span *const *refs, uint32_t n)
{
	uint8_t key[ST_SPAN_KEY_SIZE], version = ST_SPAN_VALUE_VERSION;
	const st_block_enc enc = { &w->s->sym, w->wb, w->s->cf[CF_META] };

	w->buf.len = 0;
	cm_buf_append(&w->buf, &version, 1);
	st_block_encode(&enc, &w->blk, &w->buf, refs, n, w->res_hash, w->scope_hash);
	st_key_span(key, refs[0]);
	rocksdb_writebatch_put_cf(w->wb, w->part->spans, (const char *)key, sizeof key, w->buf.data, w->buf.len);
}

/* Resources, scopes, services and operations of the write's batch. */
static bool
put_meta_of(writer *w)
{
	const cm_batch *b = w->b;

	w->res_hash = cm_calloc(b->nresources + 1, sizeof(uint64_t));
	w->scope_hash = cm_calloc(b->nscopes + 1, sizeof(uint64_t));
	w->res_service = cm_calloc(b->nresources + 1, sizeof(uint32_t));
	if (w->res_hash == NULL || w->scope_hash == NULL || w->res_service == NULL)
		return false;
	for (uint32_t i = 0; i < b->nresources; i++) {
		const cm_resource *r = &b->resources[i];
		w->buf.len = 0;
		cm_pack_resource(&w->buf, NULL, r);
		w->res_hash[i] = put_hashed(w, ST_META_RESOURCE);
		put_meta_once(w, ST_META_SERVICE, r->service.p, r->service.len, "", 0);
	}
	for (uint32_t i = 0; i < b->nscopes; i++) {
		w->buf.len = 0;
		cm_pack_scope(&w->buf, NULL, &b->scopes[i]);
		w->scope_hash[i] = put_hashed(w, ST_META_SCOPE);
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
 * A store whose last write failed is reopened at most once per
 * REOPEN_INTERVAL_NS: until then, and while reopening fails (the disk is
 * still full), writes fail fast with CM_EIO.
 */
int
st_lock_write(st_store *s, st_part **part)
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
		st_unlock_write(s, rv);
	return rv;
}

int
st_unlock_write(st_store *s, int rv)
{
	pthread_rwlock_unlock(&s->lock);
	if (rv == CM_EIO)
		mark_failed(s);
	return rv;
}

/*
 * The n batches as one: their resources, scopes and spans one after the
 * other, each span's resource and scope renumbered, and in origin[i] the
 * batch span i came from. The spans' contents stay where they are (the
 * batches outlive the write). False when out of memory; free the arrays
 * with merged_fini() either way.
 */
static bool
merge_batches(const cm_batch *const *batches, size_t n, cm_batch *m, uint32_t **origin)
{
	size_t spans = 0, res = 0, scopes = 0;

	memset(m, 0, sizeof *m);
	for (size_t i = 0; i < n; i++) {
		spans += batches[i]->nspans;
		res += batches[i]->nresources;
		scopes += batches[i]->nscopes;
	}
	if (spans > UINT32_MAX || res > UINT32_MAX || scopes > UINT32_MAX)
		return false;
	m->spans = cm_malloc((spans + 1) * sizeof *m->spans);
	m->resources = cm_malloc((res + 1) * sizeof *m->resources);
	m->scopes = cm_malloc((scopes + 1) * sizeof *m->scopes);
	*origin = cm_malloc((spans + 1) * sizeof **origin);
	if (m->spans == NULL || m->resources == NULL || m->scopes == NULL || *origin == NULL)
		return false;
	for (size_t i = 0; i < n; i++) {
		const cm_batch *b = batches[i];
		cm_span *sp = m->spans + m->nspans;
		memcpy(sp, b->spans, b->nspans * sizeof *sp);
		for (uint32_t j = 0; j < b->nspans; j++) {
			sp[j].resource += m->nresources;
			sp[j].scope += m->nscopes;
			(*origin)[m->nspans + j] = (uint32_t)i;
		}
		m->nspans += b->nspans;
		memcpy(m->resources + m->nresources, b->resources, b->nresources * sizeof *m->resources);
		m->nresources += b->nresources;
		memcpy(m->scopes + m->nscopes, b->scopes, b->nscopes * sizeof *m->scopes);
		m->nscopes += b->nscopes;
	}
	return true;
}

static void
merged_fini(cm_batch *m, uint32_t *origin)
{
	cm_free(m->spans);
	cm_free(m->resources);
	cm_free(m->scopes);
	cm_free(origin);
}

/*
 * Drops from refs[0..n), sorted by sort_spans(), the spans that an
 * earlier batch of the write carried too: a batch resent while the first
 * copy was still queued. Repeats within one batch are the sender's own and
 * stay, as Jaeger keeps them. Returns the spans kept.
 */
static size_t
drop_resent(const cm_batch *b, const uint32_t *origin, const cm_span **refs, size_t n)
{
	size_t kept = 0, first = 0; /* first: where the run of equal spans began */

	for (size_t i = 0; i < n; i++) {
		if (kept == 0 || !st_span_repeats(refs[first], refs[i]))
			first = kept;
		else if (origin[refs[i] - b->spans] != origin[refs[first] - b->spans])
			continue;
		refs[kept++] = refs[i];
	}
	return kept;
}

/* Keeps wb, cleared, for the next write unless it grew past SPARE_BATCH_MAX (its memory is given back) or one is kept already. */
#define SPARE_BATCH_MAX (16u << 20)

static void
spare_batch(st_store *s, rocksdb_writebatch_t *wb)
{
	size_t size;

	rocksdb_writebatch_data(wb, &size);
	if (size <= SPARE_BATCH_MAX) {
		rocksdb_writebatch_clear(wb);
		wb = atomic_exchange(&s->spare_wb, wb);
	}
	if (wb != NULL)
		rocksdb_writebatch_destroy(wb);
}

/*
 * A large write (the collector's: a window's spans) is indexed in chunks
 * of whole traces, each with index entries of its own, as a write of
 * that many spans would be: the postings of 65,536 spans at once outgrew
 * the caches (the postings and their sort cost the collector ~7% more CPU
 * a span than in writes of ~1,600 spans), and positions in a chunk are
 * smaller: index 13.06 bytes per span at 4,096 against 14.18 with one
 * index a write, 15.40 at 1,024, 13.60 at 16,384 (one regrouped store,
 * docs/benchmarks.md).
 */
#define WRITE_CHUNK_SPANS 4096

/* Where the chunk of refs[0..n) that begins at `from` ends: after WRITE_CHUNK_SPANS spans, at the next trace. */
static size_t
chunk_end(const cm_span *const *refs, size_t from, size_t n)
{
	size_t end = n - from > WRITE_CHUNK_SPANS ? from + WRITE_CHUNK_SPANS : n;

	while (end < n && !new_trace(refs, end))
		end++;
	return end;
}

int
st_store_write_staged(st_store *s, const cm_batch *const *batches, size_t n, uint64_t from, uint64_t below)
{
	writer w = { .s = s };
	st_deps_keys ahead[DEPS_PREFETCH_AHEAD];
	const cm_span **refs = NULL;
	cm_batch merged = { 0 };
	uint32_t *origin = NULL;
	size_t total;
	char *err = NULL;
	int rv = CM_ENOMEM;

	if (s->secondary)
		return CM_EINVAL;
	if ((rv = st_lock_write(s, &w.part)) != CM_OK)
		return rv;
	rv = CM_ENOMEM;
	/* RocksDB's per-thread perf counters cost a TLS lookup per key comparison. */
	rocksdb_set_perf_level(rocksdb_disable);
	if ((w.wb = atomic_exchange(&s->spare_wb, NULL)) == NULL)
		w.wb = rocksdb_writebatch_create();
	cm_buf_init(&w.buf);
	if (n == 1)
		w.b = batches[0];
	else if (merge_batches(batches, n, &merged, &origin))
		w.b = &merged;
	else
		goto out;
	total = w.b->nspans;
	refs = cm_malloc((total + 1) * sizeof *refs);
	if (refs == NULL || !put_meta_of(&w))
		goto out;
	for (size_t i = 0; i < total; i++)
		refs[i] = &w.b->spans[i];
	if (!sort_spans(refs, total))
		goto out;
	if (origin != NULL)
		total = drop_resent(w.b, origin, refs, total);
	st_sym_write_begin(&s->sym);
	for (size_t c = 0, end; c < total; c = end) {
		end = chunk_end(refs, c, total);
		put_batch_index(&w, refs + c, end - c);
		for (size_t i = c, j; i < end; i = j) {
			for (j = i + 1; j < end && !new_trace(refs, j); j++)
				;
			put_block(&w, refs + i, (uint32_t)(j - i));
		}
	}
	if (w.buf.failed || w.oom) {
		st_sym_write_end(&s->sym, false);
		goto out;
	}
	/* Dependencies: observed now; their totals written with these spans when due (store.h). */
	pthread_mutex_lock(&s->deps_mu);
	for (size_t i = 0; i < total && i < DEPS_PREFETCH_AHEAD; i++)
		st_deps_prefetch(s->deps, refs[i], &ahead[i]);
	for (uint32_t r = 0; r < w.b->nresources; r++)
		w.res_service[r] = st_deps_service(s->deps, w.b->resources[r].service);
	for (size_t i = 0; i < total; i++) {
		st_deps_keys keys = ahead[i % DEPS_PREFETCH_AHEAD]; /* its slot takes span i + DEPS_PREFETCH_AHEAD's */
		if (i + DEPS_PREFETCH_AHEAD < total)
			st_deps_prefetch(s->deps, refs[i + DEPS_PREFETCH_AHEAD], &ahead[i % DEPS_PREFETCH_AHEAD]);
		st_deps_observe(s->deps, s, refs[i], &keys, w.res_service[refs[i]->resource]);
	}
	if (cm_mono_ns() - s->deps_written_ns >= (uint64_t)ST_DEPS_WRITE_MS * 1000000u) {
		st_deps_flush(s->deps, w.wb, s->cf[CF_META]);
		s->deps_written_ns = cm_mono_ns();
	}
	if (from < below)
		st_unstage(s, w.wb, from, below);
	rocksdb_write(s->db, s->wopts, w.wb, &err);
	pthread_mutex_unlock(&s->deps_mu);
	rv = err ? st_rocks_error("write batch", err) : CM_OK;
	st_sym_write_end(&s->sym, rv == CM_OK);
	if (rv == CM_OK)
		st_seen_add(&s->seen, w.fresh, w.nfresh);
out:
	merged_fini(&merged, origin);
	cm_free(refs);
	cm_free(w.fresh);
	st_block_scratch_fini(&w.blk);
	cm_free(w.res_hash);
	cm_free(w.scope_hash);
	cm_free(w.res_service);
	cm_buf_fini(&w.buf);
	spare_batch(s, w.wb);
	return st_unlock_write(s, rv);
}

int
st_store_write_many(st_store *s, const cm_batch *const *batches, size_t n)
{
	return st_store_write_staged(s, batches, n, 0, 0); /* no records to delete */
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
	if ((rv = st_lock_write(s, NULL)) != CM_OK) /* the meta family only: no partition */
		return rv;
	wb = rocksdb_writebatch_create();
	pthread_mutex_lock(&s->deps_mu);
	st_deps_flush(s->deps, wb, s->cf[CF_META]);
	if (rocksdb_writebatch_count(wb) > 0)
		rocksdb_write(s->db, s->wopts, wb, &err);
	s->deps_written_ns = cm_mono_ns();
	pthread_mutex_unlock(&s->deps_mu);
	rocksdb_writebatch_destroy(wb);
	rv = err ? st_rocks_error("write dependency totals", err) : CM_OK;
	return st_unlock_write(s, rv);
}
