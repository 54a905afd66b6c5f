import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import type { ResilientEvent } from '../../../src/diagnostics.js';
import { DRAIN_MAX_BYTES } from '../../../src/internal/discard.js';
import { createHedgeLayer, hedgeDelay, isAcceptable, isHedgeable, MIN_SAMPLES } from '../../../src/layers/hedge.js';
import type { Attempt, PreparedRequest } from '../../../src/pipeline/types.js';
import { LatencyWindow } from '../../../src/policy/latency-window.js';
import type { Policy, ResolvedHedge, ResolvedPolicy } from '../../../src/options.js';
import { freezePolicy } from '../../../src/resolve-policy.js';
import { createFetch } from '../../../src/index.js';
import { layerContext } from '../../support/attempt.js';

const ORIGIN = 'http://127.0.0.1:8080';

type Call = {
  readonly attempt: Attempt;
  /** The branch's signal: the hedge layer gives every branch one of its own (NO_SIGNAL: a pass-through attempt had none). */
  readonly signal: AbortSignal;
  resolve(response: Response): void;
  reject(error: unknown): void;
};

/** A stub `next`: each call waits until the test settles it; it rejects with the signal's reason on abort. */
const NO_SIGNAL = new AbortController().signal;

const stubNext = (options: { ignoreAbort?: boolean } = {}) => {
  const calls: Call[] = [];
  const next = vi.fn((attempt: Attempt) => {
    let resolve!: (response: Response) => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<Response>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // A race gives every branch a signal of its own; an attempt the layer passes through keeps the
    // call's, which is none without a caller's signal (a stand-in that never aborts is recorded then).
    const signal = attempt.signal ?? NO_SIGNAL;
    if (!options.ignoreAbort) signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    calls.push({ attempt, signal, resolve, reject });
    return promise;
  });
  return { calls, next };
};

/** A response whose body records being cancelled: large by its content-length, so a discard cancels it (a small one is drained). */
const tracked = (status = 200) => {
  const state = { cancelled: false };
  const body = new ReadableStream<Uint8Array>({
    cancel() {
      state.cancelled = true;
    },
  });
  return { response: new Response(body, { status, headers: { 'content-length': String(DRAIN_MAX_BYTES + 1) } }), state };
};

type RequestInit = {
  method?: string;
  headers?: Array<[string, string]>;
  replayable?: boolean;
  /** The caller's signal. */
  signal?: AbortSignal;
  /** A call signal that is not the caller's (the total timeout's, when a body was read from a stream). */
  callSignal?: AbortSignal;
  number?: number;
};

const prepared = (policy: ResolvedPolicy, init: RequestInit = {}): PreparedRequest => ({
  url: new URL(`${ORIGIN}/items`),
  method: init.method ?? 'GET',
  headers: init.headers ?? [],
  body: init.method && init.method !== 'GET' ? new TextEncoder().encode('payload') : null,
  stream: null,
  replayable: init.replayable ?? true,
  init: {},
  policy,
  // None unless the test gives one: a call with no caller's signal and no streamed body has none.
  signal: init.signal ?? init.callSignal,
  deadline: Infinity,
  callerSignal: init.signal !== undefined,
});

const firstAttempt = (request: PreparedRequest, number = 0): Attempt => ({
  request,
  url: request.url,
  signal: request.signal,
  number,
  branch: 0,
});

const setup = (policy: Policy) => {
  const { context, events, stats: hostStats } = layerContext();
  const stub = stubNext();
  const send = createHedgeLayer(context)(stub.next);
  const resolved = freezePolicy(policy);
  const call = (init: RequestInit = {}) => {
    const promise = send(firstAttempt(prepared(resolved, init), init.number));
    // Observed at once, so a rejection is never reported as unhandled before the test awaits it.
    promise.catch(() => {});
    return promise;
  };
  const stats = () => hostStats(ORIGIN);
  return { events, calls: stub.calls, next: stub.next, call, stats };
};

const types = (events: ResilientEvent[]) => events.map((e) => e.type);

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('hedge layer', () => {
  test('no hedge when the primary answers before the delay', async () => {
    const t = setup({ hedge: { delay: 50 } });
    const result = t.call();
    await vi.advanceTimersByTimeAsync(10);
    t.calls[0]!.resolve(new Response('ok'));
    const res = await result;
    expect(await res.text()).toBe('ok');
    await vi.advanceTimersByTimeAsync(100);
    expect(t.calls).toHaveLength(1);
    expect(t.calls[0]!.attempt.branch).toBe(0);
    expect(t.events).toEqual([]);
    expect(t.stats()).toMatchObject({ hedges: 0, hedgeWins: 0 });
  });

  test('sends a hedge after the delay; the hedge wins and the primary is aborted', async () => {
    const t = setup({ hedge: { delay: 50 } });
    const result = t.call();
    await vi.advanceTimersByTimeAsync(49);
    expect(t.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.calls).toHaveLength(2);
    const [primary, hedge] = t.calls;
    expect(hedge!.attempt.branch).toBe(1);
    expect(hedge!.attempt.number).toBe(0);
    expect(hedge!.signal).not.toBe(primary!.signal);
    await vi.advanceTimersByTimeAsync(5);
    hedge!.resolve(new Response('from hedge'));
    const res = await result;
    expect(await res.text()).toBe('from hedge');
    expect(primary!.signal.aborted).toBe(true);
    expect(primary!.signal.reason).toMatchObject({
      name: 'AbortError',
      message: expect.stringContaining('another hedge branch'),
    });
    expect(hedge!.signal.aborted).toBe(false);
    expect(t.events).toEqual([
      { type: 'hedge', host: ORIGIN, branch: 1, after: 50 },
      { type: 'hedge-win', host: ORIGIN, branch: 1, elapsed: 55 },
    ]);
    expect(t.stats()).toMatchObject({ hedges: 1, hedgeWins: 1 });
  });

  test('the primary may still win after a hedge was sent; the hedge is aborted', async () => {
    const t = setup({ hedge: { delay: 20 } });
    const result = t.call();
    await vi.advanceTimersByTimeAsync(25);
    const [primary, hedge] = t.calls;
    primary!.resolve(new Response('primary'));
    expect(await (await result).text()).toBe('primary');
    expect(hedge!.signal.aborted).toBe(true);
    expect(t.events.at(-1)).toEqual({ type: 'hedge-win', host: ORIGIN, branch: 0, elapsed: 25 });
    expect(t.stats()).toMatchObject({ hedges: 1, hedgeWins: 0 });
  });

  test('a retryable 503 from one branch does not end the race while another is pending', async () => {
    const t = setup({ hedge: { delay: 20 } });
    const result = t.call();
    await vi.advanceTimersByTimeAsync(20);
    const [primary, hedge] = t.calls;
    const failed = tracked(503);
    hedge!.resolve(failed.response);
    await vi.advanceTimersByTimeAsync(1);
    primary!.resolve(new Response('late but good'));
    const res = await result;
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('late but good');
    expect(failed.state.cancelled).toBe(true);
  });

  test('a network error from the primary leaves the race to the hedge', async () => {
    const t = setup({ hedge: { delay: 20 } });
    const result = t.call();
    await vi.advanceTimersByTimeAsync(20);
    const [primary, hedge] = t.calls;
    primary!.reject(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNRESET' } }));
    await vi.advanceTimersByTimeAsync(1);
    hedge!.resolve(new Response('saved'));
    expect(await (await result).text()).toBe('saved');
  });

  test('a non-retryable answer (404) ends the race at once', async () => {
    const t = setup({ hedge: { delay: 20 } });
    const result = t.call();
    await vi.advanceTimersByTimeAsync(20);
    const [primary, hedge] = t.calls;
    hedge!.resolve(new Response('missing', { status: 404 }));
    const res = await result;
    expect(res.status).toBe(404);
    expect(primary!.signal.aborted).toBe(true);
  });

  test('all branches fail: the last failure (a response) goes up, earlier ones are cancelled', async () => {
    const t = setup({ hedge: { delay: 20 } });
    const result = t.call();
    await vi.advanceTimersByTimeAsync(20);
    const [primary, hedge] = t.calls;
    const first = tracked(503);
    primary!.resolve(first.response);
    await vi.advanceTimersByTimeAsync(1);
    hedge!.resolve(new Response('bad gateway', { status: 502 }));
    const res = await result;
    expect(res.status).toBe(502);
    expect(await res.text()).toBe('bad gateway');
    expect(first.state.cancelled).toBe(true);
    expect(types(t.events)).toEqual(['hedge']);
  });

  test('all branches fail: the last failure (an error) is thrown', async () => {
    const t = setup({ hedge: { delay: 20 } });
    const result = t.call();
    await vi.advanceTimersByTimeAsync(20);
    const [primary, hedge] = t.calls;
    primary!.resolve(new Response(null, { status: 503 }));
    await vi.advanceTimersByTimeAsync(1);
    const last = new TypeError('fetch failed');
    hedge!.reject(last);
    await expect(result).rejects.toBe(last);
  });

  test('a failure before the delay with nothing else pending fails the attempt at once, no hedge', async () => {
    const t = setup({ hedge: { delay: 50 } });
    const result = t.call();
    await vi.advanceTimersByTimeAsync(5);
    t.calls[0]!.resolve(new Response(null, { status: 503 }));
    expect((await result).status).toBe(503);
    await vi.advanceTimersByTimeAsync(100);
    expect(t.calls).toHaveLength(1);
    expect(t.events).toEqual([]);
  });

  test('with retry off, any status below 500 is acceptable and 5xx is a failure', async () => {
    const t = setup({ retry: false, hedge: { delay: 20 } });
    const result = t.call();
    await vi.advanceTimersByTimeAsync(20);
    const [primary, hedge] = t.calls;
    primary!.resolve(new Response(null, { status: 500 }));
    await vi.advanceTimersByTimeAsync(1);
    hedge!.resolve(new Response(null, { status: 429 }));
    expect((await result).status).toBe(429);
  });

  test('maxHedges: 2 sends hedges at delay and 2 × delay, branches 1 and 2', async () => {
    const t = setup({ hedge: { delay: 30, maxHedges: 2, budget: false } });
    const result = t.call();
    await vi.advanceTimersByTimeAsync(30);
    expect(t.calls.map((c) => c.attempt.branch)).toEqual([0, 1]);
    await vi.advanceTimersByTimeAsync(30);
    expect(t.calls.map((c) => c.attempt.branch)).toEqual([0, 1, 2]);
    await vi.advanceTimersByTimeAsync(100);
    expect(t.calls).toHaveLength(3);
    t.calls[2]!.resolve(new Response('third'));
    expect(await (await result).text()).toBe('third');
    expect(t.calls[0]!.signal.aborted).toBe(true);
    expect(t.calls[1]!.signal.aborted).toBe(true);
    expect(t.events.filter((e) => e.type === 'hedge')).toEqual([
      { type: 'hedge', host: ORIGIN, branch: 1, after: 30 },
      { type: 'hedge', host: ORIGIN, branch: 2, after: 60 },
    ]);
    expect(t.stats()).toMatchObject({ hedges: 2, hedgeWins: 1 });
  });

  test('a spent budget sends no hedge and says so', async () => {
    // ratio 0: only the reserve of 1 hedge per second (10 per 10 s window) is available.
    const t = setup({ hedge: { delay: 10, budget: 0 } });
    for (let i = 0; i < 11; i++) {
      const before = t.calls.length;
      const result = t.call();
      await vi.advanceTimersByTimeAsync(10);
      for (const c of t.calls.slice(before)) c.resolve(new Response('ok'));
      await result;
    }
    expect(t.events.filter((e) => e.type === 'hedge')).toHaveLength(10);
    expect(t.events.filter((e) => e.type === 'budget-exhausted')).toEqual([
      { type: 'budget-exhausted', host: ORIGIN, kind: 'hedge' },
    ]);
    expect(t.stats()).toMatchObject({ hedges: 10, hedgeBudget: { calls: 11, spent: 10, left: 0 } });
  });

  test('the budget allows the ratio of calls on top of the reserve', async () => {
    const t = setup({ hedge: { delay: 10, budget: 0.5 } });
    // 20 calls that answer before the delay deposit 10 tokens on top of the reserve of 10.
    for (let i = 0; i < 20; i++) {
      const result = t.call();
      t.calls.at(-1)!.resolve(new Response('fast'));
      await result;
    }
    expect(t.stats()).toMatchObject({ hedgeBudget: { calls: 20, spent: 0, left: 20 } });
  });

  test('issue-15: a per-request hedge budget that changes keeps the host budget, and applies the new ratio to it', async () => {
    /** 200 calls whose primary is slower than the delay, the ratio of call i being ratios[i % length]: hedges sent, budget state. */
    const run = async (ratios: number[]) => {
      const { context, events, stats: hostStats } = layerContext();
      const stub = stubNext();
      const send = createHedgeLayer(context)(stub.next);
      const policies = ratios.map((budget) => freezePolicy({ hedge: { delay: 10, budget } }));
      for (let i = 0; i < 200; i++) {
        const before = stub.calls.length;
        const result = send(firstAttempt(prepared(policies[i % policies.length]!)));
        await vi.advanceTimersByTimeAsync(10);
        for (const c of stub.calls.slice(before)) c.resolve(new Response('ok'));
        await result;
      }
      const stats = hostStats(ORIGIN) as { hedgeBudget: { calls: number } };
      return { hedges: events.filter((e) => e.type === 'hedge').length, calls: stats.hedgeBudget.calls };
    };
    const low = await run([0.1]);
    const high = await run([0.2]);
    const alternating = await run([0.1, 0.2]);
    expect(low.hedges).toBeLessThan(high.hedges);
    expect(alternating.hedges).toBeGreaterThanOrEqual(low.hedges);
    expect(alternating.hedges).toBeLessThanOrEqual(high.hedges);
    expect([low.calls, high.calls, alternating.calls]).toEqual([200, 200, 200]);
  });

  test("issue-16: hedge.budget takes the retry budget's shape: its reserve and window are settings, not constants", async () => {
    // No reserve: ratio 0.5 and 4 calls before the first hedge is paid for (2 tokens).
    const t = setup({ hedge: { delay: 10, budget: { ratio: 0.5, minPerSecond: 0, window: 2_000 } } });
    for (let i = 0; i < 6; i++) {
      const before = t.calls.length;
      const result = t.call();
      await vi.advanceTimersByTimeAsync(10);
      for (const c of t.calls.slice(before)) c.resolve(new Response('ok'));
      await result;
    }
    // Deposits 0.5 per call before its hedge: calls 2, 4 and 6 find a whole token.
    expect(t.events.filter((e) => e.type === 'hedge')).toHaveLength(3);
    expect(t.stats()).toMatchObject({ hedgeBudget: { calls: 6, spent: 3, left: 0 } });
    // After the 2 s window the spending is forgotten, as the retry budget's is.
    await vi.advanceTimersByTimeAsync(2_500);
    expect(t.stats()).toMatchObject({ hedgeBudget: { calls: 0, spent: 0 } });
  });

  test('budget: false never withdraws', async () => {
    const t = setup({ hedge: { delay: 1, budget: false } });
    for (let i = 0; i < 15; i++) {
      const result = t.call();
      await vi.advanceTimersByTimeAsync(1);
      t.calls.at(-1)!.resolve(new Response('hedge'));
      await result;
    }
    expect(t.stats()).toMatchObject({ hedges: 15, hedgeWins: 15 });
    expect(t.stats()).not.toHaveProperty('hedgeBudget');
    expect(types(t.events)).not.toContain('budget-exhausted');
  });

  test('the caller’s abort stops every branch and rejects with its reason', async () => {
    const t = setup({ hedge: { delay: 20 } });
    const caller = new AbortController();
    const result = t.call({ signal: caller.signal });
    await vi.advanceTimersByTimeAsync(20);
    const reason = new Error('user gave up');
    caller.abort(reason);
    await expect(result).rejects.toBe(reason);
    expect(t.calls.every((c) => c.signal.aborted)).toBe(true);
    expect(t.calls.map((c) => c.signal.reason)).toEqual([reason, reason]);
  });

  test('the caller’s abort cancels a failed branch’s response held while another was pending', async () => {
    const t = setup({ hedge: { delay: 20 } });
    const caller = new AbortController();
    const result = t.call({ signal: caller.signal });
    await vi.advanceTimersByTimeAsync(20);
    const held = tracked(503);
    t.calls[1]!.resolve(held.response);
    await vi.advanceTimersByTimeAsync(1);
    expect(held.state.cancelled).toBe(false);
    caller.abort('enough');
    await expect(result).rejects.toBe('enough');
    expect(held.state.cancelled).toBe(true);
  });

  test('the caller’s abort rejects at once even if a branch ignores its signal', async () => {
    const stub = stubNext({ ignoreAbort: true });
    const send = createHedgeLayer(layerContext().context)(stub.next);
    const caller = new AbortController();
    const request = prepared(freezePolicy({ hedge: { delay: 20 } }), { signal: caller.signal });
    const result = send(firstAttempt(request));
    result.catch(() => {});
    caller.abort('stop');
    await expect(result).rejects.toBe('stop');
    await vi.advanceTimersByTimeAsync(100);
    // No hedge after the abort; a late answer of the ignoring branch is cancelled.
    expect(stub.calls).toHaveLength(1);
    const late = tracked();
    stub.calls[0]!.resolve(late.response);
    await vi.advanceTimersByTimeAsync(1);
    expect(late.state.cancelled).toBe(true);
  });

  test('a loser that answers or fails after the winner returned is cancelled or ignored', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const stub = stubNext({ ignoreAbort: true });
      const send = createHedgeLayer(layerContext().context)(stub.next);
      const result = send(firstAttempt(prepared(freezePolicy({ hedge: { delay: 20, maxHedges: 2 } }))));
      await vi.advanceTimersByTimeAsync(40);
      const [primary, first, second] = stub.calls;
      second!.resolve(new Response('winner'));
      expect(await (await result).text()).toBe('winner');
      const late = tracked();
      primary!.resolve(late.response);
      first!.reject(new TypeError('fetch failed'));
      await vi.advanceTimersByTimeAsync(10);
      await new Promise((resolve) => setImmediate(resolve));
      expect(late.state.cancelled).toBe(true);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  test('no listener is left on the caller’s signal once calls settle', async () => {
    const t = setup({ hedge: { delay: 5, budget: false } });
    const caller = new AbortController();
    for (let i = 0; i < 30; i++) {
      const result = t.call({ signal: caller.signal });
      await vi.advanceTimersByTimeAsync(i % 2 === 0 ? 1 : 6);
      t.calls.at(-1)!.resolve(new Response(null, { status: i % 3 === 0 ? 503 : 200 }));
      if (t.calls.at(-2)?.signal.aborted === false) t.calls.at(-2)!.resolve(new Response(null, { status: 503 }));
      await result;
    }
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
  });

  test('without a caller’s signal, no listener is left on the call’s signal once the race ends', async () => {
    const stub = stubNext();
    const send = createHedgeLayer(layerContext().context)(stub.next);
    // The call's own signal (the total timeout's, made when a streamed body was read), not a caller's.
    const request = prepared(freezePolicy({ hedge: { delay: 5, budget: false } }), { callSignal: new AbortController().signal });
    expect(request.callerSignal).toBe(false);
    const result = send(firstAttempt(request));
    await vi.advanceTimersByTimeAsync(5);
    expect(getEventListeners(request.signal as AbortSignal, 'abort').length).toBeGreaterThan(0);
    stub.calls[1]!.resolve(new Response('hedge'));
    await result;
    expect(getEventListeners(request.signal as AbortSignal, 'abort')).toHaveLength(0);
  });

  test('with no signal at all (no caller’s signal, no streamed body), each branch gets its own and the loser is aborted', async () => {
    const t = setup({ hedge: { delay: 5, budget: false } });
    const result = t.call();
    await vi.advanceTimersByTimeAsync(5);
    expect(t.calls).toHaveLength(2);
    expect(t.calls.map((c) => c.attempt.request.signal)).toEqual([undefined, undefined]);
    expect(t.calls.map((c) => c.attempt.signal)).toEqual([expect.any(AbortSignal), expect.any(AbortSignal)]);
    expect(t.calls[0]!.signal).not.toBe(t.calls[1]!.signal);
    t.calls[1]!.resolve(new Response('hedge'));
    expect(await (await result).text()).toBe('hedge');
    expect(t.calls[0]!.signal.aborted).toBe(true);
    expect(t.calls[1]!.signal.aborted).toBe(false);
  });

  test('with a caller’s signal, the winner stays linked to it after the call resolved', async () => {
    const t = setup({ hedge: { delay: 5 } });
    const caller = new AbortController();
    const result = t.call({ signal: caller.signal });
    await vi.advanceTimersByTimeAsync(5);
    t.calls[1]!.resolve(new Response('hedge'));
    await result;
    expect(t.calls[1]!.signal.aborted).toBe(false);
    caller.abort('reading no more');
    // So a body still being read is errored by the caller's abort, as with plain fetch.
    expect(t.calls[1]!.signal.aborted).toBe(true);
    expect(t.calls[1]!.signal.reason).toBe('reading no more');
  });

  test('a next() that throws synchronously fails the attempt, not the process', async () => {
    const boom = new Error('sync boom');
    const send = createHedgeLayer(layerContext().context)(() => {
      throw boom;
    });
    await expect(send(firstAttempt(prepared(freezePolicy({ hedge: { delay: 20 } }))))).rejects.toBe(boom);
  });

  test('a retry attempt is hedged too, its branches keeping its number', async () => {
    const t = setup({ hedge: { delay: 20 } });
    const result = t.call({ number: 2 });
    await vi.advanceTimersByTimeAsync(20);
    expect(t.calls.map((c) => [c.attempt.number, c.attempt.branch])).toEqual([
      [2, 0],
      [2, 1],
    ]);
    t.calls[1]!.resolve(new Response('ok'));
    await result;
  });
});

describe('which calls are hedged', () => {
  const hedgeOf = (policy: Policy) => freezePolicy(policy).hedge as ResolvedHedge;
  const request = (method: string, headers: Array<[string, string]> = [], replayable = true) =>
    prepared(freezePolicy({ hedge: {} }), { method, headers, replayable });

  test('by default GET and HEAD only', () => {
    const hedge = hedgeOf({ hedge: {} });
    expect(isHedgeable(request('GET'), hedge)).toBe(true);
    expect(isHedgeable(request('HEAD'), hedge)).toBe(true);
    expect(isHedgeable(request('PUT'), hedge)).toBe(false);
    expect(isHedgeable(request('POST', [['idempotency-key', 'k']]), hedge)).toBe(false);
  });

  test('an idempotent method listed in hedge.methods is hedged', () => {
    const hedge = hedgeOf({ hedge: { methods: ['GET', 'PUT'] } });
    expect(isHedgeable(request('PUT'), hedge)).toBe(true);
  });

  test('POST needs both the method listed and an Idempotency-Key', () => {
    const hedge = hedgeOf({ hedge: { methods: ['GET', 'post'] } });
    expect(isHedgeable(request('POST'), hedge)).toBe(false);
    expect(isHedgeable(request('POST', [['idempotency-key', 'k-1']]), hedge)).toBe(true);
    expect(isHedgeable(request('PATCH', [['idempotency-key', 'k-1']]), hedge)).toBe(false);
  });

  test('a body that cannot be replayed is never hedged', () => {
    const hedge = hedgeOf({ hedge: {} });
    expect(isHedgeable(request('GET', [], false), hedge)).toBe(false);
  });

  test('hedging off: the layer passes the attempt through unchanged', async () => {
    const t = setup({});
    const result = t.call();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(t.calls).toHaveLength(1);
    expect(t.calls[0]!.attempt.signal).toBeUndefined(); // no signal of the layer's own
    t.calls[0]!.resolve(new Response('plain'));
    expect(await (await result).text()).toBe('plain');
    expect(t.stats()).not.toHaveProperty('hedges');
  });

  test('a POST without Idempotency-Key goes through the layer alone', async () => {
    const t = setup({ hedge: { delay: 10, methods: ['POST'] } });
    const result = t.call({ method: 'POST' });
    await vi.advanceTimersByTimeAsync(100);
    expect(t.calls).toHaveLength(1);
    t.calls[0]!.resolve(new Response('once'));
    await result;
  });

  test('isAcceptable follows the retry policy’s status codes', () => {
    const withRetry = freezePolicy({ retry: { statusCodes: [503] } });
    expect(isAcceptable(withRetry, new Response(null, { status: 503 }))).toBe(false);
    expect(isAcceptable(withRetry, new Response(null, { status: 500 }))).toBe(true);
    expect(isAcceptable(freezePolicy({ retry: false }), new Response(null, { status: 500 }))).toBe(false);
    expect(isAcceptable(freezePolicy({ retry: false }), new Response(null, { status: 404 }))).toBe(true);
  });
});

describe('adaptive delay', () => {
  const adaptive = { percentile: 95, min: 5, max: 1_000 };

  test('a fixed delay is used as given', () => {
    expect(hedgeDelay(50, undefined)).toBe(50);
  });

  test('uses max until enough samples exist', () => {
    const window = new LatencyWindow(100);
    for (let i = 0; i < MIN_SAMPLES - 1; i++) window.record(10);
    expect(hedgeDelay(adaptive, window)).toBe(1_000);
    window.record(10);
    expect(hedgeDelay(adaptive, window)).toBe(10);
  });

  test('the percentile is clamped to [min, max]', () => {
    const fast = new LatencyWindow(100);
    for (let i = 0; i < 50; i++) fast.record(1);
    expect(hedgeDelay(adaptive, fast)).toBe(5);
    const slow = new LatencyWindow(100);
    for (let i = 0; i < 50; i++) slow.record(5_000);
    expect(hedgeDelay(adaptive, slow)).toBe(1_000);
  });

  test('hedges at the learned p95 once the window has samples', async () => {
    const t = setup({ hedge: { delay: 'auto', budget: false } });
    // 100 primaries answering after 100, 99, ..., 1 ms: no hedge (the delay is max = 1 s until 20
    // samples, then the p95 of slower earlier calls), and the window ends with p95 = 95 ms.
    for (let ms = 100; ms >= 1; ms--) {
      const result = t.call();
      await vi.advanceTimersByTimeAsync(ms);
      t.calls.at(-1)!.resolve(new Response('ok'));
      await result;
    }
    expect(t.calls).toHaveLength(100);
    expect(t.events).toEqual([]);
    expect(t.stats()).toMatchObject({ latency: { samples: 100, p50: 50, p95: 95, p99: 99 } });
    const result = t.call();
    await vi.advanceTimersByTimeAsync(94);
    expect(t.calls).toHaveLength(101);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.calls).toHaveLength(102);
    expect(t.events).toEqual([{ type: 'hedge', host: ORIGIN, branch: 1, after: 95 }]);
    t.calls.at(-1)!.resolve(new Response('hedge'));
    await result;
  });

  test('a loser cut off by the winner is kept in the window as at least its elapsed time', async () => {
    const t = setup({ hedge: { delay: 40, budget: false } });
    const result = t.call();
    await vi.advanceTimersByTimeAsync(50);
    t.calls[1]!.resolve(new Response('hedge'));
    await result;
    // The hedge took 10 ms; the primary was cut off after 50 ms.
    expect(t.stats()).toMatchObject({ latency: { samples: 2, p50: 10, p99: 50 } });
  });
});

describe('hedge options are validated at createFetch', () => {
  const create = (policy: Policy) => () => createFetch({ defaults: policy });

  test('adaptive min above max names the field', () => {
    expect(create({ hedge: { delay: { min: 50, max: 10 } } })).toThrow(
      new RangeError('defaults.hedge.delay.min must be <= max, got 50 > 10'),
    );
  });

  test.for([
    [{ hedge: { delay: -1 } }, /defaults\.hedge\.delay must be/],
    [{ hedge: { delay: 'fast' } }, /defaults\.hedge\.delay must be/],
    [{ hedge: { delay: { percentile: 0 } } }, /defaults\.hedge\.delay\.percentile/],
    [{ hedge: { maxHedges: 0 } }, /defaults\.hedge\.maxHedges must be an integer >= 1/],
    [{ hedge: { budget: 1.5 } }, /defaults\.hedge\.budget must be/],
    [{ hedge: { methods: ['GET', 'NOT A METHOD'] } }, /defaults\.hedge\.methods\[1\]/],
    [{ hedge: { wait: 5 } }, /defaults\.hedge\.wait is not a known option/],
  ] as Array<[unknown, RegExp]>)('%o is rejected', ([policy, message]) => {
    expect(create(policy as Policy)).toThrow(message);
  });

  test('valid hedge options are accepted', async () => {
    for (const hedge of [
      { delay: 0 },
      { delay: 'auto' as const },
      { delay: { percentile: 99, min: 1, max: 1 } },
      { budget: false as const },
    ]) {
      const fetch = createFetch({ defaults: { hedge } });
      await fetch.close();
    }
  });
});
