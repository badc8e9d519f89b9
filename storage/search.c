/*
 * search.c - trace search: index scan newest first, exact check per trace.
 *
 * The index (keys.h) has entries per written batch: per service, by time
 * alone, and attribute postings (tags.h). Entries are scanned newest first
 * over all partitions: the first tag's postings when the query has tags,
 * else by service when it has one, else by time. Service entries let
 * traces whose operations and duration ranges in that service cannot
 * match be skipped without reading them. Each remaining candidate is read
 * and checked exactly against the query, so the index only has to be a
 * superset. At most ST_SEARCH_MAX_CANDIDATES traces are read per search.
 * Index entries name a trace by the beginning of its id (keys.h): the
 * spans family of the entry's partition has the whole id.
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "block.h"
#include "err.h"
#include "keys.h"
#include "partition.h"
#include "summary.h"
#include "tags.h"
#include "store_int.h"
#include "varint.h"

enum { SEEN_SLOTS = 16384 }; /* > 2 * ST_SEARCH_MAX_CANDIDATES */

/* Adds id to the open-addressing set; returns false if it was there. */
static bool
seen_add(uint8_t (*set)[16], bool *used, const uint8_t *id)
{
	uint64_t h;
	memcpy(&h, id + 8, 8); /* trace ids are random */
	for (uint32_t i = (uint32_t)(h % SEEN_SLOTS);; i = (i + 1) % SEEN_SLOTS) {
		if (!used[i]) {
			used[i] = true;
			memcpy(set[i], id, 16);
			return true;
		}
		if (memcmp(set[i], id, 16) == 0)
			return false;
	}
}

/* Whether span s matches q; its start must be within [q->start_ns, end] unless !window. */
static bool
span_matches(const cm_batch *t, const cm_span *s, const st_query *q, uint64_t end, bool window)
{
	uint64_t d = s->end_ns - s->start_ns;
	const cm_resource *r = s->resource < t->nresources ? &t->resources[s->resource] : NULL;

	if (q->service && *q->service && (r == NULL || !cm_str_eq(r->service, q->service)))
		return false;
	if (q->operation && *q->operation && !cm_str_eq(s->name, q->operation))
		return false;
	if (d < q->min_dur_ns || (q->max_dur_ns && d > q->max_dur_ns))
		return false;
	if (window && (s->start_ns < q->start_ns || s->start_ns > end))
		return false;
	for (size_t k = 0; k < q->ntags; k++)
		if (!st_tag_span_has(t, s, q->tags[k].key, q->tags[k].value))
			return false;
	return true;
}

/*
 * Can a trace whose operations in the service are listed at *p (nops of
 * them, each: name, shortest's bucket lo, longest's bucket up - lo;
 * keys.h) hold a matching span? Leaves *p past the list; false in *ok when
 * it is damaged. *sure is false when the answer is a guess: no operations
 * listed (too many to list), or a duration bound within a bucket.
 */
static bool
ops_may_match(const uint8_t **p, const uint8_t *end, uint64_t nops, const st_query *q, const st_block_syms *syms,
    bool *sure, bool *ok)
{
	bool may = nops == 0, any_op = !q->operation || !*q->operation;
	size_t oplen = any_op ? 0 : strlen(q->operation);

	*sure = nops == 0 && any_op && q->min_dur_ns == 0 && q->max_dur_ns == 0;
	*ok = true;
	for (uint64_t i = 0; i < nops; i++) {
		cm_str op;
		uint64_t lo, up;
		if (!st_block_get_name(p, end, syms, &op) || !st_get_varint(p, end, &lo) || !st_get_varint(p, end, &up) ||
		    up > UINT64_MAX - lo) {
			*ok = false;
			return false;
		}
		if (!any_op && (op.len != oplen || memcmp(op.p, q->operation, oplen) != 0))
			continue;
		up += lo;
		/* shortest in [at(lo), at(lo + 1)), longest in (at(up - 1), at(up)] */
		if (st_dur_at(up) < q->min_dur_ns || (q->max_dur_ns != 0 && st_dur_at(lo) > q->max_dur_ns))
			continue;
		may = true;
		if ((q->min_dur_ns == 0 || (up > 0 && st_dur_at(up - 1) >= q->min_dur_ns - 1)) &&
		    (q->max_dur_ns == 0 || st_dur_at(lo + 1) - 1 <= q->max_dur_ns))
			*sure = true;
	}
	return may;
}

typedef struct scan {
	st_store *store;
	const st_query *q;
	uint64_t end;
	uint32_t limit, candidates, found;
	uint8_t (*seen)[16];
	bool *used;
	size_t part;                  /* the partition of the entry being read */
	rocksdb_iterator_t **ref_it;  /* per partition: its spans family in key order, opened on first use */
	rocksdb_readoptions_t *total; /* seeks by a trace id's beginning: shorter than the prefix extractor's */
	st_traces *out;    /* st_search: whole traces */
	st_summaries *sums; /* st_search_summaries */
} scan;

static bool
scan_done(const scan *sc)
{
	return sc->found >= sc->limit || sc->candidates >= ST_SEARCH_MAX_CANDIDATES;
}

/* Keeps the summary of trace id if it overlaps the window. */
static int
keep_summary(scan *sc, const cm_trace_id *id)
{
	st_summary *sum = &sc->sums->v[sc->sums->n];
	int rv = st_trace_summary_locked(sc->store, id, sum);
	if (rv == CM_ENOENT)
		return CM_OK; /* the index outlived its spans */
	if (rv != CM_OK)
		return rv;
	if (sum->start_ns <= sc->end && sum->start_ns + sum->duration_ns >= sc->q->start_ns) {
		sc->sums->n++;
		sc->found++;
	} else {
		st_summary_fini(sum);
	}
	return CM_OK;
}

/*
 * Keeps candidate trace tid if it matches: by its summary alone when the
 * index entry that named it decides the rest of the query (summaries only),
 * else by reading it. Returns CM_OK or an error.
 */
static int
consider_id(scan *sc, const uint8_t *tid, bool index_decides)
{
	cm_trace_id id;
	cm_batch t;
	bool match = false;
	int rv;

	if (!seen_add(sc->seen, sc->used, tid))
		return CM_OK; /* another batch of a trace already read */
	sc->candidates++;
	memcpy(id.b, tid, 16);
	if (sc->sums != NULL && index_decides)
		return keep_summary(sc, &id);
	cm_batch_init(&t);
	rv = st_trace_get_locked(sc->store, &id, &t);
	if (rv == CM_ENOENT) { /* the index outlived its spans */
		cm_batch_fini(&t);
		return CM_OK;
	}
	if (rv != CM_OK) {
		cm_batch_fini(&t);
		return rv;
	}
	for (uint32_t i = 0; i < t.nspans && !match; i++)
		match = span_matches(&t, &t.spans[i], sc->q, sc->end, sc->sums == NULL);
	if (match && sc->out != NULL) {
		sc->out->v[sc->out->n++] = t; /* the batch moves into the result */
		sc->found++;
		return CM_OK;
	}
	cm_batch_fini(&t);
	return match ? keep_summary(sc, &id) : CM_OK;
}

/*
 * The candidates an index entry names by ref, the beginning of a trace id:
 * the traces of the entry's partition whose ids begin so, usually one.
 * When several do, the entry decides for none of them: each is checked.
 */
static int
consider(scan *sc, const uint8_t *ref, bool index_decides)
{
	rocksdb_iterator_t **it = &sc->ref_it[sc->part];
	uint8_t first[16];
	size_t traces = 0, klen;
	const char *key;
	int rv = CM_OK;

	if (*it == NULL)
		*it = rocksdb_create_iterator_cf(sc->store->db, sc->total, sc->store->parts[sc->part].spans);
	for (rocksdb_iter_seek(*it, (const char *)ref, ST_TRACE_REF_BYTES); rv == CM_OK && rocksdb_iter_valid(*it);
	     rocksdb_iter_next(*it)) {
		key = rocksdb_iter_key(*it, &klen);
		if (klen < 16 || memcmp(key, ref, ST_TRACE_REF_BYTES) != 0)
			break;
		if (traces > 0 && memcmp(key, first, 16) == 0)
			continue; /* another block of the same trace */
		if (traces++ == 1)
			rv = consider_id(sc, first, false);
		memcpy(first, key, 16);
		if (traces > 1 && rv == CM_OK && !scan_done(sc))
			rv = consider_id(sc, first, false);
		if (scan_done(sc))
			break;
	}
	if (traces == 1)
		rv = consider_id(sc, first, index_decides);
	return rv;
}

/*
 * The trace ids of one batch: its 'T' entry (keys.h), read by the suffix
 * <start_ns BE><batch> that its other entries' keys end with. *ids is NULL
 * when the entry is missing or damaged (the batch is skipped rather than
 * the search failed); CM_EIO when reading failed.
 */
static int
batch_traces(scan *sc, rocksdb_column_family_handle_t *index, const char *suffix, char **ids, size_t *n)
{
	char key[17], *err = NULL;
	size_t len = 0;

	key[0] = ST_INDEX_TIME;
	memcpy(key + 1, suffix, 16);
	*ids = rocksdb_get_cf(sc->store->db, sc->store->ropts, index, key, sizeof key, &len, &err);
	if (err != NULL)
		return st_rocks_error("read index", err);
	if (*ids != NULL && len % ST_TRACE_REF_BYTES != 0) {
		free(*ids);
		*ids = NULL;
	}
	*n = len / ST_TRACE_REF_BYTES;
	return CM_OK;
}

/* The candidates of a 'T' entry: every trace of its batch, in order. */
static int
consider_times(scan *sc, const char *ids, size_t len)
{
	const st_query *q = sc->q;
	/* time entries decide only a window */
	bool decides = q->ntags == 0 && (!q->operation || !*q->operation) && !q->min_dur_ns && !q->max_dur_ns;
	int rv = CM_OK;

	if (len % ST_TRACE_REF_BYTES != 0)
		return CM_OK; /* a damaged entry: skip it rather than fail the search */
	for (size_t i = 0; i < len / ST_TRACE_REF_BYTES && rv == CM_OK && !scan_done(sc); i++)
		rv = consider(sc, (const uint8_t *)ids + ST_TRACE_REF_BYTES * i, decides);
	return rv;
}

/*
 * The candidates of an 'S' entry: the traces of its batch that its service
 * has spans in, skipping those whose operations there cannot match.
 */
static int
consider_service(scan *sc, rocksdb_column_family_handle_t *index, const char *suffix, const char *val, size_t vlen)
{
	const st_query *q = sc->q;
	/* service entries decide an operation and one duration bound */
	bool decides = q->ntags == 0 && !(q->min_dur_ns && q->max_dur_ns);
	const st_block_syms syms = { st_store_symbol, sc->store };
	const uint8_t *p = (const uint8_t *)val, *end = p + vlen;
	uint64_t pos = 0, gap, nops;
	char *ids;
	size_t n;
	int rv = batch_traces(sc, index, suffix, &ids, &n);

	while (rv == CM_OK && ids != NULL && p < end && !scan_done(sc)) {
		bool sure, ok, may;
		if (!st_get_varint(&p, end, &gap) || !st_get_varint(&p, end, &nops) || gap >= n - pos)
			break; /* damaged: skip the rest of the entry */
		pos += gap;
		may = ops_may_match(&p, end, nops, q, &syms, &sure, &ok);
		if (!ok)
			break;
		if (may)
			rv = consider(sc, (const uint8_t *)ids + ST_TRACE_REF_BYTES * pos, decides && sure);
		if (++pos == n)
			break;
	}
	free(ids);
	return rv;
}

/* A posting lookup in one batch: its hits become candidates via the batch's 'T' entry. */
typedef struct tag_hits {
	scan *sc;
	rocksdb_column_family_handle_t *index;
	const char *suffix; /* <start_ns BE><batch> of the batch */
	char *ids;          /* its 'T' entry, read on the first hit */
	size_t n;
	char *svc;          /* its 'S' entry of the query's service, read on the first hit (NULL: none) */
	size_t svc_len;
	bool loaded, filter;
	int rv;
} tag_hits;

/*
 * Reads the batch's 'S' entry of the query's service, when the query has a
 * service whose name the index keeps (ST_SERVICE_KEY_MAX).
 */
static int
load_service(tag_hits *h)
{
	const char *svc = h->sc->q->service;
	size_t slen = svc ? strlen(svc) : 0;
	char key[ST_SERVICE_KEY_MAX + 2 + 16], *err = NULL;
	size_t klen;

	if (slen == 0 || slen > ST_SERVICE_KEY_MAX)
		return CM_OK;
	klen = st_key_service(key, svc, slen);
	memcpy(key + klen, h->suffix, 16);
	h->svc = rocksdb_get_cf(h->sc->store->db, h->sc->store->ropts, h->index, key, klen + 16, &h->svc_len, &err);
	if (err != NULL)
		return st_rocks_error("read index", err);
	h->filter = true;
	return CM_OK;
}

/*
 * Whether the batch's 'S' entry lists trace position i with an operation
 * that may match. A trace matches by a span with the service and the tag;
 * the batch that span came in lists both, so a hit in a batch that does
 * not list the trace under the service is a stranger or another span's
 * tag, and is passed over without a read. A damaged entry filters nothing.
 */
static bool
service_may_have(const tag_hits *h, uint32_t i)
{
	const st_block_syms syms = { st_store_symbol, h->sc->store };
	const uint8_t *p = (const uint8_t *)h->svc, *end = p + h->svc_len;
	uint64_t pos = 0, gap, nops;

	if (!h->filter)
		return true;
	while (p < end) {
		bool sure, ok, may;
		if (!st_get_varint(&p, end, &gap) || !st_get_varint(&p, end, &nops) || gap > UINT32_MAX - pos)
			return true;
		pos += gap;
		may = ops_may_match(&p, end, nops, h->sc->q, &syms, &sure, &ok);
		if (!ok)
			return true;
		if (pos >= i)
			return pos == i && may;
		pos++;
	}
	return false;
}

static int
on_tag_hit(void *arg, uint32_t i)
{
	tag_hits *h = arg;

	if (!h->loaded) {
		h->loaded = true;
		if ((h->rv = batch_traces(h->sc, h->index, h->suffix, &h->ids, &h->n)) != CM_OK ||
		    (h->rv = load_service(h)) != CM_OK)
			return 1;
	}
	if (h->ids == NULL)
		return 1;
	if (i < h->n && service_may_have(h, i))
		h->rv = consider(h->sc, (const uint8_t *)h->ids + ST_TRACE_REF_BYTES * (size_t)i, false);
	return h->rv != CM_OK || scan_done(h->sc);
}

/* The candidates of one posting entry: the traces of its batch listed with the tag's low hash bits. */
static int
consider_postings(scan *sc, rocksdb_column_family_handle_t *index, const char *key, const char *val, size_t vlen,
    uint32_t lo)
{
	tag_hits h = { .sc = sc, .index = index, .suffix = key + 2 };
	st_tag_postings_find(val, vlen, lo, on_tag_hit, &h); /* a damaged entry ends early: skip the rest */
	free(h.ids);
	free(h.svc);
	return h.rv;
}

/*
 * The newest index entry under prefix still unread, over all partitions'
 * cursors: partitions are by arrival, so any of them may hold the next
 * newest. Returns its cursor's position in it[], or -1 when none is left.
 */
static int
newest(rocksdb_iterator_t **it, bool *done, size_t n, const char *prefix, size_t plen)
{
	const char *best = NULL;
	int at = -1;
	for (size_t i = 0; i < n; i++) {
		size_t klen;
		const char *key;
		if (done[i] || !rocksdb_iter_valid(it[i])) {
			done[i] = true;
			continue;
		}
		key = rocksdb_iter_key(it[i], &klen);
		if (klen != plen + 16 || memcmp(key, prefix, plen) != 0) {
			done[i] = true;
			continue;
		}
		if (best == NULL || memcmp(key + plen, best + plen, 16) > 0) {
			best = key;
			at = (int)i;
		}
	}
	return at;
}

/* Scans the index for q (see the top of this file), keeping what sc keeps. */
static int
run(st_store *s, const st_query *q, scan sc)
{
	size_t slen = q->service ? strlen(q->service) : 0, nit = 0, *part_of = NULL;
	uint64_t tag_hash = 0;
	char *prefix = cm_malloc(slen + 2 + 16), *upper;
	size_t plen;
	rocksdb_iterator_t **it = NULL;
	bool *done = NULL;
	int rv = CM_OK, at;
	uint64_t now;

	if ((rv = st_lock_read(s)) != CM_OK) {
		cm_free(prefix);
		return rv;
	}
	now = s->now_ns();
	sc.seen = cm_malloc(SEEN_SLOTS * 16);
	sc.used = cm_calloc(SEEN_SLOTS, sizeof *sc.used);
	it = cm_calloc(s->nparts + 1, sizeof *it);
	done = cm_calloc(s->nparts + 1, sizeof *done);
	part_of = cm_calloc(s->nparts + 1, sizeof *part_of);
	sc.ref_it = cm_calloc(s->nparts + 1, sizeof *sc.ref_it);
	sc.total = rocksdb_readoptions_create();
	rocksdb_readoptions_set_total_order_seek(sc.total, 1);
	if (prefix == NULL || sc.seen == NULL || sc.used == NULL || it == NULL || done == NULL || part_of == NULL ||
	    sc.ref_it == NULL) {
		rv = CM_ENOMEM;
		goto done;
	}
	if (q->ntags > 0) { /* the postings of the first tag: usually far fewer traces than a service has */
		tag_hash = st_tag_hash(cm_str_from(q->tags[0].key), cm_str_from(q->tags[0].value));
		prefix[0] = ST_INDEX_TAG;
		prefix[1] = (char)st_tag_bucket(tag_hash);
		plen = 2;
	} else if (slen > 0) {
		plen = st_key_service(prefix, q->service, slen);
	} else {
		prefix[0] = ST_INDEX_TIME;
		plen = 1;
	}
	/* newest first: in every partition, the last key at or before (prefix, end, ff..ff) */
	upper = prefix + plen;
	st_put_be64((uint8_t *)upper, sc.end);
	memset(upper + 8, 0xff, 8);
	for (size_t i = 0; i < s->nparts; i++) {
		if (!st_part_alive(s, &s->parts[i], now))
			continue;
		part_of[nit] = i;
		it[nit] = rocksdb_create_iterator_cf(s->db, s->ropts, s->parts[i].index);
		rocksdb_iter_seek_for_prev(it[nit++], prefix, plen + 16);
	}
	while (!scan_done(&sc) && rv == CM_OK &&
	    (at = newest(it, done, nit, prefix, plen)) >= 0) {
		size_t klen, vlen;
		const char *key = rocksdb_iter_key(it[at], &klen), *val;

		if (st_get_be64((const uint8_t *)key + plen) + ST_SEARCH_SLACK_NS < q->start_ns)
			break; /* older batches cannot hold spans in the window (see store.h) */
		val = rocksdb_iter_value(it[at], &vlen);
		sc.part = part_of[at];
		if (q->ntags > 0)
			rv = consider_postings(&sc, s->parts[part_of[at]].index, key, val, vlen, st_tag_low(tag_hash));
		else if (slen > 0)
			rv = consider_service(&sc, s->parts[part_of[at]].index, key + plen, val, vlen);
		else
			rv = consider_times(&sc, val, vlen);
		rocksdb_iter_prev(it[at]);
	}
	for (size_t i = 0; i < nit; i++)
		rv = st_iter_close(it[i], "search", rv);
	for (size_t i = 0; sc.ref_it != NULL && i < s->nparts; i++)
		if (sc.ref_it[i] != NULL)
			rv = st_iter_close(sc.ref_it[i], "search", rv);
done:
	pthread_rwlock_unlock(&s->lock);
	rocksdb_readoptions_destroy(sc.total);
	cm_free(sc.ref_it);
	cm_free(prefix);
	cm_free(it);
	cm_free(done);
	cm_free(part_of);
	cm_free(sc.seen);
	cm_free(sc.used);
	return rv;
}

int
st_search(st_store *s, const st_query *q, st_traces *out)
{
	scan sc = { .store = s, .q = q, .end = q->end_ns ? q->end_ns : UINT64_MAX,
		.limit = q->limit ? q->limit : 20, .out = out };
	int rv;

	memset(out, 0, sizeof *out);
	if ((out->v = cm_calloc(sc.limit, sizeof *out->v)) == NULL)
		return CM_ENOMEM;
	if ((rv = run(s, q, sc)) != CM_OK)
		st_traces_fini(out);
	return rv;
}

int
st_search_summaries(st_store *s, const st_query *q, st_summaries *out)
{
	scan sc = { .store = s, .q = q, .end = q->end_ns ? q->end_ns : UINT64_MAX,
		.limit = q->limit ? q->limit : 20, .sums = out };
	int rv;

	memset(out, 0, sizeof *out);
	if ((out->v = cm_calloc(sc.limit, sizeof *out->v)) == NULL)
		return CM_ENOMEM;
	if ((rv = run(s, q, sc)) != CM_OK)
		st_summaries_fini(out);
	return rv;
}

void
st_traces_fini(st_traces *t)
{
	for (size_t i = 0; i < t->n; i++)
		cm_batch_fini(&t->v[i]);
	cm_free(t->v);
	t->v = NULL;
	t->n = 0;
}
