/*
 * transport.c - Scalability Protocols REQ over TCP and IPC, on plain sockets.
 *
 * Wire, per connection: each side sends 8 bytes {0, 'S', 'P', 0, proto
 * (16-bit BE), 0, 0} with REQ = 0x30 and REP = 0x31, and checks the other's.
 * Then each message is a 64-bit BE length and that many bytes; over IPC a
 * byte 0x01 (user message) comes first. A REQ message starts with a 32-bit
 * BE request id whose high bit is set; the REP reply starts with the same
 * four bytes. Replies with another id (a late answer) are skipped.
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

#include "addr.h"
#include "alloc.h"
#include "clock.h"
#include "err.h"
#include "ids.h"

enum { PROTO_REQ = 0x30, PROTO_REP = 0x31, MAX_REPLY = 1 << 20, IPC_USER_MSG = 1 };

int
sdk_conn_init(sdk_conn *c, const char *url)
{
	memset(c, 0, sizeof *c);
	c->fd = -1;
	c->req_id = (uint32_t)cm_rand64();
	if ((c->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
		return CM_ENOMEM;
	if (strncmp(url, "tcp://", 6) == 0)
		return cm_addr_parse(url + 6, &c->addr, &c->addrlen);
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

void
sdk_conn_close(sdk_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
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
	sdk_conn_close(c);
	close(c->cancel_fd);
	c->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return c->cancel_fd >= 0 ? CM_OK : CM_ENOMEM;
}

void
sdk_conn_fini(sdk_conn *c)
{
	sdk_conn_close(c);
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

/* Sends all of iov, MSG_NOSIGNAL so that a closed peer never raises SIGPIPE in the host. */
static int
send_all(sdk_conn *c, int fd, struct iovec *iov, int n, uint64_t deadline)
{
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)n };

	while (m.msg_iovlen > 0) {
		ssize_t w = sendmsg(fd, &m, MSG_NOSIGNAL);
		int rv;
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return CM_EIO;
			if ((rv = wait_fd(c, fd, POLLOUT, deadline)) != CM_OK)
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
recv_all(sdk_conn *c, int fd, void *dst, size_t n, uint64_t deadline)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = recv(fd, (char *)dst + got, n - got, 0);
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
		if ((rv = wait_fd(c, fd, POLLIN, deadline)) != CM_OK)
			return rv;
	}
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
	if ((rv = send_all(c, fd, &iov, 1, deadline)) != CM_OK || (rv = recv_all(c, fd, peer, sizeof peer, deadline)) != CM_OK) {
		close(fd);
		return rv == CM_ETIMEDOUT || rv == CM_ECLOSED ? rv : CM_EUNREACHABLE;
	}
	if (memcmp(peer, hello, 4) != 0 || peer[4] != 0 || peer[5] != PROTO_REP) {
		close(fd);
		return CM_EPROTO;
	}
	c->fd = fd;
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

	if ((rv = recv_all(c, c->fd, hdr, hlen, deadline)) != CM_OK)
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
	return recv_all(c, c->fd, c->rbuf, (size_t)len, deadline);
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
	if ((rv = send_all(c, c->fd, iov, 2, deadline)) != CM_OK)
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
