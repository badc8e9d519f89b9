/*
 * tags.c - tag text, tag matching and attribute postings (tags.h).
 */
#include "tags.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "err.h"
#include "keys.h"
#include "varint.h"


/*
 * Decimal text of v into buf (at least 21 bytes); returns its length.
 * Two digits a division, from a table: every integer attribute of every
 * span is hashed as text (snprintf cost ~10x, a digit a division ~2x).
 */
static size_t
int_text(int64_t v, char *buf)
{
	static const char pairs[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
				    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
				    "8081828384858687888990919293949596979899";
	char tmp[24], *end = tmp + sizeof tmp, *p = end;
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	for (; u >= 100; u /= 100) {
		p -= 2;
		memcpy(p, pairs + 2 * (u % 100), 2);
	}
	if (u >= 10) {
		p -= 2;
		memcpy(p, pairs + 2 * u, 2);
	} else {
		*--p = (char)('0' + u);
	}
	if (v < 0)
		*--p = '-';
	memcpy(buf, p, (size_t)(end - p));
	return (size_t)(end - p);
}

bool
st_tag_text(const cm_value *v, char buf[ST_TAG_TEXT_MAX], cm_str *out)
{
	switch (v->type) {
	case CM_VAL_STR:
		*out = v->u.s;
		return true;
	case CM_VAL_BOOL:
		*out = v->u.b ? CM_STR("true") : CM_STR("false");
		return true;
	case CM_VAL_INT:
		*out = (cm_str){ buf, int_text(v->u.i, buf) };
		return true;
	case CM_VAL_DOUBLE:
		for (int prec = 15; prec <= 17; prec++) { /* shortest text that reads back the same */
			snprintf(buf, ST_TAG_TEXT_MAX, "%.*g", prec, v->u.d);
			if (strtod(buf, NULL) == v->u.d)
				break;
		}
		*out = cm_str_from(buf);
		return true;
	default:
		return false;
	}
}

uint64_t
st_tag_hash(cm_str key, cm_str text)
{
	/* persisted in postings: never change */
	uint64_t h = st_hash_mix(ST_HASH_SEED, key.p, key.len);
	h = (h ^ key.len) * 0xbf58476d1ce4e5b9u; /* "a"+"bc" and "ab"+"c" differ */
	h = st_hash_mix(h, text.p, text.len);
	h ^= h >> 29; /* the bucket comes from the high bits: finish mixing into them */
	h *= 0xbf58476d1ce4e5b9u;
	h ^= h >> 32;
	return h;
}

static bool
attrs_have(const cm_attrs *a, const char *key, const char *value)
{
	char buf[ST_TAG_TEXT_MAX];
	for (uint32_t i = 0; i < a->n; i++) {
		cm_str text;
		if (cm_str_eq(a->v[i].key, key) && st_tag_text(&a->v[i].val, buf, &text) && cm_str_eq(text, value))
			return true;
	}
	return false;
}

/* The tags Jaeger JSON derives from a span's own fields; fn(arg, key, value) for each the span has. */
static void
derived_span_tags(const cm_span *s, void (*fn)(void *arg, cm_str key, cm_str value), void *arg)
{
	if (s->status == CM_STATUS_ERROR) {
		fn(arg, CM_STR("error"), CM_STR("true"));
		fn(arg, CM_STR("otel.status_code"), CM_STR("ERROR"));
		fn(arg, CM_STR("otel.status_description"), s->status_message);
	} else if (s->status == CM_STATUS_OK) {
		fn(arg, CM_STR("otel.status_code"), CM_STR("OK"));
	}
	if (s->kind != CM_KIND_UNSPECIFIED && s->kind != CM_KIND_INTERNAL)
		fn(arg, CM_STR("span.kind"), cm_str_from(cm_kind_name(s->kind)));
}

/* The tags Jaeger JSON derives from a span's instrumentation scope. */
static void
derived_scope_tags(const cm_scope *sc, void (*fn)(void *arg, cm_str key, cm_str value), void *arg)
{
	fn(arg, CM_STR("otel.scope.name"), sc->name);
	fn(arg, CM_STR("otel.scope.version"), sc->version);
}

/* Every tag Jaeger JSON derives for span s of batch b. */
static void
derived_tags(const cm_batch *b, const cm_span *s, void (*fn)(void *arg, cm_str key, cm_str value), void *arg)
{
	derived_span_tags(s, fn, arg);
	if (s->scope < b->nscopes)
		derived_scope_tags(&b->scopes[s->scope], fn, arg);
}

typedef struct derived_match {
	const char *key, *value;
	bool found;
} derived_match;

static void
match_derived(void *arg, cm_str key, cm_str value)
{
	derived_match *m = arg;
	m->found |= cm_str_eq(key, m->key) && cm_str_eq(value, m->value);
}

bool
st_tag_span_has(const cm_batch *b, const cm_span *s, const char *key, const char *value)
{
	derived_match m = { key, value, false };
	if (attrs_have(&s->attrs, key, value))
		return true;
	if (s->resource < b->nresources && attrs_have(&b->resources[s->resource].attrs, key, value))
		return true;
	if (s->scope < b->nscopes && attrs_have(&b->scopes[s->scope].attrs, key, value))
		return true;
	for (uint32_t e = 0; e < s->nevents; e++)
		if (attrs_have(&s->events[e].attrs, key, value))
			return true;
	for (uint32_t l = 0; l < s->nlinks; l++)
		if (attrs_have(&s->links[l].attrs, key, value))
			return true;
	derived_tags(b, s, match_derived, &m);
	return m.found;
}

/*
 * One posting: a tag's hash in a trace of the batch, packed so that numeric
 * order is (bucket, low hash bits, trace): bucket[6] lo[16] trace[26],
 * of which lo holds ST_TAG_LOW_BITS. With 20 bits of hash a loadgen
 * write of ~1,600 spans has ~180 postings a bucket, and a tag's lookup
 * meets a stranger with the same bits in about one write of 90: a trace
 * read that the exact check then turns down (22 bits: one of 370, for
 * 1.7 bytes per span more).
 */
#define TRACE_BITS 26
#define MAX_TRACES (1u << TRACE_BITS) /* far above --max-batch-spans */

typedef struct derived_memo {
	cm_str key, text;
	uint64_t hash;
} derived_memo;

enum { DERIVED_MEMO = 16 };

typedef struct collector {
	uint64_t *v;
	size_t n, cap;
	uint32_t trace;
	bool oom;
	derived_memo memo[DERIVED_MEMO]; /* add_derived()'s */
} collector;

static void
push(collector *c, uint64_t h)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 1024;
		uint64_t *v = cm_realloc(c->v, cap * sizeof *v);
		if (v == NULL) {
			c->oom = true;
			return;
		}
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n++] = (uint64_t)st_tag_bucket(h) << (16 + TRACE_BITS) | (uint64_t)st_tag_low(h) << TRACE_BITS | c->trace;
}

static void
add(void *arg, cm_str key, cm_str text)
{
	push(arg, st_tag_hash(key, text));
}

/*
 * add() for the tags derived from a span's fields, which are mostly the
 * same few static strings ("span.kind" = "server"): their hashes are kept
 * by the strings' addresses. Equal addresses and lengths are equal texts
 * while the batch lives, as it does for the whole call.
 */
static void
add_derived(void *arg, cm_str key, cm_str text)
{
	collector *c = arg;
	derived_memo *m = &c->memo[((uintptr_t)key.p ^ (uintptr_t)text.p >> 3) % DERIVED_MEMO];

	if (m->key.p != key.p || m->key.len != key.len || m->text.p != text.p || m->text.len != text.len) {
		m->key = key;
		m->text = text;
		m->hash = st_tag_hash(key, text);
	}
	push(c, m->hash);
}

/*
 * The tag hashes of each resource's or scope's attributes, and a scope's
 * derived tags, made once per batch and added once per trace that has a
 * span of it.
 */
typedef struct shared_tags {
	uint64_t *h;     /* hashes of all, in one array */
	uint32_t *first; /* [i]: where item i's start; [n]: the end */
	uint32_t *mark;  /* [i]: 1 + the last trace it was added to */
	uint32_t k;      /* hashes made so far */
} shared_tags;

static void
shared_hash(void *arg, cm_str key, cm_str text)
{
	shared_tags *t = arg;
	t->h[t->k++] = st_tag_hash(key, text);
}

static void
count_tag(void *arg, cm_str key, cm_str text)
{
	(void)key, (void)text;
	++*(size_t *)arg;
}

static bool
shared_init(shared_tags *t, const cm_batch *b, bool scopes)
{
	char buf[ST_TAG_TEXT_MAX];
	uint32_t n = scopes ? b->nscopes : b->nresources;
	size_t total = 0;

	for (uint32_t i = 0; i < n; i++) {
		total += scopes ? b->scopes[i].attrs.n : b->resources[i].attrs.n;
		if (scopes)
			derived_scope_tags(&b->scopes[i], count_tag, &total);
	}
	t->k = 0;
	t->h = cm_malloc((total + 1) * sizeof *t->h);
	t->first = cm_malloc((n + 1) * sizeof *t->first);
	t->mark = cm_calloc(n + 1, sizeof *t->mark);
	if (t->h == NULL || t->first == NULL || t->mark == NULL)
		return false;
	for (uint32_t i = 0; i < n; i++) {
		const cm_attrs *a = scopes ? &b->scopes[i].attrs : &b->resources[i].attrs;
		t->first[i] = t->k;
		for (uint32_t j = 0; j < a->n; j++) {
			cm_str text;
			if (st_tag_text(&a->v[j].val, buf, &text))
				shared_hash(t, a->v[j].key, text);
		}
		if (scopes)
			derived_scope_tags(&b->scopes[i], shared_hash, t);
	}
	t->first[n] = t->k;
	return true;
}

static void
shared_add(collector *c, shared_tags *t, uint32_t i)
{
	if (t->mark[i] == c->trace + 1)
		return;
	t->mark[i] = c->trace + 1;
	for (uint32_t k = t->first[i]; k < t->first[i + 1]; k++)
		push(c, t->h[k]);
}

static void
shared_fini(shared_tags *t)
{
	cm_free(t->h);
	cm_free(t->first);
	cm_free(t->mark);
}

static void
add_attrs(collector *c, const cm_attrs *a)
{
	char buf[ST_TAG_TEXT_MAX];
	for (uint32_t i = 0; i < a->n; i++) {
		cm_str text;
		if (st_tag_text(&a->v[i].val, buf, &text))
			add(c, a->v[i].key, text);
	}
}

/*
 * Sorts v[0..n) by bucket and low hash bits, using tmp (as large); the
 * result is in v. Postings are pushed in trace order, and a stable sort on
 * the 22 hash bits alone leaves each tag's traces in that order: the whole
 * key's order in two LSD passes of 11 bits, both counted in one read. (A
 * batch has thousands of postings; qsort's comparator calls cost a fifth
 * of ingest, eight-bit passes over all 48 bits a twentieth.)
 */
enum { RADIX_BITS = 11, RADIX = 1 << RADIX_BITS };
_Static_assert(6 + 16 == 2 * RADIX_BITS, "two passes cover bucket[6] lo[16]");

static void
radix_sort(uint64_t *v, uint64_t *tmp, size_t n)
{
	size_t count[2][RADIX] = { { 0 } };
	uint64_t *from = v, *to = tmp;

	for (size_t i = 0; i < n; i++) {
		count[0][(v[i] >> TRACE_BITS) & (RADIX - 1)]++;
		count[1][(v[i] >> (TRACE_BITS + RADIX_BITS)) & (RADIX - 1)]++;
	}
	for (int pass = 0; pass < 2; pass++) {
		unsigned shift = TRACE_BITS + (unsigned)pass * RADIX_BITS;
		size_t sum = 0;
		for (int b = 0; b < RADIX; b++) {
			size_t c = count[pass][b];
			count[pass][b] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			to[count[pass][(from[i] >> shift) & (RADIX - 1)]++] = from[i];
		uint64_t *t = from;
		from = to;
		to = t;
	}
}

/*
 * The postings loop is the write's first read of each span's attributes,
 * which a receiver thread decoded on another core, in trace order, which is
 * not the order they lie in: each array and text is a miss the hardware
 * prefetcher cannot foresee. A span's attribute array is fetched
 * ATTRS_AHEAD spans ahead, its texts (their pointers in that array, read by
 * then) TEXTS_AHEAD spans ahead.
 */
enum { ATTRS_AHEAD = 8, TEXTS_AHEAD = 4 };

static inline void
prefetch_attrs(const cm_attrs *a)
{
	const char *p = (const char *)a->v, *end = p + a->n * sizeof *a->v;
	for (; p < end; p += 64)
		__builtin_prefetch(p);
}

static inline void
prefetch_texts(const cm_attrs *a)
{
	for (uint32_t i = 0; i < a->n; i++) {
		__builtin_prefetch(a->v[i].key.p);
		if (a->v[i].val.type == CM_VAL_STR)
			__builtin_prefetch(a->v[i].val.u.s.p);
	}
}

int
st_tag_postings_put(rocksdb_writebatch_t *wb, rocksdb_column_family_handle_t *index, const cm_batch *b,
    const cm_span *const *refs, size_t n, const uint8_t suffix[16])
{
	collector c = { 0 };
	shared_tags res = { 0 }, scopes = { 0 };
	uint64_t *tmp;
	cm_buf val;
	int rv = CM_OK;

	if (!shared_init(&res, b, false) || !shared_init(&scopes, b, true))
		c.oom = true;

	for (size_t i = 0; i < n; i++) {
		const cm_span *s = refs[i];
		if (i + ATTRS_AHEAD < n)
			prefetch_attrs(&refs[i + ATTRS_AHEAD]->attrs);
		if (i + TEXTS_AHEAD < n)
			prefetch_texts(&refs[i + TEXTS_AHEAD]->attrs);
		if (i > 0 && memcmp(s->trace_id.b, refs[i - 1]->trace_id.b, 16) != 0)
			c.trace++;
		if (c.oom)
			break;
		add_attrs(&c, &s->attrs);
		if (s->resource < b->nresources)
			shared_add(&c, &res, s->resource);
		if (s->scope < b->nscopes)
			shared_add(&c, &scopes, s->scope);
		for (uint32_t e = 0; e < s->nevents; e++)
			add_attrs(&c, &s->events[e].attrs);
		for (uint32_t l = 0; l < s->nlinks; l++)
			add_attrs(&c, &s->links[l].attrs);
		derived_span_tags(s, add_derived, &c); /* (the scope's are in scopes) */
	}
	shared_fini(&res);
	shared_fini(&scopes);
	if (c.n == 0 || c.trace >= MAX_TRACES) { /* (nothing to index, or an impossible batch) */
		cm_free(c.v);
		return c.oom ? CM_ENOMEM : CM_OK;
	}
	if (c.oom || (tmp = cm_malloc(c.n * sizeof *tmp)) == NULL) {
		cm_free(c.v);
		return CM_ENOMEM;
	}
	radix_sort(c.v, tmp, c.n);
	cm_free(tmp);
	cm_buf_init(&val);
	for (size_t i = 0, j; i < c.n; i = j) {
		unsigned bucket = (unsigned)(c.v[i] >> (16 + TRACE_BITS));
		uint8_t key[2 + 16] = { ST_INDEX_TAG, (uint8_t)bucket };
		uint32_t prev = 0, next = 0;
		val.len = 0;
		for (j = i; j < c.n && (unsigned)(c.v[j] >> (16 + TRACE_BITS)) == bucket; j++) {
			uint32_t lo = (uint16_t)(c.v[j] >> TRACE_BITS), trace = (uint32_t)(c.v[j] & (MAX_TRACES - 1));
			if (j > i && c.v[j] == c.v[j - 1])
				continue; /* the same tag again in the same trace */
			if (cm_buf_reserve(&val, 20) != CM_OK)
				break;
			if (lo != prev)
				next = 0; /* (next starts at 0 in each bucket) */
			st_put_varint(&val, lo - prev);
			st_put_varint(&val, trace - next);
			prev = lo;
			next = trace + 1;
		}
		memcpy(key + 2, suffix, 16);
		rocksdb_writebatch_put_cf(wb, index, (const char *)key, sizeof key, val.data, val.len);
	}
	if (val.failed)
		rv = CM_ENOMEM;
	cm_buf_fini(&val);
	cm_free(c.v);
	return rv;
}

int
st_tag_postings_find(const char *val, size_t len, uint32_t lo, int (*fn)(void *arg, uint32_t i), void *arg)
{
	const uint8_t *p = (const uint8_t *)val, *end = p + len;
	uint64_t acc = 0, next = 0;
	while (p < end) {
		uint64_t delta, gap, trace;
		int rv;
		if (!st_get_varint(&p, end, &delta) || !st_get_varint(&p, end, &gap))
			return CM_EPROTO;
		if (delta != 0)
			next = 0;
		if (gap > UINT32_MAX || (trace = next + gap) > UINT32_MAX)
			return CM_EPROTO;
		next = trace + 1;
		acc += delta;
		if (acc > lo)
			break; /* sorted: no more */
		if (acc == lo && (rv = fn(arg, (uint32_t)trace)) != 0)
			return rv;
	}
	return CM_OK;
}
