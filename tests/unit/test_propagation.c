/*
 * test_propagation.c - tracestate, baggage, B3 (single and multi), Jaeger,
 * the composite propagator and header-array carriers, through the public
 * API only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "weft.h"

#define TRACE "4bf92f3577b34da6a3ce929d0e0e4736"
#define SPAN "00f067aa0ba902b7"
#define TP "00-" TRACE "-" SPAN "-01"

static weft_tracer *
tracer(const char *propagators)
{
	weft_tracer_config cfg = { .service_name = "p", .endpoint = "tcp://127.0.0.1:1", .propagators = propagators,
		.shutdown_timeout_ms = 50 };
	weft_tracer *t = NULL;
	assert_int_equal(weft_tracer_create(&cfg, &t), WEFT_OK);
	return t;
}

static void
tracestate_is_normalised_and_validated(void **state)
{
	char out[WEFT_TRACESTATE_MAX], big[2048];
	(void)state;
	assert_int_equal(weft_tracestate_parse(" rojo=00f067aa0ba902b7 ,, congo=t61rcWkgMzE\t", out, sizeof out), WEFT_OK);
	assert_string_equal(out, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
	assert_int_equal(weft_tracestate_parse("tenant@vendor=x,a-b_c*d/e=1", out, sizeof out), WEFT_OK);
	assert_string_equal(out, "tenant@vendor=x,a-b_c*d/e=1");
	assert_int_equal(weft_tracestate_parse("a=x y ,b=1", out, sizeof out), WEFT_OK);
	assert_string_equal(out, "a=x y,b=1"); /* spaces inside a value stay, around a member go */
	assert_int_equal(weft_tracestate_parse("", out, sizeof out), WEFT_OK);
	assert_string_equal(out, "");
	/* Lists W3C says to discard whole. */
	const char *bad[] = { "a=1,a=2", "Upper=1", "1abc=x", "a=b=c", "novalue", "a=", "@v=1",
		"t@=1", "t@Vendor=1", "t@vendorvendorvend=1", "a=\x7f" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(weft_tracestate_parse(bad[i], out, sizeof out), WEFT_EINVAL);
		assert_string_equal(out, "");
	}
	/* 32 members pass, 33 do not. */
	big[0] = '\0';
	for (int i = 0; i < 32; i++)
		snprintf(big + strlen(big), sizeof big - strlen(big), "%sk%d=v", i ? "," : "", i);
	assert_int_equal(weft_tracestate_parse(big, out, sizeof out), WEFT_OK);
	strcat(big, ",k32=v");
	assert_int_equal(weft_tracestate_parse(big, out, sizeof out), WEFT_EINVAL);
}

static void
long_tracestate_drops_long_members_first(void **state)
{
	char in[1200], out[WEFT_TRACESTATE_MAX], v[250];
	(void)state;
	memset(v, 'x', sizeof v - 1);
	v[sizeof v - 1] = '\0';
	/* 3 short members, then 3 of ~250 characters: 758 > 512 */
	snprintf(in, sizeof in, "a=1,long1=%s,b=2,long2=%s,c=3,long3=%s", v, v, v);
	assert_int_equal(weft_tracestate_parse(in, out, sizeof out), WEFT_OK);
	assert_true(strlen(out) <= WEFT_TRACESTATE_MAX - 1);
	assert_non_null(strstr(out, "a=1"));
	assert_non_null(strstr(out, "b=2"));
	assert_non_null(strstr(out, "c=3"));
	assert_non_null(strstr(out, "long1="));
	assert_null(strstr(out, "long3="));
}

static void
tracestate_set_moves_the_member_to_the_front(void **state)
{
	char ts[WEFT_TRACESTATE_MAX] = "a=1,weft=old,b=2";
	(void)state;
	assert_int_equal(weft_tracestate_set(ts, sizeof ts, "weft", "new"), WEFT_OK);
	assert_string_equal(ts, "weft=new,a=1,b=2");
	assert_int_equal(weft_tracestate_set(ts, sizeof ts, "Bad", "x"), WEFT_EINVAL);
	assert_int_equal(weft_tracestate_set(ts, sizeof ts, "k", "a,b"), WEFT_EINVAL);
	assert_string_equal(ts, "weft=new,a=1,b=2");
}

static void
baggage_parses_gets_and_sets(void **state)
{
	char bg[WEFT_BAGGAGE_MAX], v[64];
	(void)state;
	assert_int_equal(weft_baggage_parse(" userId = alice ; prop1 ; p2=x , bad key=1, sess=a%20b,=x,k=\"q\"", bg, sizeof bg),
	    WEFT_OK);
	assert_string_equal(bg, "userId=alice;prop1;p2=x,sess=a%20b");
	assert_int_equal(weft_baggage_get(bg, "sess", v, sizeof v), WEFT_OK);
	assert_string_equal(v, "a b");
	assert_int_equal(weft_baggage_get(bg, "userId", v, sizeof v), WEFT_OK);
	assert_string_equal(v, "alice");
	assert_int_equal(weft_baggage_get(bg, "nope", v, sizeof v), WEFT_ENOENT);
	assert_int_equal(weft_baggage_get(bg, "sess", v, 3), WEFT_ETOOBIG);
	assert_int_equal(weft_baggage_set(bg, sizeof bg, "userId", "bob, the builder;%"), WEFT_OK);
	assert_string_equal(bg, "sess=a%20b,userId=bob%2C%20the%20builder%3B%25");
	assert_int_equal(weft_baggage_get(bg, "userId", v, sizeof v), WEFT_OK);
	assert_string_equal(v, "bob, the builder;%");
	assert_int_equal(weft_baggage_set(bg, sizeof bg, "bad key", "x"), WEFT_EINVAL);
	assert_int_equal(weft_baggage_set(bg, 20, "longer", "value that does not fit"), WEFT_ETOOBIG);
}

/* Extracts from name/value pairs with a tracer using formats `props`. */
static int
extract(const char *props, const weft_header *h, size_t n, weft_context *out)
{
	weft_tracer *t = tracer(props);
	int rv = weft_extract_headers(t, h, n, out);
	weft_tracer_destroy(t);
	return rv;
}

static void
assert_ctx(const weft_context *c, const char *trace, const char *span, int sampled)
{
	char tp[WEFT_TRACEPARENT_SIZE], want[64];
	assert_int_equal(weft_traceparent_format(&c->span, tp, sizeof tp), WEFT_OK);
	snprintf(want, sizeof want, "00-%s-%s-0%d", trace, span, sampled);
	assert_string_equal(tp, want);
	assert_true(c->span.remote);
}

static void
b3_single_header(void **state)
{
	weft_context c;
	(void)state;
	assert_int_equal(extract("b3", (weft_header[]){ { "B3", TRACE "-" SPAN "-1-05e3ac9a4f6e3b90" } }, 1, &c), WEFT_OK);
	assert_ctx(&c, TRACE, SPAN, 1);
	assert_int_equal(extract("b3", (weft_header[]){ { "b3", "a3ce929d0e0e4736-" SPAN "-0" } }, 1, &c), WEFT_OK);
	assert_ctx(&c, "0000000000000000a3ce929d0e0e4736", SPAN, 0);
	assert_int_equal(extract("b3", (weft_header[]){ { "b3", TRACE "-" SPAN "-d" } }, 1, &c), WEFT_OK);
	assert_ctx(&c, TRACE, SPAN, 1);
	assert_int_equal(extract("b3", (weft_header[]){ { "b3", TRACE "-" SPAN } }, 1, &c), WEFT_OK);
	assert_ctx(&c, TRACE, SPAN, 1); /* deferred: kept */
	const char *bad[] = { "0", "1", TRACE "-" SPAN "-2", TRACE "-123", "abc-" SPAN "-1", TRACE "-" SPAN "-1-xyz",
		"00000000000000000000000000000000-" SPAN "-1" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(extract("b3", (weft_header[]){ { "b3", bad[i] } }, 1, &c), WEFT_ENOENT);
}

static void
b3_multiple_headers(void **state)
{
	weft_context c;
	(void)state;
	assert_int_equal(extract("b3multi",
	                     (weft_header[]){ { "x-b3-traceid", TRACE }, { "X-B3-SpanId", SPAN }, { "X-B3-Sampled", "1" } },
	                     3, &c),
	    WEFT_OK);
	assert_ctx(&c, TRACE, SPAN, 1);
	assert_int_equal(extract("b3multi",
	                     (weft_header[]){ { "X-B3-TraceId", "a3ce929d0e0e4736" }, { "X-B3-SpanId", SPAN },
	                         { "X-B3-Sampled", "false" } },
	                     3, &c),
	    WEFT_OK);
	assert_ctx(&c, "0000000000000000a3ce929d0e0e4736", SPAN, 0);
	assert_int_equal(extract("b3multi",
	                     (weft_header[]){ { "X-B3-TraceId", TRACE }, { "X-B3-SpanId", SPAN }, { "X-B3-Sampled", "0" },
	                         { "X-B3-Flags", "1" } },
	                     4, &c),
	    WEFT_OK);
	assert_ctx(&c, TRACE, SPAN, 1); /* debug wins */
	assert_int_equal(extract("b3multi", (weft_header[]){ { "X-B3-TraceId", TRACE } }, 1, &c), WEFT_ENOENT);
	assert_int_equal(extract("b3multi",
	                     (weft_header[]){ { "X-B3-TraceId", TRACE }, { "X-B3-SpanId", SPAN }, { "X-B3-Sampled", "yes" } },
	                     3, &c),
	    WEFT_ENOENT);
}

static void
jaeger_uber_trace_id_and_baggage(void **state)
{
	weft_context c;
	char v[32];
	(void)state;
	assert_int_equal(extract("jaeger", (weft_header[]){ { "uber-trace-id", TRACE ":" SPAN ":0:1" } }, 1, &c), WEFT_OK);
	assert_ctx(&c, TRACE, SPAN, 1);
	assert_int_equal(extract("jaeger",
	                     (weft_header[]){ { "Uber-Trace-Id", "a3ce929d0e0e4736%3Af067aa0ba902b7%3A0%3A3" },
	                         { "uberctx-user", "alice%20smith" }, { "UBERCTX-team", "core" } },
	                     3, &c),
	    WEFT_OK);
	assert_ctx(&c, "0000000000000000a3ce929d0e0e4736", SPAN, 1);
	assert_int_equal(weft_baggage_get(c.baggage, "user", v, sizeof v), WEFT_OK);
	assert_string_equal(v, "alice smith");
	assert_int_equal(weft_baggage_get(c.baggage, "team", v, sizeof v), WEFT_OK);
	assert_string_equal(v, "core");
	assert_int_equal(extract("jaeger", (weft_header[]){ { "uber-trace-id", TRACE ":" SPAN ":0:0" } }, 1, &c), WEFT_OK);
	assert_ctx(&c, TRACE, SPAN, 0);
	const char *bad[] = { TRACE ":" SPAN ":0", TRACE ":" SPAN ":0:1:9", "0:" SPAN ":0:1", TRACE ":0:0:1",
		TRACE ":" SPAN ":0:xyz", "zz:" SPAN ":0:1", TRACE "::0:1" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(extract("jaeger", (weft_header[]){ { "uber-trace-id", bad[i] } }, 1, &c), WEFT_ENOENT);
}

static const char *
find(const weft_header *h, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(h[i].name, name) == 0)
			return h[i].value;
	return NULL;
}

static void
every_format_injects_what_it_extracts(void **state)
{
	weft_tracer *t = tracer("tracecontext,baggage,b3,b3multi,jaeger");
	weft_header h[16];
	char buf[4096], tp[WEFT_TRACEPARENT_SIZE];
	weft_context in = { 0 }, back;
	weft_span *s;
	size_t n;
	(void)state;

	assert_int_equal(weft_traceparent_parse(TP, &in.span), WEFT_OK);
	strcpy(in.tracestate, "vendor=x");
	strcpy(in.baggage, "user=alice%20s");
	s = weft_span_start(t, "op", &(weft_span_options){ .context = &in });
	assert_int_equal(weft_span_set_tracestate(s, "weft", "1"), WEFT_OK);
	n = weft_inject_headers(s, h, 16, buf, sizeof buf);
	assert_int_equal(n, 9);
	weft_span_context sc = weft_span_get_context(s);
	weft_traceparent_format(&sc, tp, sizeof tp);
	assert_string_equal(find(h, n, "traceparent"), tp);
	assert_string_equal(find(h, n, "tracestate"), "weft=1,vendor=x");
	assert_string_equal(find(h, n, "baggage"), "user=alice%20s");
	assert_non_null(strstr(find(h, n, "b3"), TRACE "-"));
	assert_string_equal(find(h, n, "X-B3-TraceId"), TRACE);
	assert_string_equal(find(h, n, "X-B3-Sampled"), "1");
	assert_non_null(strstr(find(h, n, "uber-trace-id"), TRACE ":"));
	assert_string_equal(find(h, n, "uberctx-user"), "alice%20s");
	/* Each format alone reads back the same context. */
	const char *one[] = { "tracecontext", "b3", "b3multi", "jaeger" };
	for (size_t i = 0; i < 4; i++) {
		weft_tracer *ti = tracer(one[i]);
		assert_int_equal(weft_extract_headers(ti, h, n, &back), WEFT_OK);
		assert_memory_equal(&back.span.trace_id, &sc.trace_id, 16);
		assert_memory_equal(&back.span.span_id, &sc.span_id, 8);
		weft_tracer_destroy(ti);
	}
	/* A buffer too small leaves headers out instead of cutting them. */
	assert_true(weft_inject_headers(s, h, 16, buf, 40) < n);
	weft_span_end(s);
	weft_tracer_destroy(t);
}

static void
composite_order_and_header_joining(void **state)
{
	weft_context c;
	unsigned set;
	(void)state;
	assert_int_equal(weft_propagators_parse("tracecontext, baggage,b3", &set), WEFT_OK);
	assert_int_equal(weft_propagators_parse("none", &set), WEFT_OK);
	assert_int_equal(weft_propagators_parse("xray", &set), WEFT_EINVAL);
	/* Later formats win; tracestate belongs to the traceparent it came with. */
	weft_header h[] = { { "traceparent", TP }, { "tracestate", "a=1" },
		{ "b3", "a3ce929d0e0e4736a3ce929d0e0e4736-1111111111111111-1" } };
	assert_int_equal(extract("tracecontext,b3", h, 3, &c), WEFT_OK);
	assert_ctx(&c, "a3ce929d0e0e4736a3ce929d0e0e4736", "1111111111111111", 1);
	assert_string_equal(c.tracestate, "");
	assert_int_equal(extract("b3,tracecontext", h, 3, &c), WEFT_OK);
	assert_ctx(&c, TRACE, SPAN, 1);
	assert_string_equal(c.tracestate, "a=1");
	/* Repeated tracestate and baggage headers are one list. */
	weft_header rep[] = { { "traceparent", TP }, { "TraceState", "a=1" }, { "tracestate", "b=2" },
		{ "baggage", "k1=v1" }, { "Baggage", "k2=v2" } };
	assert_int_equal(extract("tracecontext,baggage", rep, 5, &c), WEFT_OK);
	assert_string_equal(c.tracestate, "a=1,b=2");
	assert_string_equal(c.baggage, "k1=v1,k2=v2");
	/* An invalid traceparent takes its tracestate with it. */
	weft_header badtp[] = { { "traceparent", "00-" TRACE "-" SPAN "-1" }, { "tracestate", "a=1" } };
	assert_int_equal(extract("tracecontext", badtp, 2, &c), WEFT_ENOENT);
	assert_string_equal(c.tracestate, "");
}

static void
children_inherit_tracestate_and_baggage(void **state)
{
	weft_tracer *t = tracer(NULL);
	weft_context in = { 0 };
	weft_span *server, *child, *fresh;
	char v[16];
	(void)state;
	assert_int_equal(weft_traceparent_parse(TP, &in.span), WEFT_OK);
	strcpy(in.tracestate, "v=1");
	server = weft_span_start(t, "server", &(weft_span_options){ .context = &in });
	assert_int_equal(weft_span_set_baggage(server, "tenant", "acme"), WEFT_OK);
	weft_span_make_current(server);
	child = weft_span_start(t, "child", NULL);
	assert_string_equal(weft_span_tracestate(child), "v=1");
	assert_int_equal(weft_baggage_get(weft_span_baggage(child), "tenant", v, sizeof v), WEFT_OK);
	assert_string_equal(v, "acme");
	/* A carrier with baggage but no parent: a new trace with that baggage. */
	weft_context only_bag = { 0 };
	strcpy(only_bag.baggage, "k=v");
	fresh = weft_span_start(t, "fresh", &(weft_span_options){ .context = &only_bag });
	weft_span_context fc = weft_span_get_context(fresh), sc = weft_span_get_context(server);
	assert_memory_not_equal(fc.trace_id.b, sc.trace_id.b, 16);
	assert_string_equal(weft_span_baggage(fresh), "k=v");
	assert_string_equal(weft_span_tracestate(fresh), "");
	weft_span_end(fresh);
	weft_span_end(child);
	weft_span_end(server);
	weft_tracer_destroy(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tracestate_is_normalised_and_validated),
		cmocka_unit_test(long_tracestate_drops_long_members_first),
		cmocka_unit_test(tracestate_set_moves_the_member_to_the_front),
		cmocka_unit_test(baggage_parses_gets_and_sets),
		cmocka_unit_test(b3_single_header),
		cmocka_unit_test(b3_multiple_headers),
		cmocka_unit_test(jaeger_uber_trace_id_and_baggage),
		cmocka_unit_test(every_format_injects_what_it_extracts),
		cmocka_unit_test(composite_order_and_header_joining),
		cmocka_unit_test(children_inherit_tracestate_and_baggage),
	};
	return cmocka_run_group_tests_name("propagation", tests, NULL, NULL);
}
