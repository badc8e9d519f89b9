/*
 * jsondepth.h - a nesting-depth limit checked before a JSON body is parsed.
 *
 * jansson recurses once per nesting level and allows 2048 of them; a body
 * of nothing but brackets costs stack and time for no span. The receivers
 * refuse deeper bodies (400) before handing them to the parser.
 */
#ifndef WEFT_COLLECTOR_JSONDEPTH_H
#define WEFT_COLLECTOR_JSONDEPTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when no array or object in p[0..n) is nested deeper than max (brackets inside strings do not count). */
bool col_json_depth_ok(const char *p, size_t n, uint32_t max);

#endif
