/*
 * clock.h - wall-clock time in unix nanoseconds, as spans record it.
 */
#ifndef WEFT_COMMON_CLOCK_H
#define WEFT_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t
cm_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Monotonic nanoseconds, for deadlines and latency measurement. */
static inline uint64_t
cm_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
