/**
 * Redaction: what haul puts in messages, error fields and logs never carries a credential, neither
 * a URL's `user:password@` or signed query nor a credential-bearing header.
 *
 * @module
 */

/** Header names whose values never appear in messages or in an error's `headers`. */
const SECRET_HEADERS: ReadonlySet<string> = new Set([
  "authorization",
  "proxy-authorization",
  "cookie",
  "set-cookie",
  "www-authenticate",
  "proxy-authenticate",
  "x-amz-security-token",
  "x-api-key",
]);

/** A copy of `headers` with credential-bearing values replaced by `[redacted]`. */
export function redactHeaders(headers: Headers): Headers {
  const copy = new Headers();
  headers.forEach((value, name) => {
    copy.append(name, SECRET_HEADERS.has(name.toLowerCase()) ? "[redacted]" : value);
  });
  return copy;
}

/** A URL as text without its `user:password@` and `#fragment`, sensitive query values `[redacted]`. */
export function redactUrl(url: string | URL): string {
  if (!URL.canParse(String(url))) return "[unparseable URL]";
  const parsed = new URL(String(url));
  parsed.username = parsed.password = parsed.hash = ""; // fetch never sends a fragment
  for (const key of [...parsed.searchParams.keys()]) {
    if (/sig|signature|token|key|secret|credential|password|auth/i.test(key)) {
      parsed.searchParams.set(key, "[redacted]");
    }
  }
  return parsed.href;
}

/** Text that does not parse as a URL, without what lies between `//` and its last `@` (a password may hold `@` or `/`), nor a `#fragment`. */
export function redactUnparsed(raw: string): string {
  return raw.replace(/\/\/.*@/s, "//").replace(/#.*/s, "");
}
