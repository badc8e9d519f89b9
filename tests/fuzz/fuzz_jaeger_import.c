/* fuzz_jaeger_import.c - Jaeger JSON import (query/jaegerimport.c), as `weft import` reads it. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "jaegerimport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t jerr;
	json_t *doc = json_loadb((const char *)data, size, 0, &jerr), *traces, *t;
	size_t i;
	const char *why;

	if (doc == NULL)
		return 0;
	traces = json_object_get(doc, "data");
	if (json_is_array(traces)) {
		json_array_foreach(traces, i, t)
			json_decref(qry_jaeger_to_otlp(t, &why));
	} else {
		json_decref(qry_jaeger_to_otlp(doc, &why));
	}
	json_decref(doc);
	return 0;
}
