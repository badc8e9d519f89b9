#!/usr/bin/env bash
# Runs each test binary given as an argument, prints its output, and ends
# with one summary line "tests: N passed, N failed" (binaries, not cases).
# Exits non-zero if any binary failed.
set -u
passed=0
failed=0
failed_names=()
for t in "$@"; do
	echo "=== $(basename "$t")"
	if "$t"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failed_names+=("$(basename "$t")")
	fi
done
echo
[[ $failed -gt 0 ]] && echo "failed: ${failed_names[*]}"
echo "tests: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
