/*
 * loadgen.c - weft-loadgen: realistic trace load for weft-collector.
 *
 *   weft-loadgen --protocol native --endpoint tcp://127.0.0.1:4319 --spans 1000000
 *   weft-loadgen --protocol otlp --endpoint 127.0.0.1:4318 --spans 1000000 [--rate N]
 *
 * Traces look like a microservice system: 12 services, trees 3-6 deep with
 * 5-50 spans, 5-15 attributes per span from a realistic vocabulary (about
 * 300 bytes per span encoded). "native" sends through libweft (one tracer
 * per service, batches of 512); "otlp" builds OTLP protobuf requests of
 * --batch spans and POSTs them over keep-alive HTTP connections, one per
 * thread. Without --rate it goes as fast as the collector acknowledges.
 *
 * --trace-spans N makes every trace exactly N spans (5..1000);
 * --print-trace-ids prints "trace <id>" per trace (native).
 * The last lines are machine-readable: "loadgen: spans N seconds S
 * ack_p50_us X ack_p99_us Y dropped D". Uses weft.h and the OTLP messages
 * generated from collector/proto (the specification's, not weft's internals).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "otlp_trace.pb-c.h"
#include "weft.h"

enum { NSERVICES = 12, MAX_SPANS = 1000, MAX_ATTRS = 15 };
#define QUEUE_BYTES (32u << 20) /* per tracer; producers wait below half of it */

static const char *const services[NSERVICES] = { "api-gateway", "auth", "catalog", "cart", "checkout",
	"payment", "inventory", "shipping", "recommendation", "search", "notification", "user-profile" };
static const char *const ops[] = { "GET /api/v1/products", "POST /api/v1/cart", "GET /api/v1/cart",
	"POST /checkout", "SELECT products", "UPDATE inventory", "redis GET", "redis SET",
	"grpc.Payment/Charge", "kafka publish order.created", "GET /api/v1/users/{id}", "render template",
	"validate token", "compute shipping quote", "search.query", "send email" };
static const char *const keys[] = { "http.request.method", "http.route", "url.path", "server.address",
	"network.peer.address", "user_agent.original", "db.system", "db.statement", "db.name", "rpc.system",
	"rpc.method", "messaging.system", "cache.hit", "retry.count", "region", "tenant.id", "user.id",
	"feature.flag", "thread.name", "code.function" };
static const char *const words[] = { "GET", "POST", "/api/v1/products", "postgresql", "redis",
	"eu-west-1", "us-east-1", "grpc", "kafka", "worker-3", "main", "SELECT * FROM products WHERE id = $1",
	"Mozilla/5.0 (X11; Linux x86_64)", "10.0.3.17", "catalog-db", "handle_request", "beta-checkout" };

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

typedef struct opts {
	const char *protocol;
	const char *endpoint;
	long spans;
	long rate;        /* spans per second, 0: as fast as acknowledged */
	int threads;
	int batch;
	int trace_spans;  /* 0: 5..50 per trace; else exactly this many */
	bool print_ids;   /* print "trace <id>" for each trace (native) */
} opts;

static opts O = { "native", NULL, 1000000, 0, 2, 512, 0, false };
static atomic_long produced;

static uint64_t
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t
mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* A generated span: tree shape, service, name, attributes (as weft_attr). */
typedef struct gspan {
	int parent; /* index in the trace, -1 for the root */
	int service;
	int kind;
	const char *name;
	weft_attr attrs[MAX_ATTRS];
	char bufs[MAX_ATTRS][24];
	int nattrs;
	uint64_t start, end;
} gspan;

/* Fills t with one trace; returns its span count (5..50, or --trace-spans; depth 3..6). */
static int
gen_trace(uint64_t *s, gspan *t)
{
	int n = O.trace_spans ? O.trace_spans : 5 + (int)(rnd(s) % 46), depth_max = 3 + (int)(rnd(s) % 4);
	int depth[MAX_SPANS];
	uint64_t base = now_ns();

	for (int i = 0; i < n; i++) {
		gspan *g = &t[i];
		if (i == 0) {
			g->parent = -1;
			depth[i] = 1;
		} else if (i < depth_max) {
			g->parent = i - 1; /* a spine that reaches the chosen depth */
			depth[i] = depth[i - 1] + 1;
		} else {
			do
				g->parent = (int)(rnd(s) % (uint64_t)i);
			while (depth[g->parent] >= depth_max);
			depth[i] = depth[g->parent] + 1;
		}
		g->service = i == 0 ? 0 : (int)(rnd(s) % NSERVICES);
		g->kind = i == 0 ? WEFT_KIND_SERVER : (int)(1 + rnd(s) % 3);
		g->name = ops[rnd(s) % COUNT(ops)];
		g->nattrs = 5 + (int)(rnd(s) % 11);
		for (int a = 0; a < g->nattrs; a++) {
			const char *key = keys[(a * 7 + rnd(s) % 3) % COUNT(keys)];
			switch (rnd(s) % 4) {
			case 0:
				g->attrs[a] = WEFT_INT(key, (int64_t)(rnd(s) % 100000));
				break;
			case 1:
				snprintf(g->bufs[a], sizeof g->bufs[a], "u-%llu", (unsigned long long)(rnd(s) % 1000000));
				g->attrs[a] = WEFT_STR(key, g->bufs[a]);
				break;
			default:
				g->attrs[a] = WEFT_STR(key, words[rnd(s) % COUNT(words)]);
			}
		}
		g->start = base + (uint64_t)i * 1000;
		g->end = g->start + 500 + rnd(s) % 100000;
	}
	return n;
}

/* Paces producers to --rate; returns false when the span budget is spent. */
static bool
take(long n, uint64_t t0)
{
	long before = atomic_fetch_add(&produced, n);
	if (before >= O.spans)
		return false;
	if (O.rate > 0) {
		uint64_t due = t0 + (uint64_t)((double)before / (double)O.rate * 1e9);
		uint64_t now = mono_ns();
		if (due > now) {
			struct timespec ts = { (time_t)((due - now) / 1000000000u), (long)((due - now) % 1000000000u) };
			nanosleep(&ts, NULL);
		}
	}
	return true;
}

/* ---- native: libweft ---- */

static weft_tracer *tracers[NSERVICES];

typedef struct worker_arg {
	int id;
	uint64_t t0;
	void *result;
} worker_arg;

static void *
native_worker(void *arg)
{
	const worker_arg *w = arg;
	uint64_t seed = (uint64_t)w->id * 0x9e3779b97f4a7c15u + 1;
	gspan *t = malloc(MAX_SPANS * sizeof *t);
	weft_span **spans = malloc(MAX_SPANS * sizeof *spans);

	for (;;) {
		int n = gen_trace(&seed, t);
		if (!take(n, w->t0))
			break;
		for (int i = 0; i < n; i++) {
			weft_span_context pc;
			weft_span_options so = { .kind = t[i].kind, .start_ns = t[i].start };
			if (t[i].parent >= 0) {
				pc = weft_span_get_context(spans[t[i].parent]);
				so.parent = &pc;
			} else {
				so.root = true;
			}
			spans[i] = weft_span_start(tracers[t[i].service], t[i].name, &so);
			for (int a = 0; a < t[i].nattrs; a++) {
				const weft_attr *at = &t[i].attrs[a];
				if (at->type == WEFT_ATTR_INT)
					weft_span_set_int(spans[i], at->key, at->v.i);
				else
					weft_span_set_str(spans[i], at->key, at->v.s);
			}
		}
		if (O.print_ids) {
			weft_span_context c = weft_span_get_context(spans[0]);
			char hex[33];
			for (int b = 0; b < 16; b++)
				snprintf(hex + 2 * b, 3, "%02x", c.trace_id.b[b]);
			flockfile(stdout);
			printf("trace %s\n", hex);
			funlockfile(stdout);
		}
		for (int i = n - 1; i >= 0; i--)
			weft_span_end(spans[i]);
		/* As fast as acknowledged: do not outrun the exporters' queues. */
		for (int k = 0; k < NSERVICES; k++) {
			weft_stats st;
			weft_tracer_stats(tracers[k], &st);
			while (st.queued > 12000 - (uint32_t)MAX_SPANS || st.queued_bytes > QUEUE_BYTES / 2) {
				struct timespec ts = { 0, 200000 };
				nanosleep(&ts, NULL);
				weft_tracer_stats(tracers[k], &st);
			}
		}
	}
	free(t);
	free(spans);
	return NULL;
}

static int
run_native(void)
{
	pthread_t th[64];
	worker_arg args[64];
	uint64_t t0 = mono_ns();
	unsigned long long exported = 0, dropped = 0;
	uint32_t p50 = 0, p99 = 0;

	for (int i = 0; i < NSERVICES; i++) {
		weft_tracer_config c = { .service_name = services[i], .endpoint = O.endpoint,
			.max_queue_spans = 16384, .max_queue_bytes = QUEUE_BYTES, .max_export_batch = (uint32_t)O.batch,
			.schedule_delay_ms = 100,
			.shutdown_timeout_ms = 60000 };
		if (weft_tracer_create(&c, &tracers[i]) != WEFT_OK) {
			fprintf(stderr, "weft-loadgen: cannot create tracer for %s\n", O.endpoint);
			return 1;
		}
	}
	for (int i = 0; i < O.threads; i++) {
		args[i] = (worker_arg){ i + 1, t0, NULL };
		pthread_create(&th[i], NULL, native_worker, &args[i]);
	}
	for (int i = 0; i < O.threads; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < NSERVICES; i++) {
		weft_stats st;
		weft_tracer_flush(tracers[i], 60000);
		weft_tracer_stats(tracers[i], &st);
		exported += st.spans_exported;
		dropped += st.spans_dropped;
		p50 = st.ack_p50_us > p50 ? st.ack_p50_us : p50;
		p99 = st.ack_p99_us > p99 ? st.ack_p99_us : p99;
	}
	double secs = (double)(mono_ns() - t0) / 1e9;
	for (int i = 0; i < NSERVICES; i++)
		weft_tracer_destroy(tracers[i]);
	printf("loadgen: spans %llu seconds %.3f ack_p50_us %u ack_p99_us %u dropped %llu\n",
	    exported, secs, p50, p99, dropped);
	return dropped ? 1 : 0;
}

/* ---- otlp: protobuf over HTTP ---- */

typedef struct otlp_result {
	unsigned long long spans, failed;
	uint32_t *lat_us;
	size_t nlat, cap;
} otlp_result;

static int
connect_http(struct sockaddr_in *a)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)a, sizeof *a) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* POSTs one request on a keep-alive connection; returns the HTTP status or -1. */
static int
post(int fd, const char *host, const uint8_t *body, size_t len)
{
	char hdr[256], resp[4096];
	size_t got = 0;
	int n = snprintf(hdr, sizeof hdr, "POST /v1/traces HTTP/1.1\r\nHost: %s\r\n"
	    "Content-Type: application/x-protobuf\r\nContent-Length: %zu\r\n\r\n", host, len);
	if (send(fd, hdr, (size_t)n, MSG_NOSIGNAL) != n || send(fd, body, len, MSG_NOSIGNAL) != (ssize_t)len)
		return -1;
	for (;;) { /* headers, then Content-Length bytes of body */
		ssize_t r = recv(fd, resp + got, sizeof resp - 1 - got, 0);
		char *end, *cl;
		if (r <= 0)
			return -1;
		got += (size_t)r;
		resp[got] = '\0';
		if ((end = strstr(resp, "\r\n\r\n")) == NULL)
			continue;
		cl = strcasestr(resp, "Content-Length:");
		size_t want = (size_t)(end + 4 - resp) + (cl ? (size_t)atol(cl + 15) : 0);
		if (got >= want)
			return atoi(resp + 9);
	}
}

typedef struct pb_arena {
	Weft__Otlp__Span spans[4096];
	Weft__Otlp__Span *span_ptrs[4096];
	Weft__Otlp__KeyValue kvs[4096 * MAX_ATTRS];
	Weft__Otlp__KeyValue *kv_ptrs[4096 * MAX_ATTRS];
	Weft__Otlp__AnyValue vals[4096 * MAX_ATTRS];
	uint8_t ids[4096][24];
} pb_arena;

static void *
otlp_worker(void *arg)
{
	const worker_arg *w = arg;
	otlp_result *res = w->result;
	uint64_t t0 = w->t0;
	uint64_t seed = (uint64_t)w->id * 0x9e3779b97f4a7c15u + 7;
	char host[128];
	struct sockaddr_in a = { .sin_family = AF_INET };
	pb_arena *pa = calloc(1, sizeof *pa);
	uint8_t *buf = malloc(16 << 20);
	int fd, port = 4318;

	snprintf(host, sizeof host, "%s", O.endpoint);
	char *colon = strrchr(host, ':');
	if (colon) {
		*colon = '\0';
		port = atoi(colon + 1);
		*colon = ':';
	}
	a.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (colon) {
		*colon = '\0';
		inet_pton(AF_INET, host, &a.sin_addr);
		*colon = ':';
	}
	fd = connect_http(&a);
	while (fd >= 0) {
		Weft__Otlp__ExportTraceServiceRequest req = WEFT__OTLP__EXPORT_TRACE_SERVICE_REQUEST__INIT;
		Weft__Otlp__ResourceSpans rs[NSERVICES], *rsp[NSERVICES];
		Weft__Otlp__ScopeSpans ss[NSERVICES], *ssp[NSERVICES];
		Weft__Otlp__Resource resource[NSERVICES];
		Weft__Otlp__KeyValue svc_kv[NSERVICES], *svc_kvp[NSERVICES];
		Weft__Otlp__AnyValue svc_val[NSERVICES];
		Weft__Otlp__Span **per_service[NSERVICES];
		size_t nper[NSERVICES] = { 0 }, nspans = 0, nkv = 0;
		gspan *t = malloc(MAX_SPANS * sizeof *t);

		/* Fill one request with whole traces, about --batch spans, grouped by service. */
		for (int i = 0; i < NSERVICES; i++)
			per_service[i] = malloc(sizeof(Weft__Otlp__Span *) * 4096);
		while (nspans < (size_t)O.batch) {
			int n = gen_trace(&seed, t);
			uint64_t tid[2] = { rnd(&seed), rnd(&seed) };
			for (int i = 0; i < n && nspans < 4096; i++, nspans++) {
				Weft__Otlp__Span *sp = &pa->spans[nspans];
				uint8_t *id = pa->ids[nspans];
				weft__otlp__span__init(sp);
				memcpy(id, tid, 16);
				uint64_t sid = rnd(&seed) | 1;
				memcpy(id + 16, &sid, 8);
				sp->trace_id = (ProtobufCBinaryData){ 16, id };
				sp->span_id = (ProtobufCBinaryData){ 8, id + 16 };
				if (t[i].parent >= 0)
					sp->parent_span_id = (ProtobufCBinaryData){ 8, pa->ids[nspans - (size_t)(i - t[i].parent)] + 16 };
				sp->name = (char *)t[i].name;
				sp->kind = (Weft__Otlp__Span__SpanKind)t[i].kind;
				sp->start_time_unix_nano = t[i].start;
				sp->end_time_unix_nano = t[i].end;
				sp->attributes = &pa->kv_ptrs[nkv];
				sp->n_attributes = (size_t)t[i].nattrs;
				for (int k = 0; k < t[i].nattrs; k++, nkv++) {
					Weft__Otlp__KeyValue *kv = &pa->kvs[nkv];
					Weft__Otlp__AnyValue *v = &pa->vals[nkv];
					weft__otlp__key_value__init(kv);
					weft__otlp__any_value__init(v);
					kv->key = (char *)t[i].attrs[k].key;
					if (t[i].attrs[k].type == WEFT_ATTR_INT) {
						v->value_case = WEFT__OTLP__ANY_VALUE__VALUE_INT_VALUE;
						v->int_value = t[i].attrs[k].v.i;
					} else {
						v->value_case = WEFT__OTLP__ANY_VALUE__VALUE_STRING_VALUE;
						v->string_value = (char *)t[i].attrs[k].v.s;
					}
					kv->value = v;
					pa->kv_ptrs[nkv] = kv;
				}
				per_service[t[i].service][nper[t[i].service]++] = sp;
			}
		}
		req.n_resource_spans = 0;
		req.resource_spans = rsp;
		for (int i = 0; i < NSERVICES; i++) {
			if (nper[i] == 0)
				continue;
			weft__otlp__resource_spans__init(&rs[i]);
			weft__otlp__scope_spans__init(&ss[i]);
			weft__otlp__resource__init(&resource[i]);
			weft__otlp__key_value__init(&svc_kv[i]);
			weft__otlp__any_value__init(&svc_val[i]);
			svc_val[i].value_case = WEFT__OTLP__ANY_VALUE__VALUE_STRING_VALUE;
			svc_val[i].string_value = (char *)services[i];
			svc_kv[i].key = (char *)"service.name";
			svc_kv[i].value = &svc_val[i];
			svc_kvp[i] = &svc_kv[i];
			resource[i].attributes = &svc_kvp[i];
			resource[i].n_attributes = 1;
			rs[i].resource = &resource[i];
			ss[i].spans = per_service[i];
			ss[i].n_spans = nper[i];
			ssp[i] = &ss[i];
			rs[i].scope_spans = &ssp[i];
			rs[i].n_scope_spans = 1;
			rsp[req.n_resource_spans++] = &rs[i];
		}
		size_t len = weft__otlp__export_trace_service_request__pack(&req, buf);
		for (int i = 0; i < NSERVICES; i++)
			free(per_service[i]);
		free(t);
		if (!take((long)nspans, t0))
			break;
		for (;;) {
			uint64_t s0 = mono_ns();
			int status = post(fd, host, buf, len);
			if (status == 200) {
				if (res->nlat == res->cap) {
					res->cap = res->cap ? res->cap * 2 : 4096;
					res->lat_us = realloc(res->lat_us, res->cap * sizeof *res->lat_us);
				}
				res->lat_us[res->nlat++] = (uint32_t)((mono_ns() - s0) / 1000);
				res->spans += nspans;
				break;
			}
			if (status == 429 || status == 503) { /* backpressure: wait and resend */
				struct timespec ts = { 0, 10000000 };
				nanosleep(&ts, NULL);
				continue;
			}
			res->failed += nspans;
			close(fd);
			fd = connect_http(&a);
			break;
		}
	}
	if (fd >= 0)
		close(fd);
	free(pa);
	free(buf);
	return NULL;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int
run_otlp(void)
{
	pthread_t th[64];
	otlp_result res[64];
	worker_arg args[64];
	uint64_t t0 = mono_ns();
	unsigned long long spans = 0, failed = 0;
	uint32_t *all = NULL;
	size_t nall = 0;

	memset(res, 0, sizeof res);
	for (int i = 0; i < O.threads; i++) {
		args[i] = (worker_arg){ i + 1, t0, &res[i] };
		pthread_create(&th[i], NULL, otlp_worker, &args[i]);
	}
	for (int i = 0; i < O.threads; i++) {
		pthread_join(th[i], NULL);
		spans += res[i].spans;
		failed += res[i].failed;
		all = realloc(all, (nall + res[i].nlat + 1) * sizeof *all);
		memcpy(all + nall, res[i].lat_us, res[i].nlat * sizeof *all);
		nall += res[i].nlat;
		free(res[i].lat_us);
	}
	double secs = (double)(mono_ns() - t0) / 1e9;
	qsort(all, nall, sizeof *all, cmp_u32);
	printf("loadgen: spans %llu seconds %.3f ack_p50_us %u ack_p99_us %u dropped %llu\n", spans, secs,
	    nall ? all[nall / 2] : 0, nall ? all[(size_t)((double)nall * 0.99)] : 0, failed);
	free(all);
	return failed ? 1 : 0;
}

int
main(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "protocol", required_argument, NULL, 'p' },
		{ "endpoint", required_argument, NULL, 'e' },
		{ "spans", required_argument, NULL, 'n' },
		{ "rate", required_argument, NULL, 'r' },
		{ "threads", required_argument, NULL, 't' },
		{ "batch", required_argument, NULL, 'b' },
		{ "trace-spans", required_argument, NULL, 's' },
		{ "print-trace-ids", no_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		switch (ch) {
		case 'p': O.protocol = optarg; break;
		case 'e': O.endpoint = optarg; break;
		case 'n': O.spans = atol(optarg); break;
		case 'r': O.rate = atol(optarg); break;
		case 't': O.threads = atoi(optarg); break;
		case 'b': O.batch = atoi(optarg); break;
		case 's': O.trace_spans = atoi(optarg); break;
		case 'i': O.print_ids = true; break;
		case 'h':
			puts("usage: weft-loadgen --protocol native|otlp [--endpoint E] [--spans N] [--rate SPANS_PER_S]\n"
			     "                    [--threads T] [--batch SPANS] [--trace-spans N] [--print-trace-ids]");
			return 0;
		default: return 2;
		}
	}
	if (O.threads < 1 || O.threads > 64 || O.batch < 1 || O.batch > 4000 || O.spans < 1 ||
	    O.trace_spans < 0 || O.trace_spans > MAX_SPANS || (O.trace_spans > 0 && O.trace_spans < 5)) {
		fprintf(stderr, "weft-loadgen: --threads 1..64, --batch 1..4000, --spans > 0, --trace-spans 5..1000\n");
		return 2;
	}
	if (strcmp(O.protocol, "native") == 0) {
		O.endpoint = O.endpoint ? O.endpoint : "tcp://127.0.0.1:4319";
		return run_native();
	}
	if (strcmp(O.protocol, "otlp") == 0) {
		O.endpoint = O.endpoint ? O.endpoint : "127.0.0.1:4318";
		return run_otlp();
	}
	fprintf(stderr, "weft-loadgen: --protocol must be native or otlp\n");
	return 2;
}
