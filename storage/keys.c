/*
 * keys.c - key encoding helpers.
 */
#include "keys.h"

#include <string.h>

#include "err.h"

void
st_put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

uint64_t
st_get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

void
st_key_span(uint8_t key[ST_SPAN_KEY_SIZE], const cm_span *s)
{
	memcpy(key, s->trace_id.b, 16);
	st_put_be64(key + 16, s->start_ns);
	memcpy(key + 24, s->span_id.b, 8);
}

int
st_block_split(const char *val, size_t len, size_t *sum_len, size_t *spans_off)
{
	uint32_t n = 0;
	if (len < 1 || val[0] != ST_SPAN_VALUE_VERSION)
		return CM_EVERSION;
	if (len < ST_BLOCK_HEAD)
		return CM_EPROTO;
	for (int i = 1; i < ST_BLOCK_HEAD; i++)
		n = n << 8 | (uint8_t)val[i];
	if (n > len - ST_BLOCK_HEAD)
		return CM_EPROTO;
	*sum_len = n;
	if (spans_off != NULL)
		*spans_off = ST_BLOCK_HEAD + n;
	return CM_OK;
}

uint64_t
st_hash64(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 0xcbf29ce484222325u;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3u;
	}
	return h;
}
