#!/usr/bin/env bash
# make soak: SOAK_SECONDS (default 600) of mixed load against a collector
# and a query daemon on a fresh data directory:
#   - libweft spans through the native protocol (SOAK_NATIVE_RATE, 10,000/s),
#   - OTLP/HTTP protobuf (SOAK_OTLP_RATE, 3,000/s),
#   - the weft CLI asking the query daemon for services, a search and a
#     trace, twice a second.
# Samples both daemons' RSS and what RocksDB holds for them
# (weft_store_memtable_bytes, weft_store_table_readers_bytes from /metrics)
# every 10 s. Passes when every load generator and query succeeded,
# neither daemon logged an error, and neither daemon's measure has a mean
# over the last minute above its mean over the minute after the warm-up
# (SOAK_WARMUP_SECONDS, default half the run: RocksDB's levels take about
# five minutes to reach their working size at these rates, measured) by
# 10% or more of the daemon's RSS then. The collector's measure is its
# RSS: its heap keeps the memory of flushed memtables for the next ones,
# so its RSS stays at their high-water mark. The query daemon's is its RSS
# less memtables and table readers: it returns flushed memtables to the
# system (query_main.c), so its RSS moves by 100 MiB within a minute with
# them, which a one-minute mean of RSS mistook for growth, and its table
# readers (index and filter blocks of the files it has open) grow with the
# data, as they should. The daemons run with SOAK_BLOCK_CACHE_MIB (8) of
# block cache, so a filling cache is not mistaken for a leak either.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
BIN=${WEFT_BIN:-bin}
SECS=${SOAK_SECONDS:-600}
NRATE=${SOAK_NATIVE_RATE:-10000}
ORATE=${SOAK_OTLP_RATE:-3000}
CACHE=${SOAK_BLOCK_CACHE_MIB:-8}
WARMUP=${SOAK_WARMUP_SECONDS:-$((SECS / 2))}
work=$(mktemp -d "${TMPDIR:-/tmp}/weft-soak-XXXXXX")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

native=$(free_port 25319); otlp=$(free_port 25318); admin=$(free_port 25269); http=$(free_port 25686)
"$BIN/weft-collector" --data-dir "$work/data" --native "tcp://127.0.0.1:$native" --otlp-http "127.0.0.1:$otlp" \
	--zipkin off --admin "127.0.0.1:$admin" --block-cache-mib "$CACHE" 2>"$work/collector.log" &
cpid=$!; pids+=("$cpid")
wait_for busy "$admin"
"$BIN/weft-query" --data-dir "$work/data" --http "127.0.0.1:$http" --block-cache-mib "$CACHE" 2>"$work/query.log" &
qpid=$!; pids+=("$qpid")
wait_for busy "$http"
export WEFT_QUERY_URL="http://127.0.0.1:$http"

echo "weft soak: ${SECS}s (warm-up ${WARMUP}s); native $NRATE spans/s, OTLP protobuf $ORATE spans/s, queries 2/s; block caches $CACHE MiB"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
"$BIN/weft-loadgen" --protocol native --endpoint "tcp://127.0.0.1:$native" --rate "$NRATE" \
	--spans $((NRATE * SECS)) >"$work/native.out" 2>&1 &
npid=$!; pids+=("$npid")
"$BIN/weft-loadgen" --protocol otlp --endpoint "127.0.0.1:$otlp" --rate "$ORATE" --batch 512 \
	--spans $((ORATE * SECS)) >"$work/otlp.out" 2>&1 &
opid=$!; pids+=("$opid")

# rocks PORT: the daemon's memtables plus table readers in KiB (as VmRSS), from /metrics; 0 when unreadable
rocks() {
	http_get "$1" /metrics | awk '/^weft_store_(memtable|table_readers)_bytes / {m += $2} END {printf "%d\n", m / 1024}'
}

queries=0 qfail=0 t0=$SECONDS next_sample=0
declare -a crss qrss crocks qrocks
while kill -0 "$npid" 2>/dev/null || kill -0 "$opid" 2>/dev/null; do
	if (( SECONDS - t0 >= next_sample )); then
		crss+=("$(awk '/VmRSS/ {print $2}' "/proc/$cpid/status")")
		qrss+=("$(awk '/VmRSS/ {print $2}' "/proc/$qpid/status")")
		crocks+=("$(rocks "$admin")")
		qrocks+=("$(rocks "$http")")
		awk -v t=$((SECONDS - t0)) -v c="${crss[-1]}" -v q="${qrss[-1]}" -v cm="${crocks[-1]}" -v qm="${qrocks[-1]}" \
			-v n="$queries" -v f="$qfail" \
			'BEGIN {printf "t=%4ds collector RSS %6.1f MiB (memtables+readers %5.1f), query RSS %6.1f MiB (%5.1f), queries %d (%d failed)\n",
				t, c / 1024, cm / 1024, q / 1024, qm / 1024, n, f}'
		next_sample=$((next_sample + 10))
	fi
	svc=$("$BIN/weft" services 2>/dev/null | head -1) || true
	for cmd in "services" "search --service ${svc:-none} --limit 20"; do
		queries=$((queries + 1))
		# shellcheck disable=SC2086
		"$BIN/weft" $cmd >/dev/null 2>&1 || qfail=$((qfail + 1))
	done
	sleep 0.5
done
wait "$npid" || { echo "soak: native load generator failed:"; cat "$work/native.out"; exit 1; }
wait "$opid" || { echo "soak: OTLP load generator failed:"; cat "$work/otlp.out"; exit 1; }
grep '^loadgen:' "$work/native.out" "$work/otlp.out" | sed 's/^[^:]*\///'

# growth after warm-up: each measure's mean over the last minute against its mean over the minute after the
# warm-up, as a share of the daemon's mean RSS in that minute (samples are 10 s apart)
verdict=0
for who in collector query; do
	if [[ $who == collector ]]; then
		rss=("${crss[@]}") vals=("${crss[@]}") measure=rss
	else
		rss=("${qrss[@]}") measure=rss_less_memtables_and_table_readers
		mapfile -t vals < <(paste -d' ' <(printf '%s\n' "${qrss[@]}") <(printf '%s\n' "${qrocks[@]}") | awk '{print $1 - $2}')
	fi
	n=${#vals[@]}; w=6; from=$((WARMUP / 10))
	(( from + w > n )) && from=$((n - w))
	(( from < 0 )) && from=0
	base_rss=$(printf '%s\n' "${rss[@]:$from:$w}" | awk '{s += $1} END {print s / NR}')
	base=$(printf '%s\n' "${vals[@]:$from:$w}" | awk '{s += $1} END {print s / NR}')
	tail_mean=$(printf '%s\n' "${vals[@]:$((n - w))}" | awk '{s += $1} END {print s / NR}')
	growth=$(awk -v b="$base" -v t="$tail_mean" -v r="$base_rss" 'BEGIN {printf "%.1f", (t - b) * 100 / r}')
	awk -v w="$who" -v m="$measure" -v g="$growth" -v b="$base" -v t="$tail_mean" -v r="$base_rss" \
		'BEGIN {printf "bench: soak_%s_%s_growth_pct_of_rss %s (%.0f -> %.0f MiB; RSS %.0f MiB)\n", w, m, g, b / 1024, t / 1024, r / 1024}'
	awk -v g="$growth" 'BEGIN {exit !(g >= 10)}' && { echo "soak: $who ${measure//_/ } grew by ${growth}% of its RSS after warm-up"; verdict=1; }
done
echo "bench: soak_queries $queries"
echo "bench: soak_query_failures $qfail"
if grep -E ' ERROR ' "$work/collector.log" "$work/query.log" >/dev/null; then
	echo "soak: errors logged:"; grep -E ' ERROR ' "$work/collector.log" "$work/query.log" | head; verdict=1
fi
[[ $qfail -eq 0 ]] || { echo "soak: $qfail queries failed"; verdict=1; }
[[ $verdict -eq 0 ]] && echo "soak: passed" || echo "soak: FAILED"
exit $verdict
