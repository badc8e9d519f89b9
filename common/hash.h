/*
 * hash.h - a fast 64-bit hash of bytes for in-memory tables (inline).
 *
 * Never stored or sent: it may change between releases. (The store's
 * persisted tag hash is st_hash_mix, storage/keys.h.)
 */
#ifndef WEFT_COMMON_HASH_H
#define WEFT_COMMON_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t
cm_hash_load64(const uint8_t *p)
{
	uint64_t w;
	memcpy(&w, p, 8);
	return w;
}

static inline uint64_t
cm_hash_load32(const uint8_t *p)
{
	uint32_t w;
	memcpy(&w, p, 4);
	return w;
}

/* The 128-bit product's halves xored: every bit of a and b reaches the middle bits. */
static inline uint64_t
cm_hash_fold_mul(uint64_t a, uint64_t b)
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
static inline uint64_t
cm_hash_fast(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t x, y, h = (uint64_t)n * 0x9e3779b97f4a7c15u;

	if (n > 16) {
		const uint8_t *end = b + n;
		for (; end - b > 16; b += 16)
			h = cm_hash_fold_mul(cm_hash_load64(b) ^ 0xa0761d6478bd642fu, cm_hash_load64(b + 8) ^ h);
		x = cm_hash_load64(end - 16);
		y = cm_hash_load64(end - 8);
	} else if (n >= 8) {
		x = cm_hash_load64(b);
		y = cm_hash_load64(b + n - 8);
	} else if (n >= 4) {
		x = cm_hash_load32(b);
		y = cm_hash_load32(b + n - 4);
	} else {
		x = n > 0 ? (uint64_t)b[0] << 16 | (uint64_t)b[n >> 1] << 8 | b[n - 1] : 0;
		y = 0;
	}
	h = cm_hash_fold_mul(x ^ 0xe7037ed1a0b428dbu, y ^ h ^ 0x8ebc6af09c88c6e3u);
	return cm_hash_fold_mul(h ^ 0x589965cc75374cc3u, (uint64_t)n ^ 0x1d8e4e27c47d124fu);
}

#endif
