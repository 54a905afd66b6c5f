/**
 * Redirects as fetch follows them (Fetch standard, "HTTP-redirect fetch", as undici 7 implements
 * it): pure, so the dispatcher transport and its tests share one definition of the next hop.
 */

/** Statuses fetch treats as redirects. */
export const REDIRECT_STATUS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/** Fetch's limit: the 21st redirect is a network error. */
export const MAX_REDIRECTS = 20;

/** Headers that describe the body: dropped when a redirect turns the request into a GET. */
const BODY_HEADERS = ['content-encoding', 'content-language', 'content-location', 'content-type', 'content-length'];

/** Headers carrying credentials: dropped on a cross-origin hop. */
const CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'host'];

/** One request on the wire: the first one, or a redirect's. */
export type Hop = {
  readonly url: URL;
  readonly method: string;
  /** Request headers without the per-hop defaults (user-agent, accept-encoding, ...). */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  /** Bytes, or a Blob over `maxBufferBytes` (re-read for each hop). */
  readonly body: Uint8Array | Blob | null;
  /** A stream body that can be sent once only (larger than `maxBufferBytes`). */
  readonly stream: ReadableStream<Uint8Array> | null;
  /** `body` came from a caller's stream: sent chunked, and not resent on a 307/308 (fetch cannot). */
  readonly chunked: boolean;
  /** Redirects followed so far. */
  readonly count: number;
};

/**
 * The hop after a redirect response with a `Location`. Throws the network error's cause (an `Error`
 * whose message is undici's) where fetch fails: bad location, non-HTTP(S) scheme, too many
 * redirects, a body that cannot be sent again.
 */
/** Control characters and bytes above 0x7E: not an encoded URL (undici's `isValidEncodedURL`). */
const NOT_ENCODED = /[^\x20-\x7e]/;

export const nextHop = (hop: Hop, status: number, location: string): Hop => {
  // A header value holds the bytes as latin1 characters; fetch reads a Location that is not plain
  // ASCII as UTF-8 bytes (undici's `normalizeBinaryStringToUtf8`) before parsing it.
  if (NOT_ENCODED.test(location)) location = Buffer.from(location, 'latin1').toString('utf8');
  const url = new URL(location, hop.url);
  // A Location without a fragment inherits the request's (Fetch: "location URL").
  if (!location.includes('#') && hop.url.hash) url.hash = hop.url.hash;
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('URL scheme must be a HTTP(S) scheme');
  if (hop.count >= MAX_REDIRECTS) throw new Error('redirect count exceeded');
  const sameOrigin = url.origin === hop.url.origin;
  if ((url.username || url.password) && !sameOrigin) {
    throw new Error('cross origin not allowed for request mode "cors"');
  }
  if (status !== 303 && (hop.stream !== null || hop.chunked))
    throw new Error('the request body is a stream and cannot be sent again');

  let { method, body, chunked } = hop;
  let headers = hop.headers;
  if (((status === 301 || status === 302) && method === 'POST') || (status === 303 && method !== 'GET' && method !== 'HEAD')) {
    method = 'GET';
    body = null;
    chunked = false;
    headers = headers.filter(([name]) => !BODY_HEADERS.includes(name));
  }
  if (!sameOrigin) headers = headers.filter(([name]) => !CREDENTIAL_HEADERS.includes(name));
  return { url, method, headers, body, stream: method === 'GET' ? null : hop.stream, chunked, count: hop.count + 1 };
};
