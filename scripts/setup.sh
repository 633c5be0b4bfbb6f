#!/usr/bin/env bash
# Installs the pinned Deno and Bun from the npm registry into tools/node_modules
# (Node 20 and npm are all a fresh machine needs). Prints the bin directory.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$root/tools/node_modules/.bin"
if [ ! -x "$bin/deno" ] || [ ! -x "$bin/bun" ]; then
  echo "setup: installing deno and bun from the npm registry into tools/" >&2
  (cd "$root/tools" && npm install --no-audit --no-fund --loglevel=error >&2)
fi
"$bin/deno" --version >/dev/null
"$bin/bun" --version >/dev/null
echo "$bin"
