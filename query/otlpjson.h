/*
 * otlpjson.h - a trace as OTLP JSON (ExportTraceServiceRequest shape).
 *
 * Spans are grouped by resource, then scope. Following the OTLP JSON
 * encoding: lowercase hex ids, int64 and fixed64 values as decimal strings,
 * enums as integers, bytes as base64. Arrays stay arrays.
 */
#ifndef WEFT_QUERY_OTLPJSON_H
#define WEFT_QUERY_OTLPJSON_H

#include "jsonw.h"
#include "span.h"

/* Writes {"resourceSpans":[...]}. */
void qry_otlp_json_trace(cm_jsonw *w, const cm_batch *t);

#endif
