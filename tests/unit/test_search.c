/*
 * test_search.c - model-based test of trace search: random traces written
 * in random batch groupings, random queries, and every answer compared with
 * an in-memory reference that applies Jaeger's search semantics directly.
 * The store's clock advances as batches arrive, so the traces spread over
 * several time partitions, some of them over two.
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
#include "keys.h"
#include "store.h"

enum { NTRACES = 150, MAXSPANS = 8, NQUERIES = 300 };

static const char *const services[] = { "api", "auth", "cart", "db", "mail" };
static const char *const ops[] = { "GET /", "POST /cart", "SELECT", "send", "login", "render" };
static const char *const keys[] = { "region", "tier", "user" };
static const char *const vals[] = { "eu", "us", "gold", "free", "u1", "u2", "42" }; /* "42": an integer */
enum { NVALS = 7 };

typedef struct mspan {
	int service, op, kind, status, key, val; /* key -1: no attribute */
	int where;                              /* the attribute is the span's (0), an event's (1), a link's (2) */
	uint64_t start, dur;
	cm_span_id id;
} mspan;

typedef struct mtrace {
	cm_trace_id id;
	int n;
	mspan s[MAXSPANS];
} mtrace;

static mtrace model[NTRACES];
static uint64_t rng = 0x1234567;
static uint64_t arrival_ns = 1800000000000000000u;

static uint64_t
arrival_clock(void)
{
	return arrival_ns;
}

static uint64_t
rnd(uint64_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng % n;
}

static int
rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

/* The batch being put together: spans of several traces, as a collector receives them. */
enum { MAXBATCH = 16 * MAXSPANS };
static cm_span pend[MAXBATCH];
static cm_attr pend_attrs[MAXBATCH];
static cm_event pend_events[MAXBATCH];
static cm_link pend_links[MAXBATCH];
static uint32_t npend;

/* Adds the spans [from, to) of trace t to the batch being put together. */
static void
add_spans(const mtrace *t, int from, int to)
{
	for (int i = from; i < to; i++) {
		const mspan *m = &t->s[i];
		uint32_t k = npend++;
		cm_span *s = &pend[k];
		assert_true(npend <= MAXBATCH);
		memset(s, 0, sizeof *s);
		s->trace_id = t->id;
		s->span_id = m->id;
		if (i > 0)
			s->parent_span_id = t->s[0].id;
		s->name = cm_str_from(ops[m->op]);
		s->kind = (uint8_t)m->kind;
		s->status = (uint8_t)m->status;
		s->start_ns = m->start;
		s->end_ns = m->start + m->dur;
		s->resource = (uint32_t)m->service;
		if (m->key >= 0) {
			cm_attrs *on = m->where == 1 ? &pend_events[k].attrs : m->where == 2 ? &pend_links[k].attrs : &s->attrs;
			pend_attrs[k] = (cm_attr){ cm_str_from(keys[m->key]), { .type = CM_VAL_STR, .u.s = cm_str_from(vals[m->val]) } };
			if (m->val == NVALS - 1)
				pend_attrs[k].val = (cm_value){ .type = CM_VAL_INT, .u.i = 42 };
			memset(&pend_events[k], 0, sizeof pend_events[k]);
			memset(&pend_links[k], 0, sizeof pend_links[k]);
			*on = (cm_attrs){ &pend_attrs[k], 1, 0 };
			if (m->where == 1) {
				pend_events[k].time_ns = m->start;
				pend_events[k].name = CM_STR("retry");
				s->events = &pend_events[k];
				s->nevents = 1;
			} else if (m->where == 2) {
				cm_trace_id_random(&pend_links[k].trace_id);
				cm_span_id_random(&pend_links[k].span_id);
				s->links = &pend_links[k];
				s->nlinks = 1;
			}
		}
	}
}

/* Writes the batch put together, if any. */
static void
flush(st_store *st)
{
	cm_resource res[5];
	cm_scope scope = { CM_STR("lib"), CM_STR("1"), { NULL, 0, 0 } };
	cm_batch b = { .resources = res, .nresources = 5, .scopes = &scope, .nscopes = 1, .spans = pend, .nspans = npend };

	if (npend == 0)
		return;
	for (int i = 0; i < 5; i++)
		res[i] = (cm_resource){ cm_str_from(services[i]), { NULL, 0, 0 } };
	assert_int_equal(st_store_write(st, &b), CM_OK);
	npend = 0;
}

static bool
model_span_matches(const mspan *m, const st_query *q)
{
	uint64_t end = q->end_ns ? q->end_ns : UINT64_MAX;
	if (q->service && strcmp(services[m->service], q->service) != 0)
		return false;
	if (q->operation && strcmp(ops[m->op], q->operation) != 0)
		return false;
	if (m->dur < q->min_dur_ns || (q->max_dur_ns && m->dur > q->max_dur_ns))
		return false;
	if (m->start < q->start_ns || m->start > end)
		return false;
	for (size_t k = 0; k < q->ntags; k++) {
		const st_tag *t = &q->tags[k];
		bool ok = (m->key >= 0 && strcmp(keys[m->key], t->key) == 0 && strcmp(vals[m->val], t->value) == 0) ||
		    (strcmp(t->key, "error") == 0 && strcmp(t->value, "true") == 0 && m->status == CM_STATUS_ERROR);
		if (!ok)
			return false;
	}
	return true;
}

/* st_search_summaries' semantics: a span matches all but the window, and the trace overlaps the window. */
static bool
model_summary_matches(const mtrace *t, const st_query *q)
{
	st_query nowin = *q;
	uint64_t first = UINT64_MAX, last = 0;
	bool match = false;
	nowin.start_ns = nowin.end_ns = 0;
	for (int i = 0; i < t->n; i++) {
		match |= model_span_matches(&t->s[i], &nowin);
		first = t->s[i].start < first ? t->s[i].start : first;
		last = t->s[i].start + t->s[i].dur > last ? t->s[i].start + t->s[i].dur : last;
	}
	return match && first <= (q->end_ns ? q->end_ns : UINT64_MAX) && last >= q->start_ns;
}

/* Every summary is of a trace the model says matches, once, and says what the model holds. */
static void
assert_summaries(const st_summaries *got, const st_query *q, size_t want, int qi)
{
	if (got->n != (want < q->limit ? want : q->limit))
		fail_msg("summaries of query %d: got %zu, model %zu (limit %u)", qi, got->n, want, q->limit);
	for (size_t r = 0; r < got->n; r++) {
		const st_summary *sum = &got->v[r];
		uint32_t errors = 0, spans = 0;
		int t;
		for (t = 0; t < NTRACES && memcmp(model[t].id.b, sum->id.b, 16) != 0; t++)
			;
		assert_true(t < NTRACES);
		assert_true(model_summary_matches(&model[t], q));
		for (int i = 0; i < model[t].n; i++)
			errors += model[t].s[i].status == CM_STATUS_ERROR;
		for (size_t k = 0; k < sum->nservices; k++)
			spans += sum->services[k].spans;
		assert_int_equal(sum->spans, model[t].n);
		assert_int_equal(spans, model[t].n);
		assert_int_equal(sum->errors, errors);
		assert_string_equal(sum->root_service, services[model[t].s[0].service]);
		assert_string_equal(sum->root_operation, ops[model[t].s[0].op]);
		for (size_t r2 = 0; r2 < r; r2++)
			assert_memory_not_equal(got->v[r2].id.b, sum->id.b, 16);
	}
}

static void
search_agrees_with_the_model(void **state)
{
	char dir[] = "/tmp/weft-search-XXXXXX", err[256];
	st_options o = { 0 };
	st_store *st;
	uint64_t base = 1700000000000000000u;
	(void)state;

	assert_non_null(mkdtemp(dir));
	o.data_dir = dir;
	o.retention_ns = 12 * 3600000000000ull; /* partitions 2 h wide; nothing expires */
	o.now_ns = arrival_clock;
	assert_int_equal(st_store_open(&o, &st, err, sizeof err), CM_OK);
	/*
	 * Batches of 1-12 traces whose starts lie within a minute of each
	 * other, the batches walking through an hour (a batch is dated by its
	 * earliest span: see ST_SEARCH_SLACK_NS). A trace cut in two sends its
	 * second part with the next batch. The store's clock advances 20
	 * minutes per batch: partitions are 2 h wide.
	 */
	uint64_t group_t0 = base;
	int left = 1 + (int)rnd(12), later_from = 0, later_to = 0;
	const mtrace *later = NULL;
	for (int t = 0; t < NTRACES; t++) {
		mtrace *m = &model[t];
		uint64_t t0 = group_t0 + rnd(60) * 1000000000u;
		cm_trace_id_random(&m->id);
		/* a third of the ids begin alike (keys.h: index entries name traces by the beginning) */
		if (rnd(3) == 0)
			memset(m->id.b, 0x5a, ST_TRACE_REF_BYTES);
		m->n = 1 + (int)rnd(MAXSPANS);
		for (int i = 0; i < m->n; i++) {
			mspan *s = &m->s[i];
			s->service = (int)rnd(5);
			s->op = (int)rnd(6);
			s->kind = 1 + (int)rnd(3);
			s->status = (int)rnd(3);
			s->key = (int)rnd(4) - 1;
			s->val = (int)rnd(NVALS);
			s->where = (int)rnd(3);
			s->start = t0 + rnd(5000000000u); /* spans of a trace within 5 s */
			s->dur = 1000 + rnd(2000000000u);
			cm_span_id_random(&s->id);
		}
		if (m->n > 2 && later == NULL && rnd(2)) {
			int cut = 1 + (int)rnd((uint64_t)m->n - 1);
			add_spans(m, cut, m->n);
			later = m;
			later_from = 0;
			later_to = cut;
		} else {
			add_spans(m, 0, m->n);
		}
		if (--left == 0 || t == NTRACES - 1) {
			arrival_ns += 1200000000000u;
			flush(st);
			left = 1 + (int)rnd(12);
			group_t0 += rnd(300) * 1000000000u;
			if (later != NULL) {
				add_spans(later, later_from, later_to);
				later = NULL;
			}
		}
	}
	if (later != NULL)
		add_spans(later, later_from, later_to);
	arrival_ns += 1200000000000u;
	flush(st);

	for (int qi = 0; qi < NQUERIES; qi++) {
		st_tag tags[2];
		st_query q = { 0 };
		st_traces got;
		size_t want = 0;
		if (rnd(4))
			q.service = services[rnd(5)];
		if (q.service && rnd(2))
			q.operation = ops[rnd(6)];
		q.ntags = rnd(3);
		for (size_t k = 0; k < q.ntags; k++) {
			if (rnd(4) == 0)
				tags[k] = (st_tag){ "error", "true" };
			else
				tags[k] = (st_tag){ keys[rnd(3)], vals[rnd(NVALS)] };
		}
		q.tags = tags;
		if (rnd(2))
			q.min_dur_ns = rnd(1000000000u);
		if (rnd(3) == 0)
			q.max_dur_ns = q.min_dur_ns + rnd(1500000000u);
		if (rnd(4) == 0) {
			/* a bound next to a span's duration: inside its bucket in the index (keys.h), or on an edge */
			const mtrace *m = &model[rnd(NTRACES)];
			uint64_t d = m->s[rnd((uint64_t)m->n)].dur - 1 + rnd(3);
			if (rnd(2)) {
				q.min_dur_ns = d;
				q.max_dur_ns = 0;
			} else {
				q.min_dur_ns = 0;
				q.max_dur_ns = d;
			}
		}
		if (rnd(2)) {
			q.start_ns = base + rnd(1800) * 1000000000u;
			q.end_ns = q.start_ns + rnd(1800) * 1000000000u;
		}
		q.limit = rnd(3) ? 1000 : (uint32_t)(1 + rnd(5));

		for (int t = 0; t < NTRACES; t++) {
			bool match = false;
			for (int i = 0; i < model[t].n && !match; i++)
				match = model_span_matches(&model[t].s[i], &q);
			want += match;
		}
		assert_int_equal(st_search(st, &q, &got), CM_OK);
		if (got.n != (want < q.limit ? want : q.limit))
			fail_msg("query %d (service %s op %s tags %zu min %llu max %llu limit %u): got %zu, model %zu", qi,
			    q.service ? q.service : "-", q.operation ? q.operation : "-", q.ntags,
			    (unsigned long long)q.min_dur_ns, (unsigned long long)q.max_dur_ns, q.limit, got.n, want);
		/* every answer is a trace the model says matches, each once */
		for (size_t r = 0; r < got.n; r++) {
			int t;
			for (t = 0; t < NTRACES; t++)
				if (memcmp(model[t].id.b, got.v[r].spans[0].trace_id.b, 16) == 0)
					break;
			assert_true(t < NTRACES);
			bool match = false;
			for (int i = 0; i < model[t].n && !match; i++)
				match = model_span_matches(&model[t].s[i], &q);
			assert_true(match);
			assert_int_equal(got.v[r].nspans, model[t].n); /* the whole trace, both batches */
			for (size_t r2 = 0; r2 < r; r2++)
				assert_memory_not_equal(got.v[r2].spans[0].trace_id.b, got.v[r].spans[0].trace_id.b, 16);
		}
		st_traces_fini(&got);

		st_summaries sums;
		size_t want_sum = 0;
		for (int t = 0; t < NTRACES; t++)
			want_sum += model_summary_matches(&model[t], &q);
		assert_int_equal(st_search_summaries(st, &q, &sums), CM_OK);
		assert_summaries(&sums, &q, want_sum, qi);
		st_summaries_fini(&sums);
	}
	st_store_close(st);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A summary tells what has arrived: no root until the root span does. */
static void
summary_before_and_after_the_root_arrives(void **state)
{
	char dir[] = "/tmp/weft-search-XXXXXX", err[256];
	st_options o = { 0 };
	st_store *st;
	cm_resource res[2] = { { CM_STR("front"), { NULL, 0, 0 } }, { CM_STR("back"), { NULL, 0, 0 } } };
	cm_scope scope = { CM_STR("lib"), CM_STR("1"), { NULL, 0, 0 } };
	cm_span spans[3];
	cm_batch child = { .resources = res, .nresources = 2, .scopes = &scope, .nscopes = 1, .spans = spans + 1,
		.nspans = 2 };
	cm_batch root = { .resources = res, .nresources = 2, .scopes = &scope, .nscopes = 1, .spans = spans, .nspans = 1 };
	st_summary sum;
	st_summaries found;
	st_query q = { .service = "back", .limit = 10 };
	(void)state;

	memset(spans, 0, sizeof spans);
	cm_trace_id_random(&spans[0].trace_id);
	for (int i = 0; i < 3; i++) {
		spans[i].trace_id = spans[0].trace_id;
		cm_span_id_random(&spans[i].span_id);
		if (i > 0)
			spans[i].parent_span_id = spans[0].span_id;
		spans[i].name = i ? CM_STR("SELECT") : CM_STR("GET /");
		spans[i].start_ns = 1000 + 100 * (uint64_t)i;
		spans[i].end_ns = spans[i].start_ns + 50;
		spans[i].resource = i ? 1 : 0;
	}
	spans[0].end_ns = 2000;
	spans[2].status = CM_STATUS_ERROR;
	assert_non_null(mkdtemp(dir));
	o.data_dir = dir;
	assert_int_equal(st_store_open(&o, &st, err, sizeof err), CM_OK);
	assert_int_equal(st_trace_summary(st, &spans[0].trace_id, &sum), CM_ENOENT);

	assert_int_equal(st_store_write(st, &child), CM_OK); /* children first, as services export */
	assert_int_equal(st_trace_summary(st, &spans[0].trace_id, &sum), CM_OK);
	assert_null(sum.root_service);
	assert_int_equal(sum.spans, 2);
	assert_int_equal(sum.errors, 1);
	assert_int_equal(sum.start_ns, 1100);
	assert_int_equal(sum.duration_ns, 150);
	st_summary_fini(&sum);
	assert_int_equal(st_search_summaries(st, &q, &found), CM_OK); /* found without its root */
	assert_int_equal(found.n, 1);
	st_summaries_fini(&found);

	assert_int_equal(st_store_write(st, &root), CM_OK);
	assert_int_equal(st_trace_summary(st, &spans[0].trace_id, &sum), CM_OK);
	assert_string_equal(sum.root_service, "front");
	assert_string_equal(sum.root_operation, "GET /");
	assert_int_equal(sum.spans, 3);
	assert_int_equal(sum.start_ns, 1000);
	assert_int_equal(sum.duration_ns, 1000);
	assert_int_equal(sum.nservices, 2);
	for (size_t k = 0; k < 2; k++)
		assert_int_equal(sum.services[k].spans, strcmp(sum.services[k].service, "back") == 0 ? 2 : 1);
	st_summary_fini(&sum);
	st_store_close(st);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Resource and scope attributes, and the tags derived from span fields, are found like the span's own. */
static void
tags_match_resources_scopes_and_derived_fields(void **state)
{
	char dir[] = "/tmp/weft-search-XXXXXX", err[256];
	st_options o = { 0 };
	st_store *st;
	cm_attr env = { CM_STR("deployment.environment"), { .type = CM_VAL_STR, .u.s = CM_STR("prod") } };
	cm_attr sattr = { CM_STR("scope.attr"), { .type = CM_VAL_BOOL, .u.b = true } };
	cm_resource res = { CM_STR("svc"), { &env, 1, 0 } };
	cm_scope scope = { CM_STR("lib"), CM_STR("1.2"), { &sattr, 1, 0 } };
	cm_span spans[2];
	cm_batch b = { .resources = &res, .nresources = 1, .scopes = &scope, .nscopes = 1, .spans = spans, .nspans = 2 };
	static const struct {
		const char *key, *value;
		size_t want;
	} cases[] = {
		{ "deployment.environment", "prod", 1 }, { "deployment.environment", "dev", 0 },
		{ "scope.attr", "true", 1 }, { "span.kind", "client", 1 }, { "span.kind", "server", 0 },
		{ "otel.scope.name", "lib", 1 }, { "otel.scope.version", "1.2", 1 },
		{ "otel.status_code", "ERROR", 1 }, { "otel.status_description", "boom", 1 }, { "error", "true", 1 },
		{ "error", "false", 0 },
	};
	(void)state;

	memset(spans, 0, sizeof spans);
	cm_trace_id_random(&spans[0].trace_id);
	spans[1].trace_id = spans[0].trace_id;
	for (int i = 0; i < 2; i++) {
		cm_span_id_random(&spans[i].span_id);
		spans[i].name = CM_STR("op");
		spans[i].start_ns = 1000 + (uint64_t)i;
		spans[i].end_ns = 2000;
	}
	spans[0].kind = CM_KIND_INTERNAL;
	spans[1].kind = CM_KIND_CLIENT;
	spans[1].status = CM_STATUS_ERROR;
	spans[1].status_message = CM_STR("boom");
	assert_non_null(mkdtemp(dir));
	o.data_dir = dir;
	assert_int_equal(st_store_open(&o, &st, err, sizeof err), CM_OK);
	assert_int_equal(st_store_write(st, &b), CM_OK);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		st_tag tag = { cases[i].key, cases[i].value };
		st_query q = { .tags = &tag, .ntags = 1 };
		st_traces got;
		assert_int_equal(st_search(st, &q, &got), CM_OK);
		if (got.n != cases[i].want)
			fail_msg("%s=%s: %zu traces, want %zu", tag.key, tag.value, got.n, cases[i].want);
		st_traces_fini(&got);
	}
	st_store_close(st);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The index's duration buckets (keys.h) hold every duration, in order, with edges that round-trip. */
static void
duration_buckets_hold_every_duration(void **state)
{
	uint64_t prev = 0;
	(void)state;
	for (uint64_t b = 0; st_dur_at(b) != UINT64_MAX; b++) {
		assert_true(b == 0 || st_dur_at(b) > prev);
		assert_int_equal(st_dur_bucket(st_dur_at(b)), b);
		assert_int_equal(st_dur_bucket_up(st_dur_at(b)), b);
		prev = st_dur_at(b);
		if (b >= 16) /* at most 12.5% wide */
			assert_true(st_dur_at(b + 1) == UINT64_MAX || st_dur_at(b + 1) - prev <= prev / 8);
	}
	for (int i = 0; i < 1000000; i++) {
		uint64_t d = (rnd(UINT32_MAX) << 32 | rnd(UINT32_MAX)) >> rnd(64);
		uint64_t b = st_dur_bucket(d), u = st_dur_bucket_up(d);
		assert_true(st_dur_at(b) <= d && d < st_dur_at(b + 1));
		assert_true(st_dur_at(u) >= d && (u == 0 || st_dur_at(u - 1) < d));
	}
	assert_int_equal(st_dur_at(st_dur_bucket_up(UINT64_MAX)), UINT64_MAX);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(search_agrees_with_the_model),
		cmocka_unit_test(tags_match_resources_scopes_and_derived_fields),
		cmocka_unit_test(summary_before_and_after_the_root_arrives),
		cmocka_unit_test(duration_buckets_hold_every_duration),
	};
	return cmocka_run_group_tests_name("search", tests, NULL, NULL);
}
