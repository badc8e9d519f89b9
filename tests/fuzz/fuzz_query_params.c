/*
 * fuzz_query_params.c - weft-query's HTTP API as a client can reach it: the
 * input becomes a request target ("GET <input> HTTP/1.1") sent to a real
 * qry_server over loopback, in front of a store holding one small trace.
 * Covers routing, trace ids, search parameters (durations, tags, JSON tags,
 * limits, times), dependencies' parameters and raw/adjusted views.
 */
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "server.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int port;

/* A store with one three-span trace, written by a primary that is then closed. */
static void
fill_store(const char *dir)
{
	cm_resource res = { CM_STR("svc"), { 0 } };
	cm_scope scope = { CM_STR(""), CM_STR(""), { 0 } };
	cm_attr attr = { CM_STR("http.status_code"), { .type = CM_VAL_INT, .u.i = 500 } };
	cm_span spans[3];
	cm_batch b;
	st_options o = { .data_dir = dir };
	st_store *st;
	char err[256];

	memset(spans, 0, sizeof spans);
	for (int i = 0; i < 3; i++) {
		spans[i].trace_id.b[15] = 0x42;
		spans[i].span_id.b[7] = (uint8_t)(i + 1);
		if (i > 0)
			spans[i].parent_span_id.b[7] = 1;
		spans[i].name = i ? CM_STR("child") : CM_STR("root");
		spans[i].start_ns = 1700000000000000000ull + (uint64_t)i * 1000;
		spans[i].end_ns = spans[i].start_ns + 5000000;
		spans[i].attrs = (cm_attrs){ &attr, 1, 0 };
	}
	memset(&b, 0, sizeof b);
	b.resources = &res, b.nresources = 1, b.scopes = &scope, b.nscopes = 1, b.spans = spans, b.nspans = 3;
	if (st_store_open(&o, &st, err, sizeof err) != CM_OK || st_store_write(st, &b) != CM_OK)
		abort();
	st_store_close(st);
}

static void
start_server(void)
{
	static char dir[] = "/tmp/weft-fuzz-query-XXXXXX", addr[32];
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof a;
	qry_server *s;
	char err[256];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	/* a free port: bound by the kernel, released, taken by the server */
	if (mkdtemp(dir) == NULL || fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) != 0)
		abort();
	close(fd);
	port = ntohs(a.sin_port);
	fill_store(dir);
	snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
	qry_server_config cfg = { .data_dir = dir, .http_addr = addr, .threads = 1, .max_clock_skew_ns = 1000000000 };
	if (qry_server_start(&cfg, &s, err, sizeof err) != CM_OK)
		abort();
	/* runs until the process ends; its directory is left for the OS's tmp cleaning */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char req[8192], resp[4096];
	size_t n = 0;
	int fd;

	if (port == 0)
		start_server();
	/*
	 * Each byte takes at most 3 in the request line (3000 + the rest < sizeof
	 * req). Longer targets can exhaust the server's per-connection memory
	 * (256 KiB), where libmicrohttpd closes the connection unanswered.
	 */
	if (size > 1000)
		size = 1000;
	n = (size_t)snprintf(req, sizeof req, "GET /");
	for (size_t i = 0; i < size; i++) /* bytes that would end the request line are escaped */
		n += (data[i] <= ' ' || data[i] >= 0x7f) ? (size_t)snprintf(req + n, sizeof req - n, "%%%02X", data[i])
		                                          : (size_t)snprintf(req + n, sizeof req - n, "%c", data[i]);
	n += (size_t)snprintf(req + n, sizeof req - n, " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	a.sin_port = htons((uint16_t)port);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return 0;
	/* The server must answer every request with an HTTP status line. */
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 || send(fd, req, n, MSG_NOSIGNAL) != (ssize_t)n)
		abort();
	ssize_t got = recv(fd, resp, sizeof resp, 0);
	if (got < 12 || memcmp(resp, "HTTP/1.1 ", 9) != 0)
		abort();
	while (recv(fd, resp, sizeof resp, 0) > 0)
		;
	close(fd);
	return 0;
}
