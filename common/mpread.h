/*
 * mpread.h - a bounds-checked msgpack reader for decoding in one pass.
 *
 * The native wire and stored meta values are read straight from their
 * bytes into weft's span model, instead of msgpack-c building an object
 * tree that is then walked (and, before that, checked so a hostile header
 * cannot make msgpack-c allocate 32 GiB). Each cm_mp_read_* consumes one
 * item of the type it names and returns true, or returns false, having
 * consumed nothing, when the next item is another type or runs past the
 * end. An array header is refused when it announces more elements than
 * there are bytes left, so a count read here is safe to allocate for.
 * Strings and bins point into the buffer, which must outlive them.
 *
 * Integers follow msgpack-c's typing: a non-negative value is unsigned
 * whatever its encoding (int8..int64 included), a negative one signed.
 */
#ifndef WEFT_COMMON_MPREAD_H
#define WEFT_COMMON_MPREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "span.h"
#include "strtab.h"

typedef struct cm_mpread {
	const uint8_t *p;
	const uint8_t *end;
	cm_strs *strs; /* a payload with a string table (strtab.h): its strings so far; NULL otherwise */
} cm_mpread;

typedef enum cm_mp_type {
	CM_MP_END, /* nothing left */
	CM_MP_NIL,
	CM_MP_BOOL,
	CM_MP_UINT,
	CM_MP_NINT,
	CM_MP_FLOAT,
	CM_MP_STR,
	CM_MP_BIN,
	CM_MP_ARRAY,
	CM_MP_OTHER, /* map, ext, or a byte msgpack leaves unused */
} cm_mp_type;

static inline cm_mpread
cm_mp_reader(const void *p, size_t len)
{
	return (cm_mpread){ p, (const uint8_t *)p + len, NULL };
}

static inline uint64_t
cm_mp_be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* The type of the next item; for integers, by sign as msgpack-c types them. */
static inline cm_mp_type
cm_mp_peek(const cm_mpread *r)
{
	uint8_t b;
	if (r->p >= r->end)
		return CM_MP_END;
	b = r->p[0];
	if (b <= 0x7f || (b >= 0xcc && b <= 0xcf))
		return CM_MP_UINT;
	if (b >= 0xe0)
		return CM_MP_NINT;
	if (b >= 0xd0 && b <= 0xd3) { /* int8..int64: the sign bit of the first payload byte decides */
		if (r->end - r->p < 2)
			return CM_MP_OTHER;
		return r->p[1] & 0x80 ? CM_MP_NINT : CM_MP_UINT;
	}
	if ((b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb))
		return CM_MP_STR;
	if ((b >= 0x90 && b <= 0x9f) || b == 0xdc || b == 0xdd)
		return CM_MP_ARRAY;
	if (b >= 0xc4 && b <= 0xc6)
		return CM_MP_BIN;
	if (b == 0xc0)
		return CM_MP_NIL;
	if (b == 0xc2 || b == 0xc3)
		return CM_MP_BOOL;
	if (b == 0xca || b == 0xcb)
		return CM_MP_FLOAT;
	return CM_MP_OTHER;
}

/* The n-byte big-endian length after a one-byte header; false past the end. */
static inline bool
cm_mp_len(const cm_mpread *r, int n, uint64_t *len)
{
	if (r->end - r->p < 1 + n)
		return false;
	*len = cm_mp_be(r->p + 1, n);
	return true;
}

/*
 * A str, bin or array header: either the fixed form fix..fix+mask with the
 * length in its low bits (mask 0: none), or code, code+1[, code+2] whose
 * length follows in width, 2*width[, 4*width] bytes. *h: the header's size.
 */
static inline bool
cm_mp_header(const cm_mpread *r, uint8_t fix, uint8_t mask, uint8_t code, int width, uint64_t *len, int *h)
{
	uint8_t b;

	if (r->p >= r->end)
		return false;
	b = r->p[0];
	if (mask != 0 && (b & (uint8_t)~mask) == fix) {
		*len = b & mask;
		*h = 1;
		return true;
	}
	if (b < code || b - code > 2 || (width << (b - code)) > 4)
		return false;
	width <<= b - code;
	if (!cm_mp_len(r, width, len))
		return false;
	*h = 1 + width;
	return true;
}

static inline bool
cm_mp_read_nil(cm_mpread *r)
{
	if (r->p >= r->end || r->p[0] != 0xc0)
		return false;
	r->p++;
	return true;
}

static inline bool
cm_mp_read_bool(cm_mpread *r, bool *v)
{
	if (r->p >= r->end || (r->p[0] != 0xc2 && r->p[0] != 0xc3))
		return false;
	*v = r->p[0] == 0xc3;
	r->p++;
	return true;
}

/* An unsigned integer, or a signed encoding of a non-negative one. */
static inline bool
cm_mp_read_uint(cm_mpread *r, uint64_t *v)
{
	uint8_t b;
	int n;

	if (r->p >= r->end)
		return false;
	b = r->p[0];
	if (b <= 0x7f) {
		*v = b;
		r->p++;
		return true;
	}
	if (b >= 0xcc && b <= 0xcf)
		n = 1 << (b - 0xcc);
	else if (b >= 0xd0 && b <= 0xd3)
		n = 1 << (b - 0xd0);
	else
		return false;
	if (r->end - r->p < 1 + n || (b >= 0xd0 && (r->p[1] & 0x80)))
		return false;
	*v = cm_mp_be(r->p + 1, n);
	r->p += 1 + n;
	return true;
}

/* A negative integer (negative fixint or a signed encoding). */
static inline bool
cm_mp_read_nint(cm_mpread *r, int64_t *v)
{
	uint8_t b;
	int n;
	uint64_t u;

	if (r->p >= r->end)
		return false;
	b = r->p[0];
	if (b >= 0xe0) {
		*v = (int8_t)b;
		r->p++;
		return true;
	}
	if (b < 0xd0 || b > 0xd3)
		return false;
	n = 1 << (b - 0xd0);
	if (r->end - r->p < 1 + n || !(r->p[1] & 0x80))
		return false;
	u = cm_mp_be(r->p + 1, n);
	if (n < 8)
		u |= ~(uint64_t)0 << (8 * n); /* sign-extend */
	memcpy(v, &u, sizeof *v);
	r->p += 1 + n;
	return true;
}

static inline bool
cm_mp_read_double(cm_mpread *r, double *v)
{
	if (r->p >= r->end)
		return false;
	if (r->p[0] == 0xca && r->end - r->p >= 5) {
		uint32_t u = (uint32_t)cm_mp_be(r->p + 1, 4);
		float f;
		memcpy(&f, &u, sizeof f);
		*v = f;
		r->p += 5;
		return true;
	}
	if (r->p[0] == 0xcb && r->end - r->p >= 9) {
		uint64_t u = cm_mp_be(r->p + 1, 8);
		memcpy(v, &u, sizeof *v);
		r->p += 9;
		return true;
	}
	return false;
}

/* A str or bin body: header bytes h, length len; fails past the end. */
static inline bool
cm_mp_body(cm_mpread *r, int h, uint64_t len, const uint8_t **body)
{
	if ((uint64_t)(r->end - r->p - h) < len)
		return false;
	*body = r->p + h;
	r->p += h + len;
	return true;
}

static inline bool
cm_mp_read_str(cm_mpread *r, cm_str *s)
{
	const uint8_t *body;
	uint64_t len;
	int h;

	if (!cm_mp_header(r, 0xa0, 0x1f, 0xd9, 1, &len, &h) || !cm_mp_body(r, h, len, &body))
		return false;
	*s = (cm_str){ len ? (const char *)body : "", (uint32_t)len };
	return true;
}

/* A string reference (strtab.h): an ext of type CM_STRREF_EXT with 1, 2 or 4 data bytes; *num its number. */
static inline bool
cm_mp_read_strref(cm_mpread *r, uint32_t *num)
{
	int bytes;

	if (r->end - r->p < 3 || r->p[1] != CM_STRREF_EXT)
		return false;
	switch (r->p[0]) {
	case 0xd4:
		bytes = 1;
		break;
	case 0xd5:
		bytes = 2;
		break;
	case 0xd6:
		bytes = 4;
		break;
	default:
		return false;
	}
	if (r->end - r->p < 2 + bytes)
		return false;
	*num = (uint32_t)cm_mp_be(r->p + 2, bytes);
	r->p += 2 + bytes;
	return true;
}

static inline bool
cm_mp_read_bin(cm_mpread *r, const uint8_t **p, uint32_t *n)
{
	uint64_t len;
	int h;

	if (!cm_mp_header(r, 0, 0, 0xc4, 1, &len, &h) || !cm_mp_body(r, h, len, p))
		return false;
	*n = (uint32_t)len;
	return true;
}

/* An array header; refused when it announces more elements than bytes remain. */
static inline bool
cm_mp_read_array(cm_mpread *r, uint32_t *n)
{
	uint64_t len;
	int h;

	if (!cm_mp_header(r, 0x90, 0x0f, 0xdc, 2, &len, &h) || len > (uint64_t)(r->end - r->p - h))
		return false;
	r->p += h;
	*n = (uint32_t)len;
	return true;
}

#endif
