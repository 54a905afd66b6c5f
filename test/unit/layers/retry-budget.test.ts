import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ThrottledError } from '../../../src/errors.js';
import type { Attempt, Send } from '../../../src/pipeline/types.js';
import { createRetryLayer } from '../../../src/layers/retry.js';
import type { Policy } from '../../../src/options.js';
import { attemptOf, layerContext, preparedRequest } from '../../support/attempt.js';

const harness = () => {
  const { context, events, stats: hostStats } = layerContext();
  const layer = createRetryLayer(context);
  const call = (send: Send, href: string, policy: Policy, deadline = Infinity) => {
    return layer(send)(attemptOf(preparedRequest(href, policy, { deadline })));
  };
  const stats = hostStats;
  return { call, events, stats, context };
};

const A = 'http://a.test';
const B = 'http://b.test';
const NO_BACKOFF: Policy = { retry: { limit: 3, backoff: () => 0 } };

/** A stub transport: answers with `answer(url, index)` and records every send. */
const transport = (answer: (attempt: Attempt, index: number) => Response) => {
  const sent: Array<{ origin: string; number: number; at: number }> = [];
  const send: Send = async (attempt) => {
    sent.push({ origin: attempt.url.origin, number: attempt.number, at: performance.now() });
    return answer(attempt, sent.length - 1);
  };
  return { send, sent };
};

describe('retry budget in the retry layer', () => {
  it('stops retrying when the budget is spent: the caller gets the last response, intact', async () => {
    const { call, events, stats } = harness();
    let n = 0;
    const { send, sent } = transport(() => new Response(`busy ${n++}`, { status: 503 }));
    const policy: Policy = { retry: { limit: 3, backoff: () => 0, budget: { ratio: 0, minPerSecond: 1, window: 2_000 } } };
    const first = await call(send, `${A}/1`, policy);
    expect(sent).toHaveLength(3); // the first attempt and the two retries the reserve of 2 pays for
    expect(first.status).toBe(503);
    expect(await first.text()).toBe('busy 2');
    const second = await call(send, `${A}/2`, policy);
    expect(sent).toHaveLength(4);
    expect(await second.text()).toBe('busy 3');
    expect(events.filter((e) => e.type === 'budget-exhausted')).toEqual([
      { type: 'budget-exhausted', host: A, kind: 'retry' },
      { type: 'budget-exhausted', host: A, kind: 'retry' },
    ]);
    expect(events.filter((e) => e.type === 'give-up').map((e) => 'why' in e && e.why)).toEqual([
      'retry budget exhausted',
      'retry budget exhausted',
    ]);
    expect(stats(A)).toMatchObject({ retryBudget: { calls: 2, spent: 2, left: 0, refused: 2 } });
  });

  it('budgets are per origin', async () => {
    const { call } = harness();
    const { send, sent } = transport(() => new Response(null, { status: 503 }));
    const policy: Policy = { retry: { limit: 3, backoff: () => 0, budget: { ratio: 0, minPerSecond: 1, window: 1_000 } } };
    await call(send, A, policy);
    await call(send, B, policy);
    expect(sent.map((s) => s.origin)).toEqual([A, A, B, B]);
  });

  it('budget: false retries every time and keeps no budget', async () => {
    const { call, events, stats } = harness();
    const { send, sent } = transport(() => new Response(null, { status: 503 }));
    const policy: Policy = { retry: { limit: 3, backoff: () => 0, budget: false } };
    for (let i = 0; i < 20; i++) await call(send, A, policy);
    expect(sent).toHaveLength(80);
    expect(events.some((e) => e.type === 'budget-exhausted')).toBe(false);
    expect(stats(A)).not.toHaveProperty('retryBudget');
  });

  it('calls that are not retried still deposit: 10 calls earn a retry at ratio 0.1', async () => {
    const { call, stats } = harness();
    const ok = transport(() => new Response('ok'));
    const policy: Policy = { retry: { limit: 3, backoff: () => 0, budget: { ratio: 0.1, minPerSecond: 0, window: 10_000 } } };
    for (let i = 0; i < 10; i++) await call(ok.send, A, policy);
    const failing = transport((_a, i) => new Response(null, { status: i === 0 ? 503 : 200 }));
    const res = await call(failing.send, A, policy);
    expect(res.status).toBe(200);
    // The retry was allowed by the deposits, and it succeeded: nothing is charged.
    expect(stats(A)).toMatchObject({ retryBudget: { calls: 11, spent: 0, refused: 0 } });
  });

  it('issue-14: 1,000 calls answered 503 then 200 all succeed under the default budget: a retry that succeeds costs nothing', async () => {
    const { call, stats, events } = harness();
    const { send, sent } = transport((attempt) => new Response(null, { status: attempt.number === 0 ? 503 : 200 }));
    const policy: Policy = { retry: { backoff: () => 0 } };
    const statuses: number[] = [];
    for (let i = 0; i < 1_000; i++) statuses.push((await call(send, A, policy)).status);
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(sent).toHaveLength(2_000);
    expect(events.some((e) => e.type === 'budget-exhausted')).toBe(false);
    expect(stats(A)).toMatchObject({ retryBudget: { spent: 0, refused: 0 } });
  });

  it('issue-14: a call whose first retry fails and second succeeds gets the failed retry’s charge back', async () => {
    const { call, stats } = harness();
    const { send, sent } = transport((attempt) => new Response(null, { status: attempt.number < 2 ? 503 : 200 }));
    const policy: Policy = { retry: { backoff: () => 0, budget: { ratio: 0, minPerSecond: 1, window: 2_000 } } };
    for (let i = 0; i < 50; i++) expect((await call(send, A, policy)).status).toBe(200);
    expect(sent).toHaveLength(150);
    // The reserve is 2; 50 calls each had a failed retry, charged and then refunded.
    expect(stats(A)).toMatchObject({ retryBudget: { spent: 0, refused: 0, refunded: 50 } });
  });

  it('issue-14: in an outage (every attempt 503) retries stay capped at the ratio: nothing is refunded', async () => {
    const { call, stats } = harness();
    const { send, sent } = transport(() => new Response(null, { status: 503 }));
    const policy: Policy = { retry: { limit: 3, backoff: () => 0, budget: { ratio: 0.1, minPerSecond: 0, window: 10_000 } } };
    for (let i = 0; i < 1_000; i++) await call(send, A, policy);
    expect(sent.length).toBeLessThanOrEqual(1_100);
    expect(stats(A)).toMatchObject({ retryBudget: { refunded: 0 } });
  });

  it('issue-14: the retry of a request that was never sent (connection refused) spends nothing', async () => {
    const { call, stats, events } = harness();
    const refused = () =>
      Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }) });
    const { send, sent } = transport((attempt) => {
      if (attempt.number === 0) throw refused();
      return new Response('ok');
    });
    const policy: Policy = { retry: { backoff: () => 0, budget: { ratio: 0.1, minPerSecond: 0, window: 10_000 } } };
    for (let i = 0; i < 100; i++) expect((await call(send, A, policy)).status).toBe(200);
    expect(sent).toHaveLength(200);
    expect(events.some((e) => e.type === 'budget-exhausted')).toBe(false);
    expect(stats(A)).toMatchObject({ retryBudget: { calls: 100, spent: 0, refused: 0, refunded: 0 } });
  });

  it('a ThrottledError is not retried and spends nothing', async () => {
    const { call, stats } = harness();
    let sends = 0;
    const send: Send = async (attempt) => {
      sends++;
      throw new ThrottledError(attempt.url.host, 0.9);
    };
    const error = await call(send, A, { retry: { limit: 3, backoff: () => 0 } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ThrottledError);
    expect(sends).toBe(1);
    expect(stats(A)).toMatchObject({ retryBudget: { calls: 1, spent: 0 } });
  });
});

describe('server pushback in the retry layer', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("one call's Retry-After holds back the retries of other calls to the origin, not their first attempts", async () => {
    const { call, events, stats } = harness();
    const { send, sent } = transport((attempt, index) => {
      if (index === 0) return new Response(null, { status: 503, headers: { 'retry-after': '2' } });
      if (attempt.number === 0) return new Response(null, { status: 503 });
      return new Response('ok');
    });
    const start = performance.now();
    const startDate = Date.now();
    const x = call(send, `${A}/x`, NO_BACKOFF);
    await vi.advanceTimersByTimeAsync(0);
    expect(stats(A)).toMatchObject({ pushback: { pausedFor: 2_000, status: 503 } });
    await vi.advanceTimersByTimeAsync(500);
    const y = call(send, `${A}/y`, NO_BACKOFF);
    const z = call(send, `${B}/z`, NO_BACKOFF);
    await vi.advanceTimersByTimeAsync(0);
    // y's first attempt went at once; z (another origin) already retried without waiting.
    expect(sent.map((s) => [s.origin, s.number, s.at - start])).toEqual([
      [A, 0, 0],
      [A, 0, 500],
      [B, 0, 500],
      [B, 1, 500],
    ]);
    expect((await z).status).toBe(200);
    await vi.advanceTimersByTimeAsync(1_500);
    expect((await x).status).toBe(200);
    expect((await y).status).toBe(200);
    const retriesToA = sent.filter((s) => s.origin === A && s.number > 0);
    expect(retriesToA.map((s) => s.at - start)).toEqual([2_000, 2_000]);
    expect(events.filter((e) => e.type === 'pushback')).toEqual([
      { type: 'pushback', host: A, until: startDate + 2_000, status: 503 },
    ]);
    expect(events.filter((e) => e.type === 'retry' && e.host === A).map((e) => 'delay' in e && e.delay)).toEqual([2_000, 1_500]);
  });

  it('a pause extended during the back-off is waited out too', async () => {
    const { call } = harness();
    const { send, sent } = transport((attempt, index) => {
      if (index === 0) return new Response(null, { status: 503 });
      if (index === 1) return new Response(null, { status: 429, headers: { 'retry-after': '3' } });
      return new Response('ok');
    });
    const start = performance.now();
    const y = call(send, A, { retry: { limit: 3, backoff: () => 1_000 } });
    await vi.advanceTimersByTimeAsync(100); // y sleeps its 1 s back-off
    const x = call(send, A, { retry: false }); // a call with retries off still reports pushback
    await vi.advanceTimersByTimeAsync(0);
    expect((await x).status).toBe(429);
    await vi.advanceTimersByTimeAsync(3_000);
    expect((await y).status).toBe(200);
    expect(sent.map((s) => s.at - start)).toEqual([0, 100, 3_100]);
  });

  it('a pause that would outlast the deadline ends the retrying with the response intact', async () => {
    const { call, events } = harness();
    const { send, sent } = transport((_a, index) =>
      index === 0 ? new Response(null, { status: 503, headers: { 'retry-after': '20' } }) : new Response('late', { status: 503 }),
    );
    await call(send, A, { retry: false });
    const res = await call(send, A, NO_BACKOFF, performance.now() + 5_000);
    expect(res.status).toBe(503);
    expect(await res.text()).toBe('late');
    expect(sent).toHaveLength(2);
    expect(events.find((e) => e.type === 'give-up')).toMatchObject({ why: 'total timeout would pass during back-off' });
  });
});
