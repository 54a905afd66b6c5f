import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RatioBudget, SlidingSum } from '../../../src/policy/budget.js';
import { createFetch } from '../../../src/client.js';
import { DEFAULTS } from '../../../src/defaults.js';
import type { ResilientFetchOptions } from '../../../src/options.js';

/** A hand-driven clock: budgets read it, tests move it. */
const clock = (start = 0) => {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
};

/** Requests sent for 1,000 calls that all fail, each allowed 3 retries, at `rate` calls per second, under the default budget. */
const outageRequests = (rate: number): number => {
  const time = clock();
  const budget = new RatioBudget(DEFAULTS.retry.budget, time.now);
  let requests = 0;
  for (let call = 0; call < 1_000; call++) {
    budget.deposit();
    requests++;
    for (let retry = 0; retry < 3 && budget.tryWithdraw(); retry++) requests++;
    time.advance(1_000 / rate);
  }
  return requests;
};

describe('SlidingSum', () => {
  it('sums what was added inside the window', () => {
    const time = clock();
    const sum = new SlidingSum(1_000, time.now);
    sum.add();
    sum.add(2);
    time.advance(500);
    sum.add(0.5);
    expect(sum.sum()).toBe(3.5);
  });

  it('forgets each bucket once it is a window old, and everything after a long pause', () => {
    const time = clock(12_345);
    const sum = new SlidingSum(1_000, time.now);
    sum.add(1); // bucket [0, 100)
    time.advance(300);
    sum.add(10); // bucket [300, 400)
    time.advance(699); // t = 999: both still inside
    expect(sum.sum()).toBe(11);
    time.advance(1); // t = 1000: the first bucket fell out
    expect(sum.sum()).toBe(10);
    time.advance(300); // t = 1300: the second one too
    expect(sum.sum()).toBe(0);
    sum.add(4);
    time.advance(1_000_000);
    expect(sum.sum()).toBe(0);
  });

  it('remove() takes back from the bucket the amount went into, and nothing once it left the window', () => {
    const time = clock();
    const sum = new SlidingSum(1_000, time.now);
    const early = sum.add(1);
    time.advance(450);
    const late = sum.add(1);
    sum.remove(1, early);
    expect(sum.sum()).toBe(1);
    time.advance(600); // t = 1050: `early`'s bucket has left the window
    sum.remove(1, early);
    expect(sum.sum()).toBe(1);
    sum.remove(1, late);
    expect(sum.sum()).toBe(0);
    sum.remove(5, late); // never below zero
    expect(sum.sum()).toBe(0);
  });

  it('rejects a window that is not a positive number', () => {
    expect(() => new SlidingSum(0)).toThrow(RangeError);
    expect(() => new SlidingSum(Number.NaN)).toThrow(RangeError);
  });
});

describe('RatioBudget', () => {
  it('issue-14: a refunded spending no longer counts, and is counted as refunded', () => {
    const budget = new RatioBudget({ ratio: 0, minPerSecond: 1, window: 2_000 }, clock().now);
    const one = budget.spend();
    const two = budget.spend();
    expect(budget.spend()).toBeUndefined();
    budget.refund(one!);
    expect(budget.snapshot()).toEqual({ calls: 0, spent: 1, left: 1, refused: 1, refunded: 1 });
    expect(budget.spend()).toBeDefined();
    budget.refund(two!);
    expect(budget.snapshot()).toMatchObject({ spent: 1, refunded: 2 });
  });

  const options = { ratio: 0.1, minPerSecond: 5, window: 10_000 };

  it('starts with the reserve: minPerSecond for each second of the window', () => {
    const budget = new RatioBudget(options, clock().now);
    expect(budget.snapshot()).toEqual({ calls: 0, spent: 0, left: 50, refused: 0, refunded: 0 });
  });

  it('refuses once the reserve is spent, and counts the refusals', () => {
    const budget = new RatioBudget({ ratio: 0.1, minPerSecond: 1, window: 3_000 }, clock().now);
    expect([1, 2, 3, 4].map(() => budget.tryWithdraw())).toEqual([true, true, true, false]);
    expect(budget.snapshot()).toEqual({ calls: 0, spent: 3, left: 0, refused: 1, refunded: 0 });
  });

  it('earns one retry per 1/ratio calls', () => {
    const budget = new RatioBudget({ ratio: 0.1, minPerSecond: 0, window: 10_000 }, clock().now);
    for (let i = 0; i < 9; i++) budget.deposit();
    expect(budget.tryWithdraw()).toBe(false);
    budget.deposit();
    expect(budget.tryWithdraw()).toBe(true);
    expect(budget.tryWithdraw()).toBe(false);
  });

  it('gives spent retries back once they leave the window', () => {
    const time = clock();
    const budget = new RatioBudget({ ratio: 0, minPerSecond: 1, window: 2_000 }, time.now);
    expect(budget.tryWithdraw()).toBe(true);
    expect(budget.tryWithdraw()).toBe(true);
    expect(budget.tryWithdraw()).toBe(false);
    time.advance(1_999);
    expect(budget.tryWithdraw()).toBe(false);
    time.advance(1);
    expect(budget.snapshot().left).toBe(2);
    expect(budget.tryWithdraw()).toBe(true);
  });

  it('ratio 0 and no floor: never a retry', () => {
    const budget = new RatioBudget({ ratio: 0, minPerSecond: 0, window: 1_000 }, clock().now);
    for (let i = 0; i < 100; i++) budget.deposit();
    expect(budget.tryWithdraw()).toBe(false);
  });

  it('issue 5 target: 1,000 failing calls with 3 retries each inside one window make at most 1.25 requests per call', () => {
    const requests = outageRequests(200); // 1,000 calls in 5 s
    expect(requests / 1_000).toBeLessThanOrEqual(1.25);
    expect(requests).toBe(1_000 + 10 + 100); // the reserve, plus 10 % of the calls
  });

  it.for([1_000, 100, 16, 8])(
    'default budget: a 1,000-call outage at %i calls per second stays at or under 1.25 requests per call',
    (rate) => {
      expect(outageRequests(rate) / 1_000).toBeLessThanOrEqual(1.25);
    },
  );

  it('extra requests never exceed ratio·calls + reserve·(⌈T/window⌉ + 1), whatever the timing', () => {
    fc.assert(
      fc.property(
        fc.record({
          ratio: fc.double({ min: 0, max: 1, noNaN: true }),
          minPerSecond: fc.double({ min: 0, max: 20, noNaN: true }),
          window: fc.integer({ min: 10, max: 20_000 }),
        }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3_000 }), fc.integer({ min: 0, max: 5 })), { maxLength: 300 }),
        (opts, calls) => {
          const time = clock();
          const budget = new RatioBudget(opts, time.now);
          let extra = 0;
          for (const [gap, retries] of calls) {
            time.advance(gap);
            budget.deposit();
            for (let i = 0; i < retries && budget.tryWithdraw(); i++) extra++;
          }
          const reserve = (opts.minPerSecond * opts.window) / 1_000;
          const bound = opts.ratio * calls.length + reserve * (Math.ceil(time.now() / opts.window) + 1);
          expect(extra).toBeLessThanOrEqual(bound + 1e-9);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('budget and throttle options are checked at createFetch time', () => {
  it.for([
    [
      { defaults: { retry: { budget: { ratio: 2 } } } },
      RangeError,
      'defaults.retry.budget.ratio must be a number >= 0 and <= 1, got 2',
    ],
    [{ defaults: { retry: { budget: { window: 0 } } } }, RangeError, 'defaults.retry.budget.window must be a number > 0, got 0'],
    [
      { defaults: { retry: { budget: { minPerSecond: -1 } } } },
      RangeError,
      'defaults.retry.budget.minPerSecond must be a number >= 0, got -1',
    ],
    [
      { defaults: { retry: { budget: true } } },
      TypeError,
      'defaults.retry.budget must be a ratio between 0 and 1, an object { ratio, minPerSecond, window } or false, got true',
    ],
    [{ hosts: { 'a.com': { throttle: { k: 0 } } } }, RangeError, 'hosts["a.com"].throttle.k must be a number >= 1, got 0'],
    [{ defaults: { throttle: { window: -5 } } }, RangeError, 'defaults.throttle.window must be a number > 0, got -5'],
    [{ defaults: { throttle: { kk: 1 } } }, TypeError, 'defaults.throttle.kk is not a known option'],
    [
      { defaults: { throttle: { maxProbability: 1.5 } } },
      RangeError,
      'defaults.throttle.maxProbability must be a number >= 0 and <= 1, got 1.5',
    ],
  ] as Array<[unknown, ErrorConstructor, string]>)('%o throws naming the field', ([options, Kind, message]) => {
    expect(() => createFetch(options as ResilientFetchOptions)).toThrow(Kind);
    expect(() => createFetch(options as ResilientFetchOptions)).toThrow(message);
  });
});
