#!/usr/bin/env bash
# The whole test suite, on both runtimes: deno test, then bun test.
# Fails when either fails. Usage: bash scripts/test.sh [test files...]
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bin="$(bash scripts/setup.sh)" || exit 1
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(tests/)
status=0
echo "=== deno test ($("$bin/deno" --version | head -1))"
# A hard limit per runtime: a hung test fails the run instead of stalling CI.
limit="${HAUL_TEST_TIMEOUT:-900}"
timeout --kill-after=10 "$limit" "$bin/deno" test -A --no-check=remote "${targets[@]}" || status=1
echo "=== bun test (bun $("$bin/bun" --version))"
timeout --kill-after=10 "$limit" "$bin/bun" test "${targets[@]}" || status=1
if [ $status -ne 0 ]; then echo "FAILED: at least one runtime had failing tests"; else echo "OK: deno test and bun test both passed"; fi
exit $status
