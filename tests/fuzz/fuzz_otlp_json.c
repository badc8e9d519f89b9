/* fuzz_otlp_json.c - OTLP/HTTP JSON request decoder (collector/otlp_json.c). */
#include <stddef.h>
#include <stdint.h>

#include "otlp_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why;
	cm_batch b;
	cm_batch_init(&b);
	col_otlp_json_decode((const char *)data, size, &b, &why);
	cm_batch_fini(&b);
	return 0;
}
