/*
 * ids.h - trace and span ids, hex conversion, and fast random ids.
 *
 * Ids are one-field structs so that the compiler catches a span id passed
 * where a trace id belongs. An all-zero id means "absent" (a root span's
 * parent) and is never generated.
 *
 * Random ids come from a per-thread xoshiro256** generator seeded from
 * getrandom(); a fork() reseeds every thread's generator in the child so
 * that parent and child never produce the same ids.
 */
#ifndef WEFT_COMMON_IDS_H
#define WEFT_COMMON_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cm_trace_id {
	uint8_t b[16];
} cm_trace_id;

typedef struct cm_span_id {
	uint8_t b[8];
} cm_span_id;

#define CM_TRACE_ID_HEX 32
#define CM_SPAN_ID_HEX 16

bool cm_trace_id_is_zero(const cm_trace_id *id);
bool cm_span_id_is_zero(const cm_span_id *id);

/* Writes 2*n lowercase hex digits and a NUL to dst. */
void cm_hex_encode(const uint8_t *src, size_t n, char *dst);

/*
 * Decodes exactly 2*n hex digits from src (len must equal 2*n).
 * Upper-case digits are accepted unless lower_only. Returns CM_OK or
 * CM_EINVAL; dst is written only on success.
 */
int cm_hex_decode(const char *src, size_t len, uint8_t *dst, size_t n, bool lower_only);

/*
 * Parses a trace id as query APIs and Zipkin send it: 32 hex digits, or
 * 1..31 digits left-padded with zeros (64-bit ids). Any case.
 */
int cm_trace_id_parse(const char *s, size_t len, cm_trace_id *out);

uint64_t cm_rand64(void);
void cm_trace_id_random(cm_trace_id *out);
void cm_span_id_random(cm_span_id *out);

#endif
