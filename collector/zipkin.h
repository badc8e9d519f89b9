/*
 * zipkin.h - Zipkin v2 JSON (POST /api/v2/spans) -> the span model.
 *
 * Mapping, the inverse of OpenTelemetry's Zipkin exporter:
 *   localEndpoint.serviceName -> resource service (one resource per service)
 *   timestamp/duration (µs) -> start/end (ns); kind CLIENT/SERVER/PRODUCER/
 *   CONSUMER, absent -> INTERNAL; 64-bit trace ids left-padded
 *   tags -> string attributes, except: otel.status_code (OK/ERROR) and
 *   error (its value the message) -> status; otel.status_description ->
 *   status message; otel.scope.name/version (or otel.library.*) -> scope;
 *   service.name duplicates of the endpoint are dropped
 *   annotations -> events named by their value
 *   shared (a server span sharing the client's id) is stored as sent
 */
#ifndef WEFT_COLLECTOR_ZIPKIN_H
#define WEFT_COLLECTOR_ZIPKIN_H

#include <stddef.h>

#include "span.h"

/* Returns CM_OK, CM_EPROTO with a static reason, or CM_ENOMEM. */
int col_zipkin_decode(const char *body, size_t len, cm_batch *out, const char **why);

#endif
