/** Back-off maths, pure. `random` is injectable for tests. */
import type { ResolvedBackoff } from '../options.js';

/**
 * Milliseconds to wait before retry number `retry` (1 for the first retry).
 * `previous` is the last delay used, for decorrelated jitter.
 */
export const backoffDelay = (
  backoff: ResolvedBackoff,
  retry: number,
  previous: number,
  random: () => number = Math.random,
): number => {
  if (typeof backoff === 'function') {
    const value = backoff(retry);
    return Number.isFinite(value) && value > 0 ? value : 0;
  }
  const { base, max, factor, jitter } = backoff;
  // base 0 stays 0 (0 · Infinity would be NaN once factor ** retry overflows).
  const ceiling = base === 0 ? 0 : Math.min(max, base * factor ** (retry - 1));
  switch (jitter) {
    case 'none':
      return ceiling;
    case 'full':
      return random() * ceiling;
    case 'equal':
      // Two rounded halves can sum past the ceiling (seen with subnormal bases): clamp.
      return Math.min(ceiling, ceiling / 2 + (random() * ceiling) / 2);
    case 'decorrelated': {
      // AWS: sleep = min(cap, random_between(base, sleep * 3)).
      const upper = Math.max(base, (previous || base) * 3);
      return Math.min(max, base + random() * (upper - base));
    }
  }
};
