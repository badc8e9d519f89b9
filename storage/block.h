/*
 * block.h - the spans of a span block (keys.h), after its summary.
 *
 * Varints (LEB128), strings as varint v then, when v is even, v / 2 bytes
 * of text, else symbol number v / 2 (symbols.h):
 *
 *   spans   = count << 2 | units, refs, then each column as its length
 *             (varint) and its bytes (units: bit 0, the starts' offsets are
 *             in microseconds; bit 1, the durations are)
 *   refs    = count, (resource hash[8 BE], scope hash[8 BE])...
 *   columns, each holding its field of every span in turn:
 *     ids       span_id[8] (not for the first span: the key's)
 *     parents   parent
 *     shapes    shape (kind | status << 3 | which rare fields the span has:
 *               32 trace_state, 64 status_message, 128 events, 256 links,
 *               512 dropped attributes), flags
 *     names     name
 *     starts    start - base (in its unit)
 *     durations end - start (in its unit)
 *     refs      the index of its (resource, scope) in refs
 *     counts    its attribute count
 *     keys      its attributes' keys
 *     values    its attributes' values
 *     rare      what its shape says it has, in this order: trace_state,
 *               status_message, dropped attributes, events (count,
 *               dropped, (zigzag(time - start), name, dropped, attrs)...),
 *               links (count, dropped, (trace_id[16], span_id[8],
 *               trace_state, flags, dropped, attrs)...)
 *   parent  = 0: none; 1: span_id[8] follows; 2 + i: the i-th span of this block
 *   attrs   = count, (key, value)... (of events and links)
 *   value   = varint h: h & 7 the type (cm_value_type; 6 with h >> 3 == 0:
 *             an integer too large for h, its zigzag varint follows; 6 with
 *             h >> 3 == 1: a string ending in a decimal number, its prefix
 *             (a string as above) and the number (varint) follow; 7: a
 *             string value that is symbol h >> 3), h >> 3: str and
 *             bytes: length, the bytes follow; bool: 0 or 1; int: zigzag;
 *             array: count, the values follow (nested at most 4 deep);
 *             double: 0, 8 bytes LE follow
 *
 * A column holds one kind of field, and zstd finds the repeats of each:
 * the spans family of a 1M-span loadgen store 48.9 -> 48.2 bytes per span
 * as the collector writes it, 46.1 -> 43.4 with whole traces a write
 * (weft-bench-store --regroup; docs/benchmarks.md).
 *
 * The spans are in start order, so the block's key (keys.h) holds the
 * first one's start (the base) and id, and the trace id; names and
 * attribute keys are symbols when the table takes them. Compared with the
 * msgpack spans this replaced (trace id, absolute times and both content
 * hashes in every span, names and keys as text, a type byte per value),
 * the spans family of a 1M-span loadgen store took 81 bytes per span
 * after compaction and now takes 58 (docs/benchmarks.md).
 */
#ifndef WEFT_STORAGE_BLOCK_H
#define WEFT_STORAGE_BLOCK_H

#include <rocksdb/c.h>

#include "buf.h"
#include "span.h"
#include "store_int.h"
#include "symbols.h"

/* Where an encoder's strings go: symbols (NULL: all inline) and new symbols' entries. */
typedef struct st_block_enc {
	st_symbols *sym; /* in a write (st_sym_write_begin) */
	rocksdb_writebatch_t *wb;
	rocksdb_column_family_handle_t *meta;
} st_block_enc;

/*
 * The attribute keys of the last span of one resource and their symbols:
 * spans of one service set the same keys in the same order, so a key is
 * compared with the one at its place before it is looked up.
 */
enum { ST_KEY_MEMO_KEYS = 16, ST_KEY_MEMOS = 64 };
typedef struct st_key_memo {
	uint32_t resource; /* + 1; 0: empty */
	uint32_t n;
	cm_str key[ST_KEY_MEMO_KEYS];
	uint32_t id[ST_KEY_MEMO_KEYS];
} st_key_memo;

enum { ST_BLOCK_COLS = 11 }; /* the columns above */

/* Memory st_block_encode() reuses from block to block of one write (the memos point into its batch). */
typedef struct st_block_scratch {
	cm_buf col[ST_BLOCK_COLS];
	st_key_memo *memo;    /* [ST_KEY_MEMOS], by resource */
	uint64_t (*pairs)[2]; /* distinct (resource, scope) hash pairs */
	uint32_t *ref_of;     /* per span: its pair */
	uint32_t *slot;       /* span ids -> index + 1, open addressing */
	uint32_t cap, slot_cap;
	uint32_t mask;        /* the current block's slots - 1 */
} st_block_scratch;

void st_block_scratch_fini(st_block_scratch *x);

/*
 * Appends the spans refs[0..n) of one trace, in start order (the first
 * names the block: keys.h), to out; res_hash[r] and scope_hash[s] are
 * the content hashes of their batch's resource r and scope s. Out of
 * memory shows in out->failed.
 */
void st_block_encode(const st_block_enc *e, st_block_scratch *x, cm_buf *out, const cm_span *const *refs, uint32_t n,
    const uint64_t *res_hash, const uint64_t *scope_hash);

/* How a decoder turns a symbol number into text that outlives the span. */
typedef struct st_block_syms {
	int (*text)(void *arg, uint32_t id, cm_str *out);
	void *arg;
} st_block_syms;

/* Appends a name or attribute key as blocks have it: a symbol when the table takes it, else inline. */
void st_block_put_name(const st_block_enc *e, cm_buf *out, cm_str s);
/* Reads one at *p (advanced); false if damaged or syms (NULL: none) cannot resolve it. */
bool st_block_get_name(const uint8_t **p, const uint8_t *end, const st_block_syms *syms, cm_str *out);

/* The number of spans in p[0..len); CM_EPROTO if damaged. */
int st_block_count(const char *p, size_t len, uint32_t *n);

/*
 * Decodes p[0..len), the spans of the block under key (ST_SPAN_KEY_SIZE
 * bytes), into spans[0..n) (n from st_block_count) and their resource and
 * scope hashes into res[], scope[]. Inline strings point into p, which must
 * outlive the spans; arrays come from a. CM_EPROTO (damaged), CM_ENOMEM, or
 * an error of syms->text.
 */
int st_block_decode(const char *p, size_t len, const uint8_t *key, const st_block_syms *syms, cm_arena *a,
    cm_span *spans, uint64_t *res, uint64_t *scope);

/*
 * What a trace summary (summary.h) takes from a block, read from its
 * columns without its attributes: the spans, the errors among them, the
 * latest end (the earliest start is the key's), the first span without a
 * parent (root: its index, name and resource hash) and the spans of each
 * (resource, scope) pair.
 */
typedef struct st_outline {
	uint32_t spans, errors;
	uint64_t end_ns;
	uint32_t root; /* UINT32_MAX: none in this block */
	cm_str root_name;
	uint64_t root_resource;
	uint32_t nrefs;
	const uint8_t *refs;  /* nrefs (resource hash[8 BE], scope hash[8 BE]), in p */
	uint32_t *ref_spans;  /* [nrefs], from a */
} st_outline;

/* Reads the outline of the block p[0..len) under key; errors as st_block_decode(). */
int st_block_outline(const char *p, size_t len, const uint8_t *key, const st_block_syms *syms, cm_arena *a,
    st_outline *out);

#endif
