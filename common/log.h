/*
 * log.h - leveled logging for the daemons.
 *
 * Each message carries a short stable id (e.g. "COL-LISTEN") so that
 * operators can grep and alert on it. The level is checked before the
 * message is formatted. Output goes to stderr, one line per message.
 * The SDK does not use this module: a library must not write to its host's
 * stderr (see weft_tracer_config.log_fn).
 */
#ifndef WEFT_COMMON_LOG_H
#define WEFT_COMMON_LOG_H

typedef enum cm_log_level {
	CM_LOG_DEBUG = 0,
	CM_LOG_INFO = 1,
	CM_LOG_WARN = 2,
	CM_LOG_ERROR = 3,
	CM_LOG_OFF = 4,
} cm_log_level;

extern int cm_log_threshold;

/* Parses "debug", "info", "warn", "error" or "off"; returns -1 otherwise. */
int cm_log_parse_level(const char *s);

void cm_log_write(int level, const char *id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define cm_log(level, id, ...)                                   \
	do {                                                     \
		if ((level) >= cm_log_threshold)                 \
			cm_log_write((level), (id), __VA_ARGS__); \
	} while (0)

#endif
