/*
 * admin.h - the collector's admin listener: /metrics, /healthz, /readyz.
 */
#ifndef WEFT_COLLECTOR_ADMIN_H
#define WEFT_COLLECTOR_ADMIN_H

#include <stdatomic.h>

#include "budget.h"
#include "httpd.h"
#include "metrics.h"
#include "store.h"

typedef struct col_admin {
	col_metrics *metrics;
	col_budget *budget;
	st_store *store;
	atomic_bool *ready; /* /readyz answers 200 while true, 503 otherwise */
} col_admin;

/* The col_http_handler for the admin listener; arg is a col_admin. */
void col_admin_handle(void *arg, const col_http_request *req, col_http_reply *rep);

#endif
