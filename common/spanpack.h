/*
 * spanpack.h - msgpack encoding of the span model, shared by the native wire
 * format (common/wire.c) and the storage value format (storage/).
 *
 * Layout (all msgpack arrays, positions fixed; see docs/wire-format.md):
 *   attrs    = [key0, value0, key1, value1, ...]   values typed by msgpack
 *              type: str, bin (bytes), bool, int, float, array of values
 *   resource = [service_name, attrs, dropped_attrs]
 *   scope    = [name, version, attrs, dropped_attrs]
 *   span     = [trace_id bin16, span_id bin8, parent_span_id bin8|nil,
 *               trace_state, flags, name, kind, status, status_message,
 *               start_ns, end_ns, attrs, dropped_attrs, events,
 *               dropped_events, links, dropped_links, resource_ref, scope_ref]
 *   event    = [time_ns, name, attrs, dropped_attrs]
 *   link     = [trace_id bin16, span_id bin8, trace_state, flags, attrs, dropped_attrs]
 *
 * Packing writes into a cm_buf (common/mpwrite.h; check b->failed once at
 * the end); with a string table w (common/strtab.h) a string the payload
 * has numbered before is written as a reference, with w NULL every string
 * is inline (stored values, replies). Unpacking reads the bytes in one pass (common/mpread.h) and allocates
 * arrays in the given arena; strings point into the buffer read, which
 * must outlive them; a reader with strs (mpread.h) numbers strings and
 * takes references.
 * Every unpack function rejects wrong types and sizes with CM_EPROTO and a
 * static reason in *why; none trusts a length it has not checked.
 */
#ifndef WEFT_COMMON_SPANPACK_H
#define WEFT_COMMON_SPANPACK_H

#include "buf.h"
#include "mpread.h"
#include "span.h"
#include "strtab.h"

void cm_pack_str(cm_buf *b, cm_str s);
void cm_pack_attrs(cm_buf *b, cm_strw *w, const cm_attrs *a);
void cm_pack_resource(cm_buf *b, cm_strw *w, const cm_resource *r);
void cm_pack_scope(cm_buf *b, cm_strw *w, const cm_scope *s);
void cm_pack_span(cm_buf *b, cm_strw *w, const cm_span *s, uint64_t resource_ref, uint64_t scope_ref);

/* Each reads one item from r and leaves r after it. */
int cm_unpack_resource(cm_mpread *r, cm_arena *a, cm_resource *out, const char **why);
int cm_unpack_scope(cm_mpread *r, cm_arena *a, cm_scope *out, const char **why);
/* OUT: *out, *resource_ref, *scope_ref. */
int cm_unpack_span(cm_mpread *r, cm_arena *a, cm_span *out,
    uint64_t *resource_ref, uint64_t *scope_ref, const char **why);

#endif
