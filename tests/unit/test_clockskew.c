/*
 * test_clockskew.c - clock-skew adjustment (Jaeger's adjuster).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "clockskew.h"
#include "err.h"

typedef struct fixture {
	cm_attr host[2];
	cm_resource res[2];
	cm_event ev;
	cm_span spans[4];
	cm_batch t;
	qry_span_warnings warn[4];
} fixture;

/* Host A: root [0,100]. Host B: server child [150,170] with its own child [155,160]
 * and an event at 165. Host A: a second child [10,20] on the root's host. */
static void
build(fixture *f)
{
	memset(f, 0, sizeof *f);
	f->host[0] = (cm_attr){ CM_STR("host.name"), { .type = CM_VAL_STR, .u.s = CM_STR("a") } };
	f->host[1] = (cm_attr){ CM_STR("host.name"), { .type = CM_VAL_STR, .u.s = CM_STR("b") } };
	f->res[0] = (cm_resource){ CM_STR("front"), { &f->host[0], 1, 0 } };
	f->res[1] = (cm_resource){ CM_STR("back"), { &f->host[1], 1, 0 } };
	for (int i = 0; i < 4; i++)
		f->spans[i].span_id.b[7] = (uint8_t)(i + 1);
	f->spans[0].start_ns = 0, f->spans[0].end_ns = 100, f->spans[0].resource = 0;
	f->spans[1].start_ns = 150, f->spans[1].end_ns = 170, f->spans[1].resource = 1;
	f->spans[1].parent_span_id.b[7] = 1;
	f->ev.time_ns = 165;
	f->spans[1].events = &f->ev;
	f->spans[1].nevents = 1;
	f->spans[2].start_ns = 155, f->spans[2].end_ns = 160, f->spans[2].resource = 1;
	f->spans[2].parent_span_id.b[7] = 2;
	f->spans[3].start_ns = 10, f->spans[3].end_ns = 20, f->spans[3].resource = 0;
	f->spans[3].parent_span_id.b[7] = 1;
	f->t = (cm_batch){ .resources = f->res, .nresources = 2, .spans = f->spans, .nspans = 4 };
}

static void
cross_host_children_are_centered_with_their_subtree(void **state)
{
	fixture f;
	(void)state;
	build(&f);
	assert_int_equal(qry_clock_skew_adjust(&f.t, 1000, f.warn), CM_OK);
	/* latency (100-20)/2 = 40: the child starts at 40, a shift of -110 */
	assert_int_equal(f.spans[1].start_ns, 40);
	assert_int_equal(f.spans[1].end_ns, 60);
	assert_int_equal(f.ev.time_ns, 55);
	assert_int_equal(f.spans[2].start_ns, 45); /* same host as its parent: same shift */
	assert_int_equal(f.spans[3].start_ns, 10); /* root's host: untouched */
	assert_int_equal(f.warn[1].n, 1);
	assert_string_equal(f.warn[1].text[0], "This span's timestamps were adjusted by -110ns");
	assert_int_equal(f.warn[2].n, 1);
	assert_int_equal(f.warn[0].n + f.warn[3].n, 0);
}

static void
shifts_over_the_bound_are_refused_and_zero_disables(void **state)
{
	fixture f;
	(void)state;
	build(&f);
	assert_int_equal(qry_clock_skew_adjust(&f.t, 50, f.warn), CM_OK);
	assert_int_equal(f.spans[1].start_ns, 150);
	assert_string_equal(f.warn[1].text[0],
	    "max clock skew adjustment delta of 50ns exceeded; not applying calculated delta of -110ns");
	build(&f);
	assert_int_equal(qry_clock_skew_adjust(&f.t, 0, f.warn), CM_OK);
	assert_int_equal(f.spans[1].start_ns, 150);
	assert_string_equal(f.warn[1].text[0], "clock skew adjustment disabled; not applying calculated delta of -110ns");
}

static void
children_inside_or_longer_than_the_parent_stay(void **state)
{
	fixture f;
	(void)state;
	build(&f);
	f.spans[1].start_ns = 30, f.spans[1].end_ns = 70; /* inside */
	f.spans[2].start_ns = 35, f.spans[2].end_ns = 40;
	assert_int_equal(qry_clock_skew_adjust(&f.t, 1000, f.warn), CM_OK);
	assert_int_equal(f.spans[1].start_ns, 30);
	build(&f);
	f.spans[1].start_ns = 150, f.spans[1].end_ns = 400; /* longer than the parent */
	assert_int_equal(qry_clock_skew_adjust(&f.t, 1000, f.warn), CM_OK);
	assert_int_equal(f.spans[1].start_ns, 150);
	assert_int_equal(f.warn[1].n, 0);
}

static void
orphans_are_warned(void **state)
{
	fixture f;
	(void)state;
	build(&f);
	f.spans[1].parent_span_id.b[7] = 9;
	assert_int_equal(qry_clock_skew_adjust(&f.t, 1000, f.warn), CM_OK);
	assert_string_equal(f.warn[1].text[0], "invalid parent span IDs=0000000000000009; skipping clock skew adjustment");
	assert_int_equal(f.spans[1].start_ns, 150);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cross_host_children_are_centered_with_their_subtree),
		cmocka_unit_test(shifts_over_the_bound_are_refused_and_zero_disables),
		cmocka_unit_test(children_inside_or_longer_than_the_parent_stay),
		cmocka_unit_test(orphans_are_warned),
	};
	return cmocka_run_group_tests_name("clockskew", tests, NULL, NULL);
}
