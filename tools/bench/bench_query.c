/*
 * bench_query.c - weft-bench-query: weft-query's answer times over HTTP.
 *
 *   weft-bench-query --port P --ids FILE --big ID [--requests N]
 *
 * FILE holds "trace <id>" lines of 200-span traces; ID is a 1000-span trace.
 * Each request is timed from sending it to having read the whole body, on
 * one keep-alive connection (as a UI's browser would). Prints p50/p99 and
 * "bench: NAME VALUE" lines: http_trace_by_id_p99_ms (200-span traces),
 * critical_path_1000_spans_ms and breakdown_1000_spans_ms (medians).
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int port = 16686, fd = -1;

static double
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void
reconnect(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1;
	if (fd >= 0)
		close(fd);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		perror("weft-bench-query: connect");
		exit(1);
	}
}

/* GETs path on the keep-alive connection; returns the milliseconds it took, exits on errors. */
static double
get(const char *path)
{
	static char *buf;
	static size_t cap = 1 << 20;
	char req[512];
	size_t got = 0, want = 0;
	double t0;
	int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);

	if (buf == NULL)
		buf = malloc(cap);
	t0 = now_ms();
	if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
		reconnect();
		return get(path);
	}
	for (;;) {
		ssize_t r;
		char *end, *cl;
		if (got + 65536 > cap)
			buf = realloc(buf, cap *= 2);
		r = recv(fd, buf + got, cap - got - 1, 0);
		if (r <= 0) {
			reconnect();
			return get(path);
		}
		got += (size_t)r;
		buf[got] = '\0';
		if (want == 0 && (end = strstr(buf, "\r\n\r\n")) != NULL) {
			if (strncmp(buf + 9, "200", 3) != 0) {
				fprintf(stderr, "weft-bench-query: %s answered %.12s\n", path, buf);
				exit(1);
			}
			cl = strcasestr(buf, "Content-Length:");
			want = (size_t)(end + 4 - buf) + (cl ? (size_t)atol(cl + 15) : 0);
		}
		if (want && got >= want)
			return now_ms() - t0;
	}
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "ids", required_argument, NULL, 'i' },
		{ "big", required_argument, NULL, 'b' },
		{ "requests", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ids_file = NULL, *big = NULL;
	char (*ids)[33] = NULL, line[128], path[160];
	int nids = 0, requests = 1000, ch;
	double *t;
	FILE *f;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'p': port = atoi(optarg); break;
		case 'i': ids_file = optarg; break;
		case 'b': big = optarg; break;
		case 'n': requests = atoi(optarg); break;
		default: return 2;
		}
	}
	if (ids_file == NULL || big == NULL || (f = fopen(ids_file, "r")) == NULL || requests < 20) {
		fprintf(stderr, "usage: weft-bench-query --port P --ids FILE --big ID [--requests N>=20]\n");
		return 2;
	}
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, "trace ", 6) == 0) {
			ids = realloc(ids, (size_t)(nids + 1) * sizeof *ids);
			snprintf(ids[nids++], 33, "%.32s", line + 6);
		}
	fclose(f);
	if (nids == 0) {
		fprintf(stderr, "weft-bench-query: no trace ids in %s\n", ids_file);
		return 1;
	}
	t = malloc(sizeof *t * (size_t)requests);
	reconnect();
	for (int i = 0; i < 20; i++) { /* warm the block cache and the connection */
		snprintf(path, sizeof path, "/api/traces/%s", ids[i % nids]);
		get(path);
	}
	for (int i = 0; i < requests; i++) {
		snprintf(path, sizeof path, "/api/traces/%s", ids[i % nids]);
		t[i] = get(path);
	}
	qsort(t, (size_t)requests, sizeof *t, cmp);
	printf("trace by id (200 spans, %d requests over %d traces): p50 %.3f ms  p99 %.3f ms\n", requests, nids,
	    t[requests / 2], t[requests * 99 / 100]);
	double byid = t[requests * 99 / 100];

	const char *what[2] = { "critical-path", "breakdown" };
	double med[2];
	for (int k = 0; k < 2; k++) {
		int n = requests / 10;
		for (int i = 0; i < n; i++) {
			snprintf(path, sizeof path, "/api/traces/%s/%s", big, what[k]);
			t[i] = get(path);
		}
		qsort(t, (size_t)n, sizeof *t, cmp);
		med[k] = t[n / 2];
		printf("%s of a 1000-span trace (%d requests): p50 %.3f ms  p99 %.3f ms\n", what[k], n, t[n / 2], t[n * 99 / 100]);
	}
	printf("\nbench: http_trace_by_id_p99_ms %.3f\nbench: critical_path_1000_spans_ms %.3f\nbench: breakdown_1000_spans_ms %.3f\n",
	    byid, med[0], med[1]);
	free(t);
	free(ids);
	close(fd);
	return 0;
}
