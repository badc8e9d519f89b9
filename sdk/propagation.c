/*
 * propagation.c - W3C Trace Context traceparent: format, parse, inject, extract.
 *
 * traceparent = version "-" trace-id "-" parent-id "-" trace-flags
 * with 2, 32, 16 and 2 lowercase hex digits. Version ff is invalid; version
 * 00 must be exactly 55 characters; a later version may carry more fields
 * after a further "-", which are ignored (the spec's forward compatibility).
 */
#include <string.h>

#include "err.h"
#include "ids.h"
#include "sdk_int.h"

int
weft_traceparent_format(const weft_span_context *c, char *dst, size_t cap)
{
	if (cap < WEFT_TRACEPARENT_SIZE || !weft_span_context_is_valid(c))
		return WEFT_EINVAL;
	memcpy(dst, "00-", 3);
	cm_hex_encode(c->trace_id.b, 16, dst + 3);
	dst[35] = '-';
	cm_hex_encode(c->span_id.b, 8, dst + 36);
	dst[52] = '-';
	cm_hex_encode(&c->flags, 1, dst + 53);
	return WEFT_OK;
}

int
weft_traceparent_parse(const char *v, weft_span_context *out)
{
	weft_span_context c;
	uint8_t version;
	size_t len;

	if (v == NULL)
		return WEFT_EINVAL;
	len = strlen(v);
	if (len < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-')
		return WEFT_EINVAL;
	if (cm_hex_decode(v, 2, &version, 1, true) != CM_OK || version == 0xff)
		return WEFT_EINVAL;
	if (version == 0 && len != 55)
		return WEFT_EINVAL;
	if (version != 0 && len > 55 && v[55] != '-')
		return WEFT_EINVAL;
	memset(&c, 0, sizeof c);
	if (cm_hex_decode(v + 3, 32, c.trace_id.b, 16, true) != CM_OK ||
	    cm_hex_decode(v + 36, 16, c.span_id.b, 8, true) != CM_OK ||
	    cm_hex_decode(v + 53, 2, &c.flags, 1, true) != CM_OK)
		return WEFT_EINVAL;
	if (!weft_span_context_is_valid(&c))
		return WEFT_EINVAL;
	c.remote = true;
	*out = c;
	return WEFT_OK;
}

void
weft_inject(const weft_span *s, weft_setter set, void *carrier)
{
	char tp[WEFT_TRACEPARENT_SIZE];
	weft_span_context c;

	if (s == NULL || set == NULL)
		return;
	c = weft_span_get_context(s);
	if (weft_traceparent_format(&c, tp, sizeof tp) == WEFT_OK)
		set(carrier, "traceparent", tp);
}

int
weft_extract(weft_getter get, void *carrier, weft_span_context *out)
{
	const char *v;

	if (get == NULL)
		return WEFT_EINVAL;
	if ((v = get(carrier, "traceparent")) == NULL)
		return WEFT_ENOENT;
	return weft_traceparent_parse(v, out);
}
