/*
 * addr.h - "host:port" listener addresses as the daemons' flags spell them.
 */
#ifndef WEFT_COMMON_ADDR_H
#define WEFT_COMMON_ADDR_H

#include <stdbool.h>
#include <sys/socket.h>

/*
 * Parses "HOST:PORT" (HOST a name or IPv4 literal, or "[IPv6]") into *out.
 * Returns CM_OK or CM_EINVAL.
 */
int cm_addr_parse(const char *s, struct sockaddr_storage *out, socklen_t *len);
/* True for addresses in 127.0.0.0/8 or ::1. */
bool cm_addr_is_loopback(const struct sockaddr_storage *a);

#endif
