/*
 * tags.h - what a tag filter matches, and the attribute postings that find
 * the traces carrying a tag without reading the others.
 *
 * Jaeger's tag search compares text: a filter key=value matches an attribute
 * with that key whose value reads as that text (integers in decimal, doubles
 * in their shortest round-tripping form, booleans as true/false), on the span
 * itself, one of its events or links, its resource or its scope; and the tags
 * Jaeger JSON derives from span fields (query/jaeger.h): error=true,
 * span.kind, otel.status_code, otel.status_description, otel.scope.name,
 * otel.scope.version.
 *
 * Postings (keys.h, 'A' entries of a partition's index family): for each
 * written batch and each of ST_TAG_BUCKETS buckets of the 64-bit tag hash,
 * one entry listing (low 14 bits of the hash, trace's position in the
 * batch's 'T' entry) for every distinct tag of every trace in the batch.
 * A search for a tag reads one bucket: 1/64 of the postings.
 */
#ifndef WEFT_STORAGE_TAGS_H
#define WEFT_STORAGE_TAGS_H

#include <rocksdb/c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "span.h"
#include "store_int.h"

#define ST_TAG_BUCKETS 64
#define ST_TAG_TEXT_MAX 32 /* scratch for numbers' text */

/* The text v compares as; false for bytes, arrays and maps (never match). */
bool st_tag_text(const cm_value *v, char buf[ST_TAG_TEXT_MAX], cm_str *out);

/* The hash of key=text that postings are keyed by. */
uint64_t st_tag_hash(cm_str key, cm_str text);

static inline unsigned
st_tag_bucket(uint64_t h)
{
	return (unsigned)(h >> 58); /* ST_TAG_BUCKETS = 2^6 */
}

/* True if span s of batch b carries tag key=value (see above). */
bool st_tag_span_has(const cm_batch *b, const cm_span *s, const char *key, const char *value);

/*
 * Puts the postings of batch b: refs[0..n) are its spans sorted by trace,
 * traces numbered in that order as in the batch's 'T' entry. suffix: the
 * 16 bytes <start_ns BE><batch> that the batch's 'T' key ends with.
 * Returns CM_OK or CM_ENOMEM.
 */
int st_tag_postings_put(rocksdb_writebatch_t *wb, rocksdb_column_family_handle_t *index, const cm_batch *b,
    const cm_span *const *refs, size_t n, const uint8_t suffix[16]);

/*
 * The low hash bits a posting lists a tag by: 14, and 6 of the bucket.
 * Each bit fewer halves how often a lookup meets a stranger and saves
 * about 0.8 bytes per span of a loadgen store (docs/benchmarks.md).
 */
#define ST_TAG_LOW_BITS 14
static inline uint32_t
st_tag_low(uint64_t h)
{
	return (uint32_t)h & ((1u << ST_TAG_LOW_BITS) - 1);
}

/*
 * Calls fn(arg, i) for each trace position i that a posting value lists
 * with low hash bits lo, until fn returns non-zero (returned). CM_EPROTO
 * for a damaged value.
 */
int st_tag_postings_find(const char *val, size_t len, uint32_t lo, int (*fn)(void *arg, uint32_t i), void *arg);

#endif
