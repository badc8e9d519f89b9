/*
 * jsonw.c - streaming JSON writer.
 */
#include "jsonw.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
cm_jsonw_init(cm_jsonw *w, cm_buf *out)
{
	memset(w, 0, sizeof *w);
	w->out = out;
}

/* Emits the separator a new value needs at the current position. */
static void
value_start(cm_jsonw *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->need_comma[w->depth])
		cm_buf_append(w->out, ",", 1);
	w->need_comma[w->depth] = true;
}

static void
open_(cm_jsonw *w, char c)
{
	value_start(w);
	cm_buf_append(w->out, &c, 1);
	if (w->depth < CM_JSONW_MAX_DEPTH - 1)
		w->depth++;
	w->need_comma[w->depth] = false;
}

static void
close_(cm_jsonw *w, char c)
{
	cm_buf_append(w->out, &c, 1);
	if (w->depth > 0)
		w->depth--;
}

void cm_jsonw_obj(cm_jsonw *w) { open_(w, '{'); }
void cm_jsonw_obj_end(cm_jsonw *w) { close_(w, '}'); }
void cm_jsonw_arr(cm_jsonw *w) { open_(w, '['); }
void cm_jsonw_arr_end(cm_jsonw *w) { close_(w, ']'); }

static void
escaped(cm_buf *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0;

	cm_buf_append(out, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;
		char u[6];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		cm_buf_append(out, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		default:
			memcpy(u, "\\u00", 4);
			u[4] = hex[c >> 4];
			u[5] = hex[c & 15];
			cm_buf_append(out, u, 6);
		}
		if (esc)
			cm_buf_puts(out, esc);
	}
	cm_buf_append(out, s + run, n - run);
	cm_buf_append(out, "\"", 1);
}

void
cm_jsonw_keyn(cm_jsonw *w, cm_str key)
{
	value_start(w);
	escaped(w->out, key.p ? key.p : "", key.len);
	cm_buf_append(w->out, ":", 1);
	w->after_key = true;
}

void
cm_jsonw_key(cm_jsonw *w, const char *key)
{
	cm_jsonw_keyn(w, (cm_str){ key, (uint32_t)strlen(key) });
}

void
cm_jsonw_str(cm_jsonw *w, const char *s)
{
	value_start(w);
	escaped(w->out, s, strlen(s));
}

void
cm_jsonw_strn(cm_jsonw *w, cm_str s)
{
	value_start(w);
	escaped(w->out, s.p ? s.p : "", s.len);
}

/* Appends the decimal digits of v (no printf: this is on every span's path). */
static void
put_u64(cm_buf *out, uint64_t v)
{
	char digits[20];
	int n = 0;
	do {
		digits[sizeof digits - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	cm_buf_append(out, digits + sizeof digits - n, (size_t)n);
}

void
cm_jsonw_int(cm_jsonw *w, int64_t v)
{
	value_start(w);
	if (v < 0) {
		cm_buf_append(w->out, "-", 1);
		put_u64(w->out, (uint64_t)0 - (uint64_t)v);
	} else {
		put_u64(w->out, (uint64_t)v);
	}
}

void
cm_jsonw_uint(cm_jsonw *w, uint64_t v)
{
	value_start(w);
	put_u64(w->out, v);
}

void
cm_jsonw_double(cm_jsonw *w, double v)
{
	value_start(w);
	char tmp[32];
	if (!isfinite(v)) { /* JSON has no NaN or infinity */
		cm_buf_puts(w->out, "null");
		return;
	}
	/* The shortest of %.15g..%.17g that reads back as the same double. */
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(tmp, sizeof tmp, "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	cm_buf_puts(w->out, tmp);
}

void
cm_jsonw_micros(cm_jsonw *w, uint64_t ns)
{
	char frac[4] = { '.', (char)('0' + ns % 1000 / 100), (char)('0' + ns % 100 / 10), (char)('0' + ns % 10) };
	value_start(w);
	put_u64(w->out, ns / 1000);
	cm_buf_append(w->out, frac, 4);
}

void
cm_jsonw_bool(cm_jsonw *w, bool v)
{
	value_start(w);
	cm_buf_puts(w->out, v ? "true" : "false");
}

void
cm_jsonw_null(cm_jsonw *w)
{
	value_start(w);
	cm_buf_puts(w->out, "null");
}

void
cm_jsonw_raw(cm_jsonw *w, const char *json, size_t len)
{
	value_start(w);
	cm_buf_append(w->out, json, len);
}
