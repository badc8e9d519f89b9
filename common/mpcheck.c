/*
 * mpcheck.c - msgpack structure walker (format per the msgpack spec).
 *
 * The walk keeps, per nesting level, how many objects are still to come.
 * Each object takes at least one byte, so a container that announces more
 * elements than bytes remain is rejected at once.
 */
#include "mpcheck.h"

#include <stdint.h>

#include "err.h"

enum { MAX_LEVELS = 64 };

static uint64_t
be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

int
cm_msgpack_check(const void *buf, size_t len, int max_depth, const char **why)
{
	const uint8_t *p = buf, *end = p + len;
	uint64_t pending[MAX_LEVELS];
	int depth = 0;

	if (max_depth > MAX_LEVELS - 1)
		max_depth = MAX_LEVELS - 1;
	pending[0] = 1;
	while (depth >= 0) {
		uint64_t head = 0, body = 0, children = 0;
		uint8_t b;

		if (pending[depth] == 0) {
			depth--;
			continue;
		}
		if (p >= end) {
			*why = "msgpack data ends inside an object";
			return CM_EPROTO;
		}
		pending[depth]--;
		b = *p;
		if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
			head = 1;
		} else if (b >= 0x80 && b <= 0x8f) {
			head = 1, children = 2u * (b & 0x0f);
		} else if (b >= 0x90 && b <= 0x9f) {
			head = 1, children = b & 0x0f;
		} else if (b >= 0xa0 && b <= 0xbf) {
			head = 1, body = b & 0x1f;
		} else {
			static const struct {
				uint8_t head, lenbytes, extra, kind; /* kind: 0 scalar, 1 blob, 2 array, 3 map */
			} t[] = {
				[0x04] = { 2, 1, 0, 1 }, [0x05] = { 3, 2, 0, 1 }, [0x06] = { 5, 4, 0, 1 },  /* bin */
				[0x07] = { 3, 1, 1, 1 }, [0x08] = { 4, 2, 1, 1 }, [0x09] = { 6, 4, 1, 1 },  /* ext */
				[0x0a] = { 5, 0, 0, 0 }, [0x0b] = { 9, 0, 0, 0 },                          /* float */
				[0x0c] = { 2, 0, 0, 0 }, [0x0d] = { 3, 0, 0, 0 }, [0x0e] = { 5, 0, 0, 0 }, [0x0f] = { 9, 0, 0, 0 },
				[0x10] = { 2, 0, 0, 0 }, [0x11] = { 3, 0, 0, 0 }, [0x12] = { 5, 0, 0, 0 }, [0x13] = { 9, 0, 0, 0 },
				[0x14] = { 3, 0, 0, 0 }, [0x15] = { 4, 0, 0, 0 }, [0x16] = { 6, 0, 0, 0 }, /* fixext */
				[0x17] = { 10, 0, 0, 0 }, [0x18] = { 18, 0, 0, 0 },
				[0x19] = { 2, 1, 0, 1 }, [0x1a] = { 3, 2, 0, 1 }, [0x1b] = { 5, 4, 0, 1 }, /* str */
				[0x1c] = { 3, 2, 0, 2 }, [0x1d] = { 5, 4, 0, 2 },                          /* array */
				[0x1e] = { 3, 2, 0, 3 }, [0x1f] = { 5, 4, 0, 3 },                          /* map */
			};
			uint8_t i = (uint8_t)(b - 0xc0);
			if (i >= sizeof t / sizeof t[0] || t[i].head == 0) {
				*why = "msgpack data has an invalid type byte";
				return CM_EPROTO;
			}
			head = t[i].head;
			if ((uint64_t)(end - p) < head) {
				*why = "msgpack data ends inside an object header";
				return CM_EPROTO;
			}
			if (t[i].lenbytes) {
				uint64_t n = be(p + 1, t[i].lenbytes);
				if (t[i].kind == 1)
					body = n;
				else
					children = t[i].kind == 3 ? 2 * n : n;
			}
		}
		if ((uint64_t)(end - p) < head || (uint64_t)(end - p) - head < body) {
			*why = "msgpack string or binary is longer than the data";
			return CM_EPROTO;
		}
		p += head + body;
		if (children > 0) {
			if (children > (uint64_t)(end - p)) {
				*why = "msgpack container announces more elements than the data holds";
				return CM_EPROTO;
			}
			if (depth + 1 > max_depth) {
				*why = "msgpack data nested too deeply";
				return CM_EPROTO;
			}
			pending[++depth] = children;
		}
	}
	if (p != end) {
		*why = "trailing bytes after the msgpack object";
		return CM_EPROTO;
	}
	return CM_OK;
}
