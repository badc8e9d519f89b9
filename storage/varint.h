/*
 * varint.h - LEB128 varints and zigzag, as storage values use them.
 */
#ifndef WEFT_STORAGE_VARINT_H
#define WEFT_STORAGE_VARINT_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"

#define ST_VARINT_MAX 10

/* Appends v; b has ST_VARINT_MAX bytes reserved past its length. */
static inline void
st_put_varint(cm_buf *b, uint64_t v)
{
	uint8_t *out = (uint8_t *)b->data + b->len;
	while (v >= 0x80) {
		*out++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*out++ = (uint8_t)v;
	b->len = (size_t)((char *)out - b->data);
}

/* Reads a varint at *p (< end) into *v; false if cut short or longer than 64 bits. */
static inline bool
st_get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (unsigned shift = 0; *p < end && shift < 64; shift += 7) {
		uint8_t byte = *(*p)++;
		*v |= (uint64_t)(byte & 0x7f) << shift;
		if (!(byte & 0x80))
			return true;
	}
	return false;
}

static inline uint64_t
st_zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t
st_unzigzag(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

#endif
