/*
 * test_sdk.c - libweft: span parentage, sampling, attributes, the bounded
 * queue, shutdown with the collector down, and delivery into a real store
 * through the collector's real native receiver (NNG + RocksDB in-process).
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

#include "clock.h"
#include "err.h"
#include "native.h"
#include "sdk_int.h"
#include "store.h"
#include "weft.h"

#define DOWN "tcp://127.0.0.1:1" /* nothing listens on port 1 */

static weft_tracer *
tracer(const char *endpoint, const char *sampler, uint32_t queue)
{
	weft_tracer_config cfg = { .service_name = "svc", .endpoint = endpoint, .sampler = sampler,
		.max_queue_spans = queue, .shutdown_timeout_ms = 200, .schedule_delay_ms = 20 };
	weft_tracer *t = NULL;
	assert_int_equal(weft_tracer_create(&cfg, &t), WEFT_OK);
	return t;
}

static void
children_of_the_current_span_share_its_trace(void **state)
{
	weft_tracer *t = tracer(DOWN, NULL, 0);
	weft_span *root, *child, *other;
	weft_span_context rc, cc, oc;
	(void)state;

	root = weft_span_start(t, "root", NULL);
	weft_span_make_current(root);
	assert_ptr_equal(weft_span_current(), root);
	child = weft_span_start(t, "child", NULL);
	other = weft_span_start(t, "other", &(weft_span_options){ .root = true });
	rc = weft_span_get_context(root);
	cc = weft_span_get_context(child);
	oc = weft_span_get_context(other);
	assert_memory_equal(rc.trace_id.b, cc.trace_id.b, 16);
	assert_memory_equal(child->rec.parent_span_id.b, rc.span_id.b, 8);
	assert_memory_not_equal(rc.trace_id.b, oc.trace_id.b, 16);
	assert_true(cm_span_id_is_zero(&other->rec.parent_span_id));
	weft_span_end(child);
	weft_span_end(other);
	weft_span_end(root);
	assert_null(weft_span_current());
	weft_tracer_destroy(t);
}

static void
explicit_remote_parent_is_used(void **state)
{
	weft_tracer *t = tracer(DOWN, NULL, 0);
	weft_span_context parent;
	weft_span *s;
	(void)state;
	assert_int_equal(weft_traceparent_parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", &parent), WEFT_OK);
	s = weft_span_start(t, "server", &(weft_span_options){ .kind = WEFT_KIND_SERVER, .parent = &parent });
	assert_memory_equal(s->rec.trace_id.b, parent.trace_id.b, 16);
	assert_memory_equal(s->rec.parent_span_id.b, parent.span_id.b, 8);
	assert_int_equal(s->rec.kind, WEFT_KIND_SERVER);
	weft_span_end(s);
	weft_tracer_destroy(t);
}

static void
samplers_decide_and_parents_are_followed(void **state)
{
	weft_tracer *off = tracer(DOWN, "always_off", 0);
	weft_tracer *pb = tracer(DOWN, "parentbased_always_on", 0);
	weft_span_context unsampled;
	weft_span *s;
	weft_stats st;
	(void)state;

	s = weft_span_start(off, "x", NULL);
	assert_non_null(s);
	assert_false(weft_span_is_recording(s));
	weft_span_set_str(s, "k", "v"); /* no effect, no crash */
	weft_span_end(s);
	weft_tracer_stats(off, &st);
	assert_int_equal(st.spans_unsampled, 1);
	assert_int_equal(st.spans_started, 0);

	assert_int_equal(weft_traceparent_parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", &unsampled), WEFT_OK);
	s = weft_span_start(pb, "y", &(weft_span_options){ .parent = &unsampled });
	assert_false(weft_span_is_recording(s));
	assert_int_equal(weft_span_get_context(s).flags & WEFT_FLAG_SAMPLED, 0);
	weft_span_end(s);
	weft_tracer_destroy(off);
	weft_tracer_destroy(pb);
}

static void
bad_configuration_is_refused(void **state)
{
	weft_tracer_config cfg = { .sampler = "sometimes", .endpoint = DOWN };
	weft_tracer *t = NULL;
	(void)state;
	assert_int_equal(weft_tracer_create(&cfg, &t), WEFT_EINVAL);
	cfg.sampler = "traceidratio";
	cfg.sampler_arg = "2.5";
	assert_int_equal(weft_tracer_create(&cfg, &t), WEFT_EINVAL);
	cfg.sampler = NULL;
	cfg.endpoint = "carrier-pigeon://x";
	assert_int_equal(weft_tracer_create(&cfg, &t), WEFT_EINVAL);
	assert_null(t);
}

static void
attributes_replace_and_null_spans_are_ignored(void **state)
{
	weft_tracer *t = tracer(DOWN, NULL, 0);
	weft_span *s = weft_span_start(t, "a", NULL);
	(void)state;
	for (int i = 0; i < 20; i++) {
		char key[16];
		snprintf(key, sizeof key, "k%d", i);
		weft_span_set_int(s, key, i);
	}
	weft_span_set_str(s, "k3", "three");
	assert_int_equal(s->rec.attrs.n, 20);
	assert_int_equal(s->rec.attrs.v[3].val.type, CM_VAL_STR);
	assert_true(cm_str_eq(s->rec.attrs.v[3].val.u.s, "three"));
	weft_span_set_status(s, WEFT_STATUS_ERROR, "bad");
	assert_true(cm_str_eq(s->rec.status_message, "bad"));
	weft_span_end(s);
	weft_span_set_str(NULL, "k", "v");
	weft_span_add_event(NULL, "e", NULL, 0);
	weft_span_end(NULL);
	assert_null(weft_span_start(NULL, "x", NULL));
	weft_tracer_destroy(t);
}

static void
full_queue_drops_and_counts_and_shutdown_is_bounded(void **state)
{
	weft_tracer *t = tracer(DOWN, NULL, 4);
	weft_stats st;
	uint64_t t0;
	(void)state;
	for (int i = 0; i < 50; i++)
		weft_span_end(weft_span_start(t, "s", NULL));
	weft_tracer_stats(t, &st);
	assert_int_equal(st.spans_started, 50);
	assert_true(st.spans_dropped >= 40); /* at most 4 queued + a batch in flight */
	assert_int_equal(weft_tracer_flush(t, 50), WEFT_ETIMEDOUT);
	t0 = cm_mono_ns();
	weft_tracer_destroy(t);
	assert_true(cm_mono_ns() - t0 < 5000000000u); /* not a timing target: a hang guard */
}

/* A real receiver (NNG REP + RocksDB) in this process. */
typedef struct server {
	char dir[64];
	char url[128];
	st_store *store;
	col_writer *writer;
	col_metrics metrics;
	col_pipeline pipeline;
	col_native *native;
} server;

static void
server_start(server *s)
{
	col_native_config nc = { .url = s->url, .workers = 2, .limits = cm_wire_default_limits, .retry_ms = 10 };
	st_options o = { .data_dir = s->dir };
	char err[256];
	assert_int_equal(st_store_open(&o, &s->store, err, sizeof err), CM_OK);
	memset(&s->metrics, 0, sizeof s->metrics);
	assert_int_equal(col_writer_start(s->store, &s->metrics, &(col_writer_config){ 0, 0 }, &s->writer), CM_OK);
	s->pipeline = (col_pipeline){ s->writer, &s->metrics, 0 };
	assert_int_equal(col_native_start(&nc, &s->pipeline, &s->native, err, sizeof err), CM_OK);
}

static int
rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

static void
server_stop(server *s)
{
	col_native_stop(s->native, 100);
	col_writer_stop(s->writer);
	st_store_close(s->store);
	nftw(s->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void
server_init(server *s)
{
	memset(s, 0, sizeof *s);
	strcpy(s->dir, "/tmp/weft-sdk-XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	snprintf(s->url, sizeof s->url, "ipc://%s/native.ipc", s->dir);
}

static void
spans_arrive_even_if_the_collector_starts_late(void **state)
{
	server srv;
	weft_tracer *t;
	weft_span_context ctx;
	weft_stats st;
	cm_batch b;
	cm_trace_id id;
	weft_span *root;
	(void)state;

	server_init(&srv);
	t = tracer(srv.url, NULL, 0); /* nothing listens yet */
	root = weft_span_start(t, "root", &(weft_span_options){ .kind = WEFT_KIND_SERVER });
	weft_span_make_current(root);
	ctx = weft_span_get_context(root);
	for (int i = 0; i < 99; i++) {
		weft_span *c = weft_span_start(t, "child", NULL);
		weft_span_set_int(c, "i", i);
		weft_span_add_event(c, "ev", (weft_attr[]){ WEFT_BOOL("b", true) }, 1);
		weft_span_end(c);
	}
	weft_span_end(root);
	server_start(&srv);
	assert_int_equal(weft_tracer_flush(t, 15000), WEFT_OK);
	weft_tracer_stats(t, &st);
	assert_int_equal(st.spans_exported, 100);
	assert_int_equal(st.spans_dropped, 0);

	memcpy(id.b, ctx.trace_id.b, 16);
	cm_batch_init(&b);
	assert_int_equal(st_trace_get(srv.store, &id, &b), CM_OK);
	assert_int_equal(b.nspans, 100);
	assert_true(cm_str_eq(b.resources[0].service, "svc"));
	for (uint32_t i = 0; i < b.nspans; i++) {
		if (cm_str_eq(b.spans[i].name, "child")) {
			assert_memory_equal(b.spans[i].parent_span_id.b, ctx.span_id.b, 8);
			assert_int_equal(b.spans[i].nevents, 1);
		}
	}
	cm_batch_fini(&b);
	weft_tracer_destroy(t);
	server_stop(&srv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(children_of_the_current_span_share_its_trace),
		cmocka_unit_test(explicit_remote_parent_is_used),
		cmocka_unit_test(samplers_decide_and_parents_are_followed),
		cmocka_unit_test(bad_configuration_is_refused),
		cmocka_unit_test(attributes_replace_and_null_spans_are_ignored),
		cmocka_unit_test(full_queue_drops_and_counts_and_shutdown_is_bounded),
		cmocka_unit_test(spans_arrive_even_if_the_collector_starts_late),
	};
	return cmocka_run_group_tests_name("sdk", tests, NULL, NULL);
}
