/*
 * tracecontext.c - W3C Trace Context: traceparent and tracestate.
 *
 * traceparent = version "-" trace-id "-" parent-id "-" trace-flags
 * with 2, 32, 16 and 2 lowercase hex digits. Version ff is invalid; version
 * 00 must be exactly 55 characters; a later version may carry more fields
 * after a further "-", which are ignored (the spec's forward compatibility).
 *
 * tracestate = list of key=value, at most 32, keys unique:
 *   key   = lcalpha 0*255(lcalpha / DIGIT / "_" / "-" / "*" / "/")
 *         / (lcalpha / DIGIT) 0*240(...) "@" lcalpha 0*13(...)
 *   value = 0*255(chr) nblk-chr; chr = %x20 / nblk-chr;
 *           nblk-chr = %x21-2B / %x2D-3C / %x3E-7E
 * with optional spaces and tabs around members; empty members are allowed.
 */
#include <string.h>

#include "err.h"
#include "ids.h"
#include "propagation.h"
#include "sdk_int.h"

enum { TS_MAX_MEMBERS = 32, TS_LONG_MEMBER = 128 };

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

static bool
key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '*' || c == '/';
}

static bool
valid_key(const char *k, size_t n)
{
	const char *at = memchr(k, '@', n);
	size_t tenant, system;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (k + i != at && !key_char(k[i]))
			return false;
	if (at == NULL)
		return n <= 256 && k[0] >= 'a' && k[0] <= 'z';
	tenant = (size_t)(at - k);
	system = n - tenant - 1;
	return tenant >= 1 && tenant <= 241 && system >= 1 && system <= 14 && at[1] >= 'a' && at[1] <= 'z';
}

static bool
valid_value(const char *v, size_t n)
{
	if (n == 0 || n > 256 || v[n - 1] == ' ')
		return false;
	for (size_t i = 0; i < n; i++)
		if (v[i] < 0x20 || v[i] > 0x7e || v[i] == ',' || v[i] == '=')
			return false;
	return true;
}

typedef struct ts_member {
	const char *p; /* "key=value" */
	size_t len;
	size_t klen;
} ts_member;

static bool
ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Splits a tracestate list into members. Returns the count, or -1 when W3C says to discard the list. */
static int
split(const char *v, ts_member *m)
{
	int n = 0;

	while (*v != '\0') {
		const char *end = strchr(v, ','), *eq;
		size_t len;
		if (end == NULL)
			end = v + strlen(v);
		while (v < end && ows(*v))
			v++;
		len = (size_t)(end - v);
		while (len > 0 && ows(v[len - 1]))
			len--;
		if (len > 0) {
			if ((eq = memchr(v, '=', len)) == NULL || n == TS_MAX_MEMBERS)
				return -1;
			m[n] = (ts_member){ v, len, (size_t)(eq - v) };
			if (!valid_key(v, m[n].klen) || !valid_value(eq + 1, len - m[n].klen - 1))
				return -1;
			for (int i = 0; i < n; i++)
				if (m[i].klen == m[n].klen && memcmp(m[i].p, v, m[n].klen) == 0)
					return -1;
			n++;
		}
		v = *end ? end + 1 : end;
	}
	return n;
}

/* Joins members into dst; over cap-1 characters, long members go first, then the last ones. */
static int
join(ts_member *m, int n, char *dst, size_t cap)
{
	size_t total = 0, off = 0;

	for (int i = 0; i < n; i++)
		total += m[i].len + (i > 0);
	for (int i = n - 1; i >= 0 && total + 1 > cap; i--) {
		if (m[i].len > TS_LONG_MEMBER) {
			total -= m[i].len + 1;
			m[i].len = 0;
		}
	}
	for (int i = n - 1; i >= 0 && total + 1 > cap; i--) {
		if (m[i].len > 0) {
			total -= m[i].len + 1;
			m[i].len = 0;
		}
	}
	if (cap == 0)
		return WEFT_ETOOBIG;
	for (int i = 0; i < n; i++) {
		if (m[i].len == 0)
			continue;
		if (off > 0)
			dst[off++] = ',';
		memmove(dst + off, m[i].p, m[i].len);
		off += m[i].len;
	}
	dst[off] = '\0';
	return WEFT_OK;
}

int
weft_tracestate_parse(const char *value, char *dst, size_t cap)
{
	ts_member m[TS_MAX_MEMBERS];
	int n;

	if (value == NULL || dst == NULL || cap == 0)
		return WEFT_EINVAL;
	if ((n = split(value, m)) < 0) {
		dst[0] = '\0';
		return WEFT_EINVAL;
	}
	return join(m, n, dst, cap); /* moves members left only: value may be dst */
}

int
weft_tracestate_set(char *ts, size_t cap, const char *key, const char *value)
{
	ts_member m[TS_MAX_MEMBERS + 1];
	char copy[WEFT_TRACESTATE_MAX], member[600];
	size_t klen = key ? strlen(key) : 0, vlen = value ? strlen(value) : 0;
	int n, out = 1;

	if (ts == NULL || !valid_key(key ? key : "", klen) || !valid_value(value ? value : "", vlen))
		return WEFT_EINVAL;
	if (klen + vlen + 2 > sizeof member || klen + vlen + 2 > cap)
		return WEFT_ETOOBIG;
	memcpy(member, key, klen);
	member[klen] = '=';
	memcpy(member + klen + 1, value, vlen + 1);
	strncpy(copy, ts, sizeof copy - 1);
	copy[sizeof copy - 1] = '\0';
	if ((n = split(copy, m + 1)) < 0)
		n = 0; /* an invalid list is replaced */
	m[0] = (ts_member){ member, klen + vlen + 1, klen };
	for (int i = 1; i <= n; i++)
		if (!(m[i].klen == klen && memcmp(m[i].p, key, klen) == 0) && out < TS_MAX_MEMBERS)
			m[out++] = m[i];
	return join(m, out, ts, cap);
}

static void
tc_inject(const sdk_outgoing *o, weft_setter set, void *carrier)
{
	char tp[WEFT_TRACEPARENT_SIZE];

	if (weft_traceparent_format(&o->span, tp, sizeof tp) != WEFT_OK)
		return;
	set(carrier, "traceparent", tp);
	if (o->tracestate[0] != '\0')
		set(carrier, "tracestate", o->tracestate);
}

static void
tc_extract(weft_getter get, weft_keys keys, void *carrier, weft_context *out)
{
	const char *ts;
	weft_span_context c;

	(void)keys;
	if (weft_traceparent_parse(get(carrier, "traceparent"), &c) != WEFT_OK)
		return;
	out->span = c;
	out->tracestate[0] = '\0';
	if ((ts = get(carrier, "tracestate")) != NULL)
		weft_tracestate_parse(ts, out->tracestate, sizeof out->tracestate);
}

const sdk_format sdk_format_tracecontext = { "tracecontext", WEFT_PROP_TRACECONTEXT, tc_inject, tc_extract };
