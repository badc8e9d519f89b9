/*
 * deps.c - the ingest-time dependency resolver.
 *
 * Two generations of one open-addressing table of two kinds of entry under
 * 64-bit hashes of a trace id and a span id: a span seen, with its service,
 * and a child waiting for that span as its parent, with the child's
 * service (several per key allowed). A span's own key finds both whether
 * it was seen and the children that wait for it, and its parent's key
 * both whether the parent was seen and where the span would wait: two
 * probe sequences a span, each a cache line per generation (there were
 * two tables, four probes). When the current generation is half full it
 * becomes the previous one and the old previous is dropped, so recent
 * history is always there and memory never grows. Services are interned
 * to small ids.
 */
#include "deps.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "hash.h"
#include "keys.h"
#include "store_int.h"

typedef struct slot {
	uint64_t key; /* 0: empty */
	uint32_t service;
	uint32_t hour_waits; /* hours since the epoch of a waiting child's start << 1 | 1; 0 for a span seen */
} slot;

typedef struct table {
	slot *v;
	uint32_t used;
} table;

typedef struct edge {
	uint64_t hour;
	uint32_t parent, child;
	uint64_t total;
	bool dirty;
} edge;

struct st_deps {
	table gen[2]; /* [0] current, [1] previous */
	char **services;
	uint32_t nservices;
	edge *edges;
	size_t nedges, capedges;
	uint32_t *edge_at;   /* open addressing over edges: index + 1, 0 empty */
	uint32_t edge_slots; /* twice capedges, a power of two */
	uint64_t newest_hour;
};

static uint64_t
key_of(const cm_trace_id *t, const cm_span_id *s)
{
	uint8_t b[24];
	memcpy(b, t->b, 16);
	memcpy(b + 16, s->b, 8);
	return cm_hash_fast(b, sizeof b) | 1;
}

static bool
table_init(table *t)
{
	t->used = 0;
	t->v = cm_calloc(ST_DEPS_SLOTS, sizeof *t->v);
	return t->v != NULL;
}

static void
rotate(table gen[2])
{
	slot *old = gen[1].v;
	gen[1] = gen[0];
	memset(old, 0, ST_DEPS_SLOTS * sizeof *old);
	gen[0] = (table){ old, 0 };
}

static void
insert(table gen[2], uint64_t key, uint32_t service, uint32_t hour_waits)
{
	if (gen[0].used >= ST_DEPS_SLOTS / 2)
		rotate(gen);
	for (uint32_t i = (uint32_t)(key % ST_DEPS_SLOTS);; i = (i + 1) % ST_DEPS_SLOTS) {
		if (gen[0].v[i].key == 0) {
			gen[0].v[i] = (slot){ key, service, hour_waits };
			gen[0].used++;
			return;
		}
	}
}

/* Looks the span of key up in both generations. */
static bool
find_seen(table gen[2], uint64_t key, uint32_t *service)
{
	for (int g = 0; g < 2; g++)
		for (uint32_t i = (uint32_t)(key % ST_DEPS_SLOTS); gen[g].v[i].key != 0; i = (i + 1) % ST_DEPS_SLOTS)
			if (gen[g].v[i].key == key && gen[g].v[i].hour_waits == 0) {
				*service = gen[g].v[i].service;
				return true;
			}
	return false;
}

st_deps *
st_deps_create(void)
{
	st_deps *d = cm_calloc(1, sizeof *d);
	if (d == NULL)
		return NULL;
	for (int g = 0; g < 2; g++)
		if (!table_init(&d->gen[g])) {
			st_deps_destroy(d);
			return NULL;
		}
	return d;
}

void
st_deps_destroy(st_deps *d)
{
	if (d == NULL)
		return;
	for (int g = 0; g < 2; g++)
		cm_free(d->gen[g].v);
	for (uint32_t i = 0; i < d->nservices; i++)
		cm_free(d->services[i]);
	cm_free(d->services);
	cm_free(d->edge_at);
	cm_free(d->edges);
	cm_free(d);
}

/* The id of a service name, interning it; UINT32_MAX when out of memory. */
uint32_t
st_deps_service(st_deps *d, cm_str service)
{
	char **v;
	for (uint32_t i = 0; i < d->nservices; i++)
		if (cm_str_eq(service, d->services[i]))
			return i;
	if ((v = cm_realloc(d->services, (d->nservices + 1) * sizeof *v)) == NULL)
		return UINT32_MAX;
	d->services = v;
	if ((v[d->nservices] = cm_strndup(service.len ? service.p : "", service.len)) == NULL)
		return UINT32_MAX;
	return d->nservices++;
}

/* Key of an edge total in meta: 'd' hour parent 0x00 child. */
static size_t
edge_key(const st_deps *d, const edge *e, char *key, size_t cap)
{
	const char *p = d->services[e->parent], *c = d->services[e->child];
	size_t pl = strlen(p), cl = strlen(c);
	if (1 + 8 + pl + 1 + cl > cap)
		return 0;
	key[0] = ST_META_DEPENDENCY;
	st_put_be64((uint8_t *)key + 1, e->hour);
	memcpy(key + 9, p, pl);
	key[9 + pl] = '\0';
	memcpy(key + 10 + pl, c, cl);
	return 10 + pl + cl;
}

/*
 * The edge_at slot of (hour, parent, child): the one holding its edge, or
 * the empty one where it would go. A search of the edge list was 1.4% of
 * native ingest: a hundred edges an hour, kept for three hours.
 */
static uint32_t *
edge_slot(st_deps *d, uint64_t hour, uint32_t parent, uint32_t child)
{
	uint64_t h = (hour * 0x9e3779b97f4a7c15ull) ^ (((uint64_t)parent << 32 | child) * 0xc2b2ae3d27d4eb4full);
	uint32_t mask = d->edge_slots - 1;

	for (uint32_t i = (uint32_t)(h >> 32) & mask;; i = (i + 1) & mask) {
		const edge *e;
		if (d->edge_at[i] == 0)
			return &d->edge_at[i];
		e = &d->edges[d->edge_at[i] - 1];
		if (e->hour == hour && e->parent == parent && e->child == child)
			return &d->edge_at[i];
	}
}

/* Refills edge_at (twice capedges slots) from the edges. */
static void
edges_reindex(st_deps *d)
{
	memset(d->edge_at, 0, d->edge_slots * sizeof *d->edge_at);
	for (size_t i = 0; i < d->nedges; i++)
		*edge_slot(d, d->edges[i].hour, d->edges[i].parent, d->edges[i].child) = (uint32_t)i + 1;
}

static void
count_edge(st_deps *d, st_store *s, uint64_t hour, uint32_t parent, uint32_t child)
{
	uint32_t *at = d->edge_slots != 0 ? edge_slot(d, hour, parent, child) : NULL;
	edge *e = at != NULL && *at != 0 ? &d->edges[*at - 1] : NULL;

	if (e == NULL) {
		char key[2100], *err = NULL, *val;
		size_t klen, vlen = 0;
		if (d->nedges == d->capedges) {
			size_t cap = d->capedges ? d->capedges * 2 : 64;
			edge *v = cm_realloc(d->edges, cap * sizeof *v);
			uint32_t *index = cm_calloc(2 * cap, sizeof *index);
			if (v != NULL)
				d->edges = v;
			if (v == NULL || index == NULL) {
				cm_free(index);
				return;
			}
			cm_free(d->edge_at);
			d->edge_at = index;
			d->edge_slots = (uint32_t)(2 * cap);
			d->capedges = cap;
			edges_reindex(d);
			at = edge_slot(d, hour, parent, child);
		}
		e = &d->edges[d->nedges++];
		*e = (edge){ hour, parent, child, 0, false };
		*at = (uint32_t)d->nedges;
		/* start from the stored total: counting goes on across restarts */
		if ((klen = edge_key(d, e, key, sizeof key)) != 0) {
			val = rocksdb_get_cf(s->db, s->ropts, s->cf[CF_META], key, klen, &vlen, &err);
			if (err == NULL && val != NULL && vlen == 8)
				e->total = st_get_be64((const uint8_t *)val);
			free(val);
			free(err);
		}
	}
	e->total++;
	e->dirty = true;
	if (hour > d->newest_hour)
		d->newest_hour = hour;
}

static void
prefetch_slot(const table gen[2], uint64_t key)
{
	uint32_t i = (uint32_t)(key % ST_DEPS_SLOTS);
	__builtin_prefetch(&gen[0].v[i], 1);
	__builtin_prefetch(&gen[1].v[i], 0);
}

void
st_deps_prefetch(const st_deps *d, const cm_span *sp, st_deps_keys *k)
{
	k->self = key_of(&sp->trace_id, &sp->span_id);
	k->parent = cm_span_id_is_zero(&sp->parent_span_id) ? 0 : key_of(&sp->trace_id, &sp->parent_span_id);
	prefetch_slot(d->gen, k->self);
	if (k->parent != 0)
		prefetch_slot(d->gen, k->parent);
}

void
st_deps_observe(st_deps *d, st_store *s, const cm_span *sp, const st_deps_keys *k, uint32_t svc)
{
	uint64_t self = k->self, parent = k->parent, hour = sp->start_ns / 3600000000000ull;
	uint32_t other;

	if (svc == UINT32_MAX || find_seen(d->gen, self, &other))
		return; /* out of memory, or seen already: a resent batch counts nothing */
	/* children that arrived before this span */
	for (int g = 0; g < 2; g++)
		for (uint32_t i = (uint32_t)(self % ST_DEPS_SLOTS); d->gen[g].v[i].key != 0; i = (i + 1) % ST_DEPS_SLOTS) {
			const slot *c = &d->gen[g].v[i];
			if (c->key == self && c->hour_waits != 0 && c->service != svc)
				count_edge(d, s, c->hour_waits >> 1, svc, c->service);
		}
	insert(d->gen, self, svc, 0);
	if (parent != 0) {
		if (find_seen(d->gen, parent, &other)) {
			if (other != svc)
				count_edge(d, s, hour, other, svc);
		} else {
			insert(d->gen, parent, svc, (uint32_t)hour << 1 | 1); /* the parent has not arrived yet */
		}
	}
}

void
st_deps_flush(st_deps *d, rocksdb_writebatch_t *wb, rocksdb_column_family_handle_t *meta)
{
	size_t kept = 0;
	for (size_t i = 0; i < d->nedges; i++) {
		edge *e = &d->edges[i];
		if (e->dirty) {
			char key[2100];
			uint8_t val[8];
			size_t klen = edge_key(d, e, key, sizeof key);
			st_put_be64(val, e->total);
			if (klen != 0)
				rocksdb_writebatch_put_cf(wb, meta, key, klen, (const char *)val, 8);
			e->dirty = false;
		}
		/* forget hours long past: a late span reloads its total */
		if (e->hour + 2 >= d->newest_hour)
			d->edges[kept++] = *e;
	}
	if (kept != d->nedges) {
		d->nedges = kept;
		edges_reindex(d);
	}
}
