/*
 * admin.h - the collector's admin listener: /metrics, /healthz, /readyz.
 */
#ifndef WEFT_COLLECTOR_ADMIN_H
#define WEFT_COLLECTOR_ADMIN_H

#include <stdatomic.h>
#include <stddef.h>

#include "metrics.h"

typedef struct col_admin col_admin;

/*
 * Serves on addr ("host:port"). /readyz answers 200 once *ready is true,
 * 503 before. Returns CM_OK or an error with the reason in err.
 */
int col_admin_start(const char *addr, col_metrics *m, atomic_bool *ready, col_admin **out,
    char *err, size_t errlen);
void col_admin_stop(col_admin *a);

#endif
