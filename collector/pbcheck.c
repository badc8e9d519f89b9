/*
 * pbcheck.c - protobuf wire-format walker for the OTLP trace messages.
 */
#include "pbcheck.h"

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

/* Message types, and for each, which field numbers hold which submessage. */
enum msg { REQUEST, RESOURCE_SPANS, RESOURCE, SCOPE_SPANS, SCOPE, SPAN, EVENT, LINK, STATUS,
	KEY_VALUE, ANY_VALUE, ARRAY_VALUE, KV_LIST, NONE };

static enum msg
child(enum msg m, uint32_t field)
{
	switch (m) {
	case REQUEST: return field == 1 ? RESOURCE_SPANS : NONE;
	case RESOURCE_SPANS: return field == 1 ? RESOURCE : field == 2 ? SCOPE_SPANS : NONE;
	case RESOURCE: return field == 1 ? KEY_VALUE : NONE;
	case SCOPE_SPANS: return field == 1 ? SCOPE : field == 2 ? SPAN : NONE;
	case SCOPE: return field == 3 ? KEY_VALUE : NONE;
	case SPAN:
		return field == 9 ? KEY_VALUE : field == 11 ? EVENT : field == 13 ? LINK : field == 15 ? STATUS : NONE;
	case EVENT: return field == 3 ? KEY_VALUE : NONE;
	case LINK: return field == 4 ? KEY_VALUE : NONE;
	case KEY_VALUE: return field == 2 ? ANY_VALUE : NONE;
	case ANY_VALUE: return field == 5 ? ARRAY_VALUE : field == 6 ? KV_LIST : NONE;
	case ARRAY_VALUE: return field == 1 ? ANY_VALUE : NONE;
	case KV_LIST: return field == 1 ? KEY_VALUE : NONE;
	default: return NONE;
	}
}

/* Reads a varint at *p (< end). Returns false when truncated or over 10 bytes. */
static bool
varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 70; shift += 7) {
		if (*p >= end)
			return false;
		uint8_t b = *(*p)++;
		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return true;
	}
	return false;
}

int
col_pb_check_otlp_traces(const void *buf, size_t len, const char **why)
{
	struct frame {
		enum msg type;
		const uint8_t *end;
	} stack[COL_PB_MAX_DEPTH + 1];
	const uint8_t *p = buf;
	int top = 0;

	stack[0] = (struct frame){ REQUEST, p + len };
	for (;;) {
		uint64_t key, n;
		while (top > 0 && p == stack[top].end)
			top--;
		if (p == stack[top].end) /* top == 0 */
			return CM_OK;
		if (!varint(&p, stack[top].end, &key) || (key >> 3) == 0 || (key >> 3) > UINT32_MAX) {
			*why = "protobuf field key is malformed";
			return CM_EPROTO;
		}
		switch (key & 7) {
		case 0:
			if (!varint(&p, stack[top].end, &n)) {
				*why = "protobuf varint is truncated";
				return CM_EPROTO;
			}
			break;
		case 1:
		case 5: {
			size_t w = (key & 7) == 1 ? 8 : 4;
			if ((size_t)(stack[top].end - p) < w) {
				*why = "protobuf fixed-width field is truncated";
				return CM_EPROTO;
			}
			p += w;
			break;
		}
		case 2: {
			enum msg sub;
			if (!varint(&p, stack[top].end, &n) || n > (uint64_t)(stack[top].end - p)) {
				*why = "protobuf length runs past the end of its message";
				return CM_EPROTO;
			}
			sub = child(stack[top].type, (uint32_t)(key >> 3));
			if (sub == NONE) {
				p += n; /* a string, bytes, packed scalars, or an unknown field */
				break;
			}
			if (top == COL_PB_MAX_DEPTH) {
				*why = "OTLP request nested too deeply";
				return CM_EPROTO;
			}
			stack[++top] = (struct frame){ sub, p + n };
			break;
		}
		default:
			*why = "protobuf group or invalid wire type";
			return CM_EPROTO;
		}
	}
}
