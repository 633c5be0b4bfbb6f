#!/usr/bin/env bash
# `deno publish --dry-run` (offline) must succeed without a warning and list
# exactly mod.ts, cli.ts, src/, README.md, LICENSE and docs/ (plus deno.json,
# which Deno always publishes: it is the package's configuration).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bin="$(bash scripts/setup.sh)" || exit 1
out="$("$bin/deno" publish --dry-run --allow-dirty 2>&1)"
status=$?
plain="$(printf '%s\n' "$out" | sed 's/\x1b\[[0-9;]*m//g')"
fail() { echo "publish: $1"; printf '%s\n' "$plain" | sed 's/^/  /'; exit 1; }
[ $status -eq 0 ] || fail "deno publish --dry-run failed"
# Here-strings, not pipes: with pipefail, `grep -q` quitting early fails the pipe (SIGPIPE).
if grep -qi 'warning' <<<"$plain"; then fail "deno publish --dry-run warned"; fi
files="$(printf '%s\n' "$plain" | sed -nE "s|^ +file://$root/([^ ]+) \(.*|\1|p")"
[ -n "$files" ] || fail "no file list in the dry run's output"
stray="$(printf '%s\n' "$files" | grep -vE '^(mod\.ts|cli\.ts|README\.md|LICENSE|deno\.json|src/.+|docs/.+)$')"
[ -z "$stray" ] || fail "would publish files outside the list: $(echo $stray)"
for need in mod.ts cli.ts README.md LICENSE; do
  grep -qx "$need" <<<"$files" || fail "would not publish $need"
done
for dir in src docs; do
  grep -q "^$dir/" <<<"$files" || fail "would not publish $dir/"
done
echo "publish: deno publish --dry-run clean: $(printf '%s\n' "$files" | wc -l) files, only mod.ts, cli.ts, src/, README.md, LICENSE, docs/ and deno.json"
