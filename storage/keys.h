/*
 * keys.h - the storage key layout (see docs/architecture.md).
 *
 *   spans.<partition> CF:  <trace_id:16><start_ns:8 BE><span_id:8>   a span block
 *              -> value: 0x04, then the spans (block.h), which refer to
 *                 resources and scopes by content hash and to names and
 *                 keys by symbol; trace summaries (summary.h) read what
 *                 they need from the spans' columns
 *              A block holds the spans of one trace that arrived in one
 *              batch, ordered by start; its key is that of its first span,
 *              so resending the same batch rewrites the same block.
 *   meta CF:   'r' <hash:8 BE>                       -> msgpack resource
 *              'c' <hash:8 BE>                       -> msgpack scope
 *              's' <service>                         -> ""
 *              'o' <service> 0x00 <kind:1> <name>    -> ""
 *              'd' <hour:8 BE> <parent> 0x00 <child> -> calls, uint64 BE
 *                 (hours since the epoch of the child span's start; deps.h)
 *              'P'                                   -> the partition set, text:
 *                 "<retention_ns> <start_s>-<end_s> ..." (partition.h)
 *              'y' <id:4 BE>                         -> a symbol's text (symbols.h)
 *              'V'                                   -> the layout, text: ST_LAYOUT
 *   index.<partition> CF:  'T' <start_ns:8 BE> <batch:8> -> the batch's trace ids' first
 *                 ST_TRACE_REF_BYTES bytes each (search.c finds the
 *                 traces they begin in the same partition's spans family)
 *              'S' <service> 0x00 <start_ns:8 BE> <batch:8>
 *                 -> for each trace of the batch with spans of the service:
 *                    varints: its position in 'T' minus the position after
 *                    the trace listed before it, the number of operations
 *                    (0: too many to list, any), then per operation its
 *                    name (as block.h writes names), its shortest
 *                    duration's bucket (st_dur_bucket), and the bucket up
 *                    from its longest (st_dur_bucket_up) minus that
 *              'A' <bucket:1> <start_ns:8 BE> <batch:8>
 *                 -> varints: (delta of low 14 hash bits, position in 'T'
 *                 minus the position after the trace listed before it with
 *                 the same low bits, or minus 0) ... attribute postings of
 *                 the batch's traces (tags.h)
 *              One 'S' entry per service and one 'T' entry per write (its
 *              batches merged), or per chunk of a larger write (spanwrite.c:
 *              4,096 spans of whole traces); start is the earliest span
 *              start, batch a hash of all the trace and span ids (so only a
 *              write of the same spans replaces the entries).
 *              Search scans them newest first.
 *   staging CF:  <number:8 BE> -> a record the collector staged and has
 *              not written (staging.c).
 *
 * Big-endian integers make byte order equal time order, so a prefix seek on
 * a trace id returns its blocks by the start of their first span.
 */
#ifndef WEFT_STORAGE_KEYS_H
#define WEFT_STORAGE_KEYS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "overread.h"

#include "span.h"

#define ST_SPAN_KEY_SIZE 32
/*
 * A 'T' entry lists a trace by the first 5 bytes of its id: the spans
 * family of its partition, written in the same write, has the rest. Two
 * traces of a partition that begin alike are both read and checked; with
 * 2^40 beginnings that is rare up to billions of traces a partition. 16
 * bytes cost a 1M-span loadgen store 1.7 bytes per span more.
 */
#define ST_TRACE_REF_BYTES 5
/* Written into a new store; a store with another (or none, but data) is refused. */
#define ST_LAYOUT "weft-store-7"
#define ST_SPAN_VALUE_VERSION 4
#define ST_META_RESOURCE 'r'
#define ST_META_SCOPE 'c'
#define ST_META_SERVICE 's'
#define ST_META_OPERATION 'o'
#define ST_META_DEPENDENCY 'd'
#define ST_META_PARTITIONS 'P'
#define ST_META_SYMBOL 'y'
#define ST_META_LAYOUT 'V'
#define ST_INDEX_SERVICE 'S'
#define ST_INDEX_TIME 'T'
#define ST_INDEX_TAG 'A'
/* A service with a longer name has no 'S' entries: a search by it reads none. */
#define ST_SERVICE_KEY_MAX 1024

/* Writes 'S' <service> 0x00, how a service's 'S' keys begin, into key; returns its length. */
static inline size_t
st_key_service(char *key, const char *svc, size_t len)
{
	key[0] = ST_INDEX_SERVICE;
	if (len > 0)
		memcpy(key + 1, svc, len);
	key[1 + len] = '\0';
	return len + 2;
}

void st_key_span(uint8_t key[ST_SPAN_KEY_SIZE], const cm_span *s);
/*
 * Where the spans (block.h) of a span block value start, after its
 * version byte; CM_EVERSION for another layout.
 */
int st_block_spans(const char *val, size_t len, size_t *spans_off);
/* Big-endian words: keys sort by them. Inline: a write reads four for each span it orders. */
static inline void
st_put_be64(uint8_t *p, uint64_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	memcpy(p, &v, 8);
}

static inline uint64_t
st_get_be64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}
/* 64-bit FNV-1a, the content hash of encoded resources and scopes (persisted). */
uint64_t st_hash64(const void *p, size_t n);

#define ST_HASH_SEED 0xcbf29ce484222325u
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

/*
 * Mixes n bytes into h eight at a time (a multiply-xorshift per word): the
 * tag hash (tags.h) is made of it and persisted in postings, so it must
 * never change; byte-at-a-time FNV-1a cost 3% of ingest. Inline, with
 * tail_word(): a write hashes every tag of every span twice over.
 */
static inline uint64_t
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

/*
 * Durations in 'S' entries are buckets, eight per doubling: bucket b
 * holds [st_dur_at(b), st_dur_at(b + 1)), exact below 16 ns and at most
 * 12.5% wide above. The search prunes with them and decides a bound only
 * when it lies outside a bucket (search.c). Nanoseconds cost the 'S'
 * entries 3.9 bytes per span of a loadgen store, buckets 1.9.
 */
uint64_t st_dur_bucket(uint64_t d);    /* the bucket holding d */
uint64_t st_dur_bucket_up(uint64_t d); /* the first bucket whose start is >= d */
uint64_t st_dur_at(uint64_t b);        /* where bucket b starts; UINT64_MAX past the last */

#endif
