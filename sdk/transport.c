/*
 * transport.c - Scalability Protocols REQ over TCP and IPC, on plain sockets.
 *
 * Wire, per connection: each side sends 8 bytes {0, 'S', 'P', 0, proto
 * (16-bit BE), 0, 0} with REQ = 0x30 and REP = 0x31, and checks the other's.
 * Then each message is a 64-bit BE length and that many bytes; over IPC a
 * byte 0x01 (user message) comes first. A REQ message starts with a 32-bit
 * BE request id whose high bit is set; the REP reply starts with the same
 * four bytes. Replies with another id (a late answer) are skipped.
 *
 * tls+tcp:// runs the same bytes through mbedTLS (NNG's own TLS library),
 * the handshake before the SP greeting, as NNG's tls+tcp transport does.
 */
#include "transport.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "addr.h"
#include "alloc.h"
#include "clock.h"
#include "err.h"
#include "ids.h"

enum { PROTO_REQ = 0x30, PROTO_REP = 0x31, MAX_REPLY = 1 << 20, IPC_USER_MSG = 1 };

#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

struct sdk_tls {
	mbedtls_ssl_context ssl;
	mbedtls_ssl_config conf;
	mbedtls_x509_crt ca;
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	char host[256];
	bool active; /* a session is set up on the current fd */
};

static void
tls_free(struct sdk_tls *t)
{
	if (t == NULL)
		return;
	mbedtls_ssl_free(&t->ssl);
	mbedtls_ssl_config_free(&t->conf);
	mbedtls_x509_crt_free(&t->ca);
	mbedtls_ctr_drbg_free(&t->drbg);
	mbedtls_entropy_free(&t->entropy);
	cm_free(t);
}

/* The client configuration: TLS 1.2+, the server verified against ca_file for host. */
static int
tls_new(sdk_conn *c, const char *hostport, const char *ca_file)
{
	static const char pers[] = "weft";
	struct sdk_tls *t = cm_calloc(1, sizeof *t);
	const char *colon = strrchr(hostport, ':');
	size_t n = colon ? (size_t)(colon - hostport) : 0;

	if (t == NULL)
		return CM_ENOMEM;
	c->tls = t;
	mbedtls_ssl_init(&t->ssl);
	mbedtls_ssl_config_init(&t->conf);
	mbedtls_x509_crt_init(&t->ca);
	mbedtls_ctr_drbg_init(&t->drbg);
	mbedtls_entropy_init(&t->entropy);
	if (n == 0 || n >= sizeof t->host)
		return CM_EINVAL;
	memcpy(t->host, hostport, n);
	t->host[n] = '\0';
	if (mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func, &t->entropy, (const unsigned char *)pers,
	        sizeof pers - 1) != 0 ||
	    mbedtls_x509_crt_parse_file(&t->ca, ca_file ? ca_file : SYSTEM_CA_BUNDLE) < 0 ||
	    mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
	        MBEDTLS_SSL_PRESET_DEFAULT) != 0)
		return CM_EINVAL;
	mbedtls_ssl_conf_min_version(&t->conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&t->conf, &t->ca, NULL);
	mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &t->drbg);
	if (mbedtls_ssl_setup(&t->ssl, &t->conf) != 0)
		return CM_ENOMEM;
	return CM_OK;
}

static int
bio_send(void *ctx, const unsigned char *p, size_t n)
{
	ssize_t w = send(*(int *)ctx, p, n, MSG_NOSIGNAL);
	if (w >= 0)
		return (int)w;
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? MBEDTLS_ERR_SSL_WANT_WRITE
	                                                                 : MBEDTLS_ERR_NET_SEND_FAILED;
}

static int
bio_recv(void *ctx, unsigned char *p, size_t n)
{
	ssize_t r = recv(*(int *)ctx, p, n, 0);
	if (r >= 0)
		return (int)r; /* 0: the peer closed */
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? MBEDTLS_ERR_SSL_WANT_READ
	                                                                 : MBEDTLS_ERR_NET_RECV_FAILED;
}

int
sdk_conn_init(sdk_conn *c, const char *url, const char *ca_file)
{
	memset(c, 0, sizeof *c);
	c->fd = -1;
	c->req_id = (uint32_t)cm_rand64();
	if ((c->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
		return CM_ENOMEM;
	if (strncmp(url, "tcp://", 6) == 0)
		return cm_addr_parse(url + 6, &c->addr, &c->addrlen);
	if (strncmp(url, "tls+tcp://", 10) == 0) {
		int rv = cm_addr_parse(url + 10, &c->addr, &c->addrlen);
		return rv != CM_OK ? rv : tls_new(c, url + 10, ca_file);
	}
	if (strncmp(url, "ipc://", 6) == 0) {
		struct sockaddr_un *un = (struct sockaddr_un *)&c->addr;
		size_t n = strlen(url + 6);
		if (n == 0 || n >= sizeof un->sun_path)
			return CM_EINVAL;
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, url + 6, n + 1);
		c->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
		c->ipc = true;
		return CM_OK;
	}
	return CM_EINVAL;
}

/* Drops the connection; notify sends TLS's close_notify first (not in a forked child: the session is the parent's). */
static void
drop(sdk_conn *c, bool notify)
{
	if (c->tls != NULL && c->tls->active) {
		if (notify)
			mbedtls_ssl_close_notify(&c->tls->ssl);
		mbedtls_ssl_session_reset(&c->tls->ssl);
		c->tls->active = false;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

void
sdk_conn_close(sdk_conn *c)
{
	drop(c, true);
}

void
sdk_conn_cancel(sdk_conn *c)
{
	uint64_t one = 1;
	if (write(c->cancel_fd, &one, sizeof one) < 0) {
		/* the counter is already non-zero: cancelled */
	}
}

int
sdk_conn_after_fork(sdk_conn *c)
{
	drop(c, false);
	if (c->tls != NULL)
		mbedtls_ctr_drbg_reseed(&c->tls->drbg, NULL, 0); /* never the parent's random stream */
	close(c->cancel_fd);
	c->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return c->cancel_fd >= 0 ? CM_OK : CM_ENOMEM;
}

void
sdk_conn_fini(sdk_conn *c)
{
	sdk_conn_close(c);
	tls_free(c->tls);
	c->tls = NULL;
	if (c->cancel_fd >= 0)
		close(c->cancel_fd);
	c->cancel_fd = -1;
	cm_free(c->rbuf);
	c->rbuf = NULL;
	c->rcap = 0;
}

/* Milliseconds left until deadline (monotonic ns), at least 0. */
static int
left_ms(uint64_t deadline)
{
	uint64_t now = cm_mono_ns();
	return now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);
}

/* Waits for events on fd until deadline, or until the connection is cancelled. */
static int
wait_fd(sdk_conn *c, int fd, short events, uint64_t deadline)
{
	struct pollfd p[2] = { { .fd = fd, .events = events }, { .fd = c->cancel_fd, .events = POLLIN } };
	for (;;) {
		int ms = left_ms(deadline), rv;
		if (ms == 0)
			return CM_ETIMEDOUT;
		rv = poll(p, 2, ms);
		if (rv > 0 && p[1].revents)
			return CM_ECLOSED;
		if (rv > 0)
			return CM_OK;
		if (rv == 0)
			return CM_ETIMEDOUT;
		if (errno != EINTR)
			return CM_EIO;
	}
}

/* Waits as mbedTLS asks (WANT_READ / WANT_WRITE); other results are errors. */
static int
tls_wait(sdk_conn *c, int r, uint64_t deadline)
{
	if (r == MBEDTLS_ERR_SSL_WANT_READ)
		return wait_fd(c, c->fd, POLLIN, deadline);
	if (r == MBEDTLS_ERR_SSL_WANT_WRITE)
		return wait_fd(c, c->fd, POLLOUT, deadline);
	return CM_EIO;
}

static int
tls_send_all(sdk_conn *c, struct iovec *iov, int n, uint64_t deadline)
{
	for (int i = 0; i < n; i++) {
		const unsigned char *p = iov[i].iov_base;
		size_t left = iov[i].iov_len;
		while (left > 0) {
			int w = mbedtls_ssl_write(&c->tls->ssl, p, left), rv;
			if (w > 0) {
				p += w;
				left -= (size_t)w;
			} else if ((rv = tls_wait(c, w, deadline)) != CM_OK) {
				return rv;
			}
		}
	}
	return CM_OK;
}

/* Sends all of iov, MSG_NOSIGNAL so that a closed peer never raises SIGPIPE in the host. */
static int
send_all(sdk_conn *c, struct iovec *iov, int n, uint64_t deadline)
{
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)n };

	if (c->tls != NULL && c->tls->active)
		return tls_send_all(c, iov, n, deadline);
	while (m.msg_iovlen > 0) {
		ssize_t w = sendmsg(c->fd, &m, MSG_NOSIGNAL);
		int rv;
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return CM_EIO;
			if ((rv = wait_fd(c, c->fd, POLLOUT, deadline)) != CM_OK)
				return rv;
			continue;
		}
		while (m.msg_iovlen > 0 && (size_t)w >= m.msg_iov->iov_len) {
			w -= (ssize_t)m.msg_iov->iov_len;
			m.msg_iov++;
			m.msg_iovlen--;
		}
		if (m.msg_iovlen > 0) {
			m.msg_iov->iov_base = (char *)m.msg_iov->iov_base + w;
			m.msg_iov->iov_len -= (size_t)w;
		}
	}
	return CM_OK;
}

static int
recv_all(sdk_conn *c, void *dst, size_t n, uint64_t deadline)
{
	size_t got = 0;
	while (got < n && c->tls != NULL && c->tls->active) {
		int r = mbedtls_ssl_read(&c->tls->ssl, (unsigned char *)dst + got, n - got), rv;
		if (r > 0)
			got += (size_t)r;
		else if (r == 0 || r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
			return CM_EIO;
		else if ((rv = tls_wait(c, r, deadline)) != CM_OK)
			return rv;
	}
	while (got < n) {
		ssize_t r = recv(c->fd, (char *)dst + got, n - got, 0);
		int rv;
		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (r == 0)
			return CM_EIO;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return CM_EIO;
		if ((rv = wait_fd(c, c->fd, POLLIN, deadline)) != CM_OK)
			return rv;
	}
	return CM_OK;
}

/* TLS over the connected c->fd: handshake and certificate check, within the deadline. */
static int
tls_handshake(sdk_conn *c, uint64_t deadline)
{
	struct sdk_tls *t = c->tls;
	int r, rv;

	if (mbedtls_ssl_set_hostname(&t->ssl, t->host) != 0)
		return CM_EINVAL;
	mbedtls_ssl_set_bio(&t->ssl, &c->fd, bio_send, bio_recv, NULL);
	t->active = true;
	while ((r = mbedtls_ssl_handshake(&t->ssl)) != 0)
		if ((rv = tls_wait(c, r, deadline)) != CM_OK)
			return rv == CM_EIO ? CM_EPROTO : rv;
	return CM_OK;
}

static int
connect_to(sdk_conn *c, uint64_t deadline)
{
	static const uint8_t hello[8] = { 0, 'S', 'P', 0, 0, PROTO_REQ, 0, 0 };
	uint8_t peer[8];
	struct iovec iov = { (void *)hello, sizeof hello };
	int fd, rv, one = 1, soerr = 0;
	socklen_t sl = sizeof soerr;

	fd = socket(c->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return CM_EUNREACHABLE;
	if (connect(fd, (struct sockaddr *)&c->addr, c->addrlen) != 0) {
		if (errno != EINPROGRESS && errno != EAGAIN) {
			close(fd);
			return CM_EUNREACHABLE;
		}
		if ((rv = wait_fd(c, fd, POLLOUT, deadline)) != CM_OK ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
			close(fd);
			return rv == CM_ETIMEDOUT || rv == CM_ECLOSED ? rv : CM_EUNREACHABLE;
		}
	}
	if (!c->ipc)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c->fd = fd; /* from here the connection (and TLS, which reads c->fd) is dropped as a whole */
	if (c->tls != NULL && (rv = tls_handshake(c, deadline)) != CM_OK) {
		drop(c, false);
		return rv == CM_ETIMEDOUT || rv == CM_ECLOSED ? rv : CM_EPROTO;
	}
	if ((rv = send_all(c, &iov, 1, deadline)) != CM_OK || (rv = recv_all(c, peer, sizeof peer, deadline)) != CM_OK) {
		drop(c, false);
		return rv == CM_ETIMEDOUT || rv == CM_ECLOSED ? rv : CM_EUNREACHABLE;
	}
	if (memcmp(peer, hello, 4) != 0 || peer[4] != 0 || peer[5] != PROTO_REP) {
		drop(c, false);
		return CM_EPROTO;
	}
	return CM_OK;
}

static void
put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Reads one message into c->rbuf; *n is its length. */
static int
read_message(sdk_conn *c, size_t *n, uint64_t deadline)
{
	uint8_t hdr[9];
	size_t hlen = c->ipc ? 9 : 8;
	uint64_t len = 0;
	int rv;

	if ((rv = recv_all(c, hdr, hlen, deadline)) != CM_OK)
		return rv;
	if (c->ipc && hdr[0] != IPC_USER_MSG)
		return CM_EPROTO;
	for (size_t i = hlen - 8; i < hlen; i++)
		len = len << 8 | hdr[i];
	if (len < 4 || len > MAX_REPLY)
		return CM_EPROTO;
	if (len > c->rcap) {
		uint8_t *b = cm_realloc(c->rbuf, (size_t)len);
		if (b == NULL)
			return CM_ENOMEM;
		c->rbuf = b;
		c->rcap = (size_t)len;
	}
	*n = (size_t)len;
	return recv_all(c, c->rbuf, (size_t)len, deadline);
}

static int
exchange(sdk_conn *c, const void *msg, size_t len, uint64_t deadline, const uint8_t **reply, size_t *rlen)
{
	uint8_t hdr[13], id[4];
	size_t hlen = 0, n;
	struct iovec iov[2];
	int rv;

	c->req_id = (c->req_id + 1) | 0x80000000u;
	put_be32(id, c->req_id);
	if (c->ipc)
		hdr[hlen++] = IPC_USER_MSG;
	put_be64(hdr + hlen, (uint64_t)len + 4);
	hlen += 8;
	memcpy(hdr + hlen, id, 4);
	hlen += 4;
	iov[0] = (struct iovec){ hdr, hlen };
	iov[1] = (struct iovec){ (void *)msg, len };
	if ((rv = send_all(c, iov, 2, deadline)) != CM_OK)
		return rv;
	for (;;) {
		if ((rv = read_message(c, &n, deadline)) != CM_OK)
			return rv;
		if (memcmp(c->rbuf, id, 4) == 0)
			break;
	}
	*reply = c->rbuf + 4;
	*rlen = n - 4;
	return CM_OK;
}

int
sdk_conn_request(sdk_conn *c, const void *msg, size_t len, uint32_t timeout_ms,
    const uint8_t **reply, size_t *rlen)
{
	uint64_t deadline = cm_mono_ns() + (uint64_t)timeout_ms * 1000000u;
	int rv;

	if (c->fd < 0 && (rv = connect_to(c, deadline)) != CM_OK)
		return rv;
	if ((rv = exchange(c, msg, len, deadline, reply, rlen)) != CM_OK)
		sdk_conn_close(c);
	return rv;
}
