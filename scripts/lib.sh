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

# cpu_ticks PID: user + system CPU time of PID, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# median N...: the median of the numbers given.
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
