/*
 * hash.c - cm_hash_fast (hash.h).
 */
#include "hash.h"

#include <string.h>

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
 * Not the store's persisted st_hash_mix: its one multiply per word is a
 * chain of dependent multiplies, and every key and value a write interns,
 * and every string a batch encodes, is hashed. Up to 16
 * bytes are two loads that may overlap, longer texts 16 bytes a multiply;
 * the byte order does not matter, since nothing keeps these hashes.
 */
uint64_t
cm_hash_fast(const void *p, size_t n)
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
