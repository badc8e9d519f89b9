/*
 * wire.h - weft's native protocol between libweft and weft-collector.
 *
 * Every message, request or reply, starts with a 12-byte header:
 *   0..1  magic "WF"
 *   2     version (1)
 *   3     type: 1 BATCH, 2 OK, 3 RETRY, 4 REJECTED
 *   4     flags: bit 0 = payload is one zstd frame; bit 1 = a token follows
 *         the header (1 length byte, 1..255 bytes) before the payload
 *   5..7  reserved, zero
 *   8..11 payload length before compression, uint32 big-endian
 * followed by the payload (msgpack, see common/spanpack.h):
 *   BATCH:           [resources[], scopes[], spans[]]  (span refs are indexes)
 *   OK/RETRY/REJECTED: [accepted_spans, retry_after_ms, reason]
 * The full description is docs/wire-format.md.
 *
 * A codec keeps zstd contexts and a scratch buffer between calls; it belongs
 * to one thread at a time.
 */
#ifndef WEFT_COMMON_WIRE_H
#define WEFT_COMMON_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "span.h"
#include "strtab.h"

#define CM_WIRE_HEADER_SIZE 12
#define CM_WIRE_VERSION 1
#define CM_WIRE_MAX_TOKEN 255

typedef enum cm_msg_type {
	CM_MSG_BATCH = 1,
	CM_MSG_OK = 2,
	CM_MSG_RETRY = 3,
	CM_MSG_REJECTED = 4,
} cm_msg_type;

typedef struct cm_wire_limits {
	size_t max_message;      /* bytes on the wire */
	size_t max_decompressed; /* payload bytes after zstd */
	uint32_t max_spans;      /* spans in one batch */
} cm_wire_limits;

/* 16 MiB on the wire, 16 MiB decompressed, 100,000 spans. */
extern const cm_wire_limits cm_wire_default_limits;

typedef struct cm_wire_codec {
	void *cctx; /* ZSTD_CCtx */
	void *dctx; /* ZSTD_DCtx */
	cm_buf raw;
	cm_strw strw; /* the string table of the batch being encoded */
	cm_strs strs; /* ... and of the batch being decoded */
} cm_wire_codec;

typedef struct cm_wire_reply {
	int type; /* CM_MSG_OK, CM_MSG_RETRY or CM_MSG_REJECTED */
	uint32_t accepted;
	uint32_t retry_ms;
	char reason[160];
} cm_wire_reply;

int cm_wire_codec_init(cm_wire_codec *c);
void cm_wire_codec_fini(cm_wire_codec *c);

/*
 * Encodes b as a BATCH message into out (which is cleared first),
 * compressing with zstd at `level` when level > 0, carrying `token` (the
 * collector's bearer token; NULL or "" for none, at most 255 bytes).
 */
int cm_wire_encode_batch(cm_wire_codec *c, const cm_batch *b, int level, const char *token, cm_buf *out);

/* The token a message carries, if any (not NUL-terminated). */
bool cm_wire_token(const void *msg, size_t len, const char **token, size_t *tlen);

/*
 * Decodes a BATCH message into out, an initialised empty batch.
 * Returns CM_OK, CM_EPROTO / CM_EVERSION / CM_ETOOBIG with *why set to a
 * static reason, or CM_ENOMEM. On error out may hold partial data: fini it.
 */
int cm_wire_decode_batch(cm_wire_codec *c, const void *msg, size_t len,
    const cm_wire_limits *lim, cm_batch *out, const char **why);

int cm_wire_encode_reply(const cm_wire_reply *r, cm_buf *out);
/* OUT: *r. Returns CM_OK or CM_EPROTO. */
int cm_wire_decode_reply(const void *msg, size_t len, cm_wire_reply *r);

#endif
