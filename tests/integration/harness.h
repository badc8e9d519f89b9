/*
 * harness.h - helpers for integration tests that run the real daemons.
 *
 * Daemons are started from $WEFT_BIN (set by `make test`) on 127.0.0.1 with
 * free ports, in a fresh temporary directory that hx_cleanup() removes.
 * Their output goes to log files in that directory, printed on failure.
 */
#ifndef WEFT_TESTS_HARNESS_H
#define WEFT_TESTS_HARNESS_H

#include <stdbool.h>
#include <sys/types.h>

#include "buf.h"

typedef struct hx_daemon {
	pid_t pid;
	char log[512];
} hx_daemon;

/* A fresh directory under $TMPDIR; the path is static storage. */
const char *hx_tmpdir(void);
/* Removes the directory and everything below it. */
void hx_rmrf(const char *path);
/* A currently free TCP port on 127.0.0.1, never the same twice in a process. */
int hx_free_port(void);
/* $WEFT_BIN/name, in static storage that the 33rd next call reuses. */
const char *hx_bin(const char *name);

/* Starts argv[0] (a path) with stdout/stderr to log; NULL-terminated argv. */
bool hx_start(hx_daemon *d, const char *log, const char *const argv[]);
/* SIGTERM, wait up to 10 s (then SIGKILL). Returns the exit status, or -1 if killed. */
int hx_stop(hx_daemon *d);
/*
 * A teardown: hx_stop() on each daemon still running (pid > 0), their logs
 * printed if any did not exit 0, then dir removed (unless NULL). Returns 0 or -1.
 */
int hx_stop_all(hx_daemon *const *ds, size_t n, const char *dir);
/* SIGKILL and reap. */
void hx_kill(hx_daemon *d);
/* Polls base_url+path until HTTP 200 or timeout. */
bool hx_wait_http(const char *base_url, const char *path, int timeout_ms);
/*
 * Polls the collector's admin_url/metrics until it has written every span
 * it acknowledged (weft_staged_batches 0): a collector writes what it
 * staged after its --write-window.
 */
bool hx_wait_written(const char *admin_url, int timeout_ms);
/*
 * Starts weft-query on data_dir, serving HTTP on http (HOST:PORT), its log
 * in dir/query.log, and waits until it answers (10 s).
 */
bool hx_start_query(hx_daemon *d, const char *dir, const char *data_dir, const char *http);
/* Prints a daemon's log to stderr (for failed tests). */
void hx_dump_log(const hx_daemon *d);

/*
 * Sends `request` (a complete HTTP/1.1 request, as bytes) to 127.0.0.1:port
 * and reads the response until the server closes. Returns the status code
 * (0 on failure); the body goes into body and the Retry-After value, if any,
 * into *retry_after (may be NULL).
 */
int hx_http_raw(int port, const void *request, size_t len, cm_buf *body, int *retry_after);

/*
 * Runs argv with extra environment entries ("K=V", NULL-terminated, may be
 * NULL), capturing stdout into out (initialised by the caller). Returns the
 * exit code, or -1 if it did not exit normally.
 */
int hx_run(const char *const argv[], const char *const env[], cm_buf *out);

#endif
