/*
 * bench_probe.c - weft-bench-probe: how fast this machine runs right now.
 *
 *   weft-bench-probe
 *
 * Times a chain of dependent register operations (no memory, no calls)
 * for about 0.3 s and prints "bench: machine_loop_ns N", nanoseconds an
 * iteration. The development machine is a shared virtual machine: the
 * same loop takes 1.0 ns while its host is quiet and up to 2.0 ns when
 * other tenants are busy, and every benchmark moves with it. The bench
 * scripts print it before and after their runs, so that each recorded
 * figure carries the speed it was measured at.
 */
#include <stdint.h>
#include <stdio.h>
#include <time.h>

enum { ITERATIONS = 300000000 };

static volatile uint64_t sink;

static uint64_t
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int
main(void)
{
	uint64_t a = 1, b = 2, c = 3, d = 4, t0 = now(), t1;

	for (uint64_t i = 0; i < ITERATIONS; i++) { /* each step needs the one before: latency, not throughput */
		a += b ^ i;
		b += c >> 1;
		c ^= d + i;
		d += a;
	}
	t1 = now();
	sink = a ^ b ^ c ^ d; /* so that the compiler keeps the loop */
	printf("bench: machine_loop_ns %.2f\n", (double)(t1 - t0) / ITERATIONS);
	return 0;
}
