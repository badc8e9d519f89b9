/*
 * propagation.c - the composite propagator (OTEL_PROPAGATORS) and carriers
 * made of plain header arrays.
 *
 * Formats run in the order OTEL_PROPAGATORS lists them; on extract a later
 * format's valid span context replaces an earlier one's, and baggage from
 * several formats (baggage, uberctx-*) is merged.
 */
#include <string.h>
#include <strings.h>

#include "err.h"
#include "ids.h"
#include "propagation.h"
#include "sdk_int.h"

static const sdk_format *const formats[] = {
	&sdk_format_tracecontext, &sdk_format_baggage, &sdk_format_b3, &sdk_format_b3multi, &sdk_format_jaeger,
};
enum { NFORMATS = sizeof formats / sizeof formats[0], ORDER_SHIFT = 8 };

/*
 * The set keeps its bits in the low byte and, above it, the order: three
 * bits per position naming a format index + 1, so "b3,tracecontext"
 * extracts b3 first.
 */
int
weft_propagators_parse(const char *list, unsigned *out)
{
	unsigned set = 0, pos = 0;

	if (list == NULL || out == NULL)
		return WEFT_EINVAL;
	while (*list != '\0') {
		const char *end = strchr(list, ',');
		size_t n = end ? (size_t)(end - list) : strlen(list);
		const char *p = list;
		size_t i;
		while (n > 0 && *p == ' ')
			p++, n--;
		while (n > 0 && p[n - 1] == ' ')
			n--;
		if (n == 4 && memcmp(p, "none", 4) == 0) {
			/* no format */
		} else if (n > 0) {
			for (i = 0; i < NFORMATS; i++)
				if (strlen(formats[i]->name) == n && memcmp(formats[i]->name, p, n) == 0)
					break;
			if (i == NFORMATS)
				return WEFT_EINVAL;
			if (!(set & formats[i]->bit)) {
				set |= formats[i]->bit | (unsigned)(i + 1) << (ORDER_SHIFT + 3 * pos);
				pos++;
			}
		}
		list = end ? end + 1 : list + strlen(list);
	}
	*out = set;
	return WEFT_OK;
}

/* The i-th format of a set: by recorded order, else (a bare bit set) by bit. */
static const sdk_format *
nth(unsigned set, unsigned i)
{
	unsigned idx = (set >> (ORDER_SHIFT + 3 * i)) & 7;
	if (set >> ORDER_SHIFT)
		return idx ? formats[idx - 1] : NULL;
	for (unsigned k = 0, seen = 0; k < NFORMATS; k++)
		if ((set & formats[k]->bit) && seen++ == i)
			return formats[k];
	return NULL;
}

int
sdk_hex_padded(const char *s, size_t len, uint8_t *dst, size_t n)
{
	char buf[32];
	if (len == 0 || len > 2 * n)
		return CM_EINVAL;
	memset(buf, '0', 2 * n - len);
	memcpy(buf + 2 * n - len, s, len);
	return cm_hex_decode(buf, 2 * n, dst, n, false);
}

void
weft_inject_with(unsigned set, const weft_span *s, weft_setter setter, void *carrier)
{
	sdk_outgoing o;
	const sdk_format *f;

	if (s == NULL || setter == NULL)
		return;
	o.span = weft_span_get_context(s);
	o.tracestate = weft_span_tracestate(s);
	o.baggage = weft_span_baggage(s);
	for (unsigned i = 0; (f = nth(set, i)) != NULL; i++)
		f->inject(&o, setter, carrier);
}

void
weft_inject(const weft_span *s, weft_setter set, void *carrier)
{
	if (s != NULL)
		weft_inject_with(s->tracer->propagators, s, set, carrier);
}

int
weft_extract_with(unsigned set, weft_getter get, weft_keys keys, void *carrier, weft_context *out)
{
	const sdk_format *f;

	if (get == NULL || out == NULL)
		return WEFT_EINVAL;
	memset(&out->span, 0, sizeof out->span);
	out->tracestate[0] = out->baggage[0] = '\0';
	for (unsigned i = 0; (f = nth(set, i)) != NULL; i++) {
		weft_span_context before = out->span;
		f->extract(get, keys, carrier, out);
		if (f != &sdk_format_tracecontext && memcmp(&before, &out->span, sizeof before) != 0)
			out->tracestate[0] = '\0'; /* tracestate belongs to the traceparent it came with */
	}
	return weft_span_context_is_valid(&out->span) ? WEFT_OK : WEFT_ENOENT;
}

int
weft_extract(weft_tracer *t, weft_getter get, weft_keys keys, void *carrier, weft_context *out)
{
	if (t == NULL)
		return WEFT_EINVAL;
	return weft_extract_with(t->propagators, get, keys, carrier, out);
}

/* ---- header arrays ---- */

typedef struct header_in {
	const weft_header *h;
	size_t n;
	char joined[WEFT_BAGGAGE_MAX];
} header_in;

/* The value of name; several headers of that name joined with ",". */
static const char *
header_get(void *carrier, const char *name)
{
	header_in *c = carrier;
	const char *first = NULL;
	size_t off = 0, count = 0;

	for (size_t i = 0; i < c->n; i++) {
		size_t len;
		if (c->h[i].name == NULL || c->h[i].value == NULL || strcasecmp(c->h[i].name, name) != 0)
			continue;
		if (count++ == 0) {
			first = c->h[i].value;
			continue;
		}
		if (count == 2) {
			len = strlen(first);
			if (len >= sizeof c->joined)
				return first;
			memcpy(c->joined, first, len);
			off = len;
		}
		len = strlen(c->h[i].value);
		if (off + 1 + len >= sizeof c->joined)
			break;
		c->joined[off++] = ',';
		memcpy(c->joined + off, c->h[i].value, len);
		off += len;
	}
	if (count < 2)
		return first;
	c->joined[off] = '\0';
	return c->joined;
}

static void
header_keys(void *carrier, void (*visit)(void *arg, const char *key), void *arg)
{
	header_in *c = carrier;
	for (size_t i = 0; i < c->n; i++)
		if (c->h[i].name != NULL)
			visit(arg, c->h[i].name);
}

int
weft_extract_headers(weft_tracer *t, const weft_header *h, size_t n, weft_context *out)
{
	header_in c;
	c.h = h;
	c.n = h ? n : 0;
	return weft_extract(t, header_get, header_keys, &c, out);
}

typedef struct header_out {
	weft_header *h;
	size_t cap, n;
	char *buf;
	size_t bufcap, used;
} header_out;

static const char *
copy_in(header_out *c, const char *s)
{
	size_t n = strlen(s) + 1;
	char *d;
	if (c->used + n > c->bufcap)
		return NULL;
	d = c->buf + c->used;
	memcpy(d, s, n);
	c->used += n;
	return d;
}

static void
header_set(void *carrier, const char *name, const char *value)
{
	header_out *c = carrier;
	size_t mark = c->used;
	const char *n, *v;

	if (c->n == c->cap)
		return;
	if ((n = copy_in(c, name)) == NULL || (v = copy_in(c, value)) == NULL) {
		c->used = mark;
		return;
	}
	c->h[c->n++] = (weft_header){ n, v };
}

size_t
weft_inject_headers(const weft_span *s, weft_header *out, size_t cap, char *buf, size_t bufcap)
{
	header_out c = { out, out ? cap : 0, 0, buf, buf ? bufcap : 0, 0 };
	weft_inject(s, header_set, &c);
	return c.n;
}
