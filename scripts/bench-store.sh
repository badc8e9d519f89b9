#!/usr/bin/env bash
# make bench-store: the store's figures (DESIGN.md section 11) on a data
# directory filled through the collector with BENCH_STORE_FILL loadgen spans
# (default 10,000,000) plus 100 traces of 200 spans to read. The collector
# is stopped, weft-bench-store compacts the store and times the storage
# calls (medians over BENCH_RUNS runs, default 3), then weft-query serves
# the store to weft-bench-query's load and its peak RSS is reported.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
BIN=${WEFT_BIN:-bin}
RUNS=${BENCH_RUNS:-3}
FILL=${BENCH_STORE_FILL:-10000000}
work=$(mktemp -d "${TMPDIR:-/tmp}/weft-bench-XXXXXX")
http=$(free_port 26686)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

probe_before=$(probe)
echo "weft bench-store"
fill_store "$work" "$FILL"
pids+=("$collector_pid")
spans=$stored
kill "$collector_pid"; wait "$collector_pid" || true

declare -A vals
for i in $(seq "$RUNS"); do
	echo "-- run $i"
	out=$("$BIN/weft-bench-store" --data-dir "$work/data" --spans "$spans" --ids "$work/ids200")
	grep -v '^bench:' <<<"$out" | grep -v '^$'
	while read -r _ name value; do vals[$name]+="$value "; done < <(grep '^bench:' <<<"$out")
done

"$BIN/weft-query" --data-dir "$work/data" --http "127.0.0.1:$http" 2>"$work/query.log" &
pids+=($!)
wait_for busy "$http"
"$BIN/weft-bench-query" --port "$http" --ids "$work/ids200" --big "$(awk '{print $2; exit}' "$work/ids200")" \
	--requests 1000 | grep -v '^bench:' | grep -v '^$'
rss=$(awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/${pids[1]}/status")
echo "query daemon peak RSS while serving: $rss MiB (block cache 64 MiB)"
echo
for name in store_spans store_bytes_per_span trace_by_id_p50_ms trace_by_id_p99_ms search_service_op_dur_p99_ms \
	search_attr_p99_ms search_no_service_p99_ms deps_24h_ms; do
	# shellcheck disable=SC2086
	echo "bench: $name $(median ${vals[$name]})"
done
echo "bench: query_rss_mb $rss"
echo "bench: machine_loop_ns_before $probe_before"
echo "bench: machine_loop_ns_after $(probe)"
