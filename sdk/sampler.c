/*
 * sampler.c - head sampling decisions.
 *
 * traceidratio decides from the trace id's last 7 bytes (the random part
 * W3C Trace Context level 2 guarantees), so every service that sees the same
 * trace with the same ratio makes the same decision.
 *
 * ratelimiting (Jaeger's name) samples at most N new traces per second with
 * a burst of one second's worth, as a generic cell rate algorithm: one
 * atomic "theoretical arrival time" moved forward by 1/N s per sampled
 * trace with a compare-and-swap, so threads never take a lock for it.
 */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "sdk_int.h"

static int
parse_rate(const char *arg, sdk_sampler *s)
{
	char *end;
	double r = arg && *arg ? strtod(arg, &end) : 100.0;

	if (arg && *arg && *end != '\0')
		return CM_EINVAL;
	if (!(r > 0.0 && r <= 1e9))
		return CM_EINVAL;
	s->interval_ns = (uint64_t)(1e9 / r);
	if (s->interval_ns == 0)
		s->interval_ns = 1;
	s->burst_ns = 1000000000u;
	atomic_init(&s->tat, 0);
	return CM_OK;
}

bool
sdk_sampler_rate_allows(sdk_sampler *s)
{
	uint64_t now = cm_mono_ns();
	uint64_t tat = atomic_load_explicit(&s->tat, memory_order_relaxed);

	for (;;) {
		uint64_t start = tat > now ? tat : now;
		if (start - now >= s->burst_ns)
			return false;
		if (atomic_compare_exchange_weak_explicit(&s->tat, &tat, start + s->interval_ns,
		        memory_order_relaxed, memory_order_relaxed))
			return true;
	}
}

static int
parse_ratio(const char *arg, uint64_t *bound)
{
	char *end;
	double r = arg && *arg ? strtod(arg, &end) : 1.0;

	if (arg && *arg && *end != '\0')
		return CM_EINVAL;
	if (!(r >= 0.0 && r <= 1.0))
		return CM_EINVAL;
	*bound = r >= 1.0 ? (UINT64_C(1) << 56) : (uint64_t)(r * (double)(UINT64_C(1) << 56));
	return CM_OK;
}

int
sdk_sampler_init(sdk_sampler *s, const char *name, const char *arg)
{
	static const struct {
		const char *name;
		sdk_sampler_kind root;
		bool parent_based;
	} table[] = {
		{ "always_on", SAMPLER_ALWAYS_ON, false },
		{ "always_off", SAMPLER_ALWAYS_OFF, false },
		{ "traceidratio", SAMPLER_RATIO, false },
		{ "parentbased_always_on", SAMPLER_ALWAYS_ON, true },
		{ "parentbased_always_off", SAMPLER_ALWAYS_OFF, true },
		{ "parentbased_traceidratio", SAMPLER_RATIO, true },
		{ "ratelimiting", SAMPLER_RATE_LIMIT, false },
		{ "parentbased_ratelimiting", SAMPLER_RATE_LIMIT, true },
	};

	if (name == NULL || *name == '\0')
		name = "parentbased_always_on";
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		if (strcmp(name, table[i].name) != 0)
			continue;
		s->root = table[i].root;
		s->parent_based = table[i].parent_based;
		s->ratio_bound = 0;
		if (s->root == SAMPLER_RATE_LIMIT)
			return parse_rate(arg, s);
		return s->root == SAMPLER_RATIO ? parse_ratio(arg, &s->ratio_bound) : CM_OK;
	}
	return CM_EINVAL;
}
