#!/usr/bin/env bash
# make bench-query: weft-query's answer times through its HTTP API, on a
# store filled with BENCH_QUERY_FILL loadgen spans (default 10,000,000),
# plus 100 traces of 200 spans and one of 1,000 spans to ask for. The
# collector is stopped before the queries: this measures a filled store.
# Medians over BENCH_RUNS runs (default 3) of weft-bench-query.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
BIN=${WEFT_BIN:-bin}
RUNS=${BENCH_RUNS:-3}
FILL=${BENCH_QUERY_FILL:-10000000}
work=$(mktemp -d "${TMPDIR:-/tmp}/weft-bench-XXXXXX")
http=$(free_port 26686)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

probe_before=$(probe)
echo "weft bench-query"
fill_store "$work" "$FILL"
pids+=("$collector_pid")
big=$("$BIN/weft-loadgen" --protocol native --endpoint "$native_url" --spans 1000 --trace-spans 1000 \
	--threads 1 --print-trace-ids | awk '/^trace /{print $2; exit}') || true
# A filled store, not one being filled: stop the collector (a clean close)
# so that its compactions do not share the two cores with the queries.
kill "$collector_pid"; wait "$collector_pid" || true
echo "store: $(du -sh "$work/data" | cut -f1) on disk (collector stopped)"
"$BIN/weft-query" --data-dir "$work/data" --http "127.0.0.1:$http" 2>"$work/query.log" &
pids+=($!)
wait_for busy "$http"

declare -A vals
for i in $(seq "$RUNS"); do
	echo "-- run $i"
	out=$("$BIN/weft-bench-query" --port "$http" --ids "$work/ids200" --big "$big" --requests 1000)
	grep -v '^bench:' <<<"$out" | grep -v '^$'
	while read -r _ name value; do vals[$name]+="$value "; done < <(grep '^bench:' <<<"$out")
done
echo "query daemon peak RSS: $(awk '/VmHWM/ {printf "%.0f MiB", $2 / 1024}' "/proc/${pids[1]}/status")"
echo
for name in http_trace_by_id_p99_ms critical_path_1000_spans_ms breakdown_1000_spans_ms; do
	# shellcheck disable=SC2086
	echo "bench: $name $(median ${vals[$name]})"
done
echo "bench: machine_loop_ns_before $probe_before"
echo "bench: machine_loop_ns_after $(probe)"
