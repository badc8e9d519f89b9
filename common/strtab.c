/*
 * strtab.c - the string table of a native BATCH payload (strtab.h).
 */
#include "strtab.h"

#include <string.h>

#include "alloc.h"
#include "hash.h"

enum { FIRST_CAP = 1024 };

void
cm_strw_reset(cm_strw *w)
{
	w->n = 0;
	w->used = 0;
	if (++w->gen == 0) { /* wrapped: generation 0 would match slots never used */
		if (w->v != NULL)
			memset(w->v, 0, (size_t)w->cap * sizeof *w->v);
		w->gen = 1;
	}
}

void
cm_strw_fini(cm_strw *w)
{
	cm_free(w->v);
	memset(w, 0, sizeof *w);
}

/* Doubles the table (or makes the first), moving the live slots; false when out of memory. */
static bool
grow(cm_strw *w)
{
	uint32_t cap = w->cap ? w->cap * 2 : FIRST_CAP;
	cm_strw_slot *v = cm_calloc(cap, sizeof *v);

	if (v == NULL || cap < w->cap) {
		cm_free(v);
		return false;
	}
	for (uint32_t i = 0; i < w->cap; i++) {
		const cm_strw_slot *e = &w->v[i];
		if (e->gen != w->gen)
			continue;
		uint32_t j = (uint32_t)e->h & (cap - 1);
		while (v[j].gen == w->gen)
			j = (j + 1) & (cap - 1);
		v[j] = *e;
	}
	cm_free(w->v);
	w->v = v;
	w->cap = cap;
	return true;
}

uint32_t
cm_strw_find_or_add(cm_strw *w, cm_str s)
{
	uint64_t h;
	uint32_t i;

	if (s.len == 0) { /* one byte inline, where a reference takes three or more */
		w->n++;
		return UINT32_MAX;
	}
	h = cm_hash_fast(s.p, s.len);
	if (w->gen == 0)
		w->gen = 1;
	if ((w->used + 1) * 2 > w->cap && !grow(w)) {
		w->n++; /* numbered, not remembered: its repeats go inline too */
		return UINT32_MAX;
	}
	for (i = (uint32_t)h & (w->cap - 1); w->v[i].gen == w->gen; i = (i + 1) & (w->cap - 1)) {
		const cm_strw_slot *e = &w->v[i];
		if (e->h == h && cm_str_same((cm_str){ e->p, e->len }, s))
			return e->num;
	}
	w->v[i] = (cm_strw_slot){ h, s.p, s.len, w->gen, w->n };
	w->used++;
	w->n++;
	return UINT32_MAX;
}

void
cm_strs_fini(cm_strs *t)
{
	cm_free(t->v);
	memset(t, 0, sizeof *t);
}

bool
cm_strs_add_grow(cm_strs *t, cm_str s)
{
	cm_str *v = cm_grow(t->v, t->n, &t->cap, sizeof *v, FIRST_CAP);

	if (v == NULL) {
		t->oom = true;
		return false;
	}
	t->v = v;
	return cm_strs_add(t, s);
}
