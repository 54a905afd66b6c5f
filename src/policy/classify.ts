/** Error classification, pure: which failures are the network's, and which are safe for any method. */
import { DEFAULTS } from '../defaults.js';

/** Collects `code`s through nested `cause` and `AggregateError.errors`, depth-limited. */
export const errorCodes = (error: unknown): string[] => {
  const codes: string[] = [];
  const seen = new Set<unknown>();
  const visit = (value: unknown, depth: number) => {
    if (depth > 8 || typeof value !== 'object' || value === null || seen.has(value)) return;
    seen.add(value);
    const code = (value as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    visit((value as { cause?: unknown }).cause, depth + 1);
    const errors = (value as { errors?: unknown }).errors;
    if (Array.isArray(errors)) for (const inner of errors) visit(inner, depth + 1);
  };
  visit(error, 0);
  return codes;
};

/**
 * Failures that happen before any byte of the request left the client: retrying them is safe
 * even for POST. `ECONNREFUSED` on a fresh connection, DNS failure, connect timeout.
 */
export const BEFORE_SEND_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * Codes that say the connection failed (refused, reset, timed out, DNS, socket closed): the
 * network's failures, retried by default and counted by the breaker.
 */
export const NETWORK_CODES: ReadonlySet<string> = new Set([...DEFAULTS.retry.errorCodes, ...BEFORE_SEND_CODES]);

/**
 * Messages of a network failure that carries no code: a `fetch` other than undici's — msw's
 * `HttpResponse.error()` (`TypeError('Failed to fetch')`, as Chromium says it), Firefox's, WebKit's,
 * React Native's. undici's fetch always gives the network error a coded `cause`.
 */
const CODELESS_NETWORK_MESSAGES: ReadonlySet<string> = new Set([
  'Failed to fetch',
  'NetworkError when attempting to fetch resource.',
  'Load failed',
  'Network request failed',
]);

/**
 * The network failure `error` reports: the first code of `codes` in its chain, `'network error'`
 * for a codeless network failure (see above), or `undefined` when it is no network failure — a
 * programming error, a method fetch forbids, a redirect loop or `redirect: 'error'` (fetch's
 * `TypeError('fetch failed')` with an uncoded cause), or any other `TypeError` fetch throws.
 */
export const networkFailure = (error: unknown, codes: ReadonlySet<string> = NETWORK_CODES): string | undefined => {
  const found = errorCodes(error);
  const code = found.find((c) => codes.has(c));
  if (code !== undefined) return code;
  if (found.length === 0 && error instanceof TypeError && CODELESS_NETWORK_MESSAGES.has(error.message)) return 'network error';
  return undefined;
};
