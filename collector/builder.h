/*
 * builder.h - growing a cm_batch while decoding OTLP or Zipkin requests.
 *
 * Everything is allocated in the batch's arena, strings copied, so the
 * batch does not depend on the request body or the parser's objects.
 * Functions return NULL (or an empty string) only when out of memory; the
 * decoder then fails the request with CM_ENOMEM.
 */
#ifndef WEFT_COLLECTOR_BUILDER_H
#define WEFT_COLLECTOR_BUILDER_H

#include <stdbool.h>
#include <stddef.h>

#include "span.h"

typedef struct col_builder {
	cm_batch *b;
	uint32_t cap_resources, cap_scopes, cap_spans;
	bool oom;
} col_builder;

void col_builder_init(col_builder *bl, cm_batch *b);
/* Appends a zeroed resource / scope / span (the span refers to the last resource and scope). */
cm_resource *col_add_resource(col_builder *bl);
cm_scope *col_add_scope(col_builder *bl);
cm_span *col_add_span(col_builder *bl);
/* A copy of s[0..n) in the arena. */
cm_str col_str(col_builder *bl, const char *s, size_t n);
/* An attribute array of n zeroed entries. */
cm_attr *col_attrs(col_builder *bl, size_t n);
cm_value *col_values(col_builder *bl, size_t n);

/*
 * Moves "service.name" out of a resource's attributes into r->service
 * (a string value only); the attribute stays, as OTLP has it.
 */
void col_resource_service(cm_resource *r);

#endif
