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
 */
#include <inttypes.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "err.h"
#include "keys.h"
#include "mpcheck.h"
#include "partition.h"
#include "summary.h"
#include "tags.h"
#include "store_int.h"

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
 * Can a trace with these [[op, min, max], ...] of the service hold a
 * matching span? *sure is set false when the answer is a guess (a
 * wildcard entry, a damaged one) rather than a fact.
 */
static bool
ops_may_match(const msgpack_object *ops, const st_query *q, bool *sure)
{
	*sure = true;
	if ((!q->operation || !*q->operation) && q->min_dur_ns == 0 && q->max_dur_ns == 0)
		return true;
	*sure = false;
	if (ops->type != MSGPACK_OBJECT_ARRAY)
		return true; /* when in doubt, read the trace */
	for (uint32_t i = 0; i < ops->via.array.size; i++) {
		const msgpack_object *e = &ops->via.array.ptr[i];
		if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 3 || e->via.array.ptr[0].type != MSGPACK_OBJECT_STR)
			return true;
		const msgpack_object_str *op = &e->via.array.ptr[0].via.str;
		uint64_t mn = e->via.array.ptr[1].via.u64, mx = e->via.array.ptr[2].via.u64;
		bool wildcard = op->size == 1 && op->ptr[0] == '*';
		if (!wildcard && q->operation && *q->operation &&
		    (op->size != strlen(q->operation) || memcmp(op->ptr, q->operation, op->size) != 0))
			continue;
		if (mx >= q->min_dur_ns && (q->max_dur_ns == 0 || mn <= q->max_dur_ns)) {
			*sure = !wildcard;
			return true;
		}
	}
	*sure = true;
	return false;
}

typedef struct scan {
	st_store *store;
	const st_query *q;
	uint64_t end;
	uint32_t limit, candidates, found;
	uint8_t (*seen)[16];
	bool *used;
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
consider(scan *sc, const uint8_t *tid, bool index_decides)
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

/* The candidates of one index entry (keys.h), in order. */
static int
consider_entry(scan *sc, const char *val, size_t vlen, bool by_service)
{
	const st_query *q = sc->q;
	bool any_op = !q->operation || !*q->operation;
	/*
	 * Service entries list each trace's operations in that service with
	 * their shortest and longest span: they decide an operation and one
	 * duration bound. Time entries decide only a window.
	 */
	bool decides = q->ntags == 0 &&
	    (by_service ? !(q->min_dur_ns && q->max_dur_ns) : any_op && !q->min_dur_ns && !q->max_dur_ns);
	msgpack_unpacked up;
	const char *why;
	size_t off = 0;
	int rv = CM_OK;

	if (cm_msgpack_check(val, vlen, 6, &why) != CM_OK)
		return CM_OK; /* a damaged entry: skip it rather than fail the search */
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, val, vlen, &off) == MSGPACK_UNPACK_SUCCESS && up.data.type == MSGPACK_OBJECT_ARRAY) {
		for (uint32_t i = 0; i < up.data.via.array.size && rv == CM_OK; i++) {
			const msgpack_object *e = &up.data.via.array.ptr[i], *tid = e;
			bool sure = true;
			if (scan_done(sc))
				break;
			if (by_service) {
				if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 2)
					continue;
				tid = &e->via.array.ptr[0];
				if (!ops_may_match(&e->via.array.ptr[1], sc->q, &sure))
					continue;
			}
			if (tid->type == MSGPACK_OBJECT_BIN && tid->via.bin.size == 16)
				rv = consider(sc, (const uint8_t *)tid->via.bin.ptr, decides && sure);
		}
	}
	msgpack_unpacked_destroy(&up);
	return rv;
}

/* A posting lookup in one batch: its hits become candidates via the batch's 'T' entry. */
typedef struct tag_hits {
	scan *sc;
	rocksdb_column_family_handle_t *index;
	const char *suffix; /* <start_ns BE><batch> of the batch */
	char *tval;         /* its 'T' entry, read on the first hit */
	size_t tlen;
	msgpack_unpacked up;
	bool loaded;
	int rv;
} tag_hits;

static int
on_tag_hit(void *arg, uint32_t i)
{
	tag_hits *h = arg;
	const msgpack_object *tid;

	if (!h->loaded) {
		char key[17], *err = NULL;
		const char *why;
		size_t off = 0;
		key[0] = ST_INDEX_TIME;
		memcpy(key + 1, h->suffix, 16);
		h->loaded = true;
		h->tval = rocksdb_get_cf(h->sc->store->db, h->sc->store->ropts, h->index, key, sizeof key, &h->tlen, &err);
		if (err != NULL) {
			h->rv = st_rocks_error("read index", err);
			return 1;
		}
		if (h->tval == NULL || cm_msgpack_check(h->tval, h->tlen, 2, &why) != CM_OK ||
		    msgpack_unpack_next(&h->up, h->tval, h->tlen, &off) != MSGPACK_UNPACK_SUCCESS ||
		    h->up.data.type != MSGPACK_OBJECT_ARRAY)
			return 1; /* a damaged or missing entry: skip the batch rather than fail the search */
	}
	if (h->up.data.type != MSGPACK_OBJECT_ARRAY || i >= h->up.data.via.array.size)
		return 0;
	tid = &h->up.data.via.array.ptr[i];
	if (tid->type == MSGPACK_OBJECT_BIN && tid->via.bin.size == 16)
		h->rv = consider(h->sc, (const uint8_t *)tid->via.bin.ptr, false);
	return h->rv != CM_OK || scan_done(h->sc);
}

/* The candidates of one posting entry: the traces of its batch listed with the tag's low hash bits. */
static int
consider_postings(scan *sc, rocksdb_column_family_handle_t *index, const char *key, const char *val, size_t vlen,
    uint32_t lo)
{
	tag_hits h = { .sc = sc, .index = index, .suffix = key + 2 };
	msgpack_unpacked_init(&h.up);
	st_tag_postings_find(val, vlen, lo, on_tag_hit, &h); /* a damaged entry ends early: skip the rest */
	msgpack_unpacked_destroy(&h.up);
	free(h.tval);
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
	char *err = NULL;
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
	if (prefix == NULL || sc.seen == NULL || sc.used == NULL || it == NULL || done == NULL || part_of == NULL) {
		rv = CM_ENOMEM;
		goto done;
	}
	if (q->ntags > 0) { /* the postings of the first tag: usually far fewer traces than a service has */
		tag_hash = st_tag_hash(cm_str_from(q->tags[0].key), cm_str_from(q->tags[0].value));
		prefix[0] = ST_INDEX_TAG;
		prefix[1] = (char)st_tag_bucket(tag_hash);
		plen = 2;
	} else if (slen > 0) {
		prefix[0] = ST_INDEX_SERVICE;
		memcpy(prefix + 1, q->service, slen);
		prefix[1 + slen] = '\0';
		plen = slen + 2;
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
		if (q->ntags > 0)
			rv = consider_postings(&sc, s->parts[part_of[at]].index, key, val, vlen, st_tag_low(tag_hash));
		else
			rv = consider_entry(&sc, val, vlen, slen > 0);
		rocksdb_iter_prev(it[at]);
	}
	for (size_t i = 0; i < nit; i++) {
		rocksdb_iter_get_error(it[i], &err);
		rocksdb_iter_destroy(it[i]);
		if (err != NULL)
			rv = st_rocks_error("search", err);
		err = NULL;
	}
done:
	pthread_rwlock_unlock(&s->lock);
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
