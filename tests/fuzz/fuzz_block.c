/* fuzz_block.c - the span block decoder and outline reader (storage/block.c), symbols 0-9 known. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "block.h"
#include "err.h"
#include "keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
small_symbols(void *arg, uint32_t id, cm_str *out)
{
	(void)arg;
	if (id >= 10)
		return CM_EPROTO;
	*out = (cm_str){ "symbol", 6 };
	return CM_OK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[ST_SPAN_KEY_SIZE] = { 1 };
	const st_block_syms syms = { small_symbols, NULL };
	uint32_t n;
	cm_arena a;
	st_outline o;

	cm_arena_init(&a, 4096);
	st_block_outline((const char *)data, size, key, &syms, &a, &o);
	cm_arena_fini(&a);
	if (st_block_count((const char *)data, size, &n) != CM_OK)
		return 0;
	cm_span *spans = malloc((size_t)n * sizeof *spans + 1);
	uint64_t *hashes = malloc(2 * (size_t)n * sizeof *hashes + 1);
	cm_arena_init(&a, 4096);
	if (spans != NULL && hashes != NULL)
		st_block_decode((const char *)data, size, key, &syms, &a, spans, hashes, hashes + n);
	cm_arena_fini(&a);
	free(spans);
	free(hashes);
	return 0;
}
