#!/usr/bin/env bash
# The whole test suite on three runtimes: deno test, bun test and node --test
# (Node 24, the same test files), then the browser tests in Debian's chromium
# (tests/browser/browser_run.ts), then the release checks: erasable
# TypeScript only, runtime APIs only in src/runtime/, imports only downwards (no
# cycles), fmt, lint, doc lint, the
# JSDoc examples, `deno publish --dry-run`, and installing the CLI four ways.
# Fails when any runtime or check fails. The last line is
# "N passed, N failed", summed over the three runtimes.
#
# Usage: bash scripts/test.sh [test files...]   (with files: only those, no checks)
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bin="$(bash scripts/setup.sh --browser --chromium)" || exit 1
targets=("$@")
checks=1
if [ ${#targets[@]} -gt 0 ]; then checks=0; else targets=(tests/); fi
# Node takes files, not directories.
node_targets=()
for target in "${targets[@]}"; do
  if [ -d "$target" ]; then
    while IFS= read -r file; do node_targets+=("$file"); done < <(find "$target" -name '*_test.ts' | sort)
  else
    node_targets+=("$target")
  fi
done
status=0
# A hard limit per runtime: a hung test fails the run instead of stalling CI.
limit="${HAUL_TEST_TIMEOUT:-900}"
log="$(mktemp -d)"
trap 'rm -rf "$log"' EXIT

# The three runtimes run at once (much of the suite waits on children, leases
# and fsync, not on the CPU); HAUL_TEST_SERIAL=1 runs them one after another.
# Each writes its own log, printed whole when it ends.
run_deno() {
  timeout --kill-after=10 "$limit" "$bin/deno" test -A --no-check=remote "${targets[@]}" \
    >"$log/deno" 2>&1
  echo $? >"$log/deno.rc"
}
run_bun() {
  timeout --kill-after=10 "$limit" "$bin/bun" test --timeout 120000 "${targets[@]}" \
    >"$log/bun" 2>&1
  echo $? >"$log/bun.rc"
}
run_node() {
  # The pinned Node first on PATH, so children spawned as `node` are Node 24 too. A compile
  # cache for this run: each test file and each of the hundreds of children (the CLI, crash and
  # TLS children) strips and compiles the same modules again without it (a child starts in
  # ~0.3 s instead of ~0.7 s; Node checks each cached entry against its source's hash). Two test
  # files at a time (each in its own process): Node, the long pole, then ends before Deno and Bun.
  NODE_COMPILE_CACHE="$log/node-compile-cache" PATH="$bin:$PATH" timeout --kill-after=10 "$limit" "$bin/node" --test --test-reporter=spec \
    --test-concurrency=2 --test-timeout=120000 "${node_targets[@]}" >"$log/node" 2>&1
  echo $? >"$log/node.rc"
}
headers=(
  "deno:=== deno test ($("$bin/deno" --version | head -1))"
  "bun:=== bun test (bun $("$bin/bun" --version))"
  "node:=== node --test (node $("$bin/node" --version))"
)
if [ "${HAUL_TEST_SERIAL:-0}" = 1 ]; then
  for runtime in deno bun node; do "run_$runtime"; done
else
  echo "=== deno test, bun test and node --test at once; each log follows when all end"
  run_deno &
  run_bun &
  run_node &
  wait
fi
for entry in "${headers[@]}"; do
  runtime="${entry%%:*}"
  echo "${entry#*:}"
  cat "$log/$runtime"
  [ "$(cat "$log/$runtime.rc" 2>/dev/null || echo 1)" -eq 0 ] || status=1
done

# The browser: the bundles built, then Debian's chromium on OPFS (tests/browser/), full runs only.
if [ $checks -eq 1 ]; then
  echo "=== browser (chromium $(/usr/bin/chromium --version 2>/dev/null | awk '{print $2}'))"
  { "$bin/node" --no-warnings scripts/build_browser.ts &&
    timeout --kill-after=10 300 "$bin/node" --test --test-reporter=spec \
      tests/browser/browser_run.ts; } >"$log/browser" 2>&1
  echo $? >"$log/browser.rc"
  cat "$log/browser"
  [ "$(cat "$log/browser.rc")" -eq 0 ] || status=1
fi

check_status=""
if [ $checks -eq 1 ]; then
  echo "=== checks"
  for check in "node_erasable:$bin/node --no-warnings scripts/check_erasable.ts" \
    "runtime_apis:bash scripts/check_runtime_apis.sh" \
    "layers:$bin/node --no-warnings scripts/check_layers.ts" \
    "fmt:$bin/deno fmt --check" "lint:$bin/deno lint" "doc_lint:$bin/deno doc --lint mod.ts cli.ts" \
    "doc_examples:$bin/deno test -A --doc --no-check=remote mod.ts cli.ts src/" \
    "publish:bash scripts/check_publish.sh" "install:bash scripts/check_install.sh"; do
    name="${check%%:*}"
    if ${check#*:}; then check_status+=" $name ok;"; else check_status+=" $name FAILED;"; status=1; fi
  done
fi

# One plain closing line over the three runtimes (deno counts test steps; bun and node count tests).
plain() { sed 's/\x1b\[[0-9;]*m//g' "$1"; }
# Without "(N steps)" (files of top-level tests only) the steps field is "-".
deno_pass=$(plain "$log/deno" | sed -nE 's/^(ok|FAILED) \| ([0-9]+) passed( \(([0-9]+) steps?\))? \| ([0-9]+) failed.*/\2 -\4 \5/p' | tail -1)
read -r d_tests d_steps d_fail <<<"${deno_pass:-0 - 0}"
d_steps=${d_steps#-}
[ -n "$d_steps" ] && [ "$d_steps" -gt "$d_tests" ] 2>/dev/null && d_tests=$d_steps
b_pass=$(plain "$log/bun" | sed -nE 's/^ *([0-9]+) pass$/\1/p' | tail -1)
b_fail=$(plain "$log/bun" | sed -nE 's/^ *([0-9]+) fail$/\1/p' | tail -1)
n_pass=$(plain "$log/node" | sed -nE 's/^ℹ pass ([0-9]+)$/\1/p' | tail -1)
n_fail=$(plain "$log/node" | sed -nE 's/^ℹ fail ([0-9]+)$/\1/p' | tail -1)
w_pass=0
w_fail=0
if [ -f "$log/browser" ]; then
  w_pass=$(plain "$log/browser" | sed -nE 's/^ℹ pass ([0-9]+)$/\1/p' | tail -1)
  w_fail=$(plain "$log/browser" | sed -nE 's/^ℹ fail ([0-9]+)$/\1/p' | tail -1)
  [ -n "$w_fail" ] || w_fail=$(( ${#w_pass} == 0 ? 1 : 0 ))
  [ "$(cat "$log/browser.rc")" -eq 0 ] || [ "$w_fail" -gt 0 ] || w_fail=1
fi
# A runtime that failed without a count (it crashed, or a file did not load) counts one failure.
[ -n "$b_fail" ] || b_fail=$(( ${#b_pass} == 0 ? 1 : 0 ))
[ -n "$n_fail" ] || n_fail=$(( ${#n_pass} == 0 ? 1 : 0 ))
[ -n "$deno_pass" ] || d_fail=1
echo "deno: ${d_tests} passed, ${d_fail} failed; bun: ${b_pass:-0} passed, ${b_fail} failed;" \
  "node: ${n_pass:-0} passed, ${n_fail} failed; chromium: ${w_pass:-0} passed, ${w_fail} failed"
[ -z "$check_status" ] || echo "checks:${check_status%;}"
if [ $status -ne 0 ]; then
  echo "FAILED: at least one runtime or check failed"
else
  echo "OK: deno test, bun test and node --test passed"
fi
echo "$(( d_tests + ${b_pass:-0} + ${n_pass:-0} + ${w_pass:-0} )) passed, $(( d_fail + b_fail + n_fail + w_fail )) failed"
exit $status
