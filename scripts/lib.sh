# Shell helpers shared by scripts/demo.sh and the benchmark scripts (sourced).

# busy PORT: true if something accepts connections on 127.0.0.1:PORT.
busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port START: the first port from START on that nothing listens on.
free_port() {
	local p=$1
	while busy "$p"; do p=$((p + 1)); done
	echo "$p"
}

# wait_for COMMAND...: retries for up to 10 s until COMMAND succeeds.
wait_for() {
	for _ in $(seq 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
	echo "timed out waiting for: $*" >&2
	return 1
}

# http_get PORT PATH: the response (headers and body) to GET PATH on 127.0.0.1:PORT, HTTP/1.0.
http_get() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1" && printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3 && cat <&3) 2>/dev/null
}

# written PORT: true once the collector with admin port PORT has written
# every span it acknowledged (it stages them first, for its --write-window).
written() { http_get "$1" /metrics | grep -q '^weft_staged_batches 0'; }

# cpu_ticks PID: user + system CPU time of PID, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# probe: the machine's speed now, as weft-bench-probe's ns per iteration of
# a register loop (1.0 while the shared host is quiet, up to 2.0 when it is
# busy). Benchmarks print it before and after their runs. Needs BIN.
probe() { "$BIN/weft-bench-probe" | awk '{print $3}'; }

# median N...: the median of the numbers given.
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

# fill_store WORK SPANS: starts weft-collector on WORK/data and has
# weft-loadgen get at least SPANS spans acknowledged through the native
# protocol, then 100 traces of exactly 200 spans, whose ids go to WORK/ids200.
# Leaves the collector running: its pid in collector_pid, its native URL in
# native_url; the spans stored in stored. Needs BIN.
fill_store() {
	local work=$1 want=$2 admin line
	native_url="tcp://127.0.0.1:$(free_port 24319)"; admin=$(free_port 24269)
	"$BIN/weft-collector" --data-dir "$work/data" --native "$native_url" --otlp-http off \
		--zipkin off --admin "127.0.0.1:$admin" 2>"$work/collector.log" &
	collector_pid=$!
	wait_for busy "$admin"
	echo "filling the store with $want spans"
	stored=0
	while [ "$stored" -lt "$want" ]; do
		# loadgen exits 1 when it dropped spans; its line counts what was acknowledged
		line=$("$BIN/weft-loadgen" --protocol native --endpoint "$native_url" --spans $((want - stored)) \
			--threads 2 | tail -1) || true
		[[ $line == "loadgen: spans "* ]] || { echo "loadgen failed: $line" >&2; return 1; }
		stored=$((stored + $(awk '{print $3}' <<<"$line")))
	done
	"$BIN/weft-loadgen" --protocol native --endpoint "$native_url" --spans 20000 --trace-spans 200 \
		--threads 1 --rate 20000 --print-trace-ids >"$work/ids200.out" || true
	grep '^trace ' "$work/ids200.out" >"$work/ids200"
	stored=$((stored + $(awk '/^loadgen:/ {print $3}' "$work/ids200.out")))
	echo "stored $stored loadgen spans"
}
