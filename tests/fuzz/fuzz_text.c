/*
 * fuzz_text.c - the small text parsers: traceparent, tracestate, baggage,
 * b3, X-B3-*, uber-trace-id and uberctx-* (every header a carrier returns
 * is the input), trace ids as the query API takes them, Go durations (API
 * parameters and flags), listener addresses.
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

static const char *
every_header(void *carrier, const char *key)
{
	(void)key;
	return carrier;
}

static void
one_uberctx_key(void *carrier, void (*visit)(void *arg, const char *key), void *arg)
{
	(void)carrier;
	visit(arg, "uberctx-k");
}

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
	static weft_context ctx;
	static char list[WEFT_BAGGAGE_MAX];

	weft_traceparent_parse(s, &c);
	weft_tracestate_parse(s, list, WEFT_TRACESTATE_MAX);
	weft_baggage_parse(s, list, sizeof list);
	weft_baggage_get(list, "k", (char[64]){ 0 }, 64);
	weft_extract_with(WEFT_PROP_TRACECONTEXT | WEFT_PROP_BAGGAGE | WEFT_PROP_B3 | WEFT_PROP_B3MULTI | WEFT_PROP_JAEGER,
	    every_header, one_uberctx_key, s, &ctx);
	cm_trace_id_parse(s, strlen(s), &id);
	cm_duration_parse(s, &ns);
	if (strchr(s, ':') != NULL && size < 64) /* resolves names: keep to numeric-looking input */
		if (strspn(s, "0123456789.:[]abcdefABCDEF") == size)
			cm_addr_parse(s, &sa, &len);
	free(s);
	return 0;
}
