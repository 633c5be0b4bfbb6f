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
log="$(mktemp -d)"
trap 'rm -rf "$log"' EXIT
timeout --kill-after=10 "$limit" "$bin/deno" test -A --no-check=remote "${targets[@]}" 2>&1 |
  tee "$log/deno"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
echo "=== bun test (bun $("$bin/bun" --version))"
timeout --kill-after=10 "$limit" "$bin/bun" test --timeout 120000 "${targets[@]}" 2>&1 | tee "$log/bun"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
# One plain closing line over both runtimes (deno counts test steps; bun counts tests).
plain() { sed 's/\x1b\[[0-9;]*m//g' "$1"; }
deno_pass=$(plain "$log/deno" | sed -nE 's/^(ok|FAILED) \| ([0-9]+) passed( \(([0-9]+) steps\))? \| ([0-9]+) failed.*/\2 \4 \5/p' | tail -1)
read -r d_tests d_steps d_fail <<<"${deno_pass:-0 0 0}"
[ -n "$d_steps" ] && [ "$d_steps" -gt "$d_tests" ] 2>/dev/null && d_tests=$d_steps
[ "$d_fail" -eq "$d_fail" ] 2>/dev/null || { d_fail=$d_tests; d_tests=0; }
b_pass=$(plain "$log/bun" | sed -nE 's/^ *([0-9]+) pass$/\1/p' | tail -1)
b_fail=$(plain "$log/bun" | sed -nE 's/^ *([0-9]+) fail$/\1/p' | tail -1)
echo "deno: ${d_tests} passed, ${d_fail} failed; bun: ${b_pass:-0} passed, ${b_fail:-0} failed"
if [ $status -ne 0 ]; then echo "FAILED: at least one runtime had failing tests"; else echo "OK: deno test and bun test both passed"; fi
echo "$(( d_tests + ${b_pass:-0} )) passed, $(( d_fail + ${b_fail:-0} )) failed"
exit $status
