/*
 * test_storage_decode.c - the storage's own decoders meet damaged values:
 * span block heads (keys.h), span blocks (block.h) and attribute postings
 * (tags.h) are refused or read up to the damage, never past the buffer;
 * blocks give back every field they were given; tag text is what Jaeger's
 * tag search compares.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "block.h"
#include "err.h"
#include "keys.h"
#include "tags.h"
#include "varint.h"

static void
block_versions_are_checked(void **state)
{
	size_t off;
	(void)state;
	static const char ok[] = { 4, 0 }; /* version 4, then the spans */
	assert_int_equal(st_block_spans(ok, sizeof ok, &off), CM_OK);
	assert_int_equal(off, 1);
	static const char v3[] = { 3, 3, 'a', 'b', 'c', 0 }; /* a summary at the head, before the columns */
	assert_int_equal(st_block_spans(v3, sizeof v3, &off), CM_EVERSION);
	static const char v2[] = { 2, 0, 0, 0, 0, (char)0x90 }; /* msgpack spans, before block.h */
	assert_int_equal(st_block_spans(v2, sizeof v2, &off), CM_EVERSION);
	assert_int_equal(st_block_spans(ok, 0, &off), CM_EVERSION);
}

/* ---- span blocks ---- */

static cm_value arr_items[2] = { { .type = CM_VAL_INT, .u.i = -7 }, { .type = CM_VAL_STR, .u.s = { "x", 1 } } };
static cm_value nested = { .type = CM_VAL_ARRAY, .u.arr = { arr_items, 2 } };
static cm_attr attrs[] = {
	{ { "s", 1 }, { .type = CM_VAL_STR, .u.s = { "text", 4 } } },
	{ { "b", 1 }, { .type = CM_VAL_BOOL, .u.b = true } },
	{ { "i", 1 }, { .type = CM_VAL_INT, .u.i = -9223372036854775807 - 1 } },
	{ { "d", 1 }, { .type = CM_VAL_DOUBLE, .u.d = -0.25 } },
	{ { "y", 1 }, { .type = CM_VAL_BYTES, .u.s = { "\0\1", 2 } } },
	{ { "a", 1 }, { .type = CM_VAL_ARRAY, .u.arr = { &nested, 1 } } },
};

/* Three spans of one trace: a root, a child whose parent comes later in the block, one with an outside parent. */
static void
make_spans(cm_span sp[3], cm_event *ev, cm_link *ln)
{
	memset(sp, 0, 3 * sizeof *sp);
	for (int i = 0; i < 3; i++) {
		memset(sp[i].trace_id.b, 0xab, 16);
		memset(sp[i].span_id.b, 0x10 + i, 8);
		sp[i].name = (cm_str){ "op", 2 };
		sp[i].start_ns = 1700000000000000000ull + 1000u * (unsigned)i;
		sp[i].end_ns = sp[i].start_ns + 999;
		sp[i].resource = (uint32_t)i % 2;
	}
	sp[1].parent_span_id = sp[2].span_id; /* later in the block */
	memset(sp[2].parent_span_id.b, 0x99, 8); /* not in the block */
	sp[0].kind = CM_KIND_SERVER;
	sp[0].status = CM_STATUS_ERROR;
	sp[0].status_message = (cm_str){ "boom", 4 };
	sp[0].trace_state = (cm_str){ "k=v", 3 };
	sp[0].flags = 0x301;
	sp[0].attrs = (cm_attrs){ attrs, 6, 2 };
	*ev = (cm_event){ sp[0].start_ns - 5, { "before start", 12 }, { attrs, 2, 1 } };
	sp[0].events = ev;
	sp[0].nevents = 1;
	sp[0].dropped_events = 3;
	memset(ln->trace_id.b, 0xcd, 16);
	memset(ln->span_id.b, 0xef, 8);
	ln->trace_state = (cm_str){ "a=b", 3 };
	ln->flags = 1;
	ln->attrs = (cm_attrs){ attrs + 2, 1, 0 };
	sp[0].links = ln;
	sp[0].nlinks = 1;
	sp[0].dropped_links = 4;
	sp[1].end_ns = sp[1].start_ns - 1; /* end before start still comes back as it was */
}

static bool
same_value(const cm_value *a, const cm_value *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case CM_VAL_STR:
	case CM_VAL_BYTES:
		return a->u.s.len == b->u.s.len && memcmp(a->u.s.p, b->u.s.p, a->u.s.len) == 0;
	case CM_VAL_BOOL:
		return a->u.b == b->u.b;
	case CM_VAL_INT:
		return a->u.i == b->u.i;
	case CM_VAL_DOUBLE:
		return a->u.d == b->u.d;
	default:
		if (a->u.arr.n != b->u.arr.n)
			return false;
		for (uint32_t i = 0; i < a->u.arr.n; i++)
			if (!same_value(&a->u.arr.v[i], &b->u.arr.v[i]))
				return false;
		return true;
	}
}

static void
assert_same_attrs(const cm_attrs *a, const cm_attrs *b)
{
	assert_int_equal(a->n, b->n);
	assert_int_equal(a->dropped, b->dropped);
	for (uint32_t i = 0; i < a->n; i++) {
		assert_true(cm_str_same(a->v[i].key, b->v[i].key));
		assert_true(same_value(&a->v[i].val, &b->v[i].val));
	}
}

/* Symbol 5 is "op": the decoder's view of a store's table. */
static int
five_is_op(void *arg, uint32_t id, cm_str *out)
{
	(void)arg;
	if (id != 5)
		return CM_EPROTO;
	*out = (cm_str){ "op", 2 };
	return CM_OK;
}

/*
 * Copies block b into out with the old_len bytes at b->data[at] replaced
 * by with[0..new_len), and the length of the column holding them
 * (block.h) changed to match.
 */
static void
splice_block(const cm_buf *b, size_t at, size_t old_len, const void *with, size_t new_len, cm_buf *out)
{
	const uint8_t *p = (const uint8_t *)b->data, *end = p + b->len;
	uint64_t v;
	bool done = false;

	out->len = 0;
	assert_true(st_get_varint(&p, end, &v) && st_get_varint(&p, end, &v)); /* head, refs */
	p += 16 * v;
	cm_buf_append(out, b->data, (size_t)(p - (const uint8_t *)b->data));
	for (int k = 0; k < ST_BLOCK_COLS; k++) {
		const uint8_t *col;
		assert_true(st_get_varint(&p, end, &v));
		col = p;
		p += v;
		if (!done && (size_t)(col - (const uint8_t *)b->data) <= at && at + old_len <= (size_t)(p - (const uint8_t *)b->data)) {
			size_t off = at - (size_t)(col - (const uint8_t *)b->data);
			assert_int_equal(cm_buf_reserve(out, ST_VARINT_MAX), CM_OK);
			st_put_varint(out, v - old_len + new_len);
			cm_buf_append(out, col, off);
			cm_buf_append(out, with, new_len);
			cm_buf_append(out, col + off + old_len, v - off - old_len);
			done = true;
		} else {
			assert_int_equal(cm_buf_reserve(out, ST_VARINT_MAX), CM_OK);
			st_put_varint(out, v);
			cm_buf_append(out, col, v);
		}
	}
	assert_true(done && p == end);
}

/* Three spans as make_spans() makes them, their block's key, and the block. */
typedef struct sample_block {
	cm_span sp[3];
	cm_event ev;
	cm_link ln;
	uint8_t key[ST_SPAN_KEY_SIZE];
	cm_buf b;
} sample_block;

static void
make_block(sample_block *k)
{
	static const uint64_t res[2] = { 0x1111, 0x2222 }, scope[1] = { 0x3333 };
	const cm_span *refs[3] = { &k->sp[0], &k->sp[1], &k->sp[2] };
	const st_block_enc inline_only = { NULL, NULL, NULL };

	make_spans(k->sp, &k->ev, &k->ln);
	st_key_span(k->key, &k->sp[0]);
	cm_buf_init(&k->b);
	st_block_scratch x = { 0 };
	st_block_encode(&inline_only, &x, &k->b, refs, 3, res, scope);
	st_block_scratch_fini(&x);
	assert_false(k->b.failed);
}

static void
blocks_give_back_every_field(void **state)
{
	sample_block k;
	cm_span out[3], *sp = k.sp;
	cm_arena a;
	uint64_t res[3], scope[3];
	uint32_t n;
	const st_block_syms syms = { five_is_op, NULL };
	(void)state;

	make_block(&k);
	cm_arena_init(&a, 4096);
	assert_int_equal(st_block_count(k.b.data, k.b.len, &n), CM_OK);
	assert_int_equal(n, 3);
	assert_int_equal(st_block_decode(k.b.data, k.b.len, k.key, &syms, &a, out, res, scope), CM_OK);
	for (int i = 0; i < 3; i++) {
		assert_memory_equal(out[i].trace_id.b, sp[i].trace_id.b, 16);
		assert_memory_equal(out[i].span_id.b, sp[i].span_id.b, 8);
		assert_memory_equal(out[i].parent_span_id.b, sp[i].parent_span_id.b, 8);
		assert_true(cm_str_same(out[i].name, sp[i].name));
		assert_true(cm_str_same(out[i].trace_state, sp[i].trace_state));
		assert_true(cm_str_same(out[i].status_message, sp[i].status_message));
		assert_int_equal(out[i].flags, sp[i].flags);
		assert_int_equal(out[i].kind, sp[i].kind);
		assert_int_equal(out[i].status, sp[i].status);
		assert_int_equal(out[i].start_ns, sp[i].start_ns);
		assert_int_equal(out[i].end_ns, sp[i].end_ns);
		assert_same_attrs(&out[i].attrs, &sp[i].attrs);
		assert_int_equal(out[i].nevents, sp[i].nevents);
		assert_int_equal(out[i].dropped_events, sp[i].dropped_events);
		assert_int_equal(out[i].nlinks, sp[i].nlinks);
		assert_int_equal(out[i].dropped_links, sp[i].dropped_links);
		assert_int_equal(res[i], i % 2 ? 0x2222 : 0x1111);
		assert_int_equal(scope[i], 0x3333);
	}
	assert_int_equal(out[0].events[0].time_ns, k.ev.time_ns);
	assert_true(cm_str_same(out[0].events[0].name, k.ev.name));
	assert_same_attrs(&out[0].events[0].attrs, &k.ev.attrs);
	assert_memory_equal(out[0].links[0].trace_id.b, k.ln.trace_id.b, 16);
	assert_memory_equal(out[0].links[0].span_id.b, k.ln.span_id.b, 8);
	assert_true(cm_str_same(out[0].links[0].trace_state, k.ln.trace_state));
	assert_int_equal(out[0].links[0].flags, k.ln.flags);
	assert_same_attrs(&out[0].links[0].attrs, &k.ln.attrs);

	/* the first span's name as symbol 5, and as a symbol the store does not have */
	char *p = memchr(k.b.data, 'o', k.b.len); /* "op": its length varint (4) is just before */
	assert_non_null(p);
	assert_int_equal(p[-1], 4);
	cm_buf c;
	cm_buf_init(&c);
	size_t at = (size_t)(p - 1 - k.b.data); /* the names column's length stays one byte: at stays */
	splice_block(&k.b, at, 3, "\x0b", 1, &c); /* 5 << 1 | 1 */
	assert_int_equal(st_block_decode(c.data, c.len, k.key, &syms, &a, out, res, scope), CM_OK);
	assert_true(cm_str_eq(out[0].name, "op"));
	c.data[at] = 0x0d; /* symbol 6 */
	assert_int_equal(st_block_decode(c.data, c.len, k.key, &syms, &a, out, res, scope), CM_EPROTO);
	assert_int_equal(st_block_decode(c.data, c.len, k.key, NULL, &a, out, res, scope), CM_EPROTO);

	/* the string value "text" as symbol 5 (a frequent value), and as a symbol the store does not have */
	p = memmem(k.b.data, k.b.len, "text", 4);
	assert_non_null(p);
	assert_int_equal(p[-1], 4 << 3 | CM_VAL_STR);
	at = (size_t)(p - 1 - k.b.data); /* the values column's length stays as long: at stays */
	splice_block(&k.b, at, 5, "\x2f", 1, &c); /* 5 << 3 | 7 */
	assert_int_equal(st_block_decode(c.data, c.len, k.key, &syms, &a, out, res, scope), CM_OK);
	assert_int_equal(out[0].attrs.v[0].val.type, CM_VAL_STR);
	assert_true(cm_str_eq(out[0].attrs.v[0].val.u.s, "op"));
	c.data[at] = 0x37; /* symbol 6 */
	assert_int_equal(st_block_decode(c.data, c.len, k.key, &syms, &a, out, res, scope), CM_EPROTO);
	assert_int_equal(st_block_decode(c.data, c.len, k.key, NULL, &a, out, res, scope), CM_EPROTO);
	cm_buf_fini(&c);
	cm_buf_fini(&k.b);
	cm_arena_fini(&a);
}

/*
 * A block's outline, what trace summaries read, agrees with its spans: the
 * first span without a parent is the root; a span that ends before it
 * starts does not move the latest end back.
 */
static void
outlines_agree_with_the_spans(void **state)
{
	sample_block k;
	st_outline o;
	cm_arena a;
	const st_block_syms syms = { five_is_op, NULL };
	(void)state;

	make_block(&k);
	cm_arena_init(&a, 4096);
	assert_int_equal(st_block_outline(k.b.data, k.b.len, k.key, &syms, &a, &o), CM_OK);
	assert_int_equal(o.spans, 3);
	assert_int_equal(o.errors, 1);
	assert_int_equal(o.root, 0);
	assert_true(cm_str_eq(o.root_name, "op"));
	assert_int_equal(o.root_resource, 0x1111);
	assert_int_equal(o.end_ns, k.sp[2].end_ns);
	assert_int_equal(o.nrefs, 2);
	assert_int_equal(o.ref_spans[0], 2); /* spans 0 and 2: resource 0 */
	assert_int_equal(o.ref_spans[1], 1);

	/* a block without a root, and a cut block */
	memset(k.sp[0].parent_span_id.b, 0x77, 8);
	cm_buf_fini(&k.b);
	cm_buf_init(&k.b);
	const cm_span *refs[3] = { &k.sp[0], &k.sp[1], &k.sp[2] };
	static const uint64_t res[2] = { 0x1111, 0x2222 }, scope[1] = { 0x3333 };
	const st_block_enc inline_only = { NULL, NULL, NULL };
	st_block_scratch x = { 0 };
	st_block_encode(&inline_only, &x, &k.b, refs, 3, res, scope);
	st_block_scratch_fini(&x);
	assert_int_equal(st_block_outline(k.b.data, k.b.len, k.key, &syms, &a, &o), CM_OK);
	assert_int_equal(o.root, UINT32_MAX);
	assert_int_equal(o.spans, 3);
	for (size_t cut = 0; cut < k.b.len; cut++)
		assert_int_equal(st_block_outline(k.b.data, cut, k.key, &syms, &a, &o), CM_EPROTO);
	cm_buf_fini(&k.b);
	cm_arena_fini(&a);
}

enum { NUM_STR_HEADER = 1 << 3 | 6 }; /* block.h: a string ending in a decimal number */

/* Encodes sp[0..n) of one trace into enc and decodes them into out; returns the encoding's length. */
static size_t
round_trip_spans(const cm_span *sp, uint32_t n, cm_arena *arena, cm_span *out, cm_buf *enc)
{
	static const uint64_t res[1] = { 1 }, scope[1] = { 2 };
	const st_block_enc inline_only = { NULL, NULL, NULL };
	uint64_t res_out[4], scope_out[4];
	uint8_t key[ST_SPAN_KEY_SIZE];
	const cm_span *refs[4];
	st_block_scratch x = { 0 };

	for (uint32_t i = 0; i < n; i++)
		refs[i] = &sp[i];
	st_key_span(key, &sp[0]);
	enc->len = 0;
	st_block_encode(&inline_only, &x, enc, refs, n, res, scope);
	st_block_scratch_fini(&x);
	assert_false(enc->failed);
	assert_int_equal(st_block_decode(enc->data, enc->len, key, NULL, arena, out, res_out, scope_out), CM_OK);
	return enc->len;
}

/* round_trip_spans() of one span with attributes a[0..n). */
static size_t
round_trip_values(const cm_attr *a, uint32_t n, cm_arena *arena, cm_span *out, cm_buf *enc)
{
	cm_span sp;

	memset(&sp, 0, sizeof sp);
	memset(sp.trace_id.b, 1, 16);
	memset(sp.span_id.b, 2, 8);
	sp.name = (cm_str){ "op", 2 };
	sp.attrs = (cm_attrs){ (cm_attr *)a, n, 0 };
	return round_trip_spans(&sp, 1, arena, out, enc);
}

static void
strings_ending_in_numbers_come_back_exactly(void **state)
{
	/* taken apart: a prefix not ending in a digit, then 4 to 19 digits without a leading zero */
	static const char *const split[] = { "u-123456", "order-98211", "10.0.3.1712", "a9999999999999999999", "x1000" };
	/* kept whole: no prefix, a leading zero, too few or too many digits, digits not at the end */
	static const char *const whole[] = { "123456", "u-0123456", "u-999", "a-18446744073709551615",
		"a-99999999999999999999", "u-1234x", "" };
	cm_attr a[12];
	uint32_t n = 0;
	cm_arena arena;
	cm_span out;
	cm_buf enc;
	(void)state;

	for (size_t i = 0; i < sizeof split / sizeof *split; i++, n++)
		a[n] = (cm_attr){ { "k", 1 }, { .type = CM_VAL_STR, .u.s = { split[i], (uint32_t)strlen(split[i]) } } };
	for (size_t i = 0; i < sizeof whole / sizeof *whole; i++, n++)
		a[n] = (cm_attr){ { "k", 1 }, { .type = CM_VAL_STR, .u.s = { whole[i], (uint32_t)strlen(whole[i]) } } };
	cm_arena_init(&arena, 4096);
	cm_buf_init(&enc);
	round_trip_values(a, n, &arena, &out, &enc);
	assert_same_attrs(&out.attrs, &(cm_attrs){ a, n, 0 });
	for (size_t i = 0; i < sizeof split / sizeof *split; i++)
		assert_null(memmem(enc.data, enc.len, split[i], strlen(split[i]))); /* not stored as text */
	for (size_t i = 0; i + 1 < sizeof whole / sizeof *whole; i++)
		assert_non_null(memmem(enc.data, enc.len, whole[i], strlen(whole[i])));

	/* "u-123456" is its prefix and a number: 7 bytes instead of 9 with the prefix inline, as here; 6 as a symbol */
	size_t small = round_trip_values(a, 1, &arena, &out, &enc);
	size_t big = round_trip_values(&(cm_attr){ { "k", 1 }, { .type = CM_VAL_STR, .u.s = { "u-12345x", 8 } } }, 1,
	    &arena, &out, &enc);
	assert_int_equal(big - small, 2);

	/* damaged: an empty prefix, a prefix symbol the store does not have, a cut number */
	round_trip_values(a, 1, &arena, &out, &enc);
	uint8_t key[ST_SPAN_KEY_SIZE];
	uint64_t r1[1], s1[1];
	st_key_span(key, &out);
	char *hdr = memchr(enc.data, NUM_STR_HEADER, enc.len);
	assert_non_null(hdr);
	assert_int_equal(hdr[1], 2 << 1); /* "u-" inline */
	cm_buf c;
	cm_buf_init(&c);
	cm_buf_append(&c, enc.data, (size_t)(hdr + 1 - enc.data));
	cm_buf_append(&c, "\x00", 1); /* an empty prefix */
	cm_buf_append(&c, hdr + 4, enc.len - (size_t)(hdr + 4 - enc.data));
	assert_int_equal(st_block_decode(c.data, c.len, key, NULL, &arena, &out, r1, s1), CM_EPROTO);
	c.data[hdr + 1 - enc.data] = 0x0b; /* symbol 5, with no symbols to resolve it */
	assert_int_equal(st_block_decode(c.data, c.len, key, NULL, &arena, &out, r1, s1), CM_EPROTO);
	c.len = (size_t)(hdr + 4 - enc.data) + 1; /* the number's varint cut after its first byte */
	memcpy(c.data, enc.data, c.len);
	assert_int_equal(st_block_decode(c.data, c.len, key, NULL, &arena, &out, r1, s1), CM_EPROTO);
	cm_buf_fini(&c);
	cm_buf_fini(&enc);
	cm_arena_fini(&arena);
}

static void
microsecond_times_are_stored_in_microseconds(void **state)
{
	static const uint64_t starts[3] = { 0, 2000, 5000000 }, durs[3] = { 3000, 7000000, 1000 };
	cm_span sp[3], out[3];
	cm_arena arena;
	cm_buf enc;
	size_t us, ns;
	(void)state;

	memset(sp, 0, sizeof sp);
	cm_arena_init(&arena, 4096);
	cm_buf_init(&enc);
	for (int i = 0; i < 3; i++) {
		memset(sp[i].trace_id.b, 1, 16);
		memset(sp[i].span_id.b, 2 + i, 8);
		sp[i].name = (cm_str){ "op", 2 };
		sp[i].start_ns = 1700000000123456789ull + starts[i];
		sp[i].end_ns = sp[i].start_ns + durs[i];
	}
	us = round_trip_spans(sp, 3, &arena, out, &enc);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(out[i].start_ns, sp[i].start_ns);
		assert_int_equal(out[i].end_ns, sp[i].end_ns);
	}
	/* one start and one duration a nanosecond off: all in nanoseconds again, and longer */
	sp[1].start_ns += 1;
	sp[2].end_ns += 1;
	ns = round_trip_spans(sp, 3, &arena, out, &enc);
	assert_true(ns >= us + 4);
	/* an end before its start wraps and comes back as it was */
	sp[2].end_ns = sp[2].start_ns - 1000;
	round_trip_spans(sp, 3, &arena, out, &enc);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(out[i].start_ns, sp[i].start_ns);
		assert_int_equal(out[i].end_ns, sp[i].end_ns);
	}
	cm_buf_fini(&enc);
	cm_arena_fini(&arena);
}

/* A block of thousands of spans keeps every parent, in the block or not. */
static void
big_blocks_keep_their_parents(void **state)
{
	enum { N = 3000 };
	static cm_span sp[N], out[N];
	static const cm_span *refs[N];
	static uint64_t res_out[N], scope_out[N];
	const uint64_t res[1] = { 1 }, scope[1] = { 2 };
	const st_block_enc inline_only = { NULL, NULL, NULL };
	uint8_t key[ST_SPAN_KEY_SIZE];
	uint64_t x = 88172645463325252u;
	cm_buf b;
	cm_arena a;
	(void)state;

	memset(sp, 0, sizeof sp);
	for (uint32_t i = 0; i < N; i++) {
		memset(sp[i].trace_id.b, 7, 16);
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		memcpy(sp[i].span_id.b, &x, 8);
		sp[i].start_ns = 1000 + i;
		sp[i].end_ns = 2000 + i;
		refs[i] = &sp[i];
	}
	for (uint32_t i = 1; i < N; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		if (x % 5 == 0)
			memset(sp[i].parent_span_id.b, 0x5a, 8); /* outside the block */
		else
			sp[i].parent_span_id = sp[x % N].span_id; /* before or after it */
	}
	st_key_span(key, &sp[0]);
	cm_buf_init(&b);
	st_block_scratch scratch = { 0 };
	st_block_encode(&inline_only, &scratch, &b, refs, N, res, scope);
	st_block_scratch_fini(&scratch);
	assert_false(b.failed);
	cm_arena_init(&a, 65536);
	assert_int_equal(st_block_decode(b.data, b.len, key, NULL, &a, out, res_out, scope_out), CM_OK);
	for (uint32_t i = 0; i < N; i++) {
		assert_memory_equal(out[i].span_id.b, sp[i].span_id.b, 8);
		assert_memory_equal(out[i].parent_span_id.b, sp[i].parent_span_id.b, 8);
	}
	cm_arena_fini(&a);
	cm_buf_fini(&b);
}

/*
 * A span that leaves the rarely used fields empty (trace state, status
 * message, events, links, dropped attributes) stores none of them: one
 * varint of shape says which it has. A shape bit weft does not know is
 * damage.
 */
static void
empty_fields_take_no_bytes(void **state)
{
	cm_span sp[3], out[3];
	cm_event ev;
	cm_link ln;
	cm_arena arena;
	cm_buf enc;
	(void)state;

	cm_arena_init(&arena, 4096);
	cm_buf_init(&enc);
	make_spans(sp, &ev, &ln);
	sp[1].end_ns = sp[1].start_ns + 999;
	memset(sp[1].parent_span_id.b, 0, 8);
	sp[1].resource = 0;
	/*
	 * One span alone, after its head (starts in microseconds) and one
	 * (resource, scope) pair: the columns (length, bytes) of its id (the
	 * key's), no parent, shape 0 and flags 0, "op" inline, start 0,
	 * duration 999, pair 0, no attributes, no keys, no values, nothing rare.
	 */
	static const uint8_t lone[] = { 0, 1, 0, 2, 0, 0, 3, 2 << 1, 'o', 'p', 1, 0, 2, 0xe7, 0x07, 1, 0, 1, 0, 0, 0, 0 };
	size_t len = round_trip_spans(&sp[1], 1, &arena, out, &enc);
	assert_int_equal(len, 1 + 1 + 16 + sizeof lone);
	assert_int_equal(enc.data[0], 1 << 2 | 1);
	assert_memory_equal(enc.data + 18, lone, sizeof lone);
	assert_int_equal(out[0].attrs.dropped, 0);
	assert_int_equal(out[0].nevents + out[0].dropped_events + out[0].nlinks + out[0].dropped_links, 0);

	/* shape 1 << 10: a field this weft does not know */
	cm_buf c;
	cm_buf_init(&c);
	splice_block(&enc, 18 + 4, 1, "\x80\x08", 2, &c); /* the shape, after the shapes column's length */
	uint8_t key[ST_SPAN_KEY_SIZE];
	uint64_t r1[1], s1[1];
	st_key_span(key, &sp[1]);
	assert_int_equal(st_block_decode(enc.data, enc.len, key, NULL, &arena, out, r1, s1), CM_OK);
	assert_int_equal(st_block_decode(c.data, c.len, key, NULL, &arena, out, r1, s1), CM_EPROTO);

	/* a byte in the rare column that no span's shape asks for; a column longer than the block */
	splice_block(&enc, enc.len, 0, "\0", 1, &c);
	assert_int_equal(st_block_decode(c.data, c.len, key, NULL, &arena, out, r1, s1), CM_EPROTO);
	c.len--;
	assert_int_equal(st_block_decode(c.data, c.len, key, NULL, &arena, out, r1, s1), CM_EPROTO);
	cm_buf_fini(&c);
	cm_buf_fini(&enc);
	cm_arena_fini(&arena);
}

static void
damaged_blocks_are_refused(void **state)
{
	sample_block k;
	cm_span out[3];
	uint64_t res[3], scope[3];
	uint32_t n;
	const st_block_syms syms = { five_is_op, NULL };
	(void)state;

	make_block(&k);
	/* every cut: refused, never read past the end (ASan watches a copy of exactly that size) */
	for (size_t len = 0; len < k.b.len; len++) {
		cm_arena a;
		char *cut = malloc(len + 1);
		memcpy(cut, k.b.data, len);
		cm_arena_init(&a, 4096);
		if (st_block_count(cut, len, &n) == CM_OK && n <= 3)
			assert_int_equal(st_block_decode(cut, len, k.key, &syms, &a, out, res, scope), CM_EPROTO);
		cm_arena_fini(&a);
		free(cut);
	}
	/* every byte changed: decodes or is refused, never crashes */
	for (size_t i = 0; i < k.b.len; i++)
		for (int flip = 1; flip < 256; flip <<= 1) {
			cm_arena a;
			char *bad = malloc(k.b.len);
			memcpy(bad, k.b.data, k.b.len);
			bad[i] ^= (char)flip;
			cm_arena_init(&a, 4096);
			if (st_block_count(bad, k.b.len, &n) == CM_OK && n <= 3) {
				int rv = st_block_decode(bad, k.b.len, k.key, &syms, &a, out, res, scope);
				assert_true(rv == CM_OK || rv == CM_EPROTO);
			}
			cm_arena_fini(&a);
			free(bad);
		}
	/* counts larger than the bytes that follow */
	static const char many[] = { (char)0xff, (char)0xff, 0x7f, 0, 0 };
	assert_int_equal(st_block_count(many, sizeof many, &n), CM_EPROTO);
	/* bytes after the last span */
	cm_arena a;
	cm_arena_init(&a, 4096);
	cm_buf_append(&k.b, "", 1);
	assert_int_equal(st_block_decode(k.b.data, k.b.len, k.key, &syms, &a, out, res, scope), CM_EPROTO);
	cm_arena_fini(&a);
	cm_buf_fini(&k.b);
}

typedef struct hits {
	uint32_t v[8];
	size_t n;
} hits;

static int
collect(void *arg, uint32_t i)
{
	hits *h = arg;
	if (h->n < 8)
		h->v[h->n++] = i;
	return 0;
}

static void
postings_are_read_up_to_the_damage(void **state)
{
	hits h = { { 0 }, 0 };
	(void)state;
	/*
	 * (delta lo, trace gap): lo 5 in traces 1 and 3 (gaps from 0, then from
	 * the position after 1), lo 300 in trace 2 (a new lo: the gap is from 0)
	 */
	static const char val[] = { 5, 1, 0, 1, (char)0xa7, 2, 2 };
	assert_int_equal(st_tag_postings_find(val, sizeof val, 5, collect, &h), CM_OK);
	assert_int_equal(h.n, 2);
	assert_int_equal(h.v[0], 1);
	assert_int_equal(h.v[1], 3);
	h.n = 0;
	assert_int_equal(st_tag_postings_find(val, sizeof val, 300, collect, &h), CM_OK);
	assert_int_equal(h.n, 1);
	assert_int_equal(h.v[0], 2);
	h.n = 0;
	assert_int_equal(st_tag_postings_find(val, sizeof val, 6, collect, &h), CM_OK);
	assert_int_equal(h.n, 0);

	/* a varint that never ends, and one cut after its delta */
	static const char endless[] = { (char)0x80, (char)0x80, (char)0x80 };
	assert_int_equal(st_tag_postings_find(endless, sizeof endless, 5, collect, &h), CM_EPROTO);
	static const char cut[] = { 5 };
	assert_int_equal(st_tag_postings_find(cut, sizeof cut, 5, collect, &h), CM_EPROTO);
	static const char overlong[] = { 5, (char)0xff, (char)0xff, (char)0xff, (char)0xff, (char)0xff, 1 };
	assert_int_equal(st_tag_postings_find(overlong, sizeof overlong, 5, collect, &h), CM_EPROTO);
	assert_int_equal(h.n, 0);
	/* gaps that add up past 32 bits: the first position is listed, the second refused */
	static const char sum_over[] = { 5, (char)0xff, (char)0xff, (char)0xff, (char)0xff, 0x0f, 0, 0 };
	assert_int_equal(st_tag_postings_find(sum_over, sizeof sum_over, 5, collect, &h), CM_EPROTO);
	assert_int_equal(h.n, 1);
	assert_int_equal(h.v[0], UINT32_MAX);
}

static void
tag_text_is_what_jaeger_compares(void **state)
{
	char buf[ST_TAG_TEXT_MAX];
	cm_str t;
	cm_value v;
	(void)state;
	v = (cm_value){ .type = CM_VAL_INT, .u.i = -9223372036854775807 - 1 };
	assert_true(st_tag_text(&v, buf, &t));
	assert_true(cm_str_eq(t, "-9223372036854775808"));
	v = (cm_value){ .type = CM_VAL_INT, .u.i = 0 };
	assert_true(st_tag_text(&v, buf, &t) && cm_str_eq(t, "0"));
	for (int64_t p = 1; p <= INT64_MAX / 10; p *= 10) { /* every digit count's edges, both signs */
		int64_t edges[] = { p - 1, p, p + 1, 10 * p - 1, -p, -(10 * p - 1), INT64_MAX };
		for (size_t i = 0; i < sizeof edges / sizeof *edges; i++) {
			char want[32];
			snprintf(want, sizeof want, "%" PRId64, edges[i]);
			v = (cm_value){ .type = CM_VAL_INT, .u.i = edges[i] };
			assert_true(st_tag_text(&v, buf, &t));
			assert_true(cm_str_eq(t, want));
		}
	}
	v = (cm_value){ .type = CM_VAL_DOUBLE, .u.d = 0.1 };
	assert_true(st_tag_text(&v, buf, &t) && cm_str_eq(t, "0.1"));
	v = (cm_value){ .type = CM_VAL_BOOL, .u.b = false };
	assert_true(st_tag_text(&v, buf, &t) && cm_str_eq(t, "false"));
	v = (cm_value){ .type = CM_VAL_BYTES };
	assert_false(st_tag_text(&v, buf, &t));
	/* the key/value boundary is part of the hash */
	assert_true(st_tag_hash(CM_STR("a"), CM_STR("bc")) != st_tag_hash(CM_STR("ab"), CM_STR("c")));
}

/*
 * The tag hash is stored (postings keep its bits): these values, taken from
 * the first implementation, must never change, on any machine.
 */
static void
tag_hash_is_stable(void **state)
{
	static const char text[] = "service.name=checkout-service/http.status_code"; /* every tail length */
	static const struct {
		size_t n;
		uint64_t h;
	} golden[] = {
		{ 0, 0xcbf29ce484222325u }, { 1, 0xfc63ee4d7ec5d7bbu },
		{ 2, 0x4986ee4c153058bbu }, { 3, 0xc486ee4d5d6a58bbu },
		{ 4, 0xa986ef06ed6a5a2du }, { 5, 0xf6865b33536b3247u },
		{ 6, 0x442e9432363aac47u }, { 7, 0xf68d9433537cac47u },
		{ 8, 0x098d9432ad7cac47u }, { 9, 0x053efb1cc0a57f92u },
		{ 10, 0x1e5ffb1cf7af6a92u }, { 11, 0x005ffb1c15806a93u },
		{ 12, 0x195ffb49c4806a38u }, { 13, 0x665fbfd03a80e30au },
		{ 14, 0x8007f8d1f6306d0au }, { 15, 0x628ff8d033206d0au },
		{ 16, 0x848ff8d1ff206d0au }, { 17, 0x141135d4ac3b82c2u },
		{ 18, 0xc6aa35d50e3e8fc2u }, { 19, 0xa8aa35d582138fc2u },
		{ 20, 0xc3aa350f83138e77u }, { 21, 0x76a9ea4ae91430ffu },
		{ 22, 0x296e714a569b06ffu }, { 23, 0x95a5714b2f0d06ffu },
	};
	long page = sysconf(_SC_PAGESIZE);
	char *map;

	(void)state;
	for (size_t i = 0; i < sizeof golden / sizeof golden[0]; i++)
		assert_int_equal(st_hash_mix(ST_HASH_SEED, text, golden[i].n), golden[i].h);
	/* The same at a page's end before an unreadable page: the tail is read without a word past it. */
	map = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(map != MAP_FAILED);
	assert_int_equal(mprotect(map + page, (size_t)page, PROT_NONE), 0);
	for (size_t i = 0; i < sizeof golden / sizeof golden[0]; i++) {
		char *at = map + page - golden[i].n;
		memcpy(at, text, golden[i].n);
		assert_int_equal(st_hash_mix(ST_HASH_SEED, at, golden[i].n), golden[i].h);
	}
	munmap(map, (size_t)page * 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(block_versions_are_checked),
		cmocka_unit_test(blocks_give_back_every_field),
		cmocka_unit_test(outlines_agree_with_the_spans),
		cmocka_unit_test(big_blocks_keep_their_parents),
		cmocka_unit_test(strings_ending_in_numbers_come_back_exactly),
		cmocka_unit_test(microsecond_times_are_stored_in_microseconds),
		cmocka_unit_test(empty_fields_take_no_bytes),
		cmocka_unit_test(damaged_blocks_are_refused),
		cmocka_unit_test(postings_are_read_up_to_the_damage),
		cmocka_unit_test(tag_text_is_what_jaeger_compares),
		cmocka_unit_test(tag_hash_is_stable),
	};
	return cmocka_run_group_tests_name("storage decode", tests, NULL, NULL);
}
