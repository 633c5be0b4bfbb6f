#!/usr/bin/env bash
# haul's benchmark in one command (also `deno task bench`). On a fresh machine
# it installs the pinned Deno and Bun (scripts/setup.sh), and, when run as root
# with apt-get, nginx, curl, GNU time and aria2c if they are missing; then it runs the
# driver, scripts/bench/main.ts, which prints every target with its reference
# and verdict and writes the report under .bench/.
# Usage: bash scripts/bench.sh [--quick] [--only slow,full,resume,rounds,cuts,first-byte,rss,serve,connections,limit,small] [--no-hold]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bin="$(bash scripts/setup.sh)"
missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v curl >/dev/null 2>&1 || missing+=(curl)
[ -x /usr/bin/time ] || missing+=(time)
command -v aria2c >/dev/null 2>&1 || missing+=(aria2)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bench: installing ${missing[*]} with apt-get" >&2
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2 ||
      echo "bench: could not install ${missing[*]}; continuing without" >&2
  else
    echo "bench: ${missing[*]} missing and not installable here; continuing without" >&2
  fi
fi
# nginx's Debian package may start a system instance; the bench runs its own.
command -v curl >/dev/null 2>&1 || { echo "bench: curl is required" >&2; exit 1; }
free_gib=$(df -P -BG "$root" | awk 'NR==2 { sub("G", "", $4); print $4 }')
if [ "${free_gib:-0}" -lt 16 ]; then
  echo "bench: only ${free_gib} GiB free under $root; the full run needs about 14 GiB (try --quick)" >&2
fi
# Deno children must not look for a new Deno during a measured call (a DNS lookup and a thread).
export DENO_NO_UPDATE_CHECK=1
exec "$bin/deno" run -A "$root/scripts/bench/main.ts" "$@"
