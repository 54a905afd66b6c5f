import { describe, expect, test } from 'vitest';
import {
  BACKOFF,
  ConcurrencyLimit,
  INITIAL_LIMIT,
  MIN_LIMIT,
  WINDOW_MS,
  WINDOW_SAMPLES,
} from '../../../src/policy/concurrency-limit.js';

/** Feeds `windows` full windows of answers taking `rtt` ms, sent with `inFlight` in flight. */
const feed = (limit: ConcurrencyLimit, windows: number, rtt: number, inFlight: number, drop = false, start = 0): number => {
  let now = start;
  for (let w = 0; w < windows; w++)
    for (let i = 0; i < WINDOW_SAMPLES; i++) limit.record(rtt, drop, typeof inFlight === 'number' ? inFlight : 0, (now += 1));
  return now;
};

describe('ConcurrencyLimit (Gradient2 with backoff on overload answers)', () => {
  test('starts at the initial limit, capped by the maximum', () => {
    expect(new ConcurrencyLimit(1024).limit).toBe(INITIAL_LIMIT);
    expect(new ConcurrencyLimit(8).limit).toBe(8);
  });

  test('grows while latency stays at the baseline and the limit is in use', () => {
    const limit = new ConcurrencyLimit(1024);
    feed(limit, 50, 10, 1_000);
    expect(limit.limit).toBeGreaterThan(INITIAL_LIMIT + 10);
  });

  test('does not grow an idle limit (fewer than half of it in flight)', () => {
    const limit = new ConcurrencyLimit(1024);
    feed(limit, 50, 10, 2);
    expect(limit.limit).toBe(INITIAL_LIMIT);
  });

  test('never grows past the maximum', () => {
    const limit = new ConcurrencyLimit(30);
    feed(limit, 500, 10, 1_000);
    expect(limit.limit).toBe(30);
  });

  test('shrinks when latency rises well above the baseline (queueing)', () => {
    const limit = new ConcurrencyLimit(1024);
    const now = feed(limit, 30, 10, 1_000);
    const grown = limit.limit;
    feed(limit, 10, 40, 1_000, false, now);
    expect(limit.limit).toBeLessThan(grown);
  });

  test('backs off by BACKOFF per window with an overload answer, down to MIN_LIMIT, and tells the change', () => {
    const limit = new ConcurrencyLimit(1024);
    let change;
    for (let i = 0; i < WINDOW_SAMPLES; i++) change = limit.record(1, true, 20, i);
    expect(change).toMatchObject({ from: INITIAL_LIMIT, to: Math.round(INITIAL_LIMIT * BACKOFF), drops: WINDOW_SAMPLES });
    feed(limit, 200, 1, 20, true, 100);
    expect(limit.limit).toBe(MIN_LIMIT);
  });

  test('falls at once to what the origin would not take (the most in flight when it said so)', () => {
    const limit = new ConcurrencyLimit(1024);
    let change;
    for (let i = 0; i < WINDOW_SAMPLES; i++) change = limit.record(1, true, i < 5 ? 3 : 10, i);
    expect(change).toMatchObject({ from: INITIAL_LIMIT, to: 9 });
  });

  test('lowers at most once per round trip: overload answers right after a decrease do not lower it again', () => {
    const limit = new ConcurrencyLimit(1024);
    let now = feed(limit, 5, 100, 20); // a baseline of 100 ms
    for (let i = 0; i < WINDOW_SAMPLES; i++) limit.record(5, true, 20, (now += 1));
    const lowered = limit.limit;
    for (let i = 0; i < WINDOW_SAMPLES * 3; i++) limit.record(5, true, 20, (now += 1)); // within 100 ms
    expect(limit.limit).toBe(lowered);
    now += 100; // a round trip later
    for (let i = 0; i < WINDOW_SAMPLES; i++) limit.record(5, true, 20, (now += 1));
    expect(limit.limit).toBeLessThan(lowered);
  });

  test('an echo after a decrease (overload answers sent at a low concurrency) backs off from the limit, not down to that concurrency', () => {
    const limit = new ConcurrencyLimit(1024);
    let now = feed(limit, 5, 100, 20); // baseline 100 ms
    // The origin pushes back at 11: the limit falls there at once (it was never tested).
    for (let i = 0; i < WINDOW_SAMPLES; i++) limit.record(100, true, 11, (now += 1));
    expect(limit.limit).toBe(Math.round(11 * BACKOFF));
    // A round trip later, refusals of requests sent with only 4 in flight: the origin was still busy
    // with the rejections of the burst. One more step of BACKOFF, not a fall to 4 × BACKOFF.
    now += 150;
    for (let i = 0; i < WINDOW_SAMPLES; i++) limit.record(100, true, 4, (now += 1));
    expect(limit.limit).toBe(Math.round(11 * BACKOFF * BACKOFF));
  });

  test('below where the origin pushed back, with latency within 10 % of the baseline, it regrows by about a fifth per window', () => {
    const limit = new ConcurrencyLimit(1024);
    let now = feed(limit, 5, 100, 20);
    for (let i = 0; i < WINDOW_SAMPLES; i++) limit.record(100, true, 20, (now += 1));
    now += 150;
    for (let i = 0; i < WINDOW_SAMPLES; i++) limit.record(100, true, 20, (now += 1));
    now += 150;
    for (let i = 0; i < WINDOW_SAMPLES; i++) limit.record(100, true, 20, (now += 1));
    const low = limit.limit; // 15 (the echoes keep the push-back point at 20)
    // Answers 5 % slower than the baseline (a window average is never exactly it), in full use: a
    // fifth more in one window, up to the slow-start threshold (0.9 of the push-back point, 18).
    // Without slow start (a gradient of 0.95 and a headroom of 2) one window would reach 15.3.
    now = feed(limit, 1, 105, 1_000, false, now + 150);
    expect(low).toBe(15);
    expect(limit.limit).toBe(17);
    now = feed(limit, 1, 105, 1_000, false, now);
    expect(limit.limit).toBe(18);
    // Within 10 % of the push-back point it only creeps.
    now = feed(limit, 3, 105, 1_000, false, now);
    expect(limit.limit).toBeLessThanOrEqual(20);
  });

  test('when the origin takes fewer than before, the limit settles there and stops probing the old point', () => {
    const limit = new ConcurrencyLimit(1024);
    let now = feed(limit, 5, 100, 20);
    for (let i = 0; i < WINDOW_SAMPLES; i++) limit.record(100, true, 40, (now += 1)); // pushed back at ~20
    // From now on it refuses anything over 6 in flight; the limit is always in full use.
    const refused: boolean[] = [];
    for (let w = 0; w < 80; w++) {
      const over = limit.limit > 6;
      refused.push(over);
      now += 150;
      for (let i = 0; i < WINDOW_SAMPLES; i++) limit.record(100, over, limit.limit, (now += 1));
    }
    expect(limit.limit).toBeGreaterThanOrEqual(4);
    expect(limit.limit).toBeLessThanOrEqual(7);
    // Refused windows: the way down, then a probe now and then, not every few windows.
    expect(refused.slice(40).filter(Boolean).length).toBeLessThanOrEqual(4);
  });

  test('a window also closes after WINDOW_MS with fewer samples', () => {
    const limit = new ConcurrencyLimit(1024);
    expect(limit.record(5, true, 20, 0)).toBeUndefined();
    expect(limit.record(5, false, 20, WINDOW_MS + 1)).toMatchObject({ to: Math.round(INITIAL_LIMIT * BACKOFF) });
  });

  test('the baseline is the least window RTT of the last BASELINE_MS: a long spell of queueing does not raise it, an older minimum ages out', () => {
    const limit = new ConcurrencyLimit(1024);
    let now = feed(limit, 10, 10, 1_000); // unloaded: 10 ms
    expect(limit.baseline).toBe(10);
    // 20 s of queueing at 40 ms: the baseline holds, so the limit is pushed down, not dragged up.
    for (let w = 0; w < 200; w++) now = feed(limit, 1, 40, 1_000, false, now + 100);
    expect(limit.baseline).toBe(10);
    expect(limit.limit).toBeLessThan(INITIAL_LIMIT);
    // 30 s later with 40 ms only: that is the origin's latency now.
    for (let w = 0; w < 400; w++) now = feed(limit, 1, 40, 1_000, false, now + 100);
    expect(limit.baseline).toBe(40);
  });
});
