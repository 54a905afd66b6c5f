import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { isBulkheadRejectedError } from '../../../src/errors.js';
import { Bulkhead, type EnterOptions, type Release } from '../../../src/policy/bulkhead.js';
import type { ResolvedBulkhead } from '../../../src/options.js';

const settings = (over: Partial<ResolvedBulkhead> = {}): ResolvedBulkhead => ({
  maxConcurrent: 2,
  maxQueued: 2,
  queueTimeout: 1_000,
  ...over,
});
const enter = (over: Partial<EnterOptions> = {}): EnterOptions => ({
  queue: true,
  deadline: Infinity,
  deadlineError: () => new Error('deadline'),
  ...over,
});
const rejection = async (promise: unknown): Promise<unknown> => {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('did not reject');
};

describe('Bulkhead', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  test('admits up to the limit at once, queues the next in order, rejects past the queue without waiting', async () => {
    const bulkhead = new Bulkhead('http://a.test', settings(), () => {});
    const first = bulkhead.enter(enter()) as Release;
    const second = bulkhead.enter(enter()) as Release;
    expect(typeof first).toBe('function');
    expect(typeof second).toBe('function');
    const order: number[] = [];
    const third = (bulkhead.enter(enter()) as Promise<Release>).then((release) => (order.push(3), release));
    const fourth = (bulkhead.enter(enter()) as Promise<Release>).then((release) => (order.push(4), release));
    let error: unknown;
    try {
      bulkhead.enter(enter());
    } catch (caught) {
      error = caught;
    }
    expect(isBulkheadRejectedError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'ERR_BULKHEAD_FULL', host: 'http://a.test', reason: 'queue full', limit: 2 });
    expect(bulkhead.queued).toBe(2);
    first(undefined);
    first(undefined); // a second release is ignored
    (await third)(undefined);
    second(undefined);
    (await fourth)(undefined);
    expect(order).toEqual([3, 4]);
    expect(bulkhead.active).toBe(0);
    expect(bulkhead.rejected).toBe(1);
  });

  test('a request that may not queue (a hedge) is rejected when no slot is free', () => {
    const bulkhead = new Bulkhead('http://a.test', settings({ maxConcurrent: 1 }), () => {});
    bulkhead.enter(enter());
    expect(() => bulkhead.enter(enter({ queue: false }))).toThrow(/queue full/);
  });

  test('queue timeout rejects the waiter and frees its place', async () => {
    const bulkhead = new Bulkhead('http://a.test', settings({ maxConcurrent: 1, queueTimeout: 50 }), () => {});
    bulkhead.enter(enter());
    const waiting = rejection(bulkhead.enter(enter()));
    await vi.advanceTimersByTimeAsync(50);
    expect(await waiting).toMatchObject({ reason: 'queue timeout' });
    expect(bulkhead.queued).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  test('the call deadline, when sooner than the queue timeout, rejects with its own error', async () => {
    const bulkhead = new Bulkhead('http://a.test', settings({ maxConcurrent: 1 }), () => {});
    bulkhead.enter(enter());
    const deadlineError = new Error('total timeout');
    const waiting = rejection(bulkhead.enter(enter({ deadline: performance.now() + 20, deadlineError: () => deadlineError })));
    await vi.advanceTimersByTimeAsync(20);
    expect(await waiting).toBe(deadlineError);
  });

  test("the caller's abort and the client's close leave the queue at once, with their reasons", async () => {
    const bulkhead = new Bulkhead('http://a.test', settings({ maxConcurrent: 1 }), () => {});
    const release = bulkhead.enter(enter()) as Release;
    const caller = new AbortController();
    const closing = new AbortController();
    const aborted = rejection(bulkhead.enter(enter({ signal: caller.signal })));
    const closed = rejection(bulkhead.enter(enter({ closing: closing.signal })));
    caller.abort(new Error('caller'));
    expect(await aborted).toMatchObject({ message: 'caller' });
    expect(bulkhead.queued).toBe(1);
    closing.abort(new TypeError('closed'));
    expect(await closed).toMatchObject({ message: 'closed' });
    expect(bulkhead.queued).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    release(undefined);
    expect(bulkhead.active).toBe(0);
    // Already aborted: rejected without queueing.
    bulkhead.enter(enter());
    expect(await rejection(bulkhead.enter(enter({ signal: caller.signal })))).toMatchObject({ message: 'caller' });
  });

  test("a raised limit (a later call's settings) lets waiters in at once", async () => {
    const bulkhead = new Bulkhead('http://a.test', settings({ maxConcurrent: 1 }), () => {});
    bulkhead.enter(enter());
    const waiting = bulkhead.enter(enter()) as Promise<Release>;
    bulkhead.apply(settings({ maxConcurrent: 2 }));
    expect(typeof (await waiting)).toBe('function');
    expect(bulkhead.active).toBe(2);
  });

  test("'auto' learns: overload answers lower the limit and report the change", () => {
    const changes: Array<{ from: number; to: number }> = [];
    const bulkhead = new Bulkhead('http://a.test', settings({ maxConcurrent: 'auto', maxQueued: 0 }), (c) => changes.push(c));
    expect(bulkhead.limit).toBe(20);
    // 20 in flight at once, every one answered 503: the first window's ten were sent with up to 10
    // in flight, so the origin would not take 10 (the rest, within a round trip, count once).
    const releases = Array.from({ length: 20 }, () => bulkhead.enter(enter()) as Release);
    for (const release of releases) release({ rtt: 1, drop: true });
    expect(bulkhead.limit).toBe(9);
    expect(changes).toEqual([expect.objectContaining({ from: 20, to: 9, drops: 10 })]);
  });
});
