/*
 * fuzz_text.c - the small text parsers: traceparent, trace ids as the query
 * API takes them, Go durations (API parameters and flags), listener addresses.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "duration.h"
#include "ids.h"
#include "weft.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	weft_span_context c;
	cm_trace_id id;
	uint64_t ns;
	struct sockaddr_storage sa;
	socklen_t len;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	weft_traceparent_parse(s, &c);
	cm_trace_id_parse(s, strlen(s), &id);
	cm_duration_parse(s, &ns);
	if (strchr(s, ':') != NULL && size < 64) /* resolves names: keep to numeric-looking input */
		if (strspn(s, "0123456789.:[]abcdefABCDEF") == size)
			cm_addr_parse(s, &sa, &len);
	free(s);
	return 0;
}
