/*
 * partition.h - time partitions: retention at a cost independent of the data.
 *
 * Span blocks and index entries are written into the partition that is
 * current when they arrive: a pair of column families named
 * "spans.<start>.<end>" and "index.<start>.<end>" (Unix seconds, [start,
 * end)). The width of new partitions follows the retention (a sixth of
 * it, 1 to 24 hours); partitions made under another retention keep their
 * own bounds, and a new one is trimmed so that none overlap. A partition
 * expires whole when its end is older than the retention: dropping its two
 * families deletes their files, whatever they hold. Data therefore lives at
 * least the retention and at most the retention plus one width; readers
 * skip expired partitions that are not dropped yet.
 *
 * The primary publishes the partition set in meta under 'P' (keys.h) each
 * time it changes, so that a secondary notices after catching up and
 * reopens with the new families.
 */
#ifndef WEFT_STORAGE_PARTITION_H
#define WEFT_STORAGE_PARTITION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store_int.h"

enum { ST_PART_SPANS, ST_PART_INDEX };

/* Writes the family name of kind for [start_s, end_s) into buf. */
void st_part_name(char *buf, size_t cap, int kind, uint64_t start_s, uint64_t end_s);

/* Parses a partition family name; false if name is not one. */
bool st_part_parse(const char *name, int *kind, uint64_t *start_s, uint64_t *end_s);

/* True while p may hold data younger than the retention. */
bool st_part_alive(const st_store *s, const st_part *p, uint64_t now_ns);

/*
 * The partition to write into now, created if missing. Call with s->lock
 * held shared; creating takes it exclusively in between, so partition
 * pointers taken before the call are stale after it. Primary only.
 */
int st_part_current(st_store *s, st_part **out);

/* Drops every partition no longer alive and the dependency totals as old. Primary only. */
int st_part_expire(st_store *s, size_t *dropped);

/* Writes the partition set to meta 'P' for secondaries. Lock held exclusively. */
int st_part_publish(st_store *s);

/* The 'P' value for the current partition set (retention first, then bounds). */
void st_part_describe(const st_store *s, cm_buf *out);

/* Secondary: reads the retention from a 'P' value. */
uint64_t st_part_retention_of(const cm_buf *partlist);

#endif
