/*
 * symbols.c - the store's string table (symbols.h).
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "err.h"
#include "hash.h"
#include "hot.h"
#include "keys.h"
#include "store_int.h"
#include "symbols.h"

#define SLOTS (2 * ST_SYM_MAX) /* at most half full */

int
st_sym_init(st_symbols *y)
{
	memset(y, 0, sizeof *y);
	pthread_mutex_init(&y->mu, NULL);
	cm_arena_init(&y->arena, 64u << 10);
	y->text = cm_calloc(ST_SYM_MAX, sizeof *y->text);
	return y->text == NULL ? CM_ENOMEM : CM_OK;
}

void
st_sym_fini(st_symbols *y)
{
	cm_free((void *)y->text);
	cm_free(y->slot);
	cm_free(y->stored);
	cm_free(y->putgen);
	cm_free(y->put);
	cm_free(y->known);
	cm_free(y->memo);
	cm_free(y->sketch);
	cm_free(y->seen);
	cm_arena_fini(&y->arena);
	pthread_mutex_destroy(&y->mu);
}

static void
sym_key(char key[5], uint32_t id)
{
	key[0] = ST_META_SYMBOL;
	for (int i = 0; i < 4; i++)
		key[1 + i] = (char)(id >> (24 - 8 * i));
}

/* Publishes text p[0..len) as symbol id; NULL when out of memory. mu held. */
static const st_sym_entry *
publish(st_symbols *y, uint32_t id, const char *p, size_t len)
{
	st_sym_entry *t = cm_arena_alloc_uninit(&y->arena, sizeof *t + len + 1);
	if (t == NULL)
		return NULL;
	t->len = (uint32_t)len;
	memcpy(t->p, p, len);
	t->p[len] = '\0';
	atomic_store_explicit(&y->text[id], t, memory_order_release);
	return t;
}

/*
 * A filled slot: the high half of the text's cm_hash_fast above the
 * number + 1. A probe compares the halves before it follows the number to
 * the text: most probes end there, without the two dependent cache misses
 * (the text's pointer, then the text) each cost when a slot held the
 * number alone.
 */
static inline uint64_t
slot_of(uint64_t h, uint32_t id)
{
	return (h >> 32) << 32 | (id + 1);
}

/* Fills slot with symbol id, whose text hashed h, and marks it known. mu held. */
static void
fill_slot(st_symbols *y, uint64_t *slot, uint64_t h, uint32_t id)
{
	*slot = slot_of(h, id);
	y->known[h >> 48 >> 6] |= 1ull << (h >> 48 & 63);
}

/* False: no symbol's text hashed like h (true may be a collision). mu held. */
static inline bool
maybe_known(const st_symbols *y, uint64_t h)
{
	return y->known[h >> 48 >> 6] >> (h >> 48 & 63) & 1;
}

/*
 * The lookups below are inlined into the two interns (CM_HOT), and short
 * texts compared with two loads each (cm_str_same): a write interns each
 * span's keys and values, and the calls' register saves and memcmp() were
 * a third of it.
 */

/* The slot of text p (whose cm_hash_fast is h): where it is, or the empty one where it would go. mu held. */
CM_HOT uint64_t *
find_slot(st_symbols *y, const char *p, uint32_t len, uint64_t h)
{
	for (uint32_t i = (uint32_t)h % SLOTS;; i = (i + 1) % SLOTS) {
		uint64_t v = y->slot[i];
		if (v == 0)
			return &y->slot[i];
		if (v >> 32 == h >> 32) {
			const st_sym_entry *t = atomic_load_explicit(&y->text[(uint32_t)v - 1], memory_order_relaxed);
			if (cm_str_same((cm_str){ t->p, t->len }, (cm_str){ p, len }))
				return &y->slot[i];
		}
	}
}

/* Primary: the lookup structures, made on first use. mu held. */
static bool
writer_tables(st_symbols *y)
{
	if (y->tables)
		return true;
	if (y->slot == NULL)
		y->slot = cm_calloc(SLOTS, sizeof *y->slot);
	if (y->stored == NULL)
		y->stored = cm_calloc(ST_SYM_MAX, 1);
	if (y->putgen == NULL)
		y->putgen = cm_calloc(ST_SYM_MAX, sizeof *y->putgen);
	if (y->known == NULL)
		y->known = cm_calloc(ST_SYM_KNOWN_BITS / 64, sizeof *y->known);
	if (y->memo == NULL)
		y->memo = cm_calloc(1u << ST_SYM_MEMO_BITS, sizeof *y->memo);
	if (y->sketch == NULL)
		y->sketch = cm_calloc(2u << ST_SYM_SKETCH_BITS, 1);
	y->tables = y->slot != NULL && y->stored != NULL && y->putgen != NULL && y->known != NULL && y->memo != NULL &&
	            y->sketch != NULL;
	return y->tables;
}

int
st_sym_load(st_symbols *y, rocksdb_t *db, rocksdb_readoptions_t *ro, rocksdb_column_family_handle_t *meta)
{
	rocksdb_iterator_t *it;
	char from = ST_META_SYMBOL;
	int rv = CM_OK;

	pthread_mutex_lock(&y->mu);
	if (y->loaded) {
		pthread_mutex_unlock(&y->mu);
		return CM_OK;
	}
	if (!writer_tables(y)) {
		pthread_mutex_unlock(&y->mu);
		return CM_ENOMEM;
	}
	it = rocksdb_create_iterator_cf(db, ro, meta);
	for (rocksdb_iter_seek(it, &from, 1); rocksdb_iter_valid(it) && rv == CM_OK; rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &klen);
		const char *v = rocksdb_iter_value(it, &vlen);
		if (klen == 0 || k[0] != ST_META_SYMBOL)
			break;
		uint32_t id = klen == 5 ? (uint32_t)k[1] << 24 | (uint32_t)k[2] << 16 | (uint32_t)k[3] << 8 | k[4] : ST_SYM_MAX;
		if (id >= ST_SYM_MAX || vlen > ST_SYM_LEN_MAX || atomic_load_explicit(&y->text[id], memory_order_relaxed) != NULL) {
			rv = CM_EIO; /* not an entry this weft writes */
			break;
		}
		uint64_t h = cm_hash_fast(v, vlen), *slot = find_slot(y, v, (uint32_t)vlen, h);
		if (publish(y, id, v, vlen) == NULL) {
			rv = CM_ENOMEM;
			break;
		}
		if (*slot == 0)
			fill_slot(y, slot, h, id);
		y->stored[id] = 1;
		if (id >= y->next)
			y->next = id + 1;
	}
	rv = st_iter_close(it, "read symbols", rv);
	y->loaded = rv == CM_OK;
	pthread_mutex_unlock(&y->mu);
	return rv;
}

void
st_sym_write_begin(st_symbols *y)
{
	pthread_mutex_lock(&y->mu);
	if (++y->gen == 0 && y->memo != NULL) /* wrapped: the memo's entries of gen 0 are 2^32 writes old */
		memset(y->memo, 0, sizeof *y->memo << ST_SYM_MEMO_BITS);
	y->nput = 0;
	writer_tables(y); /* the interns below only look at y->tables */
}

/* Puts the entry of symbol id into wb: put_entry() past its check. mu held. */
static __attribute__((noinline)) bool
put_entry_now(st_symbols *y, uint32_t id, rocksdb_writebatch_t *wb, rocksdb_column_family_handle_t *meta)
{
	const st_sym_entry *t = atomic_load_explicit(&y->text[id], memory_order_relaxed);
	uint32_t *v = cm_grow(y->put, y->nput, &y->capput, sizeof *v, 64);
	char key[5];

	if (v == NULL)
		return false;
	y->put = v;
	y->put[y->nput++] = id;
	y->putgen[id] = y->gen;
	sym_key(key, id);
	rocksdb_writebatch_put_cf(wb, meta, key, sizeof key, t->p, t->len);
	return true;
}

/* Puts the entry of symbol id into wb, once per write. mu held. */
CM_HOT bool
put_entry(st_symbols *y, uint32_t id, rocksdb_writebatch_t *wb, rocksdb_column_family_handle_t *meta)
{
	if (y->stored[id] || y->putgen[id] == y->gen)
		return true;
	return put_entry_now(y, id, wb, meta);
}

/* A number for s (hashed h), whose empty slot is slot; ST_SYM_NONE when the table is full or out of memory. mu held. */
static __attribute__((noinline)) uint32_t
intern_new(st_symbols *y, uint64_t *slot, uint64_t h, cm_str s)
{
	if (y->next >= ST_SYM_MAX || publish(y, y->next, s.p, s.len) == NULL)
		return ST_SYM_NONE;
	fill_slot(y, slot, h, y->next);
	return y->next++;
}

/* The number of s (hashed h), whose slot is slot: handed out now if s is new. mu held. */
CM_HOT uint32_t
intern_at(st_symbols *y, uint64_t *slot, uint64_t h, cm_str s, rocksdb_writebatch_t *wb,
    rocksdb_column_family_handle_t *meta)
{
	uint32_t id = *slot != 0 ? (uint32_t)*slot - 1 : intern_new(y, slot, h, s);

	if (id == ST_SYM_NONE)
		return ST_SYM_NONE;
	return put_entry(y, id, wb, meta) ? id : ST_SYM_NONE;
}

uint32_t
st_sym_intern_lookup(st_symbols *y, cm_str s, rocksdb_writebatch_t *wb, rocksdb_column_family_handle_t *meta)
{
	st_sym_memo *m;
	uint64_t h;
	uint32_t id;

	if (s.len > ST_SYM_LEN_MAX || !y->tables)
		return ST_SYM_NONE;
	m = st_sym_memo_at(y, s.p); /* (st_sym_intern() asked it) */
	h = cm_hash_fast(s.p, s.len);
	id = intern_at(y, find_slot(y, s.p, s.len, h), h, s, wb, meta);
	*m = (st_sym_memo){ s.p, s.len, y->gen, id, h };
	return id;
}

static inline uint8_t *
sketch_row0(const st_symbols *y, uint64_t h)
{
	return &y->sketch[(uint32_t)h & ((1u << ST_SYM_SKETCH_BITS) - 1)];
}

static inline uint8_t *
sketch_row1(const st_symbols *y, uint64_t h)
{
	return &y->sketch[(1u << ST_SYM_SKETCH_BITS) + ((uint32_t)(h >> 32) & ((1u << ST_SYM_SKETCH_BITS) - 1))];
}

/* Counts a sighting of the value hashed h; true once it is frequent. mu held. */
static bool
sketch_count(st_symbols *y, uint64_t h)
{
	uint8_t *a = sketch_row0(y, h), *b = sketch_row1(y, h);

	if (++y->sightings == 4u << ST_SYM_SKETCH_BITS) { /* forget slowly: old sightings count half */
		for (uint32_t i = 0; i < 2u << ST_SYM_SKETCH_BITS; i++)
			y->sketch[i] >>= 1;
		y->sightings = 0;
	}
	*a += *a < UINT8_MAX;
	*b += *b < UINT8_MAX;
	return *a >= ST_SYM_FREQUENT && *b >= ST_SYM_FREQUENT;
}

uint32_t
st_sym_intern_frequent(st_symbols *y, cm_str s, uint32_t min_len, rocksdb_writebatch_t *wb,
    rocksdb_column_family_handle_t *meta)
{
	st_sym_memo *m;
	uint64_t h, *slot;
	uint32_t id;

	if (s.len < min_len || s.len > ST_SYM_LEN_MAX || !y->tables)
		return ST_SYM_NONE;
	m = st_sym_memo_at(y, s.p);
	if (st_sym_memo_has(y, m, s)) {
		if (m->id != ST_SYM_NONE)
			return m->id;
		h = m->h; /* turned down before in this write: count this sighting too */
	} else {
		h = cm_hash_fast(s.p, s.len);
		slot = maybe_known(y, h) ? find_slot(y, s.p, s.len, h) : NULL;
		id = slot != NULL && *slot != 0 ? intern_at(y, slot, h, s, wb, meta) : ST_SYM_NONE;
		*m = (st_sym_memo){ s.p, s.len, y->gen, id, h };
		if (id != ST_SYM_NONE)
			return id;
	}
	if (y->next < ST_SYM_MAX) { /* counted when the write ends; a sighting lost to a failed allocation counts nothing */
		st_sym_sighting *v = cm_grow(y->seen, y->nseen, &y->capseen, sizeof *v, 1024);
		if (v == NULL)
			return ST_SYM_NONE;
		y->seen = v;
		y->seen[y->nseen++] = (st_sym_sighting){ h, s };
	}
	return ST_SYM_NONE;
}

enum { SIGHTINGS_AHEAD = 8 }; /* counters fetched ahead: enough misses in flight to cover the latency */

/* Counts the write's sightings; a value that becomes frequent is given a number (its entry is put by the next write that uses it). mu held. */
static void
count_sightings(st_symbols *y)
{
	for (uint32_t i = 0; i < y->nseen; i++) {
		const st_sym_sighting *v = &y->seen[i];
		if (i + SIGHTINGS_AHEAD < y->nseen) {
			__builtin_prefetch(sketch_row0(y, y->seen[i + SIGHTINGS_AHEAD].h), 1);
			__builtin_prefetch(sketch_row1(y, y->seen[i + SIGHTINGS_AHEAD].h), 1);
		}
		if (sketch_count(y, v->h)) {
			uint64_t *slot = find_slot(y, v->s.p, v->s.len, v->h);
			if (*slot == 0)
				(void)intern_new(y, slot, v->h, v->s); /* a full table or no memory: it stays inline */
		}
	}
	y->nseen = 0;
}

void
st_sym_write_end(st_symbols *y, bool written)
{
	for (uint32_t i = 0; written && i < y->nput; i++)
		y->stored[y->put[i]] = 1;
	y->nput = 0;
	count_sightings(y);
	pthread_mutex_unlock(&y->mu);
}

int
st_sym_text(st_symbols *y, uint32_t id, rocksdb_t *db, rocksdb_readoptions_t *ro,
    rocksdb_column_family_handle_t *meta, cm_str *out)
{
	const st_sym_entry *t;
	char key[5], *err = NULL, *v;
	size_t vlen;
	int rv = CM_OK;

	if (id >= ST_SYM_MAX)
		return CM_EPROTO;
	if ((t = atomic_load_explicit(&y->text[id], memory_order_acquire)) != NULL) {
		*out = (cm_str){ t->p, t->len };
		return CM_OK;
	}
	sym_key(key, id);
	v = rocksdb_get_cf(db, ro, meta, key, sizeof key, &vlen, &err);
	if (err != NULL)
		return st_rocks_error("read symbol", err);
	if (v == NULL || vlen > ST_SYM_LEN_MAX) {
		free(v);
		return CM_EPROTO;
	}
	pthread_mutex_lock(&y->mu);
	if ((t = atomic_load_explicit(&y->text[id], memory_order_relaxed)) == NULL &&
	    (t = publish(y, id, v, vlen)) == NULL)
		rv = CM_ENOMEM;
	pthread_mutex_unlock(&y->mu);
	free(v);
	if (rv == CM_OK)
		*out = (cm_str){ t->p, t->len };
	return rv;
}

int
st_store_symbol(void *store, uint32_t id, cm_str *out)
{
	st_store *s = store;
	return st_sym_text(&s->sym, id, s->db, s->ropts, s->cf[CF_META], out);
}
