#!/usr/bin/env bash
# Fails when a runtime API is used outside src/runtime/ and cli.ts: the engine,
# protocol, store, hashing, batch and CLI layers are plain TypeScript over web
# standards, so one engine runs on Deno, Bun and Node.
#
# Looks for imports of `node:*` modules, the `Deno` and `Bun` globals, Node's
# `process`, and `globalThis` lookups of any of them. Comments are not code:
# lines that start with `*` or `//` are skipped.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
pattern='(from|import)[[:space:]]*\(?[[:space:]]*"node:|\bDeno\.|\bBun\.|\bprocess\.|globalThis\.(Deno|Bun|process)|"(Deno|Bun|process)"[[:space:]]+in[[:space:]]+globalThis'
hits="$(grep -rnE "$pattern" --include='*.ts' src mod.ts |
  grep -v '^src/runtime/' |
  grep -vE '^[^:]+:[0-9]+:[[:space:]]*(\*|//)' || true)"
if [ -n "$hits" ]; then
  echo "check_runtime_apis: runtime APIs outside src/runtime/ and cli.ts:" >&2
  echo "$hits" >&2
  exit 1
fi
echo "check_runtime_apis: runtime APIs only in src/runtime/ and cli.ts"
