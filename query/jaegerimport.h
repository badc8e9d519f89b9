/*
 * jaegerimport.h - Jaeger JSON traces -> OTLP JSON, for `weft import`.
 *
 * The inverse of jaeger.h's mapping: processes become resources
 * (serviceName -> service.name, tags -> attributes), otel.scope.name/version
 * tags become the scope, span.kind the kind (absent: unspecified, as
 * Jaeger's translator does), otel.status_code / otel.status_description /
 * error the status, w3c.tracestate the trace state, the first CHILD_OF
 * reference the parent and the other references links, logs events (the
 * "event" field the name). Times: µs -> ns.
 */
#ifndef WEFT_QUERY_JAEGERIMPORT_H
#define WEFT_QUERY_JAEGERIMPORT_H

#include <jansson.h>

/*
 * Converts one Jaeger trace object {traceID, spans, processes} into a new
 * OTLP JSON ExportTraceServiceRequest. Returns NULL with *why set when the
 * trace is not Jaeger JSON.
 */
json_t *qry_jaeger_to_otlp(json_t *trace, const char **why);

#endif
