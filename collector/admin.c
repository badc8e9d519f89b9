/*
 * admin.c - admin endpoints.
 */
#include "admin.h"

#include <string.h>

void
col_admin_handle(void *arg, const col_http_request *req, col_http_reply *rep)
{
	col_admin *a = arg;

	if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
		col_http_error(rep, 405, "method not allowed");
	} else if (strcmp(req->path, "/healthz") == 0) {
		rep->content_type = "text/plain";
		cm_buf_puts(&rep->body, "ok\n");
	} else if (strcmp(req->path, "/readyz") == 0) {
		if (atomic_load(a->ready)) {
			rep->content_type = "text/plain";
			cm_buf_puts(&rep->body, "ready\n");
		} else {
			col_http_error(rep, 503, "not ready");
		}
	} else if (strcmp(req->path, "/metrics") == 0) {
		col_gauges g = {
			.budget_used = atomic_load(&a->budget->used),
			.budget_limit = a->budget->limit,
			.storage_bytes = st_store_disk_bytes(a->store),
		};
		st_memory mem;
		st_store_memory(a->store, &mem);
		rep->content_type = "text/plain; version=0.0.4";
		col_metrics_render(a->metrics, &g, &rep->body);
		st_memory_render(&mem, &rep->body);
		if (rep->body.failed)
			col_http_error(rep, 500, "out of memory");
	} else {
		col_http_error(rep, 404, "not found");
	}
}
