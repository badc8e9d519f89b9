/*
 * span.h - weft's span model: OTLP's, so nothing is lost between OTLP in and
 * OTLP or Jaeger out.
 *
 * A cm_batch holds spans together with the resources (service.name plus
 * attributes) and instrumentation scopes they came from; each span refers to
 * one resource and one scope by index. Strings are (pointer, length) slices
 * that need not be NUL-terminated. An empty string may have a NULL pointer
 * (a zero-initialised span has them): check len before memcpy/memcmp.
 *
 * Ownership: everything a batch points to lives in its arena or in its
 * `owned` buffer (e.g. the decoded message the strings point into), and is
 * freed by cm_batch_fini(). Threads: a batch belongs to one thread at a time.
 */
#ifndef WEFT_COMMON_SPAN_H
#define WEFT_COMMON_SPAN_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "arena.h"
#include "ids.h"

typedef struct cm_str {
	const char *p;
	uint32_t len;
} cm_str;

#define CM_STR(lit) ((cm_str){ (lit), (uint32_t)(sizeof(lit) - 1) })
cm_str cm_str_from(const char *s);
bool cm_str_eq(cm_str a, const char *s);
/*
 * Whether a and b are the same bytes. Inline, with texts of 8-16 bytes
 * compared by two loads each: the store's writer compares keys and names
 * this way for every attribute of every span.
 */
static inline bool
cm_str_same(cm_str a, cm_str b)
{
	uint64_t x0, x1, y0, y1;

	if (a.len != b.len)
		return false;
	if (a.len < 8 || a.len > 16)
		return a.len == 0 || memcmp(a.p, b.p, a.len) == 0;
	memcpy(&x0, a.p, 8);
	memcpy(&y0, b.p, 8);
	memcpy(&x1, a.p + a.len - 8, 8);
	memcpy(&y1, b.p + b.len - 8, 8);
	return ((x0 ^ y0) | (x1 ^ y1)) == 0;
}
/* The length of p[0..len) cut to at most max bytes without splitting a UTF-8 sequence. */
uint32_t cm_utf8_cut(const char *p, uint32_t len, uint32_t max);

typedef enum cm_value_type {
	CM_VAL_STR = 0,
	CM_VAL_BOOL = 1,
	CM_VAL_INT = 2,
	CM_VAL_DOUBLE = 3,
	CM_VAL_BYTES = 4,
	CM_VAL_ARRAY = 5,
} cm_value_type;

typedef struct cm_value cm_value;
struct cm_value {
	uint8_t type; /* cm_value_type */
	union {
		cm_str s; /* CM_VAL_STR and CM_VAL_BYTES */
		bool b;
		int64_t i;
		double d;
		struct {
			cm_value *v;
			uint32_t n;
		} arr;
	} u;
};

typedef struct cm_attr {
	cm_str key;
	cm_value val;
} cm_attr;

typedef struct cm_attrs {
	cm_attr *v;
	uint32_t n;
	uint32_t dropped; /* cut by limits at the source or here */
} cm_attrs;

typedef struct cm_event {
	uint64_t time_ns;
	cm_str name;
	cm_attrs attrs;
} cm_event;

typedef struct cm_link {
	cm_trace_id trace_id;
	cm_span_id span_id;
	cm_str trace_state;
	uint32_t flags;
	cm_attrs attrs;
} cm_link;

typedef enum cm_span_kind {
	CM_KIND_UNSPECIFIED = 0,
	CM_KIND_INTERNAL = 1,
	CM_KIND_SERVER = 2,
	CM_KIND_CLIENT = 3,
	CM_KIND_PRODUCER = 4,
	CM_KIND_CONSUMER = 5,
} cm_span_kind;

typedef enum cm_status_code {
	CM_STATUS_UNSET = 0,
	CM_STATUS_OK = 1,
	CM_STATUS_ERROR = 2,
} cm_status_code;

typedef struct cm_resource {
	cm_str service; /* service.name, also kept out of attrs */
	cm_attrs attrs;
} cm_resource;

typedef struct cm_scope {
	cm_str name;
	cm_str version;
	cm_attrs attrs;
} cm_scope;

typedef struct cm_span {
	cm_trace_id trace_id;
	cm_span_id span_id;
	cm_span_id parent_span_id; /* all zero for a root */
	cm_str trace_state;
	uint32_t flags; /* W3C trace flags (bit 0: sampled) */
	cm_str name;
	uint8_t kind;   /* cm_span_kind */
	uint8_t status; /* cm_status_code */
	cm_str status_message;
	uint64_t start_ns;
	uint64_t end_ns;
	cm_attrs attrs;
	cm_event *events;
	uint32_t nevents;
	uint32_t dropped_events;
	cm_link *links;
	uint32_t nlinks;
	uint32_t dropped_links;
	uint32_t resource; /* index into the batch's resources */
	uint32_t scope;    /* index into the batch's scopes */
} cm_span;

typedef struct cm_batch {
	cm_arena arena;
	cm_resource *resources;
	uint32_t nresources;
	cm_scope *scopes;
	uint32_t nscopes;
	cm_span *spans;
	uint32_t nspans;
	void *owned; /* freed with cm_free() by cm_batch_fini() */
} cm_batch;

void cm_batch_init(cm_batch *b);
void cm_batch_fini(cm_batch *b);

/* Kind names as OTLP spells them in lower case: "server", "client", ... */
const char *cm_kind_name(int kind);

/*
 * Checks what every receiver requires of a span: non-zero trace and span
 * ids, a name, end not before start, resource and scope indexes in range.
 * Returns CM_OK or CM_EINVAL with *why set to a static reason.
 */
int cm_span_validate(const cm_batch *b, const cm_span *s, const char **why);

#endif
