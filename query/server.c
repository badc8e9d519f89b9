/*
 * server.c - HTTP routing and Jaeger envelopes on libmicrohttpd.
 *
 * Threads: MHD runs handlers on a small thread pool; the store is shared
 * (RocksDB reads are thread-safe) and its lazy open and catch-up are
 * serialised by `mu`.
 */
#include "server.h"

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "alloc.h"
#include "err.h"
#include "ids.h"
#include "breakdown.h"
#include "clockskew.h"
#include "duration.h"
#include "critpath.h"
#include "jaeger.h"
#include "jsonw.h"
#include "log.h"
#include "otlpjson.h"
#include "store.h"

enum { QRY_CONNECTION_MEMORY = 256 << 10 };

struct qry_server {
	struct MHD_Daemon *d;
	uint64_t max_clock_skew_ns;
	char *data_dir;
	pthread_mutex_t mu;
	st_store *store;
	const cm_auth *auth;
	size_t block_cache_bytes;
};

static enum MHD_Result
send_body(struct MHD_Connection *c, unsigned status, const char *content_type, cm_buf *body)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (body->failed)
		return MHD_NO;
	r = MHD_create_response_from_buffer(body->len, body->data, MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", content_type);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
send_json(struct MHD_Connection *c, unsigned status, cm_buf *body)
{
	return send_body(c, status, "application/json", body);
}

/* Starts Jaeger's envelope; the caller writes the "data" value next. */
static void
envelope_start(cm_jsonw *w)
{
	cm_jsonw_obj(w);
	cm_jsonw_key(w, "data");
}

static void
envelope_end(cm_jsonw *w, size_t total)
{
	cm_jsonw_key(w, "total");
	cm_jsonw_uint(w, total);
	cm_jsonw_key(w, "limit");
	cm_jsonw_int(w, 0);
	cm_jsonw_key(w, "offset");
	cm_jsonw_int(w, 0);
	cm_jsonw_key(w, "errors");
	cm_jsonw_null(w);
	cm_jsonw_obj_end(w);
}

/* A 200 answer in Jaeger's envelope, built in memory, then sent. */
typedef struct reply {
	cm_buf b;
	cm_jsonw w;
} reply;

/* Starts the envelope; the caller writes the "data" value into r->w next. */
static void
reply_begin(reply *r)
{
	cm_buf_init(&r->b);
	cm_jsonw_init(&r->w, &r->b);
	envelope_start(&r->w);
}

/* Ends the envelope with `total`, sends it, frees it. */
static enum MHD_Result
reply_send(struct MHD_Connection *c, reply *r, size_t total)
{
	enum MHD_Result ret;
	envelope_end(&r->w, total);
	ret = send_json(c, 200, &r->b);
	cm_buf_fini(&r->b);
	return ret;
}

static enum MHD_Result
send_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
	cm_buf b;
	cm_jsonw w;
	enum MHD_Result ret;

	cm_buf_init(&b);
	cm_jsonw_init(&w, &b);
	envelope_start(&w);
	cm_jsonw_null(&w);
	cm_jsonw_key(&w, "total");
	cm_jsonw_int(&w, 0);
	cm_jsonw_key(&w, "limit");
	cm_jsonw_int(&w, 0);
	cm_jsonw_key(&w, "offset");
	cm_jsonw_int(&w, 0);
	cm_jsonw_key(&w, "errors");
	cm_jsonw_arr(&w);
	cm_jsonw_obj(&w);
	cm_jsonw_key(&w, "code");
	cm_jsonw_uint(&w, status);
	cm_jsonw_key(&w, "msg");
	cm_jsonw_str(&w, msg);
	cm_jsonw_obj_end(&w);
	cm_jsonw_arr_end(&w);
	cm_jsonw_obj_end(&w);
	ret = send_json(c, status, &b);
	cm_buf_fini(&b);
	return ret;
}

/* 401 in Jaeger's error envelope, with the Bearer challenge. */
static enum MHD_Result
send_unauthorized(struct MHD_Connection *c)
{
	static const char body[] =
	    "{\"data\":null,\"total\":0,\"limit\":0,\"offset\":0,\"errors\":[{\"code\":401,"
	    "\"msg\":\"missing or invalid bearer token (Authorization: Bearer <token>)\"}]}";
	struct MHD_Response *r = MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "application/json");
	MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"weft\"");
	ret = MHD_queue_response(c, 401, r);
	MHD_destroy_response(r);
	return ret;
}

/*
 * Returns the store, caught up with the collector, or NULL when there is no
 * store yet (*empty set: answer as for an empty store) or it failed.
 */
static st_store *
store_get(qry_server *s, bool *empty)
{
	char err[512];
	st_store *st;
	int rv;

	*empty = false;
	pthread_mutex_lock(&s->mu);
	if (s->store == NULL) {
		st_options o = { .data_dir = s->data_dir, .secondary = true, .block_cache_bytes = s->block_cache_bytes };
		rv = st_store_open(&o, &s->store, err, sizeof err);
		if (rv == CM_ENOENT)
			*empty = true;
		else if (rv != CM_OK)
			cm_log(CM_LOG_ERROR, "QRY-STORE", "%s", err);
	}
	if (s->store != NULL && st_store_catch_up(s->store) != CM_OK)
		cm_log(CM_LOG_WARN, "QRY-CATCHUP", "could not catch up with the collector; serving older data");
	st = s->store;
	pthread_mutex_unlock(&s->mu);
	return st;
}

static enum MHD_Result
services(qry_server *s, struct MHD_Connection *c)
{
	st_strlist l = { 0 };
	bool empty;
	st_store *st = store_get(s, &empty);
	reply r;
	enum MHD_Result ret;

	if (st == NULL && !empty)
		return send_error(c, 500, "store unavailable");
	if (st != NULL && st_services(st, &l) != CM_OK)
		return send_error(c, 500, "reading services failed");
	reply_begin(&r);
	cm_jsonw_arr(&r.w);
	for (size_t i = 0; i < l.n; i++)
		cm_jsonw_str(&r.w, l.v[i]);
	cm_jsonw_arr_end(&r.w);
	ret = reply_send(c, &r, l.n);
	st_strlist_fini(&l);
	return ret;
}

/* Answers operations of service: names only (legacy route) or {name, spanKind}. */
static enum MHD_Result
operations(qry_server *s, struct MHD_Connection *c, const char *service, bool with_kind, const char *kind)
{
	st_oplist l = { 0 };
	bool empty;
	st_store *st = store_get(s, &empty);
	reply r;
	size_t total = 0;
	enum MHD_Result ret;

	if (st == NULL && !empty)
		return send_error(c, 500, "store unavailable");
	if (st != NULL && st_operations(st, service, &l) != CM_OK)
		return send_error(c, 500, "reading operations failed");
	reply_begin(&r);
	cm_jsonw_arr(&r.w);
	for (size_t i = 0; i < l.n; i++) {
		const char *k = l.v[i].kind == 0 ? "" : cm_kind_name(l.v[i].kind);
		if (kind != NULL && *kind != '\0' && strcmp(kind, k) != 0)
			continue;
		/* the names-only route lists each name once, whatever its kinds */
		if (!with_kind) {
			bool seen = false;
			for (size_t j = 0; j < i && !seen; j++)
				seen = strcmp(l.v[j].name, l.v[i].name) == 0;
			if (seen)
				continue;
		}
		total++;
		if (!with_kind) {
			cm_jsonw_str(&r.w, l.v[i].name);
			continue;
		}
		cm_jsonw_obj(&r.w);
		cm_jsonw_key(&r.w, "name");
		cm_jsonw_str(&r.w, l.v[i].name);
		cm_jsonw_key(&r.w, "spanKind");
		cm_jsonw_str(&r.w, k);
		cm_jsonw_obj_end(&r.w);
	}
	cm_jsonw_arr_end(&r.w);
	ret = reply_send(c, &r, total);
	st_oplist_fini(&l);
	return ret;
}

typedef enum trace_view {
	VIEW_JAEGER,        /* /api/traces/{id} */
	VIEW_CRITICAL_PATH, /* /api/traces/{id}/critical-path */
	VIEW_BREAKDOWN,     /* /api/traces/{id}/breakdown */
	VIEW_OTLP,          /* /api/v3/traces/{id} */
} trace_view;

static void
critical_path_json(cm_jsonw *w, const cm_batch *t, const qry_critical_path *cp)
{
	char hex[CM_SPAN_ID_HEX + 1];
	cm_jsonw_arr(w);
	for (uint32_t i = 0; i < cp->n; i++) {
		if (cp->v[i].start / 1000 == cp->v[i].end / 1000)
			continue; /* shorter than the API's microsecond unit */
		cm_jsonw_obj(w);
		cm_jsonw_key(w, "spanID");
		cm_hex_encode(t->spans[cp->v[i].span].span_id.b, 8, hex);
		cm_jsonw_str(w, hex);
		cm_jsonw_key(w, "start");
		cm_jsonw_uint(w, cp->v[i].start / 1000);
		cm_jsonw_key(w, "end");
		cm_jsonw_uint(w, cp->v[i].end / 1000);
		cm_jsonw_obj_end(w);
	}
	cm_jsonw_arr_end(w);
}

/* "key": ns as microseconds, printed exactly. */
static void
key_micros(cm_jsonw *w, const char *key, uint64_t ns)
{
	cm_jsonw_key(w, key);
	cm_jsonw_micros(w, ns);
}

static void
breakdown_rows(cm_jsonw *w, const char *key, const qry_bd_row *rows, uint32_t n, bool with_op)
{
	cm_jsonw_key(w, key);
	cm_jsonw_arr(w);
	for (uint32_t i = 0; i < n; i++) {
		const qry_bd_row *r = &rows[i];
		cm_jsonw_obj(w);
		cm_jsonw_key(w, "service");
		cm_jsonw_strn(w, r->service);
		if (with_op) {
			cm_jsonw_key(w, "operation");
			cm_jsonw_strn(w, r->operation);
		}
		cm_jsonw_key(w, "count");
		cm_jsonw_uint(w, r->count);
		key_micros(w, "total", r->total);
		key_micros(w, "min", r->min);
		key_micros(w, "avg", r->total / r->count);
		key_micros(w, "max", r->max);
		key_micros(w, "selfTotal", r->self_total);
		key_micros(w, "selfMin", r->self_min);
		key_micros(w, "selfAvg", r->self_total / r->count);
		key_micros(w, "selfMax", r->self_max);
		cm_jsonw_key(w, "selfShare");
		cm_jsonw_double(w, r->self_share);
		cm_jsonw_obj_end(w);
	}
	cm_jsonw_arr_end(w);
}

static void
breakdown_json(cm_jsonw *w, const qry_breakdown *bd)
{
	cm_jsonw_obj(w);
	cm_jsonw_key(w, "traceStart");
	cm_jsonw_uint(w, bd->trace_start / 1000);
	key_micros(w, "duration", bd->trace_end - bd->trace_start);
	breakdown_rows(w, "services", bd->services, bd->nservices, false);
	breakdown_rows(w, "operations", bd->operations, bd->noperations, true);
	cm_jsonw_obj_end(w);
}

/* Writes the view of t into w; returns CM_OK or CM_ENOMEM. warn may be NULL. */
static int
render(cm_jsonw *w, const cm_batch *t, trace_view view, const qry_span_warnings *warn)
{
	qry_critical_path cp;
	qry_breakdown bd;
	int rv = CM_OK;

	switch (view) {
	case VIEW_JAEGER:
		envelope_start(w);
		cm_jsonw_arr(w);
		qry_jaeger_trace(w, t, warn);
		cm_jsonw_arr_end(w);
		envelope_end(w, 0);
		break;
	case VIEW_CRITICAL_PATH:
		if ((rv = qry_critical_path_of_trace(t, &cp)) != CM_OK)
			return rv;
		envelope_start(w);
		critical_path_json(w, t, &cp);
		envelope_end(w, 0);
		qry_critical_path_fini(&cp);
		break;
	case VIEW_BREAKDOWN:
		if ((rv = qry_breakdown_compute(t, &bd)) != CM_OK)
			return rv;
		envelope_start(w);
		breakdown_json(w, &bd);
		envelope_end(w, 0);
		qry_breakdown_fini(&bd);
		break;
	case VIEW_OTLP: /* Jaeger's api/v3 shape */
		cm_jsonw_obj(w);
		cm_jsonw_key(w, "result");
		qry_otlp_json_trace(w, t);
		cm_jsonw_obj_end(w);
		break;
	}
	return rv;
}

/* True for ?raw=true: Jaeger's switch to skip adjustments. */
static bool
raw_requested(struct MHD_Connection *c)
{
	const char *raw = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "raw");
	return raw != NULL && strcmp(raw, "true") == 0;
}

/*
 * Adjusts t for clock skew unless the request says raw=true; returns the
 * spans' warnings (free them), or NULL when nothing was adjusted.
 */
static qry_span_warnings *
adjust(qry_server *s, struct MHD_Connection *c, cm_batch *t)
{
	qry_span_warnings *warn;
	if (raw_requested(c) || (warn = cm_calloc(t->nspans + 1, sizeof *warn)) == NULL)
		return NULL;
	if (qry_clock_skew_adjust(t, s->max_clock_skew_ns, warn) != CM_OK) {
		cm_free(warn);
		return NULL;
	}
	return warn;
}

/* Writes t as Jaeger JSON, clock-skew adjusted unless the request says raw=true. */
static void
write_jaeger_trace(qry_server *s, struct MHD_Connection *c, cm_jsonw *w, cm_batch *t)
{
	qry_span_warnings *warn = adjust(s, c, t);
	qry_jaeger_trace(w, t, warn);
	cm_free(warn);
}

static enum MHD_Result
trace(qry_server *s, struct MHD_Connection *c, const char *id_hex, trace_view view)
{
	qry_span_warnings *warn = NULL;
	cm_trace_id id;
	cm_batch t;
	bool empty;
	st_store *st;
	cm_buf b;
	cm_jsonw w;
	enum MHD_Result ret;
	int rv;

	if (cm_trace_id_parse(id_hex, strlen(id_hex), &id) != CM_OK || cm_trace_id_is_zero(&id))
		return send_error(c, 400, "malformed trace id: want 1 to 32 hex digits, not all zero");
	st = store_get(s, &empty);
	if (st == NULL)
		return empty ? send_error(c, 404, "trace not found") : send_error(c, 500, "store unavailable");
	cm_batch_init(&t);
	rv = st_trace_get(st, &id, &t);
	if (rv != CM_OK) {
		cm_batch_fini(&t);
		if (rv == CM_ENOENT)
			return send_error(c, 404, "trace not found");
		return send_error(c, 500, cm_strerror(rv));
	}
	if (view != VIEW_OTLP) /* the v3 export is the stored data, as Jaeger's */
		warn = adjust(s, c, &t);
	cm_buf_init(&b);
	cm_jsonw_init(&w, &b);
	rv = render(&w, &t, view, warn);
	cm_free(warn);
	ret = rv == CM_OK ? send_json(c, 200, &b) : send_error(c, 500, cm_strerror(rv));
	cm_buf_fini(&b);
	cm_batch_fini(&t);
	return ret;
}

typedef struct id_list {
	char ids[64][33];
	int n;
	bool overflow;
} id_list;

enum { MAX_TAGS = 32 };

/* Search parameters as parsed from the query string. */
typedef struct search_params {
	st_query q;
	st_tag tags[MAX_TAGS];
	char *owned[MAX_TAGS * 2]; /* strings copied out of tags= / tag= */
	int nowned;
	const char *error;         /* first bad parameter, static */
} search_params;

static void
add_tag(search_params *p, const char *key, size_t klen, const char *value)
{
	char *k, *v;
	if (p->q.ntags == MAX_TAGS || p->nowned + 2 > MAX_TAGS * 2) {
		p->error = "too many tags (at most 32)";
		return;
	}
	k = cm_strndup(key, klen);
	v = cm_strndup(value, strlen(value));
	if (k == NULL || v == NULL) {
		cm_free(k);
		cm_free(v);
		p->error = "out of memory";
		return;
	}
	p->owned[p->nowned++] = k;
	p->owned[p->nowned++] = v;
	p->tags[p->q.ntags++] = (st_tag){ k, v };
}

static enum MHD_Result
collect_search(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	search_params *p = cls;
	(void)kind;
	if (key == NULL || value == NULL || p->error != NULL)
		return MHD_YES;
	if (strcmp(key, "tag") == 0) { /* repeated key:value */
		const char *colon = strchr(value, ':');
		if (colon == NULL || colon == value)
			p->error = "tag must be key:value";
		else
			add_tag(p, value, (size_t)(colon - value), colon + 1);
	} else if (strcmp(key, "tags") == 0) { /* a JSON object of strings */
		json_error_t jerr;
		json_t *obj = json_loads(value, 0, &jerr), *v;
		const char *k;
		if (!json_is_object(obj)) {
			p->error = "tags must be a JSON object of strings";
		} else {
			json_object_foreach(obj, k, v) {
				if (!json_is_string(v)) {
					p->error = "tags must be a JSON object of strings";
					break;
				}
				add_tag(p, k, strlen(k), json_string_value(v));
			}
		}
		json_decref(obj);
	}
	return MHD_YES;
}

/* Reads an optional non-negative integer parameter; false when malformed. */
static bool
uint_param(struct MHD_Connection *c, const char *name, uint64_t *out)
{
	const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
	char *end;
	if (v == NULL || *v == '\0')
		return true;
	unsigned long long n = strtoull(v, &end, 10);
	if (*end != '\0' || *v == '-')
		return false;
	*out = n;
	return true;
}

static bool
duration_param(struct MHD_Connection *c, const char *name, uint64_t *out)
{
	const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
	return v == NULL || *v == '\0' || cm_duration_parse(v, out) == CM_OK;
}

static void
search_params_fini(search_params *p)
{
	for (int i = 0; i < p->nowned; i++)
		cm_free(p->owned[i]);
}

/* Reads Jaeger's search parameters; returns an error message or NULL. */
static const char *
parse_search(struct MHD_Connection *c, search_params *p)
{
	uint64_t start_us = 0, end_us = 0, limit = 20;

	memset(p, 0, sizeof *p);
	p->q.service = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "service");
	p->q.operation = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "operation");
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_search, p);
	p->q.tags = p->tags;
	if (p->error != NULL)
		return p->error;
	if (!uint_param(c, "start", &start_us) || !uint_param(c, "end", &end_us))
		return "start and end are unix microseconds";
	if (!uint_param(c, "limit", &limit) || limit == 0 || limit > 1000)
		return "limit must be 1..1000";
	if (!duration_param(c, "minDuration", &p->q.min_dur_ns) || !duration_param(c, "maxDuration", &p->q.max_dur_ns))
		return "minDuration and maxDuration are durations such as 1.2s, 500us or 100ms";
	if (p->q.max_dur_ns && p->q.min_dur_ns > p->q.max_dur_ns)
		return "minDuration is greater than maxDuration";
	if (end_us && start_us > end_us)
		return "start is after end";
	p->q.start_ns = start_us * 1000;
	p->q.end_ns = end_us * 1000;
	p->q.limit = (uint32_t)limit;
	if (p->q.operation && *p->q.operation && (!p->q.service || !*p->q.service))
		return "operation needs service";
	return NULL;
}

/* GET /api/traces with search parameters: matching traces, newest first. */
/*
 * The search parameters of c and the store to ask (NULL: none yet, an
 * empty answer). False when an error was sent instead, its result in *ret;
 * else fini p after the search.
 */
static bool
search_begin(qry_server *s, struct MHD_Connection *c, search_params *p, st_store **st, enum MHD_Result *ret)
{
	const char *bad = parse_search(c, p);
	bool empty;

	if (bad != NULL) {
		search_params_fini(p);
		*ret = send_error(c, 400, bad);
		return false;
	}
	*st = store_get(s, &empty);
	if (*st == NULL && !empty) {
		search_params_fini(p);
		*ret = send_error(c, 500, "store unavailable");
		return false;
	}
	return true;
}

static enum MHD_Result
search(qry_server *s, struct MHD_Connection *c)
{
	search_params p;
	st_traces found = { NULL, 0 };
	st_store *st;
	reply r;
	enum MHD_Result ret;
	int rv;

	if (!search_begin(s, c, &p, &st, &ret))
		return ret;
	rv = st != NULL ? st_search(st, &p.q, &found) : CM_OK;
	search_params_fini(&p);
	if (rv != CM_OK)
		return send_error(c, 500, cm_strerror(rv));
	reply_begin(&r);
	cm_jsonw_arr(&r.w);
	for (size_t i = 0; i < found.n; i++)
		write_jaeger_trace(s, c, &r.w, &found.v[i]);
	cm_jsonw_arr_end(&r.w);
	ret = reply_send(c, &r, found.n);
	st_traces_fini(&found);
	return ret;
}

/*
 * GET /api/summaries (weft's own) with /api/traces' search parameters: one
 * summary per trace, newest first, read from the index and the block
 * heads without decoding whole traces (storage/store.h).
 */
static enum MHD_Result
summaries(qry_server *s, struct MHD_Connection *c)
{
	search_params p;
	st_summaries found = { NULL, 0 };
	st_store *st;
	reply r;
	enum MHD_Result ret;
	char hex[33];
	int rv;

	if (!search_begin(s, c, &p, &st, &ret))
		return ret;
	rv = st != NULL ? st_search_summaries(st, &p.q, &found) : CM_OK;
	search_params_fini(&p);
	if (rv != CM_OK)
		return send_error(c, 500, cm_strerror(rv));
	reply_begin(&r);
	cm_jsonw_arr(&r.w);
	for (size_t i = 0; i < found.n; i++) {
		const st_summary *sum = &found.v[i];
		cm_hex_encode(sum->id.b, 16, hex);
		cm_jsonw_obj(&r.w);
		cm_jsonw_key(&r.w, "traceID");
		cm_jsonw_str(&r.w, hex);
		cm_jsonw_key(&r.w, "rootServiceName");
		if (sum->root_service != NULL)
			cm_jsonw_str(&r.w, sum->root_service);
		else
			cm_jsonw_null(&r.w); /* the root span has not arrived */
		cm_jsonw_key(&r.w, "rootTraceName");
		if (sum->root_operation != NULL)
			cm_jsonw_str(&r.w, sum->root_operation);
		else
			cm_jsonw_null(&r.w);
		cm_jsonw_key(&r.w, "startTime"); /* unix µs, as Jaeger's traces */
		cm_jsonw_uint(&r.w, sum->start_ns / 1000);
		cm_jsonw_key(&r.w, "duration");
		cm_jsonw_uint(&r.w, sum->duration_ns / 1000);
		cm_jsonw_key(&r.w, "spanCount");
		cm_jsonw_uint(&r.w, sum->spans);
		cm_jsonw_key(&r.w, "errorCount");
		cm_jsonw_uint(&r.w, sum->errors);
		cm_jsonw_key(&r.w, "services");
		cm_jsonw_arr(&r.w);
		for (size_t k = 0; k < sum->nservices; k++) {
			cm_jsonw_obj(&r.w);
			cm_jsonw_key(&r.w, "name");
			cm_jsonw_str(&r.w, sum->services[k].service);
			cm_jsonw_key(&r.w, "spanCount");
			cm_jsonw_uint(&r.w, sum->services[k].spans);
			cm_jsonw_obj_end(&r.w);
		}
		cm_jsonw_arr_end(&r.w);
		cm_jsonw_obj_end(&r.w);
	}
	cm_jsonw_arr_end(&r.w);
	ret = reply_send(c, &r, found.n);
	st_summaries_fini(&found);
	return ret;
}

static enum MHD_Result
collect_trace_ids(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	id_list *l = cls;
	(void)kind;
	if (key == NULL || strcmp(key, "traceID") != 0 || value == NULL)
		return MHD_YES;
	if (l->n == 64 || strlen(value) > 32) {
		l->overflow = true;
		return MHD_YES;
	}
	snprintf(l->ids[l->n++], sizeof l->ids[0], "%s", value);
	return MHD_YES;
}

/* GET /api/dependencies?endTs=MS&lookback=MS: [{parent, child, callCount}]. */
static enum MHD_Result
dependencies(qry_server *s, struct MHD_Connection *c)
{
	struct timespec now;
	uint64_t end_ms, lookback_ms = 24 * 3600 * 1000ull;
	st_deplist l = { NULL, 0 };
	bool empty;
	st_store *st;
	reply r;
	enum MHD_Result ret;

	clock_gettime(CLOCK_REALTIME, &now);
	end_ms = (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
	if (!uint_param(c, "endTs", &end_ms) || !uint_param(c, "lookback", &lookback_ms))
		return send_error(c, 400, "endTs and lookback are milliseconds");
	st = store_get(s, &empty);
	if (st == NULL && !empty)
		return send_error(c, 500, "store unavailable");
	if (st != NULL && st_dependencies(st, (end_ms > lookback_ms ? end_ms - lookback_ms : 0) * 1000000u,
	                      end_ms * 1000000u, &l) != CM_OK)
		return send_error(c, 500, "reading dependencies failed");
	reply_begin(&r);
	cm_jsonw_arr(&r.w);
	for (size_t i = 0; i < l.n; i++) {
		cm_jsonw_obj(&r.w);
		cm_jsonw_key(&r.w, "parent");
		cm_jsonw_str(&r.w, l.v[i].parent);
		cm_jsonw_key(&r.w, "child");
		cm_jsonw_str(&r.w, l.v[i].child);
		cm_jsonw_key(&r.w, "callCount");
		cm_jsonw_uint(&r.w, l.v[i].calls);
		cm_jsonw_obj_end(&r.w);
	}
	cm_jsonw_arr_end(&r.w);
	ret = reply_send(c, &r, l.n);
	st_deplist_fini(&l);
	return ret;
}

/*
 * GET /api/traces: with one or more traceID parameters, the traces found
 * (Jaeger's multi-get; 404 when none is); otherwise a search.
 */
static enum MHD_Result
traces(qry_server *s, struct MHD_Connection *c)
{
	id_list ids = { .n = 0 };
	bool empty;
	st_store *st;
	reply r;
	size_t found = 0;
	int rv = CM_OK;

	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_trace_ids, &ids);
	if (ids.overflow)
		return send_error(c, 400, "at most 64 traceID parameters of up to 32 hex digits");
	if (ids.n == 0)
		return search(s, c);
	for (int i = 0; i < ids.n; i++) {
		cm_trace_id id;
		if (cm_trace_id_parse(ids.ids[i], strlen(ids.ids[i]), &id) != CM_OK || cm_trace_id_is_zero(&id))
			return send_error(c, 400, "malformed traceID: want 1 to 32 hex digits, not all zero");
	}
	st = store_get(s, &empty);
	if (st == NULL)
		return empty ? send_error(c, 404, "trace not found") : send_error(c, 500, "store unavailable");
	reply_begin(&r);
	cm_jsonw_arr(&r.w);
	for (int i = 0; i < ids.n && rv == CM_OK; i++) {
		cm_trace_id id;
		cm_batch t;
		cm_trace_id_parse(ids.ids[i], strlen(ids.ids[i]), &id);
		cm_batch_init(&t);
		rv = st_trace_get(st, &id, &t);
		if (rv == CM_OK) {
			write_jaeger_trace(s, c, &r.w, &t);
			found++;
		} else if (rv == CM_ENOENT) {
			rv = CM_OK;
		}
		cm_batch_fini(&t);
	}
	cm_jsonw_arr_end(&r.w);
	if (rv == CM_OK && found > 0)
		return reply_send(c, &r, found);
	cm_buf_fini(&r.b);
	return rv != CM_OK ? send_error(c, 500, cm_strerror(rv)) : send_error(c, 404, "trace not found");
}

/*
 * Routes /api/traces/{id}[/critical-path|/breakdown] and /api/v3/traces/{id}:
 * rest is what follows the prefix (without a trailing slash).
 */
static enum MHD_Result
trace_route(qry_server *s, struct MHD_Connection *c, const char *rest, size_t len, bool v3)
{
	static const struct {
		const char *suffix;
		trace_view view;
	} suffixes[] = { { "/critical-path", VIEW_CRITICAL_PATH }, { "/breakdown", VIEW_BREAKDOWN } };
	trace_view view = v3 ? VIEW_OTLP : VIEW_JAEGER;
	char id[64];
	const char *slash = memchr(rest, '/', len);
	size_t idlen = slash ? (size_t)(slash - rest) : len;

	if (slash != NULL) {
		bool known = false;
		for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0] && !v3; i++) {
			if (len - idlen == strlen(suffixes[i].suffix) && memcmp(slash, suffixes[i].suffix, len - idlen) == 0) {
				view = suffixes[i].view;
				known = true;
			}
		}
		if (!known)
			return send_error(c, 404, "no such endpoint");
	}
	if (idlen == 0 || idlen >= sizeof id)
		return send_error(c, 400, "malformed trace id: want 1 to 32 hex digits, not all zero");
	memcpy(id, rest, idlen);
	id[idlen] = '\0';
	return trace(s, c, id, view);
}

/*
 * GET /metrics: the store's memory in Prometheus text. Reads what the
 * store holds without catching up with the collector, so a scrape does not
 * change what it measures.
 */
static enum MHD_Result
metrics(qry_server *s, struct MHD_Connection *c)
{
	st_memory mem = { 0 };
	cm_buf out;
	enum MHD_Result ret;

	pthread_mutex_lock(&s->mu);
	if (s->store != NULL)
		st_store_memory(s->store, &mem);
	pthread_mutex_unlock(&s->mu);
	cm_buf_init(&out);
	st_memory_render(&mem, &out);
	ret = send_body(c, 200, "text/plain; version=0.0.4", &out);
	cm_buf_fini(&out);
	return ret;
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
    const char *version, const char *upload, size_t *upload_size, void **state)
{
	qry_server *s = cls;
	static const char svc_prefix[] = "/api/services/";
	static const char ops_suffix[] = "/operations";
	static const char trace_prefix[] = "/api/traces/";
	static const char v3_prefix[] = "/api/v3/traces/";
	size_t len = strlen(url);
	(void)version;
	(void)upload;
	(void)upload_size;
	(void)state;

	if (s->auth != NULL &&
	    !cm_auth_header_ok(s->auth, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization")))
		return send_unauthorized(c);
	if (strcmp(method, "GET") != 0)
		return send_error(c, 405, "only GET is served here");
	if (len > 1 && url[len - 1] == '/')
		len--; /* a trailing slash is not a different resource */
	if (len == 8 && strncmp(url, "/metrics", 8) == 0)
		return metrics(s, c);
	if (len == 13 && strncmp(url, "/api/services", 13) == 0)
		return services(s, c);
	if (len == 11 && strncmp(url, "/api/traces", 11) == 0)
		return traces(s, c);
	if (len == 17 && strncmp(url, "/api/dependencies", 17) == 0)
		return dependencies(s, c);
	if (len == 14 && strncmp(url, "/api/summaries", 14) == 0)
		return summaries(s, c);
	if (len == 15 && strncmp(url, "/api/operations", 15) == 0) {
		const char *svc = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "service");
		if (svc == NULL || *svc == '\0')
			return send_error(c, 400, "parameter 'service' is required");
		return operations(s, c, svc, true, MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "spanKind"));
	}
	if (len > sizeof svc_prefix - 1 + sizeof ops_suffix - 1 &&
	    strncmp(url, svc_prefix, sizeof svc_prefix - 1) == 0 &&
	    strncmp(url + len - (sizeof ops_suffix - 1), ops_suffix, sizeof ops_suffix - 1) == 0) {
		size_t n = len - (sizeof svc_prefix - 1) - (sizeof ops_suffix - 1);
		char *svc = cm_strndup(url + sizeof svc_prefix - 1, n);
		enum MHD_Result ret;
		if (svc == NULL)
			return MHD_NO;
		ret = operations(s, c, svc, false, NULL);
		cm_free(svc);
		return ret;
	}
	if (len > sizeof trace_prefix - 1 && strncmp(url, trace_prefix, sizeof trace_prefix - 1) == 0)
		return trace_route(s, c, url + sizeof trace_prefix - 1, len - (sizeof trace_prefix - 1), false);
	if (len > sizeof v3_prefix - 1 && strncmp(url, v3_prefix, sizeof v3_prefix - 1) == 0)
		return trace_route(s, c, url + sizeof v3_prefix - 1, len - (sizeof v3_prefix - 1), true);
	return send_error(c, 404, "no such endpoint");
}

int
qry_server_start(const qry_server_config *cfg, qry_server **out, char *err, size_t errlen)
{
	struct sockaddr_storage sa;
	socklen_t salen;
	qry_server *s;

	if (cm_addr_parse(cfg->http_addr, &sa, &salen) != CM_OK) {
		snprintf(err, errlen, "bad --http address %s (want HOST:PORT)", cfg->http_addr);
		return CM_EINVAL;
	}
	if ((s = cm_calloc(1, sizeof *s)) == NULL)
		return CM_ENOMEM;
	if ((s->data_dir = cm_strndup(cfg->data_dir, strlen(cfg->data_dir))) == NULL) {
		cm_free(s);
		return CM_ENOMEM;
	}
	pthread_mutex_init(&s->mu, NULL);
	s->max_clock_skew_ns = cfg->max_clock_skew_ns;
	s->auth = cfg->auth;
	s->block_cache_bytes = cfg->block_cache_bytes;
	bool tls = cfg->tls_cert_pem != NULL;
	struct MHD_OptionItem tls_opts[] = {
		{ tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, (void *)cfg->tls_key_pem },
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)cfg->tls_cert_pem },
		{ MHD_OPTION_END, 0, NULL },
	};
	s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | (tls ? MHD_USE_TLS : 0) |
	        (sa.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
	    0, NULL, NULL, handler, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
	    MHD_OPTION_THREAD_POOL_SIZE, cfg->threads ? cfg->threads : 4u,
	    MHD_OPTION_CONNECTION_TIMEOUT, 60u,
	    /* Parsed query arguments live in this pool; at MHD's default (32 KiB)
	     * a request of ~900 '&' closed the connection unanswered (fuzz_query_params). */
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)QRY_CONNECTION_MEMORY,
	    MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
	if (s->d == NULL) {
		snprintf(err, errlen, "cannot listen on %s%s", cfg->http_addr,
		    tls ? " (or the TLS certificate and key do not load)" : "");
		qry_server_stop(s);
		return CM_EINVAL;
	}
	*out = s;
	return CM_OK;
}

void
qry_server_stop(qry_server *s)
{
	if (s == NULL)
		return;
	if (s->d != NULL)
		MHD_stop_daemon(s->d);
	st_store_close(s->store);
	pthread_mutex_destroy(&s->mu);
	cm_free(s->data_dir);
	cm_free(s);
}
