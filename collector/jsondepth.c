/*
 * jsondepth.c - one pass over the bytes, tracking strings and escapes.
 */
#include "jsondepth.h"

bool
col_json_depth_ok(const char *p, size_t n, uint32_t max)
{
	uint32_t depth = 0;
	bool in_string = false;

	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (in_string) {
			if (c == '\\')
				i++; /* the escaped character cannot end the string */
			else if (c == '"')
				in_string = false;
		} else if (c == '"') {
			in_string = true;
		} else if (c == '[' || c == '{') {
			if (++depth > max)
				return false;
		} else if ((c == ']' || c == '}') && depth > 0) {
			depth--;
		}
	}
	return true;
}
