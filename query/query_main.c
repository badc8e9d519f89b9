/*
 * query_main.c - weft-query: flags, wiring, signals.
 */
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "auth.h"
#include "buf.h"
#include "duration.h"
#include "env.h"
#include "err.h"
#include "log.h"
#include "server.h"

static const char usage[] =
    "usage: weft-query --data-dir DIR [options]\n"
    "\n"
    "Serves the traces in DIR (written by weft-collector) over Jaeger's HTTP\n"
    "query API, following the collector's writes as they happen.\n"
    "\n"
    "  --data-dir DIR        the collector's data directory        [WEFT_DATA_DIR]\n"
    "  --http ADDR           HTTP listener (127.0.0.1:16686)        [WEFT_QUERY_HTTP]\n"
    "  --max-clock-skew D    largest clock-skew correction, a Go duration\n"
    "                        such as 500ms; 0 disables (1s)  [WEFT_MAX_CLOCK_SKEW]\n"
    "  --block-cache-mib N   RocksDB block cache (64)           [WEFT_BLOCK_CACHE_MIB]\n"
    "  --tls-cert F, --tls-key F  serve HTTPS with this PEM certificate chain and key\n"
    "                                              [WEFT_TLS_CERT, WEFT_TLS_KEY]\n"
    "  --auth-token-file F   require Authorization: Bearer <a token in F>, one\n"
    "                        token per line (none)        [WEFT_AUTH_TOKEN_FILE]\n"
    "  --log-level LEVEL     debug|info|warn|error|off (info)      [WEFT_LOG_LEVEL]\n"
    "  --help                this text\n";

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints a one-line reason; returns the exit code for bad usage. */
static int
fail(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "weft-query: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 2;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data-dir", required_argument, NULL, 'd' },
		{ "http", required_argument, NULL, 'H' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "max-clock-skew", required_argument, NULL, 's' },
		{ "auth-token-file", required_argument, NULL, 'A' },
		{ "block-cache-mib", required_argument, NULL, 'c' },
		{ "tls-cert", required_argument, NULL, 'T' },
		{ "tls-key", required_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	qry_server_config cfg = {
		.data_dir = cm_env_or("WEFT_DATA_DIR", NULL),
		.http_addr = cm_env_or("WEFT_QUERY_HTTP", "127.0.0.1:16686"),
		.threads = 4,
	};
	const char *level = cm_env_or("WEFT_LOG_LEVEL", "info");
	const char *skew = cm_env_or("WEFT_MAX_CLOCK_SKEW", "1s");
	const char *token_file = cm_env_or("WEFT_AUTH_TOKEN_FILE", NULL);
	const char *cache = cm_env_or("WEFT_BLOCK_CACHE_MIB", "64");
	const char *cert_file = cm_env_or("WEFT_TLS_CERT", NULL), *key_file = cm_env_or("WEFT_TLS_KEY", NULL);
	static cm_buf cert, key;
	char *end;
	long cache_mib;

	/*
	 * The store is a RocksDB secondary: it replays the collector's WAL
	 * into memtables of its own, built of 1 MiB arena blocks, and frees
	 * them when the collector flushes, every half minute or so under
	 * load. glibc raises its mmap threshold to the size of each mmapped
	 * block freed, so after the first flush those blocks came from the
	 * heap and their memory stayed resident. Fixed at 1 MiB (which also
	 * stops the raising), they are mapped and unmapped: after make
	 * soak's warm-up the query daemon's RSS moved between 146 and 192
	 * MiB before, and between 55 and 158 MiB after, falling with every
	 * flush (docs/benchmarks.md). Not in the collector: the same setting
	 * cost its ingest 7-18%.
	 */
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
	static cm_auth auth;
	struct sockaddr_storage sa;
	socklen_t salen;
	qry_server *server = NULL;
	char err[512];
	sigset_t sigs;
	int ch, sig;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': cfg.data_dir = optarg; break;
		case 'H': cfg.http_addr = optarg; break;
		case 'l': level = optarg; break;
		case 's': skew = optarg; break;
		case 'A': token_file = optarg; break;
		case 'c': cache = optarg; break;
		case 'T': cert_file = optarg; break;
		case 'K': key_file = optarg; break;
		case 'h': fputs(usage, stdout); return 0;
		default: return fail("unknown or incomplete option %s (see --help)", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return fail("unexpected argument %s (see --help)", argv[optind]);
	if (cfg.data_dir == NULL)
		return fail("--data-dir is required (see --help)");
	if ((cm_log_threshold = cm_log_parse_level(level)) < 0)
		return fail("bad --log-level %s (debug|info|warn|error|off)", level);
	if (cm_duration_parse(skew, &cfg.max_clock_skew_ns) != CM_OK)
		return fail("bad --max-clock-skew %s (a duration such as 1s or 250ms; 0 disables)", skew);
	cache_mib = strtol(cache, &end, 10);
	if (*cache == '\0' || *end != '\0' || cache_mib < 1 || cache_mib > (1 << 20))
		return fail("bad --block-cache-mib %s (MiB, at least 1)", cache);
	cfg.block_cache_bytes = (size_t)cache_mib << 20;
	if ((cert_file == NULL) != (key_file == NULL))
		return fail("--tls-cert and --tls-key go together");
	cm_buf_init(&cert);
	cm_buf_init(&key);
	if (cert_file != NULL) {
		if (cm_buf_read_file(&cert, cert_file) != CM_OK || cm_buf_read_file(&key, key_file) != CM_OK)
			return fail("cannot read %s or %s", cert_file, key_file);
		cfg.tls_cert_pem = cert.data;
		cfg.tls_key_pem = key.data;
	}
	if (token_file != NULL) {
		if (cm_auth_load(token_file, &auth, err, sizeof err) != CM_OK)
			return fail("%s", err);
		cfg.auth = &auth;
	}
	if ((cfg.auth == NULL || cfg.tls_cert_pem == NULL) && cm_addr_parse(cfg.http_addr, &sa, &salen) == CM_OK &&
	    !cm_addr_is_loopback(&sa))
		cm_log(CM_LOG_WARN, "QRY-EXPOSED", "listening on %s, beyond loopback, without %s", cfg.http_addr,
		    cfg.auth == NULL ? "auth (--auth-token-file)" : "TLS (--tls-cert, --tls-key)");

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (qry_server_start(&cfg, &server, err, sizeof err) != CM_OK) {
		fprintf(stderr, "weft-query: %s\n", err);
		return 1;
	}
	cm_log(CM_LOG_INFO, "QRY-READY", "serving %s on http://%s", cfg.data_dir, cfg.http_addr);
	sigwait(&sigs, &sig);
	cm_log(CM_LOG_INFO, "QRY-STOP", "%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	qry_server_stop(server);
	return 0;
}
