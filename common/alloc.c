/*
 * alloc.c - allocation wrapper with failure injection for tests.
 */
#include "alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_uint fail_every;
static atomic_uint counter;

static int
should_fail(void)
{
	unsigned every = atomic_load_explicit(&fail_every, memory_order_relaxed);
	if (every == 0)
		return 0;
	return (atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed) + 1) % every == 0;
}

void
cm_alloc_fail_every(unsigned n)
{
	atomic_store(&counter, 0);
	atomic_store(&fail_every, n);
}

void *
cm_malloc(size_t n)
{
	return should_fail() ? NULL : malloc(n ? n : 1);
}

void *
cm_calloc(size_t count, size_t size)
{
	return should_fail() ? NULL : calloc(count ? count : 1, size ? size : 1);
}

void *
cm_realloc(void *p, size_t n)
{
	return should_fail() ? NULL : realloc(p, n ? n : 1);
}

void
cm_free(void *p)
{
	free(p);
}

void *
cm_grow(void *v, uint32_t n, uint32_t *cap, size_t elem, uint32_t first)
{
	uint32_t c = *cap ? *cap * 2 : first;

	if (n < *cap)
		return v;
	if (c <= *cap || (v = cm_realloc(v, (size_t)c * elem)) == NULL)
		return NULL;
	*cap = c;
	return v;
}

char *
cm_strndup(const char *s, size_t n)
{
	char *d = cm_malloc(n + 1);
	if (d == NULL)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}
