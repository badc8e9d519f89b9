/*
 * test_store.c - the RocksDB store: write, read a trace, attribute keys
 * whose symbols come from the last span of their resource, idempotence,
 * services and operations, a secondary following its primary, names kept
 * as symbols across restarts and past a full table, frequent values as
 * symbols and unique ones inline, another layout
 * refused, damaged index entries skipped by search and damaged span blocks
 * read as damage, and retention by time partitions under a fake clock.
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

#include <rocksdb/c.h>

#include "err.h"
#include "store.h"
#include "store_int.h"

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

/* The spans a read of trace `tid` returns. */
static uint32_t
spans_read(st_store *s, uint8_t tid)
{
	cm_batch t;
	cm_trace_id id;
	uint32_t n;
	memset(id.b, tid, 16);
	cm_batch_init(&t);
	assert_int_equal(st_trace_get(s, &id, &t), CM_OK);
	n = t.nspans;
	cm_batch_fini(&t);
	return n;
}

/* The span count trace `tid`'s summary gives. */
static uint32_t
summary_spans(st_store *s, uint8_t tid)
{
	st_summary sum;
	cm_trace_id id;
	uint32_t n;
	memset(id.b, tid, 16);
	assert_int_equal(st_trace_summary(s, &id, &sum), CM_OK);
	n = sum.spans;
	st_summary_fini(&sum);
	return n;
}

enum { MEMO_SPANS = 8, MEMO_KEYS = 20 };

/* How many keys a key set of the test below has: up to its first NULL. */
static uint32_t
memo_key_count(const char *const keys[MEMO_KEYS])
{
	uint32_t n = 0;
	while (n < MEMO_KEYS && keys[n] != NULL)
		n++;
	return n;
}

/*
 * The encoder takes a key's symbol from the key at the same place in the
 * last span of the same resource when the two are the same text: keys
 * that swap places, differ in length, differ in one byte within 8-16
 * bytes or past 16, or stand past the memo's first 16 places, and spans
 * of another resource in between, all read back as they were written.
 */
static void
keys_read_back_whatever_the_last_span_of_their_resource_set(void **state)
{
	static const char *const keys[MEMO_SPANS][MEMO_KEYS] = {
		{ "a", "b", "c" },
		{ "a", "c", "b" },
		{ "a", "bb", "b" },
		{ "http.request.method", "abcdefghij", "k17_______________" },
		{ "http.request.methoe", "abcdXfghij", "k17_______________" },
		{ "http.request.methoe", "abcdXfghij", "k17______________x" },
		{ "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9", "k10", "k11", "k12", "k13", "k14", "k15",
		    "k16", "k17", "k18", "k19" },
		{ "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9", "k10", "k11", "k12", "k13", "k14", "k15",
		    "k16", "kX", "k18", "k19" },
	};
	fixture *f = *state;
	cm_resource res[2] = { { .service = CM_STR("one") }, { .service = CM_STR("two") } };
	cm_scope scope = { .name = CM_STR("lib") };
	cm_span spans[2 * MEMO_SPANS];
	cm_attr attrs[MEMO_SPANS][MEMO_KEYS];
	cm_batch b = { .resources = res, .nresources = 2, .scopes = &scope, .nscopes = 1, .spans = spans };
	cm_batch t;
	cm_trace_id id;

	for (uint32_t i = 0; i < MEMO_SPANS; i++)
		for (uint32_t a = 0; a < memo_key_count(keys[i]); a++)
			attrs[i][a] = (cm_attr){ cm_str_from(keys[i][a]), { .type = CM_VAL_INT, .u.i = a } };
	memset(spans, 0, sizeof spans);
	for (uint32_t k = 0; k < 2 * MEMO_SPANS; k++) {
		/* resources alternate; resource "two" sees the key sets in the opposite order */
		uint32_t r = k % 2, set = r ? MEMO_SPANS - 1 - k / 2 : k / 2;
		cm_span *sp = &spans[k];
		memset(sp->trace_id.b, 0x51, 16);
		sp->span_id.b[0] = (uint8_t)(k + 1);
		sp->start_ns = 1000 + 10 * k;
		sp->end_ns = sp->start_ns + 5;
		sp->name = CM_STR("op");
		sp->resource = r;
		sp->attrs = (cm_attrs){ attrs[set], memo_key_count(keys[set]), 0 };
	}
	b.nspans = 2 * MEMO_SPANS;
	assert_int_equal(st_store_write(f->store, &b), CM_OK);

	memset(id.b, 0x51, 16);
	cm_batch_init(&t);
	assert_int_equal(st_trace_get(f->store, &id, &t), CM_OK);
	assert_int_equal(t.nspans, 2 * MEMO_SPANS);
	for (uint32_t k = 0; k < t.nspans; k++) { /* in start order: as written */
		const cm_span *sp = &t.spans[k];
		uint32_t set = k % 2 ? MEMO_SPANS - 1 - k / 2 : k / 2;
		assert_int_equal(sp->attrs.n, memo_key_count(keys[set]));
		for (uint32_t a = 0; a < sp->attrs.n; a++) {
			assert_true(cm_str_eq(sp->attrs.v[a].key, keys[set][a]));
			assert_int_equal(sp->attrs.v[a].val.u.i, a);
		}
	}
	cm_batch_fini(&t);
}

/*
 * The symbol table remembers, within a write, what it found for a text by
 * the text's address (symbols.h). A later write may hold other texts at
 * the same addresses: its names and keys read back as it wrote them. The
 * test fails if that memo outlives its write.
 */
static void
texts_at_one_address_in_later_writes_read_back_as_written(void **state)
{
	static const char *const names[] = { "alpha", "omega", "alphx", "al" };
	fixture *f = *state;
	char name[8], key[8];
	cm_resource res = { .service = CM_STR("svc") };
	cm_scope scope = { .name = CM_STR("lib") };
	cm_attr attr;
	cm_span sp;
	cm_batch b = { .resources = &res, .nresources = 1, .scopes = &scope, .nscopes = 1, .spans = &sp, .nspans = 1 };
	cm_batch t;
	cm_trace_id id;

	for (uint32_t i = 0; i < 4; i++) {
		snprintf(name, sizeof name, "%s", names[i]);
		snprintf(key, sizeof key, "k.%s", names[i]);
		attr = (cm_attr){ cm_str_from(key), { .type = CM_VAL_INT, .u.i = i } };
		memset(&sp, 0, sizeof sp);
		memset(sp.trace_id.b, 0x60 + (int)i, 16);
		sp.span_id.b[0] = 1;
		sp.start_ns = 1000;
		sp.end_ns = 2000;
		sp.name = cm_str_from(name);
		sp.attrs = (cm_attrs){ &attr, 1, 0 };
		assert_int_equal(st_store_write(f->store, &b), CM_OK);
	}
	for (uint32_t i = 0; i < 4; i++) {
		snprintf(key, sizeof key, "k.%s", names[i]);
		memset(id.b, 0x60 + (int)i, 16);
		cm_batch_init(&t);
		assert_int_equal(st_trace_get(f->store, &id, &t), CM_OK);
		assert_int_equal(t.nspans, 1);
		assert_true(cm_str_eq(t.spans[0].name, names[i]));
		assert_int_equal(t.spans[0].attrs.n, 1);
		assert_true(cm_str_eq(t.spans[0].attrs.v[0].key, key));
		cm_batch_fini(&t);
	}
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

	make_sample(&s, 0x43, 4);
	assert_int_equal(st_store_write(f->store, &s.b), CM_OK);
	assert_int_equal(st_store_write(f->store, &s.b), CM_OK);
	assert_int_equal(spans_read(f->store, 0x43), 4);
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
	assert_int_equal(spans_read(f->store, 0x51), 2);
	memset(id.b, 0x52, 16);
	cm_batch_init(&t);
	assert_int_equal(st_trace_get(f->store, &id, &t), CM_ENOENT);
	cm_batch_fini(&t);
}

static int
count_ids(void *arg, const cm_trace_id *id)
{
	uint8_t *seen = arg;
	seen[id->b[0]]++;
	return CM_OK;
}

static int
stop_at_first(void *arg, const cm_trace_id *id)
{
	(void)arg, (void)id;
	return 7;
}

/* Every trace is listed once however many blocks it has; the table files are counted by family. */
static void
traces_are_listed_once_and_files_by_family(void **state)
{
	fixture *f = *state;
	sample a, b, c;
	uint8_t seen[256] = { 0 };
	st_family_bytes fb;

	make_sample(&a, 0x60, 3);
	make_sample(&b, 0x61, 2);
	make_sample(&c, 0x60, 4); /* the first trace again, in another write: more blocks */
	c.spans[0].start_ns = 5000;
	assert_int_equal(st_store_write(f->store, &a.b), CM_OK);
	assert_int_equal(st_store_write(f->store, &b.b), CM_OK);
	assert_int_equal(st_store_write(f->store, &c.b), CM_OK);
	assert_int_equal(st_trace_ids(f->store, count_ids, seen), CM_OK);
	assert_int_equal(seen[0x60], 1);
	assert_int_equal(seen[0x61], 1);
	assert_int_equal(st_trace_ids(f->store, stop_at_first, NULL), 7);

	assert_int_equal(st_store_family_bytes(f->store, &fb), CM_OK);
	assert_int_equal(fb.spans + fb.index, 0); /* all in memtables yet */
	assert_int_equal(st_store_compact(f->store), CM_OK);
	assert_int_equal(st_store_family_bytes(f->store, &fb), CM_OK);
	assert_true(fb.spans > 0 && fb.index > 0 && fb.meta > 0);
	assert_true(fb.spans + fb.index + fb.meta <= st_store_disk_bytes(f->store));
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

typedef struct seen_records {
	uint64_t seq[8];
	char data[8][8];
	size_t n;
} seen_records;

static int
collect_record(void *arg, uint64_t seq, const void *data, size_t len)
{
	seen_records *r = arg;
	assert_true(r->n < 8 && len < 8);
	r->seq[r->n] = seq;
	memcpy(r->data[r->n], data, len);
	r->data[r->n++][len] = '\0';
	return CM_OK;
}

/*
 * Records are numbered from 1 in the order staged, read back by number,
 * deleted by the write of their spans, and still staged after a reopen,
 * numbering going on; a secondary neither stages nor sees them.
 */
static void
staged_records_are_read_back_until_their_spans_are_written(void **state)
{
	fixture *f = *state;
	const st_record recs[] = { { "a", 1 }, { "bb", 2 }, { "ccc", 3 } };
	st_options o = { .data_dir = f->dir };
	seen_records seen = { 0 };
	uint64_t first, next;
	const cm_batch *b;
	st_store *sec;
	sample s;
	char err[256];

	assert_int_equal(st_staged_range(f->store, &first, &next), CM_OK);
	assert_int_equal(first, 1);
	assert_int_equal(next, 1);
	assert_int_equal(st_stage(f->store, recs, 3, &first), CM_OK);
	assert_int_equal(first, 1);
	assert_int_equal(st_staged_range(f->store, &first, &next), CM_OK);
	assert_int_equal(first, 1);
	assert_int_equal(next, 4);
	assert_int_equal(st_staged_each(f->store, 1, 4, collect_record, &seen), CM_OK);
	assert_int_equal(seen.n, 3);
	assert_int_equal(seen.seq[2], 3);
	assert_string_equal(seen.data[1], "bb");
	seen.n = 0;
	assert_int_equal(st_staged_each(f->store, 2, 3, collect_record, &seen), CM_OK);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.data[0], "bb");

	make_sample(&s, 0x71, 3);
	b = &s.b;
	assert_int_equal(st_store_write_staged(f->store, &b, 1, 1, 3), CM_OK);
	assert_int_equal(spans_read(f->store, 0x71), 3);
	assert_int_equal(st_staged_range(f->store, &first, &next), CM_OK);
	assert_int_equal(first, 3);
	assert_int_equal(next, 4);

	st_store_close(f->store);
	assert_int_equal(st_store_open(&o, &f->store, err, sizeof err), CM_OK);
	assert_int_equal(st_staged_range(f->store, &first, &next), CM_OK);
	assert_int_equal(first, 3);
	assert_int_equal(next, 4);
	assert_int_equal(st_stage(f->store, recs, 1, &first), CM_OK);
	assert_int_equal(first, 4);
	seen.n = 0;
	assert_int_equal(st_staged_each(f->store, 1, 100, collect_record, &seen), CM_OK);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.data[0], "ccc");
	assert_string_equal(seen.data[1], "a");

	o.secondary = true;
	assert_int_equal(st_store_open(&o, &sec, err, sizeof err), CM_OK);
	assert_int_equal(st_stage(sec, recs, 1, &first), CM_EINVAL);
	assert_int_equal(st_staged_range(sec, &first, &next), CM_EINVAL);
	assert_int_equal(spans_read(sec, 0x71), 3);
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

/*
 * A batch of one trace whose n spans are named "op-<first + i>"; with
 * values, each also has db.system=postgresql, user.id=u-<first + i> and
 * method=GET.
 */
static void
write_named(st_store *s, uint8_t tid, uint32_t first, uint32_t n, bool values)
{
	static cm_span spans[1000];
	static char names[1000][16], users[1000][16];
	static cm_attr attrs[1000][3];
	cm_resource res = { CM_STR("svc"), { 0 } };
	cm_scope scope = { CM_STR("lib"), CM_STR(""), { 0 } };
	cm_batch b = { .resources = &res, .nresources = 1, .scopes = &scope, .nscopes = 1, .spans = spans, .nspans = n };
	memset(spans, 0, sizeof spans);
	for (uint32_t i = 0; i < n; i++) {
		memset(spans[i].trace_id.b, tid, 16);
		spans[i].trace_id.b[0] = (uint8_t)(first >> 16);
		spans[i].trace_id.b[1] = (uint8_t)(first >> 8);
		memcpy(spans[i].span_id.b, &i, 4);
		spans[i].span_id.b[7] = 1;
		spans[i].start_ns = 1000 + i;
		spans[i].end_ns = 2000 + i;
		snprintf(names[i], sizeof names[i], "op-%u", first + i);
		spans[i].name = cm_str_from(names[i]);
		if (!values)
			continue;
		snprintf(users[i], sizeof users[i], "u-%u", first + i);
		attrs[i][0] = (cm_attr){ CM_STR("db.system"), { .type = CM_VAL_STR, .u.s = CM_STR("postgresql") } };
		attrs[i][1] = (cm_attr){ CM_STR("user.id"), { .type = CM_VAL_STR, .u.s = cm_str_from(users[i]) } };
		attrs[i][2] = (cm_attr){ CM_STR("method"), { .type = CM_VAL_STR, .u.s = CM_STR("GET") } };
		spans[i].attrs = (cm_attrs){ attrs[i], 3, 0 };
	}
	assert_int_equal(st_store_write(s, &b), CM_OK);
}

/* The names (and values) of write_named(tid, first, n, values) read back from s. */
static void
assert_named(st_store *s, uint8_t tid, uint32_t first, uint32_t n, bool values)
{
	cm_trace_id id;
	cm_batch t;
	char want[16];
	memset(id.b, tid, 16);
	id.b[0] = (uint8_t)(first >> 16);
	id.b[1] = (uint8_t)(first >> 8);
	cm_batch_init(&t);
	assert_int_equal(st_trace_get(s, &id, &t), CM_OK);
	assert_int_equal(t.nspans, n);
	for (uint32_t i = 0; i < n; i++) {
		const cm_attrs *a = &t.spans[i].attrs;
		snprintf(want, sizeof want, "op-%u", first + i);
		assert_true(cm_str_eq(t.spans[i].name, want));
		assert_int_equal(a->n, values ? 3 : 0);
		if (!values)
			continue;
		snprintf(want, sizeof want, "u-%u", first + i);
		assert_true(a->v[0].val.type == CM_VAL_STR && cm_str_eq(a->v[0].val.u.s, "postgresql"));
		assert_true(a->v[1].val.type == CM_VAL_STR && cm_str_eq(a->v[1].val.u.s, want));
		assert_true(a->v[2].val.type == CM_VAL_STR && cm_str_eq(a->v[2].val.u.s, "GET"));
	}
	cm_batch_fini(&t);
}

static void
names_survive_restarts_and_a_full_symbol_table(void **state)
{
	fixture *f = *state;
	st_options o = { .data_dir = f->dir }, so = { .data_dir = f->dir, .secondary = true };
	st_store *sec;
	char err[256];
	uint32_t total = ST_SYM_MAX + 4000;

	/* more distinct names than the table holds: the rest are written inline */
	for (uint32_t first = 0; first < total; first += 1000)
		write_named(f->store, 0x31, first, 1000, false);
	assert_int_equal(f->store->sym.next, ST_SYM_MAX);
	st_store_close(f->store);
	assert_int_equal(st_store_open(&o, &f->store, err, sizeof err), CM_OK);
	/* reopened: the same names keep their numbers, a new one is inline */
	write_named(f->store, 0x32, 0, 1000, false);
	write_named(f->store, 0x32, total, 1000, false);
	assert_int_equal(f->store->sym.next, ST_SYM_MAX);
	assert_int_equal(st_store_open(&so, &sec, err, sizeof err), CM_OK);
	for (uint32_t first = 0; first < total; first += 7000) {
		assert_named(f->store, 0x31, first, 1000, false);
		assert_named(sec, 0x31, first, 1000, false);
	}
	assert_named(sec, 0x32, 0, 1000, false);
	assert_named(sec, 0x32, total, 1000, false);
	st_store_close(sec);
}

/* Whether the store's symbol table has text. */
static bool
has_symbol(const st_store *s, const char *text)
{
	for (uint32_t i = 0; i < s->sym.next; i++) {
		const st_sym_entry *e = atomic_load(&s->sym.text[i]);
		if (e != NULL && e->len == strlen(text) && memcmp(e->p, text, e->len) == 0)
			return true;
	}
	return false;
}

/*
 * A string value seen often becomes a symbol; unique values and values too
 * short to gain stay inline. Either way they read back the same, before
 * and after, on the primary and on a secondary.
 */
static void
frequent_values_become_symbols_and_unique_ones_do_not(void **state)
{
	fixture *f = *state;
	st_options so = { .data_dir = f->dir, .secondary = true };
	st_store *sec;
	char err[256], user[16];

	write_named(f->store, 0x41, 0, 10, true); /* fewer sightings than it takes */
	assert_false(has_symbol(f->store, "postgresql"));
	for (uint32_t first = 1000; first < 20000; first += 1000)
		write_named(f->store, 0x41, first, 100, true);
	assert_true(has_symbol(f->store, "postgresql"));
	assert_false(has_symbol(f->store, "GET"));
	for (uint32_t first = 0; first < 20000; first += 1000)
		for (uint32_t i = 0; i < 100; i += 7) {
			snprintf(user, sizeof user, "u-%u", first + i);
			assert_false(has_symbol(f->store, user));
		}
	assert_int_equal(st_store_open(&so, &sec, err, sizeof err), CM_OK);
	assert_named(f->store, 0x41, 0, 10, true);
	assert_named(sec, 0x41, 0, 10, true);
	for (uint32_t first = 1000; first < 20000; first += 6000) {
		assert_named(f->store, 0x41, first, 100, true);
		assert_named(sec, 0x41, first, 100, true);
	}
	st_store_close(sec);
}

static void
a_store_of_another_layout_is_refused(void **state)
{
	fixture *f = *state;
	st_options o = { .data_dir = f->dir };
	rocksdb_options_t *ro = rocksdb_options_create();
	rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
	rocksdb_column_family_handle_t *h[8];
	const rocksdb_options_t *opts[8];
	char *e = NULL, err[256], **names;
	size_t n;
	rocksdb_t *db;

	st_store_close(f->store);
	f->store = NULL;
	names = rocksdb_list_column_families(ro, f->dir, &n, &e);
	assert_null(e);
	assert_true(n <= 8);
	for (size_t i = 0; i < n; i++)
		opts[i] = ro;
	db = rocksdb_open_column_families(ro, f->dir, (int)n, (const char *const *)names, opts, h, &e);
	assert_null(e);
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], "meta") == 0)
			rocksdb_put_cf(db, wo, h[i], "V", 1, "weft-store-2", 12, &e);
	assert_null(e);
	for (size_t i = 0; i < n; i++)
		rocksdb_column_family_handle_destroy(h[i]);
	rocksdb_close(db);
	rocksdb_list_column_families_destroy(names, n);
	rocksdb_writeoptions_destroy(wo);
	rocksdb_options_destroy(ro);
	assert_int_equal(st_store_open(&o, &f->store, err, sizeof err), CM_EVERSION);
	assert_non_null(strstr(err, "weft-store-2"));
	f->store = NULL;
}

/* A trace whose service ran more operations than its index entry lists is still found by each. */
static void
a_service_with_many_operations_is_found_by_any(void **state)
{
	fixture *f = *state;
	st_traces t;
	st_summaries sum;

	write_named(f->store, 0x33, 0, 40, false); /* 40 operations of one service in one trace */
	for (uint32_t i = 0; i < 40; i += 13) {
		char op[16];
		snprintf(op, sizeof op, "op-%u", i);
		st_query q = { .service = "svc", .operation = op, .min_dur_ns = 1000 };
		assert_int_equal(st_search(f->store, &q, &t), CM_OK);
		assert_int_equal(t.n, 1);
		st_traces_fini(&t);
		assert_int_equal(st_search_summaries(f->store, &q, &sum), CM_OK);
		assert_int_equal(sum.n, 1);
		st_summaries_fini(&sum);
	}
	st_query none = { .service = "svc", .operation = "op-99" };
	assert_int_equal(st_search(f->store, &none, &t), CM_OK);
	assert_int_equal(t.n, 0);
	st_traces_fini(&t);
}

/* Overwrites every entry of family cf with what damage(i, value) makes of it. */
static void
damage_family(st_store *s, rocksdb_column_family_handle_t *cf, void (*damage)(size_t i, cm_buf *v))
{
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
	rocksdb_iterator_t *it = rocksdb_create_iterator_cf(s->db, ro, cf);
	char *e = NULL;
	size_t i = 0;
	for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it), i++) {
		size_t klen, vlen;
		const char *k = rocksdb_iter_key(it, &klen), *v = rocksdb_iter_value(it, &vlen);
		cm_buf b;
		cm_buf_init(&b);
		cm_buf_append(&b, v, vlen);
		damage(i, &b);
		rocksdb_put_cf(s->db, wo, cf, k, klen, b.data ? b.data : "", b.len, &e);
		assert_null(e);
		cm_buf_fini(&b);
	}
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	rocksdb_writeoptions_destroy(wo);
}

static void
cut_in_half(size_t i, cm_buf *v)
{
	(void)i;
	v->len /= 2;
}

static void
scribble(size_t i, cm_buf *v)
{
	for (size_t k = 0; k < v->len; k++)
		v->data[k] = (char)(0x80 | (k * 37 + i));
}

/* Searches by service, operation and duration, by time, and by tag: whatever they find, they return. */
static void
search_all_ways(st_store *s)
{
	st_tag tag = { "k", "v" };
	st_query qs[] = { { .service = "frontend", .operation = "GET /", .min_dur_ns = 1 }, { .service = "backend" },
		{ .limit = 5 }, { .tags = &tag, .ntags = 1 } };
	for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
		st_traces t;
		st_summaries sum;
		assert_int_equal(st_search(s, &qs[i], &t), CM_OK);
		st_traces_fini(&t);
		assert_int_equal(st_search_summaries(s, &qs[i], &sum), CM_OK);
		st_summaries_fini(&sum);
	}
}

static void
damaged_index_entries_are_skipped(void **state)
{
	fixture *f = *state;
	sample s;
	for (uint8_t tid = 1; tid <= 20; tid++) {
		make_sample(&s, tid, 1 + tid % 5);
		assert_int_equal(st_store_write(f->store, &s.b), CM_OK);
	}
	search_all_ways(f->store);
	damage_family(f->store, f->store->parts[0].index, cut_in_half);
	search_all_ways(f->store);
	damage_family(f->store, f->store->parts[0].index, scribble);
	search_all_ways(f->store);
}

/* Reads every trace and its summary: damage reads as CM_EIO, never past a value. */
static void
read_all(st_store *s, int *damaged)
{
	for (uint8_t tid = 1; tid <= 20; tid++) {
		cm_trace_id id;
		cm_batch t;
		st_summary sum;
		int rv;
		memset(id.b, tid, 16);
		cm_batch_init(&t);
		rv = st_trace_get(s, &id, &t);
		assert_true(rv == CM_OK || rv == CM_EIO);
		*damaged += rv == CM_EIO;
		cm_batch_fini(&t);
		rv = st_trace_summary(s, &id, &sum);
		assert_true(rv == CM_OK || rv == CM_EIO);
		*damaged += rv == CM_EIO;
		if (rv == CM_OK)
			st_summary_fini(&sum);
	}
}

static void
damaged_span_blocks_read_as_damage(void **state)
{
	fixture *f = *state;
	sample s;
	int damaged = 0;
	for (uint8_t tid = 1; tid <= 20; tid++) {
		make_sample(&s, tid, 1 + tid % 5);
		assert_int_equal(st_store_write(f->store, &s.b), CM_OK);
	}
	read_all(f->store, &damaged);
	assert_int_equal(damaged, 0);
	damage_family(f->store, f->store->parts[0].spans, cut_in_half);
	read_all(f->store, &damaged);
	assert_true(damaged >= 20); /* every trace read; a summary needs only the block's first bytes */
	damage_family(f->store, f->store->parts[0].spans, scribble);
	read_all(f->store, &damaged);
}

#define HOUR_NS 3600000000000ull

static uint64_t fake_now;

static uint64_t
fake_clock(void)
{
	return fake_now;
}

static bool
readable(st_store *s, uint8_t tid)
{
	cm_batch t;
	cm_trace_id id;
	int rv;
	memset(id.b, tid, 16);
	cm_batch_init(&t);
	rv = st_trace_get(s, &id, &t);
	cm_batch_fini(&t);
	assert_true(rv == CM_OK || rv == CM_ENOENT);
	return rv == CM_OK;
}

static size_t
found_by_search(st_store *s)
{
	st_query q = { .service = "frontend", .limit = 100 };
	st_traces r;
	size_t n;
	assert_int_equal(st_search(s, &q, &r), CM_OK);
	n = r.n;
	st_traces_fini(&r);
	return n;
}

/* Column families whose name starts with "spans.": one per partition. */
static size_t
span_partitions_on_disk(const char *dir)
{
	rocksdb_options_t *o = rocksdb_options_create();
	char *err = NULL, **names;
	size_t n = 0, parts = 0;
	names = rocksdb_list_column_families(o, dir, &n, &err);
	assert_null(err);
	for (size_t i = 0; i < n; i++)
		parts += strncmp(names[i], "spans.", 6) == 0;
	rocksdb_list_column_families_destroy(names, n);
	rocksdb_options_destroy(o);
	return parts;
}

static void
write_trace(st_store *s, uint8_t tid)
{
	sample smp;
	make_sample(&smp, tid, 2);
	assert_int_equal(st_store_write(s, &smp.b), CM_OK);
}

static void
retention_drops_whole_partitions_and_readers_follow(void **state)
{
	fixture *f = *state;
	st_options po = { .data_dir = f->dir, .retention_ns = 3 * HOUR_NS, .now_ns = fake_clock };
	st_options so = { .data_dir = f->dir, .secondary = true, .now_ns = fake_clock };
	st_store *pri, *sec;
	size_t dropped;
	char err[256];

	st_store_close(f->store); /* the fixture's store keeps everything: reopen with retention */
	f->store = NULL;
	fake_now = 1000 * HOUR_NS + 600000000000ull;
	assert_int_equal(st_store_open(&po, &pri, err, sizeof err), CM_OK);
	assert_int_equal(st_store_open(&so, &sec, err, sizeof err), CM_OK);

	write_trace(pri, 0x10); /* arrives in [1000 h, 1001 h) */
	fake_now = 1002 * HOUR_NS + 600000000000ull;
	write_trace(pri, 0x20); /* arrives in [1002 h, 1003 h) */
	assert_int_equal(span_partitions_on_disk(f->dir), 2);
	assert_int_equal(st_store_catch_up(sec), CM_OK); /* reopens: partitions were made after it opened */
	assert_true(readable(sec, 0x10) && readable(sec, 0x20));
	assert_int_equal(found_by_search(sec), 2);

	/* 3 h after the first partition's end: expired, unread even before it is dropped */
	fake_now = 1004 * HOUR_NS;
	assert_false(readable(pri, 0x10));
	assert_false(readable(sec, 0x10));
	assert_true(readable(pri, 0x20));
	assert_int_equal(found_by_search(sec), 1);
	assert_int_equal(st_store_expire(pri, &dropped), CM_OK);
	assert_int_equal(dropped, 1);
	assert_int_equal(span_partitions_on_disk(f->dir), 1);
	assert_int_equal(st_store_catch_up(sec), CM_OK);
	assert_false(readable(sec, 0x10));
	assert_true(readable(sec, 0x20));
	assert_int_equal(found_by_search(pri), 1);

	/* everything expires; writing goes on in a new partition the secondary picks up */
	fake_now = 1006 * HOUR_NS + 1;
	assert_int_equal(st_store_expire(pri, &dropped), CM_OK);
	assert_int_equal(dropped, 1);
	assert_int_equal(span_partitions_on_disk(f->dir), 0);
	write_trace(pri, 0x30);
	assert_int_equal(st_store_catch_up(sec), CM_OK);
	assert_true(readable(sec, 0x30));
	assert_false(readable(sec, 0x20));
	assert_int_equal(st_store_expire(sec, &dropped), CM_EINVAL);
	st_store_close(sec);
	st_store_close(pri);

	/* a store reopened without retention keeps what it has */
	po.retention_ns = 0;
	fake_now = 2000 * HOUR_NS;
	assert_int_equal(st_store_open(&po, &f->store, err, sizeof err), CM_OK);
	assert_int_equal(st_store_expire(f->store, &dropped), CM_OK);
	assert_int_equal(dropped, 0);
	assert_true(readable(f->store, 0x30));
}

static void
a_batch_resent_into_the_next_partition_reads_once(void **state)
{
	fixture *f = *state;
	st_options po = { .data_dir = f->dir, .retention_ns = 24 * HOUR_NS, .now_ns = fake_clock };
	st_store *pri;
	sample smp;
	char err[256];

	st_store_close(f->store);
	fake_now = 500 * 24 * HOUR_NS - 1;
	assert_int_equal(st_store_open(&po, &f->store, err, sizeof err), CM_OK);
	pri = f->store;
	make_sample(&smp, 0x40, 3);
	assert_int_equal(st_store_write(pri, &smp.b), CM_OK);
	fake_now += 2; /* the sender did not see the acknowledgement and resends later */
	assert_int_equal(st_store_write(pri, &smp.b), CM_OK);
	assert_int_equal(span_partitions_on_disk(f->dir), 2);
	assert_int_equal(spans_read(pri, 0x40), 3);
	assert_int_equal(found_by_search(pri), 1);
}

/* Entries in family cf. */
static size_t
entries_in(st_store *s, rocksdb_column_family_handle_t *cf)
{
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it = rocksdb_create_iterator_cf(s->db, ro, cf);
	size_t n = 0;
	for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it))
		n++;
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	return n;
}

static void
batches_written_together_share_blocks_and_a_resent_one_reads_once(void **state)
{
	fixture *f = *state;
	sample a, b;
	const cm_batch *both[2] = { &a.b, &b.b };

	/* a: 3 spans of trace 0x50 and the first one again (the sender's own repeat); b: 3 more of it */
	make_sample(&a, 0x50, 3);
	a.spans[3] = a.spans[0];
	a.b.nspans = 4;
	make_sample(&b, 0x50, 3);
	for (uint32_t i = 0; i < 3; i++)
		b.spans[i].span_id.b[1] = 0xbb;
	assert_int_equal(st_store_write_many(f->store, both, 2), CM_OK);
	assert_int_equal(entries_in(f->store, f->store->parts[0].spans), 1); /* one block for the trace */
	assert_int_equal(spans_read(f->store, 0x50), 7);                     /* a repeat within a batch is kept */
	assert_int_equal(summary_spans(f->store, 0x50), 7);
	assert_int_equal(found_by_search(f->store), 1);

	/* b's acknowledgement was lost: resent alone, it forms another block, whose spans read once */
	assert_int_equal(st_store_write(f->store, &b.b), CM_OK);
	assert_int_equal(entries_in(f->store, f->store->parts[0].spans), 2);
	assert_int_equal(spans_read(f->store, 0x50), 7);
	assert_int_equal(found_by_search(f->store), 1);

	/* resent while the first copy was still queued: both in one write, stored once, the repeat within kept */
	both[0] = both[1] = &a.b;
	for (uint32_t i = 0; i < 4; i++)
		memset(a.spans[i].trace_id.b, 0x51, 16);
	assert_int_equal(st_store_write_many(f->store, both, 2), CM_OK);
	assert_int_equal(spans_read(f->store, 0x51), 4);
	assert_int_equal(summary_spans(f->store, 0x51), 4);
}

/* A batch resent alone after a write that merged it with another must not replace that write's index entries. */
static void
a_resent_batch_leaves_the_index_of_its_first_write(void **state)
{
	fixture *f = *state;
	sample a, b;
	const cm_batch *both[2] = { &a.b, &b.b };

	make_sample(&a, 0x50, 3);
	make_sample(&b, 0x60, 3); /* same starts, a later trace id: the write's first span is a's */
	assert_int_equal(st_store_write_many(f->store, both, 2), CM_OK);
	assert_int_equal(found_by_search(f->store), 2);
	assert_int_equal(st_store_write(f->store, &a.b), CM_OK);
	assert_int_equal(found_by_search(f->store), 2);
	assert_int_equal(spans_read(f->store, 0x50), 3);
	assert_int_equal(spans_read(f->store, 0x60), 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(trace_reads_back_in_start_order, setup, teardown),
		cmocka_unit_test_setup_teardown(keys_read_back_whatever_the_last_span_of_their_resource_set, setup, teardown),
		cmocka_unit_test_setup_teardown(texts_at_one_address_in_later_writes_read_back_as_written, setup, teardown),
		cmocka_unit_test_setup_teardown(rewriting_a_batch_stores_each_span_once, setup, teardown),
		cmocka_unit_test_setup_teardown(traces_do_not_bleed_into_each_other, setup, teardown),
		cmocka_unit_test_setup_teardown(traces_are_listed_once_and_files_by_family, setup, teardown),
		cmocka_unit_test_setup_teardown(services_and_operations_are_listed, setup, teardown),
		cmocka_unit_test_setup_teardown(secondary_sees_writes_after_catching_up, setup, teardown),
		cmocka_unit_test_setup_teardown(staged_records_are_read_back_until_their_spans_are_written, setup, teardown),
		cmocka_unit_test(secondary_without_primary_is_enoent),
		cmocka_unit_test_setup_teardown(names_survive_restarts_and_a_full_symbol_table, setup, teardown),
		cmocka_unit_test_setup_teardown(frequent_values_become_symbols_and_unique_ones_do_not, setup, teardown),
		cmocka_unit_test_setup_teardown(a_store_of_another_layout_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(a_service_with_many_operations_is_found_by_any, setup, teardown),
		cmocka_unit_test_setup_teardown(damaged_index_entries_are_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(damaged_span_blocks_read_as_damage, setup, teardown),
		cmocka_unit_test_setup_teardown(retention_drops_whole_partitions_and_readers_follow, setup, teardown),
		cmocka_unit_test_setup_teardown(a_batch_resent_into_the_next_partition_reads_once, setup, teardown),
		cmocka_unit_test_setup_teardown(batches_written_together_share_blocks_and_a_resent_one_reads_once, setup, teardown),
		cmocka_unit_test_setup_teardown(a_resent_batch_leaves_the_index_of_its_first_write, setup, teardown),
	};
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
