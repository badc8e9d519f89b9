/*
 * spanwrite.c - the write path: one cm_batch -> one RocksDB write batch.
 *
 * Resources and scopes are stored once per distinct content (keyed by the
 * hash of their encoding); each span value refers to them by that hash.
 * Services and operations are upserted so listing them needs no scan of spans.
 */
#include <msgpack.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"
#include "err.h"
#include "keys.h"
#include "spanpack.h"
#include "store_int.h"

typedef struct writer {
	rocksdb_writebatch_t *wb;
	st_store *s;
	cm_buf buf;
	msgpack_packer pk;
	uint64_t *res_hash;
	uint64_t *scope_hash;
} writer;

static void
put_meta(writer *w, char tag, const void *k, size_t klen, const void *v, size_t vlen)
{
	char key[1 + 1024];
	size_t n = klen < sizeof key - 1 ? klen : sizeof key - 1;
	key[0] = tag;
	if (n > 0)
		memcpy(key + 1, k, n);
	rocksdb_writebatch_put_cf(w->wb, w->s->cf[CF_META], key, 1 + n, v, vlen);
}

static void
put_hashed(writer *w, char tag, uint64_t *hash_out)
{
	uint8_t h[8];
	*hash_out = st_hash64(w->buf.data, w->buf.len);
	st_put_be64(h, *hash_out);
	put_meta(w, tag, h, 8, w->buf.data, w->buf.len);
}

static void
put_operation(writer *w, const cm_batch *b, const cm_span *sp)
{
	cm_str svc = b->resources[sp->resource].service;
	char key[1024];
	size_t n = 0;

	if ((size_t)svc.len + sp->name.len + 2 > sizeof key)
		return; /* absurdly long names are stored in spans but not listed */
	if (svc.len > 0)
		memcpy(key, svc.p, svc.len);
	n = svc.len;
	key[n++] = '\0';
	key[n++] = (char)sp->kind;
	if (sp->name.len > 0)
		memcpy(key + n, sp->name.p, sp->name.len);
	n += sp->name.len;
	put_meta(w, ST_META_OPERATION, key, n, "", 0);
}

int
st_store_write(st_store *s, const cm_batch *b)
{
	writer w = { .s = s };
	char *err = NULL;
	int rv = CM_ENOMEM;

	if (s->secondary)
		return CM_EINVAL;
	w.wb = rocksdb_writebatch_create();
	cm_buf_init(&w.buf);
	msgpack_packer_init(&w.pk, &w.buf, cm_pack_to_buf);
	w.res_hash = cm_calloc(b->nresources + 1, sizeof(uint64_t));
	w.scope_hash = cm_calloc(b->nscopes + 1, sizeof(uint64_t));
	if (w.res_hash == NULL || w.scope_hash == NULL)
		goto out;

	for (uint32_t i = 0; i < b->nresources; i++) {
		const cm_resource *r = &b->resources[i];
		w.buf.len = 0;
		cm_pack_resource(&w.pk, r);
		put_hashed(&w, ST_META_RESOURCE, &w.res_hash[i]);
		put_meta(&w, ST_META_SERVICE, r->service.p, r->service.len, "", 0);
	}
	for (uint32_t i = 0; i < b->nscopes; i++) {
		w.buf.len = 0;
		cm_pack_scope(&w.pk, &b->scopes[i]);
		put_hashed(&w, ST_META_SCOPE, &w.scope_hash[i]);
	}
	for (uint32_t i = 0; i < b->nspans; i++) {
		const cm_span *sp = &b->spans[i];
		const cm_span *prev = i ? &b->spans[i - 1] : NULL;
		uint8_t key[ST_SPAN_KEY_SIZE];
		char version = ST_SPAN_VALUE_VERSION;

		w.buf.len = 0;
		cm_buf_append(&w.buf, &version, 1);
		cm_pack_span(&w.pk, sp, w.res_hash[sp->resource], w.scope_hash[sp->scope]);
		st_key_span(key, sp);
		rocksdb_writebatch_put_cf(w.wb, s->cf[CF_SPANS], (const char *)key, sizeof key,
		    w.buf.data, w.buf.len);
		if (prev == NULL || prev->resource != sp->resource || prev->kind != sp->kind ||
		    prev->name.len != sp->name.len ||
		    (sp->name.len > 0 && memcmp(prev->name.p, sp->name.p, sp->name.len) != 0))
			put_operation(&w, b, sp);
	}
	if (w.buf.failed)
		goto out;
	rocksdb_write(s->db, s->wopts, w.wb, &err);
	rv = err ? st_rocks_error("write batch", err) : CM_OK;
out:
	cm_free(w.res_hash);
	cm_free(w.scope_hash);
	cm_buf_fini(&w.buf);
	rocksdb_writebatch_destroy(w.wb);
	return rv;
}
