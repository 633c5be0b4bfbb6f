#!/usr/bin/env bash
# Installs the pinned Deno, Bun and Node 24 from the npm registry into tools/node_modules
# with `npm ci`, so the lockfile is never rewritten (Node 20 and npm are all a fresh
# machine needs). Prints the bin directory.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$root/tools/node_modules/.bin"
if [ ! -x "$bin/deno" ] || [ ! -x "$bin/bun" ] || [ ! -x "$bin/node" ] ||
  [ "$root/tools/package-lock.json" -nt "$root/tools/node_modules/.package-lock.json" ]; then
  echo "setup: installing deno, bun and node from the npm registry into tools/" >&2
  (cd "$root/tools" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo -n"; fi
# --browser (npm pack's prepack, the test suite, the browser demo): the browser build and test
# tools (esbuild, @noble/hashes, playwright-core; their own lockfile). --chromium (the test suite,
# the browser demo): Debian's chromium, and nginx, openssl and python3 for the real-server tests.
# The benchmarks do without.
browser="$root/tools/browser"
case " $* " in *" --browser "*) want_tools=1 ;; *) want_tools=0 ;; esac
case " $* " in *" --chromium "*) want_chromium=1 ;; *) want_chromium=0 ;; esac
if [ $want_tools = 1 ] && { [ ! -x "$browser/node_modules/.bin/esbuild" ] ||
  [ "$browser/package-lock.json" -nt "$browser/node_modules/.package-lock.json" ]; }; then
  echo "setup: installing the browser build and test tools into tools/browser/" >&2
  (cd "$browser" && PATH="$bin:$PATH" npm ci --no-audit --no-fund --loglevel=error >&2)
fi
# Debian packages the tests use, installed only when missing and apt-get can run (never a
# downloaded build); without one, the tests that need it fail and say so.
need() { # program, Debian package, what needs it
  if command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || ! command -v apt-get >/dev/null 2>&1; then
    return 0
  fi
  echo "setup: installing $2 (Debian) for $3" >&2
  { $sudo apt-get install -y -qq "$2" >&2 || { $sudo apt-get update -qq >&2 &&
    $sudo apt-get install -y -qq "$2" >&2; }; } ||
    echo "setup: could not install $2; $3 will fail" >&2
}
if [ $want_chromium = 1 ]; then
  need chromium chromium "the browser tests"
  need nginx nginx "the real-server and TLS tests"
  need openssl openssl "the TLS tests"
  need python3 python3 "the real-server tests"
fi
# script(1) runs the CLI's terminal-progress test in a pseudo-terminal (Debian: bsdutils).
need script bsdutils "the terminal progress test"
"$bin/deno" --version >/dev/null
"$bin/bun" --version >/dev/null
"$bin/node" --version >/dev/null
echo "$bin"
