/*
 * tsc.c - calibration of the TSC clock (tsc.h).
 *
 * The rate is measured between the first calibration (the anchor) and the
 * latest, so it sharpens as the process runs: with readings good to ~1 µs,
 * 200 ms of span give 5 ppm and an hour far less. Each calibration also
 * moves the base to now, so the realtime clock's steps and NTP's slewing
 * reach span timestamps within a second. A new base never lies behind what
 * the old one gives for the same instant (readings jitter by microseconds,
 * and a child span must not end after its parent because of it), unless
 * the realtime clock was stepped back by more than a millisecond.
 */
#include "tsc.h"

#include <pthread.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

sdk_tsc sdk_tsc_state;
_Thread_local uint64_t sdk_tsc_last __attribute__((tls_model("initial-exec")));

enum {
	MIN_SPAN_NS = 200000000,
	MAX_AGE_NS = 2000000000,
	PAIR_TRIES = 5,
	PAIR_SLACK_NS = 2000,
	STEP_BACK_NS = 1000000, /* a realtime step back larger than this is followed */
};

#if defined(__x86_64__)
static pthread_mutex_t writer = PTHREAD_MUTEX_INITIALIZER;
static uint64_t anchor_tsc, anchor_ns;
static int invariant = -1;

static bool
has_invariant_tsc(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid(0x80000000, &a, &b, &c, &d) || a < 0x80000007)
		return false;
	__get_cpuid(0x80000007, &a, &b, &c, &d);
	return (d >> 8) & 1;
}

/* A (tsc, realtime) pair read close together; false if preempted every try. */
static bool
read_pair(uint64_t *tsc, uint64_t *ns)
{
	for (int i = 0; i < PAIR_TRIES; i++) {
		uint64_t a = cm_now_ns(), t = __rdtsc(), b = cm_now_ns();
		if (b >= a && b - a < PAIR_SLACK_NS) {
			*tsc = t;
			*ns = a + (b - a) / 2;
			return true;
		}
	}
	return false;
}
#endif

#if defined(__x86_64__)
/* sdk_tsc_calibrate() with writer held. */
static void
calibrate_locked(void)
{
	sdk_tsc *c = &sdk_tsc_state;
	uint64_t tsc, ns, mult, seq;

	if (invariant < 0)
		invariant = has_invariant_tsc();
	if (!invariant || !read_pair(&tsc, &ns))
		return;
	if (anchor_ns == 0 || ns < anchor_ns || tsc <= anchor_tsc) {
		anchor_tsc = tsc;
		anchor_ns = ns;
		return;
	}
	if (ns - anchor_ns < MIN_SPAN_NS)
		return;
	mult = (uint64_t)(((unsigned __int128)(ns - anchor_ns) << 32) / (tsc - anchor_tsc));
	if (atomic_load_explicit(&c->mult, memory_order_relaxed) != 0) {
		/* What the current base gives for this instant: do not go behind it by a jitter. */
		uint64_t bt = atomic_load_explicit(&c->base_tsc, memory_order_relaxed);
		uint64_t old = atomic_load_explicit(&c->base_ns, memory_order_relaxed) +
		    (uint64_t)(((unsigned __int128)(tsc - bt) * atomic_load_explicit(&c->mult, memory_order_relaxed)) >> 32);
		if (tsc > bt && old > ns && old - ns < STEP_BACK_NS)
			ns = old;
	}
	seq = atomic_load_explicit(&c->seq, memory_order_relaxed);
	/* Release stores: a reader that sees any new field also sees seq odd (or later). */
	atomic_store_explicit(&c->seq, (uint32_t)seq + 1, memory_order_relaxed);
	atomic_store_explicit(&c->base_tsc, tsc, memory_order_release);
	atomic_store_explicit(&c->base_ns, ns, memory_order_release);
	atomic_store_explicit(&c->max_ticks, (uint64_t)(((unsigned __int128)MAX_AGE_NS << 32) / mult), memory_order_release);
	atomic_store_explicit(&c->mult, mult, memory_order_release);
	atomic_store_explicit(&c->seq, (uint32_t)seq + 2, memory_order_release);
}
#endif

void
sdk_tsc_calibrate(void)
{
#if defined(__x86_64__)
	pthread_mutex_lock(&writer);
	calibrate_locked();
	pthread_mutex_unlock(&writer);
#endif
}

__attribute__((cold, noinline)) uint64_t
sdk_tsc_stale(void)
{
#if defined(__x86_64__)
	if (pthread_mutex_trylock(&writer) == 0) {
		calibrate_locked();
		pthread_mutex_unlock(&writer);
	}
#endif
	return cm_now_ns();
}

uint64_t
sdk_tsc_ticks_to_ns(uint64_t ticks)
{
	sdk_tsc *c = &sdk_tsc_state;

	for (;;) {
		uint32_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
		uint64_t mult = atomic_load_explicit(&c->mult, memory_order_acquire);
		uint64_t bt = atomic_load_explicit(&c->base_tsc, memory_order_acquire);
		uint64_t bn = atomic_load_explicit(&c->base_ns, memory_order_acquire);
		if (seq & 1 || atomic_load_explicit(&c->seq, memory_order_relaxed) != seq)
			continue; /* a calibration is being written */
		if (ticks >= bt)
			return bn + (uint64_t)(((unsigned __int128)(ticks - bt) * mult) >> 32);
		uint64_t back = (uint64_t)(((unsigned __int128)(bt - ticks) * mult) >> 32);
		return back < bn ? bn - back : 0;
	}
}

void
sdk_tsc_fork_lock(void)
{
#if defined(__x86_64__)
	pthread_mutex_lock(&writer);
#endif
}

void
sdk_tsc_fork_unlock(void)
{
#if defined(__x86_64__)
	pthread_mutex_unlock(&writer);
#endif
}
