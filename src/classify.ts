/** Error classification, pure: which failures are the network's, and which are safe for any method. */

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
