/*
 * block.c - encoding and decoding the spans of a span block (block.h).
 */
#include <string.h>

#include "alloc.h"
#include "block.h"
#include "err.h"
#include "hot.h"
#include "keys.h"
#include "varint.h"

enum { MAX_VALUE_DEPTH = 4, MAX_REFS = 65536 };

/* The columns of a block's spans (block.h), in the order they are stored. */
enum {
	COL_IDS,
	COL_PARENTS,
	COL_SHAPES,
	COL_NAMES,
	COL_STARTS,
	COL_DURATIONS,
	COL_REFS,
	COL_COUNTS,
	COL_KEYS,
	COL_VALUES,
	COL_RARE,
	COLS
};
_Static_assert((int)COLS == (int)ST_BLOCK_COLS, "block.h names every column");

/* ---- encoding ---- */

/*
 * The encoder's small steps are inlined into the loops over spans and
 * attributes (CM_HOT): a write encodes every attribute of every span, and
 * the calls' register saves were a tenth of the encoding.
 */
CM_HOT void
put_u(cm_buf *b, uint64_t v)
{
	if (cm_buf_reserve(b, ST_VARINT_MAX) == CM_OK)
		st_put_varint(b, v);
}

CM_HOT void
put_text(cm_buf *b, cm_str s)
{
	put_u(b, (uint64_t)s.len << 1);
	cm_buf_append(b, s.p, s.len);
}

/* A string as blocks have it (block.h): symbol id, or s inline when id is ST_SYM_NONE. */
CM_HOT void
put_str(cm_buf *b, cm_str s, uint32_t id)
{
	if (id == ST_SYM_NONE)
		put_text(b, s);
	else
		put_u(b, (uint64_t)id << 1 | 1);
}

CM_HOT void
put_name(const st_block_enc *e, cm_buf *b, cm_str s)
{
	put_str(b, s, e->sym != NULL ? st_sym_intern(e->sym, s, e->wb, e->meta) : ST_SYM_NONE);
}

void
st_block_put_name(const st_block_enc *e, cm_buf *b, cm_str s)
{
	put_name(e, b, s);
}

/*
 * A value is one varint whose low 3 bits are its type (cm_value_type,
 * BIG_INT or SYM_STR) and whose rest is its payload, length or symbol
 * number, then any bytes: one byte less per attribute than a type byte of
 * its own. A string value that has become frequent is a symbol
 * (symbols.h): on a 1M-span loadgen store, 2.7 bytes per span less.
 * BIG_INT's payload picks its form: 0, an integer; NUM_STR, a string that
 * ends in a decimal number ("u-123456", "order-98211").
 */
enum { TYPE_BITS = 3, BIG_INT = 6, SYM_STR = 7, NUM_STR = 1 };

/*
 * Numbers of at least NUM_DIGITS_MIN digits are worth taking out of a
 * string: the prefix, a symbol once frequent, then the number as a varint
 * ("u-123456": 6 bytes instead of 9 once "u-" is a symbol; the spans
 * family of a 1M-span loadgen store went from 55.5 to 53.3 bytes per
 * span). Up to 19 digits always fit in 64 bits.
 */
enum { NUM_DIGITS_MIN = 4, NUM_DIGITS_MAX = 19, NUM_PREFIX_MAX = 64 };

/*
 * Whether s is a prefix of 1..NUM_PREFIX_MAX bytes not ending in a digit,
 * then NUM_DIGITS_MIN..NUM_DIGITS_MAX digits without a leading zero: then
 * the prefix's length is in *plen and the number in *num, and printing the
 * number after the prefix gives s back exactly.
 */
static bool
split_number(cm_str s, uint32_t *plen, uint64_t *num)
{
	uint32_t i = s.len;
	uint64_t n = 0;

	while (i > 0 && s.p[i - 1] >= '0' && s.p[i - 1] <= '9')
		i--;
	if (i == 0 || i > NUM_PREFIX_MAX || s.len - i < NUM_DIGITS_MIN || s.len - i > NUM_DIGITS_MAX || s.p[i] == '0')
		return false;
	for (uint32_t k = i; k < s.len; k++)
		n = n * 10 + (uint64_t)(s.p[k] - '0');
	*plen = i;
	*num = n;
	return true;
}

static void put_array(const st_block_enc *e, cm_buf *b, const cm_value *v);

CM_HOT void
put_value(const st_block_enc *e, cm_buf *b, const cm_value *v)
{
	uint32_t id, plen;
	uint64_t num;

	switch (v->type) {
	case CM_VAL_STR:
		if (e->sym != NULL &&
		    (id = st_sym_intern_frequent(e->sym, v->u.s, ST_SYM_VALUE_MIN, e->wb, e->meta)) != ST_SYM_NONE) {
			put_u(b, (uint64_t)id << TYPE_BITS | SYM_STR);
			break;
		}
		if (split_number(v->u.s, &plen, &num)) {
			cm_str prefix = { v->u.s.p, plen };
			put_u(b, NUM_STR << TYPE_BITS | BIG_INT);
			put_str(b, prefix,
			    e->sym != NULL ? st_sym_intern_frequent(e->sym, prefix, 1, e->wb, e->meta) : ST_SYM_NONE);
			put_u(b, num);
			break;
		}
		/* fall through */
	case CM_VAL_BYTES:
		put_u(b, (uint64_t)v->u.s.len << TYPE_BITS | v->type);
		cm_buf_append(b, v->u.s.p, v->u.s.len);
		break;
	case CM_VAL_BOOL:
		put_u(b, (uint64_t)v->u.b << TYPE_BITS | CM_VAL_BOOL);
		break;
	case CM_VAL_INT: {
		uint64_t z = st_zigzag(v->u.i);
		if (z >> (64 - TYPE_BITS) == 0) {
			put_u(b, z << TYPE_BITS | CM_VAL_INT);
		} else {
			put_u(b, BIG_INT);
			put_u(b, z);
		}
		break;
	}
	case CM_VAL_DOUBLE: {
		uint64_t bits;
		uint8_t le[8];
		memcpy(&bits, &v->u.d, 8);
		for (int i = 0; i < 8; i++)
			le[i] = (uint8_t)(bits >> (8 * i));
		put_u(b, CM_VAL_DOUBLE);
		cm_buf_append(b, le, 8);
		break;
	}
	case CM_VAL_ARRAY:
		put_array(e, b, v);
		break;
	}
}

/* Out of line: put_value() is inlined, and an array's elements are values. */
static __attribute__((noinline)) void
put_array(const st_block_enc *e, cm_buf *b, const cm_value *v)
{
	put_u(b, (uint64_t)v->u.arr.n << TYPE_BITS | CM_VAL_ARRAY);
	for (uint32_t i = 0; i < v->u.arr.n; i++)
		put_value(e, b, &v->u.arr.v[i]);
}

/*
 * Attributes: the count into counts, each key into keys and each value
 * into values (a span's own go to three columns, an event's or a link's
 * all to one). With a memo m (a span's own attributes; NULL for events and
 * links), a key's symbol is taken from the last span of the same resource
 * where the same key is at the same place: the lookups of most keys become
 * a length and a text compare. Symbols are numbered for the whole write,
 * and the memo lives no longer.
 */
static void
put_attrs(const st_block_enc *e, cm_buf *counts, cm_buf *keys, cm_buf *values, const cm_attrs *a, st_key_memo *m,
    uint32_t resource)
{
	uint32_t known = m != NULL && m->resource == resource + 1 ? m->n : 0;

	put_u(counts, a->n);
	for (uint32_t i = 0; i < a->n; i++) {
		cm_str key = a->v[i].key;
		uint32_t id;
		if (i < known && cm_str_same(m->key[i], key))
			id = m->id[i];
		else
			id = e->sym != NULL ? st_sym_intern(e->sym, key, e->wb, e->meta) : ST_SYM_NONE;
		put_str(keys, key, id);
		put_value(e, values, &a->v[i].val);
		if (m != NULL && i < ST_KEY_MEMO_KEYS) {
			m->key[i] = key;
			m->id[i] = id;
		}
	}
	if (m != NULL) {
		m->resource = resource + 1;
		m->n = a->n < ST_KEY_MEMO_KEYS ? a->n : ST_KEY_MEMO_KEYS;
	}
}

/*
 * Where the spans of a block are found by id (their first 8 bytes, random):
 * open addressing over mask + 1 slots (a power of two, at least twice n)
 * holding index + 1, so that a block of thousands of spans finds its
 * parents in linear time.
 */
static uint32_t
id_slot(const st_block_scratch *x, const cm_span_id *id)
{
	uint64_t w;
	memcpy(&w, id->b, 8);
	return (uint32_t)(w * 0x9e3779b97f4a7c15u >> 32) & x->mask;
}

/* Makes room for a block of n spans in x, its id slots cleared; false when out of memory. */
static bool
scratch_reserve(st_block_scratch *x, uint32_t n)
{
	uint32_t slots = 16;
	if (x->memo == NULL && (x->memo = cm_calloc(ST_KEY_MEMOS, sizeof *x->memo)) == NULL)
		return false;
	if (n > x->cap) {
		uint32_t cap = n > 2 * x->cap ? n : 2 * x->cap;
		uint64_t(*pairs)[2] = cm_realloc(x->pairs, (size_t)cap * sizeof *pairs);
		uint32_t *ref_of = pairs ? cm_realloc(x->ref_of, (size_t)cap * sizeof *ref_of) : NULL;
		if (pairs != NULL)
			x->pairs = pairs;
		if (ref_of == NULL)
			return false;
		x->ref_of = ref_of;
		x->cap = cap;
	}
	while (slots < 2 * n)
		slots *= 2;
	if (slots > x->slot_cap) {
		uint32_t *slot = cm_realloc(x->slot, (size_t)slots * sizeof *slot);
		if (slot == NULL)
			return false;
		x->slot = slot;
		x->slot_cap = slots;
	}
	x->mask = slots - 1;
	memset(x->slot, 0, (size_t)slots * sizeof *x->slot);
	return true;
}

void
st_block_scratch_fini(st_block_scratch *x)
{
	cm_free(x->memo);
	cm_free(x->pairs);
	cm_free(x->ref_of);
	cm_free(x->slot);
	for (int c = 0; c < ST_BLOCK_COLS; c++)
		cm_buf_fini(&x->col[c]);
	memset(x, 0, sizeof *x);
}

static void
id_index_make(st_block_scratch *x, const cm_span *const *refs, uint32_t n)
{
	for (uint32_t i = n; i-- > 0;) { /* the first of equal ids wins, as a scan would find it */
		uint32_t h = id_slot(x, &refs[i]->span_id);
		while (x->slot[h] != 0 && memcmp(refs[x->slot[h] - 1]->span_id.b, refs[i]->span_id.b, 8) != 0)
			h = (h + 1) & x->mask;
		x->slot[h] = i + 1;
	}
}

/* The index of the span with id in the block, or UINT32_MAX. */
static uint32_t
id_index_find(const st_block_scratch *x, const cm_span *const *refs, const cm_span_id *id)
{
	for (uint32_t h = id_slot(x, id); x->slot[h] != 0; h = (h + 1) & x->mask)
		if (memcmp(refs[x->slot[h] - 1]->span_id.b, id->b, 8) == 0)
			return x->slot[h] - 1;
	return UINT32_MAX;
}

static void
put_parent(cm_buf *b, const st_block_scratch *ids, const cm_span *const *refs, const cm_span *sp)
{
	uint32_t i;
	if (cm_span_id_is_zero(&sp->parent_span_id)) {
		put_u(b, 0);
	} else if ((i = id_index_find(ids, refs, &sp->parent_span_id)) != UINT32_MAX) {
		put_u(b, 2 + (uint64_t)i);
	} else {
		put_u(b, 1);
		cm_buf_append(b, sp->parent_span_id.b, 8);
	}
}

/* Where (r, s) is in pairs[0..n), or n. A block has one pair, or a few. */
static uint32_t
ref_index(const uint64_t (*pairs)[2], uint32_t n, uint64_t r, uint64_t s)
{
	uint32_t k = 0;
	while (k < n && (pairs[k][0] != r || pairs[k][1] != s))
		k++;
	return k;
}

/*
 * A block's times in whole microseconds are stored in them, as the head's
 * low bits say: Zipkin, Jaeger and browser clients send microseconds, and
 * a span's start offset in a trace often is one (1M-span loadgen store:
 * 53.3 -> 52.3 bytes per span in the spans family).
 */
enum { HEAD_BITS = 2, STARTS_US = 1, DURATIONS_US = 2, NS_PER_US = 1000 };

static uint32_t
time_units(const cm_span *const *refs, uint32_t n, uint64_t base)
{
	uint32_t units = STARTS_US | DURATIONS_US;
	for (uint32_t i = 0; i < n && units != 0; i++) {
		if ((refs[i]->start_ns - base) % NS_PER_US != 0)
			units &= ~(uint32_t)STARTS_US;
		if ((refs[i]->end_ns - refs[i]->start_ns) % NS_PER_US != 0)
			units &= ~(uint32_t)DURATIONS_US;
	}
	return units;
}

/*
 * A span's shape: its kind and status, and which of the fields most spans
 * leave empty it has; the others are not stored at all. Seven bytes of
 * zeros a span fewer: the spans family of a 1M-span loadgen store,
 * rewritten one block per trace, 47.7 -> 46.3 bytes per span.
 */
enum {
	SHAPE_STATUS_SHIFT = 3,
	SHAPE_TRACE_STATE = 1 << 5,
	SHAPE_STATUS_MESSAGE = 1 << 6,
	SHAPE_EVENTS = 1 << 7,
	SHAPE_LINKS = 1 << 8,
	SHAPE_DROPPED_ATTRS = 1 << 9,
	SHAPE_ALL = (1 << 10) - 1,
};

static uint32_t
span_shape(const cm_span *sp)
{
	return sp->kind | (uint32_t)sp->status << SHAPE_STATUS_SHIFT | (sp->trace_state.len ? SHAPE_TRACE_STATE : 0) |
	    (sp->status_message.len ? SHAPE_STATUS_MESSAGE : 0) |
	    (sp->nevents || sp->dropped_events ? SHAPE_EVENTS : 0) | (sp->nlinks || sp->dropped_links ? SHAPE_LINKS : 0) |
	    (sp->attrs.dropped ? SHAPE_DROPPED_ATTRS : 0);
}

/* The fields a span's shape says it has, in the rare column (block.h). */
static void
put_rare(const st_block_enc *e, cm_buf *b, const cm_span *sp, uint32_t shape)
{
	if (shape & SHAPE_TRACE_STATE)
		put_text(b, sp->trace_state);
	if (shape & SHAPE_STATUS_MESSAGE)
		put_text(b, sp->status_message);
	if (shape & SHAPE_DROPPED_ATTRS)
		put_u(b, sp->attrs.dropped);
	if (shape & SHAPE_EVENTS) {
		put_u(b, sp->nevents);
		put_u(b, sp->dropped_events);
	}
	for (uint32_t k = 0; k < sp->nevents; k++) {
		const cm_event *ev = &sp->events[k];
		put_u(b, st_zigzag((int64_t)(ev->time_ns - sp->start_ns)));
		put_name(e, b, ev->name);
		put_u(b, ev->attrs.dropped);
		put_attrs(e, b, b, b, &ev->attrs, NULL, 0);
	}
	if (shape & SHAPE_LINKS) {
		put_u(b, sp->nlinks);
		put_u(b, sp->dropped_links);
	}
	for (uint32_t k = 0; k < sp->nlinks; k++) {
		const cm_link *l = &sp->links[k];
		cm_buf_append(b, l->trace_id.b, 16);
		cm_buf_append(b, l->span_id.b, 8);
		put_text(b, l->trace_state);
		put_u(b, l->flags);
		put_u(b, l->attrs.dropped);
		put_attrs(e, b, b, b, &l->attrs, NULL, 0);
	}
}

void
st_block_encode(const st_block_enc *e, st_block_scratch *x, cm_buf *out, const cm_span *const *refs, uint32_t n,
    const uint64_t *res_hash, const uint64_t *scope_hash)
{
	uint64_t base = n > 0 ? refs[0]->start_ns : 0;
	uint32_t nrefs = 0, units = time_units(refs, n, base);
	uint64_t start_unit = units & STARTS_US ? NS_PER_US : 1, dur_unit = units & DURATIONS_US ? NS_PER_US : 1;
	uint8_t hash[16];
	cm_buf *col = x->col, *rare = &x->col[COL_RARE];

	if (!scratch_reserve(x, n)) {
		out->failed = true;
		return;
	}
	id_index_make(x, refs, n);
	for (uint32_t i = 0; i < n; i++) { /* the distinct (resource, scope) pairs, in order of first use */
		const cm_span *sp = refs[i];
		uint64_t r = res_hash[sp->resource], s = scope_hash[sp->scope];
		if ((x->ref_of[i] = ref_index(x->pairs, nrefs, r, s)) == nrefs) {
			x->pairs[nrefs][0] = r;
			x->pairs[nrefs++][1] = s;
		}
	}
	put_u(out, (uint64_t)n << HEAD_BITS | units);
	put_u(out, nrefs);
	for (uint32_t k = 0; k < nrefs; k++) {
		st_put_be64(hash, x->pairs[k][0]);
		st_put_be64(hash + 8, x->pairs[k][1]);
		cm_buf_append(out, hash, 16);
	}
	for (int c = 0; c < ST_BLOCK_COLS; c++)
		col[c].len = 0;
	for (uint32_t i = 0; i < n; i++) {
		const cm_span *sp = refs[i];
		uint32_t shape = span_shape(sp);
		if (i > 0)
			cm_buf_append(&col[COL_IDS], sp->span_id.b, 8);
		put_parent(&col[COL_PARENTS], x, refs, sp);
		put_u(&col[COL_SHAPES], shape);
		put_u(&col[COL_SHAPES], sp->flags);
		put_name(e, &col[COL_NAMES], sp->name);
		put_u(&col[COL_STARTS], (sp->start_ns - base) / start_unit);
		/* wraps if end < start; decoding wraps back */
		put_u(&col[COL_DURATIONS], (sp->end_ns - sp->start_ns) / dur_unit);
		put_u(&col[COL_REFS], x->ref_of[i]);
		put_attrs(e, &col[COL_COUNTS], &col[COL_KEYS], &col[COL_VALUES], &sp->attrs,
		    &x->memo[sp->resource % ST_KEY_MEMOS], sp->resource);
		put_rare(e, rare, sp, shape);
	}
	for (int c = 0; c < ST_BLOCK_COLS; c++) {
		put_u(out, col[c].len);
		cm_buf_append(out, col[c].data, col[c].len);
		out->failed |= col[c].failed;
	}
}

/* ---- decoding ---- */

/* Reads one column, or a block's head, or a name. */
typedef struct reader {
	const uint8_t *p, *end;
	const st_block_syms *syms;
	cm_arena *a;
	int *err; /* the first error of the block: CM_EPROTO unless syms->text or memory said otherwise */
} reader;

static bool
fail(reader *r, int err)
{
	if (*r->err == CM_OK)
		*r->err = err;
	r->p = r->end;
	return false;
}

static bool
get_u(reader *r, uint64_t *v)
{
	return st_get_varint(&r->p, r->end, v) || fail(r, CM_EPROTO);
}

/* A count of things that take at least one byte each: no more than the bytes left. */
static bool
get_count(reader *r, uint32_t *n)
{
	uint64_t v;
	if (!get_u(r, &v))
		return false;
	if (v > (uint64_t)(r->end - r->p))
		return fail(r, CM_EPROTO);
	*n = (uint32_t)v;
	return true;
}

static bool
get_u32(reader *r, uint32_t *out)
{
	uint64_t v;
	if (!get_u(r, &v))
		return false;
	if (v > UINT32_MAX)
		return fail(r, CM_EPROTO);
	*out = (uint32_t)v;
	return true;
}

static bool
get_bytes(reader *r, void *dst, size_t n)
{
	if ((size_t)(r->end - r->p) < n)
		return fail(r, CM_EPROTO);
	memcpy(dst, r->p, n);
	r->p += n;
	return true;
}

static bool
get_inline(reader *r, uint64_t len, cm_str *s)
{
	if (len > (uint64_t)(r->end - r->p))
		return fail(r, CM_EPROTO);
	*s = (cm_str){ (const char *)r->p, (uint32_t)len };
	r->p += len;
	return true;
}

/* The text of symbol id. */
static bool
get_symbol(reader *r, uint64_t id, cm_str *s)
{
	int rv;
	if (r->syms == NULL || id >= ST_SYM_MAX)
		return fail(r, CM_EPROTO);
	if ((rv = r->syms->text(r->syms->arg, (uint32_t)id, s)) != CM_OK)
		return fail(r, rv);
	return true;
}

static bool
get_str(reader *r, cm_str *s)
{
	uint64_t v;
	if (!get_u(r, &v))
		return false;
	if (!(v & 1))
		return get_inline(r, v >> 1, s);
	return get_symbol(r, v >> 1, s);
}

bool
st_block_get_name(const uint8_t **p, const uint8_t *end, const st_block_syms *syms, cm_str *out)
{
	int err = CM_OK;
	reader r = { *p, end, syms, NULL, &err };
	bool ok = get_str(&r, out);
	*p = r.p;
	return ok;
}

static void *
alloc(reader *r, size_t n)
{
	void *p = cm_arena_alloc(r->a, n ? n : 1);
	if (p == NULL)
		fail(r, CM_ENOMEM);
	return p;
}

/* A NUM_STR value after its header: the prefix, then the number printed after it into the arena. */
static bool
get_num_str(reader *r, cm_str *s)
{
	cm_str prefix;
	uint64_t num;
	char digits[20], *out;
	int nd = 0;

	if (!get_str(r, &prefix) || !get_u(r, &num))
		return false;
	if (prefix.len == 0 || prefix.len > NUM_PREFIX_MAX)
		return fail(r, CM_EPROTO);
	do
		digits[nd++] = (char)('0' + num % 10);
	while ((num /= 10) != 0);
	if ((out = alloc(r, prefix.len + (size_t)nd)) == NULL)
		return false;
	memcpy(out, prefix.p, prefix.len);
	for (int k = 0; k < nd; k++)
		out[prefix.len + (size_t)k] = digits[nd - 1 - k];
	*s = (cm_str){ out, prefix.len + (uint32_t)nd };
	return true;
}

static bool
get_value(reader *r, cm_value *v, int depth)
{
	uint64_t h, rest;
	if (!get_u(r, &h))
		return false;
	rest = h >> TYPE_BITS;
	v->type = (uint8_t)(h & ((1u << TYPE_BITS) - 1));
	switch (v->type) {
	case CM_VAL_STR:
	case CM_VAL_BYTES:
		return get_inline(r, rest, &v->u.s);
	case SYM_STR:
		v->type = CM_VAL_STR;
		return get_symbol(r, rest, &v->u.s);
	case CM_VAL_BOOL:
		if (rest > 1)
			return fail(r, CM_EPROTO);
		v->u.b = rest;
		return true;
	case CM_VAL_INT:
		v->u.i = st_unzigzag(rest);
		return true;
	case BIG_INT:
		if (rest == NUM_STR) {
			v->type = CM_VAL_STR;
			return get_num_str(r, &v->u.s);
		}
		v->type = CM_VAL_INT;
		if (rest != 0 || !get_u(r, &h))
			return fail(r, CM_EPROTO);
		v->u.i = st_unzigzag(h);
		return true;
	case CM_VAL_DOUBLE: {
		uint8_t le[8];
		uint64_t bits = 0;
		if (rest != 0 || !get_bytes(r, le, 8))
			return fail(r, CM_EPROTO);
		for (int i = 0; i < 8; i++)
			bits |= (uint64_t)le[i] << (8 * i);
		memcpy(&v->u.d, &bits, 8);
		return true;
	}
	case CM_VAL_ARRAY:
		if (depth >= MAX_VALUE_DEPTH || rest > (uint64_t)(r->end - r->p))
			return fail(r, CM_EPROTO);
		v->u.arr.n = (uint32_t)rest;
		if ((v->u.arr.v = alloc(r, (size_t)v->u.arr.n * sizeof *v->u.arr.v)) == NULL)
			return false;
		for (uint32_t i = 0; i < v->u.arr.n; i++)
			if (!get_value(r, &v->u.arr.v[i], depth + 1))
				return false;
		return true;
	default:
		return fail(r, CM_EPROTO);
	}
}

/* Attributes: the count from counts, then each key from keys and value from values (put_attrs()). */
static bool
get_attrs(reader *counts, reader *keys, reader *values, cm_attrs *a)
{
	uint64_t n;
	if (!get_u(counts, &n))
		return false;
	if (n > (uint64_t)(keys->end - keys->p)) /* a key takes a byte at least */
		return fail(counts, CM_EPROTO);
	a->n = (uint32_t)n;
	if ((a->v = alloc(counts, (size_t)a->n * sizeof *a->v)) == NULL)
		return false;
	for (uint32_t i = 0; i < a->n; i++)
		if (!get_str(keys, &a->v[i].key) || !get_value(values, &a->v[i].val, 0))
			return false;
	return true;
}

/* The spans' head: their count (no more than the bytes left) and time units. */
static bool
get_head(reader *r, uint32_t *n, uint32_t *units)
{
	uint64_t v;
	if (!get_u(r, &v))
		return false;
	if (v >> HEAD_BITS > (uint64_t)(r->end - r->p))
		return fail(r, CM_EPROTO);
	*n = (uint32_t)(v >> HEAD_BITS);
	*units = (uint32_t)v & ((1u << HEAD_BITS) - 1);
	return true;
}

int
st_block_count(const char *p, size_t len, uint32_t *n)
{
	int err = CM_OK;
	reader r = { (const uint8_t *)p, (const uint8_t *)p + len, NULL, NULL, &err };
	uint32_t units;
	return get_head(&r, n, &units) ? CM_OK : CM_EPROTO;
}

/* How a block's times are stored (time_units()): the nanoseconds in one unit of its starts and durations. */
typedef struct time_scale {
	uint64_t start, dur;
} time_scale;

/*
 * A span's parent from the parents column: *parent gets its block index,
 * or UINT32_MAX with its id in outside (zero for none).
 */
static bool
get_parent(reader *r, uint32_t n, uint8_t outside[8], uint32_t *parent)
{
	uint64_t code;

	*parent = UINT32_MAX;
	memset(outside, 0, 8);
	if (!get_u(r, &code))
		return false;
	if (code == 1)
		return get_bytes(r, outside, 8);
	if (code >= 2) {
		if (code - 2 >= n)
			return fail(r, CM_EPROTO);
		*parent = (uint32_t)(code - 2);
	}
	return true;
}

/* A span's shape and flags from the shapes column, its kind and status checked. */
static bool
get_shape(reader *r, uint32_t *shape, uint32_t *flags)
{
	if (!get_u32(r, shape) || !get_u32(r, flags))
		return false;
	if (*shape > SHAPE_ALL || (*shape & 7) > CM_KIND_CONSUMER || (*shape >> SHAPE_STATUS_SHIFT & 3) > CM_STATUS_ERROR)
		return fail(r, CM_EPROTO);
	return true;
}

/*
 * Decodes one span from the columns c[], its id first[0..8) when not NULL;
 * *parent gets the block index of its parent, or UINT32_MAX, and *ref the
 * index of its (resource, scope) pair.
 */
static bool
get_span(reader *c, cm_span *sp, const uint8_t *first, uint32_t n, uint64_t base, time_scale ts, uint32_t *parent,
    uint32_t *ref)
{
	reader *rare = &c[COL_RARE];
	uint64_t start, dur;
	uint32_t shape;

	if (first != NULL)
		memcpy(sp->span_id.b, first, 8);
	else if (!get_bytes(&c[COL_IDS], sp->span_id.b, 8))
		return false;
	if (!get_parent(&c[COL_PARENTS], n, sp->parent_span_id.b, parent) ||
	    !get_shape(&c[COL_SHAPES], &shape, &sp->flags))
		return false;
	sp->kind = shape & 7;
	sp->status = shape >> SHAPE_STATUS_SHIFT & 3;
	if (!get_str(&c[COL_NAMES], &sp->name) || !get_u(&c[COL_STARTS], &start) || !get_u(&c[COL_DURATIONS], &dur) ||
	    !get_u32(&c[COL_REFS], ref) ||
	    !get_attrs(&c[COL_COUNTS], &c[COL_KEYS], &c[COL_VALUES], &sp->attrs))
		return false;
	sp->start_ns = base + start * ts.start;
	sp->end_ns = sp->start_ns + dur * ts.dur;
	if ((shape & SHAPE_TRACE_STATE && !get_str(rare, &sp->trace_state)) ||
	    (shape & SHAPE_STATUS_MESSAGE && !get_str(rare, &sp->status_message)) ||
	    (shape & SHAPE_DROPPED_ATTRS && !get_u32(rare, &sp->attrs.dropped)))
		return false;
	if (shape & SHAPE_EVENTS && (!get_count(rare, &sp->nevents) || !get_u32(rare, &sp->dropped_events)))
		return false;
	if ((sp->events = alloc(rare, (size_t)sp->nevents * sizeof *sp->events)) == NULL)
		return false;
	for (uint32_t k = 0; k < sp->nevents; k++) {
		cm_event *ev = &sp->events[k];
		uint64_t t;
		if (!get_u(rare, &t) || !get_str(rare, &ev->name) || !get_u32(rare, &ev->attrs.dropped) ||
		    !get_attrs(rare, rare, rare, &ev->attrs))
			return false;
		ev->time_ns = sp->start_ns + (uint64_t)st_unzigzag(t);
	}
	if (shape & SHAPE_LINKS && (!get_count(rare, &sp->nlinks) || !get_u32(rare, &sp->dropped_links)))
		return false;
	if ((sp->links = alloc(rare, (size_t)sp->nlinks * sizeof *sp->links)) == NULL)
		return false;
	for (uint32_t k = 0; k < sp->nlinks; k++) {
		cm_link *l = &sp->links[k];
		if (!get_bytes(rare, l->trace_id.b, 16) || !get_bytes(rare, l->span_id.b, 8) ||
		    !get_str(rare, &l->trace_state) || !get_u32(rare, &l->flags) || !get_u32(rare, &l->attrs.dropped) ||
		    !get_attrs(rare, rare, rare, &l->attrs))
			return false;
	}
	return true;
}

/* A block opened: its spans' count, time units and (resource, scope) pairs, and a reader per column. */
typedef struct opened {
	uint32_t n, nrefs;
	time_scale ts;
	const uint8_t *refs; /* nrefs (resource hash[8 BE], scope hash[8 BE]) */
	reader c[COLS];
} opened;

/* Reads a block's head and locates its columns in p[0..len); *err gets why not. */
static bool
open_block(const char *p, size_t len, const st_block_syms *syms, cm_arena *a, int *err, opened *o)
{
	reader r = { (const uint8_t *)p, (const uint8_t *)p + len, syms, a, err };
	uint64_t clen;
	uint32_t units;

	if (!get_head(&r, &o->n, &units) || !get_count(&r, &o->nrefs))
		return false;
	o->ts = (time_scale){ units & STARTS_US ? NS_PER_US : 1, units & DURATIONS_US ? NS_PER_US : 1 };
	if (o->nrefs > MAX_REFS || (uint64_t)o->nrefs * 16 > (uint64_t)(r.end - r.p))
		return fail(&r, CM_EPROTO);
	o->refs = r.p;
	r.p += (size_t)o->nrefs * 16;
	for (int k = 0; k < COLS; k++) {
		if (!get_u(&r, &clen) || clen > (uint64_t)(r.end - r.p))
			return fail(&r, CM_EPROTO);
		o->c[k] = (reader){ r.p, r.p + clen, syms, a, err };
		r.p += clen;
	}
	return r.p == r.end || fail(&r, CM_EPROTO);
}

/* Whether every column named in cols (a bit per column) was read to its end. */
static bool
read_through(const opened *o, unsigned cols)
{
	for (int k = 0; k < COLS; k++)
		if (cols >> k & 1 && o->c[k].p != o->c[k].end)
			return false;
	return true;
}

int
st_block_decode(const char *p, size_t len, const uint8_t *key, const st_block_syms *syms, cm_arena *a,
    cm_span *spans, uint64_t *res, uint64_t *scope)
{
	int err = CM_OK;
	uint64_t base = st_get_be64(key + 16);
	uint32_t *parent;
	opened o;

	if (!open_block(p, len, syms, a, &err, &o))
		return err;
	if ((parent = alloc(&o.c[COL_IDS], (size_t)o.n * sizeof *parent)) == NULL)
		return err;
	for (uint32_t i = 0; i < o.n; i++) {
		cm_span *sp = &spans[i];
		uint32_t ref;
		memset(sp, 0, sizeof *sp);
		memcpy(sp->trace_id.b, key, 16);
		if (!get_span(o.c, sp, i == 0 ? key + 24 : NULL, o.n, base, o.ts, &parent[i], &ref))
			return err;
		if (ref >= o.nrefs)
			return CM_EPROTO;
		res[i] = st_get_be64(o.refs + 16 * (size_t)ref);
		scope[i] = st_get_be64(o.refs + 16 * (size_t)ref + 8);
	}
	if (!read_through(&o, (1u << COLS) - 1))
		return CM_EPROTO; /* bytes no span took */
	for (uint32_t i = 0; i < o.n; i++) /* parents by index, also those later in the block */
		if (parent[i] != UINT32_MAX)
			spans[i].parent_span_id = spans[parent[i]].span_id;
	return CM_OK;
}

/* Passes over a name or key (get_str()) without its text. */
static bool
skip_str(reader *r)
{
	uint64_t v;
	if (!get_u(r, &v))
		return false;
	if (v & 1)
		return true;
	if (v >> 1 > (uint64_t)(r->end - r->p))
		return fail(r, CM_EPROTO);
	r->p += v >> 1;
	return true;
}

int
st_block_outline(const char *p, size_t len, const uint8_t *key, const st_block_syms *syms, cm_arena *a,
    st_outline *out)
{
	int err = CM_OK;
	uint64_t base = st_get_be64(key + 16), start, end;
	uint32_t parent, shape, flags, ref, root_ref = 0;
	cm_span_id outside;
	opened o;

	memset(out, 0, sizeof *out);
	out->root = UINT32_MAX;
	if (!open_block(p, len, syms, a, &err, &o))
		return err;
	out->spans = o.n;
	out->nrefs = o.nrefs;
	out->refs = o.refs;
	out->end_ns = base;
	if ((out->ref_spans = alloc(&o.c[COL_REFS], (size_t)o.nrefs * sizeof *out->ref_spans)) == NULL)
		return err;
	memset(out->ref_spans, 0, (size_t)o.nrefs * sizeof *out->ref_spans);
	for (uint32_t i = 0; i < o.n; i++) {
		uint64_t dur;
		if (!get_parent(&o.c[COL_PARENTS], o.n, outside.b, &parent) || !get_shape(&o.c[COL_SHAPES], &shape, &flags) ||
		    !get_u(&o.c[COL_STARTS], &start) || !get_u(&o.c[COL_DURATIONS], &dur) ||
		    !get_u32(&o.c[COL_REFS], &ref))
			return err;
		if (ref >= o.nrefs)
			return CM_EPROTO;
		out->errors += (shape >> SHAPE_STATUS_SHIFT & 3) == CM_STATUS_ERROR;
		out->ref_spans[ref]++;
		end = base + start * o.ts.start + dur * o.ts.dur;
		if (end > out->end_ns)
			out->end_ns = end;
		if (parent == UINT32_MAX && cm_span_id_is_zero(&outside) && out->root == UINT32_MAX) {
			out->root = i;
			root_ref = ref;
			if (!get_str(&o.c[COL_NAMES], &out->root_name))
				return err;
		} else if (!skip_str(&o.c[COL_NAMES])) {
			return err;
		}
	}
	if (!read_through(&o, 1u << COL_PARENTS | 1u << COL_SHAPES | 1u << COL_NAMES | 1u << COL_STARTS |
		1u << COL_DURATIONS | 1u << COL_REFS))
		return CM_EPROTO;
	out->root_resource = out->root != UINT32_MAX ? st_get_be64(o.refs + 16 * (size_t)root_ref) : 0;
	return CM_OK;
}
