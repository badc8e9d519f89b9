/*
 * baggage.c - W3C Baggage.
 *
 *   baggage-string = list-member 0*179( OWS "," OWS list-member )
 *   list-member    = key OWS "=" OWS value *( OWS ";" OWS property )
 *   property       = key OWS "=" OWS value / key OWS
 *   key            = token (RFC 7230)
 *   value          = *baggage-octet, percent-encoding for anything else
 *   baggage-octet  = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E
 *
 * Lists are kept normalised: no optional whitespace, invalid members
 * dropped (as OpenTelemetry's propagators do), at most 180 members.
 */
#include <string.h>

#include "err.h"
#include "propagation.h"

enum { MAX_MEMBERS = 180 };

static bool
tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool
octet(char c)
{
	return c == 0x21 || (c >= 0x23 && c <= 0x2b) || (c >= 0x2d && c <= 0x3a) || (c >= 0x3c && c <= 0x5b) ||
	    (c >= 0x5d && c <= 0x7e);
}

static bool
token(const char *p, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!tchar(p[i]))
			return false;
	return true;
}

static bool
value_ok(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!octet(p[i]))
			return false;
	return true;
}

static void
trim(const char **p, size_t *n)
{
	while (*n > 0 && (**p == ' ' || **p == '\t'))
		(*p)++, (*n)--;
	while (*n > 0 && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
		(*n)--;
}

/* Appends p[0..n) to dst at *off; false when it does not fit. */
static bool
put(char *dst, size_t cap, size_t *off, const char *p, size_t n)
{
	if (*off + n + 1 > cap)
		return false;
	memcpy(dst + *off, p, n);
	*off += n;
	dst[*off] = '\0';
	return true;
}

/* Normalises "key = value ; prop" into dst at *off; false if invalid. */
static bool
member(const char *p, size_t n, char *dst, size_t cap, size_t *off)
{
	size_t start = *off;
	bool first = true;

	while (n > 0) {
		const char *semi = memchr(p, ';', n), *eq;
		size_t part = semi ? (size_t)(semi - p) : n, klen, vlen;
		const char *k = p, *v;
		trim(&k, &part);
		eq = memchr(k, '=', part);
		klen = eq ? (size_t)(eq - k) : part;
		v = eq ? eq + 1 : NULL;
		vlen = eq ? part - klen - 1 : 0;
		trim(&k, &klen);
		if (v != NULL)
			trim(&v, &vlen);
		if (!token(k, klen) || (v != NULL && !value_ok(v, vlen)) || (first && v == NULL) ||
		    (!first && !put(dst, cap, off, ";", 1)) || !put(dst, cap, off, k, klen) ||
		    (v != NULL && (!put(dst, cap, off, "=", 1) || !put(dst, cap, off, v, vlen)))) {
			*off = start;
			dst[start] = '\0';
			return false;
		}
		first = false;
		if (semi == NULL)
			break;
		n -= (size_t)(semi - p) + 1;
		p = semi + 1;
	}
	return !first;
}

int
weft_baggage_parse(const char *value, char *dst, size_t cap)
{
	size_t off = 0;
	int count = 0;

	if (value == NULL || dst == NULL || cap == 0)
		return WEFT_EINVAL;
	dst[0] = '\0';
	while (*value != '\0' && count < MAX_MEMBERS) {
		const char *end = strchr(value, ',');
		size_t n = end ? (size_t)(end - value) : strlen(value);
		size_t before = off;
		if (off > 0 && !put(dst, cap, &off, ",", 1))
			return WEFT_ETOOBIG;
		if (member(value, n, dst, cap, &off))
			count++;
		else if (off > before) {
			off = before; /* drop the comma of an invalid or oversized member */
			dst[off] = '\0';
		}
		value = end ? end + 1 : value + n;
	}
	return WEFT_OK;
}

void
sdk_baggage_each(const char *bg, void (*fn)(void *arg, const char *key, size_t klen, const char *val, size_t vlen),
    void *arg)
{
	while (bg != NULL && *bg != '\0') {
		const char *end = strchr(bg, ','), *eq, *semi;
		size_t n = end ? (size_t)(end - bg) : strlen(bg);
		semi = memchr(bg, ';', n);
		if (semi != NULL)
			n = (size_t)(semi - bg);
		if ((eq = memchr(bg, '=', n)) != NULL)
			fn(arg, bg, (size_t)(eq - bg), eq + 1, n - (size_t)(eq - bg) - 1);
		bg = end ? end + 1 : bg + strlen(bg);
	}
}

int
sdk_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
sdk_percent_decode(const char *src, size_t n, char *dst, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = src[i];
		if (c == '%') {
			int hi, lo;
			if (i + 2 >= n || (hi = sdk_hex_digit(src[i + 1])) < 0 || (lo = sdk_hex_digit(src[i + 2])) < 0)
				return CM_EINVAL;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (o + 1 >= cap)
			return CM_ETOOBIG;
		dst[o++] = c;
	}
	if (cap == 0)
		return CM_ETOOBIG;
	dst[o] = '\0';
	return CM_OK;
}

typedef struct lookup {
	const char *key;
	size_t klen;
	const char *val;
	size_t vlen;
	bool found;
} lookup;

static void
match(void *arg, const char *key, size_t klen, const char *val, size_t vlen)
{
	lookup *l = arg;
	if (klen == l->klen && memcmp(key, l->key, klen) == 0) {
		l->val = val;
		l->vlen = vlen;
		l->found = true;
	}
}

int
weft_baggage_get(const char *baggage, const char *key, char *dst, size_t cap)
{
	lookup l = { .key = key, .klen = key ? strlen(key) : 0 };

	if (baggage == NULL || key == NULL || dst == NULL)
		return WEFT_EINVAL;
	sdk_baggage_each(baggage, match, &l);
	if (!l.found)
		return WEFT_ENOENT;
	return sdk_percent_decode(l.val, l.vlen, dst, cap);
}

/* Removes key's member from the normalised list bg, in place. */
static void
remove_key(char *bg, const char *key, size_t klen)
{
	char *p = bg;
	while (*p != '\0') {
		char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n > klen && memcmp(p, key, klen) == 0 && (p[klen] == '=' || p[klen] == ';')) {
			if (end == NULL) {
				p[p > bg ? -1 : 0] = '\0';
				return;
			}
			memmove(p, end + 1, strlen(end + 1) + 1);
			continue;
		}
		p = end ? end + 1 : p + n;
	}
}

int
weft_baggage_set(char *bg, size_t cap, const char *key, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t klen = key ? strlen(key) : 0, off, start;

	if (bg == NULL || value == NULL || !token(key ? key : "", klen))
		return WEFT_EINVAL;
	remove_key(bg, key, klen);
	start = off = strlen(bg);
	if ((off > 0 && !put(bg, cap, &off, ",", 1)) || !put(bg, cap, &off, key, klen) || !put(bg, cap, &off, "=", 1))
		goto toobig;
	for (const unsigned char *v = (const unsigned char *)value; *v; v++) {
		char enc[3] = { '%', hex[*v >> 4], hex[*v & 15] };
		bool plain = octet((char)*v) && *v != '%';
		if (!put(bg, cap, &off, plain ? (const char *)v : enc, plain ? 1 : 3))
			goto toobig;
	}
	return WEFT_OK;
toobig:
	bg[start] = '\0';
	return WEFT_ETOOBIG;
}

static void
bg_inject(const sdk_outgoing *o, weft_setter set, void *carrier)
{
	if (o->baggage[0] != '\0')
		set(carrier, "baggage", o->baggage);
}

static void
bg_extract(weft_getter get, weft_keys keys, void *carrier, weft_context *out)
{
	const char *v = get(carrier, "baggage");
	(void)keys;
	if (v != NULL)
		weft_baggage_parse(v, out->baggage, sizeof out->baggage);
}

const sdk_format sdk_format_baggage = { "baggage", WEFT_PROP_BAGGAGE, bg_inject, bg_extract };
