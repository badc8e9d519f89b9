/*
 * propagation.h - the propagation formats behind weft_inject/weft_extract.
 *
 * Each format reads its headers into a weft_context (setting the span
 * context only when it finds a valid one) and writes a span's context.
 */
#ifndef WEFT_SDK_PROPAGATION_H
#define WEFT_SDK_PROPAGATION_H

#include <stddef.h>

#include "weft.h"

/* What a format writes: the span's context and lists. */
typedef struct sdk_outgoing {
	weft_span_context span;
	const char *tracestate; /* "" when none */
	const char *baggage;    /* "" when none */
} sdk_outgoing;

typedef struct sdk_format {
	const char *name; /* as OTEL_PROPAGATORS spells it */
	unsigned bit;
	void (*inject)(const sdk_outgoing *o, weft_setter set, void *carrier);
	void (*extract)(weft_getter get, weft_keys keys, void *carrier, weft_context *out);
} sdk_format;

extern const sdk_format sdk_format_tracecontext;
extern const sdk_format sdk_format_baggage;
extern const sdk_format sdk_format_b3;
extern const sdk_format sdk_format_b3multi;
extern const sdk_format sdk_format_jaeger;

/* Calls fn for each member of a normalised baggage list with its key and raw (encoded) value. */
void sdk_baggage_each(const char *bg, void (*fn)(void *arg, const char *key, size_t klen, const char *val, size_t vlen),
    void *arg);

/* The value of one hex digit (any case), or -1. */
int sdk_hex_digit(char c);

/* Percent-decodes src[0..n) into dst (cap bytes, NUL-terminated). Returns CM_OK, CM_EINVAL or CM_ETOOBIG. */
int sdk_percent_decode(const char *src, size_t n, char *dst, size_t cap);

/* Parses 1..2*n hex digits (any case), left-padded with zeros, into dst[n]. Returns CM_OK or CM_EINVAL. */
int sdk_hex_padded(const char *s, size_t len, uint8_t *dst, size_t n);

#endif
