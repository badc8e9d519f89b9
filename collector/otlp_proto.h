/*
 * otlp_proto.h - OTLP/HTTP protobuf (application/x-protobuf) requests and responses.
 */
#ifndef WEFT_COLLECTOR_OTLP_PROTO_H
#define WEFT_COLLECTOR_OTLP_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "span.h"

/* Deepest message nesting accepted; the request itself is depth 0. */
#define COL_PB_MAX_DEPTH 32

/*
 * Decodes an ExportTraceServiceRequest into out (an initialised empty
 * batch). Returns CM_OK, CM_EPROTO with a static reason, or CM_ENOMEM.
 * The batch's strings and bytes point into body, which must outlive it;
 * kvlist attribute values become their JSON text (the span model has no
 * maps), held in the batch's arena.
 */
int col_otlp_proto_decode(const void *body, size_t len, cm_batch *out, const char **why);

/* Encodes an ExportTraceServiceResponse; partial success when rejected > 0. */
void col_otlp_proto_response(cm_buf *out, int64_t rejected, const char *message);

#endif
