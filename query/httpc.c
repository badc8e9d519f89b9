/*
 * httpc.c - minimal HTTP/1.1 client: connect, send, read to close, parse.
 * https:// goes through GnuTLS, verifying the server's certificate against
 * the CA file set with qry_http_set_ca() or, without one, the system's.
 */
#include "httpc.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"

enum { MAX_RESPONSE = 256 << 20 };

static char bearer[256];
static char ca_file[1024];

/* A connection: plain, or TLS over fd when tls is set. */
typedef struct channel {
	int fd;
	gnutls_session_t tls;
	gnutls_certificate_credentials_t cred;
} channel;

static int
split_url(const char *url, char *host, size_t hcap, char *port, size_t pcap, bool *tls)
{
	const char *p, *end, *colon;
	size_t n;

	*tls = strncmp(url, "https://", 8) == 0;
	if (!*tls && strncmp(url, "http://", 7) != 0)
		return CM_EINVAL;
	p = url + (*tls ? 8 : 7);
	end = p + strcspn(p, "/");
	if (*p == '[') {
		const char *rb = memchr(p, ']', (size_t)(end - p));
		if (rb == NULL)
			return CM_EINVAL;
		n = (size_t)(rb - p - 1);
		if (n == 0 || n >= hcap)
			return CM_EINVAL;
		memcpy(host, p + 1, n);
		host[n] = '\0';
		colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
	} else {
		colon = memchr(p, ':', (size_t)(end - p));
		n = (size_t)((colon ? colon : end) - p);
		if (n == 0 || n >= hcap)
			return CM_EINVAL;
		memcpy(host, p, n);
		host[n] = '\0';
	}
	if (colon != NULL) {
		n = (size_t)(end - colon - 1);
		if (n == 0 || n >= pcap)
			return CM_EINVAL;
		memcpy(port, colon + 1, n);
		port[n] = '\0';
	} else {
		snprintf(port, pcap, *tls ? "443" : "80");
	}
	return CM_OK;
}

/* Starts TLS on ch->fd, verifying the server as host. */
static int
tls_start(channel *ch, const char *host, int timeout_ms, char *err, size_t errlen)
{
	int rv;

	if (gnutls_certificate_allocate_credentials(&ch->cred) != GNUTLS_E_SUCCESS)
		return CM_ENOMEM;
	rv = ca_file[0] ? gnutls_certificate_set_x509_trust_file(ch->cred, ca_file, GNUTLS_X509_FMT_PEM)
	                : gnutls_certificate_set_x509_system_trust(ch->cred);
	if (rv <= 0) {
		snprintf(err, errlen, "no CA certificate to verify %s with (%s)", host, ca_file[0] ? ca_file : "system store");
		return CM_EINVAL;
	}
	if (gnutls_init(&ch->tls, GNUTLS_CLIENT) != GNUTLS_E_SUCCESS) {
		ch->tls = NULL;
		return CM_ENOMEM;
	}
	gnutls_set_default_priority(ch->tls);
	gnutls_credentials_set(ch->tls, GNUTLS_CRD_CERTIFICATE, ch->cred);
	if (strspn(host, "0123456789.:") != strlen(host)) /* SNI takes names, not addresses */
		gnutls_server_name_set(ch->tls, GNUTLS_NAME_DNS, host, strlen(host));
	gnutls_session_set_verify_cert(ch->tls, host, 0);
	gnutls_transport_set_int(ch->tls, ch->fd);
	gnutls_handshake_set_timeout(ch->tls, (unsigned)timeout_ms);
	do
		rv = gnutls_handshake(ch->tls);
	while (rv < 0 && !gnutls_error_is_fatal(rv));
	if (rv < 0) {
		snprintf(err, errlen, "TLS with %s failed: %s", host, gnutls_strerror(rv));
		return CM_EPROTO;
	}
	return CM_OK;
}

static void
channel_close(channel *ch)
{
	if (ch->tls != NULL) {
		gnutls_bye(ch->tls, GNUTLS_SHUT_WR);
		gnutls_deinit(ch->tls);
	}
	if (ch->cred != NULL)
		gnutls_certificate_free_credentials(ch->cred);
	if (ch->fd >= 0)
		close(ch->fd);
}

/* recv()'s contract (bytes, 0 at the end, -1 with errno) over either kind of channel. */
static ssize_t
channel_recv(channel *ch, char *p, size_t n)
{
	ssize_t r;
	if (ch->tls == NULL)
		return recv(ch->fd, p, n, 0);
	do
		r = gnutls_record_recv(ch->tls, p, n);
	while (r == GNUTLS_E_INTERRUPTED);
	if (r == GNUTLS_E_AGAIN) {
		errno = EAGAIN;
		return -1;
	}
	if (r == GNUTLS_E_PREMATURE_TERMINATION)
		return 0; /* the server closed without close_notify: the body ends there */
	if (r < 0) {
		errno = EPROTO;
		return -1;
	}
	return r;
}

static int
connect_to(const char *host, const char *port, int timeout_ms, int *fd_out, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	int rv = CM_EUNREACHABLE, fd = -1;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &res) != 0) {
		snprintf(err, errlen, "cannot resolve %s", host);
		return CM_EINVAL;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		struct pollfd pfd;
		int soerr = 0;
		socklen_t slen = sizeof soerr;

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		fcntl(fd, F_SETFL, O_NONBLOCK);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS)
			goto next;
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, timeout_ms) != 1) {
			rv = CM_ETIMEDOUT;
			goto next;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) != 0 || soerr != 0)
			goto next;
		fcntl(fd, F_SETFL, 0);
		freeaddrinfo(res);
		*fd_out = fd;
		return CM_OK;
next:
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	snprintf(err, errlen, rv == CM_ETIMEDOUT ? "timed out connecting to %s:%s" : "cannot connect to %s:%s (is it running?)", host, port);
	return rv;
}

static int
send_all(channel *ch, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = ch->tls ? gnutls_record_send(ch->tls, p, n) : send(ch->fd, p, n, MSG_NOSIGNAL);
		if ((w < 0 && errno == EINTR) || w == GNUTLS_E_INTERRUPTED || w == GNUTLS_E_AGAIN)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Decodes a chunked body in place; returns its length or -1. */
static long
dechunk(char *p, size_t n)
{
	size_t in = 0, out = 0;
	for (;;) {
		char *end;
		unsigned long size = strtoul(p + in, &end, 16);
		char *crlf = memmem(p + in, n - in, "\r\n", 2);
		if (crlf == NULL || end == p + in)
			return -1;
		in = (size_t)(crlf - p) + 2;
		if (size == 0)
			return (long)out;
		if (size > n - in)
			return -1;
		memmove(p + out, p + in, size);
		out += size;
		in += size + 2;
		if (in > n)
			return -1;
	}
}

static int
parse_response(cm_buf *raw, qry_http_response *resp, char *err, size_t errlen)
{
	char *hdr_end, *body, *line;
	size_t body_len;
	long clen = -1;
	int chunked = 0;

	if (raw->len < 12 || strncmp(raw->data, "HTTP/1.", 7) != 0 ||
	    (hdr_end = memmem(raw->data, raw->len, "\r\n\r\n", 4)) == NULL) {
		snprintf(err, errlen, "garbled HTTP response");
		return CM_EPROTO;
	}
	resp->status = atoi(raw->data + 9);
	*hdr_end = '\0';
	for (line = strstr(raw->data, "\r\n"); line != NULL; line = strstr(line + 2, "\r\n")) {
		const char *h = line + 2;
		if (strncasecmp(h, "Content-Length:", 15) == 0)
			clen = atol(h + 15);
		else if (strncasecmp(h, "Transfer-Encoding:", 18) == 0 && strstr(h, "chunked") != NULL)
			chunked = 1;
	}
	body = hdr_end + 4;
	body_len = raw->len - (size_t)(body - raw->data);
	if (chunked) {
		long n = dechunk(body, body_len);
		if (n < 0) {
			snprintf(err, errlen, "garbled chunked HTTP body");
			return CM_EPROTO;
		}
		body_len = (size_t)n;
	} else if (clen >= 0) {
		if ((size_t)clen > body_len) {
			snprintf(err, errlen, "HTTP body shorter than its Content-Length");
			return CM_EPROTO;
		}
		body_len = (size_t)clen;
	}
	cm_buf_init(&resp->body);
	cm_buf_append(&resp->body, body, body_len);
	if (resp->body.data == NULL)
		cm_buf_append(&resp->body, "", 0);
	return resp->body.failed ? CM_ENOMEM : CM_OK;
}

int
qry_http_set_ca(const char *path)
{
	size_t n = path ? strlen(path) : 0;
	if (n >= sizeof ca_file)
		return CM_EINVAL;
	memcpy(ca_file, path ? path : "", n + 1);
	return CM_OK;
}

int
qry_http_set_bearer(const char *token)
{
	size_t n = token ? strlen(token) : 0;
	if (n >= sizeof bearer || strpbrk(token ? token : "", "\r\n") != NULL)
		return CM_EINVAL;
	memcpy(bearer, token ? token : "", n + 1);
	return CM_OK;
}

int
qry_http_request(const char *base_url, const char *method, const char *path,
    const char *content_type, const void *body, size_t body_len, int timeout_ms,
    qry_http_response *resp, char *err, size_t errlen)
{
	char host[256], port[16];
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	channel ch = { .fd = -1 };
	cm_buf req, raw;
	bool tls;
	int rv;

	if (split_url(base_url, host, sizeof host, port, sizeof port, &tls) != CM_OK) {
		snprintf(err, errlen, "bad URL %s (want http[s]://HOST:PORT)", base_url);
		return CM_EINVAL;
	}
	if ((rv = connect_to(host, port, timeout_ms, &ch.fd, err, errlen)) != CM_OK)
		return rv;
	setsockopt(ch.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(ch.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (tls && (rv = tls_start(&ch, host, timeout_ms, err, errlen)) != CM_OK) {
		channel_close(&ch);
		return rv;
	}
	cm_buf_init(&req);
	cm_buf_printf(&req, "%s %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\nAccept: application/json\r\n",
	    method, path, host, port);
	if (body != NULL)
		cm_buf_printf(&req, "Content-Type: %s\r\nContent-Length: %zu\r\n", content_type ? content_type : "application/json", body_len);
	if (bearer[0] != '\0')
		cm_buf_printf(&req, "Authorization: Bearer %s\r\n", bearer);
	cm_buf_puts(&req, "\r\n");
	if (body != NULL)
		cm_buf_append(&req, body, body_len);
	if (req.failed || send_all(&ch, req.data, req.len) != 0) {
		snprintf(err, errlen, "sending the request failed");
		cm_buf_fini(&req);
		channel_close(&ch);
		return CM_EUNREACHABLE;
	}
	cm_buf_fini(&req);
	cm_buf_init(&raw);
	for (;;) {
		ssize_t n;
		if (cm_buf_reserve(&raw, 65536) != CM_OK || raw.len > MAX_RESPONSE) {
			rv = CM_ETOOBIG;
			break;
		}
		n = channel_recv(&ch, raw.data + raw.len, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rv = errno == EAGAIN || errno == EWOULDBLOCK ? CM_ETIMEDOUT : CM_EPROTO;
			break;
		}
		if (n == 0) {
			rv = CM_OK;
			break;
		}
		raw.len += (size_t)n;
	}
	channel_close(&ch);
	if (rv == CM_OK)
		rv = parse_response(&raw, resp, err, errlen);
	else
		snprintf(err, errlen, "%s reading the response from %s", cm_strerror(rv), base_url);
	cm_buf_fini(&raw);
	return rv;
}

void
qry_url_escape(cm_buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~') {
			cm_buf_append(out, s, 1);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };
			cm_buf_append(out, e, 3);
		}
	}
}
