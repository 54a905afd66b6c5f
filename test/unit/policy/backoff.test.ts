import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../../src/policy/backoff.js';

const exp = { base: 100, max: 1_000, factor: 2 } as const;

describe('backoffDelay', () => {
  it('none: exponential growth capped at max', () => {
    const delays = [1, 2, 3, 4, 5, 6].map((n) => backoffDelay({ ...exp, jitter: 'none' }, n, 0));
    expect(delays).toEqual([100, 200, 400, 800, 1_000, 1_000]);
  });

  it('full jitter spans 0..ceiling', () => {
    expect(backoffDelay({ ...exp, jitter: 'full' }, 3, 0, () => 0)).toBe(0);
    expect(backoffDelay({ ...exp, jitter: 'full' }, 3, 0, () => 0.5)).toBe(200);
    expect(backoffDelay({ ...exp, jitter: 'full' }, 3, 0, () => 0.999_999)).toBeCloseTo(400, 2);
  });

  it('equal jitter keeps at least half the ceiling', () => {
    expect(backoffDelay({ ...exp, jitter: 'equal' }, 2, 0, () => 0)).toBe(100);
    expect(backoffDelay({ ...exp, jitter: 'equal' }, 2, 0, () => 1)).toBe(200);
  });

  it('decorrelated jitter grows from the previous delay and stays within [base, max]', () => {
    expect(backoffDelay({ ...exp, jitter: 'decorrelated' }, 1, 0, () => 0)).toBe(100);
    expect(backoffDelay({ ...exp, jitter: 'decorrelated' }, 2, 200, () => 1)).toBe(600);
    expect(backoffDelay({ ...exp, jitter: 'decorrelated' }, 5, 900, () => 1)).toBe(1_000);
  });

  it('a function decides the delay; negative or non-finite values become 0', () => {
    expect(backoffDelay((n) => n * 10, 3, 0)).toBe(30);
    expect(backoffDelay(() => -5, 1, 0)).toBe(0);
    expect(backoffDelay(() => Number.NaN, 1, 0)).toBe(0);
  });
});
