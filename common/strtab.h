/*
 * strtab.h - the string table of a native BATCH payload (docs/wire-format.md).
 *
 * With the header's STRINGS flag, every msgpack str of a BATCH payload is
 * numbered in order of appearance from 0, and any string may instead be a
 * reference to an earlier one: an ext item of type CM_STRREF_EXT whose 1,
 * 2 or 4 data bytes are the number, big-endian. A span's attribute keys,
 * its name and the frequent values then cross the wire once per batch:
 * that is less to decompress and parse, and the collector's decoder hands
 * every repeat of a string the same bytes, so the writer can remember what
 * it found for a string by its address instead of hashing it again.
 *
 * cm_strw (encoder): which strings the batch has numbered. Lookups go by
 * content (cm_hash_fast). Reset per batch without clearing its slots: an
 * entry is live when its generation is the batch's.
 *
 * cm_strs (decoder): the strings numbered so far, pointing into the
 * payload. It grows as it fills; a failed allocation sets `oom`.
 */
#ifndef WEFT_COMMON_STRTAB_H
#define WEFT_COMMON_STRTAB_H

#include <stdbool.h>
#include <stdint.h>

#include "span.h"

#define CM_STRREF_EXT 1 /* the msgpack ext type of a reference */

typedef struct cm_strw_slot {
	uint64_t h;
	const char *p;
	uint32_t len;
	uint32_t gen; /* live when it is the table's */
	uint32_t num;
} cm_strw_slot;

typedef struct cm_strw {
	cm_strw_slot *v;
	uint32_t cap;  /* a power of two, 0 before the first string */
	uint32_t used; /* live slots */
	uint32_t gen;
	uint32_t n;    /* strings numbered in this batch */
} cm_strw;

void cm_strw_reset(cm_strw *w);
void cm_strw_fini(cm_strw *w);
/*
 * The number of an earlier string with s's bytes, or UINT32_MAX when there
 * is none or s is empty: then s is numbered now (it is to be written
 * inline). A table that cannot grow numbers s without remembering it.
 */
uint32_t cm_strw_find_or_add(cm_strw *w, cm_str s);

typedef struct cm_strs {
	cm_str *v;
	uint32_t n, cap;
	bool oom;    /* a string could not be numbered */
	bool badref; /* a reference named a string not numbered yet */
} cm_strs;

void cm_strs_fini(cm_strs *t);
/* cm_strs_add() when the table is full: grows it, then numbers s. */
bool cm_strs_add_grow(cm_strs *t, cm_str s);

/* Numbers s; false (and t->oom) when out of memory. */
static inline bool
cm_strs_add(cm_strs *t, cm_str s)
{
	if (t->n == t->cap)
		return cm_strs_add_grow(t, s);
	t->v[t->n++] = s;
	return true;
}

#endif
