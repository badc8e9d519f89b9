#!/usr/bin/env bash
# make bench-sdk: libweft's cost on the instrumented thread, against a real
# collector on a fresh data directory (so spans take the whole path).
# Medians of BENCH_RUNS runs (default 3) of weft-bench-sdk.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
BIN=${WEFT_BIN:-bin}
RUNS=${BENCH_RUNS:-3}
work=$(mktemp -d "${TMPDIR:-/tmp}/weft-bench-XXXXXX")
native=$(free_port 24319); admin=$(free_port 24269)
"$BIN/weft-collector" --data-dir "$work/data" --native "tcp://127.0.0.1:$native" --otlp-http off \
	--zipkin off --admin "127.0.0.1:$admin" 2>"$work/collector.log" &
cpid=$!
trap 'kill $cpid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
wait_for busy "$admin"

probe_before=$(probe)
echo "weft bench-sdk: $RUNS runs; $(nproc) cores, $(uname -r)"
declare -A vals
for i in $(seq "$RUNS"); do
	echo "-- run $i"
	out=$("$BIN/weft-bench-sdk" --endpoint "tcp://127.0.0.1:$native" --spans "${BENCH_SDK_SPANS:-200000}")
	grep -v '^bench:' <<<"$out" | grep -v '^$'
	while read -r _ name value; do vals[$name]+="$value "; done < <(grep '^bench:' <<<"$out")
done
echo
for name in sdk_span_4attr_p50_ns sdk_span_4attr_p99_ns sdk_span_unsampled_p50_ns sdk_span_2threads_p50_ns \
	sdk_span_down_p50_ns sdk_span_down_p99_ns sdk_span_4attr_op_ns sdk_span_unsampled_op_ns sdk_floor_p50_ns; do
	# shellcheck disable=SC2086
	echo "bench: $name $(median ${vals[$name]})"
done
echo "bench: machine_loop_ns_before $probe_before"
echo "bench: machine_loop_ns_after $(probe)"
