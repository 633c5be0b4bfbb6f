#!/usr/bin/env bash
# The browser demo (scripts/demo_browser.ts): builds the bundles and serves a page
# whose download survives reload. --screenshot FILE saves a picture of it mid-download.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bin="$(bash scripts/setup.sh --browser --chromium)"
"$bin/node" --no-warnings scripts/build_browser.ts >&2
exec "$bin/node" --no-warnings scripts/demo_browser.ts "$@"
