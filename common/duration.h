/*
 * duration.h - Go duration strings, as Jaeger's API and weft's flags use
 * them: "300ms", "1.5s", "2h45m", "500us" / "500µs", "0"; also days, "7d".
 */
#ifndef WEFT_COMMON_DURATION_H
#define WEFT_COMMON_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* Parses s into nanoseconds (non-negative). Returns CM_OK or CM_EINVAL. */
int cm_duration_parse(const char *s, uint64_t *ns);

/* Formats ns (may be negative) the way Go prints durations, e.g. "1.5ms". */
void cm_duration_format(int64_t ns, char *dst, size_t cap);

#endif
