/*
 * spanread.c - the read path: a trace by id, services, operations.
 *
 * A trace is read with one prefix seek on its 16-byte id, block after block.
 * Every value is copied into the result batch's arena before it is
 * decoded, and symbols' texts too, so the span strings live exactly as
 * long as the batch. Spans
 * come out ordered by start within each block and blocks by their first
 * start; the result is then sorted by start. Resources and scopes are
 * fetched once per distinct hash.
 *
 * A span stored again by a resent batch is read once: a resent batch
 * forms other blocks than the write it was first part of (spanwrite.c),
 * or lands in the next partition, so a span equal in id, start and
 * parent to one of an earlier block is dropped. Repeats within one block
 * are the sender's own and are kept, as Jaeger keeps them.
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "block.h"
#include "err.h"
#include "keys.h"
#include "partition.h"
#include "spanpack.h"
#include "store_int.h"

typedef struct refs {
	uint64_t *v;
	uint32_t n, cap;
} refs;

/* Returns the index of h in r, appending it if new; UINT32_MAX when out of memory. */
static uint32_t
ref_index(refs *r, uint64_t h)
{
	uint64_t *v;

	for (uint32_t i = 0; i < r->n; i++)
		if (r->v[i] == h)
			return i;
	if ((v = cm_grow(r->v, r->n, &r->cap, sizeof *v, 4)) == NULL)
		return UINT32_MAX;
	r->v = v;
	r->v[r->n] = h;
	return r->n++;
}

static int
by_start(const void *a, const void *b)
{
	const cm_span *x = a, *y = b;
	if (x->start_ns != y->start_ns)
		return x->start_ns < y->start_ns ? -1 : 1;
	return memcmp(x->span_id.b, y->span_id.b, 8);
}

/* A stored meta value (msgpack), copied into the arena: what is read from it points there. */
static int
get_meta(st_store *s, char tag, uint64_t hash, cm_arena *a, cm_mpread *r)
{
	char key[9], *err = NULL, *val, *copy;
	size_t len;

	key[0] = tag;
	st_put_be64((uint8_t *)key + 1, hash);
	val = rocksdb_get_cf(s->db, s->ropts, s->cf[CF_META], key, sizeof key, &len, &err);
	if (err != NULL)
		return st_rocks_error("get meta", err);
	if (val == NULL)
		return CM_ENOENT;
	copy = cm_arena_alloc(a, len ? len : 1);
	if (copy != NULL)
		memcpy(copy, val, len);
	free(val);
	if (copy == NULL)
		return CM_ENOMEM;
	*r = cm_mp_reader(copy, len);
	return CM_OK;
}

/*
 * The resource stored under hash, read into a; one with the service
 * "unknown_service" when there is none (it is written in the same batch
 * as the spans that name it: missing only if damaged). CM_EIO if damaged.
 */
static int
read_resource(st_store *s, uint64_t hash, cm_arena *a, cm_resource *res)
{
	cm_mpread r;
	const char *why;
	int rv = get_meta(s, ST_META_RESOURCE, hash, a, &r);

	if (rv == CM_ENOENT) {
		*res = (cm_resource){ .service = CM_STR("unknown_service") };
		return CM_OK;
	}
	if (rv == CM_OK && (rv = cm_unpack_resource(&r, a, res, &why)) == CM_OK && r.p != r.end)
		rv = CM_EPROTO;
	return rv == CM_EPROTO ? CM_EIO : rv;
}

int
st_resource_service(st_store *s, uint64_t hash, cm_arena *a, cm_str *service)
{
	st_service_cache *c = &s->services;
	st_service_slot *slot = &c->slot[hash % ST_SERVICE_SLOTS];
	cm_resource res;
	char *copy = NULL, *name;
	bool found;
	int rv;

	pthread_mutex_lock(&c->mu);
	if ((found = slot->name != NULL && slot->hash == hash) &&
	    (copy = cm_arena_alloc_uninit(a, slot->len + 1)) != NULL) {
		memcpy(copy, slot->name, slot->len);
		*service = (cm_str){ copy, slot->len };
	}
	pthread_mutex_unlock(&c->mu);
	if (found)
		return copy != NULL ? CM_OK : CM_ENOMEM;
	if ((rv = read_resource(s, hash, a, &res)) != CM_OK)
		return rv;
	*service = res.service;
	if ((name = cm_strndup(res.service.p, res.service.len)) != NULL) { /* else not cached: no harm */
		pthread_mutex_lock(&c->mu);
		cm_free(slot->name);
		*slot = (st_service_slot){ hash, name, res.service.len };
		pthread_mutex_unlock(&c->mu);
	}
	return CM_OK;
}

static int
load_refs(st_store *s, cm_batch *out, const refs *res, const refs *scopes)
{
	const char *why;
	int rv = CM_OK;

	out->resources = cm_arena_alloc(&out->arena, sizeof(cm_resource) * (res->n + 1));
	out->scopes = cm_arena_alloc(&out->arena, sizeof(cm_scope) * (scopes->n + 1));
	if (out->resources == NULL || out->scopes == NULL)
		return CM_ENOMEM;
	out->nresources = res->n;
	out->nscopes = scopes->n;
	for (uint32_t i = 0; i < res->n && rv == CM_OK; i++)
		rv = read_resource(s, res->v[i], &out->arena, &out->resources[i]);
	for (uint32_t i = 0; i < scopes->n && rv == CM_OK; i++) {
		cm_mpread r;
		rv = get_meta(s, ST_META_SCOPE, scopes->v[i], &out->arena, &r);
		if (rv == CM_OK) {
			rv = cm_unpack_scope(&r, &out->arena, &out->scopes[i], &why);
			if (rv == CM_OK && r.p != r.end)
				rv = CM_EPROTO;
		} else if (rv == CM_ENOENT) {
			rv = CM_OK;
		}
	}
	return rv == CM_EPROTO ? CM_EIO : rv;
}

int
st_trace_blocks(st_store *s, rocksdb_column_family_handle_t *spans, const cm_trace_id *id,
    int (*fn)(void *arg, const uint8_t *key, const char *val, size_t len), void *arg, const char *what)
{
	rocksdb_iterator_t *it = rocksdb_create_iterator_cf(s->db, s->prefix_ropts, spans);
	int rv = CM_OK;

	for (rocksdb_iter_seek(it, (const char *)id->b, 16); rocksdb_iter_valid(it) && rv == CM_OK;
	     rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const char *key = rocksdb_iter_key(it, &klen), *val;
		if (klen != ST_SPAN_KEY_SIZE || memcmp(key, id->b, 16) != 0)
			break;
		val = rocksdb_iter_value(it, &vlen);
		rv = fn(arg, (const uint8_t *)key, val, vlen);
	}
	return st_iter_close(it, what, rv);
}

int
st_trace_ids(st_store *s, int (*fn)(void *arg, const cm_trace_id *id), void *arg)
{
	uint64_t now;
	int rv;

	if ((rv = st_lock_read(s)) != CM_OK)
		return rv;
	now = s->now_ns();
	for (size_t i = 0; i < s->nparts && rv == CM_OK; i++) {
		rocksdb_iterator_t *it;
		cm_trace_id last;
		bool any = false;
		if (!st_part_alive(s, &s->parts[i], now))
			continue;
		it = rocksdb_create_iterator_cf(s->db, s->ropts, s->parts[i].spans);
		for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it) && rv == CM_OK; rocksdb_iter_next(it)) {
			size_t klen;
			const char *key = rocksdb_iter_key(it, &klen);
			if (klen < 16 || (any && memcmp(key, last.b, 16) == 0))
				continue;
			memcpy(last.b, key, 16);
			any = true;
			rv = fn(arg, &last);
		}
		rv = st_iter_close(it, "list traces", rv);
	}
	pthread_rwlock_unlock(&s->lock);
	return rv;
}

/* The spans of the blocks read so far, by span id: open addressing of index + 1 in out->spans. */
typedef struct span_set {
	uint32_t *slot;
	uint32_t mask; /* slots - 1; no table yet when slot is NULL */
	uint32_t n;
} span_set;

/* The trace being read: spans appended to out, resource and scope hashes numbered. */
typedef struct trace_read {
	st_store *s;
	const cm_trace_id *id;
	cm_batch *out;
	uint32_t cap;
	refs res, scopes;
	span_set seen;
} trace_read;

/* A symbol's text, copied into the batch's arena (st_block_syms). */
static int
symbol_text(void *arg, uint32_t id, cm_str *out)
{
	trace_read *tr = arg;
	cm_str t;
	char *copy;
	int rv = st_store_symbol(tr->s, id, &t);
	if (rv != CM_OK)
		return rv;
	if ((copy = cm_arena_strndup_fast(&tr->out->arena, t.p, t.len)) == NULL)
		return CM_ENOMEM;
	*out = (cm_str){ copy, t.len };
	return CM_OK;
}

/* Makes room for n more spans in out. */
static int
grow(trace_read *tr, uint32_t n)
{
	cm_batch *out = tr->out;
	uint32_t cap = tr->cap ? tr->cap : 64;
	cm_span *v;

	if (out->nspans + n <= tr->cap)
		return CM_OK;
	while (cap < out->nspans + n)
		cap *= 2;
	if ((v = cm_arena_alloc_uninit(&out->arena, (size_t)cap * sizeof *v)) == NULL)
		return CM_ENOMEM;
	if (out->nspans > 0)
		memcpy(v, out->spans, out->nspans * sizeof *v);
	out->spans = v;
	tr->cap = cap;
	return CM_OK;
}

static uint32_t
span_home(const span_set *set, const cm_span *sp)
{
	uint64_t h;
	memcpy(&h, sp->span_id.b, 8); /* random bits already */
	return (uint32_t)(h ^ h >> 32) & set->mask;
}

/* Adds out->spans[i] to the set; false when out of memory. */
static bool
set_add(span_set *set, const cm_batch *out, uint32_t i)
{
	if ((set->n + 1) * 2 > set->mask + 1 || set->slot == NULL) {
		uint32_t cap = set->slot ? (set->mask + 1) * 2 : 256;
		uint32_t *old = set->slot, old_cap = set->slot ? set->mask + 1 : 0;
		if ((set->slot = cm_calloc(cap, sizeof *set->slot)) == NULL) {
			set->slot = old;
			return false;
		}
		set->mask = cap - 1;
		set->n = 0;
		for (uint32_t k = 0; k < old_cap; k++)
			if (old[k] != 0)
				set_add(set, out, old[k] - 1); /* room enough: cannot fail */
		cm_free(old);
	}
	uint32_t h = span_home(set, &out->spans[i]);
	while (set->slot[h] != 0)
		h = (h + 1) & set->mask;
	set->slot[h] = i + 1;
	set->n++;
	return true;
}

/* Whether a span read before (an earlier block's) has sp's id, start and parent. */
static bool
set_has(const span_set *set, const cm_batch *out, const cm_span *sp)
{
	if (set->slot == NULL)
		return false;
	for (uint32_t h = span_home(set, sp); set->slot[h] != 0; h = (h + 1) & set->mask) {
		if (st_span_repeats(&out->spans[set->slot[h] - 1], sp))
			return true;
	}
	return false;
}

/*
 * Keeps the n spans just decoded after out->spans[0..out->nspans) that no
 * earlier block had (see the top of this file), and adds them to the set.
 */
static int
keep_new_spans(trace_read *tr, uint32_t n)
{
	cm_batch *out = tr->out;
	uint32_t from = out->nspans, kept = from;

	for (uint32_t k = from; k < from + n; k++)
		if (!set_has(&tr->seen, out, &out->spans[k]))
			out->spans[kept++] = out->spans[k];
	for (uint32_t k = from; k < kept; k++)
		if (!set_add(&tr->seen, out, k))
			return CM_ENOMEM;
	out->nspans = kept;
	return CM_OK;
}

/* Appends the spans of one block (st_trace_blocks callback). */
static int
add_block(void *arg, const uint8_t *key, const char *val, size_t vlen)
{
	trace_read *tr = arg;
	cm_batch *out = tr->out;
	const st_block_syms syms = { symbol_text, tr };
	size_t off;
	uint64_t *hashes;
	uint32_t n;
	char *copy;
	int rv;

	if ((rv = st_block_spans(val, vlen, &off)) != CM_OK ||
	    (rv = st_block_count(val + off, vlen - off, &n)) != CM_OK || (rv = grow(tr, n)) != CM_OK)
		return rv;
	/* the spans' inline strings point into the copy */
	if ((copy = cm_arena_alloc_uninit(&out->arena, vlen - off + 1)) == NULL ||
	    (hashes = cm_arena_alloc_uninit(&out->arena, 2 * (size_t)n * sizeof *hashes + 1)) == NULL)
		return CM_ENOMEM;
	memcpy(copy, val + off, vlen - off);
	rv = st_block_decode(copy, vlen - off, key, &syms, &out->arena, out->spans + out->nspans, hashes, hashes + n);
	for (uint32_t k = 0; rv == CM_OK && k < n; k++) {
		cm_span *sp = &out->spans[out->nspans + k];
		sp->resource = ref_index(&tr->res, hashes[k]);
		sp->scope = ref_index(&tr->scopes, hashes[n + k]);
		if (sp->resource == UINT32_MAX || sp->scope == UINT32_MAX)
			rv = CM_ENOMEM;
	}
	return rv == CM_OK ? keep_new_spans(tr, n) : rv;
}

int
st_trace_get_locked(st_store *s, const cm_trace_id *id, cm_batch *out)
{
	trace_read tr = { .s = s, .id = id, .out = out };
	uint64_t now = s->now_ns();
	int rv = CM_OK;

	for (size_t i = 0; i < s->nparts && rv == CM_OK; i++) {
		if (!st_part_alive(s, &s->parts[i], now))
			continue;
		rv = st_trace_blocks(s, s->parts[i].spans, id, add_block, &tr, "read trace");
	}
	if (rv == CM_EPROTO || rv == CM_EVERSION)
		rv = CM_EIO; /* a stored value that does not decode is damage (the layout is checked at open) */
	if (rv == CM_OK && out->nspans == 0)
		rv = CM_ENOENT;
	if (rv == CM_OK)
		qsort(out->spans, out->nspans, sizeof *out->spans, by_start);
	if (rv == CM_OK)
		rv = load_refs(s, out, &tr.res, &tr.scopes);
	cm_free(tr.res.v);
	cm_free(tr.scopes.v);
	cm_free(tr.seen.slot);
	return rv;
}

int
st_trace_get(st_store *s, const cm_trace_id *id, cm_batch *out)
{
	int rv = st_lock_read(s);
	if (rv != CM_OK)
		return rv;
	rv = st_trace_get_locked(s, id, out);
	pthread_rwlock_unlock(&s->lock);
	return rv;
}

/* Calls fn for every meta key starting with prefix; stops early when fn returns non-zero. */
static int
scan_meta(st_store *s, const char *prefix, size_t plen,
    int (*fn)(void *arg, const char *rest, size_t len), void *arg)
{
	rocksdb_iterator_t *it;
	int rv = st_lock_read(s);

	if (rv != CM_OK)
		return rv;
	it = rocksdb_create_iterator_cf(s->db, s->ropts, s->cf[CF_META]);
	for (rocksdb_iter_seek(it, prefix, plen); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t klen;
		const char *key = rocksdb_iter_key(it, &klen);
		if (klen < plen || memcmp(key, prefix, plen) != 0)
			break;
		if ((rv = fn(arg, key + plen, klen - plen)) != CM_OK)
			break;
	}
	rv = st_iter_close(it, "scan meta", rv);
	pthread_rwlock_unlock(&s->lock);
	return rv;
}

static int
add_service(void *arg, const char *rest, size_t len)
{
	st_strlist *l = arg;
	char **v = cm_realloc(l->v, (l->n + 1) * sizeof *v);
	if (v == NULL)
		return CM_ENOMEM;
	l->v = v;
	if ((v[l->n] = cm_strndup(rest, len)) == NULL)
		return CM_ENOMEM;
	l->n++;
	return CM_OK;
}

int
st_services(st_store *s, st_strlist *out)
{
	st_strlist l = { 0 };
	char prefix = ST_META_SERVICE;
	int rv = scan_meta(s, &prefix, 1, add_service, &l);
	if (rv != CM_OK) {
		st_strlist_fini(&l);
		return rv;
	}
	*out = l;
	return CM_OK;
}

static int
add_operation(void *arg, const char *rest, size_t len)
{
	st_oplist *l = arg;
	st_op *v;
	if (len < 1)
		return CM_OK;
	if ((v = cm_realloc(l->v, (l->n + 1) * sizeof *v)) == NULL)
		return CM_ENOMEM;
	l->v = v;
	v[l->n].kind = (unsigned char)rest[0];
	if ((v[l->n].name = cm_strndup(rest + 1, len - 1)) == NULL)
		return CM_ENOMEM;
	l->n++;
	return CM_OK;
}

int
st_operations(st_store *s, const char *service, st_oplist *out)
{
	st_oplist l = { 0 };
	size_t slen = strlen(service);
	char *prefix = cm_malloc(slen + 2);
	int rv;

	if (prefix == NULL)
		return CM_ENOMEM;
	prefix[0] = ST_META_OPERATION;
	memcpy(prefix + 1, service, slen + 1); /* includes the 0x00 separator */
	rv = scan_meta(s, prefix, slen + 2, add_operation, &l);
	cm_free(prefix);
	if (rv != CM_OK) {
		st_oplist_fini(&l);
		return rv;
	}
	*out = l;
	return CM_OK;
}

void
st_strlist_fini(st_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		cm_free(l->v[i]);
	cm_free(l->v);
	l->v = NULL;
	l->n = 0;
}

void
st_oplist_fini(st_oplist *l)
{
	for (size_t i = 0; i < l->n; i++)
		cm_free(l->v[i].name);
	cm_free(l->v);
	l->v = NULL;
	l->n = 0;
}

int
st_dependencies(st_store *s, uint64_t start_ns, uint64_t end_ns, st_deplist *out)
{
	char from[9], to[9];
	st_deplist l = { NULL, 0 };
	size_t cap = 0;
	rocksdb_iterator_t *it;
	int rv;

	if (!s->secondary)
		st_store_write_deps(s); /* what this process counted; a failure is logged */
	if ((rv = st_lock_read(s)) != CM_OK)
		return rv;
	from[0] = to[0] = ST_META_DEPENDENCY;
	st_put_be64((uint8_t *)from + 1, start_ns / 3600000000000ull);
	st_put_be64((uint8_t *)to + 1, end_ns / 3600000000000ull);
	it = rocksdb_create_iterator_cf(s->db, s->ropts, s->cf[CF_META]);
	for (rocksdb_iter_seek(it, from, sizeof from); rocksdb_iter_valid(it) && rv == CM_OK; rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const char *key = rocksdb_iter_key(it, &klen), *val = rocksdb_iter_value(it, &vlen), *sep;
		size_t i;

		if (klen < 10 || key[0] != ST_META_DEPENDENCY || memcmp(key + 1, to + 1, 8) > 0)
			break;
		if (vlen != 8 || (sep = memchr(key + 9, '\0', klen - 9)) == NULL)
			continue; /* not an edge total */
		size_t plen = (size_t)(sep - (key + 9)), clen = klen - 10 - plen;
		for (i = 0; i < l.n; i++)
			if (strlen(l.v[i].parent) == plen && memcmp(l.v[i].parent, key + 9, plen) == 0 &&
			    strlen(l.v[i].child) == clen && memcmp(l.v[i].child, sep + 1, clen) == 0)
				break;
		if (i == l.n) {
			if (l.n == cap) {
				size_t ncap = cap ? cap * 2 : 16;
				st_dep *v = cm_realloc(l.v, ncap * sizeof *v);
				if (v == NULL) {
					rv = CM_ENOMEM;
					break;
				}
				l.v = v;
				cap = ncap;
			}
			l.v[i] = (st_dep){ cm_strndup(key + 9, plen), cm_strndup(sep + 1, clen), 0 };
			l.n++;
			if (l.v[i].parent == NULL || l.v[i].child == NULL)
				rv = CM_ENOMEM;
		}
		l.v[i].calls += st_get_be64((const uint8_t *)val);
	}
	rv = st_iter_close(it, "read dependencies", rv);
	pthread_rwlock_unlock(&s->lock);
	if (rv != CM_OK) {
		st_deplist_fini(&l);
		return rv;
	}
	*out = l;
	return CM_OK;
}

void
st_deplist_fini(st_deplist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		cm_free(l->v[i].parent);
		cm_free(l->v[i].child);
	}
	cm_free(l->v);
	l->v = NULL;
	l->n = 0;
}
