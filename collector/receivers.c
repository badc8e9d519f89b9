/*
 * receivers.c - OTLP/HTTP and Zipkin: content negotiation, decoding, replies.
 */
#include "receivers.h"

#include <string.h>
#include <strings.h>

#include "err.h"
#include "jsondepth.h"
#include "jsonw.h"
#include "log.h"
#include "otlp_json.h"
#include "otlp_proto.h"
#include "otlp_trace.pb-c.h"
#include "zipkin.h"

#define ADD(counter, n) atomic_fetch_add_explicit(&(counter), (n), memory_order_relaxed)

enum { RETRY_AFTER_S = 1, RPC_INVALID_ARGUMENT = 3, RPC_UNAVAILABLE = 14 };

/* True when the media type of content_type (parameters ignored) is `want`. */
static bool
media_is(const char *content_type, const char *want)
{
	size_t n = strlen(want);
	return strncasecmp(content_type, want, n) == 0 &&
	    (content_type[n] == '\0' || content_type[n] == ';' || content_type[n] == ' ');
}

/* An OTLP error reply: google.rpc.Status in JSON or protobuf. */
static void
otlp_error(col_http_reply *rep, bool json, unsigned status, int rpc_code, const char *msg)
{
	rep->status = status;
	rep->body.len = 0;
	if (json) {
		cm_jsonw w;
		rep->content_type = "application/json";
		cm_jsonw_init(&w, &rep->body);
		cm_jsonw_obj(&w);
		cm_jsonw_key(&w, "code");
		cm_jsonw_int(&w, rpc_code);
		cm_jsonw_key(&w, "message");
		cm_jsonw_str(&w, msg);
		cm_jsonw_obj_end(&w);
	} else {
		Weft__Otlp__RpcStatus st = WEFT__OTLP__RPC_STATUS__INIT;
		size_t n;
		st.code = rpc_code;
		st.message = (char *)msg;
		rep->content_type = "application/x-protobuf";
		n = weft__otlp__rpc_status__get_packed_size(&st);
		if (cm_buf_reserve(&rep->body, n) == CM_OK) {
			weft__otlp__rpc_status__pack(&st, (uint8_t *)rep->body.data);
			rep->body.len = n;
		}
	}
}

static bool
too_many_spans(const col_pipeline *p, const cm_batch *b)
{
	return p->limits.max_batch_spans > 0 && b->nspans > p->limits.max_batch_spans;
}

void
col_otlp_handle(void *arg, const col_http_request *req, col_http_reply *rep)
{
	col_pipeline *p = arg;
	col_metrics *m = p->metrics;
	bool json = media_is(req->content_type, "application/json");
	bool proto = media_is(req->content_type, "application/x-protobuf");
	col_write_result res;
	const char *why = "";
	cm_batch b;
	int rv;

	if (strcmp(req->path, "/v1/traces") != 0) {
		col_http_error(rep, 404, "not found (OTLP traces are POSTed to /v1/traces)");
		return;
	}
	if (strcmp(req->method, "POST") != 0) {
		col_http_error(rep, 405, "method not allowed (POST)");
		return;
	}
	ADD(m->rx[COL_RX_OTLP_HTTP].requests, 1);
	if (!json && !proto) {
		ADD(m->rx[COL_RX_OTLP_HTTP].requests_rejected, 1);
		col_http_error(rep, 415, "unsupported Content-Type (application/json or application/x-protobuf)");
		return;
	}
	cm_batch_init(&b);
	if (json && p->limits.max_json_depth > 0 && !col_json_depth_ok(req->body, req->len, p->limits.max_json_depth)) {
		why = "JSON nested deeper than the limit (--max-json-depth)";
		rv = CM_EPROTO;
	} else {
		rv = json ? col_otlp_json_decode(req->body, req->len, &b, &why)
		          : col_otlp_proto_decode(req->body, req->len, &b, &why);
	}
	if (rv == CM_OK && too_many_spans(p, &b)) {
		ADD(m->rx[COL_RX_OTLP_HTTP].requests_rejected, 1);
		otlp_error(rep, json, 413, RPC_INVALID_ARGUMENT, "more spans in one request than the limit (--max-batch-spans)");
		cm_batch_fini(&b);
		return;
	}
	if (rv != CM_OK) {
		ADD(m->rx[COL_RX_OTLP_HTTP].requests_rejected, 1);
		cm_log(CM_LOG_DEBUG, "COL-OTLP-BAD", "rejected request: %s", why);
		otlp_error(rep, json, rv == CM_ENOMEM ? 503 : 400,
		    rv == CM_ENOMEM ? RPC_UNAVAILABLE : RPC_INVALID_ARGUMENT, why);
		if (rv == CM_ENOMEM)
			rep->retry_after_s = RETRY_AFTER_S;
		cm_batch_fini(&b);
		return;
	}
	rv = col_pipeline_write(p, COL_RX_OTLP_HTTP, &b, NULL, 0, &res);
	if (rv != CM_OK) {
		ADD(m->rx[COL_RX_OTLP_HTTP].requests_throttled, 1);
		otlp_error(rep, json, 503, RPC_UNAVAILABLE, "storage cannot take writes now; retry later");
		rep->retry_after_s = RETRY_AFTER_S;
	} else {
		rep->content_type = json ? "application/json" : "application/x-protobuf";
		if (json)
			col_otlp_json_response(&rep->body, res.rejected, res.first_reason);
		else
			col_otlp_proto_response(&rep->body, res.rejected, res.first_reason);
	}
	cm_batch_fini(&b);
}

void
col_zipkin_handle(void *arg, const col_http_request *req, col_http_reply *rep)
{
	col_pipeline *p = arg;
	col_metrics *m = p->metrics;
	col_write_result res;
	const char *why = "";
	cm_batch b;
	int rv;

	if (strcmp(req->path, "/api/v2/spans") != 0) {
		col_http_error(rep, 404, "not found (Zipkin v2 spans are POSTed to /api/v2/spans)");
		return;
	}
	if (strcmp(req->method, "POST") != 0) {
		col_http_error(rep, 405, "method not allowed (POST)");
		return;
	}
	ADD(m->rx[COL_RX_ZIPKIN].requests, 1);
	if (*req->content_type != '\0' && !media_is(req->content_type, "application/json")) {
		ADD(m->rx[COL_RX_ZIPKIN].requests_rejected, 1);
		col_http_error(rep, 415, "unsupported Content-Type (application/json; Zipkin protobuf is not accepted)");
		return;
	}
	cm_batch_init(&b);
	if (p->limits.max_json_depth > 0 && !col_json_depth_ok(req->body, req->len, p->limits.max_json_depth)) {
		why = "JSON nested deeper than the limit (--max-json-depth)";
		rv = CM_EPROTO;
	} else {
		rv = col_zipkin_decode(req->body, req->len, &b, &why);
	}
	if (rv != CM_OK) {
		ADD(m->rx[COL_RX_ZIPKIN].requests_rejected, 1);
		col_http_error(rep, rv == CM_ENOMEM ? 503 : 400, why);
	} else if (too_many_spans(p, &b)) {
		ADD(m->rx[COL_RX_ZIPKIN].requests_rejected, 1);
		col_http_error(rep, 413, "more spans in one request than the limit (--max-batch-spans)");
	} else if (col_pipeline_write(p, COL_RX_ZIPKIN, &b, NULL, 0, &res) != CM_OK) {
		ADD(m->rx[COL_RX_ZIPKIN].requests_throttled, 1);
		col_http_error(rep, 503, "storage cannot take writes now; retry later");
		rep->retry_after_s = RETRY_AFTER_S;
	} else if (res.accepted == 0 && res.rejected > 0) {
		col_http_error(rep, 400, res.first_reason);
	} else {
		rep->status = 202;
	}
	cm_batch_fini(&b);
}
