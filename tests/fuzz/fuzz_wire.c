/* fuzz_wire.c - the native wire batch decoder (common/wire.c). */
#include <stddef.h>
#include <stdint.h>

#include "span.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static cm_wire_codec codec;
	static int ready;
	const char *why;
	cm_batch b;

	if (!ready)
		ready = cm_wire_codec_init(&codec) == 0;
	cm_batch_init(&b);
	cm_wire_decode_batch(&codec, data, size, &cm_wire_default_limits, &b, &why);
	cm_batch_fini(&b);
	{
		cm_wire_reply r;
		cm_wire_decode_reply(data, size, &r);
	}
	return 0;
}
