/*
 * symbols.h - the store's string table: attribute keys and span and event
 * names stored once, referred to by number from span blocks (block.h).
 *
 * A loadgen span has ~10 attribute keys and a name, all from small
 * vocabularies: written as numbers instead of text, the spans of a 1M-span
 * store took 57 bytes per span after zstd instead of 69.
 *
 * Symbols are numbered from 0 in the order the primary first writes them,
 * never renumbered nor reused: meta 'y' <id:4 BE> -> the text. A symbol's
 * entry goes into the same atomic write as the first block that uses it,
 * and into every later write until one of them succeeded, so a block never
 * refers to a symbol that is not stored. The primary loads every entry at
 * open; readers fetch an entry the first time they meet its number.
 *
 * At most ST_SYM_MAX symbols of at most ST_SYM_LEN_MAX bytes (8 MiB at
 * most): past that strings are written inline, so a client that sends a
 * new span name with every request fills the table once and costs bytes
 * on disk, not memory.
 *
 * String attribute values become symbols only once they are frequent
 * (st_sym_intern_frequent): most are from small vocabularies (methods,
 * systems, regions, statements), but ids and numbers as text are mostly
 * unique and would fill the table. Frequency is estimated by a count-min
 * sketch of two rows of 2^16 saturating counters, halved every 2^18
 * sightings, so a value must be seen ST_SYM_FREQUENT times within about
 * that many recent values; a unique value passes only by colliding with
 * frequent ones in both rows. A write's sightings are counted when it ends,
 * each counter fetched a few sightings ahead: counted one at a time as they
 * came, each was a cache miss the writer waited for (a twentieth of native
 * ingest). A value becomes a symbol from the write after the one that saw
 * it the ST_SYM_FREQUENT-th time.
 *
 * Threads: lookups of known numbers take no lock (entries are published
 * once with release stores and never change); everything else takes mu.
 */
#ifndef WEFT_STORAGE_SYMBOLS_H
#define WEFT_STORAGE_SYMBOLS_H

#include <pthread.h>
#include <rocksdb/c.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "span.h"

#define ST_SYM_MAX 65536u
#define ST_SYM_LEN_MAX 128u
#define ST_SYM_NONE UINT32_MAX
#define ST_SYM_FREQUENT 32u    /* sightings that make a value a symbol */
#define ST_SYM_VALUE_MIN 4u    /* shorter values cost no more inline than as a number */
#define ST_SYM_SKETCH_BITS 16u /* counters per row of the frequency sketch: 2^16 */
/*
 * Most values a write looks up are not symbols (ids, numbers as text), and
 * each probe of the 1 MiB slot table missed the caches (a twentieth of
 * native ingest). An 8 KiB bit set, one bit per hash's top 16 bits, set
 * for every symbol, answers most of them from L1 first.
 */
#define ST_SYM_KNOWN_BITS (1u << 16)

typedef struct st_sym_entry {
	uint32_t len;
	char p[];
} st_sym_entry;

/*
 * What a write found for a text, by the text's address: batches decoded
 * from a native payload with a string table (common/strtab.h) hand every
 * repeat of a string the same bytes, so most of a write's keys, names and
 * frequent values are found here without hashing them. Valid for the write
 * that made it (gen): a text interned in a write stays where it is,
 * unchanged, until the write ends.
 */
typedef struct st_sym_memo {
	const char *p;
	uint32_t len;
	uint32_t gen;
	uint32_t id; /* ST_SYM_NONE: a value st_sym_intern_frequent() turned down */
	uint64_t h;  /* the text's cm_hash_fast */
} st_sym_memo;

#define ST_SYM_MEMO_BITS 10

/* A value the write in progress saw that is not a symbol: its hash and text (valid until the write ends). */
typedef struct st_sym_sighting {
	uint64_t h;
	cm_str s;
} st_sym_sighting;

typedef struct st_symbols {
	pthread_mutex_t mu;
	_Atomic(const st_sym_entry *) *text; /* [ST_SYM_MAX], by number */
	/* primary only: */
	uint64_t *slot;   /* text -> its hash's high half, number + 1 (symbols.c); open addressing */
	uint8_t *stored;  /* [id]: the entry is known to be on disk */
	uint32_t *putgen; /* [id]: the write that last put the entry */
	uint32_t gen;     /* the write in progress */
	uint32_t *put;    /* numbers put by the write in progress */
	uint32_t nput, capput;
	uint32_t next;    /* the next number to hand out */
	uint64_t *known;  /* [ST_SYM_KNOWN_BITS / 64]: a bit per top-16-bit hash of a symbol's text */
	uint8_t *sketch;  /* [2 << ST_SYM_SKETCH_BITS]: value sightings, two rows */
	uint32_t sightings; /* since the sketch was last halved */
	st_sym_memo *memo;     /* [1 << ST_SYM_MEMO_BITS] */
	st_sym_sighting *seen; /* the write in progress's sightings, counted at its end */
	uint32_t nseen, capseen;
	bool tables;      /* slot, stored, putgen, known, memo and sketch are allocated */
	bool loaded;      /* every stored entry read */
	cm_arena arena;   /* the texts */
} st_symbols;

int st_sym_init(st_symbols *y);
void st_sym_fini(st_symbols *y);

/* Primary: reads every stored entry (once; later calls return at once). */
int st_sym_load(st_symbols *y, rocksdb_t *db, rocksdb_readoptions_t *ro, rocksdb_column_family_handle_t *meta);

/*
 * A write (primary): st_sym_write_begin takes y->mu; st_sym_intern gives
 * the number of s, handed out now if s is new, and puts its entry into wb
 * unless it is known to be stored or this write put it already; ST_SYM_NONE
 * when s is not to be a symbol (too long, table full, out of memory).
 * st_sym_write_end(written) records the entries put as stored when the
 * write succeeded, counts its sightings of values, and releases y->mu.
 */
void st_sym_write_begin(st_symbols *y);
uint32_t st_sym_intern_lookup(st_symbols *y, cm_str s, rocksdb_writebatch_t *wb, rocksdb_column_family_handle_t *meta);

/* The memo entry for the text at p (live when its gen is the write's and it has p and len). mu held. */
static inline st_sym_memo *
st_sym_memo_at(const st_symbols *y, const char *p)
{
	return &y->memo[(uintptr_t)p * 0x9e3779b97f4a7c15u >> (64 - ST_SYM_MEMO_BITS)];
}

static inline bool
st_sym_memo_has(const st_symbols *y, const st_sym_memo *m, cm_str s)
{
	return m->p == s.p && m->len == s.len && m->gen == y->gen;
}

/* Inline where the memo answers (most calls, at a key or name interned before in the write); else st_sym_intern_lookup(). */
static inline uint32_t
st_sym_intern(st_symbols *y, cm_str s, rocksdb_writebatch_t *wb, rocksdb_column_family_handle_t *meta)
{
	if (y->tables && s.len <= ST_SYM_LEN_MAX) {
		const st_sym_memo *m = st_sym_memo_at(y, s.p);
		if (st_sym_memo_has(y, m, s) && m->id != ST_SYM_NONE)
			return m->id; /* interned by this write: its entry is put */
	}
	return st_sym_intern_lookup(y, s, wb, meta);
}
void st_sym_write_end(st_symbols *y, bool written);
/*
 * st_sym_intern() for a string attribute value of at least min_len bytes
 * (ST_SYM_VALUE_MIN for a whole value): its number when it is a symbol
 * already or has become frequent (symbols.h above), else ST_SYM_NONE,
 * counting the sighting.
 */
uint32_t st_sym_intern_frequent(st_symbols *y, cm_str s, uint32_t min_len, rocksdb_writebatch_t *wb,
    rocksdb_column_family_handle_t *meta);

/*
 * The text of symbol id, read from meta the first time. CM_EPROTO if the
 * store has no such symbol (a damaged block), CM_EIO if reading failed.
 */
int st_sym_text(st_symbols *y, uint32_t id, rocksdb_t *db, rocksdb_readoptions_t *ro,
    rocksdb_column_family_handle_t *meta, cm_str *out);

/*
 * st_sym_text() of the store store (an st_store *, its lock held), in the
 * form decoders take (block.h: st_block_syms); the text lives as long as
 * the store.
 */
int st_store_symbol(void *store, uint32_t id, cm_str *out);

#endif
