import { describe, expect, it } from 'vitest';
import { parseRetryAfter } from '../../../src/policy/retry-after.js';

const now = Date.parse('2026-11-23T10:00:00Z');

describe('parseRetryAfter', () => {
  it('reads delay-seconds', () => {
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter('1', now)).toBe(1_000);
    expect(parseRetryAfter(' 120 ', now)).toBe(120_000);
  });

  it('reads an HTTP date relative to now, never negative', () => {
    expect(parseRetryAfter('Mon, 23 Nov 2026 10:00:05 GMT', now)).toBe(5_000);
    expect(parseRetryAfter('Mon, 23 Nov 2026 09:00:00 GMT', now)).toBe(0);
  });

  it('rejects garbage, negatives and fractions', () => {
    for (const value of ['', 'soon', '-1', '1.5', '1e3', '0x10', 'NaN', 'Infinity']) {
      expect(parseRetryAfter(value, now), value).toBeUndefined();
    }
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it('a huge number of seconds stays a finite number', () => {
    expect(Number.isFinite(parseRetryAfter('9'.repeat(40), now))).toBe(true);
  });
});
