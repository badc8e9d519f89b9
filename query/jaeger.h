/*
 * jaeger.h - traces in Jaeger's JSON (the format of Jaeger's query API and UI).
 *
 * Mapping from the OTLP model, as Jaeger's own OTLP translator does it:
 *   resource service.name -> process serviceName; other resource attributes
 *     -> process tags; processes are p1..pN in order of first use
 *   scope -> otel.scope.name / otel.scope.version tags
 *   kind (not internal) -> span.kind tag; status OK/ERROR -> otel.status_code,
 *     ERROR also error=true and otel.status_description
 *   parent -> CHILD_OF reference; links -> FOLLOWS_FROM references
 *   events -> logs {timestamp, fields: [event=name, attributes...]}
 *   attribute types -> string, bool, int64, float64, binary (base64);
 *     arrays as their JSON text in a string tag
 *   times in microseconds
 */
#ifndef WEFT_QUERY_JAEGER_H
#define WEFT_QUERY_JAEGER_H

#include "clockskew.h"
#include "jsonw.h"
#include "span.h"

/*
 * Writes one trace object {traceID, spans, processes, warnings}. warn may
 * be NULL (every span's "warnings" is null), else it has one entry per span.
 */
void qry_jaeger_trace(cm_jsonw *w, const cm_batch *trace, const qry_span_warnings *warn);

#endif
