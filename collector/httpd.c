/*
 * httpd.c - body collection, limits, gzip and dispatch for collector listeners.
 *
 * Per-request state lives in `conn` (MHD's *con_cls): the body buffer, the
 * budget bytes taken, and why the request will be refused (if it will).
 * A refused body is still read to its end so the client gets the answer.
 */
#include "httpd.h"

#include <microhttpd.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "addr.h"
#include "alloc.h"
#include "err.h"
#include "log.h"

struct col_httpd {
	struct MHD_Daemon *d;
	col_httpd_config cfg;
};

typedef struct conn {
	cm_buf body;
	size_t seen;     /* body bytes received, kept or not */
	size_t taken;    /* from the budget */
	unsigned refuse; /* 0, 401, 413 or 429; a body over the size limit is 413 even if refused for memory first */
} conn;

void
col_http_error(col_http_reply *rep, unsigned status, const char *msg)
{
	rep->status = status;
	rep->content_type = "text/plain";
	rep->body.len = 0;
	cm_buf_printf(&rep->body, "%s\n", msg);
}

static enum MHD_Result
send_reply(struct MHD_Connection *c, col_http_reply *rep)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	char retry[16];

	r = MHD_create_response_from_buffer(rep->body.len, rep->body.data ? rep->body.data : (void *)"",
	    MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	if (rep->content_type != NULL)
		MHD_add_response_header(r, "Content-Type", rep->content_type);
	if (rep->status == 401)
		MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"weft\"");
	if (rep->retry_after_s > 0) {
		snprintf(retry, sizeof retry, "%u", rep->retry_after_s);
		MHD_add_response_header(r, "Retry-After", retry);
	}
	ret = MHD_queue_response(c, rep->status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Inflates gzip data into out, at most max bytes. Returns CM_OK, CM_ETOOBIG or CM_EPROTO. */
static int
gunzip(const char *in, size_t len, size_t max, cm_buf *out)
{
	z_stream z;
	int zr, rv = CM_OK;

	memset(&z, 0, sizeof z);
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return CM_ENOMEM;
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	do {
		if (cm_buf_reserve(out, 65536) != CM_OK) {
			rv = CM_ENOMEM;
			break;
		}
		z.next_out = (Bytef *)out->data + out->len;
		z.avail_out = 65536;
		zr = inflate(&z, Z_NO_FLUSH);
		out->len += 65536 - z.avail_out;
		if (out->len > max) {
			rv = CM_ETOOBIG;
			break;
		}
		if (zr != Z_OK && zr != Z_STREAM_END) {
			rv = CM_EPROTO;
			break;
		}
		if (zr == Z_OK && z.avail_in == 0 && z.avail_out != 0) {
			rv = CM_EPROTO; /* input ended before the gzip stream did */
			break;
		}
	} while (zr != Z_STREAM_END);
	inflateEnd(&z);
	return rv;
}

/* Counts a request refused before its handler ran: rejected (final) or throttled (retry). */
static void
count_refusal(col_httpd *h, unsigned status)
{
	col_metrics *m = h->cfg.metrics;
	if (m == NULL)
		return;
	atomic_fetch_add(&m->rx[h->cfg.rx].requests, 1);
	atomic_fetch_add(status == 429 ? &m->rx[h->cfg.rx].requests_throttled
	                               : &m->rx[h->cfg.rx].requests_rejected, 1);
}

/* Answers a request refused before its handler runs, and counts it. */
static void
refuse(col_httpd *h, col_http_reply *rep, unsigned status, const char *msg)
{
	col_http_error(rep, status, msg);
	if (status == 429)
		rep->retry_after_s = 1;
	count_refusal(h, status);
}

static void
finish(col_httpd *h, struct MHD_Connection *c, const char *method, const char *url, conn *st,
    col_http_reply *rep)
{
	const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
	const char *enc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Encoding");
	col_http_request req = { method, url, ctype ? ctype : "", st->body.data ? st->body.data : "", st->body.len };
	cm_buf inflated;
	int rv;

	if (st->refuse == 401) {
		refuse(h, rep, 401, "missing or invalid bearer token (Authorization: Bearer <token>)");
		return;
	}
	if (st->refuse == 413) {
		refuse(h, rep, 413, "request body over the size limit");
		return;
	}
	if (st->refuse == 429) {
		refuse(h, rep, 429, "collector is at its memory limit; retry later");
		return;
	}
	if (enc == NULL || *enc == '\0' || strcasecmp(enc, "identity") == 0) {
		h->cfg.handler(h->cfg.arg, &req, rep);
		return;
	}
	if (strcasecmp(enc, "gzip") != 0) {
		refuse(h, rep, 415, "unsupported Content-Encoding (gzip or identity)");
		return;
	}
	cm_buf_init(&inflated);
	rv = gunzip(req.body, req.len, h->cfg.max_decompressed, &inflated);
	if (rv == CM_ETOOBIG) {
		refuse(h, rep, 413, "decompressed body over the size limit");
	} else if (rv == CM_ENOMEM) {
		refuse(h, rep, 429, "collector is out of memory; retry later");
	} else if (rv != CM_OK) {
		refuse(h, rep, 400, "body is not valid gzip");
	} else if (h->cfg.budget != NULL && !col_budget_take(h->cfg.budget, inflated.len)) {
		refuse(h, rep, 429, "collector is at its memory limit; retry later");
	} else {
		st->taken += h->cfg.budget ? inflated.len : 0;
		req.body = inflated.data ? inflated.data : "";
		req.len = inflated.len;
		h->cfg.handler(h->cfg.arg, &req, rep);
	}
	cm_buf_fini(&inflated);
}

/* True when the listener is open, the path needs no token, or the request carries a valid one. */
static bool
authorized(col_httpd *h, struct MHD_Connection *c, const char *url)
{
	if (h->cfg.auth == NULL)
		return true;
	for (const char *const *p = h->cfg.open_paths; p != NULL && *p != NULL; p++)
		if (strcmp(url, *p) == 0)
			return true;
	return cm_auth_header_ok(h->cfg.auth, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"));
}

static enum MHD_Result
access_handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
    const char *version, const char *upload, size_t *upload_size, void **state)
{
	col_httpd *h = cls;
	conn *st = *state;
	col_http_reply rep;
	enum MHD_Result ret;
	(void)version;

	if (st == NULL) { /* headers only so far */
		if ((st = cm_calloc(1, sizeof *st)) == NULL)
			return MHD_NO;
		cm_buf_init(&st->body);
		*state = st;
		if (!authorized(h, c, url))
			st->refuse = 401;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		size_t n = *upload_size;
		*upload_size = 0;
		st->seen += n;
		if (st->seen > h->cfg.max_body)
			st->refuse = 413; /* final, whatever else happened */
		if (st->refuse) {
			cm_buf_fini(&st->body); /* drain: nothing more is kept */
			cm_buf_init(&st->body);
			return MHD_YES;
		}
		if (st->body.len + n > h->cfg.max_body) {
			st->refuse = 413;
		} else if (h->cfg.budget != NULL && !col_budget_take(h->cfg.budget, n)) {
			st->refuse = 429;
		} else {
			st->taken += h->cfg.budget ? n : 0;
			cm_buf_append(&st->body, upload, n);
			if (st->body.failed)
				st->refuse = 429;
		}
		if (st->refuse) {
			cm_buf_fini(&st->body);
			cm_buf_init(&st->body);
		}
		return MHD_YES;
	}
	memset(&rep, 0, sizeof rep);
	rep.status = 200;
	cm_buf_init(&rep.body);
	finish(h, c, method, url, st, &rep);
	ret = send_reply(c, &rep);
	cm_buf_fini(&rep.body);
	return ret;
}

static void
completed(void *cls, struct MHD_Connection *c, void **state, enum MHD_RequestTerminationCode code)
{
	col_httpd *h = cls;
	conn *st = *state;
	(void)c;
	(void)code;
	if (st == NULL)
		return;
	if (h->cfg.budget != NULL && st->taken > 0)
		col_budget_give(h->cfg.budget, st->taken);
	cm_buf_fini(&st->body);
	cm_free(st);
	*state = NULL;
}

int
col_httpd_start(const col_httpd_config *cfg, col_httpd **out, char *err, size_t errlen)
{
	struct sockaddr_storage sa;
	socklen_t salen;
	col_httpd *h;

	if (cm_addr_parse(cfg->addr, &sa, &salen) != CM_OK) {
		snprintf(err, errlen, "bad %s address %s (want HOST:PORT)", cfg->name, cfg->addr);
		return CM_EINVAL;
	}
	if ((h = cm_calloc(1, sizeof *h)) == NULL)
		return CM_ENOMEM;
	h->cfg = *cfg;
	bool tls = cfg->tls_cert_pem != NULL;
	struct MHD_OptionItem tls_opts[] = {
		{ tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, (void *)cfg->tls_key_pem },
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)cfg->tls_cert_pem },
		{ MHD_OPTION_END, 0, NULL },
	};
	h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | (tls ? MHD_USE_TLS : 0) |
	        (sa.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
	    0, NULL, NULL, access_handler, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
	    MHD_OPTION_NOTIFY_COMPLETED, completed, h,
	    MHD_OPTION_THREAD_POOL_SIZE, cfg->threads ? cfg->threads : 2u,
	    MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
	if (h->d == NULL) {
		snprintf(err, errlen, "cannot listen on %s for %s%s", cfg->addr, cfg->name,
		    tls ? " (or the TLS certificate and key do not load)" : "");
		cm_free(h);
		return CM_EINVAL;
	}
	if (!cm_addr_is_loopback(&sa) && (cfg->auth == NULL || !tls))
		cm_log(CM_LOG_WARN, "COL-EXPOSED", "%s listens on %s, beyond loopback, without %s", cfg->name, cfg->addr,
		    cfg->auth == NULL ? "auth (--auth-token-file)" : "TLS (--tls-cert, --tls-key)");
	*out = h;
	return CM_OK;
}

void
col_httpd_stop(col_httpd *h)
{
	if (h == NULL)
		return;
	MHD_stop_daemon(h->d);
	cm_free(h);
}
