/*
 * test_wire.c - the native wire codec: round trips, and rejection of every
 * kind of malformed message without a crash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>
#include <msgpack.h>
#include <string.h>

#include "alloc.h"
#include "err.h"
#include "mpwrite.h"
#include "spanpack.h"
#include "wire.h"

/* A batch exercising every field and value type; strings are static. */
static void
sample_batch(cm_batch *b)
{
	static cm_value arr_items[3];
	static cm_attr attrs[6], ev_attrs[1], link_attrs[1], res_attrs[1];
	static cm_event events[1];
	static cm_link links[1];
	static cm_resource res[1];
	static cm_scope scopes[1];
	static cm_span spans[2];

	arr_items[0] = (cm_value){ .type = CM_VAL_STR, .u.s = CM_STR("a") };
	arr_items[1] = (cm_value){ .type = CM_VAL_INT, .u.i = -7 };
	arr_items[2] = (cm_value){ .type = CM_VAL_BOOL, .u.b = true };
	attrs[0] = (cm_attr){ CM_STR("s"), { .type = CM_VAL_STR, .u.s = CM_STR("text") } };
	attrs[1] = (cm_attr){ CM_STR("i"), { .type = CM_VAL_INT, .u.i = INT64_MIN } };
	attrs[2] = (cm_attr){ CM_STR("d"), { .type = CM_VAL_DOUBLE, .u.d = 2.5 } };
	attrs[3] = (cm_attr){ CM_STR("b"), { .type = CM_VAL_BOOL, .u.b = false } };
	attrs[4] = (cm_attr){ CM_STR("bytes"), { .type = CM_VAL_BYTES, .u.s = { "\0\1\2", 3 } } };
	attrs[5] = (cm_attr){ CM_STR("arr"), { .type = CM_VAL_ARRAY, .u.arr = { arr_items, 3 } } };
	ev_attrs[0] = (cm_attr){ CM_STR("exception.type"), { .type = CM_VAL_STR, .u.s = CM_STR("IOError") } };
	link_attrs[0] = (cm_attr){ CM_STR("l"), { .type = CM_VAL_INT, .u.i = 1 } };
	res_attrs[0] = (cm_attr){ CM_STR("host.name"), { .type = CM_VAL_STR, .u.s = CM_STR("h1") } };
	events[0] = (cm_event){ 1700000000500000000u, CM_STR("exception"), { ev_attrs, 1, 2 } };
	memset(links, 0, sizeof links);
	memset(links[0].trace_id.b, 0xab, 16);
	memset(links[0].span_id.b, 0xcd, 8);
	links[0].trace_state = CM_STR("k=v");
	links[0].attrs = (cm_attrs){ link_attrs, 1, 0 };
	res[0] = (cm_resource){ CM_STR("checkout"), { res_attrs, 1, 0 } };
	scopes[0] = (cm_scope){ CM_STR("lib"), CM_STR("1.0"), { NULL, 0, 0 } };
	memset(spans, 0, sizeof spans);
	for (int i = 0; i < 2; i++) {
		memset(spans[i].trace_id.b, 0x11, 16);
		memset(spans[i].span_id.b, 0x20 + i, 8);
		spans[i].name = i ? CM_STR("child") : CM_STR("root");
		spans[i].start_ns = 1700000000000000000u + (uint64_t)i;
		spans[i].end_ns = 1700000001000000000u;
	}
	memset(spans[1].parent_span_id.b, 0x20, 8);
	spans[0].kind = CM_KIND_SERVER;
	spans[0].status = CM_STATUS_ERROR;
	spans[0].status_message = CM_STR("boom");
	spans[0].flags = 1;
	spans[0].trace_state = CM_STR("a=b");
	spans[0].attrs = (cm_attrs){ attrs, 6, 3 };
	spans[0].events = events;
	spans[0].nevents = 1;
	spans[0].dropped_events = 4;
	spans[0].links = links;
	spans[0].nlinks = 1;
	spans[0].dropped_links = 5;
	memset(b, 0, sizeof *b);
	b->resources = res;
	b->nresources = 1;
	b->scopes = scopes;
	b->nscopes = 1;
	b->spans = spans;
	b->nspans = 2;
}

static bool
str_eq(cm_str a, cm_str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static void
assert_value_eq(const cm_value *a, const cm_value *b)
{
	assert_int_equal(a->type, b->type);
	switch (a->type) {
	case CM_VAL_STR:
	case CM_VAL_BYTES: assert_true(str_eq(a->u.s, b->u.s)); break;
	case CM_VAL_INT: assert_true(a->u.i == b->u.i); break;
	case CM_VAL_DOUBLE: assert_true(a->u.d == b->u.d); break;
	case CM_VAL_BOOL: assert_int_equal(a->u.b, b->u.b); break;
	case CM_VAL_ARRAY:
		assert_int_equal(a->u.arr.n, b->u.arr.n);
		for (uint32_t i = 0; i < a->u.arr.n; i++)
			assert_value_eq(&a->u.arr.v[i], &b->u.arr.v[i]);
	}
}

static void
assert_attrs_eq(const cm_attrs *a, const cm_attrs *b)
{
	assert_int_equal(a->n, b->n);
	assert_int_equal(a->dropped, b->dropped);
	for (uint32_t i = 0; i < a->n; i++) {
		assert_true(str_eq(a->v[i].key, b->v[i].key));
		assert_value_eq(&a->v[i].val, &b->v[i].val);
	}
}

static void
assert_batch_eq(const cm_batch *a, const cm_batch *b)
{
	assert_int_equal(a->nspans, b->nspans);
	assert_int_equal(a->nresources, b->nresources);
	assert_true(str_eq(a->resources[0].service, b->resources[0].service));
	assert_attrs_eq(&a->resources[0].attrs, &b->resources[0].attrs);
	assert_true(str_eq(a->scopes[0].name, b->scopes[0].name));
	assert_true(str_eq(a->scopes[0].version, b->scopes[0].version));
	for (uint32_t i = 0; i < a->nspans; i++) {
		const cm_span *x = &a->spans[i], *y = &b->spans[i];
		assert_memory_equal(x->trace_id.b, y->trace_id.b, 16);
		assert_memory_equal(x->span_id.b, y->span_id.b, 8);
		assert_memory_equal(x->parent_span_id.b, y->parent_span_id.b, 8);
		assert_true(str_eq(x->name, y->name));
		assert_true(str_eq(x->trace_state, y->trace_state));
		assert_true(str_eq(x->status_message, y->status_message));
		assert_int_equal(x->kind, y->kind);
		assert_int_equal(x->status, y->status);
		assert_int_equal(x->flags, y->flags);
		assert_true(x->start_ns == y->start_ns && x->end_ns == y->end_ns);
		assert_attrs_eq(&x->attrs, &y->attrs);
		assert_int_equal(x->nevents, y->nevents);
		assert_int_equal(x->dropped_events, y->dropped_events);
		for (uint32_t e = 0; e < x->nevents; e++) {
			assert_true(x->events[e].time_ns == y->events[e].time_ns);
			assert_true(str_eq(x->events[e].name, y->events[e].name));
			assert_attrs_eq(&x->events[e].attrs, &y->events[e].attrs);
		}
		assert_int_equal(x->nlinks, y->nlinks);
		assert_int_equal(x->dropped_links, y->dropped_links);
		for (uint32_t l = 0; l < x->nlinks; l++) {
			assert_memory_equal(&x->links[l].trace_id, &y->links[l].trace_id, 16);
			assert_true(str_eq(x->links[l].trace_state, y->links[l].trace_state));
			assert_attrs_eq(&x->links[l].attrs, &y->links[l].attrs);
		}
	}
}

static void
round_trip(int level)
{
	cm_wire_codec c;
	cm_batch in, out;
	cm_buf msg;
	const char *why = NULL;

	sample_batch(&in);
	assert_int_equal(cm_wire_codec_init(&c), CM_OK);
	cm_buf_init(&msg);
	assert_int_equal(cm_wire_encode_batch(&c, &in, level, NULL, &msg), CM_OK);
	cm_batch_init(&out);
	assert_int_equal(cm_wire_decode_batch(&c, msg.data, msg.len, &cm_wire_default_limits, &out, &why), CM_OK);
	assert_batch_eq(&in, &out);
	cm_batch_fini(&out);
	cm_buf_fini(&msg);
	cm_wire_codec_fini(&c);
}

/* A token travels between header and payload, compressed or not, and a lying length is caught. */
static void
token_is_carried_and_checked(void **state)
{
	cm_wire_codec c;
	cm_batch in, out;
	cm_buf msg;
	const char *why = NULL, *tok;
	size_t tlen;
	char big[300];
	(void)state;

	sample_batch(&in);
	assert_int_equal(cm_wire_codec_init(&c), CM_OK);
	cm_buf_init(&msg);
	for (int level = 0; level <= 1; level++) {
		assert_int_equal(cm_wire_encode_batch(&c, &in, level, "s3cret", &msg), CM_OK);
		assert_true(cm_wire_token(msg.data, msg.len, &tok, &tlen));
		assert_int_equal(tlen, 6);
		assert_memory_equal(tok, "s3cret", 6);
		cm_batch_init(&out);
		assert_int_equal(cm_wire_decode_batch(&c, msg.data, msg.len, &cm_wire_default_limits, &out, &why), CM_OK);
		assert_batch_eq(&in, &out);
		cm_batch_fini(&out);
		/* the token's length byte claims more than the message holds */
		msg.data[CM_WIRE_HEADER_SIZE] = (char)255;
		msg.len = CM_WIRE_HEADER_SIZE + 10;
		assert_false(cm_wire_token(msg.data, msg.len, &tok, &tlen));
		cm_batch_init(&out);
		assert_int_equal(cm_wire_decode_batch(&c, msg.data, msg.len, &cm_wire_default_limits, &out, &why), CM_EPROTO);
		cm_batch_fini(&out);
	}
	assert_int_equal(cm_wire_encode_batch(&c, &in, 1, NULL, &msg), CM_OK);
	assert_false(cm_wire_token(msg.data, msg.len, &tok, &tlen));
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(cm_wire_encode_batch(&c, &in, 1, big, &msg), CM_EINVAL);
	cm_buf_fini(&msg);
	cm_wire_codec_fini(&c);
}

static void
batch_round_trips_uncompressed(void **state)
{
	(void)state;
	round_trip(0);
}

static void
batch_round_trips_with_zstd(void **state)
{
	(void)state;
	round_trip(3);
}

/* Decodes msg and expects error `want`, with a reason. */
static void
expect_reject(const void *msg, size_t len, const cm_wire_limits *lim, int want)
{
	cm_wire_codec c;
	cm_batch out;
	const char *why = NULL;

	assert_int_equal(cm_wire_codec_init(&c), CM_OK);
	cm_batch_init(&out);
	assert_int_equal(cm_wire_decode_batch(&c, msg, len, lim, &out, &why), want);
	assert_non_null(why);
	cm_batch_fini(&out);
	cm_wire_codec_fini(&c);
}

static void
encode_sample(int level, cm_buf *msg)
{
	cm_wire_codec c;
	cm_batch in;
	sample_batch(&in);
	cm_wire_codec_init(&c);
	cm_buf_init(msg);
	assert_int_equal(cm_wire_encode_batch(&c, &in, level, NULL, msg), CM_OK);
	cm_wire_codec_fini(&c);
}

static void
malformed_headers_are_rejected(void **state)
{
	cm_buf m;
	uint8_t flags;
	(void)state;
	encode_sample(0, &m);
	expect_reject(m.data, 5, &cm_wire_default_limits, CM_EPROTO);          /* short */
	m.data[0] = 'X';
	expect_reject(m.data, m.len, &cm_wire_default_limits, CM_EPROTO);      /* magic */
	m.data[0] = 'W';
	m.data[2] = 9;
	expect_reject(m.data, m.len, &cm_wire_default_limits, CM_EVERSION);    /* version */
	m.data[2] = 1;
	flags = (uint8_t)m.data[4];
	m.data[4] = (char)(flags | 8);
	expect_reject(m.data, m.len, &cm_wire_default_limits, CM_EPROTO);      /* flags */
	m.data[4] = (char)flags;
	m.data[3] = CM_MSG_OK;
	expect_reject(m.data, m.len, &cm_wire_default_limits, CM_EPROTO);      /* type */
	m.data[3] = CM_MSG_BATCH;
	m.data[11]++;
	expect_reject(m.data, m.len, &cm_wire_default_limits, CM_EPROTO);      /* length */
	cm_buf_fini(&m);
}

static void
every_truncation_is_rejected(void **state)
{
	cm_buf m;
	(void)state;
	for (int level = 0; level <= 1; level++) {
		encode_sample(level, &m);
		for (size_t n = 0; n < m.len; n++)
			expect_reject(m.data, n, &cm_wire_default_limits, CM_EPROTO);
		cm_buf_fini(&m);
	}
}

static void
every_flipped_byte_fails_cleanly_or_decodes(void **state)
{
	cm_wire_codec c;
	cm_buf m;
	(void)state;
	cm_wire_codec_init(&c);
	encode_sample(0, &m);
	for (size_t i = CM_WIRE_HEADER_SIZE; i < m.len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			cm_batch out;
			const char *why = NULL;
			int rv;
			m.data[i] ^= (char)(1 << bit);
			cm_batch_init(&out);
			rv = cm_wire_decode_batch(&c, m.data, m.len, &cm_wire_default_limits, &out, &why);
			assert_true(rv == CM_OK || (why != NULL && rv != CM_OK));
			cm_batch_fini(&out);
			m.data[i] ^= (char)(1 << bit);
		}
	}
	cm_buf_fini(&m);
	cm_wire_codec_fini(&c);
}

static void
limits_are_enforced(void **state)
{
	cm_buf m;
	cm_wire_limits lim = cm_wire_default_limits;
	(void)state;
	encode_sample(1, &m);
	lim.max_spans = 1;
	expect_reject(m.data, m.len, &lim, CM_ETOOBIG);
	lim = cm_wire_default_limits;
	lim.max_decompressed = 16;
	expect_reject(m.data, m.len, &lim, CM_ETOOBIG);
	lim = cm_wire_default_limits;
	lim.max_message = 20;
	expect_reject(m.data, m.len, &lim, CM_ETOOBIG);
	cm_buf_fini(&m);
}

/* msgpack-c's packer writing into a cm_buf: the tests' independent msgpack encoder. */
static int
pack_to_buf(void *data, const char *p, size_t len)
{
	cm_buf_append(data, p, len);
	return ((cm_buf *)data)->failed ? -1 : 0;
}

/* The cm_buf a test packer writes into, for weft's own writers to append to. */
#define PK_BUF(pk) ((cm_buf *)(pk)->data)

/* Builds a raw (uncompressed) message around a hand-made msgpack payload. */
/* A BATCH message whose uncompressed payload fill() packs, with header flags `flags`. */
static void
raw_message_flags(cm_buf *m, void (*fill)(msgpack_packer *pk), uint8_t flags)
{
	msgpack_packer pk;
	cm_buf payload;
	char h[CM_WIRE_HEADER_SIZE] = { 'W', 'F', 1, CM_MSG_BATCH, (char)flags, 0, 0, 0 };

	cm_buf_init(&payload);
	msgpack_packer_init(&pk, &payload, pack_to_buf);
	fill(&pk);
	h[8] = (char)(payload.len >> 24);
	h[9] = (char)(payload.len >> 16);
	h[10] = (char)(payload.len >> 8);
	h[11] = (char)payload.len;
	cm_buf_init(m);
	cm_buf_append(m, h, sizeof h);
	cm_buf_append(m, payload.data, payload.len);
	cm_buf_fini(&payload);
}

static void
raw_message(cm_buf *m, void (*fill)(msgpack_packer *pk))
{
	raw_message_flags(m, fill, 0);
}

static void
fill_not_array(msgpack_packer *pk)
{
	msgpack_pack_int(pk, 7);
}

static void
fill_bad_span(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 3);
	msgpack_pack_array(pk, 0);
	msgpack_pack_array(pk, 0);
	msgpack_pack_array(pk, 1);
	msgpack_pack_array(pk, 2); /* a span with 2 fields */
	msgpack_pack_nil(pk);
	msgpack_pack_nil(pk);
}

static void
fill_dangling_ref(msgpack_packer *pk)
{
	static const cm_span s = { .trace_id = { { 1 } }, .span_id = { { 1 } }, .name = { "x", 1 } };
	msgpack_pack_array(pk, 3);
	msgpack_pack_array(pk, 0); /* no resources ... */
	msgpack_pack_array(pk, 0);
	msgpack_pack_array(pk, 1);
	cm_pack_span(PK_BUF(pk), NULL, &s, 0, 0); /* ... but the span refers to resource 0 */
}

/*
 * A batch of one span packed by hand: a resource "svc" and a scope "" ""
 * (with a string table, strings 0-2; the span's trace state is 3), the
 * span's name written by name(), its attribute array and dropped count by
 * attrs().
 */
static void
pack_one_span(msgpack_packer *pk, void (*name)(cm_buf *b), void (*attrs)(msgpack_packer *pk))
{
	static const cm_resource r = { { "svc", 3 }, { NULL, 0, 0 } };
	static const cm_scope sc;
	static const uint8_t id[16] = { 1 };
	msgpack_pack_array(pk, 3);
	msgpack_pack_array(pk, 1);
	cm_pack_resource(PK_BUF(pk), NULL, &r);
	msgpack_pack_array(pk, 1);
	cm_pack_scope(PK_BUF(pk), NULL, &sc);
	msgpack_pack_array(pk, 1);
	msgpack_pack_array(pk, 19);
	msgpack_pack_bin(pk, 16);
	msgpack_pack_bin_body(pk, id, 16);
	msgpack_pack_bin(pk, 8);
	msgpack_pack_bin_body(pk, id, 8);
	msgpack_pack_nil(pk);
	cm_pack_str(PK_BUF(pk), CM_STR(""));
	msgpack_pack_uint8(pk, 0);
	name(PK_BUF(pk));
	msgpack_pack_uint8(pk, 1);
	msgpack_pack_uint8(pk, 0);
	cm_pack_str(PK_BUF(pk), CM_STR(""));
	msgpack_pack_uint64(pk, 1);
	msgpack_pack_uint64(pk, 2);
	attrs(pk);
	msgpack_pack_array(pk, 0);
	msgpack_pack_uint8(pk, 0);
	msgpack_pack_array(pk, 0);
	msgpack_pack_uint8(pk, 0);
	msgpack_pack_uint8(pk, 0);
	msgpack_pack_uint8(pk, 0);
}

static void
name_n(cm_buf *b)
{
	cm_pack_str(b, CM_STR("n"));
}

static void
attrs_none(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 0);
	msgpack_pack_uint8(pk, 0);
}

static void
attrs_nested_too_deep(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 2);
	cm_pack_str(PK_BUF(pk), CM_STR("deep"));
	for (int i = 0; i < 10; i++)
		msgpack_pack_array(pk, 1);
	msgpack_pack_int(pk, 1);
	msgpack_pack_uint8(pk, 0);
}

static void
fill_deep_array(msgpack_packer *pk)
{
	pack_one_span(pk, name_n, attrs_nested_too_deep);
}

static void
wrong_shapes_are_rejected(void **state)
{
	void (*fills[])(msgpack_packer *) = { fill_not_array, fill_bad_span, fill_dangling_ref, fill_deep_array };
	(void)state;
	for (size_t i = 0; i < sizeof fills / sizeof fills[0]; i++) {
		cm_buf m;
		raw_message(&m, fills[i]);
		expect_reject(m.data, m.len, &cm_wire_default_limits, CM_EPROTO);
		cm_buf_fini(&m);
	}
}

/*
 * With the STRINGS flag (header flag bit 2, strtab.h) every str is
 * numbered and a repeat is a reference: the batch round-trips, its
 * payload is smaller than inline, and every repeat of a string decodes to
 * the same bytes (what the collector's writer keys its memos on).
 */
static void
repeated_strings_travel_once_and_decode_to_the_same_bytes(void **state)
{
	static cm_value items[2] = { { .type = CM_VAL_STR, .u.s = { "GET", 3 } }, { .type = CM_VAL_STR, .u.s = { "GET", 3 } } };
	cm_attr attrs[3][3];
	cm_span spans[3];
	cm_batch in, out;
	cm_wire_codec c;
	cm_buf msg, inline_payload;
	const char *why = NULL;
	(void)state;

	sample_batch(&in);
	memset(spans, 0, sizeof spans);
	for (int i = 0; i < 3; i++) {
		/* own copies of each text, as spans from different threads would have */
		static char keys[3][2][24], values[3][24];
		snprintf(keys[i][0], sizeof keys[i][0], "http.request.method");
		snprintf(keys[i][1], sizeof keys[i][1], "tags");
		snprintf(values[i], sizeof values[i], "%s", i == 2 ? "u-123456" : "GET");
		attrs[i][0] = (cm_attr){ cm_str_from(keys[i][0]), { .type = CM_VAL_STR, .u.s = cm_str_from(values[i]) } };
		attrs[i][1] = (cm_attr){ cm_str_from(keys[i][1]), { .type = CM_VAL_ARRAY, .u.arr = { items, 2 } } };
		attrs[i][2] = (cm_attr){ CM_STR("empty"), { .type = CM_VAL_STR, .u.s = CM_STR("") } };
		spans[i] = in.spans[1];
		spans[i].span_id.b[0] = (uint8_t)(0x30 + i);
		spans[i].name = CM_STR("checkout"); /* also the resource's service */
		spans[i].attrs = (cm_attrs){ attrs[i], 3, 0 };
	}
	in.spans = spans;
	in.nspans = 3;
	assert_int_equal(cm_wire_codec_init(&c), CM_OK);
	cm_buf_init(&msg);
	assert_int_equal(cm_wire_encode_batch(&c, &in, 0, NULL, &msg), CM_OK);
	assert_true(msg.data[4] & 4);
	cm_batch_init(&out);
	assert_int_equal(cm_wire_decode_batch(&c, msg.data, msg.len, &cm_wire_default_limits, &out, &why), CM_OK);
	assert_batch_eq(&in, &out);
	for (int i = 1; i < 3; i++) {
		assert_ptr_equal(out.spans[i].name.p, out.spans[0].name.p);
		assert_ptr_equal(out.spans[i].attrs.v[0].key.p, out.spans[0].attrs.v[0].key.p);
		assert_ptr_equal(out.spans[i].attrs.v[1].val.u.arr.v[1].u.s.p, out.spans[0].attrs.v[0].val.u.s.p);
	}
	assert_ptr_equal(out.spans[0].name.p, out.resources[0].service.p);
	assert_ptr_equal(out.spans[1].attrs.v[0].val.u.s.p, out.spans[0].attrs.v[0].val.u.s.p);
	assert_ptr_not_equal(out.spans[2].attrs.v[0].val.u.s.p, out.spans[0].attrs.v[0].val.u.s.p);
	cm_buf_init(&inline_payload);
	for (uint32_t i = 0; i < in.nspans; i++)
		cm_pack_span(&inline_payload, NULL, &in.spans[i], 0, 0);
	assert_true(msg.len < inline_payload.len);
	cm_buf_fini(&inline_payload);
	cm_batch_fini(&out);
	cm_buf_fini(&msg);
	cm_wire_codec_fini(&c);
}

/*
 * The encoder's table numbers every string it is shown, as the decoder
 * will, and names a repeat by the first one's number: past its growth, and
 * afresh after a reset. An empty string is always inline (one byte).
 */
static void
string_table_numbers_every_string_and_names_repeats(void **state)
{
	static char texts[5000][8]; /* the table keeps pointers to the texts, as an encoder's batch does */
	cm_strw w = { 0 };
	(void)state;

	for (int round = 0; round < 2; round++) {
		cm_strw_reset(&w);
		assert_int_equal(cm_strw_find_or_add(&w, CM_STR("abc")), UINT32_MAX); /* 0 */
		assert_int_equal(cm_strw_find_or_add(&w, CM_STR("")), UINT32_MAX);    /* 1 */
		assert_int_equal(cm_strw_find_or_add(&w, CM_STR("abc")), 0);
		assert_int_equal(cm_strw_find_or_add(&w, CM_STR("")), UINT32_MAX);    /* 2 */
		assert_int_equal(w.n, 3);
		for (int i = 0; i < 5000; i++) { /* 3 .. 5002, through several growths */
			snprintf(texts[i], sizeof texts[i], "v%d", i);
			assert_int_equal(cm_strw_find_or_add(&w, cm_str_from(texts[i])), UINT32_MAX);
		}
		for (int i = 0; i < 5000; i += 7) {
			char again[8]; /* the same bytes elsewhere */
			snprintf(again, sizeof again, "v%d", i);
			assert_int_equal(cm_strw_find_or_add(&w, cm_str_from(again)), (uint32_t)(3 + i));
		}
		assert_int_equal(cm_strw_find_or_add(&w, CM_STR("abc")), 0);
		assert_int_equal(w.n, 5003);
	}
	cm_strw_fini(&w);
}

/* The batch of pack_one_span(), no attributes, its span's name written by span_name(). */
static void (*span_name)(cm_buf *b);

static void
fill_named_span(msgpack_packer *pk)
{
	pack_one_span(pk, span_name, attrs_none);
}

static void name_ref_0(cm_buf *b) { cm_buf_append(b, "\xd4\x01\x00", 3); }          /* "svc" */
static void name_ref_0_wide(cm_buf *b) { cm_buf_append(b, "\xd6\x01\x00\x00\x00\x00", 6); }
static void name_ref_4(cm_buf *b) { cm_buf_append(b, "\xd4\x01\x04", 3); }          /* itself: not numbered yet */
static void name_ref_big(cm_buf *b) { cm_buf_append(b, "\xd6\x01\xff\xff\xff\xff", 6); }
static void name_ext_2(cm_buf *b) { cm_buf_append(b, "\xd4\x02\x00", 3); }          /* another ext type */
static void name_ref_short(cm_buf *b) { cm_buf_append(b, "\xd5\x01", 2); }           /* runs into the next item */

/* A reference to an earlier string decodes to it; to a later one, with no STRINGS flag, of another ext type, or cut short it is refused. */
static void
string_references_are_checked(void **state)
{
	void (*bad[])(cm_buf *) = { name_ref_4, name_ref_big, name_ext_2, name_ref_short };
	void (*good[])(cm_buf *) = { name_ref_0, name_ref_0_wide };
	cm_wire_codec c;
	cm_batch out;
	cm_buf m;
	const char *why;
	(void)state;

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		span_name = good[i];
		raw_message_flags(&m, fill_named_span, 4);
		assert_int_equal(cm_wire_codec_init(&c), CM_OK);
		cm_batch_init(&out);
		why = NULL;
		assert_int_equal(cm_wire_decode_batch(&c, m.data, m.len, &cm_wire_default_limits, &out, &why), CM_OK);
		assert_true(str_eq(out.spans[0].name, CM_STR("svc")));
		cm_batch_fini(&out);
		cm_wire_codec_fini(&c);
		cm_buf_fini(&m);
		raw_message_flags(&m, fill_named_span, 0); /* no string table: a reference is not a string */
		expect_reject(m.data, m.len, &cm_wire_default_limits, CM_EPROTO);
		cm_buf_fini(&m);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		span_name = bad[i];
		raw_message_flags(&m, fill_named_span, 4);
		expect_reject(m.data, m.len, &cm_wire_default_limits, CM_EPROTO);
		assert_int_equal(cm_wire_codec_init(&c), CM_OK);
		cm_batch_init(&out);
		why = NULL;
		assert_int_equal(cm_wire_decode_batch(&c, m.data, m.len, &cm_wire_default_limits, &out, &why), CM_EPROTO);
		if (i < 2)
			assert_non_null(strstr(why, "not numbered"));
		cm_batch_fini(&out);
		cm_wire_codec_fini(&c);
		cm_buf_fini(&m);
	}
}

static void
fill_huge_array(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 3);
	msgpack_pack_array(pk, 0);
	msgpack_pack_array(pk, 0);
	msgpack_pack_array(pk, UINT32_MAX); /* and no elements follow */
}

static void
fill_huge_string(msgpack_packer *pk)
{
	static const char header[] = { (char)0xdb, 0x7f, (char)0xff, (char)0xff, (char)0xff };
	msgpack_pack_array(pk, 1);
	/* a str32 claiming 2 GiB, written raw */
	pk->callback(pk->data, header, sizeof header);
}

/* Found by every_flipped_byte_fails_cleanly_or_decodes: a container header
 * announcing 2^32 elements made msgpack-c allocate 32 GiB up front. */
static void
huge_length_headers_are_rejected_before_allocating(void **state)
{
	void (*fills[])(msgpack_packer *) = { fill_huge_array, fill_huge_string };
	(void)state;
	for (size_t i = 0; i < sizeof fills / sizeof fills[0]; i++) {
		cm_buf m;
		raw_message(&m, fills[i]);
		cm_alloc_fail_every(0);
		expect_reject(m.data, m.len, &cm_wire_default_limits, CM_EPROTO);
		cm_buf_fini(&m);
	}
}

static void
zstd_garbage_is_rejected(void **state)
{
	char m[64] = { 'W', 'F', 1, CM_MSG_BATCH, 1, 0, 0, 0, 0, 0, 0, 40 };
	(void)state;
	memset(m + CM_WIRE_HEADER_SIZE, 0x5a, sizeof m - CM_WIRE_HEADER_SIZE);
	expect_reject(m, sizeof m, &cm_wire_default_limits, CM_EPROTO);
}

static void
allocation_failures_give_errors_not_crashes(void **state)
{
	cm_buf m;
	(void)state;
	encode_sample(1, &m);
	for (unsigned every = 1; every <= 12; every++) {
		cm_wire_codec c;
		cm_batch out;
		const char *why = NULL;
		int rv;
		assert_int_equal(cm_wire_codec_init(&c), CM_OK);
		cm_batch_init(&out);
		cm_alloc_fail_every(every);
		rv = cm_wire_decode_batch(&c, m.data, m.len, &cm_wire_default_limits, &out, &why);
		cm_alloc_fail_every(0);
		assert_true(rv == CM_OK || rv == CM_ENOMEM);
		cm_batch_fini(&out);
		cm_wire_codec_fini(&c);
	}
	cm_buf_fini(&m);
}

static void
replies_round_trip(void **state)
{
	cm_wire_reply in = { .type = CM_MSG_RETRY, .accepted = 3, .retry_ms = 250 }, out;
	cm_buf m;
	(void)state;
	strcpy(in.reason, "queue full");
	cm_buf_init(&m);
	assert_int_equal(cm_wire_encode_reply(&in, &m), CM_OK);
	assert_int_equal(cm_wire_decode_reply(m.data, m.len, &out), CM_OK);
	assert_int_equal(out.type, CM_MSG_RETRY);
	assert_int_equal(out.accepted, 3);
	assert_int_equal(out.retry_ms, 250);
	assert_string_equal(out.reason, "queue full");
	for (size_t n = 0; n < m.len; n++)
		assert_int_equal(cm_wire_decode_reply(m.data, n, &out), CM_EPROTO);
	cm_buf_fini(&m);
	/* Found by fuzz_wire: a reply whose payload announces a 4-billion-element
	 * array made msgpack-c allocate 16 GiB inside the host application. */
	static const uint8_t huge[] = { 'W', 'F', 1, 3, 0, 0, 0, 0, 0, 0, 0, 9,
		0x93, 0xff, 0xff, 0xdf, 0x12, 0xff, 0xf6, 0x00, 0x00 };
	assert_int_equal(cm_wire_decode_reply(huge, sizeof huge, &out), CM_EPROTO);
}

/* The one-pass reader types integers as msgpack-c does: by sign, whatever the encoding. */
/* weft's msgpack writers choose the same encodings as msgpack-c: stored resources are keyed by a hash of their bytes. */
static void
writer_matches_msgpack_c(void **state)
{
	static const int64_t ints[] = { 0, 1, 31, 32, 127, 128, 255, 256, 65535, 65536, 4294967295LL, 4294967296LL,
		INT64_MAX, -1, -31, -32, -33, -127, -128, -129, -32767, -32768, -32769, INT32_MIN, (int64_t)INT32_MIN - 1,
		INT64_MIN };
	static const size_t lens[] = { 0, 1, 15, 16, 31, 32, 255, 256, 65535, 65536, 70000 };
	static const double doubles[] = { 0.0, -1.5, 3.141592653589793, 1e300 };
	char *text = cm_malloc(70000);
	cm_buf ours, theirs;
	msgpack_packer pk;
	(void)state;

	memset(text, 'x', 70000);
	cm_buf_init(&ours);
	cm_buf_init(&theirs);
	msgpack_packer_init(&pk, &theirs, pack_to_buf);
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
		cm_mpw_int(&ours, ints[i]);
		msgpack_pack_int64(&pk, ints[i]);
		if (ints[i] >= 0) {
			cm_mpw_uint(&ours, (uint64_t)ints[i]);
			msgpack_pack_uint64(&pk, (uint64_t)ints[i]);
		}
	}
	cm_mpw_uint(&ours, UINT64_MAX);
	msgpack_pack_uint64(&pk, UINT64_MAX);
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		cm_mpw_str(&ours, text, lens[i]);
		msgpack_pack_str(&pk, lens[i]);
		msgpack_pack_str_body(&pk, text, lens[i]);
		cm_mpw_bin(&ours, text, lens[i]);
		msgpack_pack_bin(&pk, lens[i]);
		msgpack_pack_bin_body(&pk, text, lens[i]);
		cm_mpw_array(&ours, (uint32_t)lens[i]);
		msgpack_pack_array(&pk, lens[i]);
	}
	for (size_t i = 0; i < sizeof doubles / sizeof doubles[0]; i++) {
		cm_mpw_double(&ours, doubles[i]);
		msgpack_pack_double(&pk, doubles[i]);
	}
	cm_mpw_nil(&ours);
	msgpack_pack_nil(&pk);
	cm_mpw_bool(&ours, true);
	msgpack_pack_true(&pk);
	cm_mpw_bool(&ours, false);
	msgpack_pack_false(&pk);
	assert_false(ours.failed);
	assert_int_equal(ours.len, theirs.len);
	assert_memory_equal(ours.data, theirs.data, ours.len);
	cm_buf_fini(&ours);
	cm_buf_fini(&theirs);
	cm_free(text);
}

static void
reader_reads_every_encoding(void **state)
{
	static const struct {
		uint8_t b[9];
		size_t n;
		cm_mp_type type;
		int64_t v; /* as a signed value; UINT64_MAX is -1 */
	} ints[] = {
		{ { 0x05 }, 1, CM_MP_UINT, 5 },
		{ { 0xcc, 0xff }, 2, CM_MP_UINT, 255 },
		{ { 0xcd, 0x01, 0x00 }, 3, CM_MP_UINT, 256 },
		{ { 0xce, 0x00, 0x01, 0x00, 0x00 }, 5, CM_MP_UINT, 65536 },
		{ { 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 9, CM_MP_UINT, -1 },
		{ { 0xd0, 0x05 }, 2, CM_MP_UINT, 5 },
		{ { 0xd2, 0x00, 0x00, 0x01, 0x00 }, 5, CM_MP_UINT, 256 },
		{ { 0xd0, 0xfb }, 2, CM_MP_NINT, -5 },
		{ { 0xd1, 0xff, 0x00 }, 3, CM_MP_NINT, -256 },
		{ { 0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0 }, 9, CM_MP_NINT, INT64_MIN },
		{ { 0xe0 }, 1, CM_MP_NINT, -32 },
	};
	static const uint8_t f32[] = { 0xca, 0x3f, 0xc0, 0x00, 0x00 }, f64[] = { 0xcb, 0xc0, 0x04, 0, 0, 0, 0, 0, 0 };
	static const uint8_t str8[] = { 0xd9, 0x03, 'a', 'b', 'c' }, str16[] = { 0xda, 0x00, 0x01, 'z' };
	static const uint8_t empty[] = { 0xa0 }, bin16[] = { 0xc5, 0x00, 0x02, 7, 8 };
	static const uint8_t arr16[] = { 0xdc, 0x00, 0x02, 0x01, 0x02 }, arr_long[] = { 0xdc, 0x00, 0x03, 0x01, 0x02 };
	static const uint8_t cut_uint[] = { 0xcd, 0x01 }, cut_str[] = { 0xd9, 0x04, 'a' }, map[] = { 0x80 };
	(void)state;

	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
		cm_mpread r = cm_mp_reader(ints[i].b, ints[i].n);
		uint64_t u;
		int64_t v;
		assert_int_equal(cm_mp_peek(&r), ints[i].type);
		if (ints[i].type == CM_MP_UINT) {
			assert_false(cm_mp_read_nint(&r, &v));
			assert_true(cm_mp_read_uint(&r, &u));
			assert_true(u == (uint64_t)ints[i].v);
		} else {
			assert_false(cm_mp_read_uint(&r, &u));
			assert_true(cm_mp_read_nint(&r, &v));
			assert_true(v == ints[i].v);
		}
		assert_ptr_equal(r.p, r.end);
	}

	cm_mpread r = cm_mp_reader(f32, sizeof f32);
	double d;
	assert_true(cm_mp_read_double(&r, &d) && d == 1.5 && r.p == r.end);
	r = cm_mp_reader(f64, sizeof f64);
	assert_true(cm_mp_read_double(&r, &d) && d == -2.5 && r.p == r.end);

	cm_str s;
	r = cm_mp_reader(str8, sizeof str8);
	assert_true(cm_mp_read_str(&r, &s) && s.len == 3 && memcmp(s.p, "abc", 3) == 0 && r.p == r.end);
	r = cm_mp_reader(str16, sizeof str16);
	assert_true(cm_mp_read_str(&r, &s) && s.len == 1 && s.p[0] == 'z' && r.p == r.end);
	r = cm_mp_reader(empty, sizeof empty);
	assert_true(cm_mp_read_str(&r, &s) && s.len == 0 && s.p != NULL);

	const uint8_t *p;
	uint32_t n;
	r = cm_mp_reader(bin16, sizeof bin16);
	assert_true(cm_mp_read_bin(&r, &p, &n) && n == 2 && p[0] == 7 && p[1] == 8 && r.p == r.end);
	r = cm_mp_reader(arr16, sizeof arr16);
	assert_true(cm_mp_read_array(&r, &n) && n == 2 && r.p == arr16 + 3);

	/* refused, consuming nothing: more elements than bytes, cut lengths, a map */
	r = cm_mp_reader(arr_long, sizeof arr_long);
	assert_false(cm_mp_read_array(&r, &n));
	assert_ptr_equal(r.p, arr_long);
	r = cm_mp_reader(cut_uint, sizeof cut_uint);
	assert_false(cm_mp_read_uint(&r, &(uint64_t){ 0 }));
	assert_ptr_equal(r.p, cut_uint);
	r = cm_mp_reader(cut_str, sizeof cut_str);
	assert_false(cm_mp_read_str(&r, &s));
	assert_ptr_equal(r.p, cut_str);
	r = cm_mp_reader(map, sizeof map);
	assert_int_equal(cm_mp_peek(&r), CM_MP_OTHER);
	assert_false(cm_mp_read_array(&r, &n));
	r = cm_mp_reader(map, 0);
	assert_int_equal(cm_mp_peek(&r), CM_MP_END);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(batch_round_trips_uncompressed),
		cmocka_unit_test(token_is_carried_and_checked),
		cmocka_unit_test(batch_round_trips_with_zstd),
		cmocka_unit_test(malformed_headers_are_rejected),
		cmocka_unit_test(every_truncation_is_rejected),
		cmocka_unit_test(every_flipped_byte_fails_cleanly_or_decodes),
		cmocka_unit_test(limits_are_enforced),
		cmocka_unit_test(wrong_shapes_are_rejected),
		cmocka_unit_test(repeated_strings_travel_once_and_decode_to_the_same_bytes),
		cmocka_unit_test(string_references_are_checked),
		cmocka_unit_test(string_table_numbers_every_string_and_names_repeats),
		cmocka_unit_test(huge_length_headers_are_rejected_before_allocating),
		cmocka_unit_test(zstd_garbage_is_rejected),
		cmocka_unit_test(allocation_failures_give_errors_not_crashes),
		cmocka_unit_test(replies_round_trip),
		cmocka_unit_test(reader_reads_every_encoding),
		cmocka_unit_test(writer_matches_msgpack_c),
	};
	return cmocka_run_group_tests_name("wire", tests, NULL, NULL);
}
