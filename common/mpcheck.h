/*
 * mpcheck.h - structural validation of untrusted msgpack before unpacking.
 *
 * msgpack-c allocates a container's elements as soon as it reads its
 * header, so a 5-byte "array of 2^32 elements" costs gigabytes before the
 * missing data is noticed. cm_msgpack_check() walks the bytes without
 * allocating and accepts them only if they hold exactly one object, every
 * declared length fits in the bytes that remain, and nesting stays within
 * max_depth. After it passes, unpacking allocates at most a small multiple
 * of len.
 */
#ifndef WEFT_COMMON_MPCHECK_H
#define WEFT_COMMON_MPCHECK_H

#include <stddef.h>

/* Returns CM_OK, or CM_EPROTO with a static reason in *why. */
int cm_msgpack_check(const void *buf, size_t len, int max_depth, const char **why);

#endif
