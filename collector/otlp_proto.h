/*
 * otlp_proto.h - OTLP/HTTP protobuf (application/x-protobuf) requests and responses.
 */
#ifndef WEFT_COLLECTOR_OTLP_PROTO_H
#define WEFT_COLLECTOR_OTLP_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "span.h"

/*
 * Decodes an ExportTraceServiceRequest into out (an initialised empty
 * batch). Returns CM_OK, CM_EPROTO with a static reason, or CM_ENOMEM.
 * kvlist attribute values become their JSON text (the span model has no maps).
 */
int col_otlp_proto_decode(const void *body, size_t len, cm_batch *out, const char **why);

/* Encodes an ExportTraceServiceResponse; partial success when rejected > 0. */
void col_otlp_proto_response(cm_buf *out, int64_t rejected, const char *message);

#endif
