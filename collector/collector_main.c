/*
 * collector_main.c - weft-collector: flags, wiring, signals.
 *
 * Every flag has an environment override (named in --help); flags win.
 * SIGTERM and SIGINT drain the receivers, close the store and exit 0.
 */
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "err.h"
#include "log.h"
#include "native.h"
#include "pipeline.h"
#include "store.h"

static const char usage[] =
    "usage: weft-collector --data-dir DIR [options]\n"
    "\n"
    "Receives spans, writes them durably to the store in DIR, and acknowledges\n"
    "each batch only once it is in the write-ahead log.\n"
    "\n"
    "  --data-dir DIR        store directory, created if missing   [WEFT_DATA_DIR]\n"
    "  --native URL|off      libweft NNG listener (tcp://127.0.0.1:4319)  [WEFT_NATIVE]\n"
    "  --admin ADDR|off      /metrics /healthz /readyz (127.0.0.1:14269)  [WEFT_ADMIN]\n"
    "  --native-workers N    requests handled at once (4)       [WEFT_NATIVE_WORKERS]\n"
    "  --sync                fsync the WAL on every batch          [WEFT_SYNC=1]\n"
    "  --log-level LEVEL     debug|info|warn|error|off (info)      [WEFT_LOG_LEVEL]\n"
    "  --help                this text\n";

typedef struct config {
	const char *data_dir;
	const char *native;
	const char *admin;
	int workers;
	bool sync;
} config;

static const char *
env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);
	return v && *v ? v : dflt;
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints a one-line reason; returns the exit code for bad usage. */
static int
fail(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "weft-collector: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 2;
}

static int
parse_args(int argc, char **argv, config *c)
{
	static const struct option opts[] = {
		{ "data-dir", required_argument, NULL, 'd' },
		{ "native", required_argument, NULL, 'n' },
		{ "admin", required_argument, NULL, 'a' },
		{ "native-workers", required_argument, NULL, 'w' },
		{ "sync", no_argument, NULL, 's' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *level = env_or("WEFT_LOG_LEVEL", "info");
	const char *workers = env_or("WEFT_NATIVE_WORKERS", "4");
	int ch;

	c->data_dir = env_or("WEFT_DATA_DIR", NULL);
	c->native = env_or("WEFT_NATIVE", "tcp://127.0.0.1:4319");
	c->admin = env_or("WEFT_ADMIN", "127.0.0.1:14269");
	c->sync = strcmp(env_or("WEFT_SYNC", "0"), "1") == 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': c->data_dir = optarg; break;
		case 'n': c->native = optarg; break;
		case 'a': c->admin = optarg; break;
		case 'w': workers = optarg; break;
		case 's': c->sync = true; break;
		case 'l': level = optarg; break;
		case 'h': fputs(usage, stdout); exit(0);
		default:
			return fail("unknown or incomplete option %s (see --help)", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return fail("unexpected argument %s (see --help)", argv[optind]);
	if (c->data_dir == NULL)
		return fail("%s", "--data-dir is required (see --help)");
	if ((cm_log_threshold = cm_log_parse_level(level)) < 0)
		return fail("bad --log-level %s (debug|info|warn|error|off)", level);
	c->workers = atoi(workers);
	if (c->workers < 1 || c->workers > 256)
		return fail("bad --native-workers %s (1..256)", workers);
	return 0;
}

int
main(int argc, char **argv)
{
	config c = { 0 };
	st_options so = { 0 };
	st_store *store = NULL;
	col_metrics metrics;
	col_pipeline pipeline;
	col_native *native = NULL;
	col_admin *admin = NULL;
	atomic_bool ready = false;
	sigset_t sigs;
	char err[512] = "";
	int rv, sig;

	if ((rv = parse_args(argc, argv, &c)) != 0)
		return rv;
	/* Signals are taken by sigwait() below; every thread inherits the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	memset(&metrics, 0, sizeof metrics);
	so.data_dir = c.data_dir;
	so.sync = c.sync;
	if (st_store_open(&so, &store, err, sizeof err) != CM_OK) {
		fprintf(stderr, "weft-collector: %s\n", err);
		return 1;
	}
	pipeline.store = store;
	pipeline.metrics = &metrics;

	if (strcmp(c.admin, "off") != 0 &&
	    col_admin_start(c.admin, &metrics, &ready, &admin, err, sizeof err) != CM_OK) {
		fprintf(stderr, "weft-collector: %s\n", err);
		st_store_close(store);
		return 1;
	}
	if (strcmp(c.native, "off") != 0) {
		col_native_config nc = {
			.url = c.native,
			.workers = c.workers,
			.limits = cm_wire_default_limits,
			.retry_ms = 500,
		};
		if (col_native_start(&nc, &pipeline, &native, err, sizeof err) != CM_OK) {
			fprintf(stderr, "weft-collector: %s\n", err);
			col_admin_stop(admin);
			st_store_close(store);
			return 1;
		}
	}
	atomic_store(&ready, true);
	cm_log(CM_LOG_INFO, "COL-READY", "data dir %s; native %s; admin %s%s", c.data_dir,
	    c.native, c.admin, c.sync ? "; fsync per batch" : "");

	sigwait(&sigs, &sig);
	cm_log(CM_LOG_INFO, "COL-STOP", "%s: draining", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	atomic_store(&ready, false);
	col_native_stop(native, 2000);
	col_admin_stop(admin);
	st_store_close(store);
	cm_log(CM_LOG_INFO, "COL-STOPPED", "store closed cleanly");
	return 0;
}
