/*
 * bench_store.c - weft-bench-store: the store's own figures, through the
 * storage API, on a filled data directory whose collector has stopped.
 *
 *   weft-bench-store --data-dir DIR --spans N --ids FILE [--queries Q]
 *   weft-bench-store --data-dir DIR --spans N --regroup DIR2 [--traces-per-write K]
 *
 * FILE holds "trace <id>" lines of traces to read (200 spans each). Compacts
 * the store fully, then reports bytes per span on disk (every family and the
 * WAL: indexes included), and p50/p99 over Q calls (default 500) of: a trace
 * by id; a search by service+operation+minimum duration over the last hour
 * (whole traces, and summaries); a search by service and a rare attribute
 * (a value seen once in the store) and by a common one; a search with no
 * service (whole traces, and summaries); dependencies over 24 h.
 * Ends with "bench: NAME VALUE" lines (DESIGN.md section 11).
 *
 * --regroup copies every trace of the compacted store into a new store in
 * DIR2, K whole traces a write (default 60: about a collector's write of
 * loadgen spans), compacts it and reports its bytes by family: what the
 * layout takes when a write holds whole traces, as a collector that
 * waited for traces to complete would write them.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "err.h"
#include "ids.h"
#include "store.h"

#define HOUR_NS 3600000000000ull

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double
pct(double *v, size_t n, double p)
{
	qsort(v, n, sizeof *v, cmp_double);
	return v[(size_t)(p * (double)(n - 1) + 0.5)];
}

static double
ms_since(uint64_t t0)
{
	return (double)(cm_mono_ns() - t0) / 1e6;
}

static void
die(const char *what, int rv)
{
	fprintf(stderr, "weft-bench-store: %s: %s\n", what, cm_strerror(rv));
	exit(1);
}

/*
 * Times q searches (whole traces, or their summaries as /api/summaries
 * gives them); returns the p99 in ms and prints p50/p99 and the hits of
 * the last.
 */
static double
time_search(st_store *s, const char *label, const st_query *q, size_t nq, bool summaries)
{
	double *ms = malloc(nq * sizeof *ms), p50, p99;
	size_t hits = 0;
	for (size_t i = 0; i < nq; i++) {
		st_traces r;
		st_summaries l;
		uint64_t t0 = cm_mono_ns();
		int rv = summaries ? st_search_summaries(s, q, &l) : st_search(s, q, &r);
		if (rv != CM_OK)
			die(label, rv);
		ms[i] = ms_since(t0);
		hits = summaries ? l.n : r.n;
		if (summaries)
			st_summaries_fini(&l);
		else
			st_traces_fini(&r);
	}
	p50 = pct(ms, nq, 0.5);
	p99 = pct(ms, nq, 0.99);
	printf("%-44s p50 %8.2f ms  p99 %8.2f ms  (%zu traces)\n", label, p50, p99, hits);
	free(ms);
	return p99;
}

/* An attribute of trace t with a value of the form "u-<n>" (rare), and one with a word (common). */
static void
pick_tags(const cm_batch *t, st_tag *rare, const char **rare_svc, st_tag *common)
{
	static char buf[4][256];
	for (uint32_t i = 0; i < t->nspans; i++) {
		const cm_span *sp = &t->spans[i];
		for (uint32_t a = 0; a < sp->attrs.n; a++) {
			const cm_attr *at = &sp->attrs.v[a];
			if (at->val.type != CM_VAL_STR || at->key.len >= 255 || at->val.u.s.len >= 255)
				continue;
			bool is_rare = at->val.u.s.len > 2 && memcmp(at->val.u.s.p, "u-", 2) == 0;
			st_tag *tag = is_rare ? rare : common;
			int k = is_rare ? 0 : 2;
			if (tag->key != NULL)
				continue;
			snprintf(buf[k], sizeof buf[k], "%.*s", (int)at->key.len, at->key.p);
			snprintf(buf[k + 1], sizeof buf[k + 1], "%.*s", (int)at->val.u.s.len, at->val.u.s.p);
			*tag = (st_tag){ buf[k], buf[k + 1] };
			if (is_rare) {
				static char svc[256];
				const cm_str *n = &t->resources[sp->resource].service;
				snprintf(svc, sizeof svc, "%.*s", (int)n->len, n->p);
				*rare_svc = svc;
			}
		}
	}
}

/* Prints the bytes per span of s's table files by family; returns their sum per span. */
static double
print_families(st_store *s, const char *what, double spans)
{
	st_family_bytes fb;
	int rv = st_store_family_bytes(s, &fb);
	if (rv != CM_OK)
		die("family bytes", rv);
	printf("%s: spans %.2f, index %.2f, meta %.2f bytes per span in table files\n", what, (double)fb.spans / spans,
	    (double)fb.index / spans, (double)fb.meta / spans);
	return (double)(fb.spans + fb.index + fb.meta) / spans;
}

typedef struct id_list {
	cm_trace_id *v;
	size_t n, cap;
} id_list;

static int
add_id(void *arg, const cm_trace_id *id)
{
	id_list *l = arg;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 4096;
		if ((l->v = realloc(l->v, l->cap * sizeof *l->v)) == NULL)
			return CM_ENOMEM;
	}
	l->v[l->n++] = *id;
	return CM_OK;
}

/* The --regroup mode (see the top of this file). */
static int
regroup(st_store *s, const char *dir, size_t per_write, double spans)
{
	st_options o = { .data_dir = dir };
	st_store *to;
	id_list ids = { 0 };
	cm_batch *traces = calloc(per_write, sizeof *traces);
	const cm_batch **ptr = calloc(per_write, sizeof *ptr);
	char err[512];
	size_t n = 0;
	int rv;

	if (traces == NULL || ptr == NULL)
		die("regroup", CM_ENOMEM);
	if ((rv = st_store_open(&o, &to, err, sizeof err)) != CM_OK) {
		fprintf(stderr, "weft-bench-store: %s\n", err);
		return 1;
	}
	if ((rv = st_trace_ids(s, add_id, &ids)) != CM_OK)
		die("list traces", rv);
	for (size_t i = 0; i < ids.n; i++) {
		cm_batch_init(&traces[n]);
		if ((rv = st_trace_get(s, &ids.v[i], &traces[n])) != CM_OK)
			die("trace by id", rv);
		ptr[n] = &traces[n];
		if (++n == per_write || i + 1 == ids.n) {
			if ((rv = st_store_write_many(to, ptr, n)) != CM_OK)
				die("write", rv);
			while (n > 0)
				cm_batch_fini(&traces[--n]);
		}
	}
	if ((rv = st_store_compact(to)) != CM_OK)
		die("compact", rv);
	printf("regrouped %zu traces, %zu a write:\n", ids.n, per_write);
	printf("\nbench: regroup_bytes_per_span %.1f\n", print_families(to, "whole traces a write", spans));
	st_store_close(to);
	free(ids.v);
	free(traces);
	free(ptr);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = { { "data-dir", required_argument, NULL, 'd' },
		{ "spans", required_argument, NULL, 's' }, { "ids", required_argument, NULL, 'i' },
		{ "queries", required_argument, NULL, 'q' }, { "regroup", required_argument, NULL, 'r' },
		{ "traces-per-write", required_argument, NULL, 't' }, { NULL, 0, NULL, 0 } };
	st_options o = { 0 };
	const char *ids_path = NULL, *regroup_dir = NULL;
	double spans = 0, *ms;
	size_t nq = 500, nids = 0, per_write = 60;
	cm_trace_id *ids = NULL;
	st_store *s;
	char err[512], line[128], label[640];
	int c, rv;
	FILE *f;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'd': o.data_dir = optarg; break;
		case 's': spans = atof(optarg); break;
		case 'i': ids_path = optarg; break;
		case 'q': nq = (size_t)atol(optarg); break;
		case 'r': regroup_dir = optarg; break;
		case 't': per_write = (size_t)atol(optarg); break;
		default:
			fprintf(stderr, "usage: weft-bench-store --data-dir DIR --spans N --ids FILE [--queries Q]\n"
					"       weft-bench-store --data-dir DIR --spans N --regroup DIR2 [--traces-per-write K]\n");
			return 2;
		}
	}
	if (regroup_dir != NULL && o.data_dir != NULL && spans > 0 && per_write > 0) {
		if ((rv = st_store_open(&o, &s, err, sizeof err)) != CM_OK) {
			fprintf(stderr, "weft-bench-store: %s\n", err);
			return 1;
		}
		if ((rv = st_store_compact(s)) != CM_OK)
			die("compact", rv);
		print_families(s, "as written", spans);
		rv = regroup(s, regroup_dir, per_write, spans);
		st_store_close(s);
		return rv;
	}
	if (o.data_dir == NULL || ids_path == NULL || spans <= 0 || nq < 10 || (f = fopen(ids_path, "r")) == NULL) {
		fprintf(stderr, "weft-bench-store: need --data-dir, --spans, a readable --ids file and --queries >= 10\n");
		return 2;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, "trace ", 6) != 0)
			continue;
		ids = realloc(ids, (nids + 1) * sizeof *ids);
		if (ids == NULL || cm_trace_id_parse(line + 6, 32, &ids[nids]) != CM_OK)
			continue;
		nids++;
	}
	fclose(f);
	if (nids == 0) {
		fprintf(stderr, "weft-bench-store: no trace ids in %s\n", ids_path);
		return 2;
	}
	if ((rv = st_store_open(&o, &s, err, sizeof err)) != CM_OK) {
		fprintf(stderr, "weft-bench-store: %s\n", err);
		return 1;
	}

	uint64_t t0 = cm_mono_ns();
	if ((rv = st_store_compact(s)) != CM_OK)
		die("compact", rv);
	double bytes = (double)st_store_disk_bytes(s);
	printf("compacted in %.1f s: %.0f MiB on disk for %.0f spans: %.1f bytes per span\n",
	    ms_since(t0) / 1e3, bytes / 1048576.0, spans, bytes / spans);
	print_families(s, "by family", spans);

	ms = malloc(nq * sizeof *ms);
	cm_batch first;
	cm_batch_init(&first);
	for (size_t i = 0; i < nq; i++) {
		cm_batch t;
		cm_batch_init(&t);
		t0 = cm_mono_ns();
		if ((rv = st_trace_get(s, &ids[i % nids], &t)) != CM_OK)
			die("trace by id", rv);
		ms[i] = ms_since(t0);
		if (i == 0)
			first = t;
		else
			cm_batch_fini(&t);
	}
	double tid50 = pct(ms, nq, 0.5), tid99 = pct(ms, nq, 0.99);
	printf("%-44s p50 %8.2f ms  p99 %8.2f ms  (%u spans)\n", "trace by id", tid50, tid99, first.nspans);

	uint64_t now = cm_now_ns();
	st_tag rare = { 0 }, common = { 0 };
	const char *rare_svc = NULL;
	pick_tags(&first, &rare, &rare_svc, &common);
	if (rare.key == NULL || common.key == NULL) {
		fprintf(stderr, "weft-bench-store: the first trace has no attributes to search by\n");
		return 1;
	}
	st_query sod = { .service = "checkout", .operation = "SELECT products", .min_dur_ns = 50000,
		.start_ns = now - HOUR_NS, .end_ns = now, .limit = 20 };
	st_query attr = { .service = rare_svc, .tags = &rare, .ntags = 1, .start_ns = now - HOUR_NS,
		.end_ns = now, .limit = 20 };
	st_query attr_common = { .service = "payment", .tags = &common, .ntags = 1, .start_ns = now - HOUR_NS,
		.end_ns = now, .limit = 20 };
	st_query nosvc = { .start_ns = now - HOUR_NS, .end_ns = now, .limit = 20 };
	size_t nsearch = nq / 5;
	double sod99 = time_search(s, "search service+operation+duration, 1 h", &sod, nsearch, false);
	time_search(s, "summaries service+operation+duration, 1 h", &sod, nsearch, true);
	snprintf(label, sizeof label, "search %s + %s=%s", rare_svc, rare.key, rare.value);
	double attr99 = time_search(s, label, &attr, nsearch, false);
	snprintf(label, sizeof label, "search payment + %s=%s", common.key, common.value);
	time_search(s, label, &attr_common, nsearch, false);
	double nosvc99 = time_search(s, "search with no service, 1 h", &nosvc, nsearch, false);
	time_search(s, "summaries with no service, 1 h", &nosvc, nsearch, true);

	for (size_t i = 0; i < nsearch; i++) {
		st_deplist d;
		t0 = cm_mono_ns();
		if ((rv = st_dependencies(s, now - 24 * HOUR_NS, now, &d)) != CM_OK)
			die("dependencies", rv);
		ms[i] = ms_since(t0);
		st_deplist_fini(&d);
	}
	double deps = pct(ms, nsearch, 0.5);
	printf("%-44s p50 %8.2f ms\n", "dependencies over 24 h", deps);

	printf("\nbench: store_spans %.0f\n", spans);
	printf("bench: store_bytes_per_span %.1f\n", bytes / spans);
	printf("bench: trace_by_id_p50_ms %.3f\n", tid50);
	printf("bench: trace_by_id_p99_ms %.3f\n", tid99);
	printf("bench: search_service_op_dur_p99_ms %.2f\n", sod99);
	printf("bench: search_attr_p99_ms %.2f\n", attr99);
	printf("bench: search_no_service_p99_ms %.2f\n", nosvc99);
	printf("bench: deps_24h_ms %.2f\n", deps);
	cm_batch_fini(&first);
	free(ms);
	free(ids);
	st_store_close(s);
	return 0;
}
