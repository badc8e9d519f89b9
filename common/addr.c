/*
 * addr.c - listener address parsing.
 */
#include "addr.h"

#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

int
cm_addr_parse(const char *s, struct sockaddr_storage *out, socklen_t *len)
{
	char host[256];
	const char *colon, *port;
	struct addrinfo hints, *res = NULL;
	size_t hlen;
	char *end;
	long p;

	if (s == NULL || (colon = strrchr(s, ':')) == NULL)
		return CM_EINVAL;
	port = colon + 1;
	p = strtol(port, &end, 10);
	if (*port == '\0' || *end != '\0' || p < 0 || p > 65535)
		return CM_EINVAL;
	hlen = (size_t)(colon - s);
	if (hlen >= 2 && s[0] == '[' && s[hlen - 1] == ']') {
		s++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof host)
		return CM_EINVAL;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
	if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL)
		return CM_EINVAL;
	memcpy(out, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return CM_OK;
}

bool
cm_addr_is_loopback(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr) >> 24) == 127;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &in6addr_loopback,
		           sizeof(struct in6_addr)) == 0;
	return false;
}
