/*
 * keys.c - key encoding helpers.
 */
#include "keys.h"

#include <string.h>

#include "err.h"
#include "overread.h"
#include "varint.h"

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
st_block_split(const char *val, size_t len, size_t *sum_off, size_t *sum_len, size_t *spans_off)
{
	const uint8_t *p = (const uint8_t *)val + 1, *end = (const uint8_t *)val + len;
	uint64_t n;

	if (len < 1 || val[0] != ST_SPAN_VALUE_VERSION)
		return CM_EVERSION;
	if (!st_get_varint(&p, end, &n) || n > (uint64_t)(end - p))
		return CM_EPROTO;
	*sum_off = (size_t)(p - (const uint8_t *)val);
	*sum_len = (size_t)n;
	*spans_off = *sum_off + (size_t)n;
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

/*
 * The last 1-7 bytes of a string as a little-endian word: one load and a
 * mask when 8 bytes from b stay within a page (tags and names are short,
 * and the branches on n's bits mispredicted), else a 4-, a 2- and a
 * 1-byte load, as they apply. Both give the same word.
 */
static inline uint64_t
tail_word(const uint8_t *b, size_t n)
{
	uint32_t w4 = 0;
	uint16_t w2 = 0;
	uint64_t w;
	size_t i = 0;

#if CM_OVERREAD_OK && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (cm_within_page(b, 8)) {
		memcpy(&w, b, 8);
		return w & (((uint64_t)1 << (8 * n)) - 1);
	}
#endif
	if (n & 4) {
		memcpy(&w4, b, 4);
		i = 4;
	}
	if (n & 2)
		memcpy(&w2, b + i, 2);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	w4 = __builtin_bswap32(w4);
	w2 = __builtin_bswap16(w2);
#endif
	w = (uint64_t)w4 | (uint64_t)w2 << (8 * i);
	if (n & 1)
		w |= (uint64_t)b[n - 1] << (8 * (n - 1));
	return w;
}

uint64_t
st_hash_mix(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t w;

	/* Words are little-endian whatever the machine: the hash is persisted. */
	for (; n >= 8; b += 8, n -= 8) {
		memcpy(&w, b, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		w = __builtin_bswap64(w);
#endif
		h = (h ^ w ^ (uint64_t)8 << 56) * 0x100000001b3u;
		h ^= h >> 31;
	}
	if (n > 0) {
		h = (h ^ tail_word(b, n) ^ (uint64_t)n << 56) * 0x100000001b3u;
		h ^= h >> 31;
	}
	return h;
}

uint64_t
st_hash_fast(const void *p, size_t n)
{
	uint64_t h = st_hash_mix(ST_HASH_SEED, p, n) ^ n;
	h *= 0xbf58476d1ce4e5b9u;
	return h ^ h >> 32;
}

/* Buckets 0-15 are those nanoseconds; then eight per doubling: 16 + 8 * (log2(d) - 4) + the next three bits. */
enum { DUR_EXACT = 16, DUR_EXACT_LOG2 = 4, DUR_STEP_BITS = 3 };

uint64_t
st_dur_bucket(uint64_t d)
{
	if (d < DUR_EXACT)
		return d;
	int e = 63 - __builtin_clzll(d);
	return DUR_EXACT + ((uint64_t)(e - DUR_EXACT_LOG2) << DUR_STEP_BITS) +
	    ((d >> (e - DUR_STEP_BITS)) & ((1u << DUR_STEP_BITS) - 1));
}

uint64_t
st_dur_at(uint64_t b)
{
	if (b < DUR_EXACT)
		return b;
	uint64_t e = DUR_EXACT_LOG2 + ((b - DUR_EXACT) >> DUR_STEP_BITS);
	if (e > 63)
		return UINT64_MAX;
	return ((uint64_t)1 << DUR_STEP_BITS | ((b - DUR_EXACT) & ((1u << DUR_STEP_BITS) - 1))) << (e - DUR_STEP_BITS);
}

uint64_t
st_dur_bucket_up(uint64_t d)
{
	uint64_t b = st_dur_bucket(d);
	return st_dur_at(b) == d ? b : b + 1;
}
