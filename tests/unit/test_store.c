/*
 * test_store.c - the RocksDB store: write, read a trace, idempotence,
 * services and operations, and a secondary following its primary.
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

typedef struct fixture {
	char dir[256];
	st_store *store;
} fixture;

static int
rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

static int
setup(void **state)
{
	fixture *f = calloc(1, sizeof *f);
	st_options o = { 0 };
	char err[256];
	snprintf(f->dir, sizeof f->dir, "/tmp/weft-store-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	o.data_dir = f->dir;
	if (st_store_open(&o, &f->store, err, sizeof err) != CM_OK) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture *f = *state;
	st_store_close(f->store);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* Two resources, one scope, n spans of trace `tid` starting at base+i*10 in reverse order. */
typedef struct sample {
	cm_resource res[2];
	cm_scope scope;
	cm_span spans[8];
	cm_attr attr;
	cm_batch b;
} sample;

static void
make_sample(sample *s, uint8_t tid, uint32_t n)
{
	memset(s, 0, sizeof *s);
	s->res[0].service = CM_STR("frontend");
	s->res[1].service = CM_STR("backend");
	s->attr = (cm_attr){ CM_STR("k"), { .type = CM_VAL_STR, .u.s = CM_STR("v") } };
	s->res[1].attrs = (cm_attrs){ &s->attr, 1, 0 };
	s->scope.name = CM_STR("lib");
	for (uint32_t i = 0; i < n; i++) {
		cm_span *sp = &s->spans[n - 1 - i];
		memset(sp->trace_id.b, tid, 16);
		sp->span_id.b[0] = (uint8_t)(i + 1);
		if (i > 0)
			sp->parent_span_id.b[0] = 1;
		sp->start_ns = 1000 + i * 10;
		sp->end_ns = sp->start_ns + 5;
		sp->name = i ? CM_STR("GET /item") : CM_STR("GET /");
		sp->kind = i ? CM_KIND_CLIENT : CM_KIND_SERVER;
		sp->resource = i % 2;
		sp->attrs = (cm_attrs){ &s->attr, 1, 0 };
	}
	s->b.resources = s->res;
	s->b.nresources = 2;
	s->b.scopes = &s->scope;
	s->b.nscopes = 1;
	s->b.spans = s->spans;
	s->b.nspans = n;
}

static void
trace_reads_back_in_start_order(void **state)
{
	fixture *f = *state;
	sample s;
	cm_batch t;
	cm_trace_id id;

	make_sample(&s, 0x42, 5);
	assert_int_equal(st_store_write(f->store, &s.b), CM_OK);
	memset(id.b, 0x42, 16);
	cm_batch_init(&t);
	assert_int_equal(st_trace_get(f->store, &id, &t), CM_OK);
	assert_int_equal(t.nspans, 5);
	for (uint32_t i = 0; i < 5; i++) {
		const cm_span *sp = &t.spans[i];
		assert_int_equal(sp->start_ns, 1000 + i * 10);
		assert_int_equal(sp->span_id.b[0], i + 1);
		assert_true(cm_str_eq(t.resources[sp->resource].service, i % 2 ? "backend" : "frontend"));
		assert_true(cm_str_eq(t.scopes[sp->scope].name, "lib"));
		assert_int_equal(sp->attrs.n, 1);
		assert_true(cm_str_eq(sp->attrs.v[0].val.u.s, "v"));
	}
	assert_int_equal(t.nresources, 2);
	cm_batch_fini(&t);
}

static void
rewriting_a_batch_stores_each_span_once(void **state)
{
	fixture *f = *state;
	sample s;
	cm_batch t;
	cm_trace_id id;

	make_sample(&s, 0x43, 4);
	assert_int_equal(st_store_write(f->store, &s.b), CM_OK);
	assert_int_equal(st_store_write(f->store, &s.b), CM_OK);
	memset(id.b, 0x43, 16);
	cm_batch_init(&t);
	assert_int_equal(st_trace_get(f->store, &id, &t), CM_OK);
	assert_int_equal(t.nspans, 4);
	cm_batch_fini(&t);
}

static void
traces_do_not_bleed_into_each_other(void **state)
{
	fixture *f = *state;
	sample a, b;
	cm_batch t;
	cm_trace_id id;

	make_sample(&a, 0x50, 3);
	make_sample(&b, 0x51, 2);
	assert_int_equal(st_store_write(f->store, &a.b), CM_OK);
	assert_int_equal(st_store_write(f->store, &b.b), CM_OK);
	memset(id.b, 0x51, 16);
	cm_batch_init(&t);
	assert_int_equal(st_trace_get(f->store, &id, &t), CM_OK);
	assert_int_equal(t.nspans, 2);
	cm_batch_fini(&t);
	memset(id.b, 0x52, 16);
	cm_batch_init(&t);
	assert_int_equal(st_trace_get(f->store, &id, &t), CM_ENOENT);
	cm_batch_fini(&t);
}

static void
services_and_operations_are_listed(void **state)
{
	fixture *f = *state;
	sample s;
	st_strlist l;
	st_oplist ops;

	make_sample(&s, 0x60, 3);
	assert_int_equal(st_store_write(f->store, &s.b), CM_OK);
	assert_int_equal(st_services(f->store, &l), CM_OK);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0], "backend");
	assert_string_equal(l.v[1], "frontend");
	st_strlist_fini(&l);
	assert_int_equal(st_operations(f->store, "frontend", &ops), CM_OK);
	assert_int_equal(ops.n, 2); /* GET / (server) and GET /item (client, span 3) */
	assert_string_equal(ops.v[0].name, "GET /");
	assert_int_equal(ops.v[0].kind, CM_KIND_SERVER);
	assert_string_equal(ops.v[1].name, "GET /item");
	assert_int_equal(ops.v[1].kind, CM_KIND_CLIENT);
	st_oplist_fini(&ops);
	assert_int_equal(st_operations(f->store, "front", &ops), CM_OK);
	assert_int_equal(ops.n, 0); /* a prefix of a service name is not that service */
	st_oplist_fini(&ops);
}

static void
secondary_sees_writes_after_catching_up(void **state)
{
	fixture *f = *state;
	st_options o = { .data_dir = f->dir, .secondary = true };
	st_store *sec;
	sample s;
	cm_batch t;
	cm_trace_id id;
	char err[256];

	assert_int_equal(st_store_open(&o, &sec, err, sizeof err), CM_OK);
	make_sample(&s, 0x70, 2);
	assert_int_equal(st_store_write(f->store, &s.b), CM_OK);
	memset(id.b, 0x70, 16);
	assert_int_equal(st_store_catch_up(sec), CM_OK);
	cm_batch_init(&t);
	assert_int_equal(st_trace_get(sec, &id, &t), CM_OK);
	assert_int_equal(t.nspans, 2);
	cm_batch_fini(&t);
	assert_int_equal(st_store_write(sec, &s.b), CM_EINVAL);
	st_store_close(sec);
}

static void
secondary_without_primary_is_enoent(void **state)
{
	st_options o = { .data_dir = "/tmp/weft-no-such-store", .secondary = true };
	st_store *sec = NULL;
	char err[256];
	(void)state;
	assert_int_equal(st_store_open(&o, &sec, err, sizeof err), CM_ENOENT);
	assert_null(sec);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(trace_reads_back_in_start_order, setup, teardown),
		cmocka_unit_test_setup_teardown(rewriting_a_batch_stores_each_span_once, setup, teardown),
		cmocka_unit_test_setup_teardown(traces_do_not_bleed_into_each_other, setup, teardown),
		cmocka_unit_test_setup_teardown(services_and_operations_are_listed, setup, teardown),
		cmocka_unit_test_setup_teardown(secondary_sees_writes_after_catching_up, setup, teardown),
		cmocka_unit_test(secondary_without_primary_is_enoent),
	};
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
