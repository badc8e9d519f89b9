/*
 * ids.c - id helpers and the per-thread wyrand generator.
 */
#include "ids.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "err.h"

bool
cm_trace_id_is_zero(const cm_trace_id *id)
{
	static const cm_trace_id zero;
	return memcmp(id, &zero, sizeof zero) == 0;
}

bool
cm_span_id_is_zero(const cm_span_id *id)
{
	static const cm_span_id zero;
	return memcmp(id, &zero, sizeof zero) == 0;
}

void
cm_hex_encode(const uint8_t *src, size_t n, char *dst)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		dst[2 * i] = digits[src[i] >> 4];
		dst[2 * i + 1] = digits[src[i] & 15];
	}
	dst[2 * n] = '\0';
}

static int
hex_value(char c, bool lower_only)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (!lower_only && c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
cm_hex_decode(const char *src, size_t len, uint8_t *dst, size_t n, bool lower_only)
{
	uint8_t tmp[64];

	if (len != 2 * n || n > sizeof tmp)
		return CM_EINVAL;
	for (size_t i = 0; i < n; i++) {
		int hi = hex_value(src[2 * i], lower_only);
		int lo = hex_value(src[2 * i + 1], lower_only);
		if (hi < 0 || lo < 0)
			return CM_EINVAL;
		tmp[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(dst, tmp, n);
	return CM_OK;
}

int
cm_trace_id_parse(const char *s, size_t len, cm_trace_id *out)
{
	char padded[CM_TRACE_ID_HEX];

	if (len == 0 || len > CM_TRACE_ID_HEX)
		return CM_EINVAL;
	memset(padded, '0', sizeof padded);
	memcpy(padded + CM_TRACE_ID_HEX - len, s, len);
	return cm_hex_decode(padded, CM_TRACE_ID_HEX, out->b, 16, false);
}

/* ---- random ---- */

_Atomic unsigned cm_rng_forks;
_Thread_local cm_rng cm_rng_tls __attribute__((tls_model("initial-exec")));
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void
on_fork_child(void)
{
	atomic_fetch_add(&cm_rng_forks, 1);
}

static void
register_atfork(void)
{
	pthread_atfork(NULL, NULL, on_fork_child);
}

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

void
cm_rng_seed(void)
{
	cm_rng *r = &cm_rng_tls;
	uint64_t x = 0;
	struct timespec ts;

	pthread_once(&atfork_once, register_atfork);
	if (getrandom(&r->s, sizeof r->s, GRND_NONBLOCK) != (ssize_t)sizeof r->s) {
		/* No entropy yet (early boot): mix time, pid and the stack address. */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^
		    ((uint64_t)getpid() << 16) ^ (uint64_t)(uintptr_t)&x;
		r->s = splitmix64(&x);
	}
	r->generation = atomic_load(&cm_rng_forks);
	r->seeded = true;
}
