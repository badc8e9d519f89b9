/*
 * wire.c - native protocol framing, zstd and batch (de)serialisation.
 */
#include "wire.h"

#include <string.h>
#include <zstd.h>

#include "alloc.h"
#include "err.h"
#include "mpwrite.h"
#include "spanpack.h"

const cm_wire_limits cm_wire_default_limits = {
	.max_message = 16u << 20,
	.max_decompressed = 16u << 20,
	.max_spans = 100000,
};

/* batch > spans > span > attrs/events > event > attrs > value arrays (4) */
enum { FLAG_ZSTD = 1, FLAG_TOKEN = 2, FLAG_STRINGS = 4 };

#define FAIL(code, reason)      \
	do {                    \
		*why = (reason); \
		rv = (code);     \
		goto out;        \
	} while (0)

int
cm_wire_codec_init(cm_wire_codec *c)
{
	memset(c, 0, sizeof *c);
	c->cctx = ZSTD_createCCtx();
	c->dctx = ZSTD_createDCtx();
	cm_buf_init(&c->raw);
	if (c->cctx == NULL || c->dctx == NULL) {
		cm_wire_codec_fini(c);
		return CM_ENOMEM;
	}
	return CM_OK;
}

void
cm_wire_codec_fini(cm_wire_codec *c)
{
	ZSTD_freeCCtx(c->cctx);
	ZSTD_freeDCtx(c->dctx);
	cm_buf_fini(&c->raw);
	cm_strw_fini(&c->strw);
	cm_strs_fini(&c->strs);
	memset(c, 0, sizeof *c);
}

static void
put_header(char *h, int type, int flags, uint32_t raw_len)
{
	h[0] = 'W';
	h[1] = 'F';
	h[2] = CM_WIRE_VERSION;
	h[3] = (char)type;
	h[4] = (char)flags;
	h[5] = h[6] = h[7] = 0;
	h[8] = (char)(raw_len >> 24);
	h[9] = (char)(raw_len >> 16);
	h[10] = (char)(raw_len >> 8);
	h[11] = (char)raw_len;
}

int
cm_wire_encode_batch(cm_wire_codec *c, const cm_batch *b, int level, const char *token, cm_buf *out)
{
	char header[CM_WIRE_HEADER_SIZE];
	size_t tlen = token ? strlen(token) : 0, pre = CM_WIRE_HEADER_SIZE + (tlen ? 1 + tlen : 0);
	int tflag = tlen ? FLAG_TOKEN : 0;

	c->raw.len = 0;
	c->raw.failed = false;
	cm_strw_reset(&c->strw);
	cm_mpw_array(&c->raw, 3);
	cm_mpw_array(&c->raw, b->nresources);
	for (uint32_t i = 0; i < b->nresources; i++)
		cm_pack_resource(&c->raw, &c->strw, &b->resources[i]);
	cm_mpw_array(&c->raw, b->nscopes);
	for (uint32_t i = 0; i < b->nscopes; i++)
		cm_pack_scope(&c->raw, &c->strw, &b->scopes[i]);
	cm_mpw_array(&c->raw, b->nspans);
	for (uint32_t i = 0; i < b->nspans; i++)
		cm_pack_span(&c->raw, &c->strw, &b->spans[i], b->spans[i].resource, b->spans[i].scope);
	if (c->raw.failed)
		return CM_ENOMEM;
	if (c->raw.len > UINT32_MAX)
		return CM_ETOOBIG;
	if (tlen > CM_WIRE_MAX_TOKEN)
		return CM_EINVAL;

	out->len = 0;
	out->failed = false;
	put_header(header, CM_MSG_BATCH, FLAG_STRINGS | tflag | (level > 0 ? FLAG_ZSTD : 0), (uint32_t)c->raw.len);
	cm_buf_append(out, header, sizeof header);
	if (tlen) {
		uint8_t l = (uint8_t)tlen;
		cm_buf_append(out, &l, 1);
		cm_buf_append(out, token, tlen);
	}
	if (level <= 0) {
		cm_buf_append(out, c->raw.data, c->raw.len);
		return out->failed ? CM_ENOMEM : CM_OK;
	}
	size_t bound = ZSTD_compressBound(c->raw.len);
	if (out->failed || cm_buf_reserve(out, pre + bound) != CM_OK)
		return CM_ENOMEM;
	size_t n = ZSTD_compressCCtx(c->cctx, out->data + pre, bound, c->raw.data, c->raw.len, level);
	if (ZSTD_isError(n))
		return CM_ENOMEM;
	out->len = pre + n;
	return CM_OK;
}

static int
check_header(const uint8_t *m, size_t len, int *type, int *flags, uint32_t *raw_len, const char **why)
{
	if (len < CM_WIRE_HEADER_SIZE) {
		*why = "message shorter than the 12-byte header";
		return CM_EPROTO;
	}
	if (m[0] != 'W' || m[1] != 'F') {
		*why = "bad magic (not a weft message)";
		return CM_EPROTO;
	}
	if (m[2] != CM_WIRE_VERSION) {
		*why = "unsupported wire version";
		return CM_EVERSION;
	}
	*type = m[3];
	*flags = m[4];
	if ((*flags & ~(FLAG_ZSTD | FLAG_TOKEN | FLAG_STRINGS)) != 0 || m[5] || m[6] || m[7]) {
		*why = "unknown flags or reserved bits set";
		return CM_EPROTO;
	}
	*raw_len = (uint32_t)m[8] << 24 | (uint32_t)m[9] << 16 | (uint32_t)m[10] << 8 | m[11];
	return CM_OK;
}

/* Where the payload starts: after the header and, with FLAG_TOKEN, the token. 0 when the token overruns. */
static size_t
payload_offset(const uint8_t *m, size_t len, int flags)
{
	size_t off = CM_WIRE_HEADER_SIZE;
	if (flags & FLAG_TOKEN) {
		if (len < off + 1 || m[off] == 0 || len < off + 1 + m[off])
			return 0;
		off += 1 + m[off];
	}
	return off;
}

bool
cm_wire_token(const void *msg, size_t len, const char **token, size_t *tlen)
{
	const uint8_t *m = msg;
	const char *why;
	int type, flags;
	uint32_t raw_len;

	if (check_header(m, len, &type, &flags, &raw_len, &why) != CM_OK || !(flags & FLAG_TOKEN) ||
	    payload_offset(m, len, flags) == 0)
		return false;
	*token = (const char *)m + CM_WIRE_HEADER_SIZE + 1;
	*tlen = m[CM_WIRE_HEADER_SIZE];
	return true;
}

int
cm_wire_decode_batch(cm_wire_codec *c, const void *msg, size_t len,
    const cm_wire_limits *lim, cm_batch *out, const char **why)
{
	const uint8_t *m = msg;
	int type, flags, rv;
	uint32_t raw_len, n;
	char *raw = NULL;
	size_t start;
	cm_mpread r = { NULL, NULL, NULL };

	if (len > lim->max_message)
		FAIL(CM_ETOOBIG, "message over the size limit");
	if ((rv = check_header(m, len, &type, &flags, &raw_len, why)) != CM_OK)
		goto out;
	if (type != CM_MSG_BATCH)
		FAIL(CM_EPROTO, "message is not a batch");
	if (raw_len > lim->max_decompressed)
		FAIL(CM_ETOOBIG, "decompressed size over the limit");
	if ((start = payload_offset(m, len, flags)) == 0)
		FAIL(CM_EPROTO, "token length runs past the message");
	if ((raw = cm_malloc(raw_len)) == NULL)
		FAIL(CM_ENOMEM, "out of memory");
	if (flags & FLAG_ZSTD) {
		size_t got = ZSTD_decompressDCtx(c->dctx, raw, raw_len, m + start, len - start);
		if (ZSTD_isError(got) || got != raw_len)
			FAIL(CM_EPROTO, "zstd payload corrupt or of the wrong length");
	} else {
		if (len - start != raw_len)
			FAIL(CM_EPROTO, "payload length does not match the header");
		memcpy(raw, m + start, raw_len);
	}
	out->owned = raw; /* strings of the batch point into it from now on */
	raw = NULL;

	/* [resources, scopes, spans], read in one pass */
	r = cm_mp_reader(out->owned, raw_len);
	if (flags & FLAG_STRINGS) {
		c->strs.n = 0;
		c->strs.oom = c->strs.badref = false;
		r.strs = &c->strs;
	}
	if (!cm_mp_read_array(&r, &n) || n != 3)
		FAIL(CM_EPROTO, "batch is not a 3-element array");
	if (!cm_mp_read_array(&r, &out->nresources))
		FAIL(CM_EPROTO, "resources are not an array");
	if ((out->resources = cm_arena_alloc(&out->arena, sizeof(cm_resource) * (out->nresources + 1))) == NULL)
		FAIL(CM_ENOMEM, "out of memory");
	for (uint32_t i = 0; i < out->nresources; i++)
		if ((rv = cm_unpack_resource(&r, &out->arena, &out->resources[i], why)) != CM_OK)
			goto out;
	if (!cm_mp_read_array(&r, &out->nscopes))
		FAIL(CM_EPROTO, "scopes are not an array");
	if ((out->scopes = cm_arena_alloc(&out->arena, sizeof(cm_scope) * (out->nscopes + 1))) == NULL)
		FAIL(CM_ENOMEM, "out of memory");
	for (uint32_t i = 0; i < out->nscopes; i++)
		if ((rv = cm_unpack_scope(&r, &out->arena, &out->scopes[i], why)) != CM_OK)
			goto out;
	if (!cm_mp_read_array(&r, &n))
		FAIL(CM_EPROTO, "spans are not an array");
	if (n > lim->max_spans)
		FAIL(CM_ETOOBIG, "more spans than the batch limit");
	/* cm_unpack_span() clears each span it reads: zeroing the array first was a second memset of every span. */
	if ((out->spans = cm_arena_alloc_uninit(&out->arena, sizeof(cm_span) * (n + 1))) == NULL)
		FAIL(CM_ENOMEM, "out of memory");
	for (out->nspans = 0; out->nspans < n; out->nspans++) {
		uint64_t rref, sref;
		cm_span *s = &out->spans[out->nspans];
		if ((rv = cm_unpack_span(&r, &out->arena, s, &rref, &sref, why)) != CM_OK)
			goto out;
		if (rref >= out->nresources || sref >= out->nscopes)
			FAIL(CM_EPROTO, "span refers to a resource or scope that is not in the batch");
		s->resource = (uint32_t)rref;
		s->scope = (uint32_t)sref;
	}
	if (r.p != r.end)
		FAIL(CM_EPROTO, "trailing bytes after the batch");
	rv = CM_OK;
out:
	if (rv == CM_EPROTO && r.strs != NULL && r.strs->oom)
		rv = CM_ENOMEM;
	else if (rv == CM_EPROTO && r.strs != NULL && r.strs->badref)
		*why = "string reference to a string the payload has not numbered yet";
	if (rv == CM_ENOMEM)
		*why = "out of memory";
	cm_free(raw);
	return rv;
}

int
cm_wire_encode_reply(const cm_wire_reply *r, cm_buf *out)
{
	char header[CM_WIRE_HEADER_SIZE] = { 0 };
	size_t start;

	out->len = 0;
	out->failed = false;
	cm_buf_append(out, header, sizeof header);
	start = out->len;
	cm_mpw_array(out, 3);
	cm_mpw_uint(out, r->accepted);
	cm_mpw_uint(out, r->retry_ms);
	cm_pack_str(out, cm_str_from(r->reason));
	if (out->failed)
		return CM_ENOMEM;
	put_header(out->data, r->type, 0, (uint32_t)(out->len - start));
	return CM_OK;
}

int
cm_wire_decode_reply(const void *msg, size_t len, cm_wire_reply *r)
{
	const char *why;
	int type, flags;
	uint32_t raw_len, n;
	uint64_t accepted, retry_ms;
	cm_mpread rd;
	cm_str reason;

	if (check_header(msg, len, &type, &flags, &raw_len, &why) != CM_OK || flags != 0 ||
	    raw_len != len - CM_WIRE_HEADER_SIZE ||
	    (type != CM_MSG_OK && type != CM_MSG_RETRY && type != CM_MSG_REJECTED))
		return CM_EPROTO;
	/* [accepted, retry_ms, reason], read in place: the SDK decodes replies inside the host application */
	rd = cm_mp_reader((const uint8_t *)msg + CM_WIRE_HEADER_SIZE, raw_len);
	if (!cm_mp_read_array(&rd, &n) || n != 3 || !cm_mp_read_uint(&rd, &accepted) || accepted > UINT32_MAX ||
	    !cm_mp_read_uint(&rd, &retry_ms) || retry_ms > UINT32_MAX || !cm_mp_read_str(&rd, &reason) ||
	    rd.p != rd.end)
		return CM_EPROTO;
	memset(r, 0, sizeof *r);
	r->type = type;
	r->accepted = (uint32_t)accepted;
	r->retry_ms = (uint32_t)retry_ms;
	n = reason.len < sizeof r->reason - 1 ? reason.len : (uint32_t)sizeof r->reason - 1;
	memcpy(r->reason, reason.p, n);
	return CM_OK;
}
