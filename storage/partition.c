/*
 * partition.c - creating, finding and dropping time partitions.
 */
#include "partition.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "err.h"
#include "keys.h"
#include "log.h"

#define NS_PER_S 1000000000ull
#define HOUR_S 3600ull

static const char *const kind_prefix[] = { "spans.", "index." };

/* Width of new partitions: the largest of 1..24 h dividing a day that is at most retention/6. */
static uint64_t
width_s(uint64_t retention_ns)
{
	static const uint64_t hours[] = { 24, 12, 8, 6, 4, 3, 2, 1 };
	if (retention_ns == 0)
		return 24 * HOUR_S;
	for (size_t i = 0; i < sizeof hours / sizeof hours[0]; i++)
		if (hours[i] * HOUR_S * NS_PER_S <= retention_ns / 6)
			return hours[i] * HOUR_S;
	return HOUR_S;
}

void
st_part_name(char *buf, size_t cap, int kind, uint64_t start_s, uint64_t end_s)
{
	snprintf(buf, cap, "%s%" PRIu64 ".%" PRIu64, kind_prefix[kind], start_s, end_s);
}

bool
st_part_parse(const char *name, int *kind, uint64_t *start_s, uint64_t *end_s)
{
	for (int k = 0; k < 2; k++) {
		size_t plen = strlen(kind_prefix[k]);
		char *end;
		if (strncmp(name, kind_prefix[k], plen) != 0)
			continue;
		*start_s = strtoull(name + plen, &end, 10);
		if (*end != '.')
			return false;
		*end_s = strtoull(end + 1, &end, 10);
		if (*end != '\0' || *end_s <= *start_s)
			return false;
		*kind = k;
		return true;
	}
	return false;
}

bool
st_part_alive(const st_store *s, const st_part *p, uint64_t now_ns)
{
	return s->retention_ns == 0 || p->end_s * NS_PER_S + s->retention_ns > now_ns;
}

void
st_part_describe(const st_store *s, cm_buf *out)
{
	out->len = 0;
	cm_buf_printf(out, "%" PRIu64, s->retention_ns);
	for (size_t i = 0; i < s->nparts; i++)
		cm_buf_printf(out, " %" PRIu64 "-%" PRIu64, s->parts[i].start_s, s->parts[i].end_s);
}

uint64_t
st_part_retention_of(const cm_buf *partlist)
{
	char text[24];
	size_t n = partlist->len < sizeof text - 1 ? partlist->len : sizeof text - 1;
	if (n > 0)
		memcpy(text, partlist->data, n);
	text[n] = '\0';
	return strtoull(text, NULL, 10);
}

int
st_part_publish(st_store *s)
{
	char key = ST_META_PARTITIONS, *err = NULL;
	cm_buf v;

	cm_buf_init(&v);
	st_part_describe(s, &v);
	if (v.failed) {
		cm_buf_fini(&v);
		return CM_ENOMEM;
	}
	rocksdb_put_cf(s->db, s->wopts, s->cf[CF_META], &key, 1, v.data, v.len, &err);
	cm_buf_fini(&v);
	return err ? st_rocks_error("publish partitions", err) : CM_OK;
}

static st_part *
find(st_store *s, uint64_t t_s)
{
	for (size_t i = 0; i < s->nparts; i++)
		if (s->parts[i].start_s <= t_s && t_s < s->parts[i].end_s)
			return &s->parts[i];
	return NULL;
}

/* Creates the partition holding t_s, aligned to the width and trimmed by its neighbours. */
static int
create(st_store *s, uint64_t t_s)
{
	uint64_t width = width_s(s->retention_ns), start = t_s - t_s % width, end = start + width;
	rocksdb_column_family_handle_t *h[2] = { NULL, NULL };
	st_part *v;
	size_t at = 0;
	char name[64], *err = NULL;

	for (size_t i = 0; i < s->nparts; i++) {
		const st_part *p = &s->parts[i];
		if (p->end_s <= t_s && p->end_s > start)
			start = p->end_s;
		if (p->start_s > t_s && p->start_s < end)
			end = p->start_s;
		if (p->end_s <= t_s)
			at = i + 1;
	}
	if ((v = cm_realloc(s->parts, (s->nparts + 1) * sizeof *v)) == NULL)
		return CM_ENOMEM;
	s->parts = v;
	for (int k = 0; k < 2 && err == NULL; k++) {
		st_part_name(name, sizeof name, k, start, end);
		h[k] = rocksdb_create_column_family(s->db, s->cf_opts[k == ST_PART_SPANS ? OPT_SPANS : OPT_INDEX],
		    name, &err);
	}
	if (err != NULL) {
		if (h[0] != NULL) { /* leave no lone family behind */
			char *err2 = NULL;
			rocksdb_drop_column_family(s->db, h[0], &err2);
			free(err2);
			rocksdb_column_family_handle_destroy(h[0]);
		}
		return st_rocks_error("create partition", err);
	}
	memmove(v + at + 1, v + at, (s->nparts - at) * sizeof *v);
	v[at] = (st_part){ start, end, h[0], h[1] };
	s->nparts++;
	cm_log(CM_LOG_INFO, "ST-PART", "partition %" PRIu64 "-%" PRIu64 " created", start, end);
	return st_part_publish(s);
}

int
st_part_current(st_store *s, st_part **out)
{
	uint64_t now_s = s->now_ns() / NS_PER_S;

	for (;;) {
		int rv;
		if ((*out = find(s, now_s)) != NULL)
			return CM_OK;
		pthread_rwlock_unlock(&s->lock);
		pthread_rwlock_wrlock(&s->lock);
		rv = s->db == NULL ? CM_EIO : find(s, now_s) != NULL ? CM_OK : create(s, now_s);
		pthread_rwlock_unlock(&s->lock);
		pthread_rwlock_rdlock(&s->lock);
		if (rv != CM_OK)
			return rv;
	}
}

int
st_part_expire(st_store *s, size_t *dropped)
{
	uint64_t now = s->now_ns();
	char *err = NULL;
	int rv = CM_OK;

	*dropped = 0;
	if (s->retention_ns == 0)
		return CM_OK;
	for (size_t i = 0; i < s->nparts && rv == CM_OK;) {
		st_part *p = &s->parts[i];
		if (st_part_alive(s, p, now)) {
			i++;
			continue;
		}
		rocksdb_drop_column_family(s->db, p->spans, &err);
		if (err == NULL)
			rocksdb_drop_column_family(s->db, p->index, &err);
		if (err != NULL) {
			rv = st_rocks_error("drop partition", err);
			break;
		}
		cm_log(CM_LOG_INFO, "ST-PART", "partition %" PRIu64 "-%" PRIu64 " expired and dropped", p->start_s, p->end_s);
		rocksdb_column_family_handle_destroy(p->spans);
		rocksdb_column_family_handle_destroy(p->index);
		memmove(p, p + 1, (s->nparts - i - 1) * sizeof *p);
		s->nparts--;
		(*dropped)++;
	}
	if (rv == CM_OK && *dropped > 0) {
		/* dependency totals are kept per hour of span start: drop the hours as old */
		char from[9], to[9];
		from[0] = to[0] = ST_META_DEPENDENCY;
		st_put_be64((uint8_t *)from + 1, 0);
		st_put_be64((uint8_t *)to + 1, (now - s->retention_ns) / (HOUR_S * NS_PER_S));
		rocksdb_delete_range_cf(s->db, s->wopts, s->cf[CF_META], from, sizeof from, to, sizeof to, &err);
		rv = err ? st_rocks_error("expire dependencies", err) : st_part_publish(s);
	}
	return rv;
}
