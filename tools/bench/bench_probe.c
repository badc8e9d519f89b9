/*
 * bench_probe.c - weft-bench-probe: how fast this machine runs right now.
 *
 *   weft-bench-probe [--help]
 *
 * Times a chain of dependent register operations (no memory, no calls)
 * for about 0.3 s and prints "bench: machine_loop_ns N", nanoseconds an
 * iteration. The development machine is a shared virtual machine: the
 * same loop takes 1.0 ns while its host is quiet and up to 2.0 ns when
 * other tenants are busy, and every benchmark moves with it. The bench
 * scripts print it before and after their runs, so that each recorded
 * figure carries the speed it was measured at.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
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
main(int argc, char **argv)
{
	uint64_t a = 1, b = 2, c = 3, d = 4, t0, t1;

	if (argc > 1) {
		bool help = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0;
		fputs("usage: weft-bench-probe\n"
		      "Prints \"bench: machine_loop_ns N\": ns per iteration of a register loop timed for ~0.3 s\n"
		      "(1.0 while this shared machine's host is quiet, up to 2.0 when it is busy). No flags.\n",
		    help ? stdout : stderr);
		return help ? 0 : 2;
	}
	t0 = now();

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
