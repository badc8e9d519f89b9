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
st_block_spans(const char *val, size_t len, size_t *spans_off)
{
	if (len < 1 || val[0] != ST_SPAN_VALUE_VERSION)
		return CM_EVERSION;
	*spans_off = 1;
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
