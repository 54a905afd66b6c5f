/**
 * Parses a `Retry-After` value (RFC 9110 §10.2.3): delay-seconds or an HTTP-date.
 * Returns milliseconds from `now` (never negative), or `undefined` when absent or malformed.
 */
export const parseRetryAfter = (value: string | null | undefined, now: number = Date.now()): number | undefined => {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  if (/^\d+$/.test(text)) {
    const seconds = Number(text);
    return Number.isSafeInteger(seconds) ? seconds * 1_000 : Number.MAX_SAFE_INTEGER;
  }
  // An HTTP-date names a weekday (`Sun,` IMF-fixdate and asctime, `Sunday,` RFC 850) and a time;
  // bare numbers with signs or fractions are malformed.
  if (!/^[A-Za-z]{3,9},? /.test(text)) return undefined;
  // asctime (`Sun Nov  6 08:49:37 1994`) names no zone, and Date.parse would read local time: HTTP dates are GMT.
  const date = Date.parse(/(?:GMT|UTC|Z|[+-]\d{4})$/i.test(text) ? text : `${text} GMT`);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
};
