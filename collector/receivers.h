/*
 * receivers.h - the OTLP/HTTP and Zipkin request handlers.
 *
 * Both run on a col_httpd listener and hand decoded batches to the pipeline.
 *   OTLP/HTTP  POST /v1/traces, application/json or application/x-protobuf:
 *              200 + ExportTraceServiceResponse (partialSuccess when some
 *              spans were rejected), 400 + Status for a malformed body,
 *              415 for another content type, 503 + Retry-After when the
 *              store cannot take writes; bodies in the request's encoding.
 *   Zipkin     POST /api/v2/spans, JSON list: 202, 400 with a message, 503.
 * (413 and 429 come from col_httpd before a handler runs.)
 */
#ifndef WEFT_COLLECTOR_RECEIVERS_H
#define WEFT_COLLECTOR_RECEIVERS_H

#include "httpd.h"
#include "pipeline.h"

/* col_http_handler for the OTLP/HTTP listener; arg is a col_pipeline. */
void col_otlp_handle(void *arg, const col_http_request *req, col_http_reply *rep);
/* col_http_handler for the Zipkin listener; arg is a col_pipeline. */
void col_zipkin_handle(void *arg, const col_http_request *req, col_http_reply *rep);

#endif
