/*
 * arena.c - chunked bump allocator.
 */
#include "arena.h"

#include <stdint.h>
#include <string.h>

#include "alloc.h"

void
cm_arena_init(cm_arena *a, size_t chunk_size)
{
	a->head = NULL;
	a->chunk_size = chunk_size ? chunk_size : 4096;
	a->total = 0;
	a->held = 0;
}

void
cm_arena_fini(cm_arena *a)
{
	cm_arena_chunk *c = a->head;
	while (c != NULL) {
		cm_arena_chunk *next = c->next;
		cm_free(c);
		c = next;
	}
	a->head = NULL;
	a->total = 0;
	a->held = 0;
}

void
cm_arena_reset_used(cm_arena *a)
{
	cm_arena_chunk *keep = NULL, *c = a->head;

	while (c != NULL) {
		cm_arena_chunk *next = c->next;
		if (keep == NULL && c->cap == a->chunk_size) {
			keep = c;
		} else {
			a->held -= sizeof *c + c->cap;
			cm_free(c);
		}
		c = next;
	}
	if (keep != NULL) {
		keep->next = NULL;
		keep->used = 0;
	}
	a->head = keep;
	a->total = 0;
}

/* Slow path: a new chunk for `need` bytes. */
static void *
grow(cm_arena *a, size_t need)
{
	size_t cap = need > a->chunk_size ? need : a->chunk_size;
	cm_arena_chunk *c = cm_malloc(sizeof *c + cap);

	if (c == NULL)
		return NULL;
	c->used = need;
	c->cap = cap;
	a->held += sizeof *c + cap;
	if (a->head != NULL && cap > a->chunk_size) {
		/* Keep the partly used chunk at the head for small requests. */
		c->next = a->head->next;
		a->head->next = c;
	} else {
		c->next = a->head;
		a->head = c;
	}
	return c->data;
}

/* n bytes, not zeroed. */
static inline void *
alloc_raw(cm_arena *a, size_t n)
{
	cm_arena_chunk *c = a->head;
	size_t need = (n + 7) & ~(size_t)7;
	void *p;

	if (need < n)
		return NULL;
	if (c == NULL || c->cap - c->used < need) {
		p = grow(a, need);
	} else {
		p = (char *)c->data + c->used;
		c->used += need;
	}
	if (p != NULL)
		a->total += need;
	return p;
}

void *
cm_arena_alloc(cm_arena *a, size_t n)
{
	void *p = alloc_raw(a, n);
	if (p != NULL)
		memset(p, 0, n);
	return p;
}

void *
cm_arena_alloc_uninit(cm_arena *a, size_t n)
{
	return alloc_raw(a, n);
}

char *
cm_arena_strndup(cm_arena *a, const char *s, size_t n)
{
	char *d = alloc_raw(a, n + 1);
	if (d == NULL)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}
