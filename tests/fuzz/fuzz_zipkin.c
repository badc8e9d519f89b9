/* fuzz_zipkin.c - Zipkin v2 JSON decoder (collector/zipkin.c). */
#include <stddef.h>
#include <stdint.h>

#include "zipkin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why;
	cm_batch b;
	cm_batch_init(&b);
	col_zipkin_decode((const char *)data, size, &b, &why);
	cm_batch_fini(&b);
	return 0;
}
