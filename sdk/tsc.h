/*
 * tsc.h - span timestamps from the CPU's time-stamp counter.
 *
 * clock_gettime(CLOCK_REALTIME) costs ~25 ns here and a span reads the
 * clock twice; an invariant TSC read costs a few. sdk_tsc_now() converts
 * the TSC to unix nanoseconds from a base pair (tsc, realtime) and a rate
 * that exporter threads refresh about once a second (sdk_tsc_calibrate),
 * published with a seqlock so readers take no lock. It falls back to
 * clock_gettime when the CPU has no invariant TSC (or is not x86-64) and
 * before the first calibration. A base over two seconds old is never
 * extrapolated from: the reading thread calibrates (sdk_tsc_stale), since
 * an exporter can block for seconds in a request to a hung collector or
 * in a breaker's cooldown, and every span would pay two clock_gettime
 * calls for as long as it does.
 */
#ifndef WEFT_SDK_TSC_H
#define WEFT_SDK_TSC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "clock.h"

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

typedef struct sdk_tsc {
	_Atomic uint32_t seq;       /* odd while being written */
	_Atomic uint64_t base_tsc;
	_Atomic uint64_t base_ns;
	_Atomic uint64_t mult;      /* ns per tick, 32.32 fixed point; 0: not usable */
	_Atomic uint64_t max_ticks; /* how far past the base a reading may be */
} sdk_tsc;

extern sdk_tsc sdk_tsc_state;

/* The last timestamp this thread took: readings never go backwards on one thread. */
extern _Thread_local uint64_t sdk_tsc_last __attribute__((tls_model("initial-exec")));

/* Refreshes the base and the rate; cheap, safe from any thread. */
void sdk_tsc_calibrate(void);
/*
 * The base is too old: calibrates unless another thread is at it (never
 * waits), and returns the realtime clock. Cold: about once per two
 * seconds per process, and only while no exporter calibrates.
 */
uint64_t sdk_tsc_stale(void);
/* fork(): the calibration lock is taken before and released after in both processes. */
void sdk_tsc_fork_lock(void);
void sdk_tsc_fork_unlock(void);

static inline uint64_t
sdk_tsc_read(void)
{
#if defined(__x86_64__)
	sdk_tsc *c = &sdk_tsc_state;
	/*
	 * Seqlock read without fences (ThreadSanitizer does not model them):
	 * acquire loads keep the second read of seq after the fields' loads;
	 * on x86-64 they are plain loads.
	 */
	uint32_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
	uint64_t mult = atomic_load_explicit(&c->mult, memory_order_acquire);

	if (mult != 0 && !(seq & 1)) {
		uint64_t bt = atomic_load_explicit(&c->base_tsc, memory_order_acquire);
		uint64_t bn = atomic_load_explicit(&c->base_ns, memory_order_acquire);
		uint64_t mx = atomic_load_explicit(&c->max_ticks, memory_order_acquire);
		uint64_t d = __rdtsc() - bt;
		if (atomic_load_explicit(&c->seq, memory_order_relaxed) == seq) {
			if (d < mx)
				return bn + (uint64_t)(((unsigned __int128)d * mult) >> 32);
			return sdk_tsc_stale();
		}
	}
#endif
	return cm_now_ns();
}

/*
 * Spans record their start and end as raw TSC ticks when the clock is
 * calibrated, and the exporter converts them (sdk_tsc_ticks_to_ns): the
 * conversion's loads and multiply leave the application's thread, and a
 * span's two ends are converted with the same base. False (and nothing
 * read) when there is no usable TSC yet: the caller takes sdk_tsc_now().
 */
static inline bool
sdk_tsc_ticks(uint64_t *ticks)
{
#if defined(__x86_64__)
	if (atomic_load_explicit(&sdk_tsc_state.mult, memory_order_relaxed) != 0) {
		*ticks = __rdtsc();
		return true;
	}
#endif
	(void)ticks;
	return false;
}

/* Unix nanoseconds of a reading sdk_tsc_ticks() gave, from the current base (before or after it). */
uint64_t sdk_tsc_ticks_to_ns(uint64_t ticks);

static inline uint64_t
sdk_tsc_now(void)
{
	uint64_t t = sdk_tsc_read();
	if (t < sdk_tsc_last && sdk_tsc_last - t < 1000000)
		t = sdk_tsc_last; /* a rebase or the fallback clock stepped back a little; a real step is followed */
	sdk_tsc_last = t;
	return t;
}

#endif
