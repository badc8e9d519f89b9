/*
 * httpc.h - a minimal blocking HTTP/1.1 client for the weft CLI and tests.
 *
 * One request per connection (Connection: close); the body is read until
 * Content-Length, the end of a chunked body, or the server closes. The
 * base URL is "http://host:port" or "https://host:port" (TLS through
 * GnuTLS, the server's certificate verified).
 */
#ifndef WEFT_QUERY_HTTPC_H
#define WEFT_QUERY_HTTPC_H

#include <stddef.h>

#include "buf.h"

typedef struct qry_http_response {
	int status;
	cm_buf body;
} qry_http_response;

/*
 * Sends METHOD base_url+path (path already percent-encoded) with an
 * optional body, waiting at most timeout_ms for each step. Returns CM_OK with
 * *resp filled (fini its body), CM_EINVAL for a bad URL, CM_EUNREACHABLE
 * when nothing listens, CM_ETIMEDOUT, or CM_EPROTO for a garbled response;
 * err gets a one-line reason.
 */
int qry_http_request(const char *base_url, const char *method, const char *path,
    const char *content_type, const void *body, size_t body_len, int timeout_ms,
    qry_http_response *resp, char *err, size_t errlen);

/*
 * Makes every later request carry "Authorization: Bearer <token>" (NULL:
 * none). Process-wide, for the CLI (WEFT_AUTH_TOKEN) and tests; call it
 * before starting threads that make requests. The token is copied.
 */
int qry_http_set_bearer(const char *token);

/* Makes https:// requests trust the CA certificates in the PEM file path (NULL: the system's). Process-wide. */
int qry_http_set_ca(const char *path);

/* Appends s percent-encoded for use in a URL path segment or query value. */
void qry_url_escape(cm_buf *out, const char *s);

#endif
