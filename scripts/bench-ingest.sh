#!/usr/bin/env bash
# make bench-ingest: collector ingest throughput, durable and indexed.
#
# Each run starts weft-collector on a fresh data directory and drives it with
# weft-loadgen until every span is acknowledged: once through the native
# protocol (libweft, 12 services) and once through OTLP/HTTP protobuf. "Per
# core" divides spans by the collector's own CPU seconds (user + system,
# from /proc), so the load generator sharing this machine neither flatters
# nor hides it. Reports medians over BENCH_RUNS runs (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
BIN=${WEFT_BIN:-bin}
RUNS=${BENCH_RUNS:-3}
NATIVE_SPANS=${BENCH_NATIVE_SPANS:-2000000}
OTLP_SPANS=${BENCH_OTLP_SPANS:-1000000}
TICKS=$(getconf CLK_TCK)
work=$(mktemp -d "${TMPDIR:-/tmp}/weft-bench-XXXXXX")
cpid=""
cleanup() { [[ -n "$cpid" ]] && kill "$cpid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# run PROTOCOL SPANS: one collector, one loadgen run; prints
# "spans_per_s per_core ack_p99_ms rss_mb"
run() {
	local proto=$1 spans=$2 native otlp admin t0 t1 out n secs p99 rss
	native=$(free_port 24319); admin=$(free_port 24269); otlp=$(free_port 24318)
	rm -rf "$work/data"
	"$BIN/weft-collector" --data-dir "$work/data" --native "tcp://127.0.0.1:$native" \
		--otlp-http "127.0.0.1:$otlp" --zipkin off --admin "127.0.0.1:$admin" 2>"$work/collector.log" &
	cpid=$!
	wait_for busy "$admin"
	t0=$(cpu_ticks "$cpid")
	# loadgen exits 1 when it dropped spans; its line still counts what was acknowledged
	if [[ $proto == native ]]; then
		out=$("$BIN/weft-loadgen" --protocol native --endpoint "tcp://127.0.0.1:$native" --spans "$spans" --threads 2) || true
	else
		out=$("$BIN/weft-loadgen" --protocol otlp --endpoint "127.0.0.1:$otlp" --spans "$spans" --threads 2 --batch 512) || true
	fi
	t1=$(cpu_ticks "$cpid")
	rss=$(awk '/VmHWM/ {print $2 / 1024}' "/proc/$cpid/status")
	kill "$cpid"; wait "$cpid" || true; cpid=""
	n=$(awk '/^loadgen:/ {print $3}' <<<"$out")
	secs=$(awk '/^loadgen:/ {print $5}' <<<"$out")
	p99=$(awk '/^loadgen:/ {print $9 / 1000}' <<<"$out")
	awk -v n="$n" -v s="$secs" -v c="$((t1 - t0))" -v hz="$TICKS" -v p="$p99" -v r="$rss" \
		'BEGIN { printf "%.0f %.0f %.1f %.0f\n", n / s, n / (c / hz), p, r }'
}

probe_before=$(probe)
echo "weft bench-ingest: $RUNS runs; native $NATIVE_SPANS spans, OTLP protobuf $OTLP_SPANS spans"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
declare -a ns nc np nr os oc
for i in $(seq "$RUNS"); do
	read -r a b c d < <(run native "$NATIVE_SPANS")
	ns+=("$a"); nc+=("$b"); np+=("$c"); nr+=("$d")
	read -r e f _ _ < <(run otlp "$OTLP_SPANS")
	os+=("$e"); oc+=("$f")
	printf "run %d: native %s spans/s, %s per core, ack p99 %s ms, peak RSS %s MiB | otlp %s spans/s, %s per core\n" \
		"$i" "$a" "$b" "$c" "$d" "$e" "$f"
done
echo
echo "bench: ingest_native_spans_per_core $(median "${nc[@]}")"
echo "bench: ingest_native_spans_per_s $(median "${ns[@]}")"
echo "bench: ingest_otlp_proto_spans_per_core $(median "${oc[@]}")"
echo "bench: ingest_ack_p99_ms $(median "${np[@]}")"
echo "bench: collector_peak_rss_mb $(printf '%s\n' "${nr[@]}" | sort -g | tail -1)"
echo "bench: machine_loop_ns_before $probe_before"
echo "bench: machine_loop_ns_after $(probe)"
