/*
 * test_critpath.c - critical path (Jaeger UI's algorithm) and breakdown.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "breakdown.h"
#include "critpath.h"
#include "err.h"

static qry_tree_span
sp(uint8_t id, uint8_t parent, uint64_t start, uint64_t end, uint8_t kind)
{
	qry_tree_span s;
	memset(&s, 0, sizeof s);
	s.id.b[7] = id;
	s.parent.b[7] = parent;
	s.start = start;
	s.end = end;
	s.kind = kind;
	return s;
}

/* Expects sections as triples (span id byte, start, end). */
static void
expect(const qry_tree_span *in, uint32_t n, const uint64_t (*want)[3], uint32_t nwant)
{
	qry_critical_path cp;
	assert_int_equal(qry_critical_path_compute(in, n, &cp), CM_OK);
	for (uint32_t i = 0; i < cp.n && i < nwant; i++) {
		assert_int_equal(in[cp.v[i].span].id.b[7], want[i][0]);
		assert_int_equal(cp.v[i].start, want[i][1]);
		assert_int_equal(cp.v[i].end, want[i][2]);
	}
	assert_int_equal(cp.n, nwant);
	qry_critical_path_fini(&cp);
}

static void
sequential_children_alternate_with_the_parent(void **state)
{
	qry_tree_span in[] = { sp(1, 0, 0, 100, CM_KIND_SERVER), sp(2, 1, 10, 40, CM_KIND_CLIENT),
		sp(3, 1, 50, 90, CM_KIND_CLIENT) };
	const uint64_t want[][3] = { { 1, 0, 10 }, { 2, 10, 40 }, { 1, 40, 50 }, { 3, 50, 90 }, { 1, 90, 100 } };
	(void)state;
	expect(in, 3, want, 5);
}

static void
only_the_last_finishing_of_overlapping_children_counts(void **state)
{
	qry_tree_span in[] = { sp(1, 0, 0, 100, 2), sp(2, 1, 10, 60, 3), sp(3, 1, 20, 50, 3),
		sp(4, 2, 15, 55, 2) };
	/* root -> A(2) last finishing; inside A, child 4 [15,55]; B(3) is hidden behind A */
	const uint64_t want[][3] = { { 1, 0, 10 }, { 2, 10, 15 }, { 4, 15, 55 }, { 2, 55, 60 }, { 1, 60, 100 } };
	(void)state;
	expect(in, 4, want, 5);
}

static void
overflowing_children_are_clipped_and_outsiders_dropped(void **state)
{
	qry_tree_span in[] = { sp(1, 0, 0, 100, 2), sp(2, 1, 50, 150, 3), sp(3, 1, 200, 300, 3) };
	const uint64_t want[][3] = { { 1, 0, 50 }, { 2, 50, 100 } };
	(void)state;
	expect(in, 3, want, 2);
}

static void
consumers_of_a_producer_do_not_block_it(void **state)
{
	qry_tree_span in[] = { sp(1, 0, 0, 100, CM_KIND_PRODUCER), sp(2, 1, 5, 80, CM_KIND_CONSUMER) };
	const uint64_t want[][3] = { { 1, 0, 100 } };
	(void)state;
	expect(in, 2, want, 1);
}

static void
empty_and_deep_traces_work(void **state)
{
	enum { N = 50000 };
	static qry_tree_span deep[N];
	qry_critical_path cp;
	(void)state;
	assert_int_equal(qry_critical_path_compute(NULL, 0, &cp), CM_OK);
	assert_int_equal(cp.n, 0);
	for (uint32_t i = 0; i < N; i++) {
		memset(&deep[i], 0, sizeof deep[i]);
		memcpy(deep[i].id.b, &(uint64_t){ i + 1 }, 8);
		if (i)
			memcpy(deep[i].parent.b, &(uint64_t){ i }, 8);
		deep[i].start = i;
		deep[i].end = 2 * (uint64_t)N - i;
	}
	assert_int_equal(qry_critical_path_compute(deep, N, &cp), CM_OK);
	assert_int_equal(cp.n, 2 * N - 1); /* each span owns its start and end margins, the leaf its middle */
	qry_critical_path_fini(&cp);
}

static void
breakdown_counts_self_time_once_for_overlapping_children(void **state)
{
	cm_resource res[2] = { { CM_STR("a"), { NULL, 0, 0 } }, { CM_STR("b"), { NULL, 0, 0 } } };
	cm_span spans[3];
	cm_batch t = { .resources = res, .nresources = 2, .spans = spans, .nspans = 3 };
	qry_breakdown bd;
	(void)state;
	memset(spans, 0, sizeof spans);
	for (int i = 0; i < 3; i++)
		spans[i].span_id.b[7] = (uint8_t)(i + 1);
	spans[0] = (cm_span){ .span_id = spans[0].span_id, .name = CM_STR("GET /"), .start_ns = 0, .end_ns = 100, .resource = 0 };
	spans[1] = (cm_span){ .span_id = spans[1].span_id, .name = CM_STR("q"), .start_ns = 10, .end_ns = 40, .resource = 1 };
	spans[2] = (cm_span){ .span_id = spans[2].span_id, .name = CM_STR("q"), .start_ns = 30, .end_ns = 60, .resource = 1 };
	spans[1].parent_span_id.b[7] = 1;
	spans[2].parent_span_id.b[7] = 1;
	assert_int_equal(qry_breakdown_compute(&t, &bd), CM_OK);
	assert_int_equal(bd.nservices, 2);
	assert_true(cm_str_eq(bd.services[0].service, "b")); /* self 60 > 50 */
	assert_int_equal(bd.services[0].count, 2);
	assert_int_equal(bd.services[0].total, 60);
	assert_int_equal(bd.services[0].self_total, 60);
	assert_int_equal(bd.services[0].min, 30);
	assert_true(bd.services[0].self_share > 0.599 && bd.services[0].self_share < 0.601);
	assert_true(cm_str_eq(bd.services[1].service, "a"));
	assert_int_equal(bd.services[1].self_total, 50); /* 100 - union([10,40],[30,60]) */
	assert_int_equal(bd.noperations, 2);
	assert_true(cm_str_eq(bd.operations[0].operation, "q"));
	qry_breakdown_fini(&bd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sequential_children_alternate_with_the_parent),
		cmocka_unit_test(only_the_last_finishing_of_overlapping_children_counts),
		cmocka_unit_test(overflowing_children_are_clipped_and_outsiders_dropped),
		cmocka_unit_test(consumers_of_a_producer_do_not_block_it),
		cmocka_unit_test(empty_and_deep_traces_work),
		cmocka_unit_test(breakdown_counts_self_time_once_for_overlapping_children),
	};
	return cmocka_run_group_tests_name("critpath", tests, NULL, NULL);
}
