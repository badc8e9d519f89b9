/*
 * fuzz_otlp_proto.c - OTLP/HTTP protobuf request decoder (collector/otlp_proto.c).
 * A decoded batch is packed again, which reads every string and value: the
 * decoder's strings point into the input, and one outside it shows here.
 */
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "otlp_proto.h"
#include "spanpack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why;
	cm_batch b;
	cm_buf out;

	cm_batch_init(&b);
	cm_buf_init(&out);
	if (col_otlp_proto_decode(data, size, &b, &why) == CM_OK) {
		for (uint32_t i = 0; i < b.nresources; i++)
			cm_pack_resource(&out, NULL, &b.resources[i]);
		for (uint32_t i = 0; i < b.nscopes; i++)
			cm_pack_scope(&out, NULL, &b.scopes[i]);
		for (uint32_t i = 0; i < b.nspans; i++)
			cm_pack_span(&out, NULL, &b.spans[i], b.spans[i].resource, b.spans[i].scope);
	}
	cm_buf_fini(&out);
	cm_batch_fini(&b);
	return 0;
}
