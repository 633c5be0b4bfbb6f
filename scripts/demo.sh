#!/usr/bin/env bash
# The main job on an embedded default: a local server on 127.0.0.1 serves a
# generated 300 MiB file, cuts the connection four times, and the haul CLI
# downloads it, resumes after each cut and verifies its SHA-256. Everything it
# starts is stopped and its temporary directory removed.
# Usage: bash scripts/demo.sh          (the CLI runs on Deno; also: deno task demo)
#        bash scripts/demo.sh --bun    (the CLI runs on Bun)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bin="$(bash scripts/setup.sh)"
if [ "${1:-}" = "--bun" ]; then
  shift
  exec "$bin/bun" scripts/demo.ts "$@"
fi
DENO_NO_UPDATE_CHECK=1 exec "$bin/deno" run -A --no-lock scripts/demo.ts "$@"
