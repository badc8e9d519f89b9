/*
 * b3.c - Zipkin's B3 propagation, single header and multiple headers.
 *
 * Single: b3: {TraceId}-{SpanId}[-{SamplingState}[-{ParentSpanId}]], or
 * b3: {SamplingState} alone (a decision without ids, which carries no
 * context here). Multi: X-B3-TraceId, X-B3-SpanId, X-B3-ParentSpanId,
 * X-B3-Sampled (1/0, or true/false from old tracers), X-B3-Flags (1 =
 * debug). Trace ids are 32 or 16 hex digits (64-bit ids are left-padded);
 * span ids 16. Sampling state: 1 accept, 0 deny, d debug (sampled). With
 * ids but no state the sender deferred the decision; it is taken as
 * sampled, so the trace the caller started is kept.
 */
#include <string.h>

#include "err.h"
#include "ids.h"
#include "propagation.h"

static bool
parse_ids(const char *trace, size_t tlen, const char *span, size_t slen, weft_span_context *c)
{
	memset(c, 0, sizeof *c);
	if ((tlen != 32 && tlen != 16) || slen != 16)
		return false;
	if (sdk_hex_padded(trace, tlen, c->trace_id.b, 16) != CM_OK ||
	    sdk_hex_padded(span, slen, c->span_id.b, 8) != CM_OK)
		return false;
	c->remote = true;
	return weft_span_context_is_valid(c);
}

/* The sampled flag from a sampling state; -1 when unknown. */
static int
sampled(const char *v, size_t n)
{
	if (n == 1 && (v[0] == '1' || v[0] == 'd'))
		return 1;
	if (n == 1 && v[0] == '0')
		return 0;
	if (n == 4 && memcmp(v, "true", 4) == 0)
		return 1;
	if (n == 5 && memcmp(v, "false", 5) == 0)
		return 0;
	return -1;
}

static void
b3_extract(weft_getter get, weft_keys keys, void *carrier, weft_context *out)
{
	const char *v = get(carrier, "b3"), *d1, *d2, *d3;
	weft_span_context c;
	int smp = 1;

	(void)keys;
	if (v == NULL || (d1 = strchr(v, '-')) == NULL)
		return;
	d2 = strchr(d1 + 1, '-');
	if (!parse_ids(v, (size_t)(d1 - v), d1 + 1, d2 ? (size_t)(d2 - d1 - 1) : strlen(d1 + 1), &c))
		return;
	if (d2 != NULL) {
		d3 = strchr(d2 + 1, '-');
		smp = sampled(d2 + 1, d3 ? (size_t)(d3 - d2 - 1) : strlen(d2 + 1));
		if (smp < 0 || (d3 != NULL && strlen(d3 + 1) != 16))
			return;
	}
	c.flags = smp ? WEFT_FLAG_SAMPLED : 0;
	out->span = c;
}

static void
b3_inject(const sdk_outgoing *o, weft_setter set, void *carrier)
{
	char v[32 + 1 + 16 + 2 + 1];

	if (!weft_span_context_is_valid(&o->span))
		return;
	cm_hex_encode(o->span.trace_id.b, 16, v);
	v[32] = '-';
	cm_hex_encode(o->span.span_id.b, 8, v + 33);
	v[49] = '-';
	v[50] = (o->span.flags & WEFT_FLAG_SAMPLED) ? '1' : '0';
	v[51] = '\0';
	set(carrier, "b3", v);
}

static void
b3multi_extract(weft_getter get, weft_keys keys, void *carrier, weft_context *out)
{
	const char *trace = get(carrier, "X-B3-TraceId"), *span = get(carrier, "X-B3-SpanId");
	const char *smp = get(carrier, "X-B3-Sampled"), *flags = get(carrier, "X-B3-Flags");
	weft_span_context c;
	int s = 1;

	(void)keys;
	if (trace == NULL || span == NULL || !parse_ids(trace, strlen(trace), span, strlen(span), &c))
		return;
	if (smp != NULL && (s = sampled(smp, strlen(smp))) < 0)
		return;
	if (flags != NULL && strcmp(flags, "1") == 0)
		s = 1;
	c.flags = s ? WEFT_FLAG_SAMPLED : 0;
	out->span = c;
}

static void
b3multi_inject(const sdk_outgoing *o, weft_setter set, void *carrier)
{
	char trace[33], span[17];

	if (!weft_span_context_is_valid(&o->span))
		return;
	cm_hex_encode(o->span.trace_id.b, 16, trace);
	cm_hex_encode(o->span.span_id.b, 8, span);
	set(carrier, "X-B3-TraceId", trace);
	set(carrier, "X-B3-SpanId", span);
	set(carrier, "X-B3-Sampled", (o->span.flags & WEFT_FLAG_SAMPLED) ? "1" : "0");
}

const sdk_format sdk_format_b3 = { "b3", WEFT_PROP_B3, b3_inject, b3_extract };
const sdk_format sdk_format_b3multi = { "b3multi", WEFT_PROP_B3MULTI, b3multi_inject, b3multi_extract };
