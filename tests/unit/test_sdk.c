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
#include <pthread.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "clock.h"
#include "err.h"
#include "native.h"
#include "sdk_int.h"
#include "tsc.h"
#include "store.h"
#include "weft.h"
#include "wire.h"

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
	sdk_attrs_dedup(&s->rec.attrs); /* as the exporter does before encoding */
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

static void
span_limits_cut_and_count(void **state)
{
	weft_tracer_config cfg = { .service_name = "svc", .endpoint = DOWN, .shutdown_timeout_ms = 50,
		.max_attributes = 3, .max_events = 2, .max_event_attributes = 1, .max_value_length = 5 };
	weft_tracer *t = NULL;
	weft_span *s;
	weft_stats st;
	(void)state;
	assert_int_equal(weft_tracer_create(&cfg, &t), WEFT_OK);
	s = weft_span_start(t, "limited", NULL);
	weft_span_set_str(s, "a", "abcd\xc3\xa9"); /* "abcdé": byte 5 is inside é, so 4 are kept */
	weft_span_set_int(s, "b", 1);
	weft_span_set_int(s, "c", 2);
	weft_span_set_int(s, "d", 3); /* over the limit */
	weft_span_set_int(s, "a", 4); /* replacing is not adding */
	for (int i = 0; i < 3; i++)
		weft_span_add_event(s, "e", (weft_attr[]){ WEFT_INT("x", 1), WEFT_INT("y", 2) }, 2);
	assert_int_equal(s->rec.attrs.n, 3);
	assert_int_equal(s->rec.attrs.dropped, 1);
	assert_int_equal(s->rec.attrs.v[0].val.type, CM_VAL_INT);
	assert_int_equal(s->rec.nevents, 2);
	assert_int_equal(s->rec.dropped_events, 1);
	assert_int_equal(s->rec.events[0].attrs.n, 1);
	assert_int_equal(s->rec.events[0].attrs.dropped, 1);
	weft_span_set_str(s, "a", "abcd\xc3\xa9");
	assert_int_equal(s->rec.attrs.v[0].val.u.s.len, 4);
	weft_span_set_str(s, "b", "h\xc3\xa9llo");
	assert_int_equal(s->rec.attrs.v[1].val.u.s.len, 5); /* "h" + 2-byte é + "ll" */
	weft_span_set_str(s, "c", "\xe2\x82\xac\xe2\x82\xac"); /* "€€": 6 bytes, cut to one € */
	assert_int_equal(s->rec.attrs.v[2].val.u.s.len, 3);
	weft_span_end(s);
	weft_tracer_stats(t, &st);
	assert_int_equal(st.attributes_dropped, 1 + 2); /* "d", and "y" of the two events kept */
	assert_int_equal(st.events_dropped, 1);
	assert_int_equal(st.values_truncated, 4);
	weft_tracer_destroy(t);
}

/* Lengths given (slices without a NUL), measured, or known to the compiler all store the same. */
static void
lengths_given_or_measured(void **state)
{
	weft_tracer_config cfg = { .service_name = "svc", .endpoint = DOWN, .shutdown_timeout_ms = 50,
		.max_value_length = 8 };
	static const char buf[] = "method=GETX";
	const char *var_key = "k.var", *long_key = "a.key.longer.than.thirty.two.bytes";
	weft_tracer *t = NULL;
	weft_span *s;
	const cm_attrs *a;
	(void)state;
	assert_int_equal(weft_tracer_create(&cfg, &t), WEFT_OK);
	s = weft_span_start_n(t, "name-and-more", 4, NULL);
	assert_true(cm_str_eq(s->rec.name, "name"));
	weft_span_set_str_n(s, buf, 6, buf + 7, 3);
	weft_span_set_int_n(s, "status_code", 6, 200);
	weft_span_set_str_n(s, "long", WEFT_LEN_UNKNOWN, "0123456789abcdef", WEFT_LEN_UNKNOWN);
	weft_span_set_str_n(s, "given", 5, "0123456789abcdef", 12);
	weft_span_set_bool(s, var_key, true);
	weft_span_set_str(s, "null", NULL);
	weft_span_set_double(s, "a.key.longer.than.thirty.two.bytes", 0.5);
	weft_span_set_str(s, long_key, "replaced");
	a = &s->rec.attrs;
	sdk_attrs_dedup(&s->rec.attrs);
	assert_int_equal(a->n, 7);
	assert_true(cm_str_eq(a->v[0].key, "method") && cm_str_eq(a->v[0].val.u.s, "GET"));
	assert_true(cm_str_eq(a->v[1].key, "status") && a->v[1].val.u.i == 200);
	assert_true(cm_str_eq(a->v[2].key, "long") && cm_str_eq(a->v[2].val.u.s, "01234567"));
	assert_true(cm_str_eq(a->v[3].key, "given") && cm_str_eq(a->v[3].val.u.s, "01234567"));
	assert_true(cm_str_eq(a->v[4].key, "k.var") && a->v[4].val.type == CM_VAL_BOOL);
	assert_true(cm_str_eq(a->v[5].key, "null") && a->v[5].val.u.s.len == 0);
	assert_true(cm_str_eq(a->v[6].key, long_key) && cm_str_eq(a->v[6].val.u.s, "replaced"));
	weft_span_end(s);
	weft_tracer_destroy(t);
}

static void
byte_budget_bounds_what_waits(void **state)
{
	weft_tracer_config cfg = { .service_name = "svc", .endpoint = DOWN, .shutdown_timeout_ms = 50,
		.max_queue_spans = 100000, .max_queue_bytes = 256 << 10 };
	char big[2000];
	weft_tracer *t = NULL;
	weft_stats st;
	(void)state;
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(weft_tracer_create(&cfg, &t), WEFT_OK);
	for (int i = 0; i < 2000; i++) {
		weft_span *s = weft_span_start(t, "big", NULL);
		weft_span_set_str(s, "payload", big);
		weft_span_end(s);
	}
	weft_tracer_stats(t, &st);
	assert_true(st.spans_dropped > 1000); /* each ~3.5 KiB: about 70 fit in 256 KiB */
	assert_true(st.queued_bytes <= 256u << 10);
	assert_true(st.queued > 0 && st.queued < 200);
	weft_tracer_destroy(t);
}

static void
rate_limiting_sampler_keeps_n_per_second(void **state)
{
	weft_tracer *t = tracer(DOWN, "ratelimiting", 0);
	weft_tracer_config cfg = { .sampler = "ratelimiting", .sampler_arg = "0", .endpoint = DOWN };
	weft_tracer *bad = NULL;
	weft_stats st;
	(void)state;
	/* The default rate is 100 per second with a burst of one second's worth. */
	for (int i = 0; i < 1000; i++)
		weft_span_end(weft_span_start(t, "r", NULL));
	weft_tracer_stats(t, &st);
	assert_in_range(st.spans_started, 100, 102);
	assert_int_equal(st.spans_started + st.spans_unsampled, 1000);
	assert_int_equal(weft_tracer_create(&cfg, &bad), WEFT_EINVAL);
	weft_tracer_destroy(t);
}

static void
end_in_scope(weft_tracer *t, weft_span **seen)
{
	WEFT_SCOPED_SPAN(t, s, "scoped", NULL);
	*seen = s;
	assert_ptr_equal(weft_span_current(), s);
}

static void
scoped_span_ends_when_its_block_exits(void **state)
{
	weft_tracer *t = tracer(DOWN, NULL, 0);
	weft_span *seen = NULL;
	weft_stats st;
	(void)state;
	end_in_scope(t, &seen);
	assert_non_null(seen);
	assert_null(weft_span_current());
	weft_tracer_stats(t, &st);
	assert_int_equal(st.spans_started, 1);
	assert_int_equal(st.queued, 1);
	weft_tracer_destroy(t);
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
	assert_int_equal(col_writer_start(s->store, &s->metrics, &(col_writer_config){ 0 }, &s->writer), CM_OK);
	s->pipeline = (col_pipeline){ s->writer, &s->metrics, { 0 } };
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

/* Waits until the writer wrote every span it acknowledged to the store (writer.h: it stages them first). */
static void
wait_written(server *s)
{
	for (int i = 0; i < 10000 && atomic_load(&s->metrics.staged_batches) != 0; i++)
		usleep(1000);
	assert_int_equal(atomic_load(&s->metrics.staged_batches), 0);
}

static void
server_init(server *s)
{
	memset(s, 0, sizeof *s);
	strcpy(s->dir, "/tmp/weft-sdk-XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	snprintf(s->url, sizeof s->url, "ipc://%s/native.ipc", s->dir);
}

/* Trace 0x42...'s spans in the store: how many, and the first's name and service. */
static uint32_t
stored_0x42(server *srv, const char *name, const char *service)
{
	cm_trace_id id;
	cm_batch got;
	uint32_t n;

	wait_written(srv);
	memset(id.b, 0x42, 16);
	cm_batch_init(&got);
	assert_int_equal(st_trace_get(srv->store, &id, &got), CM_OK);
	n = got.nspans;
	assert_true(cm_str_eq(got.spans[0].name, name));
	assert_true(cm_str_eq(got.resources[got.spans[0].resource].service, service));
	cm_batch_fini(&got);
	return n;
}

/*
 * A native request is staged as it was sent, invalid spans and all. The
 * store gets what the reply counted, repaired; and so it does when a
 * crash left the request staged and the writer reads it back at start.
 */
static void
native_requests_are_stored_cleaned_also_after_a_crash(void **state)
{
	cm_resource res = { .service = { NULL, 0 } }; /* becomes unknown_service */
	cm_scope scope = { .name = CM_STR("lib") };
	cm_span spans[2] = { { .name = CM_STR("kept"), .start_ns = 1, .end_ns = 2 },
		{ .name = CM_STR("refused"), .start_ns = 1, .end_ns = 2 } }; /* no span id */
	cm_batch b = { .resources = &res, .nresources = 1, .scopes = &scope, .nscopes = 1, .spans = spans, .nspans = 2 };
	cm_wire_codec codec;
	cm_wire_reply reply;
	cm_buf msg;
	nng_socket sock;
	server srv;
	uint64_t first;
	char *buf = NULL;
	size_t len = 0;
	(void)state;

	memset(spans[0].trace_id.b, 0x42, 16);
	memset(spans[1].trace_id.b, 0x42, 16);
	spans[0].span_id.b[7] = 1;
	server_init(&srv);
	server_start(&srv);
	assert_int_equal(cm_wire_codec_init(&codec), CM_OK);
	cm_buf_init(&msg);
	assert_int_equal(cm_wire_encode_batch(&codec, &b, 3, NULL, &msg), CM_OK);
	assert_int_equal(nng_req0_open(&sock), 0);
	assert_int_equal(nng_dial(sock, srv.url, NULL, 0), 0);
	assert_int_equal(nng_send(sock, msg.data, msg.len, 0), 0);
	assert_int_equal(nng_recv(sock, &buf, &len, NNG_FLAG_ALLOC), 0);
	assert_int_equal(cm_wire_decode_reply(buf, len, &reply), CM_OK);
	nng_free(buf, len);
	nng_close(sock);
	assert_int_equal(reply.type, CM_MSG_OK);
	assert_int_equal(reply.accepted, 1);
	assert_int_equal(stored_0x42(&srv, "kept", "unknown_service"), 1);

	/* the same request staged and not written when the collector died: written at start, once */
	col_writer_stop(srv.writer);
	spans[0].span_id.b[7] = 2;
	spans[0].name = CM_STR("replayed");
	spans[0].start_ns = 0;
	assert_int_equal(cm_wire_encode_batch(&codec, &b, 3, NULL, &msg), CM_OK);
	assert_int_equal(st_stage(srv.store, &(st_record){ msg.data, msg.len }, 1, &first), CM_OK);
	assert_int_equal(col_writer_start(srv.store, &srv.metrics, &(col_writer_config){ 0 }, &srv.writer), CM_OK);
	srv.pipeline.writer = srv.writer;
	assert_int_equal(stored_0x42(&srv, "replayed", "unknown_service"), 2);
	cm_buf_fini(&msg);
	cm_wire_codec_fini(&codec);
	server_stop(&srv);
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
		weft_span_set_int(c, "i", -1);
		weft_span_set_int(c, "i", i); /* set again: one attribute, the last value, is exported */
		weft_span_add_event(c, "ev", (weft_attr[]){ WEFT_BOOL("b", true) }, 1);
		weft_span_end(c);
	}
	weft_span_end(root);
	server_start(&srv);
	assert_int_equal(weft_tracer_flush(t, 15000), WEFT_OK);
	weft_tracer_stats(t, &st);
	assert_int_equal(st.spans_exported, 100);
	assert_int_equal(st.spans_dropped, 0);

	wait_written(&srv);
	memcpy(id.b, ctx.trace_id.b, 16);
	cm_batch_init(&b);
	assert_int_equal(st_trace_get(srv.store, &id, &b), CM_OK);
	assert_int_equal(b.nspans, 100);
	assert_true(cm_str_eq(b.resources[0].service, "svc"));
	for (uint32_t i = 0; i < b.nspans; i++) {
		if (cm_str_eq(b.spans[i].name, "child")) {
			assert_memory_equal(b.spans[i].parent_span_id.b, ctx.span_id.b, 8);
			assert_int_equal(b.spans[i].nevents, 1);
			assert_int_equal(b.spans[i].attrs.n, 1);
			assert_true(cm_str_eq(b.spans[i].attrs.v[0].key, "i"));
			assert_true(b.spans[i].attrs.v[0].val.u.i >= 0);
		}
	}
	cm_batch_fini(&b);
	weft_tracer_destroy(t);
	server_stop(&srv);
}

/* Spans in the store for the trace of ctx. */
static uint32_t
stored(server *srv, weft_span_context ctx)
{
	cm_batch b;
	cm_trace_id id;
	uint32_t n;
	wait_written(srv);
	memcpy(id.b, ctx.trace_id.b, 16);
	cm_batch_init(&b);
	if (st_trace_get(srv->store, &id, &b) != CM_OK)
		return 0;
	n = b.nspans;
	cm_batch_fini(&b);
	return n;
}

typedef struct handoff {
	weft_tracer *t;
	weft_span *span;      /* started here, ended by the other thread */
	weft_span_context parent;
} handoff;

static void *
start_then_exit(void *arg)
{
	handoff *h = arg;
	for (int i = 0; i < 50; i++) {
		weft_span *s = weft_span_start(h->t, "worker", &(weft_span_options){ .parent = &h->parent });
		weft_span_end(s);
	}
	h->span = weft_span_start(h->t, "handed over", &(weft_span_options){ .parent = &h->parent });
	return NULL; /* the thread exits with a span of its pool still open */
}

static void
spans_cross_threads_and_outlive_their_thread(void **state)
{
	server srv;
	weft_tracer *t;
	weft_span *root;
	handoff h;
	pthread_t th;
	weft_stats st;
	(void)state;

	server_init(&srv);
	server_start(&srv);
	t = tracer(srv.url, NULL, 0);
	root = weft_span_start(t, "root", NULL);
	h = (handoff){ t, NULL, weft_span_get_context(root) };
	for (int round = 0; round < 3; round++) {
		assert_int_equal(pthread_create(&th, NULL, start_then_exit, &h), 0);
		assert_int_equal(pthread_join(th, NULL), 0);
		weft_span_end(h.span); /* ended here, owned by a thread that is gone */
	}
	weft_span_end(root);
	assert_int_equal(weft_tracer_flush(t, 15000), WEFT_OK);
	weft_tracer_stats(t, &st);
	assert_int_equal(st.spans_started, 1 + 3 * 51);
	assert_int_equal(st.spans_exported, 1 + 3 * 51);
	assert_int_equal(stored(&srv, h.parent), 1 + 3 * 51);
	weft_tracer_destroy(t);
	server_stop(&srv);
}

static void
batches_close_at_the_byte_limit(void **state)
{
	weft_tracer_config cfg = { .service_name = "svc", .schedule_delay_ms = 20, .shutdown_timeout_ms = 200,
		.max_export_batch_bytes = 16 << 10 };
	char value[2048];
	server srv;
	weft_tracer *t = NULL;
	weft_stats st;
	(void)state;
	server_init(&srv);
	server_start(&srv);
	cfg.endpoint = srv.url;
	assert_int_equal(weft_tracer_create(&cfg, &t), WEFT_OK);
	memset(value, 'v', sizeof value - 1);
	value[sizeof value - 1] = '\0';
	for (int i = 0; i < 100; i++) { /* over 2 KiB each: at most 8 to a batch */
		weft_span *s = weft_span_start(t, "s", NULL);
		weft_span_set_str(s, "payload", value);
		weft_span_end(s);
	}
	assert_int_equal(weft_tracer_flush(t, 15000), WEFT_OK);
	weft_tracer_stats(t, &st);
	assert_int_equal(st.spans_exported, 100);
	assert_true(st.batches_sent >= 100 * 2048 / (16 << 10));
	weft_tracer_destroy(t);
	server_stop(&srv);
}

static uint32_t
breaker_state(weft_tracer *t)
{
	weft_stats st;
	weft_tracer_stats(t, &st);
	return st.breaker;
}

static void
breaker_opens_while_the_collector_is_down_and_closes_after(void **state)
{
	weft_tracer_config cfg = { .service_name = "svc", .schedule_delay_ms = 20, .shutdown_timeout_ms = 200,
		.breaker_failures = 2, .breaker_cooldown_ms = 300, .export_timeout_ms = 200 };
	server srv;
	weft_tracer *t = NULL;
	weft_span *s;
	weft_stats st;
	(void)state;

	server_init(&srv);
	cfg.endpoint = srv.url;
	assert_int_equal(weft_tracer_create(&cfg, &t), WEFT_OK);
	s = weft_span_start(t, "waits", NULL);
	weft_span_end(s);
	for (int i = 0; i < 500 && breaker_state(t) != WEFT_BREAKER_OPEN; i++)
		usleep(10000);
	assert_int_equal(breaker_state(t), WEFT_BREAKER_OPEN);
	server_start(&srv);
	assert_int_equal(weft_tracer_flush(t, 15000), WEFT_OK);
	weft_tracer_stats(t, &st);
	assert_int_equal(st.breaker, WEFT_BREAKER_CLOSED);
	assert_true(st.breaker_opens >= 1);
	assert_true(st.retries >= 2);
	assert_int_equal(st.spans_exported, 1);
	assert_int_equal(stored(&srv, weft_span_get_context(s)), 0 + 1);
	weft_tracer_destroy(t);
	server_stop(&srv);
}

static void
forked_child_exports_its_own_spans_only(void **state)
{
	server srv;
	weft_tracer *t;
	weft_span *open_at_fork, *root;
	weft_span_context parent_ctx, child_ctx;
	int status, pipefd[2];
	pid_t pid;
	(void)state;

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
	/*
	 * The sanitizers' runtimes are not fork-safe in a multi-threaded
	 * process: ThreadSanitizer refuses, and AddressSanitizer's allocator
	 * (GCC 12) can be inherited locked, so the child hangs in malloc.
	 * glibc's malloc re-initialises its locks in the child.
	 */
	skip();
#endif
	server_init(&srv);
	server_start(&srv);
	t = tracer(srv.url, NULL, 0);
	root = weft_span_start(t, "parent", NULL);
	parent_ctx = weft_span_get_context(root);
	weft_span_end(root);
	open_at_fork = weft_span_start(t, "open at fork", &(weft_span_options){ .parent = &parent_ctx });
	for (int i = 0; i < 20; i++) /* queued, maybe not sent, when the child is made */
		weft_span_end(weft_span_start(t, "queued", &(weft_span_options){ .parent = &parent_ctx }));
	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		weft_stats st;
		weft_span *c = weft_span_start(t, "child root", &(weft_span_options){ .root = true });
		weft_span_context cc = weft_span_get_context(c);
		for (int i = 0; i < 9; i++)
			weft_span_end(weft_span_start(t, "child", &(weft_span_options){ .parent = &cc }));
		weft_span_end(c);
		weft_span_end(open_at_fork); /* the parent's: not exported by the child */
		int ok = weft_tracer_flush(t, 10000) == WEFT_OK;
		weft_tracer_stats(t, &st);
		ok = ok && st.spans_exported == 10;
		if (write(pipefd[1], &cc, sizeof cc) != (ssize_t)sizeof cc)
			ok = 0;
		weft_tracer_destroy(t);
		_exit(ok ? 0 : 1);
	}
	close(pipefd[1]);
	assert_int_equal(read(pipefd[0], &child_ctx, sizeof child_ctx), (ssize_t)sizeof child_ctx);
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	weft_span_end(open_at_fork);
	assert_int_equal(weft_tracer_flush(t, 15000), WEFT_OK);
	assert_int_equal(stored(&srv, child_ctx), 10);
	assert_int_equal(stored(&srv, parent_ctx), 22); /* parent, open-at-fork, 20 queued: none twice */
	weft_tracer_destroy(t);
	server_stop(&srv);
}

/*
 * A recording span's start, end and event times are read as TSC ticks
 * once the clock is calibrated, and the exporter turns them into unix
 * nanoseconds; a start given in nanoseconds is kept as it is. Either way
 * what the store gets lies between two realtime readings around the span.
 */
static void
span_times_are_realtime_when_read_as_ticks(void **state)
{
	const uint64_t slack = 5000000; /* a new base may run up to 1 ms ahead of the realtime clock (tsc.c) */
	server srv;
	weft_tracer *t;
	weft_span *s, *given;
	weft_span_context ctx;
	cm_batch b;
	cm_trace_id id;
	uint64_t before, after, given_start;
	(void)state;

	sdk_tsc_calibrate();
	usleep(250000);
	sdk_tsc_calibrate(); /* the rate needs 200 ms between calibrations */
	server_init(&srv);
	server_start(&srv);
	t = tracer(srv.url, NULL, 0);
	before = cm_now_ns();
	s = weft_span_start(t, "ticks", NULL);
	assert_true(s->ticks == (atomic_load(&sdk_tsc_state.mult) != 0));
	ctx = weft_span_get_context(s);
	usleep(2000);
	weft_span_add_event(s, "middle", NULL, 0);
	usleep(2000);
	given_start = before - 1000000;
	given = weft_span_start(t, "given", &(weft_span_options){ .parent = &ctx, .start_ns = given_start });
	assert_false(given->ticks);
	weft_span_end(given);
	weft_span_end(s);
	after = cm_now_ns();
	assert_int_equal(weft_tracer_flush(t, 15000), WEFT_OK);

	wait_written(&srv);
	memcpy(id.b, ctx.trace_id.b, 16);
	cm_batch_init(&b);
	assert_int_equal(st_trace_get(srv.store, &id, &b), CM_OK);
	assert_int_equal(b.nspans, 2);
	for (uint32_t i = 0; i < b.nspans; i++) {
		const cm_span *sp = &b.spans[i];
		if (cm_str_eq(sp->name, "given")) {
			assert_int_equal(sp->start_ns, given_start);
			assert_true(sp->end_ns >= before - slack && sp->end_ns <= after + slack);
			continue;
		}
		assert_true(sp->start_ns >= before - slack && sp->start_ns <= after + slack);
		assert_true(sp->end_ns >= sp->start_ns + 4000000 && sp->end_ns <= after + slack);
		assert_int_equal(sp->nevents, 1);
		assert_true(sp->events[0].time_ns >= sp->start_ns + 2000000 && sp->events[0].time_ns <= sp->end_ns - 2000000);
	}
	cm_batch_fini(&b);
	weft_tracer_destroy(t);
	server_stop(&srv);
}

/*
 * With no exporter calibrating (one blocked on a hung collector, say), the
 * first reading past the base's age limit calibrates on the reader's
 * thread instead of leaving every later reading to clock_gettime.
 */
static void
stale_clock_base_is_refreshed_by_its_reader(void **state)
{
	(void)state;
	sdk_tsc_calibrate();
	usleep(250000);
	sdk_tsc_calibrate(); /* the rate needs 200 ms between calibrations */
	if (atomic_load(&sdk_tsc_state.mult) == 0)
		skip(); /* no invariant TSC: spans read clock_gettime */
	uint64_t base = atomic_load(&sdk_tsc_state.base_tsc);
	assert_int_not_equal(atomic_load(&sdk_tsc_state.max_ticks), 0);
	usleep(2100000); /* past the base's age limit; no tracer is alive to calibrate */
	uint64_t t = sdk_tsc_read(), now = cm_now_ns();
	assert_int_not_equal(atomic_load(&sdk_tsc_state.base_tsc), base);
	/*
	 * Sanity only: a loaded machine may preempt between two readings, and
	 * a new base may stay up to 1 ms ahead of the realtime clock (tsc.c:
	 * it never goes behind what the old base gave).
	 */
	assert_true(t <= now && now - t < 100000000);
	t = sdk_tsc_read(); /* from the new base */
	now = cm_now_ns();
	assert_true(t <= now + 5000000 && (t > now || now - t < 100000000));
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
		cmocka_unit_test(native_requests_are_stored_cleaned_also_after_a_crash),
		cmocka_unit_test(span_limits_cut_and_count),
		cmocka_unit_test(lengths_given_or_measured),
		cmocka_unit_test(byte_budget_bounds_what_waits),
		cmocka_unit_test(rate_limiting_sampler_keeps_n_per_second),
		cmocka_unit_test(scoped_span_ends_when_its_block_exits),
		cmocka_unit_test(spans_cross_threads_and_outlive_their_thread),
		cmocka_unit_test(batches_close_at_the_byte_limit),
		cmocka_unit_test(breaker_opens_while_the_collector_is_down_and_closes_after),
		cmocka_unit_test(forked_child_exports_its_own_spans_only),
		cmocka_unit_test(span_times_are_realtime_when_read_as_ticks),
		cmocka_unit_test(stale_clock_base_is_refreshed_by_its_reader),
	};
	return cmocka_run_group_tests_name("sdk", tests, NULL, NULL);
}
