/*
 * transport.h - the exporter's connection to weft-collector: a REQ client
 * of the Scalability Protocols (NNG's wire protocol) over TCP or IPC.
 *
 * The collector listens with an NNG REP socket; this client speaks the same
 * protocol from plain sockets (greeting "\0SP\0" + protocol id, 64-bit
 * big-endian message lengths, IPC's extra message-type byte, and REQ's
 * 32-bit request id with the high bit set at the head of each message). It
 * exists instead of libnng in the SDK because libnng aborts a forked child
 * that touches it ("nng is not fork-reentrant safe") and starts a pool of
 * threads in the host; this client is one file descriptor used by the
 * exporter thread alone. docs/architecture.md measures and records it.
 *
 * Every call is synchronous with a deadline; any error closes the
 * connection, and the next request reconnects.
 */
#ifndef WEFT_SDK_TRANSPORT_H
#define WEFT_SDK_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct sdk_tls;

typedef struct sdk_conn {
	int fd;           /* -1 when not connected */
	struct sdk_tls *tls; /* tls+tcp://: mbedTLS state; NULL for tcp:// and ipc:// */
	int cancel_fd;    /* eventfd: sdk_conn_cancel() wakes a blocked request */
	bool ipc;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	uint32_t req_id;
	uint8_t *rbuf;    /* the last reply */
	size_t rcap;
} sdk_conn;

/*
 * Parses url: "tcp://HOST:PORT", "tls+tcp://HOST:PORT" or "ipc:///path".
 * Does not connect. For TLS the server's certificate must chain to a CA in
 * ca_file (PEM; NULL: the system's bundle) and name HOST. Returns CM_OK,
 * CM_EINVAL for another scheme, a malformed address or CA file, or
 * CM_ENOMEM. sdk_conn_fini() is safe after a failed init.
 */
int sdk_conn_init(sdk_conn *c, const char *url, const char *ca_file);
void sdk_conn_fini(sdk_conn *c);
/* Drops the connection. */
void sdk_conn_close(sdk_conn *c);
/* Makes the current and every later request fail with CM_ECLOSED (any thread). */
void sdk_conn_cancel(sdk_conn *c);
/*
 * In a forked child: forgets the parent's connection and cancel event
 * (closing the child's copies leaves the parent's untouched) and makes new
 * ones. Returns CM_OK or CM_ENOMEM.
 */
int sdk_conn_after_fork(sdk_conn *c);

/*
 * Sends msg as one request and waits for its reply, timeout_ms in all,
 * connecting first if needed. On CM_OK *reply and *rlen hold the reply's
 * body until the next call. Errors: CM_EUNREACHABLE (cannot connect),
 * CM_ETIMEDOUT, CM_EIO (connection lost), CM_EPROTO (the peer is not a
 * REP socket or sent a malformed or oversized message), CM_ENOMEM,
 * CM_ECLOSED (cancelled).
 */
int sdk_conn_request(sdk_conn *c, const void *msg, size_t len, uint32_t timeout_ms,
    const uint8_t **reply, size_t *rlen);

#endif
