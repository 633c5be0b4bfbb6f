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
# the browser demo): Debian's chromium (never a downloaded browser build). The benchmarks do without.
browser="$root/tools/browser"
case " $* " in *" --browser "*) want_tools=1 ;; *) want_tools=0 ;; esac
case " $* " in *" --chromium "*) want_chromium=1 ;; *) want_chromium=0 ;; esac
if [ $want_tools = 1 ] && { [ ! -x "$browser/node_modules/.bin/esbuild" ] ||
  [ "$browser/package-lock.json" -nt "$browser/node_modules/.package-lock.json" ]; }; then
  echo "setup: installing the browser build and test tools into tools/browser/" >&2
  (cd "$browser" && PATH="$bin:$PATH" npm ci --no-audit --no-fund --loglevel=error >&2)
fi
if [ $want_chromium = 1 ] && [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then
  echo "setup: installing chromium (Debian) for the browser tests" >&2
  { $sudo apt-get install -y -qq chromium >&2 || { $sudo apt-get update -qq >&2 &&
    $sudo apt-get install -y -qq chromium >&2; }; } ||
    echo "setup: could not install chromium; the browser tests will fail" >&2
fi
# script(1) runs the CLI's terminal-progress test in a pseudo-terminal (Debian: bsdutils).
# Installed only when missing and apt-get can run; without it that test fails.
if ! command -v script >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  echo "setup: installing script(1) (bsdutils) for the terminal progress test" >&2
  { $sudo apt-get install -y -qq bsdutils >&2 || { $sudo apt-get update -qq >&2 &&
    $sudo apt-get install -y -qq bsdutils >&2; }; } ||
    echo "setup: could not install script(1); the terminal progress test will fail" >&2
fi
"$bin/deno" --version >/dev/null
"$bin/bun" --version >/dev/null
"$bin/node" --version >/dev/null
echo "$bin"
