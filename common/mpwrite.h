/*
 * mpwrite.h - msgpack written straight into a cm_buf.
 *
 * msgpack-c's packer hands every header and every body to a write
 * callback: some forty calls for an ordinary span, each a cm_buf_append
 * with its own capacity check. On libweft's exporter thread that was
 * ~2,700 of the ~5,500 instructions a span cost, on top of the 630 the
 * application's thread spends on it. These writers are inline, check the
 * room once per item, and choose the smallest encoding of each value, as
 * msgpack-c does, so the bytes are the same (tests/unit/test_wire.c
 * compares them).
 *
 * A failed allocation sets b->failed and the writers do nothing more:
 * write everything, then check b->failed once.
 */
#ifndef WEFT_COMMON_MPWRITE_H
#define WEFT_COMMON_MPWRITE_H

#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "err.h"

/* n bytes to write at the end of b (b->len already counts them), or NULL after a failed allocation. */
static inline unsigned char *
cm_mpw_take(cm_buf *b, size_t n)
{
	unsigned char *p;

	if (cm_buf_reserve(b, n) != CM_OK)
		return NULL;
	p = (unsigned char *)b->data + b->len;
	b->len += n;
	return p;
}

/* v's low `bytes` (1, 2, 4 or 8) bytes, big-endian, with one store. */
static inline void
cm_mpw_be(unsigned char *p, uint64_t v, int bytes)
{
	uint64_t x;
	uint32_t y;
	uint16_t z;

	switch (bytes) {
	case 8:
		x = __builtin_bswap64(v);
		memcpy(p, &x, 8);
		break;
	case 4:
		y = __builtin_bswap32((uint32_t)v);
		memcpy(p, &y, 4);
		break;
	case 2:
		z = __builtin_bswap16((uint16_t)v);
		memcpy(p, &z, 2);
		break;
	default:
		p[0] = (unsigned char)v;
	}
}

/* A type byte and a big-endian argument of `bytes` bytes. */
static inline void
cm_mpw_head(cm_buf *b, unsigned char type, uint64_t v, int bytes)
{
	unsigned char *p = cm_mpw_take(b, 1 + (size_t)bytes);
	if (p != NULL) {
		p[0] = type;
		cm_mpw_be(p + 1, v, bytes);
	}
}

static inline void
cm_mpw_byte(cm_buf *b, unsigned char c)
{
	unsigned char *p = cm_mpw_take(b, 1);
	if (p != NULL)
		*p = c;
}

static inline void
cm_mpw_nil(cm_buf *b)
{
	cm_mpw_byte(b, 0xc0);
}

static inline void
cm_mpw_bool(cm_buf *b, bool v)
{
	cm_mpw_byte(b, v ? 0xc3 : 0xc2);
}

static inline void
cm_mpw_uint(cm_buf *b, uint64_t v)
{
	if (v < 128)
		cm_mpw_byte(b, (unsigned char)v);
	else if (v < 1u << 8)
		cm_mpw_head(b, 0xcc, v, 1);
	else if (v < 1u << 16)
		cm_mpw_head(b, 0xcd, v, 2);
	else if (v < 1ull << 32)
		cm_mpw_head(b, 0xce, v, 4);
	else
		cm_mpw_head(b, 0xcf, v, 8);
}

static inline void
cm_mpw_int(cm_buf *b, int64_t v)
{
	if (v >= 0)
		cm_mpw_uint(b, (uint64_t)v);
	else if (v >= -32)
		cm_mpw_byte(b, (unsigned char)(int8_t)v);
	else if (v >= -128)
		cm_mpw_head(b, 0xd0, (uint64_t)v, 1);
	else if (v >= -32768)
		cm_mpw_head(b, 0xd1, (uint64_t)v, 2);
	else if (v >= INT32_MIN)
		cm_mpw_head(b, 0xd2, (uint64_t)v, 4);
	else
		cm_mpw_head(b, 0xd3, (uint64_t)v, 8);
}

static inline void
cm_mpw_double(cm_buf *b, double d)
{
	uint64_t v;
	memcpy(&v, &d, sizeof v);
	cm_mpw_head(b, 0xcb, v, 8);
}

static inline void
cm_mpw_array(cm_buf *b, uint32_t n)
{
	if (n < 16)
		cm_mpw_byte(b, (unsigned char)(0x90 | n));
	else if (n < 1u << 16)
		cm_mpw_head(b, 0xdc, n, 2);
	else
		cm_mpw_head(b, 0xdd, n, 4);
}

/* A header of up to 5 bytes and the body, with one check for room. */
static inline void
cm_mpw_with_body(cm_buf *b, const unsigned char *head, size_t hlen, const void *body, size_t n)
{
	unsigned char *p = cm_mpw_take(b, hlen + n);
	if (p != NULL) {
		memcpy(p, head, hlen);
		if (n > 0) /* body may be NULL when empty */
			memcpy(p + hlen, body, n);
	}
}

/* A body after its length: the length in 1, 2 or 4 bytes after type t8, t8 + 1 or t8 + 2. */
static inline void
cm_mpw_sized(cm_buf *b, unsigned char t8, const void *body, size_t n)
{
	unsigned char h[5];
	size_t hlen;

	if (n < 1u << 8) {
		h[0] = t8;
		hlen = 2;
	} else if (n < 1u << 16) {
		h[0] = (unsigned char)(t8 + 1);
		hlen = 3;
	} else {
		h[0] = (unsigned char)(t8 + 2);
		hlen = 5;
	}
	cm_mpw_be(h + 1, n, (int)hlen - 1);
	cm_mpw_with_body(b, h, hlen, body, n);
}

static inline void
cm_mpw_str(cm_buf *b, const char *s, size_t n)
{
	unsigned char h = (unsigned char)(0xa0 | n);

	if (n < 32)
		cm_mpw_with_body(b, &h, 1, s, n);
	else
		cm_mpw_sized(b, 0xd9, s, n); /* str8, str16, str32 */
}

static inline void
cm_mpw_bin(cm_buf *b, const void *p, size_t n)
{
	cm_mpw_sized(b, 0xc4, p, n); /* bin8, bin16, bin32 */
}

/* An ext item of `type` holding num big-endian in 1, 2 or 4 bytes, the fewest that hold it (fixext 1/2/4). */
static inline void
cm_mpw_ext_uint(cm_buf *b, uint8_t type, uint32_t num)
{
	int bytes = num <= 0xff ? 1 : num <= 0xffff ? 2 : 4;
	unsigned char *p = cm_mpw_take(b, 2 + (size_t)bytes);

	if (p == NULL)
		return;
	p[0] = (unsigned char)(bytes == 1 ? 0xd4 : bytes == 2 ? 0xd5 : 0xd6);
	p[1] = type;
	cm_mpw_be(p + 2, num, bytes);
}

#endif
