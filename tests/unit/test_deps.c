/*
 * test_deps.c - service dependencies maintained at ingest: children before
 * or after their parents, resends, same-service calls, restarts, windows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "store.h"

static const uint64_t T0 = 1700000000000000000u;

/* write_span() with the span starting `hours` hours after T0. */
static void
write_span_at(st_store *st, const char *service, uint8_t trace, uint8_t id, uint8_t parent, uint64_t hours)
{
	cm_resource res = { cm_str_from(service), { NULL, 0, 0 } };
	cm_scope scope = { CM_STR("lib"), CM_STR(""), { NULL, 0, 0 } };
	cm_span sp;
	cm_batch b = { .resources = &res, .nresources = 1, .scopes = &scope, .nscopes = 1, .spans = &sp, .nspans = 1 };
	memset(&sp, 0, sizeof sp);
	memset(sp.trace_id.b, trace, 16);
	sp.span_id.b[7] = id;
	sp.parent_span_id.b[7] = parent;
	sp.name = CM_STR("op");
	sp.start_ns = T0 + id + hours * 3600000000000u;
	sp.end_ns = sp.start_ns + 1000;
	assert_int_equal(st_store_write(st, &b), CM_OK);
}

/* Writes one span (its own batch) of `service`, id `id`, parent `parent` (0: root), in trace `trace`. */
static void
write_span(st_store *st, const char *service, uint8_t trace, uint8_t id, uint8_t parent)
{
	write_span_at(st, service, trace, id, parent, 0);
}

static uint64_t
calls(st_store *st, const char *parent, const char *child, uint64_t from, uint64_t to)
{
	st_deplist l;
	uint64_t n = 0;
	assert_int_equal(st_dependencies(st, from, to, &l), CM_OK);
	for (size_t i = 0; i < l.n; i++)
		if (strcmp(l.v[i].parent, parent) == 0 && strcmp(l.v[i].child, child) == 0)
			n = l.v[i].calls;
	st_deplist_fini(&l);
	return n;
}

static int
rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

/* Opens a primary store in a new directory made from dir (a mkdtemp template); o keeps its options. */
static st_store *
open_new_store(char *dir, st_options *o)
{
	char err[256];
	st_store *st;

	assert_non_null(mkdtemp(dir));
	memset(o, 0, sizeof *o);
	o->data_dir = dir;
	assert_int_equal(st_store_open(o, &st, err, sizeof err), CM_OK);
	return st;
}

static void
edges_are_counted_once_in_any_arrival_order_and_survive_restarts(void **state)
{
	char dir[] = "/tmp/weft-deps-XXXXXX", err[256];
	st_options o;
	st_store *st = open_new_store(dir, &o);
	(void)state;

	write_span(st, "cart", 1, 2, 1);     /* the child first, as usually happens */
	write_span(st, "frontend", 1, 1, 0); /* then its parent */
	write_span(st, "frontend", 2, 1, 0); /* the parent first */
	write_span(st, "mail", 2, 2, 1);
	write_span(st, "cart", 1, 2, 1);     /* a resent batch counts nothing */
	write_span(st, "frontend", 3, 1, 0);
	write_span(st, "frontend", 3, 2, 1); /* a call within one service is no edge */
	assert_int_equal(calls(st, "frontend", "cart", T0, T0 + 1), 1);
	assert_int_equal(calls(st, "frontend", "mail", T0, T0 + 1), 1);
	assert_int_equal(calls(st, "frontend", "frontend", T0, T0 + 1), 0);
	/* several children wait for one parent; each counts once it comes */
	write_span(st, "cart", 5, 2, 1);
	write_span(st, "mail", 5, 3, 1);
	write_span(st, "frontend", 5, 4, 1);
	write_span(st, "cart", 5, 5, 4); /* waits for a parent of another service that is itself a child */
	assert_int_equal(calls(st, "frontend", "cart", T0, T0 + 1), 2);
	write_span(st, "frontend", 5, 1, 0);
	assert_int_equal(calls(st, "frontend", "cart", T0, T0 + 1), 3);
	assert_int_equal(calls(st, "frontend", "mail", T0, T0 + 1), 2);
	assert_int_equal(calls(st, "frontend", "frontend", T0, T0 + 1), 0);
	/* hours that do not overlap the spans' */
	assert_int_equal(calls(st, "frontend", "cart", T0 + 7200000000000u, T0 + 9000000000000u), 0);

	/* the totals go on after a restart of the store */
	st_store_close(st);
	assert_int_equal(st_store_open(&o, &st, err, sizeof err), CM_OK);
	write_span(st, "frontend", 4, 1, 0);
	write_span(st, "cart", 4, 2, 1);
	assert_int_equal(calls(st, "frontend", "cart", T0, T0 + 1), 4);

	/* a secondary (the query daemon) reads the same totals */
	st_options so = { .data_dir = dir, .secondary = true };
	st_store *sec;
	assert_int_equal(st_store_open(&so, &sec, err, sizeof err), CM_OK);
	assert_int_equal(calls(sec, "frontend", "cart", T0, T0 + 1), 4);
	st_store_close(sec);

	st_store_close(st);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * Hundreds of edges over several hours: the resolver keeps the last three
 * hours' totals in memory, indexed; an older hour's late span reloads its
 * edge's total from the store and adds to it.
 */
static void
many_edges_over_hours_keep_their_totals(void **state)
{
	char dir[] = "/tmp/weft-deps-XXXXXX", parent[16], child[16];
	st_options o;
	st_store *st = open_new_store(dir, &o);
	(void)state;

	for (int round = 0; round < 2; round++) {
		for (uint64_t hour = 0; hour < 6; hour += 5) /* hour 5 pushes hour 0 out of memory */
			for (int rep = 0; rep < 2; rep++) /* the second call of each edge finds the first's */
				for (int e = 0; e < 150; e++) {
					uint8_t trace = (uint8_t)(e + 1), id = (uint8_t)(2 + 2 * rep + 4 * round + 10 * hour);
					snprintf(parent, sizeof parent, "p%d", e % 15);
					snprintf(child, sizeof child, "c%d", e / 15);
					write_span_at(st, parent, trace, id, 0, hour);
					write_span_at(st, child, trace, (uint8_t)(id + 1), id, hour);
				}
		assert_int_equal(st_store_write_deps(st), CM_OK); /* written, and hour 0 forgotten */
	}
	assert_int_equal(calls(st, "p3", "c7", T0, T0 + 1), 4);
	assert_int_equal(calls(st, "p14", "c9", T0 + 5 * 3600000000000u, T0 + 5 * 3600000000000u + 1), 4);
	assert_int_equal(calls(st, "p0", "c0", T0, T0 + 6 * 3600000000000u), 8);
	st_store_close(st);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(edges_are_counted_once_in_any_arrival_order_and_survive_restarts),
		cmocka_unit_test(many_edges_over_hours_keep_their_totals),
	};
	return cmocka_run_group_tests_name("deps", tests, NULL, NULL);
}
