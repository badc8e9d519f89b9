/*
 * auth.h - bearer tokens for weft's listeners (--auth-token-file).
 *
 * A token file holds one token per line (so a new token can be added
 * before the old one is retired); blank lines and lines starting with '#'
 * are ignored, surrounding whitespace is trimmed. Comparisons take the
 * same time whatever the tokens' contents, and nothing here logs a token.
 */
#ifndef WEFT_COMMON_AUTH_H
#define WEFT_COMMON_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#define CM_AUTH_MAX_TOKEN 255 /* bytes; the native protocol carries a 1-byte length */
#define CM_AUTH_MAX_TOKENS 16

typedef struct cm_auth {
	char tokens[CM_AUTH_MAX_TOKENS][CM_AUTH_MAX_TOKEN + 1];
	size_t lens[CM_AUTH_MAX_TOKENS];
	int n;
} cm_auth;

/*
 * Loads path into *a. Returns CM_OK, or CM_EIO / CM_EINVAL with the reason
 * in err (an unreadable file, no token, a token over 255 bytes or with
 * characters outside visible ASCII, more than 16 tokens).
 */
int cm_auth_load(const char *path, cm_auth *a, char *err, size_t errlen);

/* True when p[0..n) equals one of the tokens; time independent of where they differ. */
bool cm_auth_token_ok(const cm_auth *a, const char *p, size_t n);

/* True when an Authorization header value is "Bearer <a token>" (scheme in any case). */
bool cm_auth_header_ok(const cm_auth *a, const char *header);

#endif
