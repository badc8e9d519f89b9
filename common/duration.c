/*
 * duration.c - Go-style duration parsing and formatting.
 */
#include "duration.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

static const struct {
	const char *name;
	uint64_t ns;
} units[] = {
	{ "ns", 1 }, { "us", 1000 }, { "\xc2\xb5s", 1000 }, { "\xce\xbcs", 1000 }, { "ms", 1000000 },
	{ "s", 1000000000 }, { "m", 60000000000 }, { "h", 3600000000000 },
	{ "d", 86400000000000 }, /* not Go's: for retention flags such as "7d" */
};

int
cm_duration_parse(const char *s, uint64_t *ns)
{
	double total = 0;

	if (s == NULL || *s == '\0')
		return CM_EINVAL;
	if (strcmp(s, "0") == 0) {
		*ns = 0;
		return CM_OK;
	}
	if (*s == '+')
		s++;
	while (*s != '\0') {
		double whole = 0, frac = 0, scale = 1;
		bool digits = false;
		size_t best = 0, ulen = 0;
		while (*s >= '0' && *s <= '9') {
			whole = whole * 10 + (*s++ - '0');
			digits = true;
		}
		if (*s == '.') {
			s++;
			while (*s >= '0' && *s <= '9') {
				frac = frac * 10 + (*s++ - '0');
				scale *= 10;
				digits = true;
			}
		}
		if (!digits)
			return CM_EINVAL;
		for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
			size_t n = strlen(units[i].name);
			/* longest match: "ms" before "m" */
			if (strncmp(s, units[i].name, n) == 0 && n > ulen) {
				best = i;
				ulen = n;
			}
		}
		if (ulen == 0)
			return CM_EINVAL;
		total += (whole + frac / scale) * (double)units[best].ns;
		s += ulen;
	}
	if (!(total >= 0 && total < 1.8e19))
		return CM_EINVAL;
	*ns = (uint64_t)(total + 0.5);
	return CM_OK;
}

void
cm_duration_format(int64_t ns, char *dst, size_t cap)
{
	double a = ns < 0 ? -(double)ns : (double)ns;
	const char *sign = ns < 0 ? "-" : "";
	if (a < 1e3)
		snprintf(dst, cap, "%s%.0fns", sign, a);
	else if (a < 1e6)
		snprintf(dst, cap, "%s%.9gµs", sign, a / 1e3);
	else if (a < 1e9)
		snprintf(dst, cap, "%s%.9gms", sign, a / 1e6);
	else
		snprintf(dst, cap, "%s%.9gs", sign, a / 1e9);
}
