/*
 * pbcheck.h - structural check of an OTLP ExportTraceServiceRequest before
 * protobuf-c unpacks it.
 *
 * protobuf-c unpacks nested messages recursively, and OTLP's AnyValue ->
 * ArrayValue / KeyValueList -> AnyValue cycle lets a few bytes per level
 * nest deeply enough to exhaust the stack. This walker knows which fields of
 * the trace messages are messages, follows them with an explicit stack,
 * checks every length against the bytes that remain, and rejects nesting
 * deeper than CM_PB_MAX_DEPTH. It allocates nothing.
 */
#ifndef WEFT_COLLECTOR_PBCHECK_H
#define WEFT_COLLECTOR_PBCHECK_H

#include <stddef.h>

#define COL_PB_MAX_DEPTH 32

/* Returns CM_OK, or CM_EPROTO with a static reason in *why. */
int col_pb_check_otlp_traces(const void *buf, size_t len, const char **why);

#endif
