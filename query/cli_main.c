/*
 * cli_main.c - the weft command line: talks to weft-query over HTTP.
 *
 *   weft [--url URL] [--json] services
 *   weft [--url URL] [--json] operations SERVICE
 *   weft [--url URL] [--json] trace TRACE_ID
 *   weft [--url URL] [--json] critical-path TRACE_ID
 *   weft [--url URL] [--json] breakdown TRACE_ID
 *   weft [--url URL] export TRACE_ID --format jaeger|otlp
 *   weft [--collector URL] import FILE
 *   weft [--url URL] [--json] search [--service S] [--operation O] [--tag K=V]...
 *        [--min-duration D] [--max-duration D] [--since D | --start US --end US] [--limit N]
 *
 * The server is --url, else WEFT_QUERY_URL, else http://127.0.0.1:16686;
 * import sends to the collector's OTLP/HTTP receiver: --collector, else
 * WEFT_COLLECTOR_URL, else http://127.0.0.1:4318.
 * Exit codes: 0 success; 1 the daemon could not be reached or failed;
 * 2 bad usage; 3 not found (unknown trace id).
 */
#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "alloc.h"
#include "duration.h"
#include "err.h"
#include "httpc.h"
#include "ids.h"
#include "jaegerimport.h"
#include "spantree.h"

enum { EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_NOTFOUND = 3, TIMEOUT_MS = 10000 };

static const char usage[] =
    "usage: weft [--url URL] [--json] COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  services              list services that sent spans\n"
    "  operations SERVICE    list a service's operations and span kinds\n"
    "  trace ID              show a trace as a waterfall: an indented tree with bars\n"
    "                        on a time axis, the critical path as '#', errors marked\n"
    "                        (colour on a terminal unless NO_COLOR is set)\n"
    "  critical-path ID      the spans on the trace's critical path, in time order\n"
    "  breakdown ID          time per service and operation, with self time\n"
    "  export ID --format jaeger|otlp   the trace as Jaeger JSON or OTLP JSON\n"
    "  search [filters]      find traces, newest first: --service S --operation O\n"
    "                        --tag K=V (repeatable) --min-duration D --max-duration D\n"
    "                        --since D (default 1h) | --start US --end US (unix µs)\n"
    "                        --limit N (20); durations like 250ms, 1.5s, 2h\n"
    "  deps [--since D] [--dot]  service-to-service calls (default since 24h);\n"
    "                        --dot prints a Graphviz digraph\n"
    "  import FILE           send traces to the collector: Jaeger JSON as Jaeger UI\n"
    "                        downloads it ({\"data\":[...]} or one trace) or OTLP JSON\n"
    "\n"
    "options:\n"
    "  --url URL   weft-query's address (WEFT_QUERY_URL, default http://127.0.0.1:16686)\n"
    "  --collector URL   weft-collector's OTLP/HTTP address, for import\n"
    "              (WEFT_COLLECTOR_URL, default http://127.0.0.1:4318)\n"
    "  --json      print the server's JSON (Jaeger's format) instead of text\n"
    "  --help      this text\n"
    "\n"
    "environment: WEFT_AUTH_TOKEN is sent as a bearer token to both daemons\n"
    "(their --auth-token-file); https:// URLs are verified against WEFT_CA_FILE\n"
    "(PEM), else the system's certificate store\n"
    "\n"
    "exit codes: 0 ok, 1 daemon unreachable or failed, 2 bad usage, 3 not found\n";

static int die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
die(int code, const char *fmt, ...)
{
	va_list ap;
	fputs("weft: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

/* GETs path and parses the Jaeger envelope. On success *doc holds it. */
static int
get_json(const char *url, const char *path, json_t **doc, const char *what)
{
	qry_http_response resp;
	json_error_t jerr;
	char err[512];
	int rv;

	rv = qry_http_request(url, "GET", path, NULL, NULL, 0, TIMEOUT_MS, &resp, err, sizeof err);
	if (rv != CM_OK)
		return die(EXIT_FAIL, "%s", err);
	*doc = json_loadb(resp.body.data, resp.body.len, 0, &jerr);
	cm_buf_fini(&resp.body);
	if (*doc == NULL)
		return die(EXIT_FAIL, "%s answered HTTP %d with a body that is not JSON", url, resp.status);
	if (resp.status == 404) {
		json_decref(*doc);
		return die(EXIT_NOTFOUND, "%s not found", what);
	}
	if (resp.status != 200) {
		json_t *e = json_array_get(json_object_get(*doc, "errors"), 0);
		const char *msg = json_string_value(json_object_get(e, "msg"));
		rv = die(resp.status == 400 ? EXIT_USAGE : EXIT_FAIL, "%s: %s", what, msg ? msg : "request failed");
		json_decref(*doc);
		return rv;
	}
	return 0;
}

/* GETs path; returns 0 and *doc on HTTP 200 with a JSON body, else -1 (nothing printed). */
static int
get_json_quiet(const char *url, const char *path, json_t **doc)
{
	qry_http_response resp;
	json_error_t jerr;
	char err[256];

	*doc = NULL;
	if (qry_http_request(url, "GET", path, NULL, NULL, 0, TIMEOUT_MS, &resp, err, sizeof err) != CM_OK)
		return -1;
	if (resp.status == 200)
		*doc = json_loadb(resp.body.data, resp.body.len, 0, &jerr);
	cm_buf_fini(&resp.body);
	return *doc ? 0 : -1;
}

static int
print_json(json_t *doc)
{
	json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	return 0;
}

static int
cmd_services(const char *url, bool json)
{
	json_t *doc, *v;
	size_t i;
	int rv = get_json(url, "/api/services", &doc, "services");
	if (rv != 0)
		return rv;
	if (json)
		print_json(doc);
	else
		json_array_foreach(json_object_get(doc, "data"), i, v) puts(json_string_value(v));
	json_decref(doc);
	return 0;
}

static int
cmd_operations(const char *url, const char *service, bool json)
{
	cm_buf path;
	json_t *doc, *v;
	size_t i;
	int rv;

	cm_buf_init(&path);
	cm_buf_puts(&path, "/api/operations?service=");
	qry_url_escape(&path, service);
	rv = get_json(url, path.data, &doc, "operations");
	cm_buf_fini(&path);
	if (rv != 0)
		return rv;
	if (json) {
		print_json(doc);
	} else {
		json_array_foreach(json_object_get(doc, "data"), i, v) {
			const char *kind = json_string_value(json_object_get(v, "spanKind"));
			printf("%-40s %s\n", json_string_value(json_object_get(v, "name")), kind && *kind ? kind : "-");
		}
	}
	json_decref(doc);
	return 0;
}

/* True when a Jaeger span carries error=true or otel.status_code=ERROR. */
static bool
span_failed(json_t *span, const char **message)
{
	json_t *t;
	size_t i;
	bool failed = false;

	*message = NULL;
	json_array_foreach(json_object_get(span, "tags"), i, t) {
		const char *k = json_string_value(json_object_get(t, "key"));
		json_t *v = json_object_get(t, "value");
		if (k == NULL)
			continue;
		if ((strcmp(k, "error") == 0 && json_is_true(v)) ||
		    (strcmp(k, "otel.status_code") == 0 && json_is_string(v) && strcmp(json_string_value(v), "ERROR") == 0))
			failed = true;
		else if (strcmp(k, "otel.status_description") == 0)
			*message = json_string_value(v);
	}
	return failed;
}

static void
parse_id(json_t *v, cm_span_id *out)
{
	const char *s = json_string_value(v);
	memset(out, 0, sizeof *out);
	if (s != NULL && strlen(s) == 16)
		cm_hex_decode(s, 16, out->b, 8, false);
}

static const char *
service_of(json_t *trace, json_t *span)
{
	json_t *proc = json_object_get(json_object_get(trace, "processes"),
	    json_string_value(json_object_get(span, "processID")));
	const char *s = json_string_value(json_object_get(proc, "serviceName"));
	return s ? s : "?";
}

/* Terminal width: the tty's, else $COLUMNS, else 120. */
static int
term_width(void)
{
	struct winsize ws;
	const char *cols = getenv("COLUMNS");
	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	if (cols != NULL && atoi(cols) > 20)
		return atoi(cols);
	return 120;
}

/* Critical path sections of span `id` (µs), from the critical-path answer (may be NULL). */
static bool
on_critical_path(json_t *cp, const char *id, uint64_t from, uint64_t to)
{
	json_t *sec;
	size_t i;
	json_array_foreach(json_object_get(cp, "data"), i, sec) {
		uint64_t s = (uint64_t)json_integer_value(json_object_get(sec, "start"));
		uint64_t e = (uint64_t)json_integer_value(json_object_get(sec, "end"));
		if (s < to && e > from && strcmp(json_string_value(json_object_get(sec, "spanID")), id) == 0)
			return true;
	}
	return false;
}

/*
 * The waterfall: one line per span in tree order, its bar placed on the
 * trace's time axis. Bar cells on the critical path are '#' (bold yellow on
 * a colour terminal), the others '='; failed spans end in "ERROR: message"
 * (red). cp is the critical-path answer or NULL.
 */
static int
print_tree(json_t *trace, json_t *cp)
{
	json_t *spans = json_object_get(trace, "spans"), *span;
	size_t n = json_array_size(spans), i;
	qry_tree_span *in = cm_calloc(n + 1, sizeof *in);
	qry_tree tree;
	uint64_t t0 = UINT64_MAX, t1 = 0;
	int name_w = 0, nservices = 0, bar_w;
	const char **services = cm_calloc(n + 1, sizeof *services);
	const char *no_color = getenv("NO_COLOR");
	bool color = isatty(STDOUT_FILENO) && (no_color == NULL || *no_color == '\0');
	const char *c_bar = color ? "\033[36m" : "", *c_cp = color ? "\033[1;33m" : "";
	const char *c_err = color ? "\033[31m" : "", *c_off = color ? "\033[0m" : "";

	if (in == NULL || services == NULL)
		return die(EXIT_FAIL, "out of memory");
	json_array_foreach(spans, i, span) {
		json_t *ref;
		size_t r;
		const char *svc = service_of(trace, span);
		bool seen = false;
		parse_id(json_object_get(span, "spanID"), &in[i].id);
		json_array_foreach(json_object_get(span, "references"), r, ref) {
			const char *type = json_string_value(json_object_get(ref, "refType"));
			if (type != NULL && strcmp(type, "CHILD_OF") == 0) {
				parse_id(json_object_get(ref, "spanID"), &in[i].parent);
				break;
			}
		}
		in[i].start = (uint64_t)json_integer_value(json_object_get(span, "startTime"));
		in[i].end = in[i].start + (uint64_t)json_integer_value(json_object_get(span, "duration"));
		t0 = in[i].start < t0 ? in[i].start : t0;
		t1 = in[i].end > t1 ? in[i].end : t1;
		for (int k = 0; k < nservices && !seen; k++)
			seen = strcmp(services[k], svc) == 0;
		if (!seen)
			services[nservices++] = svc;
	}
	if (qry_tree_build(in, (uint32_t)n, &tree) != CM_OK) {
		cm_free(in);
		cm_free(services);
		return die(EXIT_FAIL, "out of memory");
	}
	for (uint32_t r = 0; r < tree.nrows; r++) {
		json_t *s = json_array_get(spans, tree.rows[r].span);
		int w = (int)(2 * tree.rows[r].depth + strlen(service_of(trace, s)) + 1 +
		    strlen(json_string_value(json_object_get(s, "operationName")) ?: ""));
		name_w = w > name_w ? w : name_w;
	}
	name_w = name_w > 48 ? 48 : name_w;
	bar_w = term_width() - name_w - 28;
	bar_w = bar_w < 10 ? 10 : bar_w;
	printf("trace %s  %zu spans, %d services, %.3f ms\n",
	    json_string_value(json_object_get(trace, "traceID")), n, nservices,
	    n ? (double)(t1 - t0) / 1000.0 : 0.0);
	printf("%-*s %11s %11s  %s\n", name_w, "SERVICE OPERATION", "START", "DURATION", cp ? "(# critical path)" : "");
	for (uint32_t r = 0; r < tree.nrows; r++) {
		const qry_tree_row *row = &tree.rows[r];
		json_t *s = json_array_get(spans, row->span);
		const char *msg, *id = json_string_value(json_object_get(s, "spanID"));
		char label[512];
		bool failed = span_failed(s, &msg);
		double scale = t1 > t0 ? (double)(t1 - t0) / bar_w : 1.0;
		int from = (int)((double)(in[row->span].start - t0) / scale);
		int to = (int)((double)(in[row->span].end - t0) / scale + 0.999);

		if (to <= from)
			to = from + 1;
		if (to > bar_w)
			to = bar_w;
		snprintf(label, sizeof label, "%*s%s %s", (int)(2 * row->depth), "", service_of(trace, s),
		    json_string_value(json_object_get(s, "operationName")) ?: "");
		printf("%-*.*s %+9.3fms %9.3fms  %*s", name_w, name_w, label,
		    (double)(in[row->span].start - t0) / 1000.0,
		    (double)(in[row->span].end - in[row->span].start) / 1000.0, from, "");
		for (int c = from; c < to; c++) {
			uint64_t cs = t0 + (uint64_t)(c * scale), ce = t0 + (uint64_t)((c + 1) * scale);
			bool crit = cp != NULL && on_critical_path(cp, id, cs, ce > cs ? ce : cs + 1);
			printf("%s%c%s", crit ? c_cp : (failed ? c_err : c_bar), crit ? '#' : '=', c_off);
		}
		if (failed)
			printf("%*s  %sERROR%s%s", bar_w - to, "", c_err, msg ? ": " : "", msg ? msg : "");
		if (failed && color)
			fputs(c_off, stdout);
		putchar('\n');
	}
	if (tree.orphans || tree.duplicates)
		printf("warning: %u spans with a missing parent shown as roots, %u duplicate spans hidden\n",
		    tree.orphans, tree.duplicates);
	qry_tree_fini(&tree);
	cm_free(in);
	cm_free(services);
	return 0;
}

static int
cmd_trace(const char *url, const char *id, bool json)
{
	char path[128];
	cm_trace_id tid;
	json_t *doc, *trace;
	int rv;

	if (cm_trace_id_parse(id, strlen(id), &tid) != CM_OK)
		return die(EXIT_USAGE, "malformed trace id %s (want up to 32 hex digits)", id);
	snprintf(path, sizeof path, "/api/traces/%s", id);
	if ((rv = get_json(url, path, &doc, "trace")) != 0)
		return rv;
	trace = json_array_get(json_object_get(doc, "data"), 0);
	if (json)
		rv = print_json(doc);
	else if (trace == NULL)
		rv = die(EXIT_NOTFOUND, "trace not found");
	else {
		json_t *cp = NULL;
		snprintf(path, sizeof path, "/api/traces/%s/critical-path", id);
		if (get_json_quiet(url, path, &cp) != 0)
			cp = NULL; /* an older daemon: draw without the highlight */
		rv = print_tree(trace, cp);
		json_decref(cp);
	}
	json_decref(doc);
	return rv;
}

/* GETs /api/traces/{id}{suffix} (or the v3 path) after checking the id. */
static int
get_trace_doc(const char *url, const char *id, const char *prefix, const char *suffix, json_t **doc)
{
	char path[160];
	cm_trace_id tid;
	if (cm_trace_id_parse(id, strlen(id), &tid) != CM_OK)
		return die(EXIT_USAGE, "malformed trace id %s (want up to 32 hex digits)", id);
	snprintf(path, sizeof path, "%s%s%s", prefix, id, suffix);
	return get_json(url, path, doc, "trace");
}

/* Span id -> "service operation" label, from the trace's Jaeger JSON. */
static const char *
span_label(json_t *trace, const char *span_id, char *buf, size_t cap)
{
	json_t *s;
	size_t i;
	json_array_foreach(json_object_get(trace, "spans"), i, s) {
		if (strcmp(json_string_value(json_object_get(s, "spanID")), span_id) == 0) {
			snprintf(buf, cap, "%s %s", service_of(trace, s), json_string_value(json_object_get(s, "operationName")));
			return buf;
		}
	}
	return span_id;
}

static int
cmd_critical_path(const char *url, const char *id, bool json)
{
	json_t *doc, *trace_doc, *trace, *sec;
	size_t i;
	json_int_t t0 = 0, total = 0;
	int rv;

	if ((rv = get_trace_doc(url, id, "/api/traces/", "/critical-path", &doc)) != 0)
		return rv;
	if (json) {
		print_json(doc);
		json_decref(doc);
		return 0;
	}
	if ((rv = get_trace_doc(url, id, "/api/traces/", "", &trace_doc)) != 0) {
		json_decref(doc);
		return rv;
	}
	trace = json_array_get(json_object_get(trace_doc, "data"), 0);
	json_array_foreach(json_object_get(doc, "data"), i, sec) {
		json_int_t s = json_integer_value(json_object_get(sec, "start"));
		total += json_integer_value(json_object_get(sec, "end")) - s;
		if (i == 0)
			t0 = s;
	}
	printf("critical path of %s: %zu sections, %.3f ms\n", id, json_array_size(json_object_get(doc, "data")), (double)total / 1000.0);
	printf("%12s %12s  %s\n", "START", "DURATION", "SERVICE OPERATION");
	json_array_foreach(json_object_get(doc, "data"), i, sec) {
		char label[512];
		json_int_t s = json_integer_value(json_object_get(sec, "start"));
		json_int_t e = json_integer_value(json_object_get(sec, "end"));
		printf("%+10.3fms %10.3fms  %s\n", (double)(s - t0) / 1000.0, (double)(e - s) / 1000.0,
		    span_label(trace, json_string_value(json_object_get(sec, "spanID")), label, sizeof label));
	}
	json_decref(trace_doc);
	json_decref(doc);
	return 0;
}

static void
print_breakdown_rows(json_t *rows, bool with_op)
{
	json_t *r;
	size_t i;
	printf("%-40s %6s %11s %11s %11s %7s\n", with_op ? "SERVICE OPERATION" : "SERVICE", "COUNT", "TOTAL ms",
	    "AVG ms", "SELF ms", "SELF %");
	json_array_foreach(rows, i, r) {
		char name[512];
		snprintf(name, sizeof name, "%s%s%s", json_string_value(json_object_get(r, "service")),
		    with_op ? " " : "", with_op ? json_string_value(json_object_get(r, "operation")) : "");
		printf("%-40s %6lld %11.3f %11.3f %11.3f %6.1f%%\n", name,
		    (long long)json_integer_value(json_object_get(r, "count")),
		    json_number_value(json_object_get(r, "total")) / 1000.0,
		    json_number_value(json_object_get(r, "avg")) / 1000.0,
		    json_number_value(json_object_get(r, "selfTotal")) / 1000.0,
		    100.0 * json_number_value(json_object_get(r, "selfShare")));
	}
}

static int
cmd_breakdown(const char *url, const char *id, bool json)
{
	json_t *doc, *data;
	int rv;

	if ((rv = get_trace_doc(url, id, "/api/traces/", "/breakdown", &doc)) != 0)
		return rv;
	data = json_object_get(doc, "data");
	if (json) {
		print_json(doc);
	} else {
		printf("breakdown of %s: %.3f ms\n\n", id, json_number_value(json_object_get(data, "duration")) / 1000.0);
		print_breakdown_rows(json_object_get(data, "services"), false);
		putchar('\n');
		print_breakdown_rows(json_object_get(data, "operations"), true);
	}
	json_decref(doc);
	return 0;
}

static int
cmd_export(const char *url, const char *id, const char *format)
{
	json_t *doc;
	int rv;

	if (strcmp(format, "jaeger") == 0)
		rv = get_trace_doc(url, id, "/api/traces/", "", &doc);
	else if (strcmp(format, "otlp") == 0)
		rv = get_trace_doc(url, id, "/api/v3/traces/", "", &doc);
	else
		return die(EXIT_USAGE, "unknown export format %s (jaeger or otlp)", format);
	if (rv != 0)
		return rv;
	/* OTLP: the ExportTraceServiceRequest itself, ready to POST to /v1/traces */
	print_json(strcmp(format, "otlp") == 0 ? json_object_get(doc, "result") : doc);
	json_decref(doc);
	return 0;
}

/* POSTs one OTLP JSON request to the collector; adds its span count to *spans. */
static int
post_otlp(const char *collector, json_t *req, size_t *spans)
{
	qry_http_response resp;
	json_t *rs, *ss;
	size_t i, k;
	char err[512];
	char *body = json_dumps(req, JSON_COMPACT);
	int rv, status;

	if (body == NULL)
		return die(EXIT_FAIL, "out of memory");
	rv = qry_http_request(collector, "POST", "/v1/traces", "application/json", body, strlen(body), TIMEOUT_MS,
	    &resp, err, sizeof err);
	free(body);
	if (rv != CM_OK)
		return die(EXIT_FAIL, "%s", err);
	status = resp.status;
	if (status != 200) {
		rv = die(EXIT_FAIL, "the collector answered HTTP %d: %.*s", status, (int)resp.body.len, resp.body.data);
		cm_buf_fini(&resp.body);
		return rv;
	}
	cm_buf_fini(&resp.body);
	json_array_foreach(json_object_get(req, "resourceSpans"), i, rs)
		json_array_foreach(json_object_get(rs, "scopeSpans"), k, ss)
			*spans += json_array_size(json_object_get(ss, "spans"));
	return 0;
}

static int
cmd_import(const char *collector, const char *path, bool json)
{
	json_error_t jerr;
	json_t *doc = json_load_file(path, 0, &jerr), *traces, *t;
	size_t spans = 0, ntraces = 0, i;
	int rv = 0;

	if (doc == NULL && jerr.line < 0)
		return die(EXIT_USAGE, "%s", jerr.text); /* cannot open or read it */
	if (doc == NULL)
		return die(EXIT_USAGE, "%s: not JSON (%s, line %d)", path, jerr.text, jerr.line);
	if (json_object_get(doc, "resourceSpans") != NULL) {
		rv = post_otlp(collector, doc, &spans); /* OTLP JSON as exported */
	} else if (json_object_get(json_object_get(doc, "result"), "resourceSpans") != NULL) {
		rv = post_otlp(collector, json_object_get(doc, "result"), &spans); /* the /api/v3 shape */
	} else {
		/* Jaeger: the API's envelope, or one trace */
		traces = json_is_array(json_object_get(doc, "data")) ? json_object_get(doc, "data") : NULL;
		for (i = 0; rv == 0 && i < (traces ? json_array_size(traces) : 1); i++) {
			const char *why = "";
			json_t *req;
			t = traces ? json_array_get(traces, i) : doc;
			if ((req = qry_jaeger_to_otlp(t, &why)) == NULL) {
				rv = die(EXIT_USAGE, "%s: %s", path, why);
				break;
			}
			rv = post_otlp(collector, req, &spans);
			json_decref(req);
			ntraces++;
		}
	}
	json_decref(doc);
	if (rv == 0 && json)
		printf("{\"spans\":%zu}\n", spans);
	else if (rv == 0)
		printf("imported %zu spans%s\n", spans, ntraces > 1 ? " from several traces" : "");
	return rv;
}

/* One result row of weft search, from a summary of /api/summaries. */
static void
print_summary(json_t *sum)
{
	json_int_t t0 = json_integer_value(json_object_get(sum, "startTime"));
	const char *root = json_string_value(json_object_get(sum, "rootServiceName"));
	const char *op = json_string_value(json_object_get(sum, "rootTraceName"));
	char when[32], label[256];
	time_t secs = (time_t)(t0 / 1000000);
	struct tm tm;

	localtime_r(&secs, &tm);
	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
	if (root != NULL)
		snprintf(label, sizeof label, "%s %s", root, op ? op : "");
	else
		snprintf(label, sizeof label, "(root span not arrived)");
	printf("%s.%03d  %-32s  %-40.40s %10.3fms %5lld %5lld %4zu\n", when, (int)(t0 % 1000000 / 1000),
	    json_string_value(json_object_get(sum, "traceID")), label,
	    (double)json_integer_value(json_object_get(sum, "duration")) / 1000.0,
	    (long long)json_integer_value(json_object_get(sum, "spanCount")),
	    (long long)json_integer_value(json_object_get(sum, "errorCount")),
	    json_array_size(json_object_get(sum, "services")));
}

static int
cmd_search(const char *url, int argc, char **argv, bool json)
{
	static const struct option opts[] = {
		{ "service", required_argument, NULL, 's' },
		{ "operation", required_argument, NULL, 'o' },
		{ "tag", required_argument, NULL, 't' },
		{ "min-duration", required_argument, NULL, 'm' },
		{ "max-duration", required_argument, NULL, 'M' },
		{ "since", required_argument, NULL, 'S' },
		{ "start", required_argument, NULL, 'b' },
		{ "end", required_argument, NULL, 'e' },
		{ "limit", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	const char *since = "1h", *start = NULL, *end = NULL;
	cm_buf path;
	json_t *doc, *t;
	size_t i;
	uint64_t ns;
	int ch, rv;

	/* the table needs summaries only; --json prints whole traces, as Jaeger's API gives them */
	cm_buf_init(&path);
	cm_buf_puts(&path, json ? "/api/traces?" : "/api/summaries?");
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		const char *param = NULL;
		switch (ch) {
		case 's': param = "service"; break;
		case 'o': param = "operation"; break;
		case 'm': param = "minDuration"; break;
		case 'M': param = "maxDuration"; break;
		case 'l': param = "limit"; break;
		case 'S': since = optarg; break;
		case 'b': start = optarg; break;
		case 'e': end = optarg; break;
		case 't': {
			const char *eq = strchr(optarg, '=');
			if (eq == NULL || eq == optarg) {
				cm_buf_fini(&path);
				return die(EXIT_USAGE, "--tag wants KEY=VALUE, not %s", optarg);
			}
			cm_buf_puts(&path, "tag=");
			char *key = cm_strndup(optarg, (size_t)(eq - optarg));
			qry_url_escape(&path, key);
			cm_free(key);
			cm_buf_puts(&path, "%3A");
			qry_url_escape(&path, eq + 1);
			cm_buf_puts(&path, "&");
			break;
		}
		default:
			cm_buf_fini(&path);
			return die(EXIT_USAGE, "unknown or incomplete search option %s (see --help)", argv[optind - 1]);
		}
		if (param != NULL) {
			if ((ch == 'm' || ch == 'M') && cm_duration_parse(optarg, &ns) != CM_OK) {
				cm_buf_fini(&path);
				return die(EXIT_USAGE, "bad duration %s (e.g. 250ms, 1.5s)", optarg);
			}
			cm_buf_printf(&path, "%s=", param);
			qry_url_escape(&path, optarg);
			cm_buf_puts(&path, "&");
		}
	}
	if (optind < argc) {
		cm_buf_fini(&path);
		return die(EXIT_USAGE, "unexpected argument %s (see --help)", argv[optind]);
	}
	if (start != NULL || end != NULL) {
		cm_buf_printf(&path, "start=%s&end=%s", start ? start : "0", end ? end : "0");
	} else {
		struct timespec now;
		if (cm_duration_parse(since, &ns) != CM_OK) {
			cm_buf_fini(&path);
			return die(EXIT_USAGE, "bad --since %s (e.g. 15m, 1h, 24h)", since);
		}
		clock_gettime(CLOCK_REALTIME, &now);
		uint64_t now_us = (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u;
		cm_buf_printf(&path, "start=%llu", (unsigned long long)(now_us > ns / 1000 ? now_us - ns / 1000 : 0));
	}
	rv = get_json(url, path.data, &doc, "search");
	cm_buf_fini(&path);
	if (rv != 0)
		return rv;
	if (json) {
		print_json(doc);
	} else {
		printf("%-23s  %-32s  %-40s %12s %5s %5s %4s\n", "TIME", "TRACE", "ROOT", "DURATION", "SPANS", "ERRS", "SVCS");
		json_array_foreach(json_object_get(doc, "data"), i, t)
			print_summary(t);
		printf("%zu traces\n", json_array_size(json_object_get(doc, "data")));
	}
	json_decref(doc);
	return 0;
}

static int
cmd_deps(const char *url, int argc, char **argv, bool json)
{
	static const struct option opts[] = {
		{ "since", required_argument, NULL, 's' },
		{ "dot", no_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	const char *since = "24h";
	bool dot = false;
	uint64_t ns;
	char path[128];
	struct timespec now;
	json_t *doc, *e;
	size_t i;
	int ch, rv;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 's')
			since = optarg;
		else if (ch == 'd')
			dot = true;
		else
			return die(EXIT_USAGE, "unknown or incomplete deps option %s (see --help)", argv[optind - 1]);
	}
	if (optind < argc)
		return die(EXIT_USAGE, "unexpected argument %s (see --help)", argv[optind]);
	if (cm_duration_parse(since, &ns) != CM_OK)
		return die(EXIT_USAGE, "bad --since %s (e.g. 1h, 24h)", since);
	clock_gettime(CLOCK_REALTIME, &now);
	snprintf(path, sizeof path, "/api/dependencies?endTs=%llu&lookback=%llu",
	    (unsigned long long)now.tv_sec * 1000ull + (unsigned long long)now.tv_nsec / 1000000ull,
	    (unsigned long long)(ns / 1000000u));
	if ((rv = get_json(url, path, &doc, "dependencies")) != 0)
		return rv;
	if (json) {
		print_json(doc);
	} else if (dot) {
		puts("digraph weft {");
		json_array_foreach(json_object_get(doc, "data"), i, e)
			printf("  \"%s\" -> \"%s\" [label=\"%lld\"];\n", json_string_value(json_object_get(e, "parent")),
			    json_string_value(json_object_get(e, "child")), (long long)json_integer_value(json_object_get(e, "callCount")));
		puts("}");
	} else {
		printf("%-30s %-30s %10s\n", "PARENT", "CHILD", "CALLS");
		json_array_foreach(json_object_get(doc, "data"), i, e)
			printf("%-30s %-30s %10lld\n", json_string_value(json_object_get(e, "parent")),
			    json_string_value(json_object_get(e, "child")), (long long)json_integer_value(json_object_get(e, "callCount")));
	}
	json_decref(doc);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "json", no_argument, NULL, 'j' },
		{ "collector", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *url = getenv("WEFT_QUERY_URL");
	const char *collector = getenv("WEFT_COLLECTOR_URL");
	const char *format = NULL;
	bool json = false;
	const char *cmd;
	int ch, nargs;

	if (url == NULL || *url == '\0')
		url = "http://127.0.0.1:16686";
	if (getenv("WEFT_AUTH_TOKEN") != NULL && qry_http_set_bearer(getenv("WEFT_AUTH_TOKEN")) != CM_OK)
		return die(2, "WEFT_AUTH_TOKEN is over 255 bytes or holds a line break");
	if (getenv("WEFT_CA_FILE") != NULL && qry_http_set_ca(getenv("WEFT_CA_FILE")) != CM_OK)
		return die(2, "WEFT_CA_FILE is too long a path");
	if (collector == NULL || *collector == '\0')
		collector = "http://127.0.0.1:4318";
	opterr = 0;
	/* "+": options end at the command; later options belong to it. */
	while ((ch = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (ch) {
		case 'u': url = optarg; break;
		case 'c': collector = optarg; break;
		case 'j': json = true; break;
		case 'h': fputs(usage, stdout); return 0;
		default: return die(EXIT_USAGE, "unknown or incomplete option %s (see --help)", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return die(EXIT_USAGE, "no command given (see --help)");
	cmd = argv[optind++];
	if (strcmp(cmd, "search") == 0 || strcmp(cmd, "deps") == 0) {
		/* search and deps have options of their own: hand them argv from the command on, minus --json */
		int n = 0;
		for (int i = optind - 1; i < argc; i++) {
			if (strcmp(argv[i], "--json") == 0)
				json = true;
			else
				argv[n++] = argv[i];
		}
		return strcmp(cmd, "search") == 0 ? cmd_search(url, n, argv, json) : cmd_deps(url, n, argv, json);
	}
	/* Allow --json, and --format for export, after the command too. */
	for (int i = optind; i < argc; i++) {
		int take = 0;
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
			take = 1;
		} else if (strcmp(argv[i], "--format") == 0 && i + 1 < argc) {
			format = argv[i + 1];
			take = 2;
		} else if (strncmp(argv[i], "--format=", 9) == 0) {
			format = argv[i] + 9;
			take = 1;
		}
		if (take) {
			memmove(&argv[i], &argv[i + take], (size_t)(argc - i - take) * sizeof *argv);
			argc -= take;
			i--;
		}
	}
	nargs = argc - optind;
	if (strcmp(cmd, "services") == 0 && nargs == 0)
		return cmd_services(url, json);
	if (strcmp(cmd, "operations") == 0 && nargs == 1)
		return cmd_operations(url, argv[optind], json);
	if (strcmp(cmd, "trace") == 0 && nargs == 1)
		return cmd_trace(url, argv[optind], json);
	if (strcmp(cmd, "critical-path") == 0 && nargs == 1)
		return cmd_critical_path(url, argv[optind], json);
	if (strcmp(cmd, "breakdown") == 0 && nargs == 1)
		return cmd_breakdown(url, argv[optind], json);
	if (strcmp(cmd, "import") == 0 && nargs == 1)
		return cmd_import(collector, argv[optind], json);
	if (strcmp(cmd, "export") == 0 && nargs == 1)
		return format ? cmd_export(url, argv[optind], format) : die(EXIT_USAGE, "export needs --format jaeger|otlp");
	if (strcmp(cmd, "services") == 0 || strcmp(cmd, "operations") == 0 || strcmp(cmd, "trace") == 0 ||
	    strcmp(cmd, "critical-path") == 0 || strcmp(cmd, "breakdown") == 0 || strcmp(cmd, "export") == 0 ||
	    strcmp(cmd, "import") == 0)
		return die(EXIT_USAGE, "wrong number of arguments for %s (see --help)", cmd);
	return die(EXIT_USAGE, "unknown command %s (see --help)", cmd);
}
