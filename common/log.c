/*
 * log.c - stderr logger: "2026-11-28T13:04:05.123Z INFO COL-LISTEN message".
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int cm_log_threshold = CM_LOG_INFO;

static const char *const level_names[] = { "DEBUG", "INFO", "WARN", "ERROR" };

int
cm_log_parse_level(const char *s)
{
	static const char *const names[] = { "debug", "info", "warn", "error", "off" };
	for (int i = 0; i < 5; i++)
		if (strcasecmp(s, names[i]) == 0)
			return i;
	return -1;
}

void
cm_log_write(int level, const char *id, const char *fmt, ...)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, ts.tv_nsec / 1000000, level_names[level & 3], id);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	/* One fputs per line keeps concurrent messages from interleaving. */
	strncat(line, "\n", sizeof line - strlen(line) - 1);
	fputs(line, stderr);
}
