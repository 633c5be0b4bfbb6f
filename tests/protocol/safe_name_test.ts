import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { contentDispositionName, MAX_NAME_BYTES } from "../../src/protocol/safe_name.ts";
import { fuzzCases, fuzzSeed } from "../helpers/fuzz_config.ts";
import { makeRng } from "../helpers/prng.ts";

/** [header value, expected name, why] */
type Case = [string | null, string | null, string];

function check(cases: Case[]): void {
  for (const [header, expected, why] of cases) {
    it(`${why}: ${JSON.stringify(header)}`, () => {
      assert.equal(contentDispositionName(header), expected);
    });
  }
}

describe("contentDispositionName(): filename", () => {
  check([
    ['attachment; filename="report.pdf"', "report.pdf", "a quoted string"],
    ["attachment; filename=report.pdf", "report.pdf", "a token"],
    ['inline; filename="a.txt"', "a.txt", "any disposition type"],
    ["filename=name1340; charset=funny; option=strange", "name1340", "no disposition type"],
    ['attachment; filename="q3 report; final.pdf"', "q3 report; final.pdf", "; inside quotes"],
    ['attachment; filename="say \\"hi\\".txt"', 'say "hi".txt', "escaped quotes"],
    ['attachment; filename="a\\bc.txt"', "abc.txt", "a quoted-pair of an ordinary character"],
    ["attachment;filename = spaced name.txt ;", "spaced name.txt", "spaces around = and ;"],
    ['attachment; FileName="upper.bin"', "upper.bin", "the parameter name in any case"],
    ['attachment; filename="a%20b.txt"', "a%20b.txt", "no %-decoding of filename"],
    ['attachment; filename="caf\u00c3\u00a9.txt"', "café.txt", "raw UTF-8 bytes (read as Latin-1)"],
    ['attachment; filename="caf\u00e9.txt"', "café.txt", "Latin-1 that is not UTF-8"],
    ['attachment; filename="caf\u00e9\u20ac.txt"', "café€.txt", "already decoded text"],
    [
      'attachment; foo="x; filename=evil.exe"; filename=good.txt',
      "good.txt",
      "a parameter hidden in another's quoted value",
    ],
  ]);
});

describe("contentDispositionName(): filename* (RFC 8187)", () => {
  check([
    ["attachment; filename*=UTF-8''%E2%82%AC%20rates.csv", "€ rates.csv", "UTF-8 percent-encoded"],
    [
      "attachment; filename*=utf-8'en'na%C3%AFve.txt",
      "naïve.txt",
      "a language, lower-case charset",
    ],
    ["attachment; filename*=ISO-8859-1''%A3%20rates.txt", "£ rates.txt", "ISO-8859-1"],
    [
      "attachment; filename*=UTF-8''%E2%82%AC.csv; filename=eur.csv",
      "€.csv",
      "filename* wins over filename after it",
    ],
    [
      "attachment; filename=eur.csv; FILENAME*=UTF-8''%E2%82%AC.csv",
      "€.csv",
      "filename* wins over filename before it, in any case",
    ],
    ["attachment; filename*=UTF-8''%ZZ.txt; filename=x.txt", "x.txt", "invalid % escape: filename"],
    ["attachment; filename*=UTF-8''%E2%8.txt; filename=x.txt", "x.txt", "a cut % escape: filename"],
    ["attachment; filename*=UTF-8''%C3%28.txt; filename=x.txt", "x.txt", "invalid UTF-8: filename"],
    ["attachment; filename*=KOI8-R''%F0.txt; filename=x.txt", "x.txt", "another charset: filename"],
    ["attachment; filename*=x.txt; filename=y.txt", "y.txt", "no charset: filename"],
    ["attachment; filename*=UTF-8''a b.txt; filename=y.txt", "y.txt", "a raw space: filename"],
    ["attachment; filename*=UTF-8''%C3%28.txt", null, "invalid UTF-8 and no filename"],
    ["attachment; filename*=UTF-8''..; filename=x.txt", "x.txt", "filename* of no name: filename"],
    ["attachment; filename*=UTF-8''; filename=x.txt", "x.txt", "an empty filename*: filename"],
    [
      "attachment; filename*=UTF-8''a%2F; filename=x.txt",
      "x.txt",
      "filename* a directory: filename",
    ],
  ]);
});

describe("contentDispositionName(): reduced to a safe base name", () => {
  check([
    ['attachment; filename="../../etc/passwd"', "passwd", "parents and directories dropped"],
    ['attachment; filename="/etc/passwd"', "passwd", "an absolute path"],
    ['attachment; filename="C:\\\\Windows\\\\evil.dll"', "evil.dll", "backslashes"],
    ["attachment; filename*=UTF-8''..%2F..%2Fx.sh", "x.sh", "encoded slashes"],
    ["attachment; filename*=UTF-8''..%5Cx.sh", "x.sh", "an encoded backslash"],
    ['attachment; filename=".bashrc"', "bashrc", "no hidden file"],
    ["attachment; filename*=UTF-8''a%00b.txt", "a_b.txt", "NUL"],
    ["attachment; filename*=UTF-8''a%0D%0Ab%07.txt", "a__b_.txt", "CR, LF, BEL"],
    ["attachment; filename*=UTF-8''%E2%80%AEfdp.exe", "_fdp.exe", "a bidirectional override"],
    ["attachment; filename*=UTF-8''%D8%9Cfdp.exe", "_fdp.exe", "the Arabic letter mark (bidi)"],
    ['attachment; filename="a....b.txt"', "a.b.txt", "runs of dots"],
    ['attachment; filename="  name.txt.  "', "name.txt", "surrounding spaces and dots"],
    ['attachment; filename=".."', null, "only dots"],
    ['attachment; filename="..."', null, "only dots (three)"],
    ['attachment; filename="dir/"', null, "a directory"],
    ['attachment; filename=""', null, "empty quoted"],
    ["attachment; filename=", null, "empty token"],
    ['attachment; filename=" . "', null, "only a dot and spaces"],
  ]);

  it("keeps a long name within MAX_NAME_BYTES, its extension kept", () => {
    const name = contentDispositionName(`attachment; filename="${"é".repeat(300)}.tar.gz"`);
    assert.ok(name !== null);
    assert.ok(new TextEncoder().encode(name).length <= MAX_NAME_BYTES);
    assert.ok(name.endsWith(".gz"), name);
  });
});

describe("contentDispositionName(): a cut name", () => {
  for (const cut of [".", " "]) {
    it(`ends with no ${JSON.stringify(cut)} where the cut falls`, () => {
      const name = contentDispositionName(
        `attachment; filename="${"a".repeat(MAX_NAME_BYTES - 1)}${cut}${"b".repeat(20)}"`,
      );
      assert.equal(name, "a".repeat(MAX_NAME_BYTES - 1));
    });
  }
});

describe("contentDispositionName(): no name", () => {
  check([
    [null, null, "no header"],
    ["", null, "empty"],
    ["attachment", null, "no parameters"],
    ["inline; size=12", null, "no filename parameter"],
    ['attachment; filename="a.txt"; filename="b.txt"', null, "a repeated filename (RFC 6266 4.1)"],
    [
      "attachment; filename*=UTF-8''a.txt; filename*=UTF-8''b.txt",
      null,
      "a repeated filename*",
    ],
    [
      "attachment; filename=a.txt, attachment; filename=b.txt",
      null,
      "two headers folded into one",
    ],
    ["attachment filename=a.txt", null, "no ; before the parameter"],
    ['attachment; filename="unterminated.txt', null, "an unterminated quoted string"],
  ]);
});

describe("contentDispositionName(): seeded fuzzing", () => {
  const PIECES = [
    "attachment",
    "inline",
    ";",
    " ",
    "=",
    '"',
    "\\",
    "filename",
    "FILENAME",
    "filename*",
    "UTF-8''",
    "iso-8859-1'en'",
    "'",
    "%",
    "%2F",
    "%5C",
    "%00",
    "%C3%A9",
    "%E2%80%AE",
    "%FF",
    "..",
    ".",
    "/",
    "a",
    "name.txt",
    "\u0000",
    "\u0007",
    "\u00e9",
    "\u00c3",
    "\u202e",
    "\u20ac",
  ];
  it("never throws; a name is never empty, a path, hidden, or a control character", () => {
    const seed = fuzzSeed();
    const cases = fuzzCases(20_000);
    const rng = makeRng(seed ^ 0xc0d15);
    let named = 0;
    for (let i = 0; i < cases; i++) {
      let header = "";
      for (let n = rng.int(0, 14); n > 0; n--) header += rng.pick(PIECES);
      const name = contentDispositionName(header);
      if (name === null) continue;
      named++;
      const why = `HAUL_FUZZ_SEED=${seed} case ${i}: ${JSON.stringify(header)} -> ${
        JSON.stringify(name)
      }`;
      assert.ok(name !== "" && !/^[. ]/.test(name) && !/[. ]$/.test(name), why);
      // deno-lint-ignore no-control-regex
      assert.ok(!/[/\\\u0000-\u001f\u007f-\u009f\u202e]|\.\./.test(name), why);
      assert.ok(new TextEncoder().encode(name).length <= MAX_NAME_BYTES, why);
    }
    if (cases >= 1000) assert.ok(named > 0, "no generated header gave a name");
  });
});
