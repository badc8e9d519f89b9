/*
 * span.c - span model helpers and validation.
 */
#include "span.h"

#include <string.h>

#include "alloc.h"
#include "err.h"

cm_str
cm_str_from(const char *s)
{
	return s ? (cm_str){ s, (uint32_t)strlen(s) } : (cm_str){ "", 0 };
}

uint32_t
cm_utf8_cut(const char *p, uint32_t len, uint32_t max)
{
	uint32_t n = max;
	if (len <= max)
		return len;
	/* back up over continuation bytes to the start of the cut sequence */
	while (n > 0 && ((unsigned char)p[n] & 0xc0) == 0x80)
		n--;
	return n;
}

bool
cm_str_eq(cm_str a, const char *s)
{
	size_t n = strlen(s);
	return a.len == n && (n == 0 || memcmp(a.p, s, n) == 0);
}

void
cm_batch_init(cm_batch *b)
{
	memset(b, 0, sizeof *b);
	cm_arena_init(&b->arena, 16384);
}

void
cm_batch_fini(cm_batch *b)
{
	cm_arena_fini(&b->arena);
	cm_free(b->owned);
	memset(b, 0, sizeof *b);
}

const char *
cm_kind_name(int kind)
{
	static const char *const names[] = { "unspecified", "internal", "server",
		"client", "producer", "consumer" };
	return kind >= 0 && kind <= CM_KIND_CONSUMER ? names[kind] : "unspecified";
}

int
cm_span_validate(const cm_batch *b, const cm_span *s, const char **why)
{
	if (cm_trace_id_is_zero(&s->trace_id))
		*why = "trace id is zero";
	else if (cm_span_id_is_zero(&s->span_id))
		*why = "span id is zero";
	else if (s->end_ns < s->start_ns)
		*why = "end before start";
	else if (s->kind > CM_KIND_CONSUMER)
		*why = "unknown span kind";
	else if (s->status > CM_STATUS_ERROR)
		*why = "unknown status code";
	else if (s->resource >= b->nresources)
		*why = "resource index out of range";
	else if (s->scope >= b->nscopes)
		*why = "scope index out of range";
	else
		return CM_OK;
	return CM_EINVAL;
}
