/*
 * test_storage_decode.c - the storage's own decoders meet damaged values:
 * span block heads (keys.h) and attribute postings (tags.h) are refused or
 * read up to the damage, never past the buffer; tag text is what Jaeger's
 * tag search compares.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "err.h"
#include "keys.h"
#include "tags.h"

static void
block_heads_are_checked(void **state)
{
	size_t sum_len, off;
	(void)state;
	/* version 2, a 3-byte summary, then spans */
	static const char ok[] = { 2, 0, 0, 0, 3, 'a', 'b', 'c', (char)0x90 };
	assert_int_equal(st_block_split(ok, sizeof ok, &sum_len, &off), CM_OK);
	assert_int_equal(sum_len, 3);
	assert_int_equal(off, 8);

	static const char v1[] = { 1, (char)0x90 };
	assert_int_equal(st_block_split(v1, sizeof v1, &sum_len, NULL), CM_EVERSION);
	assert_int_equal(st_block_split(ok, 0, &sum_len, NULL), CM_EVERSION);
	assert_int_equal(st_block_split(ok, 4, &sum_len, NULL), CM_EPROTO); /* head cut short */
	static const char too_long[] = { 2, 0, 0, 0, 9, 'a' };
	assert_int_equal(st_block_split(too_long, sizeof too_long, &sum_len, NULL), CM_EPROTO);
	static const char huge[] = { 2, (char)0xff, (char)0xff, (char)0xff, (char)0xff };
	assert_int_equal(st_block_split(huge, sizeof huge, &sum_len, NULL), CM_EPROTO);
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
	/* (delta lo, trace): lo 5 in traces 1 and 3, lo 300 in trace 2 */
	static const char val[] = { 5, 1, 0, 3, (char)0xa7, 2, 2 };
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
	v = (cm_value){ .type = CM_VAL_DOUBLE, .u.d = 0.1 };
	assert_true(st_tag_text(&v, buf, &t) && cm_str_eq(t, "0.1"));
	v = (cm_value){ .type = CM_VAL_BOOL, .u.b = false };
	assert_true(st_tag_text(&v, buf, &t) && cm_str_eq(t, "false"));
	v = (cm_value){ .type = CM_VAL_BYTES };
	assert_false(st_tag_text(&v, buf, &t));
	/* the key/value boundary is part of the hash */
	assert_true(st_tag_hash(CM_STR("a"), CM_STR("bc")) != st_tag_hash(CM_STR("ab"), CM_STR("c")));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(block_heads_are_checked),
		cmocka_unit_test(postings_are_read_up_to_the_damage),
		cmocka_unit_test(tag_text_is_what_jaeger_compares),
	};
	return cmocka_run_group_tests_name("storage decode", tests, NULL, NULL);
}
