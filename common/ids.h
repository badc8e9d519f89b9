/*
 * ids.h - trace and span ids, hex conversion, and fast random ids.
 *
 * Ids are one-field structs so that the compiler catches a span id passed
 * where a trace id belongs. An all-zero id means "absent" (a root span's
 * parent) and is never generated.
 *
 * Random ids come from a per-thread wyrand generator seeded from
 * getrandom(); a fork() reseeds every thread's generator in the child so
 * that parent and child never produce the same ids.
 */
#ifndef WEFT_COMMON_IDS_H
#define WEFT_COMMON_IDS_H

#include <stdatomic.h>
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

/*
 * The per-thread generator. Inline: a sampled span takes three numbers,
 * and the calls were a twelfth of its cost. initial-exec TLS: libweft.so
 * reads it on every span; the default model would call __tls_get_addr.
 */
typedef struct cm_rng {
	uint64_t s;
	unsigned generation; /* cm_rng_forks when seeded */
	bool seeded;
} cm_rng;
extern _Thread_local cm_rng cm_rng_tls __attribute__((tls_model("initial-exec")));
extern _Atomic unsigned cm_rng_forks; /* bumped in a forked child: every thread reseeds */

/* Seeds the calling thread's generator from getrandom(). */
void cm_rng_seed(void);

/*
 * Seeds the calling thread's generator (again, after a fork) if needed.
 * Callers then use cm_rng_tls.s by name: gcc's -fsanitize=null reports a
 * load through a pointer to it as a load of NULL.
 */
static inline void
cm_rng_ready(void)
{
	if (__builtin_expect(!cm_rng_tls.seeded ||
	            cm_rng_tls.generation != atomic_load_explicit(&cm_rng_forks, memory_order_relaxed), 0))
		cm_rng_seed();
}

/*
 * One wyrand step: a Weyl sequence (period 2^64) mixed by one 64x64->128
 * multiply; it passes BigCrush and PractRand. Four instructions a number,
 * against xoshiro256**'s dozen and four words of state. Callers that draw
 * several numbers step a local copy of the state.
 */
static inline uint64_t
cm_rng_next(uint64_t *s)
{
	unsigned __int128 m;
	*s += 0xa0761d6478bd642fu;
	m = (unsigned __int128)*s * (*s ^ 0xe7037ed1a0b428dbu);
	return (uint64_t)(m >> 64) ^ (uint64_t)m;
}

static inline uint64_t
cm_rand64(void)
{
	uint64_t g, r;
	cm_rng_ready();
	g = cm_rng_tls.s;
	r = cm_rng_next(&g);
	cm_rng_tls.s = g;
	return r;
}

/*
 * New random ids; either may be NULL. Never all zero. One look at the
 * generator for both: a sampled root span takes both at once.
 */
static inline void
cm_ids_random(cm_trace_id *trace, cm_span_id *span)
{
	uint64_t g, a, b;

	cm_rng_ready();
	g = cm_rng_tls.s;

	if (trace != NULL) {
		do {
			a = cm_rng_next(&g);
			b = cm_rng_next(&g);
		} while ((a | b) == 0);
		__builtin_memcpy(trace->b, &a, 8);
		__builtin_memcpy(trace->b + 8, &b, 8);
	}
	if (span != NULL) {
		do
			a = cm_rng_next(&g);
		while (a == 0);
		__builtin_memcpy(span->b, &a, 8);
	}
	cm_rng_tls.s = g;
}

static inline void
cm_trace_id_random(cm_trace_id *out)
{
	cm_ids_random(out, NULL);
}

static inline void
cm_span_id_random(cm_span_id *out)
{
	cm_ids_random(NULL, out);
}

#endif
