/*
 * test_spantree.c - span tree order, orphans, duplicates, cycles.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "err.h"
#include "spantree.h"

static qry_tree_span
node(uint8_t id, uint8_t parent, uint64_t start)
{
	qry_tree_span s;
	memset(&s, 0, sizeof s);
	s.id.b[7] = id;
	s.parent.b[7] = parent;
	s.start = start;
	s.end = start + 100;
	return s;
}

/* Checks the display order as ids and depths. */
static void
expect(const qry_tree_span *in, uint32_t n, const uint8_t *ids, const uint32_t *depths, uint32_t rows)
{
	qry_tree t;
	assert_int_equal(qry_tree_build(in, n, &t), CM_OK);
	assert_int_equal(t.nrows, rows);
	for (uint32_t i = 0; i < rows; i++) {
		assert_int_equal(in[t.rows[i].span].id.b[7], ids[i]);
		assert_int_equal(t.rows[i].depth, depths[i]);
		if (depths[i] > 0)
			assert_int_equal(t.rows[t.rows[i].parent].depth, depths[i] - 1);
	}
	qry_tree_fini(&t);
}

static void
children_follow_parents_in_start_order(void **state)
{
	/* 1 -> (3 @20, 2 @10), 2 -> 4; given shuffled */
	qry_tree_span in[] = { node(3, 1, 20), node(4, 2, 15), node(1, 0, 0), node(2, 1, 10) };
	uint8_t ids[] = { 1, 2, 4, 3 };
	uint32_t depths[] = { 0, 1, 2, 1 };
	(void)state;
	expect(in, 4, ids, depths, 4);
}

static void
orphans_become_roots(void **state)
{
	qry_tree_span in[] = { node(1, 0, 0), node(2, 9, 5), node(3, 2, 6) };
	uint8_t ids[] = { 1, 2, 3 };
	uint32_t depths[] = { 0, 0, 1 };
	qry_tree t;
	(void)state;
	expect(in, 3, ids, depths, 3);
	qry_tree_build(in, 3, &t);
	assert_int_equal(t.orphans, 1);
	qry_tree_fini(&t);
}

static void
duplicates_are_shown_once(void **state)
{
	qry_tree_span in[] = { node(1, 0, 0), node(2, 1, 5), node(2, 1, 5), node(3, 2, 6) };
	uint8_t ids[] = { 1, 2, 3 };
	uint32_t depths[] = { 0, 1, 2 };
	qry_tree t;
	(void)state;
	expect(in, 4, ids, depths, 3);
	qry_tree_build(in, 4, &t);
	assert_int_equal(t.duplicates, 1);
	qry_tree_fini(&t);
}

static void
cycles_and_self_parents_do_not_hang(void **state)
{
	qry_tree_span in[] = { node(1, 2, 0), node(2, 1, 5), node(3, 3, 7) };
	qry_tree t;
	(void)state;
	assert_int_equal(qry_tree_build(in, 3, &t), CM_OK);
	assert_int_equal(t.nrows, 3); /* every span shown exactly once */
	qry_tree_fini(&t);
}

static void
empty_trace_has_no_rows(void **state)
{
	qry_tree t;
	(void)state;
	assert_int_equal(qry_tree_build(NULL, 0, &t), CM_OK);
	assert_int_equal(t.nrows, 0);
	qry_tree_fini(&t);
}

static void
deep_chains_do_not_overflow_the_stack(void **state)
{
	enum { N = 100000 };
	static qry_tree_span in[N];
	qry_tree t;
	(void)state;
	for (uint32_t i = 0; i < N; i++) {
		memset(&in[i], 0, sizeof in[i]);
		memcpy(in[i].id.b, &(uint64_t){ i + 1 }, 8);
		if (i > 0)
			memcpy(in[i].parent.b, &(uint64_t){ i }, 8);
		in[i].start = i;
	}
	assert_int_equal(qry_tree_build(in, N, &t), CM_OK);
	assert_int_equal(t.nrows, N);
	assert_int_equal(t.rows[N - 1].depth, N - 1);
	qry_tree_fini(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(children_follow_parents_in_start_order),
		cmocka_unit_test(orphans_become_roots),
		cmocka_unit_test(duplicates_are_shown_once),
		cmocka_unit_test(cycles_and_self_parents_do_not_hang),
		cmocka_unit_test(empty_trace_has_no_rows),
		cmocka_unit_test(deep_chains_do_not_overflow_the_stack),
	};
	return cmocka_run_group_tests_name("spantree", tests, NULL, NULL);
}
