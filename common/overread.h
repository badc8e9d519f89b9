/*
 * overread.h - whether code may read past the end of a string.
 *
 * Short-string helpers (sdk/strcopy.h, storage/keys.c) load whole words
 * that may extend past a string's last byte. A load that stays within one
 * page cannot fault, but the sanitizers rightly report bytes the program
 * does not own: under them CM_OVERREAD_OK is 0 and the helpers read byte
 * by byte.
 */
#ifndef WEFT_COMMON_OVERREAD_H
#define WEFT_COMMON_OVERREAD_H

#include <stdbool.h>
#include <stdint.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CM_OVERREAD_OK 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define CM_OVERREAD_OK 0
#endif
#endif
#ifndef CM_OVERREAD_OK
#define CM_OVERREAD_OK 1
#endif

enum { CM_PAGE_MIN = 4096 }; /* the smallest page size of any supported machine */

/* Whether n bytes from p lie within one page (n <= CM_PAGE_MIN). */
static inline bool
cm_within_page(const void *p, unsigned n)
{
	return ((uintptr_t)p & (CM_PAGE_MIN - 1)) <= CM_PAGE_MIN - n;
}

#endif
