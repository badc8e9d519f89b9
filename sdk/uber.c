/*
 * uber.c - Jaeger's propagation: uber-trace-id and uberctx-* baggage.
 *
 * uber-trace-id: {trace-id}:{span-id}:{parent-span-id}:{flags}, ids in hex
 * without leading zeros (trace ids of 64 or 128 bits), the parent
 * deprecated (0), flags a hex bit set (1 sampled, 2 debug). HTTP clients
 * may send it URL-encoded (":" as %3A). Baggage travels as one header per
 * item, uberctx-{key}: {URL-encoded value}.
 */
#include <string.h>
#include <strings.h>

#include "err.h"
#include "ids.h"
#include "propagation.h"

#define PREFIX "uberctx-"
enum { PREFIX_LEN = sizeof PREFIX - 1 };

static void
uber_extract_ids(const char *raw, weft_context *out)
{
	char v[128], *f[4], *save = NULL;
	uint8_t flags[8];
	weft_span_context c;
	int n = 0;

	if (raw == NULL || sdk_percent_decode(raw, strlen(raw), v, sizeof v) != CM_OK)
		return;
	for (char *p = strtok_r(v, ":", &save); p != NULL; p = strtok_r(NULL, ":", &save), n++)
		if (n < 4)
			f[n] = p;
	if (n != 4 || strlen(f[3]) > 2)
		return;
	memset(&c, 0, sizeof c);
	if (cm_trace_id_parse(f[0], strlen(f[0]), (cm_trace_id *)&c.trace_id) != CM_OK ||
	    sdk_hex_padded(f[1], strlen(f[1]), c.span_id.b, 8) != CM_OK ||
	    sdk_hex_padded(f[2], strlen(f[2]), flags, 8) != CM_OK ||
	    sdk_hex_padded(f[3], strlen(f[3]), flags, 1) != CM_OK || !weft_span_context_is_valid(&c))
		return;
	c.flags = (flags[0] & 3) ? WEFT_FLAG_SAMPLED : 0;
	c.remote = true;
	out->span = c;
}

typedef struct key_walk {
	weft_getter get;
	void *carrier;
	weft_context *out;
} key_walk;

static void
visit(void *arg, const char *key)
{
	key_walk *w = arg;
	char value[1024];
	const char *raw;

	if (strncasecmp(key, PREFIX, PREFIX_LEN) != 0 || key[PREFIX_LEN] == '\0' ||
	    (raw = w->get(w->carrier, key)) == NULL ||
	    sdk_percent_decode(raw, strlen(raw), value, sizeof value) != CM_OK)
		return;
	weft_baggage_set(w->out->baggage, sizeof w->out->baggage, key + PREFIX_LEN, value);
}

static void
uber_extract(weft_getter get, weft_keys keys, void *carrier, weft_context *out)
{
	key_walk w = { get, carrier, out };

	uber_extract_ids(get(carrier, "uber-trace-id"), out);
	if (keys != NULL)
		keys(carrier, visit, &w);
}

typedef struct bag_put {
	weft_setter set;
	void *carrier;
} bag_put;

/* Baggage values stay percent-encoded: both formats encode the same way. */
static void
put_item(void *arg, const char *key, size_t klen, const char *val, size_t vlen)
{
	bag_put *b = arg;
	char name[PREFIX_LEN + 256 + 1], value[1024];

	if (klen > 256 || vlen >= sizeof value)
		return;
	memcpy(name, PREFIX, PREFIX_LEN);
	memcpy(name + PREFIX_LEN, key, klen);
	name[PREFIX_LEN + klen] = '\0';
	memcpy(value, val, vlen);
	value[vlen] = '\0';
	b->set(b->carrier, name, value);
}

static void
uber_inject(const sdk_outgoing *o, weft_setter set, void *carrier)
{
	char v[32 + 1 + 16 + 5 + 1];
	bag_put b = { set, carrier };

	if (weft_span_context_is_valid(&o->span)) {
		cm_hex_encode(o->span.trace_id.b, 16, v);
		v[32] = ':';
		cm_hex_encode(o->span.span_id.b, 8, v + 33);
		memcpy(v + 49, (o->span.flags & WEFT_FLAG_SAMPLED) ? ":0:1" : ":0:0", 5);
		set(carrier, "uber-trace-id", v);
	}
	sdk_baggage_each(o->baggage, put_item, &b);
}

const sdk_format sdk_format_jaeger = { "jaeger", WEFT_PROP_JAEGER, uber_inject, uber_extract };
