/*
 * service.c - weft-tracecontext-service: the W3C Trace Context test
 * harness's service under test, built on libweft.
 *
 *   weft-tracecontext-service --port N [--host 127.0.0.1]
 *
 * The harness POSTs /test with a JSON array of {"url": U, "arguments": A}.
 * For each element the service starts a child span of the context it
 * extracted from the request (traceparent, tracestate; a new trace when
 * they are invalid) and POSTs A as JSON to U carrying the child's own
 * traceparent and tracestate, then answers 200. docs/sdk.md shows how to
 * run the public suite (github.com/w3c/trace-context, test/) against it.
 * Spans go to WEFT_ENDPOINT like any libweft application's.
 *
 * Uses only weft.h, libmicrohttpd and jansson, as an application would.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "weft.h"

enum { MAX_BODY = 1 << 20, MAX_HEADERS = 64, OUT_HEADERS = 16 };

static weft_tracer *tracer;
static volatile sig_atomic_t stop;

typedef struct request {
	char *body;
	size_t len;
	bool too_big;
} request;

typedef struct header_list {
	weft_header h[MAX_HEADERS];
	size_t n;
} header_list;

static enum MHD_Result
collect_header(void *arg, enum MHD_ValueKind kind, const char *key, const char *value)
{
	header_list *l = arg;
	(void)kind;
	if (l->n < MAX_HEADERS)
		l->h[l->n++] = (weft_header){ key, value };
	return MHD_YES;
}

/* POSTs body to an http://host:port/path URL with the given headers; returns the status or -1. */
static int
post_json(const char *url, const char *body, const weft_header *h, size_t nh)
{
	char host[256], port[8] = "80", req[8192];
	const char *p, *path;
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai;
	int fd, status = -1, off;
	size_t hl;

	if (strncmp(url, "http://", 7) != 0)
		return -1;
	p = url + 7;
	path = strchr(p, '/');
	hl = path ? (size_t)(path - p) : strlen(p);
	if (hl == 0 || hl >= sizeof host)
		return -1;
	memcpy(host, p, hl);
	host[hl] = '\0';
	if (strchr(host, ':') != NULL) {
		char *c = strrchr(host, ':');
		snprintf(port, sizeof port, "%s", c + 1);
		*c = '\0';
	}
	off = snprintf(req, sizeof req, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n", path ? path : "/", host, strlen(body));
	for (size_t i = 0; i < nh && off > 0 && (size_t)off < sizeof req; i++)
		off += snprintf(req + off, sizeof req - (size_t)off, "%s: %s\r\n", h[i].name, h[i].value);
	if (off < 0 || (size_t)off + 2 >= sizeof req)
		return -1;
	off += snprintf(req + off, sizeof req - (size_t)off, "\r\n");
	if (getaddrinfo(host, port, &hints, &ai) != 0)
		return -1;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
	    send(fd, req, (size_t)off, MSG_NOSIGNAL) == off &&
	    send(fd, body, strlen(body), MSG_NOSIGNAL) == (ssize_t)strlen(body)) {
		char resp[512];
		ssize_t n = recv(fd, resp, sizeof resp - 1, 0);
		if (n > 12) {
			resp[n] = '\0';
			status = atoi(resp + 9);
		}
	}
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return status;
}

/* Runs one harness case: a child span of ctx calling url with arguments. */
static void
call(const weft_context *ctx, const char *url, json_t *arguments)
{
	weft_header out[OUT_HEADERS];
	char buf[4096];
	char *body = json_dumps(arguments, JSON_COMPACT | JSON_ENCODE_ANY);
	weft_span *s = weft_span_start(tracer, "POST", &(weft_span_options){ .kind = WEFT_KIND_CLIENT, .context = ctx });
	size_t n = weft_inject_headers(s, out, OUT_HEADERS, buf, sizeof buf);
	int status;

	weft_span_set_str(s, "url.full", url);
	status = body ? post_json(url, body, out, n) : -1;
	weft_span_set_int(s, "http.response.status_code", status);
	if (status < 200 || status > 299)
		weft_span_set_status(s, WEFT_STATUS_ERROR, "callback failed");
	weft_span_end(s);
	free(body);
}

static enum MHD_Result
reply(struct MHD_Connection *c, unsigned code, const char *text)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result rv = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return rv;
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *c, const char *url, const char *method, const char *version,
    const char *data, size_t *size, void **state)
{
	request *req = *state;
	header_list hl = { .n = 0 };
	weft_context ctx;
	json_t *cases;
	json_error_t jerr;
	size_t i;
	json_t *item;

	(void)cls, (void)version;
	if (req == NULL) {
		if ((req = calloc(1, sizeof *req)) == NULL)
			return MHD_NO;
		*state = req;
		return MHD_YES;
	}
	if (*size > 0) {
		if (req->len + *size > MAX_BODY) {
			req->too_big = true;
		} else {
			char *b = realloc(req->body, req->len + *size + 1);
			if (b == NULL)
				return MHD_NO;
			memcpy(b + req->len, data, *size);
			req->body = b;
			req->len += *size;
			b[req->len] = '\0';
		}
		*size = 0;
		return MHD_YES;
	}
	if (strcmp(method, "POST") != 0 || strcmp(url, "/test") != 0)
		return reply(c, MHD_HTTP_NOT_FOUND, "POST /test\n");
	if (req->too_big)
		return reply(c, MHD_HTTP_CONTENT_TOO_LARGE, "body over 1 MiB\n");
	cases = req->body ? json_loadb(req->body, req->len, 0, &jerr) : NULL;
	if (!json_is_array(cases)) {
		json_decref(cases);
		return reply(c, MHD_HTTP_BAD_REQUEST, "want a JSON array of {\"url\", \"arguments\"}\n");
	}
	MHD_get_connection_values(c, MHD_HEADER_KIND, collect_header, &hl);
	weft_extract_headers(tracer, hl.h, hl.n, &ctx);
	json_array_foreach (cases, i, item) {
		const char *u = json_string_value(json_object_get(item, "url"));
		if (u != NULL)
			call(&ctx, u, json_object_get(item, "arguments"));
	}
	json_decref(cases);
	return reply(c, MHD_HTTP_OK, "ok\n");
}

static void
done(void *cls, struct MHD_Connection *c, void **state, enum MHD_RequestTerminationCode code)
{
	request *req = *state;
	(void)cls, (void)c, (void)code;
	if (req != NULL) {
		free(req->body);
		free(req);
	}
	*state = NULL;
}

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "host", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	weft_tracer_config cfg = { .service_name = "weft-tracecontext-service", .propagators = "tracecontext" };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct MHD_Daemon *d;
	const char *host = "127.0.0.1";
	int port = 0, ch, rv;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'p')
			port = atoi(optarg);
		else if (ch == 'H')
			host = optarg;
		else {
			fprintf(stderr, "usage: weft-tracecontext-service --port N [--host ADDR]\n");
			return ch == 'h' ? 0 : 2;
		}
	}
	if (port <= 0 || port > 65535 || inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "weft-tracecontext-service: need --port 1..65535 and an IPv4 --host\n");
		return 2;
	}
	sa.sin_port = htons((uint16_t)port);
	if ((rv = weft_tracer_create(&cfg, &tracer)) != WEFT_OK) {
		fprintf(stderr, "weft-tracecontext-service: tracer: %s\n", weft_strerror(rv));
		return 1;
	}
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handle, NULL, MHD_OPTION_SOCK_ADDR,
	    (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, done, NULL, MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "weft-tracecontext-service: cannot listen on %s:%d\n", host, port);
		weft_tracer_destroy(tracer);
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("weft-tracecontext-service: POST http://%s:%d/test\n", host, port);
	fflush(stdout);
	while (!stop)
		pause();
	MHD_stop_daemon(d);
	weft_tracer_destroy(tracer);
	return 0;
}
