/*
 * base64.h - standard base64 (RFC 4648, with padding), as JSON carries bytes.
 */
#ifndef WEFT_COMMON_BASE64_H
#define WEFT_COMMON_BASE64_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

void cm_base64_encode(cm_buf *out, const uint8_t *src, size_t n);

#endif
