/*
 * auth.c - bearer token files and constant-time checks.
 */
#include "auth.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "err.h"

static bool
visible(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x21 || p[i] > 0x7e)
			return false;
	return true;
}

int
cm_auth_load(const char *path, cm_auth *a, char *err, size_t errlen)
{
	char line[1024];
	FILE *f = fopen(path, "r");
	int rv = CM_OK, lineno = 0;

	memset(a, 0, sizeof *a);
	if (f == NULL) {
		snprintf(err, errlen, "cannot read token file %s: %s", path, strerror(errno));
		return CM_EIO;
	}
	while (rv == CM_OK && fgets(line, sizeof line, f) != NULL) {
		char *p = line;
		size_t n;
		lineno++;
		while (*p == ' ' || *p == '\t')
			p++;
		n = strcspn(p, "\r\n");
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == 0 || *p == '#')
			continue;
		if (n > CM_AUTH_MAX_TOKEN || !visible(p, n)) {
			snprintf(err, errlen, "token file %s line %d: a token is 1..255 visible ASCII characters", path, lineno);
			rv = CM_EINVAL;
		} else if (a->n == CM_AUTH_MAX_TOKENS) {
			snprintf(err, errlen, "token file %s: more than %d tokens", path, CM_AUTH_MAX_TOKENS);
			rv = CM_EINVAL;
		} else {
			memcpy(a->tokens[a->n], p, n);
			a->lens[a->n++] = n;
		}
	}
	fclose(f);
	if (rv == CM_OK && a->n == 0) {
		snprintf(err, errlen, "token file %s holds no token", path);
		rv = CM_EINVAL;
	}
	return rv;
}

/* Compares over the whole fixed-size slot, so the time does not depend on the contents or lengths. */
static bool
same(const char *slot, size_t len, const char *p, size_t n)
{
	unsigned char diff = (unsigned char)(len != n);
	for (size_t i = 0; i < CM_AUTH_MAX_TOKEN; i++) {
		unsigned char c = i < n ? (unsigned char)p[i] : 0;
		diff |= (unsigned char)(c ^ (unsigned char)slot[i]);
	}
	return diff == 0;
}

bool
cm_auth_token_ok(const cm_auth *a, const char *p, size_t n)
{
	bool ok = false;
	if (n > CM_AUTH_MAX_TOKEN)
		return false;
	for (int i = 0; i < a->n; i++)
		ok |= same(a->tokens[i], a->lens[i], p, n);
	return ok;
}

bool
cm_auth_header_ok(const cm_auth *a, const char *header)
{
	if (header == NULL || strncasecmp(header, "Bearer ", 7) != 0)
		return false;
	header += 7;
	size_t n;
	while (*header == ' ')
		header++;
	n = strcspn(header, " \t");
	if (header[n + strspn(header + n, " \t")] != '\0')
		return false;
	return cm_auth_token_ok(a, header, n);
}
