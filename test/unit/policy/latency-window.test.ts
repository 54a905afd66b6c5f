import { describe, expect, test } from 'vitest';
import { LatencyWindow } from '../../../src/policy/latency-window.js';

describe('LatencyWindow', () => {
  test('is empty at first: no percentile', () => {
    const window = new LatencyWindow(10);
    expect(window.size).toBe(0);
    expect(window.percentile(95)).toBeUndefined();
  });

  test('nearest-rank percentiles of 1..100', () => {
    const window = new LatencyWindow(100);
    // Recorded out of order: the query sorts.
    for (let i = 100; i >= 1; i--) window.record(i);
    expect(window.size).toBe(100);
    expect(window.percentile(50)).toBe(50);
    expect(window.percentile(95)).toBe(95);
    expect(window.percentile(99)).toBe(99);
    expect(window.percentile(100)).toBe(100);
    expect(window.percentile(0.5)).toBe(1);
  });

  test('sorts numerically, not as strings', () => {
    const window = new LatencyWindow(4);
    for (const ms of [9, 100, 20, 3]) window.record(ms);
    expect(window.percentile(50)).toBe(9);
    expect(window.percentile(100)).toBe(100);
  });

  test('keeps only the latest `capacity` samples', () => {
    const window = new LatencyWindow(5);
    for (let i = 1; i <= 5; i++) window.record(1_000 * i);
    for (let i = 1; i <= 5; i++) window.record(i);
    expect(window.size).toBe(5);
    expect(window.percentile(100)).toBe(5);
    window.record(6);
    expect(window.size).toBe(5);
    expect(window.percentile(0.1)).toBe(2);
    expect(window.percentile(100)).toBe(6);
  });

  test('a query after a new record sees it', () => {
    const window = new LatencyWindow(3);
    window.record(1);
    expect(window.percentile(100)).toBe(1);
    window.record(7);
    expect(window.percentile(100)).toBe(7);
  });

  test('ignores negative and non-finite samples', () => {
    const window = new LatencyWindow(3);
    window.record(-1);
    window.record(Number.NaN);
    window.record(Number.POSITIVE_INFINITY);
    expect(window.size).toBe(0);
  });

  test('rejects a capacity that is not a positive integer', () => {
    expect(() => new LatencyWindow(0)).toThrow(RangeError);
    expect(() => new LatencyWindow(1.5)).toThrow(/capacity/);
  });
});

describe('LatencyWindow against a sort of the latest samples', () => {
  test('every percentile matches a reference computed by sorting, over many evictions', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    const capacity = 50;
    const window = new LatencyWindow(capacity);
    const all: number[] = [];
    for (let i = 0; i < 400; i++) {
      // Many duplicates (rounded values) exercise removal of equal samples.
      const ms = Math.round(random() * 40) / 2;
      window.record(ms);
      all.push(ms);
      const reference = all.slice(-capacity).sort((a, b) => a - b);
      for (const p of [1, 25, 50, 90, 95, 99, 100]) {
        const rank = Math.max(1, Math.ceil((p / 100) * reference.length));
        expect(window.percentile(p)).toBe(reference[rank - 1]);
      }
    }
    expect(window.size).toBe(capacity);
  });
});
