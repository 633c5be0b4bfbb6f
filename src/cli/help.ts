/**
 * The text of `haul --help`, and the version the command line reports.
 *
 * @module
 */

import { defaults } from "./args.ts";
import { MAX_CONNECTIONS } from "../engine/settings.ts";

const DEFAULT = defaults();

/** The version of haul (kept equal to `deno.json`'s and `package.json`'s by a test). */
export const VERSION = "0.1.0";

/** `haul --help`. */
export const HELP: string = `haul ${VERSION}: resumable, crash-safe, verified HTTP downloads

Usage:
  haul URL [URL…] [-o FILE | -O] [--dir DIR] [options]
  haul -i LIST [--dir DIR] [-j N] [--checksums FILE] [--shard K/N] [options]

Downloads go to <dest>.part with a checkpoint beside it; the file appears at
its destination only when complete and verified. Run the same command again
after a failure or Ctrl-C: finished files are skipped, the others resume.
A file already at its destination counts as complete only when its digest
(--sha256, --sha512, --integrity, --checksums) or, without one, its size
matches the server's (or it gives none); with -N, when it answers 304 Not Modified.

Output:
  -o, --output FILE        Save the one URL as FILE (relative to --dir when given);
                           "-": write it to stdout, continued after cuts, never a
                           byte twice (alone: no -j, -x above 1, --dir, --json,
                           --checksums, -N or -R)
  -O, --remote-name        Name the file after the URL's last path segment (the default)
  -J, --remote-header-name Name it as the server's Content-Disposition says, when it does
                           (a safe base name; one extra small request per file)
  -d, --dir DIR            Save into DIR (created if missing; default: current directory)
  -i, --input-file LIST    Download every line of LIST ("-": stdin): "URL" or "URL PATH"
  -j, --jobs N             Downloads at once with several URLs (default ${DEFAULT.jobs})
      --overwrite          Download again even if the file exists (replaced at the end)
  -N, --timestamping       Ask whether an existing file changed (If-Modified-Since its
                           mtime): 304 keeps it, a new version replaces it at the end
  -R, --remote-time        Set each file's mtime to the server's Last-Modified (-N does)
      --shard K/N          With -i: download only shard K (1 to N) of the list, chosen
                           by destination, so N machines can share one list

Network:
  -H, --header 'Name: value'  Add a request header (repeatable)
  -A, --user-agent AGENT   Send AGENT as User-Agent (default haul/${VERSION})
  -x, --connections N      Fetch each file over up to N connections (1 to ${MAX_CONNECTIONS}, default 1):
                           one request per range, each checked like a resume
      --max-connections N  Connections over all files at once (default ${DEFAULT.maxConnections})
      --limit-rate RATE    Read at most RATE bytes per second over all files, so the
                           sender slows too: 500K, 10M, 1G (K = 1024, as curl)
      --retries N          Retry a failing download N times (default ${DEFAULT.retries}); what no
                           retry can cure (HTTP 404, a bad checksum…) stops at once
      --retry-delay SECS   First backoff ceiling, doubled while failing (default ${
  DEFAULT.retryDelayMs / 1000
})
      --stall-timeout SECS Abort an attempt after SECS without data, keeping its
                           progress, and retry (default ${DEFAULT.stallTimeoutMs / 1000}; 0: never)

Verification:
      --sha256 HEX         Expect this SHA-256 (one URL); a mismatch saves nothing
      --sha512 HEX         Expect this SHA-512 (one URL)
      --integrity SRI      Expect this SRI digest, e.g. sha512-<base64> as npm gives (one URL)
      --checksums FILE     Verify every download against FILE: sha256sum or sha512sum
                           output, or BSD tags (SHA512 (NAME) = HEX)

Messages:
  -q, --quiet              Print errors only
  -s, --silent             Same as -q (errors are still printed, like curl -sS)
  -v, --verbose            Print retries on a terminal too, and full error detail
      --json               Print one JSON object per finished file on stdout
  -h, --help               Print this help
  -V, --version            Print the version

Accepted for habit's sake (haul always does this):
  -L, --location           Follow redirects
  -C -, --continue-at -    Resume (curl); an offset is refused
  -c, --continue           Resume (wget)
  -f, --fail               Fail on HTTP errors, saving nothing of the error page
  -S, --show-error         Print errors

Exit status: 0 all done, 1 a download failed (or --dir cannot be made), 2 usage
error (nothing downloaded), 130, 143, 129 interrupted by SIGINT, SIGTERM, SIGHUP
(progress saved; run again to resume), 141 with -o -: the reader of stdout went away.

See docs/cli.md for the list format, the --json fields and checksum files.

Examples:
  haul https://example.com/big.iso
  haul https://example.com/big.iso -o images/big.iso --sha256 9f86d08…
  haul -i urls.txt --dir downloads -j 8 --checksums SHA256SUMS
  haul https://example.com/big.iso -x 8
  haul https://example.com/src.tar.gz -o - | tar xz
  haul -i urls.txt --dir downloads --shard 3/8 --checksums SHA256SUMS
  haul https://example.com/a.bin -H "Authorization: Bearer $TOKEN" --json
`;
