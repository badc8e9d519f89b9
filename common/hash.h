/*
 * hash.h - a fast 64-bit hash of bytes for in-memory tables.
 *
 * Never stored or sent: it may change between releases. (The store's
 * persisted tag hash is st_hash_mix, storage/keys.h.)
 */
#ifndef WEFT_COMMON_HASH_H
#define WEFT_COMMON_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t cm_hash_fast(const void *p, size_t n);

#endif
