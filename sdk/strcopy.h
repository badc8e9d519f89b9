/*
 * strcopy.h - short strings measured and copied without a library call.
 *
 * A sampled span copies its name, attribute keys and string values into
 * itself: in a typical span seven strings of 3 to 30 bytes. Calls to
 * strlen and memcpy (through the PLT, each with its own set-up for long
 * strings) were a sixth of a sampled span's instructions, and each call
 * made a setter save and restore six registers.
 */
#ifndef WEFT_SDK_STRCOPY_H
#define WEFT_SDK_STRCOPY_H

#include <stdint.h>
#include <string.h>

#include "overread.h"

#if defined(__SSE2__) && CM_OVERREAD_OK
#include <emmintrin.h>

/* strnlen(s, max) for short strings, inline: whole aligned 16-byte blocks, which never cross a page. */
static inline size_t
sdk_strnlen(const char *s, size_t max)
{
	const char *blk = (const char *)((uintptr_t)s & ~(uintptr_t)15);
	const __m128i zero = _mm_setzero_si128();
	unsigned skip = (unsigned)(s - blk);
	unsigned mask = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_load_si128((const __m128i *)blk), zero)) >> skip;
	size_t n = 16 - skip; /* bytes of s scanned so far */

	if (mask != 0)
		n = (size_t)__builtin_ctz(mask);
	else
		while (n < max) {
			blk += 16;
			mask = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_load_si128((const __m128i *)blk), zero));
			if (mask != 0) {
				n += (size_t)__builtin_ctz(mask);
				break;
			}
			n += 16;
		}
	return n < max ? n : max;
}
#else
static inline size_t
sdk_strnlen(const char *s, size_t max)
{
	return strnlen(s, max);
}
#endif

enum { SDK_COPY_SHORT_MAX = 32 };

/* sdk_copy_short()'s step: the first and the last sizeof(T) bytes of n (sizeof(T) <= n <= 2 sizeof(T)). */
#define SDK_COPY_TWO(T)                                    \
	do {                                                   \
		T first_, last_;                                   \
		memcpy(&first_, src, sizeof(T));                   \
		memcpy(&last_, src + n - sizeof(T), sizeof(T));    \
		memcpy(dst, &first_, sizeof(T));                   \
		memcpy(dst + n - sizeof(T), &last_, sizeof(T));    \
	} while (0)

typedef struct sdk_16 {
	uint64_t w[2];
} sdk_16;

/*
 * Copies n <= SDK_COPY_SHORT_MAX bytes from src to dst: two overlapping
 * loads and stores of one width, none outside [src, src + n) or
 * [dst, dst + n).
 */
static inline void
sdk_copy_short(char *dst, const char *src, size_t n)
{
	if (n >= 8 && n <= 16)
		SDK_COPY_TWO(uint64_t);
	else if (n > 16)
		SDK_COPY_TWO(sdk_16);
	else if (n >= 4)
		SDK_COPY_TWO(uint32_t);
	else if (n > 0) {
		dst[0] = src[0];
		dst[n / 2] = src[n / 2];
		dst[n - 1] = src[n - 1];
	}
}

#endif
