/*
 * resource.c - the tracer's resource: service.name and attributes from
 * OTEL_RESOURCE_ATTRIBUTES ("k=v,k2=v2", values percent-encoded), plus the
 * telemetry.sdk.* attributes and host.name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "propagation.h"
#include "sdk_int.h"

#define WEFT_SDK_VERSION "0.1.0"
enum { MAX_RESOURCE_ATTRS = 64 };

/* Copies s[0..n) into the arena, trimmed and percent-decoded. */
static cm_str
decode(cm_arena *a, const char *s, size_t n)
{
	char *d;
	size_t j = 0;

	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if ((d = cm_arena_alloc(a, n + 1)) == NULL)
		return (cm_str){ NULL, 0 };
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && sdk_hex_digit(s[i + 1]) >= 0 && sdk_hex_digit(s[i + 2]) >= 0) {
			d[j++] = (char)(sdk_hex_digit(s[i + 1]) << 4 | sdk_hex_digit(s[i + 2]));
			i += 2;
		} else {
			d[j++] = s[i];
		}
	}
	return (cm_str){ d, (uint32_t)j };
}

static void
add_str(weft_tracer *t, cm_str key, cm_str val)
{
	cm_attrs *a = &t->resource.attrs;
	if (key.p == NULL || val.p == NULL || a->n >= MAX_RESOURCE_ATTRS) {
		a->dropped++;
		return;
	}
	for (uint32_t i = 0; i < a->n; i++) {
		if (a->v[i].key.len == key.len && memcmp(a->v[i].key.p, key.p, key.len) == 0) {
			a->v[i].val.u.s = val;
			return;
		}
	}
	a->v[a->n].key = key;
	a->v[a->n].val.type = CM_VAL_STR;
	a->v[a->n].val.u.s = val;
	a->n++;
}

static void
add_lit(weft_tracer *t, const char *key, const char *val)
{
	add_str(t, decode(&t->arena, key, strlen(key)), decode(&t->arena, val, strlen(val)));
}

int
sdk_resource_init(weft_tracer *t, const char *service, const char *attrs)
{
	cm_str svc = { NULL, 0 };
	char host[256];

	t->resource.attrs.v = cm_arena_alloc(&t->arena, MAX_RESOURCE_ATTRS * sizeof(cm_attr));
	if (t->resource.attrs.v == NULL)
		return CM_ENOMEM;
	for (const char *p = attrs; p != NULL && *p != '\0';) {
		const char *comma = strchr(p, ',');
		const char *end = comma ? comma : p + strlen(p);
		const char *eq = memchr(p, '=', (size_t)(end - p));
		if (eq != NULL) {
			cm_str k = decode(&t->arena, p, (size_t)(eq - p));
			cm_str v = decode(&t->arena, eq + 1, (size_t)(end - eq - 1));
			if (k.p != NULL && cm_str_eq(k, "service.name"))
				svc = v;
			else if (k.len > 0)
				add_str(t, k, v);
		}
		p = comma ? comma + 1 : NULL;
	}
	if (service != NULL && *service != '\0')
		svc = decode(&t->arena, service, strlen(service));
	if (svc.p == NULL || svc.len == 0)
		svc = CM_STR("unknown_service");
	t->resource.service = svc;
	add_str(t, CM_STR("service.name"), svc);
	add_lit(t, "telemetry.sdk.name", "weft");
	add_lit(t, "telemetry.sdk.language", "c");
	add_lit(t, "telemetry.sdk.version", WEFT_SDK_VERSION);
	if (gethostname(host, sizeof host) == 0) {
		host[sizeof host - 1] = '\0';
		add_lit(t, "host.name", host);
	}
	t->scope.name = CM_STR("libweft");
	t->scope.version = CM_STR(WEFT_SDK_VERSION);
	return CM_OK;
}
