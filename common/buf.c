/*
 * buf.c - growable byte buffer.
 */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "err.h"

void
cm_buf_init(cm_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->failed = false;
}

void
cm_buf_fini(cm_buf *b)
{
	cm_free(b->data);
	cm_buf_init(b);
}

int
cm_buf_grow(cm_buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->cap - b->len > n)
		return CM_OK;
	cap = b->cap ? b->cap : 256;
	while (cap - b->len <= n)
		cap *= 2;
	p = cm_realloc(b->data, cap);
	if (p == NULL) {
		b->failed = true;
		return CM_ENOMEM;
	}
	b->data = p;
	b->cap = cap;
	return CM_OK;
}

void
cm_buf_append(cm_buf *b, const void *p, size_t n)
{
	if (cm_buf_reserve(b, n) != CM_OK)
		return;
	if (n > 0) /* p may be NULL for an empty append */
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
cm_buf_puts(cm_buf *b, const char *s)
{
	cm_buf_append(b, s, strlen(s));
}

void
cm_buf_printf(cm_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	/* Format once into the free space; only a text that does not fit is formatted twice. */
	if (cm_buf_reserve(b, 64) != CM_OK)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= b->cap - b->len) {
		if (cm_buf_reserve(b, (size_t)n + 1) != CM_OK)
			return;
		va_start(ap, fmt);
		vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

char *
cm_buf_detach(cm_buf *b, size_t *len)
{
	char *p = b->data;
	if (len != NULL)
		*len = b->len;
	cm_buf_init(b);
	return p;
}

int
cm_buf_read_file(cm_buf *b, const char *path)
{
	char chunk[65536];
	size_t n;
	FILE *f = fopen(path, "rb");

	if (f == NULL)
		return CM_EIO;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		cm_buf_append(b, chunk, n);
	n = (size_t)ferror(f);
	fclose(f);
	if (n != 0)
		return CM_EIO;
	cm_buf_append(b, "", 1);
	if (b->failed)
		return CM_ENOMEM;
	b->len--;
	return CM_OK;
}
