/*
 * admin.c - admin HTTP listener on libmicrohttpd (one internal thread).
 */
#include "admin.h"

#include <microhttpd.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "alloc.h"
#include "err.h"

struct col_admin {
	struct MHD_Daemon *d;
	col_metrics *metrics;
	atomic_bool *ready;
};

static enum MHD_Result
respond(struct MHD_Connection *c, unsigned status, const char *type, const char *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
    const char *version, const char *upload, size_t *upload_size, void **state)
{
	col_admin *a = cls;
	(void)version;
	(void)upload;
	(void)upload_size;
	(void)state;

	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return respond(c, 405, "text/plain", "method not allowed\n", 19);
	if (strcmp(url, "/healthz") == 0)
		return respond(c, 200, "text/plain", "ok\n", 3);
	if (strcmp(url, "/readyz") == 0) {
		if (atomic_load(a->ready))
			return respond(c, 200, "text/plain", "ready\n", 6);
		return respond(c, 503, "text/plain", "starting\n", 9);
	}
	if (strcmp(url, "/metrics") == 0) {
		cm_buf out;
		enum MHD_Result ret;
		cm_buf_init(&out);
		col_metrics_render(a->metrics, &out);
		ret = out.failed ? respond(c, 500, "text/plain", "out of memory\n", 14)
		                 : respond(c, 200, "text/plain; version=0.0.4", out.data, out.len);
		cm_buf_fini(&out);
		return ret;
	}
	return respond(c, 404, "text/plain", "not found\n", 10);
}

int
col_admin_start(const char *addr, col_metrics *m, atomic_bool *ready, col_admin **out,
    char *err, size_t errlen)
{
	struct sockaddr_storage sa;
	socklen_t salen;
	col_admin *a;

	if (cm_addr_parse(addr, &sa, &salen) != CM_OK) {
		snprintf(err, errlen, "bad admin address %s (want HOST:PORT)", addr);
		return CM_EINVAL;
	}
	if ((a = cm_calloc(1, sizeof *a)) == NULL)
		return CM_ENOMEM;
	a->metrics = m;
	a->ready = ready;
	a->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	        (sa.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
	    0, NULL, NULL, handler, a, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
	    MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
	if (a->d == NULL) {
		snprintf(err, errlen, "cannot listen on %s", addr);
		cm_free(a);
		return CM_EINVAL;
	}
	*out = a;
	return CM_OK;
}

void
col_admin_stop(col_admin *a)
{
	if (a == NULL)
		return;
	MHD_stop_daemon(a->d);
	cm_free(a);
}
