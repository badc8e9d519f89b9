/* fuzz_otlp_proto.c - OTLP/HTTP protobuf request decoder (collector/otlp_proto.c). */
#include <stddef.h>
#include <stdint.h>

#include "otlp_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why;
	cm_batch b;
	cm_batch_init(&b);
	col_otlp_proto_decode(data, size, &b, &why);
	cm_batch_fini(&b);
	return 0;
}
