/*
 * search.c - trace search: index scan newest first, exact check per trace.
 *
 * The index (keys.h) has one entry per written batch (per service, and
 * one by time alone) listing the batch's traces. Entries are scanned newest
 * first, by service when the query has one; traces whose operations and
 * duration ranges in that service cannot match are skipped without reading
 * them. Each remaining candidate is read and checked exactly against
 * the query, so the index only has to be a superset. At most
 * ST_SEARCH_MAX_CANDIDATES traces are read per search.
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

/* The value as the text a tag query compares with; false for bytes and arrays. */
static bool
value_text(const cm_value *v, char *buf, size_t cap, cm_str *out)
{
	switch (v->type) {
	case CM_VAL_STR:
		*out = v->u.s;
		return true;
	case CM_VAL_BOOL:
		*out = v->u.b ? CM_STR("true") : CM_STR("false");
		return true;
	case CM_VAL_INT:
		snprintf(buf, cap, "%" PRId64, v->u.i);
		break;
	case CM_VAL_DOUBLE:
		for (int prec = 15; prec <= 17; prec++) { /* shortest text that reads back the same */
			snprintf(buf, cap, "%.*g", prec, v->u.d);
			if (strtod(buf, NULL) == v->u.d)
				break;
		}
		break;
	default:
		return false;
	}
	*out = cm_str_from(buf);
	return true;
}

static bool
attrs_have(const cm_attrs *a, const st_tag *tag)
{
	char buf[64];
	for (uint32_t i = 0; i < a->n; i++) {
		cm_str text;
		if (cm_str_eq(a->v[i].key, tag->key) && value_text(&a->v[i].val, buf, sizeof buf, &text) &&
		    cm_str_eq(text, tag->value))
			return true;
	}
	return false;
}

/*
 * Tags that Jaeger JSON shows but the span model keeps as fields
 * (query/jaeger.h): a search for them must match the fields.
 */
static bool
synthesized_tag_matches(const cm_batch *t, const cm_span *s, const st_tag *tag)
{
	const cm_scope *sc = s->scope < t->nscopes ? &t->scopes[s->scope] : NULL;
	if (strcmp(tag->key, "error") == 0)
		return strcmp(tag->value, "true") == 0 && s->status == CM_STATUS_ERROR;
	if (strcmp(tag->key, "span.kind") == 0)
		return s->kind != CM_KIND_UNSPECIFIED && s->kind != CM_KIND_INTERNAL &&
		    strcmp(tag->value, cm_kind_name(s->kind)) == 0;
	if (strcmp(tag->key, "otel.status_code") == 0)
		return (s->status == CM_STATUS_ERROR && strcmp(tag->value, "ERROR") == 0) ||
		    (s->status == CM_STATUS_OK && strcmp(tag->value, "OK") == 0);
	if (strcmp(tag->key, "otel.status_description") == 0)
		return s->status == CM_STATUS_ERROR && cm_str_eq(s->status_message, tag->value);
	if (strcmp(tag->key, "otel.scope.name") == 0)
		return sc != NULL && cm_str_eq(sc->name, tag->value);
	if (strcmp(tag->key, "otel.scope.version") == 0)
		return sc != NULL && cm_str_eq(sc->version, tag->value);
	return false;
}

static bool
span_matches(const cm_batch *t, const cm_span *s, const st_query *q, uint64_t end)
{
	uint64_t d = s->end_ns - s->start_ns;
	const cm_resource *r = s->resource < t->nresources ? &t->resources[s->resource] : NULL;

	if (q->service && *q->service && (r == NULL || !cm_str_eq(r->service, q->service)))
		return false;
	if (q->operation && *q->operation && !cm_str_eq(s->name, q->operation))
		return false;
	if (d < q->min_dur_ns || (q->max_dur_ns && d > q->max_dur_ns))
		return false;
	if (s->start_ns < q->start_ns || s->start_ns > end)
		return false;
	for (size_t k = 0; k < q->ntags; k++) {
		bool found = attrs_have(&s->attrs, &q->tags[k]) || (r != NULL && attrs_have(&r->attrs, &q->tags[k])) ||
		    synthesized_tag_matches(t, s, &q->tags[k]);
		for (uint32_t e = 0; e < s->nevents && !found; e++)
			found = attrs_have(&s->events[e].attrs, &q->tags[k]);
		if (!found)
			return false;
	}
	return true;
}

/* Can a trace with these [[op, min, max], ...] of the service hold a matching span? */
static bool
ops_may_match(const msgpack_object *ops, const st_query *q)
{
	if ((!q->operation || !*q->operation) && q->min_dur_ns == 0 && q->max_dur_ns == 0)
		return true;
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
		if (mx >= q->min_dur_ns && (q->max_dur_ns == 0 || mn <= q->max_dur_ns))
			return true;
	}
	return false;
}

typedef struct scan {
	st_store *store;
	const st_query *q;
	uint64_t end;
	uint32_t limit, candidates;
	uint8_t (*seen)[16];
	bool *used;
	st_traces *out;
} scan;

/* Reads candidate trace id and keeps it if it matches. Returns CM_OK or an error. */
static int
consider(scan *sc, const uint8_t *tid)
{
	cm_trace_id id;
	cm_batch t;
	bool match = false;
	int rv;

	if (!seen_add(sc->seen, sc->used, tid))
		return CM_OK; /* another batch of a trace already read */
	sc->candidates++;
	memcpy(id.b, tid, 16);
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
		match = span_matches(&t, &t.spans[i], sc->q, sc->end);
	if (match)
		sc->out->v[sc->out->n++] = t; /* the batch moves into the result */
	else
		cm_batch_fini(&t);
	return CM_OK;
}

/* The candidates of one index entry (keys.h), in order. */
static int
consider_entry(scan *sc, const char *val, size_t vlen, bool by_service)
{
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
			if (sc->out->n >= sc->limit || sc->candidates >= ST_SEARCH_MAX_CANDIDATES)
				break;
			if (by_service) {
				if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 2)
					continue;
				tid = &e->via.array.ptr[0];
				if (!ops_may_match(&e->via.array.ptr[1], sc->q))
					continue;
			}
			if (tid->type == MSGPACK_OBJECT_BIN && tid->via.bin.size == 16)
				rv = consider(sc, (const uint8_t *)tid->via.bin.ptr);
		}
	}
	msgpack_unpacked_destroy(&up);
	return rv;
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

int
st_search(st_store *s, const st_query *q, st_traces *out)
{
	size_t slen = q->service ? strlen(q->service) : 0, nit = 0;
	char *prefix = cm_malloc(slen + 2 + 16), *upper;
	size_t plen;
	rocksdb_iterator_t **it = NULL;
	bool *done = NULL;
	char *err = NULL;
	int rv = CM_OK, at;
	uint64_t now;
	scan sc = { .store = s, .q = q, .end = q->end_ns ? q->end_ns : UINT64_MAX,
		.limit = q->limit ? q->limit : 20, .out = out };

	memset(out, 0, sizeof *out);
	if ((rv = st_lock_read(s)) != CM_OK) {
		cm_free(prefix);
		return rv;
	}
	now = s->now_ns();
	sc.seen = cm_malloc(SEEN_SLOTS * 16);
	sc.used = cm_calloc(SEEN_SLOTS, sizeof *sc.used);
	it = cm_calloc(s->nparts + 1, sizeof *it);
	done = cm_calloc(s->nparts + 1, sizeof *done);
	if (prefix == NULL || sc.seen == NULL || sc.used == NULL || it == NULL || done == NULL ||
	    (out->v = cm_calloc(sc.limit, sizeof *out->v)) == NULL) {
		rv = CM_ENOMEM;
		goto done;
	}
	if (slen > 0) {
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
		it[nit] = rocksdb_create_iterator_cf(s->db, s->ropts, s->parts[i].index);
		rocksdb_iter_seek_for_prev(it[nit++], prefix, plen + 16);
	}
	while (out->n < sc.limit && sc.candidates < ST_SEARCH_MAX_CANDIDATES && rv == CM_OK &&
	    (at = newest(it, done, nit, prefix, plen)) >= 0) {
		size_t klen, vlen;
		const char *key = rocksdb_iter_key(it[at], &klen), *val;

		if (st_get_be64((const uint8_t *)key + plen) + ST_SEARCH_SLACK_NS < q->start_ns)
			break; /* older batches cannot hold spans in the window (see store.h) */
		val = rocksdb_iter_value(it[at], &vlen);
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
	cm_free(sc.seen);
	cm_free(sc.used);
	if (rv != CM_OK)
		st_traces_fini(out);
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
