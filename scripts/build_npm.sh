#!/usr/bin/env bash
# Builds the npm package's JavaScript and type declarations into dist/ (run by `npm pack` as `prepack`):
# Node refuses to strip types from .ts files inside node_modules, so the package
# ships bundles made by `bun build`: dist/cli.js (the `haul` bin, with a node
# shebang) and dist/mod.js (the library); and esbuild the browser entry, dist/browser/ (scripts/build_browser.ts: "haul/browser" and
# "haul/browser/worker" in package.json's exports). Bun comes
# from tools/, else PATH, else (a fresh clone with only Node and npm) scripts/setup.sh installs
# the pinned runtimes into tools/ from tools/package-lock.json first.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bun="$root/tools/node_modules/.bin/bun"
[ -x "$bun" ] || bun="$(command -v bun)" || bun="$(bash scripts/setup.sh)/bun" ||
  { echo "build_npm: no bun in tools/ or on PATH, and scripts/setup.sh could not install it" >&2; exit 1; }
# Node 20 (past its end of life) is not supported: the bundles say so and stop.
old_node='typeof Bun === "undefined" && Number(globalThis.process?.versions?.node?.split(".")[0]) < 22'
message='"haul: Node " + process.versions.node + " is not supported: haul needs Node 22.18 or later (Node 20 is past its end of life)"'
rm -rf dist
"$bun" build mod.ts --target=node --format=esm --outfile dist/mod.js \
  --banner "if ($old_node) throw new Error($message);" >&2
"$bun" build cli.ts --target=node --format=esm --outfile dist/cli.js \
  --banner "#!/usr/bin/env node
if ($old_node) { process.stderr.write($message + \"\\n\"); process.exit(1); }" >&2
chmod +x dist/cli.js
# esbuild, @noble/hashes and tsc from tools/browser/ (setup.sh --browser; no chromium), and Node 24
# for the build script.
bin="$(bash scripts/setup.sh --browser)"
"$bin/node" --no-warnings scripts/build_browser.ts >&2
# The type declarations of "haul" and "haul/browser" (dist/types/, package.json's "types"), emitted
# from the sources' explicit export types without a type check (deno check does that).
"$root/tools/browser/node_modules/.bin/tsc" --declaration --emitDeclarationOnly --noCheck \
  --allowImportingTsExtensions --rewriteRelativeImportExtensions --target es2022 --module nodenext \
  --skipLibCheck --rootDir . --outDir dist/types mod.ts src/browser/mod.ts >&2
