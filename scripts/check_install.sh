#!/usr/bin/env bash
# Installs the CLI the four ways the README gives, each into a temporary
# place, and has each installed `haul` download a 3 MiB file from a local
# server with --sha256 (so a wrong or short file fails), then checks the
# file's SHA-256 again here:
#   1. deno install -g (from this checkout, with exactly the CLI's permissions)
#   2. the README's `npm pack && npm install -g ./haul-<version>.tgz`, run in a
#      fresh copy of the checkout (no tools/node_modules, no dist/) with only
#      the system's node and npm on PATH, so its prepack must install Bun
#      itself (scripts/setup.sh: npm ci in tools/, from npm's cache after the
#      first time); then that haul on Node 24, and on Node 20 (refused); and the
#      installed library's haul(); the tarball holds the browser bundles and
#      the installed package's exports "haul/browser" and "haul/browser/worker" resolve to them;
#      a strict TypeScript file type-checks against the package's declarations
#   3. bun install -g ./haul-<version>.tgz
#   4. bun build --compile cli.ts (a single-file executable)
# Usage: bash scripts/check_install.sh   (prints one line per way; exit 1 if any failed)
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bin="$(bash scripts/setup.sh --browser)" || exit 1 # tools/browser: tsc for the types check
export PATH="$bin:$PATH"
work="$(mktemp -d)"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

head -c $((3 * 1024 * 1024 + 123)) /dev/urandom >"$work/payload.bin"
want="$(sha256sum "$work/payload.bin" | cut -d' ' -f1)"
# A plain HTTP server on 127.0.0.1 (Node), answering 200 with the payload.
"$bin/node" -e '
  const http = require("node:http"); const fs = require("node:fs");
  const body = fs.readFileSync(process.argv[1]);
  const server = http.createServer((req, res) => {
    res.writeHead(200, { "content-length": body.length, etag: "\"p1\"" }); res.end(body);
  });
  server.listen(0, "127.0.0.1", () => fs.writeFileSync(process.argv[2], String(server.address().port)));
' "$work/payload.bin" "$work/port" &
server_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
url="http://127.0.0.1:$(cat "$work/port")/payload.bin"
version="$(sed -nE 's/^  "version": "([^"]+)".*/\1/p' package.json)"
failed=0
run_haul() { # name, haul executable
  local name="$1" exe="$2" out="$work/out-$1"
  mkdir -p "$out"
  if (cd "$out" && timeout 120 "$exe" -q --sha256 "$want" -o got.bin "$url") >"$work/$name.log" 2>&1 &&
    [ "$(sha256sum "$out/got.bin" | cut -d' ' -f1)" = "$want" ]; then
    echo "install: $name: ok (downloaded, sha256 matches)"
  else
    echo "install: $name: FAILED"; sed 's/^/  /' "$work/$name.log"; failed=1
  fi
}

# 1. Deno, from the checkout, with the CLI's permissions only.
DENO_INSTALL_ROOT="$work/deno" deno install -g -f -q --config deno.json \
  --allow-net --allow-read --allow-write --allow-env=COLUMNS -n haul ./cli.ts >"$work/deno-install.log" 2>&1 ||
  { echo "install: deno install failed"; cat "$work/deno-install.log"; failed=1; }
run_haul deno "$work/deno/bin/haul"

# 2. The README's commands in a fresh copy (tracked and untracked, not ignored, files), with
# only the system's npm and node on PATH (not tools/, not a bun).
mkdir -p "$work/fresh"
git ls-files -z --cached --others --exclude-standard |
  tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -xf - -C "$work/fresh"
system_path="$(dirname "$(command -v npm)"):/usr/bin:/bin"
if (cd "$work/fresh" && PATH="$system_path" npm pack >"$work/pack.log" 2>&1) &&
  mv "$work/fresh/haul-$version.tgz" "$work/"; then
  if (cd "$work" && PATH="$system_path" npm install -g --no-audit --no-fund --offline --prefix "$work/npm" \
    "./haul-$version.tgz" >"$work/npm-install.log" 2>&1); then
    run_haul npm "$work/npm/bin/haul"
    # The browser entry, for bundlers: in the tarball, and resolved through the installed exports.
    listed="$(tar -tzf "$work/haul-$version.tgz")"
    resolved="$(cd "$work/npm/lib" && "$bin/node" --input-type=module -e '
      import { statSync } from "node:fs";
      for (const name of ["haul/browser", "haul/browser/worker"]) {
        const url = import.meta.resolve(name);
        console.log(`${name} -> ${url.replace(/.*node_modules\//, "")} (${statSync(new URL(url)).size} bytes)`);
      }' 2>&1)"
    if grep -qx package/dist/browser/browser.js <<<"$listed" &&
      grep -qx package/dist/browser/haul_worker.js <<<"$listed" &&
      grep -q "^haul/browser -> haul/dist/browser/browser.js" <<<"$resolved" &&
      grep -q "^haul/browser/worker -> haul/dist/browser/haul_worker.js" <<<"$resolved"; then
      echo "install: npm browser entry: ok ($(echo $resolved))"
    else
      echo "install: npm browser entry: FAILED"; echo "$resolved" | sed 's/^/  /'; failed=1
    fi
    # The installed library (dist/mod.js).
    cat >"$work/lib.mjs" <<'EOF_JS'
const [library, url, dest, want] = process.argv.slice(2);
const { haul } = await import(library);
const result = await haul(url, { dest });
if (result.sha256 !== want) throw new Error(`sha256 ${result.sha256}`);
EOF_JS
    if timeout 120 "$bin/node" "$work/lib.mjs" "$work/npm/lib/node_modules/haul/dist/mod.js" \
      "$url" "$work/lib.bin" "$want" >"$work/npm-lib.log" 2>&1; then
      echo "install: npm library: ok (downloaded, sha256 matches)"
    else
      echo "install: npm library: FAILED"; sed 's/^/  /' "$work/npm-lib.log"; failed=1
    fi
    # The package's types, as a strict TypeScript project sees "haul" and "haul/browser" installed.
    mkdir -p "$work/ts/node_modules"
    ln -s "$work/npm/lib/node_modules/haul" "$work/ts/node_modules/haul"
    echo '{ "type": "module" }' >"$work/ts/package.json"
    cat >"$work/ts/use.ts" <<'EOF_TS'
import { haul, type HaulResult, isRetryable } from "haul";
import { haulWithRetry as inBrowser } from "haul/browser";
const result: HaulResult = await haul("https://example.com/a.bin", { dest: "a.bin", connections: 4 });
const size: number = result.size;
// @ts-expect-error: a dest is required
await haul("https://example.com/a.bin", {});
// @ts-expect-error: sha256 is a string, or null
const wrong: number = result.sha256;
void [size, wrong, isRetryable, inBrowser];
EOF_TS
    if (cd "$work/ts" && "$root/tools/browser/node_modules/.bin/tsc" --strict --noEmit --module nodenext \
      --target es2022 --lib es2022,dom --types "" use.ts) >"$work/ts.log" 2>&1; then
      echo "install: npm types: ok (a strict TypeScript project type-checks against them)"
    else
      echo "install: npm types: FAILED"; sed 's/^/  /' "$work/ts.log"; failed=1
    fi
    # Node 20 is unsupported, and says so (the system node of a fresh machine is 20).
    for old in $(which -a node | grep -v "^$bin/"); do
      [ "$("$old" -p 'process.versions.node.split(".")[0]')" -lt 22 ] || continue
      if "$old" "$work/npm/bin/haul" --version 2>"$work/node20.log"; then
        echo "install: npm on Node $("$old" --version): FAILED (it should refuse)"; failed=1
      elif grep -q "needs Node 22.18 or later" "$work/node20.log"; then
        echo "install: npm on Node $("$old" --version): ok (refused with a clear message)"
      else
        echo "install: npm on Node $("$old" --version): FAILED"; cat "$work/node20.log"; failed=1
      fi
      break
    done
  else
    echo "install: npm install -g failed"; cat "$work/npm-install.log"; failed=1
  fi
  # 3. bun install -g of the same tarball.
  if BUN_INSTALL="$work/bun" bun install -g "$work/haul-$version.tgz" >"$work/bun-install.log" 2>&1; then
    run_haul bun "$work/bun/bin/haul"
  else
    echo "install: bun install -g failed"; cat "$work/bun-install.log"; failed=1
  fi
else
  echo "install: npm pack in a fresh copy failed"; cat "$work/pack.log"; failed=1
fi

# 4. A single-file executable.
if bun build --compile cli.ts --outfile "$work/compiled/haul" >"$work/compile.log" 2>&1; then
  run_haul compiled "$work/compiled/haul"
else
  echo "install: bun build --compile failed"; cat "$work/compile.log"; failed=1
fi
exit $failed
