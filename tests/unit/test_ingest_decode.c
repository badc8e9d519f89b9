/*
 * test_ingest_decode.c - the OTLP JSON, OTLP protobuf and Zipkin decoders on
 * real requests captured from OpenTelemetry JS exporters (tests/fixtures, copies of the workspace's shared/fixtures),
 * and on malformed input, which must be refused with a reason, never crash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "ids.h"
#include "jsondepth.h"
#include "otlp_json.h"
#include "otlp_proto.h"
#include "otlp_trace.pb-c.h"
#include "zipkin.h"

static char *
fixture(const char *rel, size_t *len)
{
	const char *dir = getenv("WEFT_FIXTURES");
	char path[1024];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "tests/fixtures", rel);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open fixture %s (set WEFT_FIXTURES)", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static const cm_span *
span_named(const cm_batch *b, const char *name)
{
	for (uint32_t i = 0; i < b->nspans; i++)
		if (cm_str_eq(b->spans[i].name, name))
			return &b->spans[i];
	fail_msg("no span %s", name);
	return NULL;
}

static const cm_value *
attr(const cm_attrs *a, const char *key)
{
	for (uint32_t i = 0; i < a->n; i++)
		if (cm_str_eq(a->v[i].key, key))
			return &a->v[i].val;
	fail_msg("no attribute %s", key);
	return NULL;
}

static void
assert_id(const uint8_t *id, size_t n, const char *hex)
{
	char got[33];
	cm_hex_encode(id, n, got);
	assert_string_equal(got, hex);
}

/* What the OTLP JSON and protobuf checkout fixtures both hold. */
static void
check_otlp_checkout(const cm_batch *b)
{
	const cm_span *db, *cart, *root;
	const cm_value *v;

	assert_int_equal(b->nspans, 3);
	assert_int_equal(b->nresources, 1);
	assert_true(cm_str_eq(b->resources[0].service, "checkout"));
	assert_true(cm_str_eq(attr(&b->resources[0].attrs, "service.version")->u.s, "1.2.3"));
	assert_true(cm_str_eq(b->scopes[0].name, "research-emitter"));
	assert_true(cm_str_eq(b->scopes[0].version, "0.1.0"));

	db = span_named(b, "SELECT inventory");
	assert_id(db->trace_id.b, 16, "5b8efff798038103d269b633813fc60c");
	assert_id(db->span_id.b, 8, "eee19b7ec3c1b172");
	assert_id(db->parent_span_id.b, 8, "eee19b7ec3c1b173");
	assert_int_equal(db->kind, CM_KIND_CLIENT);
	assert_int_equal(db->status, CM_STATUS_ERROR);
	assert_true(cm_str_eq(db->status_message, "connection reset"));
	assert_true(db->start_ns == 1700000000020000000u && db->end_ns == 1700000000080000000u);
	assert_int_equal(db->flags, 257);
	assert_int_equal(db->nevents, 1);
	assert_true(cm_str_eq(db->events[0].name, "exception"));
	assert_true(db->events[0].time_ns == 1700000000070000000u);
	assert_int_equal(db->events[0].attrs.n, 3);
	assert_true(cm_str_eq(attr(&db->events[0].attrs, "exception.type")->u.s, "IOError"));

	cart = span_named(b, "validate-cart");
	assert_int_equal(cart->kind, CM_KIND_INTERNAL);
	assert_int_equal(cart->status, CM_STATUS_OK);
	v = attr(&cart->attrs, "cart.items");
	assert_int_equal(v->type, CM_VAL_INT);
	assert_int_equal(v->u.i, 3);
	v = attr(&cart->attrs, "cart.total");
	assert_int_equal(v->type, CM_VAL_DOUBLE);
	assert_true(v->u.d == 99.5);
	v = attr(&cart->attrs, "cart.express");
	assert_int_equal(v->type, CM_VAL_BOOL);
	assert_true(v->u.b);
	v = attr(&cart->attrs, "cart.skus");
	assert_int_equal(v->type, CM_VAL_ARRAY);
	assert_int_equal(v->u.arr.n, 3);
	assert_true(cm_str_eq(v->u.arr.v[2].u.s, "c"));

	root = span_named(b, "GET /checkout");
	assert_int_equal(root->kind, CM_KIND_SERVER);
	assert_true(cm_span_id_is_zero(&root->parent_span_id));
	assert_int_equal(attr(&root->attrs, "http.response.status_code")->u.i, 500);
}

static void
otlp_json_fixture_decodes(void **state)
{
	size_t len;
	char *body = fixture("otlp/otel-js-checkout.json", &len);
	const char *why = NULL;
	cm_batch b;
	(void)state;
	cm_batch_init(&b);
	assert_int_equal(col_otlp_json_decode(body, len, &b, &why), CM_OK);
	check_otlp_checkout(&b);
	cm_batch_fini(&b);
	free(body);
}

static void
otlp_protobuf_fixture_decodes_the_same(void **state)
{
	size_t len;
	char *body = fixture("otlp/otel-js-checkout.pb", &len);
	const char *why = NULL;
	cm_batch b;
	(void)state;
	cm_batch_init(&b);
	assert_int_equal(col_otlp_proto_decode(body, len, &b, &why), CM_OK);
	check_otlp_checkout(&b);
	/* Strings are not copied: they point into the body, which outlives the batch. */
	assert_true(b.spans[0].name.p > body && b.spans[0].name.p < body + len);
	cm_batch_fini(&b);
	free(body);
}

/* Appends field `field` (length-delimited) holding in[0..n) to out; returns the bytes written. */
static size_t
pb_wrap(uint8_t *out, unsigned field, const void *in, size_t n)
{
	size_t h = 0, l = n;
	out[h++] = (uint8_t)(field << 3 | 2);
	do {
		out[h++] = (uint8_t)((l & 0x7f) | (l > 0x7f ? 0x80 : 0));
		l >>= 7;
	} while (l);
	memmove(out + h, in, n);
	return h + n;
}

/* A request whose ResourceSpans is rs[0..n), then a span of span[0..m) in a ScopeSpans after it. */
static size_t
request_of(uint8_t *out, const void *rs, size_t n, const void *span, size_t m)
{
	uint8_t a[512], b[512];
	size_t k = pb_wrap(a, 2, span, m); /* ScopeSpans.spans */
	memcpy(b, rs, n);
	k = n + pb_wrap(b + n, 2, a, k); /* ResourceSpans.scope_spans */
	return pb_wrap(out, 1, b, k);    /* ExportTraceServiceRequest.resource_spans */
}

static int
decode_span_bytes(const void *span, size_t m, cm_batch *b, const char **why)
{
	uint8_t req[1024];
	size_t n = request_of(req, "", 0, span, m);
	cm_batch_init(b);
	return col_otlp_proto_decode(req, n, b, why);
}

/* Proto3's rules on the wire, as the OpenTelemetry Collector applies them. */
static void
protobuf_follows_proto3_rules(void **state)
{
	static const uint8_t ids_twice[] = "\x0a\x10" "AAAAAAAAAAAAAAAA" "\x12\x08" "BBBBBBBB"
	                                   "\x22\x10" "CCCCCCCCCCCCCCCC" "\x22\x08" "DDDDDDDD";
	static const uint8_t unknown[] = "\x12\x08" "BBBBBBBB" "\xa0\x06\x01" "\xa1\x06" "12345678" "\xaa\x06\x01x";
	static const uint8_t name_as_varint[] = "\x12\x08" "BBBBBBBB" "\x28\x01";
	static const uint8_t group[] = "\x12\x08" "BBBBBBBB" "\x0b";
	/* an attribute {k: kvlist {a: AnyValue{array_value: <a key of field 0>, string_value: "x"}}} */
	static const uint8_t replaced_bad[] = "\x12\x08" "BBBBBBBB" "\x4a\x14\x0a\x01k\x12\x0f\x32\x0d\x0a\x0b"
	                                      "\x0a\x01" "a" "\x12\x06\x2a\x01\x00\x0a\x01" "x";
	/* Resource{ attributes: {a: "1x"} } twice, the second {service.name: "svc!"}, dropped 2 */
	static const uint8_t two_resources[] = "\x0a\x0b\x0a\x09\x0a\x01" "a" "\x12\x04\x0a\x02" "1" "x"
	                                       "\x0a\x1a\x0a\x16\x0a\x0c" "service.name" "\x12\x06\x0a\x04" "svc!" "\x10\x02";
	uint8_t req[1024];
	const char *why = NULL;
	cm_batch b;
	size_t n;
	(void)state;

	/* Of a field sent twice the last counts: the 16-byte parent id is replaced before it is checked. */
	assert_int_equal(decode_span_bytes(ids_twice, sizeof ids_twice - 1, &b, &why), CM_OK);
	assert_int_equal(b.spans[0].trace_id.b[15], 'A');
	assert_int_equal(b.spans[0].parent_span_id.b[7], 'D');
	cm_batch_fini(&b);
	/* Unknown fields of every wire type are skipped. */
	assert_int_equal(decode_span_bytes(unknown, sizeof unknown - 1, &b, &why), CM_OK);
	assert_int_equal(b.nspans, 1);
	cm_batch_fini(&b);
	/* A known field with another wire type, and groups, are refused. */
	assert_int_equal(decode_span_bytes(name_as_varint, sizeof name_as_varint - 1, &b, &why), CM_EPROTO);
	assert_string_equal(why, "OTLP field has the wrong protobuf wire type");
	cm_batch_fini(&b);
	assert_int_equal(decode_span_bytes(group, sizeof group - 1, &b, &why), CM_EPROTO);
	assert_string_equal(why, "protobuf group or invalid wire type");
	cm_batch_fini(&b);
	/* Bad bytes in a member a later one replaced are refused too, inside a kvlist as anywhere. */
	assert_int_equal(decode_span_bytes(replaced_bad, sizeof replaced_bad - 1, &b, &why), CM_EPROTO);
	assert_string_equal(why, "protobuf field key is malformed");
	cm_batch_fini(&b);
	/* A singular message sent twice merges: both resources' attributes, the last dropped count. */
	n = request_of(req, two_resources, sizeof two_resources - 1, unknown, 10);
	cm_batch_init(&b);
	assert_int_equal(col_otlp_proto_decode(req, n, &b, &why), CM_OK);
	assert_int_equal(b.nresources, 1);
	assert_int_equal(b.resources[0].attrs.n, 2);
	assert_int_equal(b.resources[0].attrs.dropped, 2);
	assert_true(cm_str_eq(b.resources[0].service, "svc!"));
	assert_true(cm_str_eq(attr(&b.resources[0].attrs, "a")->u.s, "1x"));
	cm_batch_fini(&b);
}

/*
 * A request with every field the decoder reads, packed by protobuf-c from
 * the .proto written from the OTLP specification, decodes field for field.
 * (protobuf-c's strings are char *: the literals are cast.)
 */
static void
protobuf_packed_by_protobuf_c_decodes_field_for_field(void **state)
{
	uint8_t tid[16], sid[8], pid[8], lid[8], blob[3] = { 0, 1, 2 };
	Weft__Otlp__AnyValue vs = WEFT__OTLP__ANY_VALUE__INIT, vb = WEFT__OTLP__ANY_VALUE__INIT,
	                     vi = WEFT__OTLP__ANY_VALUE__INIT, vd = WEFT__OTLP__ANY_VALUE__INIT,
	                     vy = WEFT__OTLP__ANY_VALUE__INIT, va = WEFT__OTLP__ANY_VALUE__INIT,
	                     vk = WEFT__OTLP__ANY_VALUE__INIT, svc = WEFT__OTLP__ANY_VALUE__INIT;
	Weft__Otlp__AnyValue *elems[] = { &vi, &vs };
	Weft__Otlp__ArrayValue arr = WEFT__OTLP__ARRAY_VALUE__INIT;
	Weft__Otlp__KeyValue ks = WEFT__OTLP__KEY_VALUE__INIT, kb = WEFT__OTLP__KEY_VALUE__INIT,
	                     ki = WEFT__OTLP__KEY_VALUE__INIT, kd = WEFT__OTLP__KEY_VALUE__INIT,
	                     ky = WEFT__OTLP__KEY_VALUE__INIT, ka = WEFT__OTLP__KEY_VALUE__INIT,
	                     kk = WEFT__OTLP__KEY_VALUE__INIT, ksvc = WEFT__OTLP__KEY_VALUE__INIT;
	Weft__Otlp__KeyValue *attrs[] = { &ks, &kb, &ki, &kd, &ky, &ka, &kk }, *list_kvs[] = { &ki, &kb },
	                     *res_attrs[] = { &ksvc }, *one[] = { &ki };
	Weft__Otlp__KeyValueList list = WEFT__OTLP__KEY_VALUE_LIST__INIT;
	Weft__Otlp__Resource res = WEFT__OTLP__RESOURCE__INIT;
	Weft__Otlp__InstrumentationScope scope = WEFT__OTLP__INSTRUMENTATION_SCOPE__INIT;
	Weft__Otlp__Span__Event ev = WEFT__OTLP__SPAN__EVENT__INIT, *evs[] = { &ev };
	Weft__Otlp__Span__Link ln = WEFT__OTLP__SPAN__LINK__INIT, *lns[] = { &ln };
	Weft__Otlp__Status st = WEFT__OTLP__STATUS__INIT;
	Weft__Otlp__Span sp = WEFT__OTLP__SPAN__INIT, *sps[] = { &sp };
	Weft__Otlp__ScopeSpans ss = WEFT__OTLP__SCOPE_SPANS__INIT, *sss[] = { &ss };
	Weft__Otlp__ResourceSpans rs = WEFT__OTLP__RESOURCE_SPANS__INIT, *rss[] = { &rs };
	Weft__Otlp__ExportTraceServiceRequest req = WEFT__OTLP__EXPORT_TRACE_SERVICE_REQUEST__INIT;
	const cm_span *s;
	const char *why = NULL;
	uint8_t *buf;
	size_t n;
	cm_batch b;
	(void)state;

	memset(tid, 0xab, sizeof tid), memset(sid, 0xcd, sizeof sid), memset(pid, 0xef, sizeof pid);
	memset(lid, 0x12, sizeof lid);
	vs.value_case = WEFT__OTLP__ANY_VALUE__VALUE_STRING_VALUE, vs.string_value = (char *)"text";
	vb.value_case = WEFT__OTLP__ANY_VALUE__VALUE_BOOL_VALUE, vb.bool_value = 1;
	vi.value_case = WEFT__OTLP__ANY_VALUE__VALUE_INT_VALUE, vi.int_value = -42;
	vd.value_case = WEFT__OTLP__ANY_VALUE__VALUE_DOUBLE_VALUE, vd.double_value = 2.5;
	vy.value_case = WEFT__OTLP__ANY_VALUE__VALUE_BYTES_VALUE, vy.bytes_value = (ProtobufCBinaryData){ 3, blob };
	arr.n_values = 2, arr.values = elems;
	va.value_case = WEFT__OTLP__ANY_VALUE__VALUE_ARRAY_VALUE, va.array_value = &arr;
	list.n_values = 2, list.values = list_kvs;
	vk.value_case = WEFT__OTLP__ANY_VALUE__VALUE_KVLIST_VALUE, vk.kvlist_value = &list;
	svc.value_case = WEFT__OTLP__ANY_VALUE__VALUE_STRING_VALUE, svc.string_value = (char *)"shop";
	ks.key = (char *)"s", ks.value = &vs;
	kb.key = (char *)"b", kb.value = &vb;
	ki.key = (char *)"i", ki.value = &vi;
	kd.key = (char *)"d", kd.value = &vd;
	ky.key = (char *)"y", ky.value = &vy;
	ka.key = (char *)"a", ka.value = &va;
	kk.key = (char *)"k", kk.value = &vk;
	ksvc.key = (char *)"service.name", ksvc.value = &svc;
	res.n_attributes = 1, res.attributes = res_attrs, res.dropped_attributes_count = 4;
	scope.name = (char *)"lib", scope.version = (char *)"1.0", scope.n_attributes = 1, scope.attributes = one;
	ev.time_unix_nano = 1500, ev.name = (char *)"retry", ev.n_attributes = 1, ev.attributes = one;
	ev.dropped_attributes_count = 2;
	ln.trace_id = (ProtobufCBinaryData){ 16, tid }, ln.span_id = (ProtobufCBinaryData){ 8, lid };
	ln.trace_state = (char *)"k=v", ln.flags = 1, ln.n_attributes = 1, ln.attributes = one;
	st.code = WEFT__OTLP__STATUS__STATUS_CODE__STATUS_CODE_ERROR, st.message = (char *)"boom";
	sp.trace_id = (ProtobufCBinaryData){ 16, tid }, sp.span_id = (ProtobufCBinaryData){ 8, sid };
	sp.parent_span_id = (ProtobufCBinaryData){ 8, pid };
	sp.trace_state = (char *)"a=b", sp.flags = 0x301, sp.name = (char *)"GET /x";
	sp.kind = WEFT__OTLP__SPAN__SPAN_KIND__SPAN_KIND_CONSUMER;
	sp.start_time_unix_nano = 1000, sp.end_time_unix_nano = 2000;
	sp.n_attributes = 7, sp.attributes = attrs, sp.dropped_attributes_count = 5;
	sp.n_events = 1, sp.events = evs, sp.dropped_events_count = 6;
	sp.n_links = 1, sp.links = lns, sp.dropped_links_count = 7;
	sp.status = &st;
	ss.scope = &scope, ss.n_spans = 1, ss.spans = sps;
	rs.resource = &res, rs.n_scope_spans = 1, rs.scope_spans = sss;
	req.n_resource_spans = 1, req.resource_spans = rss;
	n = weft__otlp__export_trace_service_request__get_packed_size(&req);
	buf = malloc(n);
	weft__otlp__export_trace_service_request__pack(&req, buf);

	cm_batch_init(&b);
	assert_int_equal(col_otlp_proto_decode(buf, n, &b, &why), CM_OK);
	assert_int_equal(b.nresources, 1);
	assert_true(cm_str_eq(b.resources[0].service, "shop"));
	assert_int_equal(b.resources[0].attrs.dropped, 4);
	assert_true(cm_str_eq(b.scopes[0].name, "lib") && cm_str_eq(b.scopes[0].version, "1.0"));
	assert_int_equal(attr(&b.scopes[0].attrs, "i")->u.i, -42);
	assert_int_equal(b.nspans, 1);
	s = &b.spans[0];
	assert_id(s->trace_id.b, 16, "abababababababababababababababab");
	assert_id(s->span_id.b, 8, "cdcdcdcdcdcdcdcd");
	assert_id(s->parent_span_id.b, 8, "efefefefefefefef");
	assert_true(cm_str_eq(s->trace_state, "a=b") && cm_str_eq(s->name, "GET /x"));
	assert_int_equal(s->flags, 0x301);
	assert_int_equal(s->kind, CM_KIND_CONSUMER);
	assert_true(s->start_ns == 1000 && s->end_ns == 2000);
	assert_int_equal(s->status, CM_STATUS_ERROR);
	assert_true(cm_str_eq(s->status_message, "boom"));
	assert_int_equal(s->attrs.n, 7);
	assert_int_equal(s->attrs.dropped, 5);
	assert_true(cm_str_eq(attr(&s->attrs, "s")->u.s, "text"));
	assert_true(attr(&s->attrs, "b")->type == CM_VAL_BOOL && attr(&s->attrs, "b")->u.b);
	assert_true(attr(&s->attrs, "d")->type == CM_VAL_DOUBLE && attr(&s->attrs, "d")->u.d == 2.5);
	assert_int_equal(attr(&s->attrs, "y")->type, CM_VAL_BYTES);
	assert_int_equal(attr(&s->attrs, "y")->u.s.len, 3);
	assert_memory_equal(attr(&s->attrs, "y")->u.s.p, blob, 3);
	assert_int_equal(attr(&s->attrs, "a")->type, CM_VAL_ARRAY);
	assert_int_equal(attr(&s->attrs, "a")->u.arr.n, 2);
	assert_int_equal(attr(&s->attrs, "a")->u.arr.v[0].u.i, -42);
	assert_true(cm_str_eq(attr(&s->attrs, "a")->u.arr.v[1].u.s, "text"));
	assert_true(cm_str_eq(attr(&s->attrs, "k")->u.s, "{\"i\":-42,\"b\":true}"));
	assert_int_equal(s->nevents, 1);
	assert_true(s->events[0].time_ns == 1500 && cm_str_eq(s->events[0].name, "retry"));
	assert_int_equal(s->events[0].attrs.n, 1);
	assert_int_equal(s->events[0].attrs.dropped, 2);
	assert_int_equal(s->dropped_events, 6);
	assert_int_equal(s->nlinks, 1);
	assert_id(s->links[0].span_id.b, 8, "1212121212121212");
	assert_true(cm_str_eq(s->links[0].trace_state, "k=v") && s->links[0].flags == 1);
	assert_int_equal(s->links[0].attrs.n, 1);
	assert_int_equal(s->dropped_links, 7);
	cm_batch_fini(&b);
	free(buf);
}

static void
opentelemetry_example_with_upper_case_ids_decodes(void **state)
{
	size_t len;
	char *body = fixture("otlp/opentelemetry-proto-example.json", &len);
	const char *why = NULL;
	cm_batch b;
	(void)state;
	cm_batch_init(&b);
	assert_int_equal(col_otlp_json_decode(body, len, &b, &why), CM_OK);
	assert_int_equal(b.nspans, 1);
	assert_id(b.spans[0].trace_id.b, 16, "5b8efff798038103d269b633813fc60c");
	assert_id(b.spans[0].span_id.b, 8, "eee19b7ec3c1b174");
	assert_int_equal(b.spans[0].kind, CM_KIND_SERVER);
	assert_true(cm_str_eq(b.resources[0].service, "my.service"));
	assert_true(cm_str_eq(b.scopes[0].name, "my.library"));
	assert_true(cm_str_eq(attr(&b.scopes[0].attrs, "my.scope.attribute")->u.s, "some scope attribute"));
	cm_batch_fini(&b);
	free(body);
}

static void
zipkin_fixture_decodes(void **state)
{
	size_t len;
	char *body = fixture("zipkin/otel-js-checkout.json", &len);
	const char *why = NULL;
	const cm_span *db, *cart, *root;
	cm_batch b;
	(void)state;
	cm_batch_init(&b);
	assert_int_equal(col_zipkin_decode(body, len, &b, &why), CM_OK);
	assert_int_equal(b.nspans, 3);
	assert_int_equal(b.nresources, 1);
	assert_true(cm_str_eq(b.resources[0].service, "checkout"));
	db = span_named(&b, "SELECT inventory");
	assert_id(db->trace_id.b, 16, "5b8efff798038103d269b633813fc60c");
	assert_id(db->parent_span_id.b, 8, "eee19b7ec3c1b173");
	assert_int_equal(db->kind, CM_KIND_CLIENT);
	assert_int_equal(db->status, CM_STATUS_ERROR);
	assert_true(cm_str_eq(db->status_message, "connection reset"));
	assert_true(db->start_ns == 1700000000020000000u && db->end_ns == 1700000000080000000u);
	assert_true(cm_str_eq(db->events[0].name, "exception"));
	assert_true(cm_str_eq(attr(&db->attrs, "db.system")->u.s, "postgresql"));
	for (uint32_t i = 0; i < db->attrs.n; i++) {
		assert_false(cm_str_eq(db->attrs.v[i].key, "otel.status_code"));
		assert_false(cm_str_eq(db->attrs.v[i].key, "error"));
		assert_false(cm_str_eq(db->attrs.v[i].key, "service.name"));
	}
	cart = span_named(&b, "validate-cart");
	assert_int_equal(cart->kind, CM_KIND_INTERNAL);
	assert_int_equal(cart->status, CM_STATUS_OK);
	assert_true(cm_str_eq(attr(&cart->attrs, "cart.items")->u.s, "3"));
	root = span_named(&b, "GET /checkout");
	assert_int_equal(root->kind, CM_KIND_SERVER);
	assert_true(cm_str_eq(root->status_message, "upstream failed"));
	cm_batch_fini(&b);
	free(body);
}

typedef int (*decoder)(const char *, size_t, cm_batch *, const char **);

static int
proto_decoder(const char *body, size_t len, cm_batch *b, const char **why)
{
	return col_otlp_proto_decode(body, len, b, why);
}

static void
expect_refused(decoder d, const char *body)
{
	const char *why = NULL;
	cm_batch b;
	cm_batch_init(&b);
	assert_int_equal(d(body, strlen(body), &b, &why), CM_EPROTO);
	assert_non_null(why);
	cm_batch_fini(&b);
}

static void
malformed_json_is_refused_with_a_reason(void **state)
{
	static const char *const otlp[] = {
		"", "{", "[]", "{\"resourceSpans\":{}}",
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"xyz\"}]}]}]}",
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"5b8efff798038103d269b633813fc60c\",\"spanId\":\"eee19b7ec3c1b17\"}]}]}]}",
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"kind\":9}]}]}]}",
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"kind\":\"SPAN_KIND_NOPE\"}]}]}]}",
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"startTimeUnixNano\":\"-5\"}]}]}]}",
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"attributes\":[{\"key\":\"k\",\"value\":{\"intValue\":\"12x\"}}]}]}]}]}",
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"attributes\":[{\"value\":{}}]}]}]}]}",
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"status\":{\"code\":7}}]}]}]}",
		"{\"resourceSpans\":[],\"resourceSpans\":[]}",
	};
	static const char *const zipkin[] = {
		"", "{}", "[1]", "[{\"traceId\":\"zz\",\"id\":\"1\"}]", "[{\"traceId\":\"1\"}]",
		"[{\"traceId\":\"1\",\"id\":\"2\",\"timestamp\":-1}]", "[{\"traceId\":\"1\",\"id\":\"2\",\"kind\":\"SIDEWAYS\"}]",
		"[{\"traceId\":\"1\",\"id\":\"2\",\"tags\":{\"k\":1}}]", "[{\"traceId\":\"1\",\"id\":\"2\",\"annotations\":[{\"value\":\"x\"}],\"timestamp\":1}]",
		"[{\"traceId\":\"1\",\"id\":\"2\",\"annotations\":[{\"timestamp\":1}]}]",
		"[{\"traceId\":\"123456789012345678901234567890123\",\"id\":\"2\"}]",
	};
	(void)state;
	for (size_t i = 0; i < sizeof otlp / sizeof otlp[0]; i++)
		expect_refused(col_otlp_json_decode, otlp[i]);
	for (size_t i = 0; i < sizeof zipkin / sizeof zipkin[0]; i++)
		expect_refused(col_zipkin_decode, zipkin[i]);
}

static void
every_protobuf_prefix_is_refused_or_decoded(void **state)
{
	size_t len;
	char *body = fixture("otlp/otel-js-checkout.pb", &len);
	(void)state;
	for (size_t n = 0; n < len; n++) {
		const char *why = NULL;
		cm_batch b;
		int rv;
		cm_batch_init(&b);
		rv = col_otlp_proto_decode(body, n, &b, &why);
		assert_true(rv == CM_OK || (rv == CM_EPROTO && why != NULL));
		cm_batch_fini(&b);
	}
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			const char *why = NULL;
			cm_batch b;
			int rv;
			body[i] ^= (char)(1 << bit);
			cm_batch_init(&b);
			rv = col_otlp_proto_decode(body, len, &b, &why);
			assert_true(rv == CM_OK || (rv == CM_EPROTO && why != NULL));
			cm_batch_fini(&b);
			body[i] ^= (char)(1 << bit);
		}
	}
	free(body);
}

/* KeyValue{value: AnyValue{array_value: ArrayValue{values: AnyValue{...}}}} nested `levels` times. */
static size_t
deep_request(uint8_t *out, size_t cap, int levels)
{
	/* Built inside out: innermost AnyValue{int_value: 1} = 18 01 */
	uint8_t *buf = malloc(cap), *tmp = malloc(cap);
	size_t n = 2;
	buf[0] = 0x18;
	buf[1] = 0x01;
	for (int i = 0; i < levels; i++) {
		/* ArrayValue{ values(1): AnyValue } then AnyValue{ array_value(5): ArrayValue } */
		for (int wrap = 0; wrap < 2; wrap++) {
			uint8_t key = wrap == 0 ? 0x0a : 0x2a;
			size_t h = 0;
			tmp[h++] = key;
			size_t l = n;
			do {
				tmp[h++] = (uint8_t)((l & 0x7f) | (l > 0x7f ? 0x80 : 0));
				l >>= 7;
			} while (l);
			memcpy(tmp + h, buf, n);
			n += h;
			memcpy(buf, tmp, n);
		}
	}
	/* Wrap: KeyValue{key:"k", value(2)}, Span{attributes(9)}, ScopeSpans{spans(2)},
	 * ResourceSpans{scope_spans(2)}, Request{resource_spans(1)} */
	static const uint8_t keys[] = { 0x12, 0x4a, 0x12, 0x12, 0x0a };
	for (size_t k = 0; k < sizeof keys; k++) {
		size_t h = 0, l = n;
		tmp[h++] = keys[k];
		do {
			tmp[h++] = (uint8_t)((l & 0x7f) | (l > 0x7f ? 0x80 : 0));
			l >>= 7;
		} while (l);
		memcpy(tmp + h, buf, n);
		n += h;
		memcpy(buf, tmp, n);
	}
	assert_true(n <= cap);
	memcpy(out, buf, n);
	free(buf);
	free(tmp);
	return n;
}

static void
deeply_nested_protobuf_values_are_refused(void **state)
{
	static uint8_t body[1 << 20];
	const char *why = NULL;
	size_t n;
	cm_batch b;
	(void)state;
	n = deep_request(body, sizeof body, 5);
	cm_batch_init(&b);
	assert_int_equal(col_otlp_proto_decode(body, n, &b, &why), CM_OK);
	assert_int_equal(b.spans[0].attrs.v[0].val.type, CM_VAL_ARRAY);
	cm_batch_fini(&b);
	n = deep_request(body, sizeof body, 20000);
	cm_batch_init(&b);
	assert_int_equal(col_otlp_proto_decode(body, n, &b, &why), CM_EPROTO);
	cm_batch_fini(&b);
	assert_string_equal(why, "OTLP request nested too deeply");
	expect_refused(proto_decoder, "\x0a\x05\x0a\x03\x0a\x01"); /* lengths past the end */
}

static void
responses_carry_partial_success(void **state)
{
	cm_buf out;
	(void)state;
	cm_buf_init(&out);
	col_otlp_json_response(&out, 0, NULL);
	assert_string_equal(out.data, "{}");
	out.len = 0;
	col_otlp_json_response(&out, 2, "span id is zero");
	assert_string_equal(out.data, "{\"partialSuccess\":{\"rejectedSpans\":\"2\",\"errorMessage\":\"span id is zero\"}}");
	cm_buf_fini(&out);
}

static void
json_depth_counts_only_structure(void **state)
{
	(void)state;
	assert_true(col_json_depth_ok("{\"a\":[1,{\"b\":2}]}", 17, 3));
	assert_false(col_json_depth_ok("{\"a\":[1,{\"b\":2}]}", 17, 2));
	/* brackets inside strings, escaped quotes, unbalanced closers do not count */
	assert_true(col_json_depth_ok("[\"[[[[\\\"[[[\"]", 14, 1));
	assert_true(col_json_depth_ok("]]]][", 5, 1));
	assert_true(col_json_depth_ok("", 0, 1));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(otlp_json_fixture_decodes),
		cmocka_unit_test(json_depth_counts_only_structure),
		cmocka_unit_test(otlp_protobuf_fixture_decodes_the_same),
		cmocka_unit_test(opentelemetry_example_with_upper_case_ids_decodes),
		cmocka_unit_test(zipkin_fixture_decodes),
		cmocka_unit_test(malformed_json_is_refused_with_a_reason),
		cmocka_unit_test(every_protobuf_prefix_is_refused_or_decoded),
		cmocka_unit_test(deeply_nested_protobuf_values_are_refused),
		cmocka_unit_test(protobuf_follows_proto3_rules),
		cmocka_unit_test(protobuf_packed_by_protobuf_c_decodes_field_for_field),
		cmocka_unit_test(responses_carry_partial_success),
	};
	return cmocka_run_group_tests_name("ingest_decode", tests, NULL, NULL);
}
