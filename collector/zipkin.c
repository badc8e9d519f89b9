/*
 * zipkin.c - Zipkin v2 JSON decoding with jansson.
 */
#include "zipkin.h"

#include <jansson.h>
#include <string.h>

#include "builder.h"
#include "err.h"
#include "ids.h"

#define FAIL(reason)              \
	do {                      \
		*why = (reason);  \
		return CM_EPROTO; \
	} while (0)

/* Index of the resource for `service`, adding it (and its scope) when new. */
static uint32_t
resource_for(col_builder *bl, const char *service, size_t len)
{
	cm_batch *b = bl->b;
	for (uint32_t i = 0; i < b->nresources; i++)
		if (b->resources[i].service.len == len && (len == 0 || memcmp(b->resources[i].service.p, service, len) == 0))
			return i;
	cm_resource *r = col_add_resource(bl);
	if (r == NULL)
		return 0;
	r->service = col_str(bl, service, len);
	return b->nresources - 1;
}

/* Index of the scope (name, version), adding it when new. */
static uint32_t
scope_for(col_builder *bl, const char *name, const char *version)
{
	cm_batch *b = bl->b;
	for (uint32_t i = 0; i < b->nscopes; i++)
		if (cm_str_eq(b->scopes[i].name, name) && cm_str_eq(b->scopes[i].version, version))
			return i;
	cm_scope *s = col_add_scope(bl);
	if (s == NULL)
		return 0;
	s->name = col_str(bl, name, strlen(name));
	s->version = col_str(bl, version, strlen(version));
	return b->nscopes - 1;
}

static bool
get_id(json_t *obj, const char *key, uint8_t *dst, size_t n, bool required)
{
	json_t *v = json_object_get(obj, key);
	size_t len;
	char padded[32];

	if (v == NULL || (json_is_string(v) && json_string_length(v) == 0)) {
		memset(dst, 0, n);
		return !required;
	}
	if (!json_is_string(v) || (len = json_string_length(v)) > 2 * n)
		return false;
	memset(padded, '0', 2 * n);
	memcpy(padded + 2 * n - len, json_string_value(v), len);
	return cm_hex_decode(padded, 2 * n, dst, n, false) == CM_OK;
}

static bool
get_us(json_t *v, uint64_t *ns)
{
	if (v == NULL) {
		*ns = 0;
		return true;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) > UINT64_MAX / 1000)
		return false;
	*ns = (uint64_t)json_integer_value(v) * 1000;
	return true;
}

static int
convert_span(col_builder *bl, json_t *js, const char **why)
{
	static const char *const kinds[] = { "", "", "SERVER", "CLIENT", "PRODUCER", "CONSUMER" };
	json_t *local = json_object_get(js, "localEndpoint"), *tags = json_object_get(js, "tags");
	json_t *anns = json_object_get(js, "annotations"), *kind = json_object_get(js, "kind"), *v, *x;
	json_t *svc = json_object_get(local, "serviceName");
	const char *scope_name = "", *scope_version = "", *key;
	uint64_t duration;
	cm_span *s;
	size_t i;

	if (!json_is_object(js))
		FAIL("span is not an object");
	if ((s = col_add_span(bl)) == NULL)
		return CM_ENOMEM;
	if (!get_id(js, "traceId", s->trace_id.b, 16, true) || !get_id(js, "id", s->span_id.b, 8, true) ||
	    !get_id(js, "parentId", s->parent_span_id.b, 8, false))
		FAIL("traceId must be 16 or 32 hex digits, id and parentId 16");
	if (!get_us(json_object_get(js, "timestamp"), &s->start_ns) || !get_us(json_object_get(js, "duration"), &duration))
		FAIL("timestamp and duration must be non-negative integers (microseconds)");
	s->end_ns = s->start_ns + duration;
	s->name = json_is_string(v = json_object_get(js, "name")) ? col_str(bl, json_string_value(v), json_string_length(v)) : CM_STR("");
	s->kind = CM_KIND_INTERNAL;
	if (kind != NULL) {
		if (!json_is_string(kind))
			FAIL("kind is not a string");
		for (int k = CM_KIND_SERVER; k <= CM_KIND_CONSUMER; k++)
			if (strcmp(json_string_value(kind), kinds[k]) == 0)
				s->kind = (uint8_t)k;
		if (s->kind == CM_KIND_INTERNAL)
			FAIL("kind is not CLIENT, SERVER, PRODUCER or CONSUMER");
	}
	if (svc != NULL && !json_is_string(svc))
		FAIL("localEndpoint.serviceName is not a string");
	s->resource = resource_for(bl, svc ? json_string_value(svc) : "", svc ? json_string_length(svc) : 0);

	if (tags != NULL && !json_is_object(tags))
		FAIL("tags is not an object");
	s->attrs.v = col_attrs(bl, json_object_size(tags));
	json_object_foreach(tags, key, v) {
		const char *val;
		if (!json_is_string(v))
			FAIL("tag values must be strings");
		val = json_string_value(v);
		if (strcmp(key, "otel.status_code") == 0) {
			if (strcmp(val, "ERROR") == 0)
				s->status = CM_STATUS_ERROR;
			else if (strcmp(val, "OK") == 0 && s->status != CM_STATUS_ERROR)
				s->status = CM_STATUS_OK;
		} else if (strcmp(key, "error") == 0) {
			s->status = CM_STATUS_ERROR;
			if (s->status_message.len == 0)
				s->status_message = col_str(bl, val, json_string_length(v));
		} else if (strcmp(key, "otel.status_description") == 0) {
			s->status_message = col_str(bl, val, json_string_length(v));
		} else if (strcmp(key, "otel.scope.name") == 0 || strcmp(key, "otel.library.name") == 0) {
			scope_name = val;
		} else if (strcmp(key, "otel.scope.version") == 0 || strcmp(key, "otel.library.version") == 0) {
			scope_version = val;
		} else if (strcmp(key, "service.name") == 0 && svc != NULL && strcmp(val, json_string_value(svc)) == 0) {
			/* the exporter repeats the resource's service.name as a tag */
		} else if (s->attrs.v != NULL) {
			cm_attr *a = &s->attrs.v[s->attrs.n++];
			a->key = col_str(bl, key, strlen(key));
			a->val.type = CM_VAL_STR;
			a->val.u.s = col_str(bl, val, json_string_length(v));
		}
	}
	s->scope = scope_for(bl, scope_name, scope_version);

	if (anns != NULL && !json_is_array(anns))
		FAIL("annotations is not an array");
	if (json_array_size(anns) > 0 && (s->events = cm_arena_alloc(&bl->b->arena, json_array_size(anns) * sizeof(cm_event))) == NULL)
		return CM_ENOMEM;
	json_array_foreach(anns, i, x) {
		cm_event *e = &s->events[s->nevents++];
		json_t *ts = json_object_get(x, "timestamp");
		v = json_object_get(x, "value");
		if (ts == NULL || !get_us(ts, &e->time_ns) || !json_is_string(v))
			FAIL("annotation needs a timestamp (µs) and a string value");
		e->name = col_str(bl, json_string_value(v), json_string_length(v));
	}
	return bl->oom ? CM_ENOMEM : CM_OK;
}

int
col_zipkin_decode(const char *body, size_t len, cm_batch *out, const char **why)
{
	json_error_t jerr;
	json_t *doc = json_loadb(body, len, 0, &jerr), *js;
	col_builder bl;
	size_t i;
	int rv = CM_OK;

	if (doc == NULL) {
		*why = "body is not valid JSON";
		return CM_EPROTO;
	}
	if (!json_is_array(doc)) {
		json_decref(doc);
		*why = "body is not a JSON list of spans";
		return CM_EPROTO;
	}
	col_builder_init(&bl, out);
	json_array_foreach(doc, i, js) {
		if ((rv = convert_span(&bl, js, why)) != CM_OK)
			break;
	}
	json_decref(doc);
	if (rv == CM_ENOMEM)
		*why = "out of memory";
	return rv;
}
