/*
 * keys.c - key encoding helpers.
 */
#include "keys.h"

#include <string.h>

#include "err.h"
#include "varint.h"

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

static inline uint64_t
load64(const uint8_t *p)
{
	uint64_t w;
	memcpy(&w, p, 8);
	return w;
}

static inline uint64_t
load32(const uint8_t *p)
{
	uint32_t w;
	memcpy(&w, p, 4);
	return w;
}

/* The 128-bit product's halves xored: every bit of a and b reaches the middle bits. */
static inline uint64_t
fold_mul(uint64_t a, uint64_t b)
{
	unsigned __int128 m = (unsigned __int128)a * b;
	return (uint64_t)(m >> 64) ^ (uint64_t)m;
}

/*
 * Not st_hash_mix: its one multiply per word is a chain of dependent
 * multiplies, and every key and value a write interns is hashed. Up to 16
 * bytes are two loads that may overlap, longer texts 16 bytes a multiply;
 * the byte order does not matter, since nothing keeps these hashes.
 */
uint64_t
st_hash_fast(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t x, y, h = (uint64_t)n * 0x9e3779b97f4a7c15u;

	if (n > 16) {
		const uint8_t *end = b + n;
		for (; end - b > 16; b += 16)
			h = fold_mul(load64(b) ^ 0xa0761d6478bd642fu, load64(b + 8) ^ h);
		x = load64(end - 16);
		y = load64(end - 8);
	} else if (n >= 8) {
		x = load64(b);
		y = load64(b + n - 8);
	} else if (n >= 4) {
		x = load32(b);
		y = load32(b + n - 4);
	} else {
		x = n > 0 ? (uint64_t)b[0] << 16 | (uint64_t)b[n >> 1] << 8 | b[n - 1] : 0;
		y = 0;
	}
	h = fold_mul(x ^ 0xe7037ed1a0b428dbu, y ^ h ^ 0x8ebc6af09c88c6e3u);
	return fold_mul(h ^ 0x589965cc75374cc3u, (uint64_t)n ^ 0x1d8e4e27c47d124fu);
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
