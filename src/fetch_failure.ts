/**
 * Why a request failed before any response arrived, as each runtime words it.
 *
 * @module
 */

/** What {@link fetchFailure} could tell about a request that failed before any response. */
export interface FetchFailure {
  /**
   * A short code: the operating system's (`ECONNREFUSED`…), the TLS library's, or one of haul's for
   * what `fetch` refuses to do: `BAD_PORT` (fetch's blocked list), `BAD_SCHEME`, `INVALID_URL`,
   * `CERTIFICATE` (code unknown), `TLS_HANDSHAKE` (no TLS in common), `NOT_PERMITTED` (by the
   * runtime), `TOO_MANY_REDIRECTS`, `UNASKED_100` (Node's fetch's "bad response").
   */
  readonly code: string;
  /** What the code means, in a few lower-case words: `"connection refused"`. */
  readonly reason: string;
  readonly retryable: boolean;
}

/** Operating-system codes of network failures a later attempt may overcome. */
const TRANSIENT_CODES: Readonly<Record<string, string>> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ECONNABORTED: "connection aborted",
  ETIMEDOUT: "connection timed out",
  EPIPE: "connection broken",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "temporary DNS failure",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ENETDOWN: "network down",
  UND_ERR_SOCKET: "socket error",
  UND_ERR_CONNECT_TIMEOUT: "connection timed out",
  REFUSED_STREAM: "stream refused",
};

/** Older Bun codes, by their errno name. */
const BUN_CODES: Readonly<Record<string, string>> = {
  ConnectionRefused: "ECONNREFUSED",
  ConnectionClosed: "ECONNRESET",
  ConnectionReset: "ECONNRESET",
};

/** Linux errno numbers that Deno prints as `(os error N)`. */
const OS_ERRORS: Readonly<Record<string, string>> = {
  "32": "EPIPE",
  "100": "ENETDOWN",
  "101": "ENETUNREACH",
  "103": "ECONNABORTED",
  "104": "ECONNRESET",
  "110": "ETIMEDOUT",
  "111": "ECONNREFUSED",
  "113": "EHOSTUNREACH",
};

/** What each runtime says of a URL scheme `fetch` refuses, or refuses to be redirected to (`file:`, `data:`). */
const BAD_SCHEME =
  /^unknown scheme$|scheme '[^']*' not supported|^not implemented\.\.\. yet|protocol must be http|scheme must be a HTTP|redirect to a non HTTP|^UnsupportedRedirectProtocol/i;
const BAD_PORT = /^bad port$|Requests to port \d+ are blocked/i;
const INVALID_URL = /^Invalid URL\b|^Failed to parse URL\b|URL is invalid/;
const REDIRECT_LOOP = /^TooManyRedirects|redirect count exceeded|Maximum number of redirects/;
const CERTIFICATE_CODE = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS_/;
const BAD_CERTIFICATE = /invalid peer certificate|certificate (verify|has expired|is not valid)/i;
/** A peer that answers no TLS (plain HTTP), or no version in common: no retry cures it. */
const NO_TLS = /wrong version|alert protocol version|TLS handshake failed|InvalidContentType/;
/** An HTTP/2 stream reset before its answer, `REFUSED_STREAM` or `ENHANCE_YOUR_CALM` (Deno). */
const STREAM_REFUSED = /refused stream before processing|excessive load generating/;

/**
 * Why a request failed before any response, from the error `fetch` threw or a cause of it (Node's
 * `cause.code`, Bun's `code`, Deno's message); `null` when the error says nothing recognisable.
 */
export function fetchFailure(error: unknown): FetchFailure | null {
  return inCauses(error, readFailure);
}

/** An error's fields, as far as the runtimes' errors have them. */
type ErrorFields = { name?: unknown; message?: unknown; code?: unknown };

/** The first answer of `read` for `error` or one of its causes (at most 6 deep), or `null`. */
export function inCauses<T>(error: unknown, read: (error: ErrorFields) => T | null): T | null {
  let current: unknown = error;
  for (let depth = 0; depth < 6 && typeof current === "object" && current !== null; depth++) {
    const found = read(current);
    if (found !== null) return found;
    current = (current as { cause?: unknown }).cause;
  }
  return null;
}

function readFailure(error: ErrorFields): FetchFailure | null {
  const name = typeof error.name === "string" ? error.name : "";
  const message = typeof error.message === "string" ? error.message : "";
  const code = typeof error.code === "string" ? error.code : "";
  const permanent = (code: string, reason: string) => ({ code, reason, retryable: false });
  const transient = (code: string) => ({ code, reason: TRANSIENT_CODES[code]!, retryable: true });
  if (name === "NotCapable" || name === "PermissionDenied") {
    return permanent("NOT_PERMITTED", "the runtime's permissions forbid this request");
  }
  if (BAD_PORT.test(message)) return permanent("BAD_PORT", "fetch refuses to use this port");
  if (BAD_SCHEME.test(message)) return permanent("BAD_SCHEME", "fetch refuses this URL scheme");
  if (code === "ERR_INVALID_URL" || INVALID_URL.test(message)) {
    return permanent("INVALID_URL", "invalid URL");
  }
  if (REDIRECT_LOOP.test(message)) return permanent("TOO_MANY_REDIRECTS", "too many redirects");
  const rejected = "the server's TLS certificate was rejected";
  if (CERTIFICATE_CODE.test(code)) return permanent(code, rejected);
  if (BAD_CERTIFICATE.test(message)) return permanent("CERTIFICATE", rejected);
  if (NO_TLS.test(message)) return permanent("TLS_HANDSHAKE", "the TLS handshake failed");
  if (message === "bad response") return permanent("UNASKED_100", "an unasked 100 Continue");
  const osCode = BUN_CODES[code] ?? code;
  if (TRANSIENT_CODES[osCode] !== undefined) return transient(osCode);
  const fromErrno = OS_ERRORS[/\(os error (\d+)\)/.exec(message)?.[1] ?? ""];
  if (fromErrno !== undefined) return transient(fromErrno);
  if (/connection closed before message completed/.test(message)) return transient("ECONNRESET");
  if (STREAM_REFUSED.test(message)) return transient("REFUSED_STREAM");
  if (/dns error|failed to lookup address/i.test(message)) {
    return transient(/temporary failure/i.test(message) ? "EAI_AGAIN" : "ENOTFOUND");
  }
  return null;
}
