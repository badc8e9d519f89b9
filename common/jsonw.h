/*
 * jsonw.h - a small streaming JSON writer into a cm_buf.
 *
 * Commas and nesting are tracked for the caller: write a key, then a value;
 * inside arrays write values only. Strings are escaped per RFC 8259 (control
 * characters as \u00XX); invalid UTF-8 is passed through byte for byte.
 */
#ifndef WEFT_COMMON_JSONW_H
#define WEFT_COMMON_JSONW_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "span.h"

#define CM_JSONW_MAX_DEPTH 32

typedef struct cm_jsonw {
	cm_buf *out;
	int depth;
	bool need_comma[CM_JSONW_MAX_DEPTH];
	bool after_key;
} cm_jsonw;

void cm_jsonw_init(cm_jsonw *w, cm_buf *out);
void cm_jsonw_obj(cm_jsonw *w);
void cm_jsonw_obj_end(cm_jsonw *w);
void cm_jsonw_arr(cm_jsonw *w);
void cm_jsonw_arr_end(cm_jsonw *w);
void cm_jsonw_key(cm_jsonw *w, const char *key);
void cm_jsonw_keyn(cm_jsonw *w, cm_str key);
void cm_jsonw_str(cm_jsonw *w, const char *s);
void cm_jsonw_strn(cm_jsonw *w, cm_str s);
void cm_jsonw_int(cm_jsonw *w, int64_t v);
void cm_jsonw_uint(cm_jsonw *w, uint64_t v);
void cm_jsonw_double(cm_jsonw *w, double v);
/* Writes ns / 1000 exactly, as a decimal with 3 fraction digits (µs from ns). */
void cm_jsonw_micros(cm_jsonw *w, uint64_t ns);
void cm_jsonw_bool(cm_jsonw *w, bool v);
void cm_jsonw_null(cm_jsonw *w);
/* Appends already-encoded JSON as one value. */
void cm_jsonw_raw(cm_jsonw *w, const char *json, size_t len);

#endif
