/*
 * jaegerimport.c - Jaeger JSON -> OTLP JSON with jansson.
 */
#include "jaegerimport.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* A Jaeger tag {key, type, value} as an OTLP KeyValue, or NULL. */
static json_t *
key_value(json_t *tag)
{
	const char *key = json_string_value(json_object_get(tag, "key"));
	const char *type = json_string_value(json_object_get(tag, "type"));
	json_t *v = json_object_get(tag, "value"), *any;

	if (key == NULL || v == NULL)
		return NULL;
	if (type != NULL && strcmp(type, "bool") == 0)
		any = json_pack("{s:O}", "boolValue", v);
	else if (type != NULL && strcmp(type, "int64") == 0) {
		char num[32];
		snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		any = json_pack("{s:s}", "intValue", num);
	} else if (type != NULL && strcmp(type, "float64") == 0)
		any = json_pack("{s:O}", "doubleValue", v);
	else if (type != NULL && strcmp(type, "binary") == 0)
		any = json_pack("{s:O}", "bytesValue", v);
	else if (json_is_string(v))
		any = json_pack("{s:O}", "stringValue", v);
	else
		return NULL;
	return json_pack("{s:s,s:o}", "key", key, "value", any);
}

static const char *
str_tag(json_t *span, const char *key)
{
	json_t *t;
	size_t i;
	json_array_foreach(json_object_get(span, "tags"), i, t)
		if (strcmp(json_string_value(json_object_get(t, "key")) ?: "", key) == 0 && json_is_string(json_object_get(t, "value")))
			return json_string_value(json_object_get(t, "value"));
	return NULL;
}

static bool
reserved(const char *key)
{
	static const char *const keys[] = { "span.kind", "otel.scope.name", "otel.scope.version",
		"otel.status_code", "otel.status_description", "error", "w3c.tracestate" };
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (strcmp(key, keys[i]) == 0)
			return true;
	return false;
}

static json_t *
id32(const char *hex)
{
	char padded[33] = "00000000000000000000000000000000";
	size_t n = strlen(hex);
	if (n > 32)
		n = 32;
	memcpy(padded + 32 - n, hex, n);
	return json_string(padded);
}

static json_t *
otlp_span(json_t *s, const char **why)
{
	static const char *const kinds[] = { "", "internal", "server", "client", "producer", "consumer" };
	json_t *out = json_object(), *attrs = json_array(), *events = json_array(), *links = json_array();
	json_t *ref, *t, *log, *status = json_object();
	const char *kind = str_tag(s, "span.kind"), *code = str_tag(s, "otel.status_code");
	const char *desc = str_tag(s, "otel.status_description"), *ts = str_tag(s, "w3c.tracestate");
	json_int_t start = json_integer_value(json_object_get(s, "startTime"));
	json_int_t dur = json_integer_value(json_object_get(s, "duration"));
	bool have_parent = false, error_tag = false;
	char num[32];
	size_t i;

	if (!json_is_string(json_object_get(s, "traceID")) || !json_is_string(json_object_get(s, "spanID"))) {
		*why = "a span without traceID or spanID";
		json_decref(out), json_decref(attrs), json_decref(events), json_decref(links), json_decref(status);
		return NULL;
	}
	json_object_set_new(out, "traceId", id32(json_string_value(json_object_get(s, "traceID"))));
	json_object_set(out, "spanId", json_object_get(s, "spanID"));
	json_array_foreach(json_object_get(s, "references"), i, ref) {
		const char *type = json_string_value(json_object_get(ref, "refType"));
		if (!have_parent && type != NULL && strcmp(type, "CHILD_OF") == 0) {
			json_object_set(out, "parentSpanId", json_object_get(ref, "spanID"));
			have_parent = true;
		} else {
			json_array_append_new(links, json_pack("{s:o,s:O}", "traceId",
			    id32(json_string_value(json_object_get(ref, "traceID")) ?: ""), "spanId", json_object_get(ref, "spanID")));
		}
	}
	json_object_set(out, "name", json_object_get(s, "operationName"));
	json_object_set_new(out, "kind", json_integer(0));
	for (int k = 1; kind != NULL && k <= 5; k++)
		if (strcmp(kind, kinds[k]) == 0)
			json_object_set_new(out, "kind", json_integer(k));
	snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT "000", start);
	json_object_set_new(out, "startTimeUnixNano", json_string(num));
	snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT "000", start + dur);
	json_object_set_new(out, "endTimeUnixNano", json_string(num));
	if (ts != NULL)
		json_object_set_new(out, "traceState", json_string(ts));
	json_array_foreach(json_object_get(s, "tags"), i, t) {
		const char *key = json_string_value(json_object_get(t, "key"));
		json_t *kv;
		if (key != NULL && strcmp(key, "error") == 0 && json_is_true(json_object_get(t, "value")))
			error_tag = true;
		if (key == NULL || reserved(key) || (kv = key_value(t)) == NULL)
			continue;
		json_array_append_new(attrs, kv);
	}
	json_object_set_new(out, "attributes", attrs);
	json_array_foreach(json_object_get(s, "logs"), i, log) {
		json_t *ev = json_object(), *eattrs = json_array(), *f;
		size_t k;
		snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT "000", json_integer_value(json_object_get(log, "timestamp")));
		json_object_set_new(ev, "timeUnixNano", json_string(num));
		json_array_foreach(json_object_get(log, "fields"), k, f) {
			const char *key = json_string_value(json_object_get(f, "key"));
			json_t *kv;
			if (key != NULL && strcmp(key, "event") == 0 && json_is_string(json_object_get(f, "value")))
				json_object_set(ev, "name", json_object_get(f, "value"));
			else if ((kv = key_value(f)) != NULL)
				json_array_append_new(eattrs, kv);
		}
		json_object_set_new(ev, "attributes", eattrs);
		json_array_append_new(events, ev);
	}
	json_object_set_new(out, "events", events);
	json_object_set_new(out, "links", links);
	if ((code != NULL && strcmp(code, "ERROR") == 0) || error_tag)
		json_object_set_new(status, "code", json_integer(2));
	else if (code != NULL && strcmp(code, "OK") == 0)
		json_object_set_new(status, "code", json_integer(1));
	if (desc != NULL)
		json_object_set_new(status, "message", json_string(desc));
	json_object_set_new(out, "status", status);
	return out;
}

json_t *
qry_jaeger_to_otlp(json_t *trace, const char **why)
{
	json_t *processes = json_object_get(trace, "processes"), *spans = json_object_get(trace, "spans");
	json_t *req, *rss, *proc, *s;
	const char *pid;
	size_t i;

	if (!json_is_object(processes) || !json_is_array(spans)) {
		*why = "not a Jaeger trace (want spans and processes)";
		return NULL;
	}
	rss = json_array();
	json_object_foreach(processes, pid, proc) {
		json_t *res_attrs = json_array(), *scopes = json_array(), *t;
		const char *svc = json_string_value(json_object_get(proc, "serviceName"));
		size_t k;

		json_array_append_new(res_attrs, json_pack("{s:s,s:{s:s}}", "key", "service.name", "value",
		    "stringValue", svc ? svc : "unknown_service"));
		json_array_foreach(json_object_get(proc, "tags"), k, t) {
			json_t *kv = key_value(t);
			if (kv != NULL)
				json_array_append_new(res_attrs, kv);
		}
		json_array_foreach(spans, i, s) {
			const char *sp_pid = json_string_value(json_object_get(s, "processID"));
			const char *name = str_tag(s, "otel.scope.name") ?: "", *version = str_tag(s, "otel.scope.version") ?: "";
			json_t *scope = NULL, *sc, *span;
			size_t m;
			if (sp_pid == NULL || strcmp(sp_pid, pid) != 0)
				continue;
			json_array_foreach(scopes, m, sc) {
				json_t *id = json_object_get(sc, "scope");
				if (strcmp(json_string_value(json_object_get(id, "name")), name) == 0 &&
				    strcmp(json_string_value(json_object_get(id, "version")) ?: "", version) == 0)
					scope = sc;
			}
			if (scope == NULL) {
				scope = json_pack("{s:{s:s},s:[]}", "scope", "name", name, "spans");
				if (*version)
					json_object_set_new(json_object_get(scope, "scope"), "version", json_string(version));
				json_array_append_new(scopes, scope);
			}
			if ((span = otlp_span(s, why)) == NULL) {
				json_decref(res_attrs);
				json_decref(scopes);
				json_decref(rss);
				return NULL;
			}
			json_array_append_new(json_object_get(scope, "spans"), span);
		}
		json_array_append_new(rss, json_pack("{s:{s:o},s:o}", "resource", "attributes", res_attrs, "scopeSpans", scopes));
	}
	req = json_pack("{s:o}", "resourceSpans", rss);
	return req;
}
