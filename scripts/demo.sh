#!/usr/bin/env bash
# The quick start behind `make demo`: starts weft-collector and weft-query on a
# fresh data directory, runs the four-process demo shop twice (once with a
# failing payment), prints both traces through the weft CLI, and stops the
# daemons. Uses the contract's default ports, or the next free ones.
set -euo pipefail

BIN=${WEFT_BIN:-$(cd "$(dirname "$0")/.." && pwd)/bin}
work=$(mktemp -d "${TMPDIR:-/tmp}/weft-demo-XXXXXX")
pids=()

cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

native_port=$(free_port 4319)
admin_port=$(free_port 14269)
http_port=$(free_port 16686)
export WEFT_QUERY_URL="http://127.0.0.1:$http_port"

echo "== starting weft-collector (native tcp://127.0.0.1:$native_port) and weft-query ($WEFT_QUERY_URL)"
echo "   data directory: $work/data"
"$BIN/weft-collector" --data-dir "$work/data" --native "tcp://127.0.0.1:$native_port" \
	--admin "127.0.0.1:$admin_port" 2>"$work/collector.log" &
pids+=($!)
wait_for busy "$admin_port"
"$BIN/weft-query" --data-dir "$work/data" --http "127.0.0.1:$http_port" 2>"$work/query.log" &
pids+=($!)
wait_for "$BIN/weft" services

echo "== running the demo shop: api-gateway -> order -> inventory, payment (four processes)"
ok_id=$("$BIN/weft-demo-shop" --collector "tcp://127.0.0.1:$native_port" 2>/dev/null | awk '/^trace /{print $2; exit}')
fail_id=$("$BIN/weft-demo-shop" --collector "tcp://127.0.0.1:$native_port" --fail-payment 2>/dev/null | awk '/^trace /{print $2; exit}')
# the collector writes what it acknowledged after its --write-window (1 s)
wait_for written "$admin_port"

echo
echo "\$ weft services"
"$BIN/weft" services
echo
echo "\$ weft trace $ok_id"
"$BIN/weft" trace "$ok_id"
echo
echo "\$ weft trace $fail_id        # the same request with --fail-payment"
"$BIN/weft" trace "$fail_id"
echo
echo "== stopping the daemons"
