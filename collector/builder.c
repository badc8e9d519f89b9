/*
 * builder.c - arena-backed growth of a batch.
 */
#include "builder.h"

#include <string.h>

void
col_builder_init(col_builder *bl, cm_batch *b)
{
	memset(bl, 0, sizeof *bl);
	bl->b = b;
}

/* Grows *arr (elements of size sz, n used, *cap allocated) by one; returns the new slot. */
static void *
grow(col_builder *bl, void **arr, uint32_t *n, uint32_t *cap, size_t sz)
{
	void *slot;
	if (*n == *cap) {
		uint32_t ncap = *cap ? *cap * 2 : 8;
		void *v = cm_arena_alloc(&bl->b->arena, ncap * sz);
		if (v == NULL) {
			bl->oom = true;
			return NULL;
		}
		if (*n)
			memcpy(v, *arr, *n * sz);
		*arr = v;
		*cap = ncap;
	}
	slot = (char *)*arr + (size_t)*n * sz;
	memset(slot, 0, sz);
	(*n)++;
	return slot;
}

cm_resource *
col_add_resource(col_builder *bl)
{
	return grow(bl, (void **)&bl->b->resources, &bl->b->nresources, &bl->cap_resources, sizeof(cm_resource));
}

cm_scope *
col_add_scope(col_builder *bl)
{
	return grow(bl, (void **)&bl->b->scopes, &bl->b->nscopes, &bl->cap_scopes, sizeof(cm_scope));
}

cm_span *
col_add_span(col_builder *bl)
{
	cm_span *s = grow(bl, (void **)&bl->b->spans, &bl->b->nspans, &bl->cap_spans, sizeof(cm_span));
	if (s != NULL) {
		s->resource = bl->b->nresources ? bl->b->nresources - 1 : 0;
		s->scope = bl->b->nscopes ? bl->b->nscopes - 1 : 0;
	}
	return s;
}

cm_str
col_str(col_builder *bl, const char *s, size_t n)
{
	char *d;
	if (n == 0)
		return CM_STR("");
	if (n > UINT32_MAX || (d = cm_arena_strndup(&bl->b->arena, s, n)) == NULL) {
		bl->oom = true;
		return CM_STR("");
	}
	return (cm_str){ d, (uint32_t)n };
}

cm_attr *
col_attrs(col_builder *bl, size_t n)
{
	cm_attr *a = n ? cm_arena_alloc(&bl->b->arena, n * sizeof *a) : NULL;
	if (n && a == NULL)
		bl->oom = true;
	return a;
}

cm_value *
col_values(col_builder *bl, size_t n)
{
	cm_value *v = n ? cm_arena_alloc(&bl->b->arena, n * sizeof *v) : NULL;
	if (n && v == NULL)
		bl->oom = true;
	return v;
}

void
col_resource_service(cm_resource *r)
{
	for (uint32_t i = 0; i < r->attrs.n; i++) {
		const cm_attr *a = &r->attrs.v[i];
		if (cm_str_eq(a->key, "service.name") && a->val.type == CM_VAL_STR) {
			r->service = a->val.u.s;
			return;
		}
	}
}
