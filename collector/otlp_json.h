/*
 * otlp_json.h - OTLP/HTTP JSON (application/json) requests and responses.
 *
 * Accepts what OTLP's JSON encoding allows: lowerCamelCase field names,
 * hex trace and span ids in either case, 64-bit integers as strings or
 * numbers, enums as integers or their names, unknown fields ignored.
 */
#ifndef WEFT_COLLECTOR_OTLP_JSON_H
#define WEFT_COLLECTOR_OTLP_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "span.h"

/* Returns CM_OK, CM_EPROTO with a static reason, or CM_ENOMEM. */
int col_otlp_json_decode(const char *body, size_t len, cm_batch *out, const char **why);

/* {"partialSuccess":{"rejectedSpans":"N","errorMessage":"..."}} or {} */
void col_otlp_json_response(cm_buf *out, int64_t rejected, const char *message);

#endif
